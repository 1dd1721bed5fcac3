"""The warmup a run used, reported by ``MCMC`` when ``early_stop_warmup`` ended it early."""

from __future__ import annotations

import numpy as np

from inference import MCMC, NUTS
from inference.arviz_export import to_datatree
from tests.inference.models import GaussianModel


def test_warmup_used_is_reported_everywhere():
    model = GaussianModel(np.array([1.0, -2.0]), np.array([[1.0, 0.3], [0.3, 2.0]]))
    mcmc = MCMC(NUTS(model, mass_matrix_adaptation="fisher", early_stop_warmup=True),
                num_warmup=800, num_samples=200, num_chains=2, progress_bar=False)
    mcmc.run(4)
    used = mcmc.warmup_used
    assert used.shape == (2,) and (used < 800).all() and (used > 100).all()
    assert f"Warmup used (early_stop_warmup): {used.min()} to {used.max()} of 800" in (
        mcmc.results.report())
    attrs = to_datatree(mcmc.results)["sample_stats"].attrs
    assert attrs["warmup_used"] == [int(u) for u in used] and attrs["num_warmup"] == 800
    # without it, the whole budget
    plain = MCMC(NUTS(model, mass_matrix_adaptation="fisher"), num_warmup=300, num_samples=50,
                 num_chains=2, progress_bar=False)
    plain.run(4)
    np.testing.assert_array_equal(plain.warmup_used, 300)
    assert "Warmup used" not in plain.results.report()
