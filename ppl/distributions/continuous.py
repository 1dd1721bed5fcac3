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
:mod:`~ppl.distributions.lifetime`,
:mod:`~ppl.distributions.bounded` and :mod:`~ppl.distributions.truncated`, on the shared base in
:mod:`~ppl.distributions.univariate`.
"""

from ppl.distributions.bounded import (
    Beta,
    BetaProportion,
    DoublyTruncatedPowerLaw,
    Kumaraswamy,
    LogUniform,
    RelaxedBernoulli,
    RelaxedBernoulliLogits,
    Triangular,
    Uniform,
    VonMises,
)
from ppl.distributions.lifetime import Dagum, Gompertz, LowerTruncatedPowerLaw, Pareto
from ppl.distributions.positive import (
    Chi2,
    Exponential,
    Gamma,
    HalfCauchy,
    HalfNormal,
    HalfStudentT,
    InverseGamma,
    Levy,
    LogNormal,
    Rice,
    Wald,
    Weibull,
)
from ppl.distributions.real_line import (
    AsymmetricLaplace,
    AsymmetricLaplaceQuantile,
    Cauchy,
    ExGaussian,
    Gumbel,
    Laplace,
    Logistic,
    Moyal,
    Normal,
    SkewNormal,
    SoftLaplace,
    StudentT,
)
from ppl.distributions.truncated import (
    FoldedDistribution,
    LeftTruncatedDistribution,
    RightTruncatedDistribution,
    TruncatedCauchy,
    TruncatedDistribution,
    TruncatedNormal,
    TwoSidedTruncatedDistribution,
)
from ppl.distributions.univariate import _Univariate as _Univariate

__all__ = [
    "AsymmetricLaplace",
    "AsymmetricLaplaceQuantile",
    "Beta",
    "BetaProportion",
    "Cauchy",
    "Chi2",
    "Dagum",
    "DoublyTruncatedPowerLaw",
    "ExGaussian",
    "Exponential",
    "FoldedDistribution",
    "Gamma",
    "Gompertz",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "HalfStudentT",
    "InverseGamma",
    "Kumaraswamy",
    "Laplace",
    "LeftTruncatedDistribution",
    "Levy",
    "LogNormal",
    "LogUniform",
    "Logistic",
    "LowerTruncatedPowerLaw",
    "Moyal",
    "Normal",
    "Pareto",
    "RelaxedBernoulli",
    "RelaxedBernoulliLogits",
    "Rice",
    "RightTruncatedDistribution",
    "SkewNormal",
    "SoftLaplace",
    "StudentT",
    "Triangular",
    "TruncatedCauchy",
    "TruncatedDistribution",
    "TruncatedNormal",
    "TwoSidedTruncatedDistribution",
    "Uniform",
    "VonMises",
    "Wald",
    "Weibull",
]
