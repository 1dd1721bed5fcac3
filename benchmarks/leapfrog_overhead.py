r"""The sampler's own cost per leapfrog step: NUTS on a model that costs next to nothing.

The model is an independent normal in ``d`` dimensions with scales from 0.5 to 2
(:math:`\log\pi(\theta) = -\tfrac12\sum_i \theta_i^2/s_i^2`), written as a C-ABI ``@cfunc``
(:mod:`kernels.model_abi`), so what is timed is the transition itself: momentum draws, leapfrog
updates, U-turn checks, multinomial weights. :func:`kernels.nuts_transition.nuts_transition` is
called from an ``@njit`` loop with a diagonal inverse metric equal to the true variances and a
fixed step size (0.35, about six leapfrog steps per transition at ``d = 10``) from one random
stream, so every repeat integrates the same kind of trajectories; the figure is the loop's time
divided by the number of leapfrog steps it took.

Each repeat runs 20 000 transitions; the table prints the minimum and the median of the repeats,
whose spread is the machine noise. Run: ``python benchmarks/leapfrog_overhead.py``
(``--dims 2,10,100``, ``--repeats 7``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from numba import carray, cfunc, njit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kernels.metric import DIAG, Metric  # noqa: E402
from kernels.model_abi import LOGP_GRAD_SIG, Model  # noqa: E402
from kernels.nuts_transition import nuts_transition, nuts_workspace  # noqa: E402
from kernels.rng import seed_streams  # noqa: E402

STEP_SIZE = 0.35
TRANSITIONS = 20_000


@cfunc(LOGP_GRAD_SIG, cache=True)
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


@njit
def _transitions(model, metric, q, grad, logp, n, rng_state, work):
    steps = 0
    for _ in range(n):
        stats = nuts_transition(model, metric, q, grad, logp, STEP_SIZE, 10, 1000.0, rng_state,
                                work)
        logp = stats.lp
        steps += stats.n_steps
    return steps


def nanoseconds_per_leapfrog(dim: int, repeats: int) -> list[float]:
    """Time ``repeats`` loops of :data:`TRANSITIONS` transitions in ``dim`` dimensions."""
    scales = np.linspace(0.5, 2.0, dim)
    data = np.concatenate([[float(dim)], scales])
    model = Model(_diagonal_normal.address, data.ctypes.data)
    metric = Metric(DIAG, scales**2, np.zeros((0, 0)), np.zeros((0, 0)))
    q, grad = np.zeros(dim), np.zeros(dim)
    rng_state = seed_streams(1, 1)[0].copy()
    work = nuts_workspace.py_func(dim, 10)
    _transitions(model, metric, q, grad, 0.0, 10, rng_state, work)  # compile or load
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        steps = _transitions(model, metric, q, grad, 0.0, TRANSITIONS, rng_state, work)
        times.append((time.perf_counter() - t0) / steps * 1e9)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", default="2,10,100")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"NUTS transition, ns per leapfrog step ({TRANSITIONS} transitions per repeat, "
          f"{args.repeats} repeats; min and median)")
    print(f"{'dim':>6} {'min':>8} {'median':>8}")
    for dim in (int(x) for x in args.dims.split(",")):
        ns = nanoseconds_per_leapfrog(dim, args.repeats)
        print(f"{dim:>6} {min(ns):>8.0f} {float(np.median(ns)):>8.0f}")


if __name__ == "__main__":
    main()
