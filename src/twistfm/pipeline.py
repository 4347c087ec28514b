"""The study as plain functions: train with figures, compare models, and run it all.

The CLI calls these; so can a notebook.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from .atomic import write_json, write_text
from .data import Dataset
from .errors import OptionError
from .progress import say
from .runs import new_run_dir, read_history, read_json, write_csv_rows
from .train import TrainConfig, TrainResult, fit, resume

__all__ = ["COMPARE_PRESETS", "train_model", "resume_model", "training_figures", "compare_models",
           "comparison_row", "with_data_source"]

#: The seeds' training runs, as DESIGN.md lists them (what the seeds left open: Keras defaults).
COMPARE_PRESETS: dict[str, dict[str, TrainConfig]] = {
    "seed": {
        "cm1-adam": TrainConfig("cm1", optimizer="adam", lr=1e-3, batch_size=10, epochs=10),
        "cm1-sgd": TrainConfig("cm1", optimizer="sgd", lr=0.01, momentum=0.9, batch_size=32, epochs=10),
        "model-a": TrainConfig("model-a", optimizer="adam", lr=1e-3, batch_size=32, epochs=5),
        "model-b": TrainConfig("model-b", optimizer="adam", lr=1e-3, batch_size=32, epochs=10),
        "leaky": TrainConfig("leaky", optimizer="sgd", lr=0.01, momentum=0.9, batch_size=32, epochs=10),
    },
}


def training_figures(run: Path) -> list[Path]:
    """Draw a finished run's loss, accuracy and confusion figures into ``run/figures``."""
    from .report.figures import confusion_figure, curves_figure, save_figure

    history = read_history(run)
    metrics = read_json(run / "metrics.json")
    record = read_json(run / "model.json")
    figures = run / "figures"
    figures.mkdir(exist_ok=True)
    paths = [figures / "loss.png", figures / "accuracy.png", figures / "confusion.png"]
    save_figure(curves_figure(history, "loss", f"{record['name']}: loss per epoch"), paths[0])
    save_figure(curves_figure(history, "acc", f"{record['name']}: accuracy per epoch"), paths[1])
    names = [str(v) for v in record["label_values"]]
    save_figure(confusion_figure(np.array(metrics["confusion"]), names,
                                 f"{record['name']}: test confusion matrix"), paths[2])
    return paths


def train_model(config: TrainConfig, dataset: Dataset, runs_root: str | Path = "runs",
                log: Callable[[str], None] | None = say) -> TrainResult:
    """Train one model into a new run directory and draw its figures."""
    result = fit(config, dataset, runs_root=runs_root, log=log)
    training_figures(result.run)
    return result


def resume_model(run: str | Path, dataset: Dataset, log: Callable[[str], None] | None = say) -> TrainResult:
    """Resume an interrupted run and draw its figures."""
    result = resume(run, dataset, log=log)
    training_figures(result.run)
    return result


def _architecture_numbers(model: nn.Module) -> tuple[str, str]:
    convs = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    dense = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    return "/".join(map(str, convs)) or "-", "/".join(map(str, dense)) or "-"


def comparison_row(name: str, config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    """One row of the comparison table, with seed 002's columns."""
    filters, units = _architecture_numbers(result.model)
    m = result.metrics
    return {
        "model": name, "architecture": config.model, "filters": filters, "dense_units": units,
        "batch_size": config.batch_size, "epochs": config.epochs, "optimizer": config.optimizer,
        "train_acc": round(m["train_acc"], 4), "val_acc": round(m["val_acc"], 4),
        "training_seconds": round(m["training_seconds"], 1), "test_acc": round(m["test_acc"], 4),
        "test_loss": round(m["test_loss"], 4), "parameters": m["parameters"],
        "train_images_per_second": round(m["train_images_per_second"], 1), "run": result.run.name,
    }


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def compare_models(
    configs: dict[str, TrainConfig], dataset: Dataset, runs_root: str | Path = "runs",
    log: Callable[[str], None] | None = say, name: str = "compare", out: Path | None = None,
) -> tuple[Path, list[dict[str, Any]], dict[str, TrainResult]]:
    """Train several models and write a comparison table (Markdown + CSV) and figure.

    Model runs go inside the comparison directory (a new one under ``runs_root``, or
    ``out`` when given). Returns that directory, the table rows and each model's result.
    """
    from .report.figures import comparison_figure, save_figure

    if not configs:
        raise OptionError("compare needs at least one model")
    if out is None:
        out = new_run_dir(name, runs_root)
    else:
        out.mkdir(parents=True, exist_ok=False)
    write_json(out / "config.json", {"kind": "compare", "models": {k: c.to_json() for k, c in configs.items()}})
    rows, results = [], {}
    for label, config in configs.items():
        if log:
            log(f"== {label}")
        start = time.perf_counter()
        result = train_model(config, dataset, runs_root=out, log=log)
        results[label] = result
        rows.append(comparison_row(label, config, result))
        if log:
            log(f"   {label}: test acc {result.metrics['test_acc']:.4f} in {time.perf_counter() - start:.0f}s")
    write_csv_rows(out / "comparison.csv", rows)
    write_text(out / "comparison.md", _markdown_table(rows))
    (out / "figures").mkdir(exist_ok=True)
    save_figure(comparison_figure({k: r.history for k, r in results.items()}), out / "figures" / "comparison.png")
    return out, rows, results


def with_data_source(config: TrainConfig, csv_dir: str | None, data_dir: str | None,
                     n_train: int | None = None, n_test: int | None = None) -> TrainConfig:
    """Record where the data came from (and any slice) in a config."""
    return replace(config, csv_dir=csv_dir, data_dir=data_dir,
                   n_train=n_train if n_train is not None else config.n_train,
                   n_test=n_test if n_test is not None else config.n_test)
