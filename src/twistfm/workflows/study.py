"""The whole study (train and compare a preset's models, analyse one, write ``report.html``), and
rebuilding a study's or a run's report from what is on disk."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..analysis import Analysis, AnalysisConfig
from ..atomic import write_json
from ..data import Dataset, DataSpec
from ..errors import Interrupted, OptionError, RunError
from ..progress import say
from ..recipes import PRESETS, study_preset
from ..report import figures as F
from ..report.explorer import explorer_part
from ..report.html import ModelReport, StudyReport, build_report
from ..runs import RunDir
from ..schema import from_json, to_json
from ..train import TrainConfig, TrainResult
from .common import Log, interrupted
from .comparison import compare, comparison_row, comparison_stats
from .per_run import analyse_run, load_analysis, run_dataset
from .training import train_config

__all__ = ["StudyResult", "run_study", "study_command", "rebuild_report"]


@dataclass
class StudyResult:
    """Where the study went and what it found."""

    folder: RunDir
    report: Path
    comparison: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    analysis: Analysis


def run_study(preset: str = "quick", data: DataSpec = DataSpec(), *, seed: int = 0, seeds: int = 1,
              epochs: int | None = None, runs_root: str | Path = "runs", command: str | None = None,
              log: Log = say) -> StudyResult:
    """Run the whole study: train and compare, analyse one model's encoding, write ``report.html``.

    Parameters
    ----------
    preset : {"quick", "seed", "best"}, default="quick"
    data : DataSpec
        The data (built-in by default) and how many images of it.
    seed : int, default=0
    seeds : int, default=1
        Train every model with this many seeds (``seed``, ``seed + 1``, ...); the tables show
        the mean, deviation and range of each model's test accuracy; the first seed's model
        is analysed.
    epochs : int, optional
        Override every model's epochs (quick trials, tests).
    runs_root : path-like, default="runs"
    command : str, optional
        The command line recorded in the report (default: this process's own).
    """
    start = time.perf_counter()
    configs, full, analysis_config = _checked_study(preset, data, seed, epochs)
    folder = RunDir.create(f"study-{preset}", runs_root)
    command = command or "twistfm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    study_config = {"preset": preset, "seed": seed, "seeds": seeds, "epochs": epochs, "data": to_json(data.resolve(full)),
                    "analyzed": study_preset(preset).analyzed, "models": {k: c.to_json() for k, c in configs.items()}}
    with folder.lock("twistfm run", log):
        folder.write_config("study", study_config)
        return _study_stages(folder, study_config, configs, data, full, analysis_config, command, start, log)


def _study_stages(folder: RunDir, study_config: dict[str, Any], configs: dict[str, TrainConfig], data: DataSpec,
                  full: Dataset, analysis_config: AnalysisConfig, command: str, start: float, log: Log) -> StudyResult:
    """Train and compare, analyse, then write ``summary.json`` and the report (which can be rebuilt from it)."""
    analyzed = study_config["analyzed"]
    try:
        comparison = compare(configs, data, seeds=study_config["seeds"], out=folder / RunDir.COMPARE, dataset=full,
                             log=log)
        if log:
            log(f"== analysing the encoding of {analyzed}")
        analysis, figures = analyse_run(comparison.results[analyzed].run.path, analysis_config, dataset=full, log=log)
    except (KeyboardInterrupt, Interrupted):
        raise Interrupted(f"interrupted during the study in {folder}: it is incomplete; start it again with "
                          f"'{command}'") from None
    report_path = folder / RunDir.REPORT
    write_json(folder / RunDir.SUMMARY_JSON, {"report": str(report_path), "comparison": comparison.rows,
                                              "stats": comparison.stats, "meaning": analysis.decoding.as_json(),
                                              "elapsed_seconds": time.perf_counter() - start})
    with interrupted(lambda: f"interrupted while writing the report of the study in {folder}: its models and "
                             f"analysis are complete; write the report with 'twistfm report {folder}'"):
        report = _write_report(folder, study_config, command, full.subset(data.n_train, data.n_test), comparison.rows,
                               comparison.stats, analysis, figures, elapsed=time.perf_counter() - start)
    return StudyResult(folder, report, comparison.rows, comparison.stats, analysis)


def _checked_study(preset: str, data: DataSpec, seed: int,
                   epochs: int | None) -> tuple[dict[str, TrainConfig], Dataset, AnalysisConfig]:
    """Every option of a study checked before anything is written: the configs, the whole data, the analysis config."""
    spec = study_preset(preset)
    if epochs is not None and epochs < 1:
        raise OptionError(f"--epochs must be at least 1, got {epochs}")
    configs = spec.configs(seed, epochs)
    for config in configs.values():
        config.check()
    data.check()
    full = data.load_full()
    analysis_config = AnalysisConfig(seed=seed)
    analysis_config.check(full.used_counts(data.n_train, data.n_test)[1])
    return configs, full, analysis_config


def study_command(preset: str, data: DataSpec, *, seed: int = 0, seeds: int = 1, epochs: int | None = None,
                  runs_root: str | Path = "runs") -> str:
    """The ``twistfm run`` command line that runs this study."""
    words = ["twistfm", "run", "--preset", preset]
    for option, value, default in (("--seed", seed, 0), ("--seeds", seeds, 1), ("--epochs", epochs, None),
                                   ("--n-train", data.n_train, None), ("--n-test", data.n_test, None),
                                   ("--csv-dir", data.csv_dir, None), ("--data-dir", data.data_dir, None)):
        if value != default:
            words += [option, str(value)]
    return shlex.join([*words, *data.reading_options(), "--runs", str(runs_root)])


# ------------------------------------------------------------------ the report, from a study or from disk


def _write_report(folder: RunDir, config: dict[str, Any], command: str, ds: Dataset, rows: list[dict[str, Any]],
                  stats: list[dict[str, Any]], analysis: Analysis, figures: dict[str, bytes], *, elapsed: float,
                  rebuilt: bool = False) -> Path:
    """A study's ``report.html``: its models (the first seed's runs in ``rows``), the comparison and the analysis."""
    compare = RunDir(folder / RunDir.COMPARE)
    firsts = {r["model"]: r for r in reversed(rows)}
    runs = {label: RunDir.open(compare / r["run"], kind="train") for label, r in reversed(firsts.items())}
    preset = PRESETS.get(config["preset"])
    notes = (([f"Preset '{config['preset']}': {preset.description}."] if preset else [])
             + (["This report was rebuilt from the study folder by 'twistfm report'."] if rebuilt else []))
    return build_report(folder / RunDir.REPORT, StudyReport(
        title=f"Twisted Fashion-MNIST study ({config['preset']} preset)", command=command, config=config,
        data_source=ds.source, label_counts=ds.describe(), val_split=train_config(runs[config["analyzed"]])[0].val_split,
        models=[_model_report(label, run) for label, run in runs.items()], comparison=rows, stats=stats,
        comparison_figure=compare.figure(F.COMPARISON).read_bytes(), analyzed=config["analyzed"], analysis=analysis,
        analysis_figures=figures, test_images=ds.x_test,
        explorer=explorer_part(analysis, ds.split(analysis.config.points)[0], analysis.discovery),
        elapsed_seconds=elapsed, notes=notes))


def _model_report(label: str, run: RunDir) -> ModelReport:
    figures = {name: run.figure(name).read_bytes() for name in (F.LOSS, F.ACCURACY, F.CONFUSION)
               if run.figure(name).is_file()}
    return ModelReport(label=label, summary=(run / RunDir.SUMMARY).read_text(encoding="utf-8"),
                       metrics=run.metrics(), figures=figures)


def _analysis_figures(run: RunDir) -> dict[str, bytes]:
    """The figures of the analysis a run holds (PNG bytes by name)."""
    return {p.stem: p.read_bytes() for p in sorted(run.analysis_file(RunDir.FIGURES).glob("*.png"))}


def rebuild_report(path: str | Path, *, train_command: Callable[[TrainConfig, DataSpec], str], log: Log = None) -> Path:
    """Rebuild ``report.html`` of a study folder (``twistfm run``) or an analysed run folder from what is on disk.

    A study's report is rebuilt from its runs' files and the analysed run's current
    analysis (so after ``twistfm analyze`` it shows the new one); a run folder's report
    shows that one model and its analysis, with ``train_command`` (the ``twistfm train``
    line of a config and its data) as the line that repeats it. The old report is
    replaced in one step, under the folder's lock (``log`` says when a killed holder's lock
    is taken over).

    Raises
    ------
    RunError
        If the folder is neither, a run has no analysis yet, or another command holds the
        folder's lock.
    """
    folder = RunDir.open(path)
    kind = folder.config()["kind"]
    if kind not in ("study", "train"):
        raise RunError(f"{folder / RunDir.CONFIG}: a {kind} folder; give a study folder (twistfm run) or a run "
                       "folder (twistfm train)")
    with folder.lock("twistfm report", log), interrupted(
            lambda: f"interrupted while rebuilding the report of {folder}: the previous report.html is kept; run "
                    f"'twistfm report {folder}' again"):
        return _rebuild_study(folder) if kind == "study" else _rebuild_run(folder, train_command)


def _rebuild_study(folder: RunDir) -> Path:
    config, summary = folder.config(), folder.read_json(RunDir.SUMMARY_JSON)
    rows = summary["comparison"]
    analyzed = next(r for r in rows if r["model"] == config["analyzed"])
    run = RunDir.open(folder / RunDir.COMPARE / analyzed["run"], kind="train")
    data = from_json(DataSpec, config["data"], str(folder / RunDir.CONFIG))
    command = study_command(config["preset"], data, seed=config["seed"], seeds=config["seeds"],
                            epochs=config["epochs"], runs_root=folder.path.parent)
    return _write_report(folder, config, command, run_dataset(run), rows, summary["stats"], load_analysis(run.path),
                         _analysis_figures(run), elapsed=float(summary.get("elapsed_seconds", 0.0)), rebuilt=True)


def _rebuild_run(run: RunDir, train_command: Callable[[TrainConfig, DataSpec], str]) -> Path:
    """The report of one analysed run: its model, its one row of results and its analysis."""
    analysis = load_analysis(run.path)
    config, data = train_config(run)
    ds = run_dataset(run)
    result = TrainResult(run, run.load_model()[0], run.history(), run.metrics())
    row = comparison_row(config.model, config, result)
    return build_report(run / RunDir.REPORT, StudyReport(
        title=f"Twisted Fashion-MNIST: {config.model} ({run.name})", command=train_command(config, data),
        config=run.config(), data_source=ds.source, label_counts=ds.describe(), val_split=config.val_split,
        models=[_model_report(config.model, run)], comparison=[row], stats=comparison_stats([row]),
        comparison_figure=F.png(F.comparison_figure({config.model: result.history})), analyzed=config.model,
        analysis=analysis, analysis_figures=_analysis_figures(run), test_images=ds.x_test,
        explorer=explorer_part(analysis, ds.split(analysis.config.points)[0], analysis.discovery),
        notes=["This report of one run was built from its folder by 'twistfm report'."]))
