"""twistfm's own designs, made for the best accuracy a 2-core laptop CPU can train quickly."""

from __future__ import annotations

from torch import nn

from .layers import named
from .registry import ModelArg, register_model

__all__ = ["tfm_net"]


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _vgg(num_classes: int, width: int, dropout: float) -> nn.Module:
    w1, w2, w3 = width, 2 * width, 4 * width
    return named(
        ("block1", nn.Sequential(_conv_bn(1, w1), _conv_bn(w1, w1))),
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


@register_model("tfm-net", "ours: 6 conv+BN in 3 blocks (w, 2w, 4w), global pool, dense", _ARGS)
def tfm_net(num_classes: int, width: int = 32, dropout: float = 0.2) -> nn.Module:
    """A compact VGG-style network with batch normalisation and global max pooling.

    Parameters
    ----------
    num_classes : int
    width : int, default=32
        Filters of the first block; the next blocks have twice and four times as many.
    dropout : float, default=0.2
        Dropout before the two dense layers.
    """
    return _vgg(num_classes, width, dropout)


@register_model("tfm-small", "ours, narrow: tfm-net with width 16, for quick studies", _ARGS)
def tfm_small(num_classes: int, width: int = 16, dropout: float = 0.1) -> nn.Module:
    """tfm-net at a quarter of the cost, for the quick preset and tests."""
    return _vgg(num_classes, width, dropout)
