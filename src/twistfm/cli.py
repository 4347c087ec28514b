"""The command line: a thin Typer layer over :mod:`twistfm.pipeline`. Each command is one library call.

A user error (any :class:`~twistfm.errors.TwistfmError`, a bad option) prints one line and
exits with its code: 2, or 130 for an interruption.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from . import __version__, interrupts
from .errors import OptionError, TwistfmError, WriteError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="twistfm: decode a mystery label with CNNs, encodings, clustering and projections.")
data_app = typer.Typer(no_args_is_help=True, help="Find, describe and export the data.")
app.add_typer(data_app, name="data")
# Paths and names are printed as they are: "[bold]" or "[/]" in a folder name is text, not markup.
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Folder with the four Fashion-MNIST *-ubyte.gz archives.")]
CsvDir = Annotated[Path | None, typer.Option("--csv-dir", help="Folder with x_/y_ train/test CSV files.")]
RunsRoot = Annotated[Path, typer.Option("--runs", help="Folder where run folders are created.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: same seed, same machine, same numbers.")]
SeedCount = Annotated[int, typer.Option(
    "--seeds", help="Train every model with this many seeds (--seed, --seed + 1, ...) and report mean, deviation and range.")]
NTrain = Annotated[int | None, typer.Option("--n-train", help="Use only the first N training images.")]
NTest = Annotated[int | None, typer.Option("--n-test", help="Use only the first N test images.")]
Run = Annotated[Path, typer.Argument(help="A run folder written by 'twistfm train'.")]
Images = Annotated[Path | None, typer.Option(
    "--images", help="Image folder: DIR/train/<label>/* and DIR/test/<label>/*, or DIR/<label>/* (split by "
                     "--test-fraction); PNG, JPEG, BMP, WebP.")]
TableFile = Annotated[Path | None, typer.Option(
    "--table", help="Table of images (.csv, .csv.gz, .parquet): label + pixel1..pixelN, or an image column of "
                    "encoded images; both splits with a split column, else the training images.")]
TestTable = Annotated[Path | None, typer.Option("--test-table", help="The test images of --table in a file of their own.")]
ArraysFile = Annotated[Path | None, typer.Option("--arrays", help="NumPy .npz file of x_train, y_train, x_test, y_test.")]
LabelColumn = Annotated[str | None, typer.Option("--label-column", help="The table's label column [default: found by rule].")]
SplitColumn = Annotated[str | None, typer.Option(
    "--split-column", help="The table's column of train/test [default: a column named 'split'].")]
ImageColumn = Annotated[str | None, typer.Option(
    "--image-column", help="The table's column of encoded images [default: the one there is].")]
TestFraction = Annotated[float | None, typer.Option(
    "--test-fraction", help="Share of each label's images kept for testing, for a source without its own split "
                            "[default: 0.2].")]
DataSeed = Annotated[int | None, typer.Option(
    "--data-seed", help="Seed of that split and of an image folder's order [default: 0].")]
Resize = Annotated[str | None, typer.Option("--resize", help="Resize every image to HxW (image folders, image columns).")]


def _version(value: bool) -> None:
    if value:
        print(f"twistfm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = False) -> None:
    """twistfm: decode a mystery label."""


def _spec(csv_dir: Path | None = None, data_dir: Path | None = None, n_train: int | None = None,
          n_test: int | None = None, **source: Any):
    """The DataSpec the data options name (``source``: ``images=``, ``table=``, ... as the options give them)."""
    from .data import DataSpec

    spec = DataSpec(csv_dir=str(csv_dir) if csv_dir else None, data_dir=str(data_dir) if data_dir else None,
                    n_train=n_train, n_test=n_test,
                    **{k: str(v) if isinstance(v, Path) else v for k, v in source.items()})
    spec.check()
    return spec


def _sources(images: Path | None, table: Path | None, test_table: Path | None, arrays: Path | None,
             label_column: str | None, split_column: str | None, image_column: str | None, test_fraction: float | None,
             data_seed: int | None, resize: str | None) -> dict[str, Any]:
    """The other sources' options, by DataSpec field."""
    return dict(images=images, table=table, test_table=test_table, arrays=arrays, label_column=label_column,
                split_column=split_column, image_column=image_column, test_fraction=test_fraction, data_seed=data_seed,
                resize=resize)


def _given(**source: Any) -> list[str]:
    """The data options given, as ``--name`` words."""
    return ["--" + k.replace("_", "-") for k, v in source.items() if v is not None]


# ---------------------------------------------------------------- data


@data_app.command("info")
def data_info(
    data_dir: DataDir = None,
    csv_dir: CsvDir = None,
    images: Images = None,
    table: TableFile = None,
    test_table: TestTable = None,
    arrays: ArraysFile = None,
    label_column: LabelColumn = None,
    split_column: SplitColumn = None,
    image_column: ImageColumn = None,
    test_fraction: TestFraction = None,
    data_seed: DataSeed = None,
    resize: Resize = None,
) -> None:
    """Where the data comes from, split sizes, label counts and the classes behind each label."""
    from .data import CLASS_NAMES, MYSTERY_OF_CLASS
    from .pipeline import data_info as info

    source = _sources(images, table, test_table, arrays, label_column, split_column, image_column, test_fraction,
                      data_seed, resize)
    dataset, rows = info(_spec(csv_dir, data_dir, **source))
    out.print(f"source: {dataset.source}")
    height, width = dataset.image_size
    out.print(f"images: {height} x {width} {'grey' if dataset.channels == 1 else 'colour'}")
    named = dataset.label_names is not None
    table = Table("label", *(["name"] if named else []), "train", "test", "classes behind it (train)")
    for row in rows:
        table.add_row(str(row.label), *([row.name or ""] if named else []), str(row.train), str(row.test),
                      ", ".join(row.classes))
    table.add_row("total", *([""] if named else []), str(len(dataset.y_train)), str(len(dataset.y_test)), "",
                  style="bold")
    out.print(table)
    if dataset.has_classes:
        out.print("mapping (class -> mystery label): " + "; ".join(
            f"{name} -> {MYSTERY_OF_CLASS[c]}" for c, name in enumerate(CLASS_NAMES)))


@data_app.command("export")
def data_export(out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files into.")],
                data_dir: DataDir = None) -> None:
    """Write the twisted data as the seeds' CSV files (byte for byte), plus the original classes."""
    from .pipeline import export_data

    for path in export_data(out_dir, str(data_dir) if data_dir else None):
        out.print(f"{path}  {path.stat().st_size:,} bytes")


# ---------------------------------------------------------------- models and training


@app.command("models")
def models_cmd() -> None:
    """List the registered models with parameter counts (for 5 labels)."""
    from .models import count_parameters, create_model, list_models, model_info

    table = Table("name", "parameters", "description")
    for name in list_models():
        table.add_row(name, f"{count_parameters(create_model(name, 5)):,}", model_info(name).description)
    out.print(table)


def _parse_model_args(values: list[str] | None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise OptionError(f"--model-arg {item!r}: write it as NAME=VALUE, e.g. width=48")
        try:
            args[key] = json.loads(raw)
        except json.JSONDecodeError:
            args[key] = raw
    return args


@app.command("train")
def train_cmd(
    model: Annotated[str | None, typer.Argument(help="Model name (see 'twistfm models').")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue an interrupted run folder.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="sgd, adam or adamw [default: adam].")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate, the peak for onecycle [default: 0.001].")] = None,
    momentum: Annotated[float | None, typer.Option(help="SGD momentum [default: 0].")] = None,
    weight_decay: Annotated[float | None, typer.Option(help="Weight decay [default: 0].")] = None,
    schedule: Annotated[str | None, typer.Option(help="constant, onecycle or cosine [default: constant].")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size [default: 32].")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs [default: 10].")] = None,
    val_split: Annotated[float | None, typer.Option(
        help="Last fraction of the training images held out for validation [default: 0.2].")] = None,
    augment: Annotated[bool | None, typer.Option(help="Random flips and shifts [default: off].")] = None,
    tta: Annotated[bool | None, typer.Option(
        help="Evaluate on each image and its mirror (test-time augmentation) [default: off].")] = None,
    label_smoothing: Annotated[float | None, typer.Option(help="Label smoothing [default: 0].")] = None,
    erasing: Annotated[float | None, typer.Option(help="Probability of random erasing per image [default: 0].")] = None,
    ema: Annotated[float | None, typer.Option(
        help="Decay of a moving average of the weights, evaluated and saved (0: none) [default: 0].")] = None,
    nesterov: Annotated[bool | None, typer.Option(help="Nesterov momentum (SGD) [default: off].")] = None,
    precision: Annotated[str | None, typer.Option(
        help="auto (bf16 where the hardware computes it natively, else fp32), fp32, or bf16 (bfloat16 autocast; "
             "several times slower where it is emulated) [default: auto].")] = None,
    model_arg: Annotated[list[str] | None, typer.Option("--model-arg", help="Architecture argument NAME=VALUE.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed: same seed, same machine, same numbers [default: 0].")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda [default: auto].")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads.")] = None,
    n_train: NTrain = None,
    n_test: NTest = None,
    csv_dir: CsvDir = None,
    data_dir: DataDir = None,
    images: Images = None,
    table: TableFile = None,
    test_table: TestTable = None,
    arrays: ArraysFile = None,
    label_column: LabelColumn = None,
    split_column: SplitColumn = None,
    image_column: ImageColumn = None,
    test_fraction: TestFraction = None,
    data_seed: DataSeed = None,
    resize: Resize = None,
    runs: RunsRoot = Path("runs"),
    nproc: Annotated[int | None, typer.Option(
        help="Train data-parallel in N processes on this machine (launches torchrun; each takes 1/N of every "
             "global batch of N x --batch-size images).")] = None,
) -> int | None:
    """Train one model; writes a run folder with weights, history, metrics and figures."""
    from . import pipeline
    from .distributed import launch
    from .train import TrainConfig

    if nproc is not None:
        if nproc < 1:
            raise OptionError(f"--nproc must be at least 1, got {nproc}")
        if nproc > 1:
            return launch(_without_option(sys.argv[1:], "--nproc"), nproc)

    given = {k: v for k, v in dict(
        optimizer=optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay, schedule=schedule,
        batch_size=batch_size, epochs=epochs, val_split=val_split, augment=augment, tta=tta,
        label_smoothing=label_smoothing, erasing=erasing, ema=ema, nesterov=nesterov, precision=precision, seed=seed,
        device=device, threads=threads).items() if v is not None}
    if model_arg:
        given["model_args"] = _parse_model_args(model_arg)
    source = _sources(images, table, test_table, arrays, label_column, split_column, image_column, test_fraction,
                      data_seed, resize)
    data_given = [o for o, v in (("--n-train", n_train), ("--n-test", n_test), ("--csv-dir", csv_dir),
                                 ("--data-dir", data_dir)) if v is not None] + _given(**source)
    if resume is not None:
        if model is not None or given or data_given:
            named = ["MODEL"] * (model is not None) + [f"--{k.replace('_', '-')}" for k in given] + data_given
            raise OptionError(f"--resume takes no other training options (got {', '.join(named)}): the run's "
                              "config.json decides them; start a new run to change them")
        result = pipeline.resume(resume)
    else:
        if model is None:
            raise OptionError("train needs a MODEL name (see 'twistfm models') or --resume RUN")
        result = pipeline.train(TrainConfig(model=model, **given),
                                _spec(csv_dir, data_dir, n_train, n_test, **source), runs_root=runs)
    m = result.metrics
    if not m:  # a training process other than 0: process 0 reports
        return
    out.print(f"test accuracy {m['test_acc']:.4f}  test loss {m['test_loss']:.4f}  "
              f"training {m['training_seconds']:.1f}s  ({m['train_images_per_second']:.0f} images/s)")
    out.print(f"run: {result.run}")


def _without_option(argv: list[str], option: str) -> list[str]:
    """``argv`` without ``option VALUE`` or ``option=VALUE``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def _print_rows(rows: list[dict[str, Any]], columns: dict[str, Callable[[Any], str]] | None = None) -> None:
    columns = columns or {k: str for k in rows[0]}
    table = Table(*columns)
    for r in rows:
        table.add_row(*[fmt(r[k]) for k, fmt in columns.items()])
    out.print(table)


@app.command("compare")
def compare_cmd(
    models: Annotated[list[str] | None, typer.Argument(help="Model names to train with the same settings.")] = None,
    preset: Annotated[str | None, typer.Option(help="'seed': reproduce the seeds' five training runs.")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs (models given by name).")] = 5,
    batch_size: Annotated[int, typer.Option(help="Batch size (models given by name).")] = 32,
    seed: Seed = 0,
    seeds: SeedCount = 1,
    n_train: NTrain = None,
    n_test: NTest = None,
    csv_dir: CsvDir = None,
    data_dir: DataDir = None,
    images: Images = None,
    table: TableFile = None,
    test_table: TestTable = None,
    arrays: ArraysFile = None,
    label_column: LabelColumn = None,
    split_column: SplitColumn = None,
    image_column: ImageColumn = None,
    test_fraction: TestFraction = None,
    data_seed: DataSeed = None,
    resize: Resize = None,
    runs: RunsRoot = Path("runs"),
) -> None:
    """Train several models and write a comparison table (Markdown, CSV) and figure."""
    from . import pipeline
    from .train import TrainConfig

    if preset is not None:
        configs = pipeline.compare_preset(preset, seed)
    elif models:
        configs = {m: TrainConfig(model=m, epochs=epochs, batch_size=batch_size, seed=seed) for m in models}
    else:
        raise OptionError("compare needs model names or --preset seed")
    source = _sources(images, table, test_table, arrays, label_column, split_column, image_column, test_fraction,
                      data_seed, resize)
    comparison = pipeline.compare(configs, _spec(csv_dir, data_dir, n_train, n_test, **source),
                                  seeds=seeds, runs_root=runs)
    _print_rows(comparison.stats if seeds > 1 else comparison.rows)
    out.print(f"comparison: {comparison.folder}")


@app.command("sweep")
def sweep_cmd(
    spec: Annotated[Path | None, typer.Argument(help="The sweep spec (TOML); see 'twistfm.sweep' for its fields.")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue an interrupted sweep folder.")] = None,
    address: Annotated[str | None, typer.Option(help="A Ray cluster to run on (default: $RAY_ADDRESS, else local).")]
    = None,
    runs: RunsRoot = Path("runs"),
) -> None:
    """Search training settings with Ray Tune (ASHA on validation accuracy); each trial is a run folder."""
    from .sweep import load_spec, resume_sweep, run_sweep

    if (spec is None) == (resume is None):
        raise OptionError("sweep needs a SPEC.toml to start, or --resume SWEEP_FOLDER to continue")
    result = resume_sweep(resume, address=address) if resume else run_sweep(load_spec(spec), runs_root=runs,
                                                                            address=address)
    _print_rows(result.rows[:10])
    out.print(f"best trial: {result.best_command}")
    out.print(f"sweep: {result.folder}")


@app.command("run")
def run_cmd(
    preset: Annotated[str, typer.Option(help="quick (a few minutes), seed (the seeds' runs) or best (highest accuracy).")]
    = "quick",
    seed: Seed = 0,
    seeds: SeedCount = 1,
    epochs: Annotated[int | None, typer.Option(help="Override every model's epochs.")] = None,
    n_train: NTrain = None,
    n_test: NTest = None,
    csv_dir: CsvDir = None,
    data_dir: DataDir = None,
    images: Images = None,
    table: TableFile = None,
    test_table: TestTable = None,
    arrays: ArraysFile = None,
    label_column: LabelColumn = None,
    split_column: SplitColumn = None,
    image_column: ImageColumn = None,
    test_fraction: TestFraction = None,
    data_seed: DataSeed = None,
    resize: Resize = None,
    runs: RunsRoot = Path("runs"),
) -> None:
    """The whole study: train and compare, encode the best layer, analyse, decode, write report.html."""
    from .pipeline import run_study

    source = _sources(images, table, test_table, arrays, label_column, split_column, image_column, test_fraction,
                      data_seed, resize)
    result = run_study(preset, _spec(csv_dir, data_dir, n_train, n_test, **source), seed=seed,
                       seeds=seeds, epochs=epochs, runs_root=runs)
    if seeds > 1:
        _print_rows(result.stats)
    _print_rows(result.comparison, {"model": str, "test_acc": "{:.4f}".format, "test_loss": "{:.4f}".format,
                                    "training_seconds": "{:.0f}".format, "parameters": "{:,}".format})
    for line in result.analysis.decoding.lines():
        out.print(line)
    out.print(f"report: {result.report}")


# ---------------------------------------------------------------- encoding and analysis


@app.command("layers")
def layers_cmd(run: Run) -> None:
    """List a trained model's layers with output shapes (the names 'encode --layer' takes)."""
    from .pipeline import run_layers

    record, rows = run_layers(run)
    table = Table("layer", "type", "output shape", "parameters", title=record.name)
    for row in rows:
        table.add_row(row.name, row.kind, str(row.output_shape), f"{row.params:,}")
    out.print(table)


@app.command("encode")
def encode_cmd(
    run: Run,
    layer: Annotated[str | None, typer.Option(help="Layer name (default: the last hidden layer).")] = None,
    split: Annotated[str, typer.Option(help="test, train or all.")] = "test",
) -> None:
    """Save a split's encoding (N x d float32) and labels into RUN/encoding."""
    from .pipeline import encode_run

    path, (n, d) = encode_run(run, layer, split)
    out.print(f"encoding {n} x {d} -> {path}")


@app.command("analyze")
def analyze_cmd(
    run: Run,
    layer: Annotated[str | None, typer.Option(help="Layer to encode from (default: the best-scoring one).")] = None,
    k: Annotated[int | None, typer.Option(help="K-means clusters (default: number of labels).")] = None,
    eps: Annotated[float | None, typer.Option(
        help="DBSCAN eps, in the encoding's first 10 principal components (default: chosen by scan).")] = None,
    min_samples: Annotated[int | None, typer.Option(
        help="DBSCAN min_samples (default: 0.5% of the test points).")] = None,
    perplexity: Annotated[float, typer.Option(help="t-SNE perplexity.")] = 20.0,
    umap: Annotated[bool, typer.Option("--umap", help="Also project with UMAP (needs twistfm[umap]).")] = False,
    seed: Seed = 0,
) -> None:
    """Layer choice, encoding, PCA, t-SNE, K-means, DBSCAN, galleries, decoding and ambiguous images."""
    from .analysis import AnalysisConfig
    from .pipeline import analyse_run

    analysis, _ = analyse_run(run, AnalysisConfig(layer=layer, k=k, eps=eps, min_samples=min_samples,
                                                  perplexity=perplexity, use_umap=umap, seed=seed))
    out.print(f"encoded from {analysis.layer} (best layer: {analysis.layers.best})")
    for clustering in analysis.clusterings.values():
        out.print(clustering.verdict())
    for line in analysis.decoding.lines():
        out.print(line)
    out.print(f"run: {run}")


@app.command("discover")
def discover_cmd(
    run: Run,
    layer: Annotated[str | None, typer.Option(help="Layer to find groups in (default: the first pooling layer).")] = None,
    split: Annotated[str, typer.Option(help="test, train or all.")] = "test",
    max_groups: Annotated[int, typer.Option(help="Most groups looked for inside one label.")] = 6,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON object: label -> its groups.")] = False,
    seed: Seed = 0,
) -> None:
    """Find, from the encoding alone, the groups of images inside each label; writes RUN/discovery.csv."""
    from .pipeline import discover_run
    from .progress import say

    discovery = discover_run(run, layer=layer, split=split, max_groups=max_groups, seed=seed,
                             log=None if as_json else say)
    if as_json:
        print(json.dumps(discovery.as_json()))
        return
    table = Table("label", "groups found", "classes behind it", "groups: size, looks like (share)",
                  title=f"groups inside each label ({discovery.split} images, layer {discovery.layer})")
    for lg in discovery.per_label:
        table.add_row(str(lg.label), str(len(lg.groups)), "-" if lg.true_count is None else str(lg.true_count),
                      "; ".join(f"{g.size:,}" + (f" {g.looks_like} ({g.share:.0%})" if g.looks_like else "")
                                for g in lg.groups))
    out.print(table)
    true = f" (the data holds {discovery.overall_true} classes)" if discovery.overall_true else ""
    out.print(f"kinds of image in the whole set (the groups of all labels): {discovery.kinds}{true}; "
              f"labels ignored, one map of everything shows {discovery.overall.chosen}")
    out.print(f"run: {run}")


@app.command("export-table")
def export_table_cmd(
    run: Run,
    out_file: Annotated[Path, typer.Option("--out", help="The Parquet file to write (e.g. run.parquet).")],
) -> None:
    """One row per analysed image (image, split, label, prediction, clusters, class, projections, neighbours)."""
    from .pipeline import export_table

    path = export_table(run, out_file)
    out.print(f"{path}  {path.stat().st_size:,} bytes")
    out.print(f"open it with: embedding-atlas {path} --image image --x tsne_x --y tsne_y --neighbors neighbors")


@app.command("decode")
def decode_cmd(
    csv_dir: CsvDir = None,
    data_dir: DataDir = None,
    images: Images = None,
    table: TableFile = None,
    test_table: TestTable = None,
    arrays: ArraysFile = None,
    label_column: LabelColumn = None,
    split_column: SplitColumn = None,
    image_column: ImageColumn = None,
    test_fraction: TestFraction = None,
    data_seed: DataSeed = None,
    resize: Resize = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON object: label -> class names.")] = False,
    seed: Seed = 0,
) -> None:
    """Name each label by the original Fashion-MNIST classes behind it."""
    from .data import CLASS_NAMES
    from .pipeline import decode

    source = _sources(images, table, test_table, arrays, label_column, split_column, image_column, test_fraction,
                      data_seed, resize)
    decoding = decode(_spec(csv_dir, data_dir, **source), seed)
    if as_json:
        print(json.dumps(decoding.as_json()))
        return
    table = Table("label", *CLASS_NAMES, title="images of each class (column) carrying each label (row)")
    for value, row in zip(decoding.label_values, decoding.table, strict=True):
        table.add_row(str(value), *[str(v) for v in row])
    out.print(table)
    out.print("classes found by: " + ", ".join(f"{k} {v}" for k, v in decoding.recovery.items()))
    for line in decoding.lines():
        out.print(line)


# ---------------------------------------------------------------- errors


@app.command("report")
def report_cmd(folder: Annotated[Path, typer.Argument(
        help="A study folder (twistfm run) or an analysed run folder (twistfm train, then analyze).")]) -> None:
    """Rebuild report.html from what is on disk (after a re-analysis, or an upgrade)."""
    from .api import rebuild_report

    out.print(f"report: {rebuild_report(folder)}")


def run_guarded(command: Callable[[], Any]) -> int:
    """Run ``command``; turn user errors into one line on stderr and return the exit code.

    ``TwistfmError`` -> its own code (2, or 130 for an interruption); Typer's usage errors
    -> 2; Ctrl-C -> 130. Bugs still raise.
    """
    try:
        code = command()
    except TwistfmError as exc:
        if exc.exit_code == 130:
            print(f"stopped: {exc}", file=sys.stderr)
            return interrupts.exit_code()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.TyperException as exc:  # Click's usage and parameter errors
        print(_usage_error_line(exc), file=sys.stderr)
        return 2
    except (KeyboardInterrupt, typer.Abort):
        print(_STOPPED, file=sys.stderr)
        return interrupts.exit_code()
    except Exception as exc:
        if not interrupts.caused_by_interrupt(exc):
            raise
        print(_STOPPED, file=sys.stderr)  # e.g. an import that Ctrl-C cut short, failing again on the way out
        return interrupts.exit_code()
    if code == 130:  # Typer turned a KeyboardInterrupt outside the guarded blocks into Exit(130)
        print(_STOPPED, file=sys.stderr)
        return interrupts.exit_code()
    return code if isinstance(code, int) else 0


_STOPPED = "stopped: interrupted; nothing was left half-written (files are written whole or not at all); run the " \
           "command again"


class _Stdout:
    """stdout, whose failure (a full disk, /dev/full) is one line instead of a traceback."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        return self._guard(self._stream.write, text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def _guard(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            self._stream = open(os.devnull, "w")  # noqa: SIM115 - what is left is dropped, never retried
            raise WriteError(f"stdout: cannot write the output ({exc.strerror or exc}); send it to a file on a disk "
                             "with space") from None


def _usage_error_line(exc: typer.TyperException) -> str:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        return ctx.get_help()
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {exc.format_message()}{hint}"


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one line and an exit code.

    SIGTERM stops a command as Ctrl-C does (one line, a resume hint, exit code 143).
    """
    interrupts.install()
    original = sys.stdout
    sys.stdout = _Stdout(original)
    try:
        code = run_guarded(lambda: app(standalone_mode=False))
        sys.stdout.flush()
    except WriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    if isinstance(sys.stdout, _Stdout) and sys.stdout._stream is not original:  # the real stdout failed: drop it
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), original.fileno())
    sys.exit(code)


if __name__ == "__main__":
    main()
