"""Chains on a ``concurrent.futures.Executor``: a Dask cluster's, a process pool's.

``MCMC(..., executor=ex)`` runs each chain's share of every chunk of iterations as a job
``ex.submit(advance_one_chain, ...)`` instead of on a thread of this process. Any executor with
the standard ``submit`` works: ``dask.distributed.Client(...).get_executor()`` (with
``dask-jobqueue`` for SLURM or PBS clusters), ``concurrent.futures.ProcessPoolExecutor``, or a
thread pool.

What a job carries: the model *recipe* (the model function and its arguments, pickled), the
compiled sampler options, the chain's row of every state array and the iteration range. A worker
compiles the model once per process (the machine code comes from the worker's Numba disk cache
after its first compile) and keeps it for the following chunks; the sampler itself is
compiled once per worker machine. The worker reaches the model only through
:class:`inference.protocols.CompiledModelLike`. The chain's random stream travels with its
state, so the draws are those of a run on local threads, bit for bit, whatever the workers and
their order.

Everything else stays local: initial points, chunking, progress, the recorder and Ctrl-C
handling (a Ctrl-C waits for the chunk's jobs to finish, as with threads, so the state and the
draws stay consistent).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import pickle
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from inference.protocols import chain_data_pointers, is_compiled_model, resolve_model
from kernels import sampler as S
from kernels.options import DriverOptions
from kernels.state import ChainState, SampleOutput, allocate_output

__all__ = ["ChainExecutor", "advance_one_chain", "check_executor"]

try:  # closures and functions defined in a notebook pickle by value with cloudpickle
    import cloudpickle as _pickler
except ImportError:  # pragma: no cover - cloudpickle comes with Dask
    _pickler = pickle

#: Models compiled in this (worker) process, by recipe (the most recent few: a long-lived
#: worker may serve many fits).
_COMPILED: dict[bytes, Any] = {}
_KEEP = 8
#: One compile at a time: a multi-threaded worker may start two chains of a new model at once,
#: and tracing a model uses the process's handler stack.
_COMPILE_LOCK = threading.Lock()
#: Each worker thread's slot: the index of the model's data table it evaluates with (a table
#: holds the model's workspace, so two threads running chains at once need two).
_THREAD_SLOT = threading.local()
_SLOTS = itertools.count()


def check_executor(executor: Any) -> None:
    """Raise a TypeError naming the fix unless ``executor`` has ``submit``."""
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor (with a submit method), e.g. "
            f"dask.distributed.Client(...).get_executor(); got {type(executor).__name__}"
        )


class ChainExecutor:
    """Runs the chains of :func:`inference.functional.advance` as jobs on ``executor``."""

    def __init__(
        self, executor: Any, model: Any, args: tuple, kwargs: Mapping[str, Any]
    ) -> None:
        check_executor(executor)
        if is_compiled_model(model):
            raise ValueError(
                "executor= needs the model function, which each worker compiles; a compiled "
                "model cannot be sent to another process. Pass NUTS(model_function) instead."
            )
        try:
            self.recipe = _pickler.dumps((model, tuple(args), dict(kwargs)))
        except Exception as err:  # noqa: BLE001 -- re-raised with the fix
            raise ValueError(
                f"executor=: the model function and its arguments must pickle to reach the "
                f"workers ({err}); define the model at module level, or install cloudpickle"
            ) from err
        self.executor = executor

    def advance(self, state: Any, stop: int, output: SampleOutput, out_offset: int) -> None:
        """Advance every chain of ``state`` through ``[state.iteration, stop)`` on the executor,
        writing ``output`` and the chains' state in place (the caller moves the iteration)."""
        options = state.compiled_options()
        start, n_out = int(state.iteration), output.draws.shape[1]
        chains = state.chains
        futures = [
            self.executor.submit(advance_one_chain, self.recipe, options,
                                 tuple(a[c].copy() for a in chains), start, int(stop),
                                 int(out_offset), n_out)
            for c in range(state.num_chains)
        ]
        try:
            results = [f.result() for f in futures]
        except KeyboardInterrupt:
            # as with threads: leave once every chain has finished its chunk, with the chunk's
            # results in place, so that the recorder may keep them
            concurrent.futures.wait(futures)
            self._write(futures, chains, output)
            raise
        self._write(futures, chains, output, results)

    @staticmethod
    def _write(futures, chains, output, results=None) -> None:
        if results is None:
            results = [f.result() for f in futures]
        for c, (chain, out) in enumerate(results):
            for dst, src in zip(chains, chain):
                dst[c] = src
            for dst, src in zip(output, out):
                dst[c] = src


def advance_one_chain(
    recipe: bytes,
    options: tuple[DriverOptions, np.ndarray],
    chain: tuple[np.ndarray, ...],
    start: int,
    stop: int,
    out_offset: int,
    n_out: int,
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The job: one chain through ``[start, stop)``; returns its new state row and its output.

    Runs in the worker. ``options`` is :meth:`kernels.options.SamplerOptions.compile`'s pair;
    ``chain`` is the chain's row of each :class:`kernels.state.ChainState` array, in field
    order; the result is ``(state rows, SampleOutput rows)``.
    """
    with _COMPILE_LOCK:
        model = _COMPILED.get(recipe)
        if model is None:
            fn, args, kwargs = pickle.loads(recipe)
            model = _COMPILED[recipe] = resolve_model(fn, args, kwargs)
            while len(_COMPILED) > _KEEP:
                del _COMPILED[next(iter(_COMPILED))]  # the oldest
        if not hasattr(_THREAD_SLOT, "index"):
            _THREAD_SLOT.index = next(_SLOTS)
    state = ChainState(*(np.ascontiguousarray(np.asarray(a)[None]) for a in chain))
    output = allocate_output(1, n_out, state.position.shape[1])
    # this thread's own data table (with its workspace): a multi-threaded worker may run two
    # chains of the same model at once
    slot = _THREAD_SLOT.index
    pointer = chain_data_pointers(model, slot + 1)[slot]
    S.run(int(model.logp_grad_address), [pointer], options, state, output, start, stop,
          out_offset, raise_on_error=False)
    return tuple(a[0] for a in state), tuple(a[0] for a in output)
