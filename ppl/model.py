"""The bridge from a model function to the compiled log density that samplers consume.

``compile_model(model, *args, **kwargs)`` runs the model a fixed, small number of times in Python:

1. once under ``seed`` + ``trace`` with concrete values (the *prototype*): which sites are latent,
   their shapes and supports, the observed data (checked for NaN), the plates;
2. once under the staging interpreter, with the flat unconstrained vector ``theta`` and the data
   arrays as abstract graph inputs: every latent site takes the value
   ``biject_to(support)(theta[offset:offset+size])`` (the bijector is rebuilt from the site's
   support *during* the run, so bounds that depend on other sites are right), and the log
   density is the sum of the sites' scaled, masked log-probabilities plus the log-Jacobians.
   Reverse mode turns this into a graph ``(theta, *data) -> (logp, grad)``, which the Numba
   compiler makes a C-ABI function (``CompiledModel.logp_grad_address``);
3. once more, staged and batched with ``vmap``, for ``constrain`` (latent and deterministic
   sites) and ``log_likelihood`` (pointwise, per observed site); these run as vectorised NumPy
   over all draws at once.

Data enter as graph inputs, never as constants: a new data set of the same shapes reuses the
compiled code (``CompiledModel.with_data``).  Python scalars among the model's arguments are
static (part of the compiled code).
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff.codegen import compile_logp_grad
from autodiff.tree import tree_flatten, tree_unflatten
from ppl import handlers, runtime
from ppl.distributions.base import Unit
from ppl.enumeration import (
    EnumerateSites,
    enumerated_log_density,
    enumerated_sites,
    is_enumerated,
    marginal_site_log_prob,
)
from ppl.errors import ModelError, SiteError
from ppl.initialization import init_to_uniform, resolve_strategy, uniform_radius
from ppl.runtime import Message, Messenger, scan_sites
from ppl.transforms import biject_to

# --------------------------------------------------------------------------------------------
# Layout of the unconstrained vector
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteLayout:
    """Where one latent site lives in the flat unconstrained vector."""

    name: str
    offset: int
    size: int
    unconstrained_shape: tuple[int, ...]
    shape: tuple[int, ...]  # constrained value shape


@dataclass(frozen=True)
class ParamLayout:
    """Latent site -> slice of ``theta``, in model order."""

    sites: tuple[SiteLayout, ...]

    @property
    def dim(self) -> int:
        return sum(s.size for s in self.sites)

    def __getitem__(self, name: str) -> SiteLayout:
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(name)

    def names(self) -> list[str]:
        return [s.name for s in self.sites]


class _Unconstrained(Messenger):
    """Give every latent sample site the value ``biject_to(support)(theta slice)`` and collect
    the log-Jacobians (in the order of the layout)."""

    def __init__(self, fn, layout: ParamLayout, theta):
        super().__init__(fn)
        self.layout = {s.name: s for s in layout.sites}
        self.theta = theta
        self.log_jacobians: list = []

    def _value(self, msg: Message) -> tuple[Any, Any, Any] | None:
        if msg.type != "sample" or msg.is_observed or msg.name not in self.layout:
            return None
        site = self.layout[msg.name]
        u = anp.reshape(self.theta[site.offset : site.offset + site.size],
                        site.unconstrained_shape)
        transform = site_bijector(msg)
        return transform, u, transform(u)

    def process_message(self, msg: Message) -> None:
        if msg.type == "scan":  # ppl.scan asks for its sites' values (no Jacobian: it
            for stand_in in scan_sites(msg):  # is added when the stacked site is sent)
                found = self._value(stand_in)
                if found is not None:
                    stand_in.value = found[2]
            return
        found = self._value(msg)
        if found is None:
            return
        transform, u, value = found
        self.log_jacobians.append(anp.sum(transform.log_abs_det_jacobian(u, value)))
        msg.value = value
        msg.done = True


def site_bijector(msg: Message):
    """The bijector from the real line to the support of sample site ``msg`` (the error names
    the site when there is none)."""
    support = msg.fn.support
    try:
        return biject_to(support)
    except Exception as err:  # noqa: BLE001  (re-raised with the site's name)
        raise SiteError(msg.name, f"its support {support} has no bijector to the real line "
                        f"({err})", "reparameterise the site or give it a continuous support"
                        ) from err


# --------------------------------------------------------------------------------------------
# Arguments: data leaves vs static values
# --------------------------------------------------------------------------------------------


def _is_data(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind in "fiub"


class ModelArguments:
    """The model's arguments split into data arrays (graph inputs) and static values."""

    def __init__(self, model: Callable, args: tuple, kwargs: dict):
        self.model = model
        leaves, self.tree = tree_flatten((tuple(args), dict(kwargs)))
        leaves = [np.asarray(x) if isinstance(x, list) and _all_numbers(x) else x for x in leaves]
        self.leaves = leaves
        self.data_index = [i for i, x in enumerate(leaves) if _is_data(x)]
        self.names = _argument_names(model, args, kwargs, self.tree, len(leaves))

    @property
    def data(self) -> list[np.ndarray]:
        return [self.leaves[i] for i in self.data_index]

    def rebuild(self, data: list) -> tuple[tuple, dict]:
        leaves = list(self.leaves)
        for i, d in zip(self.data_index, data):
            leaves[i] = d
        args, kwargs = tree_unflatten(self.tree, leaves)
        return args, kwargs

    def data_names(self) -> list[str]:
        return [self.names[i] for i in self.data_index]


def _all_numbers(x: list) -> bool:
    try:
        return np.asarray(x).dtype.kind in "fiub"
    except (ValueError, TypeError):
        return False


def _argument_names(model, args, kwargs, tree, n_leaves) -> list[str]:
    """A readable name per leaf: the parameter name (with an index for nested leaves)."""
    try:
        bound = inspect.signature(model).bind_partial(*args, **kwargs)
        pairs = list(bound.arguments.items())
    except (TypeError, ValueError):
        pairs = [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    names = []
    for name, value in pairs:
        count = len(tree_flatten(value)[0])
        names += [name] if count == 1 else [f"{name}_{k}" for k in range(count)]
    return names if len(names) == n_leaves else [f"arg{i}" for i in range(n_leaves)]


# --------------------------------------------------------------------------------------------
# The compiled model
# --------------------------------------------------------------------------------------------


class CompiledModel:
    """A model compiled for sampling: the layout, the C-ABI ``logp_grad``, and the maps back.

    Attributes
    ----------
    dim : size of the unconstrained vector ``theta``.
    layout : :class:`ParamLayout`.
    logp_grad_address : address of ``int64 logp_grad(double* theta, double* grad,
        double* logp, void* data)``.
    data_pointer : the ``void* data`` to pass with it (this object keeps the memory alive); it
        includes the compiled function's workspace, so it serves one thread at a time: samplers
        running chains on threads take :meth:`data_pointers` (one per chain).
    logp_grad : the compiled function (:class:`autodiff.codegen.LogpGradKernel`).
    site_names, deterministic_names, observed_names : the model's sites by role.
    observed_data, constant_data : the data, by site name and by argument name.
    dims, coords : ArviZ dimension names per site (plates and event axes) and plate coordinates.
    """

    def __init__(self, model, arguments: ModelArguments, prototype, layout: ParamLayout, logp_grad):
        self.model = model
        self.arguments = arguments
        self.prototype = prototype
        self.layout = layout
        self.dim = layout.dim
        self.logp_grad = logp_grad
        self.data_pointer, self._keepalive = logp_grad.pack_data(arguments.data)
        self._chain_pointers: tuple[list[int], list[np.ndarray]] = ([], [])
        self._chain_pointers_lock = threading.Lock()
        self.logp_grad_address = logp_grad.address
        sites = list(prototype.values())
        self.site_names = layout.names()
        self.deterministic_names = [s.name for s in sites if s.type == "deterministic"]
        # data sites: observed sample sites, not ppl.factor terms (a Unit "observation" is no
        # data, and has no pointwise log-likelihood for LOO)
        data_sites = [s for s in sites if s.type == "sample" and s.is_observed
                      and not isinstance(s.fn, Unit)]
        self.observed_names = [s.name for s in data_sites]
        self.observed_data = {s.name: np.asarray(s.value) for s in data_sites}
        self.constant_data = {
            n: d for n, d in zip(arguments.data_names(), arguments.data)
            if not any(d is np.asarray(v) for v in self.observed_data.values())
        }
        self.dims, self.coords = site_dims_and_coords(sites)
        self._constrain_fn = None
        self._loglik_fn = None

    def data_pointers(self, n: int) -> list[int]:
        """``n`` data pointers for ``n`` threads evaluating at once (same data, one workspace
        each); kept alive by this object. Pointer ``k`` never changes once made, so a thread
        may keep using it while another asks for more."""
        with self._chain_pointers_lock:
            pointers, keepalive = self._chain_pointers
            if len(pointers) < n:
                more, more_alive = self.logp_grad.pack_data_for_chains(self.arguments.data,
                                                                        n - len(pointers))
                pointers, keepalive = pointers + more, keepalive + more_alive
                self._chain_pointers = (pointers, keepalive)
        return pointers[:n]

    # ---- densities ---------------------------------------------------------------------------
    def logp_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and gradient at ``theta`` through the compiled code."""
        return self.logp_grad(np.asarray(theta, dtype=float), *self.arguments.data)

    def logp_and_grad_numpy(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The same through the un-compiled NumPy path (for debugging)."""
        value, grad = autodiff.value_and_grad(self._logdensity)(
            np.asarray(theta, dtype=float), *self.arguments.data
        )
        return float(value), np.asarray(grad)

    def _logdensity(self, theta, *data):
        return _log_density(self.model, self.arguments, self.layout, theta, data)[0]

    # ---- constrained values ------------------------------------------------------------------
    def _site_values(self, theta, *data):
        _, tr = _log_density(self.model, self.arguments, self.layout, theta, data,
                             with_density=False)
        names = self.site_names + self.deterministic_names
        return [anp.astype(tr[n].value, float) if _is_float_like(tr[n].value) else tr[n].value
                for n in names]

    def constrain(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Every latent and deterministic site at each of ``draws`` (shape ``(..., dim)``)."""
        draws = np.asarray(draws, dtype=float)
        lead = draws.shape[:-1]
        flat = draws.reshape(-1, self.dim)
        fn = autodiff.vmap(self._site_values, in_axes=(0,) + (None,) * len(self.arguments.data))
        outs = fn(flat, *self.arguments.data)
        names = self.site_names + self.deterministic_names
        return {n: np.asarray(o).reshape(lead + np.shape(o)[1:]) for n, o in zip(names, outs)}

    def _pointwise(self, theta, *data):
        _, tr = _log_density(self.model, self.arguments, self.layout, theta, data,
                             with_density=False)
        if enumerated_sites(tr):
            return [marginal_site_log_prob(tr, n) for n in self.observed_names]
        return [runtime.site_log_prob(tr[n]) for n in self.observed_names]

    def log_likelihood(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Pointwise log-likelihood of each observed site at each of ``draws``."""
        draws = np.asarray(draws, dtype=float)
        lead = draws.shape[:-1]
        fn = autodiff.vmap(self._pointwise, in_axes=(0,) + (None,) * len(self.arguments.data))
        outs = fn(draws.reshape(-1, self.dim), *self.arguments.data)
        return {n: np.asarray(o).reshape(lead + np.shape(o)[1:])
                for n, o in zip(self.observed_names, outs)}

    def unconstrain(self, values: dict[str, Any]) -> np.ndarray:
        """The unconstrained vector for constrained site values (all latent sites needed)."""
        missing = [n for n in self.site_names if n not in values]
        if missing:
            raise ModelError(f"unconstrain: no value for the latent sites {missing}")
        substituted = handlers.substitute(self.model, data=dict(values), strict=False)
        tr = handlers.trace(handlers.seed(substituted, 0)).get_trace(
            *self.arguments.rebuild(self.arguments.data)[0],
            **self.arguments.rebuild(self.arguments.data)[1],
        )
        parts = []
        for site in self.layout.sites:
            msg = tr[site.name]
            u = site_bijector(msg).inverse(np.asarray(values[site.name], dtype=float))
            parts.append(np.reshape(np.asarray(u, dtype=float), -1))
        return np.concatenate(parts) if parts else np.zeros(0)

    # ---- initial points ----------------------------------------------------------------------
    def initial_points(self, rng: np.random.Generator, num_chains: int,
                       strategy: str | dict | Callable = "uniform") -> np.ndarray:
        """One finite starting point per chain.

        ``strategy``: an init strategy of :mod:`ppl.initialization` (``init_to_uniform``,
        the default, as Stan: uniform in (-2, 2) on the unconstrained scale;
        ``init_to_median(num_samples=)``, ``init_to_sample``, ``init_to_feasible``,
        ``init_to_mean``, ``init_to_value(values=)``), or the shorthands ``"uniform"``,
        ``"median"`` and a dict of constrained values (the other sites uniform). A point whose
        log density or gradient is not finite is drawn again, up to 100 times.
        """
        if isinstance(strategy, dict):
            unknown = set(strategy) - set(self.site_names)
            if unknown:
                raise ModelError(f"init values for {sorted(unknown)}, which are not latent sites; "
                                 f"the latent sites are {self.site_names}")
        choose = resolve_strategy(strategy)
        points = np.empty((num_chains, self.dim))
        for c in range(num_chains):
            points[c] = self._initial_point(rng, choose)
        return points

    def _initial_point(self, rng, choose) -> np.ndarray:
        theta = np.full(self.dim, np.nan)
        for _ in range(100):
            theta = self._strategy_point(rng, choose)
            lp, grad = self.logp_and_grad(theta)
            if np.isfinite(lp) and np.all(np.isfinite(grad)):
                return theta
        raise ModelError(
            "no initial point with a finite log density after 100 tries: "
            + self.diagnose(theta)
        )

    def _strategy_point(self, rng, choose) -> np.ndarray:
        """The unconstrained point where ``choose`` puts every latent site."""
        radius = uniform_radius(choose)
        if radius is not None:  # uniform on the unconstrained scale: drawn there directly
            return rng.uniform(-radius, radius, self.dim)
        args, kwargs = self.arguments.rebuild(self.arguments.data)
        placed = _FromStrategy(self.model, choose, rng)
        tr = handlers.trace(handlers.seed(placed, rng)).get_trace(*args, **kwargs)
        parts = []
        for site in self.layout.sites:
            msg = tr[site.name]
            u = site_bijector(msg).inverse(np.asarray(msg.value, dtype=float))
            parts.append(np.reshape(np.asarray(u, dtype=float), -1))
        return np.concatenate(parts) if parts else np.zeros(0)

    def diagnose(self, theta: np.ndarray) -> str:
        """Which sites make the log density at ``theta`` non-finite (a readable sentence)."""
        _, tr = _log_density(self.model, self.arguments, self.layout, np.asarray(theta, float),
                             self.arguments.data, with_density=False)
        bad = []
        for site in tr.values():
            if site.type != "sample":
                continue
            with np.errstate(all="ignore"):
                lp = np.asarray(runtime.site_log_prob(site), dtype=float)
            if not np.all(np.isfinite(lp)):
                kind = "NaN" if np.any(np.isnan(lp)) else "-inf"
                bad.append(f"site '{site.name}' has log density {kind}")
        if not bad:
            return "the log density or its gradient is not finite (no single site is)"
        return "; ".join(bad) + ". Check the supports and parameters of these sites, or pass " \
            "init values (init_strategy={...})"

    def with_data(self, *args, **kwargs) -> CompiledModel:
        """The same compiled code for a new data set of the same shapes and dtypes."""
        return compile_model(self.model, *args, **kwargs)

    def __repr__(self) -> str:
        return f"CompiledModel(dim={self.dim}, sites={self.site_names})"


def _is_float_like(x) -> bool:
    return np.issubdtype(autodiff.core.get_aval(x).dtype, np.floating)


def site_dims_and_coords(sites: list[Message]) -> tuple[dict, dict]:
    """ArviZ dimension names of each sample/deterministic site (plates name their axes, others
    are ``<site>_dim_<k>``) and the plates' coordinates."""
    dims, coords = {}, {}
    for s in sites:
        if s.type not in ("sample", "deterministic"):
            continue
        shape = np.shape(s.value)
        names = [f"{s.name}_dim_{k}" for k in range(len(shape))]
        for frame in s.cond_indep_stack:
            axis = len(shape) + frame.dim - (s.fn.event_dim if s.type == "sample" and s.fn else 0)
            if 0 <= axis < len(shape) and shape[axis] == frame.size:
                names[axis] = frame.name
                coords.setdefault(frame.name, np.arange(frame.size))
        dims[s.name] = names
    return dims, coords


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def _log_density(model, arguments: ModelArguments, layout: ParamLayout, theta, data,
                 with_density: bool = True):
    args, kwargs = arguments.rebuild(list(data))
    handler = _Unconstrained(model, layout, theta)
    tr = handlers.trace(handler).get_trace(*args, **kwargs)
    if not with_density:
        return None, tr
    if enumerated_sites(tr):  # discrete sites summed out exactly
        total = enumerated_log_density(tr)
    else:
        total = runtime.trace_log_density(tr)
    for lj in handler.log_jacobians:
        total = total + lj
    return total, tr


class _FromStrategy(Messenger):
    """Give each latent continuous site the value of an init strategy (``site -> constrained
    value``; the site's ``rng`` is the run's generator)."""

    def __init__(self, fn, choose: Callable, rng: np.random.Generator):
        super().__init__(fn)
        self.choose, self.rng = choose, rng

    def process_message(self, msg: Message) -> None:
        if msg.type == "scan":
            for stand_in in scan_sites(msg):
                self.process_message(stand_in)
            return
        if msg.type != "sample" or msg.is_observed or msg.value is not None or msg.fn.is_discrete:
            return
        msg.rng = msg.rng if msg.rng is not None else self.rng
        value = self.choose(msg)
        if value is None:
            value = init_to_uniform(msg)
        msg.value = np.asarray(value, dtype=float)
        msg.done = True


def _InitToUniform(fn, rng: np.random.Generator) -> _FromStrategy:  # noqa: N802 (a handler)
    """Each continuous latent site at ``init_to_uniform`` (NumPyro's default), so that the
    prototype run needs no draws from the prior: improper priors (``ImproperUniform``) have
    none."""
    return _FromStrategy(fn, init_to_uniform, rng)


def _prototype(model, arguments: ModelArguments, seed: int = 0):
    args, kwargs = arguments.rebuild(arguments.data)
    rng = np.random.default_rng(seed)
    return handlers.trace(handlers.seed(_InitToUniform(model, rng), seed)).get_trace(
        *args, **kwargs)


def build_layout(prototype) -> ParamLayout:
    """The layout of the latent sample sites of a prototype trace (with the errors users need);
    sites marked for enumeration are summed out, not parameters."""
    sites, offset = [], 0
    for msg in prototype.values():
        if msg.type != "sample" or msg.is_observed or is_enumerated(msg):
            continue
        if msg.fn.is_discrete:
            raise SiteError(
                msg.name,
                f"is a discrete latent variable ({type(msg.fn).__name__}) with infinite "
                "support, and gradient-based samplers (NUTS/HMC) need continuous parameters",
                "truncate it to finite support (then it is enumerated: summed out exactly), "
                "marginalise it out by hand with logsumexp, or observe it",
            )
        transform = site_bijector(msg)
        value = np.asarray(msg.value, dtype=float)
        u_shape = tuple(transform.inverse_shape(value.shape))
        size = int(np.prod(u_shape))
        sites.append(SiteLayout(msg.name, offset, size, u_shape, value.shape))
        offset += size
    return ParamLayout(tuple(sites))


class AutoEnumerationNotice(UserWarning):
    """A discrete latent site with finite support is summed out exactly (enumerated)."""


class EnumeratedModel:
    """``model`` with its discrete latent sites enumerated: those marked
    ``infer={"enumerate": "parallel"}`` and those named in ``auto`` (finite support, unmarked);
    each gets a dimension left of the model's ``max_plate_nesting`` plate dimensions."""

    def __init__(self, model: Callable, auto: tuple[str, ...], max_plate_nesting: int):
        self.model, self.auto = model, tuple(auto)
        self.max_plate_nesting = int(max_plate_nesting)
        functools.update_wrapper(self, model, updated=[])

    def _config(self, msg: Message) -> dict:
        return {"enumerate": "parallel"} if msg.name in self.auto else {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        configured = handlers.infer_config(self.model, config_fn=self._config) if self.auto \
            else self.model
        return EnumerateSites(configured, self.max_plate_nesting, self.auto)(*args, **kwargs)


def with_enumeration(model: Callable, prototype) -> Callable:
    """``model`` wrapped to enumerate its discrete latent sites, if it has any."""
    discrete = [m for m in prototype.values()
                if m.type == "sample" and not m.is_observed and m.fn.is_discrete]
    auto = tuple(m.name for m in discrete if not is_enumerated(m) and m.fn.has_enumerate_support)
    if not discrete or len(auto) + sum(is_enumerated(m) for m in discrete) < len(discrete):
        return model  # none, or one that cannot be enumerated (build_layout names it)
    if auto:
        warnings.warn(
            f"the discrete latent site{'s' if len(auto) > 1 else ''} {list(auto)} "
            f"{'are' if len(auto) > 1 else 'is'} summed out exactly (enumerated); mark "
            "them infer={'enumerate': 'parallel'} to say so and silence this notice",
            AutoEnumerationNotice, stacklevel=3)
    nesting = max((-f.dim for m in prototype.values() for f in m.cond_indep_stack), default=0)
    return EnumeratedModel(model, auto, nesting)


def compile_model(model: Callable, *args: Any, **kwargs: Any) -> CompiledModel:
    """Compile ``model(*args, **kwargs)`` into a :class:`CompiledModel`.

    >>> import numpy as np
    >>> import ppl
    >>> from ppl import dist
    >>> def model(y):
    ...     mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    ...     sigma = ppl.sample("sigma", dist.HalfNormal(5.0))
    ...     with ppl.plate("n", len(y)):
    ...         ppl.sample("y", dist.Normal(mu, sigma), obs=y)
    >>> cm = compile_model(model, np.array([1.0, 2.0, 3.0]))
    >>> cm.dim, cm.site_names
    (2, ['mu', 'sigma'])
    """
    model, arguments, prototype, layout, graph = _staged(model, args, kwargs)
    return CompiledModel(model, arguments, prototype, layout, compile_logp_grad(graph))


def log_density_graph(model: Callable, *args: Any, **kwargs: Any) -> autodiff.Graph:
    """The graph ``(theta, *data) -> (log p, grad)`` that :func:`compile_model` compiles (before
    its optimisation passes and the hoisting of data-only terms): for inspection and for
    comparing ways of compiling it."""
    return _staged(model, args, kwargs)[4]


def _staged(model: Callable, args: tuple, kwargs: dict):
    """``(model, arguments, prototype, layout, graph)``: the model (wrapped to enumerate its
    discrete sites if it has any), its arguments, prototype trace and layout, and its staged
    log density and gradient."""
    arguments = ModelArguments(model, args, kwargs)
    prototype = _prototype(model, arguments)
    if not isinstance(model, EnumeratedModel):
        enumerated = with_enumeration(model, prototype)
        if enumerated is not model:
            model = enumerated
            prototype = _prototype(model, arguments)
    layout = build_layout(prototype)
    if layout.dim == 0:
        raise ModelError("the model has no latent continuous sample sites to infer")
    theta0 = np.zeros(layout.dim)

    def logdensity(theta, *data):
        return _log_density(model, arguments, layout, theta, data)[0]

    graph = autodiff.make_graph(autodiff.value_and_grad(logdensity))(theta0, *arguments.data)
    return model, arguments, prototype, layout, graph
