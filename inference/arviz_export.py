"""Export MCMC results to ArviZ: xarray Datasets per group, assembled into a DataTree.

The export builds plain ``xarray.Dataset`` objects (dims ``("chain", "draw", *site_dims)``,
integer ``chain``/``draw`` coordinates) and assembles them with ``xarray.DataTree.from_dict``:
that tree is the native object of ArviZ 1.x, and ArviZ 0.23 (the newest on Python 3.11)
converts it with ``az.from_datatree``. :func:`to_arviz` returns whichever the installed ArviZ
uses; :func:`to_datatree` always returns the tree. This avoids ``az.from_dict``, whose
signature differs between ArviZ 0.x and 1.x.

Groups (ArviZ's schema):

* ``posterior`` -- every latent and deterministic site, constrained;
* ``sample_stats`` -- ``lp, acceptance_rate, step_size, tree_depth, n_steps, diverging,
  energy, energy_error, max_energy_error, reached_max_treedepth`` (the names ArviZ's plots and
  diagnostics read; ``diverging`` and ``reached_max_treedepth`` are booleans);
* ``log_likelihood`` -- pointwise log-likelihood, one variable per observed site named like
  it, so that ``az.loo`` / ``az.waic`` work;
* ``observed_data`` and ``constant_data`` -- without chain and draw dimensions;
* ``warmup_posterior`` and ``warmup_sample_stats`` -- the warmup draws and their statistics,
  when the run saved them (``MCMC(..., save_warmup=True)``).

Dimension names come from the model's ``dims`` (names of each site's leading axes, from
plates) and ``coords``; unnamed axes are called ``<site>_dim_<k>`` as ArviZ does.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import numpy as np

from inference.results import MCMCResults

__all__ = ["guide_to_arviz", "to_datatree", "to_arviz", "library_attrs"]

_SAMPLE_DIMS = ("chain", "draw")


def _stats_attrs(results, attrs: dict[str, Any]) -> dict[str, Any]:
    # the warmup each chain ran (fewer than num_warmup with early_stop_warmup)
    used = getattr(results, "warmup_used", None)
    if used is None:
        return attrs
    return {**attrs, "num_warmup": int(results.num_warmup),
            "warmup_used": [int(u) for u in used]}


def library_attrs() -> dict[str, str]:
    """The attributes ArviZ expects on every group (creation time, library, version)."""
    try:
        from importlib.metadata import version

        lib_version = version("numbayes")
    except Exception:  # not installed as a distribution (e.g. run from a checkout)
        lib_version = "unknown"
    return {
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "inference_library": "numbayes",
        "inference_library_version": lib_version,
    }


def _axis_names(name: str, ndim: int, dims: Mapping[str, Any]) -> list[str]:
    given = list(dims.get(name) or [])
    if len(given) > ndim:
        raise ValueError(
            f"model.dims[{name!r}] names {len(given)} axes {given} but the site has only "
            f"{ndim} (besides chain and draw)"
        )
    return [given[k] if k < len(given) and given[k] else f"{name}_dim_{k}" for k in range(ndim)]


def _dataset(
    values: Mapping[str, np.ndarray],
    leading: tuple[str, ...],
    dims: Mapping[str, Any],
    coords: Mapping[str, Any],
    attrs: dict[str, Any],
):
    import xarray as xr

    data_vars = {}
    sizes: dict[str, tuple[int, str]] = {}
    for name, value in values.items():
        arr = np.asarray(value)
        axes = [*leading, *_axis_names(name, arr.ndim - len(leading), dims)]
        for axis, size in zip(axes, arr.shape):
            if axis in sizes and sizes[axis][0] != size:
                raise ValueError(
                    f"dimension {axis!r} has size {sizes[axis][0]} in {sizes[axis][1]!r} but "
                    f"{size} in {name!r}; give the sites different dimension names in dims"
                )
            sizes.setdefault(axis, (size, name))
        data_vars[name] = (axes, arr)
    ds_coords = {}
    for axis, (size, _) in sizes.items():
        given = coords.get(axis)
        if given is not None and len(given) == size:
            ds_coords[axis] = np.asarray(given)
        else:
            ds_coords[axis] = np.arange(size)
    return xr.Dataset(data_vars, coords=ds_coords, attrs=dict(attrs))


def to_datatree(results: MCMCResults):
    """The results as an ``xarray.DataTree`` with ArviZ's groups (see the module docstring).

    Parameters
    ----------
    results : MCMCResults
        From :attr:`inference.mcmc.MCMC.results`.

    Returns
    -------
    xarray.DataTree
    """
    import xarray as xr

    model = results.model
    dims = dict(getattr(model, "dims", None) or {})
    coords = dict(getattr(model, "coords", None) or {})
    attrs = library_attrs()
    # the kept chains under their original indices (a failed chain leaves a gap, not a shift)
    chains = {"chain": results.chain_index}
    coords = {**coords, **chains}
    groups = {
        "posterior": _dataset(results.constrained(), _SAMPLE_DIMS, dims, coords, attrs),
        "sample_stats": _dataset(results.stats, _SAMPLE_DIMS, {}, chains,
                                 _stats_attrs(results, attrs)),
    }
    log_lik = results.log_likelihood()
    if log_lik:
        # a site's pointwise log-likelihood keeps its batch axes only (the event axes, e.g. a
        # MultivariateNormal's, are summed): they are the leading ones of the value's dims
        ll_dims = {k: list(dims.get(k) or [])[: np.ndim(v) - len(_SAMPLE_DIMS)]
                   for k, v in log_lik.items()}
        groups["log_likelihood"] = _dataset(log_lik, _SAMPLE_DIMS, ll_dims, coords, attrs)
    if results.warmup_draws is not None:
        groups["warmup_posterior"] = _dataset(
            results.warmup_constrained(), _SAMPLE_DIMS, dims, coords, attrs
        )
        groups["warmup_sample_stats"] = _dataset(results.warmup_stats, _SAMPLE_DIMS, {}, chains,
                                                 attrs)
    for group in ("observed_data", "constant_data"):
        values = dict(getattr(model, group, None) or {})
        if values:
            groups[group] = _dataset(values, (), dims, coords, attrs)
    return xr.DataTree.from_dict(groups)


def to_arviz(results: MCMCResults):
    """``arviz.InferenceData`` on ArviZ < 1 (via ``az.from_datatree``), the DataTree on 1.x."""
    return _for_installed_arviz(to_datatree(results))


def guide_to_arviz(model: Any, guide: Any, params: Mapping[str, Any], *args: Any,
                   num_samples: int = 1000, seed: int = 0, posterior_predictive: bool = True,
                   **kwargs: Any):
    """ArviZ groups from a fitted guide: ``num_samples`` guide draws as the posterior (one
    chain; latent and deterministic sites), the pointwise ``log_likelihood`` of the observed
    sites at each draw (for ``az.loo``), the ``posterior_predictive`` of the observed sites,
    and the ``observed_data``. What ``SVI.to_arviz`` returns.
    """
    import autodiff
    from inference.predictive import Predictive
    from ppl import handlers
    from ppl.model import site_dims_and_coords
    from ppl.runtime import site_log_prob

    rng = np.random.default_rng(seed)
    proto = handlers.trace(handlers.seed(model, rng)).get_trace(*args, **kwargs)
    draws = Predictive(model, guide=guide, params=dict(params),
                       num_samples=num_samples).guide_draws(rng, args, kwargs)
    latent = [n for n, s in proto.items() if s.type == "sample" and not s.is_observed]
    missing = [n for n in latent if n not in draws]
    if missing:
        raise ValueError(f"guide_to_arviz: the guide draws no values for the model's latent "
                         f"sites {missing}")
    observed = [n for n, s in proto.items() if s.type == "sample" and s.is_observed]
    kept = latent + [n for n, s in proto.items() if s.type == "deterministic"]

    def one_draw(*values):  # every latent given, observed sites at the data: nothing drawn
        substituted = handlers.substitute(model, data=dict(zip(latent, values)))
        tr = handlers.trace(substituted).get_trace(*args, **kwargs)
        return [tr[n].value for n in kept] + [site_log_prob(tr[n]) for n in observed]

    # vmap, not a plate: per-draw values broadcast through any code (x @ beta included)
    outs = autodiff.vmap(one_draw)(*[np.asarray(draws[n]) for n in latent])
    posterior, log_lik = {}, {}
    for name, value in zip(kept + observed, outs):
        one = proto[name].value if name in kept else np.zeros(proto[name].fn.batch_shape)
        value = np.broadcast_to(np.asarray(value), (num_samples, *np.shape(one)))
        (posterior if name in kept else log_lik)[name] = value[None]
    dims, coords = site_dims_and_coords(list(proto.values()))
    attrs = library_attrs()
    groups = {"posterior": _dataset(posterior, _SAMPLE_DIMS, dims, coords, attrs)}
    if log_lik:
        # a site's pointwise log-likelihood keeps its batch axes only (the event axes, e.g. a
        # MultivariateNormal's, are summed): they are the leading ones of the value's dims
        ll_dims = {k: list(dims.get(k) or [])[: np.ndim(v) - len(_SAMPLE_DIMS)]
                   for k, v in log_lik.items()}
        groups["log_likelihood"] = _dataset(log_lik, _SAMPLE_DIMS, ll_dims, coords, attrs)
    if posterior_predictive and observed:
        predicted = Predictive(model, posterior_samples=draws, return_sites=observed)(
            rng, *args, **kwargs)
        groups["posterior_predictive"] = _dataset(
            {n: v[None] for n, v in predicted.items()}, _SAMPLE_DIMS, dims, coords, attrs)
    if observed:
        groups["observed_data"] = _dataset(
            {n: np.asarray(proto[n].value) for n in observed}, (), dims, coords, attrs)
    import xarray as xr

    return _for_installed_arviz(xr.DataTree.from_dict(groups))


def _for_installed_arviz(tree: Any):
    import arviz as az

    major = int(str(az.__version__).split(".")[0])
    if major < 1:
        return az.from_datatree(tree)
    return tree
