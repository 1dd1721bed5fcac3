"""SIGTERM during ``MCMC.run`` keeps the completed draws (:mod:`inference.termination`).

The in-process tests send SIGTERM to this process only while a Python handler of the test is
installed under the sampler's, so that a broken handler cannot end the test run; the
subprocess test is the real case: a script sampling for a long time, terminated from outside,
that must return from ``run`` and print what it kept.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

from inference import MCMC, NUTS, SamplingWarning
from inference.termination import sigterm_stops_sampling
from tests.inference.models import GaussianModel

pytestmark = [
    pytest.mark.filterwarnings("ignore:Too few warmup iterations"),
    pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32",
                       reason="POSIX signals"),
]

ROOT = pathlib.Path(__file__).resolve().parents[2]
MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[1.0, 0.8, 0.0], [0.8, 2.0, -0.3], [0.0, -0.3, 0.5]])


@pytest.fixture
def fallback_handler():
    """A Python SIGTERM handler that records calls instead of ending pytest; the original is
    restored afterwards."""
    calls = []
    original = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGTERM, original)


def _mcmc(**kw):
    return MCMC(NUTS(GaussianModel(MEAN, COV)), num_chains=2, progress_bar=False, **kw)


class _TermAfter:
    """A progress callback that sends this process SIGTERM at its n-th call."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, progress):
        self.calls += 1
        if self.calls == self.n:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_keeps_completed_draws(fallback_handler):
    full = _mcmc(num_warmup=100, num_samples=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        full.run(9)
    handler = signal.getsignal(signal.SIGTERM)
    # chunks: 2 of warmup, then sampling; SIGTERM after the 2nd sampling chunk
    mcmc = _mcmc(num_warmup=100, num_samples=200, chunk_size=50, progress_callback=_TermAfter(4))
    with pytest.warns(SamplingWarning, match=r"interrupted \(SIGTERM\).*100 completed draws"):
        mcmc.run(9)
    assert fallback_handler == []  # the sampler's handler took it
    assert signal.getsignal(signal.SIGTERM) is handler  # and is gone
    assert mcmc.results.interrupted and mcmc.results.stopped_by == "SIGTERM"
    assert "Interrupted (SIGTERM): 100 draws" in mcmc.results.report()
    np.testing.assert_array_equal(mcmc.results.draws, full.results.draws[:, :100])
    assert mcmc.last_state.iteration == 200
    assert all(v.shape == (2, 100) for v in mcmc.get_extra_fields(group_by_chain=True).values())
    # the state after the kept draws continues the chains exactly, as after Ctrl-C
    mcmc.post_warmup_state = mcmc.last_state
    mcmc.progress_callback = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        mcmc.run(None)
    np.testing.assert_array_equal(mcmc.results.draws[:, :100], full.results.draws[:, 100:])


def test_handler_restored_after_an_error(fallback_handler):
    handler = signal.getsignal(signal.SIGTERM)

    def fail(progress):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        _mcmc(num_warmup=50, num_samples=50, progress_callback=fail).run(0)
    assert signal.getsignal(signal.SIGTERM) is handler


def test_a_second_sigterm_goes_to_the_previous_handler(fallback_handler):
    with sigterm_stops_sampling() as request:
        assert not request
        os.kill(os.getpid(), signal.SIGTERM)
        assert request.signal_name == "SIGTERM" and fallback_handler == []
        os.kill(os.getpid(), signal.SIGTERM)
        assert fallback_handler == [signal.SIGTERM]


def test_nothing_is_installed_outside_the_main_thread(fallback_handler):
    handler = signal.getsignal(signal.SIGTERM)
    seen = []

    def in_thread():
        with sigterm_stops_sampling() as request:
            seen.append((signal.getsignal(signal.SIGTERM), bool(request)))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == [(handler, False)]


_SCRIPT = textwrap.dedent("""
    import json, os, signal, sys, time, warnings
    import numpy as np
    from inference import MCMC, NUTS
    from tests.inference.models import GaussianModel

    started, num_warmup, num_samples = sys.argv[1], 100, 100_000

    def callback(progress):
        # a file tells the parent that sampling draws exist; the pause keeps the run long
        if progress[0].iteration > num_warmup and not os.path.exists(started):
            open(started, "w").close()
        time.sleep(0.005)

    mcmc = MCMC(NUTS(GaussianModel(np.zeros(2), np.eye(2))), num_warmup=num_warmup,
                num_samples=num_samples, num_chains=2, chunk_size=50, progress_bar=False,
                progress_callback=callback)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mcmc.run(0)
    x = mcmc.get_samples(group_by_chain=True)["x"]
    stats = mcmc.get_extra_fields(group_by_chain=True)
    print(json.dumps({
        "kept": int(x.shape[1]),
        "x_shape": list(x.shape),
        "flat_shape": list(mcmc.get_samples()["x"].shape),
        "stat_shapes": sorted({list(v.shape).__repr__() for v in stats.values()}),
        "num_samples": mcmc.results.num_samples,
        "iteration": mcmc.last_state.iteration,
        "stopped_by": mcmc.results.stopped_by,
        "warnings": [str(w.message) for w in caught],
        "handler_restored": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
    }))
""")


def _terminate_once_sampling(child: subprocess.Popen, started: pathlib.Path) -> dict:
    """SIGTERM ``child`` (running ``_SCRIPT``) once it has draws; its exit must be clean.
    Returns the report it printed."""
    try:
        deadline = time.monotonic() + 180  # a first run may compile the sampler
        while not started.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists(), f"sampling did not start: {child.poll()}"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_sigterm_from_outside_keeps_the_draws(tmp_path):
    script, started = tmp_path / "long_run.py", tmp_path / "sampling"
    script.write_text(_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    child = subprocess.Popen([sys.executable, str(script), str(started)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report = _terminate_once_sampling(child, started)
    kept = report["kept"]
    assert 0 < kept < 100_000
    assert report["x_shape"] == [2, kept, 2] and report["flat_shape"] == [2 * kept, 2]
    assert report["stat_shapes"] == [repr([2, kept])]
    assert report["num_samples"] == kept and report["iteration"] == 100 + kept
    assert report["stopped_by"] == "SIGTERM" and report["handler_restored"]
    assert any("interrupted (SIGTERM)" in w for w in report["warnings"]), report["warnings"]


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task"), reason="Linux /proc")
def test_sigterm_to_the_process_group_during_a_first_compile(tmp_path):
    """A scheduler signals the whole job: during a first run that is also the background process
    compiling half of the sampler (kernels.precompile). The run must stop cleanly (no draws
    yet) and leave a cache the next run completes from."""
    script, started = tmp_path / "long_run.py", tmp_path / "sampling"
    script.write_text(_SCRIPT)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "empty_cache"), PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))

    def start():
        return subprocess.Popen([sys.executable, str(script), str(started)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    child = start()
    children = pathlib.Path(f"/proc/{child.pid}/task/{child.pid}/children")
    try:
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline and not (
                children.exists() and children.read_text().split()):
            time.sleep(0.02)  # until the background compile process exists
        time.sleep(1.0)  # the run's own half of the compile is under way (seconds long)
        assert child.poll() is None and not started.exists()
        os.killpg(child.pid, signal.SIGTERM)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
    assert child.returncode == 0, err
    assert "Traceback" not in err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["kept"] == 0 and report["stopped_by"] == "SIGTERM"
    # the next run on that cache samples (and is stopped as usual once it does)
    assert _terminate_once_sampling(start(), started)["kept"] > 0
