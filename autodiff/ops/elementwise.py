"""Elementwise primitives: arithmetic, transcendental functions, comparisons and ``select``.

Each primitive is one row: its NumPy implementation, the compiled source of one element (a
template such as ``"np.exp({0})"``, used for scalar results and as the body of fused loops) and
the partial derivatives of its output with respect to each input, written in autodiff operations
(so that derivatives nest); ``exp``, ``log``, ``log1p``, ``expm1`` and ``tanh`` also name their
branch-free kernel of :mod:`kernels.vector_math` for loops that vectorise (``vector=``).  The
JVP, VJP (with broadcasting undone), batching and lowering rules are derived from that row by
:func:`autodiff.ops._rules.def_elementwise`.  ``select``, ``convert_element_type`` and
``stop_gradient`` have rules of their own, and a scalar template too: they are elementwise in
compiled code.
"""

from __future__ import annotations

import numpy as np

from autodiff.avals import ShapedArray, broadcast_shapes
from autodiff.batching import align_batched
from autodiff.core import Primitive, bind, bind1, get_aval
from autodiff.lowering import lower_elementwise
from autodiff.ops._rules import def_elementwise, unbroadcast

_INV_LN2 = 1.0 / np.log(2.0)

# One row per primitive: name, NumPy implementation, compiled scalar template, partials.
# Partials are called as partial(ans, *args); short lambdas keep each row on one line.
add_p = def_elementwise("add", np.add, "({0} + {1})", (lambda ans, x, y: 1.0, lambda ans, x, y: 1.0))
sub_p = def_elementwise(
    "sub", np.subtract, "({0} - {1})", (lambda ans, x, y: 1.0, lambda ans, x, y: -1.0)
)
mul_p = def_elementwise("mul", np.multiply, "({0} * {1})", (lambda ans, x, y: y, lambda ans, x, y: x))
div_p = def_elementwise(
    "div",
    np.true_divide,
    "({0} / {1})",
    (lambda ans, x, y: div(1.0, y), lambda ans, x, y: neg(div(ans, y))),
)
neg_p = def_elementwise("neg", np.negative, "np.negative({0})", (lambda ans, x: -1.0,))
exp_p = def_elementwise("exp", np.exp, "np.exp({0})", (lambda ans, x: ans,), vector="vm.exp({0})")
log_p = def_elementwise(
    "log", np.log, "np.log({0})", (lambda ans, x: div(1.0, x),), vector="vm.log({0})"
)
log2_p = def_elementwise("log2", np.log2, "np.log2({0})", (lambda ans, x: div(_INV_LN2, x),))
log1p_p = def_elementwise(
    "log1p",
    np.log1p,
    "np.log1p({0})",
    (lambda ans, x: div(1.0, add(x, 1.0)),),
    vector="vm.log1p({0})",
)
expm1_p = def_elementwise(
    "expm1", np.expm1, "np.expm1({0})", (lambda ans, x: add(ans, 1.0),), vector="vm.expm1({0})"
)
sqrt_p = def_elementwise("sqrt", np.sqrt, "np.sqrt({0})", (lambda ans, x: div(0.5, ans),))
sin_p = def_elementwise("sin", np.sin, "np.sin({0})", (lambda ans, x: cos(x),))
cos_p = def_elementwise("cos", np.cos, "np.cos({0})", (lambda ans, x: neg(sin(x)),))
tan_p = def_elementwise("tan", np.tan, "np.tan({0})", (lambda ans, x: add(1.0, mul(ans, ans)),))
tanh_p = def_elementwise(
    "tanh",
    np.tanh,
    "np.tanh({0})",
    (lambda ans, x: sub(1.0, mul(ans, ans)),),
    vector="vm.tanh({0})",
)
arctan_p = def_elementwise(
    "arctan", np.arctan, "np.arctan({0})", (lambda ans, x: div(1.0, add(1.0, mul(x, x))),)
)
arcsin_p = def_elementwise(
    "arcsin", np.arcsin, "np.arcsin({0})", (lambda ans, x: div(1.0, sqrt(sub(1.0, mul(x, x)))),)
)
arccos_p = def_elementwise(
    "arccos",
    np.arccos,
    "np.arccos({0})",
    (lambda ans, x: neg(div(1.0, sqrt(sub(1.0, mul(x, x))))),),
)
sinh_p = def_elementwise("sinh", np.sinh, "np.sinh({0})", (lambda ans, x: cosh(x),))
cosh_p = def_elementwise("cosh", np.cosh, "np.cosh({0})", (lambda ans, x: sinh(x),))
arcsinh_p = def_elementwise(
    "arcsinh", np.arcsinh, "np.arcsinh({0})", (lambda ans, x: div(1.0, sqrt(add(mul(x, x), 1.0))),)
)
arctanh_p = def_elementwise(
    "arctanh", np.arctanh, "np.arctanh({0})", (lambda ans, x: div(1.0, sub(1.0, mul(x, x))),)
)
abs_p = def_elementwise("abs", np.abs, "np.abs({0})", (lambda ans, x: sign(x),))
pow_p = def_elementwise(
    "pow",
    np.power,
    "np.power({0}, {1})",
    (
        lambda ans, x, y: mul(y, power(x, sub(y, 1.0))),
        lambda ans, x, y: mul(ans, select(eq(x, 0.0), 0.0, log(x))),
    ),
)
maximum_p = def_elementwise(
    "maximum",
    np.maximum,
    "np.maximum({0}, {1})",
    (
        lambda ans, x, y: select(gt(x, y), 1.0, select(eq(x, y), 0.5, 0.0)),
        lambda ans, x, y: select(lt(x, y), 1.0, select(eq(x, y), 0.5, 0.0)),
    ),
)
minimum_p = def_elementwise(
    "minimum",
    np.minimum,
    "np.minimum({0}, {1})",
    (
        lambda ans, x, y: select(lt(x, y), 1.0, select(eq(x, y), 0.5, 0.0)),
        lambda ans, x, y: select(gt(x, y), 1.0, select(eq(x, y), 0.5, 0.0)),
    ),
)
# NumPy's and Numba's logaddexp are one algorithm: max + log1p(exp(-|x - y|)), log 2 at x == y
logaddexp_p = def_elementwise(
    "logaddexp",
    np.logaddexp,
    "np.logaddexp({0}, {1})",
    (
        lambda ans, x, y: _logaddexp_weight(x, ans),
        lambda ans, x, y: _logaddexp_weight(y, ans),
    ),
)
arctan2_p = def_elementwise(
    "arctan2",
    np.arctan2,
    "np.arctan2({0}, {1})",
    (
        lambda ans, y, x: div(x, add(mul(x, x), mul(y, y))),
        lambda ans, y, x: neg(div(y, add(mul(x, x), mul(y, y)))),
    ),
)
# Integer-valued and boolean operations: derivative zero.
sign_p = def_elementwise("sign", np.sign, "np.sign({0})", None, nondiff=True)
floor_p = def_elementwise("floor", np.floor, "np.floor({0})", None, nondiff=True)
ceil_p = def_elementwise("ceil", np.ceil, "np.ceil({0})", None, nondiff=True)
round_p = def_elementwise("round", np.round, "np.round({0})", None, nondiff=True)
floor_divide_p = def_elementwise(
    "floor_divide", np.floor_divide, "np.floor_divide({0}, {1})", None, nondiff=True
)
lt_p = def_elementwise("lt", np.less, "np.less({0}, {1})", None, nondiff=True)
le_p = def_elementwise("le", np.less_equal, "np.less_equal({0}, {1})", None, nondiff=True)
gt_p = def_elementwise("gt", np.greater, "np.greater({0}, {1})", None, nondiff=True)
ge_p = def_elementwise("ge", np.greater_equal, "np.greater_equal({0}, {1})", None, nondiff=True)
eq_p = def_elementwise("eq", np.equal, "np.equal({0}, {1})", None, nondiff=True)
ne_p = def_elementwise("ne", np.not_equal, "np.not_equal({0}, {1})", None, nondiff=True)
and_p = def_elementwise(
    "logical_and", np.logical_and, "np.logical_and({0}, {1})", None, nondiff=True
)
or_p = def_elementwise("logical_or", np.logical_or, "np.logical_or({0}, {1})", None, nondiff=True)
not_p = def_elementwise("logical_not", np.logical_not, "np.logical_not({0})", None, nondiff=True)
xor_p = def_elementwise(
    "logical_xor", np.logical_xor, "np.logical_xor({0}, {1})", None, nondiff=True
)
isnan_p = def_elementwise("isnan", np.isnan, "np.isnan({0})", None, nondiff=True)
isfinite_p = def_elementwise("isfinite", np.isfinite, "np.isfinite({0})", None, nondiff=True)
mod_p = def_elementwise(
    "mod",
    np.mod,
    "np.mod({0}, {1})",
    (lambda ans, x, y: 1.0, lambda ans, x, y: neg(floor_divide(x, y))),
)


def _logaddexp_weight(x, ans):
    """∂ logaddexp(x, y) / ∂x = exp(x - ans), with 1/2 when both arguments are -inf."""
    both_inf = eq(ans, -np.inf)
    return select(both_inf, 0.5, exp(sub(x, select(both_inf, 0.0, ans))))


# --------------------------------------------------------------------------------------------
# select (where): differentiable in the two branches, not in the condition
# --------------------------------------------------------------------------------------------

select_p = Primitive("select")
select_p.impl = np.where


def _select_shape(c: ShapedArray, x: ShapedArray, y: ShapedArray) -> ShapedArray:
    shape = broadcast_shapes("where", c.shape, x.shape, y.shape)
    return ShapedArray(shape, np.result_type(x.dtype, y.dtype))


def _select_jvp(primals, tangents):
    c, x, y = primals
    _, tx, ty = tangents
    ans = select(c, x, y)
    zero = np.zeros((), get_aval(ans).dtype)
    t_out = select(c, zero if tx is None else tx, zero if ty is None else ty)
    from autodiff.ops.structural import broadcast_to

    return ans, broadcast_to(t_out, get_aval(ans).shape)


def _select_vjp(g, ans, primals, needs):
    c, x, y = primals
    zero = np.zeros((), get_aval(g).dtype)
    ct_x = unbroadcast(select(c, g, zero), get_aval(x).shape) if needs[1] else None
    ct_y = unbroadcast(select(c, zero, g), get_aval(y).shape) if needs[2] else None
    return [None, ct_x, ct_y]


select_p.shape_rule = _select_shape
select_p.jvp = _select_jvp
select_p.vjp = _select_vjp
select_p.batch = lambda vals, dims: (bind(select_p, *align_batched(vals, dims)), 0)
select_p.scalar_template = "({1} if {0} else {2})"
select_p.lower = lower_elementwise

# --------------------------------------------------------------------------------------------
# convert_element_type (astype) and stop_gradient
# --------------------------------------------------------------------------------------------

convert_p = Primitive("convert_element_type")
convert_p.impl = lambda x, dtype: np.asarray(x).astype(dtype)
convert_p.shape_rule = lambda x, dtype: ShapedArray(x.shape, dtype)


def _scalar_type(dtype) -> str:
    """The NumPy scalar type of ``dtype`` by name, ``bool_`` for booleans (the one spelling
    that every NumPy version and Numba know)."""
    name = np.dtype(dtype).name
    return "bool_" if name == "bool" else name


def _convert_jvp(primals, tangents, dtype):
    (x,), (t,) = primals, tangents
    out = astype(x, dtype)
    if not np.issubdtype(dtype, np.floating) or t is None:
        return out, None
    return out, astype(t, dtype)


def _convert_vjp(g, ans, primals, needs, dtype):
    (x,) = primals
    if not needs[0] or not np.issubdtype(get_aval(x).dtype, np.floating):
        return [None]
    return [astype(g, get_aval(x).dtype)]


convert_p.jvp = _convert_jvp
convert_p.vjp = _convert_vjp
convert_p.batch = lambda vals, dims, dtype: (astype(vals[0], dtype), 0)
convert_p.scalar_template = lambda dtype: f"np.{_scalar_type(dtype)}({{0}})"
convert_p.lower = lower_elementwise

stop_gradient_p = Primitive("stop_gradient", nondiff=True)
stop_gradient_p.impl = lambda x: x
stop_gradient_p.shape_rule = lambda x: x
stop_gradient_p.batch = lambda vals, dims: (stop_gradient(vals[0]), 0)
stop_gradient_p.scalar_template = "{0}"
stop_gradient_p.lower = lower_elementwise

# --------------------------------------------------------------------------------------------
# Functions (thin wrappers used by rules and by autodiff.numpy)
# --------------------------------------------------------------------------------------------


def _unary(p: Primitive):
    def fn(x):
        return bind1(p, x)

    fn.__name__ = p.name
    fn.__doc__ = f"Elementwise ``{p.name}``."
    return fn


def _binary(p: Primitive):
    def fn(x, y):
        return bind1(p, x, y)

    fn.__name__ = p.name
    fn.__doc__ = f"Elementwise ``{p.name}`` with NumPy broadcasting."
    return fn


add, sub, mul, div = _binary(add_p), _binary(sub_p), _binary(mul_p), _binary(div_p)
power, maximum, minimum = _binary(pow_p), _binary(maximum_p), _binary(minimum_p)
logaddexp, arctan2, mod, floor_divide = (
    _binary(logaddexp_p),
    _binary(arctan2_p),
    _binary(mod_p),
    _binary(floor_divide_p),
)
lt, le, gt, ge, eq, ne = map(_binary, (lt_p, le_p, gt_p, ge_p, eq_p, ne_p))
logical_and, logical_or, logical_xor = _binary(and_p), _binary(or_p), _binary(xor_p)
neg, exp, log, log1p, expm1, sqrt = map(_unary, (neg_p, exp_p, log_p, log1p_p, expm1_p, sqrt_p))
log2 = _unary(log2_p)
sin, cos, tan, tanh, arctan = map(_unary, (sin_p, cos_p, tan_p, tanh_p, arctan_p))
arcsin, arccos, sinh, cosh = map(_unary, (arcsin_p, arccos_p, sinh_p, cosh_p))
arcsinh, arctanh, abs, sign = map(_unary, (arcsinh_p, arctanh_p, abs_p, sign_p))  # noqa: A001
floor, ceil, round, logical_not = map(_unary, (floor_p, ceil_p, round_p, not_p))  # noqa: A001
isnan, isfinite = _unary(isnan_p), _unary(isfinite_p)


def select(c, x, y):
    """``where(c, x, y)``: elementwise choice, differentiable in ``x`` and ``y``."""
    return bind1(select_p, c, x, y)


def astype(x, dtype):
    """``x`` converted to ``dtype`` (differentiable between floating types)."""
    dtype = np.dtype(dtype)
    if get_aval(x).dtype == dtype:
        return x
    return bind1(convert_p, x, dtype=dtype)


def stop_gradient(x):
    """``x``, treated as a constant by differentiation."""
    return bind1(stop_gradient_p, x)
