"""Source generation: a graph becomes a module of Numba functions, written to the cache folder.

One Python function per graph (and per ``cond``/``scan`` body), one statement per equation with
the printed equation as a comment above it.  The module's text is written to a content-addressed
file (a hash of the source and Numba's version) in the cache folder, imported under a unique
name registered in ``sys.modules`` and compiled with ``njit(cache=True)``, so the next process
that builds the same graph loads machine code from Numba's disk cache instead of compiling.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import types
import warnings
from collections.abc import Callable

import numba
import numpy as np

from autodiff.codegen.fusion import emit_cluster, plan_fusion, plan_materialization
from autodiff.ir import Atom, Eqn, Graph, Lit, format_eqn_rhs
from autodiff.lowering import LoweringContext, LoweringError, LoweringFacts, dtype_src, shape_src
from autodiff.passes import lowering_facts, optimize
from kernels.cache import CacheRepairWarning, cache_dir, check_folder
from kernels.jit import JIT_DISABLED

__all__ = [
    "HEADER",
    "FunctionScope",
    "Module",
    "call_arg",
    "compile_graph",
    "emit_body",
    "emit_function",
    "graph_to_source",
    "load_source",
    "lower_eqn",
]

HEADER = [
    "import numpy as np",
    "from numba import carray",
    "from kernels import blas",
    "from kernels import cached_numpy as cn",
    "from kernels import graph_ops as gk",
    "from kernels import ode_checkpoints as checkpoints",
    "from kernels import ode_common as ode",
    "from kernels import ode_dopri5 as dopri5",
    "from kernels import ode_rosenbrock as rosenbrock",
    "from kernels import special as sp",
    "from kernels import vector_math as vm",
    "from kernels.jit import njit",
    "from kernels.pointers import as_b1_pointer, as_f8_pointer, as_i8_pointer",
]


class Module:
    """Functions being emitted into one generated module (the main graph and its sub-graphs)."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.consts: list[np.ndarray] = []
        self.count = 0
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
            return f"cn.empty({shape_src(aval)}, {dtype_src(aval)})"
        start = self.workspace
        self.workspace += aval.size
        view = f"ws_[{start}:{self.workspace}]"
        return view if aval.ndim == 1 else f"cn.reshape({view}, {shape_src(aval)})"

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def source(self) -> str:
        return "\n".join(HEADER) + "\n\n\n" + "\n\n\n".join(self.functions) + "\n"


class FunctionScope:
    """One function being written: the names of its values and the constants it takes.

    Variables are named ``v0, v1, ...`` in the order the source first mentions them; array
    literals become constants ``c<k>`` of the module, which the function takes as trailing
    parameters (never baked into cached machine code).  This is what lowering rules see of the
    function (:class:`autodiff.lowering.FunctionScope`).
    """

    def __init__(self, module: Module, graph: Graph, names: dict[int, str] | None = None):
        self.module = module
        self.facts: LoweringFacts = lowering_facts(graph)
        self.consts: set[str] = set()  # the module constants this function must take
        # shared with another scope when two graphs' statements go into one function
        self._names: dict[int, str] = {} if names is None else names
        self._literal_names: dict[int, str] = {}

    def name(self, atom: Atom) -> str:
        if not isinstance(atom, Lit):
            return self._names.setdefault(atom.id, f"v{len(self._names)}")
        if self._is_output_buffer(atom):
            return self.module.output_buffer[1]
        if id(atom) in self._literal_names:
            return self._literal_names[id(atom)]
        if atom.val.ndim == 0:
            v = atom.val.item()
            if isinstance(v, float) and not np.isfinite(v):
                return "np.inf" if v > 0 else ("-np.inf" if v < 0 else "np.nan")
            return repr(v)
        self.module.consts.append(np.ascontiguousarray(atom.val))
        c = f"c{len(self.module.consts) - 1}"
        self.consts.add(c)
        self._literal_names[id(atom)] = c
        return c

    def alloc(self, aval) -> str:
        return self.module.alloc(aval)

    @property
    def in_workspace(self) -> bool:
        return self.module.workspace is not None

    def may_overwrite(self, atom: Atom) -> bool:
        """The output buffer is written in place; so is an array its one reader may reuse."""
        if isinstance(atom, Lit):
            return self._is_output_buffer(atom)
        return atom.id in self.facts.read_once

    def emit_subgraph(self, graph: Graph, prefix: str, *, reuse_workspace: bool = False,
                      copy_results: bool = True) -> tuple[str, list[str]]:
        """Emit ``graph`` as a function of the module; returns its name and the arguments it
        takes after its inputs: the constants it needs, which this function passes on and
        therefore takes as parameters itself, preceded, with ``reuse_workspace`` when this
        function has a workspace, by a slice of that workspace for the sub-function's arrays.

        A loop body called at every step then allocates no intermediate (a scan step of a
        2-state HMM allocated nine small arrays). Its results are copies, unless
        ``copy_results`` is false: then they may be views of the workspace (or of its inputs),
        which the caller copies out before the next call, and the loop allocates nothing."""
        fn_name = self.module.fresh(prefix)
        with_workspace = reuse_workspace and self.module.workspace is not None
        # transformed bodies (a scan's VJP) carry what reverse mode leaves behind (x * 1.0, ...):
        # the top-level graph's optimize() does not look inside its sub-graphs
        size = emit_function(self.module, optimize(graph), fn_name, workspace=with_workspace,
                             copy_results=copy_results)
        consts = self.module.function_consts[fn_name]
        self.consts.update(consts)
        if not size:
            return fn_name, consts
        start = self.module.workspace
        self.module.workspace += size
        return fn_name, [f"ws_[{start}:{start + size}]", *consts]

    def emit_subgraph_in_workspace(self, graph: Graph, prefix: str) -> tuple[str, list[str], int]:
        """Like :meth:`emit_subgraph`, for a function called many times in a loop (an ODE
        right-hand side): it takes a workspace ``ws_`` after its inputs, and its float64
        intermediates and results are slices of it instead of allocations.  Returns its name,
        its constants and the workspace's size in float64 words (0: it takes no ``ws_``); the
        caller allocates the workspace once and copies the results out before the next call."""
        fn_name = self.module.fresh(prefix)
        size = emit_function(self.module, graph, fn_name, workspace=True, copy_results=False)
        consts = self.module.function_consts[fn_name]
        self.consts.update(consts)
        return fn_name, consts, size

    def emit_subgraph_bodies(self, graphs: list[Graph]
                             ) -> tuple[list[tuple[list[str], list[str], list[str]]], list[str],
                                        int]:
        """The statements computing each of ``graphs`` with their float64 arrays in one
        workspace ``ws_`` (disjoint slices) and one naming of variables (a variable shared by
        two of them has one name), for a lowering rule that writes them into a function of its
        own (e.g. one graph before a loop and one inside): per graph ``(input names, body lines
        indented by four spaces, output names)``, then the constants they take and the
        workspace's size in float64 words.  Register the function with :meth:`add_function`."""
        saved, self.module.workspace = self.module.workspace, 0
        names: dict[int, str] = {}
        parts, consts = [], set()
        try:
            for graph in graphs:
                args, graph_consts, body, result = emit_body(self.module, graph, names)
                parts.append((args, body, result))
                consts.update(graph_consts)
            size = self.module.workspace
        finally:
            self.module.workspace = saved
        return parts, sorted(consts, key=lambda c: int(c[1:])), size

    def add_function(self, prefix: str, params: list[str], body: list[str],
                     consts: list[str]) -> str:
        """Append ``def <name>(*params, *consts)`` with ``body`` (lines indented by four
        spaces) to the module; returns its name.  This function takes ``consts`` too, to pass
        them on."""
        fn_name = self.module.fresh(prefix)
        lines = ['@njit(error_model="numpy")', f"def {fn_name}({', '.join(params + consts)}):",
                 *body]
        self.module.functions.append("\n".join(lines))
        self.module.function_consts[fn_name] = consts
        self.consts.update(consts)
        return fn_name

    def _is_output_buffer(self, atom: Lit) -> bool:
        return self.module.output_buffer is not None and id(atom) == self.module.output_buffer[0]


def lower_eqn(ctx: LoweringContext) -> list[str]:
    """The source lines of one equation, from its primitive's lowering rule."""
    rule = ctx.eqn.primitive.lower
    if rule is None:
        raise LoweringError(
            f"primitive '{ctx.eqn.primitive.name}' has no Numba lowering yet; run the function "
            "uncompiled (without jit) or express it with supported operations"
        )
    return rule(ctx)


def emit_function(module: Module, graph: Graph, fn_name: str, *, workspace: bool = False,
                  copy_results: bool = True) -> int:
    """Append ``def fn_name(inputs..., consts...)`` computing ``graph`` to ``module``.

    With ``workspace``, its float64 intermediates are slices of a parameter ``ws_`` placed
    before the constants (when it needs any), and the arrays it returns are copies, since the
    caller hands it the same workspace again -- unless ``copy_results`` is false, when the
    caller copies them out itself before the next call.  Returns the workspace's size in
    float64 words (0: no ``ws_`` parameter).
    """
    saved, module.workspace = module.workspace, (0 if workspace else None)
    args, const_params, body, result = emit_body(module, graph)
    size = module.workspace or 0
    module.workspace = saved
    if size and copy_results:  # an input is the caller's array, not in the workspace
        inputs = {v.id for v in graph.inputs}
        result = [f"{o}.copy()" if atom.aval.ndim and getattr(atom, "id", None) not in inputs
                  else o for o, atom in zip(result, graph.outputs)]
    params = args + (["ws_"] if size else []) + const_params
    # error_model="numpy": x / 0 is inf or nan, as in NumPy; an exception could not leave the
    # model kernel (a C function) and would be lost
    lines = ['@njit(error_model="numpy")', f"def {fn_name}({', '.join(params)}):",
             *body, f"    return ({''.join(o + ', ' for o in result)})"]
    module.functions.append("\n".join(lines))
    module.function_consts[fn_name] = const_params
    return size


def emit_body(module: Module, graph: Graph, names: dict[int, str] | None = None
              ) -> tuple[list[str], list[str], list[str], list[str]]:
    """The statements computing ``graph``: ``(input names, constant names, body lines indented
    by four spaces, output names)``.  Array literals become constants ``c<k>`` of the module,
    which the function holding the body must take as (or bind to) those names; sub-graphs of
    ``cond``/``scan`` become functions of their own in the module.  ``names`` (var id -> name),
    shared by graphs emitted into one function, names a variable alike in all of them."""
    scope = FunctionScope(module, graph, names)
    name = scope.name
    args = [name(v) for v in graph.inputs]
    body: list[str] = []
    plan = plan_fusion(graph)
    store, producer = plan_materialization(plan, graph)
    for item in plan:
        eqns = [item[1]] if item[0] == "eqn" else item[2]
        for eqn in eqns:
            body.append("    # " + _comment(eqn, name))
        if item[0] == "cluster":
            body += ["    " + line for line in emit_cluster(item[1], item[2], name, store, producer,
                                                           scope.alloc, scope.may_overwrite)]
            continue
        eqn = item[1]
        ctx = LoweringContext(eqn, [name(v) for v in eqn.outputs], [name(a) for a in eqn.inputs],
                              scope)
        body += ["    " + line for line in lower_eqn(ctx)]
    result = [name(a) for a in graph.outputs]
    const_params = sorted(scope.consts, key=lambda c: int(c[1:]))
    return args, const_params, body, result


def _comment(eqn: Eqn, name) -> str:
    """The printed equation, on one line of at most 200 characters after the results."""
    outs = ", ".join(name(v) for v in eqn.outputs)
    rhs = format_eqn_rhs(eqn, name, 4).replace("\n", " ")
    return f"{outs} = {' '.join(rhs.split())[:200]}"


def graph_to_source(graph: Graph, fn_name: str = "compiled") -> tuple[str, list[np.ndarray]]:
    """Python source of a module whose function ``fn_name`` computes ``graph``.

    Array literals become trailing arguments (in order); sub-graphs of ``cond``/``scan`` become
    functions of their own in the same module."""
    module = Module()
    emit_function(module, graph, fn_name)
    return module.source(), module.consts


def load_source(source: str) -> object:
    """Write ``source`` to its content-addressed file in the cache folder and import it.

    The file is named after a hash of the source (and Numba's version); a file already there is
    used only if it holds exactly ``source``, and otherwise (truncated, garbled, replaced by
    someone else's code) it is rewritten, with a :class:`kernels.cache.CacheRepairWarning`.
    What runs is ``source`` itself, compiled from memory under the file's name (which Numba's
    disk cache needs), never what the file holds at import time.
    """
    digest = hashlib.sha256((source + numba.__version__).encode()).hexdigest()[:24]
    module_name = f"numbayes_generated_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    folder = os.path.join(cache_dir(), "generated")
    check_folder(folder)
    path = os.path.join(folder, module_name + ".py")
    if not _holds(path, source):
        if os.path.exists(path):
            warnings.warn(f"the generated model source {path} did not hold the code its name "
                          f"stands for (damaged or replaced); it was written again",
                          CacheRepairWarning, stacklevel=2)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "w") as f:
            f.write(source)
        os.replace(tmp, path)  # atomic: concurrent processes never see a half-written file
    module = types.ModuleType(module_name)
    module.__file__ = path
    sys.modules[module_name] = module  # Numba's cache loader looks the module up by name
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _holds(path: str, source: str) -> bool:
    """Whether the file at ``path`` exists and holds exactly ``source``."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read() == source
    except (FileNotFoundError, UnicodeDecodeError):
        return False


def call_arg(a, aval):
    """``a`` as the compiled function takes it: a Python scalar, or a contiguous array."""
    if aval.ndim == 0:
        return np.asarray(a).item()
    return np.ascontiguousarray(a, dtype=aval.dtype)


def compile_graph(graph: Graph) -> Callable:
    """A callable computing ``graph`` with Numba; returns a list of outputs like eval_graph."""
    graph = optimize(graph)
    source, consts = graph_to_source(graph)
    compiled = load_source(source).compiled
    in_avals = [v.aval for v in graph.inputs]
    out_avals = [a.aval for a in graph.outputs]

    def run(*args):
        outs = compiled(*[call_arg(a, v) for a, v in zip(args, in_avals)], *consts)
        return [np.asarray(o, dtype=a.dtype).reshape(a.shape) for o, a in zip(outs, out_avals)]

    run.source = source
    run.dispatcher = compiled
    run.jit_disabled = JIT_DISABLED
    return run


