r"""What a finished (or interrupted) MCMC run holds, and the report printed about it.

:class:`MCMCResults` keeps the unconstrained draws ``(chain, draw, dim)`` and the per-draw
sampler statistics ``(chain, draw)`` after thinning, counters over *all* sampling iterations
(divergences and maximum-tree-depth hits are counted before thinning, so none are hidden), the
timings and the model. Constrained values of every latent and deterministic site are computed
on first use by the model's vectorised ``constrain`` on the whole draw array at once (not draw
by draw), and cached.

The report (:meth:`MCMCResults.report`) is the table of :func:`inference.diagnostics.summary`
(mean, sd, HDI, MCSE, bulk/tail ESS, rank-normalised split :math:`\hat R` per scalar), then the
number of divergences and of transitions that reached the maximum tree depth, then the timings
and the effective sample size per second,
:math:`\min_k \mathrm{ESS}_{bulk,k} / t_{sampling}` over the scalars :math:`k` shown.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from inference import diagnostics
from kernels.state import OUTPUT_FIELDS

__all__ = ["MCMCResults", "STAT_NAMES", "FIELD_ALIASES", "check_fields", "flatten_chains",
           "select_fields"]

#: The per-draw sampler statistics every run records (ArviZ's ``sample_stats`` names).
STAT_NAMES = tuple(f.name for f in OUTPUT_FIELDS if f.name != "draws")

#: NumPyro's names of the same statistics, accepted by ``MCMC.run(extra_fields=...)`` so that
#: NumPyro code runs unchanged: name -> (statistic, sign). ``potential_energy`` is NumPyro's
#: :math:`U = -\log p`.
FIELD_ALIASES: dict[str, tuple[str, float]] = {
    "potential_energy": ("lp", -1.0),
    "num_steps": ("n_steps", 1.0),
    "accept_prob": ("acceptance_rate", 1.0),
    "adapt_state.step_size": ("step_size", 1.0),
}


def check_fields(fields: Any) -> tuple[str, ...] | None:
    """``extra_fields`` as a tuple of known names (None: every statistic); a clear error for
    an unknown name or a bare string."""
    if fields is None:
        return None
    if isinstance(fields, str):
        raise TypeError(f"extra_fields must be a sequence of names, got the string {fields!r}; "
                        f"write extra_fields=({fields!r},)")
    fields = tuple(fields)
    known = STAT_NAMES + tuple(FIELD_ALIASES)
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ValueError(f"extra_fields: unknown field(s) {unknown}; the sampler records "
                         f"{list(STAT_NAMES)}, also available by NumPyro's names "
                         f"{list(FIELD_ALIASES)}")
    return fields


def select_fields(stats: dict[str, np.ndarray], fields: tuple[str, ...] | None
                  ) -> dict[str, np.ndarray]:
    """The statistics named in ``fields`` (see :func:`check_fields`), under those names.

    Examples
    --------
    >>> stats = {"lp": np.array([-1.5, -2.0]), "n_steps": np.array([3, 7])}
    >>> select_fields(stats, ("potential_energy", "num_steps"))
    {'potential_energy': array([1.5, 2. ]), 'num_steps': array([3, 7])}
    """
    if fields is None:
        return dict(stats)
    chosen = {}
    for name in fields:
        stat, sign = FIELD_ALIASES.get(name, (name, 1.0))
        chosen[name] = stats[stat] if sign == 1.0 else sign * stats[stat]
    return chosen


def flatten_chains(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Merge the chain and draw axes: ``(chain, draw, ...)`` to ``(chain * draw, ...)``.

    Examples
    --------
    >>> flatten_chains({"x": np.zeros((4, 100, 3))})["x"].shape
    (400, 3)
    """
    return {k: v.reshape((v.shape[0] * v.shape[1],) + v.shape[2:]) for k, v in values.items()}


@dataclasses.dataclass(eq=False)
class MCMCResults:
    """Draws, statistics, counters and timings of one run.

    Attributes
    ----------
    model : CompiledModelLike
        The model that was sampled.
    draws : ndarray, shape (chain, draw, dim)
        Kept unconstrained draws (after thinning).
    stats : dict of str to ndarray
        Per-draw statistics, ``(chain, draw)``, named as ArviZ reads them.
    algorithm : str
        ``"nuts"`` or ``"hmc"``.
    num_warmup : int
        Warmup iterations run in this call (0 when continuing after warmup).
    num_samples : int
        Sampling iterations completed per chain (before thinning).
    thinning : int
        Every ``thinning``-th sampling iteration was kept.
    divergences, max_treedepth_hits, warmup_divergences : ndarray, shape (chain,)
        Counts over all sampling (resp. warmup) iterations, before thinning.
    max_tree_depth : int or None
        NUTS' maximum tree depth (None for HMC).
    target_accept_prob : float
        The kernel's target acceptance probability (quoted in advice).
    timings : dict of str to float
        Seconds: ``model_compile``, ``sampler_compile``, ``warmup``, ``sampling``.
    interrupted : bool
        True if the run was stopped early (KeyboardInterrupt or SIGTERM); the arrays hold the
        completed draws only.
    warmup_draws : ndarray, shape (chain, warmup draw, dim), or None
        Kept unconstrained warmup draws (thinned), when the run saved them.
    warmup_stats : dict of str to ndarray, or None
        Their per-draw statistics.
    stopped_by : str or None
        What interrupted the run: ``"KeyboardInterrupt"``, ``"SIGTERM"``, or None.
    chain_ids : ndarray of int, or None
        The index of each kept chain among the chains that were run (None: ``0, 1, ...``).
        Chains whose adaptation failed are not kept, so the indices may have gaps; the ArviZ
        export uses them as the ``chain`` coordinate so that a chain keeps its name.
    failed_chains : dict of int to str
        The chains that were left out because their adaptation failed, with the reason
        (:data:`kernels.status.CHAIN_MESSAGES`).
    warmup_used : ndarray of int, shape (chain,), or None
        Warmup iterations each chain ran: ``num_warmup``, or fewer when ``early_stop_warmup``
        ended its warmup once the adaptation had converged.
    """

    model: Any
    draws: np.ndarray
    stats: dict[str, np.ndarray]
    algorithm: str
    num_warmup: int
    num_samples: int
    thinning: int
    divergences: np.ndarray
    max_treedepth_hits: np.ndarray
    warmup_divergences: np.ndarray
    max_tree_depth: int | None
    target_accept_prob: float
    timings: dict[str, float]
    interrupted: bool = False
    warmup_draws: np.ndarray | None = None
    warmup_stats: dict[str, np.ndarray] | None = None
    stopped_by: str | None = None
    chain_ids: np.ndarray | None = None
    failed_chains: dict[int, str] = dataclasses.field(default_factory=dict)
    warmup_used: np.ndarray | None = None
    _constrained: dict[str, np.ndarray] | None = dataclasses.field(default=None, repr=False)
    _log_likelihood: dict[str, np.ndarray] | None = dataclasses.field(default=None, repr=False)
    _warmup_constrained: dict[str, np.ndarray] | None = dataclasses.field(
        default=None, repr=False
    )

    @property
    def num_chains(self) -> int:
        """Number of chains."""
        return int(self.draws.shape[0])

    @property
    def chain_index(self) -> np.ndarray:
        """The index of each kept chain among the chains that were run (see ``chain_ids``)."""
        if self.chain_ids is None:
            return np.arange(self.num_chains)
        return np.asarray(self.chain_ids)

    @property
    def num_draws(self) -> int:
        """Kept draws per chain."""
        return int(self.draws.shape[1])

    # ------------------------------------------------------------------ values

    def _constrain(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        values = {k: np.asarray(v) for k, v in self.model.constrain(draws).items()}
        if draws.dtype == np.float32:  # MCMC(draw_dtype="float32"): the sites are kept so too
            values = {k: v.astype(np.float32) if v.dtype == np.float64 else v
                      for k, v in values.items()}
        for name, v in values.items():
            if v.shape[:2] != draws.shape[:2]:
                raise ValueError(
                    f"model.constrain returned site {name!r} with shape {v.shape}; "
                    f"expected leading (chain, draw) = {draws.shape[:2]}"
                )
        return values

    def constrained(self) -> dict[str, np.ndarray]:
        """Every latent and deterministic site, constrained, ``(chain, draw, ...)`` (cached)."""
        if self._constrained is None:
            self._constrained = self._constrain(self.draws)
        return self._constrained

    def _require_warmup(self) -> None:
        if self.warmup_draws is None:
            raise ValueError(
                "the warmup draws were not saved: construct MCMC(..., save_warmup=True) and "
                "run again to keep them"
            )

    def warmup_constrained(self) -> dict[str, np.ndarray]:
        """Like :meth:`constrained`, for the saved warmup draws (cached)."""
        self._require_warmup()
        if self._warmup_constrained is None:
            self._warmup_constrained = self._constrain(self.warmup_draws)
        return self._warmup_constrained

    def log_likelihood(self) -> dict[str, np.ndarray]:
        """Pointwise log-likelihood per observed site, ``(chain, draw, *obs_shape)`` (cached)."""
        if self._log_likelihood is None:
            values = self.model.log_likelihood(self.draws)
            self._log_likelihood = {k: np.asarray(v) for k, v in values.items()}
        return self._log_likelihood

    def samples(self, group_by_chain: bool = False, warmup: bool = False) -> dict[str, np.ndarray]:
        """Constrained sites: ``(chain, draw, ...)`` or flattened ``(chain * draw, ...)``;
        of the saved warmup draws with ``warmup=True``."""
        values = self.warmup_constrained() if warmup else self.constrained()
        return dict(values) if group_by_chain else flatten_chains(values)

    def extra_fields(
        self, group_by_chain: bool = False, warmup: bool = False
    ) -> dict[str, np.ndarray]:
        """Sampler statistics: ``(chain, draw)`` or flattened ``(chain * draw,)``; of the saved
        warmup draws with ``warmup=True``."""
        if warmup:
            self._require_warmup()
        stats = self.warmup_stats if warmup else self.stats
        return dict(stats) if group_by_chain else flatten_chains(stats)

    # ------------------------------------------------------------------ report

    def summary(self, prob: float = 0.9, exclude_deterministic: bool = True) -> diagnostics.Summary:
        """:func:`inference.diagnostics.summary` of the sites (deterministic ones optional)."""
        values = self.constrained()
        skip = (
            set(getattr(self.model, "deterministic_names", ())) if exclude_deterministic else set()
        )
        chosen = {k: v for k, v in values.items() if k not in skip}
        return diagnostics.summary(chosen, prob=prob)

    def diagnostics_lines(self) -> list[str]:
        """Divergence and tree-depth lines of the report."""
        n_div = int(self.divergences.sum())
        lines = [f"Number of divergences: {n_div}"]
        if n_div:
            per_chain = ", ".join(str(int(d)) for d in self.divergences)
            lines[0] += f" (per chain: {per_chain})"
        if self.max_tree_depth is not None:
            hits = int(self.max_treedepth_hits.sum())
            lines.append(
                f"Transitions that reached the maximum tree depth ({self.max_tree_depth}): {hits}"
            )
        return lines

    def timing_lines(self, table: diagnostics.Summary | None = None) -> list[str]:
        """Timing and ESS-per-second lines of the report."""
        t = self.timings
        compile_s = t.get("model_compile", 0.0) + t.get("sampler_compile", 0.0)
        lines = [
            f"Time: compile {compile_s:.2f} s (model {t.get('model_compile', 0.0):.2f} s, "
            f"sampler {t.get('sampler_compile', 0.0):.2f} s), warmup {t.get('warmup', 0.0):.2f} s, "
            f"sampling {t.get('sampling', 0.0):.2f} s"
        ]
        used = self.warmup_used
        if used is not None and used.size and int(used.min()) < self.num_warmup:
            lines.append(f"Warmup used (early_stop_warmup): {int(used.min())} to "
                         f"{int(used.max())} of {self.num_warmup} iterations per chain")
        if table is not None and len(table):
            ess = table["ess_bulk"]
            ess = ess[np.isfinite(ess)]
            sampling = t.get("sampling", 0.0)
            if ess.size and sampling > 0:
                total = sampling + t.get("warmup", 0.0)
                lines.append(
                    f"Min ESS_bulk per second: {ess.min() / sampling:.1f} (sampling), "
                    f"{ess.min() / total:.1f} (warmup + sampling)"
                )
        return lines

    def report(self, prob: float = 0.9, exclude_deterministic: bool = True) -> str:
        """The text printed by :meth:`inference.mcmc.MCMC.print_summary`."""
        lines = []
        if self.failed_chains:
            failed = ", ".join(f"{c} ({why})" for c, why in sorted(self.failed_chains.items()))
            lines.append(f"Chains left out because their adaptation failed: {failed}.")
        if self.interrupted:
            by = f" ({self.stopped_by})" if self.stopped_by else ""
            lines.append(f"Interrupted{by}: {self.num_draws} draws per chain were completed and "
                         f"kept.")
        table = None
        if self.num_draws >= 4:
            table = self.summary(prob, exclude_deterministic)
            lines.append(diagnostics.format_summary(table))
        else:
            lines.append(f"({self.num_draws} draws per chain: too few for a summary table)")
        lines.append("")
        lines.extend(self.diagnostics_lines())
        lines.extend(self.timing_lines(table))
        return "\n".join(lines)

    def advice(self) -> str | None:
        """The text of the post-sampling warning, or None when there is nothing to report."""
        n_div = int(self.divergences.sum())
        hits = int(self.max_treedepth_hits.sum()) if self.max_tree_depth is not None else 0
        total = self.num_chains * self.num_samples
        parts = []
        if n_div:
            parts.append(
                f"{n_div} of {total} transitions after warmup were divergent. The sampler could "
                f"not follow the posterior's curvature, so the draws may be biased: "
                f"reparameterise the model (e.g. a non-centred parameterisation of hierarchical "
                f"scales) or raise target_accept_prob (now {self.target_accept_prob:g}) "
                f"toward 0.95 or 0.99."
            )
        if hits:
            parts.append(
                f"{hits} of {total} transitions reached the maximum tree depth "
                f"({self.max_tree_depth}); exploration is inefficient: reparameterise, use "
                f"dense_mass=True for correlated parameters, or raise max_tree_depth."
            )
        return " ".join(parts) if parts else None

    def ess_per_second(self) -> float:
        """Minimum bulk ESS over the non-deterministic scalars per second of sampling."""
        table = self.summary()
        ess = table["ess_bulk"]
        ess = ess[np.isfinite(ess)]
        seconds = self.timings.get("sampling", 0.0)
        if not ess.size or seconds <= 0:
            return math.nan
        return float(ess.min() / seconds)
