"""Which layer encodes best: K-means agreement, k-NN accuracy and silhouette, per layer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from torch import nn

from ..encode import candidate_layers, encode
from .cluster import kmeans
from .neighbours import knn_accuracy

__all__ = ["score_layer", "score_layers", "best_layer", "reduce"]

#: Encodings wider than this are reduced to ``PCA_DIMS`` components before scoring.
MAX_DIMS = 256
PCA_DIMS = 64


def reduce(train: np.ndarray, test: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int | None]:
    """PCA to ``PCA_DIMS`` components (fitted on the test encoding) when wider than ``MAX_DIMS``."""
    if test.shape[1] <= MAX_DIMS:
        return train, test, None
    pca = PCA(n_components=PCA_DIMS, random_state=seed).fit(test)
    return pca.transform(train), pca.transform(test), PCA_DIMS


def score_layer(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
                seed: int = 0, silhouette_sample: int = 2000, k_neighbours: int = 5) -> dict[str, float]:
    """Scores of one layer's encoding (test encoding clustered; k-NN fitted on train)."""
    train, test, dims = reduce(train, test, seed)
    km = kmeans(test, y_test, seed=seed)
    n = min(silhouette_sample, len(test))
    sample = np.random.default_rng(seed).choice(len(test), n, replace=False)
    sil = silhouette_score(test[sample], y_test[sample]) if len(np.unique(y_test[sample])) > 1 else float("nan")
    return {
        "dims": int(test.shape[1]) if dims is None else int(dims),
        "kmeans_ari": km.scores["ari"], "kmeans_nmi": km.scores["nmi"],
        f"knn{k_neighbours}_acc": knn_accuracy(train, y_train, test, y_test, k_neighbours),
        "silhouette": float(sil),
    }


def score_layers(model: nn.Module, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                 layers: list[str] | None = None, seed: int = 0, train_sample: int = 10000,
                 log: Callable[[str], None] | None = None) -> list[dict]:
    """Score every candidate layer (by default every layer from the first pooling on).

    k-NN is fitted on a seeded sample of ``train_sample`` training images to bound the cost.
    """
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(x_train), min(train_sample, len(x_train)), replace=False))
    rows = []
    for layer in layers or candidate_layers(model):
        train = encode(model, x_train[pick], layer)
        test = encode(model, x_test, layer)
        row = {"layer": layer, "width": int(test.shape[1]),
               **score_layer(train, y_train[pick], test, y_test, seed=seed)}
        rows.append(row)
        if log:
            log(f"layer {layer:<10} width {row['width']:>6}  NMI {row['kmeans_nmi']:.3f}  ARI {row['kmeans_ari']:.3f}  "
                f"5-NN {row['knn5_acc']:.3f}  silhouette {row['silhouette']:.3f}")
    return rows


def best_layer(rows: list[dict]) -> str:
    """The layer with the highest K-means NMI (ties: higher ARI, then the later layer)."""
    return max(reversed(rows), key=lambda r: (r["kmeans_nmi"], r["kmeans_ari"]))["layer"]
