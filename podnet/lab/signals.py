"""Ctrl-C and termination held back while the kernel is half-way through a change.

Mirrors nothing in Kubernetes (its components are restarted and resync); a lab tool must
instead never leave a sandbox half made or a lease taken but not recorded. Two tools: a
block for teardowns (the signals act after it), and :class:`held_stop_signals`, which notes
a signal and raises it again once the change is complete.
"""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def block_stop_signals() -> None:
    """Hold Ctrl-C and termination back while a teardown runs (they act after it)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def unblock_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class held_stop_signals:  # noqa: N801 - used as a context manager
    """Ctrl-C and termination are noted, not acted on, until the block ends; then the first
    one is raised again as if it had just arrived. (Masking alone is not enough: the kernel
    would hand the signal to one of the lab's worker threads, and Python would still raise
    it in the main thread at once.)"""

    def __enter__(self) -> "held_stop_signals":
        self.pending: list[int] = []
        self.previous: dict = {}
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self.previous[sig] = signal.signal(sig, lambda number, _frame: self.pending.append(number))
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        if self.pending:
            signal.raise_signal(self.pending[0])
