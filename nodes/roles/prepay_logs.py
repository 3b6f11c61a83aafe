"""The ESME's prepayment registers and logs as COSEM objects, over its credit engine
(:mod:`nodes.roles.credit`):

- the prepayment registers (class 1, 0-0:94.44.34.30): meter balance, emergency credit
  balance, accumulated debt, payment debt, time debt 1 and 2, in millipence (the ESME's
  currency unit), read protected through 0-0:43.2.1 (ECS19, 4.3);
- the billing data log of prepayment credits (class 7, 0-0:98.1.5): (UTC seconds since
  2000, credit) for each top-up the meter applied, the last :data:`TOP_UP_LOG` of them,
  read by a range of UTC times (ECS20d, 4.4.5);
- the prepayment daily read log (class 7, 0-0:98.1.8): the six registers as they stood at
  each midnight UTC, the last :data:`DAILY_LOG` days, kept in its own file next to the
  credit's; read protected through 0-0:43.2.6 between two dates (ECS21b, 4.14). The
  snapshot is taken by :meth:`DailyReadLog.tick`, on the meter's tick, once the UTC day
  has changed since the last one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from nodes.gbcs.cosem_server import CosemError, CosemServer, Result
from nodes.roles.credit import TOP_UP_LOG, Credit
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.dlms import CompactArray, Data, DataType, TypeDescription
from rig.runtime.files import read_json, write_json

__all__ = [
    "DAILY_LOG",
    "TOP_UP_LOG",
    "DailyReadLog",
    "credits_log",
    "prepayment_registers",
    "serve_prepay_logs",
]

log = logging.getLogger("nodes.prepay_logs")
DAILY_LOG = 31  # days the daily read log keeps (DUIS: up to 31 log entries)

_D = DataType
LOG_ENTRY = TypeDescription(
    _D.STRUCTURE,
    0,
    (TypeDescription(_D.DOUBLE_LONG_UNSIGNED), TypeDescription(_D.DOUBLE_LONG_UNSIGNED)),
)
DAILY_ENTRY = TypeDescription(
    _D.STRUCTURE,
    0,
    (TypeDescription(_D.DOUBLE_LONG_UNSIGNED), *(TypeDescription(_D.DOUBLE_LONG),) * 6),
)


class PrepaymentMeter(Protocol):
    """What the ESME offers: its COSEM server, its credit engine, and its metering (what
    was used up to now comes off the balance before it is read)."""

    @property
    def cosem(self) -> CosemServer | None: ...

    @property
    def credit(self) -> Credit | None: ...

    def metering(self) -> Any: ...


def serve_prepay_logs(meter: PrepaymentMeter) -> DailyReadLog | None:
    """Put the ESME's prepayment registers and logs on its COSEM server; the daily read
    log, whose :meth:`DailyReadLog.tick` the meter calls on its tick."""
    credit, server = meter.credit, meter.cosem
    if credit is None or server is None:
        return None  # a credit meter without the engine, or a device without COSEM objects

    def registers() -> Data:
        meter.metering()
        return prepayment_registers(credit)

    server.attribute(cosem.PREPAYMENT_REGISTERS, registers)
    server.selective(
        cosem.PREPAYMENT_CREDITS_LOG,
        lambda selector, parameters: _credits(credit, selector, parameters),
    )
    daily = DailyReadLog(credit.path.with_name("prepay_daily_log.json"), credit)
    server.selective(cosem.PREPAYMENT_DAILY_LOG, daily.between)
    return daily


def register_values(credit: Credit) -> tuple[int, ...]:
    """The six prepayment registers, in millipence: meter balance, emergency credit
    balance, accumulated debt, payment debt, time debt 1 and 2."""
    debt = credit.debt
    return (
        credit.millipence,
        credit.emergency_credit_millipence,
        debt.total,
        debt.payment_debt,
        *debt.time_debt,
    )


def prepayment_registers(credit: Credit) -> Data:
    """The prepayment registers' value: six double-longs, in millipence."""
    return Data(_D.STRUCTURE, [Data(_D.DOUBLE_LONG, v) for v in register_values(credit)])


def credits_log(entries: Iterable[tuple[int, int]]) -> Data:
    """The log's buffer as a compact array of (UTC seconds since 2000, millipence)."""
    rows = ((Data(_D.DOUBLE_LONG_UNSIGNED, at), Data(_D.DOUBLE_LONG_UNSIGNED, value))
            for at, value in entries)  # fmt: skip
    return compact_array(LOG_ENTRY, rows)


def compact_array(description: TypeDescription, rows: Iterable[Iterable[Data]]) -> Data:
    """A compact array of rows of fixed-size values: each value without its type tag."""
    contents = b"".join(value.encode()[1:] for row in rows for value in row)
    return Data(_D.COMPACT_ARRAY, CompactArray(description, contents))


def _credits(credit: Credit, selector: int, parameters: Data) -> Data:
    if selector != cosem.BY_RANGE:
        raise CosemError(Result.TYPE_UNMATCHED, f"the credits log is read by range, not {selector}")
    try:
        start, end = (int(v.value) for v in cosem.range_of(parameters))
    except (TypeError, ValueError):
        raise CosemError(Result.TYPE_UNMATCHED, "not a range of UTC seconds") from None
    entries = [
        (at - cosem.GBCS_EPOCH_UNIX, value)
        for at, value in credit.top_ups
        if start <= at - cosem.GBCS_EPOCH_UNIX <= end
    ]
    return credits_log(entries)


class DailyReadLog:
    """The prepayment registers at each midnight UTC, persisted: entries of (UTC seconds
    since 2000 of the midnight, the six registers), oldest first, the last
    :data:`DAILY_LOG`."""

    def __init__(
        self,
        path: Path,
        credit: Credit,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.path, self.credit, self.now = path, credit, now
        saved = read_json(path, {}) or {}
        self.entries: list[tuple[int, tuple[int, ...]]] = [
            (int(at), tuple(int(v) for v in values)) for at, values in saved.get("entries", [])
        ][-DAILY_LOG:]
        # the UTC day the meter last saw: a snapshot is due once the day is past it
        self.day: str | None = saved.get("day")

    def tick(self) -> bool:
        """Take the day's snapshot if the UTC day has changed since the meter last looked
        (the values as they stand at the first tick after midnight); whether it did."""
        today = self.now().astimezone(dt.UTC).date()
        if self.day == today.isoformat():
            return False
        first = self.day is None
        self.day = today.isoformat()
        if not first:
            midnight = dt.datetime.combine(today, dt.time(), dt.UTC)
            at = int(midnight.timestamp()) - cosem.GBCS_EPOCH_UNIX
            self.entries = [*self.entries, (at, register_values(self.credit))][-DAILY_LOG:]
            log.info("prepay.daily_read", extra={"device": self.credit.meter.duis, "day": self.day})
        write_json(self.path, {"day": self.day, "entries": [[a, list(v)] for a, v in self.entries]})
        return not first

    def between(self, restriction: int, dates: Data) -> Data:
        """The entries from one DLMS date-time to another (both included), as a protected
        read restricted by date asks for them."""
        if restriction != cosem.RESTRICTED_BY_DATE:
            raise CosemError(
                Result.TYPE_UNMATCHED, f"the daily log is read by date, not {restriction}"
            )
        try:
            start, end = (dlms.parse_date_time(bytes(d.value)) for d in dates.value)
        except (TypeError, ValueError):
            raise CosemError(Result.TYPE_UNMATCHED, "not two date-times") from None
        if start is None or end is None:
            raise CosemError(Result.TYPE_UNMATCHED, "a date-time the daily log cannot place")
        first, last = (int(t.timestamp()) - cosem.GBCS_EPOCH_UNIX for t in (start, end))
        rows = (
            (Data(_D.DOUBLE_LONG_UNSIGNED, at), *(Data(_D.DOUBLE_LONG, v) for v in values))
            for at, values in self.entries
            if first <= at <= last
        )
        return compact_array(DAILY_ENTRY, rows)
