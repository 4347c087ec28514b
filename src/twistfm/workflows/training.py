"""Training one model into a new run folder, and resuming an interrupted one.

Launched by ``torchrun``, every process trains its share and process 0 writes the run
folder (see :mod:`twistfm.distributed`); what process 0 decides (the folder, the resume
state) reaches the others through :func:`on_main`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import write_bytes
from ..data import Dataset, DataSpec
from ..distributed import Team, team_of
from ..errors import RunError, TwistfmError
from ..machine import choose_precision
from ..progress import say
from ..report import figures as F
from ..runs import RunDir
from ..schema import from_json, to_json
from ..train import Callback, TrainConfig, TrainResult, fit, select_device
from .common import Log, interrupted
from .labels import label_warnings

__all__ = ["train", "resume", "finish_stopped", "train_config", "on_main", "save_training_figures"]


def train(config: TrainConfig, data: DataSpec, *, runs_root: str | Path = "runs", dataset: Dataset | None = None,
          callbacks: Sequence[Callback] = (), log: Log = say) -> TrainResult:
    """Train one model into a new run folder under ``runs_root`` and draw its figures.

    ``dataset`` is the whole dataset ``data`` names, when the caller has already loaded it.
    Launched by ``torchrun``, every process trains its share and process 0 writes the run
    folder (see :mod:`twistfm.distributed`).
    """
    config.check()
    data.check()
    full = dataset if dataset is not None else data.load_full()
    if log:
        _warn_about_labels(full, data, log)
    with team_of(select_device(config.device).type) as team:
        return _train(config, data, runs_root, full, callbacks, log, team)


def _warn_about_labels(full: Dataset, data: DataSpec, log: Callable[[str], None]) -> None:
    """Say what in the labels of the images used caps what the model can learn (:func:`.labels.label_warnings`)."""
    used = data.resolve(full)
    if int(os.environ.get("RANK", "0")) == 0:
        for line in label_warnings(full.subset(used.n_train, used.n_test)):
            log(line)


def _train(config: TrainConfig, asked: DataSpec, runs_root: str | Path, full: Dataset,
           callbacks: Sequence[Callback], log: Log, team: Team) -> TrainResult:
    data = asked.resolve(full)
    if log and team.main and ((asked.n_train or 0) > data.n_train or (asked.n_test or 0) > data.n_test):
        log(f"the data has fewer images than asked for: using {data.n_train:,} training and {data.n_test:,} test images")
    used, reason = choose_precision(config.precision, select_device(config.device, team))

    def new_run() -> str:
        run = RunDir.create(config.model, runs_root)
        run.write_config("train", {"train": config.to_json(), "data": to_json(data),
                                   "processes": team.size, "global_batch": config.batch_size * team.size,
                                   "precision": {"asked": config.precision, "used": used, "reason": reason}})
        return str(run.path)

    run = RunDir(on_main(team, new_run))
    if log and team.size > 1 and team.main:
        log(f"run: {run} ({team.size} processes, {team.backend}, global batch {config.batch_size * team.size})")
    result = fit(config, full.subset(data.n_train, data.n_test), run, callbacks=callbacks, log=log, team=team)
    if team.main:
        save_training_figures(result)
    return result


def resume(path: str | Path, *, callbacks: Sequence[Callback] = (), log: Log = say) -> TrainResult:
    """Continue an interrupted run from its last end-of-epoch checkpoint and draw its figures.

    A run trained by several processes resumes under the same launcher with as many processes.
    """
    with team_of("cuda" if torch.cuda.is_available() else "cpu") as team:
        lock = (RunDir.open(path, kind="train").lock("twistfm train --resume", log) if team.main
                else contextlib.nullcontext())
        with lock:
            return _resume(RunDir(path), callbacks, log, team)


def _resume(run: RunDir, callbacks: Sequence[Callback], log: Log, team: Team) -> TrainResult:
    state = on_main(team, lambda: _resume_state(run, team.size))
    if state is None:  # finished: process 0 has drawn the missing figures
        if not team.main:
            return TrainResult(run, None, [], {})
        return TrainResult(run, run.load_model()[0], run.history(), run.metrics())
    config = TrainConfig.from_json(state["train"], str(run / RunDir.CONFIG))
    data = from_json(DataSpec, state["data"], str(run / RunDir.CONFIG))
    dataset = data.load_checked(str(run / RunDir.CONFIG))
    result = fit(config, dataset, run, resume=True, callbacks=callbacks, log=log, team=team,
                 precision=state["precision"])
    if team.main:
        save_training_figures(result)
    return result


class _StoppedRun(RunDir):
    """A run folder whose ``metrics.json`` also says the run was stopped early, and by what."""

    def __init__(self, path: str | Path, note: dict[str, Any]) -> None:
        super().__init__(path)
        self.note = note

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        super().write_metrics({**metrics, **self.note})


def finish_stopped(path: str | Path, stopped_by: str, *, log: Log = None) -> TrainResult:
    """Finish a run stopped after an epoch from outside training (a sweep's scheduler) as a complete run folder.

    Nothing more is trained: the model is the one of the run's last end-of-epoch checkpoint,
    and the end of training's writers run as for any run (weights, test metrics, history,
    figures). ``metrics.json`` says it ran N (``epochs``) of the M planned (``epochs_planned``),
    stopped early (``stopped_early``) by ``stopped_by``; ``config.json`` keeps the M planned.

    Raises
    ------
    RunError
        If the run is already finished, or has no checkpoint (stopped before its first epoch ended).
    """
    run = RunDir.open(path, kind="train")
    with run.lock("twistfm sweep", log):
        if not run.has_checkpoint:
            raise RunError(f"{run}: training already finished; nothing to finish" if run.has_model else
                           f"{run}: no checkpoint (stopped before its first epoch ended); nothing to finish")
        config, data = train_config(run)
        done = run.read_json(RunDir.CHECKPOINT).get("epochs_done")
        if isinstance(done, bool) or not isinstance(done, int) or not 1 <= done <= config.epochs:
            raise RunError(f"{run / RunDir.CHECKPOINT}: inconsistent checkpoint ({done!r} epochs done of "
                           f"{config.epochs})")
        note = {"stopped_early": True, "stopped_by": stopped_by, "epochs_planned": config.epochs}
        result = fit(dataclasses.replace(config, epochs=done), data.load_checked(str(run / RunDir.CONFIG)),
                     _StoppedRun(run.path, note), resume=True, log=log, precision=run.run_config().precision)
        result.metrics.update(note)
        save_training_figures(result)
        return result


def _resume_state(run: RunDir, processes: int) -> dict[str, Any] | None:
    """Process 0's checks before resuming: the run's training and data config, or None when finished."""
    run = RunDir.open(run.path, kind="train")
    config = run.run_config()
    if run.has_model and not run.has_checkpoint:
        if all(run.figure(name).is_file() for name in F.TRAINING_FIGURES):
            raise RunError(f"{run}: training already finished; nothing to resume")
        model, _ = run.load_model()
        save_training_figures(TrainResult(run, model, run.history(), run.metrics()))
        return None
    if not run.has_checkpoint:
        raise RunError(f"{run}: no checkpoint (interrupted before the first epoch ended); start a new run")
    if config.processes != processes:
        raise RunError(f"{run / RunDir.CONFIG}: this run was trained by {config.processes} process(es); "
                       f"resume it with as many (this is {processes})")
    return {"train": config.fields["train"], "data": config.fields["data"], "precision": config.precision}


def on_main(team: Team, work: Callable[[], Any]) -> Any:
    """Do ``work`` on process 0 and give its result (or its error) to every process."""
    if team.size == 1:
        return work()
    outcome: tuple[str, Any] | None = None
    if team.main:
        try:
            outcome = ("ok", work())
        except TwistfmError as exc:
            outcome = ("error", exc)
    outcome = team.broadcast(outcome)
    if outcome[0] == "error":
        raise outcome[1]
    return outcome[1]


def train_config(run: RunDir) -> tuple[TrainConfig, DataSpec]:
    """A training run's config and data, from its checked ``config.json``."""
    config = run.run_config()
    if config.train is None or config.data is None:
        raise RunError(f"{run / RunDir.CONFIG}: a {config.kind} folder, not a training run")
    return config.train, config.data


def save_training_figures(result: TrainResult) -> None:
    """Draw a finished run's loss, accuracy and confusion figures into its folder."""
    run = result.run
    record = run.model_record()
    with interrupted(lambda: f"interrupted while drawing the figures of {run}: the trained model is saved; draw "
                             f"the figures with 'twistfm train --resume {run}'"):
        for name, fig in F.training_figures(result.history, np.array(result.metrics["confusion"]), record.label_values,
                                            record.name, record.label_names).items():
            write_bytes(run.figure(name), F.png(fig))
