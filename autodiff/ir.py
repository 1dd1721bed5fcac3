"""The intermediate representation: a :class:`Graph` of equations in A-normal form.

A graph has typed input variables, a list of equations ``outs = primitive(inputs; params)`` in
which every input is a variable defined earlier or a literal constant, and output atoms.  It is
what staging produces (:func:`autodiff.make_graph`), what the passes rewrite and what the Numba
compiler lowers.  :func:`eval_graph` is the reference evaluator: it binds each primitive in turn,
so evaluating a graph on NumPy arrays is NumPy, and evaluating it on tracers transforms it.

>>> import numpy as np
>>> import autodiff, autodiff.numpy as anp
>>> g = autodiff.make_graph(lambda x: anp.sum(anp.exp(x) * 2.0))(np.ones(3))
>>> print(g)
{ lambda a:f64[3] .
  b:f64[3] = exp a
  c:f64[3] = mul b 2.0
  d:f64[] = reduce_sum[axes=(0,)] c
  in (d) }
>>> float(eval_graph(g, np.zeros(3))[0])
6.0
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autodiff.avals import ShapedArray, aval_of
from autodiff.core import Primitive, bind, fresh_id, get_aval


class Var:
    """A variable of a graph: a name for one value of a known abstract type."""

    __slots__ = ("aval", "id")

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.id = fresh_id()

    def __repr__(self) -> str:
        return f"Var({self.id}:{self.aval})"


class Lit:
    """A constant operand: a scalar or an array known when the graph was built."""

    __slots__ = ("aval", "val")

    def __init__(self, val: Any):
        self.val = val if isinstance(val, np.ndarray) else np.asarray(val)
        self.aval = aval_of(self.val)

    def __repr__(self) -> str:
        return f"Lit({self.val!r})"


Atom = Var | Lit


@dataclass(eq=False)
class Eqn:
    """``outputs = primitive(inputs; params)``."""

    primitive: Primitive
    inputs: list[Atom]
    params: dict[str, Any]
    outputs: list[Var]


@dataclass(eq=False)
class Graph:
    """A function as equations over typed variables."""

    inputs: list[Var]
    eqns: list[Eqn]
    outputs: list[Atom]
    _names: dict[int, str] = field(default_factory=dict, repr=False)
    #: a graph whose outputs are this one's first outputs, from the same inputs (a scan body
    #: that also records its carries extends the body it records; ``passes`` merges the two loops)
    extends: Graph | None = field(default=None, repr=False)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.inputs]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outputs]

    def reads(self) -> Iterator[Atom]:
        """Every atom read: each equation's inputs in order, then the graph's outputs."""
        for eqn in self.eqns:
            yield from eqn.inputs
        yield from self.outputs

    def use_counts(self) -> dict[int, int]:
        """``var id -> number of reads`` (by equations, and once per place among the outputs)."""
        counts: dict[int, int] = {}
        for atom in self.reads():
            if isinstance(atom, Var):
                counts[atom.id] = counts.get(atom.id, 0) + 1
        return counts

    def readers(self) -> dict[int, list[tuple[Eqn, int]]]:
        """``var id -> [(equation, input position), ...]``: who reads each variable, in order.
        Being a graph output is not a read here (see :meth:`output_ids`)."""
        readers: dict[int, list[tuple[Eqn, int]]] = {}
        for eqn in self.eqns:
            for k, atom in enumerate(eqn.inputs):
                if isinstance(atom, Var):
                    readers.setdefault(atom.id, []).append((eqn, k))
        return readers

    def producers(self) -> dict[int, Eqn]:
        """``var id -> the equation defining it`` (graph inputs have none)."""
        return {v.id: eqn for eqn in self.eqns for v in eqn.outputs}

    def output_ids(self) -> set[int]:
        """The ids of the variables among the graph's outputs."""
        return {a.id for a in self.outputs if isinstance(a, Var)}

    def __str__(self) -> str:
        return pretty_print(self)

    def __hash__(self) -> int:
        return id(self)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def eval_graph(graph: Graph, *args: Any) -> list[Any]:
    """Evaluate ``graph`` on ``args`` by binding each equation's primitive; return the outputs."""
    if len(args) != len(graph.inputs):
        raise TypeError(f"graph takes {len(graph.inputs)} inputs, got {len(args)}")
    env: dict[int, Any] = {}

    def read(atom: Atom) -> Any:
        return atom.val if isinstance(atom, Lit) else env[atom.id]

    for var, arg in zip(graph.inputs, args):
        env[var.id] = arg
    for eqn in graph.eqns:
        outs = bind(eqn.primitive, *map(read, eqn.inputs), **eqn.params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        for var, out in zip(eqn.outputs, outs):
            env[var.id] = out
    return [read(atom) for atom in graph.outputs]


# --------------------------------------------------------------------------------------------
# Type checking
# --------------------------------------------------------------------------------------------


class GraphTypeError(TypeError):
    pass


def typecheck(graph: Graph) -> None:
    """Check that every variable is defined once before use and that every equation's output
    types are what its primitive's shape rule says they are.  Raises :class:`GraphTypeError`."""
    defined: set[int] = set()
    for var in graph.inputs:
        _define(defined, var)
    for n, eqn in enumerate(graph.eqns):
        for atom in eqn.inputs:
            if isinstance(atom, Var) and atom.id not in defined:
                raise GraphTypeError(f"equation {n} ({eqn.primitive}) uses an undefined variable")
        expected = eqn.primitive.shape_rule(*[a.aval for a in eqn.inputs], **eqn.params)
        expected = expected if eqn.primitive.multiple_results else [expected]
        got = [v.aval for v in eqn.outputs]
        if list(expected) != got:
            raise GraphTypeError(
                f"equation {n} ({eqn.primitive}): outputs typed {got}, shape rule says {expected}"
            )
        for var in eqn.outputs:
            _define(defined, var)
    for atom in graph.outputs:
        if isinstance(atom, Var) and atom.id not in defined:
            raise GraphTypeError("a graph output is not defined")


def _define(defined: set[int], var: Var) -> None:
    if var.id in defined:
        raise GraphTypeError(f"variable {var} is defined twice")
    defined.add(var.id)


# --------------------------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------------------------


def pretty_print(graph: Graph, indent: int = 0) -> str:
    """One equation per line: ``out:type = primitive[params] inputs``."""
    names: dict[int, str] = {}

    def name(atom: Atom) -> str:
        if isinstance(atom, Lit):
            return format_literal(atom.val)
        if atom.id not in names:
            names[atom.id] = _letters(len(names))
        return names[atom.id]

    pad = " " * indent
    lines = [pad + "{ lambda " + ", ".join(f"{name(v)}:{v.aval}" for v in graph.inputs) + " ."]
    for eqn in graph.eqns:
        lhs = " ".join(f"{name(v)}:{v.aval}" for v in eqn.outputs)
        lines.append(f"{pad}  {lhs} = {format_eqn_rhs(eqn, name, indent + 4)}")
    lines.append(pad + "  in (" + ", ".join(name(a) for a in graph.outputs) + ") }")
    return "\n".join(lines)


def format_eqn_rhs(eqn: Eqn, name, indent: int = 4) -> str:
    params = ""
    if eqn.params:
        params = (
            "[" + ", ".join(f"{k}={format_param(v, indent)}" for k, v in eqn.params.items()) + "]"
        )
    return f"{eqn.primitive.name}{params} " + " ".join(name(a) for a in eqn.inputs)


def format_param(value: Any, indent: int) -> str:
    if isinstance(value, Graph):
        return "\n" + pretty_print(value, indent)
    if isinstance(value, tuple) and value and all(isinstance(v, Graph) for v in value):
        # cond's branches: printed as graphs, never as reprs, which carry variable ids that
        # depend on what the process traced before (and would make generated code differ)
        return "(" + ",".join(format_param(v, indent) for v in value) + ")"
    if isinstance(value, np.dtype):
        return value.name
    return repr(value)


def format_literal(val: np.ndarray) -> str:
    if val.ndim == 0:
        return repr(val.item())
    return f"const{aval_of(val)}"


def _letters(n: int) -> str:
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(ord("a") + r) + s
    return s


def atom_aval(atom: Atom) -> ShapedArray:
    return atom.aval if isinstance(atom, (Var, Lit)) else get_aval(atom)
