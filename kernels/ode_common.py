r"""What the ODE solvers share: the status codes, the weighted RMS norm, and the
reverse-communication protocol and workspace of the stiff solver.

**Two ways to call the right-hand side.**  A Numba function that receives another jitted
function as an argument is typed with that function's identity, and Numba then refuses to cache
its caller ("Cannot cache compiled function ... as it uses dynamic globals"), so a solver taking
the right-hand side as an argument would be compiled again in every process and for every model.
So:

* Dormand-Prince (:mod:`kernels.ode_dopri5`) holds the parts of the method, and the step loop
  around the compiled right-hand side is generated per right-hand side
  (:mod:`autodiff.ops.ode_codegen`), cached with the generated module: on a small system a
  return to the caller at every stage cost as much as the rest of a gradient;
* the Rosenbrock solver (:mod:`kernels.ode_rosenbrock`) is a state machine that does not call
  the right-hand side itself, ``request = advance(W, S, I, ts, ys)``: it returns
  :data:`NEED_F` when it wants :math:`f(t, y)` evaluated -- :math:`y` is row ``I[ROW_IN]`` of
  ``W``, :math:`t` is ``S[T_EVAL]``, and the caller writes the result into row ``I[ROW_OUT]``
  -- or :data:`NEED_JAC` for its Jacobian, and :data:`DONE` when the solve has ended
  (``I[STATUS]`` says how).  The caller is a few lines of generated code around the compiled
  right-hand side; the solver takes only arrays, is compiled once and cached on disk.

**Error control.**  The weighted RMS norm of Hairer, Nørsett & Wanner (1993, II.4),
:math:`\sqrt{\frac1k\sum_{i<k} (e_i / (a + r\max(|y_i|, |\hat y_i|)))^2}`, over the first
:math:`k` = ``n_err`` components: a forward-sensitivity solve passes the size of the state, so
its steps -- and its state values, bit for bit -- are those of the plain solve.

**Workspace** (of the reverse-communication solver).  One solve keeps all its state in three
arrays allocated once per solve (:func:`workspace`): ``W`` (rows of length ``n``: stages, the
current and the new state), ``S`` (float64 scalars: the time, the step...) and ``I`` (int64
counters), so the step loop never allocates.
"""

from __future__ import annotations

import numpy as np

from kernels.jit import njit

# requests (the return value of ``advance``)
DONE = 0
NEED_F = 1
NEED_JAC = 2

# statuses (``I[STATUS]``)
SOLVED = 0
RUNNING = -1
MXSTEP_EXCEEDED = 1
STEP_TOO_SMALL = 2  # the step size fell below round-off: usually a non-finite right-hand side
NONFINITE = 3  # the right-hand side is NaN or infinite at the initial point
SINGULAR = 4  # the stiff solver's matrix I/(h gamma) - J: a non-finite J, or singular

#: What each failure status means, as the user reads it.
STATUS_MESSAGES = {
    MXSTEP_EXCEEDED: "the number of steps between two output times reached mxstep",
    STEP_TOO_SMALL: "the step size fell below round-off (a NaN or infinite right-hand side, or "
    "a singularity)",
    NONFINITE: "the right-hand side is NaN or infinite at the initial point",
    SINGULAR: "the Jacobian of the right-hand side is NaN or infinite, or the Rosenbrock "
    "matrix I/(h gamma) - J stayed singular as the step was halved",
}

# int64 fields of ``I``
PHASE, STAGE, NSTEPS, MXSTEP, NEXT_OUT, ROW_IN, ROW_OUT, STATUS, REJECTED, NFEV, NJAC = range(11)
N_ERR = 11  # the error norm reads the first N_ERR components (the state, not its sensitivities)
# steps attempted since the last output time was passed: ``mxstep`` caps this count, not NSTEPS
# (JAX's and Stan's meaning: a long series of output times does not need a larger mxstep)
INTERVAL_STEPS = 12
N_INT = 13
# float64 fields of ``S``
T, H, T_EVAL, FACOLD, RTOL, ATOL, DIRECTION, HNEXT = range(8)
N_FLOAT = 8
#: double-precision machine epsilon (a step below 16 eps |t| is below round-off)
EPS = 2.220446049250313e-16
#: rows of ``W`` every solver may use (the stiff solver also stores a Jacobian)
N_ROWS = 12


@njit
def workspace(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arrays of one solve of an ``n``-dimensional system: ``(W, S, I)``."""
    return np.zeros((N_ROWS, n)), np.zeros(N_FLOAT), np.zeros(N_INT, np.int64)


@njit(inline="always")
def start(S: np.ndarray, I: np.ndarray, ts: np.ndarray, rtol: float, atol: float,
          mxstep: int, n_err: int) -> None:
    """Reset the scalars of a workspace for a new solve over ``ts``; the error norm (and the
    initial step) reads the first ``n_err`` components."""
    S[:] = 0.0
    I[:] = 0
    S[T] = ts[0]
    S[RTOL] = rtol
    S[ATOL] = atol
    S[DIRECTION] = 1.0 if ts[ts.shape[0] - 1] >= ts[0] else -1.0
    S[FACOLD] = 1e-4
    I[MXSTEP] = mxstep
    I[N_ERR] = n_err
    I[NEXT_OUT] = 1
    I[STATUS] = RUNNING


@njit(inline="always")
def fail(I: np.ndarray, ys: np.ndarray, status: int) -> int:
    """End a solve with ``status``: the outputs not reached are NaN (so that a log density that
    reads them is not finite, which a sampler takes for a divergence)."""
    for k in range(I[NEXT_OUT], ys.shape[0]):
        ys[k, :] = np.nan
    I[STATUS] = status
    return DONE


@njit(inline="always")
def request_f(S: np.ndarray, I: np.ndarray, row_in: int, t: float, row_out: int) -> int:
    I[ROW_IN] = row_in
    I[ROW_OUT] = row_out
    S[T_EVAL] = t
    I[NFEV] += 1
    return NEED_F


@njit(inline="always")
def solve_info(status: int, t: float, nsteps: int, nfev: int) -> np.ndarray:
    """``[status, time reached, steps attempted, right-hand side evaluations]`` as float64: the
    info output of the ``odeint`` primitive."""
    out = np.empty(4)
    out[0] = status
    out[1] = t
    out[2] = nsteps
    out[3] = nfev
    return out


@njit
def info(S: np.ndarray, I: np.ndarray) -> np.ndarray:
    """``[status, time reached, steps taken, right-hand side evaluations]`` of a finished
    solve, as float64 (the info output of the ``odeint`` primitive)."""
    out = np.empty(4)
    out[0] = I[STATUS]
    out[1] = S[T]
    out[2] = I[NSTEPS]
    out[3] = I[NFEV]
    return out
