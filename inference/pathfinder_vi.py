r"""Pathfinder: variational inference along a quasi-Newton optimisation path.

Zhang, Carpenter, Gelman and Vehtari (2022), "Pathfinder: Parallel quasi-Newton variational
inference", *Journal of Machine Learning Research* 23(306), 1-49.

One path
--------
Start at :math:`x_0 \sim \mathrm{Uniform}(-r, r)^n` on the unconstrained scale (``init_scale``
:math:`r = 2`, as Stan) and run L-BFGS on :math:`f(x) = -\log p(x)`, keeping the iterates
:math:`x_0, \dots, x_L` and the gradients :math:`g_l = \nabla \log p(x_l)`. With
:math:`s_l = x_l - x_{l-1}` and :math:`z_l = g_{l-1} - g_l` (the change of :math:`\nabla f`),
the pair is kept only if :math:`s_l^\top z_l > \epsilon \lVert z_l \rVert^2`
(:math:`\epsilon = 2.2\cdot 10^{-16}`); then the diagonal :math:`\alpha` of the initial inverse
Hessian is updated (Gilbert and Lemaréchal 1989; the paper's Algorithm 3), with
:math:`a = z^\top \mathrm{diag}(\alpha) z`, :math:`b = s^\top z`,
:math:`c = s^\top \mathrm{diag}(\alpha)^{-1} s`,

.. math:: \alpha_d \leftarrow \Big(\frac{a}{b\,\alpha_d} + \frac{z_d^2}{b}
          - \frac{a\, s_d^2}{b\, c\, \alpha_d^2}\Big)^{-1},

and the pair joins a history of at most :math:`J` (``history_size``) pairs, the columns of
:math:`S` and :math:`Z`. The L-BFGS inverse Hessian at :math:`x_l` in its compact form (Byrd,
Nocedal and Schnabel 1994; the paper's Algorithm 4) is
:math:`\Sigma_l = \mathrm{diag}(\alpha) + \beta \gamma \beta^\top` with
:math:`\beta = [\mathrm{diag}(\alpha) Z,\ S]`, :math:`R = \mathrm{triu}(S^\top Z)`,
:math:`E = \mathrm{diag}(S^\top Z)` and

.. math:: \gamma = \begin{pmatrix} 0 & -R^{-1} \\
          -R^{-\top} & R^{-\top} (E + Z^\top \mathrm{diag}(\alpha) Z) R^{-1} \end{pmatrix}.

The local Gaussian approximation is :math:`q_l = N(\mu_l, \Sigma_l)` with the Newton step
:math:`\mu_l = x_l + \Sigma_l g_l`. Draws (the paper's Algorithm 5): when :math:`2J \ge n`,
:math:`\phi = \mu + C u` with :math:`C` the Cholesky factor of :math:`\Sigma`; otherwise with
the thin QR factorisation :math:`Q \tilde R = \mathrm{diag}(\alpha)^{-1/2} \beta` and the Cholesky
factor :math:`L` of :math:`I + \tilde R \gamma \tilde R^\top` (a :math:`2J \times 2J` matrix),
:math:`\phi = \mu + \mathrm{diag}(\alpha)^{1/2} (u + Q (L - I) Q^\top u)`,
:math:`\log\det\Sigma = \sum_d \log\alpha_d + 2 \sum_i \log L_{ii}`; in both cases
:math:`u \sim N(0, I)` and :math:`\log q(\phi) = -\tfrac12 (\log\det\Sigma + u^\top u + n\log
2\pi)`. The ELBO of each :math:`q_l`, :math:`l \ge 1`, is estimated from ``num_elbo_draws``
draws, :math:`\widehat{\mathrm{ELBO}}_l = \frac1K\sum_k \log p(\phi_k) - \log q_l(\phi_k)` (a
draw of non-finite density makes it :math:`-\infty`), and the path returns ``num_draws`` draws
from the :math:`q_l` of highest ELBO.

Several paths
-------------
``num_paths`` paths run from independent starts (path ``i`` of seed ``s`` uses its own stream
``SeedSequence(s).spawn(num_paths)[i]``, so the draws do not depend on threads); their draws
are pooled with importance weights :math:`w = p(\phi) / q_{\mathrm{path}}(\phi)`, smoothed by
Pareto-smoothed importance sampling (ArviZ's ``psislw``, which also gives the Pareto
:math:`\hat k`: above 0.7 the importance sampling is unreliable), and ``num_draws`` draws are
resampled with replacement. A single path returns its draws unweighted (:math:`\hat k` is
still reported as a diagnostic of :math:`q` against :math:`p`).

L-BFGS is SciPy's ``L-BFGS-B`` (memory ``history_size``); the defaults of ``ftol`` (relative
decrease of :math:`f`, Stan's ``tol_rel_obj = 1e4`` times machine epsilon) and ``gtol``
(Stan's ``tol_grad``) are Stan's. The density is called by address, one workspace per path
(the compiled function releases the GIL, so paths may run on threads).

Examples
--------
>>> import numpy as np
>>> from tests.inference.models import GaussianModel
>>> model = GaussianModel(mean=[1.0, -1.0], cov=[[1.0, 0.5], [0.5, 2.0]])
>>> result = pathfinder(model, seed=0, num_paths=2, num_draws=500)
>>> result.draws.shape, sorted(result.samples)
((500, 2), ['x'])
>>> bool(np.allclose(result.draws.mean(axis=0), [1.0, -1.0], atol=0.25))
True
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.optimize

from inference.protocols import CompiledModelLike, chain_data_pointers, resolve_model
from inference.sampling_warnings import SamplingWarning
from kernels import model_abi

__all__ = ["pathfinder", "PathfinderResult", "PathfinderPath", "PathfinderError",
           "pathfinder_initial_points"]

_EPS = float(np.finfo(float).eps)
_LOG_2PI = math.log(2.0 * math.pi)
# spawn key of the Pathfinder run started by MCMC's init_strategy="pathfinder": never equal
# to the chains' one-word keys nor to the initial-point generator's key (see inference.functional)
_MCMC_INIT_SPAWN_KEY = (0x70617468, 1)


class PathfinderError(RuntimeError):
    """Every Pathfinder path failed (the message gives each path's reason)."""


class _PathFailed(Exception):
    pass


@dataclasses.dataclass
class PathfinderPath:
    r"""What one path did.

    Attributes
    ----------
    index : int
        The path's number (its random stream is ``SeedSequence(seed).spawn(num_paths)[index]``).
    ok : bool
        False if the path failed (``error`` says why); a failed path gives no draws.
    error : str or None
        Why it failed.
    initial_point : ndarray or None
        Its start, unconstrained ``(dim,)``.
    num_iterations : int
        L-BFGS iterations (the iterates :math:`x_1 \dots x_L`).
    lbfgs_message : str
        SciPy's termination message.
    elbo : ndarray
        The ELBO estimate at each iterate :math:`x_1 \dots x_L` (``-inf`` where :math:`q_l`
        could not be formed or a draw had a non-finite density).
    best_iteration : int
        The :math:`l` of highest ELBO (1-based, as :math:`x_l`); -1 if failed.
    mean, inverse_hessian_diagonal : ndarray or None
        :math:`\mu_l` and :math:`\mathrm{diag}(\Sigma_l)` of the chosen approximation.
    num_gradient_evals : int
        Evaluations of :math:`\log p` and its gradient (initial tries, L-BFGS, ELBO, draws).
    seconds : float
        Wall time of the path.
    """

    index: int
    ok: bool = False
    error: str | None = None
    initial_point: np.ndarray | None = None
    num_iterations: int = 0
    lbfgs_message: str = ""
    elbo: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    best_iteration: int = -1
    mean: np.ndarray | None = None
    inverse_hessian_diagonal: np.ndarray | None = None
    num_gradient_evals: int = 0
    seconds: float = 0.0
    # the path's draws, their log densities and log q (before pooling)
    draws: np.ndarray | None = dataclasses.field(default=None, repr=False)
    log_p: np.ndarray | None = dataclasses.field(default=None, repr=False)
    log_q: np.ndarray | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass
class PathfinderResult:
    r"""The draws of a Pathfinder run.

    Attributes
    ----------
    draws : ndarray
        Unconstrained draws ``(num_draws, dim)``.
    samples : dict of str to ndarray
        Every latent and deterministic site at the draws (``model.constrain``), leading axis
        ``num_draws``.
    log_density : ndarray
        :math:`\log p` at each draw ``(num_draws,)`` (unnormalised, Jacobians included).
    elbo : ndarray
        The best ELBO estimate of each path ``(num_paths,)``; NaN for a failed path.
    pareto_k : float
        Pareto :math:`\hat k` of the importance weights :math:`p/q` of the pooled draws (NaN
        if it could not be estimated). Above 0.7 the approximation is poor.
    num_gradient_evals : int
        Evaluations of the log density and gradient over all paths.
    paths : list of PathfinderPath
        What each path did.
    model : CompiledModelLike
        The compiled model.
    seconds : float
        Wall time of the run.
    """

    draws: np.ndarray
    samples: dict[str, np.ndarray]
    log_density: np.ndarray
    elbo: np.ndarray
    pareto_k: float
    num_gradient_evals: int
    paths: list[PathfinderPath]
    model: Any = dataclasses.field(repr=False)
    seconds: float = 0.0

    def to_datatree(self):
        """An ``xarray.DataTree`` with a ``posterior`` group of one chain (the constrained
        sites) and a ``sample_stats`` group holding ``lp`` (the log density of each draw)."""
        import xarray as xr

        from inference.arviz_export import _dataset, library_attrs

        dims = dict(getattr(self.model, "dims", None) or {})
        coords = {**dict(getattr(self.model, "coords", None) or {}), "chain": np.array([0])}
        attrs = {**library_attrs(), "inference_method": "pathfinder"}
        posterior = {k: np.asarray(v)[None] for k, v in self.samples.items()}
        groups = {
            "posterior": _dataset(posterior, ("chain", "draw"), dims, coords, attrs),
            "sample_stats": _dataset({"lp": self.log_density[None]}, ("chain", "draw"), {},
                                     {"chain": np.array([0])}, attrs),
        }
        for group in ("observed_data", "constant_data"):
            values = dict(getattr(self.model, group, None) or {})
            if values:
                groups[group] = _dataset(values, (), dims, coords, attrs)
        return xr.DataTree.from_dict(groups)

    def to_arviz(self):
        """``arviz.InferenceData`` (ArviZ < 1) or the DataTree (ArviZ 1.x): see
        :meth:`to_datatree`."""
        import arviz as az

        tree = self.to_datatree()
        if int(str(az.__version__).split(".")[0]) < 1:
            return az.from_datatree(tree)
        return tree

    def __repr__(self) -> str:
        ok = sum(p.ok for p in self.paths)
        return (f"PathfinderResult(draws={self.draws.shape}, paths={ok}/{len(self.paths)} ok, "
                f"pareto_k={self.pareto_k:.2f}, num_gradient_evals={self.num_gradient_evals})")


# ------------------------------------------------------------------------------- density


class _Density:
    """The model's log density by address, on one workspace, counting evaluations."""

    def __init__(self, model: CompiledModelLike, data_pointer: int) -> None:
        self.address = int(model.logp_grad_address)
        self.data_pointer = int(data_pointer)
        self.dim = int(model.dim)
        self.count = 0

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``(logp, grad)``; ``logp = -inf`` where the model fails or is not finite."""
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        grad = np.empty(self.dim)
        self.count += 1
        status, logp = model_abi.evaluate(self.address, self.data_pointer, theta, grad)
        if status != 0:
            return -math.inf, grad
        return float(logp), grad

    def logp_many(self, thetas: np.ndarray) -> np.ndarray:
        out = np.empty(len(thetas))
        for i, theta in enumerate(thetas):
            out[i] = self(theta)[0]
        return out


# ------------------------------------------------------------------ inverse Hessian and q


def _update_alpha(alpha: np.ndarray, s: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The diagonal update of the paper's Algorithm 3 (Gilbert and Lemaréchal 1989)."""
    a = float(z @ (alpha * z))
    b = float(s @ z)
    c = float(s @ (s / alpha))
    return 1.0 / (a / (b * alpha) + z * z / b - a * s * s / (b * c * alpha * alpha))


class _Gaussian:
    """:math:`N(\\mu, \\mathrm{diag}(\\alpha) + \\beta\\gamma\\beta^\\top)` with the draws of the
    paper's Algorithm 5 (dense Cholesky when :math:`2J \\ge n`, else thin QR)."""

    def __init__(self, x: np.ndarray, g: np.ndarray, alpha: np.ndarray, S: np.ndarray,
                 Z: np.ndarray) -> None:
        n, m = S.shape
        self.n = n
        if m == 0:
            beta, gamma = np.zeros((n, 0)), np.zeros((0, 0))
        else:
            SZ = S.T @ Z
            R = np.triu(SZ)
            R_inv = np.linalg.inv(R)  # m <= J is small; SciPy's call overhead is not
            middle = R_inv.T @ (np.diag(np.diag(SZ)) + Z.T @ (alpha[:, None] * Z)) @ R_inv
            beta = np.hstack([alpha[:, None] * Z, S])
            gamma = np.block([[np.zeros((m, m)), -R_inv], [-R_inv.T, middle]])
        self.mean = x + alpha * g + beta @ (gamma @ (beta.T @ g))
        if 2 * m >= n:
            cov = np.diag(alpha) + beta @ gamma @ beta.T
            cov = 0.5 * (cov + cov.T)
            self.chol = np.linalg.cholesky(cov)  # LinAlgError if not positive definite
            self.logdet = 2.0 * float(np.sum(np.log(np.diag(self.chol))))
            self.diag = np.diag(cov).copy()
            self.Q = None
        else:
            sqrt_alpha = np.sqrt(alpha)
            Q, Rt = np.linalg.qr(beta / sqrt_alpha[:, None])
            inner = np.eye(2 * m) + Rt @ gamma @ Rt.T
            L = np.linalg.cholesky(0.5 * (inner + inner.T))
            self.chol = None
            self.Q, self.L_minus_I, self.sqrt_alpha = Q, L - np.eye(2 * m), sqrt_alpha
            self.logdet = float(np.sum(np.log(alpha))) + 2.0 * float(np.sum(np.log(np.diag(L))))
            self.diag = alpha + np.einsum("ij,jk,ik->i", beta, gamma, beta)
        if not (np.all(np.isfinite(self.mean)) and math.isfinite(self.logdet)):
            raise np.linalg.LinAlgError("non-finite mean or log-determinant")

    def sample(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``k`` draws ``(k, n)`` and their :math:`\\log q`."""
        u = rng.standard_normal((k, self.n))
        if self.chol is not None:
            phi = self.mean + u @ self.chol.T
        else:
            v = u + ((u @ self.Q) @ self.L_minus_I.T) @ self.Q.T
            phi = self.mean + v * self.sqrt_alpha
        log_q = -0.5 * (self.logdet + np.sum(u * u, axis=1) + self.n * _LOG_2PI)
        return phi, log_q


# ------------------------------------------------------------------------------ one path


@dataclasses.dataclass(frozen=True)
class _Options:
    num_draws: int
    maxiter: int
    history_size: int
    num_elbo_draws: int
    ftol: float
    gtol: float
    init_scale: float


def _lbfgs_path(density: _Density, x0: np.ndarray, lp0: float, g0: np.ndarray,
                opts: _Options) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Run L-BFGS on :math:`-\\log p` from ``x0``: the iterates ``(L+1, n)`` (``x0`` first),
    their gradients of :math:`\\log p`, SciPy's message, and why it stopped without
    converging (None if it converged)."""
    seen: dict[bytes, tuple[float, np.ndarray]] = {x0.tobytes(): (lp0, g0)}

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        lp, g = density(x)
        seen[np.ascontiguousarray(x, dtype=float).tobytes()] = (lp, g)
        if not math.isfinite(lp):  # outside the support: L-BFGS-B's line search steps back
            return math.inf, np.zeros_like(x)
        return -lp, -g

    xs, gs = [x0], [g0]

    def callback(xk: np.ndarray) -> None:
        xk = np.array(xk, dtype=float)
        hit = seen.get(xk.tobytes())
        if hit is None:
            hit = density(xk)
        if math.isfinite(hit[0]) and np.all(np.isfinite(hit[1])):
            xs.append(xk)
            gs.append(hit[1])
        seen.clear()

    with np.errstate(all="ignore"):
        res = scipy.optimize.minimize(
            objective, x0, jac=True, method="L-BFGS-B", callback=callback,
            options={"maxcor": opts.history_size, "maxiter": opts.maxiter,
                     "ftol": opts.ftol, "gtol": opts.gtol, "maxls": 50},
        )
    if res.success:
        problem = None
    elif res.nit >= opts.maxiter:
        problem = f"it reached maxiter={opts.maxiter} iterations"
    else:
        problem = f"its line search or evaluation failed ({res.message})"
    return np.array(xs), np.array(gs), str(res.message), problem


def _single_path(model: CompiledModelLike, data_pointer: int, index: int,
                 seed_seq: np.random.SeedSequence, opts: _Options) -> PathfinderPath:
    t0 = time.perf_counter()
    path = PathfinderPath(index)
    density = _Density(model, data_pointer)
    rng = np.random.default_rng(seed_seq)
    try:
        _run_path(model, density, rng, opts, path)
        path.ok = True
    except _PathFailed as err:
        path.error = str(err)
    path.num_gradient_evals = density.count
    path.seconds = time.perf_counter() - t0
    return path


def _run_path(model: CompiledModelLike, density: _Density, rng: np.random.Generator,
              opts: _Options, path: PathfinderPath) -> None:
    n = density.dim
    for _ in range(100):
        x0 = rng.uniform(-opts.init_scale, opts.init_scale, n)
        lp0, g0 = density(x0)
        if math.isfinite(lp0):
            break
    else:
        why = model.diagnose(x0) if hasattr(model, "diagnose") else "log density is not finite"
        raise _PathFailed(
            f"no initial point with a finite log density in 100 uniform(-{opts.init_scale}, "
            f"{opts.init_scale}) tries: {why}"
        )
    path.initial_point = x0
    xs, gs, message, problem = _lbfgs_path(density, x0, lp0, g0, opts)
    path.lbfgs_message = message
    path.num_iterations = len(xs) - 1
    if path.num_iterations == 0:
        raise _PathFailed(f"L-BFGS made no step from the initial point ({message})")
    if problem is not None:
        warnings.warn(
            f"Pathfinder path {path.index}: L-BFGS stopped without converging after "
            f"{path.num_iterations} iterations: {problem}; the path's draws come from the best "
            f"approximation along it so far",
            SamplingWarning, stacklevel=4,
        )

    alpha = np.ones(n)
    S_hist: list[np.ndarray] = []
    Z_hist: list[np.ndarray] = []
    elbo = np.full(path.num_iterations, -math.inf)
    best: _Gaussian | None = None
    for l in range(1, len(xs)):
        s, z = xs[l] - xs[l - 1], gs[l - 1] - gs[l]
        if s @ z > _EPS * (z @ z):
            new_alpha = _update_alpha(alpha, s, z)
            if np.all(np.isfinite(new_alpha)) and np.all(new_alpha > 0):
                alpha = new_alpha
            S_hist.append(s)
            Z_hist.append(z)
            del S_hist[:-opts.history_size], Z_hist[:-opts.history_size]
        try:
            with np.errstate(all="ignore"):
                q = _Gaussian(xs[l], gs[l], alpha, np.array(S_hist).T.reshape(n, -1),
                              np.array(Z_hist).T.reshape(n, -1))
        except (np.linalg.LinAlgError, ValueError):
            continue
        phi, log_q = q.sample(rng, opts.num_elbo_draws)
        log_p = density.logp_many(phi)
        value = float(np.mean(log_p - log_q))
        if math.isfinite(value):
            elbo[l - 1] = value
            if best is None or value > elbo[path.best_iteration - 1]:
                best, path.best_iteration = q, l
    path.elbo = elbo
    if best is None:
        raise _PathFailed(
            f"no iterate of its {path.num_iterations} L-BFGS iterations gave a finite ELBO "
            f"(the Gaussian approximations put draws where the log density is not finite); "
            f"L-BFGS: {message}"
        )
    path.mean, path.inverse_hessian_diagonal = best.mean, best.diag
    path.draws, path.log_q = best.sample(rng, opts.num_draws)
    path.log_p = density.logp_many(path.draws)


# ---------------------------------------------------------------------------- multi-path


def _seed_sequence(seed: int | np.random.Generator | np.random.SeedSequence
                   ) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2**63)))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise TypeError(f"seed must be a non-negative int or a numpy.random.Generator, got {seed!r}")


def _child(seq: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """Child ``i`` of ``seq`` (what ``seq.spawn`` gives first, without mutating ``seq``)."""
    return np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, i))


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"pathfinder: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _pareto_k(log_w: np.ndarray) -> tuple[np.ndarray, float]:
    """PSIS-smoothed normalised log weights and :math:`\\hat k` (ArviZ's ``psislw``)."""
    import arviz as az

    finite = np.isfinite(log_w)
    smoothed = np.full(log_w.shape, -np.inf)
    if finite.sum() < 2:
        return smoothed, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns on few draws or large k; we report k
        lw, k = az.psislw(log_w[finite] - np.max(log_w[finite]), reff=1.0)
    smoothed[finite] = np.asarray(lw)
    return smoothed, float(k)


def _run_paths(model: CompiledModelLike, seq: np.random.SeedSequence, num_paths: int,
               opts: _Options, num_threads: int | None) -> list[PathfinderPath]:
    streams = [_child(seq, i) for i in range(num_paths)]
    pointers = chain_data_pointers(model, num_paths)
    if num_threads is None:
        import numba

        num_threads = numba.get_num_threads()
    workers = max(1, min(int(num_threads), num_paths))
    jobs = [(model, pointers[i], i, streams[i], opts) for i in range(num_paths)]
    if workers == 1:
        return [_single_path(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: _single_path(*job), jobs))


def pathfinder(
    model: Callable[..., Any] | CompiledModelLike,
    *args: Any,
    seed: int | np.random.Generator = 0,
    num_paths: int = 4,
    num_draws: int = 1000,
    maxiter: int = 1000,
    history_size: int = 6,
    num_elbo_draws: int = 25,
    ftol: float = 1e4 * _EPS,
    gtol: float = 1e-8,
    init_scale: float = 2.0,
    psis_resample: bool = True,
    num_threads: int | None = None,
    **kwargs: Any,
) -> PathfinderResult:
    """Approximate the posterior of ``model`` with Pathfinder (see the module docstring).

    Parameters
    ----------
    model : callable or CompiledModelLike
        A model function (compiled with ``ppl.model.compile_model`` on ``*args, **kwargs``) or
        an already compiled model.
    *args, **kwargs
        The model function's arguments (ignored for a compiled model).
    seed : int or numpy.random.Generator, default 0
        Path ``i`` draws from ``SeedSequence(seed).spawn(num_paths)[i]``; the same seed gives
        the same draws whatever the number of threads.
    num_paths : int, default 4
        Independent paths; their draws are pooled and (``psis_resample``) importance-resampled.
    num_draws : int, default 1000
        Draws per path, and the number returned.
    maxiter : int, default 1000
        Maximum L-BFGS iterations per path.
    history_size : int, default 6
        L-BFGS memory :math:`J` (pairs kept for the inverse Hessian).
    num_elbo_draws : int, default 25
        Monte Carlo draws per ELBO estimate (Stan's default).
    ftol, gtol : float
        L-BFGS-B's stopping tolerances on the relative decrease of :math:`-\\log p` and on the
        largest gradient component (Stan's ``tol_rel_obj`` and ``tol_grad``).
    init_scale : float, default 2
        Paths start uniformly in ``(-init_scale, init_scale)`` on the unconstrained scale.
    psis_resample : bool, default True
        With several paths, resample ``num_draws`` of the pooled draws with Pareto-smoothed
        importance weights (without it, the first ``num_draws`` of the shuffled pool).
    num_threads : int, optional
        Threads running paths at once (default ``numba.get_num_threads()``).

    Returns
    -------
    PathfinderResult

    Raises
    ------
    PathfinderError
        If every path failed (each path's reason is in the message). A failed path among
        others gives a :class:`~inference.sampling_warnings.SamplingWarning` and no draws.
    """
    t0 = time.perf_counter()
    num_paths = _positive_int("num_paths", num_paths)
    num_draws = _positive_int("num_draws", num_draws)
    opts = _Options(
        num_draws=num_draws,
        maxiter=_positive_int("maxiter", maxiter),
        history_size=_positive_int("history_size", history_size),
        num_elbo_draws=_positive_int("num_elbo_draws", num_elbo_draws),
        ftol=float(ftol), gtol=float(gtol), init_scale=float(init_scale),
    )
    if not opts.init_scale > 0:
        raise ValueError(f"pathfinder: init_scale must be positive, got {init_scale!r}")
    seq = _seed_sequence(seed)
    compiled = resolve_model(model, args, kwargs)
    if int(compiled.dim) == 0:
        raise ValueError("pathfinder: the model has no latent continuous parameters (dim = 0)")

    paths = _run_paths(compiled, seq, num_paths, opts, num_threads)
    failed = [p for p in paths if not p.ok]
    if len(failed) == num_paths:
        raise PathfinderError(
            "every Pathfinder path failed: "
            + "; ".join(f"path {p.index}: {p.error}" for p in failed)
        )
    for p in failed:
        warnings.warn(f"Pathfinder path {p.index} failed and gives no draws: {p.error}",
                      SamplingWarning, stacklevel=2)
    ok = [p for p in paths if p.ok]
    pool = np.concatenate([p.draws for p in ok])
    log_p = np.concatenate([p.log_p for p in ok])
    log_w = log_p - np.concatenate([p.log_q for p in ok])
    smoothed, k_hat = _pareto_k(log_w)
    rng = np.random.default_rng(_child(seq, num_paths))  # the resampling stream
    if len(ok) == 1 and num_paths == 1:
        rows = np.arange(num_draws)
    elif psis_resample and np.any(np.isfinite(smoothed)):
        prob = np.exp(smoothed - np.max(smoothed))
        rows = rng.choice(len(pool), size=num_draws, replace=True, p=prob / prob.sum())
    else:
        rows = rng.permutation(len(pool))[:num_draws]
    draws = pool[rows]
    return PathfinderResult(
        draws=draws,
        samples=compiled.constrain(draws),
        log_density=log_p[rows],
        elbo=np.array([p.elbo[p.best_iteration - 1] if p.ok else np.nan for p in paths]),
        pareto_k=k_hat,
        num_gradient_evals=sum(p.num_gradient_evals for p in paths),
        paths=paths,
        model=compiled,
        seconds=time.perf_counter() - t0,
    )


def pathfinder_initial_points(model: CompiledModelLike, seed: int, num_chains: int,
                              **options: Any) -> np.ndarray:
    """``(num_chains, dim)`` distinct starting points for MCMC from a Pathfinder run.

    Used by ``init_strategy="pathfinder"`` of :class:`~inference.nuts.NUTS` and
    :class:`~inference.hmc.HMC`: runs :func:`pathfinder` (4 paths of 250 draws unless
    ``options`` say otherwise) on a stream derived from the MCMC seed ``seed``, and picks
    ``num_chains`` different pooled draws with probabilities proportional to their smoothed
    importance weights (without replacement, so that no two chains start at one point).
    """
    seq = np.random.SeedSequence(int(seed), spawn_key=_MCMC_INIT_SPAWN_KEY)
    options = {"num_paths": 4, "num_draws": max(250, int(num_chains)), **options}
    result = pathfinder(model, seed=seq, **options)
    ok = [p for p in result.paths if p.ok]
    pool = np.concatenate([p.draws for p in ok])
    smoothed, _ = _pareto_k(np.concatenate([p.log_p - p.log_q for p in ok]))
    finite = np.isfinite(np.concatenate([p.log_p for p in ok]))
    weights = np.where(finite & np.isfinite(smoothed), np.exp(smoothed - np.max(smoothed)), 0.0)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed),
                                                       spawn_key=(*_MCMC_INIT_SPAWN_KEY, 1)))
    if np.count_nonzero(weights) < num_chains:  # degenerate weights: any finite draws
        weights = finite.astype(float)
    if np.count_nonzero(weights) < num_chains:
        raise PathfinderError(
            f"init_strategy='pathfinder': only {np.count_nonzero(weights)} Pathfinder draws "
            f"have a finite log density, fewer than num_chains={num_chains}"
        )
    rows = rng.choice(len(pool), size=num_chains, replace=False, p=weights / weights.sum())
    return pool[rows].copy()
