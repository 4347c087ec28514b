"""The mystery label: how Twisted Fashion-MNIST folds the 10 clothing classes into 5 labels."""

from __future__ import annotations

import numpy as np

__all__ = ["CLASS_NAMES", "MYSTERY_OF_CLASS", "twist", "classes_of_label"]

#: Fashion-MNIST class names, indexed by class id.
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

#: The mystery label of each class id (measured on the seed data, where both seeds agree):
#: T-shirt/top, Shirt -> 0; Sandal -> 1; Pullover, Trouser -> 2; Sneaker, Bag -> 3;
#: Dress, Coat, Ankle boot -> 4.
MYSTERY_OF_CLASS: tuple[int, ...] = (0, 2, 2, 4, 4, 1, 0, 3, 3, 4)


def twist(classes: np.ndarray) -> np.ndarray:
    """Map original class ids (0..9) to mystery labels."""
    return np.asarray(MYSTERY_OF_CLASS, dtype=np.int64)[np.asarray(classes)]


def classes_of_label(label: int) -> list[str]:
    """Names of the classes folded into one mystery label."""
    return [CLASS_NAMES[c] for c, m in enumerate(MYSTERY_OF_CLASS) if m == label]
