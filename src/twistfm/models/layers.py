"""Keras-like building blocks: each named layer includes its activation, as in the seeds."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

__all__ = ["activation", "conv", "dense", "named", "to_input", "INPUT_SHAPE", "LEAKY_SLOPE"]

#: Every model takes float32 NCHW images in [0, 1] of this shape.
INPUT_SHAPE = (1, 28, 28)


def to_input(images: np.ndarray) -> torch.Tensor:
    """The model boundary: uint8 images (N, 28, 28) -> float32 NCHW in [0, 1] (``x / 255``)."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32)).unsqueeze(1).div_(255.0)


#: Keras's default LeakyReLU slope.
LEAKY_SLOPE = 0.3


def activation(name: str | None, slope: float = LEAKY_SLOPE) -> nn.Module:
    """``"relu"``, ``"leaky"`` (LeakyReLU with ``slope``), or ``None`` / ``"linear"`` (none, Keras's default)."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky":
        return nn.LeakyReLU(slope)
    return nn.Identity()


def conv(cin: int, cout: int, padding: str = "same", act: str | None = "relu", slope: float = LEAKY_SLOPE
         ) -> nn.Sequential:
    """3x3 convolution, stride 1, followed by its activation (Keras ``Conv2D(activation=...)``)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1 if padding == "same" else 0), activation(act, slope))


def dense(fin: int, fout: int, act: str | None = "relu", slope: float = LEAKY_SLOPE) -> nn.Sequential:
    """Fully connected layer followed by its activation."""
    return nn.Sequential(nn.Linear(fin, fout), activation(act, slope))


def named(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    """A Sequential whose children have the given stable names (the encoder picks by name)."""
    return nn.Sequential(OrderedDict(layers))
