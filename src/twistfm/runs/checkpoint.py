"""The end-of-epoch checkpoint of a training under way: ``checkpoint.safetensors`` + ``checkpoint.json``.

The weights file holds the model's, any extra module's (the moving average of the weights)
and the optimiser's tensors, each under its prefix; the JSON file the history so far. Both
are written atomically, the weights first, so a ``checkpoint.json`` always has its weights.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..atomic import write_json
from ..errors import RunError
from .folder import RunPaths
from .records import HISTORY_FIELDS, MAY_BE_MISSING
from .weights import load_state, load_tensors, save_tensors

__all__ = ["CheckpointFiles"]


class CheckpointFiles(RunPaths):
    """The part of a run folder that holds the checkpoint a resumed training continues from."""

    CHECKPOINT = "checkpoint.json"
    CHECKPOINT_WEIGHTS = "checkpoint.safetensors"

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
        save_tensors(self / self.CHECKPOINT_WEIGHTS, tensors)
        write_json(self / self.CHECKPOINT, {"epochs_done": len(history), "history": history})

    def load_checkpoint(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, epochs: int,
                        extra: dict[str, torch.nn.Module] | None = None) -> list[dict[str, float]]:
        """Restore weights, optimiser state and ``extra`` modules from the checkpoint of a run of
        ``epochs``; return the history so far."""
        history = self._checkpoint_history(epochs)
        tensors = load_tensors(self / self.CHECKPOINT_WEIGHTS)
        for name, module in {"model": model, **(extra or {})}.items():
            state = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(f"{name}.")}
            load_state(module, state, self / self.CHECKPOINT_WEIGHTS)
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

    def _checkpoint_history(self, epochs: int) -> list[dict[str, float]]:
        """The history ``checkpoint.json`` holds, checked against a run of ``epochs``."""
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
        return history

    def clear_checkpoint(self) -> None:
        """Remove the checkpoint once the final weights are written."""
        for name in (self.CHECKPOINT, self.CHECKPOINT_WEIGHTS):
            (self / name).unlink(missing_ok=True)


def _history_row(row: Any, where: str) -> dict[str, float]:
    """One history row read back from JSON (where a missing measurement is null)."""
    if not isinstance(row, dict) or set(row) != set(HISTORY_FIELDS):
        raise RunError(f"{where}: expected the fields {', '.join(HISTORY_FIELDS)}; start a new run")
    out = {}
    for key in HISTORY_FIELDS:
        value = row[key]
        if value is None and key in MAY_BE_MISSING:
            value = float("nan")
        elif (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
              or (key == "epoch" and not float(value).is_integer())):
            raise RunError(f"{where}: field {key!r} must be a finite number, found {value!r}; start a new run")
        out[key] = int(value) if key == "epoch" else float(value)
    return out
