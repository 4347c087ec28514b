"""The analysis of one run as one typed object: its settings and every stage's result.

:class:`AnalysisConfig` holds the options, checked once at the entry of the analysis;
:class:`Analysis` gathers the results (layer scores, projections, clusterings, decoding,
neighbours, ambiguous images). The report and the explorer read an :class:`Analysis`;
``to_json``/``from_json`` turn it into a JSON object with arrays kept apart and back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import OptionError, RunError
from ..schema import Typed, from_json
from .cluster import Clustering
from .decode import LabelDecoding
from .discover import MAX_GROUPS, Discovery
from .layers import LayerScores
from .neighbours import AmbiguousImages, Neighbours
from .project import Projection, umap_available

__all__ = ["AnalysisConfig", "Analysis", "POINTS"]

#: Which images an analysis covers.
POINTS = ("all", "test")

_MAX_SKLEARN_SEED = 2**32 - 1  # scikit-learn's random_state range


@dataclass(frozen=True, kw_only=True)
class AnalysisConfig:
    """Settings of the analysis of one run.

    Parameters
    ----------
    layer : str or None, default=None
        Layer to encode from; None picks the best-scoring layer.
    k : int or None, default=None
        K-means clusters; None uses the number of labels.
    eps : float or None, default=None
        DBSCAN radius; None chooses it by scan (see :mod:`twistfm.analysis.cluster`).
    min_samples : int or None, default=None
        DBSCAN's minimum neighbourhood size; None takes 0.5 % of the test points.
    perplexity : float, default=20
        t-SNE perplexity (20 keeps each image's nearest neighbours a little better than 30;
        measured by ``bench/analysis_bench.py``).
    use_umap : bool, default=False
        Also project with UMAP (needs the optional ``umap`` extra).
    seed : int, default=0
    discovery_layer : str or None, default=None
        Layer discovery finds groups in; None takes the first candidate layer (the first
        pooling), whose encoding keeps the differences the label merges.
    max_groups : int, default=6
        Most groups discovery looks for inside one label.
    points : {"all", "test"}, default="all"
        The images analysed: every image (training images first, then test images), or the
        test images only. Layer choice always scores test encodings against training ones.
    gallery_size : int, default=12
        Images per row in the galleries.
    train_sample : int, default=10000
        Training images used to fit k-NN in the layer choice.
    """

    layer: str | None = None
    k: int | None = None
    eps: float | None = None
    min_samples: int | None = None
    perplexity: float = 20.0
    use_umap: bool = False
    seed: int = 0
    discovery_layer: str | None = None
    max_groups: int = MAX_GROUPS
    points: str = "all"
    gallery_size: int = 12
    train_sample: int = 10000

    def check(self, n_points: int | None = None) -> None:
        """Raise OptionError for any option out of range (for ``n_points`` points, when given), or a missing extra."""
        n_points = 2**62 if n_points is None else n_points
        checks = [
            (self.k is None or 1 <= self.k <= n_points,
             f"--k {self.k}: k-means with k={self.k} needs 1 <= k <= the number of points ({n_points})"),
            (self.eps is None or (math.isfinite(self.eps) and self.eps > 0), f"--eps must be a positive number, got {self.eps}"),
            (self.min_samples is None or 1 <= self.min_samples <= n_points,
             f"--min-samples must be between 1 and the number of points ({n_points}), got {self.min_samples}"),
            (math.isfinite(self.perplexity) and self.perplexity > 0,
             f"--perplexity must be a positive number, got {self.perplexity}"),
            (0 <= self.seed <= _MAX_SKLEARN_SEED, f"--seed must be in 0..{_MAX_SKLEARN_SEED}, got {self.seed}"),
            (2 <= self.max_groups <= 20, f"--max-groups must be between 2 and 20, got {self.max_groups}"),
            (self.points in POINTS, f"points {self.points!r}: choose one of {', '.join(POINTS)}"),
            (1 <= self.gallery_size <= 15, f"gallery_size must be between 1 and 15, got {self.gallery_size}"),
            (self.train_sample >= 1, f"train_sample must be at least 1, got {self.train_sample}"),
            (not self.use_umap or umap_available(), "--umap needs the optional package: pip install 'twistfm[umap]'"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)


@dataclass(frozen=True, kw_only=True)
class Analysis(Typed):
    """Everything the analysis of one run found, for one split of its data.

    Attributes
    ----------
    config : AnalysisConfig
    model : str
        The analysed model's name.
    n_train : int
        How many of the analysed points are training images (they come first; the rest
        are test images). 0 when only the test images are analysed.
    layers : LayerScores
    layer : str
        The layer encoded from.
    default_layer : str
        The last hidden layer (the one the seeds would take).
    labels, predicted : ndarray of int64
        Label and predicted label of each point.
    classes : ndarray of int64
        Original class of each point, -1 where unknown.
    projections : dict
        Method -> :class:`Projection`.
    clusterings : dict
        Method -> :class:`Clustering`.
    decoding : LabelDecoding
        The meaning of each label (over both splits).
    knn_acc : float
        k-NN accuracy of the chosen layer's encoding.
    neighbours : Neighbours
        Every point's nearest points in the encoding.
    ambiguous : AmbiguousImages
    preservation : float or None
        Share of each test point's nearest neighbours that t-SNE keeps.
    discovery : Discovery or None
        The groups found inside each label of the test images, from the encoding alone.
    """

    config: AnalysisConfig
    model: str
    n_train: int
    layers: LayerScores
    layer: str
    default_layer: str
    labels: np.ndarray
    predicted: np.ndarray
    classes: np.ndarray
    projections: dict[str, Projection]
    clusterings: dict[str, Clustering]
    decoding: LabelDecoding
    knn_acc: float
    neighbours: Neighbours
    ambiguous: AmbiguousImages
    preservation: float | None = None
    discovery: Discovery | None = None

    @property
    def test(self) -> slice:
        """The test points among the analysed points."""
        return slice(self.n_train, None)

    @property
    def label_values(self) -> list[int]:
        """The sorted label values of the analysed points."""
        return [int(v) for v in np.unique(self.labels)]

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Analysis:
        """Rebuild from :meth:`to_json`'s object, checking every field and that the parts fit together."""
        analysis = from_json(cls, obj, where)
        analysis.check(where)
        return analysis

    def check(self, where: str) -> None:
        """Raise RunError unless every stage is present and every per-point array has one entry per point."""
        missing = ({"pca", "tsne"} - set(self.projections)) | ({"kmeans", "dbscan", "hdbscan"} - set(self.clusterings))
        if missing:
            raise RunError(f"{where}: the analysis lacks {', '.join(sorted(missing))}; run the analysis again")
        n = len(self.labels)
        per_point = {"predicted": self.predicted, "classes": self.classes, "neighbours.index": self.neighbours.index,
                     **{f"projections.{k}.points": p.points for k, p in self.projections.items()},
                     **{f"clusterings.{k}.labels_": c.labels_ for k, c in self.clusterings.items()}}
        for name, array in per_point.items():
            if len(array) != n:
                raise RunError(f"{where}: {name} has {len(array)} entries for {n} points; run the analysis again")
