"""Notebook displays: the short HTML a result shows in Jupyter, and the figures a notebook asks for.

Every figure here is built with matplotlib's object API (:class:`matplotlib.figure.Figure`,
never pyplot) inside :func:`matplotlib.rc_context`, so drawing one changes no global state
and registers nothing with pyplot; each is a :class:`NotebookFigure`, which shows itself as
a PNG in a notebook even where pyplot was never imported. The HTML helpers return small
fragments (a table, thumbnails, one figure) for the results' ``_repr_html_``; the explorer
is the report's own, in an ``iframe`` so that its page and scripts stay apart from the
notebook's.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from ..errors import OptionError
from .images import display_strip, show_image
from .palette import NOISE_COLOR, color_of

if TYPE_CHECKING:
    import pandas
    from torch import nn

    from ..analysis import Analysis
    from ..analysis.discover import Discovery
    from ..data import Dataset, DataSpec
    from ..models import ModelRecord
    from ..train import TrainConfig

__all__ = ["Run", "Encoding", "Groups", "AnalysisResult", "Explorer", "Study", "NotebookFigure", "STYLE",
           "figure_png", "figure_html", "thumbnails_html", "table_html", "history_figure", "scatter_figure",
           "gallery_figure", "explorer_frame", "escape"]

#: The report's text sizes, applied to the notebook's figures only (inside ``rc_context``).
STYLE: dict[str, Any] = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10,
                         "ytick.labelsize": 10, "legend.fontsize": 10, "figure.titlesize": 13}
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
    """The figure as PNG bytes, cropped to its contents."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


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
    from .html import format_value

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


# ------------------------------------------------------------------ the results a notebook gets


class Run:
    """One trained model: its settings, weights, history and metrics (and its folder, when saved).

    Made by :func:`train` or :func:`open_run`.

    Attributes
    ----------
    path : Path or None
        The run folder (None when trained in memory).
    config : TrainConfig
    model : torch.nn.Module
    metrics : dict
        What ``metrics.json`` holds (test accuracy and loss, times, confusion matrix, ...).
    """

    def __init__(self, path: Path | None, config: TrainConfig, model: nn.Module, history: list[dict[str, float]],
                 metrics: dict[str, Any], record: ModelRecord, data: Dataset | None = None,
                 spec: DataSpec | None = None) -> None:
        self.path, self.config, self.model, self.metrics = path, config, model, metrics
        self._rows, self._record, self._data, self._spec = history, record, data, spec

    @property
    def data(self) -> Dataset:
        """The images the model was trained and tested on (read from the run's recorded source when opened)."""
        if self._data is None:
            self._data = self._spec.load_checked(str(Path(self.path) / "config.json"))
        return self._data

    @property
    def history(self) -> pandas.DataFrame:
        """One row per epoch: the ``history.csv`` columns (loss and accuracy per split, learning rate, times)."""
        import pandas

        from ..runs import HISTORY_FIELDS

        return pandas.DataFrame(self._rows, columns=list(HISTORY_FIELDS)).astype({"epoch": int})

    @property
    def test_accuracy(self) -> float:
        """Accuracy on the test images."""
        return float(self.metrics["test_acc"])

    def plot_history(self) -> Figure:
        """Loss and accuracy per epoch, for training, validation and test images."""
        return history_figure(self._rows, f"{self.config.model}: training history")

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "in memory"
        return (f"<twistfm Run {self.config.model}: test accuracy {self.test_accuracy:.4f}, "
                f"{len(self._rows)} epoch(s), {where}>")

    def _repr_html_(self) -> str:
        m = self.metrics
        rows = [{"model": self.config.model, "epochs": len(self._rows), "test accuracy": m["test_acc"],
                 "validation accuracy": m.get("val_acc"), "parameters": m.get("parameters"),
                 "training seconds": m.get("training_seconds"), "run folder": str(self.path or "in memory")}]
        return f"<b>twistfm run</b>{table_html(rows)}{figure_html(self.plot_history())}" if self._rows else escape(self)


@dataclass(frozen=True, repr=False)
class Encoding:
    """A layer's output for every image of a split.

    Attributes
    ----------
    values : ndarray of float32, shape (N, d)
    labels : ndarray of int64, shape (N,)
    layer, split : str
    """

    values: np.ndarray
    labels: np.ndarray
    layer: str
    split: str

    def __repr__(self) -> str:
        return f"<twistfm Encoding of {self.layer} ({self.split}): {self.values.shape[0]:,} x {self.values.shape[1]:,}>"

    def _repr_html_(self) -> str:
        values, counts = np.unique(self.labels, return_counts=True)
        rows = [{"layer": self.layer, "split": self.split, "images": self.values.shape[0],
                 "features": self.values.shape[1], "mean": float(self.values.mean()), "std": float(self.values.std()),
                 "images per label": ", ".join(f"{v}: {c:,}" for v, c in zip(values, counts, strict=True))}]
        return f"<b>twistfm encoding</b>{table_html(rows)}"


@dataclass(frozen=True, repr=False)
class Groups:
    """The groups found inside each label from the encoding alone (a :class:`~twistfm.analysis.discover.Discovery`).

    Attributes
    ----------
    result : Discovery
        Everything discovery found (``per_label``, ``group``, ``overall``, ...).
    images : ndarray of uint8
        The images of the discovery's split, in its order.
    """

    result: Discovery
    images: np.ndarray

    def __getattr__(self, name: str) -> Any:
        if name in ("result", "images"):
            raise AttributeError(name)
        return getattr(self.result, name)

    def as_json(self) -> dict[str, Any]:
        """Per label, its groups largest first: size, the class it looks like, that class's share."""
        return self.result.as_json()

    def __repr__(self) -> str:
        counts = ", ".join(f"{lg.label}: {len(lg.groups)}" for lg in self.result.per_label)
        return f"<twistfm Groups in {self.result.layer} ({self.result.split}); groups per label {counts}>"

    def _repr_html_(self) -> str:
        rows = [{"label": lg.label, "group": g + 1, "images": group.size, "looks like": group.looks_like,
                 "share": group.share, "typical images": thumbnails_html(self.images[group.typical[:8]])}
                for lg in self.result.per_label for g, group in enumerate(lg.groups)]
        return (f"<b>groups found inside each label</b> (encoding of {self.result.layer}, {self.result.split} "
                f"images, {self.result.kinds} kinds in all){table_html(rows, raw=('typical images',))}")


class AnalysisResult:
    """The analysis of one run: its figures on demand, its groups, its explorer.

    Attributes
    ----------
    analysis : Analysis
        Every stage's typed result (``layers``, ``projections``, ``clusterings``, ``decoding``, ...).
    images : ndarray of uint8
        The analysed images, in the analysis's order (training images first, when analysed).
    run : Run
    """

    def __init__(self, analysis: Analysis, images: np.ndarray, run: Run) -> None:
        self.analysis, self.images, self.run = analysis, images, run

    @property
    def layer(self) -> str:
        """The layer the analysis encoded from."""
        return self.analysis.layer

    @property
    def discovery(self) -> Groups | None:
        """The groups found inside each label of the test images (None if discovery did not run)."""
        d = self.analysis.discovery
        if d is None:
            return None
        return Groups(d, self.images[self.analysis.test] if d.split == "test" else self.images)

    @property
    def meaning(self) -> list[str]:
        """One line per label: the original classes behind it, e.g. ``label 1 = Sandal (100%)``."""
        return self.analysis.decoding.lines()

    @property
    def scores(self) -> pandas.DataFrame:
        """One row per clustering: clusters, noise points and agreement with the labels."""
        import pandas

        return pandas.DataFrame([{"clustering": c.title, **c.scores} for c in self.analysis.clusterings.values()])

    def plot(self, projection: str = "tsne", color: str = "label") -> Figure:
        """The test images in a 2-D projection, coloured by a field.

        Parameters
        ----------
        projection : {"pca", "tsne"} (or "umap" when analysed with it), default="tsne"
        color : str, default="label"
            ``"label"``, ``"kmeans"``, ``"dbscan"``, ``"hdbscan"``, ``"group"`` (found inside
            each label), ``"class"`` (where known), ``"predicted"`` or ``"correct"``.
        """
        from .explorer import explorer_fields

        a = self.analysis
        if projection not in a.projections:
            raise OptionError(f"plot: no projection {projection!r}; choose one of {', '.join(a.projections)}")
        found = {f.name: f for f in explorer_fields(a, a.discovery)}
        if color not in found:
            absent = {"class": " (no image's class is known)", "group": " (discovery did not run)"}.get(color, "")
            raise OptionError(f"plot: cannot colour by {color!r}{absent}; choose one of {', '.join(found)}")
        f, p = found[color], a.projections[projection]
        return scatter_figure(p.points[a.test], f.codes[a.test], f.categories, f.colours, f.none,
                              f"{p.title} of {a.layer}: test images by {f.title}", p.axes)

    def gallery(self, label: int, per_row: int = 10) -> Figure:
        """The images of ``label``, one row per group found inside it: the most typical, then borderline ones."""
        groups = self.discovery
        if groups is None:
            raise OptionError("gallery: this analysis has no discovery")
        found = {lg.label: lg for lg in groups.result.per_label}
        if label not in found:
            raise OptionError(f"gallery: no label {label!r}; the labels are {', '.join(map(str, found))}")
        rows = []
        for g, group in enumerate(found[label].groups):
            picks = (group.typical + group.borderline)[:per_row]
            name = f"group {g + 1}\n{group.size:,} images" + (f"\nlooks like {group.looks_like}" if group.looks_like else "")
            captions = ["typical" if k < len(group.typical) else "borderline" for k in range(len(picks))]
            rows.append((name, groups.images[picks], captions))
        return gallery_figure(rows, f"Label {label}: the groups found inside it", per_row)

    def explore(self, height: int = 900) -> Explorer:
        """The report's explorer of every analysed image, shown inline in a notebook."""
        return Explorer(self.analysis, self.images, height)

    def __repr__(self) -> str:
        a = self.analysis
        return (f"<twistfm Analysis of {a.model}, layer {a.layer}: {len(a.labels):,} images, "
                f"k-NN accuracy {a.knn_acc:.4f}>")

    def _repr_html_(self) -> str:
        a = self.analysis
        head = [{"model": a.model, "layer": a.layer, "best layer": a.layers.best, "images": len(a.labels),
                 "k-NN accuracy": a.knn_acc}]
        meaning = "".join(f"<li>{escape(line)}</li>" for line in self.meaning)
        groups = self.discovery._repr_html_() if self.discovery is not None else ""
        return (f"<b>twistfm analysis</b>{table_html(head)}{table_html(self.scores.to_dict('records'))}"
                f"<p><b>what each label means</b></p><ul>{meaning}</ul>{groups}")


@dataclass(frozen=True, repr=False)
class Explorer:
    """The report's explorer (Bokeh) of an analysis, as a page that a notebook shows inline."""

    analysis: Analysis
    images: np.ndarray
    height: int = 900

    @cached_property
    def page(self) -> str:
        """The explorer as one self-contained HTML page (it works offline)."""
        from .explorer import CSS as EXPLORER_CSS
        from .explorer import explorer_part
        from .html import CSS

        part = explorer_part(self.analysis, self.images, self.analysis.discovery)
        return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><style>{CSS}{EXPLORER_CSS}</style>'
                f'</head><body><main class="wrap">{part.html}</main>{part.scripts}</body></html>')

    def __repr__(self) -> str:
        return f"<twistfm Explorer of {len(self.analysis.labels):,} images>"

    def _repr_html_(self) -> str:
        return explorer_frame(self.page, self.height)


@dataclass(frozen=True, repr=False)
class Study:
    """A finished study: its folder, report, comparison and the meaning of each label.

    Attributes
    ----------
    path : Path
        The study folder.
    report_path : Path
        Its ``report.html``.
    command : str
        The ``twistfm run`` command line that repeats it.
    meaning : list of str
        One line per label.
    """

    path: Path
    report_path: Path
    command: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    stat_rows: list[dict[str, Any]] = field(default_factory=list)
    meaning: list[str] = field(default_factory=list)

    @property
    def comparison(self) -> pandas.DataFrame:
        """One row per trained model and seed: accuracy, loss, time, parameters, run folder."""
        import pandas

        return pandas.DataFrame(self.rows)

    @property
    def stats(self) -> pandas.DataFrame:
        """One row per model: its test accuracy over its seeds."""
        import pandas

        return pandas.DataFrame(self.stat_rows)

    def __repr__(self) -> str:
        return f"<twistfm Study of {len(self.rows)} run(s): {self.report_path}>"

    def _repr_html_(self) -> str:
        rows = [{k: r[k] for k in ("model", "seed", "test_acc", "training_seconds", "parameters")} for r in self.rows]
        meaning = "".join(f"<li>{escape(line)}</li>" for line in self.meaning)
        return (f"<b>twistfm study</b>{table_html(rows)}<ul>{meaning}</ul>"
                f'<p>report: <a href="{escape(self.report_path.as_uri())}">{escape(self.report_path)}</a></p>')
