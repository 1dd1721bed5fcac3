"""SciPy's names, differentiable (``autodiff.scipy.special``)."""

from autodiff.scipy import special  # noqa: F401
