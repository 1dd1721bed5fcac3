"""Predictive: prior and posterior predictive draws against analytic moments."""

import numpy as np
import pytest

import ppl
from inference.predictive import Predictive
from ppl import dist


def normal_model(n, y=None):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    with ppl.plate("data", n):
        return ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


def test_prior_predictive_moments():
    draws = Predictive(normal_model, num_samples=20_000)(0, 3)
    y = draws["y"]
    assert y.shape == (20_000, 3) and draws["mu"].shape == (20_000,)
    cov = np.cov(y.T)
    # y_i = mu + e_i: Var = 2, Cov = 1; MC standard error of a (co)variance ~ sqrt(2/n) * var
    se = 2 * np.sqrt(2 / 20_000)
    np.testing.assert_allclose(np.diag(cov), 2.0, atol=5 * se)
    np.testing.assert_allclose(cov[0, 1], 1.0, atol=5 * se)


def test_posterior_predictive_uses_the_given_draws():
    post = {"mu": np.linspace(-3, 3, 4000)}
    draws = Predictive(normal_model, post)(1, 2, y=np.zeros(2))
    assert set(draws) == {"y"} and draws["y"].shape == (4000, 2)
    residual = draws["y"] - post["mu"][:, None]  # y | mu ~ N(mu, 1)
    assert abs(residual.mean()) < 5 / np.sqrt(8000)
    assert abs(residual.std() - 1.0) < 5 / np.sqrt(2 * 8000)


def test_group_by_chain_shapes_and_seed_reproducibility():
    post = {"mu": np.zeros((4, 50))}
    first = Predictive(normal_model, post, batch_ndims=2)(7, 3, y=np.zeros(3))
    second = Predictive(normal_model, post, batch_ndims=2)(7, 3, y=np.zeros(3))
    assert first["y"].shape == (4, 50, 3)
    np.testing.assert_array_equal(first["y"], second["y"])


def not_broadcastable(n):
    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    x = np.ones((n, 2))
    with ppl.plate("data", n):
        return ppl.sample("y", dist.Normal(x @ beta, 1.0))


def test_model_without_batch_plates_is_mapped_or_looped_with_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mapped with vmap: Normal draws are made of normals
        draws = Predictive(not_broadcastable, num_samples=300)(0, 4)
    assert draws["y"].shape == (300, 4) and draws["beta"].shape == (300, 2)
    # y = beta_0 + beta_1 + e: variance 3
    assert abs(draws["y"].var() - 3.0) < 0.6

    def counts(n):
        beta = ppl.sample("beta", dist.Normal(0.0, 0.3).expand([2]).to_event(1))
        ppl.sample("y", dist.Poisson(np.exp(np.ones((n, 2)) @ beta)))

    with pytest.warns(UserWarning, match="one by one"):  # Poisson's sampler is not normals
        draws = Predictive(counts, num_samples=300)(0, 4)
    assert draws["y"].shape == (300, 4)


def test_needs_samples_or_num_samples():
    with pytest.raises(ValueError, match="num_samples"):
        Predictive(normal_model)


def test_posterior_predictive_of_a_model_with_an_improper_latent():
    """ImproperUniform has no sampler: with posterior samples it is never drawn."""
    from ppl import constraints

    def model(n):
        scale = ppl.sample("scale", dist.ImproperUniform(constraints.positive))
        with ppl.plate("data", n):
            ppl.sample("y", dist.Normal(0.0, scale))

    samples = {"scale": np.array([0.1, 1.0, 10.0])}
    draws = Predictive(model, posterior_samples=samples)(0, 2000)
    np.testing.assert_allclose(draws["y"].std(1), samples["scale"], rtol=5 / np.sqrt(2 * 2000))


def test_a_model_that_does_not_broadcast_over_a_plate_is_mapped_with_vmap():
    """x @ beta with a latent vector beta cannot take an extra leading plate dimension; the
    draws are then mapped, each from its own normals: the same distribution, no warning."""
    import warnings

    x = np.random.default_rng(0).normal(size=(30, 3))

    def regression(x):
        beta = ppl.sample("beta", dist.Normal(0.0, 2.0).expand([3]).to_event(1))
        with ppl.plate("obs", x.shape[0]):
            ppl.sample("y", dist.Normal(x @ beta, 0.5))

    beta = np.random.default_rng(1).normal(size=(4000, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draws = Predictive(regression, posterior_samples={"beta": beta})(0, x)
    residual = draws["y"] - beta @ x.T  # N(0, 0.5^2) per draw and row
    assert abs(residual.mean()) < 5 * 0.5 / np.sqrt(residual.size)
    assert abs(residual.std() - 0.5) < 5 * 0.5 / np.sqrt(2 * residual.size)
    prior = Predictive(regression, num_samples=4000)(1, x)
    np.testing.assert_allclose(prior["beta"].std(0), 2.0, rtol=5 / np.sqrt(2 * 4000))
