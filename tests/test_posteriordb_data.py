"""The posteriordb reference data under tests/data and its loader tests/posteriordb.py."""

import numpy as np
import pytest

from inference.diagnostics import ess_bulk, mcse_mean
from tests.posteriordb import NAMES, ROOT, assert_matches, compare, flatten, load

EXPECTED = (
    "arK-arK",
    "diamonds-diamonds",
    "eight_schools-eight_schools_centered",
    "eight_schools-eight_schools_noncentered",
    "garch-garch11",
    "gp_pois_regr-gp_regr",
    "hmm_example-hmm_example",
    "hudson_lynx_hare-lotka_volterra",
    "kidiq-kidscore_momiq",
    "low_dim_gauss_mix-low_dim_gauss_mix",
    "sblrc-blr",
)


def test_all_eleven_present_with_attribution():
    assert NAMES == EXPECTED
    for name in NAMES:
        for f in ("data.json", "summary.json", "info.json", "names.json", "reference.npz"):
            assert (ROOT / name / f).is_file(), f"{name}/{f}"
    readme = (ROOT / "README.md").read_text()
    models = (ROOT / "MODELS.md").read_text()
    for text in (readme, models):
        assert "BSD 3-Clause" in text
        assert "Copyright (c) 2011-2024" in text and "Stan Developers and their Assignees" in text
        assert "28f8d3d6e975" in text


@pytest.fixture(params=EXPECTED)
def ref(request):
    return load(request.param)


def test_loads_and_shapes_agree_with_names(ref):
    assert ref.info["posterior_name"] == ref.name
    assert ref.data and all(isinstance(k, str) for k in ref.data)
    assert set(ref.draws) == set(ref.names["params"])
    assert ref.flat_names == list(ref.names["flat_to_param"]) == list(ref.flat_draws)
    n_scalars = 0
    for param, spec in ref.names["params"].items():
        shape = tuple(spec["shape"])
        assert ref.draws[param].shape == (10, 1000, *shape)
        assert ref.shapes[param] == shape
        for flat_name, index in zip(spec["flat_names"], spec["indices"]):
            np.testing.assert_array_equal(
                ref.draws[param][(Ellipsis, *(i - 1 for i in index))], ref.flat_draws[flat_name]
            )
            assert ref.names["flat_to_param"][flat_name] == {"param": param, "index_1based": index}
            n_scalars += 1
    assert n_scalars == ref.info["dimension"] == len(ref.summary)
    # the loader's own flattening reproduces the reference's flat names
    assert list(flatten(ref.draws)) == ref.flat_names


def test_summary_agrees_with_reference_draws(ref):
    for name, stats in ref.summary.items():
        x = ref.flat_draws[name]
        assert abs(x.mean() - stats["mean"]) <= mcse_mean(x), name
        assert x.std(ddof=1) == pytest.approx(stats["sd"], rel=1e-10), name
        np.testing.assert_allclose(np.quantile(x, [0.05, 0.95]), [stats["q05"], stats["q95"]],
                                   rtol=1e-10)
        # summary.json's bulk ESS was computed by an independent NumPy port of the estimator
        assert ess_bulk(x) == pytest.approx(stats["ess_bulk"], rel=1e-6), name
        assert stats["ess_bulk"] > 9000 and stats["posteriordb_rhat"] < 1.01


def test_compare_passes_on_reference_and_fails_when_shifted(ref):
    assert compare(ref.draws, ref) == []
    assert compare(ref.flat_draws, ref) == []  # flat names work as keys too
    assert_matches(ref.draws, ref)

    shifted = {n: x + 10 * ref.summary[n]["sd"] for n, x in ref.flat_draws.items()}
    failures = compare(shifted, ref)
    assert len(failures) == len(ref.summary)
    for name, line in zip(ref.summary, failures):
        assert line.startswith(f"{name}: mean ")
        assert "combined MCSE" in line
    with pytest.raises(AssertionError, match="disagreement"):
        assert_matches(shifted, ref)


def test_compare_split_half_passes(ref):
    """Half of the reference chains agree with the full reference."""
    half = {p: x[5:] for p, x in ref.draws.items()}
    assert compare(half, ref) == []


def test_compare_flags_wrong_scale_missing_and_bad_draws():
    ref = load("eight_schools-eight_schools_noncentered")
    mean = ref.draws["theta"].mean(axis=(0, 1))
    wide = dict(ref.draws, theta=mean + 1.5 * (ref.draws["theta"] - mean))
    failures = compare(wide, ref)
    assert len(failures) == 8
    assert all(f.startswith("theta[") and ": sd " in f and "ratio 1.500" in f for f in failures)
    assert compare(wide, ref, sd_rel_tol=0.6) == []

    no_tau = {k: v for k, v in ref.draws.items() if k != "tau"}
    assert compare(no_tau, ref) == ["tau: missing from the draws"]
    assert compare(no_tau, ref, params=["mu", "theta"]) == []
    assert compare({"mu": ref.draws["mu"]}, ref, params=["mu"]) == []

    bad = dict(ref.draws, mu=np.where(ref.draws["mu"] > 10, np.nan, ref.draws["mu"]))
    [line] = compare(bad, ref)
    assert line.startswith("mu: ") and "non-finite" in line

    # a small but real bias is caught, a within-noise one is not
    se = ref.mcse("mu") * np.sqrt(2)
    assert compare(dict(ref.draws, mu=ref.draws["mu"] + 6 * se), ref, params=["mu"])
    assert not compare(dict(ref.draws, mu=ref.draws["mu"] + 2 * se), ref, params=["mu"])


def test_data_types():
    kid = load("kidiq-kidscore_momiq").data
    assert kid["N"] == 434 and isinstance(kid["N"], int)
    assert kid["kid_score"].shape == (434,) and kid["kid_score"].dtype.kind == "i"
    dia = load("diamonds-diamonds").data
    assert dia["X"].shape == (5000, 25) and dia["X"].dtype == np.float64
    np.testing.assert_array_equal(dia["X"][:, 0], 1.0)  # intercept column
    assert load("garch-garch11").data["sigma1"] == 0.5
    assert load("sblrc-blr").data["X"].shape == (100, 5)
    with pytest.raises(ValueError):
        dia["X"][0, 0] = 2.0  # the cached reference is read-only


def test_lookup_by_unique_part_and_shared_reference():
    assert load("kidscore_momiq") is load("kidiq-kidscore_momiq")
    with pytest.raises(KeyError):
        load("eight_schools")  # ambiguous
    centred = load("eight_schools-eight_schools_centered")
    noncentred = load("eight_schools-eight_schools_noncentered")
    assert centred.info["reference_posterior_name"] == noncentred.name
    for p in noncentred.draws:
        np.testing.assert_array_equal(centred.draws[p], noncentred.draws[p])
