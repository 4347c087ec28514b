"""Every experiment the seeds ran, trained with several seeds: our spread beside the seeds' own figure.

Usage: python bench/reproduce_bench.py [--seeds 5] [--out runs/bench/reproduce.json]
       python bench/reproduce_bench.py --study STUDY_DIR [--out ...]

Trains ``twistfm compare --preset seed --seeds N`` on the full Twisted Fashion-MNIST (or
reads the runs of a finished ``twistfm run --preset seed --seeds N`` study) and prints, for
each experiment, the figure the seed reported (and what kind of figure it is), then the
mean, standard deviation, minimum and maximum of our test accuracy over the seeds, and
whether the seed's figure lies within our range. The numbers are also written, with the
machine and the runs' folders, to a JSON file that ``bench/results_doc.py`` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from twistfm.data import DataSpec
from twistfm.recipes import compare_preset
from twistfm.workflows import compare

#: What each seed reported for each experiment, and what kind of figure it is (see docs/results.md).
SEED_FIGURES = {
    "cm1-adam": (0.9314, "test accuracy (seed 002's model.evaluate on the test set: 0.9314)"),
    "cm1-sgd": (0.9226, "seed 000's 'Accuracy of 92.26%' for its SGD default network; its text does not say on which "
                        "images"),
    "model-a": (0.9268, "test accuracy (seed 002's model.evaluate on the test set)"),
    "model-b": (0.9323, "test accuracy (seed 002's model.evaluate on the test set)"),
    "leaky": (0.9373, "seed 000's own count of test images right, 9,373 of 10,000 (it also reports 'accuracy: 94.07%', "
                      "the form of a Keras training log line)"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/reproduce.json"))
    parser.add_argument("--study", type=Path, help="a finished seed-preset study folder to read instead of training")
    args = parser.parse_args()
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    print(f"machine: {machine}", flush=True)
    start = time.perf_counter()
    if args.study:
        summary = json.loads((args.study / "summary.json").read_text())
        stats, rows, folder = summary["stats"], summary["comparison"], args.study
        args.seeds = max(r["seed"] for r in rows) - min(r["seed"] for r in rows) + 1
        command = (f"twistfm run --preset seed --seeds {args.seeds}, read by "
                   f"python bench/reproduce_bench.py --study {args.study}")
    else:
        comparison = compare(compare_preset("seed"), DataSpec(), seeds=args.seeds, runs_root="runs/bench", log=None)
        stats, rows, folder = comparison.stats, comparison.rows, comparison.folder
        command = f"python bench/reproduce_bench.py --seeds {args.seeds}"
    print("\n| experiment | seed's figure | ours: mean | sd | min | max | seed's figure within our range |")
    print("|---|---|---|---|---|---|---|")
    table = []
    for stat in stats:
        figure, kind = SEED_FIGURES[stat["model"]]
        inside = stat["test_acc_min"] <= figure <= stat["test_acc_max"]
        table.append({**stat, "seed_figure": figure, "seed_figure_kind": kind, "within_range": inside})
        print(f"| {stat['model']} | {figure:.2%} | {stat['test_acc_mean']:.2%} | {stat['test_acc_sd']:.2%} | "
              f"{stat['test_acc_min']:.2%} | {stat['test_acc_max']:.2%} | {'yes' if inside else 'no'} |")
    took = "" if args.study else f" trained in {(time.perf_counter() - start) / 60:.1f} min"
    print(f"\n{len(rows)} runs{took}; folder {folder}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "seeds": args.seeds, "folder": str(folder), "command": command,
                                    "stats": table, "runs": rows}, indent=1))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
