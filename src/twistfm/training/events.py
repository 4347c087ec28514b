"""What training tells its callbacks, how often each is called, and the run folder it writes through.

A callback says how often it needs to be called (as openTSNE's ``optimize`` takes
``callbacks_every_iters``) by its ``steps`` attribute: 1 (a plain callable: every step), n
(every n steps of an epoch) or None (only after epochs). A step event makes the loop wait
for the step's loss, so a callback that watches epochs costs the steps nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from torch import nn

from ..errors import OptionError

if TYPE_CHECKING:
    import torch

    from ..models import ModelRecord
    from .loop import Loop

__all__ = ["TrainEvent", "Callback", "every", "is_due", "LoopCallback", "RunFolder"]


class RunFolder(Protocol):
    """What training needs of a run folder (:class:`twistfm.runs.RunDir` is one); its ``str`` names it in messages."""

    def save_checkpoint(self, model: nn.Module, optimizer: torch.optim.Optimizer, history: list[dict[str, float]],
                        extra: dict[str, nn.Module] | None = None) -> None:
        """Write the end-of-epoch checkpoint."""

    def load_checkpoint(self, model: nn.Module, optimizer: torch.optim.Optimizer, epochs: int,
                        extra: dict[str, nn.Module] | None = None) -> list[dict[str, float]]:
        """Restore the checkpoint into ``model``, ``optimizer`` and ``extra``; return the history so far."""

    def clear_checkpoint(self) -> None:
        """Remove the checkpoint once the final weights are written."""

    def write_history(self, rows: list[dict[str, float]]) -> None:
        """Write the history, one row per epoch."""

    def write_summary(self, text: str) -> None:
        """Write the model's layer table."""

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Write the final metrics."""

    def save_model(self, model: nn.Module, record: ModelRecord) -> None:
        """Write the final weights and the model's record."""


@dataclass(frozen=True)
class TrainEvent:
    """What a callback is told after each step and each epoch.

    Attributes
    ----------
    kind : {"step", "epoch"}
    epoch : int
        The epoch in progress (step) or just finished (epoch), counted from 1.
    step : int
        Batches done in this epoch (counted from 1).
    loss : float
        The batch's loss (step) or the epoch's mean training loss (epoch).
    row : dict or None
        The epoch's history row (epoch events only), after its checkpoint was written.
    run : RunFolder or None
        The run folder (None when training in memory).
    model : nn.Module
        The model being trained (as Keras callbacks see ``self.model``).
    rank : int
        The training process (0 unless training runs on several processes; epoch events
        reach process 0 only).
    """

    kind: str
    epoch: int
    step: int
    loss: float
    row: dict[str, float] | None
    run: RunFolder | None
    model: nn.Module
    rank: int = 0


#: A callback receives :class:`TrainEvent`s; returning True after an epoch stops training there. A plain
#: callable is called after every step and every epoch; wrap it with :func:`every` to be called less often.
Callback = Callable[[TrainEvent], "bool | None"]


@dataclass(frozen=True)
class _Every:
    callback: Callback
    steps: int | None  # None: epochs only

    def __call__(self, event: TrainEvent) -> bool | None:
        return self.callback(event)


def every(steps: int | str, callback: Callback) -> Callback:
    """``callback``, called after every ``steps`` steps of each epoch, or only after epochs (``steps="epoch"``).

    A step event makes the loop wait for the step's loss; a callback that needs only epochs
    (a sweep's reporter, a progress line) costs nothing per step.
    """
    if steps == "epoch":
        return _Every(callback, None)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise OptionError(f"every(): steps must be a positive integer or 'epoch', got {steps!r}")
    return _Every(callback, steps)


def is_due(callback: Callback, step: int) -> bool:
    """Whether ``callback`` is called after ``step`` (counted from 1) of an epoch."""
    steps = callback.steps if isinstance(callback, _Every | LoopCallback) else 1
    return steps is not None and step % steps == 0


class LoopCallback:
    """A callback that also hears when training starts and ends; called after epochs only.

    The run writers and the epoch line are such callbacks; :func:`twistfm.train.fit` puts
    them before the caller's, so a caller's epoch callback sees the checkpoint written.
    """

    steps: int | None = None

    def begin(self, loop: Loop) -> None:
        """Called once before the first epoch this call trains (after a resume's restore)."""

    def __call__(self, event: TrainEvent) -> bool | None:
        """Called after every epoch (on process 0)."""
        return None

    def finish(self, model: nn.Module, history: list[dict[str, float]], metrics: dict[str, Any]) -> None:
        """Called once on process 0 after training, with the final model (on the CPU) and metrics."""
