"""The compile cache: where it is, who may write to it, and how a damaged entry heals.

Everything compiled -- the kernels of this package and the generated model modules -- is cached
on disk in one folder, :func:`cache_dir`: ``NUMBA_CACHE_DIR`` when set, else
``~/.cache/numbayes``. Machine code in it is loaded with :mod:`pickle` and executed, so the
folder is trusted only when it is the user's own:

* **Ownership.** :func:`configure` (run once, when :mod:`kernels.jit` is imported, before
  Numba reads anything from the folder) creates the folder private to the user (mode 0700)
  and refuses a folder that another user owns or that the group or others may write to: the
  first load or save of compiled code then raises :class:`CacheFolderError`, naming the folder
  and the fix, and nothing is read from it -- anyone who can write there can make our process run their
  code. ``NUMBAYES_SHARED_CACHE=1`` accepts such a folder deliberately (a cache shared by a
  team, whose members trust each other).
* **Healing.** A damaged entry (a truncated or garbled Numba index or data file, as a full disk
  or a partial copy leaves) is removed and its function recompiled, with one
  :class:`CacheRepairWarning` per folder, instead of Numba's ``EOFError`` or
  ``UnpicklingError`` reaching the user (:func:`configure` wraps Numba's loader).
* **Staleness.** Numba keys a cached function on its own source file only, but compiled code
  also holds copies of the kernels it calls from other files; every cache entry of the library's
  packages and of generated modules is therefore also keyed on a digest of all of ``kernels/``'s
  sources (:data:`KERNELS_DIGEST`), so editing any kernel invalidates what was built on it.

Numba writes its files atomically itself (a temporary file, then a rename); generated sources
are written and verified by :func:`autodiff.codegen.emit.load_source`.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import threading
import warnings
from typing import Any

import numba
from numba.core import caching

__all__ = [
    "CacheFolderError",
    "CacheRepairWarning",
    "KERNELS_DIGEST",
    "cache_dir",
    "configure",
    "check_folder",
    "discard_entry",
]

#: Environment variable that accepts a cache folder other users may write to.
SHARED_CACHE_VARIABLE = "NUMBAYES_SHARED_CACHE"


class CacheFolderError(PermissionError):
    """The cache folder is not private to the user (see :func:`check_folder`)."""


class CacheRepairWarning(UserWarning):
    """A damaged entry of the compile cache was removed and its code recompiled."""


def cache_dir() -> str:
    """The folder where compiled code is cached (``NUMBA_CACHE_DIR`` or ``~/.cache/numbayes``).

    Removing that folder clears every cache (``python -m inference.cache clear`` does it).
    """
    return os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "numbayes"
    )


def _shared_cache_allowed() -> bool:
    return os.environ.get(SHARED_CACHE_VARIABLE, "0") not in ("", "0", "false", "False")


def check_folder(path: str) -> None:
    """Create ``path`` private to the user if it is missing; refuse it if it is not theirs.

    Raises
    ------
    CacheFolderError
        When the folder belongs to another user, or its group or others may write to it,
        unless ``NUMBAYES_SHARED_CACHE=1``.
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    if _shared_cache_allowed() or not hasattr(os, "getuid"):
        return
    st = os.stat(path)
    problem = None
    if st.st_uid != os.getuid():
        problem = f"it belongs to another user (uid {st.st_uid})"
    elif st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"its group or other users may write to it (mode {stat.filemode(st.st_mode)})"
    if problem is not None:
        raise CacheFolderError(
            f"refusing the compile cache folder {path}: {problem}, and compiled code is loaded "
            f"from it and run. Fix: make it private (chmod 700 {path}), or point "
            f"NUMBA_CACHE_DIR at a folder of your own; to share a cache with people you trust, "
            f"set {SHARED_CACHE_VARIABLE}=1.")


def _kernels_digest() -> str:
    """SHA-256 of every source file of this package, in name order."""
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "*.py"))):
        digest.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


#: Digest of ``kernels/``'s sources: part of the key of every cache entry built on them.
KERNELS_DIGEST = _kernels_digest()


#: The library's four packages: compiled functions defined in them call kernels.
_PACKAGE_FOLDERS = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), package)
    for package in ("autodiff", "kernels", "ppl", "inference"))


class _ProjectCacheLocator(caching.UserProvidedCacheLocator):
    """Numba's locator for ``NUMBA_CACHE_DIR``, keyed also on :data:`KERNELS_DIGEST`, for
    functions defined in the library's packages and in generated modules (the cache folder)."""

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        path = os.path.abspath(py_file)
        roots = (*_PACKAGE_FOLDERS, os.path.abspath(cache_dir()))
        if not any(path.startswith(root + os.sep) for root in roots):
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self) -> Any:
        return (super().get_source_stamp(), KERNELS_DIGEST)


_warned_folders: set[str] = set()
_lock = threading.Lock()


def discard_entry(cache: caching.Cache, reason: BaseException) -> None:
    """Remove a function's index and data files from the cache, warning once per folder."""
    index = cache._cache_file._index_path
    stem = index[: -len(".nbi")]
    for path in [index, *glob.glob(glob.escape(stem) + ".*.nbc")]:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    folder = os.path.dirname(index)
    with _lock:
        if folder in _warned_folders:
            return
        _warned_folders.add(folder)
    warnings.warn(
        f"a damaged entry of the compile cache in {folder} ({type(reason).__name__}: "
        f"{reason}) was removed and its code is being recompiled; other damaged entries there "
        f"are repaired the same way, without another warning",
        CacheRepairWarning, stacklevel=3)


_numba_load_overload = caching.Cache.load_overload


def _healing_load_overload(self: caching.Cache, sig: Any, target_context: Any) -> Any:
    if _refusal is not None:
        raise _refusal
    try:
        return _numba_load_overload(self, sig, target_context)
    except Exception as exc:  # a damaged file: any error of unpickling or rebuilding it
        discard_entry(self, exc)
        return None  # Numba then compiles, and saves a fresh entry


_numba_save_overload = caching.Cache.save_overload


def _checked_save_overload(self: caching.Cache, sig: Any, data: Any) -> Any:
    if _refusal is not None:
        raise _refusal
    return _numba_save_overload(self, sig, data)


_configured = False
#: Why the cache folder was refused (raised by every load and save), or None.
_refusal: CacheFolderError | None = None


def configure() -> None:
    """Point Numba at :func:`cache_dir`, check the folder, install the checking and healing
    loader and the project's locator. Idempotent; :mod:`kernels.jit` calls it at import."""
    global _configured, _refusal
    if _configured:
        return
    folder = cache_dir()
    try:
        check_folder(folder)
    except CacheFolderError as exc:
        _refusal = exc  # raised when anything is loaded or saved, so imports still work
    numba.config.CACHE_DIR = folder
    caching.Cache.load_overload = _healing_load_overload
    caching.Cache.save_overload = _checked_save_overload
    locators = caching.CacheImpl._locator_classes
    if _ProjectCacheLocator not in locators:
        locators.insert(0, _ProjectCacheLocator)
    _configured = True
