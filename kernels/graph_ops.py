"""Small array kernels that generated code calls where Numba's NumPy support stops.

Generated functions (see ``autodiff.codegen``) are plain NumPy-in-Numba; reductions over several
axes and along rows go through these helpers, which take arrays already reshaped to
``(rows, reduced)`` so one loop serves every axis combination.
"""

from __future__ import annotations

import numpy as np

from kernels.jit import njit


@njit
def rows_sum(a: np.ndarray) -> np.ndarray:
    """Sum of each row of a 2-D array."""
    out = np.zeros(a.shape[0], a.dtype)
    if a.shape[1] == 0:
        return out
    for i in range(a.shape[0]):
        # start from the first element, as NumPy does (a zero made as ``a[i, 0] * 0`` would be
        # NaN for an infinite first element)
        s = a[i, 0]
        for j in range(1, a.shape[1]):
            s += a[i, j]
        out[i] = s
    return out


@njit
def rows_max(a: np.ndarray) -> np.ndarray:
    """Maximum of each row of a 2-D array (NaN propagates, as in NumPy)."""
    out = np.empty(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        m = a[i, 0]
        for j in range(1, a.shape[1]):
            v = a[i, j]
            if v > m or v != v:
                m = v
        out[i] = m
    return out


@njit
def rows_min(a: np.ndarray) -> np.ndarray:
    """Minimum of each row of a 2-D array (NaN propagates, as in NumPy)."""
    out = np.empty(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        m = a[i, 0]
        for j in range(1, a.shape[1]):
            v = a[i, j]
            if v < m or v != v:
                m = v
        out[i] = m
    return out


@njit
def rows_prod(a: np.ndarray) -> np.ndarray:
    """Product of each row of a 2-D array."""
    out = np.ones(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i] *= a[i, j]
    return out


@njit
def rows_cumsum(a: np.ndarray, reverse: bool) -> np.ndarray:
    """Cumulative sum along each row (from the right when ``reverse``)."""
    out = np.empty_like(a)
    n = a.shape[1]
    if n == 0:
        return out
    first = n - 1 if reverse else 0
    for i in range(a.shape[0]):
        s = a[i, first]  # the first element itself (see rows_sum)
        out[i, first] = s
        for k in range(1, n):
            j = n - 1 - k if reverse else k
            s += a[i, j]
            out[i, j] = s
    return out


@njit
def rows_cumprod(a: np.ndarray, reverse: bool) -> np.ndarray:
    """Cumulative product along each row (from the right when ``reverse``)."""
    out = np.empty_like(a)
    n = a.shape[1]
    if n == 0:
        return out
    first = n - 1 if reverse else 0
    for i in range(a.shape[0]):
        s = a[i, first]  # the first element itself (see rows_sum)
        out[i, first] = s
        for k in range(1, n):
            j = n - 1 - k if reverse else k
            s *= a[i, j]
            out[i, j] = s
    return out


@njit
def rows_argsort(a: np.ndarray) -> np.ndarray:
    """Stable argsort of each row of a 2-D array."""
    out = np.empty(a.shape, np.int64)
    for i in range(a.shape[0]):
        out[i] = np.argsort(a[i], kind="mergesort")
    return out


@njit
def rows_argmax(a: np.ndarray) -> np.ndarray:
    """First index of the maximum of each row (NaN counts as the maximum, as in NumPy)."""
    out = np.empty(a.shape[0], np.int64)
    for i in range(a.shape[0]):
        out[i] = np.argmax(a[i])
    return out


@njit
def rows_argmin(a: np.ndarray) -> np.ndarray:
    """First index of the minimum of each row."""
    out = np.empty(a.shape[0], np.int64)
    for i in range(a.shape[0]):
        out[i] = np.argmin(a[i])
    return out


@njit
def batched_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[i] @ b[i]`` for stacks of matrices ``(B, m, k)`` and ``(B, k, n)``."""
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]))
    for i in range(a.shape[0]):
        out[i] = np.dot(np.ascontiguousarray(a[i]), np.ascontiguousarray(b[i]))
    return out


@njit
def cholesky_batched(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack ``(B, n, n)``; NaN where a matrix is not positive
    definite (a model kernel must report failure through its status, not raise)."""
    n = a.shape[1]
    out = np.zeros(a.shape)
    for b in range(a.shape[0]):
        ok = True
        for j in range(n):
            s = a[b, j, j]
            for k in range(j):
                s -= out[b, j, k] * out[b, j, k]
            if not s > 0.0:
                ok = False
                break
            d = np.sqrt(s)
            out[b, j, j] = d
            for i in range(j + 1, n):
                t = a[b, i, j]
                for k in range(j):
                    t -= out[b, i, k] * out[b, j, k]
                out[b, i, j] = t / d
        if not ok:
            out[b] = np.nan
    return out


@njit
def solve_triangular_batched(a: np.ndarray, rhs: np.ndarray, lower: bool, trans: bool) -> np.ndarray:
    """Solve ``op(a[i]) x = rhs[i]`` for triangular ``a`` ``(B, n, n)``, ``rhs`` ``(B, n, k)``;
    ``op`` is the transpose when ``trans``.  Only the referenced triangle of ``a`` is read."""
    n = a.shape[1]
    out = np.empty(rhs.shape)
    # op(a) is lower-triangular when exactly one of (lower, trans) holds: forward substitution
    forward = lower != trans
    for b in range(a.shape[0]):
        for c in range(rhs.shape[2]):
            for step in range(n):
                i = step if forward else n - 1 - step
                s = rhs[b, i, c]
                for step2 in range(step):
                    j = step2 if forward else n - 1 - step2
                    aij = a[b, j, i] if trans else a[b, i, j]
                    s -= aij * out[b, j, c]
                out[b, i, c] = s / a[b, i, i]
    return out


@njit
def _lu_inplace(m: np.ndarray, perm: np.ndarray) -> float:
    """LU with partial pivoting of a square matrix in place; returns the permutation's sign, or
    0.0 when the matrix is singular."""
    n = m.shape[0]
    sign = 1.0
    for i in range(n):
        perm[i] = i
    for k in range(n):
        p = k
        best = abs(m[k, k])
        for i in range(k + 1, n):
            if abs(m[i, k]) > best:
                best, p = abs(m[i, k]), i
        if best == 0.0 or best != best:
            return 0.0
        if p != k:
            for j in range(n):
                m[k, j], m[p, j] = m[p, j], m[k, j]
            perm[k], perm[p] = perm[p], perm[k]
            sign = -sign
        for i in range(k + 1, n):
            m[i, k] /= m[k, k]
            for j in range(k + 1, n):
                m[i, j] -= m[i, k] * m[k, j]
    return sign


@njit
def solve_batched(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``a[i] x = rhs[i]`` by LU with partial pivoting; NaN for singular matrices."""
    n = a.shape[1]
    out = np.empty(rhs.shape)
    perm = np.empty(n, np.int64)
    for b in range(a.shape[0]):
        m = a[b].copy()
        if _lu_inplace(m, perm) == 0.0:
            out[b] = np.nan
            continue
        for c in range(rhs.shape[2]):
            y = np.empty(n)
            for i in range(n):
                s = rhs[b, perm[i], c]
                for j in range(i):
                    s -= m[i, j] * y[j]
                y[i] = s
            for i in range(n - 1, -1, -1):
                s = y[i]
                for j in range(i + 1, n):
                    s -= m[i, j] * out[b, j, c]
                out[b, i, c] = s / m[i, i]
    return out


@njit
def slogdet_batched(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sign and log|det| of each matrix of a stack, by LU (sign 0 and -inf when singular)."""
    n = a.shape[1]
    signs = np.empty(a.shape[0])
    logdets = np.empty(a.shape[0])
    perm = np.empty(n, np.int64)
    for b in range(a.shape[0]):
        m = a[b].copy()
        sign = _lu_inplace(m, perm)
        if sign == 0.0:
            signs[b], logdets[b] = 0.0, -np.inf
            continue
        total = 0.0
        for i in range(n):
            d = m[i, i]
            if d < 0:
                sign = -sign
            total += np.log(abs(d))
        signs[b], logdets[b] = sign, total
    return signs, logdets


# ---------------------------------------------------------------------------------------------
# Decompositions and the matrix exponential on stacks (B, m, n): Numba's LAPACK-backed
# ``np.linalg`` per matrix (its bindings are compiled into this cached module)
# ---------------------------------------------------------------------------------------------


@njit
def eigh_batched(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of each symmetric matrix of ``a`` (B, n, n), from
    its lower triangle (LAPACK ``syevd``, as ``numpy.linalg.eigh``)."""
    n = a.shape[1]
    w = np.empty((a.shape[0], n))
    v = np.empty((a.shape[0], n, n))
    for b in range(a.shape[0]):
        wb, vb = np.linalg.eigh(np.ascontiguousarray(a[b]))
        w[b] = wb
        v[b] = vb
    return w, v


@njit
def svd_batched(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduced SVD ``u (B, m, k)``, ``s (B, k)``, ``vt (B, k, n)`` of a stack (LAPACK ``gesdd``)."""
    m, n = a.shape[1], a.shape[2]
    k = min(m, n)
    u = np.empty((a.shape[0], m, k))
    s = np.empty((a.shape[0], k))
    vt = np.empty((a.shape[0], k, n))
    for b in range(a.shape[0]):
        ub, sb, vtb = np.linalg.svd(np.ascontiguousarray(a[b]), full_matrices=False)
        u[b] = ub
        s[b] = sb
        vt[b] = vtb
    return u, s, vt


@njit
def qr_batched(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduced QR ``q (B, m, k)``, ``r (B, k, n)`` of a stack (LAPACK ``geqrf``/``orgqr``)."""
    m, n = a.shape[1], a.shape[2]
    k = min(m, n)
    q = np.empty((a.shape[0], m, k))
    r = np.empty((a.shape[0], k, n))
    for b in range(a.shape[0]):
        qb, rb = np.linalg.qr(np.ascontiguousarray(a[b]))
        q[b] = qb
        r[b] = rb
    return q, r


# Padé [13/13] coefficients of exp (Higham 2005, table 10.4 of "Functions of Matrices")
_PADE13 = (
    64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
    129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
    40840800.0, 960960.0, 16380.0, 182.0, 1.0,
)
_THETA13 = 5.371920351148152


@njit
def _expm_one(a: np.ndarray) -> np.ndarray:
    """exp(a) by scaling and squaring with the [13/13] Padé approximant (Higham 2005)."""
    n = a.shape[0]
    norm1 = 0.0
    for j in range(n):
        col = 0.0
        for i in range(n):
            col += abs(a[i, j])
        norm1 = max(norm1, col)
    if not np.isfinite(norm1):
        return np.full((n, n), np.nan)
    s = 0
    if norm1 > _THETA13:
        s = int(np.ceil(np.log2(norm1 / _THETA13)))
    x = a / 2.0**s
    c = _PADE13
    ident = np.eye(n)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (c[13] * x6 + c[11] * x4 + c[9] * x2)
             + c[7] * x6 + c[5] * x4 + c[3] * x2 + c[1] * ident)
    v = x6 @ (c[12] * x6 + c[10] * x4 + c[8] * x2) + c[6] * x6 + c[4] * x4 + c[2] * x2 + c[0] * ident
    r = np.ascontiguousarray(np.linalg.solve(v - u, v + u))
    for _ in range(s):
        r = r @ r
    return r


@njit
def expm_batched(a: np.ndarray) -> np.ndarray:
    """The matrix exponential of each matrix of a stack ``(B, n, n)`` (NaN for a non-finite one)."""
    out = np.empty(a.shape)
    for b in range(a.shape[0]):
        out[b] = _expm_one(np.ascontiguousarray(a[b]))
    return out
