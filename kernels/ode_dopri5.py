r"""Dormand-Prince 5(4) with dense output: the parts of the method, for a generated step loop.

The method of Dormand & Prince (1980, "A family of embedded Runge-Kutta formulae", J. Comp.
Appl. Math. 6): seven stages, the last evaluated at the new solution (first same as last, so six
evaluations per accepted step), a fifth-order solution and an embedded fourth-order one whose
difference estimates the local error.  Step-size control, initial step and dense output follow
Hairer, Nørsett & Wanner (1993), *Solving Ordinary Differential Equations I*, II.4-II.6 and
their code DOPRI5:

* a step is accepted when the error norm (:mod:`kernels.ode_common`) is at most 1
  (:func:`error_norm`);
* the step-size factor is Lund's stabilised (PI) controller
  :math:`\|e_n\|^{-0.17}\,\|e_{n-1}\|^{0.04}`, times a safety factor 0.9, bounded to
  :math:`[0.2, 10]`; after a rejection the step does not grow (:func:`control`);
* the initial step from the norms of :math:`y_0`, :math:`f(t_0, y_0)` and a difference quotient
  of :math:`f` (one extra evaluation; :func:`initial_probe`, :func:`initial_step`);
* outputs at the requested times by the continuous extension of order 4 (Hairer et al. II.6,
  the coefficients of DOPRI5's ``CONTD5``), so the requested times never shorten a step
  (:func:`dense_outputs`).

A non-finite error estimate rejects the step and divides it by 4; a step below round-off ends
the solve with :data:`~kernels.ode_common.STEP_TOO_SMALL`, more than ``mxstep`` attempted steps
with :data:`~kernels.ode_common.MXSTEP_EXCEEDED` (counted since the last output time;
:func:`step_status`).  Times may decrease (the adjoint solves run backwards).

The step loop that calls these parts around a compiled right-hand side is generated per
right-hand side (:mod:`autodiff.ops.ode_codegen` says why and writes it).  The parts are
functions of their own, compiled once and cached on disk, not inlined into each generated loop
(``inline="always"`` doubled the compile of a model).  The generated code calls the parts run
at every step (:func:`stage_input`, :func:`error_norm`, :func:`dense_outputs`, :func:`accept`)
with the sizes as literals: Numba compiles and caches them once per size, and LLVM unrolls
their loops; the others get int64 values, one compile for every system.  They borrow their
arrays (no reference counting at each call) and divide as NumPy does (``x / 0`` is inf or nan):
a Python exception could not leave a model kernel.

The solve's rows ``W`` (``ROWS`` rows of the system's length): the stages K1..K7 (rows 0..6),
``y`` (row ``Y``), the stage input and then the new solution (row ``YNEW``), and a scratch row
(``R5``).
"""

from __future__ import annotations

import numpy as np

from kernels.jit import njit
from kernels.ode_common import EPS, MXSTEP_EXCEEDED, RUNNING, STEP_TOO_SMALL

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

# rows of W (the module docstring): the stages K1..K7 are rows 0..6
Y, YNEW, R5 = 7, 8, 9
ROWS = R5 + 1
# the controller: safety factor, bounds of the step's change, exponents of Lund's PI control
SAFE, FAC_MIN, FAC_MAX, BETA = 0.9, 0.2, 10.0, 0.04
EXPO = 0.2 - BETA * 0.75


@njit(borrow=True, error_model="numpy")
def initial_probe(W: np.ndarray, span: float, d: float, rtol: float, atol: float, ne: int,
                  n: int) -> float:
    """With :math:`f(t_0, y_0)` in K1: a first guess :math:`h_0` of the step (Hairer et al.,
    II.4, from the norms of :math:`y_0` and :math:`f`), with the probe point
    :math:`y_0 + h_0 f` written to row YNEW; ``-1.0`` when :math:`f(t_0, y_0)` is not finite."""
    for i in range(n):
        if not np.isfinite(W[0, i]):
            return -1.0
    d0 = _scaled_norm(W[Y], W[Y], rtol, atol, ne)
    d1 = _scaled_norm(W[0], W[Y], rtol, atol, ne)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, span)
    for i in range(n):
        W[YNEW, i] = W[Y, i] + d * h0 * W[0, i]
    return h0


@njit(borrow=True, error_model="numpy")
def initial_step(W: np.ndarray, h0: float, span: float, d: float, rtol: float, atol: float,
                 ne: int) -> float:
    """The first step (signed), from the guess :math:`h_0` and :math:`f` at the probe point (in
    K2): the difference quotient of :math:`f` estimates the second derivative."""
    s = 0.0
    for i in range(ne):
        sc = atol + rtol * abs(W[Y, i])
        s += ((W[1, i] - W[0, i]) / sc) ** 2
    d2 = np.sqrt(s / max(ne, 1)) / h0
    d1 = _scaled_norm(W[0], W[Y], rtol, atol, ne)
    dmax = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** 0.2
    h = d * min(100.0 * h0, h1, span)
    if not np.isfinite(h):
        h = d * h0
    return h


@njit(borrow=True, error_model="numpy")
def step_status(t: float, h: float, interval_steps: int, mxstep: int) -> int:
    """Whether a step of ``h`` from ``t`` may be attempted: :data:`RUNNING`, or the failure."""
    if interval_steps >= mxstep:
        return MXSTEP_EXCEEDED
    if abs(h) <= 16.0 * EPS * max(abs(t), 1e-300):
        return STEP_TOO_SMALL
    return RUNNING


@njit(borrow=True, error_model="numpy")
def clipped_step(t: float, h: float, t_end: float, d: float) -> float:
    """The step, shortened to end at ``t_end`` when it would pass it (or nearly reach it)."""
    if d * (t + 1.01 * h - t_end) > 0.0:
        return t_end - t
    return h


@njit(borrow=True, error_model="numpy")
def stage_input(W: np.ndarray, s: int, h: float, n: int) -> None:
    r"""Row YNEW = :math:`y + h \sum_{j<s} a_{sj} K_j`, the point of stage ``s + 1``
    (``1 <= s <= 6``; for ``s = 6`` the fifth-order solution)."""
    # accumulated in the row with the component loop inside: LLVM vectorises it (the same
    # operations in the same order per component)
    for i in range(n):
        W[YNEW, i] = 0.0
    for j in range(s):
        a = A[s, j]
        for i in range(n):
            W[YNEW, i] += a * W[j, i]
    for i in range(n):
        W[YNEW, i] = W[Y, i] + h * W[YNEW, i]


@njit(borrow=True, error_model="numpy")
def error_norm(W: np.ndarray, h: float, rtol: float, atol: float, ne: int) -> float:
    r"""The weighted RMS norm of the local error estimate :math:`h \sum_j e_j K_j`, scaled by
    ``atol + rtol max(|y|, |y_new|)`` (:mod:`kernels.ode_common`)."""
    err = 0.0
    for i in range(ne):
        e = 0.0
        for j in range(7):
            e += E[j] * W[j, i]
        sc = atol + rtol * max(abs(W[Y, i]), abs(W[YNEW, i]))
        err += (h * e / sc) ** 2
    return np.sqrt(err / max(ne, 1))


@njit(borrow=True, error_model="numpy")
def control(err: float, facold: float, h: float, rejected: bool,
            d: float) -> tuple[bool, float, float]:
    """``(accepted, next step, next facold)`` after a step of ``h`` with error norm ``err``:
    Lund's PI controller on acceptance (no growth right after a rejection), the I controller on
    rejection, a quarter of the step when ``err`` is not finite."""
    if not np.isfinite(err):
        return False, 0.25 * h, facold
    fac11 = max(err, 1e-300) ** EXPO
    if err <= 1.0:
        fac = fac11 / facold ** BETA
        fac = max(1.0 / FAC_MAX, min(1.0 / FAC_MIN, fac / SAFE))
        h_new = h / fac
        if rejected:
            h_new = d * min(abs(h_new), abs(h))
        return True, h_new, max(err, 1e-4)
    return False, h / min(1.0 / FAC_MIN, fac11 / SAFE), facold


@njit(borrow=True, error_model="numpy")
def dense_outputs(W: np.ndarray, ts: np.ndarray, ys: np.ndarray, k: int, t: float, h: float,
                  t_new: float, d: float, n: int) -> int:
    """Write the outputs ``ys[k], ys[k + 1], ...`` whose times lie in the accepted step
    ``(t, t_new]`` (by the continuous extension of order 4); returns the next output's index."""
    m = ts.shape[0]
    while k < m and d * (ts[k] - t_new) <= 0.0:
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
        k += 1
    return k


@njit(borrow=True, error_model="numpy")
def accept(W: np.ndarray, n: int) -> None:
    """After an accepted step: y = the new solution, K1 = K7 (first same as last)."""
    for i in range(n):
        W[0, i] = W[6, i]
        W[Y, i] = W[YNEW, i]


@njit(inline="always")
def _scaled_norm(x: np.ndarray, y: np.ndarray, rtol: float, atol: float, ne: int) -> float:
    s = 0.0
    for i in range(ne):
        s += (x[i] / (atol + rtol * abs(y[i]))) ** 2
    return np.sqrt(s / max(ne, 1))
