"""The DCC User's readers of the GSME's prepayment configuration (issue 15), registered with
:func:`rig.dccuser.readers.reads`: GCS04 (2.3 Update Debt), a Default Response per debt
register; GCS05 (2.1 Update Prepay Configuration), a Default Response per command (the
four Prepayment ones, then the calendar's Publish ones); GCS14 (4.3), the currency in
clear and the prepayment registers decrypted; GCS21b (4.13), the prepayment configuration
and the non-disablement calendar the Gets read back (or their statuses)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas import (
    CALENDAR,
    EMERGENCY_CREDIT_SETUP,
    GCS04,
    GCS05,
    GCS14,
    GCS21B,
    PUBLISH_CALENDAR,
    PUBLISH_DAY_PROFILE,
    PUBLISH_SEASONS,
    PUBLISH_SPECIAL_DAYS,
    PUBLISH_WEEK_PROFILE,
    SET_LOW_CREDIT_WARNING_LEVEL,
    SET_MAXIMUM_CREDIT_LIMIT,
    SET_OVERALL_DEBT_CAP,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import ReadError
from rig.protocol.gbcs.usecase import UseCase, ZclRead, ZclReads, ZclSequence

DEBT_REGISTERS = ("time_debt_1", "time_debt_2", "payment_debt")  # GCS04's components, in order
# GCS05's commands, by cluster and command, as its statuses name them
CONFIGURATION_COMMANDS = {
    (gbz.PREPAYMENT, EMERGENCY_CREDIT_SETUP): "emergency_credit_setup",
    (gbz.PREPAYMENT, SET_OVERALL_DEBT_CAP): "overall_debt_cap",
    (gbz.PREPAYMENT, SET_LOW_CREDIT_WARNING_LEVEL): "low_credit_warning_level",
    (gbz.PREPAYMENT, SET_MAXIMUM_CREDIT_LIMIT): "maximum_credit_limit",
    (CALENDAR, PUBLISH_CALENDAR): "calendar",
    (CALENDAR, PUBLISH_DAY_PROFILE): "day_profile",
    (CALENDAR, PUBLISH_WEEK_PROFILE): "week_profile",
    (CALENDAR, PUBLISH_SEASONS): "seasons",
    (CALENDAR, PUBLISH_SPECIAL_DAYS): "special_days",
}


@reads(GCS04)
def gas_debt(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """Each debt register's ZCL status (0 applied, 0x85 INVALID_FIELD...); ``result`` 0 when
    all three were applied, else the first status that is not."""
    components = gbz.decode(msg.payload).components
    if len(components) != len(DEBT_REGISTERS):
        raise DecodeError(f"GCS04 answers {len(DEBT_REGISTERS)} Default Responses", 0)
    statuses = {
        register: gbz.parse_default_response(component.payload)[1]
        for register, component in zip(DEBT_REGISTERS, components, strict=True)
    }
    failed = [s for s in statuses.values() if s != gbz.ZCL_SUCCESS]
    return {"result": failed[0] if failed else 0, "statuses": statuses}


@reads(GCS05)
def gas_prepay_update(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """Each command's ZCL status, named by what it sets (the day and week profiles listed in
    order); ``result`` 0 when all were applied, else the first status that is not."""
    statuses: dict[str, Any] = {}
    for component in gbz.decode(msg.payload).components:
        if component.zcl.command != gbz.DEFAULT_RESPONSE:
            raise DecodeError("GCS05 answers a Default Response per command", 0)
        command, status = gbz.parse_default_response(component.payload)
        name = CONFIGURATION_COMMANDS.get((component.cluster, command), f"{command:02X}")
        if name in ("day_profile", "week_profile"):
            statuses.setdefault(f"{name}s", []).append(status)
        else:
            statuses[name] = status
    flat = [s for v in statuses.values() for s in (v if isinstance(v, list) else [v])]
    failed = [s for s in flat if s != gbz.ZCL_SUCCESS]
    return {"result": failed[0] if failed else 0, "statuses": statuses}


@reads(GCS14)
def gas_prepay_values(uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    """The Price cluster's currency and trailing digit, and the prepayment registers (in
    millipence: credit remaining, emergency credit, accumulated debt, debt amounts 1-3,
    the debt registers time debt 1, 2 and payment debt); ``result`` 0 when all were read."""
    assert isinstance(uc.request, ZclReads)
    price, prepayment = uc.request.reads
    components = gbz.decode(msg.payload).components
    if len(components) != 2 or components[1].encrypted is None:
        raise DecodeError("GCS14 answers the Price cluster, then the Prepayment one encrypted", 0)
    if keys.user_ka is None or keys.device_ka is None:
        raise ReadError("encrypted values need the user's KA key and the device's KA cert")
    key = security.encryption_key(msg, keys.user_ka, keys.device_ka)
    records = security.unprotect(key, msg.header.originator, components[1].encrypted.blob)
    values = {
        **gbz.parse_read_records(components[0].payload, price.attributes),
        **gbz.parse_read_records(records, prepayment.attributes),
    }
    wanted = len(price.attributes) + len(prepayment.attributes)
    return {"result": 0 if len(values) == wanted else gbz.ZCL_UNSUPPORTED_ATTRIBUTE, **values}


def _zcl_date(data: bytes) -> str:
    """A ZCL date (year - 1900, month, day, day of week) as "2014-10-27", "*" a wildcard
    (and "/n" the day of the week, when specified)."""
    year, month, day, weekday = data
    parts = [str(1900 + year) if year != 0xFF else "*"]
    parts += [f"{v:02d}" if v != 0xFF else "*" for v in (month, day)]
    return "-".join(parts) + (f"/{weekday}" if weekday != 0xFF else "")


def _entries(data: bytes, size: int) -> list[bytes]:
    if len(data) % size:
        raise DecodeError(f"calendar entries of {size} bytes each", 0)
    return [data[n : n + size] for n in range(0, len(data), size)]


def read_back(command: int, payload: bytes, calendar: dict[str, Any]) -> None:
    """One Publish command read back into ``calendar``: day profiles (each switch's minutes
    after midnight and whether friendly credit starts), week profiles (the day of each
    weekday, Monday first), seasons and special days (a date and its week or day)."""
    if len(payload) < 14:
        raise DecodeError("a Publish command too short for the calendar it reads back", 0)
    if command == PUBLISH_DAY_PROFILE:
        switches = [
            [int.from_bytes(e[:2], "little"), bool(e[2])] for e in _entries(payload[17:], 3)
        ]
        calendar.setdefault("day_profiles", {})[payload[12]] = switches
    elif command == PUBLISH_WEEK_PROFILE:
        calendar.setdefault("week_profiles", {})[payload[12]] = list(payload[13:20])
    elif command == PUBLISH_SEASONS:
        seasons = [[_zcl_date(e[:4]), e[4]] for e in _entries(payload[14:], 5)]
        calendar["seasons"] = seasons
    elif command == PUBLISH_SPECIAL_DAYS:
        days = [[_zcl_date(e[:4]), e[4]] for e in _entries(payload[20:], 5)]
        calendar["special_days"] = days


@reads(GCS21B)
def gas_prepay_configuration(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The prepayment configuration (amounts in millipence) and the trailing digit; the
    non-disablement calendar's Gets as ``calendar`` statuses (0x8B: the meter has none; 0:
    read back) and what they read back as ``non_disablement_calendar``; ``result`` 0 when
    every attribute was read."""
    assert isinstance(uc.request, ZclSequence)
    parts = uc.request.parts
    values: dict[str, Any] = {}
    calendar: dict[str, int] = {}
    published: dict[str, Any] = {}
    wanted = sum(len(p.attributes) for p in parts if isinstance(p, ZclRead))
    for component in gbz.decode(msg.payload).components:
        sequence = component.zcl.sequence  # the part it answers (one or more components)
        if sequence >= len(parts):
            raise DecodeError(f"GCS21b answers its {len(parts)} parts, not part {sequence}", 0)
        part = parts[sequence]
        if isinstance(part, ZclRead):
            if component.zcl.command == gbz.READ_ATTRIBUTES_RESPONSE:
                values.update(gbz.parse_read_records(component.payload, part.attributes))
        elif component.zcl.command == gbz.DEFAULT_RESPONSE and not component.zcl.cluster_specific:
            command, status = gbz.parse_default_response(component.payload)
            calendar[f"{command:02X}"] = status
        else:
            calendar[f"{part.command:02X}"] = gbz.ZCL_SUCCESS
            read_back(component.zcl.command, component.payload, published)
    result = 0 if len(values) == wanted else gbz.ZCL_UNSUPPORTED_ATTRIBUTE
    return {"result": result, **values, "calendar": calendar, "non_disablement_calendar": published}
