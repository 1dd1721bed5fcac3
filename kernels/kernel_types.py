"""The Numba types of the sampler's records, in which kernels declare their signatures.

A kernel that the driver calls as a function of its own declares the types it is called with
(:func:`kernels.jit.signature`) in the names of :class:`KernelTypes`: ``t.vector`` for a chain's
position, ``t.metric`` for its :class:`~kernels.metric.Metric`, ``t.row.dual_averaging`` for its
row of that state field, and so on. Every type here is ``numba.typeof`` of a small value built by
the same functions that build a real run's records (:func:`kernels.state.allocate_chain_state`,
:meth:`kernels.options.SamplerOptions.compile`, :func:`kernels.nuts_transition.nuts_workspace`,
...), and a chain's row of a state array is typed as what indexing the array gives, so a
declaration cannot drift from what the driver passes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numba
from numba.core import types

from kernels.integrators import phase_point
from kernels.metric import DIAG, Metric
from kernels.model_abi import Model
from kernels.nuts_transition import nuts_workspace
from kernels.options import SamplerOptions
from kernels.stan_adaptation import Welford
from kernels.state import TransitionStats, allocate_chain_state, allocate_output

__all__ = ["KernelTypes", "kernel_types"]


@dataclass(frozen=True)
class KernelTypes:
    """Numba types of the values that pass between the driver and its kernels.

    Attributes
    ----------
    f8, i8, boolean : scalars.
    vector : a chain's position, gradient or momentum (``float64[::1]``).
    rng : a chain's random stream (``uint64[::1]``).
    row : a chain's row of each :class:`~kernels.state.ChainState` field, by field name.
    model : :class:`~kernels.model_abi.Model`.
    metric : :class:`~kernels.metric.Metric` built from a chain's rows.
    welford : :class:`~kernels.stan_adaptation.Welford` built from a chain's rows.
    phase_point : :class:`~kernels.integrators.PhasePoint`.
    nuts_workspace : :class:`~kernels.nuts_transition.NutsWorkspace`.
    options : :class:`~kernels.options.DriverOptions`.
    schedule, schedule_flag : the warmup schedule and one of its flags.
    state, output : :class:`~kernels.state.ChainState`, :class:`~kernels.state.SampleOutput`.
    transition_stats : :class:`~kernels.state.TransitionStats`.
    step_size_search : the result of :func:`kernels.step_size.find_reasonable_step_size`.
    """

    f8: Any
    i8: Any
    boolean: Any
    vector: Any
    rng: Any
    row: SimpleNamespace
    model: Any
    metric: Any
    welford: Any
    phase_point: Any
    nuts_workspace: Any
    options: Any
    schedule: Any
    schedule_flag: Any
    state: Any
    output: Any
    transition_stats: Any
    step_size_search: Any


def _python(function: Any) -> Any:
    """The Python function behind a compiled one: a prototype is built without compiling (the
    first-run compile's two processes must never compile the same function)."""
    return getattr(function, "py_func", function)


@functools.cache
def kernel_types() -> KernelTypes:
    """The :class:`KernelTypes` of this process (built once, from one-chain prototypes).

    Examples
    --------
    >>> t = kernel_types()
    >>> t.vector == t.row.position == t.row.dual_averaging, t.schedule_flag
    (True, int8)
    >>> t.metric.fields
    ('kind', 'inv_diag', 'inv_dense', 'chol', 'lr_vecs', 'lr_vals')
    """
    state = allocate_chain_state(1, 1)
    rows = {name: array[0] for name, array in zip(state._fields, state)}
    options, schedule = SamplerOptions(num_warmup=1).compile(warn=False)
    typeof = numba.typeof
    return KernelTypes(
        f8=types.float64,
        i8=types.int64,
        boolean=types.boolean,
        vector=typeof(rows["position"]),
        rng=typeof(rows["rng"]),
        row=SimpleNamespace(**{name: typeof(row) for name, row in rows.items()}),
        model=typeof(Model(0, 0)),
        metric=typeof(Metric(DIAG, rows["inv_diag"], rows["inv_dense"], rows["chol"],
                             rows["lr_vecs"], rows["lr_vals"])),
        welford=typeof(Welford(rows["welford_count"], rows["welford_mean"],
                               rows["welford_m2_diag"], rows["welford_m2_dense"])),
        phase_point=typeof(_python(phase_point)(1)),
        nuts_workspace=typeof(_python(nuts_workspace)(1, 1)),
        options=typeof(options),
        schedule=typeof(schedule),
        schedule_flag=typeof(schedule[0]),
        state=typeof(state),
        output=typeof(allocate_output(1, 0, 1)),
        transition_stats=typeof(TransitionStats.prototype()),
        step_size_search=types.Tuple((types.float64, types.int64)),
    )
