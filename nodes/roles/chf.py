"""The communications hub (CHF): WAN client to the DCC, HAN coordinator and trust centre, GPF host.

Forms the HAN (extended PAN ID = its EUI), admits only devices in its device
log, opens GB-HRGP tunnels to them and moves GBCS messages with ``exchange``.
Endpoint 1 is the CHF (Basic, Time, Keep-Alive, Tunneling); endpoint 2 is the
GPF, whose Metering mirror holds what the sleepy GSME reports, for the IHD to read.

``POST /wan/drop?seconds=S[&after_command=1]`` on the node loses the WAN link for S
seconds, at once or right after the next command from the WAN is on the HAN
(``rig wan drop``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import Any

from aiohttp import web

from nodes.han.app import CHF_ENDPOINT, GPF_ENDPOINT
from nodes.han.device_log import DeviceLog
from nodes.han.relay import HanRelay
from nodes.han.tunnel import TunnelError, TunnelServer
from nodes.radio import ApsMessage, DeliveryError, NetworkSettings
from nodes.roles.base import Route
from nodes.roles.han import HanRole
from nodes.wan import WanLink
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import NOTIFICATION_SCHEME_B, TUNNEL_MESSAGE_PENDING, ZIGBEE_EPOCH
from rig.protocol.zigbee.zcl import ZclFrame

log = logging.getLogger("nodes.chf")
SEEN_COMMANDS = 4096  # recent (device, originator, counter): a WAN redelivery is dropped here
MAX_DROP_S = 3600.0  # a WAN drop asked for over HTTP lasts at most this


class CommsHub(HanRole):
    device_type = "CHF"
    router = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device_log = DeviceLog(
            self.config.state_dir / "device-log.json", self.config.han.device_log
        )
        self.tunnels = TunnelServer(
            self.app, self._sleepy, self.config.state_dir / "tunnels.json", self._from_device
        )
        self.relay = HanRelay(self.tunnels)  # device to device (PCS01 from the PPMID)
        self._seen: deque[tuple[bytes, bytes, int]] = deque(maxlen=SEEN_COMMANDS)
        self.duplicates_dropped = 0
        self.mirror: dict[str, Any] = {}
        self.mirror_updated: float | None = None
        self.app.serve(
            CHF_ENDPOINT, se.Basic.cluster_id, lambda: {"zcl_version": 3, "power_source": 1}
        )
        self.app.serve(
            CHF_ENDPOINT,
            se.Time.cluster_id,
            lambda: {"time": int(time.time()) - ZIGBEE_EPOCH, "time_status": 0x03},
        )
        self.app.serve(
            CHF_ENDPOINT,
            se.KeepAlive.cluster_id,
            lambda: {"tc_keep_alive_base": 10, "tc_keep_alive_jitter": 300},
        )
        self.app.serve(GPF_ENDPOINT, se.Metering.cluster_id, lambda: dict(self.mirror))
        self.app.reports[(GPF_ENDPOINT, se.Metering.cluster_id)] = self._on_gsme_report

    def _sleepy(self, eui: Eui64) -> bool:
        return self.device_log.device_type(eui) == "GSME"

    async def start(self) -> None:
        han, wan = self.config.han, self.config.wan
        assert wan is not None and han.network_key is not None  # NodeConfig checks a chf's
        settings = NetworkSettings(han.channel, han.pan_id, han.extended_pan_id, han.network_key)
        await self.radio.form(settings, self.device_log)
        await self.radio.permit_joining(365 * 24 * 3600)  # the device log is the gate
        self.han_state = "formed"
        self.wan = WanLink(wan, self.config.eui, self._from_wan)
        self.spawn(self.wan.run(), "wan")
        self.spawn(self._leds(), "leds")

    async def _from_wan(self, gbcs: bytes, deadline: float | None = None) -> None:
        """A GBCS command from the DCC: route it by its recipient to the device's tunnel,
        unless it comes after the DCC's deadline (the DCC has reported it failed)."""
        try:
            h = GbcsMessage.decode(gbcs).header
        except DecodeError as exc:
            log.warning("wan.not_gbcs", extra={"device": self.config.eui.duis, "error": str(exc)})
            return
        device, originator = Eui64(h.recipient), Eui64(h.originator)
        key = (h.recipient, h.originator, h.counter)
        if key in self._seen:
            self.duplicates_dropped += 1
            log.warning(
                "wan.duplicate_dropped",
                extra={"device": device.duis, "originator": originator.duis, "counter": h.counter},
            )
            return
        if deadline is not None and time.time() > deadline:
            log.warning(
                "wan.expired_dropped",
                extra={
                    "device": device.duis,
                    "counter": h.counter,
                    "late_s": round(time.time() - deadline, 1),
                },
            )
            return
        self.wan.trace("hub.received", device, originator, h.counter)
        try:
            how = await self.tunnels.send(device, gbcs)
        except (TunnelError, DeliveryError) as exc:
            log.warning("han.route_failed", extra={"device": device.duis, "error": str(exc)})
            return  # not seen: the DCC's re-delivery is forwarded
        self._seen.append(key)  # forwarded: a re-delivered copy stops here
        self.wan.trace(f"han.{how}", device, originator, h.counter)
        self.wan.command_forwarded()  # a drop armed for after a command happens now

    async def _from_device(self, device: Eui64, gbcs: bytes) -> None:
        """A device's response or alert: up to the DCC as it is (unless it is for another
        device on the HAN)."""
        if await self.relay.route(device, gbcs):
            return
        try:
            h = GbcsMessage.decode(gbcs).header
        except DecodeError as exc:
            log.warning("han.not_gbcs", extra={"device": device.duis, "error": str(exc)})
            return
        if h.cra is Cra.RESPONSE:
            self.wan.trace("hub.response", device, Eui64(h.recipient), h.counter)
        self.wan.send_up(gbcs)
        log.info(
            "wan.up",
            extra={"device": device.duis, "kind": h.cra.name.lower(), "counter": h.counter},
        )

    async def _leds(self) -> None:
        while True:
            self.wiring.set("led.wan", self.wan.connected)
            self.wiring.set("led.han", self.han_state == "formed")
            await asyncio.sleep(0.5)

    async def _on_gsme_report(self, msg: ApsMessage, frame: ZclFrame) -> None:
        """The GSME's wake-up report: mirror it, and tell it whether GBCS waits in the tunnel."""
        self.mirror.update(zcl.attribute_values(msg.cluster, frame))
        self.mirror_updated = time.time()
        flags = TUNNEL_MESSAGE_PENDING if self.tunnels.pending(msg.peer) else 0
        body = zcl.command(
            se.Metering.cluster_id,
            "mirror_report_attribute_response",
            frame.tsn,
            notification_scheme=NOTIFICATION_SCHEME_B,
            notification_flags=[flags, 0, 0, 0, 0],
        )
        await self.app.reply(msg, body)

    async def exchange(self, device: Eui64, gbcs: bytes, timeout: float = 30.0) -> bytes:
        """The WAN side's HAN service: GBCS to ``device``, and what it sends back."""
        return await self.tunnels.exchange(device, gbcs, timeout)

    def routes(self) -> list[Route]:
        return [("POST", "/wan/drop", self._drop)]

    async def _drop(self, request: web.Request) -> web.Response:
        """Lose the WAN link for ``seconds``, now or (``after_command=1``) right after the
        next command from the WAN is forwarded onto the HAN."""
        link: WanLink | None = getattr(self, "wan", None)
        if link is None:
            return web.json_response(
                {"error": "the hub's WAN link has not started yet; try again in a few seconds"},
                status=503,
            )
        try:
            seconds = float(request.query.get("seconds", ""))
        except ValueError:
            seconds = math.nan
        if not 0 < seconds <= MAX_DROP_S:  # also refuses nan
            return web.json_response(
                {"error": f"give ?seconds=S, more than 0 and at most {MAX_DROP_S:g}"}, status=400
            )
        after = request.query.get("after_command", "0").lower() in ("1", "true", "yes")
        dropped = None
        if after:
            link.drop_after_command(seconds)
        else:
            dropped = link.drop(seconds)
        return web.json_response(
            {
                "hub": self.config.eui.duis,
                "seconds": seconds,
                "after_command": after,
                # at once: whether a live session was cut (False: the link was down already)
                "dropped": dropped,
            }
        )

    def checks(self) -> dict[str, str]:
        return {**super().checks(), "wan": self.wan.check()}

    def detail(self) -> dict[str, Any]:
        d = super().detail()
        d["han"].update(
            device_log=self.device_log.summary(),
            refused=self.device_log.refused[-10:],
            tunnels={
                e.duis: {"id": p.tunnel_id, "queued": len(p.outbox)}
                for e, p in self.tunnels.peers.items()
            },
            gpf_mirror={
                "values": {k: int(v) for k, v in self.mirror.items()},
                "updated": self.mirror_updated,
            },
        )
        return {
            **d,
            "gpf": self.config.gpf_eui.duis if self.config.gpf_eui else None,
            "wan_commands_received": self.wan.commands_received,
            "wan_duplicates_dropped": self.duplicates_dropped,
            "wan_drops": self.wan.drops,
            "wan_drop_armed_s": self.wan.drop_armed,
        }
