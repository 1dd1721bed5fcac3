r"""Many-chain benchmark: ChEES-HMC over 1,024 chains against NumPyro's vectorised NUTS and nutpie.

For each model (eight schools non-centred and the hierarchical linear model of
:mod:`suite_models`) and library, ``--chains`` chains x (``--warmup`` + ``--draws``) iterations
(default 1024 x (200 + 200)):

* ``numbayes-chees``: ``MCMC(ChEES(model), num_chains=1024)`` (threads over blocks of chains);
* ``numpyro``: ``MCMC(NUTS(model), chain_method="vectorized")`` on the CPU in float64 (NumPyro has
  no ChEES);
* ``nutpie``: ``nutpie.sample(compile_pymc_model(...), chains=1024)``, run by the Python given by
  ``--nutpie-python`` if that interpreter imports nutpie (skipped otherwise, and said so).

Each measurement is a fresh worker process that runs once to compile (numbayes: disk cache;
NumPyro: the jit; nutpie: the PyMC compile) and then times one run with another seed: the wall
time of warmup + sampling (compile excluded), the smallest bulk ESS over every scalar of the
compared sites (``arviz.ess`` across all chains), and ESS/s = min ESS / wall time. The
libraries are interleaved ``--repeats`` times and the table shows the median with the range, as
the machine is shared and timings are noisy. Each run's process CPU time (all threads) is in
its line as ``cpu``: on a crowded machine min ESS per CPU second is steadier than per wall
second.

Usage::

    NUMBA_CACHE_DIR=/tmp/nbc python benchmarks/many_chains.py --repeats 3
    python benchmarks/many_chains.py --chains 256 --models eight_schools_noncentred
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
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = ("eight_schools_noncentred", "hierarchical_linear")
LIBRARIES = ("numbayes-chees", "numpyro", "nutpie")


def _min_ess(draws: dict[str, np.ndarray]) -> float:
    import arviz as az

    values = []
    for a in draws.values():
        a = np.asarray(a, dtype=np.float64)
        flat = a.reshape(a.shape[0], a.shape[1], -1)
        for k in range(flat.shape[2]):
            values.append(float(az.ess(flat[:, :, k], method="bulk")))
    return float(np.nanmin(values))


def _numbayes(spec, data, cfg):
    from suite_models import lang_numbayes

    from inference import MCMC, ChEES

    mcmc = MCMC(ChEES(spec.for_lang(lang_numbayes())), num_warmup=cfg["warmup"],
                num_samples=cfg["draws"], num_chains=cfg["chains"], progress_bar=False)

    def run(seed):
        mcmc.run(seed, **data)
        samples = mcmc.get_samples(group_by_chain=True)
        extra = mcmc.get_extra_fields(group_by_chain=True)
        return ({p: samples[p] for p in spec.params}, int(extra["diverging"].sum()),
                int(extra["n_steps"].sum()))
    return run


def _numpyro(spec, data, cfg):
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import numpyro
    from numpyro.infer import MCMC, NUTS
    from suite_models import lang_numpyro

    numpyro.enable_x64()
    mcmc = MCMC(NUTS(spec.for_lang(lang_numpyro())), num_warmup=cfg["warmup"],
                num_samples=cfg["draws"], num_chains=cfg["chains"],
                chain_method="vectorized", progress_bar=False)

    def run(seed):
        mcmc.run(jax.random.PRNGKey(seed), extra_fields=("num_steps", "diverging"), **data)
        samples = mcmc.get_samples(group_by_chain=True)
        extra = mcmc.get_extra_fields(group_by_chain=True)
        return ({p: np.asarray(samples[p]) for p in spec.params},
                int(np.sum(extra["diverging"])), int(np.sum(extra["num_steps"])))
    return run


def _nutpie(spec, data, cfg):
    import nutpie

    compiled = nutpie.compile_pymc_model(spec.pymc_model(**data))

    def run(seed):
        trace = nutpie.sample(compiled, draws=cfg["draws"], tune=cfg["warmup"],
                              chains=cfg["chains"], seed=seed, progress_bar=False)
        post = trace["posterior"]
        stats = trace["sample_stats"]
        return ({p: np.asarray(post[p].values) for p in spec.params},
                int(np.sum(stats["diverging"].values)), int(np.sum(stats["n_steps"].values)))
    return run


def worker(library: str, model: str, cfg: dict, seed: int, out: str) -> None:
    """In a fresh process: build, run once (compile), time one run; write the figures."""
    sys.path.insert(0, str(HERE))
    from suite_models import MODELS as SUITE

    spec = SUITE[model]
    data = spec.data()
    run = {"numbayes-chees": _numbayes, "numpyro": _numpyro, "nutpie": _nutpie}[library](
        spec, data, cfg)
    run(seed + 1000)  # compile / warm caches
    t0, c0 = time.perf_counter(), time.process_time()
    draws, divergences, steps = run(seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = {"wall": wall, "cpu": cpu, "ess": _min_ess(draws), "divergences": divergences,
              "sampling_steps": steps,
              "means": {p: float(np.mean(v)) for p, v in draws.items()}}
    Path(out).write_text(json.dumps(result))


def _measure(python: str, library: str, model: str, cfg: dict, seed: int,
             timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [python, __file__, "--worker", library, model, "--seed", str(seed), "--out", out,
               "--chains", str(cfg["chains"]), "--warmup", str(cfg["warmup"]),
               "--draws", str(cfg["draws"])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")]))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"error": f"timeout after {timeout:.0f} s"}
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
        return json.loads(Path(out).read_text())


def _nutpie_available(python: str) -> bool:
    if not python or not Path(python).exists():
        return False
    return subprocess.run([python, "-c", "import nutpie, pymc, arviz"],
                          capture_output=True).returncode == 0


def _fmt(values: list[float], digits: int = 1) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("LIBRARY", "MODEL"))
    parser.add_argument("--out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chains", type=int, default=1024)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--nutpie-python", default="/tmp/bench_venv/bin/python")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    cfg = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws}
    if args.worker:
        worker(*args.worker, cfg, args.seed, args.out)
        return
    libraries = [lib for lib in args.libraries.split(",") if lib]
    if "nutpie" in libraries and not _nutpie_available(args.nutpie_python):
        print(f"nutpie skipped: {args.nutpie_python} does not import nutpie, pymc and arviz")
        libraries.remove("nutpie")
    python = {lib: sys.executable for lib in libraries}
    if "nutpie" in python:
        python["nutpie"] = args.nutpie_python
    models = [m for m in args.models.split(",") if m]
    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.repeats):  # interleaved: each repeat runs every library once
        for model in models:
            for lib in libraries:
                res = _measure(python[lib], lib, model, cfg, args.seed + r, args.timeout)
                results.setdefault((model, lib), []).append(res)
                print(f"repeat {r} {model} {lib}: {res}", flush=True)
    print(f"\n{args.chains} chains x ({args.warmup} warmup + {args.draws} draws); median "
          f"[min-max] of {args.repeats} interleaved runs; wall = warmup + sampling, compile "
          f"excluded\n")
    header = (f"{'model':<26}{'library':<16}{'wall s':>22}{'min ESS':>26}{'ESS/s':>26}"
              f"{'div':>6}")
    print(header)
    print("-" * len(header))
    for model in models:
        for lib in libraries:
            runs = [x for x in results[(model, lib)] if "error" not in x]
            if not runs:
                print(f"{model:<26}{lib:<16}  {results[(model, lib)][0].get('error')}")
                continue
            walls = [x["wall"] for x in runs]
            ess = [x["ess"] for x in runs]
            rate = [x["ess"] / x["wall"] for x in runs]
            div = int(statistics.median([x["divergences"] for x in runs]))
            print(f"{model:<26}{lib:<16}{_fmt(walls, 2):>22}{_fmt(ess, 0):>26}"
                  f"{_fmt(rate, 0):>26}{div:>6}")


if __name__ == "__main__":
    main()
