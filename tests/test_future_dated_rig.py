"""A future-dated command the device holds survives a restart of the device (issue 17), on
the running rig (tests/rigs/dcc.yaml): 1.1.1 ECS01a from DCC's template, its prices the
test's own and its ExecutionDateTime 45 s ahead, is accepted by the ESME; the ESME process
is then restarted by the supervisor; before the time 4.11.1 still reads the tariff in
force, and at the time the ESME activates the held one (4.11.1 reads its prices) and its
supplier gets the future-dated execution alerts (8F66).

DUIS gives 7.2 (Disable Supply) no ExecutionDateTime (its schema type is empty and the SRV
matrix's future-dated pattern for it is "No"), so the device-held future-dated command of
this test is a tariff, whose SRV DUIS lets a supplier date."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from conftest import component, wait_for
from lxml import etree
from test_e2e_dcc import _device_alert
from test_tariff import _template

from rig.dccuser.client import DccUser
from rig.dccuser.tasks import default_user, device_of
from rig.protocol.duis.message import parse_document
from rig.protocol.duis.xml import NS, SR
from rig.virtual.supervisor import control
from tests.conftest import vectors

AHEAD_S = 75.0  # room for the restart and the ESME's rejoin on a loaded machine


def _dated_tou_body(prices: tuple[int, int, int], at: dt.datetime) -> etree._Element:
    body = _template("IMMEDIATE_TOU").body
    for price, value in zip(body.iterfind(".//sr:TOUPrice", NS), prices, strict=True):
        price.text = str(value)
    when = etree.Element(f"{{{SR}}}ExecutionDateTime")
    when.text = at.strftime("%Y-%m-%dT%H:%M:%S.00Z")
    body.insert(0, when)  # first, as FutureDatedAbstractType has it
    return body


def _tunnel_open(env, name: str, pid: int) -> bool:
    """Whether node ``name``, running as process ``pid`` (the restarted one), has its tunnel."""
    comp = component(env["dir"], name)
    detail = (comp.get("report") or {}).get("detail") or {}
    return comp.get("pid") == pid and bool(detail.get("han", {}).get("tunnel"))


def test_a_future_dated_tariff_survives_a_restart_of_the_esme_and_comes_at_its_time(
    dcc_rig,
) -> None:
    env = dcc_rig
    esme = device_of(env["rig"], "esme")
    client = DccUser.from_state(env["dir"], default_user(env["rig"], esme, env["state"]))
    read_body = parse_document(
        vectors("duis", "templates", "ECS24_4.11.1_SUCCESS_REQUEST_DUIS.XML").read_bytes()
    ).body

    def prices_in_force() -> list[int]:
        back = asyncio.run(client.send("4.11.1", esme, body=read_body, wait=60))
        assert back.response_code == "I0", back
        return back.values["tou_prices"][:3]

    before = prices_in_force()
    prices = tuple(p + 111 for p in (2100, 2200, 2300))
    assert list(prices) != before
    sent_at = time.time()
    at = dt.datetime.fromtimestamp(sent_at + AHEAD_S, dt.UTC).replace(microsecond=0)
    out = asyncio.run(client.send("1.1.1", esme, body=_dated_tou_body(prices, at), wait=60))
    assert out.response_code == "I0", out  # accepted, held by the ESME
    assert prices_in_force() == before  # not at once

    restarted = asyncio.run(control(env["state"], "restart", "esme"))
    assert restarted.get("ok") and restarted.get("restarts"), restarted
    # the ESME rejoins the HAN and reopens its tunnel (a command sent before is lost: E21)
    assert wait_for(lambda: _tunnel_open(env, "esme", restarted["pid"]), 120), "no rejoin"
    if time.time() < at.timestamp() - 10:
        assert prices_in_force() == before  # still held, after the restart
    alert = _device_alert(env, client.name, esme, AHEAD_S + 90, code="8F66", since=sent_at)
    assert alert is not None, "no 8F66 future-dated execution alert"
    assert time.time() >= at.timestamp()  # at its time, not before
    assert wait_for(lambda: prices_in_force() == list(prices), 60), prices_in_force()
