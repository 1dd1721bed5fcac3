"""The project's demo job: ``python -m inference.demo``.

Until the NUTS sampler lands, the demo exercises the engine everything else stands on: it fits a
Bayesian logistic regression by Newton's method on the log posterior, using our reverse-mode
gradient and forward-over-reverse Hessian, and reports the Laplace approximation (posterior mode
and standard deviations from the inverse Hessian) next to the true coefficients.
"""

from __future__ import annotations

import time

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff.scipy.special import log1pexp


def log_posterior(beta, X, y):
    """Logistic regression with a N(0, 2²) prior on every coefficient (intercept in column 0)."""
    logits = X @ beta
    log_lik = anp.sum(y * logits - log1pexp(logits))
    log_prior = -0.5 * anp.sum((beta / 2.0) ** 2)
    return log_lik + log_prior


def fit_laplace(X, y, iterations: int = 25) -> tuple[np.ndarray, np.ndarray, int]:
    """Newton's method to the posterior mode; returns (mode, covariance, iterations used)."""
    grad = autodiff.grad(log_posterior)
    hess = autodiff.hessian(log_posterior)
    beta = np.zeros(X.shape[1])
    used = 0
    while used < iterations:
        used += 1
        step = np.linalg.solve(hess(beta, X, y), grad(beta, X, y))
        beta = beta - step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta, np.linalg.inv(-hess(beta, X, y)), used


def main() -> None:
    rng = np.random.default_rng(0)
    n, d = 500, 5
    X = np.column_stack([np.ones(n), rng.normal(size=(n, d - 1))])
    true_beta = np.array([-0.5, 1.0, -2.0, 0.5, 0.0])
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ true_beta))).astype(float)

    t0 = time.perf_counter()
    mode, cov, iterations = fit_laplace(X, y)
    elapsed = time.perf_counter() - t0
    sd = np.sqrt(np.diag(cov))
    print("Bayesian logistic regression (N=500, 5 coefficients), Laplace approximation")
    print(f"Newton's method: {iterations} iterations, {elapsed:.2f} s "
          "(gradient by reverse mode, Hessian by forward-over-reverse)\n")
    print(f"{'':>8} {'true':>8} {'mode':>8} {'sd':>8} {'90% interval':>20}")
    for j in range(d):
        lo, hi = mode[j] - 1.645 * sd[j], mode[j] + 1.645 * sd[j]
        print(f"beta[{j}] {true_beta[j]:8.3f} {mode[j]:8.3f} {sd[j]:8.3f} "
              f"   [{lo:7.3f}, {hi:7.3f}]")
    # the engine checks itself against central finite differences
    g = autodiff.grad(log_posterior)(mode + 0.1, X, y)
    eps = 1e-6
    fd = np.array([
        (log_posterior(mode + 0.1 + eps * e, X, y) - log_posterior(mode + 0.1 - eps * e, X, y))
        / (2 * eps)
        for e in np.eye(d)
    ])
    print(f"\nmax |gradient - finite differences| = {np.max(np.abs(g - fd)):.2e}")


if __name__ == "__main__":
    main()
