r"""Functional sampling: ``init`` a state, then ``step`` it, for users who write their own loops.

This is a thin layer over the compiled driver :mod:`kernels.sampler`: a :class:`SamplerState`
wraps the per-chain state arrays (:class:`kernels.state.ChainState`), the options of the
algorithm (:class:`kernels.options.SamplerOptions`) and the index of the next iteration;
:func:`step` advances every chain by a number of iterations (compiled code, one thread per
chain) and returns the new state with the draws and statistics of those iterations. :class:`inference.mcmc.MCMC` is built on the same functions.

Iterations are numbered globally from 0; iterations below ``state.num_warmup`` are warmup (the
kernel's adaptation -- Stan's or nutpie's -- runs during them), later ones are sampling. Because
every piece of per-chain state -- including the random stream -- lives in the state arrays,
splitting a run into steps of any size gives exactly the draws of one long step.

Random streams: chain ``c`` of seed ``s`` uses the xoshiro256** stream
:func:`kernels.rng.seed_streams` ``(s, ...)[c]``; initial points are drawn from a separate
``numpy.random.Generator`` derived from the same seed, so they never share random numbers
with the chains.

Examples
--------
>>> import numpy as np
>>> from tests.inference.models import GaussianModel
>>> model = GaussianModel(mean=[1.0, -1.0], cov=[[1.0, 0.5], [0.5, 2.0]])
>>> state = init(model, seed=0, num_chains=2, num_warmup=200)
>>> state, info = step(state, 200)               # warmup
>>> state, info = step(state, 300)               # 300 draws per chain
>>> info.draws.shape, state.iteration, state.is_warming_up
((2, 300, 2), 500, False)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.pathfinder_vi import pathfinder_initial_points
from inference.protocols import CompiledModelLike, MCMCKernel, chain_data_pointers
from kernels import sampler as S
from kernels.options import DriverOptions, SamplerOptions
from kernels.state import ChainState, SampleOutput, allocate_output, init_chain_state
from kernels.status import check_chains

if TYPE_CHECKING:  # pragma: no cover
    from inference.executor import ChainExecutor

__all__ = ["SamplerState", "init", "step", "advance", "seed_to_int", "init_generator"]

# spawn key of the initial-point generator: two words, so it can never equal a chain's
# one-word key (c,) used by kernels.rng.seed_streams
_INIT_SPAWN_KEY = (0x696E6974, 0)


@dataclasses.dataclass
class SamplerState:
    """The state of every chain between calls of the compiled driver.

    Attributes
    ----------
    chains : kernels.state.ChainState
        Per-chain arrays (first axis = chain): position, log density, gradient, nominal step
        size, inverse metric, dual-averaging and Welford accumulators, random stream, status.
    iteration : int
        Global index of the next iteration.
    options : kernels.options.SamplerOptions
        Options of the algorithm; ``options.num_warmup`` iterations ``0 .. num_warmup - 1``
        are warmup (their schedule is fixed by it).
    model : CompiledModelLike
        The model; holding it keeps its compiled code and data alive.
    """

    chains: ChainState
    iteration: int
    options: SamplerOptions
    model: Any
    _compiled: tuple | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def num_warmup(self) -> int:
        """Iterations ``0 .. num_warmup - 1`` are warmup."""
        return self.options.num_warmup

    @property
    def num_chains(self) -> int:
        """Number of chains."""
        return int(self.chains.position.shape[0])

    @property
    def dim(self) -> int:
        """Dimension of the unconstrained space."""
        return int(self.chains.position.shape[1])

    @property
    def position(self) -> np.ndarray:
        """Current unconstrained positions, ``(chains, dim)``."""
        return self.chains.position

    @property
    def step_size(self) -> np.ndarray:
        """Current nominal step sizes, ``(chains,)``."""
        return self.chains.step_size

    @property
    def inverse_mass_matrix(self) -> np.ndarray:
        """Current inverse metric: ``(chains, dim)`` (diagonal) or ``(chains, dim, dim)``."""
        return self.chains.inv_dense if self.options.dense_mass else self.chains.inv_diag

    @property
    def rng_state(self) -> np.ndarray:
        """The chains' xoshiro256** states, ``(chains, 4)`` ``uint64``."""
        return self.chains.rng

    @property
    def is_warming_up(self) -> bool:
        """True while the next iteration is a warmup iteration."""
        return self.iteration < self.num_warmup

    def compiled_options(self) -> tuple[DriverOptions, np.ndarray]:
        """``(DriverOptions, schedule)`` for the driver (computed once, warnings once)."""
        if self._compiled is None:
            # warn about a short warmup only while it is still ahead (not when resuming)
            self._compiled = self.options.compile(warn=self.is_warming_up)
        return self._compiled

    def copy(self) -> SamplerState:
        """A copy with its own chain arrays (the model is shared)."""
        return dataclasses.replace(self, chains=self.chains.copy())


def seed_to_int(seed: int | np.random.Generator) -> int:
    """Turn a seed (non-negative int or ``numpy.random.Generator``) into an int seed.

    A Generator is advanced by one draw, so passing the same Generator twice gives two
    different runs, as with any NumPy random function.
    """
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    raise TypeError(
        f"seed must be a non-negative int or a numpy.random.Generator, got {seed!r} "
        f"(a JAX PRNG key is not used here: pass e.g. seed=0)"
    )


def init_generator(seed: int) -> np.random.Generator:
    """The Generator that draws initial points for int seed ``seed`` (not used by chains)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=_INIT_SPAWN_KEY))


def _initial_positions(
    model: CompiledModelLike,
    seed: int,
    num_chains: int,
    init_params: np.ndarray | Mapping[str, Any] | None,
    init_strategy: str | Mapping[str, Any],
) -> np.ndarray:
    dim = int(model.dim)
    if init_params is None or isinstance(init_params, Mapping):
        strategy = init_strategy if init_params is None else init_params
        if isinstance(strategy, str) and strategy == "pathfinder":
            q0 = pathfinder_initial_points(model, seed, num_chains)
        else:
            q0 = model.initial_points(init_generator(seed), num_chains, strategy)
    else:
        q0 = np.asarray(init_params, dtype=np.float64)
        if q0.shape == (dim,):
            q0 = np.broadcast_to(q0, (num_chains, dim))
    q0 = np.asarray(q0, dtype=np.float64)
    if q0.shape != (num_chains, dim):
        raise ValueError(
            f"initial points must have shape (num_chains, dim) = {(num_chains, dim)} "
            f"(unconstrained space), got {q0.shape}"
        )
    return q0


def init(
    model: CompiledModelLike,
    seed: int | np.random.Generator,
    num_chains: int = 1,
    *,
    kernel: MCMCKernel | None = None,
    num_warmup: int = 0,
    init_params: np.ndarray | Mapping[str, Any] | None = None,
) -> SamplerState:
    """Initialise ``num_chains`` chains of a compiled model.

    Parameters
    ----------
    model : CompiledModelLike
        A compiled model (:class:`inference.protocols.CompiledModelLike`).
    seed : int or numpy.random.Generator
        Seed of the chains' random streams and of the initial points.
    num_chains : int, default 1
        Number of chains.
    kernel : NUTS or HMC, optional
        Options of the algorithm (its ``model`` is not used here); ``NUTS`` defaults if omitted.
    num_warmup : int, default 0
        Number of warmup iterations: the first ``num_warmup`` iterations run the kernel's
        adaptation.
    init_params : array or dict, optional
        Initial unconstrained positions ``(dim,)`` or ``(num_chains, dim)``, or a dict of
        constrained values per site (passed to ``model.initial_points``). By default the
        kernel's ``init_strategy``.

    Returns
    -------
    SamplerState
        At iteration 0.
    """
    if kernel is None:
        from inference.nuts import NUTS

        kernel = NUTS(model)
    if int(num_chains) != num_chains or num_chains < 1:
        raise ValueError(f"num_chains must be a positive integer, got {num_chains!r}")
    if int(num_warmup) != num_warmup or num_warmup < 0:
        raise ValueError(f"num_warmup must be a non-negative integer, got {num_warmup!r}")
    num_chains = int(num_chains)
    seed = seed_to_int(seed)
    options = kernel.sampler_options(int(num_warmup))
    q0 = _initial_positions(model, seed, num_chains, init_params, kernel.init_strategy)
    try:
        chains = init_chain_state(
            int(model.logp_grad_address),
            int(model.data_pointer),
            q0,
            seed,
            dense_mass=options.dense_mass,
            low_rank=options.low_rank_sizes(int(model.dim)),
            step_size=options.step_size,
            inverse_mass_matrix=options.inverse_mass_matrix,
        )
    except ValueError as err:
        raise ValueError(
            f"{err}. Pass finite initial values with init_params=, or use "
            f"init_strategy='uniform' to search for a finite starting point."
        ) from err
    return SamplerState(chains, 0, options, model)


def advance(
    state: SamplerState,
    stop: int,
    output: SampleOutput,
    out_offset: int,
    chain_method: str = "parallel",
    executor: ChainExecutor | None = None,
    *,
    check: bool = True,
) -> None:
    """Advance ``state`` **in place** through iterations ``[state.iteration, stop)``.

    Iteration ``i`` is written to output index ``i - out_offset`` of ``output`` (when inside
    it). ``chain_method="parallel"`` runs each chain on a worker thread (up to
    ``numba.get_num_threads()`` at once), ``"sequential"`` one after the other on the calling
    thread (:func:`kernels.sampler.run`); an ``executor``
    (:class:`inference.executor.ChainExecutor`) runs each chain as a job on its executor
    instead. All give identical draws.

    With ``check`` (the default) raises :class:`kernels.status.SamplerError` if a chain's
    adaptation failed. ``check=False`` leaves the failure in ``state.chains.status`` instead:
    :class:`inference.mcmc.MCMC` uses it to keep sampling the other chains (a failed chain's
    driver returns at once on every later call, since its status stays set) and to report the
    failed ones at the end.
    """
    start = int(state.iteration)
    if stop < start:
        raise ValueError(f"stop = {stop} is before the current iteration {start}")
    if executor is not None:
        executor.advance(state, stop, output, out_offset)
    else:
        pointers = chain_data_pointers(state.model, state.num_chains)
        S.run(int(state.model.logp_grad_address), pointers, state.compiled_options(),
              state.chains, output, start, stop, out_offset, raise_on_error=False,
              chain_method=chain_method)
    state.iteration = int(stop)
    if check:
        check_chains(state.chains.status)


def step(
    state: SamplerState, num_iterations: int = 1, chain_method: str = "parallel"
) -> tuple[SamplerState, SampleOutput]:
    """Advance every chain by ``num_iterations`` iterations; ``state`` is not modified.

    Parameters
    ----------
    state : SamplerState
        From :func:`init` or a previous :func:`step`.
    num_iterations : int, default 1
        Number of iterations (warmup iterations while ``state.is_warming_up``).
    chain_method : {"parallel", "sequential"}
        Threads (one per chain) or one chain after the other; identical results.

    Returns
    -------
    (SamplerState, kernels.state.SampleOutput)
        The new state, and the unconstrained draws ``(chains, num_iterations, dim)`` with
        their statistics (``lp``, ``acceptance_rate``, ``step_size``, ``tree_depth``,
        ``n_steps``, ``diverging``, ``energy``, ``energy_error``, ``max_energy_error``,
        ``reached_max_treedepth``), each ``(chains, num_iterations)``.
    """
    if int(num_iterations) != num_iterations or num_iterations < 0:
        raise ValueError(f"num_iterations must be a non-negative integer, got {num_iterations!r}")
    new = state.copy()
    output = allocate_output(new.num_chains, int(num_iterations), new.dim)
    advance(new, new.iteration + int(num_iterations), output, new.iteration, chain_method)
    return new, output
