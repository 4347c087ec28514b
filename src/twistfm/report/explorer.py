"""The interactive explorer: every analysed image as a point, with its image, in one offline page part.

One Bokeh scatter draws every point (70,000 for Fashion-MNIST); Bokeh's own tools pan,
zoom (the wheel only once its tool is chosen), select by box or lasso, and tap. A small
script (``explorer.js``) switches the projection and the colouring, hides a group from the
legend, filters by any field, shows the image under the cursor, fills an image grid with a
selection's counts, and shows a tapped image's nearest neighbours. Images travel as a few
WebP sprite sheets, not one data URI per point, and the explorer is built only when it is
scrolled into view, so the page around it is readable at once.
"""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from bokeh.embed import json_item
from bokeh.models import (
    BooleanFilter,
    CDSView,
    ColumnDataSource,
    CustomJS,
    HoverTool,
    LinearColorMapper,
    Range1d,
    TapTool,
)
from bokeh.plotting import figure
from bokeh.resources import Resources
from bokeh.transform import transform
from PIL import Image

from ..analysis import Analysis, Clustering
from ..analysis.discover import Discovery
from ..analysis.neighbours import RETRIEVAL_K
from ..data import CLASS_NAMES
from .palette import NOISE_COLOR, PALETTE, shades

__all__ = ["ExplorerField", "ExplorerPart", "explorer_part", "sprite_sheets", "TILE", "PER_SHEET", "SHEET_COLS",
           "GRID"]

#: Sprite sheets: 28-pixel tiles, ``SHEET_COLS`` per row, ``PER_SHEET`` per sheet (under WebP's 16,383-pixel limit).
TILE, SHEET_COLS, PER_SHEET = 28, 100, 7000
#: Images a selection shows in its grid.
GRID = 96
_QUALITY = 75
_SCRIPT = resources.files(__package__).joinpath("explorer.js").read_text(encoding="utf-8")
_CORRECT, _WRONG, _TRAIN, _TEST = "#009E73", "#D55E00", "#9DB2C6", "#1D3557"


@dataclass(frozen=True)
class ExplorerField:
    """One per-point field the explorer can colour by, filter by and count.

    Attributes
    ----------
    name, title : str
    codes : ndarray of int
        Each point's category (index into ``categories``), -1 for none.
    categories, colours : list of str
    none : str
        What a point with code -1 is ("noise", "unknown class", ...).
    hover, filter, count : bool
        Shown under the cursor, offered as a filter, counted in a selection.
    """

    name: str
    title: str
    codes: np.ndarray
    categories: list[str]
    colours: list[str]
    none: str = "none"
    hover: bool = True
    filter: bool = True
    count: bool = True


@dataclass(frozen=True)
class ExplorerPart:
    """The explorer as parts of a page: its HTML (with its data) and the scripts it needs at the page's end."""

    html: str
    scripts: str
    fields: list[ExplorerField] = field(default_factory=list)


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def _encoded(values: np.ndarray, dtype: str) -> dict[str, str]:
    array = np.ascontiguousarray(values, dtype=dtype)
    return {"dtype": dtype, "data": base64.b64encode(array.astype(array.dtype.newbyteorder("<")).tobytes()).decode()}


def sprite_sheets(images: np.ndarray, quality: int = _QUALITY) -> list[str]:
    """The images (dark ink on white) as WebP sprite sheets, one data URI per ``PER_SHEET`` images."""
    uris = []
    for start in range(0, len(images), PER_SHEET):
        chunk = 255 - images[start:start + PER_SHEET]
        rows = -(-len(chunk) // SHEET_COLS)
        canvas = np.full((rows * TILE, SHEET_COLS * TILE), 255, np.uint8)
        for k, image in enumerate(chunk):
            r, c = divmod(k, SHEET_COLS)
            canvas[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = image
        buffer = io.BytesIO()
        Image.fromarray(canvas).save(buffer, format="WEBP", quality=quality, method=4)
        uris.append("data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode())
    return uris


def _label_field(name: str, title: str, values: np.ndarray, label_values: list[int]) -> ExplorerField:
    index = {v: i for i, v in enumerate(label_values)}
    return ExplorerField(name, title, np.array([index.get(int(v), -1) for v in values]),
                         [f"label {v}" for v in label_values], [PALETTE[i % len(PALETTE)] for i in range(len(label_values))])


def _cluster_field(name: str, clustering: Clustering, label_values: list[int]) -> ExplorerField:
    """Clusters coloured and numbered as the label each is matched to; clusters left over come after."""
    matched = clustering.matched
    size = max([*matched.values(), len(label_values) - 1]) + 1
    by_index = {i: clustering.names(label_values)[int(c)] for c, i in matched.items() if i >= 0}
    names = [by_index.get(i, f"cluster {label_values[i]}" if i < len(label_values) else "") for i in range(size)]
    codes = np.array([matched[str(int(c))] if c >= 0 else -1 for c in clustering.labels_])
    return ExplorerField(name, clustering.title, codes, names, [PALETTE[i % len(PALETTE)] for i in range(size)],
                         none="noise")


def _nested_shades(inner: np.ndarray, labels: np.ndarray, label_values: list[int], names: list[str],
                   ) -> list[str] | None:
    """Colours for categories that each lie inside one label: shades of that label's colour (None if they do not)."""
    colours = ["" for _ in names]
    for i, value in enumerate(label_values):
        inside = sorted({int(c) for c in np.unique(inner[labels == value]) if c >= 0})
        if not inside:
            continue
        for c, shade in zip(inside, shades(PALETTE[i % len(PALETTE)], len(inside)), strict=True):
            if colours[c]:
                return None  # this category lies in two labels
            colours[c] = shade
    return [c or NOISE_COLOR for c in colours]


def explorer_fields(analysis: Analysis, discovery: Discovery | None = None) -> list[ExplorerField]:
    """Every field of the analysed points the explorer offers, the labels first."""
    values = analysis.label_values
    labels = analysis.labels
    fields = [_label_field("label", "label", labels, values)]
    classes = analysis.classes
    if (classes >= 0).any():
        colours = _nested_shades(classes, labels, values, list(CLASS_NAMES)) or [
            PALETTE[(len(values) + i) % len(PALETTE)] for i in range(len(CLASS_NAMES))]
        fields.append(ExplorerField("class", "original class", classes, list(CLASS_NAMES), colours, none="unknown class"))
    if discovery is not None:
        fields.append(_group_field(analysis, discovery))
    for name, clustering in analysis.clusterings.items():
        fields.append(_cluster_field(name, clustering, values))
    fields.append(_label_field("predicted", "predicted label", analysis.predicted, values))
    fields.append(ExplorerField("correct", "prediction", (analysis.predicted != labels).astype(int),
                                ["correct", "wrong"], [_CORRECT, _WRONG], hover=False))
    if analysis.n_train:
        split = np.r_[np.zeros(analysis.n_train, int), np.ones(len(labels) - analysis.n_train, int)]
        fields.append(ExplorerField("split", "split", split, ["train", "test"], [_TRAIN, _TEST], hover=False, count=False))
    return fields


def _group_field(analysis: Analysis, discovery: Discovery) -> ExplorerField:
    """Discovery's groups as one field: 'label 3 · group 1', in shades of the label's colour."""
    names, colours, offset = [], [], {}
    values = analysis.label_values
    for lg in discovery.per_label:
        offset[lg.label] = len(names)
        colour = PALETTE[values.index(lg.label) % len(PALETTE)] if lg.label in values else NOISE_COLOR
        names += [f"label {lg.label} · group {g + 1}" for g in range(len(lg.groups))]
        colours += shades(colour, len(lg.groups))
    codes = np.full(len(analysis.labels), -1)
    first = analysis.n_train if discovery.split == "test" else 0
    if first + len(discovery.group) > len(codes):
        return ExplorerField("group", "group found inside the label", codes, names, colours, none="not in the discovery")
    codes[first:first + len(discovery.group)] = [offset[int(v)] + g for v, g in
                                                 zip(discovery.labels, discovery.group, strict=True)]
    return ExplorerField("group", "group found inside the label", codes, names, colours, none="not in the discovery")


def explorer_part(analysis: Analysis, images: np.ndarray, discovery: Discovery | None = None,
                  sprite_quality: int = _QUALITY) -> ExplorerPart:
    """The explorer of an analysis; ``images`` are the analysed points' uint8 images, in the same order."""
    fields = explorer_fields(analysis, discovery)
    n = len(analysis.labels)
    k = min(RETRIEVAL_K, analysis.neighbours.index.shape[1])
    projections = [p for p in sorted(analysis.projections.values(), key=lambda p: p.method != "tsne")]
    meta = {
        "n": n, "grid": GRID, "none_colour": NOISE_COLOR, "neighbours_k": k,
        "selection_hint": "Drag a box or a lasso to see the images selected and their counts; click a point to see "
                          "its nearest images.",
        "split_names": ["train", "test"],
        "split": _encoded(np.r_[np.zeros(analysis.n_train), np.ones(n - analysis.n_train)], "int8"),
        "index": _encoded(np.r_[np.arange(analysis.n_train), np.arange(n - analysis.n_train)], "int32"),
        "neighbours": _encoded(analysis.neighbours.index[:, :k], "int32"),
        "sprites": {"tile": TILE, "cols": SHEET_COLS, "per_sheet": PER_SHEET},
        "fields": [{"name": f.name, "title": f.title, "categories": f.categories, "colours": f.colours, "none": f.none,
                    "hover": f.hover, "filter": f.filter, "count": f.count, "codes": _encoded(f.codes, "int16"),
                    "order": _order(f) + [-1]}
                   for f in fields],
        "projections": [{"name": p.method, "title": p.title, "axes": list(p.axes),
                         "x_range": [float(p.points[:, 0].min()), float(p.points[:, 0].max())],
                         "y_range": [float(p.points[:, 1].min()), float(p.points[:, 1].max())],
                         "x": _encoded(p.points[:, 0], "float32"), "y": _encoded(p.points[:, 1], "float32")}
                        for p in projections],
    }
    sprites = "".join(f'<script type="text/plain" id="twistfm-sprite-{i}">{uri}</script>'
                      for i, uri in enumerate(sprite_sheets(images, sprite_quality)))
    html = (_LAYOUT + f'<script type="application/json" id="twistfm-explorer-plot">{_json(json_item(_plot()))}</script>'
            f'<script type="application/json" id="twistfm-explorer-data">{_json(meta)}</script>{sprites}')
    bokeh = Resources(mode="inline", components=["bokeh", "bokeh-gl"]).render_js()
    return ExplorerPart(html=html, scripts=bokeh + f"<script>{_SCRIPT}</script>", fields=fields)


def _order(f: ExplorerField) -> list[int]:
    """The legend's order: categories built in label order keep it; the others sort by name, numbers as numbers."""
    if f.name in ("label", "predicted", "kmeans", "dbscan", "hdbscan", "group"):
        return list(range(len(f.categories)))
    return sorted(range(len(f.categories)), key=lambda c: _natural(f.categories[c]))


def _json(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":")).replace("<", "\\u003c")


def _plot():
    """The Bokeh figure: one scatter whose data, colours and filter the script fills in."""
    source = ColumnDataSource({"x": np.zeros(0, np.float32), "y": np.zeros(0, np.float32),
                               "cc": np.zeros(0, np.float32)}, name="explorer-points")
    mapper = LinearColorMapper(palette=["#888888"], low=-0.5, high=0.5, low_color=NOISE_COLOR, high_color=NOISE_COLOR,
                               name="explorer-colours")
    plot = figure(name="explorer-plot", sizing_mode="stretch_width", height=620, x_range=Range1d(0, 1),
                  y_range=Range1d(0, 1), tools="pan,wheel_zoom,box_zoom,box_select,lasso_select,tap,reset,save",
                  active_drag="pan", active_scroll=None, toolbar_location="above", output_backend="webgl")
    points = plot.scatter("x", "y", source=source, view=CDSView(filter=BooleanFilter(name="explorer-filter")),
                          size=4, fill_color=transform("cc", mapper), fill_alpha=0.75, line_color=None,
                          nonselection_fill_alpha=0.12, selection_fill_alpha=0.95)
    plot.add_tools(HoverTool(renderers=[points], tooltips=None, callback=CustomJS(code="twistfmExplorer.hover(cb_data)")))
    plot.select_one(TapTool).callback = CustomJS(code="twistfmExplorer.tap(cb_data)")
    source.selected.js_on_change("indices", CustomJS(args={"source": source},
                                                     code="twistfmExplorer.selected(source.selected.indices)"))
    for axis in (plot.xaxis, plot.yaxis):
        axis.axis_label_text_font_size = "13px"
        axis.major_label_text_font_size = "11px"
    return plot


_LAYOUT = """
<div id="twistfm-explorer" class="explorer">
  <div class="explorer-controls">
    <label>Projection <select id="twistfm-projection"></select></label>
    <label>Colour by <select id="twistfm-colour"></select></label>
    <span class="muted">Drag to pan; choose the wheel-zoom tool above the plot to zoom with the wheel.</span>
  </div>
  <div class="explorer-main">
    <div id="twistfm-plot"></div>
    <aside>
      <div id="twistfm-legend" class="legend"></div>
      <div class="hover-box"><canvas id="twistfm-hover-image" width="112" height="112"></canvas>
        <p id="twistfm-hover-text" class="muted">Hover a point to see its image.</p></div>
    </aside>
  </div>
  <div id="twistfm-filters" class="filters"></div>
  <div id="twistfm-selection" class="selection"></div>
</div>
"""

#: The explorer's styles, for the page that holds it.
CSS = """
.explorer-controls{display:flex;gap:1.2rem;align-items:center;flex-wrap:wrap;margin:.4rem 0;font-size:.95rem}
.explorer-controls select{font-size:.95rem;padding:.15rem .3rem}
.explorer-main{display:grid;grid-template-columns:minmax(0,1fr) 250px;gap:.8rem}
#twistfm-plot{min-height:620px;background:#fff;border:1px solid var(--line);border-radius:8px}
.legend{display:flex;flex-direction:column;gap:.2rem;max-height:420px;overflow:auto;font-size:.85rem}
.chip{display:inline-flex;gap:.35rem;align-items:center;border:1px solid var(--line);background:#fff;border-radius:12px;
      padding:.12rem .5rem;font-size:.82rem;cursor:pointer;margin:.1rem;text-align:left}
.chip.off{opacity:.4;text-decoration:line-through}.swatch{width:.8rem;height:.8rem;border-radius:50%;flex:none}
.hover-box{margin-top:.6rem;background:#fff;border:1px solid var(--line);border-radius:8px;padding:.5rem;font-size:.8rem}
.hover-box canvas{image-rendering:pixelated;border:1px solid var(--line);display:block;margin-bottom:.3rem}
.filters details{display:inline-block;vertical-align:top;margin:.3rem .6rem .3rem 0;font-size:.85rem}
.selection canvas{image-rendering:pixelated;border:1px solid var(--line);max-width:100%}
.count-tables{display:flex;flex-wrap:wrap;gap:1rem}.counts{width:auto;font-size:.8rem}
"""
