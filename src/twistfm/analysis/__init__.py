"""Analysis of an encoding: pure functions, arrays in, typed results out.

Layer choice (:mod:`.layers`), projections (:mod:`.project`), clustering (:mod:`.cluster`),
naming the labels (:mod:`.decode`), neighbours and ambiguous images (:mod:`.neighbours`),
agreement scores (:mod:`.metrics`), and :class:`Analysis`, which gathers them. Nothing here
trains a model or knows a run folder's layout.
"""

from .cluster import DENSITY_DIMS, Clustering, dbscan, hdbscan, kmeans
from .decode import ClassRecovery, LabelDecoding, LabelMeaning, decode_labels, recover_classes
from .layers import LayerScore, LayerScores, score_layers
from .neighbours import AmbiguousImages, Neighbours, all_neighbours, ambiguous_images, knn_accuracy
from .project import Projection, neighbourhood_preservation, pca, principal_components, tsne, umap
from .results import Analysis, AnalysisConfig

__all__ = [
    "DENSITY_DIMS", "AmbiguousImages", "Analysis", "AnalysisConfig", "ClassRecovery", "Clustering", "LabelDecoding",
    "LabelMeaning", "LayerScore", "LayerScores", "Neighbours", "Projection", "all_neighbours", "ambiguous_images",
    "dbscan", "decode_labels", "hdbscan", "kmeans", "knn_accuracy", "neighbourhood_preservation", "pca",
    "principal_components", "recover_classes", "score_layers", "tsne", "umap",
]
