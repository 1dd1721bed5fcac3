r"""Stiff ODE gradients: forward sensitivities against the checkpointed adjoint
(``odeint(..., method="rosenbrock")``), and one checkout of the code against another.

Problems (the gradient of a scalar loss of the solution, under ``autodiff.jit``):

* **robertson**: Robertson's chemical kinetics (n = 3; rates 0.04, 3e7, 1e4), 7 output times
  from 0.4 to 4e4, rtol 1e-9, atol 1e-13; differentiated with respect to ``y0`` and the log
  rates (6 directions);
* **van der pol**: Van der Pol's oscillator with mu = 1000 (n = 2), 31 output times over
  [0, 3000] (about two periods, four relaxation jumps), rtol = atol = 1e-8; with respect to
  ``log mu`` and ``y0`` (3 directions).

For each, ``sensitivity="forward"`` (the sensitivity matrix integrated along, n(1 + D)
components) and ``sensitivity="adjoint"`` (a forward re-solve keeping checkpoints, then the
adjoint of n + P components backwards: :mod:`autodiff.ops.ode_adjoint`).  Both gradients are
checked against each other first.  *steps* is the forward solve's step count (attempted, from
``odeint_with_info``: a count, independent of the machine's load).  *record* is the floats the
adjoint keeps of the forward solution for that many steps: every step's row (the code before the
checkpoints: rows of 3n + 1, in an array grown by doubling from 64 rows) or the checkpoints and
one segment (:func:`kernels.ode_checkpoints.record_floats`).

Timings: each sample is the mean of ``--inner`` (3) calls; a worker process takes ``--repeats``
(5) samples of each gradient, forward and adjoint alternating, after compiling both; with
``--before PATH`` (another checkout, e.g. the main branch) the workers of the two checkouts
alternate for ``--rounds`` (3) rounds, in reversed order every other round, each checkout with
its own compile cache (compiled in the first round), so both see the same machine load.  The
minimum and median over all samples are printed with the load average.

Run: ``python benchmarks/ode_stiff.py [--before /path/to/other/checkout]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBLEMS = ("robertson", "van der pol")


def _problem(name: str):
    """``(loss(x, sensitivity), x, solve(x) -> info, n)`` of a problem."""
    import autodiff.numpy as anp
    from autodiff import odeint
    from autodiff.ops.ode import odeint_with_info

    if name == "robertson":
        ts = np.array([0.0, 0.4, 4.0, 40.0, 400.0, 4e3, 4e4])
        tol = {"rtol": 1e-9, "atol": 1e-13}
        x = np.concatenate([[1.0, 0.0, 0.0], np.log([0.04, 3e7, 1e4])])

        def rhs(y, t, k):
            return anp.stack([-k[0] * y[0] + k[2] * y[1] * y[2],
                              k[0] * y[0] - k[2] * y[1] * y[2] - k[1] * y[1] ** 2,
                              k[1] * y[1] ** 2])

        def args(x):
            return x[:3], (anp.exp(x[3:]),)

        def loss_of(ys):
            return anp.sum(anp.log(ys[1:, 2])) + anp.sum(ys[1:, 0])

        n = 3
    else:
        ts = np.linspace(0.0, 3000.0, 31)
        tol = {"rtol": 1e-8, "atol": 1e-8}
        x = np.array([np.log(1000.0), 2.0, 0.0])

        def rhs(y, t, mu):
            return anp.stack([y[1], mu * (1.0 - y[0] ** 2) * y[1] - y[0]])

        def args(x):
            return x[1:], (anp.exp(x[0]),)

        def loss_of(ys):
            return anp.sum(ys[1:, 0] * np.linspace(1.0, 2.0, ts.size - 1)) + anp.sum(ys[1:, 1] ** 2)

        n = 2

    def loss(x, sensitivity):
        y0, extra = args(x)
        return loss_of(odeint(rhs, y0, ts, *extra, method="rosenbrock", sensitivity=sensitivity,
                              **tol))

    def solve(x):
        y0, extra = args(x)
        return odeint_with_info(rhs, y0, ts, *extra, method="rosenbrock", **tol)[1]

    return loss, x, solve, n


def worker(repeats: int, inner: int) -> dict:
    import autodiff

    out = {}
    for name in PROBLEMS:
        loss, x, solve, n = _problem(name)
        fns = {s: autodiff.jit(autodiff.grad(lambda v, s=s, loss=loss: loss(v, s)))
               for s in ("forward", "adjoint")}
        grads = {s: np.asarray(fn(x)) for s, fn in fns.items()}  # compiles
        scale = np.abs(grads["forward"]).max()
        agree = float(np.abs(grads["adjoint"] - grads["forward"]).max() / scale)
        samples: dict[str, list[float]] = {s: [] for s in fns}
        for _ in range(repeats):
            for s, fn in fns.items():
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn(x)
                samples[s].append((time.perf_counter() - t0) / inner)
        out[name] = {"samples": samples, "agree": agree, "steps": int(solve(x)[2]), "n": n,
                     "dirs": int(x.size)}
    return out


def _run_worker(checkout: str, cache: str, repeats: int, inner: int) -> dict:
    env = {**os.environ, "PYTHONPATH": checkout, "NUMBA_CACHE_DIR": cache}
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", "--out", f.name,
                        "--repeats", str(repeats), "--inner", str(inner)], env=env, check=True,
                       cwd=checkout)
        with open(f.name) as fh:
            return json.load(fh)


def _full_record(n: int, steps: int) -> int:
    rows = 64
    while rows < steps + 1:
        rows *= 2
    return rows * (3 * n + 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="another checkout to compare with, run alternately")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inner", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        with open(args.out, "w") as f:
            json.dump(worker(args.repeats, args.inner), f)
        return
    sys.path.insert(0, REPO_DIR)
    from kernels.ode_checkpoints import record_floats

    checkouts = {"this": REPO_DIR} if not args.before else {"before": args.before,
                                                             "this": REPO_DIR}
    load_start = os.getloadavg()[0]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as caches:
        for r in range(args.rounds):  # the order alternates too (the load drifts)
            for label, path in list(checkouts.items())[:: 1 if r % 2 == 0 else -1]:
                got = _run_worker(path, os.path.join(caches, label), args.repeats, args.inner)
                for name, r in got.items():
                    mine = results.setdefault(label, {}).setdefault(name, {**r, "samples": {
                        s: [] for s in r["samples"]}})
                    for s, v in r["samples"].items():
                        mine["samples"][s] += v
    load_end = os.getloadavg()[0]
    print(f"stiff gradients (method='rosenbrock', jit): ms per gradient, min / median of "
          f"{args.rounds * args.repeats} samples (each the mean of {args.inner} calls); "
          f"{os.cpu_count()} cores, load average {load_start:.1f} at start, {load_end:.1f} at "
          f"the end")
    print(f"{'problem':<13}{'code':<8}{'n':>3}{'dirs':>5}{'steps':>7}{'forward ms':>17}"
          f"{'adjoint ms':>17}{'adj/fwd':>8}{'|adj-fwd|':>11}{'record':>9}")
    for name in PROBLEMS:
        for label in checkouts:
            r = results[label][name]
            fwd, adj = r["samples"]["forward"], r["samples"]["adjoint"]
            record = (_full_record(r["n"], r["steps"]) if label == "before"
                      else record_floats(r["n"], r["steps"]))
            print(f"{name:<13}{label:<8}{r['n']:>3}{r['dirs']:>5}{r['steps']:>7}"
                  f"{min(fwd) * 1e3:>8.2f} /{statistics.median(fwd) * 1e3:>7.2f}"
                  f"{min(adj) * 1e3:>8.2f} /{statistics.median(adj) * 1e3:>7.2f}"
                  f"{min(adj) / min(fwd):>8.2f}{r['agree']:>11.1e}{record:>9}")
    print("|adj-fwd|: the largest difference of the two gradients over the largest component; "
          "record: floats kept of the forward solution by the adjoint ('before': every step, "
          "'this': checkpoints and one segment, if this checkout has them)")


if __name__ == "__main__":
    main()
