"""The NUTS transition and the step-size search, called by address from the compiled driver.

Why not a plain call
--------------------
When a Numba function calls another, the caller's code library links in the callee's LLVM IR
and LLVM optimises and emits machine code for the whole linked module again
(``numba.core.codegen.CPUCodeLibrary.finalize``). A driver that called
:func:`kernels.nuts_transition.nuts_transition` directly would therefore recompile the whole
NUTS tree builder in its own compile, and it could only start compiling once NUTS was compiled.
Called through its address, like the model (:mod:`kernels.model_abi`), each *entry* is compiled
once, as a disk-cached function of its own, and the driver compiles independently of it -- which
is what lets the first-run compile (:mod:`kernels.precompile`) put the entries in one process
and the driver in the other.

How
---
An entry is an ordinary ``@njit`` kernel that declares its argument and result types with
:func:`kernels.jit.signature`. :func:`entry_addresses` compiles each entry for exactly those
types (or loads it from Numba's disk cache) and returns the addresses of their machine code;
the driver receives them as two ``int64`` values (:class:`EntryAddresses`) and calls
:func:`call_entry` ``(kernel, address, arguments)``, which emits the same call Numba emits
between two compiled functions -- Numba's own calling convention, so records, arrays and
exceptions cross it as in a direct call (an exception raised in the entry reaches the driver's
caller) -- but through the pointer, without linking the callee. Because a Numba cache entry is
keyed by its argument types, an entry compiled for other records is never mistaken for this
one; and :func:`call_entry` refuses, when the driver is compiled, arguments whose types differ
from the declaration.

When ``NUMBAYES_DISABLE_JIT=1`` :func:`call_entry` calls the kernel directly.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from kernels.hmc_transition import hmc_transition
from kernels.jit import DECLARED, JIT_DISABLED
from kernels.kernel_types import kernel_types
from kernels.low_rank_adaptation import low_rank_collect, low_rank_estimate
from kernels.nuts_transition import nuts_transition
from kernels.step_size import find_reasonable_step_size
from kernels.warmup_convergence import convergence_check

__all__ = ["ENTRIES", "EntryAddresses", "call_entry", "address_of", "entry_address",
           "entry_addresses"]

#: The kernels the driver calls by address, by name.
ENTRIES = {"nuts_transition": nuts_transition,
           "find_reasonable_step_size": find_reasonable_step_size,
           "hmc_transition": hmc_transition,
           "low_rank_collect": low_rank_collect,
           "low_rank_estimate": low_rank_estimate,
           "convergence_check": convergence_check}
#: Entries compiled only for the runs that call them (:func:`entry_addresses`): static HMC,
#: the low-rank adaptation (its estimator's LAPACK calls take long to compile) and the early
#: end of warmup. Most runs make none of these calls; compiled into the driver, they made the
#: first run's compile of every run longer.
ON_DEMAND = ("hmc_transition", "low_rank_collect", "low_rank_estimate", "convergence_check")


class EntryAddresses(NamedTuple):
    """Where the entries' machine code is in this process (see :func:`entry_addresses`)."""

    nuts_transition: int
    find_reasonable_step_size: int
    hmc_transition: int
    low_rank_collect: int
    low_rank_estimate: int
    convergence_check: int


def _declared(kernel: Any) -> tuple[tuple, Any]:
    """The declared argument types and result type of entry ``kernel``."""
    name = getattr(kernel, "py_func", kernel).__name__
    declaration = DECLARED[name]
    t = kernel_types()
    return tuple(declaration.arguments(t)), declaration.result(t)


@intrinsic
def _call_at(typingctx, kernel, address, arguments):
    """Call the compiled ``kernel`` (typed as its dispatcher) whose code is at ``address``."""
    if not isinstance(kernel, types.Dispatcher) or not isinstance(address, types.Integer):
        return None
    expected, result = _declared(kernel.dispatcher)
    if tuple(arguments.types) != expected:
        name = kernel.dispatcher.py_func.__name__
        raise TypingError(
            f"call_entry({name}): arguments of types {tuple(arguments.types)} do not match the "
            f"declared signature {expected} (kernels.jit.signature above {name})")

    def codegen(context, builder, signature, llargs):
        _, where, packed = llargs
        argtypes = list(arguments.types)
        values = [builder.extract_value(packed, i) for i in range(len(argtypes))]
        function_type = context.call_conv.get_function_type(result, argtypes)
        callee = builder.inttoptr(where, function_type.as_pointer())
        status, out = context.call_conv.call_function(builder, callee, result, argtypes, values)
        with cgutils.if_unlikely(builder, status.is_error):  # the entry raised: so does the caller
            context.call_conv.return_status_propagate(builder, status)
        return out

    return result(kernel, address, arguments), codegen


def _call_directly(kernel: Any, address: int, arguments: tuple) -> Any:
    return kernel(*arguments)


#: ``call_entry(kernel, address, arguments)``: ``kernel(*arguments)`` through the code at
#: ``address`` (from :func:`entry_addresses`), in compiled code.
call_entry = _call_directly if JIT_DISABLED else _call_at

_lock = threading.Lock()
_addresses: dict[str, int] = {}


def address_of(kernel: Any) -> int:
    """The address of ``kernel``'s machine code for its declared types, compiled on first use.

    The kernel is compiled with the argument types declared beside it (``cache=True``, so a
    later process loads it from Numba's disk cache), checked to return its declared result
    type, and kept for the life of the process. Returns 0 when JIT is disabled.
    """
    if JIT_DISABLED:
        return 0
    name = kernel.py_func.__name__
    with _lock:  # chains' threads (or an executor's) may ask at once
        if name not in _addresses:
            argtypes, result = _declared(kernel)
            kernel.compile(argtypes)
            compiled = kernel.overloads[argtypes]
            if compiled.signature.return_type != result:
                raise TypeError(f"{name} returns {compiled.signature.return_type}, but declares "
                                f"{result}: correct its kernels.jit.signature")
            _addresses[name] = compiled.library.get_pointer_to_function(
                compiled.fndesc.llvm_func_name)
    return _addresses[name]


def entry_address(name: str) -> int:
    """The address of entry ``name`` (a key of :data:`ENTRIES`): :func:`address_of` it."""
    return address_of(ENTRIES[name])


def entry_addresses(hmc: bool = False, low_rank: bool = False,
                    early_stop: bool = False) -> EntryAddresses:
    """The addresses of the entries in this process (compiled, or loaded, on first use); those
    of :data:`ON_DEMAND` only if the run calls them (static ``hmc``, the ``low_rank``
    adaptation, ``early_stop`` of warmup), 0 otherwise."""
    wanted = {"hmc_transition": hmc, "low_rank_collect": low_rank,
              "low_rank_estimate": low_rank, "convergence_check": early_stop}
    return EntryAddresses(*(entry_address(name) if wanted.get(name, True) else 0
                            for name in EntryAddresses._fields))
