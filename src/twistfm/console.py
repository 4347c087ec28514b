"""How a command ends: one line and an exit code for every user error, interruption or failed output.

The command line (:mod:`twistfm.cli`) runs each command through :func:`run_app`: a
:class:`~twistfm.errors.TwistfmError` prints ``error: ...`` and exits with its code (2); Ctrl-C
or SIGTERM prints ``stopped: ...`` and exits with 130 or 143; running out of memory (the
machine's, or a limit such as ``ulimit -v``) is one line and 2; stdout on a full disk is one line.
Bugs still raise.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from . import interrupts
from .errors import TwistfmError, WriteError

__all__ = ["OUT_OF_MEMORY", "run_app", "run_guarded"]

#: The line a command that ran out of memory ends with.
OUT_OF_MEMORY = ("error: out of memory: the command needed more memory than this process may use (the machine's, or a "
                 "limit such as ulimit -v); use fewer images (--n-train, --n-test) or free memory, then run it again; "
                 "files are written whole or not at all, so nothing was half-written")


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed (NumPy's and Python's MemoryError, PyTorch's allocator)."""
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))


def run_guarded(command: Callable[[], Any]) -> int:
    """Run ``command``; turn user errors into one line on stderr and return the exit code.

    ``TwistfmError`` -> its own code (2, or 130 for an interruption); Typer's usage errors
    -> 2; Ctrl-C -> 130 (143 after SIGTERM); out of memory -> 2. Bugs still raise.
    """
    try:
        code = command()
    except TwistfmError as exc:
        if exc.exit_code == 130:
            print(f"stopped: {exc}", file=sys.stderr)
            return interrupts.exit_code()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.TyperException as exc:  # Click's usage and parameter errors
        print(_usage_error_line(exc), file=sys.stderr)
        return 2
    except (KeyboardInterrupt, typer.Abort):
        print(_STOPPED, file=sys.stderr)
        return interrupts.exit_code()
    except Exception as exc:
        if _out_of_memory(exc):
            print(OUT_OF_MEMORY, file=sys.stderr)
            return 2
        if not interrupts.caused_by_interrupt(exc):
            raise
        print(_STOPPED, file=sys.stderr)  # e.g. an import that Ctrl-C cut short, failing again on the way out
        return interrupts.exit_code()
    if code == 130:  # Typer turned a KeyboardInterrupt outside the guarded blocks into Exit(130)
        print(_STOPPED, file=sys.stderr)
        return interrupts.exit_code()
    return code if isinstance(code, int) else 0


_STOPPED = "stopped: interrupted; nothing was left half-written (files are written whole or not at all); run the " \
           "command again"


class _Stdout:
    """stdout, whose failure (a full disk, /dev/full) is one line instead of a traceback."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        return self._guard(self._stream.write, text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def _guard(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            self._stream = open(os.devnull, "w")  # noqa: SIM115 - what is left is dropped, never retried
            raise WriteError(f"stdout: cannot write the output ({exc.strerror or exc}); send it to a file on a disk "
                             "with space") from None


def _usage_error_line(exc: typer.TyperException) -> str:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        return ctx.get_help()
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {exc.format_message()}{hint}"


def run_app(app: Callable[..., Any]) -> int:
    """Run a Typer ``app`` as the console script does; return its exit code.

    SIGTERM stops a command as Ctrl-C does (one line, a resume hint, exit code 143).
    """
    interrupts.install()
    original = sys.stdout
    sys.stdout = _Stdout(original)
    try:
        code = run_guarded(lambda: app(standalone_mode=False))
        sys.stdout.flush()
    except WriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    if isinstance(sys.stdout, _Stdout) and sys.stdout._stream is not original:  # the real stdout failed: drop it
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), original.fileno())
    return code
