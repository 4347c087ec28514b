"""The mystery label: how Twisted Fashion-MNIST folds the 10 clothing classes into 5 labels."""

from __future__ import annotations

import os

import numpy as np

from .fashion_mnist import load_fashion_mnist

__all__ = ["CLASS_NAMES", "MYSTERY_OF_CLASS", "MYSTERY_LABELS", "twist", "classes_of_label",
           "load_twisted"]

#: Fashion-MNIST class names, indexed by class id.
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

#: The mystery label of each class id (measured on the seed data, where both seeds agree):
#: T-shirt/top, Shirt -> 0; Sandal -> 1; Pullover, Trouser -> 2; Sneaker, Bag -> 3;
#: Dress, Coat, Ankle boot -> 4.
MYSTERY_OF_CLASS: tuple[int, ...] = (0, 2, 2, 4, 4, 1, 0, 3, 3, 4)

#: The mystery labels, 0..4.
MYSTERY_LABELS: tuple[int, ...] = tuple(sorted(set(MYSTERY_OF_CLASS)))


def twist(classes: np.ndarray) -> np.ndarray:
    """Map original class ids (0..9) to mystery labels."""
    return np.asarray(MYSTERY_OF_CLASS, dtype=np.int64)[np.asarray(classes)]


def classes_of_label(label: int) -> list[str]:
    """Names of the classes folded into one mystery label."""
    return [CLASS_NAMES[c] for c, m in enumerate(MYSTERY_OF_CLASS) if m == label]


def load_twisted(
    split: str, data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load one split of Twisted Fashion-MNIST.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : path-like, optional
        Folder holding the four archives; see :func:`twistfm.data.locate_archives`.
    download : bool, default=True

    Returns
    -------
    images : ndarray of uint8, shape (N, 28, 28)
    labels : ndarray of int64, shape (N,)
        Mystery labels 0..4.
    classes : ndarray of int64, shape (N,)
        Original Fashion-MNIST class ids 0..9.
    """
    images, classes, _ = load_fashion_mnist(split, data_dir, download)
    return images, twist(classes), classes
