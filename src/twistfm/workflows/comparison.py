"""Comparing models: several trained on the same data, each with one or more seeds, in one folder.

Writes the comparison table (``comparison.md``, ``comparison.csv``), per-model statistics
over the seeds, and the accuracy-curves figure; each model's run folder goes inside.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from ..atomic import write_bytes, write_text
from ..data import Dataset, DataSpec
from ..errors import OptionError
from ..progress import say
from ..report import figures as F
from ..report.tables import csv_text, markdown_table
from ..runs import RunDir
from ..schema import to_json
from ..train import TrainConfig, TrainResult
from .common import Log
from .training import train

__all__ = ["Comparison", "compare", "comparison_stats", "comparison_row"]


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
                                    "data": to_json(data.resolve(full))})
    rows, results = [], {}
    for label, config in configs.items():
        for seed in range(config.seed, config.seed + seeds):
            if log:
                log(f"== {label}" + (f", seed {seed}" if seeds > 1 else ""))
            result = train(replace(config, seed=seed), data, runs_root=folder.path, dataset=full, log=log)
            results.setdefault(label, result)
            rows.append(comparison_row(label, replace(config, seed=seed), result))
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


def comparison_row(name: str, config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    """One trained run's row of the comparison table."""
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
