"""Transforms of the join service (8.7.x CS03*), unjoin (8.8.x CS04*) and 8.9 CS07; issue 16.

As RTDS 4.5.0 has them: the body names the other device (OtherDeviceID); the DCC adds the
joinMethodAndRole of the use case, the other device's type from its inventory and, for
Method C (CS03C), the other device's KA certificate from SMKI. An other device the inventory
does not hold is refused (E19), one of a type a join cannot name E11, a Method C join
without the other's KA certificate in SMKI E5. CS07 (8.9 to a meter or a PPMID) is a NULL.
"""

from __future__ import annotations

from gateway.transform.registry import TransformInput, TransformRefused, transforms
from rig.protocol.duis import codes
from rig.protocol.duis.xml import text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_join import (
    CS03C,
    CS07,
    JOIN_DEVICE_TYPE,
    JOINS,
    METHOD_OF,
    READ_JOIN_DETAILS,
    UNJOINS,
    join_payload,
    unjoin_payload,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


def other_device(given: TransformInput) -> Eui64:
    """The body's OtherDeviceID (the schema checked it is an EUI-64)."""
    raw = text(given.request.body, "sr:OtherDeviceID") or ""
    try:
        return Eui64.parse(raw)
    except ValueError:
        raise TransformRefused(
            codes.NOT_DUIS, f"OtherDeviceID {raw!r} is not an EUI-64: write one like 00-DB-12-…"
        ) from None


@transforms(*JOINS)
def join_service(uc: UseCase, given: TransformInput) -> GbcsMessage:
    other = other_device(given)
    peer = given.peer(other)
    if peer.device_type is None:
        raise TransformRefused(
            codes.DEVICE_UNKNOWN,
            f"OtherDeviceID {other.duis} is not in the inventory: pre-notify it (12.2) first",
        )
    kind = JOIN_DEVICE_TYPE.get(peer.device_type)
    if kind is None:
        raise TransformRefused(
            codes.WRONG_DEVICE_TYPE, f"a {peer.device_type} is not joined by the join service"
        )
    certificate = None
    if uc is CS03C:
        certificate = peer.ka_certificate
        if certificate is None:
            raise TransformRefused(
                codes.DEVICE_STATUS,
                f"Method C needs {other.duis}'s KA certificate, which SMKI does not hold: "
                "pre-notify the device (12.2) with its certificates",
            )
    payload = join_payload(METHOD_OF[uc.name], other.raw, kind, certificate)
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)


@transforms(*UNJOINS)
def unjoin_service(uc: UseCase, given: TransformInput) -> GbcsMessage:
    payload = unjoin_payload(other_device(given).raw)
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)


@transforms(CS07)
def read_device_join_details(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw, READ_JOIN_DETAILS)
