"""The import structure: the four packages import each other in one direction only
(kernels <- autodiff <- ppl <- inference), and the modules inside a package import each other
without circles, except the few listed in ACCEPTED_CIRCLES with the reason."""

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWED = {
    "kernels": set(),
    "autodiff": {"kernels"},
    "ppl": {"autodiff", "kernels"},
    "inference": {"autodiff", "kernels", "ppl"},
}

#: Circles of modules that import each other (at module level or inside functions), accepted
#: with the reason. Any other circle fails the test: a module that needs another's names and is
#: needed by it holds one fact in two places.
ACCEPTED_CIRCLES = {
    # Derivative rules are written with the operations of other families (unbroadcasting a
    # product's gradient needs `reduce_sum`, the transpose of `reduce_sum` is `broadcast_to`,
    # a gather's gradient is a scatter-add...), and batching rules re-bind primitives of every
    # family. The families import each other's functions only inside rules, at call time, so
    # importing them is one way: `autodiff.ops` imports the families in a fixed order.
    frozenset({"autodiff.batching", "autodiff.ops._rules", "autodiff.ops.elementwise",
               "autodiff.ops.indexing", "autodiff.ops.reductions", "autodiff.ops.structural"}),
}


def _imported_roots(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_one_way(package):
    bad = []
    for path in (ROOT / package).rglob("*.py"):
        for lineno, root in _imported_roots(path):
            if root in ALLOWED and root != package and root not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {root}")
    assert not bad, "imports against kernels <- autodiff <- ppl <- inference:\n" + "\n".join(bad)


def test_checker_sees_a_back_edge(tmp_path):
    """The walker itself works: a file importing `inference` from `kernels` is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("import inference.mcmc\nfrom ppl import dist\n")
    assert [root for _, root in _imported_roots(bad)] == ["inference", "ppl"]


def _module_graph(root: pathlib.Path) -> dict[str, set[str]]:
    """Module -> the modules of the four packages it imports (anywhere in its body)."""
    modules = {}
    for package in ALLOWED:
        for path in (root / package).rglob("*.py"):
            if path.name != "__init__.py":
                modules[".".join(path.relative_to(root).with_suffix("").parts)] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(name.split(".")[: -node.level] + ([base] if base else []))
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_no_import_circles_inside_a_package_but_the_accepted_ones():
    found = set(_circles(_module_graph(ROOT)))
    new = [" <-> ".join(sorted(c)) for c in found - ACCEPTED_CIRCLES]
    assert not new, "modules that import each other in a circle:\n" + "\n".join(new)
    gone = [" <-> ".join(sorted(c)) for c in ACCEPTED_CIRCLES - found]
    assert not gone, "accepted circles that no longer exist (remove them):\n" + "\n".join(gone)


def test_circle_finder_sees_a_function_level_circle(tmp_path):
    package = tmp_path / "kernels"
    package.mkdir()
    (package / "a.py").write_text("def f():\n    from kernels.b import g\n")
    (package / "b.py").write_text("from kernels import c\n")
    (package / "c.py").write_text("from kernels.a import f\n")
    (package / "d.py").write_text("import kernels.a\n")
    for other in ("autodiff", "ppl", "inference"):
        (tmp_path / other).mkdir()
    assert _circles(_module_graph(tmp_path)) == [frozenset({"kernels.a", "kernels.b", "kernels.c"})]
