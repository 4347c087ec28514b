"""Encoding: one layer or several in one pass give the same numbers, in any memory layout, and leave the model as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import synthetic_images
from twistfm.encode import candidate_layers, encode, encode_layers
from twistfm.models import create_model, inference_layout
from twistfm.train import predict


@pytest.mark.parametrize("name", ["cm1", "model-a", "tfm-small", "tfm-res", "leaky"])
def test_every_layer_in_one_pass_equals_each_layer_alone(name):
    torch.manual_seed(0)
    model = create_model(name, 3)
    images, _ = synthetic_images(70, 3)
    layers = candidate_layers(model)
    got = [(layer, values.copy()) for layer, values in encode_layers(model, images, layers, batch_size=32)]
    assert [layer for layer, _ in got] == layers
    for layer, values in got:
        alone = encode(model, images, layer, batch_size=50)
        assert values.shape == alone.shape == (70, alone.shape[1])
        np.testing.assert_allclose(values, alone, rtol=1e-5, atol=1e-5, err_msg=layer)
    assert [v.shape for _, v in encode_layers(model, images[:0], layers[-1:])] == [(0, got[-1][1].shape[1])]


def test_the_inference_layout_restores_the_models_own():
    model = create_model("tfm-small", 3)
    conv = model.block1[1][0].weight
    with inference_layout(model) as layout:
        assert layout == torch.channels_last and conv.is_contiguous(memory_format=torch.channels_last)
    assert conv.is_contiguous()
    model.to(memory_format=torch.channels_last)  # as training keeps it: the optimiser's state has these strides
    with inference_layout(model):
        pass
    assert not conv.is_contiguous() and conv.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(8, 1, 28, 28)
    model.to(memory_format=torch.contiguous_format).eval()
    with torch.no_grad():
        plain = model(x)
    torch.testing.assert_close(predict(model, x), plain, rtol=1e-5, atol=1e-5)
