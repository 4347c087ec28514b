"""Encoding: a trained network's inner layer, by name, as an (N x d) float32 feature table.

Images of any size and channels go in as the model was built for (:func:`twistfm.models.to_input`).
Which layers are worth encoding, and their widths, the model declares: its ``feature_info``
(:class:`twistfm.models.FeatureInfo`), measured once when the registry built it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .atomic import atomic_open
from .errors import OptionError
from .models import INFERENCE_BATCH, feature_info, inference_layout, input_shape_of, to_input

__all__ = ["layer_names", "candidate_layers", "default_layer", "check_layer", "check_images", "encode", "encode_batches",
           "encode_layers", "encode_to_npy", "layer_width"]


def layer_names(model: nn.Module) -> list[str]:
    """Names of the model's top-level layers, input to output."""
    return [name for name, _ in model.named_children()]


def candidate_layers(model: nn.Module) -> list[str]:
    """Layers worth encoding from: the model's read-out layers, from the first one that halves the image (a pooling)
    to the last before the logits."""
    return feature_info(model).candidates


def default_layer(model: nn.Module) -> str:
    """The layer the model declares as its embedding: the last hidden layer before the logits (the seeds' choice)."""
    return feature_info(model).embedding


def check_images(model: nn.Module, images: np.ndarray) -> None:
    """Raise OptionError when ``images`` are not of the size and channels the model was built for."""
    channels, height, width = input_shape_of(model)
    shape = tuple(images.shape[1:])
    if shape != ((height, width) if channels == 1 else (height, width, channels)):
        kind = "grey" if channels == 1 else "colour"
        raise OptionError(f"the model takes {height} x {width} {kind} images, not images of shape {shape}; encode "
                          "the images it was trained on")


def check_layer(model: nn.Module, layer: str) -> None:
    """Raise OptionError naming the valid layers if ``layer`` is not one of them."""
    names = layer_names(model)
    if layer not in names:
        raise OptionError(f"no layer {layer!r} in this model; valid layers: {', '.join(names)}")


def layer_width(model: nn.Module, layer: str) -> int:
    """Number of features the layer's output has per image."""
    check_layer(model, layer)
    return feature_info(model).widths[layer]


@torch.no_grad()
def encode_batches(model: nn.Module, images: np.ndarray, layer: str, batch_size: int = INFERENCE_BATCH) -> Iterator[np.ndarray]:
    """Yield the flattened output of ``layer`` for successive batches of ``images``."""
    check_layer(model, layer)
    check_images(model, images)
    model.eval()
    stop = layer_names(model).index(layer) + 1
    modules = [m for _, m in model.named_children()][:stop]
    with inference_layout(model) as layout:
        for start in range(0, len(images), batch_size):
            x = to_input(images[start:start + batch_size]).contiguous(memory_format=layout)
            for module in modules:
                x = module(x)
            yield x.reshape(len(x), -1).numpy()


@torch.no_grad()
def encode_layers(model: nn.Module, images: np.ndarray, layers: list[str], batch_size: int = INFERENCE_BATCH
                  ) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(layer, encoding)`` for each of ``layers`` in model order, in one forward pass.

    Each layer's output is computed from the previous one's, so scoring every layer costs one
    pass through the network rather than one per layer. Each encoding is (N, d) float32.
    """
    for layer in layers:
        check_layer(model, layer)
    check_images(model, images)
    names = layer_names(model)
    children = [m for _, m in model.named_children()]
    model.eval()
    current, done = to_input(images), 0
    with inference_layout(model) as layout:
        for layer in sorted(set(layers), key=names.index):
            stop = names.index(layer) + 1
            outputs = []
            for start in range(0, max(1, len(current)), batch_size):
                x = current[start:start + batch_size]
                # A copy, so that a layer working in place never changes an encoding already given out.
                x = x.clone(memory_format=layout if x.dim() == 4 else torch.contiguous_format)
                for module in children[done:stop]:
                    x = module(x)
                outputs.append(x.contiguous())
            current, done = torch.cat(outputs), stop
            yield layer, current.reshape(len(current), int(np.prod(current.shape[1:]))).numpy()


def encode(model: nn.Module, images: np.ndarray, layer: str, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """The output of ``layer`` for every image, flattened to (N, d) float32.

    Parameters
    ----------
    model : nn.Module
        A model from the registry (top-level layers have stable names).
    images : ndarray of uint8, shape (N, H, W) or (N, H, W, 3)
        The images the model was trained on: their size and channels.
    layer : str
        A name from :func:`layer_names`.
    batch_size : int, default=INFERENCE_BATCH
        Images per forward pass; memory stays bounded by the output array.
    """
    out = np.empty((len(images), layer_width(model, layer)), dtype=np.float32)
    start = 0
    for batch in encode_batches(model, images, layer, batch_size):
        out[start:start + len(batch)] = batch
        start += len(batch)
    return out


def encode_to_npy(model: nn.Module, images: np.ndarray, layer: str, path: Path,
                  batch_size: int = INFERENCE_BATCH) -> tuple[int, int]:
    """Stream the encoding into a ``.npy`` file batch by batch (memory stays one batch wide).

    Returns the (N, d) shape written. The file appears under ``path`` only when complete.
    """
    shape = (len(images), layer_width(model, layer))
    with atomic_open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": shape})
        for batch in encode_batches(model, images, layer, batch_size):
            handle.write(np.ascontiguousarray(batch, dtype="<f4").tobytes())
    return shape
