"""The model kernel ABI: ``int64 logp_grad(double* theta, double* grad, double* logp, void* data)``.

:func:`compile_logp_grad` turns a graph ``(theta, *data) -> (logp, grad)`` into a C-ABI Numba
``cfunc`` that samplers call by address; the data (and the graph's array constants) are reached
through ``void* data``, a table of array addresses, never baked into the machine code.

Values that depend on the data only (``gammaln(y + 1)``, ``log(sigma)``, a data-only sum) are computed
once per binding of the data, not at every call: :func:`autodiff.hoisting.hoist_data_terms`
splits them off into a prelude that :meth:`LogpGradKernel.pack_data_for_chains` evaluates with
NumPy when it packs the table (so new data, packed anew, get their own), and the compiled body
reads them from the table like data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autodiff.avals import aval_of
from autodiff.codegen.emit import Module, call_arg, emit_body, load_source
from autodiff.hoisting import hoist_data_terms
from autodiff.ir import Graph, Lit, eval_graph
from autodiff.lowering import shape_src
from autodiff.passes import optimize
from kernels import model_abi
from kernels.jit import JIT_DISABLED

_VIEW = {"float64": "f8_view", "int64": "i8_view", "bool": "b1_view"}


class LogpGradKernel:
    """A compiled ``theta -> (logp, grad)`` graph exposed as a C-ABI function.

    ``address`` is the function pointer samplers call; :meth:`pack_data` packs the data
    arrays, the graph's constants and a workspace into the table the kernel reads through its
    ``void*``.  The workspace (``workspace_size`` doubles) holds the kernel's intermediate
    arrays, so an evaluation allocates nothing; it is written by every call, so one table must
    not be used by two threads at once: :meth:`pack_data_for_chains` makes one per chain.
    ``prelude`` computes the hoisted data-only values from the data (``graph`` reads them as
    inputs after the data); they are evaluated whenever data are packed.
    """

    def __init__(self, graph: Graph, source: str, module, consts: list[np.ndarray],
                 workspace_size: int = 0, prelude: Graph | None = None):
        self.workspace_size = workspace_size
        self.graph = graph
        self.source = source
        self.module = module
        self.consts = consts
        self.cfunc = module.logp_grad
        self.address = self.cfunc.address if not JIT_DISABLED else None
        self.prelude = prelude if prelude is not None else Graph(graph.inputs[1:], [], [])
        self.data_avals = [v.aval for v in self.prelude.inputs]
        self.hoisted_avals = [v.aval for v in self.prelude.outputs]

    def hoisted_values(self, data: list[np.ndarray]) -> list[np.ndarray]:
        """The hoisted data-only values for ``data`` (the prelude evaluated with NumPy)."""
        if not self.prelude.outputs:
            return []
        with np.errstate(all="ignore"):  # as in the compiled code: inf and nan, no warnings
            values = eval_graph(self.prelude, *[np.asarray(x, dtype=a.dtype)
                                                for x, a in zip(data, self.data_avals)])
        return [np.asarray(v, dtype=a.dtype) for v, a in zip(values, self.hoisted_avals)]

    def pack_data(self, data: list[np.ndarray]) -> tuple[int, list[np.ndarray]]:
        """``(pointer, keepalive)``: the address table for ``data``, the constants and a
        workspace. Keep ``keepalive`` referenced as long as the pointer is used."""
        pointers, keepalive = self.pack_data_for_chains(data, 1)
        return pointers[0], keepalive

    def pack_data_for_chains(self, data: list[np.ndarray], n: int
                             ) -> tuple[list[int], list[np.ndarray]]:
        """``(pointers, keepalive)``: ``n`` address tables that share ``data`` and the constants
        but each have a workspace of their own, so ``n`` threads can evaluate at once."""
        arrays = []
        for x, aval in zip(data, self.data_avals):
            x = np.asarray(x)
            if x.shape != aval.shape:
                raise ValueError(
                    f"data of shape {x.shape} given where the kernel was compiled for {aval.shape}"
                )
            arrays.append(np.ascontiguousarray(np.reshape(x, (1,) if x.ndim == 0 else x.shape),
                                               dtype=aval.dtype))
        arrays += [np.ascontiguousarray(np.reshape(h, (1,) if h.ndim == 0 else h.shape))
                   for h in self.hoisted_values(data)]
        arrays += list(self.consts)
        pointers, keepalive = [], list(arrays)
        for _ in range(n):
            own = [np.empty(self.workspace_size)] if self.workspace_size else []
            table = np.array([a.ctypes.data for a in arrays + own] or [0], dtype=np.int64)
            pointers.append(table.ctypes.data)
            keepalive += [table, *own]
        return pointers, keepalive

    def __call__(self, theta: np.ndarray, *data) -> tuple[float, np.ndarray]:
        """``(logp, grad)`` at ``theta`` through the C function (for Python callers and tests)."""
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        if JIT_DISABLED:
            hoisted = self.hoisted_values(list(data))
            outs = self.module.compiled(
                theta, *[call_arg(d, a) for d, a in zip(data, self.data_avals)],
                *[call_arg(h, a) for h, a in zip(hoisted, self.hoisted_avals)], *self.consts
            )
            return float(outs[0]), np.asarray(outs[1], dtype=np.float64)
        pointer, keepalive = self.pack_data(list(data))
        grad = np.empty_like(theta)
        _, logp = model_abi.logp_grad(self.address, pointer, theta, grad)
        del keepalive
        return float(logp), grad


def compile_logp_grad(graph: Graph, refilled: Sequence[int] = ()) -> LogpGradKernel:
    """Compile a graph ``(theta, *data) -> (logp, grad)`` to a C-ABI ``cfunc``.

    The data (and the graph's array constants, the hoisted data-only values and the workspace)
    are reached through the ``void* data`` argument: a table of ``int64`` addresses, one per
    array, whose shapes and dtypes are fixed by the graph.  New data of the same shapes reuses
    the compiled code.  ``refilled``: positions among the data (0 is the first input after
    ``theta``) of arrays the caller rewrites in place between calls through one table (SVI's
    noise); values computed from them are not hoisted (the others are computed when the table
    is packed, so rewriting those arrays in place would go unseen).
    """
    graph = optimize(graph)
    prelude, graph = hoist_data_terms(graph, refilled)
    theta_aval = graph.inputs[0].aval
    if theta_aval.ndim != 1 or graph.out_avals[0].shape != () or graph.out_avals[1] != theta_aval:
        raise ValueError(
            "compile_logp_grad: the graph must map (theta[dim], *data) to (logp[], grad[dim]); "
            f"got inputs {graph.in_avals} and outputs {graph.out_avals}"
        )
    module = Module()
    module.workspace = 0  # intermediate float64 arrays become slices of a workspace
    zeros = _gradient_accumulator(graph)
    if zeros is not None:
        module.output_buffer = (id(zeros), "grad_")
    args, const_params, body, result = emit_body(module, graph)
    workspace = module.workspace
    module.workspace = None
    dim = theta_aval.shape[0]
    zero_fill = [f"    grad_ = cn.zeros((np.int64({dim}),), np.float64)"] if zeros is not None else []
    data_avals = [v.aval for v in graph.inputs[1:]]
    consts = list(module.consts)
    # the plain function: what runs when JIT is disabled (Numba compiles it only if called)
    module.functions.append("\n".join([
        '@njit(error_model="numpy")', f"def compiled({', '.join(args + const_params)}):",
        *zero_fill, f"    ws_ = cn.empty((np.int64({workspace}),), np.float64)", *body,
        f"    return ({result[0]}, {result[1]})"]))
    # the C function holds the same body, so Numba compiles one function per model, not two
    entries = max(1, len(data_avals) + len(consts) + (1 if workspace else 0))
    lines = [
        '@cfunc(LOGP_GRAD_SIG, cache=True, nopython=True, error_model="numpy")'
        if not JIT_DISABLED else "",
        "def logp_grad(theta_ptr, grad_ptr, logp_ptr, data_ptr):",
        f"    {args[0]} = cn.f8_view(theta_ptr, (np.int64({dim}),))",
        f"    table_ = cn.i8_view(data_ptr, (np.int64({entries}),))",
    ]
    bound = args[1:] + [f"c{k}" for k in range(len(consts))]
    for k, (target, aval) in enumerate(zip(bound, data_avals + [aval_of(c) for c in consts])):
        shape = shape_src(aval) if aval.ndim else "(np.int64(1),)"
        view = f"cn.{_VIEW[aval.dtype.name]}(table_[{k}], {shape})"
        lines.append(f"    {target} = {view}" + ("[0]" if aval.ndim == 0 else ""))
    if workspace:
        lines.append(f"    ws_ = cn.f8_view(table_[{len(bound)}], (np.int64({workspace}),))")
    lines.append(f"    grad_ = cn.f8_view(grad_ptr, (np.int64({dim}),))")
    if zeros is not None:  # the gradient accumulates directly in the caller's buffer
        lines += [f"    for i_ in range({dim}):", "        grad_[i_] = 0.0"]
    lines += [
        *body,
        f"    finite_ = np.isfinite({result[0]})",
        f"    for i_ in range({dim}):",
        f"        grad_[i_] = {result[1]}[i_]",
        "        if not np.isfinite(grad_[i_]):",
        "            finite_ = False",
        f"    logp_ptr[0] = {result[0]}",
        "    return 0 if finite_ else 1",
    ]
    module.functions.append("\n".join(line for line in lines if line))
    source = module.source().replace(
        "from numba import carray",
        "from numba import carray, cfunc\nfrom kernels.model_abi import LOGP_GRAD_SIG",
    )
    loaded = load_source(source)
    return LogpGradKernel(graph, source, loaded, consts, workspace, prelude)


def _gradient_accumulator(graph: Graph):
    """The zero array literal that the gradient is scattered into, if it can be the output
    buffer itself: of the gradient's shape, used once, by a scatter (as the operand written to).
    Reverse mode builds a gradient that way (zeros, then one scatter-add per parameter block),
    so writing into the caller's buffer saves an allocation and a copy per evaluation."""
    candidates = [
        a for eqn in graph.eqns for k, a in enumerate(eqn.inputs)
        if isinstance(a, Lit) and k == 0 and eqn.primitive.name in ("scatter_add", "scatter")
        and a.val.shape == graph.inputs[0].aval.shape and a.val.dtype == np.float64
        and not a.val.any()
    ]
    usable = [a for a in candidates if sum(b is a for b in graph.reads()) == 1]
    return usable[0] if len(usable) == 1 else None
