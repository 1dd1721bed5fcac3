"""``biject_to``: the registry mapping each constraint to its transform from unconstrained space.

Lookup walks the constraint's class hierarchy (:class:`ConstraintRegistry`); a support with no
registered bijector (discrete supports) raises :class:`NoBijectorError`, which tells the user
how to handle the site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import autodiff.numpy as anp
from ppl import constraints
from ppl.constraints import Constraint
from ppl.transforms.base import Transform
from ppl.transforms.compose import ComposeTransform, IndependentTransform
from ppl.transforms.elementwise import (
    AffineTransform,
    ExpTransform,
    IdentityTransform,
    LowerBoundTransform,
    SigmoidTransform,
    SoftplusTransform,
    UpperBoundTransform,
)
from ppl.transforms.matrices import (
    CorrCholeskyTransform,
    CorrMatrixTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    SoftplusLowerCholeskyTransform,
)
from ppl.transforms.vectors import (
    OrderedTransform,
    PositiveOrderedTransform,
    StickBreakingTransform,
    UnitVectorTransform,
    ZeroSumTransform,
)

__all__ = ["ConstraintRegistry", "NoBijectorError", "biject_to"]


class NoBijectorError(NotImplementedError):
    """A support with no bijection from unconstrained space (discrete, or not supported)."""

    def __init__(self, constraint: Constraint):
        self.constraint = constraint
        super().__init__(
            f"support {constraint!r} has no bijector to the real line (it is discrete or not "
            "supported); marginalise the site (sum or enumerate it out of the model), replace "
            "it by a continuous relaxation, or observe it"
        )


class ConstraintRegistry:
    """Maps constraint types to factories ``factory(constraint) -> Transform``.

    Lookup walks the constraint's class hierarchy, so ``unit_interval`` (an ``interval``) uses
    the interval factory unless it has its own.
    """

    def __init__(self):
        self._factories: dict[type, Callable[[Any], Transform]] = {}

    def register(self, constraint, factory: Callable[[Any], Transform] | None = None):
        """Register ``factory`` for ``constraint`` (a constraint or its type); a decorator
        when ``factory`` is omitted."""
        key = constraint if isinstance(constraint, type) else type(constraint)
        if factory is None:
            return lambda f: self.register(key, f)
        self._factories[key] = factory
        return factory

    def __call__(self, constraint: Constraint) -> Transform:
        for cls in type(constraint).__mro__:
            if cls in self._factories:
                return self._factories[cls](constraint)
        raise NoBijectorError(constraint)


biject_to = ConstraintRegistry()

biject_to.register(constraints.real, lambda c: IdentityTransform())


@biject_to.register(constraints.real_vector)
def _biject_independent(c):
    try:
        base = biject_to(c.base_constraint)
    except NoBijectorError:
        raise NoBijectorError(c) from None  # name the constraint the caller asked about
    return IndependentTransform(base, c.reinterpreted_batch_ndims)


biject_to.register(constraints.positive, lambda c: ExpTransform())
biject_to.register(constraints.nonnegative, lambda c: ExpTransform())
biject_to.register(constraints.softplus_positive, lambda c: SoftplusTransform())
biject_to.register(constraints.greater_than, lambda c: LowerBoundTransform(c.lower_bound))
biject_to.register(constraints.less_than, lambda c: UpperBoundTransform(c.upper_bound))
biject_to.register(constraints.unit_interval, lambda c: SigmoidTransform())
biject_to.register(
    constraints.interval,
    lambda c: ComposeTransform([
        SigmoidTransform(),
        AffineTransform(c.lower_bound, anp.subtract(c.upper_bound, c.lower_bound),
                        domain=constraints.unit_interval),
    ]),
)
biject_to.register(constraints.simplex, lambda c: StickBreakingTransform())
biject_to.register(constraints.ordered_vector, lambda c: OrderedTransform())
biject_to.register(constraints.positive_ordered_vector, lambda c: PositiveOrderedTransform())
biject_to.register(constraints.sphere, lambda c: UnitVectorTransform())
biject_to.register(constraints.zero_sum, lambda c: ZeroSumTransform(c.event_dim))
biject_to.register(constraints.lower_cholesky, lambda c: LowerCholeskyTransform())
biject_to.register(constraints.softplus_lower_cholesky, lambda c: SoftplusLowerCholeskyTransform())
biject_to.register(constraints.corr_cholesky, lambda c: CorrCholeskyTransform())
biject_to.register(constraints.positive_definite, lambda c: PositiveDefiniteTransform())
biject_to.register(constraints.corr_matrix, lambda c: CorrMatrixTransform())
