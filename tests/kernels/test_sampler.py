"""The many-chain driver: compiled once, reproducible across threads/chunks, correct posteriors."""

import math
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

from kernels import rng
from kernels import sampler as S
from kernels.fisher_adaptation import N_UPDATES
from kernels.jit import JIT_DISABLED
from kernels.options import SamplerOptions
from kernels.state import allocate_output, init_chain_state, random_initial_points
from tests.cfunc_models import diag_normal, gaussian_precision, normal_nan_region
from tests.cfunc_models import gauss_data as _gauss_data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _sample(
    address,
    data,
    dim,
    n_chains=4,
    num_warmup=1000,
    num_samples=1000,
    seed=1,
    init=None,
    chunks=None,
    **changes,
):
    options = SamplerOptions(num_warmup=num_warmup, **changes)
    compiled = options.compile(warn=False)
    q0 = np.full((n_chains, dim), 0.1) if init is None else init
    state = init_chain_state(address, data.ctypes.data, q0, seed, dense_mass=options.dense_mass,
                             step_size=options.step_size)
    out = allocate_output(n_chains, num_samples, dim)
    bounds = chunks or [0, num_warmup + num_samples]
    for a, b in zip(bounds[:-1], bounds[1:]):
        S.run(address, data.ctypes.data, compiled, state, out, a, b, out_offset=num_warmup)
    return state, out


def _mcse_mean(x, n_batches=20):
    """Monte Carlo standard error of the mean of x (chain, draw) by batch means."""
    c, n = x.shape
    b = x[:, : n - n % n_batches].reshape(c, n_batches, -1).mean(axis=2).ravel()
    return b.std(ddof=1) / math.sqrt(b.size)


def _check_moments(draws, mean, var):
    for k in range(draws.shape[2]):
        x = draws[:, :, k]
        m = x.mean()
        assert abs(m - mean[k]) < 4 * _mcse_mean(x), (k, m, mean[k])
        sq = (x - mean[k]) ** 2
        assert abs(sq.mean() - var[k]) < 4 * _mcse_mean(sq), (k, sq.mean(), var[k])


def _outputs_equal(a, b):
    return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))


# ----------------------------------------------------------------------------------------------


@pytest.mark.skipif(JIT_DISABLED, reason="counts compiled signatures")
def test_compiled_once_for_two_models():
    data1 = np.concatenate([[3.0], [1.0, 2.0, 3.0]])
    data2 = _gauss_data([0.0, 1.0], np.array([[2.0, 0.3], [0.3, 1.0]]))
    _sample(diag_normal.address, data1, 3, n_chains=2, num_warmup=50, num_samples=20)
    _sample(
        gaussian_precision.address,
        data2,
        2,
        n_chains=3,
        num_warmup=50,
        num_samples=20,
        dense_mass=True,
    )
    _sample(
        gaussian_precision.address,
        data2,
        2,
        n_chains=2,
        num_warmup=0,
        num_samples=20,
        algorithm="hmc",
        num_steps=10,
    )
    assert len(S.advance_chain.signatures) == 1


@pytest.mark.parametrize("adaptation", ["stan", "fisher"])
def test_same_draws_on_one_or_two_threads_and_any_chain_order(adaptation):
    d = 10
    data = np.concatenate([[float(d)], np.linspace(0.5, 3.0, d)])
    init = np.random.default_rng(0).normal(size=(4, d))
    opts = {"init": init, "num_warmup": 150, "num_samples": 100,
            "mass_matrix_adaptation": adaptation}
    n_threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        st1, out1 = _sample(diag_normal.address, data, d, **opts)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        st2, out2 = _sample(diag_normal.address, data, d, **opts)
    finally:
        numba.set_num_threads(n_threads)
    assert _outputs_equal(out1, out2)
    assert all(np.array_equal(a, b) for a, b in zip(st1, st2))

    # chains in another order: chain k of the permuted run is chain perm[k] of the first run
    perm = np.array([2, 0, 3, 1])
    options = SamplerOptions(num_warmup=150, mass_matrix_adaptation=adaptation)
    state = init_chain_state(
        diag_normal.address, data.ctypes.data, init[perm], 0, rng=rng.seed_streams(1, 4)[perm]
    )
    out = allocate_output(4, 100, d)
    S.run(diag_normal.address, data.ctypes.data, options.compile(), state, out, 0, 250,
          out_offset=150)
    for a, b in zip(out, out1):
        assert np.array_equal(a, b[perm])


def test_chunked_run_equals_single_call():
    d = 3
    data = _gauss_data([1.0, 0.0, -1.0], np.diag([1.0, 4.0, 0.25]))
    single = _sample(
        gaussian_precision.address, data, d, n_chains=2, num_warmup=200, num_samples=100
    )
    chunked = _sample(
        gaussian_precision.address,
        data,
        d,
        n_chains=2,
        num_warmup=200,
        num_samples=100,
        chunks=[0, 1, 74, 75, 99, 100, 199, 200, 260, 300],
    )
    assert _outputs_equal(single[1], chunked[1])
    assert all(np.array_equal(a, b) for a, b in zip(single[0], chunked[0]))


def test_chunked_run_equals_single_call_fisher():
    # chunk boundaries at, just before and just after switches (8, 18, ...) and at the start
    # of the step-size-only window (170 of 200)
    d = 3
    data = _gauss_data([1.0, 0.0, -1.0], np.array([[1.0, 0.3, 0.0], [0.3, 4.0, 0.0], [0, 0, 0.25]]))
    opts = {"n_chains": 2, "num_warmup": 200, "num_samples": 100,
            "mass_matrix_adaptation": "fisher"}
    single = _sample(gaussian_precision.address, data, d, **opts)
    chunks = [0, 1, 2, 8, 9, 19, 57, 58, 169, 170, 171, 199, 200, 260, 300]
    chunked = _sample(gaussian_precision.address, data, d, chunks=chunks, **opts)
    assert _outputs_equal(single[1], chunked[1])
    assert all(np.array_equal(a, b) for a, b in zip(single[0], chunked[0]))
    assert single[0].fisher_counts[:, N_UPDATES].min() > 100  # the Fisher path did run


def test_posterior_ill_scaled_gaussian_fisher():
    # scales 1e-3 .. 1e3: the metric is exact (see test_adaptation), the posterior moments must
    # be right within Monte Carlo error
    sd = np.logspace(-3, 3, 7)
    data = np.concatenate([[7.0], sd])
    opts = {"seed": 6, "init": np.full((4, 7), 0.001), "mass_matrix_adaptation": "fisher"}
    state, out = _sample(diag_normal.address, data, 7, **opts)
    _check_moments(out.draws, np.zeros(7), sd**2)
    np.testing.assert_allclose(state.inv_diag / sd**2, 1.0, rtol=1e-8)
    assert out.diverging.sum() == 0
    # a unit-scale problem after preconditioning: short trajectories, as on N(0, I)
    assert out.n_steps.mean() < 10


def test_posterior_correlated_2d_gaussian():
    cov = np.array([[1.0, 1.8], [1.8, 4.0]])  # correlation 0.9
    mean = np.array([1.0, -2.0])
    data = _gauss_data(mean, np.linalg.inv(cov))
    for dense_mass in (False, True):
        _, out = _sample(gaussian_precision.address, data, 2, seed=3, dense_mass=dense_mass)
        assert not out.diverging.any()
        _check_moments(out.draws, mean, np.diag(cov))
        x = out.draws.reshape(-1, 2)
        assert abs(np.corrcoef(x.T)[0, 1] - 0.9) < 0.03


def test_posterior_ill_conditioned_10d_diagonal():
    sd = np.logspace(-2, 2, 10)
    data = np.concatenate([[10.0], sd])
    state, out = _sample(diag_normal.address, data, 10, seed=5, init=np.full((4, 10), 0.005))
    assert not out.diverging.any()
    _check_moments(out.draws, np.zeros(10), sd**2)
    assert (out.tree_depth <= 10).all() and (out.n_steps >= 1).all()
    np.testing.assert_array_equal(out.step_size, np.repeat(state.step_size[:, None], 1000, 1))
    assert np.isfinite(out.energy_error).all()
    assert (np.abs(out.energy_error) <= np.abs(out.max_energy_error)).all()


@pytest.mark.parametrize("adaptation", ["stan", "fisher"])
def test_static_hmc_posterior(adaptation):
    cov = np.array([[1.0, 0.5], [0.5, 2.0]])
    data = _gauss_data(np.zeros(2), np.linalg.inv(cov))
    _, out = _sample(
        gaussian_precision.address,
        data,
        2,
        seed=7,
        algorithm="hmc",
        trajectory_length=2.0,
        jitter=0.2,
        mass_matrix_adaptation=adaptation,
    )
    _check_moments(out.draws, np.zeros(2), np.diag(cov))
    assert (out.tree_depth == 0).all() and not out.reached_max_treedepth.any()
    assert len(np.unique(out.step_size)) > 100  # jittered


def test_nan_region_gives_divergences_not_errors():
    data = np.array([2.0, 1.0])
    state, out = _sample(
        normal_nan_region.address, data, 2, seed=2, num_warmup=300, num_samples=500
    )
    assert out.diverging.sum() > 0
    assert np.all(state.status == 0)
    assert np.isfinite(out.lp).all() and np.isfinite(out.draws).all()
    assert (out.draws[:, :, 0] <= 1.0).all()
    assert np.isinf(out.max_energy_error[out.diverging]).any()


def test_max_treedepth_reported():
    d = 2
    data = np.concatenate([[2.0], [1.0, 1.0]])
    _, out = _sample(
        diag_normal.address,
        data,
        d,
        n_chains=2,
        num_warmup=0,
        num_samples=50,
        adapt_step_size=False,
        max_tree_depth=3,
        step_size=0.05,
    )
    # a U-turn needs ~pi / 0.05 steps, far more than 2**3 - 1
    assert (out.tree_depth == 3).all() and out.reached_max_treedepth.all()
    assert (out.n_steps == 7).all() and (out.step_size == 0.05).all()
    _, out = _sample(
        diag_normal.address,
        data,
        d,
        n_chains=2,
        num_warmup=0,
        num_samples=50,
        adapt_step_size=False,
        max_tree_depth=10,
        step_size=0.5,
    )
    assert np.array_equal(out.reached_max_treedepth, out.tree_depth == 10)
    assert (out.tree_depth < 10).all()


def test_random_initial_points_and_bad_init():
    data = np.array([2.0, 0.5])
    streams = rng.seed_streams(0, 3)
    pos = np.empty((3, 2))
    tries = random_initial_points(
        normal_nan_region.address, data.ctypes.data, streams, pos, 2.0, 100
    )
    assert (tries >= 1).all() and (pos[:, 0] <= 0.5).all() and (np.abs(pos) < 2).all()
    with pytest.raises(ValueError, match="chain 1"):
        init_chain_state(
            normal_nan_region.address, data.ctypes.data, np.array([[0.0, 0.0], [1.0, 0.0]]), 0
        )


def test_pure_python_path_gives_identical_draws():
    """NUMBAYES_DISABLE_JIT=1 runs the same kernels as Python (model called through ctypes)."""
    data = _gauss_data([0.5, -0.5], np.array([[2.0, 0.6], [0.6, 1.0]]))
    _, out = _sample(
        gaussian_precision.address, data, 2, n_chains=2, num_warmup=30, num_samples=10, seed=4
    )
    script = textwrap.dedent(
        """
        import sys, numpy as np
        from numba import carray, cfunc
        from kernels.model_abi import LOGP_GRAD_SIG
        from kernels import sampler as S
        from kernels.jit import JIT_DISABLED
        from kernels.options import SamplerOptions
        from kernels.state import allocate_output, init_chain_state
        assert JIT_DISABLED

        @cfunc(LOGP_GRAD_SIG)
        def model(theta, grad, logp, data):
            buf = carray(data, (7,), np.float64)
            t = carray(theta, (2,))
            g = carray(grad, (2,))
            s = 0.0
            for i in range(2):
                acc = 0.0
                for j in range(2):
                    acc += buf[3 + i * 2 + j] * (t[j] - buf[1 + j])
                g[i] = -acc
                s += (t[i] - buf[1 + i]) * acc
            logp[0] = -0.5 * s
            return 0

        data = np.array([2.0, 0.5, -0.5, 2.0, 0.6, 0.6, 1.0])
        options = SamplerOptions(num_warmup=30)
        st = init_chain_state(model.address, data.ctypes.data, np.full((2, 2), 0.1), 4)
        out = allocate_output(2, 10, 2)
        S.run(model.address, data.ctypes.data, options.compile(warn=False), st, out, 0, 40, 30)
        np.save(sys.argv[1], out.draws)
        """
    )
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nb_pure_{os.getpid()}.npy")
    env = dict(os.environ, NUMBAYES_DISABLE_JIT="1", PYTHONPATH=ROOT)
    subprocess.run([sys.executable, "-c", script, path], check=True, env=env, cwd=ROOT, timeout=300)
    try:
        np.testing.assert_array_equal(np.load(path), out.draws)
    finally:
        os.remove(path)
