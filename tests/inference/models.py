r"""Hand-written compiled models implementing :class:`inference.protocols.CompiledModelLike`.

Each model is a Numba ``@cfunc`` with the model ABI of :mod:`kernels.model_abi`
(``int64 logp_grad(double* theta, double* grad, double* logp, void* data)``; the Gaussian and
NaN-region ones are those of :mod:`tests.cfunc_models`), its data in a
NumPy array whose address is the ``data`` pointer, and NumPy implementations of ``constrain``
and ``log_likelihood`` (vectorised over leading axes). They stand in for
``ppl.model.compile_model`` in the tests of :mod:`inference`.

* :class:`GaussianModel` -- :math:`x \sim N(m, \Sigma)` in ``d`` dimensions;
* :class:`EightSchoolsNonCentered` -- :math:`\mu \sim N(0, 5)`, :math:`\tau \sim
  \mathrm{HalfCauchy}(5)`, :math:`z_j \sim N(0, 1)`, :math:`\theta_j = \mu + \tau z_j`
  (deterministic), :math:`y_j \sim N(\theta_j, \sigma_j)`; unconstrained
  :math:`(\mu, \log\tau, z)`;
* :class:`EightSchoolsCentered` -- :math:`\theta_j \sim N(\mu, \tau)` directly: Neal's funnel,
  which makes NUTS diverge;
* :class:`NaNRegionModel` -- a standard normal whose log density is NaN where
  :math:`x_0 > 1`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import carray, cfunc
from scipy import stats

from kernels.model_abi import LOGP_GRAD_SIG, logp_grad
from tests.cfunc_models import gaussian_precision, normal_nan_region

__all__ = [
    "HandModel",
    "GaussianModel",
    "EightSchoolsNonCentered",
    "EightSchoolsCentered",
    "NaNRegionModel",
    "EIGHT_SCHOOLS_Y",
    "EIGHT_SCHOOLS_SIGMA",
]

EIGHT_SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
EIGHT_SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
_HALF_CAUCHY_SCALE = 5.0
_MU_SCALE = 5.0


# ---------------------------------------------------------------------------------- cfuncs


@cfunc(LOGP_GRAD_SIG, cache=True)
def _eight_schools_noncentered_logp(theta, grad, logp, data):
    """theta = (mu, log_tau, z[J]); data = [J, y (J), sigma (J)]."""
    J = int(carray(data, (1,), np.float64)[0])
    buf = carray(data, (1 + 2 * J,), np.float64)
    t = carray(theta, (2 + J,))
    g = carray(grad, (2 + J,))
    mu = t[0]
    tau = math.exp(t[1])
    u = tau / 5.0
    lp = -0.5 * (mu / 5.0) ** 2 - math.log1p(u * u) + t[1]
    g_mu = -mu / 25.0
    g_tau = -2.0 * u / 5.0 / (1.0 + u * u)
    for j in range(J):
        z = t[2 + j]
        y = buf[1 + j]
        sigma = buf[1 + J + j]
        r = (y - mu - tau * z) / (sigma * sigma)
        lp += -0.5 * z * z - 0.5 * r * (y - mu - tau * z)
        g_mu += r
        g_tau += r * z
        g[2 + j] = -z + r * tau
    g[0] = g_mu
    g[1] = g_tau * tau + 1.0
    logp[0] = lp
    return 0


@cfunc(LOGP_GRAD_SIG, cache=True)
def _eight_schools_centered_logp(theta, grad, logp, data):
    """theta = (mu, log_tau, theta[J]); data = [J, y (J), sigma (J)]."""
    J = int(carray(data, (1,), np.float64)[0])
    buf = carray(data, (1 + 2 * J,), np.float64)
    t = carray(theta, (2 + J,))
    g = carray(grad, (2 + J,))
    mu = t[0]
    tau = math.exp(t[1])
    u = tau / 5.0
    lp = -0.5 * (mu / 5.0) ** 2 - math.log1p(u * u) + t[1]
    g_mu = -mu / 25.0
    g_log_tau = -2.0 * u * u / (1.0 + u * u) + 1.0
    for j in range(J):
        th = t[2 + j]
        y = buf[1 + j]
        sigma = buf[1 + J + j]
        dev = (th - mu) / tau
        lp += -0.5 * dev * dev - t[1] - 0.5 * ((y - th) / sigma) ** 2
        g_mu += dev / tau
        g_log_tau += dev * dev - 1.0
        g[2 + j] = -dev / tau + (y - th) / (sigma * sigma)
    g[0] = g_mu
    g[1] = g_log_tau
    logp[0] = lp
    return 0


# ---------------------------------------------------------------------------------- models


class HandModel:
    """Shared plumbing: data pointer, ``logp_and_grad``, ``initial_points``, empty metadata."""

    _cfunc = None

    def __init__(self, data: np.ndarray, dim: int) -> None:
        self._data = np.ascontiguousarray(data, dtype=np.float64)
        self.dim = int(dim)
        self.logp_grad_address = int(self._cfunc.address)
        self.data_pointer = int(self._data.ctypes.data)
        self.site_names: list[str] = []
        self.deterministic_names: list[str] = []
        self.observed_data: dict[str, np.ndarray] = {}
        self.constant_data: dict[str, np.ndarray] = {}
        self.dims: dict[str, list[str]] = {}
        self.coords: dict[str, np.ndarray] = {}

    def logp_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        grad = np.empty(self.dim)
        status, lp = logp_grad(self.logp_grad_address, self.data_pointer, theta, grad)
        if status != 0:
            return math.nan, grad
        return float(lp), grad

    def _finite(self, theta: np.ndarray) -> bool:
        lp, g = self.logp_and_grad(theta)
        return math.isfinite(lp) and bool(np.all(np.isfinite(g)))

    def initial_points(self, rng: np.random.Generator, num_chains: int, strategy="uniform"):
        if isinstance(strategy, dict):
            point = self.unconstrain(strategy)
            if not self._finite(point):
                raise ValueError("the initial values give a non-finite log density")
            return np.tile(point, (num_chains, 1))
        if strategy == "median":
            return np.zeros((num_chains, self.dim))
        out = np.empty((num_chains, self.dim))
        for c in range(num_chains):
            for _ in range(100):
                out[c] = rng.uniform(-2.0, 2.0, self.dim)
                if self._finite(out[c]):
                    break
            else:
                raise ValueError(f"chain {c}: no finite initial point in 100 tries")
        return out

    def log_likelihood(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        return {}


class GaussianModel(HandModel):
    """``x ~ MultivariateNormal(mean, cov)``; one latent site ``x`` of shape ``(d,)``."""

    _cfunc = gaussian_precision

    def __init__(self, mean, cov) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.cov = np.asarray(cov, dtype=np.float64)
        d = self.mean.size
        prec = np.linalg.inv(self.cov)
        super().__init__(np.concatenate([[float(d)], self.mean, prec.ravel()]), d)
        self.site_names = ["x"]

    def constrain(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        return {"x": np.array(draws, dtype=np.float64)}

    def unconstrain(self, values: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(values["x"], dtype=np.float64).reshape(self.dim)


class _EightSchools(HandModel):
    def __init__(self, y=EIGHT_SCHOOLS_Y, sigma=EIGHT_SCHOOLS_SIGMA) -> None:
        self.y = np.asarray(y, dtype=np.float64)
        self.sigma = np.asarray(sigma, dtype=np.float64)
        J = self.y.size
        super().__init__(np.concatenate([[float(J)], self.y, self.sigma]), J + 2)
        self.observed_data = {"y": self.y}
        self.constant_data = {"sigma": self.sigma}
        self.coords = {"school": np.array([f"school_{j}" for j in range(J)])}

    def log_likelihood(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        theta = self.constrain(draws)["theta"]
        return {"y": stats.norm.logpdf(self.y, loc=theta, scale=self.sigma)}


class EightSchoolsNonCentered(_EightSchools):
    """Eight schools, non-centred: latent ``mu, tau, z``, deterministic ``theta``."""

    _cfunc = _eight_schools_noncentered_logp

    def __init__(self, y=EIGHT_SCHOOLS_Y, sigma=EIGHT_SCHOOLS_SIGMA) -> None:
        super().__init__(y, sigma)
        self.site_names = ["mu", "tau", "z"]
        self.deterministic_names = ["theta"]
        self.dims = {"z": ["school"], "theta": ["school"], "y": ["school"], "sigma": ["school"]}

    def constrain(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        draws = np.asarray(draws, dtype=np.float64)
        mu, tau, z = draws[..., 0], np.exp(draws[..., 1]), draws[..., 2:]
        return {"mu": mu, "tau": tau, "z": z, "theta": mu[..., None] + tau[..., None] * z}

    def unconstrain(self, values: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate(
            [[float(values["mu"]), math.log(float(values["tau"]))], np.asarray(values["z"])]
        )


class EightSchoolsCentered(_EightSchools):
    """Eight schools, centred (a funnel): latent ``mu, tau, theta``."""

    _cfunc = _eight_schools_centered_logp

    def __init__(self, y=EIGHT_SCHOOLS_Y, sigma=EIGHT_SCHOOLS_SIGMA) -> None:
        super().__init__(y, sigma)
        self.site_names = ["mu", "tau", "theta"]
        self.dims = {"theta": ["school"], "y": ["school"], "sigma": ["school"]}

    def constrain(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        draws = np.asarray(draws, dtype=np.float64)
        return {"mu": draws[..., 0], "tau": np.exp(draws[..., 1]), "theta": draws[..., 2:]}

    def unconstrain(self, values: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate(
            [[float(values["mu"]), math.log(float(values["tau"]))], np.asarray(values["theta"])]
        )


class NaNRegionModel(HandModel):
    """Standard normal ``x`` in ``d`` dimensions with NaN log density where ``x[0] > bound``."""

    _cfunc = normal_nan_region

    def __init__(self, d: int = 2, bound: float = 1.0) -> None:
        super().__init__(np.array([float(d), float(bound)]), d)
        self.bound = bound
        self.site_names = ["x"]

    def constrain(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        return {"x": np.array(draws, dtype=np.float64)}

    def unconstrain(self, values: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(values["x"], dtype=np.float64).reshape(self.dim)
