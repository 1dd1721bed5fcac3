r"""ChEES-HMC: many chains advanced one static-HMC transition at a time, with shared adaptation.

ChEES-HMC (Hoffman, Radul & Sountsov 2021, "An Adaptive-MCMC Scheme for Setting Trajectory
Lengths in Hamiltonian Monte Carlo", AISTATS, PMLR 130:3907) runs :math:`C` chains in lockstep:
at iteration :math:`t` every chain makes one static HMC transition
(:func:`kernels.hmc_transition.hmc_transition`) with the **same** step size :math:`\epsilon`,
the same diagonal inverse metric :math:`M^{-1}` and the same number of leapfrog steps

.. math:: L_t = \max(1, \lceil h_t T / \epsilon \rceil), \qquad h_t = \mathrm{Halton}_2(t)
   \in (0, 1),

a quasi-random jitter of the trajectory length :math:`T` (van der Corput sequence in base 2,
:func:`halton`). All chains do the same work, so no chain waits for another (unlike NUTS in
lockstep, whose cost per iteration is the longest trajectory of the batch).

Warmup (iterations :math:`t < N_w`), after each iteration, from cross-chain statistics computed
serially in chain order (so they do not depend on threads or blocks), in :func:`chees_adapt`:

* **step size**: dual averaging (Stan's constants, :func:`kernels.step_size.dual_averaging_update`)
  on the *harmonic mean* of the chains' acceptance probabilities
  :math:`\bar\alpha = C / \sum_c \tilde\alpha_c^{-1}`, target ``target_accept_prob`` (0.651 by
  default); the paper's rule: one stuck chain pulls the mean down, so the step size suits the
  worst chains (with the arithmetic mean, chains started where the posterior is stiff can stay
  stuck there for the whole run, as on the hierarchical benchmark model). A chain's
  :math:`\tilde\alpha_c = \max(\alpha_c, \min(\alpha_{\min}, m_c))` is floored at
  :math:`\alpha_{\min}` = ``ACCEPT_FLOOR`` unless its moving average
  :math:`m_c \leftarrow \rho m_c + (1 - \rho)\alpha_c` (:math:`\rho` = ``ACCEPT_DECAY``) is
  lower: one divergent transition of a chain that has been moving counts as
  :math:`\alpha_{\min}`, while a chain that keeps rejecting soon counts fully. (With
  :math:`\alpha_c` alone, one divergence among a thousand chains makes the harmonic mean 0,
  which happens at most iterations on eight schools; dual averaging then holds the *average*
  statistic at the target by raising the others, and the step size ends far too small.)
  Dual averaging shrinks toward :math:`\mu = \log(b\,\epsilon_0)`, :math:`b` =
  ``STEP_SIZE_BIAS`` = 1 rather than Stan's 10, which suits one chain's noisy statistic: with a
  thousand chains' statistic the first updates would jump to several times :math:`\epsilon_0`,
  where nearly every chain diverges, and the step size then collapses;
* **trajectory length**: gradient ascent on the ChEES criterion
  :math:`\tfrac14 E[(\|q' - E q'\|^2 - \|q - E q\|^2)^2]` (change in the estimated squared
  distance from the centre, :math:`q` before and :math:`q'` the proposal), the expectations
  estimated across chains (proposals weighted by their acceptance probability). Its derivative
  in :math:`\log T` for chain :math:`c` is
  :math:`g_c = \Delta_c\,(q'_c - \bar q')\cdot v'_c\; h_t T` with
  :math:`\Delta_c = \|q'_c - \bar q'\|^2 - \|q_c - \bar q\|^2` and :math:`v' = M^{-1}p'` the
  velocity at the end of the trajectory (:math:`dq'/dT = h_t v'`). The
  :math:`\alpha`-weighted mean of :math:`g_c` drives Adam (learning rate ``learning_rate``,
  :math:`\beta_1, \beta_2` = ``ADAM_BETA1, ADAM_BETA2``; update clipped to :math:`\pm 0.35` in
  :math:`\log T`; the step is skipped when the mean acceptance probability is below
  :math:`10^{-4}` or the gradient is not finite), and :math:`\log T` is averaged with weights
  :math:`t^{-0.75}`; the average is the sampling-phase :math:`T`;
* **SNAPER** (Sountsov & Hoffman 2022; the default, ``settings.snaper``): the same criterion
  and gradient, but of the coordinate :math:`u = z\cdot(q - \bar q)/\sigma` along
  :math:`z`, the leading eigenvector of the chains' covariance in the metric's scale
  (:math:`\sigma_i^2 = M^{-1}_{ii}`), estimated by one power iteration per warmup iteration
  (:func:`_principal_step`): :math:`g_c = \Delta_c\, u'_c\, (z\cdot v'_c/\sigma)\, h_t T`
  with :math:`\Delta_c = u_c'^2 - u_c^2`. The slowest direction then sets :math:`T`, where
  the full ChEES criterion is dominated by the many fast ones (on the hierarchical benchmark
  model ChEES settled at half the trajectory length that mixes its population mean best);
* **metric**: :math:`M^{-1}_{ii}` = the cross-chain variance of coordinate :math:`i`, shrunk
  as Stan does, :math:`\frac{C}{C+5}\sigma_i^2 + 10^{-3}\frac{5}{C+5}`, recomputed at every
  iteration of the first ``metric_fraction`` of warmup (the chains spread over the posterior as
  they converge), then fixed so that the step size settles.

At iteration 0 every chain runs Stan's step-size search from the initial step size
(:func:`kernels.step_size.find_reasonable_step_size`) and the shared step size starts at the
median of the results (:func:`start_step_size`); :math:`T` starts at
``initial_trajectory_length`` or at that step size.

The chains' rows are independent given the shared values: :func:`chees_transitions` advances a
block ``[lo, hi)`` of chains (``nogil``, one block per thread, :func:`run`); chain :math:`c` uses
only its own random stream, so the draws do not depend on the number of threads or on the blocks.

References
----------
Hoffman, M., Radul, A. and Sountsov, P. (2021). An adaptive-MCMC scheme for setting trajectory
lengths in Hamiltonian Monte Carlo. AISTATS, PMLR 130:3907-3915.

Beskos, A., Pillai, N., Roberts, G., Sanz-Serna, J. M. and Stuart, A. (2013). Optimal tuning of
the hybrid Monte Carlo algorithm. Bernoulli 19, 1501-1534 (the 0.651 target).

Sountsov, P. and Hoffman, M. D. (2022). Focusing on difficult directions for learning HMC
trajectory lengths. arXiv:2110.11576 (SNAPER-HMC).

Kingma, D. P. and Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Sequence

import numba
import numpy as np

from kernels.chain_threads import run_side_by_side
from kernels.hmc_transition import hmc_transition
from kernels.integrators import phase_point
from kernels.jit import njit, signature
from kernels.metric import DIAG, Metric
from kernels.model_abi import Model
from kernels.state import (
    Field,
    SampleOutput,
    check_output,
    init_chain_state,
    record_transition,
)
from kernels.status import CHAIN_OK, SamplerError
from kernels.step_size import (
    DA_MU,
    DA_SIZE,
    dual_averaging_final,
    dual_averaging_init,
    dual_averaging_update,
    find_reasonable_step_size,
)

__all__ = ["ACCEPT_DECAY", "ACCEPT_FLOOR", "ADAM_BETA1", "ADAM_BETA2", "STEP_SIZE_BIAS",
           "CHEES_CHAIN_FIELDS", "CHEES_SHARED_FIELDS", "ChEESChains", "ChEESShared",
           "ChEESSettings", "COMPILED_KERNELS", "halton", "allocate_chees", "chees_transitions",
           "chees_adapt", "start_step_size", "run"]

_F8, _I8, _U8 = np.float64, np.int64, np.uint64

#: Each chain's row: its state between iterations and what the adaptation reads of its last
#: transition.
CHEES_CHAIN_FIELDS = (
    Field("position", _F8, ("dim",), "the unconstrained position :math:`q`"),
    Field("logp", _F8, (), ":math:`\\log\\pi(q)`"),
    Field("grad", _F8, ("dim",), ":math:`\\nabla\\log\\pi(q)`"),
    Field("rng", _U8, (4,), "the xoshiro256** stream (:mod:`kernels.rng`)"),
    Field("status", _I8, (), "a :mod:`kernels.status` chain code"),
    Field("previous", _F8, ("dim",), "the position before the last transition"),
    Field("proposal", _F8, ("dim",), "the last transition's end point :math:`q'`"),
    Field("velocity", _F8, ("dim",), ":math:`M^{-1}p'` there"),
    Field("accept", _F8, (), "the last transition's acceptance probability (0: diverged)"),
    Field("accept_avg", _F8, (), "its moving average over warmup iterations (step size)"),
)

#: The values all chains share (no chain axis); scalars are arrays of length 1.
CHEES_SHARED_FIELDS = (
    Field("step_size", _F8, (1,), "the step size :math:`\\epsilon`", 1.0),
    Field("log_length", _F8, (1,), ":math:`\\log T`, the trajectory length"),
    Field("log_length_bar", _F8, (1,), "its weighted average (the sampling-phase value)"),
    Field("adam", _F8, (3,), "Adam's ``[updates, mean gradient, mean squared gradient]``"),
    Field("dual_averaging", _F8, (DA_SIZE,), "the step size's dual averaging "
          "(:mod:`kernels.step_size`)"),
    Field("inv_diag", _F8, ("dim",), "the diagonal inverse metric", 1.0),
    Field("principal", _F8, ("dim",), "SNAPER's direction :math:`z` (power iteration)", 1.0),
)


class ChEESChains(namedtuple("ChEESChains", [f.name for f in CHEES_CHAIN_FIELDS])):
    """Every chain's arrays (:data:`CHEES_CHAIN_FIELDS`; first axis = chain)."""

    __slots__ = ()

    def copy(self) -> ChEESChains:
        """A deep copy."""
        return ChEESChains(*(a.copy() for a in self))


class ChEESShared(namedtuple("ChEESShared", [f.name for f in CHEES_SHARED_FIELDS])):
    """The shared adaptation state (:data:`CHEES_SHARED_FIELDS`)."""

    __slots__ = ()

    def copy(self) -> ChEESShared:
        """A deep copy."""
        return ChEESShared(*(a.copy() for a in self))


#: The fixed settings of a run (numbers only, so one compiled kernel serves all runs).
ChEESSettings = namedtuple("ChEESSettings", [
    "num_warmup", "target_accept_prob", "learning_rate", "max_leapfrog_steps",
    "max_energy_error", "metric_stop", "adapt_step_size", "adapt_trajectory_length",
    "adapt_mass_matrix", "snaper", "accept_decay", "accept_floor",
    "step_size_bias", "adam_beta1", "adam_beta2",
])

#: The clip of one update of log T and the exponent of the weights of its average.
_MAX_LOG_UPDATE, _AVERAGE_DECAY = 0.35, 0.75
#: Below this mean acceptance probability the ChEES gradient is not trusted (step skipped).
_MIN_ACCEPT = 1e-4
#: The step size's statistic (module docstring): the floor of a moving chain's acceptance
#: probability, the decay of each chain's moving average, and the dual-averaging bias
#: :math:`b` (:math:`\mu = \log(b\,\epsilon_0)`). They reach the kernels through
#: :class:`ChEESSettings`, so a study can vary them without recompiling.
ACCEPT_FLOOR, ACCEPT_DECAY, STEP_SIZE_BIAS = 0.05, 0.7, 1.0
#: Adam's decay rates of the mean gradient and of the mean squared gradient of :math:`\log T`.
#: Without momentum and with a short :math:`\beta_2` each step is about ``learning_rate``
#: whatever the gradient's size, so :math:`\log T` keeps moving around its optimum (the
#: :math:`t^{-0.75}` average smooths it). A longer :math:`\beta_2` once froze :math:`T` when the
#: step size swung early in warmup. Momentum (0.9, 0.95) was tried: on eight schools it gave
#: the shorter of SNAPER's two :math:`T` on more seeds, but on the hierarchical model it
#: doubled :math:`T` (and halved ESS per gradient) on some seeds, where these values gave the
#: same :math:`T` on every seed tried (``benchmarks/many_chains_study.py``).
ADAM_BETA1, ADAM_BETA2 = 0.0, 0.5


def allocate_chees(n_chains: int, dim: int) -> tuple[ChEESChains, ChEESShared]:
    """Zero-filled records for ``n_chains`` chains in ``dim`` dimensions (fills of the tables)."""
    chains = ChEESChains(*(np.full((n_chains,) + f.concrete_shape(dim, False), f.fill, f.dtype)
                           for f in CHEES_CHAIN_FIELDS))
    shared = ChEESShared(*(np.full(f.concrete_shape(dim, False), f.fill, f.dtype)
                           for f in CHEES_SHARED_FIELDS))
    return chains, shared


def _settings_prototype() -> ChEESSettings:
    """A :class:`ChEESSettings` of the Python types :meth:`inference.chees.ChEES.settings` gives
    (its Numba type is the one the kernels are compiled for)."""
    return ChEESSettings(1, 0.651, 0.1, 1, 1000.0, 1, True, True, True, True, 0.0, 0.0, 10.0,
                          0.0, 0.5)


def _record_types(t) -> tuple:
    """Numba types of the settings, the shared record and the chains' record (prototypes built
    by :func:`allocate_chees`, so they cannot drift from a real run's)."""
    chains, shared = allocate_chees(1, 1)
    return numba.typeof(_settings_prototype()), numba.typeof(shared), numba.typeof(chains)


def _transitions_types(t) -> tuple:
    settings, shared, chains = _record_types(t)
    return (t.i8, t.i8, t.i8, t.i8, t.i8, t.i8, settings, shared, chains, t.output)


def _search_types(t) -> tuple:
    _, shared, chains = _record_types(t)
    return (t.i8, t.i8, t.i8, t.i8, shared, chains, t.vector)


def _adapt_types(t) -> tuple:
    settings, shared, chains = _record_types(t)
    return (t.i8, settings, shared, chains)


@njit(inline="always")
def halton(index: int) -> float:
    """The ``index``-th element (``index >= 1``) of the van der Corput sequence in base 2:
    the binary digits of ``index`` mirrored after the point, so 1, 2, 3, 4 give 1/2, 1/4, 3/4,
    1/8 (evenly spread in (0, 1) for any prefix)."""
    x, f, i = 0.0, 0.5, index
    while i > 0:
        x += f * (i & 1)
        i >>= 1
        f *= 0.5
    return x


@njit(inline="always")
def num_leapfrog_steps(iteration: int, log_length: float, step_size: float,
                       max_steps: int) -> int:
    """:math:`L_t = \\max(1, \\lceil h_{t+1} T / \\epsilon \\rceil)`, at most ``max_steps``."""
    n = math.ceil(halton(iteration + 1) * math.exp(log_length) / step_size)
    if not (n >= 1.0):
        return 1
    return max_steps if n > max_steps else int(n)


@signature(_transitions_types)
@njit
def chees_transitions(address: int, data_ptr: int, lo: int, hi: int, iteration: int,
                      out_index: int, settings: ChEESSettings, shared: ChEESShared,
                      chains: ChEESChains, output: SampleOutput) -> None:
    """Chains ``[lo, hi)``: one transition each at ``iteration`` (see the module docstring).

    At iteration 0 with step-size adaptation, first Stan's step-size search: each chain's
    result goes to ``chains.accept`` (the caller takes the median, :func:`start_step_size`).
    The draw and its statistics are written at ``out_index`` of ``output`` when in range.
    """
    d = chains.position.shape[1]
    z = phase_point(d)
    empty = np.empty((0, 0))
    metric = Metric(DIAG, shared.inv_diag, empty, empty, empty, np.empty(0))
    model = Model(address, data_ptr)
    eps = shared.step_size[0]
    n_steps = num_leapfrog_steps(iteration, shared.log_length[0], eps,
                                 settings.max_leapfrog_steps)
    n_out = output.draws.shape[1]
    for c in range(lo, hi):
        if chains.status[c] != CHAIN_OK:
            continue
        q = chains.position[c]
        for k in range(d):
            chains.previous[c, k] = q[k]
        stats = hmc_transition(model, metric, q, chains.grad[c], chains.logp[c], eps, n_steps,
                               settings.max_energy_error, chains.rng[c], z)
        chains.logp[c] = stats.lp
        for k in range(d):
            chains.proposal[c, k] = z.q[k]
            chains.velocity[c, k] = z.p_sharp[k]
        accept = stats.acceptance_rate
        chains.accept[c] = 0.0 if stats.diverging or not (accept >= 0.0) else accept
        if 0 <= out_index < n_out:
            record_transition(output, c, out_index, q, stats, eps, False)


@signature(_search_types)
@njit
def step_size_search(address: int, data_ptr: int, lo: int, hi: int, shared: ChEESShared,
                     chains: ChEESChains, found: np.ndarray) -> None:
    """Stan's step-size search from each chain ``[lo, hi)`` into ``found[c]`` (NaN if the
    search failed), starting from the shared step size."""
    d = chains.position.shape[1]
    z = phase_point(d)
    empty = np.empty((0, 0))
    metric = Metric(DIAG, shared.inv_diag, empty, empty, empty, np.empty(0))
    model = Model(address, data_ptr)
    for c in range(lo, hi):
        eps, status = find_reasonable_step_size(model, metric, chains.position[c],
                                                chains.grad[c], chains.logp[c],
                                                shared.step_size[0], chains.rng[c], z)
        found[c] = eps if status == CHAIN_OK else np.nan


@njit
def _principal_step(positions: np.ndarray, mean: np.ndarray, inv_diag: np.ndarray,
                    z: np.ndarray) -> None:
    """One power iteration for the leading eigenvector of the chains' covariance in the
    metric's scale: :math:`z \\leftarrow S z / \\|S z\\|`, with :math:`S` the cross-chain
    covariance of :math:`(q - \\bar q) / \\sigma` (unchanged if that is 0 or not finite)."""
    n, d = positions.shape
    y = np.zeros(d)
    for c in range(n):
        proj = 0.0
        for k in range(d):
            proj += (positions[c, k] - mean[k]) * z[k] / math.sqrt(inv_diag[k])
        for k in range(d):
            y[k] += proj * (positions[c, k] - mean[k]) / math.sqrt(inv_diag[k])
    norm = math.sqrt(np.sum(y * y))
    if norm > 0.0 and math.isfinite(norm):
        for k in range(d):
            z[k] = y[k] / norm


@signature(_adapt_types)
@njit
def chees_adapt(iteration: int, settings: ChEESSettings, shared: ChEESShared,
                chains: ChEESChains) -> None:
    """The shared adaptation after warmup ``iteration`` (module docstring), serial in chain
    order; at the last warmup iteration, the final step size and trajectory length."""
    n, d = chains.position.shape
    eps = shared.step_size[0]
    # harmonic mean of the acceptance probabilities, floored unless a chain keeps rejecting
    inv_sum, weight = 0.0, 0.0
    rho = settings.accept_decay
    for c in range(n):
        a = chains.accept[c]
        avg = a if iteration == 0 else rho * chains.accept_avg[c] + (1.0 - rho) * a
        chains.accept_avg[c] = avg
        a = max(a, min(settings.accept_floor, avg))
        inv_sum += 1.0 / a if a > 1e-300 else 1e300
        weight += chains.accept[c]
    harmonic = n / inv_sum
    if settings.adapt_trajectory_length and weight > 0.0:
        mean_prev = np.zeros(d)
        mean_prop = np.zeros(d)
        for c in range(n):
            a = chains.accept[c]
            for k in range(d):
                mean_prev[k] += chains.previous[c, k] / n
                if a > 0.0:
                    mean_prop[k] += a * chains.proposal[c, k] / weight
        h = halton(iteration + 1)
        length = math.exp(shared.log_length[0])
        if settings.snaper:
            _principal_step(chains.previous, mean_prev, shared.inv_diag, shared.principal)
        z, scale = shared.principal, np.sqrt(shared.inv_diag)
        g = 0.0
        for c in range(n):
            a = chains.accept[c]
            if a <= 0.0:
                continue
            sq_prop, sq_prev, dot = 0.0, 0.0, 0.0
            if settings.snaper:  # along z, in the metric's scale
                for k in range(d):
                    sq_prop += (chains.proposal[c, k] - mean_prop[k]) * z[k] / scale[k]
                    sq_prev += (chains.previous[c, k] - mean_prev[k]) * z[k] / scale[k]
                    dot += chains.velocity[c, k] * z[k] / scale[k]
                dot *= sq_prop
                sq_prop *= sq_prop
                sq_prev *= sq_prev
            else:
                for k in range(d):
                    dp = chains.proposal[c, k] - mean_prop[k]
                    sq_prop += dp * dp
                    sq_prev += (chains.previous[c, k] - mean_prev[k]) ** 2
                    dot += dp * chains.velocity[c, k]
            g += a * (sq_prop - sq_prev) * dot * h * length / weight
        # (skipped only when nearly every proposal was rejected: the gradient is a weighted
        # mean over the accepted ones, so one divergent chain does not make it unreliable)
        if weight >= _MIN_ACCEPT * n and math.isfinite(g):
            b1, b2 = settings.adam_beta1, settings.adam_beta2
            shared.adam[0] += 1.0
            shared.adam[1] = b1 * shared.adam[1] + (1.0 - b1) * g
            shared.adam[2] = b2 * shared.adam[2] + (1.0 - b2) * g * g
            m_hat = shared.adam[1] / (1.0 - b1 ** shared.adam[0])
            v_hat = shared.adam[2] / (1.0 - b2 ** shared.adam[0])
            step = settings.learning_rate * m_hat / (math.sqrt(v_hat) + 1e-8)
            step = min(_MAX_LOG_UPDATE, max(-_MAX_LOG_UPDATE, step))
            log_length = shared.log_length[0] + step
            longest = math.log(eps * settings.max_leapfrog_steps)
            shared.log_length[0] = min(log_length, longest)
            w = shared.adam[0] ** (-_AVERAGE_DECAY)
            shared.log_length_bar[0] = w * shared.log_length[0] + (
                1.0 - w) * shared.log_length_bar[0]
    if settings.adapt_step_size:
        shared.step_size[0] = dual_averaging_update(shared.dual_averaging, harmonic,
                                                    settings.target_accept_prob, 0.05, 0.75,
                                                    10.0)
    if settings.adapt_mass_matrix and iteration < settings.metric_stop:
        for k in range(d):
            m = 0.0
            for c in range(n):
                m += chains.position[c, k]
            m /= n
            s = 0.0
            for c in range(n):
                s += (chains.position[c, k] - m) ** 2
            var = s / (n - 1)
            shared.inv_diag[k] = (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0))
    if iteration == settings.num_warmup - 1:
        if settings.adapt_step_size:
            shared.step_size[0] = dual_averaging_final(shared.dual_averaging,
                                                       shared.step_size[0])
        if settings.adapt_trajectory_length and shared.adam[0] > 0.0:
            shared.log_length[0] = shared.log_length_bar[0]


#: The kernels a run calls from Python, compiled for their declared types (in a helper process
#: while the model compiles, on a first run: :func:`kernels.precompile.background_compile`).
COMPILED_KERNELS = ("chees_transitions", "step_size_search", "chees_adapt")


def init_chees(address: int, data_ptr: int, positions: np.ndarray, seed: int,
               step_size: float, inverse_mass_matrix: np.ndarray | None = None
               ) -> tuple[ChEESChains, ChEESShared]:
    """Records for chains starting at ``positions`` ``(C, d)``: the model evaluated there
    (a ``ValueError`` names a chain whose density or gradient is not finite), the random
    streams of :func:`kernels.rng.seed_streams`, the initial step size and metric."""
    q0 = np.asarray(positions, dtype=np.float64)
    n, d = q0.shape
    # NUTS' initial state: evaluates and checks the points, seeds the streams
    start = init_chain_state(address, data_ptr, q0, seed, step_size=step_size,
                             inverse_mass_matrix=inverse_mass_matrix)
    chains, shared = allocate_chees(n, d)
    for name in ("position", "logp", "grad", "rng", "status"):
        getattr(chains, name)[...] = getattr(start, name)
    shared.step_size[0] = step_size
    shared.log_length[0] = shared.log_length_bar[0] = math.log(step_size)
    if inverse_mass_matrix is not None:
        shared.inv_diag[:] = np.broadcast_to(np.asarray(inverse_mass_matrix, float), (d,))
    dual_averaging_init(shared.dual_averaging, step_size)
    return chains, shared


def start_step_size(settings: ChEESSettings, shared: ChEESShared, step_size: float) -> None:
    r"""The shared step size starts at ``step_size`` (the median of the chains' searches), and
    dual averaging from there, shrinking toward :math:`\mu = \log(b\,\epsilon_0)` with
    ``b = settings.step_size_bias``."""
    shared.step_size[0] = step_size
    dual_averaging_init(shared.dual_averaging, step_size)
    shared.dual_averaging[DA_MU] = math.log(settings.step_size_bias * step_size)


def _blocks(n_chains: int, block_size: int | None) -> list[tuple[int, int]]:
    if block_size is None:
        block_size = max(1, -(-n_chains // max(1, numba.get_num_threads())))
    return [(lo, min(n_chains, lo + block_size)) for lo in range(0, n_chains, block_size)]


def run(
    address: int,
    data_ptrs: Sequence[int],
    settings: ChEESSettings,
    shared: ChEESShared,
    chains: ChEESChains,
    output: SampleOutput,
    start: int,
    stop: int,
    out_offset: int = 0,
    block_size: int | None = None,
    initial_length: float | None = None,
) -> None:
    """Advance every chain through iterations ``[start, stop)``, in place.

    Iteration ``i`` is written at output index ``i - out_offset`` when in range. Blocks of
    ``block_size`` chains (default: one block per Numba thread) run on threads, block ``b`` with
    the model data pointer ``data_ptrs[b]`` (a model's workspace is in its data table, so
    concurrent blocks need their own). The draws are the same for any blocks and threads.
    ``initial_length`` (iteration 0 only): the first trajectory length, default the step size.
    """
    n_chains, dim = chains.position.shape
    check_output(output, n_chains, dim)
    blocks = _blocks(n_chains, block_size)
    if len(data_ptrs) < len(blocks):
        raise ValueError(f"{len(data_ptrs)} data pointers for {len(blocks)} blocks of chains")

    def each_block(kernel, *args) -> None:
        run_side_by_side([lambda lo=lo, hi=hi, b=b: kernel(address, int(data_ptrs[b]), lo, hi,
                                                           *args)
                          for b, (lo, hi) in enumerate(blocks)], len(blocks))

    for i in range(start, stop):
        if i == 0 and settings.num_warmup > 0 and settings.adapt_step_size:
            found = np.full(n_chains, np.nan)
            each_block(step_size_search, shared, chains, found)
            ok = found[np.isfinite(found)]
            if ok.size == 0:
                raise SamplerError("ChEES: the step-size search failed from every chain "
                                   "(the density is not finite near the initial points)")
            eps0 = float(np.median(ok))
            start_step_size(settings, shared, eps0)
            length = eps0 if initial_length is None else initial_length
            shared.log_length[0] = shared.log_length_bar[0] = math.log(length)
        elif i == 0 and initial_length is not None:
            shared.log_length[0] = shared.log_length_bar[0] = math.log(initial_length)
        each_block(chees_transitions, np.int64(i), np.int64(i - out_offset), settings,
                   shared, chains, output)
        if i < settings.num_warmup:
            chees_adapt(np.int64(i), settings, shared, chains)

