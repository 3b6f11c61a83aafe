"""What the ESME serves for family 4's reads, as COSEM objects over its import register:

- the TOU registers (class 1, 0-0:94.44.34.1): 48 import registers in Wh, one per tariff
  rate, read protected through 0-0:43.2.9 (ECS17d, 4.1.2). The energy the meter imports
  goes to the rate in force: its tariff's (:meth:`nodes.roles.tariff.Tariff.rates_between`,
  the energy imported since the last look shared between the rates in force meanwhile, in
  proportion to their time), or rate 1 (:data:`RATE_IN_FORCE`) on a meter without one;
  under a block tariff it goes to no TOU register;
- the daily consumption log (class 7, 0-0:99.1.3): (UTC seconds since 2000 of a
  midnight, the Wh imported over the UTC day that ended there), the last
  :data:`DAILY_CONSUMPTION_DAYS`, read protected through 0-0:43.2.4 between two dates
  (ECS66, 4.17);
- the active import profile (class 7, 0-0:99.1.0): (UTC seconds since 2000 of a half-hour
  boundary, the Wh imported over the half hour that ended there), the last
  :data:`PROFILE_PERIODS`, read protected through 0-0:43.2.7 between two dates (ECS22b,
  4.8.1).

They are kept in the meter's state folder (``tou_registers.json``,
``daily_consumption.json``, ``active_import_profile.json``) and survive a restart. They
follow the import register each time they are read (:meth:`IntervalLog.tick`): a log
read after several periods passed unread logs what was imported meanwhile at the latest
boundary. A GSME is not served here (its reads are ``gas_reads``').
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodes.gbcs.cosem_server import CosemError, CosemServer, Result
from nodes.gbcs.future import utc_now
from nodes.roles.prepay_logs import compact_array
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue_reads import (
    ACTIVE_IMPORT_PROFILE,
    DAILY_CONSUMPTION_LOG,
    TOU_RATES,
    TOU_REGISTERS,
)
from rig.protocol.gbcs.dlms import Data, DataType, TypeDescription
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.reads")
_D = DataType
RATE_IN_FORCE = 1  # the TOU rate the imported energy goes to on a meter without a tariff
DAILY_CONSUMPTION_DAYS = 731  # the days the rig's daily consumption log keeps (two years)
PROFILE_PERIODS = 48 * 31  # the half hours the rig's active import profile keeps (31 days)
DAY_S, HALF_HOUR_S = 86_400, 1_800
ENTRY = TypeDescription(
    _D.STRUCTURE,
    0,
    (TypeDescription(_D.DOUBLE_LONG_UNSIGNED), TypeDescription(_D.DOUBLE_LONG_UNSIGNED)),
)
Clock = Callable[[], dt.datetime]
# the TOU rate (1-48, 0: none) of each stretch of time from one instant to another, and its
# seconds (never empty: from an instant to itself, the rate then)
Rates = Callable[[dt.datetime, dt.datetime], list[tuple[int, float]]]


def _rate_in_force(_start: dt.datetime, _end: dt.datetime) -> list[tuple[int, float]]:
    return [(RATE_IN_FORCE, 1.0)]


class TouRegisters:
    """The 48 TOU import registers (Wh), persisted with the import register reading up to
    which they have been credited; a new meter's registers start with all its import in
    the rate in force."""

    def __init__(
        self,
        path: Path,
        imported: Callable[[], int],
        rates: Rates = _rate_in_force,
        now: Clock = utc_now,
    ) -> None:
        self.path, self.imported, self.rates, self.now = path, imported, rates, now
        saved = read_json(path, {}) or {}
        registers = [int(v) for v in saved.get("registers", [])]
        self.registers = (registers + [0] * TOU_RATES)[:TOU_RATES]
        self.credited: int | None = saved.get("import_wh")
        self.looked: float | None = saved.get("at")  # when it last credited (Unix seconds)

    def advance(self) -> None:
        """Credit what the meter imported since the last look to the rates in force
        meanwhile, each its share of the time."""
        now, at = self.imported(), self.now()
        if self.credited is None:
            self.credited = 0
        used = now - self.credited
        if used <= 0:  # nothing new (or the import register restored from an older save)
            self.looked = at.timestamp()  # nothing to share: the next look shares from here
            return
        since = at if self.looked is None else dt.datetime.fromtimestamp(self.looked, dt.UTC)
        stretches = self.rates(min(since, at), at)
        total = sum(seconds for _, seconds in stretches) or 1.0
        left = used
        for n, (rate, seconds) in enumerate(stretches):
            share = left if n == len(stretches) - 1 else int(used * seconds / total)
            left -= share
            if 1 <= rate <= TOU_RATES:
                self.registers[rate - 1] += share
        self.credited, self.looked = now, at.timestamp()
        write_json(
            self.path,
            {"registers": self.registers, "import_wh": self.credited, "at": self.looked},
        )

    def value(self) -> Data:
        """The TOU registers' value: one structure holding the 48 registers (a
        single-element meter's, as RTDS's SINGLE answer has it)."""
        self.advance()
        rates = [Data(_D.DOUBLE_LONG_UNSIGNED, v & 0xFFFF_FFFF) for v in self.registers]
        return Data(_D.STRUCTURE, [Data(_D.ARRAY, rates)])


class IntervalLog:
    """The Wh imported over each period of ``period_s`` seconds (a UTC day, a half hour),
    logged at the boundary that ends it, persisted: entries of (UTC seconds since 2000 of
    the boundary, Wh), oldest first, the last ``keep``."""

    def __init__(
        self,
        path: Path,
        imported: Callable[[], int],
        period_s: int,
        keep: int,
        now: Clock = utc_now,
    ) -> None:
        self.path, self.imported, self.now = path, imported, now
        self.period_s, self.keep = period_s, keep
        saved = read_json(path, {}) or {}
        self.entries: list[tuple[int, int]] = [
            (int(at), int(wh)) for at, wh in saved.get("entries", [])
        ][-keep:]
        # the period the meter last saw (UTC seconds since 2000 of its start), and the
        # import register then
        self.since: int | None = saved.get("since")
        self.since_wh: int | None = saved.get("since_wh")

    def tick(self) -> bool:
        """Log the period just ended if a boundary has passed since the meter last looked
        (a meter that was off over several logs what it imported since its last logged
        boundary at the latest one); whether it logged."""
        seconds = int(self.now().timestamp()) - cosem.GBCS_EPOCH_UNIX
        current = seconds - seconds % self.period_s
        if self.since == current:
            return False
        reading = self.imported()
        logged = self.since is not None and self.since_wh is not None
        if logged:
            used = max(0, reading - (self.since_wh or 0))
            self.entries = [*self.entries, (current, used)][-self.keep :]
            log.info(
                "reads.interval_logged",
                extra={"log": self.path.stem, "at": current, "wh": used},
            )
        self.since, self.since_wh = current, reading
        write_json(
            self.path,
            {
                "since": self.since,
                "since_wh": self.since_wh,
                "entries": [list(e) for e in self.entries],
            },
        )
        return logged

    def between(self, restriction: int, dates: Data) -> Data:
        """The entries from one DLMS date-time to another (both included), the period just
        ended logged first if one has."""
        if restriction != cosem.RESTRICTED_BY_DATE:
            raise CosemError(
                Result.TYPE_UNMATCHED,
                f"the {self.path.stem} log is read by date, not {restriction}",
            )
        try:
            start, end = (dlms.parse_date_time(bytes(d.value)) for d in dates.value)
        except (TypeError, ValueError):
            raise CosemError(Result.TYPE_UNMATCHED, "not two date-times") from None
        if start is None or end is None:
            raise CosemError(Result.TYPE_UNMATCHED, "a date-time the log cannot place")
        first, last = (int(t.timestamp()) - cosem.GBCS_EPOCH_UNIX for t in (start, end))
        self.tick()
        rows = (
            (Data(_D.DOUBLE_LONG_UNSIGNED, at), Data(_D.DOUBLE_LONG_UNSIGNED, wh & 0xFFFF_FFFF))
            for at, wh in self.entries
            if first <= at <= last
        )
        return compact_array(ENTRY, rows)


class EnergyReads:
    """The ESME's TOU registers and daily consumption log, over its import register."""

    def __init__(
        self,
        state_dir: Path,
        imported: Callable[[], int],
        now: Clock = utc_now,
        rates: Rates = _rate_in_force,
    ):
        self.tou = TouRegisters(state_dir / "tou_registers.json", imported, rates, now)
        self.daily = IntervalLog(
            state_dir / "daily_consumption.json", imported, DAY_S, DAILY_CONSUMPTION_DAYS, now
        )
        self.profile = IntervalLog(
            state_dir / "active_import_profile.json", imported, HALF_HOUR_S, PROFILE_PERIODS, now
        )

    def serve(self, server: CosemServer) -> None:
        server.attribute(TOU_REGISTERS, self.tou.value)
        server.selective(DAILY_CONSUMPTION_LOG, self.daily.between)
        server.selective(ACTIVE_IMPORT_PROFILE, self.profile.between)


def serve_reads(meter: Any) -> EnergyReads | None:
    """Put family 4's reads on the ESME's COSEM server (``meter.cosem``), over its import
    register (``meter.metering()``'s current summation delivered, Wh), brought up to date
    each time they are read. None for a device without COSEM objects."""
    server: CosemServer | None = getattr(meter, "cosem", None)
    if server is None:
        return None

    def imported() -> int:
        return int(meter.metering()["current_summ_delivered"])

    def rates(start: dt.datetime, end: dt.datetime) -> list[tuple[int, float]]:
        tariff = getattr(meter, "tariff", None)  # nodes.roles.tariff serves it after this
        return _rate_in_force(start, end) if tariff is None else tariff.rates_between(start, end)

    reads = EnergyReads(meter.config.state_dir, imported, rates=rates)
    reads.serve(server)
    meter.energy_reads = reads  # a tariff credits the energy so far before it changes
    return reads
