"""The seed CSV format: read a user's CSV folder fast and strictly, write it byte for byte.

Format: ``x_*.csv`` has an optional header row ``0,1,...,783`` and one row of 784
comma-separated integers 0..255 per image; ``y_*.csv`` has an optional one-cell header and
one integer label per row. Line ends are ``\\n`` (``\\r\\n`` is accepted on reading).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from ..errors import DataError
from .dataset import Dataset, check_labels

__all__ = ["PIXELS", "read_images_csv", "read_labels_csv", "read_csv_dir", "write_images_csv",
           "write_labels_csv", "export_csv"]

PIXELS = 784
_SEED_HEADER = ",".join(str(i) for i in range(PIXELS)).encode()
_CHUNK_BYTES = 8 << 20
_INT = re.compile(rb"[+-]?\d+")


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a CSV file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    data = data.rstrip(b"\n")
    if not data.strip():
        raise DataError(f"{path}: file is empty; expected one row per image")
    return data


def _is_number_row(line: bytes) -> bool:
    return all(_INT.fullmatch(cell.strip()) for cell in line.split(b","))


def read_images_csv(path: str | os.PathLike) -> np.ndarray:
    """Read an ``x_*.csv`` file into uint8 images of shape (N, 28, 28).

    The header row is detected: a first row that is not all numbers, or that is exactly
    ``0,1,...,783``, is a header. Parsing is vectorised over 8 MB chunks, so the 133 MB
    training file takes seconds and memory stays bounded.

    Raises
    ------
    DataError
        Naming the file, line and column, for an empty file, a wrong column count, an empty
        or non-integer cell, or a pixel outside 0..255.
    """
    path = Path(path)
    data = _read(path)
    first_end = data.find(b"\n")
    first = data if first_end < 0 else data[:first_end]
    line_no = 1
    if first == _SEED_HEADER or not _is_number_row(first):
        if first.count(b",") != PIXELS - 1:
            raise DataError(
                f"{path}: line 1 (header) has {first.count(b',') + 1} columns, "
                f"expected {PIXELS} (one per pixel of a 28x28 image)"
            )
        data = b"" if first_end < 0 else data[first_end + 1:]
        line_no = 2
        if not data:
            raise DataError(f"{path}: has a header but no image rows")
    n_rows = data.count(b"\n") + 1
    out = np.empty((n_rows, PIXELS), dtype=np.uint8)
    row = 0
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + _CHUNK_BYTES) if start + _CHUNK_BYTES < len(data) else len(data)
        if end <= start:  # one absurdly long line: take it whole
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
        chunk = data[start:end]
        rows = chunk.count(b"\n") + 1
        out[row:row + rows] = _parse_chunk(chunk, rows, path, line_no + row)
        row += rows
        start = end + 1
    return out.reshape(n_rows, 28, 28)


def _parse_chunk(chunk: bytes, rows: int, path: Path, first_line: int) -> np.ndarray:
    """Vectorised parse of ``rows`` full lines; any irregularity falls back to a slow scan."""
    arr = np.frombuffer(chunk + b"\n", dtype=np.uint8)
    is_nl = arr == 10
    sep = is_nl | (arr == 44)
    digit = (arr >= 48) & (arr <= 57)
    seppos = np.flatnonzero(sep)
    ok = bool((digit | sep).all()) and len(seppos) == rows * PIXELS
    if ok:
        ok = bool(is_nl[seppos[PIXELS - 1::PIXELS]].all())
    if ok:
        starts = np.empty_like(seppos)
        starts[0] = 0
        starts[1:] = seppos[:-1] + 1
        lens = seppos - starts
        ok = bool(lens.min() >= 1 and lens.max() <= 3)
    if ok:
        d = arr.astype(np.int16) - 48
        value = d[seppos - 1]
        two = lens >= 2
        value[two] += 10 * d[seppos[two] - 2]
        three = lens == 3
        value[three] += 100 * d[seppos[three] - 3]
        ok = bool(value.max() <= 255)
    if ok:
        return value.astype(np.uint8).reshape(rows, PIXELS)
    _raise_first_problem(chunk, path, first_line)
    raise AssertionError("vectorised parse failed but the slow scan found no problem")


def _raise_first_problem(chunk: bytes, path: Path, first_line: int) -> None:
    for offset, line in enumerate(chunk.split(b"\n")):
        where = f"{path}: line {first_line + offset}"
        if not line.strip():
            raise DataError(f"{where}: empty row; remove blank lines")
        cells = line.split(b",")
        if len(cells) != PIXELS:
            raise DataError(f"{where}: {len(cells)} columns, expected {PIXELS} pixel values")
        for col, cell in enumerate(cells, start=1):
            text = cell.decode("utf-8", "replace")
            if not cell.strip():
                raise DataError(f"{where}, column {col}: empty cell; every pixel needs a value 0..255")
            if not _INT.fullmatch(cell.strip()):
                raise DataError(f"{where}, column {col}: {text!r} is not an integer; pixels are integers 0..255")
            value = int(cell)
            if not 0 <= value <= 255:
                raise DataError(f"{where}, column {col}: pixel {value} is outside 0..255")
            if cell != cell.strip() or not cell.isdigit():
                raise DataError(f"{where}, column {col}: {text!r} is not a plain integer; write it as digits only")


def read_labels_csv(path: str | os.PathLike, n_expected: int | None = None) -> np.ndarray:
    """Read a ``y_*.csv`` file: one integer label per row, optional one-cell header.

    Parameters
    ----------
    path : path-like
    n_expected : int, optional
        Number of images in the matching ``x_*.csv``. A file with exactly one row more
        has a header (the seeds' header ``0`` looks like a label otherwise).

    Raises
    ------
    DataError
        For a missing or empty file, more than one column, a non-integer or empty cell,
        or a row count that differs from ``n_expected``.
    """
    path = Path(path)
    lines = _read(path).split(b"\n")
    first = 1
    if not _INT.fullmatch(lines[0].strip()) or (n_expected is not None and len(lines) == n_expected + 1):
        if b"," in lines[0]:
            raise DataError(f"{path}: line 1 has {lines[0].count(b',') + 1} columns; a label file has one")
        lines = lines[1:]
        first = 2
    values = np.empty(len(lines), dtype=np.int64)
    for i, line in enumerate(lines):
        cell = line.strip()
        if not _INT.fullmatch(cell):
            where = f"{path}: line {i + first}"
            if b"," in line:
                raise DataError(f"{where}: {line.count(b',') + 1} columns; a label file has one label per row")
            if not cell:
                raise DataError(f"{where}: empty cell; every row needs an integer label")
            raise DataError(f"{where}: {line.decode('utf-8', 'replace')!r} is not an integer label")
        value = int(cell)
        if not -(2**62) < value < 2**62:
            raise DataError(f"{path}: line {i + first}: label {value} is too large; use small integers")
        values[i] = value
    if n_expected is not None and len(values) != n_expected:
        raise DataError(
            f"{path}: {len(values)} labels but the matching x file has {n_expected} images; "
            "x and y must have one row per image, in the same order"
        )
    return values


def read_csv_dir(csv_dir: str | os.PathLike) -> Dataset:
    """Read ``x_train.csv``, ``y_train.csv``, ``x_test.csv`` and ``y_test.csv`` from a folder."""
    csv_dir = Path(csv_dir)
    if not csv_dir.is_dir():
        raise DataError(f"{csv_dir}: --csv-dir is not a folder")
    parts = {}
    for split in ("train", "test"):
        x = read_images_csv(csv_dir / f"x_{split}.csv")
        y = read_labels_csv(csv_dir / f"y_{split}.csv", n_expected=len(x))
        parts[split] = (x, y)
    check_labels(parts["train"][1], str(csv_dir / "y_train.csv"))
    (x_train, y_train), (x_test, y_test) = parts["train"], parts["test"]
    folder = csv_dir.resolve()
    return Dataset(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   source=f"CSV files in {folder}", csv_dir=str(folder))


def _encode_rows(values: np.ndarray) -> bytes:
    """Encode a 2-D array of integers 0..999 as CSV bytes, vectorised."""
    rows, cols = values.shape
    flat = values.reshape(-1).astype(np.int64)
    ndig = 1 + (flat >= 10) + (flat >= 100)
    width = ndig + 1  # digits plus the separator after them
    ends = np.cumsum(width)
    starts = ends - width
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    out[ends - 1] = ord(",")
    out[ends[cols - 1::cols] - 1] = ord("\n")
    out[starts + ndig - 1] = 48 + flat % 10
    two = ndig >= 2
    out[starts[two] + ndig[two] - 2] = 48 + (flat[two] // 10) % 10
    three = ndig == 3
    out[starts[three]] = 48 + flat[three] // 100
    return out.tobytes()


def write_images_csv(path: str | os.PathLike, images: np.ndarray) -> None:
    """Write uint8 images as an ``x_*.csv`` file in the seed format (header ``0..783``)."""
    flat = np.asarray(images, dtype=np.uint8).reshape(len(images), -1)
    with atomic_open(path, "wb") as out:
        out.write(",".join(str(i) for i in range(flat.shape[1])).encode() + b"\n")
        for start in range(0, len(flat), 5000):
            out.write(_encode_rows(flat[start:start + 5000]))


def write_labels_csv(path: str | os.PathLike, labels: np.ndarray, header: str = "0") -> None:
    """Write integer labels as a ``y_*.csv`` file: a one-cell header, one label per row."""
    body = "".join(f"{int(v)}\n" for v in labels)
    with atomic_open(path, "wb") as out:
        out.write(f"{header}\n{body}".encode())


def export_csv(dataset: Dataset, out_dir: str | os.PathLike) -> list[Path]:
    """Write the dataset in the seed CSV format, plus the original classes when known.

    Files: ``x_train.csv``, ``y_train.csv``, ``x_test.csv``, ``y_test.csv`` and, when the
    original classes are known, ``class_train.csv`` and ``class_test.csv`` (header
    ``class``). Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for split, x, y, c in (
        ("train", dataset.x_train, dataset.y_train, dataset.class_train),
        ("test", dataset.x_test, dataset.y_test, dataset.class_test),
    ):
        write_images_csv(out_dir / f"x_{split}.csv", x)
        write_labels_csv(out_dir / f"y_{split}.csv", y)
        written += [out_dir / f"x_{split}.csv", out_dir / f"y_{split}.csv"]
        if c is not None:
            write_labels_csv(out_dir / f"class_{split}.csv", c, header="class")
            written.append(out_dir / f"class_{split}.csv")
    return written
