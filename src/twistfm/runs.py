"""Run directories: where every command writes, and how later stages find earlier results.

A run directory holds ``config.json`` (with the format version), ``history.csv``,
``metrics.json``, ``model.safetensors`` + ``model.json``, ``figures/``, ``encoding/`` and
``report.html``. Directories are created with an exclusive ``mkdir``, so two runs started
at the same moment never share one. Weights are read with safetensors only: nothing here
ever unpickles.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .atomic import write_bytes, write_json, write_text
from .errors import RunError
from .models import create_model

__all__ = ["RUN_VERSION", "new_run_dir", "read_json", "check_run", "save_model", "load_model",
           "write_csv_rows", "read_history", "save_tensors", "load_tensors"]

#: Version of the run-directory format; a run from another version is refused.
RUN_VERSION = 1


def new_run_dir(name: str, root: str | os.PathLike = "runs") -> Path:
    """Create a fresh run directory ``root/<timestamp>-<name>``; never reuses one.

    ``os.mkdir`` is atomic, so concurrent callers racing for the same timestamp get
    different suffixes (``-2``, ``-3``, ...).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    for n in range(1, 10_000):
        path = root / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RunError(f"{root}: could not create a new run directory for {name!r}")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from a run directory, as a RunError when missing or corrupt."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; is {Path(path).parent} a complete twistfm run?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: not valid JSON ({exc}); the run is corrupt") from None
    if not isinstance(value, dict):
        raise RunError(f"{path}: expected a JSON object")
    return value


def check_run(run: str | os.PathLike, need_model: bool = True) -> dict[str, Any]:
    """Check that ``run`` is a twistfm run of this version; return its config.

    Raises
    ------
    RunError
        If the folder is missing, not a run, from another version, or lacks a finished model.
    """
    run = Path(run)
    if not run.is_dir():
        raise RunError(f"{run}: run directory not found")
    if not (run / "config.json").is_file():
        raise RunError(f"{run}: not a twistfm run (no config.json)")
    config = read_json(run / "config.json")
    version = config.get("twistfm_run_version")
    if version != RUN_VERSION:
        raise RunError(
            f"{run}/config.json: run format version {version!r}, this twistfm reads version "
            f"{RUN_VERSION}; re-run the training with this version"
        )
    for key in ("model", "model_args", "seed"):
        if key not in config:
            raise RunError(f"{run}/config.json: missing field {key!r}; the run is incomplete or corrupt")
    if need_model and not (run / "model.safetensors").is_file():
        raise RunError(
            f"{run}: no model.safetensors; training did not finish (resume it with "
            f"'twistfm train --resume {run}')"
        )
    return config


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Save tensors to a safetensors file atomically."""
    write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file, as a RunError when missing or corrupt."""
    if not Path(path).is_file():
        raise RunError(f"{path}: weights file missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"{path}: corrupt weights file ({exc}); re-run the training") from None


def save_model(run: Path, model: torch.nn.Module, record: dict[str, Any]) -> None:
    """Write ``model.safetensors`` and ``model.json`` (architecture by name and arguments)."""
    save_tensors(run / "model.safetensors", model.state_dict())
    write_json(run / "model.json", record)


def load_model(run: str | os.PathLike) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a run's trained model from ``model.json`` and ``model.safetensors``.

    Returns the model in eval mode and its record (name, args, num_classes, label values).
    """
    run = Path(run)
    check_run(run)
    record = read_json(run / "model.json")
    for key in ("name", "args", "num_classes", "label_values"):
        if key not in record:
            raise RunError(f"{run}/model.json: missing field {key!r}; the run is corrupt")
    model = create_model(record["name"], record["num_classes"], **record["args"])
    state = load_tensors(run / "model.safetensors")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise RunError(f"{run}/model.safetensors: does not fit model {record['name']!r} ({first})") from None
    model.eval()
    return model, record


def write_csv_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write a list of dicts as a CSV table atomically (columns from the first row)."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    write_text(path, buffer.getvalue())


def read_history(run: Path) -> list[dict[str, float]]:
    """Read ``history.csv`` back as a list of dicts of floats."""
    path = Path(run) / "history.csv"
    if not path.is_file():
        raise RunError(f"{path}: missing; the run has no training history")
    with open(path, encoding="utf-8") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
