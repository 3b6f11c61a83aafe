"""A sleepy end device's receiver: off while it sleeps, and polling its parent while awake.

A device with ``rx_on_when_idle`` False hears nothing with its receiver off; its
parent holds frames for it (indirect transmission) until it sends a MAC Data
Request. Awake, it polls every :data:`POLL_EVERY_S`. A router or a mains-powered
device keeps its receiver on and never polls.
"""

from __future__ import annotations

import asyncio

from nodes.radio.sim.coordinator import COORDINATOR
from nodes.radio.sim.link import Mac
from nodes.radio.sim.tasks import Spawn

POLL_EVERY_S = 0.05


class Polling:
    def __init__(self, mac_layer: Mac, rx_on_when_idle: bool, spawn: Spawn) -> None:
        self.mac = mac_layer
        self.rx_on_when_idle = rx_on_when_idle
        self._spawn = spawn
        self._poller: asyncio.Future[object] | None = None

    def sleep(self) -> None:
        if not self.rx_on_when_idle:
            self.mac.rx_on = False

    def wake(self) -> None:
        self.mac.rx_on = True
        if not self.rx_on_when_idle and (self._poller is None or self._poller.done()):
            self._poller = self._spawn(self._poll_while_awake())

    async def _poll_while_awake(self) -> None:
        while self.mac.rx_on:
            await self.mac.poll(COORDINATOR)
            await asyncio.sleep(POLL_EVERY_S)
