"""SIGINT and SIGTERM end a command the same way, and neither is ever lost.

Inside :func:`interrupts`, both signals raise :class:`Interrupted` (a ``KeyboardInterrupt``), so
every ``finally`` runs: temporary files are removed and nothing half-written is left. Python
drops an exception raised while a finaliser (``__del__``, a generator closed by the garbage
collector) or a ctypes callback (numba's compiler calls back into Python) runs, so a single
signal could be swallowed; after the first signal a watchdog thread raises it again every
``repeat_s`` seconds until the block is left, and the dropped exception prints nothing. Code that
cannot carry a Python exception at all runs inside :func:`deferred`: a signal that arrives there
is raised as soon as the code returns.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
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


class _Held:
    """Signals held by :func:`deferred` blocks of the main thread."""
    depth = 0
    signum: int | None = None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM (inside :func:`interrupts`) until the block returns, then raise.

    For compiled code and its compilation, whose callbacks into Python drop exceptions. Off the
    main thread a no-op: signal handlers run in the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Held.depth += 1
    try:
        yield
    finally:
        _Held.depth -= 1
    if _Held.depth == 0 and _Held.signum is not None:
        signum, _Held.signum = _Held.signum, None
        raise Interrupted(signum)


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
        if _Held.depth:
            _Held.signum = first[0]
            return
        raise Interrupted(first[0])

    def quiet(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):   # else the watchdog raises it
            previous_hook(unraisable)

    previous = {s: signal.signal(s, handler) for s in HANDLED}
    previous_hook, sys.unraisablehook = sys.unraisablehook, quiet
    try:
        yield
    finally:
        left.set()
        sys.unraisablehook = previous_hook
        _Held.signum = None
        for s, old in previous.items():
            signal.signal(s, old)
