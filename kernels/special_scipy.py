r"""SciPy's Cython special functions, bound by symbol name so that callers stay cacheable.

``scipy.special.cython_special`` exports C entry points (PyCapsules) for most of
``scipy.special``. They are called directly from compiled code, so results are bit-for-bit those
of ``scipy.special``: :func:`gammaln`, :func:`digamma`, :func:`loggamma`, :func:`betaln`,
:func:`erf`, :func:`erfc`, :func:`erfcx`, :func:`erfinv`, :func:`erfcinv`, :func:`ndtr`,
:func:`ndtri`, :func:`ndtri_exp`, :func:`log_ndtr`, :func:`xlogy`, :func:`xlog1py`, :func:`i0`,
:func:`i0e`, :func:`i1`, :func:`i1e`, :func:`iv`, :func:`ive`, :func:`gammainc`,
:func:`gammaincc`, :func:`gammaincinv`, :func:`gammainccinv`, :func:`betainc`, :func:`betaincc`,
:func:`betaincinv`, :func:`expit`, :func:`logit`, :func:`log_expit`. Import them from
:mod:`kernels.special`, which re-exports every one (the same dispatcher objects).

Why SciPy is bound by symbol name
---------------------------------
The usual recipe -- wrap the capsule address in a ``ctypes`` function and call it from ``@njit``
code -- works but makes every caller uncacheable: Numba refuses to write a function that refers
to a ``ctypes`` pointer to its disk cache ("uses dynamic globals"), and a raw address would be
wrong in the next process anyway. Here, at import, each C entry point is registered with LLVM
under a stable name, ``llvmlite.binding.add_symbol("numbayes_<name>", address)``, and compiled
code calls it through an ``@intrinsic`` that declares ``numbayes_<name>`` as an external function.
The cached object code then holds only the symbol *name*, which is resolved against the address
registered by this process's import. Consequences: importing this module must precede loading
any cached kernel that uses it (it always does: the caller imports :mod:`kernels.special`, which
imports this module), and every capsule's name and C signature are checked at import so a SciPy
upgrade that renames a fused specialisation fails loudly here instead of calling the wrong
function. Every Cython signature ends with ``int __pyx_skip_dispatch``; the intrinsics pass ``0``.

When ``NUMBAYES_DISABLE_JIT=1`` the bound functions call ``scipy.special`` from plain Python.

Examples
--------
>>> from kernels.special_scipy import gammaln
>>> round(gammaln(5.0), 12)  # log(4!)
3.178053830348
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm_binding
import scipy.special as _sc
import scipy.special.cython_special as _cython_special
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import get_cython_function_address, intrinsic

from kernels.jit import JIT_DISABLED, njit

# ---------------------------------------------------------------------------------------------
# Binding SciPy's Cython special functions by symbol name
# ---------------------------------------------------------------------------------------------

SYMBOL_PREFIX = "numbayes_"

#: ``(public name, capsule name in scipy.special.cython_special.__pyx_capi__, number of doubles)``.
#: The fused index of a capsule (``__pyx_fuse_0`` / ``_1``) is *not* consistently the double
#: version: ``erf``/``ndtr``/``psi`` use ``_1`` (``_0`` is complex) while ``expit``/``logit``/
#: ``betainc`` use ``_0`` (``_1`` is float). :func:`_check_capsule` verifies every signature.
SCIPY_BINDINGS: tuple[tuple[str, str, int], ...] = (
    ("gammaln", "gammaln", 1),
    ("digamma", "__pyx_fuse_1psi", 1),
    ("loggamma", "__pyx_fuse_1loggamma", 1),
    ("erf", "__pyx_fuse_1erf", 1),
    ("erfc", "__pyx_fuse_1erfc", 1),
    ("erfcx", "__pyx_fuse_1erfcx", 1),
    ("erfinv", "__pyx_fuse_0erfinv", 1),
    ("erfcinv", "erfcinv", 1),
    ("ndtr", "__pyx_fuse_1ndtr", 1),
    ("ndtri", "ndtri", 1),
    ("ndtri_exp", "ndtri_exp", 1),
    ("log_ndtr", "__pyx_fuse_1log_ndtr", 1),
    ("i0", "i0", 1),
    ("i0e", "i0e", 1),
    ("i1", "i1", 1),
    ("i1e", "i1e", 1),
    ("expit", "__pyx_fuse_0expit", 1),
    ("logit", "__pyx_fuse_0logit", 1),
    ("log_expit", "__pyx_fuse_0log_expit", 1),
    ("betaln", "betaln", 2),
    ("iv", "__pyx_fuse_1iv", 2),
    ("ive", "__pyx_fuse_1ive", 2),
    ("xlogy", "__pyx_fuse_1xlogy", 2),
    ("xlog1py", "__pyx_fuse_1xlog1py", 2),
    ("gammainc", "gammainc", 2),
    ("gammaincc", "gammaincc", 2),
    ("gammaincinv", "gammaincinv", 2),
    ("gammainccinv", "gammainccinv", 2),
    ("betainc", "__pyx_fuse_0betainc", 3),
    ("betaincc", "__pyx_fuse_0betaincc", 3),
    ("betaincinv", "__pyx_fuse_0betaincinv", 3),
)

_CYTHON_MODULE = "scipy.special.cython_special"

# A private prototype, so the shared ``ctypes.pythonapi.PyCapsule_GetName`` is left untouched.
_PyCapsule_GetName = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
    ("PyCapsule_GetName", ctypes.pythonapi)
)


def expected_signature(arity: int) -> str:
    """The Cython capsule signature of a double-precision function of ``arity`` arguments."""
    return "double (" + ", ".join(["double"] * arity) + ", int __pyx_skip_dispatch)"


def _check_capsule(capsule: str, arity: int) -> None:
    """Fail loudly if ``capsule`` is missing or is not ``double f(double, ..., int)``."""
    capi = _cython_special.__pyx_capi__
    if capsule not in capi:
        raise ImportError(
            f"scipy.special.cython_special exports no {capsule!r}; this SciPy version renamed or "
            "dropped it -- update kernels.special_scipy.SCIPY_BINDINGS"
        )
    signature = _PyCapsule_GetName(capi[capsule]).decode()
    if signature != expected_signature(arity):
        raise ImportError(
            f"scipy.special.cython_special.{capsule} has signature {signature!r}, expected "
            f"{expected_signature(arity)!r} -- update kernels.special_scipy.SCIPY_BINDINGS"
        )


def _register_symbols() -> dict[str, object]:
    """Check every capsule, register its address under ``numbayes_<name>``; return fallbacks."""
    fallbacks: dict[str, object] = {}
    for public, capsule, arity in SCIPY_BINDINGS:
        _check_capsule(capsule, arity)
        address = get_cython_function_address(_CYTHON_MODULE, capsule)
        llvm_binding.add_symbol(SYMBOL_PREFIX + public, address)
        fallbacks[SYMBOL_PREFIX + public] = getattr(_sc, public)
    return fallbacks


#: symbol name -> the ``scipy.special`` ufunc used when JIT is disabled.
_PY_FALLBACK = _register_symbols()

_F64 = ir.DoubleType()
_I32 = ir.IntType(32)


def _extern_call_codegen(symbol: str, arity: int):
    """LLVM code generator: call the external ``double symbol(double * arity, int 0)``."""

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(_F64, [_F64] * arity + [_I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
        values = [
            context.cast(builder, value, ty, types.float64)
            for value, ty in zip(args[1:], signature.args[1:])
        ]
        return builder.call(fn, values + [ir.Constant(_I32, 0)])

    return codegen


def _extern_signature(symbol, *args):
    if not isinstance(symbol, types.StringLiteral):
        raise TypingError("the symbol name of an external SciPy function must be a literal string")
    if not all(isinstance(a, (types.Float, types.Integer, types.Boolean)) for a in args):
        return None
    return types.float64(symbol, *args), _extern_call_codegen(symbol.literal_value, len(args))


@intrinsic(prefer_literal=True)
def _extern_1(typingctx, symbol, x):
    """``double symbol(double x, int 0)`` -- ``symbol`` must be a literal string."""
    return _extern_signature(symbol, x)


@intrinsic(prefer_literal=True)
def _extern_2(typingctx, symbol, x, y):
    """``double symbol(double x, double y, int 0)``."""
    return _extern_signature(symbol, x, y)


@intrinsic(prefer_literal=True)
def _extern_3(typingctx, symbol, x, y, z):
    """``double symbol(double x, double y, double z, int 0)``."""
    return _extern_signature(symbol, x, y, z)


if JIT_DISABLED:
    # Plain-Python stand-ins with the same call shape: the public wrappers below stay unchanged.

    def _extern_1(symbol, x):  # noqa: F811
        return float(_PY_FALLBACK[symbol](x))

    def _extern_2(symbol, x, y):  # noqa: F811
        return float(_PY_FALLBACK[symbol](x, y))

    def _extern_3(symbol, x, y, z):  # noqa: F811
        return float(_PY_FALLBACK[symbol](x, y, z))


# --- one-argument SciPy functions -------------------------------------------------------------


@njit
def gammaln(x: float) -> float:
    """``log|Gamma(x)|`` (``scipy.special.gammaln``)."""
    return _extern_1("numbayes_gammaln", x)


@njit
def digamma(x: float) -> float:
    """``psi(x) = d/dx log Gamma(x)`` (``scipy.special.digamma``)."""
    return _extern_1("numbayes_digamma", x)


@njit
def loggamma(x: float) -> float:
    """Real ``log Gamma(x)``; ``nan`` for ``x < 0`` (``scipy.special.loggamma`` on reals)."""
    return _extern_1("numbayes_loggamma", x)


@njit
def erf(x: float) -> float:
    """Error function (``scipy.special.erf``)."""
    return _extern_1("numbayes_erf", x)


@njit
def erfc(x: float) -> float:
    """Complementary error function ``1 - erf(x)`` (``scipy.special.erfc``)."""
    return _extern_1("numbayes_erfc", x)


@njit
def erfcx(x: float) -> float:
    """Scaled complementary error function ``exp(x**2) * erfc(x)`` (``scipy.special.erfcx``)."""
    return _extern_1("numbayes_erfcx", x)


@njit
def erfinv(x: float) -> float:
    """Inverse of :func:`erf` on ``[-1, 1]`` (``scipy.special.erfinv``)."""
    return _extern_1("numbayes_erfinv", x)


@njit
def erfcinv(x: float) -> float:
    """Inverse of :func:`erfc` on ``[0, 2]`` (``scipy.special.erfcinv``)."""
    return _extern_1("numbayes_erfcinv", x)


@njit
def ndtr(x: float) -> float:
    """Standard normal CDF ``Phi(x)`` (``scipy.special.ndtr``)."""
    return _extern_1("numbayes_ndtr", x)


@njit
def ndtri(p: float) -> float:
    """Standard normal quantile, the inverse of :func:`ndtr` (``scipy.special.ndtri``)."""
    return _extern_1("numbayes_ndtri", p)


@njit
def ndtri_exp(y: float) -> float:
    """``ndtri(exp(y))`` for ``y <= 0``, accurate for very negative ``y``."""
    return _extern_1("numbayes_ndtri_exp", y)


@njit
def log_ndtr(x: float) -> float:
    """``log Phi(x)``, accurate in both tails (``scipy.special.log_ndtr``)."""
    return _extern_1("numbayes_log_ndtr", x)


@njit
def i0(x: float) -> float:
    """Modified Bessel function of the first kind, order 0 (``scipy.special.i0``)."""
    return _extern_1("numbayes_i0", x)


@njit
def i0e(x: float) -> float:
    """Exponentially scaled ``exp(-|x|) * I0(x)`` (``scipy.special.i0e``)."""
    return _extern_1("numbayes_i0e", x)


@njit
def i1(x: float) -> float:
    """Modified Bessel function of the first kind, order 1 (``scipy.special.i1``)."""
    return _extern_1("numbayes_i1", x)


@njit
def i1e(x: float) -> float:
    """Exponentially scaled ``exp(-|x|) * I1(x)`` (``scipy.special.i1e``)."""
    return _extern_1("numbayes_i1e", x)


@njit
def expit(x: float) -> float:
    """Logistic sigmoid ``1 / (1 + exp(-x))`` (``scipy.special.expit``)."""
    return _extern_1("numbayes_expit", x)


@njit
def logit(p: float) -> float:
    """``log(p / (1 - p))`` (``scipy.special.logit``)."""
    return _extern_1("numbayes_logit", p)


@njit
def log_expit(x: float) -> float:
    """``log(expit(x)) = -log1pexp(-x)`` (``scipy.special.log_expit``)."""
    return _extern_1("numbayes_log_expit", x)


# --- two- and three-argument SciPy functions --------------------------------------------------


@njit
def betaln(a: float, b: float) -> float:
    """``log|B(a, b)|`` (``scipy.special.betaln``)."""
    return _extern_2("numbayes_betaln", a, b)


@njit
def xlogy(x: float, y: float) -> float:
    """``x * log(y)``, ``0`` when ``x == 0`` (``scipy.special.xlogy``)."""
    return _extern_2("numbayes_xlogy", x, y)


@njit
def xlog1py(x: float, y: float) -> float:
    """``x * log1p(y)``, ``0`` when ``x == 0`` (``scipy.special.xlog1py``)."""
    return _extern_2("numbayes_xlog1py", x, y)


@njit
def iv(v: float, x: float) -> float:
    """Modified Bessel function of the first kind of real order ``v`` (``scipy.special.iv``)."""
    return _extern_2("numbayes_iv", v, x)


@njit
def ive(v: float, x: float) -> float:
    """Exponentially scaled ``exp(-|x|) * I_v(x)`` (``scipy.special.ive``)."""
    return _extern_2("numbayes_ive", v, x)


@njit
def gammainc(a: float, x: float) -> float:
    """Regularised lower incomplete gamma ``P(a, x)`` (``scipy.special.gammainc``)."""
    return _extern_2("numbayes_gammainc", a, x)


@njit
def gammaincc(a: float, x: float) -> float:
    """Regularised upper incomplete gamma ``Q(a, x) = 1 - P(a, x)``."""
    return _extern_2("numbayes_gammaincc", a, x)


@njit
def gammaincinv(a: float, p: float) -> float:
    """Inverse of :func:`gammainc` in ``x`` (``scipy.special.gammaincinv``)."""
    return _extern_2("numbayes_gammaincinv", a, p)


@njit
def gammainccinv(a: float, q: float) -> float:
    """Inverse of :func:`gammaincc` in ``x`` (``scipy.special.gammainccinv``)."""
    return _extern_2("numbayes_gammainccinv", a, q)


@njit
def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)`` (``scipy.special.betainc``)."""
    return _extern_3("numbayes_betainc", a, b, x)


@njit
def betaincc(a: float, b: float, x: float) -> float:
    """Complement ``1 - I_x(a, b)`` (``scipy.special.betaincc``)."""
    return _extern_3("numbayes_betaincc", a, b, x)


@njit
def betaincinv(a: float, b: float, y: float) -> float:
    """Inverse of :func:`betainc` in ``x`` (``scipy.special.betaincinv``)."""
    return _extern_3("numbayes_betaincinv", a, b, y)
