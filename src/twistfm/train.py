"""Training, readable top to bottom: data -> model -> loop -> checkpoints -> saved run.

Every epoch is a pure function of (weights, optimiser state, seed, epoch number): its
shuffle, augmentation and dropout draw from generators seeded by ``(seed, epoch)``, and the
learning rate is a pure function of the step. So a run resumed from its last end-of-epoch
checkpoint finishes with exactly the weights and history of an uninterrupted run.

:func:`fit` calls its callbacks as often as each asks (as openTSNE's ``optimize`` takes
``callbacks_every_iters``): after every step, every n steps, or only after every epoch, so
a callback that watches epochs costs the steps nothing. An epoch callback may stop
training, and tests use step callbacks to interrupt a run at an exact program point.

Precision is chosen by the machine (:mod:`twistfm.machine`): "auto" trains in bfloat16 only
where the hardware computes it natively. Each epoch evaluates the validation images (or,
without any, the test images) without test-time augmentation; the last epoch evaluates
the test images as the final metrics do.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .data import Dataset
from .distributed import PeerStopped, Team
from .errors import Interrupted, OptionError, RunError
from .machine import PRECISIONS, available_cores, choose_precision, native_bf16
from .models import ModelRecord, check_model_args, count_parameters, create_model, format_summary, inference_layout, to_input
from .progress import BatchBar, say
from .runs import RunDir
from .schema import Typed, from_json

__all__ = ["TrainConfig", "Splits", "TrainEvent", "TrainResult", "Callback", "fit", "evaluate", "predict",
           "select_device", "every", "OPTIMIZERS", "SCHEDULES", "PRECISIONS"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine")
_MAX_TORCH_SEED = 2**63 - 1


@dataclass(frozen=True, kw_only=True)
class TrainConfig(Typed):
    """Everything that decides a training run; written to ``config.json``.

    Parameters
    ----------
    model : str
        Registered model name.
    model_args : dict, default={}
        Architecture arguments passed to :func:`twistfm.models.create_model`.
    optimizer : {"sgd", "adam", "adamw"}, default="adam"
    lr : float, default=1e-3
        Learning rate (the peak rate for "onecycle").
    momentum : float, default=0.0
        SGD momentum.
    weight_decay : float, default=0.0
    schedule : {"constant", "onecycle", "cosine"}, default="constant"
    batch_size : int, default=32
    epochs : int, default=10
    val_split : float, default=0.2
        Fraction of the training images held out for validation: the last ones, in file
        order (the seeds' Keras ``validation_split`` took them so). 0 trains on everything.
    augment : bool, default=False
        Random horizontal flips and shifts of up to 2 pixels.
    tta : bool, default=False
        Test-time augmentation: evaluate on the mean logits of each image and its mirror.
    label_smoothing : float, default=0.0
    erasing : float, default=0.0
        Probability of erasing a random rectangle (2-25 % of the image) of each training image.
    ema : float, default=0.0
        Decay of an exponential moving average of the weights, updated after every step (0:
        none). With it, evaluation and the saved model use the averaged weights.
    nesterov : bool, default=False
        Nesterov momentum (SGD).
    precision : {"auto", "fp32", "bf16"}, default="auto"
        "bf16" runs the forward passes under bfloat16 autocast (fast on CPUs with AVX-512
        BF16 or AMX, and on GPUs of compute capability 8.0 or newer; several times slower
        where it is emulated); the weights and the loss stay in float32. "auto" takes bf16
        where it is native and fp32 elsewhere (see :func:`twistfm.machine.choose_precision`).
    seed : int, default=0
    device : str, default="auto"
        "auto" takes CUDA when present, else the CPU.
    threads : int or None, default=None
        CPU threads for PyTorch; None keeps PyTorch's default, capped at the cores this
        process may really use (CPU affinity and cgroup quota).
    """

    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    batch_size: int = 32
    epochs: int = 10
    val_split: float = 0.2
    augment: bool = False
    tta: bool = False
    label_smoothing: float = 0.0
    erasing: float = 0.0
    ema: float = 0.0
    nesterov: bool = False
    precision: str = "auto"
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def check(self) -> None:
        """Raise OptionError for any value out of range (the one validation, at the entry of training)."""
        check_model_args(self.model, self.model_args)
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"--optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise OptionError(f"--schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise OptionError(f"--precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        for option, value in (("--lr", self.lr), ("--momentum", self.momentum), ("--weight-decay", self.weight_decay),
                              ("--val-split", self.val_split), ("--label-smoothing", self.label_smoothing),
                              ("--erasing", self.erasing), ("--ema", self.ema)):
            if not math.isfinite(value):
                raise OptionError(f"{option} must be a finite number, got {value}")
        checks = [
            (self.lr > 0, f"--lr must be positive, got {self.lr}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (0 <= self.val_split < 1, f"--val-split must be in [0, 1), got {self.val_split}"),
            (0 <= self.momentum < 1, f"--momentum must be in [0, 1), got {self.momentum}"),
            (self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}"),
            (0 <= self.label_smoothing < 1, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}"),
            (0 <= self.erasing <= 1, f"--erasing must be in [0, 1], got {self.erasing}"),
            (0 <= self.ema < 1, f"--ema must be in [0, 1), got {self.ema}"),
            (0 <= self.seed <= _MAX_TORCH_SEED, f"--seed must be in 0..{_MAX_TORCH_SEED}, got {self.seed}"),
            (self.threads is None or self.threads >= 1, f"--threads must be at least 1, got {self.threads}"),
            (self.device in ("auto", "cpu") or self.device.startswith("cuda"),
             f"--device {self.device!r}: use auto, cpu or cuda"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)

    @classmethod
    def from_json(cls, obj: Any, where: str = "config.json") -> TrainConfig:
        """Rebuild a config from JSON, refusing unknown, missing or mistyped fields and bad values."""
        config = from_json(cls, obj, where)
        try:
            config.check()
        except OptionError as exc:
            raise RunError(f"{where}: invalid training config ({exc})") from None
        return config


@dataclass(frozen=True)
class Splits:
    """The tensors one training run uses: fit, validation and test images (float32 NCHW) and label indices."""

    x_fit: torch.Tensor
    y_fit: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @classmethod
    def from_dataset(cls, dataset: Dataset, val_split: float) -> Splits:
        """Hold out the last ``val_split`` of the training images for validation."""
        x_train = to_input(dataset.x_train)
        y_train = torch.from_numpy(dataset.label_index(dataset.y_train))
        n_fit = len(x_train) - int(len(x_train) * val_split)
        if n_fit < 1:
            raise OptionError(f"--val-split {val_split} leaves no training images")
        return cls(x_train[:n_fit], y_train[:n_fit], x_train[n_fit:], y_train[n_fit:],
                   to_input(dataset.x_test), torch.from_numpy(dataset.label_index(dataset.y_test)))


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
    run : RunDir or None
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
    run: RunDir | None
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


def _due(callback: Callback, step: int) -> bool:
    steps = callback.steps if isinstance(callback, _Every) else 1
    return steps is not None and step % steps == 0


@dataclass
class TrainResult:
    """What :func:`fit` produced: the run folder, the trained model, its history and metrics.

    On training processes other than 0 the metrics are empty (and the model may be None).
    """

    run: RunDir | None
    model: nn.Module | None
    history: list[dict[str, float]]
    metrics: dict[str, Any]


def select_device(name: str, team: Team | None = None) -> torch.device:
    """The torch device for ``name`` ("auto": CUDA when available, else CPU).

    In a team of several processes on CUDA, each process takes the GPU of its local rank.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"--device {name}: no CUDA device is available; use --device cpu")
    if name == "cuda" and team is not None and team.size > 1:
        return torch.device("cuda", team.local_rank)
    return torch.device(name)


def fit(config: TrainConfig, dataset: Dataset, run: RunDir | None = None, *, resume: bool = False,
        callbacks: Sequence[Callback] = (), log: Callable[[str], None] | None = say,
        team: Team = Team(), precision: str | None = None) -> TrainResult:
    """Train ``config.model`` on ``dataset`` (into ``run``, checkpointing after every epoch, when given).

    Parameters
    ----------
    config : TrainConfig
    dataset : Dataset
        The images to train on (already sliced to the run's counts).
    run : RunDir or None, default=None
        The run folder (its ``config.json`` is the caller's business); None trains in memory
        and writes nothing.
    resume : bool, default=False
        Continue from the run's last end-of-epoch checkpoint.
    callbacks : sequence of callables, default=()
        Each is called with a :class:`TrainEvent` after every step (or as :func:`every`
        says) and every epoch; one returning True after an epoch stops training there (the
        run is then finished with the epochs done, and ``metrics["stopped_early"]`` is true).
    log : callable or None, default=print to stderr
        Receives one line per epoch.
    team : Team, default=a single process
        The processes training together (see :mod:`twistfm.distributed`): each takes its
        share of every global batch of ``config.batch_size`` x ``team.size`` images; only
        process 0 writes to ``run``.
    precision : {"fp32", "bf16"} or None, default=None
        The precision to use, already chosen (a resumed run keeps the one it started with);
        None chooses it from ``config.precision`` and the device.

    Returns
    -------
    TrainResult
        On processes other than 0, its metrics are empty.
    """
    config.check()
    if resume and run is None:
        raise OptionError("resuming needs the run folder to resume from")
    _set_threads(config.threads)
    device = select_device(config.device, team)
    used, reason = choose_precision(config.precision, device)
    if precision is not None:
        used, reason = precision, f"{precision} (the precision this run started with)"
    elif config.precision == "bf16" and not native_bf16(device)[0] and team.main:
        _warn(log, f"warning: --precision bf16 on a device without native bfloat16: training will be several "
                   f"times slower than in fp32 ({reason}); use --precision auto or fp32")
    splits = Splits.from_dataset(dataset, config.val_split)
    torch.manual_seed(config.seed)
    model = create_model(config.model, dataset.num_labels, dataset.input_shape, **config.model_args)
    optimizer = _make_optimizer(config, model)
    loop = _Loop(config, model.to(device), optimizer, splits, device, run, callbacks, log, team, used, reason)
    history = _start(config, loop, run, resume, team)
    stopped = loop.train(history)
    loop.net = loop.model  # drop the data-parallel wrapper before the process group goes
    if not team.main:
        return TrainResult(run, model, history, {})

    metrics = {**_final_metrics(loop, history, stopped), "precision": used, "precision_reason": reason}
    model = loop.averaged.to(torch.device("cpu")).to(memory_format=torch.contiguous_format)
    if run is not None:
        run.save_model(model, ModelRecord.of(config.model, dict(config.model_args), dataset))
        run.write_history(history)
        run.write_metrics(metrics)
        run.clear_checkpoint()
    return TrainResult(run, model, history, metrics)


def _set_threads(threads: int | None) -> None:
    """Take ``threads`` CPU threads, or cap PyTorch's default at the cores really available.

    PyTorch counts the machine's cores, not the ones a container's CPU quota or the
    process's affinity allows; more threads than those cores make every step wait.
    """
    if threads:
        torch.set_num_threads(threads)
    elif torch.get_num_threads() > available_cores():
        torch.set_num_threads(available_cores())


def _warn(log: Callable[[str], None] | None, line: str) -> None:
    if log is not None:
        log(line)
    else:
        warnings.warn(line, stacklevel=3)


def _start(config: TrainConfig, loop: _Loop, run: RunDir | None, resume: bool, team: Team) -> list[dict[str, float]]:
    """The history so far: restored from the checkpoint (by process 0, then sent to the others) or empty."""
    model, optimizer = loop.model, loop.optimizer
    if not resume or run is None:
        if team.main and run is not None:
            run.write_summary(format_summary(model, config.model))
        return []
    history = run.load_checkpoint(model, optimizer, config.epochs, extra=loop._extra()) if team.main else []
    if team.size > 1:
        extra = loop._extra()
        state = team.broadcast((model.state_dict(), optimizer.state_dict(), history,
                                {k: m.state_dict() for k, m in extra.items()}) if team.main else None)
        if not team.main:
            model.load_state_dict(state[0])
            optimizer.load_state_dict(state[1])
            history = state[2]
            for name, module in extra.items():
                module.load_state_dict(state[3][name])
    _optimizer_to(optimizer, loop.device)
    return history


@dataclass
class _Loop:
    """The state one training loop works on, so its steps read as plain method calls."""

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    splits: Splits
    device: torch.device
    run: RunDir | None
    callbacks: Sequence[Callback]
    log: Callable[[str], None] | None
    team: Team
    precision: str
    precision_reason: str

    def __post_init__(self) -> None:
        self.channels_last = self.device.type == "cpu"
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        _optimizer_to(self.optimizer, self.device)
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

    def train(self, history: list[dict[str, float]]) -> bool:
        """Train the remaining epochs, appending to ``history``; True when a callback stopped early."""
        epochs = self.config.epochs
        self.first_epoch = len(history) + 1
        for epoch in range(len(history) + 1, epochs + 1):
            done = epoch - 1
            left = (f"the checkpoint after epoch {done} is saved: resume with 'twistfm train --resume {self.run}'"
                    if done and self.run is not None else
                    "nothing was kept (training in memory); start again" if self.run is None else
                    "no checkpoint was written yet; start again")
            try:
                history.append(self.train_epoch(epoch))
                stop = self.team.main and self.end_epoch(epoch, history)
                if self.team.broadcast(stop):
                    return True
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted during epoch {epoch}/{epochs}; {left}") from None
            except PeerStopped as exc:
                raise PeerStopped(f"{exc}, during epoch {epoch}/{epochs}; {left}"
                                  + (" with the same number of processes" if done else "")) from None
        return False

    def _extra(self) -> dict[str, nn.Module]:
        return {"ema": self.ema} if self.ema is not None else {}

    def end_epoch(self, epoch: int, history: list[dict[str, float]]) -> bool:
        """Process 0 after an epoch: checkpoint, history, log line, callbacks; True to stop."""
        row = history[-1]
        if self.run is not None:
            self.run.save_checkpoint(self.model, self.optimizer, history, extra=self._extra())
            self.run.write_history(history)
        if self.log is not None:
            if epoch == self.first_epoch:  # said once, with the first epoch's line, so an error stays one line
                self.log(f"precision: {self.precision_reason}")
            held_out = (f"val_loss {row['val_loss']:.4f}  val_acc {row['val_acc']:.4f}  " if len(self.splits.x_val) else "")
            test = f"test_acc {row['test_acc']:.4f}  " if math.isfinite(row["test_acc"]) else ""
            self.log(f"epoch {epoch}/{self.config.epochs}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}  "
                     f"{held_out}{test}{row['epoch_time']:.1f}s + {row['eval_time']:.1f}s eval  {self.precision}")
        event = TrainEvent("epoch", epoch, self.steps_per_epoch, row["train_loss"], row, self.run, self.model)
        return any([callback(event) for callback in self.callbacks])

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the shuffled fit images, then the evaluation; returns the history row."""
        config, splits = self.config, self.splits
        seed = _epoch_seed(config.seed, epoch - 1)
        torch.manual_seed(seed)  # dropout draws
        gen = torch.Generator().manual_seed(seed + 1)
        order = torch.randperm(len(splits.x_fit), generator=gen)
        total_steps = self.steps_per_epoch * config.epochs
        team, size = self.team, self.global_batch
        self.model.train()
        start = time.perf_counter()
        # Sums stay tensors until the epoch ends: reading a value each step would make every step wait for it.
        loss_sum, correct, seen = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.int64), 0
        bar = BatchBar(f"epoch {epoch}/{config.epochs}", self.steps_per_epoch, shown=self.log is not None)
        for b in range(self.steps_per_epoch):
            for group in self.optimizer.param_groups:
                group["lr"] = _lr_at(config, (epoch - 1) * self.steps_per_epoch + b, total_steps)
            idx = order[b * size:(b + 1) * size][team.rank::team.size]  # this process's share of the global batch
            loss, hits = self.step(splits.x_fit[idx], splits.y_fit[idx], gen)
            loss_sum += loss.double() * len(idx)
            correct += hits
            seen += len(idx)
            if bar.active:
                bar.advance(f"loss {loss_sum.item() / seen:.4f} acc {correct.item() / seen:.4f}")
            due = [callback for callback in self.callbacks if _due(callback, b + 1)]
            if due:
                event = TrainEvent("step", epoch, b + 1, loss.item(), None, self.run, self.model, team.rank)
                for callback in due:
                    callback(event)
        bar.close()
        if not math.isfinite(loss_sum.item()):
            self._diverged(epoch, loss_sum.item())
        loss_sum, correct, seen = team.all_sum([loss_sum.item(), correct.item(), seen])
        epoch_time = time.perf_counter() - start
        start = time.perf_counter()
        val_loss = val_acc = test_loss = test_acc = float("nan")
        if team.main:  # the others wait for process 0's row at the end of the epoch
            # Test-time augmentation and the test set cost a third of an epoch: each epoch reads the
            # validation images plainly (the test images where there are none), the last one the test
            # images as the final metrics do.
            last = epoch == config.epochs
            val_loss, val_acc = evaluate(self.averaged, splits.x_val, splits.y_val, False, self.precision)
            if last or not len(splits.x_val):
                test_loss, test_acc = evaluate(self.averaged, splits.x_test, splits.y_test, config.tta and last,
                                               self.precision)
        return {"epoch": epoch, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                "val_loss": val_loss, "val_acc": val_acc, "test_loss": test_loss, "test_acc": test_acc,
                "lr": self.optimizer.param_groups[0]["lr"], "epoch_time": epoch_time,
                "eval_time": time.perf_counter() - start}

    def step(self, xb: torch.Tensor, yb: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a batch; returns its loss and the number it got right (as tensors)."""
        if self.config.augment:
            xb = _augment(xb, gen)
        if self.config.erasing:
            xb = _erase(xb, gen, self.config.erasing)
        xb, yb = xb.to(self.device), yb.to(self.device)
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with _precision(self.device, self.precision):
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


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**63)


def _lr_at(config: TrainConfig, step: int, total: int) -> float:
    """Learning rate at global ``step`` of ``total`` (a pure function, so resuming needs no state)."""
    if config.schedule == "constant":
        return config.lr
    progress = step / max(1, total)
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * progress))
    warm = 0.25  # one-cycle: rise over the first quarter, cosine down to ~0 after
    if progress < warm:
        return config.lr * (0.04 + 0.96 * progress / warm)
    return config.lr * (0.5 * (1 + math.cos(math.pi * (progress - warm) / (1 - warm)))) + 1e-6


def _make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The optimiser, in its fused form: one kernel updates every parameter (fewer, larger steps on a CPU)."""
    params = list(model.parameters())
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                               nesterov=config.nesterov and config.momentum > 0, fused=True)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)


def _optimizer_to(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Give the optimiser's state tensors their parameters' device and memory layout (after loading a checkpoint).

    A fused optimiser walks a parameter and its state as flat memory, so a state tensor
    read back contiguous must take its channels-last parameter's strides again.
    """
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and key != "step":
                    if value.shape == param.shape:
                        state[key] = torch.empty_like(param).copy_(value)
                    else:
                        state[key] = value.to(device)


def _erase(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """Random erasing: with probability ``p``, zero a random rectangle (2-25 % of the area) of each image."""
    n, _, h, w = x.shape
    chosen = torch.rand(n, generator=gen) < p
    area = torch.empty(n).uniform_(0.02, 0.25, generator=gen) * h * w
    ratio = torch.exp(torch.empty(n).uniform_(math.log(0.3), math.log(3.3), generator=gen))
    eh = (area * ratio).sqrt().round().clamp(1, h).long()
    ew = (area / ratio).sqrt().round().clamp(1, w).long()
    y0 = (torch.rand(n, generator=gen) * (h - eh + 1)).long()
    x0 = (torch.rand(n, generator=gen) * (w - ew + 1)).long()
    rows, cols = torch.arange(h)[None, :], torch.arange(w)[None, :]
    inside = (((rows >= y0[:, None]) & (rows < (y0 + eh)[:, None]))[:, :, None]
              & ((cols >= x0[:, None]) & (cols < (x0 + ew)[:, None]))[:, None, :])
    return x.masked_fill((inside & chosen[:, None, None])[:, None], 0.0)


def _augment(x: torch.Tensor, gen: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Random horizontal flips and shifts of up to ``shift`` pixels, batched (any channels and size)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    if x.shape[1] == 1:  # grey: the indexing the recorded runs were trained with (same draws, same numbers)
        base = torch.arange(x.shape[2])
        rows = (base[None, :] + dy[:, None])[:, :, None]
        cols = (torch.arange(x.shape[3])[None, :] + dx[:, None])[:, None, :]
        return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
    rows = (torch.arange(x.shape[2])[None, :] + dy[:, None])[:, None, :, None]
    cols = (torch.arange(x.shape[3])[None, :] + dx[:, None])[:, None, None, :]
    return padded[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]


def _precision(device: torch.device, precision: str):
    """bfloat16 autocast for "bf16", nothing for "fp32"."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000, tta: bool = False,
            precision: str = "fp32") -> torch.Tensor:
    """Logits for every image of ``x`` (float32 NCHW), batched, in eval mode.

    With ``tta``, the logits are the mean over each image and its horizontal mirror.
    """
    model.eval()
    device = next(model.parameters()).device
    out = []
    with inference_layout(model) as layout:
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device).contiguous(memory_format=layout)
            with _precision(device, precision):
                logits = model(xb).float()
                if tta:
                    logits = (logits + model(xb.flip(3)).float()) / 2
            out.append(logits.cpu())
    return torch.cat(out) if out else torch.empty(0)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, tta: bool = False,
             precision: str = "fp32") -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on (x, y); NaN for no images."""
    if len(x) == 0:
        return float("nan"), float("nan")
    logits = predict(model, x, tta=tta, precision=precision)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def _final_metrics(loop: _Loop, history: list[dict[str, float]], stopped: bool) -> dict[str, Any]:
    start = time.perf_counter()
    logits = predict(loop.averaged, loop.splits.x_test, tta=loop.config.tta, precision=loop.precision)
    infer = time.perf_counter() - start
    y = loop.splits.y_test
    pred = logits.argmax(1)
    k = logits.shape[1]
    confusion = torch.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    train_seconds = sum(h["epoch_time"] for h in history)
    last = history[-1]
    return {
        "test_acc": (pred == y).float().mean().item(),
        "test_loss": F.cross_entropy(logits, y).item(),
        "train_acc": last["train_acc"], "val_acc": last["val_acc"], "val_loss": last["val_loss"],
        "epochs": len(history),
        "stopped_early": stopped,
        "training_seconds": train_seconds,
        "evaluation_seconds": sum(h["eval_time"] for h in history),
        "train_images_per_second": len(loop.splits.x_fit) * len(history) / train_seconds,
        "test_inference_seconds": infer,
        "test_images_per_second": len(y) / infer,
        "confusion": confusion.tolist(),
        "parameters": count_parameters(loop.averaged),
        "device": str(loop.device),
        "threads": torch.get_num_threads(),
    }

