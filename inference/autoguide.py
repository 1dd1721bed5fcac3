r"""Automatic guides for variational inference: NumPyro's ``numpyro.infer.autoguide``.

An *autoguide* builds the variational family :math:`q_\phi(z)` of a model from the model alone.
On its first call it runs the model once under ``seed`` + ``trace`` (the *prototype*: which
sites are latent, their shapes, supports and plates, and an initial point chosen by
``init_loc_fn``); afterwards the guide is a function with the model's ``*args, **kwargs`` that
declares its variational parameters with :func:`ppl.param` and samples every latent site of the
model, which is what ``SVI(model, guide, optim, loss)`` needs.

Every family lives on the unconstrained space of ADVI (Kucukelbir et al. 2017): a latent site
:math:`z` with support :math:`S` is :math:`z = T(u)`, :math:`T = \text{biject\_to}(S)`, and
the density of :math:`z` is that of :math:`u` times the change of variables,

.. math:: \log q(z) = \log q_u(u) - \log\left|\det \partial T(u)/\partial u\right|,
          \qquad u = T^{-1}(z).

* :class:`AutoNormal`: mean field, one ``Normal(loc, scale)`` per site and per entry, pushed
  through :math:`T` (a ``TransformedDistribution``), inside the model's plates (a subsampled
  plate subsamples the site's ``loc`` and ``scale``). Params ``f"{name}_{prefix}_loc"`` and
  ``f"{name}_{prefix}_scale"``.
* :class:`AutoContinuous` and its subclasses: one distribution over the flat vector
  :math:`u \in \mathbb{R}^D` of all latent sites (the order and slices of
  :func:`ppl.model.build_layout`), sampled as the auxiliary site ``f"_{prefix}_latent"``
  (``infer={"is_auxiliary": True}``); each model site then gets
  ``Delta(T(u_site), log_density=-log|J|)``, so the guide's total log density is
  :math:`\log q_u(u) - \sum_{\text{sites}} \log|J|` (above).
  :class:`AutoDiagonalNormal` (:math:`\mathcal N(\mu, \operatorname{diag}\sigma^2)`),
  :class:`AutoMultivariateNormal` (:math:`\mathcal N(\mu, LL^T)`),
  :class:`AutoLowRankMultivariateNormal` (:math:`\mathcal N(\mu, WW^T + \operatorname{diag} D)`)
  and :class:`AutoLaplaceApproximation` (a point while fitting; afterwards
  :math:`\mathcal N(\hat u, H^{-1})` with :math:`H` the Hessian of the negative log joint at the
  fitted point :math:`\hat u`, Laplace's method).
* :class:`AutoDelta`: MAP, each site a point mass at a constrained param
  ``f"{name}_{prefix}_loc"``.

After fitting, ``params`` (SVI's ``get_params(state)``: constrained param values by name) gives
``sample_posterior``, ``median``, ``quantiles`` and, for the families over the flat vector,
``get_posterior``. As in NumPyro's guides, each site's bijector comes from its support in the
prototype trace: a model whose support depends on another latent site (``Uniform(0, a)`` with a
latent ``a``) needs a hand-written guide.

References: Kucukelbir, Tran, Ranganath, Gelman and Blei (2017), "Automatic differentiation
variational inference", JMLR 18(14); Blei, Kucukelbir and McAuliffe (2017), "Variational
inference: a review for statisticians", JASA 112; NumPyro's ``numpyro/infer/autoguide.py``
(names, parameters and semantics); Tierney and Kadane (1986) for the Laplace approximation.

>>> import numpy as np
>>> import ppl
>>> from ppl import dist, handlers
>>> from inference.autoguide import AutoDiagonalNormal
>>> def model(y):
...     mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
...     sigma = ppl.sample("sigma", dist.HalfNormal(5.0))
...     with ppl.plate("n", len(y)):
...         ppl.sample("y", dist.Normal(mu, sigma), obs=y)
>>> y = np.array([1.0, 2.0, 3.0])
>>> guide = AutoDiagonalNormal(model)
>>> tr = handlers.trace(handlers.seed(guide, 0)).get_trace(y)
>>> [(name, site.type) for name, site in tr.items()]  # doctest: +NORMALIZE_WHITESPACE
[('auto_loc', 'param'), ('auto_scale', 'param'), ('_auto_latent', 'sample'),
 ('mu', 'sample'), ('sigma', 'sample')]
>>> params = {"auto_loc": np.array([2.0, 0.0]), "auto_scale": np.array([0.5, 0.1])}
>>> {k: float(v) for k, v in guide.median(params).items()}   # sigma = exp(0)
{'mu': 2.0, 'sigma': 1.0}
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np

import autodiff
import autodiff.numpy as anp
import ppl
from ppl import constraints, handlers, runtime
from ppl import distributions as dist
from ppl.distributions.base import as_generator
from ppl.errors import ModelError, SiteError
from ppl.initialization import resolve_strategy, uniform_radius
from ppl.model import ParamLayout, _InitToUniform, _Unconstrained, build_layout
from ppl.runtime import Message, Messenger
from ppl.transforms import AffineTransform, IndependentTransform, Transform, biject_to

__all__ = [
    "AutoContinuous",
    "AutoDelta",
    "AutoDiagonalNormal",
    "AutoGuide",
    "AutoLaplaceApproximation",
    "AutoLowRankMultivariateNormal",
    "AutoMultivariateNormal",
    "AutoNormal",
]

#: ``"uniform"``, ``"median"``, a dict of constrained values by site name, or ``site -> value``.
InitLocFn = str | dict | Callable[[Message], Any]

_INIT_TRIES = 100  # as CompiledModel.initial_points: retries for a finite log density


# --------------------------------------------------------------------------------------------
# Initial values: the strategies of CompiledModel.initial_points, per site
# --------------------------------------------------------------------------------------------


def _resolve_init(init_loc_fn: InitLocFn) -> Callable[[Message], Any] | None:
    """``init_loc_fn`` as a function ``site -> constrained value or None`` (``None``: uniform
    in (-2, 2) on the unconstrained scale); the strategies of :mod:`ppl.initialization`."""
    try:
        choose = resolve_strategy(init_loc_fn)
    except ValueError as err:
        raise ValueError(f"init_loc_fn: {err}") from None
    return None if uniform_radius(choose) == 2.0 else choose


class _InitLoc(Messenger):
    """Give latent continuous sites the value of an init strategy (where it returns one)."""

    def __init__(self, fn, init_fn: Callable[[Message], Any]):
        super().__init__(fn)
        self.init_fn = init_fn

    def process_message(self, msg: Message) -> None:
        if msg.type != "sample" or msg.is_observed or msg.value is not None or msg.fn.is_discrete:
            return
        value = self.init_fn(msg)
        if value is not None:
            msg.value = np.asarray(value, dtype=float)
            msg.done = True


def _enclosing_rng() -> np.random.Generator | None:
    """The generator of the innermost active ``seed`` handler (NumPyro's ``prng_key()``)."""
    for handler in reversed(runtime._STACK):
        rng = getattr(handler, "rng", None)
        if getattr(handler, "provides_rng", False) and isinstance(rng, np.random.Generator):
            return rng
    return None


def _site_bijector(msg: Message) -> Transform:
    try:
        return biject_to(msg.fn.support)
    except Exception as err:  # noqa: BLE001  (re-raised with the site's name)
        raise SiteError(msg.name, f"its support {msg.fn.support} has no bijector to the real "
                        f"line ({err})", "autoguides handle continuous latent sites only: "
                        "reparameterise the site or give it a continuous support") from err


def _sum_rightmost(x: Any, n: int) -> Any:
    for _ in range(max(n, 0)):
        x = anp.sum(x, axis=-1)
    return x


def _is_real(support: Any) -> bool:
    return support is constraints.real or (
        isinstance(support, constraints.independent)
        and support.base_constraint is constraints.real
    )


def _periodic_repeat(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """``x`` repeated periodically along ``axis`` to length ``size`` (NumPyro's)."""
    n = np.shape(x)[axis]
    return np.take(x, np.arange(size) % n, axis=axis)


# --------------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------------


class AutoGuide:
    """Base class of the automatic guides (NumPyro's ``AutoGuide``).

    Parameters
    ----------
    model : the model function.
    prefix : prefix of the names of the guide's param sites.
    init_loc_fn : the initial point of the fit, as in ``CompiledModel.initial_points``:
        ``"uniform"`` (uniform in (-2, 2) on the unconstrained scale), ``"median"`` (the median
        of 15 prior draws of each site), a dict of constrained values for some sites (the others
        uniform), or a function ``site -> constrained value or None`` (NumPyro's
        ``init_to_*`` protocol; it is called for each latent site, whose ``site.rng`` is the
        setup's generator; ``None`` falls back to uniform). Draws that give the model a
        non-finite log density are retried, up to 100 times. A value is projected onto the
        support as ``T(T^{-1}(value))`` (a median of simplex draws is not on the simplex).

    NumPyro's ``create_plates`` is not supported: the guide creates the model's plates itself,
    subsampling as the prototype did.

    A guide is set up lazily: its first call runs the model on the same arguments (under
    ``handlers.block``, with a generator from the enclosing ``seed``, or seed 0 without one).
    Every latent site must be continuous (a discrete one is an error naming it).
    """

    def __init__(self, model: Callable, *, prefix: str = "auto",
                 init_loc_fn: InitLocFn = "uniform"):
        if not callable(model):
            raise TypeError(f"{type(self).__name__}: model must be a function, got {model!r}")
        self.model = model
        self.prefix = prefix
        self.init_loc_fn = init_loc_fn
        self._init_fn = _resolve_init(init_loc_fn)
        self.prototype_trace: dict[str, Message] | None = None
        self._args: tuple = ()
        self._kwargs: dict = {}

    # ---- the prototype ----------------------------------------------------------------------
    def _setup_prototype(self, *args: Any, **kwargs: Any) -> None:
        rng = _enclosing_rng()
        rng = np.random.default_rng(0 if rng is None else int(rng.integers(2**31)))
        self._args, self._kwargs = args, kwargs
        with handlers.block():
            for _ in range(_INIT_TRIES):
                trace = self._run_init(rng, args, kwargs)
                locs = self._unconstrained_locs(trace)
                if locs is not None:
                    break
            else:
                raise ModelError(
                    f"{type(self).__name__}: no initial point with a finite log density after "
                    f"{_INIT_TRIES} tries: {_diagnose(trace)}"
                )
        self.prototype_trace = trace
        self._latent_names = [n for n, s in trace.items()
                              if s.type == "sample" and not s.is_observed]
        self._layout: ParamLayout = build_layout(trace)
        self._transforms = {n: _site_bijector(trace[n]) for n in self._latent_names}
        self._init_locs = locs
        self._frames, self._full_sizes = {}, {}
        for site in trace.values():
            if site.type == "plate":
                self._full_sizes[site.name] = int(site.args[0])
            for frame in site.cond_indep_stack if site.type == "sample" else ():
                self._frames.setdefault(frame.name, frame)

    def _run_init(self, rng: np.random.Generator, args: tuple, kwargs: dict) -> dict:
        fn = handlers.seed(self.model, rng)
        if self._init_fn is not None:
            fn = _InitLoc(fn, self._init_fn)
        trace = handlers.trace(_InitToUniform(fn, rng)).get_trace(*args, **kwargs)
        for site in trace.values():
            if site.type == "sample" and not site.is_observed and site.fn.is_discrete:
                raise SiteError(
                    site.name,
                    f"is a discrete latent variable ({type(site.fn).__name__}) and autoguides "
                    "handle continuous latent sites only",
                    "marginalise it out of the model (sum its probabilities with logsumexp), "
                    "observe it, or write the guide by hand",
                )
        if isinstance(self.init_loc_fn, dict):
            latent = [n for n, s in trace.items() if s.type == "sample" and not s.is_observed]
            unknown = sorted(set(self.init_loc_fn) - set(latent))
            if unknown:
                raise ModelError(f"init values for {unknown}, which are not latent sites; the "
                                 f"latent sites are {latent}")
        return trace

    @staticmethod
    def _unconstrained_locs(trace: dict) -> dict[str, np.ndarray] | None:
        """Each latent site's unconstrained initial value; ``None`` if one, or the model's log
        density there, is not finite.  The site's value is replaced by ``T(T^{-1}(value))``, a
        point of the support (a median of a simplex is not one)."""
        locs = {}
        with np.errstate(all="ignore"):
            for name, site in trace.items():
                if site.type != "sample" or site.is_observed:
                    continue
                transform = _site_bijector(site)
                u = np.asarray(transform.inverse(np.asarray(site.value, dtype=float)), float)
                if not np.all(np.isfinite(u)):
                    return None
                locs[name] = u
                site.value = np.asarray(transform(u), dtype=float)
            logp = np.asarray(runtime.trace_log_density(trace), dtype=float)
        return locs if np.isfinite(logp) else None

    def _require_prototype(self, method: str) -> None:
        if self.prototype_trace is None:
            raise RuntimeError(
                f"{type(self).__name__}.{method}: the guide has not been set up; run it once "
                "(SVI does, or handlers.seed(guide, 0)(*model_args)) before asking for "
                "its posterior"
            )

    def _param(self, params: dict, name: str) -> np.ndarray:
        try:
            return np.asarray(params[name], dtype=float)
        except KeyError:
            raise KeyError(
                f"{type(self).__name__}: params has no '{name}' (its keys: {sorted(params)}); "
                "pass the constrained params of the fit, SVI's get_params(state) or "
                "result.params"
            ) from None

    def _create_plates(self) -> dict[str, ppl.plate]:
        """The model's plates, at full size, subsampling as the prototype did."""
        plates = {}
        for name, frame in sorted(self._frames.items()):
            full = self._full_sizes.get(name, frame.size)
            plates[name] = ppl.plate(name, full, dim=frame.dim,
                                     subsample_size=frame.size if frame.size < full else None)
        return plates

    def _constrain(self, latent: dict[str, Any]) -> dict[str, np.ndarray]:
        """Unconstrained site values (any leading sample dims) to constrained ones."""
        return {name: np.asarray(self._transforms[name](np.asarray(u, dtype=float)))
                for name, u in latent.items()}

    # ---- the interface ------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The guide: sample every latent site of the model; returns their values by name."""
        raise NotImplementedError

    def sample_posterior(self, seed: int | np.random.Generator, params: dict, *args: Any,
                         sample_shape: Sequence[int] = (), **kwargs: Any) -> dict[str, Any]:
        """Draws of every latent site (constrained), each of shape
        ``sample_shape + site shape``."""
        raise NotImplementedError

    def median(self, params: dict) -> dict[str, np.ndarray]:
        """The posterior median of each latent site (constrained)."""
        raise NotImplementedError

    def quantiles(self, params: dict, quantiles: Sequence[float]) -> dict[str, np.ndarray]:
        """Quantiles of each latent site, shape ``(len(quantiles),) + site shape``."""
        raise NotImplementedError


def _diagnose(trace: dict) -> str:
    bad = []
    with np.errstate(all="ignore"):
        for site in trace.values():
            if site.type != "sample":
                continue
            lp = np.asarray(runtime.site_log_prob(site), dtype=float)
            if not np.all(np.isfinite(lp)):
                bad.append(f"site '{site.name}' has log density "
                           f"{'NaN' if np.any(np.isnan(lp)) else '-inf'}")
    if not bad:
        return "an initial value has no finite unconstrained value (is it on the boundary " \
            "of its support?)"
    return "; ".join(bad) + ". Check the supports and parameters of these sites, or pass " \
        "init values (init_loc_fn={...})"


# --------------------------------------------------------------------------------------------
# Mean field per site
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Guides over the flat unconstrained vector
# --------------------------------------------------------------------------------------------


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


def _positive_scale(guide: str, init_scale: float) -> float:
    """``init_scale`` checked: the initial scale of a normal guide must be positive."""
    if not init_scale > 0:
        raise ValueError(f"{guide}: init_scale must be > 0, got {init_scale!r}")
    return float(init_scale)
