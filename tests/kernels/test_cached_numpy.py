"""``kernels.cached_numpy.reshape``: NumPy's reshape of a C-contiguous copy, a view when the
input is C-contiguous already (the workspace views of generated code), compared with NumPy."""

import gc

import numpy as np
import pytest

from kernels import cached_numpy as cn
from kernels.jit import njit


def _shape(*dims):
    return tuple(np.int64(d) for d in dims)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("dims", [(2, 3), (3, 1, 2), (6,), (1, 6, 1)])
def test_a_contiguous_array_is_viewed_with_the_new_shape(dtype, dims):
    a = (np.arange(6) % 4).astype(dtype)
    view = cn.reshape(a, _shape(*dims))
    np.testing.assert_array_equal(view, a.reshape(dims))
    assert view.flags.c_contiguous and np.shares_memory(view, a)


def test_a_zero_dimensional_view_and_writes_through_the_view():
    a = np.zeros(1)
    assert cn.reshape(a, ()).shape == ()
    workspace = np.zeros(10)

    @njit
    def write(ws):
        v = cn.reshape(ws[2:8], _jit_shape())
        v[1, 2] = 7.0
        return v[1, 2]

    assert write(workspace) == 7.0
    assert workspace[2 + 1 * 3 + 2] == 7.0


@njit
def _jit_shape():
    return (np.int64(2), np.int64(3))


@pytest.mark.parametrize("make", [lambda a: a[:, ::2], lambda a: a.T, lambda a: a[1:, 1:]],
                         ids=["strided", "transposed", "offset-2d"])
def test_a_non_contiguous_array_is_copied_first(make):
    base = np.arange(24.0).reshape(4, 6)
    x = make(base)
    out = cn.reshape(x, _shape(x.size))
    np.testing.assert_array_equal(out, np.ascontiguousarray(x).reshape(-1))
    assert not np.shares_memory(out, base)


def test_the_view_keeps_its_array_alive():
    @njit
    def local_view():
        owner = np.arange(12.0)
        return cn.reshape(owner[2:8], _jit_shape())

    views = [local_view() for _ in range(50)]
    gc.collect()
    for v in views:
        np.testing.assert_array_equal(v, np.arange(2.0, 8.0).reshape(2, 3))


def test_a_shape_of_another_size_is_refused():
    with pytest.raises(ValueError, match="sizes differ"):
        cn.reshape(np.arange(6.0), _shape(4, 2))
