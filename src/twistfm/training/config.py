"""TrainConfig: everything that decides a training run, and every training option's one declaration.

Each field's ``metadata`` holds its command-line help and, where it is not ``--`` + the
name with dashes, its flag; :mod:`twistfm.options` makes the options of ``twistfm train``
and ``compare`` from them. This module imports no PyTorch, so the command line can build
its options without it; :class:`TrainConfig` is used as :class:`twistfm.train.TrainConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import OptionError, RunError
from ..schema import Typed, from_json

__all__ = ["TrainConfig", "OPTIMIZERS", "SCHEDULES"]

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
        from ..machine import PRECISIONS  # imported here: the machine and the models need PyTorch
        from ..models import check_model_args

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
