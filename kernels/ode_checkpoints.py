r"""Checkpoints of a Rosenbrock solve, for an adjoint that reads the forward solution backwards.

The stiff adjoint (:mod:`autodiff.ops.ode_adjoint`) integrates backwards in time and needs
:math:`y(t)` at every time its solver asks for.  Keeping the dense output of every forward step
costs memory in proportion to the number of steps :math:`N`; instead, as CVODES does (Serban &
Hindmarsh 2005, "CVODES: the sensitivity-enabled ODE solver in SUNDIALS", §3.2), the forward
pass keeps *checkpoints* -- the time, state and next step size every :math:`K` accepted steps --
and the dense output of the current *segment* (the steps since the last checkpoint) only.  The
backward pass walks the segments from the last to the first; before it enters segment
:math:`c` it solves forward again from checkpoint :math:`c` for :math:`K` steps, recording
their dense output.  A Rosenbrock step depends only on :math:`(t, y, h)` at its start (the
Jacobian and :math:`f` are evaluated afresh at every step, and a step starts after an accepted
one with no rejection pending), so the recomputed steps are the forward pass's, bit for bit.

**The number of checkpoints** is chosen as the solve runs, without knowing :math:`N`: segments
start at :math:`K_0` steps; when the checkpoints fill their array (:math:`2K` of them), every
other one is dropped and :math:`K` doubles.  So at the end :math:`K/2 < \#\text{checkpoints}
\le 2K` and :math:`K \approx \sqrt N`: the record holds about :math:`2\sqrt{N}\,(n + 2)` floats
of checkpoints and :math:`\sqrt N\,(3n + 1)` of one segment, instead of :math:`N(3n + 1)`, and
every step is recomputed at most once (one extra forward solve; the last segment is kept from
the forward pass).  No option: with one recomputation whatever :math:`N`, fewer checkpoints
would only trade memory that is already small for a longer segment.

**Layout.**  ``C`` (int64 counters: :data:`N_CHECKPOINTS`, :data:`SEGMENT_STEPS`,
:data:`N_ROWS`), ``checkpoints`` (rows ``[t, h, y]``: ``h`` the signed step the solver was about
to attempt, 0 for the initial-step heuristic) and ``segment`` (rows ``[t, y, d_1, d_2]``: an
accepted step's end and its dense-output coefficients, row 0 the segment's start).  Row ``k`` of
``checkpoints`` is the start of segment ``k``, which holds the :math:`K` steps to the start of
segment ``k + 1`` (its first and last rows are the two checkpoints' points); the last segment
holds at most :math:`K`.
"""

from __future__ import annotations

import numpy as np

from kernels.jit import njit
from kernels.ode_common import DONE, NEED_F, PHASE, SOLVED, STATUS, H, T
from kernels.ode_rosenbrock import D1, D2, HAVE_F0, Y, dense_slope, dense_value

# int64 counters of ``C``
N_CHECKPOINTS, SEGMENT_STEPS, N_ROWS = range(3)
N_COUNTERS = 3
#: the first segments' length (steps); doubled as the solve grows
FIRST_SEGMENT_STEPS = 4


@njit
def checkpoint_arrays(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(C, checkpoints, segment)`` for a solve of an ``n``-dimensional system."""
    C = np.zeros(N_COUNTERS, np.int64)
    C[SEGMENT_STEPS] = FIRST_SEGMENT_STEPS
    return (C, np.empty((2 * FIRST_SEGMENT_STEPS, 2 + n)),
            np.empty((FIRST_SEGMENT_STEPS + 1, 1 + 3 * n)))


@njit(inline="always")
def _passed_a_step(request: int, I: np.ndarray) -> bool:
    """Whether ``request``, just returned by ``rosenbrock_advance``, follows the start of the
    solve or an accepted step (the solver then asks for ``f`` at the new point), or ends a
    successful solve."""
    return ((request == NEED_F and I[PHASE] == HAVE_F0)
            or (request == DONE and I[STATUS] == SOLVED))


@njit(borrow=True, error_model="numpy")
def _append_row(C: np.ndarray, segment: np.ndarray, W: np.ndarray, S: np.ndarray) -> None:
    n = W.shape[1]
    r = C[N_ROWS]
    segment[r, 0] = S[T]
    for i in range(n):
        segment[r, 1 + i] = W[Y, i]
        segment[r, 1 + n + i] = W[D1, i]
        segment[r, 1 + 2 * n + i] = W[D2, i]
    C[N_ROWS] = r + 1


@njit(error_model="numpy")
def record_forward(C: np.ndarray, checkpoints: np.ndarray, segment: np.ndarray, W: np.ndarray,
                   S: np.ndarray, I: np.ndarray, request: int) -> tuple[np.ndarray, np.ndarray]:
    """After ``request = rosenbrock_advance(W, S, I, ...)`` of the forward pass: at the start
    and after each accepted step, append the point to the segment; every ``C[SEGMENT_STEPS]``
    steps, the point (the segment's last) also begins a new segment, with a checkpoint
    (thinning the checkpoints when they are full: module docstring).  Returns the arrays, new
    ones when they grew."""
    if not _passed_a_step(request, I):
        return checkpoints, segment
    if C[N_ROWS] == 0:  # the start
        _checkpoint(C, checkpoints, W, S)
    _append_row(C, segment, W, S)
    if C[N_ROWS] == C[SEGMENT_STEPS] + 1 and request != DONE:
        if C[N_CHECKPOINTS] == checkpoints.shape[0]:  # keep every other one; longer segments
            k = 2 * C[SEGMENT_STEPS]
            kept = (C[N_CHECKPOINTS] + 1) // 2
            thinned = np.empty((2 * k, checkpoints.shape[1]))
            for j in range(kept):
                for i in range(checkpoints.shape[1]):
                    thinned[j, i] = checkpoints[2 * j, i]
            checkpoints = thinned
            segment = np.empty((k + 1, segment.shape[1]))
            C[N_CHECKPOINTS] = kept
            C[SEGMENT_STEPS] = k
        _checkpoint(C, checkpoints, W, S)
        _append_row(C, segment, W, S)
    return checkpoints, segment


@njit(borrow=True, error_model="numpy")
def _checkpoint(C: np.ndarray, checkpoints: np.ndarray, W: np.ndarray, S: np.ndarray) -> None:
    """A checkpoint at the current point, which begins an empty segment."""
    n = W.shape[1]
    c = C[N_CHECKPOINTS]
    checkpoints[c, 0] = S[T]
    checkpoints[c, 1] = S[H]
    for i in range(n):
        checkpoints[c, 2 + i] = W[Y, i]
    C[N_CHECKPOINTS] = c + 1
    C[N_ROWS] = 0


@njit(borrow=True, error_model="numpy")
def load_checkpoint(C: np.ndarray, checkpoints: np.ndarray, c: int, y: np.ndarray,
                    ts: np.ndarray, t_end: float) -> float:
    """Prepare the recomputation of segment ``c``: its starting state into ``y``, the times
    ``[t_c, t_end]`` of the solve to restart into ``ts`` (``t_end`` the forward solve's last
    time, which bounds its steps), the segment emptied; returns the first step to take
    (``rosenbrock.set_first_step``)."""
    n = y.shape[0]
    ts[0] = checkpoints[c, 0]
    ts[1] = t_end
    for i in range(n):
        y[i] = checkpoints[c, 2 + i]
    C[N_ROWS] = 0
    return checkpoints[c, 1]


@njit(borrow=True, error_model="numpy")
def record_segment(C: np.ndarray, segment: np.ndarray, W: np.ndarray, S: np.ndarray,
                   I: np.ndarray, request: int) -> bool:
    """After ``request = rosenbrock_advance(...)`` of a recomputation: append the point after
    the start or an accepted step; True when the segment is complete (its ``K`` steps)."""
    if _passed_a_step(request, I):
        _append_row(C, segment, W, S)
    return C[N_ROWS] == C[SEGMENT_STEPS] + 1


@njit(borrow=True, error_model="numpy")
def stored_solution(C: np.ndarray, segment: np.ndarray, t: float, out: np.ndarray,
                    slope: np.ndarray) -> None:
    """The solution at ``t`` into ``out`` and its derivative in ``t`` into ``slope``: the dense
    output of the segment's step holding ``t`` (clamped to the segment; times increasing)."""
    n = out.shape[0]
    lo, hi = 0, C[N_ROWS] - 1  # invariant: segment[lo, 0] <= t <= segment[hi, 0]
    t = min(max(t, segment[0, 0]), segment[hi, 0])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if segment[mid, 0] <= t:
            lo = mid
        else:
            hi = mid
    h = segment[hi, 0] - segment[lo, 0]
    s = (t - segment[lo, 0]) / h
    for i in range(n):
        y0 = segment[lo, 1 + i]
        y1 = segment[hi, 1 + i]
        d1 = segment[hi, 1 + n + i]
        d2 = segment[hi, 1 + 2 * n + i]
        out[i] = dense_value(y0, y1, d1, d2, s)
        slope[i] = dense_slope(y0, y1, d1, d2, s, h)


def record_floats(n: int, steps: int) -> int:
    """The floats :func:`record_forward` holds at the end of a solve of ``steps`` accepted steps
    of an ``n``-dimensional system (its arrays' sizes; the same counting, for reports).

    >>> record_floats(3, 10_000)  # every step's row [t, y, d_1, d_2] would be 100_000
    2570
    """
    k, count = FIRST_SEGMENT_STEPS, 1  # checkpoint 0 at the start
    while count * k < steps:  # the point that ends segment ``count - 1`` is not the last
        if count == 2 * k:
            k *= 2
            count = (count + 1) // 2
        count += 1
    return 2 * k * (2 + n) + (k + 1) * (1 + 3 * n)
