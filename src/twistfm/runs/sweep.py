"""A sweep folder: ``config.json`` (the spec and its trials), ``ended/`` (a record of each trial that ended),
``trials/`` (one ordinary run folder per trial), ``ray/`` (Ray Tune's experiment state), and at the end
``sweep.csv``, ``sweep.md`` and ``best-command.txt``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import make_folder, write_json, write_text
from ..errors import RunError
from .config import ConfigFile

__all__ = ["SweepDir"]


class SweepDir(ConfigFile):
    """A sweep's folder and everything in it (a run folder of kind ``"sweep"``).

    Parameters
    ----------
    path : path-like
        The folder. Use :meth:`create` for a new sweep and :meth:`open` (``kind="sweep"``) for one under way.
    """

    ENDED = "ended"
    TRIALS = "trials"
    EXPERIMENT = "ray"
    SWEEP_CSV = "sweep.csv"
    SWEEP_MD = "sweep.md"
    BEST_COMMAND = "best-command.txt"

    def trials(self) -> list[dict[str, Any]]:
        """The trials config.json lists, each its sample of the space."""
        trials = self.run_config().fields.get("trials")
        if not isinstance(trials, list) or not all(isinstance(t, dict) for t in trials):
            raise RunError(f"{self / self.CONFIG}: field 'trials' is missing or not a list; the sweep is corrupt")
        return trials

    @property
    def trials_root(self) -> Path:
        """The folder (absolute) the trials' run folders go into."""
        return (self / self.TRIALS).resolve()

    @property
    def experiment_root(self) -> Path:
        """The folder (absolute) Ray Tune keeps its experiment state in."""
        return (self / self.EXPERIMENT).resolve()

    def write_ended(self, index: int, record: dict[str, Any]) -> None:
        """Record trial ``index`` as ended (``ended/<index>.json``)."""
        make_folder(self / self.ENDED)
        write_json(self / self.ENDED / f"{index:04d}.json", record)

    def ended(self) -> dict[int, dict[str, Any]]:
        """The records of the trials that ended (finished, or stopped by the scheduler), by index."""
        ended = {}
        for path in sorted((self / self.ENDED).glob("*.json")) if (self / self.ENDED).is_dir() else []:
            record = self.read_json(f"{self.ENDED}/{path.name}")
            ended[int(record["index"])] = record
        return ended

    def write_results(self, table_csv: str, table_markdown: str, best_command: str) -> None:
        """Write the table of every trial (``sweep.csv``, ``sweep.md``) and the best trial's command line."""
        write_text(self / self.SWEEP_CSV, table_csv)
        write_text(self / self.SWEEP_MD, table_markdown)
        write_text(self / self.BEST_COMMAND, best_command + "\n")
