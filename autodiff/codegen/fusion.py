"""Loop fusion: chains of elementwise equations of one shape become one loop, no temporaries.

Besides elementwise operations, a loop takes in full sums of its values (accumulators), vector
gathers ``x[idx]`` (a load ``x[idx[o0]]`` from a vector completed before the loop) and vector
scatter-adds (``out[idx[o0]] += upd``, read only after the loop), so a hierarchical model's
``a[g]`` and its gradient's scatter back into ``a`` cost no pass of their own.

A loop value divided by a loop-invariant float64 scalar ``s`` is multiplied by ``1 / s``,
computed once before the loop: one division instead of one per element (a division costs
several multiplications).  The result may differ from NumPy's ``x / s`` in the last bit (the
product rounds twice), and ``x / s`` for a subnormal ``s`` whose reciprocal overflows becomes
infinite; neither matters for a log density, and the code stays deterministic.

:func:`plan_fusion` groups a graph's equations into clusters (one loop each; sums become
accumulators; independent scalar work is hoisted before or deferred after the loop);
:func:`plan_materialization` decides which loop values are stored in arrays and which are
recomputed where needed; :func:`emit_cluster` writes the loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.ir import Graph, Var
from autodiff.lowering import scalar_expr


def _is_vector_gather(eqn) -> bool:
    """``x[idx]`` with ``x`` and ``idx`` vectors: one element per index, so it fuses into a
    loop over ``idx`` as a load ``x[idx[o0]]`` (``x`` must be complete before the loop)."""
    if eqn.primitive.name != "gather" or eqn.params["spec"] != (("a",),):
        return False
    x, idx = (a.aval for a in eqn.inputs)
    return x.ndim == 1 and idx.ndim == 1 and idx.dtype.kind in "iu"


def _is_vector_scatter_add(eqn, shape: tuple | None) -> bool:
    """``base.at[idx].add(upd)`` with vectors ``idx`` and ``upd`` of the loop's ``shape``: it
    accumulates inside the loop, ``out[idx[o0]] += upd[o0]``, like a sum (read after the loop)."""
    if eqn.primitive.name != "scatter_add" or eqn.params["spec"] != (("a",),):
        return False
    base, upd, idx = (a.aval for a in eqn.inputs)
    return (base.ndim == 1 and upd.shape == idx.shape == shape and len(shape) == 1
            and idx.dtype.kind in "iu" and base.dtype == eqn.outputs[0].aval.dtype)


def _fusible(eqn) -> bool:
    name = eqn.primitive.name
    if name == "gather":
        return _is_vector_gather(eqn)
    if name == "cumsum":  # a running sum joins a forward loop over a vector (carried, in order)
        return eqn.outputs[0].aval.ndim == 1 and not eqn.params["reverse"]
    # elementwise in compiled code: one element is the primitive's scalar template
    return eqn.primitive.scalar_template is not None and eqn.outputs[0].aval.ndim > 0


def plan_fusion(graph: Graph) -> list:
    """Group fusible equations with one output shape into clusters (one loop each).

    A sum of a cluster value over all its axes joins the cluster as an accumulator.  While a
    cluster is open, scalar equations that do not depend on it are hoisted before its loop, and
    scalar equations that depend on its sums are deferred after it, so that independent
    elementwise work (a log density's terms and its gradient's residuals, say) shares one loop.
    """
    items: list = []
    cluster: list = []
    hoisted: list = []
    deferred: list = []
    shape: tuple | None = None
    members: set[int] = set()
    accumulated: set[int] = set()  # the cluster's sums and scatter-adds: complete after the loop
    late: set[int] = set()  # outputs of deferred equations

    def close():
        nonlocal cluster, hoisted, deferred, shape, members, accumulated, late
        items.extend(("eqn", e) for e in hoisted)
        if cluster:  # even one equation: a loop compiles faster than a NumPy array expression
            items.append(("cluster", shape, cluster))
        items.extend(("eqn", e) for e in deferred)
        cluster, hoisted, deferred, shape = [], [], [], None
        members, accumulated, late = set(), set(), set()

    for eqn in fusion_order(graph):
        out_shape = eqn.outputs[0].aval.shape if eqn.outputs else None
        var_inputs = [a.id for a in eqn.inputs if isinstance(a, Var)]
        depends = any(i in members for i in var_inputs)
        depends_late = any(i in late for i in var_inputs)
        if _fusible(eqn) and all(a.aval.ndim <= len(out_shape) for a in eqn.inputs):
            reads_reduction = any(isinstance(a, Var) and a.id in accumulated for a in eqn.inputs)
            reads_own_vector = _is_vector_gather(eqn) and isinstance(eqn.inputs[0], Var) and (
                eqn.inputs[0].id in members
            )
            if cluster and (out_shape != shape or reads_reduction or depends_late
                            or reads_own_vector):
                close()
            cluster.append(eqn)
            shape = out_shape
            members.add(eqn.outputs[0].id)
            continue
        if (
            cluster
            and eqn.primitive.name == "reduce_sum"
            and isinstance(eqn.inputs[0], Var)
            and eqn.inputs[0].id in members
            and eqn.inputs[0].id not in accumulated
            and len(eqn.params["axes"]) == len(shape)
        ):
            cluster.append(eqn)  # accumulated inside the loop
            members.add(eqn.outputs[0].id)
            accumulated.add(eqn.outputs[0].id)
            continue
        if (
            cluster
            and _is_vector_scatter_add(eqn, shape)
            and not (isinstance(eqn.inputs[0], Var) and eqn.inputs[0].id in members)
            and not any(isinstance(a, Var) and a.id in accumulated for a in eqn.inputs)
            and not depends_late
        ):
            cluster.append(eqn)  # accumulated inside the loop, into a copy of its base
            members.add(eqn.outputs[0].id)
            accumulated.add(eqn.outputs[0].id)
            continue
        scalar = (
            not eqn.primitive.multiple_results
            and all(v.aval.size == 1 for v in eqn.outputs)
            and eqn.primitive.name not in ("cond", "scan")
        )
        if cluster and scalar and not depends and not depends_late:
            hoisted.append(eqn)  # computed before the loop; the cluster stays open
            continue
        if cluster and scalar:
            deferred.append(eqn)  # computed after the loop; the cluster stays open
            late.update(v.id for v in eqn.outputs)
            continue
        close()
        items.append(("eqn", eqn))
    close()
    return items


def fusion_order(graph: Graph) -> list:
    """The graph's equations in a dependency-respecting order that keeps loops together.

    A graph lists equations in the order they were traced, which interleaves work of different
    shapes (a log density's terms of length N, then a prior term of length K, then the rest of
    the likelihood...); :func:`plan_fusion` closes a loop at every change of shape.  List
    scheduling fixes that: among the equations whose inputs are ready, take one that joins the
    open loop (elementwise, same shape, not reading the loop's own sums; or a full sum of a loop
    value), else a scalar equation (which never closes a loop), else the earliest in the graph.
    """
    eqns = list(graph.eqns)
    produced_by = {v.id: k for k, e in enumerate(eqns) for v in e.outputs}
    pending = [0] * len(eqns)
    users: list[list[int]] = [[] for _ in eqns]
    for k, e in enumerate(eqns):
        deps = {produced_by[a.id] for a in e.inputs if isinstance(a, Var) and a.id in produced_by}
        pending[k] = len(deps)
        for d in deps:
            users[d].append(k)
    ready = sorted(k for k in range(len(eqns)) if pending[k] == 0)
    order: list = []
    shape: tuple | None = None
    members: set[int] = set()  # array values of the open loop
    sums: set[int] = set()  # its full sums (reading one closes the loop)

    def joins(e) -> bool:
        if shape is None:
            return False
        ids = [a.id for a in e.inputs if isinstance(a, Var)]
        if e.primitive.name == "reduce_sum":
            return (ids[0] in members if ids else False) and len(e.params["axes"]) == len(shape)
        if _is_vector_scatter_add(e, shape):
            base, upd = e.inputs[0], e.inputs[1]
            return (isinstance(upd, Var) and upd.id in members
                    and not (isinstance(base, Var) and base.id in members))
        return (_fusible(e) and e.outputs[0].aval.shape == shape
                and all(a.aval.ndim <= len(shape) for a in e.inputs)
                and not any(i in sums for i in ids)
                and not (_is_vector_gather(e) and ids and ids[0] in members))

    def is_scalar(e) -> bool:
        return (not e.primitive.multiple_results and all(v.aval.size == 1 for v in e.outputs)
                and e.primitive.name not in ("cond", "scan"))

    while ready:
        pick = next((k for k in ready if joins(eqns[k])), None)
        if pick is None:
            pick = next((k for k in ready if is_scalar(eqns[k])), ready[0])
        ready.remove(pick)
        e = eqns[pick]
        order.append(e)
        if joins(e):
            accumulates = e.primitive.name in ("reduce_sum", "scatter_add")
            (sums if accumulates else members).add(e.outputs[0].id)
        elif _fusible(e) and all(a.aval.ndim <= e.outputs[0].aval.ndim for a in e.inputs):
            shape, members, sums = e.outputs[0].aval.shape, {e.outputs[0].id}, set()
        elif not is_scalar(e):
            shape, members, sums = None, set(), set()
        for u in users[pick]:
            pending[u] -= 1
            if pending[u] == 0:
                ready.append(u)
        ready.sort()
    return order


def _element(name: str, aval, shape: tuple) -> str:
    """Source for the element of input ``name`` (broadcast to ``shape``) at loop index o0.."""
    if aval.ndim == 0:
        return name
    offset = len(shape) - aval.ndim
    subs = ["0" if d == 1 and shape[offset + k] != 1 else f"o{offset + k}"
            for k, d in enumerate(aval.shape)]
    return f"{name}[{', '.join(subs)}]"


_CHEAP = {"add", "sub", "mul", "neg", "select", "convert_element_type", "stop_gradient",
          "broadcast_to", "gather", "abs", "sign", "lt", "le", "gt", "ge", "eq", "ne", "maximum", "minimum",
          "logical_and", "logical_or", "logical_not", "logical_xor"}


def plan_materialization(plan: list, graph: Graph) -> tuple[set[int], dict[int, Any]]:
    """Which cluster values must be stored in arrays, and which can be recomputed.

    A cheap value (a few additions and multiplications) computed in a fused loop and needed by a
    later loop of the same shape is recomputed there instead of being stored (an allocation);
    a value is stored when a non-fused equation or the graph's result needs it, when a later
    loop of another shape needs it, or when a later loop needs it and it is expensive
    (transcendental functions and divisions are never computed twice).
    """
    producer: dict[int, tuple] = {}  # value id -> (eqn, cluster shape, plan index)
    inlinable: dict[int, bool] = {}
    size: dict[int, int] = {}
    store: set[int] = {a.id for a in graph.outputs if isinstance(a, Var)}
    for k, item in enumerate(plan):
        if item[0] == "eqn":
            store.update(a.id for a in item[1].inputs if isinstance(a, Var))
            continue
        _, shape, eqns = item
        for e in eqns:
            if e.primitive.name in ("gather", "scatter_add") and isinstance(e.inputs[0], Var):
                store.add(e.inputs[0].id)  # a fused gather/scatter reads the whole array
            for a in e.inputs:
                if not isinstance(a, Var) or a.id not in producer:
                    continue
                _, p_shape, p_index = producer[a.id]
                if p_index != k and (p_shape != shape or not inlinable[a.id]):
                    store.add(a.id)
            if e.primitive.name in ("reduce_sum", "scatter_add"):
                continue
            out = e.outputs[0]
            producer[out.id] = (e, shape, k)
            cost = 1 + sum(size.get(a.id, 0) for a in e.inputs if isinstance(a, Var)
                           and a.id in producer and a.id not in store)
            inlinable[out.id] = (
                cost <= 40
                and e.primitive.name in _CHEAP
                and all(inlinable.get(a.id, True) or a.id in store
                        for a in e.inputs if isinstance(a, Var) and a.id in producer)
            )
            size[out.id] = cost
    return store, {v: (e, shape) for v, (e, shape, _) in producer.items()}


def emit_cluster(shape: tuple, eqns: list, name, store: set[int], producer: dict,
                 alloc, may_overwrite=lambda atom: False) -> list[str]:
    """Source lines for one fused loop over ``shape``; ``alloc(aval)`` gives the source of each
    stored array (an allocation, or a slice of the caller's workspace); a scatter-add whose base
    the loop may overwrite (``may_overwrite(atom)``: read by nothing else) accumulates into the
    base itself."""
    lines: list[str] = []
    for e in eqns:  # arrays that outlive the loop are allocated once, before it
        out = e.outputs[0]
        zero = "0.0" if out.aval.dtype.kind == "f" else "0"
        if e.primitive.name == "reduce_sum":
            lines.append(f"{name(out)} = {zero}")
            continue
        if e.primitive.name == "scatter_add":
            base = name(e.inputs[0])
            if may_overwrite(e.inputs[0]):
                lines.append(f"{name(out)} = {base}")
            else:
                lines.append(f"{name(out)} = {alloc(out.aval)}")
                lines.append(f"for j_ in range({out.aval.shape[0]}):")
                lines.append(f"    {name(out)}[j_] = {base}[j_]")
            continue
        if e.primitive.name == "cumsum":
            lines.append(f"r_{name(out)} = {zero}")  # the running sum, carried across iterations
        if out.id in store:
            lines.append(f"{name(out)} = {alloc(out.aval)}")
    body: list[str] = []
    ready: set[int] = set()  # values with a t_ scalar in this iteration
    reciprocals: dict[str, str] = {}  # loop-invariant divisor -> its reciprocal's source
    index = ", ".join(f"o{k}" for k in range(len(shape)))

    def operand(a) -> str:
        if not isinstance(a, Var):
            return _element(name(a), a.aval, shape)
        if a.id in ready:
            return f"t_{name(a)}"
        entry = producer.get(a.id)
        if entry is not None and entry[1] == shape and a.id not in store:
            compute(entry[0])  # recompute an earlier loop's value here
            return f"t_{name(a)}"
        return _element(name(a), a.aval, shape)

    def _invariant_divisor(e) -> str | None:
        """The source of ``e``'s divisor if ``e`` divides float64 loop values by a float64
        scalar that does not change in the loop."""
        if e.primitive.name != "div" or e.outputs[0].aval.dtype != np.float64:
            return None
        divisor = e.inputs[1]
        if divisor.aval.ndim != 0 or divisor.aval.dtype != np.float64:
            return None
        return name(divisor)

    def compute(e) -> None:
        out = e.outputs[0]
        ins = [operand(a) for a in e.inputs]
        if e.primitive.name == "cumsum":
            body.append(f"r_{name(out)} += {ins[0]}")
            body.append(f"t_{name(out)} = r_{name(out)}")
            ready.add(out.id)
            return
        if e.primitive.name == "gather":  # x[idx[o0]]: the whole vector x, not its element
            body.append(f"t_{name(out)} = {name(e.inputs[0])}[{ins[1]}]")
        elif (q := _invariant_divisor(e)) is not None:
            if q not in reciprocals:  # one division before the loop, not one per element
                reciprocals[q] = f"q_{len(reciprocals)}"
                lines.append(f"{reciprocals[q]} = 1.0 / {q}")
            body.append(f"t_{name(out)} = ({ins[0]} * {reciprocals[q]})")
        else:
            body.append(f"t_{name(out)} = {scalar_expr(e, ins)}")
        ready.add(out.id)

    for e in eqns:
        out = e.outputs[0]
        if e.primitive.name == "reduce_sum":
            body.append(f"{name(out)} += {operand(e.inputs[0])}")
            continue
        if e.primitive.name == "scatter_add":
            body.append(f"{name(out)}[{operand(e.inputs[2])}] += {operand(e.inputs[1])}")
            continue
        if out.id not in ready:
            compute(e)
        if out.id in store:
            body.append(f"{name(out)}[{index}] = t_{name(out)}")
    if not any(e.primitive.name in ("reduce_sum", "scatter_add") or e.outputs[0].id in store
               for e in eqns):
        return []  # every value is recomputed where it is needed: the loop would be dead
    for k, n in enumerate(shape):
        lines.append("    " * k + f"for o{k} in range({n}):")
    lines += ["    " * len(shape) + line for line in body]
    return lines


