"""``config.json``: what a run is (its kind and format version) and everything to repeat it, read once.

Every run folder holds one, written by the command that created it. A training run records
its training config, its data (a :class:`~twistfm.data.DataSpec` with the data's
fingerprint), the number of processes, the global batch and the precision asked, used and
why; a comparison or a study its models and data; a sweep its spec and trials.
:meth:`ConfigFile.run_config` reads it once per folder as a :class:`RunConfig`, checked.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .. import __version__
from ..atomic import write_json
from ..data import DataSpec
from ..errors import RunError
from ..schema import from_json
from ..training.config import TrainConfig
from .folder import RunPaths

__all__ = ["RUN_VERSION", "RunConfig", "ConfigFile"]

#: Version of the run-folder format; a run of another version is refused with a clear line.
RUN_VERSION = 2

#: The fields every config.json starts with.
_STAMPS = ("twistfm_run_version", "twistfm_version", "kind")

#: The kinds of run whose config records the data they used.
_WITH_DATA = ("train", "compare", "study")

_Config = TypeVar("_Config", bound="ConfigFile")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A run's ``config.json``, checked.

    Attributes
    ----------
    kind : str
        ``"train"``, ``"compare"``, ``"study"`` or ``"sweep"``.
    version : int
        The run-folder format version (:data:`RUN_VERSION`).
    twistfm_version : str
        The twistfm that wrote the run.
    fields : dict
        Every field after the version stamps and the kind, as written (the kind's own:
        a study's ``preset``, ``seed``, ``seeds``, ``epochs``, ``analyzed`` and ``models``; a
        sweep's ``spec`` and ``trials``). Not to be changed.
    train : TrainConfig or None
        The training config of a training run.
    data : DataSpec or None
        The data a training run, comparison or study used.
    processes, global_batch : int or None
        How many processes trained a training run, and their batch together.
    precision : str or None
        The precision a training run trained in (``"fp32"`` or ``"bf16"``).
    """

    kind: str
    version: int
    twistfm_version: str
    fields: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig | None = None
    data: DataSpec | None = None
    processes: int | None = None
    global_batch: int | None = None
    precision: str | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any], where: str) -> RunConfig:
        """The config of ``raw`` (a config.json whose stamps :meth:`ConfigFile.config` checked)."""
        typed: dict[str, Any] = {}
        if raw["kind"] == "train":
            typed = _training(raw, where)
        elif raw["kind"] in _WITH_DATA:
            typed["data"] = from_json(DataSpec, raw.get("data"), f"{where}: data")
        return cls(kind=raw["kind"], version=raw["twistfm_run_version"], twistfm_version=raw["twistfm_version"],
                   fields={k: v for k, v in raw.items() if k not in _STAMPS}, **typed)


def _training(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """The typed fields of a training run's config."""
    for key in ("processes", "global_batch"):
        if isinstance(raw.get(key), bool) or not isinstance(raw.get(key), int) or raw[key] < 1:
            raise RunError(f"{where}: field {key!r} must be a positive integer, found {raw.get(key)!r}")
    train = TrainConfig.from_json(raw.get("train"), f"{where}: train")
    data = from_json(DataSpec, raw.get("data"), f"{where}: data")
    precision = raw.get("precision")
    if precision is not None and (not isinstance(precision, dict) or precision.get("asked") not in ("auto", "fp32", "bf16")
                                  or not isinstance(precision.get("reason"), str)):
        raise RunError(f"{where}: field 'precision' must be an object with 'asked' (auto, fp32 or bf16), 'used' and "
                       f"'reason', found {precision!r}; the run is corrupt")
    return {"train": train, "data": data, "processes": raw["processes"], "global_batch": raw["global_batch"],
            "precision": _used_precision(raw, where)}


def _used_precision(raw: dict[str, Any], where: str) -> str:
    """The precision a run trained in (runs from before "auto" recorded only the one they asked for)."""
    recorded = raw.get("precision")
    if recorded is None and raw["train"].get("precision") in ("fp32", "bf16"):
        return raw["train"]["precision"]
    if not isinstance(recorded, dict) or recorded.get("used") not in ("fp32", "bf16"):
        raise RunError(f"{where}: field 'precision' must be an object whose 'used' is fp32 or bf16, "
                       f"found {recorded!r}; the run is corrupt")
    return recorded["used"]


class ConfigFile(RunPaths):
    """The part of a run folder that reads and writes ``config.json``; opening a run checks it."""

    CONFIG = "config.json"

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path)
        self._config_cache: dict[str, Any] | None = None
        self._run_config_cache: RunConfig | None = None

    @classmethod
    def open(cls: type[_Config], path: str | os.PathLike, kind: str | None = None) -> _Config:
        """An existing run folder of this version (and of ``kind``, when given).

        Raises
        ------
        RunError
            If the folder is missing, not a twistfm run, of another format version or kind.
        """
        run = cls(path)
        if not run.path.is_dir():
            raise RunError(f"{run.path}: run folder not found")
        if (run / cls.CONFIG).is_dir():
            raise RunError(f"{run / cls.CONFIG}: is a folder, not a file; the run is corrupt (a run's config.json "
                           "is written by the command that created it: start a new run)")
        if not (run / cls.CONFIG).is_file():
            raise RunError(f"{run.path}: not a twistfm run (no {cls.CONFIG})")
        config = run.config()
        if kind is not None and config["kind"] != kind:
            raise RunError(f"{run / cls.CONFIG}: this is a {config['kind']} folder, not a {kind} run; "
                           f"give the folder of one {kind} run")
        return run

    def write_config(self, kind: str, body: dict[str, Any]) -> None:
        """Write ``config.json``: the format version, the kind of run and ``body``."""
        self._config_cache, self._run_config_cache = None, None
        write_json(self / self.CONFIG, {"twistfm_run_version": RUN_VERSION, "twistfm_version": __version__,
                                        "kind": kind, **body})

    def config(self) -> dict[str, Any]:
        """``config.json``, checked for this format version (read from the file once per folder object)."""
        if self._config_cache is None:
            self._config_cache = self._read_config()
        return copy.deepcopy(self._config_cache)

    def run_config(self) -> RunConfig:
        """``config.json`` as a :class:`RunConfig`, checked for its kind; read once per folder object.

        Raises
        ------
        RunError
            If a field is missing, mistyped or out of range, naming the file and the field.
        """
        if self._run_config_cache is None:
            self._run_config_cache = RunConfig.from_json(self.config(), str(self / self.CONFIG))
        return self._run_config_cache

    def _read_config(self) -> dict[str, Any]:
        config = self.read_json(self.CONFIG)
        version = config.get("twistfm_run_version")
        if version != RUN_VERSION:
            raise RunError(f"{self / self.CONFIG}: run format version {version!r}, this twistfm reads version "
                           f"{RUN_VERSION}; re-run the training with this version")
        for key in ("kind", "twistfm_version"):
            if not isinstance(config.get(key), str):
                raise RunError(f"{self / self.CONFIG}: field {key!r} is missing or not a string; the run is corrupt")
        return config
