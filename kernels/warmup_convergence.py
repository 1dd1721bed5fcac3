r"""A warmup that ends when the adaptation has converged (``early_stop_warmup=True``).

With nutpie's adaptations (``mass_matrix_adaptation="fisher"`` or ``"low_rank"``) the metric is
re-estimated at every *switch* of the estimators (:mod:`kernels.fisher_adaptation`). At each
switch from iteration :data:`EARLY_STOP_MIN` on, :func:`convergence_check` compares the
diagonal of the inverse metric :math:`m` and the dual-averaging step size
:math:`\bar\epsilon = e^{\bar x}` with their values :math:`m', \bar\epsilon'` at the previous
check:

.. math::

    r = \Bigl(\tfrac1d\sum_i \log^2(m_i / m'_i)\Bigr)^{1/2} < 0.25, \qquad
    |\log(\bar\epsilon / \bar\epsilon')| < 0.2,

and the adaptation has *converged* when both hold at :data:`EARLY_STOP_STREAK` (2) checks in a
row. A change of a quarter in a scale changes the sampler's efficiency by little (the
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
from kernels.step_size import DA_COUNTER, DA_X_BAR

__all__ = [
    "CONV_SIZE",
    "CONV_END",
    "EARLY_STOP_MIN",
    "EARLY_STOP_STREAK",
    "EARLY_STOP_FINAL_WINDOW",
    "EARLY_STOP_METRIC_TOL",
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
#: Tolerance on the absolute log change of the averaged step size.
EARLY_STOP_STEP_TOL = 0.2


@signature(lambda t: (t.i8, t.i8, t.row.inv_diag, t.row.convergence_ref, t.row.dual_averaging,
                      t.row.warmup_convergence), result=lambda t: t.boolean)
@njit
def convergence_check(i: int, num_warmup: int, inv_diag: np.ndarray, ref: np.ndarray,
                      da: np.ndarray, conv: np.ndarray) -> bool:
    """A check at warmup iteration ``i`` (a switch): update ``ref`` and ``conv`` (module
    docstring); returns whether the adaptation has converged now, in which case
    ``conv[CONV_END]`` is the iteration at which the warmup ends (it must end before
    ``num_warmup`` to count)."""
    d = inv_diag.shape[0]
    s = 0.0
    for k in range(d):
        r = math.log(inv_diag[k] / ref[k]) if ref[k] > 0.0 else math.inf
        s += r * r
        ref[k] = inv_diag[k]
    metric_change = math.sqrt(s / d)
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
