"""The model registry: the seeds' exact parameter counts, shapes, layer names, any class count."""

from __future__ import annotations

import pytest
import torch

from conftest import assert_one_line_error, run_cli
from twistfm.errors import OptionError
from twistfm.models import count_parameters, create_model, format_summary, layer_table, list_models


@pytest.mark.parametrize("name, params", [("cm1", 40_933), ("model-a", 174_629), ("model-b", 1_092_945)])
def test_seed_parameter_counts(name, params):
    assert count_parameters(create_model(name, num_classes=5)) == params


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("num_classes", [2, 5, 11])
def test_output_shape_follows_the_data(name, num_classes):
    model = create_model(name, num_classes=num_classes).eval()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, num_classes)


def test_layer_names_are_stable():
    assert [r.name for r in layer_table(create_model("model-a", 5))] == [
        "conv1", "pool1", "flatten", "dense1", "dense2", "output"]
    rows = {r.name: r for r in layer_table(create_model("cm1", 5))}
    assert rows["conv2"].output_shape == (32, 14, 14)
    assert rows["flatten"].output_shape == (6272,)


@pytest.mark.parametrize("first_pool, pool, first_layers, flat, params", [
    ("input", "floor", ["act0", "pool0", "conv1", "pool1"], 32, 21_253),  # 28 -> 14 -> 7 -> 3 -> 1
    ("input", "ceil", ["act0", "pool0", "conv1", "pool1"], 32 * 4, 27_397),  # 28 -> 14 -> 7 -> 4 -> 2
    ("conv", "floor", ["act0", "conv0", "pool0", "conv1"], 32, 30_501),  # a fourth convolution before the first pool
    ("conv", "ceil", ["act0", "conv0", "pool0", "conv1"], 32 * 4, 36_645),
    ("none", "floor", ["act0", "conv1", "pool1", "conv2"], 32 * 9, 37_637),  # 28 -> 14 -> 7 -> 3
    ("none", "ceil", ["act0", "conv1", "pool1", "conv2"], 32 * 16, 51_973),  # 28 -> 14 -> 7 -> 4
])
def test_leaky_readings_of_the_seed_text(first_pool, pool, first_layers, flat, params):
    """Every reading the seed's layer list allows; the registered default is the one measured closest to it."""
    model = create_model("leaky", 5, first_pool=first_pool, pool=pool)
    rows = layer_table(model)
    assert [r.name for r in rows][:4] == first_layers
    assert {r.name: r for r in rows}["flatten"].output_shape == (flat,)
    assert count_parameters(model) == params


def test_leaky_default_reading():
    model = create_model("leaky", 5)
    assert count_parameters(model) == 51_973
    rows = {r.name: r for r in layer_table(model)}
    assert "pool0" not in rows and rows["pool3"].output_shape == (32, 4, 4)  # 28 -> 14 -> 7 -> 4, odd sizes kept
    assert isinstance(model.conv1[1], torch.nn.LeakyReLU)


def test_summary_lists_total():
    text = format_summary(create_model("model-b", 5), "model-b")
    assert "Total params: 1,092,945" in text


def test_unknown_model_and_bad_args():
    with pytest.raises(OptionError, match="choose one of"):
        create_model("nope", 5)
    with pytest.raises(OptionError, match="at least 2"):
        create_model("cm1", 1)
    with pytest.raises(OptionError, match="model 'cm1'"):
        create_model("cm1", 5, width=3)


def test_cli_models_lists_counts():
    result = run_cli("models")
    assert result.returncode == 0
    assert "1,092,945" in result.stdout and "tfm-net" in result.stdout


def test_cli_unknown_model_is_one_line():
    assert_one_line_error(run_cli("train", "nope"), "unknown model 'nope'", "cm1")


@pytest.mark.parametrize("name", ["cm1", "model-a", "model-b", "leaky"])
def test_seed_models_start_as_keras_does(name):
    for module in create_model(name, 5).modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = module.weight[0].numel()
            fan_out = module.weight.shape[0] * module.weight[0, 0].numel() if module.weight.dim() == 4 else module.weight.shape[0]
            bound = (6 / (fan_in + fan_out)) ** 0.5
            assert module.weight.abs().max() <= bound + 1e-6
            assert module.weight.abs().max() > 0.5 * bound
            assert (module.bias == 0).all()
