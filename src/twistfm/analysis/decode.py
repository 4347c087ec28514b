"""Naming the mystery labels: which original Fashion-MNIST classes hide behind each label.

Each image's original class is known directly when the data came from the archives; for a
user's CSV images it is recovered by an exact pixel match against the installed
Fashion-MNIST; images that match nothing are named by a 10-class reference classifier when
the caller supplies one, and stay unknown otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..data import CLASS_NAMES, Dataset
from ..schema import Typed
from .metrics import contingency

__all__ = ["ClassRecovery", "LabelMeaning", "LabelDecoding", "recover_classes", "decode_labels", "match_pixels",
           "UNKNOWN", "HOW"]

#: The class id of an image whose class is unknown.
UNKNOWN = -1
#: How an image's class was found.
HOW = ("given", "pixel match", "predicted", "unknown")


@dataclass(frozen=True, kw_only=True)
class ClassRecovery:
    """Original class of every image (train then test), and how it was found.

    Attributes
    ----------
    classes : ndarray of int64
        Class id 0..9 per image, or ``UNKNOWN`` (-1).
    how : ndarray of str
        One of ``HOW`` per image.
    """

    classes: np.ndarray
    how: np.ndarray

    def counts(self) -> dict[str, int]:
        """How many images were recovered each way."""
        values, counts = np.unique(self.how, return_counts=True)
        return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


@dataclass(frozen=True, kw_only=True)
class LabelMeaning:
    """One label in terms of the original classes.

    Attributes
    ----------
    label : int
    classes : list of str
        Classes most of whose images carry this label, sorted by name.
    shares : dict
        Class name -> share of that class's images that carry this label (only classes with some).
    name : str or None
        The label's own name where the data named it (an image folder's name), else None.
    """

    label: int
    classes: list[str]
    shares: dict[str, float]
    name: str | None = None

    #: Fields added after the first analysis files were written (absent in those, and while None).
    ADDED_FIELDS = ("name",)

    @property
    def title(self) -> str:
        """``label 4``, or ``label 4 (boots)`` when the data named it."""
        return f"label {self.label}" + (f" ({self.name})" if self.name else "")

    def line(self) -> str:
        """E.g. ``label 4 = Coat (100%) + Dress (99%) + Ankle boot (100%)``."""
        names = sorted(self.classes, key=lambda n: -self.shares[n])
        body = " + ".join(f"{n} ({self.shares[n]:.0%})" for n in names) or "(no class is mostly here)"
        return f"{self.title} = {body}"


@dataclass(frozen=True, kw_only=True)
class LabelDecoding(Typed):
    """The meaning of each label in terms of the original classes.

    Attributes
    ----------
    table : ndarray of int64, shape (labels, 10)
        Images of each class (column) carrying each label (row); images of unknown class
        are not counted.
    labels : list of LabelMeaning
        One per label value, in sorted order.
    recovery : dict
        How each image's class was found (counts by way, see ``HOW``).
    """

    table: np.ndarray
    labels: list[LabelMeaning]
    recovery: dict[str, int] = field(default_factory=dict)

    @property
    def label_values(self) -> list[int]:
        """The label values, in the order of ``table``'s rows."""
        return [m.label for m in self.labels]

    @property
    def known(self) -> bool:
        """Whether any image's class is known (else nothing could be named)."""
        return bool(self.table.sum())

    def as_json(self) -> dict[str, list[str]]:
        """Label (as a string) -> sorted class names, the ``decode --json`` answer."""
        return {str(m.label): m.classes for m in self.labels}

    def lines(self) -> list[str]:
        """One line per label, e.g. ``label 4 = Coat (100%) + Dress (99%) + Ankle boot (100%)``."""
        return [m.line() for m in self.labels]


def match_pixels(images: np.ndarray, reference: np.ndarray, reference_classes: np.ndarray) -> np.ndarray:
    """Class of each image whose pixels exactly equal a reference image; ``UNKNOWN`` where none does."""
    lookup: dict[bytes, int] = {}
    for row, cls in zip(reference.reshape(len(reference), -1), reference_classes, strict=True):
        lookup.setdefault(row.tobytes(), int(cls))
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return np.array([lookup.get(row.tobytes(), UNKNOWN) for row in flat], dtype=np.int64)


def recover_classes(
    dataset: Dataset,
    original: Dataset | None = None,
    reference_classifier: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ClassRecovery:
    """Original class of every train and test image of ``dataset`` (train first).

    Parameters
    ----------
    dataset : Dataset
    original : Dataset, optional
        The original Fashion-MNIST, to match pixels against when ``dataset`` does not know
        its classes. Without it, those classes stay unknown.
    reference_classifier : callable, optional
        Maps uint8 images to class ids 0..9; used for images that match nothing. Without
        one, such images stay unknown.
    """
    if dataset.has_classes:
        classes = np.concatenate([dataset.class_train, dataset.class_test])
        return ClassRecovery(classes=classes, how=np.full(len(classes), "given"))
    images = np.concatenate([dataset.x_train, dataset.x_test])
    classes = np.full(len(images), UNKNOWN, dtype=np.int64)
    if original is not None:
        classes = match_pixels(images, np.concatenate([original.x_train, original.x_test]),
                               np.concatenate([original.class_train, original.class_test]))
    how = np.where(classes >= 0, "pixel match", "unknown").astype(object)
    missing = classes < 0
    if missing.any() and reference_classifier is not None:
        classes[missing] = reference_classifier(images[missing])
        how[missing] = "predicted"
    return ClassRecovery(classes=classes, how=how.astype(str))


def decode_labels(labels: np.ndarray, classes: np.ndarray, recovery: dict[str, int] | None = None,
                  names: dict[int, str] | None = None) -> LabelDecoding:
    """Name each label by the classes most of whose images carry it.

    Parameters
    ----------
    labels : ndarray of int
        Label of each image.
    classes : ndarray of int
        Original class 0..9 of each image (``UNKNOWN`` images are ignored).
    recovery : dict, optional
        How the classes were found, recorded with the decoding.
    names : dict, optional
        Label value -> its own name, where the data named its labels.
    """
    known = classes >= 0
    label_values = np.unique(labels)
    table = np.zeros((len(label_values), len(CLASS_NAMES)), dtype=np.int64)
    sub, rows, cols = contingency(labels[known], classes[known])
    for i, lv in enumerate(rows):
        for j, cv in enumerate(cols):
            table[np.searchsorted(label_values, lv), cv] = sub[i, j]
    per_class = table.sum(axis=0)
    meanings = []
    for i, value in enumerate(label_values):
        shares = {name: float(table[i, c] / per_class[c]) for c, name in enumerate(CLASS_NAMES)
                  if per_class[c] and table[i, c]}
        meanings.append(LabelMeaning(label=int(value), classes=sorted(n for n, s in shares.items() if s > 0.5),
                                     shares=shares, name=(names or {}).get(int(value))))
    return LabelDecoding(table=table, labels=meanings, recovery=recovery or {})
