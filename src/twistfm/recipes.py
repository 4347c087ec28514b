"""Every named training recipe, defined once (the seeds' runs, ours, the reference classifier), and the study presets.

Presets, benchmarks and tests take their training settings from here by name; a preset of
``twistfm run`` or ``twistfm compare`` names the recipe of each model it trains. What the
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

__all__ = ["Recipe", "RECIPES", "recipe", "StudyPreset", "PRESETS", "COMPARE_PRESETS", "study_preset",
           "compare_preset"]


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


# ------------------------------------------------------------------ presets: which recipes a study trains


@dataclass(frozen=True)
class StudyPreset:
    """Models to train (study label -> recipe name), and which one's encoding the analysis studies."""

    models: dict[str, str]
    analyzed: str
    description: str

    def configs(self, seed: int, epochs: int | None = None) -> dict[str, TrainConfig]:
        """Each model's training config, with ``seed`` and (when given) ``epochs`` set."""
        return {label: recipe(name, seed=seed, **({"epochs": epochs} if epochs else {}))
                for label, name in self.models.items()}


_SEED_MODELS = {"cm1-adam": "seed-cm1-adam", "cm1-sgd": "seed-cm1-sgd", "model-a": "seed-model-a",
                "model-b": "seed-model-b", "leaky": "seed-leaky"}

#: Presets of ``twistfm run``.
PRESETS: dict[str, StudyPreset] = {
    "quick": StudyPreset({"cm1": "quick-cm1", "tfm-small": "quick"}, "tfm-small",
                         "cm1 as a baseline and our narrow network, in a few minutes on a 2-core CPU"),
    "seed": StudyPreset(_SEED_MODELS, "model-a",
                        "both seeds' five training runs; the analysis encodes model-a, as seed 002 did"),
    "best": StudyPreset({"cm1": "seed-cm1-adam", "tfm-res": "best"}, "tfm-res",
                        "our fast high-accuracy recipe (about 20 minutes of training on a 2-core CPU)"),
}
#: Presets of ``twistfm compare``.
COMPARE_PRESETS: dict[str, StudyPreset] = {"seed": PRESETS["seed"]}


def _preset(name: str, presets: dict[str, StudyPreset]) -> StudyPreset:
    if name not in presets:
        raise OptionError(f"--preset {name!r}: choose one of {', '.join(presets)}")
    return presets[name]


def study_preset(name: str) -> StudyPreset:
    """The ``twistfm run`` preset ``name``; OptionError names the presets when there is none."""
    return _preset(name, PRESETS)


def compare_preset(name: str, seed: int = 0) -> dict[str, TrainConfig]:
    """The training configs of a ``twistfm compare`` preset."""
    return _preset(name, COMPARE_PRESETS).configs(seed)
