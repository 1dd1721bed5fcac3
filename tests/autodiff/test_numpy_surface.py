"""The composed NumPy functions (diff, pad, roll, kron, searchsorted, interp, meshgrid, the
triangle index helpers) against NumPy over their options, compiled against eager; their
derivatives are checked by the generic rows of rule_cases.py."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp

RNG = np.random.default_rng(2024)
A34 = RNG.normal(size=(3, 4))
A234 = RNG.normal(size=(2, 3, 4))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"n": 0},
        {"n": 2},
        {"n": 3, "axis": 0},
        {"axis": 1},
        {"prepend": 0.5},
        {"append": np.ones((2, 3, 2))},
        {"n": 2, "prepend": -1.0, "append": 2.0, "axis": 0},
    ],
)
def test_diff(kwargs):
    np.testing.assert_array_equal(anp.diff(A234, **kwargs), np.diff(A234, **kwargs))


@pytest.mark.parametrize(
    "pad_width", [0, 2, (1, 3), ((0, 1), (2, 0), (1, 1)), ((3, 3), (4, 0), (0, 5))]
)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_pad(pad_width, mode):
    np.testing.assert_array_equal(
        anp.pad(A234, pad_width, mode=mode), np.pad(A234, pad_width, mode=mode)
    )


def test_pad_constant_values():
    for values in (1.5, (1.0, 2.0), ((1.0, 2.0), (3.0, 4.0))):
        np.testing.assert_array_equal(
            anp.pad(A34, ((1, 2), (2, 1)), constant_values=values),
            np.pad(A34, ((1, 2), (2, 1)), constant_values=values),
        )
    with pytest.raises(NotImplementedError, match="mode 'mean'"):
        anp.pad(A34, 1, mode="mean")


@pytest.mark.parametrize(
    "shift, axis",
    [(1, None), (-7, None), (2, 0), (-1, -1), ((1, 2), (0, 1)), ((1, 1), (2, 2)), (30, 2)],
)
def test_roll(shift, axis):
    np.testing.assert_array_equal(anp.roll(A234, shift, axis), np.roll(A234, shift, axis))


@pytest.mark.parametrize(
    "sa, sb", [((3,), (2,)), ((2, 3), (4, 2)), ((3,), (2, 2)), ((2, 1, 3), (2, 2)), ((), (3,))]
)
def test_kron(sa, sb):
    a, b = RNG.normal(size=sa), RNG.normal(size=sb)
    np.testing.assert_allclose(anp.kron(a, b), np.kron(a, b), rtol=1e-15)


def test_searchsorted():
    a = np.array([-1.0, 0.0, 0.0, 0.5, 2.0])
    v = np.array([[-2.0, -1.0, 0.0, 0.2], [0.5, 1.0, 2.0, 3.0]])
    for side in ("left", "right"):
        got = anp.searchsorted(a, v, side=side)
        np.testing.assert_array_equal(got, np.searchsorted(a, v, side=side))
        assert got.dtype == np.int64
    order = np.array([4, 0, 2, 1, 3])
    shuffled = a[order]
    sorter = np.argsort(shuffled)
    np.testing.assert_array_equal(
        anp.searchsorted(shuffled, v, sorter=sorter), np.searchsorted(shuffled, v, sorter=sorter)
    )


def test_interp():
    xp = np.array([-1.0, 0.0, 0.5, 2.0, 2.5])
    fp = np.array([3.0, -1.0, 2.0, 0.0, 1.0])
    x = np.concatenate([xp, np.linspace(-2.0, 3.0, 41), [np.inf, -np.inf]])
    np.testing.assert_allclose(anp.interp(x, xp, fp), np.interp(x, xp, fp), rtol=1e-15)
    np.testing.assert_allclose(
        anp.interp(x, xp, fp, left=-9.0, right=9.0), np.interp(x, xp, fp, left=-9.0, right=9.0)
    )
    np.testing.assert_array_equal(anp.interp(x, xp[:1], fp[:1]), np.interp(x, xp[:1], fp[:1]))
    # derivative in x: the slope of the interval to the right of a knot; 0 outside
    g = autodiff.vmap(autodiff.grad(lambda t: anp.interp(t, xp, fp)))(
        np.array([-3.0, 0.25, 2.0, 7.0])
    )
    np.testing.assert_allclose(g, [0.0, 6.0, 2.0, 0.0])


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
    xs = [np.arange(2.0), np.arange(3.0) + 10, np.arange(4.0) + 100]
    for k in (1, 2, 3):
        got = anp.meshgrid(*xs[:k], indexing=indexing, sparse=sparse)
        expected = np.meshgrid(*xs[:k], indexing=indexing, sparse=sparse)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)


def test_triangle_indices_are_numpys():
    for f in ("tril_indices", "triu_indices"):
        for args in ((4,), (4, 1), (3, -1, 5)):
            for g, e in zip(getattr(anp, f)(*args), getattr(np, f)(*args)):
                np.testing.assert_array_equal(g, e)
    rows, cols = anp.tril_indices_from(A34)
    np.testing.assert_array_equal(A34[rows, cols], A34[np.tril_indices_from(A34)])


def test_compiled_equals_eager():
    xp = np.array([0.0, 1.0, 2.5, 4.0])

    def f(a, fp, x):
        grid = anp.stack(anp.meshgrid(a[0], a[1]), 0)
        out = anp.sum(anp.diff(a, axis=1) ** 2) + anp.sum(anp.pad(a, 1, mode="reflect") * 0.3)
        out = out + anp.sum(anp.roll(a, 2, axis=1) * a) + anp.sum(anp.kron(a, a[:, :2]))
        out = out + anp.sum(anp.interp(x, xp, fp)) + anp.sum(grid * grid)
        return out + anp.sum(anp.astype(anp.searchsorted(xp, x), float))

    a, fp, x = RNG.normal(size=(2, 4)), RNG.normal(size=4), RNG.uniform(-1.0, 5.0, 7)
    np.testing.assert_allclose(autodiff.jit(f)(a, fp, x), f(a, fp, x), rtol=1e-13)
    grad = autodiff.grad(f, argnums=(0, 1, 2))
    for got, expected in zip(autodiff.jit(grad)(a, fp, x), grad(a, fp, x)):
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-14)


def test_operators_defer_to_operands_that_opt_out_of_ufuncs():
    """``tracer * obj`` returns NotImplemented when ``obj`` sets ``__array_ufunc__ = None``
    (NumPy's opt-out), so ``obj.__rmul__`` runs, as for ``eta**2 * kernel`` in ppl.gp."""

    class Scaled:
        __array_ufunc__ = None

        def __init__(self, scale=1.0):
            self.scale = scale

        def __rmul__(self, other):
            return Scaled(other * self.scale)

        __mul__ = __rmul__

    def f(x):
        return (x**2 * Scaled(3.0)).scale + (Scaled(2.0) * x).scale

    assert float(autodiff.grad(f)(1.5)) == pytest.approx(2 * 1.5 * 3.0 + 2.0)
    assert isinstance(np.float64(2.0) * Scaled(), Scaled)
