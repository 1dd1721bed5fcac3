r"""Stochastic variational inference: ``SVI(model, guide, optim, loss)``, NumPyro's API, compiled.

The guide :math:`q_\phi` (a function calling ``ppl.param`` and ``ppl.sample``, or an autoguide)
is fitted by maximising the ELBO (:mod:`inference.elbo`) over its parameters :math:`\phi` with
stochastic gradients. ``model`` and ``guide`` are traced together once per set of argument
shapes and their ELBO gradient compiled (:mod:`inference.variational`); :meth:`SVI.run` then
runs the whole loop of steps -- noise, gradient, optimiser update -- in compiled code
(:mod:`kernels.svi_loop`), in chunks between which the progress bar shows the running loss.

>>> import numpy as np
>>> import ppl
>>> from ppl import constraints, dist
>>> from inference import SVI, Trace_ELBO, optim
>>> def model(y):
...     mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
...     with ppl.plate("n", len(y)):
...         ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
>>> def guide(y):
...     loc = ppl.param("loc", 0.0)
...     scale = ppl.param("scale", 1.0, constraint=constraints.positive)
...     ppl.sample("mu", dist.Normal(loc, scale))
>>> y = np.array([0.5, 1.5, 1.0, 2.0])
>>> svi = SVI(model, guide, optim.Adam(0.05), Trace_ELBO(num_particles=8))
>>> result = svi.run(0, 3000, y, progress_bar=False)
>>> exact_mean = y.sum() / (len(y) + 1e-2)   # conjugate posterior mean
>>> bool(abs(result.params["loc"] - exact_mean) < 0.05)
True

Same seed, same result: the noise comes from the run's own stream (:mod:`kernels.rng`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from inference import optim as optimizers
from inference.elbo import ELBO
from inference.progress import progress_enabled
from inference.variational import CompiledELBO, compile_elbo, initial_phi
from kernels import model_abi, rng
from kernels.optimizers import STATE_ROWS
from kernels.precompile import background_compile
from kernels.status import MODEL_OK
from kernels.svi_loop import svi_steps
from ppl.model import ModelArguments

__all__ = ["SVI", "SVIRunResult", "SVIState", "NonFiniteLossError"]


@dataclass(frozen=True)
class SVIState:
    """Where an SVI run stands: the unconstrained parameters, the optimiser's state, the
    random stream, the score-function baseline and the number of updates made."""

    phi: np.ndarray
    optim_state: np.ndarray
    rng_state: np.ndarray
    baseline: float
    step: int


@dataclass
class SVIRunResult:
    """What :meth:`SVI.run` returns: ``params`` (constrained, by name), ``state`` and ``losses``
    (one per step)."""

    params: dict[str, np.ndarray]
    state: SVIState
    losses: np.ndarray


class NonFiniteLossError(FloatingPointError):
    """The loss or its gradient became NaN/inf at ``step``; ``state`` and ``params`` are the
    last finite ones (before that step's update)."""

    def __init__(self, message: str, step: int, state: SVIState, params: dict[str, np.ndarray]):
        super().__init__(message)
        self.step, self.state, self.params = step, state, params


class SVI:
    """Stochastic variational inference (NumPyro's ``numpyro.infer.SVI``).

    Parameters
    ----------
    model : the model function.
    guide : the variational family: a function of the model's arguments that calls
        ``ppl.param(name, init_value, constraint=...)`` and ``ppl.sample`` for every latent site
        of the model, or an autoguide (:mod:`inference.autoguide`).
    optim : an optimiser of :mod:`inference.optim` (e.g. ``optim.Adam(0.01)``).
    loss : an ELBO (:class:`~inference.elbo.Trace_ELBO`, ...).
    **static_kwargs : keyword arguments passed to model and guide at every step.
    """

    def __init__(self, model: Callable, guide: Callable, optim: Any, loss: ELBO,
                 **static_kwargs: Any):
        if not isinstance(optim, (optimizers.Optimizer, optimizers.Minimize)):
            raise TypeError(f"SVI: optim must be an optimiser of inference.optim (e.g. "
                            f"optim.Adam(0.01)), got {optim!r}")
        if not isinstance(loss, ELBO):
            raise TypeError(f"SVI: loss must be an ELBO such as Trace_ELBO(), got {loss!r}")
        self.model, self.guide, self.optim, self.loss = model, guide, optim, loss
        self.static_kwargs = static_kwargs
        self._compiled: dict[Any, CompiledELBO] = {}
        self._last: CompiledELBO | None = None

    # ---- the compiled ELBO for given arguments ---------------------------------------------
    def _elbo(self, args: tuple, kwargs: dict, seed: int = 0
              ) -> tuple[CompiledELBO, list[np.ndarray]]:
        kwargs = {**self.static_kwargs, **kwargs}
        key = _signature(args, kwargs)
        compiled = self._compiled.get(key)
        if compiled is None:
            # the first run in a machine compiles the step loop too: on the other core
            with background_compile(("svi_steps",)):
                compiled = compile_elbo(self.model, self.guide, self.loss, args, kwargs, seed)
            self._compiled[key] = compiled
        self._last = compiled
        data = ModelArguments(self.model, args, kwargs).data
        return compiled, data

    def _pointer(self, compiled: CompiledELBO, data: list[np.ndarray]) -> tuple[int, list]:
        buffers = [compiled.noise, compiled.baseline, compiled.subsample]
        return compiled.kernel.pack_data(buffers + list(data))

    # ---- NumPyro's functional interface --------------------------------------------------------
    def init(self, seed: int, *args: Any, init_params: dict[str, Any] | None = None,
             **kwargs: Any) -> SVIState:
        """The initial state: params from their ``init_value`` (or ``init_params``, constrained
        values by name), a fresh optimiser and the stream of ``seed``."""
        seed = _check_seed(seed)
        compiled, data = self._elbo(args, kwargs, seed)
        phi = initial_phi(compiled, seed, init_params) if init_params else compiled.init_phi.copy()
        stream = rng.seed_streams(seed, 1)[0]
        state = SVIState(phi, np.zeros((STATE_ROWS, compiled.dim)), stream, 0.0, 0)
        if compiled.score_sites:  # start the baseline at the first ELBO estimate
            loss = self._loss_at(compiled, data, state)
            state = replace(state, baseline=-loss if np.isfinite(loss) else 0.0)
        return state

    def get_params(self, state: SVIState) -> dict[str, np.ndarray]:
        """The constrained values of the param sites."""
        if self._last is None:
            raise RuntimeError("SVI.get_params: call init or run first")
        return self._last.constrained_params(state.phi)

    def update(self, state: SVIState, *args: Any, **kwargs: Any) -> tuple[SVIState, float]:
        """One optimisation step (e.g. on a new minibatch of the same shapes):
        ``(new_state, loss)``; raises :class:`NonFiniteLossError` on a NaN/inf loss."""
        compiled, data = self._elbo(args, kwargs)
        new_state, losses = self._steps(compiled, data, state, 1, stable=False)
        return new_state, float(losses[0])

    def stable_update(self, state: SVIState, *args: Any, **kwargs: Any
                      ) -> tuple[SVIState, float]:
        """Like :meth:`update`, but a step with a non-finite loss keeps the old params."""
        compiled, data = self._elbo(args, kwargs)
        new_state, losses = self._steps(compiled, data, state, 1, stable=True)
        return new_state, float(losses[0])

    def evaluate(self, state: SVIState, *args: Any, **kwargs: Any) -> float:
        """The loss at ``state`` with fresh noise, without updating (the state is unchanged)."""
        compiled, data = self._elbo(args, kwargs)
        return self._loss_at(compiled, data, state)

    def _loss_at(self, compiled: CompiledELBO, data: list, state: SVIState) -> float:
        stream = state.rng_state.copy()
        rng.normal_fill(stream, compiled.noise)
        compiled.baseline[0] = state.baseline
        pointer, keep = self._pointer(compiled, data)
        grad = np.empty(compiled.dim)
        _, elbo = model_abi.logp_grad(compiled.kernel.address, pointer, state.phi.copy(), grad)
        del keep
        return -float(elbo)

    def to_arviz(self, params: dict[str, Any], *args: Any, num_samples: int = 1000,
                 seed: int = 0, posterior_predictive: bool = True, **kwargs: Any) -> Any:
        """ArviZ data from the fitted guide: ``num_samples`` guide draws as the posterior, the
        pointwise log-likelihood at each, the posterior predictive and the observed data
        (:func:`inference.arviz_export.guide_to_arviz`)."""
        from inference.arviz_export import guide_to_arviz

        return guide_to_arviz(self.model, self.guide, params, *args, num_samples=num_samples,
                              seed=seed, posterior_predictive=posterior_predictive,
                              **{**self.static_kwargs, **kwargs})

    # ---- the compiled loop -----------------------------------------------------------------------
    def run(self, seed: int, num_steps: int, *args: Any, progress_bar: bool = True,
            stable_update: bool = False, init_state: SVIState | None = None,
            init_params: dict[str, Any] | None = None, **kwargs: Any) -> SVIRunResult:
        """Run ``num_steps`` optimisation steps from ``init_state`` (or a fresh
        :meth:`init`) and return the params, the final state and the losses.

        With ``stable_update`` a step whose loss is not finite is skipped; otherwise it stops
        the run with :class:`NonFiniteLossError` (naming the step and the site or param that is
        not finite). With ``optim.Minimize``, ``num_steps`` must be 1 and SciPy runs the whole
        minimisation.
        """
        if not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
            raise ValueError(f"SVI.run: num_steps must be an int >= 1, got {num_steps!r}")
        state = init_state if init_state is not None else \
            self.init(seed, *args, init_params=init_params, **kwargs)
        compiled, data = self._elbo(args, kwargs)
        if isinstance(self.optim, optimizers.Minimize):
            return self._minimize(compiled, data, state, num_steps)
        bar = _LossBar(num_steps, progress_enabled(progress_bar))
        losses = np.full(num_steps, np.nan)
        chunk = num_steps if not bar.enabled else max(1, num_steps // 50)
        done = 0
        try:
            while done < num_steps:
                count = min(chunk, num_steps - done)
                state, chunk_losses = self._steps(compiled, data, state, count, stable_update,
                                                  first_step=done)
                losses[done:done + count] = chunk_losses
                done += count
                bar.update(done, losses[:done])
        finally:
            bar.close()
        return SVIRunResult(compiled.constrained_params(state.phi), state, losses)

    def _steps(self, compiled: CompiledELBO, data: list, state: SVIState, count: int,
               stable: bool, first_step: int = 0) -> tuple[SVIState, np.ndarray]:
        phi = state.phi.copy()
        opt_state = state.optim_state.copy()
        stream = state.rng_state.copy()
        compiled.baseline[0] = state.baseline
        pointer, keep = self._pointer(compiled, data)
        losses = np.full(count, np.nan)
        grad = np.empty(compiled.dim)
        sizes = self.optim.step_sizes(state.step, count)
        status, done = svi_steps(
            compiled.kernel.address, pointer, phi, grad, compiled.noise, compiled.baseline,
            compiled.subsample, compiled.subsample_sizes, compiled.scratch, stream,
            self.optim.kind, self.optim.hyper_array(), opt_state, sizes, 0, count, state.step,
            stable, losses)
        del keep
        new_state = SVIState(phi, opt_state, stream, float(compiled.baseline[0]),
                             state.step + count)
        if status != MODEL_OK:
            step = state.step + done
            last = SVIState(phi, opt_state, stream, float(compiled.baseline[0]), step)
            where = compiled.diagnose(phi, data)
            raise NonFiniteLossError(
                f"SVI: the loss or its gradient is not finite at step {step} (loss "
                f"{losses[done]}): {where}. The params of the last finite step are kept in "
                "this error's .params and .state; lower the step size, give the guide's scales "
                "smaller initial values, or run with stable_update=True to skip such steps",
                step, last, compiled.constrained_params(phi))
        return new_state, losses

    def _minimize(self, compiled: CompiledELBO, data: list, state: SVIState,
                  num_steps: int) -> SVIRunResult:
        from scipy.optimize import minimize

        if num_steps != 1:
            raise ValueError("SVI.run with optim.Minimize: num_steps must be 1 (SciPy runs the "
                             "whole minimisation in one step), got {num_steps}")
        stream = state.rng_state.copy()
        rng.normal_fill(stream, compiled.noise)
        compiled.baseline[0] = state.baseline
        pointer, keep = self._pointer(compiled, data)
        grad = np.empty(compiled.dim)

        def loss_and_grad(phi: np.ndarray) -> tuple[float, np.ndarray]:
            status, elbo = model_abi.logp_grad(compiled.kernel.address, pointer,
                                               np.ascontiguousarray(phi, dtype=float), grad)
            if status != MODEL_OK or not np.isfinite(elbo):
                return np.inf, np.zeros_like(phi)
            return -float(elbo), -grad.copy()

        result = minimize(loss_and_grad, state.phi.copy(), jac=True, method=self.optim.method,
                          **self.optim.kwargs)
        del keep
        phi = np.asarray(result.x, dtype=float)
        new_state = SVIState(phi, state.optim_state, stream, state.baseline, state.step + 1)
        return SVIRunResult(compiled.constrained_params(phi), new_state,
                            np.array([float(result.fun)]))


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"SVI: seed must be an int >= 0, got {seed!r}")
    return int(seed)


def _signature(args: tuple, kwargs: dict) -> Any:
    """What decides the compiled code: the data's shapes and dtypes, and the static values."""
    def describe(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return ("array", x.shape, x.dtype.str)
        if isinstance(x, (list, tuple)):
            return tuple(describe(v) for v in x)
        if isinstance(x, dict):
            return tuple(sorted((k, describe(v)) for k, v in x.items()))
        try:
            hash(x)
            return x
        except TypeError:
            return ("object", id(x))

    return describe(args), describe(kwargs)


class _LossBar:
    """A tqdm bar of steps showing the running mean loss of the last chunk (off when progress
    is off: under CI, without a terminal, or ``progress_bar=False``)."""

    def __init__(self, total: int, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.started = time.perf_counter()
        if enabled:
            from inference.progress import _tqdm_class

            self.bar = _tqdm_class()(total=total, unit="step", dynamic_ncols=True,
                                     desc="SVI")
        self.count = 0

    def update(self, done: int, losses: np.ndarray) -> None:
        if self.bar is None:
            return
        recent = losses[max(0, done - max(1, done // 10)):done]
        self.bar.set_postfix_str(f"loss {np.nanmean(recent):.4g}", refresh=False)
        self.bar.update(done - self.count)
        self.count = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

