"""Clustering an encoding: K-means and DBSCAN, with DBSCAN's eps chosen at the k-distance knee."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import DBSCAN, KMeans
from sklearn.neighbors import NearestNeighbors

from ..errors import OptionError
from .metrics import cluster_scores, contingency

__all__ = ["ClusterResult", "kmeans", "dbscan", "k_distances", "knee_eps"]


@dataclass
class ClusterResult:
    """One clustering of an encoding, scored against the labels.

    Attributes
    ----------
    method : str
    params : dict
        The parameters used (eps chosen automatically is recorded here).
    labels_ : ndarray of int
        Cluster id of each point; -1 is noise (DBSCAN).
    scores : dict
        See :func:`twistfm.analysis.metrics.cluster_scores`.
    table : ndarray
        Contingency counts, cluster (rows) x label (columns).
    cluster_ids, label_values : ndarray
        Row and column values of ``table``.
    """

    method: str
    params: dict
    labels_: np.ndarray
    scores: dict = field(default_factory=dict)
    table: np.ndarray | None = None
    cluster_ids: np.ndarray | None = None
    label_values: np.ndarray | None = None


def _scored(method: str, params: dict, clusters: np.ndarray, labels: np.ndarray) -> ClusterResult:
    table, cluster_ids, label_values = contingency(clusters, labels)
    return ClusterResult(method, params, clusters, cluster_scores(labels, clusters), table, cluster_ids, label_values)


def kmeans(X: np.ndarray, labels: np.ndarray, k: int | None = None, seed: int = 0) -> ClusterResult:
    """K-means (k-means++ initialisation, seeded); k defaults to the number of labels."""
    k = int(k or len(np.unique(labels)))
    if k < 1 or k > len(X):
        raise OptionError(f"k-means with k={k} needs 1 <= k <= number of points ({len(X)})")
    model = KMeans(n_clusters=k, init="k-means++", n_init=4, random_state=seed).fit(X)
    return _scored("kmeans", {"k": k, "seed": seed}, model.labels_.astype(np.int64), labels)


def k_distances(X: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point."""
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X)
    dist, _ = nn.kneighbors(X)
    return dist[:, -1]


def knee_eps(distances: np.ndarray) -> float:
    """The knee of the sorted k-distance curve: the point farthest from its chord."""
    d = np.sort(distances)
    x = np.linspace(0, 1, len(d))
    y = (d - d[0]) / max(d[-1] - d[0], 1e-12)
    return float(d[int(np.argmax(x - y))])


def dbscan(X: np.ndarray, labels: np.ndarray, eps: float | None = None, min_samples: int = 4) -> ClusterResult:
    """DBSCAN; without ``eps`` it is chosen at the knee of the k-distance curve (k = min_samples)."""
    if min_samples < 1:
        raise OptionError(f"--min-samples must be at least 1, got {min_samples}")
    if eps is not None and eps <= 0:
        raise OptionError(f"--eps must be positive, got {eps}")
    params = {"min_samples": min_samples}
    if eps is None:
        distances = k_distances(X, min_samples)
        eps = knee_eps(distances)
        params["eps_chosen_at_knee"] = True
        params["k_distances"] = distances
    params["eps"] = float(eps)
    clusters = DBSCAN(eps=eps, min_samples=min_samples, n_jobs=-1).fit_predict(X).astype(np.int64)
    return _scored("dbscan", params, clusters, labels)
