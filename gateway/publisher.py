"""The publisher: hands every admitted command to the WAN, from the store.

Admission stores the MAC'd command with its request (one transaction) before the sender
gets its acknowledgement; the publisher then publishes it to the hub's down topic (QoS 1)
and records that the broker has it. Because it works from the store, a command admitted
just before a crash is published after the restart; one whose deadline passed meanwhile
is left to :mod:`gateway.deadlines`, which fails it with its code. A crash between the
broker's PUBACK and the record publishes it again: the device's replay guard refuses the
copy and the gateway matches only one answer.

The bytes stay in the store until the command is settled, so when a hub comes back online
(its WAN link was lost) the DCC re-delivers every command it sent it that is still
unanswered and within its deadline (:meth:`Publisher.redeliver`): the same bytes, with
the same GBCS counter. A command lost with the link gets through; a copy of one the device
already executed is discarded as a replay, and its answer, queued at the hub while the
link was down, settles the request once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from gateway.crashpoints import crashpoint
from gateway.store import Outstanding, Store
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
        self.redelivered = 0

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

    async def _publish(self, item: Outstanding) -> bool:
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

    async def redeliver(self, hub: Eui64) -> int:
        """``hub`` is back online: publish again, the same bytes, every command it was sent
        that no answer has settled and whose deadline has not passed. How many."""
        count = 0
        for item in self.store.redeliverable(hub.hex, time.time()):
            p = item.pending
            if p.deadline <= time.time():
                continue  # expired while the ones before it went out: the deadline has it
            device = Eui64.parse(p.device).duis
            try:
                await self.wan.send(hub, item.command, p.deadline)
            except WanUnavailable as exc:  # no broker now: the deadlines settle the rest
                log.warning(
                    "wan.redeliver_failed",
                    extra={"request_id": p.request_id, "device": device, "error": str(exc)},
                )
                break
            with self.store.transaction():
                self.store.hop(p.request_id, "wan.redelivered", hub=hub.duis)
            log.info("wan.redelivered", extra={"request_id": p.request_id, "device": device})
            count += 1
        self.redelivered += count
        return count
