"""Pytrees: nested tuples, lists and dicts of arrays, flattened to a list of leaves and back.

Transformations accept and return pytrees, as JAX users expect: ``grad(f)(params)`` with
``params = {"w": w, "b": b}`` returns a dict of the same structure.  ``None`` is an empty node.

>>> leaves, tree = tree_flatten({"b": (1.0, 2.0), "a": [3.0]})
>>> leaves
[3.0, 1.0, 2.0]
>>> tree_unflatten(tree, [30.0, 10.0, 20.0])
{'a': [30.0], 'b': (10.0, 20.0)}
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TreeDef:
    """The structure of a pytree: a node kind, its static data and its children's structures."""

    kind: type | None  # None marks a leaf
    data: Hashable = None  # dict keys, namedtuple class, ...
    children: tuple[TreeDef, ...] = ()

    @property
    def num_leaves(self) -> int:
        if self.kind is None:
            return 1
        return sum(child.num_leaves for child in self.children)

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        inner = ", ".join(map(repr, self.children))
        if self.kind is dict:
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.data, self.children))
            return "{" + inner + "}"
        return f"{self.kind.__name__}({inner})"


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """Return the leaves of ``tree`` (dict entries in sorted key order) and its structure."""
    leaves: list[Any] = []
    treedef = _flatten(tree, leaves)
    return leaves, treedef


def _flatten(tree: Any, leaves: list[Any]) -> TreeDef:
    if tree is None:
        return TreeDef(type(None))
    if isinstance(tree, dict):
        keys = tuple(sorted(tree))
        return TreeDef(dict, keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if _is_namedtuple(tree):
        return TreeDef(tuple, type(tree), tuple(_flatten(x, leaves) for x in tree))
    if isinstance(tree, (tuple, list)):
        return TreeDef(type(tree), None, tuple(_flatten(x, leaves) for x in tree))
    leaves.append(tree)
    return TreeDef(None)


def tree_unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``."""
    iterator = iter(leaves)
    out = _unflatten(treedef, iterator)
    if next(iterator, _SENTINEL) is not _SENTINEL:
        raise ValueError(f"too many leaves for the tree structure {treedef}")
    return out


_SENTINEL = object()


def _unflatten(treedef: TreeDef, leaves: Any) -> Any:
    if treedef.kind is None:
        leaf = next(leaves, _SENTINEL)
        if leaf is _SENTINEL:
            raise ValueError(f"too few leaves for the tree structure {treedef}")
        return leaf
    if treedef.kind is type(None):
        return None
    children = [_unflatten(child, leaves) for child in treedef.children]
    if treedef.kind is dict:
        return dict(zip(treedef.data, children))
    if treedef.data is not None:  # namedtuple
        return treedef.data(*children)
    return treedef.kind(children)


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``fn`` leaf-wise to ``tree`` and the trees in ``rest`` (which share its structure)."""
    leaves, treedef = tree_flatten(tree)
    others = [tree_flatten(r)[0] for r in rest]
    return tree_unflatten(treedef, [fn(*xs) for xs in zip(leaves, *others)])


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree``."""
    return tree_flatten(tree)[0]
