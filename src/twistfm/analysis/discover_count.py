"""How many groups a set of points holds: K-means prediction strength on held-out points, or held-out silhouette.

The prediction strength of Tibshirani & Walther (2005) asks whether K-means with k clusters
finds a feature of the data or of one sample: clusters learnt on one part of the points must
keep together the pairs of points that K-means of another part puts together.
:func:`prediction_strength` halves a set of points at random (``HALVINGS`` times);
:func:`held_out_strength` learns on the points a map was made from and checks on points
placed into it afterwards.

:func:`count_held_out` (the default count inside each label) scores each k by the mean of two
strengths: the held-out strength on t-SNE maps made from half of the points, and the
prediction strength of the encoding itself, without a map (``ENCODING_SPLITS`` halvings), so
that a split must hold both on points the map never saw and in the space the map was made
from. The largest k whose score reaches ``HELD_OUT_THRESHOLD`` (k = 1 always does) is one vote;
:func:`dip_count` (:mod:`twistfm.analysis.discover_modes`) gives two more, from bimodality
rather than stability: groups are halved by 2-means while Hartigan's dip test rejects
unimodality along the line through the two centres (on the placed points of each map, the
fewer of the maps; and on the encoding itself). The count is the median of the three votes.
:func:`count_by_silhouette` (the count over the whole set, labels ignored, where many groups
are looked for and the strength rarely holds beyond a few families) takes the k of the best
silhouette of held-out points, or 1 where it stays below ``SILHOUETTE_THRESHOLD``.
:func:`count_groups` is the earlier rule: the strength on one map of every point. Each
returns the points grouped by K-means with the chosen k, largest group first;
:class:`GroupCount` records the curve. :mod:`twistfm.analysis.discover` counts the groups
inside each label with them.

The rules and thresholds were chosen with ``bench/discover_rules.py`` on the tune groupings
of ``bench/discover_bench.py``, never on the groupings reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import silhouette_score

from ..errors import RunError
from ..schema import Typed
from .discover_modes import DIP_LEAST_SHARE, DIP_LEVEL, MAX_GROUPS, DipSplits, _kmeans, dip_count
from .project import tsne

__all__ = ["GroupCount", "prediction_strength", "held_out_strength", "held_out_silhouette", "count_groups",
           "count_held_out", "count_by_silhouette", "dip_count", "DipSplits",
           "MAX_GROUPS", "THRESHOLD", "HELD_OUT_THRESHOLD", "WHOLE_THRESHOLD",
           "SILHOUETTE_THRESHOLD", "HALVINGS", "ENCODING_SPLITS", "MAPS", "WEAK", "TSNE_SCHEDULE", "DIP_LEVEL",
           "DIP_LEAST_SHARE", "LEAST_MAPPED"]

#: Lowest score a number of groups must reach to be taken: the held-out count's mean of its two strengths;
#: the prediction strength on one map of every point (the earlier rule).
HELD_OUT_THRESHOLD = 0.94
WHOLE_THRESHOLD = 0.95
THRESHOLD = HELD_OUT_THRESHOLD
#: Lowest held-out silhouette at which the whole set is split at all (below it, one group).
SILHOUETTE_THRESHOLD = 0.4
#: Maps averaged in one held-out count (each from a different random half).
MAPS = 2
#: Fewest points a held-out count maps; a smaller label has too few to hold any out and stays one group.
LEAST_MAPPED = 8
#: A count whose decisive strength sits closer than this to the threshold is called weak.
WEAK = 0.03
#: Random halvings averaged in one prediction strength on a map, and on the encoding in the held-out count.
HALVINGS = 10
ENCODING_SPLITS = 4
#: The t-SNE schedule the count's threshold was measured with (longer than the projections' default).
TSNE_SCHEDULE = dict(pca_dims=0, early_iter=125, coarse_iter=200, fine_iter=200, momentum=0.8, knn="sklearn")


@dataclass(frozen=True, kw_only=True)
class GroupCount(Typed):
    """The criterion's curve over the number of groups, and the number it chose.

    Attributes
    ----------
    ks : list of int
        The numbers of groups tried (1, 2, ...).
    scores : list of float
        The criterion for each: the mean of ``map_scores`` and ``encoding_scores`` (``"held-out"``),
        the prediction strength on one map (``"whole"``), or the held-out silhouette
        (``"silhouette"``; 0 for k = 1, which has none).
    chosen : int
        The largest k whose score is at least ``threshold`` (``"silhouette"``: the best k, or
        1 where the best stays below ``threshold``); where ``votes`` are kept, their median.
    threshold : float
    rule : str
        ``"held-out"``, ``"whole"`` or ``"silhouette"``.
    map_scores, encoding_scores : list of float or None
        The held-out count's two parts: the strength on points placed into maps made without
        them, and the prediction strength of the encoding itself (None for other rules).
    votes : list of int or None
        The held-out count's three votes: the largest k whose score reaches ``threshold``, the
        dip test's count on the maps' placed points, and on the encoding (None for other rules
        and for counts made before the votes).
    dip_level : float or None
        The dip test's level the votes used.
    """

    ADDED_FIELDS = ("map_scores", "encoding_scores", "votes", "dip_level")

    ks: list[int]
    scores: list[float]
    chosen: int
    threshold: float
    rule: str = "whole"
    map_scores: list[float] | None = None
    encoding_scores: list[float] | None = None
    votes: list[int] | None = None
    dip_level: float | None = None

    @classmethod
    def from_json(cls, obj: Any, where: str) -> GroupCount:
        """As :meth:`Typed.from_json`, and the held-out count's votes, where kept, are three."""
        count = super().from_json(obj, where)
        if count.votes is not None and len(count.votes) != 3:
            raise RunError(f"{where}: field 'votes' must hold three counts, found {len(count.votes)}; the file is corrupt")
        return count

    @property
    def by_threshold(self) -> int:
        """The largest k whose score reaches the threshold (the silhouette rule: its choice)."""
        return self.votes[0] if self.votes else self.chosen

    @property
    def contested(self) -> bool:
        """True where the held-out count's votes do not all agree."""
        return bool(self.votes) and len(set(self.votes)) > 1

    @property
    def margin(self) -> float:
        """How far the decision sits from the threshold: the chosen k's excess over it, or the next k's shortfall.

        Small (below ``WEAK``) means another threshold near this one would have counted
        differently: the count is weak and the report says so. For ``"silhouette"``, the best
        silhouette's distance from the threshold below which the set is one group.
        """
        if self.rule == "silhouette":
            return float(abs(max(self.scores[1:]) - self.threshold)) if len(self.scores) > 1 else 1.0
        chosen = self.by_threshold
        above = [s for k, s in zip(self.ks, self.scores, strict=True) if k > chosen]
        gaps = [self.threshold - max(above)] if above else []
        if chosen > 1:
            gaps.append(self.scores[self.ks.index(chosen)] - self.threshold)
        return float(min(gaps)) if gaps else 1.0

    @property
    def weak(self) -> bool:
        """True where the count could have gone otherwise: the votes disagree; or, with no votes, it sits within
        ``WEAK`` of the threshold. (Where all three votes agree, no threshold near this one moves their median.)"""
        return self.contested if self.votes else self.margin < WEAK


def _pair_share(predicted: np.ndarray, own: np.ndarray, k: int) -> float:
    """The smallest share, over the clusters of ``own``, of their pairs that ``predicted`` also puts together."""
    shares = []
    for j in range(k):
        members = predicted[own == j]
        if len(members) > 1:
            counts = np.bincount(members, minlength=k)
            shares.append((counts * (counts - 1)).sum() / (len(members) * (len(members) - 1)))
    return min(shares) if shares else 0.0


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
        fitted, own = _kmeans(train, k, 3, seed + r), _kmeans(test, k, 3, seed + r)
        if fitted is None or own is None:
            return 0.0  # k groups cannot be told apart here
        values.append(_pair_share(fitted.predict(test), own.labels_, k))
    return float(np.mean(values))


def held_out_strength(fitted: np.ndarray, placed: np.ndarray, k: int, seed: int = 0, repeats: int = 3) -> float:
    """Prediction strength of K-means with ``k`` clusters, learnt on ``fitted`` and checked on ``placed`` points.

    ``fitted`` are the points a map was made from, ``placed`` other points the map then placed
    (without moving the fitted ones). K-means centres of the fitted points assign the placed
    points; K-means of the placed points groups them on their own; the strength is the
    smallest share, over the placed points' own clusters, of their pairs that the fitted
    centres also put together (the mean over ``repeats`` K-means seeds). Groups that are
    features of the data, not of one map, keep their pairs together on points the map never
    saw. 1.0 for k = 1.
    """
    if k == 1:
        return 1.0
    if len(fitted) < 2 * k or len(placed) < 2 * k:
        return 0.0
    values = []
    for r in range(repeats):
        centres, own = _kmeans(fitted, k, 3, seed + r), _kmeans(placed, k, 3, seed + r)
        if centres is None or own is None:
            return 0.0
        values.append(_pair_share(centres.predict(placed), own.labels_, k))
    return float(np.mean(values))


def held_out_silhouette(fitted: np.ndarray, placed: np.ndarray, k: int, seed: int = 0, sample: int = 2000) -> float:
    """Silhouette of the ``placed`` points grouped by the K-means centres of the ``fitted`` ones (-1 where k groups fail).

    Computed on at most ``sample`` placed points (scikit-learn's ``sample_size``), since the
    silhouette costs the square of the points.
    """
    centres = _kmeans(fitted, k, 3, seed) if k > 1 and len(fitted) >= 2 * k else None
    if centres is None:
        return -1.0
    assign = centres.predict(placed)
    if len(np.unique(assign)) < 2 or len(placed) <= len(np.unique(assign)):
        return -1.0
    return float(silhouette_score(placed, assign, sample_size=min(sample, len(placed)), random_state=seed))


def _numbered(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    """K-means groups of ``points`` numbered largest first (all 0 for k = 1; fewer than k where K-means finds fewer)."""
    model = None
    while k > 1 and (model := _kmeans(points, k, 4, seed)) is None:
        k -= 1
    if model is None:
        return np.zeros(len(points), dtype=np.int64)
    assign = model.labels_.astype(np.int64)
    order = np.argsort(-np.bincount(assign, minlength=k), kind="stable")
    return np.argsort(order)[assign]


def _ks(n: int, max_groups: int) -> list[int]:
    return list(range(1, max(1, min(max_groups, n // 4)) + 1))


def _chosen(ks: list[int], scores: list[float], threshold: float) -> int:
    return max([1] + [k for k, s in zip(ks, scores, strict=True) if s >= threshold])  # one group always holds


def count_groups(points: np.ndarray, max_groups: int = MAX_GROUPS, seed: int = 0,
                 threshold: float = THRESHOLD) -> tuple[np.ndarray, GroupCount]:
    """Split 2-D ``points`` into the number of groups the criterion chooses on them; groups numbered largest first."""
    ks = _ks(len(points), max_groups)
    scores = [prediction_strength(points, k, seed) for k in ks]
    chosen = _chosen(ks, scores, threshold)
    return _numbered(points, chosen, seed), GroupCount(ks=ks, scores=scores, chosen=chosen, threshold=threshold,
                                                       rule="whole")


def _held_out_maps(Z: np.ndarray, seed: int, maps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``maps`` t-SNEs of ``Z``, each made from a random half and the other half placed into it: (points, fitted mask)."""
    n = len(Z)
    rng = np.random.default_rng(seed)
    out = []
    for r in range(maps if n >= LEAST_MAPPED else 0):
        fit_on = np.zeros(n, dtype=bool)
        fit_on[rng.permutation(n)[: n // 2]] = True
        out.append((tsne(Z, seed=seed + r, fit_on=fit_on, **TSNE_SCHEDULE).points, fit_on))
    return out


def _first_components(Z: np.ndarray) -> np.ndarray:
    """Too few points to hold any out: the points placed on their first two components."""
    first = np.zeros((len(Z), 2), dtype=np.float32)
    first[:, : min(2, Z.shape[1])] = Z[:, :2]
    return first


def count_held_out(Z: np.ndarray, max_groups: int = MAX_GROUPS, seed: int = 0, threshold: float = HELD_OUT_THRESHOLD,
                   maps: int = MAPS, dip_level: float | None = DIP_LEVEL) -> tuple[np.ndarray, np.ndarray, GroupCount]:
    """Map ``Z`` to 2-D and count its groups on held-out points; return the map, the groups and the count.

    ``maps`` times, a t-SNE is made from a random half of the points and the other half is
    placed into it (openTSNE's ``transform``); :func:`held_out_strength` scores each k on
    that map, averaged over the maps. :func:`prediction_strength` of ``Z`` itself (no map,
    ``ENCODING_SPLITS`` halvings) scores each k again. The largest k whose mean of the two
    reaches ``threshold`` (k = 1 always does: a label of one kind keeps one group) is the first
    vote; :func:`dip_count` at ``dip_level`` on each map (halvings learnt on the fitted points,
    tested on the placed ones; the fewer of the maps) and on ``Z`` are the other two, and the
    number of groups is the median of the three (``dip_level=None``: the first vote alone).
    The points returned are the first map's (fitted and placed points together), grouped by
    K-means with the chosen k, largest group first. Fewer than ``LEAST_MAPPED`` points are too
    few to hold any out: one group, no votes, placed on their first two components.
    """
    ks = _ks(len(Z), max_groups)
    made = _held_out_maps(Z, seed, maps)
    if made:
        first = made[0][0]
        on_map = np.mean([[held_out_strength(p[f], p[~f], k, seed) for k in ks] for p, f in made], axis=0)
        on_encoding = np.array([prediction_strength(Z, k, seed, splits=ENCODING_SPLITS) for k in ks])
    else:  # one group, placed on the first two components
        first = _first_components(Z)
        on_map = on_encoding = np.array([1.0] + [0.0] * (len(ks) - 1))
    scores = [float(v) for v in (on_map + on_encoding) / 2]
    chosen = _chosen(ks, scores, threshold)
    votes = None
    if dip_level is not None and made:
        votes = [chosen, min(dip_count(p[f], p[~f], max(ks), dip_level, seed) for p, f in made),
                 dip_count(Z, None, max(ks), dip_level, seed)]
        chosen = int(np.median(votes))
    return first, _numbered(first, chosen, seed), GroupCount(
        ks=ks, scores=scores, chosen=chosen, threshold=threshold, rule="held-out",
        map_scores=[float(v) for v in on_map], encoding_scores=[float(v) for v in on_encoding],
        votes=votes, dip_level=dip_level if votes else None)


def count_by_silhouette(Z: np.ndarray, max_groups: int = 2 * MAX_GROUPS, seed: int = 0,
                        threshold: float = SILHOUETTE_THRESHOLD) -> tuple[np.ndarray, np.ndarray, GroupCount]:
    """Map ``Z`` to 2-D from half of its points and count its groups by the silhouette of the other half.

    One t-SNE is made from a random half of the points and the other half placed into it;
    for each k, K-means centres of the fitted half group the placed half, and
    :func:`held_out_silhouette` scores that grouping. The count is the k of the best score,
    or 1 where the best stays below ``threshold``. Returns the map (every point), the groups
    (K-means with the chosen k, largest first) and the count.
    """
    ks = _ks(len(Z), max_groups)
    made = _held_out_maps(Z, seed, 1)
    if not made or len(ks) < 2:
        first = made[0][0] if made else _first_components(Z)
        return first, np.zeros(len(Z), dtype=np.int64), GroupCount(
            ks=ks, scores=[0.0] * len(ks), chosen=1, threshold=threshold, rule="silhouette")
    points, fit_on = made[0]
    scores = [0.0] + [held_out_silhouette(points[fit_on], points[~fit_on], k, seed) for k in ks[1:]]
    best = ks[int(np.argmax(scores[1:])) + 1]
    chosen = best if max(scores[1:]) >= threshold else 1
    return points, _numbered(points, chosen, seed), GroupCount(ks=ks, scores=scores, chosen=chosen,
                                                               threshold=threshold, rule="silhouette")
