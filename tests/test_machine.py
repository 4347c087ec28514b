"""Precision chosen by the machine, threads capped at the cores available, callbacks called as often as they ask."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from conftest import cli
from twistfm import machine, workflows
from twistfm.data import DataSpec
from twistfm.recipes import RECIPES
from twistfm.train import TrainConfig, every, fit


def _cpu(monkeypatch, *, onednn: bool, avx2: bool = True, avx512_bf16: bool = False, amx: bool = False) -> None:
    """Pretend to be a CPU with these features (what PyTorch's cpuinfo and oneDNN would report)."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx2_supported", lambda: avx2, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)


CPU = torch.device("cpu")


@pytest.mark.parametrize(("features", "used"), [
    (dict(onednn=False), "fp32"),                       # AVX2 only, or ONEDNN_MAX_CPU_ISA=AVX2
    (dict(onednn=True), "fp32"),                        # plain AVX-512: oneDNN would emulate bfloat16
    (dict(onednn=True, avx512_bf16=True), "bf16"),
    (dict(onednn=True, amx=True), "bf16"),
    (dict(onednn=True, avx2=False), "bf16"),            # not x86: oneDNN's own answer
])
def test_auto_takes_bf16_only_where_it_is_native(monkeypatch, features, used):
    _cpu(monkeypatch, **features)
    chosen, reason = machine.choose_precision("auto", CPU)
    assert chosen == used
    assert "automatically" in reason
    assert machine.choose_precision("fp32", CPU)[0] == "fp32"
    assert machine.choose_precision("bf16", CPU) == ("bf16", machine.choose_precision("bf16", CPU)[1])
    assert ("emulated" in machine.choose_precision("bf16", CPU)[1]) == (used == "fp32")


@pytest.mark.parametrize(("capability", "used"), [((7, 5), "fp32"), ((8, 0), "bf16"), ((9, 0), "bf16")])
def test_auto_on_cuda_follows_the_compute_capability(monkeypatch, capability, used):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert machine.choose_precision("auto", torch.device("cuda"))[0] == used


def test_every_recipe_lets_the_machine_choose():
    assert TrainConfig(model="cm1").precision == "auto"
    assert all(r.config.precision == "auto" for r in RECIPES.values()), [
        name for name, r in RECIPES.items() if r.config.precision != "auto"]


def test_available_cores_honours_the_affinity_and_a_cgroup_quota(monkeypatch):
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(machine, "_cgroup_cores", lambda: None)
    assert machine.available_cores() == 4
    monkeypatch.setattr(machine, "_cgroup_cores", lambda: 1.5)
    assert machine.available_cores() == 1
    info = machine.cpu_info()
    assert info.capability == torch.backends.cpu.get_cpu_capability() and info.cores == 1
    assert "native bf16" in info.line() and info.capability in info.line()


def test_threads_are_capped_at_the_cores_available(monkeypatch, tiny_dataset):
    before = torch.get_num_threads()
    monkeypatch.setattr(sys.modules["twistfm.train"], "available_cores", lambda: 1)  # twistfm.train is also a function
    try:
        torch.set_num_threads(2)
        fit(TrainConfig(model="cm1", epochs=1, batch_size=200, precision="fp32"), tiny_dataset, log=None)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_the_precision_used_is_recorded_and_kept_by_resume(monkeypatch, tmp_path, tiny_csv_dir):
    _cpu(monkeypatch, onednn=False)

    def stop_after_epoch_1(event):
        if event.kind == "epoch" and event.epoch == 1:
            raise KeyboardInterrupt

    config = TrainConfig(model="cm1", epochs=2, batch_size=100)
    with pytest.raises(Exception, match="interrupted"):
        workflows.train(config, DataSpec(csv_dir=str(tiny_csv_dir)), runs_root=tmp_path / "runs", log=None,
                        callbacks=[every("epoch", stop_after_epoch_1)])
    (run,) = list((tmp_path / "runs").iterdir())
    recorded = json.loads((run / "config.json").read_text())
    assert recorded["train"]["precision"] == "auto"
    assert recorded["precision"]["asked"] == "auto" and recorded["precision"]["used"] == "fp32"
    assert "no bfloat16" in recorded["precision"]["reason"]

    _cpu(monkeypatch, onednn=True, avx512_bf16=True)  # the machine changed: the run keeps its precision
    result = workflows.resume(run, log=None)
    assert result.metrics["precision"] == "fp32"
    assert "started with" in result.metrics["precision_reason"]
    assert json.loads((run / "metrics.json").read_text())["precision"] == "fp32"


def test_a_new_run_on_a_native_machine_trains_in_bf16(monkeypatch, tmp_path, tiny_csv_dir):
    _cpu(monkeypatch, onednn=True, avx512_bf16=True)
    result = workflows.train(TrainConfig(model="cm1", epochs=1, batch_size=100), DataSpec(csv_dir=str(tiny_csv_dir)),
                             runs_root=tmp_path, log=None)
    assert result.metrics["precision"] == "bf16"
    assert json.loads((result.run / "config.json").read_text())["precision"]["used"] == "bf16"


def test_explicit_bf16_without_native_support_warns_once_and_trains(monkeypatch, tmp_path, tiny_csv_dir):
    _cpu(monkeypatch, onednn=False)
    code, _, err = cli("train", "cm1", "--epochs", "1", "--batch-size", "100", "--precision", "bf16",
                       "--csv-dir", str(tiny_csv_dir), "--runs", str(tmp_path))
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "several times slower" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning:")
    assert any("precision: bf16 (asked for; emulated" in line for line in err.splitlines())
    code, _, err = cli("train", "cm1", "--epochs", "1", "--batch-size", "100",
                       "--csv-dir", str(tiny_csv_dir), "--runs", str(tmp_path))
    assert code == 0 and "warning:" not in err
    epoch_lines = [line for line in err.splitlines() if line.startswith("epoch 1/1")]
    assert epoch_lines and epoch_lines[0].endswith("fp32")


def test_callbacks_run_as_often_as_they_ask(tiny_dataset):
    seen: dict[str, list[tuple[str, int, int]]] = {"plain": [], "three": [], "epoch": []}

    def recorder(name):
        return lambda event: seen[name].append((event.kind, event.epoch, event.step))

    fit(TrainConfig(model="cm1", epochs=2, batch_size=100, precision="fp32"), tiny_dataset, log=None,
        callbacks=[recorder("plain"), every(3, recorder("three")), every("epoch", recorder("epoch"))])
    steps = 5  # 480 fit images (the last 20 % held out), batch 100
    assert [e for e in seen["plain"] if e[0] == "step"] == [("step", ep, s) for ep in (1, 2) for s in range(1, steps + 1)]
    assert [e for e in seen["three"] if e[0] == "step"] == [("step", 1, 3), ("step", 2, 3)]
    assert seen["epoch"] == [("epoch", 1, steps), ("epoch", 2, steps)]
    for name in seen:
        assert [e for e in seen[name] if e[0] == "epoch"] == seen["epoch"]
    with pytest.raises(Exception, match="positive integer"):
        every(0, recorder("plain"))


def test_in_memory_training_writes_nothing(tmp_path, monkeypatch, tiny_dataset):
    monkeypatch.chdir(tmp_path)
    result = fit(TrainConfig(model="cm1", epochs=2, batch_size=100, precision="fp32"), tiny_dataset, log=None)
    assert result.run is None and list(tmp_path.iterdir()) == []
    assert len(result.history) == 2 and result.metrics["test_acc"] > 0.5
    # Each epoch reads the validation images; the test images only at the last epoch (the final metrics' figure).
    assert result.history[0]["test_acc"] != result.history[0]["test_acc"]  # NaN
    assert result.history[-1]["test_acc"] == pytest.approx(result.metrics["test_acc"])
    assert all(row["val_acc"] == row["val_acc"] for row in result.history)
