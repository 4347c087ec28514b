"""Groupings and image sets for the discovery bench: random foldings of ten classes, and digits.

A grouping folds ``n`` classes into a few labels: ``grouping[c]`` is the label of class
``c``. :func:`random_grouping` draws one from a seed (3 to 6 labels, every label holding at
least one class), so a bench can tune on some seeds of the generator and report on others.
:func:`digits` is scikit-learn's bundled handwritten digits, upscaled to 28 x 28 grey, split
into train and test with a fixed seed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["random_grouping", "digits", "TUNE_SEEDS", "REPORT_SEEDS"]

#: Generator seeds whose groupings choices may be made on, and the held-out ones reported on.
TUNE_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
REPORT_SEEDS: tuple[int, ...] = tuple(range(100, 110))


def random_grouping(seed: int, n_classes: int = 10, labels: tuple[int, int] = (3, 6)) -> np.ndarray:
    """The label of each of ``n_classes`` classes, for ``labels[0]`` to ``labels[1]`` labels drawn at random."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(labels[0], labels[1] + 1))
    order = rng.permutation(n_classes)
    grouping = np.empty(n_classes, dtype=np.int64)
    grouping[order[:m]] = np.arange(m)
    grouping[order[m:]] = rng.integers(0, m, n_classes - m)
    return grouping


def digits(test_share: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits as 28 x 28 uint8 images: ``x_train, c_train, x_test, c_test`` (c: the digit)."""
    import torch
    from sklearn.datasets import load_digits

    data = load_digits()
    small = torch.from_numpy(data.images.astype(np.float32) / 16.0)[:, None]
    big = torch.nn.functional.interpolate(small, size=(28, 28), mode="bilinear", align_corners=False)
    images = (big[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_share * len(images)))
    test, train = order[:n_test], order[n_test:]
    return images[train], data.target[train].astype(np.int64), images[test], data.target[test].astype(np.int64)
