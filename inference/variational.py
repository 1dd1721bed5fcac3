r"""Model and guide traced together into one compiled ELBO gradient (the engine under ``SVI``).

:func:`compile_elbo` runs the guide and the model a fixed, small number of times in Python:

1. the *prototype* (concrete, under ``seed``): the guide draws its latent values and the model
   runs on them (``replay``); this finds the ``param`` sites (their initial values and
   constraints, checked), how much noise each guide site consumes, which guide sites have no
   reparameterised sampler, the subsampled plates, and the mismatches users make (a guide site
   the model lacks, a model latent site the guide lacks, different shapes), each an error
   naming the site;
2. once *staged*: the variational parameters are one flat unconstrained vector :math:`\phi`
   (each ``param`` site is ``biject_to(constraint)`` of its slice); the guide's draws are made
   from a block of standard normal noise that enters as data (:class:`NoiseSource`: the
   distributions' own reparameterised samplers, handed normals instead of a random generator),
   the subsampled plates' indices too. The particles are vectorised with ``vmap`` over the
   noise, the loss (:mod:`inference.elbo`) combines them, reverse mode gives the gradient, and
   the graph is compiled exactly like a model's log density
   (:func:`autodiff.codegen.compile_logp_grad`): a C function ``elbo_grad(phi, grad, elbo,
   data)`` whose data table holds the noise, the baseline, the plate indices and the model's
   data.

The compiled loop of :mod:`kernels.svi_loop` refills the noise and indices in place before each
call, so a step is one compiled call with no Python in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff.codegen import compile_logp_grad
from autodiff.scipy import special as sp
from inference.elbo import ELBO, check_score_function_support
from ppl import handlers
from ppl.errors import ModelError, SiteError
from ppl.model import ModelArguments, SiteLayout
from ppl.runtime import Message, Messenger, site_log_prob
from ppl.transforms import biject_to

__all__ = ["CompiledELBO", "NoiseSource", "compile_elbo", "initial_phi"]


# --------------------------------------------------------------------------------------------
# Noise: the guide's randomness as data
# --------------------------------------------------------------------------------------------


class NoiseSource:
    r"""Stands in for a ``numpy.random.Generator`` in the guide's reparameterised samplers.

    Every variate is a function of standard normals taken in order from ``noise`` (a traced
    array when staging): a uniform is :math:`\Phi(\varepsilon)`, an exponential
    :math:`-\log \Phi(-\varepsilon)`, and the Laplace, logistic, Gumbel and Cauchy variates are
    their inverse cdfs at that uniform, all written with differentiable operations. With
    ``noise=None`` it draws the normals from ``rng`` (the prototype run) and counts them.
    """

    def __init__(self, noise: Any = None, rng: np.random.Generator | None = None):
        self.noise = noise
        self.rng = rng
        self.used = 0

    def _normals(self, size: Any) -> Any:
        shape = () if size is None else ((size,) if np.ndim(size) == 0 else tuple(size))
        count = math.prod(shape)
        if self.noise is None:
            self.used += count
            return self.rng.standard_normal(shape)
        if self.used + count > anp.shape(self.noise)[0]:
            raise ModelError(
                "the guide drew more random numbers than in its first run: its sites must not "
                "change from run to run (no Python branching on drawn values)")
        block = anp.reshape(self.noise[self.used:self.used + count], shape)
        self.used += count
        return block

    def standard_normal(self, size: Any = None) -> Any:
        return self._normals(size)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        return loc + scale * self._normals(size)

    def random(self, size: Any = None) -> Any:
        return sp.ndtr(self._normals(size))

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        return low + (high - low) * self.random(size)

    def standard_exponential(self, size: Any = None) -> Any:
        return -sp.log_ndtr(-self._normals(size))  # -log(1 - u), exact in the upper tail

    def exponential(self, scale: Any = 1.0, size: Any = None) -> Any:
        return scale * self.standard_exponential(size)

    def standard_cauchy(self, size: Any = None) -> Any:
        return anp.tan(np.pi * (self.random(size) - 0.5))

    def laplace(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        return loc + scale * _laplace_from_normal(self._normals(size))

    def logistic(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        z = self._normals(size)
        return loc + scale * (sp.log_ndtr(z) - sp.log_ndtr(-z))  # log(u / (1 - u))

    def gumbel(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        return loc - scale * anp.log(-sp.log_ndtr(self._normals(size)))  # -log(-log u)

    def __getattr__(self, name: str) -> Any:
        raise _NotReparameterisable(name)


def _laplace_from_normal(z: Any) -> Any:
    """The standard Laplace variate at ``u = Phi(z)``: ``-sign(u - 1/2) log(1 - 2|u - 1/2|)``,
    written as ``sign(z) (-log 2 - log Phi(-|z|))`` since ``1 - 2|u - 1/2| = 2 Phi(-|z|)``."""
    return anp.sign(z) * (-np.log(2.0) - sp.log_ndtr(-anp.abs(z)))


class _NotReparameterisable(Exception):
    """A sampler asked the noise source for a variate it cannot make from normals."""


# --------------------------------------------------------------------------------------------
# Handlers of the staged run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamSite:
    """Where one ``param`` site lives in the flat unconstrained vector ``phi``."""

    layout: SiteLayout
    constraint: Any

    @property
    def name(self) -> str:
        return self.layout.name

    def value(self, phi: Any) -> Any:
        """The constrained value from ``phi``."""
        s = self.layout
        u = anp.reshape(phi[s.offset:s.offset + s.size], s.unconstrained_shape)
        return biject_to(self.constraint)(u)


class _Params(Messenger):
    """Give every known ``param`` site its value from ``phi``."""

    def __init__(self, fn, params: dict[str, ParamSite], phi):
        super().__init__(fn)
        self.params, self.phi = params, phi

    def on_param(self, msg: Message) -> None:
        site = self.params.get(msg.name)
        if site is not None:
            msg.value = site.value(self.phi)
            msg.done = True


class _Plates(Messenger):
    """Give subsampled plates their indices: drawn by ``rng`` (the prototype) or sliced from the
    step's index buffer (staged); a plate met again (in the model after the guide) keeps the
    indices it got first."""

    def __init__(self, fn, indices: Any = None, rng: np.random.Generator | None = None):
        super().__init__(fn)
        self.indices, self.rng = indices, rng
        self.plates: dict[str, tuple[int, int, Any]] = {}
        self.used = 0

    def on_plate(self, msg: Message) -> None:
        size, subsample_size = msg.args
        if subsample_size == size or msg.value is not None:
            return
        known = self.plates.get(msg.name)
        if known is None:
            if self.indices is None:
                value = self.rng.choice(size, size=subsample_size, replace=False)
            else:
                value = self.indices[self.used:self.used + subsample_size]
            self.used += subsample_size
            known = self.plates[msg.name] = (size, subsample_size, value)
        msg.value = known[2]


class _GuideDraws(Messenger):
    """Draw the guide's latent sites from the noise source.

    A site with a reparameterised sampler takes ``fn.rsample`` on the noise; any other is drawn
    from a uniform by its inverse cdf (``Bernoulli``, ``Categorical`` and distributions with an
    ``icdf``) with its value cut off from the gradient, and is listed in ``score_sites``.
    """

    def __init__(self, fn, source: NoiseSource):
        super().__init__(fn)
        self.source = source
        self.score_sites: list[str] = []
        self.noise_used: dict[str, int] = {}

    def on_sample(self, msg: Message) -> None:
        if msg.is_observed or msg.value is not None:
            return
        shape = msg.fn.shape(msg.kwargs.get("sample_shape", ()))
        before = self.source.used
        value = None
        if msg.fn.has_rsample:
            try:
                value = msg.fn._rsample(self.source, shape)
            except _NotReparameterisable:
                self.source.used = before
        if value is None:
            value = anp.stop_gradient(_inverse_cdf_draw(msg, self.source.random(shape)))
            self.score_sites.append(msg.name)
        self.noise_used[msg.name] = self.source.used - before
        msg.value = value
        msg.done = True


def _inverse_cdf_draw(msg: Message, u: Any) -> Any:
    """A draw of ``msg.fn`` at uniform ``u`` by its inverse cdf."""
    fn = msg.fn
    base = fn
    while hasattr(base, "base_dist") and not hasattr(base, "probs"):
        base = base.base_dist
    name = type(base).__name__
    if name.startswith("Bernoulli"):
        return anp.astype(u < fn.probs, np.int64) if anp.ndim(u) == anp.ndim(fn.probs) \
            else anp.astype(u < anp.broadcast_to(fn.probs, anp.shape(u)), np.int64)
    if name.startswith("Categorical"):
        cdf = anp.cumsum(anp.broadcast_to(fn.probs, tuple(anp.shape(u)) + fn.probs.shape[-1:]),
                         axis=-1)
        below = anp.astype(anp.expand_dims(u, -1) > cdf[..., :-1], np.int64)
        return anp.sum(below, axis=-1)
    try:
        return fn.icdf(u)
    except NotImplementedError:
        raise SiteError(
            msg.name,
            f"its guide distribution {type(fn).__name__} has neither a reparameterised sampler "
            "nor an inverse cdf, so SVI cannot draw it inside the compiled step",
            "use a reparameterisable guide distribution (e.g. a Normal pushed through a "
            "transform, or an autoguide)",
        ) from None


# --------------------------------------------------------------------------------------------
# The prototype: sites, params, noise, plates, checks
# --------------------------------------------------------------------------------------------


@dataclass
class Prototype:
    guide_trace: dict
    model_trace: dict
    params: dict[str, ParamSite]
    init_phi: np.ndarray
    noise_size: int  # per particle
    score_sites: list[str]
    plates: list[tuple[str, int, int]]  # (name, size, subsample size), in drawing order


def _is_auxiliary(site: Message) -> bool:
    return bool(site.infer.get("is_auxiliary", False))


def _prototype(model, guide, arguments: ModelArguments, seed: int,
               init_params: dict[str, Any] | None) -> Prototype:
    args, kwargs = arguments.rebuild(arguments.data)
    rng = np.random.default_rng(seed)
    source = NoiseSource(rng=rng)
    draws = _GuideDraws(guide, source)
    plates = _Plates(draws, rng=rng)
    substituted = handlers.substitute(plates, data=dict(init_params or {}), strict=False) \
        if init_params else plates
    guide_trace = handlers.trace(handlers.seed(substituted, seed)).get_trace(*args, **kwargs)
    model_alone = handlers.trace(handlers.seed(model, seed + 1)).get_trace(*args, **kwargs)
    _check_sites(guide_trace, model_alone)
    replayed = handlers.replay(_Plates(model, rng=rng), trace=guide_trace)
    replayed_plates = replayed.fn
    replayed_plates.plates = dict(plates.plates)
    if init_params:
        replayed = handlers.substitute(replayed, data=dict(init_params), strict=False)
    model_trace = handlers.trace(handlers.seed(replayed, seed + 2)).get_trace(*args, **kwargs)
    params = _param_layout(guide_trace, model_trace)
    phi = np.zeros(sum(p.layout.size for p in params.values()))
    for p in params.values():
        site = guide_trace.get(p.name) or model_trace[p.name]
        u = biject_to(p.constraint).inverse(np.asarray(site.value, dtype=float))
        phi[p.layout.offset:p.layout.offset + p.layout.size] = np.reshape(u, -1)
    plate_list = [(name, size, sub) for name, (size, sub, _) in replayed_plates.plates.items()]
    return Prototype(guide_trace, model_trace, params, phi, source.used, draws.score_sites,
                     plate_list)


def _check_sites(guide_trace: dict, model_trace: dict) -> None:
    """The guide's latent sites and the model's must match, by name and shape."""
    for name, q in guide_trace.items():
        if q.type != "sample" or q.is_observed or _is_auxiliary(q):
            continue
        p = model_trace.get(name)
        if p is None or p.type != "sample":
            raise SiteError(
                name,
                "is sampled by the guide but the model has no sample site of that name",
                f"rename it to one of the model's latent sites {_latent_names(model_trace)}, "
                "or mark it infer={'is_auxiliary': True} if it is a helper of the guide",
            )
        if p.is_observed:
            raise SiteError(name, "is sampled by the guide but observed in the model",
                            "remove it from the guide: observed sites are data")
        q_shape, p_shape = tuple(np.shape(q.value)), tuple(np.shape(p.value))
        if q_shape != p_shape:
            raise SiteError(
                name,
                f"has shape {q_shape} in the guide but {p_shape} in the model",
                "give the guide's distribution the model's batch and event shape (the same "
                "plates, or .to_event / .expand)",
            )
    for name, p in model_trace.items():
        if p.type == "sample" and not p.is_observed and name not in guide_trace:
            raise SiteError(
                name,
                "is a latent site of the model that the guide does not sample",
                "add it to the guide (ppl.sample with the same name), or use an autoguide",
            )


def _latent_names(trace: dict) -> list[str]:
    return [n for n, s in trace.items() if s.type == "sample" and not s.is_observed]


def _param_layout(*traces: dict) -> dict[str, ParamSite]:
    params: dict[str, ParamSite] = {}
    offset = 0
    for trace in traces:
        for name, site in trace.items():
            if site.type != "param" or name in params:
                continue
            constraint = site.kwargs.get("constraint")
            value = site.value
            if value is None:
                raise SiteError(name, "param has no init_value",
                                "give ppl.param an init_value (an array or rng -> array)")
            value = np.asarray(value, dtype=float)
            ok = np.asarray(constraint.check(value))
            if not np.all(ok):
                bad = np.argwhere(~np.broadcast_to(ok, value.shape))
                where = f" at index {tuple(int(i) for i in bad[0])}" if value.ndim and len(bad) \
                    else ""
                raise SiteError(
                    name,
                    f"param init_value {value if value.size < 6 else value.shape} violates its "
                    f"constraint {constraint}{where}",
                    "give an init_value inside the constraint",
                )
            transform = biject_to(constraint)
            u_shape = tuple(transform.inverse_shape(value.shape))
            size = math.prod(u_shape)
            params[name] = ParamSite(SiteLayout(name, offset, size, u_shape, value.shape),
                                     constraint)
            offset += size
    return params


# --------------------------------------------------------------------------------------------
# The staged ELBO and its compiled gradient
# --------------------------------------------------------------------------------------------


@dataclass
class ParticleRun:
    """One particle's traces (kept by the eager evaluation, for diagnosis)."""

    guide_trace: dict
    model_trace: dict
    elbo: Any
    score_log_q: Any


class CompiledELBO:
    """The ELBO of ``model`` and ``guide`` compiled for one set of argument shapes.

    Attributes: ``params`` (name -> :class:`ParamSite`, in ``phi`` order), ``dim`` (size of
    ``phi``), ``init_phi``, ``noise`` (the noise buffer, ``num_particles * noise_size``),
    ``baseline`` (one double), ``subsample`` (int64 plate indices) and
    ``subsample_sizes`` ((plates, 2): size and subsample size), ``kernel`` (the compiled
    ``elbo_grad``), ``score_sites``.
    """

    def __init__(self, model, guide, loss: ELBO, arguments: ModelArguments, proto: Prototype):
        self.model, self.guide, self.loss = model, guide, loss
        self.arguments = arguments
        self.prototype = proto
        self.params = proto.params
        self.dim = int(proto.init_phi.shape[0])
        self.init_phi = proto.init_phi
        self.noise_size = proto.noise_size
        self.score_sites = list(proto.score_sites)
        self.plates = proto.plates
        self.noise = np.zeros(loss.num_particles * self.noise_size)
        self.baseline = np.zeros(1)
        self.subsample = np.zeros(sum(sub for _, _, sub in self.plates), dtype=np.int64)
        self.subsample_sizes = np.array([[size, sub] for _, size, sub in self.plates],
                                        dtype=np.int64).reshape(-1, 2)
        self.scratch = np.zeros(max([size for _, size, _ in self.plates] or [0]),
                                dtype=np.int64)
        graph = autodiff.make_graph(autodiff.value_and_grad(self.objective))(
            self.init_phi, self.noise, self.baseline, self.subsample, *arguments.data)
        # the step loop refills noise, baseline and plate indices in place: nothing computed
        # from them may be hoisted out of the kernel (the model's data may)
        self.kernel = compile_logp_grad(graph, refilled=(0, 1, 2))

    # ---- the ELBO as a function of phi and the step's randomness ---------------------------
    def run_particle(self, phi, noise, subsample, data) -> ParticleRun:
        """The guide and the model of one particle (``noise``: that particle's normals)."""
        args, kwargs = self.arguments.rebuild(list(data))
        source = NoiseSource(noise)
        draws = _GuideDraws(_Params(self.guide, self.params, phi), source)
        plates = _Plates(draws, indices=subsample)
        guide_trace = handlers.trace(plates).get_trace(*args, **kwargs)
        model_plates = _Plates(_Params(self.model, self.params, phi), indices=subsample)
        model_plates.plates = plates.plates
        model_trace = handlers.trace(handlers.replay(model_plates, trace=guide_trace)).get_trace(
            *args, **kwargs)
        elbo = self.loss.particle_terms(model_trace, guide_trace)
        score = 0.0
        for name in draws.score_sites:
            score = score + anp.sum(site_log_prob(guide_trace[name]))
        return ParticleRun(guide_trace, model_trace, elbo, score)

    def objective(self, phi, noise, baseline, subsample, *data):
        """The loss's objective (value: the ELBO estimate) over all particles."""
        particles = self.loss.num_particles
        per_particle = anp.reshape(noise, (particles, self.noise_size))

        def terms(eps):
            run = self.run_particle(phi, eps, subsample, data)
            return run.elbo, run.score_log_q

        if particles == 1:
            elbo, score = terms(per_particle[0])
            elbos, scores = anp.reshape(elbo, (1,)), anp.reshape(score, (1,))
        else:
            elbos, scores = autodiff.vmap(terms)(per_particle)
        return self.loss.combine(elbos, scores, baseline[0])

    # ---- eager helpers ------------------------------------------------------------------------
    def constrained_params(self, phi: np.ndarray) -> dict[str, np.ndarray]:
        """Every param site's constrained value at ``phi``."""
        return {name: np.asarray(site.value(np.asarray(phi, dtype=float)))
                for name, site in self.params.items()}

    def diagnose(self, phi: np.ndarray, data: list) -> str:
        """Which params or sites are not finite at ``phi`` with the noise now in the buffer."""
        problems = []
        with np.errstate(all="ignore"):
            for name, value in self.constrained_params(phi).items():
                if not np.all(np.isfinite(value)):
                    problems.append(f"param '{name}' is {_describe(value)}")
            per_particle = self.noise.reshape(self.loss.num_particles, self.noise_size)
            try:
                run = self.run_particle(np.asarray(phi, float), per_particle[0], self.subsample,
                                        data)
            except Exception as err:  # noqa: BLE001  (the diagnosis must not hide the error)
                problems.append(f"evaluating the guide and model raised {err!r}")
                run = None
            if run is not None:
                for where, trace in (("guide", run.guide_trace), ("model", run.model_trace)):
                    for site in trace.values():
                        if site.type != "sample":
                            continue
                        value = np.asarray(site.value, dtype=float)
                        if not np.all(np.isfinite(value)):
                            problems.append(f"{where} site '{site.name}' has value "
                                            f"{_describe(value)}")
                            continue
                        lp = np.asarray(site_log_prob(site), dtype=float)
                        if not np.all(np.isfinite(lp)):
                            problems.append(f"{where} site '{site.name}' has log density "
                                            f"{_describe(lp)}")
        return "; ".join(problems) if problems else \
            "no single param or site is non-finite (an intermediate of the gradient is)"


def _describe(x: np.ndarray) -> str:
    x = np.asarray(x)
    if np.any(np.isnan(x)):
        return "NaN"
    return "+inf" if np.any(x == np.inf) else "-inf"


def initial_phi(compiled: CompiledELBO, seed: int, init_params: dict[str, Any]) -> np.ndarray:
    """The unconstrained starting params with ``init_params`` (constrained values by param
    name) in place of their ``init_value`` (checked against their constraints): a prototype run,
    no new compile."""
    unknown = sorted(set(init_params) - set(compiled.params) - _sample_names(compiled))
    if unknown:
        raise SiteError(unknown[0], "is in init_params but is not a param of the guide or the "
                        "model", f"the params are {sorted(compiled.params)}")
    proto = _prototype(compiled.model, compiled.guide, compiled.arguments, seed, init_params)
    return proto.init_phi


def _sample_names(compiled: CompiledELBO) -> set[str]:
    return {n for tr in (compiled.prototype.guide_trace, compiled.prototype.model_trace)
            for n, s in tr.items() if s.type == "sample"}


def compile_elbo(model, guide, loss: ELBO, args: tuple, kwargs: dict, seed: int = 0,
                 init_params: dict[str, Any] | None = None) -> CompiledELBO:
    """Trace ``model`` and ``guide`` at ``args``/``kwargs`` and compile the ELBO's gradient."""
    if not isinstance(loss, ELBO):
        raise TypeError(f"SVI: loss must be an ELBO such as Trace_ELBO(), got {loss!r}")
    arguments = ModelArguments(model, args, kwargs)
    proto = _prototype(model, guide, arguments, seed, init_params)
    check_score_function_support(loss, proto.score_sites)
    return CompiledELBO(model, guide, loss, arguments, proto)
