r"""The sampler's own cost per leapfrog step: NUTS on a model that costs next to nothing.

The model is an independent normal in ``d`` dimensions with scales from 0.5 to 2
(:math:`\log\pi(\theta) = -\tfrac12\sum_i \theta_i^2/s_i^2`).

**numbayes** (default): the model is a C-ABI ``@cfunc`` (:mod:`kernels.model_abi`), so what is
timed is the transition itself: momentum draws, leapfrog updates, U-turn checks, multinomial
weights. :func:`kernels.nuts_transition.nuts_transition` is called from an ``@njit`` loop with a
diagonal inverse metric equal to the true variances and a fixed step size (0.35, about six
leapfrog steps per transition at ``d = 10``) from one random stream, so every repeat integrates
the same kind of trajectories; "total" is the loop's time divided by the number of leapfrog
steps it took. Each repeat runs 20 000 transitions (no draws are stored).

**nutpie** (``--library nutpie``, in an interpreter where nutpie and PyMC are installed): the
same model in PyMC, compiled by ``nutpie.compile_pymc_model(model, backend="numba")``, sampled
with one chain, 1000 tuning steps and its default adaptation. "total" is a difference of two
runs with the same seed (identical warmups): the wall time of ``nutpie.sample(...,
return_raw_trace=True)`` with ``1000 + extra`` draws minus the one with 1000 draws, divided by
the leapfrog steps of the extra draws (from the ``n_steps`` statistic). It therefore also
contains nutpie's per-draw costs (storing the draw and its statistics), spread over the steps
of a draw, but not its startup, compile or warmup.

For both, "gradient" is the model's own cost per evaluation, timed in an ``@njit`` loop that
calls the same compiled function (nutpie's ``compiled_logp_func``, our ``@cfunc`` through
:func:`kernels.model_abi.evaluate`) a million times at one point; "overhead" = total - gradient
is the sampler's cost per leapfrog step. All times are CPU seconds of the process
(``time.process_time``; the timed code runs on one thread, nutpie's on its one sampling
thread), which the load of other jobs on a shared machine changes less than wall time. The step
sizes differ (nutpie adapts its own), so the
table also prints the leapfrog steps per draw and the total per draw. The table prints medians over the repeats and, for
"total", the range of the repeats (the machine noise). Run::

    python benchmarks/leapfrog_overhead.py                      # --dims 2,10,100 --repeats 7
    /tmp/bench_venv/bin/python benchmarks/leapfrog_overhead.py --library nutpie
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np
from numba import carray, cfunc, njit, types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

STEP_SIZE = 0.35
TRANSITIONS = 20_000
GRADIENT_CALLS = 1_000_000
NUTPIE_TUNE, NUTPIE_DRAWS = 1000, 1000
#: Extra draws of the second nutpie run, by dimension (about 0.1 s of sampling each).
NUTPIE_EXTRA = {2: 40_000, 10: 20_000, 100: 4000}

# kernels.model_abi.LOGP_GRAD_SIG, written out so that "--library nutpie" imports nothing of ours
_LOGP_GRAD_SIG = types.int64(types.CPointer(types.float64), types.CPointer(types.float64),
                             types.CPointer(types.float64), types.voidptr)


@cfunc(_LOGP_GRAD_SIG, cache=True)
def _diagonal_normal(theta, grad, logp, data):
    """Independent normals N(0, s_i^2); data = [d, s_1, ..., s_d]."""
    d = int(carray(data, (1,), np.float64)[0])
    scales = carray(data, (1 + d,), np.float64)
    t = carray(theta, (d,))
    g = carray(grad, (d,))
    total = 0.0
    for i in range(d):
        z = t[i] / scales[1 + i]
        g[i] = -z / scales[1 + i]
        total += z * z
    logp[0] = -0.5 * total
    return 0


def _scales(dim: int) -> np.ndarray:
    return np.linspace(0.5, 2.0, dim)


def numbayes_timings(dim: int, repeats: int) -> tuple[list[float], float, float]:
    """``(total ns per leapfrog per repeat, gradient ns per evaluation, leapfrogs per
    transition)`` of :func:`kernels.nuts_transition.nuts_transition` in ``dim`` dimensions."""
    from kernels.metric import DIAG, Metric
    from kernels.model_abi import Model, evaluate
    from kernels.nuts_transition import nuts_transition, nuts_workspace
    from kernels.rng import seed_streams

    @njit
    def transitions(model, metric, q, grad, logp, n, rng_state, work):
        steps = 0
        for _ in range(n):
            stats = nuts_transition(model, metric, q, grad, logp, STEP_SIZE, 10, 1000.0,
                                    rng_state, work)
            logp = stats.lp
            steps += stats.n_steps
        return steps

    @njit
    def gradients(model, q, grad, n):
        total = 0.0
        for _ in range(n):
            total += evaluate(model.address, model.data, q, grad)[1]
        return total

    scales = _scales(dim)
    data = np.concatenate([[float(dim)], scales])
    model = Model(_diagonal_normal.address, data.ctypes.data)
    metric = Metric(DIAG, scales**2, np.zeros((0, 0)), np.zeros((0, 0)))
    q, grad = np.zeros(dim), np.zeros(dim)
    rng_state = seed_streams(1, 1)[0].copy()
    work = nuts_workspace.py_func(dim, 10)
    transitions(model, metric, q, grad, 0.0, 10, rng_state, work)  # compile
    times, steps = [], 0
    for _ in range(repeats):
        t0 = time.process_time()
        steps = transitions(model, metric, q, grad, 0.0, TRANSITIONS, rng_state, work)
        times.append((time.process_time() - t0) / steps * 1e9)
    gradient = _time_gradient(lambda n: gradients(model, np.full(dim, 0.3), grad, n))
    return times, gradient, steps / TRANSITIONS


def _time_gradient(loop: Callable[[int], float]) -> float:
    loop(10)  # compile
    t0 = time.process_time()
    loop(GRADIENT_CALLS)
    return (time.process_time() - t0) / GRADIENT_CALLS * 1e9


def nutpie_timings(dim: int, repeats: int) -> tuple[list[float], float, float]:
    """The same three figures for nutpie (module docstring: how they are measured)."""
    import pymc as pm
    from nutpie import compile_pymc_model, sample

    with pm.Model() as pymc_model:
        pm.Normal("x", 0.0, _scales(dim), shape=dim)
    compiled = compile_pymc_model(pymc_model, backend="numba")
    extra = NUTPIE_EXTRA.get(dim, 4000)

    def run(draws: int, raw: bool):
        return sample(compiled, draws=draws, tune=NUTPIE_TUNE, chains=1, cores=1, seed=1,
                      progress_bar=False, return_raw_trace=raw)

    # the same seed gives the same warmup and first draws: the extra draws' steps are the
    # difference of the two runs' n_steps
    steps = [float(run(n, False).sample_stats.n_steps.sum())
             for n in (NUTPIE_DRAWS, NUTPIE_DRAWS + extra)]
    extra_steps = steps[1] - steps[0]
    times = []
    for _ in range(repeats):
        walls = []
        for n in (NUTPIE_DRAWS, NUTPIE_DRAWS + extra):
            t0 = time.process_time()
            run(n, True)
            walls.append(time.process_time() - t0)
        times.append((walls[1] - walls[0]) / extra_steps * 1e9)

    logp = compiled.compiled_logp_func
    user_data = compiled.user_data

    @njit
    def gradients(x, grad, out, n):
        total = 0.0
        for _ in range(n):
            logp(np.uint64(x.shape[0]), x.ctypes, grad.ctypes, out.ctypes, user_data.ctypes)
            total += out[0]
        return total

    x, grad, out = np.full(dim, 0.3), np.zeros(dim), np.zeros(1)
    gradient = _time_gradient(lambda n: gradients(x, grad, out, n))
    return times, gradient, extra_steps / extra


LIBRARIES = {"numbayes": numbayes_timings, "nutpie": nutpie_timings}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", default="numbayes", choices=list(LIBRARIES))
    parser.add_argument("--dims", default="2,10,100")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"{args.library}: NUTS, ns per leapfrog step, medians over {args.repeats} repeats "
          f"(total: range in brackets)")
    print(f"{'dim':>6} {'total':>8} {'(min - max)':>16} {'gradient':>9} {'overhead':>9} "
          f"{'steps/draw':>11} {'total/draw':>11}")
    for dim in (int(x) for x in args.dims.split(",")):
        ns, gradient, per_draw = LIBRARIES[args.library](dim, args.repeats)
        total = float(np.median(ns))
        print(f"{dim:>6} {total:>8.0f} {f'({min(ns):.0f} - {max(ns):.0f})':>16} "
              f"{gradient:>9.0f} {total - gradient:>9.0f} {per_draw:>11.1f} "
              f"{total * per_draw:>11.0f}", flush=True)


if __name__ == "__main__":
    main()
