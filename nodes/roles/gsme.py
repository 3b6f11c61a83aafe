"""The gas meter (GSME): a sleepy end device whose register advances with the gas flow, with a
valve on a GPIO output, answering GBZ use cases from its ZCL attributes.

It wakes on a schedule, reports its register to the GPF's Metering mirror on the CHF
(where the IHD reads gas), and pulls the GBCS the CHF queued for it with GET while the
CHF says more is waiting; then it sleeps again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from nodes.gbcs.zcl_server import ZclServer
from nodes.han.app import GPF_ENDPOINT
from nodes.han.tunnel import TunnelError
from nodes.radio import DeliveryError
from nodes.roles.tunnelled import TunnelledDevice
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue import GAS_REGISTERS
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import TUNNEL_MESSAGE_PENDING

log = logging.getLogger("nodes.han")
M3_UNIT = 0x01
DIVISOR = 1000  # the register counts dm3


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
        self.zcl = ZclServer()
        values = {
            "divisor": lambda: DIVISOR,
            "multiplier": lambda: 1,
            "unit_of_measure": lambda: M3_UNIT,
            "current_summation_delivered": self.register,
        }
        for attribute in GAS_REGISTERS:
            self.zcl.attribute(gbz.METERING, attribute, values[attribute.name])

    async def start(self) -> None:
        self.wiring.set("valve", True)  # valve open: supply enabled
        self.wiring.set("led.valve", True)
        await super().start()

    async def on_joined(self) -> None:
        await self.radio.wake()  # awake (polling) until its tunnel is open
        await super().on_joined()

    def register(self) -> int:
        """The consumption register (dm3), advanced to now."""
        now = time.monotonic()
        self._dm3 += self.flow_m3h * 1000 * (now - self._at) / 3600
        self._at = now
        return int(self._dm3)

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
            tsn = self.app.next_tsn()
            report = zcl.report_attributes(
                se.Metering.cluster_id,
                tsn,
                {
                    "current_summ_delivered": self.register(),
                    "unit_of_measure": M3_UNIT,
                    "divisor": DIVISOR,
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
