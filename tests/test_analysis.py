"""Encoding and analysis: layers, clustering scores, projections, decoding, neighbours, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import assert_one_line_error, make_dataset, needs_real_data, run_cli, write_csv_dir
from twistfm.analysis import AnalysisConfig
from twistfm.analysis.cluster import dbscan, kmeans, knee_eps
from twistfm.analysis.decode import decode_labels, match_pixels, recover_classes
from twistfm.analysis.knn import exact_neighbours
from twistfm.analysis.layers import LayerScore, best_layer, score_layers
from twistfm.analysis.metrics import cluster_scores, match_to_labels, purity
from twistfm.analysis.neighbours import all_neighbours, ambiguous_images, knn_accuracy, nearest_neighbours
from twistfm.analysis.project import neighbourhood_preservation, pca, tsne
from twistfm.data import CLASS_NAMES, load_fashion_mnist, load_original
from twistfm.encode import candidate_layers, default_layer, encode
from twistfm.errors import OptionError
from twistfm.models import create_model
from twistfm.runs import RunDir
from twistfm.train import TrainConfig, fit
from twistfm.workflows import load_analysis


def _blobs(n=300, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.normal(0, 10, (k, 5))
    return (centres[y] + rng.normal(0, 0.5, (n, 5))).astype(np.float32), y


def test_encode_shapes_and_names():
    model = create_model("model-a", 5)
    x = np.zeros((7, 28, 28), np.uint8)
    assert encode(model, x, "dense2", batch_size=3).shape == (7, 32)
    assert encode(model, x, "pool1").shape == (7, 32 * 13 * 13)
    assert default_layer(model) == "dense2"
    assert candidate_layers(model) == ["pool1", "flatten", "dense1", "dense2"]
    with pytest.raises(OptionError, match="valid layers: conv1, pool1"):
        encode(model, x, "dense9")


def test_cluster_scores_on_separable_blobs():
    X, y = _blobs()
    km = kmeans(X, y, seed=0)
    assert km.scores["ari"] == pytest.approx(1.0)
    assert km.scores["purity"] == pytest.approx(1.0)
    assert km.table.sum() == len(y)
    db = dbscan(X, y, min_samples=4)
    assert db.params["eps"] > 0 and db.scores["n_clusters"] == len(np.unique(y))
    assert db.scores["ari"] > 0.95
    # Every cluster is matched to the one label its points carry, and every label gets a cluster.
    matched = {cluster: label for cluster, label in db.matched.items() if cluster != "-1"}  # -1: noise
    assert sorted(matched.values()) == sorted(np.unique(y).tolist())
    for cluster, label in matched.items():
        members = y[db.labels_ == int(cluster)]
        assert len(members) and (members == label).mean() > 0.95, (cluster, label)


@pytest.mark.parametrize("kw, fragment", [
    ({"k": 400}, "--k 400"), ({"k": 0}, "--k 0"), ({"eps": float("nan")}, "--eps"), ({"eps": -1.0}, "--eps"),
    ({"min_samples": 0}, "--min-samples"), ({"min_samples": 100000}, "--min-samples"),
    ({"perplexity": float("inf")}, "--perplexity"), ({"seed": -1}, "--seed"),
])
def test_analysis_options_are_checked_once_at_the_entry(kw, fragment):
    with pytest.raises(OptionError, match=fragment):
        AnalysisConfig(**kw).check(300)


def test_scores_and_matching_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2])
    clusters = np.array([5, 5, 7, 7, 7, -1])
    assert purity(labels, clusters) == pytest.approx(5 / 6)
    scores = cluster_scores(labels, clusters)
    assert scores["noise"] == 1 and scores["n_clusters"] == 2
    assert match_to_labels(clusters, labels) == {5: 0, 7: 1, -1: -1}


def test_knee_of_a_hockey_stick():
    d = np.concatenate([np.linspace(1, 1.2, 90), np.linspace(2, 10, 10)])
    assert 1.1 < knee_eps(d) <= 2.0


def test_projections():
    X, y = _blobs(400)
    p = pca(X)
    assert p.points.shape == (400, 2)
    singular = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    np.testing.assert_allclose(p.explained_variance, (singular**2 / (singular**2).sum())[:2], rtol=1e-4)
    t = tsne(X, seed=1)
    assert t.points.shape == (400, 2)
    assert np.array_equal(t.points, tsne(X, seed=1).points), "same seed, same t-SNE"
    assert neighbourhood_preservation(X, t.points) > 0.3


@pytest.mark.parametrize("n", [50, 2500])  # one block, and several blocks with a short last one
def test_exact_neighbours_match_scikit_learn(n):
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    X = rng.normal(5.0, 1.0, (n, 20))  # far from the origin: the float32 products must not lose the near ones
    X[1] = X[0]  # a duplicate: each is the other's nearest, neither its own
    k = min(30, n - 1)
    theirs_d, theirs_i = NearestNeighbors().fit(X).kneighbors(n_neighbors=k)
    ours_i, ours_d = exact_neighbours(X, k, block=1024)
    assert ours_i.shape == ours_d.shape == (n, k) and ours_d.dtype == np.float64
    assert not (ours_i == np.arange(n)[:, None]).any(), "a point is never its own neighbour"
    assert ours_i[0, 0] == 1 and ours_i[1, 0] == 0
    assert np.all(np.diff(ours_d, axis=1) >= 0), "nearest first"
    np.testing.assert_allclose(ours_d, theirs_d, rtol=1e-4, atol=1e-4)
    assert np.mean([len(np.intersect1d(a, b)) for a, b in zip(ours_i, theirs_i, strict=True)]) / k > 0.999
    Q = rng.normal(5.0, 1.0, (40, 20))
    theirs_d, theirs_i = NearestNeighbors().fit(X).kneighbors(Q, n_neighbors=k)
    ours_i, ours_d = exact_neighbours(X, k, query=Q)
    np.testing.assert_allclose(ours_d, theirs_d, rtol=1e-4, atol=1e-4)
    assert np.array_equal(ours_i[:, 0], theirs_i[:, 0])
    assert exact_neighbours(X, k, query=Q[:0])[0].shape == (0, k)
    with pytest.raises(ValueError, match=f"k={n}, but {n} points give 1 to {n - 1} neighbours"):
        exact_neighbours(X, n)
    with pytest.raises(ValueError, match="query holds values that are not finite"):
        exact_neighbours(X, k, query=np.where(Q == Q[0, 0], np.nan, Q))


def test_tsne_neighbour_search_options():
    X, _ = _blobs(300)
    threads = torch.get_num_threads()
    fast, slow = tsne(X, seed=0, knn="matmul", n_jobs=1), tsne(X, seed=0, knn="sklearn")
    assert fast.params["knn"] == "matmul" and slow.params["knn"] == "sklearn" and fast.params["momentum"] == 0.92
    assert torch.get_num_threads() == threads, "the search's thread count is put back"
    assert neighbourhood_preservation(X, fast.points) > 0.3
    with pytest.raises(OptionError, match="knn='faiss' is not known"):
        tsne(X, knn="faiss")


def test_neighbours_and_ambiguous_images():
    X, y = _blobs(300)
    assert knn_accuracy(X[:200], y[:200], X[200:], y[200:]) == 1.0
    flipped = y.copy()
    flipped[:5] = (y[:5] + 1) % 3
    ambiguous = ambiguous_images(all_neighbours(X), flipped, k=10)
    assert set(range(5)) <= set(ambiguous.index[:5].tolist())
    assert (ambiguous.majority[:5] == y[ambiguous.index[:5]]).all()
    nb, dist = nearest_neighbours(X, np.array([0, 1]), k=4)
    assert nb.shape == (2, 4) and 0 not in nb[0] and 1 not in nb[1]
    assert (np.diff(dist, axis=1) >= 0).all()
    twins = np.concatenate([X[:1], X[:1], X[1:20]])  # an exact duplicate is a neighbour, never the query itself
    nb, dist = nearest_neighbours(twins, np.array([0]), k=3)
    assert nb[0, 0] == 1 and dist[0, 0] == 0 and 0 not in nb[0]


@pytest.mark.parametrize("seed", range(5))
def test_decode_random_groupings_exactly(seed):
    rng = np.random.default_rng(seed)
    n_labels = int(rng.integers(2, 8))
    grouping = rng.integers(0, n_labels, 10)
    grouping[:n_labels] = np.arange(n_labels)  # every label used
    rng.shuffle(grouping)
    values = rng.choice(100, n_labels, replace=False) - 20  # arbitrary label values
    classes = rng.integers(0, 10, 3000)
    labels = values[grouping[classes]]
    decoding = decode_labels(labels, classes)
    expected = {str(values[g]): sorted(CLASS_NAMES[c] for c in range(10) if grouping[c] == g) for g in range(n_labels)}
    assert decoding.as_json() == expected
    assert all("100%" in line for line in decoding.lines())


def test_decode_noisy_labels_use_the_majority():
    classes = np.repeat(np.arange(10), 100)
    labels = classes % 2
    labels[:30] = 1  # 30% of T-shirts mislabelled: still mostly label 0
    decoding = decode_labels(labels, classes)
    assert "T-shirt/top" in decoding.as_json()["0"]
    assert decoding.labels[0].shares["T-shirt/top"] == pytest.approx(0.7)


def test_match_pixels():
    ref = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    images = np.concatenate([ref[[3, 7]], np.zeros((1, 28, 28), np.uint8)])
    assert match_pixels(images, ref, np.arange(20) % 10).tolist() == [3, 7, -1]


@needs_real_data
@pytest.mark.realdata
def test_recover_classes_by_pixel_match_and_reference_classifier():
    x, c, _ = load_fashion_mnist("test")
    x_new = x[:50].copy()
    x_new[:3] = 255 - x_new[:3]  # not in Fashion-MNIST: needs the reference classifier
    ds = make_dataset(x_new[:40], c[:40] % 2, x_new[40:], c[40:50] % 2)
    recovery = recover_classes(ds, load_original(), reference_classifier=lambda images: np.full(len(images), 9))
    assert recovery.counts() == {"pixel match": 47, "predicted": 3}
    assert (recovery.classes[3:] == c[3:50]).all() and (recovery.classes[:3] == 9).all()


@needs_real_data
@pytest.mark.realdata
@pytest.mark.parametrize("seed", range(3))
def test_cli_decode_json_random_groupings(tmp_path, seed):
    rng = np.random.default_rng(100 + seed)
    n_labels = int(rng.integers(2, 10))
    grouping = rng.permutation(np.concatenate([np.arange(n_labels), rng.integers(0, n_labels, 10 - n_labels)]))
    x_tr, c_tr, _ = load_fashion_mnist("train")
    x_te, c_te, _ = load_fashion_mnist("test")
    pick_tr, pick_te = rng.choice(60000, 1500, replace=False), rng.choice(10000, 500, replace=False)
    ds = make_dataset(x_tr[pick_tr], grouping[c_tr[pick_tr]], x_te[pick_te], grouping[c_te[pick_te]])
    folder = write_csv_dir(tmp_path / "csv", ds)
    result = run_cli("decode", "--csv-dir", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    expected = {str(g): sorted(CLASS_NAMES[c] for c in range(10) if grouping[c] == g) for g in range(n_labels)}
    assert answer == expected


@pytest.mark.slow
def test_cli_layers_encode_analyze(tmp_path, tiny_csv_dir):
    result = run_cli("train", "tfm-small", "--csv-dir", str(tiny_csv_dir), "--epochs", "2", "--runs", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    run = next((tmp_path / "r").iterdir())
    layers = run_cli("layers", str(run))
    assert "dense1" in layers.stdout and "(64,)" in layers.stdout
    enc = run_cli("encode", str(run), "--layer", "pool2", "--split", "all")
    assert enc.returncode == 0, enc.stderr
    X = np.load(run / "encoding" / "pool2-all.npy")
    assert X.shape == (800, 32 * 7 * 7) and X.dtype == np.float32
    assert_one_line_error(run_cli("encode", str(run), "--layer", "nope"), "no layer 'nope'", "dense1")
    assert_one_line_error(run_cli("encode", str(run), "--split", "val"), "--split 'val'")
    assert_one_line_error(run_cli("analyze", str(run), "--k", "5000"), "k=5000")
    result = run_cli("analyze", str(run), "--eps", "3.0")
    assert result.returncode == 0, result.stderr
    summary = json.loads((run / "analysis" / "analysis.json").read_text())
    assert summary["layers"]["best"] in [r["layer"] for r in summary["layers"]["rows"]]
    assert summary["clusterings"]["dbscan"]["params"]["eps"] == 3.0
    analysis = load_analysis(run)
    assert analysis.clusterings["dbscan"].params["eps"] == 3.0
    assert analysis.labels.shape == (800,) and analysis.labels[analysis.test].shape == (200,)  # every image
    assert analysis.projections["tsne"].points.shape == (800, 2)
    for fig in ("pca-by-label", "pca-by-kmeans", "pca-by-dbscan", "tsne-by-label", "tsne-by-kmeans", "gallery-labels",
                "gallery-kmeans", "kmeans-means", "retrieval", "decoding"):
        assert (run / "analysis" / "figures" / f"{fig}.png").stat().st_size > 2000, fig
    for table in ("layers.csv", "kmeans-contingency.csv", "dbscan-contingency.csv", "ambiguous.csv", "decoding.txt"):
        assert (run / "analysis" / table).is_file()


def _row(layer, nmi, ari):
    return LayerScore(layer=layer, width=8, dims=8, kmeans_ari=ari, kmeans_nmi=nmi, knn_acc=0.5, silhouette=None)


def test_best_layer_is_the_highest_nmi_then_ari_then_the_later():
    assert best_layer([_row("a", 0.2, 0.1), _row("b", 0.9, 0.1), _row("c", 0.5, 0.9)]) == "b"
    assert best_layer([_row("a", 0.9, 0.3), _row("b", 0.9, 0.2)]) == "a"
    assert best_layer([_row("a", 0.9, 0.3), _row("b", 0.9, 0.3)]) == "b"


def test_layer_scores_on_a_trained_model(tiny_dataset, tmp_path):
    model = fit(TrainConfig(model="model-a", epochs=3, lr=2e-3), tiny_dataset, RunDir.create("a", tmp_path),
                log=None).model
    scores = score_layers(model, tiny_dataset.x_train, tiny_dataset.y_train, tiny_dataset.x_test, tiny_dataset.y_test,
                          train_sample=300)
    assert [r.layer for r in scores.rows] == ["pool1", "flatten", "dense1", "dense2"]
    assert scores.rows[0].dims == 64 and scores.rows[0].width == 5408  # scored on 64 principal components
    assert scores.rows[3].dims == 32
    assert scores.best == best_layer(scores.rows)
    # The trained dense layers separate the three labels of this easy data almost perfectly.
    assert scores.row("dense2").knn_acc > 0.9 and scores.row("dense2").kmeans_nmi > 0.5
