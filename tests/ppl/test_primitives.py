"""Primitives: sample, deterministic, factor, param, plate, subsample, and their errors.

Oracles: SciPy's densities for log-densities, shape arithmetic for plates, NumPyro's documented
behaviour for scales, dims and site types.
"""

import numpy as np
import pytest
from scipy import stats

import autodiff
import ppl
from ppl import dist, handlers, runtime
from ppl.errors import (
    DuplicateSiteError,
    MissingSeedError,
    ObservedValueError,
    PlateError,
    ShapeError,
    SiteError,
)


@pytest.fixture(autouse=True)
def _stack_is_left_empty():
    yield
    leaked = list(runtime._STACK)
    runtime._STACK.clear()
    assert not leaked, f"handlers left on the stack: {leaked}"


def run(model, *args, seed=0, **kwargs):
    return handlers.trace(handlers.seed(model, seed)).get_trace(*args, **kwargs)


# ------------------------------------------------------------------------------------------
# sample
# ------------------------------------------------------------------------------------------


def test_sample_without_seed_names_the_site_and_the_fix():
    with pytest.raises(MissingSeedError) as err:
        ppl.sample("tau", dist.HalfCauchy(5.0))
    message = str(err.value)
    assert message.startswith("site 'tau': needs a random seed")
    assert "handlers.seed(model, 0)" in message


def test_sample_draws_from_the_distribution_under_seed():
    with handlers.seed(rng_seed=3):
        x = ppl.sample("x", dist.Normal(2.0, 0.5), sample_shape=(4000,))
    # mean within 4 Monte Carlo standard errors, sd within 4 s.e. of the sd (approx sd/sqrt(2n))
    assert abs(x.mean() - 2.0) < 4 * 0.5 / np.sqrt(4000)
    assert abs(x.std() - 0.5) < 4 * 0.5 / np.sqrt(2 * 4000)


def test_observed_sample_returns_data_and_is_observed():
    y = np.array([1.0, 2.0])
    tr = handlers.trace(lambda: ppl.sample("y", dist.Normal(0.0, 1.0), obs=y)).get_trace()
    assert tr["y"].is_observed and tr["y"].value is y
    assert tr["y"].type == "sample"


@pytest.mark.parametrize(
    "fn, text",
    [(dist.Normal, "got the class Normal"), (3.0, "expected a distribution, got float")],
)
def test_sample_rejects_non_distributions(fn, text):
    with pytest.raises(SiteError, match=text):
        ppl.sample("x", fn)


def test_sample_rejects_a_non_string_name():
    with pytest.raises(TypeError, match="site name must be a non-empty str"):
        ppl.sample(dist.Normal(0.0, 1.0), 1.0)


def test_sample_shape_without_plates_gives_leading_draw_dims():
    tr = run(lambda: ppl.sample("x", dist.Normal(np.zeros(3), 1.0), sample_shape=(2,)))
    assert tr["x"].value.shape == (2, 3)
    assert tr["x"].fn.batch_shape == (3,)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_observed_data_is_an_error_naming_the_site(bad):
    y = np.array([0.0, 1.0, bad, 2.0])
    with pytest.raises(ObservedValueError) as err:
        ppl.sample("y", dist.Normal(0.0, 1.0), obs=y)
    assert "site 'y'" in str(err.value)
    assert "index (2,)" in str(err.value)
    assert "obs_mask" in str(err.value)


def test_observed_value_shape_mismatch_prints_both_shapes():
    def model():
        with ppl.plate("data", 5):
            ppl.sample("y", dist.Normal(0.0, 1.0), obs=np.zeros(3))

    with pytest.raises(ShapeError) as err:
        run(model)
    assert "(3,)" in str(err.value) and "(5,)" in str(err.value) and "'data'" in str(err.value)


def test_duplicate_site_names_are_an_error_naming_the_site():
    def model():
        ppl.sample("x", dist.Normal(0.0, 1.0))
        ppl.deterministic("x", 1.0)

    with pytest.raises(DuplicateSiteError, match="site 'x': the name is used twice"):
        run(model)


# ------------------------------------------------------------------------------------------
# deterministic, factor, param
# ------------------------------------------------------------------------------------------


def test_deterministic_returns_value_and_is_recorded():
    assert ppl.deterministic("d", 5.0) == 5.0

    def model():
        x = ppl.sample("x", dist.Normal(0.0, 1.0))
        return ppl.deterministic("d", 2 * x)

    tr = run(model)
    assert tr["d"].type == "deterministic"
    assert tr["d"].value == 2 * tr["x"].value
    assert list(tr) == ["x", "d"]


def test_factor_adds_its_term_to_the_log_density():
    def model():
        x = ppl.sample("x", dist.Normal(0.0, 1.0))
        with ppl.plate("n", 3):
            ppl.factor("f", np.array([0.5, -1.0, 2.0]) * x)

    lp, tr = handlers.log_density(model, params={"x": 0.7})
    assert tr["f"].is_observed and tr["f"].fn.batch_shape == (3,)
    expected = stats.norm.logpdf(0.7) + 1.5 * 0.7
    assert np.isclose(lp, expected, rtol=1e-12)


def test_param_without_handlers_returns_init_and_is_substitutable():
    assert ppl.param("p", 1.5) == 1.5

    def model():
        return ppl.param("p", np.ones(2), constraint=ppl.constraints.positive)

    tr = handlers.trace(model).get_trace()
    assert tr["p"].type == "param" and np.all(tr["p"].value == 1.0)
    assert tr["p"].kwargs["constraint"] is ppl.constraints.positive
    assert handlers.substitute(model, {"p": 3.0})() == 3.0


def test_param_with_callable_init_needs_and_uses_the_seed():
    def model():
        return ppl.param("p", lambda rng: rng.normal(size=2))

    first, second = handlers.seed(model, 1)(), handlers.seed(model, 1)()
    assert first.shape == (2,) and np.all(first == second)
    with pytest.raises(SiteError, match="site 'p'"):
        model()


# ------------------------------------------------------------------------------------------
# plate
# ------------------------------------------------------------------------------------------


def test_plate_broadcasts_a_scalar_distribution_and_records_the_frame():
    def model():
        with ppl.plate("data", 4) as idx:
            assert np.all(idx == np.arange(4))
            return ppl.sample("x", dist.Normal(0.0, 1.0))

    tr = run(model)
    assert tr["x"].value.shape == (4,)
    assert tr["x"].fn.batch_shape == (4,)
    assert tr["x"].cond_indep_stack == [runtime.CondIndepStackFrame("data", -1, 4)]
    assert tr["data"].type == "plate" and np.all(tr["data"].value == np.arange(4))
    assert tr["x"].scale is None


def test_nested_plates_allocate_dims_right_to_left():
    def model():
        with ppl.plate("outer", 2):
            with ppl.plate("inner", 3):
                return ppl.sample("x", dist.Normal(0.0, 1.0))

    tr = run(model)
    assert tr["x"].value.shape == (3, 2)
    dims = {f.name: f.dim for f in tr["x"].cond_indep_stack}
    assert dims == {"outer": -1, "inner": -2}
    assert tr["x"].plates == ("inner", "outer")  # innermost first


def test_nested_plates_with_explicit_dims():
    def model():
        with ppl.plate("rows", 3, dim=-2):
            with ppl.plate("cols", 4, dim=-1):
                return ppl.sample("x", dist.Normal(0.0, 1.0))

    assert run(model)["x"].value.shape == (3, 4)


def test_plate_keeps_the_distributions_own_batch_dims_on_the_left():
    def model():
        with ppl.plate("n", 5):
            return ppl.sample("x", dist.Normal(np.zeros((2, 1)), 1.0))

    assert run(model)["x"].fn.batch_shape == (2, 5)


def test_sample_shape_is_folded_into_the_plate_batch_shape():
    def model():
        with ppl.plate("n", 5):
            return ppl.sample("x", dist.Normal(0.0, 1.0), sample_shape=(2, 1))

    tr = run(model)
    assert tr["x"].fn.batch_shape == (2, 5) and tr["x"].value.shape == (2, 5)


def test_plate_shape_mismatch_prints_both_shapes_and_the_plate_names():
    def model():
        with ppl.plate("school", 8):
            ppl.sample("theta", dist.Normal(np.zeros(3), 1.0))

    with pytest.raises(ShapeError) as err:
        run(model)
    message = str(err.value)
    assert message.startswith("site 'theta': batch shape (3,)")
    assert "'school' (size 8, dim -1)" in message and "(8,)" in message


def test_plate_dim_already_used_is_an_error_naming_both_plates():
    def model():
        with ppl.plate("a", 2, dim=-1):
            with ppl.plate("b", 3, dim=-1):
                pass

    with pytest.raises(PlateError, match="plate 'b': dim -1 is already used by .* plate 'a'"):
        run(model)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"size": 0}, "size must be a positive int"),
        ({"size": 2.5}, "size must be a positive int"),
        ({"size": 3, "subsample_size": 4}, "subsample_size must be an int in"),
        ({"size": 3, "dim": 0}, "dim must be a negative int"),
    ],
)
def test_plate_argument_errors(kwargs, text):
    with pytest.raises(PlateError, match=text):
        ppl.plate("p", **kwargs)


def test_subsampling_draws_distinct_indices_and_scales_the_log_density():
    data = np.linspace(-1.0, 1.0, 10)

    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("data", 10, subsample_size=4) as idx:
            ppl.sample("y", dist.Normal(mu, 1.0), obs=data[idx])

    tr = run(model, seed=5)
    idx = tr["data"].value
    assert idx.shape == (4,) and len(set(idx.tolist())) == 4 and idx.min() >= 0 and idx.max() < 10
    assert np.all(run(model, seed=5)["data"].value == idx)  # reproducible under the seed
    assert tr["y"].scale == 10 / 4 and tr["mu"].scale is None
    mu = tr["mu"].value
    expected = stats.norm.logpdf(mu) + 2.5 * stats.norm.logpdf(data[idx], mu).sum()
    assert np.isclose(runtime.trace_log_density(tr), expected, rtol=1e-12)


def test_subsampled_plate_without_seed_needs_one():
    with pytest.raises(MissingSeedError, match="plate 'data': needs a random seed to draw 3 of 10"):
        ppl.plate("data", 10, subsample_size=3)


def test_subsample_and_param_event_dim_follow_the_plate_indices():
    x = np.arange(20.0).reshape(10, 2)

    def model():
        with ppl.plate("n", 10, subsample_size=3, dim=-1) as idx:
            rows = ppl.subsample(x, event_dim=1)
            p = ppl.param("p", np.arange(10.0), event_dim=0)
        return idx, rows, p

    idx, rows, p = handlers.seed(model, 2)()
    assert np.all(rows == x[idx]) and np.all(p == idx)


def test_subsample_with_a_wrong_size_is_a_shape_error():
    def model():
        with ppl.plate("n", 10, subsample_size=3):
            ppl.subsample(np.arange(7.0), event_dim=0)

    with pytest.raises(ShapeError, match="size 10 of plate 'n'"):
        handlers.seed(model, 0)()


# ------------------------------------------------------------------------------------------
# obs_mask
# ------------------------------------------------------------------------------------------


def _masked_model(y, keep):
    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("n", len(y)):
            return ppl.sample("y", dist.Normal(mu, 2.0), obs=y, obs_mask=keep)

    return model


def test_obs_mask_splits_the_site_and_imputes_the_missing_entries():
    y = np.array([0.5, np.nan, -1.0, np.nan])
    keep = np.isfinite(y)
    tr = run(_masked_model(y, keep))
    assert tr["y_observed"].is_observed and not tr["y_unobserved"].is_observed
    assert tr["y"].type == "deterministic"
    imputed = tr["y_unobserved"].value
    assert imputed.shape == (2,)  # the missing entries only: no flat directions
    value = tr["y"].value
    assert np.all(value[keep] == y[keep]) and np.all(value[~keep] == imputed)
    # The log-density counts the observed entries once and the imputed entries once.
    mu = tr["mu"].value
    expected = (
        stats.norm.logpdf(mu)
        + stats.norm.logpdf(y[keep], mu, 2.0).sum()
        + stats.norm.logpdf(imputed, mu, 2.0).sum()
    )
    assert np.isclose(runtime.trace_log_density(tr), expected, rtol=1e-12)


def test_obs_mask_with_nan_data_keeps_gradients_finite():
    y = np.array([0.5, np.nan, -1.0])
    keep = np.isfinite(y)
    model = _masked_model(y, keep)

    def logp(mu):
        return handlers.log_density(model, params={"mu": mu, "y_unobserved": np.zeros(1)})[0]

    grad = autodiff.grad(logp)(0.3)
    # d/dmu [log N(mu|0,1) + sum_obs log N(y|mu,2) + log N(0|mu,2)] at mu = 0.3
    expected = -0.3 + ((y[keep] - 0.3) / 4).sum() + (0.0 - 0.3) / 4
    assert np.isfinite(grad) and np.isclose(grad, expected, rtol=1e-12)


def test_obs_mask_compiles_with_finite_gradients_and_imputes_under_nuts():
    """y_i ~ N(mu, 2^2), mu ~ N(0, 1), two of five entries missing (NaN): the posterior of mu
    is conjugate on the three observed entries, and each imputed entry is mu plus N(0, 4)
    noise. Tolerances: 5 Monte Carlo standard errors."""
    from inference import MCMC, NUTS
    from inference.diagnostics import mcse_mean
    from ppl.model import compile_model

    y = np.array([0.5, np.nan, -1.0, np.nan, 2.0])
    keep = np.isfinite(y)
    model = _masked_model(y, keep)
    compiled = compile_model(model)
    assert compiled.site_names == ["mu", "y_unobserved"] and compiled.dim == 3
    lp, grad = compiled.logp_and_grad(np.array([0.3, 1.0, -1.0]))
    assert np.isfinite(lp) and np.all(np.isfinite(grad))
    mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=2000, num_chains=2, progress_bar=False)
    mcmc.run(0)
    draws = mcmc.get_samples(group_by_chain=True)
    precision = 1.0 + keep.sum() / 4.0
    mean = np.nansum(y) / 4.0 / precision
    assert abs(draws["mu"].mean() - mean) < 5 * mcse_mean(draws["mu"])
    imputed = draws["y_unobserved"]
    assert abs(imputed.mean() - mean) < 5 * float(np.max(mcse_mean(imputed)))
    # the variance of ~2000 effective draws of a variance-4.6 entry has an SE of about 0.15
    assert abs(imputed.reshape(-1, 2).var(0).mean() - (1 / precision + 4.0)) < 0.75
    assert draws["y"].shape[-1] == 5


# ------------------------------------------------------------------------------------------
# the stack is cleaned up when a model raises
# ------------------------------------------------------------------------------------------


def test_stack_is_empty_after_a_model_raises_and_a_second_run_works():
    calls = []

    def model(fail):
        calls.append(fail)
        with ppl.plate("n", 2):
            x = ppl.sample("x", dist.Normal(0.0, 1.0))
            if fail:
                raise RuntimeError("boom")
        return x

    wrapped = handlers.trace(handlers.seed(handlers.scale(model, 2.0), 0))
    with pytest.raises(RuntimeError, match="boom"):
        wrapped(True)
    assert runtime._STACK == []
    tr = wrapped.get_trace(False)
    assert runtime._STACK == [] and tr["x"].value.shape == (2,) and tr["x"].scale == 2.0


def test_obs_mask_of_lower_rank_aligns_with_the_rightmost_batch_dims():
    y = np.array([[0.5, np.nan, 1.0], [2.0, np.nan, -1.0]])
    keep = np.array([True, False, True])  # the middle column is missing in every row

    def model():
        with ppl.plate("cols", 3, dim=-1), ppl.plate("rows", 2, dim=-2):
            return ppl.sample("y", dist.Normal(0.0, 1.0), obs=y, obs_mask=keep)

    value = handlers.seed(model, 0)()
    assert value.shape == (2, 3) and np.all(value[:, keep] == y[:, keep])
    with pytest.raises(ObservedValueError, match=r"index \(0, 1\)"):
        ppl.sample("y", dist.Normal(0.0, 1.0), obs=y, obs_mask=np.ones(3, dtype=bool))


def test_obs_mask_imputations_feed_predictive_draw_by_draw():
    from inference import Predictive

    y = np.array([0.5, np.nan, -1.0, np.nan, 2.0])
    keep = np.isfinite(y)
    samples = {"mu": np.linspace(-1, 1, 50), "y_unobserved": np.arange(100.0).reshape(50, 2)}
    draws = Predictive(_masked_model(y, keep), posterior_samples=samples)(0)
    np.testing.assert_array_equal(draws["y"][:, ~keep], samples["y_unobserved"])
    np.testing.assert_array_equal(draws["y"][:, keep], np.broadcast_to(y[keep], (50, 3)))
    assert draws["y_observed"].shape == (50, 5)
