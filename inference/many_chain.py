r"""How :class:`inference.mcmc.MCMC` runs a many-chain kernel (:class:`inference.chees.ChEES`).

The run, as for NUTS: SIGTERM is recorded from the start (:mod:`inference.termination`); the
model compiles while a helper process compiles the kernels on a first run
(:func:`kernels.precompile.background_compile`); the memory is checked against the kernel's own
state tables (:mod:`inference.resources`); the initial points follow the kernel's
``init_strategy``. Then all chains advance in chunks of iterations (:func:`kernels.chees.run`):
each chunk's outputs go through the same :class:`inference.recording.Recorder` as NUTS' (thinned,
kept in ``draw_dtype``, warmup draws kept with ``save_warmup``) or, with ``store=``, its kept
sampling rows are appended to a zarr store (:mod:`inference.draw_store`), so a run holds at most
one chunk of float64 draws besides what it keeps. Between chunks the progress display and
``progress_callback`` are updated; Ctrl-C or SIGTERM stops the run there, keeping the completed
draws (a chunk interrupted before its draws were recorded is rolled back, so ``mcmc.adapted``
matches the kept draws), with a :class:`~inference.sampling_warnings.SamplingWarning`.

The results are an :class:`inference.results.MCMCResults` like NUTS' (summary, ``get_samples``,
ArviZ export); the adapted shared values are ``mcmc.adapted`` (step size, trajectory length,
inverse mass matrix).

Not supported, with an error saying so: ``post_warmup_state`` and ``warmup()`` (continuing a
run), and ``executor=``: the adaptation needs every chain's state after every warmup iteration
(cross-chain means and variances), so the chains cannot run as independent jobs on other
processes or machines the way NUTS' chains do; a many-chain run uses the threads of one process.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from inference import functional as F
from inference.progress import ChainProgress, NullReporter, make_reporter
from inference.protocols import chain_data_pointers
from inference.recording import ChunkSizer, Recorder
from inference.resources import check_memory
from inference.results import MCMCResults
from inference.termination import StopRequest, sigterm_stops_sampling
from kernels import chees as K
from kernels.precompile import background_compile
from kernels.state import SampleOutput, allocate_output

__all__ = ["run_many_chain", "CHUNK_ITERATIONS"]

#: The most iterations per compiled call (a chunk's float64 outputs are the only draws held
#: besides the kept ones): bounded so that chunk memory stays small for thousands of chains.
#: Within it the chunk length adapts to about a quarter of a second per call, as for NUTS.
CHUNK_ITERATIONS = 50


def _check_supported(mcmc: Any) -> None:
    kernel = type(mcmc.kernel).__name__
    if mcmc.num_chains < 2:
        raise ValueError(f"{kernel} adapts from cross-chain statistics and needs num_chains >= 2 "
                         f"(hundreds are typical), got num_chains={mcmc.num_chains}")
    if mcmc.executor is not None:
        raise ValueError(
            f"MCMC({kernel}(...)) does not support executor=: its adaptation reads every "
            f"chain's state after every warmup iteration, so its chains cannot run as separate "
            f"jobs on other processes or machines. Leave executor=None (the chains run on "
            f"threads of this process, numba.set_num_threads), or use NUTS for executor=")
    if mcmc.post_warmup_state is not None:
        raise ValueError(f"MCMC({kernel}(...)) does not support post_warmup_state yet; use NUTS "
                         f"or HMC for it, or leave post_warmup_state at None")


def _store_sink(store: Any, draw_dtype: str):
    """A :class:`Recorder` sink appending each chunk's kept rows to ``store``."""
    def sink(rows: SampleOutput, first: int) -> None:
        store.append(rows.draws.astype(draw_dtype, copy=False), rows.sample_stats(), first)
    return sink


def run_many_chain(mcmc: Any, seed: Any, args: tuple, kwargs: dict,
                   init_params: Any = None) -> MCMCResults:
    """Run ``mcmc.num_warmup`` warmup and ``mcmc.num_samples`` sampling iterations of
    ``mcmc.kernel`` over ``mcmc.num_chains`` chains (module docstring); returns the results
    (also set as ``mcmc._results``)."""
    _check_supported(mcmc)
    if seed is None:
        raise TypeError("seed is required (an int or a numpy.random.Generator)")
    with sigterm_stops_sampling() as request:
        # the kernels compile in a helper while the model compiles here (first run only)
        t0 = time.perf_counter()
        with background_compile(K.COMPILED_KERNELS):
            model, model_seconds = mcmc._model(args, kwargs)
        compile_seconds = time.perf_counter() - t0 - model_seconds
        return _run(mcmc, model, model_seconds, compile_seconds, seed, init_params, request)


def _run(mcmc: Any, model: Any, model_seconds: float, compile_seconds: float, seed: Any,
         init_params: Any, request: StopRequest) -> MCMCResults:
    from inference.draw_store import DrawStore

    kernel = mcmc.kernel
    num_warmup, num_samples = mcmc.num_warmup, mcmc.num_samples
    check_memory(mcmc._run_bytes(model, num_warmup, num_samples))
    seed = F.seed_to_int(seed)
    n_chains, dim = mcmc.num_chains, int(model.dim)
    q0 = F._initial_positions(model, seed, n_chains, init_params, kernel.init_strategy)
    chains, shared = K.init_chees(int(model.logp_grad_address), int(model.data_pointer), q0,
                                  seed, float(kernel.step_size), kernel.inverse_mass_matrix)
    settings = kernel.settings(num_warmup)
    pointers = chain_data_pointers(model, len(K._blocks(n_chains, kernel.block_size)))
    sink = (_store_sink(DrawStore(mcmc.store, model), mcmc.draw_dtype)
            if mcmc.store is not None else None)
    rec = Recorder(n_chains, dim, 0, num_warmup, num_samples, mcmc.thinning, mcmc.save_warmup,
                   mcmc.draw_dtype, sink=sink)
    timings = {"model_compile": model_seconds, "sampler_compile": compile_seconds,
               "warmup": 0.0, "sampling": 0.0}
    total = num_warmup + num_samples
    progress = [ChainProgress(c, "warmup" if num_warmup else "sampling", 0, total, num_warmup)
                for c in range(n_chains)]
    reporter = make_reporter(mcmc.progress_bar)
    reporter.start(progress)
    try:
        stopped_by = _loop(mcmc, model, settings, shared, chains, pointers, rec, progress,
                           reporter, timings, request, total)
    except BaseException:
        reporter.close(progress)
        raise
    mcmc.adapted = {"step_size": float(shared.step_size[0]),
                    "trajectory_length": math.exp(float(shared.log_length[0])),
                    "inverse_mass_matrix": shared.inv_diag.copy()}
    draws, stats = rec.kept()
    warmup_draws, warmup_stats = rec.kept_warmup()
    results = MCMCResults(
        model=model, draws=draws, stats=stats, algorithm=kernel.algorithm,
        num_warmup=num_warmup, num_samples=rec.sampled, thinning=mcmc.thinning,
        divergences=rec.divergences, max_treedepth_hits=rec.max_depth_hits,
        warmup_divergences=rec.warmup_divergences, max_tree_depth=None,
        target_accept_prob=float(kernel.target_accept_prob), timings=timings,
        interrupted=stopped_by is not None, warmup_draws=warmup_draws,
        warmup_stats=warmup_stats, stopped_by=stopped_by,
        warmup_used=np.full(n_chains, rec.warmed, dtype=np.int64),
    )
    mcmc._results = results
    for p in progress:
        p.phase = "interrupted" if stopped_by else "done"
    reporter.close(progress, mcmc._closing_message(timings, rec, num_warmup))
    mcmc._warn(stopped_by, rec, num_samples)
    return results


def _loop(mcmc, model, settings, shared, chains, pointers, rec, progress, reporter, timings,
          request: StopRequest, total: int) -> str | None:
    """Run chunks to ``total`` iterations; if interrupted, return what stopped it
    (``"KeyboardInterrupt"`` or the signal's name), else None. As in
    :meth:`inference.mcmc.MCMC._loop`, a chunk whose draws were not recorded is rolled back."""
    kernel, num_warmup = mcmc.kernel, mcmc.num_warmup
    n_chains, dim = chains.position.shape
    sizer = ChunkSizer(mcmc.chunk_size)
    shown = mcmc.progress_callback is not None or not isinstance(reporter, NullReporter)
    it, t_begin = 0, time.perf_counter()
    while it < total:
        if request:
            return request.signal_name
        boundary = num_warmup if it < num_warmup else total
        n = min(sizer.next(boundary - it), CHUNK_ITERATIONS)
        snapshot, recorded = None, False
        try:
            snapshot = (chains.copy(), shared.copy())
            chunk = allocate_output(n_chains, n, dim)
            t0 = time.perf_counter()
            K.run(int(model.logp_grad_address), pointers, settings, shared, chains, chunk, it,
                  it + n, out_offset=it, block_size=kernel.block_size,
                  initial_length=kernel.initial_trajectory_length)
            seconds = time.perf_counter() - t0
            rec.record(chunk, it)
            recorded = True
            sizer.observe(n, seconds)
            timings["warmup" if it < num_warmup else "sampling"] += seconds
            it += n
            if shown:  # (a thousand records per chunk: not filled when nobody reads them)
                rec.show_progress(progress, chunk, "warmup" if it < num_warmup else "sampling",
                                  it, time.perf_counter() - t_begin, seconds)
                reporter.update(progress)
            if mcmc.progress_callback is not None:
                mcmc.progress_callback(progress)
        except KeyboardInterrupt:
            if not recorded and snapshot is not None:
                # the chunk's draws were not kept: the adapted values must match the kept draws
                for now, before in zip((chains, shared), snapshot):
                    for a, b in zip(now, before):
                        a[...] = b
            return "KeyboardInterrupt"
    return None
