"""The trained model: ``model.safetensors`` (its weights) and ``model.json`` (its architecture by name).

Weights are read and written only with safetensors: nothing here ever unpickles. The tensor
helpers are shared with the checkpoint (:mod:`twistfm.runs.checkpoint`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from ..atomic import write_bytes, write_json
from ..errors import OptionError, RunError
from ..models import ModelRecord, create_model
from ..schema import from_json, to_json
from .folder import RunPaths

__all__ = ["WeightFiles", "save_tensors", "load_tensors", "load_state"]


class WeightFiles(RunPaths):
    """The part of a run folder that holds the trained model."""

    WEIGHTS = "model.safetensors"
    MODEL = "model.json"

    def save_model(self, model: torch.nn.Module, record: ModelRecord) -> None:
        """Write ``model.safetensors`` and ``model.json``."""
        save_tensors(self / self.WEIGHTS, model.state_dict())
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
        tensors = load_tensors(self / self.WEIGHTS, _state_bytes(model))
        bad = next((k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
        if bad is not None:
            raise RunError(f"{self / self.WEIGHTS}: tensor {bad!r} holds NaN or infinite values (the training "
                           "diverged, or the file is corrupt); train again, e.g. with a lower --lr")
        load_state(model, tensors, self / self.WEIGHTS)
        model.eval()
        return model, record


def _state_bytes(model: torch.nn.Module) -> int:
    """The bytes of tensor data ``model``'s weights file holds."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``tensors`` (detached, on the CPU) as one safetensors file, atomically."""
    write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def load_tensors(path: Path, max_bytes: int | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, as a RunError when missing, corrupt or larger than ``max_bytes``
    of tensor data; the header is checked against the file's size before the tensors are read."""
    try:
        size = _checked_size(path, max_bytes)
        with open(path, "rb") as handle:
            return load(handle.read(size))
    except FileNotFoundError:
        raise RunError(f"{path}: weights file missing") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"{path}: corrupt weights file ({exc}); re-run the training") from None


#: The largest header safetensors itself accepts.
_MAX_HEADER = 100 * 2**20


def _checked_size(path: Path, max_bytes: int | None) -> int:
    """The file's size, once its header says the same; ValueError otherwise (read before any tensor)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 2 <= length <= min(_MAX_HEADER, size - 8):
            raise ValueError("its header is missing or of an impossible length")
        try:
            header = json.loads(handle.read(length))
            end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise ValueError("its header is not a safetensors header") from None
    if size != 8 + length + end:
        raise ValueError(f"the file holds {size:,} bytes where its header describes {8 + length + end:,}")
    if max_bytes is not None and end > max_bytes:
        raise ValueError(f"it holds {end:,} bytes of tensors where the model has {max_bytes:,}")
    return size


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    """Load ``state`` into ``model`` strictly, as a RunError naming ``where`` when it does not fit."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise RunError(f"{where}: does not fit the model ({first}); the run is corrupt") from None
