"""The transforms of the ESME's prepayment configuration SRVs: 4.13 Read Prepayment
Configuration into ECS26a (eighteen GETs, nothing from the body), and 2.1 Update Prepay
Configuration (IMMEDIATE) into ECS08a (or RTDS's ECS08, whose layout differs in one part):
the DUIS body's values, its special days and its non-disablement schedule as the values of
the command's parts, laid out as RTDS 4.5.0 has them. Each value's activation date-time is
at once (no ExecutionDateTime), the ExecutionDateTime (FUTURE_DATED: the ESME holds the
values until then) or never (DUIS's cancellation, 3000-12-31: what the ESME holds is
dropped), as 1.1.1's are (:func:`gateway.transform.tariff.activation_of`)."""

from __future__ import annotations

from lxml import etree

from gateway.transform.calendar import choice, switch_time
from gateway.transform.registry import TransformInput, TransformRefused, transforms
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.catalogue_prepay_config import (
    DEBT_CAP_PERIOD_S,
    ECS08,
    ECS08A,
    ECS26A,
    NON_DISABLEMENT_SCRIPTS,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

_D = DataType
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
UNSPECIFIED = 0xFF
# DUIS's day of month choices that are not a number, as COSEM dates say them
DAY_OF_MONTH = {"LastDayOfMonth": 0xFE, "SecondLastDayOfMonth": 0xFD}
# 2.1's values and the parts they fill: (DUIS element, given name, DLMS type)
VALUES = (
    ("MaxMeterBalance", "max_meter_balance", _D.DOUBLE_LONG),
    ("MaxCreditThreshold", "max_credit_threshold", _D.DOUBLE_LONG),
    ("DebtRecoveryRateCap", "debt_cap", _D.LONG_UNSIGNED),
    ("LowCreditThreshold", "low_credit", _D.DOUBLE_LONG),
    ("EmergencyCreditLimit", "emergency_credit_limit", _D.DOUBLE_LONG),
    ("EmergencyCreditThreshold", "emergency_credit_threshold", _D.DOUBLE_LONG),
)


@transforms(ECS26A)
def read_prepayment_configuration(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw)


def _date(date: etree._Element) -> bytes:
    """A DUIS Date (Year, Month, DayOfMonth, DayOfWeek; each specified or not) as a COSEM
    date: year (2 bytes), month, day of month, day of week; 0xFF(FF) where not specified."""
    year, month, day, weekday = (
        choice(date, p) for p in ("Year", "Month", "DayOfMonth", "DayOfWeek")
    )  # fmt: skip

    def number(choice: etree._Element, unspecified: int) -> int:
        name = etree.QName(choice).localname
        if name.startswith("NonSpecified"):
            return unspecified
        if name in DAY_OF_MONTH:
            return DAY_OF_MONTH[name]
        return int(choice.text or 0)

    return (
        number(year, 0xFFFF).to_bytes(2, "big")
        + bytes([number(month, UNSPECIFIED), number(day, UNSPECIFIED)])
        + bytes([number(weekday, UNSPECIFIED)])
    )


def _schedule_date(value: str) -> bytes:
    """A ScheduleDatesAndTime date ("2014-10-27Z"; year 65535: every year) as a COSEM date."""
    year, month, day = (int(n) for n in value.rstrip("Z").split("-"))
    return year.to_bytes(2, "big") + bytes([month, day, UNSPECIFIED])


def _bits(count: int, on: set[int]) -> Data:
    """A bit-string of ``count`` bits, bit n (0: the first, the most significant) set for
    each n in ``on``."""
    value = sum(1 << (count - 1 - n) for n in on if 0 <= n < count)
    size = (count + 7) // 8
    return Data(_D.BIT_STRING, (count, (value << (size * 8 - count)).to_bytes(size, "big")))


def _special_days(calendar: etree._Element) -> list[Data]:
    days = calendar.findall("sr:ElectricitySpecialDays/sr:SpecialDay", NS)
    entries = []
    for day in days:
        index = int(day.get("index") or 0)
        date = day.find("sr:Date", NS)
        assert date is not None  # the schema requires it
        entries.append(
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.LONG_UNSIGNED, index),
                    Data(_D.OCTET_STRING, _date(date)),
                    Data(_D.UNSIGNED, index),  # the special day's own day id
                ],
            )
        )
    return entries


def _schedule(calendar: etree._Element, special_days: int) -> list[Data]:
    """The non-disablement schedule (class 10 entries): each switch, on the days of the week
    and the special days it applies to, between its dates. ``special_days``: how many the
    calendar defines (the width of each entry's special-days bit-string)."""
    entries = []
    script_table = cosem.obis("0-0:10.0.106")  # the disconnect script table RTDS names
    for n, item in enumerate(calendar.findall("sr:ElectricityNonDisablementSchedule", NS), 1):
        script = text(item, "sr:NonDisablementScript") or "START"
        weekdays = {WEEKDAYS.index(d.text or "") for d in item.iterfind(".//sr:DayOfWeekID", NS)}
        specials = {int(d.text or 0) - 1 for d in item.iterfind(".//sr:SpecialDayID", NS)}
        when = "sr:ScheduleDatesAndTime/sr:"
        entries.append(
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.LONG_UNSIGNED, n),
                    Data(_D.BOOLEAN, 0xFF),  # enabled
                    Data(_D.OCTET_STRING, script_table),
                    Data(_D.LONG_UNSIGNED, NON_DISABLEMENT_SCRIPTS[script]),
                    Data(_D.OCTET_STRING, switch_time(text(item, f"{when}SwitchTime") or "0:0:0")),
                    Data(_D.LONG_UNSIGNED, 0xFFFF),  # validity window: not limited
                    _bits(7, weekdays),
                    _bits(special_days, specials),
                    Data(_D.OCTET_STRING, _schedule_date(text(item, f"{when}StartDate") or "")),
                    Data(_D.OCTET_STRING, _schedule_date(text(item, f"{when}EndDate") or "")),
                ],
            )
        )
    return entries


@transforms(ECS08A, ECS08)
def update_prepay_configuration(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    config = body.find("sr:UpdatePrepayConfigElectricity", NS)
    if config is None:
        raise TransformRefused(
            codes.WRONG_DEVICE_TYPE,
            "2.1 for an ESME takes UpdatePrepayConfigElectricity "
            "(UpdatePrepayConfigGas is for a GSME)",
        )
    calendar = config.find("sr:ElectricityNonDisablementCalendar", NS)
    assert calendar is not None  # the schema requires it
    special_days = _special_days(calendar)
    values: dict[str, Data] = {
        name: Data(kind, int(text(config, f"sr:{element}") or 0)) for element, name, kind in VALUES
    }
    values["debt_cap_period"] = Data(_D.DOUBLE_LONG, DEBT_CAP_PERIOD_S)
    values["special_days"] = Data(_D.ARRAY, special_days)
    values["schedule"] = Data(_D.ARRAY, _schedule(calendar, len(special_days)))
    from gateway.transform.tariff import activation_of  # it imports this module's _date

    at = Data(_D.OCTET_STRING, activation_of(body))
    for name in _activations(uc):
        values[name] = at
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


def _activations(uc: UseCase) -> tuple[str, ...]:
    """The activation date-times ECS08 gives (the names ending in ``_at``)."""
    assert isinstance(uc.request, access.Access)
    return tuple(n for n in uc.request.names if n.endswith("_at"))
