"""The epoch loop: each epoch shuffles, augments and steps from generators seeded by (seed, epoch).

So an epoch is a pure function of (weights, optimiser state, seed, epoch number), and a run
resumed from its last end-of-epoch checkpoint ends with exactly the weights and history of
an uninterrupted run. Each epoch evaluates the validation images (or, without any, the test
images) without test-time augmentation; the last epoch reads the test images as the final
metrics do (with test-time augmentation where asked), and the final metrics reuse that reading.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..distributed import PeerStopped, Team
from ..errors import Interrupted, OptionError
from ..progress import BatchBar
from .evaluation import evaluate, final_metrics, read_test, scores_of
from .events import Callback, LoopCallback, RunFolder, TrainEvent, is_due
from .steps import augment, autocast, epoch_seed, erase, lr_at, optimizer_to

if TYPE_CHECKING:
    from ..train import Splits, TrainConfig

__all__ = ["Loop"]


@dataclass
class Loop:
    """The state one training loop works on, so its steps read as plain method calls.

    ``run`` only names the run in messages, tells callbacks and is read from on resume;
    writing it is the business of the :mod:`.writers` callbacks.
    """

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    splits: Splits
    device: torch.device
    run: RunFolder | None
    callbacks: Sequence[Callback]
    team: Team
    precision: str
    precision_reason: str
    progress: bool = True
    history: list[dict[str, float]] = field(default_factory=list)
    #: The last epoch's test logits (read as the final metrics read them) and their seconds, kept for those metrics.
    final_logits: tuple[torch.Tensor, float] | None = None

    def __post_init__(self) -> None:
        self.channels_last = self.device.type == "cpu"
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        optimizer_to(self.optimizer, self.device)
        # The network the steps run through: the model itself, or its data-parallel wrapper,
        # which averages the gradients of all processes (and starts them from process 0's weights).
        self.net = self.model
        if self.team.size > 1:
            with self.team.collective():
                self.net = DistributedDataParallel(self.model)
        # The weights that are evaluated and saved: the model's own, or their moving average.
        self.ema = (AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(self.config.ema), use_buffers=True)
                    if self.config.ema else None)
        self.averaged = self.ema.module if self.ema is not None else self.model
        self.global_batch = self.config.batch_size * self.team.size
        n_fit = len(self.splits.x_fit)
        # Several processes drop a last global batch too small to give every process an image.
        self.steps_per_epoch = (math.ceil(n_fit / self.global_batch) if self.team.size == 1 else
                                n_fit // self.global_batch + (n_fit % self.global_batch >= self.team.size))
        self.first_epoch = 1

    @property
    def extra(self) -> dict[str, nn.Module]:
        """The modules a checkpoint holds besides the model and the optimiser (the moving average)."""
        return {"ema": self.ema} if self.ema is not None else {}

    @property
    def hooked(self) -> list[LoopCallback]:
        """The callbacks that hear the start and the end of training."""
        return [callback for callback in self.callbacks if isinstance(callback, LoopCallback)]

    def run_epochs(self, resume: bool) -> bool:
        """Restore (on ``resume``), then train the remaining epochs; True when a callback stopped early."""
        if resume:
            self._restore()
        self.first_epoch = len(self.history) + 1
        for callback in self.hooked:
            callback.begin(self)
        stopped = self._train()
        self.net = self.model  # drop the data-parallel wrapper before the process group goes
        return stopped

    def finish(self, stopped: bool) -> tuple[nn.Module, dict[str, Any]]:
        """Process 0 after training: the final model (on the CPU) and metrics, handed to the hooked callbacks."""
        metrics = final_metrics(self, stopped)
        model = self.averaged.to(torch.device("cpu")).to(memory_format=torch.contiguous_format)
        for callback in self.hooked:
            callback.finish(model, self.history, metrics)
        return model, metrics

    def _restore(self) -> None:
        """The history so far and the state after it, from the checkpoint (read by process 0, sent to the others)."""
        model, optimizer, team = self.model, self.optimizer, self.team
        if team.main:
            self.history = self.run.load_checkpoint(model, optimizer, self.config.epochs, extra=self.extra)
        if team.size > 1:
            state = team.broadcast((model.state_dict(), optimizer.state_dict(), self.history,
                                    {k: m.state_dict() for k, m in self.extra.items()}) if team.main else None)
            if not team.main:
                model.load_state_dict(state[0])
                optimizer.load_state_dict(state[1])
                self.history = state[2]
                for name, module in self.extra.items():
                    module.load_state_dict(state[3][name])
        optimizer_to(optimizer, self.device)

    def _train(self) -> bool:
        epochs = self.config.epochs
        for epoch in range(len(self.history) + 1, epochs + 1):
            done = epoch - 1
            left = (f"the checkpoint after epoch {done} is saved: resume with 'twistfm train --resume {self.run}'"
                    if done and self.run is not None else
                    "nothing was kept (training in memory); start again" if self.run is None else
                    "no checkpoint was written yet; start again")
            try:
                self.history.append(self._epoch(epoch))
                stop = self.team.main and self._end_epoch(epoch)
                if self.team.broadcast(stop):
                    return True
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted during epoch {epoch}/{epochs}; {left}") from None
            except PeerStopped as exc:
                raise PeerStopped(f"{exc}, during epoch {epoch}/{epochs}; {left}"
                                  + (" with the same number of processes" if done else "")) from None
        return False

    def _end_epoch(self, epoch: int) -> bool:
        """Process 0 after an epoch: every callback (the writers and the epoch line first); True to stop."""
        row = self.history[-1]
        event = TrainEvent("epoch", epoch, self.steps_per_epoch, row["train_loss"], row, self.run, self.model)
        return any([callback(event) for callback in self.callbacks])

    def _epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the shuffled fit images, then the evaluation; returns the history row."""
        config, splits, team, size = self.config, self.splits, self.team, self.global_batch
        seed = epoch_seed(config.seed, epoch - 1)
        torch.manual_seed(seed)  # dropout draws
        gen = torch.Generator().manual_seed(seed + 1)
        order = torch.randperm(len(splits.x_fit), generator=gen)
        self.model.train()
        start = time.perf_counter()
        # Sums stay tensors until the epoch ends: reading a value each step would make every step wait for it.
        loss_sum, correct, seen = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.int64), 0
        bar = BatchBar(f"epoch {epoch}/{config.epochs}", self.steps_per_epoch, shown=self.progress)
        for b in range(self.steps_per_epoch):
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(config, (epoch - 1) * self.steps_per_epoch + b, self.steps_per_epoch * config.epochs)
            idx = order[b * size:(b + 1) * size][team.rank::team.size]  # this process's share of the global batch
            loss, hits = self._step(splits.x_fit[idx], splits.y_fit[idx], gen)
            loss_sum += loss.double() * len(idx)
            correct += hits
            seen += len(idx)
            if bar.active:
                bar.advance(f"loss {loss_sum.item() / seen:.4f} acc {correct.item() / seen:.4f}")
            self._after_step(epoch, b + 1, loss)
        bar.close()
        if not math.isfinite(loss_sum.item()):
            self._diverged(epoch, loss_sum.item())
        loss_sum, correct, seen = team.all_sum([loss_sum.item(), correct.item(), seen])
        epoch_time = time.perf_counter() - start
        start = time.perf_counter()
        scores = self._evaluate(epoch)
        return {"epoch": epoch, "train_loss": loss_sum / seen, "train_acc": correct / seen, **scores,
                "lr": self.optimizer.param_groups[0]["lr"], "epoch_time": epoch_time,
                "eval_time": time.perf_counter() - start}

    def _after_step(self, epoch: int, step: int, loss: torch.Tensor) -> None:
        """Tell the callbacks due after ``step``; only then wait for the step's loss."""
        due = [callback for callback in self.callbacks if is_due(callback, step)]
        if due:
            event = TrainEvent("step", epoch, step, loss.item(), None, self.run, self.model, self.team.rank)
            for callback in due:
                callback(event)

    def _evaluate(self, epoch: int) -> dict[str, float]:
        """The epoch's validation and test scores (NaN where not read; process 0 only, the others wait for its row)."""
        val_loss = val_acc = test_loss = test_acc = float("nan")
        splits, config = self.splits, self.config
        if self.team.main:
            # Test-time augmentation and the test set cost a third of an epoch: each epoch reads the
            # validation images plainly (the test images where there are none), the last one the test
            # images as the final metrics do (they reuse that reading).
            val_loss, val_acc = evaluate(self.averaged, splits.x_val, splits.y_val, False, self.precision)
            if epoch == config.epochs:
                self.final_logits = read_test(self)
                test_loss, test_acc = scores_of(self.final_logits[0], splits.y_test)
            elif not len(splits.x_val):
                test_loss, test_acc = evaluate(self.averaged, splits.x_test, splits.y_test, False, self.precision)
        return {"val_loss": val_loss, "val_acc": val_acc, "test_loss": test_loss, "test_acc": test_acc}

    def _step(self, xb: torch.Tensor, yb: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a batch; returns its loss and the number it got right (as tensors)."""
        if self.config.augment:
            xb = augment(xb, gen)
        if self.config.erasing:
            xb = erase(xb, gen, self.config.erasing)
        xb, yb = xb.to(self.device), yb.to(self.device)
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.precision):
            logits = self.net(xb)
        loss = F.cross_entropy(logits.float(), yb, label_smoothing=self.config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        with self.team.collective():
            loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return loss.detach(), (logits.detach().argmax(1) == yb).sum()

    def _diverged(self, epoch: int, loss: float) -> None:
        done = epoch - 1
        kept = (f"the checkpoint after epoch {done} is kept" if done else "no checkpoint was written")
        raise OptionError(f"{self.run or 'training'}: the training loss became {loss} during epoch {epoch}: training diverged; "
                          f"{kept}. Train again with a smaller --lr (now {self.config.lr:g})")
