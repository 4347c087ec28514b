"""The commands on one trained run: its layers, an encoding, the analysis, and discovery.

Each opens the run folder, reloads the data it was trained on (checked against its
fingerprint), computes through :mod:`twistfm.encode` and :mod:`twistfm.analysis`, and writes
into the run through :class:`~twistfm.runs.RunDir`, holding the run's lock while it writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from .. import interrupts
from ..analysis import (
    Analysis,
    AnalysisConfig,
    check_analysis,
    compute_analysis,
    discover_groups,
    matched_classes,
    point_rows,
    train_points,
)
from ..analysis.discover import MAX_GROUPS, Discovery
from ..atomic import atomic_open, json_text, write_together
from ..data import CLASS_NAMES, Dataset
from ..encode import check_layer, default_layer, encode_to_npy
from ..errors import DataError, RunError
from ..models import LayerRow, ModelRecord, layer_table
from ..progress import say
from ..report import figures as F
from ..report.tables import analysis_tables, csv_text
from ..runs import RunDir
from ..schema import join_arrays, split_arrays
from .common import Log, interrupted, quiet
from .training import train_config

__all__ = ["run_layers", "encode_run", "analyse_run", "load_analysis", "write_analysis", "discover_run", "run_dataset",
           "open_model_run"]


def open_model_run(path: str | Path) -> tuple[RunDir, nn.Module, ModelRecord]:
    """A trained run folder, its model and the model's record."""
    run = RunDir.open(path, kind="train")
    model, record = run.load_model()
    return run, model, record


def run_dataset(run: RunDir, dataset: Dataset | None = None) -> Dataset:
    """The run's slice of the data it was trained on, checked against its fingerprint."""
    _, data = train_config(run)
    where = str(run / RunDir.CONFIG)
    if dataset is None:
        return data.load_checked(where)
    if data.fingerprint is not None and dataset.fingerprint != data.fingerprint:
        raise DataError(f"{where}: the data given is not the data this run was trained on; use the run's own data")
    return dataset.subset(data.n_train, data.n_test)


def run_layers(path: str | Path) -> tuple[ModelRecord, list[LayerRow]]:
    """A trained run's model record and its layers with output shapes."""
    _, model, record = open_model_run(path)
    return record, layer_table(model)


def encode_run(path: str | Path, layer: str | None = None, split: str = "test") -> tuple[Path, tuple[int, int]]:
    """Encode a split of a run's data at ``layer`` (default: the last hidden layer) into ``run/encoding``.

    Writes ``encoding/<layer>-<split>.npy`` (float32, N x d, streamed batch by batch so memory
    stays bounded) and the labels beside it. Returns the path and the shape.
    """
    with RunDir.open(path, kind="train").lock("twistfm encode", say):
        return _encode_run(path, layer, split)


def _encode_run(path: str | Path, layer: str | None, split: str) -> tuple[Path, tuple[int, int]]:
    run, model, _ = open_model_run(path)
    run.check_links()
    layer = layer or default_layer(model)
    check_layer(model, layer)
    x, y, _ = run_dataset(run).split(split)
    target = run.encoding(layer, split)
    with interrupted(lambda: f"interrupted while encoding {run}: no new encoding was written (an earlier one is "
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
    run, model, record = open_model_run(path)
    run.check_links()
    ds = run_dataset(run, dataset)
    check_analysis(model, ds, config)
    kept = "its previous analysis is kept" if run.has_analysis else "no analysis was written"
    with interrupted(lambda: f"interrupted while analysing {run}: {kept}; run 'twistfm analyze {run}' again"):
        analysis = compute_analysis(model, record, ds, config, quiet(log))
        images = ds.split(config.points)[0]
        figures = {name: F.png(fig) for name, fig in F.analysis_figures(analysis, images, analysis.discovery).items()}
        write_analysis(run, analysis, figures)
    return analysis, figures


def write_analysis(run: RunDir, analysis: Analysis, figures: dict[str, bytes]) -> Path:
    """Store ``analysis`` in ``run`` in one step (its JSON, its arrays, its tables and ``figures``, PNG bytes by
    name), replacing the one it held; :func:`load_analysis` reads it back. Returns the new analysis folder."""
    document, arrays = split_arrays(analysis.to_json())
    files = {f"{RunDir.FIGURES}/{name}.png": data for name, data in figures.items()}
    files.update({name: text.encode() for name, text in analysis_tables(analysis).items()})
    return run.write_analysis(document, arrays, files)


def load_analysis(path: str | Path) -> Analysis:
    """The analysis a run holds, checked field by field and value by value."""
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


def discover_run(path: str | Path, *, layer: str | None = None, split: str = "test", max_groups: int = MAX_GROUPS,
                 seed: int = 0, log: Log = say) -> Discovery:
    """Find the groups inside each label of a run's ``split`` from its encoding alone; write them into the run.

    Writes ``discovery.csv`` (split, index, label, group: one row per image), ``discovery.json``
    (what was found, per label and in the whole set, and how: :func:`discovery_summary`) and
    the discovery figures. Classes, where the data has them or they can be matched pixel for
    pixel against Fashion-MNIST, only name and score the groups. The files change together:
    the run holds the old discovery or the new one, never a mix.
    """
    with RunDir.open(path, kind="train").lock("twistfm discover", log):
        return _discover_run(path, layer, split, max_groups, seed, log)


def _discover_run(path: str | Path, layer: str | None, split: str, max_groups: int, seed: int,
                  log: Log) -> Discovery:
    run, model, _ = open_model_run(path)
    run.check_links()
    if layer is not None:
        check_layer(model, layer)
    AnalysisConfig(max_groups=max_groups, seed=seed).check()
    ds = run_dataset(run)
    images, labels, _ = ds.split(split)
    classes = matched_classes(ds, split, log)
    log = quiet(log)
    kept = "the previous discovery is kept" if (run / RunDir.DISCOVERY_JSON).exists() else "no discovery was written"
    with interrupted(lambda: f"interrupted while discovering groups in {run}: nothing was written ({kept}); run "
                             f"'twistfm discover {run}' again"):
        discovery = discover_groups(model, images, labels, classes, split, layer, max_groups, seed, log)
        splits, index = point_rows(train_points(ds, split), len(labels))
        rows = [{"split": str(s), "index": int(i), "label": int(v), "group": int(g) + 1}
                for s, i, v, g in zip(splits, index, labels, discovery.group, strict=True)]
        files = {run.table("discovery"): csv_text(rows).encode(),
                 run / RunDir.DISCOVERY_JSON: json_text(discovery_summary(discovery)).encode()}
        titles = (None if ds.label_names is None else
                  {int(v): f"label {v} ({n})" for v, n in zip(ds.label_values, ds.label_names, strict=True)})
        files.update({run.figure(name): F.png(fig)
                      for name, fig in F.discovery_figures(discovery, images, titles).items()})
    with interrupts.deferred(lambda: f"interrupted after the discovery of {run} was written (it is complete)"):
        write_together(files)
    return discovery


def discovery_summary(discovery: Discovery) -> dict[str, Any]:
    """What ``discovery.json`` holds: the discovery without its per-image arrays.

    The split, layer and settings, each label's groups (sizes, typical and borderline
    images, the class each looks like) and the whole-set count. Each image's label and group
    are ``discovery.csv``'s rows; the maps' coordinates are drawn in the discovery figures.
    """
    return {name: value for name, value in discovery.to_json().items()
            if not isinstance(getattr(discovery, name), np.ndarray)}
