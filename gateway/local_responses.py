"""8.13 Return Local Command Response: a User hands the DCC a device's answer it got locally
(a command delivered by hand-held terminal instead of over the WAN).

The DCC checks what it can of it: DeviceGBCSResponse is a GBCS response (CRA 2); the
device that answered is in the inventory and the answer is addressed to the sender; the
OriginalRequestID, when given, is the sender's request to that device with the answer's
counter. A good one is answered I0 and recorded with the request (the rig's trace shows
it); a bad one is refused (E100 not a GBCS response or not matching; E19 a device the
DCC does not hold; E4 an answer addressed to another party), changing nothing.
"""

from __future__ import annotations

import base64
import binascii
import logging

from gateway.dcc_services import DccState, ServiceRefused, dcc_service
from rig.protocol.codec import DecodeError
from rig.protocol.duis import codes
from rig.protocol.duis.message import DuisError, Request, RequestId
from rig.protocol.duis.xml import text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import Cra, GbcsMessage

log = logging.getLogger("gateway.local_responses")


@dcc_service("8.13")
def return_local_command_response(request: Request, dcc: DccState) -> None:
    raw = "".join((text(request.body, "sr:DeviceGBCSResponse") or "").split())
    try:
        answer = GbcsMessage.decode(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError, DecodeError) as exc:
        raise ServiceRefused(codes.NOT_DUIS, f"DeviceGBCSResponse is not GBCS: {exc}") from None
    h = answer.header
    if h.cra != Cra.RESPONSE:
        raise ServiceRefused(
            codes.NOT_DUIS, f"DeviceGBCSResponse is a {Cra(h.cra).name.lower()}, not a response"
        )
    device, sender = Eui64(h.originator), request.request_id.originator
    if dcc.devices.get(device) is None:
        raise ServiceRefused(codes.DEVICE_UNKNOWN, f"device {device.duis} is not in the inventory")
    if Eui64(h.recipient) != sender:
        raise ServiceRefused(
            codes.NOT_AUTHORISED_FOR_DEVICE,
            f"the response is addressed to {Eui64(h.recipient).duis}, not to {sender.duis}",
        )
    original = text(request.body, "sr:OriginalRequestID")
    if original is not None:
        try:
            rid = RequestId.parse(original)
        except DuisError as exc:
            raise ServiceRefused(codes.NOT_DUIS, f"OriginalRequestID: {exc}") from None
        if (rid.originator, rid.target, rid.counter) != (sender, device, h.counter):
            raise ServiceRefused(
                codes.NOT_DUIS,
                f"OriginalRequestID {original} is not {sender.duis}'s request to "
                f"{device.duis} with the response's counter {h.counter}",
            )
    log.info(
        "local_response.returned",
        extra={
            "device": device.duis,
            "message_code": f"{h.message_code:04X}",
            "request_id": original,
            "user": sender.duis,
        },
    )
