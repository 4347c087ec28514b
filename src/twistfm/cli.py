"""The command line: a thin Typer layer over the library. Each command is one library call.

A user error (``TwistfmError``, a bad option) prints one line and exits with code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import Interrupted, OptionError, TwistfmError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="twistfm: decode a mystery label with CNNs, encodings, clustering and projections.")
data_app = typer.Typer(no_args_is_help=True, help="Find, describe and export the data.")
app.add_typer(data_app, name="data")
out = Console(highlight=False, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Folder with the four Fashion-MNIST *-ubyte.gz archives.")]
CsvDir = Annotated[Path | None, typer.Option("--csv-dir", help="Folder with x_/y_ train/test CSV files.")]
RunsRoot = Annotated[Path, typer.Option("--runs", help="Folder where run directories are created.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: same seed, same machine, same numbers.")]
NTrain = Annotated[int | None, typer.Option("--n-train", help="Use only the first N training images.")]
NTest = Annotated[int | None, typer.Option("--n-test", help="Use only the first N test images.")]


def _version(value: bool) -> None:
    if value:
        print(f"twistfm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = False) -> None:
    """twistfm: decode a mystery label."""


def _dataset(csv_dir: Path | None, data_dir: Path | None):
    from .data import load_dataset

    return load_dataset(csv_dir=csv_dir, data_dir=data_dir)


# ---------------------------------------------------------------- data


@data_app.command("info")
def data_info(data_dir: DataDir = None, csv_dir: CsvDir = None) -> None:
    """Where the data comes from, split sizes, label counts and the mystery mapping."""
    import numpy as np

    from .data import CLASS_NAMES, MYSTERY_OF_CLASS

    ds = _dataset(csv_dir, data_dir)
    out.print(f"source: {ds.source}")
    table = Table("label", "train", "test", "classes behind it (train)")
    for value in ds.label_values:
        classes = ""
        if ds.class_train is not None:
            ids = np.unique(ds.class_train[ds.y_train == value])
            classes = ", ".join(CLASS_NAMES[c] for c in ids)
        table.add_row(str(value), str(int((ds.y_train == value).sum())), str(int((ds.y_test == value).sum())), classes)
    table.add_row("total", str(len(ds.y_train)), str(len(ds.y_test)), "", style="bold")
    out.print(table)
    if ds.class_train is not None:
        out.print("mapping (class -> mystery label): " + "; ".join(
            f"{name} -> {MYSTERY_OF_CLASS[c]}" for c, name in enumerate(CLASS_NAMES)))


@data_app.command("export")
def data_export(out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files into.")],
                data_dir: DataDir = None) -> None:
    """Write the twisted data as the seeds' CSV files (byte for byte), plus the original classes."""
    from .data import export_csv

    for path in export_csv(_dataset(None, data_dir), out_dir):
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


def _parse_model_args(values: list[str] | None) -> dict:
    args = {}
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
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue an interrupted run directory.")] = None,
    optimizer: Annotated[str, typer.Option(help="sgd, adam or adamw.")] = "adam",
    lr: Annotated[float, typer.Option(help="Learning rate (peak for onecycle).")] = 1e-3,
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = 0.0,
    weight_decay: Annotated[float, typer.Option(help="Weight decay.")] = 0.0,
    schedule: Annotated[str, typer.Option(help="constant, onecycle or cosine.")] = "constant",
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 32,
    epochs: Annotated[int, typer.Option(help="Epochs.")] = 10,
    val_split: Annotated[float, typer.Option(help="Last fraction of the training set held out for validation.")] = 0.2,
    augment: Annotated[bool, typer.Option(help="Random flips and shifts.")] = False,
    tta: Annotated[bool, typer.Option(help="Evaluate on each image and its mirror (test-time augmentation).")] = False,
    label_smoothing: Annotated[float, typer.Option(help="Label smoothing.")] = 0.0,
    model_arg: Annotated[list[str] | None, typer.Option("--model-arg", help="Architecture argument NAME=VALUE.")] = None,
    seed: Seed = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    threads: Annotated[int | None, typer.Option(help="CPU threads.")] = None,
    n_train: NTrain = None,
    n_test: NTest = None,
    csv_dir: CsvDir = None,
    data_dir: DataDir = None,
    runs: RunsRoot = Path("runs"),
) -> None:
    """Train one model; writes a run directory with weights, history, metrics and figures."""
    from .pipeline import resume_model, train_model
    from .runs import check_run
    from .train import TrainConfig

    if resume is not None:
        config = check_run(resume, need_model=False)
        result = resume_model(resume, _dataset(config.get("csv_dir"), config.get("data_dir")))
    else:
        if model is None:
            raise OptionError("train needs a MODEL name (see 'twistfm models') or --resume RUN")
        config = TrainConfig(
            model, _parse_model_args(model_arg), optimizer, lr, momentum, weight_decay, schedule, batch_size,
            epochs, val_split, augment, tta, label_smoothing, seed, device, threads, n_train, n_test,
            str(csv_dir) if csv_dir else None, str(data_dir) if data_dir else None)
        config.check()
        result = train_model(config, _dataset(csv_dir, data_dir), runs_root=runs)
    m = result.metrics
    out.print(f"test accuracy {m['test_acc']:.4f}  test loss {m['test_loss']:.4f}  "
              f"training {m['training_seconds']:.1f}s  ({m['train_images_per_second']:.0f} images/s)")
    out.print(f"run: {result.run}")


@app.command("compare")
def compare_cmd(
    models: Annotated[list[str] | None, typer.Argument(help="Model names to train with the same settings.")] = None,
    preset: Annotated[str | None, typer.Option(help="'seed': reproduce the seeds' five training runs.")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs (models given by name).")] = 5,
    batch_size: Annotated[int, typer.Option(help="Batch size (models given by name).")] = 32,
    seed: Seed = 0,
    n_train: NTrain = None,
    n_test: NTest = None,
    csv_dir: CsvDir = None,
    data_dir: DataDir = None,
    runs: RunsRoot = Path("runs"),
) -> None:
    """Train several models and write a comparison table (Markdown, CSV) and figure."""
    from dataclasses import replace

    from .pipeline import COMPARE_PRESETS, compare_models, with_data_source
    from .train import TrainConfig

    if preset is not None:
        if preset not in COMPARE_PRESETS:
            raise OptionError(f"--preset {preset!r}: choose one of {', '.join(COMPARE_PRESETS)}")
        configs = {k: replace(c, seed=seed) for k, c in COMPARE_PRESETS[preset].items()}
    elif models:
        configs = {m: TrainConfig(m, epochs=epochs, batch_size=batch_size, seed=seed) for m in models}
    else:
        raise OptionError("compare needs model names or --preset seed")
    configs = {k: with_data_source(c, str(csv_dir) if csv_dir else None, str(data_dir) if data_dir else None,
                                   n_train, n_test) for k, c in configs.items()}
    for c in configs.values():
        c.check()
    folder, rows, _ = compare_models(configs, _dataset(csv_dir, data_dir), runs_root=runs)
    table = Table(*rows[0].keys())
    for r in rows:
        table.add_row(*map(str, r.values()))
    out.print(table)
    out.print(f"comparison: {folder}")


@app.command("run")
def run_cmd(
    preset: Annotated[str, typer.Option(help="quick (~10 min), seed (the seeds' runs) or best (highest accuracy).")] = "quick",
    seed: Seed = 0,
    epochs: Annotated[int | None, typer.Option(help="Override every model's epochs.")] = None,
    n_train: NTrain = None,
    n_test: NTest = None,
    csv_dir: CsvDir = None,
    data_dir: DataDir = None,
    runs: RunsRoot = Path("runs"),
) -> None:
    """The whole study: train and compare, encode the best layer, analyse, decode, write report.html."""
    from .study import run_study

    result = run_study(preset, str(csv_dir) if csv_dir else None, str(data_dir) if data_dir else None, runs, seed,
                       epochs, n_train, n_test)
    table = Table("model", "test accuracy", "test loss", "training s", "parameters")
    for r in result.comparison:
        table.add_row(r["model"], f"{r['test_acc']:.4f}", f"{r['test_loss']:.4f}", f"{r['training_seconds']:.0f}",
                      f"{r['parameters']:,}")
    out.print(table)
    for line in result.lines:
        out.print(line)
    out.print(f"report: {result.report}")


# ---------------------------------------------------------------- encoding and analysis

Run = Annotated[Path, typer.Argument(help="A run directory written by 'twistfm train'.")]


@app.command("layers")
def layers_cmd(run: Run) -> None:
    """List a trained model's layers with output shapes (the names 'encode --layer' takes)."""
    from .analyze import layer_rows
    from .runs import load_model

    model, record = load_model(run)
    table = Table("layer", "type", "output shape", "parameters", title=record["name"])
    for row in layer_rows(model):
        table.add_row(row["layer"], row["type"], str(row["output_shape"]), f"{row['parameters']:,}")
    out.print(table)


@app.command("encode")
def encode_cmd(
    run: Run,
    layer: Annotated[str | None, typer.Option(help="Layer name (default: the last hidden layer).")] = None,
    split: Annotated[str, typer.Option(help="test, train or all.")] = "test",
) -> None:
    """Save a split's encoding (N x d float32) and labels into RUN/encoding."""
    from .analyze import encode_run

    path, (n, d) = encode_run(run, layer, split)
    out.print(f"encoding {n} x {d} -> {path}")


@app.command("analyze")
def analyze_cmd(
    run: Run,
    layer: Annotated[str | None, typer.Option(help="Layer to encode from (default: the best-scoring one).")] = None,
    k: Annotated[int | None, typer.Option(help="K-means clusters (default: number of labels).")] = None,
    eps: Annotated[float | None, typer.Option(help="DBSCAN eps (default: knee of the k-distance curve).")] = None,
    min_samples: Annotated[int, typer.Option(help="DBSCAN min_samples.")] = 4,
    perplexity: Annotated[float, typer.Option(help="t-SNE perplexity.")] = 30.0,
    umap: Annotated[bool, typer.Option("--umap", help="Also project with UMAP (needs twistfm[umap]).")] = False,
    seed: Seed = 0,
) -> None:
    """Layer choice, encoding, PCA, t-SNE, K-means, DBSCAN, galleries, decoding and label issues."""
    from .analyze import AnalysisOptions, analyze_run

    summary = analyze_run(run, AnalysisOptions(layer, k, eps, min_samples, perplexity, umap, seed))
    out.print(f"encoded from {summary['layer']} (best layer: {summary['best_layer']})")
    for line in summary["decoding"]["lines"]:
        out.print(line)
    out.print(f"run: {run}")


@app.command("decode")
def decode_cmd(
    csv_dir: CsvDir = None,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON object: label -> class names.")] = False,
    seed: Seed = 0,
) -> None:
    """Name each label by the original Fashion-MNIST classes behind it."""
    from .analyze import decode_dataset
    from .data import CLASS_NAMES

    decoding, _ = decode_dataset(_dataset(csv_dir, data_dir), str(data_dir) if data_dir else None, seed)
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


def _usage_error_line(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        return ctx.get_help()
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {exc.format_message()}{hint}"


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one line and exit 2."""
    try:
        code = app(standalone_mode=False)
    except Interrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        sys.exit(130)
    except TwistfmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        # Click's usage and parameter errors (Typer bundles its own Click, so match by interface).
        if hasattr(exc, "format_message") and getattr(exc, "exit_code", None) in (1, 2):
            print(_usage_error_line(exc), file=sys.stderr)
            sys.exit(2)
        if type(exc).__name__ == "Abort":
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
