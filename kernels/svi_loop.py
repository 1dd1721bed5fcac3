r"""The compiled loop of stochastic variational inference: noise, ELBO gradient, update, repeat.

The ELBO estimate is compiled like a model (:mod:`kernels.model_abi`): a C function
``elbo_grad(phi, grad, elbo, data)`` of the unconstrained variational parameters :math:`\phi`
whose data table holds, besides the model's data, three buffers this loop writes before each
call:

* ``noise`` -- the standard normals from which the guide's reparameterised draws are made
  (:math:`z = \mu + \sigma\varepsilon` and the like), all particles' at once;
* ``baseline`` -- one number, a running average of the ELBO estimate, subtracted from the
  learning signal of score-function terms (a control variate that keeps their gradient's
  expectation and lowers its variance);
* ``subsample`` -- the indices of subsampled plates, drawn afresh each step without replacement.

So one step is: draw the noise and the plate indices from the run's stream, call the ELBO
gradient, record the loss :math:`-\text{ELBO}`, update the baseline and move :math:`\phi` by the
optimiser (:mod:`kernels.optimizers`). No Python runs between steps; the caller runs the loop in
chunks to show progress.

A step whose ELBO or gradient is not finite stops the loop before the update (``phi`` keeps its
last finite value) unless ``stable`` is set, in which case that update is skipped and the loop
goes on (NumPyro's ``stable_update``).
"""

from __future__ import annotations

import numpy as np

from kernels.jit import njit, signature
from kernels.model_abi import evaluate
from kernels.optimizers import optimizer_update
from kernels.rng import normal_fill, uniform
from kernels.status import MODEL_OK

#: Weight of the newest ELBO estimate in the running baseline.
BASELINE_WEIGHT = 0.1


@njit(borrow=True)
def draw_subsample(state: np.ndarray, sizes: np.ndarray, out: np.ndarray,
                   scratch: np.ndarray) -> None:
    """Fill ``out`` with, for each plate ``k``, ``sizes[k, 1]`` distinct indices drawn
    uniformly from ``range(sizes[k, 0])`` (a partial Fisher--Yates shuffle of ``scratch``),
    the plates' indices one after the other."""
    offset = 0
    for k in range(sizes.shape[0]):
        size, take = sizes[k, 0], sizes[k, 1]
        for i in range(size):
            scratch[i] = i
        for i in range(take):
            j = i + int(uniform(state) * (size - i))
            scratch[i], scratch[j] = scratch[j], scratch[i]
            out[offset + i] = scratch[i]
        offset += take


def _svi_steps_types(t) -> tuple:
    from numba import types

    ints, floats = types.Array(types.int64, 1, "C"), t.vector
    table = types.Array(types.int64, 2, "C")
    return (t.i8, t.i8, floats, floats, floats, floats, ints, table, ints, t.rng, t.i8,
            floats, types.Array(types.float64, 2, "C"), floats, t.i8, t.i8, t.i8, t.boolean,
            floats)


@signature(_svi_steps_types)
@njit
def svi_steps(address: int, data: int, phi: np.ndarray, grad: np.ndarray, noise: np.ndarray,
              baseline: np.ndarray, subsample: np.ndarray, subsample_sizes: np.ndarray,
              scratch: np.ndarray, rng_state: np.ndarray, kind: int, hyper: np.ndarray,
              opt_state: np.ndarray, step_sizes: np.ndarray, first: int, count: int,
              updates_before: int, stable: bool, losses: np.ndarray) -> tuple[int, int]:
    """Run steps ``first .. first+count-1`` (``step_sizes`` and ``losses`` are indexed by step
    number relative to the run's start, ``first`` counting from 0); ``updates_before`` is the
    number of updates made before the run (Adam's bias correction counts from there).

    Returns ``(status, steps_done)``: ``status`` is 0, or the ELBO's status (non-zero, or
    :data:`kernels.status.MODEL_NONFINITE`) at the step that stopped the loop, which is
    ``first + steps_done``; ``phi``, the optimiser state and the stream are then as before that
    step's update, and ``noise`` holds that step's noise (for diagnosis).
    """
    for k in range(count):
        step = first + k
        normal_fill(rng_state, noise)
        if subsample.shape[0] > 0:
            draw_subsample(rng_state, subsample_sizes, subsample, scratch)
        status, elbo = evaluate(address, data, phi, grad)
        losses[step] = -elbo
        if status != MODEL_OK:
            if stable:
                continue
            return status, k
        baseline[0] = (1.0 - BASELINE_WEIGHT) * baseline[0] + BASELINE_WEIGHT * elbo
        for i in range(grad.shape[0]):
            grad[i] = -grad[i]  # the loss is -ELBO
        optimizer_update(kind, hyper, opt_state, phi, grad, updates_before + step + 1,
                         step_sizes[step])
    return MODEL_OK, count
