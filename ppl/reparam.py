r"""Reparameterisers for :class:`ppl.handlers.reparam`: same model, better geometry.

A reparameteriser is called as ``r(name, fn, obs) -> (new_fn, value)`` by the ``reparam``
handler for each site it is configured for.  Both here replace a latent site ``x`` by an
auxiliary latent site with a simpler distribution and make ``x`` a deterministic function of
it, which changes the space the sampler moves in but not the model:

* :class:`LocScaleReparam` (non-centring): for :math:`x \sim F(\mu, \sigma)` of a
  location-scale family, sample :math:`\tilde x \sim F(0, 1)` as ``x_decentered`` and set
  :math:`x = \mu + \sigma \tilde x`.  Removes the funnel of hierarchical models
  (Papaspiliopoulos, Roberts & Sköld, "A general framework for the parametrization of
  hierarchical models", Statistical Science 2007).
* :class:`TransformReparam`: for :math:`x \sim T_\#B` (a ``TransformedDistribution``), sample
  the base :math:`u \sim B` as ``x_base`` and set :math:`x = T(u)`.

Following Gorinova, Moore & Hoffman, "Automatic Reparameterisation of Probabilistic Programs"
(ICML 2020) and NumPyro's ``numpyro.infer.reparam``.

>>> import ppl
>>> from ppl import dist, handlers
>>> def model():
...     mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
...     tau = ppl.sample("tau", dist.HalfCauchy(5.0))
...     with ppl.plate("school", 8):
...         return ppl.sample("theta", dist.Normal(mu, tau))
>>> nc = handlers.reparam(model, config={"theta": LocScaleReparam()})
>>> tr = handlers.trace(handlers.seed(nc, 0)).get_trace()
>>> tr["theta_decentered"].type, tr["theta"].type, tr["theta_decentered"].fn.batch_shape
('sample', 'deterministic', (8,))
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
from ppl.errors import SiteError
from ppl.primitives import sample
from ppl.runtime import concrete_value

__all__ = ["LocScaleReparam", "Reparam", "TransformReparam"]

#: Location-scale families: X = loc + scale * Z with Z ~ F(0, 1) (other parameters fixed).
LOC_SCALE_FAMILIES = ("Normal", "StudentT", "Cauchy", "Laplace", "Logistic", "Gumbel", "SkewNormal")


def _wrappers() -> tuple[type, ...]:
    from ppl.distributions import ExpandedDistribution, Independent

    return ExpandedDistribution, Independent


class Reparam:
    """Base class: ``__call__(name, fn, obs) -> (new_fn, value)``, plus shape helpers."""

    def __call__(self, name: str, fn: Any, obs: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    @staticmethod
    def _unwrap(fn: Any) -> Any:
        """The distribution inside the ``expand``/``to_event`` wrappers that plates add."""
        wrappers = _wrappers()
        while isinstance(fn, wrappers):
            fn = fn.base_dist
        return fn

    @staticmethod
    def _wrap(new: Any, outer: Any, inner: Any) -> Any:
        """Give ``new`` (shaped like ``inner``) the batch and event shapes of ``outer``."""
        reinterpreted = outer.event_dim - inner.event_dim
        full_batch = tuple(outer.batch_shape) + tuple(outer.event_shape[:reinterpreted])
        new = new.expand(full_batch)
        return new.to_event(reinterpreted) if reinterpreted else new

    @staticmethod
    def _latent_only(name: str, obs: Any, what: str) -> None:
        if obs is not None:
            raise SiteError(
                name,
                f"{what} applies to latent sites only, but this site is observed",
                "remove the site from the reparam config",
            )


class LocScaleReparam(Reparam):
    r"""Non-centre (or partially centre) a location-scale site :math:`x \sim F(\mu, \sigma)`.

    With centring :math:`c \in [0, 1]` the auxiliary site ``<name>_decentered`` is
    :math:`\tilde x \sim F(c\mu, \sigma^c)` and

    .. math:: x = \mu + \sigma^{1-c}\,(\tilde x - c\mu),

    which has the law :math:`F(\mu, \sigma)` for every :math:`c`: :math:`c = 0` is the fully
    non-centred :math:`x = \mu + \sigma\tilde x`, :math:`\tilde x \sim F(0, 1)`; :math:`c = 1`
    leaves the site unchanged.  Other parameters of the family (``df`` of StudentT, ``alpha``
    of SkewNormal) are carried over unchanged.

    Parameters
    ----------
    centered : float or array in [0, 1], or None.  ``None`` means fully non-centred (0.0); unlike
        NumPyro, ``None`` does *not* create a learnable centring parameter.
    shape_params : extra parameter names to carry over (those in the family's
        ``arg_constraints`` other than ``loc``/``scale`` are carried over automatically).

    Works for ``Normal, StudentT, Cauchy, Laplace, Logistic, Gumbel, SkewNormal`` (also when
    expanded by plates or wrapped by ``to_event``).
    """

    def __init__(self, centered: Any = None, shape_params: tuple[str, ...] = ()):
        if centered is not None:
            value = concrete_value(centered)
            if value is not None and not np.all((value >= 0) & (value <= 1)):
                raise ValueError(
                    f"LocScaleReparam: centered must lie in [0, 1] (0 = non-centred, 1 = "
                    f"centred), got {centered!r}"
                )
        self.centered = centered
        self.shape_params = tuple(shape_params)

    def _is(self, value: float) -> bool:
        """Whether ``centered`` is the constant ``value`` (so that no arithmetic is staged)."""
        c = 0.0 if self.centered is None else self.centered
        concrete = concrete_value(c)
        return concrete is not None and concrete.ndim == 0 and float(concrete) == value

    def __call__(self, name: str, fn: Any, obs: Any) -> tuple[Any, Any]:
        self._latent_only(name, obs, "LocScaleReparam")
        if self._is(1.0):
            return fn, None
        base = self._unwrap(fn)
        if type(base).__name__ not in LOC_SCALE_FAMILIES:
            raise SiteError(
                name,
                f"LocScaleReparam needs a location-scale distribution, got {type(base).__name__}",
                f"use it with one of {', '.join(LOC_SCALE_FAMILIES)}, or TransformReparam for a "
                f"TransformedDistribution",
            )
        loc, scale = base.loc, base.scale
        names = [k for k in getattr(base, "arg_constraints", {}) if k not in ("loc", "scale")]
        params = {k: getattr(base, k) for k in (*names, *self.shape_params)}
        if self._is(0.0):
            params.update(loc=np.zeros(anp.shape(loc)), scale=np.ones(anp.shape(scale)))
        else:
            params.update(loc=self.centered * loc, scale=scale**self.centered)
        decentered = self._wrap(type(base)(**params), fn, base)
        x = sample(f"{name}_decentered", decentered)
        if self._is(0.0):
            return None, loc + scale * x
        return None, loc + scale ** (1.0 - self.centered) * (x - self.centered * loc)


class TransformReparam(Reparam):
    r"""Sample the base of a ``TransformedDistribution`` site and push it through the transforms.

    For :math:`x \sim T_\#B` with :math:`T = T_k \circ \dots \circ T_1`, the auxiliary site
    ``<name>_base`` is :math:`u \sim B` (broadcast to the site's batch shape) and
    :math:`x = T(u)` is recorded as a deterministic site.  The distribution needs the attributes
    ``base_dist`` and ``transforms`` (a list of transforms, applied in order).
    """

    def __call__(self, name: str, fn: Any, obs: Any) -> tuple[Any, Any]:
        self._latent_only(name, obs, "TransformReparam")
        td = self._unwrap(fn)
        if not (hasattr(td, "base_dist") and hasattr(td, "transforms")):
            raise SiteError(
                name,
                f"TransformReparam needs a TransformedDistribution, got {type(td).__name__}",
                "use LocScaleReparam for location-scale families",
            )
        base = td.base_dist
        # Batch dims of the transformed distribution that an outer to_event reinterpreted, and
        # batch dims of the base that the transformed distribution treats as event dims.
        outer_event = fn.event_dim - td.event_dim
        extra = tuple(base.batch_shape[len(td.batch_shape) :])
        target = tuple(fn.batch_shape) + tuple(fn.event_shape[:outer_event]) + extra
        base = base.expand(target)
        if outer_event + len(extra):
            base = base.to_event(outer_event + len(extra))
        x = sample(f"{name}_base", base)
        transforms = td.transforms if isinstance(td.transforms, (list, tuple)) else [td.transforms]
        for transform in transforms:
            x = transform(x)
        return None, x
