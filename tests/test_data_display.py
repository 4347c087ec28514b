"""A Dataset in a notebook: a one-line repr and a short HTML table, never a dump of its arrays."""

from __future__ import annotations

import numpy as np

from twistfm.data import Dataset


def test_a_dataset_shows_counts_size_named_labels_and_origin_without_its_arrays():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (30, 12, 12, 3), dtype=np.uint8)
    y = np.r_[np.zeros(20, int), np.ones(10, int)]
    data = Dataset.from_arrays(x[:24], y[:24], x[24:], y[24:], label_names=["cats", "dogs"], source="my <photos>")
    text = repr(data)
    assert "\n" not in text and "array" not in text
    assert "24 training and 6 test images" in text and "12 x 12 colour" in text and "2 labels" in text
    page = data._repr_html_()
    assert "array" not in page and len(page) < 2000
    assert "<td style=\"text-align:left\">cats</td><td style=\"text-align:left\">20</td>" in page
    assert "<td style=\"text-align:left\">dogs</td><td style=\"text-align:left\">4</td>" in page
    assert "my &lt;photos&gt;" in page and "12 x 12 colour" in page
    plain = Dataset.from_arrays(x[:24, ..., 0], y[:24], x[24:, ..., 0], y[24:])
    assert "12 x 12 grey" in repr(plain) and ">-</td>" in plain._repr_html_()
