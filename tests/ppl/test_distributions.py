"""Generic distribution tests, parametrised over the rows of ``cases.py``.

Oracles: SciPy (or a naive formula) for densities, moments, cdf/icdf and entropy; central finite
differences for gradients; Monte Carlo standard errors, KS and chi-square tests (fixed seeds)
for samplers; the eager result for staged and vectorised evaluation.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

import autodiff
from ppl import distributions as dist
from tests.ppl.cases import CASES, Case

IDS = [c.id for c in CASES]
N_MC = 20_000
Z_MC = 5.0  # Monte Carlo tolerance, in standard errors


def cases(*, discrete: bool | None = None):
    chosen = [c for c in CASES if discrete is None or c.discrete == discrete]
    return pytest.mark.parametrize("case", chosen, ids=[c.id for c in chosen])


def _skip_if(case: Case, test: str) -> None:
    if test in case.skip:
        pytest.skip(case.skip[test])


def _points(case: Case, n: int = 4, seed: int = 0) -> np.ndarray:
    d = case.make()
    return np.asarray(case.oracle().rvs((n,) + d.batch_shape, np.random.default_rng(seed)), float)


def _call_or_skip(fn, *args):
    try:
        return fn(*args)
    except NotImplementedError as e:
        pytest.skip(f"not implemented: {e}")


# ---- densities against the oracle ---------------------------------------------------------------


@cases()
def test_log_prob_matches_oracle(case):
    d, twin = case.make(), case.oracle()
    x = _points(case)
    lp = d.log_prob(x)
    assert lp.shape == (4,) + d.batch_shape
    np.testing.assert_allclose(lp, twin.logp(x), rtol=case.rtol, atol=case.atol)


@cases()
def test_mean_and_variance_match_oracle(case):
    d, twin = case.make(), case.oracle()
    if twin.mean is None:
        pytest.skip("no oracle for the moments")
    shape = d.batch_shape + d.event_shape
    np.testing.assert_allclose(d.mean, np.broadcast_to(twin.mean(), shape), rtol=1e-8,
                               atol=1e-12)
    np.testing.assert_allclose(d.variance, np.broadcast_to(twin.var(), shape), rtol=1e-7)


@cases(discrete=False)
def test_cdf_matches_oracle(case):
    d, twin = case.make(), case.oracle()
    x = _points(case)
    np.testing.assert_allclose(_call_or_skip(d.cdf, x), twin.cdf(x), rtol=1e-8, atol=1e-12)


@cases(discrete=False)
def test_icdf_matches_oracle(case):
    d, twin = case.make(), case.oracle()
    if twin.ppf is None:
        pytest.skip("no oracle for the quantile function")
    q = np.broadcast_to(np.array([0.05, 0.5, 0.95]).reshape((3,) + (1,) * len(d.batch_shape)),
                        (3,) + d.batch_shape)
    np.testing.assert_allclose(_call_or_skip(d.icdf, q), twin.ppf(q), rtol=1e-8, atol=1e-10)


@cases()
def test_entropy_matches_oracle(case):
    d, twin = case.make(), case.oracle()
    if twin.entropy is None:
        pytest.skip("no oracle for the entropy")
    h = _call_or_skip(d.entropy)
    assert np.shape(h) == d.batch_shape
    np.testing.assert_allclose(h, np.broadcast_to(twin.entropy(), d.batch_shape), rtol=1e-7)


# ---- sampling -----------------------------------------------------------------------------------


@cases()
@pytest.mark.parametrize("sample_shape", [(), (3,), (2, 3)])
def test_sample_shape_contract(case, sample_shape):
    d = case.make()
    s = d.sample(0, sample_shape)
    assert s.shape == sample_shape + d.batch_shape + d.event_shape == d.shape(sample_shape)
    assert d.log_prob(s).shape == sample_shape + d.batch_shape
    if d.has_rsample:
        assert d.rsample(np.random.default_rng(0), sample_shape).shape == s.shape


@cases()
def test_samples_lie_in_support(case):
    d = case.make()
    s = d.sample(1, (500,))
    assert np.all(d.support.check(s))
    assert np.all(np.isfinite(d.log_prob(s)))


def test_same_seed_same_draws():
    d = dist.Gamma(np.array([0.5, 2.0]))
    np.testing.assert_array_equal(d.sample(7, (5,)), d.sample(7, (5,)))
    with pytest.raises(TypeError, match="rng must be an int seed"):
        d.sample("seed")


@cases()
def test_sample_moments(case):
    _skip_if(case, "sample_moments")
    d, twin = case.make(), case.oracle()
    if twin.mean is None:
        pytest.skip("no oracle for the moments")
    shape = d.batch_shape + d.event_shape
    mean, var = np.broadcast_to(twin.mean(), shape), np.broadcast_to(twin.var(), shape)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
        pytest.skip("the mean or variance is not finite")
    s = np.asarray(d.sample(2, (N_MC,)), float)
    se_mean = np.sqrt(var / N_MC)
    assert np.all(np.abs(s.mean(0) - mean) <= Z_MC * se_mean + 1e-12), (s.mean(0), mean)
    if "sample_var" in case.skip:
        return
    centred = s - s.mean(0)
    m4 = np.mean(centred**4, 0)
    se_var = np.sqrt(np.maximum(m4 - var**2, 0.0) / N_MC)
    assert np.all(np.abs(s.var(0) - var) <= Z_MC * se_var + 1e-12), (s.var(0), var)


@cases(discrete=False)
def test_samples_pass_ks_test(case):
    _skip_if(case, "ks")
    d, twin = case.make(), case.oracle()
    s = d.sample(3, (4000,))
    # The probability integral transform pools every batch element into one uniform sample.
    u = np.asarray(twin.cdf(s)).ravel()
    assert st.kstest(u, "uniform").pvalue > 1e-3


@cases(discrete=True)
def test_samples_pass_chi_square_test(case):
    _skip_if(case, "chi2")
    d, twin = case.make(), case.oracle()
    n = 5000
    s = np.asarray(d.sample(4, (n,)), float).reshape(n, -1)
    for j in range(s.shape[1]):
        values = np.arange(s[:, j].min(), s[:, j].max() + 1)
        # Evaluate the oracle pmf on every batch element, then keep element j.
        pts = np.broadcast_to(values.reshape((-1,) + (1,) * len(d.batch_shape)),
                              (len(values),) + d.batch_shape)
        pmf = np.exp(twin.logp(pts)).reshape(len(values), -1)[:, j]
        observed = np.array([(s[:, j] == v).sum() for v in values], float)
        expected = n * pmf
        keep = expected >= 5
        obs = np.append(observed[keep], n - observed[keep].sum())
        exp = np.append(expected[keep], n - expected[keep].sum())
        if exp[-1] < 1e-6:
            obs, exp = obs[:-1], exp[:-1]
        if len(obs) < 2:
            assert obs[0] == n
            continue
        assert st.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-3, (values, observed)


# ---- gradients ----------------------------------------------------------------------------------


def _central_difference(f, x0: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        h = 1e-6 * max(1.0, abs(float(x0[i])))
        up, down = x0.copy(), x0.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2.0 * h)
    return grad


@cases()
def test_log_prob_gradients_match_finite_differences(case):
    if not case.grad:
        pytest.skip("no continuous parameter")
    x = _points(case, n=3, seed=5)
    for name in case.grad:
        theta0 = np.array(case.params[name], dtype=float)

        def f(theta, name=name):
            return dist_sum(case, {name: theta}, x)

        g = autodiff.grad(f)(theta0)
        assert np.shape(g) == theta0.shape
        np.testing.assert_allclose(g, _central_difference(f, theta0), rtol=1e-5, atol=1e-5,
                                   err_msg=f"d log_prob / d {name}")


def dist_sum(case: Case, overrides: dict, x):
    import autodiff.numpy as anp

    return anp.sum(case.dist(**{**case.params, **overrides}).log_prob(x))


@cases(discrete=False)
def test_log_prob_gradient_in_value(case):
    _skip_if(case, "value_grad")
    d = case.make()
    x = _points(case, n=3, seed=6)

    def f(v):
        import autodiff.numpy as anp

        return anp.sum(d.log_prob(v))

    np.testing.assert_allclose(autodiff.grad(f)(x), _central_difference(f, x), rtol=1e-5,
                               atol=1e-5)


@cases(discrete=False)
def test_rsample_pathwise_gradients_match_finite_differences(case):
    d = case.make()
    names = [n for n in case.grad if n in d.reparametrized_params]
    if not d.has_rsample or not names:
        pytest.skip("no reparameterised parameter")
    for name in names:
        theta0 = np.array(case.params[name], dtype=float)

        def f(theta, name=name):
            import autodiff.numpy as anp

            draw = case.dist(**{**case.params, name: theta}).rsample(7, (5,))
            return anp.sum(anp.sin(draw))  # a nonlinear functional of the same noise

        np.testing.assert_allclose(autodiff.grad(f)(theta0), _central_difference(f, theta0),
                                   rtol=1e-5, atol=1e-6, err_msg=f"d rsample / d {name}")


# ---- validation ---------------------------------------------------------------------------------


@cases()
def test_invalid_parameters_raise_naming_parameter_and_value(case):
    if not case.invalid:
        pytest.skip("no invalid value listed")
    for name, bad in case.invalid.items():
        with pytest.raises(ValueError) as info:
            case.dist(**{**case.params, name: bad}, validate_args=True)
        msg = str(info.value)
        assert case.dist.__name__ in msg and f"'{name}'" in msg, msg
        shown = [repr(float(v)) for v in np.ravel(bad)]
        assert any(v in msg for v in shown), msg
        # Without validation the same parameters are accepted.
        case.dist(**{**case.params, name: bad}, validate_args=False)


@cases()
def test_valid_parameters_pass_validation(case):
    d = case.make(validate_args=True)
    d.log_prob(d.sample(0, (2,)))


def test_enable_validation_is_global_and_checks_support():
    try:
        dist.enable_validation()
        with pytest.raises(ValueError, match=r"Normal: parameter 'scale' = -1.0"):
            dist.Normal(0.0, -1.0)
        with pytest.raises(ValueError, match="outside the support"):
            dist.Exponential(1.0).log_prob(np.array([1.0, -2.0]))
        with pytest.raises(ValueError, match="outside the support"):
            dist.Poisson(2.0).log_prob(1.5)
        dist.Normal(0.0, -1.0, validate_args=False)  # an explicit choice wins
    finally:
        dist.enable_validation(False)
    dist.Normal(0.0, -1.0)


def test_probs_and_logits_are_exclusive():
    with pytest.raises(ValueError, match="exactly one of probs= or logits="):
        dist.Bernoulli(probs=0.5, logits=0.0)
    with pytest.raises(ValueError, match="exactly one of gate= or gate_logits="):
        dist.ZeroInflatedPoisson(rate=1.0)


# ---- combinators --------------------------------------------------------------------------------


def _with_batch(case: Case):
    d = case.make()
    return d if d.batch_shape else d.expand((3,))


@cases()
def test_expand(case):
    d = case.make()
    new = (2,) + d.batch_shape
    e = d.expand(new)
    assert e.batch_shape == new and e.event_shape == d.event_shape
    assert e.sample(0, (3,)).shape == (3,) + new + d.event_shape
    x = _points(case, n=1)[0]
    np.testing.assert_allclose(e.log_prob(x), np.broadcast_to(d.log_prob(x), new))
    assert d.expand_by((4,)).batch_shape == (4,) + d.batch_shape


def test_expand_draws_independent_copies_of_size_one_dims():
    d = dist.Normal(np.array([[0.0], [100.0]]), 1.0).expand((5, 2, 3))
    s = d.sample(0, (4,))
    assert s.shape == (4, 5, 2, 3)
    np.testing.assert_allclose(s[..., 1, :].mean(), 100.0, atol=1.0)  # rows keep their loc
    assert np.all(np.std(s[..., 0, :], axis=-1) > 0)  # the grown dim is not a copy
    with pytest.raises(ValueError, match="cannot broadcast batch_shape"):
        dist.Normal(np.zeros(3), 1.0).expand((2,))


@cases()
def test_to_event_sums_the_rightmost_batch_dims(case):
    d = _with_batch(case)
    x = np.asarray(d.sample(1, (2,)))
    ind = d.to_event(1)
    assert ind.batch_shape == d.batch_shape[:-1]
    assert ind.event_shape == d.batch_shape[-1:] + d.event_shape
    np.testing.assert_allclose(ind.log_prob(x), d.log_prob(x).sum(-1))
    full = d.to_event()
    assert full.batch_shape == () and full.log_prob(x).shape == (2,)
    assert d.to_event(0) is d
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        d.to_event(len(d.batch_shape) + 1)


@cases()
def test_mask_zeroes_log_prob_where_false(case):
    d = _with_batch(case)
    mask = (np.arange(int(np.prod(d.batch_shape))) % 2 == 0).reshape(d.batch_shape)
    x = np.asarray(d.sample(2, (2,)))
    m = d.mask(mask)
    np.testing.assert_allclose(m.log_prob(x), np.where(mask, d.log_prob(x), 0.0))
    assert m.sample(0, (3,)).shape == (3,) + d.batch_shape + d.event_shape
    assert d.mask(True) is d


def test_mask_turns_minus_infinity_into_zero():
    d = dist.Uniform(np.zeros(2), 2.0).mask(np.array([True, False]))
    lp = d.log_prob(np.array([1.0, 5.0]))  # 5 is outside the support: -inf before masking
    np.testing.assert_array_equal(lp, [-np.log(2.0), 0.0])


# ---- staging and vectorisation ------------------------------------------------------------------


@cases()
def test_log_prob_stages_without_python_control_flow(case):
    _skip_if(case, "stages")
    names = list(case.params)
    params = [np.asarray(case.params[k], float) for k in names]
    x = _points(case, n=2, seed=8)

    def f(value, *ps):
        return case.dist(**dict(zip(names, ps))).log_prob(value)

    graph = autodiff.make_graph(f)(x, *params)
    (out,) = autodiff.eval_graph(graph, x, *params)
    np.testing.assert_allclose(out, case.make().log_prob(x), rtol=1e-12)


@cases()
def test_log_prob_under_vmap(case):
    d = case.make()
    xs = _points(case, n=3, seed=9)
    np.testing.assert_allclose(autodiff.vmap(d.log_prob)(xs), d.log_prob(xs), rtol=1e-12)
    if not case.grad:
        return
    name = case.grad[0]
    base = np.asarray(case.params[name], float)
    stacked = np.stack([base, 0.9 * base])

    def lp(theta):
        return case.dist(**{**case.params, name: theta}).log_prob(xs[0])

    expected = [case.dist(**{**case.params, name: t}).log_prob(xs[0]) for t in stacked]
    np.testing.assert_allclose(autodiff.vmap(lp)(stacked), np.stack(expected), rtol=1e-12)


# ---- helpers of the base module -----------------------------------------------------------------


def test_delta_unit_and_improper_uniform():
    d = dist.Delta(np.array([1.0, 2.0]), log_density=0.5, event_dim=1)
    assert d.batch_shape == () and d.event_shape == (2,)
    assert float(d.log_prob(np.array([1.0, 2.0]))) == 0.5
    assert float(d.log_prob(np.array([1.0, 3.0]))) == -np.inf
    assert d.sample(0, (3,)).shape == (3, 2)
    u = dist.Unit(np.array([0.5, -1.0]))
    assert u.event_shape == (0,)
    np.testing.assert_allclose(u.log_prob(u.sample(0)), [0.5, -1.0])
    from ppl import constraints

    iu = dist.ImproperUniform(constraints.positive, (3,), ())
    np.testing.assert_array_equal(iu.log_prob(np.ones((2, 3))), np.zeros((2, 3)))
    with pytest.raises(NotImplementedError, match="ImproperUniform cannot be sampled"):
        iu.sample(0)


def test_enumerate_support():
    b = dist.Binomial(3, probs=np.array([0.2, 0.5]))
    vals = b.enumerate_support()
    assert vals.shape == (4, 2)
    np.testing.assert_allclose(np.exp(b.log_prob(vals)).sum(0), 1.0)
    c = dist.Categorical(logits=np.zeros((2, 5)))
    assert c.enumerate_support(expand=False).shape == (5, 1)
    with pytest.raises(NotImplementedError, match="Poisson has no finite support"):
        dist.Poisson(1.0).enumerate_support()


def test_logits_stay_finite_far_in_the_tails():
    lp = dist.Bernoulli(logits=np.array([-800.0, 800.0])).log_prob(np.array([1.0, 0.0]))
    np.testing.assert_allclose(lp, [-800.0, -800.0])
    lp = dist.Categorical(logits=np.array([0.0, 900.0])).log_prob(0.0)
    np.testing.assert_allclose(lp, -900.0)
    lp = dist.OrderedLogistic(40.0, np.array([-1.0, 0.0, 1.0])).log_prob(np.arange(4.0))
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(lp[0], -41.0, rtol=1e-12)


def test_rsample_is_differentiable_in_the_parameters():
    def f(loc, scale):
        import autodiff.numpy as anp

        return anp.mean(dist.Normal(loc, scale).rsample(np.random.default_rng(0), (1000,)))

    gl, gs = autodiff.grad(f, argnums=(0, 1))(np.float64(1.0), np.float64(2.0))
    eps = np.random.default_rng(0).standard_normal(1000)
    np.testing.assert_allclose([gl, gs], [1.0, eps.mean()], rtol=1e-12)
    with pytest.raises(NotImplementedError, match="Gamma has no reparameterised sampler"):
        dist.Gamma(2.0).rsample(0)
