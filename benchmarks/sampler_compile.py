"""The sampler's first-run compile, piece by piece: what each group of kernels costs to compile.

:mod:`cold_start` times a whole first run; on a shared machine its wall seconds move with the
load. This benchmark compiles the sampler's kernels **serially in one fresh process on an empty
temporary cache**, in the groups of :mod:`kernels.precompile` (shared kernels, the helper's
kernels, the entries, the driver) and then each entry that only some runs compile
(:data:`kernels.entries.ON_DEMAND`), and prints for each its wall seconds and the **CPU seconds
of this process** -- Numba compiles on the calling thread, so the CPU time is the compile's own
work, which the load of other jobs barely changes. The sum of the default groups is the work a
default NUTS run's first compile does (shared between two processes by
:mod:`kernels.precompile`).

Run: ``python benchmarks/sampler_compile.py`` (about 20 s of CPU).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

_WORKER = """
import sys, time
t0, c0 = time.perf_counter(), time.process_time()
from kernels import entries as E, precompile as P
P._import_kernels()
print(f"import,{time.perf_counter() - t0:.2f},{time.process_time() - c0:.2f}", flush=True)
groups = [("shared kernels", lambda: P.compile_kernels(P.SHARED_KERNELS)),
          ("helper kernels", lambda: P.compile_kernels(P.HELPER_KERNELS)),
          ("local kernels", lambda: P.compile_kernels(P.LOCAL_KERNELS))]
groups += [(f"entry {n}", lambda n=n: P.compile_entries((n,))) for n in P.HELPER_ENTRIES]
groups += [("driver", lambda: P.compile_kernels((P.DRIVER,)))]
groups += [(f"on demand: {n}", lambda n=n: P.compile_entries((n,))) for n in E.ON_DEMAND]
for name, compile_group in groups:
    t0, c0 = time.perf_counter(), time.process_time()
    compile_group()
    print(f"{name},{time.perf_counter() - t0:.2f},{time.process_time() - c0:.2f}", flush=True)
"""


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sampler_compile_") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache,
               "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _WORKER], env=env, capture_output=True,
                              text=True, check=False)
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    rows = [line.split(",") for line in done.stdout.strip().splitlines()]
    print(f"serial sampler compile on an empty cache ({time.perf_counter() - t0:.0f} s in all; "
          f"load average now {os.getloadavg()[0]:.1f})")
    print(f"{'group':<40} {'wall s':>7} {'CPU s':>7}")
    default_cpu = 0.0
    for name, wall, cpu in rows:
        print(f"{name:<40} {float(wall):>7.2f} {float(cpu):>7.2f}")
        if name != "import" and not name.startswith("on demand"):
            default_cpu += float(cpu)
    print(f"{'a default NUTS run compiles (CPU s)':<40} {'':>7} {default_cpu:>7.2f}")


if __name__ == "__main__":
    main()
