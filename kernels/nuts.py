r"""Stan's No-U-Turn Sampler transition, compiled, iterative, for one chain.

This is the multinomial NUTS of Stan (``base_nuts::transition``; Stan Reference Manual,
"Hamiltonian Monte Carlo Sampling"), which refines Hoffman & Gelman (2014, "The No-U-Turn
Sampler", JMLR 15:1593) as described by Betancourt (2017, "A Conceptual Introduction to
Hamiltonian Monte Carlo", arXiv:1701.02434):

1. Draw a momentum :math:`p \sim N(0, M)`; :math:`H_0 = H(q, p)`. The trajectory starts as the
   single initial state, with summed momentum :math:`\rho = p` and log total weight 0.
2. For ``depth = 0, 1, ...`` while ``depth < max_depth``: draw ``u``; extend *forward* iff
   ``u > 0.5`` (else backward) by a new subtree of :math:`2^{depth}` leapfrog steps started
   from the trajectory's end in that direction.

   * Every leaf (one leapfrog step of :math:`\pm\epsilon`) has energy :math:`h` (NaN, model
     failure or non-finite density → :math:`+\infty`), weight :math:`e^{H_0 - h}` and Metropolis
     probability :math:`\min(1, e^{H_0 - h})`, which is added to ``sum_metro_prob`` (over *all*
     leaves, also those of rejected subtrees). The leaf **diverges** when
     :math:`h - H_0 >` ``max_delta_h`` (1000 in Stan), which invalidates the subtree.
   * Inside a subtree two sibling halves *A* (built first) and *B* are merged by **uniform
     multinomial** sampling: *B*'s proposal replaces *A*'s if
     :math:`\log w_B > \log(w_A + w_B)`, else with probability :math:`w_B / (w_A + w_B)`
     (one uniform draw).
   * Each merge then applies Stan's **three U-turn checks** (the generalised criterion of
     Betancourt 2017, with the "extra" checks Stan added in 2019): writing
     :math:`c(a, b, \rho) = (a^\sharp\cdot\rho > 0) \wedge (b^\sharp\cdot\rho > 0)` with
     :math:`p^\sharp = M^{-1}p`, the merged tree is kept iff
     :math:`c(A_{first}, B_{last}, \rho_A + \rho_B)`,
     :math:`c(A_{first}, B_{first}, \rho_A + p_{B_{first}})` and
     :math:`c(A_{last}, B_{last}, \rho_B + p_{A_{last}})`, where "first/last" are the ends in
     build order. A failed check or a divergence stops the subtree immediately (remaining
     leaves are not integrated).
   * An invalid subtree is discarded (its proposal is never considered) and the transition
     ends. Otherwise ``depth += 1`` and the subtree's proposal becomes the sample by **biased
     progressive sampling**: always if :math:`\log w_{new} > \log w_{old}`, else with
     probability :math:`w_{new}/w_{old}`; then :math:`\log w \mathrel{+}= \log w_{new}`
     (log-sum-exp). The same three checks are applied between the old trajectory (*A*) and
     the new subtree (*B*); if one fails the transition ends.

3. Statistics (names as ArviZ reads them):

   * ``acceptance_rate`` -- Stan's ``accept_stat__``: ``sum_metro_prob / n_leapfrog``;
   * ``tree_depth`` -- Stan's ``treedepth__``: number of accepted doublings;
   * ``n_steps`` -- Stan's ``n_leapfrog__``: all leapfrog steps, including rejected subtrees;
   * ``diverging`` -- a leaf of this transition diverged;
   * ``energy`` -- Stan's ``energy__``: :math:`H` at the selected state (its own momentum);
   * ``energy_error`` -- :math:`H(\text{selected}) - H_0` (PyMC's definition, read by ArviZ;
     0 when the initial state is kept);
   * ``max_energy_error`` -- the signed :math:`h - H_0` of largest magnitude over all leaves
     (PyMC's definition; ``+inf`` when a leaf failed);
   * ``reached_max_treedepth`` -- ``tree_depth == max_depth``.

Implementation: no recursion. A subtree of :math:`2^k` leaves is built leaf by leaf; after leaf
``n`` (0-based) the just-finished block is merged with the pending sibling at level ``j`` for
every trailing 1-bit ``j`` of ``n`` -- exactly the post-order in which Stan's recursive
``build_tree`` merges, so the random stream is consumed in the same order and the result equals
the recursive algorithm transition for transition. A pending block at each level keeps its end
momenta and sharp momenta, its summed momentum, log weight and proposal (position, gradient,
log density, energy), so memory is :math:`O(\text{max\_depth} \cdot d)`. Blocks live in a pool
of ``max_depth + 1`` slots indexed by integers (storing a block is an index swap, not a copy).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.integrators import hamiltonian, leapfrog, sample_momentum, velocity
from kernels.jit import njit
from kernels.rng import uniform

__all__ = [
    "nuts_workspace",
    "nuts_transition",
    "log_sum_exp",
    "N_VEC",
    "N_TREE",
    "N_SLOT_SCALARS",
]

# Rows of the per-chain vector workspace ``vec`` (shape ``(N_VEC, dim)``).
_Q_FWD, _P_FWD, _G_FWD, _PS_FWD = 0, 1, 2, 3  # forward end: position, momentum, gradient, p#
_Q_BCK, _P_BCK, _G_BCK, _PS_BCK = 4, 5, 6, 7  # backward end
_A_END_P, _A_END_PS = 8, 9  # momentum and p# of the old trajectory's end where B attaches
_RHO = 10  # summed momentum of the whole trajectory
#: Number of rows of the vector workspace.
N_VEC = 11

# Planes of the block pool ``tree`` (shape ``(N_TREE, max_depth + 1, dim)``).
_BEG_P, _BEG_PS, _END_P, _END_PS, _BRHO, _PROP_Q, _PROP_G = 0, 1, 2, 3, 4, 5, 6
#: Number of vector planes of the block pool.
N_TREE = 7

# Rows of the block pool's scalars ``slot`` (shape ``(N_SLOT_SCALARS, max_depth + 1)``).
_LSW, _PROP_LOGP, _PROP_H = 0, 1, 2
#: Number of scalar rows of the block pool.
N_SLOT_SCALARS = 3


def nuts_workspace(dim: int, max_depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Allocate the scratch arrays of :func:`nuts_transition` for one chain.

    Parameters
    ----------
    dim : int
        Number of parameters.
    max_depth : int
        Maximum tree depth the workspace must support.

    Returns
    -------
    (vec, tree, slot)
        ``vec``: ``(N_VEC, dim)``; ``tree``: ``(N_TREE, max_depth + 1, dim)``;
        ``slot``: ``(N_SLOT_SCALARS, max_depth + 1)`` -- all ``float64``.
    """
    return _workspace(dim, max_depth)


@njit(inline="always")
def _workspace(dim: int, max_depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vec = np.zeros((N_VEC, dim))
    tree = np.zeros((N_TREE, max_depth + 1, dim))
    slot = np.zeros((N_SLOT_SCALARS, max_depth + 1))
    return vec, tree, slot


@njit
def log_sum_exp(a: float, b: float) -> float:
    """:math:`\\log(e^a + e^b)` as in Stan Math (``-inf`` and ``+inf`` handled exactly).

    Returns ``b`` when ``a == -inf``, ``+inf`` when both are ``+inf``, otherwise the larger
    argument plus ``log1p(exp(smaller - larger))``.
    """
    if a == -math.inf:
        return b
    if a == math.inf and b == math.inf:
        return math.inf
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit
def _copy(src: np.ndarray, dst: np.ndarray) -> None:
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit
def _no_u_turn(ps_a: np.ndarray, ps_b: np.ndarray, x: np.ndarray, y: np.ndarray) -> bool:
    """Stan's criterion with :math:`\\rho = x + y`: ``ps_a . rho > 0 and ps_b . rho > 0``."""
    sa = 0.0
    sb = 0.0
    for i in range(x.shape[0]):
        r = x[i] + y[i]
        sa += ps_a[i] * r
        sb += ps_b[i] * r
    return sb > 0.0 and sa > 0.0


@njit
def _merge_checks(
    a_beg_ps: np.ndarray,
    a_end_p: np.ndarray,
    a_end_ps: np.ndarray,
    a_rho: np.ndarray,
    b_beg_p: np.ndarray,
    b_beg_ps: np.ndarray,
    b_end_ps: np.ndarray,
    b_rho: np.ndarray,
) -> bool:
    """Stan's three checks for merging block A (built first) with block B (built second)."""
    if not _no_u_turn(a_beg_ps, b_end_ps, a_rho, b_rho):
        return False
    if not _no_u_turn(a_beg_ps, b_beg_ps, a_rho, b_beg_p):
        return False
    return _no_u_turn(a_end_ps, b_end_ps, b_rho, a_end_p)


@njit(inline="always")
def _leaf_to_slot(
    tree: np.ndarray,
    slot: np.ndarray,
    c: int,
    q: np.ndarray,
    p: np.ndarray,
    g: np.ndarray,
    ps: np.ndarray,
    logp: float,
    h: float,
    log_w: float,
) -> None:
    """Make slot ``c`` the one-leaf block holding state ``(q, p, g)``."""
    _copy(p, tree[_BEG_P, c])
    _copy(ps, tree[_BEG_PS, c])
    _copy(p, tree[_END_P, c])
    _copy(ps, tree[_END_PS, c])
    _copy(p, tree[_BRHO, c])
    _copy(q, tree[_PROP_Q, c])
    _copy(g, tree[_PROP_G, c])
    slot[_LSW, c] = log_w
    slot[_PROP_LOGP, c] = logp
    slot[_PROP_H, c] = h


@njit(inline="always")
def _merge_into(tree: np.ndarray, slot: np.ndarray, a: int, c: int, rng_state: np.ndarray) -> bool:
    """Merge pending block ``a`` (first) with block ``c`` (second) into slot ``c``.

    Uniform multinomial choice of the proposal, then the three U-turn checks; returns their
    verdict. The merged block is left in ``c`` even when the checks fail.
    """
    lsw_b = slot[_LSW, c]
    lsw_sub = log_sum_exp(slot[_LSW, a], lsw_b)
    take_b = lsw_b > lsw_sub
    if not take_b:
        take_b = uniform(rng_state) < math.exp(lsw_b - lsw_sub)
    if not take_b:
        _copy(tree[_PROP_Q, a], tree[_PROP_Q, c])
        _copy(tree[_PROP_G, a], tree[_PROP_G, c])
        slot[_PROP_LOGP, c] = slot[_PROP_LOGP, a]
        slot[_PROP_H, c] = slot[_PROP_H, a]
    ok = _merge_checks(
        tree[_BEG_PS, a],
        tree[_END_P, a],
        tree[_END_PS, a],
        tree[_BRHO, a],
        tree[_BEG_P, c],
        tree[_BEG_PS, c],
        tree[_END_PS, c],
        tree[_BRHO, c],
    )
    _copy(tree[_BEG_P, a], tree[_BEG_P, c])
    _copy(tree[_BEG_PS, a], tree[_BEG_PS, c])
    rho_a = tree[_BRHO, a]
    rho_c = tree[_BRHO, c]
    for i in range(rho_c.shape[0]):
        rho_c[i] = rho_a[i] + rho_c[i]
    slot[_LSW, c] = lsw_sub
    return ok


@njit(inline="always")
def _build_subtree(
    depth: int,
    address: int,
    data_ptr: int,
    metric_kind: int,
    inv_diag: np.ndarray,
    inv_dense: np.ndarray,
    q: np.ndarray,
    p: np.ndarray,
    g: np.ndarray,
    ps: np.ndarray,
    epsilon: float,
    H0: float,
    max_delta_h: float,
    rng_state: np.ndarray,
    tree: np.ndarray,
    slot: np.ndarray,
    pending: np.ndarray,
    counters: np.ndarray,
) -> tuple[bool, int]:
    """Integrate and merge a subtree of ``2**depth`` leaves from state ``(q, p, g, ps)``.

    ``counters`` accumulates ``[n_leapfrog, sum_metro_prob, max_energy_error, diverging]``.
    Returns ``(valid, slot index of the finished subtree)``.
    """
    max_depth = pending.shape[0]
    for j in range(max_depth):
        pending[j] = j
    cur = max_depth
    n_leaves = 1 << depth
    for n in range(n_leaves):
        status, logp = leapfrog(
            address, data_ptr, metric_kind, inv_diag, inv_dense, q, p, g, ps, epsilon
        )
        counters[0] += 1.0
        h = math.inf
        if status == 0:
            h = hamiltonian(logp, p, ps)
        err = h - H0
        if abs(err) > abs(counters[2]):
            counters[2] = err
        log_w = H0 - h
        if log_w > 0.0:
            counters[1] += 1.0
        else:
            counters[1] += math.exp(log_w)
        if err > max_delta_h:
            counters[3] = 1.0
            return False, cur
        _leaf_to_slot(tree, slot, cur, q, p, g, ps, logp, h, log_w)
        j = 0
        m = n
        while m & 1:
            if not _merge_into(tree, slot, pending[j], cur, rng_state):
                return False, cur
            j += 1
            m >>= 1
        if n + 1 < n_leaves:
            free = pending[j]
            pending[j] = cur
            cur = free
    return True, cur


@njit(inline="always")
def nuts_transition(
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
    max_depth: int,
    max_delta_h: float,
    rng_state: np.ndarray,
    vec: np.ndarray,
    tree: np.ndarray,
    slot: np.ndarray,
) -> tuple[float, float, int, int, bool, float, float, float]:
    """One NUTS transition from ``(q, grad, logp)`` with step size ``epsilon`` (see module doc).

    Parameters
    ----------
    address, data_ptr : int64
        The model (see :mod:`kernels.model_abi`).
    metric_kind : int
        :data:`kernels.integrators.DIAG` or :data:`kernels.integrators.DENSE`.
    inv_diag : float64[:]
        Diagonal inverse metric (diagonal case; may be empty otherwise).
    inv_dense, chol : float64[:, :]
        Dense inverse metric and its lower Cholesky factor (dense case; may be empty).
    q, grad : float64[:]
        Current position and log-density gradient; overwritten with the selected state.
    logp : float
        Log density at ``q`` (must be finite).
    epsilon : float
        Step size used for every leapfrog step (already jittered if jitter is wanted).
    max_depth : int
        Maximum number of doublings (Stan: 10), ``1 <= max_depth < tree.shape[1]``.
    max_delta_h : float
        Divergence threshold on :math:`h - H_0` (Stan: 1000).
    rng_state : uint64[4]
        The chain's random stream, advanced in place.
    vec, tree, slot
        Workspace from :func:`nuts_workspace` (contents are scratch).

    Returns
    -------
    tuple
        ``(logp, accept_stat, depth, n_leapfrog, diverging, energy, energy_error,
        max_energy_error)`` -- the selected state's log density followed by the statistics
        described in the module docstring (``reached_max_treedepth`` is
        ``depth == max_depth``).
    """
    q_f = vec[_Q_FWD]
    p_f = vec[_P_FWD]
    g_f = vec[_G_FWD]
    ps_f = vec[_PS_FWD]
    q_b = vec[_Q_BCK]
    p_b = vec[_P_BCK]
    g_b = vec[_G_BCK]
    ps_b = vec[_PS_BCK]
    a_end_p = vec[_A_END_P]
    a_end_ps = vec[_A_END_PS]
    rho = vec[_RHO]

    sample_momentum(metric_kind, inv_diag, chol, rng_state, p_f)
    velocity(metric_kind, inv_diag, inv_dense, p_f, ps_f)
    H0 = hamiltonian(logp, p_f, ps_f)
    _copy(q, q_f)
    _copy(grad, g_f)
    _copy(q, q_b)
    _copy(p_f, p_b)
    _copy(grad, g_b)
    _copy(ps_f, ps_b)
    _copy(p_f, rho)

    pending = np.empty(max_depth, dtype=np.int64)
    counters = np.zeros(4)  # n_leapfrog, sum_metro_prob, max_energy_error, diverging
    log_sum_weight = 0.0
    logp_sample = logp
    h_sample = H0
    depth = np.int64(0)  # not the literal 0: _build_subtree would be compiled twice
    while depth < max_depth:
        if uniform(rng_state) > 0.5:
            qi, pi_, gi, psi, a_beg_ps, eps = q_f, p_f, g_f, ps_f, ps_b, epsilon
        else:
            qi, pi_, gi, psi, a_beg_ps, eps = q_b, p_b, g_b, ps_b, ps_f, -epsilon
        _copy(pi_, a_end_p)
        _copy(psi, a_end_ps)
        valid, c = _build_subtree(
            depth,
            address,
            data_ptr,
            metric_kind,
            inv_diag,
            inv_dense,
            qi,
            pi_,
            gi,
            psi,
            eps,
            H0,
            max_delta_h,
            rng_state,
            tree,
            slot,
            pending,
            counters,
        )
        if not valid:
            break
        depth += 1

        lsw_sub = slot[_LSW, c]
        take = lsw_sub > log_sum_weight
        if not take:
            take = uniform(rng_state) < math.exp(lsw_sub - log_sum_weight)
        if take:
            _copy(tree[_PROP_Q, c], q)
            _copy(tree[_PROP_G, c], grad)
            logp_sample = slot[_PROP_LOGP, c]
            h_sample = slot[_PROP_H, c]
        log_sum_weight = log_sum_exp(log_sum_weight, lsw_sub)

        b_rho = tree[_BRHO, c]
        ok = _merge_checks(
            a_beg_ps,
            a_end_p,
            a_end_ps,
            rho,
            tree[_BEG_P, c],
            tree[_BEG_PS, c],
            tree[_END_PS, c],
            b_rho,
        )
        for i in range(rho.shape[0]):
            rho[i] = rho[i] + b_rho[i]
        if not ok:
            break

    n_leapfrog = int(counters[0])
    accept_stat = counters[1] / counters[0] if n_leapfrog > 0 else 0.0
    return (
        logp_sample,
        accept_stat,
        depth,
        n_leapfrog,
        counters[3] != 0.0,
        h_sample,
        h_sample - H0,
        counters[2],
    )
