"""Top-up at the PPMID (issue 15): a UTRN keyed in at the prepayment interface goes to the
ESME over the HAN as the Prepayment cluster's Consumer Top Up, in the ZCL frames RTDS's
PCS01 and PCS02 carry to the GSME; the ESME applies it once (810E to the supplier), refuses
it again (8F51), locks local entry after refused UTRNs in a row (81C5) across a power cut,
and applies a UTRN keyed at the PPMID while the DCC's copy is in flight exactly once.

The first tests run in-process against RTDS 4.5.0; the others on the running virtual rig
(tests/rigs/dcc.yaml), where the balance is read by 4.18 with the supply off.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from conftest import component, component_detail, rig_cli, vectors, wait_for

from nodes.han.app import DEVICE_ENDPOINT, HanApp
from nodes.radio.api import ApsMessage
from nodes.roles.credit import DUPLICATE, NOT_AUTHENTIC, EmergencyCreditRefused, TopUpRefused
from nodes.roles.ppmid import _top_up
from nodes.roles.prepay_han import LOCKOUT_AFTER, LOCKOUT_S, LocalEntryLock, serve_prepayment
from rig.dccuser.client import DccUser
from rig.dccuser.tasks import send_request, top_up
from rig.plan.model import Plan
from rig.protocol import utrn
from rig.protocol.codec import unhex
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue import CREDIT_ADDED_LOCALLY, UTRN_LOCKED_OUT
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.smki import Usage
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import OriginatingDevice, TopUpResult

ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
PPMID = Eui64.parse("00-DB-12-34-56-78-90-A4")
PREPAYMENT = se.Prepayment.cluster_id


# --- in-process: the frames, byte for byte as RTDS has them ------------------------------------
def _zcl_of(folder: str, name: str) -> bytes:
    """The ZCL frame (header and payload) of an RTDS GBZ message's one component."""
    raw = unhex((vectors("gbcs", "rtds-4.5.0", folder) / f"{name}_GBCS.HEX").read_text())
    (component,) = gbz.decode(GbcsMessage.decode(raw).payload).components
    assert component.cluster == PREPAYMENT
    return component.zcl.encode() + component.payload


class Air:
    """A radio that keeps what the application sends, and hands it what arrives."""

    def __init__(self) -> None:
        self.sent: list[ApsMessage] = []
        self.deliver = None

    def on_message(self, handler) -> None:
        self.deliver = handler

    async def send(self, message: ApsMessage) -> None:
        self.sent.append(message)


def test_the_ppmids_top_up_and_the_meters_answer_are_pcs01s_zcl_frames() -> None:
    """The PPMID's Consumer Top Up is PCS01's command frame (originating device 0x02, the
    UTRN as an octet string); its answer is read from PCS01's response frame."""
    command = _zcl_of("NA_PCS01", "PCS01_NA_SUCCESS_COMMAND")
    response = _zcl_of("NA_PCS01", "PCS01_NA_SUCCESS_RESPONSE")
    code = zcl.decode(PREPAYMENT, command).field("top_up_code")
    air = Air()
    app = HanApp(air, PPMID)
    app._tsn = command[1] - 1  # the next transaction number is RTDS's

    async def exchange() -> zcl.ZclFrame:
        sending = asyncio.create_task(
            app.send_command(
                ESME,
                PREPAYMENT,
                "consumer_top_up",
                originating_device=OriginatingDevice.IN_HOME_DISPLAY_DEVICE,
                top_up_code=code,
            )
        )
        while not air.sent:
            await asyncio.sleep(0)
        await air.deliver(ApsMessage(ESME, PREPAYMENT, response))
        return await sending

    answer = asyncio.run(exchange())
    assert air.sent[0].payload == command
    assert air.sent[0].dst_ep == DEVICE_ENDPOINT
    record = _top_up(answer)  # what the PPMID shows and `rig ppmid topup --json` prints
    assert record["result"] == "accepted" and record["status"] == 0
    assert record["top_up_pence"] == 2025 == utrn.parse(bytes(code).decode())[0]
    assert record["credit_remaining_pence"] == 4525


def _meter(tmp_path: Path, apply=None, activate=None) -> SimpleNamespace:
    """An ESME as prepay_han sees one: its HAN application, credit, UTRNs and alerts."""
    raised: list[int] = []

    async def _raise(code: int, recipient=None) -> None:
        raised.append(code)

    meter = SimpleNamespace(
        app=HanApp(Air(), ESME),
        config=SimpleNamespace(state_dir=tmp_path, eui=ESME),
        behaviour=SimpleNamespace(utrn_lockout_s=60.0),
        credit=SimpleNamespace(millipence=4_525_000),
        apply_utrn=apply,
        activate_emergency_credit=activate,
        spawn=lambda coro, name: asyncio.get_running_loop().create_task(coro),
        _raise=_raise,
        raised=raised,
    )
    serve_prepayment(meter)
    return meter


def _key_in(meter: SimpleNamespace, frame: bytes) -> bytes:
    """Deliver ``frame`` from the PPMID to the meter's endpoint; what the meter answers."""

    async def deliver() -> bytes:
        before = len(meter.app.radio.sent)
        await meter.app._on_message(ApsMessage(PPMID, PREPAYMENT, frame))
        await asyncio.sleep(0)  # the alerts it spawned
        (answer,) = meter.app.radio.sent[before:]
        assert answer.peer == PPMID
        return answer.payload

    return asyncio.run(deliver())


def test_the_esme_answers_a_top_up_as_pcs01s_response(tmp_path) -> None:
    """Accepted: result 0, the value and the credit left in millipence, as RTDS's PCS01
    response has them, byte for byte; refused: the result names why."""
    command = _zcl_of("NA_PCS01", "PCS01_NA_SUCCESS_COMMAND")
    keyed: list[tuple[str, bool]] = []

    def apply(code: str, *, local: bool):
        keyed.append((code, local))
        return SimpleNamespace(pence=2025)

    meter = _meter(tmp_path, apply=apply)
    assert _key_in(meter, command) == _zcl_of("NA_PCS01", "PCS01_NA_SUCCESS_RESPONSE")
    assert keyed == [("73941656880950804485", True)]

    def duplicate(code: str, *, local: bool):
        raise TopUpRefused(DUPLICATE, "already used")

    answer = zcl.decode(PREPAYMENT, _key_in(_meter(tmp_path / "b", apply=duplicate), command))
    assert answer.field("result_type") == TopUpResult.REJECTED_DUPLICATE_TOP_UP
    assert answer.field("top_up_value") == 0 and answer.field("credit_remaining") == 4_525_000


def test_the_esme_answers_emergency_credit_as_pcs02s_default_response(tmp_path) -> None:
    command = _zcl_of("NA_PCS02", "PCS02_NA_SUCCESS_COMMAND")
    asked: list[str] = []
    meter = _meter(tmp_path, activate=asked.append)
    assert _key_in(meter, command) == _zcl_of("NA_PCS02", "PCS02_NA_SUCCESS_RESPONSE")
    assert asked == ["PPMID"]

    def none_offered(source: str) -> None:
        raise EmergencyCreditRefused("none on offer")

    refused = _key_in(_meter(tmp_path / "b", activate=none_offered), command)
    answer = zcl.decode(PREPAYMENT, refused)
    assert answer.name == "Default_Response" and answer.field("status") == zcl.Status.FAILURE


def test_a_command_the_meter_does_not_serve_gets_unsup_cluster_command(tmp_path) -> None:
    meter = _meter(tmp_path)
    price = se.Price.cluster_id
    body = zcl.command(price, "get_current_price", 9, default_response=True, command_options=0)

    async def deliver() -> zcl.ZclFrame:
        await meter.app._on_message(ApsMessage(PPMID, price, body))
        (answer,) = meter.app.radio.sent
        return zcl.decode(price, answer.payload)

    answer = asyncio.run(deliver())
    assert answer.name == "Default_Response" and answer.tsn == 9
    assert answer.field("status") == zcl.Status.UNSUP_CLUSTER_COMMAND


def test_local_entries_that_do_not_authenticate_lock_the_keypad_once_across_a_power_cut(
    tmp_path,
) -> None:
    good = zcl.command(
        PREPAYMENT, "consumer_top_up", 1, default_response=True, originating_device=2,
        top_up_code=b"73941656880950804485",
    )  # fmt: skip
    accept = True

    def apply(code: str, *, local: bool):
        if accept:
            return SimpleNamespace(pence=100)
        raise TopUpRefused(NOT_AUTHENTIC, "mistyped")

    def duplicate(code: str, *, local: bool):
        raise TopUpRefused(DUPLICATE, "already used")

    def result(meter) -> TopUpResult:
        return zcl.decode(PREPAYMENT, _key_in(meter, good)).field("result_type")

    meter = _meter(tmp_path, apply=apply)
    accept = False
    for n in range(LOCKOUT_AFTER - 1):
        assert result(meter) == TopUpResult.REJECTED_INVALID_TOP_UP
        if n == 1:  # an authentic UTRN already used: not a guess, and it ends no run
            meter.apply_utrn = duplicate
            for _ in range(LOCKOUT_AFTER):
                assert result(meter) == TopUpResult.REJECTED_DUPLICATE_TOP_UP
            meter.apply_utrn = apply
    meter = _meter(tmp_path, apply=apply)  # a power cut: the count is kept
    assert result(meter) == TopUpResult.REJECTED_INVALID_TOP_UP  # the last try locks
    assert meter.raised == [UTRN_LOCKED_OUT]
    accept = True
    assert result(meter) == TopUpResult.REJECTED_KEYPAD_LOCK  # even a good code
    meter = _meter(tmp_path, apply=apply)  # a power cut: still locked
    assert result(meter) == TopUpResult.REJECTED_KEYPAD_LOCK
    assert meter.raised == []  # 81C5 once, when it locked

    lock = LocalEntryLock.load(tmp_path / "local_entry.json")
    now = time.time()
    assert lock.locked(now) and not lock.locked(now + LOCKOUT_S + 1)
    lock.locked_until = now + 10 * LOCKOUT_S  # as if the clock had been set back
    assert lock.locked(now) and not lock.locked(now + LOCKOUT_S + 1)
    assert LocalEntryLock.load(lock.path).locked_until == now + LOCKOUT_S


# --- on the running rig ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(dcc_rig):
    """The end-to-end rig, with its PPMID joined and the ESME reachable."""
    assert "ppmid" in {n.name for n in dcc_rig["rig"].nodes}, "tests/rigs/dcc.yaml has no PPMID"
    assert wait_for(lambda: _detail(dcc_rig, "ppmid").get("han", {}).get("tunnel"), 60), (
        "the PPMID did not join the HAN"
    )
    return dcc_rig


def _detail(env, name: str) -> dict:
    return component_detail(env["dir"], name)


def _pid(env, name: str) -> int | None:
    return component(env["dir"], name).get("pid")


def _send(env, srv: str) -> None:
    out = send_request(env["rig"], env["state"], srv, "esme", {})
    assert (out.acknowledgement, out.response_code) == ("I99", "I0"), out


def _balance(env) -> int:
    """The ESME's meter balance by 4.18 (ECS82), in millipence."""
    out = send_request(env["rig"], env["state"], "4.18", "esme", {})
    assert out.response_code == "I0", out
    return out.values["meter_balance_millipence"]


@cache
def _supplier(state_dir: Path) -> tuple[DccUser, object, object]:
    """The ESME's supplier, its prepayment key and the ESME's KA key (from SMKI)."""
    client = DccUser.from_state(state_dir, "supplier-a")

    async def meter_key():
        async with aiohttp.ClientSession() as session:
            return (await client.device_certificate(session, ESME, Usage.KA)).public_key()

    pp = client.keys.private(client.eui, Usage.PP_KA)
    assert pp is not None and pp.private_key is not None
    return client, pp.private_key, asyncio.run(meter_key())


def _utrn(env, pence: int) -> str:
    """A fresh UTRN for the ESME from its supplier (the next counter block, GBCS 14)."""
    client, pp, meter_ka = _supplier(env["dir"])
    top = utrn.TopUp(pence, utrn.ValueClass.PENNIES, client.next_utrn_counter())
    return utrn.make(top, client.eui.raw, ESME.raw, pp, meter_ka)


def _keyed(env, code: str, *options: str, check: bool = True) -> tuple[int, dict | None]:
    """`rig ppmid topup CODE --json`: its exit code and the meter's answer as the PPMID
    records it (None, unless ``check``, when the meter could not be reached)."""
    proc = rig_cli(
        "ppmid", "topup", code, "--json", *options, "--rig", str(env["file"]), state=env["dir"]
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    if not proc.stdout.strip():
        assert not check, proc.stderr  # an error, said on stderr
        return proc.returncode, None
    return proc.returncode, json.loads(proc.stdout)


def _post_keypad(env, code: str) -> dict:
    """The same keypad, straight to the PPMID's endpoint (as a bench script would)."""
    address = Plan.load(env["state"]).component("ppmid").address
    req = urllib.request.Request(f"http://{address}/ppmid/topup?code={code}", method="POST")
    with urllib.request.urlopen(req, timeout=30) as rsp:
        return json.loads(rsp.read())


def _alerts(env, code: int, since: float) -> int:
    """How many alerts ``code`` from the ESME reached its supplier since ``since``."""
    client = DccUser.from_state(env["dir"], "supplier-a")

    async def count() -> int:
        async with aiohttp.ClientSession() as session:
            n = 0
            for e in await client.inbox(session, kind="DeviceAlertMessage"):
                if e["at"] < since:
                    continue
                doc = client.verify(Path(e["file"]).read_bytes())
                sender = doc.response_id.originator if doc.response_id else None
                n += sender == ESME and doc.alert_code == f"{code:04X}"
            return n

    return asyncio.run(count())


@pytest.fixture
def supply_off(env):
    """No load while the balance is measured: the supply off (7.2), on again after (7.1)."""
    _send(env, "7.2")
    try:
        yield
    finally:
        _send(env, "7.1")


def test_a_ppmid_top_up_adds_exactly_its_value_once(env, supply_off) -> None:
    """£5 keyed in at the PPMID adds exactly 500 pence (read by 4.18 and by the PPMID over
    the HAN) and 810E reaches the supplier; the same UTRN again is refused with 8F51 and
    the balance does not move."""
    since, before = time.time(), _balance(env)
    code = _utrn(env, 500)
    rc, record = _keyed(env, code)
    assert rc == 0 and record["result"] == "accepted", record
    assert (record["target"], record["utrn"], record["top_up_pence"]) == ("esme", code, 500)
    assert _balance(env) == before + 500 * 1000
    assert record["credit_remaining_pence"] == (before + 500 * 1000) // 1000
    assert wait_for(lambda: _alerts(env, CREDIT_ADDED_LOCALLY, since), 30), "no 810E"
    # the PPMID shows the new balance, read from the ESME's Prepayment cluster
    shown = wait_for(
        lambda: (
            (_detail(env, "ppmid").get("display") or {}).get("credit_pence")
            == (before + 500 * 1000) // 1000
        ),
        30,
    )
    assert shown, _detail(env, "ppmid").get("display")

    again_since = time.time()
    rc, again = _keyed(env, code)
    assert rc == 1 and again["result"] == "refused", again
    assert again["alert"] == "8F51" and again["status"] == TopUpResult.REJECTED_DUPLICATE_TOP_UP
    assert _balance(env) == before + 500 * 1000  # applied once
    assert wait_for(lambda: _alerts(env, 0x8F51, again_since), 30), "no 8F51"
    assert _alerts(env, CREDIT_ADDED_LOCALLY, since) == 1  # and 810E only for the first


def test_emergency_credit_not_on_offer_is_refused_and_changes_nothing(env, supply_off) -> None:
    """Above the emergency credit threshold the ESME offers none: the PPMID's key gets the
    meter's refusal (Default Response FAILURE) and the balance does not move."""
    before = _balance(env)
    proc = rig_cli(
        "ppmid", "emergency-credit", "--json", "--rig", str(env["file"]), state=env["dir"]
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    assert record["result"] == "refused" and record["status_name"] == "FAILURE", record
    assert _balance(env) == before


def test_the_same_utrn_at_the_ppmid_and_through_the_dcc_is_applied_once(env, supply_off) -> None:
    """Each round fires one fresh UTRN through the DCC (2.2, CS01a) and at the PPMID at
    once, the PPMID's a little later each round, so either may reach the meter first:
    exactly one is accepted, the other is refused as a duplicate (8F51), and the balance
    rises by exactly one top-up per round."""
    rounds, pence = int(os.environ.get("RIG_PPMID_RACE_ROUNDS", "8")), 100
    since, before = time.time(), _balance(env)
    winners = {"dcc": 0, "ppmid": 0}

    def through_the_dcc(code: str):
        return top_up(env["rig"], env["state"], "esme", utrn_code=code)

    def at_the_ppmid(code: str, delay: float) -> dict:
        time.sleep(delay)  # staggers the two copies: this is the race, not a wait
        return _post_keypad(env, code)

    with ThreadPoolExecutor(2) as pool:
        for n in range(rounds):
            code = _utrn(env, pence)
            dcc = pool.submit(through_the_dcc, code)
            local = pool.submit(at_the_ppmid, code, 0.2 * n / rounds)
            outcome, record = dcc.result(timeout=120), local.result(timeout=120)
            dcc_applied = outcome.values.get("result") == 0
            assert dcc_applied != (record["result"] == "accepted"), (n, outcome, record)
            winners["dcc" if dcc_applied else "ppmid"] += 1
            if dcc_applied:  # the PPMID lost: the meter told it why
                assert record["alert"] == "8F51", record
            else:  # the DCC lost: the meter refused CS01a
                assert outcome.values.get("result") == 1, outcome
    print(f"race winners over {rounds} rounds: {winners}")
    assert _balance(env) == before + rounds * pence * 1000
    # the loser of each round got 8F51, and nothing else was refused
    assert wait_for(lambda: _alerts(env, 0x8F51, since) >= rounds, 30)
    assert _alerts(env, 0x8F51, since) == rounds


def test_refused_local_entries_lock_out_the_keypad_across_a_power_cut(env, supply_off) -> None:
    """After 5 refused UTRNs in a row the ESME refuses local entry (even a good code) for
    its lockout period and raises 81C5 once; a power cut does not end the lockout; then the
    good code is accepted."""
    rc, record = _keyed(env, _utrn(env, 100))  # an accepted entry: the count starts at 0
    assert rc == 0, record
    since, before = time.time(), _balance(env)
    good = _utrn(env, 200)
    mistyped = [good[:-1] + str((int(good[-1]) + k) % 10) for k in range(1, LOCKOUT_AFTER + 1)]
    for code in mistyped:
        rc, record = _keyed(env, code)
        assert rc == 1 and record["status"] == TopUpResult.REJECTED_INVALID_TOP_UP, record
    assert wait_for(lambda: _alerts(env, UTRN_LOCKED_OUT, since), 30), "no 81C5"
    rc, record = _keyed(env, good)
    assert rc == 1 and record["status"] == TopUpResult.REJECTED_KEYPAD_LOCK, record
    assert "locked" in record["reason"]

    pid = _pid(env, "esme")
    os.kill(pid, signal.SIGKILL)  # a power cut; the supervisor brings it back
    assert wait_for(lambda: _pid(env, "esme") not in (None, pid), 30)
    # back on the HAN, the meter still refuses local entry
    record = wait_for(lambda: _keyed(env, good, check=False)[1], 60, every=1)
    assert record and record["status"] == TopUpResult.REJECTED_KEYPAD_LOCK, record
    assert _balance(env) == before

    def keyed_again() -> dict | None:
        rc, record = _keyed(env, good, check=False)
        return record if rc == 0 else None

    accepted = wait_for(keyed_again, LOCKOUT_S + 30, every=3)  # the rig locks for 40 s
    assert accepted and accepted["top_up_pence"] == 200, accepted
    assert _balance(env) == before + 200 * 1000
    assert _alerts(env, UTRN_LOCKED_OUT, since) == 1  # once, when it locked
