"""The study in one command, timed: ``twistfm run`` (a preset) with its wall time and peak memory.

Usage: python bench/study_bench.py [--preset quick] [--runs runs/bench]

Runs the study in a child process and prints its wall time (target for the quick preset: 4
minutes on an idle 2-core machine), its peak resident memory, each model's test accuracy,
the number of points in the explorer, the report's size, and the study's own timing of its
stages as the run folders record them (training seconds per model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).with_name("twistfm"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--runs", default="runs/bench")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    start = time.perf_counter()
    result = subprocess.run([EXE, "run", "--preset", args.preset, "--runs", args.runs], capture_output=True, text=True,
                            env={**os.environ, "CI": "1"})
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    report = Path(result.stdout.strip().splitlines()[-1].removeprefix("report: "))
    summary = json.loads((report.parent / "summary.json").read_text())
    print(f"twistfm run --preset {args.preset}: wall {wall / 60:.2f} min, peak memory {peak:.2f} GiB, "
          f"report {report.stat().st_size / 1e6:.1f} MB ({report.parent})")
    for row in summary["comparison"]:
        print(f"  {row['model']}: test accuracy {row['test_acc']:.4f}, training {row['training_seconds']:.0f} s")
    print(f"  study's own elapsed time: {summary['elapsed_seconds']:.0f} s")
    for line in result.stderr.splitlines():
        if line.startswith(("best layer", "discovery", "label ", "K-means", "DBSCAN", "HDBSCAN", "ambiguous")):
            print("  " + line)


if __name__ == "__main__":
    main()
