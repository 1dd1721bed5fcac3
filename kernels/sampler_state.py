r"""The configuration, state and output arrays of the many-chain driver, and their builders.

:func:`kernels.sampler.advance_chain` (compiled once for all models) takes every option and every
per-chain quantity as plain arrays. This module owns their layout: the ``CFG_*`` indices into the
two configuration arrays and :class:`SamplerConfig`, which fills them; :class:`ChainState` and
:func:`init_chain_state` (the per-chain state, including Stan's initial dual-averaging state);
:func:`random_initial_points` (Stan's random initialisation); :class:`SampleOutput` and
:func:`allocate_output`; and ``_check_layout``, which :func:`kernels.sampler.run` calls before
entering compiled code. :mod:`kernels.sampler` re-exports every public name here.

Array layout (``C`` chains, ``d`` parameters, ``N`` output draws)
----------------------------------------------------------------
Configuration: ``int_cfg`` ``int64[N_INT_CFG]`` and ``float_cfg`` ``float64[N_FLOAT_CFG]``
(indices ``CFG_*`` below), ``schedule`` ``int8[num_warmup]`` from
:func:`kernels.adaptation.warmup_schedule` (Stan's windows) or
:func:`kernels.adaptation_fisher.fisher_schedule` (nutpie's switches), according to
``int_cfg[CFG_METRIC_ADAPTATION]``. Build them with :meth:`SamplerConfig.arrays`.

State (:class:`ChainState`): ``position (C, d)``, ``logp (C,)``, ``grad (C, d)``,
``step_size (C,)`` (nominal), ``inv_diag (C, d)``, ``inv_dense (C, d, d)`` and ``chol (C, d, d)``
(dense metric; shape ``(C, 0, 0)`` for a diagonal metric), ``da (C, 4)`` dual averaging
``[counter, s_bar, x_bar, mu]``, ``welford_count (C,)``, ``welford_mean (C, d)``,
``welford_m2_diag (C, d)``, ``welford_m2_dense (C, d, d)`` (or ``(C, 0, 0)``),
``fisher_counts (C, 3)`` and ``fisher_moments (C, 8, d)`` (the foreground and background
estimators of nutpie's adaptation, :mod:`kernels.adaptation_fisher`; untouched in Stan's mode),
``rng (C, 4)`` ``uint64``, ``status (C,)`` ``int64``.

Outputs (:class:`SampleOutput`): ``draws (C, N, d)`` and, each ``(C, N)``: ``lp``,
``acceptance_rate``, ``step_size``, ``tree_depth`` (int64), ``n_steps`` (int64), ``diverging``
(bool), ``energy``, ``energy_error``, ``max_energy_error``, ``reached_max_treedepth`` (bool) --
the ``sample_stats`` names ArviZ reads.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from kernels.adaptation import dual_averaging_init, warmup_schedule
from kernels.adaptation_fisher import FISHER_N_COUNTS, FISHER_N_ROWS, fisher_schedule
from kernels.integrators import DENSE, DIAG, cholesky_lower
from kernels.jit import njit
from kernels.model_abi import evaluate
from kernels.rng import seed_streams, uniform

__all__ = [
    "ALGORITHM_NUTS",
    "ALGORITHM_HMC",
    "ADAPTATION_STAN",
    "ADAPTATION_FISHER",
    "CFG_ALGORITHM",
    "CFG_METRIC",
    "CFG_MAX_DEPTH",
    "CFG_NUM_WARMUP",
    "CFG_ADAPT_STEP_SIZE",
    "CFG_ADAPT_METRIC",
    "CFG_HMC_NUM_STEPS",
    "CFG_METRIC_ADAPTATION",
    "CFG_INIT_METRIC_FROM_GRADIENT",
    "N_INT_CFG",
    "CFG_MAX_DELTA_H",
    "CFG_TARGET_ACCEPT",
    "CFG_GAMMA",
    "CFG_KAPPA",
    "CFG_T0",
    "CFG_JITTER",
    "CFG_TRAJECTORY_LENGTH",
    "N_FLOAT_CFG",
    "SamplerConfig",
    "ChainState",
    "empty_chain_state",
    "SampleOutput",
    "init_chain_state",
    "allocate_output",
    "random_initial_points",
]

#: ``int_cfg[CFG_ALGORITHM]`` value for NUTS.
ALGORITHM_NUTS = 0
#: ``int_cfg[CFG_ALGORITHM]`` value for static HMC.
ALGORITHM_HMC = 1
#: ``int_cfg[CFG_METRIC_ADAPTATION]`` value for Stan's windowed variance estimate.
ADAPTATION_STAN = 0
#: ``int_cfg[CFG_METRIC_ADAPTATION]`` value for nutpie's draw + gradient ("Fisher") estimate.
ADAPTATION_FISHER = 1

# int_cfg indices
CFG_ALGORITHM = 0  #: ALGORITHM_NUTS or ALGORITHM_HMC
CFG_METRIC = 1  #: kernels.integrators.DIAG or DENSE
CFG_MAX_DEPTH = 2  #: NUTS maximum tree depth (Stan: 10)
CFG_NUM_WARMUP = 3  #: number of warmup iterations
CFG_ADAPT_STEP_SIZE = 4  #: 1 = dual averaging during warmup
CFG_ADAPT_METRIC = 5  #: 1 = windowed metric adaptation during warmup
CFG_HMC_NUM_STEPS = 6  #: static HMC leapfrog steps (when no trajectory length is given)
CFG_METRIC_ADAPTATION = 7  #: ADAPTATION_STAN or ADAPTATION_FISHER (diagonal metric only)
CFG_INIT_METRIC_FROM_GRADIENT = 8  #: Fisher mode: 1 = initial metric 1/|grad| at iteration 0
N_INT_CFG = 9

# float_cfg indices
CFG_MAX_DELTA_H = 0  #: divergence threshold (Stan: 1000)
CFG_TARGET_ACCEPT = 1  #: dual averaging delta (Stan: 0.8)
CFG_GAMMA = 2  #: dual averaging gamma (Stan: 0.05)
CFG_KAPPA = 3  #: dual averaging kappa (Stan: 0.75)
CFG_T0 = 4  #: dual averaging t0 (Stan: 10)
CFG_JITTER = 5  #: relative step-size jitter (Stan: 0)
CFG_TRAJECTORY_LENGTH = 6  #: static HMC integration time; > 0 overrides CFG_HMC_NUM_STEPS
N_FLOAT_CFG = 7


@dataclass
class SamplerConfig:
    """Options of :func:`kernels.sampler.advance_chain`, with Stan's defaults.

    ``algorithm`` is ``"nuts"`` or ``"hmc"``; ``metric`` is ``"diag"`` or ``"dense"``. Static
    HMC uses ``hmc_num_steps`` leapfrog steps, or ``max(1, int(T / step_size))`` when
    ``hmc_trajectory_length = T > 0``.

    ``metric_adaptation`` is ``"stan"`` (Stan's windows, :mod:`kernels.adaptation`:
    ``init_buffer``, ``term_buffer``, ``base_window``) or ``"fisher"`` (nutpie's draw + gradient
    estimate, diagonal metric only, :mod:`kernels.adaptation_fisher`: ``early_window``,
    ``step_size_window``, ``early_switch_freq``, ``switch_freq``, ``window_growth``; with
    ``init_metric_from_gradient`` the metric starts at :math:`1/|\\nabla\\log\\pi(x_0)|`
    instead of the state's initial metric).
    """

    num_warmup: int = 1000
    algorithm: str = "nuts"
    metric: str = "diag"
    max_depth: int = 10
    max_delta_h: float = 1000.0
    adapt_step_size: bool = True
    adapt_metric: bool = True
    target_accept: float = 0.8
    gamma: float = 0.05
    kappa: float = 0.75
    t0: float = 10.0
    jitter: float = 0.0
    hmc_num_steps: int = 10
    hmc_trajectory_length: float = 0.0
    init_buffer: int = 75
    term_buffer: int = 50
    base_window: int = 25
    metric_adaptation: str = "stan"
    init_metric_from_gradient: bool = True
    early_window: float = 0.3
    step_size_window: float = 0.15
    early_switch_freq: int = 10
    switch_freq: int = 80
    window_growth: float = 1.5

    def arrays(self, warn: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(int_cfg, float_cfg, schedule)`` for :func:`kernels.sampler.advance_chain`.

        ``warn`` is passed to :func:`kernels.adaptation.warmup_schedule` (only relevant when
        the metric is adapted).
        """
        if self.algorithm not in ("nuts", "hmc"):
            raise ValueError(f"algorithm must be 'nuts' or 'hmc', got {self.algorithm!r}")
        if self.metric not in ("diag", "dense"):
            raise ValueError(f"metric must be 'diag' or 'dense', got {self.metric!r}")
        if not 1 <= self.max_depth <= 30:
            raise ValueError(f"max_depth must be in [1, 30], got {self.max_depth}")
        if self.num_warmup < 0:
            raise ValueError(f"num_warmup must be >= 0, got {self.num_warmup}")
        if not 0.0 < self.target_accept < 1.0:
            raise ValueError(f"target_accept must be in (0, 1), got {self.target_accept}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")
        if self.metric_adaptation not in ("stan", "fisher"):
            raise ValueError(
                f"metric_adaptation must be 'stan' or 'fisher', got {self.metric_adaptation!r}"
            )
        fisher = self.metric_adaptation == "fisher"
        if fisher and self.metric == "dense":
            raise ValueError("metric_adaptation='fisher' estimates a diagonal metric only")
        int_cfg = np.zeros(N_INT_CFG, dtype=np.int64)
        int_cfg[CFG_ALGORITHM] = ALGORITHM_NUTS if self.algorithm == "nuts" else ALGORITHM_HMC
        int_cfg[CFG_METRIC] = DIAG if self.metric == "diag" else DENSE
        int_cfg[CFG_MAX_DEPTH] = self.max_depth
        int_cfg[CFG_NUM_WARMUP] = self.num_warmup
        int_cfg[CFG_ADAPT_STEP_SIZE] = int(bool(self.adapt_step_size))
        int_cfg[CFG_ADAPT_METRIC] = int(bool(self.adapt_metric))
        int_cfg[CFG_HMC_NUM_STEPS] = max(1, int(self.hmc_num_steps))
        int_cfg[CFG_METRIC_ADAPTATION] = ADAPTATION_FISHER if fisher else ADAPTATION_STAN
        int_cfg[CFG_INIT_METRIC_FROM_GRADIENT] = int(bool(self.init_metric_from_gradient))
        float_cfg = np.zeros(N_FLOAT_CFG, dtype=np.float64)
        float_cfg[CFG_MAX_DELTA_H] = self.max_delta_h
        float_cfg[CFG_TARGET_ACCEPT] = self.target_accept
        float_cfg[CFG_GAMMA] = self.gamma
        float_cfg[CFG_KAPPA] = self.kappa
        float_cfg[CFG_T0] = self.t0
        float_cfg[CFG_JITTER] = self.jitter
        float_cfg[CFG_TRAJECTORY_LENGTH] = self.hmc_trajectory_length
        if self.adapt_metric and fisher:
            schedule = fisher_schedule(
                self.num_warmup,
                self.early_window,
                self.step_size_window,
                self.early_switch_freq,
                self.switch_freq,
                self.window_growth,
            )
        elif self.adapt_metric and self.num_warmup > 0:
            schedule = warmup_schedule(
                self.num_warmup, self.init_buffer, self.term_buffer, self.base_window, warn=warn
            )
        else:
            schedule = np.zeros(self.num_warmup, dtype=np.int8)
        return int_cfg, float_cfg, schedule


@dataclass
class ChainState:
    """Per-chain state arrays (first axis = chain); see the module docstring for shapes."""

    position: np.ndarray
    logp: np.ndarray
    grad: np.ndarray
    step_size: np.ndarray
    inv_diag: np.ndarray
    inv_dense: np.ndarray
    chol: np.ndarray
    da: np.ndarray
    welford_count: np.ndarray
    welford_mean: np.ndarray
    welford_m2_diag: np.ndarray
    welford_m2_dense: np.ndarray
    fisher_counts: np.ndarray
    fisher_moments: np.ndarray
    rng: np.ndarray
    status: np.ndarray

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in :func:`kernels.sampler.advance_chain` argument order."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def copy(self) -> ChainState:
        """A deep copy (e.g. to rerun from the same state)."""
        return ChainState(*(a.copy() for a in self.arrays()))


@dataclass
class SampleOutput:
    """Preallocated outputs: ``draws (C, N, d)`` and one ``(C, N)`` array per statistic."""

    draws: np.ndarray
    lp: np.ndarray
    acceptance_rate: np.ndarray
    step_size: np.ndarray
    tree_depth: np.ndarray
    n_steps: np.ndarray
    diverging: np.ndarray
    energy: np.ndarray
    energy_error: np.ndarray
    max_energy_error: np.ndarray
    reached_max_treedepth: np.ndarray

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in :func:`kernels.sampler.advance_chain` argument order."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def sample_stats(self) -> dict[str, np.ndarray]:
        """The statistics keyed by their ArviZ ``sample_stats`` names."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "draws"}


def allocate_output(n_chains: int, n_draws: int, dim: int) -> SampleOutput:
    """Allocate :class:`SampleOutput` arrays (floats NaN-filled, integers/bools zero)."""

    def f() -> np.ndarray:
        return np.full((n_chains, n_draws), np.nan)

    return SampleOutput(
        draws=np.full((n_chains, n_draws, dim), np.nan),
        lp=f(),
        acceptance_rate=f(),
        step_size=f(),
        tree_depth=np.zeros((n_chains, n_draws), dtype=np.int64),
        n_steps=np.zeros((n_chains, n_draws), dtype=np.int64),
        diverging=np.zeros((n_chains, n_draws), dtype=np.bool_),
        energy=f(),
        energy_error=f(),
        max_energy_error=f(),
        reached_max_treedepth=np.zeros((n_chains, n_draws), dtype=np.bool_),
    )


def init_chain_state(
    address: int,
    data_ptr: int,
    initial_positions: np.ndarray,
    seed: int,
    metric: str = "diag",
    step_size: float = 1.0,
    inv_metric: np.ndarray | None = None,
    first_chain: int = 0,
    rng: np.ndarray | None = None,
) -> ChainState:
    """Build the :class:`ChainState` of ``C`` chains starting at ``initial_positions``.

    Parameters
    ----------
    address, data_ptr : int
        The model (see :mod:`kernels.model_abi`); evaluated once per chain here.
    initial_positions : array, shape (C, d)
        Starting points on the unconstrained space; each must have finite log density and
        gradient.
    seed : int
        Seed of the random streams (:func:`kernels.rng.seed_streams`); ignored if ``rng`` is
        given.
    metric : {"diag", "dense"}
        Metric kind (must match :attr:`SamplerConfig.metric`).
    step_size : float
        Initial nominal step size (Stan: 1); dual averaging's :math:`\\mu` is set to
        :math:`\\log(10 \\cdot` ``step_size``:math:`)`.
    inv_metric : array, optional
        Initial inverse metric: ``(d,)`` or ``(C, d)`` for ``diag``, ``(d, d)`` or ``(C, d, d)``
        for ``dense``; identity by default.
    first_chain : int
        Global index of the first chain (for the random streams).
    rng : array, optional
        Explicit ``(C, 4)`` ``uint64`` stream states (e.g. after :func:`random_initial_points`).

    Returns
    -------
    ChainState
    """
    q0 = np.array(initial_positions, dtype=np.float64, order="C", copy=True)
    if q0.ndim != 2 or q0.shape[1] < 1:
        raise ValueError(f"initial_positions must have shape (n_chains, dim >= 1), got {q0.shape}")
    n, d = q0.shape
    logp = np.empty(n)
    grad = np.empty((n, d))
    for c in range(n):
        status, lp = evaluate(int(address), int(data_ptr), q0[c], grad[c])
        if status != 0:
            raise ValueError(
                f"chain {c}: the log density or its gradient is not finite at the initial point "
                f"(model status {status}, logp {lp})"
            )
        logp[c] = lp
    state = empty_chain_state(n, d, metric)
    state.position[:] = q0
    state.logp[:] = logp
    state.grad[:] = grad
    state.step_size[:] = float(step_size)
    inv_diag, inv_dense, chol = state.inv_diag, state.inv_dense, state.chol
    if metric == "dense":
        m = np.eye(d) if inv_metric is None else np.asarray(inv_metric, dtype=np.float64)
        inv_dense[:] = np.broadcast_to(m, (n, d, d))
        for c in range(n):
            if not cholesky_lower(inv_dense[c], chol[c]):
                raise ValueError(f"chain {c}: the inverse metric is not positive definite")
    elif inv_metric is not None:
        inv_diag[:] = np.broadcast_to(np.asarray(inv_metric, dtype=np.float64), (n, d))
        if not np.all(inv_diag > 0) or not np.all(np.isfinite(inv_diag)):
            raise ValueError("the diagonal inverse metric must be positive and finite")
    for c in range(n):
        dual_averaging_init(state.da[c], float(step_size))
    streams = seed_streams(seed, n, first_chain) if rng is None else np.array(rng, np.uint64)
    state.rng = np.ascontiguousarray(streams)
    return state


def empty_chain_state(n_chains: int, dim: int, metric: str = "diag") -> ChainState:
    """A :class:`ChainState` of ``n_chains`` chains in ``dim`` dimensions with every array in
    its final dtype and shape, zero-filled except for a unit diagonal metric: nothing is
    evaluated (:func:`init_chain_state` fills it; :mod:`kernels.precompile` only needs the
    types)."""
    if metric not in ("diag", "dense"):
        raise ValueError(f"metric must be 'diag' or 'dense', got {metric!r}")
    n, d = n_chains, dim
    square = (n, d, d) if metric == "dense" else (n, 0, 0)
    return ChainState(
        position=np.zeros((n, d)),
        logp=np.zeros(n),
        grad=np.zeros((n, d)),
        step_size=np.ones(n),
        inv_diag=np.ones((n, d)),
        inv_dense=np.zeros(square),
        chol=np.zeros(square),
        da=np.zeros((n, 4)),
        welford_count=np.zeros(n),
        welford_mean=np.zeros((n, d)),
        welford_m2_diag=np.zeros((n, d)),
        welford_m2_dense=np.zeros(square),
        fisher_counts=np.zeros((n, FISHER_N_COUNTS)),
        fisher_moments=np.zeros((n, FISHER_N_ROWS, d)),
        rng=np.zeros((n, 4), dtype=np.uint64),
        status=np.zeros(n, dtype=np.int64),
    )


@njit
def random_initial_points(
    address: int,
    data_ptr: int,
    rng: np.ndarray,
    positions: np.ndarray,
    radius: float,
    max_tries: int,
) -> np.ndarray:
    """Stan's random initialisation: uniform on ``(-radius, radius)^d`` until the density is finite.

    Chain ``c`` draws from its own stream ``rng[c]`` (advanced in place) and tries at most
    ``max_tries`` points (Stan: radius 2, 100 tries).

    Returns
    -------
    numpy.ndarray
        ``int64`` number of tries used per chain, ``-1`` where no point had a finite log
        density and gradient. ``positions (C, d)`` receives the points.
    """
    n, d = positions.shape
    tries = np.full(n, -1, dtype=np.int64)
    grad = np.empty(d)
    for c in range(n):
        for t in range(max_tries):
            for i in range(d):
                positions[c, i] = radius * (2.0 * uniform(rng[c]) - 1.0)
            status, _ = evaluate(address, data_ptr, positions[c], grad)
            if status == 0:
                tries[c] = t + 1
                break
    return tries


def _check_layout(state: ChainState, output: SampleOutput, metric_kind: int) -> None:
    n, d = state.position.shape
    expected = {
        "position": (np.float64, (n, d)),
        "logp": (np.float64, (n,)),
        "grad": (np.float64, (n, d)),
        "step_size": (np.float64, (n,)),
        "inv_diag": (np.float64, (n, d)),
        "da": (np.float64, (n, 4)),
        "welford_count": (np.float64, (n,)),
        "welford_mean": (np.float64, (n, d)),
        "welford_m2_diag": (np.float64, (n, d)),
        "fisher_counts": (np.float64, (n, FISHER_N_COUNTS)),
        "fisher_moments": (np.float64, (n, FISHER_N_ROWS, d)),
        "rng": (np.uint64, (n, 4)),
        "status": (np.int64, (n,)),
    }
    dd = (n, d, d) if metric_kind == DENSE else None
    for name in ("inv_dense", "chol", "welford_m2_dense"):
        arr = getattr(state, name)
        expected[name] = (np.float64, dd if dd is not None else arr.shape)
        if arr.ndim != 3 or arr.shape[0] != n:
            raise ValueError(f"state.{name} must have shape (n_chains, d, d) or (n_chains, 0, 0)")
    for name, (dtype, shape) in expected.items():
        arr = getattr(state, name)
        if arr.dtype != dtype or arr.shape != shape or not arr.flags.c_contiguous:
            raise ValueError(
                f"state.{name} must be a C-contiguous {np.dtype(dtype).name} array of shape "
                f"{shape}, got {arr.dtype} {arr.shape}"
            )
    n_out = output.draws.shape[1]
    kinds = {"tree_depth": np.int64, "n_steps": np.int64}
    kinds.update(diverging=np.bool_, reached_max_treedepth=np.bool_)
    for name, arr in output.sample_stats().items():
        dtype = kinds.get(name, np.float64)
        if arr.dtype != dtype or arr.shape != (n, n_out) or not arr.flags.c_contiguous:
            raise ValueError(
                f"output.{name} must be a C-contiguous {np.dtype(dtype).name} array of shape "
                f"{(n, n_out)}"
            )
    if output.draws.shape != (n, n_out, d) or not output.draws.flags.c_contiguous:
        raise ValueError(f"output.draws must be C-contiguous with shape {(n, n_out, d)}")
