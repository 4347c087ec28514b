"""Keras-like building blocks: each named layer includes its activation, as in the seeds."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

__all__ = ["activation", "conv", "dense", "named", "to_input", "input_shape_of", "inference_layout", "INPUT_SHAPE",
           "INFERENCE_BATCH", "LEAKY_SLOPE"]

#: The input shape (channels, height, width) of a model built without one: Fashion-MNIST's 28 x 28 grey images.
INPUT_SHAPE = (1, 28, 28)

#: Images per forward pass when a network only reads (evaluation, prediction, encoding). Small
#: batches keep each layer's activations nearer the CPU's caches: on a 2-core AVX2 CPU, 128 reads
#: 1.2-2.9x more images a second than batches of 1000, and encodes 1.1-3.1x more than batches
#: of 500, on cm1, model-a, tfm-small and tfm-res (``bench/train_bench.py inference``).
INFERENCE_BATCH = 128


def to_input(images: np.ndarray) -> torch.Tensor:
    """The model boundary: uint8 images (N, H, W) or (N, H, W, C) -> float32 NCHW in [0, 1] (``x / 255``).

    Colour images come out channels-last in memory (a view of the NHWC array), which is the
    layout a CPU's convolutions read fastest.
    """
    x = torch.from_numpy(np.asarray(images, dtype=np.float32))
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    return x.div_(255.0)


def input_shape_of(model: nn.Module) -> tuple[int, int, int]:
    """The (channels, height, width) a model takes: what :func:`~twistfm.models.create_model` recorded."""
    return tuple(getattr(model, "input_shape", INPUT_SHAPE))


@contextlib.contextmanager
def inference_layout(model: nn.Module) -> Iterator[torch.memory_format]:
    """Run ``model`` in the memory layout its convolutions are fastest in, restoring its own after.

    On a CPU that is channels-last (oneDNN's convolutions read it directly: 1.1-1.8x faster
    than the default layout on AVX2 and AVX-512 CPUs alike, measured by
    ``bench/train_bench.py throughput``); elsewhere the layout is kept. Yields the layout to
    give the input batches.
    """
    param = next(model.parameters(), None)
    if param is None or param.device.type != "cpu":
        yield torch.contiguous_format
        return
    # A model being trained may be channels-last already, and its optimiser's state has its strides.
    own = (torch.channels_last if any(p.dim() == 4 and not p.is_contiguous() for p in model.parameters())
           else torch.contiguous_format)
    model.to(memory_format=torch.channels_last)
    try:
        yield torch.channels_last
    finally:
        model.to(memory_format=own)


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
