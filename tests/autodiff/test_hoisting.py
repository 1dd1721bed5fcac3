"""Data-only terms computed once (autodiff.hoisting and its use by compile_logp_grad).

Oracles: the unsplit graph evaluated by NumPy (eval_graph), SciPy's log densities and central
finite differences; rebinding is checked against a fresh evaluation on the new data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as ss
import scipy.stats as st

import autodiff
import autodiff.numpy as anp
from autodiff.codegen import compile_logp_grad
from autodiff.hoisting import hoist_data_terms
from autodiff.ir import eval_graph, typecheck
from autodiff.passes import optimize
from autodiff.scipy import special as sp

RNG = np.random.default_rng(20261203)
N, K = 200, 4
X = RNG.normal(size=(N, K)) * 0.5
Y = RNG.poisson(3.0, N).astype(float)
W = RNG.uniform(0.5, 2.0, N)


def poisson_logp(theta, X, y, w):
    """Poisson regression with weights and a data-only broadcast: every kind of frontier."""
    eta = theta[0] + X @ theta[1:]
    terms = y * eta - anp.exp(eta) - sp.gammaln(y + 1.0)
    spread = anp.broadcast_to(anp.log(w)[:, None], (N, K))  # hoisted below the broadcast
    return anp.sum(w * terms) + anp.sum(spread * theta[1:]) - 0.5 * anp.sum(theta ** 2)


def poisson_reference(theta, X, y, w):
    eta = theta[0] + X @ theta[1:]
    return (np.sum(w * st.poisson.logpmf(y, np.exp(eta))) + np.sum(np.log(w)) * np.sum(theta[1:])
            - 0.5 * np.sum(theta ** 2))


def _graph(fn, theta, *data):
    return optimize(autodiff.make_graph(autodiff.value_and_grad(fn))(theta, *data))


def test_the_split_computes_the_same_outputs():
    theta = RNG.normal(size=K + 1) * 0.2
    graph = _graph(poisson_logp, theta, X, Y, W)
    prelude, kernel = hoist_data_terms(graph)
    typecheck(prelude)
    typecheck(kernel)
    names = {e.primitive.name for e in prelude.eqns}
    assert {"gammaln", "log"} <= names
    assert "gammaln" not in {e.primitive.name for e in kernel.eqns}
    # the broadcast stays in the kernel: the hoisted values are no bigger than the data
    assert all(v.aval.size <= N * K for v in prelude.outputs)
    assert max(v.aval.size for v in prelude.outputs) == N
    hoisted = eval_graph(prelude, X, Y, W)
    for t in (theta, RNG.normal(size=K + 1) * 0.2):
        split = eval_graph(kernel, t, X, Y, W, *hoisted)
        whole = eval_graph(graph, t, X, Y, W)
        np.testing.assert_allclose(split[0], whole[0], rtol=1e-14)
        np.testing.assert_allclose(split[1], whole[1], rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(split[0], poisson_reference(t, X, Y, W), rtol=1e-12)


def test_refilled_inputs_and_cheap_terms_are_not_hoisted():
    theta = np.zeros(K + 1)
    graph = _graph(poisson_logp, theta, X, Y, W)
    prelude, kernel = hoist_data_terms(graph, refilled=(1,))  # y rewritten between calls
    assert "gammaln" not in {e.primitive.name for e in prelude.eqns}
    assert all(v is not graph.inputs[2] for v in prelude.outputs)
    assert kernel.inputs[:4] == graph.inputs

    def cheap(theta, y):  # -y and y == 0 cost what reading them back would
        return anp.sum(anp.where(y == 0.0, theta, -y * theta))

    g = _graph(cheap, np.zeros(3), np.array([0.0, 1.0, 2.0]))
    prelude, kernel = hoist_data_terms(g)
    assert prelude.outputs == [] and kernel is g
    with pytest.raises(ValueError, match="refilled positions \\[3\\]"):
        hoist_data_terms(graph, refilled=(3,))


def test_multiple_outputs_of_a_data_only_equation():
    """An eigendecomposition of a data matrix: both of its outputs are read by the kernel."""
    A = RNG.normal(size=(5, 5))
    A = A @ A.T + np.eye(5)

    def logp(theta, A):
        vals, vecs = anp.linalg.eigh(A)
        return anp.sum(vals * theta ** 2) + anp.sum((vecs @ theta) ** 3)

    theta = RNG.normal(size=5)
    graph = _graph(logp, theta, A)
    prelude, kernel = hoist_data_terms(graph)
    assert [e.primitive.name for e in prelude.eqns] == ["eigh"]
    split = eval_graph(kernel, theta, A, *eval_graph(prelude, A))
    whole = eval_graph(graph, theta, A)
    np.testing.assert_allclose(split[0], whole[0], rtol=1e-13)
    np.testing.assert_allclose(split[1], whole[1], rtol=1e-13)


def _central_differences(f, theta, eps=1e-6):
    return np.array([(f(theta + eps * e) - f(theta - eps * e)) / (2 * eps)
                     for e in np.eye(theta.size)])


def test_compiled_kernel_matches_unhoisted_scipy_and_finite_differences():
    theta = RNG.normal(size=K + 1) * 0.2
    graph = autodiff.make_graph(autodiff.value_and_grad(poisson_logp))(theta, X, Y, W)
    hoisted = compile_logp_grad(graph)
    plain = compile_logp_grad(graph, refilled=range(3))
    assert hoisted.prelude.outputs and not plain.prelude.outputs
    assert len(hoisted.graph.eqns) < len(plain.graph.eqns)
    for t in (theta, RNG.normal(size=K + 1) * 0.2):
        lp_h, g_h = hoisted(t, X, Y, W)
        lp_p, g_p = plain(t, X, Y, W)
        np.testing.assert_allclose(lp_h, lp_p, rtol=1e-13)
        np.testing.assert_allclose(g_h, g_p, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(lp_h, poisson_reference(t, X, Y, W), rtol=1e-12)
        fd = _central_differences(lambda s: poisson_reference(s, X, Y, W), t)
        np.testing.assert_allclose(g_h, fd, rtol=1e-6, atol=1e-6)


def test_new_data_get_their_own_hoisted_values():
    """One compiled kernel, two data sets: packing the second computes its own gammaln(y + 1)
    (a stale value would be off by sum(w * (gammaln(y2 + 1) - gammaln(y + 1))))."""
    theta = RNG.normal(size=K + 1) * 0.2
    graph = autodiff.make_graph(autodiff.value_and_grad(poisson_logp))(theta, X, Y, W)
    kernel = compile_logp_grad(graph)
    y2 = Y + 3.0
    first = kernel(theta, X, Y, W)[0]
    second = kernel(theta, X, y2, W)[0]
    np.testing.assert_allclose(first, poisson_reference(theta, X, Y, W), rtol=1e-12)
    np.testing.assert_allclose(second, poisson_reference(theta, X, y2, W), rtol=1e-12)
    assert abs(np.sum(W * (ss.gammaln(y2 + 1) - ss.gammaln(Y + 1)))) > 100.0
    np.testing.assert_array_equal(kernel.hoisted_values([X, y2, W])[0], ss.gammaln(y2 + 1.0))
