r"""The No-U-Turn Sampler as a user-facing kernel: :class:`NUTS`.

The transition is Stan's multinomial NUTS, compiled in :mod:`kernels.nuts`: the trajectory is
doubled forwards or backwards in time until it makes a U-turn (Stan's generalised criterion with
its three checks per merge) or reaches ``2**max_tree_depth - 1`` leapfrog steps; the next state
is drawn from the whole trajectory with probabilities proportional to
:math:`e^{-H(q, p)}` (uniform multinomial inside subtrees, biased progressive sampling between
them). A leapfrog step whose energy error :math:`H - H_0` exceeds ``max_energy_error`` (1000)
ends the trajectory and marks the transition *divergent*. Warmup tunes the step size by dual
averaging toward ``target_accept_prob`` and estimates the mass matrix either as Stan does
(``mass_matrix_adaptation="stan"``: a regularised variance or covariance of the draws in windows
of 25, 50, 100, ... iterations between an initial buffer of 75 and a final buffer of 50) or as
nutpie does (``"fisher"``: a diagonal :math:`\sqrt{\mathrm{Var}[q] / \mathrm{Var}[\nabla\log
\pi]}` recomputed after every draw; see :mod:`inference.hmc` and
:mod:`kernels.adaptation_fisher`).

This module only holds the options; see :class:`inference.hmc.HMC` for what the shared options
mean and :class:`inference.mcmc.MCMC` to run the sampler.

References
----------
Hoffman, M. D. and Gelman, A. (2014). The No-U-Turn Sampler: adaptively setting path lengths
in Hamiltonian Monte Carlo. *JMLR* 15, 1593-1623.

Betancourt, M. (2017). A conceptual introduction to Hamiltonian Monte Carlo. arXiv:1701.02434.

Stan Development Team. Stan Reference Manual, "Hamiltonian Monte Carlo Sampling".

Seyboldt, A., Carlson, E. and Carpenter, B. (2026). Preconditioning Hamiltonian Monte Carlo by
minimizing Fisher divergence. arXiv:2603.18845.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from inference.hmc import HMC
from inference.mcmc import CompiledModelLike
from kernels.sampler import SamplerConfig

__all__ = ["NUTS"]


class NUTS(HMC):
    r"""No-U-Turn Sampler (Stan's multinomial variant) with Stan's or nutpie's warmup.

    Parameters
    ----------
    model : callable or CompiledModelLike
        A model function (compiled at ``MCMC.run`` with the model's arguments) or a compiled
        model (:class:`inference.mcmc.CompiledModelLike`).
    target_accept_prob : float, default 0.8
        Target of dual-averaging step-size adaptation (Stan's ``adapt_delta``). Raise it (0.9,
        0.95, 0.99) to get a smaller step size when there are divergences.
    max_tree_depth : int, default 10
        A trajectory has at most :math:`2^{\text{max\_tree\_depth}} - 1` leapfrog steps;
        transitions that reach it are counted in ``reached_max_treedepth``.
    dense_mass : bool, default False
        Adapt a dense (full covariance) mass matrix instead of a diagonal one.
    init_strategy : str or dict, default "uniform"
        ``"uniform"``, ``"median"`` or a dict of constrained initial values per site (passed
        to the model's ``initial_points``).
    step_size : float, default 1.0
        Initial step size.
    adapt_step_size : bool, default True
        Tune the step size during warmup.
    adapt_mass_matrix : bool, default True
        Estimate the mass matrix during warmup.
    mass_matrix_adaptation : {"stan", "fisher"}, optional
        ``"stan"``: Stan's windowed (co)variance of the draws (Stan Reference Manual,
        "Automatic parameter tuning"). ``"fisher"``: nutpie's diagonal estimate from the
        variances of the draws and of the gradients, updated after every warmup draw
        (Seyboldt, Carlson & Carpenter 2026); diagonal only. It often gives more effective
        draws per gradient evaluation (a good metric after fewer warmup draws), but on some
        posteriors (e.g. stochastic volatility) a larger step size and more divergences at the
        same ``target_accept_prob``. Default:
        :data:`inference.hmc.DEFAULT_MASS_MATRIX_ADAPTATION` for a diagonal mass matrix,
        ``"stan"`` with ``dense_mass=True``.
    inverse_mass_matrix : array, optional
        Initial inverse mass matrix, ``(dim,)`` or ``(dim, dim)``; by default the identity, or
        with ``"fisher"`` adaptation the inverse absolute gradient at the initial point.
    max_energy_error : float, default 1000
        Divergence threshold on the energy error (Stan: 1000).

    Examples
    --------
    >>> kernel = NUTS(lambda: None, target_accept_prob=0.9, max_tree_depth=8)
    >>> cfg = kernel.sampler_config(num_warmup=1000)
    >>> (cfg.algorithm, cfg.max_depth, cfg.target_accept, cfg.metric)
    ('nuts', 8, 0.9, 'diag')
    """

    algorithm = "nuts"

    def __init__(
        self,
        model: Callable[..., Any] | CompiledModelLike,
        target_accept_prob: float = 0.8,
        max_tree_depth: int = 10,
        dense_mass: bool = False,
        init_strategy: str | Mapping[str, Any] = "uniform",
        step_size: float = 1.0,
        adapt_step_size: bool = True,
        adapt_mass_matrix: bool = True,
        inverse_mass_matrix: np.ndarray | None = None,
        max_energy_error: float = 1000.0,
        mass_matrix_adaptation: str | None = None,
    ) -> None:
        if int(max_tree_depth) != max_tree_depth or not 1 <= max_tree_depth <= 30:
            raise ValueError(
                f"max_tree_depth must be an integer in [1, 30], got {max_tree_depth!r}"
            )
        self._max_tree_depth = int(max_tree_depth)
        self.num_steps = None
        self.trajectory_length = 0.0
        self.jitter = 0.0
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

    @property
    def max_tree_depth(self) -> int:
        """Maximum tree depth (number of trajectory doublings)."""
        return self._max_tree_depth

    def sampler_config(self, num_warmup: int) -> SamplerConfig:
        """The :class:`kernels.sampler.SamplerConfig` of this kernel for ``num_warmup``."""
        return SamplerConfig(
            num_warmup=int(num_warmup),
            algorithm="nuts",
            metric=self.metric,
            max_depth=self._max_tree_depth,
            max_delta_h=self.max_energy_error,
            adapt_step_size=self.adapt_step_size,
            target_accept=self.target_accept_prob,
            **self._adaptation_options(),
        )

    def __repr__(self) -> str:
        return (
            f"NUTS(target_accept_prob={self.target_accept_prob:g}, "
            f"max_tree_depth={self._max_tree_depth}, dense_mass={self.dense_mass}, "
            f"step_size={self.step_size:g}, "
            f"mass_matrix_adaptation={self.mass_matrix_adaptation!r})"
        )
