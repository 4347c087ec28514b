"""Every named training recipe, defined once: the seeds' runs, ours, and the reference classifier.

Presets, benchmarks and tests take their training settings from here by name. What the
seeds left open is filled with the defaults of the Keras they used (learning rate 1e-3 for
Adam, 0.01 for SGD); the momentum of the SGD runs is our choice, written down here. Every
recipe trains in the precision the machine computes fastest (``precision="auto"``:
bfloat16 only where it is native), so no recipe is tuned to one kind of CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .errors import OptionError
from .train import TrainConfig

__all__ = ["Recipe", "RECIPES", "recipe"]


@dataclass(frozen=True)
class Recipe:
    """A named training config and one sentence on where it comes from."""

    config: TrainConfig
    description: str


_OURS: dict[str, Any] = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="onecycle",
                             batch_size=128, augment=True, tta=True, label_smoothing=0.1)
# What the best Fashion-MNIST results add: random erasing, a moving average of the weights, Nesterov momentum.
_STRONG: dict[str, Any] = dict(_OURS, nesterov=True, erasing=0.25, ema=0.999)

RECIPES: dict[str, Recipe] = {
    "seed-cm1-adam": Recipe(
        TrainConfig(model="cm1", optimizer="adam", lr=1e-3, batch_size=10, epochs=10),
        "seed 002's default network: Adam, batch 10, 10 epochs, the last 20% held out"),
    "seed-cm1-sgd": Recipe(
        TrainConfig(model="cm1", optimizer="sgd", lr=0.01, momentum=0.9, batch_size=32, epochs=10),
        "seed 000's default network with SGD (its batch, epochs and momentum are unstated: ours)"),
    "seed-model-a": Recipe(
        TrainConfig(model="model-a", optimizer="adam", lr=1e-3, batch_size=32, epochs=5),
        "seed 002's model A: Adam, Keras's default batch 32, 5 epochs"),
    "seed-model-b": Recipe(
        TrainConfig(model="model-b", optimizer="adam", lr=1e-3, batch_size=32, epochs=10),
        "seed 002's model B: Adam, Keras's default batch 32, 10 epochs"),
    "seed-leaky": Recipe(
        TrainConfig(model="leaky", optimizer="sgd", lr=0.01, momentum=0.9, batch_size=32, epochs=10),
        "seed 000's own LeakyReLU network with SGD (its batch, epochs and momentum are unstated: ours)"),
    "quick-cm1": Recipe(
        TrainConfig(model="cm1", optimizer="adam", lr=1e-3, batch_size=64, epochs=3),
        "cm1 as a fast baseline for the quick study"),
    "quick": Recipe(
        TrainConfig(model="tfm-small", epochs=8, val_split=0.1, **_OURS),
        "our narrow network: one-cycle SGD, flips and shifts, label smoothing, flip test-time augmentation"),
    "best": Recipe(
        TrainConfig(model="tfm-res", epochs=24, val_split=0.0, **_STRONG),
        "our fast recipe: the residual network, random erasing and a moving average of the weights, about 20 minutes "
        "of training on a 2-core CPU"),
    "record": Recipe(
        TrainConfig(model="tfm-res", model_args={"width": 48}, epochs=60, val_split=0.0, **_STRONG),
        "our record recipe: the residual network, wider and longer (about 100 minutes of training on a 2-core CPU)"),
    "reference": Recipe(
        TrainConfig(model="tfm-small", optimizer="adamw", lr=3e-3, schedule="onecycle", batch_size=128, epochs=3,
                    val_split=0.0, augment=True),
        "the 10-class reference classifier that names images matching no Fashion-MNIST image"),
}


def recipe(name: str, **overrides: Any) -> TrainConfig:
    """The config of recipe ``name``, with any fields replaced by ``overrides``."""
    try:
        config = RECIPES[name].config
    except KeyError:
        raise OptionError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}") from None
    return replace(config, **overrides) if overrides else config
