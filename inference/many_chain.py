r"""How :class:`inference.mcmc.MCMC` runs a many-chain kernel (:class:`inference.chees.ChEES`).

The run: compile the model, check the memory, draw the initial points (the kernel's
``init_strategy``, as for NUTS), then advance all chains in chunks of iterations
(:func:`kernels.chees.run`); each chunk's outputs are thinned and either kept in memory
(in ``draw_dtype``) or appended to a zarr store (:mod:`inference.draw_store`), so a run
holds at most one chunk of float64 draws besides what it keeps. The results are an
:class:`inference.results.MCMCResults` like NUTS' (summary, ``get_samples``, ArviZ export);
the adapted shared values are ``mcmc.adapted`` (step size, trajectory length, inverse mass
matrix).

What it does not do (yet): ``post_warmup_state``/continuing a run, ``save_warmup``, an
``executor``, a progress bar (``progress_callback`` is not called), and keeping the draws of an
interrupted run.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from inference import functional as F
from inference.protocols import chain_data_pointers
from inference.resources import check_memory
from inference.results import MCMCResults
from kernels import chees as K
from kernels.state import allocate_output

__all__ = ["run_many_chain", "CHUNK_ITERATIONS"]

#: Iterations per compiled call (a chunk's float64 outputs are the only draws held besides the
#: kept ones): bounded so that chunk memory stays small for thousands of chains.
CHUNK_ITERATIONS = 50


def _check_supported(mcmc: Any) -> None:
    kernel = type(mcmc.kernel).__name__
    if mcmc.num_chains < 2:
        raise ValueError(f"{kernel} adapts from cross-chain statistics and needs num_chains >= 2 "
                         f"(hundreds are typical), got num_chains={mcmc.num_chains}")
    for name, value, default in [("post_warmup_state", mcmc.post_warmup_state, None),
                                 ("executor", mcmc.executor, None),
                                 ("save_warmup", mcmc.save_warmup, False)]:
        if value is not default:
            raise ValueError(f"MCMC({kernel}(...)) does not support {name} yet; use NUTS or HMC "
                             f"for it, or leave {name} at {default!r}")


def run_many_chain(mcmc: Any, seed: Any, args: tuple, kwargs: dict,
                   init_params: Any = None) -> MCMCResults:
    """Run ``mcmc.num_warmup`` warmup and ``mcmc.num_samples`` sampling iterations of
    ``mcmc.kernel`` over ``mcmc.num_chains`` chains (module docstring); returns the results."""
    from inference.draw_store import DrawStore

    _check_supported(mcmc)
    if seed is None:
        raise TypeError("seed is required (an int or a numpy.random.Generator)")
    kernel = mcmc.kernel
    model, model_seconds = mcmc._model(args, kwargs)
    num_warmup, num_samples, thin = mcmc.num_warmup, mcmc.num_samples, mcmc.thinning
    check_memory(mcmc._run_bytes(model, num_warmup, num_samples))
    seed = F.seed_to_int(seed)
    n_chains, dim = mcmc.num_chains, int(model.dim)
    q0 = F._initial_positions(model, seed, n_chains, init_params, kernel.init_strategy)
    chains, shared = K.init_chees(int(model.logp_grad_address), int(model.data_pointer), q0,
                                  seed, float(kernel.step_size), kernel.inverse_mass_matrix)
    settings = kernel.settings(num_warmup)
    n_blocks = len(K._blocks(n_chains, kernel.block_size))
    pointers = chain_data_pointers(model, n_blocks)

    kept = num_samples // thin
    store = DrawStore(mcmc.store, model) if mcmc.store is not None else None
    keep_in_memory = store is None
    draws = np.empty((n_chains, kept if keep_in_memory else 0, dim), dtype=mcmc.draw_dtype)
    stats: dict[str, np.ndarray] | None = None
    divergences = np.zeros(n_chains, dtype=np.int64)
    warmup_divergences = np.zeros(n_chains, dtype=np.int64)
    timings = {"model_compile": model_seconds, "sampler_compile": 0.0, "warmup": 0.0,
               "sampling": 0.0}
    total, it, n_kept = num_warmup + num_samples, 0, 0
    chunk_size = mcmc.chunk_size or CHUNK_ITERATIONS
    while it < total:
        boundary = num_warmup if it < num_warmup else total
        n = min(chunk_size, boundary - it)
        chunk = allocate_output(n_chains, n, dim)
        t0 = time.perf_counter()
        K.run(int(model.logp_grad_address), pointers, settings, shared, chains, chunk, it,
              it + n, out_offset=it, block_size=kernel.block_size,
              initial_length=kernel.initial_trajectory_length)
        timings["warmup" if it < num_warmup else "sampling"] += time.perf_counter() - t0
        if it < num_warmup:
            warmup_divergences += chunk.diverging.sum(axis=1)
        else:
            divergences += chunk.diverging.sum(axis=1)
            j = np.arange(it, it + n) - num_warmup  # sampling-iteration index
            rows = np.flatnonzero((j + 1) % thin == 0)
            part = {name: a[:, rows] for name, a in chunk.sample_stats().items()}
            if keep_in_memory:
                if stats is None:
                    stats = {name: np.empty((n_chains, kept), a.dtype)
                             for name, a in part.items()}
                draws[:, n_kept:n_kept + rows.size] = chunk.draws[:, rows]
                for name, a in part.items():
                    stats[name][:, n_kept:n_kept + rows.size] = a
            else:
                store.append(chunk.draws[:, rows].astype(mcmc.draw_dtype, copy=False), part,
                             n_kept)
            n_kept += rows.size
        it += n
    if stats is None:
        stats = {name: np.empty((n_chains, 0), a.dtype)
                 for name, a in allocate_output(n_chains, 0, dim).sample_stats().items()}
    mcmc.adapted = {"step_size": float(shared.step_size[0]),
                    "trajectory_length": math.exp(float(shared.log_length[0])),
                    "inverse_mass_matrix": shared.inv_diag.copy()}
    return MCMCResults(
        model=model, draws=draws, stats=stats, algorithm=kernel.algorithm,
        num_warmup=num_warmup, num_samples=num_samples, thinning=thin,
        divergences=divergences, max_treedepth_hits=np.zeros(n_chains, dtype=np.int64),
        warmup_divergences=warmup_divergences, max_tree_depth=None,
        target_accept_prob=float(kernel.target_accept_prob), timings=timings,
    )
