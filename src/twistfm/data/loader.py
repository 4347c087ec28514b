"""One loader for every source: the built-in Twisted Fashion-MNIST archives, or a CSV folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DataError
from .csv import read_csv_dir
from .dataset import Dataset, check_count
from .fashion_mnist import load_fashion_mnist
from .twisted import twist

__all__ = ["DataSpec", "load_dataset", "load_twisted", "load_original"]


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """Which data a run uses: the source folder and how many images of each split.

    Parameters
    ----------
    csv_dir : str or None, default=None
        A CSV folder in the seed format; None means the built-in Twisted Fashion-MNIST.
    data_dir : str or None, default=None
        The folder of the Fashion-MNIST archives; None searches the usual places.
    n_train, n_test : int or None, default=None
        Use only the first images of each split (None: all of them).
    fingerprint : str or None, default=None
        SHA-256 of the whole dataset (see :attr:`Dataset.fingerprint`), recorded by
        :meth:`resolve` so that later stages can check they read the same data.
    """

    csv_dir: str | None = None
    data_dir: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    fingerprint: str | None = None

    def check(self) -> None:
        """Refuse counts below 1."""
        check_count("--n-train", self.n_train)
        check_count("--n-test", self.n_test)

    def load_full(self) -> Dataset:
        """The whole dataset this spec names (before taking the first images)."""
        return load_dataset(csv_dir=self.csv_dir, data_dir=self.data_dir)

    def resolve(self, full: Dataset) -> DataSpec:
        """This spec with absolute folders, the counts actually used and the data's fingerprint."""
        n_train, n_test = full.used_counts(self.n_train, self.n_test)
        return replace(self, csv_dir=full.csv_dir, data_dir=self.data_dir and str(Path(self.data_dir).resolve()),
                       n_train=n_train, n_test=n_test, fingerprint=full.fingerprint)

    def load_checked(self, where: str) -> Dataset:
        """Load the data a run recorded and check it is unchanged; return the run's slice of it.

        Raises
        ------
        DataError
            If the data is missing or its fingerprint differs from the recorded one.
        """
        try:
            full = self.load_full()
        except DataError as exc:
            raise DataError(f"{where}: cannot read the data this run was trained on: {exc}") from None
        if self.fingerprint is not None and full.fingerprint != self.fingerprint:
            source = self.csv_dir or "the Fashion-MNIST archives"
            raise DataError(
                f"{where}: the data in {source} has changed since the run was trained (fingerprint "
                f"{full.fingerprint[:12]} instead of {self.fingerprint[:12]}); restore the original files "
                "or train a new run on the new data")
        return full.subset(self.n_train, self.n_test)


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
        Folder with the Fashion-MNIST archives (built-in data only); see
        :func:`twistfm.data.locate_archives` for where they are looked for otherwise.
    download : bool, default=True
        Whether the archives may be downloaded when no folder has them.
    """
    if csv_dir is not None:
        return read_csv_dir(csv_dir)
    original = load_original(data_dir, download)
    return Dataset(x_train=original.x_train, y_train=twist(original.class_train), x_test=original.x_test,
                   y_test=twist(original.class_test), class_train=original.class_train,
                   class_test=original.class_test, source=original.source, data_dir=original.data_dir)


def load_original(data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """The original Fashion-MNIST: its labels are the 10 class ids (as are its classes)."""
    x_train, c_train, archives = load_fashion_mnist("train", data_dir, download)
    x_test, c_test, _ = load_fashion_mnist("test", data_dir, download)
    folder = str(archives.directory.resolve())
    return Dataset(x_train=x_train, y_train=c_train, x_test=x_test, y_test=c_test, class_train=c_train,
                   class_test=c_test, source=f"Fashion-MNIST archives in {folder} ({archives.origin})",
                   data_dir=folder)


def load_twisted(
    split: str, data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One split (``"train"`` or ``"test"``) of Twisted Fashion-MNIST: images, mystery labels, class ids."""
    x, y, classes = load_dataset(data_dir=data_dir, download=download).split(split)
    return x, y, classes
