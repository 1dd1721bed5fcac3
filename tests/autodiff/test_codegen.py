"""The Numba compiler's first cut: compiled results equal the NumPy evaluator, the disk cache
serves a second process, and the debugging switch runs generated code as Python."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import autodiff
import autodiff.scipy.special
from autodiff.codegen import LoweringError
from tests.autodiff.rule_cases import CASES, NONDIFF_CASES

# one case per primitive family keeps compile time bounded
FIRST_PER_NAME = list({c.name: c for c in reversed(CASES + NONDIFF_CASES)}.values())[::-1]


@pytest.mark.parametrize("case", FIRST_PER_NAME, ids=lambda c: c.id)
def test_compiled_equals_numpy_evaluator(case):
    rng = np.random.default_rng(sum(map(ord, case.id)))
    args = case.draw(rng)
    graph = autodiff.make_graph(case.fn)(*args)
    (expected,) = autodiff.eval_graph(graph, *args)
    try:
        got = autodiff.jit(case.fn)(*args)
    except LoweringError as err:  # not lowered yet: the error must name the primitive
        assert "no Numba lowering" in str(err)
        pytest.xfail(str(err))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert np.shape(got) == np.shape(expected)


@pytest.mark.parametrize(
    "case", [c for c in FIRST_PER_NAME if c.differentiable], ids=lambda c: c.id
)
def test_compiled_gradient_equals_eager(case):
    rng = np.random.default_rng(sum(map(ord, case.id)) + 7)
    args = case.draw(rng)
    weights = rng.normal(size=np.shape(case.fn(*args)))
    argnums = tuple(range(len(args)))
    grad = autodiff.grad(lambda *xs: autodiff.numpy.sum(weights * case.fn(*xs)), argnums=argnums)
    try:
        got = autodiff.jit(grad)(*args)
    except LoweringError as err:
        assert "no Numba lowering" in str(err)
        pytest.xfail(str(err))
    for g, e in zip(got, grad(*args)):
        np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-12)


def test_value_and_grad_compiles():
    anp = autodiff.numpy

    def f(x):
        return anp.sum(anp.exp(x) * 2.0 + anp.sin(x)[::-1]) + anp.max(x)

    x = np.array([0.3, -1.0, 2.0])
    value, grad = autodiff.jit(autodiff.value_and_grad(f))(x)
    v_ref, g_ref = autodiff.value_and_grad(f)(x)
    np.testing.assert_allclose(value, v_ref, rtol=1e-13)
    np.testing.assert_allclose(grad, g_ref, rtol=1e-13)


SCRIPT = textwrap.dedent(
    """
    import numpy as np, autodiff, autodiff.numpy as anp
    from autodiff.scipy.special import gammaln
    f = autodiff.jit(autodiff.grad(lambda x: anp.sum(gammaln(x) * anp.log(x))))
    print(repr(f(np.array([1.5, 2.5]).copy()).tolist()))
    import sys
    mods = [m for m in sys.modules.values() if m.__name__.startswith("numbayes_generated_")]
    print(sum(len(m.compiled.stats.cache_hits) for m in mods),
          sum(len(m.compiled.stats.cache_misses) for m in mods))
    """
)


def _run(env):
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         check=True)
    value, counts = out.stdout.strip().splitlines()
    return value, tuple(map(int, counts.split()))


def test_second_process_loads_from_disk_cache(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    first_value, (hits1, misses1) = _run(env)
    second_value, (hits2, misses2) = _run(env)
    assert first_value == second_value
    assert misses1 >= 1 and hits1 == 0  # the first process compiled
    assert hits2 >= 1 and misses2 == 0  # the second compiled nothing


def test_debug_switch_runs_generated_code_as_python(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBAYES_DISABLE_JIT": "1"}
    script = (
        "import numpy as np, autodiff, autodiff.numpy as anp\n"
        "f = autodiff.jit(lambda x: anp.sum(anp.exp(x)))\n"
        "print(float(f(np.zeros(2))), type(f(np.zeros(2))).__name__)\n"
        "import sys\n"
        "mod = [m for m in sys.modules.values() if m.__name__.startswith('numbayes_generated_')]\n"
        "print(type(mod[0].compiled).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "2.0"
    assert out[-1] == "function"  # a plain Python function, not a Numba dispatcher


def test_division_by_zero_follows_numpy_and_reaches_the_status():
    """Generated code uses NumPy's error model: x / 0 is inf (an exception could not leave the
    C-ABI model kernel), and the kernel reports the non-finite value through its status."""
    from autodiff.codegen import compile_logp_grad
    from kernels.model_abi import evaluate

    anp = autodiff.numpy
    f = autodiff.jit(lambda x, y: anp.sum(x / y))
    assert f(np.ones(2), np.zeros(2)) == np.inf
    graph = autodiff.make_graph(autodiff.value_and_grad(lambda th, s: anp.sum(th / s)))(
        np.ones(2), np.array(0.0))
    kernel = compile_logp_grad(graph)
    pointer, keepalive = kernel.pack_data([np.array(0.0)])
    status, logp = evaluate(kernel.address, pointer, np.ones(2), np.zeros(2))
    assert status != 0 and not np.isfinite(logp)
    del keepalive


_ONE_ALGORITHM_GRID = np.concatenate([np.linspace(-40.0, 40.0, 161), [-745.0, -710.0, 0.0, 1e-300]])


@pytest.mark.parametrize(
    "fn, x",
    [
        (autodiff.scipy.special.log1pexp, _ONE_ALGORITHM_GRID),
        (autodiff.scipy.special.expit, _ONE_ALGORITHM_GRID),
        (autodiff.scipy.special.log1mexp, np.abs(_ONE_ALGORITHM_GRID)),
    ],
    ids=["log1pexp", "expit", "log1mexp"],
)
def test_special_function_is_one_algorithm(fn, x):
    """A scalar (the C library's exp and log1p) and a fused loop (the vectorised kernels of
    kernels.vector_math, where the function has them) compute one formula, and so does the
    eager primitive (NumPy's vectorised exp): all agree to 2 ulp."""
    with np.errstate(divide="ignore"):
        eager = fn(x)
    fused = autodiff.jit(fn)(x)
    scalar = np.array([autodiff.jit(fn)(v) for v in x])
    for other in (scalar, eager):
        finite = np.isfinite(other)
        np.testing.assert_array_equal(fused[~finite], other[~finite])
        ulps = np.abs(fused[finite] - other[finite]) / np.spacing(np.abs(other[finite]))
        assert ulps.max() <= 2.0, (x[finite][np.argmax(ulps)], ulps.max())


def test_every_registered_primitive_has_a_numba_lowering():
    from autodiff.codegen import has_lowering
    from autodiff.core import REGISTRY
    from autodiff.ops import INTERNAL

    missing = sorted(name for name in REGISTRY if name not in INTERNAL and not has_lowering(name))
    assert missing == [], f"primitives without a Numba lowering: {missing}"


NEW_MODEL_SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np
    import numba.core.compiler as compiler
    compiled = []
    original = compiler.compile_extra
    def counting(*args, **kwargs):
        compiled.append(args[2].__qualname__)
        return original(*args, **kwargs)
    compiler.compile_extra = counting
    import autodiff, autodiff.numpy as anp
    from autodiff.codegen import compile_logp_grad
    from autodiff.scipy.special import log1pexp
    n, k = int(sys.argv[1]), int(sys.argv[2])
    def logp(theta, X, y):
        eta = theta[0] + X @ theta[1:]
        return anp.sum(y * eta - log1pexp(eta)) - 0.5 * anp.sum(theta ** 2)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, k)), (rng.random(n) < 0.5).astype(float)
    graph = autodiff.make_graph(autodiff.value_and_grad(logp))(np.zeros(k + 1), X, y)
    kernel = compile_logp_grad(graph)
    lp, g = kernel(np.full(k + 1, 0.1), X, y)
    ref_lp, ref_g = autodiff.value_and_grad(logp)(np.full(k + 1, 0.1), X, y)
    assert abs(lp - ref_lp) < 1e-9 * abs(ref_lp) and np.allclose(g, ref_g, rtol=1e-10)
    print(" ".join(compiled))
    """
)


def test_a_new_model_compiles_one_function_once_the_library_is_cached(tmp_path):
    """Generated code reaches NumPy functionality only through disk-cached helpers with
    non-literal shapes: a model of new sizes compiles its own C function and nothing else."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    env.pop("NUMBAYES_DISABLE_JIT", None)

    def run(n, k):
        return subprocess.run([sys.executable, "-c", NEW_MODEL_SCRIPT, str(n), str(k)], env=env,
                              capture_output=True, text=True, check=True).stdout.split()

    first = run(40, 3)  # compiles the library's helpers into the empty cache
    assert "logp_grad" in first and len(first) > 1
    assert run(57, 4) == ["logp_grad"]


def test_generated_code_of_a_cond_does_not_depend_on_what_was_traced_before():
    """The printed branches (in the graph's text and the source's comments) carry no variable
    ids, so the same function traced twice is one module, one disk-cache entry."""
    from autodiff.codegen import graph_to_source

    def f(p, x):
        return autodiff.cond(p, lambda x: x * x, lambda x: -x, x)

    first = autodiff.make_graph(f)(np.int64(0), np.ones(3))
    second = autodiff.make_graph(f)(np.int64(0), np.ones(3))
    assert "Var(" not in str(first)
    assert graph_to_source(first)[0] == graph_to_source(second)[0]


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: autodiff.numpy.sum(x, axis=1),
        lambda x: autodiff.numpy.sum(x, axis=0),
        lambda x: autodiff.numpy.cumsum(x, axis=1),
        lambda x: autodiff.numpy.cumsum(x[:, ::-1], axis=0),
        lambda x: autodiff.numpy.cumprod(x, axis=1),
        lambda x: autodiff.numpy.sum(x[:, :0], axis=1),
    ],
    ids=["sum1", "sum0", "cumsum1", "cumsum0", "cumprod1", "sum_empty"],
)
def test_compiled_reductions_with_infinite_entries_equal_numpy(fn):
    """Infinite first elements of a row: the result is NumPy's (±inf), not NaN."""
    x = np.array([[np.inf, 1.0, 2.0], [-np.inf, 2.0, 0.5], [3.0, -1.0, np.inf]])
    with np.errstate(invalid="ignore"):
        expected = fn(x)  # NumPy's own values: the functions run eagerly on arrays
    np.testing.assert_array_equal(autodiff.jit(fn)(x), expected)


@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("axis", [0, 1, 2, (0, 1), (0, 2), (1, 2), (2, 0), None])
def test_compiled_float_reductions_over_any_axes_equal_numpy(kind, axis):
    """Reductions lowered as loops over the operand (any loop order): NumPy's values, NaN
    propagated, and a sum of negative zeros is -0.0."""
    x = np.random.default_rng(5).normal(size=(3, 4, 5))
    x[1, 2, 3] = np.nan
    got = autodiff.jit(lambda v: getattr(autodiff.numpy, kind)(v, axis=axis))(x)
    np.testing.assert_allclose(got, getattr(np, kind)(x, axis=axis), rtol=1e-13)
    zeros = np.full((2, 3), -0.0)
    assert np.all(np.signbit(autodiff.jit(lambda v: autodiff.numpy.sum(v, axis=0))(zeros)))
