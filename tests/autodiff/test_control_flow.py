"""Structured control flow: ``scan``, ``cond`` and ``fori_loop`` and their transformations.

Oracles: Python loops and branches over NumPy, central finite differences, analytic derivatives.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import autodiff
import autodiff.numpy as anp
from autodiff import cond, fori_loop, grad, hessian, jacfwd, jvp, make_graph, scan, vmap


def fd_jacobian(f, x, rel=1e-6):
    """Central differences of ``f`` at ``x``: an array of shape ``f(x).shape + x.shape``."""
    x = np.array(x, dtype=np.float64)
    f0 = np.asarray(f(x), dtype=np.float64)
    jac = np.zeros(f0.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        h = rel * max(1.0, abs(x[idx]))
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        jac[(Ellipsis, *idx)] = (np.asarray(f(xp)) - np.asarray(f(xm))) / (2 * h)
    return jac


def _count_eqns(graph) -> int:
    """Equations of a graph including those of the bodies held in its equations' params."""
    n = 0
    for eqn in graph.eqns:
        n += 1
        for v in eqn.params.values():
            if isinstance(v, autodiff.Graph):
                n += _count_eqns(v)
            elif isinstance(v, tuple):
                n += sum(_count_eqns(b) for b in v if isinstance(b, autodiff.Graph))
    return n


# --------------------------------------------------------------------------------------------
# scan: values
# --------------------------------------------------------------------------------------------


def test_scan_cumulative_sum():
    xs = np.random.default_rng(0).normal(size=7)
    total, partial = scan(lambda c, x: (c + x, c + x), 0.0, xs)
    assert_allclose(total, xs.sum(), rtol=1e-14)
    assert_allclose(partial, np.cumsum(xs), rtol=1e-14)


def test_scan_ar1_recursion_vs_loop():
    eps = np.random.default_rng(1).normal(size=20)
    phi, c = 0.8, 0.3

    def step(h, e):
        h_new = c + phi * h + e
        return h_new, h_new

    last, path = scan(step, 0.0, eps)
    h, expected = 0.0, []
    for e in eps:
        h = c + phi * h + e
        expected.append(h)
    assert_allclose(path, expected, rtol=1e-13)
    assert_allclose(last, expected[-1], rtol=1e-13)


def test_scan_pytree_carry_and_outputs():
    xs = {"a": np.arange(1.0, 6.0), "b": np.arange(5.0).reshape(5, 1) * np.ones((5, 2))}

    def step(carry, x):
        s, p = carry["sum"], carry["prod"]
        new = {"sum": s + x["a"] + anp.sum(x["b"]), "prod": p * x["a"]}
        return new, (s, [p, x["b"] * 2.0])

    init = {"sum": 0.0, "prod": 1.0}
    final, (ss, (ps, bs)) = scan(step, init, xs)
    s, p, exp_s, exp_p = 0.0, 1.0, [], []
    for a, b in zip(xs["a"], xs["b"]):
        exp_s.append(s)
        exp_p.append(p)
        s, p = s + a + b.sum(), p * a
    assert_allclose(final["sum"], s)
    assert_allclose(final["prod"], p)
    assert_allclose(ss, exp_s)
    assert_allclose(ps, exp_p)
    assert_allclose(bs, xs["b"] * 2.0)
    assert isinstance(final, dict)


def test_scan_reverse():
    xs = np.array([1.0, 2.0, 3.0, 4.0])
    total, ys = scan(lambda c, x: (c * 0.5 + x, c), 0.0, xs, reverse=True)
    c, expected = 0.0, np.zeros(4)
    for i in reversed(range(4)):
        expected[i] = c
        c = c * 0.5 + xs[i]
    assert_allclose(total, c)
    assert_allclose(ys, expected)  # ys keep the positions of the xs they came from


def test_scan_length_without_xs():
    final, ys = scan(lambda c, _: (c * 2.0, c), 1.0, None, length=5)
    assert_allclose(final, 32.0)
    assert_allclose(ys, [1.0, 2.0, 4.0, 8.0, 16.0])


def test_scan_vector_carry_and_closed_over_constant():
    A = np.array([[0.9, 0.1], [-0.2, 0.7]])
    x0 = np.array([1.0, -1.0])
    final, traj = scan(lambda x, _: (anp.matmul(A, x), x), x0, None, length=6)
    x, expected = x0, []
    for _ in range(6):
        expected.append(x)
        x = A @ x
    assert_allclose(traj, expected, rtol=1e-14)
    assert_allclose(final, x, rtol=1e-14)


def test_scan_zero_length():
    final, ys = scan(lambda c, x: (c + x, c * x), 2.0, np.zeros(0))
    assert_allclose(final, 2.0)
    assert ys.shape == (0,)


# --------------------------------------------------------------------------------------------
# scan: derivatives
# --------------------------------------------------------------------------------------------


def _ar1_logp(params, y):
    """Gaussian AR(1) log density with unknown coefficient and log scale, by scan."""
    phi, log_sigma = params[0], params[1]

    def step(prev, yt):
        r = (yt - phi * prev) / anp.exp(log_sigma)
        return yt, -0.5 * r * r - log_sigma

    _, lps = scan(step, 0.0, y)
    return anp.sum(lps)


def _ar1_logp_loop(params, y):
    phi, log_sigma = params
    prev, total = 0.0, 0.0
    for yt in y:
        r = (yt - phi * prev) / np.exp(log_sigma)
        total += -0.5 * r * r - log_sigma
        prev = yt
    return total


@pytest.fixture
def ar1_data():
    rng = np.random.default_rng(2)
    y = np.zeros(50)
    for t in range(1, 50):
        y[t] = 0.6 * y[t - 1] + 0.5 * rng.normal()
    return np.array([0.4, -0.5]), y


def test_ar1_value_and_grad_wrt_params(ar1_data):
    params, y = ar1_data
    assert_allclose(_ar1_logp(params, y), _ar1_logp_loop(params, y), rtol=1e-13)
    g = grad(_ar1_logp)(params, y)
    assert_allclose(g, fd_jacobian(lambda p: _ar1_logp_loop(p, y), params), rtol=1e-6, atol=1e-7)
    # analytic: d/dphi = sum r_t y_{t-1} / sigma
    sigma = np.exp(params[1])
    prev = np.concatenate([[0.0], y[:-1]])
    r = (y - params[0] * prev) / sigma
    assert_allclose(g[0], np.sum(r * prev) / sigma, rtol=1e-10)
    assert_allclose(g[1], np.sum(r * r) - len(y), rtol=1e-10)


def test_ar1_grad_wrt_xs(ar1_data):
    params, y = ar1_data
    g = grad(_ar1_logp, argnums=1)(params, y)
    assert g.shape == y.shape
    assert_allclose(g, fd_jacobian(lambda v: _ar1_logp_loop(params, v), y), rtol=1e-6, atol=1e-7)


def _stochvol_logp(theta, eta, y):
    """A stochastic-volatility-like model: h_t = mu + phi (h_{t-1} - mu) + sigma eta_t,
    y_t ~ N(0, exp(h_t)); log density of y given (theta, eta), plus the N(0,1) prior of eta."""
    mu, phi, log_sigma = theta[0], theta[1], theta[2]
    sigma = anp.exp(log_sigma)

    def step(h_prev, inputs):
        e, yt = inputs
        h = mu + phi * (h_prev - mu) + sigma * e
        return h, -0.5 * (h + yt * yt * anp.exp(-h)) - 0.5 * e * e

    _, lps = scan(step, mu, (eta, y))
    return anp.sum(lps)


def _stochvol_loop(theta, eta, y):
    mu, phi, log_sigma = theta
    h, total = mu, 0.0
    for e, yt in zip(eta, y):
        h = mu + phi * (h - mu) + np.exp(log_sigma) * e
        total += -0.5 * (h + yt * yt * np.exp(-h)) - 0.5 * e * e
    return total


@pytest.fixture
def sv_data():
    rng = np.random.default_rng(3)
    return np.array([-0.5, 0.9, np.log(0.3)]), rng.normal(size=50), rng.normal(size=50)


def test_stochvol_value_and_grads(sv_data):
    theta, eta, y = sv_data
    assert_allclose(_stochvol_logp(theta, eta, y), _stochvol_loop(theta, eta, y), rtol=1e-13)
    g_theta, g_eta = grad(_stochvol_logp, argnums=(0, 1))(theta, eta, y)
    fd_theta = fd_jacobian(lambda t: _stochvol_loop(t, eta, y), theta)
    fd_eta = fd_jacobian(lambda e: _stochvol_loop(theta, e, y), eta)
    assert_allclose(g_theta, fd_theta, rtol=1e-6, atol=1e-7)
    assert_allclose(g_eta, fd_eta, rtol=1e-6, atol=1e-7)


def test_jvp_through_scan(sv_data):
    theta, eta, y = sv_data
    v_theta = np.array([0.3, -1.0, 0.5])
    v_eta = np.random.default_rng(4).normal(size=50)
    val, tan = jvp(lambda t, e: _stochvol_logp(t, e, y), (theta, eta), (v_theta, v_eta))
    assert_allclose(val, _stochvol_loop(theta, eta, y), rtol=1e-13)
    h = 1e-6
    fd = (
        _stochvol_loop(theta + h * v_theta, eta + h * v_eta, y)
        - _stochvol_loop(theta - h * v_theta, eta - h * v_eta, y)
    ) / (2 * h)
    assert_allclose(tan, fd, rtol=1e-6, atol=1e-7)


def test_jvp_through_scan_outputs():
    """Tangents of the stacked ys, not only of the final carry."""
    xs = np.array([0.5, -1.0, 2.0, 0.1])

    def f(a):
        return scan(lambda c, x: (anp.sin(c * a + x), c * c), 0.3, xs)

    def f_np(a):
        c, ys = 0.3, []
        for x in xs:
            ys.append(c * c)
            c = np.sin(c * a + x)
        return np.concatenate([[c], ys])

    (c, ys), (tc, tys) = jvp(f, (1.3,), (1.0,))
    assert_allclose(np.concatenate([[c], ys]), f_np(1.3), rtol=1e-13)
    assert_allclose(np.concatenate([[tc], tys]), fd_jacobian(f_np, 1.3), rtol=1e-6, atol=1e-9)


def test_hessian_through_scan(ar1_data):
    params, y = ar1_data
    H = hessian(_ar1_logp)(params, y)
    assert H.shape == (2, 2)
    assert_allclose(H, H.T, rtol=1e-12)
    fd = fd_jacobian(lambda p: grad(_ar1_logp)(p, y), params)
    assert_allclose(H, fd, rtol=1e-6, atol=1e-6)


def test_hessian_through_stochvol_scan(sv_data):
    theta, eta, y = sv_data
    H = hessian(_stochvol_logp)(theta, eta, y)
    fd = fd_jacobian(lambda t: grad(_stochvol_logp)(t, eta, y), theta)
    assert_allclose(H, fd, rtol=1e-6, atol=1e-6)


def test_grad_of_grad_through_scan():
    """c_0 = 1, c_{k+1} = a c_k + 1 for 3 steps: c_3 = a^3 + a^2 + a + 1."""

    def f(a):
        return scan(lambda c, x: (c * a + x, None), 1.0, np.ones(3))[0]

    assert_allclose(f(2.0), 15.0)
    assert_allclose(grad(f)(2.0), 3 * 4 + 2 * 2 + 1)
    assert_allclose(grad(grad(f))(2.0), 6 * 2 + 2)
    assert_allclose(grad(grad(grad(f)))(2.0), 6.0)


def test_grad_through_scan_with_closed_over_array_and_reverse():
    w = np.array([0.5, -0.3, 0.8])
    xs = np.random.default_rng(5).normal(size=(6, 3))

    def f(w, reverse):
        def step(c, x):
            return anp.tanh(c + anp.dot(w, x)), c

        final, ys = scan(step, 0.0, xs, reverse=reverse)
        return final + anp.sum(ys**2)

    for reverse in (False, True):
        g = grad(f)(w, reverse)
        assert_allclose(g, fd_jacobian(lambda v, r=reverse: f(v, r), w), rtol=1e-6, atol=1e-9)
    assert not np.allclose(f(w, True), f(w, False))


def test_grad_through_scan_pytree_carry():
    xs = np.linspace(0.1, 1.0, 8)

    def f(p):
        def step(carry, x):
            m, v = carry
            m = p[0] * m + (1 - p[0]) * x
            v = p[1] * v + (1 - p[1]) * x * x
            return (m, v), m / anp.sqrt(v + 1.0)

        (m, v), ys = scan(step, (0.0, 0.0), xs)
        return anp.sum(ys) + m * v

    p = np.array([0.9, 0.99])
    assert_allclose(grad(f)(p), fd_jacobian(f, p), rtol=1e-6, atol=1e-9)


def test_vmap_of_scan_vs_loop(ar1_data):
    params, _ = ar1_data
    Y = np.random.default_rng(6).normal(size=(4, 50))
    out = vmap(lambda y: _ar1_logp(params, y))(Y)
    assert_allclose(out, [_ar1_logp_loop(params, y) for y in Y], rtol=1e-13)
    P = np.array([[0.1, 0.0], [0.5, -1.0], [0.9, 0.3]])
    out_p = vmap(_ar1_logp, in_axes=(0, None))(P, Y[0])
    assert_allclose(out_p, [_ar1_logp_loop(p, Y[0]) for p in P], rtol=1e-13)


def test_vmap_of_scan_batched_init_only():
    inits = np.array([0.0, 1.0, -2.0])
    finals, ys = vmap(lambda c0: scan(lambda c, x: (c * 0.5 + x, c), c0, np.ones(4)))(inits)
    for c0, f, y in zip(inits, finals, ys):
        ef, ey = scan(lambda c, x: (c * 0.5 + x, c), c0, np.ones(4))
        assert_allclose(f, ef)
        assert_allclose(y, ey)
    assert ys.shape == (3, 4)


def test_vmap_of_grad_through_scan(ar1_data):
    params, _ = ar1_data
    Y = np.random.default_rng(7).normal(size=(3, 50))
    gs = vmap(grad(_ar1_logp), in_axes=(None, 0))(params, Y)
    assert gs.shape == (3, 2)
    for g, y in zip(gs, Y):
        assert_allclose(g, grad(_ar1_logp)(params, y), rtol=1e-12)


def test_scan_stays_one_equation_in_graph():
    def f(y):
        final, ys = scan(lambda c, x: (c * 0.9 + anp.sin(x), c), 0.0, y)
        return final + anp.sum(ys)

    g = make_graph(f)(np.zeros(10_000))
    autodiff.typecheck(g)
    names = [e.primitive.name for e in g.eqns]
    assert names.count("scan") == 1
    assert len(g.eqns) <= 4
    assert _count_eqns(g) < 12
    assert len(str(g).splitlines()) < 20  # the body is printed once, not 10,000 times
    y = np.random.default_rng(8).normal(size=10_000)
    c, expected = 0.0, 0.0
    for x in y[:-1]:
        c = c * 0.9 + np.sin(x)
        expected += c
    expected += c * 0.9 + np.sin(y[-1])
    assert_allclose(autodiff.eval_graph(g, y)[0], expected, rtol=1e-10)


def test_gradient_graph_of_scan_is_small():
    def f(y):
        return scan(lambda c, x: (c * 0.9 + anp.sin(x), c), 0.0, y)[0]

    g = make_graph(grad(f))(np.zeros(10_000))
    autodiff.typecheck(g)
    assert _count_eqns(g) < 60  # independent of the length
    assert _count_eqns(make_graph(grad(f))(np.zeros(10))) == _count_eqns(g)
    # evaluate a shorter instance (the Python-level scan evaluator is slow at 10,000 steps)
    g = make_graph(grad(f))(np.zeros(300))
    y = np.random.default_rng(9).normal(size=300)
    (out,) = autodiff.eval_graph(g, y)
    assert_allclose(out, grad(f)(y), rtol=1e-12)
    expected = np.cos(y) * 0.9 ** np.arange(299, -1, -1)  # dc_T/dx_t = cos(x_t) 0.9^(T-1-t)
    assert_allclose(out, expected, rtol=1e-10)


# --------------------------------------------------------------------------------------------
# cond
# --------------------------------------------------------------------------------------------


def _branchy(x):
    return cond(x > 0, lambda v: v**3 - v, lambda v: anp.sin(v) * 2.0, x)


def _branchy_np(x):
    return x**3 - x if x > 0 else np.sin(x) * 2.0


@pytest.mark.parametrize("x", [1.3, -0.7])
def test_cond_value_and_grad_each_side(x):
    assert_allclose(_branchy(x), _branchy_np(x), rtol=1e-14)
    g = grad(_branchy)(x)
    analytic = 3 * x * x - 1 if x > 0 else 2 * np.cos(x)
    assert_allclose(g, analytic, rtol=1e-13)
    assert_allclose(g, fd_jacobian(_branchy_np, x), rtol=1e-6)
    assert_allclose(jvp(_branchy, (x,), (2.0,))[1], 2 * analytic, rtol=1e-13)
    assert_allclose(grad(grad(_branchy))(x), 6 * x if x > 0 else -2 * np.sin(x), rtol=1e-13)


def test_cond_pytree_operands_and_outputs():
    def f(p, pred):
        return cond(
            pred,
            lambda q: {"a": q["x"] * q["y"], "b": (q["x"],)},
            lambda q: {"a": q["x"] - q["y"], "b": (-q["x"],)},
            p,
        )

    p = {"x": np.array([1.0, 2.0]), "y": 3.0}
    t, e = f(p, True), f(p, False)
    assert_allclose(t["a"], [3.0, 6.0])
    assert_allclose(t["b"][0], [1.0, 2.0])
    assert_allclose(e["a"], [-2.0, -1.0])
    assert_allclose(e["b"][0], [-1.0, -2.0])


def test_cond_under_vmap_batched_predicate():
    xs = np.array([-2.0, -0.5, 0.5, 2.0])
    out = vmap(_branchy)(xs)
    assert_allclose(out, [_branchy_np(x) for x in xs], rtol=1e-14)
    # per-example branch selection also in the derivative
    gs = vmap(grad(_branchy))(xs)
    assert_allclose(gs, [3 * x * x - 1 if x > 0 else 2 * np.cos(x) for x in xs], rtol=1e-13)


def test_cond_under_vmap_unbatched_predicate():
    xs = np.array([-2.0, 0.5, 2.0])
    for flag in (True, False):
        out = vmap(lambda x, f=flag: cond(f, lambda v: v * 10.0, lambda v: -v, x))(xs)
        assert_allclose(out, xs * 10.0 if flag else -xs)


def test_cond_with_closed_over_values():
    def f(a, x):
        return cond(x > 0, lambda v: v * a**2, lambda v: v - anp.exp(a), x)

    # grad with respect to the closed-over a, in each branch
    assert_allclose(grad(f)(1.5, 3.0), 3.0 * 2 * 1.5)
    assert_allclose(grad(f)(1.5, -3.0), -np.exp(1.5))
    ga, gx = grad(f, argnums=(0, 1))(0.7, 2.0)
    assert_allclose((ga, gx), (2.0 * 2 * 0.7, 0.7**2))
    # and under vmap over the closed-over value
    avals = np.array([0.5, 1.0, 2.0])
    assert_allclose(vmap(lambda a: f(a, 3.0))(avals), 3.0 * avals**2)
    assert_allclose(vmap(grad(f), in_axes=(0, None))(avals, -1.0), -np.exp(avals))


def test_cond_closed_over_in_one_branch_only():
    def f(a, b, x):
        return cond(x > 0, lambda v: v * a, lambda v: v * b * b, x)

    assert_allclose(grad(f, argnums=(0, 1))(2.0, 3.0, 5.0), (5.0, 0.0))
    assert_allclose(grad(f, argnums=(0, 1))(2.0, 3.0, -5.0), (0.0, -5.0 * 2 * 3.0))


def test_cond_inside_scan_grad():
    xs = np.array([0.5, -1.0, 2.0, -0.2, 0.3])

    def f(a):
        def step(c, x):
            c = cond(x > 0, lambda u: u * a + x, lambda u: anp.sin(u) - a * x, c)
            return c, c

        return anp.sum(scan(step, 0.1, xs)[1])

    def f_np(a):
        c, total = 0.1, 0.0
        for x in xs:
            c = c * a + x if x > 0 else np.sin(c) - a * x
            total += c
        return total

    assert_allclose(f(0.8), f_np(0.8), rtol=1e-13)
    assert_allclose(grad(f)(0.8), fd_jacobian(f_np, 0.8), rtol=1e-6)


def test_cond_is_one_equation_in_graph():
    g = make_graph(_branchy)(1.0)
    autodiff.typecheck(g)
    assert [e.primitive.name for e in g.eqns].count("cond") == 1
    assert_allclose(autodiff.eval_graph(g, -0.7)[0], _branchy_np(-0.7))
    assert_allclose(autodiff.eval_graph(g, 1.3)[0], _branchy_np(1.3))
    gg = make_graph(grad(_branchy))(1.0)
    autodiff.typecheck(gg)
    assert_allclose(autodiff.eval_graph(gg, -0.7)[0], 2 * np.cos(-0.7))


# --------------------------------------------------------------------------------------------
# fori_loop
# --------------------------------------------------------------------------------------------


def test_fori_loop_newton_sqrt():
    def newton_sqrt(a):
        return fori_loop(0, 8, lambda i, y: 0.5 * (y + a / y), 1.0)

    for a in (2.0, 9.0):
        assert_allclose(newton_sqrt(a), np.sqrt(a), rtol=1e-14)
        assert_allclose(grad(newton_sqrt)(a), 0.5 / np.sqrt(a), rtol=1e-10)


def test_fori_loop_power_and_index():
    def power(x):
        return fori_loop(0, 5, lambda i, acc: acc * x, 1.0)

    assert_allclose(power(1.3), 1.3**5)
    assert_allclose(grad(power)(1.3), 5 * 1.3**4, rtol=1e-13)
    assert_allclose(grad(grad(power))(1.3), 20 * 1.3**3, rtol=1e-13)
    # the loop index is available to the body (sum of i * x for i in 2..5)
    assert_allclose(fori_loop(2, 6, lambda i, s: s + i * 1.5, 0.0), (2 + 3 + 4 + 5) * 1.5)
    assert_allclose(grad(lambda x: fori_loop(2, 6, lambda i, s: s + i * x * x, 0.0))(3.0), 14 * 6)


def test_fori_loop_empty_range_and_vector_state():
    assert_allclose(fori_loop(3, 3, lambda i, v: v * 2.0, 1.5), 1.5)
    v0 = np.array([1.0, 2.0])
    M = np.array([[0.0, 1.0], [-1.0, 0.0]])
    out = fori_loop(0, 4, lambda i, v: anp.matmul(M, v), v0)
    assert_allclose(out, np.linalg.matrix_power(M, 4) @ v0, atol=1e-15)
    J = jacfwd(lambda v: fori_loop(0, 3, lambda i, u: anp.matmul(M, u), v))(v0)
    assert_allclose(J, np.linalg.matrix_power(M, 3), atol=1e-15)


def test_fori_loop_under_vmap():
    xs = np.array([1.0, 2.0, 3.0])
    out = vmap(lambda x: fori_loop(0, 3, lambda i, acc: acc * x + i, 0.0))(xs)
    assert_allclose(out, xs + 2.0)  # 0 -> 0*x + 0 -> 0*x + 1 -> x + 2


def test_compiled_scan_with_matrix_outputs_matches_eager():
    """Stacked per-step outputs of rank >= 1 are stored by ``cn.assign_row`` in compiled code:
    the compiled value and gradient equal the eager ones (which use plain NumPy)."""

    def f(x):
        def body(c, xt):
            c2 = c * 0.9 + anp.sin(xt)
            return c2, anp.outer(c2, xt)

        c, ys = scan(body, anp.zeros(3), x)
        return anp.sum(ys**2) + anp.sum(c)

    x = np.random.default_rng(0).normal(size=(5, 3))
    assert_allclose(autodiff.jit(f)(x), f(x), rtol=1e-12)
    assert_allclose(autodiff.jit(grad(f))(x), grad(f)(x), rtol=1e-12)


def test_compiled_scan_carries_that_are_views_of_the_inputs():
    """The compiled loop copies each step's carries into a second buffer: carries returned as
    views of the carry inputs (reversed, swapped, passed through) must not be overwritten before
    they are read. Oracle: the same recursion as a Python loop over NumPy."""

    def step(c, xt):
        a, b, m = c
        return (b[::-1] * 0.5, a + xt, m.T), anp.sum(a * b) + anp.sum(m[0])

    def f(x):
        m0 = anp.reshape(anp.arange(4.0), (2, 2))
        (a, b, m), ys = scan(step, (x[0], x[1], m0), x[2:])
        return anp.sum(ys * ys) + anp.sum(a) - anp.sum(b**2) + anp.sum(m * m0)

    def f_loop(x):
        a, b, m = x[0], x[1], np.arange(4.0).reshape(2, 2)
        total = 0.0
        for xt in x[2:]:
            y = np.sum(a * b) + np.sum(m[0])
            a, b, m = b[::-1] * 0.5, a + xt, m.T
            total += y * y
        return total + np.sum(a) - np.sum(b**2) + np.sum(m * np.arange(4.0).reshape(2, 2))

    x = np.random.default_rng(3).normal(size=(9, 3))
    assert_allclose(autodiff.jit(f)(x), f_loop(x), rtol=1e-12)
    assert_allclose(autodiff.jit(grad(f))(x), fd_jacobian(f_loop, x), rtol=1e-6, atol=1e-8)
