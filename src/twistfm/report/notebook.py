"""The results a notebook gets: a run, an encoding, the groups inside each label, an analysis, its explorer, a study.

Each shows itself in a notebook (``_repr_html_``: a short table, the key figures or
thumbnails, never a dump of arrays) and has a one-line ``repr``; the displays and figures are
built by :mod:`twistfm.report.notebook_figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import OptionError
from .notebook_figures import (
    STYLE,
    NotebookFigure,
    escape,
    explorer_frame,
    figure_html,
    figure_png,
    gallery_figure,
    history_figure,
    scatter_figure,
    table_html,
    thumbnails_html,
)
from .tables import label_titles

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
            from ..runs import RunDir

            self._data = self._spec.load_checked(str(Path(self.path) / RunDir.CONFIG))
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
    titles : dict
        Label value -> its title (``label 1 (round)`` where the data named it); ``label 1`` where absent.
    """

    result: Discovery
    images: np.ndarray
    titles: dict[int, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name in ("result", "images", "titles"):
            raise AttributeError(name)
        return getattr(self.result, name)

    def as_json(self) -> dict[str, Any]:
        """Per label, its groups largest first: size, the class it looks like, that class's share."""
        return self.result.as_json()

    def __repr__(self) -> str:
        counts = ", ".join(f"{lg.label}: {len(lg.groups)}" for lg in self.result.per_label)
        return f"<twistfm Groups in {self.result.layer} ({self.result.split}); groups per label {counts}>"

    def _repr_html_(self) -> str:
        rows = [{"label": self.titles.get(lg.label, f"label {lg.label}"), "group": g + 1, "images": group.size,
                 "looks like": group.looks_like, "share": group.share,
                 "typical images": thumbnails_html(self.images[group.typical[:8]])}
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
        return Groups(d, self.images[self.analysis.test] if d.split == "test" else self.images,
                      label_titles(self.analysis.decoding, self.analysis.label_values))

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
        title = groups.titles.get(label, f"label {label}")
        return gallery_figure(rows, f"{title[0].upper()}{title[1:]}: the groups found inside it", per_row)

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
