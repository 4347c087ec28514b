"""Discovery on Twisted Fashion-MNIST: blind counts, agreement with the classes, density clustering, time.

Usage: python bench/discover_bench.py [--run RUN ...]

For the quick preset's model and for model-a trained as seed 002 did (or for the runs
given), on the 10,000 test images:

- per label, the number of groups found blind against the number of classes behind it;
- the adjusted Rand index of the groups against the original classes, within each label
  and on average, and the whole-set count (Fashion-MNIST: 10);
- DBSCAN and HDBSCAN, as the analysis runs them (in the first 10 principal components of
  the last hidden layer, eps and min_samples chosen as the analysis chooses them), scored
  against the labels and the classes (ARI, NMI);
- the seconds ``twistfm discover`` takes (encoding, t-SNE, criterion; the target is 30 s).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from twistfm.analysis import DENSITY_DIMS, dbscan, hdbscan, principal_components
from twistfm.data import DataSpec, load_dataset
from twistfm.encode import default_layer, encode
from twistfm.pipeline import discover_run, train
from twistfm.recipes import recipe
from twistfm.runs import RunDir


def report(path: str, name: str) -> None:
    run = RunDir.open(path)
    model, _ = run.load_model()
    ds = load_dataset()
    start = time.perf_counter()
    found = discover_run(path, log=None)
    seconds = time.perf_counter() - start
    print(f"\n## {name} ({path})\n")
    print("| label | groups found | classes behind it | ARI groups vs classes | groups: size, looks like |")
    print("|---|---|---|---|---|")
    for lg in found.per_label:
        groups = "; ".join(f"{g.size} {g.looks_like} {g.share:.0%}" for g in lg.groups)
        ari = "-" if lg.ari is None else f"{lg.ari:.3f}"
        print(f"| {lg.label} | {len(lg.groups)} | {lg.true_count} | {ari} | {groups} |")
    print(f"\nexact blind counts: {found.exact} of {len(found.per_label)} labels; mean within-label ARI: "
          f"{found.mean_ari:.3f}; whole set: {found.kinds} kinds (classes: {found.overall_true}), labels ignored "
          f"{found.overall.chosen} groups, "
          f"ARI {found.overall_ari:.3f}; discover took {seconds:.1f} s (layer {found.layer})")
    Z = principal_components(encode(model, ds.x_test, default_layer(model)), DENSITY_DIMS)
    print(f"\n| density clustering of {default_layer(model)} | clusters | noise | ARI labels | NMI labels | "
          "ARI classes | NMI classes | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for cluster in (dbscan, hdbscan):
        start = time.perf_counter()
        result = cluster(Z, ds.y_test)
        seconds = time.perf_counter() - start
        s = result.scores
        shown = {k: v for k, v in result.params.items() if k != "eps_scan"}
        print(f"| {result.title} {shown} | {s['n_clusters']} | {s['noise']} | {s['ari']:.3f} | {s['nmi']:.3f} | "
              f"{adjusted_rand_score(ds.class_test, result.labels_):.3f} | "
              f"{normalized_mutual_info_score(ds.class_test, result.labels_):.3f} | {seconds:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs="*", default=[])
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    runs = {path: path for path in args.run}
    if not runs:
        for name in ("quick", "seed-model-a"):
            result = train(recipe(name), DataSpec(), runs_root="runs/bench", log=None)
            print(f"trained {name}: test accuracy {result.metrics['test_acc']:.4f} ({result.run})", flush=True)
            runs[name] = str(result.run)
    for name, path in runs.items():
        report(path, name)


if __name__ == "__main__":
    main()
