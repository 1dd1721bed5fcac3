"""The sampler's first compile split over two processes (kernels.precompile).

Each check runs in fresh Python processes on an empty temporary Numba cache, because what is
tested is what happens on a machine's first run:

* the signatures declared beside the kernels (kernels.jit.signature) are the ones the driver
  calls its kernels with (otherwise the driver would compile every kernel again beside the
  precompiled ones, and each dispatcher would end up with two signatures);
* the helper's kernels and entries are loaded from the cache the helper wrote, not compiled
  again;
* the two processes never compile the same function at the same time (Numba's per-function
  cache index is not safe for two processes adding entries at once), and the helper compiles
  nothing a model kernel also calls;
* ``driver_is_cached`` tells a fresh cache from a filled one without loading anything;
* a run that fails while the model compiles stops the helper and shows the model's error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kernels import precompile as P

pytestmark = pytest.mark.slow

_FIRST_RUN = """
import json
from kernels import precompile as P
from kernels.jit import DECLARED
from kernels.entries import ENTRIES, ON_DEMAND
before = P.driver_is_cached()
import ppl, ppl.distributions as dist
from inference import MCMC, NUTS

def model():
    ppl.sample("x", dist.Normal(0.0, 1.0))

mcmc = MCMC(NUTS(model), num_warmup=30, num_samples=30, num_chains=2, progress_bar=False)
mcmc.run(0)
names = (*P.SHARED_KERNELS, *P.HELPER_KERNELS, *P.HELPER_ENTRIES, *P.LOCAL_KERNELS, P.DRIVER)
sigs = {n: P.signature_of(n) for n in names}
kernel = {n: DECLARED[n].kernel for n in names}
print(json.dumps({
    "before": before,
    "after": P.driver_is_cached(),
    "mismatched": [n for n in names if kernel[n].signatures != [sigs[n]]],
    "helper_loaded": [n for n in P.HELPER_KERNELS if kernel[n]._cache_hits[sigs[n]] == 1],
    "entries_loaded": [n for n in P.HELPER_ENTRIES if kernel[n]._cache_hits[sigs[n]] == 1],
    "on_demand_compiled": [n for n in ENTRIES if n in ON_DEMAND and ENTRIES[n].signatures],
}))
"""

_SECOND_RUN = """
from kernels import precompile as P
print(P.driver_is_cached())
"""

_SHARE = """
import json, sys
import numba.core.compiler as compiler
from kernels import precompile as P

GROUPS = {
    "shared": lambda: P.compile_kernels(P.SHARED_KERNELS),
    "helper_kernels": lambda: P.compile_kernels(P.HELPER_KERNELS),
    "local": lambda: P.compile_kernels(P.LOCAL_KERNELS),
    "entries": lambda: P.compile_entries(P.HELPER_ENTRIES),
    "driver": lambda: P.compile_kernels((P.DRIVER,)),
}
*before, recorded = sys.argv[1:]
for group in before:
    GROUPS[group]()
compiled = set()
original = compiler.compile_extra

def recording(*args, **kwargs):
    compiled.add(args[2].__module__ + "." + args[2].__qualname__)
    return original(*args, **kwargs)

compiler.compile_extra = recording
GROUPS[recorded]()
# Numba's own overloads (np.empty's, say) are compiled in every process and never disk-cached
print(json.dumps(sorted(name for name in compiled if name.startswith("kernels."))))
"""


_ABANDONED_RUN = """
import json
from kernels import precompile as P
import ppl, ppl.distributions as dist
from inference import MCMC, NUTS

helpers = []
start = P._start_helper

def recording_start():
    helpers.append(start())
    return helpers[-1]

P._start_helper = recording_start

def broken():
    ppl.sample("x", dist.Normal(0.0, undefined_scale))  # NameError while the model compiles

try:
    MCMC(NUTS(broken), num_warmup=10, num_samples=10, progress_bar=False).run(0)
    error = None
except NameError as err:
    error = str(err)
print(json.dumps({"error": error, "started": helpers[0] is not None,
                  "helper_exit": helpers[0].poll() if helpers[0] else None}))
"""


def _python(code: str, cache: str, *args: str) -> str:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, CI="1")
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_a_first_run_uses_the_precompiled_kernels(tmp_path):
    result = json.loads(_python(_FIRST_RUN, str(tmp_path)))
    assert result["before"] is False and result["after"] is True
    assert result["mismatched"] == []  # every kernel has exactly the precompiled signature
    assert result["helper_loaded"] == list(P.HELPER_KERNELS)
    assert result["entries_loaded"] == list(P.HELPER_ENTRIES)
    # a default NUTS run neither compiles nor loads static HMC, low-rank or early-stop code
    assert result["on_demand_compiled"] == []
    assert _python(_SECOND_RUN, str(tmp_path)) == "True"  # a second process finds the driver


def test_the_two_processes_compile_disjoint_sets_of_functions(tmp_path):
    def compiled(cache: str, *groups: str) -> set[str]:
        """The kernels the last group compiles after the others, on the cache ``cache``."""
        os.makedirs(cache, exist_ok=True)
        return set(json.loads(_python(_SHARE, cache, *groups)))

    # each group is recorded on a cache that holds only what is surely compiled before it
    # starts, so a function that two concurrent groups both compile shows up in both sets:
    # the helper's kernels compile from its start (beside the shared kernels, the model and the
    # local kernels), its entries once the shared kernels are cached (beside the model, the
    # local kernels and the driver), and the driver once the helper's kernels are cached
    helper_kernels = compiled(f"{tmp_path}/a", "helper_kernels")
    shared = compiled(f"{tmp_path}/b", "shared")
    entries = compiled(f"{tmp_path}/b", "entries")
    local = compiled(f"{tmp_path}/c", "local")
    driver = compiled(f"{tmp_path}/a", "shared", "local", "driver")
    # (LOCAL_KERNELS may be empty: static HMC is compiled on demand, kernels.entries.ON_DEMAND)
    assert helper_kernels and shared and entries and driver
    assert helper_kernels.isdisjoint(shared | local)
    assert entries.isdisjoint(local | driver)
    # a model kernel (compiled by the calling process while the helper runs) calls kernels of
    # kernels.cached_numpy, special, graph_ops, blas and pointers: none may be the helper's
    helper_modules = {name.rsplit(".", 1)[0] for name in helper_kernels | entries}
    assert helper_modules <= {"kernels.nuts_transition", "kernels.stan_adaptation",
                              "kernels.fisher_adaptation", "kernels.step_size"}, helper_modules


def test_an_abandoned_first_run_leaves_no_helper_behind(tmp_path):
    result = json.loads(_python(_ABANDONED_RUN, str(tmp_path)))
    assert "undefined_scale" in result["error"]  # the model's own error reaches the user
    assert result["started"] is True
    assert result["helper_exit"] is not None  # the helper was stopped, not left running


_SVI_FIRST_RUN = """
import json
import numpy as np
from kernels import precompile as P
from kernels.jit import DECLARED
before = P.is_cached("svi_steps")
import ppl, ppl.distributions as dist
from ppl import constraints
from inference import SVI, Trace_ELBO, optim

def model():
    ppl.sample("x", dist.Normal(0.0, 1.0))

def guide():
    loc = ppl.param("loc", 0.0)
    ppl.sample("x", dist.Normal(loc, ppl.param("scale", 1.0, constraint=constraints.positive)))

result = SVI(model, guide, optim.Adam(0.1), Trace_ELBO()).run(0, 50, progress_bar=False)
kernel = DECLARED["svi_steps"].kernel
sig = P.signature_of("svi_steps")
print(json.dumps({"before": before, "after": P.is_cached("svi_steps"),
                  "signatures_match": kernel.signatures == [sig],
                  "loaded": kernel._cache_hits[sig] == 1,
                  "losses": result.losses.tolist()}))
"""


def test_svi_compiles_its_step_loop_in_a_helper_and_loads_it(tmp_path):
    """The declared signature is the one SVI calls the loop with, the helper's compile is
    loaded from the cache (not compiled again), and the losses are those of a run without the
    helper."""
    parallel = json.loads(_python(_SVI_FIRST_RUN, str(tmp_path / "a")))
    assert not parallel["before"] and parallel["after"]
    assert parallel["signatures_match"] and parallel["loaded"]
    os.environ["NUMBAYES_PARALLEL_COMPILE"] = "0"
    try:
        alone = json.loads(_python(_SVI_FIRST_RUN, str(tmp_path / "b")))
    finally:
        del os.environ["NUMBAYES_PARALLEL_COMPILE"]
    assert not alone["loaded"] and alone["losses"] == parallel["losses"]
