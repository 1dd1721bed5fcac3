r"""Stan's warmup: dual-averaging step size, Welford metric estimates, windowed schedule.

Everything here follows Stan (``stepsize_adaptation.hpp``, ``windowed_adaptation.hpp``,
``var_adaptation.hpp``, ``covar_adaptation.hpp``, ``base_hmc::init_stepsize``; Stan Reference
Manual, "HMC algorithm parameters" / "Automatic parameter tuning"), itself based on Hoffman &
Gelman (2014, JMLR 15:1593, section 3.2: Nesterov's dual averaging for the step size) and
Betancourt (2017, arXiv:1701.02434).

Dual averaging (one chain's ``da`` row: ``[counter, s_bar, x_bar, mu]``)
    :func:`dual_averaging_update` does, with adaptation statistic :math:`a` capped at 1,
    ``counter += 1``; :math:`\eta = 1/(\text{counter} + t_0)`;
    :math:`\bar s \leftarrow (1-\eta)\bar s + \eta(\delta - a)`;
    :math:`x = \mu - \bar s\sqrt{\text{counter}}/\gamma`;
    :math:`\bar x \leftarrow (1 - \text{counter}^{-\kappa})\bar x + \text{counter}^{-\kappa} x`;
    returns :math:`\epsilon = e^x`. Stan's constants: :math:`\delta = 0.8`, :math:`\gamma = 0.05`,
    :math:`\kappa = 0.75`, :math:`t_0 = 10`. :math:`\mu = \log(10\,\epsilon_{init})` at the
    start (``epsilon_init`` = the user's initial step size, set *before* the initial step-size
    search, as Stan's services do) and :math:`\mu = \log(10\,\epsilon)` after every metric
    update, each time followed by :func:`dual_averaging_restart` (``counter = s_bar = x_bar =
    0``). At the end of warmup the step size becomes :math:`e^{\bar x}`
    (:func:`dual_averaging_final`).

Welford estimators
    :func:`welford_add_diag` / :func:`welford_add_dense` keep a running mean and sum of squared
    deviations (``m2``): ``delta = q - mean``; ``mean += delta / n``;
    ``m2 += (q - mean) * delta`` (outer product for the dense case).
    :func:`welford_variance` / :func:`welford_covariance` return ``m2 / (n - 1)``; with fewer
    than two draws they leave the output untouched (Stan's behaviour).

Metric regularisation
    :func:`regularize_diag` / :func:`regularize_dense`:
    :math:`\Sigma \leftarrow \frac{n}{n+5}\Sigma + 10^{-3}\frac{5}{n+5} I`, shrinking the window
    estimate toward a small multiple of the identity; a non-finite result is an error (Stan:
    "Numerical overflow in metric adaptation").

Windowed schedule (:func:`warmup_schedule`)
    Stan's rules: with ``num_warmup < 20`` no metric is estimated (step size only). If
    ``init_buffer + base_window + term_buffer > num_warmup`` the stages are reduced to
    15% / 75% / 10% of ``num_warmup`` (truncating products, as Stan's unsigned arithmetic does).
    Otherwise an initial fast buffer of ``init_buffer`` iterations, then slow windows starting
    at ``base_window`` iterations and doubling; when the window *after* the next would reach
    the terminal buffer, the next window is stretched to end where the terminal buffer of
    ``term_buffer`` iterations begins. For ``num_warmup = 1000`` (75/25/50) the windows are
    ``[75, 100), [100, 150), [150, 250), [250, 450), [450, 950)`` and ``[950, 1000)`` is the
    terminal buffer. At the end of each window the metric is updated, the step size is
    re-initialised with :func:`init_step_size` and dual averaging restarts.

    *Deliberate differences from Stan's C++* (its behaviour there is not the documented one):
    (1) in the 15/75/10 fallback Stan's ``set_window_params`` does not call ``restart()``, so the
    end of the single slow window is never reached and the metric is never updated; here the
    fallback window ends where the terminal buffer starts, as documented (and as NumPyro and
    BlackJAX do). (2) A window that collected no draws leaves the metric unchanged (Stan would
    regularise the old metric to :math:`10^{-3} I`; Stan PR #3037). (3) When no dual-averaging
    update happened since the last restart (``term_buffer = 0``), the final step size stays the
    current one instead of :math:`e^0 = 1` (Stan issue #3023).

Step-size initialisation (:func:`init_step_size`, Stan's ``init_stepsize``)
    From the current point: draw a momentum, take one leapfrog step, :math:`\Delta = H_0 - h`;
    direction = up if :math:`\Delta > \log 0.8` else down. Then repeat: fresh momentum, one
    step with the current :math:`\epsilon`; stop once :math:`\Delta` has crossed
    :math:`\log 0.8`, otherwise double (up) or halve (down) :math:`\epsilon`. Fails when
    :math:`\epsilon > 10^7` (improper posterior) or :math:`\epsilon = 0`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from kernels.integrators import hamiltonian, leapfrog, sample_momentum, velocity
from kernels.jit import njit

__all__ = [
    "DA_SIZE",
    "DA_COUNTER",
    "DA_S_BAR",
    "DA_X_BAR",
    "DA_MU",
    "COLLECT",
    "WINDOW_END",
    "STATUS_OK",
    "STATUS_STEP_SIZE_TOO_LARGE",
    "STATUS_STEP_SIZE_ZERO",
    "STATUS_METRIC_NONFINITE",
    "STATUS_METRIC_NOT_PD",
    "dual_averaging_init",
    "dual_averaging_restart",
    "dual_averaging_update",
    "dual_averaging_final",
    "welford_add_diag",
    "welford_add_dense",
    "welford_variance",
    "welford_covariance",
    "regularize_diag",
    "regularize_dense",
    "warmup_schedule",
    "adaptation_windows",
    "init_step_size",
]

#: Length of one chain's dual-averaging state row.
DA_SIZE = 4
#: Index of the number of updates since the last restart.
DA_COUNTER = 0
#: Index of :math:`\bar s`, the running average of ``delta - accept_stat``.
DA_S_BAR = 1
#: Index of :math:`\bar x`, the averaged log step size.
DA_X_BAR = 2
#: Index of :math:`\mu`, the shrinkage target of :math:`\log\epsilon`.
DA_MU = 3

#: Schedule flag: add this iteration's draw to the metric estimator.
COLLECT = 1
#: Schedule flag: a slow window ends after this iteration (metric update).
WINDOW_END = 2

#: Chain status: running normally.
STATUS_OK = 0
#: Chain status: step-size search passed 1e7 (Stan: "Posterior is improper").
STATUS_STEP_SIZE_TOO_LARGE = 1
#: Chain status: step-size search reached 0 (Stan: "No acceptably small step size").
STATUS_STEP_SIZE_ZERO = 2
#: Chain status: the regularised metric estimate was not finite (Stan: "Numerical overflow").
STATUS_METRIC_NONFINITE = 3
#: Chain status: the dense metric estimate was not positive definite (no Cholesky factor).
STATUS_METRIC_NOT_PD = 4


# --------------------------------------------------------------------------------------------
# Dual averaging
# --------------------------------------------------------------------------------------------


@njit(inline="always")
def dual_averaging_restart(da: np.ndarray) -> None:
    """Stan's ``restart()``: ``counter = s_bar = x_bar = 0`` (``mu`` is kept)."""
    da[DA_COUNTER] = 0.0
    da[DA_S_BAR] = 0.0
    da[DA_X_BAR] = 0.0


@njit(inline="always")
def dual_averaging_init(da: np.ndarray, step_size: float) -> None:
    """Set :math:`\\mu = \\log(10\\,\\epsilon)` and restart (start of warmup, window ends)."""
    da[DA_MU] = math.log(10.0 * step_size)
    dual_averaging_restart(da)


@njit
def dual_averaging_update(
    da: np.ndarray, accept_stat: float, delta: float, gamma: float, kappa: float, t0: float
) -> float:
    """One dual-averaging update (Stan's ``learn_stepsize``); returns the new step size.

    Parameters
    ----------
    da : float64[DA_SIZE]
        The chain's state ``[counter, s_bar, x_bar, mu]``, updated in place.
    accept_stat : float
        Adaptation statistic of the last transition (capped at 1).
    delta, gamma, kappa, t0 : float
        Target acceptance, scaling, shrinkage exponent, iteration offset (0.8, 0.05, 0.75, 10).

    Returns
    -------
    float
        :math:`\\exp(x)`, the step size for the next transition.
    """
    da[DA_COUNTER] += 1.0
    counter = da[DA_COUNTER]
    a = 1.0 if accept_stat > 1.0 else accept_stat
    eta = 1.0 / (counter + t0)
    da[DA_S_BAR] = (1.0 - eta) * da[DA_S_BAR] + eta * (delta - a)
    x = da[DA_MU] - da[DA_S_BAR] * math.sqrt(counter) / gamma
    x_eta = counter ** (-kappa)
    da[DA_X_BAR] = (1.0 - x_eta) * da[DA_X_BAR] + x_eta * x
    return math.exp(x)


@njit(inline="always")
def dual_averaging_final(da: np.ndarray, step_size: float) -> float:
    """Step size at the end of warmup: :math:`e^{\\bar x}` (``step_size`` if no update yet)."""
    if da[DA_COUNTER] == 0.0:
        return step_size
    return math.exp(da[DA_X_BAR])


# --------------------------------------------------------------------------------------------
# Welford estimators and regularisation
# --------------------------------------------------------------------------------------------


@njit
def welford_add_diag(count: float, mean: np.ndarray, m2: np.ndarray, q: np.ndarray) -> float:
    """Add draw ``q`` to a running mean / per-coordinate ``m2``; returns the new count."""
    n = count + 1.0
    for i in range(q.shape[0]):
        delta = q[i] - mean[i]
        mean[i] += delta / n
        m2[i] += (q[i] - mean[i]) * delta
    return n


@njit(inline="always")
def welford_add_dense(
    count: float, mean: np.ndarray, m2: np.ndarray, q: np.ndarray, delta: np.ndarray
) -> float:
    """Add draw ``q`` to a running mean / ``m2`` matrix (``m2 += (q - mean_new) delta^T``).

    ``delta`` is a scratch vector of length ``dim`` (receives ``q - mean_old``). Returns the
    new count.
    """
    n = count + 1.0
    d = q.shape[0]
    for i in range(d):
        delta[i] = q[i] - mean[i]
        mean[i] += delta[i] / n
    for i in range(d):
        r = q[i] - mean[i]
        for j in range(d):
            m2[i, j] += r * delta[j]
    return n


@njit(inline="always")
def welford_variance(count: float, m2: np.ndarray, out: np.ndarray) -> None:
    """Sample variance ``m2 / (n - 1)`` into ``out``; untouched when ``n < 2``."""
    if count > 1.0:
        for i in range(m2.shape[0]):
            out[i] = m2[i] / (count - 1.0)


@njit(inline="always")
def welford_covariance(count: float, m2: np.ndarray, out: np.ndarray) -> None:
    """Sample covariance ``m2 / (n - 1)`` into ``out``; untouched when ``n < 2``."""
    if count > 1.0:
        d = m2.shape[0]
        for i in range(d):
            for j in range(d):
                out[i, j] = m2[i, j] / (count - 1.0)


@njit(inline="always")
def regularize_diag(var: np.ndarray, count: float) -> bool:
    """``var = n/(n+5) var + 1e-3 * 5/(n+5)`` in place; returns ``False`` if not all finite."""
    w = count / (count + 5.0)
    s = 1e-3 * (5.0 / (count + 5.0))
    ok = True
    for i in range(var.shape[0]):
        var[i] = w * var[i] + s
        if not math.isfinite(var[i]):
            ok = False
    return ok


@njit(inline="always")
def regularize_dense(cov: np.ndarray, count: float) -> bool:
    """``cov = n/(n+5) cov + 1e-3 * 5/(n+5) I`` in place; returns ``False`` if not all finite."""
    w = count / (count + 5.0)
    s = 1e-3 * (5.0 / (count + 5.0))
    d = cov.shape[0]
    ok = True
    for i in range(d):
        for j in range(d):
            cov[i, j] = w * cov[i, j] + (s if i == j else 0.0)
            if not math.isfinite(cov[i, j]):
                ok = False
    return ok


# --------------------------------------------------------------------------------------------
# Windowed schedule
# --------------------------------------------------------------------------------------------


def warmup_schedule(
    num_warmup: int,
    init_buffer: int = 75,
    term_buffer: int = 50,
    base_window: int = 25,
    warn: bool = True,
) -> np.ndarray:
    """Stan's windowed metric-adaptation schedule as one flag per warmup iteration.

    Parameters
    ----------
    num_warmup : int
        Number of warmup iterations.
    init_buffer, term_buffer, base_window : int
        Initial fast buffer, terminal fast buffer and first slow window (Stan: 75, 50, 25).
    warn : bool
        Issue a :class:`UserWarning` when no metric is estimated (``num_warmup < 20``) or when
        the stages are reduced to 15%/75%/10% (the cases in which Stan prints a warning).

    Returns
    -------
    numpy.ndarray
        ``int8`` array of length ``num_warmup``; bit :data:`COLLECT` set = add the draw of that
        iteration to the metric estimator, bit :data:`WINDOW_END` set = update the metric
        after that iteration. Iteration indices are 0-based.
    """
    num_warmup = int(num_warmup)
    schedule = np.zeros(max(num_warmup, 0), dtype=np.int8)
    if num_warmup < 20:
        if warn:
            warnings.warn(
                f"num_warmup = {num_warmup} < 20: the metric is not adapted during warmup "
                "(step size only).",
                UserWarning,
                stacklevel=2,
            )
        return schedule
    if init_buffer + base_window + term_buffer > num_warmup:
        init_buffer = int(0.15 * num_warmup)
        term_buffer = int(0.10 * num_warmup)
        base_window = num_warmup - (init_buffer + term_buffer)
        if warn:
            warnings.warn(
                "Too few warmup iterations for the configured adaptation stages; using "
                f"15%/75%/10% of num_warmup = {num_warmup}: init_buffer = {init_buffer}, "
                f"adapt_window = {base_window}, term_buffer = {term_buffer}.",
                UserWarning,
                stacklevel=2,
            )
    last = num_warmup - term_buffer - 1  # last iteration of the slow phase
    window_size = base_window
    next_end = init_buffer + window_size - 1
    for counter in range(num_warmup):
        if init_buffer <= counter < num_warmup - term_buffer:
            schedule[counter] |= COLLECT
        if counter == next_end:
            schedule[counter] |= WINDOW_END
            # Stan's compute_next_window
            if next_end == last:
                continue
            window_size *= 2
            next_end = counter + window_size
            if next_end == last:
                continue
            if next_end + 2 * window_size >= num_warmup - term_buffer:
                next_end = last
    return schedule


def adaptation_windows(schedule: np.ndarray) -> list[tuple[int, int]]:
    """The slow windows of a schedule as half-open ``(start, stop)`` iteration ranges.

    A window starts at the first collecting iteration after the previous window's end and
    stops after the iteration flagged :data:`WINDOW_END`.
    """
    windows = []
    start = None
    for i, flag in enumerate(np.asarray(schedule)):
        if flag & COLLECT and start is None:
            start = i
        if flag & WINDOW_END:
            windows.append((i if start is None else start, i + 1))
            start = None
    return windows


# --------------------------------------------------------------------------------------------
# Step-size initialisation
# --------------------------------------------------------------------------------------------


@njit
def _one_step_delta_h(
    address: int,
    data_ptr: int,
    metric_kind: int,
    inv_diag: np.ndarray,
    inv_dense: np.ndarray,
    chol: np.ndarray,
    q: np.ndarray,
    grad: np.ndarray,
    logp: float,
    epsilon: float,
    rng_state: np.ndarray,
    vec: np.ndarray,
) -> float:
    """Fresh momentum, one leapfrog step from ``(q, grad)``; returns :math:`H_0 - h`."""
    qn = vec[0]
    p = vec[1]
    gn = vec[2]
    ps = vec[3]
    for i in range(q.shape[0]):
        qn[i] = q[i]
        gn[i] = grad[i]
    sample_momentum(metric_kind, inv_diag, chol, rng_state, p)
    velocity(metric_kind, inv_diag, inv_dense, p, ps)
    H0 = hamiltonian(logp, p, ps)
    status, logp_new = leapfrog(
        address, data_ptr, metric_kind, inv_diag, inv_dense, qn, p, gn, ps, epsilon
    )
    h = math.inf
    if status == 0:
        h = hamiltonian(logp_new, p, ps)
    return H0 - h


@njit(inline="always")
def init_step_size(
    address: int,
    data_ptr: int,
    metric_kind: int,
    inv_diag: np.ndarray,
    inv_dense: np.ndarray,
    chol: np.ndarray,
    q: np.ndarray,
    grad: np.ndarray,
    logp: float,
    epsilon: float,
    rng_state: np.ndarray,
    vec: np.ndarray,
) -> tuple[float, int]:
    """Stan's step-size heuristic (``init_stepsize``) from the point ``(q, grad, logp)``.

    Parameters
    ----------
    address, data_ptr, metric_kind, inv_diag, inv_dense, chol
        Model and inverse metric (see :mod:`kernels.integrators`).
    q, grad : float64[:]
        Current position and gradient (not modified).
    logp : float
        Log density at ``q``.
    epsilon : float
        Starting step size; returned unchanged if it is 0, NaN or above 1e7 (as Stan does).
    rng_state : uint64[4]
        The chain's random stream.
    vec : float64[4, dim] (at least)
        Workspace.

    Returns
    -------
    (float, int)
        The new step size and a status: :data:`STATUS_OK`,
        :data:`STATUS_STEP_SIZE_TOO_LARGE` or :data:`STATUS_STEP_SIZE_ZERO`.
    """
    if epsilon == 0.0 or epsilon > 1e7 or math.isnan(epsilon):
        return epsilon, STATUS_OK
    log_target = math.log(0.8)
    dh = _one_step_delta_h(
        address,
        data_ptr,
        metric_kind,
        inv_diag,
        inv_dense,
        chol,
        q,
        grad,
        logp,
        epsilon,
        rng_state,
        vec,
    )
    direction = 1 if dh > log_target else -1
    while True:
        dh = _one_step_delta_h(
            address,
            data_ptr,
            metric_kind,
            inv_diag,
            inv_dense,
            chol,
            q,
            grad,
            logp,
            epsilon,
            rng_state,
            vec,
        )
        if direction == 1 and not (dh > log_target):
            break
        if direction == -1 and not (dh < log_target):
            break
        epsilon = 2.0 * epsilon if direction == 1 else 0.5 * epsilon
        if epsilon > 1e7:
            return epsilon, STATUS_STEP_SIZE_TOO_LARGE
        if epsilon == 0.0:
            return epsilon, STATUS_STEP_SIZE_ZERO
    return epsilon, STATUS_OK
