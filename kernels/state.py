r"""The sampler's records, declared once as tables: each chain's state and the per-draw output.

:data:`CHAIN_STATE_FIELDS` and :data:`OUTPUT_FIELDS` list every array the compiled driver
(:func:`kernels.sampler.advance_chain`) reads and writes: name, dtype, the shape that follows the
leading chain axis, what it holds. Everything else is derived from them:

* the record types :class:`ChainState` and :class:`SampleOutput` -- named tuples of arrays, which
  Numba passes to compiled code as one argument each (a chain reads ``state.position[c]``);
* their allocation (:func:`allocate_chain_state`, :func:`allocate_output`) and the check of a
  record built by hand (:func:`check_chain_state`, :func:`check_output`);
* the Numba types in which compiled kernels declare their signatures
  (:mod:`kernels.kernel_types`: a chain's row of every field), hence the first-run compile
  (:mod:`kernels.precompile`) and the kernels the driver calls by address
  (:mod:`kernels.entries`);
* :class:`TransitionStats`, what one transition reports: the output fields marked
  ``per_transition``, in table order.

Shapes are written with five symbols: ``"dim"`` (the model's dimension), ``"dense"`` (``dim``
for a dense mass matrix, 0 otherwise), and for ``mass_matrix_adaptation="low_rank"`` (0
otherwise) ``"low_rank"`` (``dim``), ``"rank"`` (the most eigenpairs kept,
``low_rank_max_rank``) and ``"window"`` (the rows of the estimator's ring buffers,
:func:`kernels.low_rank_adaptation.ring_rows`), so that the arrays a run never reads take
no memory; a ``low_rank`` argument below is the pair ``(rank, window)``
(:meth:`kernels.options.SamplerOptions.low_rank_sizes`), ``(0, 0)`` for the other metrics.

:func:`init_chain_state` builds the state of chains at their initial points (evaluating the model
there, with Stan's initial dual-averaging state), and :func:`random_initial_points` is Stan's
random initialisation.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.fisher_adaptation import FISHER_N_COUNTS, FISHER_N_ROWS
from kernels.jit import njit
from kernels.metric import cholesky_lower
from kernels.model_abi import evaluate
from kernels.rng import seed_streams, uniform
from kernels.status import MODEL_OK
from kernels.step_size import DA_SIZE, dual_averaging_init
from kernels.warmup_convergence import CONV_SIZE

__all__ = [
    "Field",
    "CHAIN_STATE_FIELDS",
    "OUTPUT_FIELDS",
    "ChainState",
    "SampleOutput",
    "TransitionStats",
    "allocate_chain_state",
    "allocate_output",
    "check_chain_state",
    "check_output",
    "init_chain_state",
    "random_initial_points",
    "record_transition",
]


@dataclass(frozen=True)
class Field:
    """One array of a record: ``(n_chains, *shape)`` of ``dtype``.

    Attributes
    ----------
    name : str
    dtype : numpy dtype
    shape : tuple
        The shape after the chain axis (and, for outputs, the draw axis): integers and the
        symbols ``"dim"``, ``"dense"``, ``"low_rank"``, ``"rank"`` and ``"window"`` (module
        docstring).
    doc : str
        What it holds.
    fill : float
        Its value in a new record (``allocate_*``).
    warmup_only : bool
        Chain state that only the warmup changes (a sampling-phase snapshot need not copy it).
    per_transition : bool
        An output a transition reports (a field of :class:`TransitionStats`).
    """

    name: str
    dtype: Any
    shape: tuple
    doc: str
    fill: float = 0.0
    warmup_only: bool = False
    per_transition: bool = False

    def concrete_shape(self, dim: int, dense: bool,
                       low_rank: tuple[int, int] = (0, 0)) -> tuple[int, ...]:
        """The shape with its symbols resolved (``low_rank``: ``(rank, window)``)."""
        if isinstance(low_rank, (bool, np.bool_)) or len(low_rank) != 2:
            raise TypeError(f"low_rank must be the pair (rank, window) of "
                            f"SamplerOptions.low_rank_sizes(dim), got {low_rank!r}")
        rank, window = (int(n) for n in low_rank)
        sizes = {"dim": dim, "dense": dim if dense else 0, "low_rank": dim if rank else 0,
                 "rank": rank, "window": window}
        return tuple(sizes.get(s, s) for s in self.shape)


_F8, _I8, _U8, _B1 = np.float64, np.int64, np.uint64, np.bool_

#: Each chain's state between iterations (one row per chain).
CHAIN_STATE_FIELDS = (
    Field("position", _F8, ("dim",), "the unconstrained position :math:`q`"),
    Field("logp", _F8, (), ":math:`\\log\\pi(q)`"),
    Field("grad", _F8, ("dim",), ":math:`\\nabla\\log\\pi(q)`"),
    Field("step_size", _F8, (), "the nominal (adapted) step size", 1.0, warmup_only=True),
    Field("inv_diag", _F8, ("dim",), "the diagonal inverse metric", 1.0, warmup_only=True),
    Field("inv_dense", _F8, ("dense", "dense"), "the dense inverse metric", warmup_only=True),
    Field("chol", _F8, ("dense", "dense"), "its lower Cholesky factor", warmup_only=True),
    Field("dual_averaging", _F8, (DA_SIZE,), "``[counter, s_bar, x_bar, mu]`` "
          "(:mod:`kernels.step_size`)", warmup_only=True),
    Field("welford_count", _F8, (1,), "draws in Stan's estimator (:mod:`kernels.stan_adaptation`)",
          warmup_only=True),
    Field("welford_mean", _F8, ("dim",), "their mean", warmup_only=True),
    Field("welford_m2_diag", _F8, ("dim",), "their sums of squared deviations",
          warmup_only=True),
    Field("welford_m2_dense", _F8, ("dense", "dense"), "their sums of outer products",
          warmup_only=True),
    Field("fisher_counts", _F8, (FISHER_N_COUNTS,), "nutpie's estimators' counts "
          "(:mod:`kernels.fisher_adaptation`)", warmup_only=True),
    Field("fisher_moments", _F8, (FISHER_N_ROWS, "dim"), "their moments of draws and gradients",
          warmup_only=True),
    Field("lr_vecs", _F8, ("rank", "low_rank"), "the low-rank metric's eigenvectors (rows; "
          ":mod:`kernels.metric`)", warmup_only=True),
    Field("lr_vals", _F8, ("rank",), "their eigenvalues, the used ones first, then ones",
          1.0, warmup_only=True),
    Field("lr_draws", _F8, ("window", "low_rank"), "the low-rank estimator's draws, a ring "
          "(:mod:`kernels.low_rank_adaptation`)", warmup_only=True),
    Field("lr_grads", _F8, ("window", "low_rank"), "and their gradients", warmup_only=True),
    Field("lr_added", _F8, (1,), "draws pushed into the ring so far", warmup_only=True),
    Field("warmup_used", _I8, (), "warmup iterations run (less than ``num_warmup`` when "
          "``early_stop_warmup`` ended it early: :mod:`kernels.warmup_convergence`)",
          warmup_only=True),
    Field("warmup_convergence", _F8, (CONV_SIZE,), "``[step size at the previous check, "
          "agreeing checks in a row, iteration the warmup ends at or 0]``", warmup_only=True),
    Field("convergence_ref", _F8, ("dim",), "the diagonal inverse metric at the previous check",
          warmup_only=True),
    Field("convergence_ref_vecs", _F8, ("rank", "low_rank"), "the low-rank metric's "
          "eigenvectors at the previous check", warmup_only=True),
    Field("convergence_ref_vals", _F8, ("rank",), "and their eigenvalues", 1.0,
          warmup_only=True),
    Field("rng", _U8, (4,), "the xoshiro256** stream (:mod:`kernels.rng`)"),
    Field("status", _I8, (), "a :mod:`kernels.status` chain code"),
)

#: What the driver writes per chain and kept draw; the statistics use ArviZ's ``sample_stats``
#: names.
OUTPUT_FIELDS = (
    Field("draws", _F8, ("dim",), "the unconstrained draw", np.nan),
    Field("lp", _F8, (), "its log density", np.nan, per_transition=True),
    Field("acceptance_rate", _F8, (), "Stan's ``accept_stat__``", np.nan, per_transition=True),
    Field("step_size", _F8, (), "the (jittered) step size used", np.nan),
    Field("tree_depth", _I8, (), "NUTS doublings (0 for static HMC)", per_transition=True),
    Field("n_steps", _I8, (), "leapfrog steps", per_transition=True),
    Field("diverging", _B1, (), "a leaf diverged", per_transition=True),
    Field("energy", _F8, (), ":math:`H` at the draw", np.nan, per_transition=True),
    Field("energy_error", _F8, (), ":math:`H - H_0` of the draw", np.nan, per_transition=True),
    Field("max_energy_error", _F8, (), "the largest :math:`|h - H_0|` of the trajectory (signed)",
          np.nan, per_transition=True),
    Field("reached_max_treedepth", _B1, (), "``tree_depth == max_tree_depth``"),
)


def _fields_doc(fields: tuple[Field, ...]) -> str:
    return "\n".join(f"    {f.name} : {np.dtype(f.dtype).name}{list(f.shape)}\n        {f.doc}"
                     for f in fields)


class ChainState(namedtuple("ChainState", [f.name for f in CHAIN_STATE_FIELDS])):
    __slots__ = ()

    def copy(self) -> ChainState:
        """A deep copy (e.g. to rerun from the same state)."""
        return ChainState(*(a.copy() for a in self))


ChainState.__doc__ = (
    "Every chain's state between iterations; each array's first axis is the chain "
    "(:data:`CHAIN_STATE_FIELDS`).\n\n    Attributes\n    ----------\n"
    + _fields_doc(CHAIN_STATE_FIELDS))


class SampleOutput(namedtuple("SampleOutput", [f.name for f in OUTPUT_FIELDS])):
    __slots__ = ()

    def sample_stats(self) -> dict[str, np.ndarray]:
        """The statistics keyed by their ArviZ ``sample_stats`` names (all but ``draws``)."""
        return {name: a for name, a in zip(self._fields, self) if name != "draws"}


SampleOutput.__doc__ = (
    "Per-draw outputs, ``(n_chains, n_draws, *shape)`` each (:data:`OUTPUT_FIELDS`).\n\n"
    "    Attributes\n    ----------\n" + _fields_doc(OUTPUT_FIELDS))

_TRANSITION_FIELDS = [f for f in OUTPUT_FIELDS if f.per_transition]


class TransitionStats(namedtuple("TransitionStats", [f.name for f in _TRANSITION_FIELDS])):
    __slots__ = ()

    @classmethod
    def prototype(cls) -> TransitionStats:
        """A value of the compiled type (zeros of each field's dtype)."""
        return cls(*(f.dtype(0) for f in _TRANSITION_FIELDS))


TransitionStats.__doc__ = (
    "What one transition reports: the log density of the state it selected and its "
    "statistics, named as the output fields they fill.\n\n    Attributes\n    ----------\n"
    + _fields_doc(tuple(_TRANSITION_FIELDS)))


@njit(inline="always")
def record_transition(output: SampleOutput, c: int, j: int, q: np.ndarray,
                      stats: TransitionStats, step_size: float,
                      reached_max_treedepth: bool) -> None:
    """Write chain ``c``'s draw ``q`` and its transition's statistics at output index ``j``
    (the one place a transition's row of :class:`SampleOutput` is filled: the NUTS/HMC driver
    and the many-chain kernels call it)."""
    for k in range(q.shape[0]):
        output.draws[c, j, k] = q[k]
    output.lp[c, j] = stats.lp
    output.acceptance_rate[c, j] = stats.acceptance_rate
    output.step_size[c, j] = step_size
    output.tree_depth[c, j] = stats.tree_depth
    output.n_steps[c, j] = stats.n_steps
    output.diverging[c, j] = stats.diverging
    output.energy[c, j] = stats.energy
    output.energy_error[c, j] = stats.energy_error
    output.max_energy_error[c, j] = stats.max_energy_error
    output.reached_max_treedepth[c, j] = reached_max_treedepth


# --------------------------------------------------------------------------------------------
# Allocation and checks, derived from the tables
# --------------------------------------------------------------------------------------------


def _allocate(fields, lead: tuple[int, ...], dim: int, dense: bool,
              low_rank: tuple[int, int] = (0, 0)) -> list[np.ndarray]:
    return [np.full(lead + f.concrete_shape(dim, dense, low_rank), f.fill, dtype=f.dtype)
            for f in fields]


def allocate_chain_state(n_chains: int, dim: int, dense: bool = False,
                         low_rank: tuple[int, int] = (0, 0)) -> ChainState:
    """A :class:`ChainState` of ``n_chains`` chains in ``dim`` dimensions with every array in
    its final dtype and shape, filled as the table says; nothing is evaluated
    (:func:`init_chain_state` does that)."""
    return ChainState(*_allocate(CHAIN_STATE_FIELDS, (n_chains,), dim, dense, low_rank))


def allocate_output(n_chains: int, n_draws: int, dim: int) -> SampleOutput:
    """A :class:`SampleOutput` for ``n_draws`` draws per chain (floats NaN, others zero)."""
    return SampleOutput(*_allocate(OUTPUT_FIELDS, (n_chains, n_draws), dim, False))


def _check(record, fields, lead: tuple[int, ...], dim: int, dense: bool, what: str,
           low_rank: tuple[int, int] = (0, 0)) -> None:
    for field, array in zip(fields, record):
        shape = lead + field.concrete_shape(dim, dense, low_rank)
        if not isinstance(array, np.ndarray) or array.dtype != field.dtype or (
                array.shape != shape or not array.flags.c_contiguous):
            got = (f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray)
                   else type(array).__name__)
            raise ValueError(
                f"{what}.{field.name} must be a C-contiguous {np.dtype(field.dtype).name} array "
                f"of shape {shape}, got {got}")


def check_chain_state(state: ChainState, dense: bool, low_rank: tuple[int, int] = (0, 0)) -> None:
    """Raise a ValueError naming the first array of ``state`` whose dtype, shape or layout is
    not the table's (the chains and dimension are read from ``state.position``)."""
    if not isinstance(state, ChainState):
        raise TypeError(f"state must be a kernels.state.ChainState, got {type(state).__name__}")
    n, d = np.shape(state.position) if np.ndim(state.position) == 2 else (-1, -1)
    _check(state, CHAIN_STATE_FIELDS, (n,), d, dense, "state", low_rank)


def check_output(output: SampleOutput, n_chains: int, dim: int) -> None:
    """Raise a ValueError naming the first array of ``output`` that does not fit ``n_chains``
    chains in ``dim`` dimensions (the number of draws is read from ``output.draws``)."""
    if not isinstance(output, SampleOutput):
        raise TypeError(f"output must be a kernels.state.SampleOutput, "
                        f"got {type(output).__name__}")
    n_draws = np.shape(output.draws)[1] if np.ndim(output.draws) == 3 else -1
    _check(output, OUTPUT_FIELDS, (n_chains, n_draws), dim, False, "output")


# --------------------------------------------------------------------------------------------
# Initial state
# --------------------------------------------------------------------------------------------


def init_chain_state(
    address: int,
    data_ptr: int,
    initial_positions: np.ndarray,
    seed: int,
    dense_mass: bool = False,
    step_size: float = 1.0,
    inverse_mass_matrix: np.ndarray | None = None,
    first_chain: int = 0,
    rng: np.ndarray | None = None,
    low_rank: tuple[int, int] = (0, 0),
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
    dense_mass : bool
        A dense inverse metric (must match the options the chains run with).
    step_size : float
        Initial nominal step size (Stan: 1); dual averaging's :math:`\\mu` is set to
        :math:`\\log(10 \\cdot` ``step_size``:math:`)`.
    inverse_mass_matrix : array, optional
        Initial inverse metric: ``(d,)`` or ``(C, d)`` (diagonal), ``(d, d)`` or ``(C, d, d)``
        (dense); identity by default.
    first_chain : int
        Global index of the first chain (for the random streams).
    rng : array, optional
        Explicit ``(C, 4)`` ``uint64`` stream states (e.g. after :func:`random_initial_points`).
    low_rank : (int, int)
        ``(rank, window)`` of the arrays of ``mass_matrix_adaptation="low_rank"``: the options'
        :meth:`~kernels.options.SamplerOptions.low_rank_sizes`; ``(0, 0)`` for the other
        metrics.
    """
    q0 = np.array(initial_positions, dtype=np.float64, order="C", copy=True)
    if q0.ndim != 2 or q0.shape[1] < 1:
        raise ValueError(f"initial_positions must have shape (n_chains, dim >= 1), got {q0.shape}")
    n, d = q0.shape
    state = allocate_chain_state(n, d, dense_mass, low_rank)
    for c in range(n):
        status, lp = evaluate(int(address), int(data_ptr), q0[c], state.grad[c])
        if status != MODEL_OK:
            raise ValueError(
                f"chain {c}: the log density or its gradient is not finite at the initial point "
                f"(model status {status}, logp {lp})"
            )
        state.logp[c] = lp
    state.position[:] = q0
    state.step_size[:] = float(step_size)
    if dense_mass:
        m = np.eye(d) if inverse_mass_matrix is None else np.asarray(inverse_mass_matrix, float)
        state.inv_dense[:] = np.broadcast_to(m, (n, d, d))
        for c in range(n):
            if not cholesky_lower(state.inv_dense[c], state.chol[c]):
                raise ValueError(f"chain {c}: the inverse mass matrix is not positive definite")
    elif inverse_mass_matrix is not None:
        state.inv_diag[:] = np.broadcast_to(np.asarray(inverse_mass_matrix, float), (n, d))
        if not np.all(state.inv_diag > 0) or not np.all(np.isfinite(state.inv_diag)):
            raise ValueError("the diagonal inverse mass matrix must be positive and finite")
    for c in range(n):
        dual_averaging_init(state.dual_averaging[c], float(step_size))
    state.rng[:] = seed_streams(seed, n, first_chain) if rng is None else np.asarray(rng)
    return state


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
            if status == MODEL_OK:
                tries[c] = t + 1
                break
    return tries
