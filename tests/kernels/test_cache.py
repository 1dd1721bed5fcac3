"""kernels.cache: the cache folder is the user's own, and damaged entries heal.

Fault injection: each case damages a real cache the way a full disk, a partial copy or another
user would, then runs a fresh process on it, which must give the right answer with one
CacheRepairWarning and no traceback.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest

from kernels import cache
from kernels.jit import JIT_DISABLED

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_missing_folder_is_created_private(tmp_path):
    folder = tmp_path / "new" / "cache"
    cache.check_folder(str(folder))
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o777, 0o775, 0o722])
def test_a_folder_others_may_write_is_refused(tmp_path, monkeypatch, mode):
    monkeypatch.delenv(cache.SHARED_CACHE_VARIABLE, raising=False)
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(mode)
    with pytest.raises(cache.CacheFolderError) as info:
        cache.check_folder(str(folder))
    message = str(info.value)
    assert str(folder) in message and "chmod 700" in message
    assert cache.SHARED_CACHE_VARIABLE in message


def test_a_shared_folder_is_accepted_when_asked_for(tmp_path, monkeypatch):
    folder = tmp_path / "team"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setenv(cache.SHARED_CACHE_VARIABLE, "1")
    cache.check_folder(str(folder))  # no error


def test_the_default_folder_is_per_user(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert cache.cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "numbayes")


_PROGRAM = textwrap.dedent("""
    import sys, warnings
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {module_dir!r})
    warnings.simplefilter("always")
    import kernels.jit  # configures the cache
    import tiny
    print("RESULT", tiny.triple(14.0))
""")

_MODULE = textwrap.dedent("""
    from numba import njit

    @njit(cache=True)
    def triple(x):
        return 3.0 * x
""")


def _run(tmp_path, env_extra=None):
    module_dir = tmp_path / "src"
    module_dir.mkdir(exist_ok=True)
    (module_dir / "tiny.py").write_text(_MODULE)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), **(env_extra or {})}
    env.pop(cache.SHARED_CACHE_VARIABLE, None)
    program = _PROGRAM.format(root=ROOT, module_dir=str(module_dir))
    return subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=120)


def _entry_files(tmp_path, suffix):
    found = [os.path.join(root, name) for root, _, names in os.walk(tmp_path / "cache")
             for name in names if name.startswith("tiny.triple") and name.endswith(suffix)]
    assert found, f"no {suffix} file of tiny.triple in the cache"
    return found


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _empty(path):
    open(path, "wb").close()


def _garble(path):
    with open(path, "wb") as f:
        f.write(b"\x80\x05this is not a pickle at all" * 5)


@pytest.mark.skipif(JIT_DISABLED, reason="the disk cache needs the JIT")
@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
@pytest.mark.parametrize("damage", [_empty, _truncate, _garble], ids=lambda f: f.__name__[1:])
def test_a_damaged_numba_cache_file_heals(tmp_path, suffix, damage):
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "RESULT 42.0" in first.stdout
    for path in _entry_files(tmp_path, suffix):
        damage(path)
    second = _run(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "RESULT 42.0" in second.stdout
    assert "Traceback" not in second.stderr
    assert second.stderr.count("CacheRepairWarning") == 1
    # the entry was written again: a third process loads it silently
    third = _run(tmp_path)
    assert "RESULT 42.0" in third.stdout and "CacheRepairWarning" not in third.stderr


@pytest.mark.skipif(JIT_DISABLED, reason="the disk cache needs the JIT")
def test_a_cache_folder_others_may_write_is_refused_before_loading(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache").chmod(0o777)
    run = _run(tmp_path)
    assert run.returncode != 0
    assert "CacheFolderError" in run.stderr and "chmod 700" in run.stderr
    assert "RESULT" not in run.stdout


def test_kernel_cache_entries_are_keyed_on_every_kernel_source():
    from kernels import integrators

    py_func = integrators.leapfrog.py_func
    locator = cache._ProjectCacheLocator.from_function(py_func, integrators.__file__)
    assert locator is not None
    assert locator.get_source_stamp()[1] == cache.KERNELS_DIGEST
    outside = cache._ProjectCacheLocator.from_function(test_the_default_folder_is_per_user,
                                                      __file__)
    assert outside is None


_GRAPH_PROGRAM = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    import autodiff
    import autodiff.numpy as anp

    f = autodiff.jit(lambda x: anp.sum(anp.exp(x) * {scale!r}))
    print("RESULT", repr(float(f(np.arange(3.0)))))
""")


def _graph_process(tmp_path, scale):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    env.pop(cache.SHARED_CACHE_VARIABLE, None)
    program = _GRAPH_PROGRAM.format(root=ROOT, scale=scale)
    return subprocess.Popen([sys.executable, "-c", program], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _expected(scale):
    import numpy as np

    return float(np.sum(np.exp(np.arange(3.0)) * scale))


@pytest.mark.skipif(JIT_DISABLED, reason="the disk cache needs the JIT")
def test_three_processes_compiling_the_same_new_model_at_once(tmp_path):
    runs = [_graph_process(tmp_path, 2.5) for _ in range(3)]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert f"RESULT {_expected(2.5)!r}" in out
        assert "Traceback" not in err and "CacheRepairWarning" not in err


@pytest.mark.skipif(JIT_DISABLED or not hasattr(os, "kill"), reason="JIT and POSIX signals")
def test_a_process_killed_while_compiling_leaves_a_usable_cache(tmp_path):
    import signal
    import time

    victim = _graph_process(tmp_path, 3.5)
    generated = tmp_path / "cache" / "generated"
    deadline = time.monotonic() + 120
    while not (generated.exists() and any(generated.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)  # mid-compile: the source is written, Numba is busy
    victim.communicate(timeout=60)
    survivor = _graph_process(tmp_path, 3.5)
    out, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err
    assert f"RESULT {_expected(3.5)!r}" in out and "Traceback" not in err
