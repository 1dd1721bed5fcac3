"""Error messages: a user mistake raises an error of the right type that says what went wrong,
with the shapes, dtypes, names and indices involved, and how to fix it."""

from __future__ import annotations

import re

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp
from autodiff import cond, grad, jvp, make_graph, scan, vjp, vmap

# Each shape/broadcast error is checked eagerly, under grad (reverse tracer over NumPy values),
# and staged (abstract values, where only the shape rule can report it).
MODES = {
    "eager": lambda f, *args: f(*args),
    "grad": lambda f, *args: grad(lambda *a: anp.sum(f(*a)))(*args),
    "staged": lambda f, *args: make_graph(f)(*args),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_add_shape_mismatch_names_both_shapes_and_operation(mode):
    with pytest.raises(ValueError) as info:
        MODES[mode](lambda x: anp.add(x, np.ones(4)), np.ones(3))
    msg = str(info.value)
    assert "(3,)" in msg and "(4,)" in msg
    assert re.search(r"\badd\b", msg)


@pytest.mark.parametrize("mode", ["grad", "staged"])  # on plain arrays `*` is NumPy's own
def test_operator_mul_shape_mismatch(mode):
    with pytest.raises(ValueError) as info:
        MODES[mode](lambda x: x * np.ones((4, 2)), np.ones((3, 2)))
    msg = str(info.value)
    assert "(3, 2)" in msg and "(4, 2)" in msg and "mul" in msg


@pytest.mark.parametrize("mode", sorted(MODES))
def test_matmul_misalignment_names_shapes(mode):
    with pytest.raises(ValueError) as info:
        MODES[mode](lambda x: anp.matmul(x, np.ones((4, 5))), np.ones((2, 3)))
    msg = str(info.value)
    assert "matmul" in msg
    assert "(2, 3)" in msg and "(4, 5)" in msg


def test_matmul_vector_misalignment():
    with pytest.raises(ValueError, match="matmul") as info:
        anp.matmul(np.ones((2, 3)), np.ones(4))
    assert "(2, 3)" in str(info.value) and "(4, 1)" in str(info.value)


def test_vjp_cotangent_shape_mismatch():
    _, pullback = vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        pullback(np.ones(2))


def test_jvp_tangent_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        jvp(anp.sin, (np.ones(3),), (np.ones(2),))


# --------------------------------------------------------------------------------------------
# Concretization
# --------------------------------------------------------------------------------------------


def _assert_explains_alternatives(err: Exception) -> None:
    msg = str(err)
    for word in ("where", "cond", "scan"):
        assert word in msg, f"{word!r} not in {msg!r}"


def test_bool_of_staged_value_raises_concretization_error():
    with pytest.raises(autodiff.ConcretizationError) as info:
        make_graph(lambda x: 1.0 if x > 0 else 0.0)(1.0)
    _assert_explains_alternatives(info.value)
    assert "bool[]" in str(info.value)  # the abstract type of the offending value


def test_concretization_error_is_a_type_error():
    """So that code catching TypeError (NumPy's convention for this) still catches it."""
    assert issubclass(autodiff.ConcretizationError, TypeError)


def test_float_of_staged_value():
    with pytest.raises(autodiff.ConcretizationError, match="f64\\[2\\]"):
        make_graph(lambda x: float(x[:2] * 2.0) + x)(np.ones(3))
    with pytest.raises(autodiff.ConcretizationError, match="i64\\[\\]"):
        make_graph(lambda x, n: x[: int(n)])(np.ones(3), 2)


def test_if_on_batched_value_in_vmap():
    with pytest.raises(autodiff.ConcretizationError) as info:
        vmap(lambda x: x if x > 0 else -x)(np.array([1.0, -1.0]))
    _assert_explains_alternatives(info.value)


def test_python_control_flow_on_unbatched_value_in_vmap_is_fine():
    """The error is specific: a value shared by the batch is concrete."""
    out = vmap(lambda x, s: x * 2.0 if s > 0 else -x, in_axes=(0, None))(np.ones(2), 1.0)
    np.testing.assert_allclose(out, [2.0, 2.0])


def test_python_control_flow_under_grad_is_fine():
    """Reverse mode records the path taken: no concretization error (contrast with staging)."""
    assert grad(lambda x: x**2 if x > 0 else -x)(3.0) == 6.0


# --------------------------------------------------------------------------------------------
# grad's preconditions
# --------------------------------------------------------------------------------------------


def test_grad_of_non_scalar_function():
    with pytest.raises(TypeError) as info:
        grad(lambda x: x * 2.0)(np.ones(3))
    msg = str(info.value)
    assert "scalar" in msg and "jacrev" in msg and "(3,)" in msg


def test_grad_of_tuple_output_function():
    with pytest.raises(TypeError, match="scalar"):
        grad(lambda x: (x, x))(1.0)


@pytest.mark.parametrize("arg", [3, np.arange(3), np.int32(2)])
def test_grad_wrt_integer_input_names_dtype(arg):
    with pytest.raises(TypeError) as info:
        grad(lambda x: anp.sum(x * 2.0))(arg)
    msg = str(info.value)
    assert re.search(r"int(32|64)", msg)
    assert "float" in msg


def test_integer_argument_not_differentiated_is_fine():
    assert grad(lambda x, n: x**n, argnums=0)(2.0, 3) == 12.0


def test_has_aux_requires_pair():
    with pytest.raises(TypeError, match="pair"):
        grad(lambda x: x * 2.0, has_aux=True)(1.0)


def test_argnums_out_of_range():
    with pytest.raises(IndexError, match="argnums"):
        grad(lambda x: x, argnums=2)(1.0)


# --------------------------------------------------------------------------------------------
# NumPy functions on tracers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, name",
    [
        (lambda x: np.fft.fft(x), "fft"),
        (lambda x: np.unique(x), "unique"),
        (lambda x: np.median(x), "median"),
    ],
)
def test_unsupported_numpy_function_on_tracer_names_it(fn, name):
    with pytest.raises(TypeError) as info:
        grad(lambda x: anp.sum(fn(x)))(np.array([1.0, 2.0, 2.0]))
    assert name in str(info.value)


def test_unsupported_numpy_ufunc_on_tracer_names_it():
    with pytest.raises(TypeError, match="numpy.spacing"):
        grad(lambda x: anp.sum(np.spacing(x)))(np.array([1.0, 2.0]))


def test_supported_numpy_functions_on_tracer_are_redirected():
    """np.exp / np.sum on a tracer go through autodiff (so the error above is selective)."""
    g = grad(lambda x: np.sum(np.exp(x)))(np.array([0.0, 1.0]))
    np.testing.assert_allclose(g, np.exp([0.0, 1.0]))


# --------------------------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, index, bad, axis, size",
    [
        ((4,), 5, 5, 0, 4),
        ((4,), -5, -5, 0, 4),
        ((4, 3), (slice(None), 7), 7, 1, 3),
        ((4,), np.array([0, 9]), 9, 0, 4),
        ((2, 3), (1, np.array([-4, 0])), -4, 1, 3),
    ],
)
@pytest.mark.parametrize("mode", ["eager_tracer", "staged"])
def test_out_of_bounds_index_names_index_axis_and_shape(shape, index, bad, axis, size, mode):
    def f(x):
        return anp.sum(x[index])

    with pytest.raises(IndexError) as info:
        if mode == "staged":
            make_graph(f)(np.ones(shape))
        else:
            grad(f)(np.ones(shape))
    msg = str(info.value)
    assert f"index {bad}" in msg
    assert f"axis {axis}" in msg
    assert f"size {size}" in msg
    assert str(shape) in msg


def test_too_many_indices():
    with pytest.raises(IndexError, match=r"too many indices.*\(2,\)"):
        grad(lambda x: x[0, 1])(np.ones(2))


def test_traced_boolean_mask_rejected_with_advice():
    with pytest.raises(IndexError, match="where"):
        make_graph(lambda x: anp.sum(x[x > 0]))(np.ones(3))


def test_float_index_rejected():
    with pytest.raises(IndexError, match="integer"):
        grad(lambda x: anp.sum(x[np.array([0.0, 1.0])]))(np.ones(3))


def test_at_set_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        grad(lambda x: anp.sum(x.at[1:3].set(np.ones(3))))(np.ones(4))


# --------------------------------------------------------------------------------------------
# Leaked tracers
# --------------------------------------------------------------------------------------------


def test_leaked_tracer_from_grad():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2.0

    assert grad(f)(1.0) == 2.0
    with pytest.raises(autodiff.LeakedTracerError) as info:
        _ = leaked[0] + 1.0
    assert "escaped" in str(info.value)
    with pytest.raises(autodiff.LeakedTracerError):
        anp.sin(leaked[0])
    with pytest.raises(autodiff.LeakedTracerError):  # also inside a new transformation
        grad(lambda y: leaked[0] * y)(1.0)


def test_leaked_tracer_from_vmap_and_make_graph():
    box = []

    def f(x):
        box.append(x)
        return x + 1.0

    vmap(f)(np.ones(3))
    make_graph(f)(1.0)
    for t in box:
        with pytest.raises(autodiff.LeakedTracerError):
            anp.exp(t)


# --------------------------------------------------------------------------------------------
# Control flow
# --------------------------------------------------------------------------------------------


def test_scan_carry_dtype_change_names_both_types():
    with pytest.raises(TypeError) as info:
        scan(lambda c, x: (c + x, None), 0, np.ones(3))  # int carry becomes float
    msg = str(info.value)
    assert "i64[]" in msg and "f64[]" in msg


def test_scan_carry_shape_change_names_both_types():
    with pytest.raises(TypeError) as info:
        scan(lambda c, x: (anp.ones(2) * c, None), 0.0, np.ones(3))
    msg = str(info.value)
    assert "f64[2]" in msg and "f64[]" in msg


def test_scan_carry_structure_change():
    with pytest.raises(TypeError, match="structure"):
        scan(lambda c, x: ((c, c), None), 0.0, np.ones(3))


def test_scan_body_must_return_pair():
    with pytest.raises(TypeError, match="pair"):
        scan(lambda c, x: c + x, 0.0, np.ones(3))


def test_scan_length_mismatch():
    with pytest.raises(ValueError, match=r"3.*4|4.*3"):
        scan(lambda c, x: (c, None), 0.0, np.ones(3), length=4)
    with pytest.raises(ValueError, match="length"):
        scan(lambda c, x: (c, None), 0.0, None)


def test_cond_mismatched_branch_shapes():
    with pytest.raises(TypeError) as info:
        cond(True, lambda x: x, lambda x: anp.stack([x, x]), 1.0)
    msg = str(info.value)
    assert "f64[]" in msg and "f64[2]" in msg


def test_cond_mismatched_branch_structures():
    with pytest.raises(TypeError, match="structure"):
        cond(True, lambda x: x, lambda x: (x, x), 1.0)


def test_cond_non_scalar_predicate():
    with pytest.raises(TypeError, match=r"scalar.*\(2,\)"):
        cond(np.array([True, False]), lambda x: x, lambda x: -x, 1.0)


# --------------------------------------------------------------------------------------------
# vmap
# --------------------------------------------------------------------------------------------


def test_vmap_inconsistent_batch_sizes():
    with pytest.raises(ValueError, match=r"\[2, 3\]"):
        vmap(lambda a, b: a + b)(np.ones(2), np.ones(3))


def test_vmap_in_axes_wrong_length():
    with pytest.raises(ValueError, match="in_axes"):
        vmap(lambda a, b: a + b, in_axes=(0,))(np.ones(2), np.ones(2))


def test_vmap_in_axes_out_of_range():
    with pytest.raises(ValueError, match=r"in_axes=2.*\(2, 3\)"):
        vmap(lambda a: a, in_axes=2)(np.ones((2, 3)))
