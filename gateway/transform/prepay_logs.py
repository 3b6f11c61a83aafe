"""Transforms of the ESME's prepayment reads and logs, laid out as RTDS 4.5.0 has them:
4.3 Read Instantaneous Prepay Values becomes ECS19, a protected read of the prepayment
registers naming the counter and the two parties; 4.4.5 Retrieve Billing Data Log
(Prepayment Credits) becomes ECS20d, a GET of the log of top-ups selected by the request's
ReadLogPeriod (UTC seconds since 2000, both ends included); 4.14 Read Prepayment Daily
Read Log becomes ECS21b, a protected read of the daily read log between the ReadLogPeriod's
two date-times."""

from __future__ import annotations

import datetime as dt

from gateway.transform.registry import TransformInput, TransformRefused, transforms
from rig.protocol.duis import codes
from rig.protocol.duis.xml import text
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue_prepay_logs import (
    ECS19,
    ECS20D,
    ECS21B,
    END,
    PROTECTED_READ,
    START,
    daily_log_argument,
    prepay_registers_argument,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


@transforms(ECS19)
def read_prepay_values(uc: UseCase, given: TransformInput) -> GbcsMessage:
    originator, device = given.originator.raw, given.device.raw
    argument = prepay_registers_argument(given.counter, originator, device)
    return command(uc, given.counter, originator, device, {PROTECTED_READ: argument})


def utc_seconds(when: dt.datetime) -> int:
    """A UTC date-time as GBCS counts it: seconds since 2000-01-01T00:00:00Z."""
    return int(when.timestamp()) - cosem.GBCS_EPOCH_UNIX


def read_log_period(given: TransformInput) -> tuple[dt.datetime, dt.datetime]:
    body = given.request.body
    ends = []
    for name in ("StartDateTime", "EndDateTime"):
        raw = text(body, f".//sr:ReadLogPeriod/sr:{name}")
        try:
            when = dt.datetime.fromisoformat(raw or "")
        except ValueError:
            raise TransformRefused(
                codes.NOT_DUIS,
                f"ReadLogPeriod {name} {raw!r} is not a date-time: give one like "
                "2015-01-01T00:00:00Z",
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        ends.append(when.astimezone(dt.UTC))
    return ends[0], ends[1]


@transforms(ECS20D)
def read_prepayment_credits(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    values = {
        START: Data(DataType.DOUBLE_LONG_UNSIGNED, utc_seconds(start)),
        END: Data(DataType.DOUBLE_LONG_UNSIGNED, utc_seconds(end)),
    }
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


@transforms(ECS21B)
def read_daily_log(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    originator, device = given.originator.raw, given.device.raw
    argument = daily_log_argument(
        dlms.date_time(start), dlms.date_time(end), given.counter, originator, device
    )
    return command(uc, given.counter, originator, device, {PROTECTED_READ: argument})
