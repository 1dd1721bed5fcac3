"""The warning classes of :mod:`inference`, in a module of their own.

:class:`SamplingWarning` is raised by :mod:`inference.mcmc` (divergences, tree-depth hits, an
interrupted run, chains whose adaptation failed while others completed) and subclassed by :mod:`inference.resources` (a run that would fill most of
the memory). It lives here, below both, so that neither imports the other; it derives from
``UserWarning`` so that Python shows it by default (``ResourceWarning``, the standard class
for resources, is ignored unless the interpreter runs in development mode).
"""

from __future__ import annotations

__all__ = ["SamplingWarning"]


class SamplingWarning(UserWarning):
    """Divergences, maximum tree depth hits, an interrupted run, failed chains left out of
    the results, or a run near the memory limit."""
