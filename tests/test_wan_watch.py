"""Watching the SM WAN: the observers' identities, their read-only ACL, `rig wan watch`.

Most tests run a real mosquitto from a state folder planned and rendered as `rig up` does
(PKI, ACL, config, run plan), without the rest of the rig; the last one watches a request
travel through the whole virtual rig (module-scoped, started once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
from conftest import BIN, RIGS, collect_mqtt, component_detail, rig_cli, wait_for, wait_port

from rig.dccuser.tasks import send_request
from rig.description import load_rig
from rig.description.model import Isolation, Rig
from rig.lifecycle.observers import ObserverError, ObserverPool, ObserversBusy
from rig.pki.authority import Pki
from rig.plan import han_keys
from rig.plan.make import make_plan
from rig.plan.model import Plan, wan_hosts
from rig.plan.render import render
from rig.protocol import wan
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue import ECS17B
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.usecase import command
from rig.state import StateDir

TWO_HUBS = RIGS / "two-hubs.yaml"
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
QUIET_S = 1.0  # how long we listen for something that must not arrive


@dataclass
class PlannedRig:
    """A state folder as `rig up` leaves it (plan, PKI, rendered configs); of the rig's
    processes, the tests run at most the broker."""

    rig: Rig
    rig_file: Path
    state: StateDir
    plan: Plan
    port: int

    @property
    def pki(self) -> Pki:
        return Pki(self.state.pki)

    def client(self, identity: str) -> aiomqtt.Client:
        cred = self.pki.wan_client(identity)
        ctx = ssl.create_default_context(cafile=str(self.pki.wan_ca.cert))
        ctx.load_cert_chain(str(cred.cert), str(cred.key))
        return aiomqtt.Client(
            "127.0.0.1", self.port, identifier=identity, tls_context=ctx, timeout=5
        )

    def eui(self, name: str) -> Eui64:
        return self.rig.node(name).eui


@pytest.fixture
def planned(tmp_path: Path) -> PlannedRig:
    """Planned and rendered as by `rig up`, nothing started (as when the broker is down)."""
    rig = load_rig(TWO_HUBS)
    state = StateDir.open(tmp_path / "state")
    plan = make_plan(rig, state, Isolation.PROCESS)
    Pki(state.pki).ensure(rig, wan_hosts(plan))
    han_keys.ensure(rig, state)
    render(plan, rig, state)
    plan.save(state)
    return PlannedRig(rig, TWO_HUBS, state, plan, plan.ports["broker"])


def start_broker(planned: PlannedRig, mosquitto_bin: str) -> subprocess.Popen:
    """mosquitto with the config `rig up` rendered, as the supervisor starts it."""
    conf = planned.state.component("broker") / "mosquitto.conf"
    log = open(planned.state.log("broker"), "ab")  # noqa: SIM115
    return subprocess.Popen([mosquitto_bin, "-c", str(conf)], stdout=log, stderr=log)


@pytest.fixture
def wan_rig(planned: PlannedRig, mosquitto_bin: str, started: list) -> PlannedRig:
    started.append(start_broker(planned, mosquitto_bin))
    wait_port("127.0.0.1", planned.port)
    return planned


def gbcs_command(hub_device: Eui64, counter: int) -> bytes:
    return command(ECS17B, counter, SUPPLIER.raw, hub_device.raw).encode()


def gbcs_response(device: Eui64, counter: int) -> bytes:
    msg = GbcsMessage.build(Cra.RESPONSE, counter, device.raw, SUPPLIER.raw, 0x0027, b"\x00")
    return msg.encode()


class Watcher:
    """`rig wan watch` as a real process, started and known to be subscribed."""

    def __init__(self, proc: asyncio.subprocess.Process, identity: str, notice: str) -> None:
        self.proc, self.identity, self.notice = proc, identity, notice

    @classmethod
    async def start(cls, state: StateDir, rig_file: Path, *args: str) -> Watcher:
        proc = await asyncio.create_subprocess_exec(
            str(BIN / "rig"),
            "wan",
            "watch",
            "--rig",
            str(rig_file),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "RIG_STATE_DIR": str(state.root)},
        )
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        found = re.search(r"^watching (.*) on \S+ as (rig-observer-\d+)", line)
        if found is None:
            proc.kill()
            rest = await proc.stderr.read()
            raise AssertionError(f"the watcher did not start: {line}{rest.decode()}")
        return cls(proc, found[2], found[1])

    async def finish(self, timeout: float = 30) -> tuple[int, list[dict], str]:
        stdout, stderr = await asyncio.wait_for(self.proc.communicate(), timeout)
        assert self.proc.returncode is not None
        records = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
        return self.proc.returncode, records, stderr.decode()

    def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


async def rig_async(state: StateDir, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "rig"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "RIG_STATE_DIR": str(state.root), "COLUMNS": "200"},
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


# --- the observers' identities -----------------------------------------------------------------
def test_the_pool_hands_each_observer_its_own_identity(planned: PlannedRig) -> None:
    pool = ObserverPool.of(planned.state)
    taken = [pool.take() for _ in wan.OBSERVER_IDENTITIES]
    try:
        assert [o.identity for o in taken] == list(wan.OBSERVER_IDENTITIES)
        assert set(pool.holders()) == set(wan.OBSERVER_IDENTITIES)
        with pytest.raises(ObserversBusy) as busy:
            pool.take()
        message = str(busy.value)
        assert f"PIDs {os.getpid()}," in message and "rig wan watch" in message
        taken[3].release()  # one ends: its identity is free again, and only that one
        with pool.take() as again:
            assert again.identity == wan.OBSERVER_IDENTITIES[3]
    finally:
        for o in taken:
            o.release()
    assert pool.holders() == {}


def test_an_older_pki_gets_the_observers_certificates(planned: PlannedRig) -> None:
    pki = planned.pki
    for identity in wan.OBSERVER_IDENTITIES:  # as a state folder of an older version
        pki.wan_client(identity).cert.unlink()
        pki.wan_client(identity).key.unlink()
    with pytest.raises(ObserverError, match=r"`rig down` then `rig up`"):
        ObserverPool.of(planned.state).take()
    created = pki.ensure(planned.rig, wan_hosts(planned.plan))
    assert created == [f"WAN client certificate {i}" for i in wan.OBSERVER_IDENTITIES]
    with ObserverPool.of(planned.state).take() as observer:
        assert observer.credential.cert.exists()


# --- on a real broker ---------------------------------------------------------------------------
async def test_status_probe_and_two_watchers_do_not_disconnect_each_other(
    wan_rig: PlannedRig,
) -> None:
    a, b = wan_rig.eui("hub-a"), wan_rig.eui("hub-b")
    esme_a = wan_rig.eui("esme-a")
    every = await Watcher.start(wan_rig.state, wan_rig.rig_file, "--json", "--count", "3")
    only_a = await Watcher.start(
        wan_rig.state, wan_rig.rig_file, "--json", "--count", "2", "--hub", "esme-a"
    )
    try:
        assert every.identity != only_a.identity
        assert only_a.notice == f"{wan.down_topic(a)}, {wan.up_topic(a)}"  # a device: its hub
        async with wan_rig.client(wan.GATEWAY_IDENTITY) as gateway:
            await gateway.publish(wan.down_topic(b), gbcs_command(b, 1), qos=1)
            await gateway.publish(wan.down_topic(a), gbcs_command(esme_a, 2), qos=1)
        # a third observer connects while both watch: `rig status` probing the broker
        _code, stdout, _stderr = await rig_async(
            wan_rig.state, "status", "--json", "--rig", str(wan_rig.rig_file)
        )
        broker = next(c for c in json.loads(stdout)["components"] if c["name"] == "broker")
        assert broker["health"] == "healthy", broker
        probe_identity = re.search(r"as (rig-observer-\d+)", broker["detail"])
        assert probe_identity is not None, broker["detail"]
        assert probe_identity[1] not in (every.identity, only_a.identity)
        # both watchers are still there: a response that comes up after it reaches both
        async with wan_rig.client(wan.hub_identity(a)) as hub_a:
            await hub_a.publish(wan.up_topic(a), gbcs_response(esme_a, 2), qos=1)
        rc_every, seen_every, err_every = await every.finish()
        rc_a, seen_a, err_a = await only_a.finish()
    finally:
        every.stop()
        only_a.stop()
    assert (rc_every, rc_a) == (0, 0), err_every + err_a
    assert "lost the broker" not in err_every + err_a  # never disconnected, not even briefly
    assert [(r["hub"], r["direction"], r["counter"]) for r in seen_every] == [
        ("hub-b", "down", 1),
        ("hub-a", "down", 2),
        ("hub-a", "up", 2),
    ]
    assert [(r["hub"], r["direction"], r["counter"]) for r in seen_a] == [
        ("hub-a", "down", 2),
        ("hub-a", "up", 2),
    ]
    down, up = seen_a
    assert down["cra"] == "command" and up["cra"] == "response"
    assert (down["message_code"], down["use_case"]) == ("0027", "ECS17b")
    assert down["originator"] == SUPPLIER.duis and down["recipient"] == esme_a.duis
    assert down["size"] == len(gbcs_command(esme_a, 2))


async def test_a_message_it_cannot_decode_says_why_and_watching_goes_on(
    wan_rig: PlannedRig,
) -> None:
    a, esme_a = wan_rig.eui("hub-a"), wan_rig.eui("esme-a")
    good = gbcs_command(esme_a, 7)
    watcher = await Watcher.start(
        wan_rig.state, wan_rig.rig_file, "--json", "--decode", "--count", "3"
    )
    try:
        async with wan_rig.client(wan.GATEWAY_IDENTITY) as gateway:
            await gateway.publish(wan.down_topic(a), b"not GBCS at all", qos=1)
            await gateway.publish(wan.down_topic(a), good[:20], qos=1)  # cut short
            await gateway.publish(wan.down_topic(a), good, qos=1)
        code, seen, err = await watcher.finish()
    finally:
        watcher.stop()
    assert code == 0, err
    garbage, cut, decoded = seen
    assert garbage["error"].startswith("not a GBCS message") and garbage["size"] == 15
    assert cut["error"].startswith("not a GBCS message") and cut["size"] == 20
    assert "error" not in decoded and decoded["counter"] == 7
    assert decoded["decoded"]["payload_format"] == "dlms"
    assert decoded["decoded"]["mac_reason"] == "not MAC'd"  # a verdict, not a failure


@pytest.mark.parametrize("qos", [0, 1])
async def test_an_observer_cannot_publish_on_the_wan(wan_rig: PlannedRig, qos: int) -> None:
    a = wan_rig.eui("hub-a")
    with ObserverPool.of(wan_rig.state).take() as observer:
        async with (
            wan_rig.client(wan.hub_identity(a)) as hub_a,
            wan_rig.client(wan.GATEWAY_IDENTITY) as gateway,
        ):
            await hub_a.subscribe(wan.down_topic(a), qos=1)
            await gateway.subscribe(f"{wan.ROOT}/#", qos=1)
            with contextlib.suppress(aiomqtt.MqttError):  # a denied QoS 1 may cost the session
                async with wan_rig.client(observer.identity) as spy:
                    await spy.publish(wan.down_topic(a), gbcs_command(a, 666), qos=qos)
                    await spy.publish(wan.up_topic(a), gbcs_response(a, 666), qos=qos)
                    await spy.publish(wan.status_topic(a), wan.OFFLINE, qos=qos)
                    await asyncio.sleep(0.1)
            await gateway.publish(wan.down_topic(a), b"genuine command", qos=1)
            got_hub, got_gateway = await asyncio.gather(
                collect_mqtt(hub_a, QUIET_S), collect_mqtt(gateway, QUIET_S)
            )
    assert got_hub == [(wan.down_topic(a), b"genuine command")]  # only the control
    assert got_gateway == [(wan.down_topic(a), b"genuine command")]


async def test_ctrl_c_ends_watching_cleanly(wan_rig: PlannedRig) -> None:
    watcher = await Watcher.start(wan_rig.state, wan_rig.rig_file, "--all")
    try:
        watcher.proc.send_signal(signal.SIGINT)
        code, _seen, err = await watcher.finish()
    finally:
        watcher.stop()
    assert code == 0 and "Traceback" not in err, err
    assert ObserverPool.of(wan_rig.state).holders() == {}


async def test_watching_resumes_when_the_broker_comes_back(
    wan_rig: PlannedRig, mosquitto_bin: str, started: list
) -> None:
    a, esme_a = wan_rig.eui("hub-a"), wan_rig.eui("esme-a")
    watcher = await Watcher.start(wan_rig.state, wan_rig.rig_file, "--json", "--count", "1")
    try:
        broker = started[-1]
        broker.terminate()  # the supervisor restarts a broker that died: so does this test
        await asyncio.to_thread(broker.wait, 10)
        started.append(start_broker(wan_rig, mosquitto_bin))
        assert watcher.proc.stderr is not None
        lost = (await asyncio.wait_for(watcher.proc.stderr.readline(), 30)).decode()
        back = (await asyncio.wait_for(watcher.proc.stderr.readline(), 30)).decode()
        assert lost.startswith("lost the broker") and back.startswith("watching again"), lost
        async with wan_rig.client(wan.GATEWAY_IDENTITY) as gateway:
            await gateway.publish(wan.down_topic(a), gbcs_command(esme_a, 9), qos=1)
        code, seen, err = await watcher.finish()
    finally:
        watcher.stop()
    assert code == 0, err
    assert [(r["direction"], r["counter"]) for r in seen] == [("down", 9)]


def test_watch_says_what_to_do_when_the_broker_is_down(planned: PlannedRig) -> None:
    proc = rig_cli(
        "wan", "watch", "--seconds", "5", "--rig", str(TWO_HUBS), state=planned.state.root
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "cannot reach the WAN broker" in lines[0] and "`rig up`" in lines[0]
    assert proc.stdout == ""
    assert ObserverPool.of(planned.state).holders() == {}  # the identity was given back


def test_watch_on_a_rig_that_is_not_up_or_with_an_unknown_hub(tmp_path: Path) -> None:
    proc = rig_cli("wan", "watch", "--rig", str(TWO_HUBS), state=tmp_path / "state")
    assert proc.returncode == 3 and "`rig up`" in proc.stderr, proc.stderr
    proc = rig_cli(
        "wan", "watch", "--hub", "nowhere", "--rig", str(TWO_HUBS), state=tmp_path / "state"
    )
    assert proc.returncode == 2 and "hub-a" in proc.stderr, proc.stderr


# --- a request through the whole virtual rig ---------------------------------------------------
# a hub and its meters (the smallest whole rig), with every port on "auto"
SMALL_RIG = RIGS / "small-auto.yaml"


@pytest.fixture(scope="module")
def small_rig(tmp_path_factory: pytest.TempPathFactory):
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed (make test installs it)")
    base = tmp_path_factory.mktemp("wan-watch")
    state = base / "state"
    try:  # plain processes: quicker than namespaces, and the WAN is the same
        rig_cli(
            "up",
            "--rig",
            str(SMALL_RIG),
            "--isolation",
            "process",
            state=state,
            check=True,
            timeout=150,
        )
        rig = load_rig(SMALL_RIG)

        def tunnel() -> bool:
            detail = component_detail(state, "esme")
            return bool(detail.get("han", {}).get("tunnel"))

        assert wait_for(tunnel, 60), "the ESME never opened its tunnel"
        yield rig, StateDir.open(state)
    finally:
        rig_cli("down", "--rig", str(SMALL_RIG), state=state, timeout=60)


async def test_watch_shows_a_request_go_down_and_its_response_come_up(small_rig) -> None:
    rig, state = small_rig
    esme = rig.node("esme").eui
    plain = await Watcher.start(state, SMALL_RIG, "--json", "--count", "2", "--hub", "esme")
    decoding = await Watcher.start(state, SMALL_RIG, "--json", "--count", "2", "--decode")
    text = await Watcher.start(state, SMALL_RIG, "--count", "2", "--decode", "--seconds", "120")
    try:
        outcome = await asyncio.to_thread(send_request, rig, state, "4.1.1", "esme", {})
        assert (outcome.acknowledgement, outcome.response_code) == ("I99", "I0"), outcome
        rc_plain, seen, err_plain = await plain.finish(60)
        rc_dec, decoded, err_dec = await decoding.finish(60)
        stdout, stderr = await asyncio.wait_for(text.proc.communicate(), 60)
    finally:
        for w in (plain, decoding, text):
            w.stop()
    assert (rc_plain, rc_dec, text.proc.returncode) == (0, 0, 0), err_plain + err_dec
    assert len({plain.identity, decoding.identity, text.identity}) == 3
    down, up = seen
    assert (down["hub"], down["direction"], down["cra"]) == ("chf", "down", "command")
    assert (up["hub"], up["direction"], up["cra"]) == ("chf", "up", "response")
    for r in (down, up):
        assert (r["message_code"], r["use_case"]) == ("0027", "ECS17b")
        assert r["counter"] == down["counter"]  # the response answers that command
    assert down["recipient"] == up["originator"] == esme.duis
    assert "decoded" not in down and "values" not in up
    d_down, d_up = decoded
    assert d_down["decoded"]["mac_valid"] is True  # the ACB's MAC, checked with the rig's keys
    values = d_up["values"]
    assert values["use_case"] == "ECS17b" and values["authenticated_by"] == "mac"
    assert values["active_import_wh"] == outcome.values["active_import_wh"]
    lines = stdout.decode().splitlines()
    assert len(lines) == 4, stdout.decode() + stderr.decode()  # a line and its detail, twice
    assert " down " in lines[0] and "0027 ECS17b" in lines[0] and "mac ok" in lines[1]
    assert " up " in lines[2] and f"active_import_wh={values['active_import_wh']}" in lines[3]
