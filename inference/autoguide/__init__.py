r"""Automatic guides for variational inference: NumPyro's ``numpyro.infer.autoguide``.

An *autoguide* builds the variational family :math:`q_\phi(z)` of a model from the model alone.
On its first call it runs the model once under ``seed`` + ``trace`` (the *prototype*: which
sites are latent, their shapes, supports and plates, and an initial point chosen by
``init_loc_fn``); afterwards the guide is a function with the model's ``*args, **kwargs`` that
declares its variational parameters with :func:`ppl.param` and samples every latent site of the
model, which is what ``SVI(model, guide, optim, loss)`` needs.

Every family lives on the unconstrained space of ADVI (Kucukelbir et al. 2017): a latent site
:math:`z` with support :math:`S` is :math:`z = T(u)`, :math:`T = \text{biject\_to}(S)`, and
the density of :math:`z` is that of :math:`u` times the change of variables,

.. math:: \log q(z) = \log q_u(u) - \log\left|\det \partial T(u)/\partial u\right|,
          \qquad u = T^{-1}(z).

* :class:`AutoNormal`: mean field, one ``Normal(loc, scale)`` per site and per entry, pushed
  through :math:`T` (a ``TransformedDistribution``), inside the model's plates (a subsampled
  plate subsamples the site's ``loc`` and ``scale``). Params ``f"{name}_{prefix}_loc"`` and
  ``f"{name}_{prefix}_scale"``.
* :class:`AutoContinuous` and its subclasses: one distribution over the flat vector
  :math:`u \in \mathbb{R}^D` of all latent sites (the order and slices of
  :func:`ppl.model.build_layout`), sampled as the auxiliary site ``f"_{prefix}_latent"``
  (``infer={"is_auxiliary": True}``); each model site then gets
  ``Delta(T(u_site), log_density=-log|J|)``, so the guide's total log density is
  :math:`\log q_u(u) - \sum_{\text{sites}} \log|J|` (above).
  :class:`AutoDiagonalNormal` (:math:`\mathcal N(\mu, \operatorname{diag}\sigma^2)`),
  :class:`AutoMultivariateNormal` (:math:`\mathcal N(\mu, LL^T)`),
  :class:`AutoLowRankMultivariateNormal` (:math:`\mathcal N(\mu, WW^T + \operatorname{diag} D)`)
  and :class:`AutoLaplaceApproximation` (a point while fitting; afterwards
  :math:`\mathcal N(\hat u, H^{-1})` with :math:`H` the Hessian of the negative log joint at the
  fitted point :math:`\hat u`, Laplace's method).
* :class:`AutoDelta`: MAP, each site a point mass at a constrained param
  ``f"{name}_{prefix}_loc"``.

After fitting, ``params`` (SVI's ``get_params(state)``: constrained param values by name) gives
``sample_posterior``, ``median``, ``quantiles`` and, for the families over the flat vector,
``get_posterior``. As in NumPyro's guides, each site's bijector comes from its support in the
prototype trace: a model whose support depends on another latent site (``Uniform(0, a)`` with a
latent ``a``) needs a hand-written guide.

References: Kucukelbir, Tran, Ranganath, Gelman and Blei (2017), "Automatic differentiation
variational inference", JMLR 18(14); Blei, Kucukelbir and McAuliffe (2017), "Variational
inference: a review for statisticians", JASA 112; NumPyro's ``numpyro/infer/autoguide.py``
(names, parameters and semantics); Tierney and Kadane (1986) for the Laplace approximation.

>>> import numpy as np
>>> import ppl
>>> from ppl import dist, handlers
>>> from inference.autoguide import AutoDiagonalNormal
>>> def model(y):
...     mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
...     sigma = ppl.sample("sigma", dist.HalfNormal(5.0))
...     with ppl.plate("n", len(y)):
...         ppl.sample("y", dist.Normal(mu, sigma), obs=y)
>>> y = np.array([1.0, 2.0, 3.0])
>>> guide = AutoDiagonalNormal(model)
>>> tr = handlers.trace(handlers.seed(guide, 0)).get_trace(y)
>>> [(name, site.type) for name, site in tr.items()]  # doctest: +NORMALIZE_WHITESPACE
[('auto_loc', 'param'), ('auto_scale', 'param'), ('_auto_latent', 'sample'),
 ('mu', 'sample'), ('sigma', 'sample')]
>>> params = {"auto_loc": np.array([2.0, 0.0]), "auto_scale": np.array([0.5, 0.1])}
>>> {k: float(v) for k, v in guide.median(params).items()}   # sigma = exp(0)
{'mu': 2.0, 'sigma': 1.0}
"""

from inference.autoguide._base import AutoGuide, InitLocFn  # noqa: F401  (InitLocFn: public type)
from inference.autoguide._continuous import (
    AutoContinuous,
    AutoDiagonalNormal,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
)
from inference.autoguide._local import AutoDelta, AutoNormal

__all__ = [
    "AutoContinuous",
    "AutoDelta",
    "AutoDiagonalNormal",
    "AutoGuide",
    "AutoLaplaceApproximation",
    "AutoLowRankMultivariateNormal",
    "AutoMultivariateNormal",
    "AutoNormal",
]
