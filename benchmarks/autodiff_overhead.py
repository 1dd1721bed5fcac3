"""Eager autodiff overhead: the cost of ``grad`` per primitive call, in microseconds.

Two workloads on small arrays (so the time is the engine's bookkeeping, not arithmetic):
* a 20-operation elementwise/reduction function of a length-8 vector;
* a 200-step ``scan`` (an AR(1)-style recursion), differentiated through the loop.

Run: ``python benchmarks/autodiff_overhead.py``.  Prints best-of-N wall times; the machine is
shared, so figures vary by ~10-20% between runs.
"""

from __future__ import annotations

import time

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff.scipy.special import log1pexp


def twenty_ops(x):
    y = anp.exp(x) * 2.0 + anp.sin(x)  # 4
    z = anp.log1p(y * y) - x / (1.0 + anp.abs(x))  # 6 more
    w = anp.tanh(z) * anp.sqrt(y + 1.0) + log1pexp(-z)  # 6 more
    return anp.sum(w * w) + anp.max(z) + anp.mean(y)  # 7 more


def scan_200(params, xs):
    rho, sigma = params[0], params[1]

    def step(h, x):
        h_new = rho * h + sigma * x
        return h_new, -0.5 * (h_new - x) ** 2

    _, terms = autodiff.scan(step, 0.0, xs)
    return anp.sum(terms)


def count_primitives(fn, *args) -> int:
    graph = autodiff.make_graph(fn)(*args)
    return len(graph.eqns)


def best_time(fn, repeat: int = 7, number: int = 20) -> float:
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=8)
    n_fwd = count_primitives(twenty_ops, x)
    grad_fn = autodiff.grad(twenty_ops)
    t_eval = best_time(lambda: twenty_ops(x))
    t_grad = best_time(lambda: grad_fn(x))
    n_grad = count_primitives(grad_fn, x)
    print(f"20-op function: {n_fwd} primitives forward, {n_grad} in the gradient graph")
    print(f"  eager evaluation : {t_eval * 1e6:8.1f} us  ({t_eval / n_fwd * 1e6:.1f} us/primitive)")
    print(f"  eager grad       : {t_grad * 1e6:8.1f} us  ({t_grad / n_grad * 1e6:.1f} us/primitive "
          f"of the gradient graph, {t_grad / n_fwd * 1e6:.1f} us per forward primitive)")

    params = np.array([0.9, 0.3])
    xs = rng.normal(size=200)
    scan_grad = autodiff.grad(scan_200)
    t_scan = best_time(lambda: scan_200(params, xs), repeat=3, number=3)
    t_scan_grad = best_time(lambda: scan_grad(params, xs), repeat=3, number=3)
    body = autodiff.make_graph(scan_200)(params, xs)
    (scan_eqn,) = [e for e in body.eqns if e.primitive.name == "scan"]
    n_body = len(scan_eqn.params["body"].eqns)
    print(f"200-step scan ({n_body} primitives per step):")
    print(f"  eager evaluation : {t_scan * 1e3:8.2f} ms  ({t_scan / (200 * n_body) * 1e6:.1f} us per "
          "primitive call)")
    print(f"  eager grad       : {t_scan_grad * 1e3:8.2f} ms  ({t_scan_grad / (200 * n_body) * 1e6:.1f}"
          " us per forward primitive call)")
    print(f"  gradient = {scan_grad(params, xs)}")


if __name__ == "__main__":
    main()
