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
6.13   0093  ECS35c read CHF event log                    GET of the CHF's 0-0:99.98.0 by a
                                                          range; the ACB originates it
6.13   0094  ECS35d read CHF security log                 GET of the CHF's 0-0:99.98.1
6.13   00B9  ECS35e read ESME power event log             GET of 0-0:99.98.4 by a range
6.13   00FD  ECS35g read auxiliary controller event log   GET of 0-17:99.98.2 by a range
6.22   00B0  ECS25b set alert behaviours (network op.)    SET of the network operator's WAN
                                                          alert filter 0-33:97.98.11
6.22   00ED  ECS25b3 set event behaviours logging (n.o.)  SET of its logging filter .14
6.22   00AD  GCS20 set alert behaviours (GSME supplier)   Device Management's Set Event
                                                          Configuration, one per setting
====== ===== ============================================ ====================================

One use case per (SRV, device type) is what the DCC's admission looks up: 6.13 is declared
on ECS35a (ESME), CS10a (GSME) and ECS35c (CHF), whose transforms build the command of the
log the request's ``LogToRead`` names (:data:`LOGS`, :data:`ZIGBEE_LOGS`, :data:`CHF_LOGS`:
ALCSEvent is ECS35g, the mapping table's; ECS35f, RTDS's older use case of the same log,
is not declared); 6.22 on ECS25a (ESME) and GCS20 (GSME): ECS25a's transform builds
ECS25a1, a2, a3, ECS25b or b3's when the body's settings are those (:data:`ALERT_SETTINGS`).

The network operator's filters take the alerts of :data:`NETWORK_ALERT_BITS` (bit: the code's
low byte, as RTDS's ECS25b has x8014 and x8015); its poly-phase settings are for a
poly-phase ESME, and RTDS's ECS25b, for a single-phase one as the rig's, leaves them out.

GCS20 sends the Device Management cluster's Set Event Configuration (server to client),
one per distinct configuration the body asks for: its start (0: now) and issuer event ID,
the configuration byte (bits 0-2 the log, 3 (0x03) the event log; bit 3 the WAN alert, 4
the HAN alert, 6 the audible alarm), apply-by-list and the event IDs; the GSME answers each
with a Default Response.

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
from rig.protocol.gbcs import access, cosem, gbz
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Form, UseCase, ZclBatch, ZclCommands, ZclPart

ESME, GSME, CHF = "ESME", "GSME", "CHF"
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
# the network operator's WAN alert filter and logging filter
NETWORK_WAN_FILTER = cosem.Attribute(1, cosem.obis("0-33:97.98.11"), 2)
NETWORK_LOG_FILTER = cosem.Attribute(1, cosem.obis("0-33:97.98.14"), 2)
POWER_EVENT_LOG = cosem.Attribute(7, cosem.obis("0-0:99.98.4"), 2)
AUX_EVENT_LOG = cosem.Attribute(7, cosem.obis("0-17:99.98.2"), 2)  # the ALCS event log

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
ECS25B = _set_filter("ECS25b", 0x00B0, NETWORK_WAN_FILTER)
ECS25B3 = _set_filter("ECS25b3", 0x00ED, NETWORK_LOG_FILTER)


def _read_log(
    name: str,
    code: int,
    device: str,
    log: cosem.Attribute,
    srvs: tuple[str, ...] = (),
    acb_originated: bool = False,
) -> UseCase:
    """A GET of the event log ``log`` by a range of UTC times."""
    read = access.Access((access.ReadRange(log, cosem.UTC_SECONDS, START, END),))
    return UseCase(name, code, device, Form.DLMS, read, srvs=srvs, acb_originated=acb_originated)


ECS35E = _read_log("ECS35e", 0x00B9, ESME, POWER_EVENT_LOG)
ECS35G = _read_log("ECS35g", 0x00FD, ESME, AUX_EVENT_LOG)
# the CHF's own logs: the ACB originates the command for the DCC User (as CCS06)
ECS35C = _read_log("ECS35c", 0x0093, CHF, EVENT_LOG, srvs=("6.13",), acb_originated=True)
ECS35D = _read_log("ECS35d", 0x0094, CHF, SECURITY_LOG, acb_originated=True)

EVENTS = 0x0709  # the ZCL Events cluster
GET_EVENT_LOG, PUBLISH_EVENT_LOG = 0x00, 0x01
CS10A = UseCase(
    "CS10a", 0x0014, GSME, Form.GBZ, ZclCommands(EVENTS, GET_EVENT_LOG, 1), srvs=("6.13",)
)
CS10B = UseCase("CS10b", 0x00A1, GSME, Form.GBZ, ZclCommands(EVENTS, GET_EVENT_LOG, 1))

DEVICE_MANAGEMENT = 0x0708  # the ZCL Device Management cluster
SET_EVENT_CONFIGURATION = 0x04  # server to client
SET_EVENT_CONFIGURATION_PART = ZclPart(
    DEVICE_MANAGEMENT,
    SET_EVENT_CONFIGURATION,
    gbz.ZCL_CLUSTER_SPECIFIC | gbz.ZCL_SERVER_TO_CLIENT,
    repeated=True,
)
GCS20 = UseCase(
    "GCS20", 0x00AD, GSME, Form.GBZ, ZclBatch((SET_EVENT_CONFIGURATION_PART,)), srvs=("6.22",)
)

USE_CASES: tuple[UseCase, ...] = (
    ECS35A, ECS35B, ECS25A, ECS25A1, ECS25A2, ECS25A3, CS10A, CS10B,
    ECS35C, ECS35D, ECS35E, ECS35G, ECS25B, ECS25B3, GCS20,
)  # fmt: skip

# the element of a 6.22 body for an ESME's supplier, the use case it becomes, and the
# filter it writes (its name in the meter's state)
SUPPLIER_SETTINGS: Mapping[str, tuple[UseCase, str]] = {
    "ElectricitySupplierAlerts": (ECS25A, "wan"),
    "ElectricitySupplierHANAlertSettings": (ECS25A1, "han"),
    "ElectricitySupplierAlarmSettings": (ECS25A2, "alarm"),
    "ElectricitySupplierLoggingSettings": (ECS25A3, "log"),
}
# the same for its network operator
NETWORK_SETTINGS: Mapping[str, tuple[UseCase, str]] = {
    "ElectricityNetworkOperatorAlerts": (ECS25B, "no_wan"),
    "ElectricityNetworkOperatorLoggingSettings": (ECS25B3, "no_log"),
}
ALERT_SETTINGS: Mapping[str, tuple[UseCase, str]] = {**SUPPLIER_SETTINGS, **NETWORK_SETTINGS}
FILTERS: Mapping[str, cosem.Attribute] = {
    "wan": SUPPLIER_WAN_FILTER,
    "han": SUPPLIER_HAN_FILTER,
    "alarm": SUPPLIER_ALARM_FILTER,
    "log": SUPPLIER_LOG_FILTER,
    "no_wan": NETWORK_WAN_FILTER,
    "no_log": NETWORK_LOG_FILTER,
}

# the DUIS LogToRead of each ESME log the rig serves, and the use case that reads it
LOGS: Mapping[str, UseCase] = {
    "Event": ECS35A,
    "Security": ECS35B,
    "PowerEvent": ECS35E,
    "ALCSEvent": ECS35G,
}
CHF_LOGS: Mapping[str, UseCase] = {"Event": ECS35C, "Security": ECS35D}
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
# the network operator's ESME alerts the rig can configure, and their filter bits
NETWORK_ALERT_BITS: Mapping[int, int] = {0x8014: 20, 0x8015: 21}


def alert_bits(what: str) -> Mapping[int, int]:
    """The alerts a filter (wan, han, alarm, log; no_wan, no_log) configures, and their bits."""
    return NETWORK_ALERT_BITS if what.startswith("no_") else SUPPLIER_ALERT_BITS


# the alerts an ESME logs in its security log (the others go to its event log)
SECURITY_EVENTS = frozenset(
    {
        0x8F12,  # the CHF device log changed (CS14), in the CHF's security log as RTDS's
        0x8F0C, 0x8F1B, 0x8F1C, 0x8F1E, 0x8F3D, 0x8F3E, 0x8F3F, 0x8F43, 0x8F47, 0x8F48,
        0x8F49, 0x8F4A, 0x8F4B, 0x8F4C, 0x8F4D, 0x8F4E, 0x8F4F, 0x8F51, 0x8F52, 0x8F53,
        0x8F5B, 0x8F60, 0x8F63, 0x8F64, 0x8F70, 0x8F72, 0x8F74, 0x8F75, 0x8F76, 0x8F77,
        0x8F78,
    }
)  # fmt: skip


# the alerts an ESME logs in its power event log: RTDS's example power log has the voltage
# events (0x8002-0x802F) and the supply outage ones (0x8F35-0x8F3C, 0x8F58)
POWER_EVENTS = frozenset({*range(0x8002, 0x8030), *range(0x8F35, 0x8F3D), 0x8F58})


def log_of(code: int, *, power_log: bool = False) -> str:
    """The DUIS LogToRead of the log an alert with this code goes to (``power_log``: on a
    device with a power event log, the ESME)."""
    if code in SECURITY_EVENTS:
        return "Security"
    return "PowerEvent" if power_log and code in POWER_EVENTS else "Event"


def is_critical(code: int) -> bool:
    """A critical alert (0x8Fxx): always sent, whatever the filters say."""
    return code >> 8 == 0x8F


def filter_value(
    settings: Mapping[int, bool], bits: Mapping[int, int] = SUPPLIER_ALERT_BITS
) -> Data:
    """The alert filter's bit-string for these settings (alert code: enabled): each code's
    bit (of ``bits``) set in the mask, and in the values when it is enabled. KeyError names
    a code the rig has no bit for."""
    mask = values = 0
    for code, enabled in settings.items():
        bit = 1 << bits[code]
        mask |= bit
        values |= bit if enabled else 0
    raw = mask.to_bytes(FILTER_BITS // 8, "big") + values.to_bytes(FILTER_BITS // 8, "big")
    return Data(DataType.BIT_STRING, (2 * FILTER_BITS, raw))


def filter_settings(value: Data, bits: Mapping[int, int] = SUPPLIER_ALERT_BITS) -> dict[int, bool]:
    """What a filter's bit-string changes: each known alert code in its mask, and whether
    it is enabled. ValueError when it is not a 512-bit bit-string."""
    if value.type is not DataType.BIT_STRING:
        raise ValueError(f"an alert filter is a bit-string, not a {value.type.name}")
    size, raw = value.value
    if size != 2 * FILTER_BITS or len(raw) != 2 * FILTER_BITS // 8:
        raise ValueError(f"an alert filter has {2 * FILTER_BITS} bits, not {size}")
    half = FILTER_BITS // 8
    mask, values = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    return {code: bool(values >> bit & 1) for code, bit in bits.items() if mask >> bit & 1}


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


# --- GCS20: the GSME's event configuration ---------------------------------------------------
LOG_TO_EVENT_LOG = 0x03  # bits 0-2 of an event configuration: log it in the event log
PUSH_TO_WAN, PUSH_TO_HAN, AUDIBLE_ALARM = 0x08, 0x10, 0x40
# a DUIS setting of GasSupplierAlertEventSettings, and its bits of the configuration
EVENT_SETTING_BITS: Mapping[str, int] = {
    "WANAlert": PUSH_TO_WAN,
    "HANAlert": PUSH_TO_HAN,
    "EventLog": LOG_TO_EVENT_LOG,
    "Alarm": AUDIBLE_ALARM,
}
# the filter each bit of a configuration sets on the GSME (its EventLogs filters)
EVENT_BIT_FILTERS: Mapping[int, str] = {
    PUSH_TO_WAN: "wan",
    PUSH_TO_HAN: "han",
    LOG_TO_EVENT_LOG: "log",
    AUDIBLE_ALARM: "alarm",
}
APPLY_BY_LIST = 0x00  # the Configuration Control: the event IDs listed
_EVENT_CONFIGURATION = struct.Struct("<IIBBB")


@dataclass(frozen=True, slots=True)
class EventConfiguration:
    """Set Event Configuration (Device Management): from when (ZigBee time, 0: now), its
    issuer event ID, the configuration byte and the event IDs it applies to (by list)."""

    configuration: int
    events: tuple[int, ...]
    start: int = 0
    issuer_event_id: int = 0

    def encode(self) -> bytes:
        head = _EVENT_CONFIGURATION.pack(
            self.start, self.issuer_event_id, self.configuration, APPLY_BY_LIST, len(self.events)
        )
        return head + b"".join(code.to_bytes(2, "little") for code in self.events)

    @classmethod
    def decode(cls, payload: bytes) -> EventConfiguration:
        if len(payload) < _EVENT_CONFIGURATION.size:
            raise DecodeError("Set Event Configuration is shorter than its header", 0)
        start, issuer, config, control, count = _EVENT_CONFIGURATION.unpack_from(payload)
        if control != APPLY_BY_LIST:
            raise DecodeError(f"configuration control {control} is not by list (0)", 9)
        body = payload[_EVENT_CONFIGURATION.size :]
        if len(body) != 2 * count:
            raise DecodeError(f"{count} event IDs take {2 * count} bytes, found {len(body)}", 11)
        events = tuple(int.from_bytes(body[n : n + 2], "little") for n in range(0, len(body), 2))
        return cls(config, events, start, issuer)

    def enabled(self, what: str) -> bool:
        """Whether the configuration turns on the filter ``what`` (wan, han, log, alarm)."""
        bit = next(b for b, name in EVENT_BIT_FILTERS.items() if name == what)
        return self.configuration & bit == bit
