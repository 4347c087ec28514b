"""Progress reporting: a live bar on a terminal, quiet plain lines in CI and pipes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["is_interactive", "track", "say"]

T = TypeVar("T")


def is_interactive() -> bool:
    """True when stderr is a terminal and we are not running under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a Rich progress bar when interactive, silently otherwise."""
    if not is_interactive():
        yield from items
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


def say(message: str) -> None:
    """Print one status line to stderr (kept off stdout so JSON output stays clean)."""
    print(message, file=sys.stderr, flush=True)
