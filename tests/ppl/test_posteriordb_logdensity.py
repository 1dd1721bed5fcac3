r"""The eleven posteriordb models compile to the right log density (no sampling here).

For each model of :mod:`tests.posteriordb_models`, compiled with its reference data:

* its dimension is posteriordb's;
* the compiled ``logp_and_grad`` agrees with the un-compiled NumPy path (value and gradient);
* the log density on the unconstrained space equals the independent NumPy/SciPy density of the
  constrained values plus :math:`\log|\det J|` of the map :math:`\theta \mapsto x`, both in
  absolute value and in differences between points;
* the gradient agrees with central finite differences of the compiled log density;
* the reference draws round-trip through ``unconstrain`` and ``constrain``, and the log density
  there agrees with the oracle too (points in the bulk of the posterior, not only random ones).

:math:`\log|\det J|` is computed here, independently of the bijectors' own
``log_abs_det_jacobian``: the Jacobian of :math:`\theta \mapsto` (free coordinates of every
latent site) by a five-point central difference stencil on ``constrain``, then ``slogdet``.  The
free coordinates of a site are the first ``size`` entries of its flattened constrained value
(all of them, except for a simplex of :math:`K` entries, whose first :math:`K-1` entries are
the coordinates its density is defined on).  Using the whole Jacobian covers bijectors whose
bounds depend on other sites (garch's ``beta1`` on ``alpha1``): the matrix is block lower
triangular, so its log-determinant is the sum of the per-site blocks.

Points are drawn uniformly in :math:`(-1.5, 1.5)^d` on the unconstrained scale with a fixed seed.
Tolerances are relative to the size of the log density (its rounding error scales with it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ppl.model import CompiledModel, compile_model
from tests.posteriordb import load
from tests.posteriordb_models import MODELS, REFERENCE_NAMES, PosteriorModel, reference_draws_for

NAMES = tuple(sorted(MODELS))
N_POINTS = 5
SEED = 20240601
STEP = 1e-3  # five-point stencil: truncation O(h^4), rounding O(eps / h)
FIVE_POINT = np.array([-1.0, 8.0, -8.0, 1.0]) / 12.0  # weights of f(x+2h), f(x+h), f(x-h), f(x-2h)
OFFSETS = np.array([2.0, 1.0, -1.0, -2.0])
UNCONSTRAINED_DIM = {"hmm_example-hmm_example": 4}  # 6 constrained entries (see below)
# The ODE model solves with Stan's tolerances by default (errors of ~1e-3 in the log density);
# here they are tightened so that its log density is the oracle's (SciPy's DOP853 at 1e-13) to
# ~1e-9 and smooth enough for finite differences.
MODEL_KWARGS = {"hudson_lynx_hare-lotka_volterra": {"rtol": 1e-11, "atol": 1e-11,
                                                    "mxstep": 100_000}}


@dataclass
class Case:
    name: str
    spec: PosteriorModel
    data: dict
    cm: CompiledModel
    compile_seconds: float

    def points(self) -> np.ndarray:
        return np.random.default_rng(SEED).uniform(-1.5, 1.5, (N_POINTS, self.cm.dim))

    def latent(self, values: dict) -> dict:
        return {s: values[s] for s in self.cm.site_names}


@pytest.fixture(scope="module", params=NAMES)
def case(request) -> Case:
    """One compiled model per posterior, shared by every test of this module."""
    name = request.param
    spec = MODELS[name]
    data = load(name).data
    args, kwargs = spec.args_from_data(data)
    kwargs.update(MODEL_KWARGS.get(name, {}))
    start = time.perf_counter()
    cm = compile_model(spec.model, *args, **kwargs)
    return Case(name, spec, data, cm, time.perf_counter() - start)


# ---- independent pieces -------------------------------------------------------------------------


def free_coordinates(cm: CompiledModel, values: dict, lead: tuple[int, ...]) -> np.ndarray:
    """The free coordinates of every latent site, concatenated: shape ``lead + (dim,)``."""
    parts = []
    for site in cm.layout.sites:
        flat = np.reshape(values[site.name], lead + (-1,))
        assert flat.shape[-1] >= site.size, (site.name, flat.shape, site.size)
        parts.append(flat[..., : site.size])
    return np.concatenate(parts, axis=-1)


def log_abs_det_jacobian(cm: CompiledModel, theta: np.ndarray) -> float:
    """:math:`\\log|\\det \\partial x_{free} / \\partial \\theta|` by central differences."""
    d = cm.dim
    shifted = theta + STEP * OFFSETS[:, None, None] * np.eye(d)  # [stencil, coordinate, :]
    free = free_coordinates(cm, cm.constrain(shifted), (4, d))
    jac = np.tensordot(FIVE_POINT, free, axes=1) / STEP  # jac[j, i] = d free_i / d theta_j
    sign, logdet = np.linalg.slogdet(jac)
    assert sign != 0, f"singular Jacobian at {theta}"
    return float(logdet)


def oracle(case: Case, theta: np.ndarray) -> float:
    """NumPy/SciPy log density of the constrained point plus the numerical log-Jacobian."""
    values = {k: v[0] for k, v in case.cm.constrain(theta[None]).items()}
    return case.spec.numpy_logdensity(values, case.data) + log_abs_det_jacobian(case.cm, theta)


def finite_difference_gradient(cm: CompiledModel, theta: np.ndarray) -> np.ndarray:
    grad = np.empty(cm.dim)
    for j in range(cm.dim):
        e = np.zeros(cm.dim)
        e[j] = STEP
        grad[j] = sum(w * cm.logp_and_grad(theta + o * e)[0]
                      for w, o in zip(FIVE_POINT, OFFSETS)) / STEP
    return grad


def tolerance(*logps: float) -> float:
    """Absolute tolerance for log densities of size ``logps`` (relative 1e-9, at least 1e-8)."""
    return 1e-9 * max(1.0, *(abs(v) for v in logps)) + 1e-8


# ---- tests --------------------------------------------------------------------------------------


def test_dimension_and_sites(case):
    ref = load(case.name)
    # posteriordb's dimension counts the constrained entries; a simplex of K entries has K - 1
    # unconstrained coordinates, so the hmm's two simplices of 2 make its theta 2 shorter.
    assert sum(int(np.prod(s.shape)) for s in case.cm.layout.sites) == ref.info["dimension"]
    assert case.cm.dim == UNCONSTRAINED_DIM.get(case.name, ref.info["dimension"])
    out = case.cm.constrain(np.zeros((2, case.cm.dim)))
    for site, param in REFERENCE_NAMES[case.name].items():
        assert out[site].shape == (2,) + ref.shapes[param], site


def test_compiled_matches_numpy_path(case):
    for theta in case.points():
        lp, grad = case.cm.logp_and_grad(theta)
        lp_np, grad_np = case.cm.logp_and_grad_numpy(theta)
        assert np.isfinite(lp) and np.all(np.isfinite(grad))
        assert_allclose(lp, lp_np, rtol=1e-9)
        assert_allclose(grad, grad_np, rtol=1e-9, atol=1e-9 * np.abs(grad_np).max())


def test_log_density_matches_independent_oracle(case):
    points = case.points()
    ours = np.array([case.cm.logp_and_grad(t)[0] for t in points])
    theirs = np.array([oracle(case, t) for t in points])
    # Differences between points: additive constants cancel.
    for a in range(N_POINTS):
        for b in range(a + 1, N_POINTS):
            diff_ours, diff_theirs = ours[a] - ours[b], theirs[a] - theirs[b]
            assert abs(diff_ours - diff_theirs) <= tolerance(ours[a], ours[b]), (
                f"points {a}, {b}: logp difference {diff_ours!r} vs oracle {diff_theirs!r}"
            )
    # Absolute values: our distributions drop no normalising constant.
    offset = ours - theirs
    assert np.all(np.abs(offset) <= [tolerance(v) for v in ours]), (
        f"constant offset ours - oracle = {offset}"
    )


def test_gradient_matches_finite_differences(case):
    for theta in case.points():
        lp, grad = case.cm.logp_and_grad(theta)
        fd = finite_difference_gradient(case.cm, theta)
        assert_allclose(grad, fd, rtol=1e-6, atol=tolerance(lp) * 10)


def test_reference_draws_round_trip(case):
    ref = reference_draws_for(case.name)
    picks = [(0, 0), (0, 1), (0, 2), (5, 500)]
    values = [{k: v[c, d] for k, v in ref.items()} for c, d in picks]
    thetas = np.stack([case.cm.unconstrain(case.latent(v)) for v in values])
    assert thetas.shape == (len(picks), case.cm.dim) and np.all(np.isfinite(thetas))
    back = case.cm.constrain(thetas)
    for site in ref:
        expected = np.stack([v[site] for v in values])
        assert_allclose(back[site], expected, rtol=1e-9, atol=1e-12, err_msg=site)


def test_log_density_at_reference_draws(case):
    ref = reference_draws_for(case.name)
    for c, d in [(1, 10), (7, 900)]:
        values = {k: v[c, d] for k, v in ref.items()}
        theta = case.cm.unconstrain(case.latent(values))
        lp = case.cm.logp_and_grad(theta)[0]
        expected = case.spec.numpy_logdensity(values, case.data) + log_abs_det_jacobian(
            case.cm, theta
        )
        assert abs(lp - expected) <= tolerance(lp), (lp, expected)


# One value outside the support per model (a function of a reference draw).
OUTSIDE = {
    "arK-arK": ("sigma", lambda v: -1.0),
    "diamonds-diamonds": ("sigma", lambda v: -1.0),
    "eight_schools-eight_schools_centered": ("tau", lambda v: -1.0),
    "eight_schools-eight_schools_noncentered": ("tau", lambda v: -1.0),
    "garch-garch11": ("beta1", lambda v: 1.0 - v["alpha1"] + 1e-6),  # the dependent bound
    "gp_pois_regr-gp_regr": ("rho", lambda v: -1.0),
    "hmm_example-hmm_example": ("mu", lambda v: v["mu"][::-1]),  # not ordered
    "hudson_lynx_hare-lotka_volterra": ("theta", lambda v: v["theta"] * [1.0, -1.0, 1.0, 1.0]),
    "kidiq-kidscore_momiq": ("sigma", lambda v: -1.0),
    "low_dim_gauss_mix-low_dim_gauss_mix": ("mu", lambda v: v["mu"][::-1]),
    "sblrc-blr": ("sigma", lambda v: -1.0),
}


def test_oracle_rejects_points_outside_the_support(case):
    """The NumPy oracles are not vacuous: a site pushed out of its support gives -inf."""
    values = {k: v[0, 0] for k, v in reference_draws_for(case.name).items()}
    assert np.isfinite(case.spec.numpy_logdensity(values, case.data))
    site, outside = OUTSIDE[case.name]
    assert case.spec.numpy_logdensity({**values, site: outside(values)}, case.data) == -np.inf
