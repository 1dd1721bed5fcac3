"""The Rosenbrock solver kernels and the checkpoints of its adjoint, driven from Python: compile
options, a zero pivot and a non-finite Jacobian as statuses, recomputed segments equal to the
forward steps bit for bit, and a record that grows as the square root of the steps."""

from __future__ import annotations

import numpy as np
import pytest

from kernels import ode_checkpoints as ck
from kernels import ode_common as oc
from kernels import ode_rosenbrock as rb
from kernels.jit import JIT_DISABLED


def van_der_pol(mu: float):
    """``f(y, t)`` and ``jac(y, t, S) -> (J, df/dt)`` of Van der Pol's oscillator in NumPy."""
    def f(y, t):
        return np.array([y[1], mu * (1.0 - y[0] ** 2) * y[1] - y[0]])

    def jac(y, t, S):
        return (np.array([[0.0, 1.0], [-2.0 * mu * y[0] * y[1] - 1.0, mu * (1.0 - y[0] ** 2)]]),
                np.zeros(2))

    return f, jac


def solve(f, jac, y0, ts, rtol=1e-6, atol=1e-6, mxstep=100_000, first_step=0.0, after=None,
          work=None):
    """Drive ``rosenbrock_advance`` answering its requests with ``f`` and ``jac`` (which also
    gets the solver's scalars ``S``); ``after(request, W, S, I)`` is called after every request
    and ends the solve early if it returns True.  Returns ``(ys, W, S, I)``."""
    n = y0.shape[0]
    W, S, I = rb.rosenbrock_workspace(n) if work is None else work
    ys = np.empty((ts.shape[0], n))
    rb.rosenbrock_start(W, S, I, y0, ts, ys, rtol, atol, mxstep, n)
    rb.set_first_step(S, first_step)
    while True:
        request = rb.rosenbrock_advance(W, S, I, ts, ys)
        if after is not None and after(request, W, S, I):
            break
        if request == oc.NEED_F:
            W[I[oc.ROW_OUT]] = f(W[I[oc.ROW_IN]], S[oc.T_EVAL])
        elif request == oc.NEED_JAC:
            W[rb.JAC: rb.JAC + n], W[rb.DFDT] = jac(W[I[oc.ROW_IN]], S[oc.T_EVAL], S)
        else:
            break
    return ys, W, S, I


# ---- compile options ---------------------------------------------------------------------------


@pytest.mark.skipif(JIT_DISABLED, reason="compile options need the JIT")
def test_rosenbrock_kernels_borrow_and_divide_as_numpy():
    """No reference counting at each stage, and x / 0 is inf or nan as in the generated code
    that calls them: an exception could not leave a model kernel."""
    borrowing = [rb.rosenbrock_start, rb.rosenbrock_advance, rb.set_first_step, rb.next_step,
                 ck.load_checkpoint, ck.record_segment, ck.stored_solution]
    for kernel in borrowing:
        assert kernel.targetoptions.get("_nrt") is False, kernel
        assert kernel.targetoptions.get("error_model") == "numpy", kernel
    # the forward pass's record grows its arrays (a few times per solve): it may allocate
    assert ck.record_forward.targetoptions.get("error_model") == "numpy"


# ---- failures are statuses ---------------------------------------------------------------------


def test_a_zero_pivot_halves_the_step():
    # y' = 0 with the Jacobian J = I / (h gamma) at the first step makes the matrix
    # G = I / (h gamma) - J exactly zero (every pivot 0): the step is halved, and G is regular
    # at the half step (the stages are 0 whatever J, so the step is accepted)
    ends = []

    def jac(y, t, S):
        J = np.eye(2) / (S[oc.H] * rb.GAMMA) if t == 0.0 else np.zeros((2, 2))
        return J, np.zeros(2)

    def after(request, W, S, I):
        if request == oc.NEED_F and I[oc.PHASE] == rb.HAVE_F0 and I[oc.NSTEPS] > 0:
            ends.append(S[oc.T])

    y0 = np.array([1.0, -2.0])
    ys, W, S, I = solve(lambda y, t: np.zeros(2), jac, y0, np.array([0.0, 1.0]),
                        first_step=0.1, after=after)
    assert I[oc.STATUS] == oc.SOLVED
    assert ends[0] == 0.05
    np.testing.assert_array_equal(ys[1], y0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_jacobian_is_a_status_and_nan_outputs(bad):
    def jac(y, t, S):
        return np.array([[-1.0, 0.0], [bad if t > 0.3 else 0.0, -1.0]]), np.zeros(2)

    ys, W, S, I = solve(lambda y, t: -y, jac, np.array([1.0, 2.0]), np.array([0.0, 0.2, 1.0]))
    assert I[oc.STATUS] == oc.SINGULAR
    assert 0.3 < S[oc.T] < 1.0  # where the Jacobian became non-finite
    np.testing.assert_allclose(ys[1], np.exp(-0.2) * np.array([1.0, 2.0]), rtol=1e-5)
    assert np.all(np.isnan(ys[2]))
    assert "Jacobian" in oc.STATUS_MESSAGES[oc.SINGULAR]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_right_hand_side_is_a_status(bad):
    # at the initial point, and from t = 0.3 on (the steps shrink below round-off)
    _, _, S, I = solve(lambda y, t: np.full(2, bad), van_der_pol(1.0)[1], np.ones(2),
                       np.array([0.0, 1.0]))
    assert I[oc.STATUS] == oc.NONFINITE
    _, _, S, I = solve(lambda y, t: -y if t < 0.3 else np.full(2, bad),
                       lambda y, t, S: (-np.eye(2), np.zeros(2)), np.ones(2),
                       np.array([0.0, 1.0]))
    assert I[oc.STATUS] == oc.STEP_TOO_SMALL
    assert S[oc.T] == pytest.approx(0.3, abs=1e-6)


# ---- checkpoints -------------------------------------------------------------------------------


def _forward_with_checkpoints(mu: float, t_end: float, rtol: float):
    """The forward pass of the adjoint on Van der Pol: the checkpoints, the last segment and,
    apart, every accepted point's row ``[t, y, d_1, d_2]``."""
    f, jac = van_der_pol(mu)
    C, cps, seg = ck.checkpoint_arrays(2)
    record = {"cps": cps, "seg": seg}
    rows = []

    def after(request, W, S, I):
        record["cps"], record["seg"] = ck.record_forward(C, record["cps"], record["seg"], W, S, I,
                                                         request)
        if (request == oc.NEED_F and I[oc.PHASE] == rb.HAVE_F0) or request == oc.DONE:
            rows.append(np.concatenate([[S[oc.T]], W[rb.Y], W[rb.D1], W[rb.D2]]))

    ts = np.array([0.0, t_end])
    ys, W, S, I = solve(f, jac, np.array([2.0, 0.0]), ts, rtol=rtol, atol=rtol, after=after)
    assert I[oc.STATUS] == oc.SOLVED
    return C, record["cps"], record["seg"], np.array(rows), (f, jac, ts, rtol)


def test_recomputed_segments_repeat_the_forward_steps_bit_for_bit():
    C, cps, seg, rows, (f, jac, ts, rtol) = _forward_with_checkpoints(1000.0, 1000.0, 1e-6)
    k, count = C[ck.SEGMENT_STEPS], C[ck.N_CHECKPOINTS]
    steps = rows.shape[0] - 1
    assert count > 8 and count == -(-steps // k)  # segments of k steps, the last one shorter
    # the last segment is the forward pass's
    np.testing.assert_array_equal(seg[: C[ck.N_ROWS]], rows[(count - 1) * k:])
    # every other one, solved again from its checkpoint, takes the forward pass's steps
    for c in range(count - 1):
        np.testing.assert_array_equal(cps[c, :4], [*rows[c * k, :1], cps[c, 1], *rows[c * k, 1:3]])
        y, tr = np.empty(2), np.empty(2)
        h = ck.load_checkpoint(C, cps, c, y, tr, ts[-1])

        def after(request, W, S, I):
            return ck.record_segment(C, seg, W, S, I, request)

        solve(f, jac, y, tr, rtol=rtol, atol=rtol, mxstep=2**62, first_step=h, after=after)
        assert C[ck.N_ROWS] == k + 1
        # the first row's d_1, d_2 are not read (a step's coefficients are its end's)
        np.testing.assert_array_equal(seg[: k + 1, :3], rows[c * k: c * k + k + 1, :3])
        np.testing.assert_array_equal(seg[1: k + 1], rows[c * k + 1: c * k + k + 1])


def test_the_stored_solution_is_the_dense_output_of_each_step():
    C, cps, seg, rows, _ = _forward_with_checkpoints(1.0, 3.0, 1e-8)  # one segment of all steps
    C[ck.N_ROWS] = rows.shape[0]
    seg = rows.copy()
    out, slope = np.empty(2), np.empty(2)
    for r in (1, rows.shape[0] // 2, rows.shape[0] - 1):
        t0, t1 = rows[r - 1, 0], rows[r, 0]
        ck.stored_solution(C, seg, t1, out, slope)  # the step's end
        np.testing.assert_allclose(out, rows[r, 1:3], rtol=1e-13, atol=1e-15)
        ck.stored_solution(C, seg, t0, out, slope)  # its start
        np.testing.assert_array_equal(out, rows[r - 1, 1:3])
        # the slope is the derivative of the interpolant (central differences)
        tm, e = 0.5 * (t0 + t1), 1e-4 * (t1 - t0)
        lo, hi = np.empty(2), np.empty(2)
        ck.stored_solution(C, seg, tm - e, lo, slope)
        ck.stored_solution(C, seg, tm + e, hi, slope)
        ck.stored_solution(C, seg, tm, out, slope)
        np.testing.assert_allclose(slope, (hi - lo) / (2 * e), rtol=1e-6, atol=1e-8)


def test_the_record_grows_as_the_square_root_of_the_steps():
    n = 2
    sizes = []
    for t_end in (300.0, 3000.0):  # Van der Pol, mu = 100: ~ 10x more steps on the long span
        C, cps, seg, rows, _ = _forward_with_checkpoints(100.0, t_end, 1e-8)
        steps = rows.shape[0] - 1
        floats = cps.size + seg.size
        assert floats == ck.record_floats(n, steps)
        # K <= sqrt(2N) (K doubles when N reaches 2 K^2), 2K checkpoints and K + 1 rows at most
        bound = np.sqrt(2 * steps) * (2 * (n + 2) + (3 * n + 1)) + 3 * n + 1
        assert floats <= bound, (steps, floats, bound)
        sizes.append((steps, floats, rows.size))
    (n1, f1, all1), (n2, f2, all2) = sizes
    assert n2 > 8 * n1
    assert f2 <= 8 * f1  # sqrt(10) ~ 3.2, K a power of 2 between sqrt(N / 2) and sqrt(2N)
    assert f2 < all2 / 20  # against keeping every step's row
