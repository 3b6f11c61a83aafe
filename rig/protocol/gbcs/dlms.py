"""DLMS COSEM payloads of GBCS (the ESME and the CHF): xDLMS ACCESS and DATA-NOTIFICATION.

GBCS carries COSEM as the ``access-request`` (``D9``), ``access-response`` (``DA``) and
``data-notification`` (``0F``) APDUs of the DLMS Green Book, A-XDR encoded. Values are
:class:`Data` nodes (type + value) so that any payload decodes to a typed tree and
re-encodes byte for byte. Sensitive parts travel as octet-strings holding
``31 || IC(4) || ciphertext || tag(12)`` (see :mod:`rig.protocol.gbcs.security`).
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from rig.protocol.codec import DecodeError, Reader, der_length

ACCESS_REQUEST = 0xD9
ACCESS_RESPONSE = 0xDA
DATA_NOTIFICATION = 0x0F


class DataType(IntEnum):
    NULL_DATA = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27
    DONT_CARE = 255


# fixed-size integer types: (size, signed)
_INTS = {
    DataType.BOOLEAN: (1, False),
    DataType.DOUBLE_LONG: (4, True),
    DataType.DOUBLE_LONG_UNSIGNED: (4, False),
    DataType.BCD: (1, False),
    DataType.INTEGER: (1, True),
    DataType.LONG: (2, True),
    DataType.UNSIGNED: (1, False),
    DataType.LONG_UNSIGNED: (2, False),
    DataType.LONG64: (8, True),
    DataType.LONG64_UNSIGNED: (8, False),
    DataType.ENUM: (1, False),
}
_FIXED_BYTES = {DataType.DATE_TIME: 12, DataType.DATE: 5, DataType.TIME: 4}
_FLOATS = {DataType.FLOAT32: ">f", DataType.FLOAT64: ">d"}
_STRINGS = (DataType.OCTET_STRING, DataType.VISIBLE_STRING, DataType.UTF8_STRING)
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class TypeDescription:
    """The contents-description of a compact-array: a type, with element count (array)
    or member descriptions (structure)."""

    type: DataType
    count: int = 0  # array: number of elements
    members: tuple[TypeDescription, ...] = ()  # array: (element,), structure: members

    def encode(self) -> bytes:
        if self.type is DataType.ARRAY:
            return b"\x01" + self.count.to_bytes(2, "big") + self.members[0].encode()
        if self.type is DataType.STRUCTURE:
            return (
                b"\x02" + der_length(len(self.members)) + b"".join(m.encode() for m in self.members)
            )
        return bytes([self.type])

    @classmethod
    def decode(cls, r: Reader, depth: int = 0) -> TypeDescription:
        if depth > MAX_DEPTH:
            raise r.fail(f"type description nested deeper than {MAX_DEPTH} levels")
        at = r.offset
        tag = r.u8("a type-description tag")
        try:
            t = DataType(tag)
        except ValueError:
            raise DecodeError(f"unknown type-description tag {tag}", at) from None
        if t is DataType.COMPACT_ARRAY:
            raise DecodeError("a compact-array cannot describe a compact-array", at)
        if t is DataType.ARRAY:
            count = r.uint(2, "the compact-array element count")
            return cls(t, count, (cls.decode(r, depth + 1),))
        if t is DataType.STRUCTURE:
            n = r.der_length("the structure member count")
            if n > r.remaining:
                raise r.fail(f"structure description claims {n} members in {r.remaining} bytes")
            return cls(t, 0, tuple(cls.decode(r, depth + 1) for _ in range(n)))
        return cls(t)

    def read_value(self, r: Reader, depth: int = 0) -> Data:
        """One untagged value of this type from a compact-array's contents."""
        t = self.type
        if depth > MAX_DEPTH:
            raise r.fail(f"compact-array value nested deeper than {MAX_DEPTH} levels")
        if t is DataType.ARRAY:
            return Data(t, [self.members[0].read_value(r, depth + 1) for _ in range(self.count)])
        if t is DataType.STRUCTURE:
            return Data(t, [m.read_value(r, depth + 1) for m in self.members])
        return Data.decode_untagged(t, r, depth)

    def to_json(self) -> Any:
        name = self.type.name.lower().replace("_", "-")
        if self.type is DataType.ARRAY:
            return {name: {"count": self.count, "element": self.members[0].to_json()}}
        if self.type is DataType.STRUCTURE:
            return {name: [m.to_json() for m in self.members]}
        return name


@dataclass(frozen=True, slots=True)
class CompactArray:
    """``description`` plus the raw ``contents``; ``elements()`` reads them as Data."""

    description: TypeDescription
    contents: bytes

    def elements(self) -> list[Data]:
        r = Reader(self.contents)
        out = []
        while not r.at_end():
            out.append(self.description.read_value(r))
        return out


@dataclass(frozen=True, slots=True)
class Data:
    """One A-XDR ``Data`` value. ``value`` is a list for array/structure, int,
    bytes (strings, dates, floats as sent), a (bit count, bytes) pair for a bit-string, or None."""

    type: DataType
    value: Any = None

    def encode(self) -> bytes:
        t = self.type
        head = bytes([t])
        if t in (DataType.ARRAY, DataType.STRUCTURE):
            return head + der_length(len(self.value)) + b"".join(d.encode() for d in self.value)
        if t in _INTS:
            size, signed = _INTS[t]
            return head + int(self.value).to_bytes(size, "big", signed=signed)
        if t in _STRINGS:
            return head + der_length(len(self.value)) + bytes(self.value)
        if t is DataType.BIT_STRING:
            bits, raw = self.value
            return head + der_length(bits) + raw
        if t in _FIXED_BYTES:
            return head + bytes(self.value)
        if t in _FLOATS:  # kept as the wire bytes: NaN payloads survive a round trip
            return head + bytes(self.value)
        if t is DataType.COMPACT_ARRAY:
            ca: CompactArray = self.value
            return head + ca.description.encode() + der_length(len(ca.contents)) + ca.contents
        return head  # null-data, dont-care

    def to_json(self) -> Any:
        t, v = self.type, self.value
        name = t.name.lower().replace("_", "-")
        if t in (DataType.ARRAY, DataType.STRUCTURE):
            return {name: [d.to_json() for d in v]}
        if t is DataType.BIT_STRING:
            return {name: {"bits": v[0], "hex": v[1].hex()}}
        if t is DataType.COMPACT_ARRAY:
            out: dict[str, Any] = {
                "description": v.description.to_json(),
                "contents": v.contents.hex(),
            }
            try:
                out["elements"] = [e.to_json() for e in v.elements()]
            except DecodeError as exc:
                out["elements_error"] = str(exc)
            return {name: out}
        if t in _FLOATS:
            return {name: struct.unpack(_FLOATS[t], v)[0], "hex": v.hex()}
        if isinstance(v, bytes):
            out = {name: v.hex()}
            if t is DataType.VISIBLE_STRING or t is DataType.UTF8_STRING:
                out["text"] = v.decode("utf-8", "replace")
            elif t is DataType.OCTET_STRING and v[:1] == b"\x31" and len(v) >= 17:
                out["encrypted"] = True
            return out
        return {name: v}

    @classmethod
    def decode(cls, r: Reader, depth: int = 0) -> Data:
        if depth > MAX_DEPTH:
            raise r.fail(f"Data nested deeper than {MAX_DEPTH} levels")
        at = r.offset
        tag = r.u8("a Data type tag")
        try:
            t = DataType(tag)
        except ValueError:
            raise DecodeError(f"unknown A-XDR Data type {tag}", at) from None
        if t in (DataType.ARRAY, DataType.STRUCTURE):
            n = r.der_length(f"the {t.name.lower()} count")
            if n > r.remaining:
                raise r.fail(f"{t.name.lower()} claims {n} elements in {r.remaining} bytes")
            return cls(t, [cls.decode(r, depth + 1) for _ in range(n)])
        if t is DataType.COMPACT_ARRAY:
            desc = TypeDescription.decode(r, depth + 1)
            return cls(t, CompactArray(desc, _octets(r, "the compact-array contents")))
        return cls.decode_untagged(t, r, depth)

    @classmethod
    def decode_untagged(cls, t: DataType, r: Reader, depth: int = 0) -> Data:
        """A simple value whose type is already known (Data body, compact-array element)."""
        if t in (DataType.ARRAY, DataType.STRUCTURE, DataType.COMPACT_ARRAY):
            raise r.fail(f"{t.name.lower()} is not a simple type")
        if t in _INTS:
            size, signed = _INTS[t]
            return cls(t, int.from_bytes(r.take(size, t.name.lower()), "big", signed=signed))
        if t in _STRINGS:
            return cls(t, r.take(r.der_length(t.name.lower()), t.name.lower()))
        if t is DataType.BIT_STRING:
            bits = r.der_length("the bit-string length")
            return cls(t, (bits, r.take((bits + 7) // 8, "the bit-string")))
        if t in _FIXED_BYTES:
            return cls(t, r.take(_FIXED_BYTES[t], t.name.lower()))
        if t in _FLOATS:
            return cls(t, r.take(struct.calcsize(_FLOATS[t]), t.name.lower()))
        return cls(t)


class RequestKind(IntEnum):
    GET = 1
    SET = 2
    ACTION = 3
    GET_WITH_SELECTION = 4
    SET_WITH_SELECTION = 5


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One Access-Request-Specification: what to get, set or invoke."""

    kind: RequestKind
    class_id: int
    instance_id: bytes  # OBIS code, 6 bytes
    member_id: int  # attribute or method
    selector: int | None = None
    parameters: Data | None = None

    @property
    def obis(self) -> str:
        a, b, c, d, e, f = self.instance_id
        return f"{a}-{b}:{c}.{d}.{e}.{f}"

    def encode(self) -> bytes:
        out = bytes([self.kind]) + self.class_id.to_bytes(2, "big") + self.instance_id
        out += bytes([self.member_id])
        if self.kind in (RequestKind.GET_WITH_SELECTION, RequestKind.SET_WITH_SELECTION):
            assert self.selector is not None and self.parameters is not None
            out += bytes([self.selector]) + self.parameters.encode()
        return out

    @classmethod
    def decode(cls, r: Reader) -> RequestSpec:
        at = r.offset
        tag = r.u8("an access-request-specification choice")
        try:
            kind = RequestKind(tag)
        except ValueError:
            raise DecodeError(f"unknown access-request-specification choice {tag}", at) from None
        class_id = r.uint(2, "the class-id")
        instance = r.take(6, "the instance-id")
        member = r.u8("the attribute or method id")
        if kind in (RequestKind.GET_WITH_SELECTION, RequestKind.SET_WITH_SELECTION):
            selector = r.u8("the access-selector")
            return cls(kind, class_id, instance, member, selector, Data.decode(r))
        return cls(kind, class_id, instance, member)

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "kind": self.kind.name.lower(),
            "class_id": self.class_id,
            "obis": self.obis,
            "member": self.member_id,
        }
        if self.parameters is not None:
            out["selector"] = self.selector
            out["parameters"] = self.parameters.to_json()
        return out


def _seq(r: Reader, what: str, item) -> list:
    n = r.der_length(f"the {what} count")
    if n > r.remaining:
        raise r.fail(f"{what} claims {n} entries in {r.remaining} bytes")
    return [item(r) for _ in range(n)]


def _octets(r: Reader, what: str) -> bytes:
    return r.take(r.der_length(what), what)


@dataclass(frozen=True, slots=True)
class AccessRequest:
    invoke_id: int  # long-invoke-id-and-priority
    date_time: bytes
    specs: list[RequestSpec]
    data: list[Data]

    def encode(self) -> bytes:
        return (
            bytes([ACCESS_REQUEST])
            + self.invoke_id.to_bytes(4, "big")
            + der_length(len(self.date_time))
            + self.date_time
            + der_length(len(self.specs))
            + b"".join(s.encode() for s in self.specs)
            + der_length(len(self.data))
            + b"".join(d.encode() for d in self.data)
        )

    def to_json(self) -> dict:
        return {
            "apdu": "access-request",
            "invoke_id": self.invoke_id,
            "date_time": self.date_time.hex(),
            "specification": [s.to_json() for s in self.specs],
            "data": [d.to_json() for d in self.data],
        }


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    kind: RequestKind  # 1 get, 2 set, 3 action (the shape of the answer)
    result: int  # Data-Access-Result or Action-Result

    def encode(self) -> bytes:
        return bytes([self.kind, self.result])

    @classmethod
    def decode(cls, r: Reader) -> ResponseSpec:
        at = r.offset
        tag = r.u8("an access-response-specification choice")
        if tag not in (1, 2, 3):
            raise DecodeError(f"unknown access-response-specification choice {tag}", at)
        return cls(RequestKind(tag), r.u8("the result"))


@dataclass(frozen=True, slots=True)
class AccessResponse:
    invoke_id: int
    date_time: bytes
    request_specs: list[RequestSpec] | None
    data: list[Data]
    results: list[ResponseSpec]

    def encode(self) -> bytes:
        specs = b"\x00"
        if self.request_specs is not None:
            specs = b"\x01" + der_length(len(self.request_specs))
            specs += b"".join(s.encode() for s in self.request_specs)
        return (
            bytes([ACCESS_RESPONSE])
            + self.invoke_id.to_bytes(4, "big")
            + der_length(len(self.date_time))
            + self.date_time
            + specs
            + der_length(len(self.data))
            + b"".join(d.encode() for d in self.data)
            + der_length(len(self.results))
            + b"".join(s.encode() for s in self.results)
        )

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "apdu": "access-response",
            "invoke_id": self.invoke_id,
            "date_time": self.date_time.hex(),
            "data": [d.to_json() for d in self.data],
            "results": [{"kind": s.kind.name.lower(), "result": s.result} for s in self.results],
        }
        if self.request_specs is not None:
            out["specification"] = [s.to_json() for s in self.request_specs]
        return out


@dataclass(frozen=True, slots=True)
class DataNotification:
    invoke_id: int
    date_time: bytes
    body: Data

    @property
    def alert_code(self) -> int | None:
        """GBCS DLMS alerts: a structure whose first element is the alert code."""
        v = self.body.value
        if self.body.type is DataType.STRUCTURE and v and v[0].type is DataType.LONG_UNSIGNED:
            return int(v[0].value)
        return None

    def encode(self) -> bytes:
        return (
            bytes([DATA_NOTIFICATION])
            + self.invoke_id.to_bytes(4, "big")
            + der_length(len(self.date_time))
            + self.date_time
            + self.body.encode()
        )

    def to_json(self) -> dict:
        return {
            "apdu": "data-notification",
            "invoke_id": self.invoke_id,
            "date_time": self.date_time.hex(),
            "alert_code": None if self.alert_code is None else f"{self.alert_code:04X}",
            "body": self.body.to_json(),
        }


DlmsApdu = AccessRequest | AccessResponse | DataNotification


def decode(data: bytes, *, base: int = 0) -> DlmsApdu:
    r = Reader(data, base=base)
    at = r.offset
    tag = r.u8("the xDLMS APDU tag")
    invoke = r.uint(4, "the long-invoke-id-and-priority")
    date_time = _octets(r, "the date-time")
    apdu: DlmsApdu
    if tag == ACCESS_REQUEST:
        specs = _seq(r, "access-request-specification", RequestSpec.decode)
        apdu = AccessRequest(invoke, date_time, specs, _seq(r, "list-of-data", Data.decode))
    elif tag == ACCESS_RESPONSE:
        flag_at = r.offset
        flag = r.u8("the access-request-specification presence flag")
        if flag not in (0, 1):
            raise DecodeError(f"presence flag is {flag}, not 0 or 1", flag_at)
        req = _seq(r, "access-request-specification", RequestSpec.decode) if flag else None
        items = _seq(r, "list-of-data", Data.decode)
        apdu = AccessResponse(
            invoke, date_time, req, items, _seq(r, "response", ResponseSpec.decode)
        )
    elif tag == DATA_NOTIFICATION:
        apdu = DataNotification(invoke, date_time, Data.decode(r))
    else:
        raise DecodeError(f"0x{tag:02X} is not an xDLMS access or data-notification APDU", at)
    r.done("the xDLMS APDU")
    return apdu


# --- COSEM date-time (12 bytes: year(2) month day weekday hour minute second hundredths
#     deviation(2) clock-status) --------------------------------------------------------
def date_time(when: dt.datetime) -> bytes:
    """A COSEM date-time, UTC, weekday and deviation not specified."""
    t = when.astimezone(dt.UTC)
    return (
        t.year.to_bytes(2, "big")
        + bytes([t.month, t.day, 0xFF, t.hour, t.minute, t.second, t.microsecond // 10_000])
        + b"\x80\x00\xff"
    )


def parse_date_time(raw: bytes) -> dt.datetime | None:
    """The instant a COSEM date-time names (UTC), or None when it is unspecified or invalid."""
    if len(raw) != 12 or raw[:2] == b"\xff\xff":
        return None
    hundredths = raw[8] if raw[8] != 0xFF else 0
    try:
        return dt.datetime(
            int.from_bytes(raw[:2], "big"),
            raw[2],
            raw[3],
            raw[5],
            raw[6],
            raw[7],
            hundredths * 10_000,
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None
