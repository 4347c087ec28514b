"""``model.json``'s record: which registered architecture, with which arguments, and what its outputs mean.

It lives beside the registry because it is all a stage needs to rebuild a network; the run
folder (:mod:`twistfm.runs`) stores it, training (:mod:`twistfm.train`) makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import RunError
from .layers import INPUT_SHAPE

__all__ = ["MAX_OUTPUTS", "ModelRecord"]

#: The most outputs (labels) a model.json may claim; more is a corrupt file (rebuilding it would
#: allocate gigabytes before its weights could be checked).
MAX_OUTPUTS = 10_000


@dataclass(frozen=True, kw_only=True)
class ModelRecord:
    """``model.json``: the architecture by name and arguments, and what its outputs mean.

    Attributes
    ----------
    name : str
        Registered model name.
    args : dict
        Architecture arguments for :func:`twistfm.models.create_model`.
    num_classes : int
        Number of outputs.
    label_values : list of int
        The label value of each output, in order.
    input_shape : list of int or None
        The (channels, height, width) the model takes; None (runs before it was recorded)
        means Fashion-MNIST's (1, 28, 28).
    label_names : list of str or None
        The name of each output's label, where the data named its labels.
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    num_classes: int
    label_values: list[int]
    input_shape: list[int] | None = None
    label_names: list[str] | None = None

    #: Fields added after the first model.json files were written (absent in those, and while None).
    ADDED_FIELDS = ("input_shape", "label_names")

    @classmethod
    def of(cls, name: str, args: dict[str, Any], dataset: Any) -> ModelRecord:
        """The record of model ``name`` (with architecture ``args``) trained on ``dataset``."""
        return cls(name=name, args=args, num_classes=dataset.num_labels,
                   label_values=[int(v) for v in dataset.label_values], input_shape=list(dataset.input_shape),
                   label_names=None if dataset.label_names is None else list(dataset.label_names))

    @property
    def shape(self) -> tuple[int, int, int]:
        """The (channels, height, width) the model takes."""
        return tuple(self.input_shape) if self.input_shape is not None else INPUT_SHAPE

    def check(self, where: str) -> None:
        """Refuse a record whose outputs and labels disagree, or that claims more outputs than any run has."""
        if self.num_classes > MAX_OUTPUTS:
            raise RunError(f"{where}: claims {self.num_classes:,} outputs, more than twistfm ever trains (at most "
                           f"{MAX_OUTPUTS:,} labels); the file is corrupt, re-run the training")
        if len(set(self.label_values)) != len(self.label_values):
            raise RunError(f"{where}: label_values repeat a value; the file is corrupt, re-run the training")
        if self.num_classes < 2 or len(self.label_values) != self.num_classes:
            raise RunError(f"{where}: {self.num_classes} outputs but {len(self.label_values)} label values; "
                           "the file is corrupt, re-run the training")
        if self.label_names is not None and len(self.label_names) != self.num_classes:
            raise RunError(f"{where}: {self.num_classes} outputs but {len(self.label_names)} label names; "
                           "the file is corrupt, re-run the training")
        if self.input_shape is not None and (len(self.input_shape) != 3 or self.input_shape[0] not in (1, 3)
                                             or min(self.input_shape[1:]) < 8 or max(self.input_shape[1:]) > 4096):
            raise RunError(f"{where}: input_shape {self.input_shape} is not (1 or 3 channels, height, width) with "
                           "sides 8..4096; the file is corrupt, re-run the training")
