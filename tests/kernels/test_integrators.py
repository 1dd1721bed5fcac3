"""Leapfrog integrator and metric operations on a harmonic oscillator (Gaussian target)."""

import numpy as np

from kernels import integrators as I
from kernels import rng
from kernels.metric import (
    DENSE,
    DIAG,
    Metric,
    cholesky_lower,
    hamiltonian,
    sample_momentum,
    velocity,
)
from kernels.model_abi import Model, evaluate, logp_grad
from tests.cfunc_models import gauss_data as _data
from tests.cfunc_models import gaussian_precision


def test_model_abi_roundtrip():
    prec = np.array([[2.0, 0.5], [0.5, 1.0]])
    data = _data([1.0, -1.0], prec)
    theta = np.array([0.3, 0.7])
    g = np.empty(2)
    status, lp = logp_grad(gaussian_precision.address, data.ctypes.data, theta, g)
    x = theta - np.array([1.0, -1.0])
    assert status == 0
    np.testing.assert_allclose(lp, -0.5 * x @ prec @ x, rtol=1e-14)
    np.testing.assert_allclose(g, -prec @ x, rtol=1e-14)
    assert evaluate(gaussian_precision.address, data.ctypes.data, theta, g)[0] == 0


def _integrate(metric_kind, inv_diag, inv_dense, data, q, p, eps, n):
    g = np.empty_like(q)
    status, lp = evaluate(gaussian_precision.address, data.ctypes.data, q, g)
    ps = np.empty_like(q)
    metric = Metric(metric_kind, inv_diag, inv_dense, np.empty((0, 0)))
    velocity(metric, p, ps)
    energies = [hamiltonian(lp, p, ps)]
    model = Model(gaussian_precision.address, data.ctypes.data)
    for _ in range(n):
        status, lp = I.leapfrog(model, metric, I.PhasePoint(q, p, g, ps), eps)
        assert status == 0
        energies.append(hamiltonian(lp, p, ps))
    return np.array(energies)


def test_leapfrog_reversible_and_energy_bounded_diag():
    data = _data([0.0, 0.0], np.diag([1.0, 4.0]))  # oscillator frequencies 1 and 2
    inv_diag = np.array([1.0, 0.5])
    empty = np.empty((0, 0))
    q0 = np.array([1.0, -0.5])
    p0 = np.array([0.3, 0.8])
    q = q0.copy()
    p = p0.copy()
    e = _integrate(DIAG, inv_diag, empty, data, q, p, 0.1, 500)
    # energy error of the leapfrog on a harmonic oscillator is O(eps^2) and does not drift
    assert np.max(np.abs(e - e[0])) < 0.02
    assert abs(np.mean(e[250:]) - np.mean(e[:250])) < 0.005
    _integrate(DIAG, inv_diag, empty, data, q, p, -0.1, 500)
    np.testing.assert_allclose(q, q0, atol=1e-11)
    np.testing.assert_allclose(p, p0, atol=1e-11)


def test_leapfrog_reversible_and_energy_bounded_dense():
    prec = np.array([[1.0, 0.6], [0.6, 1.5]])
    data = _data([0.5, 0.0], prec)
    inv_dense = np.array([[1.2, -0.3], [-0.3, 0.8]])
    q0 = np.array([0.2, 1.1])
    p0 = np.array([-0.4, 0.9])
    q = q0.copy()
    p = p0.copy()
    e = _integrate(DENSE, np.empty(0), inv_dense, data, q, p, 0.05, 800)
    assert np.max(np.abs(e - e[0])) < 0.01
    _integrate(DENSE, np.empty(0), inv_dense, data, q, p, -0.05, 800)
    np.testing.assert_allclose(q, q0, atol=1e-11)
    np.testing.assert_allclose(p, p0, atol=1e-11)


def test_leapfrog_energy_error_scales_with_step_squared():
    data = _data([0.0], np.eye(1))
    errs = []
    for eps in (0.2, 0.1):
        q = np.array([1.0])
        p = np.array([0.0])
        e = _integrate(DIAG, np.ones(1), np.empty((0, 0)), data, q, p, eps, int(20 / eps))
        errs.append(np.max(np.abs(e - e[0])))
    assert 3.5 < errs[0] / errs[1] < 4.5


def test_cholesky_and_momentum_covariance():
    a = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    L = np.empty_like(a)
    assert cholesky_lower(a, L)
    np.testing.assert_allclose(L, np.linalg.cholesky(a), rtol=1e-13, atol=1e-15)
    assert not cholesky_lower(np.array([[1.0, 2.0], [2.0, 1.0]]), np.empty((2, 2)))
    state = rng.seed_streams(3, 1)[0]
    n = 40000
    ps = np.empty((n, 3))
    for k in range(n):
        sample_momentum(Metric(DENSE, np.empty(0), np.empty((0, 0)), L), state, ps[k])
    # p ~ N(0, M) with M = inverse of the inverse metric
    np.testing.assert_allclose(
        np.cov(ps.T), np.linalg.inv(a), atol=0.06 * np.abs(np.linalg.inv(a)).max()
    )
    pd = np.empty((n, 3))
    inv_diag = np.array([4.0, 1.0, 0.25])
    for k in range(n):
        sample_momentum(Metric(DIAG, inv_diag, np.empty((0, 0)), np.empty((0, 0))), state, pd[k])
    np.testing.assert_allclose(pd.var(axis=0), 1 / inv_diag, rtol=0.05)
