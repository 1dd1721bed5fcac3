r"""ChEES-HMC as a user-facing MCMC kernel: :class:`ChEES`, for runs of hundreds to thousands
of chains.

Every chain makes one static HMC transition per iteration with a step size, trajectory length
and diagonal mass matrix **shared** by all chains and adapted during warmup from cross-chain
statistics (Hoffman, Radul & Sountsov 2021; the algorithm and its constants are in
:mod:`kernels.chees`). It needs at least two chains and is meant for many (its adaptation
estimates means and variances across chains: with a few hundred chains a warmup of 100-200
iterations suffices). :class:`inference.mcmc.MCMC` runs it (:mod:`inference.many_chain`), with
the same results, summary and ArviZ export as NUTS, progress bar, Ctrl-C/SIGTERM handling and
``save_warmup``; ``MCMC(..., draw_dtype="float32")`` halves the memory of the kept draws and
``MCMC(..., store="run.zarr")`` streams them to disk.

Examples
--------
>>> kernel = ChEES(lambda: None, target_accept_prob=0.7)
>>> kernel.algorithm, kernel.target_accept_prob, kernel.learning_rate
('chees', 0.7, 0.1)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from inference.protocols import CompiledModelLike, MCMCKernel
from kernels import chees as K
from kernels.chees import CHEES_CHAIN_FIELDS, CHEES_SHARED_FIELDS, ChEESSettings
from kernels.options import SamplerOptions

__all__ = ["ChEES", "ChEESHMC"]


class ChEES(MCMCKernel):
    r"""ChEES-HMC: many chains in lockstep with shared, cross-chain adaptation.

    Parameters
    ----------
    model : callable or CompiledModelLike
        A model function or a compiled model (as for :class:`~inference.nuts.NUTS`).
    step_size : float, default 1.0
        Initial step size (start of Stan's step-size search at the first warmup iteration).
    target_accept_prob : float, default 0.651
        Target of dual averaging for the **harmonic mean** of the chains' acceptance
        probabilities (0.651 is optimal for HMC in high dimensions, Beskos et al. 2013); one
        divergence of a chain that has been moving counts as 0.05, a chain that keeps
        rejecting counts fully (:mod:`kernels.chees`).
    learning_rate : float, default 0.1
        Adam's learning rate for :math:`\log T` on the ChEES criterion: :math:`T` can grow
        by a factor of about :math:`e^{0.1}` per warmup iteration, so that a short warmup (200
        iterations) reaches trajectories of tens of steps from one. The paper's 0.025 suits
        warmups of a thousand iterations or more.
    initial_trajectory_length : float, optional
        The first trajectory length :math:`T`; by default the searched initial step size (one
        leapfrog step). Adam then grows it by up to about ``learning_rate`` per iteration in
        :math:`\log T`.
    max_leapfrog_steps : int, default 1000
        Upper bound on the leapfrog steps of one transition (:math:`T \le` this times the step
        size).
    adapt_step_size, adapt_trajectory_length, adapt_mass_matrix : bool, default True
        Which of the shared values warmup adapts.
    metric_fraction : float, default 0.75
        The diagonal mass matrix is re-estimated from the cross-chain variances at every
        iteration of the first ``metric_fraction`` of warmup, then fixed.
    inverse_mass_matrix : array, optional
        Initial (or, without adaptation, fixed) diagonal inverse mass matrix ``(dim,)``.
    init_strategy : str, dict or init_to_* function, default "uniform"
        Where the chains start (as for NUTS).
    max_energy_error : float, default 1000
        A trajectory whose energy error exceeds this is divergent.
    trajectory_criterion : {"snaper", "chees"}, default "snaper"
        What warmup maximises to set :math:`T`: SNAPER's criterion along the chains' leading
        principal direction (Sountsov & Hoffman 2022; long enough for the slowest direction),
        or the ChEES criterion over all coordinates (the 2021 paper; shorter trajectories,
        better when all directions mix alike). See :mod:`kernels.chees`.
    block_size : int, optional
        Chains per thread job (default: the chains split evenly over ``numba.get_num_threads()``
        threads). Never changes the draws.
    """

    def __init__(
        self,
        model: Callable[..., Any] | CompiledModelLike,
        step_size: float = 1.0,
        target_accept_prob: float = 0.651,
        learning_rate: float = 0.1,
        initial_trajectory_length: float | None = None,
        max_leapfrog_steps: int = 1000,
        adapt_step_size: bool = True,
        adapt_trajectory_length: bool = True,
        adapt_mass_matrix: bool = True,
        metric_fraction: float = 0.75,
        inverse_mass_matrix: np.ndarray | None = None,
        init_strategy: str | Mapping[str, Any] | Callable = "uniform",
        max_energy_error: float = 1000.0,
        block_size: int | None = None,
        trajectory_criterion: str = "snaper",
    ) -> None:
        # the options HMC shares (checked there, with their names)
        options = SamplerOptions(
            algorithm="hmc",
            num_steps=1,
            step_size=step_size,
            jitter=0.0,
            target_accept_prob=target_accept_prob,
            adapt_step_size=bool(adapt_step_size),
            adapt_mass_matrix=bool(adapt_mass_matrix),
            dense_mass=False,
            inverse_mass_matrix=inverse_mass_matrix,
            max_energy_error=max_energy_error,
        )
        super().__init__(model, options, init_strategy)
        for name, value in [("learning_rate", learning_rate),
                            ("initial_trajectory_length", initial_trajectory_length)]:
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"ChEES: {name} must be a positive finite number, got {value!r}")
        if int(max_leapfrog_steps) != max_leapfrog_steps or max_leapfrog_steps < 1:
            raise ValueError(f"ChEES: max_leapfrog_steps must be an integer >= 1, got "
                             f"{max_leapfrog_steps!r}")
        if not 0.0 <= metric_fraction <= 1.0:
            raise ValueError(f"ChEES: metric_fraction must be in [0, 1], got {metric_fraction!r}")
        if block_size is not None and (int(block_size) != block_size or block_size < 1):
            raise ValueError(f"ChEES: block_size must be a positive integer or None, got "
                             f"{block_size!r}")
        self.learning_rate = float(learning_rate)
        self.initial_trajectory_length = (None if initial_trajectory_length is None
                                          else float(initial_trajectory_length))
        self.max_leapfrog_steps = int(max_leapfrog_steps)
        self.adapt_trajectory_length = bool(adapt_trajectory_length)
        self.metric_fraction = float(metric_fraction)
        self.block_size = None if block_size is None else int(block_size)
        if trajectory_criterion not in ("snaper", "chees"):
            raise ValueError(f"ChEES: trajectory_criterion must be 'snaper' or 'chees', got "
                             f"{trajectory_criterion!r}")
        self.trajectory_criterion = trajectory_criterion

    #: :class:`inference.mcmc.MCMC` runs this kernel with :mod:`inference.many_chain`.
    many_chain = True
    #: Its state (counted by :mod:`inference.resources`): a row per chain, and the shared
    #: adaptation.
    chain_state_fields = CHEES_CHAIN_FIELDS
    shared_state_fields = CHEES_SHARED_FIELDS

    @property
    def algorithm(self) -> str:
        """``"chees"``."""
        return "chees"

    @property
    def max_tree_depth(self) -> None:
        """Static HMC builds no tree: ``None``."""
        return None

    def settings(self, num_warmup: int) -> ChEESSettings:
        """The numbers the compiled kernels read, for a run with ``num_warmup`` iterations."""
        o = self.options
        return ChEESSettings(
            int(num_warmup), float(o.target_accept_prob), self.learning_rate,
            self.max_leapfrog_steps, float(o.max_energy_error),
            int(self.metric_fraction * num_warmup), bool(o.adapt_step_size),
            self.adapt_trajectory_length, bool(o.adapt_mass_matrix),
            self.trajectory_criterion == "snaper", K.ACCEPT_DECAY, K.ACCEPT_FLOOR,
            K.STEP_SIZE_BIAS, K.ADAM_BETA1, K.ADAM_BETA2)

    def __repr__(self) -> str:
        o = self.options
        return (f"ChEES(step_size={o.step_size:g}, target_accept_prob={o.target_accept_prob:g}, "
                f"learning_rate={self.learning_rate:g}, "
                f"max_leapfrog_steps={self.max_leapfrog_steps})")


#: NumPyro-style alias.
ChEESHMC = ChEES
