"""render_model / model_graph: dependencies from staging, against models whose graphs are known."""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist


def eight_schools(sigma, y):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", len(sigma)):
        z = ppl.sample("z", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * z)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def test_edges_plates_and_kinds_of_eight_schools():
    graph = ppl.model_graph(eight_schools, (np.ones(8), np.zeros(8)))
    assert sorted(graph.edges) == sorted([("mu", "theta"), ("tau", "theta"), ("z", "theta"),
                                          ("mu", "y"), ("tau", "y"), ("z", "y")])
    assert graph.plates == {"school": (8, ["z", "theta", "y"])}
    kinds = {n: s["kind"] for n, s in graph.sites.items()}
    assert kinds == {"mu": "latent", "tau": "latent", "z": "latent", "theta": "deterministic",
                     "y": "observed"}
    assert 'subgraph "cluster_school"' in graph.source and '"mu" -> "y"' in graph.source


def test_a_dependency_only_through_indexing_and_scan_is_found_and_no_spurious_one():
    def model(groups, y):
        scale = ppl.sample("scale", dist.HalfNormal(1.0))
        unused = ppl.sample("unused", dist.Normal(0.0, 1.0))  # noqa: F841  (no child)
        effects = ppl.sample("effects", dist.Normal(0.0, scale).expand([3]).to_event(1))

        def step(level, y_t):
            level = ppl.sample("level", dist.Normal(level, 1.0))
            return level, None

        ppl.scan(step, effects[0], None, length=4)
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(effects[groups], 1.0), obs=y)

    graph = ppl.model_graph(model, (np.array([0, 2, 2]), np.zeros(3)))
    assert sorted(graph.edges) == [("effects", "level"), ("effects", "y"),
                                   ("scale", "effects")]


def test_render_distributions_labels_and_the_graphviz_fallback():
    graph = ppl.model_graph(eight_schools, (np.ones(8), np.zeros(8)),
                            render_distributions=True)
    assert "~ HalfCauchy" in graph.source
    drawn = ppl.render_model(eight_schools, (np.ones(8), np.zeros(8)))
    assert "digraph" in drawn.source
