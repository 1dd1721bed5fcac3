"""Simulation-based calibration: uniform ranks for a correct sampler, detected miscalibration
for a wrong one, the same ranks on any executor, failures kept apart."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context

import numpy as np
import pytest

import ppl
from inference import NUTS, sbc
from ppl import dist


def normal_model(y=None, prior_sd=1.0):
    mu = ppl.sample("mu", dist.Normal(0.0, prior_sd))
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    with ppl.plate("n", 8):
        ppl.sample("y", dist.Normal(mu, sigma), obs=y)


def test_a_correct_sampler_gives_uniform_ranks():
    result = sbc(normal_model, observed="y", num_fits=80, num_warmup=200, num_draws=39,
                 seed=1)
    assert set(result.ranks) == {"mu", "sigma"} and result.ranks["mu"].shape == (80,)
    assert result.ranks["mu"].min() >= 0 and result.ranks["mu"].max() <= 39
    p_values = result.uniformity_test()
    assert min(p_values.values()) > 0.001, p_values  # Bonferroni over 2 at 0.002 overall


def test_a_miscalibrated_fit_is_detected():
    """Data simulated with prior sd 1, fitted with prior sd 0.2: the posterior of mu is too
    narrow and pulled to 0, so the true values fall in the tails: a U-shaped rank histogram."""
    result = sbc(normal_model, model_kwargs={"prior_sd": 1.0}, observed="y", num_fits=80,
                 num_warmup=200, num_draws=39, seed=2,
                 kernel=NUTS(lambda y=None, prior_sd=1.0: normal_model(y, 0.2)))
    assert result.uniformity_test()["mu"] < 1e-4


def test_the_executor_does_not_change_the_ranks_and_failures_are_kept_apart():
    sequential = sbc(normal_model, observed="y", num_fits=6, num_warmup=100, num_draws=19,
                     seed=3)
    for pool in (ThreadPoolExecutor(2), ProcessPoolExecutor(2, mp_context=get_context("spawn"))):
        with pool:
            parallel = sbc(normal_model, observed="y", num_fits=6, num_warmup=100,
                           num_draws=19, seed=3, executor=pool)
        for name in sequential.ranks:
            np.testing.assert_array_equal(sequential.ranks[name], parallel.ranks[name])

    def fragile(y=None):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        if y is None and float(np.asarray(mu).ravel()[0]) > 0:  # only when simulating
            raise ValueError("boom")
        with ppl.plate("n", 8):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    with pytest.warns(UserWarning, match="fits failed"):
        result = sbc(fragile, observed="y", num_fits=8, num_warmup=50, num_draws=9, seed=4)
    assert result.failures and all("boom" in e for e in result.failures.values())
    assert result.ranks["mu"].shape[0] == 8 - len(result.failures)


def test_the_rank_plot_draws_one_panel_per_scalar(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    result = sbc(normal_model, observed="y", num_fits=10, num_warmup=50, num_draws=9, seed=5)
    axes = result.plot()
    assert [ax.get_title() for ax in axes.flat if ax.get_visible()] == ["mu", "sigma"]
