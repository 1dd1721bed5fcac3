"""Forward mode: Jacobian-vector products by dual numbers, and ``jacfwd``.

A :class:`JVPTracer` carries a primal value and its tangent (``None`` is a symbolic zero, so
constants cost nothing).  Each primitive's ``jvp`` rule maps primals and tangents to the output's
primal and tangent using autodiff operations, so a JVP can be differentiated again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autodiff.avals import ShapedArray
from autodiff.core import Primitive, Trace, Tracer, bind, get_aval, new_main
from autodiff.tree import tree_flatten, tree_unflatten


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace: Trace, primal: Any, tangent: Any):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self) -> ShapedArray:
        return get_aval(self.primal)

    def concrete_value(self) -> Any:
        p = self.primal
        return p.concrete_value() if isinstance(p, Tracer) else p


class JVPTrace(Trace):
    def pure(self, value: Any) -> JVPTracer:
        return JVPTracer(self, value, None)

    lift = pure

    def process_primitive(self, primitive: Primitive, tracers: list[JVPTracer], params: dict):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if primitive.nondiff or all(t is None for t in tangents):
            return bind(primitive, *primals, **params)
        if primitive.jvp is None:
            raise NotImplementedError(
                f"forward-mode differentiation of '{primitive.name}' is not implemented"
            )
        primal_out, tangent_out = primitive.jvp(primals, tangents, **params)
        if primitive.multiple_results:
            return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out)]
        return JVPTracer(self, primal_out, tangent_out)


def zeros_like_aval(aval: ShapedArray) -> np.ndarray:
    return np.zeros(aval.shape, aval.dtype)


def instantiate(tangent: Any, like: Any) -> Any:
    """A symbolic-zero tangent (``None``) as an array of zeros shaped like ``like``."""
    if tangent is not None:
        return tangent
    aval = get_aval(like)
    dtype = aval.dtype if np.issubdtype(aval.dtype, np.floating) else np.float64
    return np.zeros(aval.shape, dtype)


def jvp_flat(fn: Callable, primals: list[Any], tangents: list[Any]) -> tuple[list, list]:
    with new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        tracers = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = fn(*tracers)
        primals_out, tangents_out = [], []
        for out in outs:
            if isinstance(out, JVPTracer) and out._trace.main is main:
                primals_out.append(out.primal)
                tangents_out.append(instantiate(out.tangent, out.primal))
            else:
                primals_out.append(out)
                tangents_out.append(instantiate(None, out))
    return primals_out, tangents_out


def jvp(fn: Callable, primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """``(f(*primals), J f(primals) @ tangents)``: one forward-mode pass.

    ``primals`` and ``tangents`` are tuples of the same pytree structure (one entry per argument).

    >>> import autodiff.numpy as anp
    >>> out, tangent = jvp(anp.sin, (0.0,), (2.0,))
    >>> float(out), float(tangent)
    (0.0, 2.0)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(f, primals, tangents): primals and tangents must be tuples")
    p_leaves, p_tree = tree_flatten(tuple(primals))
    t_leaves, t_tree = tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise ValueError(f"jvp: primals have structure {p_tree} but tangents {t_tree}")
    for p, t in zip(p_leaves, t_leaves):
        if np.shape(p) != np.shape(t) and get_aval(p).shape != get_aval(t).shape:
            raise ValueError(
                f"jvp: a tangent of shape {get_aval(t).shape} was given for a primal of shape "
                f"{get_aval(p).shape}"
            )
    out_tree = []

    def flat_fn(*leaves):
        out = fn(*tree_unflatten(p_tree, list(leaves)))
        flat, tree = tree_flatten(out)
        out_tree.append(tree)
        return flat

    primals_out, tangents_out = jvp_flat(flat_fn, p_leaves, t_leaves)
    return tree_unflatten(out_tree[0], primals_out), tree_unflatten(out_tree[0], tangents_out)
