r"""Status codes: how compiled code reports trouble, on its two channels, and what they mean.

Compiled code cannot raise through a C function, and a chain that fails must not take the
others with it, so trouble travels as integer codes on two channels:

* **a model evaluation** -- the return value of a model's ``logp_grad`` (:mod:`kernels.model_abi`):
  :data:`MODEL_OK`, or anything else. :func:`kernels.model_abi.evaluate` adds
  :data:`MODEL_NONFINITE` for a log density or gradient that is not finite. Samplers treat every
  non-OK evaluation as a point of infinite energy (a divergence inside a trajectory), never as an
  error;
* **a chain** -- one entry per chain in :attr:`kernels.state.ChainState.status`: :data:`CHAIN_OK`
  while it runs; a failure of the adaptation itself (where Stan throws) stops the chain with one
  of the other codes, and :func:`check_chains` raises :class:`SamplerError` naming each stopped
  chain with its :data:`CHAIN_MESSAGES` entry.

The two ``OK`` codes are both 0 but are different facts; code compares each channel with its own
name.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MODEL_OK",
    "MODEL_NONFINITE",
    "CHAIN_OK",
    "STEP_SIZE_TOO_LARGE",
    "STEP_SIZE_ZERO",
    "METRIC_NONFINITE",
    "METRIC_NOT_PD",
    "CHAIN_MESSAGES",
    "SamplerError",
    "check_chains",
]

#: Model channel: the log density and its gradient were computed.
MODEL_OK = 0
#: Model channel: the model returned :data:`MODEL_OK` but its log density or a gradient component
#: is NaN or infinite (set by :func:`kernels.model_abi.evaluate`).
MODEL_NONFINITE = -1000

#: Chain channel: the chain is running normally.
CHAIN_OK = 0
#: Chain channel: the step-size search passed :math:`10^7` (Stan: "Posterior is improper").
STEP_SIZE_TOO_LARGE = 1
#: Chain channel: the step-size search reached 0 (Stan: "No acceptably small step size").
STEP_SIZE_ZERO = 2
#: Chain channel: the regularised mass-matrix estimate was not finite (Stan: "Numerical
#: overflow in metric adaptation").
METRIC_NONFINITE = 3
#: Chain channel: the dense mass-matrix estimate was not positive definite (no Cholesky factor).
METRIC_NOT_PD = 4

#: What each stopped chain's code means, as the user reads it.
CHAIN_MESSAGES = {
    STEP_SIZE_TOO_LARGE: "the step-size search exceeded 1e7: the posterior may be improper",
    STEP_SIZE_ZERO: "the step-size search reached 0: is the log density continuous?",
    METRIC_NONFINITE: "numerical overflow in the mass-matrix adaptation (non-finite estimate)",
    METRIC_NOT_PD: "the dense mass-matrix estimate is not positive definite",
}


class SamplerError(RuntimeError):
    """A chain stopped because its adaptation failed (see :attr:`ChainState.status`)."""


def check_chains(status: np.ndarray) -> None:
    """Raise :class:`SamplerError` naming every chain whose ``status`` is not :data:`CHAIN_OK`.

    Examples
    --------
    >>> check_chains(np.array([CHAIN_OK, CHAIN_OK]))
    >>> check_chains(np.array([CHAIN_OK, STEP_SIZE_ZERO]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kernels.status.SamplerError: adaptation failed in chain(s) {1: 'the step-size search ...
    """
    stopped = np.flatnonzero(np.asarray(status) != CHAIN_OK)
    if stopped.size == 0:
        return
    messages = {int(c): CHAIN_MESSAGES.get(int(status[c]), f"status {int(status[c])}")
                for c in stopped}
    raise SamplerError(
        f"adaptation failed in chain(s) {messages}; check the model's log density (is the "
        f"posterior proper? are there discontinuities?) or start from other initial values"
    )
