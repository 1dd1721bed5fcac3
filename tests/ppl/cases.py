"""Distribution test cases as data: one row per case, SciPy (or a naive formula) as the oracle.

Each :class:`Case` names the class, its parameters (scalar and batched), a function building the
:class:`Twin` oracle from those parameters, which parameters to differentiate, an invalid value
for the validation test, and per-row skips with their reasons.  The generic tests in
``test_distributions.py`` never ask which distribution they are testing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import scipy.special as ss
import scipy.stats as st
from scipy.integrate import quad

from ppl import distributions as dist


@dataclass
class Twin:
    """The oracle's view of one distribution; a missing entry means "no oracle for this".

    ``logp(x)`` is the log density or mass (event dims reduced); ``rvs(size, rng)`` draws points
    of shape ``size + event_shape`` where ``size = sample_shape + batch_shape``.
    """

    logp: Callable[[np.ndarray], np.ndarray]
    rvs: Callable[[tuple, np.random.Generator], np.ndarray]
    mean: Callable[[], np.ndarray] | None = None
    var: Callable[[], np.ndarray] | None = None
    cdf: Callable[[np.ndarray], np.ndarray] | None = None
    ppf: Callable[[np.ndarray], np.ndarray] | None = None
    entropy: Callable[[], np.ndarray] | None = None


def frozen(f: Any, **overrides: Any) -> Twin:
    """A :class:`Twin` from a frozen ``scipy.stats`` distribution (continuous or discrete)."""
    discrete = hasattr(f, "pmf")
    parts = dict(
        logp=f.logpmf if discrete else f.logpdf,
        rvs=lambda size, rng: f.rvs(size=size, random_state=rng),
        mean=f.mean,
        var=f.var,
        cdf=f.cdf,
        ppf=None if discrete else f.ppf,
        entropy=f.entropy,
    )
    parts.update(overrides)
    return Twin(**parts)


@dataclass
class Case:
    """One test row.

    Attributes
    ----------
    dist : the class under test; ``params`` its keyword arguments.
    twin : builds the oracle from ``params``.
    grad : names of parameters to differentiate ``log_prob`` with respect to.
    invalid : ``{param: bad value}`` that ``validate_args=True`` must reject.
    skip : ``{test name: reason}`` for tests that do not apply to this row.
    rtol, atol : tolerances of the exact comparisons (log_prob, moments, cdf, entropy).
    """

    dist: type
    params: dict[str, Any]
    twin: Callable[..., Twin]
    grad: tuple[str, ...] = ()
    invalid: dict[str, Any] = field(default_factory=dict)
    skip: dict[str, str] = field(default_factory=dict)
    rtol: float = 1e-9
    atol: float = 1e-10
    tag: str = ""

    @property
    def id(self) -> str:
        return f"{self.dist.__name__}{'-' + self.tag if self.tag else ''}"

    def make(self, **kwargs: Any):
        return self.dist(**self.params, **kwargs)

    def oracle(self) -> Twin:
        return self.twin(**{k: np.asarray(v, float) if v is not None else None
                            for k, v in self.params.items()})

    @property
    def discrete(self) -> bool:
        return self.make().is_discrete


A = np.array  # short for the batched parameters below
NO_FOURTH_MOMENT = "the fourth moment is infinite, so the sample variance has no standard error"


def _half_t(df, scale):
    t = st.t(df, scale=scale)
    m = t.expect(np.abs) if np.ndim(df) == 0 else None
    return Twin(
        logp=lambda x: np.log(2.0) + t.logpdf(x),
        rvs=lambda size, rng: np.abs(t.rvs(size=size, random_state=rng)),
        mean=lambda: m,
        var=lambda: t.var() - m**2,
        cdf=lambda x: 2.0 * t.cdf(x) - 1.0,
    )


def _von_mises(loc, concentration):
    f = st.vonmises(concentration, loc=loc)
    circ_var = 1.0 - ss.i1(concentration) / ss.i0(concentration)
    return frozen(f, var=lambda: circ_var + 0.0 * np.asarray(loc))


def _truncnorm(loc, scale, low=None, high=None):
    a = -np.inf if low is None else (low - loc) / scale
    b = np.inf if high is None else (high - loc) / scale
    f = st.truncnorm(a, b, loc=loc, scale=scale)
    # SciPy's closed-form entropy is NaN for an infinite bound or a far-tail interval.
    return frozen(f, entropy=lambda: _entropy_by_quadrature(f, low, high))


def _entropy_by_quadrature(f, low, high):
    """-E[log p(X)] by adaptive quadrature over the support, one batch element at a time."""
    lo = np.broadcast_to(-np.inf if low is None else low, f.mean().shape)
    hi = np.broadcast_to(np.inf if high is None else high, f.mean().shape)
    logpdf = f.logpdf
    out = np.empty(f.mean().shape)
    for i in np.ndindex(out.shape):
        def integrand(x, i=i):
            lp = np.broadcast_to(logpdf(np.full(out.shape, x)), out.shape)[i]
            return -np.exp(lp) * lp if np.isfinite(lp) else 0.0

        out[i] = quad(integrand, lo[i], hi[i], epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    return out


def _bernoulli_entropy(logits):
    """To 30 digits with mpmath: SciPy's loses digits in 1 - p when p is tiny."""
    def h(logit):
        with mpmath.workdps(30):
            p = 1 / (1 + mpmath.exp(-mpmath.mpf(logit)))
            return float(-p * mpmath.log(p) - (1 - p) * mpmath.log(1 - p))

    return np.vectorize(h)(logits)


def _categorical(probs):
    cdf = np.cumsum(probs, -1)

    def logp(x):
        onehot = (np.asarray(x)[..., None] == np.arange(probs.shape[-1])).astype(float)
        return st.multinomial(1, probs).logpmf(onehot)

    return Twin(logp=logp, rvs=lambda size, rng: (rng.random(size + (1,)) > cdf).sum(-1))


def _categorical_logits(logits):
    return _categorical(ss.softmax(logits, -1))


def _ordered_logistic(predictor, cutpoints):
    # Naive formula: differences of the cumulative probabilities expit(c_k - eta).
    cum = ss.expit(cutpoints - np.asarray(predictor)[..., None])
    cum = np.concatenate([np.zeros(cum.shape[:-1] + (1,)), cum, np.ones(cum.shape[:-1] + (1,))], -1)
    return _categorical(np.diff(cum, axis=-1))


def _zero_inflated(base, gate):
    def logp(x):
        x = np.asarray(x)
        return np.log(gate * (x == 0) + (1.0 - gate) * base.pmf(x))

    def rvs(size, rng):
        counts = base.rvs(size=size, random_state=rng)
        return np.where(rng.random(counts.shape) < gate, 0, counts)

    mean = (1.0 - gate) * base.mean()
    second = (1.0 - gate) * (base.var() + base.mean() ** 2)
    return Twin(logp=logp, rvs=rvs, mean=lambda: mean, var=lambda: second - mean**2)


def _multinomial(total_count, probs):
    f = st.multinomial(total_count.astype(int), probs)

    def rvs(size, rng):
        n = np.broadcast_to(total_count.astype(int), size)
        return rng.multinomial(n, np.broadcast_to(probs, size + probs.shape[-1:]))

    return Twin(logp=f.logpmf, rvs=rvs, mean=f.mean,
                var=lambda: np.diagonal(f.cov(), axis1=-2, axis2=-1))


def _multinomial_probs_first(probs, total_count):
    return _multinomial(total_count, probs)


def _dirichlet_multinomial(concentration, total_count):
    f = st.dirichlet_multinomial(concentration, total_count.astype(int))

    def rvs(size, rng):
        g = rng.gamma(np.broadcast_to(concentration, size + concentration.shape[-1:]))
        n = np.broadcast_to(total_count.astype(int), size)
        return rng.multinomial(n, g / g.sum(-1, keepdims=True))

    return Twin(logp=f.logpmf, rvs=rvs, mean=f.mean, var=f.var)


# ---- oracles of the NumPyro/PyMC additions ---------------------------------------------------------


def _named(name: str, fn: Callable) -> Callable:
    """A builder of a wrapper distribution from numeric parameters (the generic tests pass
    parameters only), named after the class it returns so that error messages match."""
    fn.__name__ = name
    return fn


def _inverse_cdf_twin(logp, cdf, ppf, mean=None, var=None, entropy=None) -> Twin:
    """A hand-written oracle: formulas for the density and cdf, draws by the quantile."""
    return Twin(logp=logp, rvs=lambda size, rng: ppf(rng.random(size)), mean=mean, var=var,
                cdf=cdf, ppf=ppf, entropy=entropy)


def _asymmetric_laplace_quantile(loc, scale, quantile):
    kappa = np.sqrt(quantile / (1.0 - quantile))
    return frozen(st.laplace_asymmetric(kappa, loc, scale * kappa / quantile))


def _kumaraswamy(concentration1, concentration0):
    a, b = concentration1, concentration0

    def moment(k):
        return b * ss.beta(1.0 + k / a, b)

    m = moment(1.0)
    return _inverse_cdf_twin(
        logp=lambda x: np.log(a * b) + (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x**a),
        cdf=lambda x: 1.0 - (1.0 - x**a) ** b,
        ppf=lambda q: (1.0 - (1.0 - q) ** (1.0 / b)) ** (1.0 / a),
        mean=lambda: m, var=lambda: moment(2.0) - m**2,
        # Jones (2009): (1 - 1/b) + (1 - 1/a) H_b - log(ab).
        entropy=lambda: (1.0 - 1.0 / b) + (1.0 - 1.0 / a) * (ss.digamma(b + 1.0) + np.euler_gamma)
        - np.log(a * b))


def _power_law_integral(beta, lo, hi):
    """int_lo^hi x^(beta - 1) dx, naively."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(beta == 0.0, np.log(hi / lo), (hi**beta - lo**beta) / np.where(
            beta == 0.0, 1.0, beta))


def _doubly_truncated_power_law(alpha, low, high):
    b = alpha + 1.0
    z = _power_law_integral(b, low, high)
    m = _power_law_integral(b + 1.0, low, high) / z
    return _inverse_cdf_twin(
        logp=lambda x: alpha * np.log(x) - np.log(z),
        cdf=lambda x: _power_law_integral(b, low, x) / z,
        ppf=lambda q: np.where(b == 0.0, low * (high / low) ** q,
                               (low**b + q * (high**b - low**b)) ** (1.0 / np.where(b == 0, 1, b))),
        mean=lambda: m, var=lambda: _power_law_integral(b + 2.0, low, high) / z - m**2)


def _relaxed_bernoulli(temperature, logits):
    base = st.logistic(logits / temperature, 1.0 / temperature)
    return _inverse_cdf_twin(
        logp=lambda x: base.logpdf(ss.logit(x)) - np.log(x * (1.0 - x)),
        cdf=lambda x: base.cdf(ss.logit(x)),
        ppf=lambda q: ss.expit(base.ppf(q)))


def _truncated(f, low=None, high=None):
    """A frozen SciPy law restricted to [low, high], by the textbook formulas."""
    lo = -np.inf if low is None else low
    hi = np.inf if high is None else high
    f_lo, f_hi = f.cdf(lo), f.cdf(hi)
    z = f_hi - f_lo
    return _inverse_cdf_twin(
        logp=lambda x: np.where((x >= lo) & (x <= hi), f.logpdf(x) - np.log(z), -np.inf),
        cdf=lambda x: np.clip((f.cdf(x) - f_lo) / z, 0.0, 1.0),
        ppf=lambda q: f.ppf(f_lo + q * z))


def _folded_normal(loc, scale):
    return frozen(st.foldnorm(np.abs(loc) / scale, scale=scale), entropy=None, ppf=None)


def _censored(f, censored, survival: bool):
    c = np.asarray(censored) != 0
    tail = f.logsf if survival else f.logcdf
    return frozen(f, logp=lambda x: np.where(c, tail(x), f.logpdf(x)), entropy=None)


def _interval_censored(loc, scale, left_censored, right_censored):
    f = st.norm(loc, scale)
    lc, rc = np.asarray(left_censored) != 0, np.asarray(right_censored) != 0

    def logp(v):
        lo, hi = v[..., 0], v[..., 1]
        return np.select(
            [lc & ~rc, rc & ~lc, ~lc & ~rc],
            [f.logcdf(hi), f.logsf(lo), np.log(f.cdf(hi) - f.cdf(lo))],
            np.log1p(-(f.cdf(hi) - f.cdf(lo))))

    def rvs(size, rng):
        lo = f.rvs(size=size, random_state=rng) - rng.random(size)
        return np.stack([lo, lo + 0.5 + rng.random(size)], axis=-1)

    return Twin(logp=logp, rvs=rvs)


def _hurdle_discrete(base, gate):
    p0 = base.pmf(0)

    def logp(x):
        x = np.asarray(x)
        with np.errstate(divide="ignore"):
            return np.where(x == 0, np.log(gate), np.log1p(-gate) + base.logpmf(x)
                            - np.log1p(-p0))

    def rvs(size, rng):
        k = base.ppf(p0 + rng.random(size) * (1.0 - p0))  # zero-truncated by inversion
        return np.where(rng.random(size) < gate, 0, k)

    m1 = base.mean() / (1.0 - p0)
    m2 = (base.var() + base.mean() ** 2) / (1.0 - p0)
    mean = (1.0 - gate) * m1
    return Twin(logp=logp, rvs=rvs, mean=lambda: mean,
                var=lambda: (1.0 - gate) * m2 - mean**2)


def _hurdle_continuous(base, gate):
    def logp(x):
        x = np.asarray(x)
        return np.where(x == 0, np.log(gate), np.log1p(-gate) + base.logpdf(np.where(x == 0, 1,
                                                                                      x)))

    mean = (1.0 - gate) * base.mean()
    second = (1.0 - gate) * (base.var() + base.mean() ** 2)
    # Points at x > 0 only: the generic value-gradient test differentiates the density, and
    # 0 is an atom (tests/ppl/test_distributions_extra.py checks the atom).
    return Twin(logp=logp, rvs=lambda size, rng: base.rvs(size=size, random_state=rng),
                mean=lambda: mean, var=lambda: second - mean**2)


def _ordered_probit(eta, cutpoints, sigma):
    cum = ss.ndtr((cutpoints - np.asarray(eta)[..., None]) / np.asarray(sigma)[..., None])
    cum = np.concatenate([np.zeros(cum.shape[:-1] + (1,)), cum, np.ones(cum.shape[:-1] + (1,))], -1)
    return _categorical(np.diff(cum, axis=-1))


def _trunc_builder(name, base_cls, *base_names):
    def build(low=None, high=None, validate_args=None, **params):
        base = base_cls(*(params[n] for n in base_names), validate_args=validate_args)
        return dist.TruncatedDistribution(base, low, high, validate_args=validate_args)

    return _named(name, build)


TRUNCATED_NORMAL = _trunc_builder("TruncatedDistribution", dist.Normal, "loc", "scale")
TRUNCATED_GUMBEL = _trunc_builder("TruncatedDistribution", dist.Gumbel, "loc", "scale")
TRUNCATED_LAPLACE = _trunc_builder("TruncatedDistribution", dist.Laplace, "loc", "scale")
TRUNCATED_EXPONENTIAL = _trunc_builder("TruncatedDistribution", dist.Exponential, "rate")
TRUNCATED_GAMMA = _trunc_builder("TruncatedDistribution", dist.Gamma, "concentration", "rate")
RIGHT_CENSORED_GAMMA = _named(
    "RightCensoredDistribution", lambda concentration, rate, censored, validate_args=None:
    dist.RightCensoredDistribution(dist.Gamma(concentration, rate), censored,
                                   validate_args=validate_args))
FOLDED_NORMAL = _named("FoldedDistribution", lambda loc, scale, validate_args=None:
                       dist.FoldedDistribution(dist.Normal(loc, scale), validate_args=validate_args))
LEFT_CENSORED_NORMAL = _named(
    "LeftCensoredDistribution", lambda loc, scale, censored, validate_args=None:
    dist.LeftCensoredDistribution(dist.Normal(loc, scale), censored, validate_args=validate_args))
RIGHT_CENSORED_WEIBULL = _named(
    "RightCensoredDistribution", lambda scale, concentration, censored, validate_args=None:
    dist.RightCensoredDistribution(dist.Weibull(scale, concentration), censored,
                                   validate_args=validate_args))
INTERVAL_CENSORED_NORMAL = _named(
    "IntervalCensoredDistribution",
    lambda loc, scale, left_censored, right_censored, validate_args=None:
    dist.IntervalCensoredDistribution(dist.Normal(loc, scale), left_censored, right_censored,
                                      validate_args=validate_args))
HURDLE_LOGITS_POISSON = _named(
    "HurdleLogits", lambda rate, gate_logits, validate_args=None:
    dist.HurdleLogits(dist.Poisson(rate), gate_logits, validate_args=validate_args))
ZERO_INFLATED_LOGITS = _named(
    "ZeroInflatedLogits", lambda rate, gate_logits, validate_args=None:
    dist.ZeroInflatedLogits(dist.Poisson(rate), gate_logits, validate_args=validate_args))
ZERO_INFLATED_PROBS = _named(
    "ZeroInflatedProbs", lambda rate, gate, validate_args=None:
    dist.ZeroInflatedProbs(dist.Poisson(rate), gate, validate_args=validate_args))
NO_CDF_KS = "an atom at 0: the KS test needs a continuous cdf"


CONTINUOUS = [
    Case(dist.Normal, {"loc": 0.5, "scale": 2.0}, lambda loc, scale: frozen(st.norm(loc, scale)),
         grad=("loc", "scale"), invalid={"scale": -1.0}),
    Case(dist.Normal, {"loc": A([[-1.0], [2.0]]), "scale": A([0.5, 1.0, 3.0])},
         lambda loc, scale: frozen(st.norm(loc, scale)), grad=("loc", "scale"),
         invalid={"scale": A([1.0, -2.0, 1.0])}, tag="batched"),
    Case(dist.HalfNormal, {"scale": A([0.5, 2.0])}, lambda scale: frozen(st.halfnorm(scale=scale)),
         grad=("scale",), invalid={"scale": 0.0}),
    Case(dist.Cauchy, {"loc": A([0.0, 1.0]), "scale": 2.0},
         # SciPy's variance is NaN; NumPyro's (and ours) is +inf.
         lambda loc, scale: frozen(st.cauchy(loc, scale), var=lambda: np.inf),
         grad=("loc", "scale"),
         invalid={"scale": -1.0}),
    Case(dist.HalfCauchy, {"scale": 1.5}, lambda scale: frozen(st.halfcauchy(scale=scale)),
         grad=("scale",), invalid={"scale": -1.5}),
    Case(dist.StudentT, {"df": A([5.0, 9.0]), "loc": 1.0, "scale": 2.0},
         lambda df, loc, scale: frozen(st.t(df, loc, scale)), grad=("df", "loc", "scale"),
         invalid={"df": -3.0}, skip={"sample_var": "df=5: " + NO_FOURTH_MOMENT}),
    Case(dist.StudentT, {"df": 2.5, "loc": 0.0, "scale": 1.0},
         lambda df, loc, scale: frozen(st.t(df, loc, scale)), grad=("df",),
         skip={"sample_var": NO_FOURTH_MOMENT}, tag="df2.5"),
    Case(dist.HalfStudentT, {"df": 6.0, "scale": 1.5}, _half_t, grad=("df", "scale"),
         invalid={"df": 0.0}, skip={"sample_var": NO_FOURTH_MOMENT}),
    Case(dist.LogNormal, {"loc": A([0.0, 0.5]), "scale": A([0.25, 0.5])},
         lambda loc, scale: frozen(st.lognorm(scale, scale=np.exp(loc))), grad=("loc", "scale"),
         invalid={"scale": A([1.0, -1.0])}),
    Case(dist.Exponential, {"rate": A([0.5, 3.0])}, lambda rate: frozen(st.expon(scale=1 / rate)),
         grad=("rate",), invalid={"rate": -2.0}),
    Case(dist.Gamma, {"concentration": A([0.5, 2.0, 7.0]), "rate": 2.0},
         lambda concentration, rate: frozen(st.gamma(concentration, scale=1 / rate)),
         grad=("concentration", "rate"), invalid={"concentration": -1.0}),
    Case(dist.Chi2, {"df": A([1.5, 4.0])}, lambda df: frozen(st.chi2(df)), grad=("df",),
         invalid={"df": -1.0}),
    Case(dist.InverseGamma, {"concentration": A([5.0, 9.0]), "rate": 2.0},
         lambda concentration, rate: frozen(st.invgamma(concentration, scale=rate)),
         grad=("concentration", "rate"), invalid={"rate": 0.0}),
    Case(dist.Beta, {"concentration1": A([0.5, 2.0]), "concentration0": A([[1.5], [4.0]])},
         lambda concentration1, concentration0: frozen(st.beta(concentration1, concentration0)),
         grad=("concentration1", "concentration0"), invalid={"concentration0": -0.5}),
    Case(dist.Uniform, {"low": A([-1.0, 2.0]), "high": A([1.0, 5.0])},
         lambda low, high: frozen(st.uniform(low, high - low)), grad=("low", "high"),
         invalid={"high": A([-2.0, 5.0])}),
    Case(dist.Laplace, {"loc": 1.0, "scale": A([0.5, 2.0])},
         lambda loc, scale: frozen(st.laplace(loc, scale)), grad=("loc", "scale"),
         invalid={"scale": -0.5}),
    Case(dist.Logistic, {"loc": A([0.0, -2.0]), "scale": 1.5},
         lambda loc, scale: frozen(st.logistic(loc, scale)), grad=("loc", "scale"),
         invalid={"scale": -1.0}),
    Case(dist.Gumbel, {"loc": 1.0, "scale": A([0.5, 2.0])},
         lambda loc, scale: frozen(st.gumbel_r(loc, scale)), grad=("loc", "scale"),
         invalid={"scale": 0.0}),
    Case(dist.Weibull, {"scale": A([1.0, 2.5]), "concentration": A([0.8, 3.0])},
         lambda scale, concentration: frozen(st.weibull_min(concentration, scale=scale)),
         grad=("scale", "concentration"), invalid={"concentration": -1.0}),
    Case(dist.Pareto, {"scale": A([1.0, 2.0]), "alpha": A([5.0, 9.0])},
         lambda scale, alpha: frozen(st.pareto(alpha, scale=scale)), grad=("scale", "alpha"),
         invalid={"alpha": -1.0}),
    Case(dist.VonMises, {"loc": 0.0, "concentration": A([0.5, 4.0])}, _von_mises,
         grad=("loc", "concentration"), invalid={"concentration": -1.0},
         skip={"sample_moments": "variance is the circular variance, not the linear one"}),
    Case(dist.VonMises, {"loc": A([1.0, -2.0]), "concentration": 80.0}, _von_mises,
         grad=("loc", "concentration"), tag="offset",
         skip={"sample_moments": "samples wrap into [-pi, pi); SciPy's lie in loc +- pi",
               "ks": "SciPy's cdf is not wrapped for loc != 0"}),
    Case(dist.TruncatedNormal, {"loc": A([0.0, 1.0]), "scale": 2.0, "low": -1.0, "high": 2.0},
         _truncnorm, grad=("loc", "scale", "low", "high"), invalid={"scale": -2.0}),
    Case(dist.TruncatedNormal, {"loc": 0.0, "scale": 1.0, "low": A([6.0, -40.0]),
                                "high": A([7.0, -39.0])},
         _truncnorm, grad=("loc", "scale", "low", "high"), invalid={"high": A([5.0, -39.0])},
         tag="tails"),
    Case(dist.TruncatedNormal, {"loc": A([0.0, 1.0]), "scale": 1.5, "low": 0.5},
         _truncnorm, grad=("loc", "scale", "low"), tag="low"),
    Case(dist.TruncatedNormal, {"loc": 2.0, "scale": A([1.0, 3.0]), "high": 1.0},
         _truncnorm, grad=("loc", "scale", "high"), tag="high"),
    Case(dist.SkewNormal, {"loc": 1.0, "scale": A([0.5, 2.0]), "alpha": A([-3.0, 4.0])},
         lambda loc, scale, alpha: frozen(st.skewnorm(alpha, loc, scale)),
         grad=("loc", "scale", "alpha"), invalid={"scale": -1.0}),
    # ---- NumPyro / PyMC additions ----
    Case(dist.SoftLaplace, {"loc": A([0.0, 1.0]), "scale": 1.5},
         lambda loc, scale: frozen(st.hypsecant(loc, scale)), grad=("loc", "scale"),
         invalid={"scale": -1.0}),
    Case(dist.AsymmetricLaplace, {"loc": 0.5, "scale": A([1.0, 2.0]), "asymmetry": A([0.5, 2.0])},
         lambda loc, scale, asymmetry: frozen(st.laplace_asymmetric(asymmetry, loc, scale)),
         grad=("loc", "scale", "asymmetry"), invalid={"asymmetry": -1.0}),
    Case(dist.AsymmetricLaplaceQuantile,
         {"loc": 0.5, "scale": 1.5, "quantile": A([0.2, 0.5, 0.9])},
         _asymmetric_laplace_quantile, grad=("loc", "scale", "quantile"),
         invalid={"quantile": 1.5}),
    Case(dist.Moyal, {"loc": A([0.0, 1.0]), "scale": 2.0},
         lambda loc, scale: frozen(st.moyal(loc, scale)), grad=("loc", "scale"),
         invalid={"scale": -2.0}),
    Case(dist.ExGaussian, {"mu": A([0.0, 1.0]), "sigma": 1.5, "nu": A([0.5, 2.0])},
         lambda mu, sigma, nu: frozen(st.exponnorm(nu / sigma, mu, sigma)),
         grad=("mu", "sigma", "nu"), invalid={"nu": -0.5}),
    Case(dist.Gompertz, {"concentration": A([0.5, 2.0]), "rate": 1.5},
         # No variance here (no elementary form): the mean is checked in the extra tests.
         lambda concentration, rate: frozen(st.gompertz(concentration, scale=1.0 / rate),
                                            mean=None, var=None),
         grad=("concentration", "rate"), invalid={"rate": -1.5}),
    Case(dist.Dagum, {"concentration": A([0.7, 2.0]), "sharpness": A([5.0, 9.0]), "scale": 1.5},
         lambda concentration, sharpness, scale: frozen(st.burr(sharpness, concentration,
                                                                scale=scale)),
         grad=("concentration", "sharpness", "scale"), invalid={"sharpness": 0.0}),
    Case(dist.LowerTruncatedPowerLaw, {"alpha": A([-6.0, -10.0]), "low": A([1.0, 2.0])},
         lambda alpha, low: frozen(st.pareto(-alpha - 1.0, scale=low)), grad=("alpha", "low"),
         invalid={"alpha": 0.5}),
    Case(dist.Levy, {"loc": A([0.0, 1.0]), "scale": 2.0},
         lambda loc, scale: frozen(st.levy(loc, scale)), grad=("loc", "scale"),
         invalid={"scale": -2.0}),
    Case(dist.Wald, {"mu": A([1.0, 2.5]), "lam": 3.0, "alpha": 0.5},
         lambda mu, lam, alpha: frozen(st.invgauss(mu / lam, loc=alpha, scale=lam)),
         grad=("mu", "lam", "alpha"), invalid={"lam": -3.0}),
    Case(dist.Rice, {"nu": A([0.5, 3.0]), "sigma": 1.2},
         lambda nu, sigma: frozen(st.rice(nu / sigma, scale=sigma)), grad=("nu", "sigma"),
         invalid={"sigma": -1.2}),
    Case(dist.LogUniform, {"low": A([0.5, 1.0]), "high": A([20.0, 3.0])},
         lambda low, high: frozen(st.loguniform(low, high)), grad=("low", "high"),
         invalid={"high": A([0.1, 3.0])}),
    Case(dist.Kumaraswamy, {"concentration1": A([0.7, 2.0]), "concentration0": A([1.5, 3.0])},
         _kumaraswamy, grad=("concentration1", "concentration0"),
         invalid={"concentration1": -0.7}),
    Case(dist.BetaProportion, {"mean": A([0.2, 0.6]), "concentration": 5.0},
         lambda mean, concentration: frozen(st.beta(mean * concentration,
                                                    (1.0 - mean) * concentration)),
         grad=("mean", "concentration"), invalid={"mean": 1.5}),
    Case(dist.DoublyTruncatedPowerLaw, {"alpha": A([1.5, -2.5]), "low": 0.5,
                                        "high": A([3.0, 4.0])},
         _doubly_truncated_power_law, grad=("alpha", "low", "high"),
         invalid={"high": A([0.2, 4.0])}),
    Case(dist.DoublyTruncatedPowerLaw, {"alpha": -1.0, "low": A([0.5, 1.0]), "high": 3.0},
         _doubly_truncated_power_law, grad=("alpha", "low", "high"), tag="alpha-1"),
    Case(dist.Triangular, {"lower": A([-1.0, 0.0]), "c": A([0.5, 0.2]), "upper": A([2.0, 1.0])},
         lambda lower, c, upper: frozen(st.triang((c - lower) / (upper - lower), loc=lower,
                                                  scale=upper - lower)),
         grad=("lower", "c", "upper"), invalid={"c": A([5.0, 0.2])}),
    Case(dist.RelaxedBernoulliLogits, {"temperature": A([0.5, 2.0]), "logits": A([-1.0, 0.8])},
         _relaxed_bernoulli, grad=("temperature", "logits"), invalid={"temperature": -0.5}),
    Case(TRUNCATED_NORMAL, {"loc": A([0.0, 1.0]), "scale": 2.0, "low": -1.0, "high": 2.0},
         _truncnorm, grad=("loc", "scale", "low", "high"), invalid={"high": -2.0}, tag="normal"),
    Case(TRUNCATED_NORMAL, {"loc": A([0.0, 1.0]), "scale": 1.5, "low": A([0.5, 6.0])},
         _truncnorm, grad=("loc", "scale", "low"), tag="normal-left"),
    Case(TRUNCATED_GUMBEL, {"loc": 0.5, "scale": A([1.0, 2.0]), "high": 1.0},
         lambda loc, scale, high: _truncated(st.gumbel_r(loc, scale), high=high),
         grad=("loc", "scale", "high"), tag="gumbel-right"),
    Case(TRUNCATED_LAPLACE, {"loc": 0.5, "scale": 1.0, "low": A([3.0, -2.0]), "high": 9.0},
         lambda loc, scale, low, high: _truncated(st.laplace(loc, scale), low, high),
         grad=("loc", "scale", "low", "high"), tag="laplace"),
    Case(TRUNCATED_EXPONENTIAL, {"rate": A([0.5, 2.0]), "low": 1.0},
         lambda rate, low: _truncated(st.expon(scale=1.0 / rate), low=low),
         grad=("rate", "low"), tag="exponential-left"),
    Case(TRUNCATED_GAMMA, {"concentration": A([0.7, 3.0]), "rate": 1.5, "low": 0.5,
                           "high": A([4.0, 2.0])},
         lambda concentration, rate, low, high: _truncated(
             st.gamma(concentration, scale=1.0 / rate), low, high),
         grad=("concentration", "rate", "low", "high"), invalid={"high": 0.2}, tag="gamma"),
    Case(RIGHT_CENSORED_GAMMA, {"concentration": A([0.7, 3.0, 3.0]), "rate": 1.5,
                                "censored": A([1.0, 0.0, 1.0])},
         lambda concentration, rate, censored: _censored(
             st.gamma(concentration, scale=1.0 / rate), censored, survival=True),
         grad=("concentration", "rate"), tag="gamma"),
    Case(dist.TruncatedCauchy, {"loc": 0.5, "scale": 2.0, "low": A([-1.0, 3.0]), "high": 8.0},
         lambda loc, scale, low, high: _truncated(st.cauchy(loc, scale), low, high),
         grad=("loc", "scale", "low", "high"), invalid={"scale": -1.0}),
    Case(FOLDED_NORMAL, {"loc": A([0.5, -1.0]), "scale": 1.5}, _folded_normal,
         grad=("loc", "scale")),
    Case(LEFT_CENSORED_NORMAL, {"loc": 0.3, "scale": 1.2, "censored": A([0.0, 1.0, 1.0, 0.0])},
         lambda loc, scale, censored: _censored(st.norm(loc, scale), censored, survival=False),
         grad=("loc", "scale"), invalid={"censored": A([0.0, 2.0, 1.0, 0.0])}),
    Case(RIGHT_CENSORED_WEIBULL, {"scale": 2.0, "concentration": A([1.5, 1.5, 3.0]),
                                  "censored": A([1.0, 0.0, 1.0])},
         lambda scale, concentration, censored: _censored(
             st.weibull_min(concentration, scale=scale), censored, survival=True),
         grad=("scale", "concentration"), invalid={"censored": A([0.5, 0.0, 1.0])}),
    Case(INTERVAL_CENSORED_NORMAL, {"loc": 0.3, "scale": 1.2,
                                    "left_censored": A([1.0, 0.0, 0.0, 1.0]),
                                    "right_censored": A([0.0, 1.0, 0.0, 1.0])},
         _interval_censored, grad=("loc", "scale"),
         invalid={"right_censored": A([0.0, 3.0, 0.0, 1.0])},
         skip={"ks": "draws are point intervals; the extra tests check the likelihood"}),
    Case(dist.HurdleGamma, {"gate": A([0.2, 0.7]), "concentration": 2.0, "rate": 1.5},
         lambda gate, concentration, rate: _hurdle_continuous(
             st.gamma(concentration, scale=1.0 / rate), gate),
         grad=("gate", "concentration", "rate"), invalid={"gate": 1.5}, skip={"ks": NO_CDF_KS}),
    Case(dist.HurdleLogNormal, {"gate": 0.3, "loc": A([0.0, 0.5]), "scale": 0.5},
         lambda gate, loc, scale: _hurdle_continuous(st.lognorm(scale, scale=np.exp(loc)), gate),
         grad=("gate", "loc", "scale"), invalid={"scale": -0.5}, skip={"ks": NO_CDF_KS}),
]

DISCRETE = [
    Case(dist.Bernoulli, {"probs": A([0.1, 0.5, 0.9])},
         lambda probs: frozen(st.bernoulli(probs)), grad=("probs",), invalid={"probs": 1.5}),
    Case(dist.Bernoulli, {"logits": A([-30.0, 0.3, 4.0])},
         lambda logits: frozen(st.bernoulli(ss.expit(logits)), entropy=lambda: _bernoulli_entropy(
             logits)), grad=("logits",),
         invalid={"logits": np.nan}, tag="logits"),
    Case(dist.Binomial, {"total_count": A([5.0, 12.0]), "probs": 0.3},
         lambda total_count, probs: frozen(st.binom(total_count.astype(int), probs)), grad=("probs",),
         invalid={"total_count": -1.0}),
    Case(dist.Binomial, {"total_count": 20, "logits": A([-2.0, 1.0])},
         lambda total_count, logits: frozen(st.binom(total_count.astype(int), ss.expit(logits))),
         grad=("logits",), invalid={"total_count": 2.5}, tag="logits"),
    Case(dist.Categorical, {"probs": A([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]])}, _categorical,
         grad=("probs",), invalid={"probs": A([0.5, 0.6, 0.1])}),
    Case(dist.Categorical, {"logits": A([1.0, -2.0, 0.5, 3.0])}, _categorical_logits,
         grad=("logits",), tag="logits"),
    Case(dist.Poisson, {"rate": A([0.5, 4.0, 30.0])}, lambda rate: frozen(st.poisson(rate)),
         grad=("rate",), invalid={"rate": -1.0}),
    Case(dist.NegativeBinomial2, {"mean": A([2.0, 10.0]), "concentration": 3.0},
         lambda mean, concentration: frozen(st.nbinom(concentration,
                                                      concentration / (concentration + mean))),
         grad=("mean", "concentration"), invalid={"mean": -1.0}),
    Case(dist.NegativeBinomial, {"total_count": 4.0, "probs": A([0.3, 0.7])},
         lambda total_count, probs: frozen(st.nbinom(total_count, 1.0 - probs)),
         grad=("total_count", "probs"), invalid={"probs": -0.1}),
    Case(dist.NegativeBinomial, {"total_count": A([2.5, 6.0]), "logits": 0.4},
         lambda total_count, logits: frozen(st.nbinom(total_count, ss.expit(-logits))),
         grad=("total_count", "logits"), tag="logits"),
    Case(dist.GammaPoisson, {"concentration": A([1.5, 5.0]), "rate": 0.5},
         lambda concentration, rate: frozen(st.nbinom(concentration, rate / (1.0 + rate))),
         grad=("concentration", "rate"), invalid={"rate": -0.5}),
    Case(dist.BetaBinomial, {"concentration1": A([0.5, 2.0]), "concentration0": 3.0,
                             "total_count": 10},
         lambda concentration1, concentration0, total_count: frozen(
             st.betabinom(total_count.astype(int), concentration1, concentration0)),
         grad=("concentration1", "concentration0"), invalid={"concentration1": 0.0}),
    Case(dist.Geometric, {"probs": A([0.2, 0.6])}, lambda probs: frozen(st.geom(probs, loc=-1)),
         grad=("probs",), invalid={"probs": 1.2}),
    Case(dist.Geometric, {"logits": A([-1.0, 2.0])},
         lambda logits: frozen(st.geom(ss.expit(logits), loc=-1)), grad=("logits",),
         tag="logits"),
    Case(dist.DiscreteUniform, {"low": A([0.0, -3.0]), "high": A([4.0, 7.0])},
         lambda low, high: frozen(st.randint(low.astype(int), high.astype(int) + 1)), invalid={"high": A([-1.0, 7.0])}),
    Case(dist.ZeroInflatedPoisson, {"gate": A([0.1, 0.6]), "rate": 3.0},
         lambda gate, rate: _zero_inflated(st.poisson(rate), gate), grad=("gate", "rate"),
         invalid={"gate": 1.5}),
    Case(dist.ZeroInflatedPoisson, {"gate_logits": A([-1.0, 1.0]), "rate": A([2.0, 0.5])},
         lambda gate_logits, rate: _zero_inflated(st.poisson(rate), ss.expit(gate_logits)),
         grad=("gate_logits", "rate"), tag="logits"),
    Case(dist.ZeroInflatedNegativeBinomial2,
         {"mean": A([2.0, 6.0]), "concentration": 2.0, "gate": 0.3},
         lambda mean, concentration, gate: _zero_inflated(
             st.nbinom(concentration, concentration / (concentration + mean)), gate),
         grad=("mean", "concentration", "gate"), invalid={"mean": -2.0}),
    Case(dist.OrderedLogistic, {"predictor": A([-1.0, 0.5, 8.0]), "cutpoints": A([-1.0, 0.0, 2.0])},
         _ordered_logistic, grad=("predictor", "cutpoints"),
         invalid={"cutpoints": A([0.0, -1.0, 2.0])}),
    Case(dist.Multinomial, {"total_count": A([5.0, 9.0]),
                            "probs": A([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])},
         _multinomial, grad=("probs",), invalid={"probs": A([0.5, 0.6, 0.1])},
         skip={"chi2": "a vector event; the moment tests check sampling"}),
    Case(dist.Multinomial, {"total_count": 6.0, "logits": A([0.5, -1.0, 2.0, 0.0])},
         lambda total_count, logits: _multinomial(total_count, ss.softmax(logits)),
         grad=("logits",), skip={"chi2": "a vector event; the moment tests check sampling"},
         tag="logits"),
    Case(dist.DirichletMultinomial, {"concentration": A([[0.5, 2.0, 1.0], [3.0, 3.0, 3.0]]),
                                     "total_count": 8.0},
         _dirichlet_multinomial, grad=("concentration",),
         invalid={"concentration": A([1.0, -1.0, 1.0])},
         skip={"chi2": "a vector event; the moment tests check sampling"}),
    # ---- NumPyro / PyMC additions ----
    Case(dist.BetaNegativeBinomial, {"concentration1": A([2.0, 0.5]),
                                     "concentration0": A([6.0, 7.0]), "n": 3.0},
         lambda concentration1, concentration0, n: frozen(
             st.betanbinom(n, concentration0, concentration1)),
         grad=("concentration1", "concentration0", "n"), invalid={"n": -3.0}),
    Case(dist.OrderedProbit, {"eta": A([-1.0, 0.5, 8.0]), "cutpoints": A([-1.0, 0.0, 2.0]),
                              "sigma": 1.5},
         _ordered_probit, grad=("eta", "cutpoints", "sigma"),
         invalid={"cutpoints": A([0.0, -1.0, 2.0])}),
    Case(dist.HurdlePoisson, {"gate": A([0.2, 0.6]), "rate": A([0.5, 3.0])},
         lambda gate, rate: _hurdle_discrete(st.poisson(rate), gate), grad=("gate", "rate"),
         invalid={"gate": 1.5}),
    Case(dist.HurdleNegativeBinomial2, {"gate": 0.3, "mean": A([2.0, 6.0]), "concentration": 2.0},
         lambda gate, mean, concentration: _hurdle_discrete(
             st.nbinom(concentration, concentration / (concentration + mean)), gate),
         grad=("gate", "mean", "concentration"), invalid={"mean": -2.0}),
    Case(HURDLE_LOGITS_POISSON, {"rate": 2.0, "gate_logits": A([-1.0, 1.0])},
         lambda rate, gate_logits: _hurdle_discrete(st.poisson(rate), ss.expit(gate_logits)),
         grad=("rate", "gate_logits")),
    Case(dist.BernoulliLogits, {"logits": A([-2.0, 0.3])},
         lambda logits: frozen(st.bernoulli(ss.expit(logits))), grad=("logits",),
         invalid={"logits": np.nan}),
    Case(dist.BernoulliProbs, {"probs": A([0.1, 0.9])},
         lambda probs: frozen(st.bernoulli(probs)), grad=("probs",), invalid={"probs": 1.5}),
    Case(dist.BinomialLogits, {"logits": A([-1.0, 1.0]), "total_count": 10},
         lambda logits, total_count: frozen(st.binom(total_count.astype(int), ss.expit(logits))),
         grad=("logits",), invalid={"total_count": -1.0}),
    Case(dist.BinomialProbs, {"probs": A([0.2, 0.7]), "total_count": A([4.0, 9.0])},
         lambda probs, total_count: frozen(st.binom(total_count.astype(int), probs)),
         grad=("probs",), invalid={"probs": -0.2}),
    Case(dist.CategoricalLogits, {"logits": A([[1.0, -2.0, 0.5], [0.0, 0.0, 3.0]])},
         _categorical_logits, grad=("logits",)),
    Case(dist.CategoricalProbs, {"probs": A([0.2, 0.3, 0.5])}, _categorical, grad=("probs",),
         invalid={"probs": A([0.5, 0.6, 0.1])}),
    Case(dist.GeometricLogits, {"logits": A([-1.0, 2.0])},
         lambda logits: frozen(st.geom(ss.expit(logits), loc=-1)), grad=("logits",)),
    Case(dist.GeometricProbs, {"probs": A([0.2, 0.6])},
         lambda probs: frozen(st.geom(probs, loc=-1)), grad=("probs",), invalid={"probs": 1.2}),
    Case(dist.MultinomialLogits, {"logits": A([0.5, -1.0, 2.0]), "total_count": 6.0},
         lambda logits, total_count: _multinomial(total_count, ss.softmax(logits)),
         grad=("logits",), skip={"chi2": "a vector event; the moment tests check sampling"}),
    Case(dist.MultinomialProbs, {"probs": A([0.2, 0.3, 0.5]), "total_count": A([5.0, 9.0])},
         _multinomial_probs_first, grad=("probs",), invalid={"probs": A([0.5, 0.6, 0.1])},
         skip={"chi2": "a vector event; the moment tests check sampling"}),
    Case(dist.NegativeBinomialLogits, {"total_count": 3.0, "logits": A([-0.5, 0.5])},
         lambda total_count, logits: frozen(st.nbinom(total_count, ss.expit(-logits))),
         grad=("total_count", "logits"), invalid={"total_count": -3.0}),
    Case(dist.NegativeBinomialProbs, {"total_count": A([2.0, 5.0]), "probs": 0.4},
         lambda total_count, probs: frozen(st.nbinom(total_count, 1.0 - probs)),
         grad=("total_count", "probs"), invalid={"probs": 1.4}),
    Case(ZERO_INFLATED_LOGITS, {"rate": 3.0, "gate_logits": A([-1.0, 0.5])},
         lambda rate, gate_logits: _zero_inflated(st.poisson(rate), ss.expit(gate_logits)),
         grad=("rate", "gate_logits")),
    Case(ZERO_INFLATED_PROBS, {"rate": A([1.0, 4.0]), "gate": 0.3},
         lambda rate, gate: _zero_inflated(st.poisson(rate), gate), grad=("rate", "gate"),
         invalid={"gate": 1.5}),
]


# ---- matrix, spatial and time-series rows: the oracle is the equivalent dense Gaussian or SciPy

def _stacked(rvs_one, event_shape):
    """``rvs(size, rng)`` from a SciPy sampler that draws ``n`` flat points."""
    def rvs(size, rng):
        n = int(np.prod(size)) if size else 1
        return np.asarray(rvs_one(n, rng)).reshape(tuple(size) + tuple(event_shape))
    return rvs


def _gaussian_twin(mean, cov, event_shape):
    """A Twin for a Gaussian on arrays of ``event_shape`` (flattened in C order)."""
    f = st.multivariate_normal(mean, cov)
    k = len(mean)
    return Twin(
        logp=lambda x: f.logpdf(np.asarray(x).reshape(np.shape(x)[: np.ndim(x) - len(event_shape)]
                                                      + (k,))),
        rvs=_stacked(lambda n, rng: f.rvs(size=n, random_state=rng), event_shape),
        mean=lambda: np.reshape(mean, event_shape),
        var=lambda: np.reshape(np.diag(cov), event_shape),
        entropy=f.entropy,
    )


def _matrix_normal(loc, scale_tril_row, scale_tril_column):
    U, V = scale_tril_row @ scale_tril_row.T, scale_tril_column @ scale_tril_column.T
    f = st.matrix_normal(loc, rowcov=U, colcov=V)
    return Twin(logp=f.logpdf,
                rvs=_stacked(lambda n, rng: f.rvs(size=n, random_state=rng), loc.shape),
                mean=lambda: loc, var=lambda: np.outer(np.diag(U), np.diag(V)),
                entropy=st.multivariate_normal(loc.T.ravel(), np.kron(V, U)).entropy)


def _state_space(num_steps, transition_matrix, scale_tril):
    T_, A, S = int(num_steps), transition_matrix, scale_tril @ scale_tril.T
    k = A.shape[0]
    M = np.zeros((T_ * k, T_ * k))
    for t in range(T_):
        for u in range(t + 1):
            M[t * k:(t + 1) * k, u * k:(u + 1) * k] = np.linalg.matrix_power(A, t - u)
    return _gaussian_twin(np.zeros(T_ * k), M @ np.kron(np.eye(T_), S) @ M.T, (T_, k))


def _car(loc, correlation, conditional_precision, adj_matrix):
    Q = conditional_precision * (np.diag(adj_matrix.sum(-1)) - correlation * adj_matrix)
    n = adj_matrix.shape[-1]
    return _gaussian_twin(np.broadcast_to(loc, (n,)), np.linalg.inv(Q), (n,))


def _wishart(frozen_law, p):
    def logp(x):
        x = np.asarray(x)
        flat = x.reshape((-1, p, p))
        return np.atleast_1d(frozen_law.logpdf(np.moveaxis(flat, 0, -1))).reshape(x.shape[:-2])
    return Twin(logp=logp,
                rvs=_stacked(lambda n, rng: frozen_law.rvs(size=n, random_state=rng), (p, p)),
                mean=frozen_law.mean, var=frozen_law.var,
                entropy=getattr(frozen_law, "entropy", None))


def _circulant(loc, covariance_row):
    n = covariance_row.shape[-1]
    index = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
    return _gaussian_twin(loc, covariance_row[index], (n,))


_TRIL3 = A([[1.2, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.5, 0.4, 1.1]])
_TRIL2 = A([[1.5, 0.0], [-0.4, 0.7]])
_ADJ5 = A([[0, 1, 1, 0, 0], [1, 0, 1, 1, 0], [1, 1, 0, 0, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0]],
          dtype=float)
_NOT_SCALAR = "the probability integral transform needs a univariate cdf"
_SYMMETRIC = ("values are symmetric matrices: a one-entry finite difference leaves that subspace "
              "(the compiled-model tests differentiate through X = LL^T instead)")

MATRIX = [
    Case(dist.MatrixNormal, {"loc": A([[0.5, -1.0], [0.0, 2.0], [1.0, 0.3]]),
                             "scale_tril_row": _TRIL3, "scale_tril_column": _TRIL2},
         _matrix_normal, grad=("loc", "scale_tril_row", "scale_tril_column"),
         invalid={"scale_tril_column": -_TRIL2}, skip={"ks": _NOT_SCALAR}),
    Case(dist.GaussianStateSpace, {"num_steps": 4, "transition_matrix": A([[0.8, 0.1],
                                                                          [-0.2, 0.5]]),
                                   "scale_tril": _TRIL2},
         _state_space, grad=("transition_matrix", "scale_tril"), invalid={"scale_tril": -_TRIL2},
         skip={"ks": _NOT_SCALAR,
               "stages": "num_steps is a static shape (an int), not a graph input"}),
    Case(dist.CAR, {"loc": A([0.1, -0.2, 0.3, 0.0, 0.5]), "correlation": 0.7,
                    "conditional_precision": 2.0, "adj_matrix": _ADJ5},
         _car, grad=("loc", "correlation", "conditional_precision"),
         invalid={"correlation": 1.2}, skip={"ks": _NOT_SCALAR}),
    Case(dist.CirculantNormal, {"loc": A([0.5, -1.0, 0.0, 2.0, 1.0]),
                                "covariance_row": A([2.0, 0.6, 0.1, 0.1, 0.6])},
         _circulant, grad=("loc", "covariance_row"),
         invalid={"covariance_row": A([2.0, 0.6, 0.1, 0.1, 0.5])}, skip={"ks": _NOT_SCALAR}),
    Case(dist.Wishart, {"concentration": 5.0, "scale_tril": _TRIL3},
         lambda concentration, scale_tril: _wishart(
             st.wishart(float(concentration), scale_tril @ scale_tril.T), 3),
         grad=("concentration", "scale_tril"), invalid={"concentration": 1.0},
         skip={"ks": _NOT_SCALAR, "value_grad": _SYMMETRIC}),
    Case(dist.InverseWishart, {"concentration": 9.0, "scale_tril": _TRIL3},
         lambda concentration, scale_tril: _wishart(
             st.invwishart(float(concentration), scale_tril @ scale_tril.T), 3),
         grad=("concentration", "scale_tril"), invalid={"concentration": 1.5},
         skip={"ks": _NOT_SCALAR, "value_grad": _SYMMETRIC}),
]

CASES = CONTINUOUS + DISCRETE + MATRIX
