"""End to end on the virtual rig: a DCC User's signed DUIS through the gateway, the WAN, the
hub and the HAN to the meters and back, checked at the supplier (decoded, authenticated
values and codes) and at the device (relay state); bad input, outages and restarts.

When DCC's reference data is beside the checkout, the rig runs on the ZAZ1 credentials
and DCC's own npm tools sign the request and check the response.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from conftest import (
    DUIS_TOOL,
    VECTORS,
    component,
    component_detail,
    duis_tool,
    rig_cli,
    vectors,
    wait_for,
)
from lxml import etree

from rig.dccuser.client import DccUser, body_for
from rig.dccuser.tasks import send_request, trace_of
from rig.protocol.duis.message import parse_document, parse_response
from rig.protocol.duis.xml import SR, parse
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue import GCS13A
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.smki import Usage

RIG = Path(__file__).parent / "rigs" / "dcc.yaml"
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")
ZAZ1 = VECTORS / "smki" / "zaz1-keystore.json"


@pytest.fixture
def env(dcc_rig):
    """The end-to-end rig (tests/rigs/dcc.yaml), started once per session (conftest)."""
    return dcc_rig


def send(env, srv: str, target: str | None, **kw):
    params = kw.pop("params", {})
    return send_request(env["rig"], env["state"], srv, target, params, **kw)


def test_meter_reads_and_inventory(env) -> None:
    elec = send(env, "4.1.1", "esme")
    assert (elec.acknowledgement, elec.response_code) == ("I99", "I0"), elec
    assert elec.values["use_case"] == "ECS17b" and elec.values["authenticated_by"] == "mac"
    assert elec.values["active_import_wh"] > 12_000_000  # the ESME's live register
    again = send(env, "4.1.1", "esme")
    assert again.values["active_import_wh"] >= elec.values["active_import_wh"]  # advancing
    gas = send(env, "4.1.1", "gsme")  # queued at the hub until the GSME wakes and pulls it
    assert (gas.acknowledgement, gas.response_code) == ("I99", "I0"), gas
    assert gas.values["use_case"] == "GCS13a" and gas.values["volume_m3"] > 4000
    inv = send(env, "8.2", None, params={"DeviceID": "chf"})
    assert inv.acknowledgement == "I0"
    by_id = {d["DeviceID"]: d for d in inv.inventory}
    assert by_id["00-DB-12-34-56-78-90-A3"]["DeviceType"] == "GPF"
    assert by_id["00-DB-12-34-56-78-90-A5"]["DeviceStatus"] == "Decommissioned"
    assert {d["DeviceType"] for d in inv.inventory} == {
        "CHF",
        "GPF",
        "ESME",
        "GSME",
        "IHD",
        "PPMID",
    }
    record = trace_of(env["state"], gas.request_id)
    hops = [h["hop"] for h in record["hops"]]
    # the command the DCC sent is kept with the request: GCS13a to the GSME, MAC'd
    sent = GbcsMessage.decode(bytes.fromhex(record["command"]))
    assert sent.message_code == GCS13A.message_code and sent.mac is not None
    assert Eui64(sent.header.recipient) == env["rig"].node("gsme").eui
    for hop in (
        "duis.received",
        "wan.published",
        "hub.received",
        "han.queued",
        "hub.response",
        "wan.response",
        "duis.delivered",
    ):
        assert hop in hops, hops


def test_disable_arm_enable_drive_the_relay(env) -> None:
    def relay() -> int:
        return component_detail(env["dir"], "esme")["relay"]

    steps = [("7.2", "disabled", 0), ("7.3", "armed", 0), ("7.1", "enabled", 1)]
    for srv, state, pin in steps:
        out = send(env, srv, "esme")
        assert (out.acknowledgement, out.response_code) == ("I99", "I0"), out
        assert out.values["authenticated_by"] == "signature" and out.values["result"] == 0
        assert relay() == pin
        read = send(env, "7.4", "esme")
        assert read.values["supply"] == state


def test_a_power_cut_raises_the_supply_restored_alert(env) -> None:
    pid = component(env["dir"], "esme")["pid"]
    killed = time.time()
    os.kill(pid, signal.SIGKILL)  # the supervisor brings it back, as power does
    found = _device_alert(env, "network-operator", ESME, within=60, since=killed)
    assert found is not None, "no ECS80 alert reached the network operator"
    code, values = found
    assert code == "8F35" and values["use_case"] == "ECS80"
    assert values["authenticated_by"] == "signature"  # the ESME's DS key, from SMKI
    assert values["outage_start"] <= values["outage_end"]
    # the meter kept its state across the power cut: still answers, relay still closed
    assert send(env, "7.4", "esme").values["supply"] == "enabled"


def _device_alert(
    env, user: str, device: Eui64, within: float, code: str | None = None, since: float = 0.0
) -> tuple[str, dict] | None:
    """The first device alert from ``device`` (with ``code``, if given) in ``user``'s inbox,
    received at or after ``since`` (wall clock), waiting up to ``within`` seconds: its code
    and what it says, read as its recipient."""
    client = DccUser.from_state(env["dir"], user)

    async def poll():
        async with aiohttp.ClientSession() as session:
            for _ in range(int(within)):
                for e in await client.inbox(session, kind="DeviceAlertMessage"):
                    if Path(e["file"]).stat().st_mtime < since:
                        continue
                    doc = client.verify(Path(e["file"]).read_bytes())
                    sender = doc.response_id.originator if doc.response_id else None
                    if sender == device and code in (None, doc.alert_code):
                        return doc.alert_code, await client.read_gbcs(session, doc.gbcs_payload)
                await asyncio.sleep(1)
        return None

    return asyncio.run(poll())


def _post(env, url: str, body: bytes) -> tuple[int, str, str]:
    client = DccUser.from_state(env["dir"], "supplier-a")
    req = urllib.request.Request(
        f"{client.gateway.duis}/{url}", data=body, headers={"Content-Type": "application/xml"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status_code, raw, reason = resp.status, resp.read(), ""
    except urllib.error.HTTPError as err:
        status_code, raw, reason = err.code, err.read(), err.headers.get("X-Rig-Reason", "")
    code = (
        parse_response(parse(raw).getroot()).response_code
        if raw.startswith(b"<")
        else raw.decode().split()[0]  # the documented plain body: the code comes first
    )
    return status_code, code, reason


def test_bad_input_gets_its_duis_code_an_audit_entry_and_loses_nothing(env) -> None:
    a = DccUser.from_state(env["dir"], "supplier-a")
    b = DccUser.from_state(env["dir"], "supplier-b")
    operator = DccUser.from_state(env["dir"], "network-operator")
    read = body_for("7.4", {})

    def signed(user=a, srv="7.4", target=ESME, cv=1, counter=None, body=read, check=True) -> bytes:
        counter = counter or user.next_counter()
        return user.request(srv, target, cv, counter, body, check_schema=check)

    good = signed()
    unsigned = re.sub(rb"<ds:Signature.*</ds:Signature>", b"", good, flags=re.S)
    tampered = good.replace(
        b"<sr:ServiceReferenceVariant>7.4<", b"<sr:ServiceReferenceVariant>7.3<"
    )
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<sr:Request xmlns:sr='http://www.dccinterface.co.uk/ServiceUserGateway'>&x;</sr:Request>"
    )
    nonsense = b"<sr:Nonsense xmlns:sr='http://www.dccinterface.co.uk/ServiceUserGateway'/>"
    invalid = signed(body=etree.fromstring(nonsense), check=False)
    used = a.next_counter()
    cases = [
        ("unsigned", "serviceS", unsigned, "E1"),
        ("bad signature", "serviceS", tampered, "E1"),
        ("schema-invalid", "serviceS", invalid, "E100"),
        ("XXE", "serviceS", xxe, "E100"),
        ("oversized", "serviceS", good + b" " * 2_000_000, "E100"),
        (
            "wrong role",
            "serviceT",
            signed(user=operator, srv="7.2", cv=4, body=body_for("7.2", {})),
            "E2",
        ),
        ("not the ESME's supplier", "serviceS", signed(user=b), "E4"),
        (
            "unknown target",
            "serviceS",
            signed(target=Eui64.parse("00-DB-12-34-56-78-90-FF")),
            "E19",
        ),
        ("decommissioned", "serviceS", signed(target=Eui64.parse("00-DB-12-34-56-78-90-A5")), "E5"),
        ("critical as CV 1", "serviceS", signed(srv="7.2", body=body_for("7.2", {})), "E12"),
        ("wrong URL", "serviceT", signed(), "E13"),
        ("replayed counter", "serviceS", signed(counter=used), "I99"),
        ("replayed again", "serviceS", signed(counter=used), "E1"),
        ("lower counter", "serviceS", signed(counter=used - 5), "E1"),
    ]
    for name, url, body, want in cases:
        http, code, reason = _post(env, url, body)
        assert code == want, f"{name}: {code} ({reason})"
        assert (http == 200) == (want == "I99"), name
    audit = _audit(env)
    assert len([r for r in audit if r["code"] != "I99"]) >= len(cases) - 1
    assert any("XML signature" in (r["reason"] or "") for r in audit)
    # the rig still serves
    assert send(env, "7.4", "esme").response_code == "I0"


@pytest.mark.parametrize(
    ("template", "srv"),
    [
        ("DBCH04_6.28_SUCCESS_REQUEST_DUIS.XML", "6.28"),
        ("DBCH03_6.30_SUCCESS_REQUEST_DUIS.XML", "6.30"),
        ("DBCH02_6.32_SUCCESS_REQUEST_DUIS.XML", "6.32"),
    ],
)
def test_a_service_the_rig_cannot_serve_is_refused_with_its_reason(
    env, template: str, srv: str
) -> None:
    """The Sub GHz SRVs of a dual-band hub: E17, saying why, never a fake success."""
    body = parse_document(vectors("duis", "templates", template).read_bytes()).body
    user = DccUser.from_state(env["dir"], "supplier-a")
    counter, target = user.next_counter(), env["rig"].node("chf").eui
    request_id = f"{user.eui.duis}:{target.duis}:{counter}"
    http, code, reason = _post(env, "serviceS", user.request(srv, target, 1, counter, body))
    assert (http, code) == (400, "E17"), reason  # never I0
    assert f"SRV {srv} (" in reason and "Sub GHz" in reason and "2.4 GHz" in reason, reason
    row = next(r for r in _audit(env) if r["request_id"] == request_id)
    assert row["code"] == "E17" and row["reason"] == reason
    assert trace_of(env["state"], request_id) is None  # nothing was done with it


def _audit(env) -> list[dict]:
    import sqlite3

    db = sqlite3.connect(env["dir"] / "components" / "gateway" / "data" / "gateway.sqlite")
    rows = db.execute("SELECT sender, request_id, endpoint, code, reason FROM audit").fetchall()
    return [
        dict(zip(("sender", "request_id", "endpoint", "code", "reason"), r, strict=True))
        for r in rows
    ]


def test_the_gateway_keeps_no_register_plaintext(env) -> None:
    out = send(env, "4.1.1", "esme")
    value = out.values["active_import_wh"]
    gateway_dir = env["dir"] / "components" / "gateway"
    files = [p for p in gateway_dir.rglob("*") if p.is_file()]
    files.append(env["dir"] / "logs" / "gateway.log")
    assert any(p.name.startswith("gateway.sqlite") for p in files) and files[-1].exists()
    blobs = b"".join(p.read_bytes() for p in files)
    assert str(out.request_id).encode() in blobs  # the envelope is there...
    assert (
        value.to_bytes(4, "big") not in blobs and str(value).encode() not in blobs
    )  # ...not the letter


def test_hub_offline_reports_a_failure_and_the_late_command_never_runs(env) -> None:
    pid = component(env["dir"], "chf")["pid"]
    before = component_detail(env["dir"], "esme")["gbcs"]["accepted"]
    os.kill(pid, signal.SIGSTOP)
    try:
        out = send(env, "7.4", "esme", wait=60)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert out.acknowledgement == "I99" and out.response_code in ("E20", "E21"), out
    assert trace_of(env["state"], out.request_id)["outcome"] == "failed"
    time.sleep(5)  # the hub is back: the expired command must not reach the meter
    assert component_detail(env["dir"], "esme")["gbcs"]["accepted"] == before
    assert send(env, "7.4", "esme").response_code == "I0"


@pytest.mark.parametrize("victim", ["gateway", "broker"])
def test_a_restart_mid_request_loses_nothing(env, victim) -> None:
    healthy = lambda name: component(env["dir"], name).get("health") == "healthy"  # noqa: E731
    wait_for(lambda: healthy("gateway") and healthy("broker"), 60)
    client = DccUser.from_state(env["dir"], "supplier-b")
    gsme = Eui64.parse("00-DB-12-34-56-78-90-A1")
    out = asyncio.run(client.send("4.1.1", gsme, wait=0))  # queued for the sleepy GSME
    assert out.acknowledgement == "I99"
    time.sleep(0.5)
    proc = component(env["dir"], victim)
    os.kill(proc["pid"], signal.SIGKILL if victim == "gateway" else signal.SIGTERM)

    async def answer():
        async with aiohttp.ClientSession() as session:
            return await client.inbox(session, request_id=out.request_id, wait=60)

    entries = asyncio.run(answer())
    assert entries, f"no response to {out.request_id} after the {victim} restart"
    doc = client.verify(Path(entries[-1]["file"]).read_bytes())
    assert doc.response_code == "I0" and doc.gbcs_payload
    assert trace_of(env["state"], out.request_id)["outcome"] == "responded"


def test_dcc_tools_interoperate_with_the_gateway(env, tmp_path) -> None:
    if not ZAZ1.exists():
        pytest.skip(f"reference data {ZAZ1} is absent: the rig runs on generated credentials")
    if not (DUIS_TOOL.parent / "node_modules" / "@smartdcc").is_dir() or not shutil.which("java"):
        pytest.skip("DCC's npm tools are not installed (make test installs them in tools/npm)")
    template = VECTORS / "duis" / "templates" / "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML"
    client = DccUser.from_state(env["dir"], "supplier-a")
    counter = client.next_counter()
    request = tmp_path / "request.xml"
    request.write_bytes(template.read_bytes().replace(b":1000<", f":{counter}<".encode()))
    signed = duis_tool("sign", request)
    assert signed.returncode == 0, signed.stderr
    http, code, reason = _post(env, "serviceS", signed.stdout.encode())
    assert (http, code) == (200, "I99"), reason
    # the signing tool sets its own RequestID counter: read it back from what it signed
    rid = (
        parse(signed.stdout.encode())
        .getroot()
        .findtext("sr:Header/sr:RequestID", namespaces={"sr": SR})
    )
    counter = int(rid.rsplit(":", 1)[1])

    async def answer():
        async with aiohttp.ClientSession() as session:
            entries = await client.inbox(session, request_id=rid, wait=30)
            doc = client.verify(Path(entries[-1]["file"]).read_bytes())
            return entries[-1]["file"], await client.read_gbcs(session, doc.gbcs_payload)

    file, values = asyncio.run(answer())
    assert client.keys.find(ESME, Usage.KA).name.startswith("smki-")  # fetched from our SMKI
    assert values["authenticated_by"] == "mac" and values["active_import_wh"] > 0
    assert duis_tool("validate", Path(file)).returncode == 0
    parsed = duis_tool("parse", Path(file))
    assert parsed.returncode == 0, parsed.stderr
    header = json.loads(parsed.stdout)["header"]
    assert header["responseCode"] == "I0" and header["requestId"]["counter"] == str(counter)


def test_dcc_tools_accept_the_gateways_acknowledgements_and_refusals(env, tmp_path) -> None:
    """The signed I99 verifies in DCC's duis-sign-wrap; a refusal (here E100, a body that is
    not the SRV's) and an E17 parse in DCC's duis-parser with their codes."""
    if not ZAZ1.exists():
        pytest.skip(f"reference data {ZAZ1} is absent: the rig runs on generated credentials")
    if not (DUIS_TOOL.parent / "node_modules" / "@smartdcc").is_dir() or not shutil.which("java"):
        pytest.skip("DCC's npm tools are not installed (make test installs them in tools/npm)")
    user = DccUser.from_state(env["dir"], "supplier-a")

    def raw(url: str, body: bytes) -> bytes:
        req = urllib.request.Request(
            f"{user.gateway.duis}/{url}", data=body, headers={"Content-Type": "application/xml"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.read()
        except urllib.error.HTTPError as err:
            return err.read()

    read = body_for("4.1.1", {})
    cases = {
        "I99": raw("serviceS", user.request("4.1.1", ESME, 1, user.next_counter(), read)),
        "E100": raw(
            "serviceS",
            user.request("4.1.1", ESME, 1, user.next_counter(), body_for("7.2", {})),
        ),
        "E17": raw("serviceS", user.request("4.1.1", ESME, 3, user.next_counter(), read)),
    }
    for code, body in cases.items():
        path = tmp_path / f"{code}.xml"
        path.write_bytes(body)
        parsed = duis_tool("parse", path)
        assert parsed.returncode == 0, (code, parsed.stderr)
        assert json.loads(parsed.stdout)["header"]["responseCode"] == code
    assert duis_tool("validate", tmp_path / "I99.xml").returncode == 0


def test_a_top_up_through_the_dcc_adds_exactly_its_value_once(env) -> None:
    """2.2 (CS01a): £10 adds exactly 1000 pence to the ESME's meter balance, read by 4.18
    (ECS82), with the supply off so nothing is spent meanwhile; the same UTRN again is
    refused and the balance does not move. With the supply on, the balance falls at the
    active price."""

    def balance() -> int:
        proc = rig_cli(
            "supplier", "send", "4.18", "--target", "esme", "--json",
            "--rig", str(env["file"]), state=env["dir"],
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        values = json.loads(proc.stdout)["values"]
        assert isinstance(values["meter_balance_pence"], int)
        return values["meter_balance_millipence"]

    # the balance falls with consumption: 3600 W at 28.5 p/kWh is 28.5 millipence a second.
    # Each read is taken somewhere inside its CLI call (seconds on a loaded machine), so the
    # time between the two is bounded by the calls' ends and starts, plus a credit tick
    s0 = time.monotonic()
    first, t0 = balance(), time.monotonic()
    time.sleep(3)
    s1 = time.monotonic()
    second, t1 = balance(), time.monotonic()
    spent = first - second
    assert 0.5 * 28.5 * (s1 - t0 - 1) < spent < 28.5 * (t1 - s0 + 1), (spent, t1 - s0, s1 - t0)

    assert send(env, "7.2", "esme").response_code == "I0"  # no load: nothing is spent
    try:
        before = balance()
        proc = rig_cli(
            "supplier", "topup", "--target", "esme", "--amount", "10", "--json",
            "--rig", str(env["file"]), state=env["dir"],
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        done = json.loads(proc.stdout)
        assert len(done["utrn"]) == 20 and done["values"]["result"] == 0, done
        assert balance() == before + 1000 * 1000  # exactly £10, in millipence
        again = rig_cli(
            "supplier", "topup", "--target", "esme", "--utrn", done["utrn"], "--json",
            "--rig", str(env["file"]), state=env["dir"],
        )  # fmt: skip
        assert again.returncode == 1, again.stdout
        assert json.loads(again.stdout)["values"]["result"] == 1  # refused by the meter
        assert balance() == before + 1000 * 1000  # applied once
    finally:
        assert send(env, "7.1", "esme").response_code == "I0"
    # ... and the meter told its supplier why: a signed generic critical alert, 8F51
    found = _device_alert(env, "supplier-a", ESME, within=30, code="8F51")
    assert found is not None, "no 8F51 alert reached the supplier"
    alert = found[1]
    assert alert["use_case"] == "GCA" and alert["authenticated_by"] == "signature"
