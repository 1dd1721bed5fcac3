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
from autodiff.scipy.special import logsumexp
from autodiff.tree import tree_flatten, tree_unflatten
from ppl import handlers
from ppl.distributions.base import Distribution
from ppl.errors import MissingSeedError, SiteError
from ppl.runtime import Message, Messenger, apply_stack, site_log_prob
from ppl.transforms import biject_to

__all__ = ["FORWARD_MESSAGES", "SCAN_INFO", "StackedSite", "scan"]

#: The key of a site's ``infer`` dict that marks a site made by ``ppl.scan`` (its value: ``T``);
#: such a site's leading axis is time.
SCAN_INFO = "scan_length"
#: The key under which an enumerated chain of states keeps its forward messages (eager runs),
#: for drawing the states back (``infer_discrete``).
FORWARD_MESSAGES = "_forward_messages"


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


class _DrawsFrom(Messenger):
    """Draw each site that needs a value by its distribution's sampler, fed by ``source`` (an
    object with the ``numpy.random.Generator`` methods the sampler calls)."""

    def __init__(self, fn, source: Any):
        super().__init__(fn)
        self.source = source

    def on_sample(self, msg: Message) -> None:
        if msg.is_observed or msg.value is not None:
            return
        msg.value = msg.fn._sample(self.source, msg.fn.shape(msg.kwargs.get("sample_shape", ())))
        msg.done = True


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
        if msg.is_observed and not self.observed.get(msg.name, True):
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
    if isinstance(rng, np.random.Generator):
        model = handlers.seed(model, rng)
    elif rng is not None:  # a source of variates that is not a generator (Predictive's vmap)
        model = _DrawsFrom(model, rng)
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
    query = Message(type="scan", kwargs={"sites": list(stand_ins.values()), "enumerate": {}})
    apply_stack(query)
    values = {n: m.value for n, m in stand_ins.items() if m.value is not None}
    observed = {n: m.is_observed for n, m in stand_ins.items()}
    chains = query.kwargs["enumerate"]  # enumerated discrete states: summed out step by step
    complete = all(n in values or observed[n] or n in chains for n in stand_ins)
    if chains and complete:
        return _forward_algorithm(f, init, xs, T, reverse, frames, values, observed, specs,
                                  chains)
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

    carry, (ys, outs) = _scan_or_loop(body, init, (xs, values), T, reverse)
    return carry, ys, outs


def _staging() -> bool:
    from autodiff.core import _TRACE_STACK
    from autodiff.staging import StagingTrace

    return any(main.trace_type is StagingTrace for main in _TRACE_STACK)


def _scan_or_loop(body, init, xs, length: int, reverse: bool = False):
    """:func:`autodiff.scan` while a graph is being staged (a model being compiled: one loop in
    the generated code, whatever ``length``); a Python loop otherwise (eager runs, also under
    ``grad`` or ``vmap``, where the body may index NumPy arrays with the step's values)."""
    if _staging():
        return autodiff.scan(body, init, xs, length=length, reverse=reverse)
    carry, outs = init, {}
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        carry, outs[t] = body(carry, _slice(xs, t))
    return carry, _stack([outs[t] for t in range(length)])


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


# --------------------------------------------------------------------------------------------
# A Markov chain of enumerated discrete states: the forward algorithm
# --------------------------------------------------------------------------------------------


class _StatesAt(Messenger):
    """Inside a step: the enumerated site takes every state, along ``dim``."""

    def __init__(self, fn, name: str, support: np.ndarray, dim: int):
        super().__init__(fn)
        self.name, self.support, self.dim = name, support, dim

    def on_sample(self, msg: Message) -> None:
        if msg.name == self.name:
            msg.value = self.support.reshape((-1,) + (1,) * (-self.dim - 1))
            msg.done = True


def _pad(x: Any, rank: int) -> Any:
    shape = tuple(anp.shape(x))
    return anp.reshape(x, (1,) * (rank - len(shape)) + shape) if len(shape) < rank else x


def _shift(x: Any, source: int, target: int, rank: int) -> Any:
    """Move the states axis of ``x`` from dim ``source`` to dim ``target`` (whose size must be
    1: a carry may depend on the newest state only, i.e. ``history=1``)."""
    if not hasattr(x, "shape") and np.ndim(x) == 0:
        return x
    x = _pad(x, rank)
    shape = list(anp.shape(x))
    if shape[target] != 1 and shape[source] != 1:
        raise ValueError("ppl.scan: a carried value depends on the states of two steps; "
                         "enumerated scans support history=1 (the carry may depend on the "
                         "newest state only)")
    shape[source], shape[target] = shape[target], shape[source]
    return anp.reshape(x, tuple(shape))  # one of the two axes has size 1: a pure reshape


def _forward_algorithm(f, init, xs, T, reverse, frames, values, observed, specs, chains):
    r"""The body's enumerated state summed out by the forward recursion

    .. math::

        \alpha_t(s) = \log \sum_{s'} \exp\big(\alpha_{t-1}(s') + \phi_t(s', s)\big),

    :math:`\phi_t` the log densities of step :math:`t`'s sites given the previous and the
    current state (summed over plates), in :math:`O(T K^2)`: step 0 runs on its own (its carry
    has no states yet), steps 1..T-1 as one :func:`autodiff.scan`. The state of the previous
    step lives along dim ``previous``, the current one along ``current``; the carry and
    :math:`\alpha` move from ``current`` to ``previous`` between steps. The log marginal is
    attributed step by step, :math:`\log p(y_t \mid y_{<t})`, to the step's first observed
    site (so pointwise log-likelihoods are one-step-ahead predictive)."""
    if reverse:
        raise ValueError("ppl.scan: reverse=True is not supported with enumerated states")
    if len(chains) != 1:
        raise SiteError(sorted(chains)[1], "is a second enumerated site in one ppl.scan body",
                        "enumerate one discrete state per step (combine them into one "
                        "Categorical over their joint states)")
    (name, (previous, current, support)), = chains.items()
    rank = -current
    scored = next((s.name for s in specs if s.type == "sample" and observed.get(s.name)
                   and s.name not in chains), name)

    def step(carry, x, step_values):
        model = _StatesAt(f, name, support, current)
        return _call_step(model, carry, x, frames, step_values, observed)

    def factor(trace):
        total = 0.0
        for site in trace.values():
            if site.type != "sample":
                continue
            lp = _pad(site_log_prob(site), rank)
            other = tuple(a for a in range(-anp.ndim(lp), 0) if a not in (previous, current))
            total = total + (anp.sum(lp, axis=other, keepdims=True) if other else lp)
        return total

    def observed_values(trace):
        return {s.name: trace[s.name].value for s in specs
                if s.type == "sample" and observed.get(s.name) and s.name != name}

    x0 = _slice(xs, 0) if xs is not None else None
    carry, y0, trace0 = step(init, x0, {n: v[0] for n, v in values.items()})
    alpha = _shift(factor(trace0), current, previous, rank)
    first = logsumexp(alpha)
    # eager runs keep the forward messages, so the states can be drawn back (infer_discrete)
    messages = None if _staging() else {"alpha": [alpha], "factor": [], "support": support,
                                        "dims": (previous, current)}
    carry = autodiff.tree_map(lambda leaf: _shift(leaf, current, previous, rank), carry)
    obs0 = observed_values(trace0)

    def body(state, inputs):
        carry, alpha = state
        x, step_values = inputs
        carry, y, trace = step(carry, x, step_values)
        log_factor = factor(trace)
        new = logsumexp(alpha + log_factor, axis=previous, keepdims=True)
        if messages is not None:
            messages["factor"].append(log_factor)
            messages["alpha"].append(_shift(new, current, previous, rank))
        increment = logsumexp(new) - logsumexp(alpha)
        carry = autodiff.tree_map(lambda leaf: _shift(leaf, current, previous, rank), carry)
        return (carry, _shift(new, current, previous, rank)), (y, increment,
                                                                observed_values(trace))

    rest = (autodiff.tree_map(lambda v: v[1:], xs) if xs is not None else None,
            {n: v[1:] for n, v in values.items()})
    if T > 1:
        (carry, alpha), (ys, increments, obs) = _scan_or_loop(body, (carry, alpha), rest,
                                                              T - 1)
        increments = anp.concatenate([anp.reshape(first, (1,)), increments])
        ys = _concat_first(y0, ys)
        obs = {n: anp.concatenate([anp.expand_dims(obs0[n], 0), v]) for n, v in obs.items()}
    else:
        increments = anp.reshape(first, (1,))
        ys = _stack([y0])
        obs = {n: anp.expand_dims(v, 0) for n, v in obs0.items()}
    for spec in specs:
        if spec.type != "sample":
            continue  # deterministic sites of an enumerated body are not reported
        if spec.name == name:
            value = np.zeros((T,) + tuple(spec.fn.batch_shape), dtype=np.int64)
        else:
            value = obs[spec.name] if spec.name in obs else values[spec.name]
        batch = (T,) + tuple(spec.fn.batch_shape)
        log_prob = anp.broadcast_to(anp.reshape(increments, (T,) + (1,) * (len(batch) - 1)),
                                    batch) / float(np.prod(batch[1:], dtype=int)) \
            if spec.name == scored else anp.zeros(batch)
        apply_stack(Message(type="sample", name=spec.name,
                            fn=StackedSite(spec.fn, T, log_prob), value=value,
                            is_observed=observed.get(spec.name, False) and spec.name != name,
                            infer={**spec.infer, SCAN_INFO: T, "enumerate": "parallel",
                                   FORWARD_MESSAGES: messages}
                            if spec.name == name else {**spec.infer, SCAN_INFO: T},
                            cond_indep_stack=list(spec.inner_frames)))
    return carry, ys


def _concat_first(first: Any, rest: Any) -> Any:
    if first is None:
        return None
    leaves, tree = tree_flatten(first)
    rest_leaves = tree_flatten(rest)[0]
    return tree_unflatten(tree, [anp.concatenate([anp.expand_dims(a, 0), b])
                                 for a, b in zip(leaves, rest_leaves)])
