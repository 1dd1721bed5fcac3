"""MCMC on hand-written compiled models: posteriors, shapes, reproducibility, resumption."""

from __future__ import annotations

import re
import sys
import types
import warnings

import numba
import numpy as np
import pytest

from inference import HMC, MCMC, NUTS, SamplingWarning
from inference import functional as F
from inference.diagnostics import mcse_mean
from kernels.options import DEFAULT_MASS_MATRIX_ADAPTATION
from tests import posteriordb
from tests.inference.models import (
    EightSchoolsCentered,
    EightSchoolsNonCentered,
    GaussianModel,
    NaNRegionModel,
)

pytestmark = pytest.mark.filterwarnings("ignore:Too few warmup iterations")

MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[1.0, 0.8, 0.0], [0.8, 2.0, -0.3], [0.0, -0.3, 0.5]])


def _gauss():
    return GaussianModel(MEAN, COV)


def _mcmc(model, kernel=NUTS, kernel_kw=None, **kw):
    kw.setdefault("num_warmup", 200)
    kw.setdefault("num_samples", 200)
    kw.setdefault("num_chains", 2)
    kw.setdefault("progress_bar", False)
    return MCMC(kernel(model, **(kernel_kw or {})), **kw)


def _run(mcmc, seed=0, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        mcmc.run(seed, *args, **kw)
    return mcmc


def _check_gaussian(x, mean, cov):
    """Means within 4 MCSE, standard deviations within 10 %."""
    for k in range(mean.size):
        xk = x[:, :, k]
        assert abs(xk.mean() - mean[k]) < 4 * mcse_mean(xk), (k, xk.mean())
        assert abs(xk.std() / np.sqrt(cov[k, k]) - 1) < 0.1, (k, xk.std())


# ------------------------------------------------------------------------- posteriors


@pytest.mark.parametrize("dense", [False, True])
def test_gaussian_posterior_nuts(dense):
    mcmc = _run(
        _mcmc(
            _gauss(),
            kernel_kw={"dense_mass": dense},
            num_warmup=500,
            num_samples=1000,
            num_chains=4,
        ),
        seed=1,
    )
    x = mcmc.get_samples(group_by_chain=True)["x"]
    assert x.shape == (4, 1000, 3)
    _check_gaussian(x, MEAN, COV)
    corr = np.corrcoef(x.reshape(-1, 3).T)[0, 1]
    assert abs(corr - 0.8 / np.sqrt(2.0)) < 0.05


def test_gaussian_posterior_hmc():
    mcmc = _run(
        _mcmc(
            _gauss(),
            kernel=HMC,
            kernel_kw={"trajectory_length": 3.0},
            num_warmup=500,
            num_samples=1000,
            num_chains=4,
        ),
        seed=2,
    )
    x = mcmc.get_samples(group_by_chain=True)["x"]
    _check_gaussian(x, MEAN, COV)
    stats = mcmc.get_extra_fields(group_by_chain=True)
    assert len(np.unique(stats["step_size"][0])) > 100  # jittered by default
    assert (stats["tree_depth"] == 0).all()


def test_eight_schools_noncentered_matches_posteriordb():
    ref = posteriordb.load("eight_schools_noncentered")
    mcmc = _run(
        _mcmc(EightSchoolsNonCentered(), num_warmup=1000, num_samples=1000, num_chains=4), seed=3
    )
    samples = mcmc.get_samples(group_by_chain=True)
    assert posteriordb.compare(samples, ref, params=["mu", "tau", "theta"]) == []
    assert abs(samples["mu"].mean() - 4.4) < 0.5 and abs(samples["tau"].mean() - 3.6) < 0.5
    assert mcmc.results.divergences.sum() < 20


def test_funnel_reports_divergences(capsys):
    mcmc = _mcmc(EightSchoolsCentered(), num_warmup=500, num_samples=500, num_chains=4)
    with pytest.warns(SamplingWarning, match=r"divergent.*target_accept_prob") as record:
        mcmc.run(4)
    n_div = int(mcmc.get_extra_fields()["diverging"].sum())
    assert n_div > 0 and n_div == mcmc.results.divergences.sum()
    assert re.search(rf"\b{n_div} of 2000 transitions", str(record[0].message))
    mcmc.print_summary()
    out = capsys.readouterr().out
    assert f"Number of divergences: {n_div}" in out
    assert "maximum tree depth (10): " in out and "Time: compile" in out
    assert "ESS_bulk per second" in out
    idata = mcmc.to_arviz()
    assert int(idata.sample_stats["diverging"].sum()) == n_div


def test_max_tree_depth_warning():
    mcmc = _mcmc(_gauss(), kernel_kw={"max_tree_depth": 1}, num_samples=100)
    with pytest.warns(SamplingWarning, match=r"maximum tree depth \(1\)"):
        mcmc.run(0)
    assert (
        mcmc.results.max_treedepth_hits.sum()
        == mcmc.get_extra_fields()["reached_max_treedepth"].sum()
        > 0
    )


def test_nan_region_gives_divergences_and_all_chains_finish():
    model = NaNRegionModel(d=2, bound=1.0)
    mcmc = _run(_mcmc(model, num_warmup=300, num_samples=500, num_chains=4), seed=5)
    x = mcmc.get_samples(group_by_chain=True)["x"]
    stats = mcmc.get_extra_fields(group_by_chain=True)
    assert x.shape == (4, 500, 2) and np.isfinite(x).all()
    assert (x[..., 0] <= 1.0).all()
    assert stats["diverging"].sum(axis=1).min() > 0  # every chain hit the NaN region
    assert np.all(mcmc.last_state.chains.status == 0)


# ------------------------------------------------------------------------- results API


def test_get_samples_and_extra_fields_shapes():
    mcmc = _run(_mcmc(EightSchoolsNonCentered(), num_chains=3, num_samples=150))
    grouped = mcmc.get_samples(group_by_chain=True)
    flat = mcmc.get_samples()
    assert set(grouped) == {"mu", "tau", "z", "theta"}
    assert grouped["mu"].shape == (3, 150) and grouped["theta"].shape == (3, 150, 8)
    assert flat["mu"].shape == (450,) and flat["theta"].shape == (450, 8)
    np.testing.assert_array_equal(flat["theta"][150:300], grouped["theta"][1])
    np.testing.assert_allclose(
        grouped["theta"], grouped["mu"][..., None] + grouped["tau"][..., None] * grouped["z"]
    )
    stats = mcmc.get_extra_fields(group_by_chain=True)
    names = {
        "lp",
        "acceptance_rate",
        "step_size",
        "tree_depth",
        "n_steps",
        "diverging",
        "energy",
        "energy_error",
        "max_energy_error",
        "reached_max_treedepth",
    }
    assert set(stats) == names
    assert all(v.shape == (3, 150) for v in stats.values())
    assert mcmc.get_extra_fields()["lp"].shape == (450,)
    assert stats["diverging"].dtype == bool and stats["n_steps"].dtype == np.int64


def test_thinning_keeps_every_kth_draw():
    full = _run(_mcmc(_gauss(), num_samples=100))
    thin = _run(_mcmc(_gauss(), num_samples=100, thinning=3))
    a = full.results.draws
    b = thin.results.draws
    assert b.shape == (2, 33, 3)
    np.testing.assert_array_equal(b, a[:, 2::3])
    np.testing.assert_array_equal(
        thin.get_extra_fields(group_by_chain=True)["lp"],
        full.get_extra_fields(group_by_chain=True)["lp"][:, 2::3],
    )
    # divergences are counted over all iterations, not only the kept ones
    assert thin.results.num_samples == 100


def test_warmup_then_run_continues_the_adapted_state():
    single = _run(_mcmc(_gauss()), seed=7)
    split = _mcmc(_gauss())
    split.warmup(7)
    state = split.post_warmup_state
    assert state.iteration == 200 and not state.is_warming_up
    adapted_step = state.step_size.copy()
    adapted_metric = state.inverse_mass_matrix.copy()
    assert not np.allclose(adapted_metric, 1.0)  # the metric was adapted
    _run(split, seed=None)
    stats = split.get_extra_fields(group_by_chain=True)
    # sampling uses the adapted step size and metric (no jitter for NUTS) ...
    np.testing.assert_array_equal(stats["step_size"], np.repeat(adapted_step[:, None], 200, 1))
    np.testing.assert_array_equal(split.last_state.inverse_mass_matrix, adapted_metric)
    # ... and the post-warmup state itself is untouched by the run
    assert split.post_warmup_state.iteration == 200
    # the continuation is exactly the sampling phase of a single run
    np.testing.assert_array_equal(split.results.draws, single.results.draws)
    assert split.results.num_warmup == 0


def test_resume_from_last_state_extends_the_chains():
    long = _run(_mcmc(_gauss(), num_samples=300), seed=8)
    short = _run(_mcmc(_gauss(), num_samples=150), seed=8)
    first = short.results.draws.copy()
    assert short.last_state.iteration == 350
    short.post_warmup_state = short.last_state
    _run(short, seed=None)
    np.testing.assert_array_equal(first, long.results.draws[:, :150])
    np.testing.assert_array_equal(short.results.draws, long.results.draws[:, 150:])
    assert short.last_state.iteration == 500


def test_resume_checks_the_state():
    mcmc = _run(_mcmc(_gauss(), num_samples=20))
    other = _mcmc(_gauss(), num_chains=3)
    other.post_warmup_state = mcmc.last_state
    with pytest.raises(ValueError, match="2 chains but num_chains = 3"):
        other.run(None)
    dense = _mcmc(_gauss(), kernel_kw={"dense_mass": True})
    dense.post_warmup_state = mcmc.last_state
    with pytest.raises(ValueError, match="dense_mass=False but the kernel uses dense_mass=True"):
        dense.run(None)


# ------------------------------------------------------------------------- reproducibility


def test_same_draws_parallel_sequential_and_one_or_two_threads():
    results = []
    n_threads = numba.get_num_threads()
    try:
        for method, threads in [("parallel", 1), ("parallel", 2), ("sequential", 2)]:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            m = _run(_mcmc(EightSchoolsNonCentered(), num_chains=4, chain_method=method), 11)
            results.append(m.results)
    finally:
        numba.set_num_threads(n_threads)
    for r in results[1:]:
        np.testing.assert_array_equal(r.draws, results[0].draws)
        for name in r.stats:
            np.testing.assert_array_equal(r.stats[name], results[0].stats[name])


def test_chunk_size_does_not_change_the_draws():
    a = _run(_mcmc(EightSchoolsNonCentered(), chunk_size=7), 12)
    b = _run(_mcmc(EightSchoolsNonCentered(), chunk_size=1000), 12)
    np.testing.assert_array_equal(a.results.draws, b.results.draws)
    np.testing.assert_array_equal(a.results.stats["energy"], b.results.stats["energy"])
    np.testing.assert_array_equal(a.last_state.position, b.last_state.position)


def test_seeds_ints_and_generators():
    a = _run(_mcmc(_gauss(), num_samples=50), 3).results.draws
    b = _run(_mcmc(_gauss(), num_samples=50), 3).results.draws
    c = _run(_mcmc(_gauss(), num_samples=50), 4).results.draws
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    g1 = _run(_mcmc(_gauss(), num_samples=50), np.random.default_rng(5)).results.draws
    g2 = _run(_mcmc(_gauss(), num_samples=50), np.random.default_rng(5)).results.draws
    np.testing.assert_array_equal(g1, g2)
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        _mcmc(_gauss()).run(-1)


# ------------------------------------------------------------------------- interruption


class _StopAfter:
    """A progress callback that raises KeyboardInterrupt at its n-th call."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, progress):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_completed_draws():
    full = _run(_mcmc(_gauss(), num_warmup=100, num_samples=200), 9)
    # chunks: 2 of warmup, then sampling; interrupt after the 2nd sampling chunk
    mcmc = _mcmc(
        _gauss(), num_warmup=100, num_samples=200, chunk_size=50, progress_callback=_StopAfter(4)
    )
    with pytest.warns(SamplingWarning, match="interrupted.*100 completed draws"):
        mcmc.run(9)
    assert mcmc.results.interrupted and mcmc.results.num_samples == 100
    assert mcmc.get_samples(group_by_chain=True)["x"].shape == (2, 100, 3)
    np.testing.assert_array_equal(mcmc.results.draws, full.results.draws[:, :100])
    assert mcmc.last_state.iteration == 200
    # the state after the kept draws continues the chains exactly
    mcmc.post_warmup_state = mcmc.last_state
    mcmc.progress_callback = None
    _run(mcmc, None)
    np.testing.assert_array_equal(mcmc.results.draws[:, :100], full.results.draws[:, 100:])


@pytest.mark.parametrize("lost_call, kept", [(2, 0), (4, 50)])
def test_keyboard_interrupt_inside_a_chunk_rewinds_to_the_kept_draws(monkeypatch, lost_call, kept):
    """Calls: 2 warmup chunks, then sampling chunks; chunk ``lost_call`` is lost."""
    full = _run(_mcmc(_gauss(), num_warmup=100, num_samples=200), 9)
    real_advance, calls = F.advance, []

    def advance(state, stop, *args, **kw):
        real_advance(state, stop, *args, **kw)
        calls.append(stop)
        if len(calls) == lost_call:  # after the compiled call, before its draws are kept
            raise KeyboardInterrupt

    monkeypatch.setattr(F, "advance", advance)
    mcmc = _mcmc(_gauss(), num_warmup=100, num_samples=200, chunk_size=50)
    with pytest.warns(SamplingWarning, match="interrupted"):
        mcmc.run(9)
    assert mcmc.results.num_samples == kept
    assert mcmc.last_state.iteration == 50 * (lost_call - 1)
    np.testing.assert_array_equal(mcmc.results.draws, full.results.draws[:, :kept])
    monkeypatch.setattr(F, "advance", real_advance)
    mcmc.post_warmup_state = mcmc.last_state
    _run(mcmc, None)
    np.testing.assert_array_equal(mcmc.results.draws[:, : 200 - kept], full.results.draws[:, kept:])


def test_interrupt_during_warmup_keeps_a_resumable_state():
    full = _run(_mcmc(_gauss(), num_warmup=100, num_samples=100), 9)
    mcmc = _mcmc(
        _gauss(), num_warmup=100, num_samples=100, chunk_size=30, progress_callback=_StopAfter(2)
    )
    with pytest.warns(SamplingWarning, match="after 0 of 100"):
        mcmc.run(9)
    assert mcmc.get_samples()["x"].shape == (0, 3)
    assert mcmc.last_state.iteration == 60 and mcmc.last_state.is_warming_up
    mcmc.post_warmup_state = mcmc.last_state  # finishes the warmup, then samples
    mcmc.progress_callback = None
    _run(mcmc, None)
    np.testing.assert_array_equal(mcmc.results.draws, full.results.draws)


# ------------------------------------------------------------------------- initialisation


def test_init_params_array_and_dict():
    model = EightSchoolsNonCentered()
    q0 = np.zeros((2, model.dim))
    a = _run(_mcmc(model, num_samples=20), 1, init_params=q0)
    b = _run(_mcmc(model, num_samples=20), 1, init_params=np.zeros(model.dim))
    c = _run(_mcmc(model, num_samples=20), 1, init_params={"mu": 0.0, "tau": 1.0, "z": np.zeros(8)})
    np.testing.assert_array_equal(a.results.draws, b.results.draws)
    np.testing.assert_array_equal(a.results.draws, c.results.draws)
    with pytest.raises(ValueError, match=r"shape \(num_chains, dim\) = \(2, 10\)"):
        _mcmc(model).run(0, init_params=np.zeros(3))
    bad = np.zeros((2, 2))
    bad[1, 0] = 5.0  # NaN log density there
    with pytest.raises(ValueError, match="chain 1.*init_params"):
        _mcmc(NaNRegionModel()).run(0, init_params=bad)


def test_model_function_is_compiled_lazily_with_the_run_arguments(monkeypatch):
    calls = []

    def compile_model(fn, *args, **kwargs):
        calls.append((fn, args, kwargs))
        return _gauss()

    fake = types.ModuleType("ppl.model")
    fake.compile_model = compile_model
    monkeypatch.setitem(sys.modules, "ppl.model", fake)

    def model_fn(data, scale=1.0):
        raise AssertionError("the model function itself is run by the bridge only")

    data = np.arange(3.0)
    mcmc = _mcmc(model_fn, num_samples=20)
    assert calls == []  # nothing is compiled before run
    mcmc.warmup(0, data, scale=2.0)
    _run(mcmc, None, data, scale=2.0)  # same argument objects: compiled once
    assert calls == [(model_fn, (data,), {"scale": 2.0})]
    assert mcmc.get_samples()["x"].shape == (40, 3)
    mcmc.post_warmup_state = None
    _run(mcmc, 0, data.copy(), scale=2.0)
    assert len(calls) == 2


def test_model_function_without_the_ppl_bridge(monkeypatch):
    monkeypatch.setitem(sys.modules, "ppl.model", None)  # import ppl.model -> ImportError
    mcmc = _mcmc(lambda x: None)
    with pytest.raises(ImportError, match=r"ppl\.model\.compile_model is not available"):
        mcmc.run(0, 1.0)
    with pytest.raises(TypeError, match="model must be a model function or a compiled model"):
        _mcmc(42).run(0)


def test_invalid_options():
    with pytest.raises(ValueError, match="chain_method"):
        MCMC(NUTS(_gauss()), chain_method="vectorized")
    with pytest.raises(ValueError, match="thinning"):
        MCMC(NUTS(_gauss()), thinning=0)
    with pytest.raises(ValueError, match="target_accept_prob"):
        NUTS(_gauss(), target_accept_prob=1.2)
    with pytest.raises(ValueError, match="max_tree_depth"):
        NUTS(_gauss(), max_tree_depth=0)
    with pytest.raises(ValueError, match="inverse_mass_matrix"):
        NUTS(_gauss(), dense_mass=True, inverse_mass_matrix=np.ones(3))
    with pytest.raises(RuntimeError, match="call mcmc.run"):
        MCMC(NUTS(_gauss())).get_samples()


# ------------------------------------------------------------------------- mass-matrix adaptation


def test_mass_matrix_adaptation_option():
    default = DEFAULT_MASS_MATRIX_ADAPTATION
    assert NUTS(_gauss()).mass_matrix_adaptation == default
    assert NUTS(_gauss()).sampler_options(100).mass_matrix_adaptation == default
    assert NUTS(_gauss(), dense_mass=True).mass_matrix_adaptation == "stan"
    for kernel in (NUTS, HMC):
        driver, _ = kernel(_gauss(), mass_matrix_adaptation="fisher").sampler_options(100).compile()
        assert driver.mass_matrix_adaptation == 1 and driver.init_metric_from_gradient
        driver, _ = kernel(
            _gauss(), mass_matrix_adaptation="fisher", inverse_mass_matrix=np.ones(3)
        ).sampler_options(100).compile()
        assert not driver.init_metric_from_gradient  # the user's initial metric is kept
        options = kernel(_gauss(), mass_matrix_adaptation="stan").sampler_options(100)
        assert options.mass_matrix_adaptation == "stan"
        with pytest.raises(ValueError, match="must be one of 'stan', 'fisher'"):
            kernel(_gauss(), mass_matrix_adaptation="nutpie")
        with pytest.raises(ValueError, match="diagonal mass matrix only"):
            kernel(_gauss(), mass_matrix_adaptation="fisher", dense_mass=True)
    kernel = NUTS(_gauss(), mass_matrix_adaptation="fisher")
    assert "mass_matrix_adaptation='fisher'" in repr(kernel)


@pytest.mark.parametrize("kernel, kw", [(NUTS, {}), (HMC, {"trajectory_length": 3.0})])
def test_gaussian_posterior_fisher_adaptation(kernel, kw):
    kw = dict(kw, mass_matrix_adaptation="fisher")
    mcmc = _mcmc(_gauss(), kernel=kernel, kernel_kw=kw, num_warmup=500, num_samples=1000,
                 num_chains=4)
    x = _run(mcmc, seed=13).get_samples(group_by_chain=True)["x"]
    _check_gaussian(x, MEAN, COV)
    # the diagonal Fisher metric of N(m, C) is sqrt(C_ii / (C^-1)_ii), here estimated from ~200
    # autocorrelated draws per chain (relative sd ~0.1 each, ~0.05 for the mean of 4 chains)
    expected = np.sqrt(np.diag(COV) / np.diag(np.linalg.inv(COV)))
    inv_metric = mcmc.last_state.inverse_mass_matrix.mean(axis=0)
    assert np.all(np.abs(inv_metric / expected - 1) < 0.2), inv_metric / expected


def test_fisher_warmup_then_run_and_chunks_equal_one_run():
    kw = {"mass_matrix_adaptation": "fisher"}
    single = _run(_mcmc(EightSchoolsNonCentered(), kernel_kw=kw, chunk_size=1000), seed=14)
    chunked = _run(_mcmc(EightSchoolsNonCentered(), kernel_kw=kw, chunk_size=7), seed=14)
    np.testing.assert_array_equal(chunked.results.draws, single.results.draws)
    split = _mcmc(EightSchoolsNonCentered(), kernel_kw=kw)
    split.warmup(14)
    _run(split, seed=None)
    np.testing.assert_array_equal(split.results.draws, single.results.draws)
    # an interrupted Fisher warmup cannot be finished by Stan's adaptation
    model = EightSchoolsNonCentered()
    state = F.init(model, 0, 2, kernel=NUTS(model, **kw), num_warmup=200)
    state, _ = F.step(state, 50)
    other = _mcmc(EightSchoolsNonCentered(), kernel_kw={"mass_matrix_adaptation": "stan"})
    other.post_warmup_state = state
    with pytest.raises(ValueError, match="middle of a warmup"):
        other.run(None)


# ------------------------------------------------------------------------- functional API


def test_functional_steps_equal_mcmc():
    mcmc = _run(_mcmc(_gauss(), num_warmup=100, num_samples=100), 6)
    state = F.init(_gauss(), 6, 2, kernel=NUTS(_gauss()), num_warmup=100)
    draws = []
    for n in (60, 40, 30, 70):
        before = state.position.copy()
        state, info = F.step(state, n)
        draws.append(info.draws)
    assert not np.array_equal(before, state.position)
    np.testing.assert_array_equal(np.concatenate(draws, axis=1)[:, 100:], mcmc.results.draws)
    np.testing.assert_array_equal(state.position, mcmc.last_state.position)
    # step does not modify its input state
    again, _ = F.step(state, 5)
    assert state.iteration == 200 and again.iteration == 205


def _logistic_regression(X, y):
    import ppl
    import ppl.distributions as dist

    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    ppl.sample("y", dist.Bernoulli(logits=X @ beta), obs=y)


def test_compiled_models_give_each_threaded_chain_its_own_workspace():
    """A compiled model keeps its intermediate arrays in a workspace inside its data table;
    chains on threads get one table each, so the draws equal those of sequential chains."""
    from ppl.model import compile_model

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = (rng.random(300) < 0.5).astype(float)
    compiled = compile_model(_logistic_regression, X, y)
    assert compiled.logp_grad.workspace_size >= 300  # the per-row terms live in the workspace
    pointers = compiled.data_pointers(4)
    assert len(set(pointers)) == 4 and compiled.data_pointer not in pointers

    results = []
    n_threads = numba.get_num_threads()
    try:
        for method, threads in [("sequential", 1), ("parallel", 2)]:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            m = MCMC(NUTS(_logistic_regression), num_warmup=100, num_samples=100, num_chains=4,
                     chain_method=method, progress_bar=False)
            m.run(5, X, y)
            results.append(m.get_samples(group_by_chain=True)["beta"])
    finally:
        numba.set_num_threads(n_threads)
    np.testing.assert_array_equal(results[0], results[1])
