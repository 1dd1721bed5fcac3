"""First-run time: numbayes, NumPyro and nutpie sampling a model on an empty compile cache.

The "cold full" column of :mod:`mcmc_suite` is one run per library, taken minutes apart from
the others', and a shared 2-core machine's speed drifts by tens of percent over minutes. This
benchmark answers the one question "which library gets a user's first posterior sooner" with
runs **interleaved**: round after round, each library samples the model once in a fresh process
on an empty cache (as :mod:`mcmc_suite`'s cold full run: imports, model building, every
compile, warmup and sampling, to the draws in NumPy arrays), so drift affects every library
alike; the medians over the rounds are compared.

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
          f"from before the import to the draws, each on an empty compile cache\n")
    print("round " + " ".join(f"{lib:>15}" for lib in libraries), flush=True)
    walls: dict[str, list[float]] = {lib: [] for lib in libraries}
    for k in range(args.rounds):
        cells = []
        for lib in libraries:
            with tempfile.TemporaryDirectory(prefix="cold_start_") as root:
                folder = Caches(root).empty()
                m = run_worker(lib, args.model, cfg, 0, Caches.env(lib, folder), args.timeout)
            if m.error:
                print(f"{lib} failed: {m.error}", file=sys.stderr)
                walls[lib].append(float("nan"))
            else:
                walls[lib].append(m.runs[0]["wall"])
            cells.append(f"{walls[lib][-1]:15.2f}")
        print(f"{k + 1:5d} " + " ".join(cells), flush=True)
    print("median" + " ".join(f"{np.nanmedian(walls[lib]):15.2f}" for lib in libraries))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average after the run: {load}")


if __name__ == "__main__":
    main()
