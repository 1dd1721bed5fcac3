"""``python -m inference.cache info|clear|verify`` on a cache folder with planted damage."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys

import numba

from inference.cache import verify_cache


def _generated(folder, text):
    digest = hashlib.sha256((text + numba.__version__).encode()).hexdigest()[:24]
    path = folder / "generated" / f"numbayes_generated_{digest}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _plant(folder):
    folder.mkdir(mode=0o700)
    sub = folder / "kernels_abc"
    sub.mkdir()
    good_index = sub / "m.f-1.py311.nbi"
    with open(good_index, "wb") as f:
        pickle.dump(numba.__version__, f)
        f.write(pickle.dumps(("stamp", {"key": "m.f-1.py311.1.nbc"})))
    (sub / "m.f-1.py311.1.nbc").write_bytes(pickle.dumps(("some", "payload")))
    files = {
        "good_index": good_index,
        "good_data": sub / "m.f-1.py311.1.nbc",
        "truncated_index": sub / "m.g-2.py311.nbi",
        "orphan_data": sub / "m.h-3.py311.1.nbc",
        "tmp": sub / "m.g-2.py311.nbi.123.tmp",
        "good_source": _generated(folder, "x = 1\n"),
    }
    files["truncated_index"].write_bytes(pickle.dumps(numba.__version__)[:3])
    files["orphan_data"].write_bytes(pickle.dumps(1))
    files["tmp"].write_bytes(b"half")
    tampered = _generated(folder, "y = 2\n")
    tampered.write_text("import os\n")
    files["tampered_source"] = tampered
    return files


def test_verify_removes_exactly_the_damaged_entries(tmp_path):
    files = _plant(tmp_path / "cache")
    report = verify_cache(str(tmp_path / "cache"))
    removed = {os.path.basename(p) for p in report.removed}
    for name in ("truncated_index", "orphan_data", "tmp", "tampered_source"):
        assert files[name].name in removed and not files[name].exists(), name
    for name in ("good_index", "good_data", "good_source"):
        assert files[name].exists(), name


def _command(tmp_path, *args):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "inference.cache", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_command_line(tmp_path):
    _plant(tmp_path / "cache")
    info = _command(tmp_path, "info")
    assert info.returncode == 0, info.stderr
    assert str(tmp_path / "cache") in info.stdout and "private to you" in info.stdout
    assert "compiled functions: 2" in info.stdout and "generated sources: 2" in info.stdout
    verify = _command(tmp_path, "verify")
    assert verify.returncode == 0, verify.stderr
    assert "4 damaged files removed" in verify.stdout
    clear = _command(tmp_path, "clear")
    assert clear.returncode == 0 and os.listdir(tmp_path / "cache") == []


def test_verify_refuses_a_folder_others_may_write(tmp_path):
    _plant(tmp_path / "cache")
    (tmp_path / "cache").chmod(0o777)
    run = _command(tmp_path, "verify")
    assert run.returncode == 2 and "chmod 700" in run.stderr
