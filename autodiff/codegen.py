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

import numba
import numpy as np

from autodiff.ir import Graph, Lit, format_eqn_rhs
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


def _lower_elementwise(name, out, ins, in_avals, out_aval, params):
    if name == "polygamma":
        if params["n"] != 1:
            raise LoweringError(f"polygamma of order {params['n']} has no Numba lowering yet")
        fn = "sp.trigamma"
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
        return lines + [f"{out} = np.ascontiguousarray(np.transpose({res}, {back}))"]

    return lower


def _lower_reshape(out, ins, in_avals, out_aval, params):
    if out_aval.ndim == 0:
        return [f"{out} = {ins[0]}.reshape(-1)[0]" if in_avals[0].ndim else f"{out} = {ins[0]}"]
    src = ins[0] if in_avals[0].ndim else f"np.full((1,), {ins[0]})"
    return [f"{out} = np.ascontiguousarray({src}).reshape({_shape(out_aval)})"]


def _lower_gather(out, ins, in_avals, out_aval, params):
    spec = params["spec"]
    if sum(e[0] == "a" for e in spec) > 1 or any(e[0] == "n" for e in spec):
        raise LoweringError("gather with several index arrays or None has no Numba lowering yet")
    arrays = iter(ins[1:])
    parts = []
    for e in spec:
        if e[0] == "s":
            stop = "" if e[2] < 0 else e[2]
            parts.append(f"{e[1]}:{stop}:{e[3]}")
        elif e[0] == "i":
            parts.append(str(e[1]))
        else:
            parts.append(next(arrays))
    expr = f"{ins[0]}[{', '.join(parts)}]"
    if out_aval.ndim == 0:
        return [f"{out} = {expr}"]
    return [f"{out} = np.ascontiguousarray({expr})"]


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
        f"{out} = np.ascontiguousarray(np.transpose({ins[0]}, {p['perm']}))"
    ],
    "broadcast_to": lambda out, ins, ia, oa, p: [
        f"{out} = np.ascontiguousarray(np.broadcast_to("
        + (f"np.full((1,), {ins[0]})" if ia[0].ndim == 0 else ins[0])
        + f", {_shape(oa)}))"
    ],
    "concatenate": lambda out, ins, ia, oa, p: [
        f"{out} = np.concatenate(({''.join(n + ', ' for n in ins)}), axis={p['axis']})"
    ],
    "matmul": lambda out, ins, ia, oa, p: (
        [f"{out} = np.dot(np.ascontiguousarray({ins[0]}), np.ascontiguousarray({ins[1]}))"]
        if ia[0].ndim == 2 and ia[1].ndim == 2
        else _raise(LoweringError("batched matmul has no Numba lowering yet"))
    ),
    "gather": _lower_gather,
}


def _raise(err):
    raise err


def lower_eqn(eqn, out: str, ins: list[str]) -> list[str]:
    name = eqn.primitive.name
    in_avals = [a.aval for a in eqn.inputs]
    out_aval = eqn.outputs[0].aval if eqn.outputs else None
    if eqn.primitive.multiple_results:
        raise LoweringError(f"primitive '{name}' has no Numba lowering yet")
    if name in _UFUNC or name in _SPECIAL or name == "polygamma":
        return _lower_elementwise(name, out, ins, in_avals, out_aval, eqn.params)
    rule = LOWERINGS.get(name)
    if rule is None:
        raise LoweringError(
            f"primitive '{name}' has no Numba lowering yet; run the function uncompiled "
            "(without jit) or express it with supported operations"
        )
    return rule(out, ins, in_avals, out_aval, eqn.params)


# --------------------------------------------------------------------------------------------
# Source generation
# --------------------------------------------------------------------------------------------


def graph_to_source(graph: Graph, fn_name: str = "compiled") -> tuple[str, list[np.ndarray]]:
    """Python source of a function computing ``graph``; array literals become trailing inputs."""
    names: dict[int, str] = {}
    consts: list[np.ndarray] = []

    def name(atom) -> str:
        if isinstance(atom, Lit):
            if atom.val.ndim == 0:
                v = atom.val.item()
                if isinstance(v, float) and not np.isfinite(v):
                    return "np.inf" if v > 0 else ("-np.inf" if v < 0 else "np.nan")
                return repr(v)
            consts.append(atom.val)
            return f"c{len(consts) - 1}"
        return names.setdefault(atom.id, f"v{len(names)}")

    args = [name(v) for v in graph.inputs]
    body: list[str] = []
    for eqn in graph.eqns:
        ins = [name(a) for a in eqn.inputs]
        out = name(eqn.outputs[0])
        comment = format_eqn_rhs(eqn, lambda a: name(a), 4).replace("\n", " ")
        body.append(f"    # {out} = {comment}")
        body += ["    " + line for line in lower_eqn(eqn, out, ins)]
    outs = [name(a) for a in graph.outputs]
    const_args = [f"c{k}" for k in range(len(consts))]
    header = [
        "import numpy as np",
        "from kernels import graph_ops as gk",
        "from kernels import special as sp",
        "from kernels.jit import njit",
        "",
        "",
        "@njit",
        f"def {fn_name}({', '.join(args + const_args)}):",
    ]
    footer = [f"    return ({''.join(o + ', ' for o in outs)})"]
    return "\n".join(header + body + footer) + "\n", consts


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


def compile_graph(graph: Graph) -> Callable:
    """A callable computing ``graph`` with Numba; returns a list of outputs like eval_graph."""
    source, consts = graph_to_source(graph)
    compiled = load_source(source).compiled
    scalar_in = [v.aval.ndim == 0 for v in graph.inputs]
    out_avals = [a.aval for a in graph.outputs]

    def run(*args):
        call_args = [
            (a.item() if np.ndim(a) == 0 else a) if s else np.ascontiguousarray(a)
            for a, s in zip(args, scalar_in)
        ]
        outs = compiled(*call_args, *consts)
        return [np.asarray(o, dtype=a.dtype).reshape(a.shape) for o, a in zip(outs, out_avals)]

    run.source = source
    run.dispatcher = compiled
    run.jit_disabled = JIT_DISABLED
    return run


