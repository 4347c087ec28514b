"""End-of-epoch checkpoints: weights and optimiser state in safetensors, history in JSON.

Both files are written atomically; nothing is pickled, so a checkpoint is as safe to load as
the final weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .atomic import write_json
from .errors import RunError
from .runs import load_tensors, read_json, save_tensors

__all__ = ["save_checkpoint", "load_checkpoint", "optimizer_to"]


def optimizer_to(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Move the optimiser's state tensors to ``device`` (after loading a checkpoint on the CPU)."""
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and key != "step":
                state[key] = value.to(device)


def save_checkpoint(run: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     history: list[dict[str, float]]) -> None:
    """Weights and optimiser state in safetensors, history in JSON; both written atomically."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for idx, state in opt["state"].items():
        for key, value in state.items():
            tensors[f"optim.{idx}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    save_tensors(run / "checkpoint.safetensors", tensors)
    write_json(run / "checkpoint.json", {"epochs_done": len(history), "history": history})


def load_checkpoint(run: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> list[dict[str, float]]:
    """Restore weights and optimiser state from ``run``'s checkpoint; return the history so far."""
    meta = read_json(run / "checkpoint.json")
    tensors = load_tensors(run / "checkpoint.safetensors")
    history = meta.get("history")
    if not isinstance(history, list) or meta.get("epochs_done") != len(history):
        raise RunError(f"{run}/checkpoint.json: inconsistent checkpoint; start a new run")
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise RunError(f"{run}/checkpoint.safetensors: does not fit the model ({str(exc).splitlines()[0]})") from None
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            opt_state.setdefault(int(idx), {})[name] = value
    if opt_state:
        optimizer.load_state_dict({"state": opt_state, "param_groups": optimizer.state_dict()["param_groups"]})
    return history
