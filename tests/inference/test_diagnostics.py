"""Tests of inference.diagnostics: agreement with ArviZ and analytic properties."""

import logging
import warnings

import numpy as np
import pytest

from inference import diagnostics as dg

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # ArviZ announces its refactor with a FutureWarning
    az = pytest.importorskip("arviz")

RTOL = 1e-8


@pytest.fixture(scope="module", autouse=True)
def _arviz_without_numba():
    """ArviZ's numba path of ``mcse(method="sd")`` fails under NumPy >= 2.4; use plain NumPy.

    Also silences ArviZ's shape-validation log messages for short/single chains.
    """
    was_on = az.Numba.numba_flag
    az.Numba.disable_numba()
    logger = logging.getLogger("arviz")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
    if was_on:
        az.Numba.enable_numba()


def ar1(seed, shape, phi, chain_shift=None):
    """Stationary AR(1) chains along axis 1: x_t = phi x_{t-1} + e_t, e_t ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=shape)
    x = np.empty(shape)
    x[:, 0] = e[:, 0] / np.sqrt(1.0 - phi**2)
    for t in range(1, shape[1]):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    if chain_shift is not None:
        x += np.reshape(chain_shift, (shape[0],) + (1,) * (len(shape) - 1))
    return x


def _az(x, fn, **kw):
    """Apply an ArviZ diagnostic to (chain, draw, *shape) draws, return a NumPy array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ArviZ's 0/0 on degenerate input
        return np.asarray(fn(az.convert_to_dataset({"x": x}), **kw)["x"].values)


def _close(ours, ref):
    ours = np.asarray(ours, dtype=float)
    ref = np.asarray(ref, dtype=float)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=0.0, equal_nan=True)


CASES = {
    "4x500 phi=.5": lambda: ar1(0, (4, 500), 0.5),
    "4x501 odd draws phi=.9": lambda: ar1(1, (4, 501), 0.9),
    "3x200x2x3 phi=.7": lambda: ar1(2, (3, 200, 2, 3), 0.7),
    "2x1000x4 antithetic": lambda: ar1(3, (2, 1000, 4), -0.6),
    "4x300 shifted chains": lambda: ar1(4, (4, 300), 0.3, [0.0, 0.0, 0.5, 1.0]),
    "8x60x2 phi=.97": lambda: ar1(5, (8, 60, 2), 0.97),
    "4x400x3 lognormal": lambda: np.exp(ar1(6, (4, 400, 3), 0.6)),
    "2x7 tiny": lambda: ar1(7, (2, 7), 0.2),
    "5x1000 shifted x5": lambda: ar1(8, (5, 1000, 5), 0.8, [0.0, 0.2, 0.4, 0.6, 3.0]),
}


@pytest.fixture(params=sorted(CASES))
def draws(request):
    return CASES[request.param]()


def test_rhat_matches_arviz(draws):
    _close(dg.rhat(draws), _az(draws, az.rhat))
    _close(dg.split_rhat(draws), _az(draws, az.rhat, method="split"))


def test_ess_matches_arviz(draws):
    _close(dg.ess_bulk(draws), _az(draws, az.ess, method="bulk"))
    _close(dg.ess_tail(draws), _az(draws, az.ess, method="tail"))
    _close(dg.ess_mean(draws), _az(draws, az.ess, method="mean"))
    _close(dg.ess_sd(draws), _az(draws, az.ess, method="sd"))


def test_mcse_matches_arviz(draws):
    _close(dg.mcse_mean(draws), _az(draws, az.mcse, method="mean"))
    _close(dg.mcse_sd(draws), _az(draws, az.mcse, method="sd"))


@pytest.mark.parametrize("prob", [0.9, 0.5, 0.94])
def test_hdi_matches_arviz(draws, prob):
    _close(dg.hdi(draws, prob), _az(draws, az.hdi, hdi_prob=prob))


def test_summary_matches_arviz_summary():
    x = ar1(10, (4, 600, 2, 2), 0.7)
    mu = ar1(11, (4, 600), 0.4, [0.0, 0.1, 0.0, -0.1])
    ours = dg.summary({"mu": mu, "th": x}, prob=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.summary(
            az.convert_to_dataset({"mu": mu, "th": x}), hdi_prob=0.9, round_to="none"
        )
    assert list(ours.names) == list(ref.index)
    assert list(ours.columns) == list(ref.columns)
    np.testing.assert_allclose(ours.values, ref.to_numpy(dtype=float), rtol=RTOL, atol=0.0)


def test_single_chain():
    """ESS / MCSE agree with ArviZ; split R-hat compares the chain's two halves."""
    x = ar1(12, (1, 1000, 2), 0.5)
    _close(dg.ess_bulk(x), _az(x, az.ess, method="bulk"))
    _close(dg.ess_tail(x), _az(x, az.ess, method="tail"))
    _close(dg.mcse_mean(x), _az(x, az.mcse, method="mean"))
    assert np.all(np.abs(dg.rhat(x) - 1.0) < 0.02)  # ArviZ returns NaN for one chain
    drifting = x[..., 0] + np.linspace(0.0, 3.0, 1000)
    assert dg.split_rhat(drifting) > 1.1
    # a 1-D array is one chain
    _close(dg.ess_bulk(x[0, :, 0]), dg.ess_bulk(x[..., 0]))


def test_degenerate_parameters_match_arviz():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(4, 50, 4))
    x[..., 0] = 3.0  # constant
    x[1, 3, 1] = np.nan  # a NaN draw
    x[..., 2] = rng.poisson(2.0, size=(4, 50))  # many ties
    _close(dg.rhat(x), _az(x, az.rhat))
    for method, fn in [("bulk", dg.ess_bulk), ("tail", dg.ess_tail), ("mean", dg.ess_mean),
                       ("sd", dg.ess_sd)]:
        _close(fn(x), _az(x, az.ess, method=method))
    _close(dg.mcse_mean(x), _az(x, az.mcse, method="mean"))
    _close(dg.mcse_sd(x), _az(x, az.mcse, method="sd"))
    assert np.isnan(dg.rhat(x)[:2]).all()
    assert dg.ess_bulk(x)[0] == 200  # a constant gets ESS = number of draws, as in ArviZ
    assert np.isnan(dg.hdi(x)[1]).all()
    np.testing.assert_array_equal(dg.hdi(x)[0], [3.0, 3.0])


@pytest.mark.parametrize("n_draw", [4, 5, 6, 7, 9])
def test_short_chains_match_arviz(n_draw):
    x = np.random.default_rng(n_draw).normal(size=(3, n_draw))
    _close(dg.rhat(x), _az(x, az.rhat))
    _close(dg.ess_bulk(x), _az(x, az.ess, method="bulk"))
    _close(dg.ess_tail(x), _az(x, az.ess, method="tail"))


def test_too_few_draws_give_nan():
    x = np.random.default_rng(14).normal(size=(4, 3, 2))
    for fn in (dg.rhat, dg.split_rhat, dg.ess_bulk, dg.ess_tail, dg.ess_mean, dg.mcse_mean):
        assert np.isnan(fn(x)).all()


# ---------------------------------------------------------------------------
# analytic properties
# ---------------------------------------------------------------------------


def test_iid_normal_draws():
    x = np.random.default_rng(15).normal(size=(4, 2000, 50))
    n = 8000
    for fn in (dg.ess_bulk, dg.ess_tail, dg.ess_mean):
        ratio = fn(x) / n
        assert abs(ratio.mean() - 1.0) < 0.04, fn.__name__
        assert np.all(np.abs(ratio - 1.0) < 0.12), fn.__name__
    assert np.all(np.abs(dg.rhat(x) - 1.0) < 0.005)
    assert np.all(np.abs(dg.split_rhat(x) - 1.0) < 0.005)
    # MCSE of the mean ~ sd / sqrt(n); of the sd ~ sd / sqrt(2 n) for a normal
    np.testing.assert_allclose(dg.mcse_mean(x) * np.sqrt(n), 1.0, atol=0.1)
    np.testing.assert_allclose(dg.mcse_sd(x) * np.sqrt(2 * n), 1.0, atol=0.1)
    lo, hi = np.moveaxis(dg.hdi(x, 0.9), -1, 0)
    np.testing.assert_allclose(hi - lo, 2 * 1.645, atol=0.1)
    np.testing.assert_allclose((hi + lo) / 2, 0.0, atol=0.15)


def test_ar1_ess_mean_matches_theory():
    phi = 0.8
    x = ar1(16, (4, 5000, 20), phi)
    expected = x.shape[0] * x.shape[1] * (1 - phi) / (1 + phi)
    ratio = dg.ess_mean(x) / expected
    assert abs(ratio.mean() - 1.0) < 0.05
    assert np.all(np.abs(ratio - 1.0) < 0.2)


def test_shifted_chains_flagged():
    x = ar1(17, (4, 1000, 3), 0.5, [0.0, 0.0, 0.0, 1.0])
    assert np.all(dg.rhat(x) > 1.05)
    assert np.all(dg.split_rhat(x) > 1.05)
    # different scales with equal means: missed by the bulk, caught by the folded R-hat
    y = np.random.default_rng(18).normal(size=(4, 1000)) * np.array([1.0, 1.0, 1.0, 3.0])[:, None]
    assert dg.split_rhat(y) < 1.01
    assert dg.rhat(y) > 1.05


def test_hdi_is_narrowest_and_holds_prob():
    x = np.random.default_rng(19).gamma(2.0, size=(4, 1000, 2))
    h = dg.hdi(x, 0.8)
    flat = x.reshape(-1, 2)
    for j in range(2):
        inside = np.mean((flat[:, j] >= h[j, 0]) & (flat[:, j] <= h[j, 1]))
        assert 0.8 <= inside <= 0.8 + 2 / flat.shape[0]
        eq_tail = np.quantile(flat[:, j], [0.1, 0.9])
        assert h[j, 1] - h[j, 0] < eq_tail[1] - eq_tail[0]  # skewed: narrower than central
    with pytest.raises(ValueError):
        dg.hdi(x, 0.0)


def test_shapes_and_types():
    x = np.random.default_rng(20).normal(size=(2, 100, 3, 4))
    for fn in (dg.rhat, dg.split_rhat, dg.ess_bulk, dg.ess_tail, dg.ess_mean, dg.ess_sd,
               dg.mcse_mean, dg.mcse_sd):
        assert fn(x).shape == (3, 4)
        assert isinstance(fn(x[..., 0, 0]), float)
        np.testing.assert_array_equal(fn(x)[1, 2], fn(x[..., 1, 2]))
    assert dg.hdi(x).shape == (3, 4, 2)
    assert dg.hdi(x[..., 0, 0]).shape == (2,)
    with pytest.raises(ValueError):
        dg.rhat(np.float64(1.0))


def test_summary_table_and_format():
    rng = np.random.default_rng(21)
    samples = {"mu": rng.normal(size=(4, 500)), "theta": rng.normal(size=(4, 500, 3))}
    s = dg.summary(samples, prob=0.9)
    assert s.columns == ("mean", "sd", "hdi_5%", "hdi_95%", "mcse_mean", "mcse_sd",
                         "ess_bulk", "ess_tail", "r_hat")
    assert s.names == ("mu", "theta[0]", "theta[1]", "theta[2]")
    assert len(s) == 4 and s.values.shape == (4, 9)
    row = s.row("theta[2]")
    assert row["mean"] == pytest.approx(samples["theta"][..., 2].mean())
    assert row["r_hat"] == pytest.approx(dg.rhat(samples["theta"])[2])
    assert s.to_dict()["mu"]["ess_bulk"] == pytest.approx(dg.ess_bulk(samples["mu"]))
    np.testing.assert_allclose(s["sd"][1:], samples["theta"].std(axis=(0, 1), ddof=1), rtol=1e-12)
    with pytest.raises(KeyError):
        s["nope"]
    assert dg.summary(samples, index_base=1).names[1:] == ("theta[1]", "theta[2]", "theta[3]")
    assert dg.summary({"L": rng.normal(size=(2, 50, 2, 2))}).names[1] == "L[0, 1]"
    assert "hdi_3%" in dg.summary(samples, prob=0.94).columns

    text = dg.format_summary(s)
    assert text == str(s)
    lines = text.splitlines()
    assert len(lines) == 1 + 4
    assert lines[0].split() == list(s.columns)
    assert [ln.split()[0] for ln in lines[1:]] == list(s.names)
    assert len({len(ln) for ln in lines}) == 1  # right-aligned: every line equally long
    # the same text from the dict form
    assert dg.format_summary(s.to_dict()) == text


@pytest.mark.parametrize("shape, levels", [((3, 200), None), ((2, 4, 501), 7), ((1, 1), None)])
def test_average_ranks_match_scipy_rankdata(shape, levels):
    from scipy.stats import rankdata

    from inference.ranks import average_ranks

    rng = np.random.default_rng(3)
    x = rng.normal(size=shape) if levels is None else rng.integers(0, levels, shape) * 1.0
    np.testing.assert_array_equal(
        average_ranks(x), rankdata(x, method="average", axis=-1)
    )


def test_importing_the_diagnostics_does_not_import_scipy_stats():
    import subprocess
    import sys

    code = "import sys, inference.diagnostics; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
