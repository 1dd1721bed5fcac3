r"""SVI benchmark: numbayes' compiled ``SVI.run`` against NumPyro's ``svi.run``.

Both fit ``AutoNormal`` with ``Adam(0.01)`` and ``Trace_ELBO(num_particles=1)`` for ``--steps``
(2000) steps on eight schools (non-centred) and on the logistic regression (5,000 x 25) of
:mod:`suite_models`; NumPyro runs on the CPU in double precision (``enable_x64``) with its
progress bar off (its fastest mode: the whole loop in one ``lax.scan``). NumPyro is optional
(``pip install numbayes[bench]``); without it only numbayes' rows are printed.

Run::

    python benchmarks/svi.py                  # both models, both libraries
    python benchmarks/svi.py --steps 10000 --warm-runs 5

What is measured, each library in a **fresh process** (this script's ``--worker`` mode):

cold
    Wall time of the first ``run`` in the process, compile included, from just after the
    library's import. numbayes: with an empty temporary Numba cache (everything compiles:
    the ELBO's gradient and the SVI loop), and again in a second process on that cache
    ("cold, cached"). JAX keeps no compile cache between processes, so NumPyro has one cold
    figure.
warm
    The median of ``--warm-runs`` (3) further runs in the same process (new seeds; compiled
    code reused), as wall time and steps per second.
final loss
    The mean of the last 10 % of the warm run's losses (-ELBO), the check that both fitted the
    same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from suite_models import MODELS, lang_numbayes, lang_numpyro  # noqa: E402

SVI_MODELS = ("eight_schools_noncentred", "logistic_regression")


def _numbayes(model_name: str, steps: int, warm_runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    from inference import SVI, Trace_ELBO, optim
    from inference.autoguide import AutoNormal

    suite = MODELS[model_name]
    model = suite.for_lang(lang_numbayes())
    data = suite.data()
    imported = time.perf_counter()
    svi = SVI(model, AutoNormal(model), optim.Adam(0.01), Trace_ELBO())
    result = svi.run(0, steps, progress_bar=False, **data)
    cold = time.perf_counter() - imported
    warm, losses = [], result.losses
    for seed in range(1, warm_runs + 1):
        t = time.perf_counter()
        losses = svi.run(seed, steps, progress_bar=False, **data).losses
        warm.append(time.perf_counter() - t)
    return {"cold": cold, "import": imported - started, "warm": warm,
            "final_loss": float(np.mean(losses[-max(1, steps // 10):]))}


def _numpyro(model_name: str, steps: int, warm_runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    import jax
    import numpyro
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal

    numpyro.enable_x64()
    numpyro.set_platform("cpu")
    suite = MODELS[model_name]
    model = suite.for_lang(lang_numpyro())
    data = suite.data()
    imported = time.perf_counter()
    svi = SVI(model, AutoNormal(model), numpyro.optim.Adam(0.01), Trace_ELBO())
    result = svi.run(jax.random.PRNGKey(0), steps, progress_bar=False, **data)
    jax.block_until_ready(result.losses)
    cold = time.perf_counter() - imported
    warm, losses = [], result.losses
    for seed in range(1, warm_runs + 1):
        t = time.perf_counter()
        losses = svi.run(jax.random.PRNGKey(seed), steps, progress_bar=False, **data).losses
        jax.block_until_ready(losses)
        warm.append(time.perf_counter() - t)
    losses = np.asarray(losses)
    return {"cold": cold, "import": imported - started, "warm": warm,
            "final_loss": float(np.mean(losses[-max(1, steps // 10):]))}


WORKERS = {"numbayes": _numbayes, "numpyro": _numpyro}


def _measure(library: str, model: str, steps: int, warm_runs: int, cache: str | None
             ) -> dict[str, Any] | str:
    env = dict(os.environ)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    command = [sys.executable, os.path.abspath(__file__), "--worker", library, model,
               "--steps", str(steps), "--warm-runs", str(warm_runs)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _available(library: str) -> bool:
    if library == "numbayes":
        return True
    try:
        import numpyro  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--models", default=",".join(SVI_MODELS))
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        library, model = args.worker
        print(json.dumps(WORKERS[library](model, args.steps, args.warm_runs)))
        return
    print(f"SVI: AutoNormal + Adam(0.01), Trace_ELBO(1), {args.steps} steps; "
          f"warm = median of {args.warm_runs} runs; each row a fresh process")
    header = (f"{'model':26s} {'library':16s} {'cold s':>8s} {'warm s':>8s} {'steps/s':>10s} "
              f"{'final loss':>11s}")
    print(header)
    print("-" * len(header))
    for model in args.models.split(","):
        rows = []
        for library in WORKERS:
            if not _available(library):
                print(f"{model:26s} {library:16s} not installed (pip install numbayes[bench])")
                continue
            if library == "numbayes":
                with tempfile.TemporaryDirectory() as cache:
                    cold = _measure(library, model, args.steps, args.warm_runs, cache)
                    cached = _measure(library, model, args.steps, args.warm_runs, cache)
                rows.append(("numbayes", cold, None))
                rows.append(("numbayes cached", cached, None))
            else:
                rows.append((library, _measure(library, model, args.steps, args.warm_runs,
                                               None), None))
        speeds = {}
        for name, result, _ in rows:
            if isinstance(result, str):
                print(f"{model:26s} {name:16s} {result}")
                continue
            warm = float(np.median(result["warm"]))
            speeds[name] = args.steps / warm
            print(f"{model:26s} {name:16s} {result['cold']:8.2f} {warm:8.4f} "
                  f"{args.steps / warm:10.0f} {result['final_loss']:11.3f}")
        if "numbayes cached" in speeds and "numpyro" in speeds:
            print(f"{'':26s} warm steps/s numbayes / numpyro: "
                  f"{speeds['numbayes cached'] / speeds['numpyro']:.1f}x")


if __name__ == "__main__":
    main()
