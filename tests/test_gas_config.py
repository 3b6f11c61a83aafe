"""The GSME's configuration, valve (supply), customer ID and network data (issue 17) against
RTDS 4.5.0: each of DCC's templates through its transform is RTDS's command byte for byte
(the ACB's MAC included, or RTDS's pre-command for a critical one; the issuer event id is
the transform's ZigBee time, set to RTDS's 2015-01-01, and 9.1's CIN the DCC's, set to
RTDS's); the GSME (in-process) answers RTDS's commands in RTDS's structure, from its own
state: 7.2 closes its valve and 7.3 arms it (7.4 and the node's detail say so, and a restart
keeps it), each write is what the reads then return; bad input gets a Default Response
that says why. On the running rig (tests/rigs/dcc.yaml): 7.2, 7.4, 6.20.1 and 6.2.7 to the
GSME through the DCC.

What cannot be byte for byte: the GSME's own MAC and signature (its private keys are not
public), and the values that are the meter's own (RTDS's device is not the rig's).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import component_detail, wait_for

from gateway.transform import TransformInput, cin, transform_for
from gateway.transform import gas_config as transform
from rig.dccuser import read_gas_config
from rig.dccuser.client import DccUser
from rig.dccuser.readers import ReadKeys
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import catalogue_gas_config as gc
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_commission import GCS28
from rig.protocol.gbcs.catalogue_event_logs import GCS20, PUSH_TO_WAN, EventConfiguration
from rig.protocol.gbcs.catalogue_gas_billing import NETWORK_DATA_LOG
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import (
    UseCase,
    check_command,
    command,
    for_unknown_remote_party,
    given_argument,
)
from rig.protocol.smki import Usage
from tests.test_gas_prepayment import (  # noqa: F401 (gas, pki, store: fixtures)
    ACB,
    GSME,
    RTDS_SUPPLIER,
    Gas,
    _mac_for_gsme,
    _rtds,
    _shape,
    _template,
    gas,
    pki,
    store,
)

RTDS_NOW = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)  # RTDS's issuer event id: 0x1C374A80
RTDS_ACB = "90-B3-D5-1F-30-00-00-02"
# (use case, SRV, template's RequestID counter): the DCC's command for each template
NON_CRITICAL = [
    (gc.GCS33, "7.4", 1001),
    (gc.GCS21K, "6.2.3", 1001),
    (gc.GCS21M, "6.2.4", 1001),
    (gc.GCS46, "6.2.7", 1001),
    (gc.GCS21A, "6.2.8", 1001),
    (gc.GCS21J, "6.2.9", 1000),
    (gc.GCS20R, "6.2.10", 1000),
    (gc.GCS41, "6.20.1", 1001),
]
CRITICAL = [
    (gc.GCS32, "7.2", 1000),
    (gc.GCS39, "7.3", 1000),
    (gc.GCS23, "6.6", 1000),
    (gc.GCS24, "6.7", 1002),
    (gc.GCS24A, "6.7", 1002),
    (gc.GCS25, "6.8", 1002),
    (gc.GCS25A, "6.8", 1004),
    (GCS28, "6.11", 1000),
]


@pytest.fixture(autouse=True)
def rtds_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transform, "now", lambda: RTDS_NOW)
    monkeypatch.setattr(cin, "new_cin", lambda: "1234")


def _folder(uc: UseCase, srv: str) -> str:
    return f"{srv}_{uc.name}/{uc.name}_{srv}"


def _transform(uc: UseCase, srv: str, counter: int, originator=RTDS_SUPPLIER) -> GbcsMessage:
    template = _template(f"{uc.name}_{srv}_SUCCESS")
    found = cat.CATALOGUE.for_srv(srv, "GSME")
    assert found is not None, f"{srv} is not served for a GSME"
    fn = transform_for(found)
    assert fn is not None
    return fn(found, TransformInput(template, counter, originator, GSME))


# --- the DCC's transforms, byte for byte --------------------------------------------------------
@pytest.mark.parametrize(
    ("uc", "srv", "counter"), NON_CRITICAL, ids=lambda v: getattr(v, "name", v)
)
def test_each_read_and_setting_is_rtdss_command_mac_included(
    store, uc: UseCase, srv: str, counter: int
) -> None:
    ours = _transform(uc, srv, counter)
    rtds = _rtds(f"{_folder(uc, srv)}_SUCCESS_COMMAND")
    assert ours.message_code == uc.message_code
    assert _mac_for_gsme(store, ours) == rtds.encode()
    assert check_command(rtds, cat.CATALOGUE) is uc


@pytest.mark.parametrize(("uc", "srv", "counter"), CRITICAL, ids=str)
def test_each_critical_command_is_rtdss_pre_command(uc: UseCase, srv: str, counter: int) -> None:
    ours = _transform(uc, srv, counter)
    assert ours.is_pre_command  # the DCC User signs it (CV 5)
    assert ours.encode() == _rtds(f"{_folder(uc, srv)}_SUCCESS_PRECOMMAND").encode()
    assert check_command(_rtds(f"{_folder(uc, srv)}_SUCCESS_COMMAND"), cat.CATALOGUE) is uc


def test_the_ous_gcs36_and_the_gts_gcs31_are_rtdss_commands_from_the_acb(store) -> None:
    """9.1 (an OU's) and 14.1 (a GT's, DCC scheduled): the ACB originates them, the DCC User
    named as the supplementary remote party (the rig has no OU or GT user: in process)."""
    for uc, srv in ((gc.GCS36, "9.1"), (gc.GCS31, "14.1")):
        rtds = _rtds(f"{_folder(uc, srv)}_SUCCESS_COMMAND")
        request = _template(f"{uc.name}_{srv}_SUCCESS")
        rid = request.request_id
        ours = _transform(uc, srv, rid.counter, originator=rid.originator)
        ours = for_unknown_remote_party(ours, ACB.raw, rtds.header.counter, rid.counter, None)
        assert _mac_for_gsme(store, ours) == rtds.encode()
        assert check_command(rtds, cat.CATALOGUE) is uc


def test_the_other_variants_of_an_srv_are_declared_and_checked() -> None:
    """6.2.3 and 6.2.4 carry nothing that tells GCS21d from GCS21k or GCS21e from GCS21m: the
    DCC sends the later use cases; the meter still serves RTDS's earlier ones."""
    for uc, srv in ((gc.GCS21D, "6.2.3"), (gc.GCS21E, "6.2.4")):
        rtds = _rtds(f"{_folder(uc, srv)}_SUCCESS_COMMAND")
        assert check_command(rtds, cat.CATALOGUE) is uc
        assert cat.CATALOGUE.for_srv(srv, "GSME") is not uc


def test_a_flow_rate_to_four_places_is_gcs24a_and_a_monthly_calendar_gcs25() -> None:
    assert _transform(gc.GCS24A, "6.7", 1).message_code == gc.GCS24A.message_code
    assert _transform(gc.GCS24, "6.7", 1).message_code == gc.GCS24.message_code
    assert _transform(gc.GCS25, "6.8", 1).message_code == gc.GCS25.message_code
    assert _transform(gc.GCS25A, "6.8", 1).message_code == gc.GCS25A.message_code


def test_a_value_with_more_places_than_duis_allows_is_refused() -> None:
    from gateway.transform.registry import TransformRefused

    template = _template("GCS23_6.6_SUCCESS")
    cv = template.body.find("{*}CalorificValue")
    assert cv is not None
    cv.text = "forty"
    with pytest.raises(TransformRefused, match="CalorificValue 'forty' is not a decimal"):
        transform.set_gas_conversion(gc.GCS23, TransformInput(template, 1, RTDS_SUPPLIER, GSME))


# --- the GSME's answers -------------------------------------------------------------------------
def _argument(uc: UseCase, srv: str) -> Any:
    return given_argument(uc, _rtds(f"{_folder(uc, srv)}_SUCCESS_COMMAND").payload)


def _records(payload: bytes) -> tuple[tuple[int, int, int | None], ...]:
    """A Read Attributes Response's records as (attribute, status, type): its structure."""
    out: list[tuple[int, int, int | None]] = []
    at = 0
    while at < len(payload):
        ident, status = int.from_bytes(payload[at : at + 2], "little"), payload[at + 2]
        if status != gbz.ZCL_SUCCESS:
            out.append((ident, status, None))
            at += 3
            continue
        kind = payload[at + 3]
        size = gbz.ZCL_TYPE_SIZES.get(kind)
        out.append((ident, status, kind))
        at += 4 + (size if size is not None else payload[at + 4] + 1)
    return tuple(out)


def _structure(msg: GbcsMessage) -> tuple:
    """RTDS's structure: :func:`_shape`, a Read Attributes Response compared by its records'
    attributes, statuses and types (a string's length is the meter's own)."""
    head = _shape(msg)[:4]
    parts = tuple(
        (c.control, c.cluster, c.zcl.frame_control, c.zcl.sequence, c.zcl.command)
        + (
            _records(c.payload)
            if c.zcl.command == gbz.READ_ATTRIBUTES_RESPONSE and not c.zcl.cluster_specific
            else (len(c.payload),)
        )
        for c in gbz.decode(msg.payload).components
    )
    return (*head, parts)


async def _answer(gas: Gas, uc: UseCase, srv: str) -> tuple[GbcsMessage, dict[str, Any]]:
    """The GSME's answer to RTDS's command of ``uc`` (from the rig's supplier), its shape
    checked against RTDS's response, and what the DCC User reads of it."""
    answer = await gas.ask(uc, _argument(uc, srv))
    assert _structure(answer) == _structure(_rtds(f"{_folder(uc, srv)}_SUCCESS_RESPONSE")), uc.name
    return answer, gas.read(answer)


def _rtds_read(uc: UseCase, srv: str) -> dict[str, int | str]:
    values: dict[str, int | str] = {}
    for component in gbz.decode(_rtds(f"{_folder(uc, srv)}_SUCCESS_RESPONSE").payload).components:
        values.update(gc.parse_values(component.payload))
    return values


async def test_7_2_closes_the_valve_7_3_arms_it_7_4_reads_it(gas: Gas, tmp_path: Path) -> None:
    _, before = await _answer(gas, gc.GCS33, "7.4")
    assert before["result"] == 0 and before["supply"] == "on"
    assert set(before) >= set(_rtds_read(gc.GCS33, "7.4"))  # the attributes RTDS's has
    assert before["remaining_battery_life_days"] > 0
    _, closed = await _answer(gas, gc.GCS32, "7.2")
    assert (closed["result"], closed["supply"], closed["authenticated_by"]) == (
        0,
        "off",
        "signature",
    )
    assert gas.gsme.supply == "disabled" and not gas.gsme.valve_open
    assert (await _answer(gas, gc.GCS33, "7.4"))[1]["supply"] == "off"
    _, armed = await _answer(gas, gc.GCS39, "7.3")
    assert (armed["result"], armed["supply"]) == (0, "armed")
    assert (await _answer(gas, gc.GCS33, "7.4"))[1]["supply"] == "armed"
    assert gas.gsme.supply == "armed"
    # the state is the meter's: a restarted meter reads it back as it was
    saved = json.loads((gas.gsme.config.state_dir / "meter.json").read_text())
    assert (saved["valve_open"], saved["armed"]) == (False, True)
    gas.gsme.restore_pressed()  # the consumer opens the armed valve
    assert (await _answer(gas, gc.GCS33, "7.4"))[1]["supply"] == "on"


async def test_a_change_supply_that_is_not_its_use_cases_is_refused(gas: Gas) -> None:
    """GCS32 proposing ARMED (or a future implementation time): a Default Response
    INVALID_FIELD, the valve as it was."""
    for payload in (
        gc.ChangeSupply(1, gc.SUPPLY_ARMED).encode(),
        gc.ChangeSupply(1, gc.SUPPLY_OFF, implementation_time=500_000_000).encode(),
    ):
        out = gas.read(await gas.ask(gc.GCS32, (payload,)))
        assert (out["result"], out["supply"]) == (gbz.ZCL_INVALID_FIELD, None)
    assert gas.gsme.valve_open


async def test_the_configuration_reads_in_rtdss_structure(gas: Gas) -> None:
    for uc, srv in ((gc.GCS21A, "6.2.8"), (gc.GCS21M, "6.2.4"), (gc.GCS21E, "6.2.4")):
        _, out = await _answer(gas, uc, srv)
        assert out["result"] == 0
        assert set(out) >= set(_rtds_read(uc, srv)), uc.name  # every attribute RTDS's has
    _, payment = await _answer(gas, gc.GCS21J, "6.2.9")
    assert payment["payment_control_configuration"] & 0x0002  # prepayment, as the meter is
    for uc in (gc.GCS21K, gc.GCS21D):
        _, out = await _answer(gas, uc, "6.2.3")
        assert out["result"] == 0 and out["duration_unit"] == "months"


async def test_6_6_sets_the_cv_and_conversion_factor_6_2_8_reads_them(gas: Gas) -> None:
    _, out = await _answer(gas, gc.GCS23, "6.6")
    assert (out["result"], out["statuses"]) == (0, [0, 0])
    _, read = await _answer(gas, gc.GCS21A, "6.2.8")
    assert (read["calorific_value"], read["calorific_value_trailing_digit"]) == (400, 0x10)
    assert (read["conversion_factor"], read["conversion_factor_trailing_digit"]) == (102264, 0x50)
    assert read["calorific_value_unit"] == 1


async def test_6_7_sets_the_flow_threshold_and_states_6_2_8_and_6_2_4_read_them(
    gas: Gas,
) -> None:
    _, out = await _answer(gas, gc.GCS24A, "6.7")
    assert out["statuses"] == [0, 0]
    _, read = await _answer(gas, gc.GCS21A, "6.2.8")
    assert (read["uncontrolled_flow_threshold"], read["uncontrolled_flow_divisor"]) == (
        61680,
        10_000,
    )
    assert (read["flow_stabilisation_period"], read["flow_measurement_period"]) == (60, 300)
    # RTDS's states are "Unchanged"; a "Locked" tamper state (0) is what 6.2.4 then reads
    flow = given_argument(gc.GCS24, _rtds(f"{_folder(gc.GCS24, '6.7')}_SUCCESS_COMMAND").payload)
    assert isinstance(flow, tuple)
    locked = (flow[0], b"\x01" + gc.set_supply_status(1, 0, gc.UNCHANGED))
    assert gas.read(await gas.ask(gc.GCS24, locked))["statuses"] == [0, 0]
    _, states = await _answer(gas, gc.GCS21M, "6.2.4")
    assert (states["supply_tamper_state"], states["supply_depletion_state"]) == (0, gc.SUPPLY_ON)
    bad = (flow[0], b"\x01" + gc.set_supply_status(1, 7, gc.UNCHANGED))
    assert gas.read(await gas.ask(gc.GCS24, bad))["statuses"] == [0, gbz.ZCL_INVALID_FIELD]


async def test_6_8_sets_the_billing_calendar_6_2_3_reads_it(gas: Gas) -> None:
    _, out = await _answer(gas, gc.GCS25A, "6.8")
    assert out["statuses"] == [0, 0]
    _, read = await _answer(gas, gc.GCS21K, "6.2.3")
    assert read["billing_period_start"] == "2015-01-01T00:00:00+00:00"
    assert (read["duration"], read["duration_unit"]) == (6, "months")


async def test_6_20_1_sets_the_mprn_6_2_7_reads_it_and_a_restart_keeps_it(
    gas: Gas, pki, tmp_path: Path
) -> None:
    assert (await _answer(gas, gc.GCS46, "6.2.7"))[1]["site_id"] == ""
    _, out = await _answer(gas, gc.GCS41, "6.20.1")
    assert out["statuses"] == [0]
    assert (await _answer(gas, gc.GCS46, "6.2.7"))[1]["site_id"] == "1234567890"
    await gas.close()
    again = Gas(pki, tmp_path)  # the same state folder: the meter after a power cut
    again.counter = gas.counter  # the supplier's counter goes on (the meter keeps its last)
    try:
        assert (await _answer(again, gc.GCS46, "6.2.7"))[1]["site_id"] == "1234567890"
    finally:
        await again.close()


async def test_6_2_10_reports_the_alert_behaviours_6_22_set(gas: Gas) -> None:
    """GCS20r reports each non-critical event as the meter's filters have it; after 6.22's
    GCS20 sets 0x810E to the WAN alone, it reports 0x810E as 0x08."""
    _, before = await _answer(gas, gc.GCS20R, "6.2.10")
    assert before["result"] == 0 and len(before["events"]) == len(gc.GSME_NON_CRITICAL_EVENTS)
    assert before["events"]["810E"] == 0x5B  # logged, to the WAN and the HAN, an alarm
    wan_only = EventConfiguration(PUSH_TO_WAN, (0x810E,)).encode()
    answer = await gas.ask(GCS20, (b"\x00" + wan_only,))
    assert read_gas_config.gas_config_written(GCS20, answer, ReadKeys())["statuses"] == [0]
    _, after = await _answer(gas, gc.GCS20R, "6.2.10")
    assert after["events"]["810E"] == PUSH_TO_WAN
    assert after["events"]["8119"] == before["events"]["8119"]
    wrong = gas.read(await gas.ask(gc.GCS20R, (b"\x00\x0f\x81",)))  # one event: not served
    assert wrong["result"] == gbz.ZCL_INVALID_FIELD


async def _from_acb(gas: Gas, uc: UseCase, argument: Any) -> dict[str, Any]:
    """``uc`` as the ACB sends it for a DCC User (the supplier here), the GSME's answer to
    the ACB in RTDS's structure, and what it says."""
    gas.counter += 1
    msg = command(uc, gas.counter, gas.supplier.raw, GSME.raw, argument)
    msg = for_unknown_remote_party(msg, ACB.raw, gas.counter, gas.counter, None)
    sent = security.apply_mac(msg, gas.key(ACB, Usage.KA), gas.public(GSME, Usage.KA, True))
    raw = await gas.gsme.handle_gbcs(sent.encode())
    assert raw is not None, f"the GSME discarded {uc.name}"
    answer = GbcsMessage.decode(raw)
    assert answer.header.recipient == ACB.raw
    reader = (
        read_gas_config.gas_network_data if uc is gc.GCS31 else read_gas_config.gas_config_written
    )
    return {"answer": answer, **reader(uc, answer, ReadKeys())}


async def test_9_1_gives_the_meter_its_cin_and_14_1_starts_its_network_data_log(
    gas: Gas,
) -> None:
    out = await _from_acb(gas, gc.GCS36, _argument(gc.GCS36, "9.1"))
    assert _shape(out["answer"]) == _shape(_rtds(f"{_folder(gc.GCS36, '9.1')}_SUCCESS_RESPONSE"))
    assert out["statuses"] == [0]
    state = json.loads((gas.gsme.config.state_dir / "gas_config.json").read_text())
    assert state["cin"] == "1234"
    first = await _from_acb(gas, gc.GCS31, _argument(gc.GCS31, "14.1"))
    assert _shape(first["answer"]) == _shape(_rtds(f"{_folder(gc.GCS31, '14.1')}_SUCCESS_RESPONSE"))
    second = await _from_acb(gas, gc.GCS31, _argument(gc.GCS31, "14.1"))
    assert (first["result"], second["result"]) == (0, 0)
    # the network data log's own Sample ID, as RTDS answers and GCS18 asks: a second start
    # begins the same log again (it used to count up, 1, 2, 3, and GCS18 missed the first)
    assert first["sample_id"] == second["sample_id"] == NETWORK_DATA_LOG == 2
    refused = await _from_acb(gas, gc.GCS31, (b"\x00" * 13,))  # no interval, no samples
    assert (refused["result"], refused["sample_id"]) == (gbz.ZCL_FAILURE, gc.NO_SAMPLE)


async def test_malformed_settings_get_a_default_response_that_says_so(gas: Gas) -> None:
    out = gas.read(await gas.ask(gc.GCS41, (b"\x00" + b"\x01\x02",)))
    assert out["statuses"] == [gbz.ZCL_MALFORMED_COMMAND]
    out = gas.read(await gas.ask(gc.GCS32, (b"\x00" * 5,)))
    assert out["result"] == gbz.ZCL_MALFORMED_COMMAND
    assert gas.gsme.valve_open


# --- on the running rig ---------------------------------------------------------------------
def _gsme_supply(env: dict) -> str | None:
    return component_detail(env["dir"], "gsme").get("supply")


def _send_template(env: dict, name: str) -> dict[str, Any]:
    """DCC's template ``name`` (its body as it is) from the gas supplier to the rig's GSME."""
    srv = name.split("_")[1]
    gsme = next(n.eui for n in env["rig"].nodes if n.name == "gsme")
    user = DccUser.from_state(env["dir"], "supplier-b")
    body = _template(f"{name}_SUCCESS").body
    out = asyncio.run(user.send(srv, gsme, body=body, wait=150))
    assert (out.acknowledgement, out.response_code) == ("I99", "I0"), out
    return dict(out.values)


def test_the_gsmes_supply_and_configuration_through_the_dcc(dcc_rig) -> None:
    """7.4 reads the GSME's valve open, as its node's status says; 6.20.1 sets the MPRN and
    6.2.7 reads it back; 6.6 (critical: signed by the gas supplier, answered signed) sets
    the calorific value and conversion factor and 6.2.8 reads them back; all through the
    DCC from DCC's own templates. (7.2 and 7.3 close the valve, which only the consumer's
    restore button opens: the virtual GSME has none, and the session's other tests want
    the gas flowing, so they are tested in process.)"""
    env = dcc_rig
    status = _send_template(env, "GCS33_7.4")
    assert (status["use_case"], status["result"], status["supply"]) == ("GCS33", 0, "on")
    assert wait_for(lambda: _gsme_supply(env) == "enabled", timeout=30)
    written = _send_template(env, "GCS41_6.20.1")
    assert (written["use_case"], written["result"]) == ("GCS41", 0), written
    mprn = _send_template(env, "GCS46_6.2.7")
    assert (mprn["use_case"], mprn["site_id"]) == ("GCS46", "1234567890"), mprn
    conversion = _send_template(env, "GCS23_6.6")
    assert (conversion["use_case"], conversion["authenticated_by"]) == ("GCS23", "signature")
    assert conversion["statuses"] == [0, 0], conversion
    gas = _send_template(env, "GCS21a_6.2.8")
    assert (gas["calorific_value"], gas["conversion_factor"]) == (400, 102264), gas
