"""The public API (twistfm.*): every name, in memory, on small synthetic data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import twistfm
from conftest import assert_cli_error, cli, split_dataset, synthetic_images, write_csv_dir
from twistfm.errors import DataError, OptionError, RunError
from twistfm.runs import HISTORY_FIELDS
from twistfm.schema import split_arrays


def _arrays(n_train: int = 600, n_test: int = 200, labels: int = 3):
    x, y = synthetic_images(n_train, labels, seed=1)
    xt, yt = synthetic_images(n_test, labels, seed=2)
    return x, y, xt, yt


def _no_dump(page: str) -> None:
    """A display is a short table and pictures, never a dump of arrays."""
    assert "<table" in page
    assert "array(" not in page and "[[" not in page and "dtype" not in page


@pytest.fixture(scope="module")
def memory_run():
    """cm1 trained in memory for one epoch; the temporary-folder root points at an empty folder meanwhile."""
    with tempfile.TemporaryDirectory() as scratch:
        old = tempfile.tempdir
        tempfile.tempdir = scratch
        try:
            run = twistfm.train("cm1", twistfm.Dataset.from_arrays(*_arrays()), epochs=1, batch_size=64)
        finally:
            tempfile.tempdir = old
        written = {p.name for p in Path(scratch).rglob("*")}
        assert not written & {"config.json", "history.csv", "metrics.json", "model.safetensors", "checkpoint.json"}
    return run


@pytest.fixture(scope="module")
def memory_analysis(memory_run):
    """The analysis of ``memory_run``, computed in an empty working folder that it leaves empty."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            analysis = twistfm.analyse(memory_run)
        finally:
            os.chdir(here)
        assert os.listdir(scratch) == []
    return analysis


# ------------------------------------------------------------------ import


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "svg"}  # a backend that 'Agg' would visibly replace
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_import_is_light():
    result = _python("import sys, twistfm\n"
                     "heavy = [m for m in ('torch', 'matplotlib', 'pandas', 'sklearn', 'bokeh', 'PIL') if m in sys.modules]\n"
                     "print(heavy)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_importing_twistfm_and_its_modules_changes_no_matplotlib_state():
    result = _python("import matplotlib\n"
                     "backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)\n"
                     "import twistfm, twistfm.workflows, twistfm.report.notebook\n"
                     "changed = sorted(k for k in rc if matplotlib.rcParams[k] != rc[k])\n"
                     "print(backend, matplotlib.get_backend(), changed)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["svg", "svg", "[]"], result.stdout


def test_train_and_encode_stay_functions_when_their_submodules_load():
    import twistfm.encode
    import twistfm.train  # noqa: F401
    from twistfm.train import fit

    assert callable(fit) and twistfm.train.__module__ == "twistfm.api" and twistfm.encode.__module__ == "twistfm.api"
    assert sys.modules["twistfm.train"].fit is fit


def test_public_names():
    assert set(twistfm.__all__) >= {"load_dataset", "Dataset", "train", "encode", "analyse", "run_study", "open_run",
                                    "rebuild_report", "Run", "Encoding", "AnalysisResult", "Groups", "Explorer", "Study"}
    for name in twistfm.__all__:
        assert getattr(twistfm, name) is not None
    with pytest.raises(AttributeError):
        twistfm.no_such_name  # noqa: B018


# ------------------------------------------------------------------ data


def test_from_arrays_keeps_the_arrays_and_takes_lossless_integers():
    x, y, xt, yt = _arrays(50, 20)
    data = twistfm.Dataset.from_arrays(x.astype(np.int64), y.astype(np.int32), xt, yt)
    assert data.x_train.dtype == np.uint8 and np.array_equal(data.x_train, x)
    assert data.y_train.dtype == np.int64 and np.array_equal(data.y_train, y) and np.array_equal(data.y_test, yt)
    assert data.csv_dir is None and data.data_dir is None and data.num_labels == 3


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda a: {**a, "x_train": a["x_train"] / 255.0}, "x_train: dtype float64; images must be uint8"),
    (lambda a: {**a, "x_test": a["x_test"].reshape(-1, 784)}, "x_test: shape (20, 784); images must be N x H x W (grey)"),
    (lambda a: {**a, "x_train": a["x_train"][:, :27]}, "x_train holds 27 x 28 grey images but x_test 28 x 28 grey"),
    (lambda a: {**a, "x_train": a["x_train"].astype(np.int16) * 2}, "x_train: values 0..460; grey levels must lie in"),
    (lambda a: {**a, "x_train": a["x_train"].tolist()}, "x_train: expected a NumPy array of images, got list"),
    (lambda a: {**a, "y_train": a["y_train"][:-1]}, "y_train: 49 labels for 50 images in x_train"),
    (lambda a: {**a, "y_test": np.r_[a["y_test"], 0]}, "y_test: 21 labels for 20 images in x_test"),
    (lambda a: {**a, "y_test": a["y_test"].astype(float)}, "y_test: dtype float64; labels must be integers"),
    (lambda a: {**a, "y_test": a["y_test"].reshape(-1, 1)}, "y_test: shape (20, 1); labels must be one integer"),
    (lambda a: {**a, "y_train": np.zeros(50, np.int64)}, "y_train: only 1 distinct label"),
])
def test_from_arrays_refuses_bad_arrays_with_one_line(change, fragment):
    x, y, xt, yt = _arrays(50, 20)
    arrays = change({"x_train": x, "y_train": y, "x_test": xt, "y_test": yt})
    with pytest.raises(DataError) as info:
        twistfm.Dataset.from_arrays(**arrays)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_load_dataset_takes_the_first_images_of_a_csv_folder(tmp_path):
    folder = write_csv_dir(tmp_path / "csv", split_dataset(*synthetic_images(120, 3, seed=4), 80))
    data = twistfm.load_dataset(n_train=30, n_test=10, csv_dir=folder)
    whole = twistfm.load_dataset(csv_dir=folder)
    assert (len(data.x_train), len(data.x_test)) == (30, 10) and (len(whole.x_train), len(whole.x_test)) == (80, 40)
    assert np.array_equal(data.x_train, whole.x_train[:30]) and data.csv_dir == whole.csv_dir


# ------------------------------------------------------------------ training


def test_train_in_memory(memory_run):
    run = memory_run
    assert isinstance(run, twistfm.Run) and run.path is None
    assert list(run.history.columns) == list(HISTORY_FIELDS) and list(run.history["epoch"]) == [1]
    assert run.test_accuracy == pytest.approx(run.metrics["test_acc"]) and run.test_accuracy > 0.9
    assert run.config.epochs == 1 and run.config.batch_size == 64
    fig = run.plot_history()
    assert isinstance(fig, Figure) and [ax.get_ylabel() for ax in fig.axes] == ["cross-entropy loss", "accuracy"]
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert "\n" not in repr(run) and "cm1" in repr(run) and "in memory" in repr(run)
    page = run._repr_html_()
    _no_dump(page)
    assert "data:image/png;base64," in page


def test_train_starts_from_a_recipe_and_refuses_unknown_settings():
    data = twistfm.Dataset.from_arrays(*_arrays(120, 40))
    run = twistfm.train("model-a", data, recipe="seed-cm1-sgd", epochs=1, lr=0.02)
    assert (run.config.model, run.config.optimizer, run.config.momentum, run.config.lr) == ("model-a", "sgd", 0.9, 0.02)
    with pytest.raises(OptionError, match="unknown setting 'epoch'"):
        twistfm.train("cm1", data, epoch=1)
    with pytest.raises(OptionError, match="unknown recipe"):
        twistfm.train("cm1", data, recipe="seed-nothing")


def test_library_calls_print_only_when_asked(capfd):
    data = twistfm.Dataset.from_arrays(*_arrays(120, 40))
    twistfm.train("cm1", data, epochs=1)
    assert capfd.readouterr() == ("", "")
    lines: list[str] = []
    twistfm.train("cm1", data, epochs=2, log=lines.append)
    assert [line.split()[:2] for line in lines[1:]] == [["epoch", "1/2"], ["epoch", "2/2"]]
    assert lines[0].startswith("precision: ")  # said once, with the first epoch
    assert capfd.readouterr() == ("", "")
    twistfm.train("cm1", data, epochs=1, verbose=True)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.startswith("precision: ") and "\nepoch 1/1" in captured.err


def test_train_into_a_folder_and_open_it_again(tmp_path):
    folder = write_csv_dir(tmp_path / "csv", split_dataset(*synthetic_images(300, 3, seed=5), 200))
    data = twistfm.load_dataset(n_train=150, csv_dir=folder)
    run = twistfm.train("cm1", data, epochs=1, runs_root=tmp_path / "runs")
    assert run.path is not None and run.path.parent == tmp_path / "runs" and (run.path / "model.safetensors").is_file()
    config = json.loads((run.path / "config.json").read_text())
    assert (config["data"]["n_train"], config["data"]["n_test"]) == (150, 100)
    opened = twistfm.open_run(run.path)
    assert type(opened) is type(run) and opened.path == run.path
    assert opened.test_accuracy == pytest.approx(run.test_accuracy)
    assert opened.history.equals(run.history) and opened.config == run.config
    assert np.array_equal(opened.data.x_train, data.x_train) and np.array_equal(opened.data.y_test, data.y_test)
    with pytest.raises(RunError, match="run folder not found"):
        twistfm.open_run(tmp_path / "nothing")


def test_data_that_is_not_the_start_of_its_folder_is_refused(tmp_path):
    folder = write_csv_dir(tmp_path / "csv", split_dataset(*synthetic_images(120, 3, seed=4), 80))
    whole = twistfm.load_dataset(csv_dir=folder)
    shifted = twistfm.Dataset(x_train=whole.x_train[1:], y_train=whole.y_train[1:], x_test=whole.x_test,
                              y_test=whole.y_test, csv_dir=whole.csv_dir)
    with pytest.raises(OptionError, match="not the first 79 training and 40 test images"):
        twistfm.train("cm1", shifted, epochs=1, runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------ encoding and analysis


def test_encode(memory_run):
    enc = twistfm.encode(memory_run, layer="pool1", split="test")
    assert enc.values.shape == (200, 14 * 14 * 32) and enc.values.dtype == np.float32
    assert enc.layer == "pool1" and np.array_equal(enc.labels, memory_run.data.y_test)
    assert (enc.values >= 0).all() and enc.values.std() > 0  # a max-pool of ReLUs, not zeros
    train = twistfm.encode(memory_run, split="train")
    assert train.layer == "flatten" and train.values.shape == (600, 14 * 14 * 32)
    assert "\n" not in repr(enc) and "pool1" in repr(enc)
    _no_dump(enc._repr_html_())
    with pytest.raises(OptionError, match="no layer 'dense9'"):
        twistfm.encode(memory_run, layer="dense9")
    with pytest.raises(OptionError, match="--split 'val'"):
        twistfm.encode(memory_run, split="val")


def test_analyse_in_memory(memory_run, memory_analysis):
    a = memory_analysis
    assert a.run is memory_run and len(a.images) == 800 and a.analysis.model == "cm1"
    assert set(a.analysis.projections) == {"pca", "tsne"} and set(a.analysis.clusterings) == {"kmeans", "dbscan", "hdbscan"}
    assert list(a.scores["clustering"]) == ["K-means", "DBSCAN", "HDBSCAN"]
    assert "\n" not in repr(a)
    page = a._repr_html_()
    _no_dump(page)
    assert "what each label means" in page and page.count("data:image/png;base64,") == a.discovery.kinds
    with pytest.raises(OptionError, match="unknown option 'points_'"):
        twistfm.analyse(memory_run, points_="test")
    with pytest.raises(OptionError, match="no layer 'dense9'"):
        twistfm.analyse(memory_run, layer="dense9")


@pytest.mark.parametrize("projection", ["pca", "tsne"])
@pytest.mark.parametrize("color", ["label", "kmeans", "dbscan", "hdbscan", "group", "predicted", "correct"])
def test_plot(memory_analysis, projection, color):
    a = memory_analysis.analysis
    fig = memory_analysis.plot(projection, color=color)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == len(a.labels) - a.n_train  # the test images, each once
    counts = [int(t.get_text().rsplit("(", 1)[1].rstrip(")").replace(",", "")) for t in ax.get_legend().get_texts()]
    assert sum(counts) == len(points)
    if color == "label":
        assert [t.get_text().split(" (")[0] for t in ax.get_legend().get_texts()] == ["label 0", "label 1", "label 2"]
        assert sorted(counts) == sorted(np.bincount(a.labels[a.test]))


def test_plot_refuses_what_the_analysis_lacks(memory_analysis):
    with pytest.raises(OptionError, match="cannot colour by 'class' \\(no image's class is known\\)"):
        memory_analysis.plot("pca", color="class")
    with pytest.raises(OptionError, match="no projection 'umap'"):
        memory_analysis.plot("umap")


def test_gallery_and_discovery(memory_analysis):
    groups = memory_analysis.discovery
    assert isinstance(groups, twistfm.Groups) and groups.layer == "pool1" and groups.split == "test"
    assert [lg.label for lg in groups.per_label] == [0, 1, 2]
    assert set(groups.as_json()) == {"0", "1", "2"}
    assert len(groups.images) == 200 and "\n" not in repr(groups)
    _no_dump(groups._repr_html_())
    for lg in groups.per_label:
        fig = memory_analysis.gallery(label=lg.label, per_row=6)
        assert isinstance(fig, Figure)
        shown = [ax for ax in fig.axes if ax.images]
        assert len(shown) == sum(min(6, len(g.typical) + len(g.borderline)) for g in lg.groups)
        first = shown[0].images[0].get_array()
        assert np.array_equal(first, groups.images[lg.groups[0].typical[0]])
    with pytest.raises(OptionError, match="no label 7; the labels are 0, 1, 2"):
        memory_analysis.gallery(label=7)


def test_explore_is_the_reports_explorer_in_an_iframe(memory_analysis):
    explorer = memory_analysis.explore(height=700)
    page = explorer._repr_html_()
    assert page.startswith("<iframe srcdoc=") and "height:700px" in page
    assert 'id="twistfm-explorer"' in explorer.page and "Bokeh" in explorer.page
    assert "&lt;script" in page and "<script" not in page  # the page sits inside the attribute, escaped
    assert "\n" not in repr(explorer)


# ------------------------------------------------------------------ the study and the report


def test_study_from_python_records_the_equivalent_command_and_the_report_rebuilds(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"])
    folder = write_csv_dir(tmp_path / "csv", split_dataset(*synthetic_images(500, 3, seed=6), 350))
    data = twistfm.load_dataset(n_train=300, csv_dir=folder)
    study = twistfm.run_study("quick", data=data, epochs=1, runs_root=tmp_path / "runs")
    expected = f"twistfm run --preset quick --epochs 1 --n-train 300 --csv-dir {folder} --runs {tmp_path / 'runs'}"
    assert study.command == expected
    page = study.report_path.read_text()
    assert expected in page and "kernel-1.json" not in page
    assert list(study.comparison["model"]) == ["cm1", "tfm-small"] and len(study.meaning) == 3
    assert "\n" not in repr(study)
    _no_dump(study._repr_html_())
    study.report_path.unlink()
    assert twistfm.rebuild_report(study.path) == study.report_path
    rebuilt = study.report_path.read_text()
    # The recorded counts are the ones used: the rebuilt command names both.
    assert expected.replace("--n-train 300", "--n-train 300 --n-test 150") in rebuilt
    assert "rebuilt from the study folder" in rebuilt
    for section in ("The answer", "Training curves", "Results", "PCA", "Explore every image", "How to repeat"):
        assert f">{section}" in rebuilt, section


def test_run_study_refuses_arrays_in_memory(tmp_path):
    with pytest.raises(OptionError, match="run_study needs data that can be read again from a folder"):
        twistfm.run_study("quick", data=twistfm.Dataset.from_arrays(*_arrays(50, 20)), runs_root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_analyse_a_folder_writes_it_and_twistfm_report_builds_the_runs_report(tmp_path):
    folder = write_csv_dir(tmp_path / "csv", split_dataset(*synthetic_images(400, 3, seed=7), 300))
    run = twistfm.train("cm1", twistfm.load_dataset(csv_dir=folder), epochs=1, runs_root=tmp_path / "runs")
    assert_cli_error(cli("report", str(run.path)), "no analysis yet")
    result = twistfm.analyse(run.path, points="test")
    assert (run.path / "analysis" / "analysis.json").is_file() and len(result.images) == 100
    code, out, err = cli("report", str(run.path))
    assert code == 0, err
    assert out.strip() == f"report: {run.path / 'report.html'}"
    page = (run.path / "report.html").read_text()
    assert "twistfm train cm1 " in page and "--epochs 1" in page and ">Explore every image" in page
    assert_cli_error(cli("report", str(tmp_path / "csv")), "not a twistfm run")


def _same_analysis(a, b) -> bool:
    (doc_a, arrays_a), (doc_b, arrays_b) = split_arrays(a.to_json()), split_arrays(b.to_json())
    return doc_a == doc_b and arrays_a.keys() == arrays_b.keys() and all(
        np.array_equal(arrays_a[k], arrays_b[k]) for k in arrays_a)


def test_write_analysis_and_load_analysis_round_trip_an_analysis(tmp_path, memory_analysis):
    from twistfm.runs import RunDir
    from twistfm.workflows import load_analysis, write_analysis

    folder = write_csv_dir(tmp_path / "csv", split_dataset(*synthetic_images(300, 3, seed=8), 200))
    run = twistfm.train("cm1", twistfm.load_dataset(csv_dir=folder), epochs=1, runs_root=tmp_path / "runs")
    written = write_analysis(RunDir(run.path), memory_analysis.analysis, {"pca": b"png bytes"})
    assert _same_analysis(load_analysis(run.path), memory_analysis.analysis)
    assert (written / "figures" / "pca.png").read_bytes() == b"png bytes"
    assert (run.path / "analysis").resolve() == written.resolve()
