"""``autodiff.odeint`` against SciPy's ``solve_ivp``, the matrix exponential, finite differences,
and itself in the other derivative modes, under ``jit``/``vmap`` and inside a NUTS model."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from scipy.integrate import solve_ivp

import autodiff
import autodiff.numpy as anp
import ppl
import ppl.distributions as dist
from autodiff import ODESolveError, odeint
from autodiff.ops.ode import odeint_with_info
from inference import MCMC, NUTS, SamplingWarning
from ppl.model import compile_model

TS = np.linspace(0.0, 12.0, 9)
Y0 = np.array([30.0, 4.0])
THETA = np.array([0.55, 0.028, 0.84, 0.026])


def lotka_volterra(y, t, theta):
    a, b, c, d = theta[0], theta[1], theta[2], theta[3]
    return anp.stack([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])


def _scipy(fun, y0, ts, method="DOP853", rtol=1e-13, atol=1e-13, jac=None):
    sol = solve_ivp(lambda t, y: np.asarray(fun(y, t)), (ts[0], ts[-1]), y0, t_eval=ts,
                    method=method, rtol=rtol, atol=atol, jac=jac)
    assert sol.success
    return sol.y.T


def _fd_grad(f, x, eps=1e-6):
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])


# ---- values ------------------------------------------------------------------------------------


def test_lotka_volterra_matches_scipy():
    ys = odeint(lotka_volterra, Y0, TS, THETA, rtol=1e-11, atol=1e-11)
    ref = _scipy(lambda y, t: lotka_volterra(y, t, THETA), Y0, TS)
    assert ys.shape == (TS.size, 2)
    np.testing.assert_allclose(ys, ref, rtol=1e-8)
    np.testing.assert_array_equal(ys[0], Y0)


def test_linear_system_matches_the_matrix_exponential():
    a = np.array([[-0.5, 1.0, 0.0], [-1.0, -0.3, 0.2], [0.1, 0.0, -0.8]])
    y0 = np.array([1.0, -2.0, 0.5]).reshape(3, 1)  # any shape of state
    ts = np.array([0.0, 0.1, 0.7, 2.0, 5.0])
    ys = odeint(lambda y, t, m: m @ y, y0, ts, a, rtol=1e-12, atol=1e-12)
    assert ys.shape == (5, 3, 1)
    exact = np.stack([scipy.linalg.expm(a * t) @ y0 for t in ts])
    np.testing.assert_allclose(ys, exact, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ys[:, :, 0], _scipy(lambda y, t: a @ y, y0[:, 0], ts), atol=1e-10)


def test_a_pytree_state():
    # Lotka-Volterra with the state as a dict of a scalar and a (1,)-array: the same solution
    def rhs(y, t, theta):
        f = lotka_volterra(anp.stack([y["prey"], y["predator"][0]]), t, theta)
        return {"prey": f[0], "predator": anp.reshape(f[1], (1,))}

    def solve(y0, theta):
        return odeint(rhs, {"prey": y0[0], "predator": y0[1:]}, TS, theta, rtol=1e-10,
                      atol=1e-10)

    ys = solve(Y0, THETA)
    ref = odeint(lotka_volterra, Y0, TS, THETA, rtol=1e-10, atol=1e-10)
    assert ys["prey"].shape == (TS.size,) and ys["predator"].shape == (TS.size, 1)
    np.testing.assert_array_equal(ys["prey"], ref[:, 0])
    np.testing.assert_array_equal(ys["predator"][:, 0], ref[:, 1])
    with pytest.raises(ValueError, match="y's structure"):
        odeint(lambda y, t: {"prey": y["prey"]}, {"prey": 1.0, "predator": 2.0}, TS)


def test_closed_over_values_and_time_dependence():
    # y' = -k y + sin(t) with k closed over: y = Ce^{-kt} + (k sin t - cos t)/(1 + k^2)
    k = 1.7
    ts = np.linspace(0.0, 4.0, 7)
    ys = odeint(lambda y, t: -k * y + anp.sin(t), np.array(2.0), ts, rtol=1e-12, atol=1e-12)
    c = 2.0 + 1.0 / (1 + k**2)
    exact = c * np.exp(-k * ts) + (k * np.sin(ts) - np.cos(ts)) / (1 + k**2)
    np.testing.assert_allclose(ys, exact, rtol=1e-9)


def robertson(y, t, k):
    return anp.stack([-k[0] * y[0] + k[2] * y[1] * y[2],
                      k[0] * y[0] - k[2] * y[1] * y[2] - k[1] * y[1] ** 2,
                      k[1] * y[1] ** 2])


K_ROBERTSON = np.array([0.04, 3e7, 1e4])
TS_ROBERTSON = np.array([0.0, 0.4, 4.0, 40.0, 400.0, 4e3, 4e4])


def test_stiff_robertson_matches_radau():
    y0 = np.array([1.0, 0.0, 0.0])
    ys = odeint(robertson, y0, TS_ROBERTSON, K_ROBERTSON, method="rosenbrock", rtol=1e-9,
                atol=1e-13)
    f, jac = _robertson_numpy()
    ref = _scipy(f, y0, TS_ROBERTSON, method="Radau", rtol=1e-11, atol=1e-15, jac=jac)
    np.testing.assert_allclose(ys, ref, rtol=1e-6, atol=1e-13)
    np.testing.assert_allclose(ys.sum(axis=1), 1.0, rtol=1e-12)  # a linear invariant


def _robertson_numpy():
    k1, k2, k3 = K_ROBERTSON

    def f(y, t):  # NumPy twins of the right-hand side and its Jacobian for SciPy
        return np.array([-k1 * y[0] + k3 * y[1] * y[2],
                         k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2, k2 * y[1] ** 2])

    def jac(t, y):
        return np.array([[-k1, k3 * y[2], k3 * y[1]],
                         [k1, -k3 * y[2] - 2 * k2 * y[1], -k3 * y[1]],
                         [0.0, 2 * k2 * y[1], 0.0]])

    return f, jac


def van_der_pol(y, t, mu):
    return anp.stack([y[1], mu * (1.0 - y[0] ** 2) * y[1] - y[0]])


def _van_der_pol_numpy(mu):
    return (lambda y, t: np.array([y[1], mu * (1.0 - y[0] ** 2) * y[1] - y[0]]),
            lambda t, y: np.array([[0.0, 1.0],
                                   [-2.0 * mu * y[0] * y[1] - 1.0, mu * (1 - y[0] ** 2)]]))


def test_stiff_van_der_pol_matches_radau():
    mu, ts, y0 = 1000.0, np.array([0.0, 500.0, 1000.0]), np.array([2.0, 0.0])  # one jump
    ys = odeint(van_der_pol, y0, ts, mu, method="rosenbrock", rtol=1e-8, atol=1e-8)
    f, jac = _van_der_pol_numpy(mu)
    ref = _scipy(f, y0, ts, method="Radau", rtol=1e-9, atol=1e-9, jac=jac)
    np.testing.assert_allclose(ys[:, 0], ref[:, 0], atol=1e-5)  # y0 swings between +-2
    with pytest.raises(ODESolveError, match="mxstep=500"):  # dopri5 is stuck on it
        odeint(van_der_pol, y0, ts, mu, mxstep=500)


@pytest.mark.parametrize("problem", ["robertson", "van_der_pol"])
def test_rosenbrock_dense_output_at_many_times(problem):
    # outputs by the continuous extension: as accurate as the steps (against Radau at tight
    # tolerances), and the steps are those of a solve to the last time alone -- fewer than the
    # len(ts) - 1 a solver that ends a step at every output time would need
    if problem == "robertson":
        y0, args, rtol, atol, tol = np.array([1.0, 0.0, 0.0]), (K_ROBERTSON,), 1e-9, 1e-13, 1e-9
        ts = np.concatenate([[0.0], np.logspace(-5.0, np.log10(4e4), 1999)])
        ts[-1] = 4e4
        (f, jac), rhs = _robertson_numpy(), robertson
    else:
        y0, args, rtol, atol, tol = np.array([2.0, 0.0]), (1000.0,), 1e-8, 1e-8, 1e-5
        ts = np.linspace(0.0, 2000.0, 4000)  # two relaxation jumps
        (f, jac), rhs = _van_der_pol_numpy(1000.0), van_der_pol
    ys, info = odeint_with_info(rhs, y0, ts, *args, method="rosenbrock", rtol=rtol, atol=atol)
    ref = _scipy(f, y0, ts, method="Radau", rtol=rtol * 1e-2, atol=atol * 1e-2, jac=jac)
    np.testing.assert_allclose(ys, ref, rtol=0.0, atol=tol)
    _, info_ends = odeint_with_info(rhs, y0, ts[[0, -1]], *args, method="rosenbrock", rtol=rtol,
                                    atol=atol)
    assert info[2] == info_ends[2] < ts.size - 1


def test_stiff_gradient_by_forward_sensitivities():
    y0 = np.array([1.0, 0.0, 0.0])

    def loss(log_k, sensitivity="auto"):
        ys = odeint(robertson, y0, TS_ROBERTSON, anp.exp(log_k), method="rosenbrock",
                    rtol=1e-9, atol=1e-13, sensitivity=sensitivity)
        return anp.sum(anp.log(ys[1:, 2]))

    log_k = np.log(K_ROBERTSON)
    g = autodiff.grad(loss)(log_k)
    np.testing.assert_allclose(g, _fd_grad(loss, log_k, eps=1e-5), rtol=1e-6)
    # the adjoint, integrated backwards against the stored forward solution
    np.testing.assert_allclose(autodiff.grad(loss)(log_k, "adjoint"), g, rtol=1e-8)


def test_stiff_van_der_pol_adjoint_gradient_matches_finite_differences():
    ts = np.linspace(0.0, 500.0, 6)

    def loss(x, sensitivity="adjoint"):  # x = (log mu, y0): through the stiff slow phase
        ys = odeint(van_der_pol, x[1:], ts, anp.exp(x[0]), method="rosenbrock", rtol=1e-10,
                    atol=1e-10, sensitivity=sensitivity)
        return anp.sum(ys[1:, 0] * np.arange(1.0, 6.0)) + anp.sum(ys[1:, 1] ** 2) * 1e3

    x = np.array([np.log(1000.0), 2.0, 0.0])
    # the initial velocity's effect decays at rate mu: its small derivative is within the
    # differences' noise (solver error / eps), hence the absolute tolerance (forward
    # sensitivities agree to 1e-6 relative on every component, but cost a compile here;
    # test_stiff_gradient_by_forward_sensitivities compares the two on Robertson)
    np.testing.assert_allclose(autodiff.grad(loss)(x), _fd_grad(loss, x, eps=1e-5), rtol=1e-5,
                               atol=1e-4)


# ---- derivatives -------------------------------------------------------------------------------


def _loss(theta, y0, sensitivity="auto"):
    ys = odeint(lotka_volterra, y0, TS, theta, rtol=1e-10, atol=1e-10, sensitivity=sensitivity)
    return anp.sum(anp.log(ys) * np.linspace(1.0, 2.0, TS.size)[:, None])


@pytest.mark.parametrize("sensitivity", ["forward", "adjoint"])
def test_gradients_match_finite_differences(sensitivity):
    g_theta, g_y0 = autodiff.grad(_loss, argnums=(0, 1))(THETA, Y0, sensitivity)
    np.testing.assert_allclose(g_theta, _fd_grad(lambda th: _loss(th, Y0), THETA), rtol=1e-5)
    np.testing.assert_allclose(g_y0, _fd_grad(lambda y: _loss(THETA, y), Y0), rtol=1e-5)


def test_forward_sensitivities_adjoint_and_jvp_agree():
    g_fwd = autodiff.grad(_loss, argnums=(0, 1))(THETA, Y0, "forward")
    g_adj = autodiff.grad(_loss, argnums=(0, 1))(THETA, Y0, "adjoint")
    for a, b in zip(g_fwd, g_adj):
        np.testing.assert_allclose(a, b, rtol=1e-7)
    # forward mode: one JVP per basis direction gives the same gradient
    jvps = [autodiff.jvp(lambda th: _loss(th, Y0), (THETA,), (e,))[1] for e in np.eye(4)]
    np.testing.assert_allclose(jvps, g_fwd[0], rtol=1e-7)


def test_derivatives_with_respect_to_the_times():
    # y' = -k y + sin t: moving t_i moves y(t_i) by f(y(t_i), t_i), moving t_0 shifts the start
    w = np.array([1.0, -2.0, 0.5, 3.0])

    def loss(ts, sensitivity="forward"):
        ys = odeint(lambda y, t, k: -k * y + anp.sin(t), np.array([1.5]), ts, 0.8, rtol=1e-11,
                    atol=1e-11, sensitivity=sensitivity)
        return anp.sum(ys[:, 0] * w)

    ts = np.array([0.2, 0.7, 1.5, 2.0])
    fd = _fd_grad(loss, ts)
    for sensitivity in ("forward", "adjoint"):
        np.testing.assert_allclose(autodiff.grad(loss)(ts, sensitivity), fd, rtol=1e-7)
    jvps = [autodiff.jvp(loss, (ts,), (e,))[1] for e in np.eye(4)]
    np.testing.assert_allclose(jvps, fd, rtol=1e-7)


def test_second_derivative_through_forward_sensitivities():
    def f(k):
        return odeint(lambda y, t, k: -k * y, np.array([1.0]), np.array([0.0, 2.0]), k,
                      rtol=1e-11, atol=1e-11, sensitivity="forward")[1, 0]
    # y(2) = exp(-2k): d2/dk2 = 4 exp(-2k)
    h = autodiff.grad(autodiff.grad(f))(0.3)
    np.testing.assert_allclose(h, 4.0 * np.exp(-0.6), rtol=1e-7)


def test_jit_and_vmap():
    f = autodiff.jit(autodiff.value_and_grad(_loss))
    v, g = f(THETA, Y0)
    v0, g0 = autodiff.value_and_grad(_loss)(THETA, Y0)
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    np.testing.assert_allclose(g, g0, rtol=1e-10)
    y0s = np.array([[30.0, 4.0], [10.0, 8.0]])
    batched = autodiff.vmap(lambda y0: odeint(lotka_volterra, y0, TS, THETA))(y0s)
    for b in range(2):
        np.testing.assert_allclose(batched[b], odeint(lotka_volterra, y0s[b], TS, THETA),
                                   rtol=1e-12)


def _decays(k, ts):
    return autodiff.vmap(lambda kk: odeint(lambda y, t, k: -k * y, np.array([1.0]), ts, kk,
                                           rtol=1e-10, atol=1e-10))(k)


def _decays_model(ts, y_obs):
    k = ppl.sample("k", dist.LogNormal(0.0, 0.5).expand([y_obs.shape[0]]))
    s = ppl.sample("s", dist.LogNormal(-2.3, 0.1))
    ppl.sample("y", dist.Normal(_decays(k, ts)[:, :, 0], s), obs=y_obs)


def test_vmap_over_an_empty_batch_eagerly_under_jit_and_in_a_model():
    ts = np.linspace(0.0, 4.0, 5)
    assert _decays(np.zeros(0), ts).shape == (0, 5, 1)
    assert autodiff.jit(_decays)(np.zeros(0), ts).shape == (0, 5, 1)
    k = np.array([0.5, 1.5])
    np.testing.assert_allclose(autodiff.jit(_decays)(k, ts)[:, :, 0], np.exp(-np.outer(k, ts)),
                               rtol=1e-8)
    # a model with no subjects: the density is the prior of s alone (in u = log s)
    cm = compile_model(_decays_model, ts, np.zeros((0, 5)))
    u = np.array([-2.0])
    lp, grad = cm.logp_and_grad(u)
    np.testing.assert_allclose(lp, scipy.stats.norm.logpdf(u[0], -2.3, 0.1), rtol=1e-12)
    np.testing.assert_allclose(grad, [-(u[0] + 2.3) / 0.01], rtol=1e-12)


# ---- failures ----------------------------------------------------------------------------------


def test_failures_raise_an_informative_error_eagerly():
    with pytest.raises(ODESolveError, match=r"mxstep.*stopped at t = .*after 10 steps"):
        odeint(lotka_volterra, Y0, TS, THETA, mxstep=10)
    # y' = y^2 blows up at t = 1
    with pytest.raises(ODESolveError, match="round-off"):
        odeint(lambda y, t: y * y, np.array([1.0]), np.array([0.0, 2.0]))
    with pytest.raises(ODESolveError, match="initial point"):
        odeint(lambda y, t: anp.log(y - 2.0), np.array([1.0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="strictly increasing"):
        odeint(lotka_volterra, Y0, TS[::-1], THETA)
    with pytest.raises(ValueError, match="returned shape"):
        odeint(lambda y, t: y[0], Y0, TS)


def test_mxstep_caps_the_steps_between_two_output_times():
    # 41 output times: over 80 steps in all (dopri5 at the default tolerances) but at most 5
    # between two of them, so mxstep=5 suffices, and the solution is that of an unbounded solve
    ts = np.linspace(0.0, 12.0, 41)
    ys = odeint(lotka_volterra, Y0, ts, THETA, mxstep=5)
    np.testing.assert_array_equal(ys, odeint(lotka_volterra, Y0, ts, THETA))
    np.testing.assert_allclose(ys, _scipy(lambda y, t: lotka_volterra(y, t, THETA), Y0, ts),
                               rtol=1e-6)
    # ... and one long interval (from t = 3 to 12) exceeds it
    gap = np.concatenate([ts[:11], [12.0]])
    with pytest.raises(ODESolveError, match=r"between two output times reached mxstep: the solve "
                       r"stopped at t = .* after \d+ steps, 5 of them after the output time 3 .*"
                       r"mxstep=5, rtol=1.4e-08, atol=1.4e-08\); raise mxstep"):
        odeint(lotka_volterra, Y0, gap, THETA, mxstep=5)


def test_a_failed_solve_is_nan_under_jit():
    ys = autodiff.jit(lambda th: odeint(lotka_volterra, Y0, TS, th, mxstep=10))(THETA)
    assert np.all(np.isfinite(ys[0])) and np.all(np.isnan(ys[-1]))


# ---- inside a model ----------------------------------------------------------------------------


def _lv_model(ts, y_obs, mxstep=100_000):
    theta = ppl.sample("theta", dist.LogNormal(np.log(np.array([0.55, 0.028, 0.84, 0.026])),
                                               0.2))
    z0 = ppl.sample("z0", dist.LogNormal(np.log(np.array([30.0, 4.0])), 0.2))
    sigma = ppl.sample("sigma", dist.LogNormal(-1.0, 0.5))
    z = odeint(lotka_volterra, z0, ts, theta, rtol=1e-8, atol=1e-8, mxstep=mxstep)
    ppl.sample("y", dist.LogNormal(anp.log(z), sigma), obs=y_obs)


def _lv_data():
    rng = np.random.default_rng(1)
    truth = _scipy(lambda y, t: lotka_volterra(y, t, THETA), Y0, TS)
    return np.exp(np.log(truth) + 0.1 * rng.standard_normal(truth.shape))


def test_model_compiled_density_equals_eager_and_nuts_runs():
    y_obs = _lv_data()
    cm = compile_model(_lv_model, TS, y_obs)
    rng = np.random.default_rng(0)
    for _ in range(2):
        theta = rng.normal(0.0, 0.1, cm.dim) + cm.unconstrain(
            {"theta": THETA, "z0": Y0, "sigma": 0.1})
        lp, grad = cm.logp_and_grad(theta)
        lp_np, grad_np = cm.logp_and_grad_numpy(theta)
        assert np.isfinite(lp)
        np.testing.assert_allclose([lp, *grad], [lp_np, *grad_np], rtol=1e-9, atol=1e-9)
    mcmc = MCMC(NUTS(cm), num_warmup=60, num_samples=40, num_chains=1, progress_bar=False)
    mcmc.run(seed=3)
    draws = mcmc.get_samples()["theta"]
    assert draws.shape == (40, 4) and np.all(np.isfinite(draws))


def _blow_up_model():
    # y' = y^2, y(0) = y0 blows up at t = 1/y0: the solve to t = 0.5 fails for y0 > 2, i.e.
    # for log y0 = u > log 2, a quarter of u's standard normal prior
    u = ppl.sample("u", dist.Normal(0.0, 1.0))
    z = odeint(lambda y, t: y * y, anp.reshape(anp.exp(u), (1,)), np.array([0.0, 0.5]))
    ppl.factor("solution", 0.0 * z[1, 0])  # NaN where the solve failed, else 0


def test_a_failing_solve_is_a_divergence_under_nuts():
    cm = compile_model(_blow_up_model)
    inside, outside = np.array([0.0]), np.array([1.0])
    assert np.isfinite(cm.logp_and_grad(inside)[0])
    assert not np.isfinite(cm.logp_and_grad(outside)[0])
    with pytest.raises(ODESolveError, match=r"round-off.*stopped at t = 0\.36787.*mxstep=100000"):
        cm.logp_and_grad_numpy(outside)
    mcmc = MCMC(NUTS(cm), num_warmup=200, num_samples=200, num_chains=1, progress_bar=False)
    with pytest.warns(SamplingWarning, match="divergent"):
        mcmc.run(seed=0, init_params=inside)
    u = mcmc.get_samples()["u"]
    diverging = mcmc.get_extra_fields(warmup=False)["diverging"]
    assert u.shape == (200,) and np.all(u < np.log(2.0))
    assert diverging.sum() > 0
