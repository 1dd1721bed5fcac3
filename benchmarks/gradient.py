r"""Compiled log-density gradients: ours against hand-written Numba, NumPy/BLAS and JAX.

Four densities, written directly with ``autodiff.numpy`` (see ``_handwritten.py`` for the maths
and the competitors):

* eight schools, non-centred (dim 10);
* logistic regression, ``X`` of shape 5000 x 25 (dim 26);
* stochastic volatility with Student-t returns, T = 500 (dim 503);
* hierarchical linear regression, N = 919 observations in J = 85 groups (dim 89): a gather
  ``a[g]`` and, in the gradient, a scatter-add back into ``a``.

For each one it reports the time of one ``(logp, grad)`` evaluation:

* **ours** -- ``compile_logp_grad(make_graph(value_and_grad(logp)))`` called by address from an
  ``@njit`` loop through :func:`kernels.model_abi.evaluate`, exactly as the samplers call it;
* **hand loop / hand np.dot** -- hand-written Numba gradients, called from an ``@njit`` loop
  and validated afterwards with the same finiteness check ``evaluate`` applies;
* **NumPy** -- vectorised NumPy/SciPy/BLAS, called from a Python loop;
* **JAX** -- ``jax.jit(jax.value_and_grad(logp))`` from a Python loop (``n/a`` without JAX),
  and **JAX loop**: the same gradient called ``n`` times inside one jitted ``lax.fori_loop``
  (nudging ``theta[0]`` like our loop does), which is XLA's time without Python's dispatch --
  the figure ours is compared with (``ours/JAX loop``).

Every competitor is first checked against ours (log density and gradient to 1e-8 relative).
Each timing is repeated 7 times (each repeat ~0.1 s of calls), the repeats of all competitors
of a model interleaved so that bursts of load from other jobs hit them alike; the table prints
the minimum and the median, and the spread between them is the machine noise.  BLAS is held to
one thread while timing when ``threadpoolctl`` is available (a sampler runs one chain per core).

Compile time is measured in fresh subprocesses (``subprocess`` running a ``-c`` script that
prints JSON): *cold* with an empty temporary ``NUMBA_CACHE_DIR``, and *warm* in a second process
on the same cache folder, which must compile nothing (every call of Numba's ``compile_extra`` is
counted).  Reported apart: the import time, Numba's own per-process set-up (its typing and
lowering registries, filled the first time a process compiles or loads anything) and the time
from the start of ``make_graph`` to having the address.  One more cold run compiles the logistic
regression in a cache that already holds the library's kernels (another logistic model of
other shapes went first): the cost of a new model for a user whose cache is warm.

Run: ``python benchmarks/gradient.py`` (about a minute on 2 shared cores; ``pip install jax``
adds the JAX column).

The project's targets are printed next to the figures, judged on the measured minimum:
per gradient within 1.3x of the best hand-written version, cold compile of the
logistic-regression gradient under 2 s, second-process load under 0.3 s (both counting
Numba's set-up, not the import).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff.scipy.special import gammaln, log1pexp

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

TARGET_RATIO = 1.3  # ours / best hand-written, per gradient
TARGET_JAX_RATIO = 1.0  # ours / XLA in its own loop, logistic regression (issue 16)
TARGET_COLD_S = 2.0  # cold compile of the logistic-regression gradient
TARGET_WARM_S = 0.3  # second-process load of a compiled gradient
REPEATS = 7
REPEAT_SECONDS = 0.1
WARM_RUNS = 2
SMALL_LOGISTIC = (1000, 10)  # shapes of the model that pre-fills the cache
SEED = 20251126

LOG_2PI = math.log(2.0 * math.pi)
LOG_PI = math.log(math.pi)


# ---------------------------------------------------------------------------------------------
# The densities, as a user of the library writes them
# ---------------------------------------------------------------------------------------------


def eight_schools_logp(theta, y, sigma):
    """Non-centred eight schools; ``theta = (mu, log_tau, z[8])``."""
    mu, log_tau, z = theta[0], theta[1], theta[2:]
    tau = anp.exp(log_tau)
    lp_mu = -0.5 * (mu / 5.0) ** 2 - math.log(5.0) - 0.5 * LOG_2PI
    lp_tau = math.log(10.0 / math.pi) - anp.log(25.0 + tau * tau) + log_tau  # + Jacobian
    lp_z = -0.5 * anp.sum(z * z) - 0.5 * z.shape[0] * LOG_2PI
    resid = (y - mu - tau * z) / sigma
    lp_y = -0.5 * anp.sum(resid * resid) - anp.sum(anp.log(sigma)) - 0.5 * y.shape[0] * LOG_2PI
    return lp_mu + lp_tau + lp_z + lp_y


def logistic_logp(theta, X, y):
    """Bayesian logistic regression; ``theta = (alpha, beta[25])``."""
    alpha, beta = theta[0], theta[1:]
    eta = alpha + X @ beta
    lp_alpha = -0.5 * (alpha / 5.0) ** 2 - math.log(5.0) - 0.5 * LOG_2PI
    lp_beta = -0.5 * anp.sum(beta * beta) - 0.5 * beta.shape[0] * LOG_2PI
    return lp_alpha + lp_beta + anp.sum(y * eta - log1pexp(eta))


def sv_logp(theta, r):
    """Stochastic volatility, Student-t returns; ``theta = (log_sigma, log_nu, mu_h, h_raw[T])``."""
    log_sigma, log_nu, mu_h, h_raw = theta[0], theta[1], theta[2], theta[3:]
    sigma, nu = anp.exp(log_sigma), anp.exp(log_nu)
    n = r.shape[0]
    lp_sigma = math.log(10.0) - 10.0 * sigma + log_sigma  # Exponential(10) + Jacobian
    lp_nu = 2.0 * math.log(0.1) + 2.0 * log_nu - 0.1 * nu  # Gamma(2, rate 0.1) + Jacobian
    lp_mu = -0.5 * ((mu_h + 4.0) / 2.0) ** 2 - math.log(2.0) - 0.5 * LOG_2PI
    lp_raw = -0.5 * anp.sum(h_raw * h_raw) - 0.5 * n * LOG_2PI
    h = mu_h + sigma * anp.cumsum(h_raw)
    z = r / anp.exp(h)
    half = 0.5 * (nu + 1.0)
    lp_r = (
        n * (gammaln(half) - gammaln(0.5 * nu) - 0.5 * (log_nu + LOG_PI))
        - anp.sum(h) - half * anp.sum(anp.log1p(z * z / nu))
    )
    return lp_sigma + lp_nu + lp_mu + lp_raw + lp_r


def hierarchical_logp(theta, g, x, y):
    """Varying intercepts, non-centred; ``theta = (mu_a, log_sigma_a, b, log_sigma_y, a_raw[J])``."""
    mu_a, log_sa, b, log_sy, a_raw = theta[0], theta[1], theta[2], theta[3], theta[4:]
    sa, sy = anp.exp(log_sa), anp.exp(log_sy)
    half_normal_5 = math.log(2.0) - 0.5 * LOG_2PI - math.log(5.0)
    lp_hyper = (
        -0.5 * (mu_a / 10.0) ** 2 - 0.5 * (b / 10.0) ** 2 - 2.0 * math.log(10.0) - LOG_2PI
        - 0.5 * (sa / 5.0) ** 2 - 0.5 * (sy / 5.0) ** 2 + 2.0 * half_normal_5 + log_sa + log_sy
    )
    lp_raw = -0.5 * anp.sum(a_raw * a_raw) - 0.5 * a_raw.shape[0] * LOG_2PI
    r = (y - (mu_a + sa * a_raw)[g] - b * x) / sy
    lp_y = -0.5 * anp.sum(r * r) - y.shape[0] * (log_sy + 0.5 * LOG_2PI)
    return lp_hyper + lp_raw + lp_y


# ---------------------------------------------------------------------------------------------
# Data (fixed seed) and a test point for each model
# ---------------------------------------------------------------------------------------------


def eight_schools_data() -> tuple[np.ndarray, list[np.ndarray]]:
    y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    theta = np.random.default_rng(SEED).normal(size=10)
    return theta, [y, sigma]


def logistic_data(n: int = 5000, k: int = 25) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(SEED + 1)
    X = rng.normal(size=(n, k))
    alpha, beta = 0.5, rng.normal(scale=0.5, size=k)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(alpha + X @ beta)))).astype(np.float64)
    theta = np.concatenate([[alpha], beta]) + rng.normal(scale=0.1, size=k + 1)
    return theta, [X, y]


def sv_data() -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(SEED + 2)
    n, sigma, nu, mu_h = 500, 0.15, 8.0, -4.0
    h_raw = rng.normal(size=n)
    r = np.exp(mu_h + sigma * np.cumsum(h_raw)) * rng.standard_t(nu, size=n)
    theta = np.concatenate([[math.log(sigma), math.log(nu), mu_h], h_raw])
    theta += rng.normal(scale=0.1, size=theta.size)
    return theta, [r]


def hierarchical_data(n: int = 919, j: int = 85) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(SEED + 3)
    g = np.sort(rng.integers(0, j, n))  # groups of uneven sizes, stored group by group
    x = (rng.random(n) < 0.5).astype(np.float64)
    a = 1.5 + 0.7 * rng.normal(size=j)
    y = a[g] - 0.6 * x + 0.8 * rng.normal(size=n)
    theta = np.concatenate([[1.5, math.log(0.7), -0.6, math.log(0.8)], (a - 1.5) / 0.7])
    theta += rng.normal(scale=0.1, size=theta.size)
    return theta, [g, x, y]


@dataclass
class Model:
    """A benchmark density, its data and the names of its competitors in ``_handwritten``."""

    label: str
    logp: Callable
    make: Callable[..., tuple[np.ndarray, list[np.ndarray]]]  # -> (test point, data)
    handwritten: list[str] = field(default_factory=list)  # names in _handwritten
    numpy: str = ""
    jax: str = ""


MODELS: dict[str, Model] = {
    "eight_schools": Model("eight schools", eight_schools_logp, eight_schools_data,
                           ["eight_schools_numba"], "eight_schools_numpy", "eight_schools"),
    "logistic": Model("logistic 5000x25", logistic_logp, logistic_data,
                      ["logistic_loop_numba", "logistic_dot_numba"], "logistic_numpy", "logistic"),
    "sv": Model("stoch. volatility", sv_logp, sv_data, ["sv_numba"], "sv_numpy", "sv"),
    "hierarchical": Model("hierarchical 919", hierarchical_logp, hierarchical_data,
                          ["hierarchical_numba"], "hierarchical_numpy", "hierarchical"),
}


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def _timing_loops():
    """The ``@njit`` loops that call each gradient ``n`` times (compiled on first use).

    Both loops nudge ``theta[0]`` by 1e-12 on odd iterations so that no compiler can hoist a
    loop-invariant call, and both validate the result the way samplers do (``evaluate`` does it
    for ours; ``_validated`` repeats the same check for the hand-written kernels)."""
    import numba

    from kernels.model_abi import evaluate
    from kernels.status import MODEL_NONFINITE

    @numba.njit
    def _validated(lp, grad):
        if not math.isfinite(lp):
            return MODEL_NONFINITE
        for j in range(grad.shape[0]):
            if not math.isfinite(grad[j]):
                return MODEL_NONFINITE
        return 0

    @numba.njit
    def ours(address, data_ptr, theta, grad, n):
        base = theta[0]
        acc = 0.0
        for i in range(n):
            theta[0] = base + (i & 1) * 1e-12
            status, lp = evaluate(address, data_ptr, theta, grad)
            acc += lp + status
        theta[0] = base
        return acc

    @numba.njit
    def hand(kernel, theta, grad, data, n):
        base = theta[0]
        acc = 0.0
        for i in range(n):
            theta[0] = base + (i & 1) * 1e-12
            lp = kernel(theta, grad, *data)
            acc += lp + _validated(lp, grad)
        theta[0] = base
        return acc

    return ours, hand


def _calls_per_repeat(run: Callable[[int], object]) -> int:
    """How many calls make one repeat of about ``REPEAT_SECONDS`` (after a warm-up call)."""
    run(1)  # compile / warm up
    n = 1
    while True:
        t0 = time.perf_counter()
        run(n)
        dt = time.perf_counter() - t0
        if dt > 0.01:
            return max(1, int(n * REPEAT_SECONDS / dt))
        n *= 4


def measure(runs: dict[str, Callable[[int], object]]) -> dict[str, list[float]]:
    """Seconds per call for each ``run(n)`` (which makes ``n`` calls), ``REPEATS`` repeats each.

    The repeats are interleaved (one repeat of every competitor, then the next round), so that
    a burst of load from other jobs on the machine hits all of them alike."""
    counts = {name: _calls_per_repeat(run) for name, run in runs.items()}
    per_call: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run(counts[name])
            per_call[name].append((time.perf_counter() - t0) / counts[name])
    return per_call


def python_loop(fn: Callable[[], object]) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            fn()

    return run


def check_close(who: str, model: str, lp, grad, lp_ref, grad_ref, rtol: float = 1e-8) -> None:
    """Agreement to ``rtol`` relative (gradient components relative to the gradient's scale)."""
    grad = np.asarray(grad)
    scale = float(np.max(np.abs(grad_ref)))
    err_lp = abs(float(lp) - lp_ref) / max(abs(lp_ref), 1e-300)
    err_g = float(np.max(np.abs(grad - grad_ref) / (np.abs(grad_ref) + scale)))
    if not (err_lp <= rtol and err_g <= rtol):
        raise AssertionError(
            f"{who} disagrees with our compiled gradient on {model}: relative error "
            f"{err_lp:.2e} in logp, {err_g:.2e} in the gradient (tolerance {rtol:g})"
        )


def abi_floor(dim: int, ours_loop) -> list[float]:
    """Time of a do-nothing model (copies ``-theta`` to ``grad``) called through ``evaluate``:
    the cost of the call-by-address path itself."""
    from numba import carray, cfunc

    from kernels.model_abi import LOGP_GRAD_SIG

    @cfunc(LOGP_GRAD_SIG)
    def trivial(theta_ptr, grad_ptr, logp_ptr, data_ptr):
        theta = carray(theta_ptr, (dim,))
        grad = carray(grad_ptr, (dim,))
        for i in range(dim):
            grad[i] = -theta[i]
        logp_ptr[0] = 0.0
        return 0

    theta, grad = np.zeros(dim), np.zeros(dim)
    return measure({"floor": lambda n: ours_loop(trivial.address, 0, theta, grad, n)})["floor"]


# ---------------------------------------------------------------------------------------------
# Compile time, in fresh processes
# ---------------------------------------------------------------------------------------------

_COMPILE_SCRIPT = """
import json, sys, time
t_start = time.perf_counter()
import numba.core.compiler as _compiler
_compiled = []
_compile_extra = _compiler.compile_extra
def _counting(typingctx, targetctx, func, *args, **kwargs):
    _compiled.append(getattr(func, "__qualname__", repr(func)))
    return _compile_extra(typingctx, targetctx, func, *args, **kwargs)
_compiler.compile_extra = _counting
import autodiff, autodiff.numpy, autodiff.scipy.special, autodiff.codegen, kernels.model_abi
t_import = time.perf_counter()
# Numba fills its typing/lowering registries the first time a process compiles or loads
# anything; done here explicitly so that its cost is reported on its own
from numba.core.registry import cpu_target
cpu_target.target_context.refresh()
cpu_target.typing_context.refresh()
t_init = time.perf_counter()
sys.path.insert(0, {bench_dir!r})
import gradient as bench
model = bench.MODELS[{name!r}]
theta, data = model.make(*{make_args!r})
t0 = time.perf_counter()
graph = autodiff.make_graph(autodiff.value_and_grad(model.logp))(theta, *data)
kernel = autodiff.codegen.compile_logp_grad(graph)
address = kernel.address
t1 = time.perf_counter()
print(json.dumps({{"import": t_import - t_start, "init": t_init - t_import,
                  "compile": t1 - t0, "total": t1 - t_import, "n_compiled": len(_compiled),
                  "compiled": sorted(set(_compiled))[:12]}}))
"""


def compile_in_subprocess(name: str, cache: str, make_args: tuple = ()) -> dict:
    """Compile model ``name`` (data from ``make(*make_args)``) in a fresh interpreter whose
    Numba cache folder is ``cache``; returns the script's timings (seconds).

    ``import``: numba + the library; ``init``: Numba's per-process registry set-up;
    ``compile``: start of ``make_graph`` to having the address; ``total = init + compile``
    (what a process pays from import to address); ``n_compiled``: functions Numba compiled."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    env.pop("NUMBAYES_DISABLE_JIT", None)
    script = _COMPILE_SCRIPT.format(bench_dir=BENCH_DIR, name=name, make_args=tuple(make_args))
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"compile subprocess for {name} failed (exit status {proc.returncode}):\n"
            f"{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def _fmt_us(t: list[float] | None) -> str:
    if t is None:
        return "n/a"
    lo, med = min(t) * 1e6, statistics.median(t) * 1e6
    digits = 3 if lo < 1 else (2 if lo < 10 else (1 if lo < 100 else 0))
    return f"{lo:.{digits}f} / {med:.{digits}f}"


def _verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def _time_model(model: Model, ours_loop, hand_loop, jax_logps) -> dict[str, list[float]]:
    """Check every competitor against our compiled gradient at the test point, then time them
    all; returns ``{column: seconds per call in each repeat}``."""
    import _handwritten as hw

    from autodiff.codegen import compile_logp_grad
    from kernels.model_abi import evaluate

    theta, data = model.make()
    graph = autodiff.make_graph(autodiff.value_and_grad(model.logp))(theta, *data)
    kernel = compile_logp_grad(graph)
    data_ptr, keepalive = kernel.pack_data(data)  # keepalive: the arrays behind the pointer
    grad_ref = np.zeros_like(theta)
    status, lp_ref = evaluate(kernel.address, data_ptr, theta, grad_ref)
    if status != 0:
        raise RuntimeError(f"our gradient of {model.label} failed at the test point ({status})")

    th, g = theta.copy(), np.zeros_like(theta)
    runs: dict[str, Callable[[int], object]] = {
        "ours": lambda n: ours_loop(kernel.address, data_ptr, th, g, n)
    }
    for hname in model.handwritten:
        fn = getattr(hw, hname)
        g_h = np.zeros_like(theta)
        lp_h = fn(theta.copy(), g_h, *data)
        check_close(f"hand-written {hname}", model.label, lp_h, g_h, lp_ref, grad_ref)
        runs[hname] = lambda n, fn=fn: hand_loop(fn, th, g, tuple(data), n)
    np_fn = getattr(hw, model.numpy)
    lp_np, g_np = np_fn(theta, *data)
    check_close(f"NumPy {model.numpy}", model.label, lp_np, g_np, lp_ref, grad_ref)
    runs["numpy"] = python_loop(lambda: np_fn(theta, *data))
    if jax_logps is not None:
        import jax
        import jax.numpy as jnp

        value_and_grad = jax.jit(jax.value_and_grad(jax_logps[model.jax]))
        args = [jnp.asarray(theta), *[jnp.asarray(d) for d in data]]
        lp_j, g_j = value_and_grad(*args)
        check_close("JAX", model.label, float(lp_j), np.asarray(g_j), lp_ref, grad_ref)
        runs["jax"] = python_loop(lambda: value_and_grad(*args)[1].block_until_ready())
        runs["jax_loop"] = _jax_in_loop(value_and_grad, args)
    times = measure(runs)
    del keepalive
    return times


def _jax_in_loop(value_and_grad: Callable, args: list) -> Callable[[int], object]:
    """``run(n)``: ``n`` JAX gradients inside one jitted ``fori_loop``, ``theta[0]`` nudged by
    1e-12 on odd iterations (as in our loop, so that XLA cannot hoist the call)."""
    import jax
    from jax import lax

    @jax.jit
    def many(n, theta, *data):
        def body(i, acc):
            lp, g = value_and_grad(theta.at[0].add((i % 2) * 1e-12), *data)
            return acc + lp + g[0]

        return lax.fori_loop(0, n, body, 0.0)

    return lambda n: many(n, *args).block_until_ready()


@contextlib.contextmanager
def _one_blas_thread():
    """Limit BLAS to one thread while timing (a sampler runs one chain per core) when
    threadpoolctl is available; yields a line saying what was done."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield "BLAS threads: library default (threadpoolctl is not installed)"
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield "BLAS threads: 1 while timing (threadpoolctl); JAX/XLA keeps its own thread pool."


def _print_speed_table(rows: list, floor: list[float]) -> list[tuple[str, float, float, float | None]]:
    print()
    print(f"Per-gradient time in microseconds, 'min / median' of {REPEATS} interleaved repeats "
          f"(each ~{REPEAT_SECONDS} s of calls);")
    print("the min-median spread is the machine noise.  Every competitor agrees with ours to "
          "1e-8 relative (checked before timing).")
    header = (f"{'model':<18}{'dim':>4}  {'ours':>15}  {'hand loop':>15}  {'hand np.dot':>15}  "
              f"{'NumPy':>15}  {'JAX jit':>15}  {'JAX loop':>15}  {'ours/best':>15}  "
              f"{'ours/JAX loop':>13}")
    print(header)
    print("-" * len(header))
    ratios = []
    for model, dim, times in rows:
        hand = [times[h] for h in model.handwritten]
        best = min(hand, key=min)
        ratio = min(times["ours"]) / min(best)
        paired = statistics.median(o / b for o, b in zip(times["ours"], best))
        jax_loop = times.get("jax_loop")
        jax_ratio = None if jax_loop is None else min(times["ours"]) / min(jax_loop)
        ratios.append((model.label, ratio, paired, jax_ratio))
        dot = hand[1] if len(hand) > 1 else None
        print(f"{model.label:<18}{dim:>4}  {_fmt_us(times['ours']):>15}  {_fmt_us(hand[0]):>15}  "
              f"{_fmt_us(dot):>15}  {_fmt_us(times['numpy']):>15}  "
              f"{_fmt_us(times.get('jax')):>15}  {_fmt_us(jax_loop):>15}  "
              f"{f'{ratio:.2f}x ({paired:.2f}x)':>15}  "
              f"{'n/a' if jax_ratio is None else f'{jax_ratio:.2f}x':>13}")
    print("ours, hand-written: called from an @njit loop and validated as a sampler does; "
          "NumPy, JAX jit: from a Python loop; JAX loop: inside a jitted fori_loop.")
    print("ours/best: min over min, and in parentheses the median of the per-round ratios.")
    print(f"Floor of the call-by-address path alone (a do-nothing dim-10 model through "
          f"evaluate): {_fmt_us(floor)} us.")
    return ratios


def _print_compile_table() -> tuple[dict, dict]:
    print()
    print("Compile time of our gradient in fresh subprocesses, seconds.  cold: empty temporary "
          "NUMBA_CACHE_DIR; warm: a second")
    print("process on the same folder.  import = numba + autodiff + codegen + model_abi; "
          "init = Numba's per-process registry")
    print("set-up (paid once by any process that compiles or loads Numba code); compile = start "
          "of make_graph to the address;")
    print("total = init + compile; fns = functions Numba compiled (a warm process must compile "
          "none).")
    print(f"{'':<18}{'-------------- cold --------------':>36}   {'--------------- warm ---------------':>37}")
    print(f"{'model':<18}{'import':>7}{'init':>6}{'compile':>8}{'total':>8}{'fns':>5}   "
          f"{'import':>7}{'init':>6}{'compile':>8}{'total':>8}{'fns':>5}")
    results = {}
    for key, model in MODELS.items():
        with tempfile.TemporaryDirectory(prefix="numbayes-bench-cache-") as cache:
            cold = compile_in_subprocess(key, cache)
            warm = [compile_in_subprocess(key, cache) for _ in range(WARM_RUNS)]
        results[key] = (cold, warm)
        best = min(warm, key=lambda r: r["total"])
        worst = max(warm, key=lambda r: r["n_compiled"])
        print(f"{model.label:<18}{cold['import']:>7.2f}{cold['init']:>6.2f}{cold['compile']:>8.2f}"
              f"{cold['total']:>8.2f}{cold['n_compiled']:>5d}   "
              f"{best['import']:>7.2f}{best['init']:>6.2f}{best['compile']:>8.3f}"
              f"{best['total']:>8.3f}{worst['n_compiled']:>5d}"
              + ("" if not worst["n_compiled"] else f"  <- recompiled {worst['compiled']}"))
    # A new model in a cache that already holds the library's kernels: another logistic
    # regression (other shapes, hence other generated code) is compiled first in the folder.
    with tempfile.TemporaryDirectory(prefix="numbayes-bench-cache-") as cache:
        compile_in_subprocess("logistic", cache, SMALL_LOGISTIC)
        library_warm = compile_in_subprocess("logistic", cache)
    lw = library_warm
    print(f"{'logistic (new)':<18}{lw['import']:>7.2f}{lw['init']:>6.2f}{lw['compile']:>8.2f}"
          f"{lw['total']:>8.2f}{lw['n_compiled']:>5d}   (cold model, library kernels already "
          f"cached by a {SMALL_LOGISTIC[0]} x {SMALL_LOGISTIC[1]} logistic model)")
    print(f"(cold: one run per model; warm: best of {WARM_RUNS} runs, fns = the most any of them "
          "compiled.  Expect +-20% on this machine.)")
    return results, library_warm


def main() -> None:
    import _handwritten as hw
    import numba

    try:
        jax_logps = hw.jax_logps()
        import jax

        jax_version = jax.__version__
    except ImportError:
        jax_logps, jax_version = None, "not installed"

    print(__doc__.split("\n\n")[0])
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"numpy {np.__version__}, numba {numba.__version__}, jax {jax_version}")
    ours_loop, hand_loop = _timing_loops()
    rows = []
    with _one_blas_thread() as blas_note:
        print(blas_note)
        for model in MODELS.values():
            times = _time_model(model, ours_loop, hand_loop, jax_logps)
            rows.append((model, model.make()[0].size, times))
        floor = abi_floor(10, ours_loop)
    ratios = _print_speed_table(rows, floor)
    compiled, library_warm = _print_compile_table()

    print()
    print("Targets (as stated by the project) and the figures measured above:")
    for label, ratio, paired, _ in ratios:
        print(f"  per gradient, {label:<18}: ours / best hand-written = {ratio:5.2f}x "
              f"({paired:.2f}x)  (target <= {TARGET_RATIO}x)  {_verdict(ratio <= TARGET_RATIO)}")
    jax_ratio = next(r for label, *_, r in ratios if label == MODELS["logistic"].label)
    if jax_ratio is not None:
        print(f"  per gradient, logistic regression : ours / JAX loop = {jax_ratio:5.2f}x  "
              f"(target <= {TARGET_JAX_RATIO}x)  {_verdict(jax_ratio <= TARGET_JAX_RATIO)}")
    cold_lr = compiled["logistic"][0]["total"]
    print(f"  cold compile, logistic regression     : {cold_lr:6.2f} s  (target < {TARGET_COLD_S} s, "
          f"init + compile)  {_verdict(cold_lr < TARGET_COLD_S)}")
    print(f"    same, library kernels already cached: {library_warm['total']:6.2f} s  "
          f"{_verdict(library_warm['total'] < TARGET_COLD_S)}")
    for key, (_, warm) in compiled.items():
        best = min(warm, key=lambda r: r["total"])
        recompiled = max(r["n_compiled"] for r in warm)
        print(f"  second-process load, {MODELS[key].label:<18}: {best['total']:5.3f} s  "
              f"(target < {TARGET_WARM_S} s, init + compile; {best['compile']:.3f} s without "
              f"Numba's init)  {_verdict(best['total'] < TARGET_WARM_S and recompiled == 0)}"
              + ("" if recompiled == 0 else f" -- it compiled {recompiled} functions"))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
