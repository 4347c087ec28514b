"""The report built from a small analysis made without a model: labels named as the data named them, and the
gating of a clustering too poor to show."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from twistfm.analysis import Analysis, AnalysisConfig
from twistfm.analysis.cluster import POOR_ARI, dbscan, hdbscan, kmeans
from twistfm.analysis.decode import decode_labels
from twistfm.analysis.discover import discover
from twistfm.analysis.layers import LayerScore, LayerScores
from twistfm.analysis.neighbours import all_neighbours, ambiguous_images
from twistfm.analysis.project import pca, principal_components, tsne
from twistfm.data import CLASS_NAMES
from twistfm.report import figures as F
from twistfm.report import sections
from twistfm.report.html import ModelReport, StudyReport, build_report
from twistfm.report.notebook import AnalysisResult

NAMES = {0: "cats", 1: "dogs", 2: "owls"}


def _analysis(named: bool) -> tuple[Analysis, np.ndarray]:
    """Three labels of two kinds each (six well-separated blobs), 90 training and 180 test points, and an 8 x 8
    image per point."""
    rng = np.random.default_rng(0)
    n_train = 90
    y = np.r_[rng.integers(0, 3, n_train), np.repeat([0, 1, 2], 60)].astype(np.int64)
    classes = (2 * y + rng.integers(0, 2, len(y))).astype(np.int64)
    X = (rng.normal(0, 8, (6, 12))[classes] + rng.normal(0, 0.5, (len(y), 12))).astype(np.float32)
    test = np.arange(len(y)) >= n_train
    Z = principal_components(X, 10, 0, fit_on=test)
    neighbours = all_neighbours(X)
    analysis = Analysis(
        config=AnalysisConfig(gallery_size=4), model="cm1", n_train=n_train,
        layers=LayerScores(rows=[LayerScore(layer="dense", width=12, dims=12, kmeans_ari=0.5, kmeans_nmi=0.6, knn_acc=1.0,
                                            silhouette=0.4)], best="dense"),
        layer="dense", default_layer="dense", labels=y, predicted=y, classes=classes,
        projections={"pca": pca(X, 0, fit_on=test), "tsne": tsne(X, 0, 10.0, fit_on=test, n_jobs=1)},
        clusterings={"kmeans": kmeans(X, y), "dbscan": dbscan(Z, y, min_samples=4, fit_on=test),
                     "hdbscan": hdbscan(Z, y, fit_on=test)},
        decoding=decode_labels(y, classes, names=NAMES if named else None), knn_acc=1.0, neighbours=neighbours,
        ambiguous=ambiguous_images(neighbours, y), preservation=0.5,
        discovery=discover(X[test], y[test], classes[test], class_names=CLASS_NAMES, max_groups=3))
    images = rng.integers(0, 255, (len(y), 8, 8), dtype=np.uint8)
    return analysis, images


@pytest.fixture(scope="module")
def named() -> tuple[Analysis, np.ndarray]:
    return _analysis(named=True)


def _study(analysis: Analysis, images: np.ndarray) -> StudyReport:
    figures = {name: F.png(fig) for name, fig in F.analysis_figures(analysis, images, analysis.discovery).items()}
    model = ModelReport(label="cm1", summary="", figures={},
                        metrics={"test_acc": 0.9, "test_images_per_second": 1.0, "test_inference_seconds": 1.0})
    return StudyReport(title="t", command="twistfm run", config={}, data_source="arrays", label_counts=[], val_split=0.2,
                       models=[model], comparison=[{"model": "cm1", "test_acc": 0.9}], stats=[], comparison_figure=b"",
                       analyzed="cm1", analysis=analysis, analysis_figures=figures,
                       test_images=images[analysis.test])


def _texts(figure) -> list[str]:
    """Every text a figure draws: its title, its axes' titles, texts and legends."""
    found = [figure._suptitle.get_text()] if figure._suptitle else []
    for ax in figure.axes:
        found += [ax.get_title(), *(t.get_text() for t in ax.texts)]
        if ax.get_legend():
            found += [t.get_text() for t in ax.get_legend().get_texts()]
    return found


def test_named_labels_head_the_discovery_section_and_caption_the_group_strips(named, tmp_path):
    analysis, images = named
    report = build_report(tmp_path / "report.html", _study(analysis, images)).read_text()
    inside = report[report.index('<section id="inside">'):report.index('<section id="pca">')]
    for value, name in NAMES.items():
        assert f"<td>label {value} ({name})</td>" in inside         # the table of groups per label
        assert f"label {value} ({name}), group 1:" in report      # the thumbnails beside each meaning
    assert "<td>0</td><td>" not in inside


def test_named_labels_reach_the_galleries_the_group_strips_and_the_criterion(named):
    analysis, images = named
    figures = F.analysis_figures(analysis, images, analysis.discovery)
    groups = " ".join(_texts(figures[F.GROUPS]))
    criterion = " ".join(_texts(figures[F.CRITERION]))
    by_label = _texts(figures[F.GALLERY_LABELS])
    by_cluster = _texts(figures[F.GALLERY_KMEANS])
    for value, name in NAMES.items():
        assert f"label {value} ({name}), group 1:" in groups
        assert f"label {value} ({name}):" in criterion
        assert f"label {value} ({name})" in by_label               # each row's name
        assert name in by_cluster                                  # under each image of a cluster: its label's name
    assert not any(t.startswith("label ") for t in by_cluster)


def test_unnamed_labels_keep_their_numbers():
    analysis, images = _analysis(named=False)
    figures = F.analysis_figures(analysis, images, analysis.discovery)
    assert "label 0, group 1:" in " ".join(_texts(figures[F.GROUPS]))
    assert "label 2" in _texts(figures[F.GALLERY_KMEANS])
    assert "label 1" in _texts(figures[F.GALLERY_LABELS])


def test_the_notebook_gallery_and_groups_name_the_label(named):
    analysis, images = named
    result = AnalysisResult(analysis, images, run=None)
    assert result.gallery(label=1)._suptitle.get_text() == "Label 1 (dogs): the groups found inside it"
    assert "label 2 (owls)" in result.discovery._repr_html_()


def _with_ari(analysis: Analysis, name: str, ari: float) -> Analysis:
    clustering = analysis.clusterings[name]
    changed = dataclasses.replace(clustering, scores={**clustering.scores, "ari": ari})
    return dataclasses.replace(analysis, clusterings={**analysis.clusterings, name: changed})


@pytest.mark.parametrize("name, title", [("dbscan", "DBSCAN"), ("hdbscan", "HDBSCAN"), ("kmeans", "K-means")])
def test_a_poor_clustering_is_said_to_be_poor_and_not_shown_and_a_good_one_is_shown(named, name, title):
    analysis, images = named
    good = _with_ari(analysis, name, POOR_ARI + 0.01)
    poor = _with_ari(analysis, name, POOR_ARI - 0.01)
    assert not good.clusterings[name].poor and poor.clusterings[name].poor
    for shown, study in ((True, _study(good, images)), (False, _study(poor, images))):
        text = sections.clustering(study)
        verdict = next(p for p in text.split("</p>") if f">{title} found" in p)
        assert ('class="note"' in verdict) is not shown and ("not shown as a result" in verdict) is not shown
        assert (f"<h3>{title}: clusters &times; labels</h3>" in text) is shown
        for method in ("pca", "tsne"):
            scatter = sections.pca(study) if method == "pca" else sections.tsne(study)
            assert (f"coloured by {title} cluster" in scatter) is shown
        if name == "dbscan":   # DBSCAN's k-distance curve goes with it
            assert ("The k-distance curve" in text) is shown


def test_a_report_on_images_of_unknown_classes_names_no_class_and_points_at_the_groups(named, tmp_path):
    analysis, images = named
    unknown = np.full(len(analysis.labels), -1)
    decoding = decode_labels(analysis.labels, unknown, {"unknown": len(unknown)}, names=NAMES)
    blind = dataclasses.replace(analysis, decoding=decoding)
    report = build_report(tmp_path / "report.html", _study(blind, images)).read_text()
    answer = report[report.index('<section id="summary">'):report.index('<section id="data">')]
    meaning = report[report.index('<section id="meaning">'):report.index('<section id="ambiguous">')]
    assert "Fashion-MNIST" not in answer and "the check finds" not in answer
    assert "The original classes of these images are not known" in answer
    assert f"The original class of none of the {len(unknown):,} images is known" in meaning
    assert "no class is mostly here" not in meaning
    named_report = build_report(tmp_path / "named.html", _study(analysis, images)).read_text()
    assert "Each label is named by the original Fashion-MNIST classes" in named_report
