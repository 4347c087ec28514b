"""The seeds' architectures: cm1, model-a, model-b and seed 000's leaky network.

Parameter counts equal the seeds' Keras summaries (40,933 / 174,629 / 1,092,945) on 28 x 28
grey images; on other images the first convolution takes their channels and the first dense
layer their flattened size (as Keras would build the same layer list). The softmax is
folded into the loss, so each model returns logits. Weights start as Keras
starts them (Glorot-uniform kernels, zero biases), so the seeds' runs are reproduced
faithfully.
"""

from __future__ import annotations

from torch import nn

from ..errors import OptionError
from .layers import INPUT_SHAPE, LEAKY_SLOPE, conv, dense, named
from .registry import ModelArg, register_model

__all__ = ["cm1", "model_a", "model_b", "leaky", "keras_init"]


def keras_init(model: nn.Module) -> nn.Module:
    """Initialise like Keras: Glorot-uniform kernels and zero biases for every conv and dense layer."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    return model


@register_model("cm1", "seed default network: conv32 same, pool, conv32 same, dense", embedding="flatten")
def cm1(num_classes: int, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> nn.Module:
    """Two 3x3 'same' convolutions of 32 filters around a 2x2 max-pool, then one dense layer."""
    channels, height, width = input_shape
    return keras_init(named(
        ("conv1", conv(channels, 32)),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", conv(32, 32)),
        ("flatten", nn.Flatten()),
        ("output", nn.Linear((height // 2) * (width // 2) * 32, num_classes)),
    ))


def _conv_pool_dense(filters: int, units: int, num_classes: int, input_shape: tuple[int, int, int]) -> nn.Module:
    channels, height, width = input_shape
    return keras_init(named(
        ("conv1", conv(channels, filters, padding="valid")),
        ("pool1", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("dense1", dense(((height - 2) // 2) * ((width - 2) // 2) * filters, units)),
        ("dense2", dense(units, units)),
        ("output", nn.Linear(units, num_classes)),
    ))


@register_model("model-a", "seed 002 model A: conv32 valid, pool, dense32, dense32", embedding="dense2")
def model_a(num_classes: int, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> nn.Module:
    """Seed 002's model A (its encoding was ``dense2``, the second dense-32 layer)."""
    return _conv_pool_dense(32, 32, num_classes, input_shape)


@register_model("model-b", "seed 002 model B: conv64 valid, pool, dense100, dense100", embedding="dense2")
def model_b(num_classes: int, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> nn.Module:
    """Seed 002's model B."""
    return _conv_pool_dense(64, 100, num_classes, input_shape)


_LEAKY_ARGS = {
    "units": ModelArg(int, 1, 4096, help="width of the hidden dense layer"),
    "pool": ModelArg(str, choices=("floor", "ceil"),
                     help="odd sizes: floor as Keras's 'valid' pooling (28-14-7-3-1) or ceil as its 'same' (28-14-7-4-2)"),
    "conv_act": ModelArg(str, choices=("relu", "linear", "leaky"), help="activation of the first two convolutions"),
    "slope": ModelArg(float, 0.0, 1.0, help="slope of the LeakyReLUs"),
    "first_pool": ModelArg(str, choices=("input", "conv", "none"),
                           help="the seed's first pooling: on the input image ('input'), after a convolution the seed "
                                "does not list ('conv'), or none"),
}


@register_model("leaky", "seed 000's own: LeakyReLU, 3 conv32 with pools, dense, LeakyReLU", _LEAKY_ARGS,
                embedding="dense1")
def leaky(num_classes: int, units: int = 64, pool: str = "ceil", conv_act: str = "leaky",
          slope: float = LEAKY_SLOPE, first_pool: str = "none", input_shape: tuple[int, int, int] = INPUT_SHAPE
          ) -> nn.Module:
    """Seed 000's own design, as its text lists the layers.

    The seed names the layers but not everything about them; each open point is an argument:
    the activation of the first two convolutions (``conv_act``; the third is followed by the
    seed's explicit LeakyReLU), how pooling treats odd sizes (``pool``), the hidden dense
    layer's width (``units``), the LeakyReLUs' slope (``slope``, Keras's default 0.3), and
    whether the first pooling, which the seed lists right after a LeakyReLU on the input,
    halves the image before any convolution (``first_pool="input"``), follows a convolution
    the list leaves out (``"conv"``: four convolution and pooling pairs), or is not there
    (``"none"``).
    The three LeakyReLUs sit where the seed lists them: on the raw input (where, on images
    in [0, 1], it changes nothing), after the third convolution, after the hidden dense layer.

    The defaults are the reading that came closest to the seed's own test count (93.73 %)
    in ``bench/leaky_readings.py``: pooling that keeps odd sizes, no pooling before the first
    convolution, LeakyReLU after every convolution, 64 units (51,973 parameters for 5
    labels). Pooling the raw input, as the list literally reads, loses about 2.5 points.
    """
    ceil = pool == "ceil"
    channels, height, width = input_shape
    # 28 -> 14 -> 7 -> 4 -> 2 (ceil) or 28 -> 14 -> 7 -> 3 -> 1 (floor); without the first pooling, 28 -> 14 -> 7 -> 4 / 3
    pools = 3 if first_pool == "none" else 4

    def pooled(side: int) -> int:
        for _ in range(pools):
            side = -(-side // 2) if ceil else side // 2
        return side

    if min(pooled(height), pooled(width)) < 1:
        raise OptionError(f"leaky with first_pool={first_pool!r} and pool={pool!r} pools {height} x {width} images to "
                          "nothing; use larger images or another first_pool")
    first = {"input": [("pool0", nn.MaxPool2d(2, ceil_mode=ceil))],
             "conv": [("conv0", conv(channels, 32, act=conv_act, slope=slope)),
                      ("pool0", nn.MaxPool2d(2, ceil_mode=ceil))],
             "none": []}[first_pool]
    return keras_init(named(
        ("act0", nn.LeakyReLU(slope)),
        *first,
        ("conv1", conv(32 if first_pool == "conv" else channels, 32, act=conv_act, slope=slope)),
        ("pool1", nn.MaxPool2d(2, ceil_mode=ceil)),
        ("conv2", conv(32, 32, act=conv_act, slope=slope)),
        ("pool2", nn.MaxPool2d(2, ceil_mode=ceil)),
        ("conv3", conv(32, 32, act="leaky", slope=slope)),
        ("pool3", nn.MaxPool2d(2, ceil_mode=ceil)),
        ("flatten", nn.Flatten()),
        ("dense1", dense(32 * pooled(height) * pooled(width), units, act="leaky", slope=slope)),
        ("output", nn.Linear(units, num_classes)),
    ))
