"""Read time and peak memory of every source, on the full 70,000 Fashion-MNIST images (and colour digits).

Writes the Fashion-MNIST archives' images as each source once (into ``--work``, default a
folder under the system's temporary folder; reused when present): the seeds' CSV folder,
Kaggle's CSV files (train and test), the same as one ``.csv.gz`` with a split column, a Parquet
table of pixel columns, a Hugging Face Parquet table of PNG bytes, an image folder of PNG
files (``train/<label>/``, ``test/<label>/``) and a ``.npz``; plus the colour digits (scikit-learn's
8 x 8 digits upscaled to 32 x 32, a random hue each) as an image folder under a grouping of the
ten digits. Each read runs in a fresh process: its time, and its peak memory above the
process's memory before the read (Linux's ``VmHWM`` after resetting it, minus ``VmRSS``), against the targets: within 2x the CSV
reader's time, within 1.5x the images' size.

    python bench/sources_bench.py [--work DIR] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _kinds import cpu_line  # noqa: E402

_READ = r"""
import json, sys, time
from twistfm.data import DataSpec
import numpy, PIL.Image, pandas, pyarrow.parquet  # imported before the baseline: every reader may use them

def status(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(key + ":"))

spec = DataSpec(**json.loads(sys.argv[1]))
with open("/proc/self/clear_refs", "w") as handle:  # reset the high-water mark to the memory in use now
    handle.write("5")
before = status("VmRSS")
start = time.perf_counter()
data = spec.load_full()
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({"seconds": seconds, "peak_mib": (peak - before) / 1024,
                  "images_mib": (data.x_train.nbytes + data.x_test.nbytes) / 2**20,
                  "n": len(data.x_train) + len(data.x_test), "shape": list(data.x_train.shape[1:])}))
"""


def build(work: Path) -> dict[str, dict]:
    """Write every source once; return each one's DataSpec fields."""
    from sources_data import colour_digit_dataset
    from twistfm.data import load_dataset
    from twistfm.data.csv import export_csv
    from twistfm.data.writers import write_image_folder, write_image_table, write_npz, write_pixel_table

    data = load_dataset()
    sources = {
        "csv-dir (seed CSV)": ({"csv_dir": str(work / "csv")}, lambda p: export_csv(data, p)),
        "table: Kaggle CSV, 2 files": ({"table": str(work / "kaggle_train.csv"), "test_table": str(work / "kaggle_test.csv")},
                                       lambda p: (write_pixel_table(data, work / "kaggle_train.csv", "train"),
                                                  write_pixel_table(data, work / "kaggle_test.csv", "test"))),
        "table: Kaggle .csv.gz, split column": ({"table": str(work / "kaggle.csv.gz")},
                                                lambda p: write_pixel_table(data, p["table"])),
        "table: pixel Parquet": ({"table": str(work / "pixels.parquet")}, lambda p: write_pixel_table(data, p["table"])),
        "table: Hugging Face Parquet (PNG)": ({"table": str(work / "hf.parquet")},
                                              lambda p: write_image_table(data, p["table"])),
        "images: PNG folder train/test": ({"images": str(work / "images")},
                                          lambda p: write_image_folder(data, p["images"])),
        "arrays: .npz": ({"arrays": str(work / "fashion.npz")}, lambda p: write_npz(data, p["arrays"])),
        "images: colour digits 32x32 (1,797)": ({"images": str(work / "digits")},
                                                lambda p: write_image_folder(colour_digit_dataset(1437, 360)[0],
                                                                             p["images"], splits=False)),
    }
    specs = {}
    for name, (spec, write) in sources.items():
        marker = work / (".done-" + re.sub(r"[^a-z0-9]+", "-", name.lower()))
        if not marker.exists():
            start = time.perf_counter()
            write(work / "csv" if "csv_dir" in spec else spec)
            marker.write_text("written")
            print(f"wrote {name} in {time.perf_counter() - start:.0f}s", flush=True)
        specs[name] = spec
    return specs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "twistfm-sources-bench")
    parser.add_argument("--repeat", type=int, default=2, help="reads of each source; the fastest is shown")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(cpu_line(), flush=True)
    specs = build(args.work)
    rows = {}
    for name, spec in specs.items():
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", _READ, json.dumps(spec)], capture_output=True, text=True,
                                 check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        rows[name] = min(runs, key=lambda r: r["seconds"])
    csv_seconds = rows["csv-dir (seed CSV)"]["seconds"]
    print(f"{'source':<40}{'images':>8}{'shape':>14}{'read s':>9}{'x CSV':>7}{'peak MiB':>10}{'x images':>9}  targets")
    for name, r in rows.items():
        time_ratio, memory_ratio = r["seconds"] / csv_seconds, r["peak_mib"] / r["images_mib"]
        verdict = ("time ok" if time_ratio <= 2 else "time MISSED") + ", " + (
            "memory ok" if memory_ratio <= 1.5 else "memory MISSED")
        print(f"{name:<40}{r['n']:>8,}{'x'.join(map(str, r['shape'])):>14}{r['seconds']:>9.2f}{time_ratio:>7.2f}"
              f"{r['peak_mib']:>10.0f}{memory_ratio:>9.2f}  {verdict}")


if __name__ == "__main__":
    main()
