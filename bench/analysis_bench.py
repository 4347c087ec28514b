"""Analysis benchmark: t-SNE speed and quality, and which layer encodes best.

Usage: python bench/analysis_bench.py

1. Trains model-a as seed 002 did (Adam, batch 32, 5 epochs) on the full data.
2. t-SNE of the 10,000 x 32 test encoding (its second dense layer, seed 002's choice):
   scikit-learn's TSNE with its defaults against twistfm's openTSNE settings, timed in the
   same run, each with its neighbourhood preservation (share of each point's 10 nearest
   neighbours in the encoding that stay among its 10 nearest in 2-D).
3. The layer table: K-means NMI and ARI, 5-NN accuracy and silhouette for every candidate
   layer, with the best layer and the seed's choice side by side.
"""

from __future__ import annotations

import os
import time

import torch
from sklearn.manifold import TSNE

from twistfm.analysis.layers import score_layers
from twistfm.analysis.project import neighbourhood_preservation, tsne
from twistfm.data import load_dataset
from twistfm.encode import encode
from twistfm.recipes import recipe
from twistfm.runs import RunDir
from twistfm.train import fit


def main() -> None:
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}")
    ds = load_dataset()
    result = fit(recipe("seed-model-a"), ds, RunDir.create("model-a", "runs/bench"), log=None)
    print(f"model-a: test accuracy {result.metrics['test_acc']:.4f} after {result.metrics['training_seconds']:.0f}s")
    X = encode(result.model, ds.x_test, "dense2")

    start = time.perf_counter()
    ours = tsne(X, seed=0)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = TSNE(n_components=2, random_state=0).fit_transform(X)
    t_sk = time.perf_counter() - start
    print(f"t-SNE of {X.shape[0]} x {X.shape[1]}: twistfm {t_ours:.1f}s, neighbourhood preservation "
          f"{neighbourhood_preservation(X, ours.points):.4f}; scikit-learn {t_sk:.1f}s, "
          f"neighbourhood preservation {neighbourhood_preservation(X, theirs):.4f}; speed-up {t_sk / t_ours:.1f}x")

    scores = score_layers(result.model, ds.x_train, ds.y_train, ds.x_test, ds.y_test, seed=0)
    print(f"{'layer':<10}{'width':>7}{'dims':>6}{'NMI':>8}{'ARI':>8}{'5-NN':>8}{'silh.':>8}")
    for r in scores.rows:
        mark = " <- best" if r.layer == scores.best else (" <- seed 002's choice" if r.layer == "dense2" else "")
        print(f"{r.layer:<10}{r.width:>7}{r.dims:>6}{r.kmeans_nmi:>8.3f}{r.kmeans_ari:>8.3f}"
              f"{r.knn_acc:>8.3f}{r.silhouette or float('nan'):>8.3f}{mark}")
    b, s = scores.row(scores.best), scores.row("dense2")
    print(f"K-means on the best layer ({b.layer}): NMI {b.kmeans_nmi:.3f}, ARI {b.kmeans_ari:.3f}; "
          f"on the seed's choice (dense2): NMI {s.kmeans_nmi:.3f}, ARI {s.kmeans_ari:.3f}")


if __name__ == "__main__":
    main()
