r"""Autoguides over the flat unconstrained vector :math:`u` of all latent sites
(:func:`ppl.model.build_layout`'s order): :class:`AutoDiagonalNormal`,
:class:`AutoMultivariateNormal`, :class:`AutoLowRankMultivariateNormal` and
:class:`AutoLaplaceApproximation`, on the common :class:`AutoContinuous`.

:math:`u` is drawn once as the auxiliary site ``_{prefix}_latent``; each model site is then a
``Delta`` at its slice pushed through its bijector, carrying :math:`-\log|J|` as its log
density, so the guide's log density is :math:`\log q_u(u) - \sum \log|J|`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import autodiff
import autodiff.numpy as anp
import ppl
from inference.autoguide._base import (
    AutoGuide,
    InitLocFn,
    _positive_scale,
    _sum_rightmost,
)
from ppl import constraints, handlers, runtime
from ppl import distributions as dist
from ppl.errors import ModelError, SiteError
from ppl.model import _Unconstrained
from ppl.transforms import AffineTransform, IndependentTransform, Transform


class _LowerCholeskyAffine(Transform):
    r""":math:`y = \mu + Lx` on vectors, :math:`L` lower triangular with a positive diagonal;
    :math:`\log|J| = \sum_i \log L_{ii}` (NumPyro's ``LowerCholeskyAffine``)."""

    domain = constraints.real_vector
    codomain = constraints.real_vector

    def __init__(self, loc: Any, scale_tril: Any):
        self.loc, self.scale_tril = loc, scale_tril

    def __call__(self, x):
        return anp.add(self.loc, anp.matmul(self.scale_tril, anp.expand_dims(x, -1))[..., 0])

    def inverse(self, y):
        d = anp.expand_dims(anp.subtract(y, self.loc), -1)
        return anp.linalg.solve_triangular(self.scale_tril, d, lower=True)[..., 0]

    def log_abs_det_jacobian(self, x, y):
        log_diag = anp.sum(anp.log(anp.diagonal(self.scale_tril, 0, -2, -1)), -1)
        return anp.broadcast_to(log_diag, tuple(anp.shape(x))[:-1])


class AutoContinuous(AutoGuide):
    r"""Base of the guides over the flat unconstrained latent vector (NumPyro's
    ``AutoContinuous``; ADVI, Kucukelbir et al. 2017).

    The latent sites' unconstrained values, flattened and concatenated in model order (the
    layout of :func:`ppl.model.build_layout`), form :math:`u \in \mathbb{R}^D`
    (``latent_dim``). The guide samples :math:`u \sim q_\phi` as the auxiliary site
    ``f"_{prefix}_latent"`` and each site ``name`` from
    ``Delta(T(u_name), log_density=-log|J_T(u_name)|, event_dim=site event_dim)``.
    A subclass gives ``_get_posterior()`` (declaring its params) and ``get_posterior(params)``.
    Local latent sites of a subsampled plate are not supported (their number changes).
    """

    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_prototype(*args, **kwargs)
        self.latent_dim = self._layout.dim
        if self.latent_dim == 0:
            raise ModelError(f"{type(self).__name__}: the model has no latent sites to infer")
        self._init_latent = np.concatenate(
            [np.reshape(self._init_locs[s.name], -1) for s in self._layout.sites])
        for name in self._latent_names:
            for frame in self.prototype_trace[name].cond_indep_stack:
                if frame.size != self._full_sizes.get(frame.name, frame.size):
                    raise SiteError(
                        name,
                        f"is a local latent site of the subsampled plate '{frame.name}', which "
                        f"{type(self).__name__} does not support (its latent vector has a fixed "
                        "size)",
                        "use AutoNormal, or do not subsample that plate",
                    )

    def _get_posterior(self) -> dist.Distribution:
        raise NotImplementedError

    def _sample_latent(self, sample_shape: Sequence[int] = ()) -> Any:
        posterior = self._get_posterior()
        if tuple(sample_shape):
            posterior = posterior.expand_by(tuple(sample_shape))
        return ppl.sample(f"_{self.prefix}_latent", posterior, infer={"is_auxiliary": True})

    def _unpack_latent(self, latent: Any) -> dict[str, Any]:
        """Per-site unconstrained values from ``latent`` of shape ``(..., latent_dim)``."""
        lead = tuple(anp.shape(latent))[:-1]
        out = {}
        for s in self._layout.sites:
            piece = latent[s.offset:s.offset + s.size] if not lead else \
                np.asarray(latent)[..., s.offset:s.offset + s.size]
            out[s.name] = anp.reshape(piece, lead + s.unconstrained_shape)
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        latent = self._sample_latent()
        result = {}
        for name, u in self._unpack_latent(latent).items():
            site = self.prototype_trace[name]
            transform = self._transforms[name]
            value = transform(u)
            event_dim = site.fn.event_dim
            log_density = anp.negative(transform.log_abs_det_jacobian(u, value))
            log_density = _sum_rightmost(
                log_density, anp.ndim(log_density) - anp.ndim(value) + event_dim)
            result[name] = ppl.sample(
                name, dist.Delta(value, log_density=log_density, event_dim=event_dim))
        return result

    def _unpack_and_constrain(self, latent: Any) -> dict[str, np.ndarray]:
        return self._constrain(self._unpack_latent(np.asarray(latent, dtype=float)))

    def _loc(self, params: dict) -> np.ndarray:
        self._require_prototype("posterior")
        return self._param(params, f"{self.prefix}_loc")

    def get_base_dist(self) -> dist.Distribution:
        """:math:`\\mathcal N(0, I_D)`, the base of ``get_transform``."""
        self._require_prototype("get_base_dist")
        return dist.Normal(np.zeros(self.latent_dim), 1.0).to_event(1)

    def get_transform(self, params: dict) -> Transform:
        """The map from ``get_base_dist()`` to the posterior of :math:`u`."""
        raise NotImplementedError

    def get_posterior(self, params: dict) -> dist.Distribution:
        """The fitted distribution of the flat unconstrained latent vector :math:`u`."""
        raise NotImplementedError

    def sample_posterior(self, seed: int | np.random.Generator, params: dict, *args: Any,
                         sample_shape: Sequence[int] = (), **kwargs: Any) -> dict[str, Any]:
        if self.prototype_trace is None:
            self._setup_prototype(*args, **kwargs)
        latent = self.get_posterior(params).sample(seed, tuple(sample_shape))
        return self._unpack_and_constrain(latent)

    def median(self, params: dict) -> dict[str, np.ndarray]:
        """:math:`T(\\text{loc})` per site."""
        return self._unpack_and_constrain(self._loc(params))

    def _marginal_scale(self, params: dict) -> np.ndarray:
        raise NotImplementedError

    def quantiles(self, params: dict, quantiles: Sequence[float]) -> dict[str, np.ndarray]:
        """:math:`T(\\mu_i + \\sigma_i \\Phi^{-1}(q))` with :math:`\\sigma_i` the marginal
        standard deviation of :math:`u_i` (exact marginal quantiles for elementwise bijectors)."""
        q = np.asarray(quantiles, dtype=float).reshape(-1, 1)
        loc = self._loc(params)
        latent = dist.Normal(loc, self._marginal_scale(params)).icdf(q)
        return self._unpack_and_constrain(latent)


class AutoDiagonalNormal(AutoContinuous):
    r""":math:`u \sim \mathcal N(\mu, \operatorname{diag}(\sigma^2))` (NumPyro's
    ``AutoDiagonalNormal``): params ``f"{prefix}_loc"`` and ``f"{prefix}_scale"``
    (``softplus_positive``, initially ``init_scale``). ``get_posterior`` is
    ``Normal(loc, scale)`` (batch shape ``(latent_dim,)``, as NumPyro's)."""

    scale_constraint = constraints.softplus_positive

    def __init__(self, model: Callable, *, prefix: str = "auto",
                 init_loc_fn: InitLocFn = "uniform", init_scale: float = 0.1):
        self._init_scale = _positive_scale("AutoDiagonalNormal", init_scale)
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _get_posterior(self) -> dist.Distribution:
        loc = ppl.param(f"{self.prefix}_loc", self._init_latent)
        scale = ppl.param(f"{self.prefix}_scale", np.full(self.latent_dim, self._init_scale),
                          constraint=self.scale_constraint)
        return dist.Normal(loc, scale).to_event(1)

    def get_transform(self, params: dict) -> Transform:
        """:math:`u = \\mu + \\sigma \\odot \\varepsilon`."""
        return IndependentTransform(
            AffineTransform(self._loc(params), self._param(params, f"{self.prefix}_scale")), 1)

    def get_posterior(self, params: dict) -> dist.Distribution:
        return dist.Normal(self._loc(params), self._param(params, f"{self.prefix}_scale"))

    def _marginal_scale(self, params: dict) -> np.ndarray:
        return self._param(params, f"{self.prefix}_scale")


class AutoMultivariateNormal(AutoContinuous):
    r""":math:`u \sim \mathcal N(\mu, LL^T)` (NumPyro's ``AutoMultivariateNormal``): params
    ``f"{prefix}_loc"`` and ``f"{prefix}_scale_tril"`` (:math:`L`, constraint
    ``lower_cholesky``, initially ``init_scale * I``)."""

    scale_tril_constraint = constraints.lower_cholesky

    def __init__(self, model: Callable, *, prefix: str = "auto",
                 init_loc_fn: InitLocFn = "uniform", init_scale: float = 0.1):
        self._init_scale = _positive_scale("AutoMultivariateNormal", init_scale)
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _get_posterior(self) -> dist.Distribution:
        loc = ppl.param(f"{self.prefix}_loc", self._init_latent)
        scale_tril = ppl.param(f"{self.prefix}_scale_tril",
                               np.eye(self.latent_dim) * self._init_scale,
                               constraint=self.scale_tril_constraint)
        return dist.MultivariateNormal(loc, scale_tril=scale_tril)

    def get_transform(self, params: dict) -> Transform:
        """:math:`u = \\mu + L\\varepsilon`."""
        return _LowerCholeskyAffine(self._loc(params),
                                    self._param(params, f"{self.prefix}_scale_tril"))

    def get_posterior(self, params: dict) -> dist.MultivariateNormal:
        return dist.MultivariateNormal(self._loc(params),
                                       scale_tril=self._param(params, f"{self.prefix}_scale_tril"))

    def _marginal_scale(self, params: dict) -> np.ndarray:
        return np.linalg.norm(self._param(params, f"{self.prefix}_scale_tril"), axis=-1)


class AutoLowRankMultivariateNormal(AutoContinuous):
    r""":math:`u \sim \mathcal N(\mu, WW^T + \operatorname{diag}(D))`, NumPyro's
    ``AutoLowRankMultivariateNormal`` and its parameterisation: params ``f"{prefix}_loc"``,
    ``f"{prefix}_cov_factor"`` (:math:`V`, ``latent_dim x rank``, initially 0) and
    ``f"{prefix}_scale"`` (:math:`s`, ``softplus_positive``, initially ``init_scale``), with
    :math:`W = \operatorname{diag}(s) V` and :math:`D = s^2`. ``rank`` defaults to
    :math:`\operatorname{round}(\sqrt{D})`. The density costs :math:`O(D\,\text{rank}^2)`
    (:class:`~ppl.distributions.LowRankMultivariateNormal`: Woodbury identity and matrix
    determinant lemma)."""

    scale_constraint = constraints.softplus_positive

    def __init__(self, model: Callable, *, prefix: str = "auto",
                 init_loc_fn: InitLocFn = "uniform", init_scale: float = 0.1,
                 rank: int | None = None):
        _positive_scale("AutoLowRankMultivariateNormal", init_scale)
        if rank is not None and (int(rank) != rank or rank < 1):
            raise ValueError(f"AutoLowRankMultivariateNormal: rank must be a positive int, got "
                             f"{rank!r}")
        self._init_scale = float(init_scale)
        self.rank = rank
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)

    def _rank(self) -> int:
        return int(round(math.sqrt(self.latent_dim))) if self.rank is None else int(self.rank)

    def _get_posterior(self) -> dist.Distribution:
        loc = ppl.param(f"{self.prefix}_loc", self._init_latent)
        cov_factor = ppl.param(f"{self.prefix}_cov_factor",
                               np.zeros((self.latent_dim, self._rank())))
        scale = ppl.param(f"{self.prefix}_scale", np.full(self.latent_dim, self._init_scale),
                          constraint=self.scale_constraint)
        return dist.LowRankMultivariateNormal(loc, cov_factor * anp.expand_dims(scale, -1),
                                              scale * scale)

    def get_posterior(self, params: dict) -> dist.LowRankMultivariateNormal:
        scale = self._param(params, f"{self.prefix}_scale")
        cov_factor = self._param(params, f"{self.prefix}_cov_factor")
        return dist.LowRankMultivariateNormal(self._loc(params), cov_factor * scale[:, None],
                                              scale * scale)

    def get_transform(self, params: dict) -> Transform:
        """:math:`u = \\mu + \\operatorname{chol}(WW^T + \\operatorname{diag} D)\\,\\varepsilon`."""
        posterior = self.get_posterior(params)
        return _LowerCholeskyAffine(posterior.loc, np.asarray(posterior.scale_tril))

    def _marginal_scale(self, params: dict) -> np.ndarray:
        scale = self._param(params, f"{self.prefix}_scale")
        cov_factor = self._param(params, f"{self.prefix}_cov_factor")
        return scale * np.sqrt(np.sum(cov_factor**2, -1) + 1.0)


class AutoLaplaceApproximation(AutoContinuous):
    r"""Laplace's method (NumPyro's ``AutoLaplaceApproximation``): fit a point
    :math:`\hat u` (the guide is ``Delta(loc)`` over the latent vector, param ``f"{prefix}_loc"``,
    so SVI maximises :math:`\log p(x, T(u)) + \log|J_T(u)|`, the log density of :math:`u`),
    then approximate the posterior of :math:`u` by

    .. math:: \mathcal N\big(\hat u, H^{-1}\big), \qquad
              H = -\nabla^2_u \big[\log p(x, T(u)) + \log|J_T(u)|\big]_{u = \hat u}.

    :math:`H` is computed by ``hessian_fn(f, loc)`` (default :func:`autodiff.hessian`,
    forward-over-reverse, on the eager log density), with the model arguments stored at setup.
    A singular or indefinite :math:`H` warns, and the posterior is then the point
    :math:`\hat u` (a zero ``scale_tril``), as in NumPyro.
    """

    def __init__(self, model: Callable, *, prefix: str = "auto",
                 init_loc_fn: InitLocFn = "uniform",
                 hessian_fn: Callable[[Callable, np.ndarray], Any] | None = None):
        super().__init__(model, prefix=prefix, init_loc_fn=init_loc_fn)
        self._hessian_fn = hessian_fn or (lambda f, x: autodiff.hessian(f)(x))

    def _get_posterior(self) -> dist.Distribution:
        return dist.Delta(ppl.param(f"{self.prefix}_loc", self._init_latent), event_dim=1)

    def log_joint(self, u: Any, params: dict | None = None) -> Any:
        r""":math:`\log p(x, T(u)) + \log|J_T(u)|` at the flat unconstrained ``u``, on the model
        arguments of the setup (the model's own params from ``params``)."""
        self._require_prototype("log_joint")
        model_params = {k: v for k, v in (params or {}).items() if k in self.prototype_trace
                        and self.prototype_trace[k].type == "param"}
        model = handlers.substitute(self.model, data=model_params, strict=False) \
            if model_params else self.model
        handler = _Unconstrained(handlers.seed(model, 0), self._layout, u)
        trace = handlers.trace(handler).get_trace(*self._args, **self._kwargs)
        total = runtime.trace_log_density(trace)
        for log_jacobian in handler.log_jacobians:
            total = total + log_jacobian
        return total

    def get_posterior(self, params: dict) -> dist.MultivariateNormal:
        """``MultivariateNormal(loc, precision_matrix=H)``."""
        loc = self._loc(params)
        precision = np.asarray(self._hessian_fn(lambda u: -self.log_joint(u, params), loc),
                               dtype=float)
        precision = 0.5 * (precision + precision.T)
        try:
            np.linalg.cholesky(precision)
        except np.linalg.LinAlgError:
            warnings.warn(
                "AutoLaplaceApproximation: the Hessian of the negative log posterior at the "
                "fitted point is not positive definite (singular, or not a maximum); the "
                "posterior is the point itself. Fit longer, or use AutoNormal or "
                "AutoMultivariateNormal", stacklevel=2)
            return dist.MultivariateNormal(loc, scale_tril=np.zeros_like(precision),
                                           validate_args=False)
        return dist.MultivariateNormal(loc, precision_matrix=precision)

    def get_transform(self, params: dict) -> Transform:
        """:math:`u = \\hat u + L\\varepsilon`, :math:`LL^T = H^{-1}`."""
        posterior = self.get_posterior(params)
        return _LowerCholeskyAffine(posterior.loc, np.asarray(posterior.scale_tril))

    def _marginal_scale(self, params: dict) -> np.ndarray:
        return np.linalg.norm(np.asarray(self.get_posterior(params).scale_tril), axis=-1)
