"""Sweeps on a local Ray: trials are run folders, ASHA stops the ones behind, an interrupted sweep resumes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import assert_cli_error, cli, run_cli, split_dataset, synthetic_images, write_csv_dir
from twistfm.sweep import ray_available

needs_ray = pytest.mark.skipif(not ray_available(), reason="Ray Tune (twistfm[scale]) is not installed")

# Two learning rates, each twice: a learning rate of 1e-6 learns nothing in 3 epochs, so ASHA stops
# the second such trial at its first rung (by then two trials have passed the rung).
SPEC = """
recipe = "quick-cm1"
trials = 2
concurrent = 2
[data]
csv_dir = "{csv}"
[space]
lr = {{grid = [0.003, 1e-6]}}
epochs = 3
[scheduler]
grace_period = 1
reduction_factor = 2
"""

# Runs a sweep and sends itself SIGNAL (default Ctrl-C) when the first trial completes (a program point).
_INTERRUPT = """
import os, signal, sys
from ray import tune
from twistfm.sweep import load_spec, run_sweep

sig = getattr(signal, sys.argv[3] if len(sys.argv) > 3 else "SIGINT")

class StopAfterFirst(tune.Callback):
    def on_trial_complete(self, iteration, trials, trial, **info):
        os.kill(os.getpid(), sig)

from twistfm.console import run_guarded
sys.exit(run_guarded(lambda: run_sweep(load_spec(sys.argv[1]), runs_root=sys.argv[2], callbacks=[StopAfterFirst()])))
"""


def _default_sigint() -> None:
    """In the child: Ctrl-C as from a terminal, even when the suite was started with it ignored (nohup)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep")
    x, y = synthetic_images(900, 3, seed=6)
    csv_dir = write_csv_dir(tmp / "csv", split_dataset(x, y, 700))
    path = tmp / "spec.toml"
    path.write_text(SPEC.format(csv=csv_dir))
    return path


def _rows(folder: Path) -> list[dict]:
    with open(folder / "sweep.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@needs_ray
@pytest.mark.slow
def test_a_four_trial_sweep_stops_the_weak_early_and_writes_its_table(tmp_path, spec):
    result = run_cli("sweep", str(spec), "--runs", str(tmp_path), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    (folder,) = tmp_path.iterdir()
    rows = _rows(folder)
    assert len(rows) == 4
    assert [float(r["best val_acc"]) for r in rows] == sorted((float(r["best val_acc"]) for r in rows), reverse=True)
    assert any(r["stopped early"] == "True" for r in rows), rows
    assert all(r["stopped early"] == "False" for r in rows if float(r["lr"]) > 1e-3)
    for r in rows:
        run = Path(r["run"])
        assert (run / "config.json").is_file(), "every trial is an ordinary run folder"
        assert (run / "model.safetensors").is_file(), f"every trial, stopped early or not, is a complete run: {r}"
        assert not (run / "checkpoint.json").exists() and not (run / "checkpoint.safetensors").exists()
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["epochs"] == int(r["epochs"]) == len((run / "history.csv").read_text().splitlines()) - 1
        code, _, err = cli("layers", r["run"])
        assert code == 0, err
        if r["stopped early"] == "True":  # it says it ran N of 3 epochs, stopped by ASHA
            assert int(r["epochs"]) < 3 and metrics["epochs_planned"] == 3, metrics
            assert metrics["stopped_early"] is True and "ASHA" in metrics["stopped_by"]
        else:
            assert int(r["epochs"]) == 3 and metrics["stopped_early"] is False
    assert all(r["note"] == "" for r in rows), rows
    assert (folder / "sweep.md").is_file()
    assert "best trial: twistfm train cm1 --lr 0.003" in result.stdout


@needs_ray
@pytest.mark.slow
def test_an_interrupted_sweep_resumes(tmp_path, spec):
    first = subprocess.run([sys.executable, "-c", _INTERRUPT, str(spec), str(tmp_path)], capture_output=True, text=True,
                           timeout=900, env={**os.environ, "CI": "1"}, preexec_fn=_default_sigint)
    (folder,) = tmp_path.iterdir()
    assert first.returncode == 130, first.stderr[-2000:]
    assert f"resume the sweep with 'twistfm sweep --resume {folder}'" in first.stderr.splitlines()[-1]
    assert not (folder / "sweep.csv").exists()
    result = run_cli("sweep", "--resume", str(folder), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(_rows(folder)) == 4


@needs_ray
@pytest.mark.slow
def test_sigterm_stops_a_sweep_cleanly(tmp_path, spec):
    first = subprocess.run([sys.executable, "-c", _INTERRUPT, str(spec), str(tmp_path), "SIGTERM"], capture_output=True,
                           text=True, timeout=900, env={**os.environ, "CI": "1"}, preexec_fn=_default_sigint)
    (folder,) = tmp_path.iterdir()
    assert first.returncode == 143, first.stderr[-2000:]
    assert f"resume the sweep with 'twistfm sweep --resume {folder}'" in first.stderr.splitlines()[-1]
    assert "Traceback" not in first.stderr


def test_a_trial_stopped_after_an_epoch_is_finished_as_a_complete_run_of_its_epochs(tmp_path, tiny_csv_dir):
    """What the sweep does when ASHA stops a trial (no Ray needed): its checkpoint becomes the run's model."""
    from twistfm.data import DataSpec
    from twistfm.errors import Interrupted
    from twistfm.recipes import recipe
    from twistfm.sweep import _finish_stopped
    from twistfm.train import every
    from twistfm.workflows import train

    def stop_after_first(event):
        raise KeyboardInterrupt  # as when the trial's process is stopped after epoch 1's checkpoint

    config = recipe("quick-cm1", seed=0, epochs=3, threads=1)
    with pytest.raises(Interrupted):
        train(config, DataSpec(csv_dir=str(tiny_csv_dir)), runs_root=tmp_path / "runs",
              callbacks=[every("epoch", stop_after_first)], log=None)
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "checkpoint.json").is_file() and not (run / "model.safetensors").exists()
    assert _finish_stopped(str(run)) == ""
    assert (run / "model.safetensors").is_file() and not (run / "checkpoint.json").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["epochs"], metrics["epochs_planned"], metrics["stopped_early"]) == (1, 3, True)
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 3
    assert len((run / "history.csv").read_text().splitlines()) == 2
    assert all((run / "figures" / f).is_file() for f in ("loss.png", "accuracy.png", "confusion.png")), sorted(run.rglob("*.png"))
    code, _, err = cli("layers", str(run))
    assert code == 0, err
    assert "training already finished" in _finish_stopped(str(run))
    assert "no run folder" in _finish_stopped(None)

    def stop_at_first_step(event):
        raise KeyboardInterrupt  # stopped before any checkpoint exists

    with pytest.raises(Interrupted):
        train(config, DataSpec(csv_dir=str(tiny_csv_dir)), runs_root=tmp_path / "early", callbacks=[stop_at_first_step],
              log=None)
    (early,) = (tmp_path / "early").iterdir()
    assert "no checkpoint (stopped before its first epoch ended)" in _finish_stopped(str(early))


def test_sweep_without_ray_says_how_to_install_it(monkeypatch, spec):
    import twistfm.sweep

    monkeypatch.setattr(twistfm.sweep, "ray_available", lambda: False)
    assert_cli_error(cli("sweep", str(spec)), "pip install 'twistfm[scale]'")


@pytest.mark.parametrize("change, fragment", [
    (('recipe = "quick-cm1"', 'recipe = "nope"'), "recipe 'nope'"),
    (("lr = {grid", "lr = {normal"), "space: lr"),
    (("epochs = 3", "epochs = 3\nval_split = 0.0"), "holds out no validation images"),
    (("epochs = 3", "bogus = 3"), "'bogus' is not a training setting"),
])
def test_bad_specs_are_one_line(tmp_path, spec, change, fragment):
    bad = tmp_path / "bad.toml"
    bad.write_text(spec.read_text().replace(*change))
    assert_cli_error(cli("sweep", str(bad), "--runs", str(tmp_path / "r")), fragment)
    assert not (tmp_path / "r").exists()
