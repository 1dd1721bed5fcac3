"""The compiled optimiser updates against the published update rules, written out in NumPy, and
the step-size schedules against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inference import optim
from kernels import optimizers as k


def reference_updates(kind, hyper, x, grads, step_sizes):
    """The rules as stated by their papers / jax.example_libraries.optimizers."""
    x = x.copy()
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    for t, (g, eta) in enumerate(zip(grads, step_sizes), start=1):
        if kind == k.SGD:
            x = x - eta * g
        elif kind == k.MOMENTUM:
            a = hyper["mass"] * a + g
            x = x - eta * a
        elif kind == k.ADAGRAD:
            a = a + g**2
            b = (1 - hyper["momentum"]) * g / np.sqrt(a) + hyper["momentum"] * b
            x = x - eta * b
        elif kind == k.RMSPROP:
            a = hyper["gamma"] * a + (1 - hyper["gamma"]) * g**2
            x = x - eta * g / np.sqrt(a + hyper["eps"])
        else:
            if kind == k.CLIPPED_ADAM:
                g = np.clip(g, -hyper["clip_norm"], hyper["clip_norm"])
                eta = eta * hyper["lrd"] ** (t - 1)
            a = hyper["b1"] * a + (1 - hyper["b1"]) * g
            b = hyper["b2"] * b + (1 - hyper["b2"]) * g**2
            m_hat = a / (1 - hyper["b1"] ** t)
            v_hat = b / (1 - hyper["b2"] ** t)
            x = x - eta * m_hat / (np.sqrt(v_hat) + hyper["eps"])
    return x


OPTIMIZERS = [
    optim.SGD(0.1),
    optim.Momentum(0.1, mass=0.8),
    optim.Adagrad(0.3, momentum=0.7),
    optim.RMSProp(0.05, gamma=0.8),
    optim.Adam(0.05),
    optim.ClippedAdam(0.05, clip_norm=0.5, lrd=0.99),
]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: type(o).__name__)
def test_compiled_update_follows_the_rule(opt):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=5)
    grads = rng.normal(scale=2.0, size=(7, 5))
    sizes = opt.step_sizes(0, 7)
    x = x0.copy()
    state = np.zeros((k.STATE_ROWS, 5))
    for t, g in enumerate(grads, start=1):
        k.optimizer_update(opt.kind, opt.hyper_array(), state, x, g, t, sizes[t - 1])
    np.testing.assert_allclose(x, reference_updates(opt.kind, opt.hyper, x0, grads, sizes),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: type(o).__name__)
def test_every_optimiser_minimises_a_quadratic(opt):
    target = np.array([1.0, -2.0, 0.5])
    x = np.zeros(3)
    state = np.zeros((k.STATE_ROWS, 3))
    for t in range(1, 3001):
        k.optimizer_update(opt.kind, opt.hyper_array(), state, x, x - target, t,
                           opt.step_sizes(t - 1, 1)[0] * (0.999 ** t))
    np.testing.assert_allclose(x, target, atol=0.05)


def test_schedules_follow_their_formulas():
    decay = optim.exponential_decay(0.1, transition_steps=10, decay_rate=0.5)
    assert decay(0) == 0.1 and math.isclose(decay(5), 0.1 * 0.5**0.5)
    stairs = optim.exponential_decay(0.1, 10, 0.5, staircase=True)
    assert stairs(19) == 0.05
    assert optim.exponential_decay(1.0, 1, 0.5, end_value=0.2)(10) == 0.2
    cosine = optim.cosine_decay(1.0, decay_steps=100, alpha=0.1)
    assert cosine(0) == 1.0 and math.isclose(cosine(50), 0.1 + 0.9 * 0.5)
    assert math.isclose(cosine(500), 0.1)
    piecewise = optim.piecewise_constant([10, 20], [1.0, 0.5, 0.1])
    assert [piecewise(t) for t in (0, 9, 10, 19, 20, 100)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]


def test_a_schedule_is_evaluated_per_step_and_checked():
    opt = optim.Adam(lambda t: 1.0 / (t + 1))
    np.testing.assert_allclose(opt.step_sizes(3, 3), [1 / 4, 1 / 5, 1 / 6])
    with pytest.raises(ValueError, match="step 2"):
        optim.SGD(lambda t: 1.0 if t < 2 else float("nan")).step_sizes(0, 5)
    with pytest.raises(ValueError, match="piecewise_constant"):
        optim.piecewise_constant([1, 2], [1.0])
    with pytest.raises(ValueError, match="method"):
        optim.Minimize("Nelder-Mead")
