"""Matrix, spatial, time-series, directional and copula distributions against independent oracles.

Oracles: SciPy (``wishart``, ``invwishart``, ``matrix_normal``, ``multivariate_normal`` of the
equivalent dense Gaussian for CAR / GaussianStateSpace / GaussianCopula), numerical integration
(normalisation on the circle, sphere and torus, moments of directional laws), mpmath, explicit
recursions written with NumPy, and central finite differences.  Statistical checks use fixed
seeds and tolerances in Monte Carlo standard errors.  The last tests compile every class inside
a model and compare the compiled log density and gradient with the eager NumPy path.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.sparse as sparse
from numpy.testing import assert_allclose
from scipy import integrate, stats

import autodiff
import autodiff.numpy as anp
import ppl
from ppl import constraints as C
from ppl import distributions as dist
from ppl import transforms as T
from ppl.model import compile_model
from tests.ppl.test_multivariate import fd_grad, within_mc_error

RNG = np.random.default_rng(20261203)
_B = RNG.normal(size=(3, 3))
S3 = _B @ _B.T + 0.5 * np.eye(3)
L3 = np.linalg.cholesky(S3)




def chol_jacobian(L):
    """log |d(LL^T)/dL| on lower triangles: p log 2 + sum_j (p - j) log L_jj."""
    p = L.shape[-1]
    return p * np.log(2.0) + np.sum(np.arange(p, 0, -1) * np.log(np.diagonal(L, 0, -2, -1)), -1)


# ---- Wishart family ---------------------------------------------------------------------------


@pytest.mark.parametrize("param", ["scale_matrix", "rate_matrix", "scale_tril"])
def test_wishart_and_inverse_wishart_log_prob_vs_scipy(param):
    value = {"scale_matrix": S3, "rate_matrix": np.linalg.inv(S3), "scale_tril": L3}[param]
    X = stats.wishart(7.0, S3).rvs(5, random_state=1)
    w = dist.Wishart(7.0, **{param: value})
    assert w.batch_shape == () and w.event_shape == (3, 3)
    assert_allclose(w.log_prob(X), stats.wishart(7.0, S3).logpdf(np.moveaxis(X, 0, -1)),
                    rtol=1e-11)
    iw = dist.InverseWishart(4.5, **{param: value})
    assert_allclose(iw.log_prob(X), stats.invwishart(4.5, S3).logpdf(np.moveaxis(X, 0, -1)),
                    rtol=1e-11)
    for d in (w, iw):
        assert_allclose(d.scale_matrix, S3, rtol=1e-10)
        assert_allclose(d.rate_matrix, np.linalg.inv(S3), rtol=1e-9)
        assert_allclose(d.scale_tril, L3, rtol=1e-10, atol=1e-12)
    # The Cholesky versions: the matrix density plus the Jacobian of L -> LL^T.
    L = np.linalg.cholesky(X)
    assert_allclose(dist.WishartCholesky(7.0, **{param: value}).log_prob(L),
                    w.log_prob(X) + chol_jacobian(L), rtol=1e-11)
    assert_allclose(dist.InverseWishartCholesky(4.5, **{param: value}).log_prob(L),
                    iw.log_prob(X) + chol_jacobian(L), rtol=1e-11)


def test_wishart_batches_broadcast_concentration_and_scale():
    scales = np.stack([S3, 2.0 * np.eye(3)])
    d = dist.Wishart(np.array([[4.0], [6.0]]), scale_matrix=scales)
    assert d.batch_shape == (2, 2) and d.event_shape == (3, 3)
    X = stats.wishart(6.0, S3).rvs(4, random_state=2)
    lp = d.log_prob(X[:, None, None])
    assert lp.shape == (4, 2, 2)
    assert_allclose(lp[:, 1, 1], stats.wishart(6.0, 2 * np.eye(3)).logpdf(np.moveaxis(X, 0, -1)),
                    rtol=1e-11)
    assert d.sample(0, (5,)).shape == (5, 2, 2, 3, 3)
    assert dist.InverseWishartCholesky(5.0, scale_tril=L3).sample(0, (2, 3)).shape == (2, 3, 3, 3)


def test_wishart_moments_and_entropy_vs_scipy():
    d = dist.Wishart(6.0, scale_matrix=S3)
    assert_allclose(d.mean, stats.wishart(6.0, S3).mean(), rtol=1e-12)
    assert_allclose(d.variance, stats.wishart(6.0, S3).var(), rtol=1e-12)
    assert_allclose(d.entropy(), stats.wishart(6.0, S3).entropy(), rtol=1e-11)
    s = d.sample(np.random.default_rng(3), (20000,))
    assert np.all(C.positive_definite.check(s[:50]))
    within_mc_error(s.reshape(len(s), -1), d.mean.ravel())
    iw = dist.InverseWishart(8.0, scale_matrix=S3)
    assert_allclose(iw.mean, stats.invwishart(8.0, S3).mean(), rtol=1e-12)
    s = iw.sample(np.random.default_rng(4), (20000,))
    within_mc_error(s.reshape(len(s), -1), iw.mean.ravel())
    heavy = dist.InverseWishart(np.array([3.5, 5.0]), scale_matrix=S3)
    assert np.isnan(heavy.mean[0]).all() and np.isfinite(heavy.mean[1]).all()
    assert np.isnan(heavy.variance).all()


def test_inverse_wishart_variance_vs_scipy_draws():
    """Gupta and Nagar's formula (NumPyro 0.22's differs off the diagonal), against the
    variance of SciPy's draws: the sample variance has its own standard error."""
    nu = 14.0
    d = dist.InverseWishart(nu, scale_matrix=S3)
    X = stats.invwishart(nu, S3).rvs(100000, random_state=5)
    c = (X - d.mean) ** 2
    within_mc_error(c.reshape(len(c), -1), d.variance.ravel())


@pytest.mark.parametrize("cls", [dist.WishartCholesky, dist.InverseWishartCholesky])
def test_cholesky_versions_sample_moments(cls):
    d = cls(7.0, scale_matrix=S3)
    L = d.sample(np.random.default_rng(6), (40000,))
    assert np.all(C.lower_cholesky.check(L[:50]))
    within_mc_error(L.reshape(len(L), -1), np.asarray(d.mean).ravel())
    if cls is dist.WishartCholesky:
        c = (L - d.mean) ** 2
        within_mc_error(c.reshape(len(c), -1), d.variance.ravel())
    # LL^T has the matrix law's mean.
    X = L @ np.swapaxes(L, -1, -2)
    target = (stats.wishart(7.0, S3) if cls is dist.WishartCholesky
              else stats.invwishart(7.0, S3)).mean()
    within_mc_error(X.reshape(len(X), -1), target.ravel())


def test_wishart_gradients_vs_finite_differences():
    X = stats.wishart(6.0, S3).rvs(3, random_state=7)
    t = T.LowerCholeskyTransform()

    def f(theta):
        L = t(theta[1:])
        return anp.sum(dist.Wishart(theta[0], scale_tril=L).log_prob(X))

    def g(theta):
        L = t(theta[1:])
        return anp.sum(dist.InverseWishartCholesky(theta[0], rate_matrix=L @ anp.transpose(L))
                       .log_prob(np.linalg.cholesky(X)))

    theta = np.concatenate([[5.5], t.inverse(L3)])
    for fn in (f, g):
        assert_allclose(autodiff.grad(fn)(theta), fd_grad(fn, theta), rtol=1e-6, atol=1e-6)


def test_wishart_rsample_is_pathwise_in_the_scale():
    t = T.LowerCholeskyTransform()

    def f(u):
        return anp.sum(dist.Wishart(5.0, scale_tril=t(u)).rsample(np.random.default_rng(8), (3,)))

    u = t.inverse(L3)
    assert_allclose(autodiff.grad(f)(u), fd_grad(f, u), rtol=1e-6, atol=1e-6)


def test_wishart_errors_name_the_parameter():
    with pytest.raises(ValueError, match="exactly one of scale_matrix, rate_matrix or scale_tril"):
        dist.Wishart(5.0, scale_matrix=S3, scale_tril=L3)
    with pytest.raises(ValueError, match=r"'rate_matrix' must be a \(batch of\) square matrix"):
        dist.Wishart(5.0, rate_matrix=np.ones((3, 2)))
    with pytest.raises(ValueError, match="'concentration' = 1.5 violates constraint"):
        dist.Wishart(1.5, scale_matrix=S3, validate_args=True)
    with pytest.raises(ValueError, match="'scale_matrix'"):
        dist.InverseWishart(5.0, scale_matrix=-S3, validate_args=True)
    with pytest.raises(ValueError, match=r"concentration \(2,\), scale_matrix \(3,\)"):
        dist.Wishart(np.ones(2) * 5, scale_matrix=np.stack([S3] * 3))


# ---- matrix normal ----------------------------------------------------------------------------


def test_matrix_normal_vs_scipy_and_moments():
    n, p = 3, 2
    M = RNG.normal(size=(n, p))
    Lr = L3
    Lc = np.array([[1.5, 0.0], [-0.4, 0.7]])
    d = dist.MatrixNormal(M, Lr, Lc)
    assert d.batch_shape == () and d.event_shape == (n, p)
    X = RNG.normal(size=(4, n, p))
    ref = stats.matrix_normal(M, rowcov=Lr @ Lr.T, colcov=Lc @ Lc.T)
    assert_allclose(d.log_prob(X), ref.logpdf(X), rtol=1e-11)
    # vec(X) ~ N(vec M, V kron U), vec stacking columns.
    vec = stats.multivariate_normal(M.T.ravel(), np.kron(Lc @ Lc.T, Lr @ Lr.T))
    assert_allclose(d.log_prob(X), vec.logpdf(np.swapaxes(X, -1, -2).reshape(4, -1)), rtol=1e-11)
    assert_allclose(d.variance, np.outer(np.diag(Lr @ Lr.T), np.diag(Lc @ Lc.T)), rtol=1e-12)
    s = d.sample(np.random.default_rng(9), (20000,))
    within_mc_error(s.reshape(len(s), -1), M.ravel())
    within_mc_error(((s - M) ** 2).reshape(len(s), -1), d.variance.ravel())
    batched = dist.MatrixNormal(np.zeros((5, 1, n, p)), np.stack([Lr, 2 * Lr]), Lc)
    assert batched.batch_shape == (5, 2) and batched.log_prob(X[:, None, None]).shape == (4, 5, 2)
    assert_allclose(batched.log_prob(X[0])[0, 1], stats.matrix_normal(
        np.zeros((n, p)), rowcov=4 * Lr @ Lr.T, colcov=Lc @ Lc.T).logpdf(X[0]), rtol=1e-11)
    with pytest.raises(ValueError, match=r"'scale_tril_column' of shape \(3, 3\) does not match "
                                         r"the 2 columns"):
        dist.MatrixNormal(M, Lr, Lr)


def test_matrix_normal_gradients_vs_finite_differences():
    X = RNG.normal(size=(2, 3, 2))
    t = T.LowerCholeskyTransform()

    def f(theta):
        loc = anp.reshape(theta[:6], (3, 2))
        return anp.sum(dist.MatrixNormal(loc, t(theta[6:12]), t(theta[12:])).log_prob(X))

    theta = RNG.normal(size=15) * 0.5
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-6)


# ---- CAR --------------------------------------------------------------------------------------

ADJ = np.array([
    [0, 1, 1, 0, 0],
    [1, 0, 1, 1, 0],
    [1, 1, 0, 0, 1],
    [0, 1, 0, 0, 1],
    [0, 0, 1, 1, 0],
], dtype=float)


def car_dense(loc, alpha, tau, W):
    Q = tau * (np.diag(W.sum(-1)) - alpha * W)
    return stats.multivariate_normal(np.broadcast_to(loc, W.shape[-1]), np.linalg.inv(Q))


@pytest.mark.parametrize("adj", ["dense", "sparse", "scipy_sparse"])
def test_car_log_prob_vs_dense_gaussian(adj):
    W = sparse.csr_matrix(ADJ) if adj == "scipy_sparse" else ADJ
    loc = np.array([0.1, -0.2, 0.3, 0.0, 0.5])
    x = RNG.normal(size=(4, 5))
    for alpha in (-0.6, 0.0, 0.95):
        d = dist.CAR(loc, alpha, 2.5, W, is_sparse=adj != "dense")
        assert d.batch_shape == () and d.event_shape == (5,)
        assert_allclose(d.log_prob(x), car_dense(loc, alpha, 2.5, ADJ).logpdf(x), rtol=1e-11)
        assert_allclose(d.precision_matrix, 2.5 * (np.diag(ADJ.sum(-1)) - alpha * ADJ))


def test_car_batched_parameters_weighted_adjacency_and_moments():
    Ww = ADJ * np.array([1.0, 2.0, 0.5, 1.5, 1.0])[:, None]
    Ww = Ww + Ww.T
    alpha = np.array([0.2, 0.7])
    d = dist.CAR(0.0, alpha, np.array([[1.0], [3.0]]), Ww, is_sparse=True)
    assert d.batch_shape == (2, 2)
    x = RNG.normal(size=(3, 1, 1, 5))
    lp = d.log_prob(x)
    assert lp.shape == (3, 2, 2)
    assert_allclose(lp[:, 1, 0], car_dense(0.0, 0.2, 3.0, Ww).logpdf(x[:, 0, 0]), rtol=1e-11)
    assert_allclose(dist.CAR(0.0, alpha, 1.0, Ww).log_prob(x[:, 0]), lp[:, 0], rtol=1e-12)
    s = dist.CAR(1.0, 0.8, 2.0, ADJ).sample(np.random.default_rng(10), (20000,))
    cov = np.linalg.inv(2.0 * (np.diag(ADJ.sum(-1)) - 0.8 * ADJ))
    within_mc_error(s, 1.0)
    within_mc_error((s - 1.0) ** 2, np.diag(cov))
    assert_allclose(dist.CAR(1.0, 0.8, 2.0, ADJ).variance, np.diag(cov), rtol=1e-12)


def test_car_traced_adjacency_uses_the_cholesky_determinant():
    """An adjacency that is a graph input (model data) gives the same density."""
    x = RNG.normal(size=5)

    def logp(alpha, W):
        return dist.CAR(0.2, alpha, 1.7, W).log_prob(x)

    graph = autodiff.make_graph(logp)(0.4, ADJ)
    assert_allclose(autodiff.eval_graph(graph, 0.4, ADJ)[0], car_dense(0.2, 0.4, 1.7, ADJ).logpdf(x),
                    rtol=1e-11)


def test_car_rsample_is_pathwise_and_entropy_matches():
    def f(theta):
        d = dist.CAR(theta[1:], anp.tanh(theta[0]), 2.0, ADJ, is_sparse=True)
        return anp.sum(anp.sin(d.rsample(np.random.default_rng(23), (3,))))

    theta = RNG.normal(size=6) * 0.5
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-7)
    d = dist.CAR(0.0, 0.6, 2.5, ADJ, is_sparse=True)
    assert_allclose(d.entropy(), car_dense(0.0, 0.6, 2.5, ADJ).entropy(), rtol=1e-12)
    s = d.rsample(np.random.default_rng(24), (20000,))
    within_mc_error(s**2, np.diag(np.linalg.inv(d.precision_matrix)))


def test_car_gradients_vs_finite_differences():
    x = RNG.normal(size=(2, 5))

    def f(theta):
        alpha = anp.tanh(theta[0])
        return anp.sum(dist.CAR(theta[2:], alpha, anp.exp(theta[1]), ADJ, is_sparse=True)
                       .log_prob(x))

    theta = RNG.normal(size=7) * 0.5
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-7)


def test_car_errors_name_the_problem():
    with pytest.raises(ValueError, match="must be symmetric"):
        dist.CAR(0.0, 0.5, 1.0, np.triu(ADJ))
    lonely = ADJ.copy()
    lonely[4] = lonely[:, 4] = 0.0
    with pytest.raises(ValueError, match=r"needs a neighbour.*\[\[4\]\]"):
        dist.CAR(0.0, 0.5, 1.0, lonely)
    with pytest.raises(ValueError, match="pass is_sparse=True"):
        dist.CAR(0.0, 0.5, 1.0, sparse.csr_matrix(ADJ))
    with pytest.raises(ValueError, match=r"'loc' of shape \(4,\) does not match the 5 sites"):
        dist.CAR(np.zeros(4), 0.5, 1.0, ADJ)
    with pytest.raises(ValueError, match="'correlation' = 1.5 violates"):
        dist.CAR(0.0, 1.5, 1.0, ADJ, validate_args=True)
    with pytest.raises(ValueError, match="must be concrete"):
        autodiff.make_graph(lambda W: dist.CAR(0.0, 0.5, 1.0, W, is_sparse=True).log_prob(
            np.zeros(5)))(ADJ)


# ---- circulant normal -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 6])
def test_circulant_normal_vs_dense_gaussian_both_parameterisations(n):
    k = np.arange(n)
    row = np.exp(-np.minimum(k, n - k) ** 2 / 3.0)
    row[0] += 0.2
    index = (k[None, :] - k[:, None]) % n
    cov = row[index]
    loc = np.linspace(-1.0, 1.0, n)
    ref = stats.multivariate_normal(loc, cov)
    x = RNG.normal(size=(4, n))
    rfft = np.fft.rfft(row).real
    for d in (dist.CirculantNormal(loc, covariance_row=row),
              dist.CirculantNormal(loc, covariance_rfft=rfft)):
        assert d.batch_shape == () and d.event_shape == (n,)
        assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-11)
        assert_allclose(d.covariance_row, row, atol=1e-13)
        assert_allclose(d.covariance_rfft, rfft, rtol=1e-12)
        assert_allclose(d.covariance_matrix, cov, atol=1e-13)
        assert_allclose(d.entropy(), ref.entropy(), rtol=1e-12)
        assert_allclose(d.variance, np.full(n, row[0]), rtol=1e-12)
    for method in ("sample", "rsample"):
        s = getattr(d, method)(np.random.default_rng(21), (20000,))
        within_mc_error(s, loc)
        c = s - loc
        prods = (c[:, :, None] * c[:, None, :]).reshape(len(s), -1)
        within_mc_error(prods, cov.ravel())
    batched = dist.CirculantNormal(np.zeros((3, 1, n)), covariance_row=np.stack([row, 2 * row]))
    assert batched.batch_shape == (3, 2) and batched.sample(0, (4,)).shape == (4, 3, 2, n)
    assert_allclose(batched.log_prob(x[0])[0, 1],
                    stats.multivariate_normal(np.zeros(n), 2 * cov).logpdf(x[0]), rtol=1e-11)


def test_circulant_normal_errors_and_constraint():
    with pytest.raises(ValueError, match="exactly one of covariance_row or covariance_rfft"):
        dist.CirculantNormal(np.zeros(4))
    with pytest.raises(ValueError, match=r"'covariance_rfft' of shape \(4,\) must end in "
                                         r"n // 2 \+ 1 = 3"):
        dist.CirculantNormal(np.zeros(4), covariance_rfft=np.ones(4))
    check = C.positive_definite_circulant_vector.check
    assert check(np.array([[2.0, 0.5, 0.1, 0.5], [2.0, 0.5, 0.1, 0.4], [1.0, 1.0, 1.0, 1.0]])
                 ).tolist() == [True, False, False]


# ---- Gaussian state space and Euler-Maruyama --------------------------------------------------

A2 = np.array([[0.8, 0.1], [-0.2, 0.5]])
_B2 = RNG.normal(size=(2, 2))
S2 = _B2 @ _B2.T + 0.5 * np.eye(2)


def gss_dense(T_, A, S, z0):
    """The stacked states as one Gaussian: z = m + M eps, M block lower-triangular in A^(t-s)."""
    k = A.shape[0]
    M = np.zeros((T_ * k, T_ * k))
    m = np.zeros(T_ * k)
    for t in range(T_):
        for s in range(t + 1):
            M[t * k:(t + 1) * k, s * k:(s + 1) * k] = np.linalg.matrix_power(A, t - s)
        m[t * k:(t + 1) * k] = np.linalg.matrix_power(A, t + 1) @ z0
    return m, M @ np.kron(np.eye(T_), S) @ M.T


@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_gaussian_state_space_vs_dense_gaussian(param):
    value = {"covariance_matrix": S2, "precision_matrix": np.linalg.inv(S2),
             "scale_tril": np.linalg.cholesky(S2)}[param]
    z0 = np.array([1.0, -0.5])
    d = dist.GaussianStateSpace(5, A2, initial_value=z0, **{param: value})
    assert d.batch_shape == () and d.event_shape == (5, 2)
    m, cov = gss_dense(5, A2, S2, z0)
    x = RNG.normal(size=(3, 5, 2))
    assert_allclose(d.log_prob(x), stats.multivariate_normal(m, cov).logpdf(x.reshape(3, -1)),
                    rtol=1e-11)
    assert_allclose(d.mean.ravel(), m, rtol=1e-12, atol=1e-14)
    assert_allclose(d.variance.ravel(), np.diag(cov), rtol=1e-12)
    assert_allclose(d.covariance_matrix, S2, rtol=1e-10)


def test_gaussian_state_space_samples_batches_and_one_step():
    d = dist.GaussianStateSpace(4, A2, covariance_matrix=S2)
    s = d.sample(np.random.default_rng(11), (20000,))
    assert s.shape == (20000, 4, 2)
    m, cov = gss_dense(4, A2, S2, np.zeros(2))
    within_mc_error(s.reshape(len(s), -1), 0.0)
    within_mc_error(s.reshape(len(s), -1) ** 2, np.diag(cov))
    batched = dist.GaussianStateSpace(3, A2, scale_tril=np.linalg.cholesky(S2),
                                      initial_value=np.array([[1.0, 0.0], [0.0, 2.0]]))
    assert batched.batch_shape == (2,) and batched.sample(0, (5,)).shape == (5, 2, 3, 2)
    x = RNG.normal(size=(3, 2))
    m1, c1 = gss_dense(3, A2, S2, np.array([0.0, 2.0]))
    assert_allclose(batched.log_prob(x)[1], stats.multivariate_normal(m1, c1).logpdf(x.ravel()),
                    rtol=1e-11)
    one = dist.GaussianStateSpace(1, A2, covariance_matrix=S2)
    assert_allclose(one.log_prob(x[:1]), stats.multivariate_normal(np.zeros(2), S2).logpdf(x[0]),
                    rtol=1e-12)
    with pytest.raises(ValueError, match="'num_steps' must be a positive integer"):
        dist.GaussianStateSpace(0, A2, covariance_matrix=S2)
    with pytest.raises(ValueError, match=r"'covariance_matrix' of shape \(3, 3\) does not match"):
        dist.GaussianStateSpace(3, A2, covariance_matrix=S3)


def test_gaussian_state_space_gradients_and_rsample():
    x = RNG.normal(size=(2, 4, 2))
    t = T.LowerCholeskyTransform()

    def f(theta):
        A = anp.reshape(theta[:4], (2, 2))
        return anp.sum(dist.GaussianStateSpace(4, A, scale_tril=t(theta[4:7]),
                                               initial_value=theta[7:]).log_prob(x))

    theta = np.concatenate([A2.ravel(), t.inverse(np.linalg.cholesky(S2)), [0.3, -0.2]])
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-7)

    def r(theta):
        A = anp.reshape(theta[:4], (2, 2))
        d = dist.GaussianStateSpace(4, A, scale_tril=t(theta[4:7]), initial_value=theta[7:])
        return anp.sum(anp.sin(d.rsample(np.random.default_rng(12), (2,))))

    assert_allclose(autodiff.grad(r)(theta), fd_grad(r, theta), rtol=1e-6, atol=1e-7)


def ou_drift(theta, sigma):
    return lambda x, t: (-theta * x, sigma)


def test_euler_maruyama_vs_explicit_normal_steps():
    t = np.array([0.0, 0.1, 0.3, 0.35, 0.8])
    d = dist.EulerMaruyama(t, ou_drift(2.0, 0.5), dist.Normal(1.0, 0.3))
    assert d.batch_shape == () and d.event_shape == (5,)
    x = RNG.normal(size=(3, 5))
    dt = np.diff(t)
    ref = stats.norm(1.0, 0.3).logpdf(x[:, 0]) + stats.norm(
        x[:, :-1] - 2.0 * x[:, :-1] * dt, 0.5 * np.sqrt(dt)).logpdf(x[:, 1:]).sum(-1)
    assert_allclose(d.log_prob(x), ref, rtol=1e-12)
    # Vector state and time-dependent coefficients, with a batch of initial laws.
    sde = lambda x, s: (anp.stack([x[1], -x[0]]), 0.2 + s)  # noqa: E731
    init = dist.MultivariateNormal(np.zeros((2, 2)), covariance_matrix=np.eye(2))
    d = dist.EulerMaruyama(t, sde, init)
    assert d.batch_shape == (2,) and d.event_shape == (5, 2)
    x = RNG.normal(size=(3, 2, 5, 2))
    mu = x[..., :-1, :] + dt[:, None] * np.stack([x[..., :-1, 1], -x[..., :-1, 0]], -1)
    sd = (0.2 + t[:-1])[:, None] * np.sqrt(dt)[:, None]
    ref = (stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(x[..., 0, :])
           + stats.norm(mu, sd).logpdf(x[..., 1:, :]).sum((-1, -2)))
    assert_allclose(d.log_prob(x), ref, rtol=1e-12)
    assert d.sample(0, (4,)).shape == (4, 2, 5, 2)


def test_euler_maruyama_sample_moments_match_the_linear_recursion():
    """For the OU drift the scheme is x_i = a_i x_(i-1) + sigma sqrt(dt_i) e_i, a_i = 1 - theta dt_i."""
    t = np.linspace(0.0, 1.0, 6)
    d = dist.EulerMaruyama(t, ou_drift(1.5, 0.7), dist.Normal(2.0, 0.5))
    s = d.sample(np.random.default_rng(13), (20000,))
    mean, var = [2.0], [0.25]
    for dt in np.diff(t):
        a = 1.0 - 1.5 * dt
        mean.append(a * mean[-1])
        var.append(a * a * var[-1] + 0.49 * dt)
    within_mc_error(s, np.array(mean))
    within_mc_error((s - np.array(mean)) ** 2, np.array(var))


def test_euler_maruyama_gradient_through_a_closed_over_parameter():
    t = np.linspace(0.0, 1.0, 5)
    x = RNG.normal(size=(2, 5))

    def f(theta):
        d = dist.EulerMaruyama(t, ou_drift(theta[0], anp.exp(theta[1])),
                               dist.Normal(theta[2], 1.0))
        return anp.sum(d.log_prob(x))

    theta = np.array([0.7, -0.3, 0.4])
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="'init_dist' must be a Distribution"):
        dist.EulerMaruyama(t, ou_drift(1.0, 1.0), 0.0)


# ---- directional ------------------------------------------------------------------------------


def projected_normal_radial(c, x):
    """log p(x) = log of the integral over r > 0 of r^(d-1) N(r x | c, I), with mpmath:
    |r x - c|^2 = r^2 - 2 r t + |c|^2, so the integrand is r^(d-1) exp(r t - r^2 / 2) times
    exp(-|c|^2 / 2) (2 pi)^(-d/2); the breakpoints follow its scale (1/|t| for t < 0)."""
    d = len(c)
    with mpmath.workdps(40):
        t = mpmath.fsum(mpmath.mpf(ci) * mpmath.mpf(xi) for ci, xi in zip(c, x))
        c2 = mpmath.fsum(mpmath.mpf(ci) ** 2 for ci in c)
        scale = 1 / max(abs(t), 1)
        peak = max(t, 0)
        points = sorted({0, scale, 10 * scale, 100 * scale, peak, peak + 10}) + [mpmath.inf]
        val = mpmath.quad(lambda r: r ** (d - 1) * mpmath.exp(r * t - r * r / 2), points)
        return float(mpmath.log(val) - c2 / 2 - d / 2 * mpmath.log(2 * mpmath.pi))


@pytest.mark.parametrize("c", [[0.5, -1.0], [3.0, 2.0], [0.0, 0.0], [-40.0, 5.0],
                               [0.5, -1.0, 2.0], [-30.0, 1.0, 0.5], [8.0, 0.0, 0.0]])
def test_projected_normal_log_prob_vs_radial_integral(c):
    c = np.array(c)
    d = dist.ProjectedNormal(c)
    x = RNG.normal(size=(3, len(c)))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    x[0] = -c / np.linalg.norm(c) if np.any(c) else x[0]  # the far side, t = -|c|
    expected = [projected_normal_radial(c, v) for v in x]
    assert_allclose(d.log_prob(x), expected, rtol=1e-10, atol=1e-12)


def test_projected_normal_normalised_and_sample_moments():
    d2 = dist.ProjectedNormal(np.array([0.8, -0.6]))
    dens = lambda a: np.exp(d2.log_prob(np.array([np.cos(a), np.sin(a)])))  # noqa: E731
    assert_allclose(integrate.quad(dens, -np.pi, np.pi, epsabs=1e-13)[0], 1.0, rtol=1e-10)
    d3 = dist.ProjectedNormal(np.array([0.5, -1.0, 2.0]))

    def sph(th, ph):
        return np.array([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)])

    total = integrate.dblquad(lambda th, ph: np.exp(d3.log_prob(sph(th, ph))) * np.sin(th),
                              -np.pi, np.pi, 0.0, np.pi, epsabs=1e-11)[0]
    assert_allclose(total, 1.0, rtol=1e-8)
    s = d3.sample(np.random.default_rng(14), (20000,))
    assert np.all(C.sphere.check(s))
    ez = integrate.dblquad(lambda th, ph: np.cos(th) * np.exp(d3.log_prob(sph(th, ph)))
                           * np.sin(th), -np.pi, np.pi, 0.0, np.pi, epsabs=1e-11)[0]
    within_mc_error(s[:, 2], ez)
    assert_allclose(d3.mean, np.array([0.5, -1.0, 2.0]) / math.sqrt(5.25))


def test_projected_normal_gradients_and_higher_dimensions():
    x = np.array([[0.6, 0.8], [-1.0, 0.0]])

    def f(c):
        return anp.sum(dist.ProjectedNormal(c).log_prob(x))

    for c in (np.array([0.3, -0.5]), np.array([-3.0, 0.2])):
        assert_allclose(autodiff.grad(f)(c), fd_grad(f, c), rtol=1e-6, atol=1e-8)
    d4 = dist.ProjectedNormal(np.ones(4))
    assert d4.sample(0, (3,)).shape == (3, 4)
    with pytest.raises(NotImplementedError, match="dimension 2 or 3, not 4"):
        d4.log_prob(np.array([0.5, 0.5, 0.5, 0.5]))


SINE_PARAMS = [(1.0, 2.0, 0.5), (5.0, 3.0, 4.0), (50.0, 60.0, -70.0), (0.3, 0.2, 2.0),
               (2.0, 2.0, 6.0)]


def torus_grid_expectation(d, g, n=400):
    """E g(phi, psi) by the 2-D trapezoidal rule on an n x n grid of the torus (spectrally
    accurate for smooth periodic integrands; no quadrature in the code under test is 2-D)."""
    a = 2 * np.pi * np.arange(n) / n - np.pi
    A, B = np.meshgrid(a, a, indexing="ij")
    dens = np.exp(d.log_prob(np.stack([A, B], -1)))
    return np.sum(g(A, B) * dens) * (2 * np.pi / n) ** 2


@pytest.mark.parametrize("k1,k2,rho", SINE_PARAMS)
def test_sine_bivariate_von_mises_integrates_to_one(k1, k2, rho):
    d = dist.SineBivariateVonMises(0.3, -1.0, k1, k2, rho)
    assert_allclose(torus_grid_expectation(d, lambda a, b: 1.0), 1.0, rtol=1e-11)


def test_sine_bivariate_von_mises_integrates_to_one_adaptive_quadrature():
    d = dist.SineBivariateVonMises(0.3, -1.0, 1.0, 2.0, 1.5)
    dens = lambda b, a: np.exp(d.log_prob(np.array([a, b])))  # noqa: E731
    total = integrate.dblquad(dens, -np.pi, np.pi, -np.pi, np.pi, epsabs=1e-12)[0]
    assert_allclose(total, 1.0, rtol=1e-9)


def test_sine_bivariate_von_mises_limits_and_traced_normaliser():
    v = RNG.uniform(-np.pi, np.pi, size=(4, 2))
    d = dist.SineBivariateVonMises(0.3, -1.0, 2.0, 3.0, correlation=0.0)
    assert_allclose(d.log_prob(v), stats.vonmises(2.0, loc=0.3).logpdf(v[:, 0])
                    + stats.vonmises(3.0, loc=-1.0).logpdf(v[:, 1]), rtol=1e-12)
    w = dist.SineBivariateVonMises(0.3, -1.0, 4.0, 9.0, weighted_correlation=0.5)
    assert_allclose(w.correlation, 3.0)
    # The traced path (512 nodes) agrees with the adaptive one.
    for k1, k2, rho in SINE_PARAMS:
        graph = autodiff.make_graph(lambda p: dist.SineBivariateVonMises(
            0.3, -1.0, p[0], p[1], p[2]).log_prob(v))(np.array([k1, k2, rho]))
        assert_allclose(autodiff.eval_graph(graph, np.array([k1, k2, rho]))[0],
                        dist.SineBivariateVonMises(0.3, -1.0, k1, k2, rho).log_prob(v),
                        rtol=1e-12)
    b = dist.SineBivariateVonMises(np.zeros(3), 0.0, np.array([[1.0], [2.0]]), 1.0, 0.5)
    assert b.batch_shape == (2, 3) and b.sample(0, (4,)).shape == (4, 2, 3, 2)
    assert b.log_prob(v[:, None, None]).shape == (4, 2, 3)
    with pytest.raises(ValueError, match="exactly one of correlation or weighted_correlation"):
        dist.SineBivariateVonMises(0.0, 0.0, 1.0, 1.0)


@pytest.mark.parametrize("k1,k2,rho", [(5.0, 3.0, 4.0), (2.0, 2.0, 6.0)])
def test_sine_bivariate_von_mises_sample_moments(k1, k2, rho):
    d = dist.SineBivariateVonMises(0.3, -1.0, k1, k2, rho)
    s = d.sample(np.random.default_rng(15), (20000,))
    assert np.all(d.support.check(s))

    for g in (lambda a, b: np.cos(a - 0.3), lambda a, b: np.cos(b + 1.0),
              lambda a, b: np.sin(a - 0.3) * np.sin(b + 1.0)):
        within_mc_error(g(s[:, 0], s[:, 1]), torus_grid_expectation(d, g))


def test_sine_bivariate_von_mises_gradients():
    v = RNG.uniform(-np.pi, np.pi, size=(3, 2))

    def f(theta):
        return anp.sum(dist.SineBivariateVonMises(theta[0], theta[1], anp.exp(theta[2]),
                                                  anp.exp(theta[3]), theta[4]).log_prob(v))

    theta = np.array([0.3, -1.0, 0.5, 1.2, 2.0])
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-7)


def test_sine_skewed_normalised_moments_and_gradient():
    base = dist.VonMises(np.array([0.5, -1.0]), np.array([2.0, 1.0])).to_event(1)
    d = dist.SineSkewed(base, np.array([0.4, -0.3]))
    assert d.batch_shape == () and d.event_shape == (2,)
    dens = lambda b, a: np.exp(d.log_prob(np.array([a, b])))  # noqa: E731
    assert_allclose(integrate.dblquad(dens, -np.pi, np.pi, -np.pi, np.pi, epsabs=1e-12)[0], 1.0,
                    rtol=1e-9)
    s = d.sample(np.random.default_rng(16), (20000,))
    assert np.all(d.support.check(s))
    for i in range(2):
        e = integrate.dblquad(lambda b, a, i=i: np.sin((a, b)[i]) * dens(b, a), -np.pi, np.pi,
                              -np.pi, np.pi, epsabs=1e-11)[0]
        within_mc_error(np.sin(s[:, i]), e)
    sine = dist.SineBivariateVonMises(0.3, -1.0, 3.0, 2.0, 1.0)
    skewed = dist.SineSkewed(sine, np.array([[0.2, 0.5], [-0.7, 0.1]]))
    assert skewed.batch_shape == (2,)
    v = RNG.uniform(-np.pi, np.pi, size=(3, 2))
    assert_allclose(skewed.log_prob(v[:, None]), sine.log_prob(v[:, None]) + np.log1p(
        np.sum(np.array([[0.2, 0.5], [-0.7, 0.1]]) * np.sin(v[:, None] - [0.3, -1.0]), -1)))

    def f(lam):
        return anp.sum(dist.SineSkewed(base, lam).log_prob(v))

    lam = np.array([0.3, 0.2])
    assert_allclose(autodiff.grad(f)(lam), fd_grad(f, lam), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="'skewness' = .* violates constraint l1_ball"):
        dist.SineSkewed(base, np.array([0.8, -0.5]), validate_args=True)
    with pytest.raises(ValueError, match=r"event shape \(d,\)"):
        dist.SineSkewed(dist.VonMises(0.0, 1.0), np.array([0.1]))


def test_l1_ball_constraint():
    assert C.l1_ball.check(np.array([[0.5, -0.5], [0.6, 0.6]])).tolist() == [True, False]
    assert C.l1_ball.event_dim == 1 and repr(C.l1_ball) == "l1_ball"


# ---- Gaussian copulas and the mixture factory ------------------------------------------------

R3 = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, -0.3], [0.2, -0.3, 1.0]])


def test_gaussian_copula_with_normal_marginals_is_the_multivariate_normal():
    sd = np.array([1.0, 2.0, 0.5])
    m = dist.Normal(np.array([0.0, 1.0, 2.0]), sd)
    x = RNG.normal(size=(4, 3))
    ref = stats.multivariate_normal([0.0, 1.0, 2.0], R3 * np.outer(sd, sd)).logpdf(x)
    for kw in ({"correlation_matrix": R3}, {"correlation_cholesky": np.linalg.cholesky(R3)}):
        assert_allclose(dist.GaussianCopula(m, **kw).log_prob(x), ref, rtol=1e-11)


def test_gaussian_copula_exponential_marginals_vs_scipy_transform():
    rate = np.array([1.0, 2.0, 0.5])
    d = dist.GaussianCopula(dist.Exponential(rate), R3)
    assert d.batch_shape == () and d.event_shape == (3,)
    x = RNG.exponential(size=(5, 3))
    q = stats.norm.ppf(stats.expon(scale=1 / rate).cdf(x))
    ref = (stats.multivariate_normal(np.zeros(3), R3).logpdf(q) - stats.norm.logpdf(q).sum(-1)
           + stats.expon(scale=1 / rate).logpdf(x).sum(-1))
    assert_allclose(d.log_prob(x), ref, rtol=1e-10)
    s = d.sample(np.random.default_rng(17), (20000,))
    for i in range(3):
        assert stats.kstest(s[:, i], stats.expon(scale=1 / rate[i]).cdf).pvalue > 1e-3
    z = stats.norm.ppf(stats.expon(scale=1 / rate).cdf(s))
    within_mc_error(z[:, 0] * z[:, 1], R3[0, 1])
    within_mc_error(z[:, 1] * z[:, 2], R3[1, 2])
    assert_allclose(d.mean, 1 / rate)
    assert_allclose(d.variance, 1 / rate**2)


def test_gaussian_copula_rsample_is_pathwise_in_the_correlation():
    t = T.CorrCholeskyTransform()

    def f(u):
        d = dist.GaussianCopula(dist.Exponential(np.array([1.0, 2.0, 0.5])),
                                correlation_cholesky=t(u))
        return anp.sum(anp.sqrt(d.rsample(np.random.default_rng(25), (4,))))

    u = np.array([0.4, -0.2, 0.3])
    assert_allclose(autodiff.grad(f)(u), fd_grad(f, u), rtol=1e-6, atol=1e-7)


def test_gaussian_copula_gradients_and_errors():
    x = RNG.exponential(size=(2, 3))
    t = T.CorrCholeskyTransform()

    def f(theta):
        return anp.sum(dist.GaussianCopula(dist.Exponential(anp.exp(theta[:3])),
                                           correlation_cholesky=t(theta[3:])).log_prob(x))

    theta = RNG.normal(size=6) * 0.5
    assert_allclose(autodiff.grad(f)(theta), fd_grad(f, theta), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"must end in the dimension 3"):
        dist.GaussianCopula(dist.Normal(np.zeros(2), 1.0), R3)
    with pytest.raises(ValueError, match="exactly one of correlation_matrix"):
        dist.GaussianCopula(dist.Normal(np.zeros(3), 1.0))


def test_gaussian_copula_beta_samples_and_log_prob():
    a, b = np.array([2.0, 3.0, 0.7]), np.array([1.0, 2.0, 2.5])
    d = dist.GaussianCopulaBeta(a, b, R3)
    s = d.sample(np.random.default_rng(18), (10000,))
    assert np.all(d.support.check(s))
    for i in range(3):
        assert stats.kstest(s[:, i], stats.beta(a[i], b[i]).cdf).pvalue > 1e-3
    assert_allclose(d.mean, a / (a + b))
    x = np.array([0.3, 0.4, 0.5])  # Beta marginals times the Gaussian copula density
    z = stats.norm.ppf(stats.beta(a, b).cdf(x))
    expected = (stats.beta(a, b).logpdf(x).sum() - 0.5 * np.linalg.slogdet(R3)[1]
                - 0.5 * z @ (np.linalg.inv(R3) - np.eye(3)) @ z)
    assert_allclose(d.log_prob(x), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="'concentration0'"):
        dist.GaussianCopulaBeta(a, -b, R3, validate_args=True)


def test_mixture_factory_returns_numpyros_classes():
    mix = dist.Categorical(probs=np.array([0.3, 0.7]))
    same = dist.Mixture(mix, dist.Normal(np.array([-1.0, 2.0]), 1.0))
    general = dist.Mixture(mix, [dist.Normal(-1.0, 1.0), dist.Normal(2.0, 1.0)])
    assert isinstance(same, dist.MixtureSameFamily)
    assert isinstance(general, dist.MixtureGeneral)
    x = np.linspace(-3, 4, 5)
    assert_allclose(same.log_prob(x), general.log_prob(x), rtol=1e-13)
    with pytest.raises(TypeError, match="component_distributions must be a Distribution"):
        dist.Mixture(mix, "normal")


# ---- every class inside a compiled model ------------------------------------------------------

T_GRID = np.linspace(0.0, 1.0, 4)


def matrix_model():
    s = ppl.sample("s", dist.HalfNormal(1.0))
    a = ppl.sample("a", dist.Uniform(-0.9, 0.9))
    ppl.sample("W", dist.Wishart(4.0 + s, scale_matrix=S3))
    ppl.sample("Lw", dist.WishartCholesky(4.0, scale_tril=L3 * s))
    ppl.sample("IW", dist.InverseWishart(5.0, rate_matrix=S3 / (1.0 + s)))
    ppl.sample("Liw", dist.InverseWishartCholesky(5.0 + s, scale_matrix=S3))
    ppl.sample("M", dist.MatrixNormal(np.zeros((3, 2)) + a, L3, np.eye(2) * s))


def spatial_time_model(adj):
    s = ppl.sample("s", dist.HalfNormal(1.0))
    a = ppl.sample("a", dist.Uniform(-0.9, 0.9))
    ppl.sample("car_sparse", dist.CAR(a, a, 1.0 + s, ADJ, is_sparse=True))
    ppl.sample("car_data", dist.CAR(0.0, a, s, adj))  # adj is model data: a graph input
    ppl.sample("z", dist.GaussianStateSpace(3, A2 * (1.0 + a), covariance_matrix=S2 * s))
    ppl.sample("x", dist.EulerMaruyama(T_GRID, ou_drift(1.0 + a, s), dist.Normal(a, 1.0)))
    ppl.sample("circ", dist.CirculantNormal(np.zeros(4) + a,
                                            covariance_row=np.array([2.0, 0.5, 0.1, 0.5]) * s))


def directional_copula_model():
    s = ppl.sample("s", dist.HalfNormal(1.0))
    a = ppl.sample("a", dist.Uniform(-0.9, 0.9))
    ppl.sample("u", dist.ProjectedNormal(np.array([1.0, -0.5, 0.2]) * s))
    ppl.sample("ang", dist.SineBivariateVonMises(a, 0.2, 1.0 + s, 2.0, a))
    ppl.sample("skew", dist.SineSkewed(dist.VonMises(np.zeros(2), 1.0 + s).to_event(1),
                                       np.array([0.3, -0.2]) * (1.0 + a)))
    ppl.sample("cop", dist.GaussianCopula(dist.Normal(np.zeros(3) + a, 1.0 + s), R3))
    ppl.sample("mix", dist.Mixture(dist.Categorical(probs=np.array([0.3, 0.7])),
                                   [dist.Normal(a, 1.0), dist.Normal(2.0, s)]))


@pytest.mark.slow  # a cold compile of each model takes 10-60 s (cached afterwards)
@pytest.mark.parametrize("model,args,sites", [
    (matrix_model, (), ["W", "Lw", "IW", "Liw", "M"]),
    (spatial_time_model, (ADJ,), ["car_sparse", "car_data", "z", "x", "circ"]),
    (directional_copula_model, (), ["u", "ang", "skew", "cop", "mix"]),
], ids=["matrix", "spatial_time", "directional_copula"])
def test_every_class_compiles_inside_a_model(model, args, sites):
    """Latent sites of each new class (their supports' bijectors included), with parameters
    that are other sites: the compiled log density and gradient equal the eager NumPy path."""
    cm = compile_model(model, *args)
    assert cm.site_names == ["s", "a"] + sites
    rng = np.random.default_rng(19)
    for _ in range(2):
        theta = rng.normal(size=cm.dim) * 0.4
        lp, grad = cm.logp_and_grad(theta)
        lp_np, grad_np = cm.logp_and_grad_numpy(theta)
        assert np.isfinite(lp)
        assert_allclose(lp, lp_np, rtol=1e-11)
        assert_allclose(grad, grad_np, rtol=1e-9, atol=1e-9)
    values = cm.constrain(theta)
    if model is matrix_model:
        assert values["W"].shape == (3, 3) and np.all(C.positive_definite.check(values["W"]))
        assert np.all(C.lower_cholesky.check(values["Liw"]))
    if model is spatial_time_model:
        assert values["z"].shape == (3, 2) and values["x"].shape == (4,)
    if model is directional_copula_model:
        assert np.allclose(np.linalg.norm(values["u"]), 1.0)


@pytest.mark.slow
def test_observed_sites_compile_inside_a_model():
    rng = np.random.default_rng(20)
    data = {
        "W": stats.wishart(5.0, S3).rvs(2, random_state=rng),
        "IW": stats.invwishart(6.0, S3).rvs(2, random_state=rng),
        "car": rng.normal(size=(2, 5)),
        "ang": rng.uniform(-np.pi, np.pi, size=(2, 2)),
    }

    def model(W, IW, car, ang):
        L = ppl.sample("L", dist.LKJCholesky(3, 2.0))
        s = ppl.sample("s", dist.HalfNormal(1.0))
        a = ppl.sample("a", dist.Uniform(-0.9, 0.9))
        with ppl.plate("n", 2):
            ppl.sample("W_obs", dist.Wishart(5.0, scale_tril=L * (1.0 + s)), obs=W)
            ppl.sample("IW_obs", dist.InverseWishart(6.0 + s, scale_tril=L), obs=IW)
            ppl.sample("car_obs", dist.CAR(0.0, a, 1.0 + s, ADJ), obs=car)
            ppl.sample("ang_obs", dist.SineBivariateVonMises(a, -a, 1.0 + s, 2.0 - a,
                                                             weighted_correlation=a), obs=ang)

    cm = compile_model(model, **data)
    theta = rng.normal(size=cm.dim) * 0.4
    lp, grad = cm.logp_and_grad(theta)
    lp_np, grad_np = cm.logp_and_grad_numpy(theta)
    assert_allclose(lp, lp_np, rtol=1e-11)
    assert_allclose(grad, grad_np, rtol=1e-9, atol=1e-9)
    assert_allclose(grad, fd_grad(lambda th: cm.logp_and_grad_numpy(th)[0], theta), rtol=1e-5,
                    atol=1e-6)


@pytest.mark.slow
def test_nuts_on_a_wishart_prior_recovers_the_conjugate_posterior():
    """Lambda ~ Wishart(nu, S), y_i ~ N(0, Lambda^-1): the posterior is
    Wishart(nu + n, (S^-1 + sum y_i y_i^T)^-1); its mean nu_n S_n within 5 MCSE of the draws."""
    from inference import MCMC, NUTS
    from inference.diagnostics import mcse_mean

    nu, S = 4.0, np.array([[1.0, 0.3], [0.3, 0.5]])
    y = stats.multivariate_normal(np.zeros(2), [[1.0, -0.4], [-0.4, 2.0]]).rvs(
        30, random_state=22)

    def model(y):
        lam = ppl.sample("Lam", dist.Wishart(nu, scale_matrix=S))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.MultivariateNormal(np.zeros(2), precision_matrix=lam), obs=y)

    mcmc = MCMC(NUTS(model), num_warmup=300, num_samples=300, num_chains=1, progress_bar=False)
    mcmc.run(0, y)
    draws = mcmc.get_samples(group_by_chain=True)["Lam"]
    assert draws.shape == (1, 300, 2, 2)
    S_n = np.linalg.inv(np.linalg.inv(S) + y.T @ y)
    expected = (nu + len(y)) * S_n
    err = np.abs(draws.mean((0, 1)) - expected)
    assert np.all(err < 5 * mcse_mean(draws)), (draws.mean((0, 1)), expected, mcse_mean(draws))
