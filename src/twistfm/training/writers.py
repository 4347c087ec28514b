"""The callbacks that write a run folder as training goes, and the line said after each epoch.

:func:`run_writers` gives what :func:`twistfm.train.fit` writes into a run: the model's
layer table before a new run's first epoch, the checkpoint and the history after every
epoch (so an interrupted run resumes, and a running one shows its curve so far), and the
weights, history and metrics at the end, when the checkpoint goes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import nn

from ..models import ModelRecord, format_summary
from .events import LoopCallback, RunFolder, TrainEvent

if TYPE_CHECKING:
    from .loop import Loop

__all__ = ["SummaryWriter", "CheckpointWriter", "ResultWriter", "EpochLine", "run_writers"]


class SummaryWriter(LoopCallback):
    """Writes the model's Keras-style layer table before the first epoch."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run

    def begin(self, loop: Loop) -> None:
        """Write ``summary.txt``."""
        self.run.write_summary(format_summary(loop.model, loop.config.model))


class CheckpointWriter(LoopCallback):
    """After every epoch: the end-of-epoch checkpoint, then the history so far."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run
        self.loop: Loop | None = None

    def begin(self, loop: Loop) -> None:
        """Remember the loop whose optimiser, moving average and history a checkpoint holds."""
        self.loop = loop

    def __call__(self, event: TrainEvent) -> None:
        """Write the checkpoint and ``history.csv``."""
        loop = self.loop
        self.run.save_checkpoint(loop.model, loop.optimizer, loop.history, extra=loop.extra)
        self.run.write_history(loop.history)


class ResultWriter(LoopCallback):
    """At the end: the final weights and their record, the history and the metrics; then the checkpoint goes."""

    def __init__(self, run: RunFolder, record: ModelRecord) -> None:
        self.run, self.record = run, record

    def finish(self, model: nn.Module, history: list[dict[str, float]], metrics: dict[str, Any]) -> None:
        """Write ``model.safetensors``, ``model.json``, ``history.csv`` and ``metrics.json``; remove the checkpoint."""
        self.run.save_model(model, self.record)
        self.run.write_history(history)
        self.run.write_metrics(metrics)
        self.run.clear_checkpoint()


class EpochLine(LoopCallback):
    """Says one line per epoch (losses, accuracies, seconds, precision); the precision's reason with the first."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.loop: Loop | None = None

    def begin(self, loop: Loop) -> None:
        """Remember the loop whose epochs are said."""
        self.loop = loop

    def __call__(self, event: TrainEvent) -> None:
        """Say the epoch's line."""
        loop, row, epoch = self.loop, event.row, event.epoch
        if epoch == loop.first_epoch:  # said once, with the first epoch's line, so an error stays one line
            self.log(f"precision: {loop.precision_reason}")
        held_out = f"val_loss {row['val_loss']:.4f}  val_acc {row['val_acc']:.4f}  " if len(loop.splits.x_val) else ""
        test = f"test_acc {row['test_acc']:.4f}  " if math.isfinite(row["test_acc"]) else ""
        self.log(f"epoch {epoch}/{loop.config.epochs}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}  "
                 f"{held_out}{test}{row['epoch_time']:.1f}s + {row['eval_time']:.1f}s eval  {loop.precision}")


def run_writers(run: RunFolder, record: ModelRecord, resume: bool) -> list[LoopCallback]:
    """The callbacks that write ``run``: a new run's summary, the checkpoints and history, the results."""
    return [*([] if resume else [SummaryWriter(run)]), CheckpointWriter(run), ResultWriter(run, record)]
