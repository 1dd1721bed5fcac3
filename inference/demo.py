"""The project's main job: ``python -m inference.demo [--out FOLDER] [--quick]``.

Fits two models with NUTS, 4 chains each, and reports what a Bayesian modeller looks at:

* eight schools (non-centred; Rubin 1981), the classic hierarchical model;
* a Bayesian logistic regression on 5,000 simulated rows and 25 predictors.

For each it prints the posterior summary (mean, sd, 90% HDI, MCSE, bulk/tail ESS, R-hat),
divergences, the time spent compiling, warming up and sampling, and ESS per second; then it
saves the ArviZ InferenceData (netCDF) and a trace plot (PNG) in the output folder it names.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import ppl
from inference import MCMC, NUTS
from inference.diagnostics import ess_bulk
from ppl import dist

EIGHT_SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
EIGHT_SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(sigma, y=None):
    """Non-centred eight schools: theta = mu + tau * z."""
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", len(sigma)):
        z = ppl.sample("z", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * z)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def logistic_regression(X, y=None):
    """y ~ Bernoulli(logits = alpha + X beta), alpha ~ N(0, 5), beta ~ N(0, 1)."""
    alpha = ppl.sample("alpha", dist.Normal(0.0, 5.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=alpha + X @ beta), obs=y)


def simulated_regression(n: int = 5000, d: int = 25, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    beta = rng.normal(size=d) * 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + X @ beta)))).astype(float)
    return X, y, beta


def fit(name: str, model, args: tuple, kwargs: dict, out: str, num_samples: int,
        progress_bar: bool) -> None:
    print(f"\n=== {name} ===")
    t0 = time.perf_counter()
    mcmc = MCMC(NUTS(model), num_warmup=num_samples, num_samples=num_samples, num_chains=4,
                progress_bar=progress_bar)
    mcmc.run(0, *args, **kwargs)
    wall = time.perf_counter() - t0
    mcmc.print_summary()
    samples = mcmc.get_samples(group_by_chain=True)
    min_ess = min(float(np.min(ess_bulk(v))) for v in samples.values())
    sampling = mcmc.timings.get("sampling", np.nan) if hasattr(mcmc, "timings") else np.nan
    print(f"wall time {wall:.2f} s (compile + warmup + sampling); min bulk ESS {min_ess:.0f}; "
          f"{min_ess / wall:.0f} ESS/s overall, {min_ess / sampling:.0f} ESS/s while sampling")
    idata = mcmc.to_arviz()
    path = os.path.join(out, f"{name}.nc")
    idata.to_netcdf(path)
    print(f"saved {path}")
    _trace_plot(idata, os.path.join(out, f"{name}_trace.png"))


def _trace_plot(idata, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import arviz as az
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no trace plot (pip install matplotlib)")
        return
    var_names = [v for v in idata.posterior.data_vars][:4]
    az.plot_trace(idata, var_names=var_names, compact=True)
    plt.tight_layout()
    plt.savefig(path, dpi=80)
    plt.close("all")
    print(f"saved {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="numbayes_demo_output", help="output folder")
    parser.add_argument("--quick", action="store_true", help="200 warmup + 200 draws per chain")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    num_samples = 200 if args.quick else 1000
    print(f"numbayes demo: NUTS, 4 chains x ({num_samples} warmup + {num_samples} draws); "
          f"results in {os.path.abspath(args.out)}/")
    fit("eight_schools", eight_schools, (EIGHT_SCHOOLS_SIGMA,), {"y": EIGHT_SCHOOLS_Y},
        args.out, num_samples, not args.no_progress)
    X, y, true_beta = simulated_regression()
    fit("logistic_regression", logistic_regression, (X,), {"y": y}, args.out, num_samples,
        not args.no_progress)
    print(f"\n(true logistic-regression coefficients beta[0:3] = {np.round(true_beta[:3], 3)})")


if __name__ == "__main__":
    main()
