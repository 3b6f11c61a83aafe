"""The in-home display (IHD) and the prepayment interface (PPMID): they read the meters on
the HAN and show what they read.

The electricity meter's Metering, Prepayment and Price clusters directly; gas from the
GPF's Metering mirror on the CHF (the GSME sleeps). What they show is in their health
report's detail (the dashboard later); each reading is also a log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from nodes.han.app import GPF_ENDPOINT
from nodes.radio import DeliveryError
from nodes.roles.tunnelled import TunnelledDevice
from rig.protocol.codec import DecodeError
from rig.protocol.zigbee import se

log = logging.getLogger("nodes.han")


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
