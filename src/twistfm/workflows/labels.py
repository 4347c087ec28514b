"""What a dataset's labels are: its split and label counts, and each label's meaning in the original classes."""

from __future__ import annotations

import numpy as np

from ..analysis import LabelDecoding, decode_dataset
from ..data import Dataset, DataSpec, LabelSummary
from ..progress import say
from .common import Log

__all__ = ["data_info", "decode", "label_warnings"]


def data_info(data: DataSpec) -> tuple[Dataset, list[LabelSummary]]:
    """The dataset a spec names, and per label its counts and the classes behind it."""
    data.check()
    dataset = data.load_full()
    return dataset, dataset.describe()


def decode(data: DataSpec, seed: int = 0, log: Log = say) -> LabelDecoding:
    """Name each label of the data by the original Fashion-MNIST classes behind it."""
    data.check()
    return decode_dataset(data.load_full(), data.data_dir, seed, log)[0]


def label_warnings(dataset: Dataset) -> list[str]:
    """What in the labels caps what any model can learn, one warning line each: labels found only in the
    test images, and copies of one image that carry different labels."""
    warnings = []
    unseen = sorted(set(np.unique(dataset.y_test).tolist()) - set(np.unique(dataset.y_train).tolist()))
    if unseen:
        warnings.append(f"warning: label(s) {', '.join(map(str, unseen))} appear only in the test images: no training "
                        "image teaches the model them, so it cannot predict them; give training images of them or "
                        "leave them out")
    copies = dataset.conflicting_copies()
    if copies:
        shown = "; ".join(" = ".join(f"{split} image {row} (label {label})" for split, row, label in group)
                          for group in copies[:3])
        more = f"; and {len(copies) - 3} more" if len(copies) > 3 else ""
        warnings.append(f"warning: {len(copies)} image(s) appear more than once with different labels ({shown}{more}): "
                        "no model can predict both labels of one image; correct the labels or remove the copies")
    return warnings
