"""Where a run's draws go while it samples: each compiled chunk's draws and statistics are
copied into the kept arrays (thinned, in the ``draw_dtype`` asked for), chains that failed are
noted and dropped in one place, and the chunk size follows the measured speed so that progress
and Ctrl-C stay responsive.  :class:`inference.mcmc.MCMC` drives these; nothing here knows of
models or kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kernels.state import CHAIN_STATE_FIELDS, ChainState, SampleOutput, allocate_output
from kernels.status import CHAIN_OK

# the ChainState arrays that change after warmup, so a snapshot taken in the sampling phase
# need not copy d x d metrics
_SAMPLING_FIELDS = tuple(f.name for f in CHAIN_STATE_FIELDS if not f.warmup_only)


def snapshot_of(chains: ChainState, warmup: bool) -> ChainState:
    """A copy of ``chains`` that can be restored after an interrupted chunk."""
    if warmup:
        return chains.copy()
    return chains._replace(**{f: getattr(chains, f).copy() for f in _SAMPLING_FIELDS})


class ChunkSizer:
    """Chunk lengths: fixed, or adapted so that one compiled call lasts about ``target`` s.

    The chunk length never changes the draws (all state is carried between calls); it only
    sets how often the progress display is refreshed and how quickly Ctrl-C is honoured.
    """

    def __init__(self, fixed: int | None, target: float = 0.25, first: int = 10) -> None:
        self.fixed = fixed
        self.target = target
        self.size = fixed if fixed is not None else first

    def next(self, remaining: int) -> int:
        return max(1, min(self.size, remaining))

    def observe(self, n: int, seconds: float) -> None:
        if self.fixed is not None or n <= 0:
            return
        per_iteration = max(seconds, 1e-6) / n
        wanted = int(self.target / per_iteration)
        self.size = max(1, min(wanted, 4 * self.size, 1000))


def with_draw_dtype(out: SampleOutput, dtype: str) -> SampleOutput:
    """``out`` with its draws array in ``dtype`` (the kept arrays; chunks stay float64)."""
    return out if dtype == "float64" else out._replace(draws=out.draws.astype(dtype))


class Recorder:
    """Copies each chunk's output into the kept (thinned) arrays and keeps the counters.

    Iterations ``[warm_start, warm_stop)`` are warmup; with ``save_warmup`` their draws are
    kept too (thinned like the sampling draws, as CmdStan does), else only counted. With a
    ``sink`` the kept sampling rows of each chunk go to ``sink(rows, first)`` (a
    :class:`SampleOutput` in float64 and the index of its first kept draw, e.g. a zarr store)
    instead of into memory.
    """

    def __init__(
        self,
        n_chains: int,
        dim: int,
        warm_start: int,
        warm_stop: int,
        num_samples: int,
        thin: int,
        save_warmup: bool = False,
        draw_dtype: str = "float64",
        sink: Callable[[SampleOutput, int], None] | None = None,
    ):
        self.warm_start = warm_start
        self.warm_stop = warm_stop
        self.thin = thin
        self.sink = sink
        kept = 0 if sink is not None else num_samples // thin
        self.out = with_draw_dtype(allocate_output(n_chains, kept, dim), draw_dtype)
        n_warm = (warm_stop - warm_start) // thin if save_warmup else 0
        self.warm_out = (with_draw_dtype(allocate_output(n_chains, n_warm, dim), draw_dtype)
                         if save_warmup else None)
        self.divergences = np.zeros(n_chains, dtype=np.int64)
        self.warmup_divergences = np.zeros(n_chains, dtype=np.int64)
        self.max_depth_hits = np.zeros(n_chains, dtype=np.int64)
        self.sampled = 0  # completed sampling iterations per chain
        self.warmed = 0  # completed warmup iterations per chain
        #: chain -> the iteration at which it stopped, the first one it did not complete (None:
        #: it had stopped before this run)
        self.failed_at: dict[int, int | None] = {}

    def note_failures(self, status: np.ndarray, chunk: SampleOutput | None, first: int) -> None:
        """Record the chains whose status became non-OK in the chunk starting at ``first``.

        A stopped chain's driver writes no more rows, and a row's ``n_steps`` is at least 1
        for every transition run, so the chunk's leading rows with steps give the iteration at
        which the chain stopped exactly (``chunk=None``: the chain was already stopped).
        """
        for c in np.flatnonzero(np.asarray(status) != CHAIN_OK):
            c = int(c)
            if c in self.failed_at:
                continue
            if chunk is None:
                self.failed_at[c] = None
                continue
            ran = chunk.n_steps[c] > 0
            done = int(np.argmin(ran)) if not ran.all() else ran.size
            self.failed_at[c] = first + done

    def select_chains(self, keep: np.ndarray) -> None:
        """Keep only chains ``keep`` in the kept arrays and counters: the one place where
        failed chains are dropped, so that draws, statistics and counters always agree."""
        if keep.size == self.divergences.size:
            return
        self.out = SampleOutput(*(a[keep] for a in self.out))
        if self.warm_out is not None:
            self.warm_out = SampleOutput(*(a[keep] for a in self.warm_out))
        self.divergences = self.divergences[keep]
        self.warmup_divergences = self.warmup_divergences[keep]
        self.max_depth_hits = self.max_depth_hits[keep]

    def _keep(self, chunk: SampleOutput, out: SampleOutput | None, rows, j) -> None:
        """Rows ``rows`` of the chunk, the ``j``-th iterations of their phase, into ``out``
        (None: to the sink)."""
        keep = (j + 1) % self.thin == 0
        kept_rows, kept_at = rows[keep], (j[keep] + 1) // self.thin - 1
        if out is None:
            if kept_rows.size:
                self.sink(SampleOutput(*(a[:, kept_rows] for a in chunk)), int(kept_at[0]))
            return
        for src, dst in zip(chunk, out):
            dst[:, kept_at] = src[:, kept_rows]

    def record(self, chunk: SampleOutput, first: int) -> None:
        n = chunk.draws.shape[1]
        iterations = np.arange(first, first + n)
        warm = iterations < self.warm_stop
        self.warmup_divergences += chunk.diverging[:, warm].sum(axis=1)
        warm_rows = np.flatnonzero(warm)
        if warm_rows.size and self.warm_out is not None:
            self._keep(chunk, self.warm_out, warm_rows, iterations[warm_rows] - self.warm_start)
        self.warmed += warm_rows.size
        rows = np.flatnonzero(~warm)
        if rows.size:
            self.divergences += chunk.diverging[:, rows].sum(axis=1)
            self.max_depth_hits += chunk.reached_max_treedepth[:, rows].sum(axis=1)
            self._keep(chunk, self.out if self.sink is None else None, rows,
                       iterations[rows] - self.warm_stop)
            self.sampled += rows.size

    @staticmethod
    def _head(out: SampleOutput, k: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        # a complete run hands over its arrays (a copy would double the memory at the end, and
        # resources.estimate_run_bytes counts them once); a truncated one copies its head so
        # that the unused tail is freed
        if k == out.draws.shape[1]:
            return out.draws, out.sample_stats()
        stats = {name: a[:, :k].copy() for name, a in out.sample_stats().items()}
        return out.draws[:, :k].copy(), stats

    def kept(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Completed kept draws and statistics (truncated if the run was interrupted; none
        with a sink)."""
        return self._head(self.out, min(self.sampled // self.thin, self.out.draws.shape[1]))

    def kept_warmup(self) -> tuple[np.ndarray | None, dict[str, np.ndarray] | None]:
        """Completed kept warmup draws and statistics; ``(None, None)`` if not saved."""
        if self.warm_out is None:
            return None, None
        return self._head(self.warm_out, self.warmed // self.thin)

    def show_progress(self, progress: Sequence[Any], chunk: SampleOutput, phase: str,
                      done: int, elapsed: float, seconds: float) -> None:
        """Fill the :class:`inference.progress.ChainProgress` records after ``chunk`` (which
        took ``seconds``): ``done`` iterations of this run completed, now in ``phase``."""
        n = chunk.draws.shape[1]
        for c, p in enumerate(progress):
            if c in self.failed_at:
                p.phase = "failed"
                continue
            p.phase, p.iteration, p.elapsed = phase, done, elapsed
            p.divergences = int(
                self.warmup_divergences[c] if phase == "warmup" else self.divergences[c])
            p.step_size = float(chunk.step_size[c, -1])
            p.steps_per_draw = float(chunk.n_steps[c].mean())
            p.draws_per_second = n / max(seconds, 1e-9)
