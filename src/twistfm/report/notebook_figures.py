"""What a notebook shows: small HTML fragments for the results' ``_repr_html_``, and the figures it asks for.

Every figure here is built with matplotlib's object API (:class:`matplotlib.figure.Figure`,
never pyplot) inside :func:`matplotlib.rc_context`, so drawing one changes no global state
and registers nothing with pyplot; each is a :class:`NotebookFigure`, which shows itself as
a PNG in a notebook even where pyplot was never imported. The HTML helpers return small
fragments (a table, thumbnails, one figure); the explorer is the report's own, in an
``iframe`` so that its page and scripts stay apart from the notebook's.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from .blocks import format_value
from .images import display_strip, show_image
from .palette import NOISE_COLOR, color_of
from .style import STYLE, png

__all__ = ["NotebookFigure", "STYLE", "figure_png", "figure_html", "thumbnails_html", "table_html", "history_figure",
           "scatter_figure", "gallery_figure", "explorer_frame", "escape"]

_DPI = 100
_SPLITS = (("train", "-", "training"), ("val", "--", "validation"), ("test", ":", "test"))


class NotebookFigure(Figure):
    """A matplotlib Figure that a notebook shows as a PNG, with no pyplot involved."""

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def escape(value: Any) -> str:
    """``value`` as HTML text."""
    return html.escape(str(value))


def figure_png(fig: Figure, dpi: int = _DPI) -> bytes:
    """The figure as PNG bytes in the house style, cropped to its contents."""
    return png(fig, dpi)


def figure_html(fig: Figure, width: int = 420, dpi: int = 72) -> str:
    """The figure as an inline ``<img>`` at most ``width`` pixels wide (a thumbnail for a result's display)."""
    data = base64.b64encode(figure_png(fig, dpi)).decode()
    return f'<img alt="" style="max-width:{width}px;height:auto" src="data:image/png;base64,{data}">'


def thumbnails_html(images: np.ndarray, height: int = 42) -> str:
    """A strip of uint8 images as one small PNG (dark ink on white), ``height`` pixels high."""
    strip = display_strip(images)
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    return (f'<img alt="" style="height:{height}px;width:auto;image-rendering:pixelated" '
            f'src="data:image/png;base64,{data}">')


def _cell(value: Any) -> str:
    return escape(format_value(value))


def table_html(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, raw: Sequence[str] = ()) -> str:
    """A small HTML table of ``rows`` (the ``columns`` given, else every key of the first row).

    Values in the ``raw`` columns are HTML already (thumbnails); every other value is escaped.
    """
    if not rows:
        return "<p><i>nothing to show</i></p>"
    columns = list(columns or rows[0])
    head = "".join(f'<th style="text-align:left">{escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f'<td style="text-align:left">{r.get(c, "") if c in raw else _cell(r.get(c))}</td>'
                                    for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def history_figure(history: Sequence[Mapping[str, float]], title: str) -> NotebookFigure:
    """Loss (left) and accuracy (right) per epoch, for training, validation and test."""
    with matplotlib.rc_context(STYLE):
        fig = NotebookFigure(figsize=(11, 4))
        axes = fig.subplots(1, 2)
        epochs = [h["epoch"] for h in history]
        for ax, metric, name in ((axes[0], "loss", "cross-entropy loss"), (axes[1], "acc", "accuracy")):
            for i, (split, style, label) in enumerate(_SPLITS):
                values = [h[f"{split}_{metric}"] for h in history]
                if not all(math.isnan(v) for v in values):
                    ax.plot(epochs, values, style, marker="o", ms=4, color=color_of(i), label=label)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.set_title(f"{name.capitalize()} per epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(title)
        fig.tight_layout()
    return fig


def scatter_figure(points: np.ndarray, codes: np.ndarray, categories: Sequence[str], colours: Sequence[str],
                   none: str, title: str, axes: Sequence[str] = ("", "")) -> NotebookFigure:
    """2-D points coloured by category (code -1, such as noise, in grey); the legend gives each count."""
    with matplotlib.rc_context(STYLE):
        fig = NotebookFigure(figsize=(7, 5.6))
        ax = fig.subplots()
        for code in sorted(np.unique(codes), key=lambda c: (c < 0, c)):
            mask = codes == code
            name, colour = (none, NOISE_COLOR) if code < 0 else (categories[code], colours[code])
            ax.scatter(points[mask, 0], points[mask, 1], s=4, alpha=0.7, color=colour, linewidths=0, rasterized=True,
                       label=f"{name} ({int(mask.sum()):,})")
        ax.set_title(title)
        ax.set_xlabel(axes[0])
        ax.set_ylabel(axes[1])
        ax.legend(markerscale=3, loc="center left", bbox_to_anchor=(1.01, 0.5), framealpha=0.85)
        fig.tight_layout()
    return fig


def gallery_figure(rows: Sequence[tuple[str, np.ndarray, Sequence[str]]], title: str, cols: int) -> NotebookFigure:
    """One row of images per entry of ``rows`` (its name, its uint8 images, a caption per image)."""
    with matplotlib.rc_context(STYLE):
        fig = NotebookFigure(figsize=(1.7 + cols * 0.95, 0.6 + 1.3 * len(rows)))
        grid = fig.subplots(len(rows), cols + 1, squeeze=False, gridspec_kw={"width_ratios": [1.8] + [1] * cols})
        for ax in grid.flat:
            ax.axis("off")
        for r, (name, images, captions) in enumerate(rows):
            grid[r, 0].text(0.0, 0.5, name, va="center", fontsize=10)
            for c, (image, caption) in enumerate(zip(images[:cols], captions, strict=False)):
                show_image(grid[r, c + 1], image)
                grid[r, c + 1].set_title(caption, fontsize=9)
        fig.suptitle(title)
        fig.tight_layout()
    return fig


def explorer_frame(page: str, height: int = 900) -> str:
    """A whole HTML page (the explorer) as an ``iframe`` for a notebook cell: its ids and scripts stay inside it."""
    return (f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:{height}px;border:0" '
            'sandbox="allow-scripts allow-downloads"></iframe>')
