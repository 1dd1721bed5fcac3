"""kernels.special_polygamma (trigamma and polygamma) against SciPy and mpmath, evaluated in
compiled code; the helpers (``compiled``, ``assert_rel``, mpmath maps) are ``test_special``'s.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable

import numba
import numpy as np
import pytest
import scipy.special as sc

import kernels.special as ks
from kernels.jit import JIT_DISABLED
from tests.kernels.test_special import _mp_map, _run, _ulps_around, assert_rel, compiled

# --- trigamma --------------------------------------------------------------------------------

TRIGAMMA_POSITIVE = np.concatenate(
    [
        np.logspace(-300, 300, 301),
        np.linspace(1e-3, 40.0, 400),
        _ulps_around(10.0),  # switch from recurrence to asymptotic series
        [5e-324, 1e-160, 0.5, 1.0, 1.5, 2.0],
    ]
)
_POLES = -np.arange(0.0, 6.0)
TRIGAMMA_NEGATIVE = np.concatenate(
    [
        np.linspace(-59.99, -0.01, 600) + 1e-3,
        (_POLES[:, None] + np.array([-1e-3, -1e-9, 1e-9, 1e-3])).ravel(),
        [-1e-300, -1e-100, -1e-10, -0.5, -1.5, -2.5, -0.25, -0.75],
    ]
)
TRIGAMMA_NEGATIVE = TRIGAMMA_NEGATIVE[TRIGAMMA_NEGATIVE != np.floor(TRIGAMMA_NEGATIVE)]
# SciPy's polygamma sums the recurrence directly for negative x (cost linear in |x|), so it is
# the oracle only for small |x|; large |x| goes against mpmath's reflection formula.
TRIGAMMA_FAR_NEGATIVE = -np.concatenate(
    [np.logspace(2, 15, 40) + 0.25, np.logspace(2, 14, 30) + 0.5, np.logspace(2, 13, 30) + 0.3]
)


def test_trigamma_positive_vs_scipy():
    # SciPy's own error is ~6e-16 (measured against mpmath); ours ~4e-16: 4e-15 leaves margin.
    assert_rel(compiled(ks.trigamma, TRIGAMMA_POSITIVE), sc.polygamma(1, TRIGAMMA_POSITIVE), 4e-15)


def test_trigamma_negative_vs_scipy():
    x = TRIGAMMA_NEGATIVE
    assert_rel(compiled(ks.trigamma, x), sc.polygamma(1, x), 4e-15)


def test_trigamma_far_negative_vs_mpmath():
    x = TRIGAMMA_FAR_NEGATIVE
    x = x[x != np.floor(x)]
    reference = _mp_map(lambda mp, v: mp.pi**2 / mp.sinpi(v) ** 2 - mp.psi(1, 1 - v), x)
    assert_rel(compiled(ks.trigamma, x), reference, 4e-15)


def test_trigamma_special_values():
    x = np.array([0.0, -0.0, -1.0, -7.0, -1e300, np.inf, -np.inf, np.nan, 5e-324])
    expected = np.array([np.inf, np.inf, np.inf, np.inf, np.inf, 0.0, np.nan, np.nan, np.inf])
    np.testing.assert_array_equal(compiled(ks.trigamma, x), expected)
    # SciPy agrees everywhere except -inf, where it returns +inf (no limit exists: nan here)
    np.testing.assert_array_equal(expected[:6], sc.polygamma(1, x[:6]))


# --- polygamma -------------------------------------------------------------------------------


def _apply_order_py(f, n, x):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = f(n, x[i])
    return out


_apply_order = _apply_order_py if JIT_DISABLED else numba.njit(_apply_order_py)


def compiled_order(n: int, x: np.ndarray, f: Callable = ks.polygamma) -> np.ndarray:
    """``f(n, x_i)`` for an *integer* order ``n``, evaluated inside a compiled loop."""
    return _apply_order(f, int(n), np.ascontiguousarray(x, dtype=np.float64))


ORDERS = list(range(1, 7))


def _series_threshold(n: int) -> float:
    return ks._POLYGAMMA_ASYMPTOTIC_FROM + ks._POLYGAMMA_ASYMPTOTIC_SLOPE * n


POLYGAMMA_POSITIVE = np.concatenate(
    [
        np.logspace(-6, 6, 601),
        np.linspace(1e-3, 100.0, 500),
        *(_ulps_around(_series_threshold(n)) for n in ORDERS),  # recurrence -> series switch
        *(_ulps_around(_series_threshold(n) - 1.0) for n in ORDERS),  # one more step below
        [0.5, 1.0, 1.5, 2.0],
    ]
)
POLYGAMMA_NEGATIVE = np.concatenate(
    [
        np.linspace(-59.99, -0.01, 150) + 1e-3,
        (_POLES[:, None] + np.array([-1e-3, -1e-9, 1e-9, 1e-3])).ravel(),
        [-1e-300, -1e-100, -1e-10, -0.25, -0.75, -2.5, -7.5],
    ]
)
POLYGAMMA_NEGATIVE = POLYGAMMA_NEGATIVE[POLYGAMMA_NEGATIVE != np.floor(POLYGAMMA_NEGATIVE)]


def _mp_polygamma_and_scale(n: int, x: np.ndarray, dps: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """mpmath's ``psi_n(x)`` for ``x < 0`` and the size of the two reflection-formula terms.

    For ``x < 0``, ``psi_n(x) = (-1)^n psi_n(1 - x) - pi^(n+1) cot^(n)(pi x)``. For even ``n``
    the two terms cancel near the zeros of ``psi_n``; a double-precision result can then only be
    accurate relative to ``|psi_n(1 - x)| + |pi^(n+1) cot^(n)(pi x)|``, returned as the scale.
    mpmath's direct ``polygamma`` is used for ``|x| < 100`` (its cost grows with ``|x|``);
    beyond, the formula with a numerical ``cot`` derivative at ``dps`` digits.
    """
    mp = pytest.importorskip("mpmath")
    values, scales = [], []
    with mp.workdps(dps):
        for v in x:
            v = mp.mpf(float(v))
            mirrored = (-1) ** n * mp.polygamma(n, 1 - v)
            if v > -100:
                value = mp.polygamma(n, v)
                cot_term = mirrored - value
            else:
                cot_term = mp.pi ** (n + 1) * mp.diff(mp.cot, mp.pi * v, n)
                value = mirrored - cot_term
            values.append(float(value))
            scales.append(float(abs(mirrored) + abs(cot_term)))
    return np.array(values), np.array(scales)


def assert_scaled(actual: np.ndarray, expected: np.ndarray, scale: np.ndarray, tol: float) -> None:
    """``|actual - expected| <= tol * scale`` elementwise; infinite references must match."""
    assert not np.any(np.isnan(expected))
    infinite = np.isinf(expected)
    np.testing.assert_array_equal(actual[infinite], expected[infinite])
    err = np.abs(actual[~infinite] - expected[~infinite]) / scale[~infinite]
    worst = int(np.argmax(err))
    assert err[worst] <= tol, f"error {err[worst]:.3g} x scale at index {worst}"


@pytest.mark.parametrize("n", ORDERS)
def test_polygamma_positive_vs_scipy(n):
    # SciPy's gamma(n+1) * zeta(n+1, x) is within ~9e-16 of mpmath here, ours within ~5e-16
    x = POLYGAMMA_POSITIVE
    assert_rel(compiled_order(n, x), sc.polygamma(n, x), 4e-15)


@pytest.mark.parametrize("n", ORDERS)
def test_polygamma_positive_vs_mpmath(n):
    x = POLYGAMMA_POSITIVE[::3]
    reference = _mp_map(lambda mp, v: mp.polygamma(n, v), x)
    assert_rel(compiled_order(n, x), reference, 2e-15)


@pytest.mark.parametrize("n", ORDERS)
def test_polygamma_negative_vs_mpmath(n):
    x = POLYGAMMA_NEGATIVE
    reference, scale = _mp_polygamma_and_scale(n, x)
    ours = compiled_order(n, x)
    assert_scaled(ours, reference, scale, 4e-15)
    # this grid stays away from the zeros of even orders, so the error is relative as well
    with np.errstate(invalid="ignore"):  # inf / inf at x = -1e-300
        assert np.nanmax(scale / np.abs(reference)) < 3.0
    assert_rel(ours, reference, 8e-15)


@pytest.mark.parametrize("n", ORDERS)
def test_polygamma_negative_vs_scipy(n):
    # odd orders have no zeros; for even orders SciPy's own recurrence loses accuracy near them
    x = POLYGAMMA_NEGATIVE[np.abs(POLYGAMMA_NEGATIVE) < 10.0]
    if n % 2 == 0:
        x = x[np.abs(x - np.round(x + 0.5) + 0.5) > 0.05]  # at least 0.05 from a half-integer
    assert_rel(compiled_order(n, x), sc.polygamma(n, x), 4e-15)


@pytest.mark.parametrize("n", [2, 4, 6])
def test_polygamma_near_zeros_of_even_orders(n):
    mp = pytest.importorskip("mpmath")
    with mp.workdps(30):
        zeros = [float(mp.findroot(lambda t: mp.polygamma(n, t), -k - 0.5)) for k in range(3)]
    offsets = np.array([0.0, -1e-12, 1e-12, -1e-6, 1e-6, -1e-3, 1e-3])
    x = (np.array(zeros)[:, None] + offsets).ravel()
    x = np.concatenate([x, -np.arange(3.0) - 0.5])  # cot(pi x) = 0 exactly
    reference, scale = _mp_polygamma_and_scale(n, x)
    assert np.max(scale / np.abs(reference)) > 1e8  # the grid really is ill-conditioned
    assert_scaled(compiled_order(n, x), reference, scale, 4e-15)


@pytest.mark.parametrize("n", [2, 3, 6])
def test_polygamma_far_negative_vs_mpmath(n):
    x = -np.concatenate(
        [np.logspace(2, 15, 14) + 0.25, np.logspace(2, 14, 13) + 0.5, np.logspace(2, 13, 12) + 0.3]
    )
    x = x[x != np.floor(x)]
    reference, scale = _mp_polygamma_and_scale(n, x, dps=120)  # the cot derivative needs digits
    ours = compiled_order(n, x)
    assert_scaled(ours, reference, scale, 4e-15)
    assert_rel(ours, reference, 4e-15)  # no zeros this close to these points


@pytest.mark.parametrize("n", [7, 10, 20, 50, 100, 170])
def test_polygamma_high_orders_vs_mpmath(n):
    x = np.concatenate([np.logspace(-3, 8, 45), np.linspace(0.1, 120.0, 45)])
    reference = _mp_map(lambda mp, v: mp.polygamma(n, v), x)
    normal = np.isfinite(reference) & (np.abs(reference) > np.finfo(float).tiny)
    ours = compiled_order(n, x)
    # errors grow mildly with n (each term carries n! and a power with exponent n + 1)
    assert_rel(ours[normal], reference[normal], 4e-15)
    np.testing.assert_array_equal(ours[np.isinf(reference)], reference[np.isinf(reference)])
    if n <= 20:
        x = np.linspace(-10.99, -0.01, 25) + 1e-4
        reference, scale = _mp_polygamma_and_scale(n, x)
        # near a pole the cot term goes like (pi r)^-(n+1): the rounding of pi r counts n+1 times
        assert_scaled(compiled_order(n, x), reference, scale, (n + 1) * 6e-16)


@pytest.mark.parametrize("n", ORDERS)
def test_polygamma_underflow_and_overflow_vs_mpmath(n):
    # results from huge to subnormal: relative error, or two subnormal ulps
    x = np.concatenate([np.logspace(-290 / (n + 1), -6, 40), np.logspace(6, min(308, 310 / n), 40)])
    reference = _mp_map(lambda mp, v: mp.polygamma(n, v), x)
    assert np.any(np.abs(reference) < np.finfo(float).tiny) and np.any(np.abs(reference) > 1e250)
    np.testing.assert_allclose(compiled_order(n, x), reference, rtol=4e-15, atol=1e-323)


def test_polygamma_order_one_is_trigamma_and_zero_is_digamma():
    x = np.concatenate([TRIGAMMA_POSITIVE, TRIGAMMA_NEGATIVE, [0.0, -3.0, np.inf, np.nan]])
    np.testing.assert_array_equal(compiled_order(1, x), compiled(ks.trigamma, x))
    np.testing.assert_array_equal(compiled_order(0, x), compiled(ks.digamma, x))
    # and the general algorithm at n = 1 agrees with trigamma's separate implementation
    finite = np.isfinite(compiled(ks.trigamma, x))
    general = compiled_order(1, x[finite], ks._polygamma)
    assert_rel(general, compiled(ks.trigamma, x[finite]), 2e-15)


def test_polygamma_special_values():
    x = np.array([0.0, -0.0, -1.0, -7.0, -1e300, np.inf, -np.inf, np.nan, 5e-324, 1e-300])
    for n in ORDERS:
        sign = (-1.0) ** (n + 1)
        expected = np.array([np.inf] * 5 + [0.0, np.nan, np.nan, np.inf, np.inf]) * sign
        got = compiled_order(n, x)
        np.testing.assert_array_equal(got, expected)
        assert np.signbit(got[5]) == np.signbit(expected[5])  # the zero at +inf
        # SciPy agrees (zero signs included) except at -inf, where it gives sign * inf
        keep = ~np.isneginf(x)
        np.testing.assert_array_equal(got[keep], sc.polygamma(n, x[keep]))
        np.testing.assert_array_equal(np.signbit(got[keep]), np.signbit(sc.polygamma(n, x[keep])))


def test_polygamma_invalid_and_float_orders():
    x = np.array([-2.5, -0.5, 0.5, 3.0, 40.0])
    for n in (-1, ks.POLYGAMMA_MAX_ORDER + 1):
        assert np.all(np.isnan(compiled_order(n, x)))
    for n in (-1.0, 0.5, 2.5, 171.0, np.nan, np.inf, -np.inf):
        assert np.all(np.isnan(compiled(ks.polygamma, np.full(x.shape, n), x))), n
    # an integral float order is the integer order
    for n in (0, 1, 2, 5):
        np.testing.assert_array_equal(
            compiled(ks.polygamma, np.full(x.shape, float(n)), x), compiled_order(n, x)
        )
    assert ks.polygamma(2, 3) == compiled_order(2, np.array([3.0]))[0]  # integer x compiles


def test_polygamma_series_tables():
    mp = pytest.importorskip("mpmath")
    for k, value in enumerate(ks._BERNOULLI, start=1):
        p, q = (int(v) for v in mp.bernfrac(2 * k))
        assert value == p / q, 2 * k  # Python's int / int is correctly rounded
    # The threshold claim: at y = 7.5 + 0.45 n some term of the series falls below 1e-17 among
    # the 20 available while the terms still decrease (so the stopping rule is sound); larger y
    # only makes every term smaller.
    with mp.workdps(30):
        for n in range(1, ks.POLYGAMMA_MAX_ORDER + 1):
            y = mp.mpf(_series_threshold(n))
            terms = [
                abs(mp.bernoulli(2 * k)) * mp.binomial(n + 2 * k - 1, 2 * k) / y ** (2 * k)
                for k in range(1, len(ks._BERNOULLI) + 2)
            ]
            first = next((k for k, t in enumerate(terms[:-1]) if t < 1e-17), None)
            assert first is not None, n
            assert terms[first + 1] < terms[first] and all(
                b < a for a, b in zip(terms[: first + 1], terms[1 : first + 1])
            ), n


_POLYGAMMA_DISABLED_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import kernels.special as ks

    assert not hasattr(ks.polygamma, "py_func"), "NUMBAYES_DISABLE_JIT=1 must give plain functions"
    points = json.loads(sys.argv[1])
    out = {str(n): [ks.polygamma(n, x) for x in points] for n in range(0, 8)}
    assert all(type(v) is float for values in out.values() for v in values)
    print(json.dumps(out))
    """
)


def test_polygamma_plain_python_matches_compiled(tmp_path):
    points = [0.0, -0.0, 1e-300, 0.3, 7.5, 9.4, 12.0, 1e6, 1e300, np.inf, -np.inf, np.nan]
    points += [-1e-300, -0.3, -0.5, -0.7, -2.0, -2.49944, -13.3, -1e9 - 0.5, -1e300]
    script = tmp_path / "polygamma_disabled_jit.py"
    script.write_text(_POLYGAMMA_DISABLED_SCRIPT)
    child = _run(script, {"NUMBAYES_DISABLE_JIT": "1"}, json.dumps(points))
    for n in range(0, 8):
        got = np.array(child[str(n)])
        expected = compiled_order(n, np.array(points))
        assert_rel(got, expected, 1e-15)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
