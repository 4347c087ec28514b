"""Discovery: what kinds of image hide behind each label, found from the encoding alone.

Blind means without class ids. Each label's images are embedded in 2-D on their own: the
encoding of the discovery layer (by default the first pooling, where the network still
sees shapes rather than labels), each row scaled to unit length, is reduced to
``DISCOVERY_DIMS`` principal components and mapped by a t-SNE of that label only; there, the
kinds of image behind the label fall apart into islands.

The number of groups is counted on points the map was not made from (``count="held-out"``,
the default): the t-SNE is made from a random half of the label's images and the other half
is placed into it; K-means centres of the fitted half must keep together the pairs of placed
images that K-means of the placed half puts together (the prediction strength of Tibshirani &
Walther, 2005, computed on held-out points: :func:`held_out_strength`). The same strength is
measured on the reduced encoding itself, without a map, and each k is scored by the mean of
the two (:func:`count_held_out`). The largest k whose score reaches ``HELD_OUT_THRESHOLD``
(k = 1 always does, so a label of one kind keeps one group) is one of three votes; the other
two count the modes instead of the stability: the label is halved by 2-means while
Hartigan's dip test rejects unimodality at ``DIP_LEVEL`` along the line through the two
centres (on the placed images of each map, and on the reduced encoding: :func:`dip_count`).
The count is the median of the votes. A count whose votes disagree (or, for a count without
votes, whose decisive score lies within ``WEAK`` of the threshold) is flagged weak. ``count="whole"``
is the earlier rule: the strength over ``HALVINGS`` random halvings of one map of every
point, at ``WHOLE_THRESHOLD``.

The kinds of image in the whole set are the groups of all labels together
(``Discovery.kinds``). Beside it, the whole set with the labels ignored is counted on one
held-out map by the best silhouette of the placed images (:func:`count_by_silhouette`, 1 below
``SILHOUETTE_THRESHOLD``; the earlier rule's strength where ``count="whole"``):
``Discovery.overall``.

The rule, its threshold and the dip test's level were chosen on random groupings of the
Fashion-MNIST classes and of scikit-learn's digits drawn from generator seeds kept apart from
the ones reported (``bench/discover_rules.py --part tune``, on the encodings of
``bench/discover_bench.py``); ``docs/results.md`` gives the held-out figures.

Where the original classes are known, each group is named by its majority class (with the
caller's class names) and that class's share, and the groups are scored against the
classes: a check shown beside the blind result, never used to make it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from ..schema import Typed
from .discover_count import (
    DIP_LEVEL,
    ENCODING_SPLITS,
    HALVINGS,
    HELD_OUT_THRESHOLD,
    LEAST_MAPPED,
    MAPS,
    MAX_GROUPS,
    SILHOUETTE_THRESHOLD,
    THRESHOLD,
    TSNE_SCHEDULE,
    WEAK,
    WHOLE_THRESHOLD,
    GroupCount,
    count_by_silhouette,
    count_groups,
    count_held_out,
    dip_count,
    held_out_strength,
    prediction_strength,
)
from .project import reduce_pca, tsne

__all__ = ["GroupCount", "Group", "LabelGroups", "Discovery", "prediction_strength", "held_out_strength", "count_groups",
           "count_held_out", "count_by_silhouette", "dip_count", "discover", "COUNTS", "DIP_LEVEL", "LEAST_MAPPED", "MAX_GROUPS",
           "THRESHOLD", "HELD_OUT_THRESHOLD", "WHOLE_THRESHOLD", "SILHOUETTE_THRESHOLD", "HALVINGS", "MAPS", "WEAK",
           "DISCOVERY_DIMS", "TYPICAL", "BORDERLINE"]

#: The counting rules: on points held out of the map (the default), or on one map of every point.
COUNTS: tuple[str, ...] = ("held-out", "whole")
#: Principal components of the encoding that the discovery t-SNE starts from.
DISCOVERY_DIMS = 50
#: Images shown per group: the most typical (nearest its centre) and the most borderline.
TYPICAL, BORDERLINE = 8, 4


@dataclass(frozen=True, kw_only=True)
class Group(Typed):
    """One group found inside a label.

    Attributes
    ----------
    size : int
    typical : list of int
        Indices (into the analysed split) of the images nearest the group's centre.
    borderline : list of int
        Indices of the images nearest another group (empty for a label of one group).
    looks_like : str or None
        The majority original class, where classes are known.
    share : float or None
        The share of the group's images of that class.
    """

    size: int
    typical: list[int]
    borderline: list[int]
    looks_like: str | None
    share: float | None


@dataclass(frozen=True, kw_only=True)
class LabelGroups(Typed):
    """The groups found inside one label, largest first.

    Attributes
    ----------
    label : int
    count : GroupCount
    groups : list of Group
    true_count : int or None
        The number of original classes behind the label, where known (a check).
    ari : float or None
        Adjusted Rand index of the groups against the original classes, where known and
        the label holds more than one class.
    """

    label: int
    count: GroupCount
    groups: list[Group]
    true_count: int | None
    ari: float | None


@dataclass(frozen=True, kw_only=True)
class Discovery(Typed):
    """Everything discovery found in one split.

    Attributes
    ----------
    split : str
    layer : str
        The encoding layer the groups were found in.
    params : dict
        How: PCA dimensions, t-SNE settings, criterion, threshold, seed.
    points : ndarray of float32, shape (N, 2)
        One t-SNE of all the images (the whole-set view).
    label_points : ndarray of float32, shape (N, 2)
        Each image's place in its own label's t-SNE (where its groups were found).
    labels : ndarray
        Each image's label.
    group : ndarray of int64
        Each image's group within its label (0 = the label's largest group).
    per_label : list of LabelGroups
    overall : GroupCount
        The count over one t-SNE of all images, labels ignored (held-out silhouette, or the
        earlier rule's strength where ``params["count"]`` is ``"whole"``).
    overall_group : ndarray of int64
        Each image's group in the whole-set view.
    overall_true : int or None
        The number of original classes in the split, where known.
    overall_ari : float or None
        Whole-set groups against the original classes, where known.
    """

    split: str
    layer: str
    params: dict[str, Any]
    points: np.ndarray
    label_points: np.ndarray
    labels: np.ndarray
    group: np.ndarray
    per_label: list[LabelGroups]
    overall: GroupCount
    overall_group: np.ndarray
    overall_true: int | None
    overall_ari: float | None

    def as_json(self) -> dict[str, Any]:
        """The ``discover --json`` answer: per label, its groups largest first (size, looks_like, share)."""
        return {str(lg.label): {"groups": [{"size": g.size, "looks_like": g.looks_like, "share": g.share}
                                           for g in lg.groups]} for lg in self.per_label}

    @property
    def kinds(self) -> int:
        """The kinds of image found in the whole set: the groups of all labels together."""
        return sum(len(lg.groups) for lg in self.per_label)

    @property
    def exact(self) -> int | None:
        """How many labels got exactly as many groups as they hold classes (None where classes are unknown)."""
        known = [lg for lg in self.per_label if lg.true_count is not None]
        return sum(len(lg.groups) == lg.true_count for lg in known) if known else None

    @property
    def mean_ari(self) -> float | None:
        """Mean within-label ARI against the classes, over labels holding more than one class."""
        aris = [lg.ari for lg in self.per_label if lg.ari is not None]
        return float(np.mean(aris)) if aris else None


def _describe(points: np.ndarray, assign: np.ndarray, index: np.ndarray, classes: np.ndarray | None,
              class_names: Sequence[str] | None) -> list[Group]:
    """Size, typical and borderline images, and (where classes are known) what each group looks like."""
    k = int(assign.max()) + 1
    centres = np.stack([points[assign == g].mean(axis=0) for g in range(k)])
    dist = np.linalg.norm(points[:, None, :] - centres[None], axis=2)
    groups = []
    for g in range(k):
        members = np.flatnonzero(assign == g)
        typical = members[np.argsort(dist[members, g], kind="stable")[:TYPICAL]]
        borderline: np.ndarray = np.array([], dtype=np.int64)
        if k > 1:
            other = np.delete(dist[members], g, axis=1).min(axis=1)
            borderline = members[np.argsort(dist[members, g] / np.maximum(other, 1e-9), kind="stable")[::-1][:BORDERLINE]]
        looks_like, share = None, None
        if classes is not None and (classes[members] >= 0).all():
            values, counts = np.unique(classes[members], return_counts=True)
            top = int(values[counts.argmax()])
            looks_like = class_names[top] if class_names is not None else str(top)
            share = float(counts.max() / len(members))
        groups.append(Group(size=len(members), typical=index[typical].tolist(), borderline=index[borderline].tolist(),
                            looks_like=looks_like, share=share))
    return groups


def _known(classes: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    if classes is None or not (classes[mask] >= 0).all():
        return None
    return classes[mask]


def _reduce(X: np.ndarray, seed: int) -> np.ndarray:
    """Each row scaled to unit length, then its first ``DISCOVERY_DIMS`` principal components (fewer where fewer fit).

    Unit rows (as GEORGE does) make the map follow the direction of an encoding, not its
    magnitude, which varies with contrast and size more than with the kind of image.
    """
    X = np.asarray(X, dtype=np.float32)
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    return reduce_pca(X, max(1, min(DISCOVERY_DIMS, X.shape[1], len(X) - 1)), seed)[0]


def _count(Z: np.ndarray, count: str, max_groups: int, seed: int, threshold: float,
           maps: int = MAPS) -> tuple[np.ndarray, np.ndarray, GroupCount, dict[str, Any]]:
    """``Z``'s map, its groups and their count by the rule ``count``, with the t-SNE's settings as recorded."""
    if count in ("silhouette", "held-out"):
        points, assign, found = (count_by_silhouette(Z, max_groups, seed, threshold) if count == "silhouette"
                                 else count_held_out(Z, max_groups, seed, threshold, maps=maps))
        return points, assign, found, {"fitted": "a random half of the points", "placed": "the other half",
                                       **TSNE_SCHEDULE}
    embedding = tsne(Z, seed=seed, **TSNE_SCHEDULE)
    assign, found = count_groups(embedding.points, max_groups, seed, threshold)
    return embedding.points, assign, found, embedding.params


def _label_groups(value: int, found: GroupCount, points: np.ndarray, assign: np.ndarray, mask: np.ndarray,
                  classes: np.ndarray | None, class_names: Sequence[str] | None) -> LabelGroups:
    """The groups of label ``value`` (its images ``mask`` selects), described and, where classes are known, scored."""
    known = _known(classes, mask)
    true = None if known is None else len(np.unique(known))
    ari = float(adjusted_rand_score(known, assign)) if known is not None and true > 1 else None
    return LabelGroups(label=value, count=found, groups=_describe(points, assign, np.flatnonzero(mask), known, class_names),
                       true_count=true, ari=ari)


def _params(count: str, threshold: float, max_groups: int, seed: int, params_tsne: dict[str, Any]) -> dict[str, Any]:
    """How the groups were found, as :attr:`Discovery.params` records it."""
    held_out = count == "held-out"
    return {"pca_dims": DISCOVERY_DIMS, "tsne": params_tsne, "count": count,
            "criterion": ("mean of the K-means prediction strength on held-out points of the map and on the "
                          "encoding itself" if held_out else "K-means prediction strength"),
            "embedding": "a t-SNE per label", "threshold": threshold,
            "maps": MAPS if held_out else None, "splits": ENCODING_SPLITS if held_out else HALVINGS,
            "vote": "median of the count by threshold and the dip test's counts on the maps and on the encoding"
                    if held_out else None,
            "dip_level": DIP_LEVEL if held_out else None,
            "least_mapped": LEAST_MAPPED if held_out else None,
            "overall_criterion": ("best silhouette of held-out points" if held_out
                                  else "K-means prediction strength"),
            "overall_threshold": SILHOUETTE_THRESHOLD if held_out else threshold,
            "max_groups": max_groups, "seed": seed, "weak_margin": WEAK}


def discover(X: np.ndarray, labels: np.ndarray, classes: np.ndarray | None = None, *, split: str = "test",
             layer: str = "", max_groups: int = MAX_GROUPS, count: str = "held-out", threshold: float | None = None,
             class_names: Sequence[str] | None = None, seed: int = 0,
             log: Callable[[str], None] | None = None) -> Discovery:
    """Find the groups inside each label from the encoding ``X`` alone.

    Parameters
    ----------
    X : ndarray, shape (N, d)
        The encoding of the images.
    labels : ndarray, shape (N,)
    classes : ndarray or None
        The original classes (-1 = unknown), used only to name and score the groups.
    split, layer : str
        Recorded with the result.
    max_groups : int, default=MAX_GROUPS
    count : {"held-out", "whole"}, default="held-out"
        How the number of groups is chosen: :func:`count_held_out` inside each label (and
        :func:`count_by_silhouette` over the whole set), or :func:`count_groups` on one map of
        every point for both.
    threshold : float or None
        The lowest score taken inside each label; None: the rule's own (``HELD_OUT_THRESHOLD``
        or ``WHOLE_THRESHOLD``).
    class_names : sequence of str or None
        The name of each class id, for naming groups; None names them by the id.
    seed : int, default=0
    """
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, not {count!r}")
    threshold = threshold if threshold is not None else (HELD_OUT_THRESHOLD if count == "held-out" else WHOLE_THRESHOLD)
    label_points = np.zeros((len(X), 2), dtype=np.float32)
    group = np.zeros(len(X), dtype=np.int64)
    per_label = []
    for value in np.unique(labels):
        mask = labels == value
        label_points[mask], group[mask], found, _ = _count(_reduce(X[mask], seed), count, max_groups, seed, threshold)
        per_label.append(_label_groups(int(value), found, label_points[mask], group[mask], mask, classes, class_names))
        if log:
            true = per_label[-1].true_count
            check = "" if true is None else f" (classes behind it: {true})"
            log(f"label {value}: {found.chosen} group(s){check}{', a weak count' if found.weak else ''}")
    whole = ("silhouette", SILHOUETTE_THRESHOLD) if count == "held-out" else (count, threshold)
    points, overall_group, overall, params_tsne = _count(_reduce(X, seed), whole[0], 2 * max_groups, seed, whole[1],
                                                         maps=1)
    all_known = _known(classes, np.ones(len(X), bool))
    return Discovery(
        split=split, layer=layer, points=points, label_points=label_points, labels=labels, group=group,
        per_label=per_label, overall=overall, overall_group=overall_group,
        params=_params(count, threshold, max_groups, seed, params_tsne),
        overall_true=None if all_known is None else len(np.unique(all_known)),
        overall_ari=None if all_known is None else float(adjusted_rand_score(all_known, overall_group)))
