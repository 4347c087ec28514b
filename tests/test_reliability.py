"""Reliability: interrupted work loses nothing, files are atomic, untrusted files, concurrency,
and the CSV reader only ever raises the project's own error."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
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
from twistfm.runs import RunDir

SRC = Path(__file__).resolve().parents[1] / "src" / "twistfm"
TRAIN = ["train", "tfm-small", "--epochs", "4", "--augment", "--schedule", "onecycle", "--optimizer", "sgd",
         "--lr", "0.05", "--momentum", "0.9", "--batch-size", "32", "--seed", "7"]


def _history(run: Path) -> list[list[str]]:
    rows = (run / "history.csv").read_text().splitlines()
    head = rows[0].split(",")
    keep = [i for i, h in enumerate(head) if h not in ("epoch_time", "eval_time")]
    return [[r.split(",")[i] for i in keep] for r in rows]


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        assert (wa[key] == wb[key]).all(), key
    assert _history(a) == _history(b)


# Trains like TRAIN through the library and sends itself SIGNAL at one program point: after
# batch STEP of epoch EPOCH ("step"), or right after epoch EPOCH's checkpoint ("epoch").
_AT_A_POINT = """
import os, signal, sys
from twistfm import interrupts, workflows
from twistfm.console import run_guarded
from twistfm.data import DataSpec
from twistfm.train import TrainConfig

csv, runs, kind, epoch, step, sig = sys.argv[1:]
config = TrainConfig(model="tfm-small", epochs=4, augment=True, schedule="onecycle", optimizer="sgd", lr=0.05,
                     momentum=0.9, batch_size=32, seed=7)

def at_point(event):
    if event.kind == kind and event.epoch == int(epoch) and event.step == int(step):
        os.kill(os.getpid(), getattr(signal, sig))

interrupts.install()
sys.exit(run_guarded(lambda: workflows.train(config, DataSpec(csv_dir=csv), runs_root=runs, callbacks=[at_point])))
"""


def _default_signals() -> None:
    """In the child, before it starts: Ctrl-C and SIGTERM act as they do from a terminal, even when this
    suite was started with them ignored (``nohup ... &``, cron, some CI runners)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _interrupt_at(csv: Path, runs: Path, kind: str, epoch: int, step: int, sig: str) -> subprocess.CompletedProcess:
    """Run a training that signals itself at a program point; every wait has a timeout."""
    return subprocess.run([sys.executable, "-c", _AT_A_POINT, str(csv), str(runs), kind, str(epoch), str(step), sig],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "CI": "1"},
                          preexec_fn=_default_signals)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from conftest import split_dataset, synthetic_images, write_csv_dir

    tmp = tmp_path_factory.mktemp("reference")
    x, y = synthetic_images(900, 3, seed=4)
    csv = write_csv_dir(tmp / "csv", split_dataset(x, y, 700))
    result = run_cli(*TRAIN, "--csv-dir", str(csv), "--runs", str(tmp / "runs"))
    assert result.returncode == 0, result.stderr
    return csv, next((tmp / "runs").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("kind, epoch, step", [("step", 2, 3), ("epoch", 2, 18), ("step", 4, 18)])
def test_sigkill_at_a_program_point_then_resume(tmp_path, uninterrupted, kind, epoch, step):
    csv, reference = uninterrupted
    result = _interrupt_at(csv, tmp_path, kind, epoch, step, "SIGKILL")
    assert result.returncode == -signal.SIGKILL, result.stderr
    (run_dir,) = tmp_path.iterdir()
    assert not (run_dir / "model.safetensors").exists()
    done = epoch if kind == "epoch" else epoch - 1
    assert json.loads((run_dir / "checkpoint.json").read_text())["epochs_done"] == done
    assert len(_history(run_dir)) == done + 1, "history.csv holds the epochs done so far"
    for path in run_dir.glob("*.json"):
        json.loads(path.read_text())  # no half-written file under a final name
    resumed = run_cli("train", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_run(reference, run_dir)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, uninterrupted):
    csv, reference = uninterrupted
    result = _interrupt_at(csv, tmp_path, "step", 2, 5, "SIGINT")
    (run_dir,) = tmp_path.iterdir()
    assert result.returncode == 130, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error", "stopped", "Traceback"))]
    assert lines == [f"stopped: interrupted during epoch 2/4; the checkpoint after epoch 1 is saved: resume with "
                     f"'twistfm train --resume {run_dir}'"]
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


def test_concurrent_runs_never_share_a_folder(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        dirs = list(pool.map(lambda _: RunDir.create("same", tmp_path, stamp="20260101-000000").path, range(32)))
    assert len(set(dirs)) == 32


# Waits for the file GO (so both processes reach the same point), then creates a run folder
# with the same time stamp as the other process and prints it.
_CREATE = """
import sys, time
from pathlib import Path
from twistfm.runs import RunDir
go, root = Path(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("timed out waiting for the start signal")
    time.sleep(0.01)
print(RunDir.create("same", root, stamp="20260101-000000").path)
"""


def test_two_processes_racing_for_one_name_get_two_folders(tmp_path):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _CREATE, str(go), str(tmp_path / "r")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    go.touch()
    paths = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        paths.append(out.strip())
    assert len(set(paths)) == 2
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["20260101-000000-same", "20260101-000000-same-2"]


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
    assert_one_line_error(run_cli("layers", str(tmp_path / "nowhere")), "run folder not found")
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


# Replaces MODULE.NAME by a wrapper that sends SIGNAL to this process on call number AFTER + 1
# (a program point), then runs the command line with the remaining arguments.
_SIGNAL_AT_A_CALL = """
import importlib, os, signal, sys
sig, module, name, after = getattr(signal, sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
mod = importlib.import_module(module)
real, calls = getattr(mod, name), [0]

def wrapper(*args, **kwargs):
    calls[0] += 1
    if calls[0] > after:
        os.kill(os.getpid(), sig)
    return real(*args, **kwargs)

setattr(mod, name, wrapper)
from twistfm.cli import main
sys.argv = ["twistfm", *sys.argv[5:]]
main()
"""


def _signal_at(sig: str, module: str, name: str, after: int, *args: str,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _SIGNAL_AT_A_CALL, sig, module, name, str(after), *args],
                          capture_output=True, text=True, timeout=600, cwd=cwd, env={**os.environ, "CI": "1"},
                          preexec_fn=_default_signals)


def _ctrl_c_at(module: str, name: str, after: int, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return _signal_at("SIGINT", module, name, after, *args, cwd=cwd)


def _stopped_line(result: subprocess.CompletedProcess, code: int = 130) -> str:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    from conftest import split_dataset, synthetic_images, write_csv_dir

    tmp = tmp_path_factory.mktemp("analysed")
    x, y = synthetic_images(700, 3, seed=21)
    csv = write_csv_dir(tmp / "csv", split_dataset(x, y, 500))
    assert run_cli("train", "cm1", "--epochs", "1", "--csv-dir", str(csv), "--runs", str(tmp / "r")).returncode == 0
    run = next((tmp / "r").iterdir())
    result = run_cli("analyze", str(run))
    assert result.returncode == 0, result.stderr
    return run


@pytest.mark.slow
def test_ctrl_c_during_analyze_keeps_the_previous_analysis(tmp_path, analysed):
    run = tmp_path / analysed.name
    shutil.copytree(analysed, run, symlinks=True)
    before = (run / "analysis" / "analysis.json").read_bytes()
    result = _ctrl_c_at("twistfm.analysis.compute", "tsne", 0, "analyze", str(run))
    assert _stopped_line(result) == (f"stopped: interrupted while analysing {run}: its previous analysis is kept; "
                                     f"run 'twistfm analyze {run}' again")
    assert (run / "analysis" / "analysis.json").read_bytes() == before
    assert len(list((run / ".analysis-versions").iterdir())) == 1, "the half-made analysis was removed"


def test_ctrl_c_during_encode_writes_no_encoding(tmp_path, analysed):
    run = tmp_path / analysed.name
    shutil.copytree(analysed, run, symlinks=True)
    result = _ctrl_c_at("twistfm.encode", "encode_batches", 0, "encode", str(run))
    assert _stopped_line(result) == (f"stopped: interrupted while encoding {run}: no new encoding was written (an "
                                     f"earlier one is kept); run 'twistfm encode {run}' again")
    assert not list((run / "encoding").glob("output*")) and not list((run / "encoding").glob(".*tmp"))


def test_ctrl_c_while_drawing_figures_then_resume_draws_them(tmp_path, analysed):
    csv = analysed.parent.parent / "csv"
    result = _ctrl_c_at("twistfm.report.figures", "png", 0, "train", "cm1", "--epochs", "1", "--csv-dir", str(csv),
                        "--runs", str(tmp_path / "r"))
    run = next((tmp_path / "r").iterdir())
    assert _stopped_line(result) == (f"stopped: interrupted while drawing the figures of {run}: the trained model is "
                                     f"saved; draw the figures with 'twistfm train --resume {run}'")
    assert (run / "model.safetensors").is_file()
    assert run_cli("train", "--resume", str(run)).returncode == 0
    assert {p.name for p in (run / "figures").iterdir()} == {"loss.png", "accuracy.png", "confusion.png"}
    assert_one_line_error(run_cli("train", "--resume", str(run)), "already finished")


@pytest.mark.slow
def test_sigterm_during_training_stops_cleanly_and_says_how_to_resume(tmp_path, uninterrupted):
    csv, reference = uninterrupted
    result = _interrupt_at(csv, tmp_path, "step", 2, 5, "SIGTERM")
    (run_dir,) = tmp_path.iterdir()
    assert result.returncode == 143, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error", "stopped", "Traceback"))]
    assert lines == [f"stopped: interrupted during epoch 2/4; the checkpoint after epoch 1 is saved: resume with "
                     f"'twistfm train --resume {run_dir}'"]
    assert not list(run_dir.rglob("*.tmp")), "a clean stop leaves no temporary file"
    assert run_cli("train", "--resume", str(run_dir)).returncode == 0
    _assert_same_run(reference, run_dir)


def test_sigterm_during_encode_stops_cleanly(tmp_path, analysed):
    run = tmp_path / analysed.name
    shutil.copytree(analysed, run, symlinks=True)
    before = sorted(p.name for p in (run / "encoding").iterdir()) if (run / "encoding").exists() else []
    result = _signal_at("SIGTERM", "twistfm.encode", "encode_batches", 0, "encode", str(run))
    assert _stopped_line(result, 143) == (f"stopped: interrupted while encoding {run}: no new encoding was written "
                                          f"(an earlier one is kept); run 'twistfm encode {run}' again")
    after = sorted(p.name for p in (run / "encoding").iterdir())
    assert not [name for name in after if name.endswith(".tmp")], after
    assert set(after) - set(before) <= {"labels-test.npy"}
    assert not (run / ".lock").exists()


def test_a_temporary_file_left_by_kill_9_is_removed_by_the_next_command(tmp_path, analysed):
    run = tmp_path / analysed.name
    shutil.copytree(analysed, run, symlinks=True)
    killed = _signal_at("SIGKILL", "twistfm.encode", "encode_batches", 0, "encode", str(run))
    assert killed.returncode == -signal.SIGKILL
    left = list((run / "encoding").glob(".*.tmp"))
    assert left, "kill -9 inside the write leaves its temporary file"
    again = run_cli("encode", str(run))
    assert again.returncode == 0, again.stderr
    assert not list((run / "encoding").glob(".*.tmp"))
    assert Path(again.stdout.split(" -> ")[-1].strip()).is_file()
    assert f"took over the lock of {run}" in again.stderr, "the killed command's lock is taken over, and said"


def test_ctrl_c_outside_the_guarded_blocks_still_says_one_line(tmp_path, analysed):
    result = _ctrl_c_at("twistfm.workflows.per_run", "layer_table", 0, "layers", str(analysed))
    assert _stopped_line(result) == ("stopped: interrupted; nothing was left half-written (files are written whole or "
                                     "not at all); run the command again")


def _discovery_files(run: Path) -> dict[str, bytes]:
    files = [run / "discovery.json", run / "discovery.csv", *sorted((run / "figures").glob("discovery*.png"))]
    return {p.name: p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def discovered(tmp_path_factory, analysed):
    from conftest import cli

    run = tmp_path_factory.mktemp("discovered") / analysed.name
    shutil.copytree(analysed, run, symlinks=True)
    code, _, err = cli("discover", str(run))
    assert code == 0, err
    return run


@pytest.mark.slow
def test_ctrl_c_while_discover_draws_keeps_the_previous_discovery_whole(tmp_path, discovered):
    run = tmp_path / discovered.name
    shutil.copytree(discovered, run, symlinks=True)
    before = _discovery_files(run)
    assert len(before) > 2, "the discovery draws figures"
    result = _ctrl_c_at("twistfm.report.figures", "png", 0, "discover", str(run), "--seed", "1")
    assert _stopped_line(result) == (f"stopped: interrupted while discovering groups in {run}: nothing was written "
                                     f"(the previous discovery is kept); run 'twistfm discover {run}' again")
    assert _discovery_files(run) == before
    assert not list(run.rglob("*.tmp"))


@pytest.mark.slow
def test_ctrl_c_while_discover_writes_its_files_lets_them_all_change(tmp_path, discovered):
    run = tmp_path / discovered.name
    shutil.copytree(discovered, run, symlinks=True)
    before = _discovery_files(run)
    result = _ctrl_c_at("twistfm.workflows.per_run", "write_together", 0, "discover", str(run), "--seed", "1")
    assert _stopped_line(result) == f"stopped: interrupted after the discovery of {run} was written (it is complete)"
    after = _discovery_files(run)
    assert after.keys() == before.keys()
    assert json.loads(after["discovery.json"]) != json.loads(before["discovery.json"]), "the new discovery is written"
    assert not list(run.rglob("*.tmp"))


@pytest.mark.realdata
@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_export_leaves_whole_files(tmp_path, sig, code):
    from conftest import REAL_DATA

    if not REAL_DATA:
        pytest.skip("Fashion-MNIST archives are not installed")
    result = _signal_at(sig, "twistfm.data.csv", "write_images_csv", 1, "data", "export", "--out", str(tmp_path / "out"))
    assert _stopped_line(result, code) == (f"stopped: interrupted during the export to {tmp_path / 'out'}: the files finished "
                                     "so far are complete and the one being written was discarded; run the command "
                                     "again to write them all")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["class_train.csv", "x_train.csv", "y_train.csv"]
    assert (tmp_path / "out" / "x_train.csv").stat().st_size == 132_891_899


def test_a_full_disk_is_one_line_naming_the_file(tmp_path):
    import errno

    from twistfm.errors import WriteError

    target = tmp_path / "file.bin"
    with pytest.raises(WriteError) as info:
        with atomic_open(target, "wb"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == (f"{target}: cannot write (No space left on device); free some disk space, then run the "
                               "command again")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_export_table_keeps_the_earlier_table(tmp_path, analysed):
    pytest.importorskip("pyarrow")
    out = tmp_path / "points.parquet"
    out.write_bytes(b"an earlier table")
    result = _signal_at("SIGTERM", "twistfm.workflows.export", "_table_columns", 0, "export-table", str(analysed),
                        "--out", str(out))
    assert _stopped_line(result, 143) == f"stopped: interrupted while writing {out}: nothing was written; run it again"
    assert out.read_bytes() == b"an earlier table"
    assert list(tmp_path.iterdir()) == [out], "no temporary file is left"


@pytest.fixture(scope="module")
def reported(tmp_path_factory, analysed):
    run = tmp_path_factory.mktemp("reported") / analysed.name
    shutil.copytree(analysed, run, symlinks=True)
    result = run_cli("report", str(run))
    assert result.returncode == 0, result.stderr
    return run


def test_sigterm_while_rebuilding_a_report_keeps_the_previous_one(tmp_path, reported):
    run = tmp_path / reported.name
    shutil.copytree(reported, run, symlinks=True)
    before = (run / "report.html").read_bytes()
    result = _signal_at("SIGTERM", "twistfm.workflows.study", "explorer_part", 0, "report", str(run))
    assert _stopped_line(result, 143) == (f"stopped: interrupted while rebuilding the report of {run}: the previous "
                                          f"report.html is kept; run 'twistfm report {run}' again")
    assert (run / "report.html").read_bytes() == before
    assert not list(run.rglob("*.tmp")) and not (run / ".lock").exists()


def test_report_refuses_a_folder_another_command_is_writing(tmp_path, reported):
    from twistfm.lock import hold

    run = tmp_path / reported.name
    shutil.copytree(reported, run, symlinks=True)
    before = (run / "report.html").read_bytes()
    with hold(run / ".lock", "twistfm analyze"):
        result = run_cli("report", str(run))
    assert_one_line_error(result, f"{run}: in use by 'twistfm analyze' (PID {os.getpid()}")
    assert (run / "report.html").read_bytes() == before


_STUDY_STAGES = {
    "training": ("twistfm.training.loop", "lr_at", 3),
    "analysis": ("twistfm.analysis.compute", "tsne", 0),
    "report": ("twistfm.workflows.study", "explorer_part", 0),
}


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(_STUDY_STAGES))
def test_sigterm_in_each_stage_of_a_study_stops_cleanly(tmp_path, analysed, stage):
    csv = analysed.parent.parent / "csv"
    command = ["run", "--epochs", "1", "--csv-dir", str(csv), "--runs", str(tmp_path / "r")]
    result = _signal_at("SIGTERM", *map(str, _STUDY_STAGES[stage]), *command)
    (study,) = (tmp_path / "r").iterdir()
    line = _stopped_line(result, 143)
    assert not list(study.rglob("*.tmp")) and not list(study.rglob(".lock")), "a clean stop leaves nothing behind"
    assert not (study / "report.html").exists()
    if stage != "report":
        assert line.startswith(f"stopped: interrupted during the study in {study}: it is incomplete; start it again "
                               "with 'twistfm run --epochs 1"), line
        return
    assert line == (f"stopped: interrupted while writing the report of the study in {study}: its models and analysis "
                    f"are complete; write the report with 'twistfm report {study}'")
    again = run_cli("report", str(study))
    assert again.returncode == 0, again.stderr
    assert "Explore every image" in (study / "report.html").read_text()
