"""The NUTS transition and the step-size search as C functions the driver calls by address.

Why not a plain call
--------------------
When a Numba function calls another, the caller's code library links in the callee's LLVM IR
and LLVM optimises and emits machine code for the whole linked module again
(``numba.core.codegen.CPUCodeLibrary.finalize``). A driver that called
:func:`kernels.nuts.nuts_transition` directly therefore recompiled the whole NUTS tree builder
in its own compile (about 1.3 s of its 3--4 s on the 2-core reference machine), and it could
only start compiling once NUTS was compiled. Called through a function pointer, like the model
(:mod:`kernels.model_abi`), each of the two is compiled once, as a cached ``@cfunc`` of its own,
and the driver compiles independently of them -- which is what lets the first-run compile
(:mod:`kernels.precompile`) put them in one process and the driver in the other.

The ABI
-------
An entry is a C function ``void entry(int64_t *ints, double *floats)``. The caller writes the
arguments into two small *frames* (``ints``: ``N_INTS`` int64, ``floats``: ``N_FLOATS``
doubles), the entry views the arrays in place (``numba.carray`` on the addresses in ``ints``;
nothing is copied), calls the kernel and writes its results back into the frames. Its last act is
``ints[I_DONE] = 1``: if the kernel raised (an exception cannot cross a C function, Numba
reports it on standard error), the flag stays 0 and the caller stops the chain with
:data:`STATUS_ENTRY_FAILED` instead of using stale results. Every number passes through the
frames unchanged (addresses and counts as int64, reals as float64), so the draws are the same
bits as with a direct call.

:func:`nuts_step` and :func:`init_step` are the callers' side: the arguments and results of
:func:`~kernels.nuts.nuts_transition` and :func:`~kernels.adaptation.init_step_size` plus an
entry address and the frames. :func:`entry_address` compiles an entry (or loads it from Numba's
disk cache) on first use in a process.

When ``NUMBAYES_DISABLE_JIT=1`` the two callers call the kernels directly (no C functions).
"""

from __future__ import annotations

import threading

import numba
import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.extending import intrinsic

from kernels.adaptation import init_step_size
from kernels.jit import JIT_DISABLED, njit
from kernels.nuts import nuts_transition
from kernels.pointers import as_f8_pointer, as_u8_pointer

__all__ = [
    "ENTRIES",
    "STATUS_ENTRY_FAILED",
    "entry_address",
    "entry_frames",
    "init_step",
    "nuts_step",
]

#: A chain's status when an entry did not run to its end (the kernel raised: a bug).
STATUS_ENTRY_FAILED = 5

# ints frame: scalars, results, then each array as its address followed by its shape
I_ADDRESS, I_DATA, I_METRIC, I_MAX_DEPTH = 0, 1, 2, 3
I_DONE, I_STATUS, I_DEPTH, I_N_LEAPFROG, I_DIVERGING = 4, 5, 6, 7, 8
A_INV_DIAG, A_INV_DENSE, A_CHOL = 9, 11, 14  # 1-, 2- and 2-D
A_Q, A_GRAD, A_RNG = 17, 19, 21  # 1-D each
A_VEC, A_TREE, A_SLOT = 23, 26, 30  # 2-, 3- and 2-D
N_INTS = 33
# floats frame: arguments, then results
F_LOGP, F_EPSILON, F_MAX_DELTA_H = 0, 1, 2
F_LOGP_OUT, F_ACCEPT, F_ENERGY, F_ENERGY_ERROR, F_MAX_ENERGY_ERROR, F_EPSILON_OUT = 3, 4, 5, 6, 7, 8
N_FLOATS = 9

#: ``void(int64*, double*)``: the C signature of every entry.
ENTRY_SIG = types.void(types.CPointer(types.int64), types.CPointer(types.float64))


# ---------------------------------------------------------------------------------------------
# The caller's side (compiled into the driver)
# ---------------------------------------------------------------------------------------------


@intrinsic
def _call_entry(typingctx, address, ints, floats):
    """Indirect call of the ``void(int64*, double*)`` function at ``address``."""
    if not all(isinstance(t, types.Integer) for t in (address, ints, floats)):
        return None

    def codegen(context, builder, signature, args):
        addr, ints_addr, floats_addr = args
        i64p, f64p = ir.IntType(64).as_pointer(), ir.DoubleType().as_pointer()
        fn = builder.inttoptr(addr, ir.FunctionType(ir.VoidType(), [i64p, f64p]).as_pointer())
        builder.call(fn, [builder.inttoptr(ints_addr, i64p), builder.inttoptr(floats_addr, f64p)])
        return context.get_dummy_value()

    return types.none(address, ints, floats), codegen


@njit(inline="always")
def entry_frames() -> tuple[np.ndarray, np.ndarray]:
    """A chain's two argument frames (reused by every call on its thread)."""
    return np.zeros(N_INTS, dtype=np.int64), np.zeros(N_FLOATS)


# (written out, not through a helper per array: every inlined call is typed anew, and every
# function of its own compiles on its own, both of which cost first-run compile time)
@njit(inline="always")
def _put_point(ints, floats, address, data_ptr, metric_kind, inv_diag, inv_dense, chol, q, grad,
               logp, epsilon, rng_state, vec) -> None:
    """Write the arguments the two kernels share: scalars, then address and shape per array."""
    ints[I_ADDRESS], ints[I_DATA], ints[I_METRIC], ints[I_DONE] = address, data_ptr, metric_kind, 0
    floats[F_LOGP], floats[F_EPSILON] = logp, epsilon
    ints[A_INV_DIAG], ints[A_INV_DIAG + 1] = inv_diag.ctypes.data, inv_diag.shape[0]
    ints[A_INV_DENSE], ints[A_INV_DENSE + 1] = inv_dense.ctypes.data, inv_dense.shape[0]
    ints[A_INV_DENSE + 2] = inv_dense.shape[1]
    ints[A_CHOL], ints[A_CHOL + 1], ints[A_CHOL + 2] = chol.ctypes.data, chol.shape[0], chol.shape[1]
    ints[A_Q], ints[A_Q + 1] = q.ctypes.data, q.shape[0]
    ints[A_GRAD], ints[A_GRAD + 1] = grad.ctypes.data, grad.shape[0]
    ints[A_RNG], ints[A_RNG + 1] = rng_state.ctypes.data, rng_state.shape[0]
    ints[A_VEC], ints[A_VEC + 1], ints[A_VEC + 2] = vec.ctypes.data, vec.shape[0], vec.shape[1]


def _nuts_step(entry: int, ints: np.ndarray, floats: np.ndarray, address: int, data_ptr: int,
               metric_kind: int, inv_diag: np.ndarray, inv_dense: np.ndarray, chol: np.ndarray,
               q: np.ndarray, grad: np.ndarray, logp: float, epsilon: float, max_depth: int,
               max_delta_h: float, rng_state: np.ndarray, vec: np.ndarray, tree: np.ndarray,
               slot: np.ndarray) -> tuple[bool, float, float, int, int, bool, float, float, float]:
    """:func:`~kernels.nuts.nuts_transition` through the entry at ``entry``.

    The arguments are ``entry``, the chain's frames (:func:`entry_frames`) and then those of
    ``nuts_transition``; the result is a flag "the entry ran to its end" followed by its results.
    """
    _put_point(ints, floats, address, data_ptr, metric_kind, inv_diag, inv_dense, chol, q, grad,
               logp, epsilon, rng_state, vec)
    ints[I_MAX_DEPTH] = max_depth
    floats[F_MAX_DELTA_H] = max_delta_h
    ints[A_TREE], ints[A_TREE + 1], ints[A_TREE + 2] = tree.ctypes.data, tree.shape[0], tree.shape[1]
    ints[A_TREE + 3] = tree.shape[2]
    ints[A_SLOT], ints[A_SLOT + 1], ints[A_SLOT + 2] = slot.ctypes.data, slot.shape[0], slot.shape[1]
    _call_entry(entry, ints.ctypes.data, floats.ctypes.data)
    return (ints[I_DONE] != 0, floats[F_LOGP_OUT], floats[F_ACCEPT], ints[I_DEPTH],
            ints[I_N_LEAPFROG], ints[I_DIVERGING] != 0, floats[F_ENERGY], floats[F_ENERGY_ERROR],
            floats[F_MAX_ENERGY_ERROR])


def _init_step(entry: int, ints: np.ndarray, floats: np.ndarray, address: int, data_ptr: int,
               metric_kind: int, inv_diag: np.ndarray, inv_dense: np.ndarray, chol: np.ndarray,
               q: np.ndarray, grad: np.ndarray, logp: float, epsilon: float,
               rng_state: np.ndarray, vec: np.ndarray) -> tuple[float, int]:
    """:func:`~kernels.adaptation.init_step_size` through the entry at ``entry``.

    The arguments are ``entry``, the chain's frames (:func:`entry_frames`) and then those of
    ``init_step_size``; the result is ``(step size, status)``, the status being
    :data:`STATUS_ENTRY_FAILED` if the entry did not run to its end.
    """
    _put_point(ints, floats, address, data_ptr, metric_kind, inv_diag, inv_dense, chol, q, grad,
               logp, epsilon, rng_state, vec)
    _call_entry(entry, ints.ctypes.data, floats.ctypes.data)
    if ints[I_DONE] == 0:
        return epsilon, STATUS_ENTRY_FAILED
    return floats[F_EPSILON_OUT], ints[I_STATUS]


def _nuts_step_direct(entry, ints, floats, *args):  # NUMBAYES_DISABLE_JIT: a plain call
    return (True, *nuts_transition(*args))


def _init_step_direct(entry, ints, floats, *args):
    return init_step_size(*args)


if JIT_DISABLED:
    nuts_step, init_step = _nuts_step_direct, _init_step_direct
    nuts_step.__doc__, init_step.__doc__ = _nuts_step.__doc__, _init_step.__doc__
else:
    nuts_step, init_step = njit(inline="always")(_nuts_step), njit(inline="always")(_init_step)


# ---------------------------------------------------------------------------------------------
# The entries' side (each compiled, with its kernel, as a C function)
# ---------------------------------------------------------------------------------------------


@njit
def _point_views(ints):
    """The arrays :func:`_put_point` wrote, viewed in place."""
    return (
        carray(as_f8_pointer(ints[A_INV_DIAG]), (ints[A_INV_DIAG + 1],)),
        carray(as_f8_pointer(ints[A_INV_DENSE]), (ints[A_INV_DENSE + 1], ints[A_INV_DENSE + 2])),
        carray(as_f8_pointer(ints[A_CHOL]), (ints[A_CHOL + 1], ints[A_CHOL + 2])),
        carray(as_f8_pointer(ints[A_Q]), (ints[A_Q + 1],)),
        carray(as_f8_pointer(ints[A_GRAD]), (ints[A_GRAD + 1],)),
        carray(as_u8_pointer(ints[A_RNG]), (ints[A_RNG + 1],)),
        carray(as_f8_pointer(ints[A_VEC]), (ints[A_VEC + 1], ints[A_VEC + 2])),
    )


def _nuts_entry(ints_ptr, floats_ptr):
    ints, floats = carray(ints_ptr, (N_INTS,)), carray(floats_ptr, (N_FLOATS,))
    inv_diag, inv_dense, chol, q, grad, rng_state, vec = _point_views(ints)
    k = A_TREE
    tree = carray(as_f8_pointer(ints[k]), (ints[k + 1], ints[k + 2], ints[k + 3]))
    slot = carray(as_f8_pointer(ints[A_SLOT]), (ints[A_SLOT + 1], ints[A_SLOT + 2]))
    lp, acc, depth, n_leapfrog, diverging, energy, energy_error, max_error = nuts_transition(
        ints[I_ADDRESS], ints[I_DATA], ints[I_METRIC], inv_diag, inv_dense, chol, q, grad,
        floats[F_LOGP], floats[F_EPSILON], ints[I_MAX_DEPTH], floats[F_MAX_DELTA_H], rng_state,
        vec, tree, slot)
    floats[F_LOGP_OUT] = lp
    floats[F_ACCEPT] = acc
    floats[F_ENERGY] = energy
    floats[F_ENERGY_ERROR] = energy_error
    floats[F_MAX_ENERGY_ERROR] = max_error
    ints[I_DEPTH] = depth
    ints[I_N_LEAPFROG] = n_leapfrog
    ints[I_DIVERGING] = 1 if diverging else 0
    ints[I_DONE] = 1


def _init_step_size_entry(ints_ptr, floats_ptr):
    ints, floats = carray(ints_ptr, (N_INTS,)), carray(floats_ptr, (N_FLOATS,))
    inv_diag, inv_dense, chol, q, grad, rng_state, vec = _point_views(ints)
    epsilon, status = init_step_size(
        ints[I_ADDRESS], ints[I_DATA], ints[I_METRIC], inv_diag, inv_dense, chol, q, grad,
        floats[F_LOGP], floats[F_EPSILON], rng_state, vec)
    floats[F_EPSILON_OUT] = epsilon
    ints[I_STATUS] = status
    ints[I_DONE] = 1


#: The entries by name: ``"nuts"`` and ``"init_step_size"``.
ENTRIES = {"nuts": _nuts_entry, "init_step_size": _init_step_size_entry}
_compiled: dict[str, object] = {}
_lock = threading.Lock()


def entry_address(name: str) -> int:
    """The address of entry ``name`` (a key of :data:`ENTRIES`), compiled on first use.

    The C function is compiled with ``cache=True``, so a later process loads it from Numba's disk
    cache; it is kept alive for the life of the process. Returns 0 when JIT is disabled (the
    callers then call the kernels directly).
    """
    if JIT_DISABLED:
        return 0
    with _lock:  # chains' threads (or an executor's) may ask at once
        compiled = _compiled.get(name)
        if compiled is None:
            compiled = numba.cfunc(ENTRY_SIG, cache=True)(ENTRIES[name])
            _compiled[name] = compiled
    return compiled.address
