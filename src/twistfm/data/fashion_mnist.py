"""Find, download, verify and read the four original Fashion-MNIST archives (IDX format).

Search order for the archives: an explicit ``data_dir``, ``$TWISTFM_DATA``, the user cache
(``~/.cache/twistfm/fashion-mnist``), then Debian's ``/usr/share/datasets/fashion-mnist``
(package ``dataset-fashion-mnist``). If none holds them, they are downloaded into the cache
from the official mirrors and verified before use.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from ..errors import DataError
from ..progress import is_interactive, say

__all__ = [
    "ARCHIVES",
    "KNOWN_SHA256",
    "MIRRORS",
    "DEBIAN_DIR",
    "Archives",
    "cache_dir",
    "search_dirs",
    "locate_archives",
    "download_archives",
    "verify_archive",
    "read_idx",
    "load_fashion_mnist",
]

#: The four archives by (split, kind).
ARCHIVES: dict[tuple[str, str], str] = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("test", "images"): "t10k-images-idx3-ubyte.gz",
    ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
}

#: Accepted SHA-256 sums of each archive: the official mirrors' files, and Debian's package,
#: which recompresses the same IDX payload (so its gzip bytes have sums of their own).
KNOWN_SHA256: dict[str, frozenset[str]] = {
    "train-images-idx3-ubyte.gz": frozenset({
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    }),
    "train-labels-idx1-ubyte.gz": frozenset({
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    }),
    "t10k-images-idx3-ubyte.gz": frozenset({
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    }),
    "t10k-labels-idx1-ubyte.gz": frozenset({
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    }),
}

#: Official mirrors, tried in order.
MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

_REMEDY = (
    "install them with 'apt-get install dataset-fashion-mnist' or point "
    "--data-dir (or $TWISTFM_DATA) at a folder holding the four *-ubyte.gz archives"
)
_IDX_DTYPES = {0x08: np.uint8}


@dataclass(frozen=True)
class Archives:
    """Where the four archives were found.

    Attributes
    ----------
    directory : Path
        The folder holding all four files.
    origin : str
        How it was found: ``"--data-dir"``, ``"$TWISTFM_DATA"``, ``"cache"``, ``"debian"``
        or ``"download"``.
    """

    directory: Path
    origin: str


def cache_dir() -> Path:
    """The user cache folder where downloads are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "twistfm" / "fashion-mnist"


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """The folders searched for the archives, in order, each with its origin name."""
    dirs: list[tuple[Path, str]] = []
    if data_dir is not None:
        dirs.append((Path(data_dir), "--data-dir"))
    if os.environ.get("TWISTFM_DATA"):
        dirs.append((Path(os.environ["TWISTFM_DATA"]), "$TWISTFM_DATA"))
    dirs.append((cache_dir(), "cache"))
    dirs.append((DEBIAN_DIR, "debian"))
    return dirs


def _has_all(directory: Path) -> bool:
    return all((directory / name).is_file() for name in ARCHIVES.values())


def locate_archives(
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    mirrors: tuple[str, ...] = MIRRORS,
) -> Archives:
    """Find the four archives, downloading them into the cache if no folder has them.

    Parameters
    ----------
    data_dir : path-like, optional
        A folder the user named explicitly. If given it must hold all four archives.
    download : bool, default=True
        Whether to download when no folder has the archives.
    mirrors : tuple of str, default=MIRRORS
        Base URLs to download from, tried in order.

    Raises
    ------
    DataError
        If the archives are nowhere and cannot be downloaded.
    """
    if data_dir is not None:
        directory = Path(data_dir)
        if not directory.is_dir():
            raise DataError(f"{directory}: --data-dir is not a folder; {_REMEDY}")
        missing = [n for n in ARCHIVES.values() if not (directory / n).is_file()]
        if missing:
            raise DataError(f"{directory}: missing {', '.join(missing)}; {_REMEDY}")
        return Archives(directory, "--data-dir")
    named = os.environ.get("TWISTFM_DATA")
    if named and Path(named).exists() and not Path(named).is_dir():
        raise DataError(f"{named}: $TWISTFM_DATA names a file, not a folder; {_REMEDY}")
    for directory, origin in search_dirs(None):
        if _has_all(directory):
            return Archives(directory, origin)
    if not download:
        raise DataError(f"Fashion-MNIST archives not found; {_REMEDY}")
    return download_archives(cache_dir(), mirrors)


def download_archives(directory: Path, mirrors: tuple[str, ...] = MIRRORS) -> Archives:
    """Download any missing archive into ``directory`` and verify each one.

    A download whose SHA-256 is not a known sum is deleted and reported.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name in ARCHIVES.values():
        target = directory / name
        if target.is_file():
            continue
        errors = []
        for base in mirrors:
            try:
                _fetch(base + name, target)
                break
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                errors.append(f"{base}: {getattr(exc, 'reason', exc)}")
        else:
            raise DataError(
                f"Fashion-MNIST archives not found and the download failed "
                f"({'; '.join(errors)}); {_REMEDY}"
            )
        try:
            verify_archive(target)
        except DataError:
            target.unlink(missing_ok=True)
            raise
    return Archives(directory, "download")


def _fetch(url: str, target: Path) -> None:
    say(f"downloading {url}")
    with urllib.request.urlopen(url, timeout=30) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with atomic_open(target, "wb") as out:
            if is_interactive():
                from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

                with Progress(*Progress.get_default_columns(), DownloadColumn(),
                              TransferSpeedColumn(), transient=True) as bar:
                    task = bar.add_task(target.name, total=total)
                    while chunk := response.read(1 << 16):
                        out.write(chunk)
                        bar.advance(task, len(chunk))
            else:
                while chunk := response.read(1 << 16):
                    out.write(chunk)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_archive(path: Path) -> None:
    """Check the SHA-256 of one archive against the known sums.

    Raises
    ------
    DataError
        If the file's sum is not one of the known sums for its name.
    """
    path = Path(path)
    known = KNOWN_SHA256.get(path.name)
    if known is None:
        raise DataError(f"{path}: not a Fashion-MNIST archive name")
    actual = _sha256(path)
    if actual not in known:
        raise DataError(
            f"{path}: SHA-256 {actual[:16]}... matches no known Fashion-MNIST archive "
            "(corrupted or truncated); delete it and fetch it again"
        )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzipped or raw, checking its magic number and size.

    Returns
    -------
    numpy.ndarray
        uint8 array of the shape the header declares.

    Raises
    ------
    DataError
        If the file is missing, truncated, not gzip/IDX, or its size disagrees with its header.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: unreadable or corrupted gzip archive ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: bad IDX magic number; is this a Fashion-MNIST file?")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{path}: IDX header declares shape {shape} ({expected} bytes) "
            f"but the file has {len(raw)} bytes; the file is truncated or corrupted"
        )
    return np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=header).reshape(shape).copy()


def load_fashion_mnist(
    split: str, data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray, Archives]:
    """Load one split of the original Fashion-MNIST.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : path-like, optional
        Explicit folder with the archives (see :func:`locate_archives`).
    download : bool, default=True

    Returns
    -------
    images : ndarray of uint8, shape (N, 28, 28)
    classes : ndarray of int64, shape (N,)
        Original class ids 0..9.
    archives : Archives
        Where the data came from.
    """
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    archives = locate_archives(data_dir, download=download)
    images, classes = _load_split(archives.directory, split)
    return images, classes, archives


@lru_cache(maxsize=4)
def _load_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    paths = {kind: directory / ARCHIVES[(split, kind)] for kind in ("images", "labels")}
    for path in paths.values():
        verify_archive(path)
    images = read_idx(paths["images"])
    classes = read_idx(paths["labels"]).astype(np.int64)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or classes.ndim != 1:
        raise DataError(f"{paths['images']}: expected (N, 28, 28) images and (N,) labels")
    if len(images) != len(classes):
        raise DataError(f"{directory}: {len(images)} images but {len(classes)} labels in {split}")
    images.setflags(write=False)
    classes.setflags(write=False)
    return images, classes
