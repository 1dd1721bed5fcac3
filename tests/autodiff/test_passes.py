"""Graph passes keep results and remove what they claim to remove."""

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp
from autodiff.passes import cse, dce, optimize
from tests.autodiff.rule_cases import CASES


def test_dce_removes_unused_equations():
    def f(x):
        unused = anp.exp(x) * 3.0  # noqa: F841  (dead on purpose)
        return anp.sin(x)

    graph = autodiff.make_graph(f)(np.ones(3))
    assert [e.primitive.name for e in dce(graph).eqns] == ["sin"]


def test_cse_merges_repeated_computations():
    graph = autodiff.make_graph(lambda x: anp.exp(x) + anp.exp(x))(np.ones(3))
    assert [e.primitive.name for e in graph.eqns].count("exp") == 2
    merged = cse(graph)
    assert [e.primitive.name for e in merged.eqns].count("exp") == 1
    autodiff.typecheck(merged)


@pytest.mark.parametrize("case", CASES[::7], ids=lambda c: c.id)
def test_optimized_gradient_graph_evaluates_the_same(case):
    rng = np.random.default_rng(3)
    args = case.draw(rng)
    grad = autodiff.grad(lambda *xs: anp.sum(case.fn(*xs)), argnums=tuple(range(len(args))))
    graph = autodiff.make_graph(grad)(*args)
    small = optimize(graph)
    autodiff.typecheck(small)
    assert len(small.eqns) <= len(graph.eqns)
    for a, b in zip(autodiff.eval_graph(small, *args), autodiff.eval_graph(graph, *args)):
        np.testing.assert_array_equal(a, b)


def test_simplify_removes_neutral_operations():
    from autodiff.passes import simplify

    graph = autodiff.make_graph(lambda x: (x + 0.0) * 1.0 / 1.0 - 0.0)(np.ones(3))
    assert simplify(graph).eqns == [] or dce(simplify(graph)).eqns == []
    out = autodiff.eval_graph(dce(simplify(graph)), np.arange(3.0))[0]
    np.testing.assert_array_equal(out, np.arange(3.0))


def test_simplify_keeps_broadcasting_operations():
    from autodiff.passes import simplify

    graph = autodiff.make_graph(lambda x: x * np.ones((2, 3)))(np.ones(3))
    small = dce(simplify(graph))
    assert small.out_avals[0].shape == (2, 3)
    np.testing.assert_array_equal(autodiff.eval_graph(small, np.arange(3.0))[0],
                                  np.broadcast_to(np.arange(3.0), (2, 3)))


@pytest.mark.parametrize("reverse", [False, True])
def test_reverse_mode_of_a_scan_runs_one_forward_loop(reverse):
    """The primal loop and the loop that records the carries for the pullback become one, and
    value and gradient still agree with central finite differences."""

    def f(x, w):
        def body(c, xt):
            c2 = c * w + anp.sin(xt)
            return c2, anp.outer(c2, xt)

        c, ys = autodiff.scan(body, anp.zeros(3), x, reverse=reverse)
        return anp.sum(ys**2) + anp.sum(c)

    x = np.random.default_rng(0).normal(size=(5, 3))
    value_and_grad = autodiff.value_and_grad(f, argnums=1)
    graph = autodiff.make_graph(value_and_grad)(x, 0.9)
    scans = [e for e in graph.eqns if e.primitive.name == "scan"]
    assert len(scans) == 3  # primal, record, pullback
    merged = [e for e in optimize(graph).eqns if e.primitive.name == "scan"]
    assert len(merged) == 2
    value, grad = autodiff.eval_graph(optimize(graph), x, 0.9)
    eps = 1e-6
    assert value == pytest.approx(f(x, 0.9), rel=1e-13)
    assert grad == pytest.approx((f(x, 0.9 + eps) - f(x, 0.9 - eps)) / (2 * eps), rel=1e-7)
