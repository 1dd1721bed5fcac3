r"""Hand-written models with the samplers' C ABI (:mod:`kernels.model_abi`), shared by the tests.

Each is a Numba ``@cfunc`` ``int64 logp_grad(double* theta, double* grad, double* logp,
void* data)`` whose data is a float64 array starting with the dimension, so a test passes
``data.ctypes.data`` and the model's ``.address``:

* :func:`gaussian_precision` -- :math:`N(m, P^{-1})`; data from :func:`gauss_data`;
* :func:`diag_normal` -- independent :math:`N(0, s_i^2)`; data ``[d, s_1, ..., s_d]``;
* :func:`normal_nan_region` -- a standard normal whose log density is NaN where
  :math:`\theta_0 > b`; data ``[d, b]``;
* :func:`normal_with_hole` -- a standard normal undefined (status 1) where :math:`\theta_0 > b`
  and NaN where :math:`\theta_1 < -b`; data ``[d, b]``;
* :func:`flat` -- the improper flat density on :math:`\mathbb{R}^d`; data ``[d]``;
* :func:`eight_schools_centred` -- the centred eight schools, a funnel; data
  :data:`EIGHT_SCHOOLS`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import carray, cfunc

from kernels.model_abi import LOGP_GRAD_SIG

__all__ = ["gaussian_precision", "gauss_data", "diag_normal", "normal_nan_region",
           "normal_with_hole", "flat", "eight_schools_centred", "EIGHT_SCHOOLS"]


@cfunc(LOGP_GRAD_SIG, cache=True)
def gaussian_precision(theta, grad, logp, data):
    """N(mean, P^-1); data = [d, mean (d), P (d*d, row-major)]."""
    head = carray(data, (1,), np.float64)
    d = int(head[0])
    buf = carray(data, (1 + d + d * d,), np.float64)
    t = carray(theta, (d,))
    g = carray(grad, (d,))
    s = 0.0
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += buf[1 + d + i * d + j] * (t[j] - buf[1 + j])
        g[i] = -acc
        s += (t[i] - buf[1 + i]) * acc
    logp[0] = -0.5 * s
    return 0


def gauss_data(mean, prec) -> np.ndarray:
    """The data array of :func:`gaussian_precision` for mean ``mean`` and precision ``prec``."""
    d = len(mean)
    return np.concatenate([[float(d)], np.asarray(mean, float), np.asarray(prec, float).ravel()])


@cfunc(LOGP_GRAD_SIG, cache=True)
def diag_normal(theta, grad, logp, data):
    """Independent normals N(0, sd_i^2); data = [d, sd (d)]."""
    head = carray(data, (1,), np.float64)
    d = int(head[0])
    sd = carray(data, (1 + d,), np.float64)
    t = carray(theta, (d,))
    g = carray(grad, (d,))
    s = 0.0
    for i in range(d):
        z = t[i] / sd[1 + i]
        s += z * z
        g[i] = -z / sd[1 + i]
    logp[0] = -0.5 * s
    return 0


@cfunc(LOGP_GRAD_SIG, cache=True)
def normal_nan_region(theta, grad, logp, data):
    """Standard normal in d = data[0] dims whose log density is NaN where theta[0] > data[1]."""
    head = carray(data, (2,), np.float64)
    d = int(head[0])
    t = carray(theta, (d,))
    g = carray(grad, (d,))
    s = 0.0
    for i in range(d):
        s += t[i] * t[i]
        g[i] = -t[i]
    logp[0] = -0.5 * s
    if t[0] > head[1]:
        logp[0] = math.nan
    return 0


@cfunc(LOGP_GRAD_SIG, cache=True)
def normal_with_hole(theta, grad, logp, data):
    """Standard normal in d = data[0] dims, undefined (status 1) where theta[0] > data[1];
    NaN log density where theta[1] < -data[1]."""
    head = carray(data, (2,), np.float64)
    d = int(head[0])
    t = carray(theta, (d,))
    g = carray(grad, (d,))
    if t[0] > head[1]:
        return 1
    s = 0.0
    for i in range(d):
        s += t[i] * t[i]
        g[i] = -t[i]
    logp[0] = -0.5 * s
    if d > 1 and t[1] < -head[1]:
        logp[0] = math.nan
    return 0


@cfunc(LOGP_GRAD_SIG, cache=True)
def flat(theta, grad, logp, data):
    """Improper flat density on R^d, d = data[0]."""
    head = carray(data, (1,), np.float64)
    g = carray(grad, (int(head[0]),))
    for i in range(g.shape[0]):
        g[i] = 0.0
    logp[0] = 0.0
    return 0


#: Data of :func:`eight_schools_centred`: ``[d = 10, y (8), sigma (8)]`` (Rubin 1981).
EIGHT_SCHOOLS = np.array([10.0, 28, 8, -3, 7, -1, 1, 18, 12, 15, 10, 16, 11, 9, 11, 10, 18])


@cfunc(LOGP_GRAD_SIG, cache=True)
def eight_schools_centred(theta, grad, logp, data):
    """The centred eight schools on ``(mu, log tau, theta_1..8)``: mu ~ N(0, 5),
    tau ~ HalfCauchy(5) (with the log-Jacobian), theta_i ~ N(mu, tau), y_i ~ N(theta_i,
    sigma_i); constants dropped."""
    buf = carray(data, (17,), np.float64)
    t = carray(theta, (10,))
    g = carray(grad, (10,))
    mu, u = t[0], t[1]
    tau = math.exp(u)
    s = -mu * mu / 50.0 - math.log1p(tau * tau / 25.0) + u
    g[0] = -mu / 25.0
    g[1] = 1.0 - 2.0 * tau * tau / (25.0 + tau * tau)
    for i in range(8):
        z = (t[2 + i] - mu) / tau
        r = (buf[1 + i] - t[2 + i]) / buf[9 + i]
        s += -0.5 * z * z - u - 0.5 * r * r
        g[0] += z / tau
        g[1] += z * z - 1.0
        g[2 + i] = -z / tau + r / buf[9 + i]
    logp[0] = s
    return 0
