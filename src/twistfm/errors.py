"""The errors a user can cause: each becomes one line and exit code 2 at the command line."""

from __future__ import annotations

__all__ = ["TwistfmError", "DataError", "RunError", "OptionError", "Interrupted"]


class TwistfmError(Exception):
    """Base class for every problem a user can fix (bad file, bad option, missing data).

    The message is one line that says what is wrong, where, and how to fix it.
    Bugs in twistfm itself raise ordinary Python exceptions instead.
    """


class DataError(TwistfmError):
    """A data file is missing, unreadable, malformed or fails verification."""


class RunError(TwistfmError):
    """A run directory is missing, incomplete, corrupt or from an incompatible version."""


class OptionError(TwistfmError):
    """An option value is out of range or inconsistent with the data."""


class Interrupted(TwistfmError):
    """Training was stopped by Ctrl-C; the message says how to resume."""
