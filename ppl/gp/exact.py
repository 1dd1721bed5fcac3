r"""Exact Gaussian processes: ``Marginal`` (the latent function integrated out, Gaussian noise)
and ``Latent`` (the function values as model variables), after PyMC's ``pm.gp``.

With :math:`K = k(X, X)`, :math:`K_* = k(X, X_*)`, :math:`K_{**} = k(X_*, X_*)` and a mean
function :math:`m`:

- ``Marginal.marginal_likelihood``: :math:`y \sim \mathcal N(m(X), K + \sigma^2 I)`, one
  ``MultivariateNormal`` site given its Cholesky factor.
- ``Marginal.conditional`` (the predictive distribution of :math:`f(X_*)` given :math:`y`):
  with :math:`LL^T = K + \sigma^2 I`, :math:`A = L^{-1}K_*`, :math:`v = L^{-1}(y - m(X))`,

  .. math:: \mu_* = m(X_*) + A^T v, \qquad \Sigma_* = K_{**} - A^TA \;(+\,\sigma^2 I
            \text{ if pred\_noise}).

- ``Latent.prior``: non-centred, :math:`v \sim \mathcal N(0, I)` (site ``name + "_rotated"``)
  and :math:`f = m(X) + Lv` with :math:`LL^T = K + \text{jitter}\,I` (deterministic site
  ``name``).
- ``Latent.conditional``: the same formulas as above with :math:`\sigma = 0` and :math:`y = f`.

Everything is written with :mod:`autodiff.numpy`, so hyperparameters may be traced (inside a
model) or concrete: for posterior draws, call ``conditional`` once per draw or map it over the
draws with ``autodiff.vmap`` (``autodiff.vmap(lambda eta, ls, s: Marginal(eta**2 *
ExpQuad(1, ls=ls)).conditional(X_new, X, y, s))(eta_draws, ls_draws, s_draws)``).

>>> import numpy as np
>>> import ppl
>>> gp = ppl.gp.Marginal(ppl.gp.ExpQuad(1, ls=1.0))
>>> X = np.array([0.0, 1.0, 2.0]); y = np.array([0.5, -0.2, 0.1])
>>> mu, cov = gp.conditional(np.array([1.0]), X, y, noise=1e-3)
>>> round(float(mu[0]), 3)
-0.2
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff.numpy as anp
from ppl.distributions import MultivariateNormal, Normal
from ppl.gp.cov import Covariance
from ppl.primitives import deterministic, sample

__all__ = ["Latent", "Marginal"]


def _n_rows(X: Any) -> int:
    return anp.shape(X if hasattr(X, "shape") else np.asarray(X, float))[0]


class _Base:
    def __init__(self, cov_func: Covariance, mean_func: Callable | Any = None):
        if not isinstance(cov_func, Covariance):
            raise TypeError(f"{type(self).__name__}: cov_func must be a ppl.gp covariance "
                            f"function, got {type(cov_func).__name__}")
        self.cov_func = cov_func
        self.mean_func = mean_func

    def _mean(self, X: Any) -> Any:
        n = _n_rows(X)
        if self.mean_func is None:
            return np.zeros(n)
        if callable(self.mean_func):
            return anp.broadcast_to(self.mean_func(X), (n,))
        return anp.broadcast_to(self.mean_func, (n,))

    def _factor(self, X: Any, noise: Any, jitter: float) -> Any:
        """Cholesky factor of ``k(X) + noise`` (a scalar sd, a vector of sds or a kernel)."""
        n = _n_rows(X)
        K = self.cov_func(X)
        if isinstance(noise, Covariance):
            K = anp.add(K, noise(X))
        elif noise is not None:
            sd = noise
            if anp.shape(sd) not in ((), (1,), (n,)):
                raise ValueError(f"{type(self).__name__}: noise of shape {anp.shape(sd)} must be "
                                 f"a scalar or have one value per row of X ({n})")
            K = anp.add(K, anp.diag(anp.broadcast_to(anp.square(sd), (n,))))
        return anp.linalg.cholesky(anp.add(K, jitter * np.eye(n)))

    def _predict(self, X_new, X, y, L, extra_noise: Any = None):
        n, n_new = _n_rows(X), _n_rows(X_new)
        if anp.shape(y) != (n,):
            raise ValueError(f"{type(self).__name__}.conditional: y/f of shape {anp.shape(y)} "
                             f"must be a vector with one value per row of X ({n})")
        Ks = self.cov_func(X, X_new)
        Kss = self.cov_func(X_new)
        A = anp.linalg.solve_triangular(L, Ks, lower=True)
        v = anp.linalg.solve_triangular(L, anp.subtract(y, self._mean(X)), lower=True)
        mu = anp.add(self._mean(X_new), anp.matmul(anp.transpose(A), v))
        cov = anp.subtract(Kss, anp.matmul(anp.transpose(A), A))
        if extra_noise is not None:
            if isinstance(extra_noise, Covariance):
                cov = anp.add(cov, extra_noise(X_new))
            else:
                cov = anp.add(cov, anp.diag(anp.broadcast_to(anp.square(extra_noise), (n_new,))))
        return mu, cov


class Marginal(_Base):
    r"""A GP with Gaussian noise, the latent function integrated out (PyMC's ``gp.Marginal``).

    ``cov_func`` is a :mod:`ppl.gp.cov` kernel; ``mean_func`` a callable of ``X`` returning
    the mean vector, a constant, or None (zero mean).
    """

    def marginal_likelihood(self, name: str, X: Any, y: Any, noise: Any,
                            jitter: float = 1e-6, **kwargs: Any) -> Any:
        r"""The observed site ``name``: :math:`y \sim \mathcal N(m(X), K + \sigma^2 I +
        \text{jitter}\,I)` with :math:`K = k(X, X)`, given to ``MultivariateNormal`` as its
        Cholesky factor.  ``noise`` is the noise standard deviation :math:`\sigma` (scalar or
        one per row) or a covariance function; ``y`` of shape ``(n,)`` (or None to draw)."""
        n = _n_rows(X)
        if y is not None and anp.shape(y) != (n,):
            raise ValueError(f"Marginal.marginal_likelihood: y of shape {anp.shape(y)} must be a "
                             f"vector with one value per row of X ({n})")
        L = self._factor(X, noise, jitter)
        return sample(name, MultivariateNormal(self._mean(X), scale_tril=L), obs=y, **kwargs)

    def conditional(self, X_new: Any, X: Any, y: Any, noise: Any, pred_noise: bool = False,
                    jitter: float = 1e-6) -> tuple[Any, Any]:
        r"""The predictive mean :math:`\mu_*` and covariance :math:`\Sigma_*` of :math:`f(X_*)`
        given observations ``y`` at ``X`` (module docstring); with ``pred_noise`` the noise is
        added (the predictive of new observations)."""
        L = self._factor(X, noise, jitter)
        return self._predict(X_new, X, y, L, noise if pred_noise else None)


class Latent(_Base):
    r"""A GP prior on function values, non-centred (PyMC's ``gp.Latent``)."""

    def prior(self, name: str, X: Any, jitter: float = 1e-6) -> Any:
        r"""Function values :math:`f = m(X) + Lv` at ``X``: ``v`` is the standard-normal site
        ``name + "_rotated"`` (length ``n``), ``f`` the deterministic site ``name``."""
        n = _n_rows(X)
        L = self._factor(X, None, jitter)
        v = sample(name + "_rotated", Normal(0.0, 1.0).expand((n,)).to_event(1))
        f = anp.add(self._mean(X), anp.matmul(L, v))
        return deterministic(name, f)

    def conditional(self, X_new: Any, X: Any, f: Any, jitter: float = 1e-6) -> tuple[Any, Any]:
        r"""Mean and covariance of :math:`f(X_*)` given :math:`f(X)` = ``f``."""
        L = self._factor(X, None, jitter)
        return self._predict(X_new, X, f, L)
