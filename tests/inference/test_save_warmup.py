"""``MCMC(..., save_warmup=True)``: the warmup draws, their statistics and ArviZ groups.

The oracle is the functional layer (:func:`inference.functional.step`), which returns every
iteration, warmup included, without going through ``MCMC``'s recorder.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from inference import MCMC, NUTS, SamplingWarning
from inference import functional as F
from inference.arviz_export import to_datatree
from tests.inference.models import GaussianModel

MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[1.0, 0.8, 0.0], [0.8, 2.0, -0.3], [0.0, -0.3, 0.5]])
WARMUP, SAMPLES, SEED = 150, 60, 5


def _model():
    return GaussianModel(MEAN, COV)


def _mcmc(**kw):
    kw.setdefault("num_warmup", WARMUP)
    kw.setdefault("num_samples", SAMPLES)
    return MCMC(NUTS(_model()), num_chains=2, progress_bar=False, **kw)


def _quiet(call, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        call(*args)


@pytest.fixture(scope="module")
def every_iteration():
    """All ``WARMUP + SAMPLES`` iterations of both chains, from the functional layer."""
    state = F.init(_model(), SEED, 2, kernel=NUTS(_model()), num_warmup=WARMUP)
    _, output = F.step(state, WARMUP + SAMPLES)
    return output


@pytest.fixture(scope="module")
def saved():
    mcmc = _mcmc(save_warmup=True)
    _quiet(mcmc.run, SEED)
    return mcmc


def test_warmup_draws_are_the_warmup_iterations(saved, every_iteration):
    np.testing.assert_array_equal(saved.results.warmup_draws, every_iteration.draws[:, :WARMUP])
    stats = saved.get_extra_fields(group_by_chain=True, warmup=True)
    for name, values in every_iteration.sample_stats().items():
        np.testing.assert_array_equal(stats[name], values[:, :WARMUP], err_msg=name)
    x = saved.get_samples(group_by_chain=True, warmup=True)["x"]
    assert x.shape == (2, WARMUP, 3)
    np.testing.assert_array_equal(x, every_iteration.draws[:, :WARMUP])  # identity transform
    assert saved.get_samples(warmup=True)["x"].shape == (2 * WARMUP, 3)


def test_saving_the_warmup_does_not_change_the_sampling_draws(saved, every_iteration):
    plain = _mcmc()
    _quiet(plain.run, SEED)
    np.testing.assert_array_equal(saved.results.draws, plain.results.draws)
    np.testing.assert_array_equal(saved.results.draws, every_iteration.draws[:, WARMUP:])


def test_warmup_statistics_show_the_adaptation(saved):
    warm = saved.get_extra_fields(group_by_chain=True, warmup=True)["step_size"]
    sampling = saved.get_extra_fields(group_by_chain=True)["step_size"]
    for c in range(2):
        assert np.unique(warm[c]).size > WARMUP // 2  # dual averaging moves it every iteration
        assert np.unique(sampling[c]).size == 1  # fixed after warmup (NUTS: no jitter)


def test_thinning_applies_to_the_warmup_draws(every_iteration):
    mcmc = _mcmc(save_warmup=True, thinning=3)
    _quiet(mcmc.run, SEED)
    assert mcmc.results.warmup_draws.shape == (2, WARMUP // 3, 3)
    np.testing.assert_array_equal(
        mcmc.results.warmup_draws, every_iteration.draws[:, 2:WARMUP:3]
    )


def test_warmup_only_then_run(every_iteration):
    mcmc = _mcmc(save_warmup=True)
    mcmc.warmup(SEED)
    np.testing.assert_array_equal(
        mcmc.get_samples(group_by_chain=True, warmup=True)["x"], every_iteration.draws[:, :WARMUP]
    )
    _quiet(mcmc.run, None)  # continues after warmup: no warmup iterations to save
    assert mcmc.results.warmup_draws.shape == (2, 0, 3)
    np.testing.assert_array_equal(mcmc.results.draws, every_iteration.draws[:, WARMUP:])


class _StopAfter:
    def __init__(self, calls: int) -> None:
        self.calls = calls

    def __call__(self, progress) -> None:
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt


def test_interrupted_warmup_keeps_the_completed_warmup_draws(every_iteration):
    mcmc = _mcmc(save_warmup=True, chunk_size=30, progress_callback=_StopAfter(2))
    with pytest.warns(SamplingWarning, match="interrupted"):
        mcmc.run(SEED)
    np.testing.assert_array_equal(mcmc.results.warmup_draws, every_iteration.draws[:, :60])


def test_warmup_not_saved_is_a_clear_error():
    mcmc = _mcmc(num_samples=10)
    _quiet(mcmc.run, SEED)
    with pytest.raises(ValueError, match=r"save_warmup=True"):
        mcmc.get_samples(warmup=True)
    with pytest.raises(ValueError, match=r"save_warmup=True"):
        mcmc.get_extra_fields(warmup=True)
    assert "warmup_posterior" not in to_datatree(mcmc.results).children


def test_arviz_warmup_groups(saved):
    tree = to_datatree(saved.results)
    assert tree["warmup_posterior"]["x"].shape == (2, WARMUP, 3)
    assert tree["posterior"]["x"].shape == (2, SAMPLES, 3)
    step = tree["warmup_sample_stats"]["step_size"].values
    np.testing.assert_array_equal(step, saved.get_extra_fields(True, warmup=True)["step_size"])
    idata = saved.to_arviz()
    assert idata["warmup_posterior"]["x"].sizes["draw"] == WARMUP
