r"""Convergence diagnostics and posterior summaries for MCMC draws.

Every statistic takes draws ``x`` of shape ``(chain, draw)`` or
``(chain, draw, *param_shape)`` and is computed separately for each scalar
component, vectorised over the trailing dimensions; the result has shape
``param_shape`` (a NumPy scalar when ``x`` is ``(chain, draw)``).  A 1-D array
is taken as a single chain.

The estimators are those of Vehtari et al. (2021), as implemented in Stan,
the R package *posterior* and ArviZ:

* **Split chains.**  Each chain of ``n`` draws is cut into two halves of
  ``n' = floor(n / 2)`` draws (the middle draw is dropped when ``n`` is odd),
  giving ``M = 2 C`` chains.
* **Potential scale reduction.**  With within-chain variance
  :math:`W = \frac1M \sum_m s_m^2` and between-chain variance
  :math:`B = \frac{n'}{M-1} \sum_m (\bar\theta_m - \bar\theta)^2`,

  .. math:: \widehat{\mathrm{var}}^+ = \frac{n'-1}{n'} W + \frac{B}{n'},
            \qquad \hat R = \sqrt{\widehat{\mathrm{var}}^+ / W}.

* **Rank normalisation.**  Draws are replaced by normal scores
  :math:`z = \Phi^{-1}\big((r - 3/8) / (S + 1/4)\big)`, where ``r`` is the
  (average) rank of a draw among all ``S = M n'`` split draws.
* **Folding.**  :math:`\zeta = |\theta - \operatorname{median}(\theta)|`
  measures convergence of the scale / tails.
* **Effective sample size.**  From the FFT autocovariances
  :math:`\gamma_{m,t}` of each split chain,
  :math:`\hat\rho_t = 1 - (W - \frac1M\sum_m \gamma_{m,t}) / \widehat{\mathrm{var}}^+`.
  The pair sums :math:`P_k = \hat\rho_{2k} + \hat\rho_{2k+1}` are truncated
  at the first non-positive one (Geyer's initial positive sequence) and made
  non-increasing (Geyer's initial monotone sequence); then
  :math:`\hat\tau = -1 + 2 \sum_k P_k` (plus the last positive even-lag term),
  :math:`\hat\tau \ge 1 / \log_{10} S`, and :math:`\mathrm{ESS} = S / \hat\tau`.

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Bürkner, P.-C. (2021).
Rank-normalization, folding, and localization: An improved R-hat for assessing
convergence of MCMC (with discussion). *Bayesian Analysis* 16(2), 667-718.
https://doi.org/10.1214/20-BA1221

Geyer, C. J. (1992). Practical Markov chain Monte Carlo. *Statistical Science*
7(4), 473-483.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import fft as _sp_fft
from scipy import special as _special

from inference.ranks import average_ranks

__all__ = [
    "Summary",
    "ess_bulk",
    "ess_mean",
    "ess_sd",
    "ess_tail",
    "format_summary",
    "hdi",
    "mcse_mean",
    "mcse_sd",
    "rhat",
    "split_rhat",
    "summary",
]

_MIN_DRAWS = 4  # fewer draws per chain than this give NaN, as in ArviZ / posterior


# ---------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------


def _as_chains(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return draws as a contiguous float array (K, chain, draw) and the parameter shape.

    Internally every scalar parameter is one row, so that sorting, ranking and
    FFTs run along the last (contiguous) axis.
    """
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        raise ValueError("draws must have shape (chain, draw, *param_shape); got a scalar")
    if a.ndim == 1:
        a = a[None, :]
    param_shape = a.shape[2:]
    k = math.prod(param_shape)
    a = a.reshape(a.shape[0], a.shape[1], k)
    return np.ascontiguousarray(a.transpose(2, 0, 1)), param_shape


def _shape_out(values: np.ndarray, param_shape: tuple[int, ...]):
    """Reshape a (K,) result to ``param_shape``; a NumPy scalar for scalar parameters."""
    out = np.asarray(values, dtype=float).reshape(param_shape)
    return out[()] if out.ndim == 0 else out


def _split(a: np.ndarray) -> np.ndarray:
    """Split each chain of (K, chain, draw) into halves -> (K, 2 chain, draw // 2)."""
    n = a.shape[2]
    half = n // 2
    return np.concatenate([a[:, :, :half], a[:, :, n - half :]], axis=1)


def _rank_normalise(a: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled average ranks, per row of (K, chain, draw)."""
    k, m, n = a.shape
    s = m * n
    ranks = average_ranks(a.reshape(k, s))
    return _special.ndtri((ranks - 0.375) / (s + 0.25)).reshape(k, m, n)


def _fold(a: np.ndarray) -> np.ndarray:
    """Absolute deviation from the pooled median, per row of (K, chain, draw)."""
    return np.abs(a - np.median(a, axis=(1, 2), keepdims=True))


def _bad_columns(a: np.ndarray) -> np.ndarray:
    """Parameters that give NaN: any NaN draw, or too few draws per chain."""
    if a.shape[2] < _MIN_DRAWS or a.shape[1] < 1:
        return np.ones(a.shape[0], dtype=bool)
    return np.isnan(a).any(axis=(1, 2))


# ---------------------------------------------------------------------------
# cores: (K, chain, draw) -> (K,)
# ---------------------------------------------------------------------------


def _mean_autocov(a: np.ndarray) -> np.ndarray:
    """Chain-averaged biased (1/n) autocovariance at every lag, (K, M, n) -> (K, n).

    Each chain is centred and zero-padded to at least twice its length; the
    periodograms are averaged over chains before the inverse FFT (the average
    of the chains' autocovariances, computed with one inverse transform).
    """
    n = a.shape[2]
    centred = a - a.mean(axis=2, keepdims=True)
    m = _sp_fft.next_fast_len(2 * n)
    f = np.fft.rfft(centred, n=m, axis=2)
    power = (f.real**2 + f.imag**2).mean(axis=1)
    return np.fft.irfft(power, n=m, axis=1)[:, :n] / n


def _rhat_core(a: np.ndarray) -> np.ndarray:
    """Potential scale reduction of already split/normalised chains (K, M, n)."""
    n = a.shape[2]
    if n < 2 or a.shape[1] < 2:
        return np.full(a.shape[0], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = n * np.var(a.mean(axis=2), axis=1, ddof=1)
        within = np.mean(np.var(a, axis=2, ddof=1), axis=1)
        return np.sqrt((between / within + n - 1) / n)


def _ess_core(a: np.ndarray) -> np.ndarray:
    """Effective sample size of (K, M, n) chains (Geyer initial monotone sequence).

    Rows that are constant (range below float resolution) get ESS equal to
    the number of draws ``M n``; rows with NaN get NaN.
    """
    k, m, n = a.shape
    s = m * n
    out = np.full(k, np.nan)
    if n < 2 or k == 0:
        return out
    nan_rows = np.isnan(a).any(axis=(1, 2))
    with np.errstate(invalid="ignore"):
        spread = np.max(a, axis=(1, 2)) - np.min(a, axis=(1, 2))
    const = ~nan_rows & (spread < np.finfo(float).resolution)
    out[const] = s
    work = ~nan_rows & ~const
    if not work.any():
        return out
    y = a[work] if not work.all() else a

    acov = _mean_autocov(y)  # (Kw, n)
    mean_var = acov[:, 0] * n / (n - 1.0)  # W: mean within-chain variance
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + np.var(y.mean(axis=2), axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov) / var_plus[:, None]  # (Kw, n)
    rho[:, 0] = 1.0

    # Pair sums P_j = rho[2j] + rho[2j+1].  Pairs j = 1, 2, ... are examined while the
    # previous pair sum is positive and 2j - 1 < n - 3 (the lag range Stan/ArviZ use).
    jmax = max(0, (n - 3) // 2)
    pairs = rho[:, 0 : 2 * jmax + 2 : 2] + rho[:, 1 : 2 * jmax + 2 : 2]  # (Kw, jmax + 1)
    stop = np.ones((pairs.shape[0], jmax + 1), dtype=bool)  # sentinel column: stop at jmax
    stop[:, :jmax] = ~(pairs[:, :jmax] > 0.0)
    n_kept = np.argmax(stop, axis=1)  # J: number of pairs kept
    # Initial monotone sequence: each kept pair sum is at most the previous one.
    monotone = np.minimum.accumulate(pairs[:, :jmax], axis=1)
    kept = np.arange(jmax)[None, :] < n_kept[:, None]
    total = np.where(kept, monotone, 0.0).sum(axis=1)
    # The first examined-but-dropped pair still contributes its even lag when positive.
    rows = np.arange(pairs.shape[0])
    last_even = rho[rows, 2 * n_kept]
    last_pair = pairs[rows, n_kept]
    last = np.where((last_pair >= 0.0) | (last_even > 0.0), last_even, 0.0)

    tau = -1.0 + 2.0 * total + last
    tau = np.maximum(tau, 1.0 / np.log10(s))
    ess = s / tau
    ess[~(np.isfinite(var_plus) & np.isfinite(rho[:, 1]))] = np.nan
    out[work] = ess
    return out


def _ess_of(a: np.ndarray) -> np.ndarray:
    """ESS of split (K, chain, draw) draws with the NaN / short-chain convention."""
    out = _ess_core(_split(a))
    out[_bad_columns(a)] = np.nan
    return out


def _quantile_indicator(a: np.ndarray, prob: float) -> np.ndarray:
    """Indicator I(theta <= q_prob) with q the pooled type-7 (linear) quantile."""
    q = np.quantile(a, prob, axis=(1, 2), keepdims=True)
    return (a <= q).astype(float)


# ---------------------------------------------------------------------------
# statistics on the internal layout: (K, chain, draw) -> (K,)
# ---------------------------------------------------------------------------


def _split_rhat_k(a: np.ndarray) -> np.ndarray:
    if a.shape[0] == 0:
        return np.empty(0)
    out = _rhat_core(_split(a))
    out[_bad_columns(a)] = np.nan
    return out


def _rhat_k(a: np.ndarray, z_split: np.ndarray | None = None) -> np.ndarray:
    """Max of bulk and folded rank-normalised split R-hat (``z_split`` may be reused)."""
    if a.shape[0] == 0:
        return np.empty(0)
    split = _split(a)
    with np.errstate(invalid="ignore"):
        z = _rank_normalise(split) if z_split is None else z_split
        bulk = _rhat_core(z)
        tail = _rhat_core(_rank_normalise(_fold(split)))
    out = np.fmax(bulk, tail)
    out[np.isnan(bulk) | np.isnan(tail) | _bad_columns(a)] = np.nan
    return out


def _ess_bulk_k(a: np.ndarray, z_split: np.ndarray | None = None) -> np.ndarray:
    if a.shape[0] == 0:
        return np.empty(0)
    if z_split is None:
        with np.errstate(invalid="ignore"):
            z_split = _rank_normalise(_split(a))
    out = _ess_core(z_split)
    out[_bad_columns(a)] = np.nan
    return out


def _ess_tail_k(a: np.ndarray, prob: tuple[float, float] = (0.05, 0.95)) -> np.ndarray:
    if a.shape[0] == 0:
        return np.empty(0)
    bad = _bad_columns(a)
    safe = np.where(bad[:, None, None], 0.0, a)  # quantiles of NaN rows are not needed
    low = _ess_core(_split(_quantile_indicator(safe, prob[0])))
    high = _ess_core(_split(_quantile_indicator(safe, prob[1])))
    out = np.minimum(low, high)
    out[bad] = np.nan
    return out


def _squared_deviation(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(axis=(1, 2), keepdims=True)) ** 2


def _mcse_mean_k(a: np.ndarray) -> np.ndarray:
    sd = np.std(a, axis=(1, 2), ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sd / np.sqrt(_ess_of(a))


def _mcse_sd_k(a: np.ndarray) -> np.ndarray:
    c = _squared_deviation(a)
    m2 = c.mean(axis=(1, 2))
    m4 = (c**2).mean(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((m4 - m2**2) / _ess_of(c) / m2 / 4.0)


def _hdi_k(a: np.ndarray, prob: float) -> np.ndarray:
    if not 0.0 < prob <= 1.0:
        raise ValueError(f"prob must be in (0, 1], got {prob}")
    k, c, n = a.shape
    if k == 0:
        return np.empty((0, 2))
    s = c * n
    if s < 2:
        raise ValueError("hdi needs at least two draws")
    flat = np.sort(a.reshape(k, s), axis=1)
    m = min(int(np.floor(prob * s)), s - 1)
    widths = flat[:, m:] - flat[:, : s - m]
    start = np.argmin(widths, axis=1)
    rows = np.arange(k)
    out = np.stack([flat[rows, start], flat[rows, start + m]], axis=-1)
    out[np.isnan(a).any(axis=(1, 2))] = np.nan
    return out


# ---------------------------------------------------------------------------
# public statistics
# ---------------------------------------------------------------------------


def split_rhat(x: np.ndarray):
    r"""Classic split-chain potential scale reduction :math:`\hat R` (no ranks).

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.

    Returns
    -------
    float or ndarray of shape ``param_shape``
        :math:`\sqrt{\widehat{\mathrm{var}}^+ / W}` of the split chains
        (Gelman et al., BDA3 section 11.4; Vehtari et al. 2021, eq. 4).
        NaN for fewer than 4 draws per chain or if any draw is NaN.

    Notes
    -----
    A single chain is allowed: its two halves are compared (as in Stan and
    *posterior*; ArviZ returns NaN for one chain).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(1).normal(size=(4, 1000))
    >>> bool(abs(split_rhat(x) - 1.0) < 0.01)
    True
    """
    a, shape = _as_chains(x)
    return _shape_out(_split_rhat_k(a), shape)


def rhat(x: np.ndarray):
    r"""Rank-normalised split :math:`\hat R` (Vehtari et al. 2021).

    The maximum of the *bulk* :math:`\hat R` (split chains, rank-normalised)
    and the *tail* :math:`\hat R` (split chains folded around their pooled
    median, :math:`|\theta - \operatorname{median}|`, then rank-normalised).
    Values above 1.01 suggest that the chains have not mixed.

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.

    Returns
    -------
    float or ndarray of shape ``param_shape``
        NaN for fewer than 4 draws per chain, any NaN draw, or a constant
        parameter.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> mixed = rng.normal(size=(4, 1000))
    >>> stuck = mixed + np.arange(4)[:, None]          # chains centred at 0, 1, 2, 3
    >>> bool(rhat(mixed) < 1.01), bool(rhat(stuck) > 1.1)
    (True, True)
    """
    a, shape = _as_chains(x)
    return _shape_out(_rhat_k(a), shape)


def ess_bulk(x: np.ndarray):
    r"""Bulk effective sample size: ESS of the rank-normalised split chains.

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.

    Returns
    -------
    float or ndarray of shape ``param_shape``
        :math:`S / \hat\tau` for the normal scores
        :math:`\Phi^{-1}((r - 3/8)/(S + 1/4))` of the split draws; robust to
        heavy tails.  Constant parameters get ``S``; NaN for fewer than 4
        draws per chain or any NaN draw.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(3).normal(size=(4, 1000))
    >>> bool(3600 < ess_bulk(x) < 4400)                # independent draws: about 4000
    True
    >>> ess_bulk(np.zeros((2, 3, 10))).shape
    (10,)
    """
    a, shape = _as_chains(x)
    return _shape_out(_ess_bulk_k(a), shape)


def ess_tail(x: np.ndarray, prob: tuple[float, float] = (0.05, 0.95)):
    r"""Tail effective sample size: the smaller quantile ESS of the two tails.

    For :math:`q \in \{0.05, 0.95\}` the ESS of the split-chain indicator
    :math:`I(\theta \le \hat Q_q)` (pooled linear quantile :math:`\hat Q_q`)
    is computed; the minimum of the two is returned.

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.
    prob : pair of float, default (0.05, 0.95)
        The two quantile levels.

    Returns
    -------
    float or ndarray of shape ``param_shape``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(4).normal(size=(4, 1000))
    >>> bool(3000 < ess_tail(x) < 5000)
    True
    """
    a, shape = _as_chains(x)
    return _shape_out(_ess_tail_k(a, prob), shape)


def ess_mean(x: np.ndarray):
    r"""Effective sample size for the mean: ESS of the split chains, no ranks.

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.

    Returns
    -------
    float or ndarray of shape ``param_shape``

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(5)
    >>> e = rng.normal(size=(4, 2000))
    >>> ar = np.zeros_like(e)                           # AR(1), phi = 0.9
    >>> for t in range(1, e.shape[1]):
    ...     ar[:, t] = 0.9 * ar[:, t - 1] + e[:, t]
    >>> bool(200 < ess_mean(ar) < 600)                  # about 8000 (1 - 0.9) / (1 + 0.9)
    True
    """
    a, shape = _as_chains(x)
    return _shape_out(_ess_of(a), shape)


def ess_sd(x: np.ndarray):
    r"""Effective sample size for the standard deviation.

    ESS (split chains, no ranks) of the squared deviations
    :math:`(\theta - \bar\theta)^2`, as in ArviZ's ``ess(method="sd")``.

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.

    Returns
    -------
    float or ndarray of shape ``param_shape``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(6).normal(size=(4, 1000))
    >>> bool(3500 < ess_sd(x) < 4500)
    True
    """
    a, shape = _as_chains(x)
    return _shape_out(_ess_of(_squared_deviation(a)), shape)


def mcse_mean(x: np.ndarray):
    r"""Monte Carlo standard error of the posterior mean.

    .. math:: \mathrm{MCSE}(\bar\theta) = \mathrm{sd}(\theta) / \sqrt{\mathrm{ESS}_{\mathrm{mean}}}

    with the pooled standard deviation (``ddof=1``) and :func:`ess_mean`.

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.

    Returns
    -------
    float or ndarray of shape ``param_shape``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(7).normal(size=(4, 2500))
    >>> bool(0.009 < mcse_mean(x) < 0.011)              # about 1 / sqrt(10000)
    True
    """
    a, shape = _as_chains(x)
    return _shape_out(_mcse_mean_k(a), shape)


def mcse_sd(x: np.ndarray):
    r"""Monte Carlo standard error of the posterior standard deviation.

    With :math:`c = (\theta - \bar\theta)^2`, :math:`m_2 = \bar c` and
    :math:`m_4 = \overline{c^2}`, the variance of the variance estimate is
    :math:`(m_4 - m_2^2) / \mathrm{ESS}_{\mathrm{mean}}(c)` and, by the delta
    method,

    .. math::
        \mathrm{MCSE}(\mathrm{sd})
        = \sqrt{\frac{m_4 - m_2^2}{4\, m_2\, \mathrm{ESS}_{\mathrm{mean}}(c)}}.

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.

    Returns
    -------
    float or ndarray of shape ``param_shape``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(8).normal(size=(4, 2500))
    >>> bool(0.005 < mcse_sd(x) < 0.01)                 # about 1 / sqrt(2 * 10000)
    True
    """
    a, shape = _as_chains(x)
    return _shape_out(_mcse_sd_k(a), shape)


def hdi(x: np.ndarray, prob: float = 0.9) -> np.ndarray:
    r"""Highest-density interval: the narrowest interval holding ``prob`` of the draws.

    The ``S`` pooled draws of each parameter are sorted,
    :math:`\theta_{(1)} \le \dots \le \theta_{(S)}`; with
    :math:`m = \lfloor p S \rfloor` the interval
    :math:`[\theta_{(i)}, \theta_{(i+m)}]` of smallest width is returned
    (one interval, which suits unimodal posteriors).

    Parameters
    ----------
    x : ndarray, shape (chain, draw) or (chain, draw, *param_shape)
        MCMC draws.
    prob : float, default 0.9
        Probability mass of the interval, in (0, 1].

    Returns
    -------
    ndarray of shape ``param_shape + (2,)``
        Lower and upper bounds in the last axis.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(100.0).reshape(2, 50)
    >>> hdi(x, prob=0.5)
    array([ 0., 50.])
    >>> x = np.random.default_rng(9).exponential(size=(4, 1000, 2))
    >>> lo, hi = hdi(x, 0.9).T
    >>> bool(np.all(lo < 0.01))                         # skewed: the HDI starts near 0
    True
    """
    a, shape = _as_chains(x)
    return _hdi_k(a, prob).reshape(*shape, 2)


# ---------------------------------------------------------------------------
# summary table
# ---------------------------------------------------------------------------


def _hdi_labels(prob: float) -> tuple[str, str]:
    tail = 100.0 * (1.0 - prob) / 2.0
    return f"hdi_{tail:g}%", f"hdi_{100.0 - tail:g}%"


@dataclass(frozen=True, eq=False)
class Summary:
    """A small table: one row per scalar parameter, one column per statistic.

    Attributes
    ----------
    names : tuple of str
        Row labels, e.g. ``"mu"``, ``"theta[3]"``, ``"L[0, 1]"``.
    columns : tuple of str
        Column labels: ``mean, sd, hdi_5%, hdi_95%, mcse_mean, mcse_sd,
        ess_bulk, ess_tail, r_hat`` (the HDI labels follow ``prob``).
    values : ndarray, shape (len(names), len(columns))

    Examples
    --------
    >>> import numpy as np
    >>> s = summary({"x": np.random.default_rng(0).normal(size=(2, 500, 3))})
    >>> s.names
    ('x[0]', 'x[1]', 'x[2]')
    >>> s["ess_bulk"].shape
    (3,)
    >>> sorted(s.row("x[1]"))[:3]
    ['ess_bulk', 'ess_tail', 'hdi_5%']
    """

    names: tuple[str, ...]
    columns: tuple[str, ...]
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, column: str) -> np.ndarray:
        """The column ``column`` as an array (one entry per row)."""
        try:
            j = self.columns.index(column)
        except ValueError:
            raise KeyError(f"no column {column!r}; columns are {self.columns}") from None
        return self.values[:, j]

    def row(self, name: str) -> dict[str, float]:
        """The statistics of parameter ``name`` as ``{column: value}``."""
        try:
            i = self.names.index(name)
        except ValueError:
            raise KeyError(f"no parameter {name!r}") from None
        return {c: float(v) for c, v in zip(self.columns, self.values[i])}

    def to_dict(self) -> dict[str, dict[str, float]]:
        """``{name: {column: value}}`` for every row."""
        return {name: self.row(name) for name in self.names}

    def __str__(self) -> str:
        return format_summary(self)


def _flat_names(name: str, shape: tuple[int, ...], index_base: int) -> list[str]:
    if not shape:
        return [name]
    return [
        f"{name}[{', '.join(str(i + index_base) for i in idx)}]" for idx in np.ndindex(*shape)
    ]


def summary(
    samples: Mapping[str, np.ndarray], prob: float = 0.9, index_base: int = 0
) -> Summary:
    """Posterior summary and convergence diagnostics for every scalar parameter.

    Parameters
    ----------
    samples : mapping of str to ndarray
        Each value has shape (chain, draw) or (chain, draw, *param_shape)
        (a 1-D array is a single chain).
    prob : float, default 0.9
        Probability of the highest-density interval.
    index_base : int, default 0
        First index used in row labels: 0 gives ``theta[0]`` (Python, ArviZ),
        1 gives ``theta[1]`` (Stan, posteriordb).

    Returns
    -------
    Summary
        Columns ``mean``, ``sd`` (``ddof=1``), the HDI bounds (``hdi_5%``,
        ``hdi_95%`` for ``prob=0.9``), ``mcse_mean``, ``mcse_sd``,
        ``ess_bulk``, ``ess_tail`` and ``r_hat`` (rank-normalised, see
        :func:`rhat`).  Print it, or pass it to :func:`format_summary`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = summary({"mu": rng.normal(size=(4, 1000)), "theta": rng.normal(size=(4, 1000, 2))})
    >>> s.columns
    ('mean', 'sd', 'hdi_5%', 'hdi_95%', 'mcse_mean', 'mcse_sd', 'ess_bulk', 'ess_tail', 'r_hat')
    >>> s.names
    ('mu', 'theta[0]', 'theta[1]')
    >>> bool(np.all(s["r_hat"] < 1.01))
    True
    """
    lo_label, hi_label = _hdi_labels(prob)
    columns = ("mean", "sd", lo_label, hi_label, "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail",
               "r_hat")
    names: list[str] = []
    blocks: list[np.ndarray] = []
    for name, x in samples.items():
        a, shape = _as_chains(x)
        interval = _hdi_k(a, prob)
        with np.errstate(invalid="ignore"):
            z_split = _rank_normalise(_split(a))
        cols = [
            a.mean(axis=(1, 2)),
            np.std(a, axis=(1, 2), ddof=1),
            interval[:, 0],
            interval[:, 1],
            _mcse_mean_k(a),
            _mcse_sd_k(a),
            _ess_bulk_k(a, z_split),
            _ess_tail_k(a),
            _rhat_k(a, z_split),
        ]
        blocks.append(np.column_stack(cols))
        names.extend(_flat_names(name, shape, index_base))
    values = np.concatenate(blocks, axis=0) if blocks else np.empty((0, len(columns)))
    return Summary(tuple(names), columns, values)


def _format_value(column: str, value: float, digits: int) -> str:
    if not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if column.startswith("ess"):
        return f"{value:.0f}"
    if column == "r_hat":
        return f"{value:.3f}"
    return f"{value:.{digits}g}"


def format_summary(
    table: Summary | Mapping[str, Mapping[str, float]], digits: int = 4
) -> str:
    """Render a summary as an aligned text table, one line per scalar parameter.

    Parameters
    ----------
    table : Summary or mapping
        The result of :func:`summary`, or ``{name: {column: value}}``.
    digits : int, default 4
        Significant digits for means, standard deviations, interval bounds
        and standard errors.  ESS is shown as a whole number and R-hat with
        three decimals.

    Returns
    -------
    str
        A header line and one right-aligned line per parameter.

    Examples
    --------
    >>> print(format_summary({"mu": {"mean": 1.23456, "sd": 0.5, "ess_bulk": 812.3,
    ...                              "r_hat": 1.0012},
    ...                       "theta[0]": {"mean": -10.0, "sd": 2.0, "ess_bulk": 95.0,
    ...                                    "r_hat": 1.05}}))
               mean   sd  ess_bulk  r_hat
          mu  1.235  0.5       812  1.001
    theta[0]    -10    2        95  1.050
    """
    if isinstance(table, Summary):
        names = list(table.names)
        columns = list(table.columns)
        rows = [list(map(float, r)) for r in table.values]
    else:
        names = list(table)
        columns = []
        for stats in table.values():
            columns.extend(c for c in stats if c not in columns)
        rows = [[float(table[n].get(c, np.nan)) for c in columns] for n in names]
    cells = [[_format_value(c, v, digits) for c, v in zip(columns, r)] for r in rows]
    name_w = max([len(n) for n in names] + [0])
    widths = [max([len(c)] + [len(r[j]) for r in cells]) for j, c in enumerate(columns)]
    lines = [" " * name_w + "".join(f"  {c:>{w}}" for c, w in zip(columns, widths))]
    for n, r in zip(names, cells):
        lines.append(f"{n:>{name_w}}" + "".join(f"  {v:>{w}}" for v, w in zip(r, widths)))
    return "\n".join(line.rstrip() for line in lines)
