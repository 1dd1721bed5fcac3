"""Staging: run a Python function on abstract values and record the operations as a Graph.

The staging interpreter gives each input a :class:`StagingTracer` that knows only its shape and
dtype.  Every primitive applied to such tracers is recorded as an equation; constants it meets
(NumPy arrays, Python numbers) become literals, and values of enclosing transformations become
extra graph inputs (``trace_to_graph`` returns them, so control-flow primitives can pass them in).
Python control flow on staged values is impossible: ``bool()`` explains the structured
alternatives (``where``, ``cond``, ``scan``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from autodiff.avals import ShapedArray
from autodiff.core import Primitive, Trace, Tracer, get_aval, new_main
from autodiff.ir import Eqn, Graph, Lit, Var
from autodiff.tree import tree_flatten, tree_unflatten


class StagingTracer(Tracer):
    __slots__ = ("_aval",)

    def __init__(self, trace: Trace, aval: ShapedArray):
        self._trace = trace
        self._aval = aval

    @property
    def aval(self) -> ShapedArray:
        return self._aval


class _Builder:
    """What one staging run has recorded so far."""

    def __init__(self) -> None:
        self.eqns: list[Eqn] = []
        self.atoms: dict[int, Var | Lit] = {}  # id(tracer) -> atom
        self.tracers: list[Tracer] = []  # keeps tracers alive so ids stay unique
        self.lifted: list[tuple[Tracer, Var]] = []  # (outer tracer, its input var)
        self.lifted_ids: dict[int, StagingTracer] = {}

    def new_tracer(self, trace: Trace, atom: Var | Lit) -> StagingTracer:
        tracer = StagingTracer(trace, atom.aval)
        self.atoms[id(tracer)] = atom
        self.tracers.append(tracer)
        return tracer


class StagingTrace(Trace):
    def pure(self, value: Any) -> StagingTracer:
        return self.main.global_data.new_tracer(self, Lit(value))

    def lift(self, value: Tracer) -> StagingTracer:
        builder: _Builder = self.main.global_data
        if id(value) not in builder.lifted_ids:
            var = Var(value.aval)
            builder.lifted.append((value, var))
            builder.lifted_ids[id(value)] = builder.new_tracer(self, var)
        return builder.lifted_ids[id(value)]

    def process_primitive(self, primitive: Primitive, tracers: list[Tracer], params: dict):
        builder: _Builder = self.main.global_data
        if primitive.shape_rule is None:
            raise NotImplementedError(f"primitive '{primitive.name}' has no shape rule")
        avals = primitive.shape_rule(*[t.aval for t in tracers], **params)
        avals = avals if primitive.multiple_results else [avals]
        out_vars = [Var(a) for a in avals]
        builder.eqns.append(
            Eqn(primitive, [builder.atoms[id(t)] for t in tracers], params, out_vars)
        )
        outs = [builder.new_tracer(self, v) for v in out_vars]
        return outs if primitive.multiple_results else outs[0]


def trace_to_graph(
    fn: Callable[..., Sequence[Any]], in_avals: Sequence[ShapedArray]
) -> tuple[Graph, list[Any]]:
    """Stage ``fn`` (flat list of inputs -> flat list of outputs) into a Graph.

    Returns the graph and the values of enclosing transformations that ``fn`` closed over; the
    graph takes those first, then the inputs for ``in_avals``.
    """
    builder = _Builder()
    with new_main(StagingTrace, builder) as main:
        trace = StagingTrace(main)
        in_vars = [Var(a) for a in in_avals]
        in_tracers = [builder.new_tracer(trace, v) for v in in_vars]
        outs = fn(*in_tracers)
        out_atoms = []
        for out in outs:
            if isinstance(out, StagingTracer) and out._trace.main is main:
                out_atoms.append(builder.atoms[id(out)])
            elif isinstance(out, Tracer):  # an outer value returned unchanged
                out_atoms.append(builder.atoms[id(trace.lift(out))])
            else:
                out_atoms.append(Lit(out))
    consts = [tracer for tracer, _ in builder.lifted]
    graph = Graph([v for _, v in builder.lifted] + in_vars, builder.eqns, out_atoms)
    return graph, consts


def make_graph(fn: Callable[..., Any]) -> Callable[..., Graph]:
    """``make_graph(f)(*args)`` is the Graph of ``f`` at the shapes and dtypes of ``args``.

    Arguments may be pytrees of arrays; the graph's inputs are their flattened leaves and its
    outputs the flattened leaves of ``f``'s result.  Arguments that are ``ShapedArray``s need no
    data.
    """

    def staged(*args: Any) -> Graph:
        leaves, in_tree = tree_flatten(args)
        avals = [a if isinstance(a, ShapedArray) else get_aval(a) for a in leaves]

        def flat_fn(*tracers):
            out = fn(*tree_unflatten(in_tree, list(tracers)))
            return tree_flatten(out)[0]

        graph, consts = trace_to_graph(flat_fn, avals)
        if consts:
            raise ValueError(
                "make_graph: the function closes over values of an enclosing transformation; "
                "pass them as arguments"
            )
        return graph

    return staged
