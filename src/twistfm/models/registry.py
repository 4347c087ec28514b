"""The model registry: every architecture is a function registered under a name."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..errors import OptionError

__all__ = ["register_model", "create_model", "list_models", "model_info", "ModelInfo"]


@dataclass(frozen=True)
class ModelInfo:
    """A registered architecture: its name, builder and one-line description."""

    name: str
    builder: Callable[..., nn.Module]
    description: str


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(name: str, description: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: record ``builder`` under ``name`` so :func:`create_model` can build it."""

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelInfo(name, builder, description)
        return builder

    return decorate


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models matching a shell-style ``pattern``, in registry order."""
    return [n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)]


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model; raises OptionError naming the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise OptionError(f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}") from None


def create_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    """Build a fresh, untrained model.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    num_classes : int
        Number of output classes (taken from the data, never assumed).
    **kwargs
        Architecture arguments of that model (for example ``width``).
    """
    if num_classes < 2:
        raise OptionError(f"num_classes must be at least 2, got {num_classes}")
    try:
        return model_info(name).builder(num_classes=num_classes, **kwargs)
    except TypeError as exc:
        raise OptionError(f"model {name!r}: {exc}") from None
