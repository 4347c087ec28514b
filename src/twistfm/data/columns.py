"""Which column of a table is which: the label, split, image and pixel columns, found by rule or named.

The rules (see :mod:`twistfm.data.table` for the layouts): the pixel columns are
``pixel1`` ... ``pixelN`` (or ``pixel0`` ... ``pixelN-1``), in order and side by side, N a
square; else the image column is the one column of encoded images. The label column is the
one named ``label``, else the one named ``labels``, ``target``, ``class`` or ``y``, or ending
in ``label``; the split column is the one named ``split``. A rule that finds none, or more
than one, is refused with a line naming the option that settles it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import DataError

__all__ = ["TableColumns", "find_columns"]

_PIXEL = re.compile(r"pixel(\d+)", re.IGNORECASE)
_LABEL_NAMES = ("labels", "target", "class", "y")


@dataclass(frozen=True)
class TableColumns:
    """The columns of one table that twistfm reads.

    Attributes
    ----------
    label : str
    split : str or None
    image : str or None
        The column of encoded images (None for pixel columns).
    pixels : tuple of str
        The pixel columns in order (empty for an image column).
    side : int
        The images' side, for pixel columns.
    """

    label: str
    split: str | None
    image: str | None
    pixels: tuple[str, ...]
    side: int = 0


def shown(names: list[str], limit: int = 8) -> str:
    """Column names as a message lists them: the first ``limit``, then how many there are."""
    text = ", ".join(repr(n) for n in names[:limit])
    return text + (f", ... ({len(names)} columns)" if len(names) > limit else "")


def find_columns(where: str, names: list[str], image_like: list[str], *, label: str | None = None,
                 split: str | None = None, image: str | None = None) -> TableColumns:
    """The label, split, image and pixel columns of a table with columns ``names``.

    Parameters
    ----------
    where : str
        The table, as messages name it.
    names : list of str
        Its columns, in order.
    image_like : list of str
        The columns whose values are encoded images (Parquet binary or ``{"bytes": ...}``).
    label, split, image : str, optional
        Columns named by the user (``--label-column``, ``--split-column``, ``--image-column``)
        instead of found by rule.

    Raises
    ------
    DataError
        When a rule finds none or more than one, or a named column is missing.
    """
    _check_names(where, names, {"--label-column": label, "--split-column": split, "--image-column": image})
    pixels = [n for n in names if _PIXEL.fullmatch(n)]
    side = 0
    if pixels:
        if image is not None:
            raise DataError(f"{where}: has pixel columns ({pixels[0]} ...); --image-column is for a table of encoded "
                            "images, leave it out")
        side = _pixel_side(where, names, pixels)
    elif image is None:
        image = _by_rule(where, image_like, "all hold encoded images; choose one with --image-column NAME",
                         "neither pixel columns (pixel1 ... pixelN) nor a column of encoded images "
                         f"({{\"bytes\": ...}}) among {shown(names)}")
    elif image not in image_like:
        raise DataError(f"{where}: column {image!r} (--image-column) does not hold encoded images (bytes, or "
                        "{\"bytes\": ...})")
    rest = [n for n in names if n not in pixels and n != image]
    if split is None:
        split = next((n for n in rest if n.lower() == "split"), None)
    if label is None:
        label = _label_by_rule(where, [n for n in rest if n != split])
    if label == split or (image is not None and label == image):
        raise DataError(f"{where}: column {label!r} cannot be both the label and the split or image column")
    return TableColumns(label=label, split=split, image=image, pixels=tuple(pixels), side=side)


def _check_names(where: str, names: list[str], given: dict[str, str | None]) -> None:
    """Refuse a column name used twice, or a named column (by option) the table lacks."""
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise DataError(f"{where}: column {twice!r} appears twice; give every column its own name")
    for option, name in given.items():
        if name is not None and name not in names:
            raise DataError(f"{where}: no column {name!r} ({option}); the columns are {shown(names)}")


def _by_rule(where: str, candidates: list[str], many: str, none: str) -> str:
    """The one column a rule found among ``candidates``; DataError saying ``many`` (after the names) or ``none``."""
    if len(candidates) > 1:
        raise DataError(f"{where}: columns {shown(candidates)} {many}")
    if not candidates:
        raise DataError(f"{where}: {none}")
    return candidates[0]


def _label_by_rule(where: str, rest: list[str]) -> str:
    """The label column among ``rest``: ``label``, else the one that looks like a label's name."""
    exact = [n for n in rest if n.lower() == "label"]
    candidates = exact or [n for n in rest if n.lower() in _LABEL_NAMES or n.lower().endswith("label")]
    return _by_rule(where, candidates, "could each be the label; choose one with --label-column NAME",
                    f"no label column (named 'label', 'target', 'class', 'y' or '...label') among {shown(rest)}; "
                    "name it with --label-column NAME")


def _pixel_side(where: str, names: list[str], pixels: list[str]) -> int:
    """The side of the square grey images that the pixel columns ``pixels`` hold; DataError when they do not."""
    numbers = [int(_PIXEL.fullmatch(n)[1]) for n in pixels]
    first = names.index(pixels[0])
    start = numbers[0]
    expected = list(range(start, start + len(pixels)))
    if start not in (0, 1) or numbers != expected or names[first:first + len(pixels)] != pixels:
        bad = next((i for i, (a, b) in enumerate(zip(numbers, expected, strict=True)) if a != b), None)
        what = (f"column {pixels[bad]!r} where pixel{expected[bad]} belongs" if bad is not None
                else "the pixel columns are not side by side")
        raise DataError(f"{where}: pixel columns must be pixel1..pixelN (or pixel0..pixelN-1), in order and side "
                        f"by side; found {what}")
    side = math.isqrt(len(pixels))
    if side * side != len(pixels):
        third = math.isqrt(len(pixels) // 3)
        if len(pixels) % 3 == 0 and third * third * 3 == len(pixels):
            raise DataError(f"{where}: {len(pixels)} pixel columns are 3 x {third} x {third}: colour pixel columns "
                            "do not say their order (RGB per pixel, or one plane per colour); write the images as "
                            "an image column of PNG bytes in a Parquet file instead")
        raise DataError(f"{where}: {len(pixels)} pixel columns do not make a square image; pixel columns hold "
                        "square grey images (28 x 28: 784 columns); write other sizes as an image column of PNG "
                        "bytes in a Parquet file")
    return side
