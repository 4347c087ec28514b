"""The study report: one self-contained HTML file that reads top to bottom like the study.

It is built from a :class:`StudyReport` (the trained models, the comparison and the
:class:`~twistfm.analysis.Analysis` of one model, with their figures as PNG bytes); it
reads no file. Every figure is embedded as a PNG data URI and the explorer's JavaScript is
inline, so the file works offline and can be mailed as it is.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..analysis import Analysis, Clustering
from ..analysis.layers import MAX_DIMS, PCA_DIMS
from ..analysis.neighbours import AMBIGUOUS_K, AMBIGUOUS_SHARE, KNN_K
from ..analysis.project import PRESERVATION_K
from ..atomic import write_text
from ..data import LabelSummary
from . import figures as F
from .tables import contingency_rows

__all__ = ["ModelReport", "StudyReport", "build_report"]

CSS = """
:root{--ink:#1d232a;--muted:#5b6670;--line:#e3e7eb;--accent:#0072B2;--bg:#fbfcfd}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#10212e;color:#fff;padding:2.2rem 0 1.6rem}header p{color:#c9d6df;margin:.3rem 0 0}
.wrap{max-width:1080px;margin:0 auto;padding:0 1.5rem}
h1{font-size:2rem;margin:0}h2{font-size:1.45rem;margin:2.6rem 0 .8rem;padding-top:.6rem;border-top:1px solid var(--line)}
h3{font-size:1.1rem;margin:1.6rem 0 .5rem}
nav.toc{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.8rem 1.2rem;margin:1.6rem 0}
nav.toc ol{columns:2;margin:.3rem 0;padding-left:1.2rem}nav.toc a{color:var(--accent);text-decoration:none}
figure{margin:1rem 0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem;text-align:center}
figure img{max-width:100%;height:auto}figcaption{color:var(--muted);font-size:.9rem;margin-top:.4rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.88rem;margin:.6rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:right}th{background:#f1f4f7}
td:first-child,th:first-child{text-align:left}tr.best td{background:#eaf4fb;font-weight:600}
.scroll{overflow-x:auto}
pre{background:#10212e;color:#e8eef2;border-radius:8px;overflow-x:auto;font-size:.82rem;padding:.8rem}
.meaning{font-size:1.1rem;background:#fff;border-left:4px solid var(--accent);padding:.6rem 1rem;margin:.4rem 0;border-radius:4px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:.8rem;margin:1rem 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem}.card b{display:block;font-size:1.5rem}
.muted{color:var(--muted)}
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
    models : list of ModelReport
    comparison : list of dict
        Rows of the comparison table.
    comparison_figure : bytes
    analyzed : str
        Label of the analysed model.
    analysis : Analysis
    analysis_figures : dict
        The analysis figures (PNG bytes) by name.
    explorer : tuple of (resources, script, div) or None
    elapsed_seconds : float
    notes : list of str
    """

    title: str
    command: str
    config: dict[str, Any]
    data_source: str
    label_counts: list[LabelSummary]
    models: list[ModelReport]
    comparison: list[dict[str, Any]]
    comparison_figure: bytes
    analyzed: str
    analysis: Analysis
    analysis_figures: dict[str, bytes]
    explorer: tuple[str, str, str] | None = None
    elapsed_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _img(data: bytes | None, caption: str) -> str:
    if not data:
        return ""
    uri = base64.b64encode(data).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{uri}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(rows: list[dict[str, Any]], best: str | None = None, key: str = "") -> str:
    if not rows:
        return "<p class=muted>(none)</p>"
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in rows[0])
    body = []
    for row in rows:
        cls = ' class="best"' if best is not None and str(row.get(key)) == best else ""
        cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row.values())
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def _meanings(study: StudyReport) -> str:
    return "".join(f'<div class="meaning">{html.escape(line)}</div>' for line in study.analysis.decoding.lines())


def _summary(study: StudyReport) -> str:
    best = max(study.comparison, key=lambda r: float(r["test_acc"]))
    cards = [("best test accuracy", f"{float(best['test_acc']):.2%}", str(best["model"])),
             ("labels", str(len(study.analysis.decoding.labels)), "mystery labels decoded"),
             ("encoding layer", html.escape(study.analysis.layer), f"of {study.analyzed}"),
             ("study time", f"{study.elapsed_seconds / 60:.1f} min", "on this machine")]
    return '<div class="cards">' + "".join(
        f'<div class="card"><span class="muted">{t}</span><b>{v}</b><span class="muted">{html.escape(s)}</span></div>'
        for t, v, s in cards) + "</div>" + _meanings(study)


def _data(study: StudyReport) -> str:
    counts = [{"label": r.label, "train": r.train, "test": r.test} for r in study.label_counts]
    return (f"<p>Source: {html.escape(study.data_source)}. Images are 28&times;28 grey values 0&ndash;255, kept as uint8 "
            "until the model boundary, where they become float32 in [0, 1] (divided by 255), one channel, as both seeds "
            "did. The validation set is the last part of the training set (Keras's <code>validation_split</code>).</p>"
            + _table(counts))


def _models(study: StudyReport) -> str:
    return "".join(f"<h3>{html.escape(m.label)}</h3><pre>{html.escape(m.summary)}</pre>" for m in study.models)


def _training(study: StudyReport) -> str:
    return "".join(f"<h3>{html.escape(m.label)}</h3><div class=grid>{_img(m.figures.get(F.LOSS), f'{m.label}: loss')}"
                   f"{_img(m.figures.get(F.ACCURACY), f'{m.label}: accuracy')}</div>" for m in study.models)


def _runtimes(study: StudyReport) -> str:
    rows = [{"model": m.label, "training seconds": m.metrics["training_seconds"],
             "train images/s": m.metrics["train_images_per_second"],
             "test inference seconds": round(m.metrics["test_inference_seconds"], 3)} for m in study.models]
    return _table(rows)


def _comparison(study: StudyReport) -> str:
    best = max(study.comparison, key=lambda r: float(r["test_acc"]))
    return (_table(study.comparison, str(best["model"]), "model")
            + _img(study.comparison_figure, "Validation and test accuracy per epoch"))


def _confusion(study: StudyReport) -> str:
    return "".join(_img(m.figures.get(F.CONFUSION), f"{m.label}: test confusion matrix") for m in study.models)


def _layers(study: StudyReport) -> str:
    analysis = study.analysis
    best, default = analysis.layers.row(analysis.layers.best), analysis.layers.row(analysis.default_layer)
    note = ""
    if best is not None and default is not None and default is not best:
        note = (f"<p>The best layer, <b>{best.layer}</b>, reaches K-means NMI {best.kmeans_nmi:.3f} against "
                f"{default.kmeans_nmi:.3f} for the last hidden layer ({default.layer}).</p>")
    rows = [{"layer": r.layer, "width": r.width, "dims": r.dims, "K-means ARI": r.kmeans_ari, "K-means NMI": r.kmeans_nmi,
             f"{KNN_K}-NN accuracy": r.knn_acc, "silhouette": r.silhouette} for r in analysis.layers.rows]
    return (f"<p>Each candidate layer of <b>{html.escape(study.analyzed)}</b> encodes the test images; K-means (k = number "
            f"of labels) is scored against the labels (ARI, NMI), a {KNN_K}-NN classifier fitted on training encodings is "
            "scored on the test encodings, and the silhouette of the labels is taken on a seeded sample. Layers wider than "
            f"{MAX_DIMS} are scored on {PCA_DIMS} principal components. The highlighted row is the layer the analysis "
            "uses.</p>" + note + _table(rows, analysis.layer, "layer"))


def _scatters(study: StudyReport, method: str) -> str:
    figs = study.analysis_figures
    title = study.analysis.projections[method].title
    return "<div class=grid>" + "".join(
        _img(figs.get(F.scatter_name(method, colouring)), f"{title}, coloured by {caption}")
        for colouring, caption in [("label", "label"),
                                   *[(n, f"{c.title} cluster") for n, c in study.analysis.clusterings.items()]]
    ) + "</div>"


def _pca(study: StudyReport) -> str:
    ev = study.analysis.projections["pca"].explained_variance or [float("nan")] * 2
    return f"<p>The first two components explain {ev[0]:.1%} and {ev[1]:.1%} of the variance.</p>" + _scatters(study, "pca")


def _clustering(study: StudyReport) -> str:
    clusterings = study.analysis.clusterings
    km, db = clusterings["kmeans"], clusterings["dbscan"]
    knee = " (chosen at the knee of the k-distance curve)" if db.params["eps_chosen_at_knee"] else ""
    rows = [{"method": name, **c.scores} for name, c in clusterings.items()]
    return (f"<p>K-means: k = {km.params['k']}, k-means++, seeded. DBSCAN: eps = {db.params['eps']:.4g}{knee}, "
            f"min_samples = {db.params['min_samples']}. Cluster colours are matched to labels (Hungarian method), so one "
            "colour means one group across figures.</p>" + _table(rows)
            + "".join(_contingency(name, c) for name, c in clusterings.items())
            + _img(study.analysis_figures.get(F.KDISTANCE), "k-distance curve"))


def _contingency(name: str, clustering: Clustering) -> str:
    return f"<h3>{html.escape(name)}: cluster &times; label</h3>" + _table(contingency_rows(clustering))


def _tsne(study: StudyReport) -> str:
    tsne = study.analysis.projections["tsne"]
    preservation = study.analysis.preservation
    kept = "-" if preservation is None else f"{preservation:.3f}"
    return (f"<p>openTSNE, perplexity {tsne.params['perplexity']:g}, seeded. Share of each point's {PRESERVATION_K} "
            f"nearest neighbours kept in 2-D: {kept}.</p>" + _scatters(study, "tsne"))


def _explorer(study: StudyReport) -> str:
    return ("<p>Every test image is a point. Tabs switch the projection and the colouring; hover a point to see the "
            "image; scroll to zoom, drag to pan; click a legend entry to hide that group.</p>" + study.explorer[2])


def _galleries(study: StudyReport) -> str:
    figs = study.analysis_figures
    return (_img(figs.get(F.GALLERY_LABELS), "Random images per label")
            + _img(figs.get(F.GALLERY_KMEANS), "Random images per K-means cluster")
            + _img(figs.get(F.KMEANS_MEANS), "Mean image per K-means cluster"))


def _meaning(study: StudyReport) -> str:
    recovery = study.analysis.decoding.recovery
    return ("<p>Each image's original Fashion-MNIST class was recovered ("
            + html.escape(", ".join(f"{k}: {v:,}" for k, v in recovery.items()))
            + "); a label is named by the classes most of whose images carry it, with the share of each class that does."
            "</p>" + _meanings(study)
            + _img(study.analysis_figures.get(F.DECODING), "Images of each original class (columns) per label (rows)"))


def _ambiguous(study: StudyReport) -> str:
    analysis = study.analysis
    return (f"<p>{len(analysis.ambiguous.index):,} test images have a neighbourhood ({AMBIGUOUS_K} nearest in the "
            f"encoding) of which at least {AMBIGUOUS_SHARE:.0%} carries another label; the most disagreeing first, with "
            "the given label and the neighbours' majority.</p>"
            + _img(study.analysis_figures.get(F.AMBIGUOUS), "Ambiguous images")
            + _img(study.analysis_figures.get(F.RETRIEVAL), "Nearest-neighbour retrieval: each row a query and its neighbours")
            + f"<p>{KNN_K}-NN accuracy on this encoding: {analysis.knn_acc:.4f}.</p>")


def _repeat(study: StudyReport) -> str:
    return (f"<pre>{html.escape(study.command)}</pre><p>Same seed, same machine: same numbers. The full configuration:</p>"
            f"<pre>{html.escape(json.dumps(study.config, indent=2, default=str))}</pre>"
            + "".join(f"<p class=muted>{html.escape(n)}</p>" for n in study.notes))


def _sections(study: StudyReport) -> list[tuple[str, str, str]]:
    sections = [("summary", "The answer", _summary), ("data", "The data and its preprocessing", _data),
                ("models", "The models", _models), ("training", "Training curves", _training),
                ("runtimes", "Runtimes", _runtimes), ("comparison", "Comparison", _comparison),
                ("confusion", "Confusion matrices", _confusion), ("layers", "Which layer encodes best", _layers),
                ("pca", "PCA", _pca), ("clustering", "K-means and DBSCAN", _clustering), ("tsne", "t-SNE", _tsne)]
    if study.explorer:
        sections.append(("explorer", "Explore every test image", _explorer))
    sections += [("galleries", "Galleries", _galleries), ("meaning", "What each label means", _meaning),
                 ("issues", "Ambiguous images", _ambiguous), ("repeat", "How to repeat this study", _repeat)]
    return [(sid, title, render(study)) for sid, title, render in sections]


def build_report(path: Path, study: StudyReport) -> Path:
    """Write the self-contained report to ``path`` and return it."""
    sections = _sections(study)
    toc = "".join(f'<li><a href="#{sid}">{html.escape(title)}</a></li>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(title)}</h2>{content}</section>'
                   for sid, title, content in sections)
    head_extra = (study.explorer[0] + study.explorer[1]) if study.explorer else ""
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{html.escape(study.title)}</title>'
            f"<style>{CSS}</style>{head_extra}</head><body><header><div class=wrap><h1>{html.escape(study.title)}</h1>"
            f"<p>What does the mystery label mean? A study by twistfm.</p></div></header><main class=wrap>"
            f'<nav class="toc"><b>Contents</b><ol>{toc}</ol></nav>{body}</main></body></html>')
    write_text(path, page)
    return path

