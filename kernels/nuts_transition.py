r"""Stan's No-U-Turn Sampler transition, compiled, iterative, for one chain.

This is the multinomial NUTS of Stan (``base_nuts::transition``; Stan Reference Manual,
"Hamiltonian Monte Carlo Sampling"), which refines Hoffman & Gelman (2014, "The No-U-Turn
Sampler", JMLR 15:1593) as described by Betancourt (2017, "A Conceptual Introduction to
Hamiltonian Monte Carlo", arXiv:1701.02434):

1. Draw a momentum :math:`p \sim N(0, M)`; :math:`H_0 = H(q, p)`. The trajectory starts as the
   single initial state, with summed momentum :math:`\rho = p` and log total weight 0.
2. For ``depth = 0, 1, ...`` while ``depth < max_tree_depth``: draw ``u``; extend *forward* iff
   ``u > 0.5`` (else backward) by a new subtree of :math:`2^{depth}` leapfrog steps started
   from the trajectory's end in that direction.

   * Every leaf (one leapfrog step of :math:`\pm\epsilon`) has energy :math:`h` (NaN, model
     failure or non-finite density → :math:`+\infty`), weight :math:`e^{H_0 - h}` and Metropolis
     probability :math:`\min(1, e^{H_0 - h})`, which is added to ``sum_metro_prob`` (over *all*
     leaves, also those of rejected subtrees). The leaf **diverges** when
     :math:`h - H_0 >` ``max_energy_error`` (1000 in Stan), which invalidates the subtree.
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
   * ``reached_max_treedepth`` -- ``tree_depth == max_tree_depth`` (set by the driver).

   The first seven come back as a :class:`kernels.state.TransitionStats` with the log density
   of the selected state (``lp``). Two more, read only by nutpie's adaptation
   (:mod:`kernels.fisher_adaptation`), are left in the workspace's ``info``: the selected
   state's signed **index in the trajectory** (leapfrog steps from the initial state, negative
   backward; nuts-rs ``index_in_trajectory``) and the **symmetric acceptance statistic**, the
   mean over all leaves of :math:`2\min(1, e^{\Delta}) / (1 + e^{\Delta})`,
   :math:`\Delta = H_0 - h` (0 for a divergent leaf; nuts-rs ``mean_sym``).

Implementation: no recursion. A subtree of :math:`2^k` leaves is built leaf by leaf; after leaf
``n`` (0-based) the just-finished block is merged with the pending sibling at level ``j`` for
every trailing 1-bit ``j`` of ``n`` -- exactly the post-order in which Stan's recursive
``build_tree`` merges, so the random stream is consumed in the same order and the result equals
the recursive algorithm transition for transition. A pending block at each level keeps its end
momenta and sharp momenta, its summed momentum, log weight and proposal (position, gradient,
log density, energy), so memory is :math:`O(\text{max\_tree\_depth} \cdot d)`. Blocks live in
a pool of ``max_tree_depth + 1`` slots (:class:`Subtrees`, one row per slot) indexed by
integers, so storing a block is an index swap, not a copy. The whole scratch of a transition is
one :class:`NutsWorkspace`, allocated once per chain by :func:`nuts_workspace`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernels.integrators import PhasePoint, copy_into, draw_momentum, leapfrog_energy
from kernels.jit import njit, signature
from kernels.metric import Metric
from kernels.model_abi import Model
from kernels.rng import uniform
from kernels.state import TransitionStats

__all__ = ["Subtrees", "NutsWorkspace", "nuts_workspace", "nuts_transition", "log_sum_exp",
           "INFO_INDEX", "INFO_SYM_ACCEPT", "INFO_SIZE"]

#: ``NutsWorkspace.info`` entries: the sample's index in the trajectory, the symmetric
#: acceptance statistic.
INFO_INDEX, INFO_SYM_ACCEPT = 0, 1
INFO_SIZE = 2


class Subtrees(NamedTuple):
    """The pool of pending subtrees: ``max_tree_depth + 1`` slots, slot ``s`` in row ``s``.

    Attributes
    ----------
    p_begin, p_sharp_begin : float64[slots, dim]
        Momentum and :math:`M^{-1}p` at the block's first leaf in build order.
    p_end, p_sharp_end : float64[slots, dim]
        The same at its last leaf.
    rho : float64[slots, dim]
        The block's summed momentum.
    q_proposal, grad_proposal : float64[slots, dim]
        Position and gradient of the block's multinomial proposal.
    log_weight, logp_proposal, energy_proposal, index_proposal : float64[slots]
        The block's log total weight, and the proposal's log density, energy and index in the
        trajectory.
    pending : int64[max_tree_depth]
        The slot of the pending (not yet merged) block at each level of the subtree being built.
    """

    p_begin: np.ndarray
    p_sharp_begin: np.ndarray
    p_end: np.ndarray
    p_sharp_end: np.ndarray
    rho: np.ndarray
    q_proposal: np.ndarray
    grad_proposal: np.ndarray
    log_weight: np.ndarray
    logp_proposal: np.ndarray
    energy_proposal: np.ndarray
    index_proposal: np.ndarray
    pending: np.ndarray


class NutsWorkspace(NamedTuple):
    """Scratch of :func:`nuts_transition` for one chain (contents need no initialisation).

    Attributes
    ----------
    forward, backward : PhasePoint
        The trajectory's two ends.
    p_join, p_sharp_join : float64[dim]
        Momentum and :math:`M^{-1}p` at the end of the old trajectory where the new subtree
        attaches (for the U-turn checks of the top-level merge).
    rho : float64[dim]
        Summed momentum of the whole trajectory.
    subtrees : Subtrees
        The pool of pending subtrees.
    info : float64[INFO_SIZE]
        After a transition: the selected state's index in the trajectory (:data:`INFO_INDEX`)
        and the symmetric acceptance statistic (:data:`INFO_SYM_ACCEPT`; module docstring).
    """

    forward: PhasePoint
    backward: PhasePoint
    p_join: np.ndarray
    p_sharp_join: np.ndarray
    rho: np.ndarray
    subtrees: Subtrees
    info: np.ndarray


@njit(inline="always")
def nuts_workspace(dim: int, max_tree_depth: int) -> NutsWorkspace:
    """Allocate the scratch of :func:`nuts_transition` for one chain in ``dim`` dimensions, for
    trees of up to ``max_tree_depth`` doublings.

    Only NumPy inside (its ``py_func`` builds the same record in Python, which
    :mod:`kernels.kernel_types` types without compiling anything).
    """
    slots = max_tree_depth + 1
    subtrees = Subtrees(
        np.zeros((slots, dim)),
        np.zeros((slots, dim)),
        np.zeros((slots, dim)),
        np.zeros((slots, dim)),
        np.zeros((slots, dim)),
        np.zeros((slots, dim)),
        np.zeros((slots, dim)),
        np.zeros(slots),
        np.zeros(slots),
        np.zeros(slots),
        np.zeros(slots),
        np.zeros(max_tree_depth, dtype=np.int64),
    )
    forward = PhasePoint(np.zeros(dim), np.zeros(dim), np.zeros(dim), np.zeros(dim))
    backward = PhasePoint(np.zeros(dim), np.zeros(dim), np.zeros(dim), np.zeros(dim))
    return NutsWorkspace(forward, backward, np.zeros(dim), np.zeros(dim), np.zeros(dim), subtrees,
                        np.zeros(INFO_SIZE))


@njit(borrow=True)
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


@njit(inline="always", borrow=True)
def _merge_checks(
    a_beg_ps: np.ndarray,
    a_end_p: np.ndarray,
    a_end_ps: np.ndarray,
    a_rho: np.ndarray,
    b_beg_p: np.ndarray,
    b_beg_ps: np.ndarray,
    b_end_ps: np.ndarray,
    b_rho: np.ndarray,
    merged_rho: np.ndarray,
) -> bool:
    """Stan's three checks for merging block A (built first) with block B (built second).

    Writes the merged block's summed momentum :math:`\rho_A + \rho_B` into ``merged_rho``
    (which may be ``a_rho`` or ``b_rho``). Returns ``c(A_first, B_last, rho_A + rho_B) and
    c(A_first, B_first, rho_A + p_B_first) and c(A_last, B_last, rho_B + p_A_last)``, with
    ``c(a, b, rho) = (a# . rho > 0) and (b# . rho > 0)``.
    """
    # One pass computes the six dot products: each is still summed in index order (the same
    # rounding as three separate passes), but the six running sums are independent, so the
    # loop is not bound by the latency of one chain of additions per pass.
    s1a = s1b = s2a = s2b = s3a = s3b = 0.0
    for i in range(a_rho.shape[0]):
        r1 = a_rho[i] + b_rho[i]
        r2 = a_rho[i] + b_beg_p[i]
        r3 = b_rho[i] + a_end_p[i]
        s1a += a_beg_ps[i] * r1
        s1b += b_end_ps[i] * r1
        s2a += a_beg_ps[i] * r2
        s2b += b_beg_ps[i] * r2
        s3a += a_end_ps[i] * r3
        s3b += b_end_ps[i] * r3
        merged_rho[i] = r1
    return (s1a > 0.0 and s1b > 0.0 and s2a > 0.0 and s2b > 0.0 and s3a > 0.0
            and s3b > 0.0)


@njit(inline="always")
def _leaf_to_slot(subtrees: Subtrees, c: int, z: PhasePoint, logp: float, h: float,
                  log_w: float, index: float) -> None:
    """Make slot ``c`` the one-leaf block holding the phase point ``z``."""
    copy_into(z.p, subtrees.p_begin[c])
    copy_into(z.p_sharp, subtrees.p_sharp_begin[c])
    copy_into(z.p, subtrees.p_end[c])
    copy_into(z.p_sharp, subtrees.p_sharp_end[c])
    copy_into(z.p, subtrees.rho[c])
    copy_into(z.q, subtrees.q_proposal[c])
    copy_into(z.grad, subtrees.grad_proposal[c])
    subtrees.log_weight[c] = log_w
    subtrees.logp_proposal[c] = logp
    subtrees.energy_proposal[c] = h
    subtrees.index_proposal[c] = index


@njit(inline="always")
def _merge_into(subtrees: Subtrees, a: int, c: int, rng_state: np.ndarray) -> bool:
    """Merge pending block ``a`` (first) with block ``c`` (second) into slot ``c``.

    Uniform multinomial choice of the proposal, then the three U-turn checks; returns their
    verdict. The merged block is left in ``c`` even when the checks fail.
    """
    t = subtrees
    lsw_b = t.log_weight[c]
    lsw_sub = log_sum_exp(t.log_weight[a], lsw_b)
    take_b = lsw_b > lsw_sub
    if not take_b:
        take_b = uniform(rng_state) < math.exp(lsw_b - lsw_sub)
    if not take_b:
        copy_into(t.q_proposal[a], t.q_proposal[c])
        copy_into(t.grad_proposal[a], t.grad_proposal[c])
        t.logp_proposal[c] = t.logp_proposal[a]
        t.energy_proposal[c] = t.energy_proposal[a]
        t.index_proposal[c] = t.index_proposal[a]
    ok = _merge_checks(
        t.p_sharp_begin[a],
        t.p_end[a],
        t.p_sharp_end[a],
        t.rho[a],
        t.p_begin[c],
        t.p_sharp_begin[c],
        t.p_sharp_end[c],
        t.rho[c],
        t.rho[c],
    )
    copy_into(t.p_begin[a], t.p_begin[c])
    copy_into(t.p_sharp_begin[a], t.p_sharp_begin[c])
    t.log_weight[c] = lsw_sub
    return ok


@njit(inline="always")
def _build_subtree(
    depth: int,
    model: Model,
    metric: Metric,
    z: PhasePoint,
    epsilon: float,
    H0: float,
    max_energy_error: float,
    rng_state: np.ndarray,
    subtrees: Subtrees,
    n_leapfrog: int,
    sum_metro_prob: float,
    max_error: float,
    sum_sym: float,
    index: float,
    direction: float,
) -> tuple[bool, int, int, float, float, bool, float]:
    """Integrate and merge a subtree of ``2**depth`` leaves from the trajectory end ``z``.

    ``n_leapfrog``, ``sum_metro_prob``, ``max_error`` and ``sum_sym`` (symmetric acceptance
    statistics) are the transition's running totals; ``index`` is the end's index in the
    trajectory and ``direction`` +1 or -1. Returns ``(valid, slot of the finished subtree,
    n_leapfrog, sum_metro_prob, max_error, diverged, sum_sym)``.
    """
    pending = subtrees.pending
    max_tree_depth = pending.shape[0]
    for j in range(max_tree_depth):
        pending[j] = j
    cur = max_tree_depth
    n_leaves = 1 << depth
    for n in range(n_leaves):
        logp, h = leapfrog_energy(model, metric, z, epsilon)
        n_leapfrog += 1
        err = h - H0
        if abs(err) > abs(max_error):
            max_error = err
        log_w = H0 - h
        if log_w > 0.0:
            sum_metro_prob += 1.0
        else:
            sum_metro_prob += math.exp(log_w)
        if err > max_energy_error:
            return False, cur, n_leapfrog, sum_metro_prob, max_error, True, sum_sym
        # 2 min(1, e^x) / (1 + e^x), written so that neither branch overflows
        if log_w > 0.0:
            sum_sym += 2.0 / (1.0 + math.exp(log_w))
        else:
            e = math.exp(log_w)
            sum_sym += 2.0 * e / (1.0 + e)
        _leaf_to_slot(subtrees, cur, z, logp, h, log_w, index + direction * (n + 1))
        j = 0
        m = n
        while m & 1:
            if not _merge_into(subtrees, pending[j], cur, rng_state):
                return False, cur, n_leapfrog, sum_metro_prob, max_error, False, sum_sym
            j += 1
            m >>= 1
        if n + 1 < n_leaves:
            free = pending[j]
            pending[j] = cur
            cur = free
    return True, cur, n_leapfrog, sum_metro_prob, max_error, False, sum_sym


@signature(lambda t: (t.model, t.metric, t.vector, t.vector, t.f8, t.f8, t.i8, t.f8, t.rng,
                      t.nuts_workspace),
           result=lambda t: t.transition_stats)
@njit(borrow=True)
def nuts_transition(
    model: Model,
    metric: Metric,
    q: np.ndarray,
    grad: np.ndarray,
    logp: float,
    epsilon: float,
    max_tree_depth: int,
    max_energy_error: float,
    rng_state: np.ndarray,
    work: NutsWorkspace,
) -> TransitionStats:
    """One NUTS transition from ``(q, grad, logp)`` with step size ``epsilon`` (see module doc).

    Parameters
    ----------
    model : Model
        The model (see :mod:`kernels.model_abi`).
    metric : Metric
        The chain's inverse metric.
    q, grad : float64[:]
        Current position and log-density gradient; overwritten with the selected state.
    logp : float
        Log density at ``q`` (must be finite).
    epsilon : float
        Step size used for every leapfrog step (already jittered if jitter is wanted).
    max_tree_depth : int
        Maximum number of doublings (Stan: 10), at most the one ``work`` was allocated for.
    max_energy_error : float
        Divergence threshold on :math:`h - H_0` (Stan: 1000).
    rng_state : uint64[4]
        The chain's random stream, advanced in place.
    work : NutsWorkspace
        Scratch from :func:`nuts_workspace`.

    Returns
    -------
    TransitionStats
        The selected state's log density and the statistics described in the module docstring.
    """
    fwd, bck, rho = work.forward, work.backward, work.rho
    H0 = draw_momentum(metric, rng_state, fwd, logp)
    copy_into(q, fwd.q)
    copy_into(grad, fwd.grad)
    copy_into(q, bck.q)
    copy_into(fwd.p, bck.p)
    copy_into(grad, bck.grad)
    copy_into(fwd.p_sharp, bck.p_sharp)
    copy_into(fwd.p, rho)

    t = work.subtrees
    n_leapfrog = 0
    sum_metro_prob = 0.0
    max_error = 0.0
    diverging = False
    log_sum_weight = 0.0
    logp_sample = logp
    h_sample = H0
    sum_sym = 0.0
    index_sample = 0.0
    index_fwd = 0.0  # the trajectory's ends' indices (leapfrog steps from the start)
    index_bck = 0.0
    depth = np.int64(0)  # not the literal 0: _build_subtree would be compiled twice
    while depth < max_tree_depth:
        if uniform(rng_state) > 0.5:
            end, a_beg_ps, eps, index, direction = fwd, bck.p_sharp, epsilon, index_fwd, 1.0
        else:
            end, a_beg_ps, eps, index, direction = bck, fwd.p_sharp, -epsilon, index_bck, -1.0
        copy_into(end.p, work.p_join)
        copy_into(end.p_sharp, work.p_sharp_join)
        valid, c, n_leapfrog, sum_metro_prob, max_error, diverging, sum_sym = _build_subtree(
            depth, model, metric, end, eps, H0, max_energy_error, rng_state, t, n_leapfrog,
            sum_metro_prob, max_error, sum_sym, index, direction)
        if not valid:
            break
        if direction > 0.0:
            index_fwd += 1 << depth
        else:
            index_bck -= 1 << depth
        depth += 1

        lsw_sub = t.log_weight[c]
        take = lsw_sub > log_sum_weight
        if not take:
            take = uniform(rng_state) < math.exp(lsw_sub - log_sum_weight)
        if take:
            copy_into(t.q_proposal[c], q)
            copy_into(t.grad_proposal[c], grad)
            logp_sample = t.logp_proposal[c]
            h_sample = t.energy_proposal[c]
            index_sample = t.index_proposal[c]
        log_sum_weight = log_sum_exp(log_sum_weight, lsw_sub)

        b_rho = t.rho[c]
        ok = _merge_checks(
            a_beg_ps,
            work.p_join,
            work.p_sharp_join,
            rho,
            t.p_begin[c],
            t.p_sharp_begin[c],
            t.p_sharp_end[c],
            b_rho,
            rho,
        )
        if not ok:
            break

    accept_stat = sum_metro_prob / n_leapfrog if n_leapfrog > 0 else 0.0
    work.info[INFO_INDEX] = index_sample
    work.info[INFO_SYM_ACCEPT] = sum_sym / n_leapfrog if n_leapfrog > 0 else 0.0
    return TransitionStats(logp_sample, accept_stat, depth, n_leapfrog, diverging, h_sample,
                           h_sample - H0, max_error)
