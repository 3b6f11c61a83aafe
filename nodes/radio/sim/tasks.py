"""The radio's background work (handlers, replies, associations, polling), kept for ``close``.

Each job spawns through :class:`Tasks` so that closing the radio cancels
everything it started, and nothing outlives it on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Spawn = Callable[[Awaitable[object]], asyncio.Future[object]]


class Tasks:
    def __init__(self) -> None:
        self._running: set[asyncio.Future[object]] = set()

    def spawn(self, work: Awaitable[object]) -> asyncio.Future[object]:
        """Run ``work`` in the background until it ends or the radio closes."""
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def cancel_all(self) -> None:
        for task in [*self._running]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
