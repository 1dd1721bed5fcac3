"""ChEES-HMC (``MCMC(ChEES(model), num_chains=...)``): posteriors against exact moments and the
posteriordb reference, reproducibility across threads and blocks, float32 storage, thinning,
the zarr store, the run's standard features (save_warmup, progress, Ctrl-C and SIGTERM, the
memory estimate from ChEES' own state, the declared compile signatures), and the errors for
unsupported options."""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest

from inference import MCMC, ChEES, SamplingWarning, open_store
from inference.diagnostics import mcse_mean
from inference.resources import estimate_run_bytes
from kernels import precompile
from kernels.chees import COMPILED_KERNELS, allocate_chees, halton
from kernels.jit import DECLARED, JIT_DISABLED
from tests.inference.models import EightSchoolsNonCentered, GaussianModel
from tests.posteriordb import compare, load
from tests.posteriordb_models import REFERENCE_NAMES, model_args

MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[1.0, 0.8, 0.0], [0.8, 2.0, 0.3], [0.0, 0.3, 0.25]])


def _run(model, *, seed=0, num_chains=64, num_warmup=150, num_samples=100, **options):
    kernel_options = {k: options.pop(k) for k in ("block_size",) if k in options}
    mcmc = MCMC(ChEES(model, **kernel_options), num_warmup=num_warmup, num_samples=num_samples,
                num_chains=num_chains, progress_bar=False, **options)
    mcmc.run(seed)
    return mcmc


def test_correlated_gaussian_means_and_variances_within_mcse():
    mcmc = _run(GaussianModel(mean=MEAN, cov=COV), num_chains=128, num_samples=200)
    x = mcmc.get_samples(group_by_chain=True)["x"]  # (chain, draw, 3)
    for k in range(3):
        se = mcse_mean(x[..., k])
        assert abs(x[..., k].mean() - MEAN[k]) < 4 * se, (k, x[..., k].mean(), se)
        sq = (x[..., k] - MEAN[k]) ** 2  # E[(x - mu)^2] = the variance, with its own MCSE
        assert abs(sq.mean() - COV[k, k]) < 4 * mcse_mean(sq), (k, sq.mean())
    # the adapted metric is the cross-chain variance: near the target's marginal variances
    np.testing.assert_allclose(mcmc.adapted["inverse_mass_matrix"], np.diag(COV), rtol=0.35)
    assert mcmc.results.algorithm == "chees"
    assert int(mcmc.get_extra_fields()["diverging"].sum()) == 0


def test_eight_schools_matches_posteriordb_reference():
    name = "eight_schools-eight_schools_noncentered"
    model, args, kwargs = model_args(name)
    mcmc = MCMC(ChEES(model), num_warmup=200, num_samples=200, num_chains=256,
                progress_bar=False)
    mcmc.run(20261203, *args, **kwargs)
    samples = mcmc.get_samples(group_by_chain=True)
    failures = compare({s: samples[s] for s in REFERENCE_NAMES[name]}, load(name))
    assert not failures, "\n".join(failures)
    stats = mcmc.to_arviz().sample_stats
    assert {"step_size", "acceptance_rate", "diverging", "n_steps"} <= set(stats.data_vars)
    # one shared step size and, per iteration, one number of leapfrog steps for all chains
    # (but a divergent trajectory, which stops where it diverged)
    assert np.unique(np.asarray(stats.step_size)).size == 1
    steps = np.ma.masked_array(np.asarray(stats.n_steps), np.asarray(stats.diverging))
    assert (steps.max(axis=0) == steps.min(axis=0)).all()
    assert np.asarray(stats.diverging).mean() < 1e-3


def test_same_seed_same_draws_for_any_threads_and_blocks():
    model = EightSchoolsNonCentered()
    reference = _run(model, num_chains=24, num_warmup=60, num_samples=20).results.draws
    for block_size in (1, 5, 24):
        draws = _run(model, num_chains=24, num_warmup=60, num_samples=20,
                     block_size=block_size).results.draws
        np.testing.assert_array_equal(draws, reference)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        draws = _run(model, num_chains=24, num_warmup=60, num_samples=20).results.draws
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(draws, reference)
    other = _run(model, seed=1, num_chains=24, num_warmup=60, num_samples=20).results.draws
    assert not np.array_equal(other, reference)


def test_float32_storage_and_thinning_keep_the_same_draws():
    model = EightSchoolsNonCentered()
    full = _run(model, num_chains=8, num_warmup=40, num_samples=30)
    small = _run(model, num_chains=8, num_warmup=40, num_samples=30, draw_dtype="float32",
                 thinning=3, chunk_size=7)
    assert small.results.draws.dtype == np.float32
    np.testing.assert_array_equal(small.results.draws,
                                  full.results.draws[:, 2::3].astype(np.float32))
    np.testing.assert_array_equal(small.get_extra_fields(group_by_chain=True)["lp"],
                                  full.get_extra_fields(group_by_chain=True)["lp"][:, 2::3])
    assert small.get_samples()["tau"].dtype == np.float32


def test_memory_estimate_counts_float32_and_streamed_draws():
    f64 = estimate_run_bytes(1024, 200, 10)
    f32 = estimate_run_bytes(1024, 200, 10, draw_itemsize=4)
    streamed = estimate_run_bytes(1024, 200, 10, draws_in_memory=False)
    assert f32.draws * 2 == f64.draws == 1024 * 200 * 10 * 8
    assert streamed.draws == streamed.statistics == 0 and streamed.chain_state > 0


def test_zarr_store_round_trip(tmp_path):
    pytest.importorskip("zarr", reason="MCMC(store=) needs the optional zarr package")
    model = EightSchoolsNonCentered()
    path = tmp_path / "run.zarr"
    streamed = _run(model, num_chains=6, num_warmup=30, num_samples=25, chunk_size=10,
                    draw_dtype="float32", store=path)
    assert streamed.results.draws.shape == (6, 0, 10)  # nothing kept in memory
    in_memory = _run(model, num_chains=6, num_warmup=30, num_samples=25, draw_dtype="float32")
    tree = open_store(path)
    samples = in_memory.get_samples(group_by_chain=True)
    for site in ("mu", "tau", "z", "theta"):
        np.testing.assert_array_equal(np.asarray(tree["posterior"][site]), samples[site])
    np.testing.assert_array_equal(np.asarray(tree["sample_stats"]["lp"]),
                                  in_memory.get_extra_fields(group_by_chain=True)["lp"])
    assert list(tree["posterior"]["z"].dims) == ["chain", "draw", "school"]


def test_snaper_direction_is_the_leading_eigenvector_of_the_scaled_covariance():
    from kernels.chees import _principal_step

    rng = np.random.default_rng(1)
    cov = np.array([[4.0, 1.2, 0.0], [1.2, 1.0, 0.3], [0.0, 0.3, 0.25]])
    q = rng.multivariate_normal([1.0, 0.0, -1.0], cov, size=500)
    mean, inv_diag = q.mean(axis=0), q.var(axis=0)
    z = np.ones(3)
    for _ in range(60):  # one power iteration per warmup iteration
        _principal_step(q, mean, inv_diag, z)
    scaled = (q - mean) / np.sqrt(inv_diag)
    values, vectors = np.linalg.eigh(scaled.T @ scaled)
    assert abs(z @ vectors[:, -1]) == pytest.approx(1.0, abs=1e-8)
    assert np.linalg.norm(z) == pytest.approx(1.0)


def _step_size_after(accept: np.ndarray) -> float:
    """The shared step size after warmup updates from chains with acceptance probabilities
    ``accept[t, c]`` at iteration ``t`` (starting at step size 0.5)."""
    from kernels.chees import chees_adapt, start_step_size

    n, d = accept.shape[1], 3
    chains, shared = allocate_chees(n, d)
    rng = np.random.default_rng(0)
    for a in (chains.position, chains.previous, chains.proposal, chains.velocity):
        a[...] = rng.normal(size=(n, d))
    settings = ChEES(EightSchoolsNonCentered()).settings(200)
    start_step_size(settings, shared, 0.5)
    for t, row in enumerate(accept):
        chains.accept[:] = row
        chees_adapt(np.int64(t), settings, shared, chains)
    return float(shared.step_size[0])


def test_one_divergence_barely_moves_the_step_size_but_a_stuck_chain_pulls_it_down():
    # dual averaging on the harmonic mean of each chain's moving-average acceptance: one
    # divergent transition (accept 0 once) in 1024 chains barely moves the step size (with the
    # last acceptance alone the harmonic mean would be 0 at that iteration and the step size
    # would drop about 8-fold), while a chain rejecting at every iteration keeps it 0
    n, t, target = 1024, 10, 0.651
    steady = np.full((t, n), target)
    reference = _step_size_after(steady)
    once = steady.copy()
    once[5, 7] = 0.0
    assert _step_size_after(once) == pytest.approx(reference, rel=0.05)
    stuck = steady.copy()
    stuck[:, 7] = 0.0
    assert _step_size_after(stuck) < 0.2 * reference


def test_halton_is_the_base_two_van_der_corput_sequence():
    expected = [0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]
    assert [halton(i) for i in range(1, 8)] == expected


@pytest.mark.parametrize("make, match", [
    (lambda m: MCMC(ChEES(m), num_chains=1), "num_chains >= 2"),
    (lambda m: MCMC(ChEES(m), num_chains=4, draw_dtype="float16"), "draw_dtype"),
    (lambda m: MCMC(ChEES(m), num_chains=4, executor=ThreadPoolExecutor(1)), "executor"),
    (lambda m: ChEES(m, learning_rate=-1.0), "learning_rate"),
    (lambda m: ChEES(m, max_leapfrog_steps=0), "max_leapfrog_steps"),
    (lambda m: ChEES(m, metric_fraction=2.0), "metric_fraction"),
    (lambda m: ChEES(m, trajectory_criterion="nuts"), "trajectory_criterion"),
    (lambda m: ChEES(m, target_accept_prob=1.5), "target_accept_prob"),
])
def test_bad_options_are_named(make, match):
    model = EightSchoolsNonCentered()
    with pytest.raises(ValueError, match=match):
        mcmc = make(model)
        mcmc.run(0)


def test_store_needs_a_many_chain_kernel(tmp_path):
    from inference import NUTS

    with pytest.raises(ValueError, match="store="):
        MCMC(NUTS(EightSchoolsNonCentered()), store=tmp_path / "x.zarr")
    mcmc = MCMC(ChEES(EightSchoolsNonCentered()), num_chains=4, progress_bar=False)
    with pytest.raises(ValueError, match="warmup"):
        mcmc.warmup(0)


def test_nuts_keeps_float32_draws_too():
    from inference import NUTS

    model = GaussianModel(mean=MEAN, cov=COV)
    runs = {}
    for dtype in ("float64", "float32"):
        mcmc = MCMC(NUTS(model, adapt_mass_matrix=False), num_warmup=50, num_samples=40,
                    num_chains=2, progress_bar=False, draw_dtype=dtype, thinning=2)
        mcmc.run(3)
        runs[dtype] = mcmc.results.draws
    assert runs["float32"].dtype == np.float32 and runs["float32"].shape == (2, 20, 3)
    np.testing.assert_array_equal(runs["float32"], runs["float64"].astype(np.float32))


def _fixed(model):
    """A kernel without adaptation: warmup and sampling are then the same Markov chain."""
    return ChEES(model, step_size=0.3, initial_trajectory_length=1.0, adapt_step_size=False,
                 adapt_trajectory_length=False, adapt_mass_matrix=False)


def test_save_warmup_keeps_the_warmup_iterations_of_the_same_chain():
    # without adaptation, 20 warmup + 10 sampling iterations are the first 30 iterations of
    # a run without warmup: the saved warmup draws are its first 20 (thinned), then the draws
    model = EightSchoolsNonCentered()
    whole = MCMC(_fixed(model), num_warmup=0, num_samples=30, num_chains=6, thinning=2,
                 progress_bar=False)
    whole.run(5)
    split = MCMC(_fixed(model), num_warmup=20, num_samples=10, num_chains=6, thinning=2,
                 save_warmup=True, chunk_size=7, progress_bar=False)
    split.run(5)
    np.testing.assert_array_equal(split.results.warmup_draws, whole.results.draws[:, :10])
    np.testing.assert_array_equal(split.results.draws, whole.results.draws[:, 10:])
    warm = split.get_samples(group_by_chain=True, warmup=True)["tau"]
    np.testing.assert_array_equal(warm, whole.get_samples(group_by_chain=True)["tau"][:, :10])
    assert "warmup_posterior" in split.to_arviz().groups()


class _StopAt:
    """A progress callback that records the calls and, at the n-th, raises KeyboardInterrupt
    or sends this process SIGTERM."""

    def __init__(self, n, how):
        self.n, self.how, self.calls = n, how, []

    def __call__(self, progress):
        self.calls.append([(p.phase, p.iteration, p.total, p.step_size) for p in progress])
        if len(self.calls) == self.n:
            if self.how == "SIGTERM":
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt


@pytest.mark.parametrize("how", ["KeyboardInterrupt", "SIGTERM"])
def test_an_interrupted_run_keeps_the_completed_draws(how):
    if how == "SIGTERM" and (sys.platform == "win32" or not hasattr(signal, "SIGTERM")):
        pytest.skip("POSIX signals")
    model = EightSchoolsNonCentered()
    options = dict(num_warmup=20, num_samples=40, num_chains=6, chunk_size=10,
                   progress_bar=False)
    full = MCMC(ChEES(model), **options)
    full.run(3)
    callback = _StopAt(3, how)  # chunks of 10: 2 of warmup, then 1 of sampling
    mcmc = MCMC(ChEES(model), progress_callback=callback, **options)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.warns(SamplingWarning, match=rf"interrupted \({how}\).*10 completed draws"):
        mcmc.run(3)
    assert signal.getsignal(signal.SIGTERM) is handler  # the run's handler is gone
    assert mcmc.results.interrupted and mcmc.results.stopped_by == how
    np.testing.assert_array_equal(mcmc.results.draws, full.results.draws[:, :10])
    assert mcmc.adapted["step_size"] == full.adapted["step_size"]  # warmup was complete
    # the progress records: one per chain, after each chunk, with the shared step size
    assert len(callback.calls) == 3 and all(len(c) == 6 for c in callback.calls)
    assert [c[0][:3] for c in callback.calls] == [("warmup", 10, 60), ("sampling", 20, 60),
                                                  ("sampling", 30, 60)]
    step = full.get_extra_fields(group_by_chain=True)["step_size"][0, 9]
    assert callback.calls[2][0][3] == step


def test_memory_estimate_is_the_size_of_chees_state():
    model = EightSchoolsNonCentered()
    mcmc = MCMC(ChEES(model), num_warmup=10, num_samples=20, num_chains=16, progress_bar=False)
    estimate = mcmc._run_bytes(model, 10, 20)
    chains, shared = allocate_chees(16, model.dim)  # what a run allocates
    assert estimate.chain_state == sum(a.nbytes for a in (*chains, *shared))
    assert estimate.draws == 16 * 20 * model.dim * 8


def test_a_sink_gets_the_rows_memory_would_keep():
    # the store's path through the recorder (zarr not needed): same rows, same draw indices
    from inference.recording import Recorder
    from kernels.state import allocate_output

    rng = np.random.default_rng(0)
    got = []
    memory = Recorder(3, 2, 0, 4, 11, 2)
    streamed = Recorder(3, 2, 0, 4, 11, 2, sink=lambda rows, first: got.append((first, rows)))
    for first, n in [(0, 3), (3, 5), (8, 7)]:  # chunks across the warmup/sampling boundary
        chunk = allocate_output(3, n, 2)
        for a in chunk:
            a[...] = rng.normal(size=a.shape) if a.dtype.kind == "f" else rng.integers(0, 3, a.shape)
        memory.record(chunk, first)
        streamed.record(chunk, first)
    assert [first for first, _ in got] == [0, 2]  # kept draws 0-1 in one chunk, 2-4 the next
    draws = np.concatenate([rows.draws for _, rows in got], axis=1)
    np.testing.assert_array_equal(draws, memory.kept()[0])
    lp = np.concatenate([rows.lp for _, rows in got], axis=1)
    np.testing.assert_array_equal(lp, memory.kept()[1]["lp"])
    assert streamed.kept()[0].shape == (3, 0, 2)


@pytest.mark.filterwarnings("ignore::inference.SamplingWarning")
@pytest.mark.skipif(JIT_DISABLED, reason="compiled kernels only")
def test_the_kernels_are_compiled_for_their_declared_signatures():
    # a first run compiles them in a helper process for the declared types; a run that called
    # them with other types would compile them again (a second signature)
    _run(EightSchoolsNonCentered(), num_chains=4, num_warmup=5, num_samples=5)
    for name in COMPILED_KERNELS:
        kernel = DECLARED[name].kernel
        assert kernel.signatures == [precompile.signature_of(name)], name
