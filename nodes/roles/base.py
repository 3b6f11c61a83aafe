"""What every device role offers the node service: start, stop, checks, detail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from nodes.config import NodeConfig
from nodes.gpio import Wiring

Handler = Callable[[web.Request], Awaitable[web.Response]]
Route = tuple[str, str, Handler]  # method, path, handler


class DeviceRole:
    """A device on the HAN. Subclasses add their protocol behaviour."""

    device_type = "device"

    def __init__(self, config: NodeConfig, wiring: Wiring) -> None:
        self.config = config
        self.wiring = wiring

    async def start(self) -> None:
        """Bring the device to its power-on state (outputs, links)."""

    async def stop(self) -> None:
        """Leave cleanly: close links; outputs keep their state as hardware would."""

    def routes(self) -> list[Route]:
        """The role's own endpoints on the node's HTTP server (the consumer's keypad on a
        PPMID, say): what a bench user or the controller drives on this device."""
        return []

    def checks(self) -> dict[str, str]:
        return {"gpio": "ok" if self.wiring.devices or not self.config.pins else "not wired"}

    def detail(self) -> dict[str, Any]:
        return {"device_type": self.device_type, "gpio": self.wiring.state()}
