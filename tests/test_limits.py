"""Memory limits and files that claim more than they hold: one line, exit 2, nothing read in full, nothing damaged."""

from __future__ import annotations

import hashlib
import io
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from twistfm.console import OUT_OF_MEMORY

#: An address-space limit (as ``ulimit -v``) that twistfm's imports fit in but 4 GB of weights do not.
LIMIT = 3 * 2**30


@pytest.fixture(scope="module")
def trained(tmp_path_factory, request) -> Path:
    tiny_csv_dir = request.getfixturevalue("module_csv_dir")
    runs = tmp_path_factory.mktemp("runs")
    result = run_cli("train", "cm1", "--epochs", "1", "--csv-dir", str(tiny_csv_dir), "--runs", str(runs))
    assert result.returncode == 0, result.stderr
    (run,) = runs.iterdir()
    return run


@pytest.fixture(scope="module")
def module_csv_dir(tmp_path_factory) -> Path:
    from conftest import split_dataset, synthetic_images, write_csv_dir

    x, y = synthetic_images(800, 3, seed=1)
    return write_csv_dir(tmp_path_factory.mktemp("csv"), split_dataset(x, y, 600))


def _limited(*args: str) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    return subprocess.run([sys.executable, "-m", "twistfm", *args], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit, env={**os.environ, "CI": "1"})


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _one_line(result: subprocess.CompletedProcess, progress: bool = False) -> str:
    """The one error line a command ended with (after its progress lines, where ``progress``)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len([line for line in lines if line.startswith("error")]) == 1 and (progress or len(lines) == 1), result.stderr
    return lines[-1]


def test_weights_far_larger_than_the_model_are_refused_before_they_are_read(tmp_path, trained):
    import shutil

    run = tmp_path / "sparse"
    shutil.copytree(trained, run)
    os.truncate(run / "model.safetensors", 4 * 2**30)  # sparse: takes no disk, 4 GB to a reader
    line = _one_line(_limited("layers", str(run)))
    assert line.startswith(f"error: {run / 'model.safetensors'}: corrupt weights file") and "header describes" in line


def test_an_npz_that_claims_far_more_than_it_holds_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (100_000, 1000, 1000)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", header.getvalue() + bytes(1000))
        for name, shape in (("y_train", (10,)), ("x_test", (10, 28, 28)), ("y_test", (10,))):
            buffer = io.BytesIO()
            np.save(buffer, np.zeros(shape, np.uint8))
            archive.writestr(f"{name}.npy", buffer.getvalue())
    line = _one_line(_limited("data", "info", "--arrays", str(path)))
    assert line == (f"error: {path}: x_train.npy declares a 100000 x 1000 x 1000 uint8 array (100,000,000,000 bytes) "
                    "but holds 1,000 bytes; the file is truncated or corrupt, write it again with numpy.savez")


_OUT_OF_MEMORY_AT = r"""
import importlib
import sys
from twistfm.cli import main

encode = importlib.import_module("twistfm.encode")  # the module: twistfm.encode is also the API's function

real = encode.encode_batches
def starved(*args, **kwargs):
    for i, batch in enumerate(real(*args, **kwargs)):
        if i == 0:
            raise MemoryError()  # as numpy and Python raise it when an allocation fails
        yield batch
encode.encode_batches = starved
sys.argv = ["twistfm", *sys.argv[1:]]
main()
"""


def test_running_out_of_memory_in_an_analysis_is_one_line_and_damages_nothing(tmp_path, trained):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = _digest(run)
    result = subprocess.run([sys.executable, "-c", _OUT_OF_MEMORY_AT, "analyze", str(run)], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "CI": "1"})
    assert _one_line(result, progress=True) == OUT_OF_MEMORY
    assert _digest(run) == before
    assert not list(run.rglob("*.tmp")) and not (run / ".lock").exists()
    assert run_cli("analyze", str(run)).returncode == 0


# ---------------------------------------------------------------- a real full disk


@pytest.fixture
def small_disk(tmp_path):
    """Mounts a real filesystem (a tmpfs) of a given size in kB; skipped where this user may not mount one."""
    mounted = []

    def mount(size_kb: int) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, trained) -> Path:
    import shutil

    run = tmp_path_factory.mktemp("analysed") / trained.name
    shutil.copytree(trained, run)
    result = run_cli("analyze", str(run))
    assert result.returncode == 0, result.stderr
    return run


def _size_kb(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) // 1024


# command: the run to copy onto the disk (or None), the kB left free there, the command line.
_FULL_DISK = {
    "train": (None, 64, lambda disk, run, csv: ["train", "cm1", "--epochs", "1", "--csv-dir", str(csv),
                                                "--runs", str(disk / "runs")]),
    "analyze": ("trained", 400, lambda disk, run, csv: ["analyze", str(run)]),
    "encode": ("trained", 200, lambda disk, run, csv: ["encode", str(run)]),
    "report": ("analysed", 200, lambda disk, run, csv: ["report", str(run)]),
    "export-table": (None, 16, lambda disk, run, csv: ["export-table", str(csv.parent / "run"), "--out",
                                                       str(disk / "points.parquet")]),
}


@pytest.mark.parametrize("command", list(_FULL_DISK))
def test_a_full_disk_in_each_writing_command_is_one_line_and_damages_nothing(tmp_path, small_disk, trained, analysed,
                                                                              module_csv_dir, command):
    import shutil

    source, free_kb, argv = _FULL_DISK[command]
    copied = {"trained": trained, "analysed": analysed}.get(source)
    if command == "export-table":
        pytest.importorskip("pyarrow")
        shutil.copytree(analysed, tmp_path / "run", symlinks=True)
        module_csv_dir = tmp_path / "csv"  # (only its parent is used: the run beside it)
    disk = small_disk((_size_kb(copied) if copied else 0) + free_kb)
    run = disk / "run"
    if copied:
        shutil.copytree(copied, run, symlinks=True)
    before = _digest(disk)
    line = _one_line(run_cli(*argv(disk, run, module_csv_dir)), progress=True)
    assert line.startswith(f"error: {disk}/") and line.endswith(
        ": cannot write (No space left on device); free some disk space, then run the command again"), line
    after = _digest(disk)
    assert {name: after[name] for name in before} == before, "every file that was there is unchanged"
    assert not [name for name in after if name.endswith(".tmp")], after
    assert not list(disk.rglob(".lock"))
    if command == "analyze":
        assert not list((run / ".analysis-versions").iterdir()), "the half-written analysis was removed"
