r"""Static-trajectory Hamiltonian Monte Carlo as a user-facing kernel: :class:`HMC`.

A kernel object holds the *algorithm's options* and the model; it does not sample by itself.
:class:`inference.mcmc.MCMC` runs it: the compiled transition and the warmup live in
:mod:`kernels.hmc`, :mod:`kernels.adaptation`, :mod:`kernels.adaptation_fisher` and
:mod:`kernels.sampler`. This module only validates the options and turns them into a
:class:`kernels.sampler.SamplerConfig`.
:class:`inference.nuts.NUTS` subclasses :class:`HMC` and shares its model handling.

The transition (Neal 2011; Stan's ``base_static_hmc``): draw :math:`p \sim N(0, M)`, integrate
:math:`L` leapfrog steps of size :math:`\epsilon` and accept the end point with probability
:math:`\min(1, e^{H(q, p) - H(q', p')})`, where
:math:`H(q, p) = -\log\pi(q) + \tfrac12 p^\top M^{-1} p`. With ``num_steps=None`` the number of
steps follows the integration time :math:`T` = ``trajectory_length`` as in Stan:
:math:`L = \max(1, \lfloor T / \epsilon \rfloor)` with the adapted (nominal) step size.

Mass-matrix adaptation (``mass_matrix_adaptation``)
--------------------------------------------------
``"stan"``
    Stan's windowed adaptation (Stan Reference Manual, "Automatic parameter tuning";
    :mod:`kernels.adaptation`): after an initial buffer of 75 iterations, the (co)variance of
    the draws in windows of 25, 50, 100, ... iterations, shrunk toward :math:`10^{-3} I`,
    becomes the inverse metric at each window's end, where the step size is searched again and
    dual averaging restarts; the last 50 iterations tune the step size only.
``"fisher"``
    nutpie's adaptation (Seyboldt, Carlson & Carpenter 2026; :mod:`kernels.adaptation_fisher`):
    diagonal only, :math:`M^{-1}_{ii} = \sqrt{\mathrm{Var}[q_i] / \mathrm{Var}[\nabla_i
    \log\pi(q)]}` -- exact for Gaussians, and informative after a handful of draws because
    it uses the gradients too -- starting from :math:`1/|\nabla_i\log\pi(q_0)|`, recomputed
    after every warmup draw from the draws since the last-but-one *switch* (every 10 draws in
    the first 30% of warmup, then windows of 80, 120, 180, ... draws); the last 15% of warmup
    tune the step size only.

A fixed integration time makes HMC periodic on near-Gaussian targets (with a unit metric a
standard normal returns to its start after :math:`T = 2\pi`), so the step size is jittered by
default: :math:`\epsilon_t = \epsilon (1 + j (2u - 1))`, :math:`u \sim U(0, 1)` (Stan's
``stepsize_jitter``; Mackenzie 1989; Neal 2011, section 5.4.2.2).

References
----------
Neal, R. M. (2011). MCMC using Hamiltonian dynamics. *Handbook of Markov Chain Monte Carlo*,
ch. 5. arXiv:1206.1901.

Mackenzie, P. B. (1989). An improved hybrid Monte Carlo method. *Physics Letters B* 226, 369.

Seyboldt, A., Carlson, E. and Carpenter, B. (2026). Preconditioning Hamiltonian Monte Carlo by
minimizing Fisher divergence. arXiv:2603.18845 (nutpie, https://github.com/pymc-devs/nutpie).

Stan Development Team. Stan Reference Manual, "Hamiltonian Monte Carlo Sampling".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from inference.mcmc import CompiledModelLike, resolve_model
from kernels.sampler import SamplerConfig

__all__ = ["HMC", "MASS_MATRIX_ADAPTATIONS", "DEFAULT_MASS_MATRIX_ADAPTATION"]

#: Values of ``mass_matrix_adaptation``.
MASS_MATRIX_ADAPTATIONS = ("stan", "fisher")
#: What ``mass_matrix_adaptation=None`` means for a diagonal mass matrix (a dense one: "stan").
DEFAULT_MASS_MATRIX_ADAPTATION = "stan"


def _check_probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}; the usual choice is 0.8")
    return value


def _check_adaptation(value: str | None, dense: bool) -> str:
    if value is None:
        return "stan" if dense else DEFAULT_MASS_MATRIX_ADAPTATION
    if value not in MASS_MATRIX_ADAPTATIONS:
        raise ValueError(
            f"mass_matrix_adaptation must be 'stan', 'fisher' or None (default), got {value!r}"
        )
    if value == "fisher" and dense:
        raise ValueError(
            "mass_matrix_adaptation='fisher' estimates a diagonal mass matrix only: use "
            "dense_mass=False, or mass_matrix_adaptation='stan' for a dense mass matrix"
        )
    return value


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


class HMC:
    r"""Hamiltonian Monte Carlo with a static trajectory and Stan's warmup.

    Parameters
    ----------
    model : callable or CompiledModelLike
        A model function (compiled with ``ppl.model.compile_model(model, *args, **kwargs)``
        when :meth:`inference.mcmc.MCMC.run` is called with the model's arguments), or an
        already compiled model (see :class:`inference.mcmc.CompiledModelLike`; the arguments of
        ``run`` are then ignored).
    num_steps : int, optional
        Fixed number of leapfrog steps per transition. When omitted, the number of steps is
        :math:`\max(1, \lfloor T / \epsilon \rfloor)` for ``trajectory_length`` :math:`T`.
    trajectory_length : float, default :math:`2\pi`
        Integration time :math:`T` (NumPyro's default).
    step_size : float, default 1.0
        Initial step size (the start of Stan's step-size search during warmup).
    jitter : float, default 0.2
        Relative step-size jitter :math:`j \in [0, 1]`: each transition uses
        :math:`\epsilon(1 + j(2u - 1))`. Breaks the periodicity of fixed-length trajectories.
    target_accept_prob : float, default 0.8
        Target mean acceptance probability of dual-averaging step-size adaptation.
    adapt_step_size : bool, default True
        Tune the step size by dual averaging during warmup.
    adapt_mass_matrix : bool, default True
        Estimate the (inverse) mass matrix during warmup (see ``mass_matrix_adaptation``).
    mass_matrix_adaptation : {"stan", "fisher"}, optional
        How the mass matrix is estimated (module docstring): ``"stan"``, Stan's windowed
        variance, or ``"fisher"``, nutpie's draw and gradient variances (diagonal only). By
        default :data:`DEFAULT_MASS_MATRIX_ADAPTATION` for a diagonal mass matrix and
        ``"stan"`` for a dense one.
    dense_mass : bool, default False
        Dense (full covariance) instead of diagonal mass matrix.
    inverse_mass_matrix : array, optional
        Initial inverse mass matrix: ``(dim,)`` diagonal or ``(dim, dim)`` dense. By default
        the identity, or with ``mass_matrix_adaptation="fisher"`` the inverse absolute
        gradient at the initial point.
    init_strategy : str or dict, default "uniform"
        Passed to the model's ``initial_points``: ``"uniform"`` (uniform on
        :math:`(-2, 2)` in unconstrained space, Stan's rule), ``"median"``, or a dict of
        constrained initial values per site.
    max_energy_error : float, default 1000
        A transition whose energy error exceeds this is flagged divergent (Stan: 1000).

    Examples
    --------
    >>> kernel = HMC(lambda: None, num_steps=20, step_size=0.1)
    >>> cfg = kernel.sampler_config(num_warmup=500)
    >>> (cfg.algorithm, cfg.hmc_num_steps, cfg.hmc_trajectory_length, cfg.jitter)
    ('hmc', 20, 0.0, 0.2)
    """

    algorithm = "hmc"

    def __init__(
        self,
        model: Callable[..., Any] | CompiledModelLike,
        num_steps: int | None = None,
        trajectory_length: float = 2.0 * math.pi,
        step_size: float = 1.0,
        jitter: float = 0.2,
        target_accept_prob: float = 0.8,
        adapt_step_size: bool = True,
        adapt_mass_matrix: bool = True,
        dense_mass: bool = False,
        inverse_mass_matrix: np.ndarray | None = None,
        init_strategy: str | Mapping[str, Any] = "uniform",
        max_energy_error: float = 1000.0,
        mass_matrix_adaptation: str | None = None,
    ) -> None:
        if num_steps is not None and (int(num_steps) != num_steps or num_steps < 1):
            raise ValueError(f"num_steps must be a positive integer or None, got {num_steps!r}")
        if num_steps is None:
            _check_positive("trajectory_length", trajectory_length)
        if not 0.0 <= float(jitter) <= 1.0:
            raise ValueError(f"jitter must be in [0, 1], got {jitter!r}")
        self.num_steps = None if num_steps is None else int(num_steps)
        self.trajectory_length = float(trajectory_length)
        self.jitter = float(jitter)
        self._init_common(
            model,
            step_size,
            target_accept_prob,
            adapt_step_size,
            adapt_mass_matrix,
            dense_mass,
            inverse_mass_matrix,
            init_strategy,
            max_energy_error,
            mass_matrix_adaptation,
        )

    def _init_common(
        self,
        model: Any,
        step_size: float,
        target_accept_prob: float,
        adapt_step_size: bool,
        adapt_mass_matrix: bool,
        dense_mass: bool,
        inverse_mass_matrix: np.ndarray | None,
        init_strategy: str | Mapping[str, Any],
        max_energy_error: float,
        mass_matrix_adaptation: str | None = None,
    ) -> None:
        if model is None:
            raise TypeError(
                f"{type(self).__name__}(model=None): pass a model function or a compiled model"
            )
        self.model = model
        self.step_size = _check_positive("step_size", step_size)
        self.target_accept_prob = _check_probability("target_accept_prob", target_accept_prob)
        self.adapt_step_size = bool(adapt_step_size)
        self.adapt_mass_matrix = bool(adapt_mass_matrix)
        self.dense_mass = bool(dense_mass)
        self.inverse_mass_matrix = _check_inverse_mass(inverse_mass_matrix, self.dense_mass)
        self.mass_matrix_adaptation = _check_adaptation(mass_matrix_adaptation, self.dense_mass)
        if isinstance(init_strategy, str) and init_strategy not in ("uniform", "median"):
            raise ValueError(
                f"init_strategy must be 'uniform', 'median' or a dict of initial values, "
                f"got {init_strategy!r}"
            )
        self.init_strategy = init_strategy
        self.max_energy_error = _check_positive("max_energy_error", max_energy_error)
        self._compiled_cache: tuple[tuple, CompiledModelLike] | None = None
        self._cached_args: tuple = ()

    @property
    def metric(self) -> str:
        """``"dense"`` or ``"diag"``: the kind of mass matrix."""
        return "dense" if self.dense_mass else "diag"

    @property
    def max_tree_depth(self) -> int | None:
        """Maximum NUTS tree depth; ``None`` for static HMC."""
        return None

    def get_model(self, args: tuple, kwargs: Mapping[str, Any]) -> CompiledModelLike:
        """The compiled model for these model arguments (compiled once per argument objects).

        A compiled model is returned as is. A model function is compiled with
        ``ppl.model.compile_model``; the result is reused while the same argument *objects*
        are passed again (e.g. ``warmup`` then ``run``).
        """
        key = (tuple(id(a) for a in args), tuple((k, id(v)) for k, v in sorted(kwargs.items())))
        if self._compiled_cache is not None and self._compiled_cache[0] == key:
            return self._compiled_cache[1]
        compiled = resolve_model(self.model, args, kwargs)
        self._compiled_cache = (key, compiled)
        # hold the argument objects so that their ids cannot be reused while cached
        self._cached_args = (args, dict(kwargs))
        return compiled

    def _adaptation_options(self) -> dict[str, Any]:
        """The :class:`kernels.sampler.SamplerConfig` fields of the mass-matrix adaptation."""
        return {
            "adapt_metric": self.adapt_mass_matrix,
            "metric_adaptation": self.mass_matrix_adaptation,
            # nutpie starts from the gradient unless the user gave an initial mass matrix
            "init_metric_from_gradient": self.inverse_mass_matrix is None,
        }

    def sampler_config(self, num_warmup: int) -> SamplerConfig:
        """The :class:`kernels.sampler.SamplerConfig` of this kernel for ``num_warmup``."""
        return SamplerConfig(
            num_warmup=int(num_warmup),
            algorithm="hmc",
            metric=self.metric,
            max_delta_h=self.max_energy_error,
            adapt_step_size=self.adapt_step_size,
            target_accept=self.target_accept_prob,
            jitter=self.jitter,
            hmc_num_steps=self.num_steps if self.num_steps is not None else 1,
            hmc_trajectory_length=0.0 if self.num_steps is not None else self.trajectory_length,
            **self._adaptation_options(),
        )

    def __repr__(self) -> str:
        steps = (
            f"num_steps={self.num_steps}"
            if self.num_steps is not None
            else f"trajectory_length={self.trajectory_length:g}"
        )
        return (
            f"{type(self).__name__}({steps}, step_size={self.step_size:g}, "
            f"target_accept_prob={self.target_accept_prob:g}, dense_mass={self.dense_mass}, "
            f"mass_matrix_adaptation={self.mass_matrix_adaptation!r})"
        )


def _check_inverse_mass(m: np.ndarray | None, dense: bool) -> np.ndarray | None:
    if m is None:
        return None
    m = np.asarray(m, dtype=np.float64)
    want = 2 if dense else 1
    if m.ndim != want:
        kind = "(dim, dim) with dense_mass=True" if dense else "(dim,) with dense_mass=False"
        raise ValueError(f"inverse_mass_matrix must have shape {kind}, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("inverse_mass_matrix has non-finite entries")
    return m
