"""The one place where the project decides how hand-written kernels are compiled.

Every Numba function in ``kernels/`` (and every function that ``autodiff`` generates) is compiled
through :func:`njit` here, so that the compile options and the debugging switch live in one spot:

* ``cache=True`` -- compiled machine code is written to Numba's disk cache and loaded by the next
  process (the folder, its checks and its repair: :mod:`kernels.cache`, configured when this
  module is imported).
* ``nogil=True`` -- kernels release the GIL so chains can run on Python threads.
* ``fastmath=False`` -- samplers must be reproducible and IEEE-exact.

Small kernels that the sampler calls from one place are ``@njit(inline="always")``: Numba then
inlines them into their caller's intermediate representation instead of compiling each one on
its own. A function of its own costs far more of the first run's compile (Numba runs LLVM's
optimiser and code generator on every function, and again on every caller, which links in its
callees' code) than typing the inlined body in the caller. They stay ordinary functions when
called from Python (tests call them).

Kernels on the samplers' hot path -- everything a leapfrog step or a transition calls -- are
``@njit(borrow=True)``: compiled without Numba's reference counting of arrays. Numba otherwise
increments an array's reference count when a function receives it and when a record's field is
read, and decrements it afterwards, each an atomic operation through a call; LLVM removes only
the pairs it can prove redundant, which leaves dozens per leapfrog step once records are passed
between functions with branches and loops. A borrowing kernel may only *borrow* the arrays it is
given, which the caller keeps alive for the length of the call: it must not allocate an array or
keep one, and Numba refuses to compile one that does.

Setting the environment variable ``NUMBAYES_DISABLE_JIT=1`` before import turns :func:`njit` into
the identity: every kernel then runs as plain Python, with readable tracebacks (slow, for
debugging and coverage only).

Kernels that the sampler's driver calls as functions of their own (not inlined) declare the
argument types it calls them with, right above their definition, with :func:`signature`: the
first-run compile (:mod:`kernels.precompile`) compiles each of them for exactly those types,
possibly in another process, and the two kernels the driver calls by address
(:mod:`kernels.entries`) are compiled and type-checked against them. A declaration is written
in the names of :class:`kernels.kernel_types.KernelTypes` (the Numba types of the sampler's
records), so it follows the state tables of :mod:`kernels.state` instead of repeating them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba

from kernels import cache

JIT_DISABLED: bool = os.environ.get("NUMBAYES_DISABLE_JIT", "0") not in ("", "0", "false", "False")

DEFAULT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False}

if not JIT_DISABLED:
    cache.configure()  # before anything is compiled or loaded


def njit(*args: Any, **options: Any) -> Any:
    """``numba.njit`` with the project's defaults; the identity when JIT is disabled.

    Usable bare (``@njit``), with options (``@njit(parallel=True)``) or with an explicit signature
    (``@njit("float64(float64)")``), exactly like ``numba.njit``. One option of our own:
    ``borrow=True`` compiles a kernel that borrows its arrays, without reference counting (see
    the module docstring).
    """
    if args and callable(args[0]) and not options and len(args) == 1:
        return _compile(args[0], (), {})
    signature = args

    def decorate(fn: Callable) -> Any:
        return _compile(fn, signature, options)

    return decorate


def _compile(fn: Callable, signature: tuple, options: dict[str, Any]) -> Any:
    if JIT_DISABLED:
        return fn
    merged = {**DEFAULT_OPTIONS, **options}
    if merged.pop("borrow", False):
        merged["_nrt"] = False  # Numba's switch for its reference-counting runtime
    return numba.njit(*signature, **merged)(fn)


@dataclass(frozen=True)
class Declaration:
    """The argument types (and, for kernels called by address, the result type) with which the
    driver calls ``kernel``, as functions of a :class:`kernels.kernel_types.KernelTypes`."""

    kernel: Any
    arguments: Callable[[Any], tuple]
    result: Callable[[Any], Any] | None = None


#: Declarations by kernel name (the Python function's name), filled by :func:`signature`.
DECLARED: dict[str, Declaration] = {}


def signature(
    arguments: Callable[[Any], tuple], result: Callable[[Any], Any] | None = None
) -> Callable[[Any], Any]:
    """Declare the types the driver calls the decorated kernel with (see the module docstring).

    Used above :func:`njit`::

        @signature(lambda t: (t.model, t.metric, t.vector, t.vector, t.vector, t.vector, t.f8))
        @njit
        def leapfrog(model, metric, q, p, grad, p_sharp, epsilon): ...

    ``arguments(t)`` (and ``result(t)``) are evaluated only when something compiles the kernel
    for the driver, so declarations cost nothing at import. Returns the kernel unchanged.
    """

    def declare(kernel: Any) -> Any:
        name = getattr(kernel, "py_func", kernel).__name__
        if name in DECLARED:
            raise ValueError(f"kernel {name!r} declares its signature twice")
        DECLARED[name] = Declaration(kernel, arguments, result)
        return kernel

    return declare
