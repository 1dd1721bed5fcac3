r"""MCMC benchmark suite: numbayes against NumPyro and nutpie on five standard models.

Every library samples the same models (:mod:`suite_models`: eight schools non-centred and
centred, logistic regression, stochastic volatility, hierarchical linear regression) with NUTS,
``--chains`` chains (4) x (``--warmup`` 1000 + ``--draws`` 1000) iterations.  NumPyro runs with
``chain_method="vectorized"`` on the CPU in double precision (``numpyro.enable_x64()``, as
numbayes and nutpie compute in float64); nutpie samples the PyMC version of the model compiled by
``nutpie.compile_pymc_model`` (numba backend).  ``numbayes-fisher-es`` and
``numbayes-lowrank-es`` add ``early_stop_warmup=True`` to nutpie's diagonal and low-rank
adaptations (``mass_matrix_adaptation="low_rank"``).  ``numbayes-fisher`` is numbayes with nutpie's
mass-matrix adaptation (``NUTS(model, mass_matrix_adaptation="fisher")``) instead of Stan's.
The peers are optional (``pip install numbayes[bench]``): a library that is not installed is
skipped, one that fails prints ``failed: <reason>`` in its row.

Run::

    python benchmarks/mcmc_suite.py                       # everything (~30 min on 2 cores)
    python benchmarks/mcmc_suite.py --quick               # 200 + 200 iterations, smoke run
    python benchmarks/mcmc_suite.py --models eight_schools_centred,logistic_regression \
        --libraries numbayes,nutpie --no-full-cold

What is measured
----------------
Each measurement runs in a **fresh process** (``--worker`` mode of this script), so nothing
compiled by an earlier measurement is in memory:

cold full
    Wall time from just before the library is imported to the draws in NumPy arrays, in a
    process whose compile caches are empty: numbayes with an empty temporary
    ``NUMBA_CACHE_DIR`` (the model *and* the sampler kernels compile), nutpie with an empty
    temporary PyTensor ``base_compiledir`` (and ``NUMBA_CACHE_DIR``).  JAX keeps no compile
    cache between processes by default, so NumPyro has one cold time, shown in both columns.
cold model
    The same in a process whose cache already holds everything but the suite model: a copy of
    a cache directory that was filled by sampling a *different* model (``warm_cache``) in an
    earlier process.  For numbayes this is the situation of a user whose sampler kernels are
    cached but whose model is new.
warm
    ``--warm-runs`` (3) or more further runs of the same model in the process of the model-cold
    measurement (new seeds; everything compiled; for NumPyro, the same ``MCMC`` object's
    ``run`` again, which reuses its compiled sampler): runs are added, up to 41, while the warm
    runs so far took less than ``--warm-seconds`` (10 s), so that a model that samples in a
    tenth of a second gets tens of runs.  The first of them is not counted, so
    that no library's figure includes a late compile.  Every warm figure (time,
    min ESS, ESS/s, divergences, grad/s) is the **median over the counted runs**, each run's
    ESS/s computed from its own ESS and time: a lucky seed on a funnel (the centred eight
    schools' min ESS varies several-fold between seeds) or a quiet moment of the machine does
    not decide the figure.
min ESS
    The smallest bulk ESS (:func:`inference.diagnostics.ess_bulk`, computed here on every
    library's draws) over all scalar components of the model's latent sites.  ``ESS/s cold``
    divides the model-cold run's own min ESS by the model-cold time.
div
    Divergent transitions after warmup (all chains).
grad/s
    Leapfrog steps (= gradient evaluations) of warmup and sampling together, divided by the
    warm wall time: the throughput of a whole run, fixed per-run overheads included
    (numbayes: ``n_steps`` of each chunk via ``progress_callback``; nutpie: ``n_steps`` of
    ``sample_stats`` and ``warmup_sample_stats``).  Not shown for NumPyro: a plain ``run``
    does not report its warmup's steps, and its ``warmup()``/``run()`` split, which does, jits
    anew at every call.
ESS/1k grad
    min ESS per 1000 leapfrog steps of the sampling phase: the sampler's statistical efficiency,
    independent of how fast a gradient is.

After the table, the posterior means of numbayes are compared with each peer's, component by
component: a difference larger than 5 Monte Carlo standard errors
(:math:`|\bar x_1 - \bar x_2| > 5 \sqrt{\mathrm{MCSE}_1^2 + \mathrm{MCSE}_2^2}`) prints a
warning line (a cross-check, not an assertion; the centred eight schools, with divergences, may
legitimately disagree).

The machine is shared (2 cores): the load average is printed before and after, and timings can
move by tens of percent between runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
from suite_models import MODELS, WARM_CACHE_MODEL, SuiteModel

LIBRARIES = ("numbayes", "numbayes-fisher", "numbayes-fisher-es", "numbayes-lowrank-es",
             "numpyro", "nutpie")
# the modules each library needs, to decide whether it is installed without importing it
REQUIREMENTS = {"numbayes": ("inference",), "numbayes-fisher": ("inference",),
                "numbayes-fisher-es": ("inference",), "numbayes-lowrank-es": ("inference",),
                "numpyro": ("jax", "numpyro"),
                "nutpie": ("pymc", "nutpie")}
MEAN_TOLERANCE = 5.0  # in Monte Carlo standard errors
MAX_WARM_RUNS = 41  # however short the runs (see --warm-seconds)


# ============================================================================================
# Worker side: one library, one model, in a fresh process
# ============================================================================================


@dataclass
class RunResult:
    """One MCMC run: its wall time, draws of the latent sites and step counts."""

    wall: float
    draws: dict[str, np.ndarray]  # site -> (chain, draw, *shape)
    steps_total: int  # leapfrog steps in warmup and sampling
    steps_sampling: int  # leapfrog steps after warmup
    divergences: int  # after warmup
    phases: dict[str, float] = field(default_factory=dict)  # library-specific timings


class NumbayesRunner:
    """numbayes: ``MCMC(NUTS(model), ...)``, chains run in parallel threads."""

    kernel_options: dict = {}  # keywords of NUTS (the defaults here)

    def __init__(self, spec: SuiteModel, data: dict, cfg: dict) -> None:
        from suite_models import lang_numbayes

        from inference import MCMC, NUTS

        self.spec, self.data, self._steps = spec, data, 0
        self.last_iteration: dict[int, int] = {}
        self.mcmc = MCMC(
            NUTS(spec.for_lang(lang_numbayes()), **self.kernel_options),
            num_warmup=cfg["warmup"],
            num_samples=cfg["draws"],
            num_chains=cfg["chains"],
            progress_bar=False,
            progress_callback=self._count_steps,
        )

    def _count_steps(self, progress) -> None:
        # a chunk never straddles the end of warmup, and steps_per_draw is the mean number of
        # leapfrog steps over the chunk's iterations, so mean x iterations is the chunk's total
        for p in progress:
            done = p.iteration - self.last_iteration.get(p.chain, 0)
            self.last_iteration[p.chain] = p.iteration
            if done > 0:
                self._steps += round(p.steps_per_draw * done)

    def run(self, seed: int) -> RunResult:
        self._steps, self.last_iteration = 0, {}
        t0 = time.perf_counter()
        self.mcmc.run(seed, **self.data)
        samples = self.mcmc.get_samples(group_by_chain=True)
        draws = {p: np.asarray(samples[p]) for p in self.spec.params}
        wall = time.perf_counter() - t0
        extra = self.mcmc.get_extra_fields(group_by_chain=True)
        return RunResult(
            wall=wall,
            draws=draws,
            steps_total=int(self._steps),
            steps_sampling=int(np.sum(extra["n_steps"])),
            divergences=int(np.sum(extra["diverging"])),
            phases=dict(self.mcmc.timings),
        )


class NumpyroRunner:
    """NumPyro: ``MCMC(NUTS(model), chain_method="vectorized")`` on the CPU, float64."""

    def __init__(self, spec: SuiteModel, data: dict, cfg: dict) -> None:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        import numpyro
        from numpyro.infer import MCMC, NUTS
        from suite_models import lang_numpyro

        numpyro.enable_x64()
        self.jax, self.spec, self.data, self.runs = jax, spec, data, 0
        self.mcmc = MCMC(
            NUTS(spec.for_lang(lang_numpyro())),
            num_warmup=cfg["warmup"],
            num_samples=cfg["draws"],
            num_chains=cfg["chains"],
            chain_method="vectorized",
            progress_bar=False,
        )

    def _collect(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        samples = self.mcmc.get_samples(group_by_chain=True)
        draws = {p: np.asarray(samples[p]) for p in self.spec.params}
        extra = {k: np.asarray(v) for k, v in self.mcmc.get_extra_fields(True).items()}
        return draws, extra

    def run(self, seed: int) -> RunResult:
        # a plain mcmc.run every time, as a user reruns: the second call reuses the compiled
        # sampler (NumPyro's warmup()/run() split would count the warmup's leapfrog steps, but
        # it jits anew at every call, which made the "warm" time mostly compile time)
        t0 = time.perf_counter()
        self.mcmc.run(self.jax.random.PRNGKey(seed), extra_fields=("num_steps", "diverging"),
                      **self.data)
        draws, extra = self._collect()
        wall = time.perf_counter() - t0
        return RunResult(wall, draws, -1, int(extra["num_steps"].sum()),
                         int(extra["diverging"].sum()))


class NutpieRunner:
    """nutpie: ``nutpie.sample(nutpie.compile_pymc_model(pymc_model), ...)``."""

    def __init__(self, spec: SuiteModel, data: dict, cfg: dict) -> None:
        import nutpie

        self.nutpie, self.spec, self.cfg = nutpie, spec, cfg
        t0 = time.perf_counter()
        self.compiled = nutpie.compile_pymc_model(spec.pymc_model(**data))
        self.compile_seconds = time.perf_counter() - t0

    def run(self, seed: int) -> RunResult:
        t0 = time.perf_counter()
        trace = self.nutpie.sample(
            self.compiled,
            draws=self.cfg["draws"],
            tune=self.cfg["warmup"],
            chains=self.cfg["chains"],
            seed=seed,
            progress_bar=False,
        )
        posterior = trace["posterior"]
        draws = {p: np.asarray(posterior[p].values) for p in self.spec.params}
        wall = time.perf_counter() - t0
        stats, warm_stats = trace["sample_stats"], trace["warmup_sample_stats"]
        sampling_steps = int(np.sum(stats["n_steps"].values))
        return RunResult(
            wall=wall,
            draws=draws,
            steps_total=sampling_steps + int(np.sum(warm_stats["n_steps"].values)),
            steps_sampling=sampling_steps,
            divergences=int(np.sum(stats["diverging"].values)),
            phases={"sample": wall},
        )


class NumbayesFisherRunner(NumbayesRunner):
    """numbayes with nutpie's mass-matrix adaptation: ``NUTS(model,
    mass_matrix_adaptation="fisher")`` (Stan's windowed adaptation is the default)."""

    kernel_options = {"mass_matrix_adaptation": "fisher"}


class NumbayesLowRankRunner(NumbayesRunner):
    """numbayes with nutpie's low-rank metric and the early end of warmup:
    ``NUTS(model, mass_matrix_adaptation="low_rank", early_stop_warmup=True)``."""

    kernel_options = {"mass_matrix_adaptation": "low_rank", "early_stop_warmup": True}


class NumbayesFisherEarlyRunner(NumbayesRunner):
    """numbayes with nutpie's diagonal metric and the early end of warmup."""

    kernel_options = {"mass_matrix_adaptation": "fisher", "early_stop_warmup": True}


RUNNERS = {"numbayes": NumbayesRunner, "numbayes-fisher": NumbayesFisherRunner,
           "numbayes-fisher-es": NumbayesFisherEarlyRunner,
           "numbayes-lowrank-es": NumbayesLowRankRunner,
           "numpyro": NumpyroRunner, "nutpie": NutpieRunner}


def _model_by_name(name: str) -> SuiteModel:
    return WARM_CACHE_MODEL if name == WARM_CACHE_MODEL.name else MODELS[name]


def worker(library: str, model_name: str, out: str, cfg: dict) -> None:
    """Sample ``model_name`` with ``library``: one cold run, then ``cfg["warm_runs"]`` more;
    write the runs to the ``.npz`` file ``out``."""
    spec = _model_by_name(model_name)
    data = spec.data()
    load = os.getloadavg()[0]
    t0 = time.perf_counter()  # the clock starts before the library is imported
    runner = RUNNERS[library](spec, data, cfg)
    t_setup = time.perf_counter() - t0
    runs = [runner.run(cfg["seed"])]
    runs[0].wall = time.perf_counter() - t0  # cold: imports, model building, compiling
    runs[0].phases["import_and_setup"] = t_setup
    if hasattr(runner, "compile_seconds"):
        runs[0].phases["of which compile"] = runner.compile_seconds
    # at least warm_runs, then more while the warm runs so far took less than warm_seconds: a
    # run of a tenth of a second gets enough repetitions for a steady median
    t_warm = time.perf_counter()
    k = 0
    while k < cfg["warm_runs"] or (k < MAX_WARM_RUNS and
                                   time.perf_counter() - t_warm < cfg.get("warm_seconds", 0.0)):
        runs.append(runner.run(cfg["seed"] + 1 + k))
        k += 1
    meta = {
        "load_at_start": load,
        "runs": [
            {k: getattr(r, k) for k in ("wall", "steps_total", "steps_sampling", "divergences",
                                        "phases")}
            for r in runs
        ],
    }
    arrays = {f"run{i}__{p}": a for i, r in enumerate(runs) for p, a in r.draws.items()}
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)


# ============================================================================================
# Driver side: fresh processes, caches, the table
# ============================================================================================


@dataclass
class Measurement:
    """What one worker process returned (or why it failed)."""

    runs: list[dict] = field(default_factory=list)
    draws: list[dict[str, np.ndarray]] = field(default_factory=list)
    load_at_start: float = math.nan
    error: str | None = None


def run_worker(library: str, model: str, cfg: dict, warm_runs: int, env_extra: dict,
               timeout: float) -> Measurement:
    """Run one measurement in a fresh Python process; never raises."""
    with tempfile.TemporaryDirectory(prefix="mcmc_suite_out_") as tmp:
        out = os.path.join(tmp, "result.npz")
        command = [sys.executable, os.path.abspath(__file__), "--worker", library, model,
                   "--out", out, "--config", json.dumps(dict(cfg, warm_runs=warm_runs))]
        env = dict(os.environ, **env_extra)
        try:
            proc = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return Measurement(error=f"timed out after {timeout:.0f} s")
        if proc.returncode != 0 or not os.path.exists(out):
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            return Measurement(error=(lines[-1] if lines else f"exit code {proc.returncode}"))
        with np.load(out) as f:
            meta = json.loads(str(f["meta"]))
            draws: list[dict] = [{} for _ in meta["runs"]]
            for key in f.files:
                if key != "meta":
                    run, param = key.split("__", 1)
                    draws[int(run[3:])][param] = f[key]
    return Measurement(meta["runs"], draws, meta["load_at_start"])


class Caches:
    """Temporary compile-cache folders: empty ones, and copies of one warmed by another model."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.templates: dict[str, tuple[str, float]] = {}
        self.count = 0

    @staticmethod
    def env(library: str, folder: str) -> dict[str, str]:
        if library == "nutpie":
            # PyTensor's compiled code and its numba cache live under base_compiledir
            return {"PYTENSOR_FLAGS": f"base_compiledir={folder}", "NUMBA_CACHE_DIR": folder}
        return {"NUMBA_CACHE_DIR": folder}

    def empty(self) -> str:
        self.count += 1
        folder = os.path.join(self.root, f"cache{self.count}")
        os.makedirs(folder)
        return folder

    def warmed(self, library: str, cfg: dict, timeout: float) -> str:
        """A fresh copy of a cache that a ``warm_cache`` run of ``library`` filled."""
        stamp = source_stamp() if library.startswith("numbayes") else 0.0
        if library not in self.templates or self.templates[library][1] != stamp:
            # (re)warm: first use, or numbayes' sources changed since (Numba's cache is keyed
            # on the source files' modification times, so the kernels would compile again)
            folder = self.empty()
            quick = dict(cfg, warmup=100, draws=100)
            m = run_worker(library, WARM_CACHE_MODEL.name, quick, 0, self.env(library, folder),
                           timeout)
            if m.error:
                raise RuntimeError(f"warming the {library} cache failed: {m.error}")
            self.templates[library] = (folder, stamp)
        self.count += 1
        copy = os.path.join(self.root, f"cache{self.count}")
        shutil.copytree(self.templates[library][0], copy, symlinks=True)
        return copy


def source_stamp() -> float:
    """Latest modification time of numbayes' Python sources (its packages' folders)."""
    from importlib.util import find_spec

    latest = 0.0
    for package in ("kernels", "autodiff", "ppl", "inference"):
        spec = find_spec(package)
        for folder in spec.submodule_search_locations if spec else ():
            for base, _, files in os.walk(folder):
                for name in files:
                    if name.endswith(".py"):
                        latest = max(latest, os.path.getmtime(os.path.join(base, name)))
    return latest


def min_ess(draws: dict[str, np.ndarray]) -> float:
    """Smallest bulk ESS over every scalar component of every site."""
    from inference.diagnostics import ess_bulk

    values = [np.ravel(ess_bulk(a)) for a in draws.values()]
    return float(np.nanmin(np.concatenate(values)))


@dataclass
class Row:
    library: str
    model: str
    cold_full: float = math.nan
    cold_model: float = math.nan
    warm: float = math.nan
    ess: float = math.nan
    ess_per_s_cold: float = math.nan
    ess_per_s_warm: float = math.nan
    divergences: int = -1
    grad_per_s: float = math.nan
    ess_per_kgrad: float = math.nan
    error: str | None = None
    phases: dict[str, dict] = field(default_factory=dict)
    warm_draws: dict[str, np.ndarray] | None = None
    warm_runs: int = 0  # the warm runs counted


def measure(library: str, model: str, cfg: dict, args, caches: Caches) -> Row:
    """All measurements of one library x model."""
    row = Row(library, model)
    stateless = library == "numpyro"  # no compile cache across processes
    if not stateless and not args.no_full_cold:
        folder = caches.empty()
        full = run_worker(library, model, cfg, 0, caches.env(library, folder), args.timeout)
        if full.error:
            row.error = f"failed (full cold): {full.error}"
            return row
        row.cold_full = full.runs[0]["wall"]
        row.phases["cold full"] = full.runs[0]["phases"]
    try:
        env = {} if stateless else caches.env(library, caches.warmed(library, cfg, args.timeout))
    except RuntimeError as err:
        row.error = f"failed: {err}"
        return row
    m = run_worker(library, model, cfg, args.warm_runs, env, args.timeout)
    if m.error:
        row.error = f"failed: {m.error}"
        return row
    cold = m.runs[0]
    row.cold_model = cold["wall"]
    row.phases["cold model"] = cold["phases"]
    if stateless:
        row.cold_full = row.cold_model
    row.ess_per_s_cold = min_ess(m.draws[0]) / row.cold_model
    # the warm runs that count: all but the first when there are several (no late compile is
    # counted), and each figure is their median, so that neither a lucky seed on a funnel nor
    # a lucky moment of the machine decides it
    counted = list(range(2, len(m.runs))) or list(range(1, len(m.runs))) or [0]
    runs = [m.runs[k] for k in counted]
    ess = [min_ess(m.draws[k]) for k in counted]
    warm = counted != [0]
    row.warm_runs = len(counted) if warm else 0
    row.warm = float(np.median([r["wall"] for r in runs])) if warm else math.nan
    row.phases["warm"] = runs[0]["phases"]
    row.ess = float(np.median(ess))
    row.ess_per_s_warm = (float(np.median([e / r["wall"] for e, r in zip(ess, runs)]))
                          if warm else math.nan)
    row.divergences = int(np.median([r["divergences"] for r in runs]))
    if warm and all(r["steps_total"] > 0 for r in runs):
        row.grad_per_s = float(np.median([r["steps_total"] / r["wall"] for r in runs]))
    row.ess_per_kgrad = float(np.median([1000.0 * e / max(r["steps_sampling"], 1)
                                         for e, r in zip(ess, runs)]))
    row.warm_draws = m.draws[counted[0]]
    return row


# -------------------------------------------------------------------------------- reporting


def _fmt(x: float, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


COLUMNS = [("library", 15), ("model", 24), ("cold full s", 11), ("cold model s", 12),
           ("warm s", 7), ("runs", 4), ("min ESS", 7), ("ESS/s cold", 10), ("ESS/s warm", 10), ("div", 4),
           ("grad/s", 8), ("ESS/1k grad", 11)]


def format_table(rows: list[Row]) -> str:
    head = " ".join(f"{name:>{w}}" if i > 1 else f"{name:<{w}}"
                    for i, (name, w) in enumerate(COLUMNS))
    lines = [head, "-" * len(head)]
    for r in rows:
        left = f"{r.library:<15} {r.model:<24}"
        if r.error:
            lines.append(f"{left} {r.error}")
            continue
        cells = [_fmt(r.cold_full), _fmt(r.cold_model), _fmt(r.warm, 2), str(r.warm_runs),
                 _fmt(r.ess, 0),
                 _fmt(r.ess_per_s_cold), _fmt(r.ess_per_s_warm), str(r.divergences),
                 _fmt(r.grad_per_s, 0), _fmt(r.ess_per_kgrad)]
        widths = [w for _, w in COLUMNS[2:]]
        lines.append(left + " " + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
    return "\n".join(lines)


def format_phases(rows: list[Row]) -> str:
    """Where the cold and warm seconds go, per row."""
    lines = []
    for r in rows:
        if r.error or not r.phases:
            continue
        parts = []
        for label, phases in r.phases.items():
            inner = ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
            parts.append(f"{label}: {inner}")
        lines.append(f"  {r.library}/{r.model}: " + "; ".join(parts))
    return "\n".join(lines)


def cross_check(rows: list[Row]) -> list[str]:
    """Posterior means of numbayes against each peer, within MEAN_TOLERANCE MCSE."""
    from inference.diagnostics import mcse_mean

    lines = []
    by_key = {(r.library, r.model): r for r in rows if r.warm_draws is not None}
    for (library, model), ours in by_key.items():
        if not library.startswith("numbayes"):
            continue
        for peer in ("numpyro", "nutpie"):
            theirs = by_key.get((peer, model))
            if theirs is None:
                continue
            worst, where = 0.0, ""
            for p, a in ours.warm_draws.items():
                b = theirs.warm_draws[p]
                diff = np.ravel(a.mean(axis=(0, 1)) - b.mean(axis=(0, 1)))
                se = np.sqrt(np.ravel(mcse_mean(a)) ** 2 + np.ravel(mcse_mean(b)) ** 2)
                z = np.abs(diff) / se
                i = int(np.nanargmax(z))
                if z[i] > worst:
                    worst = float(z[i])
                    where = p if z.size == 1 else f"{p}[{i}]"
            if worst > MEAN_TOLERANCE:
                lines.append(f"WARNING {model}: {library} and {peer} posterior means differ by "
                             f"{worst:.1f} MCSE at {where} (> {MEAN_TOLERANCE:g})")
            else:
                lines.append(f"ok      {model}: {library} vs {peer}: largest difference "
                             f"{worst:.1f} MCSE ({where})")
    return lines


def _installed(library: str) -> bool:
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in REQUIREMENTS[library])


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def machine_facts() -> str:
    import platform

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(f"{d} {_version(d)}" for d in ("numba", "numpy", "jax", "numpyro",
                                                         "pymc", "pytensor", "nutpie"))
    return (f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
            f"{platform.python_version()}; load average (1, 5, 15 min) before the run: {load}\n"
            f"versions: {versions}")


def _parse_list(text: str, allowed, what: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in allowed]
    if bad:
        raise SystemExit(f"unknown {what} {bad}; choose from {', '.join(allowed)}")
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {', '.join(MODELS)}")
    parser.add_argument("--libraries", default=",".join(LIBRARIES),
                        help=f"comma-separated subset of {', '.join(LIBRARIES)}")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 200 warmup + 200 draws")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm-runs", type=int, default=3,
                        help="warm runs after the cold one; the median of all but the first "
                             "is reported")
    parser.add_argument("--warm-seconds", type=float, default=10.0,
                        help=f"add warm runs (up to {MAX_WARM_RUNS}) until they took this long")
    parser.add_argument("--no-full-cold", action="store_true",
                        help="skip the empty-cache measurement (saves a sampler compile per "
                             "model)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds allowed to each worker process")
    parser.add_argument("--json", help="also write the rows (no draws) to this file")
    parser.add_argument("--worker", nargs=2, metavar=("LIBRARY", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(args.worker[0], args.worker[1], args.out, json.loads(args.config))
        return

    if args.quick:
        # the warm runs stay: the first is not counted (see the docstring)
        args.warmup, args.draws = 200, 200
    models = _parse_list(args.models, MODELS, "model(s)")
    libraries = _parse_list(args.libraries, LIBRARIES, "librar(y/ies)")
    cfg = {"warmup": args.warmup, "draws": args.draws, "chains": args.chains, "seed": args.seed,
           "warm_seconds": args.warm_seconds}

    print(machine_facts())
    print(f"NUTS, {args.chains} chains x ({args.warmup} warmup + {args.draws} draws); warm = "
          f"median of the warm runs after the cold one but the first (at least "
          f"{args.warm_runs}, more until they took {args.warm_seconds:.0f} s; the run count is "
          f"in the 'runs' column)\n", flush=True)
    rows: list[Row] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mcmc_suite_caches_") as root:
        caches = Caches(root)
        for model in models:
            for library in libraries:
                if not _installed(library):
                    rows.append(Row(library, model, error="skipped: not installed"))
                    continue
                t0 = time.perf_counter()
                print(f"... {library} / {model}", end="", file=sys.stderr, flush=True)
                rows.append(measure(library, model, cfg, args, caches))
                print(f" {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(format_table(rows))
    print("\nseconds by phase (cold runs include imports; numbayes: model_compile, "
          "sampler_compile, warmup, sampling):")
    print(format_phases(rows))
    for r in rows:
        compile_s = r.phases.get("cold model", {}).get("sampler_compile", 0.0)
        if r.library.startswith("numbayes") and compile_s > 5.0:
            print(f"  note: numbayes/{r.model}: the sampler kernels compiled in the model-cold "
                  f"run ({compile_s:.0f} s): numbayes' sources changed during the run?")
    print()
    for line in cross_check(rows):
        print(line)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average after the run: {load}; total {time.perf_counter() - t_start:.0f} s")
    if args.json:
        keep = [{k: v for k, v in r.__dict__.items() if k != "warm_draws"} for r in rows]
        with open(args.json, "w") as f:
            json.dump(keep, f, indent=1, default=float)


if __name__ == "__main__":
    main()
