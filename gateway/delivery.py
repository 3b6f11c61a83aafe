"""Delivery of asynchronous DUIS responses and alerts to each DCC User's Receive Response Service.

The outbox lives in the store, so nothing queued is lost when the gateway restarts.
Each entry is POSTed (``application/xml``); a failed attempt is retried after the
configured waits (the default retries within 300 s), then the entry moves to the failed
queue, which is kept for the configured time (2 days) and can be re-queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp

from gateway.config import DeliveryConfig
from gateway.store import OutboxItem, Store

log = logging.getLogger("gateway.delivery")


class Delivery:
    def __init__(self, store: Store, cfg: DeliveryConfig, wakeup: asyncio.Event) -> None:
        self.store = store
        self.cfg = cfg
        self.wakeup = wakeup
        self.delivered = 0
        self.failed = 0

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                self.wakeup.clear()
                now = time.time()
                self.store.purge_failed(now - self.cfg.failed_keep_s)
                items = self.store.due(now)
                await asyncio.gather(*(self._post(session, item) for item in items))
                nxt = self.store.next_due()
                wait = 1.0 if nxt is None else min(1.0, max(0.0, nxt - time.time()))
                if items and nxt is not None and nxt <= time.time():
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=max(wait, 0.05))

    async def _post(self, session: aiohttp.ClientSession, item: OutboxItem) -> None:
        extra = {"request_id": item.request_id, "user": item.user, "kind": item.kind}
        try:
            async with session.post(
                item.url, data=item.body, headers={"Content-Type": "application/xml"}
            ) as resp:
                if 200 <= resp.status < 300:
                    self.store.delivered(item.id)
                    if item.request_id:
                        self.store.hop(item.request_id, "duis.delivered", attempt=item.attempts + 1)
                    self.delivered += 1
                    log.info("duis.delivered", extra=extra)
                    return
                error = f"HTTP {resp.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = f"{exc.__class__.__name__}: {exc}"
        waits = self.cfg.retry_s
        if item.attempts < len(waits):
            self.store.retry(item.id, time.time() + waits[item.attempts], error)
            log.warning(
                "duis.delivery_retry", extra={**extra, "error": error, "attempt": item.attempts + 1}
            )
        else:
            self.store.retry(item.id, None, error)
            self.failed += 1
            log.error(
                "duis.delivery_failed",
                extra={
                    **extra,
                    "error": error,
                    "note": "kept in the failed queue; see `rig trace`",
                },
            )
