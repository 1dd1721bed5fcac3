r"""First-order optimiser updates for stochastic variational inference, one kernel for all.

Each optimiser moves the parameters :math:`x` against a gradient :math:`g` of the loss with a
step size :math:`\eta_t` (the schedule is evaluated in Python before the run and handed over as
one number per step) and a state of at most two vectors, ``state[0]`` and ``state[1]``; ``t``
counts updates from 1. The rules and their default hyperparameters are those of NumPyro's
``numpyro.optim`` (which wraps ``jax.example_libraries.optimizers``):

* ``SGD``: :math:`x \leftarrow x - \eta g`.
* ``MOMENTUM`` (``mass``): :math:`v \leftarrow \text{mass}\, v + g`, :math:`x \leftarrow x - \eta v`.
* ``ADAGRAD`` (``momentum``): :math:`G \leftarrow G + g^2`,
  :math:`m \leftarrow (1-\text{momentum})\, g/\sqrt{G} + \text{momentum}\, m`,
  :math:`x \leftarrow x - \eta m` (Duchi, Hazan and Singer 2011).
* ``RMSPROP`` (``gamma``, ``eps``): :math:`s \leftarrow \gamma s + (1-\gamma) g^2`,
  :math:`x \leftarrow x - \eta g / \sqrt{s + \epsilon}` (Tieleman and Hinton 2012).
* ``ADAM`` (``b1``, ``b2``, ``eps``): :math:`m \leftarrow b_1 m + (1-b_1) g`,
  :math:`v \leftarrow b_2 v + (1-b_2) g^2`,
  :math:`x \leftarrow x - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)` with the bias corrections
  :math:`\hat m = m / (1-b_1^t)`, :math:`\hat v = v / (1-b_2^t)` (Kingma and Ba 2015).
* ``CLIPPED_ADAM`` (``b1``, ``b2``, ``eps``, ``clip_norm``, ``lrd``): Adam on the gradient clipped
  elementwise to :math:`[-\text{clip\_norm}, \text{clip\_norm}]`, with the step size decayed by
  :math:`\text{lrd}^{t-1}` (Pyro's ``ClippedAdam``).

The hyperparameters travel in one ``float64`` array, in the order of :data:`HYPERPARAMETERS`.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.jit import njit

SGD, MOMENTUM, ADAGRAD, RMSPROP, ADAM, CLIPPED_ADAM = range(6)

#: The hyperparameters of each optimiser, in the order the kernel reads them.
HYPERPARAMETERS: dict[int, tuple[str, ...]] = {
    SGD: (),
    MOMENTUM: ("mass",),
    ADAGRAD: ("momentum",),
    RMSPROP: ("gamma", "eps"),
    ADAM: ("b1", "b2", "eps"),
    CLIPPED_ADAM: ("b1", "b2", "eps", "clip_norm", "lrd"),
}

#: Rows of optimiser state (vectors of the parameters' size) each optimiser keeps.
STATE_ROWS = 2


@njit(borrow=True)
def optimizer_update(kind: int, hyper: np.ndarray, state: np.ndarray, x: np.ndarray,
                     g: np.ndarray, t: int, step_size: float) -> None:
    """Apply update number ``t`` (from 1) of optimiser ``kind`` to ``x`` in place.

    Parameters
    ----------
    kind : one of :data:`SGD` ... :data:`CLIPPED_ADAM`.
    hyper : float64[:], the hyperparameters in the order of :data:`HYPERPARAMETERS`.
    state : float64[2, n], the optimiser's state, updated in place (zeros before the first step).
    x : float64[n], the parameters, updated in place.
    g : float64[n], the gradient of the loss at ``x``.
    t : the update's number, counted from 1 (for Adam's bias correction).
    step_size : the step size of this update.
    """
    n = x.shape[0]
    if kind == SGD:
        for i in range(n):
            x[i] -= step_size * g[i]
    elif kind == MOMENTUM:
        mass = hyper[0]
        for i in range(n):
            state[0, i] = mass * state[0, i] + g[i]
            x[i] -= step_size * state[0, i]
    elif kind == ADAGRAD:
        momentum = hyper[0]
        for i in range(n):
            state[0, i] += g[i] * g[i]
            scaled = g[i] / math.sqrt(state[0, i]) if state[0, i] > 0.0 else 0.0
            state[1, i] = (1.0 - momentum) * scaled + momentum * state[1, i]
            x[i] -= step_size * state[1, i]
    elif kind == RMSPROP:
        gamma, eps = hyper[0], hyper[1]
        for i in range(n):
            state[0, i] = gamma * state[0, i] + (1.0 - gamma) * g[i] * g[i]
            x[i] -= step_size * g[i] / math.sqrt(state[0, i] + eps)
    else:  # ADAM, CLIPPED_ADAM
        b1, b2, eps = hyper[0], hyper[1], hyper[2]
        clip = hyper[3] if kind == CLIPPED_ADAM else math.inf
        if kind == CLIPPED_ADAM:
            step_size = step_size * hyper[4] ** (t - 1)
        correction1 = 1.0 - b1 ** t
        correction2 = 1.0 - b2 ** t
        for i in range(n):
            gi = min(max(g[i], -clip), clip)
            state[0, i] = b1 * state[0, i] + (1.0 - b1) * gi
            state[1, i] = b2 * state[1, i] + (1.0 - b2) * gi * gi
            m_hat = state[0, i] / correction1
            v_hat = state[1, i] / correction2
            x[i] -= step_size * m_hat / (math.sqrt(v_hat) + eps)
