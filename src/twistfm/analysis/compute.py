"""Every analysis stage on one trained model and its images, gathered into an :class:`Analysis`.

:func:`compute_analysis` chooses the layer, encodes the images, projects and clusters the
encoding, names the labels, finds each point's neighbours and the ambiguous images, and
discovers the groups inside each label; it writes nothing (the caller decides where the
result goes). :func:`point_rows` says which split and row each analysed point is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from ..data import CLASS_NAMES, Dataset
from ..encode import check_layer, default_layer, encode, encode_layers
from ..errors import OptionError
from ..models import ModelRecord, feature_info
from .cluster import DENSITY_DIMS, Clustering, dbscan, hdbscan, kmeans
from .discover import Discovery, discover
from .layers import score_layers
from .neighbours import KNN_K, all_neighbours, ambiguous_images, knn_accuracy
from .project import Projection, neighbourhood_preservation, pca, principal_components, tsne, umap
from .reference import decode_dataset
from .results import Analysis, AnalysisConfig

__all__ = ["compute_analysis", "check_analysis", "discover_groups", "discovery_layer", "point_rows", "train_points"]

#: Above this many test points, t-SNE's neighbourhood preservation is not measured (it is quadratic).
PRESERVATION_MAX_POINTS = 20000


def point_rows(n_train: int, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Which split and which row of it each of ``n_points`` analysed points is.

    The points are the first ``n_train`` training images, then the test images (the order of
    :meth:`Dataset.split`; ``n_train`` is 0 when only test images are analysed, and
    ``n_points`` when only training images are). Returns each point's split (``"train"`` or
    ``"test"``) and its row in that split.
    """
    split = np.where(np.arange(n_points) < n_train, "train", "test")
    return split, np.r_[np.arange(n_train), np.arange(n_points - n_train)]


def train_points(ds: Dataset, split: str) -> int:
    """How many of the points of ``ds.split(split)`` are training images (they come first)."""
    return {"train": len(ds.x_train), "test": 0, "all": len(ds.x_train)}[split]


def check_analysis(model: nn.Module, ds: Dataset, config: AnalysisConfig) -> None:
    """Raise OptionError when ``config`` cannot analyse ``model`` on ``ds`` (before anything is computed)."""
    if config.layer is not None:
        check_layer(model, config.layer)
    config.check(len(ds.x_test))
    if len(np.unique(ds.y_test)) < 2:
        raise OptionError(f"the test split has only one label ({ds.y_test[0]}); clustering scores need at least 2")


def compute_analysis(model: nn.Module, record: ModelRecord, ds: Dataset, config: AnalysisConfig,
                     log: Callable[[str], None]) -> Analysis:
    """Every analysis stage on the images ``config.points`` names: layer choice, encoding,
    projections, clusterings, decoding, neighbours, ambiguous images and discovery."""
    layers = score_layers(model, ds.x_train, ds.y_train, ds.x_test, ds.y_test, seed=config.seed,
                          train_sample=config.train_sample, log=log)
    layer = config.layer or layers.best
    log(f"best layer: {layers.best}; encoding from: {layer}")
    images, y, _ = ds.split(config.points)
    n_train = train_points(ds, config.points)
    test = np.arange(len(y)) >= n_train
    encodings = dict(encode_layers(model, images, [layer, "output"]))  # one pass gives both
    X = encodings[layer]
    projections = _projections(X, test, config, log)
    clusterings = _clusterings(X, y, test, config, log)
    decoding, recovery = decode_dataset(ds, seed=config.seed, log=log)
    for line in decoding.lines():
        log(line)
    row = layers.row(layer)
    neighbours = all_neighbours(X)
    ambiguous = ambiguous_images(neighbours, y)
    log(f"ambiguous images: {len(ambiguous.index)} images whose {ambiguous.k} neighbours mostly carry another label")
    known = np.where(recovery.how == "predicted", -1, recovery.classes)  # a check needs real classes, not guesses
    discovery = discover_groups(model, ds.x_test, ds.y_test, known[len(ds.x_train):], "test", config.discovery_layer,
                                config.max_groups, config.seed, log)
    return Analysis(
        config=config, model=record.name, n_train=n_train, layers=layers, layer=layer,
        default_layer=default_layer(model), labels=y,
        predicted=np.asarray(record.label_values)[encodings["output"].argmax(1)],
        classes=recovery.classes[len(ds.x_train) - n_train:], projections=projections,
        clusterings=clusterings, decoding=decoding,
        knn_acc=row.knn_acc if row is not None else _knn_of(model, ds, layer, X[test], config),
        neighbours=neighbours, ambiguous=ambiguous,
        preservation=neighbourhood_preservation(X[test], projections["tsne"].points[test])
        if test.sum() <= PRESERVATION_MAX_POINTS else None, discovery=discovery)


def _projections(X: np.ndarray, test: np.ndarray, config: AnalysisConfig,
                 log: Callable[[str], None]) -> dict[str, Projection]:
    """PCA and t-SNE fitted on the test points, the training points placed into them (and UMAP when asked)."""
    projections = [pca(X, config.seed, fit_on=test), tsne(X, config.seed, config.perplexity, fit_on=test)]
    if projections[1].params["perplexity"] != config.perplexity:
        log(f"--perplexity {config.perplexity:g} is too large for {int(test.sum())} points; t-SNE used "
            f"{projections[1].params['perplexity']:.3g}, the largest it allows")
    if config.use_umap:
        projections.append(umap(X, config.seed))
    return {p.method: p for p in projections}


def _clusterings(X: np.ndarray, y: np.ndarray, test: np.ndarray, config: AnalysisConfig,
                 log: Callable[[str], None]) -> dict[str, Clustering]:
    """K-means in the encoding; DBSCAN and HDBSCAN in its first principal components (fitted on
    the test points, the others taking their nearest test point's cluster)."""
    Z = principal_components(X, DENSITY_DIMS, config.seed, fit_on=test)
    space = f"the encoding's first {Z.shape[1]} principal components"
    clusterings = {"kmeans": kmeans(X, y, k=config.k, seed=config.seed),
                   "dbscan": dbscan(Z, y, eps=config.eps, min_samples=config.min_samples, space=space, fit_on=test,
                                    seed=config.seed),
                   "hdbscan": hdbscan(Z, y, space=space, fit_on=test)}
    for result in clusterings.values():
        s = result.scores
        log(f"{result.title}: {s['n_clusters']} clusters, {s['noise']} noise, ARI {s['ari']:.3f}, NMI {s['nmi']:.3f}, "
            f"purity {s['purity']:.3f}")
    return clusterings


def _knn_of(model: nn.Module, ds: Dataset, layer: str, X: np.ndarray, config: AnalysisConfig) -> float:
    """k-NN accuracy of ``layer`` (test encodings ``X``) for a layer the layer scores did not cover."""
    rng = np.random.default_rng(config.seed)
    pick = np.sort(rng.choice(len(ds.x_train), min(config.train_sample, len(ds.x_train)), replace=False))
    return knn_accuracy(encode(model, ds.x_train[pick], layer), ds.y_train[pick], X, ds.y_test,
                        k=min(KNN_K, len(pick)))


def discovery_layer(model: nn.Module) -> str:
    """The layer discovery reads by default, as the model declares it (its ``feature_info``)."""
    return feature_info(model).discovery


def discover_groups(model: nn.Module, images: np.ndarray, labels: np.ndarray, classes: np.ndarray | None, split: str,
                    layer: str | None, max_groups: int, seed: int, log: Callable[[str], None]) -> Discovery:
    """The groups inside each label of ``images``, found in the encoding of ``layer`` (default: the
    first pooling); ``classes`` (-1 where unknown), when given, only name and score them."""
    layer = layer or discovery_layer(model)
    log(f"discovery: looking for groups inside each label in the encoding of {layer}")
    return discover(encode(model, images, layer), labels, classes, split=split, layer=layer, max_groups=max_groups,
                    class_names=CLASS_NAMES, seed=seed, log=log)
