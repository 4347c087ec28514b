"""The analysis store: ``analysis/`` (``analysis.json``, ``arrays/*.npy``, figures and tables), replaced in one step.

Each analysis is written whole into its own folder under ``.analysis-versions/``; the
``analysis`` link is then switched to it with one atomic rename and the old one removed, so
a run holds the old analysis or the new one, never a mix. Arrays are read without pickles.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_open, make_folder, write_bytes, write_json
from ..errors import RunError
from .folder import RunPaths

__all__ = ["AnalysisStore"]


class AnalysisStore(RunPaths):
    """The part of a run folder that holds its current analysis."""

    ANALYSIS = "analysis"
    ANALYSIS_JSON = "analysis.json"
    ANALYSIS_ARRAYS = "arrays"
    DISCOVERY_JSON = "discovery.json"
    _VERSIONS = ".analysis-versions"

    def check_links(self) -> None:
        """Refuse, before any work, a run whose sub-folders (figures, encoding, analyses) or ``analysis``
        link lead outside it."""
        for name in (self.FIGURES, self.ENCODING, self._VERSIONS):
            self.inside(self / name)
        self._analysis_folder()

    def write_analysis(self, document: dict[str, Any], arrays: dict[str, np.ndarray],
                       files: dict[str, bytes]) -> Path:
        """Replace the analysis in one step: the run holds the old one or the new one, never a mix.

        The new analysis is written whole into a fresh folder; then the ``analysis`` link is
        switched to it with one atomic rename, and the old folder is removed.

        Parameters
        ----------
        document : dict
            Written as ``analysis/analysis.json``.
        arrays : dict
            Written as ``analysis/arrays/<name>.npy``.
        files : dict
            Other files (figures, tables) by their path inside ``analysis/``.
        """
        versions = self._folder(self._VERSIONS)
        new = versions / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        try:
            make_folder(new / self.ANALYSIS_ARRAYS)
            for name, array in arrays.items():
                with atomic_open(new / self.ANALYSIS_ARRAYS / f"{name}.npy", "wb") as handle:
                    np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
            for name, data in files.items():
                make_folder((new / name).parent)
                write_bytes(new / name, data)
            write_json(new / self.ANALYSIS_JSON, document)
            self._switch_analysis(new)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        return self / self.ANALYSIS

    def _switch_analysis(self, new: Path) -> None:
        link = self / self.ANALYSIS
        if link.is_dir() and not link.is_symlink():  # a copied run: its analysis became a real folder
            shutil.rmtree(link)
        for stale in self.path.glob(f".{self.ANALYSIS}-*.link"):  # left by a killed analysis
            stale.unlink(missing_ok=True)
        tmp = self / f".{self.ANALYSIS}-{secrets.token_hex(3)}.link"
        os.symlink(os.path.relpath(new, self.path), tmp)
        os.replace(tmp, link)  # replaces a link, never writes through it
        versions = self.inside(self / self._VERSIONS)
        for old in versions.iterdir():
            if old == new:
                continue
            if old.is_symlink() or not old.is_dir():
                old.unlink(missing_ok=True)
            else:
                shutil.rmtree(old, ignore_errors=True)

    def _analysis_folder(self) -> Path:
        """The folder the ``analysis`` link points to, refused unless it is one of this run's analyses."""
        link = self / self.ANALYSIS
        if not link.is_symlink():
            return self.inside(link)
        versions = (self / self._VERSIONS).resolve()
        target = link.resolve()
        if target.parent != versions or (self / self._VERSIONS).is_symlink():
            raise RunError(f"{link}: points to {target}, not to one of this run's analyses; remove the link and run "
                           f"'twistfm analyze {self.path}' again")
        return link

    @property
    def has_analysis(self) -> bool:
        """Whether the run has a complete analysis."""
        return (self._analysis_folder() / self.ANALYSIS_JSON).is_file()

    def analysis(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The analysis document and its arrays."""
        if not self.has_analysis:
            raise RunError(f"{self.path}: no analysis yet; run 'twistfm analyze {self.path}' first")
        document = self.read_json(f"{self.ANALYSIS}/{self.ANALYSIS_JSON}")
        arrays = {}
        for path in sorted((self._analysis_folder() / self.ANALYSIS_ARRAYS).glob("*.npy")):
            try:
                arrays[path.stem] = np.load(self.inside(path), allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise RunError(f"{path}: corrupt array ({exc}); run the analysis again") from None
        return document, arrays

    def analysis_file(self, name: str) -> Path:
        """Path of a file inside the current analysis."""
        return self.inside(self._analysis_folder() / name)
