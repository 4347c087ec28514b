"""The report's static figures: built with matplotlib's object API, without touching global state, and laid out legibly."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from twistfm.report import figures as F


def test_importing_and_drawing_changes_neither_the_backend_nor_rcparams():
    code = """
import matplotlib
backend, before = matplotlib.get_backend(), dict(matplotlib.rcParams)
import twistfm.report.html  # noqa: F401  (imports the figures)
from twistfm.report import figures as F
F.png(F.kdistance_figure(__import__("numpy").arange(20.0), 3.0, 4))
after = dict(matplotlib.rcParams)
changed = sorted(k for k in before if before[k] != after[k] and k != "backend")
assert matplotlib.get_backend() == backend and not changed, (backend, matplotlib.get_backend(), changed)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
    assert "matplotlib.pyplot" not in open(F.__file__, encoding="utf-8").read()


def test_figures_use_the_house_style_without_setting_it_globally():
    import matplotlib

    fig = F.kdistance_figure(np.arange(20.0), 3.0, 4)
    ax = fig.axes[0]
    assert ax.title.get_fontsize() == F.STYLE["axes.titlesize"]
    assert ax.xaxis.get_ticklabels()[0].get_fontsize() == F.MIN_FONT
    assert matplotlib.rcParams["axes.titlesize"] != F.STYLE["axes.titlesize"] or \
        matplotlib.rcParamsDefault["axes.titlesize"] == F.STYLE["axes.titlesize"]


def _discovery(rows: list[tuple[int, int, str | None]]) -> SimpleNamespace:
    per_label = {}
    for label, size, looks in rows:
        group = SimpleNamespace(size=size, typical=list(range(6)), borderline=list(range(6, 10)), looks_like=looks,
                                share=0.73 if looks else None)
        per_label.setdefault(label, []).append(group)
    return SimpleNamespace(per_label=[SimpleNamespace(label=k, groups=v) for k, v in per_label.items()])


def test_groups_figure_keeps_names_clear_of_the_images_and_shows_them_large():
    discovery = _discovery([(0, 1870, "T-shirt/top"), (0, 1200, "Shirt"), (1, 1000, "Sandal"), (2, 9999, "Pullover"),
                            (4, 1234, "Ankle boot")])
    images = np.random.default_rng(0).integers(0, 255, (20, 28, 28), dtype=np.uint8)
    fig = F.groups_figure(discovery, images)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    strips = [ax for ax in fig.axes if ax.images]
    names = [t for ax in fig.axes if not ax.images for t in ax.texts]
    assert len(strips) == len(names) == 5
    left_of_images = min(ax.get_window_extent(renderer).x0 for ax in strips)
    for text in names:
        box = text.get_window_extent(renderer)
        assert box.x1 <= left_of_images, text.get_text()      # never runs into the images ("group 1typical")
        assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height, text.get_text()  # never clipped
        assert "%" in text.get_text()  # the group's share of its class is said
    for ax in strips:
        box = ax.get_window_extent(renderer)
        tile = box.height  # one image high
        assert tile >= 0.6 * F.DPI, tile  # each image at least 60 px (at DPI), not 28
    heads = [t.get_text() for ax in strips for t in ax.texts]
    assert len(heads) == 1 and "typical" in heads[0] and "borderline" in heads[0]


def test_a_wide_confusion_matrix_is_stacked_and_counts_have_thousands_separators():
    table = np.array([[6000, 0, 12], [3, 7000, 1500]])
    fig = F.confusion_figure(table, ["label 0 · Shirt + T-shirt/top", "label 1 · Sandal"], xticklabels=["a", "b", "c"],
                             share_of="column")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "6,000" in texts and "1,500" in texts
    assert not F.confusion_stacked(3) and F.confusion_stacked(10)
    left, right = (ax.get_position() for ax in fig.axes[:2])
    assert right.x0 > left.x1  # side by side, as "left ... right" captions say
    wide = F.confusion_figure(np.ones((5, 10), int), [f"label {i}" for i in range(5)], xticklabels=list("abcdefghij"))
    top, bottom = (ax.get_position() for ax in wide.axes[:2])
    assert top.y0 > bottom.y1  # one above the other, as "top ... bottom" captions say


def test_an_image_grid_is_one_picture_with_its_captions_above_the_images_and_row_names_beside_them():
    images = np.random.default_rng(0).integers(0, 255, (23, 28, 28), dtype=np.uint8)
    fig = F.image_grid_figure(images, [f"label {i % 5}" for i in range(23)], "a grid", cols=10,
                              row_names=["cluster 0", "cluster 1", "cluster 2"])
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    (picture,) = ax.images
    assert picture.get_array().shape[:2] == (3 * (28 + 11), 10 * (28 + 4) - 4)  # 3 rows of 10 tiles, gaps and captions
    captions = [t for t in ax.texts if t.get_text().startswith("label")]
    names = [t for t in ax.texts if t.get_text().startswith("cluster")]
    assert len(captions) == 23 and len(names) == 3
    left_of_images = ax.get_window_extent(renderer).x0
    for text in names:
        assert text.get_window_extent(renderer).x1 <= left_of_images + 1, text.get_text()
    box = ax.get_window_extent(renderer)
    for k, text in enumerate(captions):  # each caption over its own column, the rows top to bottom
        centre = (text.get_window_extent(renderer).x0 + text.get_window_extent(renderer).x1) / 2
        assert abs(centre - (box.x0 + (k % 10 + 0.45) * box.width / 10)) < box.width / 20, k
    tops = [captions[r * 10].get_window_extent(renderer).y0 for r in range(3)]
    assert tops[0] > tops[1] > tops[2]
    grey = picture.get_array()
    assert grey[11:39, :28].tolist() == (255 - images[0]).tolist()  # the first image, dark ink on white, under its caption
