"""The figures of discovery: the groups found inside each label, and the criterion that counted them.

Each label is named as the caller names it (``titles``: ``label 1 (round)`` where the data
named its labels), else ``label 1``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..analysis.discover import Discovery, GroupCount
from .images import blank_like, display_strip, show
from .palette import color_of
from .style import MIN_FONT, styled, subplots

__all__ = ["criterion_figure", "groups_figure", "discovery_figures", "GROUPS", "CRITERION", "CRITERION_ALL"]

#: Figure names (a run folder stores figure NAME as ``NAME.png``).
GROUPS, CRITERION, CRITERION_ALL = "discovery-groups", "discovery-criterion", "discovery-whole-set"


def _title(titles: Mapping[int, str] | None, label: int) -> str:
    return (titles or {}).get(int(label), f"label {label}")


@styled
def criterion_figure(counts: dict[str, GroupCount], title: str) -> Figure:
    """The count's score against the number of groups, one line per label (or the whole set), the choice ringed.

    A silhouette has no value for one group: its curve starts at k = 2, and a count of 1 is not ringed. Where the
    held-out count voted, the legend gives its three votes.
    """
    fig, ax = subplots(figsize=(7, 4.4))
    for i, (name, count) in enumerate(counts.items()):
        first = 1 if count.rule == "silhouette" else 0
        ax.plot(count.ks[first:], count.scores[first:], marker="o", ms=4, color=color_of(i),
                label=f"{name}: {count.chosen} group(s)"
                      + (" (votes: threshold {}, dip on maps {}, dip on encoding {})".format(*count.votes)
                         if count.votes else ""))
        if count.chosen > first:
            ax.plot([count.chosen], [count.scores[count.ks.index(count.chosen)]], marker="o", ms=12, mfc="none",
                    color=color_of(i))
    threshold = next(iter(counts.values())).threshold
    ax.axhline(threshold, color="#555555", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of groups k")
    rule = next(iter(counts.values())).rule
    ax.set_ylabel({"held-out": "prediction strength: mean of held-out map and encoding",
                   "silhouette": "silhouette of held-out images"}.get(rule, "prediction strength"))
    ax.set_ylim(min([0.0] + [min(c.scores) for c in counts.values()]) - 0.02, 1.05)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return fig


@styled
def groups_figure(discovery: Discovery, images: np.ndarray, per_row: int = 10,
                  titles: Mapping[int, str] | None = None) -> Figure:
    """One row per group found inside each label: its name and size, its most typical images, then borderline ones.

    ``images`` are the images of the discovery's split, in its order; ``titles`` name the labels. Each row is one strip
    of images (shown at 0.8 inch each) beside a text column wide enough for its name.
    """
    rows = [(lg, g, group) for lg in discovery.per_label for g, group in enumerate(lg.groups)]
    gap, tile = 4, int(images.shape[2]) if len(images) else 28
    height = 0.95 * len(rows) + 0.9
    fig = Figure(figsize=(3.2 + 0.8 * per_row, height))
    grid = fig.add_gridspec(max(len(rows), 1), 2, width_ratios=[3.2, 0.8 * per_row], wspace=0.02, hspace=0.25,
                            left=0.01, right=0.995, bottom=0.1 / height, top=1 - 0.75 / height)
    for r, (lg, g, group) in enumerate(rows):
        text = fig.add_subplot(grid[r, 0])
        text.axis("off")
        seen = (f"\nlooks like {group.looks_like} ({group.share:.0%} of it)" if group.looks_like else "")
        text.text(0.0, 0.5, f"{_title(titles, lg.label)}, group {g + 1}: {group.size:,} images{seen}", va="center", ha="left",
                  fontsize=MIN_FONT, transform=text.transAxes)
        picks = (group.typical + group.borderline)[:per_row]
        shown = [images[i] for i in picks] + [blank_like(images)] * (per_row - len(picks))
        strip = display_strip(shown, gap)
        ax = fig.add_subplot(grid[r, 1])
        show(ax, strip, interpolation="nearest")
        ax.axis("off")
        typical = min(len(group.typical), per_row)
        if 0 < typical < len(picks):
            ax.axvline(typical * (tile + gap) - gap / 2 - 0.5, color=color_of(5), lw=2)
        if r == 0:
            ax.text(strip.shape[1] / 2, -4, "most typical images, then borderline ones (after the line)", ha="center",
                    va="bottom", fontsize=MIN_FONT)
    fig.suptitle("Groups found inside each label, from the encoding alone")
    return fig


@styled
def discovery_figures(discovery: Discovery, images: np.ndarray,
                      titles: Mapping[int, str] | None = None) -> dict[str, Figure]:
    """The groups found inside each label, and the criterion's curves (per label and over the whole set).

    ``titles`` name the labels (``label 1 (round)``); without them, ``label 1``.
    """
    return {
        GROUPS: groups_figure(discovery, images, titles=titles),
        CRITERION: criterion_figure({_title(titles, lg.label): lg.count for lg in discovery.per_label},
                                    "How many groups inside each label"),
        CRITERION_ALL: criterion_figure({"all images": discovery.overall},
                                        "How many kinds of image in the whole set, labels ignored"),
    }
