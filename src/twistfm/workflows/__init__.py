"""The workflows: each strings the stages together for one job and decides where its results go.

Training and resuming (:mod:`.training`), comparing models (:mod:`.comparison`), the
commands on one run: layers, encoding, analysis, discovery (:mod:`.per_run`), the study and
its report (:mod:`.study`), a dataset's labels (:mod:`.labels`) and exports for other tools
(:mod:`.export`). The stages know nothing of each other; results reach files only through
:class:`~twistfm.runs.RunDir`. The CLI calls one of these per command; so can a notebook
(through :mod:`twistfm.api`).
"""

from ..analysis import MIN_MATCHED, compute_analysis, decode_dataset, discovery_layer, reference_classifier
from ..recipes import COMPARE_PRESETS, PRESETS, StudyPreset, compare_preset
from .comparison import Comparison, compare, comparison_stats
from .export import export_data, export_table
from .labels import data_info, decode, label_warnings
from .per_run import analyse_run, discover_run, encode_run, load_analysis, run_layers, write_analysis
from .study import StudyResult, rebuild_report, run_study, study_command
from .training import resume, train

__all__ = ["StudyPreset", "PRESETS", "COMPARE_PRESETS", "Comparison", "StudyResult", "train", "resume", "compare",
           "run_study", "analyse_run", "load_analysis", "write_analysis", "encode_run", "decode", "reference_classifier",
           "data_info", "label_warnings",
           "export_data", "run_layers", "compare_preset", "compute_analysis", "decode_dataset", "MIN_MATCHED",
           "discover_run", "export_table", "discovery_layer", "comparison_stats", "study_command", "rebuild_report"]
