r"""Euclidean-metric Hamiltonian dynamics: metric operations and the leapfrog integrator.

The Hamiltonian is :math:`H(q, p) = -\log \pi(q) + \tfrac12 p^\top M^{-1} p`, with the
*inverse metric* :math:`M^{-1}` either diagonal (``inv_diag``, shape ``(dim,)``) or dense
(``inv_dense``, shape ``(dim, dim)``, symmetric positive definite). Momenta are drawn from
:math:`N(0, M)`. Following Stan's reference manual ("Hamiltonian Monte Carlo") and Betancourt
(2017, "A Conceptual Introduction to Hamiltonian Monte Carlo", arXiv:1701.02434):

* velocity / "sharp" momentum :math:`p^\sharp = M^{-1} p = \partial K / \partial p`
  (:func:`velocity`);
* kinetic energy :math:`K = \tfrac12 p \cdot p^\sharp` (:func:`kinetic_energy`);
* momentum draws: diagonal :math:`p_i = z_i / \sqrt{M^{-1}_{ii}}`; dense
  :math:`p = L^{-\top} z` with :math:`M^{-1} = L L^\top` (Cholesky), so that
  :math:`\mathrm{Cov}(p) = (L L^\top)^{-1} = M` (:func:`sample_momentum`) -- Stan's
  ``diag_e_metric`` / ``dense_e_metric`` recipes;
* the leapfrog (velocity Verlet) step of size :math:`\epsilon` (negative for backward time):
  :math:`p \leftarrow p + \tfrac{\epsilon}{2}\nabla\log\pi(q)`,
  :math:`q \leftarrow q + \epsilon M^{-1} p`, re-evaluate the model at :math:`q`,
  :math:`p \leftarrow p + \tfrac{\epsilon}{2}\nabla\log\pi(q)` (:func:`leapfrog`). The
  integrator is symplectic and time-reversible: a step of :math:`-\epsilon` from the result
  returns to the start (up to rounding), and its energy error stays bounded on stable
  trajectories.

A metric is selected at run time by ``metric_kind`` (:data:`DIAG` or :data:`DENSE`); both
arrays are always passed (the unused one may be empty, e.g. shape ``(0, 0)``) so that a single
compiled sampler serves both metrics. All loops run in index order with no fast-math, so results
are reproducible bit for bit.

A model failure (non-zero status from :func:`kernels.model_abi.evaluate`, which includes
non-finite log density or gradient) stops the step after the position update; the caller must
treat the new point as having infinite energy.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.jit import njit
from kernels.model_abi import evaluate
from kernels.rng import normal_fill

__all__ = [
    "DIAG",
    "DENSE",
    "velocity",
    "kinetic_energy",
    "sample_momentum",
    "cholesky_lower",
    "leapfrog",
    "leapfrog_diag",
    "leapfrog_dense",
    "hamiltonian",
]

#: ``metric_kind`` code of a diagonal inverse metric (``inv_diag`` is used).
DIAG = 0
#: ``metric_kind`` code of a dense inverse metric (``inv_dense`` and its Cholesky are used).
DENSE = 1


@njit
def velocity(
    metric_kind: int, inv_diag: np.ndarray, inv_dense: np.ndarray, p: np.ndarray, out: np.ndarray
) -> None:
    """Compute the sharp momentum :math:`p^\\sharp = M^{-1} p` into ``out``.

    Parameters
    ----------
    metric_kind : int
        :data:`DIAG` or :data:`DENSE`.
    inv_diag : float64[:]
        Diagonal of the inverse metric (used when ``metric_kind == DIAG``).
    inv_dense : float64[:, :]
        Dense inverse metric (used when ``metric_kind == DENSE``).
    p : float64[:]
        Momentum.
    out : float64[:]
        Receives :math:`M^{-1}p` (must not alias ``p`` for the dense metric).
    """
    n = p.shape[0]
    if metric_kind == DENSE:
        for i in range(n):
            s = 0.0
            for j in range(n):
                s += inv_dense[i, j] * p[j]
            out[i] = s
    else:
        for i in range(n):
            out[i] = inv_diag[i] * p[i]


@njit
def kinetic_energy(p: np.ndarray, p_sharp: np.ndarray) -> float:
    """Kinetic energy :math:`\\tfrac12 p \\cdot p^\\sharp` (``p_sharp`` from :func:`velocity`)."""
    s = 0.0
    for i in range(p.shape[0]):
        s += p[i] * p_sharp[i]
    return 0.5 * s


@njit
def hamiltonian(logp: float, p: np.ndarray, p_sharp: np.ndarray) -> float:
    """Total energy :math:`H = -\\log\\pi(q) + K(p)`; NaN is mapped to ``+inf`` (as Stan does)."""
    h = -logp + kinetic_energy(p, p_sharp)
    if math.isnan(h):
        return math.inf
    return h


@njit
def sample_momentum(
    metric_kind: int,
    inv_diag: np.ndarray,
    chol: np.ndarray,
    rng_state: np.ndarray,
    p: np.ndarray,
) -> None:
    """Draw a momentum :math:`p \\sim N(0, M)` into ``p``.

    ``dim`` standard normals ``z`` are drawn with :func:`kernels.rng.normal_fill` (the stream
    consumption is the same for both metrics); then diagonal: ``p_i = z_i / sqrt(inv_diag_i)``;
    dense: solve :math:`L^\\top p = z` by back substitution, where ``chol`` holds the lower
    Cholesky factor :math:`L` of the inverse metric.

    Parameters
    ----------
    metric_kind : int
        :data:`DIAG` or :data:`DENSE`.
    inv_diag : float64[:]
        Diagonal inverse metric (diagonal case).
    chol : float64[:, :]
        Lower Cholesky factor of the dense inverse metric (dense case).
    rng_state : uint64[4]
        The chain's random stream, advanced in place.
    p : float64[:]
        Output momentum.
    """
    normal_fill(rng_state, p)
    n = p.shape[0]
    if metric_kind == DENSE:
        for i in range(n - 1, -1, -1):
            s = p[i]
            for j in range(i + 1, n):
                s -= chol[j, i] * p[j]
            p[i] = s / chol[i, i]
    else:
        for i in range(n):
            p[i] = p[i] / math.sqrt(inv_diag[i])


@njit(inline="always")
def cholesky_lower(a: np.ndarray, out: np.ndarray) -> bool:
    """Lower Cholesky factor :math:`L` of a symmetric positive definite matrix, ``a = L L^T``.

    Plain Cholesky--Banachiewicz in index order (no pivoting), reading only the lower triangle
    of ``a``; the strict upper triangle of ``out`` is set to zero.

    Parameters
    ----------
    a : float64[:, :]
        Symmetric positive definite matrix.
    out : float64[:, :]
        Receives :math:`L` (may not alias ``a``).

    Returns
    -------
    bool
        ``False`` if a pivot is not strictly positive and finite (``a`` is not numerically
        positive definite); ``out`` is then incomplete.
    """
    n = a.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = 0.0
        for j in range(i + 1):
            s = a[i, j]
            for k in range(j):
                s -= out[i, k] * out[j, k]
            if i == j:
                if not (s > 0.0) or not math.isfinite(s):
                    return False
                out[i, i] = math.sqrt(s)
            else:
                out[i, j] = s / out[j, j]
    return True


@njit
def leapfrog(
    address: int,
    data_ptr: int,
    metric_kind: int,
    inv_diag: np.ndarray,
    inv_dense: np.ndarray,
    q: np.ndarray,
    p: np.ndarray,
    grad: np.ndarray,
    p_sharp: np.ndarray,
    epsilon: float,
) -> tuple[int, float]:
    """One leapfrog (velocity Verlet) step of size ``epsilon``, in place.

    ``p += eps/2 * grad``; ``q += eps * M^{-1} p``; evaluate the model at ``q`` (writing
    ``grad``); ``p += eps/2 * grad``; finally ``p_sharp = M^{-1} p`` for the new momentum.
    A negative ``epsilon`` integrates backward in time. ``grad`` is the gradient of the *log
    density* (the force), not of the potential energy.

    Parameters
    ----------
    address, data_ptr : int64
        The model (see :mod:`kernels.model_abi`).
    metric_kind, inv_diag, inv_dense
        The inverse metric (see :func:`velocity`).
    q, p, grad : float64[:]
        Position, momentum and log-density gradient at ``q``; all updated in place.
    p_sharp : float64[:]
        Work vector; on success receives :math:`M^{-1}p` at the new state.
    epsilon : float
        Step size (signed).

    Returns
    -------
    (int64, float64)
        Model status at the new position (0 = finite log density and gradient) and the new log
        density. On failure the second momentum half-step and ``p_sharp`` are skipped.
    """
    n = q.shape[0]
    half = 0.5 * epsilon
    for i in range(n):
        p[i] += half * grad[i]
    velocity(metric_kind, inv_diag, inv_dense, p, p_sharp)
    for i in range(n):
        q[i] += epsilon * p_sharp[i]
    status, logp = evaluate(address, data_ptr, q, grad)
    if status != 0:
        return status, logp
    for i in range(n):
        p[i] += half * grad[i]
    velocity(metric_kind, inv_diag, inv_dense, p, p_sharp)
    return status, logp


@njit
def leapfrog_diag(
    address: int,
    data_ptr: int,
    inv_diag: np.ndarray,
    q: np.ndarray,
    p: np.ndarray,
    grad: np.ndarray,
    p_sharp: np.ndarray,
    epsilon: float,
) -> tuple[int, float]:
    """:func:`leapfrog` with a diagonal inverse metric ``inv_diag`` (shape ``(dim,)``)."""
    empty = np.empty((0, 0))
    return leapfrog(address, data_ptr, DIAG, inv_diag, empty, q, p, grad, p_sharp, epsilon)


@njit
def leapfrog_dense(
    address: int,
    data_ptr: int,
    inv_dense: np.ndarray,
    q: np.ndarray,
    p: np.ndarray,
    grad: np.ndarray,
    p_sharp: np.ndarray,
    epsilon: float,
) -> tuple[int, float]:
    """:func:`leapfrog` with a dense inverse metric ``inv_dense`` (shape ``(dim, dim)``)."""
    empty = np.empty(0)
    return leapfrog(address, data_ptr, DENSE, empty, inv_dense, q, p, grad, p_sharp, epsilon)
