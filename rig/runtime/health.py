"""The health report every rig component serves at ``GET /health``.

A component's event loop ticks a heartbeat once a second; the report carries the
age of the last tick, so a hung loop shows as stale even while the process lives
and the kernel still accepts connections. ``checks`` names each dependency the
component needs (broker, GPIO, radio) with "ok" or what is wrong.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

HEALTH_PATH = "/health"
STALE_AFTER_S = 3.0


@dataclass(slots=True)
class HealthReport:
    name: str
    kind: str  # "node", "gateway", "air"
    pid: int
    uptime_s: float
    beat: int
    beat_age_s: float
    role: str | None = None
    eui: str | None = None
    version: str | None = None  # the installed gbsm-rig (a deploy's wheel names its sources)
    checks: dict[str, str] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> dict[str, str]:
        return {k: v for k, v in self.checks.items() if v != "ok"}

    @property
    def healthy(self) -> bool:
        return self.beat_age_s <= STALE_AFTER_S and not self.failing

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, payload: bytes | str) -> HealthReport:
        data = json.loads(payload)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class Heartbeat:
    """A component's own pulse: ``run()`` ticks once a second inside its event loop."""

    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.started = time.monotonic()
        self.count = 0
        self.last = self.started

    async def run(self, every_s: float = 1.0) -> None:
        while True:
            self.count += 1
            self.last = time.monotonic()
            await asyncio.sleep(every_s)

    def report(self, **fields: Any) -> HealthReport:
        now = time.monotonic()
        return HealthReport(
            name=self.name,
            kind=self.kind,
            pid=os.getpid(),
            uptime_s=round(now - self.started, 1),
            beat=self.count,
            beat_age_s=round(now - self.last, 2),
            **fields,
        )
