"""DLMS commands of several parts in one access-request: GETs, SETs and ACTIONs in the order
GBCS lays them out (ECS07 Update Debt: five SETs then five ACTIONs; ECS26a Read Prepayment
Configuration: eighteen GETs; ECS20d: a GET of a log selected by a given range).

An :class:`Access` declares the parts; a part's value is fixed by the declaration or
*given*: named, and taken by the DCC's transform from the DUIS request. Pure: the payload
for a counter and the given values (:func:`payload`), and the given values a received
payload carries (:func:`given_values`), so a device can check a command is exactly the one
its declaration describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.dlms import AccessRequest, Data, DataType, RequestKind, RequestSpec


@dataclass(frozen=True, slots=True)
class Read:
    """GET one attribute."""

    target: cosem.Attribute


@dataclass(frozen=True, slots=True)
class Write:
    """SET one attribute to the value given as ``name``, of type ``kind``."""

    target: cosem.Attribute
    name: str
    kind: DataType


@dataclass(frozen=True, slots=True)
class Invoke:
    """ACTION one method: with a fixed ``argument``, or the value given as ``name``."""

    target: cosem.Method
    argument: Data | None = None
    name: str | None = None
    kind: DataType | None = None

    def __post_init__(self) -> None:
        if (self.argument is None) == (self.name is None):
            raise ValueError("an Invoke has a fixed argument or the name of a given one")


@dataclass(frozen=True, slots=True)
class ReadRange:
    """GET a profile's buffer selected by range (selector 1) on the ``restricting`` column:
    the entries from the value given as ``start`` to the one given as ``end`` (both of type
    ``kind``), every column (ECS20d: a billing data log between two UTC times)."""

    target: cosem.Attribute
    restricting: cosem.Attribute
    start: str = "start"
    end: str = "end"
    kind: DataType = DataType.DOUBLE_LONG_UNSIGNED


Part = Read | Write | Invoke | ReadRange


@dataclass(frozen=True, slots=True)
class Access:
    """One access-request of several parts."""

    parts: tuple[Part, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The given values, in the order the parts take them."""
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, ReadRange):
                out += [p.start, p.end]
            elif not isinstance(p, Read) and p.name:
                out.append(p.name)
        return tuple(out)


def _spec(part: Part, given: Mapping[str, Data] | None = None) -> RequestSpec:
    if isinstance(part, ReadRange):
        return _range_spec(part, given or {})
    if isinstance(part, Read):
        t = part.target
        return RequestSpec(RequestKind.GET, t.class_id, t.instance, t.attribute)
    if isinstance(part, Write):
        t = part.target
        return RequestSpec(RequestKind.SET, t.class_id, t.instance, t.attribute)
    m = part.target
    return RequestSpec(RequestKind.ACTION, m.class_id, m.instance, m.method)


def _value(part: Part, given: Mapping[str, Data]) -> Data:
    if isinstance(part, Read | ReadRange):
        return Data(DataType.NULL_DATA)
    if isinstance(part, Invoke) and part.argument is not None:
        return part.argument
    assert part.name is not None
    value = given.get(part.name)
    if value is None:
        raise ValueError(f"no value given for {part.name}")
    if part.kind is not None and value.type is not part.kind:
        raise ValueError(f"{part.name} is a {part.kind.name}, not a {value.type.name}")
    return value


def payload(access: Access, invoke_id: int, given: Mapping[str, Data]) -> bytes:
    """The access-request: one specification and one value per part, in order."""
    specs = [_spec(p, given) for p in access.parts]
    data = [_value(p, given) for p in access.parts]
    return AccessRequest(invoke_id, b"", specs, data).encode()


def given_values(access: Access, raw: bytes) -> dict[str, Data] | None:
    """The named values a received access-request carries, or None when it is not one of
    this many parts."""
    try:
        apdu = dlms.decode(raw)
    except DecodeError:
        return None
    if not isinstance(apdu, AccessRequest) or len(apdu.data) != len(access.parts):
        return None
    if len(apdu.specs) != len(access.parts):
        return None
    out = {
        p.name: value
        for p, value in zip(access.parts, apdu.data, strict=True)
        if not isinstance(p, Read | ReadRange) and p.name
    }
    for p, spec in zip(access.parts, apdu.specs, strict=True):
        if isinstance(p, ReadRange):
            if spec.parameters is None:
                return None
            try:
                out[p.start], out[p.end] = cosem.range_of(spec.parameters)
            except ValueError:
                return None
    return out


def _range_spec(part: ReadRange, given: Mapping[str, Data]) -> RequestSpec:
    """A GET with selective access by range, from and to given."""
    start, end = (given.get(name) for name in (part.start, part.end))
    if start is None or end is None:
        raise ValueError(f"a range read takes {part.start} and {part.end}")
    for value in (start, end):
        if value.type is not part.kind:
            raise ValueError(f"a range is of {part.kind.name}, not {value.type.name}")
    t = part.target
    parameters = cosem.range_parameters(part.restricting, start, end)
    return RequestSpec(
        RequestKind.GET_WITH_SELECTION,
        t.class_id,
        t.instance,
        t.attribute,
        cosem.BY_RANGE,
        parameters,
    )
