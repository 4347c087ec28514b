"""The seed CSV format: read a user's CSV folder fast and strictly, write it byte for byte.

Format: ``x_*.csv`` has an optional header row and one row of 784 comma-separated pixels per
image, each an integer 0..255 written with one to three digits; ``y_*.csv`` has one integer
label per row, with a header row exactly when its ``x_*.csv`` has one. Line ends may be
``\n``, ``\r\n`` or ``\r``; a UTF-8 byte-order mark is ignored; ``.csv.gz`` files are read too.

The header rules never guess from row counts, so a missing or extra row can never shift
the labels by one:

- ``x``'s first row is a header when it is ``0,1,...,783`` (the seeds'), ``1,...,784``, or
  when every cell is a name (starts with a letter or ``_``); any other first row is an image
  and is validated like every other.
- ``y``'s first row is a header when it is a name (``label``), or when ``x`` has a header and
  it is the seeds' ``0``. When ``x`` has a header and ``y``'s first row is another number,
  the file is refused: that number could be a header or a label.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_open, make_folder
from ..errors import DataError
from .dataset import Dataset, check_labels

__all__ = ["PIXELS", "read_images_csv", "read_labels_csv", "read_csv_dir", "write_images_csv", "write_labels_csv",
           "export_csv", "csv_path", "read_text", "parse_uint8_rows", "pixel_problem", "raise_first_problem"]

PIXELS = 784
_SEED_HEADER = ",".join(str(i) for i in range(PIXELS)).encode()
_ONE_BASED_HEADER = ",".join(str(i) for i in range(1, PIXELS + 1)).encode()
_CHUNK_BYTES = 8 << 20
_INT = re.compile(rb"[+-]?\d+")
_PIXEL = re.compile(rb"\d{1,3}")
_NAME = re.compile(rb"[A-Za-z_][\w .:/()-]*")
_BOM = b"\xef\xbb\xbf"
_COMPRESSED = {b"PK\x03\x04": "a zip archive", b"BZh": "bzip2-compressed", b"\xfd7zXZ\x00": "xz-compressed"}


def csv_path(folder: Path, stem: str) -> Path:
    """``folder/stem.csv``, or ``folder/stem.csv.gz`` when only that one exists."""
    plain, packed = folder / f"{stem}.csv", folder / f"{stem}.csv.gz"
    if plain.exists() and packed.exists():
        raise DataError(f"{folder}: both {plain.name} and {packed.name} exist; keep one of them")
    return packed if packed.exists() and not plain.exists() else plain


def read_text(path: Path) -> bytes:
    """The file's text as bytes: checked to be a regular CSV text file, decompressed, normalised."""
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a named pipe, socket or device)"
        raise DataError(f"{path}: is {kind}; give a CSV file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    data = _decompress(path, data)
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    data = data.rstrip(b"\n")
    if not data.strip():
        raise DataError(f"{path}: file is empty; expected one row per image")
    _sniff(path, data)
    return data


def _decompress(path: Path, data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        if path.suffix != ".gz":
            raise DataError(f"{path}: is gzip-compressed; decompress it (gunzip), or name it {path.name}.gz")
        try:
            return _inflate(path, data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupted gzip file ({exc}); decompress it by hand to check") from None
    if path.suffix == ".gz":
        raise DataError(f"{path}: is named .gz but is not gzip-compressed; rename it to {path.stem}")
    for magic, kind in _COMPRESSED.items():
        if data.startswith(magic):
            raise DataError(f"{path}: is {kind}, not a CSV text file; unpack it first")
    return data


#: A .csv.gz may inflate to this many bytes whatever its ratio; past it, at most ``_MAX_RATIO`` times
#: its own size. A CSV of real images compresses about 5 times, one of black images about 1000 times.
_FREE_INFLATE = 64 * 2**20
_MAX_RATIO = 200


def _inflate(path: Path, data: bytes) -> bytes:
    """``data`` decompressed piece by piece, refused as soon as it grows far past a sane size."""
    parts, total = [], 0
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
        while part := handle.read(16 * 2**20):
            parts.append(part)
            total += len(part)
            if total > _FREE_INFLATE and total > _MAX_RATIO * len(data):
                raise DataError(f"{path}: inflates to more than {total / 2**20:,.0f} MiB from {len(data) / 2**20:,.1f} "
                                f"MiB (over {_MAX_RATIO} times its size), far past what a CSV of images compresses "
                                "to; check it with 'gzip -l' and decompress it by hand if it is right")
    return b"".join(parts)


def _sniff(path: Path, data: bytes) -> None:
    """Refuse, with a line that says what the file looks like, anything that is not comma-separated text."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path}: contains NUL bytes (first at byte {nul}); it is binary, not a CSV text file")
    head = data[:65536]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end of the sample is fine
            raise DataError(f"{path}: is not a text file (byte {exc.start} is not UTF-8); give a CSV text file") from None
    first = head.split(b"\n", 1)[0]
    if b"," not in first:
        for sep, name in ((b"\t", "tabs"), (b";", "semicolons"), (b"|", "vertical bars")):
            if sep in first:
                raise DataError(f"{path}: line 1 separates its values with {name}, not commas; "
                                "save the file as comma-separated values")


def _is_x_header(first: bytes) -> bool:
    if first in (_SEED_HEADER, _ONE_BASED_HEADER):
        return True
    return all(_NAME.fullmatch(cell.strip()) for cell in first.split(b","))


def read_images_csv(path: str | os.PathLike) -> np.ndarray:
    """Read an ``x_*.csv`` file into uint8 images of shape (N, 28, 28).

    See the module docstring for when the first row is a header. Parsing is vectorised over
    8 MB chunks, so the 133 MB training file takes seconds and memory stays bounded.

    Raises
    ------
    DataError
        Naming the file, line and column, for an empty file, a wrong column count, an empty
        or non-integer cell, or a pixel outside 0..255.
    """
    return _read_images(Path(path))[0]


def _read_images(path: Path) -> tuple[np.ndarray, bool]:
    """The images of an ``x_*.csv`` file and whether it had a header row."""
    data = read_text(path)
    first_end = data.find(b"\n")
    first = data if first_end < 0 else data[:first_end]
    header = _is_x_header(first)
    line_no = 1
    if header:
        if first.count(b",") != PIXELS - 1:
            extra = (" (a 'label' column? labels belong in the y file)"
                     if first.count(b",") == PIXELS and first.split(b",")[0].strip().lower() == b"label" else "")
            raise DataError(f"{path}: line 1 (header) has {first.count(b',') + 1} columns, expected {PIXELS} "
                            f"(one per pixel of a 28x28 image){extra}")
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
    return out.reshape(n_rows, 28, 28), header


def _parse_chunk(chunk: bytes, rows: int, path: Path, first_line: int, cols: int = PIXELS, col_offset: int = 0) -> np.ndarray:
    """Vectorised parse of ``rows`` full lines of ``cols`` pixels; any irregularity falls back to a slow scan.

    It accepts exactly what :func:`pixel_problem` accepts: ``cols`` cells per row, each one
    to three digits with a value up to 255. Errors number the columns from ``col_offset + 1``.
    """
    values = parse_uint8_rows(chunk, rows, cols)
    if values is not None:
        return values
    raise_first_problem(chunk, path, first_line, cols, col_offset)
    raise DataError(f"{path}: lines {first_line}..{first_line + rows - 1} cannot be read as {cols} pixels 0..255")


def parse_uint8_rows(chunk: bytes, rows: int, cols: int) -> np.ndarray | None:
    """``rows`` lines of ``cols`` comma-separated integers 0..255 (one to three digits each) as a (rows, cols)
    uint8 array, vectorised; None when the text is anything else."""
    arr = np.frombuffer(chunk + b"\n", dtype=np.uint8)
    is_nl = arr == 10
    sep = is_nl | (arr == 44)
    digit = (arr >= 48) & (arr <= 57)
    seppos = np.flatnonzero(sep)
    if not (bool((digit | sep).all()) and len(seppos) == rows * cols):
        return None
    if not bool(is_nl[seppos[cols - 1::cols]].all()):
        return None
    starts = np.empty_like(seppos)
    starts[0] = 0
    starts[1:] = seppos[:-1] + 1
    lens = seppos - starts
    if not (lens.min() >= 1 and lens.max() <= 3):
        return None
    d = arr.astype(np.int16) - 48
    value = d[seppos - 1]
    two = lens >= 2
    value[two] += 10 * d[seppos[two] - 2]
    three = lens == 3
    value[three] += 100 * d[seppos[three] - 3]
    if value.max() > 255:
        return None
    return value.astype(np.uint8).reshape(rows, cols)


def pixel_problem(cell: bytes) -> str | None:
    """What is wrong with one pixel cell, or None: the one definition of a valid pixel."""
    text = cell.decode("utf-8", "replace")
    if not cell.strip():
        return "empty cell; every pixel needs a value 0..255"
    if not _PIXEL.fullmatch(cell):
        if not _INT.fullmatch(cell.strip()):
            return f"{text!r} is not an integer; pixels are integers 0..255"
        if not 0 <= int(cell) <= 255:
            return f"pixel {int(cell)} is outside 0..255"
        return f"{text!r} is not a plain integer; write each pixel as one to three digits, 0..255"
    if int(cell) > 255:
        return f"pixel {int(cell)} is outside 0..255"
    return None


def raise_first_problem(chunk: bytes, path: Path, first_line: int, cols: int = PIXELS, col_offset: int = 0) -> None:
    """DataError naming the first line of ``chunk`` (line ``first_line`` of ``path``) that is not ``cols`` valid
    pixels, and its column (numbered from ``col_offset + 1``); returns when every cell is valid."""
    for offset, line in enumerate(chunk.split(b"\n")):
        where = f"{path}: line {first_line + offset}"
        cells = line.split(b",")
        if not line.strip() and len(cells) != cols:  # with one pixel a row, a blank line is that pixel's empty cell
            raise DataError(f"{where}: empty row; remove blank lines")
        if len(cells) != cols:
            raise DataError(f"{where}: {len(cells)} columns, expected {cols} pixel values")
        for col, cell in enumerate(cells, start=1 + col_offset):
            problem = pixel_problem(cell)
            if problem:
                raise DataError(f"{where}, column {col}: {problem}")


def read_labels_csv(path: str | os.PathLike, n_expected: int | None = None, *,
                    x_has_header: bool | None = None, x_name: str = "the matching x file") -> np.ndarray:
    """Read a ``y_*.csv`` file: one integer label per row.

    Parameters
    ----------
    path : path-like
    n_expected : int, optional
        Number of images in the matching ``x_*.csv``; a different number of labels is refused.
    x_has_header : bool, optional
        Whether the matching ``x_*.csv`` has a header row (see the module docstring). None:
        unknown, so only a name (such as ``label``) is taken as a header.
    x_name : str
        How to name the matching x file in messages.

    Raises
    ------
    DataError
        For a missing or empty file, more than one column, a non-integer or empty cell, a
        first row that could be a header or a label, or a count that differs from ``n_expected``.
    """
    path = Path(path)
    lines = read_text(path).split(b"\n")
    first = lines[0].strip()
    if b"," in lines[0]:
        raise DataError(f"{path}: line 1 has {lines[0].count(b',') + 1} columns; a label file has one label per row")
    is_number = bool(_INT.fullmatch(first))
    header = bool(_NAME.fullmatch(first)) or (x_has_header is True and first == b"0")
    if x_has_header and is_number and not header:
        raise DataError(
            f"{path}: line 1 is {first.decode()!r}, which could be a header or a label: {x_name} has a header row, "
            "so this file should have one too (the seeds write '0'); add a header line such as 'label', "
            f"or remove the header of {x_name}")
    body, offset = (lines[1:], 2) if header else (lines, 1)
    values = np.empty(len(body), dtype=np.int64)
    for i, line in enumerate(body):
        cell = line.strip()
        where = f"{path}: line {i + offset}"
        if not _INT.fullmatch(cell):
            if b"," in line:
                raise DataError(f"{where}: {line.count(b',') + 1} columns; a label file has one label per row")
            if not cell:
                raise DataError(f"{where}: empty cell; every row needs an integer label")
            raise DataError(f"{where}: {line.decode('utf-8', 'replace')!r} is not an integer label")
        value = int(cell)
        if not -(2**62) < value < 2**62:
            raise DataError(f"{where}: label {value} is too large; use small integers")
        values[i] = value
    if n_expected is not None and len(values) != n_expected:
        raise DataError(_count_message(path, len(values), n_expected, header, first, x_has_header, x_name))
    return values


def _count_message(path: Path, n: int, n_x: int, header: bool, first: bytes, x_has_header: bool | None,
                   x_name: str) -> str:
    text = f"{path}: {n} labels but {x_name} has {n_x} images; x and y need one row per image, in the same order"
    if header and first == b"0":
        return text + f" (line 1, '0', was read as a header because {x_name} has one)"
    if not header and n == n_x + 1 and _INT.fullmatch(first) and x_has_header is False:
        return (text + f". If line 1 ({first.decode()!r}) is a header, give {x_name} its header row too "
                "(0,1,...,783): it has none, so line 1 was read as a label")
    return text


def read_csv_dir(csv_dir: str | os.PathLike) -> Dataset:
    """Read ``x_train.csv``, ``y_train.csv``, ``x_test.csv`` and ``y_test.csv`` (or ``.csv.gz``) from a folder."""
    csv_dir = Path(csv_dir)
    if not csv_dir.is_dir():
        raise DataError(f"{csv_dir}: --csv-dir is not a folder")
    parts = {}
    for split in ("train", "test"):
        x_path = csv_path(csv_dir, f"x_{split}")
        x, header = _read_images(x_path)
        y = read_labels_csv(csv_path(csv_dir, f"y_{split}"), n_expected=len(x), x_has_header=header,
                            x_name=x_path.name)
        parts[split] = (x, y)
    check_labels(parts["train"][1], str(csv_path(csv_dir, "y_train")))
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
    out_dir = make_folder(out_dir)
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
