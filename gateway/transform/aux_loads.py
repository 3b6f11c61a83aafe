"""Transforms of the ESME's auxiliary loads, boost button and auxiliary controller (6.14.x,
7.5-7.16), laid out as RTDS 4.5.0 has them (see :mod:`rig.protocol.gbcs.catalogue_aux_loads`):
the DUIS body's values as the values of the use case's parts. 7.5, 7.6 and 7.8 are ECS47
(the body's element says which script); 7.9 and 7.10 ECS62 (add: true, remove: false, for
each load the body names). 6.14.2 and 6.14.3 write the calendar and special days to come,
with the activation date-time of each: at once (no ExecutionDateTime), the ExecutionDateTime
(future-dated), or all unspecified (its cancellation, 3000-12-31)."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from gateway.transform.calendar import switch_time
from gateway.transform.prepay_config import WEEKDAYS, _bits, _date
from gateway.transform.prepay_logs import read_log_period, utc_seconds
from gateway.transform.registry import TransformInput, TransformRefused, number, transforms
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.catalogue_aux_loads import (
    ACTIVATE,
    AT_ONCE,
    DEACTIVATE,
    ECS38,
    ECS46A,
    ECS46C,
    ECS46D,
    ECS47,
    ECS47A,
    ECS47E,
    ECS61A,
    ECS61C,
    ECS61D,
    ECS61E,
    ECS62,
    END,
    INPUT,
    NEVER,
    OUTPUT,
    RESET,
    SCRIPT,
    SCRIPTS,
    START,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

_D = DataType
CANCELLED_AT = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)  # DUIS: a cancellation's date-time
# 6.14.3's scheduled level: flagged in the script id (RTDS ECS46d: 0x80 | level)
SCHEDULED_LEVEL = 0x80


def _send(uc: UseCase, given: TransformInput, values: dict[str, Data] | None = None) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


@transforms(ECS61A, ECS61D, ECS61E)
def read_aux_loads(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return _send(uc, given)


@transforms(ECS38)
def set_randomised_offset_limit(uc: UseCase, given: TransformInput) -> GbcsMessage:
    limit = number(given.request.body, ".//sr:RandomisedOffsetLimit")
    return _send(uc, given, {"limit": Data(_D.LONG_UNSIGNED, limit)})


def _index(element: etree._Element, attribute: str = "index") -> int:
    """An element's index (or identifier) attribute."""
    return int(element.get(attribute) or element.get("identifier") or 0)


@transforms(ECS46A)
def set_descriptions(uc: UseCase, given: TransformInput) -> GbcsMessage:
    values = {
        f"description_{_index(d)}": Data(
            _D.VISIBLE_STRING, (text(d, "sr:SwitchDescription") or "").encode()
        )
        for d in given.request.body.iterfind(".//sr:ALCSHCALCSDescription", NS)
    }
    return _send(uc, given, values)


@transforms(ECS62)
def boost_association(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    add = body.findall(".//sr:AddToBoostButton", NS)
    chosen = add or body.findall(".//sr:RemoveFromBoostButton", NS)
    on = 0xFF if add else 0
    values = {
        f"boost_{_index(e)}": Data(_D.BOOLEAN, on)
        for e in chosen
        if (e.text or "").strip() in ("true", "1")
    }
    if not values:
        raise TransformRefused(codes.NOT_DUIS, "name at least one load (index 1-5) set to true")
    return _send(uc, given, values)


@transforms(ECS61C)
def read_boost_button(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    return _send(
        uc,
        given,
        {
            START: Data(_D.DOUBLE_LONG_UNSIGNED, utc_seconds(start)),
            END: Data(_D.DOUBLE_LONG_UNSIGNED, utc_seconds(end)),
        },
    )


# 7.5, 7.6, 7.8: the body's element, its script action, and the duration's given name
_ECS47 = {
    "ActivateALCSHCALCS": (ACTIVATE, "activate"),
    "DeactivateALCSHCALCS": (DEACTIVATE, "deactivate"),
    "ResetALCSHCALCS": (RESET, None),
}


@transforms(ECS47)
def set_auxiliary_load(uc: UseCase, given: TransformInput) -> GbcsMessage:
    for element, (action, duration) in _ECS47.items():
        found = given.request.body.find(f".//sr:{element}", NS)
        if found is None:
            continue
        n = _index(found)
        values = {SCRIPT: Data(_D.LONG_UNSIGNED, n << 8 | action)}
        if duration is not None:
            values[f"{duration}_{n}"] = Data(_D.LONG_UNSIGNED, number(found, "sr:Duration"))
        return _send(uc, given, values)
    raise TransformRefused(codes.NOT_DUIS, f"7.5, 7.6 or 7.8 carries one of {', '.join(_ECS47)}")


def _when(element: etree._Element, name: str) -> bytes:
    raw = text(element, f"sr:{name}") or ""
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise TransformRefused(
            codes.NOT_DUIS, f"{name} {raw!r} is not a date-time: give one like 2015-01-03T00:00:00Z"
        ) from None
    return dlms.date_time(when if when.tzinfo else when.replace(tzinfo=dt.UTC))


@transforms(ECS47A, ECS47E)
def set_controller_state(uc: UseCase, given: TransformInput) -> GbcsMessage:
    """7.13 (SetAuxiliaryControllerState) and 7.16 (LimitAPCLevel): the period on controller
    n's objects, then its script: mode, n, the commanded level."""
    found = given.request.body  # SetAuxiliaryControllerState or LimitAPCLevel
    n = _index(found, "auxiliaryControllerN")
    level = number(found, "sr:CommandedStateLevel")
    mode = INPUT if found.find("sr:InputFromControlledLoad", NS) is not None else OUTPUT
    values = {
        f"{START}_{n}": Data(_D.OCTET_STRING, _when(found, "StartDateTime")),
        f"{END}_{n}": Data(_D.OCTET_STRING, _when(found, "EndDateTime")),
        SCRIPT: Data(_D.LONG_UNSIGNED, mode << 12 | n << 8 | level),
    }
    return _send(uc, given, values)


# --- 6.14.2, 6.14.3: the calendar to come ---------------------------------------------------
def _special_days(days: list[etree._Element]) -> Data:
    entries = [
        Data(
            _D.STRUCTURE,
            [
                Data(_D.LONG_UNSIGNED, _index(day)),
                Data(_D.OCTET_STRING, _date(day)),
                Data(_D.UNSIGNED, _index(day)),
            ],
        )
        for day in days
    ]
    return Data(_D.ARRAY, entries)


def _entry(n: int, item: etree._Element, when: str, script: int, special_days: int) -> Data:
    """One schedule entry: at its switch time, on its days of the week and special days,
    between its start and end dates, run ``script`` of the auxiliary controllers' table."""
    weekdays = {WEEKDAYS.index(d.text or "") for d in item.iterfind(".//sr:DayOfWeekID", NS)}
    specials = {_index(d) for d in item.iterfind("sr:SpecialDaysApplicability", NS)}
    period = item.find(f"sr:{when}", NS)
    assert period is not None  # the schema requires it
    start, end = (period.find(f"sr:{name}", NS) for name in ("StartDate", "EndDate"))
    assert start is not None and end is not None
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.LONG_UNSIGNED, n),
            Data(_D.BOOLEAN, 0xFF),  # enabled
            Data(_D.OCTET_STRING, SCRIPTS.instance),
            Data(_D.LONG_UNSIGNED, script),
            Data(_D.OCTET_STRING, switch_time(text(period, "sr:SwitchTime") or "0:0:0")),
            Data(_D.LONG_UNSIGNED, 0xFFFF),  # validity window: not limited
            _bits(7, weekdays),
            _bits(special_days, {s - 1 for s in specials}),
            Data(_D.OCTET_STRING, _date(start)),
            Data(_D.OCTET_STRING, _date(end)),
        ],
    )


def _activation(body: etree._Element) -> Data:
    """At once, at the ExecutionDateTime, or never (a cancellation)."""
    raw = text(body, "sr:ExecutionDateTime")
    if raw is None:
        return Data(_D.OCTET_STRING, AT_ONCE)
    when = dt.datetime.fromisoformat(raw)
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return Data(_D.OCTET_STRING, NEVER if when >= CANCELLED_AT else dlms.date_time(when))


def _calendar_values(
    body: etree._Element, days: list[etree._Element], entries: list[Data]
) -> dict[str, Data]:
    at = _activation(body)
    return {
        "special_days": _special_days(days),
        "calendar": Data(_D.ARRAY, entries),
        "calendar_at": at,
        "special_days_at": at,
    }


@transforms(ECS46C)
def set_alcs_calendar(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    days = body.findall(".//sr:ALCSHCALCSSpecialDay", NS)
    entries = []
    for n, item in enumerate(body.iterfind(".//sr:ALCSHCALCSConnectionSchedule", NS), 1):
        switch = item.find("sr:ActivateDeactivateSwitch", NS)
        assert switch is not None  # the schema requires it
        action = 1 if switch.find("sr:ActivateSwitch", NS) is not None else 2
        script = _index(switch) << 8 | action
        entries.append(_entry(n, item, "ALCSScheduleDatesAndTime", script, len(days)))
    values = _calendar_values(body, days, entries)
    for switch in body.iterfind(".//sr:SwitchTypeAndId", NS):
        hcalcs = text(switch, "sr:HCALCS")
        eui = Eui64.parse(hcalcs).raw if hcalcs else bytes(8)
        values[f"switch_{_index(switch)}"] = Data(_D.OCTET_STRING, eui)
    return _send(uc, given, values)


@transforms(ECS46D)
def set_controller_calendar(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    days = body.findall(".//sr:AuxiliaryControllerSpecialDayDefinition", NS)
    entries = []
    for n, item in enumerate(body.iterfind(".//sr:AuxiliaryControllerSchedule", NS), 1):
        action = item.find("sr:AuxiliaryControllerAction", NS)
        assert action is not None  # the schema requires it
        mode = INPUT if action.find("sr:InputFromControlledLoad", NS) is not None else OUTPUT
        level = number(action, "sr:CommandedStateLevel")
        script = mode << 12 | _index(action, "auxiliaryControllerN") << 8 | SCHEDULED_LEVEL | level
        entries.append(
            _entry(n, item, "AuxiliaryControllerSchedulePeriodAndTime", script, len(days))
        )
    return _send(uc, given, _calendar_values(body, days, entries))
