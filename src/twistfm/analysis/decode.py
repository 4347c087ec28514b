"""Naming the mystery labels: which original Fashion-MNIST classes hide behind each label.

Each image's original class is recovered directly when the data came from the archives;
for a user's CSV images, by exact pixel match against the installed Fashion-MNIST; and for
images that match nothing, by a 10-class reference classifier (counted and marked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..data import CLASS_NAMES, Dataset, load_fashion_mnist
from .metrics import contingency

__all__ = ["ClassRecovery", "LabelDecoding", "recover_classes", "decode_labels", "match_pixels"]


@dataclass
class ClassRecovery:
    """Original class of every image (train then test), and how it was found.

    Attributes
    ----------
    classes : ndarray of int64
        Class id 0..9 per image.
    how : ndarray of str
        ``"given"``, ``"pixel match"`` or ``"predicted"`` per image.
    """

    classes: np.ndarray
    how: np.ndarray

    def counts(self) -> dict[str, int]:
        """How many images were recovered each way."""
        values, counts = np.unique(self.how, return_counts=True)
        return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


@dataclass
class LabelDecoding:
    """The meaning of each label in terms of the original classes.

    Attributes
    ----------
    table : ndarray, shape (labels, 10)
        Images of each class (column) carrying each label (row).
    label_values : list of int
    meaning : dict
        Label value -> class names most of whose images carry that label, sorted by name.
    shares : dict
        Label value -> {class name: share of that class's images that carry this label}.
    recovery : dict
        How each image's class was found (counts).
    """

    table: np.ndarray
    label_values: list[int]
    meaning: dict[int, list[str]]
    shares: dict[int, dict[str, float]]
    recovery: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, list[str]]:
        """Label (as a string) -> sorted class names, the ``decode --json`` answer."""
        return {str(k): v for k, v in self.meaning.items()}

    def lines(self) -> list[str]:
        """One line per label, e.g. ``label 4 = Coat (100%) + Dress (99%) + Ankle boot (100%)``."""
        out = []
        for value in self.label_values:
            names = sorted(self.meaning[value], key=lambda n: -self.shares[value][n])
            body = " + ".join(f"{n} ({self.shares[value][n]:.0%})" for n in names) or "(no class is mostly here)"
            out.append(f"label {value} = {body}")
        return out


def match_pixels(images: np.ndarray, reference: np.ndarray, reference_classes: np.ndarray) -> np.ndarray:
    """Class of each image whose pixels exactly equal a reference image; -1 where none does."""
    lookup: dict[bytes, int] = {}
    for row, cls in zip(reference.reshape(len(reference), -1), reference_classes, strict=True):
        lookup.setdefault(row.tobytes(), int(cls))
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return np.array([lookup.get(row.tobytes(), -1) for row in flat], dtype=np.int64)


def recover_classes(
    dataset: Dataset,
    data_dir: str | None = None,
    reference_classifier: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ClassRecovery:
    """Original class of every train and test image of ``dataset``.

    Parameters
    ----------
    dataset : Dataset
    data_dir : str, optional
        Folder with the Fashion-MNIST archives for pixel matching.
    reference_classifier : callable, optional
        Maps uint8 images to class ids 0..9; used for images that match nothing. Without
        one, such images stay unknown (-1).
    """
    images = np.concatenate([dataset.x_train, dataset.x_test])
    if dataset.class_train is not None and dataset.class_test is not None:
        classes = np.concatenate([dataset.class_train, dataset.class_test])
        return ClassRecovery(classes, np.full(len(classes), "given"))
    ref_train, c_train, _ = load_fashion_mnist("train", data_dir)
    ref_test, c_test, _ = load_fashion_mnist("test", data_dir)
    classes = match_pixels(images, np.concatenate([ref_train, ref_test]), np.concatenate([c_train, c_test]))
    how = np.where(classes >= 0, "pixel match", "unknown").astype(object)
    missing = classes < 0
    if missing.any() and reference_classifier is not None:
        classes[missing] = reference_classifier(images[missing])
        how[missing] = "predicted"
    return ClassRecovery(classes, how.astype(str))


def decode_labels(labels: np.ndarray, classes: np.ndarray, recovery: dict[str, int] | None = None) -> LabelDecoding:
    """Name each label by the classes most of whose images carry it.

    Parameters
    ----------
    labels : ndarray of int
        Label of each image.
    classes : ndarray of int
        Original class 0..9 of each image (-1 = unknown, ignored).
    """
    known = classes >= 0
    label_values = np.unique(labels)
    table = np.zeros((len(label_values), len(CLASS_NAMES)), dtype=np.int64)
    sub, rows, cols = contingency(labels[known], classes[known])
    for i, lv in enumerate(rows):
        for j, cv in enumerate(cols):
            table[np.searchsorted(label_values, lv), cv] = sub[i, j]
    per_class = table.sum(axis=0)
    meaning: dict[int, list[str]] = {int(v): [] for v in label_values}
    shares: dict[int, dict[str, float]] = {int(v): {} for v in label_values}
    for c, name in enumerate(CLASS_NAMES):
        if per_class[c] == 0:
            continue
        for i, value in enumerate(label_values):
            share = table[i, c] / per_class[c]
            if share > 0:
                shares[int(value)][name] = float(share)
            if share > 0.5:
                meaning[int(value)].append(name)
    meaning = {k: sorted(v) for k, v in meaning.items()}
    return LabelDecoding(table, [int(v) for v in label_values], meaning, shares, recovery or {})
