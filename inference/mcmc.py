r"""Run Markov chains: :class:`MCMC` drives a :class:`~inference.nuts.NUTS` or
:class:`~inference.hmc.HMC` kernel over many chains in compiled code.

What it owns: running warmup and sampling in *chunks* of compiled iterations (so that a
progress display is updated and Ctrl-C or SIGTERM keeps the completed draws), thinning, the
counters and the warning about divergences, chains whose adaptation failed (reported and
left out of the results while the others finish), and access to the results (samples, statistics,
summary, ArviZ export). What it
does not own: what a kernel and a compiled model are (:mod:`inference.protocols`), initial
points (:mod:`inference.functional`), the transition and adaptation algorithms (compiled in
:mod:`kernels`, driven by :mod:`kernels.sampler`), the first-run compile
(:mod:`kernels.precompile`), the estimate and check of the memory a run keeps
(:mod:`inference.resources`), the SIGTERM handler (:mod:`inference.termination`), the
diagnostics (:mod:`inference.diagnostics`) and the display (:mod:`inference.progress`).

Reproducibility
---------------
Chain ``c`` draws from its own random stream derived from ``(seed, c)``
(:func:`kernels.rng.seed_streams`), and every piece of per-chain state is carried between
chunks. Therefore the draws do not depend on ``chain_method`` ("parallel": each chain's
compiled code on its own thread; "sequential": one chain after the other), on the number of
threads (``numba.set_num_threads``), on the chunk size, or on whether a progress bar is shown.

Warmup, then sampling, then more sampling
-----------------------------------------
* ``mcmc.run(seed, *args)`` runs ``num_warmup`` warmup iterations (adaptation of the step size
  and mass matrix, Stan's or nutpie's: see :class:`~inference.nuts.NUTS`) and then
  ``num_samples`` sampling iterations, keeping every ``thinning``-th.
* ``mcmc.warmup(seed, *args)`` runs the warmup only and stores the adapted state in
  ``mcmc.post_warmup_state``; a following ``mcmc.run(seed, *args)`` then only samples,
  continuing from that state (positions, step sizes, mass matrices and random streams). This
  gives exactly the draws of a single ``run``.
* ``mcmc.last_state`` is the state after the last iteration. To draw more samples,
  ``mcmc.post_warmup_state = mcmc.last_state; mcmc.run(None, *args)``. When continuing from a
  state, the chains' random streams continue too, so ``seed`` is not used (pass ``None``). A
  state whose warmup was interrupted finishes its warmup first.

Examples
--------
>>> from tests.inference.models import GaussianModel   # with ppl: NUTS(model_function)
>>> model = GaussianModel(mean=[0.0, 1.0], cov=[[1.0, 0.3], [0.3, 0.5]])
>>> from inference.nuts import NUTS
>>> mcmc = MCMC(NUTS(model), num_warmup=300, num_samples=400, num_chains=2, progress_bar=False)
>>> mcmc.run(0)
>>> mcmc.get_samples()["x"].shape, mcmc.get_samples(group_by_chain=True)["x"].shape
((800, 2), (2, 400, 2))
>>> sorted(mcmc.get_extra_fields())[:3]
['acceptance_rate', 'diverging', 'energy']
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from inference import functional as F
from inference.draw_store import check_storage
from inference.executor import ChainExecutor, check_executor
from inference.progress import ChainProgress, make_reporter
from inference.protocols import MCMCKernel
from inference.recording import ChunkSizer, Recorder, snapshot_of
from inference.resources import RunBytes, check_memory, estimate_run_bytes, value_bytes_per_draw
from inference.results import MCMCResults, check_fields, select_fields
from inference.sampling_warnings import SamplingWarning
from inference.termination import StopRequest, sigterm_stops_sampling
from kernels import precompile
from kernels.state import allocate_output
from kernels.status import CHAIN_MESSAGES, CHAIN_OK, check_chains

__all__ = ["MCMC", "SamplingWarning"]

class MCMC:
    """Markov chain Monte Carlo over many chains with a NUTS or HMC kernel.

    Parameters
    ----------
    kernel : MCMCKernel
        The algorithm and its options, holding the model: ``NUTS(model)``, ``HMC(model)``, or
        ``ChEES(model)`` for many chains (run by :mod:`inference.many_chain`).
    num_warmup : int, default 1000
        Warmup (adaptation) iterations per chain; their draws are discarded unless
        ``save_warmup``.
    num_samples : int, default 1000
        Sampling iterations per chain (``num_samples // thinning`` draws are kept).
    num_chains : int, default 1
        Number of chains.
    thinning : int, default 1
        Keep every ``thinning``-th sampling iteration.
    chain_method : {"parallel", "sequential"}
        "parallel" runs every chain's compiled code on its own thread; "sequential"
        runs the chains one after the other on the calling thread. Same draws either way.
    progress_bar : bool, default True
        Show per-chain progress (see :mod:`inference.progress`; off when ``CI`` is set or the
        output is not a terminal or notebook).
    progress_callback : callable, optional
        Called after every chunk with a list of :class:`inference.progress.ChainProgress`
        (one per chain), whether or not a bar is shown; raising ``KeyboardInterrupt`` from it
        stops sampling like Ctrl-C.
    chunk_size : int, optional
        Iterations per compiled call. By default it adapts so that each call lasts about a
        quarter of a second. It never changes the draws.
    save_warmup : bool, default False
        Also keep the warmup draws and their statistics (thinned like the sampling draws):
        ``get_samples(warmup=True)``, ``get_extra_fields(warmup=True)``, and the
        ``warmup_posterior`` / ``warmup_sample_stats`` groups of :meth:`to_arviz`. For looking
        at how the adaptation went (step size, tree depth, where the chains started); the
        summary and diagnostics use the sampling draws only.
    executor : concurrent.futures.Executor, optional
        Run the chains as jobs on this executor instead of on threads of this process: e.g.
        ``dask.distributed.Client(cluster).get_executor()`` for a cluster (``dask-jobqueue``
        for SLURM/PBS), or a ``ProcessPoolExecutor``. Each worker compiles the model from the
        model function and its arguments (which must pickle; cloudpickle handles closures);
        the draws are the same as on threads (see :mod:`inference.executor`). Needs a model
        function, not a compiled model. Not with a many-chain kernel (``ChEES``), whose
        adaptation needs every chain after every iteration (an error says so).
    draw_dtype : {"float64", "float32"}, default "float64"
        The dtype in which the kept draws are stored (the sampler computes in float64; float32
        halves the memory of the draws, for runs of many chains).
    store : str or os.PathLike, optional
        With a many-chain kernel (:class:`~inference.chees.ChEES`): stream the kept draws to
        this zarr store chunk by chunk instead of keeping them in memory
        (:mod:`inference.draw_store`; needs ``zarr``); read it with
        ``inference.open_store(path)``.

    Attributes
    ----------
    post_warmup_state : SamplerState or None
        If set, :meth:`run` continues from it instead of starting afresh (set by
        :meth:`warmup`; assign ``mcmc.last_state`` to draw more samples).
    last_state : SamplerState
        The state after the last completed iteration: positions, step sizes, inverse mass
        matrices, random streams (:class:`inference.functional.SamplerState`).
    results : MCMCResults
        Draws, statistics, counters and timings of the last run.
    failed_chains : dict of int to str
        The chains of the last run whose adaptation failed (kernels.status: the step-size search
        ran away or reached 0, the mass-matrix estimate overflowed or was not positive
        definite), by their index among the ``num_chains``, with the reason. A chain that fails
        stops where it is while the others run to the end: the results (samples, statistics,
        summary, diagnostics, ArviZ export) then hold only the chains that completed, and a
        :class:`SamplingWarning` names each failed chain, its reason and the iteration at which
        it stopped. If every chain fails, :meth:`run` raises
        :class:`kernels.status.SamplerError` instead. ``last_state`` and ``post_warmup_state``
        keep every chain; a failed chain stays failed when the state is continued.

    Notes
    -----
    On ``KeyboardInterrupt`` (Ctrl-C) the current chunk finishes or is discarded, sampling
    stops, the completed draws are kept (the results are truncated to them), ``last_state``
    is the state after them, and a :class:`SamplingWarning` says so; the exception is not
    re-raised. SIGTERM (what cluster schedulers send before killing a job) does the same when
    ``run`` or ``warmup`` is called from the main thread: the current chunk finishes, its
    draws are kept, and ``run`` returns normally so that the script can save them; a second
    SIGTERM goes to the previous handler (by default it ends the process). See
    :mod:`inference.termination`.

    Before allocating anything, ``run`` and ``warmup`` estimate the memory the run will keep
    (:mod:`inference.resources`): if the draws, statistics and chain state exceed the
    available memory they raise :class:`inference.resources.InsufficientMemoryError` (a
    ``MemoryError``) naming the estimate and the options that shrink it (``thinning``,
    ``num_samples``, ``num_chains``, ``save_warmup``); above half of it, a
    :class:`inference.resources.MemoryUsageWarning`.
    """

    def __init__(
        self,
        kernel: Any,
        *,
        num_warmup: int = 1000,
        num_samples: int = 1000,
        num_chains: int = 1,
        thinning: int = 1,
        chain_method: str = "parallel",
        progress_bar: bool = True,
        progress_callback: Callable[[Sequence[ChainProgress]], None] | None = None,
        chunk_size: int | None = None,
        save_warmup: bool = False,
        executor: Any = None,
        draw_dtype: str = "float64",
        store: Any = None,
    ) -> None:
        for name, value, low in [
            ("num_warmup", num_warmup, 0),
            ("num_samples", num_samples, 0),
            ("num_chains", num_chains, 1),
            ("thinning", thinning, 1),
        ]:
            if int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if chain_method not in ("parallel", "sequential"):
            hint = " (use 'parallel')" if chain_method == "vectorized" else ""
            raise ValueError(
                f"chain_method must be 'parallel' or 'sequential', got {chain_method!r}{hint}"
            )
        if chunk_size is not None and (int(chunk_size) != chunk_size or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
        if not isinstance(kernel, MCMCKernel):
            raise TypeError(f"kernel must be NUTS(...) or HMC(...), got {type(kernel).__name__}")
        self.kernel = kernel
        self.num_warmup = int(num_warmup)
        self.num_samples = int(num_samples)
        self.num_chains = int(num_chains)
        self.thinning = int(thinning)
        self.chain_method = chain_method
        self.progress_bar = progress_bar
        self.progress_callback = progress_callback
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.save_warmup = bool(save_warmup)
        self.draw_dtype, self.store = check_storage(kernel, draw_dtype, store)
        #: a many-chain kernel's adapted shared values, after a run (see inference.many_chain)
        self.adapted: dict[str, Any] | None = None
        if executor is not None:
            check_executor(executor)
        self.executor = executor
        self._dispatch: ChainExecutor | None = None  # the executor with this run's model
        #: State to continue from in the next :meth:`run` (set by :meth:`warmup`, or by hand).
        self.post_warmup_state: F.SamplerState | None = None
        self._last_state: F.SamplerState | None = None
        self._results: MCMCResults | None = None
        #: chain index -> reason, of the last run (see the class docstring)
        self.failed_chains: dict[int, str] = {}
        self._extra_fields: tuple[str, ...] | None = None  # the last run's selection
        # (compiled model, its bytes per draw of sites and log-likelihood), see _run_bytes
        self._value_bytes: tuple[Any, tuple[int, int]] | None = None

    # ------------------------------------------------------------------ running

    def _model(self, args: tuple, kwargs: Mapping[str, Any]) -> tuple[Any, float]:
        t0 = time.perf_counter()
        if self.executor is not None:  # the workers compile the model from its recipe
            self._dispatch = ChainExecutor(self.executor, self.kernel.model, args, kwargs)
        model = self.kernel.get_model(args, kwargs)
        return model, time.perf_counter() - t0

    def _initial_state(
        self, seed: Any, model: Any, init_params: Any, num_warmup: int
    ) -> F.SamplerState:
        if seed is None:
            raise TypeError("seed is required (an int or a numpy.random.Generator)")
        return F.init(
            model,
            seed,
            self.num_chains,
            kernel=self.kernel,
            num_warmup=num_warmup,
            init_params=init_params,
        )

    def _continue_from(self, state: F.SamplerState, model: Any) -> F.SamplerState:
        if state.num_chains != self.num_chains:
            raise ValueError(
                f"post_warmup_state has {state.num_chains} chains but num_chains = "
                f"{self.num_chains}; use the same number of chains to continue"
            )
        if int(model.dim) != state.dim:
            raise ValueError(
                f"post_warmup_state has dimension {state.dim} but the model has dim "
                f"{model.dim}; continue with the same model"
            )
        options = self.kernel.sampler_options(state.num_warmup)
        if options.dense_mass != state.options.dense_mass:
            raise ValueError(
                f"post_warmup_state has dense_mass={state.options.dense_mass} but the kernel "
                f"uses dense_mass={options.dense_mass}; use the same setting to continue"
            )
        adaptation = options.mass_matrix_adaptation
        if state.is_warming_up and adaptation != state.options.mass_matrix_adaptation:
            # the two adaptations keep different estimators: one cannot finish the other's warmup
            raise ValueError(
                f"post_warmup_state is in the middle of a warmup with mass_matrix_adaptation="
                f"{state.options.mass_matrix_adaptation!r} but the kernel uses "
                f"{adaptation!r}; use the same setting to finish the warmup"
            )
        return F.SamplerState(state.chains.copy(), state.iteration, options, model)

    def warmup(
        self,
        seed: int | np.random.Generator,
        *args: Any,
        init_params: Any = None,
        extra_fields: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Run the ``num_warmup`` warmup iterations only; store ``post_warmup_state``.

        Parameters are those of :meth:`run`. A following :meth:`run` samples from the adapted
        state (same step sizes, mass matrices, positions and random streams).
        """
        if getattr(self.kernel, "many_chain", False):
            raise ValueError("MCMC(ChEES(...)).warmup() is not supported: call run()")
        self._extra_fields = check_fields(extra_fields)
        # SIGTERM is recorded from the start: a first run's model compile takes seconds too
        with sigterm_stops_sampling() as request, \
                precompile.sampler_compile(enabled=self.executor is None) as compile_job:
            model, model_seconds = self._model(args, kwargs)
            check_memory(self._run_bytes(model, self.num_warmup, 0))
            state = self._initial_state(seed, model, init_params, self.num_warmup)
            self._sample(state, 0, model_seconds, compile_job, request)
        self.post_warmup_state = self._last_state.copy()

    def run(
        self,
        seed: int | np.random.Generator | None,
        *args: Any,
        init_params: np.ndarray | Mapping[str, Any] | None = None,
        extra_fields: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Run warmup and sampling (or only sampling when continuing from a state).

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
            Seeds the chains' random streams and the initial points. Not used (may be None)
            when continuing from ``post_warmup_state``, whose streams continue.
        *args, **kwargs
            Arguments of the model function (ignored for a compiled model).
        init_params : array or dict, optional
            Initial points: unconstrained ``(dim,)`` or ``(num_chains, dim)``, or a dict of
            constrained values per site. Default: the kernel's ``init_strategy``.
        extra_fields : sequence of str, optional
            The statistics :meth:`get_extra_fields` returns (default: all of them): names of
            :data:`inference.results.STAT_NAMES`, or NumPyro's ``potential_energy``,
            ``num_steps``, ``accept_prob`` and ``adapt_state.step_size``. Every statistic is
            recorded either way (they are a few numbers per draw) and ``to_arviz`` exports
            them all.
        """
        self._extra_fields = check_fields(extra_fields)
        if getattr(self.kernel, "many_chain", False):
            from inference.many_chain import run_many_chain

            run_many_chain(self, seed, args, kwargs, init_params)
            return
        # SIGTERM is recorded from the start: a first run's model compile takes seconds too
        with sigterm_stops_sampling() as request, \
                precompile.sampler_compile(enabled=self.executor is None) as compile_job:
            model, model_seconds = self._model(args, kwargs)
            check_memory(self._run_bytes(model, self._warmup_left(), self.num_samples))
            if self.post_warmup_state is not None:
                if init_params is not None:
                    raise ValueError(
                        "init_params cannot be used when continuing from post_warmup_state; "
                        "set mcmc.post_warmup_state = None to start afresh"
                    )
                state = self._continue_from(self.post_warmup_state, model)
            else:
                state = self._initial_state(seed, model, init_params, self.num_warmup)
            self._sample(state, self.num_samples, model_seconds, compile_job, request)

    def _warmup_left(self) -> int:
        """Warmup iterations the next :meth:`run` performs (a continued state may have some
        left)."""
        state = self.post_warmup_state
        return self.num_warmup if state is None else max(0, state.num_warmup - state.iteration)

    def _run_bytes(self, model: Any, num_warmup: int, num_samples: int) -> RunBytes:
        """The memory a run of ``model`` keeps (:func:`inference.resources.estimate_run_bytes`)."""
        # measured once per compiled model (a warm run of a small model is tens of ms; the
        # measurement calls two compiled functions from Python)
        if self._value_bytes is None or self._value_bytes[0] is not model:
            self._value_bytes = (model, value_bytes_per_draw(model))
        sites, log_likelihood = self._value_bytes[1]
        return estimate_run_bytes(
            self.num_chains,
            num_samples,
            int(model.dim),
            thinning=self.thinning,
            num_warmup=num_warmup,
            save_warmup=self.save_warmup,
            dense_mass=bool(self.kernel.options.dense_mass),
            low_rank=self.kernel.sampler_options(num_warmup).low_rank_sizes(int(model.dim)),
            site_bytes_per_draw=sites,
            draw_itemsize=np.dtype(self.draw_dtype).itemsize,
            draws_in_memory=self.store is None,
            log_likelihood_bytes_per_draw=log_likelihood,
            chain_state_fields=self.kernel.chain_state_fields,
            shared_state_fields=self.kernel.shared_state_fields,
        )

    def _progress(
        self, state: F.SamplerState, start: int, total: int, warm_stop: int, phase: str
    ) -> list[ChainProgress]:
        return [
            ChainProgress(c, phase, 0, total, max(0, warm_stop - start))
            for c in range(state.num_chains)
        ]

    def _compile(self, state: F.SamplerState, job: precompile.SamplerCompile) -> float:
        """The sampler's compile (or load from the cache); with an executor, a zero-iteration
        call compiles it on the workers. Returns the seconds it took."""
        seconds = job.finish()
        if self._dispatch is not None:
            t0 = time.perf_counter()
            empty = allocate_output(state.num_chains, 0, state.dim)
            F.advance(state, state.iteration, empty, state.iteration, executor=self._dispatch)
            seconds += time.perf_counter() - t0
        return seconds

    def _sample(
        self,
        state: F.SamplerState,
        num_samples: int,
        model_seconds: float,
        job: precompile.SamplerCompile,
        request: StopRequest,
    ) -> None:
        """Warmup to the state's ``num_warmup`` (if not done), then ``num_samples`` iterations;
        a signal recorded in ``request`` stops it before the next chunk."""
        start = state.iteration
        warm_stop = max(start, state.num_warmup)
        stop = warm_stop + num_samples
        rec = Recorder(
            state.num_chains,
            state.dim,
            start,
            warm_stop,
            num_samples,
            self.thinning,
            self.save_warmup,
            self.draw_dtype,
        )
        rec.note_failures(state.chains.status, None, start)  # failed in an earlier run
        self.failed_chains = {}
        reporter = make_reporter(self.progress_bar)
        progress = self._progress(state, start, stop - start, warm_stop, "compiling")
        self._last_state = state
        try:
            compiling = job.needed or self._dispatch is not None
            if compiling:
                reporter.start(progress)
            # stopped while the model compiled: no sampler compile, _loop returns at once
            # (sampler_compile's exit abandons the background compile as after an error)
            timings = {"model_compile": model_seconds,
                       "sampler_compile": 0.0 if request else self._compile(state, job),
                       "warmup": 0.0, "sampling": 0.0}
            for p in progress:
                p.phase = "warmup" if start < warm_stop else "sampling"
            if not compiling:
                reporter.start(progress)
            sizer = ChunkSizer(self.chunk_size)
            stopped_by = self._loop(
                state, stop, warm_stop, rec, sizer, progress, reporter, timings, request
            )
            self.failed_chains = self._failures(state)
            # every chain failed: nothing to report but the reasons (as F.advance would)
            if len(self.failed_chains) == state.num_chains:
                check_chains(state.chains.status)
        except BaseException:
            reporter.close(progress)
            raise
        self._results = self._make_results(state, rec, warm_stop - start, timings, stopped_by)
        for p in progress:
            p.phase = ("failed" if p.chain in self.failed_chains else
                       "interrupted" if stopped_by else "done")
        reporter.close(progress, self._closing_message(timings, rec, warm_stop - start))
        self._warn_failed(state, rec)
        self._warn(stopped_by, rec, num_samples)

    @staticmethod
    def _failures(state: F.SamplerState) -> dict[int, str]:
        """Chain index -> reason, for every chain of ``state`` whose adaptation failed."""
        status = state.chains.status
        return {int(c): CHAIN_MESSAGES.get(int(status[c]), f"status {int(status[c])}")
                for c in np.flatnonzero(status != CHAIN_OK)}

    def _make_results(self, state, rec, num_warmup, timings, stopped_by) -> MCMCResults:
        # the results hold the chains that completed; last_state keeps them all
        keep = np.flatnonzero(state.chains.status == CHAIN_OK)
        rec.select_chains(keep)
        draws, stats = rec.kept()
        warmup_draws, warmup_stats = rec.kept_warmup()
        return MCMCResults(
            model=state.model,
            draws=draws,
            stats=stats,
            algorithm=self.kernel.algorithm,
            num_warmup=num_warmup,
            num_samples=rec.sampled,
            thinning=self.thinning,
            divergences=rec.divergences,
            max_treedepth_hits=rec.max_depth_hits,
            warmup_divergences=rec.warmup_divergences,
            max_tree_depth=self.kernel.max_tree_depth,
            target_accept_prob=self.kernel.target_accept_prob,
            timings=timings,
            interrupted=stopped_by is not None,
            warmup_draws=warmup_draws,
            warmup_stats=warmup_stats,
            stopped_by=stopped_by,
            chain_ids=keep,
            failed_chains=dict(self.failed_chains),
            warmup_used=state.chains.warmup_used[keep].copy(),
        )

    def _loop(
        self, state, stop, warm_stop, rec, sizer, progress, reporter, timings,
        request: StopRequest,
    ) -> str | None:
        """Run chunks until ``stop``; if interrupted, return what stopped it
        (``"KeyboardInterrupt"``, or the signal's name when ``request`` is set), else None.

        Before each chunk the chain state is copied; if the interrupt arrives after the
        compiled call but before the chunk's draws are recorded, the copy is restored, so
        ``last_state`` always matches the kept draws. A signal recorded in ``request`` is
        read before each chunk, so it stops the run only between recorded chunks.
        """
        start = state.iteration
        t_begin = time.perf_counter()
        while state.iteration < stop:
            if request:
                return request.signal_name
            it = state.iteration
            boundary = warm_stop if it < warm_stop else stop
            n = sizer.next(boundary - it)
            snapshot, recorded = None, False
            try:
                snapshot = snapshot_of(state.chains, it < warm_stop)
                chunk = allocate_output(state.num_chains, n, state.dim)
                t0 = time.perf_counter()
                # a failed chain is reported at the end; the others go on
                F.advance(state, it + n, chunk, it, self.chain_method, self._dispatch,
                          check=False)
                seconds = time.perf_counter() - t0
                rec.record(chunk, it)
                rec.note_failures(state.chains.status, chunk, it)
                recorded = True
                sizer.observe(n, seconds)
                timings["warmup" if it < warm_stop else "sampling"] += seconds
                phase = "warmup" if state.iteration < warm_stop else "sampling"
                rec.show_progress(progress, chunk, phase, state.iteration - start,
                                  time.perf_counter() - t_begin, seconds)
                reporter.update(progress)
                if self.progress_callback is not None:
                    self.progress_callback(progress)
                if len(rec.failed_at) == state.num_chains:
                    return None  # every chain failed: _sample raises
            except KeyboardInterrupt:
                if not recorded and snapshot is not None:
                    # the chunk's draws were not kept: rewind so last_state matches the draws
                    state.chains = snapshot
                    state.iteration = it
                return "KeyboardInterrupt"
        return None

    def _closing_message(self, timings: dict, rec: Recorder, n_warm: int) -> str:
        seconds = timings["warmup"] + timings["sampling"]
        return (
            f"Sampling {rec.divergences.size} chain(s) x ({n_warm} warmup + {rec.sampled} "
            f"draws) took {seconds:.2f} s; {int(rec.divergences.sum())} divergences"
        )

    def _warn_failed(self, state: F.SamplerState, rec: Recorder) -> None:
        """One :class:`SamplingWarning` naming each failed chain, its reason and where it
        stopped, so that a run that returns normally does not hide a lost chain."""
        if not self.failed_chains:
            return
        parts = []
        for c, reason in sorted(self.failed_chains.items()):
            at = rec.failed_at.get(c)
            where = ("before this run" if at is None else
                     f"at iteration {at} ({'warmup' if at < state.num_warmup else 'sampling'})")
            parts.append(f"chain {c} stopped {where}: {reason}")
        kept = state.num_chains - len(self.failed_chains)
        warnings.warn(
            f"adaptation failed in {len(self.failed_chains)} of {state.num_chains} chains; "
            f"{'; '.join(parts)}. The results hold the other {kept} chain(s) only (see "
            f"mcmc.failed_chains). Check the model's log density (is the posterior proper? are "
            f"there discontinuities?) or start from other initial values.",
            SamplingWarning,
            stacklevel=4,
        )

    def _warn(self, stopped_by: str | None, rec: Recorder, num_samples: int) -> None:
        if stopped_by is not None:
            warnings.warn(
                f"Sampling was interrupted ({stopped_by}) after {rec.sampled} of "
                f"{num_samples} sampling iterations per chain; the {rec.sampled // self.thinning}"
                f" completed draws per chain are kept and mcmc.last_state is the state after "
                f"them (continue with mcmc.post_warmup_state = mcmc.last_state).",
                SamplingWarning,
                stacklevel=4,
            )
        advice = self._results.advice() if self._results is not None else None
        if advice:
            warnings.warn(advice, SamplingWarning, stacklevel=4)

    # ------------------------------------------------------------------ results

    @property
    def last_state(self) -> F.SamplerState:
        """The state after the last completed iteration
        (:class:`inference.functional.SamplerState`)."""
        if self._last_state is None:
            raise RuntimeError("no state yet: call mcmc.run(...) or mcmc.warmup(...) first")
        return self._last_state

    @property
    def results(self) -> MCMCResults:
        """The :class:`inference.results.MCMCResults` of the last :meth:`run`."""
        if self._results is None:
            raise RuntimeError("no samples yet: call mcmc.run(...) first")
        return self._results

    @property
    def warmup_used(self) -> np.ndarray:
        """Warmup iterations each kept chain ran in the last run: ``num_warmup``, or fewer with
        ``NUTS(..., early_stop_warmup=True)`` (:mod:`kernels.warmup_convergence`)."""
        return self.results.warmup_used

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent compiling the model and the sampler, in warmup and in sampling."""
        return dict(self.results.timings)

    def get_samples(
        self, group_by_chain: bool = False, *, warmup: bool = False
    ) -> dict[str, np.ndarray]:
        """Constrained draws of every latent and deterministic site.

        Returns ``site -> (num_chains * draws, *site_shape)``, or
        ``(num_chains, draws, *site_shape)`` with ``group_by_chain=True``. With
        ``warmup=True``, the warmup draws instead (needs ``MCMC(..., save_warmup=True)``).
        """
        return self.results.samples(group_by_chain, warmup=warmup)

    def get_extra_fields(
        self, group_by_chain: bool = False, *, warmup: bool = False
    ) -> dict[str, np.ndarray]:
        """Per-draw sampler statistics (``diverging``, ``lp``, ``acceptance_rate``,
        ``step_size``, ``tree_depth``, ``n_steps``, ``energy``, ``energy_error``,
        ``max_energy_error``, ``reached_max_treedepth``; or those chosen by the last run's
        ``extra_fields``), flattened like :meth:`get_samples`; of the warmup iterations with
        ``warmup=True`` (needs ``save_warmup=True``).
        """
        stats = self.results.extra_fields(group_by_chain, warmup=warmup)
        return select_fields(stats, self._extra_fields)

    def summary(self, prob: float = 0.9, exclude_deterministic: bool = True):
        """The :class:`inference.diagnostics.Summary` table printed by :meth:`print_summary`."""
        return self.results.summary(prob, exclude_deterministic)

    def print_summary(self, prob: float = 0.9, exclude_deterministic: bool = True) -> None:
        """Print mean, sd, HDI, MCSE, ESS and R-hat per scalar, divergences and timings.

        Parameters
        ----------
        prob : float, default 0.9
            Probability mass of the highest-density interval.
        exclude_deterministic : bool, default True
            Leave deterministic sites out of the table (as NumPyro does).
        """
        print(self.results.report(prob, exclude_deterministic))

    def to_datatree(self):
        """The results as an ``xarray.DataTree`` (see :mod:`inference.arviz_export`)."""
        from inference.arviz_export import to_datatree

        return to_datatree(self.results)

    def to_arviz(self):
        """The results as ArviZ data: ``InferenceData`` on ArviZ < 1, a DataTree on 1.x.

        Groups: ``posterior``, ``sample_stats``, ``log_likelihood`` (pointwise, for
        ``az.loo``), ``observed_data``, ``constant_data`` (when the model has them), and
        ``warmup_posterior`` / ``warmup_sample_stats`` with ``save_warmup=True``.
        """
        from inference.arviz_export import to_arviz

        return to_arviz(self.results)

    def __repr__(self) -> str:
        return (
            f"MCMC({self.kernel!r}, num_warmup={self.num_warmup}, num_samples={self.num_samples}"
            f", num_chains={self.num_chains}, thinning={self.thinning}, "
            f"chain_method={self.chain_method!r}, save_warmup={self.save_warmup})"
        )
