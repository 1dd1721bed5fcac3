"""The :class:`Distribution` base class and the shape-level combinators built on it.

This module owns the shape contract and argument validation for every distribution; subclasses
own only the maths (the template-method pattern of TensorFlow Probability).  A subclass

* declares ``arg_constraints`` (parameter name to constraint), ``support`` (a constraint, or a
  property returning one when its bounds are parameters) and ``reparametrized_params``;
* calls ``super().__init__(batch_shape, event_shape, validate_args)`` after storing its
  parameters as attributes of the same names (validation reads them from ``__dict__``; override
  ``_arg_values`` when a parameter is stored under another name, and set an instance-level
  ``arg_constraints`` when a constraint depends on another parameter, as ``Uniform`` does);
* implements ``_log_prob(value)`` with :mod:`autodiff.numpy` / :mod:`autodiff.scipy.special`
  operations only, so that it differentiates, vectorises and stages, and returns one value per
  batch element (event dimensions already reduced);
* implements ``_sample(rng, shape)`` (NumPy ``Generator``, exact sampler) and/or
  ``_rsample(rng, shape)`` (a differentiable function of the parameters and of noise drawn by
  NumPy) for the full ``shape = sample_shape + batch_shape + event_shape``;
* optionally overrides the ``mean`` / ``variance`` properties and ``_cdf``, ``_icdf``,
  ``_entropy``, ``_enumerate_support``.

The public methods here turn seeds into generators, validate values and shapes, and name the
distribution in every error.

Shapes (TFP, NumPyro): a draw from ``sample(rng, sample_shape)`` has shape
``sample_shape + batch_shape + event_shape``; ``log_prob(x)`` has shape
``broadcast(x.shape[:x.ndim - event_dim], batch_shape)``.

>>> import numpy as np
>>> from ppl.distributions import Normal
>>> d = Normal(np.zeros(3), 1.0)
>>> d.batch_shape, d.event_shape
((3,), ())
>>> d.sample(0, (2,)).shape
(2, 3)
>>> d.to_event(1).log_prob(np.zeros(3)).shape
()
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer
from ppl import constraints

__all__ = [
    "Delta",
    "Distribution",
    "ExpandedDistribution",
    "ImproperUniform",
    "Independent",
    "MaskedDistribution",
    "Unit",
    "as_generator",
    "enable_validation",
    "is_validation_enabled",
    "lazy_property",
    "promote_batch_shape",
]

_VALIDATION = {"enabled": False}


def enable_validation(is_validate: bool = True) -> None:
    """Turn argument and support validation on (or off) for distributions built afterwards.

    A distribution built with an explicit ``validate_args=True/False`` keeps its own setting.

    >>> from ppl.distributions import Normal, enable_validation
    >>> enable_validation()
    >>> try:
    ...     Normal(0.0, -1.0)
    ... except ValueError as e:
    ...     print(str(e).split(";")[0])
    Normal: parameter 'scale' = -1.0 violates constraint positive
    >>> enable_validation(False)
    """
    _VALIDATION["enabled"] = bool(is_validate)


def is_validation_enabled() -> bool:
    """Whether :func:`enable_validation` is in force."""
    return _VALIDATION["enabled"]


def as_generator(rng: Any, where: str = "sample") -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a ``SeedSequence`` or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(
        f"{where}: rng must be an int seed or a numpy.random.Generator, got "
        f"{type(rng).__name__} {rng!r}; e.g. d.sample(0) or d.sample(np.random.default_rng(0))"
    )


def as_param(x: Any) -> Any:
    """A float64 array from a Python scalar / list / array; traced values pass through."""
    if isinstance(x, Tracer):
        return x
    arr = np.asarray(x)
    return arr.astype(np.float64) if arr.dtype.kind in "biu" else arr


def promote_batch_shape(*params: Any) -> tuple[int, ...]:
    """The broadcast shape of ``params`` (the batch shape of a univariate distribution)."""
    return tuple(np.broadcast_shapes(*(anp.shape(p) for p in params)))


class lazy_property:  # noqa: N801  (used as a decorator, like ``property``)
    """A property computed on first access and cached in the instance ``__dict__``.

    Used for the parameterisation a user did not give (``probs`` from ``logits`` or the reverse):
    validation only sees parameters already in ``__dict__``, i.e. the ones given.
    """

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self.fn(instance)
        instance.__dict__[self.__name__] = value
        return value


def _is_concrete(x: Any) -> bool:
    return x is not None and not isinstance(x, Tracer)


def _describe_bad(value: Any, ok: Any) -> str:
    """``-1.0`` or ``[-1.0, -2.0] at index [(0,), (2,)] of shape (3,)`` (first few offenders)."""
    value = np.asarray(value)
    ok = np.asarray(ok)
    if value.ndim == 0:
        return repr(value.item())
    if ok.ndim == 0:
        return f"{value.tolist()!r}" if value.size <= 6 else f"<array {value.shape}>"
    bad = [tuple(int(i) for i in idx) for idx in np.argwhere(~ok)[:5]]
    if ok.shape == value.shape:
        vals = [value[idx].item() for idx in bad]
    else:  # an event-level constraint: show the offending events
        vals = [value[idx].tolist() for idx in bad]
    more = " ..." if int((~ok).sum()) > len(bad) else ""
    return f"{vals}{more} at index {bad} of shape {value.shape}"


class Distribution:
    """Base class of every distribution: shapes, validation, and the public methods.

    Parameters
    ----------
    batch_shape : tuple of int
        Shape of independent, non-identical draws (from broadcasting the parameters).
    event_shape : tuple of int
        Shape of one draw (its dependent dimensions).
    validate_args : bool or None
        Check parameters against ``arg_constraints`` on construction and values against
        ``support`` in :meth:`log_prob`.  ``None`` follows :func:`enable_validation`.
    """

    arg_constraints: dict[str, Any] = {}
    support: Any = None
    reparametrized_params: list[str] = []
    has_rsample = False
    has_enumerate_support = False

    def __init__(self, batch_shape=(), event_shape=(), validate_args: bool | None = None):
        self._batch_shape = tuple(int(d) for d in batch_shape)
        self._event_shape = tuple(int(d) for d in event_shape)
        self._validate_args = (
            is_validation_enabled() if validate_args is None else bool(validate_args)
        )
        if self._validate_args:
            self._validate_parameters()

    # ---- shapes ---------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    @property
    def event_dim(self) -> int:
        return len(self._event_shape)

    @property
    def is_discrete(self) -> bool:
        return bool(getattr(self.support, "is_discrete", False))

    @property
    def validate_args(self) -> bool:
        return self._validate_args

    def shape(self, sample_shape=()) -> tuple[int, ...]:
        """``sample_shape + batch_shape + event_shape``."""
        return tuple(sample_shape) + self.batch_shape + self.event_shape

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={self.batch_shape}, event_shape={self.event_shape})"

    # ---- validation -----------------------------------------------------------------------
    def _validate_parameters(self) -> None:
        name = type(self).__name__
        values = self._arg_values()
        for param, constraint in self.arg_constraints.items():
            value = values.get(param)
            if not _is_concrete(value) or constraint is None:
                continue
            if isinstance(constraint, type(constraints.dependent)):
                continue
            ok = np.asarray(constraint.check(value))
            if not np.all(ok):
                raise ValueError(
                    f"{name}: parameter '{param}' = {_describe_bad(value, ok)} violates "
                    f"constraint {constraint}; pass values satisfying it for every batch element"
                )

    def _arg_values(self) -> dict[str, Any]:
        """The given parameters by name (those stored in ``__dict__``; lazy ones are skipped)."""
        return {p: self.__dict__[p] for p in self.arg_constraints if p in self.__dict__}

    def _validate_sample(self, value: Any) -> None:
        if not _is_concrete(value) or self.support is None:
            return
        ok = np.asarray(self.support.check(np.asarray(value)))
        if not np.all(ok):
            raise ValueError(
                f"{type(self).__name__}.log_prob: value {_describe_bad(value, ok)} is outside "
                f"the support {self.support}; check the observed data or the sampled value"
            )

    # ---- sampling -------------------------------------------------------------------------
    def sample(self, rng: Any, sample_shape=()) -> Any:
        """Draw ``sample_shape`` independent samples (shape ``self.shape(sample_shape)``).

        ``rng`` is an int seed or a ``numpy.random.Generator``.
        """
        rng = as_generator(rng, f"{type(self).__name__}.sample")
        shape = self.shape(sample_shape)
        return self._check_draw(self._sample(rng, shape), shape, "sample")

    def rsample(self, rng: Any, sample_shape=()) -> Any:
        """A reparameterised draw: differentiable with respect to the parameters (for VI)."""
        if not self.has_rsample:
            raise NotImplementedError(
                f"{type(self).__name__} has no reparameterised sampler (has_rsample=False); "
                f"use sample() or a score-function estimator"
            )
        rng = as_generator(rng, f"{type(self).__name__}.rsample")
        shape = self.shape(sample_shape)
        return self._check_draw(self._rsample(rng, shape), shape, "rsample")

    def _check_draw(self, draw: Any, shape: tuple[int, ...], method: str) -> Any:
        if tuple(anp.shape(draw)) != shape:
            raise RuntimeError(
                f"{type(self).__name__}.{method} returned shape {tuple(anp.shape(draw))}, "
                f"expected sample_shape + batch_shape + event_shape = {shape}"
            )
        return draw

    def _sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> Any:
        if self.has_rsample:
            return self._rsample(rng, shape)
        raise NotImplementedError(f"{type(self).__name__} does not implement sample")

    def _rsample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement rsample")

    # ---- densities and functionals -------------------------------------------------------
    def log_prob(self, value: Any) -> Any:
        """Log density (or mass) of ``value``, summed over the event dimensions only."""
        if self._validate_args:
            self._validate_sample(value)
        return self._log_prob(as_param(value))

    def _log_prob(self, value: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value: Any) -> Any:
        """Cumulative distribution function ``P(X <= value)``."""
        return self._cdf(as_param(value))

    def _cdf(self, value: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.cdf has no closed form here")

    def icdf(self, q: Any) -> Any:
        """Inverse cdf (quantile function) at probability ``q``."""
        return self._icdf(as_param(q))

    def _icdf(self, q: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.icdf has no closed form here")

    def entropy(self) -> Any:
        """Differential (or Shannon) entropy, one value per batch element."""
        return self._entropy()

    def _entropy(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.entropy has no closed form here")

    @property
    def mean(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define a mean")

    @property
    def variance(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define a variance")

    def enumerate_support(self, expand: bool = True) -> Any:
        """All values of a finite discrete support, stacked along a new leading axis.

        The result has shape ``(n,) + batch_shape + event_shape`` (or ``(n,) + (1,)*len(batch)
        + event_shape`` with ``expand=False``).
        """
        if not self.has_enumerate_support:
            raise NotImplementedError(
                f"{type(self).__name__} has no finite support to enumerate"
            )
        values = self._enumerate_support()
        if not expand:
            return values
        return np.broadcast_to(values, values.shape[:1] + self.batch_shape + self.event_shape)

    def _enumerate_support(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    # ---- combinators ----------------------------------------------------------------------
    def expand(self, batch_shape) -> Distribution:
        """The same distribution broadcast to a larger ``batch_shape`` (independent copies)."""
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        return ExpandedDistribution(self, batch_shape)

    def expand_by(self, sample_shape) -> Distribution:
        """``expand(sample_shape + batch_shape)``."""
        return self.expand(tuple(sample_shape) + self.batch_shape)

    def to_event(self, reinterpreted_batch_ndims: int | None = None) -> Distribution:
        """Treat the rightmost ``n`` batch dimensions as event dimensions (all when None)."""
        n = len(self.batch_shape) if reinterpreted_batch_ndims is None else reinterpreted_batch_ndims
        if n == 0:
            return self
        return Independent(self, n)

    def mask(self, mask: Any) -> Distribution:
        """Zero the log density where ``mask`` is False (``mask`` broadcasts to batch_shape)."""
        if isinstance(mask, (bool, np.bool_)) and mask:
            return self
        return MaskedDistribution(self, mask)


def _sum_rightmost(x: Any, n: int) -> Any:
    if n == 0:
        return x
    return anp.sum(x, axis=tuple(range(-n, 0)))


class Independent(Distribution):
    """Reinterpret the rightmost ``reinterpreted_batch_ndims`` batch dims of ``base`` as event dims.

    ``log_prob`` sums the base log density over those dimensions.
    """

    arg_constraints: dict[str, Any] = {}

    def __init__(self, base_dist: Distribution, reinterpreted_batch_ndims: int,
                 validate_args: bool | None = None):
        n = int(reinterpreted_batch_ndims)
        if not 0 <= n <= len(base_dist.batch_shape):
            raise ValueError(
                f"Independent: reinterpreted_batch_ndims={n} must lie in [0, "
                f"{len(base_dist.batch_shape)}] (the batch rank of {base_dist!r})"
            )
        self.base_dist = base_dist
        self.reinterpreted_batch_ndims = n
        split = len(base_dist.batch_shape) - n
        super().__init__(
            base_dist.batch_shape[:split],
            base_dist.batch_shape[split:] + base_dist.event_shape,
            validate_args,
        )

    @property
    def support(self):
        return constraints.independent(self.base_dist.support, self.reinterpreted_batch_ndims)

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:
        return False

    @property
    def reparametrized_params(self):
        return self.base_dist.reparametrized_params

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance

    def _sample(self, rng, shape):
        return self.base_dist._sample(rng, shape)

    def _rsample(self, rng, shape):
        return self.base_dist._rsample(rng, shape)

    def log_prob(self, value):
        # The base validates values against its own support.
        return _sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def _entropy(self):
        return _sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def to_event(self, reinterpreted_batch_ndims=None):
        n = len(self.batch_shape) if reinterpreted_batch_ndims is None else reinterpreted_batch_ndims
        if n == 0:
            return self
        return Independent(self.base_dist, self.reinterpreted_batch_ndims + n)


class ExpandedDistribution(Distribution):
    """``base_dist`` broadcast to ``batch_shape``; size-1 dims become independent copies."""

    arg_constraints: dict[str, Any] = {}

    def __init__(self, base_dist: Distribution, batch_shape, validate_args: bool | None = None):
        batch_shape = tuple(int(d) for d in batch_shape)
        base_batch = base_dist.batch_shape
        lead = len(batch_shape) - len(base_batch)
        if lead < 0 or any(b not in (1, t) for b, t in zip(base_batch, batch_shape[lead:])):
            raise ValueError(
                f"expand: cannot broadcast batch_shape {base_batch} of {type(base_dist).__name__} "
                f"to {batch_shape}; each base dim must be 1 or equal to the target dim"
            )
        # Keep only the originally-unexpanded base: expanding twice draws from the root.
        if isinstance(base_dist, ExpandedDistribution):
            base_dist = base_dist.base_dist
        self.base_dist = base_dist
        super().__init__(batch_shape, base_dist.event_shape, validate_args)

    @property
    def support(self):
        return self.base_dist.support

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:
        return self.base_dist.has_enumerate_support

    @property
    def reparametrized_params(self):
        return self.base_dist.reparametrized_params

    def _draw(self, rng, shape, method):
        """Draw extra independent copies as sample dims, then move them into the batch dims."""
        sample_shape = shape[: len(shape) - len(self.batch_shape) - self.event_dim]
        base_batch = self.base_dist.batch_shape
        lead = len(self.batch_shape) - len(base_batch)
        grown = [
            i for i, (b, t) in enumerate(zip(base_batch, self.batch_shape[lead:])) if b == 1 and t != 1
        ]
        extra = tuple(self.batch_shape[lead + i] for i in grown)
        base_shape = sample_shape + self.batch_shape[:lead] + extra
        draw = getattr(self.base_dist, method)(rng, base_shape + self.base_dist.batch_shape
                                               + self.event_shape)
        if grown:
            ns, nl = len(sample_shape) + lead, len(extra)
            # Drop the size-1 base dims being grown, then move each extra dim into its place.
            draw = anp.squeeze(draw, axis=tuple(ns + nl + i for i in grown))
            kept = iter(range(ns + nl, ns + len(base_batch)))
            extras = iter(range(ns, ns + nl))
            perm = list(range(ns))
            perm += [next(extras) if i in grown else next(kept) for i in range(len(base_batch))]
            perm += list(range(ns + len(base_batch), anp.ndim(draw)))
            draw = anp.transpose(draw, perm)
        return draw

    def _sample(self, rng, shape):
        return self._draw(rng, shape, "_sample")

    def _rsample(self, rng, shape):
        return self._draw(rng, shape, "_rsample")

    def log_prob(self, value):
        lp = self.base_dist.log_prob(value)
        vshape = anp.shape(value)
        vbatch = vshape[: len(vshape) - self.event_dim]
        return anp.broadcast_to(lp, np.broadcast_shapes(anp.shape(lp), vbatch, self.batch_shape))

    def _cdf(self, value):
        return anp.broadcast_to(self.base_dist.cdf(value), self._bcast(value))

    def _icdf(self, q):
        return anp.broadcast_to(self.base_dist.icdf(q), self._bcast(q))

    def _bcast(self, value):
        return np.broadcast_shapes(anp.shape(value), self.batch_shape)

    def _entropy(self):
        return anp.broadcast_to(self.base_dist.entropy(), self.batch_shape)

    @property
    def mean(self):
        return anp.broadcast_to(self.base_dist.mean, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        return anp.broadcast_to(self.base_dist.variance, self.batch_shape + self.event_shape)

    def _enumerate_support(self):
        return self.base_dist.enumerate_support(expand=False)


class MaskedDistribution(Distribution):
    """``base_dist`` whose log density is zero where ``mask`` is False (sampling unchanged)."""

    arg_constraints: dict[str, Any] = {}

    def __init__(self, base_dist: Distribution, mask: Any, validate_args: bool | None = None):
        if isinstance(mask, bool):
            mask = np.asarray(mask)
        mshape = anp.shape(mask)
        if not isinstance(mask, Tracer) and np.asarray(mask).dtype != np.bool_:
            raise TypeError(
                f"mask: expected a boolean array, got dtype {np.asarray(mask).dtype}; "
                f"use e.g. d.mask(x > 0)"
            )
        try:
            batch_shape = np.broadcast_shapes(mshape, base_dist.batch_shape)
        except ValueError:
            raise ValueError(
                f"mask: shape {mshape} does not broadcast with batch_shape "
                f"{base_dist.batch_shape} of {type(base_dist).__name__}"
            ) from None
        self.base_dist = base_dist
        self._mask = mask
        super().__init__(batch_shape, base_dist.event_shape, validate_args)

    @property
    def support(self):
        return self.base_dist.support

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:
        return self.base_dist.has_enumerate_support

    @property
    def reparametrized_params(self):
        return self.base_dist.reparametrized_params

    def _sample(self, rng, shape):
        return self.base_dist.expand(self.batch_shape)._sample(rng, shape)

    def _rsample(self, rng, shape):
        return self.base_dist.expand(self.batch_shape)._rsample(rng, shape)

    def log_prob(self, value):
        lp = self.base_dist.log_prob(value)
        # where() rather than multiply: a masked-out -inf or NaN must become exactly 0.
        return anp.where(self._mask, lp, 0.0)

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance

    def _enumerate_support(self):
        return self.base_dist.enumerate_support(expand=False)


class Delta(Distribution):
    r"""Point mass at ``v``: :math:`\log p(x) = \log 1[x = v] + \text{log\_density}`.

    The rightmost ``event_dim`` dims of ``v`` form the event.
    """

    arg_constraints = {"v": constraints.real, "log_density": constraints.real}
    reparametrized_params = ["v", "log_density"]
    has_rsample = True

    def __init__(self, v: Any = 0.0, log_density: Any = 0.0, event_dim: int = 0,
                 validate_args: bool | None = None):
        v = as_param(v)
        vshape = anp.shape(v)
        if event_dim > len(vshape):
            raise ValueError(
                f"Delta: event_dim={event_dim} exceeds the rank of v (shape {vshape})"
            )
        split = len(vshape) - event_dim
        batch_shape, event_shape = vshape[:split], vshape[split:]
        self.v = v
        self.log_density = as_param(log_density)
        batch_shape = np.broadcast_shapes(batch_shape, anp.shape(self.log_density))
        super().__init__(batch_shape, event_shape, validate_args)

    @property
    def support(self):
        return constraints.independent(constraints.real, self.event_dim)

    def _rsample(self, rng, shape):
        return anp.broadcast_to(self.v, shape)

    def _log_prob(self, value):
        log_one = anp.where(anp.equal(value, self.v), 0.0, -np.inf)
        return anp.add(_sum_rightmost(log_one, self.event_dim), self.log_density)

    def _entropy(self):
        return np.zeros(self.batch_shape)

    @property
    def mean(self):
        return anp.broadcast_to(self.v, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        return np.zeros(self.batch_shape + self.event_shape)


class ImproperUniform(Distribution):
    """A flat (improper) density, zero log density everywhere on ``support``.

    Used for latent sites whose prior is given by ``factor`` statements; it cannot be sampled.
    """

    arg_constraints: dict[str, Any] = {}

    def __init__(self, support: Any, batch_shape=(), event_shape=(),
                 validate_args: bool | None = None):
        self._support = support
        super().__init__(batch_shape, event_shape, validate_args)

    @property
    def support(self):
        return self._support

    def _log_prob(self, value):
        vshape = anp.shape(value)
        batch = np.broadcast_shapes(vshape[: len(vshape) - self.event_dim], self.batch_shape)
        return np.zeros(batch)

    def _sample(self, rng, shape):
        raise NotImplementedError(
            "ImproperUniform cannot be sampled: it has no normalised density; initialise the "
            "site from an unconstrained value instead"
        )


class Unit(Distribution):
    """Trivial distribution with empty event ``(0,)`` and log density ``log_factor``.

    This is what ``ppl.factor(name, log_factor)`` adds to the trace.
    """

    arg_constraints = {"log_factor": constraints.real}
    support = constraints.real

    def __init__(self, log_factor: Any, validate_args: bool | None = None):
        self.log_factor = as_param(log_factor)
        super().__init__(anp.shape(self.log_factor), (0,), validate_args)

    def _sample(self, rng, shape):
        return np.empty(shape)

    def _log_prob(self, value):
        vshape = anp.shape(value)
        return anp.broadcast_to(self.log_factor, np.broadcast_shapes(vshape[:-1], self.batch_shape))
