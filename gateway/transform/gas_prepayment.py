"""Transforms of the GSME's prepayment configuration (issue 15), laid out as RTDS 4.5.0 has
them: 2.3 Update Debt becomes GCS04, three Change Debt commands (time debt 1 and 2, each
adjusted by its DUIS register and recovered at its GasDebtRecovery rate per hour or day;
the payment debt, recovered as DebtRecoveryPerPayment hundredths of a percent of each
top-up). Each carries the DCC's issuer event id, the ZigBee time of the transform. 2.1
Update Prepay Configuration (IMMEDIATE) becomes GCS05: the DUIS body's limits and
thresholds as four Prepayment commands, its GasNonDisablementCalendar as the Calendar
cluster's Publish commands of a friendly credit calendar (its issuer calendar id the
issuer event id), each dated as RTDS has it: 0 (at once), the ExecutionDateTime (future
dated: Emergency Credit Setup's start time, the implementation times, Set Low Credit
Warning Level's GBZ From Date-Time, Publish Calendar's and Publish Special Days' start
times), or for DUIS's 3000-12-31 (a cancellation) ZCL's latest: 0xFFFFFFFF in the
Prepayment commands, 0xFFFFFFFE in the Publish commands. 4.3
Read Instantaneous Prepay Values becomes GCS14 and 4.13 Read Prepayment Configuration
GCS21b, which take nothing from the body."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from lxml import etree

from gateway.transform import registry
from gateway.transform.calendar import choice, switch_time
from gateway.transform.commission import DUIS_CANCEL, current_date_time
from gateway.transform.fixed import from_declaration
from gateway.transform.registry import (
    TransformInput,
    TransformRefused,
    for_device_type,
    transforms,
)
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import (
    FRIENDLY_CREDIT_CALENDAR,
    GCS04,
    GCS05,
    GCS14,
    GCS21B,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import DatedEntry, UseCase, command

FREQUENCY = {"HOURLY": gbz.HOURLY, "DAILY": gbz.DAILY}  # DUIS DebtRecoveryRatePeriod
TYPE_1, TYPE_2, TYPE_3 = 0x01, 0x03, 0x05  # Debt Amount Type, each incremental

now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731 (a test sets it)


@transforms(GCS04)
def update_gas_debt(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    for_device_type(
        body,
        "sr:GasDebtRecovery1",
        "2.3 for a GSME takes GasDebtRecovery1 and 2 (ElecDebtRecovery is for an ESME)",
    )

    def number(path: str) -> int:
        return registry.number(body, path)

    issuer = gbz.zigbee_time(now())
    debts = [
        gbz.ChangeDebt(
            issuer,
            number(f"sr:TimeDebtRegister{n}"),
            gbz.TIME_BASED,
            debt_type,
            FREQUENCY[text(body, f"sr:GasDebtRecovery{n}/sr:DebtRecoveryRatePeriod") or "DAILY"],
            recovery_amount=number(f"sr:GasDebtRecovery{n}/sr:DebtRecoveryRate"),
        )
        for n, debt_type in ((1, TYPE_1), (2, TYPE_2))
    ]
    debts.append(
        gbz.ChangeDebt(
            issuer,
            number("sr:PaymentDebtRegister"),
            gbz.PERCENTAGE_BASED,
            TYPE_3,
            gbz.DAILY,  # not used by a percentage-based recovery; RTDS sends daily
            percentage=number("sr:DebtRecoveryPerPayment"),
        )
    )
    payloads = tuple(d.encode() for d in debts)
    return command(uc, given.counter, given.originator.raw, given.device.raw, payloads)


transforms(GCS14, GCS21B)(from_declaration)  # the commands their declarations describe


PROVIDER_ID = 0  # GCS05's provider id, as RTDS has it
AT_ONCE = 0  # a start or implementation time of 0: at once
# a cancellation's time, as RTDS has it: the Prepayment commands', the Publish commands'
CANCEL_PREPAYMENT, CANCEL_PUBLISH = 0xFFFFFFFF, 0xFFFFFFFE
WILDCARD = 0xFF  # a ZCL date's part not specified
ZCL_YEAR_BASE = 1900
NON_DISABLEMENT = {"START": 1, "STOP": 0}  # a friendly credit day entry: enabled or not
# GCS05's parts (ZclBatch indices): four Prepayment commands, then the calendar's
SETUP, DEBT_CAP, LOW_CREDIT, MAX_CREDIT, CALENDAR, DAYS, WEEKS, SEASONS, SPECIAL_DAYS = range(9)


def _u32(value: int, *, signed: bool = False) -> bytes:
    return value.to_bytes(4, "little", signed=signed)


def _zcl_date(date: etree._Element) -> bytes:
    """A DUIS gas date (year, month, day of month, day of week; each specified or a
    wildcard) as a ZCL date: year - 1900, month, day of month, day of week; 0xFF where not
    specified."""

    def part(name: str, base: int = 0) -> int:
        chosen = choice(date, name)
        if etree.QName(chosen).localname.startswith("NonSpecified"):
            return WILDCARD
        if not (chosen.text or "").strip().isdigit():
            raise TransformRefused(
                codes.NOT_SERVED,
                f"a calendar date's {etree.QName(chosen).localname} has no ZCL date form: "
                "give the day of month as a number",
            )
        return int(chosen.text or 0) - base

    return bytes(
        [
            part("GasYearWithWildcards", ZCL_YEAR_BASE),
            part("GasMonthWithWildcards"),
            part("GasDayOfMonthWithWildcards"),
            part("GasDayOfWeekWithWildcards"),
        ]
    )


def _calendar(calendar: etree._Element, issuer: bytes, start: int = AT_ONCE) -> list[bytes]:
    """The Publish commands' entries (their part's index, then the payload) of DUIS's
    non-disablement calendar, as a friendly credit calendar: the calendar, each day profile
    (its switches: minutes after midnight, enabled or not), each week profile (the day of
    each weekday, Monday first), the seasons (start date, week) and the special days; the
    calendar and the special days start at ``start`` (ZigBee time; 0: at once)."""
    head = _u32(PROVIDER_ID) + issuer + issuer  # provider, issuer event id, calendar id
    once = bytes([0, 1])  # command index 0 of 1 command
    days = calendar.findall("sr:DayProfiles/sr:GasNonDisablementDayProfile", NS)
    weeks = calendar.findall("sr:WeekProfiles/sr:WeekProfile", NS)
    seasons = calendar.findall("sr:SeasonProfiles/sr:Season", NS)
    specials = calendar.findall("sr:SpecialDays/sr:SpecialDay", NS)
    entries = [
        bytes([CALENDAR])
        + head
        + _u32(start)
        + bytes([FRIENDLY_CREDIT_CALENDAR, 0, 0])  # time reference UTC, no name
        + bytes([len(seasons), len(weeks), len(days)])
    ]
    for day in days:
        switches = day.findall("sr:TimeStartAction", NS)
        schedule = b""
        for switch in switches:
            hh, mm = switch_time(text(switch, "sr:StartTime") or "00:00:00")[:2]
            action = NON_DISABLEMENT[text(switch, "sr:NonDisablementAction") or "START"]
            schedule += (hh * 60 + mm).to_bytes(2, "little") + bytes([action])
        name = int(text(day, "sr:GasDayName") or 0)
        shape = bytes([name, len(switches)]) + once + bytes([FRIENDLY_CREDIT_CALENDAR])
        entries.append(bytes([DAYS]) + head + shape + schedule)
    for week in weeks:
        by_weekday = sorted(
            week.findall("sr:ReferencedDayName", NS), key=lambda d: int(d.get("index") or 0)
        )
        day_names = bytes(int(d.text or 0) for d in by_weekday)
        week_name = bytes([int(text(week, "sr:WeekName") or 0)])
        entries.append(bytes([WEEKS]) + head + week_name + day_names)
    season_entries = b"".join(
        _zcl_date(_found(s, "sr:SeasonStartDate"))
        + bytes([int(text(s, "sr:ReferencedWeekName") or 0)])
        for s in seasons
    )
    entries.append(bytes([SEASONS]) + head + once + season_entries)
    special_entries = b"".join(
        _zcl_date(_found(d, "sr:Date")) + bytes([int(text(d, "sr:ReferencedDayName") or 0)])
        for d in specials
    )
    entries.append(
        bytes([SPECIAL_DAYS])
        + head
        + _u32(start)
        + bytes([FRIENDLY_CREDIT_CALENDAR, len(specials)])
        + once
        + special_entries
    )
    return entries


def _found(parent: etree._Element, path: str) -> etree._Element:
    found = parent.find(path, NS)
    if found is None:  # the schema requires it
        raise TransformRefused(codes.NOT_DUIS, f"a {etree.QName(parent).localname} without {path}")
    return found


def _execution_time(given: TransformInput) -> int | None:
    """When the body asks the change for (ZigBee time): at once (0), its ExecutionDateTime,
    or None for DUIS's 3000-12-31 (a cancellation)."""
    if text(given.request.body, "sr:ExecutionDateTime") is None:
        return AT_ONCE
    at = current_date_time(given, "ExecutionDateTime")
    if at == DUIS_CANCEL:
        return None
    if at <= now():
        raise TransformRefused(
            codes.NOT_DUIS, f"ExecutionDateTime {at.isoformat()} is past: give a later one"
        )
    return gbz.zigbee_time(at)


@transforms(GCS05)
def update_gas_prepay_configuration(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    at = _execution_time(given)
    dated_at = CANCEL_PREPAYMENT if at is None else at  # the Prepayment commands' time
    start = CANCEL_PUBLISH if at is None else at  # the Publish commands'
    config = for_device_type(
        body,
        "sr:UpdatePrepayConfigGas",
        "2.1 for a GSME takes UpdatePrepayConfigGas (UpdatePrepayConfigElectricity is for an ESME)",
    )

    def number(element: str) -> int:
        return registry.number(config, f"sr:{element}")

    issuer = _u32(gbz.zigbee_time(now()))
    dated = _u32(PROVIDER_ID) + issuer + _u32(dated_at)  # provider, issuer, implementation
    low_credit = bytes([LOW_CREDIT]) + _u32(number("LowCreditThreshold"))
    entries = [
        bytes([SETUP])
        + issuer
        + _u32(dated_at)
        + _u32(number("EmergencyCreditLimit"))
        + _u32(number("EmergencyCreditThreshold")),
        bytes([DEBT_CAP]) + dated + _u32(number("DebtRecoveryRateCap"), signed=True),
        DatedEntry(low_credit, dated_at) if dated_at else low_credit,  # its From Date-Time
        bytes([MAX_CREDIT])
        + dated
        + _u32(number("MaxMeterBalance"))
        + _u32(number("MaxCreditThreshold")),
        *_calendar(_found(config, "sr:GasNonDisablementCalendar"), issuer, start),
    ]
    return command(uc, given.counter, given.originator.raw, given.device.raw, tuple(entries))
