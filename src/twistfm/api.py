"""The public API a notebook uses: load the data, train, encode, analyse, run the study, open a run.

A thin layer over the library (:mod:`twistfm.workflows`, :mod:`twistfm.encode`,
:mod:`twistfm.analysis`, :mod:`twistfm.report`): each call returns a result that shows
itself in a notebook (``_repr_html_``: a short table and a figure or thumbnails) and has a
one-line ``repr``. Nothing prints unless asked (``verbose=True``, or ``log=`` a callable
that receives each line), nothing is written unless a folder is given, and importing
twistfm changes no global state: heavy modules load on first use.

Usage
-----
>>> import twistfm
>>> data = twistfm.load_dataset(n_train=6000, n_test=2000)   # or twistfm.Dataset.from_arrays(x, y, x_t, y_t)
>>> run = twistfm.train("model-a", data, recipe="seed-model-a", epochs=2)   # in memory; runs_root="runs" saves
>>> run.history                  # pandas DataFrame, one row per epoch
>>> run.test_accuracy
>>> run.plot_history()           # matplotlib Figure
>>> enc = twistfm.encode(run, layer="dense2", split="test")   # enc.values (N x d), enc.labels, enc.layer
>>> analysis = twistfm.analyse(run, layer="dense2")            # writes nothing; analyse("runs/...") writes
>>> analysis.plot("tsne", color="kmeans")                     # "pca" | "tsne"; label, kmeans, dbscan, ...
>>> analysis.gallery(label=3)    # the images of label 3, one row per group found inside it
>>> analysis.discovery           # the groups per label
>>> analysis.explore()           # the report's explorer, inline
>>> study = twistfm.run_study("quick", data=data, epochs=1, runs_root="runs")   # study.report_path
>>> run = twistfm.open_run("runs/20261201-120000-cm1")         # the same kind of object as train's
>>> twistfm.rebuild_report(study.path)   # rebuild report.html from what is on disk (twistfm report STUDY)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data.dataset import Dataset
from .errors import OptionError

if TYPE_CHECKING:

    from .data import DataSpec
    from .models import ModelRecord
    from .report.notebook import AnalysisResult, Encoding, Run, Study
    from .train import Callback, TrainConfig

__all__ = ["load_dataset", "Dataset", "train", "open_run", "encode", "analyse", "run_study", "study_command", "rebuild_report"]

Log = Callable[[str], None] | None
PathLike = str | os.PathLike


def _logger(verbose: bool, log: Log) -> Log:
    """Where progress lines go: ``log``, else stderr when ``verbose``, else nowhere."""
    if log is not None:
        return log
    if verbose:
        from .progress import say

        return say
    return None


def _quiet(log: Log) -> Callable[[str], None]:
    return log or (lambda _line: None)


# ------------------------------------------------------------------ data


def load_dataset(n_train: int | None = None, n_test: int | None = None, *, csv_dir: PathLike | None = None,
                 data_dir: PathLike | None = None, download: bool = True, images: PathLike | None = None,
                 table: PathLike | None = None, test_table: PathLike | None = None, arrays: PathLike | None = None,
                 label_column: str | None = None, split_column: str | None = None, image_column: str | None = None,
                 test_fraction: float | None = None, data_seed: int | None = None,
                 resize: str | None = None) -> Dataset:
    """The built-in Twisted Fashion-MNIST, or any labelled image set, its first images.

    Parameters
    ----------
    n_train, n_test : int or None, default=None
        Keep only the first images of each split (None: all of them).
    csv_dir : path-like, optional
        A folder with ``x_train.csv``, ``y_train.csv``, ``x_test.csv``, ``y_test.csv``.
    data_dir : path-like, optional
        The folder of the four Fashion-MNIST archives (else the usual places are searched).
    download : bool, default=True
        Whether the archives may be downloaded when no folder has them.
    images : path-like, optional
        An image folder: ``DIR/train/<label>/*`` and ``DIR/test/<label>/*``, or ``DIR/<label>/*``.
    table, test_table : path-like, optional
        A table of images (``.csv``, ``.csv.gz``, ``.parquet``: ``label`` + ``pixel1..pixelN``, or
        an image column of encoded images), and its test images in a file of their own.
    arrays : path-like, optional
        A ``.npz`` file of ``x_train``, ``y_train``, ``x_test``, ``y_test``.
    label_column, split_column, image_column : str, optional
        A table's columns, named instead of found by rule.
    test_fraction : float, optional
        For a source without its own split: each label's share kept for testing (default 0.2).
    data_seed : int, optional
        Chooses that split and an image folder's order (default 0).
    resize : str, optional
        ``"HxW"``: resize every image of an image folder or image column to this size.
    """
    from .data import DataSpec
    from .data.loader import load_dataset as load

    others = dict(images=images, table=table, test_table=test_table, arrays=arrays, label_column=label_column,
                  split_column=split_column, image_column=image_column, test_fraction=test_fraction,
                  data_seed=data_seed, resize=resize)
    if all(v is None for v in others.values()):
        return load(csv_dir=csv_dir, data_dir=data_dir, download=download).subset(n_train, n_test)
    spec = DataSpec(csv_dir=csv_dir and str(csv_dir), data_dir=data_dir and str(data_dir),
                    **{k: str(v) if isinstance(v, os.PathLike) else v for k, v in others.items()})
    spec.check()
    return spec.load_full().subset(n_train, n_test)


def _source(data: Dataset) -> tuple[DataSpec, Dataset] | None:
    """The spec naming ``data``'s source with its counts, and that whole source; None for arrays in memory.

    Raises OptionError when ``data`` is not the first images of its source (it cannot be
    found again from the folder it names).
    """
    from .data import DataSpec

    if data.csv_dir is None and data.data_dir is None and data.origin is None:
        return None
    spec = DataSpec(**data.origin) if data.origin is not None else DataSpec(csv_dir=data.csv_dir, data_dir=data.data_dir)
    full = spec.load_full()
    n_train, n_test = len(data.x_train), len(data.x_test)
    if full.subset(n_train, n_test).fingerprint != data.fingerprint:
        raise OptionError(f"the data given is not the first {n_train:,} training and {n_test:,} test images of "
                          f"{spec.source_path}; pass data from twistfm.load_dataset, or arrays through "
                          "twistfm.Dataset.from_arrays")
    return replace(spec, n_train=None if n_train == len(full.x_train) else n_train,
                   n_test=None if n_test == len(full.x_test) else n_test), full


# ------------------------------------------------------------------ training


def train(model: str, data: Dataset, recipe: str | None = None, *, runs_root: PathLike | None = None,
          callbacks: Sequence[Callback] = (), verbose: bool = False, log: Log = None, **overrides: Any) -> Run:
    """Train one model on ``data``: in memory, or into a new run folder under ``runs_root``.

    Parameters
    ----------
    model : str
        A registered model name (``twistfm models``), e.g. ``"cm1"``, ``"model-a"``.
    data : Dataset
        From :func:`load_dataset` or :meth:`Dataset.from_arrays`.
    recipe : str, optional
        A named recipe (:mod:`twistfm.recipes`) whose settings to start from, e.g.
        ``"seed-model-a"``; its model is replaced by ``model``. None starts from
        :class:`~twistfm.train.TrainConfig`'s defaults.
    runs_root : path-like or None, default=None
        None trains in memory and writes nothing; a folder gets a new run folder with the
        weights, history, metrics and figures, as ``twistfm train`` writes. A run of arrays
        in memory (:meth:`Dataset.from_arrays`) is saved too, but its folder does not say
        where its images are: pass the returned :class:`Run` to the later stages.
    callbacks : sequence of callables, default=()
        Called with each :class:`~twistfm.train.TrainEvent` (see :func:`twistfm.train.fit`).
    verbose : bool, default=False
        Print one line per epoch to stderr.
    log : callable, optional
        Receives each progress line instead (overrides ``verbose``).
    **overrides
        Any :class:`~twistfm.train.TrainConfig` field, e.g. ``epochs=2``, ``batch_size=64``.
    """
    from .recipes import recipe as named
    from .report.notebook import Run
    from .train import TrainConfig

    known = {f.name for f in fields(TrainConfig)} - {"model"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise OptionError(f"train: unknown setting {unknown[0]!r}; the settings are: {', '.join(sorted(known))}")
    config = named(recipe, model=model, **overrides) if recipe else TrainConfig(model=model, **overrides)
    config.check()
    log = _logger(verbose, log)
    if runs_root is None:
        from .train import fit

        result = fit(config, data, None, callbacks=callbacks, log=log)
        return Run(None, config, result.model, result.history, result.metrics, _record(config, data), data)
    from .data import DataSpec
    from .workflows import train as train_run

    found = _source(data)
    spec, full = found if found is not None else (DataSpec(), data)
    result = train_run(config, spec, runs_root=runs_root, dataset=full, callbacks=callbacks, log=log)
    return Run(result.run.path, config, result.model, result.history, result.metrics, _record(config, data), data)


def _record(config: TrainConfig, data: Dataset) -> ModelRecord:
    from .models import ModelRecord

    return ModelRecord.of(config.model, dict(config.model_args), data)


def open_run(path: PathLike) -> Run:
    """A run folder written by ``twistfm train`` (or :func:`train` with ``runs_root``), as a :class:`Run`.

    Its data is read from the source it recorded, when first needed, and checked unchanged.
    """
    from .report.notebook import Run
    from .runs import RunDir
    from .workflows.training import train_config

    run = RunDir.open(path, kind="train")
    config, spec = train_config(run)
    model, record = run.load_model()
    return Run(run.path, config, model, run.history(), run.metrics(), record, spec=spec)


# ------------------------------------------------------------------ encoding


def encode(run: Run, layer: str | None = None, split: str = "test") -> Encoding:
    """The output of ``layer`` (default: the last hidden layer) for every image of ``split``.

    Parameters
    ----------
    run : Run
    layer : str, optional
        A layer name (``twistfm layers RUN``), e.g. ``"dense2"``.
    split : {"test", "train", "all"}, default="test"
    """
    from .encode import check_layer, default_layer
    from .encode import encode as encode_layer
    from .report.notebook import Encoding

    layer = layer or default_layer(run.model)
    check_layer(run.model, layer)
    images, labels, _ = run.data.split(split)
    return Encoding(encode_layer(run.model, images, layer), labels, layer, split)


# ------------------------------------------------------------------ analysis


def analyse(run: Run | PathLike, *, verbose: bool = False, log: Log = None, **options: Any) -> AnalysisResult:
    """What ``twistfm analyze`` computes: layer choice, projections, clusterings, discovery, decoding.

    Parameters
    ----------
    run : Run or path-like
        A :class:`Run`: the analysis is computed in memory and nothing is written. A run
        folder: the analysis is also written into it, as ``twistfm analyze`` does.
    verbose : bool, default=False
        Print progress lines to stderr.
    log : callable, optional
        Receives each progress line instead.
    **options
        Any :class:`~twistfm.analysis.AnalysisConfig` field: ``layer``, ``k``, ``eps``,
        ``min_samples``, ``perplexity``, ``seed``, ``points``, ...
    """
    from .analysis import AnalysisConfig
    from .report.notebook import AnalysisResult, Run

    known = {f.name for f in fields(AnalysisConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise OptionError(f"analyse: unknown option {unknown[0]!r}; the options are: {', '.join(sorted(known))}")
    config = AnalysisConfig(**options)
    log = _logger(verbose, log)
    if not isinstance(run, Run):
        from .workflows import analyse_run

        opened = open_run(run)
        analysis, _ = analyse_run(opened.path, config, log=log)
        return AnalysisResult(analysis, opened.data.split(config.points)[0], opened)
    from .analysis import check_analysis, compute_analysis

    check_analysis(run.model, run.data, config)
    analysis = compute_analysis(run.model, run._record, run.data, config, _quiet(log))
    return AnalysisResult(analysis, run.data.split(config.points)[0], run)


# ------------------------------------------------------------------ the study, and its report


def study_command(preset: str, data: DataSpec, *, seed: int = 0, seeds: int = 1, epochs: int | None = None,
                  runs_root: PathLike = "runs") -> str:
    """The ``twistfm run`` command line that runs this study."""
    from .workflows import study_command as command

    return command(preset, data, seed=seed, seeds=seeds, epochs=epochs, runs_root=runs_root)


def run_study(preset: str = "quick", data: Dataset | None = None, *, seed: int = 0, seeds: int = 1,
              epochs: int | None = None, runs_root: PathLike = "runs", verbose: bool = False, log: Log = None) -> Study:
    """What ``twistfm run`` does: train and compare the preset's models, analyse one, write ``report.html``.

    Parameters
    ----------
    preset : {"quick", "seed", "best"}, default="quick"
    data : Dataset, optional
        From :func:`load_dataset` (the built-in data, or a CSV folder, and how many images);
        None: every built-in image. Arrays in memory cannot be studied: the study's runs
        read their data again from its folder.
    seed : int, default=0
    seeds : int, default=1
        Train every model with this many seeds.
    epochs : int, optional
        Override every model's epochs.
    runs_root : path-like, default="runs"
    verbose : bool, default=False
    log : callable, optional
    """
    from .data import DataSpec
    from .report.notebook import Study
    from .workflows import run_study as study

    if data is None:
        spec = DataSpec()
    else:
        found = _source(data)
        if found is None:
            raise OptionError("run_study needs data that can be read again from a folder (twistfm.load_dataset); "
                              "for arrays in memory, use twistfm.train and twistfm.analyse")
        spec = found[0]
    command = study_command(preset, spec, seed=seed, seeds=seeds, epochs=epochs, runs_root=runs_root)
    result = study(preset, spec, seed=seed, seeds=seeds, epochs=epochs, runs_root=runs_root, command=command,
                   log=_logger(verbose, log))
    return Study(result.folder.path, result.report, command, result.comparison, result.stats,
                 result.analysis.decoding.lines())


def rebuild_report(path: PathLike, *, verbose: bool = False, log: Log = None) -> Path:
    """Rebuild ``report.html`` of a study folder (``twistfm run``) or an analysed run folder from what is on disk.

    A study's report is rebuilt from its runs' files and the analysed run's current
    analysis (so after ``twistfm analyze`` it shows the new one); a run folder's report
    shows that one model and its analysis. The old report is replaced in one step.

    Raises
    ------
    RunError
        If the folder is neither, or a run has no analysis yet.
    """
    from .sweep import train_command
    from .workflows import rebuild_report as rebuild

    log = _logger(verbose, log)
    built = rebuild(path, train_command=train_command, log=log)
    if log:
        log(f"report: {built}")
    return built
