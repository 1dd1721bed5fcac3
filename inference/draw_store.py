"""Streaming draws to disk: a zarr store written chunk by chunk through xarray.

``MCMC(..., store="run.zarr")`` appends each chunk of kept draws to the store as it is made,
instead of keeping them in memory, so a run's size is bounded by the disk. The store has
ArviZ's groups ``posterior`` (every latent and deterministic site, constrained, dims
``(chain, draw, *site_dims)`` named as :func:`inference.arviz_export.to_datatree` names them)
and ``sample_stats``; each chunk is appended along ``draw`` (``Dataset.to_zarr(append_dim=
"draw")``). Read it back with :func:`open_store` (an ``xarray.DataTree``; ArviZ 0.x
``az.from_zarr(path)`` reads the same store), or one group with
``xarray.open_zarr(path, group="posterior")``.

zarr is an optional dependency (``pip install numbayes[zarr]``); without it ``store=`` raises an
``ImportError`` saying so before sampling starts.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np

__all__ = ["DrawStore", "open_store", "require_zarr", "check_storage"]


def require_zarr() -> None:
    """Raise an ImportError with the fix if zarr is not installed."""
    try:
        import zarr  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "MCMC(..., store=...) streams the draws to a zarr store and needs the zarr package: "
            "pip install 'numbayes[zarr]' (or pip install zarr), or leave store=None to keep "
            "the draws in memory (draw_dtype='float32' halves their size)") from err


def check_storage(kernel: Any, draw_dtype: str, store: Any) -> tuple[str, Any]:
    """``MCMC``'s ``draw_dtype`` and ``store`` checked (errors name the option and the fix)."""
    if draw_dtype not in ("float64", "float32"):
        raise ValueError(f"draw_dtype must be 'float64' or 'float32', got {draw_dtype!r}")
    if store is not None:
        if not getattr(kernel, "many_chain", False):
            raise ValueError(f"store= streams the draws of many-chain kernels (ChEES); "
                             f"{type(kernel).__name__} keeps them in memory: use store=None")
        if not isinstance(store, (str, os.PathLike)):
            raise TypeError(f"store must be a path (str or os.PathLike) of a zarr store, got "
                            f"{type(store).__name__}")
        require_zarr()
    return str(draw_dtype), store


class DrawStore:
    """The zarr store of one run (written by :mod:`inference.many_chain`).

    Parameters
    ----------
    path : str or os.PathLike
        A new store (an existing one is overwritten).
    model : CompiledModelLike
        Its ``constrain``, ``dims`` and ``coords`` name the posterior's variables.
    """

    def __init__(self, path: str | os.PathLike, model: Any) -> None:
        require_zarr()
        self.path = os.fspath(path)
        self.model = model
        if os.path.isdir(self.path):  # a store of an earlier run: start afresh
            shutil.rmtree(self.path)

    def append(self, draws: np.ndarray, stats: dict[str, np.ndarray], first: int) -> None:
        """Append kept draws ``(chain, n, dim)`` (unconstrained) and their statistics
        ``(chain, n)``, whose draw indices start at ``first``."""
        from inference.arviz_export import _SAMPLE_DIMS, _dataset, library_attrs

        if draws.shape[1] == 0:
            return
        model = self.model
        dims = dict(getattr(model, "dims", None) or {})
        # unicode coordinates as Python strings: zarr 3 stores those as variable-length UTF-8,
        # which has a specification (fixed-width unicode has none and warns)
        coords = {k: np.asarray(v, dtype=object) if np.asarray(v).dtype.kind == "U" else v
                  for k, v in dict(getattr(model, "coords", None) or {}).items()}
        attrs = library_attrs()
        values = {k: np.asarray(v) for k, v in model.constrain(np.asarray(draws, float)).items()}
        if draws.dtype == np.float32:  # what was asked for is what is stored
            values = {k: v.astype(np.float32) if v.dtype == np.float64 else v
                      for k, v in values.items()}
        draw_index = {"draw": np.arange(first, first + draws.shape[1])}
        groups = {"posterior": _dataset(values, _SAMPLE_DIMS, dims, {**coords, **draw_index},
                                        attrs),
                  "sample_stats": _dataset(stats, _SAMPLE_DIMS, {}, draw_index, attrs)}
        for group, ds in groups.items():
            if first == 0:
                ds.to_zarr(self.path, group=group, mode="a", consolidated=False)
            else:
                ds.to_zarr(self.path, group=group, append_dim="draw", consolidated=False)


def open_store(path: str | os.PathLike) -> Any:
    """The store written by ``MCMC(..., store=path)`` as an ``xarray.DataTree`` with groups
    ``posterior`` and ``sample_stats`` (``arviz.from_datatree`` converts it on ArviZ 0.x)."""
    require_zarr()
    import xarray as xr

    return xr.DataTree.from_dict({group: xr.open_zarr(os.fspath(path), group=group,
                                                      consolidated=False)
                                  for group in ("posterior", "sample_stats")})
