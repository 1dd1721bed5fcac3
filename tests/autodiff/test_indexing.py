"""Indexing under the transformations: gathers, scatters and ``.at[]`` updates, checked against
NumPy and central finite differences (``fd_jacobian`` from ``test_transformations``).

Covers NumPy's semantics for basic, advanced and boolean indexing, accumulation of repeated
indices in the adjoint, ``.at[].set/add`` on tracers and arrays, and indexing under ``vmap``.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import autodiff.numpy as anp
from autodiff import grad, jvp, make_graph, vmap
from tests.autodiff.test_transformations import fd_jacobian


def test_repeated_indices_accumulate():
    a = np.arange(5.0) + 1.0
    idx = np.array([1, 1, 3])
    g = grad(lambda a: anp.sum(a[idx]))(a)
    assert_allclose(g, [0.0, 2.0, 0.0, 1.0, 0.0])
    f = lambda a: anp.sum(a[np.array([0, 0, 2, 0])] ** 2)  # noqa: E731
    assert_allclose(grad(f)(a), fd_jacobian(f, a), rtol=1e-6)
    assert_allclose(grad(f)(a), [6.0 * a[0], 0, 2 * a[2], 0, 0])


def test_boolean_mask_concrete():
    a = np.array([-1.0, 2.0, -3.0, 4.0])
    mask = a > 0
    assert_allclose(a[mask], np.asarray(anp.array(a))[mask])
    f = lambda v: anp.sum(v[mask] ** 3)  # noqa: E731
    assert_allclose(grad(f)(a), fd_jacobian(f, a), rtol=1e-6)
    assert_allclose(grad(f)(a), np.where(mask, 3 * a**2, 0.0))
    M = np.arange(12.0).reshape(3, 4)
    m2 = M % 3 == 0
    g = grad(lambda m: anp.sum(m[m2] * 2.0))(M)
    assert_allclose(g, 2.0 * m2)


@pytest.mark.parametrize(
    "index",
    [
        (slice(None, None, -1),),
        (slice(4, 0, -2), slice(None)),
        (slice(None, None, -2), None, slice(1, 3)),
        (None, slice(None), np.newaxis, 1),
        (Ellipsis, slice(3, None, -1)),
        (1, Ellipsis, None),
        (slice(-2, None), -1),
    ],
)
def test_basic_indexing_values_and_grads(index):
    M = np.random.default_rng(13).normal(size=(5, 4))
    W = np.random.default_rng(14).normal(size=M[index].shape)
    f = lambda m: anp.sum(W * anp.sin(m[index]))  # noqa: E731
    assert make_graph(lambda m: m[index])(M).out_avals[0].shape == M[index].shape
    assert_allclose(jvp(lambda m: m[index], (M,), (M,))[0], M[index])
    assert_allclose(grad(f)(M), fd_jacobian(f, M), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "index",
    [
        (np.array([0, 2]), slice(None), np.array([1, 3])),  # separated: axes go first
        (slice(None), np.array([0, 1]), np.array([2, 3])),  # adjacent: in place
        (0, slice(None), np.array([1, 2])),  # int + array separated by a slice
        (np.array([[0], [2]]), slice(1, 3), np.array([[1, 4]])),  # broadcast (2,1)x(1,2)
        (slice(None), np.array([3, 0, 3]), slice(None, None, -1)),
        (np.array([-1, 0]), None, slice(None), 2),
    ],
)
def test_advanced_indexing_values_and_grads(index):
    M = np.random.default_rng(15).normal(size=(3, 4, 5))
    expected = M[index]

    def take(m):
        return m[index]

    # the value under a transformation (not just eager NumPy) equals NumPy's
    val, _ = jvp(take, (M,), (np.zeros_like(M),))
    assert val.shape == expected.shape
    assert_allclose(val, expected)
    assert make_graph(take)(M).out_avals[0].shape == expected.shape
    W = np.random.default_rng(16).normal(size=expected.shape)
    f = lambda m: anp.sum(W * take(m) ** 2)  # noqa: E731
    assert_allclose(grad(f)(M), fd_jacobian(f, M), rtol=1e-6, atol=1e-9)


def test_at_set_and_add_inside_grad():
    x = np.array([1.0, 2.0, 3.0, 4.0])

    def f(x):  # anp.at(x) so that the finite differences can run it on NumPy arrays
        y = anp.at(x)[1].set(x[0] * 3.0)
        y = anp.at(y)[np.array([2, 2])].add(x[3] ** 2)  # repeated indices accumulate
        return anp.sum(y**2)

    def f_method(x):  # the same with the .at property of traced values
        y = x.at[1].set(x[0] * 3.0)
        y = y.at[np.array([2, 2])].add(x[3] ** 2)
        return anp.sum(y**2)

    y = x.copy()
    y[1] = 3 * x[0]
    y[2] += 2 * x[3] ** 2
    assert_allclose(f(np.asarray(x)), np.sum(y**2))
    assert_allclose(grad(f)(x), fd_jacobian(f, x), rtol=1e-6)
    assert_allclose(grad(f_method)(x), grad(f)(x), rtol=1e-15)


def test_at_slices_and_multiply_on_tracers():
    M = np.arange(12.0).reshape(3, 4) / 7

    def f(m):
        m2 = anp.at(m)[1:, ::2].set(anp.sin(m[:2, 1::2]))
        m3 = anp.at(m2)[0].multiply(m[2])
        return anp.sum(m3 * m3)

    assert_allclose(grad(f)(M), fd_jacobian(f, M), rtol=1e-6, atol=1e-9)


def test_at_on_plain_arrays():
    x = np.zeros(4)
    out = anp.at(x)[np.array([0, 0, 3])].add(1.5)
    expected = np.zeros(4)
    np.add.at(expected, [0, 0, 3], 1.5)
    assert_allclose(out, expected)
    assert_allclose(x, 0.0)  # functional: the input is untouched
    assert_allclose(anp.at(x)[1:3].set(np.array([7.0, 8.0])), [0.0, 7.0, 8.0, 0.0])


def test_vmap_indexing_with_batched_indices():
    X = np.arange(20.0).reshape(4, 5)
    idx = np.array([0, 4, 2, 2])
    assert_allclose(vmap(lambda x, i: x[i])(X, idx), X[np.arange(4), idx])
    multi = np.array([[0, 1], [4, 4], [3, 0], [2, 1]])
    assert_allclose(vmap(lambda x, i: x[i])(X, multi), np.stack([x[i] for x, i in zip(X, multi)]))
    # unbatched operand, batched index (a NumPy array cannot be indexed by a traced value
    # directly, `v[i]`: NumPy's own __getitem__ runs; anp.take goes through autodiff)
    v = np.arange(5.0) * 10
    assert_allclose(vmap(lambda i: anp.take(v, i), in_axes=0)(idx), v[idx])
    assert_allclose(vmap(lambda i: anp.take(v, i), in_axes=0)(multi), v[multi])


def test_vmap_separated_advanced_indices_batched():
    rng = np.random.default_rng(17)
    Ms = rng.normal(size=(3, 4, 2, 5))
    Is = rng.integers(0, 4, size=(3, 2))
    Js = rng.integers(0, 5, size=(3, 2))

    def f(m, i, j):
        return m[i, :, j]

    out = vmap(f)(Ms, Is, Js)
    expected = np.stack([m[i, :, j] for m, i, j in zip(Ms, Is, Js)])
    assert out.shape == expected.shape
    assert_allclose(out, expected)
    # and with the operand shared by the batch
    out2 = vmap(f, in_axes=(None, 0, 0))(Ms[0], Is, Js)
    assert_allclose(out2, np.stack([Ms[0][i, :, j] for i, j in zip(Is, Js)]))


def test_vmap_advanced_index_after_slice_batched():
    """Per example ``m[:, i]`` keeps the index axes in place (after the slice); batched, the
    batch index comes first and the axes must be permuted back."""
    rng = np.random.default_rng(19)
    Ms = rng.normal(size=(3, 2, 5))
    Is = rng.integers(0, 5, size=(3, 4))
    out = vmap(lambda m, i: m[:, i])(Ms, Is)
    expected = np.stack([m[:, i] for m, i in zip(Ms, Is)])
    assert out.shape == expected.shape == (3, 2, 4)
    assert_allclose(out, expected)
    upd = rng.normal(size=(3, 2, 4))
    added = vmap(lambda m, i, u: anp.at(m)[:, i].add(u))(Ms, Is, upd)
    expected_add = Ms.copy()
    for b in range(3):
        np.add.at(expected_add[b], (slice(None), Is[b]), upd[b])
    assert_allclose(added, expected_add)

    def f(M):
        return anp.sum(vmap(lambda m, i: m[:, i] ** 2)(M, Is) * upd)

    assert_allclose(grad(f)(Ms), fd_jacobian(f, Ms), rtol=1e-6, atol=1e-9)


def test_grad_through_vmapped_scatter():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(3, 4))
    idx = np.array([1, 3, 1])

    def f(X):
        return anp.sum(vmap(lambda x, i: x.at[i].add(x[0] ** 2))(X, idx) ** 2)

    assert_allclose(grad(f)(X), fd_jacobian(f, X), rtol=1e-6, atol=1e-9)


def test_compiled_gradient_through_newaxis_of_a_scalar():
    """``u[None]`` of a scalar: its reverse mode scatters into a scalar, which must compile."""
    import autodiff

    def f(x):
        u = anp.exp(x[0] * x[1])
        return anp.sum(u[None, None] * anp.array([[2.0]])) + anp.sum(x[1][None] ** 2)

    x = np.array([0.3, -0.7])
    expected = fd_jacobian(f, x)
    assert_allclose(autodiff.jit(grad(f))(x), expected, rtol=1e-6, atol=1e-8)
    assert_allclose(autodiff.jit(f)(x), f(x), rtol=1e-14)
