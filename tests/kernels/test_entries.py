"""kernels.entries: the NUTS transition and the step-size search, called by address.

The oracle is the direct call of the same kernel: through its address every output, the updated
position, gradient and random stream must be the same bits, for both metrics and through
divergences. An exception raised inside an entry must reach the caller as itself, and arguments
of other types than the declared ones must be refused when the caller is compiled.
"""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from kernels import entries, rng
from kernels.integrators import phase_point
from kernels.jit import DECLARED, JIT_DISABLED, signature
from kernels.metric import DENSE, DIAG, Metric, cholesky_lower
from kernels.model_abi import Model, evaluate
from kernels.nuts_transition import nuts_transition, nuts_workspace
from kernels.step_size import find_reasonable_step_size
from tests.cfunc_models import gauss_data, gaussian_precision, normal_with_hole
from tests.kernels.test_nuts import CORR3

pytestmark = pytest.mark.skipif(JIT_DISABLED, reason="entries are compiled code")

PREC = np.linalg.inv(CORR3)
CASES = {  # model, data, step size (large enough for divergences in the model with a hole)
    "gaussian": (gaussian_precision, gauss_data([0.5, -1.0, 0.0], PREC), 0.4),
    "hole": (normal_with_hole, np.array([3.0, 0.6]), 1.3),
}


@njit
def _nuts_by_address(address, arguments):
    return entries.call_entry(nuts_transition, address, arguments)


@njit
def _search_by_address(address, arguments):
    return entries.call_entry(find_reasonable_step_size, address, arguments)


def _metric(kind: int, d: int) -> Metric:
    inv_dense = CORR3[:d, :d].copy() if kind == DENSE else np.zeros((d, d))
    chol = np.zeros((d, d))
    if kind == DENSE:
        assert cholesky_lower(inv_dense, chol)
    return Metric(kind, np.linspace(0.5, 1.5, d), inv_dense, chol)


@pytest.mark.parametrize("kind", [DIAG, DENSE])
@pytest.mark.parametrize("case", sorted(CASES))
def test_nuts_through_its_address_gives_the_direct_call_bits(case, kind):
    model, data, eps = CASES[case]
    d, max_depth = 3, 6
    metric = _metric(kind, d)
    target = Model(model.address, data.ctypes.data)
    address = entries.entry_address("nuts_transition")
    streams = [rng.seed_streams(7, 1)[0] for _ in range(2)]
    q = [np.array([0.2, -0.3, 0.1]) for _ in range(2)]
    g = [np.empty(d), np.empty(d)]
    lp = [evaluate(model.address, data.ctypes.data, q[i], g[i])[1] for i in range(2)]
    spaces = [nuts_workspace(d, max_depth) for _ in range(2)]
    divergences = 0
    for _ in range(40):
        args = [(target, metric, q[i], g[i], lp[i], eps, max_depth, 1000.0, streams[i],
                 spaces[i]) for i in range(2)]
        direct = nuts_transition(*args[0])
        through = _nuts_by_address(address, args[1])
        assert through == direct
        assert np.array_equal(q[0], q[1]) and np.array_equal(g[0], g[1])
        assert np.array_equal(streams[0], streams[1])
        lp = [direct.lp, through.lp]
        divergences += direct.diverging
    if case == "hole":
        assert divergences > 0  # the divergent path went through the address too


@pytest.mark.parametrize("kind", [DIAG, DENSE])
def test_step_size_search_through_its_address_gives_the_direct_call_bits(kind):
    model, data, _ = CASES["gaussian"]
    d = 3
    metric = _metric(kind, d)
    target = Model(model.address, data.ctypes.data)
    address = entries.entry_address("find_reasonable_step_size")
    q = np.array([0.2, -0.3, 0.1])
    g = np.empty(d)
    _, lp = evaluate(model.address, data.ctypes.data, q, g)
    for eps in (1e-3, 1.0, 50.0):
        streams = [rng.seed_streams(3, 1)[0] for _ in range(2)]
        args = [(target, metric, q, g, lp, eps, streams[i], phase_point(d)) for i in range(2)]
        assert _search_by_address(address, args[1]) == find_reasonable_step_size(*args[0])
        assert np.array_equal(streams[0], streams[1])


@signature(lambda t: (t.f8,), result=lambda t: t.f8)
@njit(cache=True)
def _checked_square_root(x):
    if x < 0.0:
        raise ValueError("a negative number reached _checked_square_root")
    return x**0.5


@njit
def _square_root_by_address(address, x):
    return entries.call_entry(_checked_square_root, address, (x,))


def test_an_exception_in_an_entry_reaches_the_caller():
    address = entries.address_of(_checked_square_root)
    assert _square_root_by_address(address, 6.25) == 2.5
    with pytest.raises(ValueError, match="a negative number reached _checked_square_root"):
        _square_root_by_address(address, -1.0)


def test_undeclared_argument_types_are_refused_when_the_caller_compiles():
    model, data, _ = CASES["gaussian"]
    metric = _metric(DIAG, 3)
    q, g = np.array([0.2, -0.3, 0.1]), np.empty(3)
    arguments = (Model(model.address, data.ctypes.data), metric, q, g, 0.0, 0.1, 6, 1000.0,
                 rng.seed_streams(0, 1)[0].astype(np.int64), nuts_workspace(3, 6))
    with pytest.raises(TypingError, match="do not match the declared signature"):
        _nuts_by_address(entries.entry_address("nuts_transition"), arguments)


def test_every_entry_declares_its_result():
    for name, kernel in entries.ENTRIES.items():
        assert DECLARED[name].kernel is kernel and DECLARED[name].result is not None
        assert entries.entry_address(name) != 0
