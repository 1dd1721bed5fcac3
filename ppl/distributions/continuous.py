r"""Univariate continuous distributions, with NumPyro's names and parameterisations.

Each class holds only its maths: ``_log_prob`` written in :mod:`autodiff.numpy` and
:mod:`autodiff.scipy.special` operations (so it differentiates, vectorises and stages), an exact
NumPy sampler, and closed-form moments, ``cdf``/``icdf`` and ``entropy`` where they exist.
Shapes and validation live in :class:`~ppl.distributions.base.Distribution`.

Location-scale families (and others with a natural reparameterisation) have ``rsample``:
``loc + scale * eps`` with ``eps`` drawn by NumPy, differentiable in the parameters.

>>> from ppl.distributions import Gamma
>>> d = Gamma(2.0, rate=4.0)
>>> float(d.mean), float(d.variance)
(0.5, 0.125)

References: N. L. Johnson, S. Kotz, N. Balakrishnan, *Continuous Univariate Distributions*,
vols. 1-2 (Wiley, 1994-95), for every density, moment and entropy in these modules.

The families are split by support; this module re-exports them all:
:mod:`~ppl.distributions.real_line`, :mod:`~ppl.distributions.positive`,
:mod:`~ppl.distributions.bounded` and :mod:`~ppl.distributions.truncated`, on the shared base in
:mod:`~ppl.distributions.univariate`.
"""

from ppl.distributions.bounded import Beta, Uniform, VonMises
from ppl.distributions.positive import (
    Chi2,
    Exponential,
    Gamma,
    HalfCauchy,
    HalfNormal,
    HalfStudentT,
    InverseGamma,
    LogNormal,
    Pareto,
    Weibull,
)
from ppl.distributions.real_line import (
    Cauchy,
    Gumbel,
    Laplace,
    Logistic,
    Normal,
    SkewNormal,
    StudentT,
)
from ppl.distributions.truncated import TruncatedNormal
from ppl.distributions.univariate import _Univariate as _Univariate

__all__ = [
    "Beta",
    "Cauchy",
    "Chi2",
    "Exponential",
    "Gamma",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "HalfStudentT",
    "InverseGamma",
    "Laplace",
    "LogNormal",
    "Logistic",
    "Normal",
    "Pareto",
    "SkewNormal",
    "StudentT",
    "TruncatedNormal",
    "Uniform",
    "VonMises",
    "Weibull",
]
