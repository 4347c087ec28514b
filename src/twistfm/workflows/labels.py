"""What a dataset's labels are: its split and label counts, and each label's meaning in the original classes."""

from __future__ import annotations

from ..analysis import LabelDecoding, decode_dataset
from ..data import Dataset, DataSpec, LabelSummary
from ..progress import say
from .common import Log

__all__ = ["data_info", "decode"]


def data_info(data: DataSpec) -> tuple[Dataset, list[LabelSummary]]:
    """The dataset a spec names, and per label its counts and the classes behind it."""
    data.check()
    dataset = data.load_full()
    return dataset, dataset.describe()


def decode(data: DataSpec, seed: int = 0, log: Log = say) -> LabelDecoding:
    """Name each label of the data by the original Fashion-MNIST classes behind it."""
    data.check()
    return decode_dataset(data.load_full(), data.data_dir, seed, log)[0]
