"""The model kernel ABI: ``int64 logp_grad(double* theta, double* grad, double* logp, void* data)``.

:func:`compile_logp_grad` turns a graph ``(theta, *data) -> (logp, grad)`` into a C-ABI Numba
``cfunc`` that samplers call by address; the data (and the graph's array constants) are reached
through ``void* data``, a table of array addresses, never baked into the machine code.
"""

from __future__ import annotations

import numpy as np

from autodiff.codegen.emit import _call_arg, _Module, emit_function, load_source
from autodiff.codegen.lowering import _shape
from autodiff.ir import Graph
from kernels.jit import JIT_DISABLED

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
    emit_function(module, graph, "compiled")
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

