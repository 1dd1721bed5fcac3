"""The memory a run keeps, estimated before it starts (:mod:`inference.resources`).

The oracle of the estimate is the run itself: the ``nbytes`` of every array a small run ends
with (draws, statistics, warmup draws, chain state, and the sites and log-likelihood computed
on first use) must add up to the estimate ``MCMC`` checked before allocating them.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import inference.mcmc as mcmc_module
from inference import MCMC, NUTS, SamplingWarning
from inference import functional as F
from inference import resources as R
from inference.resources import (
    InsufficientMemoryError,
    MemoryUsageWarning,
    check_memory,
    estimate_run_bytes,
    format_bytes,
)
from tests.inference.models import EightSchoolsNonCentered, GaussianModel

pytestmark = pytest.mark.filterwarnings("ignore:Too few warmup iterations")

GiB = 2**30


def _gauss():
    return GaussianModel([0.0, 1.0], [[1.0, 0.3], [0.3, 0.5]])


def _nbytes(arrays) -> int:
    return sum(np.asarray(a).nbytes for a in arrays)


@pytest.fixture
def checked(monkeypatch):
    """Every estimate MCMC checks, in order (the check itself still runs)."""
    seen = []

    def record(estimate):
        seen.append(estimate)
        check_memory(estimate)

    monkeypatch.setattr(mcmc_module, "check_memory", record)
    return seen


def _run(mcmc, call="run", *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        getattr(mcmc, call)(0, *args)
    return mcmc


def _kept(mcmc) -> dict[str, int]:
    """The nbytes of what a finished run holds, by the estimate's parts."""
    res = mcmc.results
    saved = res.warmup_draws is not None
    return {
        "draws": res.draws.nbytes,
        "statistics": _nbytes(mcmc.get_extra_fields(group_by_chain=True).values()),
        "warmup_draws": res.warmup_draws.nbytes if saved else 0,
        "warmup_statistics": (
            _nbytes(mcmc.get_extra_fields(group_by_chain=True, warmup=True).values())
            if saved else 0),
        "chain_state": _nbytes(mcmc.last_state.chains),
        "sites": _nbytes(mcmc.get_samples(group_by_chain=True).values()),
        "warmup_sites": (_nbytes(mcmc.get_samples(group_by_chain=True, warmup=True).values())
                         if saved else 0),
        "log_likelihood": _nbytes(res.log_likelihood().values()),
    }


@pytest.mark.parametrize(
    "dense_mass, save_warmup, thinning, adaptation",
    [(False, False, 1, "stan"), (False, True, 3, "fisher"), (True, True, 2, "stan"),
     (False, True, 1, "low_rank")],
)
def test_estimate_equals_the_arrays_a_run_keeps(checked, dense_mass, save_warmup, thinning,
                                                adaptation):
    # eight schools: a deterministic site (theta) and an observed one (y), so every part counts;
    # the low-rank metric's state has its ring buffers and capped eigenvectors
    kernel = NUTS(EightSchoolsNonCentered(), dense_mass=dense_mass,
                  mass_matrix_adaptation=adaptation)
    mcmc = MCMC(kernel, num_warmup=31,
                num_samples=41, num_chains=3, thinning=thinning, save_warmup=save_warmup,
                progress_bar=False)
    _run(mcmc)
    (estimate,) = checked
    kept = _kept(mcmc)
    assert {part: getattr(estimate, part) for part in kept} == kept
    assert estimate.total == sum(kept.values())
    assert estimate.sites > 0 and estimate.log_likelihood > 0
    assert (estimate.warmup_draws > 0) == save_warmup


def test_estimate_when_continuing_after_warmup(checked):
    mcmc = MCMC(NUTS(_gauss()), num_warmup=40, num_samples=30, num_chains=2, save_warmup=True,
                progress_bar=False)
    _run(mcmc, "warmup")
    _run(mcmc, "run")  # continues from post_warmup_state: no warmup left, so none kept
    warmup_estimate, run_estimate = checked
    assert warmup_estimate.warmup_draws == 2 * 40 * 2 * 8 and warmup_estimate.draws == 0
    assert run_estimate.warmup_draws == 0
    kept = _kept(mcmc)
    assert {part: getattr(run_estimate, part) for part in kept} == kept


def test_estimate_of_a_ppl_model():
    """A compiled model function: its constrained sites and log-likelihood are measured."""
    import ppl
    from ppl import dist

    def regression(x, y=None):
        slope = ppl.sample("slope", dist.Normal(0.0, 1.0))
        scale = ppl.sample("scale", dist.HalfNormal(1.0))
        with ppl.plate("data", x.shape[0]):
            mean = ppl.deterministic("mean", slope * x)
            ppl.sample("y", dist.Normal(mean, scale), obs=y)

    x = np.linspace(-1.0, 1.0, 7)
    mcmc = MCMC(NUTS(regression), num_warmup=20, num_samples=10, num_chains=2,
                progress_bar=False)
    _run(mcmc, "run", x, 0.5 * x)
    model = mcmc.last_state.model
    sites, log_likelihood = R.value_bytes_per_draw(model)
    assert sites == (1 + 1 + 7) * 8 and log_likelihood == 7 * 8
    assert _nbytes(mcmc.get_samples().values()) == 2 * 10 * sites
    assert _nbytes(mcmc.results.log_likelihood().values()) == 2 * 10 * log_likelihood


def test_oversized_run_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(R, "available_memory", lambda: 64 * GiB)

    def no_allocation(*args, **kwargs):
        raise AssertionError("allocated before the memory check")

    monkeypatch.setattr(mcmc_module, "allocate_output", no_allocation)
    monkeypatch.setattr(F, "init", no_allocation)
    mcmc = MCMC(NUTS(_gauss()), num_warmup=10, num_samples=10**9, num_chains=64,
                save_warmup=True, progress_bar=False)
    tracemalloc.start()
    try:
        with pytest.raises(InsufficientMemoryError) as info:
            mcmc.run(0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20
    err = info.value
    assert isinstance(err, MemoryError)
    assert err.available == 64 * GiB and err.estimate.sampling > 64 * GiB
    message = str(err)
    expected = [format_bytes(err.estimate.sampling), "64.0 GiB", "draws: 954 GiB",
                "sampler statistics:", "64 chains x 1,000,000,000 kept draws x 2 dimensions",
                "thinning=k", "num_samples (now 1,000,000,000)", "num_chains (now 64)",
                "save_warmup=False"]
    for text in expected:
        assert text in message, text


def test_dense_mass_matrices_are_counted_and_named():
    diagonal = estimate_run_bytes(4, 100, 10_000)
    dense = estimate_run_bytes(4, 100, 10_000, dense_mass=True)
    # per chain, three dim x dim matrices: the metric, its Cholesky factor, Welford's sums
    assert dense.chain_state - diagonal.chain_state == 4 * 3 * 10_000**2 * 8
    assert "dense_mass=False" in dense.remedies()
    assert "dense_mass" not in diagonal.remedies()


def _small_estimate():
    return R.estimate_run_bytes(2, 100, 3, site_bytes_per_draw=24,
                                log_likelihood_bytes_per_draw=800)


@pytest.mark.parametrize(
    "available, outcome",
    [
        (lambda e: e.sampling - 1, "raise"),
        (lambda e: e.total + 1, "warn"),  # fits, but the whole is over half
        (lambda e: 2 * e.total + 1, "quiet"),
    ],
)
def test_check_memory_thresholds(monkeypatch, available, outcome):
    estimate = _small_estimate()
    monkeypatch.setattr(R, "available_memory", lambda: available(estimate))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if outcome == "raise":
            with pytest.raises(InsufficientMemoryError, match="was not started"):
                check_memory(estimate)
        else:
            check_memory(estimate)
    memory_warnings = [w for w in caught if issubclass(w.category, MemoryUsageWarning)]
    assert len(memory_warnings) == (outcome == "warn")
    if memory_warnings:
        text = str(memory_warnings[0].message)
        assert "over half" in text and "thinning=k" in text and "log-likelihood" in text


def test_mcmc_warns_above_half_of_the_available_memory(monkeypatch):
    monkeypatch.setattr(R, "available_memory", lambda: 100_000)  # bytes
    mcmc = MCMC(NUTS(_gauss()), num_warmup=200, num_samples=400, num_chains=2,
                progress_bar=False)
    with pytest.warns(MemoryUsageWarning, match="over half of the 97.7 KiB available") as record:
        mcmc.run(0)
    assert record[0].filename == __file__  # points at the call of run
    assert mcmc.get_samples()["x"].shape == (800, 2)


def test_unknown_available_memory_skips_the_check(monkeypatch):
    monkeypatch.setattr(R, "available_memory", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_memory(estimate_run_bytes(64, 10**12, 1000))


def test_available_memory_sources(monkeypatch, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    1234567 kB\n")
    assert R._meminfo_available(str(meminfo)) == 1234567 * 1024
    assert R._meminfo_available(str(tmp_path / "missing")) is None
    found = R.available_memory()
    assert found is None or found > 0
    # without /proc/meminfo: the free physical pages, else unknown
    monkeypatch.setattr(R, "_meminfo_available", lambda: None)
    monkeypatch.setattr(R.os, "sysconf", lambda name: {"SC_AVPHYS_PAGES": 10,
                                                       "SC_PAGE_SIZE": 4096}[name])
    assert R.available_memory() == 40960

    def unsupported(name):
        raise ValueError(name)

    monkeypatch.setattr(R.os, "sysconf", unsupported)
    assert R.available_memory() is None


def test_format_bytes():
    assert [format_bytes(n) for n in (0, 1023, 1024, 10.25 * 2**20, 999.6 * GiB, 5 * 2**40)] \
        == ["0 B", "1023 B", "1.00 KiB", "10.2 MiB", "1000 GiB", "5.00 TiB"]


def _cgroup_tree(tmp_path, proc_line, files):
    proc = tmp_path / "cgroup"
    proc.write_text(proc_line + "\n")
    for rel, text in files.items():
        path = tmp_path / "fs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return str(proc), str(tmp_path / "fs")


def test_a_cgroup_v2_limit_bounds_the_available_memory(tmp_path):
    from inference.resources import cgroup_available

    proc, root = _cgroup_tree(tmp_path, "0::/job/42", {
        "job/42/memory.max": str(8 << 30), "job/42/memory.current": str(3 << 30)})
    assert cgroup_available(proc, root) == 5 << 30


def test_a_cgroup_v1_limit_bounds_the_available_memory(tmp_path):
    from inference.resources import cgroup_available

    proc, root = _cgroup_tree(tmp_path, "7:memory:/slurm/job9", {
        "memory/slurm/job9/memory.limit_in_bytes": str(4 << 30),
        "memory/slurm/job9/memory.usage_in_bytes": str(1 << 30)})
    assert cgroup_available(proc, root) == 3 << 30


@pytest.mark.parametrize("proc_line, files", [
    ("0::/", {"memory.max": "max", "memory.current": "123"}),
    ("5:memory:/", {"memory/memory.limit_in_bytes": str(2**63 - 4096)}),
    ("3:cpu,cpuacct:/", {}),
])
def test_no_cgroup_limit_means_no_bound(tmp_path, proc_line, files):
    from inference.resources import cgroup_available

    proc, root = _cgroup_tree(tmp_path, proc_line, files)
    assert cgroup_available(proc, root) is None
