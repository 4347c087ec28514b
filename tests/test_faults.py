"""Faults around a run folder: links that lead outside it, special files as --out, markup in paths, two
writers on one run, stale locks and temporary files, damaged run files, odd but valid labels."""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_cli_error, cli, make_dataset, split_dataset, synthetic_images, write_csv_dir


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> Path:
    """A trained and analysed run (module-wide: copy it before changing it)."""
    tmp = tmp_path_factory.mktemp("faults")
    x, y = synthetic_images(700, 3, seed=41)
    csv = write_csv_dir(tmp / "csv", split_dataset(x, y, 500))
    code, _, err = cli("train", "cm1", "--epochs", "1", "--csv-dir", str(csv), "--runs", str(tmp / "r"))
    assert code == 0, err
    run = next((tmp / "r").iterdir())
    code, _, err = cli("analyze", str(run))
    assert code == 0, err
    return run


def _copy(run: Path, where: Path) -> Path:
    where.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run, where, symlinks=True)
    return where


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) with its SHA-256: equal trees, equal dicts."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(folder))] = "-> " + os.readlink(path)
        elif path.is_file():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _outside_folder(tmp_path: Path) -> Path:
    outside = tmp_path / "precious"
    (outside / "keep-me").mkdir(parents=True)
    (outside / "keep-me" / "data.txt").write_text("mine")
    (outside / "also.txt").write_text("mine too")
    return outside


# ---------------------------------------------------------------- links that lead outside the run


def test_analyze_never_deletes_through_an_analysis_versions_link(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    outside = _outside_folder(tmp_path)
    shutil.rmtree(run / ".analysis-versions")
    (run / "analysis").unlink()
    (run / ".analysis-versions").symlink_to(outside)
    before = _tree(outside)
    assert_cli_error(cli("analyze", str(run)), f"{run / '.analysis-versions'}: leads outside the run folder")
    assert _tree(outside) == before


def test_encode_never_writes_through_an_encoding_link(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    outside = _outside_folder(tmp_path)
    shutil.rmtree(run / "encoding", ignore_errors=True)
    (run / "encoding").symlink_to(outside)
    before = _tree(outside)
    assert_cli_error(cli("encode", str(run)), f"{run / 'encoding'}: leads outside the run folder")
    assert _tree(outside) == before


def test_discover_never_writes_through_a_figures_link(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    outside = _outside_folder(tmp_path)
    shutil.rmtree(run / "figures")
    (run / "figures").symlink_to(outside)
    before = _tree(outside)
    assert_cli_error(cli("discover", str(run)), f"{run / 'figures'}: leads outside the run folder")
    assert _tree(outside) == before and not (run / "discovery.json").exists()


def test_an_analysis_link_to_another_runs_analysis_is_refused(tmp_path, analysed):
    other = _copy(analysed, tmp_path / "other")
    run = _copy(analysed, tmp_path / "run")
    (run / "analysis").unlink()
    (run / "analysis").symlink_to((other / "analysis").resolve())
    out = tmp_path / "t.parquet"
    assert_cli_error(cli("export-table", str(run), "--out", str(out)), f"{run / 'analysis'}: points to")
    assert not out.exists()


def test_a_config_json_link_to_another_folder_is_not_read(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    elsewhere = tmp_path / "elsewhere.json"
    shutil.copy(run / "config.json", elsewhere)
    (run / "config.json").unlink()
    (run / "config.json").symlink_to(elsewhere)
    assert_cli_error(cli("layers", str(run)), "config.json: leads outside the run folder")


# ---------------------------------------------------------------- --out onto special files


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_export_table_never_replaces_a_special_file(tmp_path, analysed, kind):
    target = tmp_path / "node"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
        server.close()
    expected = {"fifo": "named pipe (FIFO)", "socket": "socket"}[kind]
    assert_cli_error(cli("export-table", str(analysed), "--out", str(target)), f"{target}: is a {expected}")
    mode = os.lstat(target).st_mode
    assert (stat.S_ISFIFO if kind == "fifo" else stat.S_ISSOCK)(mode), "the special file is still there"


# ---------------------------------------------------------------- paths that look like markup


@pytest.mark.parametrize("name", ["a[/]b", "[bold]run[/bold]", "x[red]y:smile:"])
def test_paths_that_look_like_markup_print_as_they_are(tmp_path, analysed, name):
    run = _copy(analysed, tmp_path / name / "run")
    code, out, err = cli("encode", str(run))
    assert code == 0, err
    assert f"-> {run / 'encoding'}" in out, out


# ---------------------------------------------------------------- one writer per run folder

# Runs the command line with METHOD (module:Class.method) wrapped: on its first call it prints
# "paused <pid>" and waits for a line on stdin (the test's go-ahead), then goes on.
_PAUSE_AT = """
import importlib, os, sys
module, qualname = sys.argv[1].split(":")
owner_name, method = qualname.split(".")
owner = getattr(importlib.import_module(module), owner_name)
real = getattr(owner, method)

def paused(*args, **kwargs):
    print("paused", os.getpid(), flush=True)
    sys.stdin.readline()
    return real(*args, **kwargs)

setattr(owner, method, paused)
from twistfm.cli import main
sys.argv = ["twistfm", *sys.argv[2:]]
main()
"""


def _start_paused(method: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _PAUSE_AT, method, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "CI": "1"})
    ready, _, _ = select.select([proc.stdout], [], [], 300)
    if not ready:
        proc.kill()
        proc.communicate(timeout=60)
        pytest.fail("the first command never reached its program point")
    assert proc.stdout.readline().split() == ["paused", str(proc.pid)]
    return proc


def test_a_second_analysis_refuses_while_the_first_is_about_to_switch(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    first = _start_paused("twistfm.runs:RunDir._switch_analysis", "analyze", str(run))
    try:
        code, _, err = cli("analyze", str(run))
        assert_cli_error((code, "", err), f"{run}: in use by 'twistfm analyze' (PID {first.pid}")
        code, _, err = cli("encode", str(run))
        assert_cli_error((code, "", err), "in use by 'twistfm analyze'")
    finally:
        out, err = first.communicate("\n", timeout=300)
    assert first.returncode == 0, err
    assert (run / "analysis").resolve().parent == (run / ".analysis-versions").resolve()
    assert (run / "analysis" / "analysis.json").is_file(), "the analysis link is not left dangling"
    assert len(list((run / ".analysis-versions").iterdir())) == 1
    assert not (run / ".lock").exists(), "the lock is released"


_HOLD_UNTIL_TOLD = """
import sys
from twistfm.runs import RunDir
with RunDir(sys.argv[1]).lock("twistfm train --resume"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.parametrize("command", [["train", "--resume"], ["analyze"], ["discover"], ["encode"]])
def test_every_writer_refuses_at_once_while_another_holds_the_run(tmp_path, analysed, command):
    run = _copy(analysed, tmp_path / "run")
    before = _tree(run)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_UNTIL_TOLD, str(run)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([holder.stdout], [], [], 120)
        assert ready and holder.stdout.readline().strip() == "held"
        assert_cli_error(cli(*command, str(run)), f"{run}: in use by 'twistfm train --resume' (PID {holder.pid}")
        after = _tree(run)
        assert {k: v for k, v in after.items() if k != ".lock"} == before, "the refused command wrote nothing"
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0


_HOLD_AND_DIE = """
import os, signal, sys
from twistfm.runs import RunDir
with RunDir(sys.argv[1]).lock("twistfm analyze"):
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_lock_of_a_killed_command_is_taken_over_and_said(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    dead = subprocess.run([sys.executable, "-c", _HOLD_AND_DIE, str(run)], capture_output=True, timeout=120)
    assert dead.returncode == -signal.SIGKILL
    holder = json.loads((run / ".lock").read_text())
    code, _, err = cli("encode", str(run))
    assert code == 0, err
    assert (f"took over the lock of {run} left by 'twistfm analyze' (PID {holder['pid']} on {holder['host']}, "
            f"started {holder['started']}), which is no longer running") in err
    assert not (run / ".lock").exists()


# ---------------------------------------------------------------- damaged run files


def test_a_config_json_that_is_a_folder(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    (run / "config.json").unlink()
    (run / "config.json").mkdir()
    assert_cli_error(cli("layers", str(run)), f"{run / 'config.json'}: is a folder, not a file")


def test_deeply_nested_json(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    (run / "model.json").write_text("[" * 200_000 + "]" * 200_000)
    assert_cli_error(cli("layers", str(run)), f"{run / 'model.json'}: nested too deeply")


def test_a_model_json_claiming_millions_of_classes(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    record = json.loads((run / "model.json").read_text())
    record.update(num_classes=3_000_000, label_values=list(range(3_000_000)))
    (run / "model.json").write_text(json.dumps(record))
    assert_cli_error(cli("layers", str(run)), "claims 3,000,000 outputs")


def test_a_history_with_only_its_header(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    (run / "history.csv").write_text((run / "history.csv").read_text().splitlines()[0] + "\n")
    (run / "figures" / "loss.png").unlink()  # so that --resume redraws the figures from the history
    assert_cli_error(cli("train", "--resume", str(run)), f"{run / 'history.csv'}: holds no epoch")


@pytest.mark.parametrize("array, change, fragment", [
    ("projections.tsne.points", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, np.nan, a),
     "projections.tsne.points holds values that are not finite"),
    ("neighbours.index", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, 10**9, a),
     "neighbours.index holds ids outside"),
    ("labels", lambda a: a + 0.5, "labels holds float64 values, not integers"),
])
def test_analysis_arrays_with_impossible_values_are_refused(tmp_path, analysed, array, change, fragment):
    run = _copy(analysed, tmp_path / "run")
    path = run / "analysis" / "arrays" / f"{array}.npy"
    np.save(path, change(np.load(path)))
    out = tmp_path / "t.parquet"
    assert_cli_error(cli("export-table", str(run), "--out", str(out)), fragment)
    assert not out.exists()


# ---------------------------------------------------------------- temporary files a kill left


def test_a_temporary_file_of_a_dead_process_is_removed_and_a_live_ones_kept(tmp_path, analysed):
    run = _copy(analysed, tmp_path / "run")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          timeout=60)
    dead_pid = int(gone.stdout)
    (run / "encoding").mkdir(exist_ok=True)
    stale = run / "encoding" / f".labels-test.npy.{dead_pid}-abcd1234.tmp"
    live = run / "encoding" / f".labels-test.npy.{os.getpid()}-efgh5678.tmp"
    stale.write_bytes(b"x" * 1000)
    live.write_bytes(b"y")
    code, _, err = cli("encode", str(run))
    assert code == 0, err
    assert not stale.exists() and live.exists()


# ---------------------------------------------------------------- odd but valid labels


def _labels_run(tmp_path: Path, y_train: np.ndarray, y_test: np.ndarray) -> tuple[int, str, str]:
    rng = np.random.default_rng(3)
    x_train = rng.integers(0, 255, (len(y_train), 28, 28)).astype(np.uint8)
    x_test = rng.integers(0, 255, (len(y_test), 28, 28)).astype(np.uint8)
    csv = write_csv_dir(tmp_path / "csv", make_dataset(x_train, y_train, x_test, y_test))
    return cli("train", "cm1", "--epochs", "1", "--csv-dir", str(csv), "--runs", str(tmp_path / "r"))


def test_a_label_only_in_the_test_images_is_warned_about(tmp_path):
    code, _, err = _labels_run(tmp_path, np.arange(300) % 3, np.arange(100) % 4)
    assert code == 0, err
    assert "warning: label(s) 3 appear only in the test images" in err


@pytest.mark.parametrize("values", [[0, 1], list(range(12)), [7, 1000]])
def test_odd_but_valid_label_sets_train(tmp_path, values):
    y = np.asarray(values)[np.arange(400) % len(values)]
    code, out, err = _labels_run(tmp_path, y[:300], y[300:])
    assert code == 0, err
    record = json.loads((next((tmp_path / "r").iterdir()) / "model.json").read_text())
    assert record["label_values"] == values
    assert "warning" not in err


def _with_copies() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    x = rng.integers(0, 255, (400, 28, 28)).astype(np.uint8)
    y = np.arange(400) % 3
    x[310], y[310] = x[5], (y[5] + 1) % 3  # a training image again among the test images, with another label
    x[11], y[11] = x[10], (y[10] + 1) % 3  # two training images alike, two labels
    x[12], y[12] = x[13], y[13]  # a copy with the same label is no conflict
    return x, y


def test_conflicting_copies_finds_each_image_that_carries_two_labels():
    x, y = _with_copies()
    ds = make_dataset(x[:300], y[:300], x[300:], y[300:])
    assert ds.conflicting_copies() == [[("train", 5, 2), ("test", 10, 0)], [("train", 10, 1), ("train", 11, 2)]]
    assert make_dataset(x[:300], y[:300], x[311:], y[311:]).conflicting_copies() == [[("train", 10, 1), ("train", 11, 2)]]


def test_copies_of_one_image_with_different_labels_are_warned_about(tmp_path):
    x, y = _with_copies()
    csv = write_csv_dir(tmp_path / "csv", make_dataset(x[:300], y[:300], x[300:], y[300:]))
    warning = ("warning: 2 image(s) appear more than once with different labels (train image 5 (label 2) = test image "
               "10 (label 0); train image 10 (label 1) = train image 11 (label 2)): no model can predict both labels "
               "of one image; correct the labels or remove the copies")
    code, _, err = cli("data", "info", "--csv-dir", str(csv))
    assert code == 0 and warning in err.splitlines(), err
    code, _, err = cli("train", "cm1", "--epochs", "1", "--csv-dir", str(csv), "--runs", str(tmp_path / "r"))
    assert code == 0 and warning in err.splitlines(), err


def test_one_label_only_is_refused(tmp_path):
    assert_cli_error(_labels_run(tmp_path, np.zeros(300, int), np.zeros(100, int)), "only 1 distinct label")


# ---------------------------------------------------------------- limits


def test_a_csv_gz_that_inflates_far_past_a_sane_size_is_refused(tmp_path):
    import gzip

    x, y = synthetic_images(300, 3, seed=5)
    csv = write_csv_dir(tmp_path / "csv", split_dataset(x, y, 200))
    (csv / "x_train.csv").unlink()
    row = (",".join(["0"] * 784) + "\n").encode()
    with gzip.open(csv / "x_train.csv.gz", "wb") as handle:  # 100 MiB of black images in about 100 kB
        for _ in range(100):
            handle.write(row * 669)
    assert (csv / "x_train.csv.gz").stat().st_size < 2**20
    assert_cli_error(cli("data", "info", "--csv-dir", str(csv)), f"{csv / 'x_train.csv.gz'}: inflates to more than")


def test_stdout_on_a_full_device_is_one_line(tmp_path):
    from conftest import assert_one_line_error

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    exe = Path(sys.executable).with_name("twistfm")
    with open("/dev/full", "w") as full:
        result = subprocess.run([str(exe), "models"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
                                env={**os.environ, "CI": "1"})
    assert_one_line_error(result, "stdout: cannot write the output (No space left on device)")


def test_weights_with_nan_are_refused_naming_the_tensor(tmp_path, analysed):
    from safetensors.torch import load_file, save_file

    run = _copy(analysed, tmp_path / "run")
    tensors = load_file(str(run / "model.safetensors"))
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, str(run / "model.safetensors"))
    assert_cli_error(cli("encode", str(run)), f"tensor {name!r} holds NaN or infinite values")


def test_twistfm_data_naming_a_file_is_refused(tmp_path):
    from conftest import assert_one_line_error, run_cli

    named = tmp_path / "archives.gz"
    named.write_bytes(b"not a folder")
    assert_one_line_error(run_cli("data", "info", env={"TWISTFM_DATA": str(named)}),
                          f"{named}: $TWISTFM_DATA names a file, not a folder")
