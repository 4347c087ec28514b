"""Data-parallel training through torchrun: equal to one process with the same global batch,
only process 0 writes, and a killed process stops the job with one line and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from conftest import run_cli, split_dataset, synthetic_images, write_csv_dir

pytestmark = pytest.mark.slow

# 800 fit images, global batch 32: every process gets 16 of each batch, none is left over.
# fp32: the comparisons below are of float rounding, which bfloat16 would swamp where it is native.
TRAIN = ["train", "cm1", "--epochs", "3", "--val-split", "0.2", "--seed", "5", "--precision", "fp32"]

# Runs the command line as one torchrun worker; process 1 kills itself after batch 4 of epoch 2.
_KILL_RANK_1 = """
import os, signal, sys
from twistfm.workflows import training
real_fit = training.fit

def fit(*args, callbacks=(), **kwargs):
    def kill(event):
        if event.rank == 1 and event.kind == "step" and event.epoch == 2 and event.step == 4:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_fit(*args, callbacks=[*callbacks, kill], **kwargs)

training.fit = fit
from twistfm.cli import main
main()
"""


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    x, y = synthetic_images(1200, 3, seed=8)
    return write_csv_dir(tmp_path_factory.mktemp("ddp") / "csv", split_dataset(x, y, 1000))


def _weights(run: Path) -> dict:
    return load_file(str(run / "model.safetensors"))


def _assert_close(a: Path, b: Path, atol: float) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_allclose(wa[key].numpy(), wb[key].numpy(), rtol=0, atol=atol, err_msg=key)


def test_two_processes_equal_one_with_the_same_global_batch(tmp_path, csv):
    one = run_cli(*TRAIN, "--batch-size", "32", "--csv-dir", str(csv), "--runs", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    two = run_cli(*TRAIN, "--batch-size", "16", "--nproc", "2", "--csv-dir", str(csv), "--runs", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr
    (run_one,), (run_two,) = (tmp_path / "one").iterdir(), (tmp_path / "two").iterdir()
    # Gradients averaged over 2 processes differ from one process's only by float rounding.
    _assert_close(run_one, run_two, atol=1e-5)
    config = json.loads((run_two / "config.json").read_text())
    assert config["processes"] == 2 and config["global_batch"] == 32 and config["train"]["batch_size"] == 16
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [run_two.name], "one run folder"
    assert f"run: {run_two}" in two.stdout and "Traceback" not in two.stderr


def test_a_killed_process_stops_the_job_with_one_line_and_a_resume_finishes_it(tmp_path, csv):
    whole = run_cli(*TRAIN, "--batch-size", "16", "--nproc", "2", "--csv-dir", str(csv), "--runs", str(tmp_path / "w"))
    assert whole.returncode == 0, whole.stderr
    script = tmp_path / "kill.py"
    script.write_text(_KILL_RANK_1)
    code = (f"import sys; from twistfm.distributed import launch; sys.exit(launch({TRAIN + ['--batch-size', '16']!r} "
            f"+ ['--csv-dir', {str(csv)!r}, '--runs', {str(tmp_path / 'k')!r}], 2, entry=[{str(script)!r}]))")
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "CI": "1"})
    (run,) = (tmp_path / "k").iterdir()
    errors = [line for line in killed.stderr.splitlines() if line.startswith(("error", "stopped", "Traceback"))]
    assert killed.returncode == 1, killed.stderr
    assert errors == [f"error: a training process stopped (torchrun exit code 1), so the others stopped too; resume "
                      f"with 'twistfm train --resume {run} --nproc 2'"]
    assert json.loads((run / "checkpoint.json").read_text())["epochs_done"] == 1
    resumed = run_cli("train", "--resume", str(run), "--nproc", "2")
    assert resumed.returncode == 0, resumed.stderr
    _assert_close(next((tmp_path / "w").iterdir()), run, atol=0)
    assert "already finished" in run_cli("train", "--resume", str(run)).stderr
