"""The report's colours: CIEDE2000 and contrast computed, and every palette the explorer uses checked against both rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from twistfm.report.palette import (
    BACKGROUND,
    MIN_CONTRAST,
    MIN_DELTA_E,
    NOISE_COLOR,
    PALETTE,
    _ciede2000,
    contrast_ratio,
    delta_e,
    distinct_colours,
    nested_colours,
)

# Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula": test pairs 1, 7, 13, 17, 25 and 34.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_ciede2000_matches_the_published_test_data(lab1, lab2, expected):
    assert float(_ciede2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)
    assert float(_ciede2000(np.array(lab2), np.array(lab1))) == pytest.approx(expected, abs=1e-4)


def test_contrast_ratio_matches_wcag():
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast_ratio("#777777") == pytest.approx(4.48, abs=0.01)  # WCAG's familiar borderline grey
    assert delta_e("#FFFFFF", "#000000") == pytest.approx(100.0, abs=1e-3)


def _check(colours: list[str]) -> None:
    for colour in colours:
        assert contrast_ratio(colour, BACKGROUND) >= MIN_CONTRAST, colour
    for a, b in itertools.combinations(colours, 2):
        assert delta_e(a, b) >= MIN_DELTA_E, (a, b, delta_e(a, b))


def test_the_palette_keeps_both_rules():
    _check(list(PALETTE))
    assert contrast_ratio(NOISE_COLOR) >= MIN_CONTRAST  # the grey's legend swatch is visible too
    assert len(set(PALETTE)) == len(PALETTE)


def test_more_colours_than_the_palette_stay_visible_and_as_far_apart_as_they_can():
    assert distinct_colours(len(PALETTE)) == list(PALETTE)
    colours = distinct_colours(22)
    assert colours[: len(PALETTE)] == list(PALETTE) and len(set(colours)) == 22
    assert min(contrast_ratio(c) for c in colours) >= MIN_CONTRAST
    # Past the palette the rule cannot hold for every pair (sRGB at 3:1 has about 16 such colours); far apart still.
    assert min(delta_e(a, b) for a, b in itertools.combinations(colours, 2)) >= 10


@pytest.mark.parametrize("per_label", [
    [2, 1, 2, 2, 3],     # Fashion-MNIST's 10 classes inside its 5 labels
    [2, 2, 2, 3, 4],     # 13 groups found inside them, as the quick study finds
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
])
def test_classes_and_groups_inside_labels_are_distinct_and_near_their_label(per_label):
    labels = distinct_colours(len(per_label))
    parents = [labels[i] for i, n in enumerate(per_label) for _ in range(n)]
    colours = nested_colours(parents)
    _check(colours)
    first = [parents.index(p) for p in labels]
    assert [colours[i] for i in first] == labels  # the first inside each label keeps the label's colour
