"""The branch-free kernels of kernels.vector_math: at most 2 ulp from the exact value (mpmath
at 120 bits) on dense grids over the whole range, the tails and near the special points; the
special values of C99/NumPy exactly (signed zeros included); the same bits whether LLVM
vectorises the loop or not; and the loops of generated code vectorised."""

from __future__ import annotations

import math
import re

import mpmath
import numba
import numpy as np
import pytest
import scipy.special

from kernels import vector_math as vm

MAX_ULP = 2.0
TINY = 5e-324
BIG = 1.7976931348623157e308


@numba.njit(error_model="numpy")
def _apply(f, x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = f(x[i])
    return out


def _log_grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(np.linspace(math.log(lo), math.log(hi), n))


def _mp_log1pexp(x):
    return mpmath.log1p(mpmath.exp(x))


def _mp_expit(x):
    return 1 / (1 + mpmath.exp(-x))


_RNG = np.random.default_rng(20261203)


def _uniform(lo: float, hi: float, n: int) -> np.ndarray:
    return _RNG.uniform(lo, hi, n)


# function, exact reference, grid: whole range, tails and the neighbourhoods of special points
CASES = {
    "exp": (vm.exp, mpmath.exp, lambda: np.concatenate([
        _uniform(-745.13, 709.78, 2500), _uniform(-745.13, -708.0, 300),  # subnormal results
        _uniform(700.0, 709.782712893384, 200), _uniform(-1.0, 1.0, 300),
        _log_grid(1e-300, 1e-3, 200), -_log_grid(1e-300, 1e-3, 200)])),
    "expm1": (vm.expm1, mpmath.expm1, lambda: np.concatenate([
        _uniform(-40.0, 709.78, 1500), _uniform(-1.0, 1.0, 800), _uniform(30.0, 60.0, 300),
        _log_grid(1e-310, 0.5, 400), -_log_grid(1e-310, 0.5, 400)])),
    "log": (vm.log, mpmath.log, lambda: np.concatenate([
        _log_grid(TINY, BIG, 2500), _uniform(0.5, 2.0, 800), 1.0 + _uniform(-1e-7, 1e-7, 300),
        _log_grid(TINY, 2.2250738585072014e-308, 300)])),
    "log1p": (vm.log1p, mpmath.log1p, lambda: np.concatenate([
        _log_grid(1e-310, BIG, 1500), -_log_grid(1e-310, 0.999, 800), _uniform(-0.5, 1.0, 800),
        -1.0 + _log_grid(1e-16, 1e-3, 200), _uniform(0.4, 0.45, 200)])),
    "tanh": (vm.tanh, mpmath.tanh, lambda: np.concatenate([
        _uniform(-25.0, 25.0, 1500), _uniform(-1.0, 1.0, 800), _log_grid(1e-310, 1.0, 400),
        -_log_grid(1e-310, 1.0, 400)])),
    "expit": (vm.expit, _mp_expit, lambda: np.concatenate([
        _uniform(-745.0, 40.0, 1500), _uniform(-10.0, 10.0, 1000), _log_grid(1e-300, 1.0, 200),
        -_log_grid(1e-300, 1.0, 200)])),
    "log1pexp": (vm.log1pexp, _mp_log1pexp, lambda: np.concatenate([
        _uniform(-745.0, 745.0, 1500), _uniform(-10.0, 10.0, 1000), _uniform(30.0, 40.0, 200),
        _log_grid(1e-300, 1.0, 200), -_log_grid(1e-300, 1.0, 200)])),
}


def _ulp_errors(ours: np.ndarray, x: np.ndarray, exact) -> np.ndarray:
    """|ours - exact| in units of the last place of the correctly rounded exact value (the
    spacing of doubles at its magnitude; the subnormal spacing below 2**-1022)."""
    errors = np.empty(x.size)
    with mpmath.workprec(120):
        for i, (xi, yi) in enumerate(zip(x, ours)):
            ref = exact(mpmath.mpf(float(xi)))
            rounded = float(ref)
            if math.isinf(rounded):  # beyond the largest double: only inf is right
                errors[i] = 0.0 if yi == rounded else np.inf
                continue
            spacing = float(np.spacing(abs(rounded))) if rounded != 0.0 else TINY
            errors[i] = float(abs(mpmath.mpf(float(yi)) - ref)) / spacing
    return errors


@pytest.mark.parametrize("name", sorted(CASES))
def test_accuracy_within_two_ulp(name):
    fn, exact, grid = CASES[name]
    x = grid()
    ours = _apply(fn, x)
    errors = _ulp_errors(ours, x, exact)
    worst = int(np.argmax(errors))
    assert errors[worst] <= MAX_ULP, (
        f"{name}({x[worst]!r}) = {ours[worst]!r} is {errors[worst]:.3f} ulp from the exact value"
    )
    # most results are correctly rounded (0.5 ulp): a regression to a cruder algorithm shows here
    assert np.mean(errors <= 0.5) > 0.8


INF, NAN = math.inf, math.nan
SPECIAL = [-INF, -BIG, -1000.0, -746.0, -745.2, -709.0, -40.0, -1.0, -TINY, -0.0, 0.0, TINY,
           1e-300, 1.0, 2.0, 709.7, 709.79, 710.0, 1000.0, BIG, INF, NAN]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal, with NaN equal to NaN and the sign of zero significant."""
    return bool(np.all((a == b) & (np.signbit(a) == np.signbit(b)) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize(
    "name, oracle",
    [
        ("exp", np.exp),
        ("expm1", np.expm1),
        ("log", np.log),
        ("log1p", np.log1p),
        ("tanh", np.tanh),
        ("expit", scipy.special.expit),
        ("log1pexp", lambda x: np.logaddexp(0.0, x)),
    ],
)
def test_special_values_are_those_of_numpy(name, oracle):
    """Infinities, NaN, signed zeros, subnormals, overflow and underflow, domain edges: where
    the value is exactly determined, the same as NumPy's/SciPy's (log(0) = -inf, log(-1) = nan,
    log1p(-0) = -0, exp(-inf) = 0, expm1(-inf) = -1, tanh(±inf) = ±1, ...)."""
    x = np.array(SPECIAL + [-2.0, -1.0 + 1e-16, 0.5])
    with np.errstate(all="ignore"):
        expected = oracle(x)
    ours = _apply(CASES[name][0], x)
    # values that are not exactly determined (finite, neither 0 nor ±1) only need to be close
    exact = ~np.isfinite(expected) | np.isin(expected, [0.0, 1.0, -1.0]) | (np.abs(expected) < 1e-300)
    assert _same(ours[exact], expected[exact]), list(zip(x[exact], ours[exact], expected[exact]))
    np.testing.assert_allclose(ours[~exact], expected[~exact], rtol=4.5e-16)


def test_same_bits_vectorised_or_not():
    """No fused multiply-add and no reassociation: a vectorised loop gives the scalar call's
    bits."""
    x = np.concatenate([_uniform(-50.0, 50.0, 997), SPECIAL])
    for name, (fn, _, _) in CASES.items():
        looped = _apply(fn, x)
        one_by_one = np.array([fn(v) for v in x])
        assert _same(looped, one_by_one), name


def test_accumulate_sums():
    total = 0.0
    for term in (1.0, 2.0, 0.5):
        total = vm.accumulate(total, term)
    assert total == 3.5


def test_fused_loops_of_generated_code_vectorise():
    """A log density's fused loop over the data (log1pexp, expit, exp, log1p and sums) calls
    the vector kernels, is vectorised by LLVM (its IR holds vector operations on doubles), and
    computes the right value and gradient."""
    import autodiff
    import autodiff.numpy as anp
    from autodiff.codegen.emit import graph_to_source, load_source
    from autodiff.scipy.special import log1pexp

    def logp(eta, y):
        return anp.sum(y * eta - log1pexp(eta)) + anp.sum(anp.exp(-eta) + anp.log1p(eta * eta))

    eta, y = np.linspace(-3.0, 3.0, 64), np.ones(64)
    graph = autodiff.make_graph(autodiff.value_and_grad(logp, argnums=0))(eta, y)
    source, consts = graph_to_source(graph)
    for call in ("vm.log1pexp(", "vm.expit(", "vm.exp(", "vm.log1p(", "vm.accumulate("):
        assert call in source, call
    compiled = load_source(source).compiled
    value, grad = compiled(eta, y, *consts)
    with np.errstate(all="ignore"):
        expected = np.sum(y * eta - np.logaddexp(0.0, eta)) + np.sum(np.exp(-eta) + np.log1p(eta**2))
    np.testing.assert_allclose(value, expected, rtol=1e-14)
    expected_grad = y - scipy.special.expit(eta) - np.exp(-eta) + 2 * eta / (1 + eta**2)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-13, atol=1e-15)
    # the same function compiled afresh (Numba shows no IR for code loaded from its disk cache)
    fresh = numba.njit(error_model="numpy")(compiled.py_func)
    fresh(eta, y, *consts)
    ir = fresh.inspect_llvm(fresh.signatures[0])
    assert re.search(r"<\d+ x double>", ir), "the fused loop was not vectorised"
