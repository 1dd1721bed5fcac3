"""kernels.special against SciPy (and mpmath where SciPy has no equivalent), evaluated in compiled
code, plus the disk-cache and the ``NUMBAYES_DISABLE_JIT`` behaviour.

SciPy (or mpmath at 40+ digits) is always the oracle; no expected value is produced by the code
under test. Every array evaluation goes through a ``numba.njit`` loop that receives the kernel as
a first-class function, so the SciPy intrinsics and the in-house kernels run inside other compiled
code, not only through their Python dispatchers.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from collections.abc import Callable

import numba
import numpy as np
import pytest
import scipy.special as sc

import kernels.special as ks
from kernels import special_scipy
from kernels.jit import JIT_DISABLED

ROOT = pathlib.Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------
# Evaluating kernels inside compiled loops
# ---------------------------------------------------------------------------------------------


def _apply1_py(f, x):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = f(x[i])
    return out


def _apply2_py(f, x, y):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = f(x[i], y[i])
    return out


def _apply3_py(f, x, y, z):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = f(x[i], y[i], z[i])
    return out


if JIT_DISABLED:
    _apply1, _apply2, _apply3 = _apply1_py, _apply2_py, _apply3_py
else:
    _apply1 = numba.njit(_apply1_py)
    _apply2 = numba.njit(_apply2_py)
    _apply3 = numba.njit(_apply3_py)


def compiled(f: Callable, *args: np.ndarray) -> np.ndarray:
    """Evaluate the kernel ``f`` elementwise inside a compiled loop."""
    args = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in args)
    return {1: _apply1, 2: _apply2, 3: _apply3}[len(args)](f, *args)


def assert_rel(actual: np.ndarray, expected: np.ndarray, rtol: float) -> None:
    """Relative error <= rtol everywhere; infinities and NaN must coincide exactly."""
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0.0, equal_nan=True)


def max_rel_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest relative error over the entries where the reference is finite and non-zero."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    ok = np.isfinite(expected) & (expected != 0.0)
    if not ok.any():
        return 0.0
    return float(np.max(np.abs(actual[ok] - expected[ok]) / np.abs(expected[ok])))


# ---------------------------------------------------------------------------------------------
# Functions bound from scipy.special.cython_special: bit-for-bit equal to scipy.special
# ---------------------------------------------------------------------------------------------

_TAIL = np.logspace(-300, 300, 121)
_SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1.7e308, -1.7e308])
GRID_1 = np.concatenate(
    [
        -_TAIL,
        _TAIL,
        _SPECIAL,
        np.linspace(-40.0, 40.0, 321),
        np.linspace(-1.0, 1.0, 101),  # erfinv, logit domains
        np.linspace(0.0, 2.0, 41),  # erfcinv domain
        -np.arange(1.0, 6.0),  # poles of gammaln / digamma
        -np.arange(1.0, 6.0) + 1e-9,
        -np.logspace(-10, 3, 27),  # ndtri_exp domain
    ]
)

_VALUES_2 = np.concatenate(
    [
        [-np.inf, -1e10, -3.5, -1.0, -0.5, 0.0, 1e-300, 1e-10, 1.0, 2.5, 1e10, 1e300, np.inf],
        [np.nan],
        np.logspace(-3, 3, 13),
        np.linspace(0.05, 0.95, 7),  # probabilities for the inverses
    ]
)
GRID_2 = tuple(g.ravel() for g in np.meshgrid(_VALUES_2, _VALUES_2, indexing="ij"))

_SHAPES_3 = np.array([-1.0, 0.0, 1e-3, 0.5, 1.0, 2.5, 10.0, 1e3, 1e5, np.inf, np.nan])
_UNIT_3 = np.array([-0.1, 0.0, 1e-10, 0.01, 0.3, 0.5, 0.7, 0.99, 1.0, 1.1, np.nan])
GRID_3 = tuple(g.ravel() for g in np.meshgrid(_SHAPES_3, _SHAPES_3, _UNIT_3, indexing="ij"))

BOUND = [public for public, _, _ in ks.SCIPY_BINDINGS]


def test_every_binding_is_public():
    assert set(BOUND) <= set(ks.__all__)
    assert len(BOUND) == len(set(BOUND))


@pytest.mark.parametrize("name, capsule, arity", ks.SCIPY_BINDINGS, ids=BOUND)
def test_binding_equals_scipy_exactly(name, capsule, arity):
    grid = {1: (GRID_1,), 2: GRID_2, 3: GRID_3}[arity]
    ours = compiled(getattr(special_scipy, name), *grid)
    reference = getattr(sc, name)(*grid)
    np.testing.assert_array_equal(ours, reference)  # NaN positions must match too


def test_public_functions_are_the_bindings_but_expit():
    """``kernels.special.expit`` is in-house (see its docstring); every other binding is public
    as the very same dispatcher."""
    shadowed = [name for name in BOUND if getattr(ks, name) is not getattr(special_scipy, name)]
    assert shadowed == ["expit"]


def test_bindings_accept_integer_arguments():
    assert ks.gammaln(5) == sc.gammaln(5.0)
    assert ks.betainc(2, 3, 0.25) == sc.betainc(2.0, 3.0, 0.25)
    assert ks.xlogy(0, 0) == 0.0


def test_log_ndtr_far_tails():
    x = np.concatenate(
        [-np.logspace(0, 5, 200), -np.logspace(5, 300, 50), np.linspace(-40, 40, 81)]
    )
    np.testing.assert_array_equal(compiled(ks.log_ndtr, x), sc.log_ndtr(x))
    # and the asymptote log Phi(x) ~ -x^2/2 - log(-x) - log(2 pi)/2 really is followed
    x = -1e5
    asymptote = -0.5 * x * x - np.log(-x) - 0.5 * np.log(2 * np.pi)
    assert abs(ks.log_ndtr(x) - asymptote) <= 1e-15 * abs(asymptote)


def test_capsule_check_fails_loudly():
    with pytest.raises(ImportError, match="exports no"):
        ks._check_capsule("__pyx_fuse_1no_such_function", 1)
    with pytest.raises(ImportError, match="has signature"):
        ks._check_capsule("__pyx_fuse_0erf", 1)  # the complex specialisation
    with pytest.raises(ImportError, match="has signature"):
        ks._check_capsule("gammaln", 2)  # wrong arity


# ---------------------------------------------------------------------------------------------
# In-house functions
# ---------------------------------------------------------------------------------------------


def _mp_map(fn: Callable, x: np.ndarray, dps: int = 40) -> np.ndarray:
    mp = pytest.importorskip("mpmath")
    with mp.workdps(dps):
        return np.array([float(fn(mp, mp.mpf(float(v)))) for v in x])


def _ulps_around(x: float, n: int = 3) -> list[float]:
    out = [x]
    lo = hi = x
    for _ in range(n):
        lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
        out += [lo, hi]
    return out


# --- log1mexp and friends --------------------------------------------------------------------

LOG1MEXP_GRID = np.concatenate(
    [
        np.logspace(-300, np.log10(700.0), 500),
        np.linspace(0.01, 50.0, 500),
        _ulps_around(np.log(2.0)),  # Maechler's switch
    ]
)


def _mp_log1mexp(mp, v):
    # at 40 digits 1 - exp(-v) is exact neither for v ~ 1e-300 via exp nor for v ~ 700 via
    # expm1, so each side uses the form that mpmath evaluates without cancellation
    return mp.log(-mp.expm1(-v)) if v < 1 else mp.log1p(-mp.exp(-v))


def test_log1mexp_vs_mpmath():
    a = LOG1MEXP_GRID
    reference = _mp_map(_mp_log1mexp, a)
    assert_rel(compiled(ks.log1mexp, a), reference, 2e-15)
    assert_rel(compiled(ks.log1mexp_neg, -a), reference, 2e-15)


def test_log1mexp_special_values():
    a = np.array([0.0, -0.0, -1e-300, -1.0, np.inf, np.nan, 1e300])
    got = compiled(ks.log1mexp, a)
    np.testing.assert_array_equal(got, [-np.inf, -np.inf, np.nan, np.nan, 0.0, np.nan, 0.0])
    got = compiled(ks.log1mexp_neg, -a)
    np.testing.assert_array_equal(got, [-np.inf, -np.inf, np.nan, np.nan, 0.0, np.nan, 0.0])
    # past a ~ 708 the result is subnormal: only an absolute bound is meaningful
    tail = np.linspace(700.0, 800.0, 11)
    assert np.all(np.abs(compiled(ks.log1mexp, tail) + np.exp(-tail)) <= 1e-310)


def test_dlog1mexp_vs_mpmath():
    a = np.concatenate([np.logspace(-300, np.log10(700.0), 300), np.linspace(0.01, 50.0, 200)])
    reference = _mp_map(lambda mp, v: 1 / mp.expm1(v), a)
    assert_rel(compiled(ks.dlog1mexp, a), reference, 2e-15)
    got = compiled(ks.dlog1mexp, np.array([0.0, -1.0, np.nan, np.inf, 1e300]))
    np.testing.assert_array_equal(got, [np.inf, np.nan, np.nan, 0.0, 0.0])


LOG1PEXP_GRID = np.concatenate(
    [
        -_TAIL,
        _TAIL,
        [0.0, np.inf, -np.inf, np.nan],
        np.linspace(-60.0, 60.0, 1201),
        np.linspace(-745.0, -700.0, 91),  # where exp(-x) overflows but expit(x) is subnormal
        _ulps_around(0.0),  # where max(x, 0) + log1p(exp(-|x|)) switches sides
    ]
)


def test_log1pexp_vs_scipy():
    x = LOG1PEXP_GRID
    # log1pexp(x) = -log_expit(-x); SciPy's log_expit is accurate on both sides
    assert_rel(compiled(ks.log1pexp, x), -sc.log_expit(-x), 2e-15)


def test_log1pexp_is_numpys_logaddexp_with_zero():
    """One algorithm: the eager primitive computes ``np.logaddexp(0, x)``, the same formula."""
    x = LOG1PEXP_GRID
    with np.errstate(invalid="ignore"):  # NaN
        reference = np.logaddexp(0.0, x)
    np.testing.assert_array_equal(compiled(ks.log1pexp, x), reference)


def test_expit_vs_mpmath():
    x = LOG1PEXP_GRID[np.isfinite(LOG1PEXP_GRID) & (LOG1PEXP_GRID > -745.0)]
    reference = _mp_map(lambda mp, v: 1 / (1 + mp.exp(-v)), x)
    assert_rel(compiled(ks.expit, x), reference, 4e-16)
    got = compiled(ks.expit, np.array([np.inf, -np.inf, np.nan, -1000.0]))
    np.testing.assert_array_equal(got, [1.0, 0.0, np.nan, 0.0])


def test_dlog1pexp_is_expit():
    x = LOG1PEXP_GRID
    np.testing.assert_array_equal(compiled(ks.dlog1pexp, x), compiled(ks.expit, x))
    assert_rel(compiled(ks.dlog1pexp, x[x > -700.0]), sc.expit(x[x > -700.0]), 4e-16)


def test_logaddexp_vs_numpy():
    values = np.concatenate(
        [[-np.inf, np.inf, np.nan, 0.0, -0.0], np.linspace(-50, 50, 41), [-1e300, 1e300, 1e-300]]
    )
    a, b = (g.ravel() for g in np.meshgrid(values, values, indexing="ij"))
    with np.errstate(invalid="ignore"):  # NaN inputs
        reference = np.logaddexp(a, b)
    assert_rel(compiled(ks.logaddexp, a, b), reference, 2e-15)


def _logsumexp_cases() -> list[np.ndarray]:
    rng = np.random.default_rng(20240611)
    cases = [
        np.array([]),
        np.array([3.0]),
        np.array([-np.inf]),
        np.array([-np.inf, -np.inf, -np.inf]),
        np.array([np.inf, 1.0]),
        np.array([np.inf, -np.inf]),
        np.array([np.inf, np.inf]),
        np.array([1.0, np.nan, 2.0]),
        np.array([np.nan, np.inf]),
        np.array([-np.inf, 2.0, -np.inf]),
        np.array([1e300, 1e300]),
        np.array([-1e300, -1e300, -1e300]),
        np.array([0.0, -800.0]),
        np.array([5.0, 5.0, 5.0, 5.0]),
    ]
    for n in (2, 7, 100, 1000):
        for scale in (1e-3, 1.0, 30.0, 1e3):
            cases.append(rng.normal(size=n) * scale + rng.normal() * 100)
    return cases


@pytest.mark.parametrize("case", range(len(_logsumexp_cases())))
def test_logsumexp_vs_scipy(case):
    a = _logsumexp_cases()[case]
    ours = ks.logsumexp(a)
    reference = sc.logsumexp(a) if a.size else -np.inf
    # summation order differs from SciPy's; 1000 terms of relative size <= 1 justify 1e-14
    assert_rel(np.array([ours]), np.array([reference]), 1e-14)


@numba.njit
def _logsumexp_rows(x):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = ks.logsumexp(x[i])
    return out


def test_logsumexp_inside_compiled_code():
    x = np.random.default_rng(3).normal(size=(20, 50)) * 10.0
    f = _logsumexp_rows.py_func if JIT_DISABLED else _logsumexp_rows
    assert_rel(f(x), sc.logsumexp(x, axis=1), 1e-14)


# --- normal-CDF derivative -------------------------------------------------------------------


def _mp_dlog_ndtr(mp, v):
    if v > -30:
        return mp.npdf(v) / mp.ncdf(v)
    # Laplace's continued fraction for the Mills ratio Phi(-t)/phi(t), t = -v >= 30
    t = -v
    fraction = t
    for k in range(200, 0, -1):
        fraction = t + k / fraction
    return fraction  # phi/Phi = 1 / mills = the continued fraction t + 1/(t + 2/(t + ...))


DLOG_NDTR_GRID = np.concatenate(
    [
        -np.logspace(-300, 300, 301),
        np.logspace(-300, np.log10(37.5), 200),  # normal results only
        np.linspace(-60.0, 37.5, 976),
        _ulps_around(-1e8),
        [0.0, -0.0],
    ]
)


def test_dlog_ndtr_vs_mpmath():
    x = DLOG_NDTR_GRID
    reference = _mp_map(_mp_dlog_ndtr, x)
    assert_rel(compiled(ks.dlog_ndtr, x), reference, 4e-15)


def test_x_plus_dlog_ndtr_vs_mpmath():
    import mpmath as mp

    x = np.concatenate([-np.logspace(0, 8, 60), np.linspace(-5.0, 5.0, 41)])
    with mp.workdps(60):  # x + r cancels in the reference too: 60 digits cover |x| <= 1e8
        expected = []
        for v in x:
            v_ = mp.mpf(float(v))
            expected.append(float(v_ + mp.npdf(v_) / (mp.erfc(-v_ / mp.sqrt(2)) / 2)))
    assert max_rel_error(compiled(ks.x_plus_dlog_ndtr, x), np.array(expected)) < 1e-14
    # beyond, the asymptote -1/x (1 + 2/x^2 + ...) is exact to rounding
    x = -np.logspace(8, 300, 30)
    assert_rel(compiled(ks.x_plus_dlog_ndtr, x), -1.0 / x, 1e-15)
    assert np.isnan(ks.x_plus_dlog_ndtr(np.nan))


def test_dlog_ndtr_special_values():
    got = compiled(ks.dlog_ndtr, np.array([-np.inf, np.inf, np.nan, 40.0, 1e300]))
    np.testing.assert_array_equal(got, [np.inf, 0.0, np.nan, 0.0, 0.0])
    # just below the underflow threshold the value is subnormal; check absolutely
    x = np.linspace(38.0, 39.9, 5)
    phi = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    assert np.all(np.abs(compiled(ks.dlog_ndtr, x) - phi) <= 1e-320)


# --- Bessel helpers --------------------------------------------------------------------------

BESSEL_GRID = np.concatenate(
    [-_TAIL, _TAIL, np.linspace(-50.0, 50.0, 401), _ulps_around(2.0), _ulps_around(-2.0), [0.0]]
)


def test_i1e_over_i0e_vs_scipy():
    x = BESSEL_GRID
    np.testing.assert_array_equal(compiled(ks.i1e_over_i0e, x), sc.i1e(x) / sc.i0e(x))
    got = compiled(ks.i1e_over_i0e, np.array([np.inf, -np.inf, np.nan]))
    np.testing.assert_array_equal(got, [1.0, -1.0, np.nan])


def test_i1e_over_i0e_vs_mpmath():
    x = BESSEL_GRID[np.abs(BESSEL_GRID) < 1e6]
    reference = _mp_map(lambda mp, v: mp.besseli(1, v) / mp.besseli(0, v), x)
    # two SciPy Cephes evaluations (each ~1e-16..1e-15) and one division
    assert_rel(compiled(ks.i1e_over_i0e, x), reference, 4e-15)


def _mp_log_i0(mp, v):
    if abs(v) < 1e-10:
        return v * v / 4  # log I0(v) = v^2/4 (1 - v^2/16 + ...): exact to 1e-21 relative
    return mp.log(mp.besseli(0, v))


def test_log_i0_vs_mpmath():
    x = BESSEL_GRID[np.abs(BESSEL_GRID) < 1e6]
    reference = _mp_map(_mp_log_i0, x, dps=60)
    # beyond |x| = 2, log(i0e(x)) + |x| cancels by up to ~2.4x at x = 2 (value 0.82)
    assert_rel(compiled(ks.log_i0, x), reference, 4e-15)
    got = compiled(ks.log_i0, np.array([np.inf, -np.inf, np.nan, 0.0, 1e300]))
    np.testing.assert_array_equal(got, [np.inf, np.inf, np.nan, 0.0, 1e300])


# ---------------------------------------------------------------------------------------------
# Disk cache in a fresh process, and the plain-Python mode
# ---------------------------------------------------------------------------------------------

_CACHE_SCRIPT = textwrap.dedent(
    """
    import json
    import warnings

    from numba.core.errors import NumbaWarning

    warnings.simplefilter("error", NumbaWarning)  # "cannot cache ... dynamic globals" -> error

    import numpy as np

    import kernels.special as ks
    from kernels.jit import njit
    from kernels.special import betainc, digamma, gammaln, log1pexp, log_ndtr, trigamma


    @njit
    def user_kernel(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += gammaln(x[i]) + digamma(x[i]) + trigamma(x[i]) + log1pexp(x[i])
            s += betainc(2.0, 3.0, 1.0 / (1.0 + x[i]))
        return s


    x = np.linspace(0.5, 5.0, 10)
    out = {"value": user_kernel(x), "direct": [gammaln(2.5), digamma(2.5), log_ndtr(-30.0)]}
    out["stats"] = {"user_kernel": [len(user_kernel.stats.cache_hits),
                                    len(user_kernel.stats.cache_misses)]}
    # every public kernel of kernels.special, called directly: cacheable, and cached
    arity = {name: n for name, _, n in ks.SCIPY_BINDINGS}
    arity.update(logaddexp=2, gammainc_da=2, gammainc_daa=2, zeta=2)
    arity.update(dict.fromkeys(["betainc_da", "betainc_db", "betainc_daa", "betainc_dab"], 3))
    arity["betainc_dbb"] = 3
    for name in ks.__all__:
        f = getattr(ks, name)
        if name == "logsumexp":
            f(x)
        elif name == "polygamma":
            f(3, 0.4)
        else:
            f(*[0.4] * arity.get(name, 1))
        out["stats"][name] = [len(f.stats.cache_hits), len(f.stats.cache_misses)]
    print(json.dumps(out))
    """
)


def _run(script: pathlib.Path, env_extra: dict[str, str], *args: str) -> dict:
    """Run ``script`` in a fresh interpreter; its last stdout line is a JSON result."""
    env = {**os.environ, **env_extra, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(JIT_DISABLED, reason="needs the compiler")
def test_cached_in_a_fresh_process(tmp_path):
    # written once: Numba's cache index is keyed on the source file's modification time
    script = tmp_path / "special_cache_user.py"
    script.write_text(_CACHE_SCRIPT)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba_cache"), "NUMBAYES_DISABLE_JIT": "0"}
    first = _run(script, env)
    second = _run(script, env)
    assert set(first["stats"]) == {"user_kernel", *ks.__all__}
    for name in first["stats"]:
        assert first["stats"][name] == [0, 1], name  # compiled and written to the cache
        assert second["stats"][name] == [1, 0], name  # loaded, nothing recompiled
    x = np.linspace(0.5, 5.0, 10)
    expected = np.sum(
        sc.gammaln(x)
        + sc.psi(x)
        + sc.polygamma(1, x)
        - sc.log_expit(-x)
        + sc.betainc(2, 3, 1 / (1 + x))
    )
    for run in (first, second):
        assert run["value"] == pytest.approx(expected, rel=1e-14)
        assert run["direct"] == [sc.gammaln(2.5), sc.psi(2.5), sc.log_ndtr(-30.0)]


#: the in-house kernels of more than one argument (the scripts above spell the same table)
IN_HOUSE_ARITY = {
    "logaddexp": 2,
    "polygamma": 2,
    "gammainc_da": 2,
    "gammainc_daa": 2,
    "zeta": 2,
    "betainc_da": 3,
    "betainc_db": 3,
    "betainc_daa": 3,
    "betainc_dab": 3,
    "betainc_dbb": 3,
}


def test_in_house_arity_table_is_complete():
    import inspect

    for name in ks.__all__:
        if name in {b for b, _, _ in ks.SCIPY_BINDINGS} or name == "logsumexp":
            continue
        f = getattr(ks, name)
        n = len(inspect.signature(getattr(f, "py_func", f)).parameters)
        assert IN_HOUSE_ARITY.get(name, 1) == n, name


def _disabled_points() -> dict[str, list]:
    """Arguments, edge cases included, at which every public function is evaluated."""
    one = [
        0.0,
        -0.0,
        0.3,
        -0.3,
        0.7,
        1.0,
        -2.0,
        -2.5,
        2.0,
        12.5,
        -40.0,
        40.0,
        800.0,
        -800.0,
        1e-300,
        -1e-300,
        1e300,
        -1e300,
        np.inf,
        -np.inf,
        np.nan,
        np.log(2.0),
        -1e9,
        -37.0,
        18.5,
    ]
    two = [(a, b) for a in (0.0, 0.5, 2.0, -1.0, np.inf) for b in (0.0, 0.3, 1.0, 7.0, np.nan)]
    three = [(a, b, x) for a in (0.5, 3.0) for b in (1.0, 4.0) for x in (0.0, 0.2, 0.9, 1.0)]
    return {"one": one, "two": two, "three": three}


_DISABLED_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import numpy as np

    import kernels.special as ks

    assert not hasattr(ks.gammaln, "py_func"), "NUMBAYES_DISABLE_JIT=1 must give plain functions"
    points = json.loads(sys.argv[1])
    arity = {name: n for name, _, n in ks.SCIPY_BINDINGS}
    arity.update(logaddexp=2, polygamma=2, gammainc_da=2, gammainc_daa=2, zeta=2)
    arity.update(dict.fromkeys(["betainc_da", "betainc_db", "betainc_daa", "betainc_dab"], 3))
    arity["betainc_dbb"] = 3
    out = {}
    for name in ks.__all__:
        if name == "logsumexp":
            continue
        n = arity.get(name, 1)
        args = points[{1: "one", 2: "two", 3: "three"}[n]]
        args = [a if n > 1 else [a] for a in args]
        out[name] = [float(getattr(ks, name)(*a)) for a in args]
    out["logsumexp"] = [ks.logsumexp(np.array(a, dtype=float)) for a in points["arrays"]]
    print(json.dumps(out))
    """
)


def test_disabled_jit_runs_as_plain_python(tmp_path):
    points = _disabled_points()
    points["arrays"] = [[], [1.0, 2.0], [-np.inf, -np.inf], [np.inf, 0.0], [np.nan, 1.0]]
    script = tmp_path / "special_disabled_jit.py"
    script.write_text(_DISABLED_SCRIPT)
    child = _run(script, {"NUMBAYES_DISABLE_JIT": "1"}, json.dumps(points))
    arity = {name: n for name, _, n in ks.SCIPY_BINDINGS}
    arity.update(IN_HOUSE_ARITY)
    for name in ks.__all__:
        if name == "logsumexp":
            continue
        n = arity.get(name, 1)
        args = np.array(points[{1: "one", 2: "two", 3: "three"}[n]], dtype=float).reshape(-1, n)
        got = np.array(child[name])
        if name in BOUND and name != "expit":  # the plain-Python path calls scipy.special
            np.testing.assert_array_equal(got, getattr(sc, name)(*args.T), err_msg=name)
        # plain Python and compiled code agree (math.* and LLVM may differ in the last bit)
        assert_rel(got, compiled(getattr(ks, name), *args.T), 1e-15)
    expected = [sc.logsumexp(a) if a else -np.inf for a in points["arrays"]]
    assert_rel(np.array(child["logsumexp"]), np.array(expected), 1e-15)


# ---------------------------------------------------------------------------------------------
# Derivatives of the incomplete gamma and beta functions in their shape parameters, and zeta
# ---------------------------------------------------------------------------------------------


def _mp_gammainc_da(a: float, x: float, order: int = 1) -> float:
    """mpmath's numerical derivative in ``a`` of the smaller of P and Q (so no digits are lost
    to ``1 - tiny``), at 40 digits."""
    import mpmath as mp

    with mp.workdps(40):
        a_, x_ = mp.mpf(a), mp.mpf(x)
        if mp.gammainc(a_, x_, mp.inf, regularized=True) < 0.5:
            upper = mp.diff(lambda t: mp.gammainc(t, x_, mp.inf, regularized=True), a_, order)
            return -float(upper)
        return float(mp.diff(lambda t: mp.gammainc(t, 0, x_, regularized=True), a_, order))


def _mp_betainc_grad(a: float, b: float, x: float) -> tuple[float, ...]:
    """mpmath's numerical derivatives in ``a`` and ``b`` (first, then aa, ab, bb) of the
    smaller tail of I_x(a, b), the upper one through I_{1-x}(b, a) (mpmath's own upper integral
    loses the tiny values)."""
    import mpmath as mp

    with mp.workdps(50):
        a_, b_, x_ = mp.mpf(a), mp.mpf(b), mp.mpf(x)
        if mp.betainc(a_, b_, 0, x_, regularized=True) < 0.5:

            def f(s, t):
                return mp.betainc(s, t, 0, x_, regularized=True)
        else:
            y_ = 1 - x_

            def f(s, t):
                return -mp.betainc(t, s, 0, y_, regularized=True)

        orders = [(1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
        return tuple(float(mp.diff(f, (a_, b_), order)) for order in orders)


_GAMMA_SHAPES = [1e-3, 0.1, 0.5, 1.0, 2.5, 10.0, 30.0, 100.0, 1e3]
_GAMMA_RATIOS = [1e-3, 0.1, 0.5, 0.9, 1.0, 1.1, 2.0, 5.0, 20.0]


def _gamma_points(shapes):
    # x relative to a (the mode region and both tails); for a < 1 relative to 5
    return [(a, a * r if a >= 1.0 else 5.0 * r) for a in shapes for r in _GAMMA_RATIOS]


def test_gammainc_da_vs_mpmath():
    a, x = np.array(_gamma_points(_GAMMA_SHAPES)).T
    expected = np.array([_mp_gammainc_da(ai, xi) for ai, xi in zip(a, x)])
    got = compiled(ks.gammainc_da, a, x)
    assert max_rel_error(got, expected) < 1e-11  # measured: 3e-13


def test_gammainc_daa_vs_mpmath():
    a, x = np.array(_gamma_points(_GAMMA_SHAPES[:-1])).T
    expected = np.array([_mp_gammainc_da(ai, xi, order=2) for ai, xi in zip(a, x)])
    got = compiled(ks.gammainc_daa, a, x)
    # relative to the larger of the value and the scale |dP/da| / a: d2P/da2 changes sign near
    # the mode, where its own relative accuracy is meaningless (measured: 1e-8 there, 1e-12 off it)
    scale = np.maximum(np.abs(expected), np.abs(compiled(ks.gammainc_da, a, x)) / a)
    np.testing.assert_array_less(np.abs(got - expected), 1e-11 * scale + 1e-300)


@pytest.mark.slow
def test_gammainc_da_vs_mpmath_large_shapes():
    # near the mode, where the sums are longest (~ sqrt(a) terms); further out the derivative
    # underflows and mpmath's hypergeometric series do not converge
    a, x = np.array(
        [(a, a * r) for a in [1e4, 1e5] for r in [0.97, 0.99, 0.999, 1.0, 1.001, 1.01, 1.03]]
    ).T
    expected = np.array([_mp_gammainc_da(ai, xi) for ai, xi in zip(a, x)])
    assert max_rel_error(compiled(ks.gammainc_da, a, x), expected) < 1e-11


def test_gammainc_da_special_values_and_finite_differences():
    nan = np.nan
    a = np.array([2.0, 2.0, 0.0, -1.0, nan, 2.0, np.inf, 2.0])
    x = np.array([0.0, np.inf, 1.0, 1.0, 1.0, nan, 1.0, -1.0])
    np.testing.assert_array_equal(
        compiled(ks.gammainc_da, a, x), [0.0, 0.0, nan, nan, nan, nan, nan, nan]
    )
    # against central differences of SciPy's P over a wide random range (both algorithms)
    rng = np.random.default_rng(5)
    a = np.exp(rng.uniform(np.log(0.05), np.log(500.0), 200))
    x = a * np.exp(rng.uniform(-1.0, 1.0, 200))
    h = 1e-5 * a
    fd = (sc.gammainc(a + h, x) - sc.gammainc(a - h, x)) / (2 * h)
    np.testing.assert_allclose(compiled(ks.gammainc_da, a, x), fd, rtol=1e-6, atol=1e-12)


_BETA_SHAPES = [0.05, 0.5, 3.0, 20.0, 300.0]
_BETA_X = [1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 1 - 1e-6]


def test_betainc_grad_vs_mpmath():
    a, b, x = np.array(
        [(a, b, x) for a in _BETA_SHAPES for b in [0.7, 2.0, 30.0, 1e3] for x in _BETA_X]
    ).T
    expected = np.array([_mp_betainc_grad(*p) for p in zip(a, b, x)])
    assert max_rel_error(compiled(ks.betainc_da, a, b, x), expected[:, 0]) < 1e-10
    assert max_rel_error(compiled(ks.betainc_db, a, b, x), expected[:, 1]) < 1e-10
    # measured: 1e-11 (the worst where psi(a + b) - psi(a) is tiny, a >> b)
    for i, name in enumerate(["betainc_daa", "betainc_dab", "betainc_dbb"], start=2):
        # measured: 8e-10 (trigamma(a + b) - trigamma(a) cancels for b << a)
        assert max_rel_error(compiled(getattr(ks, name), a, b, x), expected[:, i]) < 1e-8, name


def test_betainc_grad_special_values_and_symmetry():
    nan = np.nan
    a = np.array([2.0, 2.0, 0.0, 2.0, nan, 2.0, 2.0])
    b = np.array([3.0, 3.0, 3.0, -1.0, 3.0, 3.0, 3.0])
    x = np.array([0.0, 1.0, 0.5, 0.5, 0.5, 1.5, nan])
    expected = [0.0, 0.0, nan, nan, nan, nan, nan]
    np.testing.assert_array_equal(compiled(ks.betainc_da, a, b, x), expected)
    np.testing.assert_array_equal(compiled(ks.betainc_db, a, b, x), expected)
    # I_x(a, b) = 1 - I_{1-x}(b, a): the two derivatives swap and change sign (x dyadic, so
    # 1 - x is exact)
    rng = np.random.default_rng(11)
    a, b = np.exp(rng.uniform(-2.0, 5.0, (2, 100)))
    x = np.round(rng.uniform(0.0, 1.0, 100) * 2.0**20) / 2.0**20
    # (the swapped call takes the other branch: log(x) and log1p(-(1 - x)) differ in the last bit)
    assert_rel(compiled(ks.betainc_da, a, b, x), -compiled(ks.betainc_db, b, a, 1.0 - x), 1e-13)
    # against central differences of SciPy's I_x
    h = 1e-5 * a
    fd = (sc.betainc(a + h, b, x) - sc.betainc(a - h, b, x)) / (2 * h)
    np.testing.assert_allclose(compiled(ks.betainc_da, a, b, x), fd, rtol=1e-5, atol=1e-10)


def test_digamma_difference_and_log1pmx_vs_mpmath():
    import mpmath as mp

    from kernels.special_incomplete import digamma_difference, log1pmx

    mp.mp.dps = 60
    x, d = np.array(
        [(x, d) for x in [1e-3, 0.3, 1.0, 9.9, 10.0, 50.0, 5e3, 1e8] for d in [1e-9, 0.05, 3.0, 1e3]]
    ).T
    expected = [float(mp.digamma(mp.mpf(xi) + mp.mpf(di)) - mp.digamma(xi)) for xi, di in zip(x, d)]
    assert max_rel_error(compiled(digamma_difference, x, d), np.array(expected)) < 2e-15
    t = np.concatenate([-np.logspace(-12, np.log10(0.99), 40), np.logspace(-12, 2, 40)])
    expected = [float(mp.log1p(mp.mpf(v)) - mp.mpf(v)) for v in t]
    assert max_rel_error(compiled(log1pmx, t), np.array(expected)) < 2e-15
    mp.mp.dps = 15


_ZETA_S = np.array([1.0001, 1.1, 1.5, 2.0, 3.0, 7.5, 20.0, 50.0, 200.0])
_ZETA_Q = np.array([1e-8, 0.01, 0.3, 1.0, 2.5, 10.0, 123.4, 1e4, 1e8])


def test_zeta_vs_mpmath_and_scipy():
    import mpmath as mp

    s, q = (g.ravel() for g in np.meshgrid(_ZETA_S, _ZETA_Q, indexing="ij"))
    got = compiled(ks.zeta, s, q)
    with mp.workdps(250):  # mpmath's zeta loses digits for large q: 80 digits give 5e-13
        expected = np.array([float(mp.zeta(mp.mpf(si), mp.mpf(qi))) for si, qi in zip(s, q)])
    assert max_rel_error(got, expected) < 1e-13
    assert max_rel_error(got, sc.zeta(s, q)) < 1e-13
    # SciPy's conventions at the edges (poles, s < 1, negative q with integer s)
    s = np.array([1.0, 0.5, 2.0, 2.0, 2.0, 3.0, 2.5, np.nan, 2.0])
    q = np.array([2.0, 1.0, 0.0, -1.0, -2.5, -0.5, -0.5, 1.0, np.inf])
    assert_rel(compiled(ks.zeta, s, q), sc.zeta(s, q), 1e-14)
