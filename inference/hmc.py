r"""Static-trajectory Hamiltonian Monte Carlo as a user-facing kernel: :class:`HMC`.

A kernel object holds the *algorithm's options* (one :class:`kernels.options.SamplerOptions`,
checked when the kernel is made) and the model; it does not sample by itself.
:class:`inference.mcmc.MCMC` runs it: the compiled transition and the warmup live in
:mod:`kernels.hmc_transition`, :mod:`kernels.stan_adaptation`,
:mod:`kernels.fisher_adaptation` and :mod:`kernels.sampler`. :class:`HMC` and
:class:`inference.nuts.NUTS` share everything else through
:class:`inference.protocols.MCMCKernel`.

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
    :mod:`kernels.stan_adaptation`): after an initial buffer of 75 iterations, the (co)variance of
    the draws in windows of 25, 50, 100, ... iterations, shrunk toward :math:`10^{-3} I`,
    becomes the inverse metric at each window's end, where the step size is searched again and
    dual averaging restarts; the last 50 iterations tune the step size only.
``"fisher"``
    nutpie's adaptation (Seyboldt, Carlson & Carpenter 2026; :mod:`kernels.fisher_adaptation`):
    diagonal only, :math:`M^{-1}_{ii} = \sqrt{\mathrm{Var}[q_i] / \mathrm{Var}[\nabla_i
    \log\pi(q)]}` -- exact for Gaussians, and informative after a handful of draws because
    it uses the gradients too -- starting from :math:`1/|\nabla_i\log\pi(q_0)|`, recomputed
    after every warmup draw from the draws since the last-but-one *switch* (every 10 draws in
    the first 30% of warmup, then windows of 80, 120, 180, ... draws); the last 15% of warmup
    tune the step size only.
``"low_rank"``
    nutpie's ``low_rank_modified_mass_matrix`` (:mod:`kernels.low_rank_adaptation`): the same
    diagonal times a low-rank correction, :math:`M^{-1} = S(I + V(\Lambda - I)V^\top)S`, whose
    eigenpairs are those of the Fisher-optimal covariance of the scaled draws and gradients
    that lie outside :math:`(1/2, 2)` (at most ``low_rank_max_rank`` of them, those furthest
    from 1; ``NUTS`` takes these options, see :class:`kernels.options.SamplerOptions`); for
    posteriors with a few strongly correlated directions. Same schedule as ``"fisher"``; the
    metric is recomputed at each switch and every ``low_rank_update_freq`` (100) draws, the
    low-rank part from the latest ``low_rank_window`` draws (:math:`O(W^2 d)` per update,
    :math:`O(Wd)` memory per chain).

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

from inference.protocols import CompiledModelLike, MCMCKernel
from kernels.options import SamplerOptions

__all__ = ["HMC"]


class HMC(MCMCKernel):
    r"""Hamiltonian Monte Carlo with a static trajectory and Stan's warmup.

    Parameters
    ----------
    model : callable or CompiledModelLike
        A model function (compiled with ``ppl.model.compile_model(model, *args, **kwargs)``
        when :meth:`inference.mcmc.MCMC.run` is called with the model's arguments), or an
        already compiled model (see :class:`inference.protocols.CompiledModelLike`; the
        arguments of ``run`` are then ignored).
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
    mass_matrix_adaptation : {"stan", "fisher", "low_rank"}, optional
        How the mass matrix is estimated (module docstring): ``"stan"``, Stan's windowed
        variance, ``"fisher"``, nutpie's draw and gradient variances (diagonal only), or
        ``"low_rank"``, nutpie's diagonal plus low-rank metric. By default
        :data:`kernels.options.DEFAULT_MASS_MATRIX_ADAPTATION`.
    dense_mass : bool, default False
        Dense (full covariance) instead of diagonal mass matrix.
    inverse_mass_matrix : array, optional
        Initial inverse mass matrix: ``(dim,)`` diagonal or ``(dim, dim)`` dense. By default
        the identity, or with ``mass_matrix_adaptation="fisher"`` the inverse absolute
        gradient at the initial point.
    init_strategy : str, dict or init_to_* function, default "uniform"
        Where the chains start: an ``init_to_*`` strategy (``inference.init_to_median(
        num_samples=)``, ``init_to_sample``, ``init_to_feasible``, ``init_to_mean``,
        ``init_to_value(values=)``, ``init_to_uniform(radius=)``), the names ``"uniform"``,
        ``"median"``, ``"sample"``, ``"feasible"``, ``"mean"``, a dict of constrained initial
        values per site, or ``"pathfinder"``: each chain starts at its own draw of a
        Pathfinder run (:mod:`inference.pathfinder_vi`) seeded by the run's seed.
    max_energy_error : float, default 1000
        A transition whose energy error exceeds this is flagged divergent (Stan: 1000).

    Examples
    --------
    >>> kernel = HMC(lambda: None, num_steps=20, step_size=0.1)
    >>> options = kernel.sampler_options(num_warmup=500)
    >>> (options.algorithm, options.num_steps, options.jitter, kernel.step_size)
    ('hmc', 20, 0.2, 0.1)
    """

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
        init_strategy: str | Mapping[str, Any] | Callable = "uniform",
        max_energy_error: float = 1000.0,
        mass_matrix_adaptation: str | None = None,
    ) -> None:
        options = SamplerOptions(
            algorithm="hmc",
            num_steps=num_steps,
            trajectory_length=trajectory_length,
            step_size=step_size,
            jitter=jitter,
            target_accept_prob=target_accept_prob,
            adapt_step_size=bool(adapt_step_size),
            adapt_mass_matrix=bool(adapt_mass_matrix),
            dense_mass=bool(dense_mass),
            inverse_mass_matrix=inverse_mass_matrix,
            max_energy_error=max_energy_error,
            mass_matrix_adaptation=mass_matrix_adaptation,
        )
        super().__init__(model, options, init_strategy)

    @property
    def max_tree_depth(self) -> None:
        """Static HMC builds no tree: ``None``."""
        return None

    def __repr__(self) -> str:
        o = self.options
        steps = (f"num_steps={o.num_steps}" if o.num_steps is not None
                 else f"trajectory_length={o.trajectory_length:g}")
        return (
            f"HMC({steps}, step_size={o.step_size:g}, "
            f"target_accept_prob={o.target_accept_prob:g}, dense_mass={o.dense_mass}, "
            f"mass_matrix_adaptation={o.mass_matrix_adaptation!r})"
        )
