r"""Directional distributions: on the sphere (:class:`ProjectedNormal`) and on the torus
(:class:`SineBivariateVonMises`, :class:`SineSkewed`).

References: Hernandez-Stumpfhauser, Breidt and van der Woerd (2017), "The general projected
normal distribution of arbitrary dimension", Bayesian Analysis 12 (projected normal);
Singh, Hnizdo and Demchuk (2002), "Probabilistic model for two dependent circular variables",
Biometrika 89 (sine model); Ameijeiras-Alonso and Ley (2022), "Sine-skewed toroidal
distributions and their application in protein bioinformatics", Biostatistics 23 (sine
skewing); Trefethen and Weideman (2014), "The exponentially convergent trapezoidal rule",
SIAM Review 56 (the normaliser's quadrature); NumPyro 0.22 ``numpyro.distributions.directional``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as ss

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from autodiff import Tracer
from ppl import constraints
from ppl.distributions.base import Distribution, as_param

__all__ = ["ProjectedNormal", "SineBivariateVonMises", "SineSkewed"]

_LOG_2PI = math.log(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _wrap(x):
    """Angles into :math:`[-\\pi, \\pi)`."""
    return np.mod(x + np.pi, 2.0 * np.pi) - np.pi


class ProjectedNormal(Distribution):
    r"""Projected normal on the unit sphere :math:`S^{d-1}`: the direction
    :math:`x = y/\|y\|` of :math:`y \sim \mathcal{N}(c, I_d)` (``concentration`` :math:`c`).

    Integrating the radius out along the ray through :math:`x` (with :math:`t = c\cdot x`),

    .. math::
        p(x) = (2\pi)^{-d/2} e^{-\|c\|^2/2} \int_0^\infty r^{d-1} e^{-(r - t)^2/2 + t^2/2}\,dr,

    which has a closed form for :math:`d = 2, 3` (with respect to arc length / surface area):

    .. math::
        d = 2:\ \log p = -\tfrac12\|c\|^2 - \tfrac12\log 2\pi
            + \log\big[\tfrac1{\sqrt{2\pi}} + \tfrac t2\operatorname{erfcx}(-t/\sqrt2)\big],

    .. math::
        d = 3:\ \log p = -\tfrac12\|c\|^2 - \log 2\pi
            + \log\big[\tfrac t{\sqrt{2\pi}} + \tfrac{1 + t^2}2\operatorname{erfcx}(-t/\sqrt2)\big],

    written with :math:`\Phi(t) = \tfrac12 e^{-t^2/2}\operatorname{erfcx}(-t/\sqrt2)` so that
    neither factor underflows for :math:`t \ll 0` (for :math:`t > 0` the equivalent
    :math:`\log[\varphi(t) + t\Phi(t)] - \tfrac12(\|c\|^2 - t^2)` form is used).  As in NumPyro,
    ``log_prob`` raises ``NotImplementedError`` for :math:`d \ge 4`; sampling
    (reparameterised, :math:`(c + \varepsilon)/\|c + \varepsilon\|`) works in any dimension.
    ``mean`` is NumPyro's: the direction of :math:`c`.
    """

    arg_constraints = {"concentration": constraints.real_vector}
    support = constraints.sphere
    reparametrized_params = ["concentration"]
    has_rsample = True

    def __init__(self, concentration, *, validate_args=None):
        self.concentration = as_param(concentration)
        shape = anp.shape(self.concentration)
        if len(shape) == 0 or shape[-1] < 2:
            raise ValueError(f"ProjectedNormal: 'concentration' must be a vector of length >= 2, "
                             f"got shape {shape}")
        super().__init__(shape[:-1], shape[-1:], validate_args)

    def _rsample(self, rng, shape):
        y = anp.add(self.concentration, rng.standard_normal(shape))
        return y / anp.sqrt(anp.sum(anp.square(y), -1, keepdims=True))

    def _log_prob(self, value):
        d = self.event_shape[-1]
        if d not in (2, 3):
            raise NotImplementedError(
                f"ProjectedNormal.log_prob has a closed form only in dimension 2 or 3, not {d} "
                "(as in NumPyro); sample it, or model the unnormalised vector y ~ Normal(c, 1) "
                "and use y / |y|")
        c = self.concentration
        t = anp.sum(c * value, -1)
        c2 = anp.sum(anp.square(c), -1)
        # Each branch sees only its half-line, so the unused one stays finite (and its
        # gradient is zero, not NaN).
        tn = anp.minimum(t, 0.0)
        tp = anp.maximum(t, 0.0)
        ex = sp.erfcx(-tn * _SQRT_HALF)
        cdf_p = 0.5 * sp.erfc(-tp * _SQRT_HALF)
        phi_p = _INV_SQRT_2PI * anp.exp(-0.5 * tp * tp)
        if d == 2:
            neg = anp.log(_INV_SQRT_2PI + 0.5 * tn * ex) - 0.5 * c2
            pos = anp.log(phi_p + tp * cdf_p) - 0.5 * (c2 - tp * tp)
            return anp.where(anp.less(t, 0.0), neg, pos) - 0.5 * _LOG_2PI
        neg = anp.log(tn * _INV_SQRT_2PI + 0.5 * (1.0 + tn * tn) * ex) - 0.5 * c2
        pos = anp.log(tp * phi_p + (1.0 + tp * tp) * cdf_p) - 0.5 * (c2 - tp * tp)
        return anp.where(anp.less(t, 0.0), neg, pos) - _LOG_2PI

    @property
    def mean(self):
        c = self.concentration
        return c / anp.sqrt(anp.sum(anp.square(c), -1, keepdims=True))


class SineBivariateVonMises(Distribution):
    r"""Sine model for two dependent angles on the torus (Singh, Hnizdo and Demchuk 2002):

    .. math::
        \log p(\phi, \psi) = \kappa_1\cos(\phi - \mu_1) + \kappa_2\cos(\psi - \mu_2)
        + \rho\sin(\phi - \mu_1)\sin(\psi - \mu_2) - \log C,

    with ``phi_loc`` :math:`\mu_1`, ``psi_loc`` :math:`\mu_2`, ``phi_concentration``
    :math:`\kappa_1`, ``psi_concentration`` :math:`\kappa_2`, and either ``correlation``
    :math:`\rho` or ``weighted_correlation`` :math:`w` (:math:`\rho = w\sqrt{\kappa_1\kappa_2}`;
    :math:`|w| < 1` keeps the density unimodal).  Integrating :math:`\psi` out analytically,

    .. math::
        C = 2\pi\int_{-\pi}^{\pi} e^{\kappa_1\cos\phi}\,
            I_0\big(\sqrt{\kappa_2^2 + \rho^2\sin^2\phi}\big)\,d\phi,

    a smooth periodic integrand, so the trapezoidal rule on ``n`` equispaced nodes converges
    geometrically (Trefethen and Weideman 2014): its error is about the ``n``-th Fourier
    coefficient, :math:`\approx e^{-n^2/(2K)}` with :math:`K = \kappa_1 + \kappa_2 + |\rho|`.
    For concrete parameters ``n`` is chosen from :math:`K` (round-off accuracy); for traced
    ones it is :attr:`traced_quadrature_nodes` (512: exact to double precision for
    :math:`K \lesssim 3000`).  This replaces NumPyro's 50-term Bessel series, which converges
    slowly as :math:`\rho^2 \to \kappa_1\kappa_2`.  It is computed in log space
    (:math:`\log I_0(s) = s + \log\operatorname{i0e}(s)`), and only over the broadcast shape
    of the concentrations and correlation (not of the locations).

    Draws are exact: :math:`\phi` from its marginal
    :math:`\propto e^{\kappa_1\cos\phi} I_0(\sqrt{\kappa_2^2 + \rho^2\sin^2\phi})` by rejection
    under a piecewise-constant envelope (the log marginal is
    :math:`(\kappa_1 + |\rho|)`-Lipschitz), then :math:`\psi \mid \phi \sim
    \text{VonMises}(\operatorname{atan2}(\rho\sin\phi, \kappa_2),
    \sqrt{\kappa_2^2 + \rho^2\sin^2\phi})`.  ``mean`` is the circular mean
    :math:`(\mu_1, \mu_2)` wrapped into :math:`[-\pi, \pi)`.
    """

    arg_constraints = {
        "phi_loc": constraints.circular,
        "psi_loc": constraints.circular,
        "phi_concentration": constraints.positive,
        "psi_concentration": constraints.positive,
        "correlation": constraints.real,
    }
    support = constraints.independent(constraints.circular, 1)
    traced_quadrature_nodes = 512

    def __init__(self, phi_loc, psi_loc, phi_concentration, psi_concentration,
                 correlation=None, weighted_correlation=None, *, validate_args=None):
        cls = type(self).__name__
        if (correlation is None) == (weighted_correlation is None):
            raise ValueError(f"{cls}: give exactly one of correlation or weighted_correlation")
        k1, k2 = as_param(phi_concentration), as_param(psi_concentration)
        if weighted_correlation is not None:
            correlation = as_param(weighted_correlation) * anp.sqrt(k1 * k2)
        rho = as_param(correlation)
        params = {"phi_loc": as_param(phi_loc), "psi_loc": as_param(psi_loc),
                  "phi_concentration": k1, "psi_concentration": k2, "correlation": rho}
        try:
            batch = tuple(np.broadcast_shapes(*(anp.shape(v) for v in params.values())))
            self._norm_shape = tuple(np.broadcast_shapes(anp.shape(k1), anp.shape(k2),
                                                         anp.shape(rho)))
        except ValueError:
            listed = ", ".join(f"{k} {anp.shape(v)}" for k, v in params.items())
            raise ValueError(f"{cls}: the parameter shapes ({listed}) do not broadcast") from None
        self._raw = (k1, k2, rho)
        for name, v in params.items():
            setattr(self, name, anp.broadcast_to(v, batch))
        super().__init__(batch, (2,), validate_args)

    def _nodes(self) -> int:
        k1, k2, rho = self._raw
        if any(isinstance(v, Tracer) for v in self._raw):
            return self.traced_quadrature_nodes
        K = float(np.max(np.asarray(k1)) + np.max(np.asarray(k2)) + np.max(np.abs(rho)))
        n = int(math.ceil(math.sqrt(90.0 * K))) + 32
        return 16 * ((n + 15) // 16)

    @property
    def norm_const(self):
        """:math:`\\log C`, shape ``batch_shape``."""
        k1, k2, rho = (anp.broadcast_to(v, self._norm_shape) for v in self._raw)
        n = self._nodes()
        phi = 2.0 * np.pi * np.arange(n) / n - np.pi
        k1, k2, rho = (anp.expand_dims(v, -1) for v in (k1, k2, rho))
        s = anp.sqrt(anp.square(k2) + anp.square(rho) * np.sin(phi) ** 2)
        terms = k1 * np.cos(phi) + s + anp.log(sp.i0e(s))
        log_c = sp.logsumexp(terms, axis=-1) + math.log(4.0 * np.pi**2 / n)
        return anp.broadcast_to(log_c, self.batch_shape)

    def _log_prob(self, value):
        a = value[..., 0] - self.phi_loc
        b = value[..., 1] - self.psi_loc
        return (self.phi_concentration * anp.cos(a) + self.psi_concentration * anp.cos(b)
                + self.correlation * anp.sin(a) * anp.sin(b) - self.norm_const)

    # ---- sampling -----------------------------------------------------------------------
    @staticmethod
    def _phi_marginal(rng, n, k1, k2, rho):
        """``n`` exact draws of the centred :math:`\\phi` marginal (one parameter set)."""
        G = k1 + abs(rho)
        cells = max(64, int(math.ceil(2.0 * math.pi * G / 0.25)))
        h = 2.0 * math.pi / cells
        nodes = -math.pi + h * np.arange(cells + 1)

        def log_m(x):
            s = np.sqrt(k2 * k2 + rho * rho * np.sin(x) ** 2)
            return k1 * np.cos(x) + s + np.log(ss.i0e(s))

        lm = log_m(nodes)
        env = 0.5 * (lm[:-1] + lm[1:] + G * h)  # >= log m on each cell (Lipschitz bound)
        w = np.exp(env - env.max())
        w /= w.sum()
        out = np.empty(n)
        todo = np.arange(n)
        while todo.size:
            c = rng.choice(cells, size=todo.size, p=w)
            x = nodes[c] + h * rng.uniform(size=todo.size)
            ok = np.log(rng.uniform(size=todo.size)) < log_m(x) - env[c]
            out[todo[ok]] = x[ok]
            todo = todo[~ok]
        return out

    def _sample(self, rng, shape):
        sample_shape = shape[: len(shape) - len(self.batch_shape) - 1]
        n = int(np.prod(sample_shape)) if sample_shape else 1
        pars = [np.broadcast_to(np.asarray(v, dtype=float), self.batch_shape).ravel()
                for v in (self.phi_loc, self.psi_loc, self.phi_concentration,
                          self.psi_concentration, self.correlation)]
        out = np.empty((n, len(pars[0]), 2))
        for b, (m1, m2, k1, k2, rho) in enumerate(zip(*pars)):
            phi = self._phi_marginal(rng, n, k1, k2, rho)
            conc = np.sqrt(k2 * k2 + rho * rho * np.sin(phi) ** 2)
            psi = rng.vonmises(np.arctan2(rho * np.sin(phi), k2), conc)
            out[:, b, 0] = _wrap(phi + m1)
            out[:, b, 1] = _wrap(psi + m2)
        return out.reshape(shape)

    @property
    def mean(self):
        mean = anp.stack([self.phi_loc, self.psi_loc], axis=-1)
        return anp.broadcast_to(anp.subtract(
            mean, 2.0 * np.pi * anp.floor((mean + np.pi) / (2.0 * np.pi))), self.batch_shape + (2,))


class SineSkewed(Distribution):
    r"""Sine-skewing of a symmetric distribution on the :math:`d`-torus
    (Ameijeiras-Alonso and Ley 2022, eq. 2.1):

    .. math:: \log p(x) = \log f(x) + \log\Big(1 + \sum_{i=1}^d \lambda_i \sin(x_i - \mu_i)\Big),

    where :math:`f` is ``base_dist`` (event shape ``(d,)``, symmetric about its ``mean``
    :math:`\mu`: ``VonMises(...).to_event(1)``, ``SineBivariateVonMises``, a uniform on
    :math:`[-\pi, \pi)^d`) and ``skewness`` :math:`\lambda` lies in the :math:`\ell_1` ball
    (:math:`\sum_i|\lambda_i| \le 1`), which keeps the density non-negative and normalised.
    A draw takes :math:`y \sim f` and keeps it with probability
    :math:`(1 + \sum_i\lambda_i\sin(y_i - \mu_i))/2`, else reflects it to :math:`2\mu - y`.
    ``mean`` is the base mean, as in NumPyro.
    """

    arg_constraints = {"skewness": constraints.l1_ball}
    support = constraints.independent(constraints.circular, 1)

    def __init__(self, base_dist: Distribution, skewness, *, validate_args=None):
        cls = type(self).__name__
        if not isinstance(base_dist, Distribution):
            raise TypeError(f"{cls}: 'base_dist' must be a Distribution, got "
                            f"{type(base_dist).__name__}")
        skewness = as_param(skewness)
        sshape = anp.shape(skewness)
        if len(base_dist.event_shape) != 1 or sshape[-1:] != base_dist.event_shape:
            raise ValueError(
                f"{cls}: base_dist must have event shape (d,) on the d-torus and 'skewness' one "
                f"weight per dimension; got event_shape {base_dist.event_shape} and skewness "
                f"shape {sshape} (use e.g. VonMises(...).to_event(1) for d independent angles)")
        try:
            batch = tuple(np.broadcast_shapes(base_dist.batch_shape, sshape[:-1]))
        except ValueError:
            raise ValueError(f"{cls}: base_dist.batch_shape {base_dist.batch_shape} does not "
                             f"broadcast with the skewness batch shape {sshape[:-1]}") from None
        self.skewness = anp.broadcast_to(skewness, batch + sshape[-1:])
        self.base_dist = base_dist.expand(batch)
        super().__init__(batch, sshape[-1:], validate_args)

    def _log_prob(self, value):
        skew = anp.sum(self.skewness * anp.sin(anp.subtract(value, self.base_dist.mean)), -1)
        return anp.add(self.base_dist.log_prob(value), anp.log1p(skew))

    def _sample(self, rng, shape):
        sample_shape = shape[: len(shape) - len(self.batch_shape) - 1]
        y = np.asarray(self.base_dist.sample(rng, sample_shape))
        mu = np.asarray(self.base_dist.mean)
        u = rng.uniform(size=shape[:-1])
        keep = u <= 0.5 + 0.5 * np.sum(np.asarray(self.skewness) * np.sin(y - mu), -1)
        return _wrap(np.where(keep[..., None], y, 2.0 * mu - y))

    @property
    def mean(self):
        return self.base_dist.mean

    def __repr__(self) -> str:
        return (f"SineSkewed(base_dist={self.base_dist!r}, batch_shape={self.batch_shape}, "
                f"event_shape={self.event_shape})")
