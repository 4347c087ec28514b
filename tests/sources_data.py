"""Small image sets for the source tests and ``bench/sources_bench.py``: colour digits, and any dataset written
in each layout the readers take."""

from __future__ import annotations

import colorsys

import numpy as np

from twistfm.data import Dataset

#: A grouping of the ten digits into four labels, as a mystery label would fold them.
DIGIT_GROUPS: dict[str, tuple[int, ...]] = {"round": (0, 6, 8, 9), "straight": (1, 4, 7), "curly": (2, 3, 5)}


def colour_digits(n: int | None = None, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8 x 8 digits upscaled to ``size`` x ``size``, each drawn in a random hue on black
    (so colour says nothing of the digit): uint8 (N, size, size, 3) images and their digits 0..9."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    pick = np.arange(len(digits.images)) if n is None else rng.choice(len(digits.images), n, replace=False)
    images = np.empty((len(pick), size, size, 3), dtype=np.uint8)
    for k, i in enumerate(pick):
        grey = (digits.images[i] * (255 / 16)).round().astype(np.uint8)
        big = np.asarray(Image.fromarray(grey).resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 255
        hue = rng.random()
        rgb = np.array(colorsys.hsv_to_rgb(hue, 0.9, 1.0), dtype=np.float32)
        images[k] = (big[..., None] * rgb * 255).round().astype(np.uint8)
    return images, digits.target[pick].astype(np.int64)


def group_name(digit: int) -> str:
    """The label (a name) a digit is folded into."""
    return next(name for name, ds in DIGIT_GROUPS.items() if digit in ds)


def colour_digit_dataset(n_train: int, n_test: int, seed: int = 0) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """Colour digits as a dataset labelled by :data:`DIGIT_GROUPS` (names), and the digits of each split."""
    images, digits = colour_digits(n_train + n_test, seed=seed)
    names = sorted(DIGIT_GROUPS)
    labels = np.array([names.index(group_name(d)) for d in digits])
    data = Dataset.from_arrays(images[:n_train], labels[:n_train], images[n_train:], labels[n_train:],
                               label_names=names, source="colour digits")
    return data, digits[:n_train], digits[n_train:]
