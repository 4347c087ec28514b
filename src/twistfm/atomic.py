"""Atomic file writing: a file appears under its final name complete, or not at all.

Every file twistfm writes goes through here, so a kill (Ctrl-C, SIGKILL, a closed laptop
lid), a full disk or a file-size limit never leaves a half-written file where a finished
one is expected. A write that fails for such a reason becomes one :class:`WriteError` line
naming the file and the cause.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import WriteError

__all__ = ["atomic_open", "write_bytes", "write_text", "write_json", "make_folder", "write_failure", "refuse_special",
           "remove_stale_temporaries", "json_text", "write_together"]

_HINTS = {
    errno.ENOSPC: "free some disk space",
    errno.EFBIG: "raise the file-size limit (ulimit -f)",
    errno.EDQUOT: "free some of your disk quota",
    errno.EROFS: "choose a writable folder",
    errno.EACCES: "choose a folder you may write to",
    errno.EPERM: "choose a folder you may write to",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.ENOENT: "the folder does not exist; choose an existing one",
}


def write_failure(path: str | os.PathLike, exc: OSError) -> WriteError:
    """A one-line :class:`WriteError` for an OSError raised while writing ``path``."""
    code = exc.errno
    if code is None and _disk_full(Path(path)):  # some writers (NumPy, safetensors) lose the errno
        code = errno.ENOSPC
    cause = exc.strerror or (os.strerror(code) if code else "") or str(exc) or type(exc).__name__
    hint = _HINTS.get(code or 0, "check the path and the disk")
    return WriteError(f"{path}: cannot write ({cause}); {hint}, then run the command again")


def _disk_full(path: Path) -> bool:
    for folder in (path.parent, path):
        with contextlib.suppress(OSError):
            st = os.statvfs(folder)
            return st.f_bavail * st.f_frsize < 2**20
    return False


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` when the block ends.

    Parameters
    ----------
    path : path-like
        The final file name. Its folder must exist.
    mode : str, default="wb"
        ``"wb"`` or ``"w"`` (text, UTF-8, ``\\n`` line ends).

    If the block raises, the temporary file is removed and ``path`` is left untouched; an
    OSError (disk full, file-size limit, ...) is raised as a :class:`WriteError`.
    """
    path = Path(path)
    fd, tmp = _temporary(path)
    try:
        kwargs = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise write_failure(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_SPECIAL = ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "named pipe (FIFO)"),
            (stat.S_ISSOCK, "socket"))


def refuse_special(path: str | os.PathLike) -> None:
    """Refuse to replace a device, a named pipe or a socket with a file (a symbolic link is replaced, never
    written through)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    for test, kind in _SPECIAL:
        if test(mode):
            raise WriteError(f"{path}: is a {kind}, not a regular file; twistfm never replaces one: give the name "
                             "of a new or a regular file")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``path`` that a killed process left (their process is gone); return them.

    A temporary file is named ``.<name>.<pid>-<random>.tmp``; the file of a process still
    running (another writer) is left alone.
    """
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    try:
        entries = [e for e in os.scandir(path.parent) if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    except OSError:
        return removed
    for entry in entries:
        pid, sep, _ = entry.name[len(prefix):].partition("-")
        if sep and pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` and its parents if needed; a failure is one :class:`WriteError` line."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WriteError(f"{path}: is a file, not a folder; choose another path") from None
    except OSError as exc:
        raise write_failure(path, exc) from None
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (NaN and infinity are written as null)."""
    write_text(path, json_text(obj))


def json_text(obj: Any) -> str:
    """``obj`` as the indented JSON :func:`write_json` writes."""
    return json.dumps(_finite(obj), indent=2, default=_jsonable, allow_nan=False) + "\n"


def _temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (after refusing a special file there and removing
    the temporaries a dead process left for it): its descriptor and name."""
    refuse_special(path)
    remove_stale_temporaries(path)
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_failure(path, exc) from None


def write_together(files: dict[Path, bytes]) -> None:
    """Write several files so that they change together: every one is written whole under a temporary
    name first, then all are renamed in one quick pass (run it inside
    :func:`twistfm.interrupts.deferred` so that no signal stops the pass half-way)."""
    temporaries: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            fd, tmp = _temporary(Path(path))
            temporaries.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, 0o666 & ~_umask())
            except OSError as exc:
                raise write_failure(path, exc) from None
        for tmp, path in temporaries:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise write_failure(path, exc) from None
    finally:
        for tmp, _ in temporaries:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity; a missing measurement (no validation split) is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    # NumPy scalars and arrays turn up in metrics; JSON knows only Python numbers and lists.
    if hasattr(value, "tolist"):
        return _finite(value.tolist())
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
