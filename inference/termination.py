r"""SIGTERM while sampling: stop between chunks and keep the draws, as Ctrl-C does.

Cluster schedulers (SLURM, PBS, Kubernetes) end a job that reaches its time limit or is
pre-empted with SIGTERM, and only later with SIGKILL. By default SIGTERM ends a Python process
at once, losing every draw of a long run. While :class:`inference.mcmc.MCMC` samples, the
handler installed by :func:`sigterm_stops_sampling` only records the signal; ``MCMC`` reads the
record before each chunk and stops there, keeping the completed draws (the path a
``KeyboardInterrupt`` takes), so ``run`` returns normally and the script after it can save the
draws before the scheduler's SIGKILL.

A flag read between chunks rather than an exception raised by the handler: the handler runs
wherever the main thread happens to be, and an exception there could land in the middle of
recording a chunk. The compiled chunk cannot be stopped either way (its threads finish it), so
waiting for it costs no responsiveness.

A second SIGTERM during the same run means the sender insists: it goes to the handler that was
there before (by default, the process ends). The previous handler is restored when sampling
ends, whatever the outcome. Python can install signal handlers only in the main thread, so
from any other thread nothing is installed and SIGTERM keeps its usual effect.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["StopRequest", "sigterm_stops_sampling"]


class StopRequest:
    """Whether a signal asked sampling to stop, and which one.

    Attributes
    ----------
    signal_name : str or None
        ``"SIGTERM"`` once the signal has arrived, else None.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __bool__(self) -> bool:
        return self.signal_name is not None


def _restorable(handler: Any) -> Any:
    # getsignal gives None for a handler installed outside Python, which cannot be restored;
    # the default action is the closest
    return signal.SIG_DFL if handler is None else handler


def _handler(request: StopRequest, previous: Any) -> Callable[[int, Any], None]:
    def handle(signum: int, frame: Any) -> None:
        if not request:
            request.signal_name = signal.Signals(signum).name
            return
        # the second one: hand it to the handler we replaced
        signal.signal(signum, _restorable(previous))
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.raise_signal(signum)

    return handle


@contextlib.contextmanager
def sigterm_stops_sampling() -> Iterator[StopRequest]:
    """Within the block, SIGTERM sets the yielded :class:`StopRequest` instead of ending the
    process (main thread only; elsewhere the request stays unset and nothing changes)."""
    request = StopRequest()
    sigterm = getattr(signal, "SIGTERM", None)
    previous, installed = None, False
    if sigterm is not None and threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(sigterm)
        try:
            signal.signal(sigterm, _handler(request, previous))
            installed = True
        except ValueError:  # not the main interpreter
            pass
    try:
        yield request
    finally:
        if installed:
            signal.signal(sigterm, _restorable(previous))
