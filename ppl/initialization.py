r"""Initialisation strategies with NumPyro's names: where chains and guides start.

A strategy is a function ``site -> constrained value`` called for each latent continuous
sample site (a :class:`~ppl.runtime.Message` whose ``rng`` is the generator of the run);
called without a site it returns itself with its options bound, so that both
``init_strategy=init_to_median`` and ``init_strategy=init_to_median(num_samples=50)`` work, as
in NumPyro. ``NUTS``, ``HMC`` and the autoguides accept them; the strings ``"uniform"`` and
``"median"`` and a dict of values are shorthands for :func:`init_to_uniform`,
:func:`init_to_median` and :func:`init_to_value`.

>>> import numpy as np
>>> from ppl import dist
>>> from ppl.runtime import Message
>>> site = Message(type="sample", name="s", fn=dist.LogNormal(0.0, 1.0),
...                rng=np.random.default_rng(0))
>>> first = init_to_median(site)  # 15 prior draws by default
>>> site.rng = np.random.default_rng(0)
>>> bool(first == init_to_median(num_samples=15)(site))
True
>>> float(init_to_feasible(site))  # exp(0): the transform of the origin
1.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ppl.runtime import Message
from ppl.transforms import biject_to

__all__ = [
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
    "resolve_strategy",
    "uniform_radius",
]

Strategy = Callable[[Message], Any]


def _unconstrained_shape(site: Message) -> tuple[tuple[int, ...], Any]:
    transform = biject_to(site.fn.support)
    shape = site.fn.shape(site.kwargs.get("sample_shape", ()))
    return tuple(transform.inverse_shape(shape)), transform


def init_to_uniform(site: Message | None = None, radius: float = 2.0) -> Any:
    """``biject_to(support)(u)`` with ``u`` uniform in ``(-radius, radius)`` on the
    unconstrained scale (Stan's default, with ``radius = 2``)."""
    if site is None:
        return functools.partial(init_to_uniform, radius=radius)
    shape, transform = _unconstrained_shape(site)
    return np.asarray(transform(site.rng.uniform(-radius, radius, shape)))


def init_to_feasible(site: Message | None = None) -> Any:
    """``biject_to(support)(0)``: a point inside the support, the same for every chain."""
    if site is None:
        return init_to_feasible
    shape, transform = _unconstrained_shape(site)
    return np.asarray(transform(np.zeros(shape)))


def init_to_median(site: Message | None = None, num_samples: int = 15) -> Any:
    """The elementwise median of ``num_samples`` draws from the site's prior (falls back to
    :func:`init_to_uniform` for a distribution that cannot be sampled, e.g. improper)."""
    if site is None:
        return functools.partial(init_to_median, num_samples=num_samples)
    try:
        draws = site.fn.sample(site.rng, (int(num_samples),) + tuple(
            site.kwargs.get("sample_shape", ())))
    except NotImplementedError:
        return init_to_uniform(site)
    return np.median(np.asarray(draws, dtype=float), axis=0)


def init_to_sample(site: Message | None = None) -> Any:
    """One draw from the site's prior (falls back to :func:`init_to_uniform`)."""
    if site is None:
        return init_to_sample
    try:
        return np.asarray(site.fn.sample(site.rng, tuple(site.kwargs.get("sample_shape", ()))))
    except NotImplementedError:
        return init_to_uniform(site)


def init_to_mean(site: Message | None = None) -> Any:
    """The prior mean where it is finite (falls back to :func:`init_to_median`)."""
    if site is None:
        return init_to_mean
    try:
        mean = np.broadcast_to(np.asarray(site.fn.mean, dtype=float),
                               site.fn.shape(site.kwargs.get("sample_shape", ())))
    except (NotImplementedError, AttributeError):
        return init_to_median(site)
    return mean if np.all(np.isfinite(mean)) else init_to_median(site)


def init_to_value(site: Message | None = None, values: Mapping[str, Any] | None = None) -> Any:
    """The given constrained value for sites in ``values``; :func:`init_to_uniform` for the
    others."""
    if site is None:
        return functools.partial(init_to_value, values=dict(values or {}))
    if values and site.name in values:
        return np.asarray(values[site.name], dtype=float)
    return init_to_uniform(site)


def uniform_radius(strategy: Strategy) -> float | None:
    """The radius if ``strategy`` is :func:`init_to_uniform` (then a point can be drawn on the
    unconstrained scale directly, without running the model), else None."""
    if strategy is init_to_uniform:
        return 2.0
    if isinstance(strategy, functools.partial) and strategy.func is init_to_uniform:
        return float(strategy.keywords.get("radius", 2.0))
    return None


def resolve_strategy(strategy: str | Mapping[str, Any] | Strategy) -> Strategy:
    """A strategy function from a name (``"uniform"``, ``"median"``, ``"sample"``,
    ``"feasible"``, ``"mean"``), a dict of constrained values, or a strategy function."""
    named = {"uniform": init_to_uniform, "median": init_to_median, "sample": init_to_sample,
             "feasible": init_to_feasible, "mean": init_to_mean}
    if isinstance(strategy, str) and strategy in named:
        return named[strategy]
    if isinstance(strategy, Mapping):
        return init_to_value(values=strategy)
    if callable(strategy):
        return strategy
    raise ValueError(
        f"init strategy must be one of {sorted(named)}, a dict of initial values, or an "
        f"init_to_* function, got {strategy!r}")
