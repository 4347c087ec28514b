"""How to count the kinds of image behind a label, blind: representations x criteria, measured.

Usage: python bench/discover_criteria.py [--run RUN ...] [--max-groups 6]

For the run given (by default a model trained with the quick recipe, and model-a trained as
seed 002 did), each representation of the test images (raw pixels, and every candidate
layer of the model) is reduced to 50 principal components and embedded in 2-D by t-SNE:
once for all test images, and once per label. Within each label, several criteria choose
the number of groups from the 2-D points alone:

- prediction strength of K-means (Tibshirani & Walther): the largest k whose strength is
  at least a threshold (0.8, 0.9);
- HDBSCAN with a minimum cluster size of 5 % or 10 % of the label's images;
- the best silhouette over k = 2..max, or 1 when no k reaches 0.5.

Before that, DBSCAN (several min_samples, eps at the k-distance knee or a quantile) and
HDBSCAN (several minimum sizes) cluster the model's last hidden layer in three spaces (the
encoding, its first 10 principal components, its t-SNE) and are scored against the labels
and the classes.

It prints, per representation and criterion, the count found in each label against the
true count (classes behind the label), how many labels are exact, the mean adjusted Rand
index of the groups against the classes within labels, and the whole-set count. The
original classes are used only to score, never to choose.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score

from twistfm.analysis.discover import prediction_strength
from twistfm.analysis.project import tsne
from twistfm.data import DataSpec, load_dataset
from twistfm.encode import candidate_layers, encode
from twistfm.recipes import recipe
from twistfm.runs import RunDir
from twistfm.workflows import train


def by_prediction_strength(threshold: float) -> Callable:
    def choose(points, max_groups, seed):
        ks = [k for k in range(1, max_groups + 1) if prediction_strength(points, k, seed) >= threshold]
        k = max(ks)
        return KMeans(k, n_init=4, random_state=seed).fit(points).labels_ if k > 1 else np.zeros(len(points), int)
    return choose


def by_hdbscan(share: float) -> Callable:
    def choose(points, max_groups, seed):
        labels = HDBSCAN(min_cluster_size=max(10, int(share * len(points)))).fit_predict(points)
        if (labels >= 0).sum() == 0:
            return np.zeros(len(points), int)
        centres = np.stack([points[labels == c].mean(0) for c in np.unique(labels[labels >= 0])])
        return np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)  # noise to the nearest group
    return choose


def by_silhouette(points, max_groups, seed):
    best, best_labels = 0.5, np.zeros(len(points), int)
    sample = np.random.default_rng(seed).choice(len(points), min(2000, len(points)), replace=False)
    for k in range(2, max_groups + 1):
        labels = KMeans(k, n_init=4, random_state=seed).fit(points).labels_
        score = silhouette_score(points[sample], labels[sample])
        if score > best:
            best, best_labels = score, labels
    return best_labels


CRITERIA = {"PS 0.8": by_prediction_strength(0.8), "PS 0.9": by_prediction_strength(0.9),
            "HDBSCAN 5%": by_hdbscan(0.05), "HDBSCAN 10%": by_hdbscan(0.10), "silhouette>0.5": by_silhouette}


def representations(model, x: np.ndarray) -> dict[str, np.ndarray]:
    reps = {"pixels": x.reshape(len(x), -1).astype(np.float32) / 255}
    for layer in candidate_layers(model):
        reps[layer] = encode(model, x, layer)
    return reps


def evaluate(model, name: str, ds, max_groups: int) -> None:
    y, c = ds.y_test, ds.class_test
    print(f"\n## {name}\n")
    print("| representation | embedding | criterion | counts per label (true) | exact | mean ARI within labels | "
          "whole set (10) |")
    print("|---|---|---|---|---|---|---|")
    for rep, X in representations(model, ds.x_test).items():
        start = time.perf_counter()
        reduced = PCA(n_components=min(50, X.shape[1]), random_state=0).fit_transform(X)
        embeddings = {"one t-SNE": tsne(reduced, seed=0, pca_dims=0).points}
        per_label = np.zeros((len(X), 2), np.float32)
        for label in np.unique(y):
            mask = y == label
            part = PCA(n_components=min(50, X.shape[1]), random_state=0).fit_transform(X[mask])
            per_label[mask] = tsne(part, seed=0, pca_dims=0).points
        embeddings["a t-SNE per label"] = per_label
        t_embed = time.perf_counter() - start
        for ename, points in embeddings.items():
            for cname, choose in CRITERIA.items():
                start = time.perf_counter()
                counts, exact, aris = [], 0, []
                for label in np.unique(y):
                    mask = y == label
                    groups = choose(points[mask], max_groups, 0)
                    true = len(np.unique(c[mask]))
                    found = len(np.unique(groups))
                    counts.append(f"{found}({true})")
                    exact += found == true
                    if true > 1:
                        aris.append(adjusted_rand_score(c[mask], groups))
                overall = len(np.unique(choose(embeddings["one t-SNE"], 12, 0))) if ename == "one t-SNE" else "-"
                print(f"| {rep} | {ename} | {cname} | {' '.join(counts)} | {exact}/{len(counts)} | {np.mean(aris):.3f} | "
                      f"{overall} | <!-- t-SNEs {t_embed:.1f}s, criterion {time.perf_counter() - start:.1f}s -->",
                      flush=True)


def density(model, name: str, ds) -> None:
    """DBSCAN and HDBSCAN on the last hidden layer: in the encoding, in 10 principal components, in t-SNE."""
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import normalized_mutual_info_score

    from twistfm.analysis.cluster import k_distances, knee_eps
    from twistfm.encode import default_layer

    y, c = ds.y_test, ds.class_test
    X = encode(model, ds.x_test, default_layer(model))
    spaces = {"encoding": X, "PCA-10": PCA(10, random_state=0).fit_transform(X)}
    spaces["t-SNE"] = tsne(X, seed=0).points
    print(f"\n## density clustering of {name} ({default_layer(model)})\n")
    print("| space | method | clusters | noise | ARI labels | NMI labels | ARI classes |")
    print("|---|---|---|---|---|---|---|")
    for sname, Z in spaces.items():
        for m in (4, 10, 25):
            d = k_distances(Z, m)
            for rule, eps in (("knee", knee_eps(d)), ("q50", float(np.quantile(d, 0.5))), ("q90", float(np.quantile(d, 0.9)))):
                lab = DBSCAN(eps=eps, min_samples=m).fit_predict(Z)
                print(f"| {sname} | DBSCAN min_samples {m}, eps {rule} {eps:.3g} | {lab.max() + 1} | {(lab < 0).sum()} | "
                      f"{adjusted_rand_score(y, lab):.3f} | {normalized_mutual_info_score(y, lab):.3f} | "
                      f"{adjusted_rand_score(c, lab):.3f} |", flush=True)
        for share in (0.005, 0.01, 0.02, 0.05):
            start = time.perf_counter()
            lab = HDBSCAN(min_cluster_size=max(5, int(share * len(Z)))).fit_predict(Z)
            print(f"| {sname} | HDBSCAN min_cluster_size {share:.1%} | {lab.max() + 1} | {(lab < 0).sum()} | "
                  f"{adjusted_rand_score(y, lab):.3f} | {normalized_mutual_info_score(y, lab):.3f} | "
                  f"{adjusted_rand_score(c, lab):.3f} | <!-- {time.perf_counter() - start:.1f}s -->", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs="*", default=[])
    parser.add_argument("--max-groups", type=int, default=6)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}")
    ds = load_dataset()
    models = {}
    for path in args.run:
        models[path] = RunDir.open(path).load_model()[0]
    if not models:
        for name in ("quick", "seed-model-a"):
            result = train(recipe(name), DataSpec(), runs_root="runs/bench", dataset=ds, log=None)
            print(f"trained {name}: {result.run} (test accuracy {result.metrics['test_acc']:.4f})", flush=True)
            models[name] = result.model
    for name, model in models.items():
        density(model, name, ds)
        evaluate(model, name, ds, args.max_groups)


if __name__ == "__main__":
    main()
