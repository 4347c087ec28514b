"""Keras-like building blocks: each named layer includes its activation, as in the seeds."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

__all__ = ["conv", "dense", "named", "to_input", "INPUT_SHAPE"]

#: Every model takes float32 NCHW images in [0, 1] of this shape.
INPUT_SHAPE = (1, 28, 28)


def to_input(images: np.ndarray) -> torch.Tensor:
    """The model boundary: uint8 images (N, 28, 28) -> float32 NCHW in [0, 1] (``x / 255``)."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32)).unsqueeze(1).div_(255.0)


def _activation(name: str | None) -> nn.Module:
    return {"relu": nn.ReLU(), "leaky": nn.LeakyReLU(0.3), None: nn.Identity()}[name]


def conv(cin: int, cout: int, padding: str = "same", act: str | None = "relu") -> nn.Sequential:
    """3x3 convolution, stride 1, followed by its activation (Keras ``Conv2D(activation=...)``)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1 if padding == "same" else 0), _activation(act))


def dense(fin: int, fout: int, act: str | None = "relu") -> nn.Sequential:
    """Fully connected layer followed by its activation."""
    return nn.Sequential(nn.Linear(fin, fout), _activation(act))


def named(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    """A Sequential whose children have the given stable names (the encoder picks by name)."""
    return nn.Sequential(OrderedDict(layers))
