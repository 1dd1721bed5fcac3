r"""The No-U-Turn Sampler as a user-facing kernel: :class:`NUTS`.

The transition is Stan's multinomial NUTS, compiled in :mod:`kernels.nuts_transition`: the trajectory is
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
:mod:`kernels.fisher_adaptation`).

This module only holds the options (a :class:`kernels.options.SamplerOptions`); see
:class:`inference.hmc.HMC` for what the shared options mean and :class:`inference.mcmc.MCMC` to
run the sampler.

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

from inference.protocols import CompiledModelLike, MCMCKernel
from kernels.low_rank_adaptation import DEFAULT_MAX_RANK, DEFAULT_UPDATE_FREQ, DEFAULT_WINDOW
from kernels.options import SamplerOptions

__all__ = ["NUTS"]


class NUTS(MCMCKernel):
    r"""No-U-Turn Sampler (Stan's multinomial variant) with Stan's or nutpie's warmup.

    Parameters
    ----------
    model : callable or CompiledModelLike
        A model function (compiled at ``MCMC.run`` with the model's arguments) or a compiled
        model (:class:`inference.protocols.CompiledModelLike`).
    target_accept_prob : float, default 0.8
        Target of dual-averaging step-size adaptation (Stan's ``adapt_delta``). Raise it (0.9,
        0.95, 0.99) to get a smaller step size when there are divergences.
    max_tree_depth : int, default 10
        A trajectory has at most :math:`2^{\text{max\_tree\_depth}} - 1` leapfrog steps;
        transitions that reach it are counted in ``reached_max_treedepth``.
    dense_mass : bool, default False
        Adapt a dense (full covariance) mass matrix instead of a diagonal one.
    init_strategy : str, dict or init_to_* function, default "uniform"
        Where the chains start: an ``init_to_*`` strategy (``inference.init_to_median(
        num_samples=)``, ``init_to_sample``, ``init_to_feasible``, ``init_to_mean``,
        ``init_to_value(values=)``, ``init_to_uniform(radius=)``), the names ``"uniform"``,
        ``"median"``, ``"sample"``, ``"feasible"``, ``"mean"``, a dict of constrained initial
        values per site, or ``"pathfinder"``: each chain starts at its own draw of a
        Pathfinder run (:mod:`inference.pathfinder_vi`) seeded by the run's seed.
    step_size : float, default 1.0
        Initial step size.
    adapt_step_size : bool, default True
        Tune the step size during warmup.
    adapt_mass_matrix : bool, default True
        Estimate the mass matrix during warmup.
    mass_matrix_adaptation : {"stan", "fisher", "low_rank"}, optional
        ``"stan"``: Stan's windowed (co)variance of the draws (Stan Reference Manual,
        "Automatic parameter tuning"). ``"fisher"``: nutpie's diagonal estimate from the
        variances of the draws and of the gradients, updated after every warmup draw
        (Seyboldt, Carlson & Carpenter 2026); diagonal only. It often gives more effective
        draws per gradient evaluation (a good metric after fewer warmup draws), but on some
        posteriors (e.g. stochastic volatility) a larger step size and more divergences at the
        same ``target_accept_prob``. ``"low_rank"``: nutpie's diagonal plus low-rank metric
        (:mod:`kernels.low_rank_adaptation`) for posteriors with a few strongly correlated
        directions; per chain :math:`O(Wd)` memory (the latest :math:`W` = ``low_rank_window``
        draws and gradients) and :math:`O(W^2 d)` per metric update. Default:
        :data:`kernels.options.DEFAULT_MASS_MATRIX_ADAPTATION`.
    early_stop_warmup : bool, default False
        End the warmup once the adaptation has converged (metric and step size stable at two
        checks in a row, then 50 step-size-only iterations; :mod:`kernels.warmup_convergence`),
        with ``num_warmup`` as the upper bound. Needs ``"fisher"`` or ``"low_rank"`` (the
        check watches the diagonal and the step size only, not the low-rank part). The
        warmup used per chain is ``mcmc.warmup_used`` (and ``warmup_used`` in the ArviZ
        ``sample_stats`` attributes).
    low_rank_max_rank : int, default 8
        ``"low_rank"``: the most eigenpairs of the low-rank correction kept (those furthest from
        1); a leapfrog step costs :math:`O(d)` times it.
    low_rank_window : int, default 512
        ``"low_rank"``: the low-rank part is estimated from at most this many of the latest
        warmup draws (nutpie: all of the window's, up to half of ``num_warmup``); the diagonal
        from all of them.
    low_rank_update_freq : int, default 100
        ``"low_rank"``: the metric is re-estimated at every switch of nutpie's schedule and
        this many iterations after the previous update.
    inverse_mass_matrix : array, optional
        Initial inverse mass matrix, ``(dim,)`` or ``(dim, dim)``; by default the identity, or
        with ``"fisher"`` adaptation the inverse absolute gradient at the initial point.
    max_energy_error : float, default 1000
        Divergence threshold on the energy error (Stan: 1000).

    Examples
    --------
    >>> kernel = NUTS(lambda: None, target_accept_prob=0.9, max_tree_depth=8)
    >>> options = kernel.sampler_options(num_warmup=1000)
    >>> (options.algorithm, options.max_tree_depth, options.target_accept_prob, kernel.dense_mass)
    ('nuts', 8, 0.9, False)
    """

    def __init__(
        self,
        model: Callable[..., Any] | CompiledModelLike,
        target_accept_prob: float = 0.8,
        max_tree_depth: int = 10,
        dense_mass: bool = False,
        init_strategy: str | Mapping[str, Any] | Callable = "uniform",
        step_size: float = 1.0,
        adapt_step_size: bool = True,
        adapt_mass_matrix: bool = True,
        inverse_mass_matrix: np.ndarray | None = None,
        max_energy_error: float = 1000.0,
        mass_matrix_adaptation: str | None = None,
        early_stop_warmup: bool = False,
        low_rank_max_rank: int = DEFAULT_MAX_RANK,
        low_rank_window: int = DEFAULT_WINDOW,
        low_rank_update_freq: int = DEFAULT_UPDATE_FREQ,
    ) -> None:
        options = SamplerOptions(
            algorithm="nuts",
            early_stop_warmup=bool(early_stop_warmup),
            low_rank_max_rank=low_rank_max_rank,
            low_rank_window=low_rank_window,
            low_rank_update_freq=low_rank_update_freq,
            target_accept_prob=target_accept_prob,
            max_tree_depth=max_tree_depth,
            dense_mass=bool(dense_mass),
            step_size=step_size,
            adapt_step_size=bool(adapt_step_size),
            adapt_mass_matrix=bool(adapt_mass_matrix),
            inverse_mass_matrix=inverse_mass_matrix,
            max_energy_error=max_energy_error,
            mass_matrix_adaptation=mass_matrix_adaptation,
        )
        super().__init__(model, options, init_strategy)

    def __repr__(self) -> str:
        o = self.options
        return (
            f"NUTS(target_accept_prob={o.target_accept_prob:g}, "
            f"max_tree_depth={o.max_tree_depth}, dense_mass={o.dense_mass}, "
            f"step_size={o.step_size:g}, mass_matrix_adaptation={o.mass_matrix_adaptation!r})"
        )
