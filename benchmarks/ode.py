r"""An ODE model: the Lotka-Volterra posterior, numbayes against NumPyro and PyMC, and one gradient
against a hand-written Numba solver.

The posterior is posteriordb's ``hudson_lynx_hare-lotka_volterra`` (its data is read from
``tests/data/posteriordb``; the model is ``tests/posteriordb_models.model_lotka_volterra``):
four rates, two initial populations and two noise scales, with the populations from a
Dormand-Prince solve at Stan's tolerances (relative 1e-5, absolute 1e-3) at 20 yearly times.

Sampling
--------
NUTS with each library's defaults (diagonal metric) but the initial point, ``--chains`` (4) x
(``--warmup`` 1000 + ``--draws`` 1000). numbayes and NumPyro start at the prior medians
(``init_strategy="median"`` / ``init_to_median``), PyMC at its default (the initial point, the
priors' medians or means, jittered): from a random point in (-2, 2) a chain can stall for
hundreds of iterations at tree depth 10 where the solution does not oscillate.

* **numbayes**: ``MCMC(NUTS(model))``, the ODE as :func:`autodiff.odeint` (forward
  sensitivities in the gradient);
* **NumPyro**: the same model with ``jax.experimental.ode.odeint`` (adjoint gradient),
  ``chain_method="vectorized"``, float64, CPU;
* **PyMC**: ``pm.ode.DifferentialEquation`` (SciPy's LSODA with forward sensitivities, each
  solve called from Python), sampled by nutpie when it can compile the model, else by PyMC's own
  NUTS. Run by ``--pymc-python`` (default: this interpreter if PyMC imports, else
  ``/tmp/bench_venv/bin/python`` when present); skipped, saying so, when neither has PyMC.

Each library runs in a **fresh process** with empty compile caches (numbayes: an empty
temporary ``NUMBA_CACHE_DIR``; PyMC: an empty PyTensor ``base_compiledir``; JAX keeps none):
*cold* is the wall time from before the library's import to the draws in NumPy arrays; then
``--warm-runs`` (1) more runs in the same process, new seeds, everything compiled: *warm* is
their median. *min ESS* is the smallest bulk ESS (:func:`inference.diagnostics.ess_bulk`, on every
library's draws) over the 8 parameters, ESS/s = min ESS / time. *mean dev* is the largest
:math:`|\bar x - \bar x_{ref}| / sd_{ref}` over the parameters against the posteriordb reference
(a sanity check: a few hundredths is Monte Carlo noise). A library's process is stopped after
``--timeout`` seconds and its row says so.

One gradient
------------
The log density and gradient on the unconstrained space (log of every parameter), at a
reference draw:

* **ours**: the model compiled by ``ppl.model.compile_model``, called by address from an
  ``@njit`` loop through :func:`kernels.model_abi.evaluate`, as the samplers call it;
* **hand**: ``benchmarks/_handwritten.lotka_volterra_numba``, a Numba Dormand-Prince with the
  6 forward sensitivities integrated alongside (14 components), the error norm on the state
  only as ``autodiff.odeint`` does (so both take the same steps), called from an ``@njit`` loop;
* **hand-all**: the same with all 14 components in the error norm (Stan's coupled system): more
  steps, more accurate sensitivities;
* **JAX**: ``jax.jit(jax.value_and_grad(logp))`` with ``jax.experimental.ode.odeint``, from a
  Python loop (``n/a`` without JAX).

Both numbayes and the hand-written one are first checked against each other at tight
tolerances (1e-11: 1e-7 relative agreement); at Stan's tolerances each one's error against that
tight solution is printed too (the tolerances bound local errors, not the result's, so equal
tolerances do not mean equal accuracy or equal step counts). Timings are 7 interleaved repeats;
the minimum and median are printed, their spread is the machine's noise. Target: ours within
1.5x of the hand-written gradient.

Run: ``python benchmarks/ode.py`` (tens of minutes on 2 shared cores, most of it PyMC);
``--quick`` for 200 + 200 iterations, ``--libraries numbayes,numpyro`` to choose,
``--no-gradient`` / ``--no-sampling`` for one half.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
DATA_DIR = os.path.join(REPO_DIR, "tests", "data", "posteriordb", "hudson_lynx_hare-lotka_volterra")
PARAMS = ("theta", "z_init", "sigma")
PRIOR_LOC = [1.0, 0.05, 1.0, 0.05]
PRIOR_SCALE = [0.5, 0.05, 0.5, 0.05]
RTOL, ATOL, MXSTEP = 1e-5, 1e-3, 500  # Stan's integrate_ode_rk45 arguments in posteriordb
TIGHT = 1e-11
TARGET_RATIO = 1.5
LIBRARIES = ("numbayes", "numpyro", "pymc")
DEFAULT_PYMC_PYTHON = "/tmp/bench_venv/bin/python"


def load_data() -> dict:
    with open(os.path.join(DATA_DIR, "data.json")) as f:
        data = json.load(f)
    return {"ts": np.asarray(data["ts"], float), "y_init": np.asarray(data["y_init"], float),
            "y": np.asarray(data["y"], float)}


# ============================================================================================
# Worker side: one library in a fresh process (imports only the standard library and NumPy at
# the top, so that PyMC's interpreter can run it)
# ============================================================================================


def _numbayes_runner(data: dict, cfg: dict):
    sys.path.insert(0, REPO_DIR)
    from inference import MCMC, NUTS
    from tests.posteriordb_models import model_lotka_volterra

    mcmc = MCMC(NUTS(model_lotka_volterra, init_strategy="median"), num_warmup=cfg["warmup"],
                num_samples=cfg["draws"], num_chains=cfg["chains"], progress_bar=False)

    def run(seed: int) -> tuple[dict, int]:
        mcmc.run(seed, data["ts"], data["y_init"], data["y"], rtol=RTOL, atol=ATOL,
                 mxstep=MXSTEP)
        samples = mcmc.get_samples(group_by_chain=True)
        return ({p: np.asarray(samples[p]) for p in PARAMS},
                int(np.sum(mcmc.get_extra_fields()["diverging"])))

    return run


def _numpyro_runner(data: dict, cfg: dict):
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as nd
    from jax.experimental.ode import odeint
    from numpyro.infer import MCMC, NUTS, init_to_median

    numpyro.enable_x64()

    def dz_dt(z, t, theta):
        u, v = z[0], z[1]
        return jnp.stack([(theta[0] - theta[1] * v) * u, (-theta[2] + theta[3] * u) * v])

    def model(ts, y_init, y):
        theta = numpyro.sample("theta", nd.TruncatedNormal(
            jnp.array(PRIOR_LOC), jnp.array(PRIOR_SCALE), low=0.0).to_event(1))
        z_init = numpyro.sample("z_init", nd.LogNormal(jnp.log(10.0), 1.0).expand([2])
                                .to_event(1))
        sigma = numpyro.sample("sigma", nd.LogNormal(-1.0, 1.0).expand([2]).to_event(1))
        times = jnp.concatenate([jnp.zeros(1), ts])
        z = odeint(dz_dt, z_init, times, theta, rtol=RTOL, atol=ATOL, mxstep=MXSTEP)[1:]
        numpyro.sample("y_init", nd.LogNormal(jnp.log(z_init), sigma).to_event(1), obs=y_init)
        numpyro.sample("y", nd.LogNormal(jnp.log(z), sigma).to_event(2), obs=y)

    mcmc = MCMC(NUTS(model, init_strategy=init_to_median), num_warmup=cfg["warmup"],
                num_samples=cfg["draws"], num_chains=cfg["chains"], chain_method="vectorized",
                progress_bar=False)
    args = tuple(jnp.asarray(data[k]) for k in ("ts", "y_init", "y"))

    def run(seed: int) -> tuple[dict, int]:
        mcmc.run(jax.random.PRNGKey(seed), *args, extra_fields=("diverging",))
        samples = mcmc.get_samples(group_by_chain=True)
        return ({p: np.asarray(samples[p]) for p in PARAMS},
                int(np.sum(mcmc.get_extra_fields()["diverging"])))

    return run


def _pymc_runner(data: dict, cfg: dict):
    import pymc as pm
    import pytensor.tensor as pt

    def dz_dt(z, t, theta):
        return [(theta[0] - theta[1] * z[1]) * z[0], (-theta[2] + theta[3] * z[0]) * z[1]]

    # DifferentialEquation solves from t0 = 0 with SciPy's odeint at its own tolerances
    ode = pm.ode.DifferentialEquation(func=dz_dt, times=data["ts"], n_states=2, n_theta=4,
                                      t0=0)
    with pm.Model() as model:
        theta = pm.TruncatedNormal("theta", mu=PRIOR_LOC, sigma=PRIOR_SCALE, lower=0.0,
                                   shape=4)
        z_init = pm.LogNormal("z_init", mu=math.log(10.0), sigma=1.0, shape=2)
        sigma = pm.LogNormal("sigma", mu=-1.0, sigma=1.0, shape=2)
        z = ode(y0=z_init, theta=theta)
        pm.LogNormal("y_init", mu=pt.log(z_init), sigma=sigma, observed=data["y_init"])
        pm.LogNormal("y", mu=pt.log(z), sigma=sigma, observed=data["y"])

    sampler = {"name": "nutpie"}

    def run(seed: int) -> tuple[dict, int]:
        kwargs = dict(draws=cfg["draws"], tune=cfg["warmup"], chains=cfg["chains"],
                      random_seed=seed, progress_bar=False, compute_convergence_checks=False)
        with model:
            if sampler["name"] == "nutpie":
                try:
                    trace = pm.sample(nuts_sampler="nutpie", **kwargs)
                except Exception as err:  # noqa: BLE001  (nutpie cannot compile the ODE op)
                    sampler["name"] = f"pymc (nutpie failed: {type(err).__name__})"
            if sampler["name"] != "nutpie":
                trace = pm.sample(cores=min(cfg["chains"], os.cpu_count() or 1), **kwargs)
        post = trace.posterior
        return ({p: np.asarray(post[p].values) for p in PARAMS},
                int(np.sum(trace.sample_stats["diverging"].values)))

    run.sampler = sampler  # type: ignore[attr-defined]
    return run


RUNNERS = {"numbayes": _numbayes_runner, "numpyro": _numpyro_runner, "pymc": _pymc_runner}


def worker(library: str, out: str, cfg: dict) -> None:
    """One cold run then ``cfg["warm_runs"]`` warm ones; draws and times to the ``.npz``
    ``out``."""
    data = load_data()
    t0 = time.perf_counter()
    run = RUNNERS[library](data, cfg)
    runs = []
    for k in range(1 + cfg["warm_runs"]):
        t_run = time.perf_counter()
        draws, divergences = run(cfg["seed"] + k)
        wall = time.perf_counter() - (t0 if k == 0 else t_run)
        runs.append((wall, divergences, draws))
    sampler = getattr(run, "sampler", {}).get("name", library)
    meta = {"walls": [r[0] for r in runs], "divergences": [r[1] for r in runs],
            "sampler": sampler}
    arrays = {f"run{i}__{p}": a for i, r in enumerate(runs) for p, a in r[2].items()}
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)


# ============================================================================================
# Driver side
# ============================================================================================


def _python_for(library: str, pymc_python: str | None) -> str | None:
    from importlib.util import find_spec

    if library == "pymc":
        if pymc_python:
            return pymc_python
        if find_spec("pymc") is not None:
            return sys.executable
        return DEFAULT_PYMC_PYTHON if os.path.exists(DEFAULT_PYMC_PYTHON) else None
    needs = {"numbayes": ("numba",), "numpyro": ("jax", "numpyro")}[library]
    return sys.executable if all(find_spec(m) is not None for m in needs) else None


def run_worker(library: str, python: str, cfg: dict, timeout: float) -> dict:
    """One fresh process with empty caches; never raises (the error is in the result)."""
    with tempfile.TemporaryDirectory(prefix="ode_bench_") as tmp:
        out = os.path.join(tmp, "result.npz")
        cache = os.path.join(tmp, "cache")
        os.makedirs(cache)
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTENSOR_FLAGS=f"base_compiledir={cache}",
                   PYTHONPATH=os.pathsep.join([REPO_DIR, os.environ.get("PYTHONPATH", "")]))
        if library == "pymc" and python != sys.executable:
            env.pop("PYTHONPATH")  # the other interpreter's own packages only
        command = [python, os.path.abspath(__file__), "--worker", library, "--out", out,
                   "--config", json.dumps(cfg)]
        try:
            proc = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"stopped after {timeout:.0f} s"}
        if proc.returncode != 0 or not os.path.exists(out):
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            return {"error": lines[-1][:120] if lines else f"exit code {proc.returncode}"}
        with np.load(out) as f:
            meta = json.loads(str(f["meta"]))
            draws: list[dict] = [{} for _ in meta["walls"]]
            for key in f.files:
                if key != "meta":
                    run, param = key.split("__", 1)
                    draws[int(run[3:])][param] = f[key]
    return {**meta, "draws": draws}


def _flat(draws: dict) -> dict[str, np.ndarray]:
    out = {}
    for p in PARAMS:
        a = np.asarray(draws[p])
        for j in range(a.shape[2]):
            out[f"{p}[{j + 1}]"] = a[:, :, j]
    return out


def summarise(result: dict) -> dict:
    from inference.diagnostics import ess_bulk

    with open(os.path.join(DATA_DIR, "summary.json")) as f:
        ref = json.load(f)["parameters"]
    rows = []
    for wall, divergences, draws in zip(result["walls"], result["divergences"],
                                        result["draws"]):
        flat = _flat(draws)
        ess = min(float(ess_bulk(x)) for x in flat.values())
        dev = max(abs(float(x.mean()) - ref[k]["mean"]) / ref[k]["sd"] for k, x in flat.items())
        rows.append({"wall": wall, "ess": ess, "ess_s": ess / wall, "div": divergences,
                     "dev": dev})
    cold, warm = rows[0], rows[1:]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in warm) if warm else math.nan

    return {"sampler": result["sampler"], "cold": cold["wall"], "ess_s_cold": cold["ess_s"],
            "warm": med("wall"), "ess": med("ess") if warm else cold["ess"],
            "ess_s_warm": med("ess_s"), "div": med("div") if warm else cold["div"],
            "dev": med("dev") if warm else cold["dev"], "warm_runs": len(warm)}


def sampling_table(cfg: dict, libraries: list[str], pymc_python: str | None,
                   timeout: float) -> str:
    lines = [f"{'library':<34}{'cold s':>9}{'warm s':>9}{'min ESS':>9}{'ESS/s cold':>12}"
             f"{'ESS/s warm':>12}{'div':>6}{'mean dev':>10}"]
    for library in libraries:
        python = _python_for(library, pymc_python)
        if python is None:
            lines.append(f"{library:<34}skipped: not importable here (nor in "
                         f"{DEFAULT_PYMC_PYTHON})" if library == "pymc" else
                         f"{library:<34}skipped: not importable")
            continue
        t0 = time.perf_counter()
        print(f"... {library}", end="", file=sys.stderr, flush=True)
        result = run_worker(library, python, cfg, timeout)
        print(f" {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        if "error" in result:
            lines.append(f"{library:<34}failed: {result['error']}")
            continue
        s = summarise(result)
        name = library if s["sampler"] == library else f"{library} [{s['sampler']}]"
        lines.append(f"{name[:33]:<34}{s['cold']:>9.1f}{s['warm']:>9.1f}{s['ess']:>9.0f}"
                     f"{s['ess_s_cold']:>12.1f}{s['ess_s_warm']:>12.1f}{s['div']:>6.0f}"
                     f"{s['dev']:>10.3f}")
    return "\n".join(lines)


# ---- one gradient --------------------------------------------------------------------------


def _jax_value_and_grad(data: dict):
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.experimental.ode import odeint
    from jax.scipy.special import ndtr

    loc, scale = jnp.array(PRIOR_LOC), jnp.array(PRIOR_SCALE)
    times = jnp.concatenate([jnp.zeros(1), jnp.asarray(data["ts"])])
    y_init, y = jnp.asarray(data["y_init"]), jnp.asarray(data["y"])
    log_2pi = math.log(2.0 * math.pi)

    def dz_dt(z, t, p):
        return jnp.stack([(p[0] - p[1] * z[1]) * z[0], (-p[2] + p[3] * z[0]) * z[1]])

    def lognormal(x, mu, s):
        return -0.5 * ((jnp.log(x) - mu) / s) ** 2 - jnp.log(x) - jnp.log(s) - 0.5 * log_2pi

    def logp(q):
        p, z0, sigma = jnp.exp(q[:4]), jnp.exp(q[4:6]), jnp.exp(q[6:8])
        z = odeint(dz_dt, z0, times, p, rtol=RTOL, atol=ATOL, mxstep=MXSTEP)[1:]
        prior = (-0.5 * ((p - loc) / scale) ** 2 - jnp.log(scale) - 0.5 * log_2pi
                 - jnp.log(ndtr(loc / scale)))
        return (jnp.sum(prior) + jnp.sum(lognormal(z0, math.log(10.0), 1.0))
                + jnp.sum(lognormal(sigma, -1.0, 1.0)) + jnp.sum(lognormal(y_init, q[4:6], sigma))
                + jnp.sum(lognormal(y, jnp.log(z), sigma)) + jnp.sum(q))

    return jax.jit(jax.value_and_grad(logp))


def gradient_table() -> str:
    sys.path.insert(0, BENCH_DIR)
    sys.path.insert(0, REPO_DIR)
    from _handwritten import lotka_volterra_numba
    from gradient import _timing_loops, check_close, measure

    from ppl.model import compile_model
    from tests.posteriordb_models import model_lotka_volterra

    data = load_data()
    args = (data["ts"], data["y_init"], data["y"])
    times = np.concatenate([[0.0], data["ts"]])
    with np.load(os.path.join(DATA_DIR, "reference.npz")) as ref:
        point = np.log([ref[k][3, 500] for k in ("theta[1]", "theta[2]", "theta[3]",
                                                  "theta[4]", "z_init[1]", "z_init[2]",
                                                  "sigma[1]", "sigma[2]")])
    stan = compile_model(model_lotka_volterra, *args, rtol=RTOL, atol=ATOL, mxstep=MXSTEP)
    tight = compile_model(model_lotka_volterra, *args, rtol=TIGHT, atol=TIGHT, mxstep=10**6)
    lp_ref, g_ref = tight.logp_and_grad(point)

    def hand(q, rtol, atol, mxstep, n_err):
        g = np.empty(8)
        return lotka_volterra_numba(q, g, times, data["y_init"], data["y"], rtol, atol,
                                    mxstep, n_err), g

    for n_err in (2, 14):
        check_close(f"hand-written (tight tolerances, {n_err} in the error norm)",
                    "lotka_volterra", *hand(point, TIGHT, TIGHT, 10**6, n_err), lp_ref, g_ref,
                    rtol=1e-7)
    errors = {"ours": stan.logp_and_grad(point), "hand": hand(point, RTOL, ATOL, MXSTEP, 2),
              "hand-all": hand(point, RTOL, ATOL, MXSTEP, 14)}
    ours_loop, hand_loop = _timing_loops()
    grad = np.empty(8)
    theta = point.copy()
    runs = {
        "ours": lambda n: ours_loop(stan.logp_grad_address, stan.data_pointer, theta, grad, n),
        "hand": lambda n: hand_loop(lotka_volterra_numba, theta, grad,
                                    (times, data["y_init"], data["y"], RTOL, ATOL, MXSTEP, 2), n),
        "hand-all": lambda n: hand_loop(lotka_volterra_numba, theta, grad,
                                        (times, data["y_init"], data["y"], RTOL, ATOL, MXSTEP,
                                         14), n),
    }
    try:
        jax_fn = _jax_value_and_grad(data)
        lp_jax, g_jax = jax_fn(point)
        errors["JAX"] = (float(lp_jax), np.asarray(g_jax))

        def jax_run(n: int) -> None:
            for _ in range(n):
                jax_fn(point)[1].block_until_ready()

        runs["JAX"] = jax_run
    except ImportError:
        pass
    timings = measure(runs)
    lines = [f"{'':<9}{'min us':>10}{'median us':>11}{'x hand':>8}{'logp err':>11}"
             f"{'grad err':>11}"]
    hand_min = min(timings["hand"])
    for name, t in timings.items():
        lp, g = errors[name]
        g_err = float(np.max(np.abs(np.asarray(g) - g_ref)) / np.max(np.abs(g_ref)))
        lines.append(f"{name:<9}{min(t) * 1e6:>10.1f}{statistics.median(t) * 1e6:>11.1f}"
                     f"{min(t) / hand_min:>8.2f}{abs(lp - lp_ref):>11.1e}{g_err:>11.1e}")
    ratio = min(timings["ours"]) / hand_min
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    lines.append(f"target: ours within {TARGET_RATIO}x of the hand-written gradient: {verdict} "
                 f"({ratio:.2f}x on the minima)")
    lines.append("errors: against the solution at tolerances 1e-11 (logp absolute, gradient "
                 "relative to its largest component)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--quick", action="store_true", help="200 warmup + 200 draws")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warm-runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds allowed to each library's process")
    parser.add_argument("--pymc-python", help="interpreter with PyMC (and nutpie)")
    parser.add_argument("--no-gradient", action="store_true")
    parser.add_argument("--no-sampling", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.out, json.loads(args.config))
        return
    if args.quick:
        args.warmup, args.draws = 200, 200
    libraries = [s.strip() for s in args.libraries.split(",") if s.strip()]
    bad = [name for name in libraries if name not in LIBRARIES]
    if bad:
        raise SystemExit(f"unknown libraries {bad}; choose from {', '.join(LIBRARIES)}")
    sys.path.insert(0, BENCH_DIR)
    from mcmc_suite import machine_facts

    print(machine_facts())
    if not args.no_gradient:
        print("\nOne (logp, gradient) of the Lotka-Volterra posterior, Stan's tolerances "
              f"(rtol {RTOL:g}, atol {ATOL:g}):")
        print(gradient_table(), flush=True)
    if not args.no_sampling:
        cfg = {"warmup": args.warmup, "draws": args.draws, "chains": args.chains,
               "seed": args.seed, "warm_runs": args.warm_runs}
        print(f"\nNUTS, {args.chains} chains x ({args.warmup} warmup + {args.draws} draws), "
              f"fresh process, empty caches; warm = median of {args.warm_runs} more run(s):")
        print(sampling_table(cfg, libraries, args.pymc_python, args.timeout))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average after the run: {load}")


if __name__ == "__main__":
    main()
