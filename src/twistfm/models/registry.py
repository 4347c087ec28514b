"""The model registry: every architecture is a function registered under a name, with its arguments.

Each registered model declares the architecture arguments it takes, with their type and
range; :func:`create_model` checks them before building, so a bad ``--model-arg`` is one
clear line, never a traceback from deep inside PyTorch. Each also declares its embedding
layer (the layer encoded by default); the model built carries its read-out layers as
``feature_info`` (:class:`~twistfm.models.features.FeatureInfo`), measured once.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..errors import OptionError
from .features import FeatureInfo
from .layers import INPUT_SHAPE

__all__ = ["ModelArg", "ModelInfo", "register_model", "create_model", "list_models", "model_info", "check_model_args"]


@dataclass(frozen=True)
class ModelArg:
    """One architecture argument: its type, its range or choices, and what it means.

    Parameters
    ----------
    kind : {int, float, str}
    low, high : float or None
        Inclusive bounds (``float("inf")`` for none above).
    choices : tuple of str, optional
        The allowed values of a string argument.
    help : str
        What the argument sets.
    low_open : bool, default=False
        Whether ``low`` itself is excluded.
    high_open : bool, default=False
        Whether ``high`` itself is excluded.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        """The argument's type and range in words, e.g. ``an integer 1..1024``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = {int: "an integer", float: "a number", str: "a string"}[self.kind]
        if self.low is None:
            return kind
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{kind} in {left}{self.low:g}, {self.high:g}{right}"

    def check(self, model: str, name: str, value: Any) -> Any:
        """Return ``value`` as this argument's type, or raise OptionError saying what it takes."""
        wrong = OptionError(f"--model-arg {name}={value!r}: model {model!r} takes {name} as {self.describe()}"
                            + (f" ({self.help})" if self.help else ""))
        if self.kind is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise wrong
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        if self.kind is int and not (isinstance(value, int) or float(value).is_integer()):
            raise wrong
        value = self.kind(value)
        if self.low is not None:
            too_low = value <= self.low if self.low_open else value < self.low
            too_high = value >= self.high if self.high_open else value > self.high
            if too_low or too_high or value != value:
                raise wrong
        return value


@dataclass(frozen=True)
class ModelInfo:
    """A registered architecture: its name, builder, one-line description, embedding layer and arguments."""

    name: str
    builder: Callable[..., nn.Module]
    description: str
    embedding: str
    args: dict[str, ModelArg] = field(default_factory=dict)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(name: str, description: str, args: dict[str, ModelArg] | None = None, *, embedding: str
                   ) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: record ``builder`` under ``name`` for :func:`create_model`.

    Parameters
    ----------
    name, description : str
    args : dict, optional
        The architecture arguments the builder takes.
    embedding : str
        The top-level layer encoded by default (the seeds took their last hidden layer).
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelInfo(name, builder, description, embedding, dict(args or {}))
        return builder

    return decorate


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models matching a shell-style ``pattern``, in registry order."""
    return [n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)]


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model; raises OptionError naming the valid ones."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise OptionError(f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def check_model_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` checked against what model ``name`` takes, converted to their types."""
    info = model_info(name)
    unknown = sorted(set(args) - set(info.args))
    if unknown:
        takes = ", ".join(f"{k} ({a.describe()})" for k, a in info.args.items()) or "no arguments"
        raise OptionError(f"--model-arg {unknown[0]}: model {name!r} has no argument {unknown[0]!r}; it takes {takes}")
    return {k: info.args[k].check(name, k, v) for k, v in args.items()}


def create_model(name: str, num_classes: int, input_shape: tuple[int, int, int] = INPUT_SHAPE,
                 **kwargs: Any) -> nn.Module:
    """Build a fresh, untrained model.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    num_classes : int
        Number of output classes (taken from the data, never assumed).
    input_shape : (channels, height, width), default=(1, 28, 28)
        The images the model takes (taken from the data: :attr:`Dataset.input_shape`); 1 or 3
        channels, each side at least 8. The model keeps it as its ``input_shape`` attribute.
    **kwargs
        Architecture arguments of that model (for example ``width``), checked first.

    Returns
    -------
    nn.Module
        The model, with its read-out layers as its ``feature_info`` attribute.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise OptionError(f"num_classes must be an integer of at least 2, got {num_classes!r}")
    shape = tuple(input_shape)
    if (len(shape) != 3 or any(isinstance(v, bool) or not isinstance(v, int) for v in shape) or shape[0] not in (1, 3)
            or min(shape[1:]) < 8):
        raise OptionError(f"input_shape must be (channels, height, width) with 1 or 3 channels and sides of at least "
                          f"8, got {input_shape!r}")
    args = check_model_args(name, kwargs)
    info = model_info(name)
    model = info.builder(num_classes=num_classes, input_shape=shape, **args)
    model.input_shape = shape
    model.feature_info = FeatureInfo.of(model, info.embedding)
    return model
