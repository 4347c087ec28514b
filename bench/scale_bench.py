"""Beyond one machine, measured on this one: two processes against two threads, and a 16-trial sweep.

Usage: python bench/scale_bench.py [throughput] [sweep]   (default: both)

throughput: one epoch of cm1 and of tfm-net (bfloat16) on 12,000 images, trained by one
process with 2 threads and by 2 processes with 1 thread each (torchrun through ``--nproc 2``,
the same global batch), side by side: images/s of each.

sweep: ``twistfm sweep bench/specs/sweep-fast.toml`` (16 trials of the fast recipe on 6,000
images, 6 epochs, 2 at a time, ASHA): the best validation accuracy, the wall time, and the
epochs early stopping saved (epochs run against 16 x 6).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

EXE = str(Path(sys.executable).with_name("twistfm"))
SPEC = Path(__file__).with_name("specs") / "sweep-fast.toml"


def images_per_second(args: list[str], runs: Path) -> float:
    result = subprocess.run([EXE, "train", *args, "--runs", str(runs)], capture_output=True, text=True,
                            env={**os.environ, "CI": "1"}, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return json.loads((run / "metrics.json").read_text())["train_images_per_second"]


def throughput() -> None:
    for model, batch in (("cm1", 64), ("tfm-net", 128)):
        common = [model, "--epochs", "1", "--n-train", "12000", "--n-test", "1000", "--val-split", "0",
                  "--precision", "bf16"]
        with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
            single = images_per_second([*common, "--batch-size", str(batch), "--threads", "2"], Path(one))
            double = images_per_second([*common, "--batch-size", str(batch // 2), "--nproc", "2"], Path(two))
        print(f"{model}, global batch {batch}: 1 process x 2 threads {single:,.0f} images/s; 2 processes x 1 thread "
              f"{double:,.0f} images/s ({double / single:.2f}x)", flush=True)


def sweep() -> None:
    with tempfile.TemporaryDirectory() as runs:
        start = time.perf_counter()
        result = subprocess.run([EXE, "sweep", str(SPEC), "--runs", runs], capture_output=True, text=True,
                                env={**os.environ, "CI": "1"}, timeout=4 * 3600)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(result.stderr[-2000:])
        (folder,) = Path(runs).iterdir()
        with open(folder / "sweep.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        epochs = sum(int(r["epochs"]) for r in rows)
        stopped = sum(r["stopped early"] == "True" for r in rows)
        print(f"sweep of {len(rows)} trials: best validation accuracy {rows[0]['best val_acc']} (trial "
              f"{rows[0]['trial']}); wall {wall / 60:.1f} min; {epochs} epochs run of {len(rows) * 6} ({stopped} trials "
              f"stopped early, {1 - epochs / (len(rows) * 6):.0%} of the epochs saved)")
        print(result.stdout.strip().splitlines()[-2])


def main() -> None:
    parts = sys.argv[1:] or ["throughput", "sweep"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    for part in parts:
        {"throughput": throughput, "sweep": sweep}[part]()


if __name__ == "__main__":
    main()
