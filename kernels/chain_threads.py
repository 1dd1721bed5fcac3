"""Running chains side by side: one process-wide pool of threads, kept between calls.

The samplers advance their chains in chunks (:mod:`inference.mcmc` returns to Python between
chunks for progress, Ctrl-C and SIGTERM), and each chunk runs one task per chain (or per block of
chains) on its own thread; the compiled code releases the GIL. Starting and joining a pool of
threads at every chunk costs about as much as sampling a small model's chunk, so the pools are
made once per thread count and kept (:func:`run_side_by_side`); idle threads cost nothing but
their stacks. Which thread runs which chain does not change any draw: every chain has its own
random stream and state.

A task that itself calls :func:`run_side_by_side` from one of the pool's threads (a fit running
inside a fit) runs its tasks on its own thread, one after the other, so a saturated pool cannot
wait on itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

__all__ = ["run_side_by_side"]

_POOL_PREFIX = "numbayes-chains"
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(n_threads: int) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(n_threads)
        if pool is None:
            pool = _pools[n_threads] = ThreadPoolExecutor(
                n_threads, thread_name_prefix=f"{_POOL_PREFIX}-{n_threads}")
        return pool


def _in_a_pool_thread() -> bool:
    return threading.current_thread().name.startswith(_POOL_PREFIX)


def run_side_by_side(tasks: Sequence[Callable[[], None]], n_threads: int) -> None:
    """Run every task, at most ``n_threads`` at a time, and return when all have finished.

    With ``n_threads <= 1`` (or when called from a task of the pool) the tasks run one after
    the other on the calling thread. Otherwise they run on the pool kept for ``n_threads``.
    Every task has finished when this returns or raises, also when waiting is interrupted
    (Ctrl-C): the caller's arrays are then consistent. The first task's exception (in task
    order) is raised.

    >>> out = [0] * 4
    >>> def task(i):
    ...     def run():
    ...         out[i] = i * i
    ...     return run
    >>> run_side_by_side([task(i) for i in range(4)], n_threads=2)
    >>> out
    [0, 1, 4, 9]
    """
    if n_threads <= 1 or len(tasks) <= 1 or _in_a_pool_thread():
        for task in tasks:
            task()
        return
    pool = _pool(int(n_threads))
    futures: list[Future] = [pool.submit(task) for task in tasks]
    try:
        for future in futures:
            future.result()
    except BaseException:
        wait(futures)  # no task may still write into the caller's arrays
        raise
