r"""The Euclidean metric of Hamiltonian Monte Carlo: the :class:`Metric` record and its operations.

The Hamiltonian is :math:`H(q, p) = -\log \pi(q) + \tfrac12 p^\top M^{-1} p`, with the
*inverse metric* (inverse mass matrix) :math:`M^{-1}` either diagonal or dense (symmetric
positive definite). Momenta are drawn from :math:`N(0, M)`. Following Stan's reference manual
("Hamiltonian Monte Carlo") and Betancourt (2017, "A Conceptual Introduction to Hamiltonian
Monte Carlo", arXiv:1701.02434):

* velocity / "sharp" momentum :math:`p^\sharp = M^{-1} p = \partial K / \partial p`
  (:func:`velocity`);
* kinetic energy :math:`K = \tfrac12 p \cdot p^\sharp` (:func:`kinetic_energy`) and the total
  energy :math:`H` (:func:`hamiltonian`);
* momentum draws: diagonal :math:`p_i = z_i / \sqrt{M^{-1}_{ii}}`; dense
  :math:`p = L^{-\top} z` with :math:`M^{-1} = L L^\top` (Cholesky), so that
  :math:`\mathrm{Cov}(p) = (L L^\top)^{-1} = M` (:func:`sample_momentum`) -- Stan's
  ``diag_e_metric`` / ``dense_e_metric`` recipes.

A third kind, :data:`LOW_RANK`, is a diagonal metric with a low-rank correction (nutpie's
``low_rank_modified_mass_matrix``; estimated by :mod:`kernels.low_rank_adaptation`):

.. math:: M^{-1} = S\,(I + V(\Lambda - I)V^\top)\,S,

with :math:`S = \operatorname{diag}(\sigma)`, :math:`\sigma_i^2` = ``inv_diag``, and orthonormal
eigenvectors :math:`v_r` (rows of ``lr_vecs``) with eigenvalues :math:`\lambda_r` (``lr_vals``).
As the :math:`v_r` are orthonormal, the factors :math:`I + (\lambda_r - 1)v_r v_r^\top` commute
and are applied one after the other in :math:`O(dk)` for rank :math:`k`:
:math:`p^\sharp = S\prod_r(I + (\lambda_r - 1)v_r v_r^\top)S p`, and a momentum
:math:`p = S^{-1}\prod_r(I + (\lambda_r^{-1/2} - 1)v_r v_r^\top) z` has covariance
:math:`S^{-1}(I + V(\Lambda^{-1} - I)V^\top)S^{-1} = M`. The used eigenpairs come first in
``lr_vals``; the first entry equal to 1 (a factor that is the identity) ends them.

A :class:`Metric` carries its kind and always every array (the unused ones may be empty, e.g.
shape ``(0, 0)``), so that a single compiled sampler serves every kind. All loops run in index order with no fast-math, so results
are reproducible bit for bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernels.jit import njit, signature
from kernels.rng import normal_fill

__all__ = [
    "DIAG",
    "DENSE",
    "LOW_RANK",
    "Metric",
    "velocity",
    "kinetic_energy",
    "hamiltonian",
    "sample_momentum",
    "cholesky_lower",
]

#: :attr:`Metric.kind` of a diagonal inverse metric (``inv_diag`` is used).
DIAG = 0
#: :attr:`Metric.kind` of a dense inverse metric (``inv_dense`` and its Cholesky factor are used).
DENSE = 1
#: :attr:`Metric.kind` of a diagonal-plus-low-rank inverse metric (``inv_diag``, ``lr_vecs`` and
#: ``lr_vals`` are used; module docstring).
LOW_RANK = 2

_NO_MATRIX = np.zeros((0, 0))
_NO_VALUES = np.zeros(0)


class Metric(NamedTuple):
    r"""One chain's inverse metric :math:`M^{-1}`.

    Attributes
    ----------
    kind : int
        :data:`DIAG`, :data:`DENSE` or :data:`LOW_RANK`.
    inv_diag : float64[:]
        The diagonal of :math:`M^{-1}` (``kind == DIAG``), or :math:`\sigma^2` (``LOW_RANK``).
    inv_dense : float64[:, :]
        The dense :math:`M^{-1}` (used when ``kind == DENSE``; may be ``(0, 0)`` otherwise).
    chol : float64[:, :]
        Its lower Cholesky factor :math:`L`, :math:`M^{-1} = L L^\top` (dense kind only).
    lr_vecs : float64[:, :]
        ``LOW_RANK``: the eigenvectors :math:`v_r` as rows (empty by default).
    lr_vals : float64[:]
        ``LOW_RANK``: their eigenvalues :math:`\lambda_r`, the used ones first, then ones.
    """

    kind: int
    inv_diag: np.ndarray
    inv_dense: np.ndarray
    chol: np.ndarray
    lr_vecs: np.ndarray = _NO_MATRIX
    lr_vals: np.ndarray = _NO_VALUES


@njit(borrow=True)
def _low_rank_apply(vecs: np.ndarray, vals: np.ndarray, power: float, y: np.ndarray) -> None:
    r"""``y <- prod_r (I + (lambda_r^power - 1) v_r v_r^T) y`` over the used eigenpairs."""
    n = y.shape[0]
    for r in range(vals.shape[0]):
        if vals[r] == 1.0:
            break
        t = 0.0
        for i in range(n):
            t += vecs[r, i] * y[i]
        t *= vals[r] ** power - 1.0
        for i in range(n):
            y[i] += t * vecs[r, i]


@njit(inline="always", borrow=True)
def velocity(metric: Metric, p: np.ndarray, out: np.ndarray) -> None:
    """Compute the sharp momentum :math:`p^\\sharp = M^{-1} p` into ``out``.

    ``out`` must not alias ``p`` for a dense metric.
    """
    # The diagonal product is inlined into the leapfrog; the other kinds are a call that gets
    # only the arrays it reads. Numba passes a record as all of its arrays' fields, so calling
    # a function with the whole Metric cost more than a diagonal product at small dimension.
    if metric.kind == DIAG:
        inv_diag = metric.inv_diag
        for i in range(p.shape[0]):
            out[i] = inv_diag[i] * p[i]
    else:
        _velocity_dense_or_low_rank(metric.kind == DENSE, metric.inv_diag, metric.inv_dense,
                                    metric.lr_vecs, metric.lr_vals, p, out)


@signature(lambda t: (t.boolean, t.row.inv_diag, t.row.inv_dense, t.row.lr_vecs, t.row.lr_vals,
                      t.vector, t.vector))
@njit(borrow=True)
def _velocity_dense_or_low_rank(dense: bool, inv_diag: np.ndarray, inv_dense: np.ndarray,
                                lr_vecs: np.ndarray, lr_vals: np.ndarray, p: np.ndarray,
                                out: np.ndarray) -> None:
    """:func:`velocity` for the ``DENSE`` (``dense``) and ``LOW_RANK`` kinds."""
    n = p.shape[0]
    if dense:
        for i in range(n):
            s = 0.0
            for j in range(n):
                s += inv_dense[i, j] * p[j]
            out[i] = s
    else:
        for i in range(n):
            out[i] = math.sqrt(inv_diag[i]) * p[i]
        _low_rank_apply(lr_vecs, lr_vals, 1.0, out)
        for i in range(n):
            out[i] *= math.sqrt(inv_diag[i])


@njit(inline="always", borrow=True)
def kinetic_energy(p: np.ndarray, p_sharp: np.ndarray) -> float:
    """Kinetic energy :math:`\\tfrac12 p \\cdot p^\\sharp` (``p_sharp`` from :func:`velocity`)."""
    s = 0.0
    for i in range(p.shape[0]):
        s += p[i] * p_sharp[i]
    return 0.5 * s


@njit(inline="always", borrow=True)
def hamiltonian(logp: float, p: np.ndarray, p_sharp: np.ndarray) -> float:
    """Total energy :math:`H = -\\log\\pi(q) + K(p)`; NaN is mapped to ``+inf`` (as Stan does)."""
    h = -logp + kinetic_energy(p, p_sharp)
    if math.isnan(h):
        return math.inf
    return h


@signature(lambda t: (t.metric, t.rng, t.vector))
@njit(borrow=True)
def sample_momentum(metric: Metric, rng_state: np.ndarray, p: np.ndarray) -> None:
    """Draw a momentum :math:`p \\sim N(0, M)` into ``p``.

    ``dim`` standard normals ``z`` are drawn with :func:`kernels.rng.normal_fill` (the stream
    consumption is the same for both kinds); then diagonal: ``p_i = z_i / sqrt(inv_diag_i)``;
    dense: solve :math:`L^\\top p = z` by back substitution with the Cholesky factor ``chol``;
    low rank: the module docstring's product.
    ``rng_state`` (the chain's ``uint64[4]`` stream) is advanced in place.
    """
    normal_fill(rng_state, p)
    n = p.shape[0]
    if metric.kind == DENSE:
        chol = metric.chol
        for i in range(n - 1, -1, -1):
            s = p[i]
            for j in range(i + 1, n):
                s -= chol[j, i] * p[j]
            p[i] = s / chol[i, i]
    elif metric.kind == LOW_RANK:
        _low_rank_apply(metric.lr_vecs, metric.lr_vals, -0.5, p)
        inv_diag = metric.inv_diag
        for i in range(n):
            p[i] = p[i] / math.sqrt(inv_diag[i])
    else:
        inv_diag = metric.inv_diag
        for i in range(n):
            p[i] = p[i] / math.sqrt(inv_diag[i])


@njit(inline="always")
def cholesky_lower(a: np.ndarray, out: np.ndarray) -> bool:
    """Lower Cholesky factor :math:`L` of a symmetric positive definite matrix, ``a = L L^T``.

    Plain Cholesky--Banachiewicz in index order (no pivoting), reading only the lower triangle
    of ``a``; the strict upper triangle of ``out`` is set to zero. ``out`` may not alias ``a``.

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
