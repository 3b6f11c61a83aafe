"""The ESME's event and security logs (6.13) and its supplier's alert configuration (6.22),
as RTDS 4.5.0 has them. Declared as :mod:`rig.protocol.gbcs.catalogue` declares the others,
which gathers them into CATALOGUE (this module must not import the catalogue).

====== ===== ============================================ ====================================
SRV    code  use case                                     the command
====== ===== ============================================ ====================================
6.13   0048  ECS35a read ESME event log                   GET of 0-0:99.98.0 (class 7) by a
                                                          range of UTC times
6.13   0049  ECS35b read ESME security log                GET of 0-0:99.98.1 by a range
6.22   00AC  ECS25a set alert behaviours (supplier)       SET of the supplier's WAN alert
                                                          filter 0-30:97.98.11 (bit-string)
6.22   00EA  ECS25a1 set event behaviours to HAN device   SET of the HAN filter 0-30:97.98.12
6.22   00EB  ECS25a2 set event behaviours audible alarm   SET of the alarm filter .13
6.22   00EC  ECS25a3 set event behaviours logging         SET of the logging filter .14
6.13   0014  CS10a read ZigBee device event log (GSME)    Events cluster Get Event Log (log
                                                          3, full information) by time
6.13   00A1  CS10b read ZigBee device security log        Get Event Log (log 4) by time
====== ===== ============================================ ====================================

One use case per (SRV, device type) is what the DCC's admission looks up: 6.13 is declared
on ECS35a (ESME) and CS10a (GSME), whose transforms build ECS35b's or CS10b's command when the
request's ``LogToRead`` is ``Security``; 6.22 on ECS25a, whose transform builds ECS25a1, a2 or
a3's when the body's settings are the HAN, alarm or logging ones (:data:`SUPPLIER_SETTINGS`).

The GSME answers a Get Event Log with a Publish Event Log: the number of matching events, the
command's index and count (0, 1), the number of events (its high nibble; 0 above 15, as
RTDS's answer of 32 has it), then each event: log ID, event ID, ZigBee time, an octet string
of its data; none matching: a Default Response NOT_FOUND.

The logs answer compact arrays: the event log (UTC seconds since 2000, alert code, an
octet-string of the event's detail), the security log (UTC seconds since 2000, alert code).
Which log an alert goes to: :func:`log_of` (the security log takes the authentication,
credential, firmware, joining and UTRN events, as RTDS's example security log has them; the
event log every other).

The alert filter is a 512-bit bit-string: the first 256 bits say which alerts the command
changes, the last 256 their new values (1: the alert is sent). An alert's bit is counted
from the end of each half (bit 0 is the last); :data:`SUPPLIER_ALERT_BITS` holds the bits
the rig knows, inferred from RTDS 4.5.0's six ECS25 commands against DCC's templates (GBCS's
table of filter bits is not on this machine). Critical alerts (0x8Fxx) are not configurable.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Form, UseCase, ZclCommands

ESME, GSME = "ESME", "GSME"
START, END = "start", "end"  # the given range of a log read, UTC seconds since 2000
FILTER = "filter"  # the given bit-string of an alert filter write

EVENT_LOG = cosem.Attribute(7, cosem.obis("0-0:99.98.0"), 2)
SECURITY_LOG = cosem.Attribute(7, cosem.obis("0-0:99.98.1"), 2)
# the supplier's filters (class 1, their value) of the alerts the ESME sends on the WAN, of
# the events it notifies HAN devices of, sounds an alarm for, and logs
SUPPLIER_WAN_FILTER = cosem.Attribute(1, cosem.obis("0-30:97.98.11"), 2)
SUPPLIER_HAN_FILTER = cosem.Attribute(1, cosem.obis("0-30:97.98.12"), 2)
SUPPLIER_ALARM_FILTER = cosem.Attribute(1, cosem.obis("0-30:97.98.13"), 2)
SUPPLIER_LOG_FILTER = cosem.Attribute(1, cosem.obis("0-30:97.98.14"), 2)

FILTER_BITS = 256  # each half of a filter's bit-string: the mask, then the values

ECS35A = UseCase(
    "ECS35a",
    0x0048,
    ESME,
    Form.DLMS,
    access.Access((access.ReadRange(EVENT_LOG, cosem.UTC_SECONDS, START, END),)),
    srvs=("6.13",),
)
ECS35B = UseCase(
    "ECS35b",
    0x0049,
    ESME,
    Form.DLMS,
    access.Access((access.ReadRange(SECURITY_LOG, cosem.UTC_SECONDS, START, END),)),
)
ECS25A = UseCase(
    "ECS25a",
    0x00AC,
    ESME,
    Form.DLMS,
    access.Access((access.Write(SUPPLIER_WAN_FILTER, FILTER, DataType.BIT_STRING),)),
    srvs=("6.22",),
)


def _set_filter(name: str, code: int, target: cosem.Attribute) -> UseCase:
    """A SET of one of the supplier's alert filters, its bit-string given."""
    write = access.Write(target, FILTER, DataType.BIT_STRING)
    return UseCase(name, code, ESME, Form.DLMS, access.Access((write,)))


ECS25A1 = _set_filter("ECS25a1", 0x00EA, SUPPLIER_HAN_FILTER)
ECS25A2 = _set_filter("ECS25a2", 0x00EB, SUPPLIER_ALARM_FILTER)
ECS25A3 = _set_filter("ECS25a3", 0x00EC, SUPPLIER_LOG_FILTER)

EVENTS = 0x0709  # the ZCL Events cluster
GET_EVENT_LOG, PUBLISH_EVENT_LOG = 0x00, 0x01
CS10A = UseCase(
    "CS10a", 0x0014, GSME, Form.GBZ, ZclCommands(EVENTS, GET_EVENT_LOG, 1), srvs=("6.13",)
)
CS10B = UseCase("CS10b", 0x00A1, GSME, Form.GBZ, ZclCommands(EVENTS, GET_EVENT_LOG, 1))

USE_CASES: tuple[UseCase, ...] = (ECS35A, ECS35B, ECS25A, ECS25A1, ECS25A2, ECS25A3, CS10A, CS10B)

# the element of a 6.22 body for an ESME's supplier, the use case it becomes, and the
# filter it writes (its name in the meter's state)
SUPPLIER_SETTINGS: Mapping[str, tuple[UseCase, str]] = {
    "ElectricitySupplierAlerts": (ECS25A, "wan"),
    "ElectricitySupplierHANAlertSettings": (ECS25A1, "han"),
    "ElectricitySupplierAlarmSettings": (ECS25A2, "alarm"),
    "ElectricitySupplierLoggingSettings": (ECS25A3, "log"),
}
FILTERS: Mapping[str, cosem.Attribute] = {
    "wan": SUPPLIER_WAN_FILTER,
    "han": SUPPLIER_HAN_FILTER,
    "alarm": SUPPLIER_ALARM_FILTER,
    "log": SUPPLIER_LOG_FILTER,
}

# the DUIS LogToRead of each ESME log the rig serves, and the use case that reads it
LOGS: Mapping[str, UseCase] = {"Event": ECS35A, "Security": ECS35B}
# the same for the GSME: the use case, and the Get Event Log's event control and log ID
ZIGBEE_LOGS: Mapping[str, tuple[UseCase, int]] = {"Event": (CS10A, 0x13), "Security": (CS10B, 0x04)}
ZIGBEE_LOG_IDS: Mapping[int, str] = {0x03: "Event", 0x04: "Security"}  # General, Security

# the supplier's non-critical ESME alerts the rig can configure, and their filter bits
SUPPLIER_ALERT_BITS: Mapping[int, int] = {
    0x810D: 13,  # low credit
    0x810E: 14,  # credit added locally
    0x8119: 25,  # emergency credit has become available
    0x8145: 69,
    0x8154: 84,
    0x8155: 85,
    0x8161: 97,
    0x8162: 98,
    0x8168: 104,
    0x81B7: 196,
    0x81C6: 198,
}

# the alerts an ESME logs in its security log (the others go to its event log)
SECURITY_EVENTS = frozenset(
    {
        0x8F0C, 0x8F1B, 0x8F1C, 0x8F1E, 0x8F3D, 0x8F3E, 0x8F3F, 0x8F43, 0x8F47, 0x8F48,
        0x8F49, 0x8F4A, 0x8F4B, 0x8F4C, 0x8F4D, 0x8F4E, 0x8F4F, 0x8F51, 0x8F52, 0x8F53,
        0x8F5B, 0x8F60, 0x8F63, 0x8F64, 0x8F70, 0x8F72, 0x8F74, 0x8F75, 0x8F76, 0x8F77,
        0x8F78,
    }
)  # fmt: skip


def log_of(code: int) -> str:
    """The DUIS LogToRead of the log an alert with this code goes to."""
    return "Security" if code in SECURITY_EVENTS else "Event"


def is_critical(code: int) -> bool:
    """A critical alert (0x8Fxx): always sent, whatever the filters say."""
    return code >> 8 == 0x8F


def filter_value(settings: Mapping[int, bool]) -> Data:
    """The alert filter's bit-string for these settings (alert code: enabled): each code's
    bit set in the mask, and in the values when it is enabled. KeyError names a code the
    rig has no bit for."""
    mask = values = 0
    for code, enabled in settings.items():
        bit = 1 << SUPPLIER_ALERT_BITS[code]
        mask |= bit
        values |= bit if enabled else 0
    raw = mask.to_bytes(FILTER_BITS // 8, "big") + values.to_bytes(FILTER_BITS // 8, "big")
    return Data(DataType.BIT_STRING, (2 * FILTER_BITS, raw))


def filter_settings(value: Data) -> dict[int, bool]:
    """What a filter's bit-string changes: each known alert code in its mask, and whether
    it is enabled. ValueError when it is not a 512-bit bit-string."""
    if value.type is not DataType.BIT_STRING:
        raise ValueError(f"an alert filter is a bit-string, not a {value.type.name}")
    bits, raw = value.value
    if bits != 2 * FILTER_BITS or len(raw) != 2 * FILTER_BITS // 8:
        raise ValueError(f"an alert filter has {2 * FILTER_BITS} bits, not {bits}")
    half = FILTER_BITS // 8
    mask, values = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    return {
        code: bool(values >> bit & 1)
        for code, bit in SUPPLIER_ALERT_BITS.items()
        if mask >> bit & 1
    }


_GET_EVENT_LOG = struct.Struct("<BHIIBH")
_PUBLISHED = struct.Struct("<HBBB")
_EVENT = struct.Struct("<BHI")


@dataclass(frozen=True, slots=True)
class EventLogRequest:
    """The Events cluster's Get Event Log: event control and log ID (one byte: the control
    in the high nibble), event ID (0: all), from and to (ZigBee times, both included), how
    many events (0: all) and from which offset."""

    control_and_log: int
    start: int
    end: int
    event_id: int = 0
    count: int = 0
    offset: int = 0

    @property
    def log_id(self) -> int:
        return self.control_and_log & 0x0F

    def encode(self) -> bytes:
        return _GET_EVENT_LOG.pack(
            self.control_and_log, self.event_id, self.start, self.end, self.count, self.offset
        )

    @classmethod
    def decode(cls, payload: bytes) -> EventLogRequest:
        if len(payload) != _GET_EVENT_LOG.size:
            raise DecodeError(
                f"Get Event Log takes {_GET_EVENT_LOG.size} bytes, found {len(payload)}", 0
            )
        control, event_id, start, end, count, offset = _GET_EVENT_LOG.unpack(payload)
        return cls(control, start, end, event_id, count, offset)


def publish_event_log(log_id: int, events: Iterable[tuple[int, int]]) -> bytes:
    """A Publish Event Log of (ZigBee time, event ID) events of one log, in one command,
    each with no data."""
    rows = list(events)
    n = len(rows)
    head = _PUBLISHED.pack(n, 0, 1, n << 4 if n < 16 else 0)
    return head + b"".join(_EVENT.pack(log_id, code, at) + b"\x00" for at, code in rows)


def published_events(payload: bytes) -> list[tuple[int, int, int, bytes]]:
    """The events of a Publish Event Log: (log ID, event ID, ZigBee time, data)."""
    if len(payload) < _PUBLISHED.size:
        raise DecodeError("a Publish Event Log is at least 5 bytes", 0)
    out, at = [], _PUBLISHED.size
    while at < len(payload):
        if at + _EVENT.size + 1 > len(payload):
            raise DecodeError("an event cut short", at)
        log_id, code, when = _EVENT.unpack_from(payload, at)
        size = payload[at + _EVENT.size]
        start = at + _EVENT.size + 1
        out.append((log_id, code, when, payload[start : start + size]))
        at = start + size
    return out
