r"""Where the gradients go: warmup against sampling, per suite model and adaptation.

For each model of :mod:`suite_models` and each sampler configuration, one warm run (after a
compile run) of ``--chains`` x (``--warmup`` + ``--draws``) iterations reports: leapfrog steps
(= gradients) in warmup and in sampling, mean tree depth and step size after warmup, min bulk
ESS, ESS per 1000 sampling gradients and per 1000 gradients in total, divergences after warmup,
the warmup iterations used (mean over chains; less than ``--warmup`` with an early stop), and
the wall and CPU time of the run (CPU time: of every thread of this process, so it is less
disturbed by other processes on a loaded machine than the wall time), with ESS per CPU second.
Configurations: ``stan`` (numbayes' Stan windowed adaptation), ``fisher``
(nutpie's diagonal), ``low_rank`` (numbayes' low-rank + diagonal), ``fisher+es`` and
``lowrank+es`` (the same with ``early_stop_warmup=True``), ``lr8+es``, ``lr16+es``, ``lr32+es``
(low rank + early stop with ``low_rank_max_rank`` 8, 16, 32), ``default`` (``NUTS``' defaults),
and ``nutpie`` / ``nutpie-lr`` (nutpie's own diagonal / low-rank adaptation, if installed).
Seeds are the outer loop and configurations the inner one, so that the repeats of a
configuration are interleaved with the others' (machine noise spreads over all of them); each
configuration has a short untimed compile run first.

Run: ``python benchmarks/adaptation_study.py --models eight_schools_noncentred --configs stan,fisher``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mcmc_suite import min_ess  # noqa: E402
from suite_models import MODELS  # noqa: E402

NUMBAYES = {
    "stan": {"mass_matrix_adaptation": "stan"},
    "fisher": {"mass_matrix_adaptation": "fisher"},
    "low_rank": {"mass_matrix_adaptation": "low_rank"},
    "fisher+es": {"mass_matrix_adaptation": "fisher", "early_stop_warmup": True},
    "lowrank+es": {"mass_matrix_adaptation": "low_rank", "early_stop_warmup": True},
    "default": {},
    **{f"lr{k}+es": {"mass_matrix_adaptation": "low_rank", "early_stop_warmup": True,
                     "low_rank_max_rank": k} for k in (4, 8, 16, 32, 64)},
    # the whole window (nutpie), and updates every 20 (nutpie) or 50 / 100 iterations
    **{f"lr{k}w{f}+es": {"mass_matrix_adaptation": "low_rank", "early_stop_warmup": True,
                         "low_rank_max_rank": k, "low_rank_window": 1000,
                         "low_rank_update_freq": f}
       for k in (8, 16) for f in (20, 50, 100)},
}


def run_numbayes(spec, data, options, args, seed):
    from suite_models import lang_numbayes

    from inference import MCMC, NUTS

    warmup, draws = (args.warmup, args.draws) if seed else (50, 10)  # seed 0: compile run
    mcmc = MCMC(NUTS(spec.for_lang(lang_numbayes()), **options), num_warmup=warmup,
                num_samples=draws, num_chains=args.chains, progress_bar=False,
                save_warmup=True)
    t0, c0 = time.perf_counter(), time.process_time()
    mcmc.run(seed, **data)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    samples = mcmc.get_samples(group_by_chain=True)
    draws = {p: np.asarray(samples[p]) for p in spec.params}
    ex = mcmc.get_extra_fields(group_by_chain=True)
    wx = mcmc.get_extra_fields(group_by_chain=True, warmup=True)
    return dict(wall=wall, draws=draws, warm_steps=int(np.sum(wx["n_steps"])),
                samp_steps=int(np.sum(ex["n_steps"])), depth=float(np.mean(ex["tree_depth"])),
                step=float(np.mean(ex["step_size"])), div=int(np.sum(ex["diverging"])),
                cpu=cpu, warmup_used=float(np.mean(mcmc.warmup_used)))


_COMPILED: dict = {}  # nutpie's compiled models, by suite name


def run_nutpie(spec, data, low_rank, args, seed):
    import nutpie

    cache, key = _COMPILED, spec.name
    if key not in cache:
        cache[key] = nutpie.compile_pymc_model(spec.pymc_model(**data))
    kw = {"low_rank_modified_mass_matrix": True} if low_rank else {}
    t0, c0 = time.perf_counter(), time.process_time()
    trace = nutpie.sample(cache[key], draws=args.draws, tune=args.warmup, chains=args.chains,
                          seed=seed, progress_bar=False, **kw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    post, st, wst = trace["posterior"], trace["sample_stats"], trace["warmup_sample_stats"]
    draws = {p: np.asarray(post[p].values) for p in spec.params}
    return dict(wall=wall, draws=draws, warm_steps=int(np.sum(wst["n_steps"].values)),
                samp_steps=int(np.sum(st["n_steps"].values)),
                depth=float(np.mean(st["depth"].values)), step=float(np.mean(st["step_size"].values)),
                div=int(np.sum(st["diverging"].values)), cpu=cpu, warmup_used=float(args.warmup))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--configs", default="stan,fisher,nutpie")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--seeds", default="1")
    p.add_argument("--no-compile-run", action="store_true",
                   help="skip the untimed first run (gradient counts do not need it)")
    a = p.parse_args()
    head = (f"{'model':<25}{'config':<11}{'seed':>5}{'warm grad':>10}{'samp grad':>10}"
            f"{'warm used':>10}{'depth':>6}{'step':>7}{'minESS':>7}{'ESS/kg s':>9}"
            f"{'ESS/kg all':>11}{'div':>5}{'wall s':>8}{'cpu s':>8}{'ESS/cpu s':>10}")
    print(head, flush=True)
    configs = a.configs.split(",")
    seeds = [int(s) for s in a.seeds.split(",")]
    for name in a.models.split(","):
        spec = MODELS[name]
        data = spec.data()
        # seed 0 is each configuration's untimed compile run; then seeds outside, configurations
        # inside: the repeats of one configuration are interleaved with the others'
        first = [] if a.no_compile_run else [0]
        for seed in first + seeds:
            for cfg in configs:
                if cfg.startswith("nutpie"):
                    r = run_nutpie(spec, data, cfg == "nutpie-lr", a, seed)
                else:
                    r = run_numbayes(spec, data, NUMBAYES[cfg], a, seed)
                if seed == 0 and first:
                    continue  # compile run
                ess = min_ess(r["draws"])
                print(f"{name:<25}{cfg:<11}{seed:>5}{r['warm_steps']:>10}{r['samp_steps']:>10}"
                      f"{r['warmup_used']:>10.0f}{r['depth']:>6.2f}{r['step']:>7.3f}{ess:>7.0f}"
                      f"{1000 * ess / max(r['samp_steps'], 1):>9.1f}"
                      f"{1000 * ess / max(r['samp_steps'] + r['warm_steps'], 1):>11.1f}"
                      f"{r['div']:>5}{r['wall']:>8.2f}{r['cpu']:>8.2f}{ess / r['cpu']:>10.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
