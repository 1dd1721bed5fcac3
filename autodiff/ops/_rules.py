"""Helpers shared by the primitive families: defining elementwise primitives and their rules."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from autodiff.avals import ShapedArray, broadcast_shapes
from autodiff.batching import elementwise_batch
from autodiff.core import Primitive, bind, get_aval
from autodiff.lowering import lower_elementwise


@lru_cache(maxsize=4096)
def _result_dtype(impl: Callable, dtypes: tuple[np.dtype, ...]) -> np.dtype:
    with np.errstate(all="ignore"):
        return np.asarray(impl(*[np.ones((), d) for d in dtypes])).dtype


def elementwise_shape_rule(primitive: Primitive) -> Callable:
    def rule(*avals: ShapedArray, **params: Any) -> ShapedArray:
        shape = broadcast_shapes(primitive.name, *[a.shape for a in avals])
        impl = primitive.impl
        dtype = _result_dtype(
            (lambda *xs: impl(*xs, **params)) if params else impl, tuple(a.dtype for a in avals)
        )
        return ShapedArray(shape, dtype)

    return rule


def def_elementwise(
    name: str,
    impl: Callable,
    scalar: str | Callable[..., str],
    partials: tuple[Callable, ...] | None,
    nondiff: bool = False,
    vector: str | None = None,
) -> Primitive:
    """Register an elementwise primitive: every rule it has comes from this one row.

    ``impl`` is the NumPy implementation.  ``scalar`` is the compiled code of one element, a
    format string over the operands' element sources (``"np.exp({0})"``, ``"({0} + {1})"``,
    ``"sp.log1pexp({0})"`` with ``sp`` :mod:`kernels.special`), or a function of the params
    returning one; it lowers scalar results and is the body of fused loops (see
    :mod:`autodiff.lowering`), so ``impl`` and ``scalar`` must compute the same formula.
    ``partials[i](ans, *args)`` is ∂ out / ∂ args[i] as an autodiff expression (elementwise, may
    broadcast); JVP and VJP rules are both derived from it, with broadcasting undone in the VJP.
    ``None`` for a partial means the output does not depend differentiably on that argument.
    ``vector`` optionally writes the element for loops that vectorise (``"vm.exp({0})"``,
    :mod:`kernels.vector_math`), to within 2 ulp of ``scalar``.
    """
    prim = Primitive(name, nondiff=nondiff)
    prim.impl = _quiet(impl)
    prim.shape_rule = elementwise_shape_rule(prim)
    prim.batch = elementwise_batch(prim)
    prim.scalar_template = scalar
    prim.vector_template = vector
    prim.lower = lower_elementwise
    if partials is not None:
        prim.jvp = _jvp_from_partials(prim, partials)
        prim.vjp = _vjp_from_partials(partials)
    return prim


def _quiet(impl: Callable) -> Callable:
    """NumPy maths that may warn at domain edges (log(0) = -inf) without printing warnings."""

    def run(*args, **params):
        with np.errstate(all="ignore"):
            return impl(*args, **params)

    run.__name__ = getattr(impl, "__name__", "impl")
    run.__wrapped__ = impl
    return run


def _jvp_from_partials(prim: Primitive, partials: tuple[Callable, ...]) -> Callable:
    def jvp(primals, tangents, **params):
        from autodiff.ops.elementwise import add, mul

        ans = bind(prim, *primals, **params)
        out = None
        for partial, t in zip(partials, tangents):
            if t is None or partial is None:
                continue
            term = mul(t, partial(ans, *primals, **params))
            out = term if out is None else add(out, term)
        if out is not None and get_aval(out).shape != get_aval(ans).shape:
            from autodiff.ops.structural import broadcast_to

            out = broadcast_to(out, get_aval(ans).shape)
        return ans, out

    return jvp


def _vjp_from_partials(partials: tuple[Callable, ...]) -> Callable:
    def vjp(g, ans, primals, needs, **params):
        from autodiff.ops.elementwise import mul

        cts = []
        for partial, need, x in zip(partials, needs, primals):
            if not need or partial is None:
                cts.append(None)
                continue
            cts.append(unbroadcast(mul(g, partial(ans, *primals, **params)), get_aval(x).shape))
        return cts

    return vjp


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, back to ``shape``."""
    from autodiff.ops.reductions import reduce_sum
    from autodiff.ops.structural import reshape

    g_shape = get_aval(g).shape
    if g_shape == tuple(shape):
        return g
    lead = len(g_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g_shape[lead + i] != 1
    )
    if axes:
        g = reduce_sum(g, axes)
    return reshape(g, tuple(shape)) if get_aval(g).shape != tuple(shape) else g
