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
import html
import io
import json
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np
from bokeh.embed import json_item
from bokeh.models import (
    BooleanFilter,
    BoxSelectTool,
    BoxZoomTool,
    CDSView,
    ColumnDataSource,
    CustomJS,
    HoverTool,
    LassoSelectTool,
    LinearColorMapper,
    PanTool,
    Range1d,
    ResetTool,
    TapTool,
    WheelZoomTool,
)
from bokeh.plotting import figure
from bokeh.resources import Resources
from bokeh.transform import transform
from PIL import Image

from ..analysis import Analysis, Clustering
from ..analysis.discover import Discovery
from ..analysis.neighbours import RETRIEVAL_K
from ..data import CLASS_NAMES
from .images import display, tile, tile_size
from .palette import NOISE_COLOR, PALETTE, distinct_colours, nested_colours
from .tables import label_names

__all__ = ["ExplorerField", "ExplorerPart", "explorer_part", "explorer_fields", "group_name", "sprite_sheets", "TILE",
           "PER_SHEET", "SHEET_COLS", "GRID", "CSS"]

#: Sprite sheets: square tiles (``TILE`` pixels for Fashion-MNIST; the images' larger side up to
#: :data:`~twistfm.report.images.MAX_TILE` for others), ``SHEET_COLS`` per row, ``PER_SHEET`` per sheet (under
#: WebP's 16,383-pixel limit).
TILE, SHEET_COLS, PER_SHEET = 28, 100, 7000
#: Images a selection shows in its grid.
GRID = 96
_QUALITY = 75
#: libwebp's effort (0-6): 2 encodes a sheet of 7,000 Fashion-MNIST tiles in 0.46 s against 0.83 s
#: at its default 4, 1.5 % larger, with the same error (on a 2-core AVX2 CPU).
_METHOD = 2
_SCRIPT = resources.files(__package__).joinpath("explorer.js").read_text(encoding="utf-8")
_CORRECT, _WRONG, _TRAIN, _TEST = PALETTE[2], PALETTE[7], PALETTE[1], PALETTE[0]


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


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def _encoded(values: np.ndarray, dtype: str) -> dict[str, str]:
    array = np.ascontiguousarray(values, dtype=dtype)
    return {"dtype": dtype, "data": base64.b64encode(array.astype(array.dtype.newbyteorder("<")).tobytes()).decode()}


def sprite_sheets(images: np.ndarray, quality: int = _QUALITY) -> list[str]:
    """The images (grey ones dark ink on white, colour ones as they are) as WebP sprite sheets of square tiles
    (:func:`~twistfm.report.images.tile_size`), one data URI per ``PER_SHEET`` images."""
    uris = []
    side = tile_size(images.shape[1:])
    same = images.shape[1:3] == (side, side)
    for start in range(0, len(images), PER_SHEET):
        chunk = images[start:start + PER_SHEET]
        rows = -(-len(chunk) // SHEET_COLS)
        canvas = np.full((rows * side, SHEET_COLS * side, *images.shape[3:]), 255, np.uint8)
        for k, image in enumerate(chunk):
            r, c = divmod(k, SHEET_COLS)
            canvas[r * side:(r + 1) * side, c * side:(c + 1) * side] = display(image) if same else tile(image, side)
        buffer = io.BytesIO()
        Image.fromarray(canvas).save(buffer, format="WEBP", quality=quality, method=_METHOD)
        uris.append("data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode())
    return uris


def _label_field(name: str, title: str, values: np.ndarray, label_values: list[int],
                 names: dict[int, str]) -> ExplorerField:
    index = {v: i for i, v in enumerate(label_values)}
    return ExplorerField(name, title, np.array([index.get(int(v), -1) for v in values]),
                         [names[v] for v in label_values], distinct_colours(len(label_values)))


def _cluster_field(name: str, clustering: Clustering, label_values: list[int]) -> ExplorerField:
    """Clusters coloured and numbered as the label each is matched to; clusters left over come after."""
    matched = clustering.matched
    size = max([*matched.values(), len(label_values) - 1]) + 1
    by_index = {i: clustering.names(label_values)[int(c)] for c, i in matched.items() if i >= 0}
    names = [by_index.get(i, f"cluster {label_values[i]}" if i < len(label_values) else "") for i in range(size)]
    codes = np.array([matched[str(int(c))] if c >= 0 else -1 for c in clustering.labels_])
    return ExplorerField(name, clustering.title, codes, names, distinct_colours(size), none="noise")


def _nested(inner: np.ndarray, labels: np.ndarray, label_values: list[int], n: int) -> list[str]:
    """Colours for ``n`` categories that mostly lie inside one label each: near that label's colour, all distinct."""
    label_colours = distinct_colours(len(label_values))
    parent = {}
    for c in range(n):
        inside = labels[inner == c]
        if len(inside):
            values, counts = np.unique(inside, return_counts=True)
            parent[c] = label_values.index(int(values[np.argmax(counts)])) if int(values[np.argmax(counts)]) in \
                label_values else len(label_values)
    order = sorted(parent, key=lambda c: (parent[c], c))
    picked = nested_colours([label_colours[parent[c]] if parent[c] < len(label_colours) else NOISE_COLOR
                             for c in order])
    colours = dict(zip(order, picked, strict=True))
    spare = iter(distinct_colours(len(label_values) + n)[len(label_values):])
    return [colours.get(c) or next(spare) for c in range(n)]


def explorer_fields(analysis: Analysis, discovery: Discovery | None = None) -> list[ExplorerField]:
    """Every field of the analysed points the explorer offers, the labels first (named as the decoding names them)."""
    values = analysis.label_values
    labels = analysis.labels
    names = label_names(analysis.decoding, values)
    fields = [_label_field("label", "label", labels, values, names)]
    classes = analysis.classes
    if (classes >= 0).any():
        fields.append(ExplorerField("class", "original class", classes, list(CLASS_NAMES),
                                    _nested(classes, labels, values, len(CLASS_NAMES)), none="unknown class"))
    if discovery is not None:
        fields.append(_group_field(analysis, discovery))
    for name, clustering in analysis.clusterings.items():
        fields.append(_cluster_field(name, clustering, values))
    fields.append(_label_field("predicted", "predicted label", analysis.predicted, values, names))
    fields.append(ExplorerField("correct", "prediction", (analysis.predicted != labels).astype(int),
                                ["correct", "wrong"], [_CORRECT, _WRONG], hover=False))
    if analysis.n_train:
        split = np.r_[np.zeros(analysis.n_train, int), np.ones(len(labels) - analysis.n_train, int)]
        fields.append(ExplorerField("split", "split", split, ["train", "test"], [_TRAIN, _TEST], hover=False, count=False))
    return fields


def group_name(label: int, g: int, group) -> str:
    """A group's name wherever the explorer shows it: ``label 3 · group 1 · Sneaker 97%`` (the class only when known)."""
    seen = f" · {group.looks_like} {group.share:.0%}" if group.looks_like else ""
    return f"label {label} · group {g + 1}{seen}"


def _group_field(analysis: Analysis, discovery: Discovery) -> ExplorerField:
    """Discovery's groups as one field, each group near its label's colour."""
    names, offset = [], {}
    for lg in discovery.per_label:
        offset[lg.label] = len(names)
        names += [group_name(lg.label, g, group) for g, group in enumerate(lg.groups)]
    codes = np.full(len(analysis.labels), -1)
    first = analysis.n_train if discovery.split == "test" else 0
    if first + len(discovery.group) <= len(codes):
        codes[first:first + len(discovery.group)] = [offset[int(v)] + g for v, g in
                                                     zip(discovery.labels, discovery.group, strict=True)]
    return ExplorerField("group", "group found inside the label", codes, names,
                        _nested(codes, analysis.labels, analysis.label_values, len(names)),
                        none=f"not in the discovery ({'training image' if discovery.split == 'test' else 'none'})")


def explorer_part(analysis: Analysis, images: np.ndarray, discovery: Discovery | None = None,
                  sprite_quality: int = _QUALITY) -> ExplorerPart:
    """The explorer of an analysis; ``images`` are the analysed points' uint8 images, in the same order."""
    fields = explorer_fields(analysis, discovery)
    n = len(analysis.labels)
    k = min(RETRIEVAL_K, analysis.neighbours.index.shape[1])
    distance = np.asarray(analysis.neighbours.distance[:, :k], np.float64)
    scale = float(distance.max()) / 65535 if distance.size and distance.max() > 0 else 1.0
    projections = [p for p in sorted(analysis.projections.values(), key=lambda p: p.method != "tsne")]
    meta = {
        "n": n, "grid": GRID, "none_colour": NOISE_COLOR, "neighbours_k": k, "layer": analysis.layer,
        "discovery_layer": discovery.layer if discovery is not None else None,
        "split_names": ["train", "test"],
        "split": _encoded(np.r_[np.zeros(analysis.n_train), np.ones(n - analysis.n_train)], "int8"),
        "index": _encoded(np.r_[np.arange(analysis.n_train), np.arange(n - analysis.n_train)], "int32"),
        "neighbours": _encoded(analysis.neighbours.index[:, :k], "int32"),
        "distances": _encoded(np.round(distance / scale), "uint16"), "distance_scale": scale,
        "sprites": {"tile": tile_size(images.shape[1:]), "cols": SHEET_COLS, "per_sheet": PER_SHEET},
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
    html = (_layout(analysis, discovery)
            + f'<script type="application/json" id="twistfm-explorer-plot">{_json(json_item(_plot()))}</script>'
            f'<script type="application/json" id="twistfm-explorer-data">{_json(meta)}</script>{sprites}')
    bokeh = Resources(mode="inline", components=["bokeh"]).render_js()
    return ExplorerPart(html=html, scripts=bokeh + f"<script>{_SCRIPT}</script>")


def _order(f: ExplorerField) -> list[int]:
    """The legend's order: categories built in label order keep it; the others sort by name, numbers as numbers."""
    if f.name in ("label", "predicted", "kmeans", "dbscan", "hdbscan", "group"):
        return list(range(len(f.categories)))
    return sorted(range(len(f.categories)), key=lambda c: _natural(f.categories[c]))


def _json(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":")).replace("<", "\\u003c")


def _plot():
    """The Bokeh figure: the script fills in the points' data, colours and filters.

    Drawn from the bottom: a density image (off until asked for), the points no colour
    applies to (grey), the coloured points, then rings on a tapped point and its nearest
    neighbours. Drawn on a 2-D canvas: with software WebGL, as on most machines without a
    GPU driver, WebGL is about three times slower at 70,000 points.
    """
    source = ColumnDataSource({"x": np.zeros(0, np.float32), "y": np.zeros(0, np.float32),
                               "cc": np.zeros(0, np.float32)}, name="explorer-points")
    mapper = LinearColorMapper(palette=["#888888"], low=-0.5, high=0.5, low_color=NOISE_COLOR, high_color=NOISE_COLOR,
                               name="explorer-colours")
    drag = BoxSelectTool(continuous=False, name="explorer-box")
    tools = [PanTool(name="explorer-pan"), WheelZoomTool(name="explorer-wheel"), BoxZoomTool(name="explorer-zoombox"),
             drag, LassoSelectTool(continuous=False, name="explorer-lasso"), TapTool(behavior="inspect"),
             ResetTool()]
    plot = figure(name="explorer-plot", sizing_mode="stretch_width", height=620, x_range=Range1d(0, 1),
                  y_range=Range1d(0, 1), tools=tools, active_drag=drag, active_scroll=None, active_tap=tools[5],
                  toolbar_location=None, output_backend="canvas")
    density = ColumnDataSource({"image": [np.zeros((1, 1), np.float32)], "x": [0.0], "y": [0.0], "dw": [1.0],
                                "dh": [1.0]}, name="explorer-density-data")
    plot.image("image", x="x", y="y", dw="dw", dh="dh", source=density, name="explorer-density", visible=False,
               color_mapper=LinearColorMapper(palette=_DENSITY, low=0.01, high=1, low_color="rgba(0,0,0,0)",
                                              name="explorer-density-colours"))
    points = []
    for name, colour, alpha in (("back", NOISE_COLOR, 0.45), ("front", transform("cc", mapper), 0.75)):
        points.append(plot.scatter("x", "y", source=source, view=CDSView(filter=BooleanFilter(name=f"explorer-{name}-filter")),
                                   size=4, fill_color=colour, fill_alpha=alpha, line_color=None, name=f"explorer-{name}",
                                   nonselection_fill_alpha=0.1, selection_fill_alpha=0.95))
    marks = ColumnDataSource({"x": [], "y": [], "size": [], "colour": [], "text": []}, name="explorer-marks")
    plot.scatter("x", "y", source=marks, size="size", fill_color=None, line_color="colour", line_width=2.5,
                 name="explorer-rings")
    plot.text("x", "y", text="text", source=marks, text_font_size="12px", text_color="#1d232a", x_offset=7, y_offset=-4,
              text_font_style="bold", name="explorer-ranks")
    plot.add_tools(HoverTool(renderers=points, tooltips=None, callback=CustomJS(code="twistfmExplorer.hover(cb_data)")))
    plot.select_one(TapTool).renderers = points
    plot.select_one(TapTool).callback = CustomJS(code="twistfmExplorer.tap(cb_data)")
    source.selected.js_on_change("indices", CustomJS(code="twistfmExplorer.selected()"))
    for axis in (plot.xaxis, plot.yaxis):
        axis.axis_label_text_font_size = "13px"
        axis.major_label_text_font_size = "11px"
        axis.ticker.desired_num_ticks = 6
    return plot


#: The density view's colours, light to dark (ColorBrewer's Blues, from its third step).
_DENSITY = ["#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]


def _layout(analysis: Analysis, discovery: Discovery | None) -> str:
    layer = html.escape(analysis.layer)
    why = ""
    if discovery is not None and discovery.layer != analysis.layer:
        why = (f" The groups found inside each label come from the encoding of <b>{html.escape(discovery.layer)}</b>, "
               f"an earlier layer: on this map of {layer} a label's groups may lie scattered or overlap.")
    return _LAYOUT.format(layer=layer, why=why)


_LAYOUT = """
<div id="twistfm-explorer" class="explorer">
  <p class="muted" id="twistfm-layer-note">Each map places the images by their encoding in <b>{layer}</b>.{why}</p>
  <div class="explorer-controls">
    <label>Projection <select id="twistfm-projection"></select></label>
    <label>Colour by <select id="twistfm-colour"></select></label>
    <form id="twistfm-search-form" role="search"><label>Find <input id="twistfm-search" type="search"
      placeholder="test 12, label 3, Sneaker, group 2" aria-describedby="twistfm-search-help" size="26"></label>
      <button type="submit">Find</button></form>
    <label class="check"><input type="checkbox" id="twistfm-density"> Density</label>
  </div>
  <p class="muted small" id="twistfm-search-help">Find an image by its number (<i>test 12</i>, <i>train 5</i>, or
    <i>12</i> for both), or every image of a label, class or group (<i>label 3</i>, <i>Sneaker</i>,
    <i>label 3 group 1</i>).</p>
  <div class="explorer-tools" role="toolbar" aria-label="What dragging and the wheel do on the plot">
    <span class="muted">Drag to:</span>
    <button type="button" data-tool="explorer-box" aria-pressed="true">Box select</button>
    <button type="button" data-tool="explorer-lasso" aria-pressed="false">Lasso select</button>
    <button type="button" data-tool="explorer-pan" aria-pressed="false">Pan</button>
    <button type="button" data-tool="explorer-zoombox" aria-pressed="false">Zoom to box</button>
    <span class="muted">Wheel:</span>
    <button type="button" data-tool="explorer-wheel" aria-pressed="false">Zoom with the wheel</button>
    <button type="button" id="twistfm-reset">Reset view</button>
  </div>
  <div class="explorer-main">
    <div id="twistfm-plot"></div>
    <aside id="twistfm-side">
      <div id="twistfm-legend" class="legend"></div>
      <div class="hover-box"><canvas id="twistfm-hover-image" width="84" height="84"></canvas>
        <p id="twistfm-hover-text" class="muted" aria-live="polite">Hover a point to see its image.</p></div>
      <div id="twistfm-selection" class="selection" aria-live="polite"></div>
    </aside>
  </div>
  <div id="twistfm-filters" class="filters"></div>
  <dialog id="twistfm-enlarged"><canvas width="280" height="280"></canvas><p></p>
    <form method="dialog"><button>Close</button></form></dialog>
</div>
"""

#: The explorer's styles, for the page that holds it.
CSS = """
.explorer-controls,.explorer-tools{display:flex;gap:.5rem 1.2rem;align-items:center;flex-wrap:wrap;margin:.4rem 0;
  font-size:.95rem}
.explorer-tools{gap:.4rem}.explorer-tools button,.explorer-controls button{font-size:.85rem;padding:.2rem .55rem;
  border:1px solid var(--line,#e3e7eb);border-radius:6px;background:#fff;cursor:pointer}
.explorer-tools button[aria-pressed=true]{background:var(--accent,#0072B2);color:#fff;border-color:var(--accent,#0072B2)}
.explorer-controls select,.explorer-controls input{font-size:.95rem;padding:.15rem .3rem;max-width:100%}
.explorer-controls form{display:flex;gap:.3rem;align-items:center;flex-wrap:wrap}.small{font-size:.82rem;margin:.1rem 0}
.explorer-main{display:grid;grid-template-columns:minmax(0,1fr) 330px;gap:.8rem}
#twistfm-plot{min-height:620px;min-width:0;background:#fff;border:1px solid var(--line,#e3e7eb);border-radius:8px}
#twistfm-side{max-height:640px;overflow:auto;min-width:0}
.legend{display:flex;flex-direction:column;gap:.2rem;max-height:230px;overflow:auto;font-size:.85rem}
.chip{display:inline-flex;gap:.35rem;align-items:center;border:1px solid var(--line,#e3e7eb);background:#fff;border-radius:12px;
      padding:.12rem .5rem;font-size:.82rem;cursor:pointer;margin:.1rem;text-align:left}
.chip.off{opacity:.45;text-decoration:line-through}.swatch{width:.8rem;height:.8rem;border-radius:50%;flex:none}
.hover-box{margin-top:.6rem;background:#fff;border:1px solid var(--line,#e3e7eb);border-radius:8px;padding:.5rem;font-size:.8rem;
  display:flex;gap:.5rem;align-items:flex-start}.hover-box p{margin:0}
.hover-box canvas{image-rendering:pixelated;border:1px solid var(--line,#e3e7eb);display:block;flex:none}
.filters details{display:inline-block;vertical-align:top;margin:.3rem .6rem .3rem 0;font-size:.85rem}
.selection{font-size:.85rem}.selection canvas{image-rendering:pixelated;border:1px solid var(--line,#e3e7eb);max-width:100%;
  cursor:zoom-in}
.selection .actions{display:flex;flex-wrap:wrap;gap:.3rem;margin:.3rem 0}.selection .actions button{font-size:.8rem}
.selection ol{padding-left:1.4rem;margin:.3rem 0}
.count-tables{display:flex;flex-wrap:wrap;gap:.6rem}.counts{width:auto;font-size:.78rem}
#twistfm-enlarged canvas{image-rendering:pixelated;border:1px solid var(--line,#e3e7eb);max-width:80vw;height:auto}
#twistfm-enlarged p{max-width:280px;font-size:.85rem}
@media (max-width:760px){
  .explorer-main{grid-template-columns:minmax(0,1fr)}
  #twistfm-plot{min-height:420px}
  #twistfm-side{max-height:none}
}
"""
