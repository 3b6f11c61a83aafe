"""The devices that join a hub's HAN: ESME, GSME, IHD and PPMID.

Their GBCS and Smart Energy behaviour arrives with the HAN and end-to-end work;
here they own their outputs in the power-on state a real device has.
"""

from __future__ import annotations

from typing import Any

from nodes.roles.base import DeviceRole


class ElectricityMeter(DeviceRole):
    device_type = "ESME"

    async def start(self) -> None:
        self.wiring.set("relay", True)  # load switch closed: supply enabled
        self.wiring.set("led.supply", True)

    def detail(self) -> dict[str, Any]:
        relay = self.wiring.output("relay")
        supply = None if relay is None else ("enabled" if relay.value else "disabled")
        return {**super().detail(), "supply": supply}


class GasMeter(DeviceRole):
    device_type = "GSME"

    async def start(self) -> None:
        self.wiring.set("valve", True)  # valve open: supply enabled
        self.wiring.set("led.valve", True)

    def detail(self) -> dict[str, Any]:
        valve = self.wiring.output("valve")
        state = None if valve is None else ("open" if valve.value else "closed")
        return {**super().detail(), "valve": state}


class InHomeDisplay(DeviceRole):
    device_type = "IHD"


class PrepaymentInterface(DeviceRole):
    device_type = "PPMID"
