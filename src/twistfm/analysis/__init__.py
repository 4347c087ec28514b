"""Analysis of a trained network's encoding: a model and its images in, typed results out.

Layer choice (:mod:`.layers`), projections (:mod:`.project`), clustering (:mod:`.cluster`),
the groups inside each label (:mod:`.discover`), naming the labels (:mod:`.decode`, and
:mod:`.reference`: matching images to Fashion-MNIST and the 10-class reference classifier),
neighbours and ambiguous images (:mod:`.neighbours`), agreement scores (:mod:`.metrics`), and
:func:`compute_analysis` (:mod:`.compute`), which runs them all into an :class:`Analysis`
(:mod:`.results`). Nothing here knows a run folder's layout or writes a file; the one model
trained here is the reference classifier, in memory, and the one data read is the original
Fashion-MNIST that images are matched against.
"""

from .cluster import DENSITY_DIMS, Clustering, dbscan, hdbscan, kmeans
from .compute import check_analysis, compute_analysis, discover_groups, discovery_layer, point_rows, train_points
from .decode import ClassRecovery, LabelDecoding, LabelMeaning, decode_labels, recover_classes
from .layers import LayerScore, LayerScores, score_layers
from .neighbours import AmbiguousImages, Neighbours, all_neighbours, ambiguous_images, knn_accuracy
from .project import Projection, neighbourhood_preservation, pca, principal_components, tsne, umap
from .reference import MIN_MATCHED, decode_dataset, matched_classes, reference_classifier
from .results import Analysis, AnalysisConfig

__all__ = [
    "DENSITY_DIMS", "MIN_MATCHED", "AmbiguousImages", "Analysis", "AnalysisConfig", "ClassRecovery", "Clustering",
    "LabelDecoding", "LabelMeaning", "LayerScore", "LayerScores", "Neighbours", "Projection", "all_neighbours",
    "ambiguous_images", "check_analysis", "compute_analysis", "dbscan", "decode_dataset", "decode_labels",
    "discover_groups", "discovery_layer", "hdbscan", "kmeans", "knn_accuracy", "matched_classes",
    "neighbourhood_preservation", "pca", "point_rows", "principal_components", "recover_classes",
    "reference_classifier", "score_layers", "train_points", "tsne", "umap",
]
