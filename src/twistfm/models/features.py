"""Read-out layers: the layers of a model worth encoding, declared by the model and measured once.

As timm's ``feature_info``, each model built by :func:`~twistfm.models.create_model` carries a
:class:`FeatureInfo`: its read-out layers in order, each a dict ``{"name", "width", "role"}``
whose role is ``"discovery"`` (the first read-out, where the groups inside each label are
looked for), ``"embedding"`` (the layer a model declares in the registry: the default to encode)
or ``"candidate"`` (scored beside them). The read-outs start at the first layer that halves the
image (the first pooling) and end before the logits (the model's last layer). The widths of
every layer come from one forward pass of one image when the model is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from ..errors import OptionError
from .layers import input_shape_of
from .summary import LayerRow, layer_table

__all__ = ["FeatureInfo", "ROLES", "feature_info"]

#: The roles of a read-out layer, in the order they are looked up.
ROLES = ("discovery", "candidate", "embedding")


@dataclass(frozen=True)
class FeatureInfo:
    """A model's read-out layers and the width of each of its top-level layers.

    Attributes
    ----------
    info : tuple of dict
        The read-out layers, input to output: ``{"name": str, "width": int, "role": str}``.
    widths : dict
        Features per image of every top-level layer's output, by layer name.
    """

    info: tuple[dict[str, Any], ...]
    widths: dict[str, int]

    @classmethod
    def of(cls, model: nn.Module, embedding: str) -> FeatureInfo:
        """Measure ``model`` (one forward pass of one image) and mark ``embedding`` as its default read-out.

        Raises
        ------
        ValueError
            When ``embedding`` is not a read-out layer after the first one (a wrong declaration).
        """
        return cls.from_rows(layer_table(model), input_shape_of(model)[-1], embedding)

    @classmethod
    def from_rows(cls, rows: Sequence[LayerRow], image_width: int, embedding: str) -> FeatureInfo:
        """The read-out layers of a model whose top-level layers are ``rows`` (as :func:`layer_table` gives)."""
        first = next((i for i, r in enumerate(rows) if len(r.output_shape) < 3 or r.output_shape[-1] <= image_width // 2),
                     0)
        readouts = rows[first:-1]
        names = [r.name for r in readouts]
        if embedding not in names[1:]:
            raise ValueError(f"embedding layer {embedding!r} is not a read-out layer after the first; read-outs: {names}")
        info = tuple({"name": r.name, "width": _width(r),
                      "role": "discovery" if i == 0 else "embedding" if r.name == embedding else "candidate"}
                     for i, r in enumerate(readouts))
        return cls(info, {r.name: _width(r) for r in rows})

    def get(self, key: str) -> list[Any]:
        """``key`` of every read-out layer, in order (as timm's ``FeatureInfo.get``)."""
        return [d[key] for d in self.info]

    @property
    def candidates(self) -> list[str]:
        """Every read-out layer's name, input to output."""
        return self.get("name")

    @property
    def embedding(self) -> str:
        """The layer encoded by default: the one the model declares."""
        return self._role("embedding")

    @property
    def discovery(self) -> str:
        """The layer discovery reads: the first read-out."""
        return self._role("discovery")

    def _role(self, role: str) -> str:
        return next(d["name"] for d in self.info if d["role"] == role)


def feature_info(model: nn.Module) -> FeatureInfo:
    """The :class:`FeatureInfo` that :func:`~twistfm.models.create_model` gave ``model``.

    Raises
    ------
    OptionError
        When ``model`` was not built by the registry, so it declares no read-out layers.
    """
    info = getattr(model, "feature_info", None)
    if not isinstance(info, FeatureInfo):
        raise OptionError("this model was not built by twistfm.models.create_model, so it declares no read-out layers; "
                          "build it by name from the registry")
    return info


def _width(row: LayerRow) -> int:
    return int(np.prod(row.output_shape))
