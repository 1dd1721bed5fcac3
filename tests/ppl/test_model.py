"""The bridge from a model to the compiled log density (ppl.model.compile_model)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.stats as st

import autodiff.numpy as anp
import ppl
from ppl import dist
from ppl.errors import ModelError, SiteError
from ppl.model import compile_model

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(sigma, y=None):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", len(sigma)):
        z = ppl.sample("z", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * z)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


@pytest.fixture(scope="module")
def schools():
    return compile_model(eight_schools, SIGMA, y=Y)


def _reference_logp(theta):
    """Hand-written: N(mu|0,5) + HalfCauchy(tau|5) + log tau (Jacobian) + N(z) + N(y|theta)."""
    mu, log_tau, z = theta[0], theta[1], theta[2:]
    tau = np.exp(log_tau)
    return (st.norm(0, 5).logpdf(mu) + st.halfcauchy(scale=5).logpdf(tau) + log_tau
            + st.norm.logpdf(z).sum() + st.norm(mu + tau * z, SIGMA).logpdf(Y).sum())


def test_layout_and_log_density(schools):
    assert schools.dim == 10 and schools.site_names == ["mu", "tau", "z"]
    assert [s.offset for s in schools.layout.sites] == [0, 1, 2]
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = rng.uniform(-2, 2, 10)
        lp, grad = schools.logp_and_grad(theta)
        np.testing.assert_allclose(lp, _reference_logp(theta), rtol=1e-12)
        eps = 1e-6
        fd = [(_reference_logp(theta + eps * e) - _reference_logp(theta - eps * e)) / (2 * eps)
              for e in np.eye(10)]
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)
        lp_np, grad_np = schools.logp_and_grad_numpy(theta)
        np.testing.assert_allclose([lp, *grad], [lp_np, *grad_np], rtol=1e-12, atol=1e-12)


def test_constrain_unconstrain_and_log_likelihood(schools):
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(2, 3, 10))
    values = schools.constrain(draws)
    assert values["tau"].shape == (2, 3) and values["theta"].shape == (2, 3, 8)
    np.testing.assert_allclose(values["tau"], np.exp(draws[..., 1]))
    np.testing.assert_allclose(values["theta"],
                               draws[..., :1] + np.exp(draws[..., 1:2]) * draws[..., 2:])
    back = schools.unconstrain({k: values[k][0, 0] for k in ("mu", "tau", "z")})
    np.testing.assert_allclose(back, draws[0, 0], rtol=1e-12)
    loglik = schools.log_likelihood(draws)["y"]
    np.testing.assert_allclose(loglik, st.norm(values["theta"], SIGMA).logpdf(Y), rtol=1e-12)


def test_dims_coords_and_data(schools):
    assert schools.dims["z"] == ["school"] and schools.dims["theta"] == ["school"]
    np.testing.assert_array_equal(schools.coords["school"], np.arange(8))
    np.testing.assert_array_equal(schools.observed_data["y"], Y)
    np.testing.assert_array_equal(schools.constant_data["sigma"], SIGMA)


def test_new_data_of_the_same_shapes_reuses_the_compiled_code(schools):
    before = {m for m in sys.modules if m.startswith("numbayes_generated_")}
    other = compile_model(eight_schools, SIGMA * 2.0, y=Y + 1.0)
    after = {m for m in sys.modules if m.startswith("numbayes_generated_")}
    assert other.logp_grad.module is schools.logp_grad.module and after == before
    theta = np.zeros(10)
    assert other.logp_and_grad(theta)[0] != schools.logp_and_grad(theta)[0]


def test_initial_points_are_finite_and_reproducible(schools):
    a = schools.initial_points(np.random.default_rng(3), 4)
    b = schools.initial_points(np.random.default_rng(3), 4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 10) and np.all(np.abs(a) < 2)
    user = schools.initial_points(np.random.default_rng(3), 2, {"tau": 2.0})
    np.testing.assert_allclose(user[:, 1], np.log(2.0))


def test_discrete_latent_site_is_an_error_naming_it():
    def model():
        ppl.sample("k", dist.Poisson(3.0))

    with pytest.raises(SiteError, match="site 'k'.*discrete"):
        compile_model(model)


def test_no_finite_initial_point_names_the_site():
    def model(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.sample("y", dist.Uniform(mu + 100.0, mu + 101.0), obs=y)

    cm = compile_model(model, np.array(0.0))
    with pytest.raises(ModelError, match="site 'y'"):
        cm.initial_points(np.random.default_rng(0), 1)


def test_parameter_dependent_bounds():
    """Uniform(0, high) with a sampled high: the bijector follows the bound."""
    def model():
        high = ppl.sample("high", dist.Exponential(1.0))
        ppl.sample("x", dist.Uniform(0.0, high))

    cm = compile_model(model)
    theta = np.array([0.3, -0.4])
    values = cm.constrain(theta)
    high = np.exp(0.3)
    np.testing.assert_allclose(values["x"], high / (1 + np.exp(0.4)))
    # log p = log Exp(high) + log(high) [exp Jacobian] + log U(x|0,high) + log|dx/du|
    sig = 1 / (1 + np.exp(0.4))
    expected = -high + 0.3 - np.log(high) + np.log(high * sig * (1 - sig))
    np.testing.assert_allclose(cm.logp_and_grad(theta)[0], expected, rtol=1e-12)


def test_no_latent_sites_is_an_error():
    def model(y):
        ppl.sample("y", dist.Normal(0.0, 1.0), obs=y)

    with pytest.raises(ModelError, match="no latent"):
        compile_model(model, np.array(1.0))


def poisson_regression(x, y):
    a = ppl.sample("a", dist.Normal(0.0, 1.0))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("n", len(y)):
        ppl.sample("y", dist.Poisson(anp.exp(a + b * x)), obs=y)


def _poisson_reference(theta, x, y):
    a, b = theta
    return (st.norm.logpdf(a) + st.norm.logpdf(b)
            + st.poisson.logpmf(y, np.exp(a + b * x)).sum())


def test_hoisted_data_terms_follow_the_data_bound():
    """gammaln(y + 1) is computed once per binding of the data (ppl.model -> compile_logp_grad
    hoists it): a second data set through the same compiled code, and the per-chain tables the
    samplers take, see their own values."""
    from kernels.model_abi import logp_grad

    rng = np.random.default_rng(5)
    x = rng.normal(size=50)
    y1 = rng.poisson(2.0, 50).astype(float)
    y2 = y1 + rng.integers(1, 6, 50)
    first = compile_model(poisson_regression, x, y1)
    assert "gammaln" in {e.primitive.name for e in first.logp_grad.prelude.eqns}
    second = first.with_data(x, y2)
    assert second.logp_grad.module is first.logp_grad.module
    theta = np.array([0.3, -0.2])
    eps = 1e-6
    for cm, y in ((first, y1), (second, y2)):
        ref = _poisson_reference(theta, x, y)
        lp, grad = cm.logp_and_grad(theta)
        np.testing.assert_allclose(lp, ref, rtol=1e-12)
        fd = [(_poisson_reference(theta + eps * e, x, y)
               - _poisson_reference(theta - eps * e, x, y)) / (2 * eps) for e in np.eye(2)]
        np.testing.assert_allclose(grad, fd, rtol=1e-6)
        for pointer in [cm.data_pointer, *cm.data_pointers(3)]:
            g = np.empty(2)
            status, lp_c = logp_grad(cm.logp_grad_address, pointer, theta, g)
            assert status == 0 and lp_c == lp and np.array_equal(g, grad)
