r"""A chain whose adaptation fails is reported, and left out, while the other chains finish.

The model is a standard normal in 4 dimensions inside the ball :math:`\|x\| < 10` that turns
flat (improper) outside it, continuously. A chain started at :math:`x = (50, 0, 0, 0)` sees no
gradient, and a trajectory from there comes back into the ball only if its momentum points at
it (a narrow cone in 4 dimensions), so the initial step-size search doubles without bound and
stops the chain with ``STEP_SIZE_TOO_LARGE``; chains started near 0 never get out of the ball
and sample the normal. With a fixed seed the outcome is deterministic.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numba import carray, cfunc

import autodiff.numpy as anp
import ppl
from inference import diagnostics
from inference import functional as F
from inference.mcmc import MCMC
from inference.nuts import NUTS
from inference.sampling_warnings import SamplingWarning
from kernels.model_abi import LOGP_GRAD_SIG
from kernels.state import allocate_output
from kernels.status import CHAIN_MESSAGES, CHAIN_OK, STEP_SIZE_TOO_LARGE, SamplerError
from ppl import constraints, dist
from tests.inference.models import HandModel

_RADIUS = 10.0
_DIM = 4


@cfunc(LOGP_GRAD_SIG, cache=True)
def _normal_then_flat(theta, grad, logp, data):
    """N(0, I) for |x| < 10, the constant -50 outside (continuous, improper); 4-dimensional."""
    t = carray(theta, (_DIM,))
    g = carray(grad, (_DIM,))
    r2 = 0.0
    for k in range(_DIM):
        r2 += t[k] * t[k]
    inside = r2 < _RADIUS * _RADIUS
    logp[0] = -0.5 * (r2 if inside else _RADIUS * _RADIUS)
    for k in range(_DIM):
        g[k] = -t[k] if inside else 0.0
    return 0


class NormalThenFlat(HandModel):
    """One site ``x`` of shape ``(4,)``: a standard normal inside radius 10, flat outside."""

    _cfunc = _normal_then_flat

    def __init__(self) -> None:
        super().__init__(np.array([float(_DIM)]), _DIM)
        self.site_names = ["x"]

    def constrain(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        return {"x": np.array(draws, dtype=np.float64)}

    def unconstrain(self, values: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(values["x"], dtype=np.float64).reshape(_DIM)


def _start(*x0: float) -> np.ndarray:
    """Initial points ``(chains, 4)``: chain ``c`` at ``(x0[c], 0.1, -0.1, 0.2)``."""
    return np.array([[x, 0.1, -0.1, 0.2] for x in x0])


def _mcmc(num_chains: int, **kwargs) -> MCMC:
    return MCMC(NUTS(NormalThenFlat()), num_warmup=200, num_samples=300,
                num_chains=num_chains, progress_bar=False, chunk_size=50, **kwargs)


def _run_one_failing(**kwargs) -> tuple[MCMC, list[warnings.WarningMessage]]:
    mcmc = _mcmc(3, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mcmc.run(1, init_params=_start(0.5, 50.0, -0.5))
    return mcmc, [w for w in caught if issubclass(w.category, SamplingWarning)]


@pytest.mark.parametrize("chain_method", ["parallel", "sequential"])
def test_one_failed_chain_is_reported_and_left_out(chain_method):
    mcmc, caught = _run_one_failing(chain_method=chain_method)
    reason = CHAIN_MESSAGES[STEP_SIZE_TOO_LARGE]
    assert mcmc.failed_chains == {1: reason}
    messages = [str(w.message) for w in caught if "adaptation failed" in str(w.message)]
    assert len(messages) == 1
    assert "chain 1 stopped at iteration 0 (warmup)" in messages[0]
    assert reason in messages[0]

    samples = mcmc.get_samples(group_by_chain=True)["x"]
    assert samples.shape == (2, 300, _DIM)
    assert np.all(np.isfinite(samples))
    flat = mcmc.get_samples()["x"]
    assert flat.shape == (600, _DIM)
    mcse = np.asarray(diagnostics.mcse_mean(samples))
    assert np.all(np.abs(flat.mean(axis=0)) < 5 * mcse)
    assert np.all((0.7 < flat.std(axis=0)) & (flat.std(axis=0) < 1.3))

    extra = mcmc.get_extra_fields(group_by_chain=True)
    assert all(v.shape == (2, 300) for v in extra.values())
    assert np.all(extra["n_steps"] > 0)
    assert mcmc.results.divergences.shape == (2,)
    assert list(mcmc.results.chain_index) == [0, 2]
    assert mcmc.summary() is not None
    assert "adaptation failed" in mcmc.results.report()

    # the state keeps every chain; the failed one stays failed when continued
    state = mcmc.last_state
    assert state.num_chains == 3
    assert list(state.chains.status) == [CHAIN_OK, STEP_SIZE_TOO_LARGE, CHAIN_OK]
    # the failed chain's driver returned at once on every later chunk: it never moved
    assert np.array_equal(state.position[1], _start(50.0)[0])
    mcmc.post_warmup_state = mcmc.last_state
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        mcmc.run(None)
    assert mcmc.failed_chains == {1: reason}
    assert any("chain 1 stopped before this run" in str(w.message) for w in again)
    assert mcmc.get_samples(group_by_chain=True)["x"].shape == (2, 300, _DIM)


def test_arviz_export_keeps_the_completed_chains_under_their_indices():
    pytest.importorskip("xarray")
    mcmc, _ = _run_one_failing()
    tree = mcmc.to_datatree()
    posterior = tree["posterior"].to_dataset()
    assert posterior.sizes["chain"] == 2
    assert list(posterior["chain"].values) == [0, 2]
    assert tree["sample_stats"].to_dataset().sizes["chain"] == 2


def test_every_chain_failed_raises():
    mcmc = _mcmc(2)
    with pytest.raises(SamplerError, match="improper"):
        mcmc.run(1, init_params=_start(50.0, 60.0))
    assert set(mcmc.failed_chains) == {0, 1}


@pytest.mark.filterwarnings("ignore:Too few warmup iterations")
def test_functional_advance_raises_unless_told_not_to_check():
    model = NormalThenFlat()
    state = F.init(model, 1, 2, num_warmup=20, init_params=_start(0.5, 50.0))
    out = allocate_output(2, 20, _DIM)
    F.advance(state, 20, out, 0, check=False)
    assert list(state.chains.status) == [CHAIN_OK, STEP_SIZE_TOO_LARGE]
    with pytest.raises(SamplerError, match=r"chain\(s\) \{1: "):
        F.step(state, 5)


def normal_then_flat_model():
    """The same density written as a model function (executors need one to send to workers)."""
    x = ppl.sample("x", dist.ImproperUniform(constraints.real, (), (_DIM,)))
    ppl.factor("density", -0.5 * anp.minimum(anp.sum(x * x), _RADIUS * _RADIUS))


def test_a_failed_chain_under_an_executor_is_left_out_the_same_way():
    with ThreadPoolExecutor(2) as pool:
        mcmc = MCMC(NUTS(normal_then_flat_model), num_warmup=200, num_samples=300,
                    num_chains=3, progress_bar=False, chunk_size=50, executor=pool)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mcmc.run(1, init_params=_start(0.5, 50.0, -0.5))
    assert set(mcmc.failed_chains) == {1}
    assert any("chain 1" in str(w.message) for w in caught
               if issubclass(w.category, SamplingWarning))
    draws = mcmc.get_samples(group_by_chain=True)["x"]
    assert draws.shape == (2, 300, _DIM) and np.all(np.isfinite(draws))
