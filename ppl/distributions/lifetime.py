r"""Continuous families of sizes and lifetimes on a positive half-line: Pareto, Gompertz
(mortality), Dagum (incomes) and the lower-truncated power law.  Their tails are power laws or
double exponentials, so each ``_log_prob`` and ``_icdf`` is written to stay finite far out
(``log1p``/``expm1`` forms and the scaled exponential integral for the Gompertz entropy).

References: Johnson, Kotz and Balakrishnan, *Continuous Univariate Distributions* (Wiley,
1994-95); Kleiber and Kotz, *Statistical Size Distributions in Economics and Actuarial
Sciences* (Wiley, 2003) for the Dagum family.
"""

from __future__ import annotations

import math

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl import constraints
from ppl.distributions.univariate import _EULER_GAMMA, _bcast, _Univariate

__all__ = [
    "Dagum",
    "Gompertz",
    "LowerTruncatedPowerLaw",
    "Pareto",
]


class Pareto(_Univariate):
    r"""Pareto (type I) with ``scale`` :math:`x_m` and shape ``alpha``:
    :math:`p(x) = \alpha x_m^\alpha / x^{\alpha+1}`, :math:`x \ge x_m`."""

    arg_constraints = {"scale": constraints.positive, "alpha": constraints.positive}
    reparametrized_params = ["scale", "alpha"]
    has_rsample = True

    def __init__(self, scale, alpha, *, validate_args=None):
        self._init_params(validate_args, scale=scale, alpha=alpha)

    @property
    def support(self):
        return constraints.greater_than(self.scale)

    def _rsample(self, rng, shape):
        return self.scale * anp.exp(rng.standard_exponential(shape) / self.alpha)

    def _log_prob(self, value):
        a = self.alpha
        lp = anp.log(a) + a * anp.log(self.scale) - (a + 1.0) * anp.log(value)
        return anp.where(value >= self.scale, lp, -np.inf)

    def _cdf(self, value):
        cdf = -anp.expm1(self.alpha * anp.log(self.scale / value))
        return anp.where(value >= self.scale, cdf, 0.0)

    def _icdf(self, q):
        return self.scale * anp.exp(-anp.log1p(-q) / self.alpha)

    def _entropy(self):
        a = self.alpha
        return _bcast(anp.log(self.scale / a) + 1.0 / a + 1.0, self.batch_shape)

    @property
    def mean(self):
        a = self.alpha
        safe = anp.where(a > 1.0, a, 2.0)
        return _bcast(anp.where(a > 1.0, safe * self.scale / (safe - 1.0), np.inf), self.batch_shape)

    @property
    def variance(self):
        a = self.alpha
        safe = anp.where(a > 2.0, a, 3.0)
        var = self.scale * self.scale * safe / ((safe - 1.0) ** 2 * (safe - 2.0))
        return _bcast(anp.where(a > 2.0, var, np.inf), self.batch_shape)


_E1_SWITCH = 1.5  # below: the power series of E1; above: its continued fraction


def _exp_e1(x):
    r""":math:`e^x E_1(x)` for :math:`x > 0`, with autodiff operations (so it stages).

    Below 1.5 the series :math:`E_1(x) = -\gamma - \log x - \sum_{k \ge 1}
    (-x)^k/(k\,k!)` (40 terms); above, the continued fraction :math:`e^x E_1(x) =
    1/(x + 1 - 1^2/(x + 3 - 2^2/(x + 5 - \dots)))` evaluated from depth 60.  Both agree with
    SciPy's ``exp1`` to about 1e-15 (Abramowitz and Stegun 5.1.11 and 5.1.22).  Each branch
    sees a clamped argument, so the unselected one stays finite.
    """
    xs = anp.minimum(x, _E1_SWITCH)
    total = 0.0
    for k in range(40, 0, -1):  # smallest terms first
        total = total + (-1.0) ** (k + 1) * xs**k / (k * math.factorial(k))
    series = anp.exp(xs) * (-_EULER_GAMMA - anp.log(xs) + total)
    xc = anp.maximum(x, _E1_SWITCH)
    t = xc + 121.0
    for k in range(60, 0, -1):
        t = xc + (2.0 * k - 1.0) - (k * k) / t
    return anp.where(x < _E1_SWITCH, series, 1.0 / t)


class Gompertz(_Univariate):
    r"""Gompertz with ``concentration`` :math:`\eta` and ``rate`` :math:`b` (NumPyro):

    .. math:: p(x) = \eta b\, e^{bx} \exp\big(-\eta(e^{bx} - 1)\big), \quad
        F(x) = 1 - \exp\big(-\eta(e^{bx} - 1)\big), \quad x > 0 .

    SciPy's ``gompertz(c=eta, scale=1/rate)``.  Draws by the inverse cdf (``rsample``).
    ``mean`` :math:`= e^\eta E_1(\eta)/b` and ``entropy``
    :math:`= 1 - \log(\eta b) - e^{\eta}E_1(\eta)` use the exponential integral
    :func:`_exp_e1`; the variance (a hypergeometric series) is not provided, as in NumPyro.

    Reference: B. Gompertz, *Phil. Trans. R. Soc.* 115 (1825) 513-583; Lenart, "The moments of
    the Gompertz distribution and maximum likelihood estimation of its parameters",
    *Scand. Actuarial J.* (2014) 255-277.
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    reparametrized_params = ["concentration", "rate"]
    has_rsample = True

    def __init__(self, concentration, rate=1.0, *, validate_args=None):
        self._init_params(validate_args, concentration=concentration, rate=rate)

    def _rsample(self, rng, shape):
        return self._icdf(rng.random(shape))

    def _log_prob(self, value):
        eta, b = self.concentration, self.rate
        bx = b * value
        return anp.log(eta) + anp.log(b) + bx - eta * anp.expm1(bx)

    def _cdf(self, value):
        return -anp.expm1(-self.concentration * anp.expm1(self.rate * value))

    def _icdf(self, q):
        return anp.log1p(-anp.log1p(-q) / self.concentration) / self.rate

    def _entropy(self):
        eta, b = self.concentration, self.rate
        return _bcast(1.0 - anp.log(eta * b) - _exp_e1(eta), self.batch_shape)

    @property
    def mean(self):
        return _bcast(_exp_e1(self.concentration) / self.rate, self.batch_shape)


class Dagum(_Univariate):
    r"""Dagum (Mielke beta-kappa, Burr type III) with ``concentration`` :math:`p`,
    ``sharpness`` :math:`a` and ``scale`` :math:`b` (NumPyro):

    .. math:: p(x) = \frac{ap}{x}\,\frac{(x/b)^{ap}}{((x/b)^a + 1)^{p+1}}, \qquad
        F(x) = \big(1 + (x/b)^{-a}\big)^{-p} .

    SciPy's ``burr(c=a, d=p, scale=b)``.  ``mean`` :math:`= bp\,B(1 - 1/a, p + 1/a)` for
    :math:`a > 1` (else +inf), :math:`E X^2 = b^2 p\,B(1 - 2/a, p + 2/a)` for :math:`a > 2`.

    Reference: C. Dagum, "A new model of personal income distribution", *Economie Appliquée*
    30 (1977) 413-437; Kleiber and Kotz, *Statistical Size Distributions in Economics and
    Actuarial Sciences* (Wiley, 2003), §6.3.
    """

    arg_constraints = {
        "concentration": constraints.positive,
        "sharpness": constraints.positive,
        "scale": constraints.positive,
    }
    support = constraints.positive
    reparametrized_params = ["concentration", "sharpness", "scale"]
    has_rsample = True

    def __init__(self, concentration, sharpness, scale, *, validate_args=None):
        self._init_params(validate_args, concentration=concentration, sharpness=sharpness,
                          scale=scale)

    def _rsample(self, rng, shape):
        return self._icdf(rng.random(shape))

    def _log_prob(self, value):
        p, a = self.concentration, self.sharpness
        t = a * (anp.log(value) - anp.log(self.scale))  # log (x/b)^a
        return anp.log(a) + anp.log(p) - anp.log(value) + p * t - (p + 1.0) * sp.log1pexp(t)

    def _cdf(self, value):
        t = self.sharpness * (anp.log(self.scale) - anp.log(value))
        return anp.exp(-self.concentration * sp.log1pexp(t))

    def _icdf(self, q):
        root = anp.power(q, -1.0 / self.concentration)
        return self.scale * anp.power(root - 1.0, -1.0 / self.sharpness)

    def _moment(self, k):
        a, p = self.sharpness, self.concentration
        safe = anp.where(a > k, a, k + 1.0)
        m = self.scale**k * p * anp.exp(sp.betaln(1.0 - k / safe, p + k / safe))
        return anp.where(a > k, m, np.inf)

    @property
    def mean(self):
        return _bcast(self._moment(1.0), self.batch_shape)

    @property
    def variance(self):
        m1, m2 = self._moment(1.0), self._moment(2.0)
        ok = self.sharpness > 2.0
        return _bcast(anp.where(ok, m2 - anp.where(ok, m1, 0.0) ** 2, np.inf), self.batch_shape)


class LowerTruncatedPowerLaw(_Univariate):
    r"""Power law with index ``alpha`` :math:`< -1` on :math:`x \ge` ``low`` :math:`= a > 0`
    (NumPyro):

    .. math:: p(x) = (-\alpha - 1)\, a^{-\alpha-1} x^{\alpha}, \qquad
        F(x) = 1 - (x/a)^{1+\alpha} .

    The Pareto law with shape :math:`-\alpha - 1` and scale :math:`a` (SciPy's
    ``pareto(b=-alpha-1, scale=low)``).  :math:`E X^k = \frac{-\alpha-1}{-\alpha-1-k} a^k` for
    :math:`k < -\alpha - 1`, else +inf.  Draws by the inverse cdf (``rsample``).

    Reference: Clauset, Shalizi and Newman, "Power-law distributions in empirical data",
    *SIAM Review* 51 (2009) 661-703.
    """

    arg_constraints = {"alpha": constraints.less_than(-1.0), "low": constraints.positive}
    reparametrized_params = ["alpha", "low"]
    has_rsample = True

    def __init__(self, alpha, low, *, validate_args=None):
        self._init_params(validate_args, alpha=alpha, low=low)

    @property
    def support(self):
        return constraints.greater_than(self.low)  # NumPyro's (x = low has measure zero)

    def _rsample(self, rng, shape):
        return self._icdf(rng.random(shape))

    def _log_prob(self, value):
        b = -1.0 - self.alpha
        lp = self.alpha * anp.log(value) + anp.log(b) + b * anp.log(self.low)
        return anp.where(value >= self.low, lp, -np.inf)

    def _cdf(self, value):
        ratio = anp.maximum(value, self.low) / self.low
        return -anp.expm1((1.0 + self.alpha) * anp.log(ratio))

    def _icdf(self, q):
        return self.low * anp.exp(anp.log1p(-q) / (1.0 + self.alpha))

    def _entropy(self):
        b = -1.0 - self.alpha
        return _bcast(anp.log(self.low / b) + 1.0 / b + 1.0, self.batch_shape)

    def _moment(self, k):
        b = -1.0 - self.alpha
        safe = anp.where(b > k, b, k + 1.0)
        return anp.where(b > k, safe / (safe - k) * self.low**k, np.inf)

    @property
    def mean(self):
        return _bcast(self._moment(1.0), self.batch_shape)

    @property
    def variance(self):
        ok = -1.0 - self.alpha > 2.0
        m1 = anp.where(ok, self._moment(1.0), 0.0)
        return _bcast(anp.where(ok, self._moment(2.0) - m1 * m1, np.inf), self.batch_shape)
