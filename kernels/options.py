r"""The sampler's options: :class:`SamplerOptions` (NumPyro's names, validated once) and the
:class:`DriverOptions` record the compiled driver reads.

:class:`SamplerOptions` holds every option of a NUTS or static HMC run with Stan's defaults and
NumPyro's names (``target_accept_prob``, ``max_tree_depth``, ``max_energy_error``,
``dense_mass``, ``inverse_mass_matrix``...); it checks them when it is made, so a bad value is
reported where the user wrote it. :meth:`SamplerOptions.compile` turns it into what compiled code
needs: a :class:`DriverOptions` named tuple of numbers (strings become the codes below) and the
warmup schedule, one flag byte per warmup iteration, from Stan's windows
(:func:`kernels.stan_adaptation.warmup_schedule`) or nutpie's switches
(:func:`kernels.fisher_adaptation.fisher_schedule`).

Static HMC takes ``num_steps`` leapfrog steps, or, with ``num_steps=None``,
``max(1, int(trajectory_length / step_size))`` with the adapted nominal step size.

With ``mass_matrix_adaptation="fisher"`` (diagonal only) the metric starts at
:math:`1/|\nabla\log\pi(x_0)|` unless an ``inverse_mass_matrix`` is given; so does
``"low_rank"`` (nutpie's diagonal-plus-low-rank metric, :mod:`kernels.low_rank_adaptation`, on
nutpie's schedule with :data:`kernels.low_rank_adaptation.UPDATE` flags every
``low_rank_update_freq`` iterations).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import NamedTuple

import numpy as np

from kernels.fisher_adaptation import fisher_schedule
from kernels.low_rank_adaptation import (
    DEFAULT_MAX_RANK,
    DEFAULT_UPDATE_FREQ,
    DEFAULT_WINDOW,
    low_rank_schedule,
    ring_rows,
)
from kernels.stan_adaptation import warmup_schedule

__all__ = [
    "ALGORITHMS",
    "MASS_MATRIX_ADAPTATIONS",
    "DEFAULT_MASS_MATRIX_ADAPTATION",
    "SamplerOptions",
    "DriverOptions",
]

#: ``algorithm`` values and their codes in :attr:`DriverOptions.algorithm`.
ALGORITHMS = {"nuts": 0, "hmc": 1}
#: ``mass_matrix_adaptation`` values and their codes in
#: :attr:`DriverOptions.mass_matrix_adaptation`.
MASS_MATRIX_ADAPTATIONS = {"stan": 0, "fisher": 1, "low_rank": 2}
#: ``mass_matrix_adaptation`` by default.
DEFAULT_MASS_MATRIX_ADAPTATION = "stan"


class DriverOptions(NamedTuple):
    """The options as :func:`kernels.sampler.advance_chain` reads them (one compiled type).

    Built by :meth:`SamplerOptions.compile`; the fields are those of :class:`SamplerOptions`
    with strings as codes, ``num_steps`` and ``trajectory_length`` resolved (a fixed number of
    steps has ``trajectory_length = 0``) and ``init_metric_from_gradient`` derived.
    """

    algorithm: int
    dense_mass: bool
    num_warmup: int
    max_tree_depth: int
    num_steps: int
    trajectory_length: float
    max_energy_error: float
    jitter: float
    adapt_step_size: bool
    adapt_mass_matrix: bool
    mass_matrix_adaptation: int
    init_metric_from_gradient: bool
    early_stop_warmup: bool
    target_accept_prob: float
    gamma: float
    kappa: float
    t0: float


@dataclasses.dataclass(frozen=True, eq=False)
class SamplerOptions:
    """Options of a NUTS or static HMC run, with Stan's defaults (checked when made).

    Attributes
    ----------
    algorithm : {"nuts", "hmc"}
    num_warmup : int
        Warmup iterations (the schedule's length).
    step_size : float
        Initial step size (the start of the step-size search).
    inverse_mass_matrix : array, optional
        Initial inverse mass matrix, ``(dim,)`` or ``(dim, dim)`` with ``dense_mass``; the
        identity by default (or :math:`1/|\\nabla\\log\\pi(x_0)|` with nutpie's adaptation).
    dense_mass : bool
        A dense (full covariance) mass matrix.
    adapt_step_size, adapt_mass_matrix : bool
        Tune the step size (dual averaging) and estimate the mass matrix during warmup.
    mass_matrix_adaptation : {"stan", "fisher", "low_rank"}
        Stan's windowed (co)variance of the draws (:mod:`kernels.stan_adaptation`: windows
        ``init_buffer``, ``base_window``, ``term_buffer``), nutpie's diagonal estimate from
        draws and gradients (:mod:`kernels.fisher_adaptation`: ``early_window``,
        ``step_size_window``, ``early_switch_freq``, ``switch_freq``, ``window_growth``), or
        nutpie's diagonal plus low-rank metric on the same schedule
        (:mod:`kernels.low_rank_adaptation`, also ``low_rank_update_freq``,
        ``low_rank_max_rank`` and ``low_rank_window``);
        ``None`` means :data:`DEFAULT_MASS_MATRIX_ADAPTATION`.
    target_accept_prob : float
        Dual averaging's target :math:`\\delta` (Stan's ``adapt_delta``).
    gamma, kappa, t0 : float
        Dual averaging's other constants (Stan: 0.05, 0.75, 10).
    max_tree_depth : int
        NUTS: at most :math:`2^{\\text{max\\_tree\\_depth}} - 1` leapfrog steps.
    max_energy_error : float
        A leapfrog step whose energy error exceeds it diverges (Stan: 1000).
    num_steps : int, optional
        Static HMC: leapfrog steps per transition; ``None``: from ``trajectory_length``.
    trajectory_length : float
        Static HMC: integration time when ``num_steps`` is ``None``.
    jitter : float
        Relative step-size jitter in ``[0, 1]`` (Stan's ``stepsize_jitter``).
    low_rank_max_rank : int
        ``"low_rank"``: the most eigenpairs of the correction kept (those furthest from 1 in
        :math:`|\\log\\lambda|`); a leapfrog step costs :math:`O(d)` times it.
    low_rank_window : int
        ``"low_rank"``: the low-rank part is estimated from at most this many of the window's
        latest draws (the diagonal from all of them); a chain keeps them and their gradients.
    early_stop_warmup : bool
        End the warmup when the adaptation has converged (:mod:`kernels.warmup_convergence`;
        ``num_warmup`` is then the upper bound); with ``mass_matrix_adaptation="fisher"`` or
        ``"low_rank"``.

    Examples
    --------
    >>> options = SamplerOptions(num_warmup=500, target_accept_prob=0.9)
    >>> driver, schedule = options.compile()
    >>> driver.max_tree_depth, driver.target_accept_prob, schedule.shape
    (10, 0.9, (500,))
    >>> SamplerOptions(target_accept_prob=1.5)
    Traceback (most recent call last):
    ...
    ValueError: target_accept_prob must be in (0, 1), got 1.5; the usual choice is 0.8
    """

    algorithm: str = "nuts"
    num_warmup: int = 1000
    step_size: float = 1.0
    inverse_mass_matrix: np.ndarray | None = None
    dense_mass: bool = False
    adapt_step_size: bool = True
    adapt_mass_matrix: bool = True
    mass_matrix_adaptation: str = DEFAULT_MASS_MATRIX_ADAPTATION
    target_accept_prob: float = 0.8
    gamma: float = 0.05
    kappa: float = 0.75
    t0: float = 10.0
    max_tree_depth: int = 10
    max_energy_error: float = 1000.0
    num_steps: int | None = None
    trajectory_length: float = 2.0 * math.pi
    jitter: float = 0.0
    init_buffer: int = 75
    term_buffer: int = 50
    base_window: int = 25
    early_window: float = 0.3
    step_size_window: float = 0.15
    early_switch_freq: int = 10
    switch_freq: int = 80
    window_growth: float = 1.5
    low_rank_update_freq: int = DEFAULT_UPDATE_FREQ
    low_rank_max_rank: int = DEFAULT_MAX_RANK
    low_rank_window: int = DEFAULT_WINDOW
    early_stop_warmup: bool = False

    def __post_init__(self) -> None:
        if self.mass_matrix_adaptation is None:  # NUTS(..., mass_matrix_adaptation=None)
            object.__setattr__(self, "mass_matrix_adaptation", DEFAULT_MASS_MATRIX_ADAPTATION)
        _choice("algorithm", self.algorithm, ALGORITHMS)
        _choice("mass_matrix_adaptation", self.mass_matrix_adaptation, MASS_MATRIX_ADAPTATIONS)
        if self.mass_matrix_adaptation in ("fisher", "low_rank") and self.dense_mass:
            kind = {"fisher": "diagonal", "low_rank": "diagonal plus low-rank"}
            raise ValueError(
                f"mass_matrix_adaptation={self.mass_matrix_adaptation!r} estimates a "
                f"{kind[self.mass_matrix_adaptation]} mass matrix only: use dense_mass=False, "
                f"or mass_matrix_adaptation='stan' for a dense mass matrix")
        _integer(self, "low_rank_update_freq", 1)
        _integer(self, "low_rank_max_rank", 1)
        _integer(self, "low_rank_window", 2)
        if self.early_stop_warmup and self.mass_matrix_adaptation == "stan":
            raise ValueError(
                "early_stop_warmup=True needs nutpie's adaptation, which re-estimates the "
                "metric often enough to see it converge: use mass_matrix_adaptation='fisher' or "
                "'low_rank', or early_stop_warmup=False with 'stan'")
        _integer(self, "num_warmup", 0)
        _integer(self, "max_tree_depth", 1, 30)
        if self.num_steps is not None:
            _integer(self, "num_steps", 1)
        elif self.algorithm == "hmc":
            _positive("trajectory_length", self.trajectory_length)
        _positive("step_size", self.step_size)
        _positive("max_energy_error", self.max_energy_error)
        if not 0.0 < float(self.target_accept_prob) < 1.0:
            raise ValueError(f"target_accept_prob must be in (0, 1), got "
                             f"{self.target_accept_prob!r}; the usual choice is 0.8")
        if not 0.0 <= float(self.jitter) <= 1.0:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter!r}")
        if self.inverse_mass_matrix is not None:
            object.__setattr__(self, "inverse_mass_matrix",
                               _inverse_mass_matrix(self.inverse_mass_matrix, self.dense_mass))

    @property
    def low_rank(self) -> bool:
        """Whether the chains' state holds the low-rank metric's arrays."""
        return self.mass_matrix_adaptation == "low_rank"

    def low_rank_sizes(self, dim: int) -> tuple[int, int]:
        """``(rank, window)`` of the low-rank arrays of a chain's state in ``dim`` dimensions
        (:mod:`kernels.state`), ``(0, 0)`` for the other metrics.

        Examples
        --------
        >>> SamplerOptions(mass_matrix_adaptation="low_rank").low_rank_sizes(500)
        (8, 471)
        >>> SamplerOptions(mass_matrix_adaptation="low_rank", num_warmup=100).low_rank_sizes(5)
        (5, 66)
        >>> SamplerOptions(mass_matrix_adaptation="stan").low_rank_sizes(500)
        (0, 0)
        """
        if not self.low_rank:
            return (0, 0)
        window = (ring_rows(self._schedule(warn=False), self.low_rank_window)
                  if self.adapt_mass_matrix else 0)
        return (min(self.low_rank_max_rank, int(dim)), window)

    def replace(self, **changes) -> SamplerOptions:
        """A copy with ``changes`` (checked like a new one)."""
        return dataclasses.replace(self, **changes)

    def compile(self, warn: bool = True) -> tuple[DriverOptions, np.ndarray]:
        """``(DriverOptions, schedule)`` for :func:`kernels.sampler.run`.

        ``warn`` is passed to :func:`kernels.stan_adaptation.warmup_schedule` (a notice when the
        warmup is too short for Stan's windows).
        """
        fixed_steps = self.num_steps is not None
        values = {name: getattr(self, name, None) for name in DriverOptions._fields}
        values.update(
            algorithm=ALGORITHMS[self.algorithm],
            mass_matrix_adaptation=MASS_MATRIX_ADAPTATIONS[self.mass_matrix_adaptation],
            num_steps=self.num_steps if fixed_steps else 1,
            trajectory_length=0.0 if fixed_steps else self.trajectory_length,
            # nutpie starts from the gradient unless the user gave an initial mass matrix
            init_metric_from_gradient=self.inverse_mass_matrix is None,
        )
        # each value as its annotation's Python type, which Numba types as int64, float64 or
        # boolean: the record's compiled type never changes
        kinds = typing.get_type_hints(DriverOptions)
        driver = DriverOptions(**{name: kinds[name](value) for name, value in values.items()})
        return driver, self._schedule(warn)

    def _schedule(self, warn: bool) -> np.ndarray:
        n = int(self.num_warmup)
        if self.adapt_mass_matrix and self.low_rank:
            return low_rank_schedule(n, self.low_rank_update_freq, early_window=self.early_window,
                                     step_size_window=self.step_size_window,
                                     early_switch_freq=self.early_switch_freq,
                                     switch_freq=self.switch_freq,
                                     window_growth=self.window_growth)
        if self.adapt_mass_matrix and self.mass_matrix_adaptation == "fisher":
            return fisher_schedule(n, self.early_window, self.step_size_window,
                                   self.early_switch_freq, self.switch_freq, self.window_growth)
        if self.adapt_mass_matrix and n > 0:
            return warmup_schedule(n, self.init_buffer, self.term_buffer, self.base_window,
                                   warn=warn)
        return np.zeros(n, dtype=np.int8)


def _choice(name: str, value: str, allowed: dict) -> None:
    if value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {names}; got {value!r}")


def _integer(options: SamplerOptions, name: str, low: int, high: int | None = None) -> None:
    """Check that option ``name`` is a whole number in ``[low, high]``; store it as an int."""
    value = getattr(options, name)
    whole = isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(
        value, bool) and math.isfinite(value) and int(value) == value
    if not whole or value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    object.__setattr__(options, name, int(value))


def _positive(name: str, value) -> None:
    if not (float(value) > 0.0 and math.isfinite(float(value))):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _inverse_mass_matrix(m, dense: bool) -> np.ndarray:
    m = np.array(m, dtype=np.float64)
    want = 2 if dense else 1
    if m.ndim != want or (dense and m.shape[0] != m.shape[1]):
        kind = "(dim, dim) with dense_mass=True" if dense else "(dim,) with dense_mass=False"
        raise ValueError(f"inverse_mass_matrix must have shape {kind}, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("inverse_mass_matrix has non-finite entries")
    return m
