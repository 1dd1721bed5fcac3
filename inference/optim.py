r"""Optimisers for SVI, with NumPyro's names and defaults (``numpyro.optim``).

The first-order optimisers (:class:`Adam`, :class:`ClippedAdam`, :class:`SGD`,
:class:`Momentum`, :class:`Adagrad`, :class:`RMSProp`) run inside the compiled SVI loop; their
update rules are written once, in :mod:`kernels.optimizers`. ``step_size`` is a number or a
schedule, a function of the step number :math:`t = 0, 1, \dots` returning the step size
(:func:`exponential_decay`, :func:`cosine_decay`, :func:`piecewise_constant`, or any Python
function: it is evaluated for every step before the compiled loop starts).

:class:`Minimize` is different: ``svi.run(seed, 1, ...)`` hands the whole optimisation to
SciPy's quasi-Newton minimisers (BFGS, L-BFGS-B) with the compiled loss and its exact
gradient, for deterministic guides (``AutoDelta``, ``AutoLaplaceApproximation``: MAP).

>>> import numpy as np
>>> schedule = exponential_decay(0.1, transition_steps=100, decay_rate=0.5)
>>> round(schedule(100), 6), round(schedule(200), 6)
(0.05, 0.025)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kernels import optimizers as _kernels

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "ClippedAdam",
    "Minimize",
    "Momentum",
    "Optimizer",
    "RMSProp",
    "cosine_decay",
    "exponential_decay",
    "piecewise_constant",
]

StepSize = float | Callable[[int], float]


class Optimizer:
    """A first-order optimiser: its rule (a code of :mod:`kernels.optimizers`), its step size
    and its hyperparameters."""

    kind: int = -1

    def __init__(self, step_size: StepSize, **hyper: float):
        if not callable(step_size):
            step_size = float(step_size)
            if not (math.isfinite(step_size) and step_size > 0):
                raise ValueError(f"{type(self).__name__}: step_size must be a positive number "
                                 f"or a schedule t -> step size, got {step_size!r}")
        self.step_size = step_size
        names = _kernels.HYPERPARAMETERS[self.kind]
        self.hyper = {n: float(hyper[n]) for n in names}

    def hyper_array(self) -> np.ndarray:
        """The hyperparameters in the order the compiled update reads them."""
        values = [self.hyper[n] for n in _kernels.HYPERPARAMETERS[self.kind]]
        return np.array(values or [0.0], dtype=np.float64)

    def step_sizes(self, first: int, count: int) -> np.ndarray:
        """The step sizes of steps ``first .. first + count - 1``."""
        if not callable(self.step_size):
            return np.full(count, self.step_size)
        sizes = np.array([float(self.step_size(t)) for t in range(first, first + count)])
        bad = np.flatnonzero(~(np.isfinite(sizes) & (sizes >= 0)))
        if bad.size:
            raise ValueError(f"{type(self).__name__}: the step-size schedule gave "
                             f"{sizes[bad[0]]!r} at step {first + int(bad[0])}; it must give "
                             "finite numbers >= 0")
        return sizes

    def __repr__(self) -> str:
        hyper = "".join(f", {k}={v}" for k, v in self.hyper.items())
        return f"{type(self).__name__}(step_size={self.step_size!r}{hyper})"


class SGD(Optimizer):
    r"""Gradient descent, :math:`x \leftarrow x - \eta g`."""

    kind = _kernels.SGD

    def __init__(self, step_size: StepSize):
        super().__init__(step_size)


class Momentum(Optimizer):
    r"""Gradient descent with momentum: :math:`v \leftarrow \text{mass}\,v + g`,
    :math:`x \leftarrow x - \eta v`."""

    kind = _kernels.MOMENTUM

    def __init__(self, step_size: StepSize, mass: float = 0.9):
        super().__init__(step_size, mass=mass)


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan and Singer 2011) with momentum, as ``numpyro.optim.Adagrad``."""

    kind = _kernels.ADAGRAD

    def __init__(self, step_size: StepSize, momentum: float = 0.9):
        super().__init__(step_size, momentum=momentum)


class RMSProp(Optimizer):
    """RMSProp (Tieleman and Hinton 2012), as ``numpyro.optim.RMSProp``."""

    kind = _kernels.RMSPROP

    def __init__(self, step_size: StepSize, gamma: float = 0.9, eps: float = 1e-8):
        super().__init__(step_size, gamma=gamma, eps=eps)


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015), as ``numpyro.optim.Adam``.

    >>> Adam(0.01)
    Adam(step_size=0.01, b1=0.9, b2=0.999, eps=1e-08)
    """

    kind = _kernels.ADAM

    def __init__(self, step_size: StepSize, b1: float = 0.9, b2: float = 0.999,
                 eps: float = 1e-8):
        super().__init__(step_size, b1=b1, b2=b2, eps=eps)


class ClippedAdam(Optimizer):
    """Adam on the gradient clipped elementwise to ``[-clip_norm, clip_norm]``, with the step
    size decayed by ``lrd ** t`` (``numpyro.optim.ClippedAdam``; ``lrd`` as in Pyro)."""

    kind = _kernels.CLIPPED_ADAM

    def __init__(self, step_size: StepSize = 1e-3, b1: float = 0.9, b2: float = 0.999,
                 eps: float = 1e-8, clip_norm: float = 10.0, lrd: float = 1.0):
        if clip_norm <= 0:
            raise ValueError(f"ClippedAdam: clip_norm must be > 0, got {clip_norm}")
        super().__init__(step_size, b1=b1, b2=b2, eps=eps, clip_norm=clip_norm, lrd=lrd)


class Minimize:
    """SciPy's quasi-Newton minimisation of the loss, run whole by ``svi.run(seed, 1, ...)``.

    Parameters: ``method`` (``"BFGS"`` as NumPyro's default, or ``"L-BFGS-B"``) and ``**kwargs``
    passed to :func:`scipy.optimize.minimize` (``tol``, ``options``). The loss must be
    deterministic (a guide without random draws, e.g. ``AutoDelta``); otherwise the noise is
    drawn once and held fixed.
    """

    def __init__(self, method: str = "BFGS", **kwargs: Any):
        if method not in ("BFGS", "L-BFGS-B"):
            raise ValueError(f"Minimize: method must be 'BFGS' or 'L-BFGS-B', got {method!r}")
        self.method = method
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Minimize(method={self.method!r})"


# --------------------------------------------------------------------------------------------
# Step-size schedules (functions of the step number t = 0, 1, ...)
# --------------------------------------------------------------------------------------------


def exponential_decay(init_value: float, transition_steps: int, decay_rate: float,
                      staircase: bool = False, end_value: float | None = None
                      ) -> Callable[[int], float]:
    r""":math:`\eta_t = \eta_0\, r^{t / T}` (``staircase``: :math:`r^{\lfloor t/T \rfloor}`),
    bounded by ``end_value`` if given (optax's ``exponential_decay``)."""
    if transition_steps <= 0:
        raise ValueError(f"exponential_decay: transition_steps must be > 0, got {transition_steps}")

    def schedule(t: int) -> float:
        power = t // transition_steps if staircase else t / transition_steps
        value = init_value * decay_rate ** power
        if end_value is not None:
            value = max(value, end_value) if decay_rate < 1 else min(value, end_value)
        return value

    return schedule


def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0
                 ) -> Callable[[int], float]:
    r""":math:`\eta_t = \eta_0 ((1-\alpha) \tfrac12 (1 + \cos(\pi \min(t, T)/T)) + \alpha)`
    (Loshchilov and Hutter 2017, without restarts; optax's ``cosine_decay_schedule``)."""
    if decay_steps <= 0:
        raise ValueError(f"cosine_decay: decay_steps must be > 0, got {decay_steps}")

    def schedule(t: int) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(t, decay_steps) / decay_steps))
        return init_value * ((1.0 - alpha) * cosine + alpha)

    return schedule


def piecewise_constant(boundaries: Sequence[int], values: Sequence[float]
                       ) -> Callable[[int], float]:
    """``values[0]`` before ``boundaries[0]``, ``values[k]`` from ``boundaries[k-1]`` on
    (``jax.example_libraries.optimizers.piecewise_constant``)."""
    boundaries, values = list(boundaries), list(values)
    if len(values) != len(boundaries) + 1:
        raise ValueError(f"piecewise_constant: need len(values) == len(boundaries) + 1, got "
                         f"{len(values)} values and {len(boundaries)} boundaries")

    def schedule(t: int) -> float:
        return values[int(np.searchsorted(boundaries, t, side="right"))]

    return schedule
