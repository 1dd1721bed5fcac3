"""The effect-handler runtime: messages, the handler stack, ``apply_stack`` and ``Messenger``.

A model is a plain Python function that calls the primitives of :mod:`ppl.primitives`
(``sample``, ``param``, ``deterministic``, ``plate``...).  Each primitive call builds a
:class:`Message` and hands it to :func:`apply_stack`, which lets every active handler (a
:class:`Messenger` on the global stack) see and change it:

1. **process**, from the top of the stack (the innermost handler, the one entered last) down to
   the bottom, calling ``handler.process_message(msg)``; a handler that sets ``msg.stop`` hides
   the message from every handler below it (this is how ``block`` works);
2. the **default action** if nobody supplied a value: a ``sample`` site draws
   ``fn.sample(rng, sample_shape)`` with the generator a ``seed`` handler put in ``msg.rng``, a
   ``param`` site takes its initial value, a subsampled ``plate`` draws its indices;
3. **postprocess**, from the lowest handler that processed the message back up to the top,
   calling ``handler.postprocess_message(msg)`` (``trace`` records the site here).

The primitive then returns ``msg.value`` to the model.  This is the design of Pyro's ``poutine``
and NumPyro's ``handlers`` (Pyro's "Poutine: a guide to programming with effect handlers");
only the message is a typed dataclass rather than a dict, and handlers are dispatched by the
message type (``on_sample``/``after_sample``...) rather than by ``if`` chains.

This module owns the machinery only; the handlers themselves are in :mod:`ppl.handlers`, the
primitives in :mod:`ppl.primitives`.

>>> class Double(Messenger):
...     def after_deterministic(self, msg):
...         msg.value = 2 * msg.value
>>> from ppl.primitives import deterministic
>>> with Double():
...     deterministic("x", 21)
42
>>> _STACK
[]
"""

from __future__ import annotations

import dataclasses
import functools
from collections import namedtuple
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import ConcretizationError, Tracer
from ppl.errors import MissingSeedError, ObservedValueError

__all__ = [
    "CondIndepStackFrame",
    "Message",
    "Messenger",
    "apply_handlers",
    "apply_stack",
    "check_finite",
    "concrete_value",
    "scan_sites",
    "site_log_prob",
    "trace_log_density",
]

CondIndepStackFrame = namedtuple("CondIndepStackFrame", ["name", "dim", "size"])
CondIndepStackFrame.__doc__ = """One enclosing plate of a site: its name, its (negative) batch
dim and its size (the subsample size when the plate subsamples)."""

#: The global handler stack; the last element is the innermost (most recently entered) handler.
_STACK: list[Messenger] = []


@dataclasses.dataclass(eq=False)
class Message:
    """Everything a primitive call tells the handlers, and what they tell back.

    The fields are fixed (a typo is an ``AttributeError``, not a silently new key).  For NumPyro
    users a message also reads like a dict: ``msg["value"]``, ``msg.get("infer")``,
    ``"scale" in msg``, ``dict(msg)``.

    Attributes
    ----------
    type : ``"sample"``, ``"param"``, ``"deterministic"``, ``"plate"``, ``"subsample"`` or
        ``"scan"`` (sent by ``ppl.scan`` to ask for its sites' values: :func:`scan_sites`).
    name : the site name (``None`` for ``subsample`` messages).
    fn : the distribution of a ``sample`` site (after handlers: expanded by plates...).
    args, kwargs : arguments of the site's default action (``kwargs["sample_shape"]`` for
        ``sample``; ``constraint``/``event_dim`` for ``param``; ``event_dim`` for ``subsample``).
    value : the site's value: the observation, a substituted value, or the draw.
    is_observed : the value is data (``obs=``/``condition``), not a latent draw.
    scale : multiplies the site's log-density (``None`` means 1); set by ``scale`` and by
        subsampled plates.
    mask : boolean (array) broadcastable to the site's batch shape; ``False`` entries contribute
        no log-density (``None`` means all ``True``); set by ``mask``.
    cond_indep_stack : the enclosing plates, as :class:`CondIndepStackFrame`, innermost first.
    infer : free-form hints for inference algorithms (``sample(..., infer={...})``).
    intermediates : intermediate values of the draw, if the distribution reports them.
    rng : the ``numpy.random.Generator`` a ``seed`` handler supplied for the default action.
    stop : set by a handler to hide the message from the handlers below it (``block``).
    done : the value is final: :func:`apply_stack` will not run the default action.
    """

    type: str
    name: str | None = None
    fn: Any = None
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    value: Any = None
    is_observed: bool = False
    scale: Any = None
    mask: Any = None
    cond_indep_stack: list = dataclasses.field(default_factory=list)
    infer: dict = dataclasses.field(default_factory=dict)
    intermediates: list = dataclasses.field(default_factory=list)
    rng: np.random.Generator | None = None
    stop: bool = False
    done: bool = False

    # -- dict-like reading, for code written against NumPyro's dict messages ----------------
    def __getitem__(self, key: str) -> Any:
        if key not in _FIELDS:
            raise KeyError(f"Message has no field {key!r}; its fields are {sorted(_FIELDS)}")
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in _FIELDS:
            raise KeyError(f"Message has no field {key!r}; its fields are {sorted(_FIELDS)}")
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in _FIELDS

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default) if key in _FIELDS else default

    def keys(self) -> list[str]:
        return list(_FIELDS)

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in _FIELDS]

    def copy(self) -> Message:
        """A copy whose containers (kwargs, plates, infer, intermediates) are copied too."""
        return dataclasses.replace(
            self,
            kwargs=dict(self.kwargs),
            cond_indep_stack=list(self.cond_indep_stack),
            infer=dict(self.infer),
            intermediates=list(self.intermediates),
        )

    @property
    def plates(self) -> tuple[str, ...]:
        """Names of the enclosing plates, innermost first."""
        return tuple(frame.name for frame in self.cond_indep_stack)


_FIELDS = tuple(f.name for f in dataclasses.fields(Message))


# --------------------------------------------------------------------------------------------
# apply_stack and the default actions
# --------------------------------------------------------------------------------------------


def apply_stack(msg: Message) -> Message:
    """Send ``msg`` through the active handlers, run its default action, and return it."""
    return apply_handlers(msg, list(_STACK))


def apply_handlers(msg: Message, handlers: list[Messenger]) -> Message:
    """:func:`apply_stack` over an explicit list of handlers (bottom first).

    ``handlers.do`` uses it to send a copy of a message through only the handlers below it.
    """
    lowest = len(handlers)
    for index in range(len(handlers) - 1, -1, -1):
        handlers[index].process_message(msg)
        lowest = index
        if msg.stop:  # hide the message from every handler further down (block)
            break
    if msg.value is None and not msg.done:
        action = _DEFAULT_ACTIONS.get(msg.type)
        if action is not None:
            action(msg, handlers)
    msg.done = True
    for handler in handlers[lowest:]:
        handler.postprocess_message(msg)
    return msg


def _missing_seed(msg: Message, handlers: list[Messenger], what: str) -> MissingSeedError:
    hidden = any(getattr(h, "provides_rng", False) for h in handlers)
    fix = (
        "wrap the model in handlers.seed(model, 0) (or run it inside "
        "`with handlers.seed(rng_seed=0):`), or give the site a value with "
        "handlers.substitute / handlers.condition"
    )
    if hidden:
        fix = (
            "a seed handler is active but a handler inside it (block?) hides this site from it: "
            "put handlers.seed inside the block, e.g. block(seed(model, 0))"
        )
    kind = "plate" if msg.type == "plate" else "site"
    return MissingSeedError(
        msg.name, f"needs a random seed to {what}, and none was given", fix, kind=kind
    )


def _draw_sample(msg: Message, handlers: list[Messenger]) -> None:
    if msg.rng is None:
        raise _missing_seed(msg, handlers, "draw a value")
    sample_shape = tuple(msg.kwargs.get("sample_shape", ()))
    with_intermediates = getattr(msg.fn, "sample_with_intermediates", None)
    if with_intermediates is not None:
        msg.value, msg.intermediates = with_intermediates(msg.rng, sample_shape)
    else:
        msg.value = msg.fn.sample(msg.rng, sample_shape)


def _init_param(msg: Message, handlers: list[Messenger]) -> None:
    init_value = msg.args[0] if msg.args else None
    if callable(init_value):  # a lazy initialiser: init_value(rng) -> array
        if msg.rng is None:
            raise _missing_seed(msg, handlers, "call its init_value")
        init_value = init_value(msg.rng)
    msg.value = init_value


def _subsample_indices(msg: Message, handlers: list[Messenger]) -> None:
    size, subsample_size = msg.args
    if msg.rng is None:
        raise _missing_seed(msg, handlers, f"draw {subsample_size} of {size} indices")
    msg.value = msg.rng.choice(size, size=subsample_size, replace=False)


_DEFAULT_ACTIONS: dict[str, Callable[[Message, list], None]] = {
    "sample": _draw_sample,
    "param": _init_param,
    "plate": _subsample_indices,
}


# --------------------------------------------------------------------------------------------
# Messenger
# --------------------------------------------------------------------------------------------


class Messenger:
    """Base class of effect handlers: a context manager and a function wrapper.

    ``Handler(fn, ...)(*args)`` runs ``fn(*args)`` with the handler on the stack;
    ``with Handler(...):`` puts it on the stack for a block of code; ``Handler(...)`` without
    ``fn`` also works as a decorator.  A subclass reacts to messages by defining methods named
    after the message type: ``on_sample(msg)`` is called while the message travels down the
    stack, ``after_sample(msg)`` after the default action (likewise ``on_param``,
    ``after_plate``...).  Override ``process_message``/``postprocess_message`` to see every type.

    The handler is removed from the stack when its block exits, also when the model raises:
    handlers above it that were never exited (their ``__exit__`` was skipped) go too.
    """

    #: True for handlers that supply random generators (``seed``); used to word errors.
    provides_rng = False

    def __init__(self, fn: Callable | None = None):
        if fn is not None and not callable(fn):
            raise TypeError(
                f"{type(self).__name__}: expected a model function (a callable) as `fn`, got "
                f"{type(fn).__name__}. Pass the model first, e.g. {type(self).__name__}(model, ...)"
            )
        self.fn = fn
        if fn is not None:
            functools.update_wrapper(self, fn, updated=[])

    def __enter__(self) -> Any:
        _STACK.append(self)
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        # Remove this handler and anything entered after it: when an exception unwinds through
        # nested handlers, those above it may not have been exited cleanly.
        for index in range(len(_STACK) - 1, -1, -1):
            if _STACK[index] is self:
                del _STACK[index:]
                break

    def process_message(self, msg: Message) -> None:
        method = getattr(self, "on_" + msg.type, None)
        if method is not None:
            method(msg)

    def postprocess_message(self, msg: Message) -> None:
        method = getattr(self, "after_" + msg.type, None)
        if method is not None:
            method(msg)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fn is None:  # used as a decorator: Handler(...)(model)
            if len(args) != 1 or kwargs or not callable(args[0]):
                raise TypeError(
                    f"{type(self).__name__} was created without a model; call it with the model "
                    f"function to wrap it, e.g. {type(self).__name__}(...)(model)"
                )
            self.fn = args[0]
            functools.update_wrapper(self, self.fn, updated=[])
            return self
        with self:
            return self.fn(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# Values: concreteness, finiteness, log-densities of sites and traces
# --------------------------------------------------------------------------------------------


def concrete_value(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array if its value is known now, else ``None`` (an abstract tracer)."""
    if isinstance(x, Tracer):
        try:
            return np.asarray(x.concrete_value())
        except ConcretizationError:
            return None
    try:
        return np.asarray(x)
    except Exception:  # objects NumPy cannot convert are not data
        return None


def check_finite(name: str, value: Any, where: str, mask: Any = None, event_dim: int = 0) -> None:
    """Raise :class:`~ppl.errors.ObservedValueError` if concrete ``value`` has NaN/inf entries.

    Events where ``mask`` (broadcastable to the batch dims, i.e. all but the rightmost
    ``event_dim`` dims of ``value``) is False are not checked: they are missing by design.
    Abstract (traced) values cannot be checked and pass.
    """
    if isinstance(value, Tracer):
        return
    array = concrete_value(value)
    if array is None or array.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(array)
    if mask is not None and concrete_value(mask) is not None:
        keep = np.asarray(concrete_value(mask), dtype=bool)
        keep = keep.reshape(keep.shape + (1,) * event_dim)
        bad = bad & np.broadcast_to(keep, np.broadcast_shapes(keep.shape, bad.shape))
    if np.any(bad):
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ObservedValueError(
            name,
            f"{where} contains {int(np.sum(bad))} non-finite (NaN or inf) entr"
            f"{'y' if np.sum(bad) == 1 else 'ies'} of {array.size}, the first at index {first}",
            "remove or impute them, or pass obs_mask=np.isfinite(data) to sample() to treat "
            "them as missing values",
        )


def scan_sites(msg: Message) -> list[Message]:
    """The stand-ins of a ``scan`` message's sites that no ``block`` has hidden.

    ``ppl.scan`` sends one ``scan`` message before it runs its body: its
    ``kwargs["sites"]`` are stacked stand-ins of the body's sample sites, which handlers that
    fix values fill in (``on_scan``) exactly as they would fill the sites themselves."""
    return [site for site in msg.kwargs.get("sites", ()) if not site.stop]


def site_log_prob(site: Message) -> Any:
    r"""Log-density of one sample site, masked and scaled: ``scale * where(mask, log p(value), 0)``.

    The result has the site's batch shape (``log_prob`` reduces event dimensions only).
    """
    log_prob = site.fn.log_prob(site.value)
    if site.mask is not None:
        log_prob = anp.where(site.mask, log_prob, 0.0)
    if site.scale is not None:
        log_prob = site.scale * log_prob
    return log_prob


def trace_log_density(trace: dict[str, Message]) -> Any:
    r"""Joint log-density of a trace: :math:`\sum_{\text{sample sites}} \sum
    \text{scale}\cdot\text{mask}\cdot\log p(\text{value})`, over latent and observed sites."""
    total = 0.0
    for site in _sample_sites(trace.values()):
        total = total + anp.sum(site_log_prob(site))
    return total


def _sample_sites(sites: Iterable[Message]) -> Iterable[Message]:
    return (s for s in sites if s.type == "sample")
