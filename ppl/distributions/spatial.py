r"""Gaussian fields with structured precision or covariance: the conditional autoregressive
(CAR) distribution on a graph, and the circulant normal on a periodic lattice.

CAR.

A CAR vector :math:`x \in \mathbb{R}^n` over the sites of a graph with symmetric adjacency
:math:`W` (:math:`W_{ij} > 0` for neighbours) is Gaussian with precision
:math:`Q = \tau (D - \alpha W)`, :math:`D = \operatorname{diag}(W\mathbf 1)`
(``conditional_precision`` :math:`\tau`, ``correlation`` :math:`\alpha`):

.. math::
    \log p(x) = \tfrac12\Big[-n\log 2\pi + n\log\tau + \sum_i \log D_{ii}
    + \sum_i \log(1 - \alpha\lambda_i) - \tau\, \phi^T(D\phi - \alpha W\phi)\Big],
    \qquad \phi = x - \mu,

where :math:`\lambda_i` are the eigenvalues of :math:`D^{-1/2} W D^{-1/2}` (all in
:math:`[-1, 1]`, so :math:`Q` is positive definite for :math:`|\alpha| < 1`).  The adjacency is
data: when it is a concrete array (or a SciPy sparse matrix) the eigenvalues are computed once,
in NumPy, when the distribution is built (Jin, Carlin and Banerjee 2005), and the log density
costs :math:`O(n)` for the determinant.  With ``is_sparse=True`` the quadratic form is a sum over
the edges (:math:`O(|E|)` instead of :math:`O(n^2)`).

The adjacency of a compiled model should be a constant of the model (a global, a closure, or a
SciPy sparse matrix argument): NumPy arrays passed as model arguments are graph inputs (traced),
and then, with ``is_sparse=False``, the determinant falls back to a Cholesky factorisation of
:math:`I - \alpha D^{-1/2}WD^{-1/2}` in the compiled code (:math:`O(n^3)` per evaluation).

References: Besag (1974), "Spatial interaction and the statistical analysis of lattice
systems", JRSS B 36; Jin, Carlin and Banerjee (2005), "Generalized hierarchical multivariate
CAR models for areal data", Biometrics 61 (the eigenvalue determinant); NumPyro 0.22 ``CAR``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import Tracer
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.distributions.multivariate import _lazy

__all__ = ["CAR", "CirculantNormal"]

_LOG_2PI = math.log(2.0 * math.pi)


def _is_scipy_sparse(a: Any) -> bool:
    try:
        from scipy import sparse
    except ImportError:  # pragma: no cover - SciPy is a dependency
        return False
    return sparse.issparse(a)


class CAR(Distribution):
    r"""Conditional autoregressive distribution (NumPyro's ``CAR``); see the module docstring
    for the density.

    Parameters
    ----------
    loc : mean :math:`\mu`, shape ``(..., n)`` (a scalar is broadcast).
    correlation : :math:`\alpha \in (-1, 1)`.
    conditional_precision : :math:`\tau > 0`.
    adj_matrix : symmetric ``(..., n, n)`` adjacency with no isolated site: a NumPy array, a
        SciPy sparse matrix (then ``is_sparse=True``), or a traced array (``is_sparse=False``).
    is_sparse : use the edge list of the adjacency (2-D, concrete) for the quadratic form.
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "correlation": constraints.open_interval(-1.0, 1.0),
        "conditional_precision": constraints.positive,
        "adj_matrix": constraints.dependent,
    }
    support = constraints.real_vector
    reparametrized_params = ["loc", "correlation", "conditional_precision"]
    has_rsample = True

    def __init__(self, loc, correlation, conditional_precision, adj_matrix, *,
                 is_sparse: bool = False, validate_args=None):
        cls = type(self).__name__
        self.is_sparse = bool(is_sparse)
        if _is_scipy_sparse(adj_matrix):
            if not self.is_sparse:
                raise ValueError(f"{cls}: adj_matrix is a SciPy sparse matrix; pass "
                                 "is_sparse=True")
            adj_matrix = adj_matrix.tocsr()
            adj_shape = tuple(adj_matrix.shape)
        else:
            adj_matrix = as_param(adj_matrix)
            adj_shape = tuple(anp.shape(adj_matrix))
        if len(adj_shape) < 2 or adj_shape[-1] != adj_shape[-2]:
            raise ValueError(f"{cls}: 'adj_matrix' must be a (batch of) square matrix, got shape "
                             f"{adj_shape}")
        n = adj_shape[-1]
        if self.is_sparse:
            if len(adj_shape) != 2:
                raise ValueError(f"{cls}: with is_sparse=True 'adj_matrix' must be 2-D, got shape "
                                 f"{adj_shape}")
            if isinstance(adj_matrix, Tracer):
                raise ValueError(
                    f"{cls}: with is_sparse=True 'adj_matrix' must be concrete (a NumPy array or "
                    "a SciPy sparse matrix); it is traced here, e.g. a NumPy array passed as a "
                    "model argument: pass a scipy.sparse matrix or close over the array instead")
        loc = as_param(loc)
        if anp.ndim(loc) == 0:
            loc = anp.broadcast_to(loc, (n,))
        if anp.shape(loc)[-1] != n:
            raise ValueError(f"{cls}: 'loc' of shape {anp.shape(loc)} does not match the "
                             f"{n} sites of 'adj_matrix' (shape {adj_shape})")
        correlation, tau = as_param(correlation), as_param(conditional_precision)
        shapes = {"loc": anp.shape(loc)[:-1], "correlation": anp.shape(correlation),
                  "conditional_precision": anp.shape(tau), "adj_matrix": adj_shape[:-2]}
        try:
            batch = tuple(np.broadcast_shapes(*shapes.values()))
        except ValueError:
            listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
            raise ValueError(f"{cls}: the batch shapes ({listed}) do not broadcast") from None
        self.loc = anp.broadcast_to(loc, batch + (n,))
        self.correlation = anp.broadcast_to(correlation, batch)
        self.conditional_precision = anp.broadcast_to(tau, batch)
        self.adj_matrix = adj_matrix
        self._prepare(adj_matrix, n)
        super().__init__(batch, (n,), validate_args)

    # ---- the adjacency, once ----------------------------------------------------------------
    def _prepare(self, adj, n: int) -> None:
        """Degrees, eigenvalues of :math:`D^{-1/2}WD^{-1/2}` and (sparse) the edge list, in
        NumPy, for a concrete adjacency; validated: symmetric, every site has a neighbour."""
        cls = type(self).__name__
        self._lam = None
        if isinstance(adj, Tracer):
            self._degree = anp.sum(adj, -1)
            return
        dense = adj.toarray() if _is_scipy_sparse(adj) else np.asarray(adj, dtype=float)
        if not np.array_equal(dense, np.swapaxes(dense, -1, -2)):
            raise ValueError(f"{cls}: 'adj_matrix' must be symmetric")
        degree = dense.sum(-1)
        if np.any(degree <= 0):
            bad = np.argwhere(degree <= 0)[:5].tolist()
            raise ValueError(f"{cls}: every site of 'adj_matrix' needs a neighbour (positive row "
                             f"sum); sites without one: {bad}")
        r = degree ** -0.5
        self._degree = degree
        self._lam = np.linalg.eigvalsh(dense * r[..., :, None] * r[..., None, :])
        if self.is_sparse:
            rows, cols = np.nonzero(np.triu(dense, 1))
            self._edges = (rows, cols, dense[rows, cols])
            diag = np.diagonal(dense).copy()
            self._self_loops = diag if np.any(diag != 0) else None

    def _log_det(self):
        """:math:`\\log\\det(D - \\alpha W) = \\sum\\log D_{ii} + \\sum\\log(1 - \\alpha\\lambda_i)`."""
        alpha = anp.expand_dims(self.correlation, -1)
        if self._lam is not None:
            return (anp.sum(anp.log(self._degree), -1)
                    + anp.sum(anp.log1p(-alpha * self._lam), -1))
        # Traced adjacency: Cholesky of I - alpha D^{-1/2} W D^{-1/2} in the compiled code.
        n = self.event_shape[-1]
        r = self._degree ** -0.5
        scaled = self.adj_matrix * anp.expand_dims(r, -1) * anp.expand_dims(r, -2)
        M = np.eye(n) - anp.expand_dims(alpha, -1) * scaled
        L = anp.linalg.cholesky(M)
        return anp.sum(anp.log(self._degree), -1) + 2.0 * anp.sum(
            anp.log(anp.diagonal(L, 0, -2, -1)), -1)

    def _quad(self, phi):
        """:math:`\\phi^T(D\\phi - \\alpha W\\phi)`."""
        alpha = self.correlation
        degree_term = anp.sum(self._degree * anp.square(phi), -1)
        if self.is_sparse:
            rows, cols, w = self._edges
            cross = 2.0 * anp.sum(w * phi[..., rows] * phi[..., cols], -1)
            if self._self_loops is not None:
                cross = cross + anp.sum(self._self_loops * anp.square(phi), -1)
        else:
            Wphi = anp.matmul(self.adj_matrix, anp.expand_dims(phi, -1))[..., 0]
            cross = anp.sum(phi * Wphi, -1)
        return degree_term - alpha * cross

    def _log_prob(self, value):
        n = self.event_shape[-1]
        tau = self.conditional_precision
        phi = anp.subtract(value, self.loc)
        return 0.5 * (-n * _LOG_2PI + n * anp.log(tau) + self._log_det() - tau * self._quad(phi))

    # ---- sampling and moments ---------------------------------------------------------------
    @property
    def precision_matrix(self):
        """:math:`Q = \\tau(D - \\alpha W)` (dense)."""
        W = self.adj_matrix.toarray() if _is_scipy_sparse(self.adj_matrix) else self.adj_matrix
        n = self.event_shape[-1]
        D = anp.expand_dims(self._degree, -1) * np.eye(n)
        tau = anp.expand_dims(anp.expand_dims(self.conditional_precision, -1), -1)
        alpha = anp.expand_dims(anp.expand_dims(self.correlation, -1), -1)
        return tau * (D - alpha * W)

    def _rsample(self, rng, shape):
        # x = loc + L^{-T} z with Q = L L^T: covariance (L L^T)^{-1} = Q^{-1}; dense O(n^3).
        n = self.event_shape[-1]
        Q = anp.broadcast_to(self.precision_matrix, shape[:-1] + (n, n))
        L = anp.linalg.cholesky(Q)
        z = rng.standard_normal(shape)
        x = anp.linalg.solve_triangular(L, anp.expand_dims(z, -1), lower=True, trans=True)
        return anp.add(self.loc, x[..., 0])

    def _entropy(self):
        n = self.event_shape[-1]
        log_det_q = n * anp.log(self.conditional_precision) + self._log_det()
        return anp.broadcast_to(0.5 * n * (1.0 + _LOG_2PI) - 0.5 * log_det_q, self.batch_shape)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        Q = np.asarray(self.precision_matrix)
        return np.broadcast_to(np.diagonal(np.linalg.inv(Q), 0, -2, -1),
                               self.batch_shape + self.event_shape)


def _rfft_weights(n: int) -> np.ndarray:
    """How often each of the ``n // 2 + 1`` real-FFT frequencies occurs among all ``n``."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


class CirculantNormal(Distribution):
    r"""Multivariate normal with a symmetric positive-definite circulant covariance
    :math:`C_{ij} = c_{(j - i) \bmod n}` (periodic boundary conditions; NumPyro's
    ``CirculantNormal``).

    The discrete Fourier transform diagonalises :math:`C`: its eigenvalues are
    :math:`\lambda_k = \sum_j c_j \cos(2\pi jk/n)` (the real FFT of the first row,
    ``covariance_rfft``, :math:`k = 0..\lfloor n/2\rfloor`, with :math:`\lambda_k =
    \lambda_{n-k}`), and with :math:`X = \operatorname{DFT}(x - \mu)`

    .. math::
        \log p(x) = -\frac1{2n}\sum_{k=0}^{n-1}\frac{|X_k|^2}{\lambda_k}
        - \frac12\sum_{k=0}^{n-1}\log\lambda_k - \frac n2\log 2\pi.

    Give ``covariance_row`` :math:`c` or ``covariance_rfft`` :math:`\lambda` (one of them).
    The transforms are products with constant cosine and sine matrices (:math:`O(n^2)`, as
    ``autodiff`` has no FFT primitive); draws use NumPy's FFT, reparameterised draws the
    symmetric square root :math:`C^{1/2}` (circulant with first row
    :math:`\operatorname{irfft}(\sqrt\lambda)`).  References: Wood and Chan (1994), J. Comp.
    Graph. Statistics 3; Gray (2006), "Toeplitz and circulant matrices: a review".
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_row": constraints.positive_definite_circulant_vector,
        "covariance_rfft": constraints.independent(constraints.positive, 1),
    }
    support = constraints.real_vector
    reparametrized_params = ["loc", "covariance_row", "covariance_rfft"]
    has_rsample = True

    def __init__(self, loc, covariance_row=None, covariance_rfft=None, *, validate_args=None):
        cls = type(self).__name__
        loc = as_param(loc)
        if anp.ndim(loc) < 1:
            raise ValueError(f"{cls}: 'loc' must have at least one dimension (it sets the event "
                             f"size n), got shape {anp.shape(loc)}")
        n = anp.shape(loc)[-1]
        m = n // 2 + 1
        if (covariance_row is None) == (covariance_rfft is None):
            raise ValueError(f"{cls}: give exactly one of covariance_row or covariance_rfft")
        k = np.arange(n)[:, None] * np.arange(m)[None, :]
        self._cos = np.cos(2.0 * np.pi * k / n)  # (n, m): real part of the real FFT
        self._sin = np.sin(2.0 * np.pi * k / n)
        self._weights = _rfft_weights(n)
        if covariance_row is not None:
            row = as_param(covariance_row)
            if anp.ndim(row) < 1 or anp.shape(row)[-1] != n:
                raise ValueError(f"{cls}: 'covariance_row' of shape {anp.shape(row)} must end in "
                                 f"the event size {n} of 'loc' (shape {anp.shape(loc)})")
            self.covariance_row = row
            name, cov_batch = "covariance_row", anp.shape(row)[:-1]
        else:
            lam = as_param(covariance_rfft)
            if anp.ndim(lam) < 1 or anp.shape(lam)[-1] != m:
                raise ValueError(f"{cls}: 'covariance_rfft' of shape {anp.shape(lam)} must end in "
                                 f"n // 2 + 1 = {m} for the event size {n} of 'loc'")
            self.covariance_rfft = lam
            name, cov_batch = "covariance_rfft", anp.shape(lam)[:-1]
        try:
            batch = tuple(np.broadcast_shapes(anp.shape(loc)[:-1], cov_batch))
        except ValueError:
            raise ValueError(f"{cls}: the batch shapes of loc {anp.shape(loc)[:-1]} and {name} "
                             f"{cov_batch} do not broadcast") from None
        self.loc = anp.broadcast_to(loc, batch + (n,))
        super().__init__(batch, (n,), validate_args)

    @_lazy
    def covariance_rfft(self):
        return anp.matmul(self.covariance_row, self._cos)

    @_lazy
    def covariance_row(self):
        n = self.event_shape[-1]
        return anp.matmul(self.covariance_rfft * self._weights, self._cos.T) / n

    def _log_prob(self, value):
        n = self.event_shape[-1]
        lam = self.covariance_rfft
        d = anp.subtract(value, self.loc)
        re, im = anp.matmul(d, self._cos), anp.matmul(d, self._sin)
        quad = anp.sum(self._weights * (anp.square(re) + anp.square(im)) / lam, -1) / n
        log_det = anp.sum(self._weights * anp.log(lam), -1)
        return -0.5 * quad - 0.5 * log_det - 0.5 * n * _LOG_2PI

    def _rsample(self, rng, shape):
        n = self.event_shape[-1]
        z = rng.standard_normal(shape)
        # C^(1/2) is circulant with first row r = irfft(sqrt(lambda)); (C^(1/2) z)_i =
        # sum_j r_((j - i) mod n) z_j.
        r = anp.matmul(anp.sqrt(self.covariance_rfft) * self._weights, self._cos.T) / n
        index = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
        R = r[..., index]
        return anp.add(self.loc, anp.matmul(R, anp.expand_dims(z, -1))[..., 0])

    def _sample(self, rng, shape):
        n = self.event_shape[-1]
        lam = np.asarray(self.covariance_rfft, dtype=float)
        full = np.concatenate([lam, np.flip(lam[..., 1:n - n // 2], -1)], -1)
        z = rng.standard_normal(shape)
        x = np.fft.ifft(np.sqrt(full) * np.fft.fft(z, axis=-1), axis=-1).real
        return np.asarray(self.loc) + x

    @property
    def covariance_matrix(self):
        n = self.event_shape[-1]
        index = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n
        return self.covariance_row[..., index]

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return anp.broadcast_to(self.covariance_row[..., :1], self.batch_shape + self.event_shape)

    def _entropy(self):
        n = self.event_shape[-1]
        h = 0.5 * anp.sum(self._weights * anp.log(self.covariance_rfft), -1)
        return anp.broadcast_to(h + 0.5 * n * (1.0 + _LOG_2PI), self.batch_shape)
