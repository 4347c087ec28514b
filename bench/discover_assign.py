"""Assignments once the count is fixed: which way of grouping a label's images recovers the classes best.

Usage: python bench/discover_assign.py [--part tune|report] [--cases fashion digits] [--groupings ...]

For every case of ``bench/discover_bench.py`` (its cached encodings) and every label, the
count is the one discovery's vote gives (``bench/discover_rules.py``'s cached maps and
curves; run that first), and, as a check of the assignment alone, the true number of
classes behind the label. For that k each method below groups the label's images, and the
fine-class recovery (every (label, group) pair matched one-to-one to the classes) is
printed per kind of case:

- ``kmeans-map``: K-means on the first held-out map (discovery's assignment until now);
- ``gmm-map``: a full-covariance Gaussian mixture on the same map;
- ``kmeans-encoding``: K-means on the reduced encoding itself;
- ``consensus``: K-means on each of the ``MAPS`` maps, the share of maps on which two
  images fall together, then average-linkage clustering of that agreement;
- ``self-train(q)``: the map's K-means groups, the share q of each group's images nearest
  its centre (relative to the next centre) taken as confident, a logistic regression on the
  reduced encoding trained on them, and every image given the group it predicts (SCAN's
  self-labelling step, with a linear head on fixed features);
- ``spectral``: spectral clustering of the reduced encoding's 15-nearest-neighbour graph.

The classes only score, apart from the true-k columns, where they give the count as a check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from discover_bench import cases, encodings
from discover_rules import cached, rules
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture

from twistfm.analysis.discover import _reduce
from twistfm.analysis.discover_count import _ks, _numbered
from twistfm.analysis.metrics import recovery_accuracy

SHARES = (0.3, 0.5, 0.7)


def self_train(Z: np.ndarray, points: np.ndarray, assign: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """Relabel every point by a linear head on ``Z`` trained on the ``share`` of each group nearest its map centre."""
    k = int(assign.max()) + 1
    centres = np.stack([points[assign == g].mean(axis=0) for g in range(k)])
    dist = np.linalg.norm(points[:, None] - centres[None], axis=2)
    own = dist[np.arange(len(points)), assign]
    other = np.where(np.eye(k, dtype=bool)[assign], np.inf, dist).min(axis=1)
    ratio = own / np.maximum(other, 1e-9)
    keep = np.zeros(len(points), dtype=bool)
    for g in range(k):
        members = np.flatnonzero(assign == g)
        keep[members[np.argsort(ratio[members])[:max(2, int(share * len(members)))]]] = True
    head = LogisticRegression(C=1.0, max_iter=500, random_state=seed).fit(Z[keep], assign[keep])
    return head.predict(Z).astype(np.int64)


def consensus(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Average-linkage groups of how often two points share a K-means group over the maps."""
    together = np.zeros((points.shape[1], points.shape[1]), dtype=np.float32)
    for p in points:
        a = _numbered(p, k, seed)
        together += a[:, None] == a[None]
    return AgglomerativeClustering(k, metric="precomputed", linkage="average").fit_predict(
        1 - together / len(points)).astype(np.int64)


def methods(Z: np.ndarray, points: np.ndarray, k: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Every method's groups of one label for ``k`` groups (all zero for k = 1)."""
    if k == 1:
        zero = np.zeros(len(Z), dtype=np.int64)
        return dict.fromkeys(["kmeans-map", "gmm-map", "kmeans-encoding", "consensus", "spectral"]
                             + [f"self-train({q})" for q in SHARES], zero)
    first = points[0]
    base = _numbered(first, k, seed)
    out = {"kmeans-map": base,
           "gmm-map": GaussianMixture(k, n_init=3, random_state=seed).fit_predict(first).astype(np.int64),
           "kmeans-encoding": KMeans(k, n_init=4, random_state=seed).fit_predict(Z).astype(np.int64),
           "consensus": consensus(points, k, seed),
           "spectral": SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=15, random_state=seed,
                                          assign_labels="cluster_qr").fit_predict(Z).astype(np.int64)}
    for q in SHARES:
        out[f"self-train({q})"] = self_train(Z, first, base, q, seed)
    return out


def stored(path: Path, n: int | None = None) -> dict[str, np.ndarray]:
    """The cached arrays at ``path`` (``bench/discover_rules.py`` writes them); exits with a line saying so if absent."""
    if not path.exists():
        raise SystemExit(f"{path}: not cached; run bench/discover_rules.py with the same --part and --cases first")
    out = cached(path, None)
    if n is not None and out["points"].shape[1] != n:
        raise SystemExit(f"{path}: maps of {out['points'].shape[1]} points for a label of {n}; remove the stale cache")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("tune", "report"), default="tune")
    parser.add_argument("--cases", nargs="+", choices=("seed", "fashion", "digits"), default=["fashion", "digits"])
    parser.add_argument("--groupings", nargs="+", type=int, default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--seed-models", nargs="+", default=["quick"])
    parser.add_argument("--cache", default="runs/bench/discover-cache")
    parser.add_argument("--maps-cache", default="runs/bench/discover-maps")
    args = parser.parse_args()
    table: dict[tuple[str, str], dict[str, list[float]]] = {}
    for case in cases(args):
        layers, classes, info = encodings(case, Path(args.cache))
        X, labels = layers[info["layers"][0]], case.grouping[classes]
        stem = f"{case.kind}-{case.name.replace(' ', '_')}"
        groups: dict[str, dict[str, np.ndarray]] = {"vote": {}, "true": {}}
        for value in np.unique(labels):
            mask = labels == value
            Z = _reduce(X[mask], 0)
            ks = _ks(len(Z), 6)
            maps = stored(Path(args.maps_cache) / f"{stem}-{value}.npz", len(Z))
            c = stored(Path(args.maps_cache) / f"{stem}-{value}-curves.npz")
            dips = stored(Path(args.maps_cache) / f"{stem}-{value}-dips.npz")
            chosen = rules(c, ks)
            on = {f"dip-{w}({a:g},0)": int(n) for (a, d), n_z, n_m in zip(dips["grid"], dips["encoding"], dips["map"],
                                                                          strict=True) if d == 0
                  for w, n in (("encoding", n_z), ("map", n_m))}
            vote = int(np.median([chosen["mean(strength,pca)>=0.94"], on["dip-map(0.0001,0)"],
                                  on["dip-encoding(0.0001,0)"]]))
            true = len(np.unique(classes[mask]))
            for which, k in (("vote", vote), ("true", true)):
                for name, assign in methods(Z, maps["points"], min(k, max(ks)), 0).items():
                    groups[which].setdefault(name, np.zeros(len(labels), dtype=np.int64))[mask] = assign
        for which, per in groups.items():
            for name, g in per.items():
                table.setdefault((case.kind, which), {}).setdefault(name, []).append(
                    recovery_accuracy(labels * 100 + g, classes))
        print(f"{case.name}: " + ", ".join(f"{n} {table[(case.kind, 'vote')][n][-1]:.3f}"
                                           for n in table[(case.kind, "vote")]), flush=True)
    columns = list(table)
    print("\n| method | " + " | ".join(f"{kind}, k by {which}" for kind, which in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name in table[columns[0]]:
        print(f"| {name} | " + " | ".join(f"{np.mean(table[col][name]):.3f}" for col in columns) + " |")


if __name__ == "__main__":
    sys.exit(main())
