"""A warmup that ends when nutpie's adaptation has converged (``early_stop_warmup=True``)."""

import math

import numpy as np
import pytest
from numba import carray, cfunc

from kernels import sampler as S
from kernels import warmup_convergence as W
from kernels.model_abi import LOGP_GRAD_SIG
from kernels.options import SamplerOptions
from kernels.state import allocate_output, init_chain_state
from kernels.warmup_convergence import EARLY_STOP_FINAL_WINDOW, EARLY_STOP_MIN
from tests.cfunc_models import diag_normal


@cfunc(LOGP_GRAD_SIG, cache=True)
def _cauchy(theta, grad, logp, data):
    """Independent standard Cauchy coordinates; data = [d]: no variance for the metric to
    converge to."""
    d = int(carray(data, (1,), np.float64)[0])
    t = carray(theta, (d,))
    g = carray(grad, (d,))
    s = 0.0
    for i in range(d):
        s -= math.log1p(t[i] * t[i])
        g[i] = -2.0 * t[i] / (1.0 + t[i] * t[i])
    logp[0] = s
    return 0


def _run(address, data, dim, seed=3, num_warmup=1000, num_samples=500, chunks=None,
         chain_method="parallel", **changes):
    options = SamplerOptions(num_warmup=num_warmup, mass_matrix_adaptation="fisher",
                             early_stop_warmup=True, **changes)
    compiled = options.compile()
    state = init_chain_state(address, data.ctypes.data, np.full((4, dim), 0.1), seed)
    out = allocate_output(4, num_warmup + num_samples, dim)
    bounds = chunks or [0, num_warmup + num_samples]
    for a, b in zip(bounds[:-1], bounds[1:]):
        S.run(address, data.ctypes.data, compiled, state, out, a, b, chain_method=chain_method)
    return state, out


def test_stops_early_on_an_easy_model_and_samples_it_correctly():
    sd = np.array([0.1, 1.0, 10.0, 3.0])
    data = np.concatenate([[4.0], sd])
    state, out = _run(diag_normal.address, data, 4)
    used = state.warmup_used
    assert (used < 500).all() and (used >= EARLY_STOP_MIN + EARLY_STOP_FINAL_WINDOW).all()
    for c in range(4):  # the skipped warmup iterations took no gradient and kept the state
        skipped = out.n_steps[c, used[c]:1000]
        assert (skipped == 0).all() and (out.n_steps[c, :used[c]] > 0).all()
        assert (out.draws[c, used[c]:1000] == out.draws[c, used[c] - 1]).all()
    # the metric it stopped with is the target's variances, and the draws are right
    np.testing.assert_allclose(state.inv_diag / sd**2, 1.0, rtol=1e-6)
    x = out.draws[:, 1000:]
    z = x.mean(axis=(0, 1)) / (sd / math.sqrt(x.shape[0] * x.shape[1]))
    assert np.all(np.abs(z) < 4.5)  # near-independent draws on a preconditioned Gaussian
    assert abs(np.mean(x**2 / sd**2) - 1.0) < 0.1


def test_same_draws_for_any_threads_and_chunks():
    data = np.array([3.0, 0.5, 1.0, 2.0])
    state, out = _run(diag_normal.address, data, 3, num_warmup=600, num_samples=100)
    assert state.warmup_used.max() < 600
    end = int(state.warmup_used.min())
    chunks = [0, 50, end - 1, end, end + 1, 599, 600, 650, 700]
    state2, out2 = _run(diag_normal.address, data, 3, num_warmup=600, num_samples=100,
                        chunks=chunks, chain_method="sequential")
    for a, b in zip(out, out2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(state.warmup_used, state2.warmup_used)


def test_uses_the_full_budget_when_the_metric_does_not_settle():
    # a Cauchy target has no variance: window estimates keep moving, so no early end
    state, out = _run(_cauchy.address, np.array([3.0]), 3, num_warmup=500, num_samples=10)
    np.testing.assert_array_equal(state.warmup_used, 500)
    assert (out.n_steps[:, :500] > 0).all()


def test_needs_nutpies_adaptation():
    with pytest.raises(ValueError, match="early_stop_warmup=True needs"):
        SamplerOptions(early_stop_warmup=True)


def _low_rank_metric(r, d, angle):
    # a diagonal and two eigenvectors (eigenvalues 9 and 0.1) rotated by `angle` in the plane
    # of the first two random directions
    basis = np.linalg.qr(r.standard_normal((d, 2)))[0].T
    c, s = math.cos(angle), math.sin(angle)
    vecs = np.zeros((d, d))
    vecs[0] = c * basis[0] + s * basis[1]
    vecs[1] = -s * basis[0] + c * basis[1]
    vals = np.ones(d)
    vals[:2] = [9.0, 0.1]
    return vecs, vals


def test_quadratic_form_is_the_dense_inverse_metric():
    r = np.random.default_rng(0)
    d = 6
    inv_diag = np.exp(r.uniform(-1, 1, d))
    vecs, vals = _low_rank_metric(r, d, 0.3)
    s = np.diag(np.sqrt(inv_diag))
    dense = s @ (np.eye(d) + vecs[:2].T @ np.diag(vals[:2] - 1) @ vecs[:2]) @ s
    u = r.standard_normal(d)
    assert math.isclose(W.quadratic_form(u, inv_diag, vecs, vals), u @ dense @ u, rel_tol=1e-12)


def test_convergence_waits_for_the_low_rank_part():
    # the same diagonal and step size at every check: a diagonal-only check would call it
    # converged at the second agreeing check; with the low-rank eigenvectors still turning
    # (by 0.5 rad per check) it must not, and once they stand still it must
    from kernels.step_size import DA_COUNTER, DA_SIZE, DA_X_BAR

    d = 8
    inv_diag = np.full(d, 2.0)
    da = np.zeros(DA_SIZE)
    da[DA_COUNTER], da[DA_X_BAR] = 50.0, math.log(0.3)
    ref, ref_vecs, ref_vals = np.zeros(d), np.zeros((d, d)), np.ones(d)
    conv = np.zeros(W.CONV_SIZE)
    angles = [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    converged = []
    for k, angle in enumerate(angles):
        vecs, vals = _low_rank_metric(np.random.default_rng(1), d, angle)
        converged.append(W.convergence_check(200 + 10 * k, 1000, inv_diag, vecs, vals, ref,
                                             ref_vecs, ref_vals, da, conv))
    assert converged == [False] * 6 + [True]
    # the diagonal-only check (no low-rank part) agrees at once
    ref, conv = np.zeros(d), np.zeros(W.CONV_SIZE)
    empty = np.zeros((0, 0)), np.zeros(0)
    flags = [W.convergence_check(200 + 10 * k, 1000, inv_diag, *empty, ref, *empty, da, conv)
             for k in range(3)]
    assert flags == [False, False, True]
