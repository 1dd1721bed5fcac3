"""``MCMC.run(extra_fields=...)``: which statistics ``get_extra_fields`` returns, NumPyro's names.

Oracles: SciPy's Gaussian log density for ``potential_energy`` (the negative log density, up
to the normalising constant the model leaves out), and the statistics of the same run read
without a selection.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from inference import MCMC, NUTS, SamplingWarning
from inference.results import STAT_NAMES
from tests.inference.models import GaussianModel

MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[1.0, 0.8, 0.0], [0.8, 2.0, -0.3], [0.0, -0.3, 0.5]])
NUMPYRO_FIELDS = ("diverging", "potential_energy", "num_steps", "accept_prob",
                  "adapt_state.step_size")


def _run(**kw):
    mcmc = MCMC(NUTS(GaussianModel(MEAN, COV)), num_warmup=150, num_samples=50, num_chains=2,
                progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        mcmc.run(3, **kw)
    return mcmc


@pytest.fixture(scope="module")
def selected():
    return _run(extra_fields=NUMPYRO_FIELDS)


def test_default_returns_every_statistic():
    assert set(_run().get_extra_fields()) == set(STAT_NAMES)


def test_numpyro_names_select_and_translate(selected):
    fields = selected.get_extra_fields(group_by_chain=True)
    assert tuple(fields) == NUMPYRO_FIELDS
    every = selected.results.extra_fields(group_by_chain=True)
    np.testing.assert_array_equal(fields["num_steps"], every["n_steps"])
    np.testing.assert_array_equal(fields["accept_prob"], every["acceptance_rate"])
    np.testing.assert_array_equal(fields["adapt_state.step_size"], every["step_size"])
    np.testing.assert_array_equal(fields["diverging"], every["diverging"])
    x = selected.get_samples(group_by_chain=True)["x"]
    offset = -fields["potential_energy"] - stats.multivariate_normal(MEAN, COV).logpdf(x)
    np.testing.assert_allclose(offset, offset.flat[0], atol=1e-9)  # U = -log p + constant
    assert selected.get_extra_fields()["potential_energy"].shape == (100,)


def test_unknown_field_is_rejected_before_sampling():
    mcmc = MCMC(NUTS(GaussianModel(MEAN, COV)), num_warmup=10, num_samples=10,
                progress_bar=False)
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['z'\].*potential_energy"):
        mcmc.run(0, extra_fields=("z",))
    with pytest.raises(TypeError, match=r"extra_fields=\('diverging',\)"):
        mcmc.run(0, extra_fields="diverging")
    assert mcmc._results is None  # nothing ran
