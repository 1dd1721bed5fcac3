"""``python -m inference.cache info|clear|verify``: look after the compile cache.

* ``info`` -- the folder (see :func:`kernels.cache.cache_dir`), whether it passes the ownership
  check, its size, and how many compiled functions, data files and generated model sources it
  holds;
* ``clear`` -- remove everything in it (the next run compiles again);
* ``verify`` -- read every entry, and remove the damaged ones: Numba index files that do not
  unpickle and data files that are not one whole pickle, data files no index refers to, generated sources whose
  content does not match the hash in their name, and temporary files left by killed processes.
  Prints what it found and repaired; a run repairs the same damage by itself when it meets it
  (:mod:`kernels.cache`), this command does it for the whole folder at once.

The checks read files but never unpickle anything from a folder that fails the ownership check.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import pickle
import pickletools
import shutil
import sys
from dataclasses import dataclass, field

import numba

from kernels.cache import CacheFolderError, cache_dir, check_folder

__all__ = ["CacheReport", "cache_info", "clear_cache", "verify_cache", "main"]

_GENERATED_PREFIX = "numbayes_generated_"


@dataclass
class CacheReport:
    """What :func:`cache_info` or :func:`verify_cache` found in the cache folder."""

    folder: str
    bytes: int = 0
    index_files: int = 0
    data_files: int = 0
    generated_sources: int = 0
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _files(folder: str) -> list[str]:
    return [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names]


def cache_info(folder: str | None = None) -> CacheReport:
    """Size and contents of the cache folder (default :func:`kernels.cache.cache_dir`)."""
    folder = folder or cache_dir()
    report = CacheReport(folder)
    if not os.path.isdir(folder):
        return report
    for path in _files(folder):
        report.bytes += os.path.getsize(path)
        report.index_files += path.endswith(".nbi")
        report.data_files += path.endswith(".nbc")
        report.generated_sources += os.path.basename(path).startswith(_GENERATED_PREFIX) and \
            path.endswith(".py")
    return report


def clear_cache(folder: str | None = None) -> CacheReport:
    """Remove the cache folder's contents; returns what was there."""
    folder = folder or cache_dir()
    report = cache_info(folder)
    if os.path.isdir(folder):
        for entry in os.listdir(folder):
            path = os.path.join(folder, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    return report


def _index_data_files(index_path: str) -> list[str]:
    """The data files an index refers to; raises if the index does not unpickle."""
    with open(index_path, "rb") as f:
        pickle.load(f)  # Numba's version stamp
        _, overloads = pickle.loads(f.read())
    folder = os.path.dirname(index_path)
    return [os.path.join(folder, name) for name in overloads.values()]


def _check_pickle(path: str) -> None:
    """Raise unless the file is one whole pickle: its opcodes are read to the end, nothing is
    built (a data file's objects need the module of the function they hold)."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise EOFError("empty file")
    end = 0
    for opcode, _, position in pickletools.genops(data):
        end = position
        if opcode.name == "STOP":
            break
    else:
        raise EOFError("no STOP opcode")
    if end != len(data) - 1:
        raise ValueError("data after the pickle")


def _generated_source_is_intact(path: str) -> bool:
    digest = os.path.basename(path)[len(_GENERATED_PREFIX):-len(".py")]
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        return False
    return hashlib.sha256((text + numba.__version__).encode()).hexdigest()[:24] == digest


def verify_cache(folder: str | None = None) -> CacheReport:
    """Check every entry of the cache folder and remove the damaged ones (module docstring).

    Raises :class:`kernels.cache.CacheFolderError` if the folder is not private to the user.
    """
    folder = folder or cache_dir()
    report = cache_info(folder)
    if not os.path.isdir(folder):
        return report
    check_folder(folder)

    def remove(path: str, why: str) -> None:
        report.problems.append(f"{path}: {why}")
        try:
            os.remove(path)
            report.removed.append(path)
        except FileNotFoundError:
            pass

    referenced: set[str] = set()
    for index in glob.glob(os.path.join(folder, "**", "*.nbi"), recursive=True):
        try:
            data_files = _index_data_files(index)
        except Exception as exc:  # truncated, garbled: whatever pickle raises
            remove(index, f"index does not load ({type(exc).__name__})")
            continue
        for data in data_files:
            referenced.add(data)
            if not os.path.exists(data):
                continue
            try:
                _check_pickle(data)
            except Exception as exc:
                remove(data, f"data file does not load ({type(exc).__name__})")
                remove(index, "its data file was damaged")
    for data in glob.glob(os.path.join(folder, "**", "*.nbc"), recursive=True):
        if data not in referenced:
            remove(data, "no index refers to it")
    pattern = os.path.join(folder, "generated", _GENERATED_PREFIX + "*.py")
    for source in glob.glob(pattern):
        if not _generated_source_is_intact(source):
            remove(source, "content does not match the hash in its name")
    for tmp in glob.glob(os.path.join(folder, "**", "*.tmp"), recursive=True):
        remove(tmp, "temporary file left by an interrupted write")
    return report


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m inference.cache",
                                     description="Inspect, verify or clear the compile cache.")
    parser.add_argument("command", choices=["info", "clear", "verify"])
    args = parser.parse_args(argv)
    folder = cache_dir()
    try:
        if args.command == "clear":
            report = clear_cache(folder)
            print(f"cleared {folder}: {_size(report.bytes)} in {report.index_files} compiled "
                  f"functions and {report.generated_sources} generated sources")
            return 0
        if args.command == "verify":
            report = verify_cache(folder)
            for problem in report.problems:
                print(f"repaired: {problem}")
            print(f"verified {folder}: {report.index_files} compiled functions, "
                  f"{report.generated_sources} generated sources; "
                  f"{len(report.removed)} damaged files removed")
            return 0
        report = cache_info(folder)
        try:
            check_folder(folder) if os.path.isdir(folder) else None
            owner = "private to you" if os.path.isdir(folder) else "not created yet"
        except CacheFolderError as exc:
            owner = f"REFUSED: {exc}"
        print(f"folder:            {folder} ({owner})")
        print(f"size:              {_size(report.bytes)}")
        print(f"compiled functions: {report.index_files} ({report.data_files} data files)")
        print(f"generated sources: {report.generated_sources}")
        return 0
    except CacheFolderError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
