"""Training, readable top to bottom: the config, the data splits, and :func:`fit` (data -> model -> loop -> run).

Every epoch is a pure function of (weights, optimiser state, seed, epoch number): its
shuffle, augmentation and dropout draw from generators seeded by ``(seed, epoch)``, and the
learning rate is a pure function of the step. So a run resumed from its last end-of-epoch
checkpoint finishes with exactly the weights and history of an uninterrupted run.

:func:`fit` calls its callbacks as often as each asks (see :func:`every`); writing a run
folder (the layer table, checkpoints, history, weights and metrics) is itself done by
callbacks (:mod:`twistfm.training.writers`), so without a run folder nothing is written.
Precision is chosen by the machine (:mod:`twistfm.machine`): "auto" trains in bfloat16 only
where the hardware computes it natively. The loop's parts are in :mod:`twistfm.training`;
the names to use are here. Each field of :class:`TrainConfig` carries its command-line help,
from which :mod:`twistfm.options` makes the options of ``twistfm train`` and ``compare``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .data import Dataset
from .distributed import Team
from .errors import OptionError, RunError
from .machine import PRECISIONS, available_cores
from .models import ModelRecord, check_model_args, create_model, to_input
from .progress import say
from .schema import Typed, from_json
from .training.evaluation import evaluate, predict
from .training.events import Callback, RunFolder, TrainEvent, every
from .training.loop import Loop
from .training.steps import make_optimizer, run_precision
from .training.writers import EpochLine, run_writers

__all__ = ["TrainConfig", "Splits", "TrainEvent", "TrainResult", "Callback", "RunFolder", "fit", "evaluate", "predict",
           "select_device", "every", "OPTIMIZERS", "SCHEDULES", "PRECISIONS"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine")
_MAX_TORCH_SEED = 2**63 - 1


def _option(default: Any, help: str, *, flag: str | None = None, factory: Callable[[], Any] | None = None) -> Any:
    """A config field with its command-line help, and its flag where it is not ``--`` + the name with dashes."""
    metadata = {"help": help, **({"flag": flag} if flag else {})}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, kw_only=True)
class TrainConfig(Typed):
    """Everything that decides a training run; written to ``config.json``.

    Each field's ``metadata`` holds its command-line help (``"help"``) and, where it differs
    from the field's name, its flag (``"flag"``): the one declaration of every training option.

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
        See :func:`twistfm.training.steps.lr_at` for each one's formula.
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

    model: str = field(metadata={"help": "Model name (see 'twistfm models')."})
    model_args: dict[str, Any] = _option(None, "Architecture argument NAME=VALUE.", flag="--model-arg", factory=dict)
    optimizer: str = _option("adam", "sgd, adam or adamw.")
    lr: float = _option(1e-3, "Learning rate, the peak for onecycle.")
    momentum: float = _option(0.0, "SGD momentum.")
    weight_decay: float = _option(0.0, "Weight decay.")
    schedule: str = _option("constant", "constant, onecycle or cosine.")
    batch_size: int = _option(32, "Batch size.")
    epochs: int = _option(10, "Epochs.")
    val_split: float = _option(0.2, "Last fraction of the training images held out for validation.")
    augment: bool = _option(False, "Random flips and shifts.")
    tta: bool = _option(False, "Evaluate on each image and its mirror (test-time augmentation).")
    label_smoothing: float = _option(0.0, "Label smoothing.")
    erasing: float = _option(0.0, "Probability of random erasing per image.")
    ema: float = _option(0.0, "Decay of a moving average of the weights, evaluated and saved (0: none).")
    nesterov: bool = _option(False, "Nesterov momentum (SGD).")
    precision: str = _option("auto", "auto (bf16 where the hardware computes it natively, else fp32), fp32, or bf16 "
                                     "(bfloat16 autocast; several times slower where it is emulated).")
    seed: int = _option(0, "Random seed: same seed, same machine, same numbers.")
    device: str = _option("auto", "auto, cpu or cuda.")
    threads: int | None = _option(None, "CPU threads.")

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


@dataclass
class TrainResult:
    """What :func:`fit` produced: the run folder, the trained model, its history and metrics.

    On training processes other than 0 the metrics are empty (and the model may be None).
    """

    run: RunFolder | None
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


def fit(config: TrainConfig, dataset: Dataset, run: RunFolder | None = None, *, resume: bool = False,
        callbacks: Sequence[Callback] = (), log: Callable[[str], None] | None = say,
        team: Team = Team(), precision: str | None = None) -> TrainResult:
    """Train ``config.model`` on ``dataset`` (into ``run``, checkpointing after every epoch, when given).

    Parameters
    ----------
    config : TrainConfig
    dataset : Dataset
        The images to train on (already sliced to the run's counts).
    run : RunFolder or None, default=None
        The run folder, e.g. a :class:`twistfm.runs.RunDir` (its ``config.json`` is the
        caller's business); None trains in memory and writes nothing.
    resume : bool, default=False
        Continue from the run's last end-of-epoch checkpoint.
    callbacks : sequence of callables, default=()
        Each is called with a :class:`TrainEvent` after every step (or as :func:`every`
        says) and every epoch, after the run's checkpoint and the epoch's line; one returning
        True after an epoch stops training there (the run is then finished with the epochs
        done, and ``metrics["stopped_early"]`` is true).
    log : callable or None, default=print to stderr
        Receives one line per epoch.
    team : Team, default=a single process
        The processes training together (see :mod:`twistfm.distributed`): each takes its share
        of every global batch of ``config.batch_size`` x ``team.size`` images; only process 0 writes.
    precision : {"fp32", "bf16"} or None, default=None
        The precision already chosen (a resumed run keeps the one it started with); None
        chooses it from ``config.precision`` and the device.

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
    used, reason = run_precision(config, device, precision, log, team.main)
    splits = Splits.from_dataset(dataset, config.val_split)
    torch.manual_seed(config.seed)
    model = create_model(config.model, dataset.num_labels, dataset.input_shape, **config.model_args)
    record = ModelRecord.of(config.model, dict(config.model_args), dataset)
    own = [*(run_writers(run, record, resume) if run is not None else []), *([EpochLine(log)] if log else [])]
    loop = Loop(config, model.to(device), make_optimizer(config, model), splits, device, run,
                [*(own if team.main else []), *callbacks], team, used, reason, progress=log is not None)
    stopped = loop.run_epochs(resume)
    if not team.main:
        return TrainResult(run, model, loop.history, {})
    model, metrics = loop.finish(stopped)
    return TrainResult(run, model, loop.history, metrics)


def _set_threads(threads: int | None) -> None:
    """Take ``threads`` CPU threads, or cap PyTorch's default at the cores really available.

    PyTorch counts the machine's cores, not the ones a container's CPU quota or the
    process's affinity allows; more threads than those cores make every step wait.
    """
    if threads:
        torch.set_num_threads(threads)
    elif torch.get_num_threads() > available_cores():
        torch.set_num_threads(available_cores())
