"""Graph-to-graph optimisation passes: dead-code elimination and common-subexpression elimination.

Each pass is a small function ``Graph -> Graph`` that preserves :func:`autodiff.eval_graph`'s
results (the tests check that).  Constant folding happens at trace time: operations whose inputs
are all constants are evaluated eagerly while staging, so they never reach the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.ir import Eqn, Graph, Lit, Var


def dce(graph: Graph) -> Graph:
    """Drop equations whose outputs are never used (primitives here have no side effects)."""
    live = {a.id for a in graph.outputs if isinstance(a, Var)}
    kept: list[Eqn] = []
    for eqn in reversed(graph.eqns):
        if any(v.id in live for v in eqn.outputs):
            kept.append(eqn)
            live.update(a.id for a in eqn.inputs if isinstance(a, Var))
    return Graph(graph.inputs, kept[::-1], graph.outputs)


def _key(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (tuple, list)):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    if isinstance(value, Graph):
        return ("graph", id(value))
    return value


def _atom_key(atom) -> Any:
    if isinstance(atom, Lit):
        if atom.val.size <= 16:
            return ("lit", atom.val.dtype.str, atom.val.shape, atom.val.tobytes())
        return ("lit-id", id(atom))
    return ("var", atom.id)


def cse(graph: Graph) -> Graph:
    """Reuse the result of an equation identical to an earlier one (same primitive, inputs and
    parameters)."""
    replace: dict[int, Var] = {}
    seen: dict[Any, list[Var]] = {}
    eqns: list[Eqn] = []

    def sub(atom):
        return replace.get(atom.id, atom) if isinstance(atom, Var) else atom

    for eqn in graph.eqns:
        inputs = [sub(a) for a in eqn.inputs]
        try:
            key = (eqn.primitive.name, tuple(_atom_key(a) for a in inputs), _key(eqn.params))
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in seen:
            for old, new in zip(eqn.outputs, seen[key]):
                replace[old.id] = new
            continue
        if key is not None:
            seen[key] = eqn.outputs
        eqns.append(Eqn(eqn.primitive, inputs, eqn.params, eqn.outputs))
    return Graph(graph.inputs, eqns, [sub(a) for a in graph.outputs])


def optimize(graph: Graph) -> Graph:
    """The standard pipeline applied before compilation."""
    return dce(cse(dce(graph)))
