"""Lowering to Numba: the context every lowering rule takes, and the source helpers they share.

A primitive's ``lower`` rule turns one equation into lines of NumPy-in-Numba source that assign
its outputs.  Every rule has one signature, ``rule(ctx: LoweringContext) -> list[str]``, and is
registered on the primitive in the module that defines it, in that module's "Numba lowering"
section (``reduce_sum_p.lower = ...`` in :mod:`autodiff.ops.reductions`), as JAX registers a
lowering beside a primitive's definition.  The compiler (:mod:`autodiff.codegen`) looks a rule
up as ``eqn.primitive.lower`` and nowhere else.

An elementwise primitive needs no rule of its own: it carries a *scalar template*
(``Primitive.scalar_template``), the source of one element as a format string over its operands'
element sources -- ``"np.exp({0})"``, ``"({0} + {1})"``, ``"sp.log1pexp({0})"`` -- or a function
of the equation's parameters returning one.  The same template is the statement for a scalar
result (:func:`lower_elementwise`) and the loop body in a fused loop
(:mod:`autodiff.codegen.fusion`), so an operation compiles to one algorithm wherever it appears.
Templates call NumPy (``np``) or the scalar kernels of :mod:`kernels.special` (``sp``), the names
the generated module imports (see :data:`autodiff.codegen.emit.HEADER`).  One exception: a
transcendental function may also carry a *vector template* (``"vm.exp({0})"``,
:mod:`kernels.vector_math`), a branch-free kernel within 2 ulp of the C library's that LLVM
vectorises; loops that vectorise use it, scalar statements and loops carrying a value from one
element to the next or calling a scalar kernel of :mod:`kernels.special` that has no vector
kernel (:func:`calls_scalar_kernel`: such loops stay scalar, where the library call is faster)
do not.

This module imports nothing of the project at run time.  The primitive families
(:mod:`autodiff.ops`) import it to write their rules, the compiler imports it to build the
contexts, and so the families never import the compiler, nor the compiler the families.
Rules never raise inside generated code: linear algebra goes through NaN-signalling kernels in
``kernels.graph_ops``, because a model kernel is a C function that cannot propagate exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from autodiff.avals import ShapedArray
    from autodiff.core import Primitive
    from autodiff.ir import Atom, Eqn, Graph, Var

#: A lowering rule: the source lines computing one equation's outputs.
LoweringRule = Callable[["LoweringContext"], list[str]]


class LoweringError(NotImplementedError):
    """A primitive (or a form of it) has no Numba lowering yet."""


class FunctionScope(Protocol):
    """The function being written, as the compiler exposes it to lowering rules."""

    facts: LoweringFacts

    def name(self, atom: Atom) -> str:
        """The source naming ``atom`` (a variable's name, a literal's value or constant)."""

    def alloc(self, aval: ShapedArray) -> str:
        """Source of a new array for ``aval`` (a workspace slice or an allocation)."""

    @property
    def in_workspace(self) -> bool:
        """Whether :meth:`alloc` hands out slices of a preallocated workspace (float64 arrays):
        rules that would allocate (``concatenate``, ``transpose``...) then write into it."""

    def may_overwrite(self, atom: Atom) -> bool:
        """Whether the equation reading ``atom`` may write its result into it."""

    def emit_subgraph(self, graph: Graph, prefix: str, *, reuse_workspace: bool = False
                      ) -> tuple[str, list[str]]:
        """Write ``graph`` as a function of the module: its name and the arguments it takes
        after its inputs (its constants; first a slice of this function's workspace for its
        intermediates, with ``reuse_workspace``, when this function has one)."""

    def emit_subgraph_in_workspace(self, graph: Graph, prefix: str) -> tuple[str, list[str], int]:
        """The same with a workspace parameter ``ws_`` for its arrays: also its size."""

    def emit_subgraph_bodies(self, graphs: list[Graph]
                             ) -> tuple[list[tuple[list[str], list[str], list[str]]], list[str],
                                        int]:
        """The statements of ``graphs`` (arrays in one workspace ``ws_``, one naming) for a
        function that a rule writes itself: per graph input names, body lines, output names;
        then the constants and the workspace size."""

    def add_function(self, prefix: str, params: list[str], body: list[str],
                     consts: list[str]) -> str:
        """Add a function written by a rule to the module (its constants passed on)."""


@dataclass(frozen=True)
class LoweringFacts:
    """How a graph's values are read, as far as the code generator cares (keys are var ids).

    Attributes
    ----------
    read_once : array values read by exactly one equation, and neither inputs nor outputs of the
        graph: that equation may write its result into them (a scatter updates them in place).
    matmul_transposes : 2-D transposes read only by 2-D matrix products -> the matrix
        transposed; BLAS reads the transposed view, and no transposed copy is made.
    matvec_vectors : ``(k, 1)`` or ``(1, k)`` reshapes of a vector read only as the vector of
        matrix-vector products -> that 1-D vector (``A @ x`` with a 1-D ``x`` is traced as
        reshape, matmul, reshape).
    flat_products : matrix-vector products whose one reader flattens them to 1-D: they are
        computed 1-D, and the flattening reshape is the product itself.
    unit_scalars : scalars reshaped to one element only to be the update of scatters into arrays
        of more than one element -> the scalar, which the scatter then adds itself.
    """

    read_once: frozenset[int]
    matmul_transposes: dict[int, Var]
    matvec_vectors: dict[int, Var]
    flat_products: frozenset[int]
    unit_scalars: dict[int, Any]
    stacked_scalars: dict[int, Any]


@dataclass(frozen=True)
class LoweringContext:
    """What a lowering rule sees: one equation, the names of its operands (``ins``) and results
    (``outs``) in the generated source, and the function being written (``scope``), which knows
    how the graph reads each value (:class:`LoweringFacts`, computed by :func:`autodiff.passes.lowering_facts`) and can allocate
    arrays and emit sub-graphs (the branches of ``cond``, the body of ``scan``)."""

    eqn: Eqn
    outs: list[str]
    ins: list[str]
    scope: FunctionScope

    @property
    def params(self) -> dict[str, Any]:
        return self.eqn.params

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [a.aval for a in self.eqn.inputs]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.eqn.outputs]

    @property
    def out(self) -> str:
        """The name of the (single) result."""
        return self.outs[0]

    @property
    def out_aval(self) -> ShapedArray:
        return self.eqn.outputs[0].aval

    @property
    def facts(self) -> LoweringFacts:
        return self.scope.facts

    def alloc(self, aval: ShapedArray) -> str:
        return self.scope.alloc(aval)

    @property
    def in_workspace(self) -> bool:
        """Whether a float64 result can be written into the workspace (:meth:`alloc`)."""
        return (self.scope.in_workspace and self.out_aval.dtype.name == "float64"
                and self.out_aval.ndim > 0)

    def emit_subgraph(self, graph: Graph, prefix: str, *, reuse_workspace: bool = False,
                      copy_results: bool = True) -> tuple[str, list[str]]:
        return self.scope.emit_subgraph(graph, prefix, reuse_workspace=reuse_workspace,
                                        copy_results=copy_results)

    def emit_subgraph_in_workspace(self, graph: Graph, prefix: str) -> tuple[str, list[str], int]:
        return self.scope.emit_subgraph_in_workspace(graph, prefix)

    def may_overwrite(self, k: int) -> bool:
        """Whether input ``k`` is read by this equation only, so it may be written in place."""
        return self.scope.may_overwrite(self.eqn.inputs[k])

    def input_fact(self, table: dict, k: int) -> str | None:
        """The source of the atom that ``table`` (one of the facts' maps) gives for input ``k``."""
        atom = self.eqn.inputs[k]
        found = table.get(getattr(atom, "id", None))
        return None if found is None else self.scope.name(found)

    def input_in(self, ids: Any, k: int) -> bool:
        """Whether input ``k`` is a variable whose id is in ``ids`` (a set or map of the facts)."""
        return getattr(self.eqn.inputs[k], "id", None) in ids

    def output_in(self, ids: Any) -> bool:
        """Whether the (single) result's id is in ``ids`` (a set or map of the facts)."""
        return self.eqn.outputs[0].id in ids


# --------------------------------------------------------------------------------------------
# Source helpers shared by the rules
# --------------------------------------------------------------------------------------------


def shape_src(aval: ShapedArray) -> str:
    """Source of ``aval``'s shape as a tuple of ``np.int64`` values: a bare ``5000`` would be
    typed as the literal 5000, and a disk-cached helper (``cn.empty``...) called with it would
    be compiled anew for every size instead of once per number of dimensions."""
    return tuple_src(aval.shape)


def tuple_src(dims: Sequence[int]) -> str:
    """Source of a tuple of ``np.int64`` values (see :func:`shape_src`)."""
    return "(" + "".join(f"np.int64({d}), " for d in dims) + ")"


def reshaped(src: str, dims: Sequence[int]) -> str:
    """Source reshaping the array ``src`` to ``dims`` (a view when ``src`` is contiguous).
    ``ndarray.reshape`` itself is avoided in generated code: Numba compiles a helper for it in
    every process, while ``cn.reshape`` is loaded from the disk cache."""
    return f"cn.reshape({src}, {tuple_src(dims)})"


def dtype_src(aval: ShapedArray) -> str:
    """Source of ``aval``'s NumPy scalar type (``np.float64``, ``np.bool_``...)."""
    return "np.bool_" if aval.dtype.name == "bool" else f"np.{aval.dtype.name}"


def loops(shape: Sequence[int], body: str) -> list[str]:
    """Nested loops ``for o0 in range(n0): for o1 ...`` around the statement ``body``."""
    lines = [f"{'    ' * k}for o{k} in range({n}):" for k, n in enumerate(shape)]
    return lines + [f"{'    ' * len(shape)}{body}"]


# --------------------------------------------------------------------------------------------
# Elementwise primitives: one scalar template, for scalars and for fused loops alike
# --------------------------------------------------------------------------------------------


#: Loops over fewer elements stay scalar (plain sums, the C library's functions): vectorising
#: the eight-schools loops (8 elements) doubled that gradient's time.
MIN_VECTOR_LOOP = 64


def scalar_template(primitive: Primitive, params: dict[str, Any], vector: bool = False) -> str:
    """The format string computing one element of ``primitive`` applied with ``params``; in a
    loop that vectorises (``vector``), its ``vector_template`` when it has one."""
    if vector and primitive.vector_template is not None:
        return primitive.vector_template
    template = primitive.scalar_template
    if template is None:
        raise LoweringError(f"primitive '{primitive.name}' is not elementwise in compiled code")
    return template(**params) if callable(template) else template


def calls_scalar_kernel(eqn: Eqn) -> bool:
    """Whether one element of ``eqn`` is a call that keeps a loop scalar: a kernel of
    :mod:`kernels.special` (template ``sp.…``: SciPy's compiled functions, or ours calling the
    C library) with no vector kernel to stand in for it (``digamma``, ``erf``, ...)."""
    primitive = eqn.primitive
    if getattr(primitive, "scalar_template", None) is None or primitive.vector_template is not None:
        return False
    return scalar_template(primitive, eqn.params).startswith("sp.")


def scalar_expr(eqn: Eqn, operands: Sequence[str], vector: bool = False) -> str:
    """Source of one element of an elementwise equation, from its operands' element sources
    (in a loop that vectorises when ``vector``)."""
    return scalar_template(eqn.primitive, eqn.params, vector).format(*operands)


def lower_elementwise(ctx: LoweringContext) -> list[str]:
    """The lowering rule of every elementwise primitive, from its scalar template.

    A scalar result is one statement.  An array result is normally computed in a fused loop
    (:func:`autodiff.codegen.fusion.plan_fusion` takes every elementwise equation with an array
    result); this rule writes the same loop for one equation, over its broadcast operands.
    """
    template = scalar_template(ctx.eqn.primitive, ctx.params)
    if ctx.out_aval.ndim == 0:  # scalars stay Python scalars in generated code
        return [f"{ctx.out} = {_unparenthesised(template).format(*ctx.ins)}"]
    template = scalar_template(ctx.eqn.primitive, ctx.params,  # a plain loop: vectorised
                               vector=ctx.out_aval.size >= MIN_VECTOR_LOOP)
    out, shape = ctx.out, shape_src(ctx.out_aval)
    lines = [f"{out} = {ctx.alloc(ctx.out_aval)}", f"{out}_f = cn.ravel({out})"]
    flat = []
    for k, (name, aval) in enumerate(zip(ctx.ins, ctx.in_avals)):
        if aval.ndim == 0:
            flat.append(name)
        else:
            lines.append(f"{out}_{k} = cn.ravel(cn.broadcast_to({name}, {shape}))")
            flat.append(f"{out}_{k}[_i]")
    return lines + [f"for _i in range({out}_f.size):",
                    f"    {out}_f[_i] = {template.format(*flat)}"]


def _unparenthesised(template: str) -> str:
    """``template`` without the parentheses around all of it, if it has them: ``({0} + {1})``
    needs them inside an expression, not as the right-hand side of an assignment."""
    if not (template.startswith("(") and template.endswith(")")):
        return template
    depth = 0
    for k, c in enumerate(template):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0 and k < len(template) - 1:
            return template  # the first parenthesis closes before the end: "(a) + (b)"
    return template[1:-1]
