"""Source generation: a graph becomes a module of Numba functions, written to the cache folder.

One Python function per graph (and per ``cond``/``scan`` body), one statement per equation with
the printed equation as a comment above it.  The module's text is written to a content-addressed
file (a hash of the source and Numba's version) in the cache folder, imported under a unique
name registered in ``sys.modules`` and compiled with ``njit(cache=True)``, so the next process
that builds the same graph loads machine code from Numba's disk cache instead of compiling.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable

import numba
import numpy as np

from autodiff.codegen.fusion import emit_cluster, plan_fusion, plan_materialization
from autodiff.codegen.lowering import _dtype_src, _shape, lower_eqn
from autodiff.ir import Graph, Lit, Var, format_eqn_rhs
from kernels.jit import JIT_DISABLED, cache_dir

HEADER = [
    "import numpy as np",
    "from numba import carray",
    "from kernels import blas",
    "from kernels import cached_numpy as cn",
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
        # matrix-vector products written with 2-D shapes, (k,) -> (k, 1) -> matmul -> (m, 1) ->
        # (m,): the (k, 1) view -> its 1-D source, and the products whose only reader flattens
        self.vectors: dict[str, str] = {}
        self.flat_products: set[str] = set()
        # scalars reshaped to shape (1,) only to be a scatter's update: reshape -> scalar name
        self.unit_scalars: dict[str, str] = {}
        self.function_consts: dict[str, list[str]] = {}
        # id of an array literal to be replaced by a preallocated buffer the caller provides
        # (the model kernel's gradient output), with that buffer's name
        self.output_buffer: tuple[int, str] | None = None
        # float64 words of the workspace ``ws_`` handed out so far, when the function being
        # emitted takes its arrays from a workspace the caller preallocated; None: allocate
        self.workspace: int | None = None

    def alloc(self, aval) -> str:
        """Source of a new array for ``aval``: a view of the next free slice of the workspace
        when there is one (float64 arrays), else an allocation."""
        if self.workspace is None or aval.dtype != np.float64 or aval.size == 0:
            return f"cn.empty({_shape(aval)}, {_dtype_src(aval)})"
        start = self.workspace
        self.workspace += aval.size
        view = f"ws_[{start}:{self.workspace}]"
        return view if aval.ndim == 1 else f"cn.reshape({view}, {_shape(aval)})"

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def source(self) -> str:
        return "\n".join(HEADER) + "\n\n\n" + "\n\n\n".join(self.functions) + "\n"


def emit_function(module: _Module, graph: Graph, fn_name: str) -> None:
    """Append ``def fn_name(inputs..., consts...)`` computing ``graph`` to ``module``."""
    saved, module.workspace = module.workspace, None  # a function of its own allocates
    args, const_params, body, result = emit_body(module, graph)
    module.workspace = saved
    # error_model="numpy": x / 0 is inf or nan, as in NumPy; an exception could not leave the
    # model kernel (a C function) and would be lost
    lines = ['@njit(error_model="numpy")', f"def {fn_name}({', '.join(args + const_params)}):",
             *body, f"    return ({''.join(o + ', ' for o in result)})"]
    module.functions.append("\n".join(lines))
    module.function_consts[fn_name] = const_params


def emit_body(module: _Module, graph: Graph) -> tuple[list[str], list[str], list[str], list[str]]:
    """The statements computing ``graph``: ``(input names, constant names, body lines indented
    by four spaces, output names)``.  Array literals become constants ``c<k>`` of the module,
    which the function holding the body must take as (or bind to) those names; sub-graphs of
    ``cond``/``scan`` become functions of their own in the module."""
    names: dict[int, str] = {}
    local_consts: set[str] = set()
    module.const_stack.append(local_consts)

    lit_names: dict[int, str] = {}

    def name(atom) -> str:
        if isinstance(atom, Lit):
            if module.output_buffer and id(atom) == module.output_buffer[0]:
                module.dying.add(module.output_buffer[1])  # written in place, never copied
                return module.output_buffer[1]
            if id(atom) in lit_names:
                return lit_names[id(atom)]
            if atom.val.ndim == 0:
                v = atom.val.item()
                if isinstance(v, float) and not np.isfinite(v):
                    return "np.inf" if v > 0 else ("-np.inf" if v < 0 else "np.nan")
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
    saved = module.transposed, module.vectors, module.flat_products, module.unit_scalars
    module.transposed = _matmul_only_transposes(graph, name)
    module.vectors, module.flat_products = _matrix_vector_products(graph, name)
    module.unit_scalars = _scalar_scatter_updates(graph, name)
    plan = plan_fusion(graph)
    store, producer = plan_materialization(plan, graph)
    for item in plan:
        eqns = [item[1]] if item[0] == "eqn" else item[2]
        for eqn in eqns:
            outs = [name(v) for v in eqn.outputs]
            comment = format_eqn_rhs(eqn, lambda a: name(a), 4).replace("\n", " ")
            body.append(f"    # {', '.join(outs)} = {' '.join(comment.split())[:200]}")
        if item[0] == "cluster":
            body += ["    " + line for line in emit_cluster(item[1], item[2], name, store, producer,
                                                           module.alloc, module.dying)]
            continue
        eqn = item[1]
        ins = [name(a) for a in eqn.inputs]
        outs = [name(v) for v in eqn.outputs]
        body += ["    " + line for line in lower_eqn(eqn, outs, ins, module)]
    result = [name(a) for a in graph.outputs]
    module.const_stack.pop()
    module.dying = saved_dying
    module.transposed, module.vectors, module.flat_products, module.unit_scalars = saved
    # constants are passed in as trailing arguments (never baked into cached machine code)
    const_params = sorted(local_consts, key=lambda c: int(c[1:]))
    return args, const_params, body, result


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


def _readers(graph: Graph) -> tuple[dict[int, list], set[int]]:
    """Each variable's readers as ``(equation, input position)`` pairs, and the ids of the
    graph's output variables."""
    readers: dict[int, list] = {}
    for e in graph.eqns:
        for k, a in enumerate(e.inputs):
            if isinstance(a, Var):
                readers.setdefault(a.id, []).append((e, k))
    return readers, {a.id for a in graph.outputs if isinstance(a, Var)}


def _scalar_scatter_updates(graph: Graph, name) -> dict[str, str]:
    """Scalars reshaped to an all-ones shape whose only readers are scatters that take them as
    their update (reverse mode scatters each scalar parameter's gradient into the gradient vector
    that way).  Returns reshape name -> scalar name: the scatter adds the scalar itself, and the
    one-element array (an allocation per evaluation) is never built.  Only scatters into arrays
    of more than one element qualify: those are never hoisted into a fused loop's preamble (see
    :func:`autodiff.codegen.fusion.plan_fusion`), where they would be lowered without this map."""
    readers, outputs = _readers(graph)
    found = {}
    for e in graph.eqns:
        if e.primitive.name != "reshape" or e.inputs[0].aval.ndim != 0:
            continue
        out = e.outputs[0]
        users = readers.get(out.id, [])
        if out.id in outputs or not users:
            continue
        if all(r.primitive.name in ("scatter", "scatter_add") and k == 1
               and r.outputs[0].aval.size > 1 and r.outputs[0].aval.dtype == out.aval.dtype
               for r, k in users):
            found[name(out)] = name(e.inputs[0])
    return found


def _matrix_vector_products(graph: Graph, name) -> tuple[dict[str, str], set[str]]:
    """Matrix-vector products that the graph spells with 2-D shapes (``A @ x`` with a 1-D ``x``
    is traced as reshape to (k, 1), matmul, reshape to (m,)).  Returns the (k, 1) or (1, k)
    reshapes read only as the vector of such products (name -> 1-D source name), and the
    products read only by a reshape to 1-D (whose result is then the product itself), so the
    generated code calls BLAS on the 1-D arrays with no reshapes around it."""
    producer = {v.id: e for e in graph.eqns for v in e.outputs}
    readers, outputs = _readers(graph)

    def vector_position(e) -> int | None:
        if e.primitive.name != "matmul" or any(x.aval.ndim != 2 for x in e.inputs):
            return None
        a, b = (x.aval for x in e.inputs)
        return 1 if b.shape[1] == 1 else (0 if a.shape[0] == 1 else None)

    vectors: dict[str, str] = {}
    flat: set[str] = set()
    for e in graph.eqns:
        pos = vector_position(e)
        if pos is None:
            continue
        v = e.inputs[pos]
        p = producer.get(v.id) if isinstance(v, Var) else None
        if (p is not None and p.primitive.name == "reshape" and isinstance(p.inputs[0], Var)
                and p.inputs[0].aval.ndim == 1 and v.id not in outputs
                and all(k == vector_position(r) for r, k in readers[v.id])):
            vectors[name(v)] = name(p.inputs[0])
        out = e.outputs[0]
        users = readers.get(out.id, [])
        if (out.id not in outputs and len(users) == 1 and users[0][0].primitive.name == "reshape"
                and users[0][0].outputs[0].aval.ndim == 1):
            flat.add(name(out))
    return vectors, flat


def graph_to_source(graph: Graph, fn_name: str = "compiled") -> tuple[str, list[np.ndarray]]:
    """Python source of a module whose function ``fn_name`` computes ``graph``.

    Array literals become trailing arguments (in order); sub-graphs of ``cond``/``scan`` become
    functions of their own in the same module."""
    module = _Module()
    emit_function(module, graph, fn_name)
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


