"""The modelling language: primitives, effect handlers, distributions, constraints, transforms.

>>> import ppl
>>> from ppl import dist, handlers
>>> def model():
...     return ppl.sample("x", dist.Normal(0.0, 1.0))
>>> x = handlers.seed(model, 0)()
"""

from ppl import constraints, gp, handlers, transforms
from ppl import distributions as dist
from ppl.control_flow import scan
from ppl.distributions import enable_validation
from ppl.primitives import deterministic, factor, param, plate, sample, subsample
from ppl.render import model_graph, render_model
from ppl.transforms import biject_to

__all__ = [
    "biject_to",
    "constraints",
    "deterministic",
    "dist",
    "enable_validation",
    "factor",
    "gp",
    "handlers",
    "model_graph",
    "param",
    "plate",
    "render_model",
    "sample",
    "scan",
    "subsample",
    "transforms",
]
