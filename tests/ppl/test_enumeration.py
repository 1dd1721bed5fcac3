"""Discrete latent sites summed out by enumeration, against the same models marginalised by hand
and against exact posteriors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm

import autodiff.numpy as anp
import ppl
from autodiff.scipy.special import logsumexp
from inference import MCMC, NUTS, Predictive
from inference.diagnostics import mcse_mean
from ppl import dist, handlers
from ppl.enumeration import EnumerateSites, config_enumerate, enumerated_log_density
from ppl.errors import SiteError
from ppl.model import AutoEnumerationNotice, compile_model

X = np.array([0.1, 2.3, -0.4, 1.9, 2.2, -1.0])


def mixture(x):
    w = ppl.sample("w", dist.Beta(2.0, 2.0))
    loc = ppl.sample("loc", dist.Normal(0.0, 3.0).expand([2]).to_event(1))
    with ppl.plate("data", len(x)):
        z = ppl.sample("z", dist.Bernoulli(w), infer={"enumerate": "parallel"})
        ppl.sample("x", dist.Normal(loc[z], 1.0), obs=x)


def marginal_mixture(x):
    """The same mixture with the assignment summed out by hand."""
    w = ppl.sample("w", dist.Beta(2.0, 2.0))
    loc = ppl.sample("loc", dist.Normal(0.0, 3.0).expand([2]).to_event(1))
    log_component = dist.Normal(loc, 1.0).log_prob(x[:, None])  # (points, components)
    log_weight = anp.stack([anp.log1p(-w), anp.log(w)])
    ppl.factor("x", anp.sum(logsumexp(log_component + log_weight, axis=-1)))


def test_an_enumerated_mixture_equals_the_hand_marginalised_model():
    enumerated, by_hand = compile_model(mixture, X), compile_model(marginal_mixture, X)
    assert enumerated.site_names == by_hand.site_names == ["w", "loc"]
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = rng.normal(size=3)
        lp, grad = enumerated.logp_and_grad(theta)
        lp_hand, grad_hand = by_hand.logp_and_grad(theta)
        np.testing.assert_allclose(lp, lp_hand, rtol=1e-12)
        np.testing.assert_allclose(grad, grad_hand, rtol=1e-10, atol=1e-12)


def test_pointwise_log_likelihood_sums_out_the_assignment():
    model = compile_model(mixture, X)
    theta = np.array([0.3, -0.5, 1.0])
    w, loc = expit(0.3), np.array([-0.5, 1.0])
    exact = np.logaddexp(np.log1p(-w) + norm.logpdf(X, loc[0]), np.log(w) + norm.logpdf(X, loc[1]))
    np.testing.assert_allclose(model.log_likelihood(theta[None])["x"][0], exact, rtol=1e-12)


def test_a_global_discrete_site_and_a_local_one_are_eliminated_in_order():
    """z_global picks the noise scale of every point; z_i picks each point's mean: the log
    density is log sum_g p(g) prod_i sum_k p(k) N(x_i | mu_k, s_g)."""
    def model(x):
        g = ppl.sample("g", dist.Categorical(np.array([0.2, 0.8])),
                       infer={"enumerate": "parallel"})
        scale = np.array([0.5, 2.0])[g]
        with ppl.plate("data", len(x)):
            k = ppl.sample("k", dist.Bernoulli(0.4), infer={"enumerate": "parallel"})
            ppl.sample("x", dist.Normal(np.array([-1.0, 1.0])[k], scale), obs=x)

    tr = handlers.trace(EnumerateSites(model, max_plate_nesting=1)).get_trace(X)
    per_g = [np.log(pg) + np.sum(np.logaddexp(np.log(0.6) + norm.logpdf(X, -1.0, s),
                                              np.log(0.4) + norm.logpdf(X, 1.0, s)))
             for pg, s in [(0.2, 0.5), (0.8, 2.0)]]
    np.testing.assert_allclose(enumerated_log_density(tr), np.logaddexp(*per_g), rtol=1e-12)


def test_unmarked_finite_discrete_sites_are_enumerated_with_a_notice():
    def unmarked(x):
        w = ppl.sample("w", dist.Beta(2.0, 2.0))
        loc = ppl.sample("loc", dist.Normal(0.0, 3.0).expand([2]).to_event(1))
        with ppl.plate("data", len(x)):
            z = ppl.sample("z", dist.Bernoulli(w))
            ppl.sample("x", dist.Normal(loc[z], 1.0), obs=x)

    with pytest.warns(AutoEnumerationNotice, match="'z'"):
        model = compile_model(unmarked, X)
    theta = np.array([0.3, -0.5, 1.0])
    np.testing.assert_allclose(model.logp_and_grad(theta)[0],
                               compile_model(mixture, X).logp_and_grad(theta)[0], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # config_enumerate marks it: no notice
        compile_model(config_enumerate(unmarked), X)


def test_infinite_support_is_refused_with_the_site_named():
    def marked(y):
        n = ppl.sample("n", dist.Poisson(3.0), infer={"enumerate": "parallel"})
        ppl.sample("y", dist.Normal(n, 1.0), obs=y)

    with pytest.raises(SiteError, match="(?i)'n'.*no finite support.*truncate"):
        compile_model(marked, np.array(1.0))

    def unmarked(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        n = ppl.sample("n", dist.Poisson(3.0))
        ppl.sample("y", dist.Normal(n + mu, 1.0), obs=y)

    with pytest.raises(SiteError, match="(?i)'n'.*infinite support.*truncate"):
        compile_model(unmarked, np.array(1.0))


def test_nuts_on_an_enumerated_mixture_and_infer_discrete():
    """Two well separated clusters with known locations and unknown weight w: the posterior of
    w is Beta(2 + n_1, 2 + n_0) (the assignments are certain), and infer_discrete recovers
    every assignment."""
    x = np.concatenate([np.full(15, -4.0), np.full(25, 4.0)])

    def model(x):
        w = ppl.sample("w", dist.Beta(2.0, 2.0))
        with ppl.plate("data", len(x)):
            z = ppl.sample("z", dist.Bernoulli(w), infer={"enumerate": "parallel"})
            ppl.sample("x", dist.Normal(np.array([-4.0, 4.0])[z], 1.0), obs=x)

    mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=1000, num_chains=2, progress_bar=False)
    mcmc.run(0, x)
    w = mcmc.get_samples(group_by_chain=True)["w"]
    exact_mean = (2 + 25) / (4 + 40)
    assert abs(w.mean() - exact_mean) < 5 * mcse_mean(w)
    draws = Predictive(model, posterior_samples=mcmc.get_samples(), infer_discrete=True)(1, x)
    assert draws["z"].shape == (2000, 40)
    np.testing.assert_array_equal(draws["z"], np.broadcast_to((x > 0).astype(int), (2000, 40)))


def test_infer_discrete_draws_follow_the_conditional_posterior():
    """One point between the clusters: P(z = 1 | x) = w N(x|1) / (w N(x|1) + (1-w) N(x|-1))."""
    def model(x):
        w = ppl.sample("w", dist.Beta(2.0, 2.0))
        with ppl.plate("data", 1):
            z = ppl.sample("z", dist.Bernoulli(w), infer={"enumerate": "parallel"})
            ppl.sample("x", dist.Normal(np.array([-1.0, 1.0])[z], 1.0), obs=x)

    x = np.array([0.3])
    n = 4000
    draws = Predictive(model, posterior_samples={"w": np.full(n, 0.4)}, infer_discrete=True)(
        0, x)
    on = 0.4 * norm.pdf(0.3, 1.0)
    p = on / (on + 0.6 * norm.pdf(0.3, -1.0))
    assert abs(draws["z"].mean() - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_two_discrete_states_in_one_scan_body_are_refused_with_the_site_named():
    def two_chains(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))

        def step(carry, y_t):
            a = ppl.sample("a", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})
            b = ppl.sample("b", dist.Bernoulli(0.6), infer={"enumerate": "parallel"})
            ppl.sample("y", dist.Normal(mu + a + b, 1.0), obs=y_t)
            return carry, None

        ppl.scan(step, 0.0, y)

    with pytest.raises(SiteError, match="'b'.*second enumerated site"):
        compile_model(two_chains, np.zeros(5))


def enumerated_low_dim_gauss_mix(y):
    """posteriordb's low_dim_gauss_mix with the assignment as an enumerated site."""
    from ppl import constraints

    mu = ppl.sample("mu", dist.ImproperUniform(constraints.ordered_vector, (), (2,)))
    ppl.factor("mu_prior", dist.Normal(0.0, 2.0).log_prob(mu).sum())
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0).expand([2]).to_event(1))
    theta = ppl.sample("theta", dist.Beta(5.0, 5.0))
    with ppl.plate("N", y.shape[0]):
        z = ppl.sample("z", dist.Categorical(anp.stack([theta, 1.0 - theta])),
                       infer={"enumerate": "parallel"})
        ppl.sample("y", dist.Normal(mu[z], sigma[z]), obs=y)


def test_enumerated_low_dim_gauss_mix_equals_the_marginalised_reference_model():
    from tests.posteriordb_models import model_args

    reference_model, args, _ = model_args("low_dim_gauss_mix")
    enumerated = compile_model(enumerated_low_dim_gauss_mix, *args)
    marginal = compile_model(reference_model, *args)
    assert enumerated.site_names == marginal.site_names
    rng = np.random.default_rng(3)
    for _ in range(3):
        theta = rng.normal(size=enumerated.dim)
        np.testing.assert_allclose(enumerated.logp_and_grad(theta)[0],
                                   marginal.logp_and_grad(theta)[0], rtol=1e-10)
        np.testing.assert_allclose(enumerated.logp_and_grad(theta)[1],
                                   marginal.logp_and_grad(theta)[1], rtol=1e-8, atol=1e-10)


@pytest.mark.slow
def test_enumerated_low_dim_gauss_mix_agrees_with_the_stan_reference():
    from tests.posteriordb import compare, load
    from tests.posteriordb_models import REFERENCE_NAMES, model_args

    _, args, _ = model_args("low_dim_gauss_mix")
    mcmc = MCMC(NUTS(enumerated_low_dim_gauss_mix), num_warmup=1000, num_samples=1000,
                num_chains=4, progress_bar=False)
    mcmc.run(20261126, *args)  # the seed of tests/inference/test_posteriors.py
    name = "low_dim_gauss_mix-low_dim_gauss_mix"
    samples = mcmc.get_samples(group_by_chain=True)
    failures = compare({s: samples[s] for s in REFERENCE_NAMES[name]}, load(name))
    assert not failures, "\n".join(failures)


# ---- a Markov chain of discrete states inside ppl.scan: the forward algorithm ----------------

K_STATES = 3


def hmm(y):
    trans = ppl.sample("trans", dist.Dirichlet(np.ones(K_STATES)).expand([K_STATES]).to_event(1))
    locs = ppl.sample("locs", dist.Normal(0.0, 5.0).expand([K_STATES]).to_event(1))

    def step(state, y_t):
        state = ppl.sample("state", dist.Categorical(trans[state]),
                           infer={"enumerate": "parallel"})
        ppl.sample("y", dist.Normal(locs[state], 1.0), obs=y_t)
        return state, None

    ppl.scan(step, 0, y)


def hand_forward(y, trans, locs):
    """log p(y | trans, locs) by the forward algorithm in NumPy, the chain starting from
    state 0 (so the first state is drawn from row 0)."""
    from scipy.special import logsumexp as lse

    emission = norm.logpdf(y[:, None], locs, 1.0)
    alpha = np.log(trans[0]) + emission[0]
    for t in range(1, len(y)):
        alpha = lse(alpha[:, None] + np.log(trans), axis=0) + emission[t]
    return lse(alpha)


def test_an_enumerated_hmm_equals_the_forward_algorithm():
    """T = 200, K = 3: the model's log density (eager) with the states summed out by the
    scan's forward recursion equals the NumPy forward algorithm, and so does its gradient."""
    import autodiff
    from ppl.model import EnumeratedModel

    rng = np.random.default_rng(4)
    y = rng.normal(size=200) * 3
    trans = rng.dirichlet(np.ones(K_STATES), size=K_STATES)
    locs = np.array([-3.0, 0.5, 2.0])
    model = EnumeratedModel(hmm, (), 0)

    def log_joint(locs):
        return handlers.log_density(model, (y,), {}, {"trans": trans, "locs": locs})[0]

    prior = sum(dist.Dirichlet(np.ones(K_STATES)).log_prob(row) for row in trans) \
        + norm.logpdf(locs, 0.0, 5.0).sum()
    np.testing.assert_allclose(log_joint(locs), prior + hand_forward(y, trans, locs),
                               rtol=1e-12)
    grad = autodiff.grad(log_joint)(locs)
    eps = 1e-6
    numeric = [(hand_forward(y, trans, locs + eps * e) - hand_forward(y, trans, locs - eps * e))
               / (2 * eps) - locs @ e / 25.0 for e in np.eye(K_STATES)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6)


@pytest.mark.slow
def test_enumerated_hmm_example_agrees_with_the_stan_reference():
    """posteriordb's hmm_example written with an enumerated state in ppl.scan (its hand-written
    forward recursion is tests.posteriordb_models.model_hmm_example)."""
    from ppl import constraints
    from tests.posteriordb import compare, load
    from tests.posteriordb_models import REFERENCE_NAMES, model_args

    def enumerated_hmm_example(y):
        theta1 = ppl.sample("theta1", dist.Dirichlet(np.ones(2)))
        theta2 = ppl.sample("theta2", dist.Dirichlet(np.ones(2)))
        mu = ppl.sample("mu", dist.ImproperUniform(constraints.positive_ordered_vector, (), (2,)))
        ppl.factor("mu_prior", dist.Normal(np.array([3.0, 10.0]), 1.0).log_prob(mu).sum())
        # row 2: the chain's start, uniform (Stan's program has no initial-state term: its
        # first forward message is the emission alone, i.e. this times 2)
        transition = anp.stack([theta1, theta2, np.full(2, 0.5)])
        ppl.factor("start", np.log(2.0))

        def step(state, y_t):
            state = ppl.sample("state", dist.Categorical(transition[state]),
                               infer={"enumerate": "parallel"})
            ppl.sample("y", dist.Normal(mu[state], 1.0), obs=y_t)
            return state, None

        ppl.scan(step, 2, y)

    _, args, _ = model_args("hmm_example")
    mcmc = MCMC(NUTS(enumerated_hmm_example), num_warmup=1000, num_samples=1000, num_chains=4,
                progress_bar=False)
    mcmc.run(20261126, *args)
    name = "hmm_example-hmm_example"
    samples = mcmc.get_samples(group_by_chain=True)
    failures = compare({s: samples[s] for s in REFERENCE_NAMES[name]}, load(name))
    assert not failures, "\n".join(failures)


def test_infer_discrete_draws_the_states_of_an_enumerated_hmm_by_ffbs():
    """Well separated emissions: the drawn state sequence is the true one; and on an ambiguous
    two-step chain the backward draws follow the exact joint posterior of the states."""
    rng = np.random.default_rng(7)
    states = np.repeat([0, 2, 1, 2], 10)
    y = np.array([-6.0, 0.0, 6.0])[states] + 0.3 * rng.normal(size=states.size)

    def fixed_hmm(y):
        locs = ppl.sample("locs", dist.Normal(0.0, 5.0).expand([K_STATES]).to_event(1))
        trans = np.full((K_STATES, K_STATES), 0.1) + 0.7 * np.eye(K_STATES)

        def step(state, y_t):
            state = ppl.sample("state", dist.Categorical(anp.asarray(trans)[state]),
                               infer={"enumerate": "parallel"})
            ppl.sample("y", dist.Normal(locs[state], 1.0), obs=y_t)
            return state, None

        ppl.scan(step, 0, y)

    samples = {"locs": np.tile([-6.0, 0.0, 6.0], (20, 1))}
    draws = Predictive(fixed_hmm, posterior_samples=samples, infer_discrete=True)(0, y)
    np.testing.assert_array_equal(draws["state"], np.broadcast_to(states, (20, states.size)))

    # two steps, emissions between the states: P(s0, s1 | y) by brute force
    y2 = np.array([0.2, 0.1])
    locs = np.array([-0.5, 0.0, 0.5])
    trans = np.full((3, 3), 0.1) + 0.7 * np.eye(3)
    joint = np.array([[trans[0, a] * trans[a, b] * norm.pdf(y2[0], locs[a])
                       * norm.pdf(y2[1], locs[b]) for b in range(3)] for a in range(3)])
    joint /= joint.sum()
    n = 4000
    draws = Predictive(fixed_hmm, posterior_samples={"locs": np.tile(locs, (n, 1))},
                       infer_discrete=True)(1, y2)["state"]
    counts = np.zeros((3, 3))
    np.add.at(counts, (draws[:, 0], draws[:, 1]), 1)
    se = np.sqrt(joint * (1 - joint) / n)
    assert np.all(np.abs(counts / n - joint) < 5 * se + 1e-12)
