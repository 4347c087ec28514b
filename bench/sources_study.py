"""The whole study (``twistfm run``) from each source: the same images give the same test accuracy.

Runs ``twistfm run`` (the quick preset unless ``--preset``) with one seed on the full Fashion-MNIST
written as the seeds' CSV folder, as Kaggle's two CSV files and as a Hugging Face Parquet table
(written by ``bench/sources_bench.py`` into ``--work``: run that first), and on the colour digits
image folder (labels named by a grouping of the ten digits twistfm has never seen). Prints, per
source, each model's test accuracy, the study's wall time, and whether the accuracies equal the
CSV folder's; and, for every source, whether the report's discovery and galleries are about that
source's labels (each label's name heads a discovery row and a gallery).

    python bench/sources_study.py [--work DIR] [--runs runs/bench/sources] [--preset quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kinds import cpu_line  # noqa: E402

#: Each source: its flags for ``twistfm run``, relative to the work folder.
SOURCES: dict[str, list[str]] = {
    "csv-dir": ["--csv-dir", "{work}/csv"],
    "kaggle-csv": ["--table", "{work}/kaggle_train.csv", "--test-table", "{work}/kaggle_test.csv"],
    "hf-parquet": ["--table", "{work}/hf.parquet"],
    "pixel-parquet": ["--table", "{work}/pixels.parquet"],
    "colour-digits": ["--images", "{work}/digits"],
}
#: The sources that hold the same images as the CSV folder, in the same order.
SAME_IMAGES = ("kaggle-csv", "hf-parquet", "pixel-parquet")


def run_source(name: str, work: Path, runs: Path, preset: str, seed: int) -> dict:
    """Run the study on one source; its accuracies, wall time and the report's label headings."""
    flags = [f.format(work=work) for f in SOURCES[name]]
    root = runs / name
    command = [sys.executable, "-m", "twistfm", "run", "--preset", preset, "--seed", str(seed), "--runs", str(root),
               *flags]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return {"name": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1], "seconds": seconds}
    study = max((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    summary = json.loads((study / "summary.json").read_text())
    report = (study / "report.html").read_text()
    return {"name": name, "seconds": seconds, "study": str(study),
            "accuracy": {row["model"]: row["test_acc"] for row in summary["comparison"]},
            "labels": _report_labels(report)}


def _report_labels(report: str) -> dict[str, list[str]]:
    """The label headings of the report's discovery table and its galleries, as written."""
    def section(anchor: str) -> str:
        match = re.search(rf'<section[^>]*id="{anchor}".*?</section>', report, re.S)
        return match.group(0) if match else ""

    def headings(text: str) -> list[str]:
        return sorted({html.unescape(t).strip() for t in re.findall(r"<(?:th|h3|h4|figcaption|td)[^>]*>(.*?)</", text)})

    return {"discovery": headings(section("inside")), "galleries": headings(section("galleries"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "twistfm-sources-bench")
    parser.add_argument("--runs", type=Path, default=Path("runs/bench/sources"))
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", choices=sorted(SOURCES), default=None)
    args = parser.parse_args()
    missing = [f for flags in SOURCES.values() for f in flags if "{work}" in f and not Path(f.format(work=args.work)).exists()]
    if missing:
        sys.exit(f"{missing[0]} is missing: run python bench/sources_bench.py --work {args.work} first")
    print(cpu_line(), flush=True)
    results = {}
    for name in args.only or list(SOURCES):
        result = results[name] = run_source(name, args.work, args.runs, args.preset, args.seed)
        if "error" in result:
            print(f"{name}: FAILED after {result['seconds']:.0f} s: {result['error']}", flush=True)
            continue
        accuracy = ", ".join(f"{m} {a:.2%}" for m, a in result["accuracy"].items())
        print(f"{name}: {accuracy}; {result['seconds'] / 60:.2f} min; {result['study']}", flush=True)
    base = results.get("csv-dir", {}).get("accuracy")
    for name in SAME_IMAGES:
        if base and "accuracy" in results.get(name, {}):
            same = results[name]["accuracy"] == base
            print(f"{name} vs csv-dir: {'same test accuracy' if same else 'DIFFERENT'} "
                  f"({results[name]['accuracy']} vs {base})")
    for name, result in results.items():
        if "labels" in result:
            print(f"{name}: discovery headings {result['labels']['discovery'][:12]}; "
                  f"gallery headings {result['labels']['galleries'][:12]}")


if __name__ == "__main__":
    main()
