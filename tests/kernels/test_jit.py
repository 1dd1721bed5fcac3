"""``kernels.jit.njit(borrow=True)``: kernels compiled without reference counting."""

from __future__ import annotations

import numpy as np
import pytest

from kernels import hmc_transition, integrators, metric, model_abi, nuts_transition, rng, step_size
from kernels.jit import JIT_DISABLED, njit

pytestmark = pytest.mark.skipif(JIT_DISABLED, reason="compile options need the JIT")

#: Every kernel a leapfrog step or a transition calls: dropping ``borrow=True`` from one of them
#: brings back reference counting on the hot path (several atomic operations per step).
HOT_PATH = [
    integrators.copy_into, integrators.leapfrog,
    metric.velocity, metric.kinetic_energy, metric.hamiltonian, metric.sample_momentum,
    rng.next_uint64, rng.uniform, rng.normal, rng.normal_fill, rng.exponential,
    nuts_transition.log_sum_exp, nuts_transition.nuts_transition,
    hmc_transition.hmc_transition, step_size.find_reasonable_step_size, model_abi.evaluate,
]


@pytest.mark.parametrize("kernel", HOT_PATH, ids=lambda k: k.py_func.__name__)
def test_hot_path_kernels_borrow_their_arrays(kernel):
    assert kernel.targetoptions.get("_nrt") is False


def test_a_borrowing_kernel_reads_and_writes_the_callers_arrays():
    @njit(borrow=True, cache=False)
    def scale_into(x, factor, out):
        for i in range(x.shape[0]):
            out[i] = factor * x[i]
        return out[0]

    x = np.arange(1.0, 5.0)
    out = np.zeros(4)
    assert scale_into(x, 2.5, out) == 2.5
    np.testing.assert_array_equal(out, 2.5 * x)


def test_a_borrowing_kernel_may_not_allocate():
    from numba.core.errors import TypingError

    @njit(borrow=True, cache=False)
    def allocates(n):
        return np.zeros(n).sum()

    with pytest.raises(TypingError, match="zeros"):
        allocates(3)
