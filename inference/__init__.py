"""What users run: MCMC with NUTS/HMC kernels, diagnostics, ArviZ export, progress.

>>> from inference import MCMC, NUTS
>>> # mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=1000, num_chains=4)
>>> # mcmc.run(0, *model_args); mcmc.print_summary(); idata = mcmc.to_arviz()

Modules: :mod:`inference.protocols` (what a compiled model and a kernel are),
:mod:`inference.mcmc` (the :class:`MCMC` driver), :mod:`inference.nuts` and
:mod:`inference.hmc` (the kernels), :mod:`inference.pathfinder_vi` (Pathfinder variational
inference, also ``init_strategy="pathfinder"``), :mod:`inference.functional`
(``init``/``step`` for hand-written loops), :mod:`inference.results`,
:mod:`inference.arviz_export`, :mod:`inference.progress`, :mod:`inference.diagnostics`
(R-hat, ESS, MCSE, HDI, summary tables), :mod:`inference.resources` (the memory a run keeps,
checked before it starts) and :mod:`inference.termination` (SIGTERM keeps the draws).
Variational inference: :mod:`inference.svi` (:class:`SVI`), :mod:`inference.elbo` (the
objectives), :mod:`inference.optim` (the optimisers), :mod:`inference.variational` (model
and guide traced into one compiled ELBO gradient) and :mod:`inference.autoguide` (automatic
guides: ``AutoNormal``, ``AutoDelta``, ``AutoDiagonalNormal``, ``AutoMultivariateNormal``,
``AutoLowRankMultivariateNormal``, ``AutoLaplaceApproximation``).
"""

from inference import autoguide, diagnostics, functional, optim
from inference.autoguide import (
    AutoContinuous,
    AutoDelta,
    AutoDiagonalNormal,
    AutoGuide,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from inference.chees import ChEES, ChEESHMC
from inference.draw_store import open_store
from inference.elbo import RenyiELBO, Trace_ELBO, TraceMeanField_ELBO
from inference.hmc import HMC
from inference.mcmc import MCMC, SamplingWarning
from inference.nuts import NUTS
from inference.pathfinder_vi import PathfinderResult, pathfinder
from inference.predictive import Predictive
from inference.protocols import CompiledModelLike, MCMCKernel
from inference.resources import InsufficientMemoryError, MemoryUsageWarning
from inference.sbc import SBCResult, sbc
from inference.svi import SVI, NonFiniteLossError, SVIRunResult, SVIState
from ppl.initialization import (
    init_to_feasible,
    init_to_mean,
    init_to_median,
    init_to_sample,
    init_to_uniform,
    init_to_value,
)

__all__ = [
    "Predictive",
    "MCMC",
    "NUTS",
    "HMC",
    "ChEES",
    "ChEESHMC",
    "open_store",
    "pathfinder",
    "PathfinderResult",
    "CompiledModelLike",
    "MCMCKernel",
    "SamplingWarning",
    "InsufficientMemoryError",
    "MemoryUsageWarning",
    "diagnostics",
    "functional",
    "SVI",
    "SVIState",
    "SVIRunResult",
    "NonFiniteLossError",
    "Trace_ELBO",
    "TraceMeanField_ELBO",
    "RenyiELBO",
    "optim",
    "autoguide",
    "AutoGuide",
    "AutoContinuous",
    "AutoNormal",
    "AutoDelta",
    "AutoDiagonalNormal",
    "AutoMultivariateNormal",
    "AutoLowRankMultivariateNormal",
    "AutoLaplaceApproximation",
    "init_to_feasible",
    "init_to_mean",
    "init_to_median",
    "init_to_sample",
    "init_to_uniform",
    "init_to_value",
    "sbc",
    "SBCResult",
]
