"""Using the encoding beyond the seeds: k-NN accuracy, retrieval, and suspected label issues."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from ..errors import OptionError

__all__ = ["knn_accuracy", "nearest_neighbours", "LabelIssues", "label_issues"]


def knn_accuracy(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, k: int = 5) -> float:
    """Accuracy of a k-NN classifier fitted on the train encoding and scored on the test encoding."""
    if k > len(train):
        raise OptionError(f"k-NN with k={k} needs at least {k} training points, got {len(train)}")
    model = KNeighborsClassifier(n_neighbors=k, n_jobs=-1).fit(train, y_train)
    return float((model.predict(test) == y_test).mean())


def nearest_neighbours(X: np.ndarray, queries: np.ndarray, k: int = 8) -> np.ndarray:
    """Indices into ``X`` of the k nearest neighbours of each query index (the query itself excluded)."""
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X)
    idx = nn.kneighbors(X[queries], return_distance=False)
    return np.array([[j for j in row if j != q][:k] for row, q in zip(idx, queries, strict=True)])


@dataclass
class LabelIssues:
    """Images whose neighbourhood in the encoding disagrees with their label, worst first.

    Attributes
    ----------
    index : ndarray of int
        Image indices, most suspicious first.
    disagreement : ndarray of float
        Share of the k neighbours whose label differs from the image's label.
    given : ndarray
        The image's label.
    majority : ndarray
        The neighbours' majority label.
    """

    index: np.ndarray
    disagreement: np.ndarray
    given: np.ndarray
    majority: np.ndarray


def label_issues(X: np.ndarray, labels: np.ndarray, k: int = 10, min_disagreement: float = 0.7) -> LabelIssues:
    """Rank images by how much their k nearest neighbours disagree with their label."""
    idx = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    neighbour_labels = labels[idx]
    disagreement = (neighbour_labels != labels[:, None]).mean(axis=1)
    values = np.unique(labels)
    counts = np.stack([(neighbour_labels == v).sum(axis=1) for v in values], axis=1)
    majority = values[counts.argmax(axis=1)]
    order = np.argsort(-disagreement, kind="stable")
    order = order[disagreement[order] >= min_disagreement]
    return LabelIssues(order, disagreement[order], labels[order], majority[order])
