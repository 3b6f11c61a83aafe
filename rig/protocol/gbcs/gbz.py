"""GBZ payloads (GBCS section 7.3): ZigBee cluster commands in GBCS containers, as used
for the GSME, the GPF and the HAN-only PPMID use cases.

::

    01 09  count  [alert code(2) time(4)]  component...
    component: control  cluster(2)  length(2)  [from date-time(4)]
               plain:     ZCL header (frame control, [manufacturer(2)], seq, command) payload
               encrypted: additional control  frame counter  ZCL header
                          length(2)  31 IC(4) ciphertext tag(12)

Control bits: 0x01 last component, 0x02 encrypted, 0x10 from date-time present.
Decodes to a typed tree and re-encodes byte for byte; the ZCL payload stays as bytes
tagged with the cluster and command it belongs to. The ZCL payloads GBZ use cases carry
have their codecs here too: attribute records, the Default Response, and the Prepayment
cluster's Consumer Top Up (and its response) and Select Available Emergency Credit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from rig.protocol.codec import DecodeError, Reader
from rig.protocol.zigbee.se import ZIGBEE_EPOCH, OriginatingDevice, TopUpResult

PROFILE_ID = 0x0109
CONTROL_LAST = 0x01
CONTROL_ENCRYPTED = 0x02
CONTROL_FROM_DATE_TIME = 0x10
ZCL_MANUFACTURER_SPECIFIC = 0x04
ZCL_SERVER_TO_CLIENT = 0x08
FUTURE_DATED_ALERTS = {0x8F66, 0x8F67}

CLUSTERS = {
    0x0000: "Basic",
    0x000A: "Time",
    0x0025: "Keep-Alive",
    0x0700: "Price",
    0x0701: "Demand Response and Load Control",
    0x0702: "Metering",
    0x0703: "Messaging",
    0x0704: "Tunneling",
    0x0705: "Prepayment",
    0x0707: "Calendar",
    0x0708: "Device Management",
    0x0709: "Events",
}
PROFILE_WIDE_COMMANDS = {
    0x00: "Read Attributes",
    0x01: "Read Attributes Response",
    0x02: "Write Attributes",
    0x04: "Write Attributes Response",
    0x0B: "Default Response",
}


def zigbee_time(when: dt.datetime) -> int:
    """ZigBee's UTC time (an alert's time): seconds since 2000-01-01 00:00 UTC."""
    return int(when.timestamp()) - ZIGBEE_EPOCH


def from_zigbee_time(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ZIGBEE_EPOCH + seconds, dt.UTC)


@dataclass(frozen=True, slots=True)
class ZclHeader:
    frame_control: int
    sequence: int
    command: int
    manufacturer: int | None = None

    @property
    def cluster_specific(self) -> bool:
        return self.frame_control & 0x03 == 0x01

    @property
    def server_to_client(self) -> bool:
        return bool(self.frame_control & ZCL_SERVER_TO_CLIENT)

    def encode(self) -> bytes:
        out = bytes([self.frame_control])
        if self.manufacturer is not None:
            out += self.manufacturer.to_bytes(2, "little")
        return out + bytes([self.sequence, self.command])

    @classmethod
    def decode(cls, r: Reader) -> ZclHeader:
        fc = r.u8("the ZCL frame control")
        mfr = None
        if fc & ZCL_MANUFACTURER_SPECIFIC:
            mfr = int.from_bytes(r.take(2, "the ZCL manufacturer code"), "little")
        return cls(fc, r.u8("the ZCL sequence number"), r.u8("the ZCL command"), mfr)

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "frame_control": self.frame_control,
            "direction": "server-to-client" if self.server_to_client else "client-to-server",
            "command": self.command,
        }
        if not self.cluster_specific:
            out["command_name"] = PROFILE_WIDE_COMMANDS.get(self.command, "profile-wide")
        if self.manufacturer is not None:
            out["manufacturer"] = self.manufacturer
        return out


@dataclass(frozen=True, slots=True)
class Encrypted:
    """An encrypted GBZ component body: ``31 || IC || ciphertext || tag``."""

    additional_control: int
    frame_counter: int
    blob: bytes


@dataclass(frozen=True, slots=True)
class Component:
    control: int
    cluster: int
    zcl: ZclHeader
    payload: bytes = b""  # plain ZCL payload
    encrypted: Encrypted | None = None
    from_date_time: int | None = None  # UTC seconds since 2000-01-01 (ZigBee time)

    def encode(self) -> bytes:
        body = b""
        if self.from_date_time is not None:
            body += self.from_date_time.to_bytes(4, "big")
        if self.encrypted is not None:
            e = self.encrypted
            body += bytes([e.additional_control, e.frame_counter]) + self.zcl.encode()
            body += len(e.blob).to_bytes(2, "big") + e.blob
        else:
            body += self.zcl.encode() + self.payload
        return (
            bytes([self.control])
            + self.cluster.to_bytes(2, "big")
            + len(body).to_bytes(2, "big")
            + body
        )

    @classmethod
    def decode(cls, r: Reader) -> Component:
        control = r.u8("the extended header control field")
        cluster = r.uint(2, "the cluster ID")
        body = r.sub(r.uint(2, "the GBZ command length"), "the GBZ command")
        when = None
        if control & CONTROL_FROM_DATE_TIME:
            when = body.uint(4, "the from date-time")
        if control & CONTROL_ENCRYPTED:
            extra = body.u8("the additional header control")
            counter = body.u8("the additional header frame counter")
            zcl = ZclHeader.decode(body)
            blob = body.take(body.uint(2, "the encrypted content length"), "the encrypted content")
            body.done("an encrypted GBZ component")
            if len(blob) < 17 or blob[0] != 0x31:
                raise body.fail("encrypted GBZ content is not 31 || IC || ciphertext || tag")
            return cls(control, cluster, zcl, b"", Encrypted(extra, counter, blob), when)
        zcl = ZclHeader.decode(body)
        return cls(control, cluster, zcl, body.rest(), None, when)

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "cluster": f"{self.cluster:04X}",
            "cluster_name": CLUSTERS.get(self.cluster, "unknown"),
            "control": self.control,
            "zcl": self.zcl.to_json(),
        }
        if self.from_date_time is not None:
            out["from_date_time"] = self.from_date_time
        if self.encrypted is not None:
            out["encrypted"] = self.encrypted.blob.hex()
        else:
            out["payload"] = self.payload.hex()
        return out


@dataclass(frozen=True, slots=True)
class FutureDatedOutcome:
    """Body of the future-dated execution alerts (8F66 success / 8F67 failure)."""

    message_code: int
    counter: int
    cluster: int
    frame_control: int
    command: int

    def encode(self) -> bytes:
        body = (
            self.message_code.to_bytes(2, "big")
            + self.counter.to_bytes(8, "big")
            + self.cluster.to_bytes(2, "big")
            + bytes([self.frame_control, self.command])
        )
        return bytes([len(body)]) + body

    @classmethod
    def decode(cls, r: Reader) -> FutureDatedOutcome:
        inner = r.sub(r.u8("the future-dated alert length"), "the future-dated alert payload")
        out = cls(
            inner.uint(2, "the message code"),
            inner.uint(8, "the originator counter"),
            inner.uint(2, "the cluster ID"),
            inner.u8("the ZCL frame control"),
            inner.u8("the ZCL command"),
        )
        inner.done("the future-dated alert payload")
        return out


@dataclass(frozen=True, slots=True)
class GbzPayload:
    count: int  # total number of GBZ use case specific components, as written
    components: list[Component]
    alert_code: int | None = None
    alert_time: int | None = None
    future_dated: FutureDatedOutcome | None = None
    alert_data: bytes | None = None  # alert body that is not components

    def encode(self) -> bytes:
        out = PROFILE_ID.to_bytes(2, "big") + bytes([self.count])
        if self.alert_code is not None:
            out += self.alert_code.to_bytes(2, "big") + (self.alert_time or 0).to_bytes(4, "big")
        if self.future_dated is not None:
            out += self.future_dated.encode()
        out += b"".join(c.encode() for c in self.components)
        if self.alert_data is not None:
            out += self.alert_data
        return out

    def to_json(self) -> dict:
        out: dict[str, Any] = {"gbz": True, "count": self.count}
        if self.alert_code is not None:
            out["alert_code"] = f"{self.alert_code:04X}"
            out["alert_time"] = self.alert_time
        if self.future_dated is not None:
            fd = self.future_dated
            out["future_dated"] = {
                "message_code": f"{fd.message_code:04X}",
                "counter": fd.counter,
                "cluster": f"{fd.cluster:04X}",
                "command": fd.command,
            }
        out["components"] = [c.to_json() for c in self.components]
        if self.alert_data is not None:
            out["alert_data"] = self.alert_data.hex()
        return out


def decode(data: bytes, *, alert: bool = False, base: int = 0) -> GbzPayload:
    r = Reader(data, base=base)
    at = r.offset
    profile = r.uint(2, "the GBZ profile ID")
    if profile != PROFILE_ID:
        raise DecodeError(f"GBZ profile ID is 0x{profile:04X}, not 0x0109", at)
    count = r.u8("the GBZ component count")
    code = when = None
    if alert:
        code = r.uint(2, "the alert code")
        when = r.uint(4, "the alert time")
        if code in FUTURE_DATED_ALERTS:
            fd = FutureDatedOutcome.decode(r)
            r.done("the future-dated alert")
            return GbzPayload(count, [], code, when, fd)
        mark = r.pos
        try:
            components = _components(r, count)
            r.done("the GBZ alert")
            return GbzPayload(count, components, code, when)
        except DecodeError:
            r.pos = mark  # an alert whose body is not a list of components
            return GbzPayload(count, [], code, when, alert_data=r.rest())
    components = _components(r, count)
    r.done("the GBZ payload")
    return GbzPayload(count, components)


def _components(r: Reader, count: int) -> list[Component]:
    out = []
    while not r.at_end():
        out.append(Component.decode(r))
    if count and len(out) != count:
        raise r.fail(f"GBZ header announces {count} components but {len(out)} follow")
    return out


# --- ZCL attribute records (Read Attributes / Read Attributes Response) ------------------------
METERING = 0x0702
READ_ATTRIBUTES = 0x00
READ_ATTRIBUTES_RESPONSE = 0x01
WRITE_ATTRIBUTES = 0x02
WRITE_ATTRIBUTES_RESPONSE = 0x04
ZCL_SUCCESS = 0x00
ZCL_UNSUPPORTED_ATTRIBUTE = 0x86
ZCL_READ_ONLY = 0x88
ZCL_INVALID_DATA_TYPE = 0x8D
# sizes of the fixed-size ZCL data types GBZ attributes use: bool, bitmaps, unsigned and
# signed integers, enums
ZCL_TYPE_SIZES = {
    0x10: 1,
    **{0x18 + n: n + 1 for n in range(8)},
    **{0x20 + n: n + 1 for n in range(8)},
    **{0x28 + n: n + 1 for n in range(8)},
    0x30: 1,
    0x31: 2,
}


@dataclass(frozen=True, slots=True)
class ZclAttribute:
    """A ZCL attribute as GBZ carries it: id, name, ZCL data type and its size in bytes."""

    ident: int
    name: str
    zcl_type: int
    size: int


def attribute_ids(attributes: tuple[ZclAttribute, ...]) -> bytes:
    """The payload of a Read Attributes command: each attribute id, little-endian."""
    return b"".join(a.ident.to_bytes(2, "little") for a in attributes)


def requested_ids(payload: bytes) -> list[int]:
    if len(payload) % 2:
        raise DecodeError("a Read Attributes payload is a list of 2-byte attribute ids", 0)
    return [int.from_bytes(payload[i : i + 2], "little") for i in range(0, len(payload), 2)]


def _signed(zcl_type: int) -> bool:
    return 0x28 <= zcl_type <= 0x2F  # int8 .. int64


ZCL_OCTET_STRING, ZCL_CHAR_STRING = 0x41, 0x42  # a length byte, then the bytes


def zcl_string(value: bytes) -> bytes:
    """A ZCL octet or character string: its length (one byte), then its bytes."""
    if len(value) > 254:
        raise ValueError("a ZCL string holds at most 254 bytes")
    return bytes([len(value)]) + value


def read_records(records: list[tuple[ZclAttribute, int | bytes | None]]) -> bytes:
    """Read Attributes Response records: id, status, and type and value when it succeeded
    (a string attribute's value is its bytes, sent as a ZCL string)."""
    out = b""
    for attr, value in records:
        out += attr.ident.to_bytes(2, "little")
        if value is None:
            out += bytes([ZCL_UNSUPPORTED_ATTRIBUTE])
        elif isinstance(value, bytes):
            out += bytes([ZCL_SUCCESS, attr.zcl_type]) + zcl_string(value)
        else:
            raw = value.to_bytes(attr.size, "little", signed=_signed(attr.zcl_type))
            out += bytes([ZCL_SUCCESS, attr.zcl_type]) + raw
    return out


def parse_read_records(data: bytes, attributes: tuple[ZclAttribute, ...]) -> dict[str, int]:
    """The values of Read Attributes Response records, by attribute name (failed ones left out)."""
    known = {a.ident: a for a in attributes}
    r = Reader(data)
    values: dict[str, int] = {}
    while not r.at_end():
        ident = int.from_bytes(r.take(2, "an attribute id"), "little")
        if r.u8("the attribute status") != ZCL_SUCCESS:
            continue
        r.u8("the attribute type")
        attr = known.get(ident)
        if attr is None:
            raise r.fail(f"attribute 0x{ident:04X} was not asked for")
        raw = r.take(attr.size, attr.name)
        values[attr.name] = int.from_bytes(raw, "little", signed=_signed(attr.zcl_type))
    return values


def write_records(values: list[tuple[ZclAttribute, int]]) -> bytes:
    """The payload of a Write Attributes command: id, type and value of each attribute."""
    return b"".join(
        a.ident.to_bytes(2, "little") + bytes([a.zcl_type]) + v.to_bytes(a.size, "little")
        for a, v in values
    )


def parse_write_records(data: bytes) -> list[tuple[int, int, int]]:
    """A Write Attributes payload as (attribute id, ZCL type, value)."""
    r = Reader(data)
    out = []
    while not r.at_end():
        ident = int.from_bytes(r.take(2, "an attribute id"), "little")
        at = r.offset
        zcl_type = r.u8("the attribute type")
        size = ZCL_TYPE_SIZES.get(zcl_type)
        if size is None:
            raise DecodeError(f"ZCL type 0x{zcl_type:02X} is not a fixed-size type", at)
        out.append((ident, zcl_type, int.from_bytes(r.take(size, "the value"), "little")))
    return out


def write_status(results: list[tuple[int, int]]) -> bytes:
    """Write Attributes Response records: one success byte when every write succeeded, else
    the status and id of each that failed (ZCL 2.5.5)."""
    failed = [(ident, status) for ident, status in results if status != ZCL_SUCCESS]
    if not failed:
        return bytes([ZCL_SUCCESS])
    return b"".join(bytes([status]) + ident.to_bytes(2, "little") for ident, status in failed)


# --- answers, and the Prepayment cluster's commands (GCS06, CS01b, PCS01, PCS02) --------------
PREPAYMENT = 0x0705
DEFAULT_RESPONSE = 0x0B
ZCL_CLUSTER_SPECIFIC = 0x01
ZCL_DISABLE_DEFAULT_RESPONSE = 0x10
ZCL_FAILURE = 0x01
ZCL_UNSUP_CLUSTER_COMMAND = 0x81
ZCL_UNSUP_GENERAL_COMMAND = 0x82
SELECT_AVAILABLE_EMERGENCY_CREDIT = 0x00  # Prepayment, client to server
CONSUMER_TOP_UP = 0x04  # Prepayment, client to server
CONSUMER_TOP_UP_RESPONSE = 0x03  # Prepayment, server to client
UNKNOWN_AMOUNT = -1  # a refused top-up's value and credit remaining (0xFFFFFFFF, as RTDS has it)


@dataclass(frozen=True, slots=True)
class Reply:
    """A device's answer to one GBZ component: the ZCL command that answers it (a Read
    Attributes Response, a cluster's own response, a Default Response) and its payload."""

    command: int
    payload: bytes
    cluster_specific: bool = False
    # the answer's ZCL frame control, when not the usual one (GCS21b's Publish Day Profiles:
    # 0x19, default response disabled)
    frame_control: int | None = None
    # further answers to the same command, with its sequence number (a Get Day Profiles
    # answered by one Publish Day Profile per day profile)
    more: tuple[Reply, ...] = ()
    # the payload is sensitive: carried encrypted for the requester (GCS16b's snapshots)
    sensitive: bool = False


def default_response(command: int, status: int) -> Reply:
    """ZCL's Default Response to ``command``: the command id and a status."""
    return Reply(DEFAULT_RESPONSE, bytes([command, status]))


def parse_default_response(payload: bytes) -> tuple[int, int]:
    """(command id, status) of a Default Response."""
    r = Reader(payload)
    out = (r.u8("the command id"), r.u8("the status"))
    r.done("a Default Response")
    return out


def consumer_top_up(origin: OriginatingDevice, code: bytes) -> bytes:
    """Consumer Top Up's payload: the originating device, then the top-up code as a ZCL
    octet string (GBCS: a UTRN's 20 ASCII digits)."""
    if len(code) > 0xFE:
        raise ValueError("a ZCL octet string holds at most 254 bytes")
    return bytes([origin, len(code)]) + code


def parse_consumer_top_up(payload: bytes) -> tuple[int, bytes]:
    """(originating device, top-up code) of a Consumer Top Up command."""
    r = Reader(payload)
    origin = r.u8("the originating device")
    code = r.take(r.u8("the top-up code length"), "the top-up code")
    r.done("a Consumer Top Up command")
    return origin, code


def select_emergency_credit(origin: OriginatingDevice, issued: int = 0) -> bytes:
    """Select Available Emergency Credit's payload: the issue date-time (UTC, ZigBee time;
    GBCS sends 0) and the originating device."""
    return issued.to_bytes(4, "little") + bytes([origin])


@dataclass(frozen=True, slots=True)
class TopUpResponse:
    """Consumer Top Up Response: the result, the credit the top-up added and the credit
    remaining after it (in the meter's currency unit; -1 when refused), and its source."""

    result: int
    value: int
    source: int
    credit_remaining: int

    def encode(self) -> bytes:
        return (
            bytes([self.result])
            + self.value.to_bytes(4, "little", signed=True)
            + bytes([self.source])
            + self.credit_remaining.to_bytes(4, "little", signed=True)
        )

    def reply(self) -> Reply:
        return Reply(CONSUMER_TOP_UP_RESPONSE, self.encode(), cluster_specific=True)

    @classmethod
    def refused(cls, result: TopUpResult, source: int) -> TopUpResponse:
        return cls(result, UNKNOWN_AMOUNT, source, UNKNOWN_AMOUNT)

    @classmethod
    def decode(cls, payload: bytes) -> TopUpResponse:
        r = Reader(payload)
        out = cls(
            r.u8("the result type"),
            int.from_bytes(r.take(4, "the top-up value"), "little", signed=True),
            r.u8("the source of the top-up"),
            int.from_bytes(r.take(4, "the credit remaining"), "little", signed=True),
        )
        r.done("a Consumer Top Up Response")
        return out


# --- the Prepayment cluster's Change Debt (GCS04, 2.3 Update Debt for a GSME) ----------------
CHANGE_DEBT = 0x02  # Prepayment, client to server
ZCL_MALFORMED_COMMAND = 0x80
ZCL_INVALID_FIELD = 0x85
ZCL_NOT_FOUND = 0x8B
TIME_BASED, PERCENTAGE_BASED = 0x00, 0x01  # Debt Recovery Method
HOURLY, DAILY, WEEKLY = 0x00, 0x01, 0x02  # Debt Recovery Frequency (and monthly, quarterly)


@dataclass(frozen=True, slots=True)
class ChangeDebt:
    """Change Debt's payload (ZigBee SE 1.4 D.7.2.3.3): one debt register (``debt_type``
    0x00-0x05: type 1, 2, 3, each absolute then incremental) set or adjusted by
    ``amount``, and how it is recovered: ``recovery_amount`` per ``frequency`` (time-based)
    or ``percentage`` (hundredths of a percent) of each top-up. GBCS sends an empty label
    and a start time and collection time of 0. Amounts are in the meter's currency unit;
    an incremental amount may be negative (two's complement)."""

    issuer_event_id: int
    amount: int
    method: int
    debt_type: int
    frequency: int
    recovery_amount: int = 0
    percentage: int = 0
    label: bytes = b""
    start_time: int = 0
    collection_time: int = 0

    @property
    def register(self) -> int:
        """0, 1, 2: the debt register of type 1, 2, 3."""
        return self.debt_type // 2

    @property
    def incremental(self) -> bool:
        return self.debt_type % 2 == 1

    def encode(self) -> bytes:
        return (
            self.issuer_event_id.to_bytes(4, "little")
            + bytes([len(self.label)])
            + self.label
            + self.amount.to_bytes(4, "little", signed=self.amount < 0)
            + bytes([self.method, self.debt_type])
            + self.start_time.to_bytes(4, "little")
            + self.collection_time.to_bytes(2, "little")
            + bytes([self.frequency])
            + self.recovery_amount.to_bytes(4, "little")
            + self.percentage.to_bytes(2, "little")
        )

    @classmethod
    def decode(cls, payload: bytes) -> ChangeDebt:
        r = Reader(payload)
        issuer = int.from_bytes(r.take(4, "the issuer event id"), "little")
        label = r.take(r.u8("the debt label length"), "the debt label")
        raw_amount = r.take(4, "the debt amount")
        method, debt_type = r.u8("the debt recovery method"), r.u8("the debt amount type")
        out = cls(
            issuer,
            int.from_bytes(raw_amount, "little", signed=debt_type % 2 == 1),
            method,
            debt_type,
            start_time=int.from_bytes(r.take(4, "the recovery start time"), "little"),
            collection_time=int.from_bytes(r.take(2, "the recovery collection time"), "little"),
            frequency=r.u8("the debt recovery frequency"),
            recovery_amount=int.from_bytes(r.take(4, "the debt recovery amount"), "little"),
            percentage=int.from_bytes(r.take(2, "the recovery balance percentage"), "little"),
            label=label,
        )
        r.done("a Change Debt command")
        return out
