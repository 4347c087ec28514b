"""Which layer encodes best: K-means agreement, k-NN accuracy and silhouette, per layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import silhouette_score
from torch import nn

from ..encode import candidate_layers, encode_layers
from ..schema import Typed
from .cluster import kmeans
from .neighbours import KNN_K, knn_accuracy
from .project import reduce_pca

__all__ = ["LayerScore", "LayerScores", "best_layer", "score_layer", "score_layers", "reduce", "MAX_DIMS", "PCA_DIMS",
           "SILHOUETTE_SAMPLE"]

#: Encodings wider than this are reduced to ``PCA_DIMS`` principal components before scoring.
MAX_DIMS = 256
PCA_DIMS = 64
#: Points on which the silhouette is computed (a seeded sample, to bound its quadratic cost).
SILHOUETTE_SAMPLE = 2000


@dataclass(frozen=True, kw_only=True)
class LayerScore:
    """How well one layer's encoding separates the labels.

    Attributes
    ----------
    layer : str
    width : int
        Features per image at this layer.
    dims : int
        Dimensions scored (``PCA_DIMS`` when the layer is wider than ``MAX_DIMS``).
    kmeans_ari, kmeans_nmi : float
        Agreement of K-means (k = number of labels) with the labels.
    knn_acc : float
        Accuracy of a ``KNN_K``-nearest-neighbour classifier fitted on training encodings.
    silhouette : float
        Silhouette of the labels on a seeded sample of ``SILHOUETTE_SAMPLE`` points.
    """

    layer: str
    width: int
    dims: int
    kmeans_ari: float
    kmeans_nmi: float
    knn_acc: float
    silhouette: float | None


@dataclass(frozen=True, kw_only=True)
class LayerScores(Typed):
    """Every candidate layer's scores and the best layer (highest K-means NMI)."""

    rows: list[LayerScore]
    best: str

    def row(self, layer: str) -> LayerScore | None:
        """The scores of ``layer``, or None when it was not scored."""
        return next((r for r in self.rows if r.layer == layer), None)


def reduce(train: np.ndarray, test: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """PCA to ``PCA_DIMS`` components (fitted on the test encoding) when wider than ``MAX_DIMS``.

    Returns the two encodings and the number of dimensions they now have.
    """
    if test.shape[1] <= MAX_DIMS:
        return train, test, int(test.shape[1])
    reduced, model = reduce_pca(test, min(PCA_DIMS, len(test)), seed, fit_on=np.ones(len(test), bool))
    return model.transform(train), reduced, int(model.n_components_)


def score_layer(layer: str, train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
                seed: int = 0) -> LayerScore:
    """Scores of one layer's encoding (the test encoding is clustered; k-NN is fitted on train)."""
    width = int(test.shape[1])
    train, test, dims = reduce(train, test, seed)
    km = kmeans(test, y_test, seed=seed)
    sample = np.random.default_rng(seed).choice(len(test), min(SILHOUETTE_SAMPLE, len(test)), replace=False)
    sil = (float(silhouette_score(test[sample], y_test[sample]))
           if 1 < len(np.unique(y_test[sample])) < len(sample) else None)
    return LayerScore(layer=layer, width=width, dims=dims, kmeans_ari=km.scores["ari"], kmeans_nmi=km.scores["nmi"],
                      knn_acc=knn_accuracy(train, y_train, test, y_test, min(KNN_K, len(train))), silhouette=sil)


def score_layers(model: nn.Module, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                 *, layers: list[str] | None = None, seed: int = 0, train_sample: int = 10000,
                 log: Callable[[str], None] | None = None) -> LayerScores:
    """Score every candidate layer (by default every layer from the first pooling on).

    The best layer has the highest K-means NMI (ties: higher ARI, then the later layer).
    k-NN is fitted on a seeded sample of ``train_sample`` training images to bound the cost.
    """
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(x_train), min(train_sample, len(x_train)), replace=False))
    rows = []
    layers = layers or candidate_layers(model)
    for (layer, train), (_, test) in zip(encode_layers(model, x_train[pick], layers),
                                         encode_layers(model, x_test, layers), strict=True):
        row = score_layer(layer, train, y_train[pick], test, y_test, seed=seed)
        rows.append(row)
        if log:
            sil = "-" if row.silhouette is None else f"{row.silhouette:.3f}"
            log(f"layer {layer:<10} width {row.width:>6}  NMI {row.kmeans_nmi:.3f}  ARI {row.kmeans_ari:.3f}  "
                f"{KNN_K}-NN {row.knn_acc:.3f}  silhouette {sil}")
    return LayerScores(rows=rows, best=best_layer(rows))


def best_layer(rows: list[LayerScore]) -> str:
    """The layer with the highest K-means NMI (ties: higher ARI, then the later layer)."""
    return max(reversed(rows), key=lambda r: (r.kmeans_nmi, r.kmeans_ari)).layer
