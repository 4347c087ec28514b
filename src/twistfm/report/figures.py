"""Static figures (matplotlib): each function takes plain data (or an Analysis) and returns a Figure.

Every figure has a title, axis labels where it has axes, and a legend where it has groups;
no text is smaller than ``MIN_FONT`` points. Figures are saved at ``DPI`` and the report
shows them at no more than their own width, so text stays at least 10 pixels high as long
as a figure is not shrunk below ``MIN_SCALE`` of its width (the report's layout keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..analysis import Analysis, Projection
from ..analysis.discover import Discovery
from ..analysis.neighbours import RETRIEVAL_K
from ..data import CLASS_NAMES
from .discovery_figures import CRITERION, CRITERION_ALL, GROUPS, criterion_figure, discovery_figures, groups_figure
from .images import blank_like, display, show
from .palette import NOISE_COLOR, color_of
from .style import DPI, MIN_FONT, MIN_SCALE, STYLE, png, styled, subplots
from .tables import label_names, label_titles

__all__ = [
    "curves_figure", "confusion_figure", "comparison_figure", "scatter_figure", "image_grid_figure",
    "mean_images_figure", "kdistance_figure", "criterion_figure", "groups_figure", "png", "training_figures",
    "analysis_figures", "discovery_figures", "scatter_name", "confusion_stacked", "model_confusion_figure", "STYLE",
    "DPI", "MIN_FONT", "MIN_SCALE", "TRAINING_FIGURES", "LOSS", "ACCURACY",
    "CONFUSION", "COMPARISON", "KDISTANCE", "GALLERY_LABELS", "GALLERY_KMEANS", "KMEANS_MEANS", "DECODING",
    "RETRIEVAL", "AMBIGUOUS", "GROUPS", "CRITERION", "CRITERION_ALL",
]

#: Figure names: a run folder stores figure NAME as ``NAME.png``; the report picks them by these names
#: (the discovery figures' names, ``GROUPS``, ``CRITERION`` and ``CRITERION_ALL``, come from :mod:`.discovery_figures`).
LOSS, ACCURACY, CONFUSION, COMPARISON = "loss", "accuracy", "confusion", "comparison"
TRAINING_FIGURES = (LOSS, ACCURACY, CONFUSION)
KDISTANCE, GALLERY_LABELS, GALLERY_KMEANS, KMEANS_MEANS = "dbscan-kdistance", "gallery-labels", "gallery-kmeans", "kmeans-means"
DECODING, RETRIEVAL, AMBIGUOUS = "decoding", "retrieval", "ambiguous"
#: Queries shown in the retrieval figure.
RETRIEVAL_QUERIES = 6
#: Ambiguous images shown in their figure.
AMBIGUOUS_SHOWN = 24
_SPLITS = (("train", "-"), ("val", "--"), ("test", ":"))
_SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


def scatter_name(method: str, colouring: str) -> str:
    """Name of the scatter figure of projection ``method`` coloured by ``colouring``."""
    return f"{method}-by-{colouring}"


@styled
def curves_figure(history: Sequence[dict[str, float]], metric: str, title: str = "") -> Figure:
    """Loss or accuracy per epoch for training, validation and test ("loss" or "acc")."""
    fig, ax = subplots(figsize=(6, 4))
    epochs = [h["epoch"] for h in history]
    for i, (split, style) in enumerate(_SPLITS):
        values = [h[f"{split}_{metric}"] for h in history]
        if not np.all(np.isnan(values)):
            ax.plot(epochs, values, style, marker="o", ms=4, color=color_of(i), label=_SPLIT_NAMES[split])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy" if metric == "acc" else "cross-entropy loss")
    ax.set_title(title or ("Accuracy" if metric == "acc" else "Loss") + " per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def confusion_stacked(n_columns: int) -> bool:
    """Whether :func:`confusion_figure` puts its two panels one above the other (wide tables) or side by side."""
    return n_columns > 6


@styled
def confusion_figure(confusion: np.ndarray, labels: Sequence[str], title: str = "Test confusion matrix",
                     xlabel: str = "predicted", ylabel: str = "true", xticklabels: Sequence[str] | None = None,
                     share_of: str = "row") -> Figure:
    """Counts (shaded by count) and shares (of each row or each column) of a table, in two panels.

    ``labels`` name the rows; ``xticklabels`` the columns (default: the same as the rows).
    The panels sit side by side, or one above the other when :func:`confusion_stacked`.
    """
    confusion = np.asarray(confusion)
    axis = 1 if share_of == "row" else 0
    shares = confusion / np.maximum(confusion.sum(axis, keepdims=True), 1)
    columns = list(xticklabels or labels)[: confusion.shape[1]]
    long = max((len(c) for c in columns), default=0) > 9
    width, height = 2.2 + 0.62 * confusion.shape[1] + 0.06 * max(len(r) for r in labels), 1.4 + 0.5 * confusion.shape[0]
    height += 0.07 * max((len(c) for c in columns), default=0) if long else 0
    stacked = confusion_stacked(confusion.shape[1])
    fig, axes = subplots(2 if stacked else 1, 1 if stacked else 2,
                          figsize=(width, 2 * height + 0.6) if stacked else (2 * width, height))
    panels = ((axes[0], confusion, confusion / max(confusion.max(), 1), "{:,}", "images"),
              (axes[1], shares, shares, "{:.2f}", f"share of each {share_of}"))
    for ax, data, shade, fmt, name in panels:
        ax.imshow(shade, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for (i, j), v in np.ndenumerate(data):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=MIN_FONT,
                    color="white" if shade[i, j] > 0.6 else "black")
        ax.set_xticks(range(confusion.shape[1]))
        ax.set_yticks(range(confusion.shape[0]))
        ax.set_yticklabels(list(labels)[: confusion.shape[0]])
        ax.set_xticklabels(columns, rotation=35 if long else 0, ha="right" if long else "center")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(name)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def comparison_figure(histories: dict[str, Sequence[dict[str, float]]]) -> Figure:
    """Validation (left) and test (right) accuracy per epoch, one line per model."""
    fig, axes = subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for i, (name, history) in enumerate(histories.items()):
        epochs = [h["epoch"] for h in history]
        for ax, split in zip(axes, ("val", "test"), strict=True):
            ax.plot(epochs, [h[f"{split}_acc"] for h in history], marker="o", ms=4, color=color_of(i), label=name)
    for ax, split in zip(axes, ("validation", "test"), strict=True):
        ax.set_title(f"{split} accuracy per epoch")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[1].legend()
    fig.tight_layout()
    return fig


@styled
def scatter_figure(points: np.ndarray, groups: np.ndarray, title: str, names: dict[int, str] | None = None,
                   xlabel: str = "", ylabel: str = "", colours: dict[int, str] | None = None) -> Figure:
    """2-D points coloured by group (negative groups, such as DBSCAN noise, in grey); the legend sorted."""
    fig, ax = subplots(figsize=(6.4, 5.2))
    for g in sorted(np.unique(groups), key=lambda g: (g < 0, g)):
        mask = groups == g
        label = (names or {}).get(int(g), "noise" if g < 0 else str(g))
        colour = NOISE_COLOR if g < 0 else (colours or {}).get(int(g), color_of(int(g)))
        ax.scatter(points[mask, 0], points[mask, 1], s=3, alpha=0.6, color=colour,
                   label=f"{label} ({mask.sum():,})", rasterized=True, linewidths=0)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(markerscale=4, loc="best", framealpha=0.85)
    return fig


@styled
def image_grid_figure(images: np.ndarray, captions: Sequence[str], title: str, cols: int = 10,
                      row_names: Sequence[str] | None = None) -> Figure:
    """A grid of images (grey or colour, any size), each with a short caption (and, optionally, a name per row).

    The images are laid out as one picture with the captions written over it (one axis, not
    one per image), so a grid of a hundred images is drawn in a fraction of a second.
    """
    images = np.asarray(images)
    rows = max(1, int(np.ceil(len(images) / cols)))
    height, width = images.shape[1:3]
    gap, caption = max(2, width // 6), max(6, int(round(height * 0.4)))  # pixels between tiles, above each for its caption
    cell_w, cell_h = width + gap, height + caption
    canvas = np.full((rows * cell_h, cols * cell_w - gap, *images.shape[3:]), 255, np.uint8)
    for k, image in enumerate(images):
        top, left = (k // cols) * cell_h + caption, (k % cols) * cell_w
        canvas[top:top + height, left:left + width] = display(image)
    lead = 1.6 if row_names is not None else 0.0
    fig_h = cols * 0.95 * canvas.shape[0] / canvas.shape[1] + 0.45  # the picture's own proportions, and the title
    fig, ax = subplots(figsize=((cols + lead) * 0.95, fig_h))
    fig.subplots_adjust(left=lead / (cols + lead), right=1.0, bottom=0.0, top=1 - 0.45 / fig_h)
    show(ax, canvas, interpolation="nearest")
    ax.axis("off")
    for k, text in enumerate(captions[:len(images)]):
        ax.text((k % cols) * cell_w + width / 2, (k // cols) * cell_h + caption - 1, text, ha="center", va="bottom",
                fontsize=MIN_FONT)
    for r, name in enumerate(row_names or []):
        ax.text(-gap, r * cell_h + caption + height / 2, name, ha="right", va="center", fontsize=11)
    fig.suptitle(title)
    return fig


@styled
def mean_images_figure(means: np.ndarray, captions: Sequence[str], title: str) -> Figure:
    """The mean image of each group, side by side."""
    return image_grid_figure(means, captions, title, cols=max(1, min(10, len(means))))


@styled
def kdistance_figure(distances: np.ndarray, eps: float, k: int) -> Figure:
    """Sorted k-distance curve with the chosen DBSCAN eps marked."""
    fig, ax = subplots(figsize=(6, 4))
    ax.plot(np.sort(distances), color=color_of(0), label=f"distance to the {k}th neighbour")
    ax.axhline(eps, color=color_of(5), ls="--", label=f"eps = {eps:.3g}")
    ax.set_xlabel("points, sorted by that distance")
    ax.set_ylabel(f"distance to {k}th neighbour")
    ax.set_title("k-distance curve and DBSCAN's eps")
    ax.legend()
    return fig


@styled
def training_figures(history: Sequence[dict[str, float]], confusion: np.ndarray, label_values: Sequence[int],
                     title: str, label_names: Sequence[str] | None = None) -> dict[str, Figure]:
    """Loss and accuracy per epoch and the test confusion matrix of one trained model (its labels named by
    ``label_names`` where the data named them)."""
    names = [f"label {v}" + (f" ({label_names[i]})" if label_names else "") for i, v in enumerate(label_values)]
    return {
        LOSS: curves_figure(history, "loss", f"{title}: loss per epoch"),
        ACCURACY: curves_figure(history, "acc", f"{title}: accuracy per epoch"),
        CONFUSION: model_confusion_figure(confusion, names, title),
    }


@styled
def model_confusion_figure(confusion: np.ndarray, names: Sequence[str], title: str) -> Figure:
    """A model's test confusion matrix, its labels named by ``names`` (e.g. with the classes decoded)."""
    return confusion_figure(np.asarray(confusion), names, f"{title}: test confusion matrix", "predicted label",
                            "true label")


@styled
def analysis_figures(analysis: Analysis, images: np.ndarray, discovery: Discovery | None = None) -> dict[str, Figure]:
    """Every static figure of an analysis, drawn from its test points (as the seeds drew theirs).

    ``images`` are the analysed points' uint8 images, in the same order (a test image's
    nearest neighbours may be training images).
    """
    test = analysis.test
    test_images, labels = images[test], analysis.labels[test]
    figures: dict[str, Figure] = {}
    for projection in analysis.projections.values():
        figures.update(_scatter_set(analysis, projection))
    dbscan = analysis.clusterings.get("dbscan")
    if dbscan is not None and dbscan.k_distances is not None:
        figures[KDISTANCE] = kdistance_figure(dbscan.k_distances, dbscan.params["eps"], dbscan.params["min_samples"])
    rng = np.random.default_rng(analysis.config.seed)
    n = analysis.config.gallery_size
    kmeans = analysis.clusterings["kmeans"]
    names = kmeans.names(analysis.label_values)  # clusters numbered as the labels they are matched to
    km = np.array([int(names[int(c)].split()[-1]) for c in kmeans.labels_[test]])
    titles = label_titles(analysis.decoding, analysis.label_values)
    tags = label_titles(analysis.decoding, analysis.label_values, short=True)
    figures[GALLERY_LABELS] = _gallery(test_images, labels, km, lambda v: titles[int(v)], lambda c: f"cluster {c}", n,
                                       rng, "Random test images of each label (under each: its K-means cluster)")
    figures[GALLERY_KMEANS] = _gallery(test_images, km, labels, lambda c: f"cluster {c}",
                                       lambda v: tags.get(int(v), f"label {v}"), n, rng,
                                       "Random test images of each K-means cluster (under each: its label)")
    clusters = np.unique(km)
    figures[KMEANS_MEANS] = mean_images_figure(np.stack([test_images[km == c].mean(axis=0) for c in clusters]),
                                               [f"cluster {c}" for c in clusters], "Mean image of each K-means cluster")
    named = label_names(analysis.decoding, analysis.decoding.label_values)
    figures[DECODING] = confusion_figure(
        analysis.decoding.table, [named[v] for v in analysis.decoding.label_values],
        "Images of each original class (columns) carrying each label (rows)", "original class", "mystery label",
        xticklabels=list(CLASS_NAMES), share_of="column")
    figures[RETRIEVAL] = _retrieval_figure(analysis, images, rng)
    amb = analysis.ambiguous
    shown = np.flatnonzero(amb.index >= analysis.n_train)[:AMBIGUOUS_SHOWN]  # the most ambiguous test images
    if len(shown):
        figures[AMBIGUOUS] = image_grid_figure(
            images[amb.index[shown]], [_ambiguous_caption(analysis, k) for k in shown],
            "Ambiguous test images: their label, then their neighbours' majority label", cols=8)
    if discovery is not None:
        figures.update(discovery_figures(discovery, images[test] if discovery.split == "test" else images, titles))
    return figures


def _ambiguous_caption(analysis: Analysis, k: int) -> str:
    amb = analysis.ambiguous
    cls = analysis.classes[amb.index[k]]
    name = f"\n{CLASS_NAMES[cls]}" if cls >= 0 else ""
    return f"{amb.given[k]} / {amb.majority[k]}{name}"


def _scatter_set(analysis: Analysis, projection: Projection) -> dict[str, Figure]:
    test = analysis.test
    y = analysis.labels[test]
    points = projection.points[test]
    index_of = {v: i for i, v in enumerate(analysis.label_values)}
    named = label_names(analysis.decoding, analysis.label_values)
    title = projection.title
    if projection.explained_variance:
        ev = projection.explained_variance
        title += f" ({ev[0]:.1%} + {ev[1]:.1%} of the variance)"
    figures = {scatter_name(projection.method, "label"): scatter_figure(
        points, np.array([index_of[int(v)] for v in y]), f"{title}: test images by label",
        {i: named[v] for v, i in index_of.items()}, *projection.axes)}
    for name, result in analysis.clusterings.items():
        mapping = {int(c): i for c, i in result.matched.items()}
        colours = np.array([mapping[int(c)] for c in result.labels_[test]])
        names = result.names(analysis.label_values)
        cluster_names = {mapping[c]: names[c] for c in mapping if c >= 0}
        figures[scatter_name(projection.method, name)] = scatter_figure(
            points, colours, f"{title}: by {result.title} cluster", cluster_names, *projection.axes)
    return figures


def _gallery(x: np.ndarray, groups: np.ndarray, other: np.ndarray, row_name: Callable[[int], str],
             caption: Callable[[int], str], n: int, rng: np.random.Generator, title: str) -> Figure:
    """``n`` random images of each group in a row named ``row_name(group)``, each captioned ``caption(its other)``."""
    images, captions, names = [], [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        pick = np.sort(rng.choice(idx, min(n, len(idx)), replace=False))
        names.append(row_name(g))
        for i in np.concatenate([pick, np.full(n - len(pick), -1)]).astype(int):
            images.append(x[i] if i >= 0 else blank_like(x))
            captions.append(caption(other[i]) if i >= 0 else "")
    return image_grid_figure(np.stack(images), captions, title, cols=n, row_names=names)


def _retrieval_figure(analysis: Analysis, images: np.ndarray, rng: np.random.Generator) -> Figure:
    y = analysis.labels
    test = np.arange(analysis.n_train, len(y))
    queries = np.sort(rng.choice(test, min(RETRIEVAL_QUERIES, len(test)), replace=False))
    neighbours = analysis.neighbours.index[queries, :RETRIEVAL_K]
    shown = np.concatenate([[q, *nb] for q, nb in zip(queries, neighbours, strict=True)])
    captions = [c for q, nb in zip(queries, neighbours, strict=True)
                for c in [f"query: {y[q]}", *[f"label {y[j]}" for j in nb]]]
    return image_grid_figure(images[shown], captions, "Nearest images in the encoding (first column: the query)",
                             cols=neighbours.shape[1] + 1)
