"""The modelling language: primitives, effect handlers, distributions, constraints, transforms.

>>> import ppl
>>> from ppl import dist, handlers
>>> def model():
...     return ppl.sample("x", dist.Normal(0.0, 1.0))
>>> x = handlers.seed(model, 0)()
"""

from importlib.util import find_spec as _find_spec

from ppl import handlers
from ppl.primitives import deterministic, factor, param, plate, sample, subsample

__all__ = ["deterministic", "factor", "handlers", "param", "plate", "sample", "subsample"]

# Written by other authors; imported when present (errors inside them are not hidden).
if _find_spec("ppl.constraints") is not None:
    from ppl import constraints

    __all__ += ["constraints"]
if _find_spec("ppl.transforms") is not None:
    from ppl import transforms
    from ppl.transforms import biject_to

    __all__ += ["biject_to", "transforms"]
if _find_spec("ppl.distributions") is not None:
    from ppl import distributions as dist

    __all__ += ["dist"]
    if hasattr(dist, "enable_validation"):
        from ppl.distributions import enable_validation

        __all__ += ["enable_validation"]
