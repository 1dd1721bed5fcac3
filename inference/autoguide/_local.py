r"""Autoguides with one variational factor per model site: :class:`AutoNormal` (mean field,
a normal on each site's unconstrained space, inside the model's plates) and :class:`AutoDelta`
(a point mass at each site: MAP).

See :mod:`inference.autoguide` for the maths they share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np

import ppl
from inference.autoguide._base import (
    AutoGuide,
    InitLocFn,
    _is_real,
    _periodic_repeat,
    _positive_scale,
)
from ppl import constraints, handlers
from ppl import distributions as dist
from ppl.distributions.base import as_generator


class AutoNormal(AutoGuide):
    r"""Mean-field normal guide, one site at a time (NumPyro's ``AutoNormal``).

    Each latent site :math:`z` with support :math:`S` is
    :math:`z = T(u)`, :math:`u \sim \mathcal N(\text{loc}, \text{scale}^2)` elementwise,
    :math:`T = \text{biject\_to}(S)`; the guide samples :math:`z` from that
    ``TransformedDistribution`` (a plain ``Normal`` on a real support), so
    :math:`\log q(z) = \sum \log\mathcal N(u) - \log|J_T(u)|`. Params
    ``f"{name}_{prefix}_loc"`` (real) and ``f"{name}_{prefix}_scale"`` (``softplus_positive``),
    of the site's unconstrained shape, declared inside the model's plates with the site's
    unconstrained ``event_dim``: a subsampled plate subsamples them (they have the plate's full
    size; the initial value is repeated periodically).

    Parameters: ``model``, ``prefix``, ``init_loc_fn`` (see :class:`AutoGuide`) and
    ``init_scale``, the initial ``scale`` of every entry.
    """

    scale_constraint = constraints.softplus_positive

    def __init__(self, model: Callable, *, prefix: str = "auto",
                 init_loc_fn: InitLocFn = "uniform", init_scale: float = 0.1):
        self._init_scale = _positive_scale("AutoNormal", init_scale)
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._event_dims = {}
        for name in self._latent_names:
            site = self.prototype_trace[name]
            event_dim = site.fn.event_dim + np.ndim(self._init_locs[name]) - np.ndim(site.value)
            self._event_dims[name] = event_dim
            for frame in site.cond_indep_stack:
                full = self._full_sizes.get(frame.name, frame.size)
                if full != frame.size:
                    self._init_locs[name] = _periodic_repeat(self._init_locs[name], full,
                                                             frame.dim - event_dim)

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        plates = self._create_plates()
        result = {}
        for name in self._latent_names:
            site = self.prototype_trace[name]
            event_dim = self._event_dims[name]
            init_loc = self._init_locs[name]
            with ExitStack() as stack:
                for frame in site.cond_indep_stack:
                    stack.enter_context(plates[frame.name])
                loc = ppl.param(f"{name}_{self.prefix}_loc", init_loc, event_dim=event_dim)
                scale = ppl.param(f"{name}_{self.prefix}_scale",
                                  np.full(np.shape(init_loc), self._init_scale),
                                  constraint=self.scale_constraint, event_dim=event_dim)
                fn = dist.Normal(loc, scale).to_event(event_dim)
                if not _is_real(site.fn.support):
                    fn = dist.TransformedDistribution(fn, self._transforms[name])
                result[name] = ppl.sample(name, fn)
        return result

    def _locs_scales(self, params: dict) -> tuple[dict, dict]:
        self._require_prototype("posterior")
        locs = {n: self._param(params, f"{n}_{self.prefix}_loc") for n in self._latent_names}
        scales = {n: self._param(params, f"{n}_{self.prefix}_scale") for n in self._latent_names}
        return locs, scales

    def sample_posterior(self, seed: int | np.random.Generator, params: dict, *args: Any,
                         sample_shape: Sequence[int] = (), **kwargs: Any) -> dict[str, Any]:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        rng = as_generator(seed, "sample_posterior")
        locs, scales = self._locs_scales(params)
        latent = {n: dist.Normal(locs[n], scales[n]).sample(rng, tuple(sample_shape))
                  for n in self._latent_names}
        return self._constrain(latent)

    def median(self, params: dict) -> dict[str, np.ndarray]:
        """:math:`T(\\text{loc})` per site (the median of :math:`z`: :math:`T` is monotone in
        each coordinate for the elementwise supports)."""
        locs, _ = self._locs_scales(params)
        return self._constrain(locs)

    def quantiles(self, params: dict, quantiles: Sequence[float]) -> dict[str, np.ndarray]:
        """:math:`T(\\text{loc} + \\text{scale}\\,\\Phi^{-1}(q))` per site: exact marginal
        quantiles for elementwise bijectors (not for simplex or matrix supports)."""
        q = np.asarray(quantiles, dtype=float)
        locs, scales = self._locs_scales(params)
        latent = {n: dist.Normal(locs[n], scales[n]).icdf(q.reshape((-1,) + (1,) * locs[n].ndim))
                  for n in self._latent_names}
        return self._constrain(latent)


class AutoDelta(AutoGuide):
    r"""MAP guide: each latent site is a point mass at a param (NumPyro's ``AutoDelta``).

    Param ``f"{name}_{prefix}_loc"`` has the site's constrained shape and its support as
    constraint (the optimiser works in ``biject_to(support)``'s unconstrained space, but the
    objective is the model's log density in the constrained space: MAP of :math:`p(z \mid x)`,
    not of the density of :math:`u`). The ELBO of a point mass is :math:`\log p(x, \hat z)`,
    so SVI with this guide maximises the log joint. Declared inside the model's plates with the
    site's ``event_dim``. Default ``init_loc_fn="median"`` (NumPyro's ``init_to_median``).
    """

    def __init__(self, model: Callable, *, prefix: str = "auto",
                 init_loc_fn: InitLocFn = "median"):
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self._init_values = {}
        for name in self._latent_names:
            site = self.prototype_trace[name]
            value = np.asarray(site.value, dtype=float)
            for frame in site.cond_indep_stack:
                full = self._full_sizes.get(frame.name, frame.size)
                if full != frame.size:
                    value = _periodic_repeat(value, full, frame.dim - site.fn.event_dim)
            self._init_values[name] = value

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        plates = self._create_plates()
        result = {}
        for name in self._latent_names:
            site = self.prototype_trace[name]
            event_dim = site.fn.event_dim
            with ExitStack() as stack:
                for frame in site.cond_indep_stack:
                    stack.enter_context(plates[frame.name])
                loc = ppl.param(f"{name}_{self.prefix}_loc", self._init_values[name],
                                constraint=site.fn.support, event_dim=event_dim)
                result[name] = ppl.sample(name, dist.Delta(loc, event_dim=event_dim))
        return result

    def median(self, params: dict) -> dict[str, np.ndarray]:
        self._require_prototype("median")
        return {n: self._param(params, f"{n}_{self.prefix}_loc") for n in self._latent_names}

    def quantiles(self, params: dict, quantiles: Sequence[float]) -> dict[str, np.ndarray]:
        """Every quantile of a point mass is the point."""
        n = len(np.atleast_1d(quantiles))
        return {k: np.broadcast_to(v, (n,) + v.shape).copy() for k, v in self.median(params).items()}

    def sample_posterior(self, seed: int | np.random.Generator, params: dict, *args: Any,
                         sample_shape: Sequence[int] = (), **kwargs: Any) -> dict[str, Any]:
        """The point, broadcast to ``sample_shape``, and the model's deterministic sites there
        (the model is run on ``args``/``kwargs``, or on those of the setup if none are given)."""
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        sample_shape = tuple(sample_shape)
        locs = self.median(params)
        out = {k: np.broadcast_to(v, sample_shape + v.shape).copy() for k, v in locs.items()}
        determ = [n for n, s in self.prototype_trace.items() if s.type == "deterministic"]
        if determ:
            if not args and not kwargs:
                args, kwargs = self._args, self._kwargs
            model_params = {k: v for k, v in params.items() if k in self.prototype_trace
                            and self.prototype_trace[k].type == "param"}
            model = handlers.substitute(self.model, data={**locs, **model_params}, strict=False)
            trace = handlers.trace(handlers.seed(model, seed)).get_trace(*args, **kwargs)
            for n in determ:
                v = np.asarray(trace[n].value)
                out[n] = np.broadcast_to(v, sample_shape + v.shape).copy()
        return out


