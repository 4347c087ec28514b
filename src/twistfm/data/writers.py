"""Write a dataset in each layout the readers take: an image folder, a pixel table, an image table, a ``.npz``.

Each writer is the inverse of its reader (:func:`~twistfm.data.read_image_folder`,
:func:`~twistfm.data.read_table`, :func:`~twistfm.data.read_npz`): reading what it wrote
gives the same images and labels. They convert data for other tools, and build the
tests' and benches' sources.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from ..errors import OptionError
from .dataset import Dataset

__all__ = ["png_bytes", "write_image_folder", "write_pixel_table", "write_image_table", "write_npz"]


def png_bytes(image: np.ndarray) -> bytes:
    """One uint8 image, (H, W) grey or (H, W, 3) colour, as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _label_name(dataset: Dataset, value: int) -> str:
    name = dataset.name_of(value)
    return str(int(value)) if name is None else name


def write_image_folder(dataset: Dataset, folder: str | os.PathLike, *, splits: bool = True) -> Path:
    """PNG files in ``folder/train/<label>/`` and ``folder/test/<label>/`` (or ``folder/<label>/`` for both
    splits together when ``splits`` is False), named by split and index.

    ``folder`` must not exist yet: the files are written into a temporary folder beside it,
    renamed to ``folder`` when all are written (so it appears whole or not at all).
    """
    root = Path(folder)
    if root.exists():
        raise OptionError(f"{root}: exists already; give a new folder to write the images into")
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    try:
        for split in ("train", "test"):
            x, y, _ = dataset.split(split)
            for i, (image, value) in enumerate(zip(x, y, strict=True)):
                target = (work / split if splits else work) / _label_name(dataset, value)
                target.mkdir(parents=True, exist_ok=True)
                (target / f"{split}-{i:06d}.png").write_bytes(png_bytes(image))
        os.chmod(work, 0o777 & ~_umask())
        os.replace(work, root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return root


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _frame(dataset: Dataset, split: str | None, pixels: bool):
    import pandas as pd

    parts = []
    for name in ("train", "test") if split is None else (split,):
        x, y, _ = dataset.split(name)
        labels = [_label_name(dataset, v) for v in y] if dataset.label_names else y
        if pixels:
            if x.ndim != 3:
                raise OptionError("pixel columns hold grey images only; write colour images as an image table")
            frame = pd.DataFrame(x.reshape(len(x), -1), columns=[f"pixel{i}" for i in range(1, x[0].size + 1)])
            frame.insert(0, "label", labels)
        else:
            frame = pd.DataFrame({"image": [{"bytes": png_bytes(image), "path": None} for image in x],
                                  "label": labels})
        if split is None:
            frame["split"] = name
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def write_pixel_table(dataset: Dataset, path: str | os.PathLike, split: str | None = None) -> Path:
    """Kaggle's layout (``label``, ``pixel1`` ... ``pixelN``) as ``.csv``, ``.csv.gz`` or ``.parquet``: one
    split, or both with a ``split`` column when ``split`` is None."""
    path = Path(path)
    frame = _frame(dataset, split, pixels=True)
    with atomic_open(path, "wb") as out:
        if path.suffix == ".parquet":
            frame.to_parquet(out, index=False)
        else:
            frame.to_csv(out, index=False, compression="gzip" if path.suffix == ".gz" else None)
    return path


def write_image_table(dataset: Dataset, path: str | os.PathLike, split: str | None = None) -> Path:
    """Hugging Face's layout as Parquet: an ``image`` column of ``{"bytes": PNG, "path": None}`` and ``label``
    (and ``split`` when ``split`` is None)."""
    path = Path(path)
    with atomic_open(path, "wb") as out:
        _frame(dataset, split, pixels=False).to_parquet(out, index=False)
    return path


def write_npz(dataset: Dataset, path: str | os.PathLike) -> Path:
    """``x_train``, ``y_train``, ``x_test``, ``y_test`` (and ``label_names`` when named) as a ``.npz`` file."""
    path = Path(path)
    arrays = {"x_train": dataset.x_train, "y_train": dataset.y_train, "x_test": dataset.x_test,
              "y_test": dataset.y_test}
    if dataset.label_names is not None:
        arrays["label_names"] = np.array(dataset.label_names)
    with atomic_open(path, "wb") as out:
        np.savez(out, **arrays)
    return path
