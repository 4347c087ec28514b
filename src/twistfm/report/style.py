"""The figures' house style, applied while a figure is built and saved, never to matplotlib's global settings.

Every figure of the report and the notebook is built with matplotlib's object API
(:class:`matplotlib.figure.Figure`, never pyplot) inside ``matplotlib.rc_context(STYLE)``,
so drawing one changes no global state. No text is smaller than ``MIN_FONT`` points;
figures are saved at ``DPI``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib
from matplotlib.figure import Figure

__all__ = ["STYLE", "DPI", "MIN_FONT", "MIN_SCALE", "styled", "subplots", "png"]

#: Resolution figures are saved at, and the smallest text (points) any figure uses.
DPI, MIN_FONT = 100, 10
#: The smallest share of its own width a figure may be shown at for its text to stay >= 10 px.
MIN_SCALE = 10 / (MIN_FONT * DPI / 72)
#: The house style's text sizes.
STYLE: dict[str, Any] = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": MIN_FONT,
                         "ytick.labelsize": MIN_FONT, "legend.fontsize": MIN_FONT, "figure.titlesize": 13}
_F = TypeVar("_F", bound=Callable)


def styled(function: _F) -> _F:
    """Build the figure inside ``matplotlib.rc_context(STYLE)``: the house style without touching global state."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def subplots(*args, figsize: tuple[float, float], **kwargs):
    """A new Figure (object API, no pyplot) and its axes, as ``pyplot.subplots`` would give them."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (at ``dpi``), cropped to its contents."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()
