"""Graph -> Python source -> Numba: the compiler behind :func:`autodiff.jit` and the model kernels.

* :mod:`~autodiff.codegen.lowering` -- each primitive as lines of NumPy-in-Numba source;
* :mod:`~autodiff.codegen.fusion` -- elementwise chains fused into loops without temporaries;
* :mod:`~autodiff.codegen.emit` -- modules of functions written to the cache folder and loaded
  with Numba's disk cache (:func:`compile_graph`);
* :mod:`~autodiff.codegen.model_kernel` -- the C-ABI ``logp_grad`` kernels samplers call by
  address (:func:`compile_logp_grad`).

A primitive without a lowering raises :class:`LoweringError` naming it.
"""

from autodiff.codegen.emit import compile_graph, graph_to_source, load_source
from autodiff.codegen.fusion import plan_fusion, plan_materialization
from autodiff.codegen.lowering import LOWERINGS, MULTI_LOWERINGS, LoweringError, has_lowering
from autodiff.codegen.model_kernel import LogpGradKernel, compile_logp_grad

__all__ = [
    "LOWERINGS",
    "MULTI_LOWERINGS",
    "LogpGradKernel",
    "LoweringError",
    "compile_graph",
    "compile_logp_grad",
    "graph_to_source",
    "has_lowering",
    "load_source",
    "plan_fusion",
    "plan_materialization",
]
