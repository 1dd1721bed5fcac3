"""Graph -> Python source -> Numba: the first cut of the compiler behind :func:`autodiff.jit`.

A graph becomes one Python function with one statement (or a few) per equation, the printed
equation as a comment above it.  The source is written to a content-addressed file in the cache
folder (its name is a hash of the source and Numba's version), imported under a unique module name
registered in ``sys.modules`` and compiled with ``njit(cache=True)``, so the next process that
builds the same graph loads machine code from Numba's disk cache instead of compiling.

This first cut lowers each equation to NumPy-in-Numba (one temporary per equation); fused loops
without temporaries, the C-ABI model kernel and lowerings for ``cond``/``scan``, batched matrix
products, multi-array gathers and the linear-algebra primitives are the next steps.  A primitive
without a lowering raises :class:`LoweringError` naming it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from autodiff.ir import Graph, Lit, Var, format_eqn_rhs
from kernels.jit import JIT_DISABLED, cache_dir


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
    return "(" + "".join(f"{d}, " for d in aval.shape) + ")"


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
    lines = [f"{out} = np.empty({shape}, np.float64)", f"{out}_f = {out}.reshape(-1)"]
    flat = []
    for k, (name_in, aval) in enumerate(zip(ins, in_avals)):
        if aval.ndim == 0:
            flat.append(name_in)
        else:
            lines.append(
                f"{out}_{k} = np.ascontiguousarray(np.broadcast_to({name_in}, {shape}))"
                ".reshape(-1)"
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
        f"np.full({shape}, {n})" if a.ndim == 0 else f"np.broadcast_to({n}, {shape})"
        for n, a in zip(ins, in_avals)
    ]
    return [f"{out} = np.where({b[0]}, {b[1]}, {b[2]})"]


def _lower_convert(out, ins, in_avals, out_aval, params):
    dtype = np.dtype(params["dtype"]).name
    if out_aval.ndim == 0:
        return [f"{out} = np.{dtype}({ins[0]})"]
    return [f"{out} = {ins[0]}.astype(np.{dtype})"]


def _rows(x: str, aval, axes: tuple) -> tuple[list[str], str, tuple]:
    """Lines that move ``axes`` last and reshape to (rows, reduced); the kept shape."""
    keep = [i for i in range(aval.ndim) if i not in axes]
    perm = tuple(keep + list(axes))
    kept = tuple(aval.shape[i] for i in keep)
    rows = int(np.prod(kept)) if kept else 1
    red = int(np.prod([aval.shape[a] for a in axes]))
    src = x if aval.ndim else f"np.full((1,), {x})"
    if perm != tuple(range(aval.ndim)) and aval.ndim:
        src = f"np.transpose({src}, {perm})"
    return [f"{x}_r = np.ascontiguousarray({src}).reshape(({rows}, {red}))"], f"{x}_r", kept


def _lower_reduction(kind):
    def lower(out, ins, in_avals, out_aval, params):
        lines, rows, kept = _rows(ins[0], in_avals[0], params["axes"])
        call = f"gk.rows_{kind}({rows})"
        if not kept:
            return lines + [f"{out} = {call}[0]"]
        return lines + [f"{out} = {call}.reshape({kept})"]

    return lower


def _lower_cumulative(kind):
    def lower(out, ins, in_avals, out_aval, params):
        aval, axis = in_avals[0], params["axis"]
        lines, rows, kept = _rows(ins[0], aval, (axis,))
        moved = (*kept, aval.shape[axis])
        perm = [i for i in range(aval.ndim) if i != axis] + [axis]
        back = tuple(int(p) for p in np.argsort(perm))
        res = f"gk.rows_{kind}({rows}, {params['reverse']}).reshape({moved})"
        if back == tuple(range(len(back))):  # np.transpose with axes is costly to compile
            return lines + [f"{out} = {res}"]
        return lines + [f"{out} = np.ascontiguousarray(np.transpose({res}, {back}))"]

    return lower


def _lower_reshape(out, ins, in_avals, out_aval, params):
    if out_aval.ndim == 0:
        first = "[" + ", ".join("0" for _ in range(in_avals[0].ndim)) + "]"
        return [f"{out} = {ins[0]}{first}" if in_avals[0].ndim else f"{out} = {ins[0]}"]
    if in_avals[0].ndim == 0:
        return [f"{out} = np.full({_shape(out_aval)}, {ins[0]})"]
    src = ins[0] if in_avals[0].ndim else f"np.full((1,), {ins[0]})"
    return [f"{out} = np.ascontiguousarray({src}).reshape({_shape(out_aval)})"]


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


def _lower_gather(out, ins, in_avals, out_aval, params):
    view = _basic_view(params["spec"])
    if view is not None and in_avals[0].ndim:
        return [f"{out} = {ins[0]}[{view}]"]
    out_shape, exprs = _index_plan(in_avals[0], params["spec"], in_avals[1:])
    src = f"{ins[0]}[{', '.join(exprs)}]" if exprs else ins[0]
    lines = _bind_index_names(ins, 1)
    if not out_shape:
        return lines + [f"{out} = {src}"]
    dtype = f"np.{out_aval.dtype.name}" if out_aval.dtype.name != "bool" else "np.bool_"
    lines.append(f"{out} = np.empty({_shape(out_aval)}, {dtype})")
    target = f"{out}[{', '.join(f'o{k}' for k in range(len(out_shape)))}]"
    return lines + _loops(out_shape, f"{target} = {src}")


def _lower_scatter(accumulate: bool):
    def lower(out, ins, in_avals, out_aval, params, inplace=False):
        out_shape, exprs = _index_plan(in_avals[0], params["spec"], in_avals[2:])
        lines = _bind_index_names(ins, 2)
        if in_avals[0].ndim == 0:
            raise LoweringError("scatter into a scalar has no Numba lowering")
        if inplace and in_avals[0].dtype == out_aval.dtype:  # the operand dies here: reuse it
            lines.append(f"{out} = {ins[0]}")
        else:
            lines.append(f"{out} = {ins[0]}.astype(np.{out_aval.dtype.name})")  # a copy
        upd = f"{ins[1]}[{', '.join(f'o{k}' for k in range(len(out_shape)))}]" if out_shape else ins[1]
        op = "+=" if accumulate else "="
        return lines + _loops(out_shape, f"{out}[{', '.join(exprs)}] {op} {upd}")

    return lower


def _dtype_src(aval) -> str:
    return "np.bool_" if aval.dtype.name == "bool" else f"np.{aval.dtype.name}"


def _as_stack(name: str, aval, batch: tuple, tail: tuple) -> str:
    """Source viewing ``name`` broadcast to ``batch + tail`` as a C-contiguous (B, *tail) stack."""
    full = (*batch, *tail)
    size = int(np.prod(batch)) if batch else 1
    src = f"np.broadcast_to({name}, {full})" if aval.shape != full else name
    return f"np.ascontiguousarray({src}).reshape({(size, *tail)})"


def _lower_matmul(out, ins, in_avals, out_aval, params, transposed=None):
    a, b = in_avals
    if a.ndim == 2 and b.ndim == 2:
        # a transposed matrix is passed as a view: BLAS reads it with the transpose flag
        transposed = transposed or {}
        ops = [f"np.transpose({transposed[n]})" if n in transposed else f"np.ascontiguousarray({n})"
               for n in ins]
        m, k, n = a.shape[0], a.shape[1], b.shape[1]
        if n == 1 and ins[1] not in transposed:  # matrix-vector product (BLAS gemv, not gemm)
            return [f"{out} = np.dot({ops[0]}, {ops[1]}.reshape({k})).reshape(({m}, 1))"]
        if m == 1 and ins[0] not in transposed:
            return [f"{out} = np.dot({ops[0]}.reshape({k}), {ops[1]}).reshape((1, {n}))"]
        return [f"{out} = np.dot({ops[0]}, {ops[1]})"]
    batch = out_aval.shape[:-2]
    return [
        f"{out} = gk.batched_dot({_as_stack(ins[0], a, batch, a.shape[-2:])}, "
        f"{_as_stack(ins[1], b, batch, b.shape[-2:])}).reshape({_shape(out_aval)})"
    ]


def _lower_cholesky(out, ins, in_avals, out_aval, params):
    a = in_avals[0]
    return [
        f"{out} = gk.cholesky_batched({_as_stack(ins[0], a, a.shape[:-2], a.shape[-2:])})"
        f".reshape({_shape(out_aval)})"
    ]


def _lower_solve(kind):
    def lower(out, ins, in_avals, out_aval, params):
        a, b = in_avals
        batch = out_aval.shape[:-2]
        sa = _as_stack(ins[0], a, batch, a.shape[-2:])
        sb = _as_stack(ins[1], b, batch, b.shape[-2:])
        extra = f", {params['lower']}, {params['trans']}" if kind == "solve_triangular" else ""
        return [f"{out} = gk.{kind}_batched({sa}, {sb}{extra}).reshape({_shape(out_aval)})"]

    return lower


def _lower_slogdet(outs, ins, in_avals, out_avals, params, module):
    a = in_avals[0]
    stack = _as_stack(ins[0], a, a.shape[:-2], a.shape[-2:])
    lines = [f"{outs[0]}_s, {outs[1]}_l = gk.slogdet_batched({stack})"]
    for o, suffix, aval in zip(outs, ("_s", "_l"), out_avals):
        lines.append(
            f"{o} = {o}{suffix}[0]" if aval.ndim == 0 else f"{o} = {o}{suffix}.reshape({_shape(aval)})"
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
            res = f"gk.rows_argsort({rows}).reshape({moved})"
            return lines + [f"{out} = np.ascontiguousarray(np.transpose({res}, {back}))"]
        call = f"gk.rows_{kind}({rows})"
        return lines + [f"{out} = {call}[0]" if not kept else f"{out} = {call}.reshape({kept})"]

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
    lines.append(f"{out} = np.zeros({_shape(out_aval)})" if output else f"{out}_acc = 0.0")
    for depth, c in enumerate(order):
        lines.append("    " * depth + f"for i_{c} in range({sizes[c]}):")
    lines.append("    " * len(order) + f"{target} += {product}")
    if not output:
        lines.append(f"{out} = {out}_acc")
    return lines


def _sub_function(module, graph: Graph, prefix: str) -> tuple[str, list[str]]:
    """Emit ``graph`` as a function of the module; returns its name and the constants it needs
    (which the caller must pass, and therefore take as parameters itself)."""
    fn_name = module.fresh(prefix)
    _emit_function(module, graph, fn_name, True)
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
        lines.append(f"{name} = np.ascontiguousarray({src})" if aval.ndim else f"{name} = {src}")
    for o, aval in zip(outs[nk:], out_avals[nk:]):
        lines.append(f"{o} = np.empty({_shape(aval)}, {_dtype_src(aval)})")
    t = f"{length - 1} - i_" if params["reverse"] else "i_"
    args = [*c_in, *carry, *[f"{x}[t_]" for x in x_in], *consts]
    lines += [f"for i_ in range({length}):", f"    t_ = {t}", f"    r_ = {fn}({', '.join(args)})"]
    for k, (name, aval) in enumerate(zip(carry, out_avals[:nk])):
        lines.append(f"    {name} = np.ascontiguousarray(r_[{k}])" if aval.ndim else f"    {name} = r_[{k}]")
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
        f"{out} = np.ascontiguousarray({ins[0]}.T)" if p["perm"] == (1, 0)
        else f"{out} = np.ascontiguousarray(np.transpose({ins[0]}, {p['perm']}))"
    ],
    "broadcast_to": lambda out, ins, ia, oa, p: [
        f"{out} = np.ascontiguousarray(np.broadcast_to("
        + (f"np.full((1,), {ins[0]})" if ia[0].ndim == 0 else ins[0])
        + f", {_shape(oa)}))"
    ],
    "concatenate": lambda out, ins, ia, oa, p: [
        f"{out} = np.concatenate(({''.join(n + ', ' for n in ins)}), axis={p['axis']})"
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
        return _lower_matmul(out, ins, in_avals, out_aval, eqn.params, module.transposed)
    if name == "transpose" and module is not None and out in module.transposed:
        return []  # only read by matrix products, which take the transposed view
    if name in ("scatter_add", "scatter") and module is not None and ins[0] in module.dying:
        return rule(out, ins, in_avals, out_aval, eqn.params, inplace=True)
    if rule is None:
        raise LoweringError(
            f"primitive '{name}' has no Numba lowering yet; run the function uncompiled "
            "(without jit) or express it with supported operations"
        )
    return rule(out, ins, in_avals, out_aval, eqn.params)


# --------------------------------------------------------------------------------------------
# Loop fusion: chains of elementwise equations of one shape become one loop, no temporaries
# --------------------------------------------------------------------------------------------

_FUSIBLE = set(_UFUNC) | set(_SPECIAL) | {"polygamma", "select", "convert_element_type",
                                           "stop_gradient", "broadcast_to"}


def _fusible(eqn) -> bool:
    name = eqn.primitive.name
    if name not in _FUSIBLE or len(eqn.outputs) != 1 or eqn.outputs[0].aval.ndim == 0:
        return False
    return True


def plan_fusion(graph: Graph) -> list:
    """Group fusible equations with one output shape into clusters (one loop each).

    A sum of a cluster value over all its axes joins the cluster as an accumulator.  While a
    cluster is open, scalar equations that do not depend on it are hoisted before its loop, and
    scalar equations that depend on its sums are deferred after it, so that independent
    elementwise work (a log density's terms and its gradient's residuals, say) shares one loop.
    """
    items: list = []
    cluster: list = []
    hoisted: list = []
    deferred: list = []
    shape: tuple | None = None
    members: set[int] = set()
    late: set[int] = set()  # outputs of deferred equations

    def close():
        nonlocal cluster, hoisted, deferred, shape, members, late
        items.extend(("eqn", e) for e in hoisted)
        if len(cluster) == 1 and cluster[0].primitive.name != "reduce_sum":
            items.append(("eqn", cluster[0]))
        elif cluster:
            items.append(("cluster", shape, cluster))
        items.extend(("eqn", e) for e in deferred)
        cluster, hoisted, deferred, shape, members, late = [], [], [], None, set(), set()

    for eqn in graph.eqns:
        out_shape = eqn.outputs[0].aval.shape if eqn.outputs else None
        var_inputs = [a.id for a in eqn.inputs if isinstance(a, Var)]
        depends = any(i in members for i in var_inputs)
        depends_late = any(i in late for i in var_inputs)
        if _fusible(eqn) and all(a.aval.ndim <= len(out_shape) for a in eqn.inputs):
            reads_reduction = any(
                isinstance(a, Var) and a.id in members and a.aval.ndim == 0 for a in eqn.inputs
            )
            if cluster and (out_shape != shape or reads_reduction or depends_late):
                close()
            cluster.append(eqn)
            shape = out_shape
            members.add(eqn.outputs[0].id)
            continue
        if (
            cluster
            and eqn.primitive.name == "reduce_sum"
            and isinstance(eqn.inputs[0], Var)
            and eqn.inputs[0].id in members
            and len(eqn.params["axes"]) == len(shape)
        ):
            cluster.append(eqn)  # accumulated inside the loop
            members.add(eqn.outputs[0].id)
            continue
        scalar = (
            not eqn.primitive.multiple_results
            and all(v.aval.ndim == 0 for v in eqn.outputs)
            and eqn.primitive.name not in ("cond", "scan")
        )
        if cluster and scalar and not depends and not depends_late:
            hoisted.append(eqn)  # computed before the loop; the cluster stays open
            continue
        if cluster and scalar:
            deferred.append(eqn)  # computed after the loop; the cluster stays open
            late.update(v.id for v in eqn.outputs)
            continue
        close()
        items.append(("eqn", eqn))
    close()
    return items


def _element(name: str, aval, shape: tuple) -> str:
    """Source for the element of input ``name`` (broadcast to ``shape``) at loop index o0.."""
    if aval.ndim == 0:
        return name
    offset = len(shape) - aval.ndim
    subs = ["0" if d == 1 and shape[offset + k] != 1 else f"o{offset + k}"
            for k, d in enumerate(aval.shape)]
    return f"{name}[{', '.join(subs)}]"


def _scalar_expr(eqn, ins: list[str]) -> str:
    """The scalar expression computing one element of an elementwise equation."""
    name = eqn.primitive.name
    if name in ("stop_gradient", "broadcast_to"):
        return ins[0]
    if name == "select":
        return f"({ins[1]} if {ins[0]} else {ins[2]})"
    if name == "convert_element_type":
        dtype = np.dtype(eqn.params["dtype"])
        return f"np.{'bool_' if dtype.name == 'bool' else dtype.name}({ins[0]})"
    if name in _SCALAR_OPS:
        return f"({ins[0]} {_SCALAR_OPS[name]} {ins[1]})"
    if name == "log1pexp":  # max(x, 0) + log1p(exp(-|x|)): accurate for every x
        return f"(max({ins[0]}, 0.0) + np.log1p(np.exp(-abs({ins[0]}))))"
    if name == "expit":  # 1/(1+e) or e/(1+e) with e = exp(-|x|): no overflow, shares the exp
        x = ins[0]
        return f"((1.0 if {x} >= 0 else np.exp(-abs({x}))) / (1.0 + np.exp(-abs({x}))))"
    if name == "polygamma":
        n = eqn.params["n"]
        return f"sp.trigamma({ins[0]})" if n == 1 else f"sp.polygamma({n}, {ins[0]})"
    fn = _SPECIAL.get(name) or _UFUNC[name]
    return f"{fn}({', '.join(ins)})"


_CHEAP = {"add", "sub", "mul", "neg", "select", "convert_element_type", "stop_gradient",
          "broadcast_to", "abs", "sign", "lt", "le", "gt", "ge", "eq", "ne", "maximum", "minimum",
          "logical_and", "logical_or", "logical_not", "logical_xor"}


def plan_materialization(plan: list, graph: Graph) -> tuple[set[int], dict[int, Any]]:
    """Which cluster values must be stored in arrays, and which can be recomputed.

    A cheap value (a few additions and multiplications) computed in a fused loop and needed by a
    later loop of the same shape is recomputed there instead of being stored (an allocation);
    a value is stored when a non-fused equation or the graph's result needs it, when a later
    loop of another shape needs it, or when a later loop needs it and it is expensive
    (transcendental functions and divisions are never computed twice).
    """
    producer: dict[int, tuple] = {}  # value id -> (eqn, cluster shape, plan index)
    inlinable: dict[int, bool] = {}
    size: dict[int, int] = {}
    store: set[int] = {a.id for a in graph.outputs if isinstance(a, Var)}
    for k, item in enumerate(plan):
        if item[0] == "eqn":
            store.update(a.id for a in item[1].inputs if isinstance(a, Var))
            continue
        _, shape, eqns = item
        for e in eqns:
            for a in e.inputs:
                if not isinstance(a, Var) or a.id not in producer:
                    continue
                _, p_shape, p_index = producer[a.id]
                if p_index != k and (p_shape != shape or not inlinable[a.id]):
                    store.add(a.id)
            if e.primitive.name == "reduce_sum":
                continue
            out = e.outputs[0]
            producer[out.id] = (e, shape, k)
            cost = 1 + sum(size.get(a.id, 0) for a in e.inputs if isinstance(a, Var)
                           and a.id in producer and a.id not in store)
            inlinable[out.id] = (
                cost <= 40
                and e.primitive.name in _CHEAP
                and all(inlinable.get(a.id, True) or a.id in store
                        for a in e.inputs if isinstance(a, Var) and a.id in producer)
            )
            size[out.id] = cost
    return store, {v: (e, shape) for v, (e, shape, _) in producer.items()}


def emit_cluster(shape: tuple, eqns: list, name, store: set[int], producer: dict) -> list[str]:
    """Source lines for one fused loop over ``shape``."""
    lines: list[str] = []
    for e in eqns:  # arrays that outlive the loop are allocated once, before it
        out = e.outputs[0]
        if e.primitive.name == "reduce_sum":
            lines.append(f"{name(out)} = {'0.0' if out.aval.dtype.kind == 'f' else '0'}")
        elif out.id in store:
            lines.append(f"{name(out)} = np.empty({_shape(out.aval)}, {_dtype_src(out.aval)})")
    body: list[str] = []
    ready: set[int] = set()  # values with a t_ scalar in this iteration
    index = ", ".join(f"o{k}" for k in range(len(shape)))

    def operand(a) -> str:
        if not isinstance(a, Var):
            return _element(name(a), a.aval, shape)
        if a.id in ready:
            return f"t_{name(a)}"
        entry = producer.get(a.id)
        if entry is not None and entry[1] == shape and a.id not in store:
            compute(entry[0])  # recompute an earlier loop's value here
            return f"t_{name(a)}"
        return _element(name(a), a.aval, shape)

    def compute(e) -> None:
        out = e.outputs[0]
        ins = [operand(a) for a in e.inputs]
        body.append(f"t_{name(out)} = {_scalar_expr(e, ins)}")
        ready.add(out.id)

    for e in eqns:
        out = e.outputs[0]
        if e.primitive.name == "reduce_sum":
            body.append(f"{name(out)} += {operand(e.inputs[0])}")
            continue
        if out.id not in ready:
            compute(e)
        if out.id in store:
            body.append(f"{name(out)}[{index}] = t_{name(out)}")
    for k, n in enumerate(shape):
        lines.append("    " * k + f"for o{k} in range({n}):")
    lines += ["    " * len(shape) + line for line in body]
    return lines


# --------------------------------------------------------------------------------------------
# Source generation
# --------------------------------------------------------------------------------------------

HEADER = [
    "import numpy as np",
    "from numba import carray",
    "from kernels import graph_ops as gk",
    "from kernels import special as sp",
    "from kernels.jit import njit",
    "from kernels.pointers import as_b1_pointer, as_f8_pointer, as_i8_pointer",
]


class _Module:
    """Functions being emitted into one generated module (the main graph and its sub-graphs)."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.consts: list[np.ndarray] = []
        self.count = 0
        self.const_stack: list[set[str]] = []
        self.dying: set[str] = set()  # variables whose single use is the equation being lowered
        self.transposed: dict[str, str] = {}  # 2-D transposes read only by matmul -> source
        self.function_consts: dict[str, list[str]] = {}

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def source(self) -> str:
        return "\n".join(HEADER) + "\n\n\n" + "\n\n\n".join(self.functions) + "\n"


def _emit_function(module: _Module, graph: Graph, fn_name: str, const_params: bool) -> None:
    """Append ``def fn_name(inputs..., consts...)`` computing ``graph`` to ``module``."""
    names: dict[int, str] = {}
    local_consts: set[str] = set()
    module.const_stack.append(local_consts)

    lit_names: dict[int, str] = {}

    def name(atom) -> str:
        if isinstance(atom, Lit):
            if id(atom) in lit_names:
                return lit_names[id(atom)]
            if atom.val.ndim == 0:
                v = atom.val.item()
                if isinstance(v, float) and not np.isfinite(v):
                    return "np.inf" if v > 0 else ("-np.inf" if v < 0 else "np.nan")
                if isinstance(v, bool):
                    return repr(v)
                return repr(v)
            module.consts.append(np.ascontiguousarray(atom.val))
            c = f"c{len(module.consts) - 1}"
            local_consts.add(c)
            lit_names[id(atom)] = c
            return c
        return names.setdefault(atom.id, f"v{len(names)}")

    args = [name(v) for v in graph.inputs]
    body: list[str] = []
    counts: dict[int, int] = {}
    for eqn in graph.eqns:
        for a in eqn.inputs:
            if isinstance(a, Var):
                counts[a.id] = counts.get(a.id, 0) + 1
    for a in graph.outputs:
        if isinstance(a, Var):
            counts[a.id] = counts.get(a.id, 0) + 2
    input_ids = {v.id for v in graph.inputs}
    saved_dying = module.dying
    module.dying = set()
    for eqn in graph.eqns:
        for v in eqn.outputs:
            if counts.get(v.id) == 1 and v.id not in input_ids and v.aval.ndim:
                module.dying.add(name(v))
    saved_transposed = module.transposed
    module.transposed = _matmul_only_transposes(graph, name)
    plan = plan_fusion(graph)
    store, producer = plan_materialization(plan, graph)
    for item in plan:
        eqns = [item[1]] if item[0] == "eqn" else item[2]
        for eqn in eqns:
            outs = [name(v) for v in eqn.outputs]
            comment = format_eqn_rhs(eqn, lambda a: name(a), 4).replace("\n", " ")
            body.append(f"    # {', '.join(outs)} = {' '.join(comment.split())[:200]}")
        if item[0] == "cluster":
            body += ["    " + line for line in emit_cluster(item[1], item[2], name, store, producer)]
            continue
        eqn = item[1]
        ins = [name(a) for a in eqn.inputs]
        outs = [name(v) for v in eqn.outputs]
        body += ["    " + line for line in lower_eqn(eqn, outs, ins, module)]
    result = [name(a) for a in graph.outputs]
    module.const_stack.pop()
    module.dying = saved_dying
    module.transposed = saved_transposed
    # constants are passed in as trailing arguments (never baked into cached machine code)
    const_params = sorted(local_consts, key=lambda c: int(c[1:]))
    # error_model="numpy": x / 0 is inf or nan, as in NumPy; an exception could not leave the
    # model kernel (a C function) and would be lost
    lines = ['@njit(error_model="numpy")', f"def {fn_name}({', '.join(args + const_params)}):", *body]
    lines.append(f"    return ({''.join(o + ', ' for o in result)})")
    module.functions.append("\n".join(lines))
    module.function_consts[fn_name] = const_params


def _matmul_only_transposes(graph: Graph, name) -> dict[str, str]:
    """2-D transposes whose results are read only by 2-D matrix products (and are not outputs)."""
    readers: dict[int, set[str]] = {}
    for eqn in graph.eqns:
        for a in eqn.inputs:
            if isinstance(a, Var):
                kind = eqn.primitive.name
                if kind == "matmul" and any(x.aval.ndim != 2 for x in eqn.inputs):
                    kind = "batched"
                readers.setdefault(a.id, set()).add(kind)
    outputs = {a.id for a in graph.outputs if isinstance(a, Var)}
    found = {}
    for eqn in graph.eqns:
        out = eqn.outputs[0] if eqn.outputs else None
        if (
            eqn.primitive.name == "transpose"
            and out.aval.ndim == 2
            and isinstance(eqn.inputs[0], Var)
            and readers.get(out.id) == {"matmul"}
            and out.id not in outputs
        ):
            found[name(out)] = name(eqn.inputs[0])
    return found


def graph_to_source(graph: Graph, fn_name: str = "compiled") -> tuple[str, list[np.ndarray]]:
    """Python source of a module whose function ``fn_name`` computes ``graph``.

    Array literals become trailing arguments (in order); sub-graphs of ``cond``/``scan`` become
    functions of their own in the same module."""
    module = _Module()
    _emit_function(module, graph, fn_name, True)
    return module.source(), module.consts


def load_source(source: str) -> object:
    """Write ``source`` to its content-addressed file in the cache folder and import it."""
    digest = hashlib.sha256((source + numba.__version__).encode()).hexdigest()[:24]
    module_name = f"numbayes_generated_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    folder = os.path.join(cache_dir(), "generated")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, module_name + ".py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(source)
        os.replace(tmp, path)  # atomic: concurrent processes never see a half-written file
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # Numba's cache loader re-imports the module by name
    spec.loader.exec_module(module)
    return module


def _call_arg(a, aval):
    if aval.ndim == 0:
        return np.asarray(a).item()
    return np.ascontiguousarray(a, dtype=aval.dtype)


def compile_graph(graph: Graph) -> Callable:
    """A callable computing ``graph`` with Numba; returns a list of outputs like eval_graph."""
    from autodiff.passes import optimize

    graph = optimize(graph)
    source, consts = graph_to_source(graph)
    compiled = load_source(source).compiled
    in_avals = [v.aval for v in graph.inputs]
    out_avals = [a.aval for a in graph.outputs]

    def run(*args):
        outs = compiled(*[_call_arg(a, v) for a, v in zip(args, in_avals)], *consts)
        return [np.asarray(o, dtype=a.dtype).reshape(a.shape) for o, a in zip(outs, out_avals)]

    run.source = source
    run.dispatcher = compiled
    run.jit_disabled = JIT_DISABLED
    return run


# --------------------------------------------------------------------------------------------
# The model kernel ABI: int64 logp_grad(double* theta, double* grad, double* logp, void* data)
# --------------------------------------------------------------------------------------------

_POINTER = {"float64": "as_f8_pointer", "int64": "as_i8_pointer", "bool": "as_b1_pointer"}


class LogpGradKernel:
    """A compiled ``theta -> (logp, grad)`` graph exposed as a C-ABI function.

    ``address`` is the function pointer samplers call; :meth:`data_pointer` packs the data
    arrays (and the graph's constants) into the table the kernel reads through its ``void*``.
    """

    def __init__(self, graph: Graph, source: str, module, consts: list[np.ndarray]):
        self.graph = graph
        self.source = source
        self.module = module
        self.consts = consts
        self.cfunc = module.logp_grad
        self.address = self.cfunc.address if not JIT_DISABLED else None
        self.data_avals = [v.aval for v in graph.inputs[1:]]

    def pack_data(self, data: list[np.ndarray]) -> tuple[int, list[np.ndarray]]:
        """``(pointer, keepalive)``: the address table for ``data`` followed by the constants.
        Keep ``keepalive`` referenced as long as the pointer is used."""
        arrays = []
        for x, aval in zip(data, self.data_avals):
            x = np.asarray(x)
            if x.shape != aval.shape:
                raise ValueError(
                    f"data of shape {x.shape} given where the kernel was compiled for {aval.shape}"
                )
            arrays.append(np.ascontiguousarray(np.reshape(x, (1,) if x.ndim == 0 else x.shape),
                                               dtype=aval.dtype))
        arrays += list(self.consts)
        table = np.array([a.ctypes.data for a in arrays] or [0], dtype=np.int64)
        return table.ctypes.data, [table, *arrays]

    def __call__(self, theta: np.ndarray, *data) -> tuple[float, np.ndarray]:
        """Evaluate through the compiled computation (for tests and debugging)."""
        outs = self.module.compiled(
            np.ascontiguousarray(theta, dtype=np.float64),
            *[_call_arg(d, a) for d, a in zip(data, self.data_avals)],
            *self.consts,
        )
        return float(outs[0]), np.asarray(outs[1])


def compile_logp_grad(graph: Graph) -> LogpGradKernel:
    """Compile a graph ``(theta, *data) -> (logp, grad)`` to a C-ABI ``cfunc``.

    The data (and the graph's array constants) are reached through the ``void* data`` argument:
    a table of ``int64`` addresses, one per array, whose shapes and dtypes are fixed by the
    graph.  New data of the same shapes reuses the compiled code.
    """
    from autodiff.passes import optimize

    graph = optimize(graph)
    theta_aval = graph.inputs[0].aval
    if theta_aval.ndim != 1 or graph.out_avals[0].shape != () or graph.out_avals[1] != theta_aval:
        raise ValueError(
            "compile_logp_grad: the graph must map (theta[dim], *data) to (logp[], grad[dim]); "
            f"got inputs {graph.in_avals} and outputs {graph.out_avals}"
        )
    module = _Module()
    _emit_function(module, graph, "compiled", True)
    dim = theta_aval.shape[0]
    data_avals = [v.aval for v in graph.inputs[1:]]
    consts = list(module.consts)
    lines = [
        '@cfunc(LOGP_GRAD_SIG, cache=True, nopython=True, error_model="numpy")'
        if not JIT_DISABLED else "",
        "def logp_grad(theta_ptr, grad_ptr, logp_ptr, data_ptr):",
        f"    theta = carray(theta_ptr, ({dim},))",
        f"    table = carray(as_i8_pointer(data_ptr), ({len(data_avals) + len(consts) or 1},))",
    ]
    args = ["theta"]
    for k, aval in enumerate(data_avals + [_aval_of(c) for c in consts]):
        shape = _shape(aval) if aval.ndim else "(1,)"
        ptr = _POINTER[aval.dtype.name]
        view = f"carray({ptr}(table[{k}]), {shape})"
        lines.append(f"    d{k} = {view}" + ("[0]" if aval.ndim == 0 else ""))
        args.append(f"d{k}")
    lines += [
        f"    out = compiled({', '.join(args)})",
        "    lp = out[0]",
        "    g = out[1]",
        f"    grad = carray(grad_ptr, ({dim},))",
        "    finite = np.isfinite(lp)",
        f"    for i in range({dim}):",
        "        grad[i] = g[i]",
        "        if not np.isfinite(g[i]):",
        "            finite = False",
        "    logp_ptr[0] = lp",
        "    return 0 if finite else 1",
    ]
    module.functions.append("\n".join(line for line in lines if line))
    source = module.source().replace(
        "from numba import carray",
        "from numba import carray, cfunc\nfrom kernels.model_abi import LOGP_GRAD_SIG",
    )
    loaded = load_source(source)
    return LogpGradKernel(graph, source, loaded, consts)


def _aval_of(x: np.ndarray):
    from autodiff.avals import aval_of

    return aval_of(x)
