"""One categorical, colour-blind-safe palette for every figure and the explorer.

Okabe & Ito's colours (without their yellow and black, which are hard to see as small dots
on white), then Paul Tol's muted set for larger label counts. A label keeps its colour
everywhere: the clusters matched to it take that colour, and the classes or groups found
inside it take shades of it (:func:`shades`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["PALETTE", "NOISE_COLOR", "color_of", "shades"]

PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
    "#332288", "#44AA99", "#999933", "#882255", "#CC6677", "#88CCEE", "#117733", "#AA4499", "#6699CC", "#DDCC77",
)
NOISE_COLOR = "#BBBBBB"


def color_of(index: int) -> str:
    """Colour of group ``index`` (negative indices, like DBSCAN noise, are grey)."""
    return NOISE_COLOR if index < 0 else PALETTE[index % len(PALETTE)]


def shades(colour: str, n: int) -> list[str]:
    """``n`` distinguishable shades of ``colour``, darkest first (the colour itself for n = 1)."""
    if n <= 1:
        return [colour] * max(n, 0)
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    out = []
    for t in np.linspace(-0.45, 0.5, n):  # below 0: towards black; above: towards white
        mixed = rgb * (1 + t) if t < 0 else rgb + (255 - rgb) * t
        out.append("#" + "".join(f"{int(round(v)):02X}" for v in np.clip(mixed, 0, 255)))
    return out
