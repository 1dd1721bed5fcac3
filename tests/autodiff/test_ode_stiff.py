"""The stiff ``odeint`` (``method="rosenbrock"``) failing, and its checkpointed adjoint: a
non-finite right-hand side or Jacobian is an error eagerly, NaN under ``jit`` and a divergence
under NUTS (never an exception from inside a kernel); the adjoint gradient against forward
sensitivities and finite differences on Van der Pol (mu = 1000) and Robertson."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp
import ppl
import ppl.distributions as dist
from autodiff import ODESolveError, odeint
from autodiff.ops.ode import odeint_with_info
from inference import MCMC, NUTS, SamplingWarning
from kernels import ode_common
from ppl.model import compile_model


def _fd_grad(f, x, eps):
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])


# ---- failures ----------------------------------------------------------------------------------

TS_FAIL = np.array([0.0, 0.25, 0.5])


def _sqrt_decay(y, t, c):
    # y' = -c sqrt(y): at y = 0 the value is 0 but the Jacobian -c / (2 sqrt(y)) is infinite
    return -c * anp.sqrt(y)


def _blow_up(y, t, c):
    return c * y * y  # y(t) = y0 / (1 - c y0 t): infinite at t = 1 / (c y0)


def test_a_non_finite_jacobian_or_right_hand_side_raises_eagerly():
    with pytest.raises(ODESolveError, match=r"Jacobian of the right-hand side is NaN or infinite"
                       r".*stopped at t = 0 of t = \[0, 0.5\] after 1 steps .*mxstep=100000, "
                       r"rtol=1e-06, atol=1e-09\); check that func is differentiable"):
        odeint(_sqrt_decay, np.array([0.0]), TS_FAIL, 1.0, method="rosenbrock", rtol=1e-6,
               atol=1e-9)
    # the steps shrink below round-off before t = 1/3 (or y overflows, and J with it)
    with pytest.raises(ODESolveError, match=r"(round-off|Jacobian).*stopped at t = 0\.33333.* "
                       r"after \d+ steps .*mxstep=100000, rtol=1e-06, atol=1e-09\)"):
        odeint(_blow_up, np.array([3.0]), TS_FAIL, 1.0, method="rosenbrock", rtol=1e-6,
               atol=1e-9)
    with pytest.raises(ODESolveError, match="initial point"):
        odeint(lambda y, t: anp.log(y - 2.0), np.array([1.0]), TS_FAIL, method="rosenbrock")


@pytest.mark.parametrize("sensitivity", ["forward", "adjoint"])
def test_a_failed_stiff_solve_is_nan_under_jit_and_so_is_its_gradient(sensitivity):
    def loss(log_y0):
        ys = odeint(_blow_up, anp.exp(log_y0), TS_FAIL, 1.0, method="rosenbrock",
                    sensitivity=sensitivity)
        return anp.sum(ys[1:])

    value_and_grad = autodiff.jit(autodiff.value_and_grad(loss))
    v, g = value_and_grad(np.log(np.array([1.0])))  # y(0.5) = 2: solved
    np.testing.assert_allclose([v, g[0]], [4.0 / 3.0 + 2.0, 16.0 / 9.0 + 4.0], rtol=1e-5)
    v, g = value_and_grad(np.log(np.array([3.0])))  # infinite at t = 1/3
    assert np.isnan(v) and np.all(np.isnan(g))
    ys, info = autodiff.jit(lambda y0: odeint_with_info(_sqrt_decay, y0, TS_FAIL, 1.0,
                                                        method="rosenbrock"))(np.zeros(1))
    assert info[0] == ode_common.SINGULAR and np.all(np.isnan(ys[1:]))


def _stiff_blow_up_model(sensitivity):
    # y' = y^2 + a stiff decaying pair, y(0) = e^u: the solve to t = 0.5 fails for u > log 2
    def rhs(y, t, k):
        return anp.stack([y[0] * y[0], -k * (y[1] - y[0]), -k * y[2] + y[1]])

    def model():
        u = ppl.sample("u", dist.Normal(0.0, 1.0))
        y0 = anp.concatenate([anp.reshape(anp.exp(u), (1,)), np.zeros(2)])
        z = odeint(rhs, y0, np.array([0.0, 0.5]), 1e4, method="rosenbrock", rtol=1e-6,
                   atol=1e-8, sensitivity=sensitivity)
        ppl.factor("solution", 0.0 * z[1, 0])  # NaN where the solve failed, else 0

    return model


@pytest.mark.parametrize("sensitivity", ["forward", "adjoint"])
def test_a_failing_stiff_solve_is_a_divergence_under_nuts(sensitivity, capfd):
    cm = compile_model(_stiff_blow_up_model(sensitivity))
    inside, outside = np.array([0.0]), np.array([1.0])
    lp, grad = cm.logp_and_grad(inside)
    assert np.isfinite(lp) and np.all(np.isfinite(grad))
    assert not np.isfinite(cm.logp_and_grad(outside)[0])
    with pytest.raises(ODESolveError, match=r"(round-off|Jacobian).*stopped at t = 0\.36787.*"
                       r"mxstep=100000, rtol=1e-06, atol=1e-08\)"):
        cm.logp_and_grad_numpy(outside)
    mcmc = MCMC(NUTS(cm), num_warmup=150, num_samples=150, num_chains=1, progress_bar=False)
    with pytest.warns(SamplingWarning, match="divergent"):
        mcmc.run(seed=0, init_params=inside)
    u = mcmc.get_samples()["u"]
    diverging = mcmc.get_extra_fields(warmup=False)["diverging"]
    assert u.shape == (150,) and np.all(u < np.log(2.0))
    assert diverging.sum() > 0
    # nothing raised (and swallowed) inside the compiled model
    assert "Error" not in capfd.readouterr().err


# ---- the checkpointed adjoint ------------------------------------------------------------------


def van_der_pol(y, t, mu):
    return anp.stack([y[1], mu * (1.0 - y[0] ** 2) * y[1] - y[0]])


def test_van_der_pol_adjoint_equals_forward_sensitivities_and_finite_differences():
    # mu = 1000 on the slow (stiff) branch: at tolerances 1e-12 hundreds of steps, so dozens of
    # recomputed segments (kernels.ode_checkpoints)
    ts = np.linspace(0.0, 500.0, 6)
    tol = {"rtol": 1e-12, "atol": 1e-12}

    def loss(x, sensitivity):  # x = (log mu, y0)
        ys = odeint(van_der_pol, x[1:], ts, anp.exp(x[0]), method="rosenbrock",
                    sensitivity=sensitivity, **tol)
        return anp.sum(ys[1:, 0] * np.arange(1.0, 6.0)) + anp.sum(ys[1:, 1] ** 2) * 1e3

    x = np.array([np.log(1000.0), 2.0, 0.0])
    _, info = odeint_with_info(van_der_pol, x[1:], ts, 1000.0, method="rosenbrock", **tol)
    assert info[2] > 300
    g_adj = autodiff.grad(loss)(x, "adjoint")
    g_fwd = autodiff.grad(loss)(x, "forward")
    np.testing.assert_allclose(g_adj, g_fwd, rtol=1e-8, atol=1e-9)
    # the initial velocity's effect decays at rate mu: its small derivative is within the
    # differences' noise (solver error / eps), hence the absolute tolerance
    np.testing.assert_allclose(g_adj, _fd_grad(lambda v: loss(v, "forward"), x, 1e-5),
                               rtol=1e-7, atol=1e-6)


def robertson(y, t, k):
    return anp.stack([-k[0] * y[0] + k[2] * y[1] * y[2],
                      k[0] * y[0] - k[2] * y[1] * y[2] - k[1] * y[1] ** 2,
                      k[1] * y[1] ** 2])


def test_robertson_adjoint_over_many_output_times_equals_forward_sensitivities():
    # 60 output times over eleven decades: the backward solve stops at each and at every
    # segment start; both y0 and the rates differentiated (6 directions)
    ts = np.concatenate([[0.0], np.logspace(-5.0, 6.0, 59)])
    w = np.linspace(1.0, 2.0, ts.size)

    def loss(x, sensitivity):
        ys = odeint(robertson, x[:3], ts, anp.exp(x[3:]), method="rosenbrock", rtol=1e-9,
                    atol=1e-13, sensitivity=sensitivity)
        return anp.sum(w * (ys[:, 0] + 1e4 * ys[:, 1] + 3.0 * ys[:, 2] ** 2))

    x = np.concatenate([[1.0, 0.0, 0.0], np.log([0.04, 3e7, 1e4])])
    g_fwd = autodiff.grad(loss)(x, "forward")
    np.testing.assert_allclose(autodiff.grad(loss)(x, "adjoint"), g_fwd, rtol=1e-7,
                               atol=1e-9 * np.abs(g_fwd).max())
    np.testing.assert_allclose(g_fwd[3:], _fd_grad(lambda v: loss(v, "forward"), x, 1e-5)[3:],
                               rtol=1e-5)
