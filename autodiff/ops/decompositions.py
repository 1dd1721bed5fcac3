"""Matrix decompositions as primitives: ``eigh``, ``svd``, ``qr`` and the matrix exponential
``expm``, with forward and reverse rules, batch rules and their Numba lowering.

Like the products and solves of :mod:`autodiff.ops.linalg`, they act on the trailing two axes
and broadcast over leading ones.  Derivative rules: the symmetric eigenproblem after Giles (2008),
"An extended collection of matrix derivative results for forward and reverse mode AD"; the SVD's
Townsend (2016), "Differentiating the singular value decomposition"; QR's Walter & Lehmann (2018)
and Liao et al. (2019), "Differentiable programming tensor networks"; expm's Al-Mohy & Higham
(2009), "Computing the Fréchet derivative of the matrix exponential".  Every rule is written
with primitives, so it nests (second order).  Compiled code calls the stacked, NaN-signalling
kernels of ``kernels.graph_ops``.
"""

from __future__ import annotations

import numpy as np

from autodiff.avals import ShapedArray
from autodiff.core import Primitive, bind1, get_aval
from autodiff.lowering import LoweringContext, reshaped
from autodiff.ops.linalg import _as_stack, _mT, _square_check, matmul, solve_triangular

# --------------------------------------------------------------------------------------------
# Shared helpers of the decompositions
# --------------------------------------------------------------------------------------------


def _float(dtype) -> np.dtype:
    return np.result_type(dtype, np.float64)


def _rows(x):
    """``x[..., :, None]``: a vector as a column, scaling rows when multiplied."""
    from autodiff.ops.structural import expand_dims

    return expand_dims(x, -1)


def _cols(x):
    """``x[..., None, :]``: a vector as a row, scaling columns when multiplied."""
    from autodiff.ops.structural import expand_dims

    return expand_dims(x, -2)


def _diag_part(x):
    from autodiff.ops.elementwise import mul
    from autodiff.ops.reductions import reduce_sum

    aval = get_aval(x)
    return reduce_sum(mul(x, np.eye(aval.shape[-1])), (aval.ndim - 1,))


def _diag_embed(x):
    from autodiff.ops.elementwise import mul

    return mul(_rows(x), np.eye(get_aval(x).shape[-1]))


def _inverse_gaps(w):
    """``F[..., i, j] = 1 / (w_j - w_i)`` off the diagonal, 0 on it (an antisymmetric matrix)."""
    from autodiff.ops.elementwise import div, select, sub

    eye = np.eye(get_aval(w).shape[-1], dtype=bool)
    gaps = sub(_cols(w), _rows(w))
    return select(eye, 0.0, div(1.0, select(eye, 1.0, gaps)))


def _sym(x):
    from autodiff.ops.elementwise import add, mul

    return mul(0.5, add(x, _mT(x)))


def _zeros_if_none(ct, aval: ShapedArray):
    return np.zeros(aval.shape, aval.dtype) if ct is None else ct


def _leading_batch(prim, n_out: int):
    """Batch rule of a one-operand decomposition: the batch axis moves to the front."""

    def rule(vals, dims):
        from autodiff.ops.structural import moveaxis

        x = moveaxis(vals[0], dims[0], 0)
        out = bind1(prim, x)
        return (out, [0] * n_out) if prim.multiple_results else (out, 0)

    return rule


# --------------------------------------------------------------------------------------------
# eigh: a = V diag(w) Vᵀ for symmetric a (lower triangle read), w ascending
# --------------------------------------------------------------------------------------------

eigh_p = Primitive("eigh", multiple_results=True)
eigh_p.impl = lambda a: list(np.linalg.eigh(a))


def _eigh_shape(a: ShapedArray) -> list[ShapedArray]:
    _square_check("eigh", a)
    dtype = _float(a.dtype)
    return [ShapedArray(a.shape[:-1], dtype), ShapedArray(a.shape, dtype)]


def _eigh_jvp(primals, tangents):
    """With ``P = Vᵀ sym(dA) V``: ``dw = diag(P)`` and ``dV = V (F ∘ P)``, where
    ``F_ij = 1/(w_j - w_i)`` (i ≠ j), ``F_ii = 0`` (Giles 2008, §3.1).  The tangent is
    symmetrised: the derivative is that along symmetric perturbations, the convention of
    JAX and PyTorch for a function defined on symmetric matrices."""
    from autodiff.ops.elementwise import mul

    (a,), (ta,) = primals, tangents
    w, v = eigh(a)
    p = matmul(_mT(v), matmul(_sym(ta), v))
    return [w, v], [_diag_part(p), matmul(v, mul(_inverse_gaps(w), p))]


def _eigh_vjp(cts, ans, primals, needs):
    """``Ā = sym(V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ)``, the transpose of the JVP."""
    from autodiff.ops.elementwise import add, mul

    gw, gv = cts
    w, v = ans
    if gw is None and gv is None:
        return [None]
    inner = None if gw is None else _diag_embed(gw)
    if gv is not None:
        term = mul(_inverse_gaps(w), matmul(_mT(v), gv))
        inner = term if inner is None else add(inner, term)
    return [_sym(matmul(v, matmul(inner, _mT(v))))]


eigh_p.shape_rule = _eigh_shape
eigh_p.jvp = _eigh_jvp
eigh_p.vjp = _eigh_vjp
eigh_p.batch = _leading_batch(eigh_p, 2)


def eigh(a):
    return bind1(eigh_p, a)


# --------------------------------------------------------------------------------------------
# svd (reduced): a = U diag(s) Vᵀ, U (m, k), s (k,) descending, Vᵀ (k, n), k = min(m, n)
# --------------------------------------------------------------------------------------------

svd_p = Primitive("svd", multiple_results=True)
svd_p.impl = lambda a: list(np.linalg.svd(a, full_matrices=False))


def _svd_shape(a: ShapedArray) -> list[ShapedArray]:
    if a.ndim < 2:
        raise ValueError(f"svd: expected matrices (..., m, n), got shape {a.shape}")
    *batch, m, n = a.shape
    k, dtype = min(m, n), _float(a.dtype)
    return [
        ShapedArray((*batch, m, k), dtype),
        ShapedArray((*batch, k), dtype),
        ShapedArray((*batch, k, n), dtype),
    ]


def _svd_jvp(primals, tangents):
    """Townsend (2016), "Differentiating the singular value decomposition"; with
    ``dP = Uᵀ dA V`` and ``F_ij = 1/(s_j² - s_i²)`` (0 on the diagonal)::

        ds = diag(dP)
        dU = U (F ∘ (dP S + S dPᵀ)) + (I - U Uᵀ) dA V S⁻¹
        dV = V (F ∘ (S dP + dPᵀ S)) + (I - V Vᵀ) dAᵀ U S⁻¹

    valid for distinct nonzero singular values (the projections vanish when U, V are square).
    """
    from autodiff.ops.elementwise import add, div, mul, sub

    (a,), (ta,) = primals, tangents
    u, s, vt = svd(a)
    v = _mT(vt)
    m, n = get_aval(a).shape[-2:]
    k = min(m, n)
    dp = matmul(_mT(u), matmul(ta, v))
    f = _inverse_gaps(mul(s, s))
    du = matmul(u, mul(f, add(mul(dp, _cols(s)), mul(_rows(s), _mT(dp)))))
    dv = matmul(v, mul(f, add(mul(_rows(s), dp), mul(_mT(dp), _cols(s)))))
    if m > k:
        du = add(du, div(sub(matmul(ta, v), matmul(u, dp)), _cols(s)))
    if n > k:
        dv = add(dv, div(sub(matmul(_mT(ta), u), matmul(v, _mT(dp))), _cols(s)))
    return [u, s, vt], [du, _diag_part(dp), _mT(dv)]


def _svd_vjp(cts, ans, primals, needs):
    """The transpose of the JVP (Townsend 2016, eq. 36)::

        Ā = U [diag(s̄) + (F ∘ (UᵀŪ - ŪᵀU)) S + S (F ∘ (VᵀV̄ - V̄ᵀV))] Vᵀ
            + (I - U Uᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I - V Vᵀ)
    """
    from autodiff.ops.elementwise import add, div, mul, sub

    gu, gs, gvt = cts
    if gu is None and gs is None and gvt is None:
        return [None]
    u, s, vt = ans
    v = _mT(vt)
    m, n = get_aval(primals[0]).shape[-2:]
    k = min(m, n)
    f = _inverse_gaps(mul(s, s))
    inner = _diag_embed(_zeros_if_none(gs, get_aval(s)))
    extra = []
    if gu is not None:
        utgu = matmul(_mT(u), gu)
        inner = add(inner, mul(mul(f, sub(utgu, _mT(utgu))), _cols(s)))
        if m > k:
            extra.append(matmul(div(sub(gu, matmul(u, utgu)), _cols(s)), vt))
    if gvt is not None:
        gv = _mT(gvt)
        vtgv = matmul(vt, gv)
        inner = add(inner, mul(_rows(s), mul(f, sub(vtgv, _mT(vtgv)))))
        if n > k:
            extra.append(matmul(u, _mT(div(sub(gv, matmul(v, vtgv)), _cols(s)))))
    out = matmul(u, matmul(inner, vt))
    for term in extra:
        out = add(out, term)
    return [out]


svd_p.shape_rule = _svd_shape
svd_p.jvp = _svd_jvp
svd_p.vjp = _svd_vjp
svd_p.batch = _leading_batch(svd_p, 3)


def svd(a):
    return bind1(svd_p, a)


# --------------------------------------------------------------------------------------------
# qr (reduced): a = Q R, Q (m, k) orthonormal columns, R (k, n) upper triangular
# --------------------------------------------------------------------------------------------

qr_p = Primitive("qr", multiple_results=True)
qr_p.impl = lambda a: list(np.linalg.qr(a))


def _qr_shape(a: ShapedArray) -> list[ShapedArray]:
    if a.ndim < 2:
        raise ValueError(f"qr: expected matrices (..., m, n), got shape {a.shape}")
    *batch, m, n = a.shape
    k, dtype = min(m, n), _float(a.dtype)
    return [ShapedArray((*batch, m, k), dtype), ShapedArray((*batch, k, n), dtype)]


def _qr_tall_check(a) -> None:
    m, n = get_aval(a).shape[-2:]
    if m < n:
        raise NotImplementedError(
            f"qr: derivatives are implemented for square or tall full-rank matrices (m >= n); "
            f"got shape {get_aval(a).shape}"
        )


def _strict_lower(x):
    from autodiff.ops.elementwise import mul

    return mul(x, np.tril(np.ones(get_aval(x).shape[-2:]), -1))


def _qr_jvp(primals, tangents):
    """For full-rank ``a`` with ``m >= n`` (Walter & Lehmann 2018, "On the algorithmic
    differentiation of ... QR"): with ``X = dA R⁻¹``, ``C = Qᵀ X`` and the antisymmetric
    ``Ω = Qᵀ dQ = low(C) - low(C)ᵀ`` (``low`` the strict lower triangle)::

        dR = (C - Ω) R,    dQ = X - Q (C - Ω)
    """
    from autodiff.ops.elementwise import sub

    (a,), (ta,) = primals, tangents
    _qr_tall_check(a)
    q, r = qr(a)
    x = _mT(solve_triangular(r, _mT(ta), lower=False, trans=True))
    c = matmul(_mT(q), x)
    low = _strict_lower(c)
    c_minus_omega = sub(c, sub(low, _mT(low)))
    return [q, r], [sub(x, matmul(q, c_minus_omega)), matmul(c_minus_omega, r)]


def _qr_vjp(cts, ans, primals, needs):
    """The transpose of the JVP: with ``B = R̄ Rᵀ - Qᵀ Q̄`` and
    ``N = B - low(B - Bᵀ)``, ``Ā = (Q̄ + Q N) R⁻ᵀ`` (Liao et al. 2019's ``copyltu`` form)."""
    from autodiff.ops.elementwise import add, sub

    gq, gr = cts
    if gq is None and gr is None:
        return [None]
    (a,) = primals
    _qr_tall_check(a)
    q, r = ans
    gq = _zeros_if_none(gq, get_aval(q))
    gr = _zeros_if_none(gr, get_aval(r))
    b = sub(matmul(gr, _mT(r)), matmul(_mT(q), gq))
    nmat = sub(b, _strict_lower(sub(b, _mT(b))))
    y = add(gq, matmul(q, nmat))
    return [_mT(solve_triangular(r, _mT(y), lower=False))]


qr_p.shape_rule = _qr_shape
qr_p.jvp = _qr_jvp
qr_p.vjp = _qr_vjp
qr_p.batch = _leading_batch(qr_p, 2)


def qr(a):
    return bind1(qr_p, a)


# --------------------------------------------------------------------------------------------
# expm: the matrix exponential (Padé [13/13] scaling and squaring, kernels.graph_ops)
# --------------------------------------------------------------------------------------------

expm_p = Primitive("expm")


def _expm_impl(a):
    from kernels.graph_ops import expm_batched

    a = np.asarray(a, np.float64)
    stack = np.ascontiguousarray(a.reshape((-1, *a.shape[-2:])))
    return expm_batched(stack).reshape(a.shape)


def _frechet(a, e):
    """``L(a, e)``, the Fréchet derivative of expm at ``a`` along ``e``: the upper-right block of
    ``expm([[a, e], [0, a]])`` (Higham 2008, "Functions of Matrices", thm. 3.6; Al-Mohy &
    Higham 2009)."""
    from autodiff.ops.indexing import getitem
    from autodiff.ops.structural import broadcast_to, concatenate

    shape = np.broadcast_shapes(get_aval(a).shape, get_aval(e).shape)
    a, e = broadcast_to(a, shape), broadcast_to(e, shape)
    n = shape[-1]
    zero = np.zeros(shape)
    big = concatenate([concatenate([a, e], -1), concatenate([zero, a], -1)], -2)
    return getitem(expm(big), (Ellipsis, slice(0, n), slice(n, 2 * n)))


def _expm_jvp(primals, tangents):
    """``d expm(A) = L(A, dA)`` by the block-triangular identity (see ``_frechet``)."""
    (a,), (ta,) = primals, tangents
    return expm(a), _frechet(a, ta)


def _expm_vjp(g, ans, primals, needs):
    """``Ā = L(Aᵀ, Ḡ)``: the Fréchet derivative's adjoint is the derivative at ``Aᵀ``
    (``⟨Ḡ, L(A, E)⟩ = ⟨L(Aᵀ, Ḡ), E⟩``, Al-Mohy & Higham 2009, "Computing the Fréchet
    derivative of the matrix exponential")."""
    (a,) = primals
    return [_frechet(_mT(a), g)]


expm_p.impl = _expm_impl
expm_p.shape_rule = lambda a: (_square_check("expm", a), ShapedArray(a.shape, _float(a.dtype)))[1]
expm_p.jvp = _expm_jvp
expm_p.vjp = _expm_vjp
expm_p.batch = _leading_batch(expm_p, 1)


def expm(a):
    return bind1(expm_p, a)


def _lower_decomposition(kernel: str):
    """A one-operand primitive whose ``gk`` kernel maps a (B, m, n) stack to stacked outputs."""

    def lower(ctx: LoweringContext) -> list[str]:
        a = ctx.in_avals[0]
        stack = _as_stack(ctx.ins[0], a, a.shape[:-2], a.shape[-2:])
        if not ctx.eqn.primitive.multiple_results:
            return [f"{ctx.out} = " + reshaped(f"gk.{kernel}({stack})", ctx.out_aval.shape)]
        raw = [f"{o}_raw" for o in ctx.outs]
        lines = [f"{', '.join(raw)} = gk.{kernel}({stack})"]
        for o, r, aval in zip(ctx.outs, raw, ctx.out_avals):
            lines.append(f"{o} = {reshaped(r, aval.shape)}")
        return lines

    return lower


eigh_p.lower = _lower_decomposition("eigh_batched")
svd_p.lower = _lower_decomposition("svd_batched")
qr_p.lower = _lower_decomposition("qr_batched")
expm_p.lower = _lower_decomposition("expm_batched")
