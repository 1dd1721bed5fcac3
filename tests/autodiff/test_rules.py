"""Generated tests over the primitive registry (see rule_cases.py for the table).

For every case: forward mode against central finite differences along a random direction;
reverse mode against forward mode by the dot-product test <v, J u> = <Jᵀ v, u>; second order
(forward-over-reverse Hessian-vector products against finite differences of the gradient, and
Hessian symmetry); vmap against a Python loop; the staged graph (type-checked) against eager
evaluation.  Non-differentiable primitives: NumPy values, zero gradients, vmap.
"""

from __future__ import annotations

import numpy as np
import pytest

import autodiff
from autodiff.core import REGISTRY
from autodiff.ops import check_registry
from tests.autodiff.rule_cases import CASES, NONDIFF_CASES

EPS = 1e-6


def _seed(case) -> int:
    return sum(map(ord, case.id))


def _fd_directional(fn, args, dirs, eps=EPS):
    plus = fn(*[a + eps * d for a, d in zip(args, dirs)])
    minus = fn(*[a - eps * d for a, d in zip(args, dirs)])
    return (np.asarray(plus) - np.asarray(minus)) / (2 * eps)


def _directions(rng, args):
    return [rng.normal(size=np.shape(a)) for a in args]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_jvp_matches_finite_differences(case):
    rng = np.random.default_rng(_seed(case))
    args = case.draw(rng)
    dirs = _directions(rng, args)
    out, tangent = autodiff.jvp(case.fn, tuple(args), tuple(dirs))
    np.testing.assert_allclose(out, case.fn(*args), rtol=1e-12, atol=1e-12)
    expected = _fd_directional(case.fn, args, dirs)
    np.testing.assert_allclose(tangent, expected, rtol=case.rtol, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_vjp_dot_product(case):
    rng = np.random.default_rng(_seed(case) + 1)
    args = case.draw(rng)
    u = _directions(rng, args)
    out, pullback = autodiff.vjp(case.fn, *args)
    v = rng.normal(size=np.shape(out))
    _, ju = autodiff.jvp(case.fn, tuple(args), tuple(u))
    jtv = pullback(v)
    lhs = np.sum(v * np.asarray(ju))
    rhs = sum(np.sum(np.asarray(g) * d) for g, d in zip(jtv, u))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_second_order(case):
    if "first_order_only" in case.extra:
        pytest.skip(case.extra["first_order_only"])
    rng = np.random.default_rng(_seed(case) + 2)
    args = case.draw(rng)
    weights = rng.normal(size=np.shape(case.fn(*args)))
    argnums = tuple(range(len(args)))

    def scalar(*xs):
        return autodiff.numpy.sum(weights * case.fn(*xs))

    grad = autodiff.grad(scalar, argnums=argnums)
    u1, u2 = _directions(rng, args), _directions(rng, args)
    _, hvp1 = autodiff.jvp(grad, tuple(args), tuple(u1))
    _, hvp2 = autodiff.jvp(grad, tuple(args), tuple(u2))
    # symmetry of the Hessian: u2ᵀ H u1 = u1ᵀ H u2
    a = sum(np.sum(h * d) for h, d in zip(hvp1, u2))
    b = sum(np.sum(h * d) for h, d in zip(hvp2, u1))
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-8)
    # forward-over-reverse against finite differences of the gradient
    fd = [
        (np.asarray(p) - np.asarray(m)) / (2 * EPS)
        for p, m in zip(
            grad(*[x + EPS * d for x, d in zip(args, u1)]),
            grad(*[x - EPS * d for x, d in zip(args, u1)]),
        )
    ]
    for h, f in zip(hvp1, fd):
        np.testing.assert_allclose(h, f, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES + NONDIFF_CASES, ids=lambda c: c.id)
def test_vmap_matches_loop(case):
    rng = np.random.default_rng(_seed(case) + 3)
    batch = [case.draw(rng) for _ in range(3)]
    # batch every argument
    stacked = [np.stack([b[i] for b in batch]) for i in range(len(case.args))]
    expected = np.stack([np.asarray(case.fn(*b)) for b in batch])
    np.testing.assert_allclose(autodiff.vmap(case.fn)(*stacked), expected, rtol=1e-12, atol=1e-12)
    # batch only the first argument; the others shared
    if len(case.args) > 1:
        in_axes = (0,) + (None,) * (len(case.args) - 1)
        expected = np.stack([np.asarray(case.fn(b[0], *batch[0][1:])) for b in batch])
        got = autodiff.vmap(case.fn, in_axes=in_axes)(stacked[0], *batch[0][1:])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES + NONDIFF_CASES, ids=lambda c: c.id)
def test_staged_graph_matches_eager(case):
    rng = np.random.default_rng(_seed(case) + 4)
    args = case.draw(rng)
    graph = autodiff.make_graph(case.fn)(*args)
    autodiff.typecheck(graph)
    (out,) = autodiff.eval_graph(graph, *args)
    np.testing.assert_allclose(out, case.fn(*args), rtol=1e-12, atol=1e-12)
    if case.differentiable:
        weights = rng.normal(size=np.shape(out))
        grad = autodiff.grad(
            lambda *xs: autodiff.numpy.sum(weights * case.fn(*xs)), argnums=tuple(range(len(args)))
        )
        grad_graph = autodiff.make_graph(grad)(*args)
        autodiff.typecheck(grad_graph)
        for g_staged, g_eager in zip(autodiff.eval_graph(grad_graph, *args), grad(*args)):
            np.testing.assert_allclose(g_staged, g_eager, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", NONDIFF_CASES, ids=lambda c: c.id)
def test_nondifferentiable_values_and_zero_gradient(case):
    rng = np.random.default_rng(_seed(case))
    (x,) = case.draw(rng)
    np.testing.assert_array_equal(case.fn(x), case.extra["oracle"](x))
    # inside grad the output is a constant: only the x * 1.0 term contributes
    anp = autodiff.numpy
    g = autodiff.grad(lambda x: anp.sum(x + anp.sum(anp.astype(case.fn(x), float))))(x)
    np.testing.assert_array_equal(g, np.ones_like(x))


def test_stop_gradient_is_a_constant_for_differentiation():
    x = np.array([0.5, -1.5, 2.0])
    g = autodiff.grad(lambda x: autodiff.numpy.sum(x * autodiff.numpy.stop_gradient(x)))(x)
    np.testing.assert_array_equal(g, x)  # d/dx (x * c) = c, with c = x held fixed
    h = autodiff.hessian(lambda x: autodiff.numpy.sum(x * autodiff.numpy.stop_gradient(x)))(x)
    np.testing.assert_array_equal(h, np.zeros((3, 3)))


def _primitives_used(case) -> set[str]:
    rng = np.random.default_rng(0)
    args = case.draw(rng)
    seen: set[str] = set()

    def walk(graph):
        for eqn in graph.eqns:
            seen.add(eqn.primitive.name)
            for value in eqn.params.values():
                if isinstance(value, autodiff.Graph):
                    walk(value)
                if isinstance(value, tuple):
                    for v in value:
                        if isinstance(v, autodiff.Graph):
                            walk(v)

    walk(autodiff.make_graph(case.fn)(*args))
    if case.differentiable:
        grad = autodiff.grad(
            lambda *xs: autodiff.numpy.sum(case.fn(*xs)), argnums=tuple(range(len(args)))
        )
        walk(autodiff.make_graph(grad)(*args))
    return seen


def test_every_primitive_has_every_rule():
    assert check_registry() == []


def test_every_primitive_is_covered_by_the_rule_tests():
    covered: set[str] = set()
    for case in CASES + NONDIFF_CASES:
        covered |= _primitives_used(case)
    missing = sorted(set(REGISTRY) - covered - {"reverse_input"})
    assert missing == [], f"primitives without a row in rule_cases.py: {missing}"
