"""Keras-style architecture summaries: layer, output shape, parameter count."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import input_shape_of

__all__ = ["LayerRow", "layer_table", "count_parameters", "format_summary"]


@dataclass(frozen=True)
class LayerRow:
    """One top-level layer of a model."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _kind(module: nn.Module) -> str:
    inner = [type(m).__name__ for m in module.modules() if not isinstance(m, nn.Sequential)]
    return "+".join(dict.fromkeys(inner)) or type(module).__name__


@torch.no_grad()
def layer_table(model: nn.Module) -> list[LayerRow]:
    """The model's named top-level layers with output shapes (batch dim omitted)."""
    was_training = model.training
    model.eval()
    x = torch.zeros((1, *input_shape_of(model)))
    rows = []
    for name, module in model.named_children():
        x = module(x)
        rows.append(LayerRow(name, _kind(module), tuple(x.shape[1:]), count_parameters(module)))
    model.train(was_training)
    return rows


def format_summary(model: nn.Module, title: str = "") -> str:
    """A plain-text summary table like Keras's ``model.summary()``."""
    rows = layer_table(model)
    lines = [f"Model: {title}" if title else "Model", f"{'Layer (type)':<44}{'Output Shape':<22}{'Param #':>10}"]
    lines.append("=" * 76)
    for r in rows:
        shape = "(None, " + ", ".join(map(str, r.output_shape)) + ")"
        lines.append(f"{r.name + ' (' + r.kind + ')':<44}{shape:<22}{r.params:>10,}")
    lines.append("=" * 76)
    lines.append(f"Total params: {count_parameters(model):,}")
    return "\n".join(lines)
