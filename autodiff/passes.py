"""Graph-to-graph optimisation passes, and the analyses the code generator reads.

Each pass is a small function ``Graph -> Graph`` that preserves :func:`autodiff.eval_graph`'s
results (the tests check that): dead-code and common-subexpression elimination, algebraic
clean-up, accumulation of scatters.  Constant folding happens at trace time: operations whose
inputs are all constants are evaluated eagerly while staging, so they never reach the graph.

:func:`lowering_facts` is an analysis, not a pass: from the graph's readers
(:meth:`autodiff.ir.Graph.readers`) it finds the values whose one reader may overwrite them and
the reshapes and transposes that generated code can skip; the lowering rules read these facts
through their :class:`autodiff.lowering.LoweringContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autodiff.ir import Eqn, Graph, Lit, Var
from autodiff.lowering import LoweringFacts


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
    uses = graph.use_counts()
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


def merge_extending_scans(graph: Graph) -> Graph:
    """One loop where reverse mode left two: a ``scan`` whose body *extends* an earlier scan's
    body (:attr:`Graph.extends`: same inputs, its first outputs are the other body's outputs)
    replaces that earlier scan in its place, and the earlier scan's readers read its outputs.

    Reverse mode records the carries of a forward loop in a second forward loop over the same
    inputs (``control_flow._scan_vjp``); merged, the primal value and the record come from one.
    """
    scans = {}
    for pos, eqn in enumerate(graph.eqns):
        if eqn.primitive.name == "scan":
            key = (id(eqn.params["body"]), tuple(_atom_key(a) for a in eqn.inputs),
                   _key({k: v for k, v in eqn.params.items() if k != "body"}))
            scans.setdefault(key, pos)
    moved: dict[int, Eqn] = {}  # position of a primal scan -> the extending scan taking its place
    replace: dict[int, Var] = {}
    for eqn in graph.eqns:
        base = eqn.params.get("body").extends if eqn.primitive.name == "scan" else None
        if base is None:
            continue
        key = (id(base), tuple(_atom_key(a) for a in eqn.inputs),
               _key({k: v for k, v in eqn.params.items() if k != "body"}))
        pos = scans.get(key)
        if pos is None or pos in moved:
            continue
        moved[pos] = eqn
        for old, new in zip(graph.eqns[pos].outputs, eqn.outputs):
            replace[old.id] = new
    return move_into_place(graph, moved, replace)


def move_into_place(graph: Graph, moved: dict[int, Eqn], replace: dict[int, Var]) -> Graph:
    """``graph`` where each equation of ``moved`` leaves its own position for the one its key
    gives (an earlier equation's, which it replaces: it computes everything that one did and
    more), and every reader of a variable in ``replace`` reads its replacement instead."""
    if not moved:
        return graph
    leaving = {id(e) for e in moved.values()}

    def sub(atom):
        return replace.get(atom.id, atom) if isinstance(atom, Var) else atom

    eqns = []
    for pos, eqn in enumerate(graph.eqns):
        if id(eqn) in leaving:
            continue
        eqn = moved.get(pos, eqn)
        eqns.append(Eqn(eqn.primitive, [sub(a) for a in eqn.inputs], eqn.params, eqn.outputs))
    return Graph(graph.inputs, eqns, [sub(a) for a in graph.outputs])


#: Rewrites that a primitive's module registers (it owns the fact that makes them valid), run
#: first by :func:`optimize`; e.g. ``ode_sensitivity.merge_sensitivity_solves``.
REWRITES: list[Callable[[Graph], Graph]] = []


def optimize(graph: Graph) -> Graph:
    """The standard pipeline applied before compilation."""
    for rewrite in REWRITES:
        graph = rewrite(graph)
    graph = merge_extending_scans(graph)
    return dce(accumulate_scatters(dce(cse(simplify(dce(graph))))))


# --------------------------------------------------------------------------------------------
# Analyses for the code generator
# --------------------------------------------------------------------------------------------


def lowering_facts(graph: Graph) -> LoweringFacts:
    """The :class:`LoweringFacts` of ``graph``, from one pass over its readers."""
    readers, outputs = graph.readers(), graph.output_ids()
    inputs = {v.id for v in graph.inputs}
    read_once = frozenset(
        v.id for eqn in graph.eqns for v in eqn.outputs
        if len(readers.get(v.id, ())) == 1 and v.id not in outputs and v.id not in inputs
        and v.aval.ndim
    )
    vectors, flat = _matrix_vector_products(graph, readers, outputs)
    return LoweringFacts(
        read_once=read_once,
        matmul_transposes=_matmul_only_transposes(graph, readers, outputs),
        matvec_vectors=vectors,
        flat_products=flat,
        unit_scalars=_scalar_scatter_updates(graph, readers, outputs),
        stacked_scalars=_stacked_scalars(graph, readers, outputs),
    )


def _stacked_scalars(graph: Graph, readers: dict, outputs: set[int]) -> dict[int, Any]:
    """Each of these would otherwise be an array of one element (an allocation, or a workspace
    view) per scalar: an ODE right-hand side ``stack([f0, f1])`` made two per evaluation."""
    found = {}
    for e in graph.eqns:
        if (e.primitive.name != "reshape" or e.inputs[0].aval.ndim != 0
                or e.outputs[0].aval.shape != (1,)):
            continue
        out = e.outputs[0]
        users = readers.get(out.id, [])
        if out.id not in outputs and users and all(
                r.primitive.name == "concatenate" and r.outputs[0].aval.ndim == 1
                and r.outputs[0].aval.dtype == out.aval.dtype for r, _ in users):
            found[out.id] = e.inputs[0]
    return found


def _is_matrix_product(eqn: Eqn) -> bool:
    return eqn.primitive.name == "matmul" and all(x.aval.ndim == 2 for x in eqn.inputs)


def _matmul_only_transposes(graph: Graph, readers: dict, outputs: set[int]) -> dict[int, Var]:
    found = {}
    for eqn in graph.eqns:
        if eqn.primitive.name != "transpose" or not isinstance(eqn.inputs[0], Var):
            continue
        out = eqn.outputs[0]
        users = readers.get(out.id, [])
        if (out.aval.ndim == 2 and users and out.id not in outputs
                and all(_is_matrix_product(r) for r, _ in users)):
            found[out.id] = eqn.inputs[0]
    return found


def _scalar_scatter_updates(graph: Graph, readers: dict, outputs: set[int]) -> dict[int, Any]:
    """Only scatters into arrays of more than one element qualify: those are never hoisted into a
    fused loop's preamble (see :func:`autodiff.codegen.fusion.plan_fusion`), where they would be
    lowered without this fact."""
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
            found[out.id] = e.inputs[0]
    return found


def _matrix_vector_products(graph: Graph, readers: dict, outputs: set[int]
                            ) -> tuple[dict[int, Var], frozenset[int]]:
    producer = graph.producers()

    def vector_position(e) -> int | None:
        if not _is_matrix_product(e):
            return None
        a, b = (x.aval for x in e.inputs)
        return 1 if b.shape[1] == 1 else (0 if a.shape[0] == 1 else None)

    vectors: dict[int, Var] = {}
    flat: set[int] = set()
    for e in graph.eqns:
        pos = vector_position(e)
        if pos is None:
            continue
        v = e.inputs[pos]
        p = producer.get(v.id) if isinstance(v, Var) else None
        if (p is not None and p.primitive.name == "reshape" and isinstance(p.inputs[0], Var)
                and p.inputs[0].aval.ndim == 1 and v.id not in outputs
                and all(k == vector_position(r) for r, k in readers[v.id])):
            vectors[v.id] = p.inputs[0]
        out = e.outputs[0]
        users = readers.get(out.id, [])
        if (out.id not in outputs and len(users) == 1 and users[0][0].primitive.name == "reshape"
                and users[0][0].outputs[0].aval.ndim == 1):
            flat.add(out.id)
    return vectors, frozenset(flat)
