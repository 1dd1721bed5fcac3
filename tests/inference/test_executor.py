"""``MCMC(..., executor=...)``: chains as jobs on a concurrent.futures executor.

The oracle is the same run on this process's threads: each chain's random stream travels with
its state, so the draws must be identical bit for bit, on a thread pool and across a process
boundary (a spawned process pool, which imports and compiles everything afresh, as a Dask
worker does).
"""

from __future__ import annotations

import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import ppl
import ppl.distributions as dist
from inference import MCMC, NUTS, SamplingWarning
from inference.demo import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y, eight_schools
from ppl.model import compile_model

# the demo's model: defined at module level, so that it pickles by reference
schools, SIGMA, Y = eight_schools, EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y


def _draws(executor=None, model=schools, **kw):
    mcmc = MCMC(NUTS(model), num_warmup=150, num_samples=100, num_chains=3, chunk_size=60,
                progress_bar=False, executor=executor, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        mcmc.run(7, SIGMA, y=Y)
    return mcmc


class _Counting:
    """An executor that counts the jobs it passes on (so a test knows they went through it)."""

    def __init__(self, executor):
        self.executor, self.jobs = executor, 0

    def submit(self, fn, *args):
        self.jobs += 1
        return self.executor.submit(fn, *args)


@pytest.fixture(scope="module")
def local():
    return _draws()


def _same(a, b):
    np.testing.assert_array_equal(a.results.draws, b.results.draws)
    for name, values in a.get_extra_fields(group_by_chain=True).items():
        np.testing.assert_array_equal(values, b.get_extra_fields(group_by_chain=True)[name])
    np.testing.assert_array_equal(a.last_state.chains.rng, b.last_state.chains.rng)


def test_thread_pool_executor_gives_the_same_draws(local):
    with ThreadPoolExecutor(2) as pool:
        counting = _Counting(pool)
        _same(local, _draws(counting))
    assert counting.jobs >= 3 * (250 // 60)  # every chain of every chunk was a job


def test_spawned_process_pool_gives_the_same_draws(local):
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        counting = _Counting(pool)
        remote = _draws(counting)
    _same(local, remote)
    assert counting.jobs >= 3 * (250 // 60)
    assert remote.get_samples()["tau"].shape == (300,)


def test_closures_travel_by_value_with_cloudpickle(local):
    pytest.importorskip("cloudpickle")
    scale = 5.0

    def closure(sigma, y=None):  # a local function: plain pickle cannot send it
        mu = ppl.sample("mu", dist.Normal(0.0, scale))
        tau = ppl.sample("tau", dist.HalfCauchy(scale))
        with ppl.plate("J", len(sigma)):
            z = ppl.sample("z", dist.Normal(0.0, 1.0))
            ppl.sample("y", dist.Normal(mu + tau * z, sigma), obs=y)

    with ThreadPoolExecutor(2) as pool:
        _same(local, _draws(pool, model=closure))


def test_bad_executors_are_rejected_with_the_fix():
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        MCMC(NUTS(schools), num_warmup=10, num_samples=10, executor="dask")
    compiled = compile_model(schools, SIGMA, y=Y)
    mcmc = MCMC(NUTS(compiled), num_warmup=10, num_samples=10, progress_bar=False,
                executor=ThreadPoolExecutor(1))
    with pytest.raises(ValueError, match=r"needs the model function.*NUTS\(model_function\)"):
        mcmc.run(0)


def test_dask_cluster_gives_the_same_draws(local):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        counting = _Counting(client.get_executor())
        remote = _draws(counting)
    _same(local, remote)
    assert counting.jobs >= 3 * (250 // 60)


def test_a_dask_worker_that_dies_mid_run_changes_no_draw(local):
    """A worker killed while the run goes on: its jobs are run again elsewhere (Dask reschedules
    the tasks of a lost worker; each job is a pure function of the chain's state, random stream
    included), and the draws equal an undisturbed run's."""
    distributed = pytest.importorskip("distributed")
    import os
    import signal

    killed = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pids = client.run(os.getpid)  # worker address -> process id

        def kill_one_worker(progress):
            if not killed and progress[0].iteration >= 60:
                victim = sorted(pids)[0]
                os.kill(pids[victim], signal.SIGKILL)
                killed.append(victim)

        remote = _draws(client.get_executor(), progress_callback=kill_one_worker)
        assert killed and pids[killed[0]] not in client.run(os.getpid).values()  # it did die
    _same(local, remote)
