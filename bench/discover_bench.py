"""Discovery on groupings it was not tuned on: counts, agreement with the classes, recovery, time.

Usage: python bench/discover_bench.py [--part tune|report] [--cases seed fashion digits]
       [--seeds 0 1 2] [--seed-models quick seed-model-a] [--cache runs/bench/discover-cache]
       [--count held-out|whole] [--threshold T] [--layers pool1 ...]

A case is one grouping of one image set and a model trained on its labels. The cases:

- ``seed``: Twisted Fashion-MNIST (the seeds' grouping), for each model of ``--seed-models``
  trained with ``--seeds`` as the study trains it;
- ``fashion``: random groupings of the 10 Fashion-MNIST classes into 3-6 labels, drawn by
  ``bench/_groupings.py`` from generator seeds: ``--part tune`` uses the seeds choices may be
  made on, ``--part report`` the held-out ones (never looked at while choosing);
- ``digits``: scikit-learn's bundled digits (28 x 28), under random groupings of the same seeds.

Each model is trained in memory (the quick recipe; 40 epochs on the 899 digits) and its test
encodings are cached, so a second run re-times only the discovery. For every case it prints,
per label, the groups found blind against the classes behind it, then: the labels whose count
is exact, the mean within-label ARI, the **fine-class recovery accuracy** (every test image's
(label, group) matched one-to-one to the original classes by the Hungarian method), the
seconds discovery took; and, the labels ignored, the number of groups chosen blind on the
whole test set with its accuracy (Hungarian, one-to-one) and NMI against the classes, beside
N2D's 0.672 / 0.684 on Fashion-MNIST. A summary over the cases of each kind ends the output.
The original classes only score; they never choose anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _groupings import REPORT_SEEDS, TUNE_SEEDS, digits, random_grouping
from _kinds import cpu_line
from sklearn.metrics import normalized_mutual_info_score

from twistfm.analysis.discover import COUNTS, THRESHOLD, discover
from twistfm.analysis.metrics import recovery_accuracy
from twistfm.data import CLASS_NAMES, MYSTERY_OF_CLASS, Dataset, load_original
from twistfm.encode import candidate_layers, encode_layers
from twistfm.recipes import recipe
from twistfm.train import fit

N2D = {"accuracy": 0.672, "nmi": 0.684}


@dataclass
class Case:
    """One grouping of one image set, and the recipe its model is trained with."""

    kind: str
    name: str
    grouping: np.ndarray
    model: str
    seed: int


def cases(args: argparse.Namespace) -> list[Case]:
    """The cases asked for, in order."""
    out: list[Case] = []
    seeds = TUNE_SEEDS if args.part == "tune" else REPORT_SEEDS
    if args.groupings:
        if not set(args.groupings) <= set(seeds):
            raise SystemExit(f"--groupings must be among the {args.part} part's seeds {list(seeds)}")
        seeds = tuple(args.groupings)
    if "seed" in args.cases:
        out += [Case("seed", f"twisted {m} seed {s}", np.asarray(MYSTERY_OF_CLASS), m, s)
                for m in args.seed_models for s in args.seeds]
    if "fashion" in args.cases:
        out += [Case("fashion", f"fashion grouping {g}", random_grouping(g), "quick", 0) for g in seeds]
    if "digits" in args.cases:
        out += [Case("digits", f"digits grouping {g}", random_grouping(g), "quick", 0) for g in seeds]
    return out


def images(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, class_train, x_test, class_test`` of the case's image set."""
    if kind == "digits":
        return digits()
    original = load_original()
    return original.x_train, original.class_train, original.x_test, original.class_test


def encodings(case: Case, cache: Path) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
    """The test images' encodings at the model's candidate layers, and their classes (trained and cached on first use)."""
    key = hashlib.sha256(json.dumps([case.kind, case.grouping.tolist(), case.model, case.seed]).encode()).hexdigest()[:16]
    path = cache / f"{case.kind}-{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            layers = {k[len("layer:"):]: stored[k].astype(np.float32) for k in stored.files if k.startswith("layer:")}
            return layers, stored["classes"], json.loads(str(stored["info"]))
    x_train, c_train, x_test, c_test = images(case.kind)
    g = case.grouping
    dataset = Dataset.from_arrays(x_train, g[c_train], x_test, g[c_test], source=case.name)
    overrides = {"epochs": 40} if case.kind == "digits" else {}
    start = time.perf_counter()
    result = fit(recipe(case.model, seed=case.seed, **overrides), dataset, log=None)
    info = {"train_seconds": time.perf_counter() - start, "test_acc": result.metrics["test_acc"],
            "layers": candidate_layers(result.model)}
    layers = {k: v.astype(np.float16) for k, v in encode_layers(result.model, x_test, info["layers"])}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, info=json.dumps(info), classes=c_test, **{f"layer:{k}": v for k, v in layers.items()})
    # the cached precision on first use too, so that a first run and a re-run give the same figures
    return {k: v.astype(np.float32) for k, v in layers.items()}, c_test, info


def report_case(case: Case, args: argparse.Namespace) -> dict:
    layers, classes, info = encodings(case, Path(args.cache))
    labels = case.grouping[classes]
    chosen = args.layers or [info["layers"][0]]
    X = np.hstack([layers[name] for name in chosen]) if len(chosen) > 1 else layers[chosen[0]]
    start = time.perf_counter()
    found = discover(X, labels, classes, layer="+".join(chosen), count=args.count, threshold=args.threshold,
                     class_names=[str(c) for c in range(10)] if case.kind == "digits" else CLASS_NAMES)
    seconds = time.perf_counter() - start
    recovery = recovery_accuracy(labels * 100 + found.group, classes)
    overall_acc = recovery_accuracy(found.overall_group, classes)
    overall_nmi = normalized_mutual_info_score(classes, found.overall_group)
    print(f"\n## {case.name} ({case.model}, seed {case.seed}; test accuracy {info['test_acc']:.4f}, "
          f"trained in {info['train_seconds']:.0f} s)\n")
    print("| label | classes behind it | groups found | held-out curve | ARI | groups: size, looks like |")
    print("|---|---|---|---|---|---|")
    for lg in found.per_label:
        behind = ", ".join(str(c) for c in np.flatnonzero(case.grouping == lg.label))
        curve = " ".join(f"{s:.2f}" for s in lg.count.scores)
        groups = "; ".join(f"{g.size} {g.looks_like} {g.share:.0%}" for g in lg.groups)
        ari = "-" if lg.ari is None else f"{lg.ari:.3f}"
        print(f"| {lg.label} | {behind} | {len(lg.groups)} (true {lg.true_count}) | {curve} | {ari} | {groups} |")
    row = {"kind": case.kind, "labels": len(found.per_label), "exact": found.exact, "ari": found.mean_ari,
           "recovery": recovery, "seconds": seconds, "overall_k": found.overall.chosen, "overall_acc": overall_acc,
           "overall_nmi": overall_nmi}
    print(f"\nexact counts {found.exact} of {len(found.per_label)}; mean within-label ARI "
          f"{'-' if found.mean_ari is None else f'{found.mean_ari:.3f}'}; fine-class recovery {recovery:.3f}; "
          f"discovery {seconds:.1f} s (layer {found.layer}). Labels ignored: {found.overall.chosen} groups, "
          f"accuracy {overall_acc:.3f}, NMI {overall_nmi:.3f} (N2D: {N2D['accuracy']} / {N2D['nmi']})", flush=True)
    return row


def summary(rows: list[dict]) -> None:
    print("\n## Summary\n")
    print("| cases | labels | counts exact | mean within-label ARI | mean fine-class recovery | mean seconds | "
          "labels ignored: mean accuracy | mean NMI |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in dict.fromkeys(r["kind"] for r in rows):
        mine = [r for r in rows if r["kind"] == kind]
        labels, exact = sum(r["labels"] for r in mine), sum(r["exact"] for r in mine)
        aris = [r["ari"] for r in mine if r["ari"] is not None]
        print(f"| {kind} ({len(mine)}) | {labels} | {exact} ({exact / labels:.0%}) | "
              f"{np.mean(aris) if aris else float('nan'):.3f} | {np.mean([r['recovery'] for r in mine]):.3f} | "
              f"{np.mean([r['seconds'] for r in mine]):.1f} | {np.mean([r['overall_acc'] for r in mine]):.3f} | "
              f"{np.mean([r['overall_nmi'] for r in mine]):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("tune", "report"), default="report",
                        help="the generator seeds of the random groupings: tune (choices are made on them) or "
                             "report (held out)")
    parser.add_argument("--cases", nargs="+", choices=("seed", "fashion", "digits"), default=["seed", "fashion", "digits"])
    parser.add_argument("--groupings", nargs="+", type=int, default=None,
                        help="only these generator seeds of the part (default: all of them)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds of the seed grouping")
    parser.add_argument("--seed-models", nargs="+", default=["quick", "seed-model-a"])
    parser.add_argument("--cache", default="runs/bench/discover-cache")
    parser.add_argument("--count", choices=COUNTS, default=COUNTS[0])
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--layers", nargs="+", default=None, help="encoding layers (default: the first candidate)")
    parser.add_argument("--train-only", action="store_true", help="only train and cache the cases' models")
    args = parser.parse_args()
    print(cpu_line(), flush=True)
    seeds = args.groupings or list(TUNE_SEEDS if args.part == "tune" else REPORT_SEEDS)
    print(f"part: {args.part} (generator seeds {seeds}); "
          f"count {args.count}, threshold {args.threshold}", flush=True)
    if args.train_only:
        for case in cases(args):
            _, _, info = encodings(case, Path(args.cache))
            print(f"{case.name} ({case.model}, seed {case.seed}): test accuracy {info['test_acc']:.4f}, trained in "
                  f"{info['train_seconds']:.0f} s", flush=True)
        return
    rows = [report_case(case, args) for case in cases(args)]
    summary(rows)


if __name__ == "__main__":
    sys.exit(main())
