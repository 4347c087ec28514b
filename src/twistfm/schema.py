"""Typed JSON for frozen dataclasses: write them as JSON objects, read them back validated.

The typed records in the JSON files twistfm writes and later reads back (the training
config and data spec inside ``config.json``, ``model.json``, ``analysis.json``, a sweep's
spec) pass through :func:`from_json`, which checks each field against the dataclass's type
hints. Files read as plain JSON objects (``metrics.json``, a checkpoint's record) have the
fields later stages rely on checked one by one, with :func:`check_value` or by their reader.
Either way a hand-edited or corrupt file becomes one clear line naming the file and the
field, never a traceback deep inside a later stage.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

import numpy as np

from .errors import RunError

__all__ = ["Typed", "to_json", "from_json", "check_value", "split_arrays", "join_arrays"]

T = TypeVar("T")
S = TypeVar("S", bound="Typed")


class Typed:
    """Mixin for frozen dataclasses that are written as JSON and read back validated."""

    def to_json(self) -> dict[str, Any]:
        """As a JSON-like object (NumPy arrays kept as arrays; see :func:`split_arrays`)."""
        return to_json(self)

    @classmethod
    def from_json(cls: type[S], obj: Any, where: str) -> S:
        """Rebuild from :meth:`to_json`'s object, checking every field; RunError naming ``where``."""
        return from_json(cls, obj, where)


def to_json(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON object (nested dataclasses become objects, tuples lists).

    A field the class lists in ``ADDED_FIELDS`` (added after files were first written) is
    left out while it is None, so a file that does not use it reads as it always did.
    """
    added = getattr(type(obj), "ADDED_FIELDS", ())
    return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
            if not (f.name in added and getattr(obj, f.name) is None)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def from_json(cls: type[T], obj: Any, where: str, *, ignore: tuple[str, ...] = ()) -> T:
    """Rebuild dataclass ``cls`` from a JSON object, checking every field's type.

    Parameters
    ----------
    cls : dataclass type
    obj : any
        What was read from the file.
    where : str
        The file (and place in it) named in the error message.
    ignore : tuple of str
        Keys that may be present and are not fields (for example a format version).

    Fields the class lists in ``ADDED_FIELDS`` may be missing (files written before they
    existed, or while they were None); they are None then, which is what those files meant.

    Raises
    ------
    RunError
        If ``obj`` is not an object, has unknown or missing fields (every field must be
        written, defaults are never filled in), or a field of the wrong type.
    """
    if not isinstance(obj, dict):
        raise RunError(f"{where}: expected a JSON object, found {_kind(obj)}; the file is corrupt")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(obj) - set(fields) - set(ignore))
    if unknown:
        raise RunError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; written by another twistfm version?")
    added = getattr(cls, "ADDED_FIELDS", ())
    missing = [name for name in fields if name not in obj and name not in added]
    if missing:  # never fill a default in silently: the file would say something it does not
        raise RunError(f"{where}: missing field {missing[0]!r}; the file is incomplete or corrupt")
    return cls(**{name: check_value(obj.get(name), hints[name], f"{where}: field {name!r}") for name in fields})


def check_value(value: Any, hint: Any, where: str) -> Any:
    """Return ``value`` converted to ``hint`` (a type hint), or raise RunError naming ``where``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return check_value(value, arg, where)
            except RunError as exc:
                errors.append(exc)
        raise errors[0]
    if hint is Any:
        return value
    if hint is np.ndarray:
        if not isinstance(value, np.ndarray):
            raise RunError(f"{where} must be an array, found {_kind(value)}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_json(hint, value, where)
    if origin is typing.Literal:
        if value not in args:
            raise RunError(f"{where} must be one of {', '.join(map(repr, args))}, found {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise RunError(f"{where} must be a list, found {_kind(value)}")
        inner = args[0] if args else Any
        items = [check_value(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise RunError(f"{where} must be an object, found {_kind(value)}")
        inner = args[1] if len(args) == 2 else Any
        return {k: check_value(v, inner, f"{where}[{k!r}]") for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise RunError(f"{where} must be true or false, found {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RunError(f"{where} must be an integer, found {_kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RunError(f"{where} must be a finite number, found {_kind(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise RunError(f"{where} must be a string, found {_kind(value)}")
        return value
    raise TypeError(f"no JSON check for type hint {hint!r}")


def split_arrays(obj: Any, path: str = "") -> tuple[Any, dict[str, np.ndarray]]:
    """Take every NumPy array out of a JSON-like object.

    Returns the object with each array replaced by ``{"array": NAME}`` and the arrays by
    name (their dotted path in the object), so the object can be written as JSON and the
    arrays as ``.npy`` files. :func:`join_arrays` puts them back.
    """
    arrays: dict[str, np.ndarray] = {}

    def walk(value: Any, where: str) -> Any:
        if isinstance(value, np.ndarray):
            arrays[where] = value
            return {"array": where}
        if isinstance(value, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, f"{where}.{i}") for i, v in enumerate(value)]
        return value

    return walk(obj, path), arrays


def join_arrays(obj: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """Put the arrays that :func:`split_arrays` took out back in place; RunError naming a missing one."""
    if isinstance(obj, dict):
        if set(obj) == {"array"} and isinstance(obj["array"], str):
            if obj["array"] not in arrays:
                raise RunError(f"{where}: array {obj['array']!r} is missing; run the analysis again")
            return arrays[obj["array"]]
        return {k: join_arrays(v, arrays, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_arrays(v, arrays, where) for v in obj]
    return obj


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return {dict: "an object", list: "a list", np.ndarray: "an array"}.get(type(value), type(value).__name__)
