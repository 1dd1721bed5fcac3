"""The model primitives: ``sample``, ``param``, ``deterministic``, ``factor``, ``plate``, ``subsample``.

A model is a Python function calling these.  Each call becomes a
:class:`~ppl.runtime.Message` sent through the active effect handlers (:mod:`ppl.handlers`);
without handlers, ``sample`` needs a ``seed`` (there is no global random state) while
``param`` and ``deterministic`` return their values unchanged.

>>> import numpy as np
>>> import ppl
>>> from ppl import dist, handlers
>>> def model(y=None):
...     mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
...     with ppl.plate("data", 3):
...         return ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
>>> handlers.seed(model, 0)().shape
(3,)
>>> tr = handlers.trace(handlers.seed(model, 0)).get_trace(np.array([1.0, 2.0, 3.0]))
>>> tr["y"].fn.batch_shape, tr["y"].is_observed, tr["y"].cond_indep_stack
((3,), True, [CondIndepStackFrame(name='data', dim=-1, size=3)])

The semantics are NumPyro's (``numpyro/primitives.py``): plates broadcast the distributions of
the sites inside them to the plate size along the plate's dim, and scale log-densities by
``size / subsample_size`` when they subsample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer
from ppl import constraints
from ppl.errors import PlateError, ShapeError, SiteError
from ppl.handlers import mask as _mask_handler
from ppl.runtime import (
    _STACK,
    CondIndepStackFrame,
    Message,
    Messenger,
    apply_stack,
    check_finite,
    concrete_value,
)

__all__ = ["deterministic", "factor", "param", "plate", "sample", "subsample"]


# --------------------------------------------------------------------------------------------
# sample
# --------------------------------------------------------------------------------------------


def _check_name(name: Any, primitive: str) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"{primitive}: the site name must be a non-empty str, got {name!r}; the name comes "
            f"first, e.g. ppl.{primitive}('x', ...)"
        )


def _check_distribution(name: str, fn: Any) -> None:
    if isinstance(fn, type):
        raise SiteError(
            name,
            f"got the class {fn.__name__}, not a distribution",
            f"instantiate it with its parameters, e.g. dist.{fn.__name__}(...)",
        )
    if not all(hasattr(fn, a) for a in ("sample", "log_prob", "batch_shape", "event_shape")):
        raise SiteError(
            name,
            f"expected a distribution, got {type(fn).__name__} {fn!r}",
            "pass a distribution such as dist.Normal(0.0, 1.0); use ppl.deterministic for "
            "values and ppl.factor for arbitrary log-density terms",
        )


def _as_sample_shape(name: str, sample_shape: Any) -> tuple[int, ...]:
    if isinstance(sample_shape, (int, np.integer)):
        sample_shape = (sample_shape,)
    try:
        return tuple(int(d) for d in sample_shape)
    except (TypeError, ValueError):
        raise SiteError(
            name, f"sample_shape must be a tuple of ints, got {sample_shape!r}"
        ) from None


def sample(
    name: str,
    fn: Any,
    obs: Any = None,
    obs_mask: Any = None,
    infer: dict | None = None,
    sample_shape: Sequence[int] = (),
) -> Any:
    """A random variable ``name`` with distribution ``fn``; returns its value.

    Parameters
    ----------
    name : the site name, unique within the model.
    fn : a :class:`~ppl.distributions.Distribution`.
    obs : observed data: the site is then a likelihood term and returns ``obs``.
    obs_mask : boolean array broadcastable to ``fn.batch_shape``: True where ``obs`` is
        observed.  As in NumPyro the site is split in two: ``name + "_observed"`` scores the
        observed entries, the latent ``name + "_unobserved"`` (full shape, its log-density
        masked to the missing entries) imputes the others, and the deterministic ``name`` joins
        them.  The unobserved site's masked-out entries have a flat density, so this is meant
        for SVI and for imputation by prediction, like NumPyro's; under MCMC those entries are
        improper directions.  NaN/inf at missing entries are allowed (they are replaced by an
        observed value before scoring, so they cannot poison gradients).
    infer : hints for inference algorithms, copied into the site's ``infer`` dict.
    sample_shape : extra leading dims of independent draws.

    Returns
    -------
    The value: ``obs``, a value fixed by a handler, or a draw ``fn.sample(rng, sample_shape)``
    with the generator of the enclosing :class:`~ppl.handlers.seed`.
    """
    _check_name(name, "sample")
    _check_distribution(name, fn)
    sample_shape = _as_sample_shape(name, sample_shape)
    if isinstance(obs, (list, tuple)):
        obs = np.asarray(obs)
    if obs_mask is not None:
        if obs is None:
            raise SiteError(name, "obs_mask was given without obs", "pass the data as obs=")
        check_finite(name, obs, "observed value (obs)", mask=obs_mask, event_dim=fn.event_dim)
        return _masked_observe(name, fn, obs, obs_mask, infer, sample_shape)
    if obs is not None:
        check_finite(name, obs, "observed value (obs)")
    return _sample_site(name, fn, obs, infer, sample_shape)


def _sample_site(name: str, fn: Any, obs: Any, infer: dict | None, sample_shape: tuple) -> Any:
    msg = Message(
        type="sample",
        name=name,
        fn=fn,
        kwargs={"sample_shape": sample_shape},
        value=obs,
        is_observed=obs is not None,
        infer=dict(infer or {}),
    )
    apply_stack(msg)
    if msg.type == "sample":
        _check_value_shape(msg)
    return msg.value


def _check_value_shape(msg: Message) -> None:
    """The value must broadcast against ``batch_shape + event_shape`` (both shapes printed)."""
    shape = tuple(anp.shape(msg.value))
    expected = tuple(msg.fn.batch_shape) + tuple(msg.fn.event_shape)
    event_shape = tuple(msg.fn.event_shape)
    ok = len(shape) >= len(event_shape) and shape[len(shape) - len(event_shape) :] == event_shape
    try:
        np.broadcast_shapes(shape, expected)
    except ValueError:
        ok = False
    if not ok:
        where = f" inside plates {list(msg.plates)}" if msg.plates else ""
        what = "observed value" if msg.is_observed else "value"
        raise ShapeError(
            msg.name,
            f"{what} of shape {shape} does not fit the distribution's batch_shape + "
            f"event_shape = {expected}{where}",
            "give data whose rightmost dims equal the event shape and broadcast with the batch "
            "shape (check the plate sizes and the length of the data)",
        )


def _fill_missing(obs: Any, obs_mask: Any, event_dim: int) -> Any:
    """``obs`` with its missing entries replaced by an observed one (concrete data only)."""
    data, keep = concrete_value(obs), concrete_value(obs_mask)
    if isinstance(obs, Tracer) or data is None or keep is None:
        return obs
    batch = data.shape[: data.ndim - event_dim]
    keep = np.broadcast_to(np.asarray(keep, dtype=bool), np.broadcast_shapes(keep.shape, batch))
    if keep.all() or not keep.any() or keep.shape != batch:
        return obs
    donor = data[keep][0]  # an observed event: inside the support, so finite log-density
    return np.where(keep.reshape(keep.shape + (1,) * event_dim), data, donor)


def _masked_observe(name, fn, obs, obs_mask, infer, sample_shape) -> Any:
    with _mask_handler(mask=obs_mask):
        filled = _fill_missing(obs, obs_mask, fn.event_dim)
        observed = _sample_site(f"{name}_observed", fn, filled, infer, sample_shape)
    with _mask_handler(mask=anp.logical_not(obs_mask)):
        unobserved = _sample_site(f"{name}_unobserved", fn, None, infer, sample_shape)
    keep = anp.reshape(obs_mask, tuple(anp.shape(obs_mask)) + (1,) * fn.event_dim)
    return deterministic(name, anp.where(keep, observed, unobserved))


# --------------------------------------------------------------------------------------------
# deterministic, factor, param
# --------------------------------------------------------------------------------------------


def deterministic(name: str, value: Any) -> Any:
    """Record ``value`` in the trace under ``name`` (a function of other sites); returns it.

    Deterministic sites contribute no log-density; inference reports them with the draws.
    """
    _check_name(name, "deterministic")
    if not _STACK:
        return value
    return apply_stack(Message(type="deterministic", name=name, value=value)).value


def factor(name: str, log_factor: Any) -> None:
    r"""Add an arbitrary term ``log_factor`` to the model's log-density.

    Implemented as an observed site of the trivial distribution ``Unit(log_factor)`` (empty
    event, :math:`\log p = \text{log\_factor}`), so that handlers (scale, mask, plates) apply to
    it like to any likelihood term.
    """
    from ppl.distributions import Unit  # here: ppl.distributions imports ppl at load time

    _check_name(name, "factor")
    unit = Unit(log_factor)
    _sample_site(name, unit, np.empty(unit.batch_shape + unit.event_shape), None, ())


def param(
    name: str,
    init_value: Any = None,
    constraint: Any = constraints.real,
    event_dim: int | None = None,
) -> Any:
    """A parameter to be optimised (SVI); returns its current value.

    Parameters
    ----------
    name : the site name.
    init_value : the initial value, or a function ``rng -> value`` called under ``seed``.
    constraint : the parameter's domain (optimisers work in ``biject_to(constraint)``'s
        unconstrained space).
    event_dim : number of rightmost dims that are not batch dims; inside a subsampled plate the
        batch dims are subsampled.  ``None`` (default) treats every dim as an event dim.

    Without handlers, returns ``init_value``; under ``substitute`` the substituted value.
    """
    _check_name(name, "param")
    if not _STACK:
        if callable(init_value):
            raise SiteError(
                name,
                "a callable init_value needs a random generator",
                "run the model inside handlers.seed",
            )
        return init_value
    msg = Message(
        type="param",
        name=name,
        args=(init_value,),
        kwargs={"constraint": constraint, "event_dim": event_dim},
    )
    return apply_stack(msg).value


def subsample(data: Any, event_dim: int) -> Any:
    """Subsample ``data`` along the dims of the enclosing subsampled plates.

    ``event_dim`` counts the rightmost dims of ``data`` that are not batch dims; the plate with
    dim ``d`` indexes ``data`` along ``d - event_dim`` (a dim of size 1 is left alone).

    >>> import numpy as np
    >>> import ppl
    >>> from ppl import handlers
    >>> with handlers.seed(rng_seed=0), ppl.plate("n", 10, subsample_size=3) as idx:
    ...     x = ppl.subsample(np.arange(10.0), event_dim=0)
    >>> bool(np.all(x == idx))
    True
    """
    if not isinstance(event_dim, (int, np.integer)) or event_dim < 0:
        raise ValueError(f"subsample: event_dim must be an int >= 0, got {event_dim!r}")
    if not _STACK:
        return data
    msg = Message(type="subsample", value=data, kwargs={"event_dim": int(event_dim)})
    return apply_stack(msg).value


# --------------------------------------------------------------------------------------------
# plate
# --------------------------------------------------------------------------------------------


def _batch_shape_of(frames: list[CondIndepStackFrame]) -> tuple[int, ...]:
    """The shape the plates require: ``size`` at each plate's dim, 1 elsewhere."""
    shape = [1] * max(-f.dim for f in frames)
    for frame in frames:
        shape[frame.dim] = frame.size
    return tuple(shape)


class plate(Messenger):
    """Conditionally independent copies along one batch dimension; a context manager.

    Parameters
    ----------
    name : the plate's name (recorded as a ``plate`` site whose value is its indices).
    size : the number of copies.
    subsample_size : draw this many indices at random (under ``seed``) instead of all; the
        log-density of every sample site inside is then scaled by ``size / subsample_size``.
    dim : the (negative) batch dim of the plate.  By default the rightmost dim not used by an
        enclosing plate: ``-1`` for the outermost plate, ``-2`` for one nested in it...

    Inside the plate, each sample site's distribution is broadcast (``fn.expand``) so that its
    batch shape has ``size`` (or ``subsample_size``) at ``dim``; a batch dim there must be 1 or
    that size, otherwise the error prints both shapes.  ``sample_shape`` is folded into the batch
    shape.  Entering the plate returns its indices (``arange(size)`` or the subsample).

    >>> import ppl
    >>> from ppl import dist, handlers
    >>> def model():
    ...     with ppl.plate("rows", 2):            # dim -1
    ...         with ppl.plate("cols", 3):        # dim -2
    ...             return ppl.sample("x", dist.Normal(0.0, 1.0))
    >>> handlers.seed(model, 0)().shape
    (3, 2)
    """

    def __init__(
        self,
        name: str,
        size: int,
        subsample_size: int | None = None,
        dim: int | None = None,
    ):
        self.name, self.size = name, _check_plate_args(name, size, subsample_size, dim)
        self.dim, self._indices = self._allocate(name, self.size, subsample_size, dim)
        self.subsample_size = int(anp.shape(self._indices)[0])
        super().__init__()

    @staticmethod
    def _allocate(name: str, size: int, subsample_size: int | None, dim: int | None):
        """Send a ``plate`` message (enclosing plates add their frames; ``seed`` the rng)."""
        full = subsample_size is None or subsample_size == size
        msg = Message(
            type="plate",
            name=name,
            args=(size, size if full else subsample_size),
            value=np.arange(size) if full else None,
        )
        apply_stack(msg)
        if isinstance(msg.value, Tracer):  # indices drawn inside compiled code (SVI's loop)
            indices = msg.value
        else:
            indices = np.asarray(concrete_value(msg.value)) if msg.value is not None else None
        if indices is None or anp.ndim(indices) != 1:
            raise PlateError(name, f"the plate's indices must be a 1-d array, got {msg.value!r}")
        used = {frame.dim: frame.name for frame in msg.cond_indep_stack}
        if dim is None:
            dim = -1
            while dim in used:
                dim -= 1
        elif dim in used:
            raise PlateError(
                name,
                f"dim {dim} is already used by the enclosing plate '{used[dim]}'",
                "give another dim, or leave dim=None to take the next free one",
            )
        return dim, indices

    def __enter__(self) -> np.ndarray:
        super().__enter__()
        return self._indices

    @property
    def _frame(self) -> CondIndepStackFrame:
        return CondIndepStackFrame(self.name, self.dim, self.subsample_size)

    def on_sample(self, msg: Message) -> None:
        msg.cond_indep_stack.append(self._frame)
        broadcast_to_plates(msg)
        if self.subsample_size < self.size:
            factor = self.size / self.subsample_size
            msg.scale = factor if msg.scale is None else msg.scale * factor

    def _add_frame(self, msg: Message) -> None:
        msg.cond_indep_stack.append(self._frame)

    on_param = on_plate = on_deterministic = on_scan = _add_frame

    def _subsample_value(self, msg: Message, statement: str) -> None:
        event_dim = msg.kwargs.get("event_dim")
        if event_dim is None or msg.value is None:
            return
        axis = self.dim - event_dim
        shape = tuple(anp.shape(msg.value))
        if len(shape) < -axis or shape[axis] == 1:
            return
        if shape[axis] != self.size:
            raise ShapeError(
                msg.name or "subsample",
                f"{statement} has shape {shape}, whose dim {axis} should have the size "
                f"{self.size} of plate '{self.name}' (dim {self.dim}, event_dim={event_dim})",
                "give the value the plate's size along that dim, or fix event_dim",
            )
        if self.subsample_size < self.size:
            msg.value = anp.take(msg.value, self._indices, axis=axis)

    def after_param(self, msg: Message) -> None:
        self._subsample_value(msg, "the param value")

    def after_subsample(self, msg: Message) -> None:
        self._subsample_value(msg, "the data passed to subsample()")


def broadcast_to_plates(msg: Message) -> None:
    """Expand a sample site's distribution so that its batch shape has each enclosing plate's
    size at the plate's dim (``sample_shape`` folded in); a mismatch names both shapes."""
    frames = msg.cond_indep_stack
    sample_shape = tuple(msg.kwargs.get("sample_shape", ()))
    given = sample_shape + tuple(msg.fn.batch_shape)
    target = list(given)
    depth = max(-f.dim for f in frames)
    target = [1] * max(depth - len(target), 0) + target
    for frame in frames:
        if target[frame.dim] not in (1, frame.size):
            raise _plate_mismatch(msg, given, frames)
        target[frame.dim] = frame.size
    msg.kwargs["sample_shape"] = ()
    if tuple(target) != tuple(msg.fn.batch_shape):
        msg.fn = msg.fn.expand(tuple(target))


def _check_plate_args(name: Any, size: Any, subsample_size: Any, dim: Any) -> int:
    if not isinstance(name, str) or not name:
        raise TypeError(f"plate: the name must be a non-empty str, got {name!r}")
    size_value = concrete_value(size)
    if size_value is None or size_value.ndim != 0 or size_value.dtype.kind not in "iu":
        raise PlateError(name, f"size must be a positive int, got {size!r}", "e.g. len(data)")
    size = int(size_value)
    if size <= 0:
        raise PlateError(name, f"size must be a positive int, got {size}")
    if subsample_size is not None and not (
        isinstance(subsample_size, (int, np.integer)) and 0 < subsample_size <= size
    ):
        raise PlateError(
            name, f"subsample_size must be an int in [1, size={size}], got {subsample_size!r}"
        )
    if dim is not None and not (isinstance(dim, (int, np.integer)) and dim < 0):
        raise PlateError(
            name,
            f"dim must be a negative int (counted from the right of the batch shape), got {dim!r}",
        )
    return size


def _plate_mismatch(msg: Message, given: tuple, frames: list) -> ShapeError:
    plates = ", ".join(
        f"'{f.name}' (size {f.size}, dim {f.dim})" for f in sorted(frames, key=lambda f: f.dim)
    )
    return ShapeError(
        msg.name,
        f"batch shape {given} of {type(msg.fn).__name__} does not match the plates {plates}, "
        f"which require shape {_batch_shape_of(frames)} (each plate dim must be 1 or the "
        f"plate's size)",
        "give the parameters the plate's size along its dim (index them with the plate's "
        "indices when it subsamples), set the plate's dim, or move the site out of the plate",
    )
