"""SIGINT and SIGTERM end a command the same way, and neither is ever lost.

Inside :func:`interrupts`, both signals raise :class:`Interrupted` (a ``KeyboardInterrupt``), so
every ``finally`` runs: temporary files are removed and nothing half-written is left. Python
drops an exception raised while a finaliser (``__del__``, a generator closed by the garbage
collector) runs, so a single signal could be swallowed; after the first signal a watchdog thread
raises it again every ``repeat_s`` seconds until the block is left.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
from collections.abc import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``signum`` says which (exit status 128 + signum)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(exc: KeyboardInterrupt) -> int:
    return 128 + getattr(exc, "signum", signal.SIGINT)


@contextlib.contextmanager
def interrupts(repeat_s: float = 3.0) -> Iterator[None]:
    """Handle SIGINT and SIGTERM as described above (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: list[int] = []
    left = threading.Event()

    def repeat() -> None:
        while not left.wait(repeat_s):
            _thread.interrupt_main(first[0])

    def handler(signum: int, frame: object) -> None:
        if not first:
            first.append(signum)
            threading.Thread(target=repeat, name="synthcl-interrupt", daemon=True).start()
        raise Interrupted(first[0])

    previous = {s: signal.signal(s, handler) for s in HANDLED}
    try:
        yield
    finally:
        left.set()
        for s, old in previous.items():
            signal.signal(s, old)
