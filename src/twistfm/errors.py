"""The errors a user can cause or fix: the command line turns each into one line and an exit code.

Every :class:`TwistfmError` carries an exit code: 2 for a bad file, option, run or
environment, 130 for :class:`Interrupted`. The command line ends with that code, except
after an interruption, where it reports the signal that stopped it as a shell would: 130
after Ctrl-C (SIGINT), 143 after SIGTERM (see :func:`twistfm.interrupts.exit_code`). Bugs in
twistfm itself raise ordinary Python exceptions instead, so they are never disguised as
user errors.
"""

from __future__ import annotations

__all__ = ["TwistfmError", "DataError", "RunError", "OptionError", "WriteError", "Interrupted"]


class TwistfmError(Exception):
    """Base class for every problem a user can fix (bad file, bad option, missing data).

    The message is one line that says what is wrong, where, and how to fix it.
    """

    #: Exit code of the command line when this error ends a command.
    exit_code: int = 2


class DataError(TwistfmError):
    """A data file is missing, unreadable, malformed or fails verification."""


class RunError(TwistfmError):
    """A run directory is missing, incomplete, corrupt or from an incompatible version."""


class OptionError(TwistfmError):
    """An option value is out of range or inconsistent with the data."""


class WriteError(TwistfmError):
    """A file could not be written (disk full, file-size limit, permissions, not a folder)."""


class Interrupted(TwistfmError):
    """Work was stopped by Ctrl-C or SIGTERM; the message says what was left and how to continue."""

    exit_code = 130
