"""The prediction-strength threshold of discovery, measured over t-SNE seeds and models.

Usage: python bench/discover_threshold.py RUN [RUN ...] [--seeds 0 1 2] [--layer NAME]

For each run, each seed and each threshold, the number of groups discovery finds inside each
label (one t-SNE per label of the layer's encoding, as ``twistfm discover`` makes them)
against the number of classes behind it, and the within-label adjusted Rand index against
the classes. The last lines total the exact counts and average the ARI per threshold: the
figures behind ``twistfm.analysis.discover.THRESHOLD``. The classes only score.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from twistfm.analysis import discovery_layer
from twistfm.analysis.discover import MAX_GROUPS, _reduce, prediction_strength
from twistfm.analysis.project import tsne
from twistfm.data import load_dataset
from twistfm.encode import encode
from twistfm.runs import RunDir

THRESHOLDS = (0.8, 0.85, 0.9, 0.925, 0.95, 0.97)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--layer")
    args = parser.parse_args()
    ds = load_dataset()
    y, c = ds.y_test, ds.class_test
    totals = {th: [0, 0, []] for th in THRESHOLDS}
    print("| run | layer | seed | threshold | counts per label (classes) | exact | mean ARI |")
    print("|---|---|---|---|---|---|---|")
    for path in args.runs:
        model = RunDir.open(path).load_model()[0]
        layer = args.layer or discovery_layer(model)
        X = encode(model, ds.x_test, layer)
        for seed in args.seeds:
            maps = {v: tsne(_reduce(X[y == v], seed), seed=seed, pca_dims=0).points for v in np.unique(y)}
            curves = {v: [prediction_strength(p, k, seed) for k in range(1, MAX_GROUPS + 1)] for v, p in maps.items()}
            for th in THRESHOLDS:
                counts, exact, aris = [], 0, []
                for v, points in maps.items():
                    true = len(np.unique(c[y == v]))
                    k = max(k for k, s in enumerate(curves[v], start=1) if s >= th)
                    groups = KMeans(k, n_init=4, random_state=seed).fit(points).labels_ if k > 1 else np.zeros(len(points))
                    counts.append(f"{k}({true})")
                    exact += k == true
                    if true > 1:
                        aris.append(adjusted_rand_score(c[y == v], groups))
                totals[th][0] += exact
                totals[th][1] += len(maps)
                totals[th][2] += aris
                print(f"| {path} | {layer} | {seed} | {th} | {' '.join(counts)} | {exact}/{len(maps)} | "
                      f"{np.mean(aris):.3f} |", flush=True)
    print("\n| threshold | exact counts | mean within-label ARI |\n|---|---|---|")
    for th, (exact, labels, aris) in totals.items():
        print(f"| {th} | {exact}/{labels} | {np.mean(aris):.3f} |")


if __name__ == "__main__":
    main()
