"""Graph -> Python source -> Numba: the compiler behind :func:`autodiff.jit` and the model kernels.

* :mod:`~autodiff.codegen.fusion` -- elementwise chains fused into loops without temporaries;
* :mod:`~autodiff.codegen.emit` -- modules of functions written to the cache folder and loaded
  with Numba's disk cache (:func:`compile_graph`);
* :mod:`~autodiff.codegen.model_kernel` -- the C-ABI ``logp_grad`` kernels samplers call by
  address (:func:`compile_logp_grad`).

The modules import in one direction, ``fusion <- emit <- model_kernel``.  What each primitive
becomes is not decided here: its ``lower`` rule and, for elementwise primitives, its scalar
template are registered beside its definition in :mod:`autodiff.ops`, written against
:mod:`autodiff.lowering`; the facts the rules read about a graph come from
:func:`autodiff.passes.lowering_facts`.  A primitive without a lowering raises
:class:`LoweringError` naming it.
"""

from autodiff.codegen.emit import compile_graph, graph_to_source, load_source
from autodiff.codegen.fusion import plan_fusion, plan_materialization
from autodiff.codegen.model_kernel import LogpGradKernel, compile_logp_grad
from autodiff.core import REGISTRY
from autodiff.lowering import LoweringError


def has_lowering(name: str) -> bool:
    """Whether the primitive called ``name`` has a Numba lowering."""
    return REGISTRY[name].lower is not None


__all__ = [
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
