"""``numpy.linalg`` names, differentiable: cholesky, solve, inv, slogdet, det, solve_triangular."""

from __future__ import annotations

import numpy as _np

from autodiff.core import get_aval
from autodiff.ops import linalg as _la
from autodiff.ops.elementwise import exp, mul
from autodiff.ops.structural import expand_dims, squeeze


def cholesky(a):
    """Lower Cholesky factor ``L`` with ``a = L Lᵀ`` (NaN when ``a`` is not positive definite)."""
    return _la.cholesky(a)


def _as_matrix(b, n):
    aval = get_aval(b)
    if aval.ndim == 1:
        if aval.shape[0] != n:
            raise ValueError(f"solve: right-hand side of shape {aval.shape} for a {n}x{n} system")
        return expand_dims(b, -1), True
    return b, False


def solve(a, b):
    """The solution ``x`` of ``a x = b`` (``b`` a vector or a matrix of right-hand sides)."""
    b2, vec = _as_matrix(b, get_aval(a).shape[-1])
    x = _la.solve(a, b2)
    return squeeze(x, -1) if vec else x


def solve_triangular(a, b, lower: bool = True, trans: bool = False):
    """Solve ``a x = b`` (or ``aᵀ x = b`` when ``trans``) for triangular ``a``."""
    b2, vec = _as_matrix(b, get_aval(a).shape[-1])
    x = _la.solve_triangular(a, b2, lower=lower, trans=trans)
    return squeeze(x, -1) if vec else x


def inv(a):
    n = get_aval(a).shape[-1]
    return _la.solve(a, _np.broadcast_to(_np.eye(n), get_aval(a).shape))


def slogdet(a):
    """``(sign, log|det a|)``."""
    sign, logdet = _la.slogdet(a)
    return sign, logdet


def det(a):
    sign, logdet = _la.slogdet(a)
    return mul(sign, exp(logdet))


def norm(x, axis=None):
    from autodiff.numpy import sqrt, sum  # noqa: A004

    return sqrt(sum(mul(x, x), axis=axis))
