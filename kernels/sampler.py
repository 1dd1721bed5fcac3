r"""The many-chain driver: advance every chain by a range of iterations, in parallel.

:func:`advance_chain` is compiled **once for all models** (disk-cached, ``nogil``): the model
arrives as two ``int64`` values (its C function's address and its data pointer, see
:mod:`kernels.model_abi`), and every option arrives in two small configuration arrays, so the
Numba type signature never changes. :func:`run` gives each chain to a worker thread of a
thread pool, which runs the compiled code from start to end of the requested range with the
GIL released, fully independently (no lock-step): chain ``c`` reads and writes only row ``c``
of every state and output array and draws only from its own random stream
(:mod:`kernels.rng`), so the draws do not depend on the number of threads or on the order in
which chains are scheduled.

Why threads and not a ``prange`` loop: both run the same machine code, but a ``parallel=True``
driver makes Numba compile (and optimise) the whole sampler a second time inside its parallel
region -- about 7 s more of the one-time compile on this 2-core machine -- and Numba's default
threading layer aborts when two Python threads enter parallel regions at once. Handing a chain
to a thread costs microseconds per chunk.

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
   (:func:`kernels.adaptation_fisher.fisher_init_metric`); if step-size adaptation is on, Stan's
   initial step-size search (:func:`kernels.adaptation.init_step_size`);
   this search and the NUTS transition are called by address (:mod:`kernels.entries`, which
   says why);
2. jitter the nominal step size (:func:`kernels.hmc.jitter_step_size`);
3. one NUTS (:func:`kernels.nuts.nuts_transition`) or static HMC
   (:func:`kernels.hmc.hmc_transition`) transition;
4. write the draw and its statistics at output index ``i - out_offset`` if that index is inside
   the output arrays (so warmup draws can be dropped with ``out_offset = num_warmup``, or
   per-chunk outputs used with ``out_offset = start``);
5. during warmup, the adaptation selected by ``int_cfg[CFG_METRIC_ADAPTATION]``:

   * ``ADAPTATION_STAN``, Stan's (``adapt_diag_e_nuts::transition``):
     dual-averaging update of the step size; add the draw to the Welford estimator when the
     schedule says so; at the end of a slow window: regularised metric update, Cholesky factor
     (dense), restart of the Welford estimator, step-size search,
     :math:`\mu = \log(10\epsilon)` and dual-averaging restart;
   * ``ADAPTATION_FISHER``, nutpie's (diagonal metric;
     :func:`kernels.adaptation_fisher.fisher_adapt`): add the draw and its gradient to the
     foreground and background estimators if the chain moved, switch them when the schedule
     says so, recompute the metric from the foreground; step-size search at the first metric
     update, a dual-averaging update otherwise;

   after the last warmup iteration: step size :math:`e^{\bar x}`.

A model failure (non-zero status or non-finite density/gradient) inside a trajectory is a
divergence of that trajectory; the chain continues. Failures of the adaptation itself (Stan
throws) stop the chain and set its entry of ``chain_status`` (codes in
:mod:`kernels.adaptation`), as does an entry that did not run to its end
(:data:`kernels.entries.STATUS_ENTRY_FAILED`); :func:`run` raises for those.

Arrays
------
The configuration (``int_cfg``, ``float_cfg``, ``schedule``), the per-chain state
(:class:`ChainState`) and the outputs (:class:`SampleOutput`), with their layout and builders,
are defined in :mod:`kernels.sampler_state` and re-exported here, so ``kernels.sampler`` stays
the one import for users of the driver.

References: Hoffman & Gelman (2014), JMLR 15:1593; Betancourt (2017), arXiv:1701.02434; Stan
Reference Manual, "MCMC Sampling" and "HMC algorithm parameters".
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from kernels import sampler_state as _sampler_state
from kernels.adaptation import (
    COLLECT,
    STATUS_METRIC_NONFINITE,
    STATUS_METRIC_NOT_PD,
    STATUS_OK,
    STATUS_STEP_SIZE_TOO_LARGE,
    STATUS_STEP_SIZE_ZERO,
    WINDOW_END,
    dual_averaging_final,
    dual_averaging_init,
    dual_averaging_update,
    regularize_dense,
    regularize_diag,
    welford_add_dense,
    welford_add_diag,
    welford_covariance,
    welford_variance,
)
from kernels.adaptation_fisher import fisher_adapt, fisher_add, fisher_init_metric
from kernels.entries import (
    STATUS_ENTRY_FAILED,
    entry_address,
    entry_frames,
    init_step,
    nuts_step,
)
from kernels.hmc import hmc_transition, jitter_step_size, steps_for_length
from kernels.integrators import DENSE, cholesky_lower
from kernels.jit import njit
from kernels.nuts import _workspace
from kernels.sampler_state import (  # noqa: F401  (re-exported)
    ADAPTATION_FISHER,
    ADAPTATION_STAN,
    ALGORITHM_HMC,
    ALGORITHM_NUTS,
    CFG_ADAPT_METRIC,
    CFG_ADAPT_STEP_SIZE,
    CFG_ALGORITHM,
    CFG_GAMMA,
    CFG_HMC_NUM_STEPS,
    CFG_INIT_METRIC_FROM_GRADIENT,
    CFG_JITTER,
    CFG_KAPPA,
    CFG_MAX_DELTA_H,
    CFG_MAX_DEPTH,
    CFG_METRIC,
    CFG_METRIC_ADAPTATION,
    CFG_NUM_WARMUP,
    CFG_T0,
    CFG_TARGET_ACCEPT,
    CFG_TRAJECTORY_LENGTH,
    N_FLOAT_CFG,
    N_INT_CFG,
    ChainState,
    SampleOutput,
    SamplerConfig,
    _check_layout,
    allocate_output,
    init_chain_state,
    random_initial_points,
)

__all__ = [  # the configuration and state names are re-exported from kernels.sampler_state
    *_sampler_state.__all__,
    "advance_chain",
    "entry_addresses",
    "run",
    "SamplerError",
]

_STATUS_MESSAGES = {
    STATUS_STEP_SIZE_TOO_LARGE: "step-size search exceeded 1e7: the posterior may be improper",
    STATUS_STEP_SIZE_ZERO: "step-size search reached 0: is the log density continuous?",
    STATUS_METRIC_NONFINITE: "numerical overflow in metric adaptation (non-finite estimate)",
    STATUS_METRIC_NOT_PD: "the dense metric estimate is not positive definite",
    STATUS_ENTRY_FAILED: "the NUTS transition or step-size search raised an error (its message "
    "is on standard error; this is a bug, please report it)",
}


class SamplerError(RuntimeError):
    """A chain stopped because its adaptation failed (see ``ChainState.status``)."""


@njit
def _update_metric(
    metric_kind: int,
    count: float,
    m2_diag: np.ndarray,
    m2_dense: np.ndarray,
    inv_diag: np.ndarray,
    inv_dense: np.ndarray,
    chol: np.ndarray,
) -> int:
    """End of a slow window: regularised variance/covariance into the metric; returns a status."""
    if count == 0.0:
        return STATUS_OK  # no draws in this window: keep the metric (see kernels.adaptation)
    if metric_kind == DENSE:
        welford_covariance(count, m2_dense, inv_dense)
        if not regularize_dense(inv_dense, count):
            return STATUS_METRIC_NONFINITE
        if not cholesky_lower(inv_dense, chol):
            return STATUS_METRIC_NOT_PD
    else:
        welford_variance(count, m2_diag, inv_diag)
        if not regularize_diag(inv_diag, count):
            return STATUS_METRIC_NONFINITE
    return STATUS_OK


@njit(inline="always")
def _reset_welford(mean: np.ndarray, m2_diag: np.ndarray, m2_dense: np.ndarray) -> None:
    mean[:] = 0.0
    m2_diag[:] = 0.0
    m2_dense[:] = 0.0


@njit
def advance_chain(
    c: int,
    address: int,
    data_ptr: int,
    nuts_entry: int,
    init_entry: int,
    start: int,
    stop: int,
    out_offset: int,
    int_cfg: np.ndarray,
    float_cfg: np.ndarray,
    schedule: np.ndarray,
    position: np.ndarray,
    logp: np.ndarray,
    grad: np.ndarray,
    step_size: np.ndarray,
    inv_diag: np.ndarray,
    inv_dense: np.ndarray,
    chol: np.ndarray,
    da: np.ndarray,
    welford_count: np.ndarray,
    welford_mean: np.ndarray,
    welford_m2_diag: np.ndarray,
    welford_m2_dense: np.ndarray,
    fisher_counts: np.ndarray,
    fisher_moments: np.ndarray,
    rng: np.ndarray,
    status: np.ndarray,
    draws: np.ndarray,
    lp_out: np.ndarray,
    accept_out: np.ndarray,
    step_out: np.ndarray,
    depth_out: np.ndarray,
    n_steps_out: np.ndarray,
    diverging_out: np.ndarray,
    energy_out: np.ndarray,
    energy_error_out: np.ndarray,
    max_energy_error_out: np.ndarray,
    max_depth_out: np.ndarray,
) -> None:
    """Advance chain ``c`` through iterations ``[start, stop)`` (see the module docstring).

    Parameters
    ----------
    c : int64
        The chain: only row ``c`` of the state and output arrays is read or written.
    address, data_ptr : int64
        The model's C function address and its data pointer.
    nuts_entry, init_entry : int64
        Addresses of the NUTS transition and of the step-size search
        (:func:`kernels.entries.entry_address`).
    start, stop : int64
        Iteration range (global numbering; warmup is ``[0, num_warmup)``).
    out_offset : int64
        Iteration ``i`` is written at output index ``i - out_offset`` when in range.
    int_cfg, float_cfg, schedule
        From :meth:`SamplerConfig.arrays`.
    position ... status
        The :class:`ChainState` arrays, in its field order; updated in place.
    draws ... max_depth_out
        The :class:`SampleOutput` arrays, in its field order; written in place.

    Notes
    -----
    Every argument's type is fixed (``int64`` scalars, C-contiguous arrays of fixed dtype and
    rank), so one compiled version serves all models, metrics and algorithms; use :func:`run`
    from Python, which normalises the argument types and runs the chains on threads. The GIL
    is released, so different chains may be advanced from different threads at once.
    """
    algorithm = int_cfg[CFG_ALGORITHM]
    metric_kind = int_cfg[CFG_METRIC]
    max_depth = int_cfg[CFG_MAX_DEPTH]
    num_warmup = int_cfg[CFG_NUM_WARMUP]
    adapt_step = int_cfg[CFG_ADAPT_STEP_SIZE] != 0
    adapt_metric = int_cfg[CFG_ADAPT_METRIC] != 0
    fisher = adapt_metric and int_cfg[CFG_METRIC_ADAPTATION] == ADAPTATION_FISHER
    hmc_steps = int_cfg[CFG_HMC_NUM_STEPS]
    max_delta_h = float_cfg[CFG_MAX_DELTA_H]
    delta = float_cfg[CFG_TARGET_ACCEPT]
    gamma = float_cfg[CFG_GAMMA]
    kappa = float_cfg[CFG_KAPPA]
    t0 = float_cfg[CFG_T0]
    jitter = float_cfg[CFG_JITTER]
    traj_length = float_cfg[CFG_TRAJECTORY_LENGTH]

    d = position.shape[1]
    n_out = draws.shape[1]
    vec, tree, slot = _workspace(d, max_depth)
    scratch = np.empty(d)
    ints, floats = entry_frames()
    q = position[c]
    g = grad[c]
    state = rng[c]
    da_c = da[c]

    for i in range(start, stop):
        if status[c] != STATUS_OK:
            return
        warm = i < num_warmup
        if i == 0 and warm and fisher:
            # nuts-rs: the initial point is the first draw of both estimators, and the metric
            # starts from its gradient (unless the user gave one)
            fisher_add(fisher_counts[c], fisher_moments[c], q, g)
            if int_cfg[CFG_INIT_METRIC_FROM_GRADIENT] != 0:
                fisher_init_metric(g, inv_diag[c])
        if i == 0 and warm and adapt_step:
            eps0, st = init_step(
                init_entry,
                ints,
                floats,
                address,
                data_ptr,
                metric_kind,
                inv_diag[c],
                inv_dense[c],
                chol[c],
                q,
                g,
                logp[c],
                step_size[c],
                state,
                vec,
            )
            if st != STATUS_OK:
                status[c] = st
                return
            step_size[c] = eps0
            if fisher:  # nuts-rs: dual averaging starts from the searched step size
                dual_averaging_init(da_c, eps0)
        if warm and fisher:
            for k in range(d):  # the point before the transition (did the chain move?)
                scratch[k] = q[k]

        eps = jitter_step_size(step_size[c], jitter, state)
        if algorithm == ALGORITHM_NUTS:
            done, lp, acc, depth, nl, div, energy, eerr, maxerr = nuts_step(
                nuts_entry,
                ints,
                floats,
                address,
                data_ptr,
                metric_kind,
                inv_diag[c],
                inv_dense[c],
                chol[c],
                q,
                g,
                logp[c],
                eps,
                max_depth,
                max_delta_h,
                state,
                vec,
                tree,
                slot,
            )
            if not done:
                status[c] = STATUS_ENTRY_FAILED
                return
            hit_max = depth >= max_depth
        else:
            n_leap = hmc_steps
            if traj_length > 0.0:
                n_leap = steps_for_length(traj_length, step_size[c])
            lp, acc, nl, div, energy, eerr, maxerr = hmc_transition(
                address,
                data_ptr,
                metric_kind,
                inv_diag[c],
                inv_dense[c],
                chol[c],
                q,
                g,
                logp[c],
                eps,
                n_leap,
                max_delta_h,
                state,
                vec,
            )
            depth = 0
            hit_max = False
        logp[c] = lp

        j = i - out_offset
        if 0 <= j < n_out:
            for k in range(d):
                draws[c, j, k] = q[k]
            lp_out[c, j] = lp
            accept_out[c, j] = acc
            step_out[c, j] = eps
            depth_out[c, j] = depth
            n_steps_out[c, j] = nl
            diverging_out[c, j] = div
            energy_out[c, j] = energy
            energy_error_out[c, j] = eerr
            max_energy_error_out[c, j] = maxerr
            max_depth_out[c, j] = hit_max

        if not warm:
            continue
        search = False  # search the step size after this iteration's adaptation
        if fisher:
            step_size[c], search = fisher_adapt(
                schedule[i],
                scratch,
                adapt_step,
                inv_diag[c],
                q,
                g,
                step_size[c],
                acc,
                fisher_counts[c],
                fisher_moments[c],
                da_c,
                delta,
                gamma,
                kappa,
                t0,
            )
        else:
            if adapt_step:
                step_size[c] = dual_averaging_update(da_c, acc, delta, gamma, kappa, t0)
            flag = schedule[i] if adapt_metric else 0
            if flag & COLLECT:
                if metric_kind == DENSE:
                    welford_count[c] = welford_add_dense(
                        welford_count[c], welford_mean[c], welford_m2_dense[c], q, scratch
                    )
                else:
                    welford_count[c] = welford_add_diag(
                        welford_count[c], welford_mean[c], welford_m2_diag[c], q
                    )
            if flag & WINDOW_END:
                st = _update_metric(
                    metric_kind,
                    welford_count[c],
                    welford_m2_diag[c],
                    welford_m2_dense[c],
                    inv_diag[c],
                    inv_dense[c],
                    chol[c],
                )
                if st != STATUS_OK:
                    status[c] = st
                    return
                welford_count[c] = 0.0
                _reset_welford(welford_mean[c], welford_m2_diag[c], welford_m2_dense[c])
                search = True
        if search and adapt_step:
            # one call site for both modes: each call site of the search costs compile time
            eps1, st = init_step(
                init_entry,
                ints,
                floats,
                address,
                data_ptr,
                metric_kind,
                inv_diag[c],
                inv_dense[c],
                chol[c],
                q,
                g,
                lp,
                step_size[c],
                state,
                vec,
            )
            if st != STATUS_OK:
                status[c] = st
                return
            step_size[c] = eps1
            dual_averaging_init(da_c, eps1)
        if i == num_warmup - 1 and adapt_step:
            step_size[c] = dual_averaging_final(da_c, step_size[c])


def entry_addresses() -> tuple[np.int64, np.int64]:
    """The ``nuts_entry`` and ``init_entry`` arguments of :func:`advance_chain` in this process
    (compiled, or loaded from the disk cache, on first use)."""
    return np.int64(entry_address("nuts")), np.int64(entry_address("init_step_size"))


def run(
    address: int,
    data_ptr: int | Sequence[int],
    config: tuple[np.ndarray, np.ndarray, np.ndarray],
    state: ChainState,
    output: SampleOutput,
    start: int,
    stop: int,
    out_offset: int = 0,
    raise_on_error: bool = True,
) -> None:
    """Advance every chain through iterations ``[start, stop)``, one worker thread per chain.

    Validates and normalises the arguments, then calls :func:`advance_chain` for each chain on
    a pool of ``min(chains, numba.get_num_threads())`` threads (on the calling thread when that
    is one); the draws are the same for any number of threads.

    Parameters
    ----------
    address : int
        The model.
    data_ptr : int or sequence of int
        Its data pointer, or one per chain (a model kernel's workspace is in its data table, so
        chains on different threads need tables of their own).
    config : (int_cfg, float_cfg, schedule)
        From :meth:`SamplerConfig.arrays`.
    state : ChainState
        Updated in place.
    output : SampleOutput
        Written in place (see ``out_offset``).
    start, stop : int
        Global iteration range ``[start, stop)``.
    out_offset : int
        Output index of iteration ``i`` is ``i - out_offset``.
    raise_on_error : bool
        Raise :class:`SamplerError` if a chain's adaptation failed.
    """
    int_cfg, float_cfg, schedule = config
    int_cfg = np.ascontiguousarray(int_cfg, dtype=np.int64)
    float_cfg = np.ascontiguousarray(float_cfg, dtype=np.float64)
    schedule = np.ascontiguousarray(schedule, dtype=np.int8)
    if schedule.shape[0] < int_cfg[CFG_NUM_WARMUP]:
        raise ValueError("schedule is shorter than num_warmup")
    _check_layout(state, output, int(int_cfg[CFG_METRIC]))
    n_chains = state.position.shape[0]
    pointers = [data_ptr] * n_chains if np.ndim(data_ptr) == 0 else list(data_ptr)
    if len(pointers) != n_chains:
        raise ValueError(f"{len(pointers)} data pointers given for {n_chains} chains")
    entries = entry_addresses()
    limits = (np.int64(start), np.int64(stop), np.int64(out_offset))
    arrays = (int_cfg, float_cfg, schedule, *state.arrays(), *output.arrays())

    def advance(c: int) -> None:
        advance_chain(np.int64(c), np.int64(address), np.int64(pointers[c]), *entries, *limits,
                      *arrays)

    n_threads = min(n_chains, numba.get_num_threads())
    if n_threads <= 1:
        for c in range(n_chains):
            advance(c)
    else:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="numbayes-chain") as pool:
            # a Ctrl-C while waiting leaves this block only once every chain has finished its
            # chunk, so the state and output arrays are consistent when the exception surfaces
            for future in [pool.submit(advance, c) for c in range(n_chains)]:
                future.result()
    if raise_on_error and np.any(state.status != STATUS_OK):
        bad = {
            int(c): _STATUS_MESSAGES.get(int(s), f"status {int(s)}")
            for c, s in enumerate(state.status)
            if s != STATUS_OK
        }
        raise SamplerError(f"adaptation failed in chain(s): {bad}")
