r"""Data-only terms computed once (``autodiff.hoisting``): model gradients with and without.

For each model compiled through ``ppl.model`` -- a Poisson regression and a negative-binomial
regression (``X`` 5000 x 10, the counts' ``gammaln(y + 1)`` is data-only), and the four models
of the MCMC suite (``suite_models``: eight schools, logistic regression, stochastic volatility,
hierarchical linear) -- it compiles the same staged graph (:func:`ppl.model.log_density_graph`)
twice: as :func:`ppl.model.compile_model` does (data-only values hoisted out of the kernel), and
with nothing hoisted (every data input declared ``refilled``, so the split finds nothing).
It checks that both give the same log density and gradient (1e-12 relative), prints what was
hoisted, and times one ``(logp, grad)`` evaluation of each, called by address from an
``@njit`` loop exactly as the samplers call it (``gradient._timing_loops``), the repeats of the
two interleaved; the table shows min and median of 7 repeats and the load average.

Where nothing is hoisted the two kernels are the same code, and their ratio shows the machine's
noise.  Run: ``python benchmarks/hoisting.py [--repeats 7]`` (about a minute, most of it
compiling; more repeats on a loaded machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.dirname(BENCH_DIR))

import gradient  # noqa: E402
from gradient import _timing_loops, measure  # noqa: E402
from suite_models import MODELS, lang_numbayes  # noqa: E402

import autodiff.numpy as anp  # noqa: E402
import ppl  # noqa: E402
from autodiff.codegen import compile_logp_grad  # noqa: E402
from ppl import dist  # noqa: E402
from ppl.model import compile_model, log_density_graph  # noqa: E402

SEED = 16


def poisson_regression(X, y):
    alpha = ppl.sample("alpha", dist.Normal(0.0, 2.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    with ppl.plate("n", X.shape[0]):
        ppl.sample("y", dist.Poisson(anp.exp(alpha + X @ beta)), obs=y)


def negative_binomial_regression(X, y):
    alpha = ppl.sample("alpha", dist.Normal(0.0, 2.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    phi = ppl.sample("phi", dist.HalfNormal(5.0))
    with ppl.plate("n", X.shape[0]):
        ppl.sample("y", dist.NegativeBinomial2(anp.exp(alpha + X @ beta), phi), obs=y)


def count_data(n: int = 5000, k: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n, k)) * 0.3
    mu = np.exp(1.0 + X @ rng.normal(size=k))
    y = rng.negative_binomial(5.0, 5.0 / (5.0 + mu)).astype(float)
    return {"X": X, "y": y}


def models() -> dict[str, tuple]:
    L = lang_numbayes()
    out = {"poisson_regression": (poisson_regression, count_data()),
           "negbin_regression": (negative_binomial_regression, count_data())}
    for name in ("eight_schools_noncentred", "logistic_regression", "stochastic_volatility",
                 "hierarchical_linear"):
        spec = MODELS[name]
        out[name] = (spec.for_lang(L), spec.data())
    return out


def _runs(ours_loop, hoisted, plain, plain_ptr, theta) -> dict:
    grad = np.empty(theta.size)
    t = theta.copy()
    return {
        "hoisted": lambda n: ours_loop(hoisted.logp_grad_address, hoisted.data_pointer, t, grad, n),
        "plain": lambda n: ours_loop(plain.address, plain_ptr, t, grad, n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=gradient.REPEATS)
    gradient.REPEATS = parser.parse_args().repeats
    ours_loop, _ = _timing_loops()
    rows = []
    for name, (model, data) in models().items():
        hoisted = compile_model(model, **data)
        graph = log_density_graph(model, **data)
        n_data = len(graph.inputs) - 1
        plain = compile_logp_grad(graph, refilled=range(n_data))
        assert not plain.prelude.outputs
        plain_ptr, keep = plain.pack_data(hoisted.arguments.data)
        rng = np.random.default_rng(SEED)
        theta = rng.uniform(-0.5, 0.5, hoisted.dim)
        lp_h, g_h = hoisted.logp_and_grad(theta)
        lp_p, g_p = plain(theta, *hoisted.arguments.data)
        scale = max(np.max(np.abs(g_p)), 1e-300)
        err = max(abs(lp_h - lp_p) / abs(lp_p), float(np.max(np.abs(g_h - g_p))) / scale)
        assert err < 1e-12, (name, err)
        what = [f"{e.primitive.name}" for e in hoisted.logp_grad.prelude.eqns]
        print(f"{name}: hoisted {len(hoisted.logp_grad.prelude.outputs)} values "
              f"({', '.join(what) or 'nothing'}); max relative difference {err:.1e}")
        times = measure(_runs(ours_loop, hoisted, plain, plain_ptr, theta))
        same = not hoisted.logp_grad.prelude.outputs
        rows.append((name + (" (same code)" if same else ""), times["plain"], times["hoisted"],
                     os.getloadavg()[0]))
        del keep
    print()
    print(f"{'model':38s} {'no hoisting µs (min/med)':>25s} {'hoisted µs (min/med)':>22s} "
          f"{'ratio min/med':>14s} {'load':>5s}")
    for name, plain_t, hoist_t, load in rows:
        pm, pd = min(plain_t) * 1e6, statistics.median(plain_t) * 1e6
        hm, hd = min(hoist_t) * 1e6, statistics.median(hoist_t) * 1e6
        print(f"{name:38s} {pm:12.1f} / {pd:10.1f} {hm:10.1f} / {hd:9.1f} "
              f"{hm / pm:7.2f} / {hd / pd:4.2f} {load:5.1f}")


if __name__ == "__main__":
    main()
