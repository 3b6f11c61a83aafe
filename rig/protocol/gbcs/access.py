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
    """SET one attribute to the value given as ``name``, of type ``kind``; an ``optional``
    one is left out of the command when no value is given for it (ECS46a's descriptions:
    the ones the request names; ECS47's one SET of the auxiliary load it commands)."""

    target: cosem.Attribute
    name: str
    kind: DataType
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Invoke:
    """ACTION one method: with a fixed ``argument``, or the value given as ``name``; an
    ``optional`` one (given) is left out of the command when no value is given for it
    (ECS57: each maximum demand register DUIS names is reset)."""

    target: cosem.Method
    argument: Data | None = None
    name: str | None = None
    kind: DataType | None = None
    optional: bool = False

    def __post_init__(self) -> None:
        if (self.argument is None) == (self.name is None):
            raise ValueError("an Invoke has a fixed argument or the name of a given one")
        if self.optional and self.name is None:
            raise ValueError("an optional Invoke takes a given value: name it")


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


def _optional(part: Part) -> bool:
    return isinstance(part, Invoke | Write) and part.optional


def _left_out(part: Part, given: Mapping[str, Data]) -> bool:
    return isinstance(part, Invoke | Write) and part.optional and part.name not in given


def payload(access: Access, invoke_id: int, given: Mapping[str, Data]) -> bytes:
    """The access-request: one specification and one value per part, in order (an optional
    part only when its value is given)."""
    parts = [p for p in access.parts if not _left_out(p, given)]
    if not parts:
        raise ValueError("no part of the command is given")
    specs = [_spec(p, given) for p in parts]
    data = [_value(p, given) for p in parts]
    return AccessRequest(invoke_id, b"", specs, data).encode()


def _present(access: Access, specs: list[RequestSpec]) -> tuple[Part, ...] | None:
    """The parts a received request's specifications are, in order: every part, or (with
    optional parts) each optional one whose target the next specification names."""
    if not any(_optional(p) for p in access.parts):
        return access.parts if len(specs) == len(access.parts) else None
    out: list[Part] = []
    pending = list(specs)
    for p in access.parts:
        named = bool(pending) and _same_target(p, pending[0])
        if named:
            out.append(p)
            pending.pop(0)
        elif not _optional(p):
            return None
    return tuple(out) if out and not pending else None


def _same_target(part: Part, spec: RequestSpec) -> bool:
    if isinstance(part, Invoke):
        m = part.target
        ours = (RequestKind.ACTION, m.class_id, m.instance, m.method)
    else:
        t = part.target
        kind = {Read: RequestKind.GET, Write: RequestKind.SET}.get(
            type(part), RequestKind.GET_WITH_SELECTION
        )
        ours = (kind, t.class_id, t.instance, t.attribute)
    return ours == (spec.kind, spec.class_id, spec.instance_id, spec.member_id)


def given_values(access: Access, raw: bytes) -> dict[str, Data] | None:
    """The named values a received access-request carries, or None when it is not one of
    this many parts."""
    try:
        apdu = dlms.decode(raw)
    except DecodeError:
        return None
    if not isinstance(apdu, AccessRequest) or len(apdu.data) != len(apdu.specs):
        return None
    parts = _present(access, apdu.specs)
    if parts is None:
        return None
    out = {
        p.name: value
        for p, value in zip(parts, apdu.data, strict=True)
        if not isinstance(p, Read | ReadRange) and p.name
    }
    for p, spec in zip(parts, apdu.specs, strict=True):
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
