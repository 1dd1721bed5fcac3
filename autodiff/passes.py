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


_IDENTITY = {  # primitive -> (operand position that is kept, literal value that makes it a no-op)
    ("add", 0): 0.0, ("add", 1): 0.0, ("sub", 1): 0.0,
    ("mul", 0): 1.0, ("mul", 1): 1.0, ("div", 1): 1.0,
}


def _uniform_literal(atom) -> Lit | None:
    """A scalar literal equal to an array literal whose entries are all the same value."""
    if isinstance(atom, Lit) and atom.val.ndim > 0 and atom.val.size:
        first = atom.val.reshape(-1)[0]
        if np.all(atom.val == first):
            return Lit(np.asarray(first, dtype=atom.val.dtype))
    return None


def simplify(graph: Graph) -> Graph:
    """Algebraic clean-up of what reverse mode leaves behind: ``x + 0``, ``x * 1``, ``x / 1``
    vanish, and constant arrays of one repeated value become scalars (when the other operand
    already has the output's shape), so that later passes and the code generator see less."""
    replace: dict[int, Any] = {}
    eqns: list[Eqn] = []

    def sub(atom):
        return replace.get(atom.id, atom) if isinstance(atom, Var) else atom

    for eqn in graph.eqns:
        inputs = [sub(a) for a in eqn.inputs]
        name = eqn.primitive.name
        out = eqn.outputs[0] if len(eqn.outputs) == 1 else None
        if name in ("add", "sub", "mul", "div") and out is not None:
            for pos in (0, 1):
                other = inputs[1 - pos]
                if other.aval.shape != out.aval.shape:
                    continue
                scalar = _uniform_literal(inputs[pos])
                if scalar is not None:
                    inputs[pos] = scalar
            for pos in (0, 1):
                neutral = _IDENTITY.get((name, pos))
                lit, kept = inputs[pos], inputs[1 - pos]
                if (
                    neutral is not None
                    and isinstance(lit, Lit)
                    and lit.val.ndim == 0
                    and lit.val.item() == neutral
                    and kept.aval == out.aval
                ):
                    replace[out.id] = kept
                    break
            if out.id in replace:
                continue
        eqns.append(Eqn(eqn.primitive, inputs, eqn.params, eqn.outputs))
    outputs = [sub(a) for a in graph.outputs]
    return Graph(graph.inputs, eqns, outputs)


def accumulate_scatters(graph: Graph) -> Graph:
    """``A + scatter_add(zeros, w, idx)`` -> ``scatter_add(A, w, idx)``.

    Reverse mode builds a gradient by scattering each slice's cotangent into zeros and adding
    the results; accumulating into one buffer instead saves an array and an addition per slice.
    """
    from autodiff.ops.indexing import scatter_add_p

    producers: dict[int, Eqn] = {}
    uses: dict[int, int] = {}
    for eqn in graph.eqns:
        for a in eqn.inputs:
            if isinstance(a, Var):
                uses[a.id] = uses.get(a.id, 0) + 1
    for a in graph.outputs:
        if isinstance(a, Var):
            uses[a.id] = uses.get(a.id, 0) + 1
    eqns: list[Eqn] = []
    for eqn in graph.eqns:
        for v in eqn.outputs:
            producers[v.id] = eqn
        if eqn.primitive.name == "add" and eqn.outputs[0].aval.shape:
            out = eqn.outputs[0]
            for pos in (0, 1):
                scat, other = eqn.inputs[pos], eqn.inputs[1 - pos]
                prod = producers.get(scat.id) if isinstance(scat, Var) else None
                if (
                    prod is not None
                    and prod.primitive is scatter_add_p
                    and uses.get(scat.id) == 1
                    and isinstance(prod.inputs[0], Lit)
                    and not np.any(prod.inputs[0].val)
                    and other.aval == out.aval
                    and prod.outputs[0].aval == out.aval
                ):
                    eqns.append(Eqn(scatter_add_p, [other, *prod.inputs[1:]], prod.params,
                                    eqn.outputs))
                    break
            else:
                eqns.append(eqn)
            continue
        eqns.append(eqn)
    return Graph(graph.inputs, eqns, graph.outputs)


def optimize(graph: Graph) -> Graph:
    """The standard pipeline applied before compilation."""
    return dce(accumulate_scatters(dce(cse(simplify(dce(graph))))))
