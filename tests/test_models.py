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


def test_leaky_follows_the_seed_text():
    rows = layer_table(create_model("leaky", 5))
    assert [r.name for r in rows][:4] == ["act0", "pool0", "conv1", "pool1"]
    assert rows[-3].output_shape == (32,)  # 28 -> 14 -> 7 -> 3 -> 1 after four pools


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
