"""What the ESME serves of its remaining reads of family 4, as COSEM objects over its own
registers:

- the export registers (class 3, 1-0:2.8.0 Wh and 1-0:4.8.0 varh, ECS17a, 4.2): the rig's
  ESME has no generation, so nothing advances them; they are kept in its state folder
  (``export_registers.json``) with the rest of its state;
- the active power import (class 1, 0-0:94.44.34.20, ECS17c, 4.16): the demand its load
  draws now (W), and its single (primary) element's;
- the TOU with blocks register matrix (class 1, 0-0:94.44.34.2, read protected through
  0-0:43.2.10, ECS17e, 4.1.3) and the block registers: the energy a block tariff charges
  goes there; the ESME charges in TOU mode (its TOU registers), so they keep what the state
  folder holds (``block_registers.json``);
- the daily read log (class 7, 0-0:98.1.9, read protected through 0-0:43.2.5 between two
  dates, ECS21a, 4.6.1): the import register, the 48 TOU registers and the block registers
  at each midnight UTC, the last :data:`DAILY_DAYS`;
- the billing data log (0-0:98.1.0, and 0-0:98.1.1 for the prepayment registers, read
  protected together through 0-0:43.2.2 between two dates, ECS20c, 4.4.3): the daily read
  log's registers and the six prepayment registers at each billing date the billing
  calendar (6.8) names, the last :data:`BILLING_DATES`;
- the export daily read log (0-0:98.1.10, ECS21c, 4.6.2): the export register at each
  midnight, the last :data:`DAILY_DAYS`;
- the export profile (0-0:99.1.1, ECS22a, 4.8.3) and the reactive import profile
  (0-0:99.1.2, ECS22c, 4.8.2): what was exported (Wh, varh) or imported (varh) over each
  half hour, the last :data:`PROFILE_PERIODS`; these three are read by a range of UTC
  seconds;
- the billing data log on payment mode and tariff changes (0-0:98.1.2, read protected
  through 0-0:43.2.3, ECS20b, 4.4.2): the daily read log's registers each time the payment
  mode or the tariff changed (:meth:`Billing.changed` is the hook: a tariff element's
  activation calls it, and the credit engine's tick when it sees another payment mode), the
  last :data:`BILLING_DATES`;
- the payment-based debt payments log (0-0:98.1.4, ECS20a, 4.4.4, by a range of UTC
  seconds): what each top-up paid towards the payment debt, and when (the credit engine's);
- the maximum demand registers' last reset date-times (class 1, 0-0:94.44.5.0/.1/.2) with
  the registers themselves and the maximum demand period (the ESME's configuration's, 6.18),
  read by ECS18b (4.12.1, import) and ECS18a (4.12.2, export);
- the average RMS voltage profile (1-0:32.24.0, ECS23, 4.10, with the counters and the
  measurement period the ESME's configuration serves): the rig measures no voltage, so it
  holds no entries.

Each log is kept in the state folder and survives a restart; it is brought up to date
each time it is read (:meth:`RowLog.tick`), as :mod:`nodes.roles.reads`'s are: no tick of
its own touches the metering.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from nodes.gbcs.cosem_server import CosemError, CosemServer, Result
from nodes.gbcs.future import utc_now
from nodes.roles.prepay_objects import resume_prepay_config
from nodes.roles.reads import DAY_S, HALF_HOUR_S, PROFILE_PERIODS
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue_billing import (
    ACTIVE_POWER_IMPORT,
    BILLING_EVENT_LOG,
    BILLING_LOG,
    BILLING_PREPAY_LOG,
    BLOCK_RATES,
    BLOCKS,
    DAILY_READ_LOG,
    DEBT_PAYMENTS_LOG,
    EXPORT_ACTIVE,
    EXPORT_DAILY_LOG,
    EXPORT_PROFILE,
    EXPORT_REACTIVE,
    MD_RESET,
    REACTIVE_IMPORT_PROFILE,
    RMS_VOLTAGE_PROFILE,
    ROWS,
    SCALER_UNIT,
    TOU_BLOCK_CELLS,
    TOU_BLOCK_REGISTERS,
    VALUE,
    WATT,
    flat_values,
    registers_array,
)
from rig.protocol.gbcs.catalogue_device_config import BILLING_CALENDAR
from rig.protocol.gbcs.catalogue_reads import TOU_RATES, TOU_REGISTERS
from rig.protocol.gbcs.dlms import CompactArray, Data, DataType, TypeDescription
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.billing")
_D = DataType
DAILY_DAYS = 31  # the days each daily read log keeps (DUIS: up to 31 log entries)
BILLING_DATES = 12  # the billing dates the billing data log keeps (a year of monthly bills)
Clock = Callable[[], dt.datetime]
Row = Callable[[], list[int]]  # a log's values now, flat, in its row's order


# --- the rows of a log: flat integers <-> a compact array -----------------------------------
def row_data(description: TypeDescription, values: Iterator[int]) -> Data:
    """One row of ``description``'s shape from flat integers, in order."""
    t = description.type
    if t is _D.ARRAY:
        return Data(t, [row_data(description.members[0], values) for _ in range(description.count)])
    if t is _D.STRUCTURE:
        return Data(t, [row_data(m, values) for m in description.members])
    value = next(values)
    return Data(t, value & 0xFFFF_FFFF if t is _D.DOUBLE_LONG_UNSIGNED else value)


def _untagged(value: Data) -> bytes:
    if value.type in (_D.ARRAY, _D.STRUCTURE):
        return b"".join(_untagged(v) for v in value.value)
    return value.encode()[1:]


def compact_rows(description: TypeDescription, rows: Sequence[Sequence[int]]) -> Data:
    """A compact array of rows of ``description``'s shape, each given as flat integers."""
    contents = b"".join(_untagged(row_data(description, iter(r))) for r in rows)
    return Data(_D.COMPACT_ARRAY, CompactArray(description, contents))


# --- a log written at each boundary of a period ---------------------------------------------
def midnight(seconds: int) -> int:
    return seconds - seconds % DAY_S


def half_hour(seconds: int) -> int:
    return seconds - seconds % HALF_HOUR_S


class RowLog:
    """Rows logged at each boundary (a midnight, a half hour's end) the meter passes,
    persisted: entries of (UTC seconds since 2000 of the boundary, the row's values),
    oldest first, the last ``keep``. A *snapshot* log takes the values as they stand at
    the first look after the boundary (a daily read log); otherwise each value is what its
    register advanced by since the last boundary (a profile)."""

    def __init__(
        self,
        path: Path,
        row: Row,
        boundary: Callable[[int], int],
        keep: int,
        *,
        snapshot: bool,
        now: Clock = utc_now,
    ) -> None:
        self.path, self.row, self.boundary, self.keep = path, row, boundary, keep
        self.snapshot, self.now = snapshot, now
        saved = read_json(path, {}) or {}
        self.entries: list[tuple[int, list[int]]] = [
            (int(at), [int(v) for v in values]) for at, values in saved.get("entries", [])
        ][-keep:]
        self.since: int | None = saved.get("since")  # the boundary the meter last saw
        self.since_values: list[int] | None = saved.get("since_values")

    def tick(self) -> bool:
        """Log the boundary just passed, if one has since the meter last looked (a meter
        that was off over several logs it once, at the latest); whether it logged."""
        current = self.boundary(int(self.now().timestamp()) - cosem.GBCS_EPOCH_UNIX)
        if self.since == current:
            return False
        values = self.row()
        before, logged = self.since_values, False
        # logged from the second look on (a file of another row layout starts again)
        if self.since is not None and before is not None and len(before) == len(values):
            changes = [max(0, v - b) for v, b in zip(values, before, strict=True)]
            self.entries = [*self.entries, (current, values if self.snapshot else changes)]
            self.entries, logged = self.entries[-self.keep :], True
            log.info("billing.logged", extra={"log": self.path.stem, "at": current})
        self.since, self.since_values = current, values
        write_json(
            self.path,
            {
                "since": self.since,
                "since_values": self.since_values,
                "entries": [[at, v] for at, v in self.entries],
            },
        )
        return logged

    def select(self, first: int, last: int) -> list[list[int]]:
        """The rows logged from ``first`` to ``last`` (both included), each with its time
        first, the boundary just passed logged first."""
        self.tick()
        return [[at, *values] for at, values in self.entries if first <= at <= last]


class EventLog:
    """Rows logged when something happens (a payment mode or tariff change), persisted as a
    :class:`RowLog`'s entries: (UTC seconds since 2000, the row's values), the last
    ``keep``."""

    def __init__(self, path: Path, row: Row, keep: int, now: Clock = utc_now) -> None:
        self.path, self.row, self.keep, self.now = path, row, keep, now
        saved = read_json(path, {}) or {}
        self.entries: list[tuple[int, list[int]]] = [
            (int(at), [int(v) for v in values]) for at, values in saved.get("entries", [])
        ][-keep:]

    def snapshot(self, why: str) -> None:
        at = int(self.now().timestamp()) - cosem.GBCS_EPOCH_UNIX
        if self.entries and self.entries[-1][0] == at:
            return  # one change of several parts (a tariff's elements): logged once
        self.entries = [*self.entries, (at, self.row())][-self.keep :]
        write_json(self.path, {"entries": [[t, v] for t, v in self.entries]})
        log.info("billing.logged", extra={"log": self.path.stem, "at": at, "why": why})

    def select(self, first: int, last: int) -> list[list[int]]:
        return [[at, *values] for at, values in self.entries if first <= at <= last]


class DebtPayments:
    """What each top-up paid towards the payment debt (the credit engine's log)."""

    def __init__(self, credit: Any) -> None:
        self.credit = credit

    def select(self, first: int, last: int) -> list[list[int]]:
        payments = [(at - cosem.GBCS_EPOCH_UNIX, paid) for at, paid in self.credit.debt_payments]
        return [[at, paid] for at, paid in payments if first <= at <= last]


class Selectable(Protocol):
    def select(self, first: int, last: int) -> list[list[int]]: ...


class Unmeasured:
    """A log of what the rig's ESME does not measure (the voltage): no entries."""

    def select(self, first: int, last: int) -> list[list[int]]:
        return []


def by_range(rowlog: Selectable, description: TypeDescription) -> Callable[[int, Data], Data]:
    """A GET of the log's buffer selected by a range of UTC seconds (selector 1)."""

    def read(selector: int, parameters: Data) -> Data:
        if selector != cosem.BY_RANGE:
            raise CosemError(Result.TYPE_UNMATCHED, f"the log is read by range, not {selector}")
        try:
            first, last = (int(v.value) for v in cosem.range_of(parameters))
        except (TypeError, ValueError):
            raise CosemError(Result.TYPE_UNMATCHED, "not a range of UTC seconds") from None
        return compact_rows(description, rowlog.select(first, last))

    return read


def by_date(rowlog: Selectable, description: TypeDescription) -> Callable[[int, Data], Data]:
    """A protected read of the log restricted by date (restriction 1, two date-times)."""

    def read(restriction: int, dates: Data) -> Data:
        if restriction != cosem.RESTRICTED_BY_DATE:
            raise CosemError(Result.TYPE_UNMATCHED, f"the log is read by date, not {restriction}")
        try:
            start, end = (dlms.parse_date_time(bytes(d.value)) for d in dates.value)
        except (TypeError, ValueError):
            raise CosemError(Result.TYPE_UNMATCHED, "not two date-times") from None
        if start is None or end is None:
            raise CosemError(Result.TYPE_UNMATCHED, "a date-time the log cannot place")
        first, last = (int(t.timestamp()) - cosem.GBCS_EPOCH_UNIX for t in (start, end))
        return compact_rows(description, rowlog.select(first, last))

    return read


def last_billing_date(calendar: Data, seconds: int) -> int:
    """The latest billing date (UTC seconds since 2000) the billing calendar (a single
    action schedule's execution_time: entries of a COSEM time and date, whose year, month
    and day may be wildcards) names at or before ``seconds``; 0 when it names none in the
    last two years."""
    now = dt.datetime.fromtimestamp(seconds + cosem.GBCS_EPOCH_UNIX, dt.UTC)
    found: list[dt.datetime] = []
    for entry in calendar.value or []:
        try:
            time, date = (bytes(v.value) for v in entry.value)
            year, month, day = int.from_bytes(date[:2], "big"), date[2], date[3]
            hour, minute, second = (v if v != 0xFF else 0 for v in time[:3])
        except (TypeError, ValueError, IndexError):
            continue  # an entry the meter cannot place bills nothing
        for back in range(25):  # this month, then each month before, two years back
            y, m = divmod(now.year * 12 + now.month - 1 - back, 12)
            if (year not in (0xFFFF, y)) or (month not in (0xFF, m + 1)):
                continue
            try:
                at = dt.datetime(y, m + 1, 1 if day == 0xFF else day, hour, minute, second)
            except ValueError:
                continue
            if at.replace(tzinfo=dt.UTC) <= now:
                found.append(at.replace(tzinfo=dt.UTC))
                break
    return max((int(t.timestamp()) - cosem.GBCS_EPOCH_UNIX for t in found), default=0)


# --- the meter's registers ------------------------------------------------------------------
class Registers:
    """The registers this family reads that the ESME keeps nowhere else: export (Wh,
    varh), the TOU with blocks matrix and the block registers, in its state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.export_path = state_dir / "export_registers.json"
        self.block_path = state_dir / "block_registers.json"
        export = read_json(self.export_path, {}) or {}
        self.export_wh, self.export_varh = int(export.get("wh", 0)), int(export.get("varh", 0))
        blocks = read_json(self.block_path, {}) or {}
        self.matrix = _sized(blocks.get("matrix", []), TOU_BLOCK_CELLS)
        self.blocks = _sized(blocks.get("blocks", []), BLOCKS * BLOCK_RATES)

    def export(self) -> list[int]:
        return [self.export_wh, self.export_varh]


def _sized(values: list[Any], size: int) -> list[int]:
    return ([int(v) for v in values] + [0] * size)[:size]


class Billing:
    """The ESME's remaining reads of family 4 over its metering (``meter.metering()``),
    its import and TOU registers (read from its COSEM server) and :class:`Registers`."""

    def __init__(self, meter: Any, server: CosemServer, now: Clock = utc_now) -> None:
        state: Path = meter.config.state_dir
        self.meter, self.server = meter, server
        self.registers = Registers(state)

        def log(name: str, row: Row, boundary: Callable[[int], int], keep: int, snap: bool):
            return RowLog(state / f"{name}.json", row, boundary, keep, snapshot=snap, now=now)

        self.daily = log("daily_read_log", self.daily_row, midnight, DAILY_DAYS, True)
        self.export_daily = log(
            "export_daily_log", lambda: self.registers.export()[:1], midnight, DAILY_DAYS, True
        )
        self.export_profile = log(
            "export_profile", self.registers.export, half_hour, PROFILE_PERIODS, False
        )
        self.reactive_profile = log(
            "reactive_import_profile", self.reactive_import, half_hour, PROFILE_PERIODS, False
        )
        billed = partial(last_billing_date_of, server)
        self.billing = log("billing_log", self.daily_row, billed, BILLING_DATES, True)
        self.billing_prepay = log(
            "billing_prepay_log", self.prepayment_registers, billed, BILLING_DATES, True
        )
        self.billing_events = EventLog(
            state / "billing_event_log.json",
            lambda: [*self.daily_row(), *self.prepayment_registers()],
            BILLING_DATES,
            now,
        )
        credit = getattr(meter, "credit", None)
        self.payment_mode: str | None = None if credit is None else credit.settings.payment_mode

    def changed(self, why: str) -> None:
        """The payment mode or the tariff changes: the billing data log takes the registers."""
        self.billing_events.snapshot(why)

    def watch_payment_mode(self) -> None:
        """A change of payment mode (2.1, 6.x) logged the first time the engine ticks after it."""
        mode = self.meter.credit.settings.payment_mode
        if mode != self.payment_mode:
            self.payment_mode = mode
            self.changed("payment_mode")

    def import_registers(self) -> list[int]:
        """(active import Wh, reactive import varh): the import registers' values."""
        values = flat_values(self.server.get(cosem.IMPORT_REGISTERS))
        return [values[0], values[3]]  # each register is followed by its scaler and unit

    def reactive_import(self) -> list[int]:
        return self.import_registers()[1:]

    def daily_row(self) -> list[int]:
        """The import register, the 48 TOU registers and the block registers, now."""
        tou = flat_values(self.server.get(TOU_REGISTERS))[:TOU_RATES]
        return [self.import_registers()[0], *tou, *self.registers.blocks]

    def prepayment_registers(self) -> list[int]:
        """The six prepayment registers (none for a credit meter without the engine: 0)."""
        try:
            return flat_values(self.server.get(cosem.PREPAYMENT_REGISTERS))
        except CosemError:
            return [0] * 6

    def power(self) -> Data:
        demand = int(self.meter.metering()["instantaneous_demand"])
        return Data(
            _D.STRUCTURE,
            [*cosem.value_with_unit(demand, WATT), Data(_D.DOUBLE_LONG_UNSIGNED, demand)],
        )

    def tou_block_registers(self) -> Data:
        """The matrix's value: one structure holding its registers (a single element's)."""
        cells = registers_array(TOU_BLOCK_CELLS)
        return Data(_D.STRUCTURE, [row_data(cells, iter(self.registers.matrix))])

    def serve(self) -> None:
        server, reg = self.server, self.registers
        server.attribute(cosem.Attribute(3, EXPORT_ACTIVE, VALUE), lambda: _u32(reg.export_wh))
        server.attribute(cosem.Attribute(3, EXPORT_ACTIVE, SCALER_UNIT), lambda: _unit(cosem.WH))
        server.attribute(cosem.Attribute(3, EXPORT_REACTIVE, VALUE), lambda: _u32(reg.export_varh))
        server.attribute(
            cosem.Attribute(3, EXPORT_REACTIVE, SCALER_UNIT), lambda: _unit(cosem.VARH)
        )
        server.attribute(ACTIVE_POWER_IMPORT, self.power)
        server.attribute(TOU_BLOCK_REGISTERS, self.tou_block_registers)
        for address, rowlog in (
            (DAILY_READ_LOG, self.daily),
            (BILLING_LOG, self.billing),
            (BILLING_PREPAY_LOG, self.billing_prepay),
            (BILLING_EVENT_LOG, self.billing_events),
        ):
            server.selective(address, by_date(rowlog, ROWS[address]))
        credit = getattr(self.meter, "credit", None)
        if credit is not None:
            payments = DebtPayments(credit)
            server.selective(DEBT_PAYMENTS_LOG, by_range(payments, ROWS[DEBT_PAYMENTS_LOG]))
            credit.watchers.append(self.watch_payment_mode)
        for name, address in MD_RESET.items():
            server.attribute(address, partial(self.reset_time, name))
        for address, rowlog in (
            (EXPORT_DAILY_LOG, self.export_daily),
            (EXPORT_PROFILE, self.export_profile),
            (REACTIVE_IMPORT_PROFILE, self.reactive_profile),
        ):
            server.selective(address, by_range(rowlog, ROWS[address]))
        # the rig measures no voltage: its average RMS voltage profile holds no entries
        server.selective(RMS_VOLTAGE_PROFILE, by_range(Unmeasured(), ROWS[RMS_VOLTAGE_PROFILE]))

    def reset_time(self, name: str) -> Data:
        """When the maximum demand register ``name`` was last reset (the ESME's
        configuration keeps its registers: :mod:`nodes.roles.esme_config`)."""
        registers = getattr(self.meter, "md_registers", None)
        if registers is None:
            raise CosemError(Result.OBJECT_UNDEFINED, "no maximum demand registers")
        return registers.reset_time(name)


def last_billing_date_of(server: CosemServer, seconds: int) -> int:
    """The latest billing date by the billing calendar in force (6.8 writes it)."""
    try:
        return last_billing_date(server.get(BILLING_CALENDAR), seconds)
    except CosemError:
        return 0  # no billing calendar: no billing date


def _u32(value: int) -> Data:
    return Data(_D.DOUBLE_LONG_UNSIGNED, value & 0xFFFF_FFFF)


def _unit(unit: int) -> Data:
    return cosem.value_with_unit(0, unit)[1]  # scaler 0


def serve_billing(meter: Any) -> Billing | None:
    """Serve the ESME's remaining reads of family 4 on ``meter``'s COSEM server (its
    ``cosem``); None for a device without COSEM objects."""
    server: CosemServer | None = getattr(meter, "cosem", None)
    if server is None:
        return None
    billing = Billing(meter, server)
    billing.serve()
    tariff = getattr(meter, "tariff", None)  # nodes.roles.tariff's (served before)
    if tariff is not None:
        before = tariff.before_change

        def tariff_changes() -> None:
            if before is not None:
                before()
            billing.changed("tariff")

        tariff.before_change = tariff_changes
    resume_prepay_config(meter)  # the ESME's held 2.1 (prepay_objects): its alerts' sender
    return billing
