"""Reliability: interrupted work loses nothing, files are atomic, untrusted files, concurrency,
and the CSV reader only ever raises the project's own error."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from conftest import assert_one_line_error, run_cli
from twistfm.atomic import atomic_open
from twistfm.data import read_images_csv, read_labels_csv
from twistfm.errors import TwistfmError
from twistfm.runs import new_run_dir

SRC = Path(__file__).resolve().parents[1] / "src" / "twistfm"
TRAIN = ["train", "tfm-small", "--epochs", "4", "--augment", "--schedule", "onecycle", "--optimizer", "sgd",
         "--lr", "0.05", "--momentum", "0.9", "--batch-size", "32", "--seed", "7"]


def _history(run: Path) -> list[dict]:
    rows = (run / "history.csv").read_text().splitlines()
    head = rows[0].split(",")
    keep = [i for i, h in enumerate(head) if h != "epoch_time"]
    return [[r.split(",")[i] for i in keep] for r in rows]


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        assert (wa[key] == wb[key]).all(), key
    assert _history(a) == _history(b)


def _start(args, cwd=None):
    exe = Path(sys.executable).with_name("twistfm")
    return subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CI": "1"}, cwd=cwd)


def _wait_for(path: Path, proc, timeout=300):
    end = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, "timed out"
        time.sleep(0.05)


def _train_until_first_checkpoint(csv: Path, runs: Path):
    """Start training in a subprocess; return it and its run folder once a checkpoint exists."""
    proc = _start([*TRAIN, "--csv-dir", str(csv), "--runs", str(runs)])
    _wait_for(runs, proc)
    run_dir = None
    while run_dir is None:
        run_dir = next(iter(runs.iterdir()), None)
    _wait_for(run_dir / "checkpoint.json", proc)
    return proc, run_dir


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, request):
    from conftest import synthetic_images, write_csv_dir
    from twistfm.data import Dataset

    tmp = tmp_path_factory.mktemp("reference")
    x, y = synthetic_images(900, 3, seed=4)
    csv = write_csv_dir(tmp / "csv", Dataset(x[:700], y[:700], x[700:], y[700:], None, None, "s"))
    result = run_cli(*TRAIN, "--csv-dir", str(csv), "--runs", str(tmp / "runs"))
    assert result.returncode == 0, result.stderr
    return csv, next((tmp / "runs").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_at_a_random_moment_then_resume(tmp_path, uninterrupted, seed):
    csv, reference = uninterrupted
    proc, run_dir = _train_until_first_checkpoint(csv, tmp_path)
    time.sleep(random.Random(seed).uniform(0.0, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "model.safetensors").exists(), "the kill came too late to test anything"
    for path in run_dir.glob("*.json"):
        json.loads(path.read_text())  # no half-written file under a final name
    result = run_cli("train", "--resume", str(run_dir))
    assert result.returncode == 0, result.stderr
    _assert_same_run(reference, run_dir)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, uninterrupted):
    csv, reference = uninterrupted
    proc, run_dir = _train_until_first_checkpoint(csv, tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"twistfm train --resume {run_dir}" in err
    assert (run_dir / "checkpoint.safetensors").is_file()
    assert run_cli("train", "--resume", str(run_dir)).returncode == 0
    _assert_same_run(reference, run_dir)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as handle:
            handle.write("half")
            raise RuntimeError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_concurrent_runs_never_share_a_directory(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        dirs = list(pool.map(lambda _: new_run_dir("same", tmp_path), range(32)))
    assert len(set(dirs)) == 32


def test_two_processes_started_together_get_two_runs(tmp_path, tiny_csv_dir):
    procs = [_start(["train", "cm1", "--epochs", "1", "--csv-dir", str(tiny_csv_dir), "--runs", str(tmp_path / "r")])
             for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert len(list((tmp_path / "r").iterdir())) == 2


def test_nothing_is_ever_unpickled():
    pattern = re.compile(r"\bimport pickle\b|\bpickle\.|torch\.load\(|allow_pickle\s*=\s*True|joblib\.load")
    offenders = [str(p) for p in SRC.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_corrupt_or_missing_weights_and_bad_runs(tmp_path, tiny_csv_dir):
    result = run_cli("train", "cm1", "--epochs", "1", "--csv-dir", str(tiny_csv_dir), "--runs", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / "r").iterdir())
    weights = run / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:100])
    assert_one_line_error(run_cli("layers", str(run)), "corrupt weights")
    weights.write_bytes(b"\x80\x04\x95" + good[3:])  # a pickle header is just corruption here
    assert_one_line_error(run_cli("layers", str(run)), "model.safetensors")
    weights.unlink()
    assert_one_line_error(run_cli("analyze", str(run)), "no model.safetensors")
    weights.write_bytes(good)
    (run / "model.json").write_text("{not json")
    assert_one_line_error(run_cli("encode", str(run)), "model.json", "not valid JSON")
    assert_one_line_error(run_cli("layers", str(tmp_path / "nowhere")), "run directory not found")
    assert_one_line_error(run_cli("analyze", str(tiny_csv_dir)), "not a twistfm run")


@pytest.mark.parametrize("args, fragment", [
    (["train", "cm1", "--epochs", "0"], "--epochs"),
    (["train", "cm1", "--batch-size", "abc"], "--batch-size"),
    (["train", "cm1", "--optimizer", "rmsprop"], "--optimizer"),
    (["run", "--preset", "huge"], "--preset 'huge'"),
    (["compare", "--preset", "nope"], "--preset 'nope'"),
    (["train", "cm1", "--model-arg", "width"], "NAME=VALUE"),
    (["data", "info", "--csv-dir", "/nonexistent/folder"], "not a folder"),
    (["data", "export"], "--out"),
])
def test_invalid_options_are_one_line(args, fragment):
    assert_one_line_error(run_cli(*args), fragment)


_csv_text = st.text(alphabet=st.sampled_from(list("0123456789,\n\r -+.ax\x00é")), max_size=3000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_csv_text, rows=st.integers(0, 3))
def test_random_malformed_csv_only_raises_twistfm_errors(tmp_path, text, rows):
    good = ",".join(["7"] * 784)
    path = tmp_path / "x.csv"
    path.write_bytes(("\n".join([good] * rows) + "\n" + text).encode("utf-8", "replace"))
    try:
        x = read_images_csv(path)
        assert x.dtype == np.uint8 and x.shape[1:] == (28, 28)
    except TwistfmError:
        pass
    try:
        read_labels_csv(path, n_expected=rows or None)
    except TwistfmError:
        pass
