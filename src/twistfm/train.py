"""Training: data -> model -> loop -> checkpoints -> saved run, readable top to bottom.

Every epoch is a pure function of (weights, optimiser state, seed, epoch number): its
shuffle, augmentation and dropout draw from generators seeded by ``(seed, epoch)``. So a
run resumed from its last end-of-epoch checkpoint finishes with exactly the weights and
history of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import __version__
from .atomic import write_json, write_text
from .checkpoint import load_checkpoint, optimizer_to, save_checkpoint
from .data import Dataset
from .errors import Interrupted, OptionError, RunError
from .models import count_parameters, create_model, format_summary, model_info
from .progress import BatchBar, say
from .runs import RUN_VERSION, check_run, new_run_dir, save_model, write_csv_rows

__all__ = ["TrainConfig", "TrainResult", "fit", "resume", "evaluate", "predict", "to_input",
           "select_device"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine")


@dataclass(frozen=True)
class TrainConfig:
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
        Fraction held out for validation: the last part of the training set, as Keras's
        ``validation_split`` takes it. 0 trains on everything.
    augment : bool, default=False
        Random horizontal flips and shifts of up to 2 pixels.
    tta : bool, default=False
        Test-time augmentation: evaluate on the mean logits of each image and its mirror.
    label_smoothing : float, default=0.0
    seed : int, default=0
    device : str, default="auto"
        "auto" takes CUDA when present, else the CPU.
    threads : int or None, default=None
        CPU threads for PyTorch; None keeps PyTorch's default.
    n_train, n_test : int or None
        Use only the first images of each split (quick runs and tests).
    csv_dir, data_dir : str or None
        Where the data came from (recorded so the run can be repeated).
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
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    csv_dir: str | None = None
    data_dir: str | None = None

    def check(self) -> None:
        """Raise OptionError for any value out of range."""
        model_info(self.model)
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"--optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise OptionError(f"--schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        checks = [
            (self.lr > 0, f"--lr must be positive, got {self.lr}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (0 <= self.val_split < 1, f"--val-split must be in [0, 1), got {self.val_split}"),
            (0 <= self.momentum < 1, f"--momentum must be in [0, 1), got {self.momentum}"),
            (self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}"),
            (0 <= self.label_smoothing < 1, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.threads is None or self.threads >= 1, f"--threads must be at least 1, got {self.threads}"),
            (self.device in ("auto", "cpu") or self.device.startswith("cuda"),
             f"--device {self.device!r}: use auto, cpu or cuda"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)

    def to_json(self) -> dict[str, Any]:
        """The config as a JSON object, with the run-format version."""
        return {"twistfm_run_version": RUN_VERSION, "twistfm_version": __version__, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, obj: dict[str, Any], where: str = "config.json") -> TrainConfig:
        """Rebuild a config from ``config.json``, refusing unknown or missing fields."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(obj) - names - {"twistfm_run_version", "twistfm_version", "kind"}
        if unknown:
            raise RunError(f"{where}: unknown fields {sorted(unknown)}; written by another twistfm version?")
        try:
            config = cls(**{k: v for k, v in obj.items() if k in names})
            config.check()
        except (TypeError, OptionError) as exc:
            raise RunError(f"{where}: invalid training config ({exc})") from None
        return config


@dataclass
class TrainResult:
    """What :func:`fit` produced: the run directory, the trained model and its figures."""

    run: Path
    model: nn.Module
    history: list[dict[str, float]]
    metrics: dict[str, Any]


def select_device(name: str) -> torch.device:
    """The torch device for ``name`` ("auto": CUDA when available, else CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"--device {name}: no CUDA device is available; use --device cpu")
    return torch.device(name)


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float32 NCHW in [0, 1], the model boundary."""
    return torch.from_numpy(np.array(images, dtype=np.float32)).unsqueeze(1).div_(255.0)


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
    params = model.parameters()
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _augment(x: torch.Tensor, gen: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Random horizontal flips and shifts of up to ``shift`` pixels, batched."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    base = torch.arange(x.shape[2])
    rows = (base[None, :] + dy[:, None])[:, :, None]
    cols = (base[None, :] + dx[:, None])[:, None, :]
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000, tta: bool = False) -> torch.Tensor:
    """Logits for every image of ``x`` (float32 NCHW), batched, in eval mode.

    With ``tta``, the logits are the mean over each image and its horizontal mirror.
    """
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device)
        logits = model(xb).float()
        if tta:
            logits = (logits + model(xb.flip(3)).float()) / 2
        out.append(logits.cpu())
    return torch.cat(out) if out else torch.empty(0)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, tta: bool = False) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on (x, y)."""
    if len(x) == 0:
        return float("nan"), float("nan")
    logits = predict(model, x, tta=tta)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def _prepare(config: TrainConfig, dataset: Dataset) -> dict[str, torch.Tensor]:
    ds = dataset.subset(config.n_train, config.n_test)
    x_train, y_train = to_input(ds.x_train), torch.from_numpy(dataset.label_index(ds.y_train))
    n_val = int(len(x_train) * config.val_split)
    n_fit = len(x_train) - n_val
    if n_fit < 1:
        raise OptionError(f"--val-split {config.val_split} leaves no training images")
    return {
        "x_fit": x_train[:n_fit], "y_fit": y_train[:n_fit],
        "x_val": x_train[n_fit:], "y_val": y_train[n_fit:],
        "x_test": to_input(ds.x_test), "y_test": torch.from_numpy(dataset.label_index(ds.y_test)),
    }


def fit(
    config: TrainConfig,
    dataset: Dataset,
    run: Path | None = None,
    runs_root: str | Path = "runs",
    log: Callable[[str], None] | None = say,
) -> TrainResult:
    """Train ``config.model`` on ``dataset``, checkpointing every epoch into a run directory.

    Parameters
    ----------
    config : TrainConfig
    dataset : Dataset
    run : Path, optional
        An existing run directory to continue (see :func:`resume`); by default a new one
        is created under ``runs_root``.
    runs_root : path-like, default="runs"
    log : callable or None, default=print to stderr
        Receives one line per epoch when not on a terminal.

    Returns
    -------
    TrainResult
    """
    config.check()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = select_device(config.device)
    data = _prepare(config, dataset)
    num_classes = dataset.num_labels
    torch.manual_seed(config.seed)
    model = create_model(config.model, num_classes, **config.model_args)
    channels_last = device.type == "cpu"
    optimizer = _make_optimizer(config, model)
    history: list[dict[str, float]] = []
    fresh = run is None
    if fresh:
        run = new_run_dir(config.model, runs_root)
        write_json(run / "config.json", {"kind": "train", **config.to_json()})
        write_text(run / "summary.txt", format_summary(model, config.model) + "\n")
    else:
        history = load_checkpoint(run, model, optimizer)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer_to(optimizer, device)

    n_fit = len(data["x_fit"])
    train_seconds = sum(h["epoch_time"] for h in history)
    try:
        train_seconds = _epochs(config, model, optimizer, data, history, run, device, channels_last, train_seconds, log)
    except KeyboardInterrupt:
        done = len(history)
        if not done:
            raise Interrupted(f"interrupted during epoch 1/{config.epochs}, before any checkpoint; start again") from None
        raise Interrupted(f"interrupted during epoch {done + 1}/{config.epochs}; the checkpoint after epoch {done} "
                          f"is saved: resume with 'twistfm train --resume {run}'") from None

    metrics = _final_metrics(model, data, history, train_seconds, n_fit, config.tta)
    metrics["parameters"] = count_parameters(model)
    model.to(torch.device("cpu")).to(memory_format=torch.contiguous_format)
    save_model(run, model, {
        "name": config.model, "args": config.model_args, "num_classes": num_classes,
        "label_values": dataset.label_values.tolist(),
    })
    write_csv_rows(run / "history.csv", history)
    write_json(run / "metrics.json", metrics)
    for name in ("checkpoint.safetensors", "checkpoint.json"):
        (run / name).unlink(missing_ok=True)
    return TrainResult(run, model, history, metrics)


def _epochs(config, model, optimizer, data, history, run, device, channels_last, train_seconds, log) -> float:
    """Run the remaining epochs, checkpointing after each; returns the total training seconds."""
    n_fit = len(data["x_fit"])
    steps_per_epoch = math.ceil(n_fit / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    for epoch in range(len(history), config.epochs):
        torch.manual_seed(_epoch_seed(config.seed, epoch))  # dropout draws
        gen = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch) + 1)
        order = torch.randperm(n_fit, generator=gen)
        model.train()
        start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        batches = range(steps_per_epoch)
        bar = BatchBar(f"epoch {epoch + 1}/{config.epochs}", steps_per_epoch)
        for b in batches:
            step = epoch * steps_per_epoch + b
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(config, step, total_steps)
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            xb, yb = data["x_fit"][idx], data["y_fit"][idx]
            if config.augment:
                xb = _augment(xb, gen)
            xb, yb = xb.to(device), yb.to(device)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
            bar.advance(f"loss {loss_sum / seen:.4f} acc {correct / seen:.4f}")
        bar.close()
        epoch_time = time.perf_counter() - start
        train_seconds += epoch_time
        val_loss, val_acc = evaluate(model, data["x_val"], data["y_val"], config.tta)
        test_loss, test_acc = evaluate(model, data["x_test"], data["y_test"], config.tta)
        row = {
            "epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
            "val_loss": val_loss, "val_acc": val_acc, "test_loss": test_loss, "test_acc": test_acc,
            "lr": optimizer.param_groups[0]["lr"], "epoch_time": epoch_time,
        }
        history.append(row)
        save_checkpoint(run, model, optimizer, history)
        if log is not None:
            log(
                f"epoch {epoch + 1}/{config.epochs}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}  "
                f"val_loss {val_loss:.4f}  val_acc {val_acc:.4f}  test_acc {test_acc:.4f}  {epoch_time:.1f}s"
            )
    return train_seconds


def _final_metrics(model, data, history, train_seconds, n_fit, tta) -> dict[str, Any]:
    start = time.perf_counter()
    logits = predict(model, data["x_test"], tta=tta)
    infer = time.perf_counter() - start
    y = data["y_test"]
    pred = logits.argmax(1)
    k = logits.shape[1]
    confusion = torch.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    last = history[-1]
    return {
        "test_acc": (pred == y).float().mean().item() if len(y) else float("nan"),
        "test_loss": F.cross_entropy(logits, y).item() if len(y) else float("nan"),
        "train_acc": last["train_acc"], "val_acc": last["val_acc"], "val_loss": last["val_loss"],
        "epochs": len(history),
        "training_seconds": train_seconds,
        "train_images_per_second": n_fit * len(history) / train_seconds if train_seconds else float("nan"),
        "test_inference_seconds": infer,
        "test_images_per_second": len(y) / infer if infer else float("nan"),
        "confusion": confusion.tolist(),
        "device": str(next(model.parameters()).device),
        "threads": torch.get_num_threads(),
    }


def resume(run: str | Path, dataset: Dataset, log: Callable[[str], None] | None = say) -> TrainResult:
    """Continue an interrupted training run from its last end-of-epoch checkpoint."""
    run = Path(run)
    config_json = check_run(run, need_model=False)
    config = TrainConfig.from_json(config_json, str(run / "config.json"))
    if (run / "model.safetensors").is_file() and not (run / "checkpoint.json").is_file():
        raise RunError(f"{run}: training already finished; nothing to resume")
    if not (run / "checkpoint.json").is_file():
        raise RunError(f"{run}: no checkpoint (interrupted before the first epoch ended); start a new run")
    return fit(config, dataset, run=run, log=log)
