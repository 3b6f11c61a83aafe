"""GBCS use cases of the GSME's configuration, valve (supply), customer ID and network data,
byte for byte as DCC's RTDS 4.5.0 has them: declared here, gathered by
:mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this module must not import the
catalogue). GCS28 (6.11 Synchronise Clock) is 8.1.1's, declared in
:mod:`rig.protocol.gbcs.catalogue_commission`.

====== ====== ===== =============================================== ==========================
SRV    code   name  the command (GBZ)                               the answer
====== ====== ===== =============================================== ==========================
7.2    0081   GCS32 Metering Change Supply: OFF (critical)          Supply Status Response
7.3    0085   GCS39 Metering Change Supply: OFF/ARMED (critical)    Supply Status Response
7.4    0082   GCS33 read RemainingBatteryLifeInDays, SupplyStatus   Read Attributes Response
6.2.3  00DA   GCS21k Price Get Billing Period (GCS21d 009D alike)   Publish Billing Period
6.2.4  00FB   GCS21m read Basic's maker, model; Metering's tamper   two Read Attributes
              and depletion states (GCS21e 009E: and HW version)    Responses
6.2.7  0089   GCS46 read Metering SiteID (the MPRN)                 Read Attributes Response
6.2.8  007B   GCS21a read Price's CV and conversion factor,         two Read Attributes
              Metering's uncontrolled flow settings                 Responses
6.2.9  00BF   GCS21j read Prepayment PaymentControlConfiguration    Read Attributes Response
6.2.10 00F1   GCS20r Device Management Get Event Configuration      Report Event Configuration
              (0x81FF: every non-critical event)
6.6    007C   GCS23 Publish Conversion Factor, Publish Calorific    two Default Responses
              Value (critical)
6.7    007D   GCS24 Set Uncontrolled Flow Threshold, Set Supply     two Default Responses
              Status (critical); GCS24a (00FC): the rate to 4 dp
6.8    00D8   GCS25a Publish Billing Period, Publish Block Period   two Default Responses
              (critical); GCS25 (007E): monthly
6.20.1 0087   GCS41 Device Management Update SiteID                 Default Response
9.1    0083   GCS36 Device Management Update CIN                    Default Response
14.1   0080   GCS31 Metering Start Sampling                         Start Sampling Response
====== ====== ===== =============================================== ==========================

Every command that changes the meter carries the DCC's issuer event id (the ZigBee time of
the transform); its values come from the DUIS body. The supply states are ZigBee SE's:
0 OFF, 1 OFF/ARMED, 2 ON, 3 unchanged.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.usecase import (
    Form,
    Protection,
    UseCase,
    ZclBatch,
    ZclCommand,
    ZclCommands,
    ZclPart,
    ZclRead,
    ZclReads,
)

GSME = "GSME"
SIGNED = Protection.SIGNATURE
BASIC, PRICE, DEVICE_MANAGEMENT = 0x0000, 0x0700, 0x0708
ANSWER = gbz.ZCL_SERVER_TO_CLIENT  # the Read Attributes Responses RTDS has (0x08)
TO_CLIENT = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC  # a server's command (0x09)
ENUM8, BITMAP8, BITMAP16, UINT8, UINT16, UINT32 = 0x30, 0x18, 0x19, 0x20, 0x21, 0x23


def _attr(ident: int, name: str, zcl_type: int) -> gbz.ZclAttribute:
    size = gbz.ZCL_TYPE_SIZES.get(zcl_type, 0)  # 0: a string (a length byte, then bytes)
    return gbz.ZclAttribute(ident, name, zcl_type, size)


# --- attributes -------------------------------------------------------------------------------
SUPPLY_STATUS = _attr(0x0014, "supply_status", ENUM8)
BATTERY_DAYS = _attr(0x0205, "remaining_battery_life_days", UINT16)
SITE_ID = _attr(0x0307, "site_id", gbz.ZCL_OCTET_STRING)  # the MPRN
TAMPER_STATE = _attr(0x0607, "supply_tamper_state", ENUM8)
DEPLETION_STATE = _attr(0x0608, "supply_depletion_state", ENUM8)
FLOW = (  # the Supply Control set, in GCS21a's order
    _attr(0x0B13, "uncontrolled_flow_divisor", UINT16),
    _attr(0x0B12, "uncontrolled_flow_multiplier", UINT16),
    _attr(0x0B11, "uncontrolled_flow_unit", ENUM8),
    _attr(0x0B10, "uncontrolled_flow_threshold", UINT16),
    _attr(0x0B14, "flow_stabilisation_period", UINT8),
    _attr(0x0B15, "flow_measurement_period", UINT16),
)
CONVERSION = (  # the Price cluster's Commodity set, in GCS21a's order
    _attr(0x0306, "calorific_value_trailing_digit", BITMAP8),
    _attr(0x0305, "calorific_value_unit", ENUM8),
    _attr(0x0304, "calorific_value", UINT32),
    _attr(0x0303, "conversion_factor_trailing_digit", BITMAP8),
    _attr(0x0302, "conversion_factor", UINT32),
)
MANUFACTURER = _attr(0x0004, "manufacturer_name", gbz.ZCL_CHAR_STRING)
MODEL = _attr(0x0005, "model_identifier", gbz.ZCL_CHAR_STRING)
HW_VERSION = _attr(0x0003, "hw_version", UINT8)
PAYMENT_CONTROL = _attr(0x0000, "payment_control_configuration", BITMAP16)
ATTRIBUTES = (
    SUPPLY_STATUS, BATTERY_DAYS, SITE_ID, TAMPER_STATE, DEPLETION_STATE, *FLOW, *CONVERSION,
    MANUFACTURER, MODEL, HW_VERSION, PAYMENT_CONTROL,
)  # fmt: skip

# --- commands ---------------------------------------------------------------------------------
CHANGE_SUPPLY, SUPPLY_STATUS_RESPONSE = 0x0B, 0x0C  # Metering: client to server, the answer
START_SAMPLING, START_SAMPLING_RESPONSE = 0x07, 0x0D
SET_SUPPLY_STATUS, SET_FLOW_THRESHOLD = 0x0D, 0x0E
GET_BILLING_PERIOD = 0x0B  # Price, client to server
PUBLISH_BLOCK_PERIOD, PUBLISH_CONVERSION_FACTOR, PUBLISH_CALORIFIC_VALUE = 0x01, 0x02, 0x03
PUBLISH_BILLING_PERIOD = 0x09  # Price, server to client
UPDATE_SITE_ID, UPDATE_CIN = 0x03, 0x06  # Device Management, server to client
GET_EVENT_CONFIGURATION = 0x05  # Device Management, server to client
REPORT_EVENT_CONFIGURATION = 0x04  # Device Management, client to server: its answer
NON_CRITICAL_GROUP = 0x81FF  # the Event ID GCS20r asks for: every 0x81xx event
# the GSME's non-critical events (GBCS Table 16.2's GSME codes, as RTDS's GCS20r reports them)
GSME_NON_CRITICAL_EVENTS = (
    0x810D, 0x810E, 0x8119, 0x8145, 0x8154, 0x8155, 0x8161, 0x8162, 0x8168, 0x8183, 0x8184,
    0x81A1, 0x81A4, 0x81A5, 0x81A6, 0x81A7, 0x81A8, 0x81A9, 0x81AA, 0x81AB, 0x81AC, 0x81AD,
    0x81AE, 0x81AF, 0x81B0, 0x81B1, 0x81B2, 0x81B3, 0x81B4, 0x81B5, 0x81B6, 0x81B9, 0x81BA,
    0x81BC, 0x81BD, 0x81BE, 0x81BF, 0x81C0, 0x81C2, 0x81C3, 0x81C4, 0x81C5, 0x81A0, 0x81C6,
)  # fmt: skip
SUPPLY_OFF, SUPPLY_ARMED, SUPPLY_ON, UNCHANGED = 0, 1, 2, 3
ACKNOWLEDGE = 0x01  # Supply Control Bits: acknowledgement required
GET_BILLING = bytes.fromhex("00000000ffffffff0100")  # from 0, any issuer event id, 1, tariff 0
# Start Sampling as RTDS has it: consumption delivered, every 360 s, at most 41 samples
SAMPLE_TYPE, SAMPLE_INTERVAL_S, MAX_SAMPLES = 0x00, 360, 41
NO_SAMPLE = 0xFFFF  # the Sample ID of a refused Start Sampling


def _gsme(name: str, code: int, request: object, srvs: tuple[str, ...], **kw: object) -> UseCase:
    return UseCase(name, code, GSME, Form.GBZ, request, srvs=srvs, **kw)  # type: ignore[arg-type]


def _critical(
    name: str, code: int, request: object, srvs: tuple[str, ...], **kw: object
) -> UseCase:
    return _gsme(name, code, request, srvs, critical=True, response=SIGNED, **kw)


def _parts(*parts: tuple[int, int, int]) -> ZclBatch:
    return ZclBatch(tuple(ZclPart(c, cmd, fc) for c, cmd, fc in parts))


def _reads(*reads: tuple[int, tuple[gbz.ZclAttribute, ...]]) -> ZclReads:
    return ZclReads(tuple(ZclRead(c, a, ANSWER) for c, a in reads))


_CS = gbz.ZCL_CLUSTER_SPECIFIC
GCS32 = _critical("GCS32", 0x0081, ZclCommands(gbz.METERING, CHANGE_SUPPLY, 1), ("7.2",))
GCS39 = _critical("GCS39", 0x0085, ZclCommands(gbz.METERING, CHANGE_SUPPLY, 1), ("7.3",))
GCS33 = _gsme(
    "GCS33", 0x0082, ZclRead(gbz.METERING, (BATTERY_DAYS, SUPPLY_STATUS), ANSWER), ("7.4",)
)
GCS21K = _gsme("GCS21k", 0x00DA, ZclCommand(PRICE, GET_BILLING_PERIOD, GET_BILLING), ("6.2.3",))
# RTDS 4.5.0's use cases of these SRVs that DCC's mapping table no longer lists (it maps
# 6.2.3 to GCS21k, 6.2.4 to GCS21m, 6.7 to GCS24a): served as RTDS has them
_OLD = {"in_dcc_table": False}
GCS21D = _gsme("GCS21d", 0x009D, ZclCommand(PRICE, GET_BILLING_PERIOD, GET_BILLING), (), **_OLD)
_STATES = (DEPLETION_STATE, TAMPER_STATE)
GCS21M = _gsme(
    "GCS21m", 0x00FB, _reads((BASIC, (MANUFACTURER, MODEL)), (gbz.METERING, _STATES)), ("6.2.4",)
)
GCS21E = _gsme(
    "GCS21e",
    0x009E,
    _reads((BASIC, (MANUFACTURER, MODEL, HW_VERSION)), (gbz.METERING, _STATES)),
    (),
    **_OLD,
)
GCS46 = _gsme("GCS46", 0x0089, ZclRead(gbz.METERING, (SITE_ID,), ANSWER), ("6.2.7",))
GCS21A = _gsme("GCS21a", 0x007B, _reads((PRICE, CONVERSION), (gbz.METERING, FLOW)), ("6.2.8",))
GCS21J = _gsme("GCS21j", 0x00BF, ZclRead(gbz.PREPAYMENT, (PAYMENT_CONTROL,), ANSWER), ("6.2.9",))
GCS23 = _critical(
    "GCS23",
    0x007C,
    _parts(
        (PRICE, PUBLISH_CONVERSION_FACTOR, TO_CLIENT), (PRICE, PUBLISH_CALORIFIC_VALUE, TO_CLIENT)
    ),
    ("6.6",),
)  # fmt: skip
_FLOW = _parts((gbz.METERING, SET_FLOW_THRESHOLD, _CS), (gbz.METERING, SET_SUPPLY_STATUS, _CS))
GCS24 = _critical("GCS24", 0x007D, _FLOW, ("6.7",), **_OLD)
GCS24A = _critical("GCS24a", 0x00FC, _FLOW, ())
_BILLING = _parts(
    (PRICE, PUBLISH_BILLING_PERIOD, TO_CLIENT), (PRICE, PUBLISH_BLOCK_PERIOD, TO_CLIENT)
)
GCS25A = _critical("GCS25a", 0x00D8, _BILLING, ("6.8",))
GCS25 = _critical("GCS25", 0x007E, _BILLING, ())
GCS20R = _gsme(
    "GCS20r", 0x00F1, _parts((DEVICE_MANAGEMENT, GET_EVENT_CONFIGURATION, TO_CLIENT)), ("6.2.10",)
)
GCS41 = _gsme("GCS41", 0x0087, _parts((DEVICE_MANAGEMENT, UPDATE_SITE_ID, TO_CLIENT)), ("6.20.1",))
# the OU's and the GT's: the ACB originates them, the DCC User rides as the supplementary party
_ACB = {"acb_originated": True}
GCS36 = _gsme("GCS36", 0x0083, _parts((DEVICE_MANAGEMENT, UPDATE_CIN, TO_CLIENT)), ("9.1",), **_ACB)
GCS31 = _gsme("GCS31", 0x0080, ZclCommands(gbz.METERING, START_SAMPLING, 1), ("14.1",), **_ACB)

USE_CASES: tuple[UseCase, ...] = (
    GCS32, GCS39, GCS33, GCS21K, GCS21D, GCS21M, GCS21E, GCS46, GCS21A, GCS21J, GCS23, GCS24,
    GCS24A, GCS25A, GCS25, GCS20R, GCS41, GCS36, GCS31,
)  # fmt: skip
SUPPLY_OF = {GCS32.message_code: SUPPLY_OFF, GCS39.message_code: SUPPLY_ARMED}


# --- payloads ---------------------------------------------------------------------------------
def _u24(value: int) -> bytes:
    return value.to_bytes(3, "little")


@dataclass(frozen=True, slots=True)
class ChangeSupply:
    """Metering's Change Supply (GCS32, GCS39): the supply proposed, at once (times 0)."""

    issuer_event_id: int
    proposed: int
    provider_id: int = 0
    request_time: int = 0
    implementation_time: int = 0
    control: int = ACKNOWLEDGE

    def encode(self) -> bytes:
        return struct.pack(
            "<IIIIBB", self.provider_id, self.issuer_event_id, self.request_time,
            self.implementation_time, self.proposed, self.control,
        )  # fmt: skip

    @classmethod
    def decode(cls, payload: bytes) -> ChangeSupply:
        if len(payload) != 18:
            raise DecodeError(f"Change Supply takes 18 bytes, found {len(payload)}", 0)
        provider, issuer, request, implement, proposed, control = struct.unpack("<IIIIBB", payload)
        return cls(issuer, proposed, provider, request, implement, control)

    def response(self, status: int) -> bytes:
        """Supply Status Response: provider, issuer event id, implementation time, status."""
        return struct.pack(
            "<IIIB", self.provider_id, self.issuer_event_id, self.implementation_time, status
        )


def parse_supply_status_response(payload: bytes) -> int:
    """The supply status a Supply Status Response reports."""
    if len(payload) != 13:
        raise DecodeError(f"Supply Status Response is 13 bytes, found {len(payload)}", 0)
    return payload[12]


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    """Publish Billing Period (and GCS25's Publish Block Period): from ``start`` (ZigBee
    time), ``duration`` units of ``duration_type`` (low nibble: 1 days, 2 weeks, 3 months)."""

    issuer_event_id: int
    start: int
    duration: int
    duration_type: int
    tariff_type: int = 0
    provider_id: int = 0

    def encode(self) -> bytes:
        head = struct.pack("<III", self.provider_id, self.issuer_event_id, self.start)
        return head + _u24(self.duration) + bytes([self.duration_type, self.tariff_type])

    def block_period(self) -> bytes:
        """Publish Block Period of the same period: repeating, one block per period."""
        head = struct.pack("<III", self.provider_id, self.issuer_event_id, self.start)
        return head + _u24(self.duration) + bytes([0x02, self.duration_type, self.tariff_type, 1])

    @classmethod
    def decode(cls, payload: bytes) -> BillingPeriod:
        if len(payload) != 17:
            raise DecodeError(f"Publish Billing Period is 17 bytes, found {len(payload)}", 0)
        provider, issuer, start = struct.unpack_from("<III", payload)
        duration = int.from_bytes(payload[12:15], "little")
        return cls(issuer, start, duration, payload[15], payload[16], provider)


@dataclass(frozen=True, slots=True)
class Publication:
    """Publish Conversion Factor / Calorific Value: issuer event id, start time (0: now), the
    value and its trailing digit (the decimals, in the high nibble); the Calorific Value's
    unit (1: MJ/m3) between them."""

    issuer_event_id: int
    value: int
    trailing_digit: int
    unit: int | None = None  # Publish Calorific Value only

    def encode(self) -> bytes:
        unit = b"" if self.unit is None else bytes([self.unit])
        return (
            struct.pack("<III", self.issuer_event_id, 0, self.value)
            + unit
            + bytes([self.trailing_digit])
        )

    @classmethod
    def decode(cls, payload: bytes, calorific: bool) -> Publication:
        size = 14 if calorific else 13
        if len(payload) != size:
            raise DecodeError(f"the publication takes {size} bytes, found {len(payload)}", 0)
        issuer, _start, value = struct.unpack_from("<III", payload)
        return cls(issuer, value, payload[-1], payload[12] if calorific else None)


@dataclass(frozen=True, slots=True)
class FlowThreshold:
    """Set Uncontrolled Flow Threshold: the threshold (x multiplier / divisor, in ``unit``:
    1 m3/h), the stabilisation period (s) and the measurement period (s)."""

    issuer_event_id: int
    threshold: int
    divisor: int
    stabilisation_s: int
    measurement_s: int
    unit: int = 0x01
    multiplier: int = 1

    def encode(self) -> bytes:
        return struct.pack(
            "<IIHBHHBH", 0, self.issuer_event_id, self.threshold, self.unit, self.multiplier,
            self.divisor, self.stabilisation_s, self.measurement_s,
        )  # fmt: skip

    @classmethod
    def decode(cls, payload: bytes) -> FlowThreshold:
        if len(payload) != 18:
            raise DecodeError(f"Set Uncontrolled Flow Threshold is 18 bytes, not {len(payload)}", 0)
        _p, issuer, threshold, unit, mult, divisor, stab, meas = struct.unpack("<IIHBHHBH", payload)
        return cls(issuer, threshold, divisor, stab, meas, unit, mult)


def set_supply_status(issuer: int, tamper: int, depletion: int) -> bytes:
    """Set Supply Status: the tamper and depletion states (0 lock, 3 unchanged), the
    uncontrolled flow state 0 and the load limit state unchanged, as RTDS has them."""
    return struct.pack("<IBBBB", issuer, tamper, depletion, SUPPLY_OFF, UNCHANGED)


def parse_set_supply_status(payload: bytes) -> tuple[int, int]:
    """(tamper state, depletion state) of a Set Supply Status."""
    if len(payload) != 8:
        raise DecodeError(f"Set Supply Status is 8 bytes, found {len(payload)}", 0)
    return payload[4], payload[5]


def update_string(issuer: int, value: bytes) -> bytes:
    """Update SiteID / Update CIN: issuer event id, at once, provider 0, the string."""
    return struct.pack("<III", issuer, 0, 0) + gbz.zcl_string(value)


def parse_update_string(payload: bytes) -> bytes:
    """The string an Update SiteID / Update CIN carries."""
    if len(payload) < 13 or payload[12] != len(payload) - 13:
        raise DecodeError("Update SiteID / CIN is 12 bytes and a ZCL octet string", 0)
    return payload[13:]


def start_sampling(issuer: int) -> bytes:
    """GCS31's Start Sampling: at once, consumption, every 360 s, at most 41 samples."""
    return struct.pack("<IIBHH", issuer, 0, SAMPLE_TYPE, SAMPLE_INTERVAL_S, MAX_SAMPLES)


def parse_start_sampling(payload: bytes) -> tuple[int, int, int, int]:
    """(start time, sample type, interval s, max samples) of a Start Sampling."""
    if len(payload) != 13:
        raise DecodeError(f"Start Sampling is 13 bytes, found {len(payload)}", 0)
    _issuer, start, kind, interval, count = struct.unpack("<IIBHH", payload)
    return start, kind, interval, count


def report_event_configuration(events: list[tuple[int, int]]) -> bytes:
    """Report Event Configuration (one command of one): each event ID and its configuration."""
    body = b"".join(code.to_bytes(2, "little") + bytes([config]) for code, config in events)
    return b"\x00\x01" + body


def parse_report_event_configuration(payload: bytes) -> list[tuple[int, int]]:
    """(event ID, configuration) of each event a Report Event Configuration reports."""
    if len(payload) < 2 or (len(payload) - 2) % 3:
        raise DecodeError("Report Event Configuration is 2 bytes, then 3 per event", 0)
    return [
        (int.from_bytes(payload[at : at + 2], "little"), payload[at + 2])
        for at in range(2, len(payload), 3)
    ]


def parse_values(data: bytes) -> dict[str, int | str]:
    """A Read Attributes Response's values by name (this family's attributes; strings
    decoded as UTF-8); a failed attribute is left out."""
    known = {a.ident: a for a in ATTRIBUTES}
    values: dict[str, int | str] = {}
    at = 0
    while at < len(data):
        if at + 3 > len(data):
            raise DecodeError("a Read Attributes record is cut short", at)
        ident, status = int.from_bytes(data[at : at + 2], "little"), data[at + 2]
        at += 3
        if status != gbz.ZCL_SUCCESS:
            continue
        attr = known.get(ident)
        if attr is None or at >= len(data) or data[at] != attr.zcl_type:
            raise DecodeError(f"attribute 0x{ident:04X} is not one of this family's", at)
        size = attr.size or data[at + 1] + 1
        raw = data[at + 1 : at + 1 + size]
        at += 1 + size
        if attr.size:
            values[attr.name] = int.from_bytes(raw, "little")
        else:
            values[attr.name] = raw[1:].decode("utf-8", "replace")
    return values
