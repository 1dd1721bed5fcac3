"""``scipy.linalg`` names, differentiable, with SciPy's signatures and defaults (note that
``cholesky`` and ``solve_triangular`` default to ``lower=False`` here, as in SciPy, while
``autodiff.numpy.linalg.solve_triangular`` defaults to ``lower=True``)."""

from __future__ import annotations

from autodiff.numpy import linalg as _nla
from autodiff.ops.structural import swapaxes

cho_solve = _nla.cho_solve
expm = _nla.expm
kron = _nla.kron


def cholesky(a, lower: bool = False):
    """The Cholesky factor: upper ``U`` with ``a = Uᵀ U`` unless ``lower``."""
    factor = _nla.cholesky(a)
    return factor if lower else swapaxes(factor, -1, -2)


def cho_factor(a, lower: bool = False):
    """``(c, lower)`` for :func:`cho_solve` (the other triangle of ``c`` is zero, not
    SciPy's leftover entries)."""
    return cholesky(a, lower=lower), lower


def solve_triangular(a, b, trans: int | str = 0, lower: bool = False):
    """Solve ``a x = b`` (``trans`` 0/'N') or ``aᵀ x = b`` (1/'T'/2/'C') for triangular ``a``."""
    codes = {0: False, "N": False, 1: True, "T": True, 2: True, "C": True}
    if trans not in codes:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    return _nla.solve_triangular(a, b, lower=lower, trans=codes[trans])
