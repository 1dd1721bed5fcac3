"""kernels.blas against NumPy's matrix products (the oracle), over shapes, layouts and empties."""

import numpy as np
import pytest

from kernels.blas import matmat, matvec, matvec_t

SHAPES = [(1, 1), (3, 1), (1, 4), (7, 5), (64, 33), (0, 3), (3, 0)]


@pytest.mark.parametrize("m, n", SHAPES)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_matvec_and_transposed_product_match_numpy(m, n, layout):
    rng = np.random.default_rng(m * 100 + n)
    a = rng.normal(size=(m, 2 * n))[:, ::2] if layout == "strided" else rng.normal(size=(m, n))
    if layout == "F":
        a = np.asfortranarray(a)
    x, z = rng.normal(size=n), rng.normal(size=m)
    np.testing.assert_allclose(matvec(a, x), a @ x, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(matvec_t(a, z), a.T @ z, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (4, 3, 2), (5, 1, 6), (30, 17, 9), (0, 2, 3),
                                     (2, 0, 3), (2, 3, 0)])
def test_matmat_matches_numpy_for_every_layout(m, k, n):
    rng = np.random.default_rng(m + 10 * k + 100 * n)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    for left in (a, np.asfortranarray(a)):
        for right in (b, np.asfortranarray(b)):
            out = matmat(left, right)
            assert out.flags.c_contiguous
            np.testing.assert_allclose(out, a @ b, rtol=1e-13, atol=1e-13)


def test_single_threaded_blas_holds_openblas_to_one_thread_and_restores_it():
    """While chains run side by side every loaded OpenBLAS uses one thread, then its own count."""
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS, the one compiled code calls)

    from kernels import blas_threads
    from kernels.blas_threads import single_threaded_blas

    controls = blas_threads._openblas_controls()
    if not controls:
        pytest.skip("no OpenBLAS loaded in this process (not Linux, or another BLAS)")
    get, set_ = controls[0]
    saved = get()
    set_(2)
    try:
        with single_threaded_blas():
            assert [g() for g, _ in controls] == [1] * len(controls)
        assert get() == 2
        with single_threaded_blas(enabled=False):
            assert get() == 2
    finally:
        set_(saved)
