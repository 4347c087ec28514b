"""The study report: one self-contained HTML file that reads top to bottom like the study.

It is built from a :class:`StudyReport` (the trained models, the comparison and the
:class:`~twistfm.analysis.Analysis` of one model, with their figures as PNG bytes); it
reads no file. Every figure is a PNG data URI and the explorer is inline, so the file works
offline and can be mailed as it is. The explorer is built only when it is scrolled into
view, so the page is readable at once.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from ..analysis import Analysis, Clustering
from ..analysis.discover import WEAK
from ..analysis.layers import MAX_DIMS, PCA_DIMS
from ..analysis.neighbours import AMBIGUOUS_K, AMBIGUOUS_SHARE, KNN_K
from ..analysis.project import PRESERVATION_K
from ..atomic import write_text
from ..data import LabelSummary
from . import figures as F
from .explorer import CSS as EXPLORER_CSS
from .explorer import ExplorerPart
from .images import display_strip
from .tables import contingency_rows, label_names

__all__ = ["ModelReport", "StudyReport", "build_report", "THUMBNAILS"]

#: Thumbnails per group shown beside each label's meaning at the top of the report.
THUMBNAILS = 6

CSS = """
:root{--ink:#1d232a;--muted:#56616b;--line:#e3e7eb;--accent:#0072B2;--bg:#fbfcfd}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#10212e;color:#fff;padding:2.2rem 0 1.6rem}header p{color:#c9d6df;margin:.3rem 0 0}
.wrap{max-width:1180px;margin:0 auto;padding:0 1.5rem}
h1{font-size:2rem;margin:0}h2{font-size:1.45rem;margin:2.6rem 0 .8rem;padding-top:.6rem;border-top:1px solid var(--line)}
h3{font-size:1.1rem;margin:1.6rem 0 .5rem}
nav.toc{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.8rem 1.2rem;margin:1.6rem 0}
nav.toc ol{columns:2;margin:.3rem 0;padding-left:1.2rem}nav.toc a{color:var(--accent);text-decoration:none}
figure{margin:1rem 0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem;text-align:center}
figure img{max-width:100%;height:auto}figcaption{color:var(--muted);font-size:.9rem;margin-top:.4rem}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:1rem}.grid .wide{grid-column:1/-1}
table{border-collapse:collapse;background:#fff;font-size:.9rem;margin:.6rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:right}th{background:#f1f4f7;font-weight:600}
td:first-child,th:first-child{text-align:left}tr.best td{background:#eaf4fb;font-weight:600}
pre{background:#10212e;color:#e8eef2;border-radius:8px;overflow-x:auto;font-size:.82rem;padding:.8rem}
.answer{background:#fff;border-left:4px solid var(--accent);padding:.6rem 1rem;margin:.6rem 0;border-radius:4px}
.answer .meaning{font-size:1.15rem;font-weight:600}.answer p{margin:.25rem 0;color:var(--muted);font-size:.95rem}
.thumbs{display:flex;flex-wrap:wrap;gap:1rem;margin-top:.35rem}.thumbs figure{margin:0;padding:.3rem;border:none}
.thumbs img{image-rendering:pixelated;height:42px;width:auto;max-width:none;cursor:zoom-in}
.thumbs img.big{height:auto;width:756px;max-width:100%;cursor:zoom-out}.thumbs figcaption{font-size:.85rem;margin:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:.8rem;margin:1rem 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem}.card b{display:block;font-size:1.5rem}
.muted{color:var(--muted)}.note{background:#fff8e6;border:1px solid #f0d9a0;border-radius:6px;padding:.5rem .8rem}
.table-wrap{max-width:100%;overflow-x:auto}.table-wrap table{margin:.6rem 0}
.precision{font-size:.92rem;margin:.3rem 0 .6rem}
main{overflow-wrap:anywhere}
@media (max-width:760px){
  .wrap{padding:0 .8rem}h1{font-size:1.5rem}
  nav.toc ol{columns:1}
  .grid{grid-template-columns:minmax(0,1fr)}
  .cards{grid-template-columns:repeat(2,minmax(0,1fr))}
  table{font-size:.82rem}th,td{padding:.3rem .4rem}
}
"""


@dataclass(frozen=True, kw_only=True)
class ModelReport:
    """One trained model as the report shows it.

    Attributes
    ----------
    label : str
        The model's name in the study (e.g. ``"cm1-adam"``).
    summary : str
        Its Keras-style layer table.
    metrics : dict
        Its ``metrics.json``.
    figures : dict
        Training figures (PNG bytes) by name (:data:`figures.LOSS`, ...).
    """

    label: str
    summary: str
    metrics: dict[str, Any]
    figures: dict[str, bytes]


@dataclass(frozen=True, kw_only=True)
class StudyReport:
    """Everything the report shows.

    Attributes
    ----------
    title, command : str
        The page title and the command that repeats the study.
    config : dict
        The study's configuration (shown in full).
    data_source : str
    label_counts : list of LabelSummary
    val_split : float
        The share of training images held out for validation (the last ones, in file order).
    models : list of ModelReport
    comparison : list of dict
        Rows of the comparison table, one per trained run.
    stats : list of dict
        Per model: its test accuracy over its seeds (see :func:`twistfm.pipeline.comparison_stats`).
    comparison_figure : bytes
    analyzed : str
        Label of the analysed model.
    analysis : Analysis
    analysis_figures : dict
        The analysis figures (PNG bytes) by name.
    test_images : ndarray of uint8
        The test images (for the thumbnails beside each label's meaning).
    explorer : ExplorerPart or None
    elapsed_seconds : float
    notes : list of str
    """

    title: str
    command: str
    config: dict[str, Any]
    data_source: str
    label_counts: list[LabelSummary]
    val_split: float
    models: list[ModelReport]
    comparison: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    comparison_figure: bytes
    analyzed: str
    analysis: Analysis
    analysis_figures: dict[str, bytes]
    test_images: np.ndarray
    explorer: ExplorerPart | None = None
    elapsed_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _img(data: bytes | None, caption: str) -> str:
    if not data:
        return ""
    uri = base64.b64encode(data).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{uri}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _grid(*figures: str) -> str:
    return '<div class="grid">' + "".join(f for f in figures if f) + "</div>"


def _table(rows: list[dict[str, Any]], best: str | None = None, key: str = "") -> str:
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


def _thumbs(images: np.ndarray, alt: str) -> str:
    """A strip of images as one small PNG (dark ink on white), described by ``alt``."""
    strip = display_strip(images)
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    return (f'<img alt="{html.escape(alt)}" tabindex="0" role="button" aria-pressed="false" title="click to enlarge" '
            f'src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">')


# ---------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class _Facts:
    """The numbers the report states in more than one place, computed once: every card and section reads them here."""

    labels: list[int]
    names: dict[int, str]
    classes: dict[int, list[str]]
    groups: dict[int, int]
    discovery_layer: str | None

    @property
    def n_classes(self) -> int:
        return len({c for cs in self.classes.values() for c in cs})

    @property
    def kinds(self) -> int | None:
        return sum(self.groups.values()) if self.groups else None

    @property
    def exact(self) -> int:
        return sum(self.groups.get(v) == len(self.classes[v]) for v in self.labels if self.classes[v])


def _facts(analysis: Analysis) -> _Facts:
    values = [m.label for m in analysis.decoding.labels]
    discovery = analysis.discovery
    return _Facts(labels=values, names=label_names(analysis.decoding, values),
                  classes={m.label: sorted(m.classes, key=lambda n: -m.shares[n]) for m in analysis.decoding.labels},
                  groups={lg.label: len(lg.groups) for lg in discovery.per_label} if discovery else {},
                  discovery_layer=discovery.layer if discovery else None)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _answer(study: StudyReport) -> str:
    best = max(study.comparison, key=lambda r: float(r["test_acc"]))
    analysis = study.analysis
    facts = _facts(analysis)
    kinds = facts.kinds
    cards = [("best test accuracy", f"{float(best['test_acc']):.2%}", str(best["model"]), "accuracy"),
             ("mystery labels", str(len(facts.labels)), f"together named by {facts.n_classes} original classes" if
              facts.n_classes else "no original class is known", "labels"),
             ("groups found blind", str(kinds) if kinds is not None else "-",
              f"inside the labels' test images, from the encoding alone; the check finds {facts.n_classes} classes"
              if kinds is not None else "discovery was not run", "kinds"),
             ("study time", f"{study.elapsed_seconds / 60:.1f} min", "on this machine", "time")]
    out = '<div class="cards">' + "".join(
        f'<div class="card" data-fact="{key}"><span class="muted">{t}</span><b>{v}</b><span class="muted">'
        f"{html.escape(sub)}</span></div>" for t, v, sub, key in cards) + "</div>"
    out += ("<p>Each label is named by the original Fashion-MNIST classes most of whose images carry it (the check, "
            "which uses the classes); beside it, the groups found inside it <em>blind</em>, without the classes. "
            "Under each name, a percentage is the share of that class's images that carry the label.</p>")
    groups = {lg.label: lg for lg in analysis.discovery.per_label} if analysis.discovery else {}
    for meaning in analysis.decoding.labels:
        lg = groups.get(meaning.label)
        thumbs = ""
        if lg is not None:
            thumbs = '<div class="thumbs">' + "".join(
                f"<figure>{_thumbs(study.test_images[g.typical[:THUMBNAILS]], _group_caption(meaning.label, k, g))}"
                f"<figcaption>{html.escape(_group_caption(meaning.label, k, g))}</figcaption></figure>"
                for k, g in enumerate(lg.groups)) + "</div>"
        classes = facts.classes[meaning.label]
        shares = "; ".join(f"{meaning.shares[c]:.0%} of {c} images carry it" for c in classes)
        out += (f'<div class="answer" data-label="{meaning.label}"><div class="meaning">'
                f"{html.escape(facts.names[meaning.label].replace(' · ', ' = ', 1))}</div>"
                f"<p>{html.escape(shares)}{'.' if shares else ''}</p>"
                f"<p>{html.escape(_how_found(meaning.label, lg, analysis, facts))}</p>{thumbs}</div>")
    return out


def _group_caption(label: int, k: int, group) -> str:
    """A group's caption: its size and, where the classes are known, the class most of it is, with that share."""
    seen = f", looks like {group.looks_like} ({group.share:.0%} of the group)" if group.looks_like else ""
    return f"label {label}, group {k + 1}: {group.size:,} images{seen}"


def _how_found(label: int, lg, analysis: Analysis, facts: _Facts) -> str:
    """One sentence on how the meaning of ``label`` was found: the blind groups first, then the check."""
    recovery = ", ".join(f"{k} {v:,}" for k, v in analysis.decoding.recovery.items())
    check = f"the check by each image's original class ({recovery})"
    n_classes = len(facts.classes[label])
    if lg is None:
        return f"Named by {check}: {_plural(n_classes, 'class', 'classes')}."
    if not n_classes:
        return (f"Found blind in the encoding of {facts.discovery_layer}: its test images form "
                f"{_plural(facts.groups[label], 'group')}; no original class is known to check them.{_weak(lg)}")
    agree = ("as many as the classes" if facts.groups[label] == n_classes else
             "more than the classes: a class splits into look-alike groups" if facts.groups[label] > n_classes else
             "fewer than the classes: look-alike classes merge")
    ari = f"; ARI against the classes {lg.ari:.2f}" if lg.ari is not None else ""
    return (f"Found blind in the encoding of {facts.discovery_layer}: its test images form "
            f"{_plural(facts.groups[label], 'group')}; {check} names {_plural(n_classes, 'class', 'classes')}"
            f" ({agree}{ari}).{_weak(lg)}")


def _weak(lg) -> str:
    """A sentence where a label's count sits near the threshold (empty where it is clear)."""
    count = lg.count
    if not count.weak:
        return ""
    score = dict(zip(count.ks, count.scores, strict=True))
    above = [k for k in count.ks if k > count.chosen and score[k] >= count.threshold - WEAK]
    if above:
        other = f"{above[0]} groups reach {score[above[0]]:.2f}, just under"
    else:
        other = f"{count.chosen} groups reach {score[count.chosen]:.2f}, just over"
    return (f" The count is weak: {other} the threshold {count.threshold:g}, so another threshold close to it would "
            f"count differently; look at the groups' images before taking the split as found.")


def _val_splits(study: StudyReport) -> dict[str, float]:
    """Each model's share of training images held out for validation (its own config; else the study's)."""
    configs = study.config.get("models", {}) if isinstance(study.config, dict) else {}
    return {m.label: float((configs.get(m.label) or {}).get("val_split", study.val_split)) for m in study.models}


def _data(study: StudyReport) -> str:
    named = any(r.name for r in study.label_counts)
    counts = [{"label": r.label, **({"name": r.name or "-"} if named else {}), "training images": r.train,
               "test images": r.test, "classes behind it": ", ".join(r.classes) or "-"} for r in study.label_counts]
    shape = study.test_images.shape
    kind = "grey values" if len(shape) == 3 else "colour (RGB) values"
    splits = _val_splits(study)
    if len(set(splits.values())) == 1:
        share = next(iter(splits.values()), 0.0)
        held = (f"Each model's validation images are the last {share:.0%} of the training file, in file order, as the "
                "seeds' Keras code held them out." if share else "")
    else:
        held = ("The validation images are the last images of the training file, in file order, as the seeds' Keras "
                "code held them out: " + ", ".join(f"{v:.0%} for {html.escape(k)}" for k, v in splits.items()) + ".")
    return (f"<p>Source: {html.escape(study.data_source)}. Images are {shape[1]}&times;{shape[2]} {kind} 0&ndash;255, "
            "kept as "
            f"integers until they enter a network, where each is divided by 255 to lie in [0, 1]. {held}</p>"
            + _table(counts))


def _precision(metrics: dict[str, Any]) -> str:
    """Which numeric precision a model trained in and why (runs older than that record say so)."""
    precision = metrics.get("precision")
    if precision is None:
        return '<p class="precision muted">Numeric precision: not recorded by this run (older runs trained in fp32).</p>'
    reason = metrics.get("precision_reason")
    words = {"fp32": "32-bit floating point (fp32)", "bf16": "bfloat16 (bf16) mixed precision"}.get(precision, precision)
    return (f'<p class="precision">Trained in <b>{html.escape(words)}</b>'
            f"{': ' + html.escape(reason) if reason else '.'}</p>")


def _models(study: StudyReport) -> str:
    return "".join(f"<h3>{html.escape(m.label)}</h3>{_precision(m.metrics)}<pre>{html.escape(m.summary)}</pre>"
                   for m in study.models)


def _training(study: StudyReport) -> str:
    return "".join(f"<h3>{html.escape(m.label)}</h3>" + _grid(_img(m.figures.get(F.LOSS), f"{m.label}: loss"),
                                                               _img(m.figures.get(F.ACCURACY), f"{m.label}: accuracy"))
                   for m in study.models)


_COMPARISON_COLUMNS = {"model": "model", "seed": "seed", "test_acc": "test accuracy", "test_loss": "test loss",
                       "parameters": "parameters", "epochs": "epochs", "batch_size": "batch", "optimizer": "optimizer",
                       "train_acc": "training accuracy", "val_acc": "validation accuracy",
                       "training_seconds": "training seconds", "train_images_per_second": "images/s"}


def _comparison(study: StudyReport) -> str:
    best = max(study.comparison, key=lambda r: float(r["test_acc"]))
    rows = [{title: row[key] for key, title in _COMPARISON_COLUMNS.items() if key in row} for row in study.comparison]
    inference = [{"model": m.label, "precision": m.metrics.get("precision", "-"),
                  "test images/s": m.metrics["test_images_per_second"],
                  "test inference seconds": round(m.metrics["test_inference_seconds"], 3)} for m in study.models]
    seeds = ""
    if any(s["seeds"] > 1 for s in study.stats):
        stats = [{"model": s["model"], "seeds": s["seeds"], "mean test accuracy": s["test_acc_mean"],
                  "standard deviation": s["test_acc_sd"], "lowest": s["test_acc_min"], "highest": s["test_acc_max"],
                  "mean training seconds": s["training_seconds_mean"]} for s in study.stats]
        seeds = ("<p>Each model was trained with several seeds: its test accuracy's mean, standard deviation and range "
                 "first, then every run.</p>" + _table(stats))
    return ("<p>Test accuracy is each model's accuracy on the test images after its last epoch. The full table, with "
            "filters and units, is in <code>compare/comparison.csv</code>.</p>" + seeds
            + _table(rows, str(best["model"]), "model") + _table(inference)
            + _img(study.comparison_figure, "Validation and test accuracy per epoch"))


def _confusion(study: StudyReport) -> str:
    """Each model's test confusion matrix, its labels named as the decoding names them (drawn again from its metrics)."""
    facts = _facts(study.analysis)
    out = []
    for m in study.models:
        confusion = m.metrics.get("confusion")
        if confusion is not None and len(confusion) == len(facts.labels):
            figure = F.png(F.model_confusion_figure(np.asarray(confusion), [facts.names[v] for v in facts.labels],
                                                    m.label))
        else:
            figure = m.figures.get(F.CONFUSION)
        out.append(_img(figure, f"{m.label}: test confusion matrix: counts, then the share of each true label's images"))
    return "".join(out)


def _layers(study: StudyReport) -> str:
    analysis = study.analysis
    facts = _facts(analysis)
    best, default = analysis.layers.row(analysis.layers.best), analysis.layers.row(analysis.default_layer)
    note = ""
    if best is not None and default is not None and default is not best:
        note = (f"<p>The best layer, <b>{best.layer}</b>, reaches K-means NMI {best.kmeans_nmi:.3f} against "
                f"{default.kmeans_nmi:.3f} for the last hidden layer ({default.layer}).</p>")

    def used(layer: str) -> str:
        uses = (["maps, clustering, explorer"] if layer == analysis.layer else []) + (
            ["groups inside each label"] if layer == facts.discovery_layer else [])
        return "; ".join(uses) or "-"

    rows = [{"layer": r.layer, "used for": used(r.layer), "width": r.width, "dimensions scored": r.dims,
             "K-means ARI": r.kmeans_ari, "K-means NMI": r.kmeans_nmi, f"{KNN_K}-NN accuracy": r.knn_acc,
             "silhouette": r.silhouette} for r in analysis.layers.rows]
    discovery = ""
    if facts.discovery_layer and facts.discovery_layer != analysis.layer:
        discovery = (f" The groups inside each label are found in another layer, <b>{html.escape(facts.discovery_layer)}"
                     "</b> (an early one, which keeps the differences the label merges); the column <i>used for</i> "
                     "says which layer serves what.")
    return (f"<p>Each candidate layer of <b>{html.escape(study.analyzed)}</b> encodes the test images. K-means (k = the "
            "number of labels) is fitted on the test encodings and scored against the labels (ARI, NMI); a "
            f"k-nearest-neighbour classifier (k = {KNN_K}) fitted on training encodings is scored on the test "
            f"encodings; the silhouette of the labels is taken on a sample. Layers wider than {MAX_DIMS} are scored on "
            f"{PCA_DIMS} principal components. The highlighted row, <b>{html.escape(analysis.layer)}</b>, is the layer "
            f"the PCA, t-SNE, clustering and explorer sections encode from.{discovery}</p>"
            + note + _table(rows, analysis.layer, "layer"))


def _inside(study: StudyReport) -> str:
    discovery = study.analysis.discovery
    facts = _facts(study.analysis)
    figs = study.analysis_figures
    rows = [{"label": lg.label, "groups found blind": facts.groups[lg.label],
             "original classes (the check)": len(facts.classes[lg.label]) if facts.classes[lg.label] else "-",
             "ARI groups vs classes": lg.ari, "groups (size, looks like: share of the group)": "; ".join(
                 f"{g.size:,}" + (f" {g.looks_like}: {g.share:.0%}" if g.looks_like else "") for g in lg.groups)}
            for lg in discovery.per_label]
    overall = discovery.overall
    exact = (f" The blind count equals the classes in {facts.exact} of {len(discovery.per_label)} labels."
             if facts.n_classes else "")
    return (f"<p>Without the original classes, the test images of each label are split into groups in the encoding "
            f"of <b>{html.escape(discovery.layer)}</b> (an early layer, which keeps the differences the label merges; "
            f"the maps and the clustering below use {html.escape(study.analysis.layer)}): "
            f"{_method(discovery.params)} (a label of one kind keeps one group). Together the labels hold "
            f"<b data-fact=\"kinds\">{facts.kinds}</b> groups found blind"
            f"{f'; the check names {facts.n_classes} original classes' if facts.n_classes else ''}.{exact} "
            f"Ignoring the labels, the same criterion on one map of all test images finds {overall.chosen}"
            f"{': look-alike kinds merge into families there' if overall.chosen < facts.kinds else ''}. "
            "The original classes, where known, only name and score the groups: each group is named by the class most "
            "of its images are, with that class's share of the group.</p>" + _table(rows)
            + _img(figs.get(F.GROUPS), "One row per group: its most typical images, then borderline ones")
            + _grid(_img(figs.get(F.CRITERION), "The criterion inside each label"),
                    _img(figs.get(F.CRITERION_ALL), "The criterion over the whole set")))


def _method(params: dict) -> str:
    """How the groups were counted, in words, from the discovery's own parameters."""
    dims = f"its {params['pca_dims']} principal components"
    if params.get("count") == "held-out":
        return (f"{dims} are mapped to 2-D by a t-SNE made from a random half of the label's images, the other half "
                f"placed into it; the number of groups is the largest whose {params['criterion']}, measured on the "
                f"placed images only (the held-out check, averaged over {params['maps']} maps), reaches "
                f"{params['threshold']:g}")
    return (f"{dims} are embedded in 2-D by one t-SNE per label, and the number of groups is the largest whose "
            f"{params.get('criterion', 'K-means prediction strength')} reaches {params['threshold']:g}")


def _scatters(study: StudyReport, method: str) -> str:
    figs, analysis = study.analysis_figures, study.analysis
    title = analysis.projections[method].title
    shown = [("label", "label")] + [(n, f"{c.title} cluster") for n, c in analysis.clusterings.items() if not c.poor]
    images = [_img(figs.get(F.scatter_name(method, name)), f"{title}, coloured by {caption}") for name, caption in shown]
    if len(images) % 2:  # an odd count: the labels' figure takes the first row alone, the others go in pairs
        images[0] = images[0].replace("<figure>", '<figure class="wide">', 1)
    return _grid(*images)


def _pca(study: StudyReport) -> str:
    ev = study.analysis.projections["pca"].explained_variance or [float("nan")] * 2
    return (f"<p>The first two principal components of the test encodings of <b>{html.escape(study.analysis.layer)}</b> "
            f"explain {ev[0]:.1%} and {ev[1]:.1%} of their variance.</p>" + _scatters(study, "pca"))


def _clustering(study: StudyReport) -> str:
    clusterings = study.analysis.clusterings
    km = clusterings["kmeans"]
    db, hdb = clusterings["dbscan"], clusterings["hdbscan"]
    chosen = (", chosen as the radius whose clustering has the best silhouette times share of images clustered"
              if db.params.get("eps_chosen") else "")
    rows = [{"method": c.title, "clusters": c.scores["n_clusters"], "noise": c.scores["noise"], "ARI": c.scores["ari"],
             "NMI": c.scores["nmi"], "purity": c.scores["purity"]} for c in clusterings.values()]
    verdicts = "".join(f'<p class="{"note" if c.poor else ""}">{html.escape(c.verdict())}</p>'
                       for c in clusterings.values())
    n = len(study.analysis.labels)
    layer = html.escape(study.analysis.layer)
    return (f"<p>K-means (k = {km.params['k']}, k-means++, seeded) clusters the encoding of <b>{layer}</b> of all "
            f"{n:,} analysed images and is scored on them, so its ARI differs a little from the layer table's, whose "
            "K-means is fitted on the test images alone. DBSCAN (eps = "
            f"{db.params['eps']:.4g}{chosen}; at least {db.params['min_samples']} neighbours) and HDBSCAN (smallest cluster "
            f"{hdb.params['min_cluster_size']:,} images) cluster {html.escape(db.params['space'])}, fitted on the test "
            "images (the others join their nearest test image's cluster). Cluster "
            "colours and numbers follow the label each cluster is matched to (Hungarian method), so one colour means "
            "one group across figures.</p>" + verdicts + _table(rows)
            + "".join(_contingency(c) for c in clusterings.values() if not c.poor)
            + (_img(study.analysis_figures.get(F.KDISTANCE), "The k-distance curve") if not db.poor else ""))


def _contingency(clustering: Clustering) -> str:
    return f"<h3>{html.escape(clustering.title)}: clusters &times; labels</h3>" + _table(contingency_rows(clustering))


def _tsne(study: StudyReport) -> str:
    tsne = study.analysis.projections["tsne"]
    preservation = study.analysis.preservation
    kept = "-" if preservation is None else f"{preservation:.3f}"
    placed = tsne.params.get("placed_points", 0)
    extra = (f" It is made of the {tsne.params['fitted_points']:,} test images; the {placed:,} training images are then "
             "placed into it (each starts among its nearest test images)." if placed else "")
    return (f"<p>openTSNE of the encoding of <b>{html.escape(study.analysis.layer)}</b>, perplexity "
            f"{tsne.params['perplexity']:g}, seeded.{extra} Share of each test image's "
            f"{PRESERVATION_K} nearest neighbours in the encoding that stay among its {PRESERVATION_K} nearest in 2-D: "
            f"{kept}.</p>" + _scatters(study, "tsne"))


def _explorer(study: StudyReport) -> str:
    n = len(study.analysis.labels)
    return (f"<p>Every image ({n:,}) is a point. Choose the projection and the colouring; hover a point to see its image; "
            "drag a box (or, after choosing <i>Lasso select</i>, a lasso) to see the images selected and their counts; "
            "click a point to ring it and its nearest images on the map and list them with their distances; click a "
            "legend or filter entry to hide those images; type in <i>Find</i> to look for an image, a label, a class "
            "or a group. Every count is of the images shown.</p>" + study.explorer.html)


def _galleries(study: StudyReport) -> str:
    figs = study.analysis_figures
    return (_img(figs.get(F.GALLERY_LABELS), "Random test images of each label")
            + _img(figs.get(F.GALLERY_KMEANS), "Random test images of each K-means cluster")
            + _img(figs.get(F.KMEANS_MEANS), "Mean image of each K-means cluster"))


def _meaning(study: StudyReport) -> str:
    decoding = study.analysis.decoding
    return ("<p>Each image's original Fashion-MNIST class was recovered (the check; "
            + html.escape(", ".join(f"{k}: {v:,}" for k, v in decoding.recovery.items()))
            + "); a label is named by the classes most of whose images carry it, with the share of each class that "
              "does.</p>" + "".join(f'<div class="answer"><div class="meaning">{html.escape(line)}</div></div>'
                                    for line in decoding.lines())
            + _img(study.analysis_figures.get(F.DECODING), _decoding_caption(study)))


def _decoding_caption(study: StudyReport) -> str:
    first, second = (("Top", "Bottom") if F.confusion_stacked(study.analysis.decoding.table.shape[1])
                     else ("Left", "Right"))
    return (f"{first}: how many images of each original class (column) carry each label (row), shaded by count. "
            f"{second}: the share of each class's images that carry each label.")


def _ambiguous(study: StudyReport) -> str:
    analysis = study.analysis
    knn = analysis.layers.row(analysis.layer)
    source = "as in the layer table" if knn is not None else "fitted on training encodings"
    return (f"<p>{len(analysis.ambiguous.index):,} images have a neighbourhood ({AMBIGUOUS_K} nearest in the encoding) "
            f"of which at least {AMBIGUOUS_SHARE:.0%} carries another label. On this data the labels follow from the "
            "kind of image, so these are images that look like another label's, not wrong labels. Under each: its label, "
            "its neighbours' majority label and its original class.</p>"
            + _img(study.analysis_figures.get(F.AMBIGUOUS), "The most ambiguous test images")
            + _img(study.analysis_figures.get(F.RETRIEVAL), "Nearest images in the encoding: each row a query and its "
                                                             "neighbours")
            + f"<p>{KNN_K}-nearest-neighbour accuracy of this encoding ({source}): {analysis.knn_acc:.4f}.</p>")


def _repeat(study: StudyReport) -> str:
    return (f"<pre>{html.escape(study.command)}</pre><p>Same seed, same machine: same numbers. The full configuration:</p>"
            f"<pre>{html.escape(json.dumps(study.config, indent=2, default=str))}</pre>"
            + "".join(f"<p class=muted>{html.escape(n)}</p>" for n in study.notes))


def _sections(study: StudyReport) -> list[tuple[str, str, str]]:
    sections = [("summary", "The answer", _answer), ("data", "The data", _data), ("models", "The models", _models),
                ("training", "Training curves", _training), ("comparison", "Results", _comparison),
                ("confusion", "Confusion matrices", _confusion), ("layers", "Which layer encodes best", _layers)]
    if study.analysis.discovery is not None:
        sections.append(("inside", "What the network sees inside each label", _inside))
    sections += [("pca", "PCA", _pca), ("clustering", "Clustering", _clustering), ("tsne", "t-SNE", _tsne)]
    if study.explorer:
        sections.append(("explorer", "Explore every image", _explorer))
    sections += [("galleries", "Galleries", _galleries), ("meaning", "What each label means", _meaning),
                 ("ambiguous", "Ambiguous images", _ambiguous), ("repeat", "How to repeat this study", _repeat)]
    return [(sid, title, render(study)) for sid, title, render in sections]


#: Clicking (or Enter on) a strip of thumbnails enlarges it; again, shrinks it.
_ENLARGE = """document.addEventListener("click", (e) => { if (e.target.matches(".thumbs img")) {
  const big = e.target.classList.toggle("big"); e.target.setAttribute("aria-pressed", String(big)); } });
document.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.target.matches(".thumbs img")) e.target.click(); });"""


def build_report(path, study: StudyReport):
    """Write the self-contained report to ``path`` and return it."""
    sections = _sections(study)
    toc = "".join(f'<li><a href="#{sid}">{html.escape(title)}</a></li>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(title)}</h2>{content}</section>'
                   for sid, title, content in sections)
    scripts = study.explorer.scripts if study.explorer else ""
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{html.escape(study.title)}</title>'
            f"<style>{CSS}{EXPLORER_CSS if study.explorer else ''}</style></head><body><header><div class=wrap>"
            f"<h1>{html.escape(study.title)}</h1><p>What does the mystery label mean? A study by twistfm.</p></div>"
            f'</header><main class=wrap><nav class="toc"><b>Contents</b><ol>{toc}</ol></nav>{body}</main>'
            f"<script>{_ENLARGE}</script>{scripts}</body></html>")
    write_text(path, page)
    return path
