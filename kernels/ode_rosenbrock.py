r"""Rodas4: a stiffly accurate, L-stable Rosenbrock method of order 4(3), by reverse communication.

A Rosenbrock method replaces the Newton iterations of an implicit method by one linear solve
per stage with the same matrix :math:`G = (h\gamma)^{-1} I - J`, :math:`J = \partial f/\partial
y` at the start of the step (Hairer & Wanner 1996, *Solving Ordinary Differential Equations II*,
IV.7, in the formulation without matrix-vector products):

.. math::
    G\,k_i = f\Big(t + \alpha_i h,\; y + \sum_{j<i} a_{ij} k_j\Big)
             + \sum_{j<i} \frac{c_{ij}}{h} k_j + h\,\gamma_i\,\partial_t f(t, y),
    \qquad y_{\rm new} = y + \sum_i m_i k_i,

with the error estimate :math:`k_6` (the difference of the embedded third-order solution; the
last stage is evaluated at the new solution, so the method is stiffly accurate).  The
coefficients are those of Hairer & Wanner's RODAS (as distributed with KPP, Sandu
et al. 1997, "Benchmarking stiff ODE solvers for atmospheric chemistry problems II").

Why Rodas4 and not BDF: a Rosenbrock step needs the Jacobian -- which autodiff gives exactly, as
one staged graph of the right-hand side's forward derivative -- and one LU factorisation, with no
Newton iteration to converge, no order selection and no history to interpolate; its code is a
fixed sequence of stages that compiles into a small kernel and differentiates (forward
sensitivities are an augmented system solved by the same method).  It is efficient at the
moderate tolerances of statistical models; BDF wins for large systems at tight tolerances.

Outputs by the continuous extension of RODAS (Hairer & Wanner 1996, IV.7 and their code's
``CONTRO``), a polynomial of degree 3 in :math:`s = (t - t_n)/h`,

.. math::
    y(t_n + s h) \approx (1 - s)\,y_n + s\,\big(y_{n+1} + (1 - s)(d_1 + s\,d_2)\big), \qquad
    d_1 = \sum_{j\le5} h_{1j} k_j, \quad d_2 = \sum_{j\le5} h_{2j} k_j,

so the requested times never shorten a step: the steps are those of the error control alone, and
a solve with many output times takes the steps of a solve with two.  Step control:
:math:`h_{\rm new} = h\min(6, \max(0.2, 0.9\,\|e\|^{-1/4}))`; no growth right after a
rejection; a second rejection in a row divides by 10.  Failures as in
:mod:`kernels.ode_dopri5`; a singular :math:`G` (a zero pivot) halves the step, five times at
most, and a non-finite Jacobian (or :math:`G` still singular) ends the solve with
:data:`~kernels.ode_common.SINGULAR`.

The two entry points borrow their arrays (``njit(borrow=True)``: no reference counting at each
stage) and divide as NumPy does (``error_model="numpy"``: ``x / 0`` is inf or nan, as in the
generated code that calls them); every failure is a status, as an exception could not leave a
model kernel.  A solve may be resumed with a given first step (:func:`set_first_step`): the
checkpointed adjoint (:mod:`kernels.ode_checkpoints`) restarts the forward solve from a stored
step and carries the backward solve's step across its stops.
"""

from __future__ import annotations

import numpy as np

from kernels.jit import njit
from kernels.ode_common import (
    ATOL,
    DIRECTION,
    DONE,
    EPS,
    HNEXT,
    INTERVAL_STEPS,
    MXSTEP,
    MXSTEP_EXCEEDED,
    N_ERR,
    N_INT,
    NEED_JAC,
    NEXT_OUT,
    NJAC,
    NONFINITE,
    NSTEPS,
    PHASE,
    REJECTED,
    ROW_IN,
    RTOL,
    SINGULAR,
    SOLVED,
    STAGE,
    STATUS,
    STEP_TOO_SMALL,
    T_EVAL,
    H,
    T,
    fail,
    request_f,
    start,
)

N_STAGES = 6
GAMMA = 0.25
ALPHA = np.array([0.0, 0.386, 0.210, 0.630, 1.0, 1.0])
GAMMAS = np.array([0.25, -0.1043, 0.1035, -0.3620000000000023e-01, 0.0, 0.0])
_A = np.array([0.1544e01, 0.9466785280815826, 0.2557011698983284, 0.3314825187068521e01,
               0.2896124015972201e01, 0.9986419139977817, 0.1221224509226641e01,
               0.6019134481288629e01, 0.1253708332932087e02, -0.6878860361058950,
               0.1221224509226641e01, 0.6019134481288629e01, 0.1253708332932087e02,
               -0.6878860361058950, 1.0])
_C = np.array([-0.56688e01, -0.2430093356833875e01, -0.2063599157091915,
               -0.1073529058151375, -0.9594562251023355e01, -0.2047028614809616e02,
               0.7496443313967647e01, -0.1024680431464352e02, -0.3399990352819905e02,
               0.1170890893206160e02, 0.8083246795921522e01, -0.7981132988064893e01,
               -0.3152159432874371e02, 0.1631930543123136e02, -0.6058818238834054e01])
M = np.array([0.1221224509226641e01, 0.6019134481288629e01, 0.1253708332932087e02,
              -0.6878860361058950, 1.0, 1.0])
# the dense output's coefficients h_1j, h_2j of stages 1..5 (RODAS' D21..D25, D31..D35)
DENSE = np.array([[10.12623508344586, -7.487995877610167, -34.80091861555747,
                   -7.992771707568823, 1.025137723295662],
                  [-0.6762803392801253, 6.087714651680015, 16.43084320892478,
                   24.76722511418386, -6.594389125716872]])


def _lower_triangle(packed: np.ndarray) -> np.ndarray:
    """The strictly lower triangular matrix stored row by row in ``packed``."""
    out = np.zeros((N_STAGES, N_STAGES))
    k = 0
    for i in range(1, N_STAGES):
        for j in range(i):
            out[i, j] = packed[k]
            k += 1
    return out


A = _lower_triangle(_A)
C = _lower_triangle(_C)

# rows of W: stages 0..5, f(t, y) 6, y 7, the stage input / new solution 8, df/dt 9, the dense
# output's d_1, d_2 of the last accepted step 10, 11; then the Jacobian (rows JAC .. JAC+n-1)
# and its LU factors (rows LU .. LU+n-1)
F0, Y, YNEW, DFDT, D1, D2 = 6, 7, 8, 9, 10, 11
JAC = 12
# phases
START, HAVE_F0, HAVE_JAC, STAGES = 0, 1, 2, 3
FAC_MIN, FAC_MAX, FAC_REJ, SAFE = 0.2, 6.0, 0.1, 0.9


@njit
def rosenbrock_workspace(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W, S, I)`` for an ``n``-dimensional system: the rows of :mod:`kernels.ode_common`
    plus the Jacobian and its LU factors; ``I`` also holds the pivots."""
    return np.zeros((JAC + 2 * n, n)), np.zeros(8), np.zeros(N_INT + n, np.int64)


@njit(borrow=True, error_model="numpy")
def rosenbrock_start(W: np.ndarray, S: np.ndarray, I: np.ndarray, y0: np.ndarray,
                     ts: np.ndarray, ys: np.ndarray, rtol: float, atol: float,
                     mxstep: int, n_err: int) -> None:
    """Prepare the workspace for a solve from ``y0`` over the times ``ts`` into ``ys``."""
    start(S, I, ts, rtol, atol, mxstep, n_err)
    I[PHASE] = START
    for i in range(W.shape[1]):  # loops, not slice assignments: those may copy (allocate)
        W[Y, i] = y0[i]
        ys[0, i] = y0[i]


@njit(borrow=True, error_model="numpy")
def set_first_step(S: np.ndarray, h: float) -> None:
    """After :func:`rosenbrock_start`: take ``h`` (signed) as the first step instead of the
    initial-step heuristic's (a solve resumed where another one stopped)."""
    S[H] = h


@njit(borrow=True, error_model="numpy")
def next_step(S: np.ndarray) -> float:
    """The step a solve that has just ended would take next (signed): the controller's
    proposal, or the step it had proposed before shortening the last one to land on the last
    time, if larger (to resume the solve from there, :func:`set_first_step`)."""
    h = S[H]
    if abs(S[HNEXT]) > abs(h):
        h = S[HNEXT]
    return h


@njit(borrow=True, error_model="numpy")
def rosenbrock_advance(W: np.ndarray, S: np.ndarray, I: np.ndarray, ts: np.ndarray,
                       ys: np.ndarray) -> int:
    """Run the solve until it needs ``f`` (``NEED_F``), the Jacobian and :math:`\\partial_t f`
    at ``(W[I[ROW_IN]], S[T_EVAL])`` (``NEED_JAC``: ``J`` into rows ``JAC..JAC+n-1``,
    :math:`\\partial_t f` into row ``DFDT``), or has ended (``DONE``)."""
    n = W.shape[1]
    m = ts.shape[0]
    d = S[DIRECTION]
    phase = I[PHASE]
    if phase == START:
        if m == 1:
            I[STATUS] = SOLVED
            return DONE
        I[PHASE] = HAVE_F0
        return request_f(S, I, Y, S[T], F0)
    if phase == HAVE_F0:
        if I[NSTEPS] == 0:
            for i in range(n):
                if not np.isfinite(W[F0, i]):
                    return fail(I, ys, NONFINITE)
            if S[H] == 0.0:  # not resumed with a given step (set_first_step)
                S[H] = d * _initial_step(W, S, I, ts)
        I[PHASE] = HAVE_JAC
        I[ROW_IN] = Y
        S[T_EVAL] = S[T]
        I[NJAC] += 1
        return NEED_JAC
    if phase == HAVE_JAC:
        return _attempt(W, S, I, ts, ys)
    # STAGES: the value of f for stage I[STAGE] is in its row
    s = I[STAGE]
    h = S[H]
    _finish_stage(W, I, s, h)
    if s + 1 < N_STAGES:
        return _request_stage(W, S, I, s + 1, h)
    return _end_step(W, S, I, ts, ys)


@njit(inline="always")
def _initial_step(W: np.ndarray, S: np.ndarray, I: np.ndarray, ts: np.ndarray) -> float:
    n = I[N_ERR]
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        sc = S[ATOL] + S[RTOL] * abs(W[Y, i])
        d0 += (W[Y, i] / sc) ** 2
        d1 += (W[F0, i] / sc) ** 2
    d0 = np.sqrt(d0 / n)
    d1 = np.sqrt(d1 / n)
    span = abs(ts[ts.shape[0] - 1] - ts[0])
    h = 1e-6 * span if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    return min(h, span)


@njit(inline="always")
def _attempt(W: np.ndarray, S: np.ndarray, I: np.ndarray, ts: np.ndarray, ys: np.ndarray) -> int:
    """Begin a step from (t, y) with the current Jacobian: factor G, form stage 1."""
    n = W.shape[1]
    d = S[DIRECTION]
    t = S[T]
    for _ in range(6):
        h = S[H]
        if I[INTERVAL_STEPS] >= I[MXSTEP]:
            return fail(I, ys, MXSTEP_EXCEEDED)
        if not abs(h) > 16.0 * EPS * max(abs(t), 1e-300):  # also a NaN step
            return fail(I, ys, STEP_TOO_SMALL)
        t_end = ts[ts.shape[0] - 1]
        S[HNEXT] = 0.0
        if d * (t + 1.01 * h - t_end) > 0.0:  # the last step ends at the last time
            S[HNEXT] = h  # what the controller proposed (next_step)
            h = t_end - t
            S[H] = h
        I[NSTEPS] += 1
        I[INTERVAL_STEPS] += 1
        ghinv = 1.0 / (h * GAMMA)
        for i in range(n):
            for j in range(n):
                W[JAC + n + i, j] = -W[JAC + i, j]
            W[JAC + n + i, i] += ghinv
        if _lu_factor(W, JAC + n, I, N_INT):
            for i in range(n):  # stage 1: f(t, y) + h gamma_1 df/dt
                W[0, i] = W[F0, i] + h * GAMMAS[0] * W[DFDT, i]
            _lu_solve(W, JAC + n, I, N_INT, 0)
            return _request_stage(W, S, I, 1, h)
        if not _finite_jacobian(W):  # no step size helps
            return fail(I, ys, SINGULAR)
        S[H] = 0.5 * h  # a zero pivot: a shorter step
    return fail(I, ys, SINGULAR)


@njit(inline="always")
def _finite_jacobian(W: np.ndarray) -> bool:
    """Whether the Jacobian in rows ``JAC..JAC+n-1`` is finite (read on the failure paths only:
    a non-finite J makes the factors or the error estimate non-finite)."""
    n = W.shape[1]
    for i in range(n):
        for j in range(n):
            if not np.isfinite(W[JAC + i, j]):
                return False
    return True


@njit(inline="always")
def _request_stage(W: np.ndarray, S: np.ndarray, I: np.ndarray, s: int, h: float) -> int:
    n = W.shape[1]
    for i in range(n):
        acc = W[Y, i]
        for j in range(s):
            acc += A[s, j] * W[j, i]
        W[YNEW, i] = acc
    I[STAGE] = s
    I[PHASE] = STAGES
    return request_f(S, I, YNEW, S[T] + ALPHA[s] * h, s)


@njit(inline="always")
def _finish_stage(W: np.ndarray, I: np.ndarray, s: int, h: float) -> None:
    n = W.shape[1]
    for i in range(n):
        acc = W[s, i] + h * GAMMAS[s] * W[DFDT, i]
        for j in range(s):
            acc += C[s, j] / h * W[j, i]
        W[s, i] = acc
    _lu_solve(W, JAC + n, I, N_INT, s)


@njit(inline="always")
def _end_step(W: np.ndarray, S: np.ndarray, I: np.ndarray, ts: np.ndarray,
              ys: np.ndarray) -> int:
    n = W.shape[1]
    m = ts.shape[0]
    h = S[H]
    err = 0.0
    for i in range(n):
        y_new = W[Y, i]
        for j in range(N_STAGES):
            y_new += M[j] * W[j, i]
        W[YNEW, i] = y_new
        if i < I[N_ERR]:
            sc = S[ATOL] + S[RTOL] * max(abs(W[Y, i]), abs(y_new))
            err += (W[N_STAGES - 1, i] / sc) ** 2
    err = max(np.sqrt(err / max(I[N_ERR], 1)), 1e-10)
    if not np.isfinite(err):
        if not _finite_jacobian(W):
            return fail(I, ys, SINGULAR)
        S[H] = h * FAC_REJ
        I[REJECTED] = 1
        return _attempt(W, S, I, ts, ys)
    fac = min(FAC_MAX, max(FAC_MIN, SAFE / err ** 0.25))
    h_new = h * fac
    if err <= 1.0:
        t_new = S[T] + h
        if h == ts[m - 1] - S[T]:  # the last step: land on the last time exactly
            t_new = ts[m - 1]
        _dense_outputs(W, S, I, ts, ys, h, t_new)
        for i in range(n):
            W[Y, i] = W[YNEW, i]
        S[T] = t_new
        if I[REJECTED] > 0:
            h_new = S[DIRECTION] * min(abs(h_new), abs(h))
        I[REJECTED] = 0
        S[H] = h_new
        if I[NEXT_OUT] >= m:
            I[STATUS] = SOLVED
            return DONE
        I[PHASE] = HAVE_F0
        return request_f(S, I, Y, t_new, F0)
    if I[REJECTED] > 0:
        h_new = h * FAC_REJ
    I[REJECTED] = 1
    S[H] = h_new
    return _attempt(W, S, I, ts, ys)


@njit(inline="always")
def _dense_outputs(W: np.ndarray, S: np.ndarray, I: np.ndarray, ts: np.ndarray, ys: np.ndarray,
                   h: float, t_new: float) -> None:
    """Store the dense output's ``d_1, d_2`` of the accepted step from ``(S[T], W[Y])`` to
    ``(t_new, W[YNEW])`` in rows ``D1, D2``, and write the outputs whose times it passes."""
    n = W.shape[1]
    m = ts.shape[0]
    d = S[DIRECTION]
    for i in range(n):
        a = 0.0
        b = 0.0
        for j in range(5):
            a += DENSE[0, j] * W[j, i]
            b += DENSE[1, j] * W[j, i]
        W[D1, i] = a
        W[D2, i] = b
    while I[NEXT_OUT] < m and d * (ts[I[NEXT_OUT]] - t_new) <= 0.0:
        k = I[NEXT_OUT]
        if ts[k] == t_new:
            for i in range(n):
                ys[k, i] = W[YNEW, i]
        else:
            s = (ts[k] - S[T]) / h
            for i in range(n):
                ys[k, i] = dense_value(W[Y, i], W[YNEW, i], W[D1, i], W[D2, i], s)
        I[NEXT_OUT] = k + 1
        I[INTERVAL_STEPS] = 0


@njit(inline="always")
def dense_value(y0: float, y1: float, d1: float, d2: float, s: float) -> float:
    """The continuous extension at the fraction ``s`` of a step from ``y0`` to ``y1`` (one
    component; ``d1, d2`` the step's dense-output coefficients)."""
    return (1.0 - s) * y0 + s * (y1 + (1.0 - s) * (d1 + s * d2))


@njit(inline="always")
def dense_slope(y0: float, y1: float, d1: float, d2: float, s: float, h: float) -> float:
    """The derivative in ``t`` of :func:`dense_value` on a step of size ``h``."""
    return (y1 - y0 + (1.0 - 2.0 * s) * d1 + s * (2.0 - 3.0 * s) * d2) / h


@njit(inline="always")
def _lu_factor(W: np.ndarray, row0: int, I: np.ndarray, piv0: int) -> bool:
    """LU factors with partial pivoting of the ``n x n`` block of ``W`` from row ``row0``, in
    place; pivots into ``I[piv0:]``.  False if singular."""
    n = W.shape[1]
    for k in range(n):
        p = k
        big = abs(W[row0 + k, k])
        for i in range(k + 1, n):
            if abs(W[row0 + i, k]) > big:
                big = abs(W[row0 + i, k])
                p = i
        I[piv0 + k] = p
        if big == 0.0 or not np.isfinite(big):
            return False
        if p != k:
            for j in range(n):
                tmp = W[row0 + k, j]
                W[row0 + k, j] = W[row0 + p, j]
                W[row0 + p, j] = tmp
        inv = 1.0 / W[row0 + k, k]
        for i in range(k + 1, n):
            W[row0 + i, k] *= inv
            f = W[row0 + i, k]
            if f != 0.0:
                for j in range(k + 1, n):
                    W[row0 + i, j] -= f * W[row0 + k, j]
    return True


@njit(inline="always")
def _lu_solve(W: np.ndarray, row0: int, I: np.ndarray, piv0: int, b: int) -> None:
    """Solve with the factors of :func:`_lu_factor`, in place on row ``b`` of ``W``."""
    n = W.shape[1]
    for k in range(n):
        p = I[piv0 + k]
        if p != k:
            tmp = W[b, k]
            W[b, k] = W[b, p]
            W[b, p] = tmp
    for i in range(n):
        acc = W[b, i]
        for j in range(i):
            acc -= W[row0 + i, j] * W[b, j]
        W[b, i] = acc
    for i in range(n - 1, -1, -1):
        acc = W[b, i]
        for j in range(i + 1, n):
            acc -= W[row0 + i, j] * W[b, j]
        W[b, i] = acc / W[row0 + i, i]
