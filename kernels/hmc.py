r"""Static-trajectory Hamiltonian Monte Carlo transition and step-size jitter, for one chain.

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
status, non-finite density or gradient) or when :math:`h - H_0` exceeds ``max_delta_h``; the
proposal then has :math:`h = +\infty` (model failure) or its current energy, is rejected with
probability one (:math:`e^{-1000}` underflows to 0) and the transition is flagged
``diverging``. Stan integrates all steps and only rejects; the accepted state and the stream
consumption are the same except in that degenerate case.

Statistics: ``accept_stat`` = :math:`\min(1, e^{H_0 - h})`, ``n_steps`` = leapfrogs taken,
``diverging``, ``energy`` = :math:`H` of the kept state, ``energy_error`` = :math:`h - H_0` of
the *proposal* (whether accepted or not), ``max_energy_error`` = signed :math:`h_i - H_0` of
largest magnitude along the trajectory.

Step-size jitter (Stan's ``sample_stepsize``): :func:`jitter_step_size` returns
:math:`\epsilon_{nom} (1 + j (2u - 1))` and draws ``u`` only when ``j != 0``. It is used by the
driver for both HMC and NUTS transitions.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.integrators import hamiltonian, leapfrog, sample_momentum, velocity
from kernels.jit import njit
from kernels.rng import uniform

__all__ = ["hmc_workspace", "hmc_transition", "jitter_step_size", "steps_for_length", "N_VEC"]

_Q, _P, _G, _PS = 0, 1, 2, 3
#: Rows of the static-HMC vector workspace (shape ``(N_VEC, dim)``).
N_VEC = 4


def hmc_workspace(dim: int) -> np.ndarray:
    """Allocate the ``(N_VEC, dim)`` scratch array of :func:`hmc_transition`."""
    return np.zeros((N_VEC, dim))


@njit(inline="always")
def jitter_step_size(nominal: float, jitter: float, rng_state: np.ndarray) -> float:
    """Stan's step-size jitter: ``nominal * (1 + jitter * (2u - 1))``; no draw if ``jitter == 0``.

    Parameters
    ----------
    nominal : float
        The nominal (adapted) step size.
    jitter : float
        Relative jitter in ``[0, 1]``.
    rng_state : uint64[4]
        The chain's random stream (advanced only when ``jitter != 0``).

    Returns
    -------
    float
        The step size for this transition.
    """
    if jitter == 0.0:
        return nominal
    return nominal * (1.0 + jitter * (2.0 * uniform(rng_state) - 1.0))


@njit(inline="always")
def steps_for_length(trajectory_length: float, nominal: float) -> int:
    """Stan's ``update_L_``: ``max(1, int(trajectory_length / nominal))``."""
    n = trajectory_length / nominal
    if not (n >= 1.0):
        return 1
    if n > 2.0**62:
        return 1 << 62
    return int(n)


@njit
def _copy(src: np.ndarray, dst: np.ndarray) -> None:
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit
def hmc_transition(
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
    n_steps: int,
    max_delta_h: float,
    rng_state: np.ndarray,
    vec: np.ndarray,
) -> tuple[float, float, int, bool, float, float, float]:
    """One static HMC transition with Metropolis correction (see module docstring).

    Parameters
    ----------
    address, data_ptr : int64
        The model (see :mod:`kernels.model_abi`).
    metric_kind, inv_diag, inv_dense, chol
        The inverse metric (see :mod:`kernels.integrators`).
    q, grad : float64[:]
        Current position and log-density gradient; overwritten if the proposal is accepted.
    logp : float
        Log density at ``q`` (finite).
    epsilon : float
        Step size.
    n_steps : int
        Number of leapfrog steps (at least 1).
    max_delta_h : float
        Divergence threshold on :math:`h - H_0` (Stan: 1000).
    rng_state : uint64[4]
        The chain's random stream.
    vec : float64[N_VEC, dim]
        Workspace from :func:`hmc_workspace`.

    Returns
    -------
    tuple
        ``(logp, accept_stat, n_leapfrog, diverging, energy, energy_error, max_energy_error)``.
    """
    qn = vec[_Q]
    p = vec[_P]
    gn = vec[_G]
    ps = vec[_PS]
    sample_momentum(metric_kind, inv_diag, chol, rng_state, p)
    velocity(metric_kind, inv_diag, inv_dense, p, ps)
    H0 = hamiltonian(logp, p, ps)
    _copy(q, qn)
    _copy(grad, gn)
    h = H0
    logp_new = logp
    max_err = 0.0
    diverging = False
    taken = 0
    for _ in range(n_steps):
        status, logp_new = leapfrog(
            address, data_ptr, metric_kind, inv_diag, inv_dense, qn, p, gn, ps, epsilon
        )
        taken += 1
        h = math.inf
        if status == 0:
            h = hamiltonian(logp_new, p, ps)
        err = h - H0
        if abs(err) > abs(max_err):
            max_err = err
        if err > max_delta_h:
            diverging = True
            break
    accept_prob = math.exp(H0 - h)
    accept = True
    if accept_prob < 1.0 and uniform(rng_state) > accept_prob:
        accept = False
    if diverging or not math.isfinite(h):
        accept = False  # also when u == 0.0 exactly, where Stan's rule would accept
    if accept:
        _copy(qn, q)
        _copy(gn, grad)
        energy = h
        logp_out = logp_new
    else:
        energy = H0
        logp_out = logp
    return (
        logp_out,
        min(1.0, accept_prob),
        taken,
        diverging,
        energy,
        h - H0,
        max_err,
    )
