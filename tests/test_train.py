"""Training: loss goes down, determinism, resume equals uninterrupted, artifacts, the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.torch import load_file

from conftest import assert_one_line_error, run_cli, synthetic_images, write_csv_dir
from twistfm.data import Dataset
from twistfm.errors import OptionError, RunError
from twistfm.models import count_parameters, create_model
from twistfm.runs import load_model, read_history
from twistfm.train import TrainConfig, fit, resume

TIMING = {"epoch_time"}


def _config(**kw):
    base = dict(model="cm1", optimizer="adam", lr=2e-3, batch_size=32, epochs=2, seed=3)
    return TrainConfig(**{**base, **kw})


def _same_history(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        for key in ra:
            if key not in TIMING:
                assert ra[key] == pytest.approx(rb[key], abs=0, rel=0) or (np.isnan(ra[key]) and np.isnan(rb[key])), key


def test_loss_goes_down_and_artifacts(tmp_path, tiny_dataset):
    result = fit(_config(epochs=3), tiny_dataset, runs_root=tmp_path, log=None)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.metrics["test_acc"] > 0.6
    run = result.run
    for name in ("config.json", "history.csv", "metrics.json", "model.safetensors", "model.json", "summary.txt"):
        assert (run / name).is_file(), name
    assert not (run / "checkpoint.json").exists()
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 3 and config["twistfm_run_version"] == 1
    model, record = load_model(run)
    assert record["num_classes"] == 3
    assert set(load_file(str(run / "model.safetensors"))) == set(model.state_dict())
    assert [h["epoch"] for h in read_history(run)] == [1, 2, 3]
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.array(metrics["confusion"]).sum() == len(tiny_dataset.y_test)
    for key in ("training_seconds", "test_inference_seconds", "train_images_per_second", "test_loss"):
        assert key in metrics


def test_same_seed_same_history_and_weights(tmp_path, tiny_dataset):
    config = _config(model="tfm-small", augment=True, schedule="onecycle", epochs=2)
    a = fit(config, tiny_dataset, runs_root=tmp_path / "a", log=None)
    b = fit(config, tiny_dataset, runs_root=tmp_path / "b", log=None)
    _same_history(a.history, b.history)
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert ka == kb and (va == vb).all(), ka
    c = fit(TrainConfig(**{**config.__dict__, "seed": 4}), tiny_dataset, runs_root=tmp_path / "c", log=None)
    assert c.history[-1]["train_loss"] != a.history[-1]["train_loss"]


def test_resume_equals_uninterrupted(tmp_path, tiny_dataset):
    config = _config(model="tfm-small", optimizer="sgd", momentum=0.9, lr=0.05, augment=True,
                     schedule="onecycle", epochs=3)
    full = fit(config, tiny_dataset, runs_root=tmp_path / "full", log=None)
    # Interrupt after epoch 1: stop the loop by raising from the log callback.
    class Stop(Exception):
        pass

    def stop_after_first(line):
        if line.startswith("epoch 1/"):
            raise Stop

    with pytest.raises(Stop):
        fit(config, tiny_dataset, runs_root=tmp_path / "cut", log=stop_after_first)
    run = next((tmp_path / "cut").iterdir())
    assert (run / "checkpoint.json").is_file() and not (run / "model.safetensors").exists()
    resumed = resume(run, tiny_dataset, log=None)
    _same_history(full.history, resumed.history)
    for (k, va), vb in zip(full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert (va == vb).all(), k


def test_validation_split_is_the_last_part(tmp_path):
    x, y = synthetic_images(100, 2)
    y[80:] = 1  # the last 20% all label 1: validation accuracy is then the share predicted 1
    ds = Dataset(x, y, x[:10], y[:10], None, None, "s")
    result = fit(_config(epochs=1), ds, runs_root=tmp_path, log=None)
    assert result.history[0]["val_acc"] in {i / 20 for i in range(21)}


@pytest.mark.parametrize("kw, fragment", [
    ({"epochs": 0}, "--epochs"), ({"lr": -1}, "--lr"), ({"val_split": 1.0}, "--val-split"),
    ({"optimizer": "rmsprop"}, "--optimizer"), ({"schedule": "step"}, "--schedule"),
    ({"batch_size": 0}, "--batch-size"),
])
def test_bad_options(kw, fragment):
    with pytest.raises(OptionError, match=fragment):
        _config(**kw).check()


def test_resume_refuses_finished_or_foreign_runs(tmp_path, tiny_dataset):
    result = fit(_config(epochs=1), tiny_dataset, runs_root=tmp_path, log=None)
    with pytest.raises(RunError, match="already finished"):
        resume(result.run, tiny_dataset)
    with pytest.raises(RunError, match="not a twistfm run"):
        resume(tmp_path, tiny_dataset)


def test_cli_train_on_a_csv_dataset_with_seven_labels(tmp_path):
    x, y = synthetic_images(700, 7, seed=5)
    ds = Dataset(x[:500], y[:500] + 10, x[500:], y[500:] + 10, None, None, "s")
    folder = write_csv_dir(tmp_path / "csv", ds)
    result = run_cli("train", "model-a", "--csv-dir", str(folder), "--epochs", "2", "--runs", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / "runs").iterdir())
    record = json.loads((run / "model.json").read_text())
    assert record["num_classes"] == 7 and record["label_values"] == list(range(10, 17))
    for fig in ("loss.png", "accuracy.png", "confusion.png"):
        assert (run / "figures" / fig).stat().st_size > 1000
    assert "epoch 2/2" in result.stderr
    assert f"run: {run}" in result.stdout


def test_cli_resume_of_a_copy(tmp_path, tiny_csv_dir):
    result = run_cli("train", "cm1", "--csv-dir", str(tiny_csv_dir), "--epochs", "1", "--runs", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / "r").iterdir())
    assert_one_line_error(run_cli("train", "--resume", str(run)), "already finished")
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "config.json").write_text(json.dumps({"twistfm_run_version": 99}))
    assert_one_line_error(run_cli("layers", str(broken)), "version 99")


def test_cli_compare_writes_table_and_figure(tmp_path, tiny_csv_dir):
    result = run_cli("compare", "cm1", "model-a", "--epochs", "1", "--csv-dir", str(tiny_csv_dir),
                     "--runs", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    folder = next((tmp_path / "runs").iterdir())
    table = (folder / "comparison.md").read_text()
    expected = count_parameters(create_model("model-a", num_classes=3))
    assert table.count("\n") == 4 and "| cm1 |" in table and f"| {expected} |" in table
    header = (folder / "comparison.csv").read_text().splitlines()[0]
    for column in ("filters", "dense_units", "batch_size", "epochs", "train_acc", "val_acc", "training_seconds",
                   "test_acc", "test_loss", "parameters"):
        assert column in header
    assert (folder / "figures" / "comparison.png").stat().st_size > 1000
