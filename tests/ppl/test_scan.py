"""``ppl.scan``: sites with a time axis, against the same model unrolled as a Python loop and
against the exact posterior of a linear-Gaussian state-space model."""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from inference import MCMC, NUTS, SVI, Predictive, Trace_ELBO, optim
from inference.diagnostics import mcse_mean
from ppl import constraints, dist, handlers
from ppl.errors import MissingSeedError, SiteError
from ppl.model import compile_model

PHI = 0.9


def scan_model(y, sigma=None):
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0)) if sigma is None else sigma

    def step(level, y_t):
        level = ppl.sample("level", dist.Normal(PHI * level, sigma))
        ppl.deterministic("twice", 2.0 * level)
        ppl.sample("y", dist.Normal(level, 1.0), obs=y_t)
        return level, level

    _, levels = ppl.scan(step, 0.0, y)
    return levels


def loop_model(y, sigma=None):
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0)) if sigma is None else sigma
    level = 0.0
    for t in range(len(y)):
        level = ppl.sample(f"level_{t}", dist.Normal(PHI * level, sigma))
        ppl.sample(f"y_{t}", dist.Normal(level, 1.0), obs=y[t])


Y = np.random.default_rng(0).normal(size=25)


def test_log_density_and_gradient_equal_the_unrolled_loop():
    scanned, looped = compile_model(scan_model, Y), compile_model(loop_model, Y)
    assert scanned.site_names == ["sigma", "level"] and scanned.dim == looped.dim == 26
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = rng.normal(size=scanned.dim)
        lp, grad = scanned.logp_and_grad(theta)
        lp_loop, grad_loop = looped.logp_and_grad(theta)
        np.testing.assert_allclose(lp, lp_loop, rtol=1e-12)
        np.testing.assert_allclose(grad, grad_loop, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(scanned.logp_and_grad_numpy(theta)[0], lp, rtol=1e-12)


def test_the_compiled_model_does_not_grow_with_the_length():
    """The body is traced once into one loop: the graph has as many equations at T = 1000 as
    at T = 100 (the compile time follows; benchmarks print it)."""
    short = compile_model(scan_model, np.zeros(100))
    long = compile_model(scan_model, np.zeros(1000))
    assert len(long.logp_grad.graph.eqns) == len(short.logp_grad.graph.eqns)


def test_sites_are_stacked_and_outputs_returned():
    tr = handlers.trace(handlers.seed(scan_model, 3)).get_trace(Y)
    assert tr["level"].value.shape == (25,) and tr["twice"].value.shape == (25,)
    np.testing.assert_allclose(tr["twice"].value, 2 * tr["level"].value)
    np.testing.assert_array_equal(tr["y"].value, Y)
    assert tr["y"].is_observed and not tr["level"].is_observed
    levels = handlers.seed(scan_model, 3)(Y)
    np.testing.assert_array_equal(levels, tr["level"].value)
    # the trace's log density is the unrolled model's at the same values
    values = {f"level_{t}": v for t, v in enumerate(tr["level"].value)}
    values["sigma"] = tr["sigma"].value
    unrolled = handlers.trace(handlers.substitute(loop_model, values)).get_trace(Y)
    from ppl.runtime import trace_log_density

    np.testing.assert_allclose(trace_log_density(tr), trace_log_density(unrolled), rtol=1e-12)


def test_prior_draws_have_the_ar1_moments():
    """level_t = 0.9 level_{t-1} + 0.5 e_t from 0: Var(level_t) = 0.25 sum_{k<=t} 0.81^k and
    corr(level_t, level_{t+1}) = 0.9 sqrt(V_t / V_{t+1}); tolerances are 5 Monte Carlo SEs."""
    n = 4000
    draws = Predictive(scan_model, num_samples=n)(0, Y, sigma=0.5)
    levels = draws["level"]
    assert levels.shape == (n, 25) and draws["y"].shape == (n, 25)
    variance = 0.25 * np.cumsum(PHI ** (2 * np.arange(25)))
    np.testing.assert_allclose(levels.var(0), variance, rtol=5 * np.sqrt(2 / n))
    corr = np.corrcoef(levels[:, 10], levels[:, 11])[0, 1]
    assert abs(corr - PHI * np.sqrt(variance[10] / variance[11])) < 5 * (1 - corr**2) / np.sqrt(n)
    resid = draws["y"] - levels  # y_t | level_t ~ N(level_t, 1): draws aligned by time
    assert abs(resid.mean()) < 5 / np.sqrt(resid.size) and abs(resid.var() - 1) < 0.05


def test_posterior_predictive_keeps_each_draw_with_its_sequence():
    n = 500
    levels = np.random.default_rng(2).normal(size=(n, 25)) * 3.0
    draws = Predictive(scan_model, posterior_samples={"level": levels,
                                                      "sigma": np.full(n, 0.5)})(1, Y)
    resid = draws["y"] - levels
    assert abs(resid.mean()) < 5 / np.sqrt(resid.size) and abs(resid.var() - 1) < 0.05


def test_condition_substitute_and_reverse():
    fixed = np.linspace(-1, 1, 25)
    tr = handlers.trace(handlers.condition(scan_model, {"level": fixed})).get_trace(
        Y, sigma=0.5)
    assert tr["level"].is_observed
    np.testing.assert_array_equal(tr["level"].value, fixed)
    tr = handlers.trace(handlers.substitute(scan_model, {"level": fixed})).get_trace(
        Y, sigma=0.5)
    assert not tr["level"].is_observed
    np.testing.assert_allclose(tr["twice"].value, 2 * fixed)

    def backwards(xs):
        def step(total, x):
            total = total + x
            return total, ppl.deterministic("partial", total)

        return ppl.scan(step, 0.0, xs, reverse=True)

    total, partial = handlers.seed(backwards, 0)(np.arange(4.0))
    assert total == 6.0
    np.testing.assert_array_equal(partial, [6.0, 6.0, 5.0, 3.0])  # ys keep the order of xs


def test_errors():
    def needs_seed():
        ppl.scan(lambda c, x: (ppl.sample("z", dist.Normal(c, 1.0)), None), 0.0, np.zeros(3))

    with pytest.raises(MissingSeedError, match="'z'.*scan"):
        handlers.trace(needs_seed).get_trace()

    def with_param():
        ppl.scan(lambda c, x: (ppl.param("p", 1.0), None), 0.0, np.zeros(3))

    with pytest.raises(SiteError, match="'p'.*param.*scan"):
        handlers.seed(with_param, 0)()
    with pytest.raises(ValueError, match="length"):
        handlers.seed(lambda: ppl.scan(lambda c, x: (c, x), 0.0, None), 0)()


def kalman_posterior(y, sigma):
    """The exact posterior of the levels given y (sigma known): a Gaussian whose precision is
    the AR(1) prior's (tridiagonal) plus the identity from the unit observation noise."""
    t = len(y)
    a = np.eye(t) - PHI * np.eye(t, k=-1)  # a @ level = innovations
    precision = a.T @ a / sigma**2 + np.eye(t)
    cov = np.linalg.inv(precision)
    return cov @ y, cov


def test_nuts_on_a_scan_model_matches_the_exact_posterior():
    sigma = 0.5
    mcmc = MCMC(NUTS(scan_model), num_warmup=500, num_samples=1000, num_chains=2,
                progress_bar=False)
    mcmc.run(0, Y, sigma=sigma)
    by_chain = mcmc.get_samples(group_by_chain=True)["level"]
    mean, _ = kalman_posterior(Y, sigma)
    mcse = mcse_mean(by_chain)
    assert np.all(np.abs(by_chain.mean((0, 1)) - mean) < 5 * mcse)


def test_svi_on_a_scan_model_finds_the_exact_posterior_mean():
    """A mean-field Gaussian guide of a Gaussian posterior has the exact mean at its optimum."""
    sigma = 0.5

    def guide(y, sigma=None):
        loc = ppl.param("loc", np.zeros(len(y)))
        scale = ppl.param("scale", 0.3 * np.ones(len(y)), constraint=constraints.positive)
        ppl.sample("level", dist.Normal(loc, scale).to_event(1))

    schedule = optim.exponential_decay(0.05, 15000, 1e-3)
    result = SVI(scan_model, guide, optim.Adam(schedule), Trace_ELBO(8)).run(
        0, 15000, Y, sigma=sigma, progress_bar=False)
    mean, cov = kalman_posterior(Y, sigma)
    np.testing.assert_allclose(result.params["loc"], mean, atol=0.02)
    precision = np.linalg.inv(cov)  # mean-field variances: 1 / diag(precision)
    np.testing.assert_allclose(result.params["scale"], np.diag(precision) ** -0.5, rtol=0.05)


def test_the_body_is_traced_under_vmap_for_constrained_values():
    model = compile_model(scan_model, Y)
    draws = np.random.default_rng(5).normal(size=(4, model.dim))
    values = model.constrain(draws)
    assert values["level"].shape == (4, 25) and values["twice"].shape == (4, 25)
    np.testing.assert_allclose(values["level"], draws[:, 1:])
