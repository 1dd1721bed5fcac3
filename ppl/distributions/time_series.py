r"""Time series: the linear-Gaussian state space (vector AR(1)) and Euler-Maruyama SDE paths.

* :class:`GaussianStateSpace`: :math:`z_t = A z_{t-1} + \epsilon_t`,
  :math:`\epsilon_t \sim \mathcal{N}(0, \Sigma)`, :math:`t = 1..T`, from a fixed
  :math:`z_0` (``initial_value``, zero by default).  The map from innovations to states is
  unit lower block-triangular, so its Jacobian is one and

  .. math:: \log p(z_{1:T}) = \sum_{t=1}^T \log\mathcal{N}(z_t - A z_{t-1} \mid 0, \Sigma).

* :class:`EulerMaruyama`: the path density of the Euler-Maruyama discretisation of
  :math:`dX = f(X, t)\,dt + g(X, t)\,dW` on the grid ``t``:

  .. math::
      \log p(x_{0:N}) = \log p_0(x_0) + \sum_{i=1}^N \log\mathcal{N}\big(x_i \mid
      x_{i-1} + f(x_{i-1}, t_{i-1})\Delta_i,\; g(x_{i-1}, t_{i-1})\sqrt{\Delta_i}\big),
      \qquad \Delta_i = t_i - t_{i-1}.

References: Durbin and Koopman (2012), *Time Series Analysis by State Space Methods*, 2nd ed.,
ch. 3; Kloeden and Platen (1992), *Numerical Solution of Stochastic Differential Equations*,
sec. 9.1; NumPyro 0.22 ``GaussianStateSpace`` and ``EulerMaruyama``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff
import autodiff.numpy as anp
from ppl import constraints
from ppl.distributions.base import Distribution, as_param
from ppl.distributions.multivariate import (
    MultivariateNormal,
    _diag,
    _lazy,
    _mT,
    covariance_from_tril,
    precision_from_tril,
)

__all__ = ["EulerMaruyama", "GaussianStateSpace"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianStateSpace(Distribution):
    r"""Gaussian state space model (a vector AR(1) process) over ``num_steps`` steps.

    Parameters (NumPyro's): ``num_steps`` :math:`T`; ``transition_matrix`` :math:`A`
    (:math:`k \times k`); exactly one of ``covariance_matrix``, ``precision_matrix`` or
    ``scale_tril`` of the innovations; ``initial_value`` :math:`z_0` (default 0).  The event
    shape is ``(num_steps, k)``; the log density is in the module docstring.  Draws run the
    recursion on standard normal noise (reparameterised).  Moments:
    :math:`E z_t = A^t z_0`, :math:`\operatorname{Var} z_t = \operatorname{diag}
    \sum_{s=0}^{t-1} A^s \Sigma A^{sT}`.
    """

    arg_constraints = {
        "transition_matrix": constraints.real_matrix,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
        "initial_value": constraints.real_vector,
    }
    support = constraints.real_matrix
    reparametrized_params = ["transition_matrix", "covariance_matrix", "precision_matrix",
                             "scale_tril", "initial_value"]
    has_rsample = True

    def __init__(self, num_steps: int, transition_matrix, covariance_matrix=None,
                 precision_matrix=None, scale_tril=None, initial_value=None, *,
                 validate_args=None):
        cls = type(self).__name__
        if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
            raise ValueError(f"{cls}: 'num_steps' must be a positive integer, got {num_steps!r}")
        self.num_steps = int(num_steps)
        A = as_param(transition_matrix)
        shape = anp.shape(A)
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ValueError(f"{cls}: 'transition_matrix' must be a (batch of) square matrix, got "
                             f"shape {shape}")
        k = shape[-1]
        given = [(n, v) for n, v in [("covariance_matrix", covariance_matrix),
                                     ("precision_matrix", precision_matrix),
                                     ("scale_tril", scale_tril)] if v is not None]
        if len(given) != 1:
            raise ValueError(f"{cls}: give exactly one of covariance_matrix, precision_matrix or "
                             f"scale_tril (got {sorted(n for n, _ in given) or 'none'})")
        (name, matrix), = given
        noise = MultivariateNormal(0.0, **{name: matrix})
        if noise.event_shape != (k,):
            raise ValueError(f"{cls}: '{name}' of shape {anp.shape(getattr(noise, name))} does "
                             f"not match the {k}x{k} transition_matrix")
        shapes = {"transition_matrix": shape[:-2], name: noise.batch_shape}
        if initial_value is not None:
            initial_value = as_param(initial_value)
            if anp.ndim(initial_value) < 1 or anp.shape(initial_value)[-1] != k:
                raise ValueError(f"{cls}: 'initial_value' of shape {anp.shape(initial_value)} "
                                 f"must end in the state dimension {k}")
            shapes["initial_value"] = anp.shape(initial_value)[:-1]
        try:
            batch = tuple(np.broadcast_shapes(*shapes.values()))
        except ValueError:
            listed = ", ".join(f"{n} {v}" for n, v in shapes.items())
            raise ValueError(f"{cls}: the batch shapes ({listed}) do not broadcast") from None
        self.transition_matrix = A
        setattr(self, name, getattr(noise, name))
        self.scale_tril = noise.scale_tril
        self._initial_value = initial_value
        super().__init__(batch, (self.num_steps, k), validate_args)

    def _arg_values(self):
        values = super()._arg_values()
        if self._initial_value is not None:
            values["initial_value"] = self._initial_value
        return values

    @property
    def initial_value(self):
        k = self.event_shape[-1]
        return np.zeros(k) if self._initial_value is None else self._initial_value

    @_lazy
    def covariance_matrix(self):
        return covariance_from_tril(self.scale_tril)

    @_lazy
    def precision_matrix(self):
        return precision_from_tril(self.scale_tril)

    def _log_prob(self, value):
        T, k = self.event_shape
        z0 = anp.expand_dims(self.initial_value, -2)  # (..., 1, k)
        lead = tuple(np.broadcast_shapes(anp.shape(value)[:-2], anp.shape(z0)[:-2]))
        prev = anp.broadcast_to(z0, lead + (1, k))
        if T > 1:
            prev = anp.concatenate([prev, anp.broadcast_to(value[..., :-1, :], lead + (T - 1, k))],
                                   axis=-2)
        # innovations eps_t = z_t - A z_{t-1}, one row per step
        eps = anp.subtract(value, anp.matmul(prev, _mT(self.transition_matrix)))
        # L^{-1} eps_t for every t at once: the steps are the columns of one right-hand side.
        w = anp.linalg.solve_triangular(self.scale_tril, _mT(eps), lower=True)
        quad = anp.sum(anp.sum(anp.square(w), -1), -1)
        half_log_det = anp.sum(anp.log(_diag(self.scale_tril)), -1)
        return -0.5 * quad - T * half_log_det - T * k * _HALF_LOG_2PI

    def _entropy(self):
        T, k = self.event_shape
        half_log_det = anp.sum(anp.log(_diag(self.scale_tril)), -1)
        return anp.broadcast_to(T * (0.5 * k * (1.0 + 2.0 * _HALF_LOG_2PI) + half_log_det),
                                self.batch_shape)

    def _rsample(self, rng, shape):
        eps = rng.standard_normal(shape)
        A, L = self.transition_matrix, self.scale_tril
        z = anp.broadcast_to(self.initial_value, shape[:-2] + shape[-1:])
        out = []
        for t in range(self.num_steps):
            noise = anp.matmul(L, anp.expand_dims(eps[..., t, :], -1))[..., 0]
            z = anp.add(anp.matmul(A, anp.expand_dims(z, -1))[..., 0], noise)
            out.append(z)
        return anp.stack(out, axis=-2)

    @property
    def mean(self):
        A = self.transition_matrix
        z = self.initial_value
        out = []
        for _ in range(self.num_steps):
            z = anp.matmul(A, anp.expand_dims(z, -1))[..., 0]
            out.append(z)
        return anp.broadcast_to(anp.stack(out, axis=-2), self.batch_shape + self.event_shape)

    @property
    def variance(self):
        A = self.transition_matrix
        P = self.scale_tril  # A^s L, s = 0, 1, ...
        total = 0.0
        out = []
        for _ in range(self.num_steps):
            total = anp.add(total, anp.sum(anp.square(P), -1))
            out.append(total)
            P = anp.matmul(A, P)
        return anp.broadcast_to(anp.stack(out, axis=-2), self.batch_shape + self.event_shape)


def _step(x, index, state_dim: int):
    """``x[..., index, :, ..., :]`` with ``state_dim`` trailing state axes kept."""
    return x[(Ellipsis, index) + (slice(None),) * state_dim]


class EulerMaruyama(Distribution):
    r"""Path density of the Euler-Maruyama scheme for an SDE (NumPyro's ``EulerMaruyama``).

    Parameters
    ----------
    t : increasing time grid, shape ``(..., N + 1)``.
    sde_fn : ``sde_fn(x, t) -> (drift, diffusion)`` for one state ``x`` (shape
        ``init_dist.event_shape``) and a scalar time; both outputs broadcast against ``x``
        (the diffusion is elementwise: independent noise per coordinate).  It is mapped over
        the steps with :func:`autodiff.vmap`, so it may close over traced model parameters.
    init_dist : distribution of :math:`x_0`.

    The event shape is ``(N + 1,) + init_dist.event_shape``; the log density is in the module
    docstring.  Draws run the scheme forward from a draw of ``init_dist``.
    """

    arg_constraints = {"t": constraints.ordered_vector}

    def __init__(self, t, sde_fn: Callable[[Any, Any], tuple[Any, Any]], init_dist: Distribution,
                 *, validate_args=None):
        cls = type(self).__name__
        if not isinstance(init_dist, Distribution):
            raise TypeError(f"{cls}: 'init_dist' must be a Distribution, got "
                            f"{type(init_dist).__name__}")
        if not callable(sde_fn):
            raise TypeError(f"{cls}: 'sde_fn' must be callable (x, t) -> (drift, diffusion)")
        t = as_param(t)
        if anp.ndim(t) < 1 or anp.shape(t)[-1] < 2:
            raise ValueError(f"{cls}: 't' must be a time grid with at least 2 points, got shape "
                             f"{anp.shape(t)}")
        try:
            batch = tuple(np.broadcast_shapes(anp.shape(t)[:-1], init_dist.batch_shape))
        except ValueError:
            raise ValueError(f"{cls}: the batch shape of 't' {anp.shape(t)[:-1]} does not "
                             f"broadcast with init_dist.batch_shape {init_dist.batch_shape}") from None
        self.t = t
        self.sde_fn = sde_fn
        self.init_dist = init_dist
        super().__init__(batch, (anp.shape(t)[-1],) + init_dist.event_shape, validate_args)

    @property
    def support(self):
        return constraints.independent(constraints.real, self.event_dim)

    def _coefficients(self, x, t):
        """``sde_fn`` over the leading axes of ``x`` (shape ``lead + state``) and ``t`` (``lead``),
        flattened into one mapped axis."""
        state = self.init_dist.event_shape
        lead = tuple(anp.shape(x))[: anp.ndim(x) - len(state)]
        n = int(np.prod(lead)) if lead else 1
        xf = anp.reshape(x, (n,) + state)
        tf = anp.reshape(anp.broadcast_to(t, lead), (n,))

        def one(xi, ti):
            f, g = self.sde_fn(xi, ti)
            return anp.broadcast_to(f, state), anp.broadcast_to(g, state)

        f, g = autodiff.vmap(one)(xf, tf)
        return anp.reshape(f, lead + state), anp.reshape(g, lead + state)

    def _log_prob(self, value):
        state_dim = len(self.init_dist.event_shape)
        vshape = anp.shape(value)
        lead = np.broadcast_shapes(vshape[: len(vshape) - self.event_dim], self.batch_shape)
        value = anp.broadcast_to(value, lead + self.event_shape)
        x_prev = _step(value, slice(None, -1), state_dim)
        x_next = _step(value, slice(1, None), state_dim)
        t = anp.broadcast_to(self.t, lead + self.event_shape[:1])
        f, g = self._coefficients(x_prev, t[..., :-1])
        dt = t[..., 1:] - t[..., :-1]
        dt = anp.reshape(dt, anp.shape(dt) + (1,) * state_dim)
        scale = g * anp.sqrt(dt)
        z = (x_next - x_prev - f * dt) / scale
        lp = -0.5 * anp.square(z) - anp.log(scale) - _HALF_LOG_2PI
        lp = anp.sum(anp.reshape(lp, lead + (-1,)), -1)
        x0 = _step(value, 0, state_dim)
        return lp + self.init_dist.log_prob(x0)

    def _sample(self, rng, shape):
        state = self.init_dist.event_shape
        n_steps = self.event_shape[0] - 1
        lead = shape[: len(shape) - self.event_dim]
        x = np.asarray(self.init_dist.expand(lead).sample(rng))
        t = np.broadcast_to(np.asarray(self.t), lead + (n_steps + 1,))
        noise = rng.standard_normal(lead + (n_steps,) + state)
        path = [x]
        for i in range(n_steps):
            f, g = self._coefficients(x, t[..., i])
            dt = (t[..., i + 1] - t[..., i]).reshape(lead + (1,) * len(state))
            x = x + np.asarray(f) * dt + np.asarray(g) * np.sqrt(dt) * _step(noise, i, len(state))
            path.append(x)
        return np.stack(path, axis=len(lead))
