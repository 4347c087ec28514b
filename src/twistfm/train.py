"""Training, readable top to bottom: the config, the data splits, and :func:`fit` (data -> model -> loop -> run).

Every epoch is a pure function of (weights, optimiser state, seed, epoch number): its
shuffle, augmentation and dropout draw from generators seeded by ``(seed, epoch)``, and the
learning rate is a pure function of the step. So a run resumed from its last end-of-epoch
checkpoint finishes with exactly the weights and history of an uninterrupted run.

:func:`fit` calls its callbacks as often as each asks (see :func:`every`); writing a run
folder (the layer table, checkpoints, history, weights and metrics) is itself done by
callbacks (:mod:`twistfm.training.writers`), so without a run folder nothing is written.
Precision is chosen by the machine (:mod:`twistfm.machine`): "auto" trains in bfloat16 only
where the hardware computes it natively. The loop's parts (and :class:`TrainConfig`'s
definition, which imports no PyTorch so that the command line starts fast) are in
:mod:`twistfm.training`; the names to use are here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .data import Dataset
from .distributed import Team
from .errors import OptionError
from .machine import PRECISIONS, available_cores
from .models import ModelRecord, create_model, to_input
from .progress import say
from .training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from .training.evaluation import evaluate, predict
from .training.events import Callback, RunFolder, TrainEvent, every
from .training.loop import Loop
from .training.steps import make_optimizer, run_precision
from .training.writers import EpochLine, run_writers

__all__ = ["TrainConfig", "Splits", "TrainEvent", "TrainResult", "Callback", "RunFolder", "fit", "evaluate", "predict",
           "select_device", "every", "OPTIMIZERS", "SCHEDULES", "PRECISIONS"]

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
