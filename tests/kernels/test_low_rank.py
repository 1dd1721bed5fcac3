"""nutpie's low-rank modified mass matrix: the metric's algebra, the estimator, NUTS with it."""

import math

import numpy as np
import pytest
import scipy.linalg

from kernels import rng
from kernels import sampler as S
from kernels.fisher_adaptation import (
    BG_COUNT,
    FG_COUNT,
    FISHER_N_COUNTS,
    FISHER_N_ROWS,
    N_UPDATES,
    SWITCH,
    fisher_add,
)
from kernels.low_rank_adaptation import (
    UPDATE,
    low_rank_collect,
    low_rank_estimate,
    low_rank_push,
    low_rank_schedule,
    ring_rows,
    spd_geometric_mean,
)
from kernels.metric import DIAG, LOW_RANK, Metric, sample_momentum, velocity
from kernels.options import SamplerOptions
from kernels.stan_adaptation import COLLECT
from kernels.state import CHAIN_STATE_FIELDS, allocate_output, init_chain_state
from tests.cfunc_models import gauss_data as _gauss_data
from tests.cfunc_models import gaussian_precision


def _random_spd(r, d, scale=1.0):
    a = r.standard_normal((d, d))
    return scale * (a @ a.T / d + 0.5 * np.eye(d))


def _low_rank_parts(r, d, k):
    sigma2 = np.exp(r.uniform(-2, 2, d))
    vecs = np.zeros((d, d))
    vecs[:k] = np.linalg.qr(r.standard_normal((d, k)))[0].T
    vals = np.ones(d)
    vals[:k] = [9.0, 0.05, 3.0][:k]
    s = np.diag(np.sqrt(sigma2))
    inv_metric = s @ (np.eye(d) + vecs[:k].T @ np.diag(vals[:k] - 1) @ vecs[:k]) @ s
    return sigma2, vecs, vals, inv_metric


def test_geometric_mean_solves_riccati_equation():
    r = np.random.default_rng(0)
    c_x, c_s = _random_spd(r, 6, 3.0), _random_spd(r, 6, 0.2)
    a = spd_geometric_mean(c_x, c_s)
    np.testing.assert_allclose(a, a.T, atol=1e-10)
    assert np.linalg.eigvalsh(a).min() > 0
    np.testing.assert_allclose(a @ c_s @ a, c_x, rtol=1e-9, atol=1e-9)
    # the closed form with SciPy's matrix square root
    root = scipy.linalg.sqrtm(c_s)
    inv_root = np.linalg.inv(root)
    expected = inv_root @ scipy.linalg.sqrtm(root @ c_x @ root) @ inv_root
    np.testing.assert_allclose(a, np.real(expected), rtol=1e-8, atol=1e-10)


def test_low_rank_velocity_and_momentum_match_dense_algebra():
    r = np.random.default_rng(1)
    d, k = 7, 3
    sigma2, vecs, vals, inv_metric = _low_rank_parts(r, d, k)
    metric = Metric(LOW_RANK, sigma2, np.zeros((0, 0)), np.zeros((0, 0)), vecs, vals)
    p = r.standard_normal(d)
    out = np.empty(d)
    velocity(metric, p, out)
    np.testing.assert_allclose(out, inv_metric @ p, rtol=1e-12, atol=1e-12)
    # the momentum is B z with the same normals z a unit diagonal metric draws, B B^T = M
    stream = rng.seed_streams(3, 1)[0]
    z = np.empty(d)
    sample_momentum(Metric(DIAG, np.ones(d), np.zeros((0, 0)), np.zeros((0, 0))),
                    stream.copy(), z)
    p = np.empty(d)
    sample_momentum(metric, stream.copy(), p)
    s_inv = np.diag(1 / np.sqrt(sigma2))
    b = s_inv @ (np.eye(d) + vecs[:k].T @ np.diag(vals[:k] ** -0.5 - 1) @ vecs[:k])
    np.testing.assert_allclose(p, b @ z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b @ b.T, np.linalg.inv(inv_metric), rtol=1e-9, atol=1e-9)


def _estimate(x, scores, inv_diag, vecs, vals, shift=0):
    # the estimator on the draws x and scores as the whole foreground: Welford sums of all,
    # and a ring buffer holding all, whose oldest draw sits at row `shift` (so that the window
    # wraps around the buffer's end)
    n = x.shape[0]
    draws, grads = np.roll(x, shift, axis=0), np.roll(scores, shift, axis=0)
    counts, moments = np.zeros(FISHER_N_COUNTS), np.zeros((FISHER_N_ROWS, x.shape[1]))
    for q, g in zip(x, scores):
        fisher_add(counts, moments, q, g)
    return low_rank_estimate(draws, grads, np.array([float(n + shift)]), counts, moments,
                             inv_diag, vecs, vals, 1e-5, 2.0)


def _gaussian_with_low_rank_structure(d=12, seed=2):
    # independent scales times a correlation with two dominant directions: the target a
    # low-rank-plus-diagonal metric represents exactly
    r = np.random.default_rng(seed)
    _, _, _, cov = _low_rank_parts(r, d, 2)
    return cov


def test_estimate_recovers_the_covariance_and_its_top_eigenpairs():
    cov = _gaussian_with_low_rank_structure()
    d = cov.shape[0]
    r = np.random.default_rng(4)
    x = r.multivariate_normal(np.ones(d), cov, size=3000)
    scores = -(x - 1.0) @ np.linalg.inv(cov)
    sigma2, vecs, vals = np.ones(d), np.zeros((d, d)), np.ones(d)
    assert _estimate(x, scores, sigma2, vecs, vals, shift=1234)
    k = int(np.sum(vals != 1.0))
    assert k == 2
    s = np.diag(np.sqrt(sigma2))
    est = s @ (np.eye(d) + vecs[:k].T @ np.diag(vals[:k] - 1) @ vecs[:k]) @ s
    # preconditioned by the estimate, the target's covariance has its eigenvalues in the band
    # (1/2, 2) the estimator leaves alone (widened by the sampling error of 3000 draws)
    rel = scipy.linalg.eigh(cov, est, eigvals_only=True)
    assert 0.45 < rel.min() and rel.max() < 2.2, rel
    w, u = np.linalg.eigh(cov)
    w_est, u_est = np.linalg.eigh(est)
    np.testing.assert_allclose(w_est[[0, -1]], w[[0, -1]], rtol=0.1)
    for j in (0, -1):  # the extreme eigenvectors, up to sign
        assert abs(u_est[:, j] @ u[:, j]) > 0.99


def test_estimate_keeps_nothing_for_independent_draws_and_rejects_nonfinite():
    r = np.random.default_rng(5)
    sd = np.array([0.1, 1.0, 30.0])
    x = r.standard_normal((2000, 3)) * sd
    scores = -x / sd**2
    sigma2, vecs, vals = np.ones(3), np.zeros((3, 3)), np.ones(3)
    assert _estimate(x, scores, sigma2, vecs, vals)
    np.testing.assert_array_equal(vals, 1.0)  # no direction outside (1/2, 2)
    np.testing.assert_allclose(sigma2, sd**2, rtol=1e-12)  # a Gaussian's exact Fisher diagonal
    bad = x.copy()
    bad[7, 1] = np.nan
    before = sigma2.copy()
    assert not _estimate(bad, scores, sigma2, vecs, vals)
    np.testing.assert_array_equal(sigma2, before)


def test_schedule_updates_at_switches_and_every_update_freq():
    s = low_rank_schedule(1000, update_freq=20)
    updates = np.flatnonzero(s & UPDATE)
    assert set(np.flatnonzero(s & SWITCH)) <= set(updates)
    assert np.diff(updates).max() <= 20 and updates[-1] < 850
    with pytest.raises(ValueError, match="low_rank_update_freq"):
        SamplerOptions(mass_matrix_adaptation="low_rank", low_rank_update_freq=0)
    with pytest.raises(ValueError, match="dense_mass=False"):
        SamplerOptions(mass_matrix_adaptation="low_rank", dense_mass=True)


def _run_low_rank(cov, mean, seed, chain_method="parallel", mma="low_rank", n=1000):
    d = cov.shape[0]
    data = _gauss_data(mean, np.linalg.inv(cov))
    options = SamplerOptions(num_warmup=n, mass_matrix_adaptation=mma)
    state = init_chain_state(gaussian_precision.address, data.ctypes.data, np.zeros((4, d)),
                             seed, low_rank=options.low_rank_sizes(d))
    out = allocate_output(4, n, d)
    S.run(gaussian_precision.address, data.ctypes.data, options.compile(), state, out, 0, 2 * n,
          out_offset=n, chain_method=chain_method)
    return state, out


def test_nuts_with_low_rank_metric_matches_the_gaussian_and_is_reproducible():
    cov = _gaussian_with_low_rank_structure()
    d = cov.shape[0]
    mean = np.linspace(-1, 1, d)
    state, out = _run_low_rank(cov, mean, seed=7)
    assert state.fisher_counts[:, N_UPDATES].min() > 30  # the low-rank path ran
    assert (np.sum(state.lr_vals != 1.0, axis=1) >= 2).all()
    # moments within Monte Carlo error (batch means over 4 x 1000 draws)
    x = out.draws
    b = x.reshape(4, 20, 50, d).mean(axis=2).reshape(80, d)
    mcse = b.std(axis=0, ddof=1) / math.sqrt(80)
    assert np.all(np.abs(x.mean(axis=(0, 1)) - mean) < 4 * mcse)
    assert not out.diverging.any()
    # the correlated target is a unit-scale problem under the metric: short trajectories,
    # shorter than with the diagonal Fisher metric on the same target
    _, diag_out = _run_low_rank(cov, mean, seed=7, mma="fisher")
    assert out.n_steps.mean() < 0.6 * diag_out.n_steps.mean()
    # same seed, same draws, whether the chains run on threads or one after the other
    _, seq = _run_low_rank(cov, mean, seed=7, chain_method="sequential")
    np.testing.assert_array_equal(seq.draws, out.draws)


def test_estimate_from_fewer_draws_than_dimensions_finds_the_extreme_eigenpairs():
    # 100 draws of a 400-dimensional Gaussian whose covariance is a diagonal times a correlation
    # with three extreme directions (eigenvalues 50, 20, 0.02 on the scaled axes): the draws
    # span a quarter of the space, so the estimate rests on the subspace of draws and scores.
    # Oracle: the covariance's own eigendecomposition (NumPy). Worked out over all 400
    # dimensions at once, the geometric mean lost its small eigenvalues to rounding and only
    # the diagonal came out (k = 0, condition number as the diagonal alone leaves it).
    d, n = 400, 100
    r = np.random.default_rng(0)
    sigma2 = np.exp(r.uniform(-2, 2, d))
    v = np.linalg.qr(r.standard_normal((d, 3)))[0].T
    s = np.diag(np.sqrt(sigma2))
    cov = s @ (np.eye(d) + v.T @ np.diag([49.0, 19.0, -0.98]) @ v) @ s
    x = r.multivariate_normal(np.zeros(d), cov, size=n)
    scores = -x @ np.linalg.inv(cov)
    inv_diag, vecs, vals = np.ones(d), np.zeros((d, d)), np.ones(d)
    assert _estimate(x, scores, inv_diag, vecs, vals)
    k = int(np.sum(vals != 1.0))
    assert 3 <= k < n
    s_est = np.diag(np.sqrt(inv_diag))
    est = s_est @ (np.eye(d) + vecs[:k].T @ np.diag(vals[:k] - 1) @ vecs[:k]) @ s_est
    w, u = np.linalg.eigh(cov)
    w_est, u_est = np.linalg.eigh(est)
    for j in (0, -2, -1):  # the two largest and the smallest eigenpair, up to sign
        assert abs(u_est[:, j] @ u[:, j]) > 0.9, j
    rel = scipy.linalg.eigh(cov, est, eigvals_only=True)
    rel_diag = scipy.linalg.eigh(cov, np.diag(inv_diag), eigvals_only=True)
    # preconditioning by the estimate removes most of what the diagonal leaves
    assert rel.max() / rel.min() < 0.2 * rel_diag.max() / rel_diag.min()


def test_rank_cap_keeps_the_eigenpair_furthest_from_one():
    # the target's scaled correlation has two eigenvalues off 1 (9 and 0.05, _low_rank_parts),
    # which the uncapped estimate finds (tested above against the covariance); with room for
    # one eigenpair the estimate keeps the one of the two with the larger |log lambda|, the same
    # diagonal, and the other pair goes to the diagonal (its rows unused)
    r = np.random.default_rng(2)
    d = 12
    _, _, _, cov = _low_rank_parts(r, d, 2)
    x = np.random.default_rng(4).multivariate_normal(np.zeros(d), cov, size=3000)
    scores = -x @ np.linalg.inv(cov)
    full = np.ones(d), np.zeros((d, d)), np.ones(d)
    assert _estimate(x, scores, *full)
    assert int(np.sum(full[2] != 1.0)) == 2
    top = int(np.argmax(np.abs(np.log(full[2]))))
    inv_diag, vecs, vals = np.ones(d), np.zeros((1, d)), np.ones(1)
    assert _estimate(x, scores, inv_diag, vecs, vals)
    np.testing.assert_allclose(inv_diag, full[0], rtol=1e-12)
    np.testing.assert_allclose(vals[0], full[2][top], rtol=1e-9)
    np.testing.assert_allclose(abs(vecs[0] @ full[1][top]), 1.0, rtol=1e-9)
    assert vals[0] < 0.5  # the 0.05 direction: |log 0.05| > log 9
    with pytest.raises(ValueError, match="low_rank_max_rank must be an integer >= 1"):
        SamplerOptions(mass_matrix_adaptation="low_rank", low_rank_max_rank=0)


@pytest.mark.parametrize("cap", [None, 50])
def test_ring_buffer_holds_the_latest_draws_of_the_foreground(cap):
    # every warmup draw admitted on nutpie's schedule: after each iteration the foreground
    # count is the number of draws since the switch before the last one, the window nuts-rs
    # keeps in a deque (the oracle here, as a Python list), and the last min(count, rows)
    # pushes of the ring are that window's latest draws; uncapped, the ring's rows
    # (ring_rows) are the most the window ever holds
    schedule = low_rank_schedule(300)
    window = ring_rows(schedule, cap)
    d = 2
    draws, grads, added = np.zeros((window, d)), np.zeros((window, d)), np.zeros(1)
    counts, moments = np.zeros(FISHER_N_COUNTS), np.zeros((FISHER_N_ROWS, d))
    # the initial point, as the driver adds it
    fisher_add(counts, moments, np.zeros(d), np.zeros(d))
    low_rank_push(draws, grads, added, np.zeros(d), np.zeros(d))
    deque, split, largest = [0.0], 0, 1
    for i, flag in enumerate(schedule):
        q = np.full(d, float(i + 1))
        low_rank_collect(flag, True, q, -q, counts, moments, draws, grads, added)
        if flag & COLLECT:
            deque.append(float(i + 1))
            if flag & SWITCH:
                deque, split = deque[split:], len(deque) - split
        n = int(counts[FG_COUNT])
        assert n == len(deque) and counts[BG_COUNT] == len(deque) - split
        np.testing.assert_allclose(moments[0], np.mean(deque))  # the foreground's mean
        largest = max(largest, n)
        m = min(n, window)
        rows = [(int(added[0]) - m + t) % window for t in range(m)]
        assert draws[rows, 0].tolist() == deque[-m:]
    assert largest == window if cap is None else largest > window == cap


def test_low_rank_state_is_linear_in_the_dimension():
    # a chain's state for the low-rank metric in 2000 dimensions holds no dim x dim array:
    # ring buffers (window x dim) and the capped eigenvectors (rank x dim)
    options = SamplerOptions(mass_matrix_adaptation="low_rank", num_warmup=1000)
    rank, window = options.low_rank_sizes(2000)
    assert rank == options.low_rank_max_rank and window <= options.low_rank_window
    assert window == ring_rows(low_rank_schedule(1000), options.low_rank_window)
    for field in CHAIN_STATE_FIELDS:
        shape = field.concrete_shape(2000, False, (rank, window))
        assert math.prod(shape) <= window * 2000, field.name
