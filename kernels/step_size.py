r"""The step size: dual averaging, Stan's search for a reasonable step size, and jitter.

Both warmups (Stan's, :mod:`kernels.stan_adaptation`, and nutpie's,
:mod:`kernels.fisher_adaptation`) tune the step size the same way, following Stan
(``stepsize_adaptation.hpp``, ``base_hmc::init_stepsize``) and Hoffman & Gelman (2014, JMLR
15:1593, section 3.2: Nesterov's dual averaging).

Dual averaging (one chain's ``dual_averaging`` row: ``[counter, s_bar, x_bar, mu]``)
    :func:`dual_averaging_update` does, with adaptation statistic :math:`a` capped at 1,
    ``counter += 1``; :math:`\eta = 1/(\text{counter} + t_0)`;
    :math:`\bar s \leftarrow (1-\eta)\bar s + \eta(\delta - a)`;
    :math:`x = \mu - \bar s\sqrt{\text{counter}}/\gamma`;
    :math:`\bar x \leftarrow (1 - \text{counter}^{-\kappa})\bar x + \text{counter}^{-\kappa} x`;
    returns :math:`\epsilon = e^x`. Stan's constants: :math:`\delta = 0.8`, :math:`\gamma = 0.05`,
    :math:`\kappa = 0.75`, :math:`t_0 = 10`. :func:`dual_averaging_init` sets
    :math:`\mu = \log(10\,\epsilon)` and restarts (``counter = s_bar = x_bar = 0``); at the end
    of warmup the step size becomes :math:`e^{\bar x}` (:func:`dual_averaging_final`).

A reasonable step size (:func:`find_reasonable_step_size`, Stan's ``init_stepsize``)
    From the current point: draw a momentum, take one leapfrog step, :math:`\Delta = H_0 - h`;
    direction = up if :math:`\Delta > \log 0.8` else down. Then repeat: fresh momentum, one
    step with the current :math:`\epsilon`; stop once :math:`\Delta` has crossed
    :math:`\log 0.8`, otherwise double (up) or halve (down) :math:`\epsilon`. Fails when
    :math:`\epsilon > 10^7` (improper posterior) or :math:`\epsilon = 0`. The sampler's driver
    calls it by address (:mod:`kernels.entries`).

Jitter (:func:`jitter_step_size`, Stan's ``sample_stepsize``)
    :math:`\epsilon_{nom} (1 + j (2u - 1))`, drawing ``u`` only when ``j != 0``.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.integrators import PhasePoint, copy_into, draw_momentum, leapfrog_energy
from kernels.jit import njit, signature
from kernels.metric import Metric
from kernels.model_abi import Model
from kernels.rng import uniform
from kernels.status import CHAIN_OK, STEP_SIZE_TOO_LARGE, STEP_SIZE_ZERO

__all__ = [
    "DA_SIZE",
    "DA_COUNTER",
    "DA_S_BAR",
    "DA_X_BAR",
    "DA_MU",
    "dual_averaging_init",
    "dual_averaging_restart",
    "dual_averaging_update",
    "dual_averaging_final",
    "find_reasonable_step_size",
    "jitter_step_size",
]

#: Length of one chain's dual-averaging row.
DA_SIZE = 4
#: Index of the number of updates since the last restart.
DA_COUNTER = 0
#: Index of :math:`\bar s`, the running average of ``delta - accept_stat``.
DA_S_BAR = 1
#: Index of :math:`\bar x`, the averaged log step size.
DA_X_BAR = 2
#: Index of :math:`\mu`, the shrinkage target of :math:`\log\epsilon`.
DA_MU = 3


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


@signature(lambda t: (t.row.dual_averaging, t.f8, t.f8, t.f8, t.f8, t.f8))
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
# A reasonable step size
# --------------------------------------------------------------------------------------------


@njit(borrow=True)
def _one_step_energy_change(
    model: Model,
    metric: Metric,
    q: np.ndarray,
    grad: np.ndarray,
    logp: float,
    epsilon: float,
    rng_state: np.ndarray,
    z: PhasePoint,
) -> float:
    """Fresh momentum, one leapfrog step from ``(q, grad)`` in the scratch ``z``; returns
    :math:`H_0 - h`."""
    copy_into(q, z.q)
    copy_into(grad, z.grad)
    H0 = draw_momentum(metric, rng_state, z, logp)
    _, h = leapfrog_energy(model, metric, z, epsilon)
    return H0 - h


@signature(lambda t: (t.model, t.metric, t.vector, t.vector, t.f8, t.f8, t.rng, t.phase_point),
           result=lambda t: t.step_size_search)
@njit(borrow=True)
def find_reasonable_step_size(
    model: Model,
    metric: Metric,
    q: np.ndarray,
    grad: np.ndarray,
    logp: float,
    epsilon: float,
    rng_state: np.ndarray,
    z: PhasePoint,
) -> tuple[float, int]:
    """Stan's step-size heuristic (``init_stepsize``) from the point ``(q, grad, logp)``.

    Parameters
    ----------
    model, metric
        The model and the chain's inverse metric.
    q, grad : float64[:]
        Current position and gradient (not modified).
    logp : float
        Log density at ``q``.
    epsilon : float
        Starting step size; returned unchanged if it is 0, NaN or above 1e7 (as Stan does).
    rng_state : uint64[4]
        The chain's random stream.
    z : PhasePoint
        Scratch.

    Returns
    -------
    (float, int)
        The new step size and a chain status: :data:`kernels.status.CHAIN_OK`,
        :data:`~kernels.status.STEP_SIZE_TOO_LARGE` or :data:`~kernels.status.STEP_SIZE_ZERO`.
    """
    if epsilon == 0.0 or epsilon > 1e7 or math.isnan(epsilon):
        return epsilon, CHAIN_OK
    log_target = math.log(0.8)
    direction = 0  # decided by the first step, taken with the starting step size
    while True:
        dh = _one_step_energy_change(model, metric, q, grad, logp, epsilon, rng_state, z)
        if direction == 0:
            direction = 1 if dh > log_target else -1
            continue
        if direction == 1 and not (dh > log_target):
            break
        if direction == -1 and not (dh < log_target):
            break
        epsilon = 2.0 * epsilon if direction == 1 else 0.5 * epsilon
        if epsilon > 1e7:
            return epsilon, STEP_SIZE_TOO_LARGE
        if epsilon == 0.0:
            return epsilon, STEP_SIZE_ZERO
    return epsilon, CHAIN_OK


@njit(inline="always")
def jitter_step_size(nominal: float, jitter: float, rng_state: np.ndarray) -> float:
    """Stan's step-size jitter: ``nominal * (1 + jitter * (2u - 1))``; no draw if ``jitter == 0``.

    ``jitter`` is the relative jitter in ``[0, 1]``; ``rng_state`` (the chain's stream) is
    advanced only when it is not 0.
    """
    if jitter == 0.0:
        return nominal
    return nominal * (1.0 + jitter * (2.0 * uniform(rng_state) - 1.0))
