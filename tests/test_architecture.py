"""The four packages import each other in one direction only: kernels <- autodiff <- ppl <- inference."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWED = {
    "kernels": set(),
    "autodiff": {"kernels"},
    "ppl": {"autodiff", "kernels"},
    "inference": {"autodiff", "kernels", "ppl"},
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
