"""The seeds' architectures: cm1, model-a, model-b and seed 000's leaky network.

Parameter counts equal the seeds' Keras summaries (40,933 / 174,629 / 1,092,945). The
softmax is folded into the loss, so each model returns logits. Weights start as Keras
starts them (Glorot-uniform kernels, zero biases), so the seeds' runs are reproduced
faithfully.
"""

from __future__ import annotations

from torch import nn

from .layers import conv, dense, named
from .registry import ModelArg, register_model

__all__ = ["cm1", "model_a", "model_b", "leaky", "keras_init"]


def keras_init(model: nn.Module) -> nn.Module:
    """Initialise like Keras: Glorot-uniform kernels and zero biases for every conv and dense layer."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    return model


@register_model("cm1", "seed default network: conv32 same, pool, conv32 same, dense")
def cm1(num_classes: int) -> nn.Module:
    """Two 3x3 'same' convolutions of 32 filters around a 2x2 max-pool, then one dense layer."""
    return keras_init(named(
        ("conv1", conv(1, 32)),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", conv(32, 32)),
        ("flatten", nn.Flatten()),
        ("output", nn.Linear(14 * 14 * 32, num_classes)),
    ))


def _conv_pool_dense(filters: int, units: int, num_classes: int) -> nn.Module:
    return keras_init(named(
        ("conv1", conv(1, filters, padding="valid")),
        ("pool1", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("dense1", dense(13 * 13 * filters, units)),
        ("dense2", dense(units, units)),
        ("output", nn.Linear(units, num_classes)),
    ))


@register_model("model-a", "seed 002 model A: conv32 valid, pool, dense32, dense32")
def model_a(num_classes: int) -> nn.Module:
    """Seed 002's model A (its encoding was ``dense2``, the second dense-32 layer)."""
    return _conv_pool_dense(32, 32, num_classes)


@register_model("model-b", "seed 002 model B: conv64 valid, pool, dense100, dense100")
def model_b(num_classes: int) -> nn.Module:
    """Seed 002's model B."""
    return _conv_pool_dense(64, 100, num_classes)


@register_model("leaky", "seed 000's own: LeakyReLU, 3 conv32 with pools, dense, LeakyReLU",
                {"units": ModelArg(int, 1, 4096, help="width of the hidden dense layer")})
def leaky(num_classes: int, units: int = 64) -> nn.Module:
    """Seed 000's own design, as its text lists the layers.

    What the seed leaves open is chosen here: convolutions are 'same' with ReLU ("ReLU
    unless said"), except the third, which the seed follows with a LeakyReLU; the three
    LeakyReLUs (on the raw input, after the third convolution, after the hidden dense
    layer) use Keras's default slope 0.3; pooling floors odd sizes as Keras's 'valid'
    pooling does (28->14->7->3->1); and the hidden dense layer has ``units`` = 64.
    """
    return keras_init(named(
        ("act0", nn.LeakyReLU(0.3)),
        ("pool0", nn.MaxPool2d(2)),
        ("conv1", conv(1, 32)),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", conv(32, 32)),
        ("pool2", nn.MaxPool2d(2)),
        ("conv3", conv(32, 32, act="leaky")),
        ("pool3", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("dense1", dense(32, units, act="leaky")),
        ("output", nn.Linear(units, num_classes)),
    ))
