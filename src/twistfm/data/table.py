"""Tables of images: Kaggle's pixel columns in CSV or Parquet, and Hugging Face's image column in Parquet.

Two layouts, told apart by the columns:

- **pixel columns** (Kaggle's): ``pixel1`` ... ``pixelN`` (or ``pixel0`` ... ``pixelN-1``), one
  row per image, each cell an integer 0..255; N must be a square (``28 x 28``): grey images.
  CSV (``.csv``, ``.csv.gz``, with a header row) or Parquet.
- **an image column** (Hugging Face ``datasets``'s, and ``twistfm export-table``'s): each cell
  an encoded image, as ``{"bytes": ...}`` or plain bytes (PNG, JPEG, BMP or WebP). Parquet.

Beside the images, a label column and, when one file holds both splits, a split column
(``train`` / ``test`` in each row). Each column is found by a rule, refused when the rule
finds more than one, and can be named instead (``label_column``, ``image_column``,
``split_column``):

- label: the column named ``label``; else the one column named ``labels``, ``target``,
  ``class`` or ``y``, or ending in ``label``.
- image: the one column of encoded images.
- split: the column named ``split``.

(:mod:`twistfm.data.columns` applies these rules.) Other columns are not read. The test images
come from the split column, or a second file
of the same layout (``test_table``), or else ``test_fraction`` of each label's rows chosen
with ``seed``. Labels are integers, or names (kept as names, sorted, numbered 0, 1, ...);
a Hugging Face ``ClassLabel`` column keeps the names its file records.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, OptionError
from .columns import TableColumns, find_columns
from .csv import _CHUNK_BYTES, _INT, parse_uint8_rows, raise_first_problem, read_text
from .dataset import Dataset, check_labels, split_by_label
from .images import DEFAULT_TEST_FRACTION, check_fraction, decode_all, label_values_of_names

__all__ = ["TABLE_SUFFIXES", "read_table", "TableColumns"]

#: File name endings of the tables twistfm reads.
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")
_SPLITS = ("train", "test")
_BATCH = 4096


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in sorted(TABLE_SUFFIXES, key=len, reverse=True) if name.endswith(s)), "")


@dataclass
class _Part:
    """One file read: its images, label cells, split cells and where its label names came from."""

    images: np.ndarray
    labels: list[Any]
    split: np.ndarray | None
    class_names: list[str] | None
    columns: TableColumns


def _label_cell(cell: bytes | str | int | None, where: str) -> int | str:
    if cell is None:
        raise DataError(f"{where}: no label (an empty cell); every row needs one")
    if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool):
        return int(cell)
    if isinstance(cell, (float, bool, np.floating)):
        raise DataError(f"{where}: label {cell!r} is a {type(cell).__name__}; labels are integers or names (convert "
                        "the column, e.g. to int)")
    text = cell.decode("utf-8", "replace").strip() if isinstance(cell, bytes) else str(cell).strip()
    if not text:
        raise DataError(f"{where}: no label (an empty cell); every row needs one")
    return text


def _split_cells(values: list[Any], where: Any) -> np.ndarray:
    """``values`` as train/test flags (True = test); DataError naming the first other value via ``where(i)``."""
    out = np.empty(len(values), dtype=bool)
    for i, value in enumerate(values):
        shown = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip() \
            if value is not None else ""
        text = shown.lower()
        if text not in _SPLITS:
            raise DataError(f"{where(i)}: split {shown!r}; the split column holds only 'train' or 'test' (rename or "
                            "drop the other rows)")
        out[i] = text == "test"
    return out


def _read_csv(path: Path, given: dict[str, str | None], resize: tuple[int, int] | None) -> _Part:
    if resize is not None:
        raise OptionError(f"--resize: {path} holds pixel columns, whose images all have one size; leave it out")
    data = read_text(path)
    end = data.find(b"\n")
    header = data if end < 0 else data[:end]
    names = [c.strip().strip(b'"').decode("utf-8", "replace") for c in header.split(b",")]
    if all(_INT.fullmatch(c.strip()) for c in header.split(b",")):
        raise DataError(f"{path}: line 1 is not a header row (it holds numbers); a table needs one, such as "
                        "label,pixel1,...,pixel784")
    if given.get("image"):
        raise DataError(f"{path}: a CSV table holds pixel columns; --image-column is for a Parquet table of encoded "
                        "images")
    columns = find_columns(str(path), names, [], **given)
    first = len(data) if end < 0 else end + 1  # the rows start here (offsets into data: slicing it would copy it)
    if first >= len(data):
        raise DataError(f"{path}: has a header but no rows")
    n_cols, p0, n_pix = len(names), names.index(columns.pixels[0]), len(columns.pixels)
    label_at, split_at = names.index(columns.label), (names.index(columns.split) if columns.split else None)
    n_rows = data.count(b"\n", first) + 1
    images = np.empty((n_rows, n_pix), dtype=np.uint8)
    labels: list[Any] = []
    splits: list[bytes] = []
    row, start = 0, first
    fast = n_cols == n_pix + 1 and split_at is None
    while start < len(data):
        end = data.rfind(b"\n", start, start + _CHUNK_BYTES) if start + _CHUNK_BYTES < len(data) else len(data)
        if end <= start:
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
        chunk = data[start:end]
        rows = chunk.count(b"\n") + 1
        values = parse_uint8_rows(chunk, rows, n_cols) if fast else None
        if values is not None:  # every cell, the label's too, is an integer 0..255
            images[row:row + rows] = np.delete(values, label_at, axis=1)
            labels.extend(values[:, label_at].tolist())
        else:
            images[row:row + rows] = _slow_rows(chunk, path, row + 2, n_cols, p0, n_pix, label_at, split_at, labels,
                                                splits)
        row += rows
        start = end + 1
    del data
    split = None
    if split_at is not None:
        split = _split_cells(splits, lambda i: f"{path}: line {i + 2}, column {split_at + 1}")
    return _Part(images.reshape(n_rows, columns.side, columns.side), labels, split, None, columns)


def _slow_rows(chunk: bytes, path: Path, first_line: int, n_cols: int, p0: int, n_pix: int, label_at: int,
               split_at: int | None, labels: list[Any], splits: list[bytes]) -> np.ndarray:
    """Rows with text beside the pixels: the label and split cells taken out one row at a time, the pixels vectorised."""
    pixel_lines = []
    for k, line in enumerate(chunk.split(b"\n")):
        where = f"{path}: line {first_line + k}"
        if not line.strip():
            raise DataError(f"{where}: empty row; remove blank lines")
        cells = line.split(b",")
        if len(cells) != n_cols:
            raise DataError(f"{where}: {len(cells)} columns, expected {n_cols} (as the header)")
        label = cells[label_at].strip().strip(b'"')
        if not label:
            raise DataError(f"{where}, column {label_at + 1}: empty label cell; every row needs a label")
        labels.append(int(label) if _INT.fullmatch(label) and len(label) < 18 else label.decode("utf-8", "replace"))
        if split_at is not None:
            splits.append(cells[split_at].strip().strip(b'"'))
        pixel_lines.append(b",".join(cells[p0:p0 + n_pix]))
    text = b"\n".join(pixel_lines)
    values = parse_uint8_rows(text, len(pixel_lines), n_pix)
    if values is not None:
        return values
    raise_first_problem(text, path, first_line, n_pix, p0)
    raise DataError(f"{path}: lines {first_line}.. cannot be read as pixels 0..255")  # pragma: no cover


def _read_parquet(path: Path, given: dict[str, str | None], resize: tuple[int, int] | None) -> _Part:
    pa, handle, schema = _open_parquet(path)
    columns = _parquet_columns(path, schema, given, resize, pa)
    read = [*columns.pixels, *([columns.image] if columns.image else []), columns.label,
            *([columns.split] if columns.split else [])]
    n = handle.metadata.num_rows
    if n == 0:
        raise DataError(f"{path}: has no rows")
    pixels = np.empty((n, len(columns.pixels)), dtype=np.uint8) if columns.pixels else None
    encoded_images: list[tuple[str, bytes]] = []
    labels: list[Any] = []
    splits: list[Any] = []
    row = 0
    try:
        batches = list(handle.iter_batches(batch_size=_BATCH, columns=read)) if not columns.pixels else None
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot read its rows ({str(exc).splitlines()[0]}); the file is damaged") from None
    for batch in batches if batches is not None else handle.iter_batches(batch_size=_BATCH, columns=read):
        if pixels is not None:
            _pixel_batch(path, batch, columns.pixels, pixels, row)
        else:
            encoded_images += _image_batch(path, batch, columns.image, row, pa)
        labels.extend(_label_cell(v, f"{path}: row {row + k + 1}, column {columns.label!r}")
                      for k, v in enumerate(batch.column(columns.label).to_pylist()))
        if columns.split:
            splits.extend(batch.column(columns.split).to_pylist())
        row += batch.num_rows
    images = pixels.reshape(n, columns.side, columns.side) if pixels is not None else decode_all(encoded_images, resize).array
    split = _split_cells(splits, lambda i: f"{path}: row {i + 1}, column {columns.split!r}") if columns.split else None
    return _Part(images, labels, split, _class_label_names(schema, columns.label), columns)


def _open_parquet(path: Path) -> tuple[Any, Any, Any]:
    """pyarrow, the Parquet file at ``path`` and its schema; OptionError without pyarrow, DataError for a bad file."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise OptionError("reading a Parquet table needs pyarrow, an optional extra: pip install 'twistfm[table]'"
                          ) from None
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: is {'a folder' if path.is_dir() else 'not a regular file'}; give a Parquet file")
    try:
        handle = pq.ParquetFile(path)
        schema = handle.schema_arrow
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a Parquet file pyarrow can read ({str(exc).splitlines()[0]})") from None
    return pa, handle, schema


def _parquet_columns(path: Path, schema: Any, given: dict[str, str | None], resize: tuple[int, int] | None,
                     pa: Any) -> TableColumns:
    """The columns of a Parquet table (those of encoded images told by their type), checked against ``resize``."""
    def encoded(t: Any) -> bool:
        return (pa.types.is_binary(t) or pa.types.is_large_binary(t)
                or (pa.types.is_struct(t) and t.get_field_index("bytes") >= 0
                    and pa.types.is_binary(t.field("bytes").type)))

    names = list(schema.names)
    columns = find_columns(str(path), names, [n for n in names if encoded(schema.field(n).type)], **given)
    if columns.pixels and resize is not None:
        raise OptionError(f"--resize: {path} holds pixel columns, whose images all have one size; leave it out")
    for name in columns.pixels:
        if not pa.types.is_integer(schema.field(name).type):
            raise DataError(f"{path}: column {name!r} holds {schema.field(name).type} values; pixels are integers 0..255")
    return columns


def _pixel_batch(path: Path, batch: Any, names: tuple[str, ...], pixels: np.ndarray, row: int) -> None:
    """Copy one batch's pixel columns into ``pixels`` from ``row`` on; DataError for an empty or out-of-range cell."""
    for j, name in enumerate(names):
        column = batch.column(name)
        if column.null_count:
            i = row + next(k for k, v in enumerate(column.is_null().to_pylist()) if v)
            raise DataError(f"{path}: row {i + 1}, column {name!r}: empty cell; every pixel needs a value 0..255")
        values = column.to_numpy()
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > 255:
            i = row + int(np.flatnonzero((values < 0) | (values > 255))[0])
            raise DataError(f"{path}: row {i + 1}, column {name!r}: pixel {int(values[i - row])} is outside 0..255")
        pixels[row:row + batch.num_rows, j] = values


def _image_batch(path: Path, batch: Any, name: str, row: int, pa: Any) -> list[tuple[str, bytes]]:
    """One batch's encoded images, each with where it is (for a message); DataError for a row without bytes."""
    column = batch.column(name)
    if pa.types.is_struct(column.type):
        column = column.field("bytes")
    out = []
    for k, value in enumerate(column.to_pylist()):
        if value is None:
            raise DataError(f"{path}: row {row + k + 1}, column {name!r}: no image bytes")
        out.append((f"{path}: row {row + k + 1}, column {name!r}", value))
    return out


def _class_label_names(schema: Any, column: str) -> list[str] | None:
    """The names a Hugging Face ``ClassLabel`` column records in the file's metadata, else None."""
    raw = (schema.metadata or {}).get(b"huggingface")
    try:
        features = json.loads(raw)["info"]["features"] if raw else {}
        names = features.get(column, {}).get("names")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return [str(n) for n in names] if isinstance(names, list) and names else None


def _read_part(path: Path, given: dict[str, str | None], resize: tuple[int, int] | None) -> _Part:
    suffix = _suffix(path)
    if not suffix:
        raise DataError(f"{path}: a table's name must end in {', '.join(TABLE_SUFFIXES)}")
    if suffix == ".parquet":
        return _read_parquet(path, given, resize)
    return _read_csv(path, given, resize)


def read_table(path: str | os.PathLike, *, test_table: str | os.PathLike | None = None,
               label_column: str | None = None, split_column: str | None = None, image_column: str | None = None,
               test_fraction: float | None = None, seed: int = 0, resize: tuple[int, int] | None = None) -> Dataset:
    """Read a table of images (see the module docstring for the layouts and the rules for columns).

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.csv.gz`` or ``.parquet``: the training images, or both splits with a split column.
    test_table : path-like, optional
        The test images in a file of their own (same layout).
    label_column, split_column, image_column : str, optional
        Name the columns instead of finding them by rule.
    test_fraction : float, optional
        Without a split column or ``test_table``: the share of each label's rows kept for
        testing (default ``DEFAULT_TEST_FRACTION``), chosen with ``seed``.
    resize : (height, width), optional
        Resize every image of an image column (its images must otherwise have one size).

    Raises
    ------
    DataError, OptionError
        One line naming the file, the row or column, and what to do.
    """
    path = Path(path)
    given = {"label": label_column, "split": split_column, "image": image_column}
    train = _read_part(path, given, resize)
    parts = [train] if test_table is None else [train, _read_test_part(train, path, Path(test_table), given, resize)]
    if (train.split is not None or test_table is not None) and test_fraction is not None:
        raise OptionError("--test-fraction: the table already says which images are for testing; leave it out")
    values, names = _labels(parts, path)
    fraction = None
    if test_table is not None:
        x_train, x_test = _same_size(train.images, parts[1].images, path, Path(test_table))
        y_train, y_test = values[:len(train.labels)], values[len(train.labels):]
    else:
        if train.split is None:
            fraction = DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
            check_fraction(fraction)
        test = train.split if train.split is not None else split_by_label(values, fraction, seed)
        if not test.any() or test.all():
            raise DataError(f"{path}: {'every' if test.all() else 'no'} row is a test image; a study needs training "
                            "and test images")
        x_train, y_train, x_test, y_test = train.images[~test], values[~test], train.images[test], values[test]
    check_labels(y_train, str(path))
    test_path = None if test_table is None else Path(test_table).resolve()
    return Dataset(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, label_names=names,
                   source=f"table {path.resolve()}" + (f" and {test_path}" if test_path else ""),
                   origin=_origin(path, test_path, train.columns, fraction, seed, resize))


def _read_test_part(train: _Part, path: Path, test_table: Path, given: dict[str, str | None],
                    resize: tuple[int, int] | None) -> _Part:
    """The test images' own file, refused beside a training file that holds both splits, or with a split column."""
    if train.split is not None:
        raise OptionError(f"--test-table: {path} holds both splits (its column {train.columns.split!r}); give "
                          "one file with a split column, or two files without one")
    test = _read_part(test_table, given, resize)
    if test.split is not None:
        raise OptionError(f"--test-table: {test_table} has a split column ({test.columns.split!r}); a test "
                          "file holds only test images")
    return test


def _origin(path: Path, test_path: Path | None, columns: TableColumns, fraction: float | None, seed: int,
            resize: tuple[int, int] | None) -> dict[str, Any]:
    """How the dataset was read from its table, as ``Dataset.origin`` records it."""
    return {"table": str(path.resolve()), "test_table": None if test_path is None else str(test_path),
            "label_column": columns.label, "split_column": columns.split, "image_column": columns.image,
            "test_fraction": fraction, "data_seed": seed,
            "resize": None if resize is None else f"{resize[0]}x{resize[1]}"}


def _same_size(a: np.ndarray, b: np.ndarray, path: Path, test: Path) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[1:3] != b.shape[1:3]:
        raise DataError(f"{test}: its images are {b.shape[1]} x {b.shape[2]} but those of {path} {a.shape[1]} x "
                        f"{a.shape[2]}; both files need one size (give --resize HxW for image columns)")
    if a.ndim != b.ndim:
        grey_to_rgb = lambda x: np.repeat(x[..., None], 3, axis=3) if x.ndim == 3 else x  # noqa: E731
        a, b = grey_to_rgb(a), grey_to_rgb(b)
    return a, b


def _labels(parts: list[_Part], path: Path) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Every row's label value (both files in order) and the label names, if the labels are names."""
    cells = [c for p in parts for c in p.labels]
    if all(isinstance(c, int) for c in cells):
        values = np.array(cells, dtype=np.int64)
        recorded = parts[0].class_names
        present = np.unique(values)
        if recorded and present.min() >= 0 and present.max() < len(recorded):
            return values, tuple(recorded[v] for v in present)
        return values, None
    mapping, names = label_values_of_names([str(c) for c in cells], str(path))
    return np.array([mapping[str(c)] for c in cells], dtype=np.int64), names
