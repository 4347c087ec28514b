"""The orchestration, one module: train, resume, compare, encode, analyse a run, decode, and the study.

Each function here strings the stages together and decides where their results go (through
:class:`~twistfm.runs.RunDir`); the stages themselves know nothing of each other. The CLI
calls one of these per command; so can a notebook.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import interrupts
from .analysis import (
    DENSITY_DIMS,
    Analysis,
    AnalysisConfig,
    ClassRecovery,
    LabelDecoding,
    all_neighbours,
    ambiguous_images,
    dbscan,
    decode_labels,
    hdbscan,
    kmeans,
    knn_accuracy,
    neighbourhood_preservation,
    pca,
    principal_components,
    recover_classes,
    score_layers,
    tsne,
    umap,
)
from .analysis.discover import MAX_GROUPS, Discovery, discover
from .analysis.neighbours import KNN_K
from .atomic import atomic_open, json_text, refuse_special, write_bytes, write_json, write_text, write_together
from .data import CLASS_NAMES, Dataset, DataSpec, LabelSummary, export_csv, load_original
from .data.loader import load_dataset
from .distributed import Team, team_of
from .encode import candidate_layers, check_layer, default_layer, encode, encode_layers, encode_to_npy
from .errors import DataError, Interrupted, OptionError, RunError, TwistfmError
from .machine import choose_precision
from .models import LayerRow, ModelRecord, layer_table, to_input
from .progress import say
from .recipes import recipe
from .report import figures as F
from .report.explorer import explorer_part
from .report.html import ModelReport, StudyReport, build_report
from .report.tables import analysis_tables, csv_text, markdown_table
from .runs import RunDir
from .schema import from_json, join_arrays, split_arrays, to_json
from .train import Callback, TrainConfig, TrainResult, fit, predict, select_device

__all__ = ["StudyPreset", "PRESETS", "COMPARE_PRESETS", "Comparison", "StudyResult", "train", "resume", "compare",
           "run_study", "analyse_run", "load_analysis", "encode_run", "decode", "reference_classifier", "data_info",
           "export_data", "run_layers", "compare_preset", "compute_analysis", "decode_dataset", "MIN_MATCHED"]

Log = Callable[[str], None] | None

#: Share of images that must match Fashion-MNIST exactly before unmatched ones are classified.
MIN_MATCHED = 0.5


@dataclass(frozen=True)
class StudyPreset:
    """Models to train (study label -> recipe name), and which one's encoding the analysis studies."""

    models: dict[str, str]
    analyzed: str
    description: str

    def configs(self, seed: int, epochs: int | None = None) -> dict[str, TrainConfig]:
        """Each model's training config, with ``seed`` and (when given) ``epochs`` set."""
        return {label: recipe(name, seed=seed, **({"epochs": epochs} if epochs else {}))
                for label, name in self.models.items()}


_SEED_MODELS = {"cm1-adam": "seed-cm1-adam", "cm1-sgd": "seed-cm1-sgd", "model-a": "seed-model-a",
                "model-b": "seed-model-b", "leaky": "seed-leaky"}

#: Presets of ``twistfm run``.
PRESETS: dict[str, StudyPreset] = {
    "quick": StudyPreset({"cm1": "quick-cm1", "tfm-small": "quick"}, "tfm-small",
                         "cm1 as a baseline and our narrow network, in a few minutes on a 2-core CPU"),
    "seed": StudyPreset(_SEED_MODELS, "model-a",
                        "both seeds' five training runs; the analysis encodes model-a, as seed 002 did"),
    "best": StudyPreset({"cm1": "seed-cm1-adam", "tfm-res": "best"}, "tfm-res",
                        "our fast high-accuracy recipe (about 20 minutes of training on a 2-core CPU)"),
}
#: Presets of ``twistfm compare``.
COMPARE_PRESETS: dict[str, StudyPreset] = {"seed": PRESETS["seed"]}


# ------------------------------------------------------------------ data


def data_info(data: DataSpec) -> tuple[Dataset, list[LabelSummary]]:
    """The dataset a spec names, and per label its counts and the classes behind it."""
    data.check()
    dataset = data.load_full()
    return dataset, dataset.describe()


@contextlib.contextmanager
def _interrupted(message: Callable[[], str]) -> Iterator[None]:
    """Turn Ctrl-C inside the block into one :class:`Interrupted` line built by ``message``."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(message()) from None
    except Exception as exc:
        if not interrupts.caused_by_interrupt(exc):
            raise
        raise Interrupted(message()) from None


def export_data(out: str | Path, data_dir: str | None = None) -> list[Path]:
    """Write the built-in data as the seeds' CSV files (byte for byte), plus the original classes."""
    dataset = load_dataset(data_dir=data_dir)
    with _interrupted(lambda: f"interrupted during the export to {out}: the files finished so far are complete and "
                              "the one being written was discarded; run the command again to write them all"):
        return export_csv(dataset, out)


# ------------------------------------------------------------------ training


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
        _warn_unseen_labels(full, data, log)
    with team_of(select_device(config.device).type) as team:
        return _train(config, data, runs_root, full, callbacks, log, team)


def _warn_unseen_labels(full: Dataset, data: DataSpec, log: Callable[[str], None]) -> None:
    """Say so when some label is in the test images only: the model has an output for it that no
    training image ever taught."""
    used = data.resolve(full)
    ds = full.subset(used.n_train, used.n_test)
    unseen = sorted(set(np.unique(ds.y_test).tolist()) - set(np.unique(ds.y_train).tolist()))
    if unseen and int(os.environ.get("RANK", "0")) == 0:
        log(f"warning: label(s) {', '.join(map(str, unseen))} appear only in the test images: no training image "
            "teaches the model them, so it cannot predict them; give training images of them or leave them out")


def _train(config: TrainConfig, data: DataSpec, runs_root: str | Path, dataset: Dataset | None,
           callbacks: Sequence[Callback], log: Log, team: Team) -> TrainResult:
    full = dataset if dataset is not None else data.load_full()
    asked = data
    data = data.resolve(full)
    if log and team.main and ((asked.n_train or 0) > data.n_train or (asked.n_test or 0) > data.n_test):
        log(f"the data has fewer images than asked for: using {data.n_train:,} training and {data.n_test:,} test images")

    used, reason = choose_precision(config.precision, select_device(config.device, team))

    def new_run() -> str:
        run = RunDir.create(config.model, runs_root)
        run.write_config("train", {"train": config.to_json(), "data": _data_json(data),
                                   "processes": team.size, "global_batch": config.batch_size * team.size,
                                   "precision": {"asked": config.precision, "used": used, "reason": reason}})
        return str(run.path)

    run = RunDir(_on_main(team, new_run))
    if log and team.size > 1 and team.main:
        log(f"run: {run} ({team.size} processes, {team.backend}, global batch {config.batch_size * team.size})")
    result = fit(config, full.subset(data.n_train, data.n_test), run, callbacks=callbacks, log=log, team=team)
    if team.main:
        _save_training_figures(result)
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
    state = _on_main(team, lambda: _resume_state(run, team.size))
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
        _save_training_figures(result)
    return result


def _resume_state(run: RunDir, processes: int) -> dict[str, Any] | None:
    """Process 0's checks before resuming: the run's training and data config, or None when finished."""
    run = RunDir.open(run.path, kind="train")
    _train_config(run)
    config = run.config()
    if run.has_model and not run.has_checkpoint:
        if all(run.figure(name).is_file() for name in F.TRAINING_FIGURES):
            raise RunError(f"{run}: training already finished; nothing to resume")
        model, _ = run.load_model()
        _save_training_figures(TrainResult(run, model, run.history(), run.metrics()))
        return None
    if not run.has_checkpoint:
        raise RunError(f"{run}: no checkpoint (interrupted before the first epoch ended); start a new run")
    if config["processes"] != processes:
        raise RunError(f"{run / RunDir.CONFIG}: this run was trained by {config['processes']} process(es); "
                       f"resume it with as many (this is {processes})")
    return {"train": config["train"], "data": config["data"], "precision": _recorded_precision(run, config)}


def _recorded_precision(run: RunDir, config: dict[str, Any]) -> str:
    """The precision a run trained in, so its resumption continues in it (runs before "auto" asked for one)."""
    recorded = config.get("precision")
    if recorded is None and config["train"].get("precision") in ("fp32", "bf16"):
        return config["train"]["precision"]
    if not isinstance(recorded, dict) or recorded.get("used") not in ("fp32", "bf16"):
        raise RunError(f"{run / RunDir.CONFIG}: field 'precision' must be an object whose 'used' is fp32 or bf16, "
                       f"found {recorded!r}; the run is corrupt")
    return recorded["used"]


def _on_main(team: Team, work: Callable[[], Any]) -> Any:
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


def _data_json(data: DataSpec) -> dict[str, Any]:
    return to_json(data)


def _train_config(run: RunDir) -> tuple[TrainConfig, DataSpec]:
    config = run.config()
    where = str(run / RunDir.CONFIG)
    for key in ("processes", "global_batch"):
        if isinstance(config.get(key), bool) or not isinstance(config.get(key), int) or config[key] < 1:
            raise RunError(f"{where}: field {key!r} must be a positive integer, found {config.get(key)!r}")
    result = (TrainConfig.from_json(config.get("train"), f"{where}: train"),
              from_json(DataSpec, config.get("data"), f"{where}: data"))
    precision = config.get("precision")
    if precision is not None and (not isinstance(precision, dict) or precision.get("asked") not in ("auto", "fp32", "bf16")
                                  or not isinstance(precision.get("reason"), str)):
        raise RunError(f"{where}: field 'precision' must be an object with 'asked' (auto, fp32 or bf16), 'used' and "
                       f"'reason', found {precision!r}; the run is corrupt")
    _recorded_precision(run, config)
    return result


def _save_training_figures(result: TrainResult) -> None:
    run = result.run
    record = run.model_record()
    with _interrupted(lambda: f"interrupted while drawing the figures of {run}: the trained model is saved; draw "
                              f"the figures with 'twistfm train --resume {run}'"):
        for name, fig in F.training_figures(result.history, np.array(result.metrics["confusion"]), record.label_values,
                                            record.name, record.label_names).items():
            write_bytes(run.figure(name), F.png(fig))


# ------------------------------------------------------------------ comparing


@dataclass
class Comparison:
    """Several models trained on the same data, each with one or more seeds.

    Attributes
    ----------
    folder : RunDir
    rows : list of dict
        One row per trained run (model, seed, accuracy, time, ...).
    stats : list of dict
        One row per model: its test accuracy's mean, standard deviation, minimum and maximum
        over its seeds (the deviation is None for one seed), and its mean training seconds.
    results : dict
        Model label -> the result of its first seed.
    """

    folder: RunDir
    rows: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    results: dict[str, TrainResult]


def compare(configs: dict[str, TrainConfig], data: DataSpec, *, seeds: int = 1, runs_root: str | Path = "runs",
            out: Path | None = None, dataset: Dataset | None = None, log: Log = say) -> Comparison:
    """Train several models and write a comparison table (Markdown + CSV), its statistics and figure.

    Each model is trained ``seeds`` times, with its config's seed and the ones after it.
    Model runs go inside the comparison folder (a new one under ``runs_root``, or ``out``).
    """
    if not configs:
        raise OptionError("compare needs at least one model")
    if seeds < 1:
        raise OptionError(f"--seeds must be at least 1, got {seeds}")
    for config in configs.values():
        config.check()
    data.check()
    full = dataset if dataset is not None else data.load_full()
    if out is None:
        folder = RunDir.create("compare", runs_root)
    else:
        out.mkdir(parents=True, exist_ok=False)
        folder = RunDir(out)
    folder.write_config("compare", {"models": {k: c.to_json() for k, c in configs.items()}, "seeds": seeds,
                                    "data": _data_json(data.resolve(full))})
    rows, results = [], {}
    for label, config in configs.items():
        for seed in range(config.seed, config.seed + seeds):
            if log:
                log(f"== {label}" + (f", seed {seed}" if seeds > 1 else ""))
            result = train(replace(config, seed=seed), data, runs_root=folder.path, dataset=full, log=log)
            results.setdefault(label, result)
            rows.append(_comparison_row(label, replace(config, seed=seed), result))
            if log:
                log(f"   {label}: test acc {result.metrics['test_acc']:.4f} in {result.metrics['training_seconds']:.0f}s")
    stats = comparison_stats(rows)
    write_text(folder / RunDir.COMPARISON_CSV, csv_text(rows))
    write_text(folder / RunDir.COMPARISON_MD, markdown_table(stats if seeds > 1 else rows)
               + ("\n" + markdown_table(rows) if seeds > 1 else ""))
    write_bytes(folder.figure(F.COMPARISON), F.png(F.comparison_figure({k: r.history for k, r in results.items()})))
    return Comparison(folder, rows, stats, results)


def comparison_stats(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model: test accuracy mean, standard deviation (None for one seed), minimum, maximum; mean training seconds."""
    stats = []
    for label in dict.fromkeys(r["model"] for r in rows):
        accs = [r["test_acc"] for r in rows if r["model"] == label]
        secs = [r["training_seconds"] for r in rows if r["model"] == label]
        stats.append({"model": label, "seeds": len(accs), "test_acc_mean": round(statistics.mean(accs), 4),
                      "test_acc_sd": round(statistics.stdev(accs), 4) if len(accs) > 1 else None,
                      "test_acc_min": min(accs), "test_acc_max": max(accs),
                      "training_seconds_mean": round(statistics.mean(secs), 1)})
    return stats


def _architecture_numbers(model: nn.Module) -> tuple[str, str]:
    convs = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    dense = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    return "/".join(map(str, convs)) or "-", "/".join(map(str, dense)) or "-"


def _comparison_row(name: str, config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    filters, units = _architecture_numbers(result.model)
    m = result.metrics
    return {
        "model": name, "seed": config.seed, "architecture": config.model, "filters": filters, "dense_units": units,
        "batch_size": config.batch_size, "epochs": config.epochs, "optimizer": config.optimizer,
        "train_acc": round(m["train_acc"], 4),
        "val_acc": None if m["val_acc"] is None or math.isnan(m["val_acc"]) else round(m["val_acc"], 4),
        "training_seconds": round(m["training_seconds"], 1), "test_acc": round(m["test_acc"], 4),
        "test_loss": round(m["test_loss"], 4), "parameters": m["parameters"],
        "train_images_per_second": round(m["train_images_per_second"], 1), "run": result.run.name,
    }


# ------------------------------------------------------------------ one run: layers, encoding, analysis


def _open_model_run(path: str | Path) -> tuple[RunDir, nn.Module, ModelRecord]:
    run = RunDir.open(path, kind="train")
    model, record = run.load_model()
    return run, model, record


def _run_dataset(run: RunDir, dataset: Dataset | None = None) -> Dataset:
    """The run's slice of the data it was trained on, checked against its fingerprint."""
    _, data = _train_config(run)
    where = str(run / RunDir.CONFIG)
    if dataset is None:
        return data.load_checked(where)
    if data.fingerprint is not None and dataset.fingerprint != data.fingerprint:
        raise DataError(f"{where}: the data given is not the data this run was trained on; use the run's own data")
    return dataset.subset(data.n_train, data.n_test)


def run_layers(path: str | Path) -> tuple[ModelRecord, list[LayerRow]]:
    """A trained run's model record and its layers with output shapes."""
    _, model, record = _open_model_run(path)
    return record, layer_table(model)


def encode_run(path: str | Path, layer: str | None = None, split: str = "test") -> tuple[Path, tuple[int, int]]:
    """Encode a split of a run's data at ``layer`` (default: the last hidden layer) into ``run/encoding``.

    Writes ``encoding/<layer>-<split>.npy`` (float32, N x d, streamed batch by batch so memory
    stays bounded) and the labels beside it. Returns the path and the shape.
    """
    with RunDir.open(path, kind="train").lock("twistfm encode", say):
        return _encode_run(path, layer, split)


def _encode_run(path: str | Path, layer: str | None, split: str) -> tuple[Path, tuple[int, int]]:
    run, model, _ = _open_model_run(path)
    run.check_links()
    layer = layer or default_layer(model)
    check_layer(model, layer)
    x, y, _ = _run_dataset(run).split(split)
    target = run.encoding(layer, split)
    with _interrupted(lambda: f"interrupted while encoding {run}: no new encoding was written (an earlier one is "
                              f"kept); run 'twistfm encode {run}' again"):
        with atomic_open(run.labels(split), "wb") as handle:
            np.save(handle, y, allow_pickle=False)
        shape = encode_to_npy(model, x, layer, target)
    return target, shape


def analyse_run(path: str | Path, config: AnalysisConfig = AnalysisConfig(), *, dataset: Dataset | None = None,
                log: Log = say) -> tuple[Analysis, dict[str, bytes]]:
    """Analyse a trained run and write the analysis into it (replacing any earlier one in one step).

    Returns the analysis and its figures (PNG bytes by name).
    """
    with RunDir.open(path, kind="train").lock("twistfm analyze", log):
        return _analyse_run(path, config, dataset, log)


def _analyse_run(path: str | Path, config: AnalysisConfig, dataset: Dataset | None,
                 log: Log) -> tuple[Analysis, dict[str, bytes]]:
    run, model, record = _open_model_run(path)
    run.check_links()
    ds = _run_dataset(run, dataset)
    if config.layer is not None:
        check_layer(model, config.layer)
    config.check(len(ds.x_test))
    if len(np.unique(ds.y_test)) < 2:
        raise OptionError(f"the test split has only one label ({ds.y_test[0]}); clustering scores need at least 2")
    log = log or (lambda _line: None)
    kept = "its previous analysis is kept" if run.has_analysis else "no analysis was written"
    with _interrupted(lambda: f"interrupted while analysing {run}: {kept}; run 'twistfm analyze {run}' again"):
        analysis = compute_analysis(model, record, ds, config, log)
        images = ds.split(config.points)[0]
        figures = {name: F.png(fig) for name, fig in F.analysis_figures(analysis, images, analysis.discovery).items()}
        document, arrays = split_arrays(analysis.to_json())
        files = {f"{RunDir.FIGURES}/{name}.png": data for name, data in figures.items()}
        files.update({name: text.encode() for name, text in analysis_tables(analysis).items()})
        run.write_analysis(document, arrays, files)
    return analysis, figures


def load_analysis(path: str | Path) -> Analysis:
    """The analysis a run holds."""
    run = RunDir.open(path, kind="train")
    document, arrays = run.analysis()
    where = str(run.analysis_file(RunDir.ANALYSIS_JSON))
    analysis = Analysis.from_json(join_arrays(document, arrays, where), where)
    _check_analysis_values(analysis, where)
    return analysis


def _check_analysis_values(analysis: Analysis, where: str) -> None:
    """Refuse an analysis whose arrays hold values no analysis writes (NaN coordinates, ids past the end,
    fractional labels): they would be exported or drawn as if they were results."""
    n = len(analysis.labels)
    if not 0 <= analysis.n_train <= n:
        raise RunError(f"{where}: n_train {analysis.n_train} is not between 0 and the {n} points; run the analysis "
                       "again")
    integers = {"labels": analysis.labels, "predicted": analysis.predicted, "classes": analysis.classes,
                "neighbours.index": analysis.neighbours.index,
                **{f"clusterings.{k}.labels_": c.labels_ for k, c in analysis.clusterings.items()}}
    for name, array in integers.items():
        if not np.issubdtype(np.asarray(array).dtype, np.integer):
            raise RunError(f"{where}: {name} holds {np.asarray(array).dtype} values, not integers; run the analysis "
                           "again")
    index = analysis.neighbours.index
    if index.size and (index.min() < 0 or index.max() >= n):
        raise RunError(f"{where}: neighbours.index holds ids outside 0..{n - 1}; run the analysis again")
    classes = analysis.classes
    if classes.size and (classes.min() < -1 or classes.max() >= len(CLASS_NAMES)):
        raise RunError(f"{where}: classes holds values outside -1..{len(CLASS_NAMES) - 1}; run the analysis again")
    finite = {"neighbours.distance": analysis.neighbours.distance,
              **{f"projections.{k}.points": p.points for k, p in analysis.projections.items()}}
    for name, array in finite.items():
        if not np.issubdtype(np.asarray(array).dtype, np.number) or not np.isfinite(array).all():
            raise RunError(f"{where}: {name} holds values that are not finite numbers; run the analysis again")


def compute_analysis(model: nn.Module, record: ModelRecord, ds: Dataset, config: AnalysisConfig,
                     log: Callable[[str], None]) -> Analysis:
    """Every analysis stage on the images ``config.points`` names: layer choice, encoding,
    projections, clusterings, decoding, neighbours and ambiguous images."""
    layers = score_layers(model, ds.x_train, ds.y_train, ds.x_test, ds.y_test, seed=config.seed,
                          train_sample=config.train_sample, log=log)
    layer = config.layer or layers.best
    log(f"best layer: {layers.best}; encoding from: {layer}")
    images, y, _ = ds.split(config.points)
    n_train = len(ds.x_train) if config.points == "all" else 0
    test = np.arange(len(y)) >= n_train
    encodings = dict(encode_layers(model, images, [layer, "output"]))  # one pass gives both
    X = encodings[layer]
    predicted = np.asarray(record.label_values)[encodings["output"].argmax(1)]
    projections = _projections(X, test, config, log)
    clusterings = _clusterings(X, y, test, config, log)
    decoding, recovery = decode_dataset(ds, seed=config.seed, log=log)
    for line in decoding.lines():
        log(line)
    row = layers.row(layer)
    knn = row.knn_acc if row is not None else _knn_of(model, ds, layer, X[test], config)
    neighbours = all_neighbours(X)
    ambiguous = ambiguous_images(neighbours, y)
    log(f"ambiguous images: {len(ambiguous.index)} images whose {ambiguous.k} neighbours mostly carry another label")
    known = np.where(recovery.how == "predicted", -1, recovery.classes)  # a check needs real classes, not guesses
    discovery = _discover(model, ds.x_test, ds.y_test, known[len(ds.x_train):], "test", config.discovery_layer,
                          config.max_groups, config.seed, log)
    return Analysis(
        config=config, model=record.name, n_train=n_train, layers=layers, layer=layer,
        default_layer=default_layer(model), labels=y, predicted=predicted,
        classes=recovery.classes[len(ds.x_train) - n_train:], projections=projections, clusterings=clusterings,
        decoding=decoding, knn_acc=knn, neighbours=neighbours, ambiguous=ambiguous,
        preservation=neighbourhood_preservation(X[test], projections["tsne"].points[test]) if test.sum() <= 20000
        else None, discovery=discovery)


def discovery_layer(model: nn.Module) -> str:
    """The layer discovery reads by default: the first candidate layer (the first pooling)."""
    return candidate_layers(model)[0]


def _discover(model: nn.Module, images: np.ndarray, labels: np.ndarray, classes: np.ndarray | None, split: str,
              layer: str | None, max_groups: int, seed: int, log: Callable[[str], None]) -> Discovery:
    layer = layer or discovery_layer(model)
    log(f"discovery: looking for groups inside each label in the encoding of {layer}")
    return discover(encode(model, images, layer), labels, classes, split=split, layer=layer, max_groups=max_groups,
                    class_names=CLASS_NAMES,
                    seed=seed, log=log)


def discover_run(path: str | Path, *, layer: str | None = None, split: str = "test", max_groups: int = MAX_GROUPS,
                 seed: int = 0, log: Log = say) -> Discovery:
    """Find the groups inside each label of a run's ``split`` from its encoding alone; write them into the run.

    Writes ``discovery.csv`` (split, index, label, group: one row per image), ``discovery.json``
    (the whole result) and the discovery figures. Classes, where the data has them or they
    can be matched pixel for pixel against Fashion-MNIST, only name and score the groups.
    The files change together: the run holds the old discovery or the new one, never a mix.
    """
    with RunDir.open(path, kind="train").lock("twistfm discover", log):
        return _discover_run(path, layer, split, max_groups, seed, log)


def _discover_run(path: str | Path, layer: str | None, split: str, max_groups: int, seed: int,
                  log: Log) -> Discovery:
    run, model, _ = _open_model_run(path)
    run.check_links()
    if layer is not None:
        check_layer(model, layer)
    AnalysisConfig(max_groups=max_groups, seed=seed).check()
    ds = _run_dataset(run)
    images, labels, _ = ds.split(split)
    classes = _known_classes(ds, split, log)
    log = log or (lambda _line: None)
    kept = "the previous discovery is kept" if (run / RunDir.DISCOVERY_JSON).exists() else "no discovery was written"
    with _interrupted(lambda: f"interrupted while discovering groups in {run}: nothing was written ({kept}); run "
                              f"'twistfm discover {run}' again"):
        discovery = _discover(model, images, labels, classes, split, layer, max_groups, seed, log)
        rows = [{"split": s, "index": int(i), "label": int(v), "group": int(g) + 1}
                for s, i, v, g in zip(_split_names(ds, split), _split_index(ds, split), labels, discovery.group,
                                      strict=True)]
        files = {run.table("discovery"): csv_text(rows).encode(),
                 run / RunDir.DISCOVERY_JSON: json_text(discovery.to_json()).encode()}
        files.update({run.figure(name): F.png(fig) for name, fig in F.discovery_figures(discovery, images).items()})
    with interrupts.deferred(lambda: f"interrupted after the discovery of {run} was written (it is complete)"):
        write_together(files)
    return discovery


def _known_classes(ds: Dataset, split: str, log: Log) -> np.ndarray | None:
    """The original classes of a split where known or matched pixel for pixel (-1 elsewhere); None if none are."""
    original = None
    if not ds.has_classes and not _fashion_sized(ds):
        return None
    if not ds.has_classes:
        try:
            original = load_original()
        except DataError:
            if log:
                log("no Fashion-MNIST archives to match the images against: the groups are not named")
            return None
    classes = recover_classes(ds, original).classes
    n_train = len(ds.x_train)
    picked = {"train": classes[:n_train], "test": classes[n_train:], "all": classes}[split]
    return picked if (picked >= 0).any() else None


def _split_names(ds: Dataset, split: str) -> list[str]:
    return {"train": ["train"] * len(ds.x_train), "test": ["test"] * len(ds.x_test),
            "all": ["train"] * len(ds.x_train) + ["test"] * len(ds.x_test)}[split]


def _split_index(ds: Dataset, split: str) -> np.ndarray:
    return {"train": np.arange(len(ds.x_train)), "test": np.arange(len(ds.x_test)),
            "all": np.r_[np.arange(len(ds.x_train)), np.arange(len(ds.x_test))]}[split]


def _projections(X: np.ndarray, test: np.ndarray, config: AnalysisConfig, log: Callable[[str], None]) -> dict:
    """PCA and t-SNE fitted on the test points, the training points placed into them (and UMAP when asked)."""
    projections = [pca(X, config.seed, fit_on=test), tsne(X, config.seed, config.perplexity, fit_on=test)]
    if projections[1].params["perplexity"] != config.perplexity:
        log(f"--perplexity {config.perplexity:g} is too large for {int(test.sum())} points; t-SNE used "
            f"{projections[1].params['perplexity']:.3g}, the largest it allows")
    if config.use_umap:
        projections.append(umap(X, config.seed))
    return {p.method: p for p in projections}


def _clusterings(X: np.ndarray, y: np.ndarray, test: np.ndarray, config: AnalysisConfig,
                 log: Callable[[str], None]) -> dict:
    """K-means in the encoding; DBSCAN and HDBSCAN in its first principal components (fitted on
    the test points, the others taking their nearest test point's cluster)."""
    Z = principal_components(X, DENSITY_DIMS, config.seed, fit_on=test)
    space = f"the encoding's first {Z.shape[1]} principal components"
    clusterings = {"kmeans": kmeans(X, y, k=config.k, seed=config.seed),
                   "dbscan": dbscan(Z, y, eps=config.eps, min_samples=config.min_samples, space=space, fit_on=test,
                                    seed=config.seed),
                   "hdbscan": hdbscan(Z, y, space=space, fit_on=test)}
    for result in clusterings.values():
        s = result.scores
        log(f"{result.title}: {s['n_clusters']} clusters, {s['noise']} noise, ARI {s['ari']:.3f}, NMI {s['nmi']:.3f}, "
            f"purity {s['purity']:.3f}")
    return clusterings


def _knn_of(model: nn.Module, ds: Dataset, layer: str, X: np.ndarray, config: AnalysisConfig) -> float:
    rng = np.random.default_rng(config.seed)
    pick = np.sort(rng.choice(len(ds.x_train), min(config.train_sample, len(ds.x_train)), replace=False))
    return knn_accuracy(encode(model, ds.x_train[pick], layer), ds.y_train[pick], X, ds.y_test,
                        k=min(KNN_K, len(pick)))


# ------------------------------------------------------------------ naming the labels


def reference_classifier(original: Dataset, seed: int = 0, log: Log = say) -> Callable[[np.ndarray], np.ndarray]:
    """Train the 10-class reference classifier (recipe ``reference``) on the original Fashion-MNIST."""
    if log:
        log("training the 10-class reference classifier for images that match no Fashion-MNIST image")
    with tempfile.TemporaryDirectory() as tmp:
        model = fit(recipe("reference", seed=seed), original, RunDir.create("reference", tmp), log=None).model

    def classify(images: np.ndarray) -> np.ndarray:
        return predict(model, to_input(images)).argmax(1).numpy().astype(np.int64)

    return classify


def decode_dataset(ds: Dataset, data_dir: str | None = None, seed: int = 0,
                   log: Log = say) -> tuple[LabelDecoding, ClassRecovery]:
    """Recover each image's original class (train then test) and name every label of ``ds``.

    Images that match no Fashion-MNIST image are classified by the reference classifier, but
    only when at least ``MIN_MATCHED`` of the images do match: otherwise the images are not
    Fashion-MNIST and their classes stay unknown (the decoding then names no class). Without
    the archives, nothing can be matched and every class stays unknown.
    """
    original = None
    if not ds.has_classes and not _fashion_sized(ds):
        if log:
            log(f"labels not decoded into Fashion-MNIST classes: the images are {ds.image_size[0]} x "
                f"{ds.image_size[1]} {'grey' if ds.channels == 1 else 'colour'}, not Fashion-MNIST's 28 x 28 grey")
    elif not ds.has_classes:
        try:
            original = load_original(data_dir)
        except DataError as exc:
            if log:
                log(f"labels not decoded: {exc}")
    recovery = recover_classes(ds, original)
    unknown = recovery.classes < 0
    if original is not None and unknown.any() and 1 - unknown.mean() >= MIN_MATCHED:
        recovery = recover_classes(ds, original, reference_classifier(original, seed, log))
    elif original is not None and unknown.any() and log:
        log(f"{unknown.sum():,} of {len(unknown):,} images match no Fashion-MNIST image; they are not decoded")
    labels = np.concatenate([ds.y_train, ds.y_test])
    names = None if ds.label_names is None else {int(v): n for v, n in zip(ds.label_values, ds.label_names, strict=True)}
    return decode_labels(labels, recovery.classes, recovery.counts(), names), recovery


def _fashion_sized(ds: Dataset) -> bool:
    """Whether the images could be Fashion-MNIST's (28 x 28 grey), so matching them against it can find any."""
    return ds.image_size == (28, 28) and ds.channels == 1


def decode(data: DataSpec, seed: int = 0, log: Log = say) -> LabelDecoding:
    """Name each label of the data by the original Fashion-MNIST classes behind it."""
    data.check()
    return decode_dataset(data.load_full(), data.data_dir, seed, log)[0]


# ------------------------------------------------------------------ the study


@dataclass
class StudyResult:
    """Where the study went and what it found."""

    folder: RunDir
    report: Path
    comparison: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    analysis: Analysis


def run_study(preset: str = "quick", data: DataSpec = DataSpec(), *, seed: int = 0, seeds: int = 1,
              epochs: int | None = None, runs_root: str | Path = "runs", command: str | None = None,
              log: Log = say) -> StudyResult:
    """Run the whole study: train and compare, analyse one model's encoding, write ``report.html``.

    Parameters
    ----------
    preset : {"quick", "seed", "best"}, default="quick"
    data : DataSpec
        The data (built-in by default) and how many images of it.
    seed : int, default=0
    seeds : int, default=1
        Train every model with this many seeds (``seed``, ``seed + 1``, ...); the tables show
        the mean, deviation and range of each model's test accuracy; the first seed's model
        is analysed.
    epochs : int, optional
        Override every model's epochs (quick trials, tests).
    runs_root : path-like, default="runs"
    command : str, optional
        The command line recorded in the report (default: this process's own).
    """
    start = time.perf_counter()
    spec = _preset(preset, PRESETS)
    if epochs is not None and epochs < 1:
        raise OptionError(f"--epochs must be at least 1, got {epochs}")
    configs = spec.configs(seed, epochs)
    for config in configs.values():
        config.check()
    data.check()
    full = data.load_full()
    analysis_config = AnalysisConfig(seed=seed)
    analysis_config.check(full.used_counts(data.n_train, data.n_test)[1])
    folder = RunDir.create(f"study-{preset}", runs_root)
    command = command or "twistfm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    study_config = {"preset": preset, "seed": seed, "seeds": seeds, "epochs": epochs, "data": _data_json(data.resolve(full)),
                    "analyzed": spec.analyzed, "models": {k: c.to_json() for k, c in configs.items()}}
    folder.write_config("study", study_config)
    try:
        comparison = compare(configs, data, seeds=seeds, out=folder / RunDir.COMPARE, dataset=full, log=log)
        run = comparison.results[spec.analyzed].run
        if log:
            log(f"== analysing the encoding of {spec.analyzed}")
        analysis, figures = analyse_run(run.path, analysis_config, dataset=full, log=log)
    except (KeyboardInterrupt, Interrupted):
        raise Interrupted(f"interrupted during the study in {folder}: it is incomplete; start it again with "
                          f"'{command}'") from None
    ds = full.subset(data.n_train, data.n_test)
    explorer = explorer_part(analysis, ds.split(analysis_config.points)[0], analysis.discovery)
    report = build_report(folder / RunDir.REPORT, StudyReport(
        title=f"Twisted Fashion-MNIST study ({preset} preset)", command=command, config=study_config,
        data_source=ds.source, label_counts=ds.describe(), val_split=configs[spec.analyzed].val_split,
        models=_model_reports(comparison), comparison=comparison.rows, stats=comparison.stats,
        comparison_figure=comparison.folder.figure(F.COMPARISON).read_bytes(), analyzed=spec.analyzed,
        analysis=analysis, analysis_figures=figures, test_images=ds.x_test, explorer=explorer,
        elapsed_seconds=time.perf_counter() - start, notes=[f"Preset '{preset}': {spec.description}."]))
    write_json(folder / RunDir.SUMMARY_JSON, {"report": str(report), "comparison": comparison.rows,
                                              "stats": comparison.stats,
                                              "meaning": analysis.decoding.as_json(),
                                              "elapsed_seconds": time.perf_counter() - start})
    return StudyResult(folder, report, comparison.rows, comparison.stats, analysis)


def _preset(name: str, presets: dict[str, StudyPreset]) -> StudyPreset:
    if name not in presets:
        raise OptionError(f"--preset {name!r}: choose one of {', '.join(presets)}")
    return presets[name]


def compare_preset(name: str, seed: int = 0) -> dict[str, TrainConfig]:
    """The training configs of a ``twistfm compare`` preset."""
    return _preset(name, COMPARE_PRESETS).configs(seed)


def _model_reports(comparison: Comparison) -> list[ModelReport]:
    reports = []
    for label, result in comparison.results.items():
        run = result.run
        figures = {name: run.figure(name).read_bytes() for name in (F.LOSS, F.ACCURACY, F.CONFUSION)}
        reports.append(ModelReport(label=label, summary=(run / RunDir.SUMMARY).read_text(encoding="utf-8"),
                                   metrics=result.metrics, figures=figures))
    return reports



# ------------------------------------------------------------------ a table for other tools


def export_table(path: str | Path, out: str | Path) -> Path:
    """Write one row per analysed image of a run as a Parquet table, for pandas, FiftyOne or Embedding Atlas.

    Columns: ``id`` (the row), ``split``, ``index`` (the row in that split), ``label``,
    ``predicted``, ``correct``, ``class`` (name, where known), each clustering, ``group``
    (the discovery's group inside the label; test images), each projection's ``_x`` and
    ``_y``, ``neighbors`` (``{"ids": [...], "distances": [...]}``, ids being rows) and
    ``image`` (PNG bytes).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise OptionError("export-table needs pyarrow, an optional extra: pip install 'twistfm[table]'") from None
    run = RunDir.open(path, kind="train")
    analysis = load_analysis(run.path)
    out = Path(out)
    if out.is_dir():
        raise OptionError(f"{out}: is a folder; give a file name ending .parquet")
    refuse_special(out)
    images = _run_dataset(run).split("all" if analysis.n_train else "test")[0]
    with _interrupted(lambda: f"interrupted while writing {out}: nothing was written; run it again"):
        table = pa.table(_table_columns(analysis, images))
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, compression="zstd")
        write_bytes(out, buffer.getvalue().to_pybytes())
    return out


def _table_columns(analysis: Analysis, images: np.ndarray) -> dict[str, Any]:
    import pyarrow as pa
    from PIL import Image

    n, n_train = len(analysis.labels), analysis.n_train
    columns: dict[str, Any] = {
        "id": np.arange(n), "split": np.where(np.arange(n) < n_train, "train", "test"),
        "index": np.r_[np.arange(n_train), np.arange(n - n_train)], "label": analysis.labels,
        "predicted": analysis.predicted, "correct": analysis.predicted == analysis.labels,
        "class": pa.array([CLASS_NAMES[c] if c >= 0 else None for c in analysis.classes], pa.string()),
    }
    for name, clustering in analysis.clusterings.items():
        columns[name] = clustering.labels_
    if analysis.discovery is not None and analysis.discovery.split == "test":
        group = np.full(n, -1)
        group[n_train:] = analysis.discovery.group + 1
        columns["group"] = pa.array(group, mask=group < 0)
    for method, projection in analysis.projections.items():
        columns[f"{method}_x"], columns[f"{method}_y"] = projection.points[:, 0], projection.points[:, 1]
    nb = analysis.neighbours
    columns["neighbors"] = pa.array([{"ids": ids.tolist(), "distances": d.tolist()} for ids, d in zip(
        nb.index, nb.distance, strict=True)])

    def png(image: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        return buffer.getvalue()

    columns["image"] = pa.array([png(image) for image in images], pa.binary())
    return columns
