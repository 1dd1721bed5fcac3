r"""A warmup that ends when the adaptation has converged (``early_stop_warmup=True``).

With nutpie's adaptations (``mass_matrix_adaptation="fisher"`` or ``"low_rank"``) the metric is
re-estimated at every *switch* of the estimators (:mod:`kernels.fisher_adaptation`). At each
switch from iteration :data:`EARLY_STOP_MIN` on, :func:`convergence_check` compares the
inverse metric :math:`M^{-1}` and the dual-averaging step size
:math:`\bar\epsilon = e^{\bar x}` with their values :math:`M'^{-1}, \bar\epsilon'` at the
previous check. The metric is compared through its quadratic form
:math:`m(u) = u^\top M^{-1} u` along directions :math:`u`: the coordinate axes :math:`e_i` (the
diagonal of :math:`M^{-1}`) and, with the low-rank metric
:math:`M^{-1} = S(I + V(\Lambda - I)V^\top)S` (:mod:`kernels.metric`), the directions
:math:`u_k = S^{-1}v_k` of its kept eigenvectors, new and old (on which
:math:`m(u_k) = \lambda_k`: a rotated or re-scaled low-rank part changes them, while it may
leave the diagonal alone):

.. math::

    r_{diag} = \Bigl(\tfrac1d\sum_i \log^2\frac{m(e_i)}{m'(e_i)}\Bigr)^{1/2} < 0.25, \quad
    r_{rank} = \Bigl(\tfrac1K\sum_k \log^2\frac{m(u_k)}{m'(u_k)}\Bigr)^{1/2} < \log 2,
    \quad |\log(\bar\epsilon / \bar\epsilon')| < 0.2,

and the adaptation has *converged* when all hold at :data:`EARLY_STOP_STREAK` (2) checks in a
row. The low-rank part's tolerance is the estimator's own cutoff
(:data:`kernels.low_rank_adaptation.LOW_RANK_CUTOFF`, 2): an eigenvalue within a factor 2 of 1
is not worth representing, so a direction whose eigenvalue hovers near 2 and is kept at one
check and dropped at the next must not count as a change. A change of a quarter in a scale changes the sampler's efficiency by little (the
preconditioned condition number by a factor :math:`\le e^{0.5}`), which sets the tolerance;
requiring it twice guards against a chance agreement of two noisy short windows.

Then the metric is frozen and :data:`EARLY_STOP_FINAL_WINDOW` (50, Stan's ``term_buffer``)
further iterations adapt the step size only, dual averaging continuing without a restart (as in
nutpie's final window: a restart, as at the end of Stan's windows, gave smaller final step
sizes after only 50 iterations); the warmup ends there with the step size :math:`e^{\bar x}`. The remaining iterations up to ``num_warmup`` are *skipped*:
no transition, no gradient, the chain's state unchanged (a kept warmup draw repeats it with
``n_steps = 0``). ``num_warmup`` is therefore the upper bound, used in full when the adaptation
does not converge; the warmup actually used is ``state.warmup_used`` per chain.

The decision is each chain's own, from its own state, so the draws do not depend on threads,
chunks or other chains.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.jit import njit, signature
from kernels.low_rank_adaptation import LOW_RANK_CUTOFF
from kernels.step_size import DA_COUNTER, DA_X_BAR

__all__ = [
    "quadratic_form",
    "CONV_SIZE",
    "CONV_END",
    "EARLY_STOP_MIN",
    "EARLY_STOP_STREAK",
    "EARLY_STOP_FINAL_WINDOW",
    "EARLY_STOP_METRIC_TOL",
    "EARLY_STOP_RANK_TOL",
    "EARLY_STOP_STEP_TOL",
    "convergence_check",
]

#: Layout of a chain's ``warmup_convergence`` row: the step size at the previous check, the
#: number of consecutive checks that agreed, and the iteration at which the warmup ends (-1:
#: not converged).
CONV_REF_STEP, CONV_STREAK, CONV_END = 0, 1, 2
CONV_SIZE = 3
#: First iteration at which convergence is checked.
EARLY_STOP_MIN = 100
#: Consecutive agreeing checks that mean convergence.
EARLY_STOP_STREAK = 2
#: Step-size-only iterations after convergence (Stan's ``term_buffer``).
EARLY_STOP_FINAL_WINDOW = 50
#: Tolerance on the root-mean-square log change of the diagonal inverse metric.
EARLY_STOP_METRIC_TOL = 0.25
#: Tolerance on the root-mean-square log change along the low-rank eigenvectors (the log of
#: the low-rank estimator's cutoff).
EARLY_STOP_RANK_TOL = math.log(LOW_RANK_CUTOFF)
#: Tolerance on the absolute log change of the averaged step size.
EARLY_STOP_STEP_TOL = 0.2


@njit(inline="always")
def _kept(vals: np.ndarray) -> int:
    # the low-rank eigenvalues in use come first, then ones (kernels.metric)
    r = 0
    while r < vals.shape[0] and vals[r] != 1.0:
        r += 1
    return r


@njit
def quadratic_form(u: np.ndarray, inv_diag: np.ndarray, vecs: np.ndarray,
                   vals: np.ndarray) -> float:
    r""":math:`u^\top M^{-1}u` for :math:`M^{-1} = S(I + V(\Lambda - I)V^\top)S`,
    :math:`S = \operatorname{diag}(\sqrt{\text{inv\_diag}})`, ``vecs`` rows the columns of
    :math:`V` (none for a diagonal metric: ``vecs`` of shape ``(0, 0)``).

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[0.6, 0.8], [0.0, 0.0]])
    >>> u, inv_diag, vals = np.array([1.0, 2.0]), np.array([4.0, 1.0]), np.array([3.0, 1.0])
    >>> round(float(quadratic_form(u, inv_diag, v, vals)), 12)   # |Su|^2 + 2 (v . Su)^2
    23.68
    """
    d = inv_diag.shape[0]
    w = np.empty(d)
    s = 0.0
    for i in range(d):
        w[i] = math.sqrt(inv_diag[i]) * u[i]
        s += w[i] * w[i]
    for k in range(_kept(vals)):
        t = 0.0
        for i in range(d):
            t += vecs[k, i] * w[i]
        s += (vals[k] - 1.0) * t * t
    return s


@njit
def _low_rank_change(inv_diag, vecs, vals, ref_diag, ref_vecs, ref_vals) -> float:
    # r_rank of the module docstring over the kept eigenvectors of both metrics (0 if none)
    d = inv_diag.shape[0]
    u = np.empty(d)
    s = 0.0
    n = 0
    for new in (True, False):
        diag, v, lam = (inv_diag, vecs, vals) if new else (ref_diag, ref_vecs, ref_vals)
        for k in range(_kept(lam)):
            for i in range(d):
                u[i] = v[k, i] / math.sqrt(diag[i])
            a = quadratic_form(u, inv_diag, vecs, vals)
            b = quadratic_form(u, ref_diag, ref_vecs, ref_vals)
            r = math.log(a / b) if b > 0.0 and a > 0.0 else math.inf
            s += r * r
            n += 1
    return math.sqrt(s / n) if n > 0 else 0.0


@signature(lambda t: (t.i8, t.i8, t.row.inv_diag, t.row.lr_vecs, t.vector,
                      t.row.convergence_ref, t.row.convergence_ref_vecs,
                      t.row.convergence_ref_vals, t.row.dual_averaging,
                      t.row.warmup_convergence), result=lambda t: t.boolean)
@njit
def convergence_check(i: int, num_warmup: int, inv_diag: np.ndarray, vecs: np.ndarray,
                      vals: np.ndarray, ref: np.ndarray, ref_vecs: np.ndarray,
                      ref_vals: np.ndarray, da: np.ndarray, conv: np.ndarray) -> bool:
    """A check at warmup iteration ``i`` (a switch) of the metric ``(inv_diag, vecs, vals)``
    (``vecs``, ``vals`` of size 0 for a diagonal metric): update the references ``ref*`` and
    ``conv`` (module docstring); returns whether the adaptation has converged now, in which
    case ``conv[CONV_END]`` is the iteration at which the warmup ends (it must end before
    ``num_warmup`` to count)."""
    d = inv_diag.shape[0]
    low_rank = vecs.shape[0] > 0
    first = not ref[0] > 0.0
    rank_change = 0.0
    if low_rank:
        rank_change = math.inf if first else _low_rank_change(inv_diag, vecs, vals, ref, ref_vecs,
                                                              ref_vals)
    s = 0.0
    e = np.zeros(d)
    for k in range(d):
        if first:
            r = math.inf
        elif low_rank:  # the diagonal of the whole M^-1
            e[k] = 1.0
            r = math.log(quadratic_form(e, inv_diag, vecs, vals)
                         / quadratic_form(e, ref, ref_vecs, ref_vals))
            e[k] = 0.0
        else:
            r = math.log(inv_diag[k] / ref[k])
        s += r * r
    for k in range(d):
        ref[k] = inv_diag[k]
    if low_rank:
        for k in range(vals.shape[0]):
            ref_vals[k] = vals[k]
            for j in range(d):
                ref_vecs[k, j] = vecs[k, j]
    metric_change = math.sqrt(s / d)
    if rank_change >= EARLY_STOP_RANK_TOL:
        metric_change = math.inf
    step = math.exp(da[DA_X_BAR]) if da[DA_COUNTER] > 0.0 else math.nan
    step_change = abs(math.log(step / conv[CONV_REF_STEP])) if conv[CONV_REF_STEP] > 0 else math.inf
    conv[CONV_REF_STEP] = step
    if metric_change < EARLY_STOP_METRIC_TOL and step_change < EARLY_STOP_STEP_TOL:
        conv[CONV_STREAK] += 1.0
    else:
        conv[CONV_STREAK] = 0.0
    end = i + 1 + EARLY_STOP_FINAL_WINDOW
    if conv[CONV_STREAK] >= EARLY_STOP_STREAK and i >= EARLY_STOP_MIN and end < num_warmup:
        conv[CONV_END] = end
        return True
    return False
