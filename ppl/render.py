r"""``ppl.render_model``: draw a model as a graph of its sites, plates and dependencies.

The dependencies are found by staging, not by reading the code: the model runs once with every
latent site's value a graph input (:func:`autodiff.make_graph`), and a site depends on another
if its log density (for a deterministic site, its value) reads that site's input. So a
dependency through any computation -- indexing, control flow, a ``ppl.scan`` body -- is found,
and a parameter that only looks related is not.

Latent sites are drawn as ellipses, observed sites as filled ellipses, deterministic sites as
boxes, plates as labelled frames (``name (size)``). The result is a ``graphviz.Digraph`` when
the ``graphviz`` Python package is installed (``pip install numbayes[render]``; showing it
needs the Graphviz binaries too), and otherwise a :class:`ModelGraph` holding the DOT source,
which any Graphviz viewer renders.

>>> import numpy as np
>>> import ppl
>>> from ppl import dist
>>> def model(y):
...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
...     sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
...     with ppl.plate("data", len(y)):
...         ppl.sample("y", dist.Normal(mu, sigma), obs=y)
>>> graph = ppl.model_graph(model, (np.zeros(3),))
>>> graph.edges
[('mu', 'y'), ('sigma', 'y')]
>>> graph.plates
{'data': (3, ['y'])}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import autodiff
from ppl import handlers
from ppl.runtime import site_log_prob

__all__ = ["ModelGraph", "model_graph", "render_model"]


@dataclass
class ModelGraph:
    """A model's sites, plates and dependencies, and their DOT source (``.source``)."""

    sites: dict[str, dict[str, Any]]
    edges: list[tuple[str, str]]
    plates: dict[str, tuple[int, list[str]]]
    render_distributions: bool = False
    source: str = field(init=False)

    def __post_init__(self) -> None:
        self.source = self._dot()

    def _node(self, name: str) -> str:
        site = self.sites[name]
        label = name
        if self.render_distributions and site.get("distribution"):
            label = f"{name}\\n~ {site['distribution']}"
        if site["kind"] == "deterministic":
            style = 'shape=box, style="rounded"'
        elif site["kind"] == "observed":
            style = 'shape=ellipse, style=filled, fillcolor="lightgray"'
        else:
            style = "shape=ellipse"
        return f'  "{name}" [label="{label}", {style}];'

    def _dot(self) -> str:
        lines = ["digraph model {", "  rankdir=TB;"]
        in_plate = {n for _, members in self.plates.values() for n in members}
        for name in self.sites:
            if name not in in_plate:
                lines.append(self._node(name))
        for plate, (size, members) in self.plates.items():
            lines.append(f'  subgraph "cluster_{plate}" {{')
            lines.append(f'    label="{plate} ({size})"; labeljust=r; labelloc=b;')
            lines += ["  " + self._node(n) for n in members]
            lines.append("  }")
        lines += [f'  "{a}" -> "{b}";' for a, b in self.edges]
        lines.append("}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return "```dot\n" + self.source + "\n```"


def model_graph(model: Callable, model_args: tuple = (), model_kwargs: dict | None = None,
                render_distributions: bool = False) -> ModelGraph:
    """The sites, plates and dependencies of ``model(*model_args, **model_kwargs)``."""
    model_kwargs = dict(model_kwargs or {})
    proto = handlers.trace(handlers.seed(model, 0)).get_trace(*model_args, **model_kwargs)
    sites = {n: s for n, s in proto.items() if s.type in ("sample", "deterministic")}
    latent = [n for n, s in sites.items() if s.type == "sample" and not s.is_observed]
    values = [np.asarray(sites[n].value) for n in latent]

    def outputs(*latent_values):
        substituted = handlers.substitute(model, data=dict(zip(latent, latent_values)))
        tr = handlers.trace(handlers.seed(substituted, 0)).get_trace(*model_args,
                                                                      **model_kwargs)
        return [autodiff.numpy.sum(site_log_prob(tr[n])) if tr[n].type == "sample"
                else autodiff.numpy.sum(autodiff.numpy.astype(tr[n].value, float))
                for n in sites]

    graph = autodiff.make_graph(outputs)(*values)
    reads = _inputs_read(graph)
    edges = []
    for name, out in zip(sites, graph.outputs):
        for parent in sorted(reads.get(id(out), ())):
            if latent[parent] != name:
                edges.append((latent[parent], name))
    kinds = {n: "deterministic" if s.type == "deterministic"
             else ("observed" if s.is_observed else "latent") for n, s in sites.items()}
    info = {n: {"kind": kinds[n],
                "distribution": type(s.fn).__name__ if s.type == "sample" else None}
            for n, s in sites.items()}
    plates: dict[str, tuple[int, list[str]]] = {}
    for name, site in sites.items():
        frames = site.cond_indep_stack
        if frames:  # draw a site in its innermost plate (nested frames are not drawn nested)
            frame = frames[0]
            plates.setdefault(frame.name, (frame.size, []))[1].append(name)
    return ModelGraph(info, edges, plates, render_distributions)


def _inputs_read(graph) -> dict[int, set[int]]:
    """For each variable (by id), the indices of the graph inputs it depends on."""
    depends: dict[int, set[int]] = {id(v): {k} for k, v in enumerate(graph.inputs)}
    for eqn in graph.eqns:
        needed: set[int] = set()
        for atom in eqn.inputs:
            needed |= depends.get(id(atom), set())
        for out in eqn.outputs:
            depends[id(out)] = needed
    return depends


def render_model(model: Callable, model_args: tuple = (), model_kwargs: dict | None = None,
                 render_distributions: bool = False, filename: str | None = None) -> Any:
    """Draw ``model``: a ``graphviz.Digraph`` if the ``graphviz`` package is installed, else
    the :class:`ModelGraph` (its ``.source`` is the DOT text). With ``filename``, the drawing is
    also written there (the format from its extension; needs the Graphviz binaries)."""
    graph = model_graph(model, model_args, model_kwargs, render_distributions)
    try:
        import graphviz
    except ImportError:
        if filename is not None:
            raise ImportError("render_model(filename=...) needs the graphviz package (pip "
                              "install numbayes[render]) and the Graphviz binaries; the DOT "
                              "source is in the returned object's .source") from None
        return graph
    drawing = graphviz.Source(graph.source)
    if filename is not None:
        stem, _, fmt = filename.rpartition(".")
        drawing.render(stem, format=fmt or "pdf", cleanup=True)
    return drawing
