"""NumPy files: a ``.npz`` archive of ``x_train``, ``y_train``, ``x_test`` and ``y_test``.

The arrays follow :meth:`Dataset.from_arrays`'s rules (grey ``N x H x W`` or colour
``N x H x W x 3`` uint8 images, integer labels); an optional ``label_names`` array of
strings names the label values in sorted order. Pickled (object) arrays are never loaded.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset

__all__ = ["ARRAY_KEYS", "read_npz"]

#: The arrays a ``.npz`` file must hold.
ARRAY_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
_OPTIONAL = ("label_names",)


def _check_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse an array whose header claims more data than its member holds, before allocating it."""
    for info in archive.infolist():
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(member)
            held = info.file_size - member.tell()
        if dtype.hasobject:  # pickled: np.load refuses it with its own line
            continue
        claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if claimed > held:
            raise DataError(f"{path}: {info.filename} declares a {' x '.join(map(str, shape))} {dtype} array "
                            f"({claimed:,} bytes) but holds {held:,} bytes; the file is truncated or corrupt, write "
                            "it again with numpy.savez")


def read_npz(path: str | os.PathLike) -> Dataset:
    """Read a ``.npz`` file written by ``numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)``.

    Raises
    ------
    DataError
        For a file that is not a NumPy ``.npz`` archive, a missing or unknown array, a pickled
        array, or arrays that :meth:`Dataset.from_arrays` refuses (the message names the file).
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: is {'a folder' if path.is_dir() else 'not a regular file'}; give a .npz file")
    if path.suffix.lower() != ".npz":
        raise DataError(f"{path}: --arrays takes a .npz file (numpy.savez); for tables use --table")
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                raise DataError(f"{path}: not a NumPy .npz archive (it is no zip file); write it with numpy.savez")
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            missing = [k for k in ARRAY_KEYS if k not in keys]
            if missing:
                raise DataError(f"{path}: no array {missing[0]!r}; the file holds {', '.join(keys) or 'no arrays'} and "
                                f"needs {', '.join(ARRAY_KEYS)}")
            unknown = [k for k in keys if k not in ARRAY_KEYS + _OPTIONAL]
            if unknown:
                raise DataError(f"{path}: array {unknown[0]!r} is not one twistfm reads (it reads "
                                f"{', '.join(ARRAY_KEYS + _OPTIONAL)}); save the file without it")
            _check_sizes(path, archive.zip)
            arrays = {k: archive[k] for k in keys}
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except ValueError as exc:
        what = "holds pickled (object) arrays, which twistfm never loads" if "pickle" in str(exc) else f"({exc})"
        raise DataError(f"{path}: {what}; save plain numeric arrays with numpy.savez") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a NumPy .npz archive ({exc}); write it with numpy.savez") from None
    names = arrays.pop("label_names", None)
    if names is not None and names.dtype.kind not in "US":
        raise DataError(f"{path}: label_names holds {names.dtype} values; give an array of strings")
    try:
        return Dataset.from_arrays(**arrays, label_names=None if names is None else [str(n) for n in names],
                                   source=f"NumPy file {path.resolve()}").with_origin({"arrays": str(path.resolve())})
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
