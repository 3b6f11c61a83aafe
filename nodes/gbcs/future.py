"""What runs a future-dated command a device holds at its time: one timer per device and
kind of command (a CS06 activation, a CS02b), polling its clock (the handlers' clock, so
tests drive it), taking a replacement or a cancellation of what it holds as it comes."""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

Clock = Callable[[], dt.datetime]
POLL_S = 1.0  # how often a device waiting on a future-dated command looks at its clock


def utc_now() -> dt.datetime:
    """The real clock (tests pass their own)."""
    return dt.datetime.now(dt.UTC)


_timers: weakref.WeakKeyDictionary[Any, dict[str, asyncio.Task[None]]] = weakref.WeakKeyDictionary()


async def run_when_due(
    due: Callable[[], float | None],
    step: Callable[[dt.datetime], Awaitable[bool]],
    clock: Clock,
) -> None:
    """While something is held (``due``: its UTC timestamp, None when nothing is), give
    ``step`` the time; it carries out what is due and says whether it did."""
    while (at := due()) is not None:
        if not await step(clock()):
            await asyncio.sleep(max(0.0, min(POLL_S, at - clock().timestamp())))


def arm(device: Any, kind: str, waiting: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Have ``device`` run ``waiting()`` for its held command of ``kind``, once: a timer of
    that kind running already takes a new command as it comes. The task is cancelled with
    the device's own when it stops."""
    timers = _timers.setdefault(device, {})
    timer = timers.get(kind)
    if timer is not None and not timer.done():
        return
    task = asyncio.get_running_loop().create_task(waiting(), name=f"future-dated {kind}")
    timers[kind] = task
    tasks = getattr(device, "_tasks", None)
    if isinstance(tasks, list):
        tasks.append(task)
