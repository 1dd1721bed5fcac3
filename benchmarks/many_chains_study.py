r"""Where the gradients of a many-chain run go: ChEES-HMC against NumPyro's vectorised NUTS.

Load-independent counts for :mod:`many_chains`' runs (1,024 chains x (200 + 200) by default),
for each model and seed:

* gradients (leapfrog steps) spent in warmup and in sampling, summed over the chains (the
  step-size search of ChEES' first iteration, a few steps per chain, is not counted);
* the smallest bulk ESS over every scalar (``arviz.ess`` across all chains) and the ESS per
  1,000 gradients (warmup included), the figure that the wall time then scales;
* for ChEES, the warmup trace at a few iterations: step size, leapfrog steps (all chains take
  the same number), trajectory length :math:`T = L\epsilon / h_t` and the harmonic and
  arithmetic means of the acceptance probabilities; and the sampling phase's step size,
  steps and mean acceptance;
* for NumPyro, the mean tree size in warmup and sampling.

The wall time is printed too (noisy on a shared machine; compile excluded: each configuration
runs once with another seed first).

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/many_chains_study.py --seeds 1,2
    python benchmarks/many_chains_study.py --libraries numpyro --models hierarchical_linear
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from many_chains import MODELS, _min_ess  # noqa: E402

#: Warmup iterations shown in the trace.
TRACE = (0, 1, 2, 3, 5, 10, 20, 40, 70, 100, 150, 199)


def _halton(i: int) -> float:
    x, f = 0.0, 0.5
    while i > 0:
        x += f * (i & 1)
        i >>= 1
        f *= 0.5
    return x


def numbayes(spec, data, cfg, seeds, kernel_options):
    from suite_models import lang_numbayes

    from inference import MCMC, ChEES

    mcmc = MCMC(ChEES(spec.for_lang(lang_numbayes()), **kernel_options),
                num_warmup=cfg["warmup"], num_samples=cfg["draws"], num_chains=cfg["chains"],
                progress_bar=False, save_warmup=True)
    mcmc.run(seeds[0] + 1000, **data)  # compile
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        mcmc.run(seed, **data)
        wall = time.perf_counter() - t0
        samples = mcmc.get_samples(group_by_chain=True)
        ess = _min_ess({p: samples[p] for p in spec.params})
        w = mcmc.get_extra_fields(group_by_chain=True, warmup=True)
        s = mcmc.get_extra_fields(group_by_chain=True)
        g_w, g_s = int(w["n_steps"].sum()), int(s["n_steps"].sum())
        trace = []
        for t in TRACE:
            if t >= w["n_steps"].shape[1]:
                continue
            acc = np.clip(w["acceptance_rate"][:, t], 1e-300, None)
            eps, n = float(w["step_size"][0, t]), int(w["n_steps"][0, t])
            trace.append(f"t={t:<4d} eps={eps:8.4f} L={n:4d} T={n * eps / _halton(t + 1):7.3f} "
                         f"acc harm={len(acc) / np.sum(1 / acc):.3f} mean={acc.mean():.3f}")
        rows.append({
            "seed": seed, "wall": wall, "ess": ess, "g_warm": g_w, "g_samp": g_s,
            "eps": float(s["step_size"][0, 0]), "steps": float(s["n_steps"][0].mean()),
            "acc": float(s["acceptance_rate"].mean()),
            "div": int(s["diverging"].sum()), "div_w": int(w["diverging"].sum()),
            "T": mcmc.adapted["trajectory_length"], "trace": trace})
    return rows


def numpyro(spec, data, cfg, seeds, kernel_options):
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import numpyro
    from numpyro.infer import MCMC, NUTS
    from suite_models import lang_numpyro

    numpyro.enable_x64()
    mcmc = MCMC(NUTS(spec.for_lang(lang_numpyro())), num_warmup=cfg["warmup"],
                num_samples=cfg["draws"], num_chains=cfg["chains"],
                chain_method="vectorized", progress_bar=False)
    fields = ("num_steps", "diverging")

    def run(seed):
        key = jax.random.PRNGKey(seed)
        mcmc.warmup(key, collect_warmup=True, extra_fields=fields, **data)
        w = mcmc.get_extra_fields(group_by_chain=True)
        g_w = int(np.sum(w["num_steps"]))
        mcmc.run(mcmc.post_warmup_state.rng_key, extra_fields=fields, **data)
        s = mcmc.get_extra_fields(group_by_chain=True)
        samples = mcmc.get_samples(group_by_chain=True)
        return w, s, g_w, samples

    run(seeds[0] + 1000)  # compile
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        w, s, g_w, samples = run(seed)
        wall = time.perf_counter() - t0
        ess = _min_ess({p: np.asarray(samples[p]) for p in spec.params})
        g_s = int(np.sum(s["num_steps"]))
        rows.append({"seed": seed, "wall": wall, "ess": ess, "g_warm": g_w, "g_samp": g_s,
                     "steps_w": float(np.mean(w["num_steps"])),
                     "steps": float(np.mean(s["num_steps"])),
                     "div": int(np.sum(s["diverging"])), "trace": []})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--chains", type=int, default=1024)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--libraries", default="numbayes,numpyro")
    parser.add_argument("--option", action="append", default=[],
                        help="a ChEES keyword, NAME=VALUE (Python literal), repeatable")
    parser.add_argument("--no-trace", action="store_true")
    args = parser.parse_args(argv)
    import ast

    from suite_models import MODELS as SUITE

    options = {}
    for o in args.option:
        name, value = o.split("=", 1)
        try:
            options[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[name] = value
    cfg = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws}
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{args.chains} chains x ({args.warmup} + {args.draws}); load "
          f"{os.getloadavg()[0]:.1f}; ChEES options {options}")
    for model in args.models.split(","):
        spec = SUITE[model]
        data = spec.data()
        for lib in args.libraries.split(","):
            rows = {"numbayes": numbayes, "numpyro": numpyro}[lib](spec, data, cfg, seeds,
                                                                  options)
            for r in rows:
                total = r["g_warm"] + r["g_samp"]
                extra = (f"eps={r['eps']:.4f} L={r['steps']:.1f} T={r['T']:.3f} "
                         f"acc={r['acc']:.3f} div_w={r['div_w']}" if lib == "numbayes" else
                         f"tree warm={r['steps_w']:.1f} samp={r['steps']:.1f}")
                print(f"{model:<25} {lib:<9} seed {r['seed']}: grads warm {r['g_warm']/1e6:7.2f}M "
                      f"samp {r['g_samp']/1e6:7.2f}M  minESS {r['ess']:8.0f}  "
                      f"ESS/1k grads {1000 * r['ess'] / total:7.3f}  wall {r['wall']:6.2f}s  "
                      f"ESS/s {r['ess'] / r['wall']:8.0f}  div {r['div']}  {extra}  "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
                if not args.no_trace:
                    for line in r["trace"]:
                        print("    " + line)


if __name__ == "__main__":
    main()
