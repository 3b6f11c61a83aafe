"""GBCS alerts a device raises on its own (not in answer to a command): DLMS COSEM alerts
as a data-notification whose body opens with the GBCS alert code, one its use case declares;
GBZ alerts (the GSME's) with the code and time in the GBZ header.

Pure: the device passes its keys and clock; :func:`outage_restored_code` names ECS80's code
from the outage's length; :func:`alert_code` reads the code back.
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import dlms, gbz
from rig.protocol.gbcs.catalogue import SUPPLY_OUTAGE_RESTORED, SUPPLY_OUTAGE_RESTORED_LONG
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.usecase import Form, UseCase, invoke_id, protect

LONG_OUTAGE = dt.timedelta(minutes=3)  # from here on ECS80 says "Outage >= 3 minutes"


def dlms_alert(
    uc: UseCase,
    counter: int,
    device: bytes,
    recipient: bytes,
    fields: list[Data],
    device_ds: ec.EllipticCurvePrivateKey,
    device_ka: ec.EllipticCurvePrivateKey,
    recipient_ka: ec.EllipticCurvePublicKey | None = None,
    *,
    code: int | None = None,
) -> GbcsMessage:
    """The alert ``uc`` declares, its body the alert ``code`` followed by ``fields``.

    ``code`` must be one ``uc`` declares (ValueError otherwise); None raises the use
    case's default code."""
    if not uc.alert_codes or uc.form is not Form.DLMS:
        raise ValueError(f"{uc.name} is not a DLMS COSEM alert")
    code = uc.declared_code(code)
    body = Data(DataType.STRUCTURE, [Data(DataType.LONG_UNSIGNED, code), *fields])
    payload = dlms.DataNotification(invoke_id(counter), b"", body).encode()
    msg = GbcsMessage.build(Cra.ALERT, counter, device, recipient, uc.message_code, payload)
    return protect(uc, msg, device_ds, device_ka, recipient_ka)


def gbz_alert(
    uc: UseCase,
    counter: int,
    device: bytes,
    recipient: bytes,
    when: dt.datetime,
    device_ds: ec.EllipticCurvePrivateKey,
    device_ka: ec.EllipticCurvePrivateKey,
    recipient_ka: ec.EllipticCurvePublicKey | None = None,
    *,
    code: int | None = None,
) -> GbcsMessage:
    """A GBZ device's generic alert (the GSME's GCA or GNCA, RTDS NA_GCA-ZigBee and
    NA_GNCA-ZigBee): no components, the alert ``code`` (one ``uc`` declares) and the time it
    was raised (ZigBee time: UTC seconds since 2000), protected as ``uc`` declares."""
    if not uc.alert_codes:
        raise ValueError(f"{uc.name} is not an alert")
    code = uc.declared_code(code)
    payload = gbz.GbzPayload(0, [], code, gbz.zigbee_time(when)).encode()
    msg = GbcsMessage.build(Cra.ALERT, counter, device, recipient, uc.message_code, payload)
    return protect(uc, msg, device_ds, device_ka, recipient_ka)


def outage_restored_code(outage: dt.timedelta) -> int:
    """ECS80's alert code for an outage this long: 0x8F36 from :data:`LONG_OUTAGE` on,
    0x8F35 below it."""
    return SUPPLY_OUTAGE_RESTORED_LONG if outage >= LONG_OUTAGE else SUPPLY_OUTAGE_RESTORED


def outage_fields(outage_start: dt.datetime, outage_end: dt.datetime) -> list[Data]:
    """ECS80's body after the alert code: when it was raised, when the outage began and
    ended (COSEM date-times)."""
    return [
        Data(DataType.OCTET_STRING, dlms.date_time(outage_end)),
        Data(DataType.OCTET_STRING, dlms.date_time(outage_start)),
        Data(DataType.OCTET_STRING, dlms.date_time(outage_end)),
    ]


def alert_code(msg: GbcsMessage) -> int | None:
    """The GBCS alert code of a DLMS or GBZ alert, or None when it cannot be read."""
    try:
        apdu = dlms.decode(msg.payload)
    except DecodeError:
        try:
            return gbz.decode(msg.payload, alert=True).alert_code
        except DecodeError:
            return None
    return apdu.alert_code if isinstance(apdu, dlms.DataNotification) else None
