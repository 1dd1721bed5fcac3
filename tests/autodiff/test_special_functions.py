"""Derivatives of the special functions beyond the generic rule tests (rule_cases.py): the
second derivatives of the incomplete gamma and beta functions, the clear errors where a
derivative is not implemented, the log_ndtr gradient deep in the left tail against mpmath, and
compiled gradients in the shape parameters against eager ones."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import scipy.special as sc

import autodiff
import autodiff.numpy as anp
import autodiff.scipy.special as asp


def _fd(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_incomplete_gamma_and_beta_gradients_against_finite_differences():
    rng = np.random.default_rng(3)
    a = np.exp(rng.uniform(-2.0, 4.0, 20))
    x = a * np.exp(rng.uniform(-1.0, 1.0, 20))
    for ours, scipy_f in ((asp.gammainc, sc.gammainc), (asp.gammaincc, sc.gammaincc)):
        ga, gx = autodiff.grad(lambda a, x, f=ours: anp.sum(f(a, x)), argnums=(0, 1))(a, x)
        fd_a = _fd(lambda t, f=scipy_f: f(t, x), a, 1e-6 * a)
        fd_x = _fd(lambda t, f=scipy_f: f(a, t), x, 1e-6 * x)
        np.testing.assert_allclose(ga, fd_a, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(gx, fd_x, rtol=1e-6, atol=1e-12)
    b = np.exp(rng.uniform(-2.0, 4.0, 20))
    u = rng.uniform(0.01, 0.99, 20)
    ga, gb, gu = autodiff.grad(lambda a, b, u: anp.sum(asp.betainc(a, b, u)), argnums=(0, 1, 2))(
        a, b, u
    )
    for g, fd in [
        (ga, _fd(lambda t: sc.betainc(t, b, u), a, 1e-6 * a)),
        (gb, _fd(lambda t: sc.betainc(a, t, u), b, 1e-6 * b)),
        (gu, _fd(lambda t: sc.betainc(a, b, t), u, 1e-7 * u)),
    ]:
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-12)


def test_mixed_second_derivatives_are_closed_form():
    # ∂²P/∂a∂x: the derivative in a of the gamma density, against differences of ∂P/∂a in x
    a, x = 2.7, 1.9
    d2 = autodiff.grad(autodiff.grad(asp.gammainc, argnums=0), argnums=1)(a, x)
    dpa = autodiff.grad(asp.gammainc, argnums=0)
    assert d2 == pytest.approx(_fd(lambda t: dpa(a, t), x, 1e-5), rel=1e-7)
    # and the other order (x first, then a) gives the same number
    d2_swapped = autodiff.grad(autodiff.grad(asp.gammainc, argnums=1), argnums=0)(a, x)
    assert d2_swapped == pytest.approx(d2, rel=1e-13)
    # ∂²I/∂a∂x and ∂²I/∂b∂x
    a, b, u = 1.7, 3.2, 0.35
    for arg in (0, 1):
        d2 = autodiff.grad(autodiff.grad(asp.betainc, argnums=arg), argnums=2)(a, b, u)
        d1 = autodiff.grad(asp.betainc, argnums=arg)
        assert d2 == pytest.approx(_fd(lambda t, d1=d1: d1(a, b, t), u, 1e-6), rel=1e-7)


def test_second_derivatives_in_the_shape_parameters():
    # against central differences of the (tested) first derivatives
    a, x = 2.7, 1.9
    daa = autodiff.grad(autodiff.grad(asp.gammainc, argnums=0), argnums=0)(a, x)
    dpa = autodiff.grad(asp.gammainc, argnums=0)
    assert daa == pytest.approx(_fd(lambda t: dpa(t, x), a, 1e-5), rel=1e-7)
    a, b, u = 1.7, 3.2, 0.35
    hess = autodiff.hessian(lambda v: asp.betainc(v[0], v[1], v[2]))(np.array([a, b, u]))
    np.testing.assert_allclose(hess, hess.T, rtol=1e-13)
    for i, d1 in enumerate(
        (autodiff.grad(asp.betainc, argnums=0), autodiff.grad(asp.betainc, argnums=1))
    ):
        fd_a = _fd(lambda t, d1=d1: d1(t, b, u), a, 1e-5)
        fd_b = _fd(lambda t, d1=d1: d1(a, t, u), b, 1e-5)
        np.testing.assert_allclose(hess[i, :2], [fd_a, fd_b], rtol=1e-7)


def test_unimplemented_derivatives_raise_clear_errors():
    d2 = autodiff.grad(autodiff.grad(asp.gammainc, argnums=0), argnums=0)
    with pytest.raises(NotImplementedError, match="gammainc_daa.*respect to a"):
        autodiff.grad(d2, argnums=0)(2.0, 1.0)
    d2 = autodiff.grad(autodiff.grad(asp.betainc, argnums=1), argnums=1)
    with pytest.raises(NotImplementedError, match="betainc_dbb.*respect to b"):
        autodiff.grad(d2, argnums=1)(2.0, 3.0, 0.5)
    with pytest.raises(NotImplementedError, match="iv.*order v"):
        autodiff.grad(asp.iv, argnums=0)(1.5, 2.0)
    with pytest.raises(NotImplementedError, match="zeta.*respect to s"):
        autodiff.grad(asp.zeta, argnums=0)(2.5, 1.0)
    # the same functions differentiate in their other argument
    assert autodiff.grad(asp.iv, argnums=1)(1.5, 2.0) == pytest.approx(
        0.5 * (sc.iv(0.5, 2.0) + sc.iv(2.5, 2.0)), rel=1e-14
    )
    assert autodiff.grad(asp.zeta, argnums=1)(2.5, 1.5) == pytest.approx(
        -2.5 * sc.zeta(3.5, 1.5), rel=1e-14
    )


@pytest.mark.parametrize("x", [-40.0, -1e3, -1e5, -1e8, -3.0, 0.0, 5.0, 30.0])
def test_log_ndtr_gradient_deep_in_the_tails_vs_mpmath(x):
    with mp.workdps(60):
        x_ = mp.mpf(x)
        # phi(x) / Phi(x) at 60 digits, Phi from erfc (no cancellation in the left tail)
        ratio = mp.npdf(x_) / (mp.erfc(-x_ / mp.sqrt(2)) / 2)
        first = float(ratio)
        second = float(-ratio * (x_ + ratio))
    f = autodiff.grad(asp.log_ndtr)
    assert f(x) == pytest.approx(first, rel=1e-14, abs=1e-300)
    compiled = autodiff.jit(autodiff.grad(lambda t: anp.sum(asp.log_ndtr(t))))
    assert compiled(np.array([x]))[0] == pytest.approx(first, rel=1e-14, abs=1e-300)
    assert asp.log_ndtr(x) == sc.log_ndtr(x)
    # the second derivative -r (x + r), with x + r from its continued fraction (no cancellation)
    assert autodiff.grad(f)(x) == pytest.approx(second, rel=1e-14, abs=1e-300)


def test_log_ndtr_gradient_beyond_mpmath():
    # mpmath's erfc fails at such arguments; φ/Φ ~ -x - 1/x + 2/x³ is exact to rounding here
    for x in (-1e30, -1e200):
        assert autodiff.grad(asp.log_ndtr)(x) == pytest.approx(-x - 1.0 / x, rel=1e-15)


def test_erfinv_erfcinv_gradients_vs_mpmath():
    y = np.array([-0.999999, -0.5, 0.0, 0.3, 0.9999])
    g = autodiff.vmap(autodiff.grad(asp.erfinv))(y)
    with mp.workdps(40):
        expected = [float(mp.sqrt(mp.pi) / 2 * mp.exp(mp.erfinv(v) ** 2)) for v in y]
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    z = np.array([1e-10, 0.2, 1.0, 1.7, 2.0 - 1e-9])
    g = autodiff.vmap(autodiff.grad(asp.erfcinv))(z)
    with mp.workdps(40):
        expected = [float(-mp.sqrt(mp.pi) / 2 * mp.exp(mp.erfinv(1 - mp.mpf(v)) ** 2)) for v in z]
    np.testing.assert_allclose(g, expected, rtol=1e-12)


def test_bessel_and_multigammaln_values():
    x = np.linspace(-30.0, 30.0, 13)
    np.testing.assert_array_equal(asp.i0(x), sc.i0(x))
    np.testing.assert_array_equal(asp.i1(x), sc.i1(x))
    np.testing.assert_array_equal(asp.iv(2.5, np.abs(x)), sc.iv(2.5, np.abs(x)))
    a = np.array([2.6, 5.0, 40.0])
    np.testing.assert_allclose(asp.multigammaln(a, 4), sc.multigammaln(a, 4), rtol=1e-14)
    g = autodiff.grad(lambda a: anp.sum(asp.multigammaln(a, 4)))(a)
    np.testing.assert_allclose(g, sum(sc.digamma(a - j / 2) for j in range(4)), rtol=1e-14)
    with pytest.raises(ValueError, match="a > \\(d-1\\)/2"):
        asp.multigammaln(1.0, 4)


def test_compiled_shape_gradients_equal_eager():
    def loss(a, b, x):
        return anp.sum(asp.betainc(a, b, x) * asp.gammainc(a, 3.0 * x) + asp.gammaincc(b, x) ** 2)

    rng = np.random.default_rng(8)
    a, b = np.exp(rng.uniform(-1.0, 3.0, (2, 6)))
    x = rng.uniform(0.05, 0.95, 6)
    grad = autodiff.grad(loss, argnums=(0, 1, 2))
    for got, expected in zip(autodiff.jit(grad)(a, b, x), grad(a, b, x)):
        np.testing.assert_allclose(got, expected, rtol=1e-13)
