"""The study in one command, timed: ``twistfm run`` (a preset) with its wall time and peak memory.

Usage: python bench/study_bench.py [--preset quick] [--runs runs/bench] [--kinds native avx2]

Runs the study in a child process and prints its wall time (target for the quick preset: 4
minutes on an idle 2-core machine), its peak resident memory, each model's test accuracy
and precision, the report's size, each model's training seconds, and the study's log with
the second at which each line came (where the time goes). Every figure is printed for each
kind of CPU (the machine as it is, and AVX2 only), one after the other (``bench/_kinds.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _kinds import main_for_kinds

EXE = str(Path(sys.executable).with_name("twistfm"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--runs", default="runs/bench")
    main_for_kinds(parser, study)


def study(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    child = subprocess.Popen([EXE, "run", "--preset", args.preset, "--runs", args.runs], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "CI": "1"})
    timeline = [(time.perf_counter() - start, line.rstrip()) for line in child.stderr]  # when each stage said so
    stdout = child.stdout.read()
    child.wait()
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    if child.returncode != 0:
        raise SystemExit("\n".join(line for _, line in timeline[-30:]))
    report = Path(stdout.strip().splitlines()[-1].removeprefix("report: "))
    summary = json.loads((report.parent / "summary.json").read_text())
    print(f"twistfm run --preset {args.preset}: wall {wall / 60:.2f} min, peak memory {peak:.2f} GiB, "
          f"report {report.stat().st_size / 1e6:.1f} MB ({report.parent})")
    for row in summary["comparison"]:
        run = report.parent / "compare" / row["run"]
        precision = json.loads((run / "metrics.json").read_text()).get("precision", "?")
        print(f"  {row['model']}: test accuracy {row['test_acc']:.4f}, training {row['training_seconds']:.0f} s "
              f"in {precision}")
    print(f"  study's own elapsed time: {summary['elapsed_seconds']:.0f} s")
    print("  the study's log, with the seconds since the start at which each line came:")
    for seconds, line in timeline:
        print(f"  {seconds:6.1f} s  {line}")

if __name__ == "__main__":
    main()
