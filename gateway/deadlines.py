"""Commands awaiting their device's answer, each with its deadline (the target response time).

A command is armed when it is sent; the device's answer settles it; at the deadline the
DCC User gets E20 (the hub stayed offline) or E21 (no response) instead. Pending commands
are in the store, so a restarted gateway re-arms every timer.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.outbox import Outbox
from gateway.store import Pending, Store
from gateway.wan import WanRouter
from rig.protocol.duis import codes
from rig.protocol.duis.message import RequestId, Response, now
from rig.protocol.eui import Eui64

log = logging.getLogger("gateway.deadlines")
Key = tuple[str, int, str]  # device, counter, user


class Deadlines:
    def __init__(self, store: Store, wan: WanRouter, outbox: Outbox) -> None:
        self.store = store
        self.wan = wan
        self.outbox = outbox
        self._timers: dict[Key, asyncio.TimerHandle] = {}

    def arm(self, p: Pending) -> None:
        loop = asyncio.get_running_loop()
        self._timers[(p.device, p.counter, p.user)] = loop.call_at(
            loop.time() + max(0.0, p.deadline - time.time()), self._expire, p
        )

    def rearm(self) -> int:
        """After a restart: every command still awaiting its device gets its timer back."""
        pending = self.store.all_pending()
        for p in pending:
            self.arm(p)
        return len(pending)

    def settle(self, device: Eui64, counter: int, user: Eui64) -> Pending | None:
        """The pending command this answer is for (its timer cancelled), or None."""
        p = self.store.take_pending(device.hex, counter, user.hex)
        if p is not None:
            timer = self._timers.pop((p.device, p.counter, p.user), None)
            if timer is not None:
                timer.cancel()
        return p

    def _expire(self, p: Pending) -> None:
        """The deadline passed: E20 (never reached, or the hub stayed offline) or E21 (no
        answer), with an audit row, queued for the user, in one transaction."""
        self._timers.pop((p.device, p.counter, p.user), None)
        with self.store.transaction():
            published = not self.store.still_unpublished(p)
            if self.store.take_pending(p.device, p.counter, p.user) is None:
                return
            online = published and self.wan.online(Eui64.parse(p.hub))
            code = codes.NO_RESPONSE if online else codes.NO_COMMUNICATION
            reason = codes.MEANING[code] + ("" if published else " (never sent: the WAN was down)")
            self.store.hop(p.request_id, "deadline", code=code)
            self.store.finish(p.request_id, "failed", code, reason)
            user = RequestId.parse(p.request_id).originator  # not a DCC party that sent it
            self.store.audit(user.duis, p.request_id, "deadline", code, reason)
            response = Response(
                code,
                now(),
                "ResponseMessage",
                RequestId.parse(p.request_id),
                service_reference=p.service_reference,
                srv=p.srv,
            )
            self.outbox.queue(user, p.request_id, "failure", response)
        log.warning(
            "duis.failed", extra={"request_id": p.request_id, "code": code, "device": p.device}
        )
