"""The compiled forward-sensitivity gradient of ``odeint`` (``autodiff.ops.ode_sensitivity``),
and the workspace lowerings of ``concatenate``/``transpose``/``broadcast_to``/``reshape``."""

from __future__ import annotations

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff import odeint
from autodiff.avals import ShapedArray
from autodiff.codegen.emit import Module, emit_function, load_source
from autodiff.passes import optimize
from autodiff.staging import make_graph, trace_to_graph

TS = np.linspace(0.0, 3.0, 7)
Y0 = np.array([1.0, 0.5, 0.2])


def chain(y, t, theta, k):
    """y0 -> y1 -> y2 with a source: theta[0:2] enter the first two equations, theta[2] the
    last only, the scalar k only the second, theta[3] (the source) only the first."""
    a, b, c, s = theta[0], theta[1], theta[2], theta[3]
    return anp.stack([-a * y[0] + s * anp.sin(t),
                      a * y[0] - b * y[1] - k * y[1] * y[1],
                      b * y[1] - c * y[2]])


THETA = np.array([0.9, 0.6, 0.3, 0.2])
K = 0.4
WEIGHTS = np.linspace(0.5, 1.5, TS.size * 3).reshape(TS.size, 3)


def _loss(theta, k, y0):
    ys = odeint(chain, y0, TS, theta, k, rtol=1e-10, atol=1e-10)
    return anp.sum(ys * ys * WEIGHTS)


def _central(f, x, eps=1e-6):
    x = np.atleast_1d(np.asarray(x, float))
    g = np.empty(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


VALUE_AND_GRAD = autodiff.value_and_grad(_loss, argnums=(0, 1, 2))


def test_compiled_gradient_equals_finite_differences():
    # (the eager gradient runs the same primitive compiled alone: test_odeint.py covers it)
    _, (g_theta, g_k, g_y0) = autodiff.jit(VALUE_AND_GRAD)(THETA, K, Y0)
    np.testing.assert_allclose(g_theta, _central(lambda th: _loss(th, K, Y0), THETA), rtol=1e-6)
    np.testing.assert_allclose(g_k, _central(lambda k: _loss(THETA, k[0], Y0), K)[0],
                               rtol=1e-6)
    np.testing.assert_allclose(g_y0, _central(lambda y: _loss(THETA, K, y), Y0), rtol=1e-6)


def test_one_solve_gives_the_value_and_the_gradient_and_the_value_is_unchanged():
    graph = optimize(make_graph(VALUE_AND_GRAD)(THETA, K, Y0))
    names = [e.primitive.name for e in graph.eqns]
    assert names.count("odeint_sensitivities") == 1 and "odeint" not in names
    # the state of the sensitivity solve is the plain solve's, bit for bit (same steps)
    v_grad, _ = autodiff.jit(VALUE_AND_GRAD)(THETA, K, Y0)
    assert autodiff.jit(_loss)(THETA, K, Y0) == v_grad


# ---- the workspace lowerings, against NumPy -------------------------------------------------


def _in_workspace(fn, *args):
    """``fn`` compiled as a function whose float64 arrays are slices of a workspace ``ws_``
    (as in model kernels and ODE right-hand sides)."""
    f64 = np.dtype(np.float64)
    graph, consts = trace_to_graph(lambda *xs: [fn(*xs)],
                                   [ShapedArray(np.shape(a), f64) for a in args])
    assert not consts
    module = Module()
    size = emit_function(module, optimize(graph), "compiled", workspace=True)
    compiled = load_source(module.source()).compiled
    ws = np.full(max(size, 1), np.nan)
    extra = [ws] if size else []
    return np.asarray(compiled(*[np.asarray(a, float) for a in args], *extra,
                               *module.consts)[0])


def test_workspace_concatenate_and_stacked_scalars_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 2))
    out = _in_workspace(lambda a, b: anp.concatenate([a, b * 2.0], axis=1), a, b)
    np.testing.assert_array_equal(out, np.concatenate([a, b * 2.0], axis=1))
    x = rng.normal(size=4)
    out = _in_workspace(lambda x: anp.concatenate([anp.stack([x[0] * x[1], x[2]]), x]), x)
    np.testing.assert_array_equal(out, np.concatenate([[x[0] * x[1], x[2]], x]))


def test_workspace_transpose_broadcast_and_reshape_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4))
    out = _in_workspace(lambda x: anp.transpose(x * 1.5, (2, 0, 1)), x)
    np.testing.assert_array_equal(out, np.transpose(x * 1.5, (2, 0, 1)))
    v = rng.normal(size=(3, 1))
    out = _in_workspace(lambda v: anp.broadcast_to(v + 1.0, (2, 3, 4)), v)
    np.testing.assert_array_equal(out, np.broadcast_to(v + 1.0, (2, 3, 4)))
    s = np.array(0.7)
    out = _in_workspace(lambda s: anp.reshape(anp.sin(s), (1, 1)) + anp.zeros((2, 1)), s)
    np.testing.assert_array_equal(out, np.sin(0.7) * np.ones((2, 1)))


# ---- the solver kernel -------------------------------------------------------------------------


def test_the_generated_solve_divides_as_numpy():
    """x / 0 in the generated right-hand side and step loop is inf or nan, as in NumPy: an
    exception could not leave a model kernel, so the solve ends with a status and NaN outputs
    (plain solve and sensitivities)."""
    from autodiff.ops.ode import odeint_with_info
    from kernels import ode_common

    def blows_up(y, t, k):
        return k / (y - 1.0)  # y0 = 1: f(t0, y0) = k / 0

    y0 = np.array([1.0])
    ys, info = autodiff.jit(lambda k: odeint_with_info(blows_up, y0, TS, k))(2.0)
    assert info[0] == ode_common.NONFINITE
    assert ys[0, 0] == 1.0 and np.all(np.isnan(ys[1:]))
    grad = autodiff.jit(autodiff.grad(lambda k: anp.sum(odeint(blows_up, y0, TS, k))))(2.0)
    assert np.isnan(grad)


def test_dopri5_parts_borrow_and_divide_as_numpy():
    """The parts of the method that the generated loop calls at every step: no reference
    counting per call, and x / 0 is inf or nan as in the generated code."""
    from kernels import ode_dopri5

    for name in ("initial_probe", "initial_step", "step_status", "clipped_step", "stage_input",
                 "error_norm", "control", "dense_outputs", "accept"):
        kernel = getattr(ode_dopri5, name)
        assert kernel.targetoptions.get("_nrt") is False, name
        assert kernel.targetoptions.get("error_model") == "numpy", name
