r"""The memory a run will keep, estimated before it allocates anything, and its check.

A run keeps its draws in NumPy arrays allocated in full before the first iteration (the
recorder fills them chunk by chunk), so a run too large for the machine used to fail only when
NumPy could not allocate -- or later, when the operating system started swapping or killed the
process. :func:`estimate_run_bytes` computes, from the sizes alone, the bytes of every array a
run keeps, and :func:`check_memory` compares them with the memory available now:

* the arrays the run itself allocates: the kept draws ``(chain, draw, dim)`` in float64, the
  per-draw sampler statistics (one row of :data:`kernels.state.OUTPUT_FIELDS` per draw, so a
  statistic added to that table is counted without a change here), the same two for the saved
  warmup draws (``save_warmup=True``), and the chains' state
  (:data:`kernels.state.CHAIN_STATE_FIELDS`, which holds ``dim x dim`` matrices with ``dense_mass=True``;
  a many-chain kernel's own tables, e.g. :data:`kernels.chees.CHEES_CHAIN_FIELDS`, the
  kernel's ``chain_state_fields``);
* the arrays computed from the draws on first use and cached by
  :class:`inference.results.MCMCResults`: every latent and deterministic site, constrained
  (``get_samples``, ``summary``, ``to_arviz``), for the warmup draws too when saved, and the
  pointwise log-likelihood (``to_arviz``). Their size per draw depends on the model (a
  deterministic site or an observed site may be as large as the data), so
  :func:`value_bytes_per_draw` measures it on one point.

If the arrays the run allocates exceed the available memory, the run cannot finish:
:func:`check_memory` raises :class:`InsufficientMemoryError` (a ``MemoryError``) before any of
them exists, naming the estimate, its parts and the options that shrink it. If everything,
the values computed on use included, exceeds half the available memory, it warns
(:class:`MemoryUsageWarning`): the estimate counts the arrays kept, not the working copies made
along the way (a chunk's output, the state copied before each chunk, the temporaries of
``constrain``), nor the memory other programs will take meanwhile.

The available memory is Linux's ``MemAvailable`` (:func:`available_memory`), else the free
physical pages. A container's or batch job's own limit (a cgroup) is not read, so under such a
limit the check is only as strict as the machine's free memory.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from typing import Any

import numpy as np

from inference.sampling_warnings import SamplingWarning
from kernels.state import CHAIN_STATE_FIELDS, OUTPUT_FIELDS, Field

__all__ = [
    "RunBytes",
    "InsufficientMemoryError",
    "MemoryUsageWarning",
    "estimate_run_bytes",
    "value_bytes_per_draw",
    "available_memory",
    "cgroup_available",
    "check_memory",
    "format_bytes",
]


class InsufficientMemoryError(MemoryError):
    """A run would keep more arrays than the memory available; raised before allocating.

    Attributes
    ----------
    estimate : RunBytes
        The estimate, part by part.
    available : int
        The bytes available when the run was checked.
    """

    def __init__(self, message: str, estimate: RunBytes, available: int) -> None:
        super().__init__(message)
        self.estimate = estimate
        self.available = available

    def __reduce__(self):  # picklable (e.g. across processes) despite the extra arguments
        return type(self), (str(self), self.estimate, self.available)


class MemoryUsageWarning(SamplingWarning):
    """A run, with the values computed from its draws, would take over half the available
    memory."""


def format_bytes(n: float) -> str:
    """A byte count for people: powers of 1024 with three significant digits.

    Examples
    --------
    >>> format_bytes(512), format_bytes(1536), format_bytes(13.2 * 2**30)
    ('512 B', '1.50 KiB', '13.2 GiB')
    """
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            break
        n /= 1024
    if unit == "B":
        return f"{int(n)} B"
    digits = 0 if n >= 100 else 1 if n >= 10 else 2
    return f"{n:.{digits}f} {unit}"


def _row_bytes(fields: tuple[Field, ...], dim: int, dense: bool,
               low_rank: tuple[int, int] = (0, 0)) -> dict[str, int]:
    """Bytes of one row (one chain, or one chain's draw) of each field of a record table."""
    return {f.name: np.dtype(f.dtype).itemsize
            * math.prod(f.concrete_shape(dim, dense, low_rank)) for f in fields}


def _draw_row_bytes(dim: int) -> tuple[int, int]:
    """Bytes per kept draw of one chain: the draw itself, and its sampler statistics."""
    output = _row_bytes(OUTPUT_FIELDS, dim, False)
    draw = output.pop("draws")
    return draw, sum(output.values())


@dataclasses.dataclass(frozen=True)
class RunBytes:
    """The bytes a run keeps, part by part (:func:`estimate_run_bytes`).

    Of the byte counts, ``draws`` to ``chain_state`` are allocated by the run itself
    (:attr:`sampling`); ``sites``, ``warmup_sites`` and ``log_likelihood`` are computed from the
    draws on first use and cached (:attr:`on_use`).

    Attributes
    ----------
    num_chains, num_samples, thinning, dim, num_warmup, save_warmup, dense_mass
        The run's sizes and options, as given.
    draws_per_chain, warmup_draws_per_chain : int
        Kept draws per chain after thinning (warmup ones only when saved).
    draws, statistics : int
        The kept draws and their per-draw sampler statistics.
    warmup_draws, warmup_statistics : int
        The same for the saved warmup draws (0 without ``save_warmup``).
    chain_state : int
        Every chain's state (``last_state``).
    sites, warmup_sites : int
        Constrained latent and deterministic sites of the kept (warmup) draws.
    log_likelihood : int
        Pointwise log-likelihood of the kept draws.
    """

    num_chains: int
    num_samples: int
    thinning: int
    dim: int
    num_warmup: int
    save_warmup: bool
    dense_mass: bool
    draws_per_chain: int
    warmup_draws_per_chain: int
    draws: int
    statistics: int
    warmup_draws: int
    warmup_statistics: int
    chain_state: int
    sites: int
    warmup_sites: int
    log_likelihood: int

    @property
    def sampling(self) -> int:
        """Bytes the run allocates itself, before its first iteration."""
        return (self.draws + self.statistics + self.warmup_draws + self.warmup_statistics
                + self.chain_state)

    @property
    def on_use(self) -> int:
        """Bytes computed from the draws on first use (``get_samples``, ``to_arviz``)."""
        return self.sites + self.warmup_sites + self.log_likelihood

    @property
    def total(self) -> int:
        """Everything: :attr:`sampling` plus :attr:`on_use`."""
        return self.sampling + self.on_use

    def breakdown(self) -> str:
        """One line per part, with the sizes it comes from."""
        c, n, w = self.num_chains, self.draws_per_chain, self.warmup_draws_per_chain
        draw_row, stats_row = _draw_row_bytes(self.dim)
        stat_names = ", ".join(f.name for f in OUTPUT_FIELDS if f.name != "draws")
        lines = [
            f"  draws: {format_bytes(self.draws)} ({c:,} chains x {n:,} kept draws x "
            f"{self.dim:,} dimensions x {draw_row // self.dim} bytes)",
            f"  sampler statistics: {format_bytes(self.statistics)} ({c:,} chains x {n:,} kept "
            f"draws x {stats_row:,} bytes: {stat_names})",
        ]
        if self.save_warmup:
            lines.append(
                f"  warmup draws and statistics (save_warmup=True): "
                f"{format_bytes(self.warmup_draws + self.warmup_statistics)} ({c:,} chains x "
                f"{w:,} kept warmup draws)")
        lines.append(f"  chain state: {format_bytes(self.chain_state)}"
                     + (" (dense_mass=True: dim x dim matrices per chain)"
                        if self.dense_mass else ""))
        lines.append(
            f"  on first use (cached): constrained sites {format_bytes(self.sites)} "
            f"(get_samples, summary, to_arviz)"
            + (f", warmup sites {format_bytes(self.warmup_sites)}" if self.save_warmup else "")
            + f", log-likelihood {format_bytes(self.log_likelihood)} (to_arviz)")
        return "\n".join(lines)

    def remedies(self) -> str:
        """What shrinks the run, with the current values of the options named."""
        parts = [
            f"thinning=k keeps every k-th draw, dividing the draws, statistics and sites by k "
            f"(now thinning={self.thinning})",
            f"fewer num_samples (now {self.num_samples:,}) or num_chains (now "
            f"{self.num_chains:,})",
        ]
        if self.save_warmup and self.warmup_draws_per_chain:
            parts.append(f"save_warmup=False (now True: "
                         f"{format_bytes(self.warmup_draws + self.warmup_statistics)})")
        if self.dense_mass and 2 * self.chain_state > self.sampling:
            parts.append("dense_mass=False (the dense mass matrices fill most of the estimate)")
        return "; ".join(parts)


def estimate_run_bytes(
    num_chains: int,
    num_samples: int,
    dim: int,
    *,
    thinning: int = 1,
    num_warmup: int = 0,
    save_warmup: bool = False,
    dense_mass: bool = False,
    low_rank: tuple[int, int] = (0, 0),
    site_bytes_per_draw: int = 0,
    log_likelihood_bytes_per_draw: int = 0,
    draw_itemsize: int = 8,
    draws_in_memory: bool = True,
    chain_state_fields: tuple[Field, ...] = CHAIN_STATE_FIELDS,
    shared_state_fields: tuple[Field, ...] = (),
) -> RunBytes:
    """The bytes of every array a run keeps, from its sizes alone (nothing is allocated).

    Parameters
    ----------
    num_chains, num_samples, dim : int
        Chains, sampling iterations per chain (before thinning), unconstrained dimension.
    thinning : int
        Every ``thinning``-th iteration is kept (warmup ones too, when saved).
    num_warmup : int
        Warmup iterations this run will perform (their draws count only with
        ``save_warmup``).
    save_warmup : bool
        Whether the warmup draws are kept.
    dense_mass : bool
        Whether the chains hold dense ``dim x dim`` mass matrices.
    low_rank : (int, int)
        ``(rank, window)`` of the arrays of ``mass_matrix_adaptation="low_rank"``
        (:meth:`kernels.options.SamplerOptions.low_rank_sizes`); ``(0, 0)`` for the others.
    site_bytes_per_draw, log_likelihood_bytes_per_draw : int
        Bytes of the constrained sites and of the pointwise log-likelihood at one draw
        (:func:`value_bytes_per_draw`); 0 leaves them out.
    draw_itemsize : int
        Bytes of one stored coordinate of a draw (8: float64; ``draw_dtype="float32"``: 4).
    draws_in_memory : bool
        False when the draws are streamed to a store (``MCMC(..., store=)``): then the kept
        draws, statistics and sites take no memory.
    chain_state_fields, shared_state_fields : tuple of kernels.state.Field
        The kernel's state tables (:attr:`inference.protocols.MCMCKernel.chain_state_fields`):
        a row of the first per chain, the second once. NUTS' by default.

    Returns
    -------
    RunBytes
        The parts; the same numbers as the ``nbytes`` of the arrays the run ends with.

    Examples
    --------
    >>> b = estimate_run_bytes(4, 1000, 10)
    >>> b.draws == 4 * 1000 * 10 * 8, b.sampling == b.total
    (True, True)
    """
    draw_row, stats_row = _draw_row_bytes(dim)
    draw_row = draw_row * draw_itemsize // 8
    state_row = sum(_row_bytes(chain_state_fields, dim, dense_mass, low_rank).values())
    shared = sum(_row_bytes(shared_state_fields, dim, dense_mass, low_rank).values())
    kept = num_chains * (num_samples // thinning) if draws_in_memory else 0
    kept_warmup = num_chains * (num_warmup // thinning) if save_warmup else 0
    return RunBytes(
        num_chains=num_chains,
        num_samples=num_samples,
        thinning=thinning,
        dim=dim,
        num_warmup=num_warmup,
        save_warmup=save_warmup,
        dense_mass=dense_mass,
        draws_per_chain=num_samples // thinning,
        warmup_draws_per_chain=kept_warmup // num_chains,
        draws=kept * draw_row,
        statistics=kept * stats_row,
        warmup_draws=kept_warmup * draw_row,
        warmup_statistics=kept_warmup * stats_row,
        chain_state=num_chains * state_row + shared,
        sites=kept * site_bytes_per_draw,
        warmup_sites=kept_warmup * site_bytes_per_draw,
        log_likelihood=kept * log_likelihood_bytes_per_draw,
    )


def _nbytes(values: Any) -> int:
    return sum(np.asarray(v).nbytes for v in values.values())


def value_bytes_per_draw(model: Any) -> tuple[int, int]:
    """Bytes per draw of a model's constrained sites and of its pointwise log-likelihood.

    Measured by calling ``model.constrain`` and ``model.log_likelihood`` on one draw (the
    unconstrained origin, a valid point of every support) shaped ``(1, 1, dim)`` as the results
    call them, rather than read from the model's declarations: a deterministic site's size and
    dtype are only known by running it. A model without ``log_likelihood``, or whose functions
    fail at that point, counts 0 for that part (the estimate must never stop a run that
    would otherwise work).
    """
    point = np.zeros((1, 1, int(model.dim)))
    sizes = []
    for name in ("constrain", "log_likelihood"):
        fn = getattr(model, name, None)
        try:
            with np.errstate(all="ignore"):  # (floating-point warnings at the origin)
                sizes.append(0 if fn is None else _nbytes(fn(point)))
        except Exception:  # noqa: BLE001 -- an estimate, not a check of the model
            sizes.append(0)
    return sizes[0], sizes[1]


def _meminfo_available(path: str = "/proc/meminfo") -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 writes "max" for no limit


def cgroup_available(proc_cgroup: str = "/proc/self/cgroup",
                     root: str = "/sys/fs/cgroup") -> int | None:
    """Bytes this process's control group may still allocate (its limit minus its usage), or
    None when it has no limit or none can be read.

    A batch job or a container is killed at its cgroup's limit, which is usually far below the
    machine's free memory; cgroup v2 (``memory.max``, ``memory.current``) and v1
    (``memory.limit_in_bytes``, ``memory.usage_in_bytes`` under the ``memory`` controller)
    are both read.
    """
    try:
        with open(proc_cgroup) as f:
            lines = [line.strip().split(":", 2) for line in f if line.count(":") >= 2]
    except OSError:
        return None
    for _, controllers, path in lines:
        if controllers == "":  # v2: the unified hierarchy
            folder = os.path.join(root, path.lstrip("/"))
            limit = _read_int(os.path.join(folder, "memory.max"))
            usage = _read_int(os.path.join(folder, "memory.current"))
        elif "memory" in controllers.split(","):
            folder = os.path.join(root, "memory", path.lstrip("/"))
            limit = _read_int(os.path.join(folder, "memory.limit_in_bytes"))
            usage = _read_int(os.path.join(folder, "memory.usage_in_bytes"))
        else:
            continue
        if limit is not None and limit < 1 << 60:  # v1 writes a huge number for no limit
            return max(0, limit - (usage or 0))
    return None


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now, or None if unknown.

    Linux's ``MemAvailable`` (free memory plus the page cache and buffers the kernel can
    reclaim), else the free physical pages (``os.sysconf``, which counts no reclaimable
    cache and so errs low), else None: the check is then skipped. Under a memory limit of the
    process's control group (a batch job, a container) the smaller of the two
    (:func:`cgroup_available`).
    """
    found = _meminfo_available()
    limited = cgroup_available()
    if found is not None:
        return found if limited is None else min(found, limited)
    if limited is not None:
        return limited
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def check_memory(estimate: RunBytes) -> None:
    """Raise before a run that cannot fit in memory; warn before one that nearly fills it.

    Raises
    ------
    InsufficientMemoryError
        (a ``MemoryError``) if the arrays the run allocates (:attr:`RunBytes.sampling`) exceed
        the available memory. The message gives the estimate, the available memory, the
        parts and the options that shrink them.

    Warns
    -----
    MemoryUsageWarning
        If everything, the values computed on first use included (:attr:`RunBytes.total`),
        exceeds half the available memory: the working copies made along the way are not
        counted, and other programs take memory too.

    Nothing is checked when the available memory is unknown (:func:`available_memory`).
    """
    available = available_memory()
    if available is None:
        return
    if estimate.sampling > available:
        raise InsufficientMemoryError(
            f"this MCMC run would allocate {format_bytes(estimate.sampling)} for its draws, "
            f"statistics and chain state, more than the {format_bytes(available)} of memory "
            f"available, so it was not started. The estimate:\n{estimate.breakdown()}\n"
            f"To keep less: {estimate.remedies()}.",
            estimate,
            available,
        )
    if estimate.total > available / 2:
        warnings.warn(
            f"this MCMC run will keep {format_bytes(estimate.sampling)} of draws, statistics "
            f"and chain state, and {format_bytes(estimate.on_use)} more once get_samples() and "
            f"to_arviz() compute the sites and the log-likelihood: "
            f"{format_bytes(estimate.total)}, over half of the {format_bytes(available)} "
            f"available. The estimate:\n{estimate.breakdown()}\nTo keep less: "
            f"{estimate.remedies()}.",
            MemoryUsageWarning,
            stacklevel=3,
        )
