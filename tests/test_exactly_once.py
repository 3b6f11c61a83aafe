"""Exactly once under faults: a prepayment top-up (2.2, CS01a to the ESME) adds its value to
the meter balance once and only once, proved by the balance the meter reports (4.18), on
the running end-to-end rig (tests/rigs/dcc.yaml):

* the hub loses its WAN link right after it forwarded the command onto the HAN; when it
  is back the DCC re-delivers the command (the same bytes), the copy is discarded as a
  replay, and the answer the hub queued meanwhile settles the request once;
* the meter is killed (SIGKILL) after it applied the credit and before it answered; the
  supervisor brings it back with the credit, and the same UTRN again is refused (8F51).

The supply is off while the balance is measured (consumption would move it). The DCC's
choice of what to re-deliver is checked on a store of its own, without a rig.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from pathlib import Path
from types import TracebackType

import aiohttp
import pytest
from conftest import component, component_detail, rig_cli, wait_for
from test_e2e_dcc import send

from gateway.publisher import Publisher
from gateway.store import Pending, Store
from gateway.wan import WanRouter
from rig.cli.wan import watch
from rig.dccuser.client import DccUser
from rig.dccuser.tasks import trace_of
from rig.lifecycle.observers import ObserverPool
from rig.pki.authority import Pki
from rig.plan.dcc_config import response_times
from rig.plan.model import Plan, broker_link
from rig.protocol import wan
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import GbcsMessage
from rig.runtime.files import read_json
from rig.runtime.mqtt import MqttTls

ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
TOP_UP_MILLIPENCE = 500 * 1000  # £5
DROP_S = 4.0


@pytest.fixture
def env(dcc_rig):
    """The end-to-end rig (tests/rigs/dcc.yaml), started once per session (conftest)."""
    return dcc_rig


# --- what the DCC re-delivers (no rig) ----------------------------------------------------------
def _pending(counter: int, deadline: float, hub: Eui64 = CHF) -> Pending:
    rid = f"{SUPPLIER.duis}:{ESME.duis}:{counter}"
    return Pending(ESME.hex, counter, SUPPLIER.hex, rid, "2.2", "TUD", hub.hex, deadline)


def test_a_hub_back_online_is_owed_what_it_was_sent_and_nobody_answered(tmp_path: Path) -> None:
    store = Store(tmp_path / "gateway.sqlite")
    now = time.time()
    other_hub = Eui64.parse("00-DB-12-34-56-78-90-B2")

    def put(counter: int, *, published: bool = True, deadline: float = now + 30, hub=CHF):
        p = _pending(counter, deadline, hub)
        store.put_pending(p, bytes([counter]) * 8)
        if published:
            store.published(p, now)
        return p

    first = put(1)
    put(2, published=False)  # never published: the publisher owes it, not a redelivery
    put(3, deadline=now - 1)  # its deadline passed: the deadline answers it (E21)
    answered = put(4)
    store.take_pending(answered.device, answered.counter, answered.user)  # settled
    elsewhere = put(5, hub=other_hub)
    last = put(6)

    owed = store.redeliverable(CHF.hex, now)
    assert [(o.pending, o.command) for o in owed] == [
        (first, b"\x01" * 8),
        (last, b"\x06" * 8),
    ]  # oldest first, the very bytes
    assert [o.pending for o in store.redeliverable(other_hub.hex, now)] == [elsewhere]
    assert store.redeliverable(CHF.hex, now + 31) == []  # every deadline has passed
    store.close()


class _Wan:
    """The WAN as the publisher sees it: what it was asked to publish."""

    def __init__(self) -> None:
        self.sent: list[tuple[Eui64, bytes, float]] = []

    def online(self, _hub: Eui64) -> bool:
        return True

    async def send(self, hub: Eui64, gbcs: bytes, deadline: float) -> None:
        self.sent.append((hub, gbcs, deadline))


def test_only_a_hub_seen_offline_that_comes_back_gets_its_commands_again(tmp_path: Path) -> None:
    """The gateway's start (the retained "online") re-delivers nothing; offline -> online
    re-delivers, once per return, with a hop on the request's timeline."""
    store = Store(tmp_path / "gateway.sqlite")
    p = _pending(7, time.time() + 30)
    store.new_request(p.request_id, srv=p.srv)  # admitted ...
    store.put_pending(p, b"CS01a")
    store.published(p, time.time())  # ... and published
    fake = _Wan()
    publisher = Publisher(store, fake)  # type: ignore[arg-type]
    link = MqttTls("127.0.0.1", 1, Path("ca"), Path("cert"), Path("key"))
    router = WanRouter(link, (CHF,), on_back_online=publisher.redeliver)
    status_topic = wan.status_topic(CHF)

    async def statuses(*payloads: bytes) -> None:
        for payload in payloads:
            await router._on_message(status_topic, payload)

    asyncio.run(statuses(wan.ONLINE, wan.ONLINE))  # the gateway starts: the hub was online
    assert fake.sent == []
    asyncio.run(statuses(wan.OFFLINE, wan.ONLINE, wan.ONLINE))  # it lost its link, came back
    assert fake.sent == [(CHF, b"CS01a", p.deadline)]
    assert router.presence()[CHF.duis]["returns"] == 1
    record = store.request(p.request_id)
    assert record is not None
    assert [h["hop"] for h in record["hops"]] == ["wan.redelivered"]
    store.take_pending(p.device, p.counter, p.user)  # answered
    asyncio.run(statuses(wan.OFFLINE, wan.ONLINE))
    assert len(fake.sent) == 1 and publisher.redelivered == 1
    store.close()


# --- on the running rig ---------------------------------------------------------------------
def _cli(env, *args: str, timeout: float = 120):
    return rig_cli(*args, "--rig", str(env["file"]), state=env["dir"], timeout=timeout)


def _detail(env, name: str) -> dict:
    return component_detail(env["dir"], name)


def _balance(env) -> int:
    """The ESME's meter balance in millipence, read by 4.18 (ECS82) through the DCC."""
    proc = _cli(env, "supplier", "send", "4.18", "--target", "esme", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["values"]["meter_balance_millipence"]


def _inbox(
    env, *, request_id: str | None = None, kind: str | None = None, wait: float = 0.0
) -> list[dict]:
    """supplier-a's inbox (what the DCC delivered to it), waiting up to ``wait`` seconds."""
    client = DccUser.from_state(env["dir"], "supplier-a")

    async def read() -> list[dict]:
        async with aiohttp.ClientSession() as session:
            return await client.inbox(session, request_id=request_id, kind=kind, wait=wait)

    return asyncio.run(read())


def _alerts_from_esme(env, code: str) -> int:
    """How many alerts with ``code`` from the ESME reached supplier-a (read as it reads them)."""
    client = DccUser.from_state(env["dir"], "supplier-a")
    found = 0
    for entry in _inbox(env, kind="DeviceAlertMessage"):
        doc = client.verify(Path(entry["file"]).read_bytes())
        if doc.response_id and doc.response_id.originator == ESME and doc.alert_code == code:
            found += 1
    return found


class WanTap:
    """Every message on one hub's down and status topics while open, taken as one of the
    rig's read-only WAN observers (what `rig wan watch` sees), in a thread of its own."""

    def __init__(self, env, hub: Eui64) -> None:
        self.state = env["state"]
        self.hub = hub
        self.messages: list[tuple[str, bytes]] = []
        self._watching = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    def payloads(self, topic: str) -> list[bytes]:
        return [payload for t, payload in self.messages if t == topic]

    async def _watch(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        plan = Plan.load(self.state)
        assert plan is not None, "the rig is not up"
        link = broker_link(plan, self._observer.credential, Pki(self.state.pki))
        filters = [wan.down_topic(self.hub), wan.status_topic(self.hub)]

        def keep(topic: str, payload: bytes) -> bool:
            self.messages.append((topic, payload))
            return True

        with contextlib.suppress(asyncio.CancelledError):
            await watch(link, self._observer, filters, keep, notify=lambda _: self._watching.set())

    def __enter__(self) -> WanTap:
        self._observer = ObserverPool.of(self.state).take()
        self._thread = threading.Thread(target=asyncio.run, args=(self._watch(),), daemon=True)
        self._thread.start()
        assert self._watching.wait(15), "the WAN observer did not get onto the broker"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)
        self._observer.release()


def test_a_top_up_redelivered_after_the_hub_lost_its_wan_is_applied_once(env) -> None:
    """The hub drops its WAN link right after forwarding the CS01a onto the HAN; the meter
    applies it and answers into the hub's queue; the hub comes back, the DCC re-delivers the
    same bytes, the copy is discarded, the queued answer settles the request: £5, once."""
    down = wan.down_topic(CHF)
    assert send(env, "7.2", "esme").response_code == "I0"  # no load: nothing is spent
    try:
        before = _balance(env)
        hub0, esme0 = _detail(env, "chf"), _detail(env, "esme")
        with WanTap(env, CHF) as tap:
            armed = _cli(
                env, "wan", "drop", "--hub", "chf", "--seconds", f"{DROP_S:g}",
                "--after-command", "--json",
            )  # fmt: skip
            assert armed.returncode == 0, armed.stdout + armed.stderr
            assert json.loads(armed.stdout)["after_command"] is True
            started = time.monotonic()
            proc = _cli(env, "supplier", "topup", "--target", "esme", "--amount", "5", "--json")
            took = time.monotonic() - started
            assert proc.returncode == 0, proc.stdout + proc.stderr
            done = json.loads(proc.stdout)
            rid = done["request_id"]
            counter = int(rid.rsplit(":", 1)[1])

            def sent_down() -> list[bytes]:  # the command, as the broker passed it to the hub
                return [
                    p for p in tap.payloads(down) if GbcsMessage.decode(p).header.counter == counter
                ]

            wait_for(lambda: len(sent_down()) >= 2, 5, 0.1)
        assert done["response_code"] == "I0" and done["values"]["result"] == 0, done
        assert took >= DROP_S  # the answer waited in the hub's queue for the link

        # the link really died under the session: the broker published the hub's will
        statuses = tap.payloads(wan.status_topic(CHF))
        assert statuses[-2:] == [wan.OFFLINE, wan.ONLINE], statuses
        # the DCC re-delivered the command: the very same bytes (same GBCS counter)
        copies = sent_down()
        assert len(copies) == 2 and copies[0] == copies[1], [c.hex() for c in copies]
        record = trace_of(env["state"], rid)
        assert record is not None
        hops = [h["hop"] for h in record["hops"]]
        for hop, times in (("wan.published", 1), ("wan.redelivered", 1), ("wan.response", 1)):
            assert hops.count(hop) == times, hops
        assert hops.index("wan.redelivered") < hops.index("wan.response"), hops
        assert (record["outcome"], record["response_code"]) == ("responded", "I0")
        # one final response, and the copy was discarded (by the hub or by the meter)
        finals = _inbox(env, request_id=rid)
        assert [e["code"] for e in finals] == ["I0"], finals
        hub1, esme1 = _detail(env, "chf"), _detail(env, "esme")
        assert hub1["wan_commands_received"] - hub0["wan_commands_received"] == 2
        assert hub1["wan_drops"] == hub0["wan_drops"] + 1
        dropped = hub1["wan_duplicates_dropped"] - hub0["wan_duplicates_dropped"]
        discarded = esme1["gbcs"]["discarded"] - esme0["gbcs"]["discarded"]
        assert dropped + discarded == 1, (dropped, discarded)

        assert _balance(env) == before + TOP_UP_MILLIPENCE  # exactly £5

        # and the meter's own replay guard: the very bytes again, straight to it on the HAN
        replay = _cli(env, "han", "send", "--device", ESME.duis, "--timeout", "3", copies[0].hex())
        assert replay.returncode != 0 and "no answer" in replay.stderr, replay.stdout
        esme2 = _detail(env, "esme")
        assert esme2["gbcs"]["discarded"] == esme1["gbcs"]["discarded"] + 1
        assert _balance(env) == before + TOP_UP_MILLIPENCE  # still £5, once
    finally:
        assert send(env, "7.1", "esme").response_code == "I0"


def test_a_meter_killed_between_crediting_and_answering_keeps_the_credit_once(env) -> None:
    """The ESME is killed (SIGKILL) right after it applied a £5 top-up, before it answered;
    the supervisor restarts it: the balance has the £5 once, the request ends E21 (no
    response) at its deadline and with nothing else, and the same UTRN again is refused."""
    components = env["state"].run / "components.json"
    assert send(env, "7.2", "esme").response_code == "I0"  # no load: nothing is spent
    try:
        before = _balance(env)
        pid = component(env["dir"], "esme")["pid"]
        armed = _cli(env, "fault", "crash", "--node", "esme", "--at", "after-top-up", "--json")
        assert armed.returncode == 0, armed.stdout + armed.stderr
        assert json.loads(armed.stdout)["armed"] == ["after-top-up"]

        proc = _cli(env, "supplier", "topup", "--target", "esme", "--amount", "5",
                    "--wait", "0", "--json")  # fmt: skip
        done = json.loads(proc.stdout)
        assert done["acknowledgement"] == "I99", done
        rid, utrn_code = done["request_id"], done["utrn"]

        def back() -> bool:  # a new ESME process, joined again with its tunnel open
            comp = component(env["dir"], "esme")
            report = comp.get("report") or {}
            return (
                comp["pid"] not in (None, pid)
                and comp["health"] == "healthy"
                and bool((report.get("detail") or {}).get("han", {}).get("tunnel"))
            )

        assert wait_for(back, 60), "the ESME did not die and come back"
        assert read_json(components)["esme"]["last_exit"] == -9  # killed, as at the crash point

        assert _balance(env) == before + TOP_UP_MILLIPENCE  # the credit survived, once

        alerts = _alerts_from_esme(env, "8F51")
        again = _cli(env, "supplier", "topup", "--target", "esme", "--utrn", utrn_code, "--json")
        assert again.returncode == 1, again.stdout
        assert json.loads(again.stdout)["values"]["result"] != 0  # refused by the meter
        assert wait_for(lambda: _alerts_from_esme(env, "8F51") > alerts, 30), "no 8F51"
        assert _balance(env) == before + TOP_UP_MILLIPENCE  # still once

        # the truth for the first request: no answer came, so E21 at its deadline, and only that
        record = trace_of(env["state"], rid)
        assert record is not None
        deadline = record["received"] + response_times(env["rig"])["default"]
        finals = _inbox(env, request_id=rid, wait=max(0.0, deadline - time.time()) + 15)
        assert [e["code"] for e in finals] == ["E21"], finals
        record = trace_of(env["state"], rid)
        assert record is not None
        hops = [h["hop"] for h in record["hops"]]
        assert "han.sent" in hops and "wan.response" not in hops, hops  # it reached the meter
        assert (record["outcome"], record["response_code"]) == ("failed", "E21")
    finally:
        _cli(env, "fault", "clear", "--node", "esme")  # should the kill not have come
        assert send(env, "7.1", "esme").response_code == "I0"
