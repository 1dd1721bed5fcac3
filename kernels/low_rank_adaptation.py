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
lost the low-rank part. The span and its factors come from thin singular value
decompositions of the scaled :math:`n \times d` draws and scores themselves (never of a
:math:`d \times d` matrix), and the geometric mean from factors of the :math:`C`
(:func:`factored_geometric_mean`).

Memory: the diagonal from all the window's draws, the low-rank part from the latest ones
    The diagonal :math:`\sigma^2` and the means come from the foreground's Welford sums
    (:mod:`kernels.fisher_adaptation`'s ``moments``, :math:`O(d)`), over all its draws as in
    nutpie. The low-rank part comes from the most recent :math:`m = \min(n, W)` of its
    :math:`n` draws and scores, held in one ring buffer of draws and one of scores per chain
    (:math:`\min(W, \text{the largest foreground of the schedule})` rows),
    :math:`W \times d` each (:mod:`kernels.state`: ``lr_draws``, ``lr_grads``, ``lr_added``;
    the foreground's draws are always the most recent admitted ones, so a switch only changes
    :math:`n`). nuts-rs keeps the whole foreground (up to 471 draws for 1000 warmup
    iterations: :func:`ring_rows`); the cap :math:`W` = ``low_rank_window``
    (:data:`DEFAULT_WINDOW`, the whole foreground up to 1000 warmup iterations) bounds a
    chain's state at :math:`O(Wd + kd)` -- never :math:`O(d^2)` -- and an update's cost at
    :math:`O(W^2 d)` (at :math:`d` in the hundreds, updates from the whole window every 20
    iterations can cost more than the warmup's gradients: ``low_rank_update_freq``). A smaller
    :math:`W` is cheaper but noisier (``benchmarks/adaptation_study.py``
    compares). The sums :math:`\sum\tilde x\tilde x^\top` then
    run over :math:`m` draws; both :math:`C` scale alike with the number of draws, so the
    geometric mean's eigenvalues do not depend on it (up to the regularisation :math:`I`).

The rank cap
    Only the ``max_rank`` (``low_rank_max_rank``) eigenpairs with the largest
    :math:`|\log\lambda|` beyond the cutoff are kept (the rows of ``lr_vecs``, :math:`k \times d`),
    so that a leapfrog step applies the metric in :math:`O(kd)`. Dropping an eigenpair sets its
    :math:`\lambda` to 1, i.e. leaves that direction to the diagonal; the kept ones are the
    directions the diagonal metric gets most wrong.

The warmup follows nutpie's schedule (:func:`kernels.fisher_adaptation.fisher_schedule`:
foreground and background estimators, switches) and its step-size handling; the metric is
recomputed at every switch and every ``update_freq`` (:data:`DEFAULT_UPDATE_FREQ`, 100;
nuts-rs: 20) iterations (:data:`UPDATE` flags of :func:`low_rank_schedule`), as an update costs
:math:`O(W^2 d)`: the switches of the early phase (every 10 iterations) update it often while
it changes fast, and later windows grow slowly, so that updates every 20 iterations mostly
recompute what the last one found, at the highest cost (``benchmarks/adaptation_study.py``
compares 20, 50 and 100 by ESS per CPU second).

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
    FG_COUNT,
    FG_G_M2,
    FG_G_MEAN,
    FG_Q_M2,
    FG_Q_MEAN,
    FISHER_MIN_COUNT,
    SWITCH,
    fisher_add,
    fisher_inv_metric,
    fisher_schedule,
    fisher_switch,
)
from kernels.jit import njit, signature
from kernels.stan_adaptation import COLLECT

__all__ = [
    "UPDATE",
    "LOW_RANK_GAMMA",
    "LOW_RANK_CUTOFF",
    "DEFAULT_MAX_RANK",
    "DEFAULT_WINDOW",
    "DEFAULT_UPDATE_FREQ",
    "low_rank_schedule",
    "ring_rows",
    "low_rank_push",
    "spd_geometric_mean",
    "factored_geometric_mean",
    "low_rank_estimate",
    "low_rank_collect",
]

#: Schedule flag: recompute the low-rank metric after this iteration.
UPDATE = 8
#: Regularisation :math:`\gamma` of the scatter matrices (nuts-rs ``gamma``).
LOW_RANK_GAMMA = 1e-5
#: Eigenvalues in ``(1/cutoff, cutoff)`` are dropped (nuts-rs ``eigval_cutoff``).
LOW_RANK_CUTOFF = 2.0
#: Eigenpairs kept at most (``low_rank_max_rank``; nuts-rs keeps all of them).
DEFAULT_MAX_RANK = 8
#: Latest draws the low-rank part is estimated from, at most (``low_rank_window``; nuts-rs:
#: the whole foreground, which this covers up to 1000 warmup iterations).
DEFAULT_WINDOW = 512
#: Iterations between updates of the metric outside switches (``low_rank_update_freq``).
DEFAULT_UPDATE_FREQ = 100


def low_rank_schedule(num_warmup: int, update_freq: int = DEFAULT_UPDATE_FREQ,
                      **fisher_options) -> np.ndarray:
    """:func:`kernels.fisher_adaptation.fisher_schedule` with :data:`UPDATE` flags: at every
    switch, and on a collecting iteration ``update_freq`` iterations after the previous update.

    Examples
    --------
    >>> s = low_rank_schedule(1000)
    >>> [int(i) for i in np.flatnonzero(s & UPDATE)][:4], int(np.count_nonzero(s & UPDATE))
    ([8, 18, 28, 38], 36)
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


def ring_rows(schedule: np.ndarray, cap: int | None = None) -> int:
    """The most draws the foreground estimator can hold on ``schedule`` (every draw admitted,
    the initial point included), at most ``cap``: the rows of a chain's ring buffers.

    Examples
    --------
    >>> ring_rows(low_rank_schedule(1000)), ring_rows(low_rank_schedule(1000), 128)
    (471, 128)
    """
    fg = bg = most = 1  # the initial point is in both estimators
    for flag in np.asarray(schedule):
        if flag & COLLECT:
            fg, bg = fg + 1, bg + 1
            most = max(most, fg)
            if flag & SWITCH:
                fg, bg = bg, 0
    return most if cap is None else min(most, int(cap))


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


#: Directions of the scaled points (divided by :math:`\sqrt\gamma`) with a squared singular
#: value below this change :math:`C` by less than 0.1 % and are left out of the subspace.
_SUBSPACE_TOL = 1e-3


@njit
def _range_factor(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # points = U diag(s) V^T (n x d): the right singular vectors whose s^2 passes _SUBSPACE_TOL
    # (an orthonormal basis of the points' span) and the factor F = V diag(s), F F^T =
    # points^T points, the scatter matrix over gamma
    d = points.shape[1]
    if points.shape[0] == 0:
        return np.empty((d, 0)), np.empty((d, 0))
    _, s, vt = np.linalg.svd(points, full_matrices=False)
    floor = max(_SUBSPACE_TOL, 1e-12 * s[0] * s[0])
    r = 0
    for k in range(s.shape[0]):
        if s[k] * s[k] > floor:
            r += 1
    basis = np.empty((d, r))
    factor = np.empty((d, r))
    j = 0
    for k in range(s.shape[0]):
        if s[k] * s[k] > floor:
            for i in range(d):
                basis[i, j] = vt[k, i]
                factor[i, j] = vt[k, i] * s[k]
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
    up = np.sqrt(1.0 + s * s)
    u_t = np.ascontiguousarray(u_s.T)
    root_s = np.eye(k) + np.ascontiguousarray(u_s * (up - 1.0)) @ u_t
    inv_root_s = np.eye(k) + np.ascontiguousarray(u_s * (1.0 / up - 1.0)) @ u_t
    g = np.empty((k, k + f_x.shape[1]))
    g[:, :k] = root_s
    g[:, k:] = root_s @ np.ascontiguousarray(f_x)
    u, sigma, _ = np.linalg.svd(g, full_matrices=False)
    root_m = (u * sigma) @ u.T
    a = inv_root_s @ root_m @ inv_root_s
    return 0.5 * (a + a.T)


@signature(lambda t: (t.row.lr_draws, t.row.lr_grads, t.row.lr_added, t.row.fisher_counts,
                      t.row.fisher_moments, t.vector, t.row.lr_vecs, t.row.lr_vals, t.f8, t.f8),
           result=lambda t: t.boolean)
@njit
def low_rank_estimate(
    draws: np.ndarray,
    grads: np.ndarray,
    added: np.ndarray,
    counts: np.ndarray,
    moments: np.ndarray,
    inv_diag: np.ndarray,
    vecs: np.ndarray,
    vals: np.ndarray,
    gamma: float,
    cutoff: float,
) -> bool:
    r"""The low-rank metric from the foreground's draws and scores (module docstring).

    ``counts``, ``moments`` are the foreground's Welford sums
    (:func:`kernels.fisher_adaptation.fisher_add`), ``draws``, ``grads`` the ring buffers of
    :func:`low_rank_push` (``added[0]`` draws pushed so far), of which the last
    ``min(counts[FG_COUNT], len(draws))`` are the foreground's latest.
    ``inv_diag`` receives :math:`\sigma^2` (an invalid ratio keeps its entry), the rows of
    ``vecs`` the kept eigenvectors and ``vals`` their eigenvalues (largest deviation from 1
    first, at most ``vals.shape[0]`` of them), then ones. Returns ``False`` and changes nothing
    if a draw or score is not finite. If an eigenvalue of :math:`A` came out non-positive or
    not finite, only the diagonal is updated (``vals`` all ones).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4000, 3)) @ np.array([[3.0, 0, 0], [2.9, 0.5, 0], [0, 0, 1]])
    >>> cov = np.cov(x.T)
    >>> scores = -x @ np.linalg.inv(cov)        # the scores of N(0, cov)
    >>> counts, moments = np.zeros(3), np.zeros((8, 3))
    >>> for q, g in zip(x, scores):
    ...     fisher_add(counts, moments, q, g)
    >>> d, v, lam = np.ones(3), np.zeros((3, 3)), np.ones(3)
    >>> low_rank_estimate(x, scores, np.array([4000.0]), counts, moments, d, v, lam, 1e-5, 2.0)
    True
    >>> s = np.sqrt(d)
    >>> inv_metric = np.diag(s) @ (np.eye(3) + v.T @ np.diag(lam - 1) @ v) @ np.diag(s)
    >>> bool(np.allclose(inv_metric, cov, rtol=1e-3, atol=1e-3))
    True
    """
    d = inv_diag.shape[0]
    window = draws.shape[0]
    n = min(int(counts[FG_COUNT]), window)  # the latest n of the foreground
    first = int(added[0]) - n  # the oldest of them, in push order
    for i in range(d):
        if not (math.isfinite(moments[FG_Q_M2, i]) and math.isfinite(moments[FG_G_M2, i])):
            return False
    x = np.empty((n, d))
    s = np.empty((n, d))
    for t in range(n):
        row = (first + t) % window
        for i in range(d):
            x[t, i] = draws[row, i] - moments[FG_Q_MEAN, i]
            s[t, i] = grads[row, i] - moments[FG_G_MEAN, i]
            if not (math.isfinite(x[t, i]) and math.isfinite(s[t, i])):
                return False
    fisher_inv_metric(moments[FG_Q_M2], moments[FG_G_M2], inv_diag)
    # the scaled points over sqrt(gamma): C = I + (their scatter matrices)
    root_gamma = math.sqrt(gamma)
    for i in range(d):
        sigma = math.sqrt(inv_diag[i])
        for t in range(n):
            x[t, i] /= sigma * root_gamma
            s[t, i] *= sigma / root_gamma
    for k in range(vals.shape[0]):
        vals[k] = 1.0
    basis_x, factor_x = _range_factor(x)
    basis_s, factor_s = _range_factor(s)
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
        if r == vals.shape[0]:
            break  # the rank cap: the largest deviations from 1 are kept
        if lam[j] > cutoff or lam[j] < 1.0 / cutoff:
            vals[r] = lam[j]
            for i in range(d):
                vecs[r, i] = lifted[i, j]
            r += 1
    return True


@njit(inline="always")
def low_rank_push(draws: np.ndarray, grads: np.ndarray, added: np.ndarray, q: np.ndarray,
                  g: np.ndarray) -> None:
    """Push a draw and its score into a chain's ring buffers (``added[0]`` counts the pushes)."""
    row = int(added[0]) % draws.shape[0]
    for i in range(q.shape[0]):
        draws[row, i] = q[i]
        grads[row, i] = g[i]
    added[0] += 1.0


@signature(lambda t: (t.schedule_flag, t.boolean, t.vector, t.vector, t.row.fisher_counts,
                      t.row.fisher_moments, t.row.lr_draws, t.row.lr_grads, t.row.lr_added),
           result=lambda t: t.boolean)
@njit
def low_rank_collect(
    flag: int,
    admit: bool,
    q: np.ndarray,
    g: np.ndarray,
    counts: np.ndarray,
    moments: np.ndarray,
    draws: np.ndarray,
    grads: np.ndarray,
    added: np.ndarray,
) -> bool:
    """The estimators' part of one chain's adaptation after a warmup transition to ``q`` (as
    in :func:`kernels.fisher_adaptation.fisher_adapt`: add the draw if ``admit``, switch on
    :data:`SWITCH`); returns whether the metric is to be
    recomputed now (:data:`UPDATE` and at least three foreground draws). The driver then calls
    :func:`low_rank_estimate` by address (:mod:`kernels.entries`: its LAPACK calls are compiled
    only for runs that use this adaptation) and updates the step size. The estimators are the
    diagonal Fisher estimators' counts and moments and one ring buffer (module docstring)."""
    if not flag & COLLECT:
        return False
    if admit:
        fisher_add(counts, moments, q, g)
        low_rank_push(draws, grads, added, q, g)
    if flag & SWITCH:
        fisher_switch(counts, moments)
    return bool(flag & UPDATE) and counts[FG_COUNT] >= FISHER_MIN_COUNT
