"""Density clustering: HDBSCAN on separated blobs and noise, and the scan that chooses DBSCAN's radius."""

from __future__ import annotations

import numpy as np

from twistfm.analysis.cluster import EPS_QUANTILES, POOR_ARI, choose_eps, dbscan, hdbscan, k_distances


def _blobs_and_noise(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three tight blobs of 80 points in 5-D, 20 centres apart, and 4 points far from them and from each other
    (fewer than HDBSCAN's smallest cluster, so they can only be noise)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0] * 5, [20.0] + [0.0] * 4, [0.0, 20.0, 0.0, 0.0, 0.0]])
    y = np.repeat([0, 1, 2], 80)
    blobs = centres[y] + rng.normal(0, 0.5, (len(y), 5))
    far = np.array([[60, 60, 60, 0, 0], [-60, 60, 0, 60, 0], [60, -60, 0, 0, 60], [-60, -60, -60, 0, 0]], np.float64)
    X = np.concatenate([blobs, far]).astype(np.float32)
    return X, np.r_[y, np.zeros(4, int)], np.r_[np.zeros(len(y), bool), np.ones(4, bool)]


def test_hdbscan_finds_separated_blobs_marks_scattered_points_as_noise_and_is_repeatable():
    X, y, scattered = _blobs_and_noise()
    result = hdbscan(X, y)
    found = result.labels_
    assert result.scores["n_clusters"] == 3
    assert (found[scattered] == -1).all()            # the scattered points join no blob
    blobs = found[~scattered]
    assert (blobs >= 0).mean() > 0.95
    ids = []
    for label in range(3):                           # each blob is one cluster of its own
        members = blobs[y[~scattered] == label]
        kept = members[members >= 0]
        assert len(np.unique(kept)) == 1
        ids.append(int(kept[0]))
    assert len(set(ids)) == 3
    assert result.params["min_cluster_size"] == max(5, int(0.01 * len(X)))
    assert np.array_equal(hdbscan(X, y).labels_, found), "same input, same clusters"


def _two_grids() -> np.ndarray:
    """Two 10 x 10 grids of points one apart, 100 apart from each other: every k-distance is known."""
    grid = np.array([(i, j) for i in range(10) for j in range(10)], dtype=np.float64)
    return np.concatenate([grid, grid + 100.0])


def test_the_radius_scan_picks_the_smallest_radius_of_the_best_clustering_on_a_known_input():
    X = _two_grids()
    distances = k_distances(X, 4)
    # The 4th neighbour is 1 away inside a grid, sqrt(2) on its edges, 2 at its corners.
    assert sorted(set(np.round(distances, 6))) == [1.0, round(2**0.5, 6), 2.0]
    eps, scan, clusters = choose_eps(X, 4, distances)
    assert len(scan) == len(EPS_QUANTILES) and [row[0] for row in scan] == sorted(row[0] for row in scan)
    # Every radius from 1 to 2 finds the two grids whole: the scan keeps the smallest of them.
    assert eps == 1.0
    assert sorted(np.bincount(clusters)) == [100, 100] and (clusters >= 0).all()
    assert clusters[0] != clusters[100]
    best = max(row[3] for row in scan)
    assert scan[0][3] == best and best > 0.9


def test_dbscan_without_a_radius_records_the_scan_and_the_k_distances():
    X = _two_grids()
    y = np.repeat([0, 1], 100)
    result = dbscan(X, y, min_samples=4, space="a plane")
    assert result.params["eps_chosen"] and result.params["eps"] == 1.0 and result.params["space"] == "a plane"
    assert len(result.params["eps_scan"]) == len(EPS_QUANTILES)
    assert result.k_distances is not None and len(result.k_distances) == len(X)
    assert result.scores["ari"] == 1.0 and not result.poor


def test_when_no_radius_gives_a_cluster_every_point_is_noise_and_the_clustering_is_poor():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (50, 5))
    y = rng.integers(0, 2, 50)
    eps, scan, clusters = choose_eps(X, 60, k_distances(X, 60))   # no point has 60 neighbours within any radius
    assert (clusters == -1).all()
    assert all(row[1] == 0.0 and row[2] == 0.0 and row[3] == 0.0 for row in scan)
    assert eps == scan[0][0]                                      # every score ties at 0: the first radius is kept
    result = dbscan(X, y, min_samples=60)
    assert result.scores["n_clusters"] == 0 and result.scores["noise"] == 50
    assert result.poor and result.scores["ari"] < POOR_ARI
    assert result.names([0, 1]) == {-1: "noise"}
    assert "found 0 cluster(s) and 50 noise points" in result.verdict()
    assert "not shown as a result" in result.verdict()
