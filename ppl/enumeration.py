r"""Discrete latent sites summed out exactly: parallel enumeration and tensor variable
elimination.

A sample site with finite support marked ``infer={"enumerate": "parallel"}`` (or by
:func:`config_enumerate`) takes, instead of one value, *all* values of its support, laid
along a dimension of its own to the left of every plate (:class:`EnumerateSites`). Every log
density downstream then broadcasts over that dimension, so one run of the model computes the
log factor of every configuration at once. :func:`enumerated_log_density` contracts those
factors into the marginal log density: it eliminates the enumerated variables one at a time,
most local (inside the most plates) first; for variable :math:`z` inside plates :math:`P_z`
the factors that depend on it are reduced to :math:`P_z` (a sum over their other plate
dimensions, which is the product over conditionally independent copies), added, and
:math:`z` is summed out with ``logsumexp`` (Obermeyer et al. 2019, "Tensor variable
elimination for plated factor graphs", for plates that nest, as they do in a model's code).
The cost is that of the largest factor, not of the number of joint configurations: a mixture of
``K`` components over ``N`` points costs ``O(NK)``.

>>> import numpy as np
>>> import ppl
>>> from ppl import dist, handlers
>>> def mixture(x):
...     with ppl.plate("data", len(x)):
...         z = ppl.sample("z", dist.Bernoulli(0.3), infer={"enumerate": "parallel"})
...         ppl.sample("x", dist.Normal(2.0 * z, 1.0), obs=x)
>>> tr = handlers.trace(EnumerateSites(mixture, max_plate_nesting=1)).get_trace(np.zeros(4))
>>> tr["z"].value.shape, tr["x"].fn.batch_shape
((2, 1), (2, 4))
>>> from scipy.stats import norm
>>> exact = 4 * np.log(0.3 * norm.pdf(0.0, 2.0) + 0.7 * norm.pdf(0.0, 0.0))
>>> bool(np.isclose(enumerated_log_density(tr), exact))
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff.scipy.special import logsumexp
from ppl import handlers
from ppl.errors import SiteError
from ppl.runtime import Message, Messenger, site_log_prob

__all__ = [
    "ENUM_DIM",
    "EnumerateSites",
    "config_enumerate",
    "enumerated_log_density",
    "enumerated_sites",
    "is_enumerated",
]

#: The key of a site's ``infer`` dict that records the dimension its values were laid along.
ENUM_DIM = "_enumerate_dim"


def is_enumerated(msg: Message) -> bool:
    """A latent sample site marked for parallel enumeration."""
    return (msg.type == "sample" and not msg.is_observed
            and msg.infer.get("enumerate") == "parallel")


def config_enumerate(fn: Callable | None = None, default: str = "parallel") -> Any:
    """Mark every discrete latent site of ``fn`` for enumeration (NumPyro's
    ``config_enumerate``); usable as a decorator."""
    if default != "parallel":
        raise ValueError(f"config_enumerate: only 'parallel' enumeration is supported, got "
                         f"{default!r}")

    def config(msg: Message) -> dict:
        if msg.type == "sample" and not msg.is_observed and msg.fn.is_discrete \
                and "enumerate" not in msg.infer:
            return {"enumerate": default}
        return {}

    if fn is None:
        return lambda model: handlers.infer_config(model, config_fn=config)
    return handlers.infer_config(fn, config_fn=config)


class EnumerateSites(Messenger):
    """Give each enumerated site every value of its support, along a new dimension left of
    the plates (the first at ``-(max_plate_nesting + 1)``, the next one further left...)."""

    def __init__(self, fn: Callable | None = None, max_plate_nesting: int = 0,
                 auto: tuple[str, ...] = ()):
        super().__init__(fn)
        self.first_dim = -(int(max_plate_nesting) + 1)
        self.auto = tuple(auto)  # unmarked sites to enumerate too (inside ppl.scan)
        self.dims: dict[str, int] = {}

    def __enter__(self) -> Any:
        self.dims = {}
        return super().__enter__()

    def on_scan(self, msg: Message) -> None:
        """A discrete state inside ``ppl.scan``: two dims (the previous and the current step's
        state), for the scan's forward algorithm."""
        from ppl.runtime import scan_sites

        for stand_in in scan_sites(msg):
            if stand_in.is_observed or stand_in.value is not None \
                    or not stand_in.fn.is_discrete:
                continue
            if not (is_enumerated(stand_in) or stand_in.name in self.auto):
                continue
            step = stand_in.fn.step
            if not step.has_enumerate_support:
                raise SiteError(stand_in.name, f"is marked for enumeration but "
                                f"{type(step).__name__} has no finite support to enumerate",
                                "truncate it to a finite range (e.g. a Categorical)")
            support = np.asarray(step.enumerate_support(expand=False)).reshape(-1)
            if np.all(support == np.round(support)):
                support = support.astype(np.int64)
            previous = self.first_dim - len(self.dims)
            self.dims[stand_in.name + "@previous"] = previous
            self.dims[stand_in.name] = previous - 1
            msg.kwargs.setdefault("enumerate", {})[stand_in.name] = (previous, previous - 1,
                                                                   support)

    def on_sample(self, msg: Message) -> None:
        if not is_enumerated(msg) or msg.value is not None:
            return
        fn = msg.fn
        if not fn.has_enumerate_support:
            raise SiteError(
                msg.name,
                f"is marked for enumeration but {type(fn).__name__} has no finite support to "
                "enumerate",
                "truncate it to a finite range (e.g. a Categorical over 0..K-1), or sum it out "
                "by hand with logsumexp",
            )
        values = np.asarray(fn.enumerate_support(expand=False))
        if np.all(values == np.round(values)):  # integer values, as the sampler draws them
            values = values.astype(np.int64)
        count = values.shape[0]
        event = tuple(fn.event_shape)
        if values.size != count * int(np.prod(event, dtype=int)):
            raise SiteError(msg.name, "is marked for enumeration but its support differs "
                            "between batch elements", "give every element the same support")
        dim = self.dims.setdefault(msg.name, self.first_dim - len(self.dims))
        if msg.name + "@previous" in self.dims:  # a scan's stacked state: already summed out
            return
        msg.value = values.reshape((count,) + (1,) * (-dim - 1) + event)
        msg.infer = {**msg.infer, ENUM_DIM: dim}
        msg.done = True


def enumerated_sites(trace: dict) -> dict[str, int]:
    """The enumerated sites of a trace and their dimensions."""
    return {n: s.infer[ENUM_DIM] for n, s in trace.items()
            if s.type == "sample" and ENUM_DIM in s.infer}


@dataclass
class _Factor:
    log_value: Any  # padded to the common rank
    plates: frozenset  # the plate dims it lives in


def _factors(trace: dict, rank: int) -> list[_Factor]:
    out = []
    for site in trace.values():
        if site.type != "sample":
            continue
        lp = site_log_prob(site)
        shape = tuple(anp.shape(lp))
        lp = anp.reshape(lp, (1,) * (rank - len(shape)) + shape)
        out.append(_Factor(lp, frozenset(f.dim for f in site.cond_indep_stack)))
    return out


def _depends_on(factor: _Factor, dim: int) -> bool:
    return anp.shape(factor.log_value)[dim] > 1


def _reduce_plates(factor: _Factor, keep: frozenset) -> Any:
    value = factor.log_value
    drop = tuple(sorted(d for d in factor.plates - keep))
    if drop:
        value = anp.sum(value, axis=drop, keepdims=True)
    return value


def _elimination(trace: dict) -> tuple[list[_Factor], list[tuple[str, int, Any]]]:
    """Eliminate the enumerated variables; return the remaining factors and, per variable in
    elimination order, its name, dimension and the combined log factor before the sum (for
    sampling the variables back, :func:`sample_enumerated`)."""
    dims = enumerated_sites(trace)
    rank = max([len(anp.shape(site_log_prob(s))) for s in trace.values()
                if s.type == "sample"] + [-d for d in dims.values()])
    factors = _factors(trace, rank)
    plates_of = {n: frozenset(f.dim for f in trace[n].cond_indep_stack) for n in dims}
    order = sorted(dims, key=lambda n: (-len(plates_of[n]), -dims[n]))
    steps = []
    for name in order:
        dim, plates = dims[name], plates_of[name]
        involved = [f for f in factors if _depends_on(f, dim)]
        rest = [f for f in factors if not _depends_on(f, dim)]
        combined = 0.0
        for factor in involved:
            combined = combined + _reduce_plates(factor, plates)
        steps.append((name, dim, combined))
        summed = logsumexp(combined, axis=dim, keepdims=True)
        factors = rest + [_Factor(summed, plates)]
    return factors, steps


def enumerated_log_density(trace: dict) -> Any:
    r"""The log density of a trace with its enumerated sites summed out:
    :math:`\log \sum_{z} p(x, z, \ldots)` over every configuration of the enumerated sites."""
    factors, _ = _elimination(trace)
    total = 0.0
    for factor in factors:
        total = total + anp.sum(factor.log_value)
    return total


def marginal_site_log_prob(trace: dict, name: str) -> Any:
    r"""The pointwise log-likelihood of observed site ``name`` with the enumerated sites summed
    out: :math:`\log \sum_z p(z) \, p(x_i \mid z)` per element :math:`i` of the site, where
    :math:`z` runs over the enumerated sites it depends on (and those they depend on). For a
    local discrete site (one per data point, a mixture's assignment) this is exactly the
    point's marginal likelihood given the continuous parameters, what LOO needs."""
    site = trace[name]
    dims = enumerated_sites(trace)
    lp = site_log_prob(site)
    shape = tuple(anp.shape(lp))
    rank = max([len(shape)] + [-d for d in dims.values()])
    total = anp.reshape(lp, (1,) * (rank - len(shape)) + shape)
    plates = frozenset(f.dim for f in site.cond_indep_stack)
    included: set[str] = set()
    while True:
        new = [n for n, d in dims.items()
               if n not in included and anp.shape(total)[d] > 1]
        if not new:
            break
        for n in new:
            prior = _factors({n: trace[n]}, rank)[0]
            total = total + _reduce_plates(prior, plates)
            included.add(n)
    for n in included:
        total = logsumexp(total, axis=dims[n], keepdims=True)
    # the data's own batch shape: the observed value without its event dims
    value_shape = tuple(np.shape(site.value))
    natural = value_shape[: len(value_shape) - site.fn.event_dim]
    trailing = tuple(anp.shape(total))[rank - len(natural):] if natural else ()
    return anp.broadcast_to(anp.reshape(total, trailing), natural)


def sample_enumerated(trace: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw the enumerated sites from their conditional posterior given everything else in the
    trace (concrete values): the eliminations run backwards, each variable drawn from its
    combined factor at the values already drawn for the variables eliminated after it (the
    backward pass of variable elimination; forward-filter backward-sample on a chain)."""
    out = _sample_chains(trace, rng)
    if not enumerated_sites(trace):
        return out
    _, steps = _elimination(trace)
    drawn: dict[int, np.ndarray] = {}  # dim -> index array with a size-1 axis at dim
    for name, dim, combined in reversed(steps):
        logits = np.asarray(combined, dtype=float)
        for other, index in drawn.items():
            if logits.shape[other] > 1:  # condition on the state drawn for that variable
                logits = np.take_along_axis(logits, index, axis=other)
        last = np.moveaxis(logits, dim, -1)
        probs = np.exp(last - last.max(-1, keepdims=True))
        cdf = np.cumsum(probs / probs.sum(-1, keepdims=True), -1)
        u = rng.random(cdf.shape[:-1] + (1,))
        choice = np.minimum((u > cdf).sum(-1), cdf.shape[-1] - 1)
        drawn[dim] = np.expand_dims(choice, dim)
        support = np.asarray(trace[name].value).reshape(-1)
        out[name] = _natural_shape(support[choice], trace[name])
    return out


def _sample_chains(trace: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    r"""Forward-filter backward-sample the enumerated chains of ``ppl.scan`` sites: the last
    state from :math:`\alpha_{T-1}`, then each earlier one from
    :math:`\alpha_t(s) + \phi_{t+1}(s, s_{t+1})` at the state drawn after it."""
    from ppl.control_flow import FORWARD_MESSAGES

    out = {}
    for name, site in trace.items():
        messages = site.infer.get(FORWARD_MESSAGES) if site.type == "sample" else None
        if not messages:
            continue
        previous, current = messages["dims"]
        alphas = [np.asarray(a, dtype=float).reshape(-1) for a in messages["alpha"]]
        k = len(alphas[0])
        factors = []
        for f in messages["factor"]:  # [previous state, current state]
            f = np.moveaxis(np.asarray(f, dtype=float), (previous, current), (-2, -1))
            factors.append(np.broadcast_to(f.reshape(f.shape[-2:]), (k, k)))
        states = np.empty(len(alphas), dtype=np.int64)
        states[-1] = _draw(alphas[-1], rng)
        for t in range(len(alphas) - 2, -1, -1):
            states[t] = _draw(alphas[t] + factors[t][:, states[t + 1]], rng)
        out[name] = np.asarray(messages["support"])[states]
    return out


def _draw(logits: np.ndarray, rng: np.random.Generator) -> int:
    probs = np.exp(logits - logits.max())
    cdf = np.cumsum(probs / probs.sum())
    return int(min(np.searchsorted(cdf, rng.random(), side="right"), len(cdf) - 1))


def _natural_shape(values: np.ndarray, site: Message) -> np.ndarray:
    """Drop the enumeration dims: the site's value over its plates only."""
    frames = site.cond_indep_stack
    depth = max((-f.dim for f in frames), default=0)
    target = [1] * depth
    for frame in frames:
        target[frame.dim] = frame.size
    kept = values.reshape(values.shape[values.ndim - depth:]) if depth else \
        values.reshape(-1)[:1].reshape(())
    return np.broadcast_to(kept, tuple(target)).copy()
