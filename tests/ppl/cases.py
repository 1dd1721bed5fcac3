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


def _dirichlet_multinomial(concentration, total_count):
    f = st.dirichlet_multinomial(concentration, total_count.astype(int))

    def rvs(size, rng):
        g = rng.gamma(np.broadcast_to(concentration, size + concentration.shape[-1:]))
        n = np.broadcast_to(total_count.astype(int), size)
        return rng.multinomial(n, g / g.sum(-1, keepdims=True))

    return Twin(logp=f.logpmf, rvs=rvs, mean=f.mean, var=f.var)


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
