"""One loader for every source: the built-in Twisted Fashion-MNIST archives, a CSV folder in the seeds'
format, an image folder, a table (CSV or Parquet) or a NumPy ``.npz`` file."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DataError, OptionError
from .arrays import read_npz
from .csv import read_csv_dir
from .dataset import Dataset, check_count
from .fashion_mnist import load_fashion_mnist
from .images import check_fraction, parse_size, read_image_folder
from .table import read_table
from .twisted import twist

__all__ = ["DataSpec", "load_dataset", "load_twisted", "load_original"]


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """Which data a run uses: the source, how to read it, and how many images of each split.

    Parameters
    ----------
    csv_dir : str or None, default=None
        A CSV folder in the seed format.
    data_dir : str or None, default=None
        The folder of the Fashion-MNIST archives; None searches the usual places. Without
        another source, the data is the built-in Twisted Fashion-MNIST.
    images : str or None, default=None
        An image folder (see :mod:`twistfm.data.images`).
    table, test_table : str or None, default=None
        A table of images (see :mod:`twistfm.data.table`), and its test images in a file of their own.
    arrays : str or None, default=None
        A ``.npz`` file of ``x_train``, ``y_train``, ``x_test``, ``y_test``.
    label_column, split_column, image_column : str or None, default=None
        A table's columns, named instead of found by rule (recorded as found).
    test_fraction : float or None, default=None
        For an image folder or a table without its own split: each label's share kept for
        testing (recorded; default 0.2).
    data_seed : int or None, default=None
        Chooses that split and an image folder's order (recorded; default 0).
    resize : str or None, default=None
        ``HxW``: resize every image of an image folder or image column to this size.
    shape : tuple of int or None, default=None
        The images' height, width and channels, recorded by :meth:`resolve`.
    n_train, n_test : int or None, default=None
        Use only the first images of each split (None: all of them).
    fingerprint : str or None, default=None
        SHA-256 of the whole dataset (see :attr:`Dataset.fingerprint`), recorded by
        :meth:`resolve` so that later stages can check they read the same data.
    """

    csv_dir: str | None = None
    data_dir: str | None = None
    images: str | None = None
    table: str | None = None
    test_table: str | None = None
    arrays: str | None = None
    label_column: str | None = None
    split_column: str | None = None
    image_column: str | None = None
    test_fraction: float | None = None
    data_seed: int | None = None
    resize: str | None = None
    shape: tuple[int, ...] | None = None
    n_train: int | None = None
    n_test: int | None = None
    fingerprint: str | None = None

    #: Fields added after the first config files were written (absent in those, and while None).
    ADDED_FIELDS = ("images", "table", "test_table", "arrays", "label_column", "split_column", "image_column",
                    "test_fraction", "data_seed", "resize", "shape")

    @property
    def source_option(self) -> str | None:
        """The option naming this spec's source (``--images``, ...), or None for the built-in data."""
        given = [o for o, v in (("--csv-dir", self.csv_dir), ("--images", self.images), ("--table", self.table),
                                ("--arrays", self.arrays)) if v is not None]
        return given[0] if given else None

    @property
    def source_path(self) -> str:
        """The file or folder the data comes from, in words."""
        return self.csv_dir or self.images or self.table or self.arrays or "the Fashion-MNIST archives"

    def reading_options(self) -> list[str]:
        """The command-line words of this spec's other sources and their reading options (``--images DIR``,
        ``--table FILE``, ``--label-column NAME``, ...), to repeat a run; empty for the CSV folder and the archives."""
        words = []
        for name in ("images", "table", "test_table", "arrays", "label_column", "split_column", "image_column",
                     "test_fraction", "data_seed", "resize"):
            value = getattr(self, name)
            if value is not None and not (name == "data_seed" and value == 0):
                words += ["--" + name.replace("_", "-"), f"{value:g}" if isinstance(value, float) else str(value)]
        return words

    def check(self) -> None:
        """Refuse counts below 1, more than one source, and reading options the source does not take."""
        check_count("--n-train", self.n_train)
        check_count("--n-test", self.n_test)
        given = [o for o, v in (("--csv-dir", self.csv_dir), ("--images", self.images), ("--table", self.table),
                                ("--arrays", self.arrays)) if v is not None]
        if len(given) > 1:
            raise OptionError(f"{given[0]} and {given[1]} both name the data; give one source")
        source = given[0] if given else None
        takes = {"--table": ("--test-table", "--label-column", "--split-column", "--image-column"),
                 "--images": (), None: ()}.get(source, ())
        for option, value in (("--test-table", self.test_table), ("--label-column", self.label_column),
                              ("--split-column", self.split_column), ("--image-column", self.image_column)):
            if value is not None and option not in takes:
                raise OptionError(f"{option} is for a table (--table FILE); leave it out"
                                  + (f" with {source}" if source else ""))
        for option, value in (("--test-fraction", self.test_fraction), ("--data-seed", self.data_seed),
                              ("--resize", self.resize)):
            if value is not None and source not in ("--images", "--table"):
                raise OptionError(f"{option} is for an image folder or a table (--images, --table); leave it out"
                                  + (f" with {source}" if source else ""))
        if self.test_fraction is not None:
            check_fraction(self.test_fraction)
        if self.resize is not None:
            parse_size(self.resize)

    def load_full(self) -> Dataset:
        """The whole dataset this spec names (before taking the first images)."""
        seed = 0 if self.data_seed is None else self.data_seed
        resize = None if self.resize is None else parse_size(self.resize)
        if self.images is not None:
            return read_image_folder(self.images, test_fraction=self.test_fraction, seed=seed, resize=resize)
        if self.table is not None:
            return read_table(self.table, test_table=self.test_table, label_column=self.label_column,
                              split_column=self.split_column, image_column=self.image_column,
                              test_fraction=self.test_fraction, seed=seed, resize=resize)
        if self.arrays is not None:
            return read_npz(self.arrays)
        return load_dataset(csv_dir=self.csv_dir, data_dir=self.data_dir)

    def resolve(self, full: Dataset) -> DataSpec:
        """This spec with absolute paths, what the reader chose, the shape, the counts actually used and the
        data's fingerprint."""
        n_train, n_test = full.used_counts(self.n_train, self.n_test)
        shape = (*full.image_size, full.channels)
        return replace(self, csv_dir=full.csv_dir, data_dir=self.data_dir and str(Path(self.data_dir).resolve()),
                       **(full.origin or {}), shape=shape, n_train=n_train, n_test=n_test,
                       fingerprint=full.fingerprint)

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
            raise DataError(
                f"{where}: the data in {self.source_path} has changed since the run was trained (fingerprint "
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
