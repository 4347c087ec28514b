"""Every training option is declared once: config -> command line -> parsed by the real CLI -> the same config."""

from __future__ import annotations

import dataclasses
import shlex

import pytest
import typer

from twistfm.cli import app
from twistfm.data import DataSpec
from twistfm.options import data_argv, data_spec, help_text, train_argv, training_overrides
from twistfm.sweep import train_command
from twistfm.train import TrainConfig

#: Configs that between them give every field a value other than its default.
CONFIGS = [
    TrainConfig(model="tfm-small", model_args={"width": 48, "pool": "ceil", "flag": True, "sizes": [1, 2]},
                optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="onecycle", batch_size=128,
                epochs=3, val_split=0.1, augment=True, tta=True, label_smoothing=0.1, erasing=0.25, ema=0.99,
                nesterov=True, precision="bf16", seed=7, device="cpu", threads=2),
    TrainConfig(model="cm1", optimizer="adamw", lr=3e-3, schedule="cosine", val_split=0.0, precision="fp32",
                seed=2**40, device="cuda:1", threads=1, model_args={"label": "3", "text": "true"}),
    TrainConfig(model="leaky", epochs=1, batch_size=1, lr=1e-5, model_args={"slope": 0.01}),
]


def _command(name: str):
    group = typer.main.get_command(app)
    return group.commands[name]


def _parse(name: str, argv: list[str]) -> dict:
    """The parameters the real command line parses from ``argv``, without running the command."""
    return _command(name).make_context(name, list(argv)).params


def _from_argv(argv: list[str]) -> TrainConfig:
    params = _parse("train", argv)
    return TrainConfig(model=params["model"], **training_overrides(params))


def test_every_field_is_declared_with_its_help_and_has_an_option():
    fields = [f for f in dataclasses.fields(TrainConfig) if f.name != "model"]
    missing = [f.name for f in fields if "help" not in f.metadata]
    assert not missing, f"give these TrainConfig fields their help (field metadata): {missing}"
    for command in ("train", "compare"):
        names = {p.name for p in _command(command).params}
        assert {f.name for f in fields} <= names, command


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.model)
def test_a_config_round_trips_through_the_command_line(config):
    assert _from_argv(train_argv(config)) == config


def test_the_round_trips_cover_every_field():
    changed = {f.name for c in CONFIGS for f in dataclasses.fields(TrainConfig)
               if getattr(c, f.name) != getattr(TrainConfig(model="x"), f.name)}
    assert changed == {f.name for f in dataclasses.fields(TrainConfig)}


def test_the_default_config_is_the_model_alone():
    assert train_argv(TrainConfig(model="cm1")) == ["cm1"]
    assert _from_argv(["cm1"]) == TrainConfig(model="cm1")


def test_compare_takes_the_same_options_with_the_configs_defaults():
    config = CONFIGS[0]
    params = _parse("compare", ["a", "b", *train_argv(config)[1:]])
    assert params["models"] == ["a", "b"]
    assert TrainConfig(model=config.model, **training_overrides(params)) == config
    defaults = TrainConfig(model="m")
    assert TrainConfig(model="m", **training_overrides(_parse("compare", ["m"]))) == defaults


def test_help_shows_the_declared_default():
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert help_text(fields["lr"]) == "Learning rate, the peak for onecycle [default: 0.001]."
    assert help_text(fields["augment"]) == "Random flips and shifts [default: off]."
    assert help_text(fields["threads"]) == "CPU threads."


@pytest.mark.parametrize("data", [
    DataSpec(csv_dir="/data/csv", n_train=300, n_test=100),
    DataSpec(table="/t.parquet", test_table="/u.parquet", label_column="y", split_column="part", image_column="img"),
    DataSpec(images="/photos", test_fraction=0.25, data_seed=3, resize="32x32", data_dir="/fm"),
    DataSpec(arrays="/d.npz", n_test=50),
], ids=["csv", "table", "images", "arrays"])
def test_the_sweep_command_line_trains_the_same_config_on_the_same_data(data):
    config = CONFIGS[0]
    words = shlex.split(train_command(config, data))
    assert words[:3] == ["twistfm", "train", config.model]
    params = _parse("train", words[2:])
    assert TrainConfig(model=params["model"], **training_overrides(params)) == config
    assert data_spec(params) == data
    assert data_argv(data_spec(params)) == data_argv(data)
