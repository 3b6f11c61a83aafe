"""What every device that joins a hub's HAN shares: its GB-HRGP tunnel to the CHF and its
GBCS end.

A device with GBCS credentials authenticates each tunnelled command and has it served from
its own tables (:mod:`nodes.gbcs`); without credentials it logs each message; with
``behaviour.loopback`` it returns each one unchanged, a HAN link test for the bench.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nodes.gbcs.cosem_server import CosemServer
from nodes.gbcs.endpoint import GbcsEndpoint
from nodes.gbcs.zcl_server import ZclServer
from nodes.han.tunnel import TunnelClient, TunnelError
from nodes.radio import DeliveryError
from nodes.roles.han import JoiningRole
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import GbcsMessage

log = logging.getLogger("nodes.han")


class TunnelledDevice(JoiningRole):
    """A device with a GB-HRGP tunnel to its CHF."""

    cosem: CosemServer | None = None  # the COSEM objects it answers DLMS use cases from
    zcl: ZclServer | None = None  # the ZCL attributes it answers GBZ use cases from
    # what each message it sends up meets first: an alert logged, and whether it goes (6.13,
    # 6.22: nodes.roles.event_logs)
    alert_gate: Callable[[bytes], bool] | None = None
    customer: Any = None  # what the supplier told its consumer (3.x: nodes.roles.customer)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        section = self.config.gbcs
        self.gbcs = (
            GbcsEndpoint(self.config.eui, self.device_type, section, self.config.state_dir)
            if section
            else None
        )
        self.behaviour = self.config.behaviour
        self.tunnel_ready = asyncio.Event()
        self._alerting: set[asyncio.Future[None]] = set()
        if self.gbcs is not None:  # a command refused for its authentication: 8F3D, 8F53
            self.gbcs.on_refused = self._on_refused

    async def on_joined(self) -> None:
        self.tunnel = TunnelClient(self.app, self.chf, self.handle_gbcs)
        await self._open_tunnel()
        await self.run()

    async def on_rejoined(self) -> None:
        """A new tunnel: the hub forgot the old one with the device."""
        self.tunnel_ready.clear()
        await self._open_tunnel()

    async def _open_tunnel(self) -> None:
        assert self.tunnel is not None
        while True:
            try:
                await self.tunnel.open()
                break
            except (TunnelError, DeliveryError, TimeoutError) as exc:
                log.warning(
                    "han.tunnel_failed", extra={"device": self.config.eui.duis, "error": str(exc)}
                )
                await asyncio.sleep(1.0)
        self.tunnel_ready.set()
        log.info(
            "han.tunnel_open",
            extra={"device": self.config.eui.duis, "tunnel": self.tunnel.tunnel_id},
        )

    async def run(self) -> None:
        """The device's life on the HAN after its tunnel is open."""

    async def send_up(self, message: bytes) -> None:
        """A GBCS message (an alert) for the CHF to send up: it waits, as a meter's alert
        queue does, while the device has not yet joined and opened its tunnel."""
        if self.alert_gate is not None and not self.alert_gate(message):
            return  # logged, not sent: its alert is disabled (6.22)
        await self.tunnel_ready.wait()
        await self.tunnel.put(message)

    async def handle_gbcs(self, message: bytes) -> bytes | None:
        if self.gbcs is not None and not self.behaviour.loopback:
            return await self.gbcs.handle(message, self)
        try:
            what = f"0x{GbcsMessage.decode(message).message_code:04X}"
        except DecodeError:
            what = "not GBCS"
        log.info(
            "han.gbcs_received",
            extra={"device": self.config.eui.duis, "bytes": len(message), "message_code": what},
        )
        return message if self.behaviour.loopback else None

    def _raise(self, code: int, recipient: Eui64 | None = None) -> Awaitable[None] | None:
        """Raise a generic alert with ``code`` to ``recipient`` (by default the responsible
        supplier): the meters say how; another device only logs it."""
        log.warning(
            "gbcs.alert_unsent",
            extra={"device": self.config.eui.duis, "alert_code": f"{code:04X}"},
        )
        return None

    def _on_refused(self, code: int) -> None:
        """The GBCS end refused a command for its authentication: the supplier hears."""
        raised = self._raise(code)
        if raised is not None:
            task = asyncio.ensure_future(raised)
            self._alerting.add(task)
            task.add_done_callback(self._alerting.discard)

    def gbcs_detail(self) -> dict[str, int] | None:
        if self.gbcs is None:
            return None
        return {"accepted": self.gbcs.accepted, "discarded": self.gbcs.discarded}

    def detail(self) -> dict[str, Any]:
        d = super().detail()
        tunnel = getattr(self, "tunnel", None)
        d["han"]["tunnel"] = (
            None if tunnel is None else {"id": tunnel.tunnel_id, "received": tunnel.received}
        )
        if self.customer is not None:
            d["customer"] = self.customer.detail()
        return d
