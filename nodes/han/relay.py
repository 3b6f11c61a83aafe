"""Device-to-device GBCS on the HAN: what the CHF hands from one of its devices to another
instead of sending it up the WAN (GBCS's HAN-only messages: the PPMID's PCS01 top-up and
PCS02 emergency credit to the GSME, and the GSME's answers back to the PPMID).

A message goes to another device when its recipient has a tunnel to this hub, exactly as
a WAN command does: PUT to an awake device, queued for the sleepy GSME until it wakes and
pulls (and kept across a CHF restart with the rest of the GSME's queue). Everything else
(responses and alerts for the DCC and its users) goes up the WAN as before.
"""

from __future__ import annotations

import logging

from nodes.han.tunnel import TunnelError, TunnelServer
from nodes.radio import DeliveryError
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import GbcsMessage

log = logging.getLogger("nodes.han")


class HanRelay:
    """The CHF's routing of GBCS between the devices on its HAN."""

    def __init__(self, tunnels: TunnelServer) -> None:
        self.tunnels = tunnels
        self.relayed = 0

    async def route(self, sender: Eui64, gbcs: bytes) -> bool:
        """Hand ``gbcs`` from ``sender`` to its recipient when that is another device on
        this HAN (True); False when it is for the WAN."""
        try:
            h = GbcsMessage.decode(gbcs).header
        except DecodeError:
            return False  # the WAN side logs what is not GBCS
        recipient = Eui64(h.recipient)
        if recipient == sender or recipient not in self.tunnels.peers:
            return False
        extra = {
            "device": recipient.duis,
            "from": sender.duis,
            "kind": h.cra.name.lower(),
            "message_code": f"{h.message_code:04X}",
            "counter": h.counter,
        }
        try:
            how = await self.tunnels.send(recipient, gbcs)
        except (TunnelError, DeliveryError) as exc:
            log.warning("han.relay_failed", extra={**extra, "error": str(exc)})
            return True  # not for the WAN either: the sender hears nothing, as over the air
        self.relayed += 1
        log.info("han.relayed", extra={**extra, "how": how})
        return True
