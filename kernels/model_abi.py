r"""The model ABI: how compiled samplers call a model's log density and gradient.

A *model* is a C-ABI function (in practice a Numba ``@cfunc``) with the C signature

.. code-block:: c

    int64_t logp_grad(double *theta, double *grad_out, double *logp_out, void *data);

* ``theta`` -- the unconstrained position, ``dim`` doubles (the model knows its own ``dim``);
* ``grad_out`` -- receives :math:`\nabla_\theta \log p(\theta)` (``dim`` doubles);
* ``logp_out`` -- receives :math:`\log p(\theta)` (one double, up to an additive constant);
* ``data`` -- an opaque pointer to whatever the model needs (observed data, covariates, work
  buffers); samplers never look inside it, they pass it through unchanged;
* the return value is a status: ``0`` = success, anything else = the model could not evaluate
  the density at ``theta`` (domain error, non-finite intermediate, ...). Exceptions cannot cross
  a C function, so this status is the only error channel.

Samplers treat a non-zero status *or* a non-finite ``logp`` exactly like a point of infinite
energy: inside a NUTS/HMC trajectory it is a divergence, never a crash.

Compiled samplers receive the model as a plain ``int64`` -- the function's address
(``cfunc.address``) -- and the data pointer as another ``int64``. Because the sampler's Numba
type signature then contains only integers, **one compiled sampler serves every model** and is
loaded from Numba's disk cache in later processes (a model passed as a dispatcher object would be
part of the type and force a recompilation per model). The call itself goes through
:func:`call_logp_grad`, an intrinsic that converts the integer to a function pointer
(``inttoptr``) and emits an indirect ``call``: it costs the same as a direct call to a C function.

When ``NUMBAYES_DISABLE_JIT=1`` (see :mod:`kernels.jit`) every public function here is plain
Python and calls the model through :mod:`ctypes` instead.

Public API
----------
``LOGP_GRAD_SIG``
    The Numba signature object for ``@cfunc(LOGP_GRAD_SIG)``.
``call_logp_grad(address, theta_ptr, grad_ptr, logp_ptr, data_ptr) -> int64``
    Call the model at ``address`` on raw pointers (integers, e.g. ``arr.ctypes.data``).
``logp_grad(address, data_ptr, theta, grad) -> (status, logp)``
    Convenience wrapper taking 1-D contiguous ``float64`` arrays; ``grad`` is overwritten.
``evaluate(address, data_ptr, theta, grad) -> (status, logp)``
    Like :func:`logp_grad` but maps "status 0 with a non-finite ``logp`` or gradient" to
    status :data:`kernels.status.MODEL_NONFINITE`, the check every sampler applies.
``Model(address, data)``
    The two integers as one record, the form in which the samplers' kernels pass a model on.
"""

from __future__ import annotations

import ctypes
import math
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels.jit import JIT_DISABLED, njit, signature
from kernels.status import MODEL_NONFINITE, MODEL_OK

__all__ = [
    "LOGP_GRAD_SIG",
    "Model",
    "call_logp_grad",
    "logp_grad",
    "evaluate",
    "ctypes_logp_grad",
]

#: ``int64(double*, double*, double*, void*)`` -- the signature every model cfunc must have.
LOGP_GRAD_SIG = types.int64(
    types.CPointer(types.float64),
    types.CPointer(types.float64),
    types.CPointer(types.float64),
    types.voidptr,
)



class Model(NamedTuple):
    """A model as the samplers' kernels pass it on: its C function's address and its data
    pointer (each a plain ``int64``, so that one compiled sampler serves every model)."""

    address: int
    data: int

_CTYPES_PROTO = ctypes.CFUNCTYPE(
    ctypes.c_int64,
    ctypes.POINTER(ctypes.c_double),
    ctypes.POINTER(ctypes.c_double),
    ctypes.POINTER(ctypes.c_double),
    ctypes.c_void_p,
)


def ctypes_logp_grad(address: int) -> ctypes._CFuncPtr:
    """Wrap a model address as a :mod:`ctypes` function (for Python callers and tests).

    Parameters
    ----------
    address : int
        The model's address (``cfunc.address``).

    Returns
    -------
    ctypes function
        Callable as ``f(theta_ptr, grad_ptr, logp_ptr, data_ptr) -> int`` on ctypes pointers.
    """
    return _CTYPES_PROTO(int(address))


def _as_i8_pointer(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """LLVM: turn an integer or any pointer into an ``i8*``."""
    if isinstance(value.type, ir.PointerType):
        return builder.bitcast(value, cgutils.voidptr_t)
    return builder.inttoptr(value, cgutils.voidptr_t)


def _as_double_pointer(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """LLVM: turn an integer or any pointer into a ``double*``."""
    target = ir.DoubleType().as_pointer()
    if isinstance(value.type, ir.PointerType):
        return builder.bitcast(value, target)
    return builder.inttoptr(value, target)


def _is_address_like(ty: types.Type) -> bool:
    return isinstance(ty, (types.Integer, types.CPointer, types.RawPointer))


@intrinsic
def _call_logp_grad_intrinsic(typingctx, address, theta_ptr, grad_ptr, logp_ptr, data_ptr):
    """Indirect call of the C function at ``address`` (inttoptr + call)."""
    if not isinstance(address, types.Integer):
        return None
    if not all(_is_address_like(t) for t in (theta_ptr, grad_ptr, logp_ptr, data_ptr)):
        return None
    sig = types.int64(address, theta_ptr, grad_ptr, logp_ptr, data_ptr)

    def codegen(context, builder, signature, args):
        addr, theta, grad, logp, data = args
        dptr = ir.DoubleType().as_pointer()
        fnty = ir.FunctionType(ir.IntType(64), [dptr, dptr, dptr, cgutils.voidptr_t])
        fn = builder.inttoptr(addr, fnty.as_pointer())
        call_args = [
            _as_double_pointer(builder, theta),
            _as_double_pointer(builder, grad),
            _as_double_pointer(builder, logp),
            _as_i8_pointer(builder, data),
        ]
        return builder.call(fn, call_args)

    return sig, codegen


@intrinsic
def _call_with_stack_logp(typingctx, address, theta_ptr, grad_ptr, data_ptr):
    """Call the model with ``logp_out`` pointing at a stack slot; return ``(status, logp)``."""
    if not isinstance(address, types.Integer):
        return None
    if not all(_is_address_like(t) for t in (theta_ptr, grad_ptr, data_ptr)):
        return None
    ret = types.Tuple((types.int64, types.float64))
    sig = ret(address, theta_ptr, grad_ptr, data_ptr)

    def codegen(context, builder, signature, args):
        addr, theta, grad, data = args
        dptr = ir.DoubleType().as_pointer()
        slot = cgutils.alloca_once(builder, ir.DoubleType())
        builder.store(ir.Constant(ir.DoubleType(), math.nan), slot)
        fnty = ir.FunctionType(ir.IntType(64), [dptr, dptr, dptr, cgutils.voidptr_t])
        fn = builder.inttoptr(addr, fnty.as_pointer())
        status = builder.call(
            fn,
            [
                _as_double_pointer(builder, theta),
                _as_double_pointer(builder, grad),
                slot,
                _as_i8_pointer(builder, data),
            ],
        )
        logp = builder.load(slot)
        return context.make_tuple(builder, signature.return_type, [status, logp])

    return sig, codegen


def _py_call_logp_grad(
    address: int, theta_ptr: int, grad_ptr: int, logp_ptr: int, data_ptr: int
) -> int:
    """Pure-Python :func:`call_logp_grad` (used when JIT is disabled): call through ctypes."""
    fn = ctypes_logp_grad(address)
    dp = ctypes.POINTER(ctypes.c_double)
    return int(
        fn(
            ctypes.cast(int(theta_ptr), dp),
            ctypes.cast(int(grad_ptr), dp),
            ctypes.cast(int(logp_ptr), dp),
            ctypes.c_void_p(int(data_ptr)),
        )
    )


if JIT_DISABLED:
    call_logp_grad = _py_call_logp_grad
else:
    call_logp_grad = _call_logp_grad_intrinsic
call_logp_grad.__doc__ = """Call the model whose C function lives at ``address``.

Parameters
----------
address : int64
    The model's address (``cfunc.address``).
theta_ptr, grad_ptr, logp_ptr : int or pointer
    Addresses of ``dim``, ``dim`` and 1 doubles (e.g. ``arr.ctypes.data`` in compiled code).
data_ptr : int or pointer
    The model's opaque data pointer, passed through unchanged.

Returns
-------
int64
    The model's status (0 = success).
"""


if JIT_DISABLED:

    def logp_grad(
        address: int, data_ptr: int, theta: np.ndarray, grad: np.ndarray
    ) -> tuple[int, float]:
        """Evaluate the model on arrays (pure-Python path): see the compiled version."""
        out = np.full(1, np.nan)
        status = _py_call_logp_grad(
            address, theta.ctypes.data, grad.ctypes.data, out.ctypes.data, data_ptr
        )
        return status, float(out[0])

else:

    @njit
    def logp_grad(
        address: int, data_ptr: int, theta: np.ndarray, grad: np.ndarray
    ) -> tuple[int, float]:
        """Evaluate the model at ``address`` on 1-D arrays.

        Parameters
        ----------
        address : int64
            The model's address.
        data_ptr : int64
            The model's data pointer.
        theta : float64[::1]
            Position (C-contiguous, length ``dim``); not modified.
        grad : float64[::1]
            Receives the gradient of the log density (C-contiguous, length ``dim``).

        Returns
        -------
        (int64, float64)
            The model's status and its log density (NaN if the model did not write it).
        """
        return _call_with_stack_logp(address, theta.ctypes.data, grad.ctypes.data, data_ptr)


@signature(lambda t: (t.i8, t.i8, t.vector, t.vector))
@njit(borrow=True)
def evaluate(address: int, data_ptr: int, theta: np.ndarray, grad: np.ndarray) -> tuple[int, float]:
    """Evaluate the model and validate the result, as every sampler does.

    Calls :func:`logp_grad`; if the model returned status 0 but ``logp`` or any gradient
    component is NaN/infinite, the status becomes :data:`kernels.status.MODEL_NONFINITE`. A
    non-zero status
    means "this point has zero density" to the samplers (a divergence inside a trajectory).

    Parameters
    ----------
    address, data_ptr : int64
        The model's address and data pointer.
    theta : float64[::1]
        Position (length ``dim``).
    grad : float64[::1]
        Receives the gradient (length ``dim``).

    Returns
    -------
    (int64, float64)
        Status (0 = finite density and gradient) and log density.
    """
    status, logp = logp_grad(address, data_ptr, theta, grad)
    if status != MODEL_OK:
        return status, logp
    if not math.isfinite(logp):
        return MODEL_NONFINITE, logp
    for i in range(grad.shape[0]):
        if not math.isfinite(grad[i]):
            return MODEL_NONFINITE, logp
    return status, logp
