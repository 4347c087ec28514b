"""The folder itself: creating it exclusively, its lock, paths that stay inside it, and its JSON files.

Every other part of a run folder (:mod:`twistfm.runs`) builds on :class:`RunPaths`: it
names the folders every run may hold (figures, encodings) and the files a comparison or a
study adds at its top.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..atomic import make_folder
from ..errors import RunError
from ..lock import hold

__all__ = ["RunPaths", "MAX_JSON_BYTES"]

#: The largest JSON file a run holds (an analysis of 70,000 images is a few MB; its arrays are .npy files).
MAX_JSON_BYTES = 256 * 2**20

_Folder = TypeVar("_Folder", bound="RunPaths")


class RunPaths:
    """A folder of twistfm's: its path, creation, lock and the files every kind of run may hold.

    Parameters
    ----------
    path : path-like
        The folder. Use :meth:`create` for a new one.
    """

    FIGURES = "figures"
    ENCODING = "encoding"
    REPORT = "report.html"
    SUMMARY_JSON = "summary.json"
    COMPARISON_MD = "comparison.md"
    COMPARISON_CSV = "comparison.csv"
    COMPARE = "compare"
    LOCK = ".lock"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def name(self) -> str:
        """The folder's name."""
        return self.path.name

    @classmethod
    def create(cls: type[_Folder], name: str, root: str | os.PathLike = "runs", stamp: str | None = None) -> _Folder:
        """Create a fresh run folder ``root/<stamp>-<name>``; never reuses one.

        ``os.mkdir`` is atomic, so concurrent callers racing for the same stamp get
        different suffixes (``-2``, ``-3``, ...). ``stamp`` defaults to the current time.
        """
        root = make_folder(root)
        stem = f"{stamp or time.strftime('%Y%m%d-%H%M%S')}-{name}"
        for n in range(1, 10_000):
            path = root / (stem if n == 1 else f"{stem}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise RunError(f"{path}: cannot create the run folder ({exc.strerror})") from None
            return cls(path)
        raise RunError(f"{root}: could not create a new run folder for {name!r}")

    def lock(self, command: str, log: Callable[[str], None] | None = None) -> contextlib.AbstractContextManager:
        """Hold the run's lock (``.lock``: the holder's PID, command and start time) during a ``with`` block.

        A second writer refuses at once with one line naming the holder; the lock of a killed
        holder is taken over (``log`` says so).
        """
        if not self.path.is_dir():
            raise RunError(f"{self.path}: run folder not found")
        return hold(self / self.LOCK, command, log)

    def inside(self, path: str | os.PathLike) -> Path:
        """``path``, refused when it leads outside the run folder through a symbolic link.

        Nothing is read, written or deleted through a link that leaves the run: a link made by
        mistake (or on purpose) must never let a command touch another folder.
        """
        path = Path(path)
        root = self.path.resolve()
        try:
            target = path.resolve()
        except (OSError, RuntimeError):  # a loop of links
            raise RunError(f"{path}: a loop of symbolic links; remove the link and run the command again") from None
        if target != root and root not in target.parents:
            raise RunError(f"{path}: leads outside the run folder (to {target}) through a symbolic link; twistfm "
                           f"reads and writes only inside {self.path}: remove the link and run the command again")
        return path

    def _folder(self, name: str) -> Path:
        """The sub-folder ``name`` of the run, created if needed, refused if it is a link leading outside."""
        return make_folder(self.inside(self / name))

    def read_json(self, name: str) -> dict[str, Any]:
        """A JSON object from the run folder, as a RunError when missing or corrupt."""
        path = self.inside(self / name)
        if path.is_dir():
            raise RunError(f"{path}: is a folder, not a file; the run is corrupt (re-run the command that writes it)")
        try:
            size = path.stat().st_size
            if size > MAX_JSON_BYTES:
                raise RunError(f"{path}: {size:,} bytes, far more than a twistfm run file holds; the run is corrupt")
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{path}: missing; is {self.path} a complete twistfm run?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"{path}: not valid JSON ({exc}); the run is corrupt") from None
        except RecursionError:
            raise RunError(f"{path}: nested too deeply to be a twistfm run file; the run is corrupt") from None
        except OSError as exc:
            raise RunError(f"{path}: cannot read ({exc.strerror})") from None
        if not isinstance(value, dict):
            raise RunError(f"{path}: expected a JSON object; the run is corrupt")
        return value

    def figure(self, name: str) -> Path:
        """Path of figure ``name`` (``figures/<name>.png``); the folder is created."""
        return self._folder(self.FIGURES) / f"{name}.png"

    def encoding(self, layer: str, split: str) -> Path:
        """Path of the encoding of ``split`` at ``layer`` (``encoding/<layer>-<split>.npy``)."""
        return self._folder(self.ENCODING) / f"{layer}-{split}.npy"

    def labels(self, split: str) -> Path:
        """Path of the labels saved beside an encoding of ``split``."""
        return self._folder(self.ENCODING) / f"labels-{split}.npy"

    def table(self, name: str) -> Path:
        """Path of a CSV table ``name`` at the top of the run folder."""
        return self / f"{name}.csv"
