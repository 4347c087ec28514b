"""Data for other tools: the built-in data as the seeds' CSV files, and a run's analysis as one Parquet table."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import Analysis, point_rows
from ..atomic import refuse_special, write_bytes
from ..data import CLASS_NAMES, export_csv, load_dataset
from ..errors import OptionError
from ..runs import RunDir
from .common import interrupted
from .per_run import load_analysis, run_dataset

__all__ = ["export_data", "export_table"]


def export_data(out: str | Path, data_dir: str | None = None) -> list[Path]:
    """Write the built-in data as the seeds' CSV files (byte for byte), plus the original classes."""
    dataset = load_dataset(data_dir=data_dir)
    with interrupted(lambda: f"interrupted during the export to {out}: the files finished so far are complete and "
                             "the one being written was discarded; run the command again to write them all"):
        return export_csv(dataset, out)


def export_table(path: str | Path, out: str | Path) -> Path:
    """Write one row per analysed image of a run as a Parquet table, for pandas, FiftyOne or Embedding Atlas.

    Columns: ``id`` (the row), ``split``, ``index`` (the row in that split), ``label``,
    ``predicted``, ``correct``, ``class`` (name, where known), each clustering, ``group``
    (the discovery's group inside the label; test images), each projection's ``_x`` and
    ``_y``, ``neighbors`` (``{"ids": [...], "distances": [...]}``, ids being rows) and
    ``image`` (PNG bytes).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise OptionError("export-table needs pyarrow, an optional extra: pip install 'twistfm[table]'") from None
    run = RunDir.open(path, kind="train")
    analysis = load_analysis(run.path)
    out = Path(out)
    if out.is_dir():
        raise OptionError(f"{out}: is a folder; give a file name ending .parquet")
    refuse_special(out)
    images = run_dataset(run).split("all" if analysis.n_train else "test")[0]
    with interrupted(lambda: f"interrupted while writing {out}: nothing was written; run it again"):
        table = pa.table(_table_columns(analysis, images))
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, compression="zstd")
        write_bytes(out, buffer.getvalue().to_pybytes())
    return out


def _table_columns(analysis: Analysis, images: np.ndarray) -> dict[str, Any]:
    import pyarrow as pa

    n, n_train = len(analysis.labels), analysis.n_train
    split, index = point_rows(n_train, n)
    columns: dict[str, Any] = {
        "id": np.arange(n), "split": split, "index": index, "label": analysis.labels,
        "predicted": analysis.predicted, "correct": analysis.predicted == analysis.labels,
        "class": pa.array([CLASS_NAMES[c] if c >= 0 else None for c in analysis.classes], pa.string()),
    }
    for name, clustering in analysis.clusterings.items():
        columns[name] = clustering.labels_
    if analysis.discovery is not None and analysis.discovery.split == "test":
        group = np.full(n, -1)
        group[analysis.test] = analysis.discovery.group + 1
        columns["group"] = pa.array(group, mask=group < 0)
    for method, projection in analysis.projections.items():
        columns[f"{method}_x"], columns[f"{method}_y"] = projection.points[:, 0], projection.points[:, 1]
    nb = analysis.neighbours
    columns["neighbors"] = pa.array([{"ids": ids.tolist(), "distances": d.tolist()} for ids, d in zip(
        nb.index, nb.distance, strict=True)])
    columns["image"] = pa.array([_png(image) for image in images], pa.binary())
    return columns


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
