"""Reference posteriors from posteriordb, for tests.

The files live in ``tests/data/posteriordb/<name>/`` (see the README there for
their origin and licence: posteriordb, BSD 3-Clause, Copyright (c) 2011-2024,
Stan Developers and their Assignees). This module loads them and compares
candidate posterior draws with a reference.

Conventions
-----------
* Draws are dictionaries ``name -> ndarray`` of shape ``(chain, draw)`` or
  ``(chain, draw, *shape)``; a 1-D array is one chain.
* Reference parameters are identified by Stan's flat names with 1-based
  indices (``"theta[3]"``, a matrix entry ``"L[1,2]"``), as in posteriordb.
  :func:`flatten` maps structured arrays to these names; flat names are also
  accepted as keys.

Examples
--------
>>> ref = load("eight_schools-eight_schools_noncentered")
>>> ref.draws["theta"].shape
(10, 1000, 8)
>>> ref.data["J"], ref.data["y"].shape
(8, (8,))
>>> compare(ref.draws, ref)
[]
>>> shifted = {k: v + 10 * v.std() for k, v in ref.draws.items()}
>>> compare(shifted, ref)[0].split(":")[0]
'theta[1]'
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.diagnostics import mcse_mean

ROOT = Path(__file__).resolve().parent / "data" / "posteriordb"
NAMES: tuple[str, ...] = tuple(
    sorted(p.name for p in ROOT.iterdir() if (p / "names.json").is_file())
)

__all__ = ["NAMES", "ROOT", "Reference", "assert_matches", "compare", "flatten", "load"]


@dataclass(eq=False)
class Reference:
    """One reference posterior.

    Attributes
    ----------
    name : str
        The posteriordb posterior name, ``"<data>-<model>"``.
    path : Path
        Its folder under ``tests/data/posteriordb``.
    data : dict
        The Stan data: JSON numbers stay ``int`` / ``float``, lists become
        NumPy arrays (integer arrays when every entry is an integer).
    draws : dict of str to ndarray
        Reference draws per parameter, shape ``(chain, draw, *shape)``.
    flat_draws : dict of str to ndarray
        Reference draws per Stan flat name, shape ``(chain, draw)``.
    summary : dict of str to dict
        Per flat name: ``mean``, ``sd``, ``q05``, ``median``, ``q95``,
        ``ess_bulk``, ... (from ``summary.json``).
    names : dict
        ``names.json``: ``flat_to_param`` and ``params`` (flat names,
        1-based indices, shape).
    info : dict
        ``info.json``: dimensions, translation notes, provenance.

    All arrays are read-only (the loaded reference is cached and shared).
    """

    name: str
    path: Path
    data: dict
    draws: dict[str, np.ndarray]
    flat_draws: dict[str, np.ndarray]
    summary: dict[str, dict[str, float]]
    names: dict
    info: dict
    _mcse: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def flat_names(self) -> list[str]:
        """Stan flat names of all scalar parameters, in reference order."""
        return list(self.summary)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter name -> shape of one draw (``()`` for a scalar)."""
        return {p: tuple(v["shape"]) for p, v in self.names["params"].items()}

    def mcse(self, flat_name: str) -> float:
        """Monte Carlo standard error of the reference mean of ``flat_name``."""
        if flat_name not in self._mcse:
            self._mcse[flat_name] = float(mcse_mean(self.flat_draws[flat_name]))
        return self._mcse[flat_name]


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _convert_data(value):
    if isinstance(value, list):
        return _read_only(np.asarray(value))
    return value


def _resolve(name: str) -> str:
    if name in NAMES:
        return name
    matches = [n for n in NAMES if name in n]
    if len(matches) == 1:
        return matches[0]
    raise KeyError(
        f"no unique reference posterior {name!r}; available: {', '.join(NAMES)}"
    )


def load(name: str) -> Reference:
    """Load the reference posterior ``name`` (a folder name, or a unique part of one).

    Parameters
    ----------
    name : str
        E.g. ``"kidiq-kidscore_momiq"`` or just ``"kidscore_momiq"``.

    Returns
    -------
    Reference
        Cached: repeated calls return the same (read-only) object.

    Examples
    --------
    >>> ref = load("garch11")
    >>> ref.name, sorted(ref.draws), ref.draws["mu"].shape
    ('garch-garch11', ['alpha0', 'alpha1', 'beta1', 'mu'], (10, 1000))
    """
    return _load(_resolve(name))


@functools.cache
def _load(name: str) -> Reference:
    path = ROOT / name
    with open(path / "data.json") as fh:
        data = {k: _convert_data(v) for k, v in json.load(fh).items()}
    with open(path / "summary.json") as fh:
        summary = json.load(fh)["parameters"]
    with open(path / "names.json") as fh:
        names = json.load(fh)
    with open(path / "info.json") as fh:
        info = json.load(fh)
    with np.load(path / "reference.npz") as npz:
        flat = {k: _read_only(np.asarray(npz[k], dtype=float)) for k in npz.files}

    draws = {}
    for param, spec in names["params"].items():
        first = flat[spec["flat_names"][0]]
        shape = tuple(spec["shape"])
        arr = np.empty(first.shape + shape)
        for flat_name, index in zip(spec["flat_names"], spec["indices"]):
            arr[(Ellipsis, *(i - 1 for i in index))] = flat[flat_name]
        draws[param] = _read_only(arr)
    return Reference(name, path, data, draws, flat, summary, names, info)


_FLAT_NAME = re.compile(r"^[^\[\]]+\[[0-9, ]+\]$")


def flatten(draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Structured draws -> Stan flat names (1-based), each ``(chain, draw)``.

    ``theta`` of shape (4, 1000, 8) gives ``theta[1]`` ... ``theta[8]``; a
    matrix ``L`` gives ``L[1,1]``, ``L[1,2]``, ...; (chain, draw) arrays and
    keys that are already flat names (``"theta[3]"``) are kept.

    Examples
    --------
    >>> out = flatten({"mu": np.zeros((2, 5)), "L": np.zeros((2, 5, 2, 2))})
    >>> list(out), out["L[2,1]"].shape
    (['mu', 'L[1,1]', 'L[1,2]', 'L[2,1]', 'L[2,2]'], (2, 5))
    """
    out = {}
    for name, value in draws.items():
        a = np.asarray(value, dtype=float)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim == 2 or _FLAT_NAME.match(name):
            out[name] = a
            continue
        c, d = a.shape[:2]
        cols = a.reshape(c, d, math.prod(a.shape[2:]))
        for j, idx in enumerate(np.ndindex(*a.shape[2:])):
            out[f"{name}[{','.join(str(i + 1) for i in idx)}]"] = cols[:, :, j]
    return out


def compare(
    draws: dict[str, np.ndarray],
    ref: Reference,
    n_mcse: float = 4.0,
    sd_rel_tol: float = 0.2,
    params: list[str] | None = None,
) -> list[str]:
    r"""Compare candidate draws with a reference posterior; return the failures.

    For every scalar parameter of the reference (Stan flat name):

    * **mean**: fails when
      :math:`|\bar\theta - \bar\theta_{ref}| > n_{mcse}
      \sqrt{\mathrm{MCSE}^2 + \mathrm{MCSE}_{ref}^2}`,
      both MCSEs from :func:`inference.diagnostics.mcse_mean` (on the
      candidate draws and on the reference draws);
    * **sd**: fails when :math:`|sd / sd_{ref} - 1| > sd\_rel\_tol`
      (``ddof=1``);
    * a parameter missing from ``draws``, with non-finite draws, or whose MCSE
      cannot be estimated (fewer than 4 draws per chain) fails too.

    Candidate parameters that the reference lacks are ignored.

    Parameters
    ----------
    draws : dict of str to ndarray
        Candidate draws, structured (``theta`` of shape (chain, draw, 8)) or
        keyed by flat names; see :func:`flatten`.
    ref : Reference
        From :func:`load`.
    n_mcse : float, default 4.0
        Allowed number of combined Monte Carlo standard errors.
    sd_rel_tol : float, default 0.2
        Allowed relative error of the posterior standard deviation.
    params : list of str, optional
        Only check these parameters (names like ``"theta"`` or ``"theta[2]"``).

    Returns
    -------
    list of str
        One human-readable line per failed check; empty when all pass.
    """
    flat = flatten(draws)
    failures = []
    for name, stats in ref.summary.items():
        if params is not None:
            param = ref.names["flat_to_param"][name]["param"]
            if name not in params and param not in params:
                continue
        if name not in flat:
            failures.append(f"{name}: missing from the draws")
            continue
        x = flat[name]
        if not np.all(np.isfinite(x)):
            failures.append(f"{name}: {np.size(x) - np.isfinite(x).sum()} non-finite draws")
            continue
        mean = float(x.mean())
        sd = float(x.std(ddof=1)) if x.size > 1 else float("nan")
        se_ours = float(mcse_mean(x))
        se_ref = ref.mcse(name)
        if not np.isfinite(se_ours):
            failures.append(f"{name}: cannot estimate the MCSE of draws of shape {x.shape}")
            continue
        se = math.hypot(se_ours, se_ref)
        diff = abs(mean - stats["mean"])
        if not diff <= n_mcse * se:
            failures.append(
                f"{name}: mean {mean:.6g} vs reference {stats['mean']:.6g}: "
                f"|diff| {diff:.3g} > {n_mcse:g} x combined MCSE {se:.3g} = {n_mcse * se:.3g} "
                f"(MCSE ours {se_ours:.3g}, reference {se_ref:.3g})"
            )
        ratio = sd / stats["sd"]
        if not abs(ratio - 1.0) <= sd_rel_tol:
            failures.append(
                f"{name}: sd {sd:.6g} vs reference {stats['sd']:.6g}: ratio {ratio:.3f} "
                f"outside 1 +- {sd_rel_tol:g}"
            )
    return failures


def assert_matches(draws: dict[str, np.ndarray], ref: Reference, **kwargs) -> None:
    """Raise ``AssertionError`` listing every failure of :func:`compare`."""
    failures = compare(draws, ref, **kwargs)
    if failures:
        raise AssertionError(
            f"{len(failures)} disagreement(s) with reference {ref.name}:\n" + "\n".join(failures)
        )
