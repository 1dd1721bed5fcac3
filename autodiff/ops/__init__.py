"""The primitive families.  Importing this package registers every primitive, with all its rules.

``REQUIRED_RULES`` lists the rules each primitive must hold, the Numba ``lower`` rule included;
:func:`check_registry` reports the ones that are missing (the registry-completeness test calls
it).  ``INTERNAL`` primitives are exempt: they exist only while a transformation runs and never
reach a graph that is compiled or evaluated (``reverse_input`` marks the inputs of a reverse-mode
trace).
"""

from __future__ import annotations

from autodiff.core import REGISTRY
from autodiff.ops import (  # noqa: F401  (imported for registration)
    control_flow,
    decompositions,
    elementwise,
    indexing,
    linalg,
    ode,
    ode_adjoint,
    ode_sensitivity,
    reductions,
    special,
    structural,
)

REQUIRED_RULES = ("impl", "shape_rule", "jvp", "vjp", "batch", "lower")
INTERNAL = {"reverse_input"}


def check_registry(rules: tuple[str, ...] = REQUIRED_RULES) -> list[str]:
    """``'primitive: rule'`` for every rule that a registered primitive lacks.

    Non-differentiable primitives need no ``jvp``/``vjp``.
    """
    missing = []
    for name, prim in sorted(REGISTRY.items()):
        if name in INTERNAL:
            continue
        for rule in rules:
            if prim.nondiff and rule in ("jvp", "vjp"):
                continue
            if getattr(prim, rule) is None:
                missing.append(f"{name}: {rule}")
    return missing
