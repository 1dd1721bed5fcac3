r"""Finite mixtures: ``MixtureSameFamily`` and ``MixtureGeneral`` (NumPyro's names).

With mixing weights :math:`w_k` (a categorical ``mixing_distribution``) and components
:math:`p_k`,

.. math:: \log p(x) = \log \sum_{k=1}^K w_k\, p_k(x)
                    = \operatorname{logsumexp}_k \big(\log w_k + \log p_k(x)\big),

computed with a stable log-sum-exp, so it differentiates in the weights and the component
parameters alike.  Draws pick a component index from the mixing distribution, then the
matching component draw.

>>> import numpy as np
>>> from ppl.distributions import Categorical, MixtureSameFamily, Normal
>>> d = MixtureSameFamily(Categorical(probs=np.array([0.5, 0.5])),
...                       Normal(np.array([-1.0, 1.0]), 1.0))
>>> d.batch_shape, d.event_shape
((), ())
>>> float(d.mean)
0.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import autodiff.numpy as anp
from autodiff.scipy.special import logsumexp
from ppl.distributions.base import Distribution

__all__ = ["Mixture", "MixtureGeneral", "MixtureSameFamily"]


def Mixture(mixing_distribution: Distribution,  # noqa: N802  (NumPyro's factory name)
            component_distributions: Distribution | Sequence[Distribution], *,
            validate_args: bool | None = None) -> Distribution:
    """A finite mixture, NumPyro's factory: a :class:`MixtureSameFamily` when
    ``component_distributions`` is one distribution (its last batch axis indexes the
    components), a :class:`MixtureGeneral` when it is a list of distributions.

    >>> import numpy as np
    >>> from ppl.distributions import Categorical, Mixture, Normal
    >>> type(Mixture(Categorical(probs=np.array([0.3, 0.7])), Normal(np.zeros(2), 1.0))).__name__
    'MixtureSameFamily'
    >>> type(Mixture(Categorical(probs=np.array([0.3, 0.7])),
    ...              [Normal(0.0, 1.0), Normal(1.0, 2.0)])).__name__
    'MixtureGeneral'
    """
    if isinstance(component_distributions, Distribution):
        return MixtureSameFamily(mixing_distribution, component_distributions,
                                 validate_args=validate_args)
    if not isinstance(component_distributions, (list, tuple)) or not all(
            isinstance(c, Distribution) for c in component_distributions):
        raise TypeError(
            "Mixture: component_distributions must be a Distribution (batched over components) "
            f"or a list of Distributions, got {type(component_distributions).__name__}")
    return MixtureGeneral(mixing_distribution, component_distributions,
                          validate_args=validate_args)


def _check_mixing(name: str, mixing: Distribution) -> int:
    """The number of components of a categorical mixing distribution."""
    if not (isinstance(mixing, Distribution) and mixing.is_discrete and mixing.event_dim == 0
            and mixing.has_enumerate_support):
        raise ValueError(
            f"{name}: mixing_distribution must be a Categorical-like distribution (discrete, "
            f"scalar events, enumerable), got {mixing!r}"
        )
    return int(np.shape(mixing.enumerate_support(expand=False))[0])


def _log_weights(mixing: Distribution):
    """:math:`\\log w_k`, shape ``mixing.batch_shape + (K,)``, from the mixing log-mass of each
    category (so it works for ``probs`` and ``logits`` parameterisations alike)."""
    values = mixing.enumerate_support(expand=False)  # (K,) + (1,) * batch rank
    return anp.moveaxis(mixing.log_prob(values), 0, -1)


def _select(draws: np.ndarray, index: np.ndarray, event_dim: int) -> np.ndarray:
    """``draws[..., index, *event]`` along the component axis (just before the event axes)."""
    index = np.asarray(index).reshape(np.shape(index) + (1,) * (event_dim + 1))
    picked = np.take_along_axis(draws, index, axis=draws.ndim - event_dim - 1)
    return np.squeeze(picked, axis=draws.ndim - event_dim - 1)


class MixtureSameFamily(Distribution):
    """A mixture whose components are the last batch axis of one ``component_distribution``.

    ``mixing_distribution`` is categorical over :math:`K` components, with a batch shape that
    broadcasts with ``component_distribution.batch_shape[:-1]``; the component distribution has
    batch shape ``(..., K)``.  The mixture has the component event shape.
    """

    arg_constraints: dict = {}

    def __init__(self, mixing_distribution: Distribution, component_distribution: Distribution,
                 *, validate_args=None):
        name = type(self).__name__
        k = _check_mixing(name, mixing_distribution)
        comp = component_distribution
        if not comp.batch_shape or comp.batch_shape[-1] != k:
            raise ValueError(
                f"{name}: component_distribution batch_shape {comp.batch_shape} must end in the "
                f"number of components {k} of the mixing distribution"
            )
        try:
            batch = tuple(np.broadcast_shapes(mixing_distribution.batch_shape,
                                              comp.batch_shape[:-1]))
        except ValueError:
            raise ValueError(
                f"{name}: mixing batch_shape {mixing_distribution.batch_shape} does not "
                f"broadcast with the component batch_shape {comp.batch_shape[:-1]} (without "
                "the component axis)"
            ) from None
        self.mixing_distribution = mixing_distribution
        self.component_distribution = comp
        self.num_components = k
        super().__init__(batch, comp.event_shape, validate_args)

    @property
    def support(self):
        return self.component_distribution.support

    def _component_log_prob(self, value):
        # Insert the component axis just before the event axes: value (..., 1, *event).
        value = anp.expand_dims(value, anp.ndim(value) - self.event_dim)
        return self.component_distribution.log_prob(value)

    def _log_prob(self, value):
        lp = anp.add(self._component_log_prob(value), _log_weights(self.mixing_distribution))
        return logsumexp(lp, axis=-1)

    def _sample(self, rng, shape):
        sample_shape = shape[: len(shape) - len(self.batch_shape) - self.event_dim]
        comp = self.component_distribution.expand(self.batch_shape + (self.num_components,))
        draws = np.asarray(comp.sample(rng, sample_shape))
        index = self.mixing_distribution.expand(self.batch_shape).sample(rng, sample_shape)
        return _select(draws, index, self.event_dim)

    def _weights(self):
        w = anp.exp(_log_weights(self.mixing_distribution))
        return anp.reshape(w, anp.shape(w) + (1,) * self.event_dim)

    @property
    def mean(self):
        return anp.sum(self._weights() * self.component_distribution.mean,
                       axis=-1 - self.event_dim)

    @property
    def variance(self):
        w, axis = self._weights(), -1 - self.event_dim
        m = self.component_distribution.mean
        second = anp.sum(w * (self.component_distribution.variance + m * m), axis=axis)
        return second - anp.square(anp.sum(w * m, axis=axis))


class MixtureGeneral(Distribution):
    """A mixture of a list of ``component_distributions`` (possibly of different families).

    The components share an event shape; their batch shapes and the mixing batch shape
    broadcast together to the mixture's batch shape.
    """

    arg_constraints: dict = {}

    def __init__(self, mixing_distribution: Distribution,
                 component_distributions: Sequence[Distribution], *, validate_args=None):
        name = type(self).__name__
        comps = list(component_distributions)
        k = _check_mixing(name, mixing_distribution)
        if len(comps) != k:
            raise ValueError(
                f"{name}: {len(comps)} component_distributions for a mixing distribution over "
                f"{k} components"
            )
        events = {c.event_shape for c in comps}
        if len(events) != 1:
            raise ValueError(f"{name}: components have different event shapes {sorted(events)}")
        shapes = [mixing_distribution.batch_shape] + [c.batch_shape for c in comps]
        try:
            batch = tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            raise ValueError(f"{name}: batch shapes {shapes} do not broadcast") from None
        self.mixing_distribution = mixing_distribution
        self.component_distributions = comps
        super().__init__(batch, comps[0].event_shape, validate_args)

    @property
    def support(self):
        return self.component_distributions[0].support

    def _log_prob(self, value):
        lps = [c.log_prob(value) for c in self.component_distributions]
        shape = np.broadcast_shapes(*(anp.shape(lp) for lp in lps))
        lp = anp.stack([anp.broadcast_to(lp, shape) for lp in lps], axis=-1)
        return logsumexp(anp.add(lp, _log_weights(self.mixing_distribution)), axis=-1)

    def _sample(self, rng, shape):
        sample_shape = shape[: len(shape) - len(self.batch_shape) - self.event_dim]
        full = sample_shape + self.batch_shape + self.event_shape
        draws = np.stack([np.broadcast_to(c.expand(self.batch_shape).sample(rng, sample_shape),
                                          full) for c in self.component_distributions],
                         axis=len(full) - self.event_dim)
        index = self.mixing_distribution.expand(self.batch_shape).sample(rng, sample_shape)
        return _select(draws, index, self.event_dim)

    def _stacked(self, attr):
        full = self.batch_shape + self.event_shape
        vals = [anp.broadcast_to(getattr(c, attr), full) for c in self.component_distributions]
        return anp.stack(vals, axis=len(full) - self.event_dim)

    def _weights(self):
        w = anp.exp(_log_weights(self.mixing_distribution))
        return anp.reshape(w, anp.shape(w) + (1,) * self.event_dim)

    @property
    def mean(self):
        return anp.sum(self._weights() * self._stacked("mean"), axis=-1 - self.event_dim)

    @property
    def variance(self):
        w, axis, m = self._weights(), -1 - self.event_dim, self._stacked("mean")
        second = anp.sum(w * (self._stacked("variance") + m * m), axis=axis)
        return second - anp.square(anp.sum(w * m, axis=axis))
