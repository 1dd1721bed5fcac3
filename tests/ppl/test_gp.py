"""ppl.gp: covariance functions against their formulas written here in NumPy, exact GP
regression against the closed-form posterior and SciPy's density, the non-centred latent prior
by Monte Carlo, and the HSGP approximation against its formulas and the exact kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats

import autodiff
import autodiff.numpy as anp
import ppl
from ppl import dist, handlers
from ppl.gp import hsgp

RNG = np.random.default_rng(20261203)
X2 = RNG.uniform(-2.0, 2.0, size=(7, 3))
XS2 = RNG.uniform(-2.0, 2.0, size=(5, 3))


def _prior_cov_of(fn, n_draws, seed=0):
    """Draws of a model's return value (one seed each) and their second moment matrix."""
    draws = np.array([np.asarray(handlers.seed(fn, int(s))())
                      for s in np.random.default_rng(seed).integers(0, 2**31, size=n_draws)])
    return draws, draws.T @ draws / n_draws


def _sqdist(A, B, ls):
    d = (A[:, None, :] - B[None, :, :]) / ls
    return np.sum(d**2, -1)


LS = np.array([0.7, 1.3, 2.0])
FORMULAS = {
    "ExpQuad": (lambda: ppl.gp.ExpQuad(3, ls=LS), lambda A, B: np.exp(-0.5 * _sqdist(A, B, LS))),
    "Matern12": (lambda: ppl.gp.Matern12(3, ls=LS),
                 lambda A, B: np.exp(-np.sqrt(_sqdist(A, B, LS)))),
    "Matern32": (lambda: ppl.gp.Matern32(3, ls=LS),
                 lambda A, B: (1 + np.sqrt(3 * _sqdist(A, B, LS)))
                 * np.exp(-np.sqrt(3 * _sqdist(A, B, LS)))),
    "Matern52": (lambda: ppl.gp.Matern52(3, ls=LS),
                 lambda A, B: (1 + np.sqrt(5 * _sqdist(A, B, LS)) + 5 / 3 * _sqdist(A, B, LS))
                 * np.exp(-np.sqrt(5 * _sqdist(A, B, LS)))),
    "RationalQuadratic": (lambda: ppl.gp.RationalQuadratic(3, alpha=1.7, ls=LS),
                          lambda A, B: (1 + _sqdist(A, B, LS) / (2 * 1.7)) ** -1.7),
    "Periodic": (lambda: ppl.gp.Periodic(3, period=1.5, ls=LS),
                 lambda A, B: np.exp(-0.5 * np.sum(
                     (np.sin(np.pi * np.abs(A[:, None] - B[None]) / 1.5) / LS) ** 2, -1))),
    "Linear": (lambda: ppl.gp.Linear(3, c=0.3), lambda A, B: (A - 0.3) @ (B - 0.3).T),
    "WhiteNoise": (lambda: ppl.gp.WhiteNoise(0.4), None),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_kernel_matches_formula_and_is_psd(name):
    make, formula = FORMULAS[name]
    k = make()
    K = np.asarray(k(X2))
    Ks = np.asarray(k(X2, XS2))
    if formula is None:   # WhiteNoise
        np.testing.assert_allclose(K, 0.16 * np.eye(7))
        np.testing.assert_allclose(Ks, np.zeros((7, 5)))
    else:
        np.testing.assert_allclose(K, formula(X2, X2), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(Ks, formula(X2, XS2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(k.diag(X2)), np.diag(K), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(K, K.T, atol=1e-14)
    assert np.linalg.eigvalsh(K).min() > -1e-10


def test_scalar_lengthscale_and_vector_inputs():
    x = np.linspace(0.0, 3.0, 6)
    K = np.asarray(ppl.gp.ExpQuad(1, ls=0.8)(x))
    np.testing.assert_allclose(K, np.exp(-0.5 * (x[:, None] - x[None]) ** 2 / 0.64), rtol=1e-12)
    K3 = np.asarray(ppl.gp.ExpQuad(3, ls=0.8)(X2))
    np.testing.assert_allclose(K3, np.exp(-0.5 * _sqdist(X2, X2, 0.8)), rtol=1e-12)


def test_against_sklearn_when_installed():
    kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
    np.testing.assert_allclose(np.asarray(ppl.gp.ExpQuad(3, ls=LS)(X2, XS2)),
                               kernels.RBF(length_scale=LS)(X2, XS2), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(ppl.gp.Matern32(3, ls=LS)(X2, XS2)),
                               kernels.Matern(length_scale=LS, nu=1.5)(X2, XS2), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(ppl.gp.Matern52(3, ls=LS)(X2, XS2)),
                               kernels.Matern(length_scale=LS, nu=2.5)(X2, XS2), rtol=1e-10)
    x = X2[:, :1]
    # scikit-learn's exp(-2 sin^2(pi r / T) / l^2) is PyMC's exp(-sin^2(pi r / T) / (2 ls^2))
    # at l = 2 ls
    np.testing.assert_allclose(np.asarray(ppl.gp.Periodic(1, period=1.5, ls=0.8)(x)),
                               kernels.ExpSineSquared(2 * 0.8, 1.5)(x), rtol=1e-10)


def test_active_dims_select_columns():
    k = ppl.gp.Matern52(3, ls=[0.5, 2.0], active_dims=[0, 2])
    ref = ppl.gp.Matern52(2, ls=[0.5, 2.0])
    np.testing.assert_allclose(np.asarray(k(X2, XS2)), np.asarray(ref(X2[:, [0, 2]],
                                                                        XS2[:, [0, 2]])))
    np.testing.assert_allclose(np.asarray(k.diag(X2)), np.ones(7))
    lin = ppl.gp.Linear(3, c=0.0, active_dims=[1])
    np.testing.assert_allclose(np.asarray(lin(X2)), np.outer(X2[:, 1], X2[:, 1]))


def test_sums_products_and_scaling():
    k1 = ppl.gp.ExpQuad(3, ls=LS, active_dims=[0, 1, 2])
    k2 = ppl.gp.Periodic(3, period=2.0, ls=1.0, active_dims=[1])
    k3 = ppl.gp.Linear(3, c=0.1)
    K1, K2, K3 = (np.asarray(k(X2, XS2)) for k in (k1, k2, k3))
    np.testing.assert_allclose(np.asarray((k1 + k2)(X2, XS2)), K1 + K2, rtol=1e-12)
    np.testing.assert_allclose(np.asarray((k1 * k2)(X2, XS2)), K1 * K2, rtol=1e-12)
    np.testing.assert_allclose(np.asarray((2.5**2 * k1 + k2 * k3)(X2, XS2)),
                               6.25 * K1 + K2 * K3, rtol=1e-12)
    np.testing.assert_allclose(np.asarray((k1 * np.float64(3.0))(X2, XS2)), 3 * K1)
    np.testing.assert_allclose(np.asarray((np.float64(3.0) * k1)(X2, XS2)), 3 * K1)
    both = 2.0 * k1 * k2 + ppl.gp.WhiteNoise(0.2)
    np.testing.assert_allclose(np.asarray(both.diag(X2)), np.diag(np.asarray(both(X2))),
                               atol=1e-14)
    assert np.linalg.eigvalsh(np.asarray(both(X2))).min() > 0


def test_traced_scale_and_lengthscale_differentiate():
    x = np.linspace(0.0, 2.0, 4)

    def total(params):
        eta, ls = params[0], params[1]
        return anp.sum((eta**2 * ppl.gp.Matern32(1, ls=ls))(x))

    p = np.array([1.3, 0.7])
    g = np.asarray(autodiff.grad(total)(p))
    eps = 1e-6
    fd = [(float(total(p + eps * e)) - float(total(p - eps * e))) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert np.all(np.isfinite(g))


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match="input_dim"):
        ppl.gp.ExpQuad(2, ls=1.0)(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="ls of shape"):
        ppl.gp.ExpQuad(2, ls=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="active_dims"):
        ppl.gp.ExpQuad(2, ls=1.0, active_dims=[2])
    with pytest.raises(ValueError, match="different input_dim"):
        ppl.gp.ExpQuad(2, ls=1.0) + ppl.gp.ExpQuad(1, ls=1.0)


# ---- exact GPs -------------------------------------------------------------------------------
X1 = np.linspace(-3.0, 3.0, 12)
Y1 = np.sin(X1) + 0.1 * RNG.standard_normal(12)
XNEW = np.linspace(-4.0, 4.0, 9)


def _se(a, b, eta, ls):
    return eta**2 * np.exp(-0.5 * (a[:, None] - b[None]) ** 2 / ls**2)


def test_marginal_conditional_is_the_closed_form_posterior():
    eta, ls, noise = 1.4, 0.9, 0.2
    gp = ppl.gp.Marginal(eta**2 * ppl.gp.ExpQuad(1, ls=ls))
    mu, cov = gp.conditional(XNEW, X1, Y1, noise=noise, jitter=0.0)
    K = _se(X1, X1, eta, ls) + noise**2 * np.eye(12)
    Ks = _se(X1, XNEW, eta, ls)
    mu_ref = Ks.T @ np.linalg.solve(K, Y1)
    cov_ref = _se(XNEW, XNEW, eta, ls) - Ks.T @ np.linalg.solve(K, Ks)
    np.testing.assert_allclose(np.asarray(mu), mu_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(cov), cov_ref, rtol=1e-9, atol=1e-12)
    _, cov_y = gp.conditional(XNEW, X1, Y1, noise=noise, pred_noise=True, jitter=0.0)
    np.testing.assert_allclose(np.asarray(cov_y), cov_ref + noise**2 * np.eye(9), atol=1e-12)


def test_marginal_with_mean_function():
    gp = ppl.gp.Marginal(ppl.gp.Matern52(1, ls=1.1), mean_func=lambda X: 0.5 * X[:, 0])
    X = X1[:, None]
    mu, _ = gp.conditional(XNEW[:, None], X, Y1, noise=0.3, jitter=0.0)
    kern = ppl.gp.Matern52(1, ls=1.1)
    K = np.asarray(kern(X)) + 0.09 * np.eye(12)
    Ks = np.asarray(kern(X, XNEW[:, None]))
    np.testing.assert_allclose(np.asarray(mu),
                               0.5 * XNEW + Ks.T @ np.linalg.solve(K, Y1 - 0.5 * X1), rtol=1e-9)


def test_marginal_likelihood_log_density_is_scipy():
    eta, ls, noise, jitter = 1.2, 0.8, 0.25, 1e-6

    def model():
        return ppl.gp.Marginal(eta**2 * ppl.gp.ExpQuad(1, ls=ls)).marginal_likelihood(
            "y", X1, Y1, noise=noise, jitter=jitter)

    tr = handlers.trace(handlers.seed(model, 0)).get_trace()
    site = tr["y"]
    assert isinstance(site.fn, dist.MultivariateNormal)
    lp = float(site.fn.log_prob(Y1))
    cov = _se(X1, X1, eta, ls) + (noise**2 + jitter) * np.eye(12)
    ref = scipy.stats.multivariate_normal(np.zeros(12), cov).logpdf(Y1)
    assert lp == pytest.approx(ref, rel=1e-10)


def gp_regression(X, y=None):
    eta = ppl.sample("eta", dist.HalfNormal(1.0))
    ls = ppl.sample("ls", dist.InverseGamma(3.0, 3.0))
    noise = ppl.sample("noise", dist.HalfNormal(0.5))
    gp = ppl.gp.Marginal(eta**2 * ppl.gp.ExpQuad(1, ls=ls))
    gp.marginal_likelihood("y", X, y, noise=noise)


@pytest.mark.slow
def test_marginal_model_compiles_and_matches_eager():
    from ppl.model import compile_model

    m = compile_model(gp_regression, X1, y=Y1)
    for seed in range(3):
        theta = np.random.default_rng(seed).normal(scale=0.5, size=m.dim)
        lp, g = m.logp_and_grad(theta)
        lp_np, g_np = m.logp_and_grad_numpy(theta)
        assert lp == pytest.approx(lp_np, rel=1e-10)
        np.testing.assert_allclose(g, g_np, rtol=1e-8, atol=1e-10)
        assert np.all(np.isfinite(g))


def test_marginal_model_eager_density_and_posterior_draw_predictions():
    """The density of the model through the eager path equals SciPy's at a point; and the
    conditional is usable with (posterior) draws of the hyperparameters, one call per draw."""
    draws = {"eta": np.array([0.8, 1.1]), "ls": np.array([0.6, 1.5]),
             "noise": np.array([0.1, 0.3])}
    for i in range(2):
        gp = ppl.gp.Marginal(draws["eta"][i] ** 2 * ppl.gp.ExpQuad(1, ls=draws["ls"][i]))
        mu, cov = gp.conditional(XNEW, X1, Y1, noise=draws["noise"][i])
        assert np.all(np.isfinite(np.asarray(mu))) and np.asarray(cov).shape == (9, 9)
        sub = handlers.substitute(handlers.seed(gp_regression, 0),
                                  {k: v[i] for k, v in draws.items()})
        tr = handlers.trace(sub).get_trace(X1, Y1)
        cov_ref = (_se(X1, X1, draws["eta"][i], draws["ls"][i])
                   + (draws["noise"][i] ** 2 + 1e-6) * np.eye(12))
        ref = scipy.stats.multivariate_normal(np.zeros(12), cov_ref).logpdf(Y1)
        assert float(tr["y"].fn.log_prob(Y1)) == pytest.approx(ref, rel=1e-10)

    def predict(eta, ls, noise):
        return ppl.gp.Marginal(eta**2 * ppl.gp.ExpQuad(1, ls=ls)).conditional(XNEW, X1, Y1, noise)

    mus, covs = autodiff.vmap(predict)(draws["eta"], draws["ls"], draws["noise"])
    assert mus.shape == (2, 9) and covs.shape == (2, 9, 9)
    mu1, cov1 = predict(draws["eta"][1], draws["ls"][1], draws["noise"][1])
    np.testing.assert_allclose(mus[1], mu1, atol=1e-12)
    np.testing.assert_allclose(covs[1], cov1, atol=1e-12)


def latent_regression(X, y=None):
    ls = ppl.sample("ls", dist.InverseGamma(3.0, 3.0))
    f = ppl.gp.Latent(ppl.gp.Matern52(1, ls=ls)).prior("f", X)
    ppl.sample("y", dist.Normal(f, 0.3).to_event(1), obs=y)


@pytest.mark.slow
def test_latent_model_compiles_and_matches_eager():
    from ppl.model import compile_model

    m = compile_model(latent_regression, X1, y=Y1)
    assert m.dim == 13
    theta = np.random.default_rng(0).normal(scale=0.5, size=m.dim)
    lp, g = m.logp_and_grad(theta)
    lp_np, g_np = m.logp_and_grad_numpy(theta)
    assert lp == pytest.approx(lp_np, rel=1e-10)
    np.testing.assert_allclose(g, g_np, rtol=1e-8, atol=1e-10)
    assert m.constrain(theta[None])["f"].shape == (1, 12)


def test_latent_prior_draws_have_covariance_K():
    X = np.linspace(0.0, 2.0, 4)
    kern = 1.5 * ppl.gp.Matern32(1, ls=0.7)

    def model():
        return ppl.gp.Latent(kern).prior("f", X)

    tr = handlers.trace(handlers.seed(model, 1)).get_trace()
    assert tr["f_rotated"].type == "sample" and tr["f"].type == "deterministic"
    n_draws = 10000
    draws, _ = _prior_cov_of(model, n_draws, seed=3)
    K = np.asarray(kern(X))
    emp = draws.T @ draws / n_draws          # mean zero known
    # standard error of the (i, j) second moment: sqrt((K_ii K_jj + K_ij^2) / n)
    se = np.sqrt((np.outer(np.diag(K), np.diag(K)) + K**2) / n_draws)
    assert np.all(np.abs(emp - K) < 4.5 * se)
    assert np.all(np.abs(draws.mean(0)) < 4.5 * np.sqrt(np.diag(K) / n_draws))


def test_latent_conditional_interpolates():
    kern = ppl.gp.ExpQuad(1, ls=0.9)
    f = np.sin(X1)
    mu, cov = ppl.gp.Latent(kern).conditional(XNEW, X1, f, jitter=1e-10)
    K = np.asarray(kern(X1)) + 1e-10 * np.eye(12)
    Ks = np.asarray(kern(X1, XNEW))
    np.testing.assert_allclose(np.asarray(mu), Ks.T @ np.linalg.solve(K, f), atol=1e-6)
    mu_at, cov_at = ppl.gp.Latent(kern).conditional(X1[:3], X1, f, jitter=1e-10)
    np.testing.assert_allclose(np.asarray(mu_at), f[:3], atol=1e-6)
    assert np.abs(np.asarray(cov_at)).max() < 1e-6


# ---- HSGP ------------------------------------------------------------------------------------
def test_eigenindices_and_sqrt_eigenvalues():
    S = hsgp.eigenindices([2, 2, 3], 3)
    assert S.shape == (3, 12)
    np.testing.assert_array_equal(S[:, :4], [[1, 1, 1, 1], [1, 1, 1, 2], [1, 2, 3, 1]])
    lam = hsgp.sqrt_eigenvalues([1.5, 2.0], [3, 4], 2)
    assert lam.shape == (2, 12)
    idx = hsgp.eigenindices([3, 4], 2)
    np.testing.assert_allclose(lam, np.pi * idx / (2 * np.array([[1.5], [2.0]])))
    np.testing.assert_allclose(hsgp.sqrt_eigenvalues(2.0, 5, 1) ** 2,
                               (np.pi * np.arange(1, 6)[None] / 4.0) ** 2)
    with pytest.raises(ValueError, match="dim=2"):
        hsgp.eigenindices([2, 3, 4], 2)


def test_eigenfunctions_formula():
    L, m = 2.5, 8
    x = np.linspace(-2.0, 2.0, 11)
    phi = np.asarray(hsgp.eigenfunctions(x, L, m))
    j = np.arange(1, m + 1)
    ref = np.sin(np.pi * j[None] / (2 * L) * (x[:, None] + L)) / np.sqrt(L)
    np.testing.assert_allclose(phi, ref, rtol=1e-12, atol=1e-14)
    # 2-D: the product over dimensions, last index fastest
    X = RNG.uniform(-1, 1, size=(6, 2))
    phi2 = np.asarray(hsgp.eigenfunctions(X, [1.5, 2.0], [3, 2]))
    assert phi2.shape == (6, 6)
    f0 = lambda x, L, j: np.sin(np.pi * j / (2 * L) * (x + L)) / np.sqrt(L)  # noqa: E731
    np.testing.assert_allclose(phi2[:, 3], f0(X[:, 0], 1.5, 2) * f0(X[:, 1], 2.0, 2), rtol=1e-12)
    # orthonormal on [-L, L]
    grid = np.linspace(-L, L, 4001)
    P = np.asarray(hsgp.eigenfunctions(grid, L, m))
    gram = np.trapezoid(P[:, :, None] * P[:, None, :], grid, axis=0)
    np.testing.assert_allclose(gram, np.eye(m), atol=1e-6)


def test_eigenfunctions_periodic_formula():
    x = np.linspace(0.0, 3.0, 7)
    c, s = hsgp.eigenfunctions_periodic(x, 1.7, 5)
    j = np.arange(5)
    np.testing.assert_allclose(np.asarray(c), np.cos(1.7 * x[:, None] * j), atol=1e-14)
    np.testing.assert_allclose(np.asarray(s), np.sin(1.7 * x[:, None] * j), atol=1e-14)
    with pytest.raises(ValueError, match="multidimensional"):
        hsgp.eigenfunctions_periodic(np.zeros((3, 2)), 1.0, 4)


def test_spectral_densities_formulas():
    w = RNG.uniform(0, 3, size=(10, 2))
    alpha, ls = 1.7, np.array([0.6, 1.4])
    se = np.asarray(hsgp.spectral_density_squared_exponential(2, w, alpha, ls))
    ref = alpha * (2 * np.pi) ** (2 / 2) * np.prod(ls) * np.exp(-0.5 * np.sum(ls**2 * w**2, -1))
    np.testing.assert_allclose(se, ref, rtol=1e-12)
    w1 = w[:, :1]
    se1 = np.asarray(hsgp.spectral_density_squared_exponential(1, w1, alpha, 0.6))
    np.testing.assert_allclose(se1, alpha * np.sqrt(2 * np.pi) * 0.6
                               * np.exp(-0.5 * 0.36 * w1[:, 0] ** 2), rtol=1e-12)
    def matern_iso(D, nu, s2, ell):   # Rasmussen & Williams Eq. 4.15, |w|² = s2
        return (alpha * 2**D * np.pi ** (D / 2) * math.gamma(nu + D / 2) * (2 * nu) ** nu
                / (math.gamma(nu) * ell ** (2 * nu)) * (2 * nu / ell**2 + s2) ** (-nu - D / 2))

    for nu in (0.5, 1.5, 2.5, 3.7):
        got = np.asarray(hsgp.spectral_density_matern(1, nu, w1, alpha, 0.6))
        np.testing.assert_allclose(got, matern_iso(1, nu, w1[:, 0] ** 2, 0.6), rtol=1e-10)
        got = np.asarray(hsgp.spectral_density_matern(2, nu, w, alpha, 0.6))
        np.testing.assert_allclose(got, matern_iso(2, nu, np.sum(w**2, -1), 0.6), rtol=1e-10)
        # one lengthscale per dimension: rescale the frequencies, S(w) = prod(l) S_1(l * w)
        got = np.asarray(hsgp.spectral_density_matern(2, nu, w, alpha, ls))
        ref = np.prod(ls) * matern_iso(2, nu, np.sum((ls * w) ** 2, -1), 1.0)
        np.testing.assert_allclose(got, ref, rtol=1e-10)
    # Matérn 1/2 in 1-D is the Fourier transform of alpha exp(-|t|/l): 2 alpha l / (1 + l² w²)
    got = np.asarray(hsgp.spectral_density_matern(1, 0.5, w1, alpha, 0.6))
    np.testing.assert_allclose(got, 2 * alpha * 0.6 / (1 + 0.36 * w1[:, 0] ** 2), rtol=1e-12)


def test_diag_spectral_densities_at_the_eigenvalues():
    lam = hsgp.sqrt_eigenvalues([2.0, 3.0], [3, 4], 2).T
    d = np.asarray(hsgp.diag_spectral_density_squared_exponential(1.3, [0.5, 0.9], [2.0, 3.0],
                                                                 [3, 4], 2))
    np.testing.assert_allclose(d, hsgp.spectral_density_squared_exponential(2, lam, 1.3,
                                                                            np.array([0.5, 0.9])))
    d = np.asarray(hsgp.diag_spectral_density_matern(1.5, 1.3, 0.5, [2.0, 3.0], [3, 4], 2))
    np.testing.assert_allclose(d, hsgp.spectral_density_matern(2, 1.5, lam, 1.3, 0.5))
    q2 = np.asarray(hsgp.diag_spectral_density_periodic(1.2, 0.8, 6))
    a = 0.8**-2
    ref = np.where(np.arange(6) > 0, 2, 1) * 1.44 * scipy.special.ive(np.arange(6), a)
    np.testing.assert_allclose(q2, ref, rtol=1e-10)


@pytest.mark.parametrize("kind", ["se", "matern32", "matern52"])
def test_hsgp_kernel_converges_to_the_exact_kernel(kind):
    x = np.linspace(-1.0, 1.0, 25)
    ls, alpha, L = 0.5, 1.3, 4.0
    if kind == "se":
        exact = alpha * np.asarray(ppl.gp.ExpQuad(1, ls=ls)(x))
        spd = lambda m: hsgp.diag_spectral_density_squared_exponential(alpha, ls, L, m, 1)  # noqa
        tol = 1e-3
    else:
        nu = 1.5 if kind == "matern32" else 2.5
        cls = ppl.gp.Matern32 if nu == 1.5 else ppl.gp.Matern52
        exact = alpha * np.asarray(cls(1, ls=ls)(x))
        spd = lambda m: hsgp.diag_spectral_density_matern(nu, alpha, ls, L, m, 1)  # noqa
        tol = 2e-2   # heavier spectral tails: slower in m
    errs = []
    for m in (10, 40, 160):
        phi = np.asarray(hsgp.eigenfunctions(x, L, m))
        approx = (phi * np.asarray(spd(m))) @ phi.T
        errs.append(np.abs(approx - exact).max())
    assert errs[0] > errs[1] > errs[2] or errs[2] < 1e-10
    assert errs[-1] < tol


def test_periodic_approximation_matches_the_kernel():
    x = np.linspace(0.0, 4.0, 15)
    alpha, ls, period = 1.1, 0.9, 1.7
    w0 = 2 * np.pi / period
    m = 30
    q2 = np.asarray(hsgp.diag_spectral_density_periodic(alpha, ls, m))
    c, s = (np.asarray(v) for v in hsgp.eigenfunctions_periodic(x, w0, m))
    approx = (c * q2) @ c.T + (s * q2) @ s.T
    # alpha² exp(-2 sin²(w0 τ/2)/ls²) is PyMC's Periodic with lengthscale ls/2
    exact = alpha**2 * np.asarray(ppl.gp.Periodic(1, period=period, ls=ls / 2)(x))
    np.testing.assert_allclose(approx, exact, atol=1e-10)


def test_hsgp_model_helpers_sites_and_prior_covariance():
    x = np.linspace(-1.0, 1.0, 5)

    def se():
        return hsgp.hsgp_squared_exponential(x, 1.3, 0.5, 3.0, 25)

    tr = handlers.trace(handlers.seed(se, 0)).get_trace()
    assert tr["beta"].value.shape == (25,) and tr["beta"].type == "sample"
    assert "basis" in tr
    draws, emp = _prior_cov_of(se, 4000)
    K = 1.3 * np.asarray(ppl.gp.ExpQuad(1, ls=0.5)(x))
    se_err = np.sqrt((np.outer(np.diag(K), np.diag(K)) + K**2) / 4000)
    assert np.all(np.abs(emp - K) < 4.5 * se_err)

    def centred():
        return hsgp.hsgp_matern(x, 1.5, 1.3, 0.5, 3.0, 25, non_centered=False)

    tr = handlers.trace(handlers.seed(centred, 0)).get_trace()
    spd = np.sqrt(np.asarray(hsgp.diag_spectral_density_matern(1.5, 1.3, 0.5, 3.0, 25, 1)))
    np.testing.assert_allclose(np.asarray(tr["beta"].fn.scale), spd)

    def periodic():
        return hsgp.hsgp_periodic_non_centered(x, 1.1, 0.9, 2 * np.pi / 1.7, 20)

    tr = handlers.trace(handlers.seed(periodic, 0)).get_trace()
    assert tr["beta_cos"].value.shape == (20,) and tr["beta_sin"].value.shape == (19,)
    _, emp = _prior_cov_of(periodic, 4000, seed=1)
    K = 1.21 * np.asarray(ppl.gp.Periodic(1, period=1.7, ls=0.45)(x))
    se_err = np.sqrt((np.outer(np.diag(K), np.diag(K)) + K**2) / 4000)
    assert np.all(np.abs(emp - K) < 4.5 * se_err)


def hsgp_regression(x, y=None):
    alpha = ppl.sample("alpha", dist.HalfNormal(1.0))
    length = ppl.sample("length", dist.InverseGamma(4.0, 2.0))
    noise = ppl.sample("noise", dist.HalfNormal(0.5))
    f = ppl.deterministic("f", hsgp.hsgp_squared_exponential(x, alpha, length, ell=2.5, m=20))
    with ppl.plate("data", x.shape[0]):
        ppl.sample("y", dist.Normal(f, noise), obs=y)


def hsgp_periodic_regression(x, y=None):
    alpha = ppl.sample("alpha", dist.HalfNormal(1.0))
    length = ppl.sample("length", dist.InverseGamma(4.0, 2.0))
    f = hsgp.hsgp_periodic_non_centered(x, alpha, length, w0=2 * np.pi / 1.7, m=8)
    m = hsgp.hsgp_matern(x, 2.5, alpha, length, ell=5.0, m=6)
    ppl.sample("y", dist.Normal(f + m, 0.3).to_event(1), obs=y)


@pytest.mark.slow
def test_hsgp_periodic_and_matern_models_compile_and_match_eager():
    from ppl.model import compile_model

    x = np.linspace(0.0, 3.0, 10)
    m = compile_model(hsgp_periodic_regression, x, y=np.cos(x))
    assert m.dim == 2 + 8 + 7 + 6
    theta = np.random.default_rng(0).normal(scale=0.5, size=m.dim)
    lp, g = m.logp_and_grad(theta)
    lp_np, g_np = m.logp_and_grad_numpy(theta)
    assert lp == pytest.approx(lp_np, rel=1e-10)
    np.testing.assert_allclose(g, g_np, rtol=1e-8, atol=1e-10)


@pytest.mark.slow
def test_hsgp_regression_nuts_runs():
    import inference

    x = np.linspace(-1.0, 1.0, 30)
    y = np.sin(3 * x) + 0.2 * np.random.default_rng(5).standard_normal(30)
    mcmc = inference.MCMC(inference.NUTS(hsgp_regression), num_warmup=200, num_samples=200,
                          num_chains=1, progress_bar=False)
    mcmc.run(0, x, y=y)
    samples = mcmc.get_samples()
    assert samples["f"].shape == (200, 30) and samples["beta"].shape == (200, 20)
    for v in samples.values():
        assert np.all(np.isfinite(v))
    rmse = np.sqrt(np.mean((samples["f"].mean(0) - np.sin(3 * x)) ** 2))
    assert rmse < 0.2


def test_hsgp_two_dimensional_squared_exponential_matches_the_kernel():
    g = np.linspace(-1.0, 1.0, 5)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    ls, ell, m = np.array([0.5, 0.8]), [3.5, 4.0], [40, 30]
    phi = np.asarray(hsgp.eigenfunctions(X, ell, m))
    spd = np.asarray(hsgp.diag_spectral_density_squared_exponential(1.3, ls, ell, m, 2))
    exact = 1.3 * np.asarray(ppl.gp.ExpQuad(2, ls=ls)(X))
    assert phi.shape == (25, 1200)
    assert np.abs((phi * spd) @ phi.T - exact).max() < 1e-3
