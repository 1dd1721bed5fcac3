"""The sampler's one-time compile, split over two processes.

The first run on a machine compiles the many-chain driver (:func:`kernels.sampler.advance_chain`),
everything it calls and the two kernels it calls by address (:mod:`kernels.entries`: the NUTS
transition and the step-size search) -- about 30 functions and 15--17 s of work on this
project's 2-core reference machine -- into Numba's disk cache; every later process loads it in a
fraction of a second. Numba compiles one function at a time under a global lock, so a single
process uses one core. This module uses a second:

1. :func:`start` launches a helper process (``python -m kernels.precompile``). As soon as it
   has imported, the helper compiles the metric updates of both adaptations
   (:data:`HELPER_KERNELS`), which call nothing of what this process compiles meanwhile: the
   kernels that both halves call (:data:`SHARED_KERNELS`: the leapfrog step, the momentum
   draw, the random streams). Then :func:`start` tells the helper to go on, and it compiles
   the two entries (:data:`HELPER_ENTRIES`: NUTS and the step-size search), loading the shared
   kernels from the cache;
2. meanwhile this process compiles the model, then :func:`finish` compiles the rest of the
   driver's kernels (:data:`LOCAL_KERNELS`: static HMC; the small ones are inlined into the
   driver, see :mod:`kernels.jit`) and, once the helper says its kernels are cached, the
   driver itself -- which does not need the entries, it only calls their addresses -- and
   waits for the helper;
3. the first call of the driver loads the entries from the cache.

On the 2-core reference machine this takes the first run of eight schools, imports included,
from 17--20 s (all in one process) to 8--11 s; ``benchmarks/cold_start.py`` measures it against
NumPyro and nutpie.

Nothing here changes what is compiled, only where: each kernel's signature is the one
:func:`~kernels.sampler.advance_chain` calls it with (:func:`signatures` derives them from the
real state arrays, and a test checks them against what a run compiles), so the driver finds
every piece in the cache. If the helper cannot start or fails, the calling process compiles
that piece itself, exactly as without this module; ``NUMBAYES_PARALLEL_COMPILE=0`` turns the
helper off.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numba
import numpy as np
from numba.core import types

from kernels.jit import JIT_DISABLED

#: Set ``NUMBAYES_PARALLEL_COMPILE=0`` to compile in the calling process only (no helper).
ENABLED: bool = os.environ.get("NUMBAYES_PARALLEL_COMPILE", "1") not in ("0", "false", "False")

#: Kernels that both shares call (with their callees: the model call, the metric, the random
#: streams). This process compiles them before it lets the helper go on, and the helper loads
#: them from the cache, so that the two processes never compile the same function at once:
#: Numba's cache index is one file per function, and two processes adding entries to it at once
#: could leave an index that names the wrong data file.
SHARED_KERNELS = ("leapfrog", "sample_momentum", "hamiltonian", "uniform")
#: Kernels the helper compiles as soon as it has imported, while this process compiles the
#: shared kernels and the model (none calls the shared kernels); the driver calls them, so it
#: compiles once they are cached.
HELPER_KERNELS = (
    "update_metric", "fisher_adapt", "fisher_add", "fisher_init_metric", "welford_add_diag",
    "dual_averaging_update",
)
#: Entries the helper compiles next (:data:`kernels.entries.ENTRIES`; the driver only calls their
#: addresses, so it compiles meanwhile).
HELPER_ENTRIES = ("nuts", "init_step_size")
#: Kernels the calling process compiles after the model, while the helper runs.
LOCAL_KERNELS = ("hmc_transition",)


def _dispatchers() -> dict[str, Any]:
    from kernels import adaptation as a
    from kernels import adaptation_fisher as f
    from kernels import hmc, integrators, rng, sampler

    return {
        "leapfrog": integrators.leapfrog,
        "sample_momentum": integrators.sample_momentum,
        "hamiltonian": integrators.hamiltonian,
        "uniform": rng.uniform,
        "advance_chain": sampler.advance_chain,
        "hmc_transition": hmc.hmc_transition,
        "dual_averaging_update": a.dual_averaging_update,
        "welford_add_diag": a.welford_add_diag,
        "update_metric": sampler._update_metric,
        "fisher_add": f.fisher_add,
        "fisher_init_metric": f.fisher_init_metric,
        "fisher_adapt": f.fisher_adapt,
    }


def signatures() -> dict[str, tuple]:
    """Numba argument types of the driver and of the kernels it calls, as it calls them.

    Every argument type of :func:`~kernels.sampler.advance_chain` is fixed (``int64`` scalars and
    C-contiguous arrays of fixed dtype and rank), so the types come from a one-chain,
    one-dimensional state built by the same functions that build a real one; a chain's row of a
    state array (``inv_diag[c]``) is typed as the row of that array.
    """
    from kernels.nuts import N_VEC
    from kernels.sampler_state import SamplerConfig, allocate_output, empty_chain_state

    state = empty_chain_state(1, 1)
    output = allocate_output(1, 0, 1)
    int_cfg, float_cfg, schedule = SamplerConfig(num_warmup=0).arrays()
    vec = np.zeros((N_VEC, 1))  # as kernels.nuts._workspace allocates it
    i64, f64 = types.int64, types.float64

    def row(a: np.ndarray) -> Any:
        return numba.typeof(a[0])

    s = state
    model = (i64, i64)  # address, data pointer
    metric = (i64, row(s.inv_diag), row(s.inv_dense), row(s.chol))  # kind and its arrays
    point = (row(s.position), row(s.grad), f64)  # q, gradient, log density
    driver_arrays = (int_cfg, float_cfg, schedule, *s.arrays(), *output.arrays())
    return {
        # chain, model, entries, start, stop, output offset, then the arrays
        "advance_chain": (i64,) * 8 + tuple(numba.typeof(a) for a in driver_arrays),
        "hmc_transition": (*model, *metric, *point, f64, i64, f64, row(s.rng),
                           numba.typeof(vec)),
        # schedule flag, the point before the transition, adapt the step size?, ...
        "fisher_adapt": (numba.from_dtype(schedule.dtype), row(s.position), types.boolean,
                         row(s.inv_diag), row(s.position), row(s.grad), f64, f64,
                         row(s.fisher_counts), row(s.fisher_moments), row(s.da),
                         f64, f64, f64, f64),
        "update_metric": (i64, f64, row(s.welford_m2_diag), row(s.welford_m2_dense),
                          row(s.inv_diag), row(s.inv_dense), row(s.chol)),
        # (metric kind, diagonal and dense inverse metric, q, p, gradient, p_sharp, step size)
        "leapfrog": (*model, *metric[:3], *(row(s.position),) * 4, f64),
        "sample_momentum": (i64, row(s.inv_diag), row(s.chol), row(s.rng), row(s.position)),
        "hamiltonian": (f64, row(s.position), row(s.position)),
        "uniform": (row(s.rng),),
        "dual_averaging_update": (row(s.da), f64, f64, f64, f64, f64),
        "welford_add_diag": (f64, row(s.welford_mean), row(s.welford_m2_diag), row(s.position)),
        "fisher_add": (row(s.fisher_counts), row(s.fisher_moments), row(s.position),
                       row(s.grad)),
        "fisher_init_metric": (row(s.grad), row(s.inv_diag)),
    }


def driver_is_cached() -> bool:
    """Whether the driver is compiled in this process or in Numba's disk cache (for this
    machine, Numba version and source), i.e. whether running it will not compile."""
    driver = _dispatchers()["advance_chain"]
    if JIT_DISABLED or driver.signatures:
        return True
    try:  # Numba's own cache lookup, without loading the machine code
        cache = driver._cache
        key = cache._index_key(signatures()["advance_chain"], driver.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # a Numba without these internals: assume a compile is needed
        return False


def compile_kernels(names: tuple[str, ...]) -> None:
    """Compile (or load from the disk cache) the named kernels with their driver signatures."""
    dispatchers, sigs = _dispatchers(), signatures()
    for name in names:
        dispatchers[name].compile(sigs[name])


def compile_entries(names: tuple[str, ...]) -> None:
    """Compile (or load from the disk cache) the named entries of :mod:`kernels.entries`."""
    from kernels.entries import entry_address

    for name in names:
        entry_address(name)


class SamplerCompile:
    """A sampler compile in progress: the helper process."""

    def __init__(self, helper: subprocess.Popen) -> None:
        self.helper = helper

    def cancel(self) -> None:
        """Stop the helper (e.g. when the run is abandoned before :func:`finish`)."""
        if self.helper.poll() is None:
            self.helper.kill()
            self.helper.wait()
        if self.helper.stdout is not None:
            self.helper.stdout.close()


def start() -> SamplerCompile | None:
    """Start compiling the sampler in a helper process if the driver is not cached yet.

    Returns None when nothing needs compiling (or JIT is disabled, or the helper could not be
    started); otherwise a handle for :func:`finish`. The helper inherits the environment, so it
    writes to the same cache folder.
    """
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
    handle = SamplerCompile(helper)
    try:
        compile_kernels(SHARED_KERNELS)
        helper.stdin.write(b"go\n")
        helper.stdin.close()
    except Exception:  # noqa: BLE001 -- as above
        handle.cancel()
        return None
    except BaseException:  # Ctrl-C: no helper left behind
        handle.cancel()
        raise
    return handle


def finish(handle: SamplerCompile | None) -> None:
    """Compile this process's share of the kernels and the driver, then wait for the helper's
    share (the driver's first call loads the helper's entries from the cache).

    Nothing here can make a run fail: a kernel that did not compile here (which the tests would
    catch) is compiled, or its error reported, by the driver's first call as without this module.
    """
    if handle is None:
        return
    try:
        try:
            compile_kernels(LOCAL_KERNELS)
            # the helper's kernels are in the cache when it says so (or it has stopped, and
            # the driver compiles what is missing)
            handle.helper.stdout.readline()
            compile_kernels(("advance_chain",))
        except Exception:  # noqa: BLE001 -- see the docstring
            pass
        handle.helper.wait()  # its entries are in the cache now (or the driver compiles them)
    finally:
        handle.cancel()


if __name__ == "__main__":  # the helper: python -m kernels.precompile KERNEL... -- ENTRY...
    import kernels.entries  # noqa: F401

    split = sys.argv.index("--")
    compile_kernels(tuple(sys.argv[1:split]))
    print("kernels", flush=True)
    if sys.stdin.readline().strip() == "go":  # (end of input: the caller gave up or died)
        compile_entries(tuple(sys.argv[split + 1:]))
