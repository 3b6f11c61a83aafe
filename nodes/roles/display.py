"""The in-home display (IHD), and what it shares with the prepayment interface (PPMID,
:mod:`nodes.roles.ppmid`): they read the meters on the HAN and show what they read.

The electricity meter's Metering, Prepayment and Price clusters directly; gas from the
GPF's Metering mirror on the CHF (the GSME sleeps). From the Prepayment cluster they show
the balance, the emergency credit and the debt, from Metering the supply state, and from
Messaging the supplier's message the ESME holds (3.1); what the meter does not serve (yet)
shows as None. What they show is in their health report's detail (the dashboard later);
each reading is also a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from nodes.han.app import GPF_ENDPOINT
from nodes.radio import DeliveryError
from nodes.roles.tunnelled import TunnelledDevice
from rig.protocol.codec import DecodeError
from rig.protocol.zigbee import se

log = logging.getLogger("nodes.han")
METERING_SHOWN = ["current_summ_delivered", "instantaneous_demand", "supply_status"]
PREPAYMENT_SHOWN = [
    "credit_remaining",
    "emergency_credit_remaining",
    "credit_status",
    "accumulated_debt",
]
# Metering's supply status (SE 1.4 attribute 0x0014) as the displays name it
SUPPLY = {0: "off", 1: "armed", 2: "on"}


class LocalDisplay(TunnelledDevice):
    """IHD and PPMID: read the meters on the HAN and show what they read."""

    router = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.every = self.behaviour.display_interval_s
        self.shown: dict[str, Any] = {}
        self._refresh = asyncio.Event()

    def refresh(self) -> None:
        """Read the meters now (after a top-up, say), not at the next interval."""
        self._refresh.set()

    async def run(self) -> None:
        esme = self.config.han.esme
        while True:
            shown: dict[str, Any] = {}
            try:
                if esme is not None:
                    shown.update(await self._electricity(esme))
                    shown["supplier_message"] = await self._message(esme)
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh.wait(), self.every)
            self._refresh.clear()

    async def _electricity(self, esme: Any) -> dict[str, Any]:
        """What the ESME serves: registers and supply, credit and debt, price."""
        m = await self.app.read(esme, se.Metering.cluster_id, METERING_SHOWN)
        p = await self.app.read(esme, se.Prepayment.cluster_id, PREPAYMENT_SHOWN)
        c = await self.app.read(
            esme, se.Price.cluster_id, ["tier1_block1_price", "standing_charge"]
        )
        supply, status = m.get("supply_status"), p.get("credit_status")
        return {
            "electricity_kwh": m.get("current_summ_delivered", 0) / 1000,
            "demand_w": m.get("instantaneous_demand"),
            "supply": None if supply is None else SUPPLY.get(int(supply), f"0x{int(supply):02x}"),
            "credit_pence": p.get("credit_remaining"),
            "emergency_credit_pence": p.get("emergency_credit_remaining"),
            "debt_pence": p.get("accumulated_debt"),
            "credit_status": None if status is None else int(status),  # SE 1.4 bits
            "price_pence_per_kwh": c.get("tier1_block1_price", 0) / 100,
            "standing_charge_pence_per_day": c.get("standing_charge", 0) / 100,
        }

    async def _message(self, esme: Any) -> str | None:
        """The supplier's message the ESME shows (3.1), by Messaging's Get Last Message; the
        last one read when the ESME does not answer this time."""
        try:
            frame = await self.app.send_command(esme, se.Messaging.cluster_id, "get_last_message")
        except (DeliveryError, TimeoutError):
            return self.shown.get("supplier_message")
        return str(frame.args.message) if frame.name == "display_message" else None

    def detail(self) -> dict[str, Any]:
        return {**super().detail(), "display": self.shown}


class InHomeDisplay(LocalDisplay):
    device_type = "IHD"
