"""The report's building blocks: a figure, a grid of figures, a table and its cells' text, a strip of thumbnails.

Every figure and thumbnail is inline (a PNG data URI), so the page works offline.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

import numpy as np
from PIL import Image

from .images import display_strip

__all__ = ["figure", "grid", "table", "format_value", "thumbnails", "plural"]


def figure(data: bytes | None, caption: str) -> str:
    """A PNG figure with its caption (its alt text too); nothing without a figure."""
    if not data:
        return ""
    uri = base64.b64encode(data).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{uri}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def grid(*figures: str) -> str:
    """Figures two by two (the empty ones left out)."""
    return '<div class="grid">' + "".join(f for f in figures if f) + "</div>"


def table(rows: list[dict[str, Any]], best: str | None = None, key: str = "") -> str:
    """Rows of dicts as a table (columns from the first row); the row whose ``key`` is ``best`` highlighted."""
    if not rows:
        return "<p class=muted>(none)</p>"
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in rows[0])
    body = []
    for row in rows:
        cls = ' class="best"' if best is not None and str(row.get(key)) == best else ""
        cells = "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row.values())
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def format_value(value: Any) -> str:
    """A table cell's text: "-" for a missing number, 4 decimals below 10, thousands separators."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def thumbnails(images: np.ndarray, alt: str) -> str:
    """A strip of images as one small PNG (dark ink on white), described by ``alt``."""
    strip = display_strip(images)
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    return (f'<img alt="{html.escape(alt)}" tabindex="0" role="button" aria-pressed="false" title="click to enlarge" '
            f'src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">')


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 group``, ``2 groups`` (``many`` where the plural is not ``one`` + s)."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
