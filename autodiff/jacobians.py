"""Jacobians and Hessians, built from ``jvp``/``vjp`` and ``vmap`` over a basis.

``jacfwd`` pushes the standard basis of the inputs forward (one JVP per input entry, batched);
``jacrev`` pulls the standard basis of the outputs back (one VJP per output entry, batched).
``hessian = jacfwd(jacrev(f))``: forward-over-reverse, the cheapest way to a dense Hessian.
The result for input leaf ``j`` and output leaf ``i`` has shape ``out_i.shape + in_j.shape``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autodiff.batching import vmap
from autodiff.core import get_aval
from autodiff.forward import jvp_flat
from autodiff.reverse import _check_float, vjp_flat
from autodiff.tree import tree_flatten, tree_unflatten


def _partial(fn: Callable, args: tuple, argnums: tuple[int, ...]):
    def partial_fn(*diff_args):
        full = list(args)
        for n, a in zip(argnums, diff_args):
            full[n] = a
        return fn(*full)

    return partial_fn


def _flat(fn: Callable, in_tree) -> tuple[Callable, list]:
    out_tree = []

    def flat_fn(*leaves):
        out = fn(*tree_unflatten(in_tree, list(leaves)))
        flat, tree = tree_flatten(out)
        out_tree.append(tree)
        return flat

    return flat_fn, out_tree


def _assemble(blocks: list[list[Any]], out_tree, in_tree, single_in: bool) -> Any:
    """``blocks[i][j]`` (output leaf i, input leaf j) as a pytree: outputs outermost."""
    rows = [tree_unflatten(in_tree, row) for row in blocks]
    if single_in:
        rows = [row[0] for row in rows]
    return tree_unflatten(out_tree, rows)


def jacfwd(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of ``fn`` by forward mode (efficient when inputs are few).

    >>> import autodiff.numpy as anp
    >>> jacfwd(lambda x: x ** 2)(anp.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def jac(*args):
        diff_args = tuple(args[n] for n in nums)
        leaves, in_tree = tree_flatten(diff_args)
        for leaf in leaves:
            _check_float(leaf, "jacfwd")
        leaves = [np.asarray(x, float) if not hasattr(x, "aval") else x for x in leaves]
        flat_fn, out_tree = _flat(_partial(fn, args, nums), in_tree)
        sizes = [get_aval(x).size for x in leaves]
        total = sum(sizes)
        basis = np.eye(total)
        offsets = np.cumsum([0, *sizes])

        def push(e):
            tangents = [
                e[offsets[j] : offsets[j + 1]].reshape(get_aval(x).shape)
                for j, x in enumerate(leaves)
            ]
            return jvp_flat(flat_fn, list(leaves), tangents)[1]

        cols = vmap(push)(basis)  # per output leaf: (total, *out.shape)
        from autodiff.ops.indexing import slice_axis
        from autodiff.ops.structural import moveaxis, reshape

        blocks = []
        for col in cols:
            out_shape = get_aval(col).shape[1:]
            moved = moveaxis(col, 0, -1) if out_shape else col
            row = []
            for j, x in enumerate(leaves):
                piece = slice_axis(moved, len(out_shape), offsets[j], offsets[j + 1])
                row.append(reshape(piece, (*out_shape, *get_aval(x).shape)))
            blocks.append(row)
        return _assemble(blocks, out_tree[0], in_tree, single)

    return jac


def jacrev(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of ``fn`` by reverse mode (efficient when outputs are few).

    >>> import autodiff.numpy as anp
    >>> jacrev(lambda x: anp.sum(x ** 2))(anp.array([1.0, 2.0]))
    array([2., 4.])
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def jac(*args):
        diff_args = tuple(args[n] for n in nums)
        leaves, in_tree = tree_flatten(diff_args)
        for leaf in leaves:
            _check_float(leaf, "jacrev")
        flat_fn, out_tree = _flat(_partial(fn, args, nums), in_tree)
        outs, pullback = vjp_flat(flat_fn, list(leaves))
        sizes = [get_aval(o).size for o in outs]
        total = sum(sizes)
        offsets = np.cumsum([0, *sizes])
        from autodiff.ops.structural import reshape

        def pull(e):
            cts = [
                e[offsets[i] : offsets[i + 1]].reshape(get_aval(o).shape)
                for i, o in enumerate(outs)
            ]
            return pullback(*cts)

        rows = vmap(pull)(np.eye(total))  # per input leaf: (total, *in.shape)
        blocks = []
        for i, o in enumerate(outs):
            out_shape = get_aval(o).shape
            row = []
            for j, x in enumerate(leaves):
                piece = rows[j][offsets[i] : offsets[i + 1]]
                row.append(reshape(piece, (*out_shape, *get_aval(x).shape)))
            blocks.append(row)
        return _assemble(blocks, out_tree[0], in_tree, single)

    return jac


def hessian(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Hessian of a scalar function: ``jacfwd(jacrev(fn))`` (forward-over-reverse).

    >>> import autodiff.numpy as anp
    >>> hessian(lambda x: anp.sum(x ** 3))(anp.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacrev(fn, argnums), argnums)
