"""Effect handlers alone and composed, against NumPyro's documented behaviour.

Oracles: SciPy densities for log-densities (scale, mask, reparam change of variables), exact
value identities for seed/substitute/replay/condition, Monte Carlo standard errors for the
one statistical check.
"""

from collections import OrderedDict

import numpy as np
import pytest
from scipy import stats

import ppl
from ppl import dist, handlers, runtime
from ppl.errors import MissingSeedError, SiteError, UnknownSiteError
from ppl.reparam import LocScaleReparam, TransformReparam
from ppl.transforms import AffineTransform, ExpTransform


@pytest.fixture(autouse=True)
def _stack_is_left_empty():
    yield
    leaked = list(runtime._STACK)
    runtime._STACK.clear()
    assert not leaked, f"handlers left on the stack: {leaked}"


def model_ab():
    a = ppl.sample("a", dist.Normal(0.0, 1.0))
    return ppl.sample("b", dist.Normal(a, 1.0))


def hierarchical(y=None):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("data", 3):
        theta = ppl.sample("theta", dist.Normal(mu, tau))
        ppl.sample("y", dist.Normal(theta, 1.0), obs=y)
    return theta


Y = np.array([1.0, -0.5, 2.0])


# ------------------------------------------------------------------------------------------
# trace
# ------------------------------------------------------------------------------------------


def test_trace_records_sites_in_order_with_their_fields():
    tr = handlers.trace(handlers.seed(hierarchical, 0)).get_trace(Y)
    assert isinstance(tr, OrderedDict)
    assert list(tr) == ["mu", "tau", "data", "theta", "y"]
    theta, y = tr["theta"], tr["y"]
    assert theta["type"] == "sample" and theta.type == "sample"
    assert isinstance(theta["fn"], dist.Distribution) and theta["fn"].batch_shape == (3,)
    assert theta["value"].shape == (3,) and not theta["is_observed"]
    assert y["is_observed"] and y["value"] is Y
    assert theta["scale"] is None and theta["mask"] is None
    assert theta.plates == ("data",) and tr["mu"].plates == ()
    assert dict(theta)["name"] == "theta"


def test_trace_as_context_manager_yields_the_trace():
    with handlers.trace() as tr, handlers.seed(rng_seed=0):
        model_ab()
    assert list(tr) == ["a", "b"]
    assert runtime._STACK == []


def test_trace_records_copies_that_later_handlers_cannot_change():
    class Overwrite(runtime.Messenger):
        def after_sample(self, msg):
            msg.value = -99.0

    with handlers.trace() as tr, Overwrite(), handlers.seed(rng_seed=0):
        x = ppl.sample("x", dist.Normal(0.0, 1.0))
    # trace (outermost) records before the inner handler's postprocess
    assert x == -99.0 and tr["x"].value != -99.0


# ------------------------------------------------------------------------------------------
# seed
# ------------------------------------------------------------------------------------------


def test_seed_is_reproducible_and_distinct_across_seeds():
    seeded = handlers.seed(model_ab, 0)
    assert seeded() == seeded() == handlers.seed(model_ab, 0)()
    assert handlers.seed(model_ab, 0)() != handlers.seed(model_ab, 1)()


def test_seed_accepts_a_generator_which_advances():
    rng = np.random.default_rng(7)
    first = handlers.seed(model_ab, rng)()
    second = handlers.seed(model_ab, rng)()
    assert first != second
    again = handlers.seed(model_ab, np.random.default_rng(7))()
    assert again == first


def test_seed_as_context_manager_and_decorator():
    with handlers.seed(rng_seed=1):
        x = ppl.sample("x", dist.Normal(0.0, 1.0))

    @handlers.seed(rng_seed=1)
    def model():
        return ppl.sample("y", dist.Normal(0.0, 1.0))

    assert x == model() == np.random.default_rng(1).normal()


def test_inner_seed_wins_over_outer_seed():
    inner = handlers.seed(handlers.seed(model_ab, 3), 4)()
    assert inner == handlers.seed(model_ab, 3)()


@pytest.mark.parametrize("bad", [None, 1.5, "0", True])
def test_seed_rejects_other_types(bad):
    with pytest.raises(TypeError, match="rng_seed must be an int or a numpy.random.Generator"):
        handlers.seed(model_ab, bad)


# ------------------------------------------------------------------------------------------
# condition, substitute, replay, do
# ------------------------------------------------------------------------------------------


def test_condition_makes_sites_observed():
    tr = handlers.trace(handlers.seed(handlers.condition(model_ab, {"a": 0.3}), 0)).get_trace()
    assert tr["a"].is_observed and tr["a"].value == 0.3
    assert not tr["b"].is_observed and tr["b"].fn.loc == 0.3


def test_condition_with_condition_fn():
    model = handlers.condition(model_ab, condition_fn=lambda s: 1.0 if s.name == "b" else None)
    tr = handlers.trace(handlers.seed(model, 0)).get_trace()
    assert tr["b"].is_observed and not tr["a"].is_observed


def test_condition_rejects_non_finite_values():
    with pytest.raises(ppl.errors.ObservedValueError, match="site 'a'"):
        handlers.seed(handlers.condition(model_ab, {"a": np.nan}), 0)()


def test_unknown_condition_name_suggests_the_close_site():
    with pytest.raises(UnknownSiteError) as err:
        handlers.seed(handlers.condition(hierarchical, {"muu": 0.0}), 0)(Y)
    message = str(err.value)
    assert message.startswith("site 'muu': condition was given a value")
    assert "did you mean 'mu'?" in message
    assert "'mu', 'tau', 'theta', 'y'" in message
    assert runtime._STACK == []


def test_unknown_names_are_allowed_with_strict_false():
    model = handlers.condition(model_ab, {"a": 0.0, "zz": 1.0}, strict=False)
    assert np.isfinite(handlers.seed(model, 0)())


def test_substitute_replaces_values_without_observing():
    tr = handlers.trace(handlers.substitute(model_ab, {"a": -1.0, "b": 2.0})).get_trace()
    assert tr["a"].value == -1.0 and not tr["a"].is_observed
    assert tr["b"].value == 2.0 and not tr["b"].is_observed


def test_substitute_applies_to_deterministic_and_param_sites_and_checks_names():
    def model():
        p = ppl.param("p", 1.0)
        return ppl.deterministic("d", 2 * p)

    assert handlers.substitute(model, {"p": 3.0})() == 6.0
    assert handlers.substitute(model, {"d": 5.0})() == 5.0
    assert (
        handlers.substitute(model, substitute_fn=lambda s: 4.0 if s.name == "p" else None)() == 8.0
    )
    with pytest.raises(UnknownSiteError, match="did you mean 'p'"):
        handlers.substitute(model, {"pp": 1.0})()


def test_condition_and_substitute_need_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one"):
        handlers.condition(model_ab)
    with pytest.raises(ValueError, match="exactly one"):
        handlers.substitute(model_ab, {"a": 1.0}, substitute_fn=lambda s: None)


def test_replay_reuses_latent_values_and_keeps_observations():
    first = handlers.trace(handlers.seed(hierarchical, 0)).get_trace(Y)
    again = handlers.trace(handlers.seed(handlers.replay(hierarchical, first), 1)).get_trace(Y)
    for name in ("mu", "tau", "theta"):
        assert np.all(again[name].value == first[name].value)
    assert again["y"].value is Y


def test_replay_refuses_an_observed_site_as_a_latent_value():
    observed = handlers.trace(handlers.condition(model_ab, {"a": 1.0, "b": 2.0})).get_trace()
    with pytest.raises(SiteError, match="site 'a': replay: the trace holds an observed sample"):
        handlers.seed(handlers.replay(model_ab, observed), 0)()


def _chain():
    x = ppl.sample("x", dist.Normal(0.0, 1.0))
    y = ppl.sample("y", dist.Normal(x, 1.0))
    z = ppl.sample("z", dist.Normal(y, 1.0))
    return z


def test_do_fixes_the_value_downstream_but_leaves_the_site_unobserved():
    with handlers.trace() as tr:
        handlers.seed(handlers.do(_chain, {"y": 5.0}), 0)()
    assert not tr["y"].is_observed and tr["y"].value != 5.0  # a fresh, free draw
    assert tr["z"].fn.loc == 5.0  # the model continued with the intervention
    assert "y__CF" not in tr  # the intervention site is hidden from outer handlers
    # log-density: the y term is at its free draw, not at the intervention (compare condition)
    x, y, z = (tr[k].value for k in "xyz")
    expected = stats.norm.logpdf([x, y, z], [0.0, x, 5.0]).sum()
    assert np.isclose(runtime.trace_log_density(tr), expected, rtol=1e-12)


def test_condition_scores_the_value_where_do_does_not():
    with handlers.trace() as tr:
        handlers.seed(handlers.condition(_chain, {"y": 5.0}), 0)()
    assert tr["y"].is_observed and tr["y"].value == 5.0 and tr["z"].fn.loc == 5.0
    x, z = tr["x"].value, tr["z"].value
    expected = stats.norm.logpdf([x, 5.0, z], [0.0, x, 5.0]).sum()
    assert np.isclose(runtime.trace_log_density(tr), expected, rtol=1e-12)


def test_do_shows_the_counterfactual_site_to_inner_handlers():
    inner = handlers.trace(_chain)
    handlers.seed(handlers.do(inner, {"y": 5.0}), 0)()
    assert inner.trace["y__CF"].is_observed and inner.trace["y__CF"].value == 5.0
    with pytest.raises(UnknownSiteError, match="did you mean 'y'"):
        handlers.seed(handlers.do(_chain, {"yy": 5.0}), 0)()


# ------------------------------------------------------------------------------------------
# block
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, visible",
    [
        ({}, []),
        ({"hide": ["a"]}, ["b"]),
        ({"expose": ["a"]}, ["a"]),
        ({"hide_fn": lambda s: s.name == "b"}, ["a"]),
        ({"expose_types": ["deterministic"]}, []),
    ],
)
def test_block_hides_sites_from_outer_handlers(kwargs, visible):
    blocked = handlers.block(handlers.seed(model_ab, 0), **kwargs)
    assert list(handlers.trace(blocked).get_trace()) == visible


def test_blocked_sites_still_run_with_an_inner_seed():
    assert handlers.block(handlers.seed(model_ab, 0))() == handlers.seed(model_ab, 0)()


def test_seed_outside_block_explains_the_order():
    with pytest.raises(MissingSeedError, match="put handlers.seed inside the block"):
        handlers.seed(handlers.block(model_ab), 0)()
    assert runtime._STACK == []


# ------------------------------------------------------------------------------------------
# scale and mask: what a trace-based log density computes
# ------------------------------------------------------------------------------------------


def _normals(y):
    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    return model


def test_scale_multiplies_the_log_density():
    model = handlers.scale(_normals(Y), 3.0)
    lp, tr = handlers.log_density(model, params={"mu": 0.2})
    assert tr["y"].scale == 3.0 and tr["mu"].scale == 3.0
    expected = 3.0 * (stats.norm.logpdf(0.2) + stats.norm.logpdf(Y, 0.2).sum())
    assert np.isclose(lp, expected, rtol=1e-12)


def test_nested_scales_multiply_and_array_scales_weight_each_term():
    weights = np.array([1.0, 2.0, 0.5])

    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("n", 3), handlers.scale(scale=weights):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=Y)

    lp, _ = handlers.log_density(handlers.scale(model, 2.0), params={"mu": 0.0})
    expected = 2.0 * (stats.norm.logpdf(0.0) + (weights * stats.norm.logpdf(Y)).sum())
    assert np.isclose(lp, expected, rtol=1e-12)


def test_scale_must_be_positive():
    with pytest.raises(ValueError, match="must be positive"):
        handlers.scale(model_ab, -1.0)


def test_mask_drops_masked_terms_from_the_log_density():
    keep = np.array([True, False, True])

    def model():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("n", 3), handlers.mask(mask=keep):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=Y)

    lp, tr = handlers.log_density(model, params={"mu": 0.2})
    assert tr["y"].mask is keep and tr["mu"].mask is None
    expected = stats.norm.logpdf(0.2) + stats.norm.logpdf(Y[keep], 0.2).sum()
    assert np.isclose(lp, expected, rtol=1e-12)
    # A mask that does not broadcast the site's batch shape repeats the scalar site's term per
    # mask entry, as NumPyro's MaskedDistribution does: one more reason to mask inside plates.
    lp_all, _ = handlers.log_density(handlers.mask(_normals(Y), keep), params={"mu": 0.2})
    assert np.isclose(lp_all, 2 * stats.norm.logpdf(0.2) + stats.norm.logpdf(Y[keep], 0.2).sum())


def test_masks_combine_with_and_and_false_removes_the_site():
    def model():
        with ppl.plate("n", 3), handlers.mask(mask=np.array([True, True, False])):
            ppl.sample("y", dist.Normal(0.0, 1.0), obs=Y)

    lp, _ = handlers.log_density(handlers.mask(model, np.array([False, True, True])))
    assert np.isclose(lp, stats.norm.logpdf(Y[1]), rtol=1e-12)
    lp_none, _ = handlers.log_density(handlers.mask(model, False))
    assert lp_none == 0.0


def test_mask_must_be_boolean():
    with pytest.raises(TypeError, match="boolean"):
        handlers.mask(model_ab, np.array([1.0, 0.0]))


# ------------------------------------------------------------------------------------------
# reparam
# ------------------------------------------------------------------------------------------


def test_locscale_reparam_values_and_decentred_prior():
    model = handlers.reparam(hierarchical, {"theta": LocScaleReparam()})
    tr = handlers.trace(handlers.seed(model, 0)).get_trace(Y)
    dec, theta = tr["theta_decentered"], tr["theta"]
    assert dec.type == "sample" and theta.type == "deterministic"
    assert isinstance(ppl.reparam.Reparam._unwrap(dec.fn), dist.Normal)
    assert dec.fn.batch_shape == (3,) and dec.plates == ("data",) and theta.plates == ("data",)
    base = ppl.reparam.Reparam._unwrap(dec.fn)
    assert np.all(base.loc == 0.0) and np.all(base.scale == 1.0)
    mu, tau = tr["mu"].value, tr["tau"].value
    assert np.allclose(theta.value, mu + tau * dec.value, rtol=1e-14)
    assert np.all(tr["y"].fn.loc == theta.value)


@pytest.mark.parametrize("centered", [None, 0.0, 0.3])
def test_locscale_reparam_preserves_the_joint_density(centered):
    """log p_centred(theta, rest) = log p_nc(theta_dec, rest) - sum (1 - c) log tau."""
    c = 0.0 if centered is None else centered
    mu, tau, dec = 0.4, 1.7, np.array([0.3, -1.2, 0.8])
    nc = handlers.reparam(hierarchical, {"theta": LocScaleReparam(centered)})
    lp_nc, tr = handlers.log_density(
        nc, (Y,), params={"mu": mu, "tau": tau, "theta_decentered": dec}
    )
    theta = tr["theta"].value
    assert np.allclose(theta, mu + tau ** (1 - c) * (dec - c * mu), rtol=1e-14)
    lp_c, _ = handlers.log_density(
        hierarchical, (Y,), params={"mu": mu, "tau": tau, "theta": theta}
    )
    assert np.isclose(lp_c, lp_nc - 3 * (1 - c) * np.log(tau), rtol=1e-12)


def test_locscale_reparam_centered_one_is_the_identity():
    model = handlers.reparam(hierarchical, {"theta": LocScaleReparam(1.0)})
    tr = handlers.trace(handlers.seed(model, 0)).get_trace(Y)
    assert "theta_decentered" not in tr and tr["theta"].type == "sample"


def test_locscale_reparam_keeps_the_law_of_the_site():
    def model():
        with ppl.plate("n", 4000):
            return ppl.sample("x", dist.StudentT(5.0, 2.0, 0.5))

    x = handlers.seed(handlers.reparam(model, {"x": LocScaleReparam(0.5)}), 11)()
    sd = 0.5 * np.sqrt(5.0 / 3.0)
    assert abs(x.mean() - 2.0) < 4 * sd / np.sqrt(x.size)
    # Kolmogorov-Smirnov against the exact law (the test can fail if df or scale are lost)
    assert stats.kstest(x, stats.t(5.0, 2.0, 0.5).cdf).pvalue > 1e-3


def test_locscale_reparam_errors_name_the_site():
    def gamma_model():
        ppl.sample("g", dist.Gamma(2.0, 1.0))

    with pytest.raises(SiteError, match="site 'g': LocScaleReparam needs a location-scale"):
        handlers.seed(handlers.reparam(gamma_model, {"g": LocScaleReparam()}), 0)()
    with pytest.raises(SiteError, match="site 'y': LocScaleReparam applies to latent sites only"):
        handlers.seed(handlers.reparam(hierarchical, {"y": LocScaleReparam()}), 0)(Y)


def test_transform_reparam_samples_the_base_and_pushes_it_forward():
    def model():
        with ppl.plate("n", 3):
            td = dist.TransformedDistribution(
                dist.Normal(0.0, 1.0), [AffineTransform(1.0, 2.0), ExpTransform()]
            )
            return ppl.sample("x", td)

    tr = handlers.trace(
        handlers.seed(handlers.reparam(model, {"x": TransformReparam()}), 0)
    ).get_trace()
    base = tr["x_base"]
    assert base.fn.batch_shape == (3,) and tr["x"].type == "deterministic"
    assert np.allclose(tr["x"].value, np.exp(1.0 + 2.0 * base.value), rtol=1e-14)
    with pytest.raises(SiteError, match="TransformReparam needs a TransformedDistribution"):
        handlers.seed(handlers.reparam(model_ab, {"a": TransformReparam()}), 0)()


# ------------------------------------------------------------------------------------------
# infer_config, composition, decorator use, stack hygiene
# ------------------------------------------------------------------------------------------


def test_infer_config_updates_sample_sites():
    model = handlers.infer_config(model_ab, lambda site: {"seen": site.name})
    tr = handlers.trace(handlers.seed(model, 0)).get_trace()
    assert tr["a"].infer == {"seen": "a"} and tr["b"].infer == {"seen": "b"}


def test_composed_handlers():
    model = handlers.substitute(handlers.condition(hierarchical, {"mu": 1.0}), {"tau": 2.0})
    tr = handlers.trace(handlers.seed(handlers.scale(model, 0.5), 0)).get_trace(Y)
    assert tr["mu"].is_observed and not tr["tau"].is_observed and tr["tau"].value == 2.0
    assert all(tr[k].scale == 0.5 for k in ("mu", "tau", "theta", "y"))
    theta = tr["theta"].value
    expected = 0.5 * (
        stats.norm.logpdf(1.0, 0, 5)
        + stats.halfcauchy.logpdf(2.0, scale=5)
        + stats.norm.logpdf(theta, 1.0, 2.0).sum()
        + stats.norm.logpdf(Y, theta).sum()
    )
    assert np.isclose(runtime.trace_log_density(tr), expected, rtol=1e-12)


def test_handler_rejects_a_non_callable_model():
    with pytest.raises(TypeError, match="expected a model function"):
        handlers.trace(3)


def test_stack_cleanup_when_an_inner_handler_raises_at_exit():
    with pytest.raises(UnknownSiteError):
        with handlers.trace(), handlers.seed(rng_seed=0), handlers.condition(data={"nope": 1.0}):
            model_ab()
    assert runtime._STACK == []
    assert np.isfinite(handlers.seed(model_ab, 0)())


def test_plate_and_param_names_may_repeat_in_one_run():
    def model():
        p = ppl.param("p", 1.0)
        with ppl.plate("n", 2):
            ppl.sample("x", dist.Normal(p, 1.0))
        with ppl.plate("n", 2):
            ppl.sample("y", dist.Normal(ppl.param("p", 1.0), 1.0))

    assert list(handlers.trace(handlers.seed(model, 0)).get_trace()) == ["p", "n", "x", "y"]


def test_message_reads_like_a_dict_but_has_fixed_fields():
    msg = runtime.Message(type="sample", name="x", value=1.0)
    assert msg["value"] == 1.0 and msg.get("infer") == {} and msg.get("nope", 3) == 3
    assert "scale" in msg and "nope" not in msg
    msg["value"] = 2.0
    assert msg.value == 2.0
    with pytest.raises(KeyError, match="no field 'valeu'"):
        msg["valeu"]
    copy = msg.copy()
    copy.cond_indep_stack.append(runtime.CondIndepStackFrame("n", -1, 2))
    assert msg.cond_indep_stack == []
