"""Transforms of the ESME's identity, security and operational configuration, laid out as RTDS
4.5.0 has them: each DUIS value becomes the value of the part the catalogue names for it.

- 6.5 Update Device Configuration (Voltage): ECS29a, or (poly-phase settings) ECS29b, or
  (RMSVoltageCountersNotReset) ECS29c / ECS29d; 6.27 (RMS Voltage Counter Reset): ECS29e,
  the rig's ESME being single phase (ECS29f is built when asked for by name).
- 6.8 Billing Calendar: ECS30a, the BillingTime on each date the periodicity names (COSEM
  dates, unspecified fields 0xFF): daily, weekly (day of week), monthly (day of month),
  quarterly, six-monthly or yearly (day of month, from the start month).
- 6.12 power thresholds (W), 6.18.1 the maximum demand period (its start and end as two
  schedule entries), 6.18.2 the maximum demand registers the body names, 6.20.1 the import
  MPAN (twin: both, concatenated), 6.20.2 the export MPAN, 6.25 the supply tamper state,
  6.26 daily resetting of the block counters (at midnight; false: no execution time).

A request with an ExecutionDateTime (DUIS's DSP future-dated pattern) is refused (E17)."""

from __future__ import annotations

from lxml import etree

from gateway.transform.calendar import switch_time
from gateway.transform.registry import (
    TransformInput,
    TransformRefused,
    for_device_type,
    immediate_only,
    number,
    transforms,
)
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.gbcs.catalogue_esme_config import (
    CALENDAR,
    COUNTER_RESET,
    ECS29A,
    ECS29B,
    ECS29C,
    ECS29D,
    ECS29E,
    ECS29F,
    ECS30,
    ECS30A,
    ECS34,
    ECS37,
    ECS39A,
    ECS39B,
    ECS48,
    ECS57,
    ECS81,
    MAX_DEMAND,
    MPAN,
    SCHEDULE,
    TAMPER,
    THRESHOLDS,
    VOLTAGE,
)
from rig.protocol.gbcs.cosem import obis
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

_D = DataType
ANY = 0xFF
# DUIS's RMS settings and the limiters they fill
LIMITERS = {
    "RMSExtremeOverVoltage": "extreme_over_voltage",
    "RMSExtremeUnderVoltage": "extreme_under_voltage",
    "RMSVoltageSag": "voltage_sag",
    "RMSVoltageSwell": "voltage_swell",
}
MONTHS_APART = {"Quarterly": 3, "SixMonthly": 6, "Yearly": 12}
MD_SCRIPTS = obis("0-0:10.128.100")  # the script table the maximum demand period runs (RTDS)
EVERY_DAY = Data(_D.BIT_STRING, (7, b"\xfe"))  # exec_weekdays: Monday to Sunday
NO_SPECIAL_DAYS = Data(_D.BIT_STRING, (0, b""))
MD_BEGIN, NO_END = bytes.fromhex("000001ffff"), b"\xff" * 5  # RTDS's validity dates
MIDNIGHT = bytes(4)


def _send(uc: UseCase, given: TransformInput, values: dict[str, Data]) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


def _u32(element: etree._Element, path: str) -> Data:
    return Data(_D.DOUBLE_LONG_UNSIGNED, number(element, path))


def _average(values: dict[str, Data], settings: etree._Element, phase: int) -> None:
    suffix = "" if phase == 1 else f"_{phase}"
    values[f"average_rms_over_voltage{suffix}"] = _u32(
        settings, "sr:AverageRMSOverVoltageThreshold"
    )
    values[f"average_rms_under_voltage{suffix}"] = _u32(
        settings, "sr:AverageRMSUnderVoltageThreshold"
    )
    values[f"average_rms_period_{phase}"] = _u32(settings, "sr:AverageRMSVoltageMeasurementPeriod")


@transforms(ECS29A, ECS29B, ECS29C, ECS29D)
def update_voltage_configuration(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.5")
    values: dict[str, Data] = {}
    for duis, name in LIMITERS.items():
        values[f"{name}_threshold"] = _u32(body, f"sr:RMSVoltageSettings/sr:{duis}Threshold")
        values[f"{name}_period"] = _u32(body, f"sr:RMSVoltageSettings/sr:{duis}MeasurementPeriod")
    phases = body.findall("sr:PolyPhaseVoltageSettings", NS)
    for settings in phases:
        inner = settings.find("sr:PhaseVoltageSettings", NS)
        assert inner is not None  # the schema requires it
        _average(values, inner, number(settings, "sr:Phase"))
    single = body.find("sr:SinglePhaseVoltageSettings", NS)
    if single is not None:
        _average(values, single, 1)
    reset = body.find("sr:RMSVoltageCountersNotReset", NS) is None
    return _send(VOLTAGE[(bool(phases), reset)], given, values)


@transforms(ECS29E, ECS29F)
def reset_voltage_counters(uc: UseCase, given: TransformInput) -> GbcsMessage:
    immediate_only(given.request.body, "6.27")
    return _send(COUNTER_RESET[uc is ECS29F], given, {})


def _billing_dates(calendar: etree._Element) -> list[bytes]:
    """The COSEM dates (year, month, day of month, day of week) the calendar bills on."""
    found = [c for c in calendar if etree.QName(c).localname != "BillingTime"]
    period = found[0] if found else None
    name = "" if period is None else etree.QName(period).localname
    if name == "Daily":
        return [b"\xff\xff" + bytes([ANY, ANY, ANY])]
    if name == "Weekly":
        return [b"\xff\xff" + bytes([ANY, ANY, number(calendar, "sr:Weekly")])]
    if name == "Monthly":
        return [b"\xff\xff" + bytes([ANY, number(calendar, "sr:Monthly"), ANY])]
    if period is None or name not in MONTHS_APART:
        raise TransformRefused(codes.NOT_DUIS, f"a billing calendar of no periodicity ({name!r})")
    day, start = number(period, "sr:DayOfMonth"), number(period, "sr:BillingPeriodStartMonth")
    apart = MONTHS_APART[name]
    months = sorted((start - 1 + n) % 12 + 1 for n in range(0, 12, apart))
    return [b"\xff\xff" + bytes([month, day, ANY]) for month in months]


@transforms(ECS30A, ECS30)
def update_billing_calendar(uc: UseCase, given: TransformInput) -> GbcsMessage:
    calendar = for_device_type(
        given.request.body,
        "sr:ElectricityBillingCalendar",
        "6.8 for an ESME takes an ElectricityBillingCalendar (GasBillingCalendar is a GSME's)",
    )
    time = switch_time(text(calendar, "sr:BillingTime") or "00:00:00")
    entries = [
        Data(_D.STRUCTURE, [Data(_D.OCTET_STRING, time), Data(_D.OCTET_STRING, date)])
        for date in _billing_dates(calendar)
    ]
    return _send(uc, given, {CALENDAR: Data(_D.ARRAY, entries)})


@transforms(ECS34)
def update_power_thresholds(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.12")
    thresholds = [_u32(body, f"sr:{n}Threshold") for n in ("LowMediumPower", "MediumHighPower")]
    return _send(uc, given, {THRESHOLDS: Data(_D.ARRAY, thresholds)})


def _md_entry(index: int, selector: int, at: str) -> Data:
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.LONG_UNSIGNED, index),
            Data(_D.BOOLEAN, 0xFF),  # enabled
            Data(_D.OCTET_STRING, MD_SCRIPTS),
            Data(_D.LONG_UNSIGNED, selector),  # 1: the period starts; 2: it ends
            Data(_D.OCTET_STRING, switch_time(at)),
            Data(_D.LONG_UNSIGNED, 0xFFFF),  # validity window: not limited
            EVERY_DAY,
            NO_SPECIAL_DAYS,
            Data(_D.OCTET_STRING, MD_BEGIN),
            Data(_D.OCTET_STRING, NO_END),
        ],
    )


@transforms(ECS37)
def set_maximum_demand_period(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.18.1")
    path = "sr:MaximumDemandTimePeriodSchedule/sr:{}Time"
    start, end = (text(body, path.format(n)) or "00:00:00" for n in ("Start", "End"))
    return _send(
        uc, given, {SCHEDULE: Data(_D.ARRAY, [_md_entry(0, 1, start), _md_entry(1, 2, end)])}
    )


@transforms(ECS57)
def reset_maximum_demand(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.18.2")
    named = {n: Data(_D.INTEGER, 0) for n in MAX_DEMAND if body.find(f"sr:{n}", NS) is not None}
    if not named:
        raise TransformRefused(
            codes.NOT_DUIS,
            f"6.18.2 names no register to reset: give one of {', '.join(MAX_DEMAND)}",
        )
    return _send(uc, given, named)


def _mpan(value: str | None) -> Data:
    return Data(_D.OCTET_STRING, (value or "").encode("utf-8"))


@transforms(ECS39A)
def set_import_mpan(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.20.1")
    mpans = for_device_type(
        body, "sr:ImportMPANs", "6.20.1 for an ESME takes ImportMPANs (ImportMPRN is a GSME's)"
    )
    both = (text(mpans, "sr:ImportMPAN") or "") + (text(mpans, "sr:SecondaryImportMPAN") or "")
    return _send(uc, given, {MPAN: _mpan(both)})


@transforms(ECS39B)
def set_export_mpan(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.20.2")
    return _send(uc, given, {MPAN: _mpan(text(body, "sr:ExportMPAN"))})


@transforms(ECS81)
def set_supply_tamper_state(uc: UseCase, given: TransformInput) -> GbcsMessage:
    locked = text(given.request.body, "sr:SupplyTamperState") == "Locked"
    return _send(uc, given, {TAMPER: Data(_D.BOOLEAN, 0xFF if locked else 0)})


@transforms(ECS48)
def set_daily_block_counter_reset(uc: UseCase, given: TransformInput) -> GbcsMessage:
    daily = text(given.request.body, "sr:DailyTariffBlockCounterMatrixReset") in ("true", "1")
    at_midnight = Data(
        _D.STRUCTURE, [Data(_D.OCTET_STRING, MIDNIGHT), Data(_D.OCTET_STRING, NO_END)]
    )
    return _send(uc, given, {CALENDAR: Data(_D.ARRAY, [at_midnight] if daily else [])})
