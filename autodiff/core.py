"""Primitives, the interpreter stack, and ``bind``: the heart of the engine.

Every differentiable operation is a :class:`Primitive`: one object that holds all of its rules in
one place (the NumPy ``impl``, the ``shape_rule``, the ``jvp`` and ``vjp`` rules, the ``batch``
rule for ``vmap`` and the Numba ``lower`` rule).  Calling an operation
``binds`` the primitive to its arguments.  What ``bind`` does depends on the arguments: plain
NumPy arrays are evaluated by ``impl``; *tracers* belong to a transformation (forward mode,
reverse mode, batching, staging to a graph) and are handed to that transformation's interpreter.

Transformations nest.  Each one that is running owns a :class:`MainTrace` with a *level* on a
global stack; a tracer records the level of the transformation that made it.  ``bind`` hands the
operation to the highest-level transformation among its arguments, which processes it by calling
``bind`` again on lower-level values (its primals, its batched values...).  Because tracers are
tagged by level, ``grad(lambda x: x * grad(lambda y: x * y)(2.0))(1.0)`` differentiates the inner
and outer functions separately (no "perturbation confusion"); see Siskind & Pearlmutter (2005) and
the design of Autodidax ("JAX core from scratch").

Rules are written with autodiff operations (never raw NumPy on tracers), so the derivative of a
derivative is again an autodiff computation: derivatives nest to any order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from autodiff.avals import ShapedArray, aval_of

# --------------------------------------------------------------------------------------------
# Primitives and their registry
# --------------------------------------------------------------------------------------------

REGISTRY: dict[str, Primitive] = {}


class Primitive:
    """A named operation and all of its rules.

    Attributes
    ----------
    impl : ``impl(*arrays, **params)`` -> array (or list of arrays when ``multiple_results``).
    shape_rule : ``shape_rule(*avals, **params)`` -> ShapedArray (or list).
    jvp : ``jvp(primals, tangents, **params)`` -> ``(primal_out, tangent_out)``; a tangent that is
        ``None`` is a symbolic zero.  Written with autodiff operations.
    vjp : ``vjp(cotangent, ans, primals, needs, **params)`` -> one cotangent (or ``None``) per
        primal; ``needs[i]`` says whether the cotangent of input ``i`` is wanted.
    batch : ``batch(values, dims, **params)`` -> ``(out, out_dim)``; a dim is ``0`` (batched on
        the leading axis) or ``None`` (not batched), and so is ``out_dim``.
    lower : ``lower(ctx)`` -> lines of Numba source assigning the outputs, given a
        :class:`autodiff.lowering.LoweringContext`; registered beside the primitive's definition.
    scalar_template : for primitives that are elementwise in compiled code, the source of one
        element: a format string over the operands' element sources (``"np.exp({0})"``) or a
        function of the params returning one.  It lowers scalar results and is the body of
        fused loops (see :mod:`autodiff.lowering`).
    vector_template : optionally, the same element written for loops that LLVM vectorises
        (``"vm.exp({0})"``, :mod:`kernels.vector_math`: branch-free, no library call); used in
        place of ``scalar_template`` there and nowhere else (a single value, or a loop carrying
        a running sum, is faster with the C library's scalar function).
    nondiff : the output does not depend differentiably on the inputs (comparisons, ``floor``,
        ``argsort``...): its derivative is zero, and no jvp/vjp rule is needed.
    """

    def __init__(self, name: str, *, multiple_results: bool = False, nondiff: bool = False):
        if name in REGISTRY:
            raise ValueError(f"primitive {name!r} is registered twice")
        self.name = name
        self.multiple_results = multiple_results
        self.nondiff = nondiff
        self.impl: Callable | None = None
        self.shape_rule: Callable | None = None
        self.jvp: Callable | None = None
        self.vjp: Callable | None = None
        self.batch: Callable | None = None
        self.lower: Callable | None = None
        self.scalar_template: str | Callable[..., str] | None = None
        self.vector_template: str | None = None
        REGISTRY[name] = self

    def bind(self, *args: Any, **params: Any) -> Any:
        return bind(self, *args, **params)

    def __repr__(self) -> str:
        return self.name


# --------------------------------------------------------------------------------------------
# Traces and tracers
# --------------------------------------------------------------------------------------------


class MainTrace:
    """One running transformation: its level on the stack, its interpreter and its state."""

    def __init__(self, level: int, trace_type: type[Trace], global_data: Any = None):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data
        self.active = True

    def __repr__(self) -> str:
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


class Trace:
    """The interpreter of one transformation; ``process_primitive`` is where it acts."""

    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, value: Any) -> Tracer:
        """Wrap a constant (a value from no transformation) as a tracer of this trace."""
        raise NotImplementedError

    def lift(self, value: Any) -> Tracer:
        """Wrap a tracer of a lower-level transformation as a tracer of this trace."""
        return self.pure(value)

    def process_primitive(self, primitive: Primitive, tracers: list[Tracer], params: dict):
        raise NotImplementedError


class EvalTrace(Trace):
    """The bottom of the stack: evaluate primitives on concrete NumPy arrays."""

    def pure(self, value: Any) -> Any:
        return value

    lift = pure

    def process_primitive(self, primitive: Primitive, values: list[Any], params: dict) -> Any:
        if primitive.impl is None:
            raise NotImplementedError(f"primitive '{primitive.name}' has no NumPy implementation")
        try:
            return primitive.impl(*values, **params)
        except (ValueError, IndexError) as err:
            _explain_with_shape_rule(primitive, values, params, err)
            raise


def _explain_with_shape_rule(primitive: Primitive, values: list[Any], params: dict, err) -> None:
    """On an eager failure, re-raise the shape rule's error (which names the operation and the
    shapes) instead of NumPy's; the shape rule runs only on this error path."""
    if primitive.shape_rule is None:
        return
    try:
        primitive.shape_rule(*[get_aval(v) for v in values], **params)
    except (ValueError, TypeError, IndexError) as clearer:
        raise clearer from err


_TRACE_STACK: list[MainTrace] = [MainTrace(0, EvalTrace)]


@contextmanager
def new_main(trace_type: type[Trace], global_data: Any = None) -> Iterator[MainTrace]:
    """Push a new transformation on the stack for the duration of the ``with`` block."""
    main = MainTrace(len(_TRACE_STACK), trace_type, global_data)
    _TRACE_STACK.append(main)
    try:
        yield main
    finally:
        main.active = False
        _TRACE_STACK.pop()


class Tracer:
    """A value being traced by a transformation.  Subclasses say what they carry.

    Operators and NumPy-like methods (``x + y``, ``x[i]``, ``x.sum()``, ``x.T``...) are attached by
    :mod:`autodiff.array`; they call the functions of :mod:`autodiff.numpy`.
    """

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return self.aval.ndim

    @property
    def size(self) -> int:
        return self.aval.size

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar (rank-0) traced value")
        return self.shape[0]

    def full_lower(self) -> Any:
        """This value at the lowest level that can represent it (the tracer itself by default)."""
        return self

    def concrete_value(self) -> Any:
        """The concrete NumPy value behind this tracer, or raise: see ``__bool__``."""
        raise ConcretizationError(self)

    def __bool__(self) -> bool:
        return bool(self.concrete_value())

    def __float__(self) -> float:
        return float(self.concrete_value())

    def __int__(self) -> int:
        return int(self.concrete_value())

    def __index__(self) -> int:
        return int(self.concrete_value())

    def __complex__(self) -> complex:
        return complex(self.concrete_value())

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.concrete_value(), dtype=dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.aval.str_short()}>"

    def __hash__(self) -> int:
        return id(self)


class ConcretizationError(TypeError):
    """Raised when Python needs a concrete value (``if x > 0:``) but only an abstract one exists."""

    def __init__(self, tracer: Tracer):
        super().__init__(
            f"a traced value of type {tracer.aval.str_short()} was used where Python needs a "
            "concrete value (in `if`, `while`, `bool()`, `float()`, `int()` or as an index "
            "bound). While a function is staged (under `jit` or `make_graph`) or batched (under "
            "`vmap`), its values are abstract. Use `autodiff.numpy.where(cond, a, b)` for an "
            "elementwise choice, `autodiff.cond(pred, true_fn, false_fn, *operands)` to choose "
            "between computations, and `autodiff.scan` / `autodiff.fori_loop` for loops; or mark "
            "the argument static (`jit(f, static_argnums=...)`)."
        )


# --------------------------------------------------------------------------------------------
# bind
# --------------------------------------------------------------------------------------------


def bind(primitive: Primitive, *args: Any, **params: Any) -> Any:
    """Apply ``primitive`` to ``args``: evaluate it, or hand it to the innermost transformation."""
    main = None
    for arg in args:
        if isinstance(arg, Tracer) and (main is None or arg._trace.main.level > main.level):
            main = arg._trace.main
    if main is None:  # every argument is concrete: evaluate (the common eager case, kept fast)
        if primitive.impl is None:
            raise NotImplementedError(f"primitive '{primitive.name}' has no NumPy implementation")
        try:
            return primitive.impl(*args, **params)
        except (ValueError, IndexError) as err:
            _explain_with_shape_rule(primitive, list(args), params, err)
            raise
    trace = main.trace_type(main)
    tracers = [full_raise(trace, arg) for arg in args]
    out = trace.process_primitive(primitive, tracers, params)
    if primitive.multiple_results:
        return [full_lower(o) for o in out]
    return full_lower(out)


def bind1(primitive: Primitive, *args: Any, **params: Any) -> Any:
    """``bind`` for primitives taking array arguments that may be Python scalars or lists."""
    return bind(primitive, *[as_value(a) for a in args], **params)


def as_value(x: Any) -> Any:
    """Tracers as they are; anything else as a NumPy array (Python floats become float64)."""
    if isinstance(x, Tracer):
        return x
    if isinstance(x, np.ndarray) or np.isscalar(x) and isinstance(x, np.generic):
        return x
    return np.asarray(x)


def find_top_trace(args: Sequence[Any]) -> Trace:
    main = _TRACE_STACK[0]
    for arg in args:
        if isinstance(arg, Tracer) and arg._trace.main.level > main.level:
            main = arg._trace.main
    return main.trace_type(main)


def full_raise(trace: Trace, value: Any) -> Any:
    if not isinstance(value, Tracer):
        return trace.pure(value)
    main = value._trace.main
    if not main.active:
        raise LeakedTracerError(value)
    if main is trace.main:
        return value
    if main.level < trace.main.level:
        return trace.lift(value)
    raise LeakedTracerError(value)


def full_lower(value: Any) -> Any:
    return value.full_lower() if isinstance(value, Tracer) else value


class LeakedTracerError(RuntimeError):
    def __init__(self, tracer: Tracer):
        super().__init__(
            f"a traced value ({tracer!r}) escaped the transformation that created it: it was "
            "stored in a global, a closure or a container and used after the transformed "
            "function returned. Return it from the function instead."
        )


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of a tracer, array or scalar."""
    if isinstance(x, Tracer):
        return x.aval
    return aval_of(x)


def is_concrete(x: Any) -> bool:
    return not isinstance(x, Tracer)


_var_ids = itertools.count()


def fresh_id() -> int:
    return next(_var_ids)
