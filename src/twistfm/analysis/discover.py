"""Discovery: what kinds of image hide behind each label, found from the encoding alone.

Blind means without class ids. Each label's images are embedded in 2-D on their own: the
encoding of the discovery layer (by default the first pooling, where the network still
sees shapes rather than labels) is reduced to ``DISCOVERY_DIMS`` principal components and mapped
by a t-SNE of that label only; there, the kinds of image behind the label fall apart into
islands. The number of groups is the largest k whose K-means *prediction strength*
(Tibshirani & Walther, 2005) is at least ``THRESHOLD``: cluster one half of the points,
cluster the other half, and measure how often pairs that one clustering puts together the
other does too (the mean of ``HALVINGS`` random halvings). A label that is one kind of thing
keeps one group (k = 1 always has strength 1). The kinds of image in the whole set are the
groups of all labels together (``Discovery.kinds``); the same criterion on one t-SNE of all
images, labels ignored, is shown beside it (``Discovery.overall``): on Fashion-MNIST that
view sees only the broad families (tops, footwear, bags, trousers), which is why the count
goes label by label.

The layer, the per-label maps and the threshold were chosen by measurement
(``bench/discover_criteria.py``, and three t-SNE seeds on two models): the first pooling
beats raw pixels and deeper layers (which already merge the classes a label shares); one
map per label beats one map of everything; strengths at 0.8 or 0.9 split single kinds
apart, 0.97 merges real ones.

Where the original classes are known, each group is named by its majority class and that
class's share, and the groups are scored against the classes: a check shown beside the
blind result, never used to make it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from ..data import CLASS_NAMES
from ..schema import Typed
from .project import tsne

__all__ = ["GroupCount", "Group", "LabelGroups", "Discovery", "prediction_strength", "count_groups", "discover",
           "MAX_GROUPS", "THRESHOLD", "HALVINGS", "DISCOVERY_DIMS", "TYPICAL", "BORDERLINE"]

#: Most groups looked for within one label (the whole set allows twice as many).
MAX_GROUPS = 6
#: Lowest prediction strength a number of groups must reach to be taken.
THRESHOLD = 0.95
#: Random halvings averaged in one prediction strength.
HALVINGS = 10
#: Principal components of the encoding that the discovery t-SNE starts from.
DISCOVERY_DIMS = 50
#: Images shown per group: the most typical (nearest its centre) and the most borderline.
TYPICAL, BORDERLINE = 8, 4


@dataclass(frozen=True, kw_only=True)
class GroupCount(Typed):
    """The criterion's curve over the number of groups, and the number it chose.

    Attributes
    ----------
    ks : list of int
        The numbers of groups tried (1, 2, ...).
    scores : list of float
        Prediction strength of each.
    chosen : int
        The largest k whose strength is at least ``threshold``.
    threshold : float
    """

    ks: list[int]
    scores: list[float]
    chosen: int
    threshold: float


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
        The criterion over one t-SNE of all images, labels ignored.
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


def prediction_strength(points: np.ndarray, k: int, seed: int = 0, splits: int = HALVINGS) -> float:
    """Prediction strength of K-means with ``k`` clusters on ``points`` (1.0 for k = 1).

    The points are halved at random; each half is clustered; for every cluster of the second
    half, the share of its pairs that the first half's centres also put together is taken,
    and the smallest share is the strength. The mean over ``splits`` halvings is returned.
    """
    if k == 1:
        return 1.0
    rng = np.random.default_rng(seed)
    values = []
    for r in range(splits):
        perm = rng.permutation(len(points))
        train, test = points[perm[: len(points) // 2]], points[perm[len(points) // 2:]]
        if len(test) < 2 * k:
            return 0.0
        predicted = KMeans(k, n_init=3, random_state=seed + r).fit(train).predict(test)
        own = KMeans(k, n_init=3, random_state=seed + r).fit(test).labels_
        shares = []
        for j in range(k):
            members = predicted[own == j]
            if len(members) > 1:
                counts = np.bincount(members, minlength=k)
                shares.append((counts * (counts - 1)).sum() / (len(members) * (len(members) - 1)))
        values.append(min(shares) if shares else 0.0)
    return float(np.mean(values))


def count_groups(points: np.ndarray, max_groups: int = MAX_GROUPS, seed: int = 0,
                 threshold: float = THRESHOLD) -> tuple[np.ndarray, GroupCount]:
    """Split ``points`` into the number of groups the criterion chooses; groups numbered largest first."""
    ks = list(range(1, max(1, min(max_groups, len(points) // 4)) + 1))
    scores = [prediction_strength(points, k, seed) for k in ks]
    chosen = max(k for k, s in zip(ks, scores, strict=True) if s >= threshold)
    if chosen == 1:
        assign = np.zeros(len(points), dtype=np.int64)
    else:
        assign = KMeans(chosen, n_init=4, random_state=seed).fit(points).labels_.astype(np.int64)
        order = np.argsort(-np.bincount(assign, minlength=chosen), kind="stable")
        assign = np.argsort(order)[assign]
    return assign, GroupCount(ks=ks, scores=scores, chosen=chosen, threshold=threshold)


def _describe(points: np.ndarray, assign: np.ndarray, index: np.ndarray, classes: np.ndarray | None) -> list[Group]:
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
            looks_like, share = CLASS_NAMES[int(values[counts.argmax()])], float(counts.max() / len(members))
        groups.append(Group(size=len(members), typical=index[typical].tolist(), borderline=index[borderline].tolist(),
                            looks_like=looks_like, share=share))
    return groups


def _known(classes: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    if classes is None or not (classes[mask] >= 0).all():
        return None
    return classes[mask]


#: The t-SNE schedule the count's threshold was measured with (longer than the projections' default).
_TSNE = dict(pca_dims=0, early_iter=125, coarse_iter=200, fine_iter=200)


def _reduce(X: np.ndarray, seed: int) -> np.ndarray:
    """The first ``DISCOVERY_DIMS`` principal components (fewer where there are fewer points or features)."""
    return PCA(n_components=min(DISCOVERY_DIMS, X.shape[1], len(X)), random_state=seed).fit_transform(X)


def discover(X: np.ndarray, labels: np.ndarray, classes: np.ndarray | None = None, *, split: str = "test",
             layer: str = "", max_groups: int = MAX_GROUPS, threshold: float = THRESHOLD, seed: int = 0,
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
    threshold : float, default=THRESHOLD
    seed : int, default=0
    """
    embedding = tsne(_reduce(X, seed), seed=seed, **_TSNE)
    points = embedding.points
    label_points = np.zeros_like(points)
    group = np.zeros(len(X), dtype=np.int64)
    per_label = []
    for value in np.unique(labels):
        mask = labels == value
        label_points[mask] = tsne(_reduce(X[mask], seed), seed=seed, **_TSNE).points
        assign, count = count_groups(label_points[mask], max_groups, seed, threshold)
        group[mask] = assign
        known = _known(classes, mask)
        true = None if known is None else len(np.unique(known))
        ari = float(adjusted_rand_score(known, assign)) if known is not None and true > 1 else None
        per_label.append(LabelGroups(label=int(value), count=count, groups=_describe(
            label_points[mask], assign, np.flatnonzero(mask), known), true_count=true, ari=ari))
        if log:
            check = "" if true is None else f" (classes behind it: {true})"
            log(f"label {value}: {count.chosen} group(s){check}")
    overall_group, overall = count_groups(points, 2 * max_groups, seed, threshold)
    all_known = _known(classes, np.ones(len(X), bool))
    return Discovery(
        split=split, layer=layer, points=points, label_points=label_points, labels=labels, group=group,
        per_label=per_label, overall=overall, overall_group=overall_group,
        params={"pca_dims": DISCOVERY_DIMS, "tsne": embedding.params, "criterion": "K-means prediction strength",
                "embedding": "a t-SNE per label", "threshold": threshold, "splits": HALVINGS, "max_groups": max_groups,
                "seed": seed},
        overall_true=None if all_known is None else len(np.unique(all_known)),
        overall_ari=None if all_known is None else float(adjusted_rand_score(all_known, overall_group)))
