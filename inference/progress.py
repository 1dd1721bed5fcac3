"""Progress reporting for compiled sampling: per-chain status shown between chunks.

Numba-compiled code cannot call Python (tqdm, IPython) while it runs, so
:class:`inference.mcmc.MCMC` runs the sampler in *chunks* of iterations and, between chunks,
hands a list of :class:`ChainProgress` records (one per chain) to a reporter. A reporter only
displays; it never touches the chains' random streams, so the draws are the same with or
without it.

Reporters
---------
* :class:`TqdmReporter` -- one ``tqdm`` bar per chain (one combined bar above 8 chains); uses
  ``tqdm.auto`` (notebook widgets) when ``ipywidgets`` is importable, else the terminal bar.
* :class:`TextReporter` -- a single carriage-return status line, when ``tqdm`` is missing.
* :class:`NullReporter` -- nothing; used when the bar is switched off.

:func:`make_reporter` picks one. The bar is off when ``progress_bar=False``, when the ``CI``
or ``PYTEST_XDIST_WORKER`` environment variable is set (as in NumPyro), or when the output
stream is neither a terminal nor a Jupyter kernel (e.g. redirected to a log file).

Before the first chunk the reporter shows a *compiling* state: the first call of the compiled
driver in a process compiles it (or loads it from Numba's disk cache), which can take seconds.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

__all__ = [
    "ChainProgress",
    "ProgressReporter",
    "NullReporter",
    "TextReporter",
    "TqdmReporter",
    "make_reporter",
    "progress_enabled",
    "format_duration",
]

#: Above this many chains, tqdm shows one combined bar instead of one bar per chain.
MAX_BARS = 8


@dataclasses.dataclass
class ChainProgress:
    """What is known about one chain between two chunks.

    Attributes
    ----------
    chain : int
        Chain index.
    phase : str
        ``"compiling"``, ``"warmup"``, ``"sampling"``, ``"done"`` or ``"interrupted"``.
    iteration : int
        Iterations completed in this run (warmup and sampling).
    total : int
        Iterations planned in this run.
    num_warmup : int
        How many of ``total`` are warmup iterations.
    divergences : int
        Divergent transitions so far in the current phase (warmup or sampling).
    step_size : float
        Step size of the last transition.
    steps_per_draw : float
        Mean number of leapfrog steps per iteration in the last chunk.
    draws_per_second : float
        Iterations per second of this chain over the last chunk.
    elapsed : float
        Seconds since sampling started (compilation excluded).
    """

    chain: int
    phase: str
    iteration: int
    total: int
    num_warmup: int
    divergences: int = 0
    step_size: float = math.nan
    steps_per_draw: float = math.nan
    draws_per_second: float = math.nan
    elapsed: float = 0.0

    @property
    def eta(self) -> float:
        """Estimated seconds left for this chain (NaN before the first chunk)."""
        left = self.total - self.iteration
        if left <= 0:
            return 0.0
        if not self.draws_per_second > 0:
            return math.nan
        return left / self.draws_per_second


def format_duration(seconds: float) -> str:
    """``"1:02:03"``, ``"2:03"`` or ``"?"`` for a duration in seconds.

    Examples
    --------
    >>> format_duration(3723.4), format_duration(59.6), format_duration(float("nan"))
    ('1:02:03', '1:00', '?')
    """
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _postfix(p: ChainProgress) -> str:
    parts = [f"div {p.divergences}"]
    if math.isfinite(p.step_size):
        parts.append(f"step {p.step_size:.2g}")
    if math.isfinite(p.steps_per_draw):
        parts.append(f"{p.steps_per_draw:.0f} steps/draw")
    return ", ".join(parts)


class ProgressReporter:
    """Interface of a progress display (this base class displays nothing)."""

    enabled = False

    def start(self, chains: Sequence[ChainProgress]) -> None:
        """Called once before the first chunk (phase ``"compiling"`` or ``"warmup"``)."""

    def update(self, chains: Sequence[ChainProgress]) -> None:
        """Called after every chunk with the current status of every chain."""

    def close(self, chains: Sequence[ChainProgress], message: str = "") -> None:
        """Called once at the end (also after an interruption or an error)."""


class NullReporter(ProgressReporter):
    """Shows nothing."""


class TextReporter(ProgressReporter):
    r"""A single status line rewritten in place with ``\r`` (no third-party dependency).

    Writes at most every ``min_interval`` seconds; the line summarises all chains: phase,
    iterations done per chain, divergences per chain, draws/s and ETA of the slowest chain.
    """

    enabled = True

    def __init__(self, stream: IO[str] | None = None, min_interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self._last = -math.inf
        self._width = 0

    def _write(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    @staticmethod
    def line(chains: Sequence[ChainProgress]) -> str:
        """The status line for ``chains``."""
        first = chains[0]
        if first.phase == "compiling":
            return f"Compiling the sampler for {len(chains)} chain(s)..."
        phases = sorted({p.phase for p in chains})
        done = ",".join(str(p.iteration) for p in chains)
        div = ",".join(str(p.divergences) for p in chains)
        rate = sum(p.draws_per_second for p in chains if math.isfinite(p.draws_per_second))
        eta = max((p.eta for p in chains), default=math.nan)
        return (
            f"{'/'.join(phases)} | iterations {done} of {first.total} | divergences {div} | "
            f"{rate:.0f} draws/s | ETA {format_duration(eta)}"
        )

    def start(self, chains: Sequence[ChainProgress]) -> None:
        self._write(self.line(chains))

    def update(self, chains: Sequence[ChainProgress]) -> None:
        now = time.perf_counter()
        if now - self._last >= self.min_interval:
            self._last = now
            self._write(self.line(chains))

    def close(self, chains: Sequence[ChainProgress], message: str = "") -> None:
        self._write(self.line(chains))
        self.stream.write("\n" + (message + "\n" if message else ""))
        self.stream.flush()


def _tqdm_class() -> Any:
    """``tqdm.auto.tqdm`` if notebook widgets can be shown, else ``tqdm.std.tqdm``."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm


class TqdmReporter(ProgressReporter):
    """One tqdm bar per chain (or one combined bar for more than :data:`MAX_BARS` chains).

    Each bar counts iterations (warmup + sampling) and shows the phase in its description and
    divergences, step size and leapfrog steps per draw in its postfix; tqdm adds the rate,
    elapsed time and ETA.
    """

    enabled = True

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._bars: list[Any] = []
        self._counts: list[int] = []
        self._combined = False

    def start(self, chains: Sequence[ChainProgress]) -> None:
        tqdm = _tqdm_class()
        self._combined = len(chains) > MAX_BARS
        groups = [chains] if self._combined else [[p] for p in chains]
        for position, group in enumerate(groups):
            total = sum(p.total for p in group)
            bar = tqdm(
                total=total,
                position=position,
                file=self.stream,
                leave=True,
                dynamic_ncols=True,
                unit="draw",
            )
            self._bars.append(bar)
            self._counts.append(0)
        self._describe(chains)
        for bar in self._bars:
            bar.refresh()

    def _describe(self, chains: Sequence[ChainProgress]) -> None:
        if self._combined:
            phases = "/".join(sorted({p.phase for p in chains}))
            div = sum(p.divergences for p in chains)
            self._bars[0].set_description(f"{len(chains)} chains, {phases}", refresh=False)
            self._bars[0].set_postfix_str(f"div {div}", refresh=False)
            return
        for bar, p in zip(self._bars, chains):
            label = "Compiling.." if p.phase == "compiling" else f"chain {p.chain} {p.phase}"
            bar.set_description(label, refresh=False)
            bar.set_postfix_str(_postfix(p), refresh=False)
            # a divergence after warmup is worth noticing (PyMC and nutpie turn the bar red);
            # during warmup they are common and harmless
            bar.colour = "red" if p.phase == "sampling" and p.divergences else None

    def update(self, chains: Sequence[ChainProgress]) -> None:
        self._describe(chains)
        groups = [chains] if self._combined else [[p] for p in chains]
        for k, group in enumerate(groups):
            done = sum(p.iteration for p in group)
            self._bars[k].update(done - self._counts[k])
            self._counts[k] = done

    def close(self, chains: Sequence[ChainProgress], message: str = "") -> None:
        if self._bars:
            self.update(chains)
        for bar in self._bars:
            bar.close()
        self._bars = []
        if message:
            self.stream.write(message + "\n")
            self.stream.flush()


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except AttributeError:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _is_interactive(stream: IO[str]) -> bool:
    """A terminal or a notebook: the places where a live bar can be seen."""
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):
        tty = False
    return tty or _in_notebook()


def progress_enabled(progress_bar: bool, stream: IO[str] | None = None) -> bool:
    """Whether a bar should be shown: requested, not on CI, and someone can see it."""
    if not progress_bar:
        return False
    if "CI" in os.environ or "PYTEST_XDIST_WORKER" in os.environ:
        return False
    return _is_interactive(stream if stream is not None else sys.stderr)


def make_reporter(progress_bar: bool, stream: IO[str] | None = None) -> ProgressReporter:
    """The reporter for ``progress_bar`` (see :func:`progress_enabled`).

    Returns a :class:`TqdmReporter` if ``tqdm`` is installed, else a :class:`TextReporter`,
    or a :class:`NullReporter` when progress is off.
    """
    if not progress_enabled(progress_bar, stream):
        return NullReporter()
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return TextReporter(stream)
    return TqdmReporter(stream)
