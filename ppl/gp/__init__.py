"""Gaussian processes: covariance functions (:mod:`ppl.gp.cov`, PyMC's names), exact GPs
(:class:`Marginal`, :class:`Latent`, :mod:`ppl.gp.exact`) and Hilbert-space approximate GPs
(:mod:`ppl.gp.hsgp`, NumPyro's ``contrib.hsgp`` functions).

>>> import numpy as np
>>> import ppl
>>> k = ppl.gp.Matern32(2, ls=[1.0, 2.0], active_dims=[0, 1])
>>> k(np.zeros((3, 2))).shape
(3, 3)
"""

from ppl.gp import cov, hsgp
from ppl.gp.cov import (
    Covariance,
    ExpQuad,
    Linear,
    Matern12,
    Matern32,
    Matern52,
    Periodic,
    Prod,
    RationalQuadratic,
    Stationary,
    Sum,
    WhiteNoise,
)
from ppl.gp.exact import Latent, Marginal
from ppl.gp.hsgp import (
    diag_spectral_density_matern,
    diag_spectral_density_periodic,
    diag_spectral_density_squared_exponential,
    eigenfunctions,
    eigenfunctions_periodic,
    eigenindices,
    hsgp_matern,
    hsgp_periodic_non_centered,
    hsgp_squared_exponential,
    linear_approximation,
    spectral_density_matern,
    spectral_density_squared_exponential,
    sqrt_eigenvalues,
)

__all__ = [
    "Covariance",
    "ExpQuad",
    "Latent",
    "Linear",
    "Marginal",
    "Matern12",
    "Matern32",
    "Matern52",
    "Periodic",
    "Prod",
    "RationalQuadratic",
    "Stationary",
    "Sum",
    "WhiteNoise",
    "cov",
    "diag_spectral_density_matern",
    "diag_spectral_density_periodic",
    "diag_spectral_density_squared_exponential",
    "eigenfunctions",
    "eigenfunctions_periodic",
    "eigenindices",
    "hsgp",
    "hsgp_matern",
    "hsgp_periodic_non_centered",
    "hsgp_squared_exponential",
    "linear_approximation",
    "spectral_density_matern",
    "spectral_density_squared_exponential",
    "sqrt_eigenvalues",
]
