"""SVI against exact answers: conjugate posteriors, log evidence, SciPy's MAP, discrete latents.

Every fit runs 20,000 steps of 16 particles with Adam's step size decayed to 5e-5, so that the
final params sit within the optimiser's remaining noise of the optimum. That noise was measured
by re-running each fit with six seeds (standard deviation across seeds: 0.002 for a posterior
mean, 0.4 % for a posterior scale, 1 % for a covariance entry, 0.0015 for the discrete
site's probability); the tolerances below are about five of those standard deviations.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.stats as st

import ppl
from inference import SVI, NonFiniteLossError, RenyiELBO, Trace_ELBO, optim
from ppl import constraints, dist
from ppl.errors import SiteError

Y = np.array([0.5, 1.5, 1.0, 2.0, 0.3, 1.1])
PRIOR_SD = 10.0


def normal_model(y):
    mu = ppl.sample("mu", dist.Normal(0.0, PRIOR_SD))
    with ppl.plate("n", len(y)):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


def normal_guide(y):
    loc = ppl.param("loc", 0.0)
    scale = ppl.param("scale", 1.0, constraint=constraints.positive)
    ppl.sample("mu", dist.Normal(loc, scale))


def exact_normal_posterior(y):
    precision = len(y) + PRIOR_SD**-2
    return y.sum() / precision, precision**-0.5


STEPS = 20000


def decaying(start=0.05, steps=STEPS, end=5e-5):
    return optim.Adam(optim.exponential_decay(start, steps, end / start))


def test_custom_guide_reaches_the_conjugate_posterior():
    svi = SVI(normal_model, normal_guide, decaying(), Trace_ELBO(num_particles=16))
    result = svi.run(0, STEPS, Y, progress_bar=False)
    mean, sd = exact_normal_posterior(Y)
    assert abs(result.params["loc"] - mean) < 0.01
    assert abs(result.params["scale"] - sd) / sd < 0.02


def test_the_elbo_of_the_exact_guide_is_the_log_evidence():
    """With q equal to the posterior, log p(y, mu) - log q(mu) = log p(y) for every draw."""
    mean, sd = exact_normal_posterior(Y)
    svi = SVI(normal_model, normal_guide, optim.SGD(1e-12), Trace_ELBO())
    result = svi.run(3, 5, Y, progress_bar=False, init_params={"loc": mean, "scale": sd})
    evidence = st.multivariate_normal(np.zeros(len(Y)),
                                      np.eye(len(Y)) + PRIOR_SD**2).logpdf(Y)
    np.testing.assert_allclose(-result.losses, evidence, rtol=1e-9)


def test_renyi_shares_the_optimum_when_the_family_is_exact():
    svi = SVI(normal_model, normal_guide, decaying(), RenyiELBO(alpha=0.5, num_particles=16))
    result = svi.run(1, STEPS, Y, progress_bar=False)
    mean, sd = exact_normal_posterior(Y)
    assert abs(result.params["loc"] - mean) < 0.015
    assert abs(result.params["scale"] - sd) / sd < 0.03


# ---- Bayesian linear regression: full-rank and mean-field guides -------------------------------

RNG = np.random.default_rng(5)
X = RNG.normal(size=(40, 3))
BETA_PRIOR_SD = 2.0
Y_REG = X @ np.array([1.0, -0.5, 0.3]) + RNG.normal(size=40)


def regression(x, y):
    beta = ppl.sample("beta", dist.Normal(0.0, BETA_PRIOR_SD).expand([3]).to_event(1))
    with ppl.plate("n", x.shape[0]):
        ppl.sample("y", dist.Normal(x @ beta, 1.0), obs=y)


def full_rank_guide(x, y):
    loc = ppl.param("loc", np.zeros(3))
    tril = ppl.param("tril", 0.3 * np.eye(3), constraint=constraints.lower_cholesky)
    ppl.sample("beta", dist.MultivariateNormal(loc, scale_tril=tril))


def mean_field_guide(x, y):
    loc = ppl.param("loc", np.zeros(3))
    scale = ppl.param("scale", 0.3 * np.ones(3), constraint=constraints.positive)
    ppl.sample("beta", dist.Normal(loc, scale).to_event(1))


def regression_posterior():
    precision = X.T @ X + np.eye(3) / BETA_PRIOR_SD**2
    cov = np.linalg.inv(precision)
    return cov @ X.T @ Y_REG, cov, precision


def test_full_rank_guide_recovers_the_exact_mean_and_covariance():
    svi = SVI(regression, full_rank_guide, decaying(0.02), Trace_ELBO(16))
    result = svi.run(2, STEPS, X, Y_REG, progress_bar=False)
    mean, cov, _ = regression_posterior()
    tril = result.params["tril"]
    np.testing.assert_allclose(result.params["loc"], mean, atol=0.01)
    np.testing.assert_allclose(tril @ tril.T, cov, atol=0.05 * np.abs(cov).max())


def test_mean_field_guide_recovers_the_mean_field_answer():
    """For a Gaussian target, the KL(q||p)-optimal factorised Gaussian has the exact mean and
    variances 1 / diag(precision)."""
    svi = SVI(regression, mean_field_guide, decaying(0.02), Trace_ELBO(16))
    result = svi.run(2, STEPS, X, Y_REG, progress_bar=False)
    mean, _, precision = regression_posterior()
    np.testing.assert_allclose(result.params["loc"], mean, atol=0.01)
    np.testing.assert_allclose(result.params["scale"], np.diag(precision) ** -0.5, rtol=0.025)


# ---- MAP with Minimize -----------------------------------------------------------------------


def positive_model(y):
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    with ppl.plate("n", len(y)):
        ppl.sample("y", dist.Normal(0.0, sigma), obs=y)


def delta_guide(y):
    value = ppl.param("sigma_map", 1.0, constraint=constraints.positive)
    ppl.sample("sigma", dist.Delta(value))


def test_minimize_with_a_delta_guide_is_the_map():
    """The Delta guide's ELBO is log p(y, sigma) (no entropy); SciPy on the hand-written
    log posterior in sigma gives the same mode."""
    svi = SVI(positive_model, delta_guide, optim.Minimize(), Trace_ELBO())
    result = svi.run(0, 1, Y, progress_bar=False)

    def negative_log_posterior(s):
        return -(st.halfnorm(scale=2.0).logpdf(s) + st.norm(0.0, s).logpdf(Y).sum())

    exact = scipy.optimize.minimize_scalar(negative_log_posterior, bounds=(0.01, 10.0),
                                           method="bounded", options={"xatol": 1e-10}).x
    np.testing.assert_allclose(result.params["sigma_map"], exact, rtol=1e-5)
    assert result.losses.shape == (1,)


# ---- score-function gradients -----------------------------------------------------------------


def discrete_model():
    z = ppl.sample("z", dist.Bernoulli(0.3))
    ppl.sample("x", dist.Normal(2.0 * z, 1.0), obs=np.array(1.5))


def discrete_guide():
    p = ppl.param("p", 0.5, constraint=constraints.unit_interval)
    ppl.sample("z", dist.Bernoulli(p))


def test_a_discrete_guide_site_converges_by_score_function_gradients():
    on = 0.3 * st.norm.pdf(1.5, 2.0, 1.0)
    off = 0.7 * st.norm.pdf(1.5, 0.0, 1.0)
    svi = SVI(discrete_model, discrete_guide, decaying(), Trace_ELBO(16))
    result = svi.run(0, STEPS, progress_bar=False)
    assert abs(result.params["p"] - on / (on + off)) < 0.008


def test_renyi_refuses_non_reparameterised_sites():
    svi = SVI(discrete_model, discrete_guide, optim.Adam(0.01), RenyiELBO(0.5))
    with pytest.raises(SiteError, match="'z'.*pathwise"):
        svi.init(0)


# ---- minibatches -----------------------------------------------------------------------------

N_BIG = 2000
Y_BIG = np.random.default_rng(8).normal(1.0, 1.0, size=N_BIG)


def subsampled_model(y, batch_size=None):
    mu = ppl.sample("mu", dist.Normal(0.0, PRIOR_SD))
    with ppl.plate("n", N_BIG, subsample_size=batch_size):
        batch = ppl.subsample(y, event_dim=0)
        ppl.sample("y", dist.Normal(mu, 1.0), obs=batch)


def subsampled_guide(y, batch_size=None):
    loc = ppl.param("loc", 0.0)
    scale = ppl.param("scale", 0.1, constraint=constraints.positive)
    ppl.sample("mu", dist.Normal(loc, scale))


def test_minibatch_svi_matches_full_batch():
    """Subsampled plates draw fresh indices each step inside the compiled loop and scale the
    likelihood by N / batch: the optimum is the full-data one."""
    mean, sd = exact_normal_posterior(Y_BIG)
    full = SVI(subsampled_model, subsampled_guide, decaying(0.05, 6000, 2e-4), Trace_ELBO(4))
    mini = SVI(subsampled_model, subsampled_guide, decaying(0.05, 6000, 2e-4), Trace_ELBO(4),
               batch_size=100)
    full_params = full.run(0, 6000, Y_BIG, progress_bar=False).params
    mini_params = mini.run(0, 6000, Y_BIG, progress_bar=False).params
    assert abs(full_params["loc"] - mean) < 0.004
    assert abs(mini_params["loc"] - mean) < 0.01
    assert abs(full_params["scale"] - sd) / sd < 0.1


def batch_model(y_batch, n_total):
    mu = ppl.sample("mu", dist.Normal(0.0, PRIOR_SD))
    with ppl.plate("n", n_total, subsample_size=len(y_batch)):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y_batch)


def batch_guide(y_batch, n_total):
    subsampled_guide(y_batch)


def test_minibatches_from_a_data_loader_through_update():
    """The user's loader hands a new batch (same shape) to each update; one compile."""
    svi = SVI(batch_model, batch_guide, decaying(0.05, 3000, 5e-4), Trace_ELBO(2))
    batches = Y_BIG.reshape(20, 100)
    state = svi.init(0, batches[0], N_BIG)
    for step in range(3000):
        state, loss = svi.update(state, batches[step % 20], N_BIG)
        assert np.isfinite(loss)
    assert len(svi._compiled) == 1
    mean, _ = exact_normal_posterior(Y_BIG)
    assert abs(svi.get_params(state)["loc"] - mean) < 0.01


# ---- reproducibility and the functional interface ------------------------------------------------


def test_same_seed_same_losses_and_update_equals_run():
    svi = SVI(normal_model, normal_guide, optim.Adam(0.01), Trace_ELBO(2))
    a = svi.run(4, 50, Y, progress_bar=False)
    b = svi.run(4, 50, Y, progress_bar=False)
    np.testing.assert_array_equal(a.losses, b.losses)
    state = svi.init(4, Y)
    losses = []
    for _ in range(50):
        state, loss = svi.update(state, Y)
        losses.append(loss)
    np.testing.assert_array_equal(losses, a.losses)
    np.testing.assert_array_equal(state.phi, a.state.phi)
    c = svi.run(5, 50, Y, progress_bar=False)
    assert not np.array_equal(a.losses, c.losses)


def test_a_run_continues_from_its_state():
    svi = SVI(normal_model, normal_guide, optim.Adam(0.01), Trace_ELBO())
    whole = svi.run(0, 40, Y, progress_bar=False)
    first = svi.run(0, 15, Y, progress_bar=False)
    rest = svi.run(0, 25, Y, progress_bar=False, init_state=first.state)
    np.testing.assert_array_equal(np.concatenate([first.losses, rest.losses]), whole.losses)


def test_evaluate_leaves_the_state_unchanged():
    svi = SVI(normal_model, normal_guide, optim.Adam(0.01), Trace_ELBO())
    state = svi.init(0, Y)
    assert svi.evaluate(state, Y) == svi.evaluate(state, Y)
    assert np.isfinite(svi.evaluate(state, Y))


# ---- errors that name the site or the step --------------------------------------------------------


def standard_normal_model():
    ppl.sample("x", dist.Normal(0.0, 1.0))


def shifted_guide():
    loc = ppl.param("loc", 0.0)
    ppl.sample("x", dist.Normal(loc, 1.0))


def test_a_non_finite_loss_names_the_step_and_keeps_the_last_finite_params():
    svi = SVI(standard_normal_model, shifted_guide, optim.SGD(1e200), Trace_ELBO())
    with pytest.raises(NonFiniteLossError, match=r"step \d+.*'(loc|x)'") as info:
        svi.run(0, 100, progress_bar=False)
    assert np.isfinite(info.value.params["loc"])
    assert info.value.step >= 1


def test_stable_update_skips_non_finite_steps():
    svi = SVI(standard_normal_model, shifted_guide, optim.SGD(1e200), Trace_ELBO())
    result = svi.run(0, 20, progress_bar=False, stable_update=True)
    assert np.isfinite(result.params["loc"])
    assert not np.all(np.isfinite(result.losses))


def test_a_guide_site_missing_from_the_model_is_named():
    def guide(y):
        normal_guide(y)
        ppl.sample("extra", dist.Normal(0.0, 1.0))

    with pytest.raises(SiteError, match="'extra'.*guide.*model has no"):
        SVI(normal_model, guide, optim.Adam(0.1), Trace_ELBO()).init(0, Y)


def test_a_model_latent_missing_from_the_guide_is_named():
    def guide(y):
        ppl.param("loc", 0.0)

    with pytest.raises(SiteError, match="'mu'.*guide does not sample"):
        SVI(normal_model, guide, optim.Adam(0.1), Trace_ELBO()).init(0, Y)


def test_a_param_init_outside_its_constraint_is_named():
    def guide(y):
        loc = ppl.param("loc", 0.0)
        scale = ppl.param("scale", -1.0, constraint=constraints.positive)
        ppl.sample("mu", dist.Normal(loc, scale))

    with pytest.raises(SiteError, match="'scale'.*violates"):
        SVI(normal_model, guide, optim.Adam(0.1), Trace_ELBO()).init(0, Y)


def test_mismatched_shapes_between_model_and_guide_are_named():
    def guide(y):
        loc = ppl.param("loc", np.zeros(2))
        ppl.sample("mu", dist.Normal(loc, 1.0).to_event(1))

    with pytest.raises(SiteError, match=r"'mu'.*\(2,\).*\(\)"):
        SVI(normal_model, guide, optim.Adam(0.1), Trace_ELBO()).init(0, Y)


def test_auxiliary_guide_sites_need_not_be_in_the_model():
    def guide(y):
        loc = ppl.param("loc", 0.0)
        z = ppl.sample("aux", dist.Normal(0.0, 1.0), infer={"is_auxiliary": True})
        ppl.sample("mu", dist.Delta(loc + 0.1 * z))

    state = SVI(normal_model, guide, optim.Adam(0.1), Trace_ELBO()).init(0, Y)
    assert state.phi.shape == (1,)


def test_bad_arguments():
    with pytest.raises(TypeError, match="optim"):
        SVI(normal_model, normal_guide, "adam", Trace_ELBO())
    with pytest.raises(TypeError, match="loss"):
        SVI(normal_model, normal_guide, optim.Adam(0.1), "elbo")
    with pytest.raises(ValueError, match="step_size"):
        optim.Adam(-1.0)
    with pytest.raises(ValueError, match="num_particles"):
        Trace_ELBO(0)
    svi = SVI(normal_model, normal_guide, optim.Adam(0.1), Trace_ELBO())
    with pytest.raises(ValueError, match="num_steps"):
        svi.run(0, 0, Y)
    with pytest.raises(TypeError, match="seed"):
        svi.run(-1, 10, Y)


def test_guide_draws_match_the_guide_distribution_in_the_compiled_step():
    """The noise source's variates (normal, exponential, Laplace, logistic, Gumbel, uniform)
    give the distributions' own laws: the ELBO of q = p is exactly 0 for any draw, and the
    guide's values reproduce under handlers.seed too."""
    for family in (dist.Exponential(2.0), dist.Laplace(0.5, 2.0), dist.Logistic(0.0, 1.5),
                   dist.Gumbel(1.0, 2.0), dist.Uniform(-1.0, 3.0), dist.LogNormal(0.0, 0.5)):
        def model(fn=family):
            ppl.sample("x", fn)

        def guide(fn=family):
            ppl.param("unused", 0.0)
            ppl.sample("x", fn)

        result = SVI(model, guide, optim.SGD(1e-9), Trace_ELBO(4)).run(0, 5, progress_bar=False)
        np.testing.assert_allclose(result.losses, 0.0, atol=1e-12, err_msg=repr(family))


# ---- results: predictive draws and ArviZ ---------------------------------------------------------


def test_predictive_with_a_guide_and_arviz_export():
    import arviz as az

    from inference import Predictive

    params = {"loc": np.array(1.0), "scale": np.array(0.5)}
    draws = Predictive(normal_model, guide=normal_guide, params=params, num_samples=4000)(0, Y)
    assert draws["y"].shape == (4000, len(Y))
    # y_i = mu + e_i with mu ~ N(1, 0.5^2): mean 1, variance 0.25 + 1 (tolerance: 5 MC SEs)
    np.testing.assert_allclose(draws["y"].mean(0), 1.0, atol=5 * np.sqrt(1.25 / 4000))
    np.testing.assert_allclose(draws["y"].var(0), 1.25, rtol=5 * np.sqrt(2 / 4000))
    svi = SVI(normal_model, normal_guide, optim.Adam(0.01), Trace_ELBO())
    idata = svi.to_arviz(params, Y, num_samples=500)
    posterior = np.asarray(idata.posterior["mu"])
    assert posterior.shape == (1, 500)
    assert abs(posterior.mean() - 1.0) < 5 * 0.5 / np.sqrt(500)
    log_lik = np.asarray(idata.log_likelihood["y"])
    assert log_lik.shape == (1, 500, len(Y))
    np.testing.assert_allclose(log_lik[0, :, 2], st.norm(posterior[0], 1.0).logpdf(Y[2]))
    assert np.asarray(idata.posterior_predictive["y"]).shape == (1, 500, len(Y))
    np.testing.assert_array_equal(np.asarray(idata.observed_data["y"]), Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto k of these arbitrary params: not the point
        assert np.isfinite(az.loo(idata).elpd_loo)


def test_the_progress_bar_runs_in_chunks_without_changing_the_result(monkeypatch, capsys):
    import inference.svi

    svi = SVI(normal_model, normal_guide, optim.Adam(0.01), Trace_ELBO())
    quiet = svi.run(0, 500, Y, progress_bar=False)
    monkeypatch.setattr(inference.svi, "progress_enabled", lambda requested: requested)
    shown = svi.run(0, 500, Y, progress_bar=True)
    np.testing.assert_array_equal(quiet.losses, shown.losses)
    assert "loss" in capsys.readouterr().err


# ---- TraceMeanField_ELBO ---------------------------------------------------------------------


def test_trace_mean_field_estimates_the_same_elbo_and_uses_the_analytic_kl():
    """At fixed params both losses are unbiased estimates of the same -ELBO; and for a model
    with no likelihood, TraceMeanField's loss is exactly KL(q || prior), every step."""
    from inference import TraceMeanField_ELBO

    params = {"loc": 1.0, "scale": 0.3}
    mc = SVI(normal_model, normal_guide, optim.SGD(1e-300), Trace_ELBO()).run(
        0, 4000, Y, progress_bar=False, init_params=params).losses
    analytic = SVI(normal_model, normal_guide, optim.SGD(1e-300), TraceMeanField_ELBO()).run(
        0, 4000, Y, progress_bar=False, init_params=params).losses
    se = np.sqrt(mc.var() / mc.size + analytic.var() / analytic.size)
    assert abs(mc.mean() - analytic.mean()) < 5 * se

    def prior_only():
        ppl.sample("mu", dist.Normal(0.0, PRIOR_SD))

    def guide():
        normal_guide(None)

    losses = SVI(prior_only, guide, optim.SGD(1e-300), TraceMeanField_ELBO()).run(
        0, 20, progress_bar=False, init_params=params).losses
    q_sd, p_sd = params["scale"], PRIOR_SD
    kl = np.log(p_sd / q_sd) + (q_sd**2 + params["loc"] ** 2) / (2 * p_sd**2) - 0.5
    np.testing.assert_allclose(losses, kl, rtol=1e-12)


def test_trace_mean_field_reaches_the_mean_field_optimum():
    from inference import TraceMeanField_ELBO

    svi = SVI(regression, mean_field_guide, decaying(0.02), TraceMeanField_ELBO(16))
    result = svi.run(2, STEPS, X, Y_REG, progress_bar=False)
    mean, _, precision = regression_posterior()
    np.testing.assert_allclose(result.params["loc"], mean, atol=0.01)
    np.testing.assert_allclose(result.params["scale"], np.diag(precision) ** -0.5, rtol=0.025)


def test_init_params_reuse_the_compiled_elbo_and_are_checked():
    svi = SVI(normal_model, normal_guide, optim.Adam(0.01), Trace_ELBO())
    state = svi.init(0, Y)
    kernel = svi._last.kernel
    moved = svi.init(0, Y, init_params={"loc": 2.5, "scale": 0.5})
    assert svi._last.kernel is kernel and len(svi._compiled) == 1
    params = svi.get_params(moved)
    assert float(params["loc"]) == pytest.approx(2.5) and float(params["scale"]) == \
        pytest.approx(0.5)
    assert not np.array_equal(state.phi, moved.phi)
    with pytest.raises(SiteError, match="'lco'.*not a param"):
        svi.init(0, Y, init_params={"lco": 1.0})
    with pytest.raises(SiteError, match="'scale'.*violates"):
        svi.init(0, Y, init_params={"scale": -1.0})


def test_the_compiled_elbo_hoists_data_terms_but_nothing_of_the_refilled_noise():
    """The step loop rewrites the noise, baseline and plate indices in place: values computed
    from them must stay in the kernel (a hoisted exp(noise) would be a stale draw), while the
    data's gammaln(y + 1) is computed once."""
    import autodiff
    from autodiff.hoisting import hoist_data_terms
    from autodiff.passes import optimize
    from inference.variational import compile_elbo

    def model(y):
        rate = ppl.sample("rate", dist.Exponential(1.0))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Poisson(rate), obs=y)

    def guide(y):
        ppl.param("unused", 0.0)
        ppl.sample("rate", dist.LogNormal(0.0, 0.5))  # exp(0.5 * noise): noise-only and costly

    y = np.arange(5.0)
    compiled = compile_elbo(model, guide, Trace_ELBO(3), (y,), {}, 0)
    prelude = compiled.kernel.prelude
    read = {a.id for e in prelude.eqns for a in e.inputs if hasattr(a, "id")}
    assert not read & {v.id for v in prelude.inputs[:3]}
    assert "gammaln" in {e.primitive.name for e in prelude.eqns}
    # the same graph with the noise taken for fixed data would hoist terms of the noise
    graph = optimize(autodiff.make_graph(autodiff.value_and_grad(compiled.objective))(
        compiled.init_phi, compiled.noise, compiled.baseline, compiled.subsample, y))
    unsafe, _ = hoist_data_terms(graph)
    noise = graph.inputs[1]
    assert any(a is noise for e in unsafe.eqns for a in e.inputs)
