"""Count rules for discovery, compared on the maps the held-out count makes: which one says how many groups.

Usage: python bench/discover_rules.py [--part tune|report] [--cases fashion digits] [--groupings ...]
       [--maps-cache DIR]

For every case of ``bench/discover_bench.py`` (its cached encodings; train them first with
``discover_bench.py --train-only``) and every label, the label's encoding is reduced as
discovery reduces it and mapped as the held-out count maps it (``MAPS`` t-SNEs, each made
from a random half of the label's images with the other half placed into it). For every k
the curves below are measured once and cached with the K-means groups of the first map;
each rule then chooses a count from the curves:

- ``strength>=t``: the largest k whose held-out prediction strength on the map reaches t;
- ``rel-strength>=t``: the same, k's strength minus the strength K-means reaches on a
  uniform blob of the same points' spread (a null of no groups);
- ``silhouette>=s``: the k of the best held-out silhouette (placed points, labelled by the
  fitted points' centres), or 1 where it falls below s;
- ``pca-strength>=t``: prediction strength of K-means on the reduced encoding itself
  (random halves, no map);
- ``both``: the largest k whose strength reaches t and whose silhouette reaches s;
- ``strength&pca``: the largest k whose strength reaches t and whose pca-strength reaches u;
- ``mean(strength,pca)``: the largest k whose mean of the two strengths reaches t;
- ``gate``: 1 unless some k > 1 reaches t on the mean of the two strengths; then the k of
  the best silhouette, or of the best mean strength;
- ``eigengap``: the largest gap among the smallest eigenvalues of a k-nearest-neighbour
  graph's normalised Laplacian, on the reduced encoding;
- ``hdbscan(f)``: density, not stability: the number of clusters HDBSCAN finds on each map
  (``min_cluster_size`` the share f of the label's points, a single cluster allowed), the
  smaller of the maps' counts (a group must show on both); ``hdbscan-fitted(f)`` the same on
  the fitted points only and ``hdbscan-both(f)`` the smaller of the counts on the fitted and
  on the placed points (a group must show on points the map never saw);
- ``gmm-bic``: the k of the lowest BIC of a Gaussian mixture on the map's fitted points;
- ``dip-encoding(a)`` / ``dip-map(a)``: splits while a group is bimodal (dip-means' idea,
  Kalogeratos & Likas 2012, on one axis): each group is halved by 2-means and split if
  Hartigan's dip test rejects unimodality of its points along the line through the two
  centres at level a (both halves at least 2 % of the label). On the reduced encoding; or on
  the maps, the 2-means learnt on the fitted points and the dip tested on the placed points,
  the smaller count of the maps; ``dip-encoding(a,d)`` / ``dip-map(a,d)`` the same, a group
  split only where its dip is also at least d (an effect size, whatever the number of points);
- ``vote(...)``: the median of the stability rule's count and the two dip counts at one level.

It prints a table of each rule's share of exact counts and fine-class recovery (the
(label, group) pairs matched one-to-one to the classes) per kind of case, and the same
rules on one held-out map of the whole test set with the labels ignored (accuracy against
the classes). The classes only score; they never choose anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from discover_bench import cases, encodings

from twistfm.analysis.discover import _reduce
from twistfm.analysis.discover_count import (
    MAPS,
    DipSplits,
    _held_out_maps,
    _ks,
    _numbered,
    held_out_silhouette,
    held_out_strength,
    prediction_strength,
)
from twistfm.analysis.metrics import recovery_accuracy


def label_maps(Z: np.ndarray, seed: int = 0, maps: int = MAPS) -> tuple[np.ndarray, np.ndarray]:
    """``maps`` held-out maps of ``Z`` (points, shape (maps, n, 2)) and which points each was fitted on."""
    made = _held_out_maps(Z, seed, maps)
    return np.stack([p for p, _ in made]), np.stack([f for _, f in made])


def uniform_null(points: np.ndarray, seed: int) -> np.ndarray:
    """Points drawn uniformly from the ellipse of ``points``' principal spread (one blob, no groups)."""
    rng = np.random.default_rng(seed)
    centre = points.mean(axis=0)
    _, s, vt = np.linalg.svd(points - centre, full_matrices=False)
    angle = rng.uniform(0, 2 * np.pi, len(points))
    radius = np.sqrt(rng.uniform(0, 1, len(points)))
    unit = np.stack([np.cos(angle), np.sin(angle)], axis=1) * radius[:, None]
    return (centre + unit * (2 * s / np.sqrt(len(points))) @ vt).astype(np.float32)


def eigengap(Z: np.ndarray, max_groups: int, neighbours: int = 15) -> int:
    """The number of groups the largest eigengap of a kNN graph's normalised Laplacian points at."""
    from scipy.sparse.csgraph import laplacian
    from scipy.sparse.linalg import eigsh
    from sklearn.neighbors import kneighbors_graph

    graph = kneighbors_graph(Z, min(neighbours, len(Z) - 1), include_self=False)
    graph = graph.maximum(graph.T)
    values = np.sort(eigsh(laplacian(graph, normed=True), k=max_groups + 1, sigma=-1e-3, which="LM",
                           return_eigenvectors=False))
    return int(np.argmax(np.diff(values)[:max_groups])) + 1


#: Shares of a label's points HDBSCAN's smallest cluster must hold.
DENSITY_SHARES = (0.02, 0.04, 0.06, 0.08, 0.1, 0.15)


def density_counts(points: np.ndarray, share: float, seed: int = 0) -> int:
    """How many clusters HDBSCAN finds on 2-D ``points`` with its smallest cluster ``share`` of them (at least 1)."""
    from sklearn.cluster import HDBSCAN

    size = max(5, int(round(share * len(points))))
    if len(points) < 2 * size:
        return 1
    found = HDBSCAN(min_cluster_size=size, allow_single_cluster=True, copy=True).fit_predict(points)
    return max(1, len(np.unique(found[found >= 0])))


def gmm_bic(points: np.ndarray, ks: list[int], seed: int = 0) -> np.ndarray:
    """BIC of a full-covariance Gaussian mixture on ``points`` for every k of ``ks``."""
    from sklearn.mixture import GaussianMixture

    return np.array([GaussianMixture(k, n_init=2, random_state=seed).fit(points).bic(points) for k in ks])


#: Levels of the dip test at which a group is split.
DIP_LEVELS = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 0.05)


#: Smallest dip (an effect size, whatever the number of points) at which a group is split, with a level.
DIP_SIZES = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03)
DIP_BOTH_LEVELS = (1e-4, 1e-3, 1e-2)


def dip_curves(Z: np.ndarray, points: np.ndarray, fits: np.ndarray, max_groups: int, seed: int = 0) -> dict:
    """Counts of the dip rules with both a level and a least dip: on the encoding, and the smaller on the maps."""
    on_z = DipSplits(Z, Z, seed)
    on_maps = [DipSplits(p[f], p[~f], seed) for p, f in zip(points, fits, strict=True)]
    grid = [(a, d) for a in DIP_BOTH_LEVELS for d in DIP_SIZES]
    return {"grid": np.array(grid), "encoding": np.array([on_z.count(max_groups, a, d) for a, d in grid]),
            "map": np.array([min(t.count(max_groups, a, d) for t in on_maps) for a, d in grid])}


def measure(Z: np.ndarray, points: np.ndarray, fits: np.ndarray, ks: list[int], seed: int = 0) -> dict[str, np.ndarray]:
    """Every curve the rules read, over ``ks``, and the first map's K-means groups for each k."""
    strength, null, sil = [], [], []
    on_z = DipSplits(Z, Z, seed)  # halvings shared by the dip counts at every level
    on_maps = [DipSplits(p[f], p[~f], seed) for p, f in zip(points, fits, strict=True)]
    for p, f in zip(points, fits, strict=True):
        strength.append([held_out_strength(p[f], p[~f], k, seed) for k in ks])
        q = uniform_null(p, seed)
        null.append([held_out_strength(q[f], q[~f], k, seed) for k in ks])
        sil.append([held_out_silhouette(p[f], p[~f], k, seed) if k > 1 else -1.0 for k in ks])
    return {"strength": np.mean(strength, axis=0), "null": np.mean(null, axis=0), "silhouette": np.mean(sil, axis=0),
            "pca": np.array([prediction_strength(Z, k, seed, splits=4) for k in ks]),
            "eigengap": np.array(eigengap(Z, max(ks))),
            # per map: every share on all points, on the fitted points, on the placed points
            "density": np.array([[[density_counts(q, share, seed) for share in DENSITY_SHARES]
                                  for q in (p, p[f], p[~f])] for p, f in zip(points, fits, strict=True)]),
            "bic": np.mean([gmm_bic(p[f], ks, seed) for p, f in zip(points, fits, strict=True)], axis=0),
            "dip_encoding": np.array([on_z.count(max(ks), a) for a in DIP_LEVELS]),
            "dip_map": np.array([min(t.count(max(ks), a) for t in on_maps) for a in DIP_LEVELS]),
            "assign": np.stack([_numbered(points[0], k, seed) for k in ks])}


def rules(c: dict[str, np.ndarray], ks: list[int]) -> dict[str, int]:
    """The count each rule chooses from the curves ``c``."""
    s, null, sil, pca = c["strength"], c["null"], c["silhouette"], c["pca"]

    def largest(ok: np.ndarray) -> int:
        return max([1] + [k for k, good in zip(ks, ok, strict=True) if good])

    out: dict[str, int] = {}
    for t in (0.8, 0.85, 0.9, 0.95, 0.97):
        out[f"strength>={t}"] = largest(s >= t)
    for t in (0.05, 0.1, 0.15, 0.2, 0.3):
        out[f"rel-strength>={t}"] = largest(s - null >= t)
    best = int(np.argmax(sil))
    for t in (0.3, 0.4, 0.5, 0.6):
        out[f"silhouette>={t}"] = ks[best] if sil[best] >= t else 1
    for t in (0.7, 0.8, 0.9):
        out[f"pca-strength>={t}"] = largest(pca >= t)
    for t in (0.8, 0.85, 0.9):
        for u in (0.35, 0.45):
            out[f"both>={t},{u}"] = largest((s >= t) & (sil >= u))
    for t in (0.85, 0.9, 0.95):
        for u in (0.8, 0.85, 0.9):
            out[f"strength&pca>={t},{u}"] = largest((s >= t) & (pca >= u))
    for t in (0.85, 0.9, 0.92, 0.93, 0.94, 0.95, 0.96):
        out[f"mean(strength,pca)>={t}"] = largest((s + pca) / 2 >= t)
    mean = (s + pca) / 2
    for t in (0.85, 0.9, 0.92, 0.94, 0.96):
        split = len(ks) > 1 and mean[1:].max() >= t
        out[f"gate>={t},silhouette"] = ks[1 + int(np.argmax(sil[1:]))] if split else 1
        out[f"gate>={t},best-mean"] = ks[1 + int(np.argmax(mean[1:]))] if split else 1
    out["eigengap"] = int(min(c["eigengap"], max(ks)))
    if "density" in c:
        cap = max(ks)
        for i, share in enumerate(DENSITY_SHARES):
            every, fitted, placed = c["density"][:, 0, i], c["density"][:, 1, i], c["density"][:, 2, i]
            out[f"hdbscan({share})"] = int(min(every.min(), cap))
            out[f"hdbscan-fitted({share})"] = int(min(fitted.min(), cap))
            out[f"hdbscan-both({share})"] = int(min(cap, fitted.min(), placed.min()))
        out["gmm-bic"] = ks[int(np.argmin(c["bic"]))]
        for i, level in enumerate(DIP_LEVELS):
            out[f"dip-encoding({level:g})"] = int(c["dip_encoding"][i])
            out[f"dip-map({level:g})"] = int(c["dip_map"][i])
    return out


def as_dict(maps: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    return {"points": maps[0], "fits": maps[1]}


def cached(path: Path, make):
    """The arrays stored at ``path``, made by ``make()`` and stored there first if absent."""
    if path.exists():
        with np.load(path) as stored:
            return {k: stored[k] for k in stored.files}
    out = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
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
    parser.add_argument("--whole", action="store_true", help="also the whole test set, labels ignored")
    args = parser.parse_args()
    table: dict[str, dict[str, list]] = {}
    whole: dict[str, dict[str, list]] = {}
    for case in cases(args):
        layers, classes, info = encodings(case, Path(args.cache))
        X, labels = layers[info["layers"][0]], case.grouping[classes]
        stem = f"{case.kind}-{case.name.replace(' ', '_')}"
        per: dict[str, dict[int, tuple[np.ndarray, bool]]] = {}
        for value in np.unique(labels):
            mask = labels == value
            Z = _reduce(X[mask], 0)
            ks = _ks(len(Z), 6)
            maps = cached(Path(args.maps_cache) / f"{stem}-{value}.npz", lambda Z=Z: as_dict(label_maps(Z)))
            c = cached(Path(args.maps_cache) / f"{stem}-{value}-curves.npz",
                       lambda Z=Z, maps=maps, ks=ks: measure(Z, maps["points"], maps["fits"], ks))
            true = len(np.unique(classes[mask]))
            chosen = rules(c, ks)
            dips = cached(Path(args.maps_cache) / f"{stem}-{value}-dips.npz",
                          lambda Z=Z, maps=maps, ks=ks: dip_curves(Z, maps["points"], maps["fits"], max(ks)))
            for (a, d), on_z, on_map in zip(dips["grid"], dips["encoding"], dips["map"], strict=True):
                chosen[f"dip-encoding({a:g},{d:g})"] = int(on_z)
                chosen[f"dip-map({a:g},{d:g})"] = int(on_map)
            for a in DIP_BOTH_LEVELS:  # stability and bimodality vote: the median of three counts
                chosen[f"vote(mean>=0.94,dip-map({a:g}),dip-encoding({a:g}))"] = int(np.median(
                    [chosen["mean(strength,pca)>=0.94"], chosen[f"dip-map({a:g},0)"], chosen[f"dip-encoding({a:g},0)"]]))
            for name, k in chosen.items():
                per.setdefault(name, {})[value] = (c["assign"][k - 1], k == true)
            print(f"{case.name} label {value} true {true}: strength " + " ".join(f"{v:.2f}" for v in c["strength"])
                  + " | null " + " ".join(f"{v:.2f}" for v in c["null"])
                  + " | sil " + " ".join(f"{v:.2f}" for v in c["silhouette"])
                  + " | pca " + " ".join(f"{v:.2f}" for v in c["pca"]) + f" | eigengap {int(c['eigengap'])}"
                  + (" | hdbscan " + " ".join(str(int(v)) for v in c["density"][:, 0, :].min(axis=0))
                     if "density" in c else ""), flush=True)
        for name, chosen_per in per.items():
            g = np.zeros(len(labels), dtype=np.int64)
            for value, (assign, _) in chosen_per.items():
                g[labels == value] = assign
            table.setdefault(name, {}).setdefault(case.kind, []).append(
                (sum(e for _, e in chosen_per.values()), len(chosen_per), recovery_accuracy(labels * 100 + g, classes)))
        if args.whole:
            Z = _reduce(X, 0)
            ks = _ks(len(Z), 12)
            maps = cached(Path(args.maps_cache) / f"{stem}-whole.npz",
                          lambda Z=Z: as_dict(label_maps(Z, maps=1)))
            c = cached(Path(args.maps_cache) / f"{stem}-whole-curves.npz",
                       lambda Z=Z, maps=maps, ks=ks: measure(Z, maps["points"], maps["fits"], ks))
            for name, k in rules(c, ks).items():
                whole.setdefault(name, {}).setdefault(case.kind, []).append(
                    (k, recovery_accuracy(c["assign"][k - 1], classes)))
    kinds = list(next(iter(table.values())))
    print("\n| rule | " + " | ".join(f"{k}: exact, recovery" for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for name, per_kind in table.items():
        cells = []
        for rows in per_kind.values():
            exact, total = sum(r[0] for r in rows), sum(r[1] for r in rows)
            cells.append(f"{exact}/{total} ({exact / total:.0%}), {np.mean([r[2] for r in rows]):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if whole:
        print("\nLabels ignored (one held-out map of the whole test set):\n")
        print("| rule | " + " | ".join(f"{k}: counts, accuracy" for k in kinds) + " |")
        print("|---|" + "---|" * len(kinds))
        for name, per_kind in whole.items():
            print(f"| {name} | " + " | ".join(f"{' '.join(str(r[0]) for r in rows)}, {np.mean([r[1] for r in rows]):.3f}"
                                             for rows in per_kind.values()) + " |")


if __name__ == "__main__":
    sys.exit(main())
