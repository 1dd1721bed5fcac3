"""The sampler's first-run compile: which process compiles what, and when.

The first run on a machine compiles the many-chain driver (:func:`kernels.sampler.advance_chain`),
the kernels it calls and the two it calls by address (:mod:`kernels.entries`: the NUTS
transition and the step-size search; the other entries are compiled only by the runs that call
them) into Numba's disk cache; every later process loads them in
a fraction of a second. Numba compiles one function at a time under a global lock, so a single
process uses one core. This module is the one place that knows how the work is shared with a
second process, and the one place that asks Numba whether it is needed:

1. :func:`sampler_compile` starts a helper process (``python -m kernels.precompile``) unless the
   driver is in the cache already (:func:`driver_is_cached`). As soon as it has imported, the
   helper compiles :data:`HELPER_KERNELS` (the adaptations' kernels), which call nothing of
   what this process compiles meanwhile: :data:`SHARED_KERNELS` (the momentum draw, the
   random stream: what both halves call; the leapfrog step is inlined into its callers). Then this process tells the
   helper to go on, and it compiles :data:`HELPER_ENTRIES`, loading the shared kernels from the
   cache;
2. meanwhile this process compiles the model (the caller's work inside the ``with`` block);
   then :meth:`SamplerCompile.finish` compiles :data:`LOCAL_KERNELS` and, once the helper says
   its kernels are cached, the driver itself -- which does not need the entries, it only calls
   their addresses -- waits for the helper, and loads the entries.

Each kernel is compiled for the argument types declared beside it (:func:`kernels.jit.signature`,
in the types of :mod:`kernels.kernel_types`), which are the types the driver calls it with, so
the driver finds every piece in the cache (a test checks that a run compiles nothing else). Two
processes never compile the same function at once: Numba's cache index is one file per
function, and two processes adding entries to it at once could leave an index that names the
wrong data file. If the helper cannot start or fails, this process compiles that piece itself,
exactly as without this module; ``NUMBAYES_PARALLEL_COMPILE=0`` turns the helper off.
``benchmarks/cold_start.py`` measures the first run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

from kernels.jit import DECLARED, JIT_DISABLED

__all__ = [
    "ENABLED",
    "SHARED_KERNELS",
    "HELPER_KERNELS",
    "HELPER_ENTRIES",
    "LOCAL_KERNELS",
    "SamplerCompile",
    "sampler_compile",
    "signature_of",
    "compile_kernels",
    "compile_entries",
    "driver_is_cached",
    "background_compile",
    "is_cached",
]

#: Set ``NUMBAYES_PARALLEL_COMPILE=0`` to compile in the calling process only (no helper).
ENABLED: bool = os.environ.get("NUMBAYES_PARALLEL_COMPILE", "1") not in ("0", "false", "False")

#: Kernels that both shares call (with their callees: the model call, the metric, the random
#: stream). This process compiles them before it lets the helper go on.
SHARED_KERNELS = ("evaluate", "sample_momentum", "_velocity_dense_or_low_rank", "uniform",
                  "copy_into")
#: Kernels the helper compiles as soon as it has imported, while this process compiles the
#: shared kernels and the model (none calls the shared kernels); the driver calls them, so it
#: compiles once they are cached.
HELPER_KERNELS = (
    "update_metric", "fisher_adapt", "fisher_add", "fisher_init_metric", "welford_add_diag",
    "dual_averaging_update",
)
#: Entries the helper compiles next (:data:`kernels.entries.ENTRIES`; the driver only calls their
#: addresses, so it compiles meanwhile).
HELPER_ENTRIES = ("nuts_transition", "find_reasonable_step_size")
#: Kernels this process compiles after the model, while the helper runs (none at present: static
#: HMC, the only one, became an entry compiled on demand, :data:`kernels.entries.ON_DEMAND`).
LOCAL_KERNELS: tuple[str, ...] = ()
#: The driver.
DRIVER = "advance_chain"


def _import_kernels() -> None:
    """Import every module that declares a kernel (filling :data:`kernels.jit.DECLARED`)."""
    import kernels.chees  # noqa: F401  (the many-chain kernels)
    import kernels.sampler  # noqa: F401  (imports every kernel it calls)
    import kernels.svi_loop  # noqa: F401


def signature_of(name: str) -> tuple:
    """The declared argument types of kernel ``name``."""
    from kernels.kernel_types import kernel_types

    _import_kernels()
    return tuple(DECLARED[name].arguments(kernel_types()))


def compile_kernels(names: tuple[str, ...]) -> None:
    """Compile (or load from the disk cache) the named kernels for their declared types."""
    for name in names:
        signature = signature_of(name)  # (imports the kernels first)
        DECLARED[name].kernel.compile(signature)


def compile_entries(names: tuple[str, ...]) -> None:
    """Compile (or load from the disk cache) the named entries of :mod:`kernels.entries`."""
    from kernels.entries import entry_address

    for name in names:
        entry_address(name)


def driver_is_cached() -> bool:
    """Whether the driver is compiled in this process or in Numba's disk cache (for this
    machine, Numba version and source), i.e. whether running it will not compile."""
    return is_cached(DRIVER)


def _driver_loaded() -> bool:
    _import_kernels()
    return JIT_DISABLED or bool(DECLARED[DRIVER].kernel.signatures)


class SamplerCompile:
    """The sampler's compile for one run: the helper process (if one was started) and timing.

    Attributes
    ----------
    needed : bool
        The driver was not in this process when the run started (so the run shows a
        "compiling" phase).
    seconds : float
        Time spent here so far: starting the helper and compiling the shared kernels, then
        :meth:`finish`.
    """

    def __init__(self, helper: subprocess.Popen | None, needed: bool, seconds: float) -> None:
        self.helper = helper
        self.needed = needed
        self.seconds = seconds

    def finish(self) -> float:
        """Compile this process's share and the driver, wait for the helper's share, and load
        the entries; returns :attr:`seconds`.

        Nothing here can make a run fail: a kernel that did not compile here (which the tests
        would catch) is compiled, or its error reported, by the driver's first call.
        """
        t0 = time.perf_counter()
        if self.helper is not None:
            try:
                try:
                    compile_kernels(LOCAL_KERNELS)
                    # the helper's kernels are in the cache when it says so (or it has
                    # stopped, and the driver compiles what is missing)
                    self.helper.stdout.readline()
                    compile_kernels((DRIVER,))
                except Exception:  # noqa: BLE001 -- see the docstring
                    pass
                self.helper.wait()  # its entries are in the cache now
            finally:
                self.cancel()
        if self.needed:
            compile_kernels((DRIVER,))
            compile_entries(HELPER_ENTRIES)
        self.seconds += time.perf_counter() - t0
        return self.seconds

    def cancel(self) -> None:
        """Stop the helper (e.g. when the run is abandoned before :meth:`finish`)."""
        helper, self.helper = self.helper, None
        if helper is None:
            return
        if helper.poll() is None:
            helper.kill()
            helper.wait()
        if helper.stdout is not None:
            helper.stdout.close()


def _start_helper() -> subprocess.Popen | None:
    """Start the helper and compile the shared kernels; None if it could not start."""
    if not ENABLED or getattr(sys, "frozen", False) or driver_is_cached():
        return None  # (a frozen application's executable is not a Python to run -m with)
    # the helper imports this package from where this process found it
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    try:
        # started first, so that its imports and its kernels overlap the shared kernels'
        # compile; it says "kernels" on its standard output when its kernels are cached, and
        # waits for the word "go" on its standard input before it compiles the entries
        helper = subprocess.Popen(
            [sys.executable, "-m", "kernels.precompile", *HELPER_KERNELS, "--", *HELPER_ENTRIES],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except Exception:  # noqa: BLE001 -- never worse than no split: the driver compiles it all
        return None
    try:
        compile_kernels(SHARED_KERNELS)
        helper.stdin.write(b"go\n")
        helper.stdin.close()
    except BaseException as err:  # Ctrl-C or a failure: no helper left behind
        SamplerCompile(helper, True, 0.0).cancel()
        if isinstance(err, Exception):
            return None
        raise
    return helper


def is_cached(name: str) -> bool:
    """Whether kernel ``name`` is compiled in this process or in the disk cache for its
    declared types (running it will not compile)."""
    _import_kernels()
    kernel = DECLARED[name].kernel
    if JIT_DISABLED or kernel.signatures:
        return True
    try:  # Numba's own cache lookup, without loading the machine code
        cache = kernel._cache
        key = cache._index_key(signature_of(name), kernel.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # a Numba without these internals: assume a compile is needed
        return False


@contextlib.contextmanager
def background_compile(names: tuple[str, ...]) -> Iterator[None]:
    """Compile the kernels ``names`` (and what they call) in a helper process while the
    ``with`` block runs -- which must not compile or call any of them -- then load them here.

    For a compiled loop whose first run would otherwise compile it after the model: SVI's step
    loop compiles while its ELBO does. Nothing happens if they are cached or the helper is off.
    """
    missing = tuple(n for n in names if not is_cached(n))
    helper = None
    if missing and ENABLED and not getattr(sys, "frozen", False):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            helper = subprocess.Popen(
                [sys.executable, "-m", "kernels.precompile", *missing, "--"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env)
        except Exception:  # noqa: BLE001 -- never worse than no helper
            helper = None
    job = SamplerCompile(helper, False, 0.0)
    try:
        yield
        if helper is not None:
            helper.stdout.readline()  # "kernels": they are in the cache (or it stopped)
    finally:
        job.cancel()
    if missing:
        compile_kernels(missing)


@contextlib.contextmanager
def sampler_compile(enabled: bool = True) -> Iterator[SamplerCompile]:
    """Around a run: on a first run, start compiling the sampler on a second core (unless
    ``enabled`` is false, e.g. when the chains run on an executor's workers, which compile it
    themselves); yield the :class:`SamplerCompile`, whose :meth:`~SamplerCompile.finish` the run
    calls once its model is compiled; stop the helper if the run ends early."""
    t0 = time.perf_counter()
    needed = enabled and not _driver_loaded()
    job = SamplerCompile(_start_helper() if needed else None, needed, 0.0)
    job.seconds = time.perf_counter() - t0
    try:
        yield job
    finally:
        job.cancel()


if __name__ == "__main__":  # the helper: python -m kernels.precompile KERNEL... -- ENTRY...
    split = sys.argv.index("--")
    compile_kernels(tuple(sys.argv[1:split]))
    print("kernels", flush=True)
    if sys.stdin.readline().strip() == "go":  # (end of input: the caller gave up or died)
        compile_entries(tuple(sys.argv[split + 1:]))
