r"""Data-only terms computed once: the split of a gradient graph into a *prelude* and a *kernel*.

A model's log density is a graph of :math:`(\theta, d_1, \dots, d_m)`.  Some of its values do not
depend on :math:`\theta` at all -- ``gammaln(y + 1)`` of a Poisson likelihood, ``log(x)`` of an
observed covariate, ``X.T``, the sum of a data-only term -- yet a compiled gradient recomputes
them at every call.  :func:`hoist_data_terms` splits such a graph in two:

* the **prelude**, ``(d_1, ..., d_m) -> (h_1, ..., h_k)``: the data-only equations whose results
  the rest reads (evaluated once per binding of the data, by :func:`autodiff.ir.eval_graph`);
* the **kernel**, ``(\theta, d_1, ..., d_m, h_1, ..., h_k) -> outputs``: the original graph in
  which each :math:`h_j` is an input instead of a computation.

Evaluating the prelude and then the kernel gives the original graph's outputs (the same
primitives on the same values; only the order of floating-point additions inside a hoisted
reduction may differ, NumPy's pairwise sum against a compiled loop).

Which values are hoisted: a variable is *data-only* when every input of the equation defining
it is a data-only variable or a literal, starting from the data inputs that the caller promises
not to change between calls (``refilled`` names those it does change: SVI's noise).  Equations
with sub-graphs (``scan``, ``cond``, ODE solves) are never hoisted: their eager evaluation is
a Python loop or a compile of its own.  The hoisted values are the *frontier*: data-only
variables read by an equation that is not data-only, or returned.  A frontier value made by a
view-like equation (``reshape``, ``broadcast_to``, a transpose that only matrix products read,
which they read transposed: ``passes.lowering_facts``) is hoisted as that equation's operand,
the view staying in the kernel, so that a broadcast or a transposed copy of a design matrix is
never materialised in memory.  A frontier
value is hoisted only if computing it costs something: its data-only cone holds an equation
other than those views, dtype conversions, ``stop_gradient`` and one-instruction arithmetic
(``x.astype(float)`` or ``-y`` alone is left where it is: reading a hoisted copy costs about
what computing it in the loop does, and takes memory).

>>> import numpy as np
>>> import autodiff, autodiff.numpy as anp
>>> from autodiff.ir import eval_graph
>>> from autodiff.scipy import special as sp
>>> def logp(theta, y):
...     return anp.sum(y * theta[0] - anp.exp(theta[0]) - sp.gammaln(y + 1.0))
>>> g = autodiff.make_graph(logp)(np.zeros(1), np.ones(3))
>>> prelude, kernel = hoist_data_terms(g)
>>> [e.primitive.name for e in prelude.eqns]
['add', 'gammaln']
>>> y = np.array([0.0, 1.0, 4.0])
>>> hoisted = eval_graph(prelude, y)
>>> bool(np.isclose(eval_graph(kernel, np.array([0.3]), y, *hoisted)[0],
...                 logp(np.array([0.3]), y)))
True
"""

from __future__ import annotations

from collections.abc import Sequence

from autodiff.ir import Eqn, Graph, Var
from autodiff.passes import dce, lowering_facts

__all__ = ["hoist_data_terms"]

#: Equations that cost (next to) nothing per call: views, conversions, identities and the
#: one-instruction elementwise operations.  A frontier value whose data-only cone holds only
#: these is not worth a hoisted array (reading it costs what computing it in a loop does).
_FREE = frozenset({
    "reshape", "broadcast_to", "convert_element_type", "stop_gradient", "add", "sub", "mul",
    "neg", "abs", "sign", "maximum", "minimum", "select", "lt", "le", "gt", "ge", "eq", "ne",
    "logical_and", "logical_or", "logical_not", "logical_xor", "isnan", "isfinite",
})
#: Views that are left in the kernel above a hoisted operand (never a materialised broadcast).
_VIEWS = frozenset({"reshape", "broadcast_to"})
#: The dtypes the compiled kernel's data table can hold (``model_kernel._VIEW``).
_TABLE_DTYPES = frozenset({"float64", "int64", "bool"})


def _has_subgraph(eqn: Eqn) -> bool:
    def is_graph(v) -> bool:
        return isinstance(v, Graph) or (isinstance(v, tuple) and any(isinstance(x, Graph)
                                                                     for x in v))
    return any(is_graph(v) for v in eqn.params.values())


def hoist_data_terms(graph: Graph, refilled: Sequence[int] = ()) -> tuple[Graph, Graph]:
    """``(prelude, kernel)``: ``graph``'s data-only values worth computing once, and ``graph``
    reading them as extra inputs (see the module docstring).

    ``graph.inputs[0]`` is the parameter vector; the others are data.  ``refilled``: positions
    among the data inputs (0 is ``graph.inputs[1]``) of arrays the caller rewrites in place
    between calls with the same binding; nothing computed from them is hoisted.  The prelude
    takes all data inputs, ``graph.inputs[1:]``, and returns the hoisted values; the kernel
    takes ``graph.inputs`` followed by them.  With nothing to hoist the prelude has no outputs
    and the kernel is ``graph``.
    """
    data = graph.inputs[1:]
    bad = [k for k in refilled if not 0 <= k < len(data)]
    if bad:
        raise ValueError(f"hoist_data_terms: refilled positions {bad} are not among the graph's "
                         f"{len(data)} data inputs (0 is the first input after theta)")
    fixed = {v.id for k, v in enumerate(data) if k not in set(refilled)}
    # a transpose read only by matrix products costs nothing (the product reads it transposed)
    views = set(lowering_facts(graph).matmul_transposes)
    # data-only variables, and whether each one's cone holds a costly equation
    costly: dict[int, bool] = {vid: False for vid in fixed}
    producer: dict[int, Eqn] = {}
    prelude_eqns: list[Eqn] = []
    for eqn in graph.eqns:
        ins = [a for a in eqn.inputs if isinstance(a, Var)]
        if _has_subgraph(eqn) or not all(a.id in costly for a in ins):
            continue
        free = eqn.primitive.name in _FREE or eqn.outputs[0].id in views
        cost = not free or any(costly[a.id] for a in ins)
        for v in eqn.outputs:
            costly[v.id] = cost
            producer[v.id] = eqn
        prelude_eqns.append(eqn)
    if not prelude_eqns:
        return Graph(list(data), [], []), graph
    # the frontier: data-only values read by the rest of the graph, or returned
    frontier: list[Var] = []
    seen: set[int] = set()

    def add(v: Var) -> None:
        while v.id in producer and (producer[v.id].primitive.name in _VIEWS or v.id in views) \
                and isinstance(producer[v.id].inputs[0], Var) \
                and producer[v.id].inputs[0].id in producer:
            v = producer[v.id].inputs[0]  # the view stays in the kernel: hoist its operand
        if v.id in producer and costly[v.id] and v.id not in seen \
                and all(o.aval.dtype.name in _TABLE_DTYPES for o in producer[v.id].outputs):
            seen.add(v.id)
            frontier.append(v)

    for eqn in graph.eqns:
        if eqn.outputs and eqn.outputs[0].id in producer:
            continue
        for a in eqn.inputs:
            if isinstance(a, Var):
                add(a)
    for a in graph.outputs:
        if isinstance(a, Var):
            add(a)
    if not frontier:
        return Graph(list(data), [], []), graph
    # the kernel: the equations making hoisted values leave; any other value they made that is
    # still read is hoisted too (several outputs of one equation, e.g. an eigendecomposition)
    hoisted = list(frontier)
    leaving = {id(producer[v.id]) for v in hoisted}
    kernel = Graph(list(graph.inputs), [e for e in graph.eqns if id(e) not in leaving],
                   graph.outputs)
    kernel = dce(kernel)
    defined = {v.id for v in graph.inputs} | {v.id for e in kernel.eqns for v in e.outputs}
    for a in kernel.reads():
        if isinstance(a, Var) and a.id not in defined and a.id not in seen:
            seen.add(a.id)
            hoisted.append(a)
    kernel = Graph(list(graph.inputs) + hoisted, kernel.eqns, kernel.outputs)
    prelude = dce(Graph(list(data), prelude_eqns, hoisted))
    return prelude, kernel
