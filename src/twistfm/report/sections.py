"""The report's sections after the answer, one function each, in the order the report shows them.

Each takes the :class:`~twistfm.report.html.StudyReport` and returns the section's HTML:
the data, the models, training curves, results, confusion matrices, the layer table, PCA,
clustering (a clustering whose ARI is under ``POOR_ARI`` is said to be poor: its verdict is
shown as a note, and it is left out of the scatter plots and contingency tables, and DBSCAN's
k-distance curve with it), t-SNE, the explorer, galleries, the decoded meaning, ambiguous
images, and how to repeat the study.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis import Clustering
from ..analysis.layers import MAX_DIMS, PCA_DIMS
from ..analysis.neighbours import AMBIGUOUS_K, AMBIGUOUS_SHARE, KNN_K
from ..analysis.project import PRESERVATION_K
from . import figures as F
from .answer import facts_of
from .blocks import figure, grid, table
from .tables import contingency_rows

if TYPE_CHECKING:
    from .html import StudyReport

__all__ = ["data", "models", "training", "comparison", "confusion", "layers", "pca", "clustering", "tsne", "explorer",
           "galleries", "meaning", "ambiguous", "repeat"]


def _val_splits(study: StudyReport) -> dict[str, float]:
    """Each model's share of training images held out for validation (its own config; else the study's)."""
    configs = study.config.get("models", {}) if isinstance(study.config, dict) else {}
    return {m.label: float((configs.get(m.label) or {}).get("val_split", study.val_split)) for m in study.models}


def data(study: StudyReport) -> str:
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
            + table(counts))


def _precision(metrics: dict[str, Any]) -> str:
    """Which numeric precision a model trained in and why (runs older than that record say so)."""
    precision = metrics.get("precision")
    if precision is None:
        return '<p class="precision muted">Numeric precision: not recorded by this run (older runs trained in fp32).</p>'
    reason = metrics.get("precision_reason")
    words = {"fp32": "32-bit floating point (fp32)", "bf16": "bfloat16 (bf16) mixed precision"}.get(precision, precision)
    return (f'<p class="precision">Trained in <b>{html.escape(words)}</b>'
            f"{': ' + html.escape(reason) if reason else '.'}</p>")


def models(study: StudyReport) -> str:
    return "".join(f"<h3>{html.escape(m.label)}</h3>{_precision(m.metrics)}<pre>{html.escape(m.summary)}</pre>"
                   for m in study.models)


def training(study: StudyReport) -> str:
    return "".join(f"<h3>{html.escape(m.label)}</h3>" + grid(figure(m.figures.get(F.LOSS), f"{m.label}: loss"),
                                                               figure(m.figures.get(F.ACCURACY), f"{m.label}: accuracy"))
                   for m in study.models)


_COMPARISON_COLUMNS = {"model": "model", "seed": "seed", "test_acc": "test accuracy", "test_loss": "test loss",
                       "parameters": "parameters", "epochs": "epochs", "batch_size": "batch", "optimizer": "optimizer",
                       "train_acc": "training accuracy", "val_acc": "validation accuracy",
                       "training_seconds": "training seconds", "train_images_per_second": "images/s"}


def comparison(study: StudyReport) -> str:
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
                 "first, then every run.</p>" + table(stats))
    return ("<p>Test accuracy is each model's accuracy on the test images after its last epoch. The full table, with "
            "filters and units, is in <code>compare/comparison.csv</code>.</p>" + seeds
            + table(rows, str(best["model"]), "model") + table(inference)
            + figure(study.comparison_figure, "Validation and test accuracy per epoch"))


def confusion(study: StudyReport) -> str:
    """Each model's test confusion matrix, its labels named as the decoding names them (drawn again from its metrics)."""
    facts = facts_of(study.analysis)
    out = []
    for m in study.models:
        confusion = m.metrics.get("confusion")
        if confusion is not None and len(confusion) == len(facts.labels):
            drawn = F.png(F.model_confusion_figure(np.asarray(confusion), [facts.names[v] for v in facts.labels],
                                                   m.label))
        else:
            drawn = m.figures.get(F.CONFUSION)
        out.append(figure(drawn, f"{m.label}: test confusion matrix: counts, then the share of each true label's images"))
    return "".join(out)


def layers(study: StudyReport) -> str:
    analysis = study.analysis
    facts = facts_of(analysis)
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
            + note + table(rows, analysis.layer, "layer"))


def _scatters(study: StudyReport, method: str) -> str:
    figs, analysis = study.analysis_figures, study.analysis
    title = analysis.projections[method].title
    shown = [("label", "label")] + [(n, f"{c.title} cluster") for n, c in analysis.clusterings.items() if not c.poor]
    images = [figure(figs.get(F.scatter_name(method, name)), f"{title}, coloured by {caption}") for name, caption in shown]
    if len(images) % 2:  # an odd count: the labels' figure takes the first row alone, the others go in pairs
        images[0] = images[0].replace("<figure>", '<figure class="wide">', 1)
    return grid(*images)


def pca(study: StudyReport) -> str:
    ev = study.analysis.projections["pca"].explained_variance or [float("nan")] * 2
    return (f"<p>The first two principal components of the test encodings of <b>{html.escape(study.analysis.layer)}</b> "
            f"explain {ev[0]:.1%} and {ev[1]:.1%} of their variance.</p>" + _scatters(study, "pca"))


def clustering(study: StudyReport) -> str:
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
            "one group across figures.</p>" + verdicts + table(rows)
            + "".join(_contingency(c) for c in clusterings.values() if not c.poor)
            + (figure(study.analysis_figures.get(F.KDISTANCE), "The k-distance curve") if not db.poor else ""))


def _contingency(clustering: Clustering) -> str:
    return f"<h3>{html.escape(clustering.title)}: clusters &times; labels</h3>" + table(contingency_rows(clustering))


def tsne(study: StudyReport) -> str:
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


def explorer(study: StudyReport) -> str:
    n = len(study.analysis.labels)
    return (f"<p>Every image ({n:,}) is a point. Choose the projection and the colouring; hover a point to see its image; "
            "drag a box (or, after choosing <i>Lasso select</i>, a lasso) to see the images selected and their counts; "
            "click a point to ring it and its nearest images on the map and list them with their distances; click a "
            "legend or filter entry to hide those images; type in <i>Find</i> to look for an image, a label, a class "
            "or a group. Every count is of the images shown.</p>" + study.explorer.html)


def galleries(study: StudyReport) -> str:
    figs = study.analysis_figures
    return (figure(figs.get(F.GALLERY_LABELS), "Random test images of each label")
            + figure(figs.get(F.GALLERY_KMEANS), "Random test images of each K-means cluster")
            + figure(figs.get(F.KMEANS_MEANS), "Mean image of each K-means cluster"))


def meaning(study: StudyReport) -> str:
    decoding = study.analysis.decoding
    if not any(v for k, v in decoding.recovery.items() if k != "unknown"):
        return (f"<p>The original class of none of the {sum(decoding.recovery.values()):,} images is known (the data "
                "names no classes, and no image matches a Fashion-MNIST image), so no label can be named by classes. "
                'What each label holds is the groups found inside it: see <a href="#inside">What the network sees '
                "inside each label</a>.</p>")
    return ("<p>Each image's original Fashion-MNIST class was recovered (the check; "
            + html.escape(", ".join(f"{k}: {v:,}" for k, v in decoding.recovery.items()))
            + "); a label is named by the classes most of whose images carry it, with the share of each class that "
              "does.</p>" + "".join(f'<div class="answer"><div class="meaning">{html.escape(line)}</div></div>'
                                    for line in decoding.lines())
            + figure(study.analysis_figures.get(F.DECODING), _decoding_caption(study)))


def _decoding_caption(study: StudyReport) -> str:
    first, second = (("Top", "Bottom") if F.confusion_stacked(study.analysis.decoding.table.shape[1])
                     else ("Left", "Right"))
    return (f"{first}: how many images of each original class (column) carry each label (row), shaded by count. "
            f"{second}: the share of each class's images that carry each label.")


def ambiguous(study: StudyReport) -> str:
    analysis = study.analysis
    knn = analysis.layers.row(analysis.layer)
    source = "as in the layer table" if knn is not None else "fitted on training encodings"
    return (f"<p>{len(analysis.ambiguous.index):,} images have a neighbourhood ({AMBIGUOUS_K} nearest in the encoding) "
            f"of which at least {AMBIGUOUS_SHARE:.0%} carries another label. On this data the labels follow from the "
            "kind of image, so these are images that look like another label's, not wrong labels. Under each: its label, "
            "its neighbours' majority label and its original class.</p>"
            + figure(study.analysis_figures.get(F.AMBIGUOUS), "The most ambiguous test images")
            + figure(study.analysis_figures.get(F.RETRIEVAL), "Nearest images in the encoding: each row a query and its "
                                                             "neighbours")
            + f"<p>{KNN_K}-nearest-neighbour accuracy of this encoding ({source}): {analysis.knn_acc:.4f}.</p>")


def repeat(study: StudyReport) -> str:
    return (f"<pre>{html.escape(study.command)}</pre><p>Same seed, same machine: same numbers. The full configuration:</p>"
            f"<pre>{html.escape(json.dumps(study.config, indent=2, default=str))}</pre>"
            + "".join(f"<p class=muted>{html.escape(n)}</p>" for n in study.notes))
