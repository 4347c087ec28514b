"""Naming the labels by the original Fashion-MNIST classes: matching images pixel for pixel, and the
10-class reference classifier for the images that match none.

:func:`decode_dataset` recovers each image's class (from the data where it has them, else by
matching against the original archives, the rest classified by :func:`reference_classifier`)
and names every label by the classes behind it (:func:`~twistfm.analysis.decode.decode_labels`).
The classifier is trained in memory (recipe ``reference``); nothing here writes a file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data import Dataset, load_original
from ..errors import DataError
from ..models import to_input
from ..progress import say
from ..recipes import recipe
from ..train import fit, predict
from .decode import ClassRecovery, LabelDecoding, decode_labels, recover_classes

__all__ = ["MIN_MATCHED", "reference_classifier", "decode_dataset", "matched_classes"]

Log = Callable[[str], None] | None

#: Share of images that must match Fashion-MNIST exactly before unmatched ones are classified.
MIN_MATCHED = 0.5


def reference_classifier(original: Dataset, seed: int = 0, log: Log = say) -> Callable[[np.ndarray], np.ndarray]:
    """Train the 10-class reference classifier (recipe ``reference``, in memory) on the original Fashion-MNIST."""
    if log:
        log("training the 10-class reference classifier for images that match no Fashion-MNIST image")
    model = fit(recipe("reference", seed=seed), original, None, log=None).model

    def classify(images: np.ndarray) -> np.ndarray:
        return predict(model, to_input(images)).argmax(1).numpy().astype(np.int64)

    return classify


def decode_dataset(ds: Dataset, data_dir: str | None = None, seed: int = 0,
                   log: Log = say) -> tuple[LabelDecoding, ClassRecovery]:
    """Recover each image's original class (train then test) and name every label of ``ds``.

    Images that match no Fashion-MNIST image are classified by the reference classifier, but
    only when at least ``MIN_MATCHED`` of the images do match: otherwise the images are not
    Fashion-MNIST and their classes stay unknown (the decoding then names no class). Without
    the archives, nothing can be matched and every class stays unknown.
    """
    original = None
    if not ds.has_classes and not _fashion_sized(ds):
        if log:
            log(f"labels not decoded into Fashion-MNIST classes: the images are {ds.image_size[0]} x "
                f"{ds.image_size[1]} {'grey' if ds.channels == 1 else 'colour'}, not Fashion-MNIST's 28 x 28 grey")
    elif not ds.has_classes:
        try:
            original = load_original(data_dir)
        except DataError as exc:
            if log:
                log(f"labels not decoded: {exc}")
    recovery = recover_classes(ds, original)
    unknown = recovery.classes < 0
    if original is not None and unknown.any() and 1 - unknown.mean() >= MIN_MATCHED:
        recovery = recover_classes(ds, original, reference_classifier(original, seed, log))
    elif original is not None and unknown.any() and log:
        log(f"{unknown.sum():,} of {len(unknown):,} images match no Fashion-MNIST image; they are not decoded")
    labels = np.concatenate([ds.y_train, ds.y_test])
    names = None if ds.label_names is None else {int(v): n for v, n in zip(ds.label_values, ds.label_names, strict=True)}
    return decode_labels(labels, recovery.classes, recovery.counts(), names), recovery


def matched_classes(ds: Dataset, split: str, log: Log = say) -> np.ndarray | None:
    """The original classes of a split where the data has them or they match pixel for pixel (-1 elsewhere).

    No classifier guesses here: these classes only name and score what was found blind.
    None when no image of the split has a known class.
    """
    original = None
    if not ds.has_classes and not _fashion_sized(ds):
        return None
    if not ds.has_classes:
        try:
            original = load_original()
        except DataError:
            if log:
                log("no Fashion-MNIST archives to match the images against: the groups are not named")
            return None
    classes = recover_classes(ds, original).classes
    n_train = len(ds.x_train)
    picked = {"train": classes[:n_train], "test": classes[n_train:], "all": classes}[split]
    return picked if (picked >= 0).any() else None


def _fashion_sized(ds: Dataset) -> bool:
    """Whether the images could be Fashion-MNIST's (28 x 28 grey), so matching them against it can find any."""
    return ds.image_size == (28, 28) and ds.channels == 1
