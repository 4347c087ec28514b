"""Read-out layers: what the encoder offers for every registered model, pinned before the models declared them.

The answers (the default layer, the candidate layers in order with their widths, the first
candidate that discovery reads) were recorded from the shape heuristic the encoder used before
the registry declared each model's read-out layers; the declaration must give the same ones.
"""

from __future__ import annotations

import pytest
import torch

from twistfm.encode import candidate_layers, check_layer, default_layer, layer_names, layer_width
from twistfm.errors import OptionError
from twistfm.models import FeatureInfo, create_model, list_models

#: (model, input shape, model arguments, default layer, "layer:width" of each candidate layer in order), as recorded.
PINNED = [
    ('cm1', (1, 28, 28), {}, 'flatten',
     'pool1:6272 conv2:6272 flatten:6272'),
    ('cm1', (3, 32, 32), {}, 'flatten',
     'pool1:8192 conv2:8192 flatten:8192'),
    ('cm1', (1, 9, 9), {}, 'flatten',
     'pool1:512 conv2:512 flatten:512'),
    ('cm1', (3, 20, 12), {}, 'flatten',
     'pool1:1920 conv2:1920 flatten:1920'),
    ('model-a', (1, 28, 28), {}, 'dense2',
     'pool1:5408 flatten:5408 dense1:32 dense2:32'),
    ('model-a', (3, 32, 32), {}, 'dense2',
     'pool1:7200 flatten:7200 dense1:32 dense2:32'),
    ('model-a', (1, 9, 9), {}, 'dense2',
     'pool1:288 flatten:288 dense1:32 dense2:32'),
    ('model-a', (3, 20, 12), {}, 'dense2',
     'pool1:1440 flatten:1440 dense1:32 dense2:32'),
    ('model-b', (1, 28, 28), {}, 'dense2',
     'pool1:10816 flatten:10816 dense1:100 dense2:100'),
    ('model-b', (3, 32, 32), {}, 'dense2',
     'pool1:14400 flatten:14400 dense1:100 dense2:100'),
    ('model-b', (1, 9, 9), {}, 'dense2',
     'pool1:576 flatten:576 dense1:100 dense2:100'),
    ('model-b', (3, 20, 12), {}, 'dense2',
     'pool1:2880 flatten:2880 dense1:100 dense2:100'),
    ('leaky', (1, 28, 28), {}, 'dense1',
     'pool1:6272 conv2:6272 pool2:1568 conv3:1568 pool3:512 flatten:512 dense1:64'),
    ('leaky', (3, 32, 32), {}, 'dense1',
     'pool1:8192 conv2:8192 pool2:2048 conv3:2048 pool3:512 flatten:512 dense1:64'),
    ('leaky', (1, 9, 9), {}, 'dense1',
     'pool2:288 conv3:288 pool3:128 flatten:128 dense1:64'),
    ('leaky', (3, 20, 12), {}, 'dense1',
     'pool1:1920 conv2:1920 pool2:480 conv3:480 pool3:192 flatten:192 dense1:64'),
    ('tfm-net', (1, 28, 28), {}, 'dense1',
     'pool1:6272 block2:12544 pool2:3136 block3:6272 pool3:128 flatten:128 dense1:128'),
    ('tfm-net', (3, 32, 32), {}, 'dense1',
     'pool1:8192 block2:16384 pool2:4096 block3:8192 pool3:128 flatten:128 dense1:128'),
    ('tfm-net', (1, 9, 9), {}, 'dense1',
     'pool1:512 block2:1024 pool2:256 block3:512 pool3:128 flatten:128 dense1:128'),
    ('tfm-net', (3, 20, 12), {}, 'dense1',
     'pool1:1920 block2:3840 pool2:960 block3:1920 pool3:128 flatten:128 dense1:128'),
    ('tfm-small', (1, 28, 28), {}, 'dense1',
     'pool1:3136 block2:6272 pool2:1568 block3:3136 pool3:64 flatten:64 dense1:64'),
    ('tfm-small', (3, 32, 32), {}, 'dense1',
     'pool1:4096 block2:8192 pool2:2048 block3:4096 pool3:64 flatten:64 dense1:64'),
    ('tfm-small', (1, 9, 9), {}, 'dense1',
     'pool1:256 block2:512 pool2:128 block3:256 pool3:64 flatten:64 dense1:64'),
    ('tfm-small', (3, 20, 12), {}, 'dense1',
     'pool1:960 block2:1920 pool2:480 block3:960 pool3:64 flatten:64 dense1:64'),
    ('tfm-res', (1, 28, 28), {}, 'dense1',
     'layer1:12544 res1:12544 layer2:6272 layer3:2304 res3:2304 pool:256 flatten:256 dense1:256'),
    ('tfm-res', (3, 32, 32), {}, 'dense1',
     'layer1:16384 res1:16384 layer2:8192 layer3:4096 res3:4096 pool:256 flatten:256 dense1:256'),
    ('tfm-res', (1, 9, 9), {}, 'dense1',
     'layer1:1024 res1:1024 layer2:512 layer3:256 res3:256 pool:256 flatten:256 dense1:256'),
    ('tfm-res', (3, 20, 12), {}, 'dense1',
     'layer1:3840 res1:3840 layer2:1920 layer3:512 res3:512 pool:256 flatten:256 dense1:256'),
    ('leaky', (1, 28, 28), {'first_pool': 'input', 'pool': 'floor'}, 'dense1',
     'pool0:196 conv1:6272 pool1:1568 conv2:1568 pool2:288 conv3:288 pool3:32 flatten:32 dense1:64'),
    ('leaky', (1, 28, 28), {'first_pool': 'input', 'pool': 'ceil'}, 'dense1',
     'pool0:196 conv1:6272 pool1:1568 conv2:1568 pool2:512 conv3:512 pool3:128 flatten:128 dense1:64'),
    ('leaky', (1, 28, 28), {'first_pool': 'conv', 'pool': 'floor'}, 'dense1',
     'pool0:6272 conv1:6272 pool1:1568 conv2:1568 pool2:288 conv3:288 pool3:32 flatten:32 dense1:64'),
    ('leaky', (1, 28, 28), {'first_pool': 'conv', 'pool': 'ceil'}, 'dense1',
     'pool0:6272 conv1:6272 pool1:1568 conv2:1568 pool2:512 conv3:512 pool3:128 flatten:128 dense1:64'),
    ('leaky', (1, 28, 28), {'first_pool': 'none', 'pool': 'floor'}, 'dense1',
     'pool1:6272 conv2:6272 pool2:1568 conv3:1568 pool3:288 flatten:288 dense1:64'),
    ('leaky', (1, 28, 28), {'first_pool': 'none', 'pool': 'ceil'}, 'dense1',
     'pool1:6272 conv2:6272 pool2:1568 conv3:1568 pool3:512 flatten:512 dense1:64'),
    ('tfm-net', (1, 28, 28), {'width': 4}, 'dense1',
     'pool1:784 block2:1568 pool2:392 block3:784 pool3:16 flatten:16 dense1:16'),
    ('tfm-res', (1, 28, 28), {'width': 2}, 'dense1',
     'layer1:784 res1:784 layer2:392 layer3:144 res3:144 pool:16 flatten:16 dense1:16'),
]


def test_every_registered_model_is_pinned():
    assert {name for name, shape, args, *_ in PINNED if shape == (1, 28, 28) and not args} == set(list_models())


@pytest.mark.parametrize(("name", "shape", "args", "default", "candidates"), PINNED)
def test_read_out_layers_are_as_pinned(name, shape, args, default, candidates):
    model = create_model(name, 5, shape, **args)
    assert default_layer(model) == default
    assert " ".join(f"{layer}:{layer_width(model, layer)}" for layer in candidate_layers(model)) == candidates


@pytest.mark.parametrize("name", list_models())
def test_check_layer_takes_every_layer_and_names_them_all_when_refusing(name):
    model = create_model(name, 5)
    for layer in layer_names(model):
        check_layer(model, layer)
    with pytest.raises(OptionError) as error:
        check_layer(model, "nope")
    assert str(error.value) == f"no layer 'nope' in this model; valid layers: {', '.join(layer_names(model))}"
    assert layer_names(model)[-1] == "output"


@pytest.mark.parametrize(("name", "shape", "args", "default", "candidates"), PINNED)
def test_feature_info_declares_the_embedding_the_discovery_layer_and_every_width(name, shape, args, default, candidates):
    info = create_model(name, 5, shape, **args).feature_info
    pinned = [item.split(":") for item in candidates.split()]
    assert [(d["name"], str(d["width"])) for d in info.info] == [(layer, width) for layer, width in pinned]
    assert info.get("role") == ["discovery"] + ["embedding" if layer == default else "candidate" for layer, _ in pinned[1:]]
    assert (info.embedding, info.discovery, info.candidates) == (default, pinned[0][0], [layer for layer, _ in pinned])


def test_read_out_layers_are_measured_once_when_the_model_is_built():
    model = create_model("tfm-small", 5)
    calls = []
    model.register_forward_pre_hook(lambda *_: calls.append(1))
    for _ in range(3):
        candidate_layers(model), default_layer(model), [layer_width(model, n) for n in layer_names(model)]
    assert calls == []


def test_a_wrong_declaration_or_an_unregistered_model_is_refused():
    with pytest.raises(ValueError, match="'conv1' is not a read-out layer"):
        FeatureInfo.of(create_model("model-a", 5), "conv1")
    with pytest.raises(ValueError, match="'pool1' is not a read-out layer after the first"):
        FeatureInfo.of(create_model("model-a", 5), "pool1")
    with pytest.raises(ValueError, match="'output' is not a read-out layer"):
        FeatureInfo.of(create_model("model-a", 5), "output")
    assert create_model("model-a", 5).feature_info.widths["output"] == 5
    with pytest.raises(OptionError, match="not built by twistfm.models.create_model"):
        default_layer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 5)))
