"""Differentiable arrays: forward and reverse mode to any order, ``vmap``, staging to graphs.

>>> import autodiff
>>> import autodiff.numpy as anp
>>> f = lambda x: anp.sum(anp.where(x > 0, x, x / (1 + anp.exp(-x))))
>>> autodiff.grad(f)(anp.array([2.0, -2.0]))
array([ 1.        , -0.09078425])

The public transformations: :func:`grad`, :func:`value_and_grad`, :func:`jvp`, :func:`vjp`,
:func:`jacfwd`, :func:`jacrev`, :func:`hessian`, :func:`vmap`, :func:`make_graph`; structured
control flow :func:`cond`, :func:`scan`, :func:`fori_loop`; ODE solutions :func:`odeint`.  See :mod:`autodiff.core` for how
they nest.
"""

from autodiff import array as _array
from autodiff import ops as _ops  # noqa: F401  (registers every primitive)
from autodiff.batching import vmap
from autodiff.core import ConcretizationError, LeakedTracerError, Primitive, Tracer
from autodiff.forward import jvp
from autodiff.ir import Graph, eval_graph, typecheck
from autodiff.jacobians import hessian, jacfwd, jacrev
from autodiff.jit import jit
from autodiff.ops.control_flow import cond, fori_loop, scan
from autodiff.ops.ode import ODESolveError, odeint
from autodiff.reverse import grad, value_and_grad, vjp
from autodiff.staging import make_graph
from autodiff.tree import tree_flatten, tree_map, tree_unflatten

_array.install()

__all__ = [
    "ConcretizationError",
    "Graph",
    "LeakedTracerError",
    "ODESolveError",
    "Primitive",
    "Tracer",
    "cond",
    "eval_graph",
    "fori_loop",
    "grad",
    "hessian",
    "jacfwd",
    "jacrev",
    "jit",
    "jvp",
    "make_graph",
    "odeint",
    "scan",
    "tree_flatten",
    "tree_map",
    "tree_unflatten",
    "typecheck",
    "value_and_grad",
    "vjp",
    "vmap",
]
