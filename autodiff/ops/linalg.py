"""Linear algebra primitives: matmul, einsum, cholesky, triangular and general solves, slogdet.

All operate on the trailing two axes and broadcast over leading (batch) axes, so ``vmap`` adds a
leading axis.  Matrix derivative rules follow Giles (2008), "An extended collection of matrix
derivative results for forward and reverse mode AD", and Murray (2016), "Differentiation of the
Cholesky decomposition".  Every derivative rule is written with primitives, so it nests (second
order).  The decompositions (eigh, svd, qr, expm) are in :mod:`autodiff.ops.decompositions`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from autodiff.avals import ShapedArray, broadcast_shapes
from autodiff.batching import batch_size_of, materialize
from autodiff.core import Primitive, bind1, get_aval
from autodiff.lowering import LoweringContext, reshaped, shape_src
from autodiff.ops._rules import unbroadcast


def _mT(x):
    from autodiff.ops.structural import swapaxes

    return swapaxes(x, -1, -2)


# --------------------------------------------------------------------------------------------
# matmul on operands of rank >= 2 (vectors are promoted in autodiff.numpy.matmul)
# --------------------------------------------------------------------------------------------

matmul_p = Primitive("matmul")
matmul_p.impl = np.matmul


def _matmul_shape(a: ShapedArray, b: ShapedArray) -> ShapedArray:
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned (the last axis of the first "
            "must equal the second-to-last axis of the second)"
        )
    batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
    return ShapedArray((*batch, a.shape[-2], b.shape[-1]), np.result_type(a.dtype, b.dtype))


def _matmul_jvp(primals, tangents):
    from autodiff.ops.elementwise import add

    a, b = primals
    ta, tb = tangents
    out = matmul(a, b)
    terms = [matmul(ta, b) if ta is not None else None, matmul(a, tb) if tb is not None else None]
    terms = [t for t in terms if t is not None]
    return out, terms[0] if len(terms) == 1 else add(*terms)


def _matmul_vjp(g, ans, primals, needs):
    a, b = primals
    ct_a = unbroadcast(matmul(g, _mT(b)), get_aval(a).shape) if needs[0] else None
    ct_b = unbroadcast(matmul(_mT(a), g), get_aval(b).shape) if needs[1] else None
    return [ct_a, ct_b]


def _matmul_batch(vals, dims):
    from autodiff.ops.structural import reshape

    out = []
    for v, d in zip(vals, dims):
        if d is None:
            out.append(v)
        else:  # (B, ..., m, n): keep B in front of whatever batch axes the other operand has
            shape = get_aval(v).shape
            other = [get_aval(w).ndim - (e is not None) for w, e in zip(vals, dims)]
            pad = max(other) - (len(shape) - 1)
            out.append(reshape(v, (shape[0],) + (1,) * pad + shape[1:]))
    return matmul(*out), 0


matmul_p.shape_rule = _matmul_shape
matmul_p.jvp = _matmul_jvp
matmul_p.vjp = _matmul_vjp
matmul_p.batch = _matmul_batch


def matmul(a, b):
    return bind1(matmul_p, a, b)


# --------------------------------------------------------------------------------------------
# einsum (explicit output subscripts; each operand's subscripts distinct)
# --------------------------------------------------------------------------------------------

einsum_p = Primitive("einsum")
einsum_p.impl = lambda *ops, subscripts: np.einsum(subscripts, *ops, optimize=True)


def parse_einsum(subscripts: str, n_operands: int) -> tuple[list[str], str]:
    subscripts = subscripts.replace(" ", "")
    if "." in subscripts:
        raise NotImplementedError("einsum: ellipsis ('...') subscripts are not supported")
    if "->" in subscripts:
        ins, out = subscripts.split("->")
    else:
        ins = subscripts
        letters = ins.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = ins.split(",")
    if len(inputs) != n_operands:
        raise ValueError(f"einsum: {len(inputs)} subscripts for {n_operands} operands")
    return inputs, out


def _einsum_shape(*avals, subscripts):
    inputs, out = parse_einsum(subscripts, len(avals))
    sizes: dict[str, int] = {}
    for sub, aval in zip(inputs, avals):
        if len(sub) != aval.ndim:
            raise ValueError(f"einsum: subscripts '{sub}' for an operand of shape {aval.shape}")
        for c, d in zip(sub, aval.shape):
            if sizes.setdefault(c, d) != d:
                raise ValueError(f"einsum: index '{c}' has sizes {sizes[c]} and {d} ({subscripts})")
    return ShapedArray(tuple(sizes[c] for c in out), np.result_type(*[a.dtype for a in avals]))


def _einsum_operand_ct(g, primals, i, subscripts):
    """Cotangent of operand ``i``: contract the cotangent with the other operands."""
    from autodiff.ops.structural import broadcast_to

    inputs, out = parse_einsum(subscripts, len(primals))
    target = inputs[i]
    if len(set(target)) != len(target):
        raise NotImplementedError(
            f"einsum: differentiating an operand with a repeated index ('{target}') is not "
            "supported; take the diagonal with autodiff.numpy.diagonal first"
        )
    others = [inputs[j] for j in range(len(primals)) if j != i]
    available = set(out).union(*others) if others else set(out)
    present = "".join(c for c in target if c in available)
    spec = ",".join([out, *others]) + "->" + present
    ct = einsum(spec, g, *[primals[j] for j in range(len(primals)) if j != i])
    if present != target:  # indices summed only inside operand i: broadcast back
        from autodiff.ops.structural import reshape

        shape = get_aval(primals[i]).shape
        kept = [shape[k] if c in available else 1 for k, c in enumerate(target)]
        ct = broadcast_to(reshape(ct, kept), shape)
    return ct


def _einsum_jvp(primals, tangents, subscripts):
    from autodiff.ops.elementwise import add

    out = einsum(subscripts, *primals)
    t_out = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        ops = list(primals)
        ops[i] = t
        term = einsum(subscripts, *ops)
        t_out = term if t_out is None else add(t_out, term)
    return out, t_out


def _einsum_vjp(g, ans, primals, needs, subscripts):
    return [
        _einsum_operand_ct(g, primals, i, subscripts) if need else None
        for i, need in enumerate(needs)
    ]


def _einsum_batch(vals, dims, subscripts):
    inputs, out = parse_einsum(subscripts, len(vals))
    used = set("".join(inputs) + out)
    b = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used)
    new_inputs = [b + s if d is not None else s for s, d in zip(inputs, dims)]
    return einsum(",".join(new_inputs) + "->" + b + out, *vals), 0


einsum_p.shape_rule = _einsum_shape
einsum_p.jvp = _einsum_jvp
einsum_p.vjp = _einsum_vjp
einsum_p.batch = _einsum_batch


def einsum(subscripts: str, *operands):
    inputs, out = parse_einsum(subscripts, len(operands))
    return bind1(einsum_p, *operands, subscripts=",".join(inputs) + "->" + out)


# --------------------------------------------------------------------------------------------
# cholesky
# --------------------------------------------------------------------------------------------


def _square_check(name, a: ShapedArray):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: expected square matrices (..., n, n), got shape {a.shape}")


cholesky_p = Primitive("cholesky")


def _cholesky_impl(a):
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:  # not positive definite: NaN, as Stan/JAX do, not an exception
        return np.full(np.shape(a), np.nan)


def _phi(x):
    """Lower triangle of ``x`` with the diagonal halved (Murray 2016's Φ)."""
    from autodiff.ops.elementwise import mul

    n = get_aval(x).shape[-1]
    return mul(x, np.tril(np.ones((n, n))) - 0.5 * np.eye(n))


def _cholesky_jvp(primals, tangents):
    (a,), (ta,) = primals, tangents
    L = cholesky(a)
    # dL = L Φ(L⁻¹ dA L⁻ᵀ)
    tmp = solve_triangular(L, _mT(solve_triangular(L, ta, lower=True)), lower=True)
    return L, matmul(L, _phi(_mT(tmp)))


def _cholesky_vjp(g, L, primals, needs):
    from autodiff.ops.elementwise import add, mul

    # Ā = ½ L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ symmetrised (Murray 2016, eq. 10)
    P = _phi(matmul(_mT(L), g))
    tmp = solve_triangular(
        L, _mT(solve_triangular(L, _mT(P), lower=True, trans=True)), lower=True, trans=True
    )
    return [mul(0.5, add(tmp, _mT(tmp)))]


cholesky_p.impl = _cholesky_impl
cholesky_p.shape_rule = lambda a: (_square_check("cholesky", a), a)[1]
cholesky_p.jvp = _cholesky_jvp
cholesky_p.vjp = _cholesky_vjp
cholesky_p.batch = lambda vals, dims: (cholesky(vals[0]), 0)


def cholesky(a):
    return bind1(cholesky_p, a)


# --------------------------------------------------------------------------------------------
# solve_triangular(a, b, lower, trans): solves op(a) x = b with op = identity or transpose
# --------------------------------------------------------------------------------------------

solve_triangular_p = Primitive("solve_triangular")


def _solve_triangular_impl(a, b, lower, trans):
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 2 and b.ndim == 2:
        return scipy.linalg.solve_triangular(
            a, b, lower=lower, trans=int(trans), check_finite=False
        )
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, (*batch, *a.shape[-2:]))
    b = np.broadcast_to(b, (*batch, *b.shape[-2:]))
    out = np.empty((*batch, *b.shape[-2:]), np.result_type(a, b, np.float64))
    for i in np.ndindex(*batch):
        out[i] = scipy.linalg.solve_triangular(
            a[i], b[i], lower=lower, trans=int(trans), check_finite=False
        )
    return out


def _solve_shape(name):
    def rule(a, b, **params):
        _square_check(name, a)
        if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
            raise ValueError(
                f"{name}: the right-hand side must have shape (..., {a.shape[-1]}, k) for a "
                f"matrix of shape {a.shape}; got {b.shape}"
            )
        batch = broadcast_shapes(name, a.shape[:-2], b.shape[:-2])
        return ShapedArray((*batch, *b.shape[-2:]), np.result_type(a.dtype, b.dtype, np.float64))

    return rule


def _solve_triangular_jvp(primals, tangents, lower, trans):
    from autodiff.ops.elementwise import sub

    a, b = primals
    ta, tb = tangents
    x = solve_triangular(a, b, lower, trans)
    if ta is None:
        return x, solve_triangular(a, tb, lower, trans)
    from autodiff.ops.elementwise import neg, select

    n = get_aval(a).shape[-1]  # only the referenced triangle of a counts
    mask = np.tril(np.ones((n, n), bool)) if lower else np.triu(np.ones((n, n), bool))
    ta = select(mask, ta, 0.0)
    dax = matmul(_mT(ta) if trans else ta, x)  # op(a) dx = db - op(da) x
    rhs = neg(dax) if tb is None else sub(tb, dax)
    return x, solve_triangular(a, rhs, lower, trans)


def _solve_triangular_vjp(g, x, primals, needs, lower, trans):
    from autodiff.ops.elementwise import neg, select

    a, b = primals
    ct_b = solve_triangular(a, g, lower, not trans)
    ct_a = None
    if needs[0]:
        outer = neg(matmul(x, _mT(ct_b)) if trans else matmul(ct_b, _mT(x)))
        n = get_aval(a).shape[-1]
        mask = np.tril(np.ones((n, n), bool)) if lower else np.triu(np.ones((n, n), bool))
        ct_a = unbroadcast(select(mask, outer, 0.0), get_aval(a).shape)
    return [ct_a, unbroadcast(ct_b, get_aval(b).shape) if needs[1] else None]


def _solve_batch(prim):
    def rule(vals, dims, **params):
        size = batch_size_of(vals, dims)
        a, b = (materialize(v, d, size) for v, d in zip(vals, dims))
        return bind1(prim, a, b, **params), 0

    return rule


solve_triangular_p.impl = _solve_triangular_impl
solve_triangular_p.shape_rule = _solve_shape("solve_triangular")
solve_triangular_p.jvp = _solve_triangular_jvp
solve_triangular_p.vjp = _solve_triangular_vjp
solve_triangular_p.batch = _solve_batch(solve_triangular_p)


def solve_triangular(a, b, lower: bool = True, trans: bool = False):
    return bind1(solve_triangular_p, a, b, lower=bool(lower), trans=bool(trans))


# --------------------------------------------------------------------------------------------
# solve(a, b) for general square a; b of shape (..., n, k)
# --------------------------------------------------------------------------------------------

solve_p = Primitive("solve")
solve_p.impl = lambda a, b: np.linalg.solve(a, b)
solve_p.shape_rule = _solve_shape("solve")


def _solve_jvp(primals, tangents):
    from autodiff.ops.elementwise import neg, sub

    a, b = primals
    ta, tb = tangents
    x = solve(a, b)
    if ta is None:
        return x, solve(a, tb)
    rhs = neg(matmul(ta, x)) if tb is None else sub(tb, matmul(ta, x))
    return x, solve(a, rhs)


def _solve_vjp(g, x, primals, needs):
    from autodiff.ops.elementwise import neg

    a, b = primals
    ct_b = solve(_mT(a), g)
    ct_a = unbroadcast(neg(matmul(ct_b, _mT(x))), get_aval(a).shape) if needs[0] else None
    return [ct_a, unbroadcast(ct_b, get_aval(b).shape) if needs[1] else None]


solve_p.jvp = _solve_jvp
solve_p.vjp = _solve_vjp
solve_p.batch = _solve_batch(solve_p)


def solve(a, b):
    return bind1(solve_p, a, b)


# --------------------------------------------------------------------------------------------
# slogdet -> (sign, log|det|)
# --------------------------------------------------------------------------------------------

slogdet_p = Primitive("slogdet", multiple_results=True)
slogdet_p.impl = lambda a: list(np.linalg.slogdet(a))


def _slogdet_shape(a):
    _square_check("slogdet", a)
    return [ShapedArray(a.shape[:-2], a.dtype), ShapedArray(a.shape[:-2], a.dtype)]


def _slogdet_jvp(primals, tangents):
    from autodiff.ops.elementwise import mul
    from autodiff.ops.reductions import reduce_sum

    (a,), (ta,) = primals, tangents
    sign, logdet = slogdet(a)
    # d log|det A| = tr(A⁻¹ dA)
    ndim = get_aval(a).ndim
    trace = reduce_sum(mul(solve(a, ta), np.eye(get_aval(a).shape[-1])), (ndim - 2, ndim - 1))
    return [sign, logdet], [np.zeros(get_aval(sign).shape), trace]


def _slogdet_vjp(cts, ans, primals, needs):
    from autodiff.ops.elementwise import mul
    from autodiff.ops.structural import expand_dims

    (a,) = primals
    g = cts[1]
    if g is None:
        return [None]
    n = get_aval(a).shape[-1]
    inv_t = _mT(solve(a, np.broadcast_to(np.eye(n), get_aval(a).shape)))
    return [mul(expand_dims(expand_dims(g, -1), -1), inv_t)]


slogdet_p.shape_rule = _slogdet_shape
slogdet_p.jvp = _slogdet_jvp
slogdet_p.vjp = _slogdet_vjp
slogdet_p.batch = lambda vals, dims: (slogdet(vals[0]), [0, 0])


def slogdet(a):
    return bind1(slogdet_p, a)


# --------------------------------------------------------------------------------------------
# Numba lowering: 2-D matrix products through BLAS (``kernels.blas``), everything else through
# the batched, NaN-signalling kernels of ``kernels.graph_ops`` (``gk``) on (B, n, m) stacks
# --------------------------------------------------------------------------------------------


def _as_stack(name: str, aval: ShapedArray, batch: tuple, tail: tuple) -> str:
    """Source viewing ``name`` broadcast to ``batch + tail`` as a C-contiguous (B, *tail) stack."""
    full = (*batch, *tail)
    size = int(np.prod(batch)) if batch else 1
    src = f"cn.broadcast_to({name}, {full})" if aval.shape != full else name
    return reshaped(src, (size, *tail))


def _lower_matrix_product(ctx: LoweringContext) -> list[str]:
    """A 2-D product; a transposed matrix is never copied: (S^T) x = matvec_t(S, x)."""
    out, (a_name, b_name) = ctx.out, ctx.ins
    m, k = ctx.in_avals[0].shape
    n = ctx.in_avals[1].shape[1]
    ta, tb = (ctx.input_fact(ctx.facts.matmul_transposes, i) for i in (0, 1))
    flat = ctx.output_in(ctx.facts.flat_products)
    if n == 1 and tb is None:  # matrix-vector product
        x = ctx.input_fact(ctx.facts.matvec_vectors, 1) or reshaped(b_name, (k,))
        prod = f"blas.matvec_t({ta}, {x})" if ta else f"blas.matvec({a_name}, {x})"
        return [f"{out} = {prod if flat else reshaped(prod, (m, 1))}"]
    if m == 1 and ta is None:  # x B = B^T x
        x = ctx.input_fact(ctx.facts.matvec_vectors, 0) or reshaped(a_name, (k,))
        prod = f"blas.matvec({tb}, {x})" if tb else f"blas.matvec_t({b_name}, {x})"
        return [f"{out} = {prod if flat else reshaped(prod, (1, n))}"]
    ops = [f"{t}.T" if t else name for t, name in zip((ta, tb), ctx.ins)]
    return [f"{out} = blas.matmat({ops[0]}, {ops[1]})"]


def _lower_matmul(ctx: LoweringContext) -> list[str]:
    a, b = ctx.in_avals
    if a.ndim == 2 and b.ndim == 2:
        return _lower_matrix_product(ctx)
    batch = ctx.out_aval.shape[:-2]
    stacks = ", ".join(_as_stack(x, aval, batch, aval.shape[-2:]) for x, aval in zip(ctx.ins, (a, b)))
    return [f"{ctx.out} = " + reshaped(f"gk.batched_dot({stacks})", ctx.out_aval.shape)]


def _lower_einsum(ctx: LoweringContext) -> list[str]:
    """Loops over the output's indices, then the summed ones, accumulating the product."""
    out, ins = ctx.out, ctx.ins
    inputs, output = parse_einsum(ctx.params["subscripts"], len(ins))
    sizes = {}
    for sub, aval in zip(inputs, ctx.in_avals):
        sizes.update(zip(sub, aval.shape))
    summed = [c for c in dict.fromkeys("".join(inputs)) if c not in output]
    order = list(output) + summed
    product = " * ".join(f"{n}[{', '.join('i_' + c for c in sub)}]" if sub else n
                         for n, sub in zip(ins, inputs))
    target = f"{out}[{', '.join('i_' + c for c in output)}]" if output else f"{out}_acc"
    lines = [f"{out} = cn.zeros({shape_src(ctx.out_aval)}, np.float64)" if output
             else f"{out}_acc = 0.0"]
    for depth, c in enumerate(order):
        lines.append("    " * depth + f"for i_{c} in range({sizes[c]}):")
    lines.append("    " * len(order) + f"{target} += {product}")
    if not output:
        lines.append(f"{out} = {out}_acc")
    return lines


def _lower_cholesky(ctx: LoweringContext) -> list[str]:
    a = ctx.in_avals[0]
    stack = _as_stack(ctx.ins[0], a, a.shape[:-2], a.shape[-2:])
    return [f"{ctx.out} = " + reshaped(f"gk.cholesky_batched({stack})", ctx.out_aval.shape)]


def _lower_solve(kind: str):
    def lower(ctx: LoweringContext) -> list[str]:
        a, b = ctx.in_avals
        batch = ctx.out_aval.shape[:-2]
        sa = _as_stack(ctx.ins[0], a, batch, a.shape[-2:])
        sb = _as_stack(ctx.ins[1], b, batch, b.shape[-2:])
        p = ctx.params
        extra = f", {p['lower']}, {p['trans']}" if kind == "solve_triangular" else ""
        call = f"gk.{kind}_batched({sa}, {sb}{extra})"
        return [f"{ctx.out} = " + reshaped(call, ctx.out_aval.shape)]

    return lower


def _lower_slogdet(ctx: LoweringContext) -> list[str]:
    a, (sign, logdet) = ctx.in_avals[0], ctx.outs
    stack = _as_stack(ctx.ins[0], a, a.shape[:-2], a.shape[-2:])
    lines = [f"{sign}_s, {logdet}_l = gk.slogdet_batched({stack})"]
    for o, suffix, aval in zip(ctx.outs, ("_s", "_l"), ctx.out_avals):
        lines.append(f"{o} = {o}{suffix}[0]" if aval.ndim == 0
                     else f"{o} = {reshaped(o + suffix, aval.shape)}")
    return lines


matmul_p.lower = _lower_matmul
einsum_p.lower = _lower_einsum
cholesky_p.lower = _lower_cholesky
solve_triangular_p.lower = _lower_solve("solve_triangular")
solve_p.lower = _lower_solve("solve")
slogdet_p.lower = _lower_slogdet
