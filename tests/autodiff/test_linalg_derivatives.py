"""eigh, svd, qr, expm, pinv, lstsq, matrix_power, cho_solve, kron: values against NumPy/SciPy,
derivatives against independent references, batching over a non-leading axis and the errors.

The generic checks (JVP and VJP against finite differences, second order, vmap against a loop,
compiled against eager) are the rows of ``rule_cases.py``; these are the checks a generic row
cannot make.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import autodiff
import autodiff.numpy as anp
from tests.autodiff.rule_cases import draw

la = anp.linalg


def _rng(k: int = 0) -> np.random.Generator:
    return np.random.default_rng(20261203 + k)


def test_values_against_numpy_and_scipy():
    rng = _rng()
    s = draw(rng, "distinct", (4, 4))
    w, v = la.eigh(s)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(s), rtol=1e-13)
    np.testing.assert_allclose((v * w) @ v.T, s, atol=1e-13)
    np.testing.assert_allclose(la.eigh(np.triu(s), UPLO="U")[0], w, rtol=1e-13)
    a = draw(rng, "rect", (5, 3))
    u, sv, vt = la.svd(a, full_matrices=False)
    np.testing.assert_allclose(sv, np.linalg.svd(a, compute_uv=False), rtol=1e-13)
    np.testing.assert_allclose((u * sv) @ vt, a, atol=1e-13)
    np.testing.assert_allclose(la.svd(a, full_matrices=False, compute_uv=False), sv, rtol=1e-13)
    q, r = la.qr(a)
    np.testing.assert_allclose(q @ r, a, atol=1e-13)
    np.testing.assert_allclose(r, np.triu(r))
    np.testing.assert_allclose(la.qr(a, mode="r"), r)
    np.testing.assert_allclose(la.pinv(a), np.linalg.pinv(a), atol=1e-13)
    np.testing.assert_allclose(la.pinv(a.T), np.linalg.pinv(a.T), atol=1e-13)
    b = rng.normal(size=(5, 2))
    for got, ref in zip(la.lstsq(a, b), np.linalg.lstsq(a, b, rcond=None)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)
    x = la.lstsq(a.T, b[:3, 0])[0]
    np.testing.assert_allclose(x, np.linalg.lstsq(a.T, b[:3, 0], rcond=None)[0], atol=1e-13)
    m = draw(rng, "gen", (3, 3))
    for n in (-3, -1, 0, 1, 2, 7):
        np.testing.assert_allclose(la.matrix_power(m, n), np.linalg.matrix_power(m, n), rtol=1e-12)
    for scale in (1e-3, 1.0, 10.0):
        e = rng.normal(size=(4, 4)) * scale
        np.testing.assert_allclose(la.expm(e), scipy.linalg.expm(e), rtol=1e-12, atol=1e-14)
    c = np.linalg.cholesky(s)
    np.testing.assert_allclose(
        la.cho_solve((c, True), b[:4]), scipy.linalg.cho_solve((c, True), b[:4]), rtol=1e-12
    )
    np.testing.assert_allclose(
        la.cho_solve((c.T, False), b[:4, 0]), scipy.linalg.cho_solve((c.T, False), b[:4, 0]),
        rtol=1e-12,
    )
    np.testing.assert_array_equal(la.kron(m, a), np.kron(m, a))
    assert la.kron(m, a).shape == anp.kron(m, a).shape


def test_expm_gradient_is_scipys_frechet_derivative():
    rng = _rng(1)
    a, e, g = (rng.normal(size=(3, 3)) for _ in range(3))
    _, tangent = autodiff.jvp(la.expm, (a,), (e,))
    ref_value, ref_frechet = scipy.linalg.expm_frechet(a, e)
    np.testing.assert_allclose(tangent, ref_frechet, rtol=1e-11)
    grad = autodiff.grad(lambda x: anp.sum(g * la.expm(x)))(a)
    np.testing.assert_allclose(grad, scipy.linalg.expm_frechet(a.T, g)[1], rtol=1e-11)


def test_eigenvalue_gradient_is_the_outer_product_of_eigenvectors():
    """d w_k / dA = v_k v_kᵀ along symmetric perturbations (a closed form independent of F)."""
    s = draw(_rng(2), "distinct", (4, 4))
    _, v = np.linalg.eigh(s)
    for k in range(4):
        g = autodiff.grad(lambda a, k=k: la.eigh(a)[0][k])(s)
        np.testing.assert_allclose(g, np.outer(v[:, k], v[:, k]), atol=1e-12)


def test_singular_value_gradient_is_the_outer_product_of_singular_vectors():
    a = draw(_rng(3), "rect", (4, 3))
    u, _, vt = np.linalg.svd(a, full_matrices=False)
    g = autodiff.grad(lambda x: anp.sum(la.svd(x, full_matrices=False)[1]))(a)
    np.testing.assert_allclose(g, u @ vt, atol=1e-12)


@pytest.mark.parametrize(
    "fn, dom, shape",
    [
        (lambda a: la.eigh(a)[0], "distinct", (3, 3)),
        (lambda a: la.svd(a, full_matrices=False)[1], "rect", (4, 3)),
        (lambda a: anp.abs(la.qr(a)[1]), "rect", (4, 3)),
        (la.expm, (-1.0, 1.0), (3, 3)),
    ],
    ids=["eigh", "svd", "qr", "expm"],
)
def test_vmap_over_a_trailing_axis_and_jit(fn, dom, shape):
    rng = _rng(4)
    stack = np.stack([draw(rng, dom, shape) for _ in range(3)], axis=-1)  # batch axis last
    expected = np.stack([np.asarray(fn(stack[..., i])) for i in range(3)])
    np.testing.assert_allclose(autodiff.vmap(fn, in_axes=-1)(stack), expected, rtol=1e-12)
    compiled = autodiff.jit(autodiff.vmap(fn, in_axes=-1))(stack)
    np.testing.assert_allclose(compiled, expected, rtol=1e-11, atol=1e-13)


def test_clear_errors():
    with pytest.raises(ValueError, match=r"eigh: expected square matrices .*\(3, 4\)"):
        la.eigh(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"expm: expected square matrices .*\(2, 3\)"):
        la.expm(np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        la.svd(np.ones((3, 2)))
    with pytest.raises(NotImplementedError, match=r"m >= n.*\(2, 3\)"):
        autodiff.grad(lambda a: anp.sum(la.qr(a)[1]))(np.eye(2, 3) + 0.1)
    with pytest.raises(TypeError, match="integer"):
        la.matrix_power(np.eye(2), 1.5)
    with pytest.raises(ValueError, match=r"lstsq: right-hand side of shape \(3,\)"):
        la.lstsq(np.ones((4, 2)), np.ones(3))


def test_scipy_linalg_names_follow_scipy():
    import autodiff.scipy.linalg as asl

    rng = _rng(5)
    s = draw(rng, "spd", (3, 3))
    b = rng.normal(size=(3, 2))
    for lower in (False, True):
        np.testing.assert_allclose(
            asl.cholesky(s, lower=lower), scipy.linalg.cholesky(s, lower=lower), rtol=1e-13
        )
        np.testing.assert_allclose(
            asl.cho_solve(asl.cho_factor(s, lower=lower), b),
            scipy.linalg.cho_solve(scipy.linalg.cho_factor(s, lower=lower), b),
            rtol=1e-12,
        )
    u = draw(rng, "triu", (3, 3))
    for trans in (0, 1, "T"):
        np.testing.assert_allclose(
            asl.solve_triangular(u, b, trans=trans),
            scipy.linalg.solve_triangular(u, b, trans=trans),
            rtol=1e-12,
        )
    np.testing.assert_allclose(asl.expm(u), scipy.linalg.expm(u), rtol=1e-12)
