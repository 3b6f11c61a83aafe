"""Reading a device's response or alert as its recipient: authenticate it (MAC or
signature), then decode what its use case carries, decrypting what GBCS encrypts.

Pure building blocks for the DCC User's readers (``rig.dccuser.readers``), one per kind
of answer: the access-response of a DLMS use case, the values of a protected read, the
attributes of a GBZ read, the fields of a DLMS alert.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.codec import DecodeError, Reader
from rig.protocol.gbcs import cosem, dlms, gbz, security
from rig.protocol.gbcs.dlms import AccessResponse, Data
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, ZclRead


class ReadError(ValueError):
    """A response the DCC User cannot authenticate or read."""


def authenticate(
    msg: GbcsMessage,
    user_ka: ec.EllipticCurvePrivateKey | None,
    device_ka: ec.EllipticCurvePublicKey | None,
    device_ds: ec.EllipticCurvePublicKey | None,
) -> str:
    """``"mac"`` or ``"signature"``: how the message proved where it came from; or
    ``"encryption"`` for a response to an unknown remote party, whose MAC is for the ACB:
    its party trusts what the GCM tag of the values encrypted for it proves (the reader
    decrypts them, or fails); ``"acb"`` for the answer to a command the ACB originated for
    the user (the CHF's, naming the user without a counter of the device's): its MAC is
    the ACB's to check, and the user trusts the DCC that delivered it."""
    other = msg.header.other
    try:
        if msg.mac is not None and other.originator_counter is not None:
            return "encryption"
        if msg.mac is not None and other.remote_party_id is not None and msg.kind == "response":
            return "acb"  # the answer to the ACB's command for the User (the CHF's): the ACB's MAC
        if msg.mac is not None:
            if user_ka is None or device_ka is None:
                raise ReadError("a MAC'd message needs the user's KA key and the device's KA cert")
            security.verify_mac(msg, user_ka, device_ka)
            return "mac"
        if msg.signature is not None:
            if device_ds is None:
                raise ReadError("a signed message needs the device's DS certificate")
            security.verify_signature(msg, device_ds)
            return "signature"
    except security.SecurityError as exc:
        raise ReadError(str(exc)) from None
    raise ReadError("the message is neither MAC'd nor signed")


def header(uc: UseCase, msg: GbcsMessage) -> dict[str, Any]:
    """What the grouping header says: use case, kind, counter, the device's date-time."""
    out: dict[str, Any] = {
        "use_case": uc.name,
        "message_code": f"{uc.message_code:04X}",
        "kind": msg.kind,
        "counter": msg.header.counter,
    }
    if msg.header.date_time:
        when = dlms.parse_date_time(msg.header.date_time)
        out["device_time"] = when.isoformat() if when else msg.header.date_time.hex()
    return out


def access_response(msg: GbcsMessage) -> AccessResponse:
    apdu = dlms.decode(msg.payload)
    if not isinstance(apdu, AccessResponse):
        raise DecodeError("expected an access-response", 0)
    return apdu


def protected_values(
    msg: GbcsMessage,
    user_ka: ec.EllipticCurvePrivateKey | None,
    device_ka: ec.EllipticCurvePublicKey | None,
) -> list[Data]:
    """The values of a protected read's answer, decrypted: one Data per object read."""
    if user_ka is None or device_ka is None:
        raise ReadError("encrypted values need the user's KA key and the device's KA cert")
    answer = access_response(msg).data[0]
    key = security.encryption_key(msg, user_ka, device_ka)
    plain = security.unprotect(key, msg.header.originator, cosem.protected_blob(answer))
    values = Data.decode(Reader(plain))
    return list(values.value)


def zcl_values(
    uc: UseCase,
    msg: GbcsMessage,
    user_ka: ec.EllipticCurvePrivateKey | None,
    device_ka: ec.EllipticCurvePublicKey | None,
) -> dict[str, int]:
    """The attributes a GBZ read returned, by name (decrypted where the use case encrypts)."""
    if not isinstance(uc.request, ZclRead):
        raise ReadError(f"{uc.name} is not a ZCL read")
    component = gbz.decode(msg.payload).components[0]
    if uc.encrypted:
        if component.encrypted is None:
            raise DecodeError(f"{uc.name} response values are not encrypted", 0)
        if user_ka is None or device_ka is None:
            raise ReadError("encrypted values need the user's KA key and the device's KA cert")
        key = security.encryption_key(msg, user_ka, device_ka)
        records = security.unprotect(key, msg.header.originator, component.encrypted.blob)
    else:
        records = component.payload
    return gbz.parse_read_records(records, uc.request.attributes)


def alert_fields(msg: GbcsMessage) -> dict[str, Any]:
    """An alert's code and, where its body holds them, its date-times (ISO 8601): a DLMS
    alert's (the ESME's), or a GBZ alert's (the GSME's: its time, and a future-dated
    execution alert's command, 8F66/8F67)."""
    if msg.payload[:2] == gbz.PROFILE_ID.to_bytes(2, "big"):
        return _gbz_alert_fields(msg)
    apdu = dlms.decode(msg.payload)
    if not isinstance(apdu, dlms.DataNotification) or apdu.alert_code is None:
        raise DecodeError("expected a DLMS alert (a data-notification with an alert code)", 0)
    out: dict[str, Any] = {"alert_code": f"{apdu.alert_code:04X}"}
    times = [
        dlms.parse_date_time(f.value) if isinstance(f.value, bytes) else None
        for f in apdu.body.value[1:]
    ]
    if times and all(t is not None for t in times):
        out["times"] = [t.isoformat() for t in times if t is not None]
    return out


def _gbz_alert_fields(msg: GbcsMessage) -> dict[str, Any]:
    payload = gbz.decode(msg.payload, alert=True)
    if payload.alert_code is None:
        raise DecodeError("expected a GBZ alert (a GBZ payload with an alert code)", 0)
    out: dict[str, Any] = {"alert_code": f"{payload.alert_code:04X}"}
    if payload.alert_time:
        out["times"] = [gbz.from_zigbee_time(payload.alert_time).isoformat()]
    if payload.future_dated is not None:
        out["future_dated"] = payload.to_json()["future_dated"]
    return out
