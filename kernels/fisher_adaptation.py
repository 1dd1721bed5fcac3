r"""nutpie's warmup: a diagonal mass matrix from draw *and* gradient variances, updated every draw.

This is the adaptation of nutpie / nuts-rs (``pymc-devs/nuts-rs`` @5332136:
``src/adapt_strategy.rs``, ``src/transform/adapt/diagonal.rs``, ``src/transform/diagonal.rs``,
``src/math/cpu_math.rs``, ``src/stepsize/adapt.rs``), the "diagonal Fisher" preconditioner of
Seyboldt, Carlson & Carpenter (2026). :mod:`kernels.sampler` selects it instead of Stan's
windowed adaptation (:mod:`kernels.stan_adaptation`) when ``mass_matrix_adaptation="fisher"``.

The estimator
    For a diagonal affine map :math:`x = \mu + \sigma \odot z`, the Fisher divergence between the
    transformed target and :math:`N(0, I)` is minimised (over draws :math:`x` with scores
    :math:`s = \nabla\log\pi(x)`) by

    .. math:: \sigma_i^2 = \sqrt{\operatorname{Var}[x_i] / \operatorname{Var}[s_i]},

    which is the inverse mass matrix :math:`M^{-1}_{ii}` (:func:`fisher_inv_metric`). For a
    Gaussian :math:`N(m, \operatorname{diag}(v))`, :math:`\operatorname{Var}[s_i] = 1/v_i`, so the
    estimate is exactly :math:`v_i`, like the variance estimate, but the gradient variance
    carries information about the scale from the first few draws on (a point far out in the tail
    has a large gradient), which lets the metric be estimated from very short windows. Values
    are clamped to :math:`[10^{-20}, 10^{20}]`; a coordinate whose ratio is 0 or not finite (no
    movement yet, overflow) keeps its previous value (nuts-rs passes ``fill_invalid = None``).
    The initial metric uses the gradient at the initial point alone:
    :math:`M^{-1}_{ii} = 1 / |\nabla_i \log\pi(x_0)|` (clamped likewise; 1 if not finite)
    (:func:`fisher_init_metric`; nuts-rs ``array_update_var_inv_std_grad``).

Foreground and background estimators (one chain's state)
    ``counts`` ``float64[FISHER_N_COUNTS]`` = ``[foreground count, background count, number of
    metric updates]`` and ``moments`` ``float64[FISHER_N_ROWS, d]`` = Welford means and sums of
    squared deviations of the draws and of the gradients, foreground rows first
    (``FG_Q_MEAN, FG_Q_M2, FG_G_MEAN, FG_G_M2``) then background rows (``BG_*``). Every
    warmup draw (and the initial point) is added to *both* (:func:`fisher_add`); the metric is
    recomputed after every draw from the foreground once it holds at least
    :data:`FISHER_MIN_COUNT` = 3 draws (nuts-rs ``adapt``: ``current_count() < 3`` means no
    change). At a *switch* (:func:`fisher_switch`) the foreground is replaced by the background
    -- i.e. by the draws since the previous switch -- and the background restarts empty, so the
    metric always rests on recent draws only and forgets the transient of early warmup.

    A draw is *admitted* (:func:`admit_draw`, nuts-rs ``DrawGradCollector``) when its index in
    the trajectory is not 0 (the chain moved) and, for a divergent transition, when it is more
    than 4 leapfrog steps from the start: the draw of a divergent transition near its start
    sits where the integrator fails (a funnel's neck), and its huge gradient would shrink the
    metric for the whole posterior. With static HMC (no index) a draw is admitted if the chain
    moved.

The schedule (:func:`fisher_schedule`)
    With ``N`` warmup iterations (nuts-rs defaults in parentheses), the first
    ``int(early_window N)`` (0.3) iterations switch every ``early_switch_freq`` (10) draws;
    afterwards windows start at ``switch_freq`` (80) draws -- or at the background count at the
    end of the early phase if larger -- and grow by ``window_growth`` (1.5; the next size is
    ``max(w + 1, round(1.5 w))``); a switch is skipped when the *next* window would not end
    before the final step-size window, so the last foreground keeps accumulating until then.
    The final ``int(step_size_window N)`` (0.15) iterations adapt only the step size. The
    schedule counts every draw, including the initial point in the first window (as nuts-rs does
    when no draw is rejected), so that it is a fixed per-iteration flag array and the compiled
    driver does not depend on it; for ``N = 1000`` the switches are after iterations
    8, 18, ..., 298 (every 10), 378 (window 80) and 498 (window 120); the window of 180 that
    would end at 678 is not switched because 678 + 270 > 850, so the final metric rests on
    iterations 379-849, and 850-999 adapt the step size only.

Step size (nuts-rs ``GlobalStrategy::adapt`` and ``stepsize/adapt.rs``)
    Dual averaging (:mod:`kernels.step_size`) runs through the whole warmup and is restarted
    only once: at the first metric update :mod:`kernels.sampler` runs the step-size search
    (:func:`kernels.step_size.find_reasonable_step_size`) from the current point with the new
    metric, and
    sets :math:`\mu = \log(10\epsilon)`. It is *not* restarted at switches (unlike Stan's
    window ends). The final step size is
    :math:`e^{\bar x}` (nuts-rs ``use_best_guess``). Differences from nuts-rs: the step-size
    search is Stan's (same 0.8 threshold on the one-step acceptance, but no 100-iteration cap;
    it stops the chain with a status when the step size passes :math:`10^7`), the adaptation
    statistic is Stan's mean acceptance until no switch can come, then (:data:`LATE`) the
    symmetrised statistic of :mod:`kernels.nuts_transition` as in nuts-rs (NUTS only), the step size is not capped at :math:`\pi`, and the Welford sums
    are the textbook ones (nuts-rs accumulates :math:`(x - \bar x_{old})^2`; the ratio of the
    two variances does not depend on their common :math:`1/(n-1)`).

References
----------
Seyboldt, A., Carlson, E. and Carpenter, B. (2026). Preconditioning Hamiltonian Monte Carlo by
minimizing Fisher divergence. arXiv:2603.18845.

nuts-rs / nutpie, https://github.com/pymc-devs/nuts-rs (``src/adapt_strategy.rs``,
``src/transform/adapt/diagonal.rs``).

Hoffman, M. D. and Gelman, A. (2014). The No-U-Turn Sampler. *JMLR* 15, 1593-1623 (dual
averaging).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.jit import njit, signature
from kernels.stan_adaptation import COLLECT, welford_add_diag
from kernels.step_size import dual_averaging_update

__all__ = [
    "SWITCH",
    "LATE",
    "FISHER_N_COUNTS",
    "FISHER_N_ROWS",
    "FISHER_MIN_COUNT",
    "FISHER_LOWER",
    "FISHER_UPPER",
    "FG_COUNT",
    "BG_COUNT",
    "N_UPDATES",
    "fisher_schedule",
    "fisher_switches",
    "fisher_inv_metric",
    "fisher_init_metric",
    "fisher_add",
    "fisher_switch",
    "fisher_adapt",
    "admit_draw",
    "ADMIT_DIVERGENT_INDEX",
]

#: Schedule flag: after adding this iteration's draw, the foreground becomes the background.
SWITCH = 4
#: Schedule flag: dual averaging reads the symmetric acceptance statistic (nuts-rs
#: ``update_estimator_late``): from the first draw after which no switch can come, to the end.
LATE = 16

#: Length of one chain's ``counts`` row.
FISHER_N_COUNTS = 3
#: ``counts`` index: draws in the foreground estimator.
FG_COUNT = 0
#: ``counts`` index: draws in the background estimator.
BG_COUNT = 1
#: ``counts`` index: number of metric updates so far (the first one re-initialises the step size).
N_UPDATES = 2

# rows of one chain's ``moments``: Welford mean and m2 of draws (Q) and gradients (G)
FG_Q_MEAN, FG_Q_M2, FG_G_MEAN, FG_G_M2 = 0, 1, 2, 3
BG_Q_MEAN, BG_Q_M2, BG_G_MEAN, BG_G_M2 = 4, 5, 6, 7
#: Number of rows of one chain's ``moments`` (foreground then background).
FISHER_N_ROWS = 8

#: A divergent transition's draw is admitted only beyond this many steps from the start.
ADMIT_DIVERGENT_INDEX = 4.0
#: Fewest foreground draws from which the metric is estimated (nuts-rs: 3).
FISHER_MIN_COUNT = 3.0
#: Clamping range of an inverse-metric entry (nuts-rs ``LOWER_LIMIT``, ``UPPER_LIMIT``).
FISHER_LOWER = 1e-20
FISHER_UPPER = 1e20


# --------------------------------------------------------------------------------------------
# Schedule
# --------------------------------------------------------------------------------------------


def _grow(window: int, growth: float) -> int:
    # nuts-rs: max(w + 1, (w * growth).round()), Rust rounding = half away from zero
    return max(window + 1, int(math.floor(window * growth + 0.5)))


def fisher_schedule(
    num_warmup: int,
    early_window: float = 0.3,
    step_size_window: float = 0.15,
    early_switch_freq: int = 10,
    switch_freq: int = 80,
    window_growth: float = 1.5,
) -> np.ndarray:
    r"""nutpie's switch schedule as one flag per warmup iteration (see the module docstring).

    Parameters
    ----------
    num_warmup : int
        Number of warmup iterations :math:`N`.
    early_window : float
        Fraction of :math:`N` with frequent switches (nuts-rs ``early_window``: 0.3).
    step_size_window : float
        Final fraction of :math:`N` that adapts only the step size (``step_size_window``: 0.15).
    early_switch_freq : int
        Draws between switches in the early phase (``early_mass_matrix_switch_freq``: 10).
    switch_freq : int
        First window after the early phase (``mass_matrix_switch_freq``: 80).
    window_growth : float
        Growth factor of later windows, :math:`\ge 1` (``mass_matrix_window_growth``: 1.5).

    Returns
    -------
    numpy.ndarray
        ``int8`` array of length ``num_warmup``. Bit :data:`kernels.stan_adaptation.COLLECT`:
        add the draw to both estimators and update the metric from the foreground (every
        iteration before the final step-size window); bit :data:`SWITCH`: then switch
        estimators; bit :data:`LATE`: adapt the step size to the symmetric acceptance
        statistic (no switch can come any more).

    Examples
    --------
    >>> s = fisher_schedule(1000)
    >>> fisher_switches(s)[:3], fisher_switches(s)[-3:], int((s & COLLECT).sum())
    ([8, 18, 28], [298, 378, 498], 850)
    """
    n = int(num_warmup)
    if n < 0:
        raise ValueError(f"num_warmup must be >= 0, got {num_warmup}")
    if not (0.0 <= early_window < 1.0 and 0.0 <= step_size_window < 1.0):
        raise ValueError("early_window and step_size_window must be fractions in [0, 1)")
    if early_switch_freq < 1 or switch_freq < 1 or not window_growth >= 1.0:
        raise ValueError("switch frequencies must be >= 1 and window_growth >= 1")
    schedule = np.zeros(n, dtype=np.int8)
    early_end = int(early_window * n)
    final_start = n - int(step_size_window * n)
    background = 1  # the initial point is in both estimators
    window = int(switch_freq)
    for i in range(final_start):
        early = i < early_end
        if i == early_end:  # first main-phase draw: never shrink below the current background
            window = max(window, background)
        freq = early_switch_freq if early else window
        schedule[i] |= COLLECT
        background += 1
        next_window = early_switch_freq if early else _grow(window, window_growth)
        late = next_window + i > final_start
        if late:
            schedule[i] |= LATE
        if background >= freq and not late:
            schedule[i] |= SWITCH
            background = 0
            if not early:
                window = next_window
    schedule[final_start:] |= LATE
    return schedule


def fisher_switches(schedule: np.ndarray) -> list[int]:
    """The (0-based) iterations after which the estimators switch."""
    return [int(i) for i in np.flatnonzero(np.asarray(schedule) & SWITCH)]


# --------------------------------------------------------------------------------------------
# Estimator
# --------------------------------------------------------------------------------------------


@njit(inline="always")
def fisher_inv_metric(var_q: np.ndarray, var_g: np.ndarray, inv_diag: np.ndarray) -> None:
    r""":math:`M^{-1}_{ii} = \sqrt{\mathrm{Var}[x_i]/\mathrm{Var}[s_i]}` into ``inv_diag``.

    The variances may carry any common scale factor (e.g. Welford sums ``m2`` instead of
    ``m2 / (n - 1)``). Entries are clamped to ``[FISHER_LOWER, FISHER_UPPER]``; where the ratio
    is 0 or not finite ``inv_diag`` keeps its value.

    Examples
    --------
    >>> import numpy as np
    >>> out = np.ones(3)
    >>> fisher_inv_metric(np.array([4.0, 0.0, 1.0]), np.array([0.25, 1.0, 0.0]), out)
    >>> out.tolist()
    [4.0, 1.0, 1.0]
    """
    for i in range(inv_diag.shape[0]):
        ratio = math.sqrt(var_q[i] / var_g[i]) if var_g[i] > 0.0 else math.inf
        if ratio > 0.0 and math.isfinite(ratio):
            inv_diag[i] = min(max(ratio, FISHER_LOWER), FISHER_UPPER)


@signature(lambda t: (t.vector, t.vector))
@njit
def fisher_init_metric(grad: np.ndarray, inv_diag: np.ndarray) -> None:
    r"""Initial metric :math:`M^{-1}_{ii} = 1/|\nabla_i\log\pi(x_0)|` (clamped; 1 if not finite).

    Examples
    --------
    >>> import numpy as np
    >>> out = np.empty(3)
    >>> fisher_init_metric(np.array([-4.0, 0.0, 0.5]), out)
    >>> out.tolist()
    [0.25, 1e+20, 2.0]
    """
    for i in range(inv_diag.shape[0]):
        a = min(max(abs(grad[i]), FISHER_LOWER), FISHER_UPPER)
        inv_diag[i] = 1.0 / a if math.isfinite(a) else 1.0


@njit(inline="always")
def admit_draw(index: float, diverging: bool) -> bool:
    """Whether a warmup draw enters the estimators (module docstring): ``index`` is its signed
    index in the trajectory (static HMC: 0 if the chain stayed, 1 if it moved).

    Examples
    --------
    >>> [admit_draw(i, False) for i in (0.0, -1.0, 3.0)], [admit_draw(i, True) for i in (4.0, -5.0)]
    ([False, True, True], [False, True])
    """
    if diverging:
        return abs(index) > ADMIT_DIVERGENT_INDEX
    return index != 0.0


@signature(lambda t: (t.row.fisher_counts, t.row.fisher_moments, t.vector, t.vector))
@njit
def fisher_add(counts: np.ndarray, moments: np.ndarray, q: np.ndarray, g: np.ndarray) -> None:
    """Add the draw ``q`` and its gradient ``g`` to the foreground and background estimators."""
    # draws and gradients share one count: the draw's Welford update returns it incremented.
    # (Written out, not looped over (count, row) pairs: constant arguments of a helper would
    # each compile a specialisation.)
    n = counts[FG_COUNT]
    counts[FG_COUNT] = welford_add_diag(n, moments[FG_Q_MEAN], moments[FG_Q_M2], q)
    welford_add_diag(n, moments[FG_G_MEAN], moments[FG_G_M2], g)
    n = counts[BG_COUNT]
    counts[BG_COUNT] = welford_add_diag(n, moments[BG_Q_MEAN], moments[BG_Q_M2], q)
    welford_add_diag(n, moments[BG_G_MEAN], moments[BG_G_M2], g)


@njit(inline="always")
def fisher_switch(counts: np.ndarray, moments: np.ndarray) -> None:
    """The foreground becomes the background; the background restarts empty."""
    for r in range(4):
        for k in range(moments.shape[1]):
            moments[FG_Q_MEAN + r, k] = moments[BG_Q_MEAN + r, k]
            moments[BG_Q_MEAN + r, k] = 0.0
    counts[FG_COUNT] = counts[BG_COUNT]
    counts[BG_COUNT] = 0.0


@signature(lambda t: (t.schedule_flag, t.options, t.boolean, t.vector, t.vector, t.vector, t.f8,
                     t.f8, t.row.fisher_counts, t.row.fisher_moments, t.row.dual_averaging))
@njit
def fisher_adapt(
    flag: int,
    options,
    admit: bool,
    inv_diag: np.ndarray,
    q: np.ndarray,
    g: np.ndarray,
    accept_stat: float,
    step_size: float,
    counts: np.ndarray,
    moments: np.ndarray,
    da: np.ndarray,
) -> tuple[float, bool]:
    """One chain's adaptation after a warmup transition to ``q``.

    With ``flag`` bit :data:`kernels.stan_adaptation.COLLECT`: adds the draw ``q`` and its
    gradient ``g`` to both estimators if ``admit`` (:func:`admit_draw`), switches them if
    ``flag`` has :data:`SWITCH`, and recomputes ``inv_diag`` from the foreground if it holds at
    least :data:`FISHER_MIN_COUNT` draws. After the first metric update the caller must search a step
    size for the new metric and restart dual averaging there (nuts-rs ``GlobalStrategy::adapt``
    runs ``step_size.init`` at the first change); every other iteration makes a dual-averaging
    update here with ``accept_stat`` (if ``options.adapt_step_size``; ``options`` is the
    driver's :class:`kernels.options.DriverOptions`).

    Returns
    -------
    (float, bool)
        The nominal step size for the next transition, and whether the step size must be
        searched now (first metric update).
    """
    if flag & COLLECT:
        if admit:
            fisher_add(counts, moments, q, g)
        if flag & SWITCH:
            fisher_switch(counts, moments)
        if counts[FG_COUNT] >= FISHER_MIN_COUNT:
            fisher_inv_metric(moments[FG_Q_M2], moments[FG_G_M2], inv_diag)
            counts[N_UPDATES] += 1.0
            if counts[N_UPDATES] == 1.0:
                return step_size, True
    if options.adapt_step_size:
        step_size = dual_averaging_update(da, accept_stat, options.target_accept_prob,
                                          options.gamma, options.kappa, options.t0)
    return step_size, False
