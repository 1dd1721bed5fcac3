"""Loop fusion: chains of elementwise equations of one shape become one loop, no temporaries.

Besides elementwise operations, a loop takes in full sums of its values (accumulators), vector
gathers ``x[idx]`` (a load ``x[idx[o0]]`` from a vector completed before the loop) and vector
scatter-adds (``out[idx[o0]] += upd``, read only after the loop), so a hierarchical model's
``a[g]`` and its gradient's scatter back into ``a`` cost no pass of their own.

A loop over at least :data:`MIN_VECTOR_LOOP` elements without a running sum, a scatter-add or a
call of a scalar special-function kernel (:func:`autodiff.lowering.calls_scalar_kernel`: the
loops LLVM can vectorise) computes transcendental functions with the branch-free kernels of
:mod:`kernels.vector_math` (a primitive's ``vector_template``) and its sums with
``vm.accumulate``, an addition LLVM may reassociate: the loop is vectorised, and its sums are
split into as many partial sums as LLVM's vectorisation of it has lanes (the same bits on every
call on one machine, whatever the number of threads; another vector width may round them
differently).

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
from autodiff.lowering import MIN_VECTOR_LOOP, calls_scalar_kernel, scalar_expr


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


def _is_scalar(eqn) -> bool:
    """One value of one element: computed before or after a loop without closing it."""
    return (not eqn.primitive.multiple_results and all(v.aval.size == 1 for v in eqn.outputs)
            and eqn.primitive.name not in ("cond", "scan"))


def _starts_loop(eqn) -> bool:
    """An elementwise equation whose result has at least the rank of each operand."""
    return _fusible(eqn) and all(a.aval.ndim <= eqn.outputs[0].aval.ndim for a in eqn.inputs)


class _OpenLoop:
    """The loop being built: its shape, the values it computes element by element, its
    accumulators (full sums and vector scatter-adds: complete only after the loop) and the values
    computed after it (:func:`plan_fusion` defers scalar work that reads the accumulators)."""

    def __init__(self, eqn=None):
        self.shape = eqn.outputs[0].aval.shape if eqn is not None else None
        self.elements: set[int] = {eqn.outputs[0].id} if eqn is not None else set()
        self.accumulators: set[int] = set()
        self.late: set[int] = set()

    def joins(self, eqn) -> str | None:
        """How ``eqn`` joins the loop -- ``"element"``, ``"accumulator"`` -- or None.

        An elementwise equation of the loop's shape joins as an element, unless it reads an
        accumulator or a value computed after the loop, or gathers from a vector that the loop
        itself computes (a fused gather needs the whole vector first); a full sum of an element,
        or a vector scatter-add of an element into a base from outside the loop, joins as an
        accumulator.
        """
        if self.shape is None:
            return None
        ids = [a.id for a in eqn.inputs if isinstance(a, Var)]
        reads_after_loop = any(i in self.accumulators or i in self.late for i in ids)
        first = eqn.inputs[0] if eqn.inputs else None
        first_is_element = isinstance(first, Var) and first.id in self.elements
        if eqn.primitive.name == "reduce_sum":
            full = len(eqn.params["axes"]) == len(self.shape)
            return "accumulator" if first_is_element and full else None
        if _is_vector_scatter_add(eqn, self.shape):
            update = eqn.inputs[1]
            update_is_element = isinstance(update, Var) and update.id in self.elements
            joins = update_is_element and not first_is_element and not reads_after_loop
            return "accumulator" if joins else None
        if (_starts_loop(eqn) and eqn.outputs[0].aval.shape == self.shape
                and not reads_after_loop and not (_is_vector_gather(eqn) and first_is_element)):
            return "element"
        return None

    def add(self, eqn, how: str) -> None:
        (self.elements if how == "element" else self.accumulators).add(eqn.outputs[0].id)


def plan_fusion(graph: Graph) -> list:
    """Group fusible equations with one output shape into clusters (one loop each).

    Equations join the open loop by :meth:`_OpenLoop.joins` (sums of loop values become
    accumulators).  While a cluster is open, scalar equations that do not depend on it are hoisted
    before its loop, and scalar equations that depend on it are deferred after it, so that
    independent elementwise work (a log density's terms and its gradient's residuals, say) shares
    one loop.
    """
    items: list = []
    cluster: list = []
    hoisted: list = []
    deferred: list = []
    loop = _OpenLoop()

    def close():
        nonlocal cluster, hoisted, deferred, loop
        items.extend(("eqn", e) for e in hoisted)
        if cluster:  # even one equation: a loop compiles faster than a NumPy array expression
            items.append(("cluster", loop.shape, cluster))
        items.extend(("eqn", e) for e in deferred)
        cluster, hoisted, deferred, loop = [], [], [], _OpenLoop()

    for eqn in fusion_order(graph):
        how = loop.joins(eqn)
        if how is not None:
            cluster.append(eqn)
            loop.add(eqn, how)
            continue
        if _starts_loop(eqn):
            close()
            cluster, loop = [eqn], _OpenLoop(eqn)
            continue
        if cluster and _is_scalar(eqn):
            var_inputs = [a.id for a in eqn.inputs if isinstance(a, Var)]
            if not any(i in loop.elements or i in loop.accumulators or i in loop.late
                       for i in var_inputs):
                hoisted.append(eqn)  # computed before the loop; the cluster stays open
            else:
                deferred.append(eqn)  # computed after the loop; the cluster stays open
                loop.late.update(v.id for v in eqn.outputs)
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
    open loop (:meth:`_OpenLoop.joins`, the rule :func:`plan_fusion` applies), else a scalar
    equation (which never closes a loop), else the earliest in the graph.
    """
    eqns = list(graph.eqns)
    index = {id(e): k for k, e in enumerate(eqns)}
    producers, readers = graph.producers(), graph.readers()
    pending = [len({id(producers[a.id]) for a in e.inputs
                    if isinstance(a, Var) and a.id in producers}) for e in eqns]
    ready = [k for k in range(len(eqns)) if pending[k] == 0]
    order: list = []
    loop = _OpenLoop()
    while ready:
        pick = next((k for k in ready if loop.joins(eqns[k])), None)
        if pick is None:
            pick = next((k for k in ready if _is_scalar(eqns[k])), ready[0])
        ready.remove(pick)
        e = eqns[pick]
        order.append(e)
        how = loop.joins(e)
        if how is not None:
            loop.add(e, how)
        elif _starts_loop(e):
            loop = _OpenLoop(e)
        elif not _is_scalar(e):
            loop = _OpenLoop()
        users = {index[id(r)] for v in e.outputs for r, _ in readers.get(v.id, ())}
        for u in users:
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
    # A running sum or a scatter-add carries a value from one element to the next, and a call
    # of a scalar kernel (digamma) is opaque: LLVM keeps such a loop scalar, where the C
    # library's functions beat the branch-free vector kernels (a negative-binomial gradient's
    # loop of gammaln and digamma took 1.4x longer with the vector lgamma); and a short loop
    # gains nothing from vectorising but its set-up cost.
    vector = (int(np.prod(shape)) >= MIN_VECTOR_LOOP
              and not any(e.primitive.name in ("cumsum", "scatter_add") or calls_scalar_kernel(e)
                          for e in eqns))
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
            body.append(f"t_{name(out)} = {scalar_expr(e, ins, vector)}")
        ready.add(out.id)

    for e in eqns:
        out = e.outputs[0]
        if e.primitive.name == "reduce_sum":
            term = operand(e.inputs[0])
            if vector and out.aval.dtype == np.float64:  # a sum LLVM may split into lanes
                body.append(f"{name(out)} = vm.accumulate({name(out)}, {term})")
            else:
                body.append(f"{name(out)} += {term}")
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


