"""Stan's warmup: windowed schedule, dual averaging, Welford estimators, step-size search."""

import math
import warnings

import numpy as np
import pytest
from numba import carray, cfunc

from kernels import adaptation as A
from kernels import rng
from kernels import sampler as S
from kernels.integrators import DIAG
from kernels.model_abi import LOGP_GRAD_SIG, evaluate


@cfunc(LOGP_GRAD_SIG, cache=True)
def gaussian_precision(theta, grad, logp, data):
    """N(mean, P^-1); data = [d, mean (d), P (d*d)]."""
    head = carray(data, (1,), np.float64)
    d = int(head[0])
    buf = carray(data, (1 + d + d * d,), np.float64)
    t = carray(theta, (d,))
    g = carray(grad, (d,))
    s = 0.0
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += buf[1 + d + i * d + j] * (t[j] - buf[1 + j])
        g[i] = -acc
        s += (t[i] - buf[1 + i]) * acc
    logp[0] = -0.5 * s
    return 0


@cfunc(LOGP_GRAD_SIG, cache=True)
def flat(theta, grad, logp, data):
    """Improper flat density on R^d, d = data[0]."""
    head = carray(data, (1,), np.float64)
    g = carray(grad, (int(head[0]),))
    for i in range(g.shape[0]):
        g[i] = 0.0
    logp[0] = 0.0
    return 0


def _gauss_data(mean, prec):
    d = len(mean)
    return np.concatenate([[float(d)], np.asarray(mean, float), np.asarray(prec, float).ravel()])


# ----------------------------------------------------------------------------------------------
# Windowed schedule. Expected windows are derived by hand from Stan's documented rule: after an
# initial buffer, slow windows start at `window` iterations and double; a window is stretched
# to the start of the terminal buffer when the following window would not fit; with fewer than
# init_buffer + window + term_buffer warmup iterations the stages become 15% / 75% / 10%.
# ----------------------------------------------------------------------------------------------


def _collect_range(schedule):
    idx = np.flatnonzero(schedule & A.COLLECT)
    return (int(idx[0]), int(idx[-1]) + 1) if idx.size else None


def test_windows_default_1000():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = A.warmup_schedule(1000)
    assert A.adaptation_windows(s) == [(75, 100), (100, 150), (150, 250), (250, 450), (450, 950)]
    assert np.flatnonzero(s & A.WINDOW_END).tolist() == [99, 149, 249, 449, 949]
    assert _collect_range(s) == (75, 950)  # init buffer [0, 75), terminal buffer [950, 1000)


def test_windows_2000_last_window_stretched():
    s = A.warmup_schedule(2000)
    assert A.adaptation_windows(s) == [
        (75, 100),
        (100, 150),
        (150, 250),
        (250, 450),
        (450, 850),
        (850, 1950),
    ]


def test_windows_150_fits_exactly():
    # 75 + 25 + 50 = 150 is not more than 150: Stan keeps the configured stages (no fallback)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = A.warmup_schedule(150)
    assert A.adaptation_windows(s) == [(75, 100)]
    assert _collect_range(s) == (75, 100)


@pytest.mark.parametrize(
    "num_warmup, init, term",
    [(149, 22, 14), (100, 15, 10), (50, 7, 5), (20, 3, 2)],  # floor(0.15 n), floor(0.10 n)
)
def test_windows_short_warmup_fallback(num_warmup, init, term):
    with pytest.warns(UserWarning, match="15%/75%/10%"):
        s = A.warmup_schedule(num_warmup)
    assert A.adaptation_windows(s) == [(init, num_warmup - term)]


def test_windows_too_short_for_metric():
    with pytest.warns(UserWarning, match="not adapted"):
        s = A.warmup_schedule(19)
    assert not s.any()
    assert A.adaptation_windows(A.warmup_schedule(0, warn=False)) == []


def test_windows_custom_buffers():
    s = A.warmup_schedule(500, init_buffer=50, term_buffer=30, base_window=40)
    # windows 40, 80, 160 -> ends 89, 169, 329; next 320 would end at 649 > 470: stretch
    assert A.adaptation_windows(s) == [(50, 90), (90, 170), (170, 470)]


# ----------------------------------------------------------------------------------------------
# Dual averaging
# ----------------------------------------------------------------------------------------------


def test_dual_averaging_converges_to_target_on_deterministic_curve():
    da = np.zeros(A.DA_SIZE)
    A.dual_averaging_init(da, 1.0)
    assert da[A.DA_MU] == pytest.approx(math.log(10.0))
    eps = 1.0
    for _ in range(3000):
        eps = A.dual_averaging_update(da, math.exp(-eps * eps), 0.8, 0.05, 0.75, 10.0)
    target = math.sqrt(-math.log(0.8))  # exp(-eps^2) = 0.8
    assert A.dual_averaging_final(da, eps) == pytest.approx(target, rel=0.02)
    A.dual_averaging_restart(da)
    assert da[A.DA_COUNTER] == 0 and A.dual_averaging_final(da, 0.3) == 0.3


def test_dual_averaging_reaches_target_acceptance_with_nuts():
    d = 10
    data = _gauss_data(np.zeros(d), np.diag(1.0 / np.linspace(0.5, 2.0, d) ** 2))
    cfg = S.SamplerConfig(num_warmup=1000, adapt_metric=False)
    state = S.init_chain_state(
        gaussian_precision.address, data.ctypes.data, np.full((4, d), 0.3), 3
    )
    out = S.allocate_output(4, 1000, d)
    S.run(gaussian_precision.address, data.ctypes.data, cfg.arrays(), state, out, 0, 1000)
    # the average adaptation statistic converges to delta = 0.8
    assert abs(out.acceptance_rate[:, 300:].mean() - 0.8) < 0.03
    np.testing.assert_allclose(state.step_size, np.exp(state.da[:, A.DA_X_BAR]))


# ----------------------------------------------------------------------------------------------
# Welford estimators and regularisation
# ----------------------------------------------------------------------------------------------


def test_welford_matches_numpy():
    x = np.random.default_rng(0).normal(size=(200, 3)) @ np.array(
        [[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [0.1, -0.3, 0.4]]
    )
    mean = np.zeros(3)
    m2 = np.zeros(3)
    mean_d = np.zeros(3)
    m2_d = np.zeros((3, 3))
    scratch = np.empty(3)
    n = 0.0
    nd = 0.0
    for row in x:
        n = A.welford_add_diag(n, mean, m2, row)
        nd = A.welford_add_dense(nd, mean_d, m2_d, row, scratch)
    var = np.zeros(3)
    cov = np.zeros((3, 3))
    A.welford_variance(n, m2, var)
    A.welford_covariance(nd, m2_d, cov)
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x.T), rtol=1e-12, atol=1e-14)
    assert A.regularize_diag(var, n)
    np.testing.assert_allclose(var, 200 / 205 * x.var(0, ddof=1) + 1e-3 * 5 / 205)
    assert A.regularize_dense(cov, nd)
    np.testing.assert_allclose(cov, 200 / 205 * np.cov(x.T) + 1e-3 * 5 / 205 * np.eye(3))
    bad = np.array([np.inf, 1.0])
    assert not A.regularize_diag(bad, 10.0)
    one = np.array([7.0])
    A.welford_variance(1.0, np.array([0.0]), one)
    assert one[0] == 7.0  # fewer than two draws: untouched, as in Stan


# ----------------------------------------------------------------------------------------------
# Step-size initialisation
# ----------------------------------------------------------------------------------------------


def _one_step_delta_h(address, data, q, eps, state):
    g = np.empty_like(q)
    _, lp = evaluate(address, data.ctypes.data, q, g)
    vec = np.zeros((4, len(q)))
    return A._one_step_delta_h(
        address,
        data.ctypes.data,
        DIAG,
        np.ones(len(q)),
        np.empty((0, 0)),
        np.empty((0, 0)),
        q,
        g,
        lp,
        eps,
        state,
        vec,
    )


def test_init_step_size_follows_stan_heuristic():
    d = 5
    data = _gauss_data(np.zeros(d), np.eye(d) * 25.0)  # sd 0.2: the start eps = 1 is too large
    address = gaussian_precision.address
    q = np.full(d, 0.1)
    g = np.empty(d)
    _, lp = evaluate(address, data.ctypes.data, q, g)
    state = rng.seed_streams(9, 1)[0]
    replay = state.copy()
    eps, status = A.init_step_size(
        address,
        data.ctypes.data,
        DIAG,
        np.ones(d),
        np.empty((0, 0)),
        np.empty((0, 0)),
        q,
        g,
        lp,
        1.0,
        state,
        np.zeros((4, d)),
    )
    assert status == A.STATUS_OK
    k = math.log2(eps)
    assert k == round(k) and k < 0  # only halvings of the initial 1.0
    # replay the same stream: first probe, then one probe per trial step size
    log08 = math.log(0.8)
    assert not _one_step_delta_h(address, data, q, 1.0, replay) > log08  # direction: down
    trial = 1.0
    while True:
        dh = _one_step_delta_h(address, data, q, trial, replay)
        if not dh < log08:
            break
        trial *= 0.5
    assert trial == eps and np.array_equal(replay, state)


def test_init_step_size_flags_improper_posterior():
    data = np.array([2.0])
    q = np.zeros(2)
    g = np.empty(2)
    state = rng.seed_streams(1, 1)[0]
    eps, status = A.init_step_size(
        flat.address,
        data.ctypes.data,
        DIAG,
        np.ones(2),
        np.empty((0, 0)),
        np.empty((0, 0)),
        q,
        g,
        0.0,
        1.0,
        state,
        np.zeros((4, 2)),
    )
    assert status == A.STATUS_STEP_SIZE_TOO_LARGE and eps > 1e7
    cfg = S.SamplerConfig(num_warmup=100)
    st = S.init_chain_state(flat.address, data.ctypes.data, np.zeros((2, 2)), 0)
    out = S.allocate_output(2, 10, 2)
    with pytest.raises(S.SamplerError, match="improper"):
        S.run(flat.address, data.ctypes.data, cfg.arrays(warn=False), st, out, 0, 110)


# ----------------------------------------------------------------------------------------------
# Metric adaptation end to end
# ----------------------------------------------------------------------------------------------


def test_dense_metric_adaptation_recovers_covariance():
    cov = np.array([[1.0, 1.6, 0.2], [1.6, 4.0, -0.5], [0.2, -0.5, 1.0]])
    data = _gauss_data(np.zeros(3), np.linalg.inv(cov))
    cfg = S.SamplerConfig(num_warmup=1000, metric="dense")
    st = S.init_chain_state(
        gaussian_precision.address, data.ctypes.data, np.full((2, 3), 0.1), 4, metric="dense"
    )
    out = S.allocate_output(2, 1000, 3)
    S.run(gaussian_precision.address, data.ctypes.data, cfg.arrays(), st, out, 0, 1000)
    for c in range(2):
        np.testing.assert_allclose(st.inv_dense[c], cov, atol=0.25 * np.abs(cov).max())
        np.testing.assert_allclose(st.chol[c] @ st.chol[c].T, st.inv_dense[c], atol=1e-12)


def test_diag_metric_adaptation_recovers_scales():
    sd = np.logspace(-2, 2, 6)
    data = _gauss_data(np.zeros(6), np.diag(1 / sd**2))
    cfg = S.SamplerConfig(num_warmup=1000)
    st = S.init_chain_state(gaussian_precision.address, data.ctypes.data, np.full((2, 6), 0.01), 8)
    out = S.allocate_output(2, 1000, 6)
    S.run(gaussian_precision.address, data.ctypes.data, cfg.arrays(), st, out, 0, 1000)
    np.testing.assert_allclose(st.inv_diag / sd**2, 1.0, atol=0.35)
    assert np.all(st.welford_count == 0)  # estimator restarted at the last window's end
