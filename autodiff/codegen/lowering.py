"""Lowering rules: each primitive's equation as lines of NumPy-in-Numba source.

A rule maps ``(out name, input names, input avals, output aval, params)`` to source lines that
assign the output; multi-output primitives (``slogdet``, ``cond``, ``scan``) get the output names
and the module being emitted (``cond``/``scan`` bodies become functions of their own).  Rules
never raise inside generated code: linear algebra goes through NaN-signalling kernels in
``kernels.graph_ops``, because a model kernel is a C function that cannot propagate exceptions.
A primitive without a rule raises :class:`LoweringError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autodiff.ir import Graph


class LoweringError(NotImplementedError):
    """A primitive (or a form of it) has no Numba lowering yet."""


# --------------------------------------------------------------------------------------------
# Lowering rules: (out name, input names, input avals, out avals, params) -> source lines
# --------------------------------------------------------------------------------------------

_UFUNC = {
    "add": "np.add", "sub": "np.subtract", "mul": "np.multiply", "div": "np.true_divide",
    "neg": "np.negative", "exp": "np.exp", "log": "np.log", "log1p": "np.log1p",
    "expm1": "np.expm1", "sqrt": "np.sqrt", "sin": "np.sin", "cos": "np.cos", "tan": "np.tan",
    "tanh": "np.tanh", "arctan": "np.arctan", "arcsin": "np.arcsin", "arccos": "np.arccos",
    "sinh": "np.sinh", "cosh": "np.cosh", "arcsinh": "np.arcsinh", "arctanh": "np.arctanh",
    "abs": "np.abs", "pow": "np.power", "maximum": "np.maximum", "minimum": "np.minimum",
    "logaddexp": "np.logaddexp", "arctan2": "np.arctan2", "sign": "np.sign",
    "floor": "np.floor", "ceil": "np.ceil", "round": "np.round", "floor_divide": "np.floor_divide",
    "lt": "np.less", "le": "np.less_equal", "gt": "np.greater", "ge": "np.greater_equal",
    "eq": "np.equal", "ne": "np.not_equal", "logical_and": "np.logical_and",
    "logical_or": "np.logical_or", "logical_not": "np.logical_not",
    "logical_xor": "np.logical_xor", "isnan": "np.isnan", "isfinite": "np.isfinite",
    "mod": "np.mod",
}
_SCALAR_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_SPECIAL = {
    "gammaln": "sp.gammaln", "digamma": "sp.digamma", "erf": "sp.erf", "erfc": "sp.erfc",
    "erfcx": "sp.erfcx", "ndtr": "sp.ndtr", "ndtri": "sp.ndtri", "log_ndtr": "sp.log_ndtr",
    "expit": "sp.expit", "logit": "sp.logit", "log1pexp": "sp.log1pexp",
    "log1mexp": "sp.log1mexp", "i0e": "sp.i0e", "i1e": "sp.i1e", "xlogy": "sp.xlogy",
    "xlog1py": "sp.xlog1py", "betaln": "sp.betaln",
}


def _shape(aval) -> str:
    """Source of ``aval``'s shape as a tuple of ``np.int64`` values: a bare ``5000`` would be
    typed as the literal 5000, and a disk-cached helper (``cn.empty``...) called with it would
    be compiled anew for every size instead of once per number of dimensions."""
    return _tuple(aval.shape)


def _tuple(dims) -> str:
    """Source of a tuple of ``np.int64`` values (see :func:`_shape`)."""
    return "(" + "".join(f"np.int64({d}), " for d in dims) + ")"


def _reshaped(src: str, dims) -> str:
    """Source reshaping the array ``src`` to ``dims`` (a view when ``src`` is contiguous).
    ``ndarray.reshape`` itself is avoided in generated code: Numba compiles a helper for it in
    every process, while ``cn.reshape`` is loaded from the disk cache."""
    return f"cn.reshape({src}, {_tuple(dims)})"


class _IntScalar:
    ndim = 0


_INT_SCALAR = _IntScalar()


def _lower_elementwise(name, out, ins, in_avals, out_aval, params):
    if name == "polygamma":  # the static order becomes the kernel's first argument
        fn = "sp.trigamma" if params["n"] == 1 else "sp.polygamma"
        if params["n"] != 1:
            ins, in_avals = [str(params["n"]), *ins], [_INT_SCALAR, *in_avals]
    else:
        fn = _SPECIAL.get(name) or _UFUNC[name]
    if out_aval.ndim == 0:  # scalars stay Python scalars in generated code
        if name in _SCALAR_OPS:
            return [f"{out} = {ins[0]} {_SCALAR_OPS[name]} {ins[1]}"]
        return [f"{out} = {fn}({', '.join(ins)})"]
    if name not in _SPECIAL and name != "polygamma":
        return [f"{out} = {fn}({', '.join(ins)})"]
    # special functions are scalar kernels: an explicit loop over the broadcast operands
    shape = _shape(out_aval)
    lines = [f"{out} = cn.empty({shape}, np.float64)", f"{out}_f = cn.ravel({out})"]
    flat = []
    for k, (name_in, aval) in enumerate(zip(ins, in_avals)):
        if aval.ndim == 0:
            flat.append(name_in)
        else:
            lines.append(
                f"{out}_{k} = cn.ravel(cn.broadcast_to({name_in}, {shape}))"
            )
            flat.append(f"{out}_{k}[_i]")
    lines += [f"for _i in range({out}_f.size):", f"    {out}_f[_i] = {fn}({', '.join(flat)})"]
    return lines


def _lower_select(out, ins, in_avals, out_aval, params):
    c, x, y = ins
    if out_aval.ndim == 0:
        return [f"{out} = {x} if {c} else {y}"]
    shape = _shape(out_aval)
    b = [
        f"cn.full({shape}, {n})" if a.ndim == 0 else f"cn.broadcast_to({n}, {shape})"
        for n, a in zip(ins, in_avals)
    ]
    return [f"{out} = cn.where({b[0]}, {b[1]}, {b[2]})"]


def _lower_convert(out, ins, in_avals, out_aval, params):
    dtype = np.dtype(params["dtype"]).name
    if out_aval.ndim == 0:
        return [f"{out} = np.{dtype}({ins[0]})"]
    return [f"{out} = cn.astype({ins[0]}, np.{dtype})"]


def _rows(x: str, aval, axes: tuple) -> tuple[list[str], str, tuple]:
    """Lines that move ``axes`` last and reshape to (rows, reduced); the kept shape."""
    keep = [i for i in range(aval.ndim) if i not in axes]
    perm = tuple(keep + list(axes))
    kept = tuple(aval.shape[i] for i in keep)
    rows = int(np.prod(kept)) if kept else 1
    red = int(np.prod([aval.shape[a] for a in axes]))
    src = x if aval.ndim else f"cn.full((1,), {x})"
    if perm != tuple(range(aval.ndim)) and aval.ndim:
        src = f"cn.transpose({src}, {perm})"
    return [f"{x}_r = {_reshaped(src, (rows, red))}"], f"{x}_r", kept


def _lower_reduction(kind):
    def lower(out, ins, in_avals, out_aval, params):
        aval = in_avals[0]
        if kind == "sum" and aval.ndim == 1 and aval.dtype == np.float64:
            # the sum of a float vector: a loop in place (gk.rows_sum allocates its result), in
            # the same order as rows_sum
            return [f"{out} = 0.0", f"for j_ in range({aval.shape[0]}):",
                    f"    {out} += {ins[0]}[j_]"]
        lines, rows, kept = _rows(ins[0], aval, params["axes"])
        call = f"gk.rows_{kind}({rows})"
        if not kept:
            return lines + [f"{out} = {call}[0]"]
        return lines + [f"{out} = {_reshaped(call, kept)}"]

    return lower


def _lower_cumulative(kind):
    def lower(out, ins, in_avals, out_aval, params):
        aval, axis = in_avals[0], params["axis"]
        lines, rows, kept = _rows(ins[0], aval, (axis,))
        moved = (*kept, aval.shape[axis])
        perm = [i for i in range(aval.ndim) if i != axis] + [axis]
        back = tuple(int(p) for p in np.argsort(perm))
        res = _reshaped(f"gk.rows_{kind}({rows}, {params['reverse']})", moved)
        if back == tuple(range(len(back))):  # np.transpose with axes is costly to compile
            return lines + [f"{out} = {res}"]
        return lines + [f"{out} = cn.ascontiguousarray(cn.transpose({res}, {back}))"]

    return lower


def _lower_reshape(out, ins, in_avals, out_aval, params):
    if out_aval.ndim == 0:
        first = "[" + ", ".join("0" for _ in range(in_avals[0].ndim)) + "]"
        return [f"{out} = {ins[0]}{first}" if in_avals[0].ndim else f"{out} = {ins[0]}"]
    if in_avals[0].ndim == 0:
        return [f"{out} = cn.full({_shape(out_aval)}, {ins[0]})"]
    src = ins[0] if in_avals[0].ndim else f"cn.full((1,), {ins[0]})"
    return [f"{out} = {_reshaped(src, out_aval.shape)}"]


def _index_plan(x_aval, spec: tuple, idx_avals: list) -> tuple[tuple, list]:
    """For each gathered output axis, a loop; for each axis of ``x``, an index expression.

    Returns ``(out_shape, x_exprs)`` where ``x_exprs[k]`` is Python source (in loop variables
    ``o0, o1, ...`` and index-array names ``idx0, idx1, ...``) for the index into axis ``k`` of
    ``x``, following NumPy's placement of advanced-index axes.
    """
    from autodiff.ops.indexing import _layout, gather_shape

    out_shape = gather_shape(x_aval.shape, spec, [a.shape for a in idx_avals])
    dims, bcast, contiguous = _layout(spec, [a.shape for a in idx_avals])
    has_adv = "A" in dims
    n_b = len(bcast)
    # output position of each basic entry, and where the broadcast block starts
    basic_pos, pos = [], 0
    if has_adv and not contiguous:
        pos = n_b
    adv_start = 0
    seen_adv = False
    for d in dims:
        if d == "A":
            if contiguous and not seen_adv:
                adv_start, pos = pos, pos + n_b
            seen_adv = True
            basic_pos.append(None)
        else:
            basic_pos.append(pos)
            pos += 1
    exprs, k_arr, entry = [], 0, 0
    dim_iter = iter(range(len(dims)))
    for e in spec:
        if e[0] == "n":
            next(dim_iter)
            continue
        if e[0] == "s":
            p = basic_pos[next(dim_iter)]
            exprs.append(f"{e[1]} + {e[3]} * o{p}" if e[3] != 1 else f"{e[1]} + o{p}")
        elif e[0] == "i":
            if has_adv:
                next(dim_iter)
            exprs.append(str(e[1]))
        else:
            next(dim_iter)
            shape = idx_avals[k_arr].shape
            subs = [
                "0" if d == 1 and bcast[n_b - len(shape) + j] != 1 else f"o{adv_start + n_b - len(shape) + j}"
                for j, d in enumerate(shape)
            ]
            exprs.append(f"idx{k_arr}[{', '.join(subs)}]" if shape else f"idx{k_arr}")
            k_arr += 1
        entry += 1
    return out_shape, exprs


def _loops(shape: tuple, body: str, indent: str = "") -> list[str]:
    lines = []
    for k, n in enumerate(shape):
        lines.append(f"{indent}{'    ' * k}for o{k} in range({n}):")
    lines.append(f"{indent}{'    ' * len(shape)}{body}")
    return lines


def _bind_index_names(ins: list[str], start: int) -> list[str]:
    return [f"idx{k} = {name}" for k, name in enumerate(ins[start:])]


def _basic_view(spec: tuple) -> str | None:
    """``a:b`` / ``k`` index source when ``spec`` is basic (a view, no copy), else None."""
    parts = []
    for e in spec:
        if e[0] == "s":
            parts.append(f"{e[1]}:{'' if e[2] < 0 else e[2]}:{e[3]}" if e[3] != 1 else f"{e[1]}:{e[2]}")
        elif e[0] == "i":
            parts.append(str(e[1]))
        else:
            return None
    return ", ".join(parts)


def _lower_gather(out, ins, in_avals, out_aval, params, module=None):
    view = _basic_view(params["spec"])
    if view is not None and in_avals[0].ndim:
        return [f"{out} = {ins[0]}[{view}]"]
    out_shape, exprs = _index_plan(in_avals[0], params["spec"], in_avals[1:])
    src = f"{ins[0]}[{', '.join(exprs)}]" if exprs else ins[0]
    lines = _bind_index_names(ins, 1)
    if not out_shape:
        return lines + [f"{out} = {src}"]
    new = module.alloc(out_aval) if module is not None else (
        f"cn.empty({_shape(out_aval)}, {_dtype_src(out_aval)})")
    lines.append(f"{out} = {new}")
    target = f"{out}[{', '.join(f'o{k}' for k in range(len(out_shape)))}]"
    return lines + _loops(out_shape, f"{target} = {src}")


def _lower_scatter(accumulate: bool):
    def lower(out, ins, in_avals, out_aval, params, inplace=False, unit=None):
        out_shape, exprs = _index_plan(in_avals[0], params["spec"], in_avals[2:])
        lines = _bind_index_names(ins, 2)
        if in_avals[0].ndim == 0:
            raise LoweringError("scatter into a scalar has no Numba lowering")
        if inplace and in_avals[0].dtype == out_aval.dtype:  # the operand dies here: reuse it
            lines.append(f"{out} = {ins[0]}")
        else:
            lines.append(f"{out} = cn.astype({ins[0]}, np.{out_aval.dtype.name})")  # a copy
        if unit is not None:  # the update is a scalar reshaped to shape (1,): use the scalar
            upd = unit
        elif out_shape:
            upd = f"{ins[1]}[{', '.join(f'o{k}' for k in range(len(out_shape)))}]"
        else:
            upd = ins[1]
        op = "+=" if accumulate else "="
        return lines + _loops(out_shape, f"{out}[{', '.join(exprs)}] {op} {upd}")

    return lower


def _dtype_src(aval) -> str:
    return "np.bool_" if aval.dtype.name == "bool" else f"np.{aval.dtype.name}"


def _as_stack(name: str, aval, batch: tuple, tail: tuple) -> str:
    """Source viewing ``name`` broadcast to ``batch + tail`` as a C-contiguous (B, *tail) stack."""
    full = (*batch, *tail)
    size = int(np.prod(batch)) if batch else 1
    src = f"cn.broadcast_to({name}, {full})" if aval.shape != full else name
    return _reshaped(src, (size, *tail))


def _lower_matmul(out, ins, in_avals, out_aval, params, transposed=None, module=None):
    a, b = in_avals
    if a.ndim == 2 and b.ndim == 2:
        # BLAS through kernels.blas; a transposed matrix is never copied: (S^T) x = matvec_t(S, x)
        transposed = transposed or {}
        ta, tb = (transposed.get(n) for n in ins)
        m, k, n = a.shape[0], a.shape[1], b.shape[1]
        vectors = module.vectors if module is not None else {}
        flat = module is not None and out in module.flat_products
        if n == 1 and tb is None:  # matrix-vector product
            x = vectors.get(ins[1]) or _reshaped(ins[1], (k,))
            prod = f"blas.matvec_t({ta}, {x})" if ta else f"blas.matvec({ins[0]}, {x})"
            return [f"{out} = {prod if flat else _reshaped(prod, (m, 1))}"]
        if m == 1 and ta is None:  # x B = B^T x
            x = vectors.get(ins[0]) or _reshaped(ins[0], (k,))
            prod = f"blas.matvec({tb}, {x})" if tb else f"blas.matvec_t({ins[1]}, {x})"
            return [f"{out} = {prod if flat else _reshaped(prod, (1, n))}"]
        ops = [f"{t}.T" if t else name for t, name in zip((ta, tb), ins)]
        return [f"{out} = blas.matmat({ops[0]}, {ops[1]})"]
    batch = out_aval.shape[:-2]
    return [
        f"{out} = " + _reshaped(f"gk.batched_dot({_as_stack(ins[0], a, batch, a.shape[-2:])}, "
                               f"{_as_stack(ins[1], b, batch, b.shape[-2:])})", out_aval.shape)
    ]


def _lower_cholesky(out, ins, in_avals, out_aval, params):
    a = in_avals[0]
    return [
        f"{out} = " + _reshaped(
            f"gk.cholesky_batched({_as_stack(ins[0], a, a.shape[:-2], a.shape[-2:])})",
            out_aval.shape)
    ]


def _lower_solve(kind):
    def lower(out, ins, in_avals, out_aval, params):
        a, b = in_avals
        batch = out_aval.shape[:-2]
        sa = _as_stack(ins[0], a, batch, a.shape[-2:])
        sb = _as_stack(ins[1], b, batch, b.shape[-2:])
        extra = f", {params['lower']}, {params['trans']}" if kind == "solve_triangular" else ""
        return [f"{out} = " + _reshaped(f"gk.{kind}_batched({sa}, {sb}{extra})", out_aval.shape)]

    return lower


def _lower_slogdet(outs, ins, in_avals, out_avals, params, module):
    a = in_avals[0]
    stack = _as_stack(ins[0], a, a.shape[:-2], a.shape[-2:])
    lines = [f"{outs[0]}_s, {outs[1]}_l = gk.slogdet_batched({stack})"]
    for o, suffix, aval in zip(outs, ("_s", "_l"), out_avals):
        lines.append(
            f"{o} = {o}{suffix}[0]" if aval.ndim == 0
            else f"{o} = {_reshaped(o + suffix, aval.shape)}"
        )
    return lines


def _lower_rows(kind):
    def lower(out, ins, in_avals, out_aval, params):
        aval, axis = in_avals[0], params["axis"]
        lines, rows, kept = _rows(ins[0], aval, (axis,))
        if kind == "argsort":
            moved = (*kept, aval.shape[axis])
            perm = [i for i in range(aval.ndim) if i != axis] + [axis]
            back = tuple(int(p) for p in np.argsort(perm))
            res = _reshaped(f"gk.rows_argsort({rows})", moved)
            return lines + [f"{out} = cn.ascontiguousarray(cn.transpose({res}, {back}))"]
        call = f"gk.rows_{kind}({rows})"
        return lines + [f"{out} = {call}[0]" if not kept else f"{out} = {_reshaped(call, kept)}"]

    return lower


def _lower_einsum(out, ins, in_avals, out_aval, params):
    from autodiff.ops.linalg import parse_einsum

    inputs, output = parse_einsum(params["subscripts"], len(ins))
    sizes = {}
    for sub, aval in zip(inputs, in_avals):
        sizes.update(zip(sub, aval.shape))
    summed = [c for c in dict.fromkeys("".join(inputs)) if c not in output]
    order = list(output) + summed
    product = " * ".join(f"{n}[{', '.join('i_' + c for c in sub)}]" if sub else n
                         for n, sub in zip(ins, inputs))
    lines = []
    target = f"{out}[{', '.join('i_' + c for c in output)}]" if output else f"{out}_acc"
    lines.append(f"{out} = cn.zeros({_shape(out_aval)}, np.float64)" if output else f"{out}_acc = 0.0")
    for depth, c in enumerate(order):
        lines.append("    " * depth + f"for i_{c} in range({sizes[c]}):")
    lines.append("    " * len(order) + f"{target} += {product}")
    if not output:
        lines.append(f"{out} = {out}_acc")
    return lines


def _sub_function(module, graph: Graph, prefix: str) -> tuple[str, list[str]]:
    """Emit ``graph`` as a function of the module; returns its name and the constants it needs
    (which the caller must pass, and therefore take as parameters itself)."""
    from autodiff.codegen.emit import emit_function

    fn_name = module.fresh(prefix)
    emit_function(module, graph, fn_name)
    consts = module.function_consts[fn_name]
    module.const_stack[-1].update(consts)
    return fn_name, consts


def _lower_cond(outs, ins, in_avals, out_avals, params, module):
    branches = [_sub_function(module, g, "branch") for g in params["branches"]]
    operands = ", ".join(ins[1:])
    lines = []
    for k, (fn, consts) in enumerate(branches):
        head = "if" if k == 0 else ("elif" if k < len(branches) - 1 else "else")
        cond_src = f" {ins[0]} == {k}" if head != "else" else ""
        args = ", ".join([*ins[1:], *consts]) if operands or consts else ""
        lines.append(f"{head}{cond_src}:")
        lines.append(f"    r_ = {fn}({args})")
    lines += [f"{o} = r_[{k}]" for k, o in enumerate(outs)]
    return lines


def _lower_scan(outs, ins, in_avals, out_avals, params, module):
    fn, consts = _sub_function(module, params["body"], "body")
    nc, nk, length = params["n_consts"], params["n_carry"], params["length"]
    c_in, k_in, x_in = ins[:nc], ins[nc : nc + nk], ins[nc + nk :]
    carry = [f"{o}_c" for o in outs[:nk]]
    lines = []
    for name, src, aval in zip(carry, k_in, in_avals[nc : nc + nk]):
        lines.append(f"{name} = cn.ascontiguousarray({src})" if aval.ndim else f"{name} = {src}")
    for o, aval in zip(outs[nk:], out_avals[nk:]):
        lines.append(f"{o} = cn.empty({_shape(aval)}, {_dtype_src(aval)})")
    t = f"{length - 1} - i_" if params["reverse"] else "i_"
    args = [*c_in, *carry, *[f"{x}[t_]" for x in x_in], *consts]
    lines += [f"for i_ in range({length}):", f"    t_ = {t}", f"    r_ = {fn}({', '.join(args)})"]
    for k, (name, aval) in enumerate(zip(carry, out_avals[:nk])):
        lines.append(f"    {name} = cn.ascontiguousarray(r_[{k}])" if aval.ndim else f"    {name} = r_[{k}]")
    for k, o in enumerate(outs[nk:]):
        lines.append(f"    {o}[t_] = r_[{nk + k}]")
    lines += [f"{o} = {c}" for o, c in zip(outs[:nk], carry)]
    return lines


MULTI_LOWERINGS: dict[str, Callable] = {
    "slogdet": _lower_slogdet,
    "cond": _lower_cond,
    "scan": _lower_scan,
}

LOWERINGS: dict[str, Callable] = {
    "select": _lower_select,
    "convert_element_type": _lower_convert,
    "stop_gradient": lambda out, ins, ia, oa, p: [f"{out} = {ins[0]}"],
    "reduce_sum": _lower_reduction("sum"),
    "reduce_max": _lower_reduction("max"),
    "reduce_min": _lower_reduction("min"),
    "reduce_prod": _lower_reduction("prod"),
    "cumsum": _lower_cumulative("cumsum"),
    "cumprod": _lower_cumulative("cumprod"),
    "reshape": _lower_reshape,
    "transpose": lambda out, ins, ia, oa, p: [
        f"{out} = cn.ascontiguousarray({ins[0]}.T)" if p["perm"] == (1, 0)
        else f"{out} = cn.ascontiguousarray(cn.transpose({ins[0]}, {p['perm']}))"
    ],
    "broadcast_to": lambda out, ins, ia, oa, p: [
        f"{out} = cn.ascontiguousarray(cn.broadcast_to("
        + (f"cn.full((1,), {ins[0]})" if ia[0].ndim == 0 else ins[0])
        + f", {_shape(oa)}))"
    ],
    "concatenate": lambda out, ins, ia, oa, p: [
        f"{out} = cn.concatenate(({''.join(n + ', ' for n in ins)}), {p['axis']})"
    ],
    "matmul": _lower_matmul,
    "einsum": _lower_einsum,
    "cholesky": _lower_cholesky,
    "solve_triangular": _lower_solve("solve_triangular"),
    "solve": _lower_solve("solve"),
    "argsort": _lower_rows("argsort"),
    "argmax": _lower_rows("argmax"),
    "argmin": _lower_rows("argmin"),
    "gather": _lower_gather,
    "scatter_add": _lower_scatter(True),
    "scatter": _lower_scatter(False),
}


def has_lowering(name: str) -> bool:
    """Whether the primitive called ``name`` has a Numba lowering here."""
    return (name in _UFUNC or name in _SPECIAL or name in LOWERINGS or name in MULTI_LOWERINGS
            or name == "polygamma")


def lower_eqn(eqn, outs: list[str], ins: list[str], module=None) -> list[str]:
    name = eqn.primitive.name
    in_avals = [a.aval for a in eqn.inputs]
    if eqn.primitive.multiple_results:
        rule = MULTI_LOWERINGS.get(name)
        if rule is None:
            raise LoweringError(f"primitive '{name}' has no Numba lowering yet")
        return rule(outs, ins, in_avals, [v.aval for v in eqn.outputs], eqn.params, module)
    out = outs[0]
    out_aval = eqn.outputs[0].aval
    if name in _UFUNC or name in _SPECIAL or name == "polygamma":
        return _lower_elementwise(name, out, ins, in_avals, out_aval, eqn.params)
    rule = LOWERINGS.get(name)
    if name == "matmul" and module is not None:
        return _lower_matmul(out, ins, in_avals, out_aval, eqn.params, module.transposed, module)
    if name == "gather" and module is not None:
        return _lower_gather(out, ins, in_avals, out_aval, eqn.params, module)
    if name == "reshape" and module is not None:
        if out in module.vectors:
            return []  # read only as a matrix-vector product's vector: the 1-D source is used
        if ins[0] in module.flat_products:
            return [f"{out} = {ins[0]}"]  # the product was computed 1-D already
    if name == "transpose" and module is not None and out in module.transposed:
        return []  # only read by matrix products, which take the transposed view
    if name == "reshape" and module is not None and out in module.unit_scalars:
        return []  # read only as a scatter's update, which reads the scalar itself
    if name in ("scatter_add", "scatter") and module is not None:
        return rule(out, ins, in_avals, out_aval, eqn.params, inplace=ins[0] in module.dying,
                    unit=module.unit_scalars.get(ins[1]))
    if rule is None:
        raise LoweringError(
            f"primitive '{name}' has no Numba lowering yet; run the function uncompiled "
            "(without jit) or express it with supported operations"
        )
    return rule(out, ins, in_avals, out_aval, eqn.params)


