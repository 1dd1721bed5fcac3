"""One BLAS thread while chains run: the OpenBLAS thread count of the loaded libraries.

Compiled models (matrix products, ``eigh``, ``svd``, ...) and the low-rank mass-matrix
adaptation (:mod:`kernels.low_rank_adaptation`) call BLAS/LAPACK (``np.linalg.eigh`` or
``np.dot`` in compiled code reach SciPy's OpenBLAS) from every chain's thread at once; OpenBLAS
then starts its own pool of threads per call, and with one chain per core the cores are
oversubscribed (an 89 x 89 eigendecomposition took tens of times longer). The sampler's driver
therefore sets every loaded OpenBLAS to one thread while chains run side by side, or while the
low-rank adaptation runs (:func:`single_threaded_blas`), and restores the counts afterwards. The libraries
are found in ``/proc/self/maps`` (Linux; elsewhere nothing is changed), by the names of
OpenBLAS' and SciPy's builds of it.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator

__all__ = ["single_threaded_blas"]

# (get, set) entry points of OpenBLAS builds: upstream, SciPy's (32- and 64-bit integers)
_ENTRY_POINTS = (
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
)


# the controls found, keyed by the number of imported modules: reading /proc/self/maps (tens of
# thousands of lines once Numba has compiled) at every chunk of a run cost as much as a small
# model's sampling; a new OpenBLAS is loaded only by an import (NumPy's, SciPy's)
_found: tuple[int, list[tuple]] = (-1, [])


def _openblas_controls() -> list[tuple]:
    global _found
    key = len(sys.modules)
    if _found[0] != key:
        _found = (key, _scan_openblas())
    return _found[1]


def _scan_openblas() -> list[tuple]:
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    controls = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _ENTRY_POINTS:
            if hasattr(lib, get) and hasattr(lib, set_):
                controls.append((getattr(lib, get), getattr(lib, set_)))
                break
    return controls


@contextlib.contextmanager
def single_threaded_blas(enabled: bool = True) -> Iterator[None]:
    """Within the block, every loaded OpenBLAS uses one thread (no-op if ``enabled`` is false)."""
    controls = _openblas_controls() if enabled else []
    saved = [get() for get, _ in controls]
    for _, set_ in controls:
        set_(1)
    try:
        yield
    finally:
        for (_, set_), n in zip(controls, saved):
            set_(n)
