"""twistfm's own designs, made for the best accuracy a 2-core laptop CPU can train quickly.

Each ends in a global pooling, so it takes images of any size; the first layer takes their channels.
"""

from __future__ import annotations

from torch import nn

from .layers import INPUT_SHAPE, named
from .registry import ModelArg, register_model

__all__ = ["tfm_net"]


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _vgg(num_classes: int, width: int, dropout: float, channels: int) -> nn.Module:
    w1, w2, w3 = width, 2 * width, 4 * width
    return named(
        ("block1", nn.Sequential(_conv_bn(channels, w1), _conv_bn(w1, w1))),
        ("pool1", nn.MaxPool2d(2)),
        ("block2", nn.Sequential(_conv_bn(w1, w2), _conv_bn(w2, w2))),
        ("pool2", nn.MaxPool2d(2)),
        ("block3", nn.Sequential(_conv_bn(w2, w3), _conv_bn(w3, w3))),
        ("pool3", nn.AdaptiveMaxPool2d(1)),
        ("flatten", nn.Flatten()),
        ("dense1", nn.Sequential(nn.Dropout(dropout), nn.Linear(w3, w3), nn.ReLU(inplace=True))),
        ("output", nn.Sequential(nn.Dropout(dropout), nn.Linear(w3, num_classes))),
    )


_ARGS = {"width": ModelArg(int, 1, 256, help="filters of the first block"),
         "dropout": ModelArg(float, 0.0, 1.0, high_open=True, help="dropout before the dense layers")}


@register_model("tfm-net", "ours: 6 conv+BN in 3 blocks (w, 2w, 4w), global pool, dense", _ARGS, embedding="dense1")
def tfm_net(num_classes: int, width: int = 32, dropout: float = 0.2,
            input_shape: tuple[int, int, int] = INPUT_SHAPE) -> nn.Module:
    """A compact VGG-style network with batch normalisation and global max pooling.

    Parameters
    ----------
    num_classes : int
    width : int, default=32
        Filters of the first block; the next blocks have twice and four times as many.
    dropout : float, default=0.2
        Dropout before the two dense layers.
    input_shape : (channels, height, width), default=(1, 28, 28)
    """
    return _vgg(num_classes, width, dropout, input_shape[0])


@register_model("tfm-small", "ours, narrow: tfm-net with width 16, for quick studies", _ARGS, embedding="dense1")
def tfm_small(num_classes: int, width: int = 16, dropout: float = 0.1,
              input_shape: tuple[int, int, int] = INPUT_SHAPE) -> nn.Module:
    """tfm-net at a quarter of the cost, for the quick preset and tests."""
    return _vgg(num_classes, width, dropout, input_shape[0])


class Residual(nn.Sequential):
    """Its layers' output added to its input (the layers keep the shape)."""

    def forward(self, x):  # noqa: D102
        return x + super().forward(x)


@register_model("tfm-res", "ours, residual: conv w, then 2w, 4w, 8w with pools and two residual blocks, dense",
                {"width": ModelArg(int, 1, 128, help="filters of the first layer"),
                 "dropout": ModelArg(float, 0.0, 1.0, high_open=True, help="dropout before the dense layers")},
                embedding="dense1")
def tfm_res(num_classes: int, width: int = 32, dropout: float = 0.1,
            input_shape: tuple[int, int, int] = INPUT_SHAPE) -> nn.Module:
    """A small residual network in the style of the fast CIFAR ResNet-9, sized for 28x28 images (any size works).

    Parameters
    ----------
    num_classes : int
    width : int, default=32
        Filters of the first layer; the next stages have 2, 4 and 8 times as many.
    dropout : float, default=0.1
    input_shape : (channels, height, width), default=(1, 28, 28)
    """
    w1, w2, w3, w4 = width, 2 * width, 4 * width, 8 * width
    return named(
        ("prep", _conv_bn(input_shape[0], w1)),
        ("layer1", nn.Sequential(_conv_bn(w1, w2), nn.MaxPool2d(2))),
        ("res1", Residual(_conv_bn(w2, w2), _conv_bn(w2, w2))),
        ("layer2", nn.Sequential(_conv_bn(w2, w3), nn.MaxPool2d(2))),
        ("layer3", nn.Sequential(_conv_bn(w3, w4), nn.MaxPool2d(2))),
        ("res3", Residual(_conv_bn(w4, w4), _conv_bn(w4, w4))),
        ("pool", nn.AdaptiveMaxPool2d(1)),
        ("flatten", nn.Flatten()),
        ("dense1", nn.Sequential(nn.Dropout(dropout), nn.Linear(w4, w4), nn.ReLU(inplace=True))),
        ("output", nn.Sequential(nn.Dropout(dropout), nn.Linear(w4, num_classes))),
    )
