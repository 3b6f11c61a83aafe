"""2.1 Update Prepay Configuration for a GSME (GCS05), future-dated and cancelled (issue 17),
as RTDS 4.5.0 has them: DCC's FUTURE_DATED and CANCELLATION templates transform to RTDS's
pre-commands (the ExecutionDateTime, or ZCL's latest, in each dated component); the GSME
answers RTDS's future-dated command as RTDS does, holds it (a restart keeps it), carries it
out at its time on its clock and sends RTDS's six 8F66 alerts; RTDS's cancellation drops
what it holds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import aiohttp
import pytest
from conftest import wait_for

import gateway.transform.gas_prepayment as gas_transform
from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.roles.gas_prepay import GasPrepay
from rig.dccuser.client import DccUser
from rig.dccuser.tasks import default_user, device_of
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import GCS05, GCS21B
from rig.protocol.gbcs.catalogue_gas_tariff import GBZ_FDA
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, given_argument
from tests.test_gas_prepay_config import CONFIGURATION, _update
from tests.test_gas_prepay_settings import _send
from tests.test_gas_prepayment import (  # noqa: F401 (pki: a fixture used here)
    GSME,
    RTDS_SUPPLIER,
    Gas,
    _rtds,
    _template,
    pki,
)
from tests.test_gas_tariff import _alert_body, _until

RTDS_ISSUED = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)  # RTDS's issuer event id, 0x1C374A80
RTDS_AT = 948013200  # the templates' ExecutionDateTime, 2030-01-15T09:00:00Z (ZigBee time)
GCS05_RTDS = "2.1_GCS05/GCS05_2.1_{}_SUCCESS_{}"
ALERTS = "2.1_GCS05/GCS05_2.1_8F66_FUTURE_DATED_SUCCESS_ALERT_{}"
ALERTED = (  # RTDS's 8F66 alerts, in the order the GSME carries the commands out
    "EMERGENCY_CREDIT_SETUP",
    "SET_OVERALL_DEBT_CAP",
    "SET_LOW_CREDIT_WARNING_LEVEL",
    "SET_MAXIMUM_CREDIT_LIMIT",
    "PUBLISH_CALENDAR",
    "PUBLISH_SPECIAL_DAYS",
)


# --- the DCC's transform, byte for byte ----------------------------------------------------------
@pytest.mark.parametrize(
    ("variant", "counter"), [("IMMEDIATE", 1000), ("FUTURE_DATED", 1001), ("CANCELLATION", 1002)]
)
def test_each_variant_transforms_to_rtdss_pre_command(monkeypatch, variant, counter) -> None:
    monkeypatch.setattr(gas_transform, "now", lambda: RTDS_ISSUED)  # stated: RTDS's time
    fn = transform_for(GCS05)
    assert fn is not None
    request = _template(f"GCS05_2.1_{variant}_SUCCESS")
    pre = fn(GCS05, TransformInput(request, counter, RTDS_SUPPLIER, GSME))
    assert pre.is_pre_command
    assert pre.encode() == _rtds(GCS05_RTDS.format(variant, "PRECOMMAND")).encode()
    assert check_command(_rtds(GCS05_RTDS.format(variant, "COMMAND")), cat.CATALOGUE) is GCS05


def test_a_past_execution_date_time_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(gas_transform, "now", lambda: dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
    fn = transform_for(GCS05)
    assert fn is not None
    request = _template("GCS05_2.1_FUTURE_DATED_SUCCESS")
    with pytest.raises(TransformRefused, match="is past: give a later one") as refused:
        fn(GCS05, TransformInput(request, 1001, RTDS_SUPPLIER, GSME))
    assert refused.value.code == codes.NOT_DUIS


# --- the GSME ------------------------------------------------------------------------------------
@pytest.fixture
async def gas(pki, tmp_path):
    setup = Gas(pki, tmp_path)
    yield setup
    await setup.close()


def _argument(variant: str) -> tuple[bytes, ...]:
    argument = given_argument(GCS05, _rtds(GCS05_RTDS.format(variant, "COMMAND")).payload)
    assert isinstance(argument, tuple) and len(argument) == 12
    return argument


def _prepay(gas: Gas) -> GasPrepay:
    prepay = gas.gsme.gas_prepay
    assert isinstance(prepay, GasPrepay)
    return prepay


def _settings(gas: Gas) -> tuple[int, ...]:
    credit = gas.gsme.credit
    assert credit is not None
    s = credit.settings
    return (
        s.emergency_credit_pence,
        s.emergency_credit_threshold_pence,
        s.low_credit_pence,
        s.max_meter_balance_pence,
        s.max_credit_pence,
    )


def _execution_alerts(gas: Gas) -> list:
    return [m for m in gas.hub.up if m.header.message_code == GBZ_FDA.message_code]


async def test_a_future_dated_gcs05_is_held_across_a_restart_and_carried_out_at_its_time(
    gas: Gas, pki, tmp_path: Path
) -> None:
    """RTDS's future-dated GCS05 (2030-01-15 09:00): answered as RTDS does, nothing changed,
    held (a restart keeps it), not carried out a second early, carried out at its time on
    the GSME's clock (GCS21b reads RTDS's values), each dated command's 8F66 alert sent to
    the requester as RTDS's are."""
    before = _settings(gas)
    answer = await gas.ask(GCS05, _argument("FUTURE_DATED"))
    assert answer.payload == _rtds(GCS05_RTDS.format("FUTURE_DATED", "RESPONSE")).payload
    assert _settings(gas) == before
    assert _prepay(gas).next_due() == gbz.ZIGBEE_EPOCH + RTDS_AT
    await gas.close()
    again = Gas(pki, tmp_path)  # the GSME restarted, from its state folder
    again.counter = gas.counter
    due = gbz.from_zigbee_time(RTDS_AT)
    try:
        prepay = _prepay(again)
        assert len(prepay.held["commands"]) == 12
        prepay.now = lambda: due - dt.timedelta(seconds=1)
        again.gsme.register()  # its credit engine's tick: the wait for what it holds begins
        await asyncio.sleep(1.5)
        assert prepay.held and _settings(again) == before  # not before its time
        prepay.now = lambda: due
        await _until(lambda: len(_execution_alerts(again)) == len(ALERTED))
        assert not prepay.held and prepay.next_due() is None
        assert _settings(again) == (10_000, 100, 5_000, 25_000, 25_000)  # RTDS's, in pence
        rtds = [_alert_body(_rtds(ALERTS.format(name))) for name in ALERTED]
        alerts = _execution_alerts(again)
        assert [_alert_body(m) for m in alerts] == rtds
        assert all(m.header.recipient == again.supplier.raw for m in alerts)
        read = again.read(await again.ask(GCS21B))
        assert read["low_credit_warning_level"] == 5_000_000 and read["overall_debt_cap"] == 100_000
        assert sorted(read["non_disablement_calendar"]["day_profiles"]) == [1, 2, 3], read
    finally:
        await again.close()


async def test_a_cancellation_drops_the_held_gcs05(gas: Gas, tmp_path: Path) -> None:
    before = _settings(gas)
    await gas.ask(GCS05, _argument("FUTURE_DATED"))
    assert _prepay(gas).held
    answer = await gas.ask(GCS05, _argument("CANCELLATION"))
    assert answer.payload == _rtds(GCS05_RTDS.format("CANCELLATION", "RESPONSE")).payload
    prepay = _prepay(gas)
    assert not prepay.held and prepay.next_due() is None
    prepay.now = lambda: gbz.from_zigbee_time(RTDS_AT + 60)
    gas.gsme.register()
    await asyncio.sleep(1.5)
    assert _settings(gas) == before and not _execution_alerts(gas)
    assert gas.read(await gas.ask(GCS21B))["calendar"]["01"] == gbz.ZCL_NOT_FOUND


async def test_an_immediate_gcs05_leaves_the_held_one_held(gas: Gas) -> None:
    await gas.ask(GCS05, _argument("FUTURE_DATED"))
    assert gas.read(await gas.ask(GCS05, _argument("IMMEDIATE")))["result"] == 0
    assert _settings(gas) == (10_000, 100, 5_000, 25_000, 25_000)
    assert len(_prepay(gas).held["commands"]) == 12


# --- the running rig -----------------------------------------------------------------------------
AHEAD_S = 30.0  # the GSME wakes every 2 s: room for the command and a read before its time


def _execution_alerts_received(env, client: DccUser, gsme, since: float) -> list:
    """The GBZ future-dated execution alerts (8F66) from ``gsme`` in ``client``'s inbox
    received since ``since``, each its future-dated outcome (the command it names)."""

    async def poll() -> list:
        found = []
        async with aiohttp.ClientSession() as session:
            for e in await client.inbox(session, kind="DeviceAlertMessage"):
                if Path(e["file"]).stat().st_mtime < since:
                    continue
                doc = client.verify(Path(e["file"]).read_bytes())
                sender = doc.response_id.originator if doc.response_id else None
                if sender == gsme and doc.alert_code == "8F66" and doc.gbcs_payload:
                    msg = GbcsMessage.decode(doc.gbcs_payload)
                    found.append(gbz.decode(msg.payload, alert=True).future_dated)
        return found

    return asyncio.run(poll())


def test_a_future_dated_configuration_reaches_the_gsme_and_comes_at_its_time(dcc_rig) -> None:
    """DCC's FUTURE_DATED 2.1 template, dated AHEAD_S ahead, sent by supplier-b: I0, held
    by the GSME (4.13 still reads what was), carried out at its time (its six 8F66 alerts
    reach supplier-b, naming the command; 4.13 reads the template's values). Restored."""
    env = dcc_rig
    gsme = device_of(env["rig"], "gsme")
    before = _send(env, "4.13")
    assert before["result"] == 0, before
    client = DccUser.from_state(env["dir"], default_user(env["rig"], gsme, env["state"]))
    body = _template("GCS05_2.1_FUTURE_DATED_SUCCESS").body
    when = body.find(".//sr:ExecutionDateTime", NS)
    assert when is not None
    sent_at = time.time()
    at = dt.datetime.fromtimestamp(sent_at + AHEAD_S, dt.UTC).replace(microsecond=0)
    when.text = at.strftime("%Y-%m-%dT%H:%M:%S.00Z")
    try:
        out = asyncio.run(client.send("2.1", gsme, body=body, wait=60))
        assert out.response_code == "I0", out
        assert out.values["use_case"] == "GCS05" and out.values["result"] == 0, out.values
        held = _send(env, "4.13")
        if time.time() < at.timestamp() - 1:  # read before its time: what was
            assert {n: held[n] for _, n in CONFIGURATION} == {
                n: before[n] for _, n in CONFIGURATION
            }
        assert wait_for(
            lambda: len(_execution_alerts_received(env, client, gsme, sent_at)) == len(ALERTED),
            AHEAD_S + 60,
        ), "not the GSME's six 8F66 alerts"
        alerts = _execution_alerts_received(env, client, gsme, sent_at)
        assert {(a.message_code, a.cluster, a.command) for a in alerts} == {
            (GCS05.message_code, 0x0705, c) for c in (0x03, 0x0C, 0x09, 0x0B)
        } | {(GCS05.message_code, 0x0707, c) for c in (0x00, 0x04)}
        after = _send(env, "4.13")
        assert after["low_credit_warning_level"] == 5_000_000, after
        assert after["emergency_credit_limit"] == 10_000_000, after
        assert after["max_credit_limit"] == 25_000_000, after
    finally:
        _update(env, before)


def test_a_dcc_user_reads_rtdss_gbz_execution_alerts() -> None:
    """The DCC User's alert reader reads a GSME's GBZ alerts, not only DLMS ones: RTDS's
    8F66 names the GCS05 it carried out, the ZCL command, and when."""
    from rig.protocol.gbcs.reading import alert_fields

    for name, command in (("EMERGENCY_CREDIT_SETUP", 0x03), ("PUBLISH_CALENDAR", 0x00)):
        fields = alert_fields(_rtds(ALERTS.format(name)))
        assert fields["alert_code"] == "8F66", fields
        done = fields["future_dated"]
        assert done["message_code"] == f"{GCS05.message_code:04X}" and done["command"] == command
        assert fields["times"] == [gbz.from_zigbee_time(RTDS_AT).isoformat()], fields
