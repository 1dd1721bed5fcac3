"""Bijective transforms and ``biject_to``, each checked against independent oracles.

One table row per transform: how to draw a point of its domain from free coordinates
(``embed``), and how to read the free coordinates of an output (``free``: the first K-1 entries
of a simplex, the strictly lower triangle of a correlation Cholesky factor ...).  Generic tests
run over the table: round trips, codomain membership (also for large inputs), the log-Jacobian
against ``log|det|`` of the autodiff Jacobian of ``free ∘ t ∘ embed``, the inverse's log-det,
gradients against finite differences, and shapes.  Specific tests cover traced bounds, the
non-bijective maps (unit vector, zero sum) and the errors of ``biject_to``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

import autodiff
import autodiff.numpy as anp
from ppl import constraints as C
from ppl import transforms as T
from ppl.transforms import biject_to

# ---- free-coordinate helpers ------------------------------------------------------------------


def strict_lower(m):
    r, c = np.tril_indices(anp.shape(m)[-1], -1)
    return m[..., r, c]


def lower(m):
    r, c = np.tril_indices(anp.shape(m)[-1])
    return m[..., r, c]


def symmetric_from_lower(v, k=3):
    """A symmetric matrix from its lower triangle (the free coordinates of a PD matrix)."""
    idx = np.zeros((k, k), dtype=int)
    r, c = np.tril_indices(k)
    idx[r, c] = np.arange(r.size)
    idx[c, r] = np.arange(r.size)
    return v[..., idx]


def pd_lower(rng, k=3):
    a = rng.normal(size=(k, k))
    return lower(a @ a.T + k * np.eye(k))


def identity(u):
    return u


@dataclass
class Case:
    name: str
    make: Callable[[], T.Transform]
    n_free: int  # number of free input coordinates
    embed: Callable[[Any], Any] = identity  # free coords -> a point of the domain
    free: Callable[[Any], Any] = lambda y: anp.reshape(y, (-1,))  # output -> free coords
    draw: Callable[[np.random.Generator], np.ndarray] | None = None  # free input coords
    big: float = 15.0  # |x| reached by the "large input" codomain test
    jacobian: bool = True  # the square-Jacobian test applies
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return self.name

    def sample_free(self, rng, scale=1.0):
        return self.draw(rng) if self.draw is not None else scale * rng.normal(size=self.n_free)


LOC = np.array([0.5, -1.0, 2.0])
SCALE = np.array([2.0, -0.5, 3.0])
LO, HI = np.array([-1.0, 0.0, 2.0]), np.array([3.0, 0.5, 2.5])

CASES = [
    Case("identity", T.IdentityTransform, 3),
    Case("exp", T.ExpTransform, 3),
    Case("softplus", T.SoftplusTransform, 3),
    Case("sigmoid", T.SigmoidTransform, 3, big=30.0),
    Case("tanh", T.TanhTransform, 3, big=15.0),
    Case("affine", lambda: T.AffineTransform(LOC, SCALE), 3),
    Case("affine_event", lambda: T.AffineTransform(LOC, SCALE, event_dim=1), 3),
    Case("power", lambda: T.PowerTransform(2.5), 3, draw=lambda rng: rng.uniform(0.2, 3.0, 3)),
    Case("lower_bound", lambda: T.LowerBoundTransform(LO), 3),
    Case("upper_bound", lambda: T.UpperBoundTransform(HI), 3),
    Case("interval", lambda: biject_to(C.interval(LO, HI)), 3, big=30.0),
    Case("stick_breaking", T.StickBreakingTransform, 4, free=lambda y: y[:-1], big=30.0),
    Case("ordered", T.OrderedTransform, 4),
    Case("positive_ordered", T.PositiveOrderedTransform, 4),
    Case("ordered_then_exp",
         lambda: T.ComposeTransform([T.OrderedTransform(), T.ExpTransform()]), 4, big=2.0),
    Case("corr_cholesky", T.CorrCholeskyTransform, 6, free=strict_lower, big=15.0),
    Case("lower_cholesky", T.LowerCholeskyTransform, 6, free=lower),
    Case("softplus_lower_cholesky", T.SoftplusLowerCholeskyTransform, 6, free=lower),
    Case("lower_cholesky_1x1", T.LowerCholeskyTransform, 1, free=lower),
    Case("positive_definite", T.PositiveDefiniteTransform, 6, free=lower, big=3.0),
    Case("corr_matrix", lambda: biject_to(C.corr_matrix), 3, free=strict_lower, big=5.0),
    Case("cholesky", T.CholeskyTransform, 6, embed=symmetric_from_lower, free=lower,
         draw=lambda rng: pd_lower(rng)),
    Case("reshape", lambda: T.ReshapeTransform((2, 3), (6,)), 6),
    Case("compose_affine_exp",
         lambda: T.ComposeTransform([T.AffineTransform(LOC, SCALE), T.ExpTransform()]), 3),
    Case("sigmoid_inv", lambda: T.SigmoidTransform().inv, 3, draw=lambda rng: rng.uniform(
        0.05, 0.95, size=3), big=0.0),
]


def batched(case, rng, batch=(2,), scale=1.0):
    """``embed`` applied to a batch of free-coordinate draws."""
    return np.stack([np.asarray(case.embed(case.sample_free(rng, scale)))
                     for _ in range(int(np.prod(batch)))]).reshape(
        batch + np.shape(case.embed(case.sample_free(rng, scale))))


# ---- generic tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_round_trip(case):
    rng = np.random.default_rng(0)
    t = case.make()
    x = batched(case, rng)
    assert_allclose(t.inverse(t(x)), x, rtol=1e-9, atol=1e-9)
    y = t(batched(case, rng))
    assert_allclose(t(t.inverse(y)), y, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_codomain_membership(case):
    rng = np.random.default_rng(1)
    t = case.make()
    xs = [batched(case, rng, (50,))]
    if case.big and case.draw is None and case.embed is identity:
        # Large inputs of both signs, up to |x| = big (saturating sigmoids, tiny sticks).
        xs.append(rng.uniform(-case.big, case.big, size=(50, case.n_free)))
        xs.append(np.full((1, case.n_free), case.big))
        xs.append(np.full((1, case.n_free), -case.big))
        xs.append(np.array([[(-1) ** i * case.big for i in range(case.n_free)]]))
    for x in xs:
        y = t(x)
        assert np.all(np.isfinite(y))
        assert np.all(t.codomain.check(y)), f"{case.name}: output outside {t.codomain}"
        assert np.all(t.domain.check(x))


def log_abs_det_numeric(case, t, u):
    jac = autodiff.jacfwd(lambda v: case.free(t(case.embed(v))))(u)
    assert jac.shape[0] == jac.shape[1], jac.shape
    return np.linalg.slogdet(jac)[1]


@pytest.mark.parametrize("case", [c for c in CASES if c.jacobian], ids=repr)
def test_log_abs_det_jacobian_vs_autodiff_jacobian(case):
    rng = np.random.default_rng(2)
    t = case.make()
    for _ in range(3):
        u = case.sample_free(rng)
        x = np.asarray(case.embed(u))
        expected = log_abs_det_numeric(case, t, u)
        # An elementwise transform's log-det is per element: the total is their sum.
        total = np.sum(t.log_abs_det_jacobian(x, t(x)))
        assert_allclose(total, expected, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_inverse_log_det_is_negative_and_batched(case):
    rng = np.random.default_rng(3)
    t = case.make()
    x = batched(case, rng, (2, 3))
    y = t(x)
    ld = t.log_abs_det_jacobian(x, y)
    event_dim = t.domain.event_dim
    assert np.shape(ld) == x.shape[: x.ndim - event_dim]
    assert_allclose(t.inv.log_abs_det_jacobian(y, x), -ld, rtol=1e-12, atol=1e-12)
    assert t.forward_shape(x.shape) == y.shape
    assert t.inverse_shape(y.shape) == x.shape
    # Each batch element on its own gives the same log-det (no mixing across the batch).
    assert_allclose(t.log_abs_det_jacobian(x[1, 2], y[1, 2]), ld[1, 2], rtol=1e-12)


def fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradient_through_transform_vs_finite_differences(case):
    rng = np.random.default_rng(4)
    t = case.make()
    u = case.sample_free(rng)
    w = rng.normal(size=np.shape(t(case.embed(u))))

    def f(v):
        x = case.embed(v)
        y = t(x)
        return anp.sum(w * y) + anp.sum(t.log_abs_det_jacobian(x, y))

    assert_allclose(autodiff.grad(f)(u), fd_grad(f, u), rtol=1e-6, atol=1e-6)


# ---- biject_to over every continuous constraint -----------------------------------------------

CONTINUOUS = [
    (C.real, (3,)),
    (C.real_vector, (3,)),
    (C.real_matrix, (2, 3)),
    (C.positive, (3,)),
    (C.nonnegative, (3,)),
    (C.softplus_positive, (3,)),
    (C.unit_interval, (3,)),
    (C.interval(LO, HI), (3,)),
    (C.open_interval(-1.0, 1.0), (3,)),
    (C.circular, (3,)),
    (C.greater_than(LO), (3,)),
    (C.greater_than_eq(2.0), (3,)),
    (C.less_than(HI), (3,)),
    (C.less_than_eq(-1.0), (3,)),
    (C.simplex, (4,)),
    (C.ordered_vector, (4,)),
    (C.positive_ordered_vector, (4,)),
    (C.unit_vector, (3,)),
    (C.zero_sum(1), (4,)),
    (C.zero_sum(2), (2, 3)),
    (C.lower_cholesky, (6,)),
    (C.softplus_lower_cholesky, (6,)),
    (C.corr_cholesky, (6,)),
    (C.corr_matrix, (6,)),
    (C.positive_definite, (6,)),
    (C.independent(C.positive, 1), (3,)),
]


@pytest.mark.parametrize("constraint,shape", CONTINUOUS, ids=lambda v: repr(v))
def test_biject_to_maps_into_the_constraint(constraint, shape):
    rng = np.random.default_rng(5)
    t = biject_to(constraint)
    x = rng.normal(size=(5,) + shape)
    y = t(x)
    assert np.all(constraint.check(y))
    assert y.shape == t.forward_shape(x.shape)
    assert t.codomain.event_dim == constraint.event_dim
    assert np.shape(t.log_abs_det_jacobian(x, y)) == (5,) + shape[: len(shape)
                                                                    - t.domain.event_dim]
    if t.bijective:
        assert_allclose(t.inverse(y), x, rtol=1e-8, atol=1e-8)
    assert_allclose(t(t.inverse(y)), y, rtol=1e-8, atol=1e-10)
    # The feasible point is in the support and has an unconstrained preimage.
    feasible = constraint.feasible_like(y)
    assert np.all(constraint.check(feasible))
    assert np.all(np.isfinite(t.inverse(feasible)))


def test_biject_to_positive_is_exp_and_reprs_are_readable():
    assert repr(biject_to(C.positive)) == "ExpTransform()"
    assert repr(biject_to(C.greater_than(2.0))) == "LowerBoundTransform(lower_bound=2.0)"
    assert repr(C.interval(0.0, 1.5)) == "interval(lower_bound=0.0, upper_bound=1.5)"
    assert repr(T.SigmoidTransform().inv) == "SigmoidTransform().inv"


@pytest.mark.parametrize(
    "constraint",
    [C.boolean, C.integer_interval(0, 3), C.nonnegative_integer, C.positive_integer,
     C.integer_greater_than(2), C.multinomial(5), C.dependent, C.positive_semidefinite,
     C.independent(C.boolean, 1)],
    ids=repr,
)
def test_no_bijector_error_names_the_support_and_the_fix(constraint):
    with pytest.raises(T.NoBijectorError) as err:
        biject_to(constraint)
    msg = str(err.value)
    assert f"support {constraint!r} has no bijector to the real line" in msg
    assert "marginalise" in msg
    assert err.value.constraint is constraint


# ---- specific conventions ---------------------------------------------------------------------


def test_stick_breaking_zero_is_uniform_and_small_sticks_keep_precision():
    t = T.StickBreakingTransform()
    assert_allclose(t(np.zeros(5)), np.full(6, 1 / 6), rtol=1e-15)
    y = t(np.array([-40.0, -40.0, 0.0]))
    assert y[0] > 0 and y[1] > 0  # no underflow to an exact zero at exp(-40)
    assert_allclose(t.inverse(y), [-40.0, -40.0, 0.0], rtol=1e-12)


def test_corr_cholesky_matches_partial_correlation_construction():
    """Against a direct loop over Stan's definition (row-by-row stick-breaking of tanh(x))."""
    x = np.array([0.3, -1.2, 0.7, 2.0, -0.4, 0.1])
    z = np.tanh(x)
    k = 4
    L = np.zeros((k, k))
    L[0, 0] = 1.0
    pos = 0
    for i in range(1, k):
        rest = 1.0
        for j in range(i):
            L[i, j] = z[pos] * np.sqrt(rest)
            rest -= L[i, j] ** 2
            pos += 1
        L[i, i] = np.sqrt(rest)
    assert_allclose(T.CorrCholeskyTransform()(x), L, rtol=1e-12, atol=1e-15)
    assert_allclose(np.diag(L @ L.T), 1.0, rtol=1e-12)


def test_positive_definite_log_det_formula():
    """K log 2 + sum_j (K - j) log L_jj for L -> L L^T (lower triangles), checked numerically."""
    rng = np.random.default_rng(6)
    L = T.LowerCholeskyTransform()(rng.normal(size=6))
    t = T.CholeskyTransform().inv
    expected = 3 * np.log(2) + np.sum(np.arange(3, 0, -1) * np.log(np.diag(L)))
    assert_allclose(t.log_abs_det_jacobian(L, t(L)), expected, rtol=1e-12)


def test_unit_vector_convention():
    """Stan's unit_vector: y = x/|x| with the standard-normal term -|x|^2/2 as the log-det."""
    t = biject_to(C.sphere)
    x = np.array([[3.0, 4.0, 0.0], [0.1, -0.2, 0.3]])
    y = t(x)
    assert_allclose(np.linalg.norm(y, axis=-1), 1.0, rtol=1e-15)
    assert_allclose(y[0], [0.6, 0.8, 0.0])
    assert_allclose(t.log_abs_det_jacobian(x, y), -0.5 * np.sum(x**2, -1))
    assert not t.bijective
    assert_allclose(t.inverse(y), y)  # the preimage of radius 1
    # Normalisation loses exactly the radius: the Jacobian has rank n - 1.
    jac = autodiff.jacfwd(t)(x[1])
    assert np.linalg.matrix_rank(jac, tol=1e-10) == 2


@pytest.mark.parametrize("ndims,shape", [(1, (4,)), (2, (2, 3))])
def test_zero_sum_is_an_isometry_onto_the_hyperplane(ndims, shape):
    """log|J| = 0 because J^T J = I: lengths within the hyperplane are preserved."""
    rng = np.random.default_rng(7)
    t = T.ZeroSumTransform(ndims)
    x = rng.normal(size=shape)
    y = t(x)
    for axis in range(-ndims, 0):
        assert_allclose(y.sum(axis), 0.0, atol=1e-14)
    jac = autodiff.jacfwd(lambda v: anp.reshape(t(anp.reshape(v, shape)), (-1,)))(x.ravel())
    assert_allclose(jac.T @ jac, np.eye(x.size), atol=1e-14)
    assert_allclose(t.log_abs_det_jacobian(x, y), 0.0)
    assert_allclose(np.sum(y**2), np.sum(x**2), rtol=1e-13)


def test_compose_sums_elementwise_log_det_over_the_event():
    t = T.ComposeTransform([T.OrderedTransform(), T.ExpTransform()])
    x = np.array([[0.2, -0.3, 1.0], [1.0, 2.0, -1.0]])
    y = t(x)
    expected = x[:, 1:].sum(-1) + np.log(y).sum(-1)  # ordered, then exp (log|J| = log y)
    assert_allclose(t.log_abs_det_jacobian(x, y), expected, rtol=1e-13)
    assert t.domain.event_dim == 1 and t.codomain.event_dim == 1
    assert np.all(C.positive_ordered_vector.check(y))


# ---- traced parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [lambda lo, hi: C.interval(lo, hi), lambda lo, hi: C.greater_than(lo),
     lambda lo, hi: C.less_than(hi)],
    ids=["interval", "greater_than", "less_than"],
)
def test_bounds_may_be_traced_values(make):
    """Bounds that depend on other sites: gradients in the bounds match finite differences."""
    x = np.array([-0.7, 0.2, 1.5])

    def f(bounds):
        lo, hi = bounds[0], bounds[1]
        t = biject_to(make(lo, hi))
        y = t(x)
        return anp.sum(anp.sin(y)) + anp.sum(t.log_abs_det_jacobian(x, y))

    b = np.array([-1.0, 2.5])
    assert_allclose(autodiff.grad(f)(b), fd_grad(f, b), rtol=1e-6, atol=1e-8)
    graph = autodiff.make_graph(f)(b)  # stages: no Python control flow on the bounds
    assert_allclose(autodiff.eval_graph(graph, b)[0], f(b), rtol=1e-14)


def test_traced_bound_codomain_and_repr():
    def f(hi):
        t = biject_to(C.interval(0.0, hi))
        assert "traced" in repr(t.codomain) or "traced" in repr(t)
        return anp.sum(t(np.zeros(2)))

    assert_allclose(autodiff.grad(f)(4.0), 1.0)  # d/dhi of 2 * hi / 2


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_transform_stages_to_a_graph(case):
    """No Python control flow on values: forward, inverse and log-det stage and re-evaluate."""
    rng = np.random.default_rng(8)
    t = case.make()
    x = batched(case, rng)

    def f(v):
        y = t(v)
        return y, t.inverse(y), t.log_abs_det_jacobian(v, y)

    graph = autodiff.make_graph(f)(x)
    for got, want in zip(autodiff.eval_graph(graph, x), f(x)):
        assert_allclose(got, want, rtol=1e-13, atol=1e-13)
