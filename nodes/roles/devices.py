"""The devices that join a hub's HAN: ESME, GSME, IHD and PPMID.

ESME: a router serving live Metering (registers advancing with the configured
load), Prepayment and Price; its load switch is a gpiozero output. GSME: a sleepy
end device that wakes on a schedule, reports to the GPF mirror and pulls queued
GBCS with GET. IHD and PPMID read consumption, cost and balance locally (ESME
direct, gas from the GPF mirror) and show them (log lines; the dashboard later).
A meter with GBCS credentials authenticates each tunnelled command and answers it
(:mod:`nodes.roles.gbcs_device`); the ESME's load switch state, registers and the time it
was last alive survive a power cut, and when power comes back it raises the ECS80
"supply outage restored" alert. Without credentials a device logs each message; with
``han.loopback`` it returns it unchanged, a HAN link test for the bench.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from nodes.han.app import DEVICE_ENDPOINT, GPF_ENDPOINT
from nodes.han.tunnel import TunnelClient, TunnelError
from nodes.radio import DeliveryError
from nodes.roles.gbcs_device import GbcsEndpoint
from nodes.roles.han import JoiningRole
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import usecases
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecases import SupplyState
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import TUNNEL_MESSAGE_PENDING
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
KWH_UNIT, M3_UNIT = 0x00, 0x01


class TunnelledDevice(JoiningRole):
    """A device with a GB-HRGP tunnel to its CHF."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        section = self.config.gbcs
        self.gbcs = (
            GbcsEndpoint(self.config.eui, self.device_type, section, self.config.state_dir)
            if section
            else None
        )
        self.behaviour = self.config.behaviour

    async def respond(self, uc: usecases.UseCase, cmd: GbcsMessage) -> GbcsMessage:
        raise NotImplementedError(f"{self.device_type} does not serve {uc.name}")

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
        if self.gbcs is not None and not self.behaviour.loopback:
            return await self.gbcs.handle(message, self.respond)
        try:
            what = f"0x{GbcsMessage.decode(message).message_code:04X}"
        except DecodeError:
            what = "not GBCS"
        log.info(
            "han.gbcs_received",
            extra={"device": self.config.eui.duis, "bytes": len(message), "message_code": what},
        )
        return message if self.behaviour.loopback else None

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
        self.load_w = self.behaviour.load_w
        self.meter_path = self.config.state_dir / "meter.json"
        saved = read_json(self.meter_path, {}) or {}
        self._wh = float(saved.get("import_wh", self.behaviour.initial_wh))
        self.supply = SupplyState(int(saved.get("supply", SupplyState.ENABLED)))
        self.last_alive: float | None = saved.get("alive")
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
        self._drive(self.supply)  # the load switch comes back as it was before the power cut
        await super().start()
        self.spawn(self._keep_alive(), "keep-alive")

    def _drive(self, state: SupplyState) -> None:
        self.metering()  # bank the energy used up to the switch
        self.supply = state
        self.wiring.set("relay", state is SupplyState.ENABLED)  # closed: supply enabled
        self.wiring.set("led.supply", state is SupplyState.ENABLED)
        self._save()

    def _save(self) -> None:
        write_json(
            self.meter_path,
            {"import_wh": self._wh, "supply": int(self.supply), "alive": time.time()},
        )

    async def _keep_alive(self) -> None:
        while True:
            self.metering()
            self._save()
            await asyncio.sleep(2.0)

    @property
    def supply_on(self) -> bool:
        return self.supply is SupplyState.ENABLED

    async def run(self) -> None:
        """Power is back: tell the network operator how long it was out (ECS80)."""
        gbcs, was_alive = self.gbcs, self.last_alive
        if gbcs is None or gbcs.alerts_to is None or was_alive is None:
            return
        start = dt.datetime.fromtimestamp(was_alive, dt.UTC)
        alert = usecases.supply_restored_alert(
            gbcs.next_alert_counter(),
            self.config.eui.raw,
            gbcs.alerts_to.raw,
            start,
            dt.datetime.now(dt.UTC),
            gbcs.ds,
        )
        self.last_alive = None
        await self.tunnel.put(alert.encode())
        log.info(
            "gbcs.alert_sent",
            extra={
                "device": self.config.eui.duis,
                "alert_code": "8F36",
                "outage_start": start.isoformat(),
            },
        )

    async def respond(self, uc: usecases.UseCase, cmd: GbcsMessage) -> GbcsMessage:
        assert self.gbcs is not None
        peer_ka = self.gbcs.peer_ka(Eui64(cmd.header.originator))
        if uc is usecases.ECS17B:
            self.metering()
            wh = int(self._wh)
            return usecases.register_response(
                cmd, wh, wh // 10, dt.datetime.now(dt.UTC), self.gbcs.ka, peer_ka
            )
        if uc is usecases.ECS45:
            return usecases.status_response(cmd, self.supply, self.gbcs.ka, peer_ka)
        state = {
            usecases.ECS42: SupplyState.ENABLED,
            usecases.ECS43: SupplyState.DISABLED,
            usecases.ECS44: SupplyState.ARMED,
        }[uc]
        self._drive(state)
        log.info(
            "esme.supply", extra={"device": self.config.eui.duis, "supply": state.name.lower()}
        )
        return usecases.action_response(cmd, self.gbcs.ds)

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
        return {
            **super().detail(),
            "supply": self.supply.name.lower(),
            "relay": None if relay is None else int(relay.value),
            "import_wh": int(self._wh),
            "gbcs": None
            if self.gbcs is None
            else {"accepted": self.gbcs.accepted, "discarded": self.gbcs.discarded},
        }


class GasMeter(TunnelledDevice):
    device_type = "GSME"
    router = False
    rx_on_when_idle = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wake_every = self.behaviour.wake_interval_s
        self.flow_m3h = self.behaviour.flow_m3h
        self._dm3 = self.behaviour.initial_dm3
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

    async def respond(self, uc: usecases.UseCase, cmd: GbcsMessage) -> GbcsMessage:
        assert self.gbcs is not None
        now = time.monotonic()
        self._dm3 += self.flow_m3h * 1000 * (now - self._at) / 3600
        self._at = now
        values = {
            "current_summation_delivered": int(self._dm3),
            "unit_of_measure": M3_UNIT,
            "multiplier": 1,
            "divisor": 1000,
        }
        peer_ka = self.gbcs.peer_ka(Eui64(cmd.header.originator))
        return usecases.gas_response(cmd, values, dt.datetime.now(dt.UTC), self.gbcs.ka, peer_ka)

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
        self.every = self.behaviour.display_interval_s
        self.shown: dict[str, Any] = {}

    async def run(self) -> None:
        esme = self.config.han.esme
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
