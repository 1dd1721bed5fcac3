"""``dist.kl_divergence`` against oracles that share no code with it.

Oracles: numerical integration (``scipy.integrate.quad``) of :math:`p (\\log p - \\log q)` over
SciPy's densities for the univariate continuous pairs; exact sums over SciPy's mass functions for
the discrete ones; the textbook formulas written with NumPy/SciPy on covariance matrices (MVN)
and ``scipy.special`` (Dirichlet), each also checked by Monte Carlo over SciPy's log densities
within a stated number of standard errors.  Gradients are compared with central finite
differences, and the staged graph (``make_graph``) and the compiled function (``jit``) with the
eager result.  Every random draw uses a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, special, stats

import autodiff
import autodiff.numpy as anp
from ppl import dist
from ppl.distributions import kl as kl_module

RNG = np.random.default_rng(20261203)


def fd_grad(f: Callable[..., float], args: list[np.ndarray], i: int, h: float = 1e-6) -> np.ndarray:
    """Central differences of ``f(*args)`` in ``args[i]``."""
    x = np.asarray(args[i], dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        up = list(args)
        dn = list(args)
        up[i], dn[i] = x + e, x - e
        g[idx] = (f(*up) - f(*dn)) / (2 * h)
    return g


def check_grads(f: Callable[..., Any], args: list[np.ndarray], rtol: float = 1e-5,
                atol: float = 1e-7) -> None:
    """autodiff.grad of the summed KL in every argument, against central differences."""

    def total(*a):
        return anp.sum(f(*a))

    grads = autodiff.grad(total, argnums=tuple(range(len(args))))(*args)
    for i, g in enumerate(grads):
        expected = fd_grad(lambda *a: float(np.sum(f(*a))), args, i)
        assert_allclose(g, expected, rtol=rtol, atol=atol, err_msg=f"argument {i}")


# ---- univariate continuous: numerical integration -----------------------------------------------


def quad_kl(sp_p, sp_q, lo: float, hi: float, breaks=()) -> float:
    """:math:`\\int_{lo}^{hi} p (\\log p - \\log q)`, split at ``breaks`` (kinks, modes)."""

    def integrand(x):
        lp = sp_p.logpdf(x)
        # p(x) = 0 (or underflowing, far in a tail where log q may overflow to -inf): no
        # contribution, whatever q is.
        if not np.isfinite(lp) or np.exp(lp) == 0.0:
            return 0.0
        return np.exp(lp) * (lp - sp_q.logpdf(x))

    # Infinite limits are cut where p's tail mass is 1e-16: beyond that the neglected term is
    # below 1e-14 here, and some SciPy log densities (Laplace's) are log(pdf), -inf there.
    lo = sp_p.ppf(1e-16) if lo == -np.inf else lo
    hi = sp_p.isf(1e-16) if hi == np.inf else hi
    edges = [lo, *sorted(b for b in breaks if lo < b < hi), hi]
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        val, _ = integrate.quad(integrand, a, b, epsabs=1e-13, epsrel=1e-11, limit=200)
        total += val
    return total


@dataclass
class Pair:
    """One registered univariate pair: build ``p`` and ``q`` from parameter tuples, their SciPy
    twins, the support of ``p`` to integrate over and where to split it."""

    name: str
    make: Callable[..., Any]
    twin: Callable[..., Any]
    p: tuple  # parameters of p, batch (2, 1)
    q: tuple  # parameters of q, batch (3,)
    domain: tuple[float, float]
    breaks: Callable[[tuple, tuple], list] = lambda p, q: []
    outside: Callable[[tuple, tuple], bool] = lambda p, q: False  # KL is +inf (p not << q)
    grad_point: tuple | None = None  # scalar (p params, q params) for the gradient check
    extra: dict = field(default_factory=dict)


def col(*v):
    return np.array(v, dtype=float)[:, None]


def row(*v):
    return np.array(v, dtype=float)


PAIRS = [
    Pair("Normal", dist.Normal, lambda m, s: stats.norm(m, s),
         (col(0.0, 1.5), col(1.0, 0.5)), (row(0.0, -1.0, 2.0), row(1.0, 2.0, 0.7)),
         (-np.inf, np.inf), lambda p, q: [p[0]]),
    Pair("LogNormal", dist.LogNormal, lambda m, s: stats.lognorm(s, scale=np.exp(m)),
         (col(0.0, 1.5), col(1.0, 0.5)), (row(0.0, -1.0, 2.0), row(1.0, 2.0, 0.7)),
         (0.0, np.inf), lambda p, q: [np.exp(p[0]), np.exp(p[0] + 3 * p[1])]),
    Pair("HalfNormal", dist.HalfNormal, lambda s: stats.halfnorm(scale=s),
         (col(1.0, 0.4),), (row(1.0, 2.0, 0.6),), (0.0, np.inf), lambda p, q: [p[0]]),
    Pair("Laplace", dist.Laplace, lambda m, b: stats.laplace(m, b),
         (col(0.0, 1.5), col(1.0, 0.5)), (row(0.0, -1.0, 2.0), row(1.0, 2.0, 0.7)),
         (-np.inf, np.inf), lambda p, q: [p[0], q[0]]),
    Pair("Gumbel", dist.Gumbel, lambda m, b: stats.gumbel_r(m, b),
         (col(0.0, 1.5), col(1.0, 0.5)), (row(0.0, -1.0, 2.0), row(1.0, 2.0, 0.7)),
         (-np.inf, np.inf), lambda p, q: [p[0]]),
    Pair("Exponential", dist.Exponential, lambda r: stats.expon(scale=1.0 / r),
         (col(1.0, 3.0),), (row(1.0, 0.5, 4.0),), (0.0, np.inf), lambda p, q: [1.0 / p[0]]),
    Pair("Gamma", dist.Gamma, lambda a, r: stats.gamma(a, scale=1.0 / r),
         (col(2.0, 0.7), col(1.0, 3.0)), (row(1.0, 2.5, 0.6), row(1.0, 0.5, 2.0)),
         (0.0, np.inf), lambda p, q: [p[0] / p[1], 1.0]),
    Pair("Beta", dist.Beta, lambda a, b: stats.beta(a, b),
         (col(2.0, 0.8), col(3.0, 1.5)), (row(1.0, 2.5, 0.6), row(1.0, 4.0, 2.0)),
         (0.0, 1.0), lambda p, q: [0.5]),
    # Row 0 nests in q's column 0 and 1, row 1 = [0.2, 0.5] in column 1 only: +inf elsewhere.
    Pair("Uniform", dist.Uniform, lambda lo, hi: stats.uniform(lo, hi - lo),
         (col(0.0, 0.2), col(1.0, 0.5)), (row(0.0, -1.0, 0.3), row(1.0, 2.0, 3.0)),
         (np.nan, np.nan), outside=lambda p, q: bool(p[0] < q[0] or p[1] > q[1]),
         grad_point=((0.2, 0.5), (-1.0, 2.0))),
]


def _scalars(params: tuple, idx: tuple, shape: tuple) -> tuple:
    return tuple(float(np.broadcast_to(a, shape)[idx]) for a in params)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda c: c.name)
def test_univariate_kl_against_quadrature_with_broadcast_batches(pair):
    p, q = pair.make(*pair.p), pair.make(*pair.q)
    kl = np.asarray(dist.kl_divergence(p, q))
    assert kl.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        pp, qq = _scalars(pair.p, idx, (2, 3)), _scalars(pair.q, idx, (2, 3))
        if pair.outside(pp, qq):
            assert kl[idx] == np.inf, (idx, kl[idx])
            continue
        lo, hi = pair.domain
        if pair.name == "Uniform":  # p's support, whatever q's is
            lo, hi = pp
        expected = quad_kl(pair.twin(*pp), pair.twin(*qq), lo, hi, pair.breaks(pp, qq))
        assert_allclose(kl[idx], expected, rtol=1e-7, atol=1e-10, err_msg=str((idx, pp, qq)))


@pytest.mark.parametrize("pair", PAIRS, ids=lambda c: c.name)
def test_univariate_kl_of_a_distribution_with_itself_is_zero(pair):
    p = pair.make(*pair.p)
    assert_allclose(dist.kl_divergence(p, p), np.zeros((2, 1)), atol=1e-13)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda c: c.name)
def test_univariate_kl_gradients_match_finite_differences(pair):
    if pair.grad_point is None:
        pp, qq = _scalars(pair.p, (1, 0), (2, 3)), _scalars(pair.q, (1, 2), (2, 3))
    else:
        pp, qq = pair.grad_point
    n = len(pp)
    args = [np.float64(v) for v in (*pp, *qq)]

    def f(*a):
        return dist.kl_divergence(pair.make(*a[:n]), pair.make(*a[n:]))

    check_grads(f, args)


def test_chi2_against_gamma_dispatches_to_the_gamma_formula():
    # Chi2 subclasses Gamma: the (Gamma, Gamma) registration applies through the MRO.
    kl = dist.kl_divergence(dist.Chi2(3.0), dist.Gamma(2.0, 0.7))
    expected = quad_kl(stats.chi2(3.0), stats.gamma(2.0, scale=1 / 0.7), 0.0, np.inf, [3.0])
    assert_allclose(kl, expected, rtol=1e-8)


# ---- discrete: exact sums ---------------------------------------------------------------------


def sum_kl(logpmf_p, logpmf_q, support) -> np.ndarray:
    lp, lq = logpmf_p(support), logpmf_q(support)
    with np.errstate(invalid="ignore"):
        terms = np.where(np.isfinite(lp), np.exp(lp) * (lp - lq), 0.0)
    return terms.sum()


@pytest.mark.parametrize("p_kind", ["probs", "logits"])
@pytest.mark.parametrize("q_kind", ["probs", "logits"])
def test_bernoulli_kl_exact_sum_with_broadcast_batches(p_kind, q_kind):
    pp, qq = col(0.2, 0.9), row(0.5, 0.1, 0.99)

    def make(pr, kind):
        return dist.Bernoulli(**{kind: pr if kind == "probs" else special.logit(pr)})

    kl = dist.kl_divergence(make(pp, p_kind), make(qq, q_kind))
    assert kl.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        a, b = stats.bernoulli(pp[i, 0]), stats.bernoulli(qq[j])
        assert_allclose(kl[i, j], sum_kl(a.logpmf, b.logpmf, np.arange(2)), rtol=1e-10)


def test_bernoulli_kl_at_the_edges_of_the_unit_interval():
    p = dist.Bernoulli(probs=row(0.0, 1.0, 0.3, 0.0))
    q = dist.Bernoulli(probs=row(0.0, 0.5, 0.0, 0.25))
    # 0 log 0 = 0; p puts mass 0.3 on 1, which q cannot produce: +inf.
    assert_allclose(dist.kl_divergence(p, q), [0.0, np.log(2.0), np.inf, -np.log(0.75)])
    # Large logits: 1 - sigmoid(40) rounds to 0 in probs, not in the log-space computation.
    big = dist.kl_divergence(dist.Bernoulli(logits=40.0), dist.Bernoulli(logits=0.0))
    assert_allclose(big, np.log(2.0) - 41.0 * np.exp(-40.0), rtol=1e-12)


@pytest.mark.parametrize("p_kind", ["probs", "logits"])
def test_categorical_kl_exact_sum_with_broadcast_batches(p_kind):
    probs_p = RNG.dirichlet(np.ones(4), size=(2, 1))
    probs_p[1, 0] = [0.0, 0.5, 0.5, 0.0]  # zero-probability categories of p contribute 0
    probs_q = RNG.dirichlet(np.ones(4), size=3)
    p = (dist.Categorical(probs=probs_p) if p_kind == "probs"
         else dist.Categorical(logits=np.log(probs_p, where=probs_p > 0, out=np.full_like(
             probs_p, -np.inf)) + 1.7))  # unnormalised logits, -inf for the zeros
    q = dist.Categorical(logits=np.log(probs_q) - 0.3)
    kl = dist.kl_divergence(p, q)
    assert kl.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        a, b = stats.multinomial(1, probs_p[i, 0]), stats.multinomial(1, probs_q[j])
        onehot = np.eye(4)
        assert_allclose(kl[i, j], sum_kl(a.logpmf, b.logpmf, onehot), rtol=1e-10)
    assert_allclose(dist.kl_divergence(p, p), np.zeros((2, 1)), atol=1e-15)
    # p has mass where q has none: +inf.
    inf = dist.kl_divergence(dist.Categorical(probs=row(0.5, 0.5)),
                             dist.Categorical(probs=row(1.0, 0.0)))
    assert inf == np.inf


def test_poisson_kl_exact_sum_with_broadcast_batches():
    rp, rq = col(0.5, 7.0), row(1.0, 0.3, 12.0)
    kl = dist.kl_divergence(dist.Poisson(rp), dist.Poisson(rq))
    assert kl.shape == (2, 3)
    k = np.arange(400)  # the tails beyond 400 are below 1e-300 for these rates
    for i, j in np.ndindex(2, 3):
        a, b = stats.poisson(rp[i, 0]), stats.poisson(rq[j])
        assert_allclose(kl[i, j], sum_kl(a.logpmf, b.logpmf, k), rtol=1e-10)
    assert_allclose(dist.kl_divergence(dist.Poisson(rp), dist.Poisson(rp)), 0.0, atol=1e-15)


def test_discrete_kl_gradients_match_finite_differences():
    check_grads(lambda a, b: dist.kl_divergence(dist.Bernoulli(probs=a), dist.Bernoulli(logits=b)),
                [row(0.2, 0.7), row(-1.0, 2.0)])
    check_grads(lambda a, b: dist.kl_divergence(dist.Bernoulli(logits=a), dist.Bernoulli(probs=b)),
                [row(0.3, -2.0), row(0.4, 0.9)])
    check_grads(lambda a, b: dist.kl_divergence(dist.Categorical(logits=a),
                                                dist.Categorical(logits=b)),
                [RNG.normal(size=(2, 3)), RNG.normal(size=3)])
    check_grads(lambda a, b: dist.kl_divergence(dist.Categorical(probs=a),
                                                dist.Categorical(probs=b)),
                [row(0.2, 0.3, 0.5), row(0.6, 0.3, 0.1)])
    check_grads(lambda a, b: dist.kl_divergence(dist.Poisson(a), dist.Poisson(b)),
                [row(0.5, 4.0), row(2.0, 3.0)])


# ---- multivariate: textbook formulas and Monte Carlo ---------------------------------------------


def random_cov(k: int, batch=()) -> np.ndarray:
    a = RNG.normal(size=batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(k)


def mvn_kl_textbook(mu_p, cov_p, mu_q, cov_q) -> float:
    """0.5 [tr(Sq^-1 Sp) + d' Sq^-1 d - k + log|Sq| - log|Sp|], on covariance matrices."""
    k = len(mu_p)
    d = mu_q - mu_p
    return 0.5 * (np.trace(np.linalg.solve(cov_q, cov_p)) + d @ np.linalg.solve(cov_q, d) - k
                  + np.linalg.slogdet(cov_q)[1] - np.linalg.slogdet(cov_p)[1])


def mc_kl(draws, logp, logq, expected, n_se=4.5):
    """The Monte Carlo mean of log p - log q within ``n_se`` standard errors of ``expected``."""
    terms = logp(draws) - logq(draws)
    se = terms.std() / np.sqrt(len(terms))
    assert abs(terms.mean() - expected) < n_se * se, (terms.mean(), expected, se)


def test_mvn_kl_against_textbook_formula_with_broadcast_batches():
    k = 3
    mu_p, cov_p = RNG.normal(size=(2, 1, k)), random_cov(k, (2, 1))
    mu_q, cov_q = RNG.normal(size=(3, k)), random_cov(k, (3,))
    # Three parameterisations: the KL reads scale_tril, derived from each.
    p = dist.MultivariateNormal(mu_p, precision_matrix=np.linalg.inv(cov_p))
    q = dist.MultivariateNormal(mu_q, covariance_matrix=cov_q)
    kl = dist.kl_divergence(p, q)
    assert kl.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        expected = mvn_kl_textbook(mu_p[i, 0], cov_p[i, 0], mu_q[j], cov_q[j])
        assert_allclose(kl[i, j], expected, rtol=1e-9)
    q_tril = dist.MultivariateNormal(mu_q, scale_tril=np.linalg.cholesky(cov_q))
    assert_allclose(dist.kl_divergence(p, q_tril), kl, rtol=1e-10)
    assert_allclose(dist.kl_divergence(p, p), np.zeros((2, 1)), atol=1e-12)


def test_mvn_kl_monte_carlo():
    k = 3
    mu_p, cov_p, mu_q, cov_q = RNG.normal(size=k), random_cov(k), RNG.normal(size=k), random_cov(k)
    kl = float(dist.kl_divergence(dist.MultivariateNormal(mu_p, cov_p),
                                  dist.MultivariateNormal(mu_q, cov_q)))
    sp_p, sp_q = stats.multivariate_normal(mu_p, cov_p), stats.multivariate_normal(mu_q, cov_q)
    draws = sp_p.rvs(20000, random_state=np.random.default_rng(1))
    mc_kl(draws, sp_p.logpdf, sp_q.logpdf, kl)


def test_mvn_against_mean_field_normal_both_ways():
    k = 3
    mu, cov = RNG.normal(size=(2, k)), random_cov(k, (2,))
    loc, scale = RNG.normal(size=k), np.array([0.5, 1.0, 2.0])
    mvn = dist.MultivariateNormal(mu, cov)
    diag = dist.Normal(loc, scale).to_event(1)
    # The same law as an expanded scalar-parameter Normal, the way guides often write it.
    expanded = dist.Normal(0.3, 1.5).expand((k,)).to_event(1)
    for i in range(2):
        assert_allclose(dist.kl_divergence(mvn, diag)[i],
                        mvn_kl_textbook(mu[i], cov[i], loc, np.diag(scale**2)), rtol=1e-10)
        assert_allclose(dist.kl_divergence(diag, mvn)[i],
                        mvn_kl_textbook(loc, np.diag(scale**2), mu[i], cov[i]), rtol=1e-10)
        assert_allclose(dist.kl_divergence(expanded, mvn)[i],
                        mvn_kl_textbook(np.full(k, 0.3), 2.25 * np.eye(k), mu[i], cov[i]),
                        rtol=1e-10)
    with pytest.raises(NotImplementedError, match="Normal base"):
        dist.kl_divergence(mvn, dist.Laplace(loc, scale).to_event(1))


def test_mvn_kl_gradients_match_finite_differences():
    k = 2
    L_p, L_q = np.linalg.cholesky(random_cov(k)), np.linalg.cholesky(random_cov(k))
    tril = np.tril_indices(k)

    def f(mu_p, lp, mu_q, lq):
        # Only the lower triangle is a parameter: build the factors from it.
        def fill(v):
            return anp.where(np.tri(k, dtype=bool), v, 0.0)

        return dist.kl_divergence(dist.MultivariateNormal(mu_p, scale_tril=fill(lp)),
                                  dist.MultivariateNormal(mu_q, scale_tril=fill(lq)))

    args = [RNG.normal(size=k), L_p, RNG.normal(size=k), L_q]
    grads = autodiff.grad(lambda *a: anp.sum(f(*a)), argnums=(0, 1, 2, 3))(*args)
    for i, g in enumerate(grads):
        expected = fd_grad(lambda *a: float(f(*a)), args, i)
        if i in (1, 3):
            g, expected = np.asarray(g)[tril], expected[tril]
        assert_allclose(g, expected, rtol=1e-5, atol=1e-7, err_msg=f"argument {i}")


def dirichlet_kl_textbook(a, b) -> float:
    a0, b0 = a.sum(), b.sum()
    return (special.gammaln(a0) - special.gammaln(a).sum() - special.gammaln(b0)
            + special.gammaln(b).sum() + ((a - b) * (special.digamma(a) - special.digamma(a0))).sum())


def test_dirichlet_kl_against_textbook_formula_and_monte_carlo():
    a = RNG.uniform(0.5, 4.0, size=(2, 1, 3))
    b = RNG.uniform(0.5, 4.0, size=(3, 3))
    kl = dist.kl_divergence(dist.Dirichlet(a), dist.Dirichlet(b))
    assert kl.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        assert_allclose(kl[i, j], dirichlet_kl_textbook(a[i, 0], b[j]), rtol=1e-10)
    assert_allclose(dist.kl_divergence(dist.Dirichlet(a), dist.Dirichlet(a)), 0.0, atol=1e-13)
    # The formula above is a second transcription; Monte Carlo over SciPy's density checks both.
    sp_p, sp_q = stats.dirichlet(a[0, 0]), stats.dirichlet(b[1])
    draws = sp_p.rvs(20000, random_state=np.random.default_rng(2))
    mc_kl(draws, lambda x: sp_p.logpdf(x.T), lambda x: sp_q.logpdf(x.T), kl[0, 1])
    check_grads(lambda x, y: dist.kl_divergence(dist.Dirichlet(x), dist.Dirichlet(y)),
                [a[:, 0], b[0]])


# ---- combinators and Delta -------------------------------------------------------------------


def test_independent_sums_the_base_kl_over_the_reinterpreted_dims():
    loc_p, scale_p = RNG.normal(size=(4, 2, 3)), RNG.uniform(0.5, 2.0, size=(2, 3))
    loc_q, scale_q = RNG.normal(size=(2, 3)), RNG.uniform(0.5, 2.0, size=3)
    base = dist.kl_divergence(dist.Normal(loc_p, scale_p), dist.Normal(loc_q, scale_q))
    for n in (1, 2):
        kl = dist.kl_divergence(dist.Normal(loc_p, scale_p).to_event(n),
                                dist.Normal(loc_q, scale_q).to_event(n))
        assert_allclose(kl, base.sum(axis=tuple(range(-n, 0))), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims"):
        dist.kl_divergence(dist.Normal(loc_p, 1.0).to_event(2),
                           dist.Normal(0.0, np.ones((4, 2, 3))).to_event(1))


def test_expanded_distributions_broadcast_the_base_kl():
    p_base, q_base = dist.Normal(0.5, 1.3), dist.Normal(row(0.0, 1.0, -1.0), 2.0)
    base = dist.kl_divergence(p_base, q_base)
    expected = np.broadcast_to(base, (2, 3))
    for p, q in [(p_base.expand((2, 3)), q_base.expand((2, 3))),  # Expanded / Expanded
                 (p_base.expand((2, 1)), q_base),                  # Expanded / base
                 (p_base, q_base.expand((2, 3)))]:                 # base / Expanded
        kl = dist.kl_divergence(p, q)
        assert kl.shape == (2, 3)
        assert_allclose(kl, expected, rtol=1e-14)


def test_masked_kl_is_zero_where_the_mask_is_false():
    mask = np.array([True, False, True])
    p = dist.Uniform(row(0.0, 0.0, 0.2), 1.0)
    q = dist.Uniform(row(0.0, 0.5, 0.0), 2.0)  # element 1 does not nest: +inf unless masked
    full = dist.kl_divergence(p, q)
    assert full[1] == np.inf
    expected = np.where(mask, full, 0.0)
    assert_allclose(dist.kl_divergence(p.mask(mask), q), expected)
    assert_allclose(dist.kl_divergence(p, q.mask(mask)), expected)
    both = dist.kl_divergence(p.mask(mask), q.mask(np.array([True, True, False])))
    assert_allclose(both, [full[0], 0.0, 0.0])
    # A mask that broadcasts the batch shape up.
    kl = dist.kl_divergence(p.mask(np.array([[True], [False]])), q)
    assert_allclose(kl, [full, np.zeros(3)])


def test_delta_kl_is_log_density_minus_log_q_at_the_point():
    v, log_density = row(0.3, -1.0), 0.25
    kl = dist.kl_divergence(dist.Delta(v, log_density), dist.Normal(col(0.0, 1.0, 2.0), 1.5))
    assert kl.shape == (3, 2)
    assert_allclose(kl, log_density - stats.norm(col(0.0, 1.0, 2.0), 1.5).logpdf(v), rtol=1e-13)
    # A vector point against a multivariate q.
    mu, cov = RNG.normal(size=3), random_cov(3)
    x = RNG.normal(size=(2, 3))
    kl = dist.kl_divergence(dist.Delta(x, event_dim=1), dist.MultivariateNormal(mu, cov))
    assert_allclose(kl, -stats.multivariate_normal(mu, cov).logpdf(x), rtol=1e-12)


# ---- the registry ------------------------------------------------------------------------------


def test_unregistered_pair_raises_naming_both_classes():
    with pytest.raises(NotImplementedError) as err:
        dist.kl_divergence(dist.Normal(0.0, 1.0), dist.Cauchy(0.0, 1.0))
    msg = str(err.value)
    assert "Normal" in msg and "Cauchy" in msg and "TraceMeanField_ELBO" in msg
    assert "Monte Carlo" in msg


@pytest.fixture
def scratch_registry():
    """Registrations made by a test are removed afterwards (the registry is module state)."""
    before = dict(kl_module._REGISTRY)
    yield
    kl_module._REGISTRY.clear()
    kl_module._REGISTRY.update(before)
    kl_module._DISPATCH_CACHE.clear()


def test_dispatch_picks_the_nearest_registered_pair(scratch_registry):
    class A(dist.Normal):
        pass

    class B(A):
        pass

    @dist.register_kl(A, dist.Normal)
    def _a_normal(p, q):
        return "A/Normal"

    @dist.register_kl(dist.Normal, B)
    def _normal_b(p, q):
        return "Normal/B"

    n = dist.Normal(0.0, 1.0)
    assert dist.kl_divergence(A(0.0, 1.0), n) == "A/Normal"
    assert dist.kl_divergence(B(0.0, 1.0), n) == "A/Normal"    # (1, 0) beats Normal/Normal (2, 0)
    assert dist.kl_divergence(n, B(0.0, 1.0)) == "Normal/B"
    # (A, B): A/Normal is at distance (0, 2) and Normal/B at (1, 0): the smaller sum wins.
    assert dist.kl_divergence(A(0.0, 1.0), B(0.0, 1.0)) == "Normal/B"

    @dist.register_kl(dist.Normal, A)
    def _normal_a(p, q):
        return "Normal/A"

    # (A, A): A/Normal (0, 1) and Normal/A (1, 0) tie on the sum: the pair nearer to p wins.
    assert dist.kl_divergence(A(0.0, 1.0), A(0.0, 1.0)) == "A/Normal"
    # The cache was cleared by the registration: (A, B) still goes to Normal/B (1, 0), not
    # Normal/A (1, 1).
    assert dist.kl_divergence(A(0.0, 1.0), B(0.0, 1.0)) == "Normal/B"

    # Registering again replaces, and the dispatch cache sees it.
    @dist.register_kl(A, dist.Normal)
    def _a_normal_2(p, q):
        return "A/Normal again"

    assert dist.kl_divergence(A(0.0, 1.0), n) == "A/Normal again"
    with pytest.raises(TypeError, match="Distribution subclasses"):
        dist.register_kl(dist.Normal, float)


def test_ppl_dist_exports_the_registry():
    from ppl import dist as ppl_dist

    assert ppl_dist.kl_divergence is kl_module.kl_divergence
    assert ppl_dist.register_kl is kl_module.register_kl


# ---- traced -------------------------------------------------------------------------------------


def test_normal_kl_stages_and_compiles():
    def f(mu_p, s_p, mu_q, s_q):
        return dist.kl_divergence(dist.Normal(mu_p, s_p), dist.Normal(mu_q, s_q))

    args = (col(0.0, 1.0), col(1.0, 0.5), row(0.3, -0.2, 2.0), row(2.0, 1.0, 0.8))
    eager = f(*args)
    (staged,) = autodiff.eval_graph(autodiff.make_graph(f)(*args), *args)
    assert_allclose(staged, eager, rtol=1e-14)
    assert_allclose(autodiff.jit(f)(*args), eager, rtol=1e-13)
    # The gradient, staged: what a compiled ELBO needs.
    g = autodiff.jit(autodiff.grad(lambda *a: anp.sum(f(*a)), argnums=(0, 1)))(*args)
    g_eager = autodiff.grad(lambda *a: anp.sum(f(*a)), argnums=(0, 1))(*args)
    for a, b in zip(g, g_eager):
        assert_allclose(a, b, rtol=1e-12)


def test_mvn_kl_stages_and_compiles():
    k = 3

    def f(mu_p, L_p, mu_q, L_q):
        return dist.kl_divergence(dist.MultivariateNormal(mu_p, scale_tril=L_p),
                                  dist.MultivariateNormal(mu_q, scale_tril=L_q))

    args = (RNG.normal(size=(2, k)), np.linalg.cholesky(random_cov(k, (2,))),
            RNG.normal(size=k), np.linalg.cholesky(random_cov(k)))
    eager = f(*args)
    (staged,) = autodiff.eval_graph(autodiff.make_graph(f)(*args), *args)
    assert_allclose(staged, eager, rtol=1e-13)
    assert_allclose(autodiff.jit(f)(*args), eager, rtol=1e-12)
