"""Clustering an encoding: K-means, DBSCAN and HDBSCAN, scored against the labels.

Each function takes the encoding and the labels and returns a :class:`Clustering` scored
against the labels. Options are checked once, by :class:`twistfm.analysis.AnalysisConfig`.

DBSCAN needs a radius ``eps`` and a neighbourhood size ``min_samples``. The knee of the
k-distance curve, the usual rule, puts nearly every image of an encoding in one cluster
(ARI about 0.001 against the labels), so without ``eps`` it is chosen by a scan: each
quantile in ``EPS_QUANTILES`` of the k-distances is tried and the radius kept is the one
whose clustering has the best silhouette times clustered share (a radius that clusters
well but leaves most images as noise loses, and so does one that merges everything).
``min_samples`` defaults to ``DBSCAN_SHARE`` of the points. Measured on the quick
preset's encoding (``bench/discover_criteria.py``), density clustering works in the first
10 principal components of the encoding rather than in its t-SNE, whose even spread
hides density, so that is where the analysis runs both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors

from ..schema import Typed
from .metrics import cluster_scores, contingency, match_to_labels

__all__ = ["Clustering", "kmeans", "dbscan", "hdbscan", "k_distances", "knee_eps", "choose_eps", "HDBSCAN_SHARE",
           "DBSCAN_SHARE", "DENSITY_DIMS", "EPS_QUANTILES", "POOR_ARI"]

#: Below this adjusted Rand index against the labels, a clustering is said to describe them poorly.
POOR_ARI = 0.3
#: HDBSCAN's smallest cluster, as a share of the points.
HDBSCAN_SHARE = 0.01
#: DBSCAN's min_samples when not given, as a share of the points.
DBSCAN_SHARE = 0.005
#: Quantiles of the k-distances tried as DBSCAN's eps.
EPS_QUANTILES = tuple(round(q, 2) for q in np.arange(0.1, 0.96, 0.05))
#: Principal components of the encoding that density clustering runs in.
DENSITY_DIMS = 10
_SILHOUETTE_SAMPLE = 2000


@dataclass(frozen=True, kw_only=True)
class Clustering(Typed):
    """One clustering of an encoding, scored against the labels.

    Attributes
    ----------
    method : str
        ``"kmeans"``, ``"dbscan"`` or ``"hdbscan"``.
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
        DBSCAN with a chosen eps: each clustered point's distance to its ``min_samples``-th
        neighbour.
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


def choose_eps(X: np.ndarray, min_samples: int, distances: np.ndarray,
               seed: int = 0) -> tuple[float, list[list[float]], np.ndarray]:
    """DBSCAN's radius by scan: the k-distance quantile whose clustering maximises silhouette x clustered share.

    Returns the radius, the scan (one ``[eps, silhouette, clustered share, score]`` per
    radius tried; silhouette 0 where fewer than two clusters form) and the clustering at
    the chosen radius.
    """
    scan, found = [], []
    for q in EPS_QUANTILES:
        eps = max(float(np.quantile(distances, q)), 1e-9)
        clusters = DBSCAN(eps=eps, min_samples=min_samples, n_jobs=-1).fit_predict(X)
        kept = clusters >= 0
        silhouette = 0.0
        if len(np.unique(clusters[kept])) > 1:
            silhouette = float(silhouette_score(X[kept], clusters[kept], random_state=seed,
                                                sample_size=min(_SILHOUETTE_SAMPLE, int(kept.sum()))))
        scan.append([eps, silhouette, float(kept.mean()), silhouette * float(kept.mean())])
        found.append(clusters)
    best = max(range(len(scan)), key=lambda i: (scan[i][3], -i))
    return scan[best][0], scan, found[best]


def _fit_mask(X: np.ndarray, fit_on: np.ndarray | None) -> np.ndarray:
    """The boolean mask of the points a density clustering fits: ``fit_on``, or every point."""
    return np.ones(len(X), bool) if fit_on is None else np.asarray(fit_on, bool)


def _placed(fitted: np.ndarray, X: np.ndarray, fit_on: np.ndarray) -> np.ndarray:
    """Every point's cluster: the fitted points' own, the others their nearest fitted point's."""
    if fit_on.all():
        return fitted.astype(np.int64)
    clusters = np.empty(len(X), dtype=np.int64)
    clusters[fit_on] = fitted
    nearest = NearestNeighbors(n_neighbors=1).fit(X[fit_on]).kneighbors(X[~fit_on], return_distance=False)[:, 0]
    clusters[~fit_on] = fitted[nearest]
    return clusters


def dbscan(X: np.ndarray, labels: np.ndarray, eps: float | None = None, min_samples: int | None = None,
           space: str = "", fit_on: np.ndarray | None = None, seed: int = 0) -> Clustering:
    """DBSCAN; without ``eps`` it is chosen by :func:`choose_eps`, without ``min_samples`` it is
    ``DBSCAN_SHARE`` of the points clustered.

    ``fit_on`` (boolean mask) clusters those points only; each other point takes the cluster
    of its nearest clustered point. ``space`` names what ``X`` is (recorded with the result).
    """
    fit = _fit_mask(X, fit_on)
    Xf = X[fit]
    if min_samples is None:
        min_samples = max(4, int(DBSCAN_SHARE * len(Xf)))
    params: dict[str, Any] = {"min_samples": min_samples, "eps_chosen": eps is None, "space": space}
    distances = None
    if eps is None:
        distances = k_distances(Xf, min_samples)
        eps, params["eps_scan"], fitted = choose_eps(Xf, min_samples, distances, seed)
    else:
        fitted = DBSCAN(eps=eps, min_samples=min_samples, n_jobs=-1).fit_predict(Xf)
    params["eps"] = float(eps)
    return _scored("dbscan", params, _placed(fitted, X, fit), labels, distances)


def hdbscan(X: np.ndarray, labels: np.ndarray, min_share: float = HDBSCAN_SHARE, space: str = "",
            fit_on: np.ndarray | None = None) -> Clustering:
    """HDBSCAN (scikit-learn's), its smallest cluster ``min_share`` of the points clustered; -1 is noise.

    ``fit_on`` as in :func:`dbscan`.
    """
    fit = _fit_mask(X, fit_on)
    size = max(5, int(min_share * fit.sum()))
    fitted = HDBSCAN(min_cluster_size=size, copy=True).fit_predict(X[fit])
    return _scored("hdbscan", {"min_cluster_size": size, "space": space}, _placed(fitted, X, fit), labels)
