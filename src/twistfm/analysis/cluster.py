"""Clustering an encoding: K-means and DBSCAN, with DBSCAN's eps chosen at the k-distance knee.

Each function takes the encoding and the labels and returns a :class:`Clustering` scored
against the labels. Options are checked once, by :class:`twistfm.analysis.AnalysisConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans
from sklearn.neighbors import NearestNeighbors

from ..schema import Typed
from .metrics import cluster_scores, contingency, match_to_labels

__all__ = ["Clustering", "kmeans", "dbscan", "hdbscan", "k_distances", "knee_eps", "HDBSCAN_SHARE", "POOR_ARI"]

#: Below this adjusted Rand index against the labels, a clustering is said to describe them poorly.

POOR_ARI = 0.3
#: HDBSCAN's smallest cluster, as a share of the points.
HDBSCAN_SHARE = 0.01


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

    def names(self, label_values: list[int]) -> dict[int, str]:
        """Each cluster's name, numbered as the label it is matched to ("cluster 3" is matched to label 3);
        clusters left over are numbered after the largest label; noise is "noise"."""
        names = {}
        for cluster, index in self.matched.items():
            if index < 0:
                names[int(cluster)] = "noise"
            elif index < len(label_values):
                names[int(cluster)] = f"cluster {label_values[index]}"
            else:
                names[int(cluster)] = f"cluster {max(label_values) + 1 + index - len(label_values)}"
        return names

    @property
    def poor(self) -> bool:
        """Whether the clustering describes the labels poorly (ARI below ``POOR_ARI``)."""
        return self.scores["ari"] < POOR_ARI

    def verdict(self) -> str:
        """One plain sentence on what the clustering found and whether it describes the labels."""
        s = self.scores
        sizes = np.bincount(self.labels_[self.labels_ >= 0]) if (self.labels_ >= 0).any() else np.zeros(1)
        biggest = sizes.max() / len(self.labels_)
        found = (f"{self.title} found {s['n_clusters']} cluster(s)"
                 + (f" and {s['noise']:,} noise points" if s["noise"] else "")
                 + f", the largest holding {biggest:.0%} of the images; ARI {s['ari']:.3f} against the labels")
        if self.poor:
            return found + f": below {POOR_ARI}, so it does not describe the labels and is not shown as a result."
        return found + "."

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


def dbscan(X: np.ndarray, labels: np.ndarray, eps: float | None = None, min_samples: int = 4,
           space: str = "") -> Clustering:
    """DBSCAN; without ``eps`` it is chosen at the knee of the k-distance curve (k = min_samples).

    ``space`` names what ``X`` is (recorded with the result).
    """
    params: dict[str, Any] = {"min_samples": min_samples, "eps_chosen_at_knee": eps is None, "space": space}
    distances = None
    if eps is None:
        distances = k_distances(X, min_samples)
        eps = max(knee_eps(distances), 1e-9)
    params["eps"] = float(eps)
    clusters = DBSCAN(eps=eps, min_samples=min_samples, n_jobs=-1).fit_predict(X).astype(np.int64)
    return _scored("dbscan", params, clusters, labels, distances)


def hdbscan(X: np.ndarray, labels: np.ndarray, min_share: float = HDBSCAN_SHARE, space: str = "") -> Clustering:
    """HDBSCAN (scikit-learn's), its smallest cluster ``min_share`` of the points; -1 is noise."""
    size = max(5, int(min_share * len(X)))
    clusters = HDBSCAN(min_cluster_size=size, copy=True).fit_predict(X).astype(np.int64)
    return _scored("hdbscan", {"min_cluster_size": size, "space": space}, clusters, labels)
