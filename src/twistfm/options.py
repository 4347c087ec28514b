"""Every command-line option declared once, and the commands' options made from that declaration.

The training options are :class:`~twistfm.train.TrainConfig`'s fields: each field's type,
default and ``metadata`` (``"help"``, and ``"flag"`` where the flag is not ``--`` + the name
with dashes) give the options of ``twistfm train`` and ``twistfm compare``
(:func:`training_parameters`), the config a parsed command line names
(:func:`training_overrides`), and back the command line of a config (:func:`train_argv`,
which a sweep records). The data options (:data:`DATA_OPTIONS`: the source and how to read
it) are shared by every command that reads data. :func:`with_options` gives a Typer
command function those parameters through its ``__signature__``, which Typer reads.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from .data import DataSpec
from .errors import OptionError
from .training.config import TrainConfig

__all__ = ["DATA_OPTIONS", "COUNT_OPTIONS", "flag", "help_text", "training_parameters", "training_overrides",
           "train_argv", "data_parameters", "data_spec", "data_flags", "data_argv", "with_options", "parse_model_args",
           "without_option", "ModelArgument", "RunArgument", "DataDir", "RunsRoot", "Seed", "SeedCount"]

#: The data source options: DataSpec field -> (the option's type, its help).
DATA_OPTIONS: dict[str, tuple[Any, str]] = {
    "csv_dir": (Path, "Folder with x_/y_ train/test CSV files."),
    "data_dir": (Path, "Folder with the four Fashion-MNIST *-ubyte.gz archives."),
    "images": (Path, "Image folder: DIR/train/<label>/* and DIR/test/<label>/*, or DIR/<label>/* (split by "
                     "--test-fraction); PNG, JPEG, BMP, WebP."),
    "table": (Path, "Table of images (.csv, .csv.gz, .parquet): label + pixel1..pixelN, or an image column of "
                    "encoded images; both splits with a split column, else the training images."),
    "test_table": (Path, "The test images of --table in a file of their own."),
    "arrays": (Path, "NumPy .npz file of x_train, y_train, x_test, y_test."),
    "label_column": (str, "The table's label column [default: found by rule]."),
    "split_column": (str, "The table's column of train/test [default: a column named 'split']."),
    "image_column": (str, "The table's column of encoded images [default: the one there is]."),
    "test_fraction": (float, "Share of each label's images kept for testing, for a source without its own split "
                             "[default: 0.2]."),
    "data_seed": (int, "Seed of that split and of an image folder's order [default: 0]."),
    "resize": (str, "Resize every image to HxW (image folders, image columns)."),
}
#: The image counts, for the commands that train: DataSpec field -> (type, help).
COUNT_OPTIONS: dict[str, tuple[Any, str]] = {
    "n_train": (int, "Use only the first N training images."),
    "n_test": (int, "Use only the first N test images."),
}

#: The options and arguments several commands take besides those, as Typer parameter types.
ModelArgument = Annotated[str | None, typer.Argument(help=TrainConfig.__dataclass_fields__["model"].metadata["help"])]
RunArgument = Annotated[Path, typer.Argument(help="A run folder written by 'twistfm train'.")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help=DATA_OPTIONS["data_dir"][1])]
RunsRoot = Annotated[Path, typer.Option("--runs", help="Folder where run folders are created.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: same seed, same machine, same numbers.")]
SeedCount = Annotated[int, typer.Option(
    "--seeds", help="Train every model with this many seeds (--seed, --seed + 1, ...) and report mean, deviation and range.")]

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _fields() -> list[dataclasses.Field]:
    """TrainConfig's option fields (all but the model, which is the commands' argument)."""
    return [f for f in dataclasses.fields(TrainConfig) if f.name != "model"]


def flag(name: str) -> str:
    """The command-line flag of TrainConfig field (or data option) ``name``, e.g. ``--model-arg``, ``--batch-size``."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    return fields[name].metadata.get("flag", _dashed(name)) if name in fields else _dashed(name)


def _dashed(name: str) -> str:
    return "--" + name.replace("_", "-")


def help_text(field: dataclasses.Field) -> str:
    """A field's help with its default, shown as ``[default: 0.001]`` before the final full stop (none for None or {})."""
    help = field.metadata["help"]
    default = field.default
    if default is dataclasses.MISSING or default is None:
        return help
    shown = "off" if default is False else "on" if default is True else f"{default:g}" if isinstance(default, float) \
        else str(default)
    return f"{help.removesuffix('.')} [default: {shown}]."


def _option_type(field: dataclasses.Field) -> Any:
    """The type a command-line option of ``field`` takes (None while not given): NAME=VALUE words for a dict."""
    hint = typing.get_type_hints(TrainConfig)[field.name]
    if typing.get_origin(hint) is dict:
        return list[str] | None
    return hint | None if type(None) not in typing.get_args(hint) else hint


def training_parameters() -> list[inspect.Parameter]:
    """The training options of ``twistfm train`` and ``compare``: one per TrainConfig field, None while not given."""
    parameters = []
    for field in _fields():
        decls = [flag(field.name)]
        if typing.get_type_hints(TrainConfig)[field.name] is bool:
            decls = [f"{decls[0]}/--no-{decls[0][2:]}"]
        option = typer.Option(*decls, help=help_text(field))
        parameters.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                            annotation=Annotated[_option_type(field), option]))
    return parameters


def training_overrides(options: Mapping[str, Any]) -> dict[str, Any]:
    """The TrainConfig fields a parsed command line gives (in field order), ``model_args`` parsed from NAME=VALUE."""
    given = {f.name: options[f.name] for f in _fields() if options.get(f.name) not in (None, [])}
    if "model_args" in given:
        given["model_args"] = parse_model_args(given["model_args"])
    return given


def parse_model_args(values: Sequence[str]) -> dict[str, Any]:
    """``--model-arg NAME=VALUE`` words as a dict; a VALUE is JSON where it parses (48, true, [1, 2]), else text."""
    args: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise OptionError(f"--model-arg {item!r}: write it as NAME=VALUE, e.g. width=48")
        try:
            args[key] = json.loads(raw)
        except json.JSONDecodeError:
            args[key] = raw
    return args


def _model_arg_value(value: Any) -> str:
    """A model argument's VALUE word: text as it is where it reads back as the same text, else JSON."""
    if isinstance(value, str) and parse_model_args([f"x={value}"])["x"] == value:
        return value
    return json.dumps(value)


def train_argv(config: TrainConfig) -> list[str]:
    """The ``twistfm train`` arguments that name ``config``: its model, then each field that differs from its default.

    Model arguments come last, as ``--model-arg NAME=VALUE``; parsing these words gives ``config`` back.
    """
    words = [config.model]
    defaults = TrainConfig(model=config.model)
    for field in _fields():
        value = getattr(config, field.name)
        if field.name == "model_args" or value == getattr(defaults, field.name):
            continue
        option = flag(field.name)
        words += [option if value else f"--no-{option[2:]}"] if isinstance(value, bool) else [option, str(value)]
    words += [w for k, v in config.model_args.items() for w in (flag("model_args"), f"{k}={_model_arg_value(v)}")]
    return words


def data_parameters(counts: bool = True) -> list[inspect.Parameter]:
    """The data options (and, with ``counts``, ``--n-train`` and ``--n-test``) as keyword parameters, None by default."""
    declared = {**(COUNT_OPTIONS if counts else {}), **DATA_OPTIONS}
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[kind | None, typer.Option(_dashed(name), help=help)])
            for name, (kind, help) in declared.items()]


def _data_values(options: Mapping[str, Any]) -> dict[str, Any]:
    return {name: options[name] for name in (*COUNT_OPTIONS, *DATA_OPTIONS) if options.get(name) is not None}


def data_spec(options: Mapping[str, Any]) -> DataSpec:
    """The checked DataSpec the data options in ``options`` name (folders and files as text)."""
    spec = DataSpec(**{k: str(v) if isinstance(v, Path) else v for k, v in _data_values(options).items()})
    spec.check()
    return spec


def data_flags(options: Mapping[str, Any]) -> list[str]:
    """The data options given in ``options``, as ``--name`` words."""
    return [_dashed(name) for name in _data_values(options)]


def data_argv(data: DataSpec) -> list[str]:
    """The command-line words that name ``data`` (its source, reading options and counts), to repeat a run."""
    words = []
    for name in ("csv_dir", "data_dir", "n_train", "n_test"):
        if getattr(data, name) is not None:
            words += [_dashed(name), str(getattr(data, name))]
    return words + data.reading_options()


def with_options(*groups: Sequence[inspect.Parameter]) -> Callable[[_Command], _Command]:
    """Give a command function that takes ``**options`` the parameters of ``groups``, for Typer to read.

    They come after the function's own positional parameters and before its own keyword-only
    ones (so ``--runs`` stays last in the help); the command receives them in ``options``.
    """
    def apply(command: _Command) -> _Command:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        head = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        tail = [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]
        command.__signature__ = signature.replace(parameters=[*head, *(p for g in groups for p in g), *tail])
        return command
    return apply


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option VALUE`` or ``option=VALUE`` (a command line to start again, e.g. under torchrun)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out
