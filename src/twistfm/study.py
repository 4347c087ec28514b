"""The study in one call: train and compare, choose and encode the best layer, analyse,
decode, and write one self-contained report with an interactive explorer.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .analyze import AnalysisOptions, analyze_run
from .atomic import write_json
from .data import CLASS_NAMES, load_dataset
from .errors import OptionError
from .pipeline import COMPARE_PRESETS, compare_models, with_data_source
from .progress import say
from .runs import new_run_dir, read_json
from .train import TrainConfig

__all__ = ["STUDY_PRESETS", "StudyPreset", "StudyResult", "run_study"]

_OURS = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="onecycle", batch_size=128,
             augment=True, tta=True, label_smoothing=0.1)


@dataclass(frozen=True)
class StudyPreset:
    """Models to train, and which one's encoding the analysis studies."""

    models: dict[str, TrainConfig]
    analyzed: str
    description: str


STUDY_PRESETS: dict[str, StudyPreset] = {
    "quick": StudyPreset(
        {"cm1": TrainConfig("cm1", optimizer="adam", lr=1e-3, batch_size=64, epochs=3),
         "tfm-small": TrainConfig("tfm-small", epochs=8, val_split=0.1, **_OURS)},
        "tfm-small", "cm1 as a baseline and our narrow network, in about 10 minutes on a 2-core CPU"),
    "seed": StudyPreset(dict(COMPARE_PRESETS["seed"]), "model-a",
                        "both seeds' five training runs; the analysis encodes model-a, as seed 002 did"),
    "best": StudyPreset(
        {"cm1": COMPARE_PRESETS["seed"]["cm1-adam"],
         "tfm-net": TrainConfig("tfm-net", epochs=16, val_split=0.0, **_OURS)},
        "tfm-net", "our highest-accuracy recipe (about 30 minutes of training on a 2-core CPU)"),
}


@dataclass
class StudyResult:
    """Where the study went and what it found."""

    folder: Path
    report: Path
    comparison: list[dict[str, Any]]
    meaning: dict[str, list[str]]
    lines: list[str]


def _explorer(run: Path, x_test: np.ndarray, label_values: list[int]):
    from .report.explorer import explorer_components

    enc = run / "encoding"
    labels = np.load(enc / "labels-test.npy")
    predicted = np.load(enc / "predicted-test.npy")
    kmeans = np.load(enc / "kmeans-test.npy")
    dbscan = np.load(enc / "dbscan-test.npy")
    classes = np.load(enc / "classes-test.npy")
    original = ["unknown class" if c < 0 else CLASS_NAMES[c] for c in classes]
    colourings = {
        "label": [f"label {v}" for v in labels],
        "K-means": [f"cluster {c}" for c in kmeans],
        "DBSCAN": ["noise" if c < 0 else f"cluster {c}" for c in dbscan],
        "predicted": [f"label {v}" for v in predicted],
        "correct": ["correct" if p == t else "wrong" for p, t in zip(predicted, labels, strict=True)],
    }
    if (classes >= 0).any():
        colourings["original class"] = original
    hover = {"label": [str(v) for v in labels], "predicted": [str(v) for v in predicted],
             "kmeans": [str(c) for c in kmeans], "dbscan": ["noise" if c < 0 else str(c) for c in dbscan],
             "original": original}
    projections = {"t-SNE": np.load(enc / "tsne-test.npy"), "PCA": np.load(enc / "pca-test.npy")}
    return explorer_components(projections, x_test, colourings, hover)


def run_study(
    preset: str = "quick",
    csv_dir: str | None = None,
    data_dir: str | None = None,
    runs_root: str | Path = "runs",
    seed: int = 0,
    epochs: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = say,
) -> StudyResult:
    """Run the whole study and write ``report.html``.

    Parameters
    ----------
    preset : {"quick", "seed", "best"}, default="quick"
    csv_dir, data_dir : str, optional
        A CSV folder in the seed format, or the folder with the Fashion-MNIST archives.
    runs_root : path-like, default="runs"
    seed : int, default=0
    epochs, n_train, n_test : int, optional
        Override every model's epochs, or use only the first images (quick trials, tests).
    command : str, optional
        The command line recorded in the report (default: this process's own).
    """
    from .report.html import StudyInfo, build_report

    if preset not in STUDY_PRESETS:
        raise OptionError(f"--preset {preset!r}: choose one of {', '.join(STUDY_PRESETS)}")
    if epochs is not None and epochs < 1:
        raise OptionError(f"--epochs must be at least 1, got {epochs}")
    start = time.perf_counter()
    spec = STUDY_PRESETS[preset]
    dataset = load_dataset(csv_dir=csv_dir, data_dir=data_dir)
    configs = {}
    for label, config in spec.models.items():
        config = with_data_source(replace(config, seed=seed), csv_dir, data_dir, n_train, n_test)
        configs[label] = replace(config, epochs=epochs) if epochs else config
        configs[label].check()
    folder = new_run_dir(f"study-{preset}", runs_root)
    command = command or "twistfm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    study_config = {"kind": "study", "preset": preset, "seed": seed, "csv_dir": csv_dir, "data_dir": data_dir,
                    "epochs": epochs, "n_train": n_train, "n_test": n_test, "analyzed": spec.analyzed,
                    "models": {k: c.to_json() for k, c in configs.items()}}
    write_json(folder / "config.json", study_config)
    _, rows, results = compare_models(configs, dataset, log=log, out=folder / "compare")
    run = results[spec.analyzed].run
    if log:
        log(f"== analysing the encoding of {spec.analyzed}")
    summary = analyze_run(run, AnalysisOptions(seed=seed), log=log)
    ds = dataset.subset(n_train, n_test)
    info = StudyInfo(
        title=f"Twisted Fashion-MNIST study ({preset} preset)", command=command, config=study_config,
        data_source=ds.source,
        label_counts={split: {str(v): int(n) for v, n in zip(*np.unique(y, return_counts=True), strict=True)}
                      for split, y in (("train", ds.y_train), ("test", ds.y_test))},
        comparison=rows, runs={k: r.run for k, r in results.items()}, analyzed=spec.analyzed,
        elapsed_seconds=time.perf_counter() - start,
        explorer=_explorer(run, ds.x_test, read_json(run / "model.json")["label_values"]),
        notes=[f"Preset '{preset}': {spec.description}."])
    report = build_report(folder / "report.html", info)
    decoding = summary["decoding"]
    write_json(folder / "summary.json", {"report": str(report), "comparison": rows, "meaning": decoding["meaning"],
                                         "elapsed_seconds": time.perf_counter() - start})
    return StudyResult(folder, report, rows, decoding["meaning"], decoding["lines"])
