"""The command line: a thin Typer layer over :mod:`twistfm.workflows`. Each command is one library call.

A user error (any :class:`~twistfm.errors.TwistfmError`, a bad option) prints one line and
exits with code 2; a command stopped by Ctrl-C exits with 130, by SIGTERM with 143
(:func:`twistfm.interrupts.exit_code`). The training and data options are declared once
(:mod:`twistfm.options`) and given to each command that takes them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from . import __version__, options
from .console import run_app
from .errors import OptionError
from .options import DataDir, ModelArgument, RunArgument, RunsRoot, Seed, SeedCount, with_options

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="twistfm: decode a mystery label with CNNs, encodings, clustering and projections.")
data_app = typer.Typer(no_args_is_help=True, help="Find, describe and export the data.")
app.add_typer(data_app, name="data")
# Paths and names are printed as they are: "[bold]" or "[/]" in a folder name is text, not markup.
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)

def _version(value: bool) -> None:
    if value:
        print(f"twistfm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = False) -> None:
    """twistfm: decode a mystery label."""


# ---------------------------------------------------------------- data


@data_app.command("info")
@with_options(options.data_parameters(counts=False))
def data_info(**data: Any) -> None:
    """Where the data comes from, split sizes, label counts and the classes behind each label."""
    from .data import CLASS_NAMES, MYSTERY_OF_CLASS
    from .progress import say
    from .workflows import data_info as info
    from .workflows import label_warnings

    dataset, rows = info(options.data_spec(data))
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
    for line in label_warnings(dataset):
        say(line)


@data_app.command("export")
def data_export(out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files into.")],
                data_dir: DataDir = None) -> None:
    """Write the twisted data as the seeds' CSV files (byte for byte), plus the original classes."""
    from .workflows import export_data

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


@app.command("train")
@with_options(options.training_parameters(), options.data_parameters())
def train_cmd(
    model: ModelArgument = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue an interrupted run folder.")] = None,
    *,
    runs: RunsRoot = Path("runs"),
    nproc: Annotated[int | None, typer.Option(
        help="Train data-parallel in N processes on this machine (launches torchrun; each takes 1/N of every "
             "global batch of N x --batch-size images).")] = None,
    **values: Any,
) -> int | None:
    """Train one model; writes a run folder with weights, history, metrics and figures."""
    from . import workflows
    from .distributed import launch
    from .train import TrainConfig

    if nproc is not None:
        if nproc < 1:
            raise OptionError(f"--nproc must be at least 1, got {nproc}")
        if nproc > 1:
            return launch(options.without_option(sys.argv[1:], "--nproc"), nproc)
    given = options.training_overrides(values)
    if resume is not None:
        named = ["MODEL"] * (model is not None) + [options.flag(k) for k in given] + options.data_flags(values)
        if named:
            raise OptionError(f"--resume takes no other training options (got {', '.join(named)}): the run's "
                              "config.json decides them; start a new run to change them")
        result = workflows.resume(resume)
    else:
        if model is None:
            raise OptionError("train needs a MODEL name (see 'twistfm models') or --resume RUN")
        result = workflows.train(TrainConfig(model=model, **given), options.data_spec(values), runs_root=runs)
    m = result.metrics
    if not m:  # a training process other than 0: process 0 reports
        return None
    out.print(f"test accuracy {m['test_acc']:.4f}  test loss {m['test_loss']:.4f}  "
              f"training {m['training_seconds']:.1f}s  ({m['train_images_per_second']:.0f} images/s)")
    out.print(f"run: {result.run}")
    return None


def _print_rows(rows: list[dict[str, Any]], columns: dict[str, Callable[[Any], str]] | None = None) -> None:
    columns = columns or {k: str for k in rows[0]}
    table = Table(*columns)
    for r in rows:
        table.add_row(*[fmt(r[k]) for k, fmt in columns.items()])
    out.print(table)


@app.command("compare")
@with_options(options.training_parameters(), options.data_parameters())
def compare_cmd(
    models: Annotated[list[str] | None, typer.Argument(help="Model names to train with the same settings.")] = None,
    preset: Annotated[str | None, typer.Option(help="'seed': reproduce the seeds' five training runs.")] = None,
    *,
    seeds: SeedCount = 1,
    runs: RunsRoot = Path("runs"),
    **values: Any,
) -> None:
    """Train several models and write a comparison table (Markdown, CSV) and figure."""
    from . import workflows
    from .train import TrainConfig

    given = options.training_overrides(values)
    if preset is not None:
        if set(given) - {"seed"}:
            raise OptionError(f"--preset {preset} decides the training options (got "
                              f"{', '.join(options.flag(k) for k in given if k != 'seed')}); give model names to choose them")
        configs = workflows.compare_preset(preset, given.get("seed", TrainConfig(model="").seed))
    elif models:
        configs = {m: TrainConfig(model=m, **given) for m in models}
    else:
        raise OptionError("compare needs model names or --preset seed")
    comparison = workflows.compare(configs, options.data_spec(values), seeds=seeds, runs_root=runs)
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
@with_options(options.data_parameters())
def run_cmd(
    preset: Annotated[str, typer.Option(help="quick (a few minutes), seed (the seeds' runs) or best (highest accuracy).")]
    = "quick",
    seed: Seed = 0,
    seeds: SeedCount = 1,
    epochs: Annotated[int | None, typer.Option(help="Override every model's epochs.")] = None,
    *,
    runs: RunsRoot = Path("runs"),
    **data: Any,
) -> None:
    """The whole study: train and compare, encode the best layer, analyse, decode, write report.html."""
    from .workflows import run_study

    result = run_study(preset, options.data_spec(data), seed=seed, seeds=seeds, epochs=epochs, runs_root=runs)
    if seeds > 1:
        _print_rows(result.stats)
    _print_rows(result.comparison, {"model": str, "test_acc": "{:.4f}".format, "test_loss": "{:.4f}".format,
                                    "training_seconds": "{:.0f}".format, "parameters": "{:,}".format})
    for line in result.analysis.decoding.lines():
        out.print(line)
    out.print(f"report: {result.report}")


# ---------------------------------------------------------------- encoding and analysis


@app.command("layers")
def layers_cmd(run: RunArgument) -> None:
    """List a trained model's layers with output shapes (the names 'encode --layer' takes)."""
    from .workflows import run_layers

    record, rows = run_layers(run)
    table = Table("layer", "type", "output shape", "parameters", title=record.name)
    for row in rows:
        table.add_row(row.name, row.kind, str(row.output_shape), f"{row.params:,}")
    out.print(table)


@app.command("encode")
def encode_cmd(
    run: RunArgument,
    layer: Annotated[str | None, typer.Option(help="Layer name (default: the last hidden layer).")] = None,
    split: Annotated[str, typer.Option(help="test, train or all.")] = "test",
) -> None:
    """Save a split's encoding (N x d float32) and labels into RUN/encoding."""
    from .workflows import encode_run

    path, (n, d) = encode_run(run, layer, split)
    out.print(f"encoding {n} x {d} -> {path}")


@app.command("analyze")
def analyze_cmd(
    run: RunArgument,
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
    from .workflows import analyse_run

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
    run: RunArgument,
    layer: Annotated[str | None, typer.Option(help="Layer to find groups in (default: the first pooling layer).")] = None,
    split: Annotated[str, typer.Option(help="test, train or all.")] = "test",
    max_groups: Annotated[int, typer.Option(help="Most groups looked for inside one label.")] = 6,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON object: label -> its groups.")] = False,
    seed: Seed = 0,
) -> None:
    """Find, from the encoding alone, the groups of images inside each label; writes RUN/discovery.csv."""
    from .progress import say
    from .workflows import discover_run

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
    run: RunArgument,
    out_file: Annotated[Path, typer.Option("--out", help="The Parquet file to write (e.g. run.parquet).")],
) -> None:
    """One row per analysed image (image, split, label, prediction, clusters, class, projections, neighbours)."""
    from .workflows import export_table

    path = export_table(run, out_file)
    out.print(f"{path}  {path.stat().st_size:,} bytes")
    out.print(f"open it with: embedding-atlas {path} --image image --x tsne_x --y tsne_y --neighbors neighbors")


@app.command("decode")
@with_options(options.data_parameters(counts=False))
def decode_cmd(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON object: label -> class names.")] = False,
    seed: Seed = 0,
    **data: Any,
) -> None:
    """Name each label by the original Fashion-MNIST classes behind it."""
    from .data import CLASS_NAMES
    from .workflows import decode

    decoding = decode(options.data_spec(data), seed)
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


@app.command("report")
def report_cmd(folder: Annotated[Path, typer.Argument(
        help="A study folder (twistfm run) or an analysed run folder (twistfm train, then analyze).")]) -> None:
    """Rebuild report.html from what is on disk (after a re-analysis, or an upgrade)."""
    from .progress import say
    from .sweep import train_command
    from .workflows import rebuild_report

    out.print(f"report: {rebuild_report(folder, train_command=train_command, log=say)}")


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one line and an exit code."""
    sys.exit(run_app(app))


if __name__ == "__main__":
    main()
