"""Effect handlers: small, composable interpreters of a model's primitive calls.

Each handler is a :class:`~ppl.runtime.Messenger`: use it as a function wrapper,
``handlers.trace(handlers.seed(model, 0)).get_trace(*args)``, or as a context manager,
``with handlers.seed(rng_seed=0): ...``.  The set and the semantics are NumPyro's
(``numpyro.handlers``, modelled on Pyro's ``poutine``):

=================  =============================================================================
``trace``          records every site (an ``OrderedDict`` name -> :class:`~ppl.runtime.Message`)
``seed``           supplies a ``numpy.random.Generator`` to sample sites (int seed or Generator)
``condition``      fixes sample sites to data and marks them observed
``substitute``     fixes site values (sample, param, deterministic, plate) without observing them
``replay``         reuses the latent values of a recorded trace
``block``          hides sites from the handlers outside it
``mask``           excludes log-density terms where a boolean mask is False
``scale``          multiplies sites' log-densities by a positive factor
``do``             intervention: the model sees the fixed value, the site stays a free draw
``reparam``        rewrites sites with a reparameteriser (:mod:`ppl.reparam`)
``infer_config``   adds ``infer`` hints to sample sites
=================  =============================================================================

Handlers compose by nesting; the innermost (the one closest to the model, entered last) sees a
site first.  ``condition``, ``substitute`` and ``do`` check, when the model finishes, that every
name they were given is a site of the model (a misspelling would otherwise be silently
ignored); pass ``strict=False`` to allow extra names (e.g. a guide's parameters).

>>> import ppl
>>> from ppl import dist, handlers
>>> def model():
...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
...     return ppl.sample("y", dist.Normal(mu, 1.0))
>>> tr = handlers.trace(handlers.seed(handlers.condition(model, {"y": 0.5}), 0)).get_trace()
>>> list(tr), tr["y"]["is_observed"], float(tr["y"].value)
(['mu', 'y'], True, 0.5)
"""

from __future__ import annotations

import difflib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer
from ppl import runtime
from ppl.errors import DuplicateSiteError, SiteError, UnknownSiteError
from ppl.runtime import Message, Messenger, apply_handlers, check_finite, scan_sites

__all__ = [
    "block",
    "condition",
    "do",
    "infer_config",
    "log_density",
    "mask",
    "reparam",
    "replay",
    "scale",
    "seed",
    "substitute",
    "trace",
]

Model = Callable[..., Any]


# --------------------------------------------------------------------------------------------
# trace, seed
# --------------------------------------------------------------------------------------------


class trace(Messenger):
    """Record the sites of a model run: an ``OrderedDict`` name -> message copy.

    Sample, param, deterministic and plate sites are recorded (``plate`` sites hold the plate's
    indices).  Sample and deterministic names must be unique within a run; a param or plate
    name may repeat (the same parameter or plate used twice).

    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     with ppl.plate("n", 3):
    ...         ppl.sample("x", dist.Normal(0.0, 1.0))
    >>> tr = handlers.trace(handlers.seed(model, 0)).get_trace()
    >>> site = tr["x"]
    >>> site["value"].shape, site["is_observed"], site["fn"].batch_shape, site.plates
    ((3,), False, (3,), ('n',))
    """

    def __init__(self, fn: Model | None = None):
        super().__init__(fn)
        self.trace: OrderedDict[str, Message] = OrderedDict()

    def __enter__(self) -> OrderedDict[str, Message]:
        super().__enter__()
        self.trace = OrderedDict()
        return self.trace

    def postprocess_message(self, msg: Message) -> None:
        if msg.name is None:  # e.g. subsample messages
            return
        previous = self.trace.get(msg.name)
        if previous is not None and not (previous.type == msg.type in ("param", "plate")):
            raise DuplicateSiteError(
                msg.name,
                f"the name is used twice in one model run (first as a {previous.type} site, "
                f"now as a {msg.type} site)",
                "give each sample/deterministic site a unique name, e.g. with an f-string "
                "such as f'x_{i}' inside a loop",
            )
        self.trace[msg.name] = msg.copy()

    def get_trace(self, *args: Any, **kwargs: Any) -> OrderedDict[str, Message]:
        """Run the model with ``*args, **kwargs`` and return the recorded trace."""
        self(*args, **kwargs)
        return self.trace


class seed(Messenger):
    """Supply random numbers to the sites that need them (sample, lazy param, subsampled plate).

    Parameters
    ----------
    fn : the model (optional: use as a context manager or decorator without it).
    rng_seed : an int or a ``numpy.random.Generator``.  With an int, every call (every entry of
        the context) starts a fresh ``numpy.random.default_rng(rng_seed)`` stream, so two runs
        of ``seed(model, 0)`` draw identical values; a Generator is used as is and advances
        from call to call.

    Sites draw from the one stream in program order; a site whose value is already given
    (observed, substituted) consumes nothing.

    >>> import ppl
    >>> from ppl import dist, handlers
    >>> with handlers.seed(rng_seed=1):
    ...     x = ppl.sample("x", dist.Normal(0.0, 1.0))
    >>> y = handlers.seed(lambda: ppl.sample("y", dist.Normal(0.0, 1.0)), rng_seed=1)()
    >>> bool(x == y)
    True
    """

    provides_rng = True

    def __init__(self, fn: Model | None = None, rng_seed: int | np.random.Generator | None = None):
        is_int = isinstance(rng_seed, (int, np.integer)) and not isinstance(rng_seed, bool)
        if not (is_int or isinstance(rng_seed, np.random.Generator)):
            raise TypeError(
                f"seed: rng_seed must be an int or a numpy.random.Generator, got "
                f"{type(rng_seed).__name__} {rng_seed!r}; e.g. handlers.seed(model, 0) or "
                f"handlers.seed(model, np.random.default_rng(0))"
            )
        self.rng_seed = rng_seed
        self.rng: np.random.Generator | None = None
        super().__init__(fn)

    def __enter__(self) -> seed:
        if isinstance(self.rng_seed, np.random.Generator):
            self.rng = self.rng_seed
        else:  # a fresh stream per run: reproducible calls
            self.rng = np.random.default_rng(int(self.rng_seed))
        return super().__enter__()

    def _supply(self, msg: Message) -> None:
        if msg.rng is None and msg.value is None:
            msg.rng = self.rng

    on_sample = on_param = on_plate = on_scan = _supply


# --------------------------------------------------------------------------------------------
# condition, substitute, do: value-fixing handlers that check the names they were given
# --------------------------------------------------------------------------------------------


class _NameChecked(Messenger):
    """Base of handlers given a dict of site values: report the names that were never sites."""

    _kind = "sample site"  # what the names must be (for the error message)

    def __init__(self, fn: Model | None, data: dict | None, strict: bool):
        if data is not None and not hasattr(data, "keys"):
            raise TypeError(
                f"{type(self).__name__}: data must be a dict of site name -> value, got "
                f"{type(data).__name__}"
            )
        self.data = data
        self.strict = strict
        self._seen: list[str] = []
        super().__init__(fn)

    def __enter__(self) -> Any:
        self._seen = []
        return super().__enter__()

    def _see(self, msg: Message) -> None:
        if msg.name is not None and msg.name not in self._seen:
            self._seen.append(msg.name)

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        super().__exit__(exc_type, exc_value, traceback)
        if exc_type is None and self.strict and self.data is not None:
            self._check_names()

    def _check_names(self) -> None:
        unknown = [str(name) for name in self.data if name not in self._seen]
        if not unknown:
            return
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, self._seen, n=3, cutoff=0.6)
            hints.append(
                f"for '{name}' did you mean {' or '.join(map(repr, close))}?" if close else ""
            )
        hint = " ".join(h for h in hints if h)
        known = ", ".join(map(repr, self._seen)) if self._seen else "none"
        raise UnknownSiteError(
            unknown,
            f"{type(self).__name__} was given a value for "
            f"{'this name' if len(unknown) == 1 else 'these names'}, but the model has no "
            f"{self._kind} of that name (its {self._kind}s: {known})"
            + (f"; {hint}" if hint else ""),
            f"fix the spelling, or pass strict=False to {type(self).__name__} to ignore names "
            f"that are not sites",
        )


class condition(_NameChecked):
    """Fix sample sites to values and mark them observed (they become data).

    Parameters
    ----------
    fn : the model.
    data : dict site name -> observed value.
    condition_fn : alternatively, a function ``site -> value or None``.
    strict : raise when a name in ``data`` is not a sample site of the model run.

    >>> import ppl
    >>> from ppl import dist, handlers
    >>> model = lambda: ppl.sample("a", dist.Normal(0.0, 1.0))
    >>> tr = handlers.trace(handlers.condition(model, {"a": -1.0})).get_trace()
    >>> tr["a"].value, tr["a"].is_observed
    (-1.0, True)
    """

    def __init__(
        self,
        fn: Model | None = None,
        data: dict | None = None,
        condition_fn: Callable[[Message], Any] | None = None,
        *,
        strict: bool = True,
    ):
        if (data is None) == (condition_fn is None):
            raise ValueError("condition: give exactly one of `data` (a dict) and `condition_fn`")
        self.condition_fn = condition_fn
        super().__init__(fn, data, strict)

    def on_sample(self, msg: Message) -> None:
        self._see(msg)
        value = self.data.get(msg.name) if self.data is not None else self.condition_fn(msg)
        if value is None:
            return
        check_finite(msg.name, value, "the value given to condition")
        msg.value = value
        msg.is_observed = True

    def on_scan(self, msg: Message) -> None:
        for site in scan_sites(msg):
            self.on_sample(site)


class substitute(_NameChecked):
    """Fix the values of sites without marking them observed.

    Applies to sample, param, deterministic and plate sites (a plate's value is its subsample
    indices).  This is how inference feeds parameter values into a model; to condition a model
    on data use :class:`condition`.

    Parameters
    ----------
    fn : the model.
    data : dict site name -> value.
    substitute_fn : alternatively, a function ``site -> value or None``.
    strict : raise when a name in ``data`` is not a site of the model run.

    >>> import ppl
    >>> from ppl import dist, handlers
    >>> model = lambda: ppl.sample("a", dist.Normal(0.0, 1.0))
    >>> tr = handlers.trace(handlers.substitute(model, {"a": -1.0})).get_trace()
    >>> tr["a"].value, tr["a"].is_observed
    (-1.0, False)
    """

    _kind = "site"

    def __init__(
        self,
        fn: Model | None = None,
        data: dict | None = None,
        substitute_fn: Callable[[Message], Any] | None = None,
        *,
        strict: bool = True,
    ):
        if (data is None) == (substitute_fn is None):
            raise ValueError("substitute: give exactly one of `data` (a dict) and `substitute_fn`")
        self.substitute_fn = substitute_fn
        super().__init__(fn, data, strict)

    def _substitute(self, msg: Message) -> None:
        self._see(msg)
        value = self.data.get(msg.name) if self.data is not None else self.substitute_fn(msg)
        if value is not None:
            msg.value = value

    on_sample = on_param = on_deterministic = on_plate = _substitute

    def on_scan(self, msg: Message) -> None:
        for site in scan_sites(msg):
            self._substitute(site)


class do(_NameChecked):
    """Intervene on sample sites: the model continues with the given value, as if the line
    were ``z = value``, while the site ``z`` itself stays an unobserved draw from its
    distribution whose value is not used (NumPyro's semantics, after Pyro's ``do``; see
    Richardson & Robins, "Single World Intervention Graphs", 2013).

    Handlers outside ``do`` see a free site ``z``; handlers inside it also see an observed site
    ``z__CF`` holding the intervention.  Compare :class:`condition`, which makes ``z`` data:
    conditioning changes the posterior of ``z``'s parents, an intervention does not.

    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     z = ppl.sample("z", dist.Normal(0.0, 1.0))
    ...     return z ** 2
    >>> with handlers.trace() as tr:
    ...     z2 = handlers.seed(handlers.do(model, {"z": 3.0}), 0)()
    >>> z2, tr["z"].is_observed, bool(tr["z"].value != 3.0)
    (9.0, False, True)
    """

    def __init__(self, fn: Model | None = None, data: dict | None = None, *, strict: bool = True):
        if data is None:
            raise ValueError("do: give `data`, a dict of site name -> intervention value")
        super().__init__(fn, data, strict)

    def on_sample(self, msg: Message) -> None:
        self._see(msg)
        intervention = self.data.get(msg.name)
        if intervention is None:
            return
        # The free copy carries what the handlers inside `do` have done so far (plates, seeds,
        # masks) and continues through the handlers outside `do` only, so nothing is applied
        # twice.  The original, renamed, returns the intervention to the model and is hidden
        # from the outside.
        stack = runtime._STACK
        position = next(i for i in range(len(stack) - 1, -1, -1) if stack[i] is self)
        apply_handlers(msg.copy(), stack[:position])
        msg.name = msg.name + "__CF"
        msg.value = intervention
        msg.is_observed = True
        msg.stop = True


# --------------------------------------------------------------------------------------------
# replay, block
# --------------------------------------------------------------------------------------------


class replay(Messenger):
    """Reuse the values of the latent sample sites (and plates) of a recorded trace.

    Observed sites keep their data.  A site of the trace that was observed or is not a sample
    site cannot be replayed into a latent site (an error names it).

    >>> import ppl
    >>> from ppl import dist, handlers
    >>> model = lambda: ppl.sample("a", dist.Normal(0.0, 1.0))
    >>> first = handlers.trace(handlers.seed(model, 0)).get_trace()
    >>> again = handlers.trace(handlers.seed(handlers.replay(model, first), 1)).get_trace()
    >>> bool(again["a"].value == first["a"].value)
    True
    """

    def __init__(self, fn: Model | None = None, trace: dict | None = None):
        if trace is None:
            raise ValueError("replay: give `trace`, a trace recorded by handlers.trace")
        self.trace = trace
        super().__init__(fn)

    def on_sample(self, msg: Message) -> None:
        if msg.name not in self.trace or msg.is_observed:
            return
        recorded = self.trace[msg.name]
        if recorded["type"] != "sample" or recorded["is_observed"]:
            raise SiteError(
                msg.name,
                f"replay: the trace holds an {'observed ' if recorded['is_observed'] else ''}"
                f"{recorded['type']} site of this name, which cannot supply a latent draw",
                "replay a trace in which the site is a latent sample site",
            )
        msg.value = recorded["value"]
        msg.infer = dict(recorded["infer"])

    def on_plate(self, msg: Message) -> None:
        recorded = self.trace.get(msg.name)
        if recorded is not None and recorded["type"] == "plate":
            msg.value = recorded["value"]

    def on_scan(self, msg: Message) -> None:
        for site in scan_sites(msg):
            self.on_sample(site)


class block(Messenger):
    """Hide sites from the handlers outside this one (they still run and get values).

    With no argument every site is hidden.  Otherwise the first given of ``hide_fn`` (a
    function ``site -> bool``), ``hide`` (names), ``expose_types`` (types to show) and
    ``expose`` (names to show) decides (NumPyro's precedence).

    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     a = ppl.sample("a", dist.Normal(0.0, 1.0))
    ...     return ppl.sample("b", dist.Normal(a, 1.0))
    >>> list(handlers.trace(handlers.block(handlers.seed(model, 0), hide=["a"])).get_trace())
    ['b']
    """

    def __init__(
        self,
        fn: Model | None = None,
        hide_fn: Callable[[Message], bool] | None = None,
        hide: Iterable[str] | None = None,
        expose: Iterable[str] | None = None,
        expose_types: Iterable[str] | None = None,
    ):
        if hide_fn is not None:
            self.hide_fn = hide_fn
        elif hide is not None:
            hidden = set(hide)
            self.hide_fn = lambda msg: msg.name in hidden
        elif expose_types is not None:
            shown_types = set(expose_types)
            self.hide_fn = lambda msg: msg.type not in shown_types
        elif expose is not None:
            shown = set(expose)
            self.hide_fn = lambda msg: msg.name not in shown
        else:
            self.hide_fn = lambda msg: True
        super().__init__(fn)

    def process_message(self, msg: Message) -> None:
        if msg.type == "scan" and not self.hide_fn(msg):
            for site in scan_sites(msg):  # hide the loop's sites one by one
                site.stop = site.stop or bool(self.hide_fn(site))
            return
        if self.hide_fn(msg):
            msg.stop = True


# --------------------------------------------------------------------------------------------
# mask, scale, reparam, infer_config
# --------------------------------------------------------------------------------------------


def _logical_and(a: Any, b: Any) -> Any:
    if a is None or (isinstance(a, bool) and a):
        return b
    if isinstance(b, bool) and b:
        return a
    return anp.logical_and(a, b)


class mask(Messenger):
    """Exclude log-density terms where ``mask`` is False.

    ``mask`` is a bool or a boolean array broadcastable to the batch shape of the sites; it is
    combined (logical and) into each sample site's ``mask`` field, which
    :func:`~ppl.runtime.site_log_prob` applies as ``where(mask, log_prob, 0)``.  Values are
    still drawn for masked sites.
    """

    def __init__(self, fn: Model | None = None, mask: Any = True):
        dtype = mask.dtype if isinstance(mask, Tracer) else np.asarray(mask).dtype
        if dtype != np.bool_:
            raise TypeError(
                f"mask: expected a bool or a boolean array, got dtype {dtype}; build it with a "
                f"comparison, e.g. mask=(x > 0) or mask=~np.isnan(y)"
            )
        self.mask = mask
        super().__init__(fn)

    def on_sample(self, msg: Message) -> None:
        msg.mask = _logical_and(msg.mask, self.mask)


class scale(Messenger):
    """Multiply the log-density of sample sites by ``scale`` (a positive float or array).

    Used for subsampling (``plate`` does it automatically) and for weighting data.
    """

    def __init__(self, fn: Model | None = None, scale: Any = 1.0):
        value = runtime.concrete_value(scale)
        if value is not None and np.any(value <= 0):
            raise ValueError(f"scale: the factor must be positive, got {scale!r}")
        self.scale = scale
        super().__init__(fn)

    def on_sample(self, msg: Message) -> None:
        msg.scale = self.scale if msg.scale is None else self.scale * msg.scale


class reparam(Messenger):
    """Rewrite sample sites with reparameterisers (see :mod:`ppl.reparam`).

    ``config`` is a dict site name -> reparameteriser, or a function ``site -> reparameteriser
    or None``.  A reparameteriser ``r(name, fn, obs) -> (new_fn, value)`` may add auxiliary
    sites; when it returns ``new_fn=None`` the site becomes a deterministic site holding
    ``value`` (Gorinova, Moore & Hoffman, "Automatic Reparameterisation of Probabilistic
    Programs", ICML 2020).
    """

    def __init__(self, fn: Model | None = None, config: dict | Callable | None = None):
        if not (isinstance(config, dict) or callable(config)):
            raise TypeError(
                "reparam: config must be a dict site name -> reparameteriser or a function "
                f"site -> reparameteriser, got {type(config).__name__}"
            )
        self.config = config
        super().__init__(fn)

    def on_sample(self, msg: Message) -> None:
        rule = self.config.get(msg.name) if isinstance(self.config, dict) else self.config(msg)
        if rule is None:
            return
        new_fn, value = rule(msg.name, msg.fn, msg.value if msg.is_observed else None)
        if value is None:
            msg.fn = new_fn
            return
        if new_fn is None:  # the site is now a deterministic function of auxiliary sites
            msg.type, msg.fn, msg.value, msg.is_observed = "deterministic", None, value, False
            msg.kwargs, msg.scale, msg.mask = {}, None, None
            return
        if msg.value is None:  # a value computed from auxiliary sites, scored by new_fn
            msg.is_observed = True
        msg.fn, msg.value = new_fn, value


class infer_config(Messenger):
    """Update each sample site's ``infer`` dict with ``config_fn(site)``."""

    def __init__(self, fn: Model | None = None, config_fn: Callable[[Message], dict] | None = None):
        if config_fn is None:
            raise ValueError("infer_config: give `config_fn`, a function site -> dict")
        self.config_fn = config_fn
        super().__init__(fn)

    def on_sample(self, msg: Message) -> None:
        msg.infer.update(self.config_fn(msg))


# --------------------------------------------------------------------------------------------
# log_density
# --------------------------------------------------------------------------------------------


def log_density(
    model: Model,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
    params: dict | None = None,
) -> tuple[Any, OrderedDict[str, Message]]:
    r"""Joint log-density of a model at ``params``, and the trace.

    .. math:: \log p = \sum_{\text{sample sites } s} \sum \text{scale}_s \cdot
       \mathbb{1}[\text{mask}_s] \cdot \log p_s(\text{value}_s \mid \text{parents})

    over latent and observed sites, in the constrained space (no Jacobian).  Every latent site
    needs a value in ``params`` (or a ``seed`` around the model).

    >>> import ppl
    >>> from ppl import dist
    >>> model = lambda y: ppl.sample("y", dist.Normal(ppl.sample("mu", dist.Normal(0.0, 1.0)), 1.0), obs=y)
    >>> lp, tr = log_density(model, (0.0,), params={"mu": 0.0})
    >>> round(float(lp), 6)  # two standard normal densities at 0
    -1.837877
    """
    model = substitute(model, data=dict(params or {}))
    model_trace = trace(model).get_trace(*model_args, **(model_kwargs or {}))
    return runtime.trace_log_density(model_trace), model_trace
