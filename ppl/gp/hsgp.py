r"""Hilbert-space approximate Gaussian processes (HSGP), with the function names and
semantics of ``numpyro.contrib.hsgp``.

A stationary kernel with spectral density :math:`S` is approximated on the box
:math:`\Omega = [-L_1, L_1]\times\dots\times[-L_D, L_D]` by the eigenfunctions of the Dirichlet
Laplacian there (Solin & Särkkä 2020, Eq. 56; Riutort-Mayol et al. 2023, Eqs. 8-10):

.. math::
    k(x, x') \approx \sum_{j} S(\sqrt{\lambda_j})\,\phi_j(x)\phi_j(x'), \qquad
    \sqrt{\lambda_j} = \Big(\frac{\pi i_{jd}}{2L_d}\Big)_d, \qquad
    \phi_j(x) = \prod_d \frac{1}{\sqrt{L_d}} \sin\big(\sqrt{\lambda_{jd}}\,(x_d + L_d)\big),

with the multi-indices :math:`i_j \in \{1..m_1\}\times\dots\times\{1..m_D\}`.  So
:math:`f(x) \approx \sum_j \sqrt{S(\sqrt{\lambda_j})}\,\phi_j(x)\,\beta_j` with
:math:`\beta_j \sim \mathcal N(0, 1)` (non-centred; the centred form draws
:math:`\beta_j \sim \mathcal N(0, \sqrt{S_j})` instead): a linear model in ``m`` coefficients.

Spectral densities (NumPyro's: ``alpha`` multiplies the kernel, i.e. it is the marginal
variance of the squared exponential and Matérn kernels):

.. math::
    S_{SE}(w) = \alpha\,(2\pi)^{D/2} \prod_d \ell_d \, \exp\big(-\tfrac12\sum_d \ell_d^2 w_d^2\big)

    S_{\nu}(w) = \alpha\,\frac{2^D \pi^{D/2}\Gamma(\nu + D/2)(2\nu)^\nu}{\Gamma(\nu)}
        \prod_d \ell_d\,\Big(2\nu + \sum_d \ell_d^2 w_d^2\Big)^{-\nu - D/2}

The periodic kernel :math:`\alpha^2\exp(-2\sin^2(w_0\tau/2)/\ell^2)` has the exact series
(Riutort-Mayol et al. 2023, Appendix B) :math:`\alpha^2 e^{-a}\big(I_0(a) + 2\sum_{j\ge1}
I_j(a)\cos(jw_0\tau)\big)`, :math:`a = \ell^{-2}`, giving the cosine and sine bases of
:func:`eigenfunctions_periodic` and the coefficients of :func:`diag_spectral_density_periodic`.

>>> import numpy as np
>>> from ppl.gp import hsgp
>>> x = np.linspace(-1.0, 1.0, 5)
>>> phi = hsgp.eigenfunctions(x, ell=2.0, m=30)
>>> spd = hsgp.diag_spectral_density_squared_exponential(1.0, 0.5, ell=2.0, m=30, dim=1)
>>> K = (phi * spd) @ phi.T                    # ≈ exp(-(x - x')² / (2 · 0.5²))
>>> bool(np.allclose(K[0, 1], np.exp(-0.5 * 0.25 / 0.25), atol=1e-4))
True

References: A. Solin and S. Särkkä (2020), "Hilbert space methods for reduced-rank Gaussian
process regression", Statistics and Computing 30, 419-446; G. Riutort-Mayol, P.-C. Bürkner,
M. R. Andersen, A. Solin and A. Vehtari (2023), "Practical Hilbert space approximate Bayesian
Gaussian processes for probabilistic programming", Statistics and Computing 33, 17.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff.numpy as anp
import autodiff.scipy.special as sp
from ppl.distributions import Normal
from ppl.primitives import plate, sample

__all__ = [
    "diag_spectral_density_matern",
    "diag_spectral_density_periodic",
    "diag_spectral_density_squared_exponential",
    "eigenfunctions",
    "eigenfunctions_periodic",
    "eigenindices",
    "hsgp_matern",
    "hsgp_periodic_non_centered",
    "hsgp_squared_exponential",
    "linear_approximation",
    "spectral_density_matern",
    "spectral_density_squared_exponential",
    "sqrt_eigenvalues",
]


# ---- the Laplacian's spectrum ------------------------------------------------------------------
def eigenindices(m: int | Sequence[int], dim: int) -> np.ndarray:
    r"""The multi-indices of the first :math:`m^\star = \prod_d m_d` eigenvalues, a ``dim x
    m*`` integer array (the last dimension varying fastest, as NumPyro).

    >>> eigenindices([2, 3], 2)
    array([[1, 1, 1, 2, 2, 2],
           [1, 2, 3, 1, 2, 3]])
    """
    if isinstance(m, (int, np.integer)):
        m = [int(m)] * dim
    elif len(m) != dim:
        raise ValueError(f"eigenindices: m has length {len(m)}, it must be an integer or have "
                         f"one entry per dimension (dim={dim})")
    if any(int(k) < 1 for k in m):
        raise ValueError(f"eigenindices: every m must be a positive integer, got {list(m)}")
    grids = np.meshgrid(*[np.arange(1, int(k) + 1) for k in m], indexing="ij")
    return np.stack(grids, axis=-1).reshape(-1, dim).T


def _convert_ell(ell: Any, dim: int) -> np.ndarray:
    """The half-widths :math:`L_d` as a ``dim x 1`` array (a scalar is repeated)."""
    arr = np.asarray(ell, dtype=float)
    if arr.ndim == 0:
        arr = np.full(dim, float(arr))
    arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
    if arr.shape != (dim, 1):
        raise ValueError(f"ell of shape {np.shape(ell)} must be a scalar or have one entry per "
                         f"dimension (dim={dim})")
    if np.any(arr <= 0):
        raise ValueError(f"ell must be positive, got {np.ravel(arr).tolist()}")
    return arr


def sqrt_eigenvalues(ell: Any, m: int | Sequence[int], dim: int) -> np.ndarray:
    r""":math:`\sqrt{\lambda_{jd}} = \pi i_{jd} / (2L_d)`, a ``dim x m*`` array (Solin &
    Särkkä 2020, Eq. 56)."""
    return eigenindices(m, dim) * np.pi / 2.0 / _convert_ell(ell, dim)


def eigenfunctions(x: Any, ell: Any, m: int | Sequence[int]) -> Any:
    r"""The eigenfunctions :math:`\phi_j(x) = \prod_d L_d^{-1/2}\sin(\sqrt{\lambda_{jd}}
    (x_d + L_d))` at ``x``: shape ``(..., m*)``.  A vector ``x`` is one-dimensional input;
    otherwise the last axis of ``x`` is the dimension and the others are batch axes."""
    x = x if hasattr(x, "shape") else np.asarray(x, dtype=float)
    x_ = anp.expand_dims(x, -1) if anp.ndim(x) == 1 else x
    dim = anp.shape(x_)[-1]
    ell_ = _convert_ell(ell, dim)                       # (dim, 1)
    lam = sqrt_eigenvalues(ell_, m, dim)                # (dim, m*)
    arg = anp.multiply(lam, anp.add(anp.expand_dims(x_, -1), ell_))   # (..., dim, m*)
    return anp.prod(anp.sin(arg) / np.sqrt(ell_), axis=-2)


def eigenfunctions_periodic(x: Any, w0: Any, m: int) -> tuple[Any, Any]:
    r"""The bases of the periodic approximation: :math:`\cos(j w_0 x)` and :math:`\sin(j w_0 x)`
    for :math:`j = 0, \dots, m-1`, each of shape ``(n, m)`` (one-dimensional ``x`` only; with a
    period :math:`T`, ``w0 = 2π / T``)."""
    x = x if hasattr(x, "shape") else np.asarray(x, dtype=float)
    if anp.ndim(x) > 1:
        raise ValueError(f"eigenfunctions_periodic: x of shape {anp.shape(x)}: multidimensional "
                         "inputs are not supported by the periodic kernel")
    mw0x = anp.multiply(anp.expand_dims(anp.multiply(w0, x), -1), np.arange(m, dtype=float))
    return anp.cos(mw0x), anp.sin(mw0x)


# ---- spectral densities ------------------------------------------------------------------------
def _align(dim: int, param: Any) -> Any:
    if isinstance(param, (list, tuple)):
        param = np.asarray(param, dtype=float)
    shape = anp.shape(param)
    return anp.broadcast_to(param, tuple(np.broadcast_shapes(shape, (dim,))))


def spectral_density_squared_exponential(dim: int, w: Any, alpha: Any, length: Any) -> Any:
    r"""Spectral density of :math:`\alpha\exp(-\tfrac12\sum_d (x_d - x'_d)^2/\ell_d^2)`:
    :math:`S(w) = \alpha (2\pi)^{D/2}\prod_d\ell_d\exp(-\tfrac12\sum_d\ell_d^2 w_d^2)`, ``w`` of
    shape ``(..., dim)`` (``length`` scalar or one per dimension)."""
    length = _align(dim, length)
    c = anp.multiply(alpha, anp.prod(math.sqrt(2.0 * math.pi) * length, axis=-1))
    e = anp.exp(-0.5 * anp.sum(anp.square(w) * anp.square(length), axis=-1))
    return c * e


def spectral_density_matern(dim: int, nu: float, w: Any, alpha: Any, length: Any) -> Any:
    r"""Spectral density of the Matérn kernel of smoothness :math:`\nu` and variance
    :math:`\alpha` (Rasmussen & Williams 2006, Eq. 4.15):
    :math:`S(w) = \alpha\,2^D\pi^{D/2}\Gamma(\nu + D/2)(2\nu)^\nu\Gamma(\nu)^{-1}\prod_d\ell_d
    (2\nu + \sum_d\ell_d^2w_d^2)^{-\nu - D/2}`."""
    length = _align(dim, length)
    log_c = (dim * math.log(2.0) + 0.5 * dim * math.log(math.pi)
             + anp.multiply(nu, anp.log(anp.multiply(2.0, nu)))
             + sp.gammaln(anp.add(nu, dim / 2.0)) - sp.gammaln(nu))
    s = anp.sum(anp.square(length) * anp.square(w), axis=-1)
    c2 = anp.prod(length, axis=-1) * anp.exp(
        anp.multiply(anp.subtract(-dim / 2.0, nu), anp.log(anp.add(anp.multiply(2.0, nu), s))))
    return anp.multiply(alpha, anp.exp(log_c)) * c2


def diag_spectral_density_squared_exponential(alpha: Any, length: Any, ell: Any,
                                              m: int | Sequence[int], dim: int) -> Any:
    r"""The squared exponential's :math:`S` at the ``m*`` square-root eigenvalues of the
    Laplacian on :math:`[-L, L]^D` (a vector of length ``m*``)."""
    return spectral_density_squared_exponential(dim, sqrt_eigenvalues(ell, m, dim).T, alpha,
                                                length)


def diag_spectral_density_matern(nu: float, alpha: Any, length: Any, ell: Any,
                                 m: int | Sequence[int], dim: int) -> Any:
    r"""The Matérn :math:`S` at the ``m*`` square-root eigenvalues (a vector of length ``m*``)."""
    return spectral_density_matern(dim, nu, sqrt_eigenvalues(ell, m, dim).T, alpha, length)


def diag_spectral_density_periodic(alpha: Any, length: Any, m: int) -> Any:
    r"""The coefficients :math:`q_j^2 = c_j\,\alpha^2 e^{-a} I_j(a)`, :math:`a = \ell^{-2}`,
    :math:`c_0 = 1`, :math:`c_{j>0} = 2`, for :math:`j = 0..m-1` (Riutort-Mayol et al. 2023,
    Appendix B; NumPyro's: here ``alpha`` is the standard deviation).  They are variances:
    :math:`k(\tau) \approx \sum_j q_j^2\cos(j w_0 \tau)`.  (:math:`I_j(a)` overflows for
    :math:`a \gtrsim 700`, lengthscales below about 0.04.)"""
    a = anp.power(length, -2.0)
    j = np.arange(m, dtype=float)
    c = np.where(j > 0, 2.0, 1.0)
    return c * anp.square(alpha) * anp.exp(-a) * sp.iv(j, a)


# ---- the approximate GP as model code ----------------------------------------------------------
def linear_approximation(phi: Any, spd: Any, m: int, non_centered: bool = True) -> Any:
    r""":math:`f = \Phi(\sqrt S\odot\beta)` with the site ``beta`` (plate ``"basis"`` of size
    ``m``): :math:`\beta \sim \mathcal N(0, 1)` non-centred, :math:`\beta \sim \mathcal N(0,
    \sqrt S)` and :math:`f = \Phi\beta` centred (Riutort-Mayol et al. 2023, Eq. 8).  ``spd`` is
    the square root of the spectral density at the square-root eigenvalues."""
    if anp.shape(phi)[-1] != m or anp.shape(spd)[-1:] != (m,):
        raise ValueError(f"linear_approximation: phi of shape {anp.shape(phi)} and spd of shape "
                         f"{anp.shape(spd)} must both end in m={m}")
    if non_centered:
        with plate("basis", m):
            beta = sample("beta", Normal(0.0, 1.0))
        return anp.matmul(phi, anp.multiply(spd, beta))
    spd = anp.maximum(spd, np.finfo(float).tiny)
    with plate("basis", m):
        beta = sample("beta", Normal(0.0, spd))
    return anp.matmul(phi, beta)


def _dim(x: Any) -> int:
    x = x if hasattr(x, "shape") else np.asarray(x, dtype=float)
    return anp.shape(x)[-1] if anp.ndim(x) > 1 else 1


def hsgp_squared_exponential(x: Any, alpha: Any, length: Any, ell: Any,
                             m: int | Sequence[int], non_centered: bool = True) -> Any:
    r"""HSGP approximation of a GP with kernel :math:`\alpha\exp(-r^2/2)` at ``x`` on the box
    :math:`[-L, L]^D` (``ell`` = L) with ``m`` basis functions per dimension; creates the
    ``beta`` site and returns the function values (shape ``x.shape[:-1]`` or ``(n,)``)."""
    phi = eigenfunctions(x, ell, m)
    spd = anp.sqrt(diag_spectral_density_squared_exponential(alpha, length, ell, m, _dim(x)))
    return linear_approximation(phi, spd, anp.shape(phi)[-1], non_centered)


def hsgp_matern(x: Any, nu: float, alpha: Any, length: Any, ell: Any,
                m: int | Sequence[int], non_centered: bool = True) -> Any:
    r"""HSGP approximation of a GP with the Matérn kernel of smoothness ``nu`` and variance
    ``alpha`` (see :func:`hsgp_squared_exponential`)."""
    phi = eigenfunctions(x, ell, m)
    spd = anp.sqrt(diag_spectral_density_matern(nu, alpha, length, ell, m, _dim(x)))
    return linear_approximation(phi, spd, anp.shape(phi)[-1], non_centered)


def hsgp_periodic_non_centered(x: Any, alpha: Any, length: Any, w0: Any, m: int) -> Any:
    r"""Periodic HSGP, non-centred: :math:`f = \sum_{j<m} q_j(\cos(jw_0x)\beta^{c}_j +
    \sin(jw_0x)\beta^{s}_j)` with the sites ``beta_cos`` (plate ``cos_basis``, ``m``) and
    ``beta_sin`` (plate ``sin_basis``, ``m - 1``; :math:`\sin(0) = 0` has no coefficient).

    The coefficients are :math:`q_j = \sqrt{q_j^2}` of :func:`diag_spectral_density_periodic`,
    so that the covariance of ``f`` approximates :math:`\alpha^2\exp(-2\sin^2(w_0\tau/2)/
    \ell^2)`.  NumPyro (0.21) multiplies by :math:`q_j^2` itself, which gives the variance
    :math:`q_j^4` (the same bug PyMC fixed in its ``HSGPPeriodic``); this one does not."""
    if int(m) < 2:
        raise ValueError(f"hsgp_periodic_non_centered: m must be at least 2, got {m}")
    q = anp.sqrt(diag_spectral_density_periodic(alpha, length, m))
    cosines, sines = eigenfunctions_periodic(x, w0, m)
    with plate("cos_basis", m):
        beta_cos = sample("beta_cos", Normal(0.0, 1.0))
    with plate("sin_basis", m - 1):
        beta_sin = sample("beta_sin", Normal(0.0, 1.0))
    beta_sin = anp.concatenate([np.zeros(1), beta_sin])
    return (anp.matmul(cosines, anp.multiply(q, beta_cos))
            + anp.matmul(sines, anp.multiply(q, beta_sin)))
