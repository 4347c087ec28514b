"""Agreement between groupings: clustering scores, contingency tables, Hungarian matching."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

__all__ = ["contingency", "purity", "cluster_scores", "match_to_labels", "recovery_accuracy"]


def contingency(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of each (row value, column value) pair.

    Returns
    -------
    table : ndarray of int64, shape (R, C)
    row_values, col_values : ndarray
        The sorted distinct values labelling rows and columns.
    """
    row_values, r = np.unique(rows, return_inverse=True)
    col_values, c = np.unique(cols, return_inverse=True)
    table = np.zeros((len(row_values), len(col_values)), dtype=np.int64)
    np.add.at(table, (r, c), 1)
    return table, row_values, col_values


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Share of points whose cluster's majority label is their own label."""
    table, _, _ = contingency(clusters, labels)
    return float(table.max(axis=1).sum() / max(1, len(labels)))


def cluster_scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """ARI, NMI, homogeneity, completeness, purity, cluster and noise counts (noise = -1)."""
    return {
        "n_clusters": int(len(np.unique(clusters[clusters >= 0]))),
        "noise": int((clusters < 0).sum()),
        "ari": float(skm.adjusted_rand_score(labels, clusters)),
        "nmi": float(skm.normalized_mutual_info_score(labels, clusters)),
        "homogeneity": float(skm.homogeneity_score(labels, clusters)),
        "completeness": float(skm.completeness_score(labels, clusters)),
        "purity": purity(labels, clusters),
    }


def match_to_labels(clusters: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """Map each cluster id to a colour index so that one colour means one group everywhere.

    Clusters are matched one-to-one to label indices (0..L-1, in sorted label order) by the
    Hungarian method on the contingency table; clusters left over get fresh indices L, L+1, ...
    Noise (-1) maps to -1.
    """
    table, cluster_ids, label_values = contingency(clusters, labels)
    mapping: dict[int, int] = {}
    keep = cluster_ids >= 0
    ids, sub = cluster_ids[keep], table[keep]
    rows, cols = linear_sum_assignment(-sub) if len(ids) else ([], [])
    for r, c in zip(rows, cols, strict=True):
        mapping[int(ids[r])] = int(c)
    next_index = len(label_values)
    for cid in ids:
        if int(cid) not in mapping:
            mapping[int(cid)] = next_index
            next_index += 1
    if (cluster_ids < 0).any():
        mapping[-1] = -1
    return mapping


def recovery_accuracy(groups: np.ndarray, classes: np.ndarray) -> float:
    """Share of images whose group is matched to their class, one group to one class at most.

    ``groups`` holds one hashable id per image (for discovery, the pair (label, group) encoded
    as one integer); groups and classes are matched one-to-one by the Hungarian method on
    their contingency table, so that a class split in two or two classes merged in one group
    cost the images left unmatched.
    """
    table, _, _ = contingency(groups, classes)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / max(1, len(classes)))
