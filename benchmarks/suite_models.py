r"""The models and data sets of the MCMC benchmark suite (:mod:`mcmc_suite`).

Each model is written once for the NumPyro vocabulary -- a function of a :class:`Lang` (the
``sample``/``plate``/``deterministic`` primitives, the distributions and the array module) and
of the data -- so that numbayes and NumPyro run literally the same code; the PyMC version (for
nutpie) is written beside it, statement for statement.  Data are simulated with fixed seeds, so
every library and every run sees the same arrays.

Models
------
``eight_schools_noncentred``
    :math:`\mu \sim N(0, 5)`, :math:`\tau \sim \mathrm{HalfCauchy}(5)`,
    :math:`\tilde\theta_j \sim N(0, 1)`, :math:`y_j \sim N(\mu + \tau\tilde\theta_j, \sigma_j)`
    (Rubin 1981; the classic eight-schools data).
``eight_schools_centred``
    :math:`\theta_j \sim N(\mu, \tau)`, :math:`y_j \sim N(\theta_j, \sigma_j)`: the funnel
    that makes NUTS diverge.
``logistic_regression``
    :math:`X_{ik} \sim N(0, 1)` (5000 x 25), :math:`\alpha \sim N(0, 5)`,
    :math:`\beta_k \sim N(0, 1)`, :math:`y_i \sim \mathrm{Bernoulli}(\mathrm{logit}^{-1}
    (\alpha + x_i^\top\beta))`.
``stochastic_volatility``
    :math:`\sigma \sim \mathrm{Exponential}(10)`, :math:`\nu \sim \mathrm{Gamma}(2, 0.1)`
    (rate), :math:`\mu_h \sim N(-4, 2)`, :math:`\tilde h_t \sim N(0, 1)`,
    :math:`h = \mu_h + \sigma\,\mathrm{cumsum}(\tilde h)`,
    :math:`r_t \sim t_\nu(0, e^{h_t})`, :math:`T = 500`.
``hierarchical_linear``
    :math:`y_i \sim N(a_{g_i} + b x_i, \sigma_y)`, :math:`a_j = \mu_a + \sigma_a\tilde a_j`,
    :math:`\tilde a_j \sim N(0, 1)`, :math:`\mu_a \sim N(0, 10)`,
    :math:`\sigma_a \sim \mathrm{HalfNormal}(5)`, :math:`b \sim N(0, 10)`,
    :math:`\sigma_y \sim \mathrm{HalfNormal}(5)`; :math:`N = 919` observations in
    :math:`J = 85` groups of uneven sizes, a binary covariate (the shape of Gelman and Hill's
    radon data).
``warm_cache`` (not in the suite)
    A two-parameter normal model, only used to fill a compile cache with everything but the
    suite model (the "model-cold" measurement).

References
----------
Rubin, D. B. (1981). Estimation in parallel randomized experiments. *J. Educ. Stat.* 6, 377-401.

Gelman, A. and Hill, J. (2007). *Data Analysis Using Regression and Multilevel/Hierarchical
Models*, ch. 12 (radon).

Kim, S., Shephard, N. and Chib, S. (1998). Stochastic volatility: likelihood inference and
comparison with ARCH models. *Rev. Econ. Stud.* 65, 361-393.

This module imports only NumPy at import time: each library is imported by the function that
needs it, so a benchmark worker for one library never pays for importing another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["MODELS", "WARM_CACHE_MODEL", "SuiteModel", "lang_numbayes", "lang_numpyro"]


# --------------------------------------------------------------------------------------------
# The vocabulary a model is written in
# --------------------------------------------------------------------------------------------


def lang_numbayes() -> SimpleNamespace:
    """numbayes' primitives, distributions and array module (``autodiff.numpy``)."""
    import autodiff.numpy as anp
    import ppl
    from ppl import dist

    return SimpleNamespace(
        sample=ppl.sample, plate=ppl.plate, deterministic=ppl.deterministic, dist=dist, np=anp
    )


def lang_numpyro() -> SimpleNamespace:
    """NumPyro's primitives, distributions and array module (``jax.numpy``)."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    return SimpleNamespace(
        sample=numpyro.sample,
        plate=numpyro.plate,
        deterministic=numpyro.deterministic,
        dist=dist,
        np=jnp,
    )


Lang = SimpleNamespace


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def eight_schools_noncentred(L: Lang, sigma, y):
    mu = L.sample("mu", L.dist.Normal(0.0, 5.0))
    tau = L.sample("tau", L.dist.HalfCauchy(5.0))
    with L.plate("school", sigma.shape[0]):
        theta_raw = L.sample("theta_raw", L.dist.Normal(0.0, 1.0))
        L.sample("y", L.dist.Normal(mu + tau * theta_raw, sigma), obs=y)


def eight_schools_noncentred_pymc(sigma, y):
    import pymc as pm

    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        theta_raw = pm.Normal("theta_raw", 0.0, 1.0, shape=sigma.shape[0])
        pm.Normal("y", mu + tau * theta_raw, sigma, observed=y)
    return model


def eight_schools_centred(L: Lang, sigma, y):
    mu = L.sample("mu", L.dist.Normal(0.0, 5.0))
    tau = L.sample("tau", L.dist.HalfCauchy(5.0))
    with L.plate("school", sigma.shape[0]):
        theta = L.sample("theta", L.dist.Normal(mu, tau))
        L.sample("y", L.dist.Normal(theta, sigma), obs=y)


def eight_schools_centred_pymc(sigma, y):
    import pymc as pm

    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        theta = pm.Normal("theta", mu, tau, shape=sigma.shape[0])
        pm.Normal("y", theta, sigma, observed=y)
    return model


def logistic_regression(L: Lang, X, y):
    alpha = L.sample("alpha", L.dist.Normal(0.0, 5.0))
    with L.plate("coef", X.shape[1]):
        beta = L.sample("beta", L.dist.Normal(0.0, 1.0))
    logits = alpha + L.np.matmul(X, beta)
    with L.plate("obs", X.shape[0]):
        L.sample("y", L.dist.Bernoulli(logits=logits), obs=y)


def logistic_regression_pymc(X, y):
    import pymc as pm

    with pm.Model() as model:
        alpha = pm.Normal("alpha", 0.0, 5.0)
        beta = pm.Normal("beta", 0.0, 1.0, shape=X.shape[1])
        logits = alpha + pm.math.dot(X, beta)
        pm.Bernoulli("y", logit_p=logits, observed=y)
    return model


def stochastic_volatility(L: Lang, r):
    sigma = L.sample("sigma", L.dist.Exponential(10.0))
    nu = L.sample("nu", L.dist.Gamma(2.0, 0.1))
    mu_h = L.sample("mu_h", L.dist.Normal(-4.0, 2.0))
    with L.plate("time", r.shape[0]):
        h_raw = L.sample("h_raw", L.dist.Normal(0.0, 1.0))
        h = mu_h + sigma * L.np.cumsum(h_raw)
        L.sample("r", L.dist.StudentT(nu, 0.0, L.np.exp(h)), obs=r)


def stochastic_volatility_pymc(r):
    import pymc as pm

    with pm.Model() as model:
        sigma = pm.Exponential("sigma", 10.0)
        nu = pm.Gamma("nu", alpha=2.0, beta=0.1)
        mu_h = pm.Normal("mu_h", -4.0, 2.0)
        h_raw = pm.Normal("h_raw", 0.0, 1.0, shape=r.shape[0])
        h = mu_h + sigma * pm.math.cumsum(h_raw)
        pm.StudentT("r", nu=nu, mu=0.0, sigma=pm.math.exp(h), observed=r)
    return model


def hierarchical_linear(L: Lang, group, x, y, n_groups):
    mu_a = L.sample("mu_a", L.dist.Normal(0.0, 10.0))
    sigma_a = L.sample("sigma_a", L.dist.HalfNormal(5.0))
    b = L.sample("b", L.dist.Normal(0.0, 10.0))
    sigma_y = L.sample("sigma_y", L.dist.HalfNormal(5.0))
    with L.plate("groups", n_groups):
        a_raw = L.sample("a_raw", L.dist.Normal(0.0, 1.0))
    a = mu_a + sigma_a * a_raw
    with L.plate("obs", y.shape[0]):
        L.sample("y", L.dist.Normal(a[group] + b * x, sigma_y), obs=y)


def hierarchical_linear_pymc(group, x, y, n_groups):
    import pymc as pm

    with pm.Model() as model:
        mu_a = pm.Normal("mu_a", 0.0, 10.0)
        sigma_a = pm.HalfNormal("sigma_a", 5.0)
        b = pm.Normal("b", 0.0, 10.0)
        sigma_y = pm.HalfNormal("sigma_y", 5.0)
        a_raw = pm.Normal("a_raw", 0.0, 1.0, shape=n_groups)
        a = mu_a + sigma_a * a_raw
        pm.Normal("y", a[group] + b * x, sigma_y, observed=y)
    return model


def warm_cache(L: Lang, y):
    mu = L.sample("mu", L.dist.Normal(0.0, 10.0))
    sd = L.sample("sd", L.dist.HalfNormal(5.0))
    with L.plate("obs", y.shape[0]):
        L.sample("y", L.dist.Normal(mu, sd), obs=y)


def warm_cache_pymc(y):
    import pymc as pm

    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sd = pm.HalfNormal("sd", 5.0)
        pm.Normal("y", mu, sd, observed=y)
    return model


# --------------------------------------------------------------------------------------------
# Data (fixed seeds)
# --------------------------------------------------------------------------------------------


def eight_schools_data() -> dict[str, np.ndarray]:
    """Rubin's (1981) SAT coaching effects and their standard errors."""
    return {
        "sigma": np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]),
        "y": np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]),
    }


def logistic_data(n: int = 5000, k: int = 25, seed: int = 1) -> dict[str, np.ndarray]:
    """Standard-normal design, intercept 0.3, coefficients drawn from N(0, 0.5^2)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    beta = rng.normal(0.0, 0.5, size=k)
    p = 1.0 / (1.0 + np.exp(-(0.3 + X @ beta)))
    return {"X": X, "y": (rng.random(n) < p).astype(np.int64)}


def sv_data(t: int = 500, seed: int = 2) -> dict[str, np.ndarray]:
    """Returns from the model itself: sigma = 0.15, nu = 8, mu_h = -4."""
    rng = np.random.default_rng(seed)
    h = -4.0 + 0.15 * np.cumsum(rng.normal(size=t))
    return {"r": np.exp(h) * rng.standard_t(8.0, size=t)}


def hierarchical_data(n: int = 919, j: int = 85, seed: int = 3) -> dict[str, Any]:
    """Radon-like data: every group non-empty, sizes from log-normal weights (1 to ~100),
    a binary covariate (floor) with P(1) = 0.17, and mu_a = 1.5, sigma_a = 0.3, b = -0.7,
    sigma_y = 0.75."""
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0.0, 1.2, size=j)
    group = np.concatenate([np.arange(j), rng.choice(j, size=n - j, p=weights / weights.sum())])
    group = np.sort(group)
    x = (rng.random(n) < 0.17).astype(np.float64)
    a = 1.5 + 0.3 * rng.normal(size=j)
    y = a[group] - 0.7 * x + 0.75 * rng.normal(size=n)
    return {"group": group.astype(np.int64), "x": x, "y": y, "n_groups": j}


def warm_cache_data() -> dict[str, np.ndarray]:
    return {"y": np.random.default_rng(4).normal(1.0, 2.0, size=50)}


# --------------------------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteModel:
    """One benchmark model.

    Attributes
    ----------
    name : the key used on the command line.
    model : the model written against a :class:`Lang` (numbayes and NumPyro).
    pymc_model : the same model as a ``pymc.Model`` builder (for nutpie).
    data : the data set as keyword arguments of both functions.
    params : the latent sites whose draws are compared (ESS, posterior means).
    """

    name: str
    model: Callable[..., Any]
    pymc_model: Callable[..., Any]
    data: Callable[[], dict[str, Any]]
    params: tuple[str, ...]

    def for_lang(self, L: Lang) -> Callable[..., Any]:
        """The model function for one library's vocabulary (``model(**data)``)."""

        def model(**data: Any) -> None:
            return self.model(L, **data)

        model.__name__ = self.name
        return model


MODELS: dict[str, SuiteModel] = {
    m.name: m
    for m in [
        SuiteModel(
            "eight_schools_noncentred",
            eight_schools_noncentred,
            eight_schools_noncentred_pymc,
            eight_schools_data,
            ("mu", "tau", "theta_raw"),
        ),
        SuiteModel(
            "eight_schools_centred",
            eight_schools_centred,
            eight_schools_centred_pymc,
            eight_schools_data,
            ("mu", "tau", "theta"),
        ),
        SuiteModel(
            "logistic_regression",
            logistic_regression,
            logistic_regression_pymc,
            logistic_data,
            ("alpha", "beta"),
        ),
        SuiteModel(
            "stochastic_volatility",
            stochastic_volatility,
            stochastic_volatility_pymc,
            sv_data,
            ("sigma", "nu", "mu_h", "h_raw"),
        ),
        SuiteModel(
            "hierarchical_linear",
            hierarchical_linear,
            hierarchical_linear_pymc,
            hierarchical_data,
            ("mu_a", "sigma_a", "b", "sigma_y", "a_raw"),
        ),
    ]
}

WARM_CACHE_MODEL = SuiteModel("warm_cache", warm_cache, warm_cache_pymc, warm_cache_data,
                              ("mu", "sd"))
