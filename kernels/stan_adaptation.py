r"""Stan's warmup: Welford estimates of the mass matrix in a windowed schedule, in one call.

Everything here follows Stan (``stepsize_adaptation.hpp``, ``windowed_adaptation.hpp``,
``var_adaptation.hpp``, ``covar_adaptation.hpp``; Stan Reference
Manual, "HMC algorithm parameters" / "Automatic parameter tuning"), itself based on Hoffman &
Gelman (2014, JMLR 15:1593, section 3.2: Nesterov's dual averaging for the step size) and
Betancourt (2017, arXiv:1701.02434). The step size is tuned by :mod:`kernels.step_size`.

One warmup iteration (:func:`stan_adapt`, Stan's ``adapt_diag_e_nuts::transition``)
    A dual-averaging update of the step size; the draw enters the chain's Welford estimator
    (:class:`Welford`) when the schedule says so; at the end of a slow window the regularised
    variance (or covariance, with its Cholesky factor) becomes the inverse metric, the estimator
    restarts, and the caller searches a new step size and restarts dual averaging from it.

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
    re-initialised with :func:`kernels.step_size.find_reasonable_step_size` and dual averaging
    restarts.

    *Deliberate differences from Stan's C++* (its behaviour there is not the documented one):
    (1) in the 15/75/10 fallback Stan's ``set_window_params`` does not call ``restart()``, so the
    end of the single slow window is never reached and the metric is never updated; here the
    fallback window ends where the terminal buffer starts, as documented (and as NumPyro and
    BlackJAX do). (2) A window that collected no draws leaves the metric unchanged (Stan would
    regularise the old metric to :math:`10^{-3} I`; Stan PR #3037). (3) When no dual-averaging
    update happened since the last restart (``term_buffer = 0``), the final step size stays the
    current one instead of :math:`e^0 = 1` (Stan issue #3023).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from kernels.jit import njit, signature
from kernels.metric import DENSE, Metric, cholesky_lower
from kernels.status import CHAIN_OK, METRIC_NONFINITE, METRIC_NOT_PD
from kernels.step_size import dual_averaging_update

__all__ = [
    "COLLECT",
    "WINDOW_END",
    "Welford",
    "welford_add_diag",
    "welford_add_dense",
    "welford_variance",
    "welford_covariance",
    "regularize_diag",
    "regularize_dense",
    "warmup_schedule",
    "adaptation_windows",
    "update_metric",
    "stan_adapt",
]

#: Schedule flag: add this iteration's draw to the mass-matrix estimator.
COLLECT = 1
#: Schedule flag: a slow window ends after this iteration (mass-matrix update).
WINDOW_END = 2


class Welford(NamedTuple):
    """One chain's running estimate of the draws' (co)variance (Welford's algorithm).

    Attributes
    ----------
    count : float64[1]
        Draws added since the last window end (an array of one, so kernels update it in place).
    mean : float64[dim]
        Their mean.
    m2_diag : float64[dim]
        Sums of squared deviations (diagonal metric).
    m2_dense : float64[dim, dim]
        Sums of outer products of deviations (dense metric; ``(0, 0)`` for a diagonal one).
    """

    count: np.ndarray
    mean: np.ndarray
    m2_diag: np.ndarray
    m2_dense: np.ndarray


# --------------------------------------------------------------------------------------------
# Welford estimators and regularisation
# --------------------------------------------------------------------------------------------


@signature(lambda t: (t.f8, t.vector, t.vector, t.vector))
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
# One warmup iteration
# --------------------------------------------------------------------------------------------


@signature(lambda t: (t.f8, t.welford, t.metric))
@njit
def update_metric(count: float, welford: Welford, metric: Metric) -> int:
    """End of a slow window: the regularised variance (covariance and its Cholesky factor) of
    the window's ``count`` draws becomes the inverse metric; returns a chain status.

    A window that collected no draws leaves the metric unchanged (see the module docstring).
    """
    if count == 0.0:
        return CHAIN_OK
    if metric.kind == DENSE:
        welford_covariance(count, welford.m2_dense, metric.inv_dense)
        if not regularize_dense(metric.inv_dense, count):
            return METRIC_NONFINITE
        if not cholesky_lower(metric.inv_dense, metric.chol):
            return METRIC_NOT_PD
    else:
        welford_variance(count, welford.m2_diag, metric.inv_diag)
        if not regularize_diag(metric.inv_diag, count):
            return METRIC_NONFINITE
    return CHAIN_OK


@njit(inline="always")
def _restart(welford: Welford) -> None:
    welford.count[0] = 0.0
    welford.mean[:] = 0.0
    welford.m2_diag[:] = 0.0
    welford.m2_dense[:] = 0.0


@njit(inline="always")
def stan_adapt(
    flag: int,
    options,
    metric: Metric,
    welford: Welford,
    q: np.ndarray,
    scratch: np.ndarray,
    accept_stat: float,
    step_size: float,
    da: np.ndarray,
) -> tuple[float, bool, int]:
    """Stan's adaptation after one warmup transition that ended at ``q`` (module docstring).

    Parameters
    ----------
    flag : int
        The schedule's flags of this iteration (:data:`COLLECT`, :data:`WINDOW_END`).
    options : kernels.options.DriverOptions
        ``adapt_step_size``, ``adapt_mass_matrix`` and the dual-averaging constants.
    metric, welford
        The chain's inverse metric and estimator, updated in place.
    q, scratch : float64[dim]
        The draw, and a scratch vector.
    accept_stat, step_size : float
        The transition's acceptance statistic and the current nominal step size.
    da : float64[DA_SIZE]
        The chain's dual-averaging state.

    Returns
    -------
    (float, bool, int)
        The nominal step size for the next transition; whether the caller must now search a
        step size and restart dual averaging from it (a window ended); a chain status.
    """
    if options.adapt_step_size:
        step_size = dual_averaging_update(da, accept_stat, options.target_accept_prob,
                                          options.gamma, options.kappa, options.t0)
    if not options.adapt_mass_matrix:
        return step_size, False, CHAIN_OK
    if flag & COLLECT:
        if metric.kind == DENSE:
            welford.count[0] = welford_add_dense(welford.count[0], welford.mean,
                                                 welford.m2_dense, q, scratch)
        else:
            welford.count[0] = welford_add_diag(welford.count[0], welford.mean,
                                                welford.m2_diag, q)
    if flag & WINDOW_END:
        status = update_metric(welford.count[0], welford, metric)
        if status != CHAIN_OK:
            return step_size, False, status
        _restart(welford)
        return step_size, True, CHAIN_OK
    return step_size, False, CHAIN_OK
