"""``jit``: stage a function once per input signature and run it as compiled Numba code.

>>> import numpy as np
>>> import autodiff, autodiff.numpy as anp
>>> f = autodiff.jit(lambda x: anp.sum(anp.exp(x) * 2.0))
>>> float(f(np.zeros(3)))
6.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from autodiff.core import get_aval
from autodiff.staging import make_graph
from autodiff.tree import tree_flatten, tree_unflatten


def jit(fn: Callable, static_argnums: int | Sequence[int] = ()) -> Callable:
    """Compile ``fn`` with Numba, once per signature (shapes, dtypes, pytree structure and the
    values of the ``static_argnums`` arguments).  ``jit(value_and_grad(f))`` and
    ``jit(vmap(f))`` compile the transformed function."""
    from autodiff.codegen import compile_graph

    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    cache: dict[Any, tuple[Callable, Any]] = {}

    def compiled(*args: Any) -> Any:
        dynamic = tuple(a for i, a in enumerate(args) if i not in static)
        static_vals = tuple((i, args[i]) for i in static)
        leaves, in_tree = tree_flatten(dynamic)
        key = (in_tree, static_vals, tuple(get_aval(x) for x in leaves))
        if key not in cache:
            out_tree = []

            def flat_fn(*dyn):
                it = iter(dyn)
                full = [args[i] if i in static else next(it) for i in range(len(args))]
                out = fn(*full)
                flat, tree = tree_flatten(out)
                out_tree.append(tree)
                return out

            graph = make_graph(flat_fn)(*dynamic)
            cache[key] = (compile_graph(graph), out_tree[0])
        run, out_tree = cache[key]
        return tree_unflatten(out_tree, run(*leaves))

    compiled.__wrapped__ = fn
    return compiled
