"""The DCC's clock, which its schedules (5.x) run on: the wall clock, or on a rig that
accelerates it, a clock that runs ``rate`` times as fast from ``epoch`` (the wall time at
which both read the same). Both come from the gateway's configuration, so a restarted
gateway reads the same DCC time as the one it replaced."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DccClock:
    rate: float = 1.0  # DCC seconds per wall second
    epoch: float = 0.0  # the wall time (UTC seconds) at which DCC time equals it

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError(f"the DCC clock's rate must be positive, not {self.rate}")

    def now(self, wall: float | None = None) -> float:
        """DCC time, UTC seconds since the Unix epoch."""
        wall = time.time() if wall is None else wall
        return self.epoch + (wall - self.epoch) * self.rate

    def wall(self, dcc: float) -> float:
        """The wall time at which the DCC's clock reads ``dcc``."""
        return self.epoch + (dcc - self.epoch) / self.rate

    def today(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), dt.UTC)
