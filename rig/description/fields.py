"""Reading located YAML field by field: the reader that collects problems, and the
scalar converters it applies.

A converter takes the raw YAML value and returns the typed value or raises
``ValueError`` whose text becomes the problem's message; :meth:`Reader.field`
adds the file, the line and the field path.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from rig.description.errors import Problem
from rig.description.located import LocatedDict, LocatedList
from rig.description.model import AUTO, Port
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.install_code import InstallCodeError, parse_install_code

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

_NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")
_PIN = re.compile(r"(GPIO|BCM)\d{1,2}|BOARD\d{1,2}|J8:\d{1,2}|\d{1,2}")


class Reader:
    """Walks located YAML, converting fields and collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, line: int | None, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, path, message))

    def mapping(self, value: Any, path: str, line: int | None, known: set[str]) -> LocatedDict:
        if value is None:
            value = _empty_mapping(line)
        if not isinstance(value, LocatedDict):
            self.problem(line, path, f"expected a mapping, got {describe(value)}")
            return _empty_mapping(line)
        for key in value:
            if key not in known:
                hint = _closest(str(key), known)
                self.problem(
                    value.lines[key],
                    join(path, str(key)),
                    "unknown field"
                    + (
                        f"; did you mean {hint!r}?"
                        if hint
                        else f"; known fields: {', '.join(sorted(known))}"
                    ),
                )
        return value

    def sequence(self, value: Any, path: str, line: int) -> list[tuple[Any, str, int]]:
        """The items of a list with each one's path (``nodes[2]``) and line."""
        if value is None:
            return []
        if not isinstance(value, LocatedList):
            self.problem(line, path, f"expected a list, got {describe(value)}")
            return []
        return [(item, f"{path}[{i}]", value.lines[i]) for i, item in enumerate(value)]

    def field(
        self,
        m: LocatedDict,
        key: str,
        path: str,
        convert: Callable[[Any], T],
        *,
        default: Any = ...,
    ) -> T | None:
        """Convert ``m[key]``; a missing required field or a conversion error is a problem."""
        fpath = join(path, key)
        if key not in m:
            if default is ...:
                self.problem(m.line, fpath, "missing (required)")
                return None
            return default
        try:
            return convert(m[key])
        except (ValueError, TypeError, KeyError) as exc:
            self.problem(m.lines.get(key, m.line), fpath, str(exc))
            return None

    def line_of(self, m: LocatedDict, key: str) -> int:
        return m.lines.get(key, m.line)


def _empty_mapping(line: int | None) -> LocatedDict:
    value = LocatedDict()
    value.line, value.lines = line or 1, {}
    return value


def describe(value: Any) -> str:
    """What a YAML value is, for "expected a mapping, got ..." messages."""
    for typ, word in ((dict, "a mapping"), (list, "a list"), (str, "text"), (int, "a number")):
        if isinstance(value, typ):
            return f"{word} ({value!r})" if typ in (str, int) else word
    return type(value).__name__


def join(path: str, key: str) -> str:
    """The path of field ``key`` inside ``path`` (``nodes[1]`` + ``eui``)."""
    return f"{path}.{key}" if path else key


def index_of(path: str) -> int:
    """The list position in a path like ``nodes[2]``."""
    return int(path[path.index("[") + 1 : path.index("]")])


def _closest(word: str, options: set[str]) -> str | None:
    hits = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return hits[0] if hits else None


# --- scalar converters --------------------------------------------------------


def to_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def to_rate(v: Any) -> float:
    """A positive number: how many times as fast as the wall clock (the DCC's clock)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        raise ValueError(f"expected a positive number (1 is real time), got {v!r}")
    return float(v)


def to_text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"expected text, got {v!r}")
    return v.strip()


def to_name(v: Any) -> str:
    v = to_text(v)
    if not _NAME.fullmatch(v):
        raise ValueError(
            f"{v!r} is not a valid name: use 1-16 lower-case letters, digits or '-', "
            "starting with a letter (it names processes, namespaces and hosts)"
        )
    return v


def to_eui(v: Any) -> Eui64:
    try:
        return Eui64.parse(v if isinstance(v, str) else str(v))
    except EuiError as exc:
        raise ValueError(str(exc)) from None


def int_in(lo: int, hi: int, what: str) -> Callable[[Any], int]:
    def convert(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, str):
                try:
                    v = int(v, 0)
                except ValueError:
                    raise ValueError(f"{v!r} is not a number") from None
            else:
                raise ValueError(f"expected a number, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"{v} is out of range for {what} ({lo}..{hi})")
        return v

    return convert


def to_port(v: Any) -> Port:
    if v == AUTO or v is None:
        return None
    return int_in(1, 65535, "a TCP/UDP port")(v)


def enum_of(enum: type[E], what: str) -> Callable[[Any], E]:
    def convert(v: Any) -> E:
        try:
            return enum(v)
        except ValueError:
            choices = ", ".join(e.value for e in enum)
            raise ValueError(f"unknown {what} {v!r}; one of: {choices}") from None

    return convert


def choice_of(*options: str) -> Callable[[Any], str]:
    def convert(v: Any) -> str:
        if v not in options:
            raise ValueError(f"{v!r} is not one of: {', '.join(options)}")
        return v

    return convert


def to_pin(v: Any) -> str:
    text = str(v).strip()
    if not _PIN.fullmatch(text):
        raise ValueError(
            f"{v!r} is not a gpiozero pin name; write e.g. GPIO17, BCM17, BOARD11 or J8:11"
        )
    return text


def to_install_code(v: Any) -> bytes:
    try:
        return parse_install_code(str(v))
    except InstallCodeError as exc:
        raise ValueError(str(exc)) from None


def to_address(v: Any) -> str:
    text = to_text(v)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", text):
            raise ValueError(f"{text!r} is neither an IP address nor a host name") from None
    return text


def to_url(v: Any) -> str | None:
    if v == AUTO:
        return None
    text = to_text(v)
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text


def to_subnet(v: Any) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(str(v), strict=True)
    except ValueError as exc:
        raise ValueError(f"{v!r} is not an IPv4 subnet like 10.213.0.0/24: {exc}") from None
    if net.num_addresses < 16:
        raise ValueError(f"{net} is too small for a rig; use a /28 or larger")
    return net


def to_host_key(v: Any) -> str:
    """An OpenSSH public host key, ``TYPE BASE64`` (what ``ssh-keyscan`` prints after the host)."""
    parts = str(v).split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
        raise ValueError(
            f"{v!r} is not an SSH host key; write e.g. 'ssh-ed25519 AAAAC3...' as printed "
            "by `ssh-keyscan -t ed25519 ADDRESS` (check it against the Pi's console)"
        )
    return " ".join(parts[:2])
