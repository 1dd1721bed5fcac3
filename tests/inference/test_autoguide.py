"""Autoguides (inference/autoguide.py) against hand-computed densities, SciPy and exact posteriors.

Eager checks: the guide's sites, shapes and supports under seed + trace; its log density against
SciPy's normal densities minus hand-written log-Jacobians; sample_posterior moments (Monte Carlo
tolerances in standard errors, fixed seeds); median, quantiles and get_posterior against their
closed forms; the Laplace approximation at the exact MAP of a logistic regression against the
analytic inverse Hessian. Fitting checks (SVI): conjugate and linear-Gaussian models, whose
posteriors (and mean-field optima) are known exactly, a SciPy MAP, and the analytic Laplace
approximation.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize, stats
from scipy.special import expit, logit

import autodiff
import inference
import ppl
from inference import SVI, Trace_ELBO, autoguide, optim
from inference.autoguide import (
    AutoDelta,
    AutoDiagonalNormal,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from ppl import dist, handlers, runtime
from ppl.errors import ModelError, SiteError

ALL = [AutoNormal, AutoDiagonalNormal, AutoMultivariateNormal, AutoLowRankMultivariateNormal,
       AutoDelta, AutoLaplaceApproximation]
CONTINUOUS = [AutoDiagonalNormal, AutoMultivariateNormal, AutoLowRankMultivariateNormal,
              AutoLaplaceApproximation]
Y = np.array([0.3, 1.2, -0.4, 2.1, 0.8])


def model(y):
    """Sites of every kind of bijector: identity, exp, interval, simplex, and a plate."""
    mu = ppl.sample("mu", dist.Normal(0.0, 3.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    rate = ppl.sample("rate", dist.Uniform(1.0, 3.0))
    ppl.sample("p", dist.Dirichlet(np.ones(3)))
    with ppl.plate("groups", 4):
        ppl.sample("theta", dist.Beta(2.0, 2.0))
    with ppl.plate("n", len(y)):
        ppl.sample("y", dist.Normal(mu, sigma * rate), obs=y)


SHAPES = {"mu": (), "sigma": (), "rate": (), "p": (3,), "theta": (4,)}
SUPPORTS = {"mu": dist.Normal(0.0, 1.0).support, "sigma": dist.HalfNormal(1.0).support,
            "rate": dist.Uniform(1.0, 3.0).support, "p": dist.Dirichlet(np.ones(3)).support,
            "theta": dist.Beta(2.0, 2.0).support}


def scalar_model(y):
    """Elementwise bijectors only: identity, exp, interval (1, 3), and logit in a plate."""
    mu = ppl.sample("mu", dist.Normal(0.0, 3.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    rate = ppl.sample("rate", dist.Uniform(1.0, 3.0))
    with ppl.plate("groups", 4):
        ppl.sample("theta", dist.Beta(2.0, 2.0))
    with ppl.plate("n", len(y)):
        ppl.sample("y", dist.Normal(mu, sigma * rate), obs=y)


# The unconstrained value u of each site of scalar_model, in layout order (mu, sigma, rate,
# theta[0..3]), its constrained value T(u) and log|dT/du|, written by hand.
def constrain(u):
    u = np.asarray(u, dtype=float)
    return {"mu": u[..., 0], "sigma": np.exp(u[..., 1]), "rate": 1.0 + 2.0 * expit(u[..., 2]),
            "theta": expit(u[..., 3:7])}


def unconstrain(values):
    return np.concatenate([
        np.stack([values["mu"], np.log(values["sigma"]), logit((values["rate"] - 1.0) / 2.0)],
                 axis=-1),
        logit(values["theta"])], axis=-1)


def log_abs_det_jacobian(u):
    s = expit(u[2:])
    return u[1] + np.log(2.0) + np.sum(np.log(s * (1.0 - s)))


def setup(guide, y=Y, seed=0):
    """Run the guide once (its prototype) and return its trace."""
    return handlers.trace(handlers.seed(guide, seed)).get_trace(y)


def run_with(guide, params, seed=1, y=Y):
    return handlers.trace(handlers.seed(handlers.substitute(guide, data=params), seed)
                          ).get_trace(y)


def guide_log_density(trace):
    return float(runtime.trace_log_density(trace))


def within_mc_error(samples, expected, n_se=4.5):
    """|sample mean - expected| < n_se standard errors (elementwise, over axis 0)."""
    mean = samples.mean(0)
    se = samples.std(0) / np.sqrt(samples.shape[0])
    assert np.all(np.abs(mean - expected) < n_se * se + 1e-12), (mean, expected, se)


RNG = np.random.default_rng(20261203)
LOC = RNG.normal(size=7) * 0.5
SCALE = RNG.uniform(0.2, 0.8, size=7)
A = RNG.normal(size=(7, 7)) * 0.3
SCALE_TRIL = np.tril(A, -1) + np.diag(SCALE)
COV_FACTOR = RNG.normal(size=(7, 2))


# ---- the guide's sites ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_guide_samples_every_latent_site_with_its_shape_and_support(cls):
    guide = cls(model)
    assert guide.prototype_trace is None  # set up lazily, by the first call
    trace = setup(guide)
    assert guide.prototype_trace is not None
    for name, shape in SHAPES.items():
        site = trace[name]
        assert site.type == "sample" and not site.is_observed
        assert np.shape(site.value) == shape, name
        assert np.all(SUPPORTS[name].check(np.asarray(site.value))), name
    assert "y" not in trace  # the guide's own model run is hidden (block)
    params = [n for n, s in trace.items() if s.type == "param"]
    if cls in (AutoNormal, AutoDelta):
        assert "mu_auto_loc" in params and ("sigma_auto_scale" in params) == (cls is AutoNormal)
    else:
        assert "auto_loc" in params
        latent = trace["_auto_latent"]
        assert latent.infer == {"is_auxiliary": True} and np.shape(latent.value) == (9,)  # 3 + 2 (simplex) + 4


def test_param_names_and_shapes_follow_numpyro():
    def names(cls, **kw):
        trace = setup(cls(model, prefix="q", **kw))
        return {n: np.shape(s.value) for n, s in trace.items() if s.type == "param"}

    assert names(AutoNormal) == {
        "mu_q_loc": (), "mu_q_scale": (), "sigma_q_loc": (), "sigma_q_scale": (),
        "rate_q_loc": (), "rate_q_scale": (), "p_q_loc": (2,), "p_q_scale": (2,),
        "theta_q_loc": (4,), "theta_q_scale": (4,)}
    assert names(AutoDelta) == {"mu_q_loc": (), "sigma_q_loc": (), "rate_q_loc": (),
                                "p_q_loc": (3,), "theta_q_loc": (4,)}
    assert names(AutoDiagonalNormal) == {"q_loc": (9,), "q_scale": (9,)}
    assert names(AutoMultivariateNormal) == {"q_loc": (9,), "q_scale_tril": (9, 9)}
    assert names(AutoLowRankMultivariateNormal) == {"q_loc": (9,), "q_cov_factor": (9, 3),
                                                    "q_scale": (9,)}
    assert names(AutoLowRankMultivariateNormal, rank=2)["q_cov_factor"] == (9, 2)
    assert names(AutoLaplaceApproximation) == {"q_loc": (9,)}


def test_initial_scales_and_constraints():
    trace = setup(AutoNormal(model, init_scale=0.25))
    assert_allclose(trace["p_auto_scale"].value, 0.25)
    assert trace["p_auto_scale"].kwargs["constraint"] is ppl.constraints.softplus_positive
    trace = setup(AutoMultivariateNormal(model, init_scale=0.3))
    assert_allclose(trace["auto_scale_tril"].value, 0.3 * np.eye(9))
    assert trace["auto_scale_tril"].kwargs["constraint"] is ppl.constraints.lower_cholesky
    trace = setup(AutoDelta(model))
    assert trace["p_auto_loc"].kwargs["constraint"] is ppl.constraints.simplex
    assert trace["theta_auto_loc"].kwargs["constraint"] is ppl.constraints.unit_interval


# ---- the guide's log density ------------------------------------------------------------------


def test_auto_diagonal_normal_log_density_vs_scipy():
    guide = AutoDiagonalNormal(scalar_model)
    setup(guide)
    trace = run_with(guide, {"auto_loc": LOC, "auto_scale": SCALE})
    u = np.asarray(trace["_auto_latent"].value)
    expected = np.sum(stats.norm.logpdf(u, LOC, SCALE)) - log_abs_det_jacobian(u)
    assert_allclose(guide_log_density(trace), expected, rtol=1e-12)
    for name, value in constrain(u).items():
        assert_allclose(trace[name].value, value, rtol=1e-12)


def test_auto_normal_log_density_vs_scipy():
    guide = AutoNormal(scalar_model)
    setup(guide)
    sites = ["mu", "sigma", "rate", "theta"]
    slices = [slice(0, 1), slice(1, 2), slice(2, 3), slice(3, 7)]
    params = {}
    for name, sl in zip(sites, slices):
        params[f"{name}_auto_loc"] = LOC[sl].reshape(SHAPES[name])
        params[f"{name}_auto_scale"] = SCALE[sl].reshape(SHAPES[name])
    trace = run_with(guide, params)
    u = unconstrain({n: np.asarray(trace[n].value) for n in sites})
    expected = np.sum(stats.norm.logpdf(u, LOC, SCALE)) - log_abs_det_jacobian(u)
    assert_allclose(guide_log_density(trace), expected, rtol=1e-10)


def test_auto_multivariate_normal_log_density_vs_scipy():
    guide = AutoMultivariateNormal(scalar_model)
    setup(guide)
    trace = run_with(guide, {"auto_loc": LOC, "auto_scale_tril": SCALE_TRIL})
    u = np.asarray(trace["_auto_latent"].value)
    mvn = stats.multivariate_normal(LOC, SCALE_TRIL @ SCALE_TRIL.T)
    assert_allclose(guide_log_density(trace), mvn.logpdf(u) - log_abs_det_jacobian(u),
                    rtol=1e-12)


def test_auto_low_rank_log_density_vs_scipy():
    guide = AutoLowRankMultivariateNormal(scalar_model, rank=2)
    setup(guide)
    trace = run_with(guide, {"auto_loc": LOC, "auto_cov_factor": COV_FACTOR,
                             "auto_scale": SCALE})
    u = np.asarray(trace["_auto_latent"].value)
    W = SCALE[:, None] * COV_FACTOR
    mvn = stats.multivariate_normal(LOC, W @ W.T + np.diag(SCALE**2))
    assert_allclose(guide_log_density(trace), mvn.logpdf(u) - log_abs_det_jacobian(u),
                    rtol=1e-12)


def test_auto_delta_is_a_point_mass_at_its_params():
    guide = AutoDelta(scalar_model)
    setup(guide)
    values = {"mu": 0.4, "sigma": 1.3, "rate": 2.5, "theta": np.array([0.1, 0.5, 0.7, 0.9])}
    trace = run_with(guide, {f"{k}_auto_loc": v for k, v in values.items()})
    for name, value in values.items():
        assert_allclose(trace[name].value, value)
        assert isinstance(trace[name].fn, dist.Delta)
    assert guide_log_density(trace) == 0.0


# ---- sample_posterior, median, quantiles --------------------------------------------------------


def _draw_unconstrained(guide, params, n=40000):
    draws = guide.sample_posterior(3, params, Y, sample_shape=(n,))
    assert {k: v.shape for k, v in draws.items()} == {
        "mu": (n,), "sigma": (n,), "rate": (n,), "theta": (n, 4)}
    assert np.all(draws["sigma"] > 0) and np.all((draws["rate"] > 1) & (draws["rate"] < 3))
    assert np.all((draws["theta"] > 0) & (draws["theta"] < 1))
    return unconstrain(draws)


@pytest.mark.parametrize("cls", [AutoNormal, AutoDiagonalNormal], ids=lambda c: c.__name__)
def test_sample_posterior_moments_mean_field(cls):
    guide = cls(scalar_model)
    setup(guide)
    if cls is AutoDiagonalNormal:
        params = {"auto_loc": LOC, "auto_scale": SCALE}
    else:
        params = {"mu_auto_loc": LOC[0], "mu_auto_scale": SCALE[0], "sigma_auto_loc": LOC[1],
                  "sigma_auto_scale": SCALE[1], "rate_auto_loc": LOC[2],
                  "rate_auto_scale": SCALE[2], "theta_auto_loc": LOC[3:],
                  "theta_auto_scale": SCALE[3:]}
    u = _draw_unconstrained(guide, params)
    within_mc_error(u, LOC)
    within_mc_error((u - LOC) ** 2, SCALE**2)


W_EFF = SCALE[:, None] * COV_FACTOR  # the low-rank guide's W = diag(scale) cov_factor
FLAT_GUIDES = {  # params and the covariance of u they give
    AutoDiagonalNormal: ({"auto_loc": LOC, "auto_scale": SCALE}, np.diag(SCALE**2)),
    AutoMultivariateNormal: ({"auto_loc": LOC, "auto_scale_tril": SCALE_TRIL},
                             SCALE_TRIL @ SCALE_TRIL.T),
    AutoLowRankMultivariateNormal: (
        {"auto_loc": LOC, "auto_cov_factor": COV_FACTOR, "auto_scale": SCALE},
        W_EFF @ W_EFF.T + np.diag(SCALE**2)),
}


@pytest.mark.parametrize("cls", [AutoMultivariateNormal, AutoLowRankMultivariateNormal],
                         ids=lambda c: c.__name__)
def test_sample_posterior_moments_full_covariance(cls):
    guide = cls(scalar_model, rank=2) if cls is AutoLowRankMultivariateNormal else \
        cls(scalar_model)
    setup(guide)
    params, cov = FLAT_GUIDES[cls]
    assert_allclose(guide.get_posterior(params).covariance_matrix, cov, rtol=1e-12)
    u = _draw_unconstrained(guide, params)
    within_mc_error(u, LOC)
    centred = u - LOC
    within_mc_error(centred[:, :, None] * centred[:, None, :], cov)


@pytest.mark.parametrize("cls", list(FLAT_GUIDES), ids=lambda c: c.__name__)
def test_median_and_quantiles_are_normal_quantiles_pushed_through_the_bijectors(cls):
    guide = cls(scalar_model, rank=2) if cls is AutoLowRankMultivariateNormal else \
        cls(scalar_model)
    setup(guide)
    params, cov = FLAT_GUIDES[cls]
    for name, value in guide.median(params).items():
        assert_allclose(value, constrain(LOC)[name], rtol=1e-12)
    q = np.array([0.05, 0.5, 0.9])
    expected = constrain(stats.norm.ppf(q[:, None], LOC, np.sqrt(np.diag(cov))))
    got = guide.quantiles(params, q)
    for name in expected:
        assert got[name].shape == (3,) + SHAPES[name]
        assert_allclose(got[name], expected[name], rtol=1e-10)


def test_auto_normal_median_and_quantiles():
    guide = AutoNormal(scalar_model)
    setup(guide)
    params = {"mu_auto_loc": 0.3, "mu_auto_scale": 0.2, "sigma_auto_loc": -0.5,
              "sigma_auto_scale": 0.4, "rate_auto_loc": 1.0, "rate_auto_scale": 0.3,
              "theta_auto_loc": LOC[3:], "theta_auto_scale": SCALE[3:]}
    median = guide.median(params)
    assert_allclose([median["mu"], median["sigma"], median["rate"]],
                    [0.3, np.exp(-0.5), 1.0 + 2.0 * expit(1.0)], rtol=1e-12)
    assert_allclose(median["theta"], expit(LOC[3:]), rtol=1e-12)
    q = np.array([0.1, 0.75])
    got = guide.quantiles(params, q)
    assert_allclose(got["sigma"], np.exp(stats.norm.ppf(q, -0.5, 0.4)), rtol=1e-12)
    assert_allclose(got["theta"], expit(stats.norm.ppf(q[:, None], LOC[3:], SCALE[3:])),
                    rtol=1e-12)


def test_auto_delta_posterior_is_the_point_with_deterministic_sites():
    def det_model(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 3.0))
        sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
        ppl.deterministic("snr", mu / sigma)
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(mu, sigma), obs=y)

    guide = AutoDelta(det_model)
    setup(guide)
    params = {"mu_auto_loc": np.array(1.5), "sigma_auto_loc": np.array(0.5)}
    draws = guide.sample_posterior(0, params, Y, sample_shape=(4, 2))
    assert_allclose(draws["mu"], np.full((4, 2), 1.5))
    assert_allclose(draws["snr"], np.full((4, 2), 3.0))
    assert guide.median(params) == {"mu": 1.5, "sigma": 0.5}
    assert_allclose(guide.quantiles(params, [0.1, 0.9])["sigma"], [0.5, 0.5])


def test_get_transform_and_base_dist():
    guide = AutoMultivariateNormal(scalar_model)
    setup(guide)
    params = {"auto_loc": LOC, "auto_scale_tril": SCALE_TRIL}
    eps = RNG.normal(size=(5, 7))
    t = guide.get_transform(params)
    assert_allclose(t(eps), LOC + eps @ SCALE_TRIL.T, rtol=1e-12)
    assert_allclose(t.inverse(t(eps)), eps, rtol=1e-10, atol=1e-12)
    assert_allclose(t.log_abs_det_jacobian(eps, t(eps)), np.sum(np.log(SCALE)), rtol=1e-12)
    base = guide.get_base_dist()
    assert base.event_shape == (7,) and base.batch_shape == ()
    diag = AutoDiagonalNormal(scalar_model)
    setup(diag)
    t = diag.get_transform({"auto_loc": LOC, "auto_scale": SCALE})
    assert_allclose(t(eps), LOC + SCALE * eps, rtol=1e-12)
    posterior = diag.get_posterior({"auto_loc": LOC, "auto_scale": SCALE})
    assert posterior.batch_shape == (7,)


# ---- the Laplace approximation ------------------------------------------------------------------

N_LR, D_LR, PRIOR_SD = 60, 3, 2.0
X_LR = np.random.default_rng(11).normal(size=(N_LR, D_LR))
Y_LR = (np.random.default_rng(12).uniform(size=N_LR)
        < expit(X_LR @ np.array([1.0, -2.0, 0.5]))).astype(float)


def logistic_model(X, y):
    beta = ppl.sample("beta", dist.Normal(np.zeros(X.shape[1]), PRIOR_SD).to_event(1))
    with ppl.plate("n", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=X @ beta), obs=y)


def logistic_map_and_hessian():
    """The MAP by SciPy on a hand-written NumPy log posterior, and the analytic Hessian of the
    negative log posterior there: X^T W X + I / prior_sd^2, W = diag(p (1 - p))."""
    def neg_log_post(b):
        eta = X_LR @ b
        return (np.sum(np.logaddexp(0.0, eta) - Y_LR * eta) + 0.5 * b @ b / PRIOR_SD**2)

    def grad(b):
        return X_LR.T @ (expit(X_LR @ b) - Y_LR) + b / PRIOR_SD**2

    res = optimize.minimize(neg_log_post, np.zeros(D_LR), jac=grad, method="BFGS",
                            options={"gtol": 1e-12})
    p = expit(X_LR @ res.x)
    return res.x, X_LR.T @ (X_LR * (p * (1 - p))[:, None]) + np.eye(D_LR) / PRIOR_SD**2


def test_laplace_posterior_at_the_exact_map_is_the_analytic_inverse_hessian():
    b_map, hessian = logistic_map_and_hessian()
    guide = AutoLaplaceApproximation(logistic_model)
    handlers.seed(guide, 0)(X_LR, Y_LR)  # set up (the model arguments are stored)
    posterior = guide.get_posterior({"auto_loc": b_map})
    assert isinstance(posterior, dist.MultivariateNormal)
    assert_allclose(posterior.loc, b_map)
    assert_allclose(posterior.precision_matrix, hessian, rtol=1e-10)
    assert_allclose(posterior.covariance_matrix, np.linalg.inv(hessian), rtol=1e-6)
    draws = guide.sample_posterior(0, {"auto_loc": b_map}, sample_shape=(20000,))["beta"]
    within_mc_error(draws, b_map)
    q = guide.quantiles({"auto_loc": b_map}, [0.025, 0.975])["beta"]
    sd = np.sqrt(np.diag(np.linalg.inv(hessian)))
    assert_allclose(q, b_map + np.outer([-1, 1], 1.959963984540054 * sd), rtol=1e-8)


def test_laplace_hessian_fn_is_used():
    b_map, hessian = logistic_map_and_hessian()
    guide = AutoLaplaceApproximation(
        logistic_model, hessian_fn=lambda f, x: autodiff.hessian(f)(x) + 0.5 * np.eye(len(x)))
    handlers.seed(guide, 0)(X_LR, Y_LR)
    posterior = guide.get_posterior({"auto_loc": b_map})
    assert_allclose(posterior.precision_matrix, hessian + 0.5 * np.eye(D_LR), rtol=1e-10)


def test_laplace_warns_on_a_hessian_that_is_not_positive_definite():
    def flat(y):
        ppl.sample("a", dist.Normal(0.0, 1.0))
        ppl.factor("up", 2.0 * ppl.sample("b", dist.Normal(0.0, 1.0)) ** 2)  # curvature +3

    guide = AutoLaplaceApproximation(flat)
    handlers.seed(guide, 0)(None)
    with pytest.warns(UserWarning, match="not positive definite"):
        posterior = guide.get_posterior({"auto_loc": np.zeros(2)})
    assert_allclose(posterior.scale_tril, 0.0)


# ---- initialisation, errors -------------------------------------------------------------------


def test_init_loc_fn_strategies():
    median = setup(AutoDiagonalNormal(scalar_model, init_loc_fn="median"))["auto_loc"].value
    assert abs(median[0]) < 1.5 and abs(median[3]) < 1.0  # prior medians: 0, logit(0.5) = 0
    values = {"sigma": 0.7, "theta": np.array([0.2, 0.4, 0.6, 0.8])}
    loc = setup(AutoDiagonalNormal(scalar_model, init_loc_fn=values))["auto_loc"].value
    assert_allclose(loc[1], np.log(0.7))
    assert_allclose(loc[3:], logit(values["theta"]))
    assert np.all(np.abs(loc[[0, 2]]) <= 2.0)  # the others uniform(-2, 2)
    delta = setup(AutoDelta(scalar_model, init_loc_fn=values))
    assert_allclose(delta["sigma_auto_loc"].value, 0.7)

    def init_to_one(site):
        return np.ones(site.fn.shape()) * (0.5 if site.name == "theta" else 1.5)

    trace = setup(AutoNormal(scalar_model, init_loc_fn=init_to_one))
    assert_allclose(trace["sigma_auto_loc"].value, np.log(1.5))
    assert_allclose(trace["theta_auto_loc"].value, 0.0, atol=1e-12)


def test_init_errors_name_the_problem():
    with pytest.raises(ValueError, match="init_loc_fn"):
        AutoNormal(model, init_loc_fn="middle")
    with pytest.raises(ModelError, match="sigmaa"):
        setup(AutoNormal(scalar_model, init_loc_fn={"sigmaa": 1.0}))
    with pytest.raises(ValueError, match="init_scale"):
        AutoDiagonalNormal(model, init_scale=0.0)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_discrete_latent_site_is_an_error_naming_it(cls):
    def mixture(y):
        ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.sample("z", dist.Bernoulli(0.3))

    with pytest.raises(SiteError, match="site 'z'.*discrete.*autoguides"):
        setup(cls(mixture))


def test_params_missing_or_guide_not_set_up():
    guide = AutoDiagonalNormal(scalar_model)
    with pytest.raises(RuntimeError, match="not been set up"):
        guide.median({"auto_loc": LOC})
    setup(guide)
    with pytest.raises(KeyError, match="auto_scale"):
        guide.quantiles({"auto_loc": LOC}, [0.5])


def test_subsampled_plates():
    def local(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("n", 10, subsample_size=4):
            z = ppl.sample("z", dist.LogNormal(mu, 1.0))
            ppl.sample("y", dist.Normal(z, 1.0), obs=ppl.subsample(y, event_dim=0))

    y = np.arange(10.0)
    guide = AutoNormal(local)
    trace = setup(guide, y=y)
    assert np.shape(trace["z_auto_loc"].value) == (10,)  # the param has the full size
    assert np.shape(trace["z"].value) == (4,) and np.all(trace["z"].value > 0)  # subsampled
    assert trace["n"].type == "plate" and np.shape(trace["n"].value) == (4,)
    with pytest.raises(SiteError, match="site 'z'.*subsampled plate 'n'"):
        setup(AutoDiagonalNormal(local), y=y)
    delta = AutoDelta(local)
    trace = setup(delta, y=y)
    assert np.shape(trace["z"].value) == (4,)


def test_exports():
    assert inference.autoguide is autoguide
    assert inference.autoguide.AutoNormal is inference.AutoNormal is AutoNormal
    for name in autoguide.__all__:
        assert name in inference.__all__


# ---- fitting with SVI ---------------------------------------------------------------------------


def test_auto_normal_fits_the_conjugate_normal_posterior():
    y = np.array([0.5, 1.5, 1.0, 2.0, 0.7, 1.1])

    def normal_model(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 2.0))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    precision = 1 / 4 + len(y)
    mean, sd = y.sum() / precision, precision**-0.5
    guide = AutoNormal(normal_model)
    svi = SVI(normal_model, guide, optim.Adam(optim.exponential_decay(0.02, 2000, 0.1)),
              Trace_ELBO(num_particles=16))
    params = svi.run(0, 6000, y, progress_bar=False).params
    assert abs(params["mu_auto_loc"] - mean) < 0.02 * sd
    assert abs(params["mu_auto_scale"] / sd - 1) < 0.02
    draws = guide.sample_posterior(1, params, y, sample_shape=(20000,))["mu"]
    within_mc_error(draws, mean)


@pytest.mark.parametrize("cls", [AutoNormal, AutoDiagonalNormal], ids=lambda c: c.__name__)
def test_a_positive_site_fits_its_exact_posterior_through_the_jacobian(cls):
    """x ~ LogNormal(0.5, 1), y_i ~ Normal(log x, 1): log x has the conjugate normal posterior,
    which the guide's normal on the unconstrained scale (u = log x) matches exactly only if the
    log-Jacobian of exp enters the ELBO once and with the right sign."""
    y = np.array([1.3, 0.2, 0.9, 1.6, 0.4])

    def lognormal_model(y):
        x = ppl.sample("x", dist.LogNormal(0.5, 1.0))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(np.log(x), 1.0), obs=y)

    precision = 1.0 + len(y)
    mean, sd = (0.5 + y.sum()) / precision, precision**-0.5
    guide = cls(lognormal_model)
    params = fit(guide, lognormal_model, y)
    key = "auto" if cls is AutoDiagonalNormal else "x_auto"
    assert abs(np.squeeze(params[f"{key}_loc"]) - mean) < 0.03 * sd
    assert abs(np.squeeze(params[f"{key}_scale"]) / sd - 1) < 0.03
    assert_allclose(np.squeeze(guide.median(params)["x"]), np.exp(np.squeeze(
        params[f"{key}_loc"])), rtol=1e-12)


N_REG, D_REG, NOISE, TAU = 30, 3, 0.8, 2.0
X_REG = np.random.default_rng(1).normal(size=(N_REG, D_REG))
Y_REG = X_REG @ np.array([1.0, -0.5, 0.3]) + NOISE * np.random.default_rng(2).normal(size=N_REG)
PREC_REG = X_REG.T @ X_REG / NOISE**2 + np.eye(D_REG) / TAU**2
COV_REG = np.linalg.inv(PREC_REG)
MEAN_REG = COV_REG @ X_REG.T @ Y_REG / NOISE**2


def regression(X, y):
    beta = ppl.sample("beta", dist.Normal(np.zeros(X.shape[1]), TAU).to_event(1))
    with ppl.plate("n", X.shape[0]):
        ppl.sample("y", dist.Normal(X @ beta, NOISE), obs=y)


def fit(guide, model_fn, *args, steps=6000):
    svi = SVI(model_fn, guide, optim.Adam(optim.exponential_decay(0.02, 2000, 0.1)),
              Trace_ELBO(num_particles=16))
    return svi.run(0, steps, *args, progress_bar=False).params


@pytest.mark.slow
def test_auto_multivariate_normal_recovers_the_exact_regression_posterior():
    guide = AutoMultivariateNormal(regression)
    posterior = guide.get_posterior(fit(guide, regression, X_REG, Y_REG))
    sd = np.sqrt(np.diag(COV_REG))
    assert np.all(np.abs(posterior.loc - MEAN_REG) < 0.05 * sd)
    assert_allclose(posterior.covariance_matrix / np.outer(sd, sd),
                    COV_REG / np.outer(sd, sd), atol=0.05)


@pytest.mark.parametrize("cls", [AutoDiagonalNormal, AutoNormal], ids=lambda c: c.__name__)
def test_mean_field_guides_reach_the_mean_field_optimum(cls):
    """For a Gaussian posterior N(m, P^-1) the best fully factorised Gaussian has mean m and
    variances 1 / diag(P) (Bishop 2006, section 10.1.2)."""
    guide = cls(regression)
    params = fit(guide, regression, X_REG, Y_REG)
    key = "auto" if cls is AutoDiagonalNormal else "beta_auto"
    sd = np.sqrt(np.diag(COV_REG))
    assert np.all(np.abs(params[f"{key}_loc"] - MEAN_REG) < 0.05 * sd)
    assert_allclose(params[f"{key}_scale"], 1 / np.sqrt(np.diag(PREC_REG)), rtol=0.03)


def test_auto_delta_finds_the_map():
    y = np.array([0.3, 1.2, -0.4, 2.1, 0.8, 1.7])

    def loc_scale(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 3.0))
        sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(mu, sigma), obs=y)

    def neg_log_post(x):  # in the constrained space: MAP of p(mu, sigma | y)
        mu, sigma = x
        if sigma <= 0:
            return np.inf
        return -(stats.norm.logpdf(mu, 0, 3) + stats.halfnorm.logpdf(sigma, scale=2)
                 + np.sum(stats.norm.logpdf(y, mu, sigma)))

    expected = optimize.minimize(neg_log_post, [0.5, 1.0], method="Nelder-Mead",
                                 options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000}).x
    guide = AutoDelta(loc_scale)
    params = SVI(loc_scale, guide, optim.Minimize(), Trace_ELBO()).run(
        0, 1, y, progress_bar=False).params
    assert_allclose([params["mu_auto_loc"], params["sigma_auto_loc"]], expected, rtol=1e-6)
    assert_allclose(guide.median(params)["sigma"], expected[1], rtol=1e-6)


def test_auto_laplace_fitted_equals_the_analytic_laplace_approximation():
    b_map, hessian = logistic_map_and_hessian()
    guide = AutoLaplaceApproximation(logistic_model)
    params = SVI(logistic_model, guide, optim.Minimize(options={"gtol": 1e-10}),
                 Trace_ELBO()).run(0, 1, X_LR, Y_LR, progress_bar=False).params
    posterior = guide.get_posterior(params)
    assert_allclose(posterior.loc, b_map, rtol=1e-6, atol=1e-8)
    assert_allclose(posterior.covariance_matrix, np.linalg.inv(hessian), rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_guide_runs_under_svi_on_every_kind_of_support(cls):
    """The compiled SVI step stages each guide with simplex, interval, positive and Cholesky
    sites; the losses stay finite and the fitted params give in-support posterior draws."""
    def mixed(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 3.0))
        sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
        p = ppl.sample("p", dist.Dirichlet(np.ones(3)))
        L = ppl.sample("L", dist.LKJCholesky(2, 2.0))
        with ppl.plate("groups", 4):
            theta = ppl.sample("theta", dist.Beta(2.0, 2.0))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(mu + p[0] + theta[0] + L[1, 0], sigma), obs=y)

    guide = cls(mixed)
    result = SVI(mixed, guide, optim.Adam(0.01), Trace_ELBO()).run(0, 300, Y,
                                                                   progress_bar=False)
    assert np.all(np.isfinite(result.losses))
    draws = guide.sample_posterior(0, result.params, Y, sample_shape=(10,))
    assert_allclose(draws["p"].sum(-1), 1.0, rtol=1e-12)
    assert np.all(draws["sigma"] > 0) and np.all((draws["theta"] > 0) & (draws["theta"] < 1))
    assert_allclose(np.sum(draws["L"] ** 2, -1), 1.0, rtol=1e-12)


def test_auto_normal_with_local_latents_in_a_subsampled_plate():
    """mu ~ N(0, 1), z_i ~ N(mu, 1), y_i ~ N(z_i, 0.5), 4 of 10 rows per step: the guide's
    full-size loc/scale are subsampled with the model's plate, and the fit reaches the exact
    posterior means and the mean-field scales 1 / sqrt(diag(precision))."""
    y = np.linspace(-1.0, 2.0, 10)

    def local(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("n", 10, subsample_size=4):
            z = ppl.sample("z", dist.Normal(mu, 1.0))
            ppl.sample("y", dist.Normal(z, 0.5), obs=ppl.subsample(y, event_dim=0))

    precision = np.zeros((11, 11))
    precision[0, 0], precision[0, 1:], precision[1:, 0] = 11.0, -1.0, -1.0
    precision[1:, 1:] = 5.0 * np.eye(10)
    mean = np.linalg.solve(precision, np.concatenate([[0.0], 4.0 * y]))
    guide = AutoNormal(local)
    params = SVI(local, guide, optim.Adam(optim.exponential_decay(0.02, 3000, 0.1)),
                 Trace_ELBO(num_particles=4)).run(0, 9000, y, progress_bar=False).params
    assert params["z_auto_loc"].shape == (10,)
    assert_allclose(params["z_auto_loc"], mean[1:], atol=0.03)
    assert abs(params["mu_auto_loc"] - mean[0]) < 0.03
    assert_allclose(params["mu_auto_scale"], 1 / np.sqrt(11.0), rtol=0.05)
    assert_allclose(params["z_auto_scale"], 1 / np.sqrt(5.0), rtol=0.05)
