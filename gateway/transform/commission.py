"""Transforms of commissioning and firmware activation, critical (the pre-commands the DCC
User signs), as RTDS 4.5.0 has them: 8.1.1 Commission Device into ECS70 (an ESME) or GCS28
(a GSME), the clock's validity interval from the body's CurrentDateTime and
TolerancePeriod; 11.3 Activate Firmware into CS06, the image named by its FirmwareHash, at
once or, with an ExecutionDateTime, future-dated: the date-time follows the counter, and
DUIS's cancellation date (3000-12-31T00:00:00Z, :data:`DUIS_CANCEL`) becomes GBCS's
9999-12-31T23:59:59Z, as RTDS has them."""

from __future__ import annotations

import datetime as dt

from gateway.transform.registry import (
    TransformInput,
    TransformRefused,
    number,
    transforms,
)
from rig.protocol.duis import codes
from rig.protocol.duis.xml import text
from rig.protocol.gbcs.catalogue_commission import (
    CANCEL,
    CS06,
    ECS70,
    GCS28,
    activate_firmware_payload,
    ecs70_values,
    set_clock_payload,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

DUIS_CANCEL = dt.datetime(3000, 12, 31, tzinfo=dt.UTC)  # an ExecutionDateTime that cancels


def current_date_time(given: TransformInput, element: str = "CurrentDateTime") -> dt.datetime:
    """The CurrentDateTime (or another date-time ``element``) of the body, UTC (one without
    a zone is taken as UTC)."""
    raw = text(given.request.body, f"sr:{element}") or ""
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise TransformRefused(
            codes.NOT_DUIS,
            f"{element} {raw!r} is not a date-time: give one like 2015-01-01T00:00:00Z",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _tolerance_s(given: TransformInput) -> int:
    return number(given.request.body, "sr:TolerancePeriod")


@transforms(ECS70)
def commission_esme(uc: UseCase, given: TransformInput) -> GbcsMessage:
    values = ecs70_values(current_date_time(given), _tolerance_s(given))
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


@transforms(GCS28)
def commission_gsme(uc: UseCase, given: TransformInput) -> GbcsMessage:
    payload = set_clock_payload(current_date_time(given), _tolerance_s(given))
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)


@transforms(CS06)
def activate_firmware(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    image_hash = bytes.fromhex(text(body, "sr:FirmwareHash") or "")  # the schema: 32 bytes
    execute_at = None
    if text(body, "sr:ExecutionDateTime") is not None:
        execute_at = current_date_time(given, "ExecutionDateTime")
        execute_at = CANCEL if execute_at == DUIS_CANCEL else execute_at
    payload = activate_firmware_payload(image_hash, given.counter, execute_at)
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)
