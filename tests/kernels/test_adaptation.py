"""Warmup: Stan's windowed schedule, dual averaging, Welford estimators, step-size search; nutpie's
Fisher estimator and switch schedule."""

import math
import warnings

import numpy as np
import pytest

from kernels import fisher_adaptation as F
from kernels import rng
from kernels import sampler as S
from kernels import stan_adaptation as A
from kernels import step_size as Z
from kernels.integrators import phase_point
from kernels.metric import DIAG, Metric
from kernels.model_abi import Model, evaluate
from kernels.options import SamplerOptions
from kernels.state import allocate_output, init_chain_state
from kernels.status import CHAIN_OK, STEP_SIZE_TOO_LARGE, SamplerError
from tests.cfunc_models import EIGHT_SCHOOLS, eight_schools_centred, flat, gaussian_precision
from tests.cfunc_models import gauss_data as _gauss_data

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
    da = np.zeros(Z.DA_SIZE)
    Z.dual_averaging_init(da, 1.0)
    assert da[Z.DA_MU] == pytest.approx(math.log(10.0))
    eps = 1.0
    for _ in range(3000):
        eps = Z.dual_averaging_update(da, math.exp(-eps * eps), 0.8, 0.05, 0.75, 10.0)
    target = math.sqrt(-math.log(0.8))  # exp(-eps^2) = 0.8
    assert Z.dual_averaging_final(da, eps) == pytest.approx(target, rel=0.02)
    Z.dual_averaging_restart(da)
    assert da[Z.DA_COUNTER] == 0 and Z.dual_averaging_final(da, 0.3) == 0.3


def test_dual_averaging_reaches_target_acceptance_with_nuts():
    d = 10
    data = _gauss_data(np.zeros(d), np.diag(1.0 / np.linspace(0.5, 2.0, d) ** 2))
    options = SamplerOptions(num_warmup=1000, adapt_mass_matrix=False)
    state = init_chain_state(gaussian_precision.address, data.ctypes.data, np.full((4, d), 0.3), 3)
    out = allocate_output(4, 1000, d)
    S.run(gaussian_precision.address, data.ctypes.data, options.compile(), state, out, 0, 1000)
    # the average adaptation statistic converges to delta = 0.8
    assert abs(out.acceptance_rate[:, 300:].mean() - 0.8) < 0.03
    np.testing.assert_allclose(state.step_size, np.exp(state.dual_averaging[:, Z.DA_X_BAR]))


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


def _unit_metric(d):
    return Metric(DIAG, np.ones(d), np.empty((0, 0)), np.empty((0, 0)))


def _one_step_delta_h(address, data, q, eps, state):
    g = np.empty_like(q)
    _, lp = evaluate(address, data.ctypes.data, q, g)
    return Z._one_step_energy_change(Model(address, data.ctypes.data), _unit_metric(len(q)), q,
                                     g, lp, eps, state, phase_point(len(q)))


def test_init_step_size_follows_stan_heuristic():
    d = 5
    data = _gauss_data(np.zeros(d), np.eye(d) * 25.0)  # sd 0.2: the start eps = 1 is too large
    address = gaussian_precision.address
    q = np.full(d, 0.1)
    g = np.empty(d)
    _, lp = evaluate(address, data.ctypes.data, q, g)
    state = rng.seed_streams(9, 1)[0]
    replay = state.copy()
    eps, status = Z.find_reasonable_step_size(Model(address, data.ctypes.data), _unit_metric(d),
                                              q, g, lp, 1.0, state, phase_point(d))
    assert status == CHAIN_OK
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
    eps, status = Z.find_reasonable_step_size(Model(flat.address, data.ctypes.data),
                                              _unit_metric(2), q, g, 0.0, 1.0, state,
                                              phase_point(2))
    assert status == STEP_SIZE_TOO_LARGE and eps > 1e7
    options = SamplerOptions(num_warmup=100)
    st = init_chain_state(flat.address, data.ctypes.data, np.zeros((2, 2)), 0)
    out = allocate_output(2, 10, 2)
    with pytest.raises(SamplerError, match="improper"):
        S.run(flat.address, data.ctypes.data, options.compile(warn=False), st, out, 0, 110)


# ----------------------------------------------------------------------------------------------
# Metric adaptation end to end
# ----------------------------------------------------------------------------------------------


def test_dense_metric_adaptation_recovers_covariance():
    cov = np.array([[1.0, 1.6, 0.2], [1.6, 4.0, -0.5], [0.2, -0.5, 1.0]])
    data = _gauss_data(np.zeros(3), np.linalg.inv(cov))
    options = SamplerOptions(num_warmup=1000, dense_mass=True)
    st = init_chain_state(
        gaussian_precision.address, data.ctypes.data, np.full((2, 3), 0.1), 4, dense_mass=True
    )
    out = allocate_output(2, 1000, 3)
    S.run(gaussian_precision.address, data.ctypes.data, options.compile(), st, out, 0, 1000)
    for c in range(2):
        np.testing.assert_allclose(st.inv_dense[c], cov, atol=0.25 * np.abs(cov).max())
        np.testing.assert_allclose(st.chol[c] @ st.chol[c].T, st.inv_dense[c], atol=1e-12)


def test_diag_metric_adaptation_recovers_scales():
    sd = np.logspace(-2, 2, 6)
    data = _gauss_data(np.zeros(6), np.diag(1 / sd**2))
    options = SamplerOptions(num_warmup=1000)
    st = init_chain_state(gaussian_precision.address, data.ctypes.data, np.full((2, 6), 0.01), 8)
    out = allocate_output(2, 1000, 6)
    S.run(gaussian_precision.address, data.ctypes.data, options.compile(), st, out, 0, 1000)
    np.testing.assert_allclose(st.inv_diag / sd**2, 1.0, atol=0.35)
    assert np.all(st.welford_count == 0)  # estimator restarted at the last window's end


# ----------------------------------------------------------------------------------------------
# nutpie's ("Fisher") diagonal estimator: kernels.fisher_adaptation
# ----------------------------------------------------------------------------------------------


def test_fisher_estimate_is_exact_for_gaussian_moments():
    # N(m, diag(s^2)): Var[x_i] = s_i^2, Var[d/dx_i log p] = Var[-(x_i - m_i) / s_i^2] = 1/s_i^2,
    # so sqrt(Var[x] / Var[grad]) = s^2 exactly (and any common scale of the two cancels)
    s = np.logspace(-3, 3, 7)
    out = np.ones(7)
    F.fisher_inv_metric(s**2, 1.0 / s**2, out)
    np.testing.assert_allclose(out, s**2, rtol=1e-14)
    out2 = np.ones(7)
    F.fisher_inv_metric(123.0 * s**2, 123.0 / s**2, out2)
    np.testing.assert_allclose(out2, s**2, rtol=1e-14)


def test_fisher_estimate_clamps_and_keeps_invalid_entries():
    out = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    var_q = np.array([1e50, 1e-50, 0.0, np.nan, 1.0, np.inf])
    var_g = np.array([1e-50, 1e50, 1.0, 1.0, 0.0, 1.0])
    F.fisher_inv_metric(var_q, var_g, out)
    assert out.tolist() == [1e20, 1e-20, 7.0, 8.0, 9.0, 10.0]


def test_fisher_initial_metric_is_inverse_absolute_gradient():
    out = np.empty(5)
    F.fisher_init_metric(np.array([-2.0, 0.5, 0.0, 1e30, np.nan]), out)
    assert out.tolist() == [0.5, 2.0, 1e20, 1e-20, 1.0]


def _fisher_state(d):
    return np.zeros(F.FISHER_N_COUNTS), np.zeros((F.FISHER_N_ROWS, d))


def _driver_options(**changes):
    return SamplerOptions(mass_matrix_adaptation="fisher", **changes).compile(warn=False)[0]


def _fisher_adapt(counts, moments, inv, q, g, flag=A.COLLECT, before=None, da=None):
    """One fisher_adapt call without step-size adaptation; returns its 'search now' flag."""
    admit = before is None or not np.array_equal(before, q)  # admitted if the chain moved
    da = np.zeros(Z.DA_SIZE) if da is None else da
    options = _driver_options(adapt_step_size=False)
    eps, search = F.fisher_adapt(flag, options, admit, inv, q, g, 0.8, 0.5, counts, moments, da)
    assert eps == 0.5
    return search


def test_fisher_estimate_from_correlated_gaussian_draws_within_mc_error():
    # for a correlated Gaussian the diagonal estimate is sqrt(Sigma_ii / P_ii), P = Sigma^-1
    # (Seyboldt et al. 2026): not the marginal variance Sigma_ii
    cov = np.array([[1.0, 0.9, 0.0], [0.9, 4.0, 0.3], [0.0, 0.3, 0.1]])
    prec = np.linalg.inv(cov)
    truth = np.sqrt(np.diag(cov) / np.diag(prec))
    n = 20000
    x = np.random.default_rng(1).multivariate_normal(np.zeros(3), cov, size=n)
    g = -x @ prec
    counts, moments = _fisher_state(3)
    inv = np.ones(3)
    for q, gr in zip(x, g):
        _fisher_adapt(counts, moments, inv, q, gr)
    assert counts[F.N_UPDATES] == n - 2
    # the Welford sums agree with NumPy's variances
    np.testing.assert_allclose(inv, np.sqrt(x.var(0) / g.var(0)), rtol=1e-10)
    # relative error of sqrt(a/b) is (da/a - db/b)/2, each term of sd sqrt(2/n): 4 sigma bound
    assert np.all(np.abs(inv / truth - 1) < 4 * np.sqrt(2 / n)), inv / truth
    assert np.all(np.abs(inv / np.diag(cov) - 1) > 0.1)  # it is not the variance here


def test_fisher_foreground_is_the_draws_since_the_previous_switch():
    rng_ = np.random.default_rng(2)
    x = rng_.normal(size=(25, 2)) * [1.0, 3.0]
    g = rng_.normal(size=(25, 2))
    counts, moments = _fisher_state(2)
    for i in range(25):
        F.fisher_add(counts, moments, x[i], g[i])
        if i in (9, 19):
            F.fisher_switch(counts, moments)
    # after the switch at 19 the foreground is the background of draws 10..19, then 20..24
    assert counts[F.FG_COUNT] == 15 and counts[F.BG_COUNT] == 5
    fg, bg = x[10:], x[20:]
    np.testing.assert_allclose(moments[F.FG_Q_MEAN], fg.mean(0), rtol=1e-12)
    np.testing.assert_allclose(moments[F.FG_Q_M2] / 14, fg.var(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(moments[F.FG_G_M2] / 14, g[10:].var(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(moments[F.BG_Q_M2] / 4, bg.var(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(moments[F.BG_G_MEAN], g[20:].mean(0), rtol=1e-12)


def test_fisher_metric_needs_three_foreground_draws_that_moved():
    counts, moments = _fisher_state(1)
    inv = np.array([7.0])
    one = np.array
    # the first update (with 3 draws) asks for a step-size search, later ones do not
    assert not _fisher_adapt(counts, moments, inv, one([0.0]), one([1.0]))
    assert not _fisher_adapt(counts, moments, inv, one([1.0]), one([-2.0]))
    # a transition that returned its initial point adds nothing
    assert not _fisher_adapt(counts, moments, inv, one([1.0]), one([-2.0]), before=one([1.0]))
    assert inv[0] == 7.0 and counts[F.FG_COUNT] == 2
    assert _fisher_adapt(counts, moments, inv, one([3.0]), one([0.5]))
    assert inv[0] == pytest.approx(np.sqrt(np.var([0.0, 1.0, 3.0]) / np.var([1.0, -2.0, 0.5])))
    assert not _fisher_adapt(counts, moments, inv, one([2.0]), one([0.0]))
    assert counts[F.N_UPDATES] == 2
    # outside the collecting iterations: no draw is added and the metric is kept
    assert not _fisher_adapt(counts, moments, inv, one([9.0]), one([9.0]), flag=0)
    assert counts[F.FG_COUNT] == 4 and counts[F.N_UPDATES] == 2


def test_fisher_adapt_step_size_and_switch():
    counts, moments = _fisher_state(1)
    one = np.array
    for q in (0.0, 1.0, 2.0, 4.0):
        _fisher_adapt(counts, moments, np.ones(1), one([q]), one([-q]))
    _fisher_adapt(counts, moments, np.ones(1), one([8.0]), one([-8.0]), flag=A.COLLECT | F.SWITCH)
    assert counts[F.FG_COUNT] == 5 and counts[F.BG_COUNT] == 0
    # dual averaging: the same update as kernels.step_size's, from the same state
    da = np.zeros(Z.DA_SIZE)
    Z.dual_averaging_init(da, 0.5)
    ref = da.copy()
    eps, search = F.fisher_adapt(A.COLLECT, _driver_options(), True, np.ones(1),
                                 one([3.0]), one([-3.0]), 0.6, 0.5, counts, moments, da)
    assert not search and eps == Z.dual_averaging_update(ref, 0.6, 0.8, 0.05, 0.75, 10.0)
    np.testing.assert_array_equal(da, ref)


# Expected switch schedules, derived by hand from nuts-rs's rules (src/adapt_strategy.rs):
# early phase = first int(0.3 N) draws, final step-size window = last int(0.15 N) draws; the
# initial point counts as one background draw; switch after the draw that brings the background
# to the switch frequency (10 early; then 80, growing to max(w + 1, round(1.5 w)) after each
# switch; at the first main-phase draw the window is at least the background count), unless
# draw index + next window size > start of the final window.


def test_fisher_schedule_1000():
    s = F.fisher_schedule(1000)
    # early: background 1 + 9 draws at draw 8, then every 10 draws up to 298 (< 300)
    early = list(range(8, 300, 10))
    # main: background 1 after draw 299; 80 after draw 378 (next 120: 378 + 120 <= 850);
    # 120 after 498 (next 180: 678 <= 850); 180 after 678, but 678 + 270 > 850: no switch
    assert F.fisher_switches(s) == early + [378, 498]
    assert np.array_equal(np.flatnonzero(s & A.COLLECT), np.arange(850))
    # late (symmetric step-size statistic) once no switch can come: 270 + i > 850 after the
    # switch at 498 (next window 270), i.e. from draw 581 on, and the final window
    assert np.array_equal(np.flatnonzero(s & F.LATE), np.arange(581, 1000))
    assert set(np.unique(s & ~F.LATE).tolist()) == {0, A.COLLECT, A.COLLECT | F.SWITCH}


def test_fisher_schedule_150():
    s = F.fisher_schedule(150)
    # early phase 45 draws: switches at 8, 18, 28, 38; final window int(22.5) = 22 -> starts
    # at 128; main-phase windows (80, next 120) can never end before 128: no further switch
    assert F.fisher_switches(s) == [8, 18, 28, 38]
    assert np.array_equal(np.flatnonzero(s & A.COLLECT), np.arange(128))


def test_fisher_schedule_window_rounding_and_no_shrinking():
    # windows 83 -> round(124.5) = 125 (half away from zero, as Rust) -> round(187.5) = 188:
    # background 83 after draw 381, 125 after 506; 188 after 694 but 694 + 282 > 850
    s = F.fisher_schedule(1000, switch_freq=83)
    assert F.fisher_switches(s)[-2:] == [381, 506] and F.fisher_switches(s)[-3] == 298
    # early switches every 200: draw 198 only; 101 draws in the background at draw 300, so
    # the first main window is 101 (not 80): switch at 300, then 152 -> 452; 228 -> 680 > 850
    s = F.fisher_schedule(1000, early_switch_freq=200)
    assert F.fisher_switches(s) == [198, 300, 452]


def test_fisher_schedule_edge_cases():
    assert F.fisher_schedule(0).shape == (0,)
    s = F.fisher_schedule(20)  # early 6 draws, final window 3: too short for any switch
    assert F.fisher_switches(s) == [] and (np.flatnonzero(s & A.COLLECT) == np.arange(17)).all()
    with pytest.raises(ValueError, match="window_growth"):
        F.fisher_schedule(100, window_growth=0.5)


def _fisher_run(data, q0, num_warmup, **changes):
    options = SamplerOptions(num_warmup=num_warmup, mass_matrix_adaptation="fisher", **changes)
    n, d = q0.shape
    st = init_chain_state(gaussian_precision.address, data.ctypes.data, q0, 5,
                          inverse_mass_matrix=options.inverse_mass_matrix)
    out = allocate_output(n, 10, d)
    S.run(gaussian_precision.address, data.ctypes.data, options.compile(), st, out, 0,
          num_warmup)
    return st


def test_fisher_initial_metric_from_the_gradient_at_the_initial_point():
    prec = np.diag([4.0, 0.25, 1.0])
    data = _gauss_data(np.zeros(3), prec)
    q0 = np.array([[0.5, 2.0, -3.0], [1.0, -1.0, 0.2]])
    # one warmup iteration: the estimators hold at most 2 draws, so the metric stays 1/|grad|
    st = _fisher_run(data, q0, 1)
    np.testing.assert_allclose(st.inv_diag, 1.0 / np.abs(q0 @ prec), rtol=1e-14)
    assert (st.fisher_counts[:, F.FG_COUNT] >= 1).all()
    st = _fisher_run(data, q0, 1, inverse_mass_matrix=np.ones(3))  # the user's initial metric
    assert (st.inv_diag == 1.0).all()


def test_fisher_metric_adaptation_recovers_scales():
    sd = np.logspace(-3, 3, 6)
    data = _gauss_data(np.zeros(6), np.diag(1 / sd**2))
    st = _fisher_run(data, np.full((2, 6), 0.01), 300)
    # the gradients are linear in the draws, so the estimate is exact whatever the draws
    np.testing.assert_allclose(st.inv_diag / sd**2, 1.0, rtol=1e-8)
    assert (st.fisher_counts[:, F.N_UPDATES] > 200).all()  # updated after (almost) every draw


def test_fisher_rejects_a_dense_metric_and_bad_modes():
    with pytest.raises(ValueError, match="diagonal mass matrix only"):
        SamplerOptions(dense_mass=True, mass_matrix_adaptation="fisher")
    with pytest.raises(ValueError, match="mass_matrix_adaptation"):
        SamplerOptions(mass_matrix_adaptation="nutpie")


def _funnel_divergences(seed, **changes):
    # per-chain divergences after warmup on the centred eight schools, 4 x (1000 + 1000)
    options = SamplerOptions(num_warmup=1000, **changes)
    data = EIGHT_SCHOOLS
    r = np.random.default_rng(seed)
    state = init_chain_state(eight_schools_centred.address, data.ctypes.data,
                             r.uniform(-2, 2, (4, 10)), seed)
    out = allocate_output(4, 1000, 10)
    S.run(eight_schools_centred.address, data.ctypes.data, options.compile(), state, out, 0,
          2000, out_offset=1000)
    return out.diverging.sum(axis=1)


def test_fisher_on_a_funnel_diverges_no_more_than_stan():
    # nutpie's adaptation (divergent draws near the start of their trajectory kept out of the
    # estimators, the symmetric step-size statistic late in warmup) against Stan's windows on
    # the same seeds and initial points: the median chain diverges no more often. (The median,
    # not the total: with either adaptation a chain may end its warmup deep in the funnel's
    # neck and then diverge at every transition, nutpie's own sampler included.)
    fisher = np.concatenate([_funnel_divergences(s, mass_matrix_adaptation="fisher")
                             for s in (1, 2, 3)])
    stan = np.concatenate([_funnel_divergences(s) for s in (1, 2, 3)])
    assert np.median(fisher) <= np.median(stan), (fisher, stan)
