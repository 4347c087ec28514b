"""Every bad or odd input of the reliability issue, run through the real command line.

Usage: python bench/reliability_cases.py

Prints one Markdown row per case: what was tried, the exit code, and the first line the
command printed on stderr (or the result, for the cases that must succeed). It builds
small synthetic data in a temporary folder; the export cases use the installed
Fashion-MNIST archives.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import split_dataset, synthetic_images, write_csv_dir  # noqa: E402

EXE = str(Path(sys.executable).with_name("twistfm"))
HEADER = ",".join(str(i) for i in range(784))


def run(args: list[str], cwd: Path, shell_prefix: str = "") -> tuple[int, str]:
    env = {**os.environ, "CI": "1"}
    if shell_prefix:
        proc = subprocess.run(["bash", "-c", f"{shell_prefix}; exec {EXE} " + " ".join(args)], capture_output=True,
                              text=True, cwd=cwd, env=env, timeout=600)
    else:
        proc = subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    lines = [line for line in proc.stderr.splitlines() if line.startswith(("error", "stopped", "Traceback"))]
    if "Traceback" in proc.stderr:
        return proc.returncode, "TRACEBACK: " + proc.stderr.strip().splitlines()[-1]
    if lines:
        return proc.returncode, lines[0]
    notes = [line for line in proc.stderr.splitlines() if "asked for" in line or "too large" in line]
    totals = [line.split("│")[2:4] for line in proc.stdout.splitlines() if "total" in line]
    counts = f" ({totals[0][0].strip()} train / {totals[0][1].strip()} test images)" if totals else ""
    return proc.returncode, "ok" + counts + "".join(f"; said: {n}" for n in notes)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="twistfm-cases-"))
    x, y = synthetic_images(800, 3, seed=1)
    good = write_csv_dir(tmp / "good", split_dataset(x, y, 600))
    code, line = run(["train", "cm1", "--epochs", "2", "--csv-dir", str(good), "--runs", "runs"], tmp)
    assert code == 0, line
    trained = next((tmp / "runs").iterdir())
    other = write_csv_dir(tmp / "other", split_dataset(*synthetic_images(800, 3, seed=2), 600))

    def folder(name: str, edit: Callable[[Path], None]) -> str:
        target = tmp / name
        shutil.copytree(good, target)
        edit(target)
        return str(target)

    def run_copy(name: str, edit: Callable[[Path], None]) -> str:
        target = tmp / name
        shutil.copytree(trained, target, symlinks=True)
        edit(target)
        return str(target)

    def edit_json(file: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
        def edit(run: Path) -> None:
            obj = json.loads((run / file).read_text())
            change(obj)
            (run / file).write_text(json.dumps(obj))
        return edit

    body = lambda d, split="train": (d / f"x_{split}.csv").read_text().split("\n", 1)[1]  # noqa: E731
    labels = lambda d, split="train": (d / f"y_{split}.csv").read_text().split("\n")[1:]  # noqa: E731
    bad_first = ["12"] * 784
    bad_first[4] = "12a"
    (tmp / "fifo").mkdir()
    for name in ("x_test.csv", "y_train.csv", "y_test.csv"):
        shutil.copy(good / name, tmp / "fifo" / name)
    os.mkfifo(tmp / "fifo" / "x_train.csv")
    (tmp / "a-file").write_text("x")

    cases: list[tuple[str, list[str], str]] = [
        ("y with header '0' and one label missing",
         ["data", "info", "--csv-dir", folder("y-missing", lambda d: (d / "y_train.csv").write_text(
             "\n".join(["0", *labels(d)[:-2]]) + "\n"))], ""),
        ("y without header, one extra row (x without header)",
         ["data", "info", "--csv-dir", folder("y-extra", lambda d: (
             (d / "x_train.csv").write_text(body(d)), (d / "y_train.csv").write_text(
                 "\n".join(["1", *labels(d)]))))], ""),
        ("first x row mostly integers, one bad cell '12a'",
         ["data", "info", "--csv-dir", folder("bad-first", lambda d: (d / "x_train.csv").write_text(
             ",".join(bad_first) + "\n" + body(d)))], ""),
        ("UTF-8 BOM and no header (x and y)",
         ["data", "info", "--csv-dir", folder("bom", lambda d: (
             (d / "x_train.csv").write_bytes(b"\xef\xbb\xbf" + body(d).encode()),
             (d / "y_train.csv").write_bytes(b"\xef\xbb\xbf" + "\n".join(labels(d)).encode())))], ""),
        ("--n-train -1", ["train", "cm1", "--n-train", "-1", "--csv-dir", str(good)], ""),
        ("--n-test -5", ["train", "cm1", "--n-test", "-5", "--csv-dir", str(good)], ""),
        ("--n-test 0", ["train", "cm1", "--n-test", "0", "--csv-dir", str(good)], ""),
        ("--n-train 100000 on 600 rows (records 600)",
         ["train", "cm1", "--epochs", "1", "--n-train", "100000", "--csv-dir", str(good), "--runs", "big"], ""),
        ("--lr inf", ["train", "cm1", "--lr", "inf", "--csv-dir", str(good)], ""),
        ("--weight-decay inf", ["train", "cm1", "--weight-decay", "inf", "--csv-dir", str(good)], ""),
        ("a run that diverges (--lr 1e30)", ["train", "cm1", "--lr", "1e30", "--epochs", "1", "--csv-dir", str(good),
                                             "--runs", "div"], ""),
        ("analyse after the CSV folder was replaced by 3-label data of other images",
         ["analyze", run_copy("changed", edit_json("config.json", lambda c: c["data"].update(csv_dir=str(other))))], ""),
        ("encode after the data folder was removed",
         ["encode", run_copy("gone", edit_json("config.json", lambda c: c["data"].update(csv_dir=str(tmp / "gone-data"))))],
         ""),
        ("--perplexity 1e6", ["analyze", run_copy("perplexity", lambda r: None), "--perplexity", "1e6"], ""),
        ("train --resume RUN --epochs 9 --lr 0.5", ["train", "--resume", str(trained), "--epochs", "9", "--lr", "0.5"], ""),
        ("checkpoint claiming 9 of 2 epochs", ["train", "--resume", run_copy("nine", lambda r: (
            (r / "model.safetensors").unlink(), (r / "checkpoint.safetensors").write_bytes(b"x"),
            (r / "checkpoint.json").write_text(json.dumps({"epochs_done": 9, "history": [
                {k: (e if k == "epoch" else 0.5) for k in (
                    "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "lr",
                    "epoch_time", "eval_time")} for e in range(1, 10)]}))))], ""),
        ("a pixel written 0000", ["data", "info", "--csv-dir", folder("zeros", lambda d: (d / "x_train.csv").write_text(
            HEADER + "\n" + ",".join(["0000"] * 784) + "\n" + body(d).split("\n", 1)[1]))], ""),
        ("--seed 18446744073709551616", ["train", "cm1", "--seed", "18446744073709551616", "--csv-dir", str(good)], ""),
        *[(f"--model-arg {a}", ["train", "tfm-small", "--model-arg", a, "--csv-dir", str(good), "--runs", "ma"], "")
          for a in ("width=0", "width=-1", "width=2.5", "dropout=2", "width=abc")],
        ("--runs pointing at a file", ["train", "cm1", "--csv-dir", str(good), "--runs", str(tmp / "a-file")], ""),
        ("--runs below a file", ["train", "cm1", "--csv-dir", str(good), "--runs", str(tmp / "a-file" / "x")], ""),
        ('model.json with "num_classes": "5"',
         ["layers", run_copy("nc", edit_json("model.json", lambda m: m.update(num_classes="5")))], ""),
        ('model.json with "args": [1, 2]',
         ["layers", run_copy("args", edit_json("model.json", lambda m: m.update(args=[1, 2])))], ""),
        ("model.json with label_values shorter than the classes",
         ["layers", run_copy("lv", edit_json("model.json", lambda m: m.update(label_values=[0])))], ""),
        ("config.json with n_train NaN",
         ["encode", run_copy("nan", edit_json("config.json", lambda c: c["data"].update(n_train=float("nan"))))], ""),
        ('config.json with n_train "all"',
         ["encode", run_copy("all", edit_json("config.json", lambda c: c["data"].update(n_train="all")))], ""),
        ("analyze --seed -1", ["analyze", str(trained), "--seed", "-1"], ""),
        ("analyze --eps nan", ["analyze", str(trained), "--eps", "nan"], ""),
        ("analyze --min-samples 100000", ["analyze", str(trained), "--min-samples", "100000"], ""),
        ("analyze --umap --k 3 without UMAP installed", ["analyze", str(trained), "--umap", "--k", "3"], ""),
        ("data export --out naming a file", ["data", "export", "--out", str(tmp / "a-file")], ""),
        ("data export --out below /dev/null", ["data", "export", "--out", "/dev/null/x"], ""),
        ("data export under ulimit -f 20000 (KiB)", ["data", "export", "--out", str(tmp / "limited")], "ulimit -f 20000"),
        ("training under ulimit -f 100 (KiB)", ["train", "cm1", "--csv-dir", str(good), "--runs", "lim"], "ulimit -f 100"),
        ("a named pipe as x_train.csv", ["data", "info", "--csv-dir", str(tmp / "fifo")], ""),
        ("tab-separated x_train.csv", ["data", "info", "--csv-dir", folder("tabs", lambda d: (d / "x_train.csv").write_text(
            body(d).replace(",", "\t")))], ""),
        ("semicolon-separated x_train.csv", ["data", "info", "--csv-dir", folder("semi", lambda d: (
            d / "x_train.csv").write_text(body(d).replace(",", ";")))], ""),
        ("binary junk as x_train.csv", ["data", "info", "--csv-dir", folder("junk", lambda d: (
            d / "x_train.csv").write_bytes(bytes(np.random.default_rng(0).integers(128, 256, 5000, dtype=np.uint8))))], ""),
        ("gzip-compressed file named x_train.csv", ["data", "info", "--csv-dir", folder("gz", lambda d: (
            d / "x_train.csv").write_bytes(gzip.compress((d / "x_train.csv").read_bytes())))], ""),
        ("x_train.csv.gz instead of x_train.csv", ["data", "info", "--csv-dir", folder("gzok", lambda d: (
            (d / "x_train.csv.gz").write_bytes(gzip.compress((d / "x_train.csv").read_bytes())),
            (d / "x_train.csv").unlink()))], ""),
        ("NUL bytes in x_train.csv", ["data", "info", "--csv-dir", folder("nul", lambda d: (d / "x_train.csv").write_bytes(
            (d / "x_train.csv").read_bytes()[:5000] + b"\x00" + (d / "x_train.csv").read_bytes()[5000:]))], ""),
        ("CR-only line ends", ["data", "info", "--csv-dir", folder("cr", lambda d: [
            (d / f).write_bytes((d / f).read_bytes().replace(b"\n", b"\r")) for f in ("x_train.csv", "y_train.csv")])], ""),
    ]
    print("| case | exit | what the command said |")
    print("|---|---|---|")
    for name, args, prefix in cases:
        code, line = run(args, tmp, prefix)
        line = line.replace(str(tmp), "TMP").replace("|", "\\|")
        print(f"| {name} | {code} | {line} |", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
