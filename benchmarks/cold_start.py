"""First-run time: numbayes, NumPyro and nutpie sampling a model on an empty compile cache.

The "cold full" column of :mod:`mcmc_suite` is one run per library, taken minutes apart from
the others', and a shared 2-core machine's speed drifts by tens of percent over minutes. This
benchmark answers the one question "which library gets a user's first posterior sooner" with
runs **interleaved**: round after round, each library samples the model once in a fresh process
on an empty cache (as :mod:`mcmc_suite`'s cold full run: imports, model building, every
compile, warmup and sampling, to the draws in NumPy arrays), so drift affects every library
alike; the medians over the rounds are compared.

Each round also runs a **second process** on the cache the first one filled (the user's
second session: everything loads from disk), and for numbayes the first run's seconds are split
into its phases (imports, model compile, sampler compile -- the two-process first-run compile of
:mod:`kernels.precompile` -- warmup and sampling), medians over the rounds.

Run::

    python benchmarks/cold_start.py                                  # eight schools, 5 rounds
    python benchmarks/cold_start.py --model eight_schools_centred --rounds 7 \\
        --libraries numbayes,numpyro

Peers that are not installed (``pip install -e ".[bench]"``) are skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
from mcmc_suite import LIBRARIES, MODELS, Caches, _installed, _parse_list, machine_facts, run_worker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="eight_schools_noncentred", choices=list(MODELS))
    parser.add_argument("--libraries", default="numbayes,numpyro,nutpie",
                        help=f"comma-separated subset of {', '.join(LIBRARIES)}")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    libraries = [lib for lib in _parse_list(args.libraries, LIBRARIES, "librar(y/ies)")
                 if _installed(lib)]
    cfg = {"warmup": args.warmup, "draws": args.draws, "chains": args.chains, "seed": 0}

    print(machine_facts())
    print(f"{args.model}: NUTS, {args.chains} chains x ({args.warmup} + {args.draws}); seconds "
          f"from before the import to the draws: 'first' on an empty compile cache, 'second' "
          f"in the next process on the cache the first one filled\n")
    columns = [f"{lib} {which}" for lib in libraries for which in ("first", "second")]
    print("round " + " ".join(f"{c:>22}" for c in columns), flush=True)
    walls: dict[str, list[float]] = {c: [] for c in columns}
    phases: list[dict[str, float]] = []  # numbayes' first runs
    for k in range(args.rounds):
        for lib in libraries:
            with tempfile.TemporaryDirectory(prefix="cold_start_") as root:
                env = Caches.env(lib, Caches(root).empty())
                for which in ("first", "second"):
                    m = run_worker(lib, args.model, cfg, 0, env, args.timeout)
                    if m.error:
                        print(f"{lib} ({which}) failed: {m.error}", file=sys.stderr)
                    wall = float("nan") if m.error else m.runs[0]["wall"]
                    walls[f"{lib} {which}"].append(wall)
                    if lib == "numbayes" and which == "first" and not m.error:
                        phases.append(m.runs[0]["phases"])
        print(f"{k + 1:5d} " + " ".join(f"{walls[c][-1]:22.2f}" for c in columns), flush=True)
    print("median" + " ".join(f"{np.nanmedian(walls[c]):22.2f}" for c in columns))
    if phases:
        names = [name for name in phases[0] if all(name in p for p in phases)]
        medians = ", ".join(f"{n} {np.median([p[n] for p in phases]):.2f}" for n in names)
        print(f"\nnumbayes first run by phase (medians, s): {medians}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average after the run: {load}")


if __name__ == "__main__":
    main()
