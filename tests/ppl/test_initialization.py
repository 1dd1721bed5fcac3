"""Init strategies (NumPyro's names): where each puts a site, checked against the prior it
reads, and accepted by NUTS and the autoguides."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import ppl
from inference import (
    MCMC,
    NUTS,
    autoguide,
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_uniform,
    init_to_value,
)
from ppl import dist, handlers
from ppl.model import compile_model


def model(y):
    mu = ppl.sample("mu", dist.Normal(3.0, 2.0))
    sigma = ppl.sample("sigma", dist.LogNormal(0.5, 0.2))
    with ppl.plate("n", len(y)):
        ppl.sample("y", dist.Normal(mu, sigma), obs=y)


Y = np.array([2.0, 3.5, 4.0])
COMPILED = compile_model(model, Y)


def constrained(point):
    values = COMPILED.constrain(point[None])
    return float(values["mu"][0]), float(values["sigma"][0])


def test_feasible_mean_and_value_put_each_site_where_they_say():
    rng = np.random.default_rng(0)
    assert constrained(COMPILED.initial_points(rng, 1, init_to_feasible)[0]) == (0.0, 1.0)
    mu, sigma = constrained(COMPILED.initial_points(rng, 1, init_to_mean)[0])
    assert mu == pytest.approx(3.0) and sigma == pytest.approx(np.exp(0.5 + 0.2**2 / 2))
    mu, sigma = constrained(COMPILED.initial_points(rng, 1, init_to_value(values={"mu": 1.5}))[0])
    assert mu == pytest.approx(1.5) and 0 < sigma
    assert constrained(COMPILED.initial_points(rng, 1, {"mu": 1.5})[0])[0] == pytest.approx(1.5)


def test_median_and_sample_follow_the_prior():
    """The median of n prior draws of N(3, 2) has sd about 2 sqrt(pi / (2n)); draws by
    init_to_sample have the prior's mean and sd (tolerances: 5 standard errors)."""
    rng = np.random.default_rng(1)
    medians = np.array([constrained(p)[0] for p in
                        COMPILED.initial_points(rng, 300, init_to_median(num_samples=51))])
    assert abs(medians.mean() - 3.0) < 5 * 2 * np.sqrt(np.pi / 102) / np.sqrt(300)
    assert medians.std() < 2 * np.sqrt(np.pi / 102) * 1.5
    draws = np.array([constrained(p)[0] for p in COMPILED.initial_points(rng, 2000,
                                                                           init_to_sample)])
    assert abs(draws.mean() - 3.0) < 5 * 2 / np.sqrt(2000)
    assert abs(draws.std() - 2.0) < 5 * 2 / np.sqrt(2 * 2000)
    uniform = COMPILED.initial_points(rng, 500, init_to_uniform(radius=0.5))
    assert np.all(np.abs(uniform) < 0.5) and stats.kstest(
        uniform[:, 0], stats.uniform(-0.5, 1.0).cdf).pvalue > 1e-3


def test_strings_name_the_strategies_and_bad_ones_are_refused():
    rng = np.random.default_rng(2)
    for name in ("uniform", "median", "sample", "feasible", "mean"):
        assert COMPILED.initial_points(rng, 2, name).shape == (2, 2)
    with pytest.raises(ValueError, match="init strategy"):
        COMPILED.initial_points(rng, 1, "middle")
    with pytest.raises(ValueError, match="init_strategy"):
        NUTS(model, init_strategy="middle")


def test_nuts_and_autoguides_accept_init_to_functions():
    mcmc = MCMC(NUTS(model, init_strategy=init_to_median(num_samples=10)), num_warmup=200,
                num_samples=100, progress_bar=False)
    mcmc.run(0, Y)
    assert mcmc.get_samples()["mu"].shape == (100,)
    guide = autoguide.AutoDelta(model, init_loc_fn=init_to_feasible)
    tr = handlers.trace(handlers.seed(guide, 0)).get_trace(Y)
    assert float(tr["mu"].value) == 0.0 and float(tr["sigma"].value) == pytest.approx(1.0)
