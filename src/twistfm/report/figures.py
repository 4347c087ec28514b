"""Static figures (matplotlib): each function takes plain data and returns a Figure."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..analysis import Analysis  # noqa: E402
from ..data import CLASS_NAMES  # noqa: E402
from .palette import color_of  # noqa: E402

__all__ = ["curves_figure", "confusion_figure", "comparison_figure", "scatter_figure", "image_grid_figure",
           "mean_images_figure", "kdistance_figure", "png", "training_figures", "analysis_figures",
           "scatter_name", "TRAINING_FIGURES", "LOSS", "ACCURACY", "CONFUSION", "COMPARISON", "KDISTANCE", "GALLERY_LABELS",
           "GALLERY_KMEANS", "KMEANS_MEANS", "DECODING", "RETRIEVAL", "AMBIGUOUS"]

#: Figure names: a run folder stores figure NAME as ``NAME.png``; the report picks them by these names.
LOSS, ACCURACY, CONFUSION, COMPARISON = "loss", "accuracy", "confusion", "comparison"
TRAINING_FIGURES = (LOSS, ACCURACY, CONFUSION)
KDISTANCE, GALLERY_LABELS, GALLERY_KMEANS, KMEANS_MEANS = "dbscan-kdistance", "gallery-labels", "gallery-kmeans", "kmeans-means"
DECODING, RETRIEVAL, AMBIGUOUS = "decoding", "retrieval", "ambiguous"
#: Queries shown in the retrieval figure.
RETRIEVAL_QUERIES = 6
#: Ambiguous images shown in their figure.
AMBIGUOUS_SHOWN = 30

_SPLITS = (("train", "-"), ("val", "--"), ("test", ":"))


def scatter_name(method: str, colouring: str) -> str:
    """Name of the scatter figure of projection ``method`` coloured by ``colouring``."""
    return f"{method}-by-{colouring}"


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def curves_figure(history: Sequence[dict[str, float]], metric: str, title: str = "") -> Figure:
    """Loss or accuracy per epoch for train, validation and test ("loss" or "acc")."""
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [h["epoch"] for h in history]
    for i, (split, style) in enumerate(_SPLITS):
        values = [h[f"{split}_{metric}"] for h in history]
        if not np.all(np.isnan(values)):
            ax.plot(epochs, values, style, marker="o", ms=3, color=color_of(i), label=split)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy" if metric == "acc" else "cross-entropy loss")
    ax.set_title(title or ("Accuracy" if metric == "acc" else "Loss") + " per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def confusion_figure(confusion: np.ndarray, labels: Sequence[str], title: str = "Test confusion matrix",
                     xlabel: str = "predicted", ylabel: str = "true",
                     xticklabels: Sequence[str] | None = None) -> Figure:
    """Counts (left) and row-normalised shares (right) of a confusion or contingency table.

    ``labels`` name the rows; ``xticklabels`` the columns (default: the same as the rows).
    """
    confusion = np.asarray(confusion)
    shares = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.1 * confusion.shape[1], 1.5 + 0.5 * confusion.shape[0]))
    for ax, data, fmt, name in ((axes[0], confusion, "d", "counts"), (axes[1], shares, ".2f", "row share")):
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for (i, j), v in np.ndenumerate(data):
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=8,
                    color="white" if shares[i, j] > 0.6 else "black")
        ax.set_xticks(range(confusion.shape[1]))
        ax.set_yticks(range(confusion.shape[0]))
        ax.set_yticklabels(list(labels)[: confusion.shape[0]])
        ax.set_xticklabels(list(xticklabels or labels)[: confusion.shape[1]], rotation=45 if xticklabels else 0,
                           ha="right" if xticklabels else "center")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(name)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def comparison_figure(histories: dict[str, Sequence[dict[str, float]]]) -> Figure:
    """Validation (left) and test (right) accuracy per epoch, one line per model."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for i, (name, history) in enumerate(histories.items()):
        epochs = [h["epoch"] for h in history]
        for ax, split in zip(axes, ("val", "test"), strict=True):
            ax.plot(epochs, [h[f"{split}_acc"] for h in history], marker="o", ms=3, color=color_of(i), label=name)
    for ax, split in zip(axes, ("validation", "test"), strict=True):
        ax.set_title(f"{split} accuracy")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[1].legend()
    fig.tight_layout()
    return fig


def scatter_figure(points: np.ndarray, groups: np.ndarray, title: str, names: dict[int, str] | None = None,
                   xlabel: str = "", ylabel: str = "") -> Figure:
    """2-D points coloured by group (negative groups, such as DBSCAN noise, in grey)."""
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    for g in np.unique(groups):
        mask = groups == g
        label = (names or {}).get(int(g), "noise" if g < 0 else str(g))
        ax.scatter(points[mask, 0], points[mask, 1], s=3, alpha=0.6, color=color_of(int(g)),
                   label=f"{label} ({mask.sum()})", rasterized=True, linewidths=0)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(markerscale=4, fontsize=8, loc="best", framealpha=0.8)
    return fig


def image_grid_figure(images: np.ndarray, captions: Sequence[str], title: str, cols: int = 10) -> Figure:
    """A grid of 28x28 grey images, each with a short caption."""
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.05, rows * 1.25 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(caption, fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def mean_images_figure(means: np.ndarray, captions: Sequence[str], title: str) -> Figure:
    """The mean image of each group, side by side."""
    return image_grid_figure(means, captions, title, cols=max(1, len(means)))


def kdistance_figure(distances: np.ndarray, eps: float, k: int) -> Figure:
    """Sorted k-distance curve with the chosen DBSCAN eps marked."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.sort(distances))
    ax.axhline(eps, color=color_of(5), ls="--", label=f"eps = {eps:.3g}")
    ax.set_xlabel("points, sorted")
    ax.set_ylabel(f"distance to {k}-th neighbour")
    ax.set_title("k-distance curve (DBSCAN eps at its knee)")
    ax.legend()
    return fig


def training_figures(history: Sequence[dict[str, float]], confusion: np.ndarray, label_values: Sequence[int],
                     title: str) -> dict[str, Figure]:
    """Loss and accuracy per epoch and the test confusion matrix of one trained model."""
    names = [str(v) for v in label_values]
    return {
        LOSS: curves_figure(history, "loss", f"{title}: loss per epoch"),
        ACCURACY: curves_figure(history, "acc", f"{title}: accuracy per epoch"),
        CONFUSION: confusion_figure(np.asarray(confusion), names, f"{title}: test confusion matrix"),
    }


def analysis_figures(analysis: Analysis, images: np.ndarray) -> dict[str, Figure]:
    """Every static figure of an analysis; ``images`` are the analysed split's uint8 images."""
    figures: dict[str, Figure] = {}
    for projection in analysis.projections.values():
        figures.update(_scatter_set(analysis, projection))
    dbscan = analysis.clusterings.get("dbscan")
    if dbscan is not None and dbscan.k_distances is not None:
        figures[KDISTANCE] = kdistance_figure(dbscan.k_distances, dbscan.params["eps"], dbscan.params["min_samples"])
    rng = np.random.default_rng(analysis.config.seed)
    n = analysis.config.gallery_size
    km = analysis.clusterings["kmeans"].labels_
    figures[GALLERY_LABELS] = _groups_gallery(images, analysis.labels, km, "k", "L", n, rng,
                                              "Random test images per label (caption: label, K-means cluster)")
    figures[GALLERY_KMEANS] = _groups_gallery(images, km, analysis.labels, "L", "k", n, rng,
                                              "Random test images per K-means cluster (caption: cluster, label)")
    clusters = np.unique(km)
    figures[KMEANS_MEANS] = mean_images_figure(np.stack([images[km == c].mean(axis=0) for c in clusters]),
                                               [f"cluster {c}" for c in clusters], "Mean image per K-means cluster")
    figures[DECODING] = confusion_figure(analysis.decoding.table, [f"label {v}" for v in analysis.decoding.label_values],
                                         "Original classes behind each label (rows: label)", "original class",
                                         "mystery label", xticklabels=list(CLASS_NAMES))
    figures[RETRIEVAL] = _retrieval_figure(analysis, images, rng)
    top = analysis.ambiguous.index[:AMBIGUOUS_SHOWN]
    if len(top):
        captions = [f"given {g} / nbrs {m}" for g, m in zip(analysis.ambiguous.given[:AMBIGUOUS_SHOWN],
                                                              analysis.ambiguous.majority[:AMBIGUOUS_SHOWN], strict=True)]
        figures[AMBIGUOUS] = image_grid_figure(images[top], captions,
                                               "Ambiguous images (most disagreeing neighbourhoods first)")
    return figures


def _scatter_set(analysis: Analysis, projection) -> dict[str, Figure]:
    y = analysis.labels
    index_of = {v: i for i, v in enumerate(analysis.label_values)}
    title = projection.title
    if projection.explained_variance:
        ev = projection.explained_variance
        title += f" (explained variance {ev[0]:.1%} + {ev[1]:.1%})"
    figures = {scatter_name(projection.method, "label"): scatter_figure(
        projection.points, np.array([index_of[int(v)] for v in y]), f"{title}, coloured by label",
        {i: f"label {v}" for v, i in index_of.items()}, *projection.axes)}
    for name, result in analysis.clusterings.items():
        mapping = {int(c): i for c, i in result.matched.items()}
        colours = np.array([mapping[int(c)] for c in result.labels_])
        cluster_names = {mapping[c]: f"cluster {c}" for c in mapping if c >= 0}
        figures[scatter_name(projection.method, name)] = scatter_figure(
            projection.points, colours, f"{title}, coloured by {name} cluster", cluster_names, *projection.axes)
    return figures


def _groups_gallery(x, groups, other, other_name, group_name, n, rng, title) -> Figure:
    images, captions = [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        pick = np.sort(rng.choice(idx, min(n, len(idx)), replace=False))
        pick = np.concatenate([pick, np.full(n - len(pick), -1)])
        for i in pick:
            images.append(x[i] if i >= 0 else np.zeros((28, 28), np.uint8))
            captions.append(f"{group_name}{g} {other_name}{other[i]}" if i >= 0 else "")
    return image_grid_figure(np.stack(images), captions, title, cols=n)


def _retrieval_figure(analysis: Analysis, images: np.ndarray, rng: np.random.Generator) -> Figure:
    y = analysis.labels
    queries = np.sort(rng.choice(len(y), min(RETRIEVAL_QUERIES, len(y)), replace=False))
    neighbours = analysis.neighbours.index[queries]
    shown = np.concatenate([[q, *nb] for q, nb in zip(queries, neighbours, strict=True)])
    captions = [c for q, nb in zip(queries, neighbours, strict=True) for c in [f"query L{y[q]}", *[f"L{y[j]}" for j in nb]]]
    return image_grid_figure(images[shown], captions, "Nearest neighbours in the encoding (first column: query)",
                             cols=neighbours.shape[1] + 1)
