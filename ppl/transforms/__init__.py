"""Bijective transforms, and ``biject_to``: the map from :math:`\\mathbb{R}^n` onto each support.

A :class:`Transform` ``t`` maps its ``domain`` onto its ``codomain`` (both constraints of
:mod:`ppl.constraints`).  ``t(x)`` is the forward map, ``t.inverse(y)`` its inverse and
``t.log_abs_det_jacobian(x, y)`` the log of :math:`|\\det \\partial y / \\partial x|`, summed over
the transform's event dimensions (``domain.event_dim``), so it has the batch shape of ``x``.
``t.inv`` is the inverse as a transform.  For a map between spaces of different dimensions
(simplex, Cholesky factors ...) the Jacobian is taken with respect to the *free coordinates* of
the output (the first :math:`K-1` entries of a simplex, the strictly lower triangle of a
correlation Cholesky factor), as in Stan and NumPyro.

Every map is written in :mod:`autodiff.numpy` and :mod:`autodiff.scipy.special` operations
without Python control flow on values, so it differentiates, stages and compiles; parameters
(bounds, ``loc``, ``scale``) may be traced values that depend on other sample sites.

``biject_to(constraint)`` returns the transform from unconstrained space onto a support, as used
by NUTS and the autoguides:

>>> import numpy as np
>>> from ppl import constraints
>>> from ppl.transforms import biject_to
>>> t = biject_to(constraints.simplex)
>>> t(np.zeros(3))   # Stan's offset: zero maps to the uniform simplex
array([0.25, 0.25, 0.25, 0.25])
>>> t.inverse(t(np.array([0.5, -1.0, 2.0])))
array([ 0.5, -1. ,  2. ])
>>> biject_to(constraints.positive)
ExpTransform()

References: Stan Reference Manual, "Constraint transforms"; NumPyro ``distributions/transforms.py``
(names and conventions); Lewandowski, Kurowicka and Joe (2009) for the correlation transform.

The package is split by kind of map; every name is importable from ``ppl.transforms``:

* :mod:`ppl.transforms.base` -- the :class:`Transform` interface and its inverse view;
* :mod:`ppl.transforms.compose` -- composition, event reinterpretation, reshaping;
* :mod:`ppl.transforms.elementwise` -- scalar maps (exp, softplus, sigmoid, affine, bounds ...);
* :mod:`ppl.transforms.vectors` -- simplex, ordered, unit-sphere and zero-sum vectors;
* :mod:`ppl.transforms.matrices` -- Cholesky factors, correlation and positive-definite matrices;
* :mod:`ppl.transforms.registry` -- ``biject_to`` and :class:`NoBijectorError`.
"""

from ppl.transforms.base import Transform
from ppl.transforms.compose import ComposeTransform, IndependentTransform, ReshapeTransform
from ppl.transforms.elementwise import (
    AffineTransform,
    ExpTransform,
    IdentityTransform,
    LowerBoundTransform,
    PowerTransform,
    SigmoidTransform,
    SoftplusTransform,
    TanhTransform,
    UpperBoundTransform,
)
from ppl.transforms.matrices import (
    CholeskyTransform,
    CorrCholeskyTransform,
    CorrMatrixCholeskyTransform,
    CorrMatrixTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    SoftplusLowerCholeskyTransform,
)
from ppl.transforms.registry import ConstraintRegistry as ConstraintRegistry
from ppl.transforms.registry import NoBijectorError, biject_to
from ppl.transforms.vectors import (
    OrderedTransform,
    PositiveOrderedTransform,
    StickBreakingTransform,
    UnitVectorTransform,
    ZeroSumTransform,
)

__all__ = [
    "AffineTransform",
    "CholeskyTransform",
    "ComposeTransform",
    "CorrCholeskyTransform",
    "CorrMatrixCholeskyTransform",
    "CorrMatrixTransform",
    "ExpTransform",
    "IdentityTransform",
    "IndependentTransform",
    "LowerBoundTransform",
    "LowerCholeskyTransform",
    "NoBijectorError",
    "OrderedTransform",
    "PositiveDefiniteTransform",
    "PositiveOrderedTransform",
    "PowerTransform",
    "ReshapeTransform",
    "SigmoidTransform",
    "SoftplusLowerCholeskyTransform",
    "SoftplusTransform",
    "StickBreakingTransform",
    "TanhTransform",
    "Transform",
    "UnitVectorTransform",
    "UpperBoundTransform",
    "ZeroSumTransform",
    "biject_to",
]
