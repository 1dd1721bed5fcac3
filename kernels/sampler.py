r"""The many-chain driver: advance every chain by a range of iterations, in parallel.

:func:`advance_chain` is compiled **once for all models** (disk-cached, ``nogil``): the model
arrives as two ``int64`` values (its C function's address and its data pointer, a
:class:`kernels.model_abi.Model`), the options as a :class:`kernels.options.DriverOptions` of
numbers, and the chains' state and outputs as the records of :mod:`kernels.state`, so the Numba
type signature never changes. :func:`run` gives each chain to a worker thread of a
thread pool, which runs the compiled code from start to end of the requested range with the
GIL released, fully independently (no lock-step): chain ``c`` reads and writes only row ``c``
of every state and output array and draws only from its own random stream
(:mod:`kernels.rng`), so the draws do not depend on the number of threads or on the order in
which chains are scheduled.

Why threads and not a ``prange`` loop: both run the same machine code, but a ``parallel=True``
driver makes Numba compile (and optimise) the whole sampler a second time inside its parallel
region, which would more than double the one-time compile, and Numba's default threading layer
aborts when two Python threads enter parallel regions at once. Handing a chain to a thread costs
microseconds per chunk.

Iterations and chunks
---------------------
Global iterations are numbered ``0 .. num_warmup + num_samples - 1``; iterations below
``num_warmup`` are warmup. A call advances iterations ``[start, stop)``. All per-chain state
(position, log density, gradient, step size, inverse metric, dual-averaging and Welford state,
nutpie's estimators, random stream) lives in the state arrays, so a run split into several
calls (for progress bars, checkpoints, or to extend sampling later) produces exactly the draws
of one call.

Per iteration ``i`` and chain ``c``:

1. if ``i == 0`` and ``num_warmup > 0``: in nutpie's mode, the initial point enters its
   estimators and the metric becomes :math:`1/|\nabla\log\pi|` there
   (:func:`kernels.fisher_adaptation.fisher_init_metric`); if step-size adaptation is on, Stan's
   initial step-size search (:func:`kernels.step_size.find_reasonable_step_size`);
   this search and the NUTS transition are called by address (:mod:`kernels.entries`, which
   says why), and so are static HMC, the low-rank adaptation's collection and estimate and
   the early-stop convergence check, each compiled only for the runs that call it;
2. jitter the nominal step size (:func:`kernels.step_size.jitter_step_size`);
3. one NUTS (:func:`kernels.nuts_transition.nuts_transition`) or static HMC
   (:func:`kernels.hmc_transition.hmc_transition`) transition;
4. write the draw and its statistics at output index ``i - out_offset`` if that index is inside
   the output arrays (so warmup draws can be dropped with ``out_offset = num_warmup``, or
   per-chunk outputs used with ``out_offset = start``);
5. during warmup, the adaptation selected by ``mass_matrix_adaptation``, one call each:

   * ``"stan"``, Stan's (:func:`kernels.stan_adaptation.stan_adapt`):
     dual-averaging update of the step size; add the draw to the Welford estimator when the
     schedule says so; at the end of a slow window: regularised metric update, Cholesky factor
     (dense), restart of the Welford estimator; then here the step-size search,
     :math:`\mu = \log(10\epsilon)` and dual-averaging restart;
   * ``"low_rank"``, nutpie's diagonal plus low-rank metric
     (:func:`kernels.low_rank_adaptation.low_rank_collect`, then the estimate called by
     address): as ``"fisher"``, with dense estimators and the metric recomputed on the
     schedule's ``UPDATE`` iterations;
   * ``"fisher"``, nutpie's (diagonal metric;
     :func:`kernels.fisher_adaptation.fisher_adapt`): add the draw and its gradient to the
     foreground and background estimators if admitted
     (:func:`kernels.fisher_adaptation.admit_draw`, from the transition's index in the
     trajectory), switch them when the schedule
     says so, recompute the metric from the foreground; step-size search at the first metric
     update, a dual-averaging update otherwise (with the symmetric acceptance statistic on
     the schedule's ``LATE`` iterations);

   after the last warmup iteration: step size :math:`e^{\bar x}`;
6. with ``early_stop_warmup`` (nutpie's adaptations): at each switch the convergence check of
   :mod:`kernels.warmup_convergence`; once converged, 50 step-size-only iterations end the
   warmup (step size :math:`e^{\bar x}`), and the remaining warmup iterations are skipped
   (no transition; a kept draw repeats the state with ``n_steps = 0``); ``state.warmup_used``
   counts the warmup iterations run.

A model failure (non-zero status or non-finite density/gradient) inside a trajectory is a
divergence of that trajectory; the chain continues. Failures of the adaptation itself (Stan
throws) stop the chain and set its ``state.status`` (codes and messages in
:mod:`kernels.status`); :func:`run` raises for those. An exception inside compiled code (a
bug) reaches the caller of :func:`run` as usual.

References: Hoffman & Gelman (2014), JMLR 15:1593; Betancourt (2017), arXiv:1701.02434; Stan
Reference Manual, "MCMC Sampling" and "HMC algorithm parameters".
"""
from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from kernels.blas_threads import single_threaded_blas
from kernels.chain_threads import run_side_by_side
from kernels.entries import EntryAddresses, call_entry, entry_addresses
from kernels.fisher_adaptation import (
    LATE,
    N_UPDATES,
    SWITCH,
    admit_draw,
    fisher_adapt,
    fisher_add,
    fisher_init_metric,
)
from kernels.hmc_transition import hmc_transition, steps_for_length
from kernels.integrators import copy_into, phase_point
from kernels.jit import njit, signature
from kernels.kernel_types import kernel_types
from kernels.low_rank_adaptation import (
    LOW_RANK_CUTOFF,
    LOW_RANK_GAMMA,
    low_rank_collect,
    low_rank_estimate,
    low_rank_push,
)
from kernels.metric import DENSE, DIAG, LOW_RANK, Metric
from kernels.model_abi import Model
from kernels.nuts_transition import (
    INFO_INDEX,
    INFO_SYM_ACCEPT,
    nuts_transition,
    nuts_workspace,
)
from kernels.options import ALGORITHMS, MASS_MATRIX_ADAPTATIONS, DriverOptions
from kernels.stan_adaptation import Welford, stan_adapt
from kernels.state import (
    ChainState,
    SampleOutput,
    check_chain_state,
    check_output,
    record_transition,
)
from kernels.status import CHAIN_OK, check_chains
from kernels.step_size import (
    dual_averaging_final,
    dual_averaging_init,
    dual_averaging_update,
    find_reasonable_step_size,
    jitter_step_size,
)
from kernels.warmup_convergence import CONV_END, convergence_check

__all__ = ["advance_chain", "run", "CHAIN_METHODS"]

#: ``chain_method`` values of :func:`run`: every chain on a thread of its own, or one after the
#: other on the calling thread (the draws are the same).
CHAIN_METHODS = ("parallel", "sequential")

_NUTS = ALGORITHMS["nuts"]
_FISHER = MASS_MATRIX_ADAPTATIONS["fisher"]
_LOW_RANK = MASS_MATRIX_ADAPTATIONS["low_rank"]


@signature(lambda t: (t.i8, t.model, numba.typeof(EntryAddresses(0, 0, 0, 0, 0, 0)), t.i8, t.i8, t.i8,
                      t.options, t.schedule, t.state, t.output))
@njit
def advance_chain(
    c: int,
    model: Model,
    entries: EntryAddresses,
    start: int,
    stop: int,
    out_offset: int,
    options: DriverOptions,
    schedule: np.ndarray,
    state: ChainState,
    output: SampleOutput,
) -> None:
    """Advance chain ``c`` through iterations ``[start, stop)`` (see the module docstring).

    Parameters
    ----------
    c : int64
        The chain: only row ``c`` of the state and output arrays is read or written.
    model : Model
        The model's C function address and this chain's data pointer.
    entries : EntryAddresses
        Where the NUTS transition and the step-size search are (:mod:`kernels.entries`).
    start, stop : int64
        Iteration range (global numbering; warmup is ``[0, num_warmup)``).
    out_offset : int64
        Iteration ``i`` is written at output index ``i - out_offset`` when in range.
    options, schedule
        From :meth:`kernels.options.SamplerOptions.compile`.
    state : ChainState
        Updated in place.
    output : SampleOutput
        Written in place.

    Notes
    -----
    Every argument's type is fixed, so one compiled version serves all models, metrics and
    algorithms; use :func:`run` from Python, which checks the arguments and runs the chains on
    threads. The GIL is released, so different chains may be advanced from different threads
    at once.
    """
    low_rank = options.mass_matrix_adaptation == _LOW_RANK
    kind = DENSE if options.dense_mass else (LOW_RANK if low_rank else DIAG)
    nuts = options.algorithm == _NUTS
    # nutpie's warmup (its estimators, schedule and step-size handling) for both of its metrics
    fisher = options.adapt_mass_matrix and (options.mass_matrix_adaptation == _FISHER
                                            or low_rank)
    num_warmup = options.num_warmup
    d = state.position.shape[1]
    n_out = output.draws.shape[1]
    work = nuts_workspace(d, options.max_tree_depth)
    z = phase_point(d)  # scratch of static HMC and of the step-size search
    scratch = np.empty(d)
    q = state.position[c]
    g = state.grad[c]
    rng = state.rng[c]
    da = state.dual_averaging[c]
    metric = Metric(kind, state.inv_diag[c], state.inv_dense[c], state.chol[c], state.lr_vecs[c],
                    state.lr_vals[c])
    welford = Welford(state.welford_count[c], state.welford_mean[c], state.welford_m2_diag[c],
                      state.welford_m2_dense[c])
    counts = state.fisher_counts[c]
    moments = state.fisher_moments[c]
    conv = state.warmup_convergence[c]
    early_stop = options.early_stop_warmup and fisher

    for i in range(start, stop):
        if state.status[c] != CHAIN_OK:
            return
        warm = i < num_warmup
        # after an early end of warmup (kernels.warmup_convergence) its remaining iterations
        # are skipped: no transition, the state unchanged
        ended = early_stop and conv[CONV_END] > 0.0
        if warm and ended and i >= conv[CONV_END]:
            j = i - out_offset
            if 0 <= j < n_out:
                for k in range(d):
                    output.draws[c, j, k] = q[k]
                output.lp[c, j] = state.logp[c]
                output.step_size[c, j] = state.step_size[c]
                output.tree_depth[c, j] = 0
                output.n_steps[c, j] = 0
                output.diverging[c, j] = False
                output.reached_max_treedepth[c, j] = False
            continue
        if warm:
            state.warmup_used[c] = i + 1
        if i == 0 and warm and fisher:
            # nuts-rs: the initial point is the first draw of both estimators, and the metric
            # starts from its gradient (unless the user gave one)
            fisher_add(counts, moments, q, g)
            if low_rank:
                low_rank_push(state.lr_draws[c], state.lr_grads[c], state.lr_added[c], q, g)
            if options.init_metric_from_gradient:
                fisher_init_metric(g, metric.inv_diag)
        if i == 0 and warm and options.adapt_step_size:
            eps0, status = call_entry(
                find_reasonable_step_size, entries.find_reasonable_step_size,
                (model, metric, q, g, state.logp[c], state.step_size[c], rng, z))
            if status != CHAIN_OK:
                state.status[c] = status
                return
            state.step_size[c] = eps0
            if fisher:  # nuts-rs: dual averaging starts from the searched step size
                dual_averaging_init(da, eps0)
        if warm and fisher:
            copy_into(q, scratch)  # the point before the transition (did the chain move?)

        eps = jitter_step_size(state.step_size[c], options.jitter, rng)
        if nuts:
            stats = call_entry(
                nuts_transition, entries.nuts_transition,
                (model, metric, q, g, state.logp[c], eps, options.max_tree_depth,
                 options.max_energy_error, rng, work))
        else:
            num_steps = options.num_steps
            if options.trajectory_length > 0.0:
                num_steps = steps_for_length(options.trajectory_length, state.step_size[c])
            stats = call_entry(
                hmc_transition, entries.hmc_transition,
                (model, metric, q, g, state.logp[c], eps, num_steps, options.max_energy_error,
                 rng, z))
        state.logp[c] = stats.lp

        j = i - out_offset
        if 0 <= j < n_out:
            record_transition(output, c, j, q, stats, eps,
                              nuts and stats.tree_depth >= options.max_tree_depth)

        if not warm:
            continue
        flag = schedule[i]
        if ended:  # the final step-size window after convergence (int8: fisher_adapt's type)
            flag = np.int8(0)
        # nutpie's admission of a draw and its late step-size statistic (fisher_adaptation)
        admit = False
        accept = stats.acceptance_rate
        if fisher and nuts:
            admit = admit_draw(work.info[INFO_INDEX], stats.diverging)
            if schedule[i] & LATE or ended:
                accept = work.info[INFO_SYM_ACCEPT]
        elif fisher:
            for k in range(d):
                admit = admit or q[k] != scratch[k]
        if fisher and low_rank:
            ring = (state.lr_draws[c], state.lr_grads[c], state.lr_added[c])
            search = False
            if call_entry(low_rank_collect, entries.low_rank_collect,
                          (flag, admit, q, g, counts, moments) + ring):
                if call_entry(low_rank_estimate, entries.low_rank_estimate,
                              ring + (counts, moments, metric.inv_diag, metric.lr_vecs,
                                      metric.lr_vals, LOW_RANK_GAMMA, LOW_RANK_CUTOFF)):
                    counts[N_UPDATES] += 1.0
                    search = counts[N_UPDATES] == 1.0
            step = state.step_size[c]
            if not search and options.adapt_step_size:
                step = dual_averaging_update(da, accept,
                                             options.target_accept_prob, options.gamma,
                                             options.kappa, options.t0)
        elif fisher:
            step, search = fisher_adapt(flag, options, admit, metric.inv_diag, q, g, accept,
                                        state.step_size[c], counts, moments, da)
        else:
            step, search, status = stan_adapt(schedule[i], options, metric, welford, q, scratch,
                                              stats.acceptance_rate, state.step_size[c], da)
            if status != CHAIN_OK:
                state.status[c] = status
                return
        state.step_size[c] = step
        if search and options.adapt_step_size:
            # one call site for both modes: each call site of the search costs compile time
            eps1, status = call_entry(
                find_reasonable_step_size, entries.find_reasonable_step_size,
                (model, metric, q, g, stats.lp, state.step_size[c], rng, z))
            if status != CHAIN_OK:
                state.status[c] = status
                return
            state.step_size[c] = eps1
            dual_averaging_init(da, eps1)
        if (early_stop and not ended and flag & SWITCH and counts[N_UPDATES] > 1.0
                and call_entry(convergence_check, entries.convergence_check,
                               (i, num_warmup, metric.inv_diag, metric.lr_vecs, metric.lr_vals,
                                state.convergence_ref[c], state.convergence_ref_vecs[c],
                                state.convergence_ref_vals[c], da, conv))):
            pass  # converged: the final step-size-only window follows (no restart, as nutpie)
        last = i == num_warmup - 1 or (ended and i == conv[CONV_END] - 1)
        if last and options.adapt_step_size:
            state.step_size[c] = dual_averaging_final(da, state.step_size[c])


def run(
    address: int,
    data_ptr: int | Sequence[int],
    compiled_options: tuple[DriverOptions, np.ndarray],
    state: ChainState,
    output: SampleOutput,
    start: int,
    stop: int,
    out_offset: int = 0,
    raise_on_error: bool = True,
    chain_method: str = "parallel",
) -> None:
    """Advance every chain through iterations ``[start, stop)``.

    Checks the arguments, then calls :func:`advance_chain` for each chain: with
    ``chain_method="parallel"`` on a pool of ``min(chains, numba.get_num_threads())`` threads
    (on the calling thread when that is one), with ``"sequential"`` one chain after the other;
    the draws are the same either way, for any number of threads.

    Parameters
    ----------
    address : int
        The model's C function.
    data_ptr : int or sequence of int
        Its data pointer, or one per chain (a model kernel's workspace is in its data table, so
        chains on different threads need tables of their own).
    compiled_options : (DriverOptions, schedule)
        From :meth:`kernels.options.SamplerOptions.compile`.
    state : ChainState
        Updated in place.
    output : SampleOutput
        Written in place (see ``out_offset``).
    start, stop : int
        Global iteration range ``[start, stop)``.
    out_offset : int
        Output index of iteration ``i`` is ``i - out_offset``.
    raise_on_error : bool
        Raise :class:`kernels.status.SamplerError` if a chain's adaptation failed.
    chain_method : {"parallel", "sequential"}
    """
    options, schedule = compiled_options
    if numba.typeof(options) != kernel_types().options:
        raise TypeError("options must be a kernels.options.DriverOptions made by "
                        "SamplerOptions.compile() (its fields' types fix the compiled driver)")
    schedule = np.ascontiguousarray(schedule, dtype=np.int8)
    if schedule.shape[0] < options.num_warmup:
        raise ValueError(f"the schedule has {schedule.shape[0]} flags for {options.num_warmup} "
                         f"warmup iterations")
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"chain_method must be one of {CHAIN_METHODS}, got {chain_method!r}")
    low_rank_sizes = (0, 0)
    if options.mass_matrix_adaptation == _LOW_RANK:
        # the rank cap and the ring's rows are the state's (any sizes work: they are caps)
        low_rank_sizes = (max(1, np.shape(state.lr_vals)[-1]), np.shape(state.lr_draws)[1])
    check_chain_state(state, options.dense_mass, low_rank_sizes)
    n_chains, dim = state.position.shape
    check_output(output, n_chains, dim)
    pointers = [data_ptr] * n_chains if np.ndim(data_ptr) == 0 else list(data_ptr)
    if len(pointers) != n_chains:
        raise ValueError(f"{len(pointers)} data pointers given for {n_chains} chains")
    low_rank = options.mass_matrix_adaptation == _LOW_RANK and options.adapt_mass_matrix
    nutpie_warmup = options.adapt_mass_matrix and options.mass_matrix_adaptation in (_FISHER,
                                                                                     _LOW_RANK)
    entries = entry_addresses(hmc=options.algorithm != _NUTS, low_rank=low_rank,
                              early_stop=options.early_stop_warmup and nutpie_warmup)
    limits = (np.int64(start), np.int64(stop), np.int64(out_offset))

    def advance(c: int) -> None:
        model = Model(int(address), int(pointers[c]))
        advance_chain(np.int64(c), model, entries, *limits, options, schedule, state, output)

    n_threads = min(n_chains, numba.get_num_threads()) if chain_method == "parallel" else 1
    # Chains running side by side already fill the cores, and a model's own BLAS/LAPACK calls
    # (matrix products, eigh, svd, ...) or the low-rank adaptation's would each start an
    # OpenBLAS pool on top of them (kernels.blas_threads says why that is slow).
    low_rank_warmup = (options.mass_matrix_adaptation == _LOW_RANK
                       and options.adapt_mass_matrix and start < options.num_warmup)
    with single_threaded_blas(n_threads > 1 or low_rank_warmup):
        # a Ctrl-C while waiting surfaces only once every chain has finished its chunk, so the
        # state and output arrays are consistent
        run_side_by_side([lambda c=c: advance(c) for c in range(n_chains)], n_threads)
    if raise_on_error:
        check_chains(state.status)
