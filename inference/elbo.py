r"""The objectives of stochastic variational inference: ``Trace_ELBO``, ``TraceMeanField_ELBO``,
``RenyiELBO``.

Each takes the traces of one *particle* (the guide run once with its draws, the model run on
those draws) to a number, and the particles' numbers to the objective whose gradient SVI
follows. With :math:`z \sim q_\phi` drawn by the guide and :math:`p(x, z)` the model,

.. math::

    \text{ELBO}(\phi) = \mathbb E_{q_\phi}\left[\log p(x, z) - \log q_\phi(z)\right]
    \le \log p(x).

Guide sites drawn by a reparameterised sampler (:math:`z = g_\phi(\varepsilon)`, the noise
:math:`\varepsilon` independent of :math:`\phi`) are differentiated through the draw (the
pathwise gradient). Sites without one (discrete sites; distributions with no reparameterised
sampler) are drawn with their value cut off from the gradient and add the score-function term
:math:`\nabla_\phi \log q_\phi(z)\, (\text{ELBO estimate} - b)`, whose expectation is the
missing part of the gradient; :math:`b`, a running average of past ELBO estimates, is a
baseline (a control variate: it does not change the expectation, since
:math:`\mathbb E_q[\nabla \log q] = 0`, and it lowers the variance). The objective is written so
that its *value* is the ELBO estimate itself and only its gradient carries the score terms
(Schulman et al. 2015, "Gradient estimation using stochastic computation graphs"; the
"surrogate loss" of Pyro and NumPyro).

Particles are vectorised: SVI evaluates all ``num_particles`` at once in one compiled call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff.scipy.special import logsumexp
from ppl import runtime
from ppl.distributions import kl_divergence
from ppl.errors import SiteError

__all__ = ["ELBO", "RenyiELBO", "TraceMeanField_ELBO", "Trace_ELBO"]


class ELBO:
    """Base of the SVI objectives: ``num_particles`` Monte Carlo draws per gradient."""

    #: Whether the objective's gradient can include score-function terms.
    supports_score_function = True

    def __init__(self, num_particles: int = 1):
        if not isinstance(num_particles, (int, np.integer)) or num_particles < 1:
            raise ValueError(f"{type(self).__name__}: num_particles must be an int >= 1, got "
                             f"{num_particles!r}")
        self.num_particles = int(num_particles)

    def particle_terms(self, model_trace: dict, guide_trace: dict) -> Any:
        r"""One particle's :math:`\log p(x, z) - \log q(z)`."""
        return _log_density(model_trace) - _log_density(guide_trace)

    def combine(self, elbos: Any, score_log_q: Any, baseline: Any) -> Any:
        """The objective of all particles: its value is the mean of ``elbos``; its gradient adds
        the score-function terms (``score_log_q`` is each particle's log density of its
        non-reparameterised guide sites)."""
        learning_signal = anp.stop_gradient(elbos - baseline)
        zero_valued = score_log_q - anp.stop_gradient(score_log_q)
        return anp.mean(elbos + zero_valued * learning_signal)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_particles={self.num_particles})"


class Trace_ELBO(ELBO):  # noqa: N801  (NumPyro's name)
    r"""The ELBO estimated from ``num_particles`` joint draws of the guide.

    .. math::

        \widehat{\text{ELBO}} = \frac1K \sum_{k=1}^K \log p(x, z_k) - \log q_\phi(z_k),
        \qquad z_k \sim q_\phi.

    >>> Trace_ELBO(num_particles=4)
    Trace_ELBO(num_particles=4)
    """


class TraceMeanField_ELBO(ELBO):  # noqa: N801  (NumPyro's name)
    r"""The ELBO with an analytic KL divergence wherever one is known.

    For a latent site whose guide distribution :math:`q` and model distribution :math:`p` have a
    registered :func:`ppl.distributions.kl_divergence`, the site's Monte Carlo term
    :math:`\log p(z) - \log q(z)` is replaced by its expectation :math:`-\mathrm{KL}(q\,\|\,p)`
    (exact when :math:`p`'s parameters do not depend on other latent sites, as in a mean-field
    guide of a model whose latent sites are a priori independent; an unbiased estimate
    otherwise). Other sites keep the Monte Carlo term. Lower variance than
    :class:`Trace_ELBO`, same optimum.
    """

    def particle_terms(self, model_trace: dict, guide_trace: dict) -> Any:
        kls = {}
        for name, q_site in guide_trace.items():
            p_site = model_trace.get(name)
            if (q_site.type != "sample" or p_site is None or p_site.type != "sample"
                    or p_site.is_observed):
                continue
            try:
                kl = kl_divergence(q_site.fn, p_site.fn)
            except NotImplementedError:
                continue  # this pair keeps the Monte Carlo term
            if p_site.mask is not None:
                kl = anp.where(p_site.mask, kl, 0.0)
            if p_site.scale is not None:
                kl = p_site.scale * kl
            kls[name] = anp.sum(kl)
        total = 0.0
        for site in guide_trace.values():
            if site.type == "sample":
                known = kls.get(site.name)
                total = total - (known if known is not None
                                 else anp.sum(runtime.site_log_prob(site)))
        for site in model_trace.values():
            if site.type == "sample" and site.name not in kls:
                total = total + anp.sum(runtime.site_log_prob(site))
        return total


class RenyiELBO(ELBO):
    r"""The Rényi divergence bound of Li and Turner (2016), "Rényi divergence variational
    inference":

    .. math::

        \mathcal L_\alpha = \frac{1}{1-\alpha}
        \log \frac1K \sum_{k=1}^K \left(\frac{p(x, z_k)}{q_\phi(z_k)}\right)^{1-\alpha},

    which is the ELBO at :math:`\alpha \to 1`, the importance-weighted bound of Burda et al. at
    :math:`\alpha = 0`, and tighter than the ELBO for :math:`\alpha < 1`. Its gradient is the
    pathwise one, so every guide site needs a reparameterised sampler.

    >>> RenyiELBO(alpha=0.0, num_particles=8)
    RenyiELBO(alpha=0.0, num_particles=8)
    """

    supports_score_function = False

    def __init__(self, alpha: float = 0.0, num_particles: int = 2):
        super().__init__(num_particles)
        if alpha == 1.0:
            raise ValueError("RenyiELBO: alpha = 1 is the ordinary ELBO; use Trace_ELBO")
        self.alpha = float(alpha)

    def combine(self, elbos: Any, score_log_q: Any, baseline: Any) -> Any:
        scaled = (1.0 - self.alpha) * elbos
        k = float(np.shape(elbos)[0]) if np.ndim(elbos) else 1.0
        return (logsumexp(scaled, axis=0) - np.log(k)) / (1.0 - self.alpha)

    def __repr__(self) -> str:
        return f"RenyiELBO(alpha={self.alpha}, num_particles={self.num_particles})"


def check_score_function_support(loss: ELBO, site_names: list[str]) -> None:
    """Raise if ``loss`` cannot differentiate the non-reparameterised guide sites given."""
    if site_names and not loss.supports_score_function:
        raise SiteError(
            site_names[0],
            f"is a guide site without a reparameterised sampler, and {type(loss).__name__}'s "
            "gradient is pathwise only",
            "use Trace_ELBO (score-function gradients), or give the site a reparameterisable "
            "guide distribution",
        )


def _log_density(trace: dict) -> Any:
    return runtime.trace_log_density(trace)


