"""The DCC's schedules: 5.1 Create Schedule, 5.2 Read Schedule, 5.3 Delete Schedule, and
what runs them.

A DCC User schedules one of the DCC-schedulable SRVs of the SRV matrix (4.6.1 daily reads,
4.8.x profile data, ... 14.1) for one device it is responsible for, as it could send it on
demand: the DCC checks the role, the device, its status and that the rig serves the SRV
for it, and answers with the schedule's DSPScheduleID. The schedule runs on the DCC's
clock (:mod:`gateway.dcc_clock`): at ScheduleExecutionStartTime (midnight UTC when the
request gives none) of ScheduleStartDate, then daily, weekly, monthly, quarterly,
half-yearly or yearly until ScheduleEndDate. Each run the DCC builds the request the
schedule stands for, its ReadLogPeriod from the schedule's day offsets and times relative
to the run's date, under the User's name and a RequestID counter the DCC takes from the
User's series; it goes to the device as any request of the User does, and the answer
reaches the User as a DSPScheduledMessage (its GBCS payload and the DSPScheduleID).

Schedules, the next run of each and which request each run made are kept in the gateway's
store: a restarted gateway carries on, running once what fell due while it was down.
5.2 and 5.3 take a DSPScheduleID or a DeviceID and act on the sender's own schedules.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from lxml import etree

from gateway import inventory
from gateway.dcc_clock import DccClock
from gateway.dcc_services import DccState, ServiceRefused, dcc_service
from gateway.eligibility import responsible
from gateway.transform import served
from rig.protocol.duis import codes
from rig.protocol.duis.bodies import SRV_BODIES
from rig.protocol.duis.message import Request, parse_request
from rig.protocol.duis.xml import NS, SR, text
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.gbcs.catalogue import CATALOGUE

log = logging.getLogger("gateway.schedules")
_E = f"{{{SR}}}"

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT, device TEXT, srv TEXT, details BLOB,
    next_run REAL, runs INTEGER DEFAULT 0, created REAL);
CREATE TABLE IF NOT EXISTS scheduled_requests (
    request_id TEXT PRIMARY KEY, schedule INTEGER, occurrence REAL);
CREATE TABLE IF NOT EXISTS dcc_clock (epoch REAL);
"""
DAYS = {"Daily": 1, "Weekly": 7}
MONTHS = {"Monthly": 1, "Quarterly": 3, "Half-Yearly": 6, "Yearly": 12}
DEFAULT_AT = dt.time(0, 0, tzinfo=dt.UTC)  # the DCC's time when the request names none
POLL_S = 1.0  # how often the scheduler looks at the DCC's clock (wall seconds)


def _date(raw: str | None, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat((raw or "")[:10])
    except ValueError:
        raise ServiceRefused(codes.NOT_DUIS, f"{what} {raw!r} is not a date") from None


def _time(raw: str | None) -> dt.time:
    """An xs:time (``01:30:00Z``, ``00:00:00.00Z``) as a UTC time of day."""
    if not raw:
        return DEFAULT_AT
    try:
        parsed = dt.time.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceRefused(codes.NOT_DUIS, f"time {raw!r} is not an xs:time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


@dataclass(frozen=True, slots=True)
class Schedule:
    """One schedule: its ID, owner, device, SRV and the CreateSchedule it was made from."""

    id: int
    owner: Eui64
    device: Eui64
    srv: str
    details: etree._Element  # the CreateSchedule element (a DSPSchedule)
    next_run: float | None  # DCC time (UTC seconds) of its next run; None: finished
    runs: int = 0

    @property
    def frequency(self) -> str:
        return text(self.details, "sr:ScheduleFrequency") or ""

    @property
    def start(self) -> dt.date:
        return _date(text(self.details, "sr:ScheduleStartDate"), "ScheduleStartDate")

    @property
    def end(self) -> dt.date | None:
        raw = text(self.details, "sr:ScheduleEndDate")
        return None if raw is None else _date(raw, "ScheduleEndDate")

    @property
    def at(self) -> dt.time:
        return _time(text(self.details, "sr:ScheduleExecutionStartTime"))

    @property
    def read(self) -> etree._Element:
        """The DSP element naming what to read (DSPRetrieveImportDailyReadLog, ...)."""
        return self.details[-1]

    def occurrence(self, k: int) -> dt.datetime:
        """The ``k``-th run (0: the first), as a UTC date-time."""
        if self.frequency in DAYS:
            day = self.start + dt.timedelta(days=k * DAYS[self.frequency])
        else:
            day = _add_months(self.start, k * MONTHS[self.frequency])
        return dt.datetime.combine(day, self.at).astimezone(dt.UTC)

    def first_at_or_after(self, when: float) -> float | None:
        """The DCC time of the first run at or after ``when``, None past the end date."""
        first = self.occurrence(0).timestamp()
        if when <= first:
            k = 0
        elif self.frequency in DAYS:
            period = DAYS[self.frequency] * 86400
            k = -(-int(when - first) // period)
        else:
            k = 0
            moved = dt.datetime.fromtimestamp(when, dt.UTC)
            k = max(0, ((moved.year - self.start.year) * 12 + moved.month - self.start.month))
            k //= MONTHS[self.frequency]
            while self.occurrence(k).timestamp() < when:
                k += 1
        run = self.occurrence(k)
        if self.end is not None and run.date() > self.end:
            return None
        return run.timestamp()

    def request(self, occurrence: dt.datetime, counter: int, service_reference: str) -> Request:
        """The request this schedule stands for at ``occurrence``, as the owner would send it
        on demand: its ReadLogPeriod from the schedule's offsets, relative to that date."""
        root = etree.Element(f"{_E}Request", nsmap={"sr": SR})
        root.set("schemaVersion", "5.4")
        header = etree.SubElement(root, f"{_E}Header")
        rid = f"{self.owner.duis}:{self.device.duis}:{counter}"
        for name, value in (
            ("RequestID", rid),
            ("CommandVariant", "1"),
            ("ServiceReference", service_reference),
            ("ServiceReferenceVariant", self.srv),
        ):
            etree.SubElement(header, f"{_E}{name}").text = value
        body = etree.SubElement(etree.SubElement(root, f"{_E}Body"), f"{_E}{SRV_BODIES[self.srv]}")
        read = self.read
        if read.find("sr:StartDateOffset", NS) is not None:
            period = etree.SubElement(body, f"{_E}ReadLogPeriod")
            for end in ("Start", "End"):
                offset = int(text(read, f"sr:{end}DateOffset") or 0)
                day = occurrence.date() + dt.timedelta(days=offset)
                at = dt.datetime.combine(day, _time(text(read, f"sr:{end}Time")))
                stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                etree.SubElement(period, f"{_E}{end}DateTime").text = stamp
        return parse_request(root)


class ScheduleBook:
    """The schedules the DCC keeps, in the gateway's store (its SQLite connection)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)

    def _row(self, row: tuple) -> Schedule:
        sid, owner, device, srv, details, next_run, runs = row
        return Schedule(
            sid, Eui64.parse(owner), Eui64.parse(device), srv, etree.fromstring(details),
            next_run, runs,
        )  # fmt: skip

    _COLUMNS = "id, owner, device, srv, details, next_run, runs"

    def clock(self, rate: float) -> DccClock:
        """The DCC's clock at ``rate``, from the epoch of the gateway's first start (kept, so
        a restarted gateway's DCC time carries on from where it was)."""
        row = self.db.execute("SELECT epoch FROM dcc_clock").fetchone()
        if row is None:
            row = (time.time(),)
            self.db.execute("INSERT INTO dcc_clock VALUES (?)", row)
            self.db.commit()
        return DccClock(rate, float(row[0]))

    def add(self, owner: Eui64, device: Eui64, srv: str, details: etree._Element) -> Schedule:
        raw = etree.tostring(details)
        cur = self.db.execute(
            "INSERT INTO schedules (owner, device, srv, details, next_run, created) "
            "VALUES (?, ?, ?, ?, NULL, ?)",
            (owner.duis, device.duis, srv, raw, time.time()),
        )
        assert cur.lastrowid is not None
        return Schedule(cur.lastrowid, owner, device, srv, details, None)

    def set_next(self, sid: int, next_run: float | None, *, ran: bool = False) -> None:
        self.db.execute(
            "UPDATE schedules SET next_run = ?, runs = runs + ? WHERE id = ?",
            (next_run, 1 if ran else 0, sid),
        )

    def of(
        self, owner: Eui64, *, sid: int | None = None, device: Eui64 | None = None
    ) -> list[Schedule]:
        """The owner's schedules, all or by ID or device."""
        query = f"SELECT {self._COLUMNS} FROM schedules WHERE owner = ?"
        args: list[str | int] = [owner.duis]
        if sid is not None:
            query, args = query + " AND id = ?", [*args, sid]
        if device is not None:
            query, args = query + " AND device = ?", [*args, device.duis]
        return [self._row(r) for r in self.db.execute(query + " ORDER BY id", args)]

    def remove(self, ids: list[int]) -> None:
        self.db.executemany("DELETE FROM schedules WHERE id = ?", [(i,) for i in ids])

    def due(self, now: float) -> list[Schedule]:
        rows = self.db.execute(
            f"SELECT {self._COLUMNS} FROM schedules WHERE next_run IS NOT NULL AND next_run <= ? "
            "ORDER BY next_run, id",
            (now,),
        )
        return [self._row(r) for r in rows]

    def record_run(self, request_id: str, sid: int, occurrence: float) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO scheduled_requests VALUES (?, ?, ?)",
            (request_id, sid, occurrence),
        )

    def schedule_of(self, request_id: str) -> int | None:
        """The schedule a request the DCC made for it ran, or None (a User's own request)."""
        row = self.db.execute(
            "SELECT schedule FROM scheduled_requests WHERE request_id = ?", (request_id,)
        ).fetchone()
        return None if row is None else int(row[0])


# --- the DCC services ------------------------------------------------------------------------
def _book(dcc: DccState) -> ScheduleBook:
    if dcc.schedules is None:
        raise ServiceRefused(codes.NOT_SERVED, "this DCC keeps no schedules")
    return dcc.schedules


def _schedule_id(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise ServiceRefused(codes.NOT_DUIS, f"DSPScheduleID {raw!r} is not a number") from None


def scheduled_message(payload: bytes, schedule: int) -> etree._Element:
    """A scheduled run's answer as the DCC hands it to the User: the device's GBCS
    response and the schedule that asked for it (DUIS's DSPScheduledMessage)."""
    out = etree.Element(f"{_E}DSPScheduledMessage", nsmap={"sr": SR})
    etree.SubElement(out, f"{_E}GBCSPayload").text = base64.b64encode(payload).decode()
    etree.SubElement(out, f"{_E}DSPScheduleID").text = str(schedule)
    return out


def _element(name: str, value: str) -> etree._Element:
    out = etree.Element(f"{_E}{name}", nsmap={"sr": SR})
    out.text = value
    return out


@dcc_service("5.1")
def create_schedule(request: Request, dcc: DccState) -> etree._Element:
    """5.1 Create Schedule: the checks an on-demand request of the scheduled SRV gets, then
    the schedule, answered with its DSPScheduleID."""
    book, body = _book(dcc), request.body
    variant = text(body, "sr:DSPScheduledServiceReferenceVariant") or ""
    scheduled = dcc.srvs.get(variant) if dcc.srvs is not None else None
    if scheduled is None or not scheduled.dcc_scheduled:
        raise ServiceRefused(codes.NOT_DUIS, f"SRV {variant} is not one the DCC schedules")
    if text(body, "sr:DSPScheduledServiceReference") != scheduled.service_reference:
        raise ServiceRefused(
            codes.NOT_DUIS,
            f"DSPScheduledServiceReference is not {scheduled.service_reference}, SRV "
            f"{variant}'s service reference",
        )
    read = body[-1]
    want = f"DSP{SRV_BODIES.get(variant, '')}"
    if etree.QName(read).localname != want:
        raise ServiceRefused(
            codes.NOT_DUIS, f"a schedule of SRV {variant} reads with {want}, not "
            f"{etree.QName(read).localname}",
        )  # fmt: skip
    sender = request.request_id.originator
    user = dcc.users.get(sender)
    roles = [r for r in (user.all_roles if user else ()) if scheduled.allows(r)]
    if not roles:
        raise ServiceRefused(
            codes.ROLE_NOT_ELIGIBLE, f"{sender.duis}'s role may not send SRV {variant}"
        )
    try:
        eui = Eui64.parse(text(body, "sr:DeviceID") or "")
    except EuiError as exc:
        raise ServiceRefused(codes.NOT_DUIS, f"DeviceID: {exc}") from None
    device = dcc.devices.get(eui)
    if device is None:
        raise ServiceRefused(codes.DEVICE_UNKNOWN, f"device {eui.duis} is not in the inventory")
    if not inventory.allows(device.status, variant):
        raise ServiceRefused(
            codes.DEVICE_STATUS, f"device {eui.duis} is {device.status}: it takes no SRV {variant}"
        )
    uc = served(CATALOGUE, variant, device.type)
    if uc is None:
        raise ServiceRefused(
            codes.NOT_SERVED, f"SRV {variant} is not served for a {device.type} by this rig"
        )
    if not responsible(sender, roles, device, dcc.devices, users_own=uc.users_own):
        raise ServiceRefused(
            codes.NOT_AUTHORISED_FOR_DEVICE,
            f"{sender.duis} ({'+'.join(roles)}) is not the responsible party of {eui.duis}",
        )
    start = _date(text(body, "sr:ScheduleStartDate"), "ScheduleStartDate")
    end = text(body, "sr:ScheduleEndDate")
    if end is not None and _date(end, "ScheduleEndDate") < start:
        raise ServiceRefused(codes.NOT_DUIS, "ScheduleEndDate is before ScheduleStartDate")
    _time(text(body, "sr:ScheduleExecutionStartTime"))  # refuses a bad one now
    schedule = book.add(sender, eui, variant, body)
    clock = dcc.clock or DccClock()
    book.set_next(schedule.id, schedule.first_at_or_after(clock.now()))
    log.info(
        "schedule.created",
        extra={"schedule": schedule.id, "device": eui.duis, "srv": variant, "user": sender.duis},
    )
    return _element("DSPScheduleID", str(schedule.id))


def _selected(request: Request, dcc: DccState, body_name: str) -> list[Schedule]:
    book, body = _book(dcc), request.body
    owner = request.request_id.originator
    raw_id = text(body, "sr:DSPScheduleID")
    if raw_id is not None:
        found = book.of(owner, sid=_schedule_id(raw_id))
        what = f"DSPScheduleID {raw_id}"
    else:
        try:
            device = Eui64.parse(text(body, "sr:DeviceID") or "")
        except EuiError as exc:
            raise ServiceRefused(codes.NOT_DUIS, f"DeviceID: {exc}") from None
        found, what = book.of(owner, device=device), f"device {device.duis}"
    if not found:
        raise ServiceRefused(
            codes.DEVICE_UNKNOWN, f"{owner.duis} has no schedule for {what} ({body_name})"
        )
    return found


@dcc_service("5.2")
def read_schedule(request: Request, dcc: DccState) -> etree._Element:
    """5.2 Read Schedule: the sender's schedules by ID or device (DSPSchedulesRead)."""
    out = etree.Element(f"{_E}DSPSchedulesRead", nsmap={"sr": SR})
    for schedule in _selected(request, dcc, "5.2"):
        entry = etree.SubElement(out, f"{_E}DSPSchedules")
        etree.SubElement(entry, f"{_E}DSPScheduleID").text = str(schedule.id)
        details = etree.SubElement(entry, f"{_E}DSPScheduleDetails")
        details.extend(etree.fromstring(etree.tostring(schedule.details)))
    return out


@dcc_service("5.3")
def delete_schedule(request: Request, dcc: DccState) -> None:
    """5.3 Delete Schedule: the sender's schedules by ID or device, gone (no more runs)."""
    found = _selected(request, dcc, "5.3")
    _book(dcc).remove([s.id for s in found])
    log.info("schedule.deleted", extra={"schedules": [s.id for s in found]})


# --- the scheduler -----------------------------------------------------------------------------
Run = Callable[[Schedule, dt.datetime], str]  # sends a run's request: its RequestID


class Scheduler:
    """Runs each schedule when the DCC's clock reaches its next run. ``run`` sends its
    request and ``transaction`` makes the run and the next one's date one commit, so a
    crash neither loses a run nor makes it twice; the next run is the first after the DCC's
    time now, so a gateway that was down runs a missed one once. A run the DCC cannot make
    (the device decommissioned since, say: ``run`` raises) is logged and skipped."""

    def __init__(
        self,
        book: ScheduleBook,
        clock: DccClock,
        run: Run,
        transaction: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self.book, self.clock, self.run, self.transaction = book, clock, run, transaction

    def tick(self) -> int:
        """Run what is due now; how many requests went out."""
        ran = 0
        for schedule in self.book.due(self.clock.now()):
            assert schedule.next_run is not None
            at = dt.datetime.fromtimestamp(schedule.next_run, dt.UTC)
            following = schedule.first_at_or_after(max(schedule.next_run, self.clock.now()) + 1)
            extra = {"schedule": schedule.id, "device": schedule.device.duis,
                     "srv": schedule.srv, "occurrence": at.isoformat()}  # fmt: skip
            try:
                with self.transaction():
                    rid = self.run(schedule, at)
                    self.book.record_run(rid, schedule.id, schedule.next_run)
                    self.book.set_next(schedule.id, following, ran=True)
            except Exception as exc:  # one bad run must not stop the others
                with self.transaction():
                    self.book.set_next(schedule.id, following)
                log.warning("schedule.skipped", extra={**extra, "reason": str(exc)})
                continue
            ran += 1
            log.info("schedule.ran", extra={**extra, "request_id": rid})
        return ran

    async def run_forever(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(POLL_S)
