r"""Scalar special functions for compiled kernels: SciPy's Cython routines plus in-house extras.

This module owns every special function that hand-written kernels and generated log-density code
call. All public functions are scalar, take and return ``float64`` and are compiled with
:func:`kernels.jit.njit` (``cache=True``), so they can be called from any other ``@njit`` function
and end up in its disk cache.

Two families
------------
**Bound from SciPy.** ``scipy.special.cython_special`` exports C entry points (PyCapsules) for
most of ``scipy.special``. They are called directly from compiled code, so results are bit-for-bit
those of ``scipy.special``: :func:`gammaln`, :func:`digamma`, :func:`loggamma`, :func:`betaln`,
:func:`erf`, :func:`erfc`, :func:`erfcx`, :func:`erfinv`, :func:`erfcinv`, :func:`ndtr`,
:func:`ndtri`, :func:`ndtri_exp`, :func:`log_ndtr`, :func:`xlogy`, :func:`xlog1py`, :func:`i0`,
:func:`i0e`, :func:`i1`, :func:`i1e`, :func:`gammainc`, :func:`gammaincc`, :func:`gammaincinv`,
:func:`gammainccinv`, :func:`betainc`, :func:`betaincc`, :func:`betaincinv`, :func:`expit`,
:func:`logit`, :func:`log_expit`.

**Written here** (SciPy exports no ``polygamma``; the rest are log-space helpers and derivatives
needed by gradients):

* :func:`trigamma` -- :math:`\psi_1(x) = \frac{d^2}{dx^2}\log\Gamma(x)`. For ``0 < x < 10`` the
  recurrence :math:`\psi_1(x) = \psi_1(x+1) + 1/x^2` shifts the argument to ``y >= 10``, where the
  asymptotic series :math:`\psi_1(y) \sim 1/y + 1/(2y^2) + \sum_{k\ge1} B_{2k}/y^{2k+1}`
  (Abramowitz & Stegun 6.4.12; Bernoulli numbers through :math:`B_{16}`, truncation error below
  ``6e-17`` relative) is summed. For ``x < 0`` the reflection formula
  :math:`\psi_1(x) = \pi^2/\sin^2(\pi x) - \psi_1(1 - x)` (A&S 6.4.7 differentiated) is used with
  an exact reduction of ``x`` to ``[-1/2, 1/2]`` before the sine. Poles (``x = 0, -1, -2, ...``)
  give ``+inf`` (as ``scipy.special.polygamma(1, x)``); ``x = -inf`` gives ``nan``.
* :func:`polygamma` -- :math:`\psi_n(x)` for integer ``n >= 0`` (``n = 0, 1`` are
  :func:`digamma` and :func:`trigamma`). The same three steps with the order-``n`` formulas:
  the recurrence A&S 6.4.6 up to ``y >= 7.5 + 0.45 n``, the asymptotic series A&S 6.4.11 (through
  :math:`B_{40}`), and for ``x < 0`` the reflection formula A&S 6.4.7 with the ``n``-th
  derivative of :math:`\cot` written as a polynomial in :math:`\cot(\pi x)`.
* :func:`log1mexp` -- :math:`\log(1 - e^{-a})` for :math:`a \ge 0` (**positive argument**, the
  convention of Maechler 2012 and R's ``Rmpfr::log1mexp``). It switches at :math:`a = \log 2`
  between ``log(-expm1(-a))`` and ``log1p(-exp(-a))``, each accurate on its side.
  :func:`log1mexp_neg` is the same function for the **negative argument** convention,
  :math:`\log(1 - e^{x})` for :math:`x \le 0` (Stan's ``log1m_exp``). :func:`dlog1mexp` is the
  derivative :math:`d/da\,\log(1-e^{-a}) = 1/\mathrm{expm1}(a)`.
* :func:`log1pexp` -- softplus :math:`\log(1 + e^{x})` with Maechler's thresholds
  (``exp(x)`` for ``x <= -37``, ``log1p(exp(x))`` up to 18, ``x + exp(-x)`` up to 33.3, then
  ``x``); its derivative :func:`dlog1pexp` is the logistic function.
* :func:`logaddexp` and :func:`logsumexp` (1-D ``float64`` array) -- shift by the maximum and add
  ``log1p`` of the remaining terms; infinities and NaN are handled explicitly.
* :func:`dlog_ndtr` -- :math:`\frac{d}{dx}\log\Phi(x) = \phi(x)/\Phi(x)`; for ``x < 0`` as
  :math:`\sqrt{2/\pi}/\mathrm{erfcx}(-x/\sqrt2)` (no underflow, no cancellation), for ``x >= 0``
  with :math:`e^{-x^2/2}` evaluated from an exact split of :math:`x^2`.
* :func:`i1e_over_i0e` -- :math:`I_1(x)/I_0(x)` (derivative of :math:`\log I_0`, used by the von
  Mises gradient) and :func:`log_i0` -- :math:`\log I_0(x)` (power series for ``|x| <= 2``,
  ``log(i0e(x)) + |x|`` beyond).

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
any cached kernel that uses it (it always does: the caller's module imports it), and every
capsule's name and C signature are checked at import so a SciPy upgrade that renames a fused
specialisation fails loudly here instead of calling the wrong function. Every Cython signature
ends with ``int __pyx_skip_dispatch``; the intrinsics pass ``0``.

When ``NUMBAYES_DISABLE_JIT=1`` the bound functions call ``scipy.special`` from plain Python, and
the in-house functions run as plain Python too (they avoid operations that raise in Python but not
in Numba, such as ``math.log(0.0)``).

References
----------
* M. Maechler (2012), *Accurately Computing log(1 - exp(-|a|)) Assessed by the Rmpfr package*,
  CRAN vignette ``Rmpfr/log1mexp-note``.
* M. Abramowitz and I. A. Stegun (1964), *Handbook of Mathematical Functions*, sections 6.4
  (polygamma functions: 6.4.6 recurrence, 6.4.7 reflection, 6.4.11 and 6.4.12 asymptotic
  series), 23.2 (Bernoulli numbers) and 26.2 (normal distribution).
* M. E. Hoffman (1995), *Derivative polynomials for tangent and secant*, American Mathematical
  Monthly 102(1), 23-30 (the polynomials :math:`P_n` with :math:`\cot^{(n)} = P_n(\cot)`).

Examples
--------
>>> from kernels.special import log1mexp, trigamma
>>> round(log1mexp(1.0), 12)
-0.458675145387
>>> round(trigamma(1.0), 12)  # pi**2 / 6
1.644934066848
"""

from __future__ import annotations

import ctypes
import math

import llvmlite.binding as llvm_binding
import numpy as np
import scipy.special as _sc
import scipy.special.cython_special as _cython_special
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import get_cython_function_address, intrinsic

from kernels.jit import JIT_DISABLED, njit

__all__ = [
    # bound from scipy.special.cython_special
    "betainc",
    "betaincc",
    "betaincinv",
    "betaln",
    "digamma",
    "erf",
    "erfc",
    "erfcinv",
    "erfcx",
    "erfinv",
    "expit",
    "gammainc",
    "gammaincc",
    "gammainccinv",
    "gammaincinv",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "log_expit",
    "log_ndtr",
    "loggamma",
    "logit",
    "ndtr",
    "ndtri",
    "ndtri_exp",
    "xlog1py",
    "xlogy",
    # in-house
    "dlog1mexp",
    "dlog1pexp",
    "dlog_ndtr",
    "i1e_over_i0e",
    "log1mexp",
    "log1mexp_neg",
    "log1pexp",
    "log_i0",
    "logaddexp",
    "logsumexp",
    "polygamma",
    "trigamma",
]

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
            "dropped it -- update kernels.special.SCIPY_BINDINGS"
        )
    signature = _PyCapsule_GetName(capi[capsule]).decode()
    if signature != expected_signature(arity):
        raise ImportError(
            f"scipy.special.cython_special.{capsule} has signature {signature!r}, expected "
            f"{expected_signature(arity)!r} -- update kernels.special.SCIPY_BINDINGS"
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


# ---------------------------------------------------------------------------------------------
# In-house functions
# ---------------------------------------------------------------------------------------------

_LOG2 = math.log(2.0)
_PI = math.pi
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_VELTKAMP = 134217729.0  # 2**27 + 1: splits a double into two 26-bit halves

# Bernoulli numbers B_2 .. B_16 for the trigamma asymptotic series (A&S 6.4.12, table 23.2).
_B2 = 1.0 / 6.0
_B4 = -1.0 / 30.0
_B6 = 1.0 / 42.0
_B8 = -1.0 / 30.0
_B10 = 5.0 / 66.0
_B12 = -691.0 / 2730.0
_B14 = 7.0 / 6.0
_B16 = -3617.0 / 510.0
_TRIGAMMA_ASYMPTOTIC_FROM = 10.0


@njit
def _trigamma_asymptotic(y: float) -> float:
    """``psi_1(y)`` for ``y >= 10`` from the asymptotic series (relative error < 6e-17)."""
    z = 1.0 / y
    z2 = z * z
    p = _B14 + z2 * _B16
    p = _B12 + z2 * p
    p = _B10 + z2 * p
    p = _B8 + z2 * p
    p = _B6 + z2 * p
    p = _B4 + z2 * p
    p = _B2 + z2 * p
    return z + z2 * (0.5 + z * p)


@njit
def _trigamma_positive(x: float) -> float:
    """``psi_1(x)`` for ``x > 0``: upward recurrence to ``>= 10``, summed smallest term first."""
    if x >= _TRIGAMMA_ASYMPTOTIC_FROM:
        return _trigamma_asymptotic(x)
    n = int(math.ceil(_TRIGAMMA_ASYMPTOTIC_FROM - x))
    acc = _trigamma_asymptotic(x + n)
    for k in range(n - 1, -1, -1):
        t = 1.0 / (x + k)  # (1/x)**2 rather than 1/x**2: no division by an underflowed zero
        acc += t * t
    return acc


@njit
def trigamma(x: float) -> float:
    """Trigamma function ``psi_1(x) = d^2/dx^2 log Gamma(x)`` (``polygamma(1, x)``).

    Parameters
    ----------
    x : float
        Any real number.

    Returns
    -------
    float
        ``psi_1(x)``; ``+inf`` at the poles ``x = 0, -1, -2, ...`` (as SciPy), ``0`` at ``+inf``,
        ``nan`` at ``-inf`` and for ``nan``. Relative error about ``1e-15`` for all other ``x``.
    """
    y = float(x)  # ints compile to the float path; plain-Python mode avoids NumPy scalars
    if y != y or y == -math.inf:
        return math.nan
    if y > 0.0:
        return _trigamma_positive(y)
    fl = float(np.floor(y))
    if y == fl:
        return math.inf
    # Reduce y exactly to r in [-1/2, 1/2] with sin^2(pi r) = sin^2(pi y).
    if y > -0.5:
        r = y
    else:
        r = y - fl  # exact (Sterbenz), in (0, 1)
        if r > 0.5:
            r = r - 1.0  # exact
    t = _PI / math.sin(_PI * r)
    return t * t - _trigamma_positive(1.0 - y)


# --- polygamma of any order --------------------------------------------------------------------

#: Largest supported order: ``n!`` (which every term carries) is finite up to ``170!``.
POLYGAMMA_MAX_ORDER = 170

# B_2 .. B_40 (A&S table 23.2). Python divides the exact integers with one correct rounding.
_BERNOULLI = (
    _B2,
    _B4,
    _B6,
    _B8,
    _B10,
    _B12,
    _B14,
    _B16,
    43867 / 798,
    -174611 / 330,
    854513 / 138,
    -236364091 / 2730,
    8553103 / 6,
    -23749461029 / 870,
    8615841276005 / 14322,
    -7709321041217 / 510,
    2577687858367 / 6,
    -26315271553053477373 / 1919190,
    2929993913841559 / 6,
    -261082718496449122051 / 13530,
)
# Constant arrays, not tuples: compiled code indexes them with a run-time index. The series uses
# B_2k / (2k)!, so that its loop needs no division.
_BERNOULLI_OVER_FACTORIAL = np.array(
    [b / math.factorial(2 * k) for k, b in enumerate(_BERNOULLI, start=1)]
)
_FACTORIALS = np.array([float(math.factorial(k)) for k in range(POLYGAMMA_MAX_ORDER + 1)])

# The series is summed for y >= 7.5 + 0.45 n. With the 20 Bernoulli numbers above this is where
# a term of relative size < 1e-17 is always reached while the terms still decrease (checked for
# every n <= 170 against exact terms: the minimal y grows from 7 at n = 1 to 77.5 at n = 170).
_POLYGAMMA_ASYMPTOTIC_FROM = 7.5
_POLYGAMMA_ASYMPTOTIC_SLOPE = 0.45
_SERIES_TOLERANCE = 1e-17


@njit
def _times_power_of_two(v: float, e: int) -> float:
    """``v * 2**e`` for finite ``v >= 0``: exact unless the result is subnormal; ``inf`` on overflow.

    ``math.ldexp`` alone would raise ``OverflowError`` in plain Python instead of returning inf.
    """
    q, a = math.frexp(v)
    if a + e > 1024:
        return math.inf
    return math.ldexp(q, a + e)


@njit
def _factorial_over_power(k: int, y: float, m: int) -> float:
    """``k! / y**m`` for ``0 <= k <= 170``, finite ``y > 0``, ``1 <= m <= 171``.

    Never overflows or underflows unless the result does: with ``k! = f 2^e`` and ``y = g 2^d``
    (``f, g`` in ``[1/2, 1)``), ``f g^{-m}`` lies in ``[1/2, 2^171]`` and the factor
    ``2^{e - m d}`` is applied exactly at the end. Error: ``pow``'s plus one rounding.
    """
    f, e = math.frexp(float(_FACTORIALS[k]))
    g, d = math.frexp(y)
    # a float exponent: with an integer one Numba lowers pow to repeated multiplication
    return _times_power_of_two(f * math.pow(g, -float(m)), e - m * d)


@njit
def _polygamma_asymptotic(n: int, y: float) -> float:
    r"""``|psi_n(y)|`` for ``y >= 7.5 + 0.45 n`` from A&S 6.4.11 (relative error < 1e-17).

    .. math::
        |\psi_n(y)| \sim \frac{(n-1)!}{y^n}\Big[1 + \frac{n}{2y}
        + \sum_{k\ge1} \frac{B_{2k}}{(2k)!}\, n (n+1) \cdots (n+2k-1)\, y^{-2k}\Big],

    summed until a term drops below ``1e-17`` (the bracket is at least 1). The remainder of this
    alternating series is smaller than the first omitted term.
    """
    z = 1.0 / y
    z2 = z * z
    rising = 1.0  # n (n+1) ... (n+2k-1) y^(-2k)
    series = 0.0
    for k in range(1, _BERNOULLI_OVER_FACTORIAL.shape[0] + 1):
        rising *= float((n + 2 * k - 2) * (n + 2 * k - 1)) * z2
        term = float(_BERNOULLI_OVER_FACTORIAL[k - 1]) * rising
        series += term
        if abs(term) < _SERIES_TOLERANCE:
            break
    return _factorial_over_power(n - 1, y, n) * (1.0 + 0.5 * n * z + series)


@njit
def _polygamma_magnitude(n: int, x: float) -> float:
    r"""``|psi_n(x)| = n! \zeta(n+1, x)`` for finite ``x > 0`` and ``1 <= n <= 170``.

    Below the series threshold the recurrence A&S 6.4.6, read as
    :math:`|\psi_n(x)| = n!/x^{n+1} + |\psi_n(x+1)|`, shifts the argument to ``y = x + N`` above
    it. All terms are positive, so the sum (smallest first) has no cancellation.
    """
    threshold = _POLYGAMMA_ASYMPTOTIC_FROM + _POLYGAMMA_ASYMPTOTIC_SLOPE * n
    if x >= threshold:
        return _polygamma_asymptotic(n, x)
    steps = int(math.ceil(threshold - x))
    # The terms k = 1 .. N-1 have x + k in [1, threshold]. They are summed as ((x + k)/2)^-(n+1),
    # which lies in [2^-171, 2^(n+1)] (no underflow for n up to 170), and n!/2^(n+1) is applied
    # once; one pow per step is the whole cost of the recurrence.
    middle = 0.0
    for k in range(steps - 1, 0, -1):
        middle += math.pow(0.5 * (x + k), -float(n + 1))
    f, e = math.frexp(float(_FACTORIALS[n]))
    middle = _times_power_of_two(f * middle, e - (n + 1))
    # the k = 0 term can overflow (x -> 0), so it gets the fully guarded evaluation
    return (_polygamma_asymptotic(n, x + steps) + middle) + _factorial_over_power(n, x, n + 1)


@njit
def _cot_derivative(n: int, c: float) -> float:
    r"""The ``n``-th derivative of ``cot`` at ``u``, given ``c = cot(u)``.

    :math:`\frac{d^n}{du^n}\cot u = (-1)^n Q_n(\cot u)` where :math:`Q_0(c) = c` and
    :math:`Q_{m+1}(c) = (1 + c^2)\,Q_m'(c)` (from :math:`\cot' = -(1 + \cot^2)`; Hoffman 1995).
    :math:`Q_n` has degree ``n + 1``, only powers of the parity of ``n + 1`` and positive integer
    coefficients, so Horner's rule in :math:`c^2` has no cancellation.
    """
    # coef[j] multiplies c**j. Q_m uses the parity of m + 1, Q_(m+1) the other one, so each step
    # writes the new coefficients between the old ones and then clears the old ones.
    coef = np.zeros(n + 3)
    coef[1] = 1.0
    for m in range(n):
        # (1 + c^2) sum_j j a_j c^(j-1) = sum_j [(j+1) a_(j+1) + (j-1) a_(j-1)] c^j
        for j in range(m + 2, 0, -2):
            coef[j] = (j + 1) * coef[j + 1] + (j - 1) * coef[j - 1]
        if m % 2 == 0:
            coef[0] = coef[1]
        for j in range(m + 1, -1, -2):
            coef[j] = 0.0
    c2 = c * c
    acc = float(coef[n + 1])  # not 0.0 * c2 + ...: c2 = inf near a pole must give inf, not nan
    for j in range(n - 1, -1, -2):
        acc = acc * c2 + float(coef[j])
    if n % 2 == 1:
        return -acc  # Q_n is even; (-1)^n = -1
    return acc * c  # Q_n is odd


@njit
def _polygamma(n: int, x: float) -> float:
    r"""``psi_n(x)`` for ``1 <= n <= 170`` and any float ``x``: the general algorithm.

    For ``x < 0`` the reflection formula A&S 6.4.7, differentiated ``n`` times,

    .. math::
        \psi_n(x) = (-1)^n \psi_n(1 - x) - \pi^{n+1} \cot^{(n)}(\pi x)
                  = -\big(|\psi_n(1 - x)| + \pi^{n+1} \cot^{(n)}(\pi x)\big),

    with ``x`` reduced exactly to ``r`` in ``[-1/2, 1/2]`` before ``cot(pi r) = cot(pi x)``, and
    ``cot(pi r) = tan(pi (1/2 - r))`` for ``r > 1/4`` (and its mirror for ``r < -1/4``).
    """
    sign = 1.0 if n % 2 == 1 else -1.0  # (-1)^(n+1), the sign of psi_n on x > 0
    if x != x or x == -math.inf:
        return math.nan
    if x == math.inf:
        return sign * 0.0
    if x > 0.0:
        return sign * _polygamma_magnitude(n, x)
    fl = float(np.floor(x))
    if x == fl:
        return sign * math.inf  # the sign SciPy gives (for even n the two sides differ)
    if x > -0.5:
        r = x
    else:
        r = x - fl  # exact (Sterbenz), in (0, 1)
        if r > 0.5:
            r = r - 1.0  # exact
    # cot(pi r) from an exactly reduced argument: near r = +-1/2 through tan(pi (1/2 -+ r)), since
    # there cot is near zero and 1/tan(pi r) would carry the absolute rounding error of pi r,
    # which for even n is a large relative error of the (odd) cot-derivative term.
    if r > 0.25:
        c = math.tan(_PI * (0.5 - r))  # 0.5 - r is exact
    elif r < -0.25:
        c = -math.tan(_PI * (0.5 + r))
    else:
        c = 1.0 / math.tan(_PI * r)
    cot_term = math.pow(_PI, float(n + 1)) * _cot_derivative(n, c)
    return -(_polygamma_magnitude(n, 1.0 - x) + cot_term)


@njit
def polygamma(n: int, x: float) -> float:
    r"""Polygamma function :math:`\psi_n(x) = \frac{d^{n+1}}{dx^{n+1}} \log\Gamma(x)`.

    ``n = 0`` is :func:`digamma` (SciPy's) and ``n = 1`` is :func:`trigamma` (identical results).
    For ``n >= 2``, and ``x > 0``: the recurrence (A&S 6.4.6)
    :math:`\psi_n(x) = \psi_n(x+1) + (-1)^{n+1} n!/x^{n+1}` shifts ``x`` to
    ``y >= 7.5 + 0.45 n``, where the asymptotic series (A&S 6.4.11)

    .. math::
        \psi_n(y) \sim (-1)^{n+1}\Big[\frac{(n-1)!}{y^n} + \frac{n!}{2y^{n+1}}
        + \sum_{k\ge1} B_{2k}\frac{(2k+n-1)!}{(2k)!\,y^{2k+n}}\Big]

    is summed through :math:`B_{40}` (truncation below ``1e-17`` relative). Each term
    :math:`k!/y^m` is formed from mantissas and binary exponents, so nothing overflows or
    underflows before the result does. For ``x < 0`` the reflection formula (A&S 6.4.7)
    :math:`\psi_n(1-x) + (-1)^{n+1}\psi_n(x) = (-1)^n \pi \frac{d^n}{dx^n}\cot(\pi x)` is used,
    with :math:`\frac{d^n}{du^n}\cot u` a polynomial in :math:`\cot u` with integer coefficients.

    Parameters
    ----------
    n : int
        Order, ``0 <= n <= 170`` (an integral float is accepted; ``n!`` overflows beyond 170).
    x : float
        Any real number.

    Returns
    -------
    float
        :math:`\psi_n(x)`. At the poles ``x = 0, -1, -2, ...`` it is :math:`(-1)^{n+1}\infty` as
        in ``scipy.special.polygamma`` (for even ``n`` the one-sided limits differ, so this is a
        convention); at ``+inf`` a zero of sign :math:`(-1)^{n+1}`; at ``-inf`` (no limit) and
        for ``nan``, ``nan``; ``nan`` also for an order that is negative, not an integer or above
        170 (SciPy: ``nan`` for the first two, ``inf`` above 170).

    Notes
    -----
    Measured against mpmath for ``n <= 6``: relative error below ``6e-16`` for ``x > 0`` and
    ``1.7e-15`` for ``x < 0``, except near the zeros that :math:`\psi_n` has on the negative axis
    for even ``n`` (one per unit interval, close to the half-integers). There the two terms of the
    reflection formula cancel, and the error is below ``7e-16`` times the larger of them -- SciPy,
    which sums the recurrence, loses up to ``1e-7`` of that size at ``n = 6``. For larger ``n`` the
    error for ``x > 0`` stays below ``2e-15`` (``n <= 170``); for ``x < 0`` near a pole it grows
    like ``(n + 1) * 1.5e-16``, the rounding of :math:`\pi r` raised to the power ``n + 1``. Cost:
    at most 20 series terms plus one ``pow`` per recurrence step (at most ``8 + 0.45 n`` steps),
    independent of ``|x|``.

    Examples
    --------
    >>> from kernels.special import polygamma
    >>> round(polygamma(2, 1.0), 12)  # -2 zeta(3)
    -2.404113806319
    >>> round(polygamma(3, 0.5), 10)  # pi**4
    97.409091034
    """
    if not (n >= 0 and n <= POLYGAMMA_MAX_ORDER and n == math.floor(n)):  # also rejects nan
        return math.nan
    order = int(n)
    if order == 0:
        return digamma(x)
    if order == 1:
        return trigamma(x)
    return _polygamma(order, float(x))


@njit
def log1mexp(a: float) -> float:
    """``log(1 - exp(-a))`` for ``a >= 0`` -- note the **positive** argument and minus sign.

    Maechler (2012): ``log(-expm1(-a))`` for ``a <= log 2``, ``log1p(-exp(-a))`` above.

    Parameters
    ----------
    a : float
        Non-negative number (``a = -log(p)`` gives ``log(1 - p)``).

    Returns
    -------
    float
        ``-inf`` at ``a = 0``, ``0`` at ``+inf``, ``nan`` for ``a < 0`` or ``nan``.
    """
    if a > _LOG2:
        return math.log1p(-math.exp(-a))
    if a > 0.0:
        return math.log(-math.expm1(-a))
    if a == 0.0:
        return -math.inf
    return math.nan


@njit
def log1mexp_neg(x: float) -> float:
    """``log(1 - exp(x))`` for ``x <= 0`` (Stan's ``log1m_exp``); equals ``log1mexp(-x)``.

    Parameters
    ----------
    x : float
        Non-positive number (``x = log(p)`` gives ``log(1 - p)``).

    Returns
    -------
    float
        ``-inf`` at ``x = 0``, ``0`` at ``-inf``, ``nan`` for ``x > 0`` or ``nan``.
    """
    return log1mexp(-x)


@njit
def dlog1mexp(a: float) -> float:
    """Derivative of :func:`log1mexp`: ``d/da log(1 - exp(-a)) = 1 / expm1(a)``, for ``a >= 0``.

    Returns ``+inf`` at ``a = 0`` and ``nan`` for ``a < 0``.
    """
    if a > 700.0:
        return math.exp(-a)  # expm1(a) would overflow; 1/expm1(a) == exp(-a) to rounding here
    if a > 0.0:
        return 1.0 / math.expm1(a)
    if a == 0.0:
        return math.inf
    return math.nan


@njit
def log1pexp(x: float) -> float:
    """Softplus ``log(1 + exp(x))``, accurate and overflow-free for all ``x``.

    Maechler's (2012) thresholds: ``exp(x)`` for ``x <= -37``, ``log1p(exp(x))`` for
    ``x <= 18``, ``x + exp(-x)`` for ``x <= 33.3`` and ``x`` beyond.
    """
    if x <= -37.0:
        return math.exp(x)
    if x <= 18.0:
        return math.log1p(math.exp(x))
    if x <= 33.3:
        return x + math.exp(-x)
    return x


@njit
def dlog1pexp(x: float) -> float:
    """Derivative of :func:`log1pexp`: the logistic function ``expit(x)``."""
    return expit(x)


@njit
def logaddexp(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` without overflow; ``-inf`` if both are ``-inf``."""
    if a != a or b != b:
        return math.nan
    m = a if a > b else b
    if m == -math.inf:
        return -math.inf
    if a == b:
        return a + _LOG2  # also covers a == b == +inf
    return m + math.log1p(math.exp(-abs(a - b)))


@njit
def logsumexp(a: np.ndarray) -> float:
    """``log(sum(exp(a)))`` over a 1-D ``float64`` array.

    Shifts by the maximum ``m`` and returns ``m + log1p(sum of the other exp(a_i - m))``.

    Returns
    -------
    float
        ``-inf`` for an empty array or when every element is ``-inf``; ``+inf`` if any element is
        ``+inf``; ``nan`` if any element is ``nan``.
    """
    n = a.shape[0]
    if n == 0:
        return -math.inf
    imax = 0
    m = a[0]
    for i in range(n):
        v = a[i]
        if v != v:
            return math.nan
        if v > m:
            m = v
            imax = i
    if m == -math.inf or m == math.inf:
        return m
    s = 0.0
    for i in range(n):
        if i != imax:
            s += math.exp(a[i] - m)
    return m + math.log1p(s)


@njit
def _exp_minus_half_square(x: float) -> float:
    """``exp(-x*x/2)`` for ``0 <= x < 40`` with ``x*x`` split exactly (Veltkamp/Dekker)."""
    c = _VELTKAMP * x
    hi = c - (c - x)  # top 26 bits of x, so hi*hi is exact
    lo = x - hi
    return math.exp(-0.5 * hi * hi) * math.exp(-lo * (hi + 0.5 * lo))


@njit
def dlog_ndtr(x: float) -> float:
    """``d/dx log Phi(x) = phi(x) / Phi(x)`` (inverse Mills ratio of ``-x``), stable for all x.

    For ``x < 0`` it is ``sqrt(2/pi) / erfcx(-x/sqrt(2))`` (so ``~ -x`` as ``x -> -inf``); for
    ``x >= 0`` ``phi(x) / ndtr(x)`` with ``phi`` computed without rounding error in ``x**2``.
    """
    if x != x:
        return math.nan
    if x < -1e8:
        return -x - 1.0 / x  # asymptotic -x (1 + 1/x^2 + O(x^-4)); avoids subnormal erfcx
    if x < 0.0:
        return _SQRT_2_OVER_PI / erfcx(-x * _INV_SQRT2)
    if x >= 40.0:
        return 0.0  # phi(x) < 1e-347 underflows
    return _exp_minus_half_square(x) * _INV_SQRT_2PI / ndtr(x)


@njit
def i1e_over_i0e(x: float) -> float:
    """``I1(x) / I0(x)`` (= ``i1e(x) / i0e(x)``), the derivative of ``log I0(x)``; in (-1, 1)."""
    if x == math.inf:
        return 1.0
    if x == -math.inf:
        return -1.0
    return i1e(x) / i0e(x)


@njit
def log_i0(x: float) -> float:
    """``log I0(x)``, accurate for tiny ``|x|`` (where it is ``~ x**2 / 4``) and huge ``|x|``.

    Uses ``log1p`` of the power series ``sum_{k>=1} (x^2/4)^k / (k!)^2`` for ``|x| <= 2`` and
    ``log(i0e(|x|)) + |x|`` beyond.
    """
    ax = abs(x)
    if ax <= 2.0:
        t = 0.25 * x * x
        term = t
        s = t
        for k in range(2, 40):
            term *= t / (k * k)
            s += term
            if term <= 1e-17 * s:
                break
        return math.log1p(s)
    if ax == math.inf:
        return math.inf
    return math.log(i0e(ax)) + ax
