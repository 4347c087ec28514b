"""Hyper-parameter sweeps on Ray Tune: every trial an ordinary twistfm run folder, chosen on validation accuracy.

A sweep starts from a named recipe, samples the spec's search space (choices, uniform,
log-uniform), trains each trial through :func:`twistfm.workflows.train`, reports its
validation accuracy after every epoch through a training callback, and lets ASHA stop the
trials that fall behind; a stopped trial's run folder is then finished from its last
end-of-epoch checkpoint (no more training), so every trial ends a complete run. It runs on
this machine (a local Ray with its cores) or on a cluster (``address``), and resumes after
an interruption. Ray Tune is an optional extra: ``pip install 'twistfm[scale]'``.

The spec is a TOML file::

    recipe = "quick"            # the recipe every trial starts from
    trials = 16
    concurrent = 2              # trials at a time (default: as many as the cores allow)
    seed = 0
    [data]                      # optional: csv_dir, data_dir, n_train, n_test
    n_train = 20000
    [space]                     # fixed values, or one of choice / grid / uniform / loguniform
    lr = {loguniform = [0.02, 0.3]}
    batch_size = {choice = [64, 128, 256]}
    epochs = 6
    [scheduler]                 # ASHA on the validation accuracy after each epoch
    grace_period = 1
    reduction_factor = 2
"""

from __future__ import annotations

import itertools
import logging
import os
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import interrupts
from .data import DataSpec
from .errors import Interrupted, OptionError, RunError, TwistfmError
from .recipes import RECIPES, recipe
from .report.tables import csv_text, markdown_table
from .runs import SweepDir
from .schema import from_json, to_json
from .train import TrainConfig, TrainEvent, every

__all__ = ["SweepSpec", "SweepResult", "load_spec", "sample_trials", "run_sweep", "resume_sweep", "train_command",
           "METRIC", "ray_available"]

#: What a sweep maximises: validation accuracy (a sweep never looks at test accuracy).
METRIC = "val_acc"
_KINDS = ("choice", "grid", "uniform", "loguniform")


def ray_available() -> bool:
    """Whether the optional Ray Tune (``twistfm[scale]``) is installed."""
    try:
        import ray.tune  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    """A sweep, as its TOML file says it.

    Attributes
    ----------
    recipe : str
    trials : int
    concurrent : int or None
        Trials at a time; None takes as many as the machine's cores.
    seed : int
    data : DataSpec
    space : dict
        Training field -> a fixed value or ``{kind: [...]}`` with kind one of choice,
        grid (every value, each ``trials`` times), uniform, loguniform.
    grace_period, reduction_factor : int
        ASHA's settings (in epochs).
    """

    recipe: str
    trials: int = 8
    concurrent: int | None = None
    seed: int = 0
    data: DataSpec = field(default_factory=DataSpec)
    space: dict[str, Any] = field(default_factory=dict)
    grace_period: int = 1
    reduction_factor: int = 2

    def check(self) -> None:
        """Refuse a spec that cannot run, before anything starts."""
        if self.recipe not in RECIPES:
            raise OptionError(f"recipe {self.recipe!r}: choose one of {', '.join(RECIPES)}")
        if self.trials < 1 or (self.concurrent is not None and self.concurrent < 1):
            raise OptionError("trials and concurrent must be at least 1")
        if self.grace_period < 1 or self.reduction_factor < 2:
            raise OptionError("scheduler: grace_period must be at least 1 and reduction_factor at least 2")
        fields = set(TrainConfig.__dataclass_fields__)
        for name, value in self.space.items():
            if name not in fields or name in ("seed", "device", "threads"):
                raise OptionError(f"space: {name!r} is not a training setting a sweep can vary")
            if isinstance(value, dict):
                kinds = set(value)
                if len(kinds) != 1 or not kinds <= set(_KINDS) or not isinstance(value[next(iter(kinds))], list):
                    raise OptionError(f"space: {name} = {value!r}; write one of {', '.join(_KINDS)} with a list")
                kind, args = next(iter(value.items()))
                if kind not in ("choice", "grid") and (len(args) != 2 or not all(isinstance(a, (int, float)) for a in args)):
                    raise OptionError(f"space: {name} {kind} takes [low, high], got {args!r}")
                if kind == "loguniform" and min(args) <= 0:
                    raise OptionError(f"space: {name} loguniform needs positive bounds, got {args!r}")
        self.data.check()
        for sample in self._corners():
            base = self.base(sample)
            base.check()
            if base.val_split <= 0:
                raise OptionError(f"recipe {self.recipe!r} holds out no validation images (val_split 0); a sweep "
                                  "chooses on validation accuracy: set val_split in [space], e.g. val_split = 0.1")

    def base(self, params: dict[str, Any]) -> TrainConfig:
        """The recipe with ``params`` (one sample of the space) and the sweep's seed."""
        return recipe(self.recipe, seed=self.seed, **params)

    def _corners(self) -> list[dict[str, Any]]:
        """Samples at the edges of the space, to check every value the sweep may try."""
        low, high = {}, {}
        for name, value in self.space.items():
            if isinstance(value, dict):
                kind, args = next(iter(value.items()))
                low[name], high[name] = (args[0], args[-1]) if kind in ("choice", "grid") else (min(args), max(args))
            else:
                low[name] = high[name] = value
        return [low, high]


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and check a sweep spec (TOML)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptionError(f"{path}: sweep spec not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise OptionError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise OptionError(f"{path}: cannot read the sweep spec ({exc.strerror})") from None
    scheduler = raw.pop("scheduler", {})
    if not isinstance(scheduler, dict) or set(scheduler) - {"grace_period", "reduction_factor"}:
        raise OptionError(f"{path}: [scheduler] takes grace_period and reduction_factor")
    data = raw.pop("data", {})
    if not isinstance(data, dict):
        raise OptionError(f"{path}: [data] must be a table")
    obj = {"trials": 8, "concurrent": None, "seed": 0, "space": {}, "grace_period": 1, "reduction_factor": 2,
           **raw, **scheduler, "data": {**to_json(DataSpec()), **data}}
    try:
        spec = from_json(SweepSpec, obj, str(path))
    except RunError as exc:
        raise OptionError(str(exc)) from None
    spec.check()
    return spec


@dataclass(frozen=True)
class SweepResult:
    """Where the sweep went and what it found: every trial, best first."""

    folder: Path
    rows: list[dict[str, Any]]
    best_command: str


def train_command(config: TrainConfig, data: DataSpec) -> str:
    """The ``twistfm train`` command line that trains ``config`` on ``data``."""
    from .options import data_argv, train_argv

    return " ".join(shlex.quote(w) for w in ["twistfm", "train", *train_argv(config), *data_argv(data)])


def _trainable(params: dict[str, Any], *, spec_json: dict[str, Any], trials: list[dict[str, Any]], runs_root: str,
               threads: int) -> None:
    """One trial: an ordinary training run that reports validation accuracy to Tune after every epoch."""
    from ray import tune

    from .workflows import train

    spec = from_json(SweepSpec, spec_json, "sweep spec")
    config = spec.base({**trials[int(params["index"])], "threads": threads})

    def report(event: TrainEvent) -> None:
        # The last epoch is reported once the run folder is complete: Tune ends a trial as soon as it
        # reports its last epoch, which would cut the writing of its weights, metrics and figures.
        if event.kind == "epoch" and event.epoch < config.epochs:
            tune.report({METRIC: event.row[METRIC], "epoch": event.epoch, "run": str(event.run)})

    result = train(config, spec.data, runs_root=runs_root, callbacks=[every("epoch", report)], log=None)
    tune.report({METRIC: result.history[-1][METRIC], "epoch": len(result.history), "run": str(result.run)})


def sample_trials(spec: SweepSpec) -> list[dict[str, Any]]:
    """The sweep's trials, drawn once from its space with its seed: every grid value ``trials`` times."""
    rng = np.random.default_rng(spec.seed)
    grids = [(n, v["grid"]) for n, v in spec.space.items() if isinstance(v, dict) and "grid" in v]
    combos = [dict(zip([n for n, _ in grids], values, strict=True)) for values in itertools.product(*[g for _, g in grids])]
    trials = []
    for _ in range(spec.trials):
        for combo in combos:
            params = {}
            for name, value in spec.space.items():
                if name in combo:
                    params[name] = combo[name]
                elif not isinstance(value, dict):
                    params[name] = value
                else:
                    kind, args = next(iter(value.items()))
                    drawn = (args[int(rng.integers(len(args)))] if kind == "choice" else
                             float(rng.uniform(*args)) if kind == "uniform" else
                             float(np.exp(rng.uniform(np.log(args[0]), np.log(args[1])))))
                    params[name] = drawn.item() if hasattr(drawn, "item") else drawn
            trials.append(params)
    return trials


def run_sweep(spec: SweepSpec, *, runs_root: str | Path = "runs", address: str | None = None,
              callbacks: Sequence[Any] = ()) -> SweepResult:
    """Run a sweep into a new folder ``runs_root/<time>-sweep-<recipe>``.

    Parameters
    ----------
    spec : SweepSpec
    runs_root : path-like
    address : str, optional
        A Ray cluster to run on (else ``$RAY_ADDRESS``, else a local Ray with this machine's cores).
    callbacks : sequence of ray.tune.Callback
        Extra Tune callbacks (tests use one to interrupt at a program point).
    """
    _need_ray()
    spec.check()
    folder = SweepDir.create(f"sweep-{spec.recipe}", runs_root)
    folder.write_config("sweep", {"spec": to_json(spec), "trials": sample_trials(spec)})
    return _fit(folder, spec, address, callbacks)


def resume_sweep(path: str | Path, *, address: str | None = None, callbacks: Sequence[Any] = ()) -> SweepResult:
    """Continue an interrupted sweep: the trials that ended are kept, the others run (from their start)."""
    _need_ray()
    folder = SweepDir.open(path, kind="sweep")
    spec = from_json(SweepSpec, folder.run_config().fields.get("spec"), str(folder / folder.CONFIG))
    return _fit(folder, spec, address, callbacks)


def _need_ray() -> None:
    if not ray_available():
        raise OptionError("sweeps need Ray Tune, an optional extra: pip install 'twistfm[scale]'")


def _fit(folder: SweepDir, spec: SweepSpec, address: str | None, callbacks: Sequence[Any]) -> SweepResult:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    trials = folder.trials()
    todo = [i for i in range(len(trials)) if i not in folder.ended()]
    start = time.perf_counter()
    if todo:
        address = address or os.environ.get("RAY_ADDRESS")
        cores = os.cpu_count() or 1
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                     configure_logging=True, **({} if address else {"num_cpus": cores}))
        concurrent = spec.concurrent or max(1, int(ray.cluster_resources().get("CPU", cores)))
        threads = max(1, cores // concurrent) if not address else 1
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, spec_json=to_json(spec), trials=trials,
                                 runs_root=str(folder.trials_root), threads=threads), {"cpu": threads})
        epochs = max(spec.base(t).epochs for t in trials)
        scheduler = ASHAScheduler(time_attr="epoch", max_t=max(epochs, spec.grace_period),
                                  grace_period=spec.grace_period, reduction_factor=spec.reduction_factor)
        tuner = tune.Tuner(trainable, param_space={"index": tune.grid_search(todo)},
                           tune_config=tune.TuneConfig(metric=METRIC, mode="max", scheduler=scheduler,
                                                       max_concurrent_trials=concurrent),
                           run_config=tune.RunConfig(name=f"session-{time.strftime('%Y%m%d-%H%M%S')}", verbose=0,
                                                     storage_path=str(folder.experiment_root),
                                                     callbacks=[_record_class()(folder, spec, trials), *callbacks]))
        with interrupts.sigterm_as_sigint():  # a clean stop, as on Ctrl-C, not Ray's abort
            tuner.fit()
    ended = folder.ended()
    if len(ended) < len(trials):  # Ray Tune stops on Ctrl-C; the trials that ended are on disk
        raise Interrupted(f"interrupted: {len(ended)} of {len(trials)} trials ended; resume the sweep with "
                          f"'twistfm sweep --resume {folder}'")
    return _table(folder, spec, list(ended.values()), time.perf_counter() - start)


def _record_class() -> type:
    """The Tune callback that records ended trials (a class made on demand: Ray is an optional extra)."""
    from ray import tune

    class Record(tune.Callback):
        """Writes a record of each trial that ends (finished, or stopped by the scheduler and then its run finished)."""

        def __init__(self, folder: SweepDir, spec: SweepSpec, trials: list[dict[str, Any]]) -> None:
            self.folder, self.spec, self.trials, self.best = folder, spec, trials, {}

        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            self.best[trial.trial_id] = max(self.best.get(trial.trial_id, 0.0), float(result[METRIC]))

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            result = trial.last_result
            index = int(trial.config["index"])
            params = self.trials[index]
            epochs = int(result.get("epoch", 0))
            stopped = epochs < self.spec.base(params).epochs
            self.folder.write_ended(index, {
                "index": index, "params": params, "best_val_acc": self.best.get(trial.trial_id, float("nan")),
                "last_val_acc": result.get(METRIC, float("nan")), "epochs": epochs, "stopped_early": stopped,
                "run": result.get("run"), "note": _finish_stopped(result.get("run")) if stopped else ""})

    return Record


def _finish_stopped(run: str | None) -> str:
    """Make a trial ASHA stopped a complete run folder of the epochs it ran; '' or why it could not be."""
    from .workflows.training import finish_stopped

    if run is None:
        return "stopped before its first epoch ended: no run folder to finish"
    try:
        finish_stopped(run, "the sweep's ASHA scheduler")
    except Interrupted:
        raise
    except TwistfmError as exc:
        return f"not finished: {exc}"
    return ""


def _table(folder: SweepDir, spec: SweepSpec, ended: list[dict[str, Any]], seconds: float) -> SweepResult:
    """Every trial, best validation accuracy first, as Markdown and CSV; and the best trial's command."""
    rows = [{"trial": r["index"], **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in r["params"].items()},
             "best val_acc": _score(r["best_val_acc"]), "last val_acc": _score(r["last_val_acc"]),
             "epochs": r["epochs"], "stopped early": r["stopped_early"], "run": r["run"], "note": r.get("note", "")}
            for r in ended]
    rows.sort(key=lambda r: (-r["best val_acc"] if r["best val_acc"] == r["best val_acc"] else 1.0, r["trial"]))
    best = next(r for r in ended if r["index"] == rows[0]["trial"])
    command = train_command(spec.base(best["params"]), spec.data)
    folder.write_results(csv_text(rows), markdown_table(rows) + f"\n{len(rows)} trials; this session took {seconds:.0f} s.\n",
                         command)
    return SweepResult(folder.path, rows, command)


def _score(value: float | None) -> float:
    """An accuracy for the table, to 4 places (NaN where a trial reported none: JSON keeps it as null)."""
    return float("nan") if value is None else round(value, 4)
