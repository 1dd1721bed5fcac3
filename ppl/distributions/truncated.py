r"""Truncation and folding of univariate distributions.

* :class:`TruncatedNormal`, with the tail-accurate normal-cdf helpers it needs:
  :func:`_log_diff_ndtr` computes :math:`\log(\Phi(v) - \Phi(u))` and :func:`_ndtri_exp` the
  quantile :math:`\Phi^{-1}(e^y)`, both accurate far in the tails, so that it keeps finite
  densities, cdfs and reparameterised samples for intervals many standard deviations from
  the mean.
* The generic truncation of any univariate base with ``cdf`` and ``icdf`` (NumPyro's
  :func:`TruncatedDistribution` returning :class:`LeftTruncatedDistribution`,
  :class:`RightTruncatedDistribution` or :class:`TwoSidedTruncatedDistribution`), and
  :func:`TruncatedCauchy`.  Truncation to :math:`[a, b]` divides the density by
  :math:`Z = F(b) - F(a)`, computed in log space from the base's ``_log_cdf`` / ``_log_sf``
  hooks when it has them (``Normal`` does: ``log_ndtr``), by reflection about ``loc`` for
  symmetric location-scale bases, and otherwise from ``cdf``; the interval is taken from the
  upper tail when it lies above the median, so upper-tail truncations keep their precision.
  ``TruncatedNormal`` is the specialised form of ``TruncatedDistribution(Normal(...))`` (it
  adds the closed-form moments and entropy, which the generic classes borrow for a normal base).
* :class:`FoldedDistribution`: the law of :math:`|X|`.

The log-cdf helpers :func:`log_cdf` and :func:`log_survival` are shared with
:mod:`~ppl.distributions.censored`.

Reference: Johnson, Kotz and Balakrishnan, *Continuous Univariate Distributions* vol. 1
(Wiley, 1994), §10.1 (truncation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.distributions.univariate import (
    _HALF_LOG_2PI,
    _bcast,
    _Univariate,
)

__all__ = [
    "FoldedDistribution",
    "LeftTruncatedDistribution",
    "RightTruncatedDistribution",
    "TruncatedCauchy",
    "TruncatedDistribution",
    "TruncatedNormal",
    "TwoSidedTruncatedDistribution",
    "log_cdf",
    "log_survival",
]


def _log_diff_ndtr(u, v):
    r""":math:`\log(\Phi(v) - \Phi(u))` for finite :math:`u \le v`, accurate in both tails.

    An interval above zero is reflected (:math:`\Phi(v) - \Phi(u) = \Phi(-u) - \Phi(-v)`) so
    that both ends sit in the lower tail, where ``log_ndtr`` keeps full relative precision.
    """
    flip = u > 0.0
    lo, hi = anp.where(flip, -v, u), anp.where(flip, -u, v)
    log_hi = sp.log_ndtr(hi)
    return log_hi + sp.log1mexp(log_hi - sp.log_ndtr(lo))


_LOG_TINY = -680.0  # exp(-680) ~ 5e-296 is still a normal double


def _ndtri_exp(y):
    r""":math:`\Phi^{-1}(e^y)` for :math:`y \le 0`, also where :math:`e^y` underflows.

    Above ``_LOG_TINY`` this is ``ndtri(exp(y))``; below, four Newton steps on
    :math:`\log\Phi(z) = y` from the asymptotic start
    :math:`z_0 = -\sqrt{-2y - \log(-2y) - \log 2\pi}` (:math:`\log\Phi(z) \approx
    -z^2/2 - \log(-z) - \tfrac12\log 2\pi`).  Both branches see clamped inputs, so the
    unselected one never produces infinities that would poison gradients.
    """
    direct = sp.ndtri(anp.exp(anp.maximum(y, _LOG_TINY)))
    t = anp.minimum(y, _LOG_TINY)
    z = -anp.sqrt(-2.0 * t - anp.log(-2.0 * t) - np.log(2.0 * np.pi))
    for _ in range(4):
        log_phi = sp.log_ndtr(z)
        # Newton: divide by d log Phi / dz = phi(z) / Phi(z).
        z = z - (log_phi - t) * anp.exp(log_phi + 0.5 * z * z + _HALF_LOG_2PI)
    return anp.where(y < _LOG_TINY, z, direct)


class TruncatedNormal(_Univariate):
    r"""Normal(loc, scale) truncated to :math:`[\text{low}, \text{high}]` (either may be None).

    .. math:: p(x) = \frac{\phi(z)}{\sigma Z}, \quad Z = \Phi(\beta) - \Phi(\alpha), \quad
        \alpha = \frac{\text{low}-\mu}{\sigma}, \ \beta = \frac{\text{high}-\mu}{\sigma}.

    :math:`\log Z` is computed from ``log_ndtr`` in whichever tail keeps it accurate (the interval
    is reflected when it lies above the mean), so densities stay finite far in the tails.
    Sampling is by the inverse cdf in the same reflected coordinates, and is differentiable in
    every parameter (``rsample``).
    """

    reparametrized_params = ["loc", "scale", "low", "high"]
    has_rsample = True

    def __init__(self, loc=0.0, scale=1.0, *, low=None, high=None, validate_args=None):
        self.arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
        params = {"loc": loc, "scale": scale}
        if low is not None:
            params["low"] = low
            self.arg_constraints["low"] = constraints.real
        if high is not None:
            params["high"] = high
            self.arg_constraints["high"] = (
                constraints.real if low is None else constraints.greater_than(as_param(low))
            )
        self.low, self.high = None, None
        self._init_params(validate_args, **params)

    @property
    def support(self):
        if self.low is None and self.high is None:
            return constraints.real
        if self.high is None:
            return constraints.greater_than(self.low)
        if self.low is None:
            return constraints.less_than(self.high)
        return constraints.interval(self.low, self.high)

    def _standard_bounds(self):
        """(alpha, beta) with +-inf standing in for a missing bound."""
        a = -np.inf if self.low is None else (self.low - self.loc) / self.scale
        b = np.inf if self.high is None else (self.high - self.loc) / self.scale
        return a, b

    def _log_normaliser(self):
        if self.low is None and self.high is None:
            return 0.0
        if self.low is None:
            return sp.log_ndtr((self.high - self.loc) / self.scale)
        if self.high is None:
            return sp.log_ndtr(-(self.low - self.loc) / self.scale)
        return _log_diff_ndtr(*self._standard_bounds())

    def _log_prob(self, value):
        z = (value - self.loc) / self.scale
        lp = -0.5 * z * z - _HALF_LOG_2PI - anp.log(self.scale) - self._log_normaliser()
        inside = np.True_
        if self.low is not None:
            inside = anp.logical_and(inside, value >= self.low)
        if self.high is not None:
            inside = anp.logical_and(inside, value <= self.high)
        return anp.where(inside, lp, -np.inf)

    def _quantile(self, q):
        a, b = self._standard_bounds()
        flip = (a > 0.0) if self.low is not None else np.False_
        lo, hi = anp.where(flip, -b, a), anp.where(flip, -a, b)
        # In reflected coordinates the quantile q of X is the quantile 1 - q.
        qq = anp.where(flip, 1.0 - q, q)
        # log(Phi(lo) + qq Z), in log space so that intervals far in the tail do not underflow.
        log_p = anp.logaddexp(sp.log_ndtr(lo), anp.log(qq) + _log_diff_ndtr(lo, hi))
        z = _ndtri_exp(log_p)
        x = self.loc + self.scale * anp.where(flip, -z, z)
        if self.low is not None:
            x = anp.maximum(x, self.low)
        if self.high is not None:
            x = anp.minimum(x, self.high)
        return x

    def _rsample(self, rng, shape):
        return self._quantile(rng.random(shape))

    def _icdf(self, q):
        return self._quantile(q)

    def _cdf(self, value):
        a, b = self._standard_bounds()
        z = (value - self.loc) / self.scale
        if self.low is None and self.high is None:
            return sp.ndtr(z)
        if self.low is None:
            return anp.exp(sp.log_ndtr(anp.minimum(z, b)) - sp.log_ndtr(b))
        if self.high is None:
            # 1 - Phi(-z) / Phi(-a): the survival ratio is accurate when a is in the upper tail.
            return -anp.expm1(sp.log_ndtr(-anp.maximum(z, a)) - sp.log_ndtr(-a))
        z = anp.clip(z, a, b)
        return anp.exp(_log_diff_ndtr(a, z) - self._log_normaliser())

    def _phi_terms(self):
        """(phi(a) - phi(b)) / Z and (a phi(a) - b phi(b)) / Z, with infinite bounds giving 0."""
        a, b = self._standard_bounds()
        log_z = self._log_normaliser()

        def term(t, missing):
            if missing:  # an infinite bound: the density and t * density vanish there
                return 0.0, 0.0
            pdf = anp.exp(-0.5 * t * t - _HALF_LOG_2PI - log_z)
            return pdf, t * pdf

        pa, apa = term(a, self.low is None)
        pb, bpb = term(b, self.high is None)
        return pa - pb, apa - bpb

    @property
    def mean(self):
        d1, _ = self._phi_terms()
        return _bcast(self.loc + self.scale * d1, self.batch_shape)

    @property
    def variance(self):
        d1, d2 = self._phi_terms()
        return _bcast(self.scale * self.scale * (1.0 + d2 - d1 * d1), self.batch_shape)

    def _entropy(self):
        _, d2 = self._phi_terms()
        h = 0.5 + _HALF_LOG_2PI + anp.log(self.scale) + self._log_normaliser() + 0.5 * d2
        return _bcast(h, self.batch_shape)


# ---- log-cdf helpers shared with censoring -----------------------------------------------------

_TINY = 100.0 * np.finfo(np.float64).tiny


def _symmetric(base) -> bool:
    return bool(getattr(base, "_symmetric_about_loc", False))


def _require_cdf(name: str, base, need_icdf: bool) -> None:
    if not isinstance(base, Distribution) or base.event_shape:
        raise ValueError(f"{name}: base_dist must be a univariate distribution, got {base!r}")
    missing = [m for m in (("_cdf", "_icdf") if need_icdf else ("_cdf",))
               if getattr(type(base), m) is getattr(Distribution, m)]
    if missing:
        what = " and ".join(m[1:] for m in missing)
        raise TypeError(
            f"{name}: {type(base).__name__} has no closed-form {what} here, which {name} "
            f"needs; use a base with them (Normal, Cauchy, Laplace, Logistic, Gumbel, "
            f"Exponential, Weibull, ...)"
        )


def log_cdf(base: Distribution, x: Any) -> Any:
    r""":math:`\log F(x)` of a univariate ``base``: its ``_log_cdf`` hook when it has one,
    otherwise ``log(cdf)`` clipped at a tiny positive number (as NumPyro's censoring)."""
    hook = getattr(base, "_log_cdf", None)
    if hook is not None:
        return hook(x)
    return anp.log(anp.clip(base.cdf(x), _TINY, 1.0))


def log_survival(base: Distribution, x: Any) -> Any:
    r""":math:`\log(1 - F(x))`: the ``_log_sf`` hook, else by reflection about ``loc`` for a
    symmetric base (:math:`1 - F(x) = F(2\mu - x)`), else ``log1p(-cdf)``."""
    hook = getattr(base, "_log_sf", None)
    if hook is not None:
        return hook(x)
    if _symmetric(base):
        return anp.log(anp.clip(base.cdf(2.0 * base.loc - x), _TINY, 1.0))
    return anp.log1p(-anp.clip(base.cdf(x), 0.0, 1.0 - np.finfo(np.float64).eps))


def _isf(base, p):
    """The inverse survival function, exact in the upper tail for a symmetric base."""
    if _symmetric(base):
        return 2.0 * base.loc - base.icdf(p)
    return base.icdf(1.0 - p)


def _upper_half(base, x):
    """Whether ``x`` lies above the base median (where survival probabilities are accurate)."""
    if _symmetric(base):
        return x > base.loc
    return base.cdf(x) > 0.5


def log_interval_mass(base: Distribution, low: Any, high: Any) -> Any:
    r""":math:`\log(F(b) - F(a))` for :math:`a \le b`, from whichever tail keeps precision:
    :math:`\log F(b) + \log(1 - e^{\log F(a) - \log F(b)})` below the median, the same with
    survival functions above it."""
    lc_hi, lc_lo = log_cdf(base, high), log_cdf(base, low)
    ls_lo, ls_hi = log_survival(base, low), log_survival(base, high)
    lower = lc_hi + sp.log1mexp(lc_hi - lc_lo)
    upper = ls_lo + sp.log1mexp(ls_lo - ls_hi)
    return anp.where(_upper_half(base, low), upper, lower)


# ---- generic truncation ------------------------------------------------------------------------


def _bound(support, name):
    return getattr(support, name, None)


def _has_icdf(base) -> bool:
    return type(base)._icdf is not Distribution._icdf


_MAX_REJECTION_ROUNDS = 1000


class _Truncated(Distribution):
    """Shared machinery: the base, the bounds, draws, and the normal moments (borrowed from
    :class:`TruncatedNormal`) when the base is a ``Normal``.

    The log density and cdf need the base's ``cdf``.  Draws are by the inverse cdf (``rsample``,
    differentiable in the parameters and bounds) when the base has ``icdf``, otherwise by
    rejection from the base (exact, not reparameterised; slow if the interval is improbable).
    """

    def _setup(self, base_dist: Distribution, low: Any, high: Any,
               validate_args: bool | None) -> None:
        name = type(self).__name__
        _require_cdf(name, base_dist, need_icdf=False)
        self.base_dist = base_dist
        self.arg_constraints = {}
        shapes = [base_dist.batch_shape]
        if low is not None:
            self.low = as_param(low)
            self.arg_constraints["low"] = constraints.real
            shapes.append(anp.shape(self.low))
        if high is not None:
            self.high = as_param(high)
            self.arg_constraints["high"] = (
                constraints.real if low is None else constraints.greater_than(self.low))
            shapes.append(anp.shape(self.high))
        batch = tuple(np.broadcast_shapes(*shapes))
        Distribution.__init__(self, batch, (), validate_args)

    @property
    def has_rsample(self):
        return _has_icdf(self.base_dist)

    @property
    def reparametrized_params(self):
        if not self.has_rsample:
            return []
        return list(self.base_dist.reparametrized_params) + list(self.arg_constraints)

    def _lower(self):
        return getattr(self, "low", None)

    def _upper(self):
        return getattr(self, "high", None)

    @property
    def support(self):
        lo = self._lower()
        hi = self._upper()
        base_support = self.base_dist.support
        if lo is None:
            lo = _bound(base_support, "lower_bound")
        if hi is None:
            hi = _bound(base_support, "upper_bound")
        if lo is not None and hi is not None:
            return constraints.interval(lo, hi)
        if lo is not None:
            return constraints.greater_than_eq(lo)
        return constraints.less_than_eq(hi)

    def _rsample(self, rng, shape):
        return self._icdf(rng.random(shape))

    def _sample(self, rng, shape):
        if self.has_rsample:
            return self._rsample(rng, shape)
        base = self.base_dist.expand(self.batch_shape)
        draws = np.asarray(base._sample(rng, shape), dtype=np.float64)
        for _ in range(_MAX_REJECTION_ROUNDS):
            outside = ~np.asarray(self._inside(draws))
            if not outside.any():
                return draws
            draws = np.where(outside, np.asarray(base._sample(rng, shape)), draws)
        raise RuntimeError(
            f"{type(self).__name__}.sample: {type(self.base_dist).__name__} has no icdf and "
            f"its draws fell outside the truncation {_MAX_REJECTION_ROUNDS} times in a row; "
            f"the interval is too improbable for rejection sampling"
        )

    def _inside(self, value):
        inside = np.True_
        if self._lower() is not None:
            inside = anp.logical_and(inside, value >= self.low)
        if self._upper() is not None:
            inside = anp.logical_and(inside, value <= self.high)
        return inside

    def _log_prob(self, value):
        inside = self._inside(value)
        anchor = self.low if self._lower() is not None else self.high
        safe = anp.where(inside, value, anchor)
        lp = self.base_dist.log_prob(safe) - self._log_normaliser()
        return anp.where(inside, lp, -np.inf)

    def _as_truncated_normal(self):
        from ppl.distributions.real_line import Normal

        if type(self.base_dist) is not Normal:
            raise NotImplementedError(
                f"{type(self).__name__}: mean, variance and entropy are available for a Normal "
                f"base only, got {type(self.base_dist).__name__}"
            )
        return TruncatedNormal(self.base_dist.loc, self.base_dist.scale, low=self._lower(),
                               high=self._upper(), validate_args=False)

    @property
    def mean(self):
        return _bcast(self._as_truncated_normal().mean, self.batch_shape)

    @property
    def variance(self):
        return _bcast(self._as_truncated_normal().variance, self.batch_shape)

    def _entropy(self):
        return _bcast(self._as_truncated_normal().entropy(), self.batch_shape)


class LeftTruncatedDistribution(_Truncated):
    r"""``base_dist`` restricted to :math:`x \ge a` (``low``):
    :math:`p(x) = f(x) / (1 - F(a))`, :math:`F_T(x) = 1 - S(x)/S(a)` with :math:`S = 1 - F`."""

    def __init__(self, base_dist: Distribution, low: Any = 0.0, *,
                 validate_args: bool | None = None) -> None:
        self._setup(base_dist, low, None, validate_args)

    def _log_normaliser(self):
        return log_survival(self.base_dist, self.low)

    def _cdf(self, value):
        ls = log_survival(self.base_dist, anp.maximum(value, self.low))
        return -anp.expm1(ls - self._log_normaliser())

    def _icdf(self, q):
        base = self.base_dist
        tail = anp.exp(self._log_normaliser())  # S(a)
        upper = _isf(base, (1.0 - q) * tail)
        lower = base.icdf(base.cdf(self.low) + q * tail)
        return anp.maximum(anp.where(_upper_half(base, self.low), upper, lower), self.low)


class RightTruncatedDistribution(_Truncated):
    r"""``base_dist`` restricted to :math:`x \le b` (``high``):
    :math:`p(x) = f(x)/F(b)`, :math:`F_T(x) = F(x)/F(b)`."""

    def __init__(self, base_dist: Distribution, high: Any = 0.0, *,
                 validate_args: bool | None = None) -> None:
        self._setup(base_dist, None, high, validate_args)

    def _log_normaliser(self):
        return log_cdf(self.base_dist, self.high)

    def _cdf(self, value):
        return anp.exp(log_cdf(self.base_dist, anp.minimum(value, self.high))
                       - self._log_normaliser())

    def _icdf(self, q):
        base = self.base_dist
        mass = anp.exp(self._log_normaliser())  # F(b)
        upper = _isf(base, anp.exp(log_survival(base, self.high)) + (1.0 - q) * mass)
        lower = base.icdf(q * mass)
        return anp.minimum(anp.where(_upper_half(base, self.high), upper, lower), self.high)


class TwoSidedTruncatedDistribution(_Truncated):
    r"""``base_dist`` restricted to :math:`[a, b]`:
    :math:`p(x) = f(x)/(F(b) - F(a))`, :math:`F_T(x) = (F(x) - F(a))/(F(b) - F(a))`."""

    def __init__(self, base_dist: Distribution, low: Any = 0.0, high: Any = 1.0, *,
                 validate_args: bool | None = None) -> None:
        self._setup(base_dist, low, high, validate_args)

    def _log_normaliser(self):
        return log_interval_mass(self.base_dist, self.low, self.high)

    def _cdf(self, value):
        x = anp.clip(value, self.low, self.high)
        return anp.exp(log_interval_mass(self.base_dist, self.low, x) - self._log_normaliser())

    def _icdf(self, q):
        base = self.base_dist
        mass = anp.exp(self._log_normaliser())
        upper = _isf(base, anp.exp(log_survival(base, self.high)) + (1.0 - q) * mass)
        lower = base.icdf(base.cdf(self.low) + q * mass)
        x = anp.where(_upper_half(base, self.low), upper, lower)
        return anp.clip(x, self.low, self.high)


def TruncatedDistribution(base_dist: Distribution, low: Any = None,  # noqa: N802
                          high: Any = None, *,
                          validate_args: bool | None = None) -> Distribution:
    """Truncate a univariate ``base_dist`` (with ``cdf`` and ``icdf``) to ``[low, high]``
    (NumPyro's constructor): a :class:`LeftTruncatedDistribution` when only ``low`` is given, a
    :class:`RightTruncatedDistribution` when only ``high``, else a
    :class:`TwoSidedTruncatedDistribution`; ``base_dist`` itself when both are None."""
    if low is None and high is None:
        return base_dist
    if high is None:
        return LeftTruncatedDistribution(base_dist, low, validate_args=validate_args)
    if low is None:
        return RightTruncatedDistribution(base_dist, high, validate_args=validate_args)
    return TwoSidedTruncatedDistribution(base_dist, low, high, validate_args=validate_args)


def TruncatedCauchy(loc: Any = 0.0, scale: Any = 1.0, *, low: Any = None,  # noqa: N802
                    high: Any = None, validate_args: bool | None = None) -> Distribution:
    r"""``TruncatedDistribution(Cauchy(loc, scale), low, high)`` (NumPyro's constructor):

    .. math:: p(x) = \frac{1}{\pi\sigma(1 + z^2)\,(F(b) - F(a))}, \quad
        F(x) = \tfrac12 + \arctan(z)/\pi, \quad z = (x - \mu)/\sigma .
    """
    from ppl.distributions.real_line import Cauchy

    try:
        base = Cauchy(loc, scale, validate_args=validate_args)
    except ValueError as e:
        raise ValueError(f"TruncatedCauchy: {e}") from None
    try:
        return TruncatedDistribution(base, low, high, validate_args=validate_args)
    except ValueError as e:
        raise ValueError(f"TruncatedCauchy: {e}") from None


class FoldedDistribution(Distribution):
    r"""The law of :math:`|X|` for a univariate ``base_dist`` :math:`X` (NumPyro):

    .. math:: p(y) = f(y) + f(-y), \quad y \ge 0, \qquad F_{|X|}(y) = F(y) - F(-y) ,

    with the log density as ``logaddexp`` of the two base terms.  ``rsample`` when the base has
    one (:math:`|x|` is differentiable almost everywhere).  ``FoldedDistribution(Normal(mu,
    sigma))`` is SciPy's ``foldnorm(|mu|/sigma, scale=sigma)``.
    """

    arg_constraints: dict = {}
    support = constraints.nonnegative

    def __init__(self, base_dist: Distribution, *, validate_args: bool | None = None) -> None:
        if not isinstance(base_dist, Distribution) or base_dist.event_shape:
            raise ValueError(
                f"FoldedDistribution: only univariate distributions can be folded, got "
                f"{base_dist!r}"
            )
        self.base_dist = base_dist
        super().__init__(base_dist.batch_shape, (), validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def reparametrized_params(self):
        return self.base_dist.reparametrized_params

    def _sample(self, rng, shape):
        return np.abs(np.asarray(self.base_dist._sample(rng, shape)))

    def _rsample(self, rng, shape):
        return anp.abs(self.base_dist._rsample(rng, shape))

    def _log_prob(self, value):
        lp = anp.logaddexp(self.base_dist.log_prob(value), self.base_dist.log_prob(-value))
        return anp.where(value >= 0.0, lp, -np.inf)

    def _cdf(self, value):
        y = anp.maximum(value, 0.0)
        return self.base_dist.cdf(y) - self.base_dist.cdf(-y)

    def _normal_base(self):
        from ppl.distributions.real_line import Normal

        if type(self.base_dist) is not Normal:
            raise NotImplementedError(
                f"FoldedDistribution: mean and variance are available for a Normal base only, "
                f"got {type(self.base_dist).__name__}"
            )
        return self.base_dist.loc, self.base_dist.scale

    @property
    def mean(self):
        r""":math:`\sigma\sqrt{2/\pi}\,e^{-\mu^2/2\sigma^2} + \mu(1 - 2\Phi(-\mu/\sigma))`
        for a normal base (Leone, Nelson and Nottingham, *Technometrics* 3 (1961) 543-550)."""
        mu, sigma = self._normal_base()
        z = mu / sigma
        m = sigma * np.sqrt(2.0 / np.pi) * anp.exp(-0.5 * z * z) + mu * (1.0 - 2.0 * sp.ndtr(-z))
        return _bcast(m, self.batch_shape)

    @property
    def variance(self):
        r""":math:`\mu^2 + \sigma^2 - (E|X|)^2` for a normal base."""
        mu, sigma = self._normal_base()
        m = self.mean
        return _bcast(mu * mu + sigma * sigma - m * m, self.batch_shape)


def _gamma_base(where: str, base_dist: Distribution) -> Distribution:
    from ppl.distributions.positive import Gamma

    if not isinstance(base_dist, Gamma):
        raise TypeError(f"{where}: base_dist must be a Gamma, got {type(base_dist).__name__}")
    return base_dist


class LeftTruncatedGamma(LeftTruncatedDistribution):
    """A ``Gamma`` truncated below at ``low`` (NumPyro's class; the generic truncation)."""

    def __init__(self, base_dist: Distribution, low: Any = 0.0, *,
                 validate_args: bool | None = None):
        super().__init__(_gamma_base("LeftTruncatedGamma", base_dist), low,
                         validate_args=validate_args)


class RightTruncatedGamma(RightTruncatedDistribution):
    """A ``Gamma`` truncated above at ``high`` (NumPyro's class; the generic truncation)."""

    def __init__(self, base_dist: Distribution, high: Any = 1.0, *,
                 validate_args: bool | None = None):
        super().__init__(_gamma_base("RightTruncatedGamma", base_dist), high,
                         validate_args=validate_args)


class TwoSidedTruncatedGamma(TwoSidedTruncatedDistribution):
    """A ``Gamma`` truncated to ``[low, high]`` (NumPyro's class; the generic truncation)."""

    def __init__(self, base_dist: Distribution, low: Any = 0.0, high: Any = 1.0, *,
                 validate_args: bool | None = None):
        super().__init__(_gamma_base("TwoSidedTruncatedGamma", base_dist), low, high,
                         validate_args=validate_args)


def TruncatedGamma(concentration: Any = 1.0, rate: Any = 1.0, *, low: Any = None,  # noqa: N802
                   high: Any = None, validate_args: bool | None = None) -> Distribution:
    r"""``Gamma(concentration, rate)`` truncated to ``[low, high]`` (NumPyro's constructor):
    :math:`p(x) = \text{Gamma}(x \mid \alpha, \beta) / (F(b) - F(a))`, :math:`F` the
    regularised lower incomplete gamma function of :math:`\beta x`."""
    from ppl.distributions.positive import Gamma

    base = Gamma(concentration, rate, validate_args=validate_args)
    if low is None and high is None:
        return base
    if high is None:
        return LeftTruncatedGamma(base, low, validate_args=validate_args)
    if low is None:
        return RightTruncatedGamma(base, high, validate_args=validate_args)
    return TwoSidedTruncatedGamma(base, low, high, validate_args=validate_args)
