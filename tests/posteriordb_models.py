r"""The eleven posteriordb reference posteriors written in the modelling language, with oracles.

Each model of ``tests/data/posteriordb/MODELS.md`` (posteriordb, BSD 3-Clause licence,
"Copyright (c) 2011-2024, Stan Developers and their Assignees"; commit 28f8d3d6e975 of
stan-dev/posteriordb) appears three times here:

* ``model_<name>(...)``: the model as a NumPyro user writes it (``ppl.sample``, ``ppl.plate``,
  ``ppl.deterministic``, ``ppl.factor``, ``dist.*``; recursions over time with
  :func:`autodiff.scan`, never a Python loop over time steps);
* ``args_from_data(data) -> (args, kwargs)``: the model's arguments from the Stan data of
  :func:`tests.posteriordb.load` (float arrays; integers that fix shapes stay Python ints, so
  they are static in the compiled code);
* ``numpy_logdensity(params, data) -> float``: an independent log density written with NumPy
  and SciPy only (no project code), on the *constrained* space: the sum of the prior and
  likelihood terms with every normalising constant the distributions define, ``0`` for a flat
  prior, ``-inf`` outside the support.  It takes the latent sites by their names here (extra
  keys, e.g. deterministic sites, are ignored).

``MODELS[name]`` holds the triple as a :class:`PosteriorModel` (a named tuple),
``REFERENCE_NAMES[name]`` maps our site names to the reference's parameter names, and
:func:`reference_draws_for` gives the reference draws under our site names (for example the
latent ``theta_trans`` of the non-centred eight schools, computed from the stored ``theta``,
``mu`` and ``tau``).

Flat priors are :class:`~ppl.distributions.ImproperUniform` sites on the parameter's
constrained space; the bridge then adds only the log-Jacobian of the bijector, exactly as Stan
does for a parameter without a prior statement.

Examples
--------
>>> import numpy as np
>>> model, args_from_data, logdensity = MODELS["kidiq-kidscore_momiq"]
>>> args, kwargs = args_from_data(load("kidiq-kidscore_momiq").data)
>>> [np.shape(a) for a in args], sorted(kwargs)
([(434,)], ['kid_score'])
>>> ref = reference_draws_for("eight_schools-eight_schools_noncentered")
>>> sorted(ref), ref["theta_trans"].shape
(['mu', 'tau', 'theta', 'theta_trans'], (10, 1000, 8))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from scipy import special, stats

import autodiff
import autodiff.numpy as anp
import ppl
from autodiff.scipy.special import logsumexp
from ppl import constraints
from ppl import distributions as dist
from tests.posteriordb import load

__all__ = [
    "MODELS",
    "REFERENCE_NAMES",
    "PosteriorModel",
    "model_args",
    "reference_draws_for",
]


class PosteriorModel(NamedTuple):
    """One reference posterior: the model, its arguments from the data, and the NumPy oracle."""

    model: Callable[..., Any]
    args_from_data: Callable[[dict], tuple[tuple, dict]]
    numpy_logdensity: Callable[[dict, dict], float]


def _floats(x: Any) -> np.ndarray:
    """A writable float64 copy of a data array (posteriordb integers become floats)."""
    return np.array(x, dtype=float)


# =============================================================================================
# kidiq-kidscore_momiq
# =============================================================================================


def model_kidscore_momiq(mom_iq: np.ndarray, kid_score: np.ndarray | None = None) -> None:
    r"""Linear regression of the child's test score on the mother's IQ (Gelman and Hill, ARM).

    .. math::
        \beta \in \mathbb{R}^2 \text{ flat}, \quad \sigma \sim \mathrm{HalfCauchy}(2.5), \quad
        \text{kid\_score}_n \sim \mathcal{N}(\beta_1 + \beta_2\, \text{mom\_iq}_n, \sigma).
    """
    beta = ppl.sample("beta", dist.ImproperUniform(constraints.real, (), (2,)))
    sigma = ppl.sample("sigma", dist.HalfCauchy(2.5))
    with ppl.plate("N", mom_iq.shape[0]):
        ppl.sample("kid_score", dist.Normal(beta[0] + beta[1] * mom_iq, sigma), obs=kid_score)


def _kidiq_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["mom_iq"]),), {"kid_score": _floats(data["kid_score"])}


def _kidiq_logdensity(p: dict, data: dict) -> float:
    beta, sigma = np.asarray(p["beta"]), float(p["sigma"])
    if not sigma > 0:
        return -np.inf
    mean = beta[0] + beta[1] * np.asarray(data["mom_iq"], float)
    return float(
        stats.halfcauchy.logpdf(sigma, scale=2.5)
        + stats.norm.logpdf(np.asarray(data["kid_score"], float), mean, sigma).sum()
    )


# =============================================================================================
# sblrc-blr
# =============================================================================================


def model_blr(X: np.ndarray, y: np.ndarray | None = None) -> None:
    r"""Bayesian linear regression with a design matrix (pathfinder paper's ``sblrc``).

    .. math::
        \beta_d \sim \mathcal{N}(0, 10), \quad \sigma \sim \mathrm{HalfNormal}(10), \quad
        y \sim \mathcal{N}(X\beta, \sigma).
    """
    n, d = X.shape
    beta = ppl.sample("beta", dist.Normal(0.0, 10.0).expand([d]).to_event(1))
    sigma = ppl.sample("sigma", dist.HalfNormal(10.0))
    with ppl.plate("N", n):
        ppl.sample("y", dist.Normal(X @ beta, sigma), obs=y)


def _blr_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["X"]),), {"y": _floats(data["y"])}


def _blr_logdensity(p: dict, data: dict) -> float:
    beta, sigma = np.asarray(p["beta"]), float(p["sigma"])
    if not sigma > 0:
        return -np.inf
    X, y = np.asarray(data["X"], float), np.asarray(data["y"], float)
    return float(
        stats.norm.logpdf(beta, 0.0, 10.0).sum()
        + stats.halfnorm.logpdf(sigma, scale=10.0)
        + stats.norm.logpdf(y, X @ beta, sigma).sum()
    )


# =============================================================================================
# diamonds-diamonds
# =============================================================================================


def model_diamonds(Xc: np.ndarray, Y: np.ndarray | None = None) -> None:
    r"""Log price of diamonds on 24 centred polynomial predictors (a brms-generated model).

    ``Xc`` is the design matrix without its intercept column, minus its column means (Stan's
    transformed data; :func:`_diamonds_args` computes it once).

    .. math::
        b_k \sim \mathcal{N}(0, 1), \quad \text{Intercept} \sim t_3(8, 10), \quad
        \sigma \sim \mathrm{HalfStudentT}(3, 10), \quad
        Y \sim \mathcal{N}(\text{Intercept} + X_c b, \sigma).
    """
    n, k = Xc.shape
    b = ppl.sample("b", dist.Normal(0.0, 1.0).expand([k]).to_event(1))
    intercept = ppl.sample("Intercept", dist.StudentT(3.0, 8.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfStudentT(3.0, 10.0))
    with ppl.plate("N", n):
        ppl.sample("Y", dist.Normal(intercept + Xc @ b, sigma), obs=Y)


def _diamonds_args(data: dict) -> tuple[tuple, dict]:
    predictors = _floats(data["X"])[:, 1:]
    return (predictors - predictors.mean(axis=0),), {"Y": _floats(data["Y"])}


def _diamonds_logdensity(p: dict, data: dict) -> float:
    b, intercept, sigma = np.asarray(p["b"]), float(p["Intercept"]), float(p["sigma"])
    if not sigma > 0:
        return -np.inf
    X = np.asarray(data["X"], float)[:, 1:]
    Xc = X - X.mean(axis=0)
    return float(
        stats.norm.logpdf(b).sum()
        + stats.t.logpdf(intercept, 3.0, 8.0, 10.0)
        + np.log(2.0) + stats.t.logpdf(sigma, 3.0, 0.0, 10.0)  # half-t: twice the t density
        + stats.norm.logpdf(np.asarray(data["Y"], float), intercept + Xc @ b, sigma).sum()
    )


# =============================================================================================
# eight schools
# =============================================================================================


def model_eight_schools_noncentered(sigma: np.ndarray, y: np.ndarray | None = None) -> None:
    r"""Eight schools (Rubin 1981), non-centred.

    .. math::
        \mu \sim \mathcal{N}(0, 5), \quad \tau \sim \mathrm{HalfCauchy}(5), \quad
        \tilde\theta_j \sim \mathcal{N}(0, 1), \quad \theta_j = \mu + \tau \tilde\theta_j, \quad
        y_j \sim \mathcal{N}(\theta_j, \sigma_j).
    """
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("J", sigma.shape[0]):
        theta_trans = ppl.sample("theta_trans", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * theta_trans)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def model_eight_schools_centered(sigma: np.ndarray, y: np.ndarray | None = None) -> None:
    r"""Eight schools, centred: :math:`\theta_j \sim \mathcal{N}(\mu, \tau)` directly (a funnel).

    .. math::
        \mu \sim \mathcal{N}(0, 5), \quad \tau \sim \mathrm{HalfCauchy}(5), \quad
        \theta_j \sim \mathcal{N}(\mu, \tau), \quad y_j \sim \mathcal{N}(\theta_j, \sigma_j).
    """
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("J", sigma.shape[0]):
        theta = ppl.sample("theta", dist.Normal(mu, tau))
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def _eight_schools_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["sigma"]),), {"y": _floats(data["y"])}


def _eight_schools_prior(mu: float, tau: float) -> float:
    return float(stats.norm.logpdf(mu, 0.0, 5.0) + stats.halfcauchy.logpdf(tau, scale=5.0))


def _noncentered_logdensity(p: dict, data: dict) -> float:
    mu, tau, z = float(p["mu"]), float(p["tau"]), np.asarray(p["theta_trans"])
    if not tau > 0:
        return -np.inf
    y, sigma = np.asarray(data["y"], float), np.asarray(data["sigma"], float)
    return float(
        _eight_schools_prior(mu, tau)
        + stats.norm.logpdf(z).sum()
        + stats.norm.logpdf(y, mu + tau * z, sigma).sum()
    )


def _centered_logdensity(p: dict, data: dict) -> float:
    mu, tau, theta = float(p["mu"]), float(p["tau"]), np.asarray(p["theta"])
    if not tau > 0:
        return -np.inf
    y, sigma = np.asarray(data["y"], float), np.asarray(data["sigma"], float)
    return float(
        _eight_schools_prior(mu, tau)
        + stats.norm.logpdf(theta, mu, tau).sum()
        + stats.norm.logpdf(y, theta, sigma).sum()
    )


# =============================================================================================
# arK-arK
# =============================================================================================


def model_ark(y: np.ndarray, K: int) -> None:
    r"""Autoregressive model of order ``K`` with intercept, conditional on the first ``K`` values.

    .. math::
        \alpha \sim \mathcal{N}(0, 10), \quad \beta_k \sim \mathcal{N}(0, 10), \quad
        \sigma \sim \mathrm{HalfCauchy}(2.5), \quad
        y_t \sim \mathcal{N}\Big(\alpha + \sum_{k=1}^K \beta_k y_{t-k}, \sigma\Big),
        \ t = K+1..T.

    The conditional means come from a ``scan`` whose carry is the window of the last ``K``
    observations (oldest first).
    """
    alpha = ppl.sample("alpha", dist.Normal(0.0, 10.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 10.0).expand([K]).to_event(1))
    sigma = ppl.sample("sigma", dist.HalfCauchy(2.5))
    # beta[k] multiplies y[t-1-k]: the newest value sits last in the window, so reverse beta.
    beta_rev = anp.flip(beta, -1)

    def step(window, y_t):
        mean = alpha + anp.sum(beta_rev * window)
        return anp.concatenate([window[1:], anp.reshape(y_t, (1,))]), mean

    _, mean = autodiff.scan(step, y[:K], y[K:])
    with ppl.plate("T", y.shape[0] - K):
        ppl.sample("y", dist.Normal(mean, sigma), obs=y[K:])


def _ark_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["y"]), int(data["K"])), {}


def _ark_logdensity(p: dict, data: dict) -> float:
    alpha, beta, sigma = float(p["alpha"]), np.asarray(p["beta"]), float(p["sigma"])
    if not sigma > 0:
        return -np.inf
    y, K = np.asarray(data["y"], float), int(data["K"])
    mean = np.array([alpha + sum(beta[k] * y[t - k - 1] for k in range(K))
                     for t in range(K, len(y))])
    return float(
        stats.norm.logpdf(alpha, 0.0, 10.0)
        + stats.norm.logpdf(beta, 0.0, 10.0).sum()
        + stats.halfcauchy.logpdf(sigma, scale=2.5)
        + stats.norm.logpdf(y[K:], mean, sigma).sum()
    )


# =============================================================================================
# garch-garch11
# =============================================================================================


def model_garch11(y: np.ndarray, sigma1: float) -> None:
    r"""GARCH(1,1) volatility model with flat priors on the constrained space.

    .. math::
        \mu \in \mathbb{R},\ \alpha_0 > 0,\ \alpha_1 \in (0, 1),\ \beta_1 \in (0, 1 - \alpha_1)
        \text{ (all flat)}, \\
        \sigma_1 = \text{sigma1}, \quad
        \sigma_t^2 = \alpha_0 + \alpha_1 (y_{t-1} - \mu)^2 + \beta_1 \sigma_{t-1}^2, \quad
        y_t \sim \mathcal{N}(\mu, \sigma_t).

    ``beta1``'s support depends on ``alpha1``; the bridge rebuilds its bijector
    (``sigmoid`` then scaling by :math:`1 - \alpha_1`) in every run, so the log-Jacobian
    :math:`\log(1 - \alpha_1)` that the flat density on :math:`(0, 1 - \alpha_1)` needs comes
    with it.
    """
    mu = ppl.sample("mu", dist.ImproperUniform(constraints.real, (), ()))
    alpha0 = ppl.sample("alpha0", dist.ImproperUniform(constraints.positive, (), ()))
    alpha1 = ppl.sample("alpha1", dist.ImproperUniform(constraints.unit_interval, (), ()))
    beta1 = ppl.sample(
        "beta1", dist.ImproperUniform(constraints.interval(0.0, 1.0 - alpha1), (), ())
    )

    def step(var_prev, y_prev):
        var = alpha0 + alpha1 * anp.square(y_prev - mu) + beta1 * var_prev
        return var, var

    _, var = autodiff.scan(step, sigma1**2, y[:-1])
    sigma = anp.concatenate([anp.full((1,), sigma1), anp.sqrt(var)])
    with ppl.plate("T", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, sigma), obs=y)


def _garch_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["y"]), float(data["sigma1"])), {}


def _garch_logdensity(p: dict, data: dict) -> float:
    mu, a0, a1, b1 = (float(p[k]) for k in ("mu", "alpha0", "alpha1", "beta1"))
    if not (a0 > 0 and 0 < a1 < 1 and 0 < b1 < 1 - a1):
        return -np.inf
    y = np.asarray(data["y"], float)
    sigma = np.empty_like(y)
    sigma[0] = float(data["sigma1"])
    for t in range(1, len(y)):
        sigma[t] = np.sqrt(a0 + a1 * (y[t - 1] - mu) ** 2 + b1 * sigma[t - 1] ** 2)
    return float(stats.norm.logpdf(y, mu, sigma).sum())  # the priors are flat: no terms


# =============================================================================================
# low_dim_gauss_mix-low_dim_gauss_mix
# =============================================================================================


def model_low_dim_gauss_mix(y: np.ndarray) -> None:
    r"""Two-component Gaussian mixture with ordered means.

    .. math::
        \mu_1 < \mu_2,\ \mu_k \sim \mathcal{N}(0, 2), \quad \sigma_k \sim \mathrm{HalfNormal}(2),
        \quad \theta \sim \mathrm{Beta}(5, 5), \\
        p(y_n) = \theta\, \mathcal{N}(y_n \mid \mu_1, \sigma_1)
                 + (1 - \theta)\, \mathcal{N}(y_n \mid \mu_2, \sigma_2).

    The Normal priors act on the elements of the ordered vector (Stan's ``mu ~ normal(0, 2)``
    on an ``ordered[2]``): a flat ordered site plus a ``factor``, no Jacobian of the ordering.
    """
    mu = ppl.sample("mu", dist.ImproperUniform(constraints.ordered_vector, (), (2,)))
    ppl.factor("mu_prior", dist.Normal(0.0, 2.0).log_prob(mu).sum())
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0).expand([2]).to_event(1))
    theta = ppl.sample("theta", dist.Beta(5.0, 5.0))
    weights = dist.Categorical(probs=anp.stack([theta, 1.0 - theta]))
    with ppl.plate("N", y.shape[0]):
        ppl.sample("y", dist.MixtureSameFamily(weights, dist.Normal(mu, sigma)), obs=y)


def _gauss_mix_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["y"]),), {}


def _gauss_mix_logdensity(p: dict, data: dict) -> float:
    mu, sigma, theta = np.asarray(p["mu"]), np.asarray(p["sigma"]), float(p["theta"])
    if not (mu[0] < mu[1] and np.all(sigma > 0) and 0 < theta < 1):
        return -np.inf
    y = np.asarray(data["y"], float)
    mix = np.logaddexp(
        np.log(theta) + stats.norm.logpdf(y, mu[0], sigma[0]),
        np.log1p(-theta) + stats.norm.logpdf(y, mu[1], sigma[1]),
    )
    return float(
        stats.norm.logpdf(mu, 0.0, 2.0).sum()
        + stats.halfnorm.logpdf(sigma, scale=2.0).sum()
        + stats.beta.logpdf(theta, 5.0, 5.0)
        + mix.sum()
    )


# =============================================================================================
# gp_pois_regr-gp_regr
# =============================================================================================


def model_gp_regr(x: np.ndarray, y: np.ndarray | None = None) -> None:
    r"""Gaussian-process regression with the latent function marginalised (exp-quad kernel).

    .. math::
        \rho \sim \mathrm{Gamma}(25, 4), \quad \alpha \sim \mathrm{HalfNormal}(2), \quad
        \sigma \sim \mathrm{HalfNormal}(1), \\
        K_{ij} = \alpha^2 \exp\!\Big(-\frac{(x_i - x_j)^2}{2\rho^2}\Big) + \sigma\,\delta_{ij},
        \quad y \sim \mathcal{N}(0, K).

    As in the Stan program, :math:`\sigma` (not :math:`\sigma^2`) is added to the diagonal.
    """
    n = x.shape[0]
    rho = ppl.sample("rho", dist.Gamma(25.0, 4.0))
    alpha = ppl.sample("alpha", dist.HalfNormal(2.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    sq_dist = anp.square(x[:, None] - x[None, :])
    cov = alpha**2 * anp.exp(-sq_dist / (2.0 * rho**2)) + sigma * anp.eye(n)
    ppl.sample("y", dist.MultivariateNormal(0.0, covariance_matrix=cov), obs=y)


def _gp_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["x"]),), {"y": _floats(data["y"])}


def _gp_logdensity(p: dict, data: dict) -> float:
    rho, alpha, sigma = float(p["rho"]), float(p["alpha"]), float(p["sigma"])
    if not (rho > 0 and alpha > 0 and sigma > 0):
        return -np.inf
    x, y = np.asarray(data["x"], float), np.asarray(data["y"], float)
    cov = alpha**2 * np.exp(-np.subtract.outer(x, x) ** 2 / (2 * rho**2)) + sigma * np.eye(len(x))
    return float(
        stats.gamma.logpdf(rho, 25.0, scale=1 / 4.0)
        + stats.halfnorm.logpdf(alpha, scale=2.0)
        + stats.halfnorm.logpdf(sigma, scale=1.0)
        + stats.multivariate_normal.logpdf(y, np.zeros(len(x)), cov)
    )


# =============================================================================================
# hmm_example-hmm_example
# =============================================================================================


def model_hmm_example(y: np.ndarray) -> None:
    r"""Two-state hidden Markov model with unit-variance Gaussian emissions, states summed out.

    .. math::
        \theta_1, \theta_2 \sim \mathrm{Dirichlet}(1, 1) \text{ (rows of the transition
        matrix)}, \quad 0 < \mu_1 < \mu_2,\ \mu_1 \sim \mathcal{N}(3, 1),\
        \mu_2 \sim \mathcal{N}(10, 1), \\
        a_{1k} = \log\mathcal{N}(y_1 \mid \mu_k, 1), \quad
        a_{tk} = \operatorname{logsumexp}_j\big(a_{t-1,j} + \log\theta_{jk}\big)
                 + \log\mathcal{N}(y_t \mid \mu_k, 1), \quad
        \log p(y) = \operatorname{logsumexp}_k a_{Nk}.

    The forward recursion is a ``scan`` over the emission log densities; there is no term for
    the initial state (as in the Stan program).  ``Dirichlet(1, 1)`` has log density exactly 0
    on the simplex, i.e. it is the flat prior of Stan's ``simplex[2]``.
    """
    theta1 = ppl.sample("theta1", dist.Dirichlet(np.ones(2)))
    theta2 = ppl.sample("theta2", dist.Dirichlet(np.ones(2)))
    mu = ppl.sample("mu", dist.ImproperUniform(constraints.positive_ordered_vector, (), (2,)))
    ppl.factor("mu_prior", dist.Normal(np.array([3.0, 10.0]), 1.0).log_prob(mu).sum())
    log_transition = anp.log(anp.stack([theta1, theta2]))  # [j, k]: from state j to state k
    log_emission = dist.Normal(mu, 1.0).log_prob(y[:, None])  # [t, k]

    def forward(log_alpha, log_e):
        return logsumexp(log_alpha[:, None] + log_transition, axis=0) + log_e, None

    log_alpha, _ = autodiff.scan(forward, log_emission[0], log_emission[1:])
    ppl.factor("y", logsumexp(log_alpha))


def _hmm_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["y"]),), {}


def _hmm_logdensity(p: dict, data: dict) -> float:
    t1, t2, mu = np.asarray(p["theta1"]), np.asarray(p["theta2"]), np.asarray(p["mu"])
    if not (0 < mu[0] < mu[1]):
        return -np.inf
    y = np.asarray(data["y"], float)
    log_gamma = np.log(np.stack([t1, t2]))
    a = stats.norm.logpdf(y[0], mu, 1.0)
    for t in range(1, len(y)):
        a = np.array([special.logsumexp(a + log_gamma[:, k]) for k in range(2)]) \
            + stats.norm.logpdf(y[t], mu, 1.0)
    return float(
        stats.dirichlet.logpdf(t1, [1.0, 1.0])
        + stats.dirichlet.logpdf(t2, [1.0, 1.0])
        + stats.norm.logpdf(mu[0], 3.0, 1.0)
        + stats.norm.logpdf(mu[1], 10.0, 1.0)
        + special.logsumexp(a)
    )


# =============================================================================================
# hudson_lynx_hare-lotka_volterra
# =============================================================================================

#: Stan's ``integrate_ode_rk45(..., 1e-5, 1e-3, 5e2)`` in the posteriordb program: relative and
#: absolute tolerance of the Dormand-Prince steps, and its cap on the number of steps.
LOTKA_VOLTERRA_TOLERANCES = {"rtol": 1e-5, "atol": 1e-3, "mxstep": 500}


def lotka_volterra_rhs(z, t, theta):
    r"""Predator-prey dynamics: hares :math:`u`, lynxes :math:`v`,
    :math:`u' = (\alpha - \beta v) u`, :math:`v' = (-\gamma + \delta u) v`."""
    u, v = z[0], z[1]
    alpha, beta, gamma, delta = theta[0], theta[1], theta[2], theta[3]
    return anp.stack([(alpha - beta * v) * u, (-gamma + delta * u) * v])


def model_lotka_volterra(ts: np.ndarray, y_init: np.ndarray, y: np.ndarray,
                         rtol: float = 1e-5, atol: float = 1e-3, mxstep: int = 500) -> None:
    r"""Lotka-Volterra populations observed with multiplicative error (Carpenter's case study).

    .. math::
        \theta_1, \theta_3 \sim \mathcal{N}_{+}(1, 0.5), \quad
        \theta_2, \theta_4 \sim \mathcal{N}_{+}(0.05, 0.05), \quad
        z_{init,k} \sim \mathrm{LogNormal}(\log 10, 1), \quad
        \sigma_k \sim \mathrm{LogNormal}(-1, 1), \\
        z(t) \text{ solves } u' = (\theta_1 - \theta_2 v) u,\ v' = (-\theta_3 + \theta_4 u) v,
        \ z(0) = z_{init}, \\
        y_{init,k} \sim \mathrm{LogNormal}(\log z_{init,k}, \sigma_k), \quad
        y_{n,k} \sim \mathrm{LogNormal}(\log z_k(t_n), \sigma_k).

    :math:`\mathcal{N}_{+}` is the normal truncated to :math:`(0, \infty)`: Stan's
    ``<lower=0>`` parameter with a normal prior and no normalising term; here the normaliser is
    a constant, so the posterior is the same.  ``z`` is :func:`autodiff.odeint` from ``t = 0``
    with Stan's tolerances by default (:data:`LOTKA_VOLTERRA_TOLERANCES`).
    """
    theta = ppl.sample("theta", dist.TruncatedNormal(
        np.array([1.0, 0.05, 1.0, 0.05]), np.array([0.5, 0.05, 0.5, 0.05]), low=0.0).to_event(1))
    z_init = ppl.sample("z_init", dist.LogNormal(np.log(10.0), 1.0).expand([2]).to_event(1))
    sigma = ppl.sample("sigma", dist.LogNormal(-1.0, 1.0).expand([2]).to_event(1))
    times = np.concatenate([[0.0], ts])
    z = autodiff.odeint(lotka_volterra_rhs, z_init, times, theta, rtol=rtol, atol=atol,
                        mxstep=mxstep)[1:]
    ppl.sample("y_init", dist.LogNormal(anp.log(z_init), sigma).to_event(1), obs=y_init)
    with ppl.plate("N", ts.shape[0]):
        ppl.sample("y", dist.LogNormal(anp.log(z), sigma).to_event(1), obs=y)


def _lotka_volterra_args(data: dict) -> tuple[tuple, dict]:
    return (_floats(data["ts"]), _floats(data["y_init"]), _floats(data["y"])), dict(
        LOTKA_VOLTERRA_TOLERANCES)


def lotka_volterra_solution(theta: np.ndarray, z_init: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """SciPy's solution of the Lotka-Volterra system at ``ts`` from ``t = 0`` (8th-order
    Dormand-Prince, tolerances far below the model's), shape ``(len(ts), 2)``."""
    from scipy.integrate import solve_ivp

    a, b, c, d = theta

    def rhs(t, z):
        return [(a - b * z[1]) * z[0], (-c + d * z[0]) * z[1]]

    sol = solve_ivp(rhs, (0.0, float(ts[-1])), z_init, method="DOP853", t_eval=ts,
                    rtol=1e-13, atol=1e-12)
    assert sol.success, sol.message
    return sol.y.T


def _lotka_volterra_logdensity(p: dict, data: dict) -> float:
    theta, z_init, sigma = (np.asarray(p[k], float) for k in ("theta", "z_init", "sigma"))
    if not (np.all(theta > 0) and np.all(z_init > 0) and np.all(sigma > 0)):
        return -np.inf
    loc, scale = np.array([1.0, 0.05, 1.0, 0.05]), np.array([0.5, 0.05, 0.5, 0.05])
    ts = np.asarray(data["ts"], float)
    z = lotka_volterra_solution(theta, z_init, ts)
    y_init, y = np.asarray(data["y_init"], float), np.asarray(data["y"], float)
    return float(
        stats.truncnorm.logpdf(theta, -loc / scale, np.inf, loc, scale).sum()
        + stats.lognorm.logpdf(z_init, 1.0, scale=10.0).sum()
        + stats.lognorm.logpdf(sigma, 1.0, scale=np.exp(-1.0)).sum()
        + stats.lognorm.logpdf(y_init, sigma, scale=z_init).sum()
        + stats.lognorm.logpdf(y, sigma, scale=z).sum()
    )


# =============================================================================================
# The registry
# =============================================================================================

MODELS: dict[str, PosteriorModel] = {
    "arK-arK": PosteriorModel(model_ark, _ark_args, _ark_logdensity),
    "diamonds-diamonds": PosteriorModel(model_diamonds, _diamonds_args, _diamonds_logdensity),
    "eight_schools-eight_schools_centered": PosteriorModel(
        model_eight_schools_centered, _eight_schools_args, _centered_logdensity
    ),
    "eight_schools-eight_schools_noncentered": PosteriorModel(
        model_eight_schools_noncentered, _eight_schools_args, _noncentered_logdensity
    ),
    "garch-garch11": PosteriorModel(model_garch11, _garch_args, _garch_logdensity),
    "gp_pois_regr-gp_regr": PosteriorModel(model_gp_regr, _gp_args, _gp_logdensity),
    "hmm_example-hmm_example": PosteriorModel(model_hmm_example, _hmm_args, _hmm_logdensity),
    "hudson_lynx_hare-lotka_volterra": PosteriorModel(
        model_lotka_volterra, _lotka_volterra_args, _lotka_volterra_logdensity
    ),
    "kidiq-kidscore_momiq": PosteriorModel(model_kidscore_momiq, _kidiq_args, _kidiq_logdensity),
    "low_dim_gauss_mix-low_dim_gauss_mix": PosteriorModel(
        model_low_dim_gauss_mix, _gauss_mix_args, _gauss_mix_logdensity
    ),
    "sblrc-blr": PosteriorModel(model_blr, _blr_args, _blr_logdensity),
}

#: Our site name -> the reference's parameter name, for every site the reference stores.  The
#: names agree; the non-centred eight schools' latent ``theta_trans`` is not in the reference
#: (its ``theta`` is our deterministic site).
REFERENCE_NAMES: dict[str, dict[str, str]] = {
    "arK-arK": {"alpha": "alpha", "beta": "beta", "sigma": "sigma"},
    "diamonds-diamonds": {"b": "b", "Intercept": "Intercept", "sigma": "sigma"},
    "eight_schools-eight_schools_centered": {"theta": "theta", "mu": "mu", "tau": "tau"},
    "eight_schools-eight_schools_noncentered": {"theta": "theta", "mu": "mu", "tau": "tau"},
    "garch-garch11": {"mu": "mu", "alpha0": "alpha0", "alpha1": "alpha1", "beta1": "beta1"},
    "gp_pois_regr-gp_regr": {"rho": "rho", "alpha": "alpha", "sigma": "sigma"},
    "hmm_example-hmm_example": {"theta1": "theta1", "theta2": "theta2", "mu": "mu"},
    "hudson_lynx_hare-lotka_volterra": {"theta": "theta", "z_init": "z_init", "sigma": "sigma"},
    "kidiq-kidscore_momiq": {"beta": "beta", "sigma": "sigma"},
    "low_dim_gauss_mix-low_dim_gauss_mix": {"mu": "mu", "sigma": "sigma", "theta": "theta"},
    "sblrc-blr": {"beta": "beta", "sigma": "sigma"},
}


def model_args(name: str) -> tuple[Callable[..., Any], tuple, dict]:
    """``(model, args, kwargs)`` for the reference posterior ``name`` (or a unique part of it).

    >>> model, args, kwargs = model_args("garch11")
    >>> model.__name__, args[0].shape, args[1]
    ('model_garch11', (200,), 0.5)
    """
    ref = load(name)
    model, args_from_data, _ = MODELS[ref.name]
    args, kwargs = args_from_data(ref.data)
    return model, args, kwargs


def reference_draws_for(name: str) -> dict[str, np.ndarray]:
    """The reference draws of ``name`` (or a unique part of it) under our site names, each ``(chain, draw, *shape)``.

    Every site that :data:`REFERENCE_NAMES` maps is included (simplices as arrays of 2, ordered
    vectors in order), plus latent sites that the reference does not store but determines: the
    non-centred eight schools' ``theta_trans`` :math:`= (\\theta - \\mu) / \\tau`.  The arrays are
    fresh copies.
    """
    ref = load(name)
    out = {site: np.array(ref.draws[param]) for site, param in REFERENCE_NAMES[ref.name].items()}
    if ref.name == "eight_schools-eight_schools_noncentered":
        out["theta_trans"] = (out["theta"] - out["mu"][..., None]) / out["tau"][..., None]
    return out
