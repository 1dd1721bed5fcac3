"""Prior and posterior predictive draws: ``Predictive(model, posterior_samples | num_samples)``.

Draws are vectorised: the model runs once inside an extra outermost plate of size
``num_samples`` (placed left of every plate the model uses), with posterior values substituted
per draw, so every distribution is sampled for all draws in one NumPy call.  This needs a model
written with plates for its batch dimensions (as NumPyro/Pyro models are); a model that cannot
broadcast that way is run once per draw instead, with a warning saying so.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import ppl
from ppl import handlers
from ppl.runtime import Messenger


class Predictive:
    """Draw from the prior predictive (``num_samples=``) or the posterior predictive
    (``posterior_samples=`` a dict site -> ``(num_samples, ...)``, e.g. ``mcmc.get_samples()``;
    or ``guide=`` a fitted SVI guide with its ``params=`` and ``num_samples=``, whose draws of
    the latent sites take the place of posterior samples, as in NumPyro).

    ``Predictive(model, ...)(seed, *args, **kwargs)`` returns a dict site -> array of shape
    ``(num_samples, ...)`` for ``return_sites`` (default: the observed sites and deterministic
    sites for posterior predictive; every sample and deterministic site for the prior).

    >>> import numpy as np
    >>> import ppl
    >>> from ppl import dist
    >>> def model(n):
    ...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    ...     with ppl.plate("data", n):
    ...         ppl.sample("y", dist.Normal(mu, 1.0))
    >>> prior = Predictive(model, num_samples=1000)(0, 3)
    >>> prior["y"].shape, prior["mu"].shape
    ((1000, 3), (1000,))
    """

    def __init__(
        self,
        model: Callable,
        posterior_samples: dict[str, np.ndarray] | None = None,
        num_samples: int | None = None,
        return_sites: list[str] | None = None,
        batch_ndims: int = 1,
        *,
        guide: Callable | None = None,
        params: dict[str, Any] | None = None,
        infer_discrete: bool = False,
    ):
        if posterior_samples is None and num_samples is None:
            raise ValueError("Predictive: give posterior_samples= or num_samples=")
        if guide is not None and (posterior_samples is not None or num_samples is None):
            raise ValueError("Predictive: with a guide, give num_samples= (the guide's draws "
                             "replace posterior_samples)")
        self.model = model
        self.infer_discrete = bool(infer_discrete)
        self.guide = guide
        self.params = dict(params or {})
        self.batch_ndims = batch_ndims
        self.batch_shape: tuple[int, ...] = ()
        self.posterior: dict[str, np.ndarray] = {}
        if posterior_samples is not None:
            shapes = {np.shape(v)[:batch_ndims] for v in posterior_samples.values()}
            if len(shapes) != 1:
                raise ValueError(f"Predictive: posterior samples disagree on batch shape {shapes}")
            self.batch_shape = shapes.pop()
            n = int(np.prod(self.batch_shape))
            self.posterior = {
                k: np.reshape(np.asarray(v), (n, *np.shape(v)[batch_ndims:]))
                for k, v in posterior_samples.items()
            }
            if num_samples is not None and num_samples != n:
                raise ValueError(f"Predictive: num_samples={num_samples} but the posterior has {n}")
            num_samples = n
        else:
            self.batch_shape = (int(num_samples),)
        self.num_samples = int(num_samples)
        self.return_sites = return_sites
        self._given = dict(self.posterior)

    def __call__(self, seed: int | np.random.Generator, *args: Any, **kwargs: Any) -> dict:
        rng = np.random.default_rng(seed)
        self.posterior = dict(self._given)  # this call's draws (guide, discrete) added below
        if self.guide is not None:
            self.posterior = self.guide_draws(rng, args, kwargs)
        discrete: dict[str, np.ndarray] = {}
        if self.infer_discrete and self.posterior:
            discrete = self.discrete_draws(rng, self.posterior, args, kwargs)
            self.posterior = {**self.posterior, **discrete}
        # one draw's values in the prototype too: a latent with no sampler (ImproperUniform)
        # then never has to be drawn
        first = {k: v[0] for k, v in self.posterior.items()}
        model = handlers.substitute(self.model, data=first, strict=False) if first else \
            self.model
        proto = handlers.trace(handlers.seed(model, rng)).get_trace(*args, **kwargs)
        sites = self._sites(proto) + [n for n in discrete if n not in self._sites(proto)]
        try:
            out = self._vectorised(rng, proto, args, kwargs)
        except Exception:  # noqa: BLE001  (a model that does not broadcast over a plate)
            try:
                out = self._mapped(rng, proto, args, kwargs)
            except Exception as err:  # noqa: BLE001  (a sampler vmap cannot map: loop)
                out = self._looped_with_warning(rng, args, kwargs, err)
        return {
            k: np.reshape(v, self.batch_shape + np.shape(v)[1:]) for k, v in out.items()
            if k in sites
        }

    def discrete_draws(self, rng: np.random.Generator, posterior: dict[str, np.ndarray],
                       args: tuple, kwargs: dict) -> dict[str, np.ndarray]:
        """The model's discrete latent sites drawn from their conditional posterior given each
        draw of the others (``infer_discrete=True``): per draw, the enumerated model's factors
        are contracted and the sites sampled back (:func:`ppl.enumeration.sample_enumerated`)."""
        from ppl.enumeration import sample_enumerated
        from ppl.model import with_enumeration

        first = {k: v[0] for k, v in posterior.items()}
        proto = handlers.trace(handlers.seed(handlers.substitute(
            self.model, data=first, strict=False), rng)).get_trace(*args, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the auto-enumeration notice: asked for here
            enumerated = with_enumeration(self.model, proto)
        draws: dict[str, list] = {}
        for i in range(self.num_samples):
            values = {k: v[i] for k, v in posterior.items()}
            tr = handlers.trace(handlers.substitute(enumerated, data=values, strict=False)
                                ).get_trace(*args, **kwargs)
            drawn = sample_enumerated(tr, rng)
            if not drawn:
                return {}
            for name, value in drawn.items():
                draws.setdefault(name, []).append(value)
        return {k: np.stack(v) for k, v in draws.items()}

    def _looped_with_warning(self, rng, args, kwargs, err) -> dict[str, np.ndarray]:
        warnings.warn(
            f"Predictive: the model could not be run for all {self.num_samples} draws at "
            f"once ({type(err).__name__}: {err}); drawing one by one instead (the same "
            "draws, slower). Draws are vectorised by an extra plate left of the model's "
            "plates or, for code that does not broadcast over such a dimension (x @ beta), "
            "by vmap, which needs samplers made of normal variates; this one was not.",
            stacklevel=3,
        )
        return self._looped(rng, args, kwargs)

    def _mapped(self, rng, proto, args, kwargs) -> dict[str, np.ndarray]:
        """The draws by ``vmap``: each draw's sites are made from its own row of standard
        normals (:class:`inference.variational.NoiseSource`), so any code broadcasts (``x @
        beta``); a sampler that needs more than normal variates (Poisson's, Gamma's) or
        NumPy on its parameters makes this fail, and the draws are looped."""
        from autodiff import vmap
        from inference.variational import NoiseSource

        names = [n for n, s in proto.items() if s.type in ("sample", "deterministic")]
        first = {k: v[0] for k, v in self.posterior.items()}
        counter = NoiseSource(rng=np.random.default_rng(0))
        self._run_with(counter, first, args, kwargs)
        noise = rng.standard_normal((self.num_samples, counter.used))

        def one_draw(values, normals):
            trace = self._run_with(NoiseSource(normals), values, args, kwargs)
            return [trace[n].value for n in names]

        outs = vmap(one_draw)(self.posterior, noise)
        return {n: np.broadcast_to(np.asarray(v), (self.num_samples, *np.shape(proto[n].value)))
                for n, v in zip(names, outs)}

    def _run_with(self, source, values, args, kwargs) -> dict:
        model = handlers.substitute(self.model, data=values, strict=False) if values else \
            self.model
        return handlers.trace(_FromNormals(_unobserve(model), source)).get_trace(*args, **kwargs)

    def _sites(self, proto) -> list[str]:
        if self.return_sites is not None:
            return list(self.return_sites)
        if self.posterior:
            return [n for n, s in proto.items()
                    if (s.type == "sample" and s.is_observed) or s.type == "deterministic"
                    or (s.type == "sample" and n not in self.posterior)]
        return [n for n, s in proto.items() if s.type in ("sample", "deterministic")]

    def _vectorised(self, rng, proto, args, kwargs) -> dict[str, np.ndarray]:
        tr = batched_trace(self.model, proto, self.posterior, self.num_samples, rng, args,
                           kwargs, redraw_observed=True)
        out = {}
        for name, site in tr.items():
            if site.type not in ("sample", "deterministic") or name not in proto:
                continue
            out[name] = _per_draw(site.value, self.num_samples, proto[name].value,
                                  _is_scan_site(proto[name]))
        return out

    def guide_draws(self, rng: np.random.Generator, args: tuple, kwargs: dict
                    ) -> dict[str, np.ndarray]:
        """``num_samples`` draws of the guide's latent sites with ``params`` fixed: the
        autoguides' own ``sample_posterior`` when there is one, else the guide run once per
        draw (a guide is small: its cost is the Python of one call per draw)."""
        sample_posterior = getattr(self.guide, "sample_posterior", None)
        if sample_posterior is not None:
            seed = int(rng.integers(2**31))
            draws = sample_posterior(seed, self.params, *args,
                                     sample_shape=(self.num_samples,), **kwargs)
            return {k: np.asarray(v) for k, v in draws.items()}
        guide = handlers.substitute(self.guide, data=self.params, strict=False)
        draws: dict[str, list] = {}
        for _ in range(self.num_samples):
            tr = handlers.trace(handlers.seed(guide, rng)).get_trace(*args, **kwargs)
            for name, site in tr.items():
                if site.type == "sample" and not site.is_observed and \
                        not site.infer.get("is_auxiliary", False):
                    draws.setdefault(name, []).append(np.asarray(site.value))
        return {k: np.stack(v) for k, v in draws.items()}

    def _looped(self, rng, args, kwargs) -> dict[str, np.ndarray]:
        draws: dict[str, list] = {}
        for i in range(self.num_samples):
            values = {k: v[i] for k, v in self.posterior.items()}
            model = handlers.substitute(self.model, data=values, strict=False)
            tr = handlers.trace(handlers.seed(_unobserve(model), rng)).get_trace(
                *args, **kwargs)
            for name, site in tr.items():
                if site.type in ("sample", "deterministic"):
                    draws.setdefault(name, []).append(np.asarray(site.value))
        return {k: np.stack(v) for k, v in draws.items()}


def batched_trace(model: Callable, proto: dict, values: dict[str, np.ndarray], num_samples: int,
                  rng: np.random.Generator, args: tuple, kwargs: dict,
                  redraw_observed: bool) -> dict:
    """One trace of ``model`` for ``num_samples`` draws at once: the model runs inside an extra
    plate of that size, left of every plate it uses (``proto``, a trace of one run, tells how
    many), with ``values`` (site -> ``(num_samples, ...)``) substituted; observed sites are
    redrawn (``redraw_observed``) or kept at the data."""
    nesting = max((-f.dim for s in proto.values() for f in s.cond_indep_stack), default=0)
    dim = -(nesting + 1)
    data = {}
    for name, value in values.items():
        site = proto.get(name)
        if site is None:
            continue
        event_dim = site.fn.event_dim if site.type == "sample" else 0
        site_shape = np.shape(site.value)
        if _is_scan_site(site):  # (N, T, *step) -> (T, N, pad, *step): time stays leftmost
            step_shape = site_shape[1:]
            pad = (1,) * (nesting - (len(step_shape) - event_dim))
            draws = np.reshape(value, (num_samples, site_shape[0], *pad, *step_shape))
            data[name] = np.moveaxis(draws, 0, 1)
            continue
        batch_rank = len(site_shape) - event_dim
        pad = (1,) * (nesting - batch_rank)
        data[name] = np.reshape(value, (num_samples, *pad, *site_shape))

    def batched(*a, **k):
        with ppl.plate("_predictive_draws", num_samples, dim=dim):
            return model(*a, **k)

    run = handlers.substitute(batched, data=data, strict=False) if data else batched
    if redraw_observed:
        run = _unobserve(run)
    return handlers.trace(handlers.seed(run, rng)).get_trace(*args, **kwargs)


def _per_draw(value: Any, num_samples: int, one_draw: Any, scan_site: bool = False
              ) -> np.ndarray:
    """``value`` of a batched trace as ``(num_samples, *shape of one draw)``: it has the extra
    plate's axis and size-1 padding, or no draws axis at all (a constant). A ``ppl.scan``
    site has its time axis first and the draws axis second."""
    value = np.asarray(value)
    full = (num_samples, *np.shape(one_draw))
    if value.size != np.prod(full):
        return np.broadcast_to(value, full)
    if scan_site and value.ndim >= 2 and value.shape[1] == num_samples:
        value = np.moveaxis(value, 1, 0)
    return value.reshape(full)


def _is_scan_site(site: Any) -> bool:
    from ppl.control_flow import SCAN_INFO

    return SCAN_INFO in site.infer


class _FromNormals(Messenger):
    """Draw each site that needs a value by its distribution's sampler, fed by ``source``; the
    sites of a ``ppl.scan`` body too (the scan draws them step by step from the same source)."""

    def __init__(self, fn, source):
        super().__init__(fn)
        self.source = source

    def on_sample(self, msg) -> None:
        if msg.is_observed or msg.value is not None:
            return
        msg.value = msg.fn._sample(self.source, msg.fn.shape(msg.kwargs.get("sample_shape", ())))
        msg.done = True

    def on_scan(self, msg) -> None:
        if msg.rng is None:
            msg.rng = self.source


def _unobserve(model):
    """Observed sites are re-drawn (predictive), not held at the data."""
    from ppl.runtime import Messenger, scan_sites

    class Unobserve(Messenger):
        def process_message(self, msg):
            if msg.type == "scan":
                for stand_in in scan_sites(msg):
                    self.process_message(stand_in)
            elif msg.type == "sample" and msg.is_observed:
                msg.is_observed = False
                msg.value = None

    return Unobserve(model)
