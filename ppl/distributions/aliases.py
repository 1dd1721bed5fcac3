"""NumPyro's single-parameterisation classes: ``BernoulliLogits``, ``BernoulliProbs``,
``BinomialLogits``, ``BinomialProbs``, ``CategoricalLogits``, ``CategoricalProbs``,
``GeometricLogits``, ``GeometricProbs``, ``MultinomialLogits``, ``MultinomialProbs``,
``NegativeBinomialLogits``, ``NegativeBinomialProbs``, ``ZeroInflatedLogits`` and
``ZeroInflatedProbs``.

Each is a thin subclass of the family class with NumPyro's positional signature (the
parameter comes first, ``total_count`` after it), so ``isinstance(BernoulliLogits(0.0),
Bernoulli)`` holds and the maths is the family's.  Unlike NumPyro, ``Bernoulli(logits=...)``
returns a ``Bernoulli`` (not a ``BernoulliLogits``); both compute the same log mass.
"""

from __future__ import annotations

from typing import Any

from ppl import constraints
from ppl.distributions.base import Distribution
from ppl.distributions.categorical import Categorical, Multinomial
from ppl.distributions.discrete import (
    Bernoulli,
    Binomial,
    Geometric,
    NegativeBinomial,
    ZeroInflatedDistribution,
)

__all__ = [
    "BernoulliLogits",
    "BernoulliProbs",
    "BinomialLogits",
    "BinomialProbs",
    "CategoricalLogits",
    "CategoricalProbs",
    "GeometricLogits",
    "GeometricProbs",
    "MultinomialLogits",
    "MultinomialProbs",
    "NegativeBinomialLogits",
    "NegativeBinomialProbs",
    "ZeroInflatedLogits",
    "ZeroInflatedProbs",
]


class BernoulliLogits(Bernoulli):
    """``Bernoulli(logits=logits)``."""

    arg_constraints = {"logits": constraints.real}

    def __init__(self, logits: Any, *, validate_args: bool | None = None) -> None:
        super().__init__(logits=logits, validate_args=validate_args)


class BernoulliProbs(Bernoulli):
    """``Bernoulli(probs=probs)``."""

    arg_constraints = {"probs": constraints.unit_interval}

    def __init__(self, probs: Any, *, validate_args: bool | None = None) -> None:
        super().__init__(probs=probs, validate_args=validate_args)


class BinomialLogits(Binomial):
    """``Binomial(total_count, logits=logits)``."""

    arg_constraints = {"logits": constraints.real,
                       "total_count": constraints.nonnegative_integer}

    def __init__(self, logits: Any, total_count: Any = 1, *,
                 validate_args: bool | None = None) -> None:
        super().__init__(total_count, logits=logits, validate_args=validate_args)


class BinomialProbs(Binomial):
    """``Binomial(total_count, probs=probs)``."""

    arg_constraints = {"probs": constraints.unit_interval,
                       "total_count": constraints.nonnegative_integer}

    def __init__(self, probs: Any, total_count: Any = 1, *,
                 validate_args: bool | None = None) -> None:
        super().__init__(total_count, probs=probs, validate_args=validate_args)


class CategoricalLogits(Categorical):
    """``Categorical(logits=logits)``."""

    arg_constraints = {"logits": constraints.real_vector}

    def __init__(self, logits: Any, *, validate_args: bool | None = None) -> None:
        super().__init__(logits=logits, validate_args=validate_args)


class CategoricalProbs(Categorical):
    """``Categorical(probs=probs)``."""

    arg_constraints = {"probs": constraints.simplex}

    def __init__(self, probs: Any, *, validate_args: bool | None = None) -> None:
        super().__init__(probs=probs, validate_args=validate_args)


class GeometricLogits(Geometric):
    """``Geometric(logits=logits)``."""

    arg_constraints = {"logits": constraints.real}

    def __init__(self, logits: Any, *, validate_args: bool | None = None) -> None:
        super().__init__(logits=logits, validate_args=validate_args)


class GeometricProbs(Geometric):
    """``Geometric(probs=probs)``."""

    arg_constraints = {"probs": constraints.unit_interval}

    def __init__(self, probs: Any, *, validate_args: bool | None = None) -> None:
        super().__init__(probs=probs, validate_args=validate_args)


class MultinomialLogits(Multinomial):
    """``Multinomial(total_count, logits=logits)``; ``total_count_max`` is accepted for
    NumPyro compatibility (NumPyro needs it under JIT; sampling here is eager NumPy)."""

    arg_constraints = {"logits": constraints.real_vector,
                       "total_count": constraints.nonnegative_integer}

    def __init__(self, logits: Any, total_count: Any = 1, *,
                 total_count_max: int | None = None, validate_args: bool | None = None) -> None:
        self.total_count_max = total_count_max
        super().__init__(total_count, logits=logits, validate_args=validate_args)


class MultinomialProbs(Multinomial):
    """``Multinomial(total_count, probs=probs)``; ``total_count_max`` as in
    :class:`MultinomialLogits`."""

    arg_constraints = {"probs": constraints.simplex,
                       "total_count": constraints.nonnegative_integer}

    def __init__(self, probs: Any, total_count: Any = 1, *,
                 total_count_max: int | None = None, validate_args: bool | None = None) -> None:
        self.total_count_max = total_count_max
        super().__init__(total_count, probs=probs, validate_args=validate_args)


class NegativeBinomialLogits(NegativeBinomial):
    """``NegativeBinomial(total_count, logits=logits)``."""

    arg_constraints = {"total_count": constraints.positive, "logits": constraints.real}

    def __init__(self, total_count: Any, logits: Any, *,
                 validate_args: bool | None = None) -> None:
        super().__init__(total_count, logits=logits, validate_args=validate_args)


class NegativeBinomialProbs(NegativeBinomial):
    """``NegativeBinomial(total_count, probs=probs)``."""

    arg_constraints = {"total_count": constraints.positive, "probs": constraints.unit_interval}

    def __init__(self, total_count: Any, probs: Any, *, validate_args: bool | None = None) -> None:
        super().__init__(total_count, probs=probs, validate_args=validate_args)


class ZeroInflatedLogits(ZeroInflatedDistribution):
    """``ZeroInflatedDistribution(base_dist, gate_logits=gate_logits)``."""

    arg_constraints = {"gate_logits": constraints.real}

    def __init__(self, base_dist: Distribution, gate_logits: Any, *,
                 validate_args: bool | None = None) -> None:
        super().__init__(base_dist, gate_logits=gate_logits, validate_args=validate_args)


class ZeroInflatedProbs(ZeroInflatedDistribution):
    """``ZeroInflatedDistribution(base_dist, gate=gate)``."""

    arg_constraints = {"gate": constraints.unit_interval}

    def __init__(self, base_dist: Distribution, gate: Any, *,
                 validate_args: bool | None = None) -> None:
        super().__init__(base_dist, gate=gate, validate_args=validate_args)
