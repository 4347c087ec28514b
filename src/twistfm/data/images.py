"""Image files: decode one with Pillow, and read an image folder with one sub-folder per label.

An image folder is laid out as ``torchvision``'s ``ImageFolder``, Keras's
``image_dataset_from_directory`` and Hugging Face's ``imagefolder`` lay it out, either

- ``DIR/train/<label>/*`` and ``DIR/test/<label>/*``, or
- ``DIR/<label>/*``, split by twistfm: ``test_fraction`` of each label's images (rounded)
  go to the test split, chosen with ``seed``; both are recorded in the run.

Either way the images of each split are put in one random order drawn with ``seed`` (the
folders list them label by label, and training holds out the *last* images for validation).
The label folders' names are the labels: integers when every name is one, otherwise names,
kept as names (sorted, numbered 0, 1, ...). Files are PNG, JPEG, BMP or WebP, as their
content says (the extension must be one of theirs); hidden files (``.name``) are skipped,
anything else is refused.

Pixels: grey images (modes ``L``, ``1``, a grey palette) give 1 channel, colour ones 3; a
dataset with any colour image is a colour dataset, its grey images copied into the three
channels (which loses nothing). An alpha channel is dropped when every pixel is opaque and
refused otherwise; 16-bit, floating-point and animated images are refused. Every image has
one size (the first two sizes found are named otherwise) unless ``resize`` is given.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import DataError, OptionError
from .dataset import MIN_SIDE, Dataset, check_labels, split_by_label

__all__ = ["IMAGE_SUFFIXES", "parse_size", "decode_image", "ImageStack", "read_image_folder", "label_values_of_names",
           "DEFAULT_TEST_FRACTION", "check_fraction", "decode_all"]

#: File name endings of the image files an image folder may hold (any case).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "BMP": "BMP", "DIB": "BMP", "WEBP": "WebP"}
#: Share of each label's images put in the test split when the source has no split of its own.
DEFAULT_TEST_FRACTION = 0.2
_SIZE = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_READERS = 2


def parse_size(text: str, option: str = "--resize") -> tuple[int, int]:
    """``"32x32"`` -> ``(32, 32)``: height and width, each at least ``MIN_SIDE``; OptionError otherwise."""
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise OptionError(f"{option} {text!r}: write the size as HEIGHTxWIDTH, e.g. 32x32")
    height, width = int(match[1]), int(match[2])
    if min(height, width) < MIN_SIDE or max(height, width) > 4096:
        raise OptionError(f"{option} {text!r}: each side must be {MIN_SIDE}..4096 pixels")
    return height, width


def check_fraction(fraction: float) -> None:
    """Refuse a test fraction outside (0, 1)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise OptionError(f"--test-fraction must lie between 0 and 1 (the share of each label's images kept for "
                          f"testing), got {fraction!r}")


def decode_image(source: bytes | str | os.PathLike, where: str, resize: tuple[int, int] | None = None) -> np.ndarray:
    """One image file (a path, or its bytes) as uint8 pixels: (H, W) when grey, (H, W, 3) when colour.

    Parameters
    ----------
    source : bytes or path-like
    where : str
        The file (and row) named in error messages.
    resize : (height, width), optional
        Resize to this size (Lanczos) when the image has another.

    Raises
    ------
    DataError
        For a file Pillow cannot read, a format other than PNG, JPEG, BMP or WebP, an animated
        image, transparency, 16-bit or floating-point pixels, or a side below ``MIN_SIDE``.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            kind = _FORMATS.get(image.format or "")
            if kind is None:
                raise DataError(f"{where}: is a {image.format} image; give PNG, JPEG, BMP or WebP images")
            if getattr(image, "n_frames", 1) > 1:
                raise DataError(f"{where}: is an animated {kind} image ({image.n_frames} frames); give still images")
            if kind == "JPEG":
                image = ImageOps.exif_transpose(image)  # as a viewer shows it
            pixels = _pixels(image, where)
            if resize is not None and pixels.size != (resize[1], resize[0]):
                pixels = pixels.resize((resize[1], resize[0]), Image.Resampling.LANCZOS)
            array = np.asarray(pixels, dtype=np.uint8)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{where}: file not found (a broken link?)") from None
    except Image.DecompressionBombError as exc:
        raise DataError(f"{where}: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DataError(f"{where}: not an image Pillow can read ({exc}); check that the file is a whole PNG, JPEG, "
                        "BMP or WebP image") from None
    if min(array.shape[:2]) < MIN_SIDE:
        raise DataError(f"{where}: is {array.shape[0]} x {array.shape[1]} pixels; images need at least "
                        f"{MIN_SIDE} x {MIN_SIDE} (give --resize HxW to enlarge them)")
    return array


def _pixels(image, where: str):
    """The image in mode ``L`` or ``RGB``: opaque alpha dropped, transparency and deep pixels refused."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode == "P":
        if "transparency" in image.info:
            return _opaque(image.convert("RGBA"), where)
        palette = np.asarray(image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
        grey = len(palette) and bool((palette[:, 0] == palette[:, 1]).all() and (palette[:, 1] == palette[:, 2]).all())
        return image.convert("L" if grey else "RGB")
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        return _opaque(image, where)
    if mode in ("CMYK", "YCbCr", "RGBX"):
        return image.convert("RGB")
    raise DataError(f"{where}: has {mode} pixels (16-bit, floating-point or another colour space); save the images "
                    "with 8-bit grey or RGB pixels")


def _opaque(image, where: str):
    alpha = np.asarray(image.getchannel("A"))
    if alpha.min() < 255:
        raise DataError(f"{where}: has transparent pixels (alpha down to {alpha.min()}); twistfm cannot tell what lies "
                        "behind them: flatten the images onto a background first")
    return image.convert("L" if image.mode in ("LA", "La") else "RGB")


class ImageStack:
    """The decoded images of one split, gathered into one uint8 array allocated once.

    The array is grey ``(N, H, W)`` until a colour image arrives, then ``(N, H, W, 3)`` (the
    grey images so far copied into the three channels). Every image must have the first
    image's size; the first one that does not is named beside it.
    """

    def __init__(self, n: int, resize: tuple[int, int] | None = None) -> None:
        self.n, self.resize = n, resize
        self.array: np.ndarray | None = None
        self.first: str = ""

    def put(self, i: int, image: np.ndarray, where: str) -> None:
        """Store ``image`` (from ``where``) as image ``i``."""
        if self.array is None:
            self.array = np.zeros((self.n, *image.shape), dtype=np.uint8)
            self.first = where
        elif image.shape[:2] != self.array.shape[1:3]:
            h, w = self.array.shape[1:3]
            raise DataError(f"{where}: is {image.shape[0]} x {image.shape[1]} pixels but {self.first} is {h} x {w}; "
                            f"every image needs one size: resize them, or give --resize {h}x{w}")
        if image.ndim == 3 and self.array.ndim == 3:
            self.array = np.repeat(self.array[..., None], 3, axis=3)
        if image.ndim == 2 and self.array.ndim == 4:
            image = image[..., None]
        self.array[i] = image

    def merge(self, other: ImageStack, where: str) -> tuple[np.ndarray, np.ndarray]:
        """This stack's array and ``other``'s, of one size and with the same channels (colour if either is)."""
        a, b = self.array, other.array
        if a.shape[1:3] != b.shape[1:3]:
            h, w = a.shape[1:3]
            raise DataError(f"{other.first}: is {b.shape[1]} x {b.shape[2]} pixels but {self.first} is {h} x {w}; "
                            f"every image of {where} needs one size: resize them, or give --resize {h}x{w}")
        if a.ndim != b.ndim:
            a, b = (np.repeat(a[..., None], 3, axis=3), b) if a.ndim == 3 else (a, np.repeat(b[..., None], 3, axis=3))
        return a, b


def decode_all(items: Sequence[tuple[str, bytes | str]], resize: tuple[int, int] | None,
               positions: Sequence[int] | None = None) -> ImageStack:
    """Decode every ``(where, file path or bytes)`` into one stack, on a few threads (Pillow decodes without
    holding the GIL): item ``k`` becomes image ``positions[k]`` (default ``k``).

    Items are decoded in their order, so the first bad image, or the first of another size, in
    that order is the one reported.
    """
    stack = ImageStack(len(items), resize)
    at = range(len(items)) if positions is None else positions
    chunk = 256

    def work(start: int) -> list[np.ndarray]:
        return [decode_image(source, where, resize) for where, source in items[start:start + chunk]]

    with ThreadPoolExecutor(_READERS) as pool:
        for start, images in zip(range(0, len(items), chunk), pool.map(work, range(0, len(items), chunk)), strict=True):
            for k, image in enumerate(images):
                stack.put(at[start + k], image, items[start + k][0])
    return stack


def label_values_of_names(names: Sequence[str], where: str) -> tuple[dict[str, int], tuple[str, ...] | None]:
    """Each label name's value, and the names to keep (None when every name is an integer, its own value).

    Names that are all integers are those integers; otherwise the sorted names are numbered
    0, 1, ... and kept. Two names of one integer (``1`` and ``01``) are refused.
    """
    unique = sorted(set(names))
    if unique and all(_INTEGER.fullmatch(n) for n in unique):
        values: dict[int, str] = {}
        for name in unique:
            if int(name) in values:
                raise DataError(f"{where}: labels {values[int(name)]!r} and {name!r} are the same number; rename one")
            values[int(name)] = name
        return {n: int(n) for n in unique}, None
    return {n: i for i, n in enumerate(unique)}, tuple(unique)


def _label_folders(split_dir: Path) -> dict[str, list[Path]]:
    """Label name -> its image files (sorted), for one folder of label folders."""
    folders: dict[str, list[Path]] = {}
    for entry in sorted(split_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            raise DataError(f"{entry}: a file beside the label folders; images go inside {split_dir}/<label>/ "
                            "(move it out)")
        files = []
        for item in sorted(entry.iterdir()):
            if item.name.startswith("."):
                continue
            if item.is_dir():
                raise DataError(f"{item}: a folder inside label folder {entry.name!r}; put the label's images "
                                "directly in it")
            if item.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{item}: not an image file name (expected {', '.join(IMAGE_SUFFIXES)}); move it out "
                                "of the image folder")
            files.append(item)
        if not files:
            raise DataError(f"{entry}: label folder {entry.name!r} holds no images; remove it or add its images")
        folders[entry.name] = files
    if not folders:
        raise DataError(f"{split_dir}: holds no label folders; expected {split_dir}/<label>/<image files>")
    return folders


def read_image_folder(folder: str | os.PathLike, *, test_fraction: float | None = None, seed: int = 0,
                      resize: tuple[int, int] | None = None) -> Dataset:
    """Read an image folder (see the module docstring for its two layouts).

    Parameters
    ----------
    folder : path-like
    test_fraction : float, optional
        For ``DIR/<label>/*``: the share of each label's images in the test split (default
        ``DEFAULT_TEST_FRACTION``). Refused for ``DIR/train`` + ``DIR/test``.
    seed : int, default=0
        Chooses the split (``DIR/<label>/*``) and the order of the images in each split.
    resize : (height, width), optional
        Resize every image to this size; without it, every image must have one size.

    Raises
    ------
    DataError
        For a missing folder, a layout that is neither, a stray file or folder, an empty label
        folder, an image that cannot be read, or images of different sizes.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: --images is not a folder" if not root.exists() else f"{root}: --images is a file; "
                        "give the folder that holds the label folders (or train/ and test/)")
    entries = {e.name for e in root.iterdir() if not e.name.startswith(".")}
    split_layout = bool(entries & {"train", "test"})
    if split_layout:
        if not {"train", "test"} <= entries:
            have, lacks = ("train", "test") if "train" in entries else ("test", "train")
            raise DataError(f"{root}: has a {have}/ folder but no {lacks}/ one; give both (DIR/train/<label>/, "
                            f"DIR/test/<label>/), or put the label folders directly in {root}")
        extra = sorted(entries - {"train", "test"})
        if extra:
            raise DataError(f"{root / extra[0]}: beside train/ and test/; {root} must hold only those two folders "
                            "(move it out)")
        if test_fraction is not None:
            raise OptionError(f"--test-fraction: {root} has its own train/ and test/ folders; leave the option out")
        splits = {"train": _label_folders(root / "train"), "test": _label_folders(root / "test")}
    else:
        fraction = DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
        check_fraction(fraction)
        splits = _split_folders(_label_folders(root), fraction, seed, root)
    mapping, names = label_values_of_names([n for s in splits.values() for n in s], str(root))
    stacks, labels = {}, {}
    rng = np.random.default_rng(seed)
    for split, folders in splits.items():
        files = [(str(f), mapping[name]) for name, fs in folders.items() for f in fs]
        order = rng.permutation(len(files))  # image i of the split is file order[i]
        stacks[split] = decode_all([(f, f) for f, _ in files], resize, positions=np.argsort(order))
        labels[split] = np.array([files[i][1] for i in order], dtype=np.int64)
    x_train, x_test = stacks["train"].merge(stacks["test"], str(root))
    check_labels(labels["train"], str(root / "train") if split_layout else str(root))
    origin = {"images": str(root.resolve()), "data_seed": seed,
              "test_fraction": None if split_layout else (DEFAULT_TEST_FRACTION if test_fraction is None
                                                          else test_fraction),
              "resize": None if resize is None else f"{resize[0]}x{resize[1]}"}
    return Dataset(x_train=x_train, y_train=labels["train"], x_test=x_test, y_test=labels["test"],
                   source=f"image folder {root.resolve()}", label_names=names, origin=origin)


def _split_folders(folders: dict[str, list[Path]], fraction: float, seed: int, root: Path
                   ) -> dict[str, dict[str, list[Path]]]:
    """``DIR/<label>/*`` split into train and test: ``fraction`` of each label at random with ``seed``."""
    names = [n for n, fs in folders.items() for _ in fs]
    files = [f for fs in folders.values() for f in fs]
    test = split_by_label(np.array(names), fraction, seed)
    if test.all() or not test.any():
        raise DataError(f"{root}: --test-fraction {fraction:g} of {len(files)} images leaves "
                        f"{'no training' if test.all() else 'no test'} images; choose another fraction")
    out: dict[str, dict[str, list[Path]]] = {"train": {}, "test": {}}
    for name, f, t in zip(names, files, test, strict=True):
        out["test" if t else "train"].setdefault(name, []).append(f)
    return out
