"""The devices that join a hub's HAN: ESME, GSME, IHD and PPMID.

ESME: a router serving live Metering (registers advancing with the configured
load), Prepayment and Price; its load switch is a gpiozero output. GSME: a sleepy
end device that wakes on a schedule, reports to the GPF mirror and pulls queued
GBCS with GET. IHD and PPMID read consumption, cost and balance locally (ESME
direct, gas from the GPF mirror) and show them (log lines; the dashboard later).
Until GBCS processing arrives, a device logs each tunnelled message; with
``han.loopback`` it returns the message unchanged, a HAN link test for the bench.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from nodes.han.app import DEVICE_ENDPOINT, GPF_ENDPOINT
from nodes.han.tunnel import TunnelClient, TunnelError
from nodes.radio import DeliveryError
from nodes.roles.han import JoiningRole
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import TUNNEL_MESSAGE_PENDING

log = logging.getLogger("nodes.han")
KWH_UNIT, M3_UNIT = 0x00, 0x01


class TunnelledDevice(JoiningRole):
    """A device with a GB-HRGP tunnel to its CHF."""

    async def on_joined(self) -> None:
        assert self.config.hub_eui is not None
        self.tunnel = TunnelClient(self.app, self.chf, self.handle_gbcs)
        while True:
            try:
                await self.tunnel.open()
                break
            except (TunnelError, DeliveryError, TimeoutError) as exc:
                log.warning(
                    "han.tunnel_failed", extra={"device": self.config.eui.duis, "error": str(exc)}
                )
                await asyncio.sleep(1.0)
        log.info(
            "han.tunnel_open",
            extra={"device": self.config.eui.duis, "tunnel": self.tunnel.tunnel_id},
        )
        await self.run()

    async def run(self) -> None:
        """The device's life on the HAN after its tunnel is open."""

    async def handle_gbcs(self, message: bytes) -> bytes | None:
        try:
            what = f"0x{GbcsMessage.decode(message).message_code:04X}"
        except DecodeError:
            what = "not GBCS"
        log.info(
            "han.gbcs_received",
            extra={"device": self.config.eui.duis, "bytes": len(message), "message_code": what},
        )
        return message if self.config.han.get("loopback") else None

    def detail(self) -> dict[str, Any]:
        d = super().detail()
        tunnel = getattr(self, "tunnel", None)
        d["han"]["tunnel"] = (
            None if tunnel is None else {"id": tunnel.tunnel_id, "received": tunnel.received}
        )
        return d


class ElectricityMeter(TunnelledDevice):
    device_type = "ESME"
    router = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load_w = float(self.config.han.get("load_w", 500))
        self._wh = float(self.config.han.get("initial_wh", 12_345_000))
        self._at = time.monotonic()
        self.app.serve(
            DEVICE_ENDPOINT, se.Basic.cluster_id, lambda: {"zcl_version": 3, "power_source": 1}
        )
        self.app.serve(DEVICE_ENDPOINT, se.Metering.cluster_id, self.metering)
        self.app.serve(
            DEVICE_ENDPOINT,
            se.Prepayment.cluster_id,
            lambda: {"credit_remaining": 2_000, "credit_status": 0x01},
        )
        self.app.serve(
            DEVICE_ENDPOINT,
            se.Price.cluster_id,
            lambda: {"tier1_block1_price": 2_850, "standing_charge": 4_500, "commodity_type": 0},
        )

    async def start(self) -> None:
        self.wiring.set("relay", True)  # load switch closed: supply enabled
        self.wiring.set("led.supply", True)
        await super().start()

    @property
    def supply_on(self) -> bool:
        relay = self.wiring.output("relay")
        return True if relay is None else bool(relay.value)

    def metering(self) -> dict[str, Any]:
        now = time.monotonic()
        demand = self.load_w if self.supply_on else 0.0
        self._wh += demand * (now - self._at) / 3600
        self._at = now
        return {
            "current_summ_delivered": int(self._wh),
            "instantaneous_demand": int(demand),
            "unit_of_measure": KWH_UNIT,
            "multiplier": 1,
            "divisor": 1000,
            "metering_device_type": 0,  # electric metering
            "supply_status": 2 if self.supply_on else 0,
        }

    def detail(self) -> dict[str, Any]:
        relay = self.wiring.output("relay")
        supply = None if relay is None else ("enabled" if relay.value else "disabled")
        return {**super().detail(), "supply": supply, "import_wh": int(self._wh)}


class GasMeter(TunnelledDevice):
    device_type = "GSME"
    router = False
    rx_on_when_idle = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wake_every = float(self.config.han.get("wake_interval_s", 10))
        self.flow_m3h = float(self.config.han.get("flow_m3h", 0.3))
        self._dm3 = float(self.config.han.get("initial_dm3", 4_321_000))
        self._at = time.monotonic()
        self.wakes = 0
        self.pulled = 0
        self.last_wake: float | None = None

    async def start(self) -> None:
        self.wiring.set("valve", True)  # valve open: supply enabled
        self.wiring.set("led.valve", True)
        await super().start()

    async def on_joined(self) -> None:
        await self.radio.wake()  # awake (polling) until its tunnel is open
        await super().on_joined()

    async def run(self) -> None:
        while True:
            await self.radio.sleep()
            await asyncio.sleep(self.wake_every)
            await self.wake_cycle()

    async def wake_cycle(self) -> None:
        """Wake: report to the GPF mirror; pull GBCS while the CHF has some; sleep again."""
        await self.radio.wake()
        self.wakes += 1
        self.last_wake = time.time()
        try:
            now = time.monotonic()
            self._dm3 += self.flow_m3h * 1000 * (now - self._at) / 3600
            self._at = now
            tsn = self.app.next_tsn()
            report = zcl.report_attributes(
                se.Metering.cluster_id,
                tsn,
                {
                    "current_summ_delivered": int(self._dm3),
                    "unit_of_measure": M3_UNIT,
                    "divisor": 1000,
                    "metering_device_type": 0x80 | 1,
                },
            )
            answer = await self.app.request(
                self.chf, se.Metering.cluster_id, report, tsn, dst_ep=GPF_ENDPOINT
            )
            flags = (
                int(answer.field("notification_flags")[0])
                if answer and answer.name == "mirror_report_attribute_response"
                else 0
            )
            if flags & TUNNEL_MESSAGE_PENDING:
                got = await self.tunnel.pull()
                self.pulled += got
                log.info(
                    "han.gbcs_pull_done", extra={"device": self.config.eui.duis, "messages": got}
                )
        except (DeliveryError, TimeoutError, TunnelError) as exc:
            log.warning(
                "han.wake_failed", extra={"device": self.config.eui.duis, "error": str(exc)}
            )

    def detail(self) -> dict[str, Any]:
        valve = self.wiring.output("valve")
        state = None if valve is None else ("open" if valve.value else "closed")
        return {
            **super().detail(),
            "valve": state,
            "wakes": self.wakes,
            "pulled": self.pulled,
            "last_wake": self.last_wake,
            "volume_dm3": int(self._dm3),
        }


class LocalDisplay(TunnelledDevice):
    """IHD and PPMID: read the meters on the HAN and show what they read."""

    router = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.every = float(self.config.han.get("display_interval_s", 5))
        self.shown: dict[str, Any] = {}

    async def run(self) -> None:
        peers = self.config.han.get("peers", {})
        esme = Eui64.parse(peers["esme"]) if peers.get("esme") else None
        while True:
            shown: dict[str, Any] = {}
            try:
                if esme is not None:
                    m = await self.app.read(
                        esme,
                        se.Metering.cluster_id,
                        ["current_summ_delivered", "instantaneous_demand"],
                    )
                    p = await self.app.read(esme, se.Prepayment.cluster_id, ["credit_remaining"])
                    c = await self.app.read(esme, se.Price.cluster_id, ["tier1_block1_price"])
                    shown.update(
                        electricity_kwh=m.get("current_summ_delivered", 0) / 1000,
                        demand_w=m.get("instantaneous_demand"),
                        credit_pence=p.get("credit_remaining"),
                        price_pence_per_kwh=c.get("tier1_block1_price", 0) / 100,
                    )
                gas = await self.app.read(
                    self.chf,
                    se.Metering.cluster_id,
                    ["current_summ_delivered"],
                    dst_ep=GPF_ENDPOINT,
                )
                if "current_summ_delivered" in gas:
                    shown["gas_m3"] = gas["current_summ_delivered"] / 1000
                self.shown = {**shown, "at": time.time()}
                log.info(
                    f"{self.config.role}.display",
                    extra={
                        "device": self.config.eui.duis,
                        **{k: v for k, v in shown.items() if v is not None},
                    },
                )
            except (DeliveryError, TimeoutError, DecodeError) as exc:
                log.warning(
                    f"{self.config.role}.read_failed",
                    extra={"device": self.config.eui.duis, "error": str(exc)},
                )
            await asyncio.sleep(self.every)

    def detail(self) -> dict[str, Any]:
        return {**super().detail(), "display": self.shown}


class InHomeDisplay(LocalDisplay):
    device_type = "IHD"


class PrepaymentInterface(LocalDisplay):
    device_type = "PPMID"
