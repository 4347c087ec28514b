"""The interactive explorer: every test image as a point of a 2-D projection (Bokeh, offline).

Tabs switch the projection (t-SNE, PCA) and the colouring (label, each clustering,
predicted label, correct/incorrect, original class); hovering a point shows its 28x28
image with its label, clusters and prediction; wheel-zoom and pan are on. Everything is
inline, so the page works with no network.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from bokeh.embed import components
from bokeh.models import ColumnDataSource, HoverTool, TabPanel, Tabs
from bokeh.plotting import figure
from bokeh.resources import INLINE
from PIL import Image

from ..analysis import Analysis
from ..data import CLASS_NAMES
from .palette import NOISE_COLOR, PALETTE

__all__ = ["image_data_uris", "explorer_components", "explorer_for", "TOOLTIP"]

TOOLTIP = """
<div style="display:flex;gap:8px;align-items:center">
  <img src="@img" width="84" height="84" style="image-rendering:pixelated;border:1px solid #ccc">
  <div style="font:12px sans-serif;line-height:1.5">
    <b>test image @index</b><br>label <b>@label</b> &middot; predicted @predicted<br>
    K-means @kmeans &middot; DBSCAN @dbscan<br>@original
  </div>
</div>
"""


def image_data_uris(images: np.ndarray) -> list[str]:
    """Each uint8 28x28 image as a tiny PNG data URI (dark ink on white, as in the figures)."""
    uris = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(255 - image).save(buffer, format="PNG", optimize=False)
        uris.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    return uris


def _colours(groups: list[str], order: list[str]) -> list[str]:
    index = {g: i for i, g in enumerate(order)}
    return [NOISE_COLOR if g == "noise" else PALETTE[index[g] % len(PALETTE)] for g in groups]


def explorer_components(
    projections: dict[str, np.ndarray],
    images: np.ndarray,
    colourings: dict[str, list[str]],
    hover_fields: dict[str, list[str]],
) -> tuple[str, str, str]:
    """Build the explorer.

    Parameters
    ----------
    projections : dict
        Projection name (e.g. "t-SNE") -> points (N, 2).
    images : ndarray of uint8, shape (N, 28, 28)
    colourings : dict
        Colouring name -> group name of each point (strings; "noise" is grey). The groups'
        first-seen sorted order fixes the colours, so one colour means one group.
    hover_fields : dict
        Extra per-point text shown on hover: keys "label", "predicted", "kmeans", "dbscan",
        "original".

    Returns
    -------
    resources, script, div : str
        The inline Bokeh JS/CSS, and the script and div to place in the page.
    """
    n = len(images)
    data: dict[str, list] = {"index": list(range(n)), "img": image_data_uris(images)}
    data.update({k: list(v) for k, v in hover_fields.items()})
    for pname, points in projections.items():
        data[f"x_{pname}"] = points[:, 0].tolist()
        data[f"y_{pname}"] = points[:, 1].tolist()
    for cname, groups in colourings.items():
        order = sorted(set(groups) - {"noise"}, key=_natural)
        data[f"group_{cname}"] = list(groups)
        data[f"colour_{cname}"] = _colours(list(groups), order)
    source = ColumnDataSource(data)
    outer = []
    for pname in projections:
        inner = []
        for cname in colourings:
            fig = figure(width=820, height=620, tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
                         output_backend="webgl", title=f"{pname}, coloured by {cname} (hover a point to see its image)")
            fig.scatter(f"x_{pname}", f"y_{pname}", source=source, size=4, alpha=0.7, color=f"colour_{cname}",
                        legend_field=f"group_{cname}", name="points")
            fig.add_tools(HoverTool(tooltips=TOOLTIP, renderers=fig.renderers))
            fig.legend.click_policy = "hide"
            fig.legend.label_text_font_size = "9pt"
            fig.add_layout(fig.legend[0], "right")
            inner.append(TabPanel(child=fig, title=cname))
        outer.append(TabPanel(child=Tabs(tabs=inner), title=pname))
    script, div = components(Tabs(tabs=outer))
    return INLINE.render(), script, div


def _natural(text: str) -> tuple:
    head, _, tail = text.rpartition(" ")
    return (head, int(tail)) if tail.lstrip("-").isdigit() else (text, 0)


def explorer_for(analysis: Analysis, images: np.ndarray) -> tuple[str, str, str]:
    """The explorer of an analysis: its projections, coloured by label, each clustering, prediction, class."""
    labels, predicted, classes = analysis.labels, analysis.predicted, analysis.classes
    kmeans = analysis.clusterings["kmeans"].labels_
    dbscan = analysis.clusterings["dbscan"].labels_
    original = ["unknown class" if c < 0 else CLASS_NAMES[c] for c in classes]
    colourings = {
        "label": [f"label {v}" for v in labels],
        "K-means": [f"cluster {c}" for c in kmeans],
        "DBSCAN": ["noise" if c < 0 else f"cluster {c}" for c in dbscan],
        "predicted": [f"label {v}" for v in predicted],
        "correct": ["correct" if p == t else "wrong" for p, t in zip(predicted, labels, strict=True)],
    }
    if (classes >= 0).any():
        colourings["original class"] = original
    hover = {"label": [str(v) for v in labels], "predicted": [str(v) for v in predicted],
             "kmeans": [str(c) for c in kmeans], "dbscan": ["noise" if c < 0 else str(c) for c in dbscan],
             "original": original}
    projections = {p.title: p.points for p in sorted(analysis.projections.values(), key=lambda p: p.method != "tsne")}
    return explorer_components(projections, images, colourings, hover)
