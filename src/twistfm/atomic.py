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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import WriteError

__all__ = ["atomic_open", "write_bytes", "write_text", "write_json", "make_folder", "write_failure"]

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
    cause = exc.strerror or type(exc).__name__
    hint = _HINTS.get(exc.errno or 0, "check the path and the disk")
    return WriteError(f"{path}: cannot write ({cause}); {hint}, then run the command again")


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
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_failure(path, exc) from None
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
    write_text(path, json.dumps(_finite(obj), indent=2, default=_jsonable, allow_nan=False) + "\n")


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
