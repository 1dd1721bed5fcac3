r"""nutpie's low-rank modified mass matrix: a diagonal Fisher metric with a low-rank correction.

The metric (:data:`kernels.metric.LOW_RANK`) is
:math:`M^{-1} = S(I + V(\Lambda - I)V^\top)S`, :math:`S = \operatorname{diag}(\sigma)`, estimated
during warmup from the draws :math:`x` and their scores :math:`s = \nabla\log\pi(x)` of the
current foreground window, the algorithm of nuts-rs ``src/transform/adapt/low_rank.rs``
(``pymc-devs/nuts-rs`` @5332136; Seyboldt, Carlson & Carpenter 2026, section on the low-rank
estimator), written here from its description:

1. the diagonal: :math:`\sigma_i^2 = \sqrt{\operatorname{Var}[x_i]/\operatorname{Var}[s_i]}`
   (:func:`kernels.fisher_adaptation.fisher_inv_metric`);
2. in the scaled coordinates :math:`\tilde x = S^{-1}(x - \bar x)`,
   :math:`\tilde s = S(s - \bar s)`, the regularised scatter matrices
   :math:`C_x = \gamma^{-1}\sum \tilde x\tilde x^\top + I` and
   :math:`C_s = \gamma^{-1}\sum \tilde s\tilde s^\top + I` (:math:`\gamma` = 1e-5; a direction
   the draws do not span gets the identity in both);
3. the minimiser of the Fisher divergence among Gaussians with covariance :math:`A`: the SPD
   solution of :math:`A C_s A = C_x`, the geometric mean
   :math:`A = C_s^{-1/2}(C_s^{1/2} C_x C_s^{1/2})^{1/2} C_s^{-1/2}`
   (:func:`spd_geometric_mean`; for a Gaussian target it is the covariance);
4. the eigenpairs of :math:`A` with eigenvalue above ``cutoff`` (2) or below ``1/cutoff`` become
   :math:`V, \Lambda` (the others are treated as 1).

Outside the span of the scaled draws and scores both :math:`C` are the identity, and so is
:math:`A`; as nuts-rs does, steps 2-4 run in that subspace (dimension at most twice the number
of draws), on an orthonormal basis of it. This is not only cheaper: over all :math:`d`
dimensions the geometric mean's eigenvalues near 1 drown in the rounding of eigenvalues up to
:math:`10^{15}` (negative eigenvalues of :math:`A` with 60 draws in 500 dimensions), which
lost the low-rank part. The scatter matrices are accumulated draw by draw (a dense Welford sum
per estimator, :math:`O(d^2)` per warmup draw), so that no buffer of draws is kept and the state
is a fixed set of arrays (:mod:`kernels.state`: ``lr_scatter``); the span is read from their
eigenvectors, and the geometric mean is computed from factors of the :math:`C`
(:func:`factored_geometric_mean`).

The warmup follows nutpie's schedule (:func:`kernels.fisher_adaptation.fisher_schedule`:
foreground and background estimators, switches) and its step-size handling; the metric is
recomputed at every switch and every ``update_freq`` (20, nuts-rs' default for this metric)
iterations (:data:`UPDATE` flags of :func:`low_rank_schedule`), as the eigendecompositions cost
:math:`O(d^3)`.

References
----------
Seyboldt, A., Carlson, E. and Carpenter, B. (2026). Preconditioning Hamiltonian Monte Carlo by
minimizing Fisher divergence. arXiv:2603.18845.

nuts-rs, https://github.com/pymc-devs/nuts-rs (``src/transform/adapt/low_rank.rs``,
``src/adapt_strategy.rs``).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.fisher_adaptation import (
    BG_COUNT,
    BG_G_MEAN,
    BG_Q_MEAN,
    FG_COUNT,
    FG_G_MEAN,
    FG_Q_MEAN,
    FISHER_MIN_COUNT,
    SWITCH,
    fisher_inv_metric,
    fisher_schedule,
    fisher_switch,
)
from kernels.jit import njit, signature
from kernels.stan_adaptation import COLLECT, welford_add_dense

__all__ = [
    "UPDATE",
    "LR_N_SCATTER",
    "LOW_RANK_GAMMA",
    "LOW_RANK_CUTOFF",
    "low_rank_schedule",
    "spd_geometric_mean",
    "factored_geometric_mean",
    "low_rank_estimate",
    "low_rank_collect",
]

#: Schedule flag: recompute the low-rank metric after this iteration.
UPDATE = 8
#: Number of scatter matrices per chain: draws and scores of the foreground, then background.
LR_N_SCATTER = 4
FG_Q, FG_G, BG_Q, BG_G = 0, 1, 2, 3
#: Regularisation :math:`\gamma` of the scatter matrices (nuts-rs ``gamma``).
LOW_RANK_GAMMA = 1e-5
#: Eigenvalues in ``(1/cutoff, cutoff)`` are dropped (nuts-rs ``eigval_cutoff``).
LOW_RANK_CUTOFF = 2.0


def low_rank_schedule(num_warmup: int, update_freq: int = 20, **fisher_options) -> np.ndarray:
    """:func:`kernels.fisher_adaptation.fisher_schedule` with :data:`UPDATE` flags: at every
    switch, and on a collecting iteration ``update_freq`` iterations after the previous update.

    Examples
    --------
    >>> s = low_rank_schedule(1000)
    >>> [int(i) for i in np.flatnonzero(s & UPDATE)][:4], int(np.count_nonzero(s & UPDATE))
    ([8, 18, 28, 38], 57)
    """
    if int(update_freq) < 1:
        raise ValueError(f"update_freq must be >= 1, got {update_freq!r}")
    schedule = fisher_schedule(num_warmup, **fisher_options)
    last = -1
    for i in range(schedule.shape[0]):
        if not schedule[i] & COLLECT:
            continue
        if schedule[i] & SWITCH or i - last >= update_freq:
            schedule[i] |= UPDATE
            last = i
    return schedule


@njit
def _sqrt_and_inv_sqrt(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # a = U diag(w) U^T symmetric positive definite: (U w^1/2 U^T, U w^-1/2 U^T)
    w, u = np.linalg.eigh(a)
    w = np.maximum(w, 1e-300)
    root = (u * np.sqrt(w)) @ u.T
    inv_root = (u / np.sqrt(w)) @ u.T
    return root, inv_root


@njit
def spd_geometric_mean(c_x: np.ndarray, c_s: np.ndarray) -> np.ndarray:
    r"""The SPD solution :math:`A` of :math:`A C_s A = C_x` (both SPD):
    :math:`A = C_s^{-1/2}(C_s^{1/2}C_xC_s^{1/2})^{1/2}C_s^{-1/2}`.

    Examples
    --------
    >>> import numpy as np
    >>> a = spd_geometric_mean(np.diag([1.0, 4.0, 8.0]), np.diag([1.0, 1.0, 0.5]))
    >>> np.round(np.diag(a), 12).tolist()
    [1.0, 2.0, 4.0]
    """
    root_s, inv_root_s = _sqrt_and_inv_sqrt(c_s)
    m = root_s @ c_x @ root_s
    m = 0.5 * (m + m.T)
    root_m, _ = _sqrt_and_inv_sqrt(m)
    return inv_root_s @ root_m @ inv_root_s


#: Directions of a scaled scatter matrix (divided by :math:`\gamma`) with a smaller eigenvalue
#: change :math:`C` by less than 0.1 % and are left out of the subspace (the rounding floor of
#: the eigenvalues, :math:`10^{-16} d\,\lambda_{max}`, lies far below it).
_SUBSPACE_TOL = 1e-3


@njit
def _range_factor(scatter: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # scatter = V W V^T: the eigenvectors whose eigenvalue passes _SUBSPACE_TOL (an orthonormal
    # basis of the draws' span) and the factor F = V W^1/2 (F F^T = scatter on that span)
    w, v = np.linalg.eigh(scatter)
    floor = max(_SUBSPACE_TOL, 1e-12 * w[-1])
    r = 0
    for k in range(w.shape[0]):
        if w[k] > floor:
            r += 1
    d = scatter.shape[0]
    basis = np.empty((d, r))
    factor = np.empty((d, r))
    j = 0
    for k in range(w.shape[0]):
        if w[k] > floor:
            for i in range(d):
                basis[i, j] = v[i, k]
                factor[i, j] = v[i, k] * math.sqrt(w[k])
            j += 1
    return basis, factor


@njit
def factored_geometric_mean(f_x: np.ndarray, f_s: np.ndarray) -> np.ndarray:
    r"""The SPD solution :math:`A` of :math:`A C_s A = C_x` for :math:`C_x = I + F_xF_x^\top`,
    :math:`C_s = I + F_sF_s^\top` (:math:`k \times k`), from singular value decompositions of
    the factors, not of the :math:`C` (which :func:`spd_geometric_mean` takes).

    With :math:`\gamma = 10^{-5}` the eigenvalues of :math:`C_s^{1/2}C_xC_s^{1/2}` span
    :math:`1` to :math:`10^{15}` and more; a symmetric eigensolver resolves them only to
    :math:`10^{-16}` of the largest, so the small ones -- and with them the directions the draws
    barely reach -- come out wrong, even negative. Here
    :math:`C_s^{\pm 1/2} = I + U_s((1 + s^2)^{\pm 1/2} - 1)U_s^\top` from the SVD
    :math:`F_s = U_s\operatorname{diag}(s)V_s^\top`, and the square root of
    :math:`M = C_s^{1/2}C_xC_s^{1/2} = GG^\top`, :math:`G = [C_s^{1/2}, C_s^{1/2}F_x]`, is
    :math:`U\operatorname{diag}(\sigma)U^\top` from the SVD of :math:`G`, whose singular values
    carry errors of :math:`10^{-16}\lVert G\rVert = 10^{-16}\lVert M\rVert^{1/2}`;
    :math:`A = C_s^{-1/2}M^{1/2}C_s^{-1/2}`.

    Examples
    --------
    >>> import numpy as np
    >>> a = factored_geometric_mean(np.array([[0.0, 3.0], [1.0, 0.0]]), np.array([[1.0], [0.0]]))
    >>> np.round(a, 6).tolist()     # C_x = diag(10, 2), C_s = diag(2, 1): sqrt(5), sqrt(2)
    [[2.236068, 0.0], [0.0, 1.414214]]
    """
    k = f_x.shape[0]
    u_s, s, _ = np.linalg.svd(np.ascontiguousarray(f_s), full_matrices=False)
    root_s = np.eye(k)
    inv_root_s = np.eye(k)
    for j in range(s.shape[0]):
        up = math.sqrt(1.0 + s[j] * s[j])
        for a in range(k):
            for b in range(k):
                root_s[a, b] += u_s[a, j] * (up - 1.0) * u_s[b, j]
                inv_root_s[a, b] += u_s[a, j] * (1.0 / up - 1.0) * u_s[b, j]
    g = np.empty((k, k + f_x.shape[1]))
    g[:, :k] = root_s
    g[:, k:] = root_s @ np.ascontiguousarray(f_x)
    u, sigma, _ = np.linalg.svd(g, full_matrices=False)
    root_m = (u * sigma) @ u.T
    a = inv_root_s @ root_m @ inv_root_s
    return 0.5 * (a + a.T)


@signature(lambda t: (t.row.lr_vecs, t.row.lr_vecs, t.vector, t.row.lr_vecs, t.vector, t.f8,
                      t.f8), result=lambda t: t.boolean)
@njit
def low_rank_estimate(
    scatter_q: np.ndarray,
    scatter_g: np.ndarray,
    inv_diag: np.ndarray,
    vecs: np.ndarray,
    vals: np.ndarray,
    gamma: float,
    cutoff: float,
) -> bool:
    r"""The low-rank metric from the scatter matrices of draws and scores (module docstring).

    ``inv_diag`` receives :math:`\sigma^2` (an invalid ratio keeps its entry), the rows of
    ``vecs`` the kept eigenvectors and ``vals`` their eigenvalues (largest deviation from 1
    first), then ones. Returns ``False`` and changes nothing if a scatter matrix is not finite.
    If an eigenvalue of :math:`A` came out non-positive or not finite, only the diagonal is
    updated (``vals`` all ones).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4000, 3)) @ np.array([[3.0, 0, 0], [2.9, 0.5, 0], [0, 0, 1]])
    >>> cov = np.cov(x.T)
    >>> scores = -x @ np.linalg.inv(cov)        # the scores of N(0, cov)
    >>> sq, sg = (x - x.mean(0)).T @ (x - x.mean(0)), (scores - scores.mean(0)).T @ (scores - scores.mean(0))
    >>> d, v, lam = np.ones(3), np.zeros((3, 3)), np.ones(3)
    >>> low_rank_estimate(sq, sg, d, v, lam, 1e-5, 2.0)
    True
    >>> s = np.sqrt(d)
    >>> inv_metric = np.diag(s) @ (np.eye(3) + v.T @ np.diag(lam - 1) @ v) @ np.diag(s)
    >>> bool(np.allclose(inv_metric, cov, rtol=1e-3, atol=1e-3))
    True
    """
    d = inv_diag.shape[0]
    for i in range(d):
        for j in range(d):
            if not (math.isfinite(scatter_q[i, j]) and math.isfinite(scatter_g[i, j])):
                return False
    var_q = np.empty(d)
    var_g = np.empty(d)
    for i in range(d):
        var_q[i] = scatter_q[i, i]
        var_g[i] = scatter_g[i, i]
    fisher_inv_metric(var_q, var_g, inv_diag)
    sigma = np.sqrt(inv_diag)
    # the scaled scatter matrices over gamma: C = I + (these)
    s_x = np.empty((d, d))
    s_s = np.empty((d, d))
    for i in range(d):
        for j in range(d):
            s_x[i, j] = scatter_q[i, j] / (sigma[i] * sigma[j] * gamma)
            s_s[i, j] = scatter_g[i, j] * (sigma[i] * sigma[j] / gamma)
    for k in range(d):
        vals[k] = 1.0
    # the subspace spanned by the draws and the scores: outside it both C are the identity
    basis_x, factor_x = _range_factor(s_x)
    basis_s, factor_s = _range_factor(s_s)
    r_x, r_s = basis_x.shape[1], basis_s.shape[1]
    if r_x + r_s == 0:
        return True
    both = np.empty((d, r_x + r_s))
    both[:, :r_x] = basis_x
    both[:, r_x:] = basis_s
    u_b, s_b, _ = np.linalg.svd(both, full_matrices=False)
    k = 0
    for j in range(s_b.shape[0]):
        if s_b[j] > 1e-8 * s_b[0]:
            k += 1
    basis = np.ascontiguousarray(u_b[:, :k])
    a = factored_geometric_mean(basis.T @ factor_x, basis.T @ factor_s)
    lam, u = np.linalg.eigh(a)
    if not (lam[0] > 0.0 and np.all(np.isfinite(lam))):
        return True  # rounding beyond repair: the diagonal estimate alone this time
    lifted = basis @ u
    order = np.argsort(-np.abs(np.log(lam)))
    r = 0
    for j in order:
        if lam[j] > cutoff or lam[j] < 1.0 / cutoff:
            vals[r] = lam[j]
            for i in range(d):
                vecs[r, i] = lifted[i, j]
            r += 1
    return True


@njit(inline="always")
def _add(counts: np.ndarray, moments: np.ndarray, scatter: np.ndarray, q: np.ndarray,
         g: np.ndarray, delta: np.ndarray) -> None:
    # dense Welford sums of draws and scores, foreground and background (the means are the
    # rows of nutpie's moments; their diagonal sums are not needed: the scatter's diagonal)
    n = counts[FG_COUNT]
    counts[FG_COUNT] = welford_add_dense(n, moments[FG_Q_MEAN], scatter[FG_Q], q, delta)
    welford_add_dense(n, moments[FG_G_MEAN], scatter[FG_G], g, delta)
    n = counts[BG_COUNT]
    counts[BG_COUNT] = welford_add_dense(n, moments[BG_Q_MEAN], scatter[BG_Q], q, delta)
    welford_add_dense(n, moments[BG_G_MEAN], scatter[BG_G], g, delta)


@njit(inline="always")
def _switch(counts: np.ndarray, moments: np.ndarray, scatter: np.ndarray) -> None:
    fisher_switch(counts, moments)
    d = scatter.shape[1]
    for r in range(2):
        for i in range(d):
            for j in range(d):
                scatter[FG_Q + r, i, j] = scatter[BG_Q + r, i, j]
                scatter[BG_Q + r, i, j] = 0.0


@signature(lambda t: (t.schedule_flag, t.boolean, t.vector, t.vector, t.row.fisher_counts,
                      t.row.fisher_moments, t.row.lr_scatter, t.vector),
           result=lambda t: t.boolean)
@njit
def low_rank_collect(
    flag: int,
    admit: bool,
    q: np.ndarray,
    g: np.ndarray,
    counts: np.ndarray,
    moments: np.ndarray,
    scatter: np.ndarray,
    delta: np.ndarray,
) -> bool:
    """The estimators' part of one chain's adaptation after a warmup transition to ``q`` (as
    in :func:`kernels.fisher_adaptation.fisher_adapt`: add the draw if ``admit``, switch on
    :data:`SWITCH`); returns whether the metric is to be
    recomputed now (:data:`UPDATE` and at least three foreground draws). The driver then calls
    :func:`low_rank_estimate` by address (:mod:`kernels.entries`: its LAPACK calls are compiled
    only for runs that use this adaptation) and updates the step size. ``delta`` is scratch."""
    if not flag & COLLECT:
        return False
    if admit:
        _add(counts, moments, scatter, q, g, delta)
    if flag & SWITCH:
        _switch(counts, moments, scatter)
    return bool(flag & UPDATE) and counts[FG_COUNT] >= FISHER_MIN_COUNT
