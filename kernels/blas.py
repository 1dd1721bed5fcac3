r"""Matrix-vector and matrix-matrix products through SciPy's BLAS, bound by symbol name.

``np.dot`` inside Numba reaches the same BLAS, but through a generic implementation that takes
about a second to compile for each new combination of array types.  These kernels call
``dgemv``/``dgemm`` from ``scipy.linalg.cython_blas`` directly and compile in a fraction of
that.  The binding follows :mod:`kernels.special_scipy`: the capsule's address is registered
with LLVM under a stable name at import (``numbayes_dgemv``), so compiled callers hold only the
name and stay disk-cacheable; the capsule signatures are checked at import.

BLAS is column-major; a C-contiguous :math:`m \times n` array ``a`` is, to BLAS, the
column-major :math:`n \times m` matrix :math:`A^\top` with leading dimension :math:`n`.  Hence
:math:`A x` is ``dgemv('T', n, m, A^T)`` and :math:`A^\top x` is ``dgemv('N', n, m, A^T)``; and
:math:`C = A B` (row-major) is :math:`C^\top = B^\top A^\top` (column-major).

>>> import numpy as np
>>> from kernels.blas import matvec, matvec_t, matmat
>>> a = np.arange(6.0).reshape(2, 3)
>>> matvec(a, np.array([1.0, 0.0, -1.0])).tolist()
[-2.0, -2.0]
>>> matvec_t(a, np.array([1.0, 1.0])).tolist()
[3.0, 5.0, 7.0]
>>> matmat(a, np.ones((3, 2))).tolist()
[[3.0, 3.0], [12.0, 12.0]]
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm_binding
import numpy as np
import scipy.linalg.cython_blas as _cython_blas
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import get_cython_function_address, intrinsic

from kernels.jit import JIT_DISABLED, njit

_DOUBLE = "__pyx_t_5scipy_6linalg_11cython_blas_d *"
#: capsule name -> the signature SciPy must export (checked at import)
_SIGNATURES = {
    "dgemv": "void (char *, int *, int *, D, D, int *, D, int *, D, D, int *)",
    "dgemm": "void (char *, char *, int *, int *, int *, D, D, int *, D, int *, D, D, int *)",
}
_SYMBOL_PREFIX = "numbayes_"

_PyCapsule_GetName = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
    ("PyCapsule_GetName", ctypes.pythonapi)
)


def _register() -> None:
    for name, expected in _SIGNATURES.items():
        capsule = _cython_blas.__pyx_capi__.get(name)
        expected = expected.replace("D", _DOUBLE)
        found = _PyCapsule_GetName(capsule).decode() if capsule is not None else None
        if found != expected:
            raise ImportError(
                f"scipy.linalg.cython_blas.{name} has signature {found!r}, expected {expected!r}"
                " -- update kernels.blas"
            )
        address = get_cython_function_address("scipy.linalg.cython_blas", name)
        llvm_binding.add_symbol(_SYMBOL_PREFIX + name, address)


_register()

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_F64 = ir.DoubleType()


def _by_reference(builder, value, llvm_type):
    """A stack slot holding ``value`` (Fortran passes every argument by reference)."""
    return cgutils.alloca_once_value(builder, builder.trunc(value, llvm_type)
                                     if llvm_type is not _F64 and value.type != llvm_type
                                     else value)


def _data_pointer(context, builder, array_type, array_value):
    return builder.bitcast(context.make_array(array_type)(context, builder, array_value).data,
                           _F64.as_pointer())


@intrinsic
def _dgemv(typingctx, trans, m, n, a, x, y):
    """``y = op(A) x`` with ``dgemv(trans, m, n, 1, a, m, x, 1, 0, y, 1)``; ``a`` holds the
    column-major ``m x n`` matrix ``A``; ``trans`` is the character code (78 'N', 84 'T')."""
    sig = types.void(trans, m, n, a, x, y)

    def codegen(context, builder, signature, args):
        trans_v, m_v, n_v, a_v, x_v, y_v = args
        _, _, _, a_t, x_t, y_t = signature.args
        fnty = ir.FunctionType(ir.VoidType(), [_I8.as_pointer()] + [_I32.as_pointer()] * 2
                               + [_F64.as_pointer()] * 2 + [_I32.as_pointer(), _F64.as_pointer(),
                                                            _I32.as_pointer()]
                               + [_F64.as_pointer()] * 2 + [_I32.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _SYMBOL_PREFIX + "dgemv")
        one_i = cgutils.alloca_once_value(builder, ir.Constant(_I32, 1))
        m_p = _by_reference(builder, m_v, _I32)
        builder.call(fn, [
            _by_reference(builder, trans_v, _I8), m_p, _by_reference(builder, n_v, _I32),
            cgutils.alloca_once_value(builder, ir.Constant(_F64, 1.0)),
            _data_pointer(context, builder, a_t, a_v), m_p,
            _data_pointer(context, builder, x_t, x_v), one_i,
            cgutils.alloca_once_value(builder, ir.Constant(_F64, 0.0)),
            _data_pointer(context, builder, y_t, y_v), one_i,
        ])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _dgemm(typingctx, m, n, k, a, b, c):
    """``C = A B`` (column-major ``m x k`` times ``k x n``, no transposes) with ``dgemm``."""
    sig = types.void(m, n, k, a, b, c)

    def codegen(context, builder, signature, args):
        m_v, n_v, k_v, a_v, b_v, c_v = args
        _, _, _, a_t, b_t, c_t = signature.args
        ip, dp = _I32.as_pointer(), _F64.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [_I8.as_pointer()] * 2 + [ip] * 3
                               + [dp, dp, ip, dp, ip, dp, dp, ip])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _SYMBOL_PREFIX + "dgemm")
        no = cgutils.alloca_once_value(builder, ir.Constant(_I8, ord("N")))
        m_p = _by_reference(builder, m_v, _I32)
        k_p = _by_reference(builder, k_v, _I32)
        builder.call(fn, [
            no, no, m_p, _by_reference(builder, n_v, _I32), k_p,
            cgutils.alloca_once_value(builder, ir.Constant(_F64, 1.0)),
            _data_pointer(context, builder, a_t, a_v), m_p,
            _data_pointer(context, builder, b_t, b_v), k_p,
            cgutils.alloca_once_value(builder, ir.Constant(_F64, 0.0)),
            _data_pointer(context, builder, c_t, c_v), m_p,
        ])
        return context.get_dummy_value()

    return sig, codegen


@njit
def matvec(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:math:`A x` for a 2-D ``a`` (any layout; copied to C order if needed) and 1-D ``x``."""
    a = np.ascontiguousarray(a)
    x = np.ascontiguousarray(x)
    m, n = a.shape
    y = np.empty(m)  # (not np.zeros: BLAS with beta = 0 writes every entry; cheaper to compile)
    if m > 0 and n > 0:
        _dgemv(84, n, m, a, x, y)  # 'T': a is the column-major n x m matrix A^T
    else:
        for i in range(m):
            y[i] = 0.0
    return y


@njit
def matvec_t(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    r""":math:`A^\top x` for a 2-D ``a`` and 1-D ``x`` (no transposed copy of ``a`` is made)."""
    a = np.ascontiguousarray(a)
    x = np.ascontiguousarray(x)
    m, n = a.shape
    y = np.empty(n)
    if m > 0 and n > 0:
        _dgemv(78, n, m, a, x, y)  # 'N'
    else:
        for i in range(n):
            y[i] = 0.0
    return y


@njit
def matmat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:math:`A B` for 2-D ``a`` (m x k) and ``b`` (k x n), any layouts; a C-ordered result."""
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    m, k = a.shape
    n = b.shape[1]
    c = np.zeros((m, n))
    if m > 0 and n > 0 and k > 0:
        _dgemm(n, m, k, b, a, c)  # column-major: C^T (n x m) = B^T (n x k) A^T (k x m)
    return c


if JIT_DISABLED:

    def matvec(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # noqa: F811
        return np.dot(a, x)

    def matvec_t(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # noqa: F811
        return np.dot(np.transpose(a), x)

    def matmat(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # noqa: F811
        return np.dot(a, b)
