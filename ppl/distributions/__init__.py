"""Probability distributions with NumPyro's names, parameterisations and shape semantics.

Every class derives from :class:`~ppl.distributions.base.Distribution`, which owns the shape
contract (``sample_shape + batch_shape + event_shape``), argument validation and the
combinators ``expand``, ``to_event`` and ``mask``.

>>> import numpy as np
>>> from ppl import distributions as dist
>>> float(dist.Normal(0.0, 1.0).log_prob(0.0))  # -log(2 pi) / 2
-0.9189385332046727
"""

from ppl.distributions.base import (
    Delta,
    Distribution,
    ExpandedDistribution,
    ImproperUniform,
    Independent,
    MaskedDistribution,
    Unit,
    enable_validation,
    is_validation_enabled,
)
from ppl.distributions.continuous import (
    Beta,
    Cauchy,
    Chi2,
    Exponential,
    Gamma,
    Gumbel,
    HalfCauchy,
    HalfNormal,
    HalfStudentT,
    InverseGamma,
    Laplace,
    Logistic,
    LogNormal,
    Normal,
    Pareto,
    SkewNormal,
    StudentT,
    TruncatedNormal,
    Uniform,
    VonMises,
    Weibull,
)
from ppl.distributions.copula import GaussianCopula, GaussianCopulaBeta
from ppl.distributions.directional import ProjectedNormal, SineBivariateVonMises, SineSkewed
from ppl.distributions.discrete import (
    Bernoulli,
    BetaBinomial,
    Binomial,
    Categorical,
    DirichletMultinomial,
    DiscreteUniform,
    GammaPoisson,
    Geometric,
    Multinomial,
    NegativeBinomial,
    NegativeBinomial2,
    OrderedLogistic,
    Poisson,
    ZeroInflatedDistribution,
    ZeroInflatedNegativeBinomial2,
    ZeroInflatedPoisson,
)
from ppl.distributions.matrix import (
    InverseWishart,
    InverseWishartCholesky,
    MatrixNormal,
    Wishart,
    WishartCholesky,
)
from ppl.distributions.mixtures import Mixture, MixtureGeneral, MixtureSameFamily
from ppl.distributions.multivariate import (
    LKJ,
    Dirichlet,
    GaussianRandomWalk,
    LKJCholesky,
    MultivariateNormal,
    MultivariateStudentT,
    ZeroSumNormal,
)
from ppl.distributions.spatial import CAR
from ppl.distributions.time_series import EulerMaruyama, GaussianStateSpace
from ppl.distributions.transformed import TransformedDistribution

__all__ = [
    "Bernoulli",
    "Beta",
    "BetaBinomial",
    "Binomial",
    "CAR",
    "Categorical",
    "Cauchy",
    "Chi2",
    "Delta",
    "Dirichlet",
    "DirichletMultinomial",
    "DiscreteUniform",
    "Distribution",
    "EulerMaruyama",
    "ExpandedDistribution",
    "Exponential",
    "Gamma",
    "GammaPoisson",
    "GaussianCopula",
    "GaussianCopulaBeta",
    "GaussianRandomWalk",
    "GaussianStateSpace",
    "Geometric",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "HalfStudentT",
    "ImproperUniform",
    "Independent",
    "InverseGamma",
    "InverseWishart",
    "InverseWishartCholesky",
    "LKJ",
    "LKJCholesky",
    "Laplace",
    "LogNormal",
    "Logistic",
    "MaskedDistribution",
    "MatrixNormal",
    "Mixture",
    "MixtureGeneral",
    "MixtureSameFamily",
    "Multinomial",
    "MultivariateNormal",
    "MultivariateStudentT",
    "NegativeBinomial",
    "NegativeBinomial2",
    "Normal",
    "OrderedLogistic",
    "Pareto",
    "Poisson",
    "ProjectedNormal",
    "SineBivariateVonMises",
    "SineSkewed",
    "SkewNormal",
    "StudentT",
    "TransformedDistribution",
    "TruncatedNormal",
    "Uniform",
    "Unit",
    "VonMises",
    "Weibull",
    "Wishart",
    "WishartCholesky",
    "ZeroInflatedDistribution",
    "ZeroInflatedNegativeBinomial2",
    "ZeroInflatedPoisson",
    "ZeroSumNormal",
    "enable_validation",
    "is_validation_enabled",
]
