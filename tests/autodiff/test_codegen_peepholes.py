"""Peepholes of the Numba code generator, each checked against eager NumPy or analytic results.

* a fused loop divides by a loop-invariant scalar through its reciprocal, computed once;
* the sum of a float vector is a loop in place, not a helper call that allocates its result;
* a scalar reshaped to shape (1,) only to be scattered into a gradient is added directly.

Each test also checks the generated source, so that the peephole is known to have fired (the
values alone would be the same without it).
"""

from __future__ import annotations

import re

import numpy as np

import autodiff
from autodiff.codegen.emit import graph_to_source

anp = autodiff.numpy
RNG = np.random.default_rng(5)


def _compiled_and_source(fn, *args):
    graph = autodiff.make_graph(fn)(*args)
    source, _ = graph_to_source(graph)
    return autodiff.jit(fn)(*args), source


def test_division_by_a_loop_invariant_scalar_uses_its_reciprocal():
    x, s = RNG.normal(size=50), 1.7

    def fn(x, s):
        r = (x - 0.3) / s  # a loop value over a scalar argument
        return anp.sum(-0.5 * r * r - anp.log(s)) + anp.sum(x / 3.0)  # and over a literal

    grad = autodiff.value_and_grad(fn, argnums=(0, 1))
    (value, (gx, gs)), source = _compiled_and_source(grad, x, s)
    r = (x - 0.3) / s
    np.testing.assert_allclose(value, np.sum(-0.5 * r * r - np.log(s)) + np.sum(x / 3.0),
                               rtol=1e-13)
    np.testing.assert_allclose(gx, -r / s + 1.0 / 3.0, rtol=1e-13)
    np.testing.assert_allclose(gs, np.sum(r * r / s - 1.0 / s), rtol=1e-13)
    assert re.search(r"q_0 = 1\.0 / ", source)
    assert not re.search(r"t_\w+ = \(\S+ / ", source), "a loop still divides per element"


def test_division_by_zero_and_infinity_follow_numpy():
    x = np.array([-2.0, 0.0, 3.0])

    def fn(x, s):
        return anp.exp(x) / s

    with np.errstate(divide="ignore", invalid="ignore"):
        for s in (0.0, -0.0, np.inf):
            got, _ = _compiled_and_source(fn, x, s)
            np.testing.assert_array_equal(got, np.exp(x) / s)


def test_sum_of_a_vector_is_an_allocation_free_loop():
    x = RNG.normal(size=40)

    def fn(x):
        return anp.sum(x[3:31]) * anp.sum(x[::2])

    got, source = _compiled_and_source(fn, x)
    np.testing.assert_allclose(got, np.sum(x[3:31]) * np.sum(x[::2]), rtol=1e-14)
    assert "rows_sum" not in source


def test_scalar_gradients_are_scattered_without_one_element_arrays():
    theta = RNG.normal(size=6)

    def fn(theta):
        # a model's scalar parameters, unpacked the way ppl's parameter layout unpacks them
        a, b = anp.reshape(theta[0:1], ()), anp.reshape(theta[1:2], ())
        return a * a * b + anp.sum(anp.exp(theta[2:]))

    grad, source = _compiled_and_source(autodiff.grad(fn), theta)
    a, b = theta[:2]
    np.testing.assert_allclose(grad, [2 * a * b, a * a, *np.exp(theta[2:])], rtol=1e-14)
    assert "cn.full((np.int64(1), )" not in source
