"""Typed records as JSON: the contracts between processes, read and written from their
dataclass declarations.

A contract (a node's or the gateway's config, a health report) is a frozen dataclass
owned by the process that reads it. ``dump`` turns one into JSON-ready data; ``load``
builds it back from JSON data, checking every field against its annotation and naming
the path of the first field that is wrong (``node.json: han.channel: expected an
integer, got 'x'``). Supported field types: bool, int, float, str, bytes (hex),
:class:`~pathlib.Path`, :class:`~rig.protocol.eui.Eui64` (DUIS form), enums,
``Literal``, ``X | None``, ``tuple[X, ...]``, ``list[X]``, ``dict[str, X]`` and nested
records. A record with a ``VERSION`` class attribute carries it in its ``version``
field; :func:`read` refuses data written for another version.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from rig.protocol.eui import Eui64, EuiError

R = TypeVar("R")


class RecordError(ValueError):
    """Data that does not fit a record: says where (source and field path) and why."""


def dump(value: Any) -> Any:
    """JSON-ready data (dicts, lists, str, numbers, bool, None) for a record or a field."""
    if isinstance(value, Eui64):
        return value.duis
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, tuple | list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {str(k): dump(v) for k, v in value.items()}
    return value


def load(cls: type[R], data: Any, source: str = "<record>") -> R:
    """The record ``cls`` built from JSON data; :class:`RecordError` names what is wrong."""
    return typing.cast(R, _convert(cls, data, source, ""))


def read(cls: type[R], path: Path, what: str = "config") -> R:
    """A record from a JSON file, with the version check for records that carry one."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise RecordError(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise RecordError(f"{what} {path} is not JSON: {exc}") from None
    check_version(cls, data, str(path))
    return load(cls, data, str(path))


def write_data(record: Any) -> str:
    """A record as the JSON text :func:`read` takes back."""
    return json.dumps(dump(record), indent=2, sort_keys=True) + "\n"


def check_version(cls: type, data: Any, source: str) -> None:
    wanted = getattr(cls, "VERSION", None)
    if wanted is None or not isinstance(data, dict):
        return
    found = data.get("version")
    if found != wanted:
        written = "no version (an older controller)" if found is None else f"version {found!r}"
        raise RecordError(
            f"{source} was written with {written}; this program reads {cls.__name__} "
            f"version {wanted}: run the same rig version on both sides (`rig deploy` "
            "installs the controller's version on every node)"
        )


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _where(source: str, path: str) -> str:
    return f"{source}: {path}" if path else source


def _fail(source: str, path: str, message: str) -> RecordError:
    return RecordError(f"{_where(source, path)}: {message}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _convert(hint: Any, value: Any, source: str, path: str) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise _fail(source, path, "is required, got null")
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, source, path)
            except RecordError as exc:
                errors.append(str(exc))
        raise RecordError(errors[0])
    if origin is Literal:
        if value not in get_args(hint):
            choices = ", ".join(repr(a) for a in get_args(hint))
            raise _fail(source, path, f"{value!r} is not one of {choices}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise _fail(source, path, f"expected a list, got {_kind(value)}")
        args = get_args(hint)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise _fail(source, path, f"expected {len(args)} items, got {len(value)}")
            return tuple(
                _convert(a, v, source, f"{path}[{i}]")
                for i, (a, v) in enumerate(zip(args, value, strict=True))
            )
        items = [_convert(args[0], v, source, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(source, path, f"expected a mapping, got {_kind(value)}")
        key_type, value_type = get_args(hint)
        return {
            _convert(key_type, k, source, path): _convert(value_type, v, source, _join(path, k))
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(hint) and hint is not Eui64:
        return _record(typing.cast(type, hint), value, source, path)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(repr(m.value) for m in hint)
            raise _fail(source, path, f"{value!r} is not one of {choices}") from None
    return _scalar(hint, value, source, path)


def _scalar(hint: Any, value: Any, source: str, path: str) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(source, path, f"expected true or false, got {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(source, path, f"expected an integer, got {_kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(source, path, f"expected a number, got {_kind(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(source, path, f"expected text, got {_kind(value)}")
        return value
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise _fail(source, path, f"expected a file path, got {_kind(value)}")
        return Path(value)
    if hint is bytes:
        try:
            return bytes.fromhex(value)
        except (TypeError, ValueError):
            raise _fail(source, path, f"expected hex digits, got {_kind(value)}") from None
    if hint is Eui64:
        try:
            return Eui64.parse(value)
        except EuiError as exc:
            raise _fail(source, path, str(exc)) from None
    raise TypeError(f"{path or 'record'}: field type {hint!r} is not supported by records")


def _record(cls: type, value: Any, source: str, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(source, path, f"expected a mapping, got {_kind(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise _fail(
            source, _join(path, str(unknown[0])), f"unknown field (known: {', '.join(fields)})"
        )
    hints = _hints(cls)
    kwargs = {}
    for name, f in fields.items():
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _fail(source, _join(path, name), "missing (required)")
            continue
        kwargs[name] = _convert(hints[name], value[name], source, _join(path, name))
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, RecordError):
            raise
        raise _fail(source, path, str(exc)) from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A certificate and its private key, as files: a field of several contracts."""

    cert: Path
    key: Path
