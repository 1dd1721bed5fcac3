r"""``ppl.scan``: a loop whose body has sample sites, traced once (NumPyro's
``numpyro.contrib.control_flow.scan``).

``carry, ys = ppl.scan(f, init, xs)`` runs ``carry, y = f(carry, x)`` over the leading axis of
``xs`` like :func:`autodiff.scan`, and every ``sample`` and ``deterministic`` site inside ``f``
becomes **one** site of the model with a leading time dimension: a latent ``x`` of shape
``(3,)`` per step is a site ``x`` of shape ``(T, 3)``. Handlers outside the scan see those
stacked sites, as in NumPyro.

How it runs
-----------
1. *Discovery*: the body runs once on placeholder values, hidden from the handlers outside,
   to list its sites (names, distributions, shapes, observed or not).
2. *Query*: a ``scan`` message carries one stacked stand-in per site through the handlers
   outside; those that fix values (``substitute``, ``condition``, ``replay``, the unconstrained
   parameters of a compiled model...) fill them in, ``seed`` supplies its generator, plates add
   their frames, ``block`` hides sites.
3. If every site then has a value (always, when a model's log density is evaluated), the
   **density** path runs the body as one :func:`autodiff.scan` over the time steps with the
   sites' values sliced per step, and collects each site's log density per step: in a compiled
   model this is one loop, so the model's size and compile time do not grow with ``T``.
   Otherwise (drawing from the prior, predictive simulation) the **sampling** path runs the body
   step by step in Python, drawing the sites that have no value.
4. *Emission*: each site goes through the handlers outside once, stacked, with its value and a
   distribution (:class:`StackedSite`) whose ``log_prob`` is the per-step log densities
   computed in 3.

Plates entered outside the scan broadcast the body's sites as they would outside it (their
frames apply inside each step); their subsample scale and any ``mask`` outside apply to the
stacked site once. ``param`` sites inside the body are not supported (create them outside and
close over them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff.tree import tree_flatten, tree_unflatten
from ppl import handlers
from ppl.distributions.base import Distribution
from ppl.errors import MissingSeedError, SiteError
from ppl.runtime import Message, Messenger, apply_stack, site_log_prob
from ppl.transforms import biject_to

__all__ = ["SCAN_INFO", "StackedSite", "scan"]

#: The key of a site's ``infer`` dict that marks a site made by ``ppl.scan`` (its value: ``T``);
#: such a site's leading axis is time.
SCAN_INFO = "scan_length"


class StackedSite(Distribution):
    """The distribution of a site of a ``ppl.scan`` body, stacked over the time steps.

    Its support and event shape are the step's; its batch shape is ``(T,) + step batch
    shape``; ``log_prob`` returns the per-step log densities the scan computed for the values
    it was emitted with (the distribution of step ``t`` depends on earlier steps, so there is no
    closed form to evaluate at other values).
    """

    def __init__(self, step: Distribution, length: int, log_prob: Any = None):
        self.step = step
        self.length = int(length)
        self._log_prob_values = log_prob
        super().__init__((self.length, *step.batch_shape), step.event_shape, validate_args=False)

    @property
    def support(self):
        return self.step.support

    @property
    def is_discrete(self) -> bool:
        return self.step.is_discrete

    @property
    def has_enumerate_support(self) -> bool:
        return self.step.has_enumerate_support

    def log_prob(self, value: Any) -> Any:
        if self._log_prob_values is None:
            raise NotImplementedError("the log density of a scan site is known only after "
                                      "the scan ran")
        return self._log_prob_values

    def expand(self, batch_shape) -> StackedSite:
        if tuple(batch_shape) == self.batch_shape:
            return self
        raise ValueError(f"a ppl.scan site of batch shape {self.batch_shape} cannot be expanded "
                         f"to {tuple(batch_shape)}; enter the plate inside the scan's body")

    def _sample(self, rng, shape):
        raise NotImplementedError("a ppl.scan site is drawn by the scan itself")


@dataclass
class _SiteSpec:
    """What discovery learnt about one site of the body."""

    name: str
    type: str  # "sample" or "deterministic"
    fn: Any
    is_observed: bool
    infer: dict
    inner_frames: list


class _OuterFrames(Messenger):
    """Inside a step: the frames of the plates entered outside the scan, broadcasting the
    body's sites as those plates would (no scale: that is applied once to the stacked site)."""

    def __init__(self, fn, frames: list):
        super().__init__(fn)
        self.frames = list(frames)

    def on_sample(self, msg: Message) -> None:
        from ppl.primitives import broadcast_to_plates

        if self.frames:
            msg.cond_indep_stack.extend(self.frames)
            broadcast_to_plates(msg)

    def _frames_only(self, msg: Message) -> None:
        msg.cond_indep_stack.extend(self.frames)

    on_plate = on_deterministic = _frames_only

    def on_param(self, msg: Message) -> None:
        raise SiteError(msg.name, "is a param site inside the body of ppl.scan",
                        "create the param outside the scan and use it inside")


class _Placeholders(Messenger):
    """Discovery: every latent site takes a value inside its support, nothing is drawn."""

    def on_sample(self, msg: Message) -> None:
        if msg.is_observed or msg.value is not None:
            return
        shape = msg.fn.shape(msg.kwargs.get("sample_shape", ()))
        if msg.fn.is_discrete:
            msg.value = np.zeros(shape, dtype=np.int64)
        else:
            transform = biject_to(msg.fn.support)
            msg.value = transform(np.zeros(tuple(transform.inverse_shape(shape))))
        msg.done = True


class _StepValues(Messenger):
    """Inside a step: the values the query fixed (sliced to the step), observed-ness as the
    query left it."""

    def __init__(self, fn, values: dict[str, Any], observed: dict[str, bool]):
        super().__init__(fn)
        self.values, self.observed = values, observed

    def on_sample(self, msg: Message) -> None:
        if msg.name in self.observed and not self.observed[msg.name]:
            msg.is_observed = False  # a handler outside wants it drawn (Predictive)
            if msg.name not in self.values:
                msg.value = None
        if msg.name in self.values:
            msg.value = self.values[msg.name]
            msg.is_observed = self.observed.get(msg.name, msg.is_observed)


def _length(xs: Any, length: int | None) -> int:
    leaves, _ = tree_flatten(xs)
    lengths = {int(anp.shape(x)[0]) for x in leaves if anp.ndim(x) > 0}
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ValueError("ppl.scan: give xs with one common leading length, or length=; got "
                         f"{sorted(lengths) or 'neither'}")
    return lengths.pop()


def _slice(tree: Any, t: int) -> Any:
    return autodiff.tree_map(lambda x: x[t], tree)


def _call_step(f, carry, x, frames, values, observed, rng=None):
    """Run ``f(carry, x)`` for one step; return ``(carry, y, trace)``."""
    box = {}

    def body(c, xx):
        box["out"] = f(c, xx)

    model = _StepValues(body, values, observed)
    if rng is not None:
        model = handlers.seed(model, rng)
    with handlers.block():
        trace = handlers.trace(_OuterFrames(model, frames)).get_trace(carry, x)
    out = box["out"]
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("ppl.scan: the body must return a pair (carry, y)")
    return out[0], out[1], trace


def _discover(f, init, xs, frames) -> list[_SiteSpec]:
    x0 = _slice(xs, 0) if xs is not None else None

    def run(c, xx):
        f(c, xx)

    with handlers.block():
        trace = handlers.trace(_OuterFrames(_Placeholders(run), frames)).get_trace(init, x0)
    specs = []
    outer = {id(fr) for fr in frames}
    for name, site in trace.items():
        if site.type == "param":
            raise SiteError(name, "is a param site inside the body of ppl.scan",
                            "create the param outside the scan and use it inside")
        if site.type not in ("sample", "deterministic"):
            continue
        inner = [fr for fr in site.cond_indep_stack if id(fr) not in outer]
        specs.append(_SiteSpec(name, site.type, site.fn, site.is_observed, dict(site.infer),
                               inner))
    return specs


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, history: int = 1) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``, with sample sites in
    ``f``; return the final carry and the stacked ``y``.

    Every sample and deterministic site of ``f`` becomes one site with a leading time
    dimension of length ``T`` (``length``, or the leading length of ``xs``). ``reverse`` runs
    the steps from last to first (the stacked outputs keep the order of ``xs``); ``history``
    is the number of previous steps a step depends on (NumPyro's argument; kept for the
    enumeration of discrete states, which uses it).

    >>> import numpy as np
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def random_walk(y):
    ...     def step(level, y_t):
    ...         level = ppl.sample("level", dist.Normal(level, 0.5))
    ...         ppl.sample("y", dist.Normal(level, 1.0), obs=y_t)
    ...         return level, level
    ...     return ppl.scan(step, 0.0, y)
    >>> tr = handlers.trace(handlers.seed(random_walk, 0)).get_trace(np.zeros(5))
    >>> tr["level"].value.shape, tr["y"].value.shape, tr["y"].is_observed
    ((5,), (5,), True)
    """
    if not callable(f):
        raise TypeError(f"ppl.scan: f must be a function (carry, x) -> (carry, y), got {f!r}")
    if not isinstance(history, (int, np.integer)) or history < 0:
        raise ValueError(f"ppl.scan: history must be an int >= 0, got {history!r}")
    T = _length(xs, length)
    query = Message(type="scan", kwargs={"sites": []})
    apply_stack(query)  # plates add their frames; seed its generator
    frames = list(query.cond_indep_stack)
    rng = query.rng
    specs = _discover(f, init, xs, frames)
    stand_ins = {}
    for spec in specs:
        if spec.type != "sample":
            continue
        stand_ins[spec.name] = Message(
            type="sample", name=spec.name, fn=StackedSite(spec.fn, T),
            value=None, is_observed=spec.is_observed, infer=dict(spec.infer))
    query = Message(type="scan", kwargs={"sites": list(stand_ins.values())})
    apply_stack(query)
    values = {n: m.value for n, m in stand_ins.items() if m.value is not None}
    observed = {n: m.is_observed for n, m in stand_ins.items()}
    complete = all(n in values or observed[n] for n in stand_ins)
    if complete:
        carry, ys, outputs = _density_path(f, init, xs, T, reverse, frames, values, observed,
                                           specs)
    else:
        carry, ys, outputs = _sampling_path(f, init, xs, T, reverse, frames, values, observed,
                                            specs, rng)
    _emit(specs, outputs, T, observed)
    return carry, ys


def _density_path(f, init, xs, T, reverse, frames, values, observed, specs):
    names = [s.name for s in specs]

    def body(carry, inputs):
        x, step_values = inputs
        carry, y, trace = _call_step(f, carry, x, frames, step_values, observed)
        outs = {}
        for name in names:
            site = trace[name]
            if site.type == "sample":
                outs[name] = (site.value, site_log_prob(site))
            else:
                outs[name] = (site.value, site.value)
        return carry, (y, outs)

    carry, (ys, outs) = autodiff.scan(body, init, (xs, values), length=T, reverse=reverse)
    return carry, ys, outs


def _sampling_path(f, init, xs, T, reverse, frames, values, observed, specs, rng):
    if rng is None:
        missing = next(n for n, obs in observed.items() if n not in values and not obs)
        raise MissingSeedError(
            missing, "is a site inside ppl.scan that needs a random seed to draw its values",
            "wrap the model in handlers.seed(model, 0), or give the site values with "
            "handlers.substitute / handlers.condition")
    steps = range(T - 1, -1, -1) if reverse else range(T)
    carry = init
    per_step: dict[int, tuple] = {}
    for t in steps:
        x = _slice(xs, t) if xs is not None else None
        step_values = {n: v[t] for n, v in values.items()}
        carry, y, trace = _call_step(f, carry, x, frames, step_values, observed, rng)
        outs = {}
        for spec in specs:
            site = trace[spec.name]
            if site.type == "sample":
                outs[spec.name] = (site.value, site_log_prob(site))
            else:
                outs[spec.name] = (site.value, site.value)
        per_step[t] = (y, outs)
    ordered = [per_step[t] for t in range(T)]
    ys = _stack([y for y, _ in ordered])
    outs = {spec.name: tuple(_stack([o[spec.name][k] for _, o in ordered]) for k in (0, 1))
            for spec in specs}
    return carry, ys, outs


def _stack(items: list) -> Any:
    first = items[0]
    if first is None:
        return None
    leaves, tree = tree_flatten(first)
    if not leaves:
        return first
    columns = [tree_flatten(item)[0] for item in items]
    stacked = [anp.stack([col[k] for col in columns]) for k in range(len(leaves))]
    return tree_unflatten(tree, stacked)


def _emit(specs, outputs, T, observed):
    for spec in specs:
        value, log_prob = outputs[spec.name]
        if spec.type == "deterministic":
            apply_stack(Message(type="deterministic", name=spec.name, value=value,
                                cond_indep_stack=list(spec.inner_frames),
                                infer={SCAN_INFO: T}))
            continue
        msg = Message(type="sample", name=spec.name, fn=StackedSite(spec.fn, T, log_prob),
                      value=value, is_observed=observed.get(spec.name, spec.is_observed),
                      infer={**spec.infer, SCAN_INFO: T},
                      cond_indep_stack=list(spec.inner_frames))
        apply_stack(msg)
