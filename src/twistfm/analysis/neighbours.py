"""Using the encoding beyond the seeds: k-NN accuracy, retrieval, and ambiguous images.

An image is *ambiguous* when most of its nearest neighbours in the encoding carry another
label. On data whose labels follow from the image's kind (as Twisted Fashion-MNIST's do)
these are images that look like another label's, not wrong labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from ..schema import Typed

__all__ = ["knn_accuracy", "nearest_neighbours", "Neighbours", "all_neighbours", "AmbiguousImages",
           "ambiguous_images", "KNN_K", "AMBIGUOUS_K", "AMBIGUOUS_SHARE", "RETRIEVAL_K"]

#: Neighbours of the k-NN classifier that scores an encoding.
KNN_K = 5
#: Neighbours looked at, and the share of them that must carry another label, for an image to be ambiguous.
AMBIGUOUS_K = 10
AMBIGUOUS_SHARE = 0.7
#: Neighbours shown for each query in the retrieval figure and kept for the explorer.
RETRIEVAL_K = 8


def knn_accuracy(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, k: int = KNN_K) -> float:
    """Accuracy of a k-NN classifier fitted on the train encoding and scored on the test encoding."""
    model = KNeighborsClassifier(n_neighbors=k, n_jobs=-1).fit(train, y_train)
    return float((model.predict(test) == y_test).mean())


def nearest_neighbours(X: np.ndarray, queries: np.ndarray, k: int = RETRIEVAL_K) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours in ``X`` of each query index (the query itself excluded).

    Returns
    -------
    index : ndarray of int64, shape (len(queries), k)
    distance : ndarray of float32, shape (len(queries), k)
    """
    k = min(k, len(X) - 1)
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X[queries])
    # Drop the query itself (or, when it has exact duplicates, the farthest neighbour), keeping k per row.
    keep = np.argsort(idx == np.asarray(queries)[:, None], axis=1, kind="stable")[:, :k]
    index = np.take_along_axis(idx, keep, axis=1).astype(np.int64)
    distance = np.take_along_axis(dist, keep, axis=1).astype(np.float32)
    return index, distance


@dataclass(frozen=True, kw_only=True)
class Neighbours(Typed):
    """Every point's nearest other points in the encoding, nearest first.

    Attributes
    ----------
    index : ndarray of int64, shape (N, k)
    distance : ndarray of float32, shape (N, k)
    """

    index: np.ndarray
    distance: np.ndarray


def all_neighbours(X: np.ndarray, k: int = AMBIGUOUS_K) -> Neighbours:
    """The k nearest neighbours of every point of ``X``."""
    index, distance = nearest_neighbours(X, np.arange(len(X)), k)
    return Neighbours(index=index, distance=distance)


@dataclass(frozen=True, kw_only=True)
class AmbiguousImages(Typed):
    """Images whose neighbourhood in the encoding mostly carries another label, most disagreeing first.

    Attributes
    ----------
    index : ndarray of int64
        Indices of the analysed points, most ambiguous first.
    disagreement : ndarray of float
        Share of the ``k`` neighbours whose label differs from the image's.
    given : ndarray
        The image's label.
    majority : ndarray
        The neighbours' majority label.
    k : int
    min_share : float
    """

    index: np.ndarray
    disagreement: np.ndarray
    given: np.ndarray
    majority: np.ndarray
    k: int
    min_share: float


def ambiguous_images(neighbours: Neighbours, labels: np.ndarray, k: int = AMBIGUOUS_K,
                     min_share: float = AMBIGUOUS_SHARE) -> AmbiguousImages:
    """Rank images by how much their k nearest neighbours (from :func:`all_neighbours`) disagree with their label."""
    k = min(k, neighbours.index.shape[1])
    neighbour_labels = labels[neighbours.index[:, :k]]
    disagreement = (neighbour_labels != labels[:, None]).mean(axis=1)
    values = np.unique(labels)
    counts = np.stack([(neighbour_labels == v).sum(axis=1) for v in values], axis=1)
    majority = values[counts.argmax(axis=1)]
    order = np.argsort(-disagreement, kind="stable")
    order = order[disagreement[order] >= min_share]
    return AmbiguousImages(index=order.astype(np.int64), disagreement=disagreement[order], given=labels[order],
                           majority=majority[order], k=k, min_share=min_share)
