"""What every workflow shares: the type of a progress sink, and turning Ctrl-C into one line."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from .. import interrupts
from ..errors import Interrupted

#: Where a workflow's progress lines go (None: nowhere).
Log = Callable[[str], None] | None


def quiet(log: Log) -> Callable[[str], None]:
    """``log``, or a sink that drops every line."""
    return log or (lambda _line: None)


@contextlib.contextmanager
def interrupted(message: Callable[[], str]) -> Iterator[None]:
    """Turn Ctrl-C inside the block into one :class:`Interrupted` line built by ``message``."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(message()) from None
    except Exception as exc:
        if not interrupts.caused_by_interrupt(exc):
            raise
        raise Interrupted(message()) from None
