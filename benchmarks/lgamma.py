r"""The branch-free ``lgamma`` of :mod:`kernels.vector_math` against SciPy's scalar ``gammaln``.

Two tables:

1. **Kernel throughput**: ns per element of a summed loop over 5000 arguments (``@njit``,
   ``vm.accumulate`` for the sum, as fused loops of generated code write it), calling
   ``vm.lgamma`` (the loop is vectorised) or ``kernels.special.gammaln`` (SciPy's cephes
   through its C binding: the loop stays scalar), on arguments in (0.5, 8), (8, 1000), (0.5,
   1000) and (-50, 50).  This is what a fused loop of ``gammaln`` gains when it vectorises,
   e.g. a compiled log density (``autodiff.jit``) without gradient.
2. **A negative-binomial regression gradient** (``benchmarks/hoisting.py``'s model): its loop
   computes ``gammaln(y + phi)`` and ``digamma(y + phi)`` together; ``digamma`` has no vector
   kernel, so the loop cannot vectorise and the code generator keeps SciPy's scalar kernels in
   it (:func:`autodiff.lowering.calls_scalar_kernel`).  Shown: that choice against the vector
   ``lgamma`` forced into the scalar loop, to show why.

Repeats interleaved (7 each by default), min and median, with the load average.
Run: ``python benchmarks/lgamma.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numba
import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.dirname(BENCH_DIR))

import gradient  # noqa: E402
from gradient import _timing_loops, measure  # noqa: E402
from hoisting import count_data, negative_binomial_regression  # noqa: E402

import autodiff.codegen.fusion as fusion  # noqa: E402
from autodiff.codegen import compile_logp_grad  # noqa: E402
from kernels import vector_math as vm  # noqa: E402
from kernels.special import gammaln  # noqa: E402
from ppl.model import log_density_graph  # noqa: E402

N = 5000


@numba.njit(error_model="numpy")
def _vector_sum(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = vm.accumulate(total, vm.lgamma(x[i]))
    return total


@numba.njit(error_model="numpy")
def _scalar_sum(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = vm.accumulate(total, gammaln(x[i]))
    return total


@numba.njit(error_model="numpy")
def _repeat(f, x, n):
    acc = 0.0
    for _ in range(n):
        acc += f(x)
    return acc


def kernel_table() -> None:
    rng = np.random.default_rng(16)
    ranges = {"(0.5, 8)": (0.5, 8.0), "(8, 1000)": (8.0, 1000.0), "(0.5, 1000)": (0.5, 1000.0),
              "(-50, 50)": (-50.0, 50.0)}
    print(f"{'arguments':12s} {'vm.lgamma ns/elem (min/med)':>28s} "
          f"{'SciPy gammaln ns/elem (min/med)':>32s} {'speed-up min':>12s} {'load':>5s}")
    for name, (lo, hi) in ranges.items():
        x = rng.uniform(lo, hi, N)
        np.testing.assert_allclose(_vector_sum(x), _scalar_sum(x), rtol=1e-13)
        times: dict[str, list[float]] = {"vm": [], "sp": []}
        _repeat(_vector_sum, x, 1), _repeat(_scalar_sum, x, 1)
        for _ in range(gradient.REPEATS):
            for key, f in (("vm", _vector_sum), ("sp", _scalar_sum)):
                t0 = time.perf_counter()
                _repeat(f, x, 200)
                times[key].append((time.perf_counter() - t0) / 200 / N * 1e9)
        vmin, vmed = min(times["vm"]), statistics.median(times["vm"])
        smin, smed = min(times["sp"]), statistics.median(times["sp"])
        print(f"{name:12s} {vmin:14.2f} / {vmed:9.2f} {smin:18.2f} / {smed:9.2f} "
              f"{smin / vmin:12.2f} {os.getloadavg()[0]:5.1f}")


def gradient_table() -> None:
    data = count_data()
    graph = log_density_graph(negative_binomial_regression, **data)
    chosen = compile_logp_grad(graph)
    keep = fusion.calls_scalar_kernel
    fusion.calls_scalar_kernel = lambda eqn: False  # vector kernels forced into the loop
    try:
        forced = compile_logp_grad(graph)
    finally:
        fusion.calls_scalar_kernel = keep
    assert "vm.lgamma(" in forced.source and "vm.lgamma(" not in chosen.source
    args = [data["X"], data["y"]]
    theta = np.random.default_rng(16).uniform(-0.5, 0.5, graph.inputs[0].aval.shape[0])
    np.testing.assert_allclose(chosen(theta, *args)[0], forced(theta, *args)[0], rtol=1e-13)
    loop, _ = _timing_loops()
    p1, keep1 = chosen.pack_data(args)
    p2, keep2 = forced.pack_data(args)
    grad = np.empty(theta.size)
    times = measure({
        "scalar kernels (chosen)": lambda n: loop(chosen.address, p1, theta, grad, n),
        "vector kernels forced": lambda n: loop(forced.address, p2, theta, grad, n),
    })
    print()
    print("negative-binomial regression gradient (N = 5000), µs per call, min / median:")
    for name, t in times.items():
        print(f"  {name:26s} {min(t) * 1e6:8.1f} / {statistics.median(t) * 1e6:8.1f}")
    print(f"  load average {os.getloadavg()[0]:.1f}")
    del keep1, keep2


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=gradient.REPEATS)
    gradient.REPEATS = parser.parse_args().repeats
    kernel_table()
    gradient_table()
