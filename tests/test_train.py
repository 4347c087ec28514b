"""Training: loss goes down, determinism, callbacks, resume equals uninterrupted, artifacts, the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.torch import load_file

from conftest import assert_one_line_error, make_dataset, run_cli, synthetic_images, write_csv_dir
from twistfm import workflows
from twistfm.data import DataSpec
from twistfm.errors import OptionError, RunError
from twistfm.models import count_parameters, create_model, to_input
from twistfm.runs import HISTORY_FIELDS, RunDir
from twistfm.train import Splits, TrainConfig, fit

TIMING = {"epoch_time", "eval_time"}


def _config(**kw):
    base = dict(model="cm1", optimizer="adam", lr=2e-3, batch_size=32, epochs=2, seed=3)
    return TrainConfig(**{**base, **kw})


def _fit(tmp_path, config, dataset, name="run", **kw):
    return fit(config, dataset, RunDir.create(name, tmp_path), log=None, **kw)


def _same_history(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        for key in ra:
            if key not in TIMING:
                assert ra[key] == rb[key] or (np.isnan(ra[key]) and np.isnan(rb[key])), key


def _same_weights(a, b):
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and (va == vb).all(), ka


def test_loss_goes_down_and_artifacts(tmp_path, tiny_csv_dir):
    result = workflows.train(_config(epochs=3), DataSpec(csv_dir=str(tiny_csv_dir)), runs_root=tmp_path, log=None)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.metrics["test_acc"] > 0.6
    run = result.run
    for name in ("config.json", "history.csv", "metrics.json", "model.safetensors", "model.json", "summary.txt"):
        assert (run / name).is_file(), name
    assert not (run / "checkpoint.json").exists()
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["seed"] == 3 and config["twistfm_run_version"] == 2
    assert config["data"]["csv_dir"] == str(tiny_csv_dir.resolve()) and config["data"]["n_train"] == 600
    assert len(config["data"]["fingerprint"]) == 64
    model, record = run.load_model()
    assert record.num_classes == 3
    assert set(load_file(str(run / "model.safetensors"))) == set(model.state_dict())
    assert [h["epoch"] for h in run.history()] == [1, 2, 3]
    assert (run / "history.csv").read_text().splitlines()[0] == ",".join(HISTORY_FIELDS)
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.array(metrics["confusion"]).sum() == 200
    for key in ("training_seconds", "evaluation_seconds", "test_inference_seconds", "train_images_per_second"):
        assert metrics[key] > 0, key
    for fig in ("loss", "accuracy", "confusion"):
        assert run.figure(fig).stat().st_size > 1000


def test_same_seed_same_history_and_weights(tmp_path, tiny_dataset):
    config = _config(model="tfm-small", augment=True, schedule="onecycle", epochs=2)
    a = _fit(tmp_path, config, tiny_dataset, "a")
    b = _fit(tmp_path, config, tiny_dataset, "b")
    _same_history(a.history, b.history)
    _same_weights(a.model, b.model)
    c = _fit(tmp_path, _config(model="tfm-small", augment=True, schedule="onecycle", epochs=2, seed=4), tiny_dataset, "c")
    assert c.history[-1]["train_loss"] != a.history[-1]["train_loss"]


def test_callbacks_see_every_step_and_epoch_and_may_stop(tmp_path, tiny_dataset):
    events = []

    def watch(event):
        events.append((event.kind, event.epoch, event.step))
        return event.kind == "epoch" and event.epoch == 2

    result = _fit(tmp_path, _config(epochs=4, batch_size=100), tiny_dataset, callbacks=[watch])
    steps = 5  # 480 fit images in batches of 100
    assert events == [*[("step", 1, s) for s in range(1, steps + 1)], ("epoch", 1, steps),
                      *[("step", 2, s) for s in range(1, steps + 1)], ("epoch", 2, steps)]
    assert result.metrics["epochs"] == 2 and result.metrics["stopped_early"] is True
    assert result.run.has_model and not result.run.has_checkpoint


@pytest.mark.parametrize("extra", [{}, {"ema": 0.9, "erasing": 0.5, "nesterov": True, "precision": "bf16"}])
def test_resume_after_an_interruption_at_a_program_point_equals_uninterrupted(tmp_path, tiny_dataset, extra):
    config = _config(model="tfm-small", optimizer="sgd", momentum=0.9, lr=0.05, augment=True,
                     schedule="onecycle", epochs=3, **extra)
    full = _fit(tmp_path, config, tiny_dataset, "full")

    class Stop(Exception):
        pass

    def stop_in_epoch_2(event):
        if event.kind == "step" and event.epoch == 2 and event.step == 4:
            raise Stop

    run = RunDir.create("cut", tmp_path)
    with pytest.raises(Stop):
        fit(config, tiny_dataset, run, callbacks=[stop_in_epoch_2], log=None)
    assert run.has_checkpoint and not run.has_model
    assert [h["epoch"] for h in run.history()] == [1], "history.csv shows the epochs done so far"
    resumed = fit(config, tiny_dataset, run, resume=True, log=None)
    _same_history(full.history, resumed.history)
    _same_weights(full.model, resumed.model)


def test_validation_split_is_the_last_part(tiny_dataset):
    splits = Splits.from_dataset(tiny_dataset, 0.2)
    assert len(splits.x_fit) == 480 and len(splits.x_val) == 120
    assert (splits.x_val == to_input(tiny_dataset.x_train[480:])).all()
    assert (splits.x_fit == to_input(tiny_dataset.x_train[:480])).all()
    assert (splits.y_val.numpy() == tiny_dataset.label_index(tiny_dataset.y_train[480:])).all()
    assert len(Splits.from_dataset(tiny_dataset, 0.0).x_val) == 0


@pytest.mark.parametrize("kw, fragment", [
    ({"epochs": 0}, "--epochs"), ({"lr": -1}, "--lr"), ({"val_split": 1.0}, "--val-split"),
    ({"optimizer": "rmsprop"}, "--optimizer"), ({"schedule": "step"}, "--schedule"),
    ({"batch_size": 0}, "--batch-size"), ({"lr": float("inf")}, "--lr"), ({"weight_decay": float("nan")}, "--weight-decay"),
    ({"seed": 2**64}, "--seed"), ({"seed": -1}, "--seed"), ({"ema": 1.0}, "--ema"), ({"erasing": 1.5}, "--erasing"),
    ({"precision": "fp16"}, "--precision"),
])
def test_bad_options(kw, fragment):
    with pytest.raises(OptionError, match=fragment):
        _config(**kw).check()


def test_resume_refuses_finished_or_foreign_runs(tmp_path, tiny_csv_dir):
    result = workflows.train(_config(epochs=1), DataSpec(csv_dir=str(tiny_csv_dir)), runs_root=tmp_path, log=None)
    with pytest.raises(RunError, match="already finished"):
        workflows.resume(result.run.path)
    with pytest.raises(RunError, match="not a twistfm run"):
        workflows.resume(tmp_path)


def test_cli_train_on_a_csv_dataset_with_seven_labels(tmp_path):
    x, y = synthetic_images(700, 7, seed=5)
    ds = make_dataset(x[:500], y[:500] + 10, x[500:], y[500:] + 10)
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


def test_ema_weights_are_what_is_evaluated_and_saved(tmp_path, tiny_dataset):
    plain = _fit(tmp_path, _config(epochs=2), tiny_dataset, "plain")
    averaged = _fit(tmp_path, _config(epochs=2, ema=0.99), tiny_dataset, "ema")
    assert plain.history[0]["train_loss"] == averaged.history[0]["train_loss"]  # the same training steps
    saved, _ = averaged.run.load_model()
    assert any((a != b).any() for a, b in zip(saved.state_dict().values(), plain.model.state_dict().values(),
                                              strict=True))
    assert averaged.history[-1]["test_acc"] != plain.history[-1]["test_acc"] or \
        averaged.history[-1]["test_loss"] != plain.history[-1]["test_loss"]


def test_cli_compare_with_seeds_reports_mean_deviation_and_range(tmp_path, tiny_csv_dir):
    result = run_cli("compare", "cm1", "--epochs", "1", "--seeds", "3", "--seed", "4", "--csv-dir", str(tiny_csv_dir),
                     "--runs", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    folder = next((tmp_path / "runs").iterdir())
    rows = (folder / "comparison.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("model,seed,")
    assert [r.split(",")[1] for r in rows[1:]] == ["4", "5", "6"]
    accs = [float(r.split(",")[rows[0].split(",").index("test_acc")]) for r in rows[1:]]
    table = (folder / "comparison.md").read_text()
    assert "test_acc_mean" in table and "test_acc_sd" in table
    import statistics

    stats_line = table.splitlines()[2]
    assert f"| {round(statistics.mean(accs), 4)} |" in stats_line and f"| {min(accs)} |" in stats_line


def test_test_images_read_once_at_the_end(tmp_path, tiny_dataset, monkeypatch):
    """The last epoch's reading of the test images (with flip TTA) is the final metrics' one: not read twice."""
    import importlib

    evaluation = importlib.import_module("twistfm.training.evaluation")
    reads = []
    real = evaluation.predict

    def counted(model, x, *args, **kw):
        reads.append((len(x), kw.get("tta", False)))
        return real(model, x, *args, **kw)

    monkeypatch.setattr(evaluation, "predict", counted)
    result = _fit(tmp_path, _config(epochs=2, tta=True, val_split=0.2), tiny_dataset)
    n_test = len(tiny_dataset.x_test)
    assert reads.count((n_test, True)) == 1
    assert result.metrics["test_acc"] == result.history[-1]["test_acc"]
    assert result.metrics["test_inference_seconds"] > 0
