"""Progress reporting: a live bar on a terminal, quiet plain lines in CI and pipes."""

from __future__ import annotations

import os
import sys

__all__ = ["is_interactive", "say", "BatchBar"]


def is_interactive() -> bool:
    """True when stderr is a terminal and we are not running under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def say(message: str) -> None:
    """Print one status line to stderr (kept off stdout so JSON output stays clean)."""
    print(message, file=sys.stderr, flush=True)


class BatchBar:
    """A per-batch Rich progress bar on a terminal (unless ``shown`` is false); nothing otherwise."""

    def __init__(self, description: str, total: int, shown: bool = True) -> None:
        self._progress = None
        if shown and is_interactive():
            from rich.progress import Progress, TextColumn

            self._progress = Progress(*Progress.get_default_columns(), TextColumn("{task.fields[info]}"),
                                      transient=True)
            self._progress.start()
            self._task = self._progress.add_task(description, total=total, info="")

    @property
    def active(self) -> bool:
        """Whether the bar is shown (only then is its text worth computing)."""
        return self._progress is not None

    def advance(self, info: str) -> None:
        """Move the bar one step on, showing ``info`` beside it."""
        if self._progress is not None:
            self._progress.update(self._task, advance=1, info=info)

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._progress is not None:
            self._progress.stop()
