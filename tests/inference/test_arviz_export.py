"""Export to ArviZ: groups, names, dims and coords, and ArviZ's own functions on the result."""

from __future__ import annotations

import dataclasses
import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr

from inference import MCMC, NUTS, SamplingWarning
from inference.arviz_export import to_datatree
from tests.inference.models import (
    EIGHT_SCHOOLS_SIGMA,
    EIGHT_SCHOOLS_Y,
    EightSchoolsNonCentered,
    GaussianModel,
)

STATS = {
    "lp",
    "acceptance_rate",
    "step_size",
    "tree_depth",
    "n_steps",
    "diverging",
    "energy",
    "energy_error",
    "max_energy_error",
    "reached_max_treedepth",
}


@pytest.fixture(scope="module")
def schools():
    mcmc = MCMC(
        NUTS(EightSchoolsNonCentered()),
        num_warmup=300,
        num_samples=250,
        num_chains=2,
        progress_bar=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        mcmc.run(0)
    return mcmc


def test_groups_variables_dims_and_coords(schools):
    idata = schools.to_arviz()
    if int(az.__version__.split(".")[0]) < 1:
        assert isinstance(idata, az.InferenceData)
    else:
        assert isinstance(idata, xr.DataTree)
    groups = set(idata.groups())
    assert {
        "posterior",
        "sample_stats",
        "log_likelihood",
        "observed_data",
        "constant_data",
    } <= groups
    post = idata.posterior
    assert set(post.data_vars) == {"mu", "tau", "z", "theta"}
    assert post["theta"].dims == ("chain", "draw", "school")
    assert post["mu"].dims == ("chain", "draw")
    assert list(post["school"].values) == [f"school_{j}" for j in range(8)]
    np.testing.assert_array_equal(post["chain"].values, [0, 1])
    np.testing.assert_array_equal(post["draw"].values, np.arange(250))
    np.testing.assert_array_equal(
        post["theta"].values, schools.get_samples(group_by_chain=True)["theta"]
    )
    assert idata.observed_data["y"].dims == ("school",)
    np.testing.assert_array_equal(idata.observed_data["y"].values, EIGHT_SCHOOLS_Y)
    np.testing.assert_array_equal(idata.constant_data["sigma"].values, EIGHT_SCHOOLS_SIGMA)
    for group in ("posterior", "sample_stats", "observed_data"):
        assert idata[group].attrs["inference_library"] == "numbayes"
        assert "created_at" in idata[group].attrs


def test_sample_stats_names_and_dtypes(schools):
    stats = schools.to_arviz().sample_stats
    assert set(stats.data_vars) == STATS
    assert stats["diverging"].dtype == bool and stats["reached_max_treedepth"].dtype == bool
    assert stats["tree_depth"].dtype == np.int64 and stats["n_steps"].dtype == np.int64
    assert stats["lp"].dims == ("chain", "draw")
    np.testing.assert_array_equal(
        stats["energy"].values, schools.get_extra_fields(group_by_chain=True)["energy"]
    )


def test_log_likelihood_is_pointwise_and_loo_runs(schools):
    idata = schools.to_arviz()
    ll = idata.log_likelihood["y"]
    assert ll.dims == ("chain", "draw", "school") and ll.shape == (2, 250, 8)
    theta = schools.get_samples(group_by_chain=True)["theta"]
    # independent oracle: the normal log density written out
    z = (EIGHT_SCHOOLS_Y - theta) / EIGHT_SCHOOLS_SIGMA
    expected = -0.5 * z**2 - np.log(EIGHT_SCHOOLS_SIGMA) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(ll.values, expected, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto k warnings are about the data, not us
        loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo) and loo.n_data_points == 8
    assert -35 < loo.elpd_loo < -28  # eight schools: about -30.7


def test_arviz_summary_agrees_with_print_summary(schools):
    table = az.summary(schools.to_arviz(), var_names=["mu", "tau"], hdi_prob=0.9)
    ours = schools.summary(prob=0.9)
    assert list(table.index) == ["mu", "tau"]
    for name in ("mu", "tau"):
        row = ours.row(name)
        assert table.loc[name, "mean"] == pytest.approx(row["mean"], abs=1e-3)
        assert table.loc[name, "sd"] == pytest.approx(row["sd"], abs=1e-3)
        assert table.loc[name, "r_hat"] == pytest.approx(row["r_hat"], abs=0.011)


def test_datatree_and_model_without_data():
    mcmc = MCMC(
        NUTS(GaussianModel([0.0, 1.0], np.eye(2))),
        num_warmup=200,
        num_samples=50,
        progress_bar=False,
    )
    mcmc.run(0)
    tree = mcmc.to_datatree()
    assert isinstance(tree, xr.DataTree)
    assert set(tree.children) == {"posterior", "sample_stats"}
    assert tree["posterior"]["x"].dims == ("chain", "draw", "x_dim_0")
    idata = mcmc.to_arviz()
    assert az.summary(idata).shape[0] == 2


def test_conflicting_dimension_sizes_are_named(schools):
    model = EightSchoolsNonCentered()
    model.dims["w"] = ["school"]
    values = {"z": np.zeros((2, 5, 8)), "w": np.zeros((2, 5, 3))}
    results = dataclasses.replace(schools.results, model=model, _constrained=values)
    with pytest.raises(ValueError, match="dimension 'school' has size 8 in 'z' but 3 in 'w'"):
        to_datatree(results)



def test_log_likelihood_of_a_multivariate_observation_has_no_event_axis():
    """A MultivariateNormal observation (a GP's marginal likelihood) has one log-likelihood per
    draw: its event axis is summed, so it must not be given the value's dimension name."""
    import ppl
    from ppl import dist

    y = np.array([0.3, -0.1, 0.4])

    def model(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.sample("y", dist.MultivariateNormal(mu * np.ones(3), np.eye(3)), obs=y)

    mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=20, progress_bar=False)
    mcmc.run(0, y)
    tree = mcmc.to_datatree()
    assert tree["log_likelihood"]["y"].dims == ("chain", "draw")
    mu = mcmc.get_samples()["mu"]
    # independent oracle: the Gaussian formula
    expected = -0.5 * ((y[None] - mu[:, None]) ** 2).sum(-1) - 1.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(np.asarray(tree["log_likelihood"]["y"])[0], expected, rtol=1e-10)
