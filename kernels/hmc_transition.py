r"""Static-trajectory Hamiltonian Monte Carlo transition, for one chain.

Stan's ``base_static_hmc::transition`` (Stan Reference Manual, "Hamiltonian Monte Carlo
Sampling"; Neal 2011, "MCMC using Hamiltonian dynamics"; Betancourt 2017, arXiv:1701.02434):

1. draw :math:`p \sim N(0, M)`, :math:`H_0 = H(q, p)`;
2. integrate ``n_steps`` leapfrog steps of size :math:`\epsilon`;
3. accept the end point with probability :math:`\min(1, e^{H_0 - h})`: one uniform ``u`` is
   drawn **only** when that probability is below 1, and the proposal is rejected iff
   ``u > min(1, e^{H_0 - h})`` (Stan's rule and random-stream consumption).

The number of steps is either fixed or derived from a trajectory length ``T`` as in Stan's
``update_L_``: ``n_steps = max(1, int(T / nominal_epsilon))`` (:func:`steps_for_length`).

Deviation from Stan, for robustness: integration stops early when the model fails (non-zero
status, non-finite density or gradient) or when :math:`h - H_0` exceeds ``max_energy_error``; the
proposal then has :math:`h = +\infty` (model failure) or its current energy, is rejected with
probability one (:math:`e^{-1000}` underflows to 0) and the transition is flagged
``diverging``. Stan integrates all steps and only rejects; the accepted state and the stream
consumption are the same except in that degenerate case.

Statistics (a :class:`kernels.state.TransitionStats`; ``tree_depth`` is 0):
``acceptance_rate`` = :math:`\min(1, e^{H_0 - h})`, ``n_steps`` = leapfrogs taken,
``diverging``, ``energy`` = :math:`H` of the kept state, ``energy_error`` = :math:`h - H_0` of
the *proposal* (whether accepted or not), ``max_energy_error`` = signed :math:`h_i - H_0` of
largest magnitude along the trajectory.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.integrators import PhasePoint, copy_into, draw_momentum, leapfrog_energy
from kernels.jit import njit, signature
from kernels.metric import Metric
from kernels.model_abi import Model
from kernels.rng import uniform
from kernels.state import TransitionStats

__all__ = ["hmc_transition", "steps_for_length"]


@njit(inline="always")
def steps_for_length(trajectory_length: float, nominal: float) -> int:
    """Stan's ``update_L_``: ``max(1, int(trajectory_length / nominal))``."""
    n = trajectory_length / nominal
    if not (n >= 1.0):
        return 1
    if n > 2.0**62:
        return 1 << 62
    return int(n)


@signature(lambda t: (t.model, t.metric, t.vector, t.vector, t.f8, t.f8, t.i8, t.f8, t.rng,
                      t.phase_point),
           result=lambda t: t.transition_stats)
@njit(borrow=True)
def hmc_transition(
    model: Model,
    metric: Metric,
    q: np.ndarray,
    grad: np.ndarray,
    logp: float,
    epsilon: float,
    num_steps: int,
    max_energy_error: float,
    rng_state: np.ndarray,
    z: PhasePoint,
) -> TransitionStats:
    """One static HMC transition with Metropolis correction (see module docstring).

    Parameters
    ----------
    model, metric
        The model and the chain's inverse metric.
    q, grad : float64[:]
        Current position and log-density gradient; overwritten if the proposal is accepted.
    logp : float
        Log density at ``q`` (finite).
    epsilon : float
        Step size.
    num_steps : int
        Number of leapfrog steps (at least 1).
    max_energy_error : float
        Divergence threshold on :math:`h - H_0` (Stan: 1000).
    rng_state : uint64[4]
        The chain's random stream.
    z : PhasePoint
        Scratch.

    Returns
    -------
    TransitionStats
    """
    H0 = draw_momentum(metric, rng_state, z, logp)
    copy_into(q, z.q)
    copy_into(grad, z.grad)
    h = H0
    logp_new = logp
    max_err = 0.0
    diverging = False
    taken = 0
    for _ in range(num_steps):
        logp_new, h = leapfrog_energy(model, metric, z, epsilon)
        taken += 1
        err = h - H0
        if abs(err) > abs(max_err):
            max_err = err
        if err > max_energy_error:
            diverging = True
            break
    accept_prob = math.exp(H0 - h)
    accept = True
    if accept_prob < 1.0 and uniform(rng_state) > accept_prob:
        accept = False
    if diverging or not math.isfinite(h):
        accept = False  # also when u == 0.0 exactly, where Stan's rule would accept
    if accept:
        copy_into(z.q, q)
        copy_into(z.grad, grad)
        energy = h
        logp_out = logp_new
    else:
        energy = H0
        logp_out = logp
    return TransitionStats(logp_out, min(1.0, accept_prob), np.int64(0), taken, diverging,
                           energy, h - H0, max_err)
