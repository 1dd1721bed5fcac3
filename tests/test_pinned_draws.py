"""Same seed, same draws: a few draws of every sampler configuration and suite model, pinned.

This is a regression pin, not a correctness check (the posterior tests are those): it fails when
a change alters a single bit of what the samplers or the generated model code compute. A
refactoring must leave it passing. A commit that changes an algorithm *on purpose* regenerates
the pins and says why in its message::

    NUMBAYES_REPIN=1 python -m pytest tests/test_pinned_draws.py

Each case records, after a short run: every chain's last unconstrained position, its nominal
step size, the sum of its inverse mass matrix, the total number of leapfrog steps and the first
kept draw. The cases cover NUTS with Stan's and nutpie's adaptation, a dense mass matrix, static
HMC with jitter, a funnel with divergences, and models written with ``ppl`` whose generated code
exercises fused loops, special functions, gathers and scatters, ``scan``, linear algebra and
mixtures.
"""

from __future__ import annotations

import json
import os
import pathlib
import warnings

import numpy as np
import pytest

import autodiff.numpy as anp
import ppl
from inference import HMC, MCMC, NUTS
from ppl import dist
from tests import posteriordb
from tests.inference.models import EightSchoolsCentered, GaussianModel
from tests.posteriordb_models import model_args

PINS = pathlib.Path(__file__).parent / "data" / "pinned_draws.json"
REPIN = os.environ.get("NUMBAYES_REPIN", "0") not in ("", "0")

_COV3 = [[1.0, 0.6, -0.2], [0.6, 2.0, 0.3], [-0.2, 0.3, 0.5]]


def _logistic(X, y=None):
    alpha = ppl.sample("alpha", dist.Normal(0.0, 5.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    with ppl.plate("n", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=alpha + X @ beta), obs=y)


def _logistic_data():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 4))
    y = (rng.uniform(size=200) < 1 / (1 + np.exp(-(0.3 + X @ [1.0, -0.5, 0.2, 0.0])))) * 1.0
    return (X,), {"y": y}


def _volatility(r):
    sigma = ppl.sample("sigma", dist.Exponential(10.0))
    nu = ppl.sample("nu", dist.Gamma(2.0, 0.1))
    mu = ppl.sample("mu", dist.Normal(-4.0, 2.0))
    with ppl.plate("t", r.shape[0]):
        h_raw = ppl.sample("h_raw", dist.Normal(0.0, 1.0))
        h = mu + sigma * anp.cumsum(h_raw)
        ppl.sample("r", dist.StudentT(nu, 0.0, anp.exp(h)), obs=r)


def _volatility_data():
    return (np.random.default_rng(12).standard_t(5, size=60) * 0.02,), {}


def _hierarchical(group, x, n_groups, y=None):
    mu_a = ppl.sample("mu_a", dist.Normal(0.0, 10.0))
    sigma_a = ppl.sample("sigma_a", dist.HalfNormal(5.0))
    with ppl.plate("groups", n_groups):
        a_raw = ppl.sample("a_raw", dist.Normal(0.0, 1.0))
    a = mu_a + sigma_a * a_raw
    b = ppl.sample("b", dist.Normal(0.0, 10.0))
    sigma_y = ppl.sample("sigma_y", dist.HalfNormal(5.0))
    with ppl.plate("n", x.shape[0]):
        ppl.sample("y", dist.Normal(a[group] + b * x, sigma_y), obs=y)


def _hierarchical_data():
    rng = np.random.default_rng(13)
    group = rng.integers(0, 7, size=80)
    x = rng.integers(0, 2, size=80) * 1.0
    y = rng.normal(size=7)[group] + 0.5 * x + rng.normal(0.0, 0.7, size=80)
    return (group, x, 7), {"y": y}


def _posteriordb(name):
    return lambda: model_args(name)[1:]


# The ODE model's draws would pin the bits of the ODE solver's step control, which its own
# tests (tests/autodiff/test_odeint.py) cover; its posterior is tested against the reference.
NOT_PINNED = {"hudson_lynx_hare-lotka_volterra"}


#: name -> (kernel factory, MCMC options, model arguments factory)
CASES = {
    "gaussian_nuts_stan": (lambda: NUTS(GaussianModel([0.5, -1.0, 2.0], _COV3)), {}, None),
    "gaussian_nuts_fisher": (
        lambda: NUTS(GaussianModel([0.5, -1.0, 2.0], _COV3), mass_matrix_adaptation="fisher"),
        {}, None),
    "gaussian_nuts_dense": (
        lambda: NUTS(GaussianModel([0.5, -1.0, 2.0], _COV3), dense_mass=True), {}, None),
    "gaussian_hmc_jitter": (
        lambda: HMC(GaussianModel([0.5, -1.0, 2.0], _COV3), trajectory_length=1.5), {}, None),
    "gaussian_hmc_fisher_steps": (
        lambda: HMC(GaussianModel([0.5, -1.0, 2.0], _COV3), num_steps=7,
                    mass_matrix_adaptation="fisher"), {}, None),
    "funnel_nuts_depth5": (
        lambda: NUTS(EightSchoolsCentered(), max_tree_depth=5, target_accept_prob=0.9), {},
        None),
    "logistic_regression": (lambda: NUTS(_logistic), {}, _logistic_data),
    "stochastic_volatility": (lambda: NUTS(_volatility), {}, _volatility_data),
    "hierarchical_linear": (lambda: NUTS(_hierarchical), {}, _hierarchical_data),
    **{
        f"posteriordb_{name}": (lambda name=name: NUTS(model_args(name)[0]), {},
                                _posteriordb(name))
        for name in posteriordb.NAMES if name not in NOT_PINNED
    },
}


def _run(case: str) -> dict[str, list]:
    make_kernel, options, build_args = CASES[case]
    args, kwargs = build_args() if build_args is not None else ((), {})
    mcmc = MCMC(make_kernel(), num_warmup=150, num_samples=12, num_chains=2, progress_bar=False,
                **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # divergences and short-warmup notices
        mcmc.run(3, *args, **kwargs)
    state = mcmc.last_state
    draws = mcmc.results.draws
    return {
        "position": state.position.tolist(),
        "step_size": state.step_size.tolist(),
        "inverse_mass_sum": [float(m.sum()) for m in state.inverse_mass_matrix],
        "n_steps": int(mcmc.results.stats["n_steps"].sum()),
        "first_draw": draws[:, 0].tolist(),
    }


def _pins() -> dict:
    return json.loads(PINS.read_text()) if PINS.exists() else {}


@pytest.fixture(scope="module")
def pins():
    found = _pins()
    yield found
    if REPIN:
        PINS.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("case", sorted(CASES))
def test_draws_are_the_pinned_bits(case, pins):
    got = _run(case)
    if REPIN:
        pins[case] = got
        return
    assert case in pins, f"no pin for {case}: run with NUMBAYES_REPIN=1 to add it"
    want = pins[case]
    for key in want:
        assert np.array_equal(np.asarray(got[key]), np.asarray(want[key])), (
            f"{case}: {key} changed\n got {got[key]}\nwant {want[key]}")
