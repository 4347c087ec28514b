"""The study report: one self-contained HTML file that reads top to bottom like the study.

Every figure is embedded as a PNG data URI and the explorer's JavaScript is inline, so the
file works offline and can be mailed as it is.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text

__all__ = ["StudyInfo", "build_report"]

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


@dataclass
class StudyInfo:
    """What the report shows besides the run directories' own files.

    Attributes
    ----------
    title : str
    command : str
        The exact command that repeats the study.
    config : dict
        The study's configuration (shown in full).
    data_source : str
    label_counts : dict
        Split -> {label: count}.
    comparison : list of dict
        Rows of the comparison table.
    runs : dict
        Model label -> run directory.
    analyzed : str
        Label of the analysed model (a key of ``runs``).
    elapsed_seconds : float
    explorer : tuple of (resources, script, div) or None
    """

    title: str
    command: str
    config: dict[str, Any]
    data_source: str
    label_counts: dict[str, dict[str, int]]
    comparison: list[dict[str, Any]]
    runs: dict[str, Path]
    analyzed: str
    elapsed_seconds: float = 0.0
    explorer: tuple[str, str, str] | None = None
    notes: list[str] = field(default_factory=list)


def _img(path: Path, caption: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
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
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def build_report(path: Path, info: StudyInfo) -> Path:
    """Write the self-contained report to ``path`` and return it."""
    run = info.runs[info.analyzed]
    analysis = _json(run / "analysis.json")
    figures = run / "figures"
    sections: list[tuple[str, str, str]] = []

    decoding = analysis.get("decoding", {})
    best_acc = max(info.comparison, key=lambda r: float(r["test_acc"])) if info.comparison else {}
    cards = [("best test accuracy", f"{float(best_acc.get('test_acc', 'nan')):.2%}", str(best_acc.get("model", ""))),
             ("labels", str(len(decoding.get("meaning", {}))), "mystery labels decoded"),
             ("encoding layer", html.escape(str(analysis.get("layer", ""))), f"of {info.analyzed}"),
             ("study time", f"{info.elapsed_seconds / 60:.1f} min", "on this machine")]
    summary = '<div class="cards">' + "".join(
        f'<div class="card"><span class="muted">{t}</span><b>{v}</b><span class="muted">{html.escape(s)}</span></div>'
        for t, v, s in cards) + "</div>"
    summary += "".join(f'<div class="meaning">{html.escape(line)}</div>' for line in decoding.get("lines", []))
    sections.append(("summary", "The answer", summary))

    counts = [{"label": lab, **{split: c.get(lab, 0) for split, c in info.label_counts.items()}}
              for lab in sorted({k for c in info.label_counts.values() for k in c}, key=lambda v: int(v))]
    sections.append(("data", "The data and its preprocessing", (
        f"<p>Source: {html.escape(info.data_source)}. Images are 28&times;28 grey values 0&ndash;255, kept as uint8 "
        "until the model boundary, where they become float32 in [0, 1] (divided by 255), one channel, as both seeds "
        "did. The validation set is the last part of the training set (Keras's <code>validation_split</code>).</p>"
        + _table(counts))))

    arch = "".join(f"<h3>{html.escape(label)}</h3><pre>{html.escape((r / 'summary.txt').read_text())}</pre>"
                   for label, r in info.runs.items() if (r / "summary.txt").is_file())
    sections.append(("models", "The models", arch))

    curves = "".join(f"<h3>{html.escape(label)}</h3><div class=grid>{_img(r / 'figures/loss.png', f'{label}: loss')}"
                     f"{_img(r / 'figures/accuracy.png', f'{label}: accuracy')}</div>" for label, r in info.runs.items())
    sections.append(("training", "Training curves", curves))

    runtimes = [{"model": r["model"], "training seconds": r["training_seconds"],
                 "train images/s": r.get("train_images_per_second", ""),
                 "test inference seconds": round(_json(info.runs[r["model"]] / "metrics.json").get(
                     "test_inference_seconds", float("nan")), 3)} for r in info.comparison]
    sections.append(("runtimes", "Runtimes", _table(runtimes)))
    sections.append(("comparison", "Comparison", _table(info.comparison, str(best_acc.get("model")), "model")
                     + _img(info.runs[info.analyzed].parent / "figures" / "comparison.png",
                            "Validation and test accuracy per epoch")))
    sections.append(("confusion", "Confusion matrices", "".join(
        _img(r / "figures/confusion.png", f"{label}: test confusion matrix") for label, r in info.runs.items())))

    layers = analysis.get("layers", [])
    seed_note = ""
    if layers:
        best_row = next(r for r in layers if r["layer"] == analysis["best_layer"])
        default = next((r for r in layers if r["layer"] == analysis.get("default_layer")), None)
        if default and default is not best_row:
            seed_note = (f"<p>The best layer, <b>{best_row['layer']}</b>, reaches K-means NMI "
                         f"{best_row['kmeans_nmi']:.3f} against {default['kmeans_nmi']:.3f} for the last hidden layer "
                         f"({default['layer']}).</p>")
    sections.append(("layers", "Which layer encodes best", (
        f"<p>Each candidate layer of <b>{html.escape(info.analyzed)}</b> encodes the test images; K-means (k = number "
        "of labels) is scored against the labels (ARI, NMI), a 5-NN classifier fitted on training encodings is scored "
        "on the test encodings, and the silhouette of the labels is taken on a seeded sample. Layers wider than 256 are "
        "scored on 64 principal components. The highlighted row is the layer the analysis uses.</p>"
        + seed_note + _table(layers, analysis.get("layer"), "layer"))))

    proj = analysis.get("projections", {})
    clustering = analysis.get("clustering", {})
    ev = proj.get("pca", {}).get("explained_variance") or [float("nan")] * 2
    km, db = clustering.get("kmeans", {}), clustering.get("dbscan", {})
    score_rows = [{"method": n, **{k: v for k, v in c.items() if k not in ("table", "cluster_ids", "label_values", "params")}}
                  for n, c in clustering.items()]
    sections.append(("pca", "PCA", f"<p>The first two components explain {ev[0]:.1%} and {ev[1]:.1%} of the variance."
                     "</p><div class=grid>" + _img(figures / "pca-by-label.png", "PCA, coloured by label")
                     + _img(figures / "pca-by-kmeans.png", "PCA, coloured by K-means cluster")
                     + _img(figures / "pca-by-dbscan.png", "PCA, coloured by DBSCAN cluster") + "</div>"))
    sections.append(("clustering", "K-means and DBSCAN", (
        f"<p>K-means: k = {km.get('params', {}).get('k')}, k-means++, seeded. DBSCAN: eps = "
        f"{db.get('params', {}).get('eps', float('nan')):.4g}"
        f"{' (chosen at the knee of the k-distance curve)' if db.get('params', {}).get('eps_chosen_at_knee') else ''}, "
        f"min_samples = {db.get('params', {}).get('min_samples')}. Cluster colours are matched to labels (Hungarian "
        "method), so one colour means one group across figures.</p>" + _table(score_rows)
        + "".join(_contingency(n, c) for n, c in clustering.items())
        + _img(figures / "dbscan-kdistance.png", "k-distance curve"))))
    sections.append(("tsne", "t-SNE", (
        f"<p>openTSNE, perplexity {proj.get('tsne', {}).get('params', {}).get('perplexity')}, seeded. "
        f"Share of each point's 10 nearest neighbours kept in 2-D: "
        f"{proj.get('tsne', {}).get('neighbourhood_preservation_10') or float('nan'):.3f}.</p><div class=grid>"
        + _img(figures / "tsne-by-label.png", "t-SNE, coloured by label")
        + _img(figures / "tsne-by-kmeans.png", "t-SNE, coloured by K-means cluster")
        + _img(figures / "tsne-by-dbscan.png", "t-SNE, coloured by DBSCAN cluster") + "</div>")))
    if info.explorer:
        sections.append(("explorer", "Explore every test image", (
            "<p>Every test image is a point. Tabs switch the projection and the colouring; hover a point to see the "
            "image; scroll to zoom, drag to pan; click a legend entry to hide that group.</p>" + info.explorer[2])))
    sections.append(("galleries", "Galleries", _img(figures / "gallery-labels.png", "Random images per label")
                     + _img(figures / "gallery-kmeans.png", "Random images per K-means cluster")
                     + _img(figures / "kmeans-means.png", "Mean image per K-means cluster")))
    recovery = decoding.get("recovery", {})
    sections.append(("meaning", "What each label means", (
        "<p>Each image's original Fashion-MNIST class was recovered ("
        + html.escape(", ".join(f"{k}: {v:,}" for k, v in recovery.items()))
        + "); a label is named by the classes most of whose images carry it, with the share of each class that does."
        "</p>" + "".join(f'<div class="meaning">{html.escape(line)}</div>' for line in decoding.get("lines", []))
        + _img(figures / "decoding.png", "Images of each original class (columns) per label (rows)"))))
    issues = analysis.get("label_issues", {})
    sections.append(("issues", "Suspected label issues", (
        f"<p>{issues.get('count', 0):,} test images have a neighbourhood (10 nearest in the encoding) of which at least "
        "70% carries another label; the most disagreeing first, with the given label and the neighbours' majority.</p>"
        + _img(figures / "label-issues.png", "Suspected label issues")
        + _img(figures / "retrieval.png", "Nearest-neighbour retrieval: each row a query and its neighbours")
        + f"<p>5-NN accuracy on this encoding: {analysis.get('knn5_acc', float('nan')):.4f}.</p>")))
    sections.append(("repeat", "How to repeat this study", (
        f"<pre>{html.escape(info.command)}</pre><p>Same seed, same machine: same numbers. The full configuration:</p>"
        f"<pre>{html.escape(json.dumps(info.config, indent=2, default=str))}</pre>"
        + "".join(f"<p class=muted>{html.escape(n)}</p>" for n in info.notes))))

    toc = "".join(f'<li><a href="#{sid}">{html.escape(title)}</a></li>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(title)}</h2>{content}</section>'
                   for sid, title, content in sections)
    head_extra = (info.explorer[0] + info.explorer[1]) if info.explorer else ""
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{html.escape(info.title)}</title>'
            f"<style>{CSS}</style>{head_extra}</head><body><header><div class=wrap><h1>{html.escape(info.title)}</h1>"
            f"<p>What does the mystery label mean? A study by twistfm.</p></div></header><main class=wrap>"
            f'<nav class="toc"><b>Contents</b><ol>{toc}</ol></nav>{body}</main></body></html>')
    write_text(path, page)
    return path


def _contingency(name: str, clustering: dict[str, Any]) -> str:
    table = np.array(clustering.get("table", []))
    if table.size == 0:
        return ""
    rows = [{"cluster": "noise" if c < 0 else c, **{f"label {v}": int(n) for v, n in zip(clustering["label_values"], r,
                                                                                         strict=True)}}
            for c, r in zip(clustering["cluster_ids"], table, strict=True)]
    return f"<h3>{html.escape(name)}: cluster &times; label</h3>" + _table(rows)


