"""The GSME's tariffs and prices (issue 17): 1.1.1 (GCS01a), 1.2.1 (GCS01b), 1.5 (GCS40a-d),
1.6 (GCS02, GCS03) and 4.11.1 (GCS21f), byte for byte as RTDS 4.5.0 has them: DCC's
templates transform to RTDS's (pre-)commands; the GSME answers RTDS's commands in RTDS's
structure; what GCS01a sets is what GCS21f reads back, and the tier in force is the TOU
register the gas goes to, charged at that tier's price; a future-dated tariff is held
across a restart and taken at its time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import gateway.transform.gas_tariff as gas_transform
from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.roles.gas_tariff import GasTariff
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import catalogue_gas_tariff as t
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, check_command, given_argument
from tests.test_gas_prepayment import (  # noqa: F401 (pki: a fixture used here)
    GSME,
    RTDS_SUPPLIER,
    Gas,
    _rtds,
    _shape,
    _template,
    pki,
)

RTDS_ISSUED = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)  # RTDS's issuer event id, 0x1C374A80
TOU = "1.1.1_GCS01a/GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS_{}"
READ = "4.11.1_GCS21f/GCS21f_4.11.1_{}"
FUTURE = "1.1.1_GCS01a/GCS01a_1.1.1_FUTURE_DATED_BLOCK_SUCCESS_{}"
RTDS_TIERS = {"tier_1_price": 9600, "tier_2_price": 10200, "tier_3_price": 10750}

# (template, RTDS folder/file stem): every template of the family with an RTDS pre-command
TRANSFORMS = [
    ("GCS01a_1.1.1_IMMEDIATE_TOU", "1.1.1_GCS01a/GCS01a_1.1.1_IMMEDIATE_TOU"),
    ("GCS01a_1.1.1_FUTURE_DATED_BLOCK", "1.1.1_GCS01a/GCS01a_1.1.1_FUTURE_DATED_BLOCK"),
    ("GCS01a_1.1.1_CANCELLATION_BLOCK", "1.1.1_GCS01a/GCS01a_1.1.1_CANCELLATION_BLOCK"),
    ("GCS01b_1.2.1_IMMEDIATE_TOU", "1.2.1_GCS01b/GCS01b_1.2.1_IMMEDIATE_TOU"),
    ("GCS01b_1.2.1_FUTURE_DATED_BLOCK", "1.2.1_GCS01b/GCS01b_1.2.1_FUTURE_DATED_BLOCK"),
    ("GCS01b_1.2.1_CANCELLATION_BLOCK", "1.2.1_GCS01b/GCS01b_1.2.1_CANCELLATION_BLOCK"),
    ("GCS40a_1.5", "1.5_GCS40a/GCS40a_1.5"),
    ("GCS40b_1.5", "1.5_GCS40b/GCS40b_1.5"),
    ("GCS40c_1.5", "1.5_GCS40c/GCS40c_1.5"),
    ("GCS40d_1.5", "1.5_GCS40d/GCS40d_1.5"),
    ("GCS02_1.6_IMMEDIATE", "1.6_GCS02/GCS02_1.6_IMMEDIATE"),
    ("GCS02_1.6_FUTURE_DATED", "1.6_GCS02/GCS02_1.6_FUTURE_DATED"),
    ("GCS02_1.6_CANCELLATION", "1.6_GCS02/GCS02_1.6_CANCELLATION"),
    ("GCS03_1.6_IMMEDIATE", "1.6_GCS03/GCS03_1.6_IMMEDIATE"),
    ("GCS03_1.6_FUTURE_DATED", "1.6_GCS03/GCS03_1.6_FUTURE_DATED"),
    ("GCS03_1.6_CANCELLATION", "1.6_GCS03/GCS03_1.6_CANCELLATION"),
]


# --- the DCC's transforms, byte for byte ---------------------------------------------------------
@pytest.mark.parametrize(("template", "rtds"), TRANSFORMS)
def test_each_template_transforms_to_rtdss_pre_command(monkeypatch, template, rtds) -> None:
    monkeypatch.setattr(gas_transform, "now", lambda: RTDS_ISSUED)  # stated: RTDS's time
    reference = _rtds(f"{rtds}_SUCCESS_PRECOMMAND")
    primary = cat.CATALOGUE.for_srv(_template(f"{template}_SUCCESS").srv, "GSME")
    assert primary is not None
    fn = transform_for(primary)
    assert fn is not None
    given = TransformInput(
        _template(f"{template}_SUCCESS"), reference.header.counter, RTDS_SUPPLIER, GSME
    )
    pre = fn(primary, given)
    assert pre.is_pre_command
    assert pre.encode() == reference.encode()
    served = _rtds(f"{rtds}_SUCCESS_COMMAND")
    assert check_command(served, cat.CATALOGUE).message_code == reference.message_code


def test_read_tariff_is_rtdss_gcs21f_command() -> None:
    fn = transform_for(t.GCS21F)
    assert fn is not None
    reference = _rtds(READ.format("SUCCESS_COMMAND"))
    given = TransformInput(_template("GCS21f_4.11.1_SUCCESS"), 1001, RTDS_SUPPLIER, GSME)
    assert fn(t.GCS21F, given).payload == reference.payload
    assert check_command(reference, cat.CATALOGUE) is t.GCS21F


def test_an_electricity_tariff_for_a_gsme_is_refused() -> None:
    fn = transform_for(t.GCS01A)
    assert fn is not None
    with pytest.raises(TransformRefused, match="ElectricityTariffElements is for an ESME"):
        fn(
            t.GCS01A,
            TransformInput(_template("ECS01a_1.1.1_IMMEDIATE_TOU_SUCCESS"), 1, RTDS_SUPPLIER, GSME),
        )


# --- the GSME ---------------------------------------------------------------------------------
@pytest.fixture
async def gas(pki, tmp_path):
    setup = Gas(pki, tmp_path)
    yield setup
    await setup.close()


def _argument(uc: UseCase, name: str) -> Any:
    argument = given_argument(uc, _rtds(name).payload)
    assert argument is not None
    return argument


def _tariff(gas: Gas) -> GasTariff:
    tariff = gas.gsme.gas_tariff
    assert isinstance(tariff, GasTariff)
    return tariff


async def test_before_a_tariff_gcs21f_answers_as_rtdss_not_found(gas: Gas) -> None:
    answer = await gas.ask(t.GCS21F)
    assert _shape(answer) == _shape(_rtds(READ.format("NOT_FOUND_RESPONSE")))
    out = gas.read(answer)
    assert out["current_price"] is None
    assert set(out["calendar"].values()) == {gbz.ZCL_NOT_FOUND}


async def test_gcs01a_is_answered_as_rtds_and_read_back_by_gcs21f(gas: Gas) -> None:
    rtds = _rtds(TOU.format("RESPONSE"))
    answer = await gas.ask(t.GCS01A, _argument(t.GCS01A, TOU.format("COMMAND")))
    assert _shape(answer) == _shape(rtds)
    assert answer.payload == rtds.payload  # eleven clear Default Responses, byte for byte
    out = gas.read(answer)
    assert out["result"] == 0 and out["authenticated_by"] == "signature", out

    read = await gas.ask(t.GCS21F)
    assert _shape(read)[:4] == _shape(_rtds(READ.format("SUCCESS_RESPONSE")))[:4]
    ours = [
        (c.cluster, c.zcl.frame_control, c.zcl.command) for c in gbz.decode(read.payload).components
    ]
    theirs = gbz.decode(_rtds(READ.format("SUCCESS_RESPONSE")).payload).components
    assert ours == [(c.cluster, c.zcl.frame_control, c.zcl.command) for c in theirs]
    values = gas.read(read)
    assert values["result"] == 0, values
    assert {k: values[k] for k in RTDS_TIERS} == RTDS_TIERS
    assert values["tier_4_price"] == 11000 and values["standing_charge"] == 22465
    assert values["tariff_calendar"]["day_profiles"] == {1: 1, 2: 2, 3: 3, 4: 4}
    assert values["tariff_calendar"]["week_profiles"][2] == [3, 3, 3, 3, 3, 4, 4]
    tier = _tariff(gas).tier()
    assert values["current_price"]["tier"] == tier
    assert values["current_price"]["price"] == [9600, 10200, 10750, 11000][tier - 1]


async def test_the_gas_goes_to_the_tier_in_force_at_its_price(gas: Gas) -> None:
    await gas.ask(t.GCS01A, _argument(t.GCS01A, TOU.format("COMMAND")))
    tariff = _tariff(gas)
    saturday = dt.datetime(2026, 7, 4, 12, tzinfo=dt.UTC)  # summer (week 2), weekend: day 4
    tariff.now = lambda: saturday
    assert tariff.tier() == 4
    assert tariff.tier(dt.datetime(2026, 4, 7, tzinfo=dt.UTC)) == 1  # spring weekday: week 1
    assert tariff.tier(dt.datetime(2026, 1, 5, tzinfo=dt.UTC)) == 3  # January: June's season
    assert tariff.tier(dt.datetime(2015, 1, 1, tzinfo=dt.UTC)) == 2  # a special day: day 2
    meter, credit, reads = gas.gsme, gas.gsme.credit, gas.gsme.gas_reads
    assert credit is not None and reads is not None
    meter.register()
    tiers, balance = list(reads.tiers), credit.millipence
    meter.flow_m3h = 1.0
    meter._at -= 360  # six minutes of 1 m3/h: 100 dm3
    meter.register()
    moved = [after - before for after, before in zip(reads.tiers, tiers, strict=True)]
    assert moved[3] == pytest.approx(100, abs=1) and moved[:3] == [0, 0, 0]
    charged = balance - credit.millipence
    assert charged == pytest.approx(0.1 * 11.2 * 11000, rel=0.01)  # 1.12 kWh at 11 p/kWh


def _euro(payload: bytes) -> bytes:
    return replace(t.TariffInformation.decode(payload), currency=978).encode()


@pytest.mark.parametrize(
    ("change", "status"),
    [(_euro, gbz.ZCL_INVALID_FIELD), (lambda payload: payload[:20], gbz.ZCL_MALFORMED_COMMAND)],
)
async def test_prices_the_gsme_cannot_charge_are_refused(gas: Gas, change, status) -> None:
    argument = list(_argument(t.GCS01B, "1.2.1_GCS01b/GCS01b_1.2.1_IMMEDIATE_TOU_SUCCESS_COMMAND"))
    argument[0] = argument[0][:1] + change(argument[0][1:])  # Publish Tariff Information
    out = gas.read(await gas.ask(t.GCS01B, tuple(argument)))
    assert out["statuses"]["0700/04"] == [status]
    assert out["result"] == status
    assert _tariff(gas).information is None  # nothing kept


async def test_the_meter_balance_and_the_payment_mode(gas: Gas) -> None:
    credit = gas.gsme.credit
    assert credit is not None
    before = credit.millipence
    answer = await gas.ask(t.GCS40A, _argument(t.GCS40A, "1.5_GCS40a/GCS40a_1.5_SUCCESS_COMMAND"))
    rtds = _rtds("1.5_GCS40a/GCS40a_1.5_SUCCESS_RESPONSE")
    assert _shape(answer) == _shape(rtds) and answer.payload == rtds.payload
    assert credit.millipence == before + 23130
    await gas.ask(t.GCS40B, _argument(t.GCS40B, "1.5_GCS40b/GCS40b_1.5_SUCCESS_COMMAND"))
    assert credit.millipence == 0
    await gas.ask(t.GCS40C, _argument(t.GCS40C, "1.5_GCS40c/GCS40c_1.5_SUCCESS_COMMAND"))
    assert _tariff(gas).credit_mode_balance == 5_000_000

    answer = await gas.ask(
        t.GCS02, _argument(t.GCS02, "1.6_GCS02/GCS02_1.6_IMMEDIATE_SUCCESS_COMMAND")
    )
    assert _shape(answer) == _shape(_rtds("1.6_GCS02/GCS02_1.6_IMMEDIATE_SUCCESS_RESPONSE"))
    out = gas.read(answer)
    assert out["result"] == 0 and out["emergency_credit_limit"] == 500 * MILLIPENCE, out
    assert not credit.prepayment
    await gas.ask(t.GCS03, _argument(t.GCS03, "1.6_GCS03/GCS03_1.6_IMMEDIATE_SUCCESS_COMMAND"))
    assert credit.prepayment


ALERTS = "1.1.1_GCS01a/GCS01a_1.1.1_8F66_FUTURE_DATED_BLOCK_SUCCESS_ALERT_PUBLISH_{}"
ALERTED = ("CALENDAR", "SPECIAL_DAYS", "TARIFF_INFORMATION", "BLOCK_THRESHOLDS", "PRICE_MATRIX")


def _alert_body(msg: GbcsMessage) -> tuple:
    """An 8F66 alert's header and body, its counters aside (RTDS's command was counter 1005)."""
    alert = gbz.decode(msg.payload, alert=True)
    fd = alert.future_dated
    assert fd is not None
    return (msg.header.message_code, alert.count, alert.alert_code, alert.alert_time,
            fd.message_code, fd.cluster, fd.frame_control, fd.command)  # fmt: skip


async def _until(predicate, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not within the time")


async def test_a_future_dated_tariff_is_held_across_a_restart_and_taken_at_its_time(
    gas: Gas, pki, tmp_path: Path
) -> None:
    """RTDS's future-dated block tariff (2030-01-16 09:00): answered as RTDS does, held (a
    restart keeps it), not taken a second early, taken at its time on the meter's clock,
    each dated Publish command's 8F66 alert sent to the requester as RTDS's are."""
    answer = await gas.ask(t.GCS01A, _argument(t.GCS01A, FUTURE.format("COMMAND")))
    assert answer.payload == _rtds(FUTURE.format("RESPONSE")).payload
    assert _tariff(gas).information is None and _tariff(gas).held["at"] == 948013200
    await gas.close()
    again = Gas(pki, tmp_path)  # the GSME restarted, from its state folder
    again.counter = gas.counter  # the supplier's counter goes on
    due = gbz.from_zigbee_time(948013200)
    try:
        tariff = _tariff(again)
        assert tariff.held
        tariff.now = lambda: due - dt.timedelta(seconds=1)
        again.gsme.register()  # its price read: the wait for what it holds begins
        await asyncio.sleep(1.5)
        assert tariff.held and tariff.information is None  # not before its time
        tariff.now = lambda: due
        await _until(lambda: len(again.hub.up) == len(ALERTED))
        assert not tariff.held
        rtds = [_alert_body(_rtds(ALERTS.format(name))) for name in ALERTED]
        assert [_alert_body(m) for m in again.hub.up] == rtds
        assert all(m.header.recipient == again.supplier.raw for m in again.hub.up)
        read = again.read(await again.ask(t.GCS21F))
        assert read["block_1_price"] == 9600 and read["block_3_threshold"] == 3_000_000, read
    finally:
        await again.close()


async def test_a_cancellation_drops_the_held_tariff(gas: Gas) -> None:
    await gas.ask(t.GCS01A, _argument(t.GCS01A, FUTURE.format("COMMAND")))
    cancel = "1.1.1_GCS01a/GCS01a_1.1.1_CANCELLATION_BLOCK_SUCCESS_{}"
    answer = await gas.ask(t.GCS01A, _argument(t.GCS01A, cancel.format("COMMAND")))
    assert answer.payload == _rtds(cancel.format("RESPONSE")).payload
    tariff = _tariff(gas)
    assert not tariff.held and tariff.next_due() is None and tariff.information is None


async def test_a_future_dated_payment_mode_is_taken_at_its_time(gas: Gas) -> None:
    dated = "1.6_GCS02/GCS02_1.6_FUTURE_DATED_SUCCESS_{}"
    answer = await gas.ask(t.GCS02, _argument(t.GCS02, dated.format("COMMAND")))
    assert _shape(answer) == _shape(_rtds(dated.format("RESPONSE")))
    credit, tariff = gas.gsme.credit, _tariff(gas)
    assert credit is not None and credit.prepayment and tariff.held_mode
    tariff.now = lambda: gbz.from_zigbee_time(948013200)
    await _until(lambda: not credit.prepayment)
    await _until(lambda: len(gas.hub.up) == 1)
    rtds = _rtds("1.6_GCS02/GCS02_1.6_8F66_FUTURE_DATED_SUCCESS_ALERT_CHANGE_PAYMENT_MODE")
    assert _alert_body(gas.hub.up[0]) == _alert_body(rtds)


# --- the running rig -----------------------------------------------------------------------------
def test_a_tariff_set_through_the_dcc_is_read_back_from_the_sleepy_gsme(dcc_rig) -> None:
    """DCC's 1.1.1 IMMEDIATE TOU template (GCS01a, critical: signed by the gas supplier),
    adapted to the rig, reaches the GSME on its wake and is answered I0; the command the DCC
    built is RTDS's; DCC's 4.11.1 template (GCS21f) then reads the tariff back."""
    from rig.conformance.run import Runner
    from rig.conformance.templates import Template, adapt
    from rig.dccuser.tasks import trace_of
    from rig.description import load_rig
    from rig.state import StateDir

    env = dcc_rig
    rig = load_rig(env["file"])
    runner = Runner(rig, StateDir(env["dir"]), wait=120)
    folder = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "duis" / "templates"

    async def send(name: str) -> dict[str, Any]:
        adapted = adapt(Template.load(folder / name), rig, runner.table, runner.state)
        client = runner.user(adapted.user)
        out = await client.send(adapted.srv.variant, adapted.target, wait=120, body=adapted.body)
        assert out.response_code == "I0", out
        return out.values

    async def run() -> tuple[bytes, dict[str, Any]]:
        tou = folder / "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS_REQUEST_DUIS.XML"
        result = await runner.run_one(tou)
        assert result.response_code == "I0" and result.rtds_response == "decodes", result
        sent = (trace_of(runner.state, result.request_id) or {}).get("command")
        assert sent, result
        return bytes.fromhex(sent), await send("GCS21f_4.11.1_SUCCESS_REQUEST_DUIS.XML")

    sent, values = asyncio.run(run())
    # RTDS's command, but for its issuer event id: the DCC's time of the transform
    ours = GbcsMessage.decode(sent).payload
    issuer = gbz.decode(ours).components[0].payload[4:8]
    rtds = _rtds(TOU.format("COMMAND")).payload
    assert ours.replace(issuer, rtds[15:19]) == rtds
    assert values["use_case"] == "GCS21f" and values["result"] == 0, values
    assert {k: values[k] for k in RTDS_TIERS} == RTDS_TIERS
    assert values["current_price"]["price"] in (9600, 10200, 10750, 11000)
