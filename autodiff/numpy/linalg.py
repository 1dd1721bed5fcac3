"""``numpy.linalg`` names, differentiable: cholesky, solve, inv, slogdet, det, solve_triangular,
eigh, svd, qr, pinv, lstsq, matrix_power, and SciPy's expm and cho_solve (kron re-exported).

New primitives only where a decomposition needs one (eigh, svd, qr, expm in
``autodiff.ops.decompositions``, with their derivative maths); the rest is composed from them, matmul and
the triangular solves, so it differentiates, batches and compiles through their rules.
"""

from __future__ import annotations

import numpy as _np

from autodiff.core import get_aval
from autodiff.ops import decompositions as _dec
from autodiff.ops import linalg as _la
from autodiff.ops.elementwise import exp, mul, stop_gradient, sub
from autodiff.ops.linalg import matmul
from autodiff.ops.structural import expand_dims, squeeze, swapaxes


def cholesky(a):
    """Lower Cholesky factor ``L`` with ``a = L Lᵀ`` (NaN when ``a`` is not positive definite)."""
    return _la.cholesky(a)


def _as_matrix(b, n):
    aval = get_aval(b)
    if aval.ndim == 1:
        if aval.shape[0] != n:
            raise ValueError(f"solve: right-hand side of shape {aval.shape} for a {n}x{n} system")
        return expand_dims(b, -1), True
    return b, False


def solve(a, b):
    """The solution ``x`` of ``a x = b`` (``b`` a vector or a matrix of right-hand sides)."""
    b2, vec = _as_matrix(b, get_aval(a).shape[-1])
    x = _la.solve(a, b2)
    return squeeze(x, -1) if vec else x


def solve_triangular(a, b, lower: bool = True, trans: bool = False):
    """Solve ``a x = b`` (or ``aᵀ x = b`` when ``trans``) for triangular ``a``."""
    b2, vec = _as_matrix(b, get_aval(a).shape[-1])
    x = _la.solve_triangular(a, b2, lower=lower, trans=trans)
    return squeeze(x, -1) if vec else x


def inv(a):
    n = get_aval(a).shape[-1]
    return _la.solve(a, _np.broadcast_to(_np.eye(n), get_aval(a).shape))


def slogdet(a):
    """``(sign, log|det a|)``."""
    sign, logdet = _la.slogdet(a)
    return sign, logdet


def det(a):
    sign, logdet = _la.slogdet(a)
    return mul(sign, exp(logdet))


def norm(x, axis=None):
    from autodiff.numpy import sqrt, sum  # noqa: A004

    return sqrt(sum(mul(x, x), axis=axis))


def _mT(x):
    return swapaxes(x, -1, -2)


def eigh(a, UPLO: str = "L"):
    """``(w, v)``: eigenvalues ascending and orthonormal eigenvectors (columns) of symmetric
    ``a``, read from its lower (``UPLO="L"``) or upper triangle.

    Derivatives (along symmetric perturbations) by the eigenvalue-gap formulas of
    ``autodiff.ops.decompositions._eigh_jvp``; they need distinct eigenvalues, and the eigenvectors are
    defined only up to sign, so differentiate sign-invariant functions of them (``v vᵀ``).
    """
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w, v = _dec.eigh(a if UPLO == "L" else _mT(a))
    return w, v


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """``(u, s, vh)`` with ``a = u diag(s) vh``, singular values descending (NumPy's signature).

    Only the reduced factorisation is available for non-square ``a`` (``full_matrices=False``);
    the completed bases of the full one are not unique and have no derivative.  Derivatives
    (Townsend 2016) need distinct nonzero singular values; singular vectors are defined up to a
    joint sign, so differentiate sign-invariant functions of them.
    """
    if hermitian:
        raise NotImplementedError("svd: hermitian=True is not supported; use eigh")
    shape = get_aval(a).shape
    if full_matrices and compute_uv and len(shape) >= 2 and shape[-1] != shape[-2]:
        raise NotImplementedError(
            f"svd: full_matrices=True for a non-square matrix of shape {shape} is not "
            "supported; pass full_matrices=False for the reduced factorisation"
        )
    u, s, vh = _dec.svd(a)
    return (u, s, vh) if compute_uv else s


def qr(a, mode: str = "reduced"):
    """``(q, r)`` of the reduced QR factorisation (``mode="r"``: ``r`` only).  Derivatives for
    full-rank square or tall ``a`` (Walter & Lehmann 2018)."""
    if mode not in ("reduced", "r"):
        raise NotImplementedError(f"qr: mode {mode!r} is not supported (only 'reduced' and 'r')")
    q, r = _dec.qr(a)
    return (q, r) if mode == "reduced" else r


def pinv(a):
    """Moore-Penrose pseudo-inverse of a full-rank ``a`` (..., m, n), by QR: ``R⁻¹ Qᵀ`` for
    ``m >= n`` and ``(pinv aᵀ)ᵀ = Q R⁻ᵀ`` for ``m < n``.  Exact for full rank, and then smooth,
    so its derivative is that of the composition; unlike ``numpy.linalg.pinv`` there is no
    cutoff of small singular values (a rank-deficient ``a`` gives infinities or NaN)."""
    m, n = get_aval(a).shape[-2:]
    if m >= n:
        q, r = _dec.qr(a)
        return _la.solve_triangular(r, _mT(q), lower=False)
    q, r = _dec.qr(_mT(a))
    return _mT(_la.solve_triangular(r, _mT(q), lower=False))


def lstsq(a, b, rcond=None):
    """``(x, residuals, rank, s)`` as ``numpy.linalg.lstsq`` for a full-rank 2-D ``a`` (m, n):
    the least-squares solution when ``m >= n``, by QR (``x = R⁻¹ Qᵀ b``, which avoids the
    squared condition number of the normal equations), and the minimum-norm solution
    ``x = Q R⁻ᵀ b`` of ``aᵀ = Q R`` when ``m < n``.  ``residuals`` are the squared residual norms
    per column (empty unless ``m > n``), ``rank`` is ``min(m, n)`` (full rank is assumed, not
    checked), ``s`` the singular values (a constant for differentiation).  ``rcond`` is accepted for NumPy's signature and unused.
    """
    from autodiff.numpy import reshape, sum  # noqa: A004

    shape = get_aval(a).shape
    if len(shape) != 2:
        raise ValueError(f"lstsq: expected a 2-D matrix, got shape {shape}")
    m, n = shape
    b2, vec = _as_matrix_rows(b, m)
    if m >= n:
        q, r = _dec.qr(a)
        x = _la.solve_triangular(r, matmul(_mT(q), b2), lower=False)
    else:
        q, r = _dec.qr(_mT(a))
        x = matmul(q, _la.solve_triangular(r, b2, lower=False, trans=True))
    if m > n:
        res = sub(b2, matmul(a, x))
        residuals = sum(mul(res, res), axis=0)
    else:
        residuals = _np.zeros((0,))
    s = _dec.svd(stop_gradient(a))[1]  # reported, not differentiated
    if vec:
        x = reshape(x, (n,))
    return x, residuals, min(m, n), s


def _as_matrix_rows(b, m: int):
    aval = get_aval(b)
    if aval.ndim == 0 or aval.shape[0] != m or aval.ndim > 2:
        raise ValueError(f"lstsq: right-hand side of shape {aval.shape} for a system of {m} rows")
    return (expand_dims(b, -1), True) if aval.ndim == 1 else (b, False)


def matrix_power(a, n: int):
    """``a`` to the integer power ``n`` by repeated squaring (``a⁻¹`` first when ``n < 0``);
    composed from matmul, so its derivatives are those of the products."""
    import operator

    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}") from None
    aval = get_aval(a)
    if aval.ndim < 2 or aval.shape[-1] != aval.shape[-2]:
        raise ValueError(f"matrix_power: expected square matrices (..., n, n), got shape {aval.shape}")
    if n == 0:
        return _np.broadcast_to(_np.eye(aval.shape[-1]), aval.shape).copy()
    if n < 0:
        a, n = inv(a), -n
    result, power = None, a
    while True:
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if not n:
            return result
        power = matmul(power, power)


def expm(a):
    """The matrix exponential (``scipy.linalg.expm``): [13/13] Padé approximant with scaling
    and squaring (Higham 2005, "The scaling and squaring method for the matrix exponential
    revisited").  Derivatives through the Fréchet derivative ``L(A, E)``, the upper-right block
    of ``expm([[A, E], [0, A]])``; the VJP is ``L(Aᵀ, Ḡ)`` (Al-Mohy & Higham 2009)."""
    return _dec.expm(a)


def cho_solve(c_and_lower, b):
    """``scipy.linalg.cho_solve((c, lower), b)``: the solution of ``A x = b`` given the Cholesky
    factor ``c`` of ``A`` (``A = c cᵀ`` when ``lower``, ``A = cᵀ c`` otherwise), by two
    triangular solves."""
    c, lower = c_and_lower
    if lower:
        return solve_triangular(c, solve_triangular(c, b, lower=True), lower=True, trans=True)
    return solve_triangular(c, solve_triangular(c, b, lower=False, trans=True), lower=False)


def kron(a, b):
    """``numpy.kron`` (the same function as ``autodiff.numpy.kron``)."""
    from autodiff.numpy import kron as _kron

    return _kron(a, b)
