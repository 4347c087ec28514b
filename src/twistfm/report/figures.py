"""Static figures (matplotlib): each function takes plain data and returns a Figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .palette import color_of  # noqa: E402

__all__ = ["curves_figure", "confusion_figure", "comparison_figure", "scatter_figure",
           "image_grid_figure", "mean_images_figure", "kdistance_figure", "save_figure"]

_SPLITS = (("train", "-"), ("val", "--"), ("test", ":"))


def save_figure(fig: Figure, path) -> None:
    """Save a figure as PNG atomically and close it."""
    from ..atomic import atomic_open

    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


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
