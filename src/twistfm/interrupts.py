"""Stopping cleanly: Ctrl-C and SIGTERM end a command the same way, and a commit can be made whole.

The command line calls :func:`install` once: from then on SIGTERM (what ``kill``, systemd,
batch schedulers and ``docker stop`` send) raises ``KeyboardInterrupt`` exactly as Ctrl-C does,
so every block that turns Ctrl-C into one clear line and a resume hint does the same for it,
and temporary files are removed on the way out. A signal that the parent ignored (``nohup``,
a background job, cron) stays ignored. :func:`exit_code` is 130 after Ctrl-C and 143 after
SIGTERM, as a shell would report them. :func:`deferred` holds both signals back while a few
renames complete, so that what is on disk is all old or all new.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

from .errors import Interrupted

__all__ = ["install", "received", "exit_code", "deferred", "sigterm_as_sigint", "caused_by_interrupt"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state: dict[str, int | None] = {"received": None}


def _raise(signum: int, _frame: object) -> None:
    _state["received"] = signum
    raise KeyboardInterrupt


def install() -> None:
    """Make SIGINT and SIGTERM raise ``KeyboardInterrupt`` (those the parent ignored stay ignored)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _raise)


def received() -> int | None:
    """The last signal that stopped (or is stopping) this process, if any."""
    return _state["received"]


def exit_code() -> int:
    """The exit code of a command stopped by a signal: 128 + its number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + (_state["received"] or signal.SIGINT)


@contextlib.contextmanager
def deferred(message: Callable[[], str]) -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the block; if one came, raise :class:`Interrupted` after it.

    The block must be short (a few renames): a signal waits for its end, and then the
    command stops with the line ``message()`` builds, which says what was completed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    previous = {signum: handler for signum, handler in previous.items() if handler is not None}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, lambda s, _f: came.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if came:
        _state["received"] = came[-1]
        raise Interrupted(message())


@contextlib.contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """During the block, SIGTERM does whatever SIGINT's handler of the moment does.

    Ray Tune stops a sweep gracefully on Ctrl-C (its own SIGINT handler) while Ray's own
    SIGTERM handler exits at once, leaving a C++ dump; inside this block a SIGTERM is a Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) in (
            signal.SIG_IGN, None):
        yield
        return

    def as_sigint(_signum: int, frame: object) -> None:
        handler = signal.getsignal(signal.SIGINT)
        _state["received"] = signal.SIGTERM
        if callable(handler):
            handler(signal.SIGINT, frame)
        elif handler is signal.SIG_DFL:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, as_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def caused_by_interrupt(exc: BaseException | None) -> bool:
    """Whether ``exc`` is an interruption or was raised while one was being handled (an import that
    Ctrl-C cut short fails again on the way out, as an ImportError)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__
    return False
