"""kernels.entries: the NUTS transition and the step-size search, called by address.

The oracle is the direct call of the same kernel: through the entry (arguments and results
passed in the int64/float64 frames, arrays viewed in place) every output, the updated position,
gradient and random stream must be the same bits, for both metrics and through divergences.
And an entry that does not run to its end must stop its chain with a message, never let the
driver go on with stale results.
"""

import numpy as np
import pytest
from numba import cfunc

from inference import MCMC, NUTS
from kernels import entries, nuts, rng
from kernels import sampler as S
from kernels.adaptation import init_step_size
from kernels.integrators import DENSE, DIAG, cholesky_lower
from kernels.jit import JIT_DISABLED
from kernels.model_abi import evaluate
from tests.kernels.test_nuts import CORR3, _gauss_data, gaussian_precision, normal_with_hole

pytestmark = pytest.mark.skipif(JIT_DISABLED, reason="entries are C functions")

PREC = np.linalg.inv(CORR3)
CASES = {  # model, data, step size (large enough for divergences in the model with a hole)
    "gaussian": (gaussian_precision, _gauss_data([0.5, -1.0, 0.0], PREC), 0.4),
    "hole": (normal_with_hole, np.array([3.0, 0.6]), 1.3),
}


def _metric(kind: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inv_diag = np.linspace(0.5, 1.5, d)
    inv_dense = CORR3[:d, :d].copy() if kind == DENSE else np.zeros((d, d))
    chol = np.zeros((d, d))
    if kind == DENSE:
        assert cholesky_lower(inv_dense, chol)
    return inv_diag, inv_dense, chol


@pytest.mark.parametrize("kind", [DIAG, DENSE])
@pytest.mark.parametrize("case", sorted(CASES))
def test_nuts_through_its_entry_gives_the_direct_call_bits(case, kind):
    model, data, eps = CASES[case]
    d, max_depth = 3, 6
    metric = _metric(kind, d)
    frames, entry = entries.entry_frames(), entries.entry_address("nuts")
    streams = [rng.seed_streams(7, 1)[0] for _ in range(2)]
    q = [np.array([0.2, -0.3, 0.1]) for _ in range(2)]
    g = [np.empty(d), np.empty(d)]
    lp = [evaluate(model.address, data.ctypes.data, q[i], g[i])[1] for i in range(2)]
    spaces = [nuts.nuts_workspace(d, max_depth) for _ in range(2)]
    divergences = 0
    for _ in range(40):
        args = [(model.address, data.ctypes.data, kind, *metric, q[i], g[i], lp[i], eps,
                 max_depth, 1000.0, streams[i], *spaces[i]) for i in range(2)]
        direct = nuts.nuts_transition(*args[0])
        done, *through = entries.nuts_step(entry, *frames, *args[1])
        assert done
        assert tuple(through) == tuple(direct)
        assert np.array_equal(q[0], q[1]) and np.array_equal(g[0], g[1])
        assert np.array_equal(streams[0], streams[1])
        lp = [direct[0], through[0]]
        divergences += direct[4]
    if case == "hole":
        assert divergences > 0  # the divergent path went through the frames too


@pytest.mark.parametrize("kind", [DIAG, DENSE])
def test_step_size_search_through_its_entry_gives_the_direct_call_bits(kind):
    model, data, _ = CASES["gaussian"]
    d = 3
    metric = _metric(kind, d)
    frames, entry = entries.entry_frames(), entries.entry_address("init_step_size")
    q = np.array([0.2, -0.3, 0.1])
    g = np.empty(d)
    _, lp = evaluate(model.address, data.ctypes.data, q, g)
    for eps in (1e-3, 1.0, 50.0):
        streams = [rng.seed_streams(3, 1)[0] for _ in range(2)]
        vec = [np.zeros((4, d)), np.zeros((4, d))]
        args = [(model.address, data.ctypes.data, kind, *metric, q, g, lp, eps, streams[i],
                 vec[i]) for i in range(2)]
        assert entries.init_step(entry, *frames, *args[1]) == init_step_size(*args[0])
        assert np.array_equal(streams[0], streams[1])


@cfunc(entries.ENTRY_SIG)
def _returns_early(ints, floats):
    """An entry that stops before its end, as one does when its kernel raises."""
    return


def test_an_entry_that_does_not_finish_stops_the_chain_with_a_message(monkeypatch):
    real_init = S.entry_addresses()[1]
    monkeypatch.setattr(S, "entry_addresses", lambda: (np.int64(_returns_early.address),
                                                       real_init))

    def model():
        import ppl
        import ppl.distributions as dist

        ppl.sample("x", dist.Normal(0.0, 1.0))

    mcmc = MCMC(NUTS(model), num_warmup=150, num_samples=5, num_chains=2, progress_bar=False)
    with pytest.raises(S.SamplerError, match="NUTS transition or step-size search raised") as err:
        mcmc.run(0)
    assert "adaptation" not in str(err.value)  # not the advice for a failed adaptation
