"""Bad and odd inputs: each gives the right result, or one clear line and exit 2 (130 for Ctrl-C),
and nothing already written is damaged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_cli_error, assert_one_line_error, cli, run_cli, split_dataset, synthetic_images, write_csv_dir
from twistfm.data import DataSpec
from twistfm.errors import OptionError
from twistfm.runs import RunDir
from twistfm.train import TrainConfig, fit
from twistfm.workflows import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small finished cm1 run on a CSV folder, and that folder."""
    tmp = tmp_path_factory.mktemp("trained")
    x, y = synthetic_images(800, 3, seed=11)
    csv = write_csv_dir(tmp / "csv", split_dataset(x, y, 600))
    code, out, err = cli("train", "cm1", "--epochs", "2", "--csv-dir", str(csv), "--runs", str(tmp / "runs"))
    assert code == 0, err
    return next((tmp / "runs").iterdir()), csv


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / run.name
    shutil.copytree(run, copy, symlinks=True)
    return copy


@pytest.mark.parametrize("args, fragment", [
    (["--n-train", "-1"], "--n-train must be at least 1"),
    (["--n-test", "-5"], "--n-test must be at least 1"),
    (["--n-test", "0"], "--n-test must be at least 1"),
    (["--lr", "inf"], "--lr must be a finite number"),
    (["--weight-decay", "inf"], "--weight-decay must be a finite number"),
    (["--seed", "18446744073709551616"], "--seed must be in 0.."),
    (["--model-arg", "width=3"], "model 'cm1' has no argument 'width'"),
])
def test_bad_training_options_leave_no_run_folder(tmp_path, trained, args, fragment):
    _, csv = trained
    assert_cli_error(cli("train", "cm1", "--csv-dir", str(csv), "--runs", str(tmp_path / "r"), *args), fragment)
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())


@pytest.mark.parametrize("arg, fragment", [
    ("width=0", "takes width as an integer in [1, 256]"), ("width=-1", "takes width as an integer in [1, 256]"),
    ("width=2.5", "takes width as an integer in [1, 256]"), ("width=abc", "takes width as an integer in [1, 256]"),
    ("dropout=2", "takes dropout as a number in [0, 1)"),
])
def test_model_arguments_say_what_they_take(tmp_path, trained, arg, fragment):
    _, csv = trained
    assert_cli_error(cli("train", "tfm-small", "--model-arg", arg, "--csv-dir", str(csv), "--runs",
                         str(tmp_path / "r")), fragment)
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())


def test_counts_record_what_was_used(tmp_path, trained):
    _, csv = trained
    code, _, err = cli("train", "cm1", "--epochs", "1", "--n-train", "100000", "--csv-dir", str(csv), "--runs",
                       str(tmp_path / "r"))
    assert code == 0, err
    assert "fewer images than asked for: using 600 training and 200 test images" in err
    config = json.loads(next((tmp_path / "r").iterdir()).joinpath("config.json").read_text())
    assert config["data"]["n_train"] == 600 and config["data"]["n_test"] == 200


def test_runs_folder_that_is_a_file_or_below_one(tmp_path, trained):
    _, csv = trained
    (tmp_path / "file").write_text("x")
    assert_cli_error(cli("train", "cm1", "--csv-dir", str(csv), "--runs", str(tmp_path / "file")), "file", "not a folder")
    assert_cli_error(cli("train", "cm1", "--csv-dir", str(csv), "--runs", str(tmp_path / "file" / "below")),
                     "cannot write", "is a file, not a folder")


def test_resume_refuses_other_training_options(trained):
    run, _ = trained
    assert_cli_error(cli("train", "--resume", str(run), "--epochs", "9", "--lr", "0.5"),
                     "--resume takes no other training options (got --lr, --epochs)", "config.json decides")
    assert_cli_error(cli("train", "cm1", "--resume", str(run)), "got MODEL")


def test_a_diverging_run_stops_with_one_line_and_keeps_its_last_checkpoint(tmp_path, trained):
    import torch

    from twistfm.data import load_dataset

    _, csv = trained
    run = RunDir.create("cm1", tmp_path)

    def poison_after_epoch_1(event):
        if event.kind == "epoch" and event.epoch == 1:
            with torch.no_grad():
                next(event.model.parameters()).fill_(float("nan"))

    with pytest.raises(OptionError, match="training loss became nan during epoch 2: training diverged; the "
                                          "checkpoint after epoch 1 is kept"):
        fit(TrainConfig(model="cm1", epochs=3, batch_size=64), load_dataset(csv_dir=csv), run,
            callbacks=[poison_after_epoch_1], log=None)
    assert json.loads((run / "checkpoint.json").read_text())["epochs_done"] == 1
    assert not run.has_model


def test_a_huge_learning_rate_is_caught_at_the_cli(tmp_path, trained):
    _, csv = trained
    assert_cli_error(cli("train", "cm1", "--lr", "1e30", "--epochs", "1", "--csv-dir", str(csv), "--runs",
                         str(tmp_path / "r")), "training diverged", "smaller --lr")


def test_changed_data_is_refused_and_relative_folders_are_recorded_absolute(tmp_path, trained):
    run, csv = trained
    copy = _copy(run, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    assert Path(config["data"]["csv_dir"]).is_absolute()
    other = tmp_path / "other"
    x, y = synthetic_images(800, 3, seed=12)
    write_csv_dir(other, split_dataset(x, y, 600))
    config["data"]["csv_dir"] = str(other)
    (copy / "config.json").write_text(json.dumps(config))
    assert_cli_error(cli("encode", str(copy)), "has changed since the run was trained")
    config["data"]["csv_dir"] = str(tmp_path / "gone")
    (copy / "config.json").write_text(json.dumps(config))
    assert_cli_error(cli("encode", str(copy)), "cannot read the data this run was trained on", "gone")
    assert not (copy / "encoding").exists()


def test_relative_csv_dir_from_another_working_folder(tmp_path, trained):
    _, csv = trained
    shutil.copytree(csv, tmp_path / "data")
    result = run_cli("train", "cm1", "--epochs", "1", "--csv-dir", "data", "--runs", "runs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / "runs").iterdir())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data").mkdir()  # a different folder of the same relative name: must not be read
    result = run_cli("encode", str(run), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert np.load(run / "encoding" / "labels-test.npy").shape == (200,)


def test_a_checkpoint_that_does_not_fit_its_config(tmp_path, trained):
    _, csv = trained
    cut = tmp_path / "cut"

    class Stop(Exception):
        pass

    def stop(event):
        if event.kind == "epoch" and event.epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        train(TrainConfig(model="cm1", epochs=4), DataSpec(csv_dir=str(csv)), runs_root=cut, callbacks=[stop], log=None)
    run = next(cut.iterdir())
    meta = json.loads((run / "checkpoint.json").read_text())
    nine = [dict(meta["history"][0], epoch=e) for e in range(1, 10)]
    (run / "checkpoint.json").write_text(json.dumps({"epochs_done": 9, "history": nine}))
    assert_cli_error(cli("train", "--resume", str(run)), "checkpoint.json", "claims 9 epochs done of 4")
    for broken in ({**meta, "history": "abc"}, {**meta, "history": [{k: v for k, v in r.items() if k != "lr"}
                                                                      for r in meta["history"]]}):
        (run / "checkpoint.json").write_text(json.dumps(broken))
        assert_cli_error(cli("train", "--resume", str(run)), "checkpoint.json")
    (run / "checkpoint.json").write_text(json.dumps(meta))
    assert cli("train", "--resume", str(run))[0] == 0


@pytest.mark.parametrize("args, fragment", [
    (["--seed", "-1"], "--seed must be in 0.."), (["--eps", "nan"], "--eps must be a positive number"),
    (["--min-samples", "100000"], "--min-samples must be between 1 and the number of points (200)"),
    (["--umap"], "pip install 'twistfm[umap]'"),
])
def test_bad_analysis_options_change_nothing(tmp_path, trained, args, fragment):
    run, _ = trained
    if args == ["--umap"] and _has_umap():
        pytest.skip("umap-learn is installed here")
    copy = _copy(run, tmp_path)
    before = sorted(p.name for p in copy.rglob("*"))
    assert_cli_error(cli("analyze", str(copy), *args), fragment)
    assert sorted(p.name for p in copy.rglob("*")) == before


def _has_umap() -> bool:
    from twistfm.analysis.project import umap_available

    return umap_available()


@pytest.mark.parametrize("target", ["file", "below-file", "below-dev-null"])
def test_export_to_a_path_that_cannot_be_a_folder(tmp_path, target):
    (tmp_path / "file").write_text("x")
    out = {"file": tmp_path / "file", "below-file": tmp_path / "file" / "out", "below-dev-null": Path("/dev/null/out")}[target]
    assert_cli_error(cli("data", "export", "--out", str(out)), str(out), "cannot write" if target != "file" else "not a folder")


def _limited(command: str, limit_kib: int, cwd: Path) -> subprocess.CompletedProcess:
    """Run a twistfm command under a file-size limit (ulimit -f, in KiB)."""
    exe = Path(sys.executable).with_name("twistfm")
    return subprocess.run(["bash", "-c", f"ulimit -f {limit_kib}; exec {exe} {command}"], capture_output=True, text=True,
                          timeout=600, cwd=cwd, env={**os.environ, "CI": "1"})


@pytest.mark.realdata
def test_export_under_a_file_size_limit_leaves_only_whole_files(tmp_path):
    from conftest import REAL_DATA

    if not REAL_DATA:
        pytest.skip("Fashion-MNIST archives are not installed")
    result = _limited(f"data export --out {tmp_path / 'out'}", 20_000, tmp_path)  # 20 MB: x_train.csv is 133 MB
    assert_one_line_error(result, "x_train.csv: cannot write (File too large)", "ulimit -f")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [], "no half-written file is left"


def test_training_under_a_file_size_limit_is_one_line_and_marked_incomplete(tmp_path, trained):
    _, csv = trained
    result = _limited(f"train cm1 --epochs 2 --csv-dir {csv} --runs r", 100, tmp_path)  # checkpoints are ~0.5 MB
    assert_one_line_error(result, "checkpoint.safetensors: cannot write (File too large)")
    run = next((tmp_path / "r").iterdir())
    assert not run.joinpath("model.safetensors").exists()
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp")] == []
    assert_one_line_error(run_cli("train", "--resume", str(run)), "no checkpoint", "start a new run")


def test_perplexity_too_large_is_said(tmp_path, trained):
    run, _ = trained
    copy = _copy(run, tmp_path)
    code, _, err = cli("analyze", str(copy), "--perplexity", "1e6")
    assert code == 0, err
    assert "--perplexity 1e+06 is too large for 200 points; t-SNE used 66," in err
