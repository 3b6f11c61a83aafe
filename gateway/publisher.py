"""The publisher: hands every admitted command to the WAN, from the store.

Admission stores the MAC'd command with its request (one transaction) before the sender
gets its acknowledgement; the publisher then publishes it to the hub's down topic (QoS 1)
and records that the broker has it, dropping the bytes. Because it works from the
store, a command admitted just before a crash is published after the restart; one whose
deadline passed meanwhile is left to :mod:`gateway.deadlines`, which fails it with its
code. A crash between the broker's PUBACK and the record publishes it again: the device's
replay guard refuses the copy and the gateway matches only one answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from gateway.crashpoints import crashpoint
from gateway.store import Store, Unpublished
from gateway.wan import WanRouter, WanUnavailable
from rig.protocol.eui import Eui64

log = logging.getLogger("gateway.publisher")
RETRY_S = 0.5


class Publisher:
    def __init__(self, store: Store, wan: WanRouter) -> None:
        self.store = store
        self.wan = wan
        self.wakeup = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        self.wakeup.set()

    async def run(self) -> None:
        while True:
            self.wakeup.clear()
            owed = self.store.unpublished(time.time())
            retry = False
            for item in owed:
                retry |= not await self._publish(item)
            if owed and not retry:
                continue  # there may be more than one batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), RETRY_S if retry else 5.0)

    async def _publish(self, item: Unpublished) -> bool:
        """Publish one command; False when the WAN cannot take it now."""
        p = item.pending
        if p.deadline <= time.time() or not self.store.still_unpublished(p):
            return True  # expired or settled meanwhile: the deadline has it
        hub = Eui64.parse(p.hub)
        crashpoint("before-publish", p.request_id)
        try:
            await self.wan.send(hub, item.command, p.deadline)
        except WanUnavailable as exc:
            log.warning("wan.send_retry", extra={"request_id": p.request_id, "error": str(exc)})
            return False
        crashpoint("after-publish", p.request_id)
        with self.store.transaction():
            self.store.published(p, time.time())
            self.store.hop(
                p.request_id, "wan.published", hub=hub.duis, hub_online=self.wan.online(hub)
            )
        self.published += 1
        return True
