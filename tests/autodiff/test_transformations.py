"""The transformations of ``autodiff`` and how they nest, checked against independent oracles.

Oracles: central finite differences (``fd_jacobian``), hand-derived derivatives, NumPy and SciPy.
Per-primitive rules are tested in ``test_rules.py``; here the subject is the machinery: nesting
(higher derivatives, forward-over-reverse, perturbation confusion), pytrees, ``vmap`` axes,
linear algebra compositions and staging to graphs (indexing: ``test_indexing.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal

import autodiff
import autodiff.numpy as anp
from autodiff import grad, hessian, jacfwd, jacrev, jvp, make_graph, value_and_grad, vjp, vmap

# --------------------------------------------------------------------------------------------
# Finite-difference oracle
# --------------------------------------------------------------------------------------------


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


def test_fd_oracle_itself():
    """The oracle is right on a function with a known Jacobian (and would catch a wrong one)."""
    x = np.array([0.3, -1.2, 2.0])
    jac = fd_jacobian(lambda v: np.array([v[0] * v[1], np.sin(v[2])]), x)
    expected = np.array([[x[1], x[0], 0.0], [0.0, 0.0, np.cos(x[2])]])
    assert_allclose(jac, expected, rtol=1e-7, atol=1e-9)
    assert not np.allclose(jac, expected + 1e-4)


# --------------------------------------------------------------------------------------------
# 1. The seed example and Python control flow on concrete values
# --------------------------------------------------------------------------------------------


def _seed(x):
    return anp.sum(anp.where(x > 0, x, x / (1 + anp.exp(-x))))


def test_seed_example_both_branches_analytic():
    x = np.array([2.0, 0.5, -0.3, -2.0, -5.0])
    g = grad(_seed)(x)
    s = 1.0 / (1.0 + np.exp(-x))
    swish = s + x * s * (1.0 - s)  # d/dx x*sigmoid(x)
    expected = np.where(x > 0, 1.0, swish)
    assert_allclose(g, expected, rtol=1e-12)
    assert_allclose(g, fd_jacobian(_seed, x), rtol=1e-6, atol=1e-9)
    # both branches really are exercised: the swish derivative differs from 1 there
    assert np.all(np.abs(g[x < 0] - 1.0) > 0.5)


def test_seed_example_value():
    x = np.array([1.5, -1.5])
    assert_allclose(_seed(x), 1.5 + (-1.5) / (1 + np.exp(1.5)), rtol=1e-14)


def _python_branches(x):
    if x > 0:
        y = x**3
    else:
        y = anp.sin(x) * 2.0
    for k in range(3):
        y = y * 0.5 + anp.cos(y) * (k + 1)
    n = 0
    while n < 2:  # a while loop on a Python counter
        y = y + x * n
        n += 1
    return y


@pytest.mark.parametrize("x0", [0.7, -0.4])
def test_python_control_flow_inside_grad(x0):
    g = grad(_python_branches)(x0)
    assert_allclose(g, fd_jacobian(_python_branches, x0), rtol=1e-6, atol=1e-9)


def test_python_branch_taken_matters():
    """Each branch yields its own derivative (so the tape records the path actually taken)."""
    assert_allclose(grad(lambda x: x**3 if x > 0 else anp.sin(x) * 2.0)(0.5), 3 * 0.25)
    assert_allclose(grad(lambda x: x**3 if x > 0 else anp.sin(x) * 2.0)(-0.5), 2 * np.cos(-0.5))


def test_while_loop_on_concrete_values_newton():
    """Newton's method for sqrt(a) with a data-dependent `while`: d sqrt(a)/da = 1/(2 sqrt a)."""

    def newton_sqrt(a):
        y = a
        while abs(float(y * y - a)) > 1e-13:
            y = 0.5 * (y + a / y)
        return y

    a = 3.0
    assert_allclose(newton_sqrt(a), np.sqrt(a), rtol=1e-13)
    assert_allclose(grad(newton_sqrt)(a), 0.5 / np.sqrt(a), rtol=1e-10)


# --------------------------------------------------------------------------------------------
# 2. Higher derivatives, forward-over-reverse, perturbation confusion
# --------------------------------------------------------------------------------------------


def _d3(f):
    return grad(grad(grad(f)))


def _exp_log1p_d3(x):
    g = np.log1p(x)
    g1, g2, g3 = 1 / (1 + x), -1 / (1 + x) ** 2, 2 / (1 + x) ** 3
    return np.exp(x) * (g + 3 * g1 + 3 * g2 + g3)


@pytest.mark.parametrize(
    "f, d3",
    [
        (anp.sin, lambda x: -np.cos(x)),
        (lambda x: x**4, lambda x: 24 * x),
        (lambda x: anp.exp(x) * anp.log1p(x), _exp_log1p_d3),
        (lambda x: anp.tanh(x), lambda x: -2 * (1 - np.tanh(x) ** 2) * (1 - 3 * np.tanh(x) ** 2)),
    ],
    ids=["sin", "x4", "exp_log1p", "tanh"],
)
@pytest.mark.parametrize("x", [0.3, 1.7])
def test_third_derivative_analytic(f, d3, x):
    assert_allclose(_d3(f)(x), d3(x), rtol=1e-10, atol=1e-12)


def test_third_derivative_vs_fd_of_second():
    f = lambda x: anp.exp(x) * anp.log1p(x)  # noqa: E731
    d2 = grad(grad(f))
    assert_allclose(_d3(f)(0.8), fd_jacobian(d2, 0.8), rtol=1e-6)


def test_fourth_derivative_mixed_modes():
    """jvp over grad over jvp: modes interleave at any depth."""

    def df(x):  # forward
        return jvp(anp.sin, (x,), (1.0,))[1]

    def d3(x):
        return grad(grad(df))(x)

    def d4(x):
        return jvp(d3, (x,), (1.0,))[1]

    assert_allclose(d4(0.4), np.sin(0.4), rtol=1e-12)


def _logreg_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    w_true = np.array([0.5, -1.0, 2.0, 0.0])
    y = (rng.uniform(size=30) < 1 / (1 + np.exp(-X @ w_true))).astype(float)
    return X, y


def _logreg_logp(w, X, y):
    z = anp.dot(X, w)
    return anp.sum(y * z - anp.logaddexp(0.0, z)) - 0.5 * anp.sum(w * w)


def test_hessian_logistic_regression():
    X, y = _logreg_data()
    w = np.array([0.1, -0.3, 0.7, 0.2])
    H = hessian(_logreg_logp)(w, X, y)
    assert H.shape == (4, 4)
    assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)
    p = 1 / (1 + np.exp(-X @ w))
    analytic = -(X.T * (p * (1 - p))) @ X - np.eye(4)
    assert_allclose(H, analytic, rtol=1e-10)
    g = grad(_logreg_logp)
    assert_allclose(H, fd_jacobian(lambda v: g(v, X, y), w), rtol=1e-6, atol=1e-8)
    assert_allclose(g(w, X, y), X.T @ (y - p) - w, rtol=1e-10)


def test_hvp_forward_over_reverse():
    X, y = _logreg_data()
    w = np.array([0.1, -0.3, 0.7, 0.2])
    v = np.array([1.0, -2.0, 0.5, 3.0])
    g = grad(_logreg_logp)
    g_w, hv = jvp(lambda u: g(u, X, y), (w,), (v,))
    assert_allclose(g_w, g(w, X, y), rtol=1e-13)
    assert_allclose(hv, hessian(_logreg_logp)(w, X, y) @ v, rtol=1e-10)
    h = 1e-6
    fd = (g(w + h * v, X, y) - g(w - h * v, X, y)) / (2 * h)
    assert_allclose(hv, fd, rtol=1e-6, atol=1e-7)


def test_hvp_reverse_over_reverse():
    X, y = _logreg_data()
    w = np.array([0.1, -0.3, 0.7, 0.2])
    v = np.array([1.0, -2.0, 0.5, 3.0])
    hv = grad(lambda u: anp.sum(grad(_logreg_logp)(u, X, y) * v))(w)
    assert_allclose(hv, hessian(_logreg_logp)(w, X, y) @ v, rtol=1e-10)


def test_hessian_of_nonquadratic_vector_function_vs_fd():
    def f(x):
        return anp.sum(anp.sin(x[:-1] * x[1:])) + anp.prod(x) + anp.sum(anp.exp(x) ** 2) / 3

    x = np.array([0.3, -0.8, 1.1, 0.4])
    H = hessian(f)(x)
    assert_allclose(H, H.T, atol=1e-12)
    assert_allclose(H, fd_jacobian(grad(f), x), rtol=1e-6, atol=1e-8)
    assert_allclose(jacrev(jacfwd(f))(x), H, rtol=1e-12, atol=1e-12)
    assert_allclose(jacrev(jacrev(f))(x), H, rtol=1e-12, atol=1e-12)


def test_perturbation_confusion_grad():
    """d/dx [x * (d/dy x*y)(2)] = d/dx [x * x] = 2x; confusing the perturbations gives x + 2."""
    for x in (1.0, 3.0):
        assert_allclose(grad(lambda x: x * grad(lambda y: x * y)(2.0))(x), 2 * x)
    # Siskind & Pearlmutter's example: d/dx [x * (d/dy (x + y))(1)] = 1, not 2
    assert_allclose(grad(lambda x: x * grad(lambda y: x + y)(1.0))(1.0), 1.0)


def test_perturbation_confusion_nested_jvp():
    def inner_derivative(x):
        return jvp(lambda y: x * y, (2.0,), (1.0,))[1]  # = x

    val, tangent = jvp(lambda x: x * inner_derivative(x), (1.5,), (1.0,))
    assert_allclose(val, 1.5 * 1.5)
    assert_allclose(tangent, 3.0)
    _, t2 = jvp(lambda x: x * jvp(lambda y: x + y, (1.0,), (1.0,))[1], (1.0,), (1.0,))
    assert_allclose(t2, 1.0)


def test_perturbation_confusion_mixed_modes():
    assert_allclose(grad(lambda x: x * jvp(lambda y: x * y, (2.0,), (1.0,))[1])(1.25), 2.5)
    assert_allclose(jvp(lambda x: x * grad(lambda y: x * y)(2.0), (1.25,), (1.0,))[1], 2.5)


# --------------------------------------------------------------------------------------------
# 3. Linear algebra compositions
# --------------------------------------------------------------------------------------------


def _mvn_logpdf(mu, A, x):
    n = x.shape[0]
    cov = anp.matmul(A, anp.transpose(A)) + np.eye(n)
    L = anp.linalg.cholesky(cov)
    z = anp.linalg.solve_triangular(L, x - mu, lower=True)
    return -0.5 * anp.sum(z * z) - anp.sum(anp.log(anp.diagonal(L))) - 0.5 * n * np.log(2 * np.pi)


@pytest.fixture
def mvn_case():
    rng = np.random.default_rng(2)
    return rng.normal(size=4), rng.normal(size=(4, 4)), rng.normal(size=4)


def test_mvn_logpdf_value_vs_scipy(mvn_case):
    mu, A, x = mvn_case
    expected = multivariate_normal.logpdf(x, mu, A @ A.T + np.eye(4))
    assert_allclose(_mvn_logpdf(mu, A, x), expected, rtol=1e-12)


def test_mvn_logpdf_gradients_vs_fd(mvn_case):
    mu, A, x = mvn_case
    g_mu, g_A, g_x = grad(_mvn_logpdf, argnums=(0, 1, 2))(mu, A, x)
    assert_allclose(g_mu, fd_jacobian(lambda m: _mvn_logpdf(m, A, x), mu), rtol=1e-6, atol=1e-8)
    assert_allclose(g_A, fd_jacobian(lambda a: _mvn_logpdf(mu, a, x), A), rtol=1e-6, atol=1e-8)
    # analytic: d/dmu = Σ⁻¹ (x - mu) = -d/dx
    S = A @ A.T + np.eye(4)
    assert_allclose(g_mu, np.linalg.solve(S, x - mu), rtol=1e-10)
    assert_allclose(g_x, -g_mu, rtol=1e-12)


def test_mvn_logpdf_hessian_wrt_mean_is_minus_precision(mvn_case):
    mu, A, x = mvn_case
    H = hessian(_mvn_logpdf)(mu, A, x)
    assert_allclose(H, -np.linalg.inv(A @ A.T + np.eye(4)), rtol=1e-10, atol=1e-12)


def test_mvn_logpdf_second_order_wrt_factor(mvn_case):
    """Second derivatives through cholesky and solve_triangular: hessian vs FD of the gradient."""
    mu, A, x = mvn_case
    g_A = grad(_mvn_logpdf, argnums=1)
    H = hessian(_mvn_logpdf, argnums=1)(mu, A, x)
    assert H.shape == (4, 4, 4, 4)
    fd = fd_jacobian(lambda a: g_A(mu, a, x), A)
    assert_allclose(H, fd, rtol=1e-6, atol=1e-7)
    assert_allclose(H, np.transpose(H, (2, 3, 0, 1)), atol=1e-12)  # symmetric as a 16x16


def test_mvn_logpdf_under_vmap(mvn_case):
    mu, A, x = mvn_case
    rng = np.random.default_rng(20)
    Xs, As = rng.normal(size=(5, 4)), rng.normal(size=(3, 4, 4))
    S = A @ A.T + np.eye(4)
    out = vmap(lambda v: _mvn_logpdf(mu, A, v))(Xs)
    assert_allclose(out, multivariate_normal.logpdf(Xs, mu, S), rtol=1e-12)
    out_a = vmap(lambda a: _mvn_logpdf(mu, a, x))(As)
    expected = [multivariate_normal.logpdf(x, mu, a @ a.T + np.eye(4)) for a in As]
    assert_allclose(out_a, expected, rtol=1e-12)
    g_A = grad(_mvn_logpdf, argnums=1)
    gs = vmap(g_A, in_axes=(None, 0, None))(mu, As, x)
    assert_allclose(gs, np.stack([g_A(mu, a, x) for a in As]), rtol=1e-12, atol=1e-14)


def test_cholesky_jvp_symmetric_tangent():
    rng = np.random.default_rng(21)
    A = rng.normal(size=(4, 4))
    S = A @ A.T + np.eye(4)
    dS = rng.normal(size=(4, 4))
    dS = dS + dS.T
    L, dL = jvp(anp.linalg.cholesky, (S,), (dS,))
    assert_allclose(L, np.linalg.cholesky(S), rtol=1e-12)
    h = 1e-6
    fd = (np.linalg.cholesky(S + h * dS) - np.linalg.cholesky(S - h * dS)) / (2 * h)
    assert_allclose(dL, fd, rtol=1e-6, atol=1e-8)
    assert_allclose(np.triu(dL, 1), 0.0, atol=1e-15)  # the tangent of a lower factor is lower


@pytest.mark.parametrize(
    "f",
    [
        lambda m: anp.linalg.slogdet(m)[1],
        lambda m: anp.sum(anp.linalg.inv(m) * np.arange(9.0).reshape(3, 3)),
        lambda m: anp.sum(anp.linalg.solve(m, np.ones(3)) ** 2),
    ],
    ids=["slogdet", "inv", "solve"],
)
def test_linalg_hessians_vs_fd(f):
    M = np.random.default_rng(22).normal(size=(3, 3)) + 3 * np.eye(3)
    assert_allclose(hessian(f)(M), fd_jacobian(grad(f), M), rtol=1e-6, atol=1e-8)


def test_cholesky_gradient_through_symmetric_parametrisation():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3))
    W = rng.normal(size=(3, 3))

    def f(a):
        return anp.sum(W * anp.linalg.cholesky(anp.matmul(a, a.T) + np.eye(3)))

    assert_allclose(grad(f)(A), fd_jacobian(f, A), rtol=1e-6, atol=1e-8)
    assert_allclose(jacfwd(f)(A), grad(f)(A), rtol=1e-10, atol=1e-12)


@pytest.fixture
def general_matrix():
    rng = np.random.default_rng(4)
    return rng.normal(size=(4, 4)) + 4 * np.eye(4)


def test_slogdet_gradient(general_matrix):
    M = general_matrix
    f = lambda m: anp.linalg.slogdet(m)[1]  # noqa: E731
    sign, logdet = anp.linalg.slogdet(M)
    assert_allclose((sign, logdet), np.linalg.slogdet(M), rtol=1e-12)
    assert_allclose(grad(f)(M), np.linalg.inv(M).T, rtol=1e-10)
    assert_allclose(grad(f)(M), fd_jacobian(f, M), rtol=1e-6, atol=1e-8)


def test_slogdet_negative_determinant():
    M = np.array([[0.0, 2.0, 0.1], [1.0, 0.3, 0.0], [0.2, 0.0, 3.0]])
    assert np.linalg.det(M) < 0
    sign, _ = anp.linalg.slogdet(M)
    assert sign == -1.0
    f = lambda m: anp.linalg.slogdet(m)[1]  # noqa: E731
    assert_allclose(grad(f)(M), fd_jacobian(f, M), rtol=1e-6, atol=1e-8)
    assert_allclose(grad(anp.linalg.det)(M), fd_jacobian(anp.linalg.det, M), rtol=1e-6, atol=1e-8)


def test_det_gradient(general_matrix):
    M = general_matrix
    assert_allclose(anp.linalg.det(M), np.linalg.det(M), rtol=1e-12)
    g = grad(anp.linalg.det)(M)
    assert_allclose(g, np.linalg.det(M) * np.linalg.inv(M).T, rtol=1e-10)
    # det(M) ~ 500, so the differences' rounding error is ~1e-7 in absolute terms
    assert_allclose(g, fd_jacobian(anp.linalg.det, M), rtol=1e-6, atol=1e-6)


def test_inv_gradient(general_matrix):
    M = general_matrix
    W = np.arange(16.0).reshape(4, 4) / 10
    f = lambda m: anp.sum(W * anp.linalg.inv(m))  # noqa: E731
    assert_allclose(anp.linalg.inv(M), np.linalg.inv(M), rtol=1e-12, atol=1e-14)
    assert_allclose(grad(f)(M), fd_jacobian(f, M), rtol=1e-6, atol=1e-8)
    assert_allclose(jacrev(anp.linalg.inv)(M), fd_jacobian(anp.linalg.inv, M), rtol=1e-6, atol=1e-8)


def test_inv_gradient_symmetric_input():
    rng = np.random.default_rng(5)
    B = rng.normal(size=(3, 3))
    f = lambda b: anp.sum(anp.linalg.inv(anp.matmul(b, b.T) + np.eye(3)) ** 2)  # noqa: E731
    assert_allclose(grad(f)(B), fd_jacobian(f, B), rtol=1e-6, atol=1e-8)


def test_solve_gradients(general_matrix):
    M = general_matrix
    b = np.array([1.0, -2.0, 0.5, 3.0])
    B = np.stack([b, b[::-1]], axis=1)
    assert_allclose(anp.linalg.solve(M, b), np.linalg.solve(M, b), rtol=1e-12)
    assert_allclose(anp.linalg.solve(M, B), np.linalg.solve(M, B), rtol=1e-12)
    f = lambda m, v: anp.sum(anp.sin(anp.linalg.solve(m, v)))  # noqa: E731
    g_M, g_b = grad(f, argnums=(0, 1))(M, b)
    assert_allclose(g_M, fd_jacobian(lambda m: f(m, b), M), rtol=1e-6, atol=1e-8)
    assert_allclose(g_b, fd_jacobian(lambda v: f(M, v), b), rtol=1e-6, atol=1e-8)
    g_B = grad(f, argnums=1)(M, B)
    assert_allclose(g_B, fd_jacobian(lambda v: f(M, v), B), rtol=1e-6, atol=1e-8)


def test_solve_triangular_trans_gradient():
    rng = np.random.default_rng(6)
    L = np.tril(rng.normal(size=(3, 3))) + 3 * np.eye(3)
    b = rng.normal(size=3)
    for trans in (False, True):
        x = anp.linalg.solve_triangular(L, b, lower=True, trans=trans)
        assert_allclose(x, np.linalg.solve(L.T if trans else L, b), rtol=1e-12)

        def f(l, trans=trans):
            return anp.sum(
                anp.linalg.solve_triangular(anp.tril(l), b, lower=True, trans=trans) ** 2
            )

        assert_allclose(grad(f)(L), fd_jacobian(f, L), rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------------------------
# 4. Pytrees, argnums, has_aux, vjp, Jacobians
# --------------------------------------------------------------------------------------------


def test_grad_of_dict_returns_dict():
    params = {"w": np.array([1.0, -2.0, 0.5]), "b": 0.3}
    x = np.array([0.2, 0.4, -1.0])

    def loss(p):
        return anp.sum((p["w"] * x + p["b"]) ** 2)

    g = grad(loss)(params)
    assert isinstance(g, dict) and set(g) == {"w", "b"}
    r = params["w"] * x + params["b"]
    assert_allclose(g["w"], 2 * r * x, rtol=1e-12)
    assert_allclose(g["b"], 2 * np.sum(r), rtol=1e-12)
    assert np.shape(g["b"]) == ()


def test_grad_nested_pytree_list_tuple():
    params = [np.array([1.0, 2.0]), (np.array(3.0), {"z": np.array([[0.5]])})]

    def f(p):
        a, (b, d) = p
        return anp.sum(a**2) * b + anp.sum(d["z"]) * b

    g = grad(f)(params)
    assert isinstance(g, list) and isinstance(g[1], tuple) and isinstance(g[1][1], dict)
    assert_allclose(g[0], 2 * params[0] * 3.0)
    assert_allclose(g[1][0], 5.0 + 0.5)
    assert_allclose(g[1][1]["z"], [[3.0]])


def test_argnums_tuple_and_int():
    f = lambda x, y, z: anp.sum(x * y) + z**2  # noqa: E731
    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    gx, gz = grad(f, argnums=(0, 2))(x, y, 4.0)
    assert_allclose(gx, y)
    assert_allclose(gz, 8.0)
    assert_allclose(grad(f, argnums=1)(x, y, 4.0), x)
    gs = grad(f, argnums=(1,))(x, y, 4.0)
    assert isinstance(gs, tuple) and len(gs) == 1
    assert_allclose(gs[0], x)


def test_has_aux():
    def f(x):
        loss = anp.sum(x**2)
        return loss, {"mean": anp.mean(x), "n": 3}

    x = np.array([1.0, 2.0, 3.0])
    g, aux = grad(f, has_aux=True)(x)
    assert_allclose(g, 2 * x)
    assert_allclose(aux["mean"], 2.0)
    assert aux["n"] == 3
    assert not isinstance(aux["mean"], autodiff.Tracer)
    (val, aux2), g2 = value_and_grad(f, has_aux=True)(x)
    assert_allclose(val, 14.0)
    assert_allclose(g2, 2 * x)
    assert_allclose(aux2["mean"], 2.0)


def test_value_and_grad():
    f = lambda x: anp.sum(anp.sin(x) * x)  # noqa: E731
    x = np.array([0.1, 1.0, -2.0])
    v, g = value_and_grad(f)(x)
    assert_allclose(v, np.sum(np.sin(x) * x))
    assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-13)
    v2, (g0, g1) = value_and_grad(lambda a, b: a * anp.exp(b), argnums=(0, 1))(2.0, 0.5)
    assert_allclose(v2, 2 * np.exp(0.5))
    assert_allclose((g0, g1), (np.exp(0.5), 2 * np.exp(0.5)))


def test_vjp_with_tuple_outputs():
    x = np.array([0.5, -1.0, 2.0])

    def f(x):
        return anp.sin(x), anp.sum(x**2)

    (s, q), pullback = vjp(f, x)
    assert_allclose(s, np.sin(x))
    assert_allclose(q, np.sum(x**2))
    ct_s = np.array([1.0, 2.0, -1.0])
    (g,) = pullback((ct_s, 3.0))
    assert_allclose(g, np.cos(x) * ct_s + 3.0 * 2 * x, rtol=1e-13)
    (g_only_q,) = pullback((np.zeros(3), 1.0))
    assert_allclose(g_only_q, 2 * x)


def test_vjp_multiple_primals_and_dict_output():
    (out, pullback) = vjp(lambda a, b: {"p": a * b, "s": a + b}, np.array([1.0, 2.0]), 3.0)
    assert_allclose(out["p"], [3.0, 6.0])
    ga, gb = pullback({"p": np.array([1.0, 1.0]), "s": np.array([0.0, 2.0])})
    assert_allclose(ga, [3.0, 5.0])
    assert_allclose(gb, 3.0 + 2.0)


def _vec_to_2x2(x):
    return anp.reshape(
        anp.stack([anp.sin(x[0]) * x[1], x[1] ** 2, anp.exp(x[2]) * x[0], x[2]]), (2, 2)
    )


def test_jacfwd_equals_jacrev_r3_to_r2x2():
    x = np.array([0.3, -1.1, 0.8])
    jf = jacfwd(_vec_to_2x2)(x)
    jr = jacrev(_vec_to_2x2)(x)
    assert jf.shape == jr.shape == (2, 2, 3)
    assert_allclose(jf, jr, rtol=1e-13, atol=1e-14)
    assert_allclose(jf, fd_jacobian(_vec_to_2x2, x), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "in_shape, fn, out_shape",
    [
        ((3,), lambda x: anp.sum(x**2), ()),
        ((2, 3), lambda x: anp.sum(x, axis=0) * 2.0, (3,)),
        ((2, 3), lambda x: anp.transpose(x) ** 2, (3, 2)),
        ((), lambda x: anp.stack([x, x**2, x**3]), (3,)),
        ((4,), lambda x: anp.outer(x, x[:2]), (4, 2)),
    ],
)
def test_jacobian_shapes_out_plus_in(in_shape, fn, out_shape):
    x = np.random.default_rng(7).normal(size=in_shape)
    jr, jf = jacrev(fn)(x), jacfwd(fn)(x)
    assert np.shape(jr) == out_shape + in_shape
    assert np.shape(jf) == out_shape + in_shape
    assert_allclose(jr, jf, rtol=1e-12, atol=1e-13)
    assert_allclose(jr, fd_jacobian(fn, x), rtol=1e-6, atol=1e-8)


def test_jacrev_argnums_tuple_shapes():
    def f(a, b):
        return anp.matmul(a, b)  # (2,3) @ (3,) -> (2,)

    a = np.arange(6.0).reshape(2, 3)
    b = np.array([1.0, -1.0, 2.0])
    ja, jb = jacrev(f, argnums=(0, 1))(a, b)
    assert ja.shape == (2, 2, 3) and jb.shape == (2, 3)
    assert_allclose(jb, a)
    expected_a = np.zeros((2, 2, 3))
    expected_a[0, 0], expected_a[1, 1] = b, b
    assert_allclose(ja, expected_a)
    ja_f, jb_f = jacfwd(f, argnums=(0, 1))(a, b)
    assert_allclose(ja_f, ja)
    assert_allclose(jb_f, jb)


def test_jacobian_of_pytree_output_and_input():
    def f(p):
        return {"u": p["x"] * p["y"], "v": anp.sum(p["x"])}

    p = {"x": np.array([1.0, 2.0]), "y": 3.0}
    jr, jf = jacrev(f)(p), jacfwd(f)(p)
    for j in (jr, jf):
        assert_allclose(j["u"]["x"], 3.0 * np.eye(2))
        assert_allclose(j["u"]["y"], [1.0, 2.0])
        assert_allclose(j["v"]["x"], [1.0, 1.0])
        assert_allclose(j["v"]["y"], 0.0)


def test_jvp_pytrees():
    primals = ({"a": np.array([1.0, 2.0]), "b": 0.5},)
    tangents = ({"a": np.array([1.0, 0.0]), "b": 2.0},)
    out, t = jvp(lambda p: (anp.sum(p["a"] ** 2), p["a"] * p["b"]), primals, tangents)
    assert_allclose(out[0], 5.0)
    assert_allclose(t[0], 2.0)
    assert_allclose(t[1], np.array([1.0, 0.0]) * 0.5 + np.array([1.0, 2.0]) * 2.0)


# --------------------------------------------------------------------------------------------
# 5. vmap
# --------------------------------------------------------------------------------------------


def test_vmap_in_axes_none():
    X = np.arange(12.0).reshape(4, 3)
    w = np.array([1.0, -1.0, 2.0])
    out = vmap(lambda x, w: anp.sum(x * w) + anp.sin(w[0]), in_axes=(0, None))(X, w)
    assert_allclose(out, X @ w + np.sin(1.0))


def test_vmap_in_axes_1():
    X = np.arange(12.0).reshape(3, 4)
    out = vmap(lambda col: anp.sum(col**2), in_axes=1)(X)
    assert_allclose(out, np.sum(X**2, axis=0))
    out2 = vmap(lambda a, b: a * b, in_axes=(1, 0))(X, np.arange(4.0 * 3).reshape(4, 3))
    assert_allclose(out2, X.T * np.arange(12.0).reshape(4, 3))


def test_vmap_out_axes_1():
    X = np.arange(6.0).reshape(2, 3)
    out = vmap(lambda x: anp.stack([x, x**2]), out_axes=1)(X)  # per example (2, 3) -> (2, 2, 3)
    expected = np.stack([np.stack([x, x**2]) for x in X], axis=1)
    assert out.shape == (2, 2, 3)
    assert_allclose(out, expected)


def test_nested_vmap():
    A = np.random.default_rng(8).normal(size=(3, 4))
    B = np.random.default_rng(9).normal(size=(5, 4))
    dists = vmap(vmap(lambda a, b: anp.sum((a - b) ** 2), in_axes=(None, 0)), in_axes=(0, None))(
        A, B
    )
    expected = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    assert dists.shape == (3, 5)
    assert_allclose(dists, expected, rtol=1e-13)


def test_vmap_of_grad_per_example_gradients():
    X, y = _logreg_data()
    w = np.array([0.1, -0.3, 0.7, 0.2])

    def loss(w, x, yi):
        z = anp.dot(x, w)
        return yi * z - anp.logaddexp(0.0, z)

    per_example = vmap(grad(loss), in_axes=(None, 0, 0))(w, X, y)
    loop = np.stack([grad(loss)(w, X[i], y[i]) for i in range(len(y))])
    assert per_example.shape == (30, 4)
    assert_allclose(per_example, loop, rtol=1e-12, atol=1e-14)
    p = 1 / (1 + np.exp(-X @ w))
    assert_allclose(per_example, (y - p)[:, None] * X, rtol=1e-10)


def test_grad_of_vmap():
    X = np.random.default_rng(10).normal(size=(6, 3))
    w = np.array([0.5, -1.0, 0.25])

    def f(w):
        return anp.sum(vmap(lambda x: anp.dot(x, w) ** 2)(X))

    assert_allclose(grad(f)(w), 2 * X.T @ (X @ w), rtol=1e-12)
    assert_allclose(grad(f)(w), fd_jacobian(f, w), rtol=1e-6)


def test_vmap_of_jacfwd_and_hessian():
    X = np.random.default_rng(11).normal(size=(5, 3))
    f = lambda x: anp.sum(anp.sin(x) * x[0])  # noqa: E731
    Hs = vmap(hessian(f))(X)
    assert Hs.shape == (5, 3, 3)
    for i in range(5):
        assert_allclose(Hs[i], hessian(f)(X[i]), rtol=1e-12, atol=1e-14)


def test_vmap_pytrees_in_and_out():
    params = {"a": np.arange(3.0), "b": 2.0}
    out = vmap(lambda p: p["a"] * p["b"], in_axes=({"a": 0, "b": None},))(params)
    assert_allclose(out, np.arange(3.0) * 2.0)
    batch = {"x": np.arange(6.0).reshape(3, 2), "y": np.array([1.0, 2.0, 3.0])}
    res = vmap(lambda d: {"s": anp.sum(d["x"]) * d["y"], "t": (d["x"], d["y"])})(batch)
    assert_allclose(res["s"], batch["x"].sum(1) * batch["y"])
    assert_allclose(res["t"][0], batch["x"])
    assert_allclose(res["t"][1], batch["y"])
    out_t = vmap(lambda x: (x, x * 2.0), out_axes=(0, 1))(np.ones((3, 2)))
    assert out_t[0].shape == (3, 2) and out_t[1].shape == (2, 3)


def test_vmap_unbatched_output_is_broadcast():
    out = vmap(lambda x: np.float64(1.5), in_axes=0)(np.zeros(4))
    assert_allclose(out, np.full(4, 1.5))


def test_vmap_matmul_and_linalg():
    rng = np.random.default_rng(12)
    As = rng.normal(size=(4, 3, 3)) + 3 * np.eye(3)
    b = rng.normal(size=3)
    sols = vmap(lambda A: anp.linalg.solve(A, b))(As)
    assert_allclose(sols, np.stack([np.linalg.solve(A, b) for A in As]), rtol=1e-12)
    lds = vmap(lambda A: anp.linalg.slogdet(A)[1])(As)
    assert_allclose(lds, np.linalg.slogdet(As)[1], rtol=1e-12)


# --------------------------------------------------------------------------------------------
# 6. make_graph, typecheck, eval_graph
# --------------------------------------------------------------------------------------------


def _small(x):
    y = anp.exp(x) * 2.0
    return anp.sum(anp.sin(y) + x)


def test_printed_graph_one_line_per_equation():
    g = make_graph(_small)(np.ones(3))
    text = str(g)
    lines = text.splitlines()
    assert len(g.eqns) == 5
    assert len(lines) == len(g.eqns) + 2  # header, one per equation, footer
    body = lines[1:-1]
    for eqn, line in zip(g.eqns, body):
        assert f"= {eqn.primitive.name}" in line
    assert lines[0].startswith("{ lambda a:f64[3]")
    assert lines[-1].strip().startswith("in (")


def test_typecheck_staged_graphs():
    x = np.array([0.5, -1.0, 2.0])
    graphs = [
        make_graph(_small)(x),
        make_graph(grad(_small))(x),
        make_graph(hessian(_small))(x),
        make_graph(lambda x: jvp(_small, (x,), (x,)))(x),
        make_graph(vmap(_small))(np.ones((2, 3))),
        make_graph(lambda x: x[np.array([0, 0])] + x[::-1][:2])(x),
    ]
    for g in graphs:
        autodiff.typecheck(g)


def test_typecheck_detects_broken_graph():
    g = make_graph(_small)(np.ones(3))
    broken = autodiff.Graph(g.inputs, list(reversed(g.eqns)), g.outputs)
    with pytest.raises(TypeError, match="undefined variable"):
        autodiff.typecheck(broken)


def test_eval_graph_equals_function():
    x = np.array([0.5, -1.0, 2.0])
    g = make_graph(_small)(x)
    (out,) = autodiff.eval_graph(g, x)
    assert_allclose(out, _small(x), rtol=1e-15)
    x2 = np.array([3.0, 0.0, -0.5])  # the graph is reusable at other values
    assert_allclose(autodiff.eval_graph(g, x2)[0], _small(x2), rtol=1e-15)


def test_staged_gradient_graph_equals_eager_gradient():
    X, y = _logreg_data()
    w = np.array([0.1, -0.3, 0.7, 0.2])
    g = make_graph(grad(_logreg_logp))(w, X, y)
    autodiff.typecheck(g)
    for w2 in (w, -2 * w):
        (out,) = autodiff.eval_graph(g, w2, X, y)
        assert_allclose(out, grad(_logreg_logp)(w2, X, y), rtol=1e-13)


def test_staged_graph_is_differentiable():
    """A staged graph evaluated on tracers is transformed: grad of eval_graph = grad of f."""
    x = np.array([0.5, -1.0, 2.0])
    g = make_graph(_small)(x)
    assert_allclose(grad(lambda v: autodiff.eval_graph(g, v)[0])(x), grad(_small)(x), rtol=1e-14)


def test_make_graph_pytree_inputs_flattened():
    g = make_graph(lambda p: p["a"] * p["b"])({"a": np.ones(2), "b": 3.0})
    assert [v.aval.shape for v in g.inputs] == [(2,), ()]
    assert_allclose(autodiff.eval_graph(g, np.array([1.0, 2.0]), 3.0)[0], [3.0, 6.0])
