"""The communications hub (CHF): WAN client to the DCC, HAN coordinator, host of the GPF.

For now it holds the WAN link and its status LEDs; the HAN coordinator, trust
centre, device log and GPF come with the HAN work.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from nodes.roles.base import DeviceRole
from nodes.wan import WanLink


class CommsHub(DeviceRole):
    device_type = "CHF"

    async def start(self) -> None:
        if self.config.wan is None:
            raise ValueError("a chf node needs a 'wan' section in its config")
        self.wan = WanLink(self.config.wan, self.config.eui)
        self._wan_task = asyncio.create_task(self.wan.run(), name="wan")
        self._led_task = asyncio.create_task(self._wan_led(), name="wan-led")

    async def _wan_led(self) -> None:
        while True:
            self.wiring.set("led.wan", self.wan.connected)
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        for task in (self._led_task, self._wan_task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def checks(self) -> dict[str, str]:
        return {**super().checks(), "wan": self.wan.check()}

    def detail(self) -> dict[str, Any]:
        return {
            **super().detail(),
            "gpf": self.config.gpf_eui.duis if self.config.gpf_eui else None,
            "wan_commands_received": self.wan.commands_received,
        }
