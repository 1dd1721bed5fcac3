"""Reverse mode: record the operations on a tape, then walk it backwards applying VJP rules.

While the function runs, a :class:`ReverseTracer` carries its primal value and the tape node that
produced it; every primitive applied to such tracers is evaluated on the primals *and* recorded.
The backward pass visits the recorded nodes in reverse order and applies each primitive's ``vjp``
rule, accumulating cotangents.  Because the primal values may themselves be tracers of an outer
transformation, and the VJP rules are written in autodiff operations, the backward pass is itself
differentiable (grad of grad, forward-over-reverse Hessian-vector products) and stageable (under
``make_graph``/``jit`` the primals are abstract and the backward pass becomes graph equations:
reverse mode graph-to-graph).  Python control flow on concrete values works, because the tape
records only the path taken (Griewank & Walther, *Evaluating Derivatives*, 2008; autograd).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autodiff.avals import ShapedArray, is_float
from autodiff.core import Primitive, Trace, Tracer, bind, get_aval, new_main
from autodiff.tree import tree_flatten, tree_unflatten


class _Node:
    """One recorded primitive application."""

    __slots__ = ("primitive", "params", "parents", "primals", "ans", "num_outputs")

    def __init__(self, primitive, params, parents, primals, ans, num_outputs):
        self.primitive = primitive
        self.params = params
        self.parents = parents  # per input: (node, output index) or None for a constant
        self.primals = primals
        self.ans = ans
        self.num_outputs = num_outputs


class _Tape:
    def __init__(self) -> None:
        self.nodes: list[_Node] = []


class ReverseTracer(Tracer):
    __slots__ = ("primal", "ref")

    def __init__(self, trace: Trace, primal: Any, ref: tuple[_Node, int] | None):
        self._trace = trace
        self.primal = primal
        self.ref = ref

    @property
    def aval(self) -> ShapedArray:
        return get_aval(self.primal)

    def concrete_value(self) -> Any:
        p = self.primal
        return p.concrete_value() if isinstance(p, Tracer) else p


class ReverseTrace(Trace):
    def pure(self, value: Any) -> ReverseTracer:
        return ReverseTracer(self, value, None)

    lift = pure

    def process_primitive(self, primitive: Primitive, tracers: list[ReverseTracer], params: dict):
        primals = [t.primal for t in tracers]
        parents = [t.ref for t in tracers]
        out = bind(primitive, *primals, **params)
        if primitive.nondiff or all(p is None for p in parents):
            return out
        if primitive.vjp is None:
            raise NotImplementedError(
                f"reverse-mode differentiation of '{primitive.name}' is not implemented"
            )
        outs = out if primitive.multiple_results else [out]
        node = _Node(primitive, params, parents, primals, out, len(outs))
        self.main.global_data.nodes.append(node)
        tracers_out = [ReverseTracer(self, o, (node, i)) for i, o in enumerate(outs)]
        return tracers_out if primitive.multiple_results else tracers_out[0]


def _accumulate(cts: dict, key: tuple, ct: Any, aval: ShapedArray, where: str) -> None:
    ct_aval = get_aval(ct)
    if ct_aval.shape != aval.shape:
        raise AssertionError(
            f"internal error: the VJP rule of '{where}' returned a cotangent of shape "
            f"{ct_aval.shape} for an input of shape {aval.shape}"
        )
    if key in cts:
        from autodiff.ops.elementwise import add

        cts[key] = add(cts[key], ct)
    else:
        cts[key] = ct


def backward(
    input_refs: Sequence[tuple[_Node, int]],
    output_refs: Sequence[tuple[_Node, int] | None],
    output_cts: Sequence[Any],
    tape: _Tape,
) -> list[Any]:
    """Propagate ``output_cts`` back through ``tape``; return the inputs' cotangents (or None)."""
    cts: dict[tuple[int, int], Any] = {}
    for ref, ct in zip(output_refs, output_cts):
        if ref is not None and ct is not None:
            node, i = ref
            _accumulate(cts, (id(node), i), ct, _out_aval(node, i), "output")
    for node in reversed(tape.nodes):
        outs_ct = [cts.pop((id(node), i), None) for i in range(node.num_outputs)]
        if all(c is None for c in outs_ct) or node.primitive is _INPUT:
            for i, c in enumerate(outs_ct):  # inputs keep their cotangents
                if c is not None:
                    cts[(id(node), i)] = c
            continue
        needs = [p is not None for p in node.parents]
        ct_arg = outs_ct if node.primitive.multiple_results else outs_ct[0]
        in_cts = node.primitive.vjp(ct_arg, node.ans, node.primals, needs, **node.params)
        for parent, primal, c in zip(node.parents, node.primals, in_cts):
            if parent is not None and c is not None:
                pnode, j = parent
                _accumulate(cts, (id(pnode), j), c, get_aval(primal), node.primitive.name)
    return [cts.get((id(node), i)) for node, i in input_refs]


def _out_aval(node: _Node, i: int) -> ShapedArray:
    return get_aval(node.ans[i] if node.primitive.multiple_results else node.ans)


# A marker primitive for the tape's input nodes (never bound).
_INPUT = Primitive("reverse_input")


def vjp_flat(fn: Callable, primals: list[Any]) -> tuple[list[Any], Callable]:
    tape = _Tape()
    with new_main(ReverseTrace, tape) as main:
        trace = ReverseTrace(main)
        input_refs = []
        tracers = []
        for p in primals:
            node = _Node(_INPUT, {}, [], [], p, 1)
            tape.nodes.append(node)
            input_refs.append((node, 0))
            tracers.append(ReverseTracer(trace, p, (node, 0)))
        outs = fn(*tracers)
        out_primals, out_refs = [], []
        for out in outs:
            if isinstance(out, ReverseTracer) and out._trace.main is main:
                out_primals.append(out.primal)
                out_refs.append(out.ref)
            else:
                out_primals.append(out)
                out_refs.append(None)

    def pullback(*cts: Any) -> list[Any]:
        in_cts = backward(input_refs, out_refs, list(cts), tape)
        return [np.zeros(get_aval(p).shape) if c is None else c for p, c in zip(primals, in_cts)]

    return out_primals, pullback


def vjp(fn: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(f(*primals), pullback)`` where ``pullback(ct)`` is the vector-Jacobian product ``ctᵀ J``.

    ``pullback`` takes a cotangent with the structure of ``f``'s output and returns a tuple with
    one cotangent per primal.  With ``has_aux=True``, ``f`` returns ``(out, aux)`` and ``vjp``
    returns ``(out, pullback, aux)``.

    >>> import autodiff.numpy as anp
    >>> out, pullback = vjp(lambda x: x * x, 3.0)
    >>> [float(g) for g in pullback(1.0)]
    [6.0]
    """
    leaves, in_tree = tree_flatten(primals)
    for leaf in leaves:
        _check_float(leaf, "vjp")
    out_tree, aux_box = [], []

    def flat_fn(*xs):
        out = fn(*tree_unflatten(in_tree, list(xs)))
        if has_aux:
            out, aux = _split_aux(out)
            aux_box.append(aux)
        flat, tree = tree_flatten(out)
        out_tree.append(tree)
        return flat

    out_flat, pullback_flat = vjp_flat(flat_fn, leaves)

    def pullback(ct: Any) -> tuple:
        ct_flat, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree[0]:
            raise ValueError(
                f"vjp: the cotangent has structure {ct_tree} but the output has {out_tree[0]}"
            )
        for c, o in zip(ct_flat, out_flat):
            if get_aval(c).shape != get_aval(o).shape:
                raise ValueError(
                    f"vjp: a cotangent of shape {get_aval(c).shape} was given for an output of "
                    f"shape {get_aval(o).shape}"
                )
        return tree_unflatten(in_tree, pullback_flat(*ct_flat))

    out = tree_unflatten(out_tree[0], out_flat)
    if has_aux:
        return out, pullback, _lower_aux(aux_box[0])
    return out, pullback


def _split_aux(out: Any) -> tuple[Any, Any]:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError("with has_aux=True the function must return a pair (output, aux)")
    return out[0], out[1]


def _lower_aux(aux: Any) -> Any:
    """Auxiliary outputs are returned without their reverse-mode tracing."""
    leaves, tree = tree_flatten(aux)
    leaves = [leaf.primal if isinstance(leaf, ReverseTracer) else leaf for leaf in leaves]
    return tree_unflatten(tree, leaves)


def _check_float(x: Any, where: str) -> None:
    if not is_float(get_aval(x).dtype):
        raise TypeError(
            f"{where}: differentiation needs floating-point inputs; got {get_aval(x).dtype} "
            f"({get_aval(x)}). Convert with x.astype(float) or pass the integer argument as "
            "non-differentiated (argnums)"
        )


def value_and_grad(
    fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """``value_and_grad(f)(*args) = (f(*args), ∇f(*args))`` for a scalar-valued ``f``.

    ``argnums`` picks the arguments to differentiate (an int gives one gradient, a tuple a tuple
    of them); each may be a pytree.  With ``has_aux=True``, ``f`` returns ``(value, aux)`` and the
    result is ``((value, aux), grad)``.

    >>> import autodiff.numpy as anp
    >>> value, (gx, gy) = value_and_grad(lambda x, y: anp.sum(x * y), argnums=(0, 1))(2.0, 3.0)
    >>> float(value), float(gx), float(gy)
    (6.0, 3.0, 2.0)
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapped(*args: Any) -> Any:
        for n in nums:
            if n >= len(args):
                raise IndexError(f"argnums={argnums} but the function got {len(args)} arguments")

        def partial_fn(*diff_args):
            full = list(args)
            for n, a in zip(nums, diff_args):
                full[n] = a
            return fn(*full)

        diff_args = tuple(args[n] for n in nums)
        for leaf in tree_flatten(diff_args)[0]:
            _check_float(leaf, "grad")
        if has_aux:
            out, pullback, aux = vjp(partial_fn, *diff_args, has_aux=True)
        else:
            out, pullback = vjp(partial_fn, *diff_args)
        _check_scalar(out)
        grads = pullback(np.ones((), get_aval(out).dtype))
        grads = grads[0] if single else grads
        return ((out, aux), grads) if has_aux else (out, grads)

    return wrapped


def _check_scalar(out: Any) -> None:
    leaves, _ = tree_flatten(out)
    if len(leaves) != 1 or get_aval(leaves[0]).shape != ():
        shapes = [get_aval(x).shape for x in leaves]
        raise TypeError(
            f"grad requires a function with one scalar output, got outputs of shapes {shapes}; "
            "use jacrev/jacfwd for Jacobians or vjp for vector-Jacobian products"
        )


def grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar-valued function (see :func:`value_and_grad`).

    >>> import autodiff.numpy as anp
    >>> grad(lambda x: anp.sum(anp.where(x > 0, x, x / (1 + anp.exp(-x)))))(anp.array([1.0, -1.0]))
    array([1.        , 0.07232949])
    """
    vg = value_and_grad(fn, argnums, has_aux)

    def wrapped(*args: Any) -> Any:
        if has_aux:
            (_, aux), g = vg(*args)
            return g, aux
        return vg(*args)[1]

    return wrapped
