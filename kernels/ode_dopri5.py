r"""Dormand-Prince 5(4) with dense output, as a reverse-communication state machine.

The method of Dormand & Prince (1980, "A family of embedded Runge-Kutta formulae", J. Comp.
Appl. Math. 6): seven stages, the last evaluated at the new solution (first same as last, so six
evaluations per accepted step), a fifth-order solution and an embedded fourth-order one whose
difference estimates the local error.  Step-size control, initial step and dense output follow
Hairer, Nørsett & Wanner (1993), *Solving Ordinary Differential Equations I*, II.4-II.6 and
their code DOPRI5:

* a step is accepted when the error norm (:mod:`kernels.ode_common`) is at most 1;
* the step-size factor is Lund's stabilised (PI) controller
  :math:`\|e_n\|^{-0.17}\,\|e_{n-1}\|^{0.04}`, times a safety factor 0.9, bounded to
  :math:`[0.2, 10]`; after a rejection the step does not grow;
* the initial step from the norms of :math:`y_0`, :math:`f(t_0, y_0)` and a difference quotient
  of :math:`f` (one extra evaluation);
* outputs at the requested times by the continuous extension of order 4 (Hairer et al. II.6,
  the coefficients of DOPRI5's ``CONTD5``), so the requested times never shorten a step.

A non-finite error estimate rejects the step and divides it by 4; a step below round-off ends
the solve with :data:`~kernels.ode_common.STEP_TOO_SMALL`, more than ``mxstep`` attempted steps
with :data:`~kernels.ode_common.MXSTEP_EXCEEDED` (counted since the last output time).  Times may
decrease (the adjoint solves run backwards).  The protocol and the workspace:
:mod:`kernels.ode_common`.

The two entry points borrow their arrays (``njit(borrow=True)``: no reference counting at each
stage) and divide as NumPy does (``x / 0`` is inf or nan, as in the generated code that calls
them: a Python exception could not leave a model kernel).
"""

from __future__ import annotations

import numpy as np

from kernels.jit import njit
from kernels.ode_common import (
    ATOL,
    DIRECTION,
    DONE,
    EPS,
    FACOLD,
    INTERVAL_STEPS,
    MXSTEP,
    MXSTEP_EXCEEDED,
    N_ERR,
    NEXT_OUT,
    NONFINITE,
    NSTEPS,
    PHASE,
    REJECTED,
    RTOL,
    SOLVED,
    STAGE,
    STATUS,
    STEP_TOO_SMALL,
    H,
    T,
    fail,
    request_f,
    start,
)

# the Butcher tableau (Hairer et al. 1993, Table II.5.2)
C2, C3, C4, C5 = 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0
A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
    [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
    [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
])
C = np.array([0.0, C2, C3, C4, C5, 1.0, 1.0])
# fifth minus fourth order weights (the error estimate), stages 1..7
E = np.array([71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0,
              22.0 / 525.0, -1.0 / 40.0])
# the dense output's coefficients (DOPRI5, CONTD5)
D = np.array([-12715105075.0 / 11282082432.0, 0.0, 87487479700.0 / 32700410799.0,
              -10690763975.0 / 1880347072.0, 701980252875.0 / 199316789632.0,
              -1453857185.0 / 822651844.0, 69997945.0 / 29380423.0])

# rows of W: the stages K1..K7 are rows 0..6
Y, YNEW, R5 = 7, 8, 9
# phases
START, HINIT, STEPPING = 0, 1, 2
SAFE, FAC_MIN, FAC_MAX, BETA = 0.9, 0.2, 10.0, 0.04
EXPO = 0.2 - BETA * 0.75


@njit(borrow=True, error_model="numpy")
def dopri5_start(W: np.ndarray, S: np.ndarray, I: np.ndarray, y0: np.ndarray, ts: np.ndarray,
                 ys: np.ndarray, rtol: float, atol: float, mxstep: int, n_err: int) -> None:
    """Prepare the workspace for a solve from ``y0`` over the times ``ts`` into ``ys``."""
    start(S, I, ts, rtol, atol, mxstep, n_err)
    I[PHASE] = START
    for i in range(W.shape[1]):  # loops, not slice assignments: those may copy (allocate)
        W[Y, i] = y0[i]
        ys[0, i] = y0[i]


@njit(borrow=True, error_model="numpy")
def dopri5_advance(W: np.ndarray, S: np.ndarray, I: np.ndarray, ts: np.ndarray,
                   ys: np.ndarray) -> int:
    """Run the solve until it needs ``f`` (returns ``NEED_F``) or has ended (``DONE``)."""
    n = W.shape[1]
    ne = I[N_ERR]
    m = ts.shape[0]
    d = S[DIRECTION]
    rtol, atol = S[RTOL], S[ATOL]
    if I[PHASE] == START:
        if m == 1:
            I[STATUS] = SOLVED
            return DONE
        I[PHASE] = HINIT
        I[STAGE] = 0
        return request_f(S, I, Y, S[T], 0)
    if I[PHASE] == HINIT:
        if I[STAGE] == 0:  # f(t0, y0) is in K1: guess a first step, probe f there
            for i in range(n):
                if not np.isfinite(W[0, i]):
                    return fail(I, ys, NONFINITE)
            d0 = _scaled_norm(W[Y], W[Y], rtol, atol, ne)
            d1 = _scaled_norm(W[0], W[Y], rtol, atol, ne)
            h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
            h0 = min(h0, abs(ts[m - 1] - ts[0]))
            for i in range(n):
                W[YNEW, i] = W[Y, i] + d * h0 * W[0, i]
            S[H] = h0
            I[STAGE] = 1
            return request_f(S, I, YNEW, S[T] + d * h0, 1)
        h0 = S[H]
        s = 0.0
        for i in range(ne):
            sc = atol + rtol * abs(W[Y, i])
            s += ((W[1, i] - W[0, i]) / sc) ** 2
        d2 = np.sqrt(s / max(ne, 1)) / h0
        d1 = _scaled_norm(W[0], W[Y], rtol, atol, ne)
        dmax = max(d1, d2)
        h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** 0.2
        S[H] = d * min(100.0 * h0, h1, abs(ts[m - 1] - ts[0]))
        if not np.isfinite(S[H]):
            S[H] = d * h0
        I[PHASE] = STEPPING
        I[STAGE] = 1
    # STEPPING: I[STAGE] is the stage whose input is to be formed next (1..6), or 7 when K7
    # (f at the new solution) has just arrived
    while True:
        s = I[STAGE]
        h = S[H]
        t = S[T]
        if s == 1:
            if I[INTERVAL_STEPS] >= I[MXSTEP]:
                return fail(I, ys, MXSTEP_EXCEEDED)
            if abs(h) <= 16.0 * EPS * max(abs(t), 1e-300):
                return fail(I, ys, STEP_TOO_SMALL)
            t_end = ts[m - 1]
            if d * (t + 1.01 * h - t_end) > 0.0:
                h = t_end - t
                S[H] = h
            I[NSTEPS] += 1
            I[INTERVAL_STEPS] += 1
        if s <= 6:
            # the sums over the stages accumulate in W[YNEW] with the component loop inside:
            # LLVM vectorises it (the same operations in the same order per component)
            for i in range(n):
                W[YNEW, i] = 0.0
            for j in range(s):
                a = A[s, j]
                for i in range(n):
                    W[YNEW, i] += a * W[j, i]
            for i in range(n):
                W[YNEW, i] = W[Y, i] + h * W[YNEW, i]
            I[STAGE] = s + 1
            return request_f(S, I, YNEW, t + C[s] * h, s)
        # all seven stages are in: estimate the error, accept or reject
        err = 0.0
        for i in range(ne):
            e = 0.0
            for j in range(7):
                e += E[j] * W[j, i]
            sc = atol + rtol * max(abs(W[Y, i]), abs(W[YNEW, i]))
            err += (h * e / sc) ** 2
        err = np.sqrt(err / max(ne, 1))
        I[STAGE] = 1
        if not np.isfinite(err):
            S[H] = 0.25 * h
            I[REJECTED] = 1
            continue
        fac11 = max(err, 1e-300) ** EXPO
        if err <= 1.0:
            t_new = t + h
            _dense_outputs(W, ts, ys, I, t, h, t_new, d)
            for i in range(n):
                W[0, i] = W[6, i]
                W[Y, i] = W[YNEW, i]
            S[T] = t_new
            fac = fac11 / S[FACOLD] ** BETA
            fac = max(1.0 / FAC_MAX, min(1.0 / FAC_MIN, fac / SAFE))
            h_new = h / fac
            if I[REJECTED] == 1:
                h_new = d * min(abs(h_new), abs(h))
            S[FACOLD] = max(err, 1e-4)
            I[REJECTED] = 0
            S[H] = h_new
            if I[NEXT_OUT] >= m:
                I[STATUS] = SOLVED
                return DONE
        else:
            S[H] = h / min(1.0 / FAC_MIN, fac11 / SAFE)
            I[REJECTED] = 1


@njit(inline="always")
def _scaled_norm(x: np.ndarray, y: np.ndarray, rtol: float, atol: float, ne: int) -> float:
    s = 0.0
    for i in range(ne):
        s += (x[i] / (atol + rtol * abs(y[i]))) ** 2
    return np.sqrt(s / max(ne, 1))


@njit(inline="always")
def _dense_outputs(W: np.ndarray, ts: np.ndarray, ys: np.ndarray, I: np.ndarray, t: float,
                   h: float, t_new: float, d: float) -> None:
    """Write the outputs whose times lie in the accepted step ``(t, t_new]``."""
    m = ts.shape[0]
    n = W.shape[1]
    while I[NEXT_OUT] < m and d * (ts[I[NEXT_OUT]] - t_new) <= 0.0:
        k = I[NEXT_OUT]
        if ts[k] == t_new:
            for i in range(n):
                ys[k, i] = W[YNEW, i]
        else:
            th = (ts[k] - t) / h
            th1 = 1.0 - th
            for i in range(n):  # r5 accumulated in row R5, component loop inside (above)
                W[R5, i] = 0.0
            for j in range(7):
                dj = D[j]
                for i in range(n):
                    W[R5, i] += dj * W[j, i]
            for i in range(n):
                y0 = W[Y, i]
                diff = W[YNEW, i] - y0
                bspl = h * W[0, i] - diff
                r5 = W[R5, i]
                ys[k, i] = y0 + th * (diff + th1 * (bspl + th * (diff - h * W[6, i] - bspl
                                                                 + th1 * h * r5)))
        I[NEXT_OUT] = k + 1
        I[INTERVAL_STEPS] = 0
