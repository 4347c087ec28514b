"""The dataset every later stage works on: train and test images with their labels.

Images are uint8, ``(N, H, W)`` for grey ones or ``(N, H, W, 3)`` for colour ones, one size
per dataset (at least ``MIN_SIDE`` pixels a side); they keep that shape until the model
boundary (:func:`twistfm.models.to_input`).
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..errors import DataError, OptionError
from .twisted import CLASS_NAMES

__all__ = ["Dataset", "LabelSummary", "SPLITS", "MIN_SIDE", "check_labels", "check_count", "check_label_names",
           "split_by_label"]

#: The smallest image side twistfm takes (every model halves the image at least twice).
MIN_SIDE = 8

#: The splits a later stage may ask for: one of the two, or both (train first, then test).
SPLITS: tuple[str, ...] = ("test", "train", "all")


@dataclass(frozen=True)
class LabelSummary:
    """One label of a dataset: its image counts and, where known, the classes behind it."""

    label: int
    train: int
    test: int
    classes: tuple[str, ...]
    #: The label's name where the source named it (an image folder's name), else None.
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """Images and labels for one study.

    Attributes
    ----------
    x_train, x_test : ndarray of uint8, shape (N, H, W) or (N, H, W, 3)
        Grey or colour images, both splits of one size.
    y_train, y_test : ndarray of int64, shape (N,)
        The labels as given (any integers; see ``label_values``).
    class_train, class_test : ndarray of int64 or None
        Original Fashion-MNIST class ids when known (built-in data), else None.
    source : str
        Where the data came from, in words, for reports.
    csv_dir, data_dir : str or None
        The absolute folder the data was read from: a CSV folder, or the archives' folder.
    label_names : tuple of str or None
        The name of each label value (in ``label_values`` order) where the source named them,
        as an image folder's label folders do; None where the labels are only numbers.
    origin : dict or None
        For the other sources (image folders, tables, NumPy files): the
        :class:`~twistfm.data.DataSpec` fields that read this whole dataset again.
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
    label_names: tuple[str, ...] | None = None
    origin: dict | None = None

    @classmethod
    def from_arrays(cls, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
                    label_names: Sequence[str] | None = None, source: str = "arrays in memory") -> Dataset:
        """A dataset from images and labels already in memory (a notebook's own arrays).

        Parameters
        ----------
        x_train, x_test : ndarray of uint8, shape (N, H, W), (N, H, W, 1) or (N, H, W, 3)
            Grey or colour images, 0..255, of one size of at least 8 x 8 for both splits.
            Other integer types are taken when every value is in 0..255; floats are refused
            (scale them to 0..255 and convert to uint8 first).
        y_train, y_test : ndarray of int, shape (N,)
            One integer label per image (any integers; at least two distinct ones in training).
        label_names : sequence of str, optional
            A name for each distinct label value, in sorted order of the values (shown in the report).
        source : str, default="arrays in memory"
            Where the data came from, in words, for reports.

        Raises
        ------
        DataError
            If an array has the wrong type, shape or range, the splits' image sizes differ,
            or the counts of images and labels differ.
        """
        images = {"x_train": _checked_images("x_train", x_train), "x_test": _checked_images("x_test", x_test)}
        if images["x_train"].shape[1:] != images["x_test"].shape[1:]:
            raise DataError(f"x_train holds {_size(images['x_train'])} images but x_test {_size(images['x_test'])}; "
                            "both splits need one size and the same channels")
        labels = {"y_train": _checked_labels("y_train", y_train, len(images["x_train"]), "x_train"),
                  "y_test": _checked_labels("y_test", y_test, len(images["x_test"]), "x_test")}
        check_labels(labels["y_train"], "y_train")
        names = None
        if label_names is not None:
            names = tuple(label_names)
            check_label_names(names, len(np.unique(np.concatenate([labels["y_train"], labels["y_test"]]))),
                              "label_names")
        return cls(**images, **labels, label_names=names, source=source)

    @property
    def image_size(self) -> tuple[int, int]:
        """Height and width of every image."""
        return int(self.x_train.shape[1]), int(self.x_train.shape[2])

    @property
    def channels(self) -> int:
        """1 for grey images, 3 for colour ones."""
        return 1 if self.x_train.ndim == 3 else int(self.x_train.shape[3])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape a model takes each image in: (channels, height, width)."""
        return (self.channels, *self.image_size)

    def with_origin(self, origin: dict) -> Dataset:
        """This dataset, recording the :class:`~twistfm.data.DataSpec` fields that read it again."""
        return replace(self, origin=dict(origin))

    def name_of(self, value: int) -> str | None:
        """The name of label ``value`` where the source named it, else None."""
        if self.label_names is None:
            return None
        return self.label_names[int(np.searchsorted(self.label_values, value))]

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
        if self.label_names is not None:  # (data without names keeps the fingerprint it always had)
            digest.update(repr(self.label_names).encode())
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
            source=self.source, csv_dir=self.csv_dir, data_dir=self.data_dir, label_names=self.label_names,
            origin=self.origin,
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

    def conflicting_copies(self) -> list[list[tuple[str, int, int]]]:
        """Images that appear more than once, in either split, with different labels.

        Each group lists its copies as ``(split, row, label)``; equal images are found by
        a hash of their bytes, then compared byte for byte. No model can predict two labels
        for one image, so such copies cap the accuracy any model reaches.
        """
        x, y, _ = self.split("all")
        flat = np.ascontiguousarray(x.reshape(len(x), -1))
        _, inverse, counts = np.unique(_row_hashes(flat), return_inverse=True, return_counts=True)
        by_bytes: dict[bytes, list[int]] = {}
        for row in np.flatnonzero(counts[inverse.ravel()] > 1):
            by_bytes.setdefault(flat[row].tobytes(), []).append(int(row))
        n_train = len(self.x_train)
        return [[("train", r, int(y[r])) if r < n_train else ("test", r - n_train, int(y[r])) for r in rows]
                for rows in by_bytes.values() if len(set(y[rows].tolist())) > 1]

    def describe(self) -> list[LabelSummary]:
        """Per label: train and test counts and, where classes are known, the classes behind it."""
        rows = []
        for value in self.label_values:
            classes: tuple[str, ...] = ()
            if self.class_train is not None:
                classes = tuple(CLASS_NAMES[c] for c in np.unique(self.class_train[self.y_train == value]))
            rows.append(LabelSummary(int(value), int((self.y_train == value).sum()), int((self.y_test == value).sum()),
                                     classes, self.name_of(value)))
        return rows

    def __repr__(self) -> str:
        return (f"<twistfm Dataset: {len(self.x_train):,} training and {len(self.x_test):,} test images, "
                f"{_size(self.x_train)}, {self.num_labels} labels; {self.source}>")

    def _repr_html_(self) -> str:
        """A short table for a notebook: the images per split, their size, each label with its counts, the origin."""
        cell = 'style="text-align:left"'
        head = "".join(f"<th {cell}>{h}</th>" for h in ("label", "name", "training images", "test images", "classes"))
        body = "".join(f"<tr><td {cell}>{r.label}</td><td {cell}>{html.escape(r.name or '-')}</td><td {cell}>{r.train:,}"
                       f"</td><td {cell}>{r.test:,}</td><td {cell}>{html.escape(', '.join(r.classes) or '-')}</td></tr>"
                       for r in self.describe())
        return (f"<b>twistfm dataset</b>: {len(self.x_train):,} training and {len(self.x_test):,} test images, "
                f"{html.escape(_size(self.x_train))}; from {html.escape(self.source)}"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _row_hashes(flat: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """A 64-bit hash of each row of bytes (equal rows, equal hashes; a few unequal rows may share one)."""
    width = -(-flat.shape[1] // 8) * 8
    multipliers = np.random.default_rng(0).integers(1, 2**63, size=width // 8, dtype=np.uint64) | np.uint64(1)
    hashes = np.empty(len(flat), dtype=np.uint64)
    for start in range(0, len(flat), chunk):
        block = np.zeros((min(chunk, len(flat) - start), width), dtype=np.uint8)
        block[:, :flat.shape[1]] = flat[start:start + chunk]
        hashes[start:start + len(block)] = (block.view(np.uint64) * multipliers).sum(axis=1, dtype=np.uint64)
    return hashes


def _size(x: np.ndarray) -> str:
    """``28 x 28 grey`` or ``32 x 32 colour``: an image array's size in words."""
    return f"{x.shape[1]} x {x.shape[2]} " + ("grey" if x.ndim == 3 else "colour")


def _checked_images(name: str, x: object) -> np.ndarray:
    """``x`` as uint8 (N, H, W) or (N, H, W, 3) images, or one DataError line saying what is wrong with it."""
    if not isinstance(x, np.ndarray):
        raise DataError(f"{name}: expected a NumPy array of images, got {type(x).__name__}")
    if x.ndim == 4 and x.shape[3] == 1:
        x = x[..., 0]
    shaped = (x.ndim == 3 or (x.ndim == 4 and x.shape[3] == 3)) and len(x) > 0
    if not shaped or min(x.shape[1:3]) < MIN_SIDE:
        hint = ""
        if x.ndim == 2 and x.shape[-1] == 784:
            hint = " (flat rows of 784 pixels? use x.reshape(-1, 28, 28))"
        elif x.ndim == 4 and x.shape[1] in (1, 3):
            hint = " (channels first? use x.transpose(0, 2, 3, 1))"
        raise DataError(f"{name}: shape {x.shape}; images must be N x H x W (grey) or N x H x W x 3 (colour), with "
                        f"N >= 1 and H, W >= {MIN_SIDE}{hint}")
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


def check_label_names(names: Sequence[str], n_labels: int, where: str) -> None:
    """Refuse label names that are not one distinct, non-empty string per label."""
    if len(names) != n_labels:
        raise DataError(f"{where}: {len(names)} names for {n_labels} distinct labels; give one name per label value, "
                        "in sorted order of the values")
    if any(not isinstance(n, str) or not n.strip() for n in names) or len(set(names)) != len(names):
        raise DataError(f"{where}: label names must be distinct, non-empty strings, got {list(names)!r}")


def split_by_label(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A test mask holding ``fraction`` of each label's images (rounded), chosen at random with ``seed``.

    The same labels, fraction and seed always give the same mask.
    """
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for value in np.unique(labels):
        idx = np.flatnonzero(labels == value)
        test[idx[rng.permutation(len(idx))[:round(len(idx) * fraction)]]] = True
    return test
