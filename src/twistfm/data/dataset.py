"""The dataset every later stage works on: train and test images with their labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import DataError, OptionError
from .twisted import CLASS_NAMES

__all__ = ["Dataset", "LabelSummary", "SPLITS", "check_labels", "check_count"]

#: The splits a later stage may ask for: one of the two, or both (train first, then test).
SPLITS: tuple[str, ...] = ("test", "train", "all")


@dataclass(frozen=True)
class LabelSummary:
    """One label of a dataset: its image counts and, where known, the classes behind it."""

    label: int
    train: int
    test: int
    classes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
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
        Where the data came from, in words, for reports.
    csv_dir, data_dir : str or None
        The absolute folder the data was read from: a CSV folder, or the archives' folder.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_train: np.ndarray | None = None
    class_test: np.ndarray | None = None
    source: str = "in memory"
    csv_dir: str | None = None
    data_dir: str | None = None

    @classmethod
    def from_arrays(cls, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
                    source: str = "arrays in memory") -> Dataset:
        """A dataset from images and labels already in memory (a notebook's own arrays).

        Parameters
        ----------
        x_train, x_test : ndarray of uint8, shape (N, 28, 28)
            Grey images, 0..255. Other integer types are taken when every value is in 0..255;
            floats are refused (scale them to 0..255 and convert to uint8 first).
        y_train, y_test : ndarray of int, shape (N,)
            One integer label per image (any integers; at least two distinct ones in training).
        source : str, default="arrays in memory"
            Where the data came from, in words, for reports.

        Raises
        ------
        DataError
            If an array has the wrong type, shape or range, or the counts of images and labels differ.
        """
        images = {"x_train": _checked_images("x_train", x_train), "x_test": _checked_images("x_test", x_test)}
        labels = {"y_train": _checked_labels("y_train", y_train, len(images["x_train"]), "x_train"),
                  "y_test": _checked_labels("y_test", y_test, len(images["x_test"]), "x_test")}
        check_labels(labels["y_train"], "y_train")
        return cls(**images, **labels, source=source)

    @property
    def label_values(self) -> np.ndarray:
        """The distinct label values, sorted; model outputs index into this."""
        return np.unique(np.concatenate([self.y_train, self.y_test]))

    @property
    def num_labels(self) -> int:
        """How many distinct labels the data has."""
        return len(self.label_values)

    @property
    def has_classes(self) -> bool:
        """Whether the original class of every image is known."""
        return self.class_train is not None and self.class_test is not None

    def label_index(self, y: np.ndarray) -> np.ndarray:
        """Map label values to 0..num_labels-1 (the class index a model predicts)."""
        return np.searchsorted(self.label_values, y).astype(np.int64)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the images and labels of both splits: equal data, equal fingerprint."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())
        return digest.hexdigest()

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` training and ``n_test`` test images (for quick runs).

        A count larger than the split takes the whole split; see :meth:`used_counts`.
        """
        check_count("--n-train", n_train)
        check_count("--n-test", n_test)
        tr, te = slice(0, n_train), slice(0, n_test)
        return Dataset(
            x_train=self.x_train[tr], y_train=self.y_train[tr], x_test=self.x_test[te], y_test=self.y_test[te],
            class_train=None if self.class_train is None else self.class_train[tr],
            class_test=None if self.class_test is None else self.class_test[te],
            source=self.source, csv_dir=self.csv_dir, data_dir=self.data_dir,
        )

    def used_counts(self, n_train: int | None, n_test: int | None) -> tuple[int, int]:
        """How many train and test images :meth:`subset` takes for these counts."""
        return (len(self.x_train) if n_train is None else min(n_train, len(self.x_train)),
                len(self.x_test) if n_test is None else min(n_test, len(self.x_test)))

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Images, labels and classes (or None) of ``"test"``, ``"train"`` or ``"all"`` (train, then test)."""
        if name not in SPLITS:
            raise OptionError(f"--split {name!r}: choose one of {', '.join(SPLITS)}")
        if name == "test":
            return self.x_test, self.y_test, self.class_test
        if name == "train":
            return self.x_train, self.y_train, self.class_train
        classes = np.concatenate([self.class_train, self.class_test]) if self.has_classes else None
        return np.concatenate([self.x_train, self.x_test]), np.concatenate([self.y_train, self.y_test]), classes

    def describe(self) -> list[LabelSummary]:
        """Per label: train and test counts and, where classes are known, the classes behind it."""
        rows = []
        for value in self.label_values:
            classes: tuple[str, ...] = ()
            if self.class_train is not None:
                classes = tuple(CLASS_NAMES[c] for c in np.unique(self.class_train[self.y_train == value]))
            rows.append(LabelSummary(int(value), int((self.y_train == value).sum()), int((self.y_test == value).sum()),
                                     classes))
        return rows


def _checked_images(name: str, x: object) -> np.ndarray:
    """``x`` as uint8 (N, 28, 28) images, or one DataError line saying what is wrong with it."""
    if not isinstance(x, np.ndarray):
        raise DataError(f"{name}: expected a NumPy array of images, got {type(x).__name__}")
    if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) == 0:
        hint = " (flat rows of 784 pixels? use x.reshape(-1, 28, 28))" if x.ndim == 2 and x.shape[-1] == 784 else ""
        raise DataError(f"{name}: shape {x.shape}; images must be N x 28 x 28 with N >= 1{hint}")
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind not in "iu":
        raise DataError(f"{name}: dtype {x.dtype}; images must be uint8 grey levels 0..255 (for images in [0, 1] "
                        "scale and convert them yourself, e.g. (x * 255).round().astype(np.uint8))")
    low, high = int(x.min()), int(x.max())
    if low < 0 or high > 255:
        raise DataError(f"{name}: values {low}..{high}; grey levels must lie in 0..255")
    return x.astype(np.uint8)


def _checked_labels(name: str, y: object, n_images: int, images: str) -> np.ndarray:
    """``y`` as int64 labels, one per image, or one DataError line saying what is wrong with it."""
    if not isinstance(y, np.ndarray):
        raise DataError(f"{name}: expected a NumPy array of labels, got {type(y).__name__}")
    if y.dtype.kind not in "iu":
        raise DataError(f"{name}: dtype {y.dtype}; labels must be integers")
    if y.ndim != 1:
        raise DataError(f"{name}: shape {y.shape}; labels must be one integer per image, shape (N,)")
    if len(y) != n_images:
        raise DataError(f"{name}: {len(y)} labels for {n_images} images in {images}; give one label per image")
    if y.dtype == np.uint64 and len(y) and int(y.max()) > np.iinfo(np.int64).max:
        raise DataError(f"{name}: label {int(y.max())} is too large; use small integers")
    return y.astype(np.int64)


def check_count(option: str, value: int | None) -> None:
    """Refuse an image count below 1 (None means all images)."""
    if value is not None and value < 1:
        raise OptionError(f"{option} must be at least 1 (or left out to use every image), got {value}")


def check_labels(y: np.ndarray, where: str) -> None:
    """Refuse a label set with fewer than two distinct values."""
    if len(np.unique(y)) < 2:
        raise DataError(
            f"{where}: only {len(np.unique(y))} distinct label(s); a classifier needs at "
            "least 2 - check that this is the right label file"
        )
