r"""Kullback-Leibler divergences :math:`\mathrm{KL}(p \,\|\, q) = \mathbb{E}_p[\log p(x) - \log q(x)]`
in closed form, looked up in a registry of pairs of distribution classes (NumPyro's
``numpyro.distributions.kl``, itself PyTorch's design).

``kl_divergence(p, q)`` returns one value per batch element, of shape
``broadcast(p.batch_shape, q.batch_shape)``: event dimensions are summed over, as in
``log_prob``.  Every formula is written with :mod:`autodiff.numpy` and
:mod:`autodiff.scipy.special` operations on the parameters, so a KL differentiates, vectorises
and stages like a log density: it is meant for ``TraceMeanField_ELBO``, which uses the closed
form at the sites whose (guide, model) pair is registered and a Monte Carlo estimate elsewhere.

Dispatch: a function registered for ``(P, Q)`` applies to ``p`` and ``q`` when
``isinstance(p, P)`` and ``isinstance(q, Q)``.  Among the registered pairs that apply, the one
nearest to ``(type(p), type(q))`` wins: the smallest sum of the positions of ``P`` in
``type(p).__mro__`` and of ``Q`` in ``type(q).__mro__``, ties going to the pair nearer to ``p``
(TensorFlow Probability's rule; PyTorch and NumPyro resolve the same cases in the same way
here).  So ``Chi2`` (a ``Gamma``) uses the Gamma/Gamma formula, and a ``Delta`` against a
``MaskedDistribution`` uses ``(Delta, Distribution)`` rather than
``(Distribution, MaskedDistribution)``.

>>> from ppl import distributions as dist
>>> float(dist.kl_divergence(dist.Normal(0.0, 1.0), dist.Normal(1.0, 1.0)))  # (0 - 1)^2 / 2
0.5

References: the univariate formulas follow from the densities in Johnson, Kotz and
Balakrishnan, *Continuous Univariate Distributions* (Wiley, 1994-95); Penny (2001), "KL
divergences of Normal, Gamma, Dirichlet and Wishart densities" (Wellcome Dept. technical
report) for the Gaussian, Gamma and Dirichlet ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl.distributions.base import (
    Delta,
    Distribution,
    ExpandedDistribution,
    Independent,
    MaskedDistribution,
)
from ppl.distributions.bounded import Beta, Uniform
from ppl.distributions.categorical import Categorical
from ppl.distributions.discrete import Bernoulli, Poisson
from ppl.distributions.multivariate import Dirichlet, MultivariateNormal
from ppl.distributions.positive import Exponential, Gamma, HalfNormal, LogNormal
from ppl.distributions.real_line import Gumbel, Laplace, Normal
from ppl.distributions.univariate import _EULER_GAMMA

__all__ = ["kl_divergence", "register_kl"]

KLFunction = Callable[[Any, Any], Any]

_REGISTRY: dict[tuple[type, type], KLFunction] = {}
# (type(p), type(q)) -> the function chosen for it; cleared whenever the registry changes.
_DISPATCH_CACHE: dict[tuple[type, type], KLFunction | None] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[KLFunction], KLFunction]:
    r"""Decorator registering ``fn(p, q)`` as :math:`\mathrm{KL}(p \| q)` for ``p`` an instance of
    ``type_p`` and ``q`` an instance of ``type_q`` (subclasses included, see
    :func:`kl_divergence` for which registration wins).

    ``fn`` must return an array of shape ``broadcast(p.batch_shape, q.batch_shape)`` written with
    :mod:`autodiff.numpy` operations on the parameters.  Registering a pair again replaces the
    earlier function.

    >>> from ppl import distributions as dist
    >>> class MyNormal(dist.Normal):
    ...     pass
    >>> @dist.register_kl(MyNormal, MyNormal)
    ... def _kl_mine(p, q):
    ...     return dist.kl_divergence(dist.Normal(p.loc, p.scale), dist.Normal(q.loc, q.scale))
    >>> float(dist.kl_divergence(MyNormal(0.0, 1.0), MyNormal(0.0, 1.0)))
    0.0
    """
    for t in (type_p, type_q):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(
                f"register_kl: expected two Distribution subclasses, got {type_p!r} and {type_q!r}"
            )

    def decorator(fn: KLFunction) -> KLFunction:
        _REGISTRY[(type_p, type_q)] = fn
        _DISPATCH_CACHE.clear()
        return fn

    return decorator


def _dispatch(type_p: type, type_q: type) -> KLFunction | None:
    key = (type_p, type_q)
    if key not in _DISPATCH_CACHE:
        mro_p, mro_q = type_p.__mro__, type_q.__mro__
        best, best_rank = None, None
        for (cp, cq), fn in _REGISTRY.items():
            if cp in mro_p and cq in mro_q:
                dp, dq = mro_p.index(cp), mro_q.index(cq)
                rank = (dp + dq, dp)
                if best_rank is None or rank < best_rank:
                    best, best_rank = fn, rank
        _DISPATCH_CACHE[key] = best
    return _DISPATCH_CACHE[key]


def kl_divergence(p: Distribution, q: Distribution) -> Any:
    r""":math:`\mathrm{KL}(p \,\|\, q) = \mathbb{E}_{x \sim p}[\log p(x) - \log q(x)]` in closed form.

    The result has shape ``broadcast(p.batch_shape, q.batch_shape)`` (event dimensions summed
    over); it is ``+inf`` where ``p`` puts mass outside the support of ``q``.  The function is
    the registered one for the most specific pair of classes of ``p`` and ``q`` (see the module
    docstring); a pair with none registered raises ``NotImplementedError``.

    >>> import numpy as np
    >>> from ppl import distributions as dist
    >>> p = dist.Normal(np.zeros(3), 1.0)
    >>> q = dist.Normal(0.0, np.array([1.0, 2.0, 0.5]))
    >>> kl = dist.kl_divergence(p, q)   # log(s) + 1 / (2 s^2) - 1/2 for each scale s
    >>> np.round(kl, 6)
    array([0.      , 0.318147, 0.806853])
    >>> round(float(dist.kl_divergence(p.to_event(1), q.to_event(1))), 6)   # the sum
    1.125
    """
    fn = _dispatch(type(p), type(q))
    if fn is None:
        raise NotImplementedError(
            f"kl_divergence: no closed-form KL is registered for p = {type(p).__name__} and "
            f"q = {type(q).__name__}; register one with @register_kl({type(p).__name__}, "
            f"{type(q).__name__}). TraceMeanField_ELBO falls back to a Monte Carlo estimate "
            f"(log p - log q at a draw of the guide) for such sites."
        )
    return fn(p, q)


# ---- helpers ---------------------------------------------------------------------------------


def _batch(p: Distribution, q: Distribution) -> tuple[int, ...]:
    """The broadcast batch shape of ``p`` and ``q``, with a message naming both if it fails."""
    try:
        return tuple(np.broadcast_shapes(p.batch_shape, q.batch_shape))
    except ValueError:
        raise ValueError(
            f"kl_divergence: batch shapes {p.batch_shape} of {type(p).__name__} and "
            f"{q.batch_shape} of {type(q).__name__} do not broadcast"
        ) from None


def _out(x: Any, p: Distribution, q: Distribution) -> Any:
    """``x`` broadcast to the joint batch shape (formulas of scalar parameters may be smaller)."""
    return anp.broadcast_to(x, _batch(p, q))


def _check_events(p: Distribution, q: Distribution) -> None:
    if p.event_shape != q.event_shape:
        raise ValueError(
            f"kl_divergence: event shapes differ, {p.event_shape} for {type(p).__name__} and "
            f"{q.event_shape} for {type(q).__name__}; KL compares laws on the same space"
        )


def _xlog_ratio(w: Any, log_p: Any, log_q: Any) -> Any:
    r""":math:`w (\log p - \log q)` with the convention :math:`0 \cdot (\cdot) = 0`.

    A zero-probability outcome of ``p`` contributes nothing even where ``log q`` is -inf.  Both
    logs are replaced by 0 there before the subtraction, not only the result: ``-inf - -inf`` in
    the branch where() discards would still warn, and make the gradient NaN.
    """
    pos = w > 0.0
    return anp.where(pos, w * (anp.where(pos, log_p, 0.0) - anp.where(pos, log_q, 0.0)), 0.0)


def _sum_rightmost(x: Any, n: int) -> Any:
    return x if n == 0 else anp.sum(x, axis=tuple(range(-n, 0)))


# ---- combinators -----------------------------------------------------------------------------


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> Any:
    r"""Independent dimensions add: :math:`\mathrm{KL} = \sum_{\text{reinterpreted dims}}
    \mathrm{KL}(p_{\text{base}} \| q_{\text{base}})`.

    Both must reinterpret the same number of batch dimensions (NumPyro's condition): otherwise
    the events differ in how they split between base batch and base event.
    """
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(
            f"kl_divergence(Independent, Independent) needs the same reinterpreted_batch_ndims, "
            f"got {p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims}"
        )
    _check_events(p, q)
    kl = kl_divergence(p.base_dist, q.base_dist)
    return _sum_rightmost(kl, p.reinterpreted_batch_ndims)


@register_kl(ExpandedDistribution, ExpandedDistribution)
def _kl_expanded_expanded(p: ExpandedDistribution, q: ExpandedDistribution) -> Any:
    """Expanding copies the law along new batch elements: the KL of the bases, broadcast.

    The bases' batch shapes always broadcast: each is right-aligned with 1 or the expanded size.
    """
    return _out(kl_divergence(p.base_dist, q.base_dist), p, q)


@register_kl(ExpandedDistribution, Distribution)
def _kl_expanded_distribution(p: ExpandedDistribution, q: Distribution) -> Any:
    return _out(kl_divergence(p.base_dist, q), p, q)


@register_kl(Distribution, ExpandedDistribution)
def _kl_distribution_expanded(p: Distribution, q: ExpandedDistribution) -> Any:
    return _out(kl_divergence(p, q.base_dist), p, q)


def _masked(kl: Any, mask: Any, p: Distribution, q: Distribution) -> Any:
    # where(), not a product: an infinite KL of a masked-out element must become exactly 0,
    # matching log_prob, which is 0 there whatever the base density.
    return anp.where(mask, _out(kl, p, q), 0.0)


@register_kl(MaskedDistribution, MaskedDistribution)
def _kl_masked_masked(p: MaskedDistribution, q: MaskedDistribution) -> Any:
    r"""The base KL where both masks are True, 0 elsewhere (the site's term is masked out, as in
    ``log_prob``)."""
    mask = anp.logical_and(p._mask, q._mask)
    return _masked(kl_divergence(p.base_dist, q.base_dist), mask, p, q)


@register_kl(MaskedDistribution, Distribution)
def _kl_masked_distribution(p: MaskedDistribution, q: Distribution) -> Any:
    return _masked(kl_divergence(p.base_dist, q), p._mask, p, q)


@register_kl(Distribution, MaskedDistribution)
def _kl_distribution_masked(p: Distribution, q: MaskedDistribution) -> Any:
    return _masked(kl_divergence(p, q.base_dist), q._mask, p, q)


@register_kl(Delta, Distribution)
def _kl_delta_distribution(p: Delta, q: Distribution) -> Any:
    r"""A point mass at :math:`v` with ``log_density`` :math:`\ell`:
    :math:`\mathrm{KL} = \ell - \log q(v)`.

    Pyro and NumPyro return :math:`-\log q(v)`, the same for the default :math:`\ell = 0`; here
    :math:`\ell` is kept because it is ``p.log_prob(v)``, which :math:`\mathbb{E}_p[\log p]` is.
    """
    _check_events(p, q)
    return _out(anp.subtract(p.log_density, q.log_prob(p.v)), p, q)


# ---- real line -------------------------------------------------------------------------------


def _kl_gaussian(mu_p: Any, s_p: Any, mu_q: Any, s_q: Any) -> Any:
    r""":math:`\log\frac{\sigma_q}{\sigma_p} + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2}
    - \frac12`."""
    r = s_p / s_q
    z = (mu_p - mu_q) / s_q
    # log(s_q / s_p) = -log(r); written from the ratio so that KL(p, p) is exactly 0.
    return 0.5 * (r * r + z * z) - 0.5 - anp.log(r)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Any:
    r""":math:`\mathrm{KL} = \log\frac{\sigma_q}{\sigma_p}
    + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2} - \frac12`."""
    return _out(_kl_gaussian(p.loc, p.scale, q.loc, q.scale), p, q)


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p: LogNormal, q: LogNormal) -> Any:
    r"""KL is invariant under the common bijection :math:`x \mapsto \log x`: the Normal formula
    in ``loc`` and ``scale``."""
    return _out(_kl_gaussian(p.loc, p.scale, q.loc, q.scale), p, q)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p: Laplace, q: Laplace) -> Any:
    r"""With :math:`d = |\mu_p - \mu_q|`: :math:`\mathrm{KL} = \log\frac{b_q}{b_p} + \frac{d}{b_q}
    + \frac{b_p}{b_q} e^{-d/b_p} - 1` (from :math:`\mathbb{E}_p|x - \mu_q| = d + b_p e^{-d/b_p}`).
    """
    r = p.scale / q.scale
    d = anp.abs(p.loc - q.loc)
    return _out(-anp.log(r) + d / q.scale + r * anp.exp(-d / p.scale) - 1.0, p, q)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p: Gumbel, q: Gumbel) -> Any:
    r"""With :math:`r = \beta_p/\beta_q`: :math:`\mathrm{KL} = -\log r + \gamma(r - 1)
    + \frac{\mu_p - \mu_q}{\beta_q} + e^{(\mu_q - \mu_p)/\beta_q}\,\Gamma(1 + r) - 1`
    (:math:`\gamma` Euler's constant; from :math:`\mathbb{E}\,e^{-tz} = \Gamma(1 + t)` for a
    standard Gumbel :math:`z`)."""
    r = p.scale / q.scale
    t = (p.loc - q.loc) / q.scale
    return _out(-anp.log(r) + _EULER_GAMMA * (r - 1.0) + t
                + anp.exp(sp.gammaln(1.0 + r) - t) - 1.0, p, q)


# ---- positive half-line ----------------------------------------------------------------------


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p: HalfNormal, q: HalfNormal) -> Any:
    r""":math:`\mathrm{KL} = \log\frac{\sigma_q}{\sigma_p} + \frac{\sigma_p^2}{2\sigma_q^2}
    - \frac12` (the Normal formula at :math:`\mu_p = \mu_q = 0`: folding both at 0 keeps the
    density ratio)."""
    r = p.scale / q.scale
    return _out(0.5 * r * r - 0.5 - anp.log(r), p, q)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p: Exponential, q: Exponential) -> Any:
    r""":math:`\mathrm{KL} = \log\frac{\lambda_p}{\lambda_q} + \frac{\lambda_q}{\lambda_p} - 1`."""
    r = q.rate / p.rate
    return _out(r - 1.0 - anp.log(r), p, q)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p: Gamma, q: Gamma) -> Any:
    r"""Shape :math:`\alpha`, rate :math:`\beta`:

    .. math:: \mathrm{KL} = (\alpha_p - \alpha_q)\psi(\alpha_p) - \log\Gamma(\alpha_p)
              + \log\Gamma(\alpha_q) + \alpha_q \log\frac{\beta_p}{\beta_q}
              + \alpha_p \frac{\beta_q - \beta_p}{\beta_p}.
    """
    a_p, a_q = p.concentration, q.concentration
    b_p, b_q = p.rate, q.rate
    kl = ((a_p - a_q) * sp.digamma(a_p) - sp.gammaln(a_p) + sp.gammaln(a_q)
          + a_q * anp.log(b_p / b_q) + a_p * (b_q / b_p - 1.0))
    return _out(kl, p, q)


# ---- bounded ---------------------------------------------------------------------------------


@register_kl(Beta, Beta)
def _kl_beta_beta(p: Beta, q: Beta) -> Any:
    r""":math:`\alpha` = ``concentration1``, :math:`\beta` = ``concentration0``:

    .. math:: \mathrm{KL} = \log B(\alpha_q, \beta_q) - \log B(\alpha_p, \beta_p)
              + (\alpha_p - \alpha_q)\psi(\alpha_p) + (\beta_p - \beta_q)\psi(\beta_p)
              + (\alpha_q - \alpha_p + \beta_q - \beta_p)\psi(\alpha_p + \beta_p).
    """
    a_p, b_p = p.concentration1, p.concentration0
    a_q, b_q = q.concentration1, q.concentration0
    kl = (sp.betaln(a_q, b_q) - sp.betaln(a_p, b_p)
          + (a_p - a_q) * sp.digamma(a_p) + (b_p - b_q) * sp.digamma(b_p)
          + (a_q - a_p + b_q - b_p) * sp.digamma(a_p + b_p))
    return _out(kl, p, q)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Any:
    r""":math:`\mathrm{KL} = \log\frac{h_q - l_q}{h_p - l_p}` when
    :math:`[l_p, h_p] \subseteq [l_q, h_q]`, else :math:`+\infty` (``p`` has mass where ``q`` has
    none)."""
    nested = anp.logical_and(q.low <= p.low, p.high <= q.high)
    kl = anp.log((q.high - q.low) / (p.high - p.low))
    return _out(anp.where(nested, kl, np.inf), p, q)


# ---- multivariate ----------------------------------------------------------------------------


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p: Dirichlet, q: Dirichlet) -> Any:
    r"""With :math:`\alpha_0 = \sum_k \alpha_k` (``p``) and :math:`\beta_0 = \sum_k \beta_k` (``q``):

    .. math:: \mathrm{KL} = \log\Gamma(\alpha_0) - \sum_k \log\Gamma(\alpha_k) - \log\Gamma(\beta_0)
              + \sum_k \log\Gamma(\beta_k) + \sum_k (\alpha_k - \beta_k)(\psi(\alpha_k) - \psi(\alpha_0)).
    """
    _check_events(p, q)
    a, b = p.concentration, q.concentration
    a0 = anp.sum(a, -1)
    kl = (sp.gammaln(a0) - anp.sum(sp.gammaln(a), -1) - sp.gammaln(anp.sum(b, -1))
          + anp.sum(sp.gammaln(b), -1)
          + anp.sum((a - b) * (sp.digamma(a) - anp.expand_dims(sp.digamma(a0), -1)), -1))
    return _out(kl, p, q)


def _kl_gaussian_tril(mu_p: Any, L_p: Any, mu_q: Any, L_q: Any, batch: tuple[int, ...]) -> Any:
    r""":math:`\frac12\big[\|L_q^{-1}L_p\|_F^2 + \|L_q^{-1}(\mu_p - \mu_q)\|^2 - k\big]
    + \sum_i \log (L_q)_{ii} - \sum_i \log (L_p)_{ii}`, for lower-triangular factors (either may be
    a batch of diagonal matrices)."""
    k = anp.shape(mu_p)[-1]
    L_p = anp.broadcast_to(L_p, batch + (k, k))
    L_q = anp.broadcast_to(L_q, batch + (k, k))
    diff = anp.broadcast_to(mu_p - mu_q, batch + (k,))
    # tr(Σq⁻¹ Σp) = ||Lq⁻¹ Lp||_F² and the Mahalanobis term, by triangular solves only: no
    # inverse or determinant is formed, so this stays accurate for ill-conditioned factors.
    m = anp.linalg.solve_triangular(L_q, L_p, lower=True)
    z = anp.linalg.solve_triangular(L_q, anp.expand_dims(diff, -1), lower=True)[..., 0]
    log_det = (anp.sum(anp.log(anp.diagonal(L_q, 0, -2, -1)), -1)
               - anp.sum(anp.log(anp.diagonal(L_p, 0, -2, -1)), -1))
    return 0.5 * (anp.sum(anp.square(m), (-2, -1)) + anp.sum(anp.square(z), -1) - k) + log_det


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> Any:
    r"""With :math:`\Sigma = LL^T` (``scale_tril``) and :math:`k` the dimension:

    .. math:: \mathrm{KL} = \tfrac12\big[\operatorname{tr}(\Sigma_q^{-1}\Sigma_p)
              + (\mu_q - \mu_p)^T \Sigma_q^{-1} (\mu_q - \mu_p) - k
              + \log\det\Sigma_q - \log\det\Sigma_p\big],

    computed as :math:`\frac12[\|L_q^{-1}L_p\|_F^2 + \|L_q^{-1}(\mu_p - \mu_q)\|^2 - k]
    + \sum_i \log (L_q)_{ii} - \sum_i \log (L_p)_{ii}`.
    """
    _check_events(p, q)
    return _kl_gaussian_tril(p.loc, p.scale_tril, q.loc, q.scale_tril, _batch(p, q))


def _diagonal_normal(d: Independent) -> tuple[Any, Any]:
    """``(loc, scale)``, each of shape ``batch + (k,)``, of ``Normal(...).to_event(1)`` (possibly
    expanded first); ``NotImplementedError`` for any other Independent."""
    base = d.base_dist
    root = base.base_dist if isinstance(base, ExpandedDistribution) else base
    if d.reinterpreted_batch_ndims != 1 or type(root) is not Normal:
        raise NotImplementedError(
            f"kl_divergence between MultivariateNormal and Independent needs a Normal base with "
            f"reinterpreted_batch_ndims=1, got {type(root).__name__} with "
            f"{d.reinterpreted_batch_ndims}"
        )
    shape = d.batch_shape + d.event_shape
    return anp.broadcast_to(root.loc, shape), anp.broadcast_to(root.scale, shape)


def _diag_matrix(s: Any) -> Any:
    k = anp.shape(s)[-1]
    return anp.expand_dims(s, -1) * np.eye(k)


@register_kl(MultivariateNormal, Independent)
def _kl_mvn_diagonal(p: MultivariateNormal, q: Independent) -> Any:
    r"""The MVN formula with :math:`L_q = \operatorname{diag}(\sigma_q)`, for ``q`` a
    ``Normal(loc, scale).to_event(1)`` (a mean-field Gaussian)."""
    _check_events(p, q)
    loc, scale = _diagonal_normal(q)
    return _kl_gaussian_tril(p.loc, p.scale_tril, loc, _diag_matrix(scale), _batch(p, q))


@register_kl(Independent, MultivariateNormal)
def _kl_diagonal_mvn(p: Independent, q: MultivariateNormal) -> Any:
    r"""The MVN formula with :math:`L_p = \operatorname{diag}(\sigma_p)`, for ``p`` a
    ``Normal(loc, scale).to_event(1)``."""
    _check_events(p, q)
    loc, scale = _diagonal_normal(p)
    return _kl_gaussian_tril(loc, _diag_matrix(scale), q.loc, q.scale_tril, _batch(p, q))


# ---- discrete --------------------------------------------------------------------------------


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Any:
    r""":math:`\mathrm{KL} = \pi_p \log\frac{\pi_p}{\pi_q}
    + (1 - \pi_p)\log\frac{1 - \pi_p}{1 - \pi_q}`, with :math:`0 \log 0 = 0`.

    The logs come from whichever parameterisation each was given (``log1pexp`` of the logits),
    so large logits do not round :math:`1 - \pi` to 0.
    """
    lp1, lp0 = p._log_p_and_log1m_p()
    lq1, lq0 = q._log_p_and_log1m_p()
    kl = _xlog_ratio(anp.exp(lp1), lp1, lq1) + _xlog_ratio(anp.exp(lp0), lp0, lq0)
    return _out(kl, p, q)


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Any:
    r""":math:`\mathrm{KL} = \sum_k \pi_{p,k} (\log \pi_{p,k} - \log \pi_{q,k})`, with
    :math:`0 \log 0 = 0`."""
    if p._num_categories != q._num_categories:
        raise ValueError(
            f"kl_divergence: {type(p).__name__} has {p._num_categories} categories and "
            f"{type(q).__name__} {q._num_categories}; they must have the same number"
        )
    lp, lq = p._log_probs(), q._log_probs()
    return _out(anp.sum(_xlog_ratio(anp.exp(lp), lp, lq), -1), p, q)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p: Poisson, q: Poisson) -> Any:
    r""":math:`\mathrm{KL} = \lambda_p \log\frac{\lambda_p}{\lambda_q} - \lambda_p + \lambda_q`."""
    return _out(p.rate * anp.log(p.rate / q.rate) - p.rate + q.rate, p, q)
