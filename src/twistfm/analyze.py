"""The analysis of one trained run: layer choice, encoding, projections, clustering,
galleries, label decoding, neighbours and suspected label issues, all written into the run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .analysis.cluster import ClusterResult, dbscan, kmeans
from .analysis.decode import ClassRecovery, LabelDecoding, decode_labels, recover_classes
from .analysis.layers import best_layer, score_layers
from .analysis.metrics import match_to_labels
from .analysis.neighbours import knn_accuracy, label_issues, nearest_neighbours
from .analysis.project import Projection, neighbourhood_preservation, pca, tsne, umap
from .atomic import write_json, write_text
from .data import CLASS_NAMES, Dataset, load_dataset
from .encode import check_layer, default_layer, encode, encode_to_npy
from .errors import DataError, OptionError
from .models import layer_table
from .progress import say
from .runs import check_run, load_model, read_json, write_csv_rows
from .train import predict, to_input

__all__ = ["AnalysisOptions", "dataset_for_run", "encode_run", "analyze_run", "decode_dataset",
           "reference_classifier", "layer_rows", "SPLITS"]

SPLITS = ("test", "train", "all")
#: Share of images that must match Fashion-MNIST exactly before unmatched ones are classified.
MIN_MATCHED = 0.5


@dataclass(frozen=True)
class AnalysisOptions:
    """Settings of :func:`analyze_run`.

    Parameters
    ----------
    layer : str or None, default=None
        Layer to encode from; None picks the best-scoring layer.
    k : int or None, default=None
        K-means clusters; None uses the number of labels.
    eps : float or None, default=None
        DBSCAN radius; None chooses it at the knee of the k-distance curve.
    min_samples : int, default=4
    perplexity : float, default=30
    use_umap : bool, default=False
    seed : int, default=0
    gallery_size : int, default=12
        Images per row in the galleries.
    train_sample : int, default=10000
        Training images used to fit k-NN in the layer choice.
    """

    layer: str | None = None
    k: int | None = None
    eps: float | None = None
    min_samples: int = 4
    perplexity: float = 30.0
    use_umap: bool = False
    seed: int = 0
    gallery_size: int = 12
    train_sample: int = 10000


def dataset_for_run(run: Path, config: dict[str, Any] | None = None) -> Dataset:
    """The data a run was trained on (same source, same slice)."""
    config = config or check_run(run)
    ds = load_dataset(csv_dir=config.get("csv_dir"), data_dir=config.get("data_dir"))
    return ds.subset(config.get("n_train"), config.get("n_test"))


def _split_images(ds: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise OptionError(f"--split {split!r}: choose one of {', '.join(SPLITS)}")
    if split == "test":
        return ds.x_test, ds.y_test
    if split == "train":
        return ds.x_train, ds.y_train
    return np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])


def encode_run(run: str | os.PathLike, layer: str | None = None, split: str = "test") -> tuple[Path, tuple[int, int]]:
    """Encode a split of a run's data at ``layer`` (default: last hidden layer); save it in ``run/encoding``.

    Writes ``encoding/<layer>-<split>.npy`` (float32, N x d, streamed batch by batch so memory
    stays bounded) and ``encoding/labels-<split>.npy``. Returns the path and the shape.
    """
    run = Path(run)
    model, _ = load_model(run)
    layer = layer or default_layer(model)
    check_layer(model, layer)
    x, y = _split_images(dataset_for_run(run), split)
    folder = run / "encoding"
    folder.mkdir(exist_ok=True)
    path = folder / f"{layer}-{split}.npy"
    shape = encode_to_npy(model, x, layer, path)
    _save_npy(folder / f"labels-{split}.npy", y)
    return path, shape


def _save_npy(path: Path, array: np.ndarray) -> None:
    from .atomic import atomic_open

    with atomic_open(path, "wb") as handle:
        np.save(handle, array)


def reference_classifier(data_dir: str | None = None, seed: int = 0, epochs: int = 3,
                         log: Callable[[str], None] | None = say) -> Callable[[np.ndarray], np.ndarray]:
    """Train a 10-class classifier on the original Fashion-MNIST classes (for unmatched images)."""
    from .data import load_fashion_mnist
    from .train import TrainConfig, fit

    x_train, c_train, _ = load_fashion_mnist("train", data_dir)
    x_test, c_test, _ = load_fashion_mnist("test", data_dir)
    ds = Dataset(x_train, c_train, x_test, c_test, c_train, c_test, "Fashion-MNIST original classes")
    config = TrainConfig("tfm-small", optimizer="adamw", lr=3e-3, schedule="onecycle", batch_size=128,
                         epochs=epochs, val_split=0.0, augment=True, seed=seed)
    if log:
        log("training the 10-class reference classifier for images that match no Fashion-MNIST image")
    with tempfile.TemporaryDirectory() as tmp:
        model = fit(config, ds, runs_root=tmp, log=None).model

    def classify(images: np.ndarray) -> np.ndarray:
        return predict(model, to_input(images)).argmax(1).numpy().astype(np.int64)

    return classify


def decode_dataset(ds: Dataset, data_dir: str | None = None, seed: int = 0,
                   log: Callable[[str], None] | None = say) -> tuple[LabelDecoding, ClassRecovery]:
    """Recover each image's original class (train then test) and name every label of ``ds``.

    Images that match no Fashion-MNIST image are classified by a reference classifier, but
    only when at least ``MIN_MATCHED`` of the images do match: otherwise the images are not
    Fashion-MNIST and their classes stay unknown (the decoding then names no class).
    """
    recovery = recover_classes(ds, data_dir)
    unknown = recovery.classes < 0
    if unknown.any() and 1 - unknown.mean() >= MIN_MATCHED:
        recovery = recover_classes(ds, data_dir, reference_classifier(data_dir, seed, log=log))
    elif unknown.any() and log:
        log(f"{unknown.sum():,} of {len(unknown):,} images match no Fashion-MNIST image; they are not decoded")
    labels = np.concatenate([ds.y_train, ds.y_test])
    return decode_labels(labels, recovery.classes, recovery.counts()), recovery


def _groups_gallery(x, groups, other, other_name, group_name, n, rng, title):
    from .report.figures import image_grid_figure

    images, captions = [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        pick = np.sort(rng.choice(idx, min(n, len(idx)), replace=False))
        pick = np.concatenate([pick, np.full(n - len(pick), -1)])
        for i in pick:
            images.append(x[i] if i >= 0 else np.zeros((28, 28), np.uint8))
            captions.append(f"{group_name}{g} {other_name}{other[i]}" if i >= 0 else "")
    return image_grid_figure(np.stack(images), captions, title, cols=n)


def _scatter_set(figures: Path, proj: Projection, y: np.ndarray, clusterings: dict[str, ClusterResult]) -> dict[str, str]:
    from .report.figures import save_figure, scatter_figure

    label_values = np.unique(y)
    index_of = {int(v): i for i, v in enumerate(label_values)}
    names = {i: f"label {v}" for i, v in enumerate(label_values)}
    out = {}
    axis = ("PC1", "PC2") if proj.method == "pca" else ("", "")
    title = proj.method.upper() if proj.method != "tsne" else "t-SNE"
    if proj.explained_variance:
        title += f" (explained variance {proj.explained_variance[0]:.1%} + {proj.explained_variance[1]:.1%})"
    path = figures / f"{proj.method}-by-label.png"
    save_figure(scatter_figure(proj.points, np.array([index_of[int(v)] for v in y]), f"{title}, coloured by label",
                               names, *axis), path)
    out["label"] = path.name
    for name, result in clusterings.items():
        mapping = match_to_labels(result.labels_, y)
        colours = np.array([mapping[int(c)] for c in result.labels_])
        cluster_names = {mapping[c]: f"cluster {c}" for c in mapping if c >= 0}
        path = figures / f"{proj.method}-by-{name}.png"
        save_figure(scatter_figure(proj.points, colours, f"{title}, coloured by {name} cluster", cluster_names, *axis), path)
        out[name] = path.name
    return out


def analyze_run(run: str | os.PathLike, options: AnalysisOptions = AnalysisOptions(),
                log: Callable[[str], None] | None = say) -> dict[str, Any]:
    """Run the whole analysis of a trained run and write figures, tables and metrics into it.

    Returns the analysis summary (also written to ``analysis.json`` and merged into
    ``metrics.json`` under ``"analysis"``).
    """
    from .report.figures import image_grid_figure, kdistance_figure, mean_images_figure, save_figure

    run = Path(run)
    config = check_run(run)
    model, record = load_model(run)
    ds = dataset_for_run(run, config)
    rng = np.random.default_rng(options.seed)
    figures = run / "figures"
    figures.mkdir(exist_ok=True)
    log = log or (lambda _line: None)
    summary: dict[str, Any] = {"model": record["name"], "options": options.__dict__.copy()}

    # Check every option before any heavy work.
    if options.layer is not None:
        check_layer(model, options.layer)
    if options.k is not None and not 1 <= options.k <= len(ds.x_test):
        raise OptionError(f"--k {options.k}: k-means with k={options.k} needs 1 <= k <= number of points ({len(ds.x_test)})")
    if options.min_samples < 1 or (options.eps is not None and options.eps <= 0) or options.perplexity <= 0:
        raise OptionError("--min-samples must be >= 1, --eps and --perplexity positive")
    if len(np.unique(ds.y_test)) < 2:
        raise OptionError(f"the test split has only one label ({ds.y_test[0]}); clustering scores need at least 2")

    # 1-2. Which layer encodes best.
    rows = score_layers(model, ds.x_train, ds.y_train, ds.x_test, ds.y_test, seed=options.seed,
                        train_sample=options.train_sample, log=log)
    write_csv_rows(run / "layers.csv", rows)
    best = best_layer(rows)
    layer = options.layer or best
    summary.update(layers=rows, best_layer=best, layer=layer, default_layer=default_layer(model))
    log(f"best layer: {best}; encoding from: {layer}")

    # 3-4. Encode the test split, project, cluster.
    X = encode(model, ds.x_test, layer)
    y = ds.y_test
    (run / "encoding").mkdir(exist_ok=True)
    _save_npy(run / "encoding" / f"{layer}-test.npy", X)
    _save_npy(run / "encoding" / "labels-test.npy", y)
    predicted = np.asarray(record["label_values"])[predict(model, to_input(ds.x_test)).argmax(1).numpy()]
    _save_npy(run / "encoding" / "predicted-test.npy", predicted)
    km = kmeans(X, y, k=options.k, seed=options.seed)
    db = dbscan(X, y, eps=options.eps, min_samples=options.min_samples)
    clusterings = {"kmeans": km, "dbscan": db}
    for name, result in clusterings.items():
        _save_npy(run / "encoding" / f"{name}-test.npy", result.labels_)
        table_rows = [{"cluster": int(c), **{f"label {v}": int(n) for v, n in zip(result.label_values, row, strict=True)}}
                      for c, row in zip(result.cluster_ids, result.table, strict=True)]
        write_csv_rows(run / f"{name}-contingency.csv", table_rows)
        log(f"{name}: {result.scores['n_clusters']} clusters, {result.scores['noise']} noise, "
            f"ARI {result.scores['ari']:.3f}, NMI {result.scores['nmi']:.3f}, purity {result.scores['purity']:.3f}")
    if "k_distances" in db.params:
        save_figure(kdistance_figure(db.params.pop("k_distances"), db.params["eps"], options.min_samples),
                    figures / "dbscan-kdistance.png")
        log(f"dbscan eps chosen at the k-distance knee: {db.params['eps']:.4g}")
    summary["clustering"] = {n: {"params": r.params, **r.scores, "table": r.table.tolist(),
                                 "cluster_ids": r.cluster_ids.tolist(), "label_values": r.label_values.tolist()}
                             for n, r in clusterings.items()}

    projections = [pca(X, options.seed), tsne(X, options.seed, options.perplexity)]
    if options.use_umap:
        projections.append(umap(X, options.seed))
    summary["projections"] = {}
    for proj in projections:
        _save_npy(run / "encoding" / f"{proj.method}-test.npy", proj.points)
        files = _scatter_set(figures, proj, y, clusterings)
        summary["projections"][proj.method] = {"params": proj.params, "explained_variance": proj.explained_variance,
                                               "figures": files}
    summary["projections"]["tsne"]["neighbourhood_preservation_10"] = neighbourhood_preservation(
        X, projections[1].points) if len(X) <= 20000 else None
    if projections[0].explained_variance:
        ev = projections[0].explained_variance
        log(f"PCA explained variance: {ev[0]:.1%} + {ev[1]:.1%}")

    # 5. Galleries.
    n = options.gallery_size
    save_figure(_groups_gallery(ds.x_test, y, km.labels_, "k", "L", n, rng,
                                "Random test images per label (caption: label, K-means cluster)"),
                figures / "gallery-labels.png")
    save_figure(_groups_gallery(ds.x_test, km.labels_, y, "L", "k", n, rng,
                                "Random test images per K-means cluster (caption: cluster, label)"),
                figures / "gallery-kmeans.png")
    means = np.stack([ds.x_test[km.labels_ == c].mean(axis=0) for c in np.unique(km.labels_)])
    save_figure(mean_images_figure(means, [f"cluster {c}" for c in np.unique(km.labels_)], "Mean image per K-means cluster"),
                figures / "kmeans-means.png")

    # 6. Naming the labels.
    try:
        decoding, recovery = decode_dataset(ds, config.get("data_dir"), options.seed, log)
    except DataError as exc:  # a user's CSV with no Fashion-MNIST archives to match against
        log(f"labels not decoded: {exc}")
        unknown = np.full(len(ds.y_train) + len(ds.y_test), -1)
        decoding = decode_labels(np.concatenate([ds.y_train, ds.y_test]), unknown, {"no archives to match": len(unknown)})
        recovery = ClassRecovery(unknown, np.full(len(unknown), "unknown"))
    _save_npy(run / "encoding" / "classes-test.npy", recovery.classes[len(ds.x_train):])
    save_figure(_decoding_figure(decoding), figures / "decoding.png")
    summary["decoding"] = {"meaning": decoding.as_json(), "lines": decoding.lines(), "table": decoding.table.tolist(),
                           "shares": {str(k): v for k, v in decoding.shares.items()}, "recovery": decoding.recovery}
    for line in decoding.lines():
        log(line)

    # 7. Beyond the seeds.
    pick = np.sort(rng.choice(len(ds.x_train), min(options.train_sample, len(ds.x_train)), replace=False))
    train_enc = encode(model, ds.x_train[pick], layer)
    summary["knn5_acc"] = knn_accuracy(train_enc, ds.y_train[pick], X, y, k=min(5, len(pick)))
    log(f"5-NN accuracy on the {layer} encoding: {summary['knn5_acc']:.4f}")
    queries = np.sort(rng.choice(len(X), min(6, len(X)), replace=False))
    neighbours = nearest_neighbours(X, queries, k=min(9, len(X) - 1))
    images = np.concatenate([[ds.x_test[q], *ds.x_test[nb]] for q, nb in zip(queries, neighbours, strict=True)])
    captions = [c for q, nb in zip(queries, neighbours, strict=True)
                for c in [f"query L{y[q]}", *[f"L{y[j]}" for j in nb]]]
    save_figure(image_grid_figure(images, captions, "Nearest neighbours in the encoding (first column: query)",
                                  cols=neighbours.shape[1] + 1), figures / "retrieval.png")
    issues = label_issues(X, y, k=min(10, len(X) - 1))
    write_csv_rows(run / "label-issues.csv", [
        {"test_index": int(i), "given": int(g), "neighbour_majority": int(m), "disagreement": round(float(d), 3)}
        for i, g, m, d in zip(issues.index, issues.given, issues.majority, issues.disagreement, strict=True)])
    top = issues.index[:30]
    if len(top):
        save_figure(image_grid_figure(ds.x_test[top], [f"given {g} / nbrs {m}" for g, m in
                                                        zip(issues.given[:30], issues.majority[:30], strict=True)],
                                      "Suspected label issues (most disagreeing neighbourhoods first)"),
                    figures / "label-issues.png")
    summary["label_issues"] = {"count": int(len(issues.index)), "k": 10, "min_disagreement": 0.7,
                               "top": issues.index[:30].tolist()}
    log(f"suspected label issues: {len(issues.index)} test images whose 10 neighbours mostly disagree")

    write_json(run / "analysis.json", summary)
    metrics = read_json(run / "metrics.json")
    metrics["analysis"] = {"best_layer": best, "layer": layer, "knn5_acc": summary["knn5_acc"],
                           **{f"{n}_{k}": v for n, r in clusterings.items() for k, v in r.scores.items()},
                           "decoding": decoding.as_json()}
    write_json(run / "metrics.json", metrics)
    write_text(run / "decoding.txt", "\n".join(decoding.lines()) + "\n")
    return summary


def _decoding_figure(decoding: LabelDecoding):
    from .report.figures import confusion_figure

    return confusion_figure(decoding.table, [f"label {v}" for v in decoding.label_values],
                            "Original classes behind each label (rows: label)", "original class", "mystery label",
                            xticklabels=list(CLASS_NAMES))


def layer_rows(model) -> list[dict[str, Any]]:
    """Layers with output shapes and parameters, for ``twistfm layers``."""
    return [{"layer": r.name, "type": r.kind, "output_shape": r.output_shape, "parameters": r.params}
            for r in layer_table(model)]

