"""Gathers and scatter-adds fused into loops: compiled results equal eager NumPy evaluation.

A hierarchical model's ``a[g]`` (a gather of a short vector by a long index) and its
gradient's scatter-add back into ``a`` join the loop over the data: ``a[g[o0]]`` is loaded and
``grad_a[g[o0]] += ...`` accumulated in the same pass. The cases below also cover the orders in
which that would be wrong (the gathered vector or the scatter's result computed in the same
loop), repeated and negative indices.
"""

from __future__ import annotations

import numpy as np
import pytest

import autodiff
from autodiff.codegen.fusion import plan_fusion

anp = autodiff.numpy
RNG = np.random.default_rng(11)


def _check(fn, *args):
    """``jit(grad(fn))`` and ``jit(fn)`` equal their eager evaluation."""
    argnums = tuple(range(len(args) - 1))  # the last argument is an index array
    grad = autodiff.value_and_grad(fn, argnums=argnums)
    value, grads = grad(*args)
    got_value, got_grads = autodiff.jit(grad)(*args)
    np.testing.assert_allclose(got_value, value, rtol=1e-12)
    for g, e in zip(got_grads, grads):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(autodiff.jit(fn)(*args), fn(*args), rtol=1e-12)
    return autodiff.make_graph(grad)(*args)


def _clusters_with(graph, name):
    return [
        item for item in plan_fusion(graph)
        if item[0] == "cluster" and any(e.primitive.name == name for e in item[2])
    ]


def _hierarchical(a, b, x, y, g):
    r = y - (a[g] + b * x)
    return anp.sum(-0.5 * r * r) + anp.sum(-0.5 * a * a)


def test_hierarchical_gather_and_scatter_join_the_data_loop():
    n, j = 301, 17
    g = RNG.integers(0, j, n)
    g[:5] = 3  # repeated indices accumulate
    g[5] = -1  # a negative index counts from the end, as in NumPy
    args = (RNG.normal(size=j), 0.4, RNG.normal(size=n), RNG.normal(size=n), g)
    graph = _check(_hierarchical, *args)
    (gather_loop,) = _clusters_with(graph, "gather")
    (scatter_loop,) = _clusters_with(graph, "scatter_add")
    assert gather_loop[1] == scatter_loop[1] == (n,)  # both inside a loop over the data


def test_gathered_vector_computed_in_a_loop_of_the_same_length():
    n = 40
    perm = RNG.permutation(n)

    def fn(x, w, idx):
        u = anp.exp(x) * w  # a loop over n ...
        return anp.sum(u[idx] * anp.sin(x))  # ... whose result is gathered by an n-index

    _check(fn, RNG.normal(size=n), RNG.normal(size=n), perm)


def test_scatter_result_read_by_a_loop_of_the_same_length():
    n = 40
    idx = RNG.integers(0, n, n)

    def fn(a, c, idx):
        # the inner gradient is a scatter-add of c * cos(a[idx]) into zeros (an n-vector); the
        # loop of length n that reads it elementwise must come after the loop that fills it
        g = autodiff.grad(lambda b: anp.sum(anp.sin(b[idx]) * c))(a)
        return anp.sum(anp.sin(g) * c) + anp.sum(anp.exp(a) * c)

    _check(fn, RNG.normal(size=n), RNG.normal(size=n), idx)


@pytest.mark.parametrize("n, j", [(1, 1), (7, 30)])
def test_short_and_wide_index_vectors(n, j):
    args = (RNG.normal(size=j), -1.3, RNG.normal(size=n), RNG.normal(size=n),
            RNG.integers(0, j, n))
    _check(_hierarchical, *args)
