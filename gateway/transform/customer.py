"""Transforms of the customer-facing services (DUIS family 3), laid out as RTDS 4.5.0 has them:
3.1 Display Message sets the ESME's message object to the body's SupplierMessage (ECS10)
or sends the GSME a Display Message of it (GCS07), until changed; 3.2 sets the ESME's change
of tenancy date to the RestrictionDateTime (ECS12); 3.3 resets the ESME's event log (ECS15a)
or its ALCS event log (ECS15c), as the ESMEEventLogType says, or asks the GSME to clear its
general event log (CS11); 3.4 writes the supplier's telephone number and name (ECS16) or
publishes them to the GSME as its supplier's (GCS44); 3.5 empties the privacy PIN (ECS14)
or the GSME's consumer PIN (GCS11). A GSME command's issuer event id (and GCS07's message
id) is the ZigBee time of the transform.

3.1, 3.2 and 3.4 may be future-dated by the DCC (DUIS's DSP pattern: an ExecutionDateTime):
the rig's DCC does not hold them, so such a request is refused (E17). 3.2 for gas is the
GPF's (GCS09): a Publish Change of Tenancy whose implementation time is the
RestrictionDateTime (ZigBee time), its issuer event id the DCC's time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from gateway.transform import cin
from gateway.transform.registry import (
    TransformInput,
    TransformRefused,
    immediate_only,
    transforms,
)
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.gbcs import dlms, gbz
from rig.protocol.gbcs.catalogue_customer import (
    CLEAR_BY_LOG_TYPE,
    CS11,
    ECS10,
    ECS12,
    ECS14,
    ECS15A,
    ECS15C,
    ECS16,
    ECS50,
    GCS07,
    GCS09,
    GCS11,
    GCS44,
    DisplayMessage,
    NewPassword,
    SupplierChange,
    TenancyChange,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import Argument, UseCase, command

now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731 (a test sets it)
FIRST = b"\x00"  # the index of a one-part ZclBatch's part


def _send(uc: UseCase, given: TransformInput, argument: Argument | None) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw, argument)


def _octets(value: str | bytes) -> Data:
    raw = value.encode() if isinstance(value, str) else value
    return Data(DataType.OCTET_STRING, raw)


def _issuer() -> int:
    return gbz.zigbee_time(now())


def _text(given: TransformInput, element: str) -> bytes:
    raw = (text(given.request.body, f".//sr:{element}") or "").encode()
    if len(raw) > 254:
        raise TransformRefused(
            codes.NOT_DUIS, f"{element} is {len(raw)} bytes: a meter takes at most 254"
        )
    return raw


@transforms(ECS10, GCS07)
def display_message(uc: UseCase, given: TransformInput) -> GbcsMessage:
    immediate_only(given.request.body, "3.1")
    message = _text(given, "SupplierMessage")
    if uc is GCS07:
        return _send(uc, given, (FIRST + DisplayMessage(_issuer(), message).encode(),))
    return _send(uc, given, {"message": _octets(message)})


@transforms(ECS50)
def send_cin(uc: UseCase, given: TransformInput) -> GbcsMessage:
    """9.1 to an ESME: the CIN the DCC makes up (as for a GSME's GCS36), for the meter to show."""
    return _send(uc, given, {"cin": _octets(cin.new_cin())})


def _restriction(given: TransformInput) -> dt.datetime:
    """3.2's RestrictionDateTime (UTC when it names no zone)."""
    immediate_only(given.request.body, "3.2")
    raw = text(given.request.body, ".//sr:RestrictionDateTime") or ""
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise TransformRefused(
            codes.NOT_DUIS, f"RestrictionDateTime {raw!r} is not a date-time"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


@transforms(ECS12)
def restrict_access_for_change_of_tenancy(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return _send(uc, given, {"date": _octets(dlms.date_time(_restriction(given)))})


@transforms(GCS09)
def restrict_gpf_access_for_change_of_tenancy(uc: UseCase, given: TransformInput) -> GbcsMessage:
    """3.2 to a GPF: Publish Change of Tenancy, its implementation time the restriction's."""
    when = gbz.zigbee_time(_restriction(given))
    if not 0 <= when <= 0xFFFFFFFE:
        raise TransformRefused(
            codes.NOT_DUIS, "RestrictionDateTime is outside ZigBee's time (2000 to 2136)"
        )
    change = TenancyChange(_issuer(), when)
    return _send(uc, given, (FIRST + change.encode(),))


@transforms(ECS15A, ECS15C)
def clear_esme_event_log(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    kind = text(given.request.body, ".//sr:ESMEEventLogType")
    uc = CLEAR_BY_LOG_TYPE.get(kind or "")
    if uc is None:
        raise TransformRefused(
            codes.WRONG_DEVICE_TYPE,
            "3.3 for an ESME names the log to clear: ESMEEventLogType ESME or ALCS",
        )
    return _send(uc, given, None)  # a fixed ACTION


@transforms(CS11)
def clear_gas_event_log(uc: UseCase, given: TransformInput) -> GbcsMessage:
    if given.request.body.find(".//sr:ESMEEventLogType", NS) is not None:
        raise TransformRefused(
            codes.WRONG_DEVICE_TYPE,
            "ESMEEventLogType is for an ESME: 3.3 for a GSME clears its event log, name none",
        )
    return _send(uc, given, None)  # a fixed command


@transforms(ECS16, GCS44)
def update_supplier_name(uc: UseCase, given: TransformInput) -> GbcsMessage:
    immediate_only(given.request.body, "3.4")
    name, telephone = _text(given, "SupplierName"), _text(given, "SupplierTelephoneNumber")
    if uc is GCS44:
        return _send(uc, given, (FIRST + SupplierChange(_issuer(), name, telephone).encode(),))
    return _send(uc, given, {"telephone": _octets(telephone), "name": _octets(name)})


@transforms(ECS14, GCS11)
def disable_privacy_pin(uc: UseCase, given: TransformInput) -> GbcsMessage:
    if uc is GCS11:
        return _send(uc, given, (FIRST + NewPassword(_issuer()).encode(),))
    return _send(uc, given, {"pin": _octets(b"")})
