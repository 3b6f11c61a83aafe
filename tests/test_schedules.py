"""DCC schedules (5.1 Create, 5.2 Read, 5.3 Delete Schedule; issue 17), from DCC's own 5.x
templates. In process over a real gateway store, on a DCC clock the test moves: a daily
schedule runs at its time and not before, each run's request is the one the User could
send on demand (its ReadLogPeriod from the schedule's offsets) and transforms into the
use case's command; a run missed while the DCC was down runs once; the DCC's refusals
change nothing. On the running rig (tests/rigs/dcc.yaml, whose DCC clock runs 8640 times
as fast: a DCC day in 10 s): the supplier's schedule of 4.8.1 for its ESME delivers one
DSPScheduledMessage a DCC day, each a device answer of ECS22b; it survives a restart of
the gateway; 5.2 reads it back and after 5.3 none comes."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest
from conftest import wait_for
from lxml import etree

from gateway.config import DeviceConfig, UserConfig
from gateway.dcc_clock import DccClock
from gateway.dcc_services import DccState, ServiceRefused, service_for
from gateway.inventory import DECOMMISSIONED, Inventory
from gateway.schedules import ScheduleBook, Scheduler
from gateway.store import Store
from gateway.transform import TransformInput, served, transform_for
from rig.dccuser.client import DccUser
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request, RequestId, parse_document
from rig.protocol.duis.xml import NS, SR, parse
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.reference import srv_table
from rig.virtual.supervisor import control
from tests.conftest import vectors

DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")
SUPPLIER_A = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # IS
SUPPLIER_B = Eui64.parse("90-B3-D5-1F-30-03-00-00")  # GS
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")
DAY = 86400.0
_E = f"{{{SR}}}"


def _template(name: str) -> Request:
    request = parse_document(vectors("duis", "templates", name).read_bytes())
    assert isinstance(request, Request)
    return request


def _create_body(device: Eui64, srv: str = "4.6.1", **fields: str) -> etree._Element:
    """DCC's 5.1 template (a daily 4.6.1 read log, the day before each run), for
    ``device``; ``srv`` 4.8.1 reads the profile data instead; ``fields`` replace others."""
    body = _template("ECS21a_5.1._DCC_SCHEDULED_REQUEST_DUIS.XML").body
    body.find("sr:DeviceID", NS).text = device.duis
    if srv == "4.8.1":
        body.find("sr:DSPScheduledServiceReference", NS).text = "4.8"
        body.find("sr:DSPScheduledServiceReferenceVariant", NS).text = "4.8.1"
        body[-1].tag = f"{_E}DSPReadActiveImportProfileData"
    for name, value in fields.items():
        found = body.find(f"sr:{name}", NS)
        if found is None:  # an optional one, in schema order before the SRV
            found = etree.Element(f"{_E}{name}")
            body.find("sr:DSPScheduledServiceReference", NS).addprevious(found)
        found.text = value
    return body


@dataclass
class Clock:
    """A DCC clock the test sets."""

    at: float

    def now(self, wall: float | None = None) -> float:
        return self.at


@pytest.fixture
def dcc(tmp_path: Path) -> DccState:
    store = Store(tmp_path / "gateway.sqlite")
    devices = (
        DeviceConfig(ESME, "ESME", CHF, supplier=SUPPLIER_A),
        DeviceConfig(GSME, "GSME", CHF, supplier=SUPPLIER_B),
        DeviceConfig(CHF, "CHF", CHF),
    )
    users = {
        SUPPLIER_A: UserConfig(SUPPLIER_A, "supplier-a", "IS", "http://127.0.0.1:1/"),
        SUPPLIER_B: UserConfig(SUPPLIER_B, "supplier-b", "GS", "http://127.0.0.1:1/"),
    }
    clock = Clock(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC).timestamp())
    book = ScheduleBook(store.db)
    state = DccState(Inventory(store.db, devices), users=users, srvs=srv_table(), schedules=book)
    return replace(state, clock=clock)  # type: ignore[arg-type]


def _ask(dcc: DccState, srv: str, sender: Eui64, body: etree._Element):
    service = service_for(srv)
    assert service is not None, srv
    return service(Request(RequestId(sender, DCC, 1), 8, srv, srv, body), dcc)


def _refused(dcc: DccState, srv: str, sender: Eui64, body: etree._Element) -> str:
    assert dcc.schedules is not None
    book = dcc.schedules

    def held() -> list[tuple]:
        return [(s.id, s.device, s.srv, s.next_run, s.runs) for u in users for s in book.of(u)]

    users = (SUPPLIER_A, SUPPLIER_B)
    before = held()
    with pytest.raises(ServiceRefused) as refused:
        _ask(dcc, srv, sender, body)
    assert held() == before  # unchanged
    return refused.value.code


def _schedule_id(answer: etree._Element) -> int:
    assert etree.QName(answer).localname == "DSPScheduleID"
    return int(answer.text or "")


class _no_transaction:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_daily_schedule_runs_at_its_time_on_the_dcc_clock(dcc: DccState) -> None:
    book, clock = dcc.schedules, dcc.clock
    assert book is not None and isinstance(clock, Clock)
    start = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
    body = _create_body(
        GSME, ScheduleStartDate="2026-03-02", ScheduleExecutionStartTime="01:30:00Z"
    )
    sid = _schedule_id(_ask(dcc, "5.1", SUPPLIER_B, body))
    runs: list[tuple[int, dt.datetime, Request]] = []

    def run(schedule, at: dt.datetime) -> str:
        counter = 1000 + len(runs)
        request = schedule.request(at, counter, "4.6")
        runs.append((schedule.id, at, request))
        return str(request.request_id)

    scheduler = Scheduler(book, clock, run, _no_transaction)  # type: ignore[arg-type]
    clock.at = start.timestamp() - 1
    assert scheduler.tick() == 0  # not before its time
    clock.at = start.timestamp()
    assert scheduler.tick() == 1 and scheduler.tick() == 0  # at it, once
    assert runs[0][:2] == (sid, start)
    # the request the User could send on demand: the day before the run, midnight to midnight
    request = runs[0][2]
    assert (request.srv, request.body_name) == ("4.6.1", "RetrieveImportDailyReadLog")
    period = [request.body.find(f".//sr:{e}", NS).text for e in ("StartDateTime", "EndDateTime")]
    assert period == ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"]
    assert request.request_id == RequestId(SUPPLIER_B, GSME, 1000)
    # it transforms into the GSME's daily read log (GCS16a), for the supplier
    uc = served(CATALOGUE, "4.6.1", "GSME")
    assert uc is not None
    transform = transform_for(uc)
    assert transform is not None
    command = transform(uc, TransformInput(request, 1000, SUPPLIER_B, GSME))
    assert command.header.message_code == uc.message_code
    assert command.header.originator == SUPPLIER_B.raw
    # the next day's, then three days down: the missed runs are made once
    clock.at = start.timestamp() + DAY
    assert scheduler.tick() == 1 and runs[1][1] == start + dt.timedelta(days=1)
    clock.at = start.timestamp() + 4 * DAY + 60
    assert scheduler.tick() == 1 and scheduler.tick() == 0
    assert runs[2][1] == start + dt.timedelta(days=2)  # the first it missed, run late
    (schedule,) = book.of(SUPPLIER_B, sid=sid)
    assert schedule.runs == 3
    assert schedule.next_run == (start + dt.timedelta(days=5)).timestamp()
    assert book.schedule_of(str(runs[0][2].request_id)) == sid


def test_monthly_schedules_keep_to_the_end_of_short_months_and_stop_at_their_end(
    dcc: DccState,
) -> None:
    book = dcc.schedules
    assert book is not None
    body = _create_body(
        GSME,
        ScheduleFrequency="Monthly",
        ScheduleStartDate="2026-01-31",
        ScheduleEndDate="2026-04-15",
    )
    sid = _schedule_id(_ask(dcc, "5.1", SUPPLIER_B, body))
    (schedule,) = book.of(SUPPLIER_B, sid=sid)
    days = [schedule.occurrence(k).date().isoformat() for k in range(4)]
    assert days == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
    feb = dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp()
    assert schedule.first_at_or_after(feb) == schedule.occurrence(1).timestamp()
    after_end = dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp()
    assert schedule.first_at_or_after(after_end) is None  # 30 April is past its end
    # created on 1 March, 12:00: its first run is 31 March (the start is past)
    assert schedule.next_run == schedule.occurrence(2).timestamp()


def test_read_and_delete_act_on_the_senders_own_schedules(dcc: DccState) -> None:
    book = dcc.schedules
    assert book is not None
    sid = _schedule_id(_ask(dcc, "5.1", SUPPLIER_B, _create_body(GSME)))
    read_body = _template("5.2_READ_SCHEDULE_REQUEST_DUIS.XML").body
    read_body.find("sr:DSPScheduleID", NS).text = str(sid)
    answer = _ask(dcc, "5.2", SUPPLIER_B, read_body)
    assert etree.QName(answer).localname == "DSPSchedulesRead"
    (entry,) = answer.findall("sr:DSPSchedules", NS)
    assert entry.findtext("sr:DSPScheduleID", namespaces=NS) == str(sid)
    details = entry.find("sr:DSPScheduleDetails", NS)
    assert details.findtext("sr:DeviceID", namespaces=NS) == GSME.duis
    assert details.findtext("sr:DSPScheduledServiceReferenceVariant", namespaces=NS) == "4.6.1"
    assert _refused(dcc, "5.2", SUPPLIER_A, read_body) == codes.DEVICE_UNKNOWN  # not its own
    delete_body = _template("5.3_DELETE_SCHEDULE_REQUEST_DUIS.XML").body
    delete_body.find("sr:DSPScheduleID", NS).text = str(sid)
    assert _refused(dcc, "5.3", SUPPLIER_A, delete_body) == codes.DEVICE_UNKNOWN
    assert _ask(dcc, "5.3", SUPPLIER_B, delete_body) is None
    assert book.of(SUPPLIER_B) == []
    assert _refused(dcc, "5.2", SUPPLIER_B, read_body) == codes.DEVICE_UNKNOWN


def test_create_refuses_what_the_user_could_not_send_on_demand(dcc: DccState) -> None:
    unknown = Eui64.parse("00-DB-12-34-56-78-9F-C9")
    assert _refused(dcc, "5.1", SUPPLIER_A, _create_body(GSME)) == codes.NOT_AUTHORISED_FOR_DEVICE
    assert _refused(dcc, "5.1", SUPPLIER_B, _create_body(unknown)) == codes.DEVICE_UNKNOWN
    # 4.1.1 is on demand only; the reading element must be the SRV's
    on_demand = _create_body(GSME, DSPScheduledServiceReference="4.1")
    on_demand.find("sr:DSPScheduledServiceReferenceVariant", NS).text = "4.1.1"
    assert _refused(dcc, "5.1", SUPPLIER_B, on_demand) == codes.NOT_DUIS
    mismatched = _create_body(GSME)
    mismatched[-1].tag = f"{_E}DSPReadActiveImportProfileData"
    assert _refused(dcc, "5.1", SUPPLIER_B, mismatched) == codes.NOT_DUIS
    backwards = _create_body(GSME, ScheduleStartDate="2026-05-01", ScheduleEndDate="2026-04-01")
    assert _refused(dcc, "5.1", SUPPLIER_B, backwards) == codes.NOT_DUIS
    gone = dcc.devices.get(GSME)
    assert gone is not None
    dcc.devices.put(replace(gone, status=DECOMMISSIONED))
    assert _refused(dcc, "5.1", SUPPLIER_B, _create_body(GSME)) == codes.DEVICE_STATUS


def test_the_dcc_clock_runs_at_its_rate_from_its_epoch() -> None:
    clock = DccClock(rate=8640.0, epoch=1_000_000.0)
    assert clock.now(1_000_000.0) == 1_000_000.0
    assert clock.now(1_000_010.0) == 1_000_000.0 + DAY  # ten seconds: a DCC day
    assert clock.wall(clock.now(1_000_123.0)) == pytest.approx(1_000_123.0)
    with pytest.raises(ValueError, match="positive"):
        DccClock(rate=0)


# --- on the running rig ------------------------------------------------------------------------
def _post(client: DccUser, body: bytes) -> tuple[str, etree._Element]:
    req = urllib.request.Request(
        f"{client.gateway.duis}/serviceD", data=body, headers={"Content-Type": "application/xml"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as err:
        raw = err.read()
    root = parse(raw).getroot()
    return root.findtext(".//sr:ResponseCode", namespaces=NS) or "", root


def _dcc_request(
    env, client: DccUser, srv: str, body: etree._Element
) -> tuple[str, etree._Element]:
    dcc = Eui64.parse(env["rig"].acb_eui.duis)
    return _post(client, client.request(srv, dcc, 8, client.next_counter(), body))


def _scheduled(client: DccUser, sid: int) -> list[tuple[float, bytes]]:
    """The DSPScheduledMessages of schedule ``sid`` in the user's inbox: when each arrived
    and its GBCS payload."""

    async def read() -> list[tuple[float, bytes]]:
        async with aiohttp.ClientSession() as session:
            entries = await client.inbox(session, kind="ResponseMessage")
        found = []
        for e in entries:
            root = parse(Path(e["file"]).read_bytes()).getroot()
            message = root.find(".//sr:DSPScheduledMessage", NS)
            if message is not None and message.findtext("sr:DSPScheduleID", namespaces=NS) == str(
                sid
            ):
                payload = base64.b64decode(message.findtext("sr:GBCSPayload", namespaces=NS))
                found.append((Path(e["file"]).stat().st_mtime, payload))
        return sorted(found)

    return asyncio.run(read())


def test_a_schedule_delivers_daily_reads_through_the_rig_and_survives_a_gateway_restart(
    dcc_rig,
) -> None:
    env = dcc_rig
    client = DccUser.from_state(env["dir"], "supplier-a")
    esme = env["rig"].node("esme").eui
    rate = env["rig"].gateway.clock_rate
    assert rate == 8640, "tests/rigs/dcc.yaml runs the DCC's clock 8640 times as fast"
    day_s = DAY / rate
    body = _create_body(esme, "4.8.1", ScheduleStartDate="2015-01-02")  # daily, from the past
    code, root = _dcc_request(env, client, "5.1", body)
    assert code == "I0", etree.tostring(root)
    sid = int(root.findtext(".//sr:DSPScheduleID", namespaces=NS) or "")
    try:
        assert wait_for(lambda: len(_scheduled(client, sid)) >= 2, 8 * day_s + 60), "no 2 runs"
        runs = _scheduled(client, sid)
        answers = asyncio.run(_read_all(client, [p for _, p in runs[:2]]))
        assert all(a["use_case"] == "ECS22b" for a in answers), answers
        # the gateway restarts: its schedules run on
        before = len(_scheduled(client, sid))
        asyncio.run(control(env["state"], "restart", "gateway"))
        after = wait_for(lambda: len(_scheduled(client, sid)) > before, 8 * day_s + 90)
        assert after, "no run after the gateway's restart"
        read_body = _template("5.2_READ_SCHEDULE_REQUEST_DUIS.XML").body
        read_body.find("sr:DSPScheduleID", NS).text = str(sid)
        code, root = _dcc_request(env, client, "5.2", read_body)
        assert code == "I0" and root.find(".//sr:DSPSchedules", NS) is not None
    finally:
        delete_body = _template("5.3_DELETE_SCHEDULE_REQUEST_DUIS.XML").body
        delete_body.find("sr:DSPScheduleID", NS).text = str(sid)
        code, _ = _dcc_request(env, client, "5.3", delete_body)
    assert code == "I0"
    deleted_at = time.time()
    time.sleep(2 * day_s + 3)  # two DCC days and the last answer's flight
    late = [at for at, _ in _scheduled(client, sid) if at > deleted_at + day_s]
    assert late == [], "a run came after 5.3"


async def _read_all(client: DccUser, payloads: list[bytes]) -> list[dict]:
    async with aiohttp.ClientSession() as session:
        return [await client.read_gbcs(session, p) for p in payloads]
