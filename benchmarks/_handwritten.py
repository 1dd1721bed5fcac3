r"""Hand-written gradients of the four densities of ``benchmarks/gradient.py``: the competitors.

Each density exists here three times, all computing the same normalised log density (constants
included) and its gradient, so that every version can be checked against our compiled one:

* a Numba kernel ``*_numba(theta, grad, *data) -> logp`` written as well as we know how: one fused
  loop, one ``exp`` per element where the maths allows it, no temporaries (it writes ``grad``);
* a vectorised NumPy/SciPy function ``*_numpy(theta, *data) -> (logp, grad)`` (BLAS for products);
* a JAX log density (forward pass only; JAX differentiates it), built by :func:`jax_logps` when
  JAX is importable.

The densities (unconstrained parameterisation, Jacobians of the log transforms included):

Eight schools (non-centred), :math:`\theta = (\mu, \log\tau, z_{1:8})`,

.. math::
    \log p = \log\mathcal N(\mu\mid 0, 5) + \log\mathrm{HalfCauchy}(\tau\mid 5) + \log\tau
    + \sum_j \log\mathcal N(z_j\mid 0, 1) + \log\mathcal N(y_j\mid \mu + \tau z_j, \sigma_j).

Logistic regression, :math:`\theta = (\alpha, \beta_{1:25})`, :math:`\eta = \alpha + X\beta`,

.. math::
    \log p = \log\mathcal N(\alpha\mid 0, 5) + \sum_k \log\mathcal N(\beta_k\mid 0, 1)
    + \sum_i \bigl(y_i\eta_i - \log(1 + e^{\eta_i})\bigr),
    \qquad \nabla_\eta = y - \operatorname{expit}(\eta).

Stochastic volatility, :math:`\theta = (\log\sigma, \log\nu, \mu_h, \tilde h_{1:T})`,
:math:`c_t = \sum_{s\le t}\tilde h_s`, :math:`h_t = \mu_h + \sigma c_t`,
:math:`w_t = (r_t e^{-h_t})^2/\nu`,

.. math::
    \log p = \log\mathrm{Exp}(\sigma\mid 10) + \log\sigma + \log\mathrm{Gamma}(\nu\mid 2, 0.1)
    + \log\nu + \log\mathcal N(\mu_h\mid -4, 2) + \sum_t \log\mathcal N(\tilde h_t\mid 0, 1)
    + \sum_t \Bigl(\log\Gamma\bigl(\tfrac{\nu+1}{2}\bigr) - \log\Gamma\bigl(\tfrac{\nu}{2}\bigr)
      - \tfrac12\log(\nu\pi) - h_t - \tfrac{\nu+1}{2}\log(1 + w_t)\Bigr),

whose gradient needs :math:`a_t = \partial\log p/\partial h_t = -1 + (\nu+1)\,w_t/(1+w_t)`,
then :math:`\partial/\partial\mu_h = \sum_t a_t`, :math:`\partial/\partial\log\sigma =
\sigma\sum_t a_t c_t` and :math:`\partial/\partial\tilde h_k = -\tilde h_k + \sigma\sum_{t\ge k}
a_t` (a reverse cumulative sum).

Hierarchical linear regression (varying intercepts, non-centred),
:math:`\theta = (\mu_a, \log\sigma_a, b, \log\sigma_y, \tilde a_{1:J})`,
:math:`a = \mu_a + \sigma_a\tilde a`, :math:`r_i = (y_i - a_{g_i} - b x_i)/\sigma_y`,

.. math::
    \log p = \log\mathcal N(\mu_a\mid 0, 10) + \log\mathcal N^+(\sigma_a\mid 5) + \log\sigma_a
    + \log\mathcal N(b\mid 0, 10) + \log\mathcal N^+(\sigma_y\mid 5) + \log\sigma_y
    + \sum_j \log\mathcal N(\tilde a_j\mid 0, 1)
    + \sum_i \bigl(-\tfrac12 r_i^2 - \log\sigma_y - \tfrac12\log 2\pi\bigr),

with :math:`w_i = r_i/\sigma_y` and :math:`s_j = \sum_{i: g_i = j} w_i` (a scatter-add):
:math:`\partial/\partial\tilde a_j = -\tilde a_j + \sigma_a s_j`,
:math:`\partial/\partial\mu_a = -\mu_a/100 + \sum_j s_j`,
:math:`\partial/\partial b = -b/100 + \sum_i w_i x_i`,
:math:`\partial/\partial\log\sigma_y = \sum_i (r_i^2 - 1) - \sigma_y^2/25 + 1`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.special

from kernels import special as sp
from kernels.jit import njit

LOG_2PI = math.log(2.0 * math.pi)
LOG_PI = math.log(math.pi)


# ---------------------------------------------------------------------------------------------
# Eight schools
# ---------------------------------------------------------------------------------------------


@njit
def eight_schools_numba(theta, grad, y, sigma):
    """Fused eight-schools log density and gradient: one pass over the schools."""
    mu = theta[0]
    log_tau = theta[1]
    tau = math.exp(log_tau)
    # mu ~ N(0, 5); tau ~ HalfCauchy(5) with the log-Jacobian log(tau)
    lp = -0.5 * (mu / 5.0) ** 2 - math.log(5.0) - 0.5 * LOG_2PI
    lp += math.log(2.0 * 5.0 / math.pi) - math.log(25.0 + tau * tau) + log_tau
    g_mu = -mu / 25.0
    g_log_tau = 1.0 - 2.0 * tau * tau / (25.0 + tau * tau)
    for j in range(y.shape[0]):
        z = theta[2 + j]
        s = sigma[j]
        resid = (y[j] - mu - tau * z) / s
        lp += -0.5 * (z * z + resid * resid) - math.log(s) - LOG_2PI
        d_mean = resid / s  # d lp / d (mu + tau z_j)
        g_mu += d_mean
        g_log_tau += d_mean * tau * z
        grad[2 + j] = -z + d_mean * tau
    grad[0] = g_mu
    grad[1] = g_log_tau
    return lp


def eight_schools_numpy(theta: np.ndarray, y: np.ndarray, sigma: np.ndarray):
    """Vectorised NumPy eight schools: ``(logp, grad)``."""
    mu, log_tau, z = theta[0], theta[1], theta[2:]
    tau = np.exp(log_tau)
    resid = (y - mu - tau * z) / sigma
    lp = (
        -0.5 * (mu / 5.0) ** 2 - np.log(5.0) - 0.5 * LOG_2PI
        + np.log(10.0 / np.pi) - np.log(25.0 + tau * tau) + log_tau
        - 0.5 * (z @ z + resid @ resid) - np.log(sigma).sum() - y.size * LOG_2PI
    )
    d_mean = resid / sigma
    grad = np.empty_like(theta)
    grad[0] = -mu / 25.0 + d_mean.sum()
    grad[1] = 1.0 - 2.0 * tau * tau / (25.0 + tau * tau) + tau * (d_mean @ z)
    grad[2:] = -z + tau * d_mean
    return lp, grad


# ---------------------------------------------------------------------------------------------
# Logistic regression
# ---------------------------------------------------------------------------------------------


@njit
def _softplus_and_expit(eta):
    """``(log(1 + e^eta), expit(eta))`` from a single ``exp(-|eta|)``."""
    e = math.exp(-abs(eta))
    softplus = max(eta, 0.0) + math.log1p(e)
    p = 1.0 / (1.0 + e) if eta >= 0.0 else e / (1.0 + e)
    return softplus, p


@njit
def _logistic_prior(theta, grad):
    alpha = theta[0]
    k = theta.shape[0] - 1
    lp = -0.5 * (alpha / 5.0) ** 2 - math.log(5.0) - 0.5 * LOG_2PI - 0.5 * k * LOG_2PI
    grad[0] = -alpha / 25.0
    for j in range(k):
        b = theta[1 + j]
        lp -= 0.5 * b * b
        grad[1 + j] = -b
    return lp


@njit
def logistic_loop_numba(theta, grad, X, y):
    """Logistic regression in one pass over the rows of ``X`` (row-major, read once)."""
    lp = _logistic_prior(theta, grad)
    alpha = theta[0]
    n, k = X.shape
    for i in range(n):
        eta = alpha
        for j in range(k):
            eta += X[i, j] * theta[1 + j]
        softplus, p = _softplus_and_expit(eta)
        lp += y[i] * eta - softplus
        resid = y[i] - p
        grad[0] += resid
        for j in range(k):
            grad[1 + j] += resid * X[i, j]
    return lp


@njit
def logistic_dot_numba(theta, grad, X, y):
    """Logistic regression with BLAS: ``eta = X @ beta`` and ``X.T @ resid`` (no copy of X)."""
    lp = _logistic_prior(theta, grad)
    alpha = theta[0]
    eta = np.dot(X, theta[1:])
    resid = np.empty_like(eta)
    g_alpha = 0.0
    for i in range(eta.shape[0]):
        e_i = alpha + eta[i]
        softplus, p = _softplus_and_expit(e_i)
        lp += y[i] * e_i - softplus
        resid[i] = y[i] - p
        g_alpha += resid[i]
    g_beta = np.dot(X.T, resid)  # X.T is an F-ordered view: BLAS transposes, nothing is copied
    grad[0] += g_alpha
    for j in range(g_beta.shape[0]):
        grad[1 + j] += g_beta[j]
    return lp


def logistic_numpy(theta: np.ndarray, X: np.ndarray, y: np.ndarray):
    """Vectorised NumPy/BLAS logistic regression: ``(logp, grad)``."""
    alpha, beta = theta[0], theta[1:]
    eta = alpha + X @ beta
    lp = (
        -0.5 * (alpha / 5.0) ** 2 - np.log(5.0) - 0.5 * LOG_2PI
        - 0.5 * (beta @ beta) - 0.5 * beta.size * LOG_2PI
        + y @ eta - np.logaddexp(0.0, eta).sum()
    )
    resid = y - scipy.special.expit(eta)
    grad = np.empty_like(theta)
    grad[0] = -alpha / 25.0 + resid.sum()
    grad[1:] = -beta + X.T @ resid
    return lp, grad


# ---------------------------------------------------------------------------------------------
# Stochastic volatility
# ---------------------------------------------------------------------------------------------


@njit
def _sv_hyper(log_sigma, log_nu, mu_h):
    """Log prior of the three hyperparameters (with Jacobians) and its gradient."""
    sigma = math.exp(log_sigma)
    nu = math.exp(log_nu)
    # sigma ~ Exponential(10): log 10 - 10 sigma, + log sigma (Jacobian)
    lp = math.log(10.0) - 10.0 * sigma + log_sigma
    # nu ~ Gamma(2, rate 0.1): 2 log 0.1 - lgamma(2) + log nu - 0.1 nu, + log nu (Jacobian)
    lp += 2.0 * math.log(0.1) + 2.0 * log_nu - 0.1 * nu
    # mu_h ~ N(-4, 2)
    lp += -0.5 * ((mu_h + 4.0) / 2.0) ** 2 - math.log(2.0) - 0.5 * LOG_2PI
    return lp, 1.0 - 10.0 * sigma, 2.0 - 0.1 * nu, -(mu_h + 4.0) / 4.0


@njit
def sv_numba(theta, grad, r):
    """Stochastic volatility: a forward pass (running cumulative sum) and a reverse pass."""
    log_sigma, log_nu, mu_h = theta[0], theta[1], theta[2]
    sigma = math.exp(log_sigma)
    nu = math.exp(log_nu)
    lp, g_log_sigma, g_log_nu, g_mu = _sv_hyper(log_sigma, log_nu, mu_h)
    n = r.shape[0]
    c = 0.0
    sum_a = 0.0
    sum_ac = 0.0
    sum_log1p = 0.0
    sum_frac = 0.0
    for t in range(n):
        x = theta[3 + t]
        c += x
        h = mu_h + sigma * c
        z = r[t] * math.exp(-h)
        w = z * z / nu
        log1p_w = math.log1p(w)
        lp += -0.5 * x * x - h - 0.5 * (nu + 1.0) * log1p_w
        frac = w / (1.0 + w)
        a = -1.0 + (nu + 1.0) * frac  # d lp / d h_t
        sum_a += a
        sum_ac += a * c
        sum_log1p += log1p_w
        sum_frac += frac
        grad[3 + t] = a  # kept for the reverse cumulative sum below
    half = 0.5 * (nu + 1.0)
    lp += n * (sp.gammaln(half) - sp.gammaln(0.5 * nu) - 0.5 * (log_nu + LOG_PI) - 0.5 * LOG_2PI)
    d_nu = (
        n * (0.5 * sp.digamma(half) - 0.5 * sp.digamma(0.5 * nu) - 0.5 / nu)
        - 0.5 * sum_log1p + half / nu * sum_frac
    )
    tail = 0.0
    for t in range(n - 1, -1, -1):
        tail += grad[3 + t]
        grad[3 + t] = -theta[3 + t] + sigma * tail
    grad[0] = g_log_sigma + sigma * sum_ac
    grad[1] = g_log_nu + nu * d_nu
    grad[2] = g_mu + sum_a
    return lp


def sv_numpy(theta: np.ndarray, r: np.ndarray):
    """Vectorised NumPy/SciPy stochastic volatility: ``(logp, grad)``."""
    log_sigma, log_nu, mu_h, h_raw = theta[0], theta[1], theta[2], theta[3:]
    sigma, nu = np.exp(log_sigma), np.exp(log_nu)
    n = r.size
    c = np.cumsum(h_raw)
    h = mu_h + sigma * c
    w = (r * np.exp(-h)) ** 2 / nu
    log1p_w = np.log1p(w)
    half = 0.5 * (nu + 1.0)
    lp = (
        np.log(10.0) - 10.0 * sigma + log_sigma
        + 2.0 * np.log(0.1) + 2.0 * log_nu - 0.1 * nu
        - 0.5 * ((mu_h + 4.0) / 2.0) ** 2 - np.log(2.0) - 0.5 * LOG_2PI
        - 0.5 * (h_raw @ h_raw) - 0.5 * n * LOG_2PI
        + n * (scipy.special.gammaln(half) - scipy.special.gammaln(0.5 * nu)
               - 0.5 * (log_nu + LOG_PI))
        - h.sum() - half * log1p_w.sum()
    )
    frac = w / (1.0 + w)
    a = -1.0 + (nu + 1.0) * frac
    d_nu = (
        n * (0.5 * scipy.special.digamma(half) - 0.5 * scipy.special.digamma(0.5 * nu) - 0.5 / nu)
        - 0.5 * log1p_w.sum() + half / nu * frac.sum()
    )
    grad = np.empty_like(theta)
    grad[0] = 1.0 - 10.0 * sigma + sigma * (a @ c)
    grad[1] = 2.0 - 0.1 * nu + nu * d_nu
    grad[2] = -(mu_h + 4.0) / 4.0 + a.sum()
    grad[3:] = -h_raw + sigma * np.cumsum(a[::-1])[::-1]
    return lp, grad


# ---------------------------------------------------------------------------------------------
# Hierarchical linear regression
# ---------------------------------------------------------------------------------------------

_HALF_NORMAL_5 = math.log(2.0) - 0.5 * LOG_2PI - math.log(5.0)  # log density of HalfNormal(5) at 0
_NORMAL_10 = -math.log(10.0) - 0.5 * LOG_2PI


@njit
def hierarchical_numba(theta, grad, g, x, y):
    """Hierarchical regression: one pass over the data (gather, residual, scatter-add)."""
    mu_a, log_sa, b, log_sy = theta[0], theta[1], theta[2], theta[3]
    sa, sy = math.exp(log_sa), math.exp(log_sy)
    j = theta.shape[0] - 4
    for k in range(j):
        grad[4 + k] = 0.0  # s_k accumulates here first
    inv = 1.0 / sy
    lp = 0.0
    sum_wx = 0.0
    sum_r2 = 0.0
    for i in range(y.shape[0]):
        k = g[i]
        r = (y[i] - (mu_a + sa * theta[4 + k]) - b * x[i]) * inv
        w = r * inv
        sum_r2 += r * r
        sum_wx += w * x[i]
        grad[4 + k] += w
    n = y.shape[0]
    lp = -0.5 * sum_r2 - n * (log_sy + 0.5 * LOG_2PI)
    lp += -0.5 * (mu_a / 10.0) ** 2 + _NORMAL_10 - 0.5 * (b / 10.0) ** 2 + _NORMAL_10
    lp += -0.5 * (sa / 5.0) ** 2 + _HALF_NORMAL_5 + log_sa
    lp += -0.5 * (sy / 5.0) ** 2 + _HALF_NORMAL_5 + log_sy
    sum_s = 0.0
    sum_s_raw = 0.0
    for k in range(j):
        a_raw = theta[4 + k]
        s_k = grad[4 + k]
        lp += -0.5 * a_raw * a_raw - 0.5 * LOG_2PI
        sum_s += s_k
        sum_s_raw += s_k * a_raw
        grad[4 + k] = -a_raw + sa * s_k
    grad[0] = -mu_a / 100.0 + sum_s
    grad[1] = sa * sum_s_raw - sa * sa / 25.0 + 1.0
    grad[2] = -b / 100.0 + sum_wx
    grad[3] = sum_r2 - n - sy * sy / 25.0 + 1.0
    return lp


def hierarchical_numpy(theta: np.ndarray, g: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Vectorised NumPy hierarchical regression: ``(logp, grad)``."""
    mu_a, log_sa, b, log_sy, a_raw = theta[0], theta[1], theta[2], theta[3], theta[4:]
    sa, sy = np.exp(log_sa), np.exp(log_sy)
    r = (y - (mu_a + sa * a_raw)[g] - b * x) / sy
    n = y.size
    lp = (
        -0.5 * (r @ r) - n * (log_sy + 0.5 * LOG_2PI)
        - 0.5 * (mu_a / 10.0) ** 2 - 0.5 * (b / 10.0) ** 2 + 2.0 * _NORMAL_10
        - 0.5 * (sa / 5.0) ** 2 - 0.5 * (sy / 5.0) ** 2 + 2.0 * _HALF_NORMAL_5 + log_sa + log_sy
        - 0.5 * (a_raw @ a_raw) - 0.5 * a_raw.size * LOG_2PI
    )
    w = r / sy
    s = np.bincount(g, weights=w, minlength=a_raw.size)
    grad = np.empty_like(theta)
    grad[0] = -mu_a / 100.0 + s.sum()
    grad[1] = sa * (s @ a_raw) - sa * sa / 25.0 + 1.0
    grad[2] = -b / 100.0 + w @ x
    grad[3] = r @ r - n - sy * sy / 25.0 + 1.0
    grad[4:] = -a_raw + sa * s
    return lp, grad


# ---------------------------------------------------------------------------------------------
# JAX (optional)
# ---------------------------------------------------------------------------------------------


def jax_logps() -> dict[str, Callable]:
    """The four log densities written with ``jax.numpy`` (float64); raises ImportError
    when JAX is not installed."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.scipy.special import gammaln

    def eight_schools(theta, y, sigma):
        mu, log_tau, z = theta[0], theta[1], theta[2:]
        tau = jnp.exp(log_tau)
        resid = (y - mu - tau * z) / sigma
        return (
            -0.5 * (mu / 5.0) ** 2 - jnp.log(5.0) - 0.5 * LOG_2PI
            + jnp.log(10.0 / jnp.pi) - jnp.log(25.0 + tau * tau) + log_tau
            - 0.5 * jnp.sum(z * z + resid * resid) - jnp.sum(jnp.log(sigma)) - y.size * LOG_2PI
        )

    def logistic(theta, X, y):
        alpha, beta = theta[0], theta[1:]
        eta = alpha + X @ beta
        return (
            -0.5 * (alpha / 5.0) ** 2 - jnp.log(5.0) - 0.5 * LOG_2PI
            - 0.5 * jnp.sum(beta * beta) - 0.5 * beta.size * LOG_2PI
            + jnp.sum(y * eta - jax.nn.softplus(eta))
        )

    def sv(theta, r):
        log_sigma, log_nu, mu_h, h_raw = theta[0], theta[1], theta[2], theta[3:]
        sigma, nu = jnp.exp(log_sigma), jnp.exp(log_nu)
        n = r.size
        h = mu_h + sigma * jnp.cumsum(h_raw)
        w = (r * jnp.exp(-h)) ** 2 / nu
        half = 0.5 * (nu + 1.0)
        return (
            jnp.log(10.0) - 10.0 * sigma + log_sigma
            + 2.0 * jnp.log(0.1) + 2.0 * log_nu - 0.1 * nu
            - 0.5 * ((mu_h + 4.0) / 2.0) ** 2 - jnp.log(2.0) - 0.5 * LOG_2PI
            - 0.5 * jnp.sum(h_raw * h_raw) - 0.5 * n * LOG_2PI
            + n * (gammaln(half) - gammaln(0.5 * nu) - 0.5 * (log_nu + LOG_PI))
            - jnp.sum(h) - half * jnp.sum(jnp.log1p(w))
        )

    def hierarchical(theta, g, x, y):
        mu_a, log_sa, b, log_sy, a_raw = theta[0], theta[1], theta[2], theta[3], theta[4:]
        sa, sy = jnp.exp(log_sa), jnp.exp(log_sy)
        r = (y - (mu_a + sa * a_raw)[g] - b * x) / sy
        return (
            -0.5 * jnp.sum(r * r) - y.size * (log_sy + 0.5 * LOG_2PI)
            - 0.5 * (mu_a / 10.0) ** 2 - 0.5 * (b / 10.0) ** 2 + 2.0 * _NORMAL_10
            - 0.5 * (sa / 5.0) ** 2 - 0.5 * (sy / 5.0) ** 2 + 2.0 * _HALF_NORMAL_5
            + log_sa + log_sy - 0.5 * jnp.sum(a_raw * a_raw) - 0.5 * a_raw.size * LOG_2PI
        )

    return {"eight_schools": eight_schools, "logistic": logistic, "sv": sv,
            "hierarchical": hierarchical}


# ---------------------------------------------------------------------------------------------
# Lotka-Volterra (an ODE): Dormand-Prince with forward sensitivities
# ---------------------------------------------------------------------------------------------
#
# posteriordb's hudson_lynx_hare-lotka_volterra, theta = (log a, log b, log c, log d,
# log u0, log v0, log sigma_1, log sigma_2): z = (u, v) solves u' = (a - b v) u,
# v' = (-c + d u) v from z(0) = (u0, v0). The 2 x 6 sensitivities S = dz / d(a, b, c, d, u0, v0)
# obey S' = J S + F with J = [[a - b v, -b u], [d v, -c + d u]] and
# F = [[u, -u v, 0, 0, 0, 0], [0, 0, -v, u v, 0, 0]], S(0) = [0 | I]; the 14 components are
# integrated together, and the error norm takes the first ``n_err`` of them: 2 (the state only,
# as autodiff.odeint, whose sensitivities take the state's steps) or 14 (all, as Stan's coupled
# system and CVODES' errconS). The step control is Hairer, Norsett & Wanner's DOPRI5 (Solving ODEs I, II.4-II.6): the
# RMS error norm with scale atol + rtol max(|x|, |x_new|), the PI controller
# err^-0.17 err_prev^0.04 with safety 0.9 and factors in [0.2, 10], their initial step, and
# the order-4 continuous extension at the observation times.
#
# log p = sum_k log N+(theta_k | mu_k, s_k) + sum log LogNormal(z_init | log 10, 1)
#         + sum log LogNormal(sigma | -1, 1) + sum_k log LogNormal(y_init_k | log z_init_k, s_k)
#         + sum_{n,k} log LogNormal(y_nk | log z_k(t_n), sigma_k) + sum(theta) (log-Jacobians),
# N+ the normal truncated to (0, inf). With r = (log y - log z) / sigma a term's derivative is
# r / sigma in log z and r^2 - 1 in log sigma; d log z_k / d p_j = S_kj / z_k, and a parameter's
# log scale multiplies by the parameter.

LV_PRIOR_LOC = np.array([1.0, 0.05, 1.0, 0.05])
LV_PRIOR_SCALE = np.array([0.5, 0.05, 0.5, 0.05])
# log of the truncated normal's normaliser 1 / (1 - Phi(-mu / s)), per parameter
LV_PRIOR_LOG_Z = -np.log(scipy.special.ndtr(LV_PRIOR_LOC / LV_PRIOR_SCALE))

_DP_A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
    [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
    [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
])
_DP_C = np.array([0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0])
_DP_E = np.array([71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0,
                  22.0 / 525.0, -1.0 / 40.0])
_DP_D = np.array([-12715105075.0 / 11282082432.0, 0.0, 87487479700.0 / 32700410799.0,
                  -10690763975.0 / 1880347072.0, 701980252875.0 / 199316789632.0,
                  -1453857185.0 / 822651844.0, 69997945.0 / 29380423.0])
LV_N = 14  # u, v and the 2 x 6 sensitivities (row-major after them)


@njit
def _lv_coupled_rhs(x, p, out):
    a, b, c, d = p[0], p[1], p[2], p[3]
    u, v = x[0], x[1]
    out[0] = (a - b * v) * u
    out[1] = (-c + d * u) * v
    j00, j01, j10, j11 = a - b * v, -b * u, d * v, -c + d * u
    for j in range(6):
        s0, s1 = x[2 + j], x[8 + j]
        out[2 + j] = j00 * s0 + j01 * s1
        out[8 + j] = j10 * s0 + j11 * s1
    out[2] += u
    out[3] -= u * v
    out[10] -= v
    out[11] += u * v


@njit
def _rms(x, ref, rtol, atol, n):
    s = 0.0
    for i in range(n):
        s += (x[i] / (atol + rtol * abs(ref[i]))) ** 2
    return math.sqrt(s / n)


@njit
def lv_solve_sensitivities(p, z0, ts, rtol, atol, mxstep, n_err, out):
    """The coupled solution at ``ts`` (from t = 0) into ``out`` (len(ts) x 14); returns the
    number of steps, or -1 when ``mxstep`` steps did not reach the end."""
    K = np.empty((7, LV_N))
    x = np.zeros(LV_N)
    xs = np.empty(LV_N)
    x[0], x[1] = z0[0], z0[1]
    x[2 + 4] = 1.0  # dz_1 / du0
    x[8 + 5] = 1.0  # dz_2 / dv0
    t, t_end = 0.0, ts[ts.shape[0] - 1]
    _lv_coupled_rhs(x, p, K[0])
    # initial step (Hairer et al. II.4): from |x|, |f| and a difference quotient of f
    d0, d1 = _rms(x, x, rtol, atol, n_err), _rms(K[0], x, rtol, atol, n_err)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, t_end)
    for i in range(LV_N):
        xs[i] = x[i] + h0 * K[0, i]
    _lv_coupled_rhs(xs, p, K[1])
    s = 0.0
    for i in range(n_err):
        s += ((K[1, i] - K[0, i]) / (atol + rtol * abs(x[i]))) ** 2
    d2 = math.sqrt(s / n_err) / h0
    dmax = max(d1, d2)
    h = min(100.0 * h0, max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** 0.2, t_end)
    err_old = 1e-4
    rejected = False
    k_out = 0
    while k_out < ts.shape[0] and ts[k_out] <= 0.0:
        out[k_out, :] = x
        k_out += 1
    steps = 0
    while k_out < ts.shape[0]:
        if steps >= mxstep:
            return -1
        if t + 1.01 * h > t_end:
            h = t_end - t
        steps += 1
        for s in range(1, 7):
            for i in range(LV_N):
                acc = 0.0
                for j in range(s):
                    acc += _DP_A[s, j] * K[j, i]
                xs[i] = x[i] + h * acc
            _lv_coupled_rhs(xs, p, K[s])
        # K[6] is f at the fifth-order solution xs (its weights are row 6 of A)
        err = 0.0
        for i in range(n_err):
            e = 0.0
            for j in range(7):
                e += _DP_E[j] * K[j, i]
            err += (h * e / (atol + rtol * max(abs(x[i]), abs(xs[i])))) ** 2
        err = math.sqrt(err / n_err)
        if not math.isfinite(err):
            h *= 0.25
            rejected = True
            continue
        factor = err ** (0.2 - 0.04 * 0.75)
        if err > 1.0:
            h /= min(5.0, factor / 0.9)
            rejected = True
            continue
        t_new = t + h
        while k_out < ts.shape[0] and ts[k_out] <= t_new:
            if ts[k_out] == t_new:
                out[k_out, :] = xs
            else:
                th = (ts[k_out] - t) / h
                th1 = 1.0 - th
                for i in range(LV_N):
                    diff = xs[i] - x[i]
                    bspl = h * K[0, i] - diff
                    r5 = 0.0
                    for j in range(7):
                        r5 += _DP_D[j] * K[j, i]
                    out[k_out, i] = x[i] + th * (diff + th1 * (
                        bspl + th * (diff - h * K[6, i] - bspl + th1 * h * r5)))
            k_out += 1
        x[:] = xs
        K[0, :] = K[6, :]
        t = t_new
        fac = max(0.1, min(5.0, factor / err_old ** 0.04 / 0.9))
        h_new = h / fac
        if rejected:
            h_new = min(h_new, h)
        err_old = max(err, 1e-4)
        rejected = False
        h = h_new
    return steps


@njit
def lotka_volterra_numba(theta, grad, ts, y_init, y, rtol, atol, mxstep, n_err):
    """Log density and gradient of the Lotka-Volterra posterior (see above); ``ts`` starts with
    the initial time 0; ``n_err`` components (2 or 14) in the error norm. NaN when the solve
    fails."""
    p = np.exp(theta[:4])
    z0 = np.exp(theta[4:6])
    sigma = np.exp(theta[6:8])
    m = ts.shape[0]
    sol = np.empty((m, LV_N))
    if lv_solve_sensitivities(p, z0, ts, rtol, atol, mxstep, n_err, sol) < 0:
        return np.nan
    logp = 0.0
    for j in range(8):
        grad[j] = 0.0
    for j in range(4):  # truncated normal priors, times the Jacobian p_j
        r = (p[j] - LV_PRIOR_LOC[j]) / LV_PRIOR_SCALE[j]
        logp += (-0.5 * r * r - math.log(LV_PRIOR_SCALE[j]) - 0.5 * LOG_2PI + LV_PRIOR_LOG_Z[j]
                 + theta[j])
        grad[j] += -r / LV_PRIOR_SCALE[j] * p[j] + 1.0
    log10 = math.log(10.0)
    for k in range(2):
        # log-normal priors on the log scale: the Jacobian cancels the -log x
        r = theta[4 + k] - log10
        logp += -0.5 * r * r - 0.5 * LOG_2PI
        grad[4 + k] += -r
        r = theta[6 + k] + 1.0
        logp += -0.5 * r * r - 0.5 * LOG_2PI
        grad[6 + k] += -r
        # y_init_k ~ LogNormal(log z0_k, sigma_k)
        ly = math.log(y_init[k])
        r = (ly - theta[4 + k]) / sigma[k]
        logp += -0.5 * r * r - ly - theta[6 + k] - 0.5 * LOG_2PI
        grad[4 + k] += r / sigma[k]
        grad[6 + k] += r * r - 1.0
    for n in range(1, m):
        for k in range(2):
            z = sol[n, k]
            ly = math.log(y[n - 1, k])
            r = (ly - math.log(z)) / sigma[k]
            logp += -0.5 * r * r - ly - theta[6 + k] - 0.5 * LOG_2PI
            grad[6 + k] += r * r - 1.0
            w = r / (sigma[k] * z)  # d log p / d z
            base = 2 + 6 * k
            for j in range(4):
                grad[j] += w * sol[n, base + j] * p[j]
            for j in range(2):
                grad[4 + j] += w * sol[n, base + 4 + j] * z0[j]
    return logp
