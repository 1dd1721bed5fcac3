"""The base of every autoguide: the prototype run of the model, initial values by
``init_loc_fn``, each site's bijector to the unconstrained space, and the shared checks.

See :mod:`inference.autoguide` for the families and the maths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import autodiff.numpy as anp
import ppl
from ppl import constraints, handlers, runtime
from ppl.errors import ModelError, SiteError
from ppl.initialization import resolve_strategy, uniform_radius
from ppl.model import ParamLayout, _InitToUniform, build_layout
from ppl.runtime import Message, Messenger
from ppl.transforms import Transform, biject_to

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


def _positive_scale(guide: str, init_scale: float) -> float:
    """``init_scale`` checked: the initial scale of a normal guide must be positive."""
    if not init_scale > 0:
        raise ValueError(f"{guide}: init_scale must be > 0, got {init_scale!r}")
    return float(init_scale)
