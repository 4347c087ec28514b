"""Run folders: the one owner of every path, file name and file format inside a run or a sweep.

A training run holds ``config.json`` (format version, kind, training config, data spec with
its fingerprint, processes, global batch, precision), ``history.csv`` (rewritten after every
epoch), ``metrics.json``, ``model.safetensors`` + ``model.json``, ``summary.txt``,
``figures/``, ``encoding/`` and, after analysis, ``analysis/`` (and ``discovery.json``);
while training, ``checkpoint.safetensors`` + ``checkpoint.json``; while a command writes,
``.lock``. A comparison or a study is a run folder of another kind holding its models' run
folders (``compare/``), ``comparison.md``, ``comparison.csv``, ``summary.json`` and
``report.html``. A sweep folder (:class:`SweepDir`) holds ``ended/``, ``trials/``, ``ray/``,
``sweep.csv``, ``sweep.md`` and ``best-command.txt``.

Folders are created with an exclusive ``mkdir``, so two runs started at the same moment
never share one. Every file is read back through a schema check, and weights only with
safetensors: nothing here ever unpickles. Each part of a folder is one module
(:mod:`~twistfm.runs.folder`, :mod:`~twistfm.runs.config`, :mod:`~twistfm.runs.records`,
:mod:`~twistfm.runs.weights`, :mod:`~twistfm.runs.checkpoint`, :mod:`~twistfm.runs.analysis`,
:mod:`~twistfm.runs.sweep`) naming its own files; :class:`RunDir` is all of them together.
"""

from __future__ import annotations

from .analysis import AnalysisStore
from .checkpoint import CheckpointFiles
from .config import RUN_VERSION, ConfigFile, RunConfig
from .records import HISTORY_FIELDS, RecordFiles
from .sweep import SweepDir
from .weights import WeightFiles

__all__ = ["HISTORY_FIELDS", "RUN_VERSION", "RunConfig", "RunDir", "SweepDir"]


class RunDir(AnalysisStore, CheckpointFiles, WeightFiles, RecordFiles, ConfigFile):
    """A run folder and everything in it.

    Each part (config, records, weights, checkpoint, analysis) is a class of its own module
    that names its files; a RunDir is all of them, so every part is one call away
    (``run.load_model()``, ``run / RunDir.CONFIG``).

    Parameters
    ----------
    path : path-like
        The folder. Use :meth:`create` for a new run and :meth:`open` for an existing one.
    """
