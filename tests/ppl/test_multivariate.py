"""Multivariate, transformed and mixture distributions against independent oracles.

Oracles: SciPy (``multivariate_normal``, ``multivariate_t``, ``dirichlet``, ``lognorm``, Gaussian
mixtures), the LKJ normalising constant of Lewandowski, Kurowicka and Joe (2009, eq. 16),
numerical integration, explicit formulas written with NumPy, and finite differences.
Statistical checks use fixed seeds and tolerances in Monte Carlo standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats
from scipy.special import betaln, logsumexp

import autodiff
import autodiff.numpy as anp
from ppl import constraints as C
from ppl import distributions as dist
from ppl import transforms as T

RNG = np.random.default_rng(20261126)
A = RNG.normal(size=(3, 3))
COV = A @ A.T + 0.5 * np.eye(3)
LOC = np.array([0.3, -1.0, 2.0])


def fd_grad(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def within_mc_error(samples, expected, n_se=4.5, axis=0):
    """|sample mean - expected| < n_se standard errors, elementwise."""
    mean = samples.mean(axis)
    se = samples.std(axis) / np.sqrt(samples.shape[axis])
    assert np.all(np.abs(mean - expected) < n_se * se + 1e-12), (mean, expected, se)


# ---- multivariate normal ----------------------------------------------------------------------


@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_mvn_log_prob_vs_scipy_in_every_parameterisation(param):
    value = {"covariance_matrix": COV, "precision_matrix": np.linalg.inv(COV),
             "scale_tril": np.linalg.cholesky(COV)}[param]
    d = dist.MultivariateNormal(LOC, **{param: value})
    x = RNG.normal(size=(5, 3))
    assert_allclose(d.log_prob(x), stats.multivariate_normal(LOC, COV).logpdf(x), rtol=1e-12)
    assert_allclose(d.covariance_matrix, COV, rtol=1e-10, atol=1e-12)
    assert_allclose(d.precision_matrix, np.linalg.inv(COV), rtol=1e-9, atol=1e-12)
    assert_allclose(d.scale_tril, np.linalg.cholesky(COV), rtol=1e-10, atol=1e-12)
    assert_allclose(d.variance, np.diag(COV), rtol=1e-12)
    assert_allclose(d.entropy(), stats.multivariate_normal(LOC, COV).entropy(), rtol=1e-12)


def test_mvn_batch_shapes_and_scalar_loc():
    covs = np.stack([COV, 2 * np.eye(3)])
    d = dist.MultivariateNormal(np.zeros((4, 1, 3)), covariance_matrix=covs)
    assert d.batch_shape == (4, 2) and d.event_shape == (3,)
    x = RNG.normal(size=(6, 4, 2, 3))
    lp = d.log_prob(x)
    assert lp.shape == (6, 4, 2)
    assert_allclose(lp[:, 0, 1], stats.multivariate_normal(np.zeros(3), 2 * np.eye(3)).logpdf(
        x[:, 0, 1]), rtol=1e-12)
    assert d.sample(0, (5,)).shape == (5, 4, 2, 3)
    assert dist.MultivariateNormal(1.5, scale_tril=np.eye(2)).mean.tolist() == [1.5, 1.5]


def test_mvn_sample_moments():
    d = dist.MultivariateNormal(LOC, covariance_matrix=COV)
    x = d.sample(np.random.default_rng(1), (20000,))
    within_mc_error(x, LOC)
    # Second moments: each centred product has its own standard error.
    c = x - LOC
    prods = c[:, :, None] * c[:, None, :]
    within_mc_error(prods.reshape(len(x), -1), COV.ravel())
    assert np.allclose(d.rsample(3, (2,)), d.sample(3, (2,)))


def test_mvn_gradient_vs_finite_differences():
    x = RNG.normal(size=(4, 3))
    L0 = np.linalg.cholesky(COV)

    def f(theta):  # loc and an unconstrained scale_tril
        L = T.LowerCholeskyTransform()(theta[3:])
        return anp.sum(dist.MultivariateNormal(theta[:3], scale_tril=L).log_prob(x))

    theta = np.concatenate([LOC, T.LowerCholeskyTransform().inverse(L0)])
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-7)

    def g(c):  # through the covariance parameterisation (Cholesky inside)
        cov = anp.reshape(c, (3, 3))
        cov = 0.5 * (cov + anp.transpose(cov))
        return anp.sum(dist.MultivariateNormal(LOC, covariance_matrix=cov).log_prob(x))

    assert_allclose(autodiff.grad(g)(COV.ravel()), fd_grad(g, COV.ravel()), rtol=1e-6,
                    atol=1e-7)


def test_mvn_argument_errors_name_the_problem():
    with pytest.raises(ValueError, match="exactly one of"):
        dist.MultivariateNormal(LOC, covariance_matrix=COV, scale_tril=np.eye(3))
    with pytest.raises(ValueError, match=r"square matrix, got shape \(3, 2\)"):
        dist.MultivariateNormal(LOC, covariance_matrix=np.ones((3, 2)))
    with pytest.raises(ValueError, match="'loc' of shape"):
        dist.MultivariateNormal(np.zeros(2), covariance_matrix=COV)
    with pytest.raises(ValueError, match="covariance_matrix"):
        dist.MultivariateNormal(LOC, covariance_matrix=-COV, validate_args=True)


# ---- low-rank multivariate normal -------------------------------------------------------------


def _low_rank(batch=(2,)):
    rng = np.random.default_rng(7)
    W = rng.normal(size=batch + (4, 2))
    D = rng.uniform(0.3, 2.0, size=batch + (4,))
    loc = rng.normal(size=(4,))
    return loc, W, D, W @ np.swapaxes(W, -1, -2) + D[..., None] * np.eye(4)


def test_low_rank_mvn_log_prob_vs_scipy_with_batches():
    loc, W, D, cov = _low_rank()
    d = dist.LowRankMultivariateNormal(loc, W, D)
    assert (d.batch_shape, d.event_shape) == ((2,), (4,))
    x = RNG.normal(size=(5, 2, 4)) * 2
    expected = np.stack([stats.multivariate_normal(loc, cov[b]).logpdf(x[:, b])
                         for b in range(2)], axis=1)
    assert_allclose(d.log_prob(x), expected, rtol=1e-12)
    assert_allclose(d.covariance_matrix, cov, rtol=1e-12)
    assert_allclose(d.precision_matrix, np.linalg.inv(cov), rtol=1e-10, atol=1e-12)
    assert_allclose(d.scale_tril, np.linalg.cholesky(cov), rtol=1e-12)
    assert_allclose(d.variance, np.diagonal(cov, 0, -2, -1), rtol=1e-12)
    assert_allclose(d.entropy(), [stats.multivariate_normal(loc, c).entropy() for c in cov],
                    rtol=1e-12)


def test_low_rank_mvn_sample_moments():
    loc, W, D, cov = _low_rank(())
    s = dist.LowRankMultivariateNormal(loc, W, D).sample(np.random.default_rng(3), (40000,))
    assert s.shape == (40000, 4)
    within_mc_error(s, loc)
    centred = s - loc
    within_mc_error(centred[:, :, None] * centred[:, None, :], cov)


def test_low_rank_mvn_gradient_vs_finite_differences():
    loc, W, D, _ = _low_rank(())
    x = RNG.normal(size=(3, 4))

    def f(w):
        return anp.sum(dist.LowRankMultivariateNormal(loc, w, D).log_prob(x))

    assert_allclose(autodiff.grad(f)(W), fd_grad(lambda w: float(f(w)), W), rtol=1e-6,
                    atol=1e-7)


def test_low_rank_mvn_argument_errors():
    with pytest.raises(ValueError, match="cov_diag"):
        dist.LowRankMultivariateNormal(np.zeros(3), np.ones((3, 1)), np.ones(2))
    with pytest.raises(ValueError, match="cov_factor"):
        dist.LowRankMultivariateNormal(np.zeros(3), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="cov_diag"):
        dist.LowRankMultivariateNormal(np.zeros(3), np.ones((3, 1)), -np.ones(3),
                                       validate_args=True)


# ---- multivariate Student-t -------------------------------------------------------------------


def test_mvt_log_prob_vs_scipy_and_moments():
    L = np.linalg.cholesky(COV)
    d = dist.MultivariateStudentT(7.0, LOC, L)
    x = RNG.normal(size=(5, 3)) * 3
    assert_allclose(d.log_prob(x), stats.multivariate_t(LOC, COV, df=7.0).logpdf(x), rtol=1e-12)
    s = d.sample(np.random.default_rng(2), (40000,))
    within_mc_error(s, LOC)
    within_mc_error((s - LOC) ** 2, 7.0 / 5.0 * np.diag(COV))
    assert_allclose(d.variance, 7.0 / 5.0 * np.diag(COV))
    heavy = dist.MultivariateStudentT(np.array([0.8, 1.5]), 0.0, np.eye(2))
    assert np.isnan(heavy.mean[0]).all() and np.isinf(heavy.variance[1]).all()


# ---- Dirichlet --------------------------------------------------------------------------------


def test_dirichlet_vs_scipy_and_moments():
    alpha = np.array([0.6, 2.0, 3.5])
    d = dist.Dirichlet(alpha)
    x = np.random.default_rng(3).dirichlet(alpha, 5)
    assert_allclose(d.log_prob(x), [stats.dirichlet(alpha).logpdf(v) for v in x], rtol=1e-12)
    s = d.sample(np.random.default_rng(4), (20000,))
    within_mc_error(s, alpha / alpha.sum())
    assert_allclose(d.variance, stats.dirichlet(alpha).var(), rtol=1e-12)
    tiny = dist.Dirichlet(np.full((2, 4), 0.01)).sample(5, (100,))
    assert tiny.shape == (100, 2, 4)
    assert np.all(np.isfinite(tiny)) and np.allclose(tiny.sum(-1), 1.0)


# ---- LKJ --------------------------------------------------------------------------------------


def log_lkj_constant(d, eta):
    """log of ∫ det(C)^(eta-1) dC, Lewandowski, Kurowicka and Joe (2009), eq. (16)."""
    k = np.arange(1, d)
    power = np.sum((2 * eta - 2 + d - k) * (d - k)) * np.log(2.0)
    b = eta + (d - k - 1) / 2
    return power + np.sum((d - k) * betaln(b, b))


def corr_chol_2d(r):
    return np.array([[1.0, 0.0], [r, np.sqrt(1 - r * r)]])


@pytest.mark.parametrize("eta", [0.7, 1.0, 2.5])
def test_lkj_cholesky_normalised_in_dimension_2(eta):
    """The density of r = L[1, 0] integrates to one over (-1, 1), and is ∝ (1 - r²)^(eta-1)."""
    d = dist.LKJCholesky(2, eta)
    dens = lambda r: np.exp(d.log_prob(corr_chol_2d(r)))  # noqa: E731
    total, _ = integrate.quad(dens, -1, 1)
    assert_allclose(total, 1.0, rtol=1e-7)
    r = np.array([-0.5, 0.1, 0.8])
    lp = np.array([d.log_prob(corr_chol_2d(v)) for v in r])
    assert_allclose(lp - lp[0], (eta - 1) * (np.log1p(-r**2) - np.log1p(-r[0] ** 2)), atol=1e-12)


@pytest.mark.parametrize("dim", [2, 3, 4, 5])
@pytest.mark.parametrize("eta", [0.5, 1.0, 3.0])
def test_lkj_log_prob_matches_the_published_constant(dim, eta):
    rng = np.random.default_rng(dim)
    L = T.CorrCholeskyTransform()(rng.normal(size=dim * (dim - 1) // 2))
    C = L @ L.T
    log_det = np.linalg.slogdet(C)[1]
    expected_C = (eta - 1) * log_det - log_lkj_constant(dim, eta)
    assert_allclose(dist.LKJ(dim, eta).log_prob(C), expected_C, rtol=1e-10, atol=1e-10)
    # On Cholesky factors: add log|dC/dL| = sum_j (d-1-j) log L_jj (strictly lower triangles).
    log_jac = np.sum(np.arange(dim - 1, -1, -1) * np.log(np.diag(L)))
    assert_allclose(dist.LKJCholesky(dim, eta).log_prob(L), expected_C + log_jac, rtol=1e-10,
                    atol=1e-10)


@pytest.mark.parametrize("eta", [0.8, 2.0])
def test_lkj_cholesky_sample_moments_dimension_2(eta):
    L = dist.LKJCholesky(2, eta).sample(np.random.default_rng(5), (20000,))
    assert np.all(dist.LKJCholesky(2, eta).support.check(L))
    r = L[:, 1, 0]
    within_mc_error(r, 0.0)
    within_mc_error(r**2, 1.0 / (2 * eta + 1))


def test_lkj_cholesky_sampler_marginals_in_dimension_4():
    """Each correlation of LKJ(d, eta) is 2 Beta(b, b) - 1 with b = eta - 1 + d/2 (LKJ 2009)."""
    dim, eta = 4, 1.5
    L = dist.LKJCholesky(dim, eta).sample(np.random.default_rng(6), (4000,))
    C = L @ np.swapaxes(L, -1, -2)
    assert_allclose(np.diagonal(C, 0, -2, -1), 1.0, atol=1e-12)
    b = eta - 1 + dim / 2
    for i, j in zip(*np.tril_indices(dim, -1)):
        p = stats.kstest((C[:, i, j] + 1) / 2, stats.beta(b, b).cdf).pvalue
        assert p > 1e-3, (i, j, p)


def test_lkj_log_prob_gradients_vs_finite_differences():
    x = np.array([0.3, -0.8, 1.1])
    t = T.CorrCholeskyTransform()

    def f(theta):  # the unconstrained log density NUTS sees, as a function of (x, eta)
        L = t(theta[:3])
        return (dist.LKJCholesky(3, theta[3]).log_prob(L)
                + t.log_abs_det_jacobian(theta[:3], L))

    theta = np.append(x, 1.7)
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-7)


def test_lkj_shapes_and_errors():
    d = dist.LKJCholesky(3, np.array([1.0, 2.0]))
    assert d.batch_shape == (2,) and d.event_shape == (3, 3)
    assert d.sample(0, (5,)).shape == (5, 2, 3, 3)
    assert d.log_prob(np.eye(3)).shape == (2,)
    with pytest.raises(ValueError, match="'dimension' must be an integer >= 2"):
        dist.LKJCholesky(1)
    assert_allclose(dist.LKJ(3, 2.0).mean, np.eye(3))


# ---- random walk and zero-sum normal ----------------------------------------------------------


def test_gaussian_random_walk_vs_cumulative_sum_normal():
    scale = np.array([0.5, 2.0])
    d = dist.GaussianRandomWalk(scale, num_steps=6)
    assert d.batch_shape == (2,) and d.event_shape == (6,)
    x = RNG.normal(size=(3, 2, 6)).cumsum(-1)
    steps = np.diff(x, axis=-1, prepend=0.0)
    expected = stats.norm(0, scale[:, None]).logpdf(steps).sum(-1)
    assert_allclose(d.log_prob(x), expected, rtol=1e-12)
    s = d.sample(np.random.default_rng(7), (20000,))
    within_mc_error(s**2, d.variance)
    assert_allclose(d.variance[1], 4.0 * np.arange(1, 7))


@pytest.mark.parametrize("event_shape", [(4,), (3, 5)])
def test_zero_sum_normal(event_shape):
    d = dist.ZeroSumNormal(np.array([1.0, 2.5]), event_shape)
    s = d.sample(np.random.default_rng(8), (20000,))
    assert s.shape == (20000, 2) + event_shape
    for axis in range(-len(event_shape), 0):
        assert_allclose(s.sum(axis), 0.0, atol=1e-12)
    assert np.all(d.support.check(s[:10]))
    within_mc_error(s**2, d.variance)
    # Oracle: the isometry ZeroSumTransform carries N(0, scale) on R^m onto the hyperplane.
    t = T.ZeroSumTransform(len(event_shape))
    z = RNG.normal(size=(3, 2) + tuple(n - 1 for n in event_shape))
    y = t(z)
    scale = np.array([1.0, 2.5]).reshape((2,) + (1,) * len(event_shape))
    expected = stats.norm(0, scale).logpdf(z).reshape(3, 2, -1).sum(-1)
    assert_allclose(d.log_prob(y), expected, rtol=1e-12)


# ---- transformed distributions ----------------------------------------------------------------


def test_transformed_normal_exp_is_lognormal():
    d = dist.TransformedDistribution(dist.Normal(0.3, 0.7), T.ExpTransform())
    x = np.array([0.1, 1.0, 4.0])
    assert_allclose(d.log_prob(x), stats.lognorm(0.7, scale=np.exp(0.3)).logpdf(x), rtol=1e-12)
    assert repr(d.support) == "positive"
    s = d.sample(np.random.default_rng(9), (20000,))
    assert np.all(s > 0)
    within_mc_error(np.log(s), 0.3)


def test_transformed_affine_chain_and_vector_transform_event_dims():
    d = dist.TransformedDistribution(
        dist.Normal(np.zeros(2), 1.0), [T.AffineTransform(1.0, -2.0), T.AffineTransform(0.5, 3.0)]
    )
    x = np.array([0.2, -4.0])
    assert_allclose(d.log_prob(x), stats.norm(3.5, 6.0).logpdf(x), rtol=1e-12)
    # An elementwise base under stick-breaking: the base is reinterpreted as one event.
    sb = T.StickBreakingTransform()
    d = dist.TransformedDistribution(dist.Normal(np.zeros(3), 1.5), sb)
    assert d.batch_shape == () and d.event_shape == (4,)
    u = np.array([0.3, -0.2, 1.0])
    y = sb(u)
    expected = stats.norm(0, 1.5).logpdf(u).sum() - sb.log_abs_det_jacobian(u, y)
    assert_allclose(d.log_prob(y), expected, rtol=1e-12)
    assert d.sample(0, (7,)).shape == (7, 4)


# ---- mixtures ---------------------------------------------------------------------------------

W = np.array([0.2, 0.3, 0.5])
MU = np.array([-2.0, 0.0, 3.0])
SD = np.array([1.0, 0.5, 2.0])


def gaussian_mixture_logpdf(x):
    return np.log(np.sum(W * stats.norm(MU, SD).pdf(np.asarray(x)[..., None]), -1))


def test_mixture_same_family_vs_scipy_and_logsumexp():
    d = dist.MixtureSameFamily(dist.Categorical(probs=W), dist.Normal(MU, SD))
    x = np.linspace(-5, 6, 7)
    assert_allclose(d.log_prob(x), gaussian_mixture_logpdf(x), rtol=1e-12)
    direct = logsumexp(np.log(W) + stats.norm(MU, SD).logpdf(x[:, None]), axis=-1)
    assert_allclose(d.log_prob(x), direct, rtol=1e-12)
    d_logits = dist.MixtureSameFamily(dist.Categorical(logits=np.log(W) + 3.0),
                                      dist.Normal(MU, SD))
    assert_allclose(d_logits.log_prob(x), direct, rtol=1e-12)
    s = d.sample(np.random.default_rng(10), (40000,))
    within_mc_error(s, np.sum(W * MU))
    within_mc_error((s - d.mean) ** 2, d.variance)
    assert_allclose(d.variance, np.sum(W * (SD**2 + MU**2)) - np.sum(W * MU) ** 2)


def test_mixture_same_family_multivariate_components_and_batches():
    locs = np.array([[0.0, 0.0], [2.0, -1.0]])
    comp = dist.MultivariateNormal(locs, covariance_matrix=np.stack([np.eye(2), COV[:2, :2]]))
    d = dist.MixtureSameFamily(dist.Categorical(probs=np.array([0.4, 0.6])), comp)
    assert d.batch_shape == () and d.event_shape == (2,)
    x = RNG.normal(size=(5, 2))
    expected = np.log(0.4 * stats.multivariate_normal(locs[0], np.eye(2)).pdf(x)
                      + 0.6 * stats.multivariate_normal(locs[1], COV[:2, :2]).pdf(x))
    assert_allclose(d.log_prob(x), expected, rtol=1e-12)
    assert d.sample(0, (3,)).shape == (3, 2)
    batched = dist.MixtureSameFamily(dist.Categorical(probs=np.tile(W, (4, 1))),
                                     dist.Normal(MU, SD))
    assert batched.batch_shape == (4,) and batched.sample(0, (2,)).shape == (2, 4)
    with pytest.raises(ValueError, match="must end in the number of components 3"):
        dist.MixtureSameFamily(dist.Categorical(probs=W), dist.Normal(np.zeros(2), 1.0))


def test_mixture_general_vs_direct_logsumexp():
    comps = [dist.Normal(-1.0, 0.5), dist.StudentT(3.0, 2.0, 1.5), dist.Normal(4.0, 1.0)]
    d = dist.MixtureGeneral(dist.Categorical(probs=W), comps)
    x = np.linspace(-3, 6, 5)
    lps = np.stack([stats.norm(-1, 0.5).logpdf(x), stats.t(3.0, 2.0, 1.5).logpdf(x),
                    stats.norm(4, 1).logpdf(x)], -1)
    assert_allclose(d.log_prob(x), logsumexp(np.log(W) + lps, axis=-1), rtol=1e-12)
    s = d.sample(np.random.default_rng(11), (40000,))
    within_mc_error(s, d.mean)
    same = dist.MixtureGeneral(dist.Categorical(probs=W), [dist.Normal(m, s) for m, s in
                                                           zip(MU, SD)])
    assert_allclose(same.log_prob(x), gaussian_mixture_logpdf(x), rtol=1e-12)
    assert_allclose(same.variance, np.sum(W * (SD**2 + MU**2)) - np.sum(W * MU) ** 2)


def test_mixture_gradient_vs_finite_differences():
    x = np.array([-1.0, 0.5, 2.5])

    def f(theta):
        mix = dist.Categorical(logits=theta[:3])
        return anp.sum(dist.MixtureSameFamily(mix, dist.Normal(theta[3:], SD)).log_prob(x))

    theta = np.concatenate([np.log(W), MU])
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "make,value",
    [
        (lambda: dist.MultivariateNormal(LOC, covariance_matrix=COV), LOC + 0.5),
        (lambda: dist.MultivariateNormal(LOC, precision_matrix=np.linalg.inv(COV)), LOC - 0.5),
        (lambda: dist.MultivariateStudentT(4.0, LOC, np.linalg.cholesky(COV)), LOC + 0.5),
        (lambda: dist.Dirichlet(np.array([0.5, 1.0, 2.0])), np.array([0.2, 0.3, 0.5])),
        (lambda: dist.LKJCholesky(3, 2.0), T.CorrCholeskyTransform()(np.array([0.3, -1, 2.0]))),
        (lambda: dist.GaussianRandomWalk(0.7, 3), np.array([0.1, -0.4, 0.3])),
        (lambda: dist.ZeroSumNormal(1.3, (3,)), np.array([0.5, -0.2, -0.3])),
        (lambda: dist.MixtureSameFamily(dist.Categorical(probs=W), dist.Normal(MU, SD)), 0.3),
    ],
    ids=["mvn", "mvn_precision", "mvt", "dirichlet", "lkj_cholesky", "grw", "zsn", "mixture"],
)
def test_log_prob_stages_to_a_graph(make, value):
    """log_prob has no Python control flow on values: it stages and re-evaluates exactly."""
    d = make()
    graph = autodiff.make_graph(d.log_prob)(np.asarray(value, dtype=float))
    assert_allclose(autodiff.eval_graph(graph, np.asarray(value, dtype=float))[0],
                    d.log_prob(value), rtol=1e-13)


def test_traced_parameters_stage_and_differentiate():
    """Parameters that are traced values (other sample sites), as in a model's log density."""
    x = np.array([[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]])

    def logp(theta):
        L = T.LowerCholeskyTransform()(theta[3:9])
        lp = anp.sum(dist.MultivariateNormal(theta[:3], scale_tril=L).log_prob(x))
        lp = lp + anp.sum(dist.MultivariateNormal(
            theta[:3], precision_matrix=L @ anp.transpose(L)).log_prob(x))
        lp = lp + dist.MultivariateStudentT(anp.exp(theta[0]), theta[:3], L).log_prob(x[0])
        lp = lp + dist.LKJCholesky(3, anp.exp(theta[0])).log_prob(
            T.CorrCholeskyTransform()(theta[3:6]))
        lp = lp + dist.Dirichlet(anp.exp(theta[:3])).log_prob(
            T.StickBreakingTransform()(theta[3:5]))
        lp = lp + dist.GaussianRandomWalk(anp.exp(theta[1]), 3).log_prob(x[1])
        lp = lp + dist.ZeroSumNormal(anp.exp(theta[1]), 4).log_prob(
            T.ZeroSumTransform()(theta[:3]))
        lp = lp + dist.MixtureSameFamily(dist.Categorical(logits=theta[:3]),
                                         dist.Normal(theta[3:6], 1.0)).log_prob(0.5)
        lp = lp + dist.MixtureGeneral(
            dist.Categorical(logits=theta[:2]),
            [dist.Normal(theta[3], 1.0), dist.StudentT(3.0, theta[4], 1.0)]).log_prob(0.5)
        t = T.biject_to(C.interval(theta[2], theta[2] + anp.exp(theta[3])))
        return lp + dist.TransformedDistribution(dist.Normal(theta[0], anp.exp(theta[1])),
                                                 t).log_prob(theta[2] + 0.5 * anp.exp(theta[3]))

    theta = np.random.default_rng(12).normal(size=9) * 0.5
    graph = autodiff.make_graph(autodiff.value_and_grad(logp))(theta)
    value, grad = autodiff.eval_graph(graph, theta)
    assert_allclose(value, logp(theta), rtol=1e-13)
    assert_allclose(grad, fd_grad(logp, theta), rtol=1e-6, atol=1e-7)
