"""Peak memory: reading the full seed CSV set, and encoding all 70,000 images.

Usage: python bench/memory_bench.py

Each part runs in a fresh child process and its peak resident set size (ru_maxrss) is
printed; the target is under 4 GiB for each.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

PARTS = {
    "read the full CSV set": """
from twistfm.data import read_csv_dir
ds = read_csv_dir({csv!r})
print(len(ds.x_train) + len(ds.x_test), "images")
""",
    "encode 70,000 images at cm1's widest dense input (flatten, 6272 wide)": """
from twistfm.data import load_dataset
from twistfm.encode import encode_to_npy
from twistfm.models import create_model
import numpy as np
ds = load_dataset()
x = np.concatenate([ds.x_train, ds.x_test])
print(encode_to_npy(create_model("cm1", 5), x, "flatten", {out!r}))
""",
    "encode 70,000 images at tfm-net's last hidden layer (dense1)": """
from twistfm.data import load_dataset
from twistfm.encode import encode_to_npy
from twistfm.models import create_model
import numpy as np
ds = load_dataset()
x = np.concatenate([ds.x_train, ds.x_test])
print(encode_to_npy(create_model("tfm-net", 5), x, "dense1", {out!r}))
""",
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "csv")
        subprocess.run([sys.executable, "-c", f"from twistfm.data import load_dataset, export_csv; "
                        f"export_csv(load_dataset(), {csv!r})"], check=True)
        print(f"machine: {os.cpu_count()} cores; limit under test: 4 GiB peak RSS")
        for name, code in PARTS.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", code.format(csv=csv, out=os.path.join(tmp, "enc.npy"))],
                                    capture_output=True, text=True, check=True)
            peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            note = "" if peak_kib > before else " (not above an earlier child's peak: see note)"
            print(f"{name}: peak RSS {peak_kib / 2**20:.2f} GiB in {time.perf_counter() - start:.1f}s "
                  f"({result.stdout.strip()}){note}")


if __name__ == "__main__":
    main()
