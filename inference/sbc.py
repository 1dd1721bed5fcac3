r"""Simulation-based calibration: does the sampler recover the prior on average?

For :math:`i = 1..N`: draw :math:`\theta_i` from the prior and data :math:`y_i` from the model
given :math:`\theta_i`, fit the model to :math:`y_i`, and record for every scalar parameter the
rank of :math:`\theta_i` among :math:`L` posterior draws. If the sampler is right, the ranks are
uniform on :math:`\{0, \dots, L\}` (Talts, Betancourt, Simpson, Vehtari and Gelman 2018,
"Validating Bayesian inference algorithms with simulation-based calibration"); a sampler that
is too narrow gives a U shape, one biased upward a slope. :class:`SBCResult` has the ranks, a
chi-square uniformity test per parameter and the ECDF-difference plot with simultaneous
bands (Säilynoja, Bürkner and Vehtari 2022) through ArviZ.

>>> import numpy as np
>>> import ppl
>>> from ppl import dist
>>> def model(y=None):
...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
...     with ppl.plate("n", 5):
...         ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
>>> result = sbc(model, observed="y", num_fits=20, num_warmup=100, num_draws=99, seed=0)
>>> result.ranks["mu"].shape, result.num_draws
((20,), 99)
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SBCResult", "sbc"]

#: The effect-handler stack is one per process: fits on threads of one process take turns.
_ONE_MODEL_AT_A_TIME = threading.Lock()


@dataclass
class SBCResult:
    """Ranks of the true values among the posterior draws, by site: arrays ``(num_fits,
    *site_shape)`` with values in ``0..num_draws``; ``failures`` maps a fit's index to the
    error that stopped it (the other fits go on)."""

    ranks: dict[str, np.ndarray]
    num_draws: int
    failures: dict[int, str] = field(default_factory=dict)

    def scalar_ranks(self) -> dict[str, np.ndarray]:
        """The ranks per scalar parameter, ``name[i, j]`` for the elements of array sites."""
        out = {}
        for name, ranks in self.ranks.items():
            flat = ranks.reshape(ranks.shape[0], -1)
            shape = ranks.shape[1:]
            for k in range(flat.shape[1]):
                index = np.unravel_index(k, shape) if shape else ()
                label = name + ("[" + ", ".join(map(str, index)) + "]" if index else "")
                out[label] = flat[:, k]
        return out

    def uniformity_test(self, bins: int | None = None) -> dict[str, float]:
        r"""Chi-square test of uniform ranks per scalar parameter: the p-value of
        :math:`\sum_b (n_b - N/B)^2 / (N/B)` on ``bins`` equal-width bins of the ranks
        (default: about ``num_fits / 5`` bins, at least 2, dividing ``num_draws + 1``)."""
        from scipy.stats import chi2

        out = {}
        for label, ranks in self.scalar_ranks().items():
            n = ranks.size
            b = bins or _bins(n, self.num_draws + 1)
            counts = np.bincount((ranks * b) // (self.num_draws + 1), minlength=b)
            expected = n / b
            statistic = float(np.sum((counts - expected) ** 2) / expected)
            out[label] = float(chi2.sf(statistic, b - 1))
        return out

    def plot(self, var_names: list[str] | None = None, **kwargs: Any) -> Any:
        """ArviZ's ECDF-difference plot of the normalised ranks against the uniform, with
        simultaneous confidence bands (``az.plot_ecdf(..., difference=True,
        confidence_bands=True)``), one panel per scalar parameter."""
        import arviz as az
        import matplotlib.pyplot as plt
        from scipy.stats import uniform

        ranks = self.scalar_ranks()
        labels = var_names or list(ranks)
        columns = min(4, len(labels))
        rows = math.ceil(len(labels) / columns)
        fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows),
                                 squeeze=False)
        for ax, label in zip(axes.flat, labels):
            normalised = (ranks[label] + 0.5) / (self.num_draws + 1)
            az.plot_ecdf(normalised, cdf=uniform(0, 1).cdf, difference=True,
                         confidence_bands=True, ax=ax, **kwargs)
            ax.set_title(label)
        for ax in list(axes.flat)[len(labels):]:
            ax.set_visible(False)
        fig.tight_layout()
        return axes


def _bins(n: int, support: int) -> int:
    target = max(2, min(support, n // 5))
    divisors = [b for b in range(2, support + 1) if support % b == 0]
    return min(divisors, key=lambda b: abs(b - target)) if divisors else 2


def sbc(model: Callable, model_args: tuple = (), model_kwargs: Mapping[str, Any] | None = None,
        *, observed: str, observed_site: str | None = None, num_fits: int = 100,
        kernel: Any = None, num_warmup: int = 500, num_draws: int = 199, thinning: int = 2,
        seed: int = 0, executor: Executor | None = None) -> SBCResult:
    """Simulation-based calibration of ``kernel`` (default ``NUTS(model)``) on ``model``.

    Parameters
    ----------
    model, model_args, model_kwargs : the model and its arguments.
    observed : the name of the keyword argument that carries the observed data (``None`` when
        simulating, the simulated data when fitting), as models are written for NumPyro.
    observed_site : the sample site that argument observes (default: the same name).
    num_fits : number of simulated data sets.
    kernel : an MCMC kernel (``NUTS``/``HMC``) of ``model``; ``NUTS(model)`` by default.
    num_warmup, num_draws, thinning : each fit runs ``num_draws * thinning`` iterations after
        warmup on one chain and keeps every ``thinning``-th, so that the ranks come from
        roughly independent draws (autocorrelated draws make ranks non-uniform by themselves).
    seed : fit ``i`` uses the seeds derived from ``(seed, i)``: results do not depend on the
        executor or the order of the fits.
    executor : a ``concurrent.futures`` executor to run fits in parallel: a process pool or
        Dask's ``client.get_executor()`` (each worker has its own interpreter). Fits on threads
        of one process take turns (a lock around each fit), because a model's effect handlers
        live on one stack per process; sequential by default.
    """
    from inference.nuts import NUTS

    model_kwargs = dict(model_kwargs or {})
    kernel = kernel if kernel is not None else NUTS(model)
    fit = _Fit(model, tuple(model_args), model_kwargs, observed, kernel, num_warmup, num_draws,
               thinning, seed, observed_site or observed)
    indices = range(int(num_fits))
    outcomes = list(executor.map(fit, indices) if executor is not None else map(fit, indices))
    ranks: dict[str, list] = {}
    failures = {}
    for i, outcome in zip(indices, outcomes):
        if isinstance(outcome, str):
            failures[i] = outcome
            continue
        for name, value in outcome.items():
            ranks.setdefault(name, []).append(value)
    if failures:
        warnings.warn(f"sbc: {len(failures)} of {num_fits} fits failed (see result.failures); "
                      "the ranks are from the others", stacklevel=2)
    return SBCResult({k: np.stack(v) for k, v in ranks.items()}, int(num_draws), failures)


@dataclass
class _Fit:
    """One simulate-and-fit (a picklable callable, for process and Dask executors)."""

    model: Callable
    args: tuple
    kwargs: dict
    observed: str
    kernel: Any
    num_warmup: int
    num_draws: int
    thinning: int
    seed: int
    observed_site: str

    def __call__(self, index: int) -> dict[str, np.ndarray] | str:
        with _ONE_MODEL_AT_A_TIME:
            return self._fit(index)

    def _fit(self, index: int) -> dict[str, np.ndarray] | str:
        from inference.mcmc import MCMC
        from inference.predictive import Predictive

        streams = np.random.SeedSequence(self.seed, spawn_key=(index,)).generate_state(2)
        simulate_seed, fit_seed = (int(s) for s in streams)
        try:
            prior = Predictive(self.model, num_samples=1)(
                simulate_seed, *self.args, **{**self.kwargs, self.observed: None})
            if self.observed_site not in prior:
                raise ValueError(
                    f"sbc: the model has no site {self.observed_site!r} to take the simulated "
                    f"data from; give observed_site= (the site fed by {self.observed!r})")
            data = np.asarray(prior[self.observed_site])[0]
            mcmc = MCMC(self.kernel, num_warmup=self.num_warmup,
                        num_samples=self.num_draws * self.thinning, num_chains=1,
                        progress_bar=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a divergence in one fit is part of the test
                mcmc.run(fit_seed, *self.args, **{**self.kwargs, self.observed: data})
            draws = mcmc.get_samples()
        except Exception as err:  # noqa: BLE001  (one failed fit must not end the study)
            return f"{type(err).__name__}: {err}"
        out = {}
        for name, value in draws.items():
            if name not in prior or name == self.observed_site:
                continue
            kept = np.asarray(value)[:: self.thinning][: self.num_draws]
            truth = np.asarray(prior[name])[0]
            out[name] = np.sum(kept < truth, axis=0)
        return out
