"""config.json as a typed RunConfig read once per folder, and the sweep folder's files named by SweepDir."""

from __future__ import annotations

import json

import pytest

from twistfm.data import DataSpec
from twistfm.errors import RunError
from twistfm.runs import RUN_VERSION, RunConfig, RunDir, SweepDir
from twistfm.schema import to_json
from twistfm.train import TrainConfig

DATA = DataSpec(csv_dir="/data/twisted", n_train=600, n_test=200)
TRAIN = TrainConfig(model="cm1", epochs=2, precision="fp32")


def _train_run(tmp_path, **fields) -> RunDir:
    run = RunDir.create("cm1", tmp_path)
    body = {"train": TRAIN.to_json(), "data": to_json(DATA), "processes": 1, "global_batch": 32,
            "precision": {"asked": "fp32", "used": "fp32", "reason": "asked for"}, **fields}
    run.write_config("train", {k: v for k, v in body.items() if v is not None})
    return RunDir.open(run.path, kind="train")


def _rewrite(run: RunDir, **fields) -> None:
    config = json.loads((run / RunDir.CONFIG).read_text())
    (run / RunDir.CONFIG).write_text(json.dumps({**config, **fields}))


def test_a_training_runs_config_is_typed(tmp_path):
    config = _train_run(tmp_path).run_config()
    assert isinstance(config, RunConfig)
    assert (config.kind, config.version, config.train, config.data) == ("train", RUN_VERSION, TRAIN, DATA)
    assert (config.processes, config.global_batch, config.precision) == (1, 32, "fp32")
    assert config.fields["precision"] == {"asked": "fp32", "used": "fp32", "reason": "asked for"}
    assert set(config.fields) == {"train", "data", "processes", "global_batch", "precision"}


def test_the_config_is_read_once_per_folder(tmp_path):
    run = _train_run(tmp_path)
    first = run.run_config()
    (run / RunDir.CONFIG).write_text("not json")
    assert run.run_config() is first
    assert run.config()["kind"] == "train"
    run.config()["kind"] = "changed"
    assert run.config()["kind"] == "train", "config() gives a copy"
    with pytest.raises(RunError, match="not valid JSON"):
        RunDir(run.path).run_config()


def test_writing_the_config_forgets_the_one_read(tmp_path):
    run = _train_run(tmp_path)
    assert run.run_config().processes == 1
    body = {k: v for k, v in run.config().items() if k not in ("twistfm_run_version", "twistfm_version", "kind")}
    run.write_config("train", {**body, "processes": 2})
    assert run.run_config().processes == 2


def test_a_run_from_before_precision_was_recorded_trains_in_the_one_it_asked_for(tmp_path):
    run = _train_run(tmp_path, precision=None)
    assert "precision" not in run.config()
    assert run.run_config().precision == "fp32"


@pytest.mark.parametrize(("fields", "message"), [
    ({"processes": 0}, "field 'processes' must be a positive integer, found 0"),
    ({"global_batch": True}, "field 'global_batch' must be a positive integer, found True"),
    ({"train": {"model": "cm1"}}, "config.json: train"),
    ({"data": {"csv_dir": 3}}, "config.json: data"),
    ({"precision": {"asked": "fp16", "used": "fp32", "reason": ""}}, "must be an object with 'asked' (auto, fp32 or bf16)"),
    ({"precision": {"asked": "auto", "used": "fp16", "reason": ""}}, "must be an object whose 'used' is fp32 or bf16"),
])
def test_a_bad_field_is_one_line_naming_the_file_and_the_field(tmp_path, fields, message):
    run = _train_run(tmp_path)
    _rewrite(run, **fields)
    with pytest.raises(RunError) as error:
        RunDir.open(run.path, kind="train").run_config()
    assert str(error.value).startswith(str(run / RunDir.CONFIG)) and message in str(error.value)


def test_a_study_or_comparison_records_its_data_and_keeps_its_own_fields(tmp_path):
    study = RunDir.create("study-quick", tmp_path)
    study.write_config("study", {"preset": "quick", "seed": 0, "data": to_json(DATA), "analyzed": "cm1"})
    config = study.run_config()
    assert (config.kind, config.data, config.train) == ("study", DATA, None)
    assert config.fields == {"preset": "quick", "seed": 0, "data": to_json(DATA), "analyzed": "cm1"}


def test_a_sweep_folder_names_its_files(tmp_path):
    folder = SweepDir.create("sweep-quick", tmp_path)
    folder.write_config("sweep", {"spec": {"recipe": "quick"}, "trials": [{"lr": 0.1}, {"lr": 0.2}]})
    folder = SweepDir.open(folder.path, kind="sweep")
    assert folder.trials() == [{"lr": 0.1}, {"lr": 0.2}] and folder.ended() == {}
    folder.write_ended(1, {"index": 1, "best_val_acc": 0.5})
    assert folder.ended() == {1: {"index": 1, "best_val_acc": 0.5}}
    assert (folder / "ended" / "0001.json").is_file()
    assert (folder.trials_root, folder.experiment_root) == ((folder / "trials").resolve(), (folder / "ray").resolve())
    folder.write_results("a,b\n", "| a |\n", "twistfm train cm1")
    assert [(folder / name).read_text() for name in ("sweep.csv", "sweep.md", "best-command.txt")] == [
        "a,b\n", "| a |\n", "twistfm train cm1\n"]


def test_a_sweep_without_its_trials_is_refused(tmp_path):
    folder = SweepDir.create("sweep-quick", tmp_path)
    folder.write_config("sweep", {"spec": {}, "trials": {"lr": 0.1}})
    with pytest.raises(RunError, match="config.json: field 'trials' is missing or not a list; the sweep is corrupt"):
        folder.trials()
