"""The dataset every later stage works on: train and test images with their labels."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .fashion_mnist import load_fashion_mnist
from .twisted import twist

__all__ = ["Dataset", "load_dataset"]


@dataclass(frozen=True)
class Dataset:
    """Images and labels for one study.

    Attributes
    ----------
    x_train, x_test : ndarray of uint8, shape (N, 28, 28)
    y_train, y_test : ndarray of int64, shape (N,)
        The labels as given (any integers; see ``label_values``).
    class_train, class_test : ndarray of int64 or None
        Original Fashion-MNIST class ids when known (built-in data), else None.
    source : str
        Where the data came from, for reports.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_train: np.ndarray | None
    class_test: np.ndarray | None
    source: str

    @property
    def label_values(self) -> np.ndarray:
        """The distinct label values, sorted; model outputs index into this."""
        return np.unique(np.concatenate([self.y_train, self.y_test]))

    @property
    def num_labels(self) -> int:
        """How many distinct labels the data has."""
        return len(self.label_values)

    def label_index(self, y: np.ndarray) -> np.ndarray:
        """Map label values to 0..num_labels-1 (the class index a model predicts)."""
        return np.searchsorted(self.label_values, y).astype(np.int64)

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` training and ``n_test`` test images (for quick runs)."""
        tr, te = slice(0, n_train), slice(0, n_test)
        return Dataset(
            self.x_train[tr], self.y_train[tr], self.x_test[te], self.y_test[te],
            None if self.class_train is None else self.class_train[tr],
            None if self.class_test is None else self.class_test[te],
            self.source,
        )


def load_dataset(
    csv_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Dataset:
    """Load the built-in Twisted Fashion-MNIST, or a user's CSV folder.

    Parameters
    ----------
    csv_dir : path-like, optional
        A folder with ``x_train.csv``, ``y_train.csv``, ``x_test.csv``, ``y_test.csv`` in
        the seed format. When given, labels come from these files.
    data_dir : path-like, optional
        Folder with the Fashion-MNIST archives (built-in data only).
    download : bool, default=True
    """
    if csv_dir is not None:
        from .csv import read_csv_dir

        return read_csv_dir(csv_dir)
    x_train, c_train, archives = load_fashion_mnist("train", data_dir, download)
    x_test, c_test, _ = load_fashion_mnist("test", data_dir, download)
    return Dataset(
        x_train, twist(c_train), x_test, twist(c_test), c_train, c_test,
        source=f"Fashion-MNIST archives in {archives.directory} ({archives.origin})",
    )


def check_labels(y: np.ndarray, where: str) -> None:
    """Refuse a label set with fewer than two distinct values."""
    if len(np.unique(y)) < 2:
        raise DataError(
            f"{where}: only {len(np.unique(y))} distinct label(s); a classifier needs at "
            "least 2 - check that this is the right label file"
        )
