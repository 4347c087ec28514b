"""What a training run records: ``summary.txt``, ``metrics.json`` and ``history.csv``."""

from __future__ import annotations

import csv
import io
from typing import Any

from ..atomic import write_json, write_text
from ..errors import RunError
from ..schema import check_value
from .folder import MAX_JSON_BYTES, RunPaths

__all__ = ["HISTORY_FIELDS", "MAY_BE_MISSING", "RecordFiles"]

#: The columns of ``history.csv``, one row per epoch.
HISTORY_FIELDS: tuple[str, ...] = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                                   "lr", "epoch_time", "eval_time")

#: History fields that are null when there is nothing to measure: no validation images, or an epoch
#: that evaluated no test images (each epoch but the last, when there are validation images).
MAY_BE_MISSING = ("val_loss", "val_acc", "test_loss", "test_acc")

#: The fields of ``metrics.json`` that later stages read, with their types.
_METRICS: dict[str, Any] = {"test_acc": float, "test_loss": float, "train_acc": float, "val_acc": float | None,
                            "epochs": int, "training_seconds": float, "train_images_per_second": float,
                            "test_inference_seconds": float, "confusion": list[list[int]], "parameters": int}


class RecordFiles(RunPaths):
    """The part of a run folder that holds the model's summary, its metrics and its training history."""

    HISTORY = "history.csv"
    METRICS = "metrics.json"
    SUMMARY = "summary.txt"

    def write_summary(self, text: str) -> None:
        """Write ``summary.txt``, the model's Keras-style layer table."""
        write_text(self / self.SUMMARY, text.rstrip("\n") + "\n")

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Write ``metrics.json``."""
        write_json(self / self.METRICS, metrics)

    def metrics(self) -> dict[str, Any]:
        """``metrics.json``, with the fields later stages use checked."""
        metrics = self.read_json(self.METRICS)
        where = self / self.METRICS
        for key, hint in _METRICS.items():
            if key not in metrics:
                raise RunError(f"{where}: missing field {key!r}; the run is incomplete or corrupt")
            metrics[key] = check_value(metrics[key], hint, f"{where}: field {key!r}")
        return metrics

    def write_history(self, rows: list[dict[str, float]]) -> None:
        """Write ``history.csv`` (atomically, so a running run shows its curve so far)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(HISTORY_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text(self / self.HISTORY, buffer.getvalue())

    def history(self) -> list[dict[str, float]]:
        """``history.csv`` as a list of rows of floats."""
        path = self.inside(self / self.HISTORY)
        if not path.is_file():
            raise RunError(f"{path}: missing; the run has no training history")
        if path.stat().st_size > MAX_JSON_BYTES:
            raise RunError(f"{path}: far larger than a training history; the run is corrupt")
        try:
            with open(path, encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                if tuple(reader.fieldnames or ()) != HISTORY_FIELDS:
                    raise RunError(f"{path}: unexpected columns {reader.fieldnames}; the run is corrupt")
                rows = [{k: float(v) for k, v in row.items()} for row in reader]
        except csv.Error as exc:
            raise RunError(f"{path}: not a CSV table a training writes ({exc}); the run is corrupt") from None
        except (TypeError, ValueError, UnicodeDecodeError):
            raise RunError(f"{path}: a value is not a number; the run is corrupt") from None
        if not rows:
            raise RunError(f"{path}: holds no epoch (only its header); the run is corrupt: re-run the training")
        return rows
