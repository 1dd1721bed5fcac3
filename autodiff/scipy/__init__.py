"""SciPy's names, differentiable (``autodiff.scipy.special``, ``autodiff.scipy.linalg``)."""

from autodiff.scipy import linalg, special  # noqa: F401
