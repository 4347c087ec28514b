"""How images are drawn in the report, the notebook and the explorer: grey ones as dark ink on white, colour
ones as they are, at their own size (thumbnails of images larger than ``MAX_TILE`` are scaled down)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_TILE", "display", "blank_like", "display_strip", "show", "show_image", "tile_size", "tile"]

#: The largest side of a thumbnail in the explorer's sprite sheets, in pixels.
MAX_TILE = 64


def display(image: np.ndarray) -> np.ndarray:
    """One image (or a mean image) as uint8 pixels to draw: grey inverted (dark ink on white), colour unchanged."""
    pixels = np.clip(np.round(image), 0, 255).astype(np.uint8) if image.dtype != np.uint8 else image
    return 255 - pixels if pixels.ndim == 2 else pixels


def blank_like(images: np.ndarray) -> np.ndarray:
    """An image that draws as white, of the size and channels of ``images``' images."""
    return np.zeros(images.shape[1:], np.uint8) if images.ndim == 3 else np.full(images.shape[1:], 255, np.uint8)


def display_strip(images: Sequence[np.ndarray] | np.ndarray, gap: int = 0) -> np.ndarray:
    """Images side by side, ``gap`` white pixels apart, ready to draw (see :func:`display`); a white square if none."""
    images = list(images)
    if not images:
        return np.full((28, 28), 255, np.uint8)
    shown = [display(np.asarray(i)) for i in images]
    height = shown[0].shape[0]
    white = np.full((height, gap, *shown[0].shape[2:]), 255, np.uint8)
    parts = [p for image in shown for p in (image, white)][:-1] if gap else shown
    return np.concatenate(parts, axis=1)


def show(ax, pixels: np.ndarray, **kwargs) -> None:
    """Draw pixels from :func:`display` or :func:`display_strip` on a matplotlib axis (``kwargs`` to ``imshow``)."""
    if pixels.ndim == 2:
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, **kwargs)
    else:
        ax.imshow(pixels, **kwargs)


def show_image(ax, image: np.ndarray) -> None:
    """Draw one image's own pixels on a matplotlib axis: grey ones dark on white (``gray_r``), colour ones as they are."""
    if image.ndim == 2:
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
    else:
        ax.imshow(np.clip(np.round(image), 0, 255).astype(np.uint8) if image.dtype != np.uint8 else image)


def tile_size(image_shape: Sequence[int]) -> int:
    """The side of the square sprite tile for images of ``(height, width[, channels])``: their larger side, at
    most ``MAX_TILE``."""
    return int(min(max(image_shape[0], image_shape[1]), MAX_TILE))


def tile(image: np.ndarray, side: int) -> np.ndarray:
    """An image on a white ``side`` x ``side`` square (scaled down to fit when larger, centred), ready to draw."""
    pixels = display(image)
    height, width = pixels.shape[:2]
    if max(height, width) > side:
        from PIL import Image

        scale = side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))
        height, width = pixels.shape[:2]
    if (height, width) == (side, side):
        return pixels
    out = np.full((side, side, *pixels.shape[2:]), 255, np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    out[top:top + height, left:left + width] = pixels
    return out
