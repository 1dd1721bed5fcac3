r"""Hamiltonian dynamics: the :class:`PhasePoint` record and the leapfrog integrator.

The leapfrog (velocity Verlet) step of size :math:`\epsilon` (negative for backward time):
:math:`p \leftarrow p + \tfrac{\epsilon}{2}\nabla\log\pi(q)`,
:math:`q \leftarrow q + \epsilon M^{-1} p`, re-evaluate the model at :math:`q`,
:math:`p \leftarrow p + \tfrac{\epsilon}{2}\nabla\log\pi(q)` (:func:`leapfrog`; Stan Reference
Manual, "Hamiltonian Monte Carlo"; Betancourt 2017, arXiv:1701.02434). The integrator is
symplectic and time-reversible: a step of :math:`-\epsilon` from the result returns to the start
(up to rounding), and its energy error stays bounded on stable trajectories.

A model failure (non-zero status from :func:`kernels.model_abi.evaluate`, which includes a
non-finite log density or gradient) stops the step after the position update; the caller must
treat the new point as having infinite energy.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernels.jit import njit, signature
from kernels.metric import Metric, hamiltonian, sample_momentum, velocity
from kernels.model_abi import Model, evaluate
from kernels.status import MODEL_OK

__all__ = ["PhasePoint", "phase_point", "copy_into", "leapfrog", "draw_momentum",
           "leapfrog_energy"]


class PhasePoint(NamedTuple):
    """A point of phase space with what the leapfrog needs there (each ``float64[dim]``).

    Attributes
    ----------
    q : the position.
    p : the momentum.
    grad : :math:`\\nabla\\log\\pi(q)`, the gradient of the log density (the force).
    p_sharp : :math:`M^{-1}p`, the velocity.
    """

    q: np.ndarray
    p: np.ndarray
    grad: np.ndarray
    p_sharp: np.ndarray


@njit(inline="always")
def phase_point(dim: int) -> PhasePoint:
    """A zero-filled :class:`PhasePoint` in ``dim`` dimensions (scratch; only NumPy inside, so
    its ``py_func`` builds the same record in Python)."""
    return PhasePoint(np.zeros(dim), np.zeros(dim), np.zeros(dim), np.zeros(dim))


@signature(lambda t: (t.vector, t.vector))
@njit(borrow=True)
def copy_into(src: np.ndarray, dst: np.ndarray) -> None:
    """``dst[:] = src`` for vectors, as an explicit loop."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(inline="always", borrow=True)
def leapfrog(model: Model, metric: Metric, z: PhasePoint, epsilon: float) -> tuple[int, float]:
    """One leapfrog step of size ``epsilon`` from ``z``, in place (see the module docstring).

    ``z.q``, ``z.p`` and ``z.grad`` must hold the position, momentum and gradient; on success
    all four fields of ``z`` hold the new point (``z.p_sharp`` = :math:`M^{-1}p` there). A
    negative ``epsilon`` integrates backward in time.

    Returns
    -------
    (int64, float64)
        The model's status at the new position (:data:`kernels.status.MODEL_OK`: finite log
        density and gradient) and the new log density. On failure the second momentum
        half-step and ``z.p_sharp`` are skipped.
    """
    q, p, grad, p_sharp = z
    n = q.shape[0]
    half = 0.5 * epsilon
    for i in range(n):
        p[i] += half * grad[i]
    velocity(metric, p, p_sharp)
    for i in range(n):
        q[i] += epsilon * p_sharp[i]
    status, logp = evaluate(model.address, model.data, q, grad)
    if status != MODEL_OK:
        return status, logp
    for i in range(n):
        p[i] += half * grad[i]
    velocity(metric, p, p_sharp)
    return status, logp


@njit(inline="always")
def draw_momentum(metric: Metric, rng_state: np.ndarray, z: PhasePoint, logp: float) -> float:
    r"""The start of a trajectory at ``z`` (whose position has log density ``logp``): a fresh
    momentum :math:`p \sim N(0, M)` into ``z.p``, :math:`M^{-1}p` into ``z.p_sharp``; returns
    the energy :math:`H_0` there."""
    sample_momentum(metric, rng_state, z.p)
    velocity(metric, z.p, z.p_sharp)
    return hamiltonian(logp, z.p, z.p_sharp)


@njit(inline="always")
def leapfrog_energy(model: Model, metric: Metric, z: PhasePoint,
                    epsilon: float) -> tuple[float, float]:
    r""":func:`leapfrog`, then the energy :math:`h` at the new point: returns ``(logp, h)``, with
    :math:`h = +\infty` where the model failed (the trajectory diverges there)."""
    status, logp = leapfrog(model, metric, z, epsilon)
    h = math.inf
    if status == MODEL_OK:
        h = hamiltonian(logp, z.p, z.p_sharp)
    return logp, h
