r"""What :class:`~inference.mcmc.MCMC` needs, written down: the compiled-model protocol and the
sampler-kernel base class.

* :class:`CompiledModelLike` -- what the samplers read of a compiled model
  (``ppl.model.compile_model`` builds one; the tests also hand-write some). :func:`resolve_model`
  turns a model function into one.
* :class:`MCMCKernel` -- what ``MCMC`` asks of a kernel (NumPyro's name for the algorithm object
  it is given): its options as one :class:`kernels.options.SamplerOptions` record (NumPyro's
  names), its model, and how to start a chain. :class:`~inference.hmc.HMC` and
  :class:`~inference.nuts.NUTS` are the two kernels; ``MCMC`` knows only this class.

Every other module of :mod:`inference` imports this one, and it imports none of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from kernels.options import SamplerOptions
from kernels.state import CHAIN_STATE_FIELDS, Field

__all__ = ["CompiledModelLike", "MCMCKernel", "is_compiled_model", "resolve_model",
           "INIT_STRATEGIES"]

#: The names ``init_strategy`` accepts (besides a dict of constrained values per site and the
#: ``init_to_*`` functions of :mod:`ppl.initialization`).
INIT_STRATEGIES = ("uniform", "median", "sample", "feasible", "mean", "pathfinder")


@runtime_checkable
class CompiledModelLike(Protocol):
    """What the samplers need from a compiled model (``ppl.model.compile_model`` builds one).

    Attributes
    ----------
    dim : int
        Dimension of the unconstrained parameter vector :math:`\\theta`.
    logp_grad_address : int
        Address of a C-ABI function
        ``int64 logp_grad(double* theta, double* grad_out, double* logp_out, void* data)``
        computing :math:`\\log p(\\theta)` (up to a constant, Jacobians included) and its
        gradient; status 0 = success (see :mod:`kernels.model_abi`).
    data_pointer : int
        The ``void* data`` passed to it; the model object keeps that memory alive.  A model
        whose function writes through it (``compile_model``'s functions keep their workspace
        there) also has ``data_pointers(n) -> list[int]``: pointers for ``n`` chains evaluating
        at once, where pointer ``k`` never changes once made; without it all chains share
        ``data_pointer``.
    site_names : list of str
        Latent sites, in order.
    deterministic_names : list of str
        Deterministic sites.
    observed_data, constant_data : dict of str to ndarray
        Observed values per observed site; other data (covariates) by name.
    dims : dict of str to list of str
        Dimension names of each site's leading axes (from plates); may be empty.
    coords : dict of str to ndarray
        Coordinate values of named dimensions; may be empty.
    """

    dim: int
    logp_grad_address: int
    data_pointer: int
    site_names: list[str]
    deterministic_names: list[str]
    observed_data: dict[str, np.ndarray]
    constant_data: dict[str, np.ndarray]
    dims: dict[str, list[str]]
    coords: dict[str, np.ndarray]

    def logp_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and gradient at one unconstrained point (Python-callable)."""

    def constrain(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Unconstrained draws ``(..., dim)`` to every latent and deterministic site
        ``(..., *site_shape)``, vectorised over the leading axes."""

    def unconstrain(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Constrained values of the latent sites to one unconstrained vector ``(dim,)``."""

    def log_likelihood(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Pointwise log-likelihood per observed site, ``(..., *obs_shape)``."""

    def initial_points(
        self, rng: np.random.Generator, num_chains: int, strategy: str | dict = "uniform"
    ) -> np.ndarray:
        """``(num_chains, dim)`` unconstrained points with finite density ("uniform" on
        (-2, 2), "median", or a dict of constrained values); raises if none is found."""


_REQUIRED = ("dim", "logp_grad_address", "data_pointer", "constrain", "initial_points")


def is_compiled_model(obj: Any) -> bool:
    """True if ``obj`` looks like a compiled model (has the attributes samplers call)."""
    return all(hasattr(obj, name) for name in _REQUIRED)


def chain_data_pointers(model: CompiledModelLike, n: int) -> list[int]:
    """``n`` data pointers for ``n`` chains evaluating at once: ``model.data_pointers(n)`` when
    the model has it (its data tables hold a workspace, which threads must not share), else its
    one ``data_pointer`` for every chain."""
    if hasattr(model, "data_pointers"):
        return [int(p) for p in model.data_pointers(n)]
    return [int(model.data_pointer)] * n


def resolve_model(model: Any, args: tuple, kwargs: Mapping[str, Any]) -> CompiledModelLike:
    """A compiled model as is; a model function compiled with ``ppl.model.compile_model``."""
    if is_compiled_model(model):
        return model
    if not callable(model):
        raise TypeError(
            f"model must be a model function or a compiled model, got {type(model).__name__}"
        )
    try:
        from ppl.model import compile_model
    except ImportError as err:
        raise ImportError(
            f"cannot compile the model function {getattr(model, '__name__', model)!r}: "
            f"ppl.model.compile_model is not available ({err}). Pass an already compiled "
            f"model (an object with dim, logp_grad_address, data_pointer, constrain, ...) "
            f"to NUTS/HMC instead."
        ) from err
    return compile_model(model, *args, **kwargs)


class MCMCKernel:
    """A Markov chain kernel for :class:`~inference.mcmc.MCMC`: a model and its options.

    Subclasses (:class:`~inference.hmc.HMC`, :class:`~inference.nuts.NUTS`) set
    :attr:`options` and may read their options back as attributes of the same names
    (``kernel.target_accept_prob``, ``kernel.dense_mass``, ...).

    Attributes
    ----------
    model : callable or CompiledModelLike
        The model function (compiled at ``MCMC.run`` with the model's arguments) or a compiled
        model.
    options : kernels.options.SamplerOptions
        Every option of the algorithm, with NumPyro's names (``num_warmup`` is ``MCMC``'s).
    init_strategy : str or dict
        How chains start: ``"uniform"``, ``"median"`` or a dict (passed to the model's
        ``initial_points``), or ``"pathfinder"`` (a distinct Pathfinder draw per chain,
        :func:`inference.pathfinder_vi.pathfinder_initial_points`, seeded by the run's seed).
    """

    options: SamplerOptions
    #: The record tables of the state a run keeps besides its draws, which
    #: :mod:`inference.resources` counts: one row per chain, and one set of values shared by
    #: all chains (a many-chain kernel's adaptation).
    chain_state_fields: tuple[Field, ...] = CHAIN_STATE_FIELDS
    shared_state_fields: tuple[Field, ...] = ()

    def __init__(self, model: Callable[..., Any] | CompiledModelLike, options: SamplerOptions,
                 init_strategy: str | Mapping[str, Any] | Callable = "uniform") -> None:
        if model is None:
            raise TypeError(
                f"{type(self).__name__}(model=None): pass a model function or a compiled model"
            )
        if (isinstance(init_strategy, str) and init_strategy not in INIT_STRATEGIES) or not (
                isinstance(init_strategy, (str, Mapping)) or callable(init_strategy)):
            raise ValueError(
                f"init_strategy must be one of {list(INIT_STRATEGIES)}, a dict of initial "
                f"values or an init_to_* function (inference.init_to_median, ...), got "
                f"{init_strategy!r}"
            )
        self.model = model
        self.options = options
        self.init_strategy = init_strategy
        self._compiled_cache: tuple[tuple, CompiledModelLike] | None = None
        self._cached_args: tuple = ()

    def __getattr__(self, name: str) -> Any:
        # the options read back as attributes: kernel.target_accept_prob, kernel.step_size...
        options = self.__dict__.get("options")
        if options is not None and name in type(options).__dataclass_fields__:
            return getattr(options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def algorithm(self) -> str:
        """``"nuts"`` or ``"hmc"``."""
        return self.options.algorithm

    def sampler_options(self, num_warmup: int) -> SamplerOptions:
        """The options of a run with ``num_warmup`` warmup iterations."""
        return self.options.replace(num_warmup=int(num_warmup))

    def sampler_config(self, num_warmup: int) -> SamplerOptions:
        """Deprecated name of :meth:`sampler_options`."""
        warnings.warn("sampler_config() is deprecated: use sampler_options()",
                      DeprecationWarning, stacklevel=2)
        return self.sampler_options(num_warmup)

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
