"""Clustering an encoding: K-means and DBSCAN, with DBSCAN's eps chosen at the k-distance knee.

Each function takes the encoding and the labels and returns a :class:`Clustering` scored
against the labels. Options are checked once, by :class:`twistfm.analysis.AnalysisConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import DBSCAN, KMeans
from sklearn.neighbors import NearestNeighbors

from ..schema import Typed
from .metrics import cluster_scores, contingency, match_to_labels

__all__ = ["Clustering", "kmeans", "dbscan", "k_distances", "knee_eps"]


@dataclass(frozen=True, kw_only=True)
class Clustering(Typed):
    """One clustering of an encoding, scored against the labels.

    Attributes
    ----------
    method : str
        ``"kmeans"`` or ``"dbscan"``.
    params : dict
        The parameters used (an eps chosen automatically is recorded here).
    labels_ : ndarray of int64
        Cluster id of each point; -1 is noise (DBSCAN).
    scores : dict
        See :func:`twistfm.analysis.metrics.cluster_scores`.
    table : ndarray of int64, shape (clusters, labels)
        Contingency counts, cluster (rows) x label (columns).
    cluster_ids, label_values : ndarray
        Row and column values of ``table``.
    matched : dict
        Cluster id (as a string) -> the label index it is matched to (Hungarian method);
        clusters left over get indices past the last label; noise maps to -1.
    k_distances : ndarray or None
        DBSCAN with a chosen eps: each point's distance to its ``min_samples``-th neighbour.
    """

    method: str
    params: dict[str, Any]
    labels_: np.ndarray
    scores: dict[str, float]
    table: np.ndarray
    cluster_ids: np.ndarray
    label_values: np.ndarray
    matched: dict[str, int]
    k_distances: np.ndarray | None = None

    @property
    def title(self) -> str:
        """The method's name as people write it."""
        return {"kmeans": "K-means", "dbscan": "DBSCAN", "hdbscan": "HDBSCAN"}.get(self.method, self.method)


def _scored(method: str, params: dict[str, Any], clusters: np.ndarray, labels: np.ndarray,
            k_distances: np.ndarray | None = None) -> Clustering:
    table, cluster_ids, label_values = contingency(clusters, labels)
    matched = {str(c): i for c, i in match_to_labels(clusters, labels).items()}
    return Clustering(method=method, params=params, labels_=clusters, scores=cluster_scores(labels, clusters),
                      table=table, cluster_ids=cluster_ids, label_values=label_values, matched=matched,
                      k_distances=k_distances)


def kmeans(X: np.ndarray, labels: np.ndarray, k: int | None = None, seed: int = 0) -> Clustering:
    """K-means (k-means++ initialisation, seeded); ``k`` defaults to the number of labels."""
    k = int(k or len(np.unique(labels)))
    model = KMeans(n_clusters=k, init="k-means++", n_init=4, random_state=seed).fit(X)
    return _scored("kmeans", {"k": k, "seed": seed}, model.labels_.astype(np.int64), labels)


def k_distances(X: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point."""
    nn = NearestNeighbors(n_neighbors=min(k + 1, len(X))).fit(X)
    dist, _ = nn.kneighbors(X)
    return dist[:, -1]


def knee_eps(distances: np.ndarray) -> float:
    """The knee of the sorted k-distance curve: the point farthest from its chord."""
    d = np.sort(distances)
    x = np.linspace(0, 1, len(d))
    y = (d - d[0]) / max(d[-1] - d[0], 1e-12)
    return float(d[int(np.argmax(x - y))])


def dbscan(X: np.ndarray, labels: np.ndarray, eps: float | None = None, min_samples: int = 4) -> Clustering:
    """DBSCAN; without ``eps`` it is chosen at the knee of the k-distance curve (k = min_samples)."""
    params: dict[str, Any] = {"min_samples": min_samples, "eps_chosen_at_knee": eps is None}
    distances = None
    if eps is None:
        distances = k_distances(X, min_samples)
        eps = max(knee_eps(distances), 1e-9)
    params["eps"] = float(eps)
    clusters = DBSCAN(eps=eps, min_samples=min_samples, n_jobs=-1).fit_predict(X).astype(np.int64)
    return _scored("dbscan", params, clusters, labels, distances)
