"""Every bad or odd input of the reliability issue, run through the real command line.

Usage: python bench/reliability_cases.py [--from CASE]

``--from CASE`` skips the cases before the first one whose name starts with CASE.

Prints one Markdown row per case: what was tried, the exit code, the first line the
command printed on stderr (or the result, for the cases that must succeed), and whether
anything on disk changed (a SHA-256 of every file and link under the work folder before and
after the case; the entries that changed are named). It builds small synthetic data in a
temporary folder; the export cases use the installed Fashion-MNIST archives.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
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


# Runs the command line with MODULE.NAME wrapped so that its first call sends SIGNAL to the process.
_SIGNAL_AT_A_CALL = """
import importlib, os, signal, sys
sig, module, name = getattr(signal, sys.argv[1]), sys.argv[2], sys.argv[3]
mod = importlib.import_module(module)
real = getattr(mod, name)
def wrapper(*args, **kwargs):
    os.kill(os.getpid(), sig)
    return real(*args, **kwargs)
setattr(mod, name, wrapper)
from twistfm.cli import main
sys.argv = ["twistfm", *sys.argv[4:]]
main()
"""


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def tree(folder: Path) -> dict[str, str]:
    """Every file and link under ``folder`` with its SHA-256 (or link target)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif not path.is_dir():
            out[key] = f"special {os.lstat(path).st_mode:o}"
    return out


def changes(before: dict[str, str], after: dict[str, str]) -> str:
    touched = sorted({k for k in before.keys() | after.keys() if before.get(k) != after.get(k)})
    if not touched:
        return "no"
    tops = sorted({k.split("/", 2)[0] + ("/" + k.split("/", 2)[1] if k.count("/") else "") for k in touched})
    return "yes: " + ", ".join(tops[:4]) + (f" (+{len(tops) - 4})" if len(tops) > 4 else "")


def run(args: list[str], cwd: Path, shell_prefix: str = "") -> tuple[int, str]:
    env = {**os.environ, "CI": "1"}
    if shell_prefix.startswith("signal "):  # "signal SIGTERM module name": a signal at a program point
        _, sig, module, name = shell_prefix.split()
        proc = subprocess.run([sys.executable, "-c", _SIGNAL_AT_A_CALL, sig, module, name, *args], capture_output=True,
                              text=True, cwd=cwd, env=env, timeout=600, preexec_fn=_default_signals)
    elif shell_prefix == "stdout /dev/full":
        with open("/dev/full", "w") as full:
            proc = subprocess.run([EXE, *args], stdout=full, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env,
                                  timeout=600)
        proc.stdout = ""
    elif shell_prefix:
        proc = subprocess.run(["bash", "-c", f"{shell_prefix}; exec {EXE} " + " ".join(args)], capture_output=True,
                              text=True, cwd=cwd, env=env, timeout=600)
    else:
        proc = subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    lines = [line for line in proc.stderr.splitlines() if line.startswith(("error", "stopped", "Traceback"))]
    if "Traceback" in proc.stderr:
        return proc.returncode, "TRACEBACK: " + proc.stderr.strip().splitlines()[-1]
    if lines:
        return proc.returncode, lines[0]
    notes = [line for line in proc.stderr.splitlines() if "asked for" in line or "too large" in line
             or line.startswith(("warning", "took over"))]
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
    analysed = tmp / "analysed"
    shutil.copytree(trained, analysed, symlinks=True)
    code, line = run(["analyze", str(analysed)], tmp)
    assert code == 0, line

    def analysed_copy(name: str, edit: Callable[[Path], None]) -> str:
        target = tmp / name
        shutil.copytree(analysed, target, symlinks=True)
        edit(target)
        return str(target)

    def outside(name: str) -> Path:
        folder = tmp / name
        (folder / "keep-me").mkdir(parents=True)
        (folder / "keep-me" / "data.txt").write_text("mine")
        return folder

    def versions_link(run: Path) -> None:
        shutil.rmtree(run / ".analysis-versions")
        (run / "analysis").unlink()
        (run / ".analysis-versions").symlink_to(outside("precious-versions"))

    def encoding_link(run: Path) -> None:
        shutil.rmtree(run / "encoding", ignore_errors=True)
        (run / "encoding").symlink_to(outside("precious-encoding"))

    def figures_link(run: Path) -> None:
        shutil.rmtree(run / "figures")
        (run / "figures").symlink_to(outside("precious-figures"))

    def foreign_analysis(run: Path) -> None:
        (run / "analysis").unlink()
        (run / "analysis").symlink_to((analysed / "analysis").resolve())

    def config_folder(run: Path) -> None:
        (run / "config.json").unlink()
        (run / "config.json").mkdir()

    def millions(run: Path) -> None:
        record = json.loads((run / "model.json").read_text())
        record.update(num_classes=3_000_000, label_values=list(range(3_000_000)))
        (run / "model.json").write_text(json.dumps(record))

    def header_only(run: Path) -> None:
        (run / "history.csv").write_text((run / "history.csv").read_text().splitlines()[0] + "\n")
        (run / "figures" / "loss.png").unlink()

    def array(name: str, change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
        def edit(run: Path) -> None:
            path = run / "analysis" / "arrays" / f"{name}.npy"
            np.save(path, change(np.load(path)))
        return edit

    def dead_temporary(run: Path) -> None:
        pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                 text=True).stdout)
        (run / "encoding").mkdir(exist_ok=True)
        (run / "encoding" / f".labels-test.npy.{pid}-abcd1234.tmp").write_bytes(b"x" * 10_000)

    def stale_lock(run: Path) -> None:
        subprocess.run([sys.executable, "-c", "import os, signal, sys\nfrom twistfm.runs import RunDir\n"
                        "with RunDir(sys.argv[1]).lock('twistfm analyze'):\n    os.kill(os.getpid(), signal.SIGKILL)",
                        str(run)], capture_output=True)

    live_lock_run = Path(analysed_copy("locked", lambda r: None))
    holder = subprocess.Popen([sys.executable, "-c", "import sys\nfrom twistfm.runs import RunDir\n"
                               "with RunDir(sys.argv[1]).lock('twistfm analyze'):\n    print('held', flush=True)\n"
                               "    sys.stdin.readline()", str(live_lock_run)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"

    def bomb(d: Path) -> None:
        (d / "x_train.csv").unlink()
        row = (",".join(["0"] * 784) + "\n").encode()
        with gzip.open(d / "x_train.csv.gz", "wb") as handle:
            for _ in range(200):
                handle.write(row * 669)

    def labelled(name: str, y_train: np.ndarray, y_test: np.ndarray) -> str:
        rng = np.random.default_rng(3)
        return str(write_csv_dir(tmp / name, split_dataset(
            rng.integers(0, 255, (len(y_train) + len(y_test), 28, 28)).astype(np.uint8),
            np.r_[y_train, y_test], len(y_train))))

    def special(kind: str) -> str:
        path = tmp / f"node-{kind}"
        if kind == "fifo":
            os.mkfifo(path)
        else:
            server = socket.socket(socket.AF_UNIX)
            server.bind(str(path))
            server.close()
        return str(path)

    markup = tmp / "a[/]b[bold]c"

    def copies_with_other_labels(name: str) -> str:
        rng = np.random.default_rng(4)
        x = rng.integers(0, 255, (400, 28, 28)).astype(np.uint8)
        y = np.arange(400) % 3
        x[310], y[310] = x[5], (y[5] + 1) % 3  # a training image again among the test images, another label
        x[11], y[11] = x[10], (y[10] + 1) % 3  # two training images alike, two labels
        return str(write_csv_dir(tmp / name, split_dataset(x, y, 300)))

    def sparse_weights(run: Path) -> None:
        os.truncate(run / "model.safetensors", 4 * 2**30)  # 4 GB, nearly all of it a hole

    mounts: list[Path] = []

    def small_disk(name: str, size_kb: int, run: Path | None = None) -> str:
        """A real filesystem (tmpfs) of ``size_kb`` kB more than ``run`` takes, holding a copy of it."""
        where = tmp / name
        where.mkdir()
        taken = sum(p.stat().st_size for p in run.rglob("*") if p.is_file() and not p.is_symlink()) // 1024 if run else 0
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={taken + size_kb}k", "tmpfs", str(where)],
                          capture_output=True).returncode != 0:
            return str(where / "cannot-mount-a-tmpfs-here")
        mounts.append(where)
        if run is not None:
            shutil.copytree(run, where / "run", symlinks=True)
        return str(where / "run") if run else str(where)

    reported = Path(analysed_copy("reported", lambda r: None))
    assert run(["report", str(reported)], tmp)[0] == 0
    study = ["run", "--epochs", "1", "--csv-dir", str(good)]

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
        # ---- round three: links, special files, markup, locks, interrupts, damaged runs, limits, odd labels
        (".analysis-versions a link to a folder outside the run: analyze",
         ["analyze", analysed_copy("l-versions", versions_link)], ""),
        ("encoding a link to a folder outside the run: encode", ["encode", analysed_copy("l-encoding", encoding_link)], ""),
        ("figures a link to a folder outside the run: discover",
         ["discover", analysed_copy("l-figures", figures_link)], ""),
        ("analysis linked to another run's analysis: export-table",
         ["export-table", analysed_copy("l-foreign", foreign_analysis), "--out", str(tmp / "foreign.parquet")], ""),
        ("export-table --out a named pipe", ["export-table", str(analysed), "--out", special("fifo")], ""),
        ("export-table --out a socket", ["export-table", str(analysed), "--out", special("socket")], ""),
        ("--runs path with [/] and [bold] in it",
         ["train", "cm1", "--epochs", "1", "--csv-dir", str(good), "--runs", str(markup)], ""),
        ("analyze while another process holds the run's lock", ["analyze", str(live_lock_run)], ""),
        ("encode after the lock holder was killed (kill -9)", ["encode", analysed_copy("stale", stale_lock)], ""),
        ("encode with a temporary file a killed process left", ["encode", analysed_copy("dead-tmp", dead_temporary)],
         ""),
        ("SIGTERM during encode", ["encode", analysed_copy("term-encode", lambda r: None)],
         "signal SIGTERM twistfm.encode encode_batches"),
        ("SIGTERM while train draws its figures",
         ["train", "cm1", "--epochs", "1", "--csv-dir", str(good), "--runs", "term"],
         "signal SIGTERM twistfm.report.figures png"),
        ("Ctrl-C outside the guarded blocks (layers)", ["layers", str(analysed)],
         "signal SIGINT twistfm.workflows.per_run layer_table"),
        ("Ctrl-C while discover draws (after a discovery)", ["discover", analysed_copy("disc", lambda r: subprocess.run(
            [EXE, "discover", str(r)], capture_output=True, env={**os.environ, "CI": "1"}))],
         "signal SIGINT twistfm.report.figures png"),
        ("config.json is a folder", ["layers", analysed_copy("cfg-dir", config_folder)], ""),
        ("model.json nested 200,000 deep", ["layers", analysed_copy("deep", lambda r: (r / "model.json").write_text(
            "[" * 200_000 + "]" * 200_000))], ""),
        ("model.json claiming 3,000,000 classes", ["layers", analysed_copy("millions", millions)], ""),
        ("history.csv with only its header (resume redraws)", ["train", "--resume", analysed_copy("hist", header_only)],
         ""),
        ("NaN t-SNE coordinates in the analysis", ["export-table", analysed_copy("nan-tsne", array(
            "projections.tsne.points", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, np.nan, a))),
            "--out", str(tmp / "t1.parquet")], ""),
        ("neighbour ids of 10^9 in the analysis", ["export-table", analysed_copy("nb", array(
            "neighbours.index", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, 10**9, a))),
            "--out", str(tmp / "t2.parquet")], ""),
        ("labels of 0.5 in the analysis", ["export-table", analysed_copy("half", array("labels", lambda a: a + 0.5)),
                                            "--out", str(tmp / "t3.parquet")], ""),
        ("x_train.csv.gz of 200 kB inflating to 200 MiB", ["data", "info", "--csv-dir", folder("bomb", bomb)], ""),
        ("stdout on /dev/full", ["models"], "stdout /dev/full"),
        ("2 labels", ["train", "cm1", "--epochs", "1", "--runs", "lab", "--csv-dir", labelled(
            "two", np.arange(300) % 2, np.arange(100) % 2)], ""),
        ("12 labels", ["train", "cm1", "--epochs", "1", "--runs", "lab", "--csv-dir", labelled(
            "twelve", np.arange(300) % 12, np.arange(100) % 12)], ""),
        ("sparse label values 7 and 1000", ["train", "cm1", "--epochs", "1", "--runs", "lab", "--csv-dir", labelled(
            "sparse", np.where(np.arange(300) % 2, 1000, 7), np.where(np.arange(100) % 2, 1000, 7))], ""),
        ("one label only", ["train", "cm1", "--epochs", "1", "--runs", "lab", "--csv-dir", labelled(
            "one", np.zeros(300, int), np.zeros(100, int))], ""),
        ("a label only in the test images", ["train", "cm1", "--epochs", "1", "--runs", "lab", "--csv-dir", labelled(
            "test-only", np.arange(300) % 3, np.arange(100) % 4)], ""),
        # ---- round three, continued
        ("copies of one image with different labels (train/test and train/train)",
         ["train", "cm1", "--epochs", "1", "--runs", "lab", "--csv-dir", copies_with_other_labels("copies")], ""),
        ("4 GB of sparse weights", ["layers", analysed_copy("sparse-weights", sparse_weights)], ""),
        ("SIGTERM during export-table", ["export-table", str(analysed), "--out", str(tmp / "term.parquet")],
         "signal SIGTERM twistfm.workflows.export _table_columns"),
        ("SIGTERM while report rebuilds a report", ["report", str(reported)],
         "signal SIGTERM twistfm.workflows.study explorer_part"),
        ("report while another process holds the run's lock", ["report", str(live_lock_run)], ""),
        ("SIGTERM while run trains", [*study, "--runs", "study-train"], "signal SIGTERM twistfm.training.loop lr_at"),
        ("SIGTERM while run analyses", [*study, "--runs", "study-analysis"],
         "signal SIGTERM twistfm.analysis.compute tsne"),
        ("SIGTERM while run writes its report", [*study, "--runs", "study-report"],
         "signal SIGTERM twistfm.workflows.study explorer_part"),
        ("SIGTERM during data export", ["data", "export", "--out", str(tmp / "term-export")],
         "signal SIGTERM twistfm.data.csv write_images_csv"),
        ("a full disk (tmpfs) during train", ["train", "cm1", "--epochs", "1", "--csv-dir", str(good), "--runs",
                                              small_disk("disk-train", 64)], ""),
        ("a full disk (tmpfs) during analyze", ["analyze", small_disk("disk-analyze", 400, trained)], ""),
        ("a full disk (tmpfs) during encode", ["encode", small_disk("disk-encode", 200, trained)], ""),
        ("a full disk (tmpfs) during report", ["report", small_disk("disk-report", 200, analysed)], ""),
        ("a full disk (tmpfs) during export-table",
         ["export-table", str(analysed), "--out", small_disk("disk-table", 16) + "/t.parquet"], ""),
    ]
    print("| case | exit | what the command said | changed on disk |")
    print("|---|---|---|---|")
    start = sys.argv[sys.argv.index("--from") + 1] if "--from" in sys.argv else ""
    first = next(i for i, (name, _, _) in enumerate(cases) if name.startswith(start))
    for name, args, prefix in cases[first:]:
        before = tree(tmp)
        code, line = run(args, tmp, prefix)
        changed = changes(before, tree(tmp))
        line = line.replace(str(tmp), "TMP").replace("|", "\\|")
        print(f"| {name} | {code} | {line} | {changed.replace('|', '/')} |", flush=True)
    holder.communicate("\n", timeout=60)
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
