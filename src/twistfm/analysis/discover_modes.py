"""How many modes a set of points has: halvings by 2-means, each tested by Hartigan's dip test.

:class:`DipSplits` halves a set of points by 2-means, learnt on some points (``fit``) and
tested on others (``test``, the same points where nothing is held out): the tested points are
projected on the line through the two centres, and Hartigan's dip test (the ``diptest``
package) says whether that projection has one mode. A group is split where it does not, and
each half is halved again (dip-means' idea, Kalogeratos & Likas 2012, on one axis).
:func:`dip_count` is the number of groups this finds. :mod:`twistfm.analysis.discover_count`
takes it as two of the held-out count's three votes; ``DIP_LEVEL`` was chosen with
``bench/discover_rules.py`` on the tune groupings, never on the groupings reported.
"""

from __future__ import annotations

import warnings

import diptest
import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

__all__ = ["DipSplits", "dip_count", "DIP_LEVEL", "DIP_LEAST_SHARE", "MAX_GROUPS"]

#: Level of Hartigan's dip test below which the dip votes halve a group (chosen on the tune groupings).
DIP_LEVEL = 1e-4
#: Smallest share of the tested points each half of a dip vote's split must hold (and never under 5 points).
DIP_LEAST_SHARE = 0.02
#: Most groups looked for within one label (by the dip count and by every count of ``discover_count``).
MAX_GROUPS = 6


def _kmeans(points: np.ndarray, k: int, n_init: int, seed: int) -> KMeans | None:
    """K-means of ``points`` with ``k`` clusters, or None where it found fewer than ``k``.

    A t-SNE map of a few points can put several on one spot, or so near one another that
    K-means leaves clusters empty; scikit-learn then warns, and k groups are not there.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(k, n_init=n_init, random_state=seed).fit(points)
    return model if len(np.unique(model.labels_)) == k else None


class DipSplits:
    """Halvings of a set of points by 2-means, each tested for bimodality by Hartigan's dip test.

    The 2-means of a group is learnt on its ``fit`` points and tested on its ``test`` points
    (the same array for a test without held-out points): they are projected on the line
    through the two centres, and the dip test's p-value and dip of that projection decide
    whether the group is split (dip-means' idea, Kalogeratos & Likas 2012, on one axis). Each
    halving is computed once, when first needed, so that counts at several levels share it.
    """

    def __init__(self, fit: np.ndarray, test: np.ndarray, seed: int = 0, least_share: float = DIP_LEAST_SHARE) -> None:
        self.least = max(5, int(least_share * len(test)))
        self.seed = seed
        self._tests: dict[str, tuple[float, float] | None] = {}
        self._points = {"": (np.asarray(fit), np.asarray(test))}

    def test(self, path: str = "") -> tuple[float, float] | None:
        """``(p-value, dip)`` of halving the group at ``path`` ("" the whole, then "0", "1", "00", ...), or None
        where it is too small to halve, or a half of it would hold fewer than the least points."""
        if path not in self._tests:
            self._tests[path] = None  # until a halving is found that both halves of the test points keep
            fit, test = self._points[path]
            if min(len(fit), len(test)) < 2 * self.least or (halves := _kmeans(fit, 2, 3, self.seed)) is None:
                return None
            on_test = halves.predict(test)
            if np.bincount(on_test, minlength=2).min() < self.least:
                return None
            a, b = halves.cluster_centers_
            axis = (b - a) / max(float(np.linalg.norm(b - a)), 1e-12)
            dip, p = diptest.diptest((test @ axis).astype(np.float64))
            self._tests[path] = (float(p), float(dip))
            for j in (0, 1):
                self._points[path + str(j)] = (fit[halves.labels_ == j], test[on_test == j])
        return self._tests[path]

    def count(self, max_groups: int = MAX_GROUPS, level: float = DIP_LEVEL, least_dip: float = 0.0) -> int:
        """Groups found by halving, breadth first, each group whose p-value is below ``level`` (and its dip at
        least ``least_dip``), at most ``max_groups``."""
        queue, leaves = [""], 0
        while queue:
            path = queue.pop(0)
            found = None if leaves + len(queue) + 1 >= max_groups else self.test(path)
            if found is None or not found[0] < level or found[1] < least_dip:  # a NaN p-value splits nothing
                leaves += 1
                continue
            queue += [path + "0", path + "1"]
        return max(1, leaves)


def dip_count(fit: np.ndarray, test: np.ndarray | None = None, max_groups: int = MAX_GROUPS, level: float = DIP_LEVEL,
              seed: int = 0) -> int:
    """How many groups halving by 2-means finds while the dip test rejects unimodality at ``level``.

    The halvings are learnt on ``fit`` and tested on ``test`` (``fit`` itself where None): see
    :class:`DipSplits`. A set of one mode, however stretched, stays one group.
    """
    return DipSplits(fit, fit if test is None else test, seed).count(max_groups, level)
