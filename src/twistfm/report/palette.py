"""One categorical, colour-blind-safe palette for every figure and the explorer.

Okabe & Ito's eight colours, then Paul Tol's muted set for larger label counts.
"""

from __future__ import annotations

__all__ = ["PALETTE", "NOISE_COLOR", "color_of"]

PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
)
NOISE_COLOR = "#BBBBBB"


def color_of(index: int) -> str:
    """Colour of group ``index`` (negative indices, like DBSCAN noise, are grey)."""
    return NOISE_COLOR if index < 0 else PALETTE[index % len(PALETTE)]
