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
