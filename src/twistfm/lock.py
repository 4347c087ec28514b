"""One writer per run folder: a lock file that names its holder (PID, command, start time).

A command that writes into an existing run folder (analyze, discover, encode, train
--resume, report) holds the folder's lock while it works; a second such command refuses at
once with one line naming the holder. The lock is an ``flock`` on the file, so the kernel
drops it when its holder dies however it dies; a lock file left by a killed holder is taken
over, and the command says so.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .atomic import write_failure
from .errors import RunError

__all__ = ["hold", "holder_of"]


@contextlib.contextmanager
def hold(path: str | os.PathLike, command: str, log: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock file ``path`` during the block, as ``command``.

    Raises
    ------
    RunError
        If another process holds it (the message names that process).
    """
    path = Path(path)
    fd = _acquire(path, command, log)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if _same_file(fd, path):
                os.unlink(path)
        os.close(fd)


def holder_of(path: str | os.PathLike) -> dict[str, Any]:
    """What the lock file ``path`` says of its holder (empty when missing or unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        return _read(fd)
    finally:
        os.close(fd)


def _acquire(path: Path, command: str, log: Callable[[str], None] | None) -> int:
    for _ in range(100):  # each retry follows a holder releasing the lock between our open and our flock
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise RunError(f"{path}: is a symbolic link, not a lock file; remove it and run the command "
                               "again") from None
            raise write_failure(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise RunError(f"{path.parent}: in use by {_describe(holder)}; wait for it to end (or stop it), then "
                           "run the command again") from None
        except OSError as exc:
            os.close(fd)
            raise write_failure(path, exc) from None
        if not _same_file(fd, path):
            os.close(fd)
            continue
        previous = _read(fd)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise write_failure(path, exc) from None
        if previous and log:
            log(f"took over the lock of {path.parent} left by {_describe(previous)}, which is no longer running")
        return fd
    raise RunError(f"{path}: the lock changes hands too fast to take; run the command again")


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
    except FileNotFoundError:
        return False


def _read(fd: int) -> dict[str, Any]:
    try:
        value = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "another twistfm command (its lock file names no process)"
    return (f"'{holder.get('command', 'twistfm')}' (PID {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"started {holder.get('started', '?')})")
