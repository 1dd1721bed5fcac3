"""Checks of the NumPyro/PyMC additions beyond the generic rows of ``cases.py``: quantile round
trips, truncated and censored likelihoods against hand-written formulas, hurdle laws that sum
(integrate) to one, agreement with NumPyro 0.22's log densities, compiled models against the
eager NumPy path, and the thin alias classes against their families.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as ss
import scipy.stats as st
from scipy.integrate import quad

import autodiff
import autodiff.numpy as anp
import ppl
from ppl import distributions as dist
from ppl.model import compile_model

A = np.array
Q = A([1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 1.0 - 1e-6])

# ---- quantile round trips ----------------------------------------------------------------------

ROUND_TRIP = {
    "SoftLaplace": lambda: dist.SoftLaplace(0.5, 2.0),
    "AsymmetricLaplace": lambda: dist.AsymmetricLaplace(0.5, 1.5, 0.4),
    "AsymmetricLaplaceQuantile": lambda: dist.AsymmetricLaplaceQuantile(0.5, 1.5, 0.8),
    "Moyal": lambda: dist.Moyal(-1.0, 0.7),
    "Gompertz": lambda: dist.Gompertz(0.3, 2.0),
    "Dagum": lambda: dist.Dagum(0.7, 3.0, 2.0),
    "LowerTruncatedPowerLaw": lambda: dist.LowerTruncatedPowerLaw(-2.5, 1.5),
    "DoublyTruncatedPowerLaw": lambda: dist.DoublyTruncatedPowerLaw(-1.0, 0.5, 4.0),
    "DoublyTruncatedPowerLaw-low0": lambda: dist.DoublyTruncatedPowerLaw(0.7, 0.0, 4.0),
    "Levy": lambda: dist.Levy(1.0, 0.5),
    "LogUniform": lambda: dist.LogUniform(0.01, 100.0),
    "Kumaraswamy": lambda: dist.Kumaraswamy(0.8, 2.5),
    "Triangular": lambda: dist.Triangular(-1.0, 2.0, 3.0),
    "RelaxedBernoulliLogits": lambda: dist.RelaxedBernoulliLogits(0.7, -0.4),
    "Truncated-normal-upper-tail": lambda: dist.TruncatedDistribution(dist.Normal(0.0, 1.0),
                                                                      8.0, 9.0),
    "Truncated-logistic-left": lambda: dist.TruncatedDistribution(dist.Logistic(1.0, 2.0),
                                                                  low=20.0),
    "Truncated-gumbel-right": lambda: dist.TruncatedDistribution(dist.Gumbel(0.0, 1.0),
                                                                 high=-1.0),
    "Truncated-exponential-two-sided": lambda: dist.TruncatedDistribution(
        dist.Exponential(2.0), 3.0, 5.0),
    "TruncatedCauchy": lambda: dist.TruncatedCauchy(0.0, 1.0, low=-3.0, high=50.0),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_icdf_inverts_cdf(name):
    d = ROUND_TRIP[name]()
    x = d.icdf(Q)
    assert np.all(np.isfinite(x)) and np.all(np.diff(x) > 0)
    np.testing.assert_allclose(d.cdf(x), Q, rtol=1e-8, atol=1e-13)
    assert np.all(d.support.check(x))


# ---- truncation --------------------------------------------------------------------------------


def test_truncated_distribution_returns_the_class_of_its_bounds():
    base = dist.Logistic(0.0, 1.0)
    assert type(dist.TruncatedDistribution(base, low=0.0)) is dist.LeftTruncatedDistribution
    assert type(dist.TruncatedDistribution(base, high=0.0)) is dist.RightTruncatedDistribution
    assert (type(dist.TruncatedDistribution(base, -1.0, 1.0))
            is dist.TwoSidedTruncatedDistribution)
    assert dist.TruncatedDistribution(base) is base


def test_truncated_log_likelihood_against_formula():
    f = st.logistic(0.5, 1.5)
    d = dist.TruncatedDistribution(dist.Logistic(0.5, 1.5), -1.0, 4.0)
    x = A([-1.0, 0.0, 2.5, 4.0])
    expected = f.logpdf(x) - np.log(f.cdf(4.0) - f.cdf(-1.0))
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=1e-12)
    assert np.all(d.log_prob(A([-1.5, 4.5])) == -np.inf)
    # Left truncation of an exponential is a shifted exponential (memorylessness).
    e = dist.TruncatedDistribution(dist.Exponential(2.0), low=3.0)
    y = A([3.0, 3.5, 10.0])
    np.testing.assert_allclose(e.log_prob(y), st.expon(3.0, 0.5).logpdf(y), rtol=1e-12)
    np.testing.assert_allclose(e.cdf(y), st.expon(3.0, 0.5).cdf(y), rtol=1e-12)


def test_generic_truncated_normal_matches_truncated_normal_far_in_the_tails():
    for low, high in [(30.0, 31.0), (-41.0, -40.0), (30.0, None), (None, -30.0)]:
        g = dist.TruncatedDistribution(dist.Normal(0.0, 1.0), low, high)
        t = dist.TruncatedNormal(0.0, 1.0, low=low, high=high)
        x = t.icdf(A([0.1, 0.5, 0.9]))
        np.testing.assert_allclose(g.log_prob(x), t.log_prob(x), rtol=1e-9)
        np.testing.assert_allclose(g.cdf(x), t.cdf(x), rtol=1e-7)
        np.testing.assert_allclose(g.mean, t.mean, rtol=1e-12)


def test_truncation_needs_a_closed_form_cdf():
    with pytest.raises(TypeError, match="SkewNormal has no closed-form cdf here, which "
                                        "LeftTruncatedDistribution needs"):
        dist.TruncatedDistribution(dist.SkewNormal(0.0, 1.0, 2.0), low=1.0)
    with pytest.raises(ValueError, match="TwoSidedTruncatedDistribution: parameter 'high'"):
        dist.TruncatedDistribution(dist.Normal(0.0, 1.0), 1.0, 0.5, validate_args=True)
    with pytest.raises(ValueError, match="TruncatedCauchy: Cauchy: parameter 'scale' = -1.0"):
        dist.TruncatedCauchy(0.0, -1.0, low=0.0, validate_args=True)
    with pytest.raises(NotImplementedError, match="Normal base only"):
        _ = dist.TruncatedDistribution(dist.Logistic(0.0, 1.0), low=0.0).mean


def test_truncating_a_base_without_icdf_samples_by_rejection():
    base = dist.ExGaussian(0.0, 1.0, 2.0)
    d = dist.TruncatedDistribution(base, 1.0, 4.0)
    assert not d.has_rsample and d.reparametrized_params == []
    s = d.sample(0, (4000,))
    assert np.all((s >= 1.0) & (s <= 4.0))
    assert st.kstest(s, d.cdf).pvalue > 1e-3
    f = st.exponnorm(2.0, 0.0, 1.0)
    np.testing.assert_allclose(d.log_prob(A([1.5, 3.0])),
                               f.logpdf(A([1.5, 3.0])) - np.log(f.cdf(4.0) - f.cdf(1.0)),
                               rtol=1e-10)
    with pytest.raises(NotImplementedError, match="no reparameterised sampler"):
        d.rsample(0)


def test_folded_normal_against_formula():
    d = dist.FoldedDistribution(dist.Normal(0.5, 2.0))
    y = A([0.0, 0.3, 4.0])
    expected = np.log(st.norm(0.5, 2.0).pdf(y) + st.norm(0.5, 2.0).pdf(-y))
    np.testing.assert_allclose(d.log_prob(y), expected, rtol=1e-12)
    assert d.log_prob(-1.0) == -np.inf
    with pytest.raises(ValueError, match="only univariate distributions can be folded"):
        dist.FoldedDistribution(dist.Dirichlet(np.ones(3)))


# ---- censoring ---------------------------------------------------------------------------------


def test_right_censored_normal_is_the_log_survival_at_censored_points():
    f = st.norm(1.0, 2.0)
    x = A([0.5, 3.0, 12.0, -2.0])
    c = A([0, 1, 1, 0])
    d = dist.RightCensoredDistribution(dist.Normal(1.0, 2.0), c)
    np.testing.assert_allclose(d.log_prob(x), np.where(c == 1, f.logsf(x), f.logpdf(x)),
                               rtol=1e-12)
    # Far in the upper tail the survival comes from log_ndtr, not log(1 - cdf).
    tail = dist.RightCensoredDistribution(dist.Normal(1.0, 2.0), 1).log_prob(83.0)
    np.testing.assert_allclose(tail, st.norm.logsf(41.0), rtol=1e-12)


def test_left_censored_and_exponential_right_censoring_against_formulas():
    x = A([0.2, 1.0, 5.0])
    c = A([True, False, True])
    d = dist.LeftCensoredDistribution(dist.Logistic(0.0, 1.0), c)
    np.testing.assert_allclose(d.log_prob(x), np.where(c, st.logistic.logcdf(x),
                                                       st.logistic.logpdf(x)), rtol=1e-12)
    r = dist.RightCensoredDistribution(dist.Exponential(0.5), c)
    # Exponential survival: log S(t) = -rate t, exactly.
    np.testing.assert_allclose(r.log_prob(x), np.where(c, -0.5 * x, np.log(0.5) - 0.5 * x),
                               rtol=1e-14)


def test_interval_censored_every_case_against_formula():
    f = st.weibull_min(1.7, scale=3.0)
    values = A([[-np.inf, 2.0], [4.0, np.inf], [1.0, 2.5], [1.0, 2.5], [2.0, 2.0]])
    left = A([1, 0, 0, 1, 0])
    right = A([0, 1, 0, 1, 0])
    d = dist.IntervalCensoredDistribution(dist.Weibull(3.0, 1.7), left, right)
    expected = [f.logcdf(2.0), f.logsf(4.0), np.log(f.cdf(2.5) - f.cdf(1.0)),
                np.log1p(-(f.cdf(2.5) - f.cdf(1.0))), f.logpdf(2.0)]
    lp = d.log_prob(values)
    np.testing.assert_allclose(lp, expected, rtol=1e-12)

    def total(scale):
        return anp.sum(dist.IntervalCensoredDistribution(dist.Weibull(scale, 1.7), left,
                                                         right).log_prob(values))

    g = autodiff.grad(total)(np.float64(3.0))
    h = 1e-6
    assert np.isfinite(g)
    np.testing.assert_allclose(g, (total(3.0 + h) - total(3.0 - h)) / (2 * h), rtol=1e-6)
    with pytest.raises(ValueError, match="parameter 'left_censored'"):
        dist.IntervalCensoredDistribution(dist.Normal(0.0, 1.0), A([0.0, 0.5]), A([0, 0]),
                                          validate_args=True)


def test_censoring_needs_a_cdf():
    with pytest.raises(TypeError, match="SkewNormal has no closed-form cdf here, which "
                                        "RightCensoredDistribution needs"):
        dist.RightCensoredDistribution(dist.SkewNormal(0.0, 1.0, 2.0), A([0, 1]))


# ---- bases whose cdf is an incomplete gamma or beta function -------------------------------------


def test_truncated_gamma_likelihood_gradient_and_rejection_draws():
    f = st.gamma(2.5, scale=1 / 1.5)
    d = dist.TruncatedDistribution(dist.Gamma(2.5, 1.5), 0.5, 3.0)
    x = A([0.5, 1.0, 2.9])
    np.testing.assert_allclose(d.log_prob(x), f.logpdf(x) - np.log(f.cdf(3.0) - f.cdf(0.5)),
                               rtol=1e-12)

    def total(a):
        return anp.sum(dist.TruncatedDistribution(dist.Gamma(a, 1.5), 0.5, 3.0).log_prob(x))

    h = 1e-6
    np.testing.assert_allclose(autodiff.grad(total)(np.float64(2.5)),
                               (total(2.5 + h) - total(2.5 - h)) / (2 * h), rtol=1e-6)
    s = d.sample(0, (4000,))
    assert np.all((s >= 0.5) & (s <= 3.0))
    assert st.kstest(s, d.cdf).pvalue > 1e-3


def test_censored_gamma_poisson_and_beta_against_formulas():
    c = A([0, 1, 1])
    x = A([0.7, 2.0, 25.0])  # 25 is far in the upper tail: sf ~ 1e-14
    g = st.gamma(2.5, scale=1 / 1.5)
    r = dist.RightCensoredDistribution(dist.Gamma(2.5, 1.5), c)
    np.testing.assert_allclose(r.log_prob(x), np.where(c == 1, g.logsf(x), g.logpdf(x)),
                               rtol=1e-10)
    k = A([0.0, 3.0, 12.0])
    p = st.poisson(3.5)
    # NumPyro's convention for counts: right-censored at k is P(X > k), left-censored P(X <= k).
    right = dist.RightCensoredDistribution(dist.Poisson(3.5), c).log_prob(k)
    left = dist.LeftCensoredDistribution(dist.Poisson(3.5), c).log_prob(k)
    np.testing.assert_allclose(right, np.where(c == 1, p.logsf(k), p.logpmf(k)), rtol=1e-10)
    np.testing.assert_allclose(left, np.where(c == 1, p.logcdf(k), p.logpmf(k)), rtol=1e-10)
    b = st.beta(2.0, 3.0)
    v = A([[0.1, 0.4], [0.3, 0.6]])
    ic = dist.IntervalCensoredDistribution(dist.Beta(2.0, 3.0), A([0, 1]), A([0, 1]))
    np.testing.assert_allclose(ic.log_prob(v), [np.log(b.cdf(0.4) - b.cdf(0.1)),
                                                np.log1p(-(b.cdf(0.6) - b.cdf(0.3)))],
                               rtol=1e-12)


@pytest.mark.parametrize("make, frozen", [
    (lambda: dist.Poisson(3.5), st.poisson(3.5)),
    (lambda: dist.Binomial(10, probs=0.3), st.binom(10, 0.3)),
    (lambda: dist.NegativeBinomial(2.5, probs=0.4), st.nbinom(2.5, 0.6)),
    (lambda: dist.NegativeBinomial2(3.0, 1.5), st.nbinom(1.5, 1.5 / 4.5)),
    (lambda: dist.Geometric(logits=0.3), st.geom(ss.expit(0.3), loc=-1)),
], ids=["Poisson", "Binomial", "NegativeBinomial", "NegativeBinomial2", "Geometric"])
def test_discrete_cdfs_against_scipy(make, frozen):
    k = A([-1.0, 0.0, 1.0, 2.5, 7.0, 40.0])
    np.testing.assert_allclose(make().cdf(k), frozen.cdf(k), rtol=1e-10, atol=1e-15)


# ---- hurdles -----------------------------------------------------------------------------------


def test_hurdle_poisson_against_formula_and_sums_to_one():
    gate, rate = A([0.1, 0.7]), A([0.3, 4.0])
    d = dist.HurdlePoisson(gate, rate)
    k = np.arange(80.0)[:, None]
    pmf = np.exp(d.log_prob(k))
    np.testing.assert_allclose(pmf.sum(0), 1.0, rtol=1e-12)
    p0 = np.exp(-rate)
    expected = np.where(k == 0, gate, (1 - gate) * st.poisson(rate).pmf(k) / (1 - p0))
    np.testing.assert_allclose(pmf, expected, rtol=1e-12)
    np.testing.assert_allclose(d.mean, (k * pmf).sum(0), rtol=1e-10)


def test_hurdle_logits_negative_binomial_and_generic_constructor():
    nb = dist.NegativeBinomial2(3.0, 1.5)
    d = dist.HurdleDistribution(nb, gate_logits=A([-2.0, 0.5]))
    assert type(d) is dist.HurdleLogits
    k = np.arange(400.0)[:, None]
    np.testing.assert_allclose(np.exp(d.log_prob(k)).sum(0), 1.0, rtol=1e-10)
    probs = dist.HurdleDistribution(nb, gate=ss.expit(A([-2.0, 0.5])))
    np.testing.assert_allclose(probs.log_prob(k), d.log_prob(k), rtol=1e-12)
    named = dist.HurdleNegativeBinomial2(ss.expit(A([-2.0, 0.5])), 3.0, 1.5)
    np.testing.assert_allclose(named.log_prob(k), d.log_prob(k), rtol=1e-12)
    with pytest.raises(ValueError, match="exactly one of gate= or gate_logits="):
        dist.HurdleDistribution(nb)


@pytest.mark.parametrize("make", [lambda: dist.HurdleGamma(0.3, 2.0, 1.5),
                                  lambda: dist.HurdleLogNormal(0.6, 0.5, 0.8)],
                         ids=["HurdleGamma", "HurdleLogNormal"])
def test_continuous_hurdle_integrates_to_one(make):
    d = make()
    atom = float(np.exp(d.log_prob(0.0)))
    mass = quad(lambda x: float(np.exp(d.log_prob(x))), 0.0, np.inf, epsabs=1e-12)[0]
    np.testing.assert_allclose(atom, float(d.gate), rtol=1e-14)
    np.testing.assert_allclose(atom + mass, 1.0, rtol=1e-9)
    s = np.asarray(d.sample(0, (20_000,)))
    assert np.all(s >= 0.0)
    se = np.sqrt(float(d.gate) * (1 - float(d.gate)) / s.size)
    assert abs((s == 0).mean() - float(d.gate)) < 5 * se


def test_hurdle_gradient_at_zero_is_finite():
    def f(conc):
        return anp.sum(dist.HurdleGamma(0.3, conc, 1.0).log_prob(A([0.0, 1.5])))

    assert np.isfinite(autodiff.grad(f)(np.float64(2.0)))


# ---- functionals not covered by the generic rows -------------------------------------------------


def test_gompertz_mean_against_scipy_and_monte_carlo():
    d = dist.Gompertz(A([0.5, 2.0]), 1.5)
    f = st.gompertz(A([0.5, 2.0]), scale=1 / 1.5)
    np.testing.assert_allclose(d.mean, f.mean(), rtol=1e-9)
    s = d.sample(0, (20_000,))
    assert np.all(np.abs(s.mean(0) - f.mean()) < 5 * np.sqrt(f.var() / 20_000))


def test_relaxed_bernoulli_from_probs_and_low_temperature():
    a = dist.RelaxedBernoulli(0.5, probs=0.3)
    b = dist.RelaxedBernoulliLogits(0.5, ss.logit(0.3))
    x = A([0.1, 0.5, 0.9])
    np.testing.assert_allclose(a.log_prob(x), b.log_prob(x), rtol=1e-12)
    # As the temperature falls the draws approach a Bernoulli(0.3).
    s = dist.RelaxedBernoulli(0.05, probs=0.3).sample(1, (20_000,))
    assert abs((s > 0.5).mean() - 0.3) < 5 * np.sqrt(0.21 / 20_000)
    with pytest.raises(ValueError, match="exactly one of probs= or logits="):
        dist.RelaxedBernoulli(0.5)


def test_pymc_style_constructors():
    np.testing.assert_allclose(dist.Wald(2.0, phi=1.5).log_prob(1.0),
                               dist.Wald(2.0, lam=3.0).log_prob(1.0), rtol=1e-14)
    np.testing.assert_allclose(dist.Rice(b=2.0, sigma=0.5).log_prob(1.0),
                               dist.Rice(nu=1.0, sigma=0.5).log_prob(1.0), rtol=1e-14)
    with pytest.raises(ValueError, match="Wald: give mu= and exactly one of lam= or phi="):
        dist.Wald(1.0)
    with pytest.raises(ValueError, match="Rice: give sigma= and exactly one of nu= or b="):
        dist.Rice(nu=1.0, b=1.0, sigma=1.0)


def test_ordered_probit_stays_finite_far_from_the_cutpoints():
    lp = dist.OrderedProbit(45.0, A([-1.0, 0.0, 1.0])).log_prob(np.arange(4.0))
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(lp[0], ss.log_ndtr(-46.0), rtol=1e-12)


# ---- aliases -----------------------------------------------------------------------------------

ALIASES = [
    (lambda: dist.BernoulliLogits(A([-1.0, 2.0])),
     lambda: dist.Bernoulli(logits=A([-1.0, 2.0])), A([0.0, 1.0])),
    (lambda: dist.BernoulliProbs(A([0.2, 0.9])),
     lambda: dist.Bernoulli(probs=A([0.2, 0.9])), A([1.0, 0.0])),
    (lambda: dist.BinomialLogits(0.3, 7), lambda: dist.Binomial(7, logits=0.3), A([0.0, 3.0])),
    (lambda: dist.BinomialProbs(0.3, 7), lambda: dist.Binomial(7, probs=0.3), A([0.0, 3.0])),
    (lambda: dist.CategoricalLogits(A([0.5, -1.0, 2.0])),
     lambda: dist.Categorical(logits=A([0.5, -1.0, 2.0])), A([0.0, 2.0])),
    (lambda: dist.CategoricalProbs(A([0.2, 0.3, 0.5])),
     lambda: dist.Categorical(probs=A([0.2, 0.3, 0.5])), A([1.0, 2.0])),
    (lambda: dist.GeometricLogits(0.4), lambda: dist.Geometric(logits=0.4), A([0.0, 5.0])),
    (lambda: dist.GeometricProbs(0.4), lambda: dist.Geometric(probs=0.4), A([0.0, 5.0])),
    (lambda: dist.MultinomialLogits(A([0.5, -1.0]), 4),
     lambda: dist.Multinomial(4, logits=A([0.5, -1.0])), A([[1.0, 3.0], [4.0, 0.0]])),
    (lambda: dist.MultinomialProbs(A([0.5, 0.5]), 4, total_count_max=10),
     lambda: dist.Multinomial(4, probs=A([0.5, 0.5])), A([[1.0, 3.0], [4.0, 0.0]])),
    (lambda: dist.NegativeBinomialLogits(2.5, -0.3),
     lambda: dist.NegativeBinomial(2.5, logits=-0.3), A([0.0, 4.0])),
    (lambda: dist.NegativeBinomialProbs(2.5, 0.3),
     lambda: dist.NegativeBinomial(2.5, probs=0.3), A([0.0, 4.0])),
    (lambda: dist.ZeroInflatedLogits(dist.Poisson(2.0), -0.5),
     lambda: dist.ZeroInflatedDistribution(dist.Poisson(2.0), gate_logits=-0.5), A([0.0, 3.0])),
    (lambda: dist.ZeroInflatedProbs(dist.Poisson(2.0), 0.4),
     lambda: dist.ZeroInflatedDistribution(dist.Poisson(2.0), gate=0.4), A([0.0, 3.0])),
]


@pytest.mark.parametrize("alias, family, x", ALIASES,
                         ids=[a().__class__.__name__ for a, _, _ in ALIASES])
def test_alias_constructs_the_same_distribution_as_its_family(alias, family, x):
    a, f = alias(), family()
    assert isinstance(a, type(f))
    assert a.batch_shape == f.batch_shape and a.event_shape == f.event_shape
    np.testing.assert_allclose(a.log_prob(x), f.log_prob(x), rtol=1e-14)
    np.testing.assert_array_equal(a.sample(3, (4,)), f.sample(3, (4,)))


# ---- agreement with NumPyro 0.22 ---------------------------------------------------------------


def _numpyro_cases():
    """(our distribution, NumPyro's, values) for the classes NumPyro has."""
    return {
        "LogUniform": ("LogUniform", (0.5, 20.0), {}, A([0.6, 3.0, 19.0])),
        "AsymmetricLaplace": ("AsymmetricLaplace", (0.5, 1.5, 0.4), {}, A([-2.0, 0.5, 3.0])),
        "AsymmetricLaplaceQuantile": ("AsymmetricLaplaceQuantile", (0.5, 1.5, 0.8), {},
                                      A([-2.0, 0.5, 3.0])),
        "Kumaraswamy": ("Kumaraswamy", (0.8, 2.5), {}, A([0.1, 0.5, 0.9])),
        "Gompertz": ("Gompertz", (0.3, 2.0), {}, A([0.1, 0.5, 2.0])),
        "Levy": ("Levy", (1.0, 0.5), {}, A([1.1, 2.0, 9.0])),
        "BetaProportion": ("BetaProportion", (0.3, 6.0), {}, A([0.1, 0.5, 0.9])),
        "BetaNegativeBinomial": ("BetaNegativeBinomial", (2.0, 4.5, 3.0), {}, A([0.0, 2.0, 9.0])),
        "SoftLaplace": ("SoftLaplace", (0.5, 2.0), {}, A([-3.0, 0.5, 4.0])),
        "RelaxedBernoulliLogits": ("RelaxedBernoulliLogits", (0.7, -0.4), {},
                                   A([0.1, 0.5, 0.9])),
        "Dagum": ("Dagum", (0.7, 3.0, 2.0), {}, A([0.5, 2.0, 6.0])),
        "LowerTruncatedPowerLaw": ("LowerTruncatedPowerLaw", (-2.5, 1.5), {},
                                   A([1.6, 2.0, 30.0])),
        "DoublyTruncatedPowerLaw": ("DoublyTruncatedPowerLaw", (-1.0, 0.5, 4.0), {},
                                    A([0.6, 2.0, 3.9])),
        "HurdlePoisson": ("HurdlePoisson", (0.3, 2.5), {}, A([0.0, 1.0, 6.0])),
        "HurdleGamma": ("HurdleGamma", (0.3, 2.0, 1.5), {}, A([0.0, 0.5, 3.0])),
        "HurdleLogNormal": ("HurdleLogNormal", (0.3, 0.5, 0.8), {}, A([0.0, 0.5, 3.0])),
        "HurdleNegativeBinomial2": ("HurdleNegativeBinomial2", (0.3, 3.0, 1.5), {},
                                    A([0.0, 1.0, 6.0])),
        "TruncatedCauchy": ("TruncatedCauchy", (0.5, 2.0), {"low": -1.0, "high": 8.0},
                            A([-0.5, 2.0, 7.0])),
    }


@pytest.fixture(scope="module")
def numpyro_dist():
    pytest.importorskip("numpyro")
    import jax
    import numpyro.distributions as nd

    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield nd
    jax.config.update("jax_enable_x64", previous)


@pytest.mark.parametrize("name", list(_numpyro_cases()))
def test_log_prob_equals_numpyro(numpyro_dist, name):
    cls, args, kwargs, x = _numpyro_cases()[name]
    ours = getattr(dist, cls)(*args, **kwargs).log_prob(x)
    theirs = np.asarray(getattr(numpyro_dist, cls)(*args, **kwargs).log_prob(x))
    # NumPyro's (JAX's) betaln loses about seven digits at k = 9; ours matches mpmath to 1e-16
    # there (and SciPy in the generic row).
    rtol = 1e-6 if cls == "BetaNegativeBinomial" else 1e-9
    np.testing.assert_allclose(ours, theirs, rtol=rtol)


def test_censored_and_truncated_equal_numpyro(numpyro_dist):
    nd = numpyro_dist
    c = A([0, 1, 1, 0])
    x = A([0.5, 3.0, 5.0, 2.0])
    for ours, theirs in [
        (dist.RightCensoredDistribution(dist.Exponential(0.4), c),
         nd.RightCensoredDistribution(nd.Exponential(0.4), c)),
        (dist.LeftCensoredDistribution(dist.LogNormal(0.0, 1.0), c),
         nd.LeftCensoredDistribution(nd.LogNormal(0.0, 1.0), c)),
        (dist.TruncatedDistribution(dist.Laplace(1.0, 2.0), low=0.2),
         nd.TruncatedDistribution(nd.Laplace(1.0, 2.0), low=0.2)),
        (dist.TruncatedDistribution(dist.Logistic(1.0, 2.0), high=6.0),
         nd.TruncatedDistribution(nd.Logistic(1.0, 2.0), high=6.0)),
        (dist.TruncatedDistribution(dist.StudentT(3.0, 1.0, 2.0), -1.0, 7.0),
         nd.TruncatedDistribution(nd.StudentT(3.0, 1.0, 2.0), -1.0, 7.0)),
        (dist.RightCensoredDistribution(dist.Gamma(2.5, 1.5), c),
         nd.RightCensoredDistribution(nd.Gamma(2.5, 1.5), c)),
    ]:
        np.testing.assert_allclose(ours.log_prob(x), np.asarray(theirs.log_prob(x)), rtol=1e-9)
    k = A([0.0, 3.0, 5.0, 2.0])
    for ours, theirs in [
        (dist.LeftCensoredDistribution(dist.Poisson(2.5), c),
         nd.LeftCensoredDistribution(nd.Poisson(2.5), c)),
        (dist.RightCensoredDistribution(dist.Poisson(2.5), c),
         nd.RightCensoredDistribution(nd.Poisson(2.5), c)),
    ]:
        np.testing.assert_allclose(ours.log_prob(k), np.asarray(theirs.log_prob(k)), rtol=1e-9)
    v = A([[-np.inf, 2.0], [4.0, np.inf], [1.0, 2.5], [1.0, 2.5], [2.0, 2.0]])
    left, right = A([1, 0, 0, 1, 0]), A([0, 1, 0, 1, 0])
    ours = dist.IntervalCensoredDistribution(dist.Weibull(3.0, 1.7), left, right)
    theirs = nd.IntervalCensoredDistribution(nd.Weibull(3.0, 1.7), left, right)
    np.testing.assert_allclose(ours.log_prob(v), np.asarray(theirs.log_prob(v)), rtol=1e-9)


# ---- compiled into a model ---------------------------------------------------------------------


def _check_compiled(model, **data):
    cm = compile_model(model, **data)
    rng = np.random.default_rng(0)
    for _ in range(2):
        theta = rng.uniform(-1.0, 1.0, cm.dim)
        lp, grad = cm.logp_and_grad(theta)
        lp_np, grad_np = cm.logp_and_grad_numpy(theta)
        assert np.isfinite(lp) and np.all(np.isfinite(grad))
        np.testing.assert_allclose([lp, *grad], [lp_np, *grad_np], rtol=1e-10, atol=1e-10)
    return cm


def _continuous_model(x, u, pos, y01):
    loc = ppl.sample("loc", dist.Normal(0.0, 1.0))
    scale = ppl.sample("scale", dist.LogNormal(0.0, 0.3))
    q = ppl.sample("q", dist.Beta(2.0, 2.0))
    lu = ppl.sample("lu", dist.LogUniform(0.5, 5.0))           # an interval support, latent
    ppl.sample("k_latent", dist.Kumaraswamy(2.0, 3.0))
    ppl.sample("t_latent", dist.TruncatedDistribution(dist.Normal(0.0, 1.0), low=0.5))
    ppl.sample("soft", dist.SoftLaplace(loc, scale), obs=x)
    ppl.sample("ald", dist.AsymmetricLaplace(loc, scale, lu), obs=x)
    ppl.sample("aldq", dist.AsymmetricLaplaceQuantile(loc, scale, q), obs=x)
    ppl.sample("moyal", dist.Moyal(loc, scale), obs=x)
    ppl.sample("exg", dist.ExGaussian(loc, scale, lu), obs=x)
    ppl.sample("gompertz", dist.Gompertz(lu, scale), obs=pos)
    ppl.sample("dagum", dist.Dagum(lu, 1.0 + scale, 2.0), obs=pos)
    ppl.sample("ltpl", dist.LowerTruncatedPowerLaw(-1.0 - lu, 0.05), obs=pos)
    ppl.sample("levy", dist.Levy(-1.0 + 0.1 * loc, scale), obs=pos)
    ppl.sample("wald", dist.Wald(lu, scale), obs=pos)
    ppl.sample("rice", dist.Rice(lu, scale), obs=pos)
    ppl.sample("logu", dist.LogUniform(0.01, 10.0 + lu), obs=pos)
    ppl.sample("kuma", dist.Kumaraswamy(lu, scale), obs=y01)
    ppl.sample("bprop", dist.BetaProportion(q, 3.0 * scale), obs=y01)
    ppl.sample("dtpl", dist.DoublyTruncatedPowerLaw(loc, 0.01, 1.0 + lu), obs=y01)
    ppl.sample("tri", dist.Triangular(-0.1, q, 1.1), obs=y01)
    ppl.sample("relax", dist.RelaxedBernoulliLogits(scale, loc), obs=y01)
    ppl.sample("folded", dist.FoldedDistribution(dist.Normal(loc, scale)), obs=pos)
    ppl.sample("tn", dist.TruncatedDistribution(dist.Normal(loc, scale), -3.0, 3.0), obs=x)
    ppl.sample("tl", dist.TruncatedDistribution(dist.Logistic(loc, scale), low=-3.0), obs=x)
    ppl.sample("tg", dist.TruncatedDistribution(dist.Gumbel(loc, scale), high=3.0), obs=x)
    ppl.sample("tc", dist.TruncatedCauchy(loc, scale, low=-3.0, high=3.0), obs=x)
    ppl.sample("hg", dist.HurdleGamma(q, lu, scale), obs=u)
    ppl.sample("hl", dist.HurdleLogNormal(q, loc, scale), obs=u)


@pytest.mark.slow
def test_new_continuous_distributions_compile_into_a_model():
    rng = np.random.default_rng(1)
    x = rng.uniform(-2.5, 2.5, 6)
    pos = rng.uniform(0.1, 3.0, 6)
    u = np.where(rng.random(6) < 0.4, 0.0, pos)
    y01 = rng.uniform(0.05, 0.95, 6)
    _check_compiled(_continuous_model, x=x, u=u, pos=pos, y01=y01)


def _discrete_and_censored_model(k, x, censored, left, right, bounds):
    loc = ppl.sample("loc", dist.Normal(0.0, 1.0))
    scale = ppl.sample("scale", dist.LogNormal(0.0, 0.3))
    g = ppl.sample("g", dist.Beta(2.0, 2.0))
    rate = ppl.sample("rate", dist.Gamma(3.0, 1.0))
    cut = ppl.sample("cut", dist.Normal(np.array([-1.0, 0.0, 1.0]), 0.1))
    ppl.sample("bnb", dist.BetaNegativeBinomial(rate, 2.0 + rate, 3.0), obs=k)
    ppl.sample("hp", dist.HurdlePoisson(g, rate), obs=k)
    ppl.sample("hnb", dist.HurdleNegativeBinomial2(g, rate, 2.0), obs=k)
    ppl.sample("hlog", dist.HurdleDistribution(dist.Poisson(rate), gate_logits=loc), obs=k)
    ppl.sample("zil", dist.ZeroInflatedLogits(dist.Poisson(rate), loc), obs=k)
    ppl.sample("zip", dist.ZeroInflatedProbs(dist.Poisson(rate), g), obs=k)
    ppl.sample("geo", dist.GeometricLogits(loc), obs=k)
    ppl.sample("nbl", dist.NegativeBinomialLogits(rate, loc), obs=k)
    ppl.sample("bin", dist.BinomialProbs(g, 10), obs=k)
    ppl.sample("probit", dist.OrderedProbit(loc, anp.sort(cut), scale), obs=np.minimum(k, 3))
    ppl.sample("right", dist.RightCensoredDistribution(dist.Normal(loc, scale), censored), obs=x)
    ppl.sample("left", dist.LeftCensoredDistribution(dist.Weibull(rate, 1.5), censored),
               obs=np.abs(x) + 0.1)
    ppl.sample("interval", dist.IntervalCensoredDistribution(dist.Normal(loc, scale), left,
                                                             right), obs=bounds)


def _survival_model(t, censored, counts, counts_censored, y01):
    a = ppl.sample("a", dist.Gamma(2.0, 1.0))
    b = ppl.sample("b", dist.HalfNormal(2.0))
    rate = ppl.sample("rate", dist.Exponential(0.5))
    df = ppl.sample("df", dist.Gamma(4.0, 0.5))
    ppl.sample("t", dist.RightCensoredDistribution(dist.Gamma(a, b), censored), obs=t)
    ppl.sample("tt", dist.TruncatedDistribution(dist.Gamma(a, b), 0.05, 8.0), obs=t)
    ppl.sample("st", dist.TruncatedDistribution(dist.StudentT(df, 0.0, b), low=0.01), obs=t)
    ppl.sample("ig", dist.LeftCensoredDistribution(dist.InverseGamma(a, b), censored), obs=t)
    ppl.sample("n", dist.RightCensoredDistribution(dist.Poisson(rate), counts_censored),
               obs=counts)
    ppl.sample("nb", dist.LeftCensoredDistribution(dist.NegativeBinomial2(rate, a),
                                                   counts_censored), obs=counts)
    ppl.sample("p", dist.RightCensoredDistribution(dist.BetaProportion(0.4, a), censored),
               obs=y01)


@pytest.mark.slow
def test_incomplete_gamma_and_beta_bases_compile_into_a_model():
    t = A([0.3, 1.2, 4.0, 0.8, 2.5])
    censored = A([0.0, 1.0, 1.0, 0.0, 1.0])
    counts = A([0.0, 2.0, 5.0, 1.0, 9.0])
    y01 = A([0.2, 0.5, 0.9, 0.4, 0.7])
    _check_compiled(_survival_model, t=t, censored=censored, counts=counts,
                    counts_censored=1.0 - censored, y01=y01)


@pytest.mark.slow
def test_new_discrete_and_censored_distributions_compile_into_a_model():
    k = np.array([0.0, 1.0, 2.0, 0.0, 5.0, 3.0])
    x = np.array([0.3, -1.0, 2.0, 0.5, -0.2, 1.5])
    censored = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    # Observed data must be finite in a model: the unused bound holds any finite number.
    bounds = np.array([[-99.0, 1.0], [0.5, 99.0], [-1.0, 0.5], [-1.0, 0.5], [0.2, 0.2],
                       [0.0, 1.0]])
    left = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    right = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    cm = _check_compiled(_discrete_and_censored_model, k=k, x=x, censored=censored, left=left,
                         right=right, bounds=bounds)
    # A different censoring pattern is data: same compiled code, the likelihood follows it.
    flipped = compile_model(_discrete_and_censored_model, k=k, x=x, censored=1.0 - censored,
                            left=left, right=right, bounds=bounds)
    theta = np.random.default_rng(3).uniform(-1.0, 1.0, cm.dim)
    assert cm.logp_and_grad(theta)[0] != flipped.logp_and_grad(theta)[0]
    np.testing.assert_allclose(flipped.logp_and_grad(theta)[0],
                               flipped.logp_and_grad_numpy(theta)[0], rtol=1e-10)


def test_truncated_gamma_family_matches_scipy():
    """NumPyro's TruncatedGamma constructor and classes: density renormalised by the Gamma
    cdf (SciPy), draws inside the bounds with the truncated cdf (KS test)."""
    gamma = st.gamma(2.0, scale=1 / 1.5)
    x = np.array([0.7, 1.2, 2.9])
    two = dist.TruncatedGamma(2.0, 1.5, low=0.5, high=3.0)
    assert isinstance(two, dist.TwoSidedTruncatedGamma)
    np.testing.assert_allclose(two.log_prob(x), gamma.logpdf(x)
                               - np.log(gamma.cdf(3.0) - gamma.cdf(0.5)), rtol=1e-10)
    left = dist.TruncatedGamma(2.0, 1.5, low=0.5)
    np.testing.assert_allclose(left.log_prob(x), gamma.logpdf(x) - gamma.logsf(0.5), rtol=1e-10)
    right = dist.RightTruncatedGamma(dist.Gamma(2.0, 1.5), high=3.0)
    np.testing.assert_allclose(right.log_prob(x), gamma.logpdf(x) - gamma.logcdf(3.0),
                               rtol=1e-10)
    draws = two.sample(0, (5000,))
    assert draws.min() >= 0.5 and draws.max() <= 3.0
    def truncated_cdf(v):
        return (gamma.cdf(v) - gamma.cdf(0.5)) / (gamma.cdf(3.0) - gamma.cdf(0.5))
    assert st.kstest(draws, truncated_cdf).pvalue > 1e-3
    with pytest.raises(TypeError, match="Gamma"):
        dist.LeftTruncatedGamma(dist.Normal(0.0, 1.0), 0.5)


def test_truncated_polya_gamma_density_and_draws():
    """PG(1, 0): the density (7 series terms) against 60 terms summed in NumPy, mass 1 and
    mean 1/4 on (0, 2.5]; draws are the 8-term series of exponentials (NumPyro's sampler), whose
    mean is 1/4 minus the omitted terms' (2 pi^2)^-1 sum_{k>8} (k - 1/2)^-2."""
    d = dist.TruncatedPolyaGamma()
    x = np.array([0.05, 0.3, 1.0, 2.4])
    n = np.arange(60)
    series = np.sum((-1.0) ** n * (2 * n + 1) * np.exp(-(2 * n + 1) ** 2 / (8 * x[:, None])),
                    axis=1) / np.sqrt(2 * np.pi * x**3)
    np.testing.assert_allclose(np.exp(d.log_prob(x)), series, rtol=1e-9)
    def density(v):
        return float(np.exp(d.log_prob(np.array(v))))
    assert abs(quad(density, 1e-8, 2.5, limit=200)[0] - 1.0) < 1e-5
    assert abs(quad(lambda v: v * density(v), 1e-8, 2.5, limit=200)[0] - 0.25) < 1e-4
    draws = d.sample(0, (100_000,))
    k = np.arange(9, 100_000)
    expected = 0.25 - np.sum(1 / (k - 0.5) ** 2) / (2 * np.pi**2)
    assert abs(draws.mean() - expected) < 5 * draws.std() / np.sqrt(draws.size)
    assert draws.min() > 0 and draws.max() <= 2.5
    # gradient of the log density in the value, through either form, against finite differences
    for v in (0.05, 0.3, 2.0):
        g = autodiff.grad(lambda t: d.log_prob(t))(np.array(v))
        fd = (d.log_prob(np.array(v + 1e-6)) - d.log_prob(np.array(v - 1e-6))) / 2e-6
        assert np.isfinite(g) and abs(g - fd) < 1e-5 * max(1.0, abs(fd))
