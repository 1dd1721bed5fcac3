"""Progress reporting: when it is on, what it shows, and that it never changes the draws."""

from __future__ import annotations

import io
import math
import sys

import numpy as np
import pytest

import inference.mcmc as mcmc_module
from inference import MCMC, NUTS
from inference import progress as P
from kernels import precompile
from tests.inference.models import EightSchoolsCentered, GaussianModel

pytestmark = pytest.mark.filterwarnings("ignore::inference.SamplingWarning")


def _model():
    return GaussianModel([0.0, 1.0], [[1.0, 0.2], [0.2, 0.5]])


def _mcmc(**kw):
    kw.setdefault("num_warmup", 150)
    kw.setdefault("num_samples", 100)
    kw.setdefault("num_chains", 2)
    return MCMC(NUTS(kw.pop("model", None) or _model()), **kw)


@pytest.fixture
def interactive(monkeypatch):
    """Pretend stderr is a terminal, outside CI."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(P, "_is_interactive", lambda stream: True)


def test_enabled_only_when_requested_visible_and_not_on_ci(monkeypatch, interactive):
    assert P.progress_enabled(True)
    assert not P.progress_enabled(False)
    monkeypatch.setenv("CI", "true")
    assert not P.progress_enabled(True)
    assert isinstance(P.make_reporter(True), P.NullReporter)
    monkeypatch.delenv("CI")
    monkeypatch.setattr(P, "_is_interactive", lambda stream: False)
    assert not P.progress_enabled(True)  # e.g. output redirected to a file


def test_not_a_terminal_by_default():
    assert not P._is_interactive(io.StringIO())


def test_off_under_ci_prints_nothing(monkeypatch, capsys, interactive):
    monkeypatch.setenv("CI", "1")
    _mcmc(progress_bar=True).run(0)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_bar_shows_chains_and_does_not_change_the_draws(capsys, interactive):
    quiet = _mcmc(progress_bar=False)
    quiet.run(1)
    shown = _mcmc(progress_bar=True, chunk_size=20)
    shown.run(1)
    err = capsys.readouterr().err
    assert "chain 0" in err and "chain 1" in err and "div " in err
    assert "Sampling 2 chain(s) x (150 warmup + 100 draws)" in err
    np.testing.assert_array_equal(quiet.results.draws, shown.results.draws)
    np.testing.assert_array_equal(quiet.results.stats["lp"], shown.results.stats["lp"])


def test_plain_text_line_without_tqdm(monkeypatch, capsys, interactive):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    assert isinstance(P.make_reporter(True), P.TextReporter)
    quiet = _mcmc(progress_bar=False)
    quiet.run(2)
    shown = _mcmc(progress_bar=True, chunk_size=25)
    shown.run(2)
    err = capsys.readouterr().err
    assert "\r" in err and "divergences 0,0" in err and "draws/s" in err
    assert "iterations 250,250 of 250" in err
    np.testing.assert_array_equal(quiet.results.draws, shown.results.draws)


def test_callback_sees_phases_counts_and_divergences():
    seen = []

    def callback(progress):
        seen.append([(p.phase, p.iteration, p.divergences, p.step_size, p.eta) for p in progress])

    m = _mcmc(
        model=EightSchoolsCentered(),
        num_warmup=200,
        num_samples=300,
        chunk_size=50,
        progress_callback=callback,
        progress_bar=False,
    )
    m.run(3)
    assert len(seen) == 10 and all(len(s) == 2 for s in seen)
    assert [s[0][0] for s in seen] == ["warmup"] * 3 + ["sampling"] * 7  # at 200: sampling next
    assert [s[0][1] for s in seen] == list(range(50, 501, 50))
    last = seen[-1]
    for c, (phase, iteration, div, step, eta) in enumerate(last):
        assert (phase, iteration) == ("sampling", 500)
        assert div == m.results.divergences[c]
        assert step == m.get_extra_fields(group_by_chain=True)["step_size"][c, -1]
        assert eta == 0.0
    assert all(math.isfinite(s[0][3]) for s in seen)


def test_compiling_state_is_shown_first(monkeypatch):
    events = []

    class Recorder(P.ProgressReporter):
        def start(self, chains):
            events.append(("start", chains[0].phase))

        def update(self, chains):
            events.append(("update", chains[0].phase))

        def close(self, chains, message=""):
            events.append(("close", chains[0].phase))

    monkeypatch.setattr(mcmc_module, "make_reporter", lambda progress_bar: Recorder())
    monkeypatch.setattr(precompile, "_driver_loaded", lambda: False)  # as on a first run
    _mcmc(num_warmup=150, num_samples=50, chunk_size=100).run(0)
    assert events[0] == ("start", "compiling")
    assert events[1:] == [
        ("update", "warmup"),
        ("update", "sampling"),
        ("update", "sampling"),
        ("close", "done"),
    ]


def test_tqdm_reporter_renders_every_chain():
    stream = io.StringIO()
    reporter = P.TqdmReporter(stream)
    chains = [P.ChainProgress(c, "compiling", 0, 100, 50) for c in range(3)]
    reporter.start(chains)
    for p in chains:
        p.phase, p.iteration, p.divergences, p.step_size = "sampling", 100, p.chain, 0.25
    reporter.close(chains, "done message")
    text = stream.getvalue()
    assert "Compiling.." in text
    assert "chain 2 sampling" in text and "div 2" in text and "step 0.25" in text
    assert text.rstrip().endswith("done message")


def test_many_chains_share_one_bar():
    stream = io.StringIO()
    reporter = P.TqdmReporter(stream)
    chains = [P.ChainProgress(c, "warmup", 10, 100, 50, divergences=1) for c in range(12)]
    reporter.start(chains)
    reporter.update(chains)
    reporter.close(chains)
    assert len(reporter._bars) == 0 and "12 chains, warmup" in stream.getvalue()
    assert "div 12" in stream.getvalue()


def test_eta_and_duration_format():
    p = P.ChainProgress(0, "sampling", 50, 150, 50, draws_per_second=10.0)
    assert p.eta == pytest.approx(10.0)
    assert math.isnan(P.ChainProgress(0, "warmup", 0, 10, 5).eta)
    assert P.format_duration(125) == "2:05"
