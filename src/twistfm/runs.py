"""Run folders: the one owner of every path, file name and file format inside a run.

A training run holds ``config.json`` (format version, kind, training config, data spec with
its fingerprint), ``history.csv`` (rewritten after every epoch), ``metrics.json``,
``model.safetensors`` + ``model.json``, ``summary.txt``, ``figures/``, ``encoding/`` and,
after analysis, ``analysis/``; while training, ``checkpoint.safetensors`` +
``checkpoint.json``. A comparison or a study is a run folder of another kind holding its
models' run folders. Folders are created with an exclusive ``mkdir``, so two runs started
at the same moment never share one. Every file is read back through a schema check, and
weights only with safetensors: nothing here ever unpickles.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from . import __version__
from .atomic import atomic_open, make_folder, write_bytes, write_json, write_text
from .errors import OptionError, RunError
from .lock import hold
from .models import ModelRecord, create_model
from .schema import check_value, from_json, to_json

__all__ = ["RUN_VERSION", "RunDir", "HISTORY_FIELDS"]

#: The fields of ``metrics.json`` that later stages read, with their types.
_METRICS: dict[str, Any] = {"test_acc": float, "test_loss": float, "train_acc": float, "val_acc": float | None,
                            "epochs": int, "training_seconds": float, "train_images_per_second": float,
                            "test_inference_seconds": float, "confusion": list[list[int]], "parameters": int}

#: History fields that are null when there is nothing to measure: no validation images, or an epoch
#: that evaluated no test images (each epoch but the last, when there are validation images).
_MAY_BE_MISSING = ("val_loss", "val_acc", "test_loss", "test_acc")

#: The largest JSON file a run holds (an analysis of 70,000 images is a few MB; its arrays are .npy files).
_MAX_JSON_BYTES = 256 * 2**20

#: Version of the run-folder format; a run of another version is refused with a clear line.
RUN_VERSION = 2

#: The columns of ``history.csv``, one row per epoch.
HISTORY_FIELDS: tuple[str, ...] = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                                   "lr", "epoch_time", "eval_time")


class RunDir:
    """A run folder and everything in it.

    Parameters
    ----------
    path : path-like
        The folder. Use :meth:`create` for a new run and :meth:`open` for an existing one.
    """

    CONFIG = "config.json"
    HISTORY = "history.csv"
    METRICS = "metrics.json"
    WEIGHTS = "model.safetensors"
    MODEL = "model.json"
    SUMMARY = "summary.txt"
    CHECKPOINT = "checkpoint.json"
    CHECKPOINT_WEIGHTS = "checkpoint.safetensors"
    FIGURES = "figures"
    ENCODING = "encoding"
    ANALYSIS = "analysis"
    ANALYSIS_JSON = "analysis.json"
    ANALYSIS_ARRAYS = "arrays"
    DISCOVERY_JSON = "discovery.json"
    REPORT = "report.html"
    SUMMARY_JSON = "summary.json"
    COMPARISON_MD = "comparison.md"
    COMPARISON_CSV = "comparison.csv"
    COMPARE = "compare"
    _VERSIONS = ".analysis-versions"
    LOCK = ".lock"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def name(self) -> str:
        """The folder's name."""
        return self.path.name

    # ------------------------------------------------------------ creating and opening

    @classmethod
    def create(cls, name: str, root: str | os.PathLike = "runs", stamp: str | None = None) -> RunDir:
        """Create a fresh run folder ``root/<stamp>-<name>``; never reuses one.

        ``os.mkdir`` is atomic, so concurrent callers racing for the same stamp get
        different suffixes (``-2``, ``-3``, ...). ``stamp`` defaults to the current time.
        """
        root = make_folder(root)
        stem = f"{stamp or time.strftime('%Y%m%d-%H%M%S')}-{name}"
        for n in range(1, 10_000):
            path = root / (stem if n == 1 else f"{stem}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise RunError(f"{path}: cannot create the run folder ({exc.strerror})") from None
            return cls(path)
        raise RunError(f"{root}: could not create a new run folder for {name!r}")

    @classmethod
    def open(cls, path: str | os.PathLike, kind: str | None = None) -> RunDir:
        """An existing run folder of this version (and of ``kind``, when given).

        Raises
        ------
        RunError
            If the folder is missing, not a twistfm run, of another format version or kind.
        """
        run = cls(path)
        if not run.path.is_dir():
            raise RunError(f"{run.path}: run folder not found")
        if (run / cls.CONFIG).is_dir():
            raise RunError(f"{run / cls.CONFIG}: is a folder, not a file; the run is corrupt (a run's config.json "
                           "is written by the command that created it: start a new run)")
        if not (run / cls.CONFIG).is_file():
            raise RunError(f"{run.path}: not a twistfm run (no {cls.CONFIG})")
        config = run.config()
        if kind is not None and config["kind"] != kind:
            raise RunError(f"{run / cls.CONFIG}: this is a {config['kind']} folder, not a {kind} run; "
                           f"give the folder of one {kind} run")
        return run

    def lock(self, command: str, log: Callable[[str], None] | None = None) -> contextlib.AbstractContextManager:
        """Hold the run's lock (``.lock``: the holder's PID, command and start time) during a ``with`` block.

        A second writer refuses at once with one line naming the holder; the lock of a killed
        holder is taken over (``log`` says so).
        """
        if not self.path.is_dir():
            raise RunError(f"{self.path}: run folder not found")
        return hold(self / self.LOCK, command, log)

    # ------------------------------------------------------------ JSON files

    def inside(self, path: str | os.PathLike) -> Path:
        """``path``, refused when it leads outside the run folder through a symbolic link.

        Nothing is read, written or deleted through a link that leaves the run: a link made by
        mistake (or on purpose) must never let a command touch another folder.
        """
        path = Path(path)
        root = self.path.resolve()
        try:
            target = path.resolve()
        except (OSError, RuntimeError):  # a loop of links
            raise RunError(f"{path}: a loop of symbolic links; remove the link and run the command again") from None
        if target != root and root not in target.parents:
            raise RunError(f"{path}: leads outside the run folder (to {target}) through a symbolic link; twistfm "
                           f"reads and writes only inside {self.path}: remove the link and run the command again")
        return path

    def check_links(self) -> None:
        """Refuse, before any work, a run whose sub-folders (figures, encoding, analyses) or ``analysis``
        link lead outside it."""
        for name in (self.FIGURES, self.ENCODING, self._VERSIONS):
            self.inside(self / name)
        self._analysis_folder()

    def _folder(self, name: str) -> Path:
        """The sub-folder ``name`` of the run, created if needed, refused if it is a link leading outside."""
        return make_folder(self.inside(self / name))

    def read_json(self, name: str) -> dict[str, Any]:
        """A JSON object from the run folder, as a RunError when missing or corrupt."""
        path = self.inside(self / name)
        if path.is_dir():
            raise RunError(f"{path}: is a folder, not a file; the run is corrupt (re-run the command that writes it)")
        try:
            size = path.stat().st_size
            if size > _MAX_JSON_BYTES:
                raise RunError(f"{path}: {size:,} bytes, far more than a twistfm run file holds; the run is corrupt")
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{path}: missing; is {self.path} a complete twistfm run?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"{path}: not valid JSON ({exc}); the run is corrupt") from None
        except RecursionError:
            raise RunError(f"{path}: nested too deeply to be a twistfm run file; the run is corrupt") from None
        except OSError as exc:
            raise RunError(f"{path}: cannot read ({exc.strerror})") from None
        if not isinstance(value, dict):
            raise RunError(f"{path}: expected a JSON object; the run is corrupt")
        return value

    def write_config(self, kind: str, body: dict[str, Any]) -> None:
        """Write ``config.json``: the format version, the kind of run and ``body``."""
        write_json(self / self.CONFIG, {"twistfm_run_version": RUN_VERSION, "twistfm_version": __version__,
                                        "kind": kind, **body})

    def config(self) -> dict[str, Any]:
        """``config.json``, checked for this format version."""
        config = self.read_json(self.CONFIG)
        version = config.get("twistfm_run_version")
        if version != RUN_VERSION:
            raise RunError(f"{self / self.CONFIG}: run format version {version!r}, this twistfm reads version "
                           f"{RUN_VERSION}; re-run the training with this version")
        for key in ("kind", "twistfm_version"):
            if not isinstance(config.get(key), str):
                raise RunError(f"{self / self.CONFIG}: field {key!r} is missing or not a string; the run is corrupt")
        return config

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

    # ------------------------------------------------------------ history

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
        if path.stat().st_size > _MAX_JSON_BYTES:
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

    # ------------------------------------------------------------ weights

    def save_model(self, model: torch.nn.Module, record: ModelRecord) -> None:
        """Write ``model.safetensors`` and ``model.json``."""
        _save_tensors(self / self.WEIGHTS, model.state_dict())
        write_json(self / self.MODEL, to_json(record))

    @property
    def has_model(self) -> bool:
        """Whether training finished and left its weights."""
        return (self / self.WEIGHTS).is_file()

    def model_record(self) -> ModelRecord:
        """``model.json``, validated."""
        where = str(self / self.MODEL)
        record = from_json(ModelRecord, self.read_json(self.MODEL), where)
        record.check(where)
        return record

    def load_model(self) -> tuple[torch.nn.Module, ModelRecord]:
        """Rebuild the trained model (in eval mode) from ``model.json`` and ``model.safetensors``."""
        if not self.has_model:
            raise RunError(f"{self.path}: no {self.WEIGHTS}; training did not finish (resume it with "
                           f"'twistfm train --resume {self.path}')")
        record = self.model_record()
        try:
            model = create_model(record.name, record.num_classes, record.shape, **record.args)
        except OptionError as exc:
            raise RunError(f"{self / self.MODEL}: cannot rebuild the model ({exc}); the file is corrupt") from None
        tensors = _load_tensors(self / self.WEIGHTS)
        bad = next((k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
        if bad is not None:
            raise RunError(f"{self / self.WEIGHTS}: tensor {bad!r} holds NaN or infinite values (the training "
                           "diverged, or the file is corrupt); train again, e.g. with a lower --lr")
        _load_state(model, tensors, self / self.WEIGHTS)
        model.eval()
        return model, record

    # ------------------------------------------------------------ checkpoints

    @property
    def has_checkpoint(self) -> bool:
        """Whether an interrupted training left an end-of-epoch checkpoint."""
        return (self / self.CHECKPOINT).is_file()

    def save_checkpoint(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        history: list[dict[str, float]], extra: dict[str, torch.nn.Module] | None = None) -> None:
        """Weights and optimiser state in safetensors, history in JSON; both written atomically.

        ``extra`` modules (such as the moving average of the weights) are saved beside the
        model, under their names. The weights file is written first, so a
        ``checkpoint.json`` always has its weights.
        """
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        for name, module in (extra or {}).items():
            tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
        for idx, state in optimizer.state_dict()["state"].items():
            for key, value in state.items():
                tensors[f"optim.{idx}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
        _save_tensors(self / self.CHECKPOINT_WEIGHTS, tensors)
        write_json(self / self.CHECKPOINT, {"epochs_done": len(history), "history": history})

    def load_checkpoint(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, epochs: int,
                        extra: dict[str, torch.nn.Module] | None = None) -> list[dict[str, float]]:
        """Restore weights, optimiser state and ``extra`` modules from the checkpoint of a run of
        ``epochs``; return the history so far."""
        where = self / self.CHECKPOINT
        meta = self.read_json(self.CHECKPOINT)
        history = meta.get("history")
        if not isinstance(history, list) or meta.get("epochs_done") != len(history):
            raise RunError(f"{where}: inconsistent checkpoint (its history does not match its epochs); start a new run")
        if len(history) > epochs:
            raise RunError(f"{where}: claims {len(history)} epochs done of {epochs}; the checkpoint does not belong "
                           "to this run's config, start a new run")
        history = [_history_row(row, f"{where}: history[{i}]") for i, row in enumerate(history)]
        if [r["epoch"] for r in history] != list(range(1, len(history) + 1)):
            raise RunError(f"{where}: inconsistent checkpoint (its epochs are not 1..{len(history)}); start a new run")
        tensors = _load_tensors(self / self.CHECKPOINT_WEIGHTS)
        for name, module in {"model": model, **(extra or {})}.items():
            state = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(f"{name}.")}
            _load_state(module, state, self / self.CHECKPOINT_WEIGHTS)
        opt_state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, name = key.split(".", 2)
                opt_state.setdefault(int(idx), {})[name] = value
        if opt_state:
            try:
                optimizer.load_state_dict({"state": opt_state, "param_groups": optimizer.state_dict()["param_groups"]})
            except (ValueError, KeyError, RuntimeError) as exc:
                raise RunError(f"{self / self.CHECKPOINT_WEIGHTS}: optimiser state does not fit ({exc})") from None
        return history

    def clear_checkpoint(self) -> None:
        """Remove the checkpoint once the final weights are written."""
        for name in (self.CHECKPOINT, self.CHECKPOINT_WEIGHTS):
            (self / name).unlink(missing_ok=True)

    # ------------------------------------------------------------ figures, encodings, tables

    def figure(self, name: str) -> Path:
        """Path of figure ``name`` (``figures/<name>.png``); the folder is created."""
        return self._folder(self.FIGURES) / f"{name}.png"

    def encoding(self, layer: str, split: str) -> Path:
        """Path of the encoding of ``split`` at ``layer`` (``encoding/<layer>-<split>.npy``)."""
        return self._folder(self.ENCODING) / f"{layer}-{split}.npy"

    def labels(self, split: str) -> Path:
        """Path of the labels saved beside an encoding of ``split``."""
        return self._folder(self.ENCODING) / f"labels-{split}.npy"

    def table(self, name: str) -> Path:
        """Path of a CSV table ``name`` at the top of the run folder."""
        return self / f"{name}.csv"

    # ------------------------------------------------------------ the analysis

    def write_analysis(self, document: dict[str, Any], arrays: dict[str, np.ndarray],
                       files: dict[str, bytes]) -> Path:
        """Replace the analysis in one step: the run holds the old one or the new one, never a mix.

        The new analysis is written whole into a fresh folder; then the ``analysis`` link is
        switched to it with one atomic rename, and the old folder is removed.

        Parameters
        ----------
        document : dict
            Written as ``analysis/analysis.json``.
        arrays : dict
            Written as ``analysis/arrays/<name>.npy``.
        files : dict
            Other files (figures, tables) by their path inside ``analysis/``.
        """
        versions = self._folder(self._VERSIONS)
        new = versions / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        try:
            make_folder(new / self.ANALYSIS_ARRAYS)
            for name, array in arrays.items():
                with atomic_open(new / self.ANALYSIS_ARRAYS / f"{name}.npy", "wb") as handle:
                    np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
            for name, data in files.items():
                make_folder((new / name).parent)
                write_bytes(new / name, data)
            write_json(new / self.ANALYSIS_JSON, document)
            self._switch_analysis(new)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        return self / self.ANALYSIS

    def _switch_analysis(self, new: Path) -> None:
        link = self / self.ANALYSIS
        if link.is_dir() and not link.is_symlink():  # a copied run: its analysis became a real folder
            shutil.rmtree(link)
        for stale in self.path.glob(f".{self.ANALYSIS}-*.link"):  # left by a killed analysis
            stale.unlink(missing_ok=True)
        tmp = self / f".{self.ANALYSIS}-{secrets.token_hex(3)}.link"
        os.symlink(os.path.relpath(new, self.path), tmp)
        os.replace(tmp, link)  # replaces a link, never writes through it
        versions = self.inside(self / self._VERSIONS)
        for old in versions.iterdir():
            if old == new:
                continue
            if old.is_symlink() or not old.is_dir():
                old.unlink(missing_ok=True)
            else:
                shutil.rmtree(old, ignore_errors=True)

    def _analysis_folder(self) -> Path:
        """The folder the ``analysis`` link points to, refused unless it is one of this run's analyses."""
        link = self / self.ANALYSIS
        if not link.is_symlink():
            return self.inside(link)
        versions = (self / self._VERSIONS).resolve()
        target = link.resolve()
        if target.parent != versions or (self / self._VERSIONS).is_symlink():
            raise RunError(f"{link}: points to {target}, not to one of this run's analyses; remove the link and run "
                           f"'twistfm analyze {self.path}' again")
        return link

    @property
    def has_analysis(self) -> bool:
        """Whether the run has a complete analysis."""
        return (self._analysis_folder() / self.ANALYSIS_JSON).is_file()

    def analysis(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The analysis document and its arrays."""
        if not self.has_analysis:
            raise RunError(f"{self.path}: no analysis yet; run 'twistfm analyze {self.path}' first")
        document = self.read_json(f"{self.ANALYSIS}/{self.ANALYSIS_JSON}")
        arrays = {}
        for path in sorted((self._analysis_folder() / self.ANALYSIS_ARRAYS).glob("*.npy")):
            try:
                arrays[path.stem] = np.load(self.inside(path), allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise RunError(f"{path}: corrupt array ({exc}); run the analysis again") from None
        return document, arrays

    def analysis_file(self, name: str) -> Path:
        """Path of a file inside the current analysis."""
        return self.inside(self._analysis_folder() / name)


def _history_row(row: Any, where: str) -> dict[str, float]:
    """One history row read back from JSON (where a missing measurement is null)."""
    if not isinstance(row, dict) or set(row) != set(HISTORY_FIELDS):
        raise RunError(f"{where}: expected the fields {', '.join(HISTORY_FIELDS)}; start a new run")
    out = {}
    for key in HISTORY_FIELDS:
        value = row[key]
        if value is None and key in _MAY_BE_MISSING:
            value = float("nan")
        elif (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
              or (key == "epoch" and not float(value).is_integer())):
            raise RunError(f"{where}: field {key!r} must be a finite number, found {value!r}; start a new run")
        out[key] = int(value) if key == "epoch" else float(value)
    return out


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load(path.read_bytes())
    except FileNotFoundError:
        raise RunError(f"{path}: weights file missing") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"{path}: corrupt weights file ({exc}); re-run the training") from None


def _load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise RunError(f"{where}: does not fit the model ({first}); the run is corrupt") from None
