"""2.1 Update Prepay Configuration for a GSME (GCS05, IMMEDIATE; issue 15), byte for byte as
RTDS 4.5.0 has it: DCC's template transforms to RTDS's pre-command (GCS05 is critical);
the GSME applies RTDS's command to its credit engine's settings and keeps the published
non-disablement calendar, and answers with RTDS's Default Responses (clear: byte for byte;
the GSME's signature aside, which cannot be RTDS's); what it sets is what GCS21b (4.13)
reads next, and the engine acts on it (a new low-credit threshold raises 0x810D sooner).
The future-dated and cancellation variants: tests/test_gas_prepay_future.py.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

import gateway.transform.gas_prepayment as gas_transform
from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.roles.gas_prepay import CALENDAR_FILE
from rig.dccuser.read_gas_prepayment import read_back
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue import LOW_CREDIT
from rig.protocol.gbcs.catalogue_gas import GCS05, GCS21B
from rig.protocol.gbcs.usecase import check_command, given_argument
from tests.test_gas_prepay_settings import _send
from tests.test_gas_prepayment import (  # noqa: F401 (pki, store: fixtures used here)
    GSME,
    RTDS_SUPPLIER,
    Gas,
    _rtds,
    _shape,
    _template,
    pki,
    store,
)

RTDS_ISSUED = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)  # RTDS's issuer event id, 0x1C374A80
UPDATE = "2.1_GCS05/GCS05_2.1_{}_SUCCESS_{}"
LOW_CREDIT_PART = 2  # GCS05's Set Low Credit Warning Level (its ZclBatch part)


def _rtds_argument() -> tuple[bytes, ...]:
    """RTDS's GCS05 command as the GSME takes it: one entry per component."""
    argument = given_argument(GCS05, _rtds(UPDATE.format("IMMEDIATE", "COMMAND")).payload)
    assert isinstance(argument, tuple) and len(argument) == 12
    return argument


# --- the DCC's transform, byte for byte ----------------------------------------------------------
def test_update_prepay_configuration_is_the_rtds_gcs05_pre_command(monkeypatch) -> None:
    monkeypatch.setattr(gas_transform, "now", lambda: RTDS_ISSUED)  # stated: RTDS's time
    fn = transform_for(GCS05)
    assert fn is not None
    request = _template("GCS05_2.1_IMMEDIATE_SUCCESS")
    pre = fn(GCS05, TransformInput(request, 1000, RTDS_SUPPLIER, GSME))
    assert pre.is_pre_command  # critical: the DCC User signs it (CV 5)
    assert pre.encode() == _rtds(UPDATE.format("IMMEDIATE", "PRECOMMAND")).encode()
    served = _rtds(UPDATE.format("IMMEDIATE", "COMMAND"))
    assert check_command(served, cat.CATALOGUE) is GCS05
    assert cat.CATALOGUE.for_srv("2.1", "GSME") is GCS05


def test_the_calendar_shapes_the_command_not_the_declaration(monkeypatch) -> None:
    """One Publish Day Profile per day profile, one Publish Week Profile per week: a calendar
    of one day fewer is one component fewer, still GCS05."""
    monkeypatch.setattr(gas_transform, "now", lambda: RTDS_ISSUED)
    request = _template("GCS05_2.1_IMMEDIATE_SUCCESS")
    profiles = request.body.find(".//{*}DayProfiles")
    assert profiles is not None
    profiles.remove(profiles[-1])
    fn = transform_for(GCS05)
    assert fn is not None
    pre = fn(GCS05, TransformInput(request, 1000, RTDS_SUPPLIER, GSME))
    components = gbz.decode(pre.payload).components
    assert len(components) == 11
    assert [c.zcl.command for c in components[4:]] == [0, 1, 1, 2, 2, 3, 4]
    assert [c.zcl.sequence for c in components] == list(range(11))
    assert components[4].payload[-1] == 2  # Publish Calendar: two day profiles


@pytest.mark.parametrize(
    ("template", "code", "why"),
    [
        ("ECS08a_2.1_IMMEDIATE_SUCCESS", "E11", "UpdatePrepayConfigElectricity is for an ESME"),
    ],
)
def test_an_electricity_update_for_a_gsme_is_refused(template, code, why) -> None:
    fn = transform_for(GCS05)
    assert fn is not None
    with pytest.raises(TransformRefused, match=why) as refused:
        fn(GCS05, TransformInput(_template(template), 1, RTDS_SUPPLIER, GSME))
    assert refused.value.code == code


# --- the GSME ------------------------------------------------------------------------------------
@pytest.fixture
async def gas(pki, tmp_path):
    setup = Gas(pki, tmp_path)
    yield setup
    await setup.close()


async def test_the_gsme_applies_rtdss_gcs05_and_answers_as_rtds_does(gas: Gas, tmp_path) -> None:
    rtds = _rtds(UPDATE.format("IMMEDIATE", "RESPONSE"))
    answer = await gas.ask(GCS05, _rtds_argument())
    assert _shape(answer) == _shape(rtds)
    assert answer.payload == rtds.payload  # twelve clear Default Responses, byte for byte
    out = gas.read(answer)
    assert out["result"] == 0 and out["authenticated_by"] == "signature", out
    assert out["statuses"]["day_profiles"] == [0, 0, 0]
    credit = gas.gsme.credit
    assert credit is not None
    s = credit.settings  # the template's values (millipence) as the engine's pence
    assert (s.emergency_credit_pence, s.emergency_credit_threshold_pence) == (10_000, 100)
    assert (s.low_credit_pence, s.overall_debt_cap_millipence) == (5_000, 100_000)
    assert (s.max_meter_balance_pence, s.max_credit_pence) == (25_000, 25_000)
    kept = json.loads((tmp_path / "gsme" / CALENDAR_FILE).read_text())
    assert sorted(kept["day_profiles"]) == ["1", "2", "3"]
    assert sorted(kept["week_profiles"]) == ["1", "2"]
    assert {"calendar", "seasons", "special_days"} <= set(kept)


async def test_what_gcs05_sets_is_what_gcs21b_reads_and_the_engine_acts_on(gas: Gas) -> None:
    credit = gas.gsme.credit
    assert credit is not None
    gas.gsme.flow_m3h = 1.0  # gas flows: the balance (£20) falls
    gas.gsme._at -= 60
    await gas.balance()
    assert await gas.hub.alert(LOW_CREDIT) is None  # above the £2 threshold

    assert gas.read(await gas.ask(GCS05, _rtds_argument()))["result"] == 0
    read = gas.read(await gas.ask(GCS21B))
    assert read["result"] == 0, read
    assert read["low_credit_warning_level"] == 5_000_000  # RTDS's £50
    assert read["emergency_credit_limit"] == 10_000_000
    assert read["emergency_credit_threshold"] == 100_000
    assert read["overall_debt_cap"] == 100_000
    assert read["max_credit_limit"] == read["max_credit_per_top_up"] == 25_000_000

    gas.gsme._at -= 60  # another minute: the balance is below the new £50 threshold
    await gas.balance()
    assert await gas.hub.alert(LOW_CREDIT) is not None


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ((5_000_500).to_bytes(4, "little"), gbz.ZCL_INVALID_FIELD),  # not whole pence
        (b"\x01\x02", gbz.ZCL_MALFORMED_COMMAND),
    ],
)
async def test_a_setting_the_gsme_cannot_apply_changes_nothing(
    gas: Gas, payload: bytes, status: int
) -> None:
    credit = gas.gsme.credit
    assert credit is not None
    before = credit.settings
    argument = list(_rtds_argument())
    argument[LOW_CREDIT_PART] = bytes([LOW_CREDIT_PART]) + payload
    out = gas.read(await gas.ask(GCS05, tuple(argument)))
    assert out["statuses"]["low_credit_warning_level"] == status
    assert out["result"] == status
    assert credit.settings.low_credit_pence == before.low_credit_pence
    assert credit.settings.emergency_credit_pence == 10_000  # each command applies on its own


async def test_a_change_at_a_later_time_is_refused(gas: Gas) -> None:
    argument = list(_rtds_argument())
    setup = bytearray(argument[0])
    setup[5:9] = (1).to_bytes(4, "little")  # Emergency Credit Setup's start time: not 0
    argument[0] = bytes(setup)
    out = gas.read(await gas.ask(GCS05, tuple(argument)))
    assert out["statuses"]["emergency_credit_setup"] == gbz.ZCL_INVALID_FIELD
    credit = gas.gsme.credit
    assert credit is not None and credit.settings.emergency_credit_pence == 500


RTDS_CALENDAR = {  # DCC's template's GasNonDisablementCalendar, as GCS21b reads it back
    "day_profiles": {
        1: [[0, True], [480, False], [1080, True]],
        2: [[0, True], [420, False], [1020, True]],
        3: [[0, True]],
    },
    "week_profiles": {1: [1, 1, 1, 1, 1, 3, 3], 2: [2, 2, 2, 2, 2, 3, 3]},
    "seasons": [["2014-10-27", 1], ["2015-03-29", 2]],
    "special_days": [["2015-04-05", 1], ["2015-08-31", 2], ["*-01-01", 3], ["*-12-25", 1]],
}


def _calendar_headers(components: list[gbz.Component]) -> list[tuple[int, int, int]]:
    return [(c.zcl.frame_control, c.zcl.sequence, c.zcl.command) for c in components[2:]]


async def test_gcs21b_reads_the_published_calendar_back_as_rtds_does(gas: Gas) -> None:
    """RTDS's GCS21b SUCCESS answers each Calendar Get with the Publish commands of what the
    meter holds (one Publish Day Profile per day, with the Get's sequence number): after
    RTDS's GCS05, the GSME answers with the very Publish payloads GCS05 carried."""
    argument = _rtds_argument()
    assert gas.read(await gas.ask(GCS05, argument))["result"] == 0
    answer = await gas.ask(GCS21B)
    out = gas.read(answer)
    assert out["result"] == 0 and out["calendar"] == {f"{c:02X}": 0 for c in (1, 2, 3, 4)}, out
    assert out["non_disablement_calendar"] == RTDS_CALENDAR
    ours = gbz.decode(answer.payload).components
    published = [entry[1:] for entry in argument if entry[0] >= 5]  # days, weeks, seasons...
    assert [c.payload for c in ours[2:]] == published
    assert ours[-1].control == gbz.CONTROL_LAST
    rtds = gbz.decode(_rtds("4.13_GCS21b/GCS21b_4.13_SUCCESS_RESPONSE").payload).components
    assert sorted(set(_calendar_headers(ours))) == sorted(set(_calendar_headers(rtds)))


def test_the_reader_reads_rtdss_gcs21b_calendar() -> None:
    """RTDS's own GCS21b SUCCESS response through the DCC User's reader (its parts)."""
    rtds = gbz.decode(_rtds("4.13_GCS21b/GCS21b_4.13_SUCCESS_RESPONSE").payload).components
    calendar: dict = {}
    for component in rtds[2:]:
        read_back(component.zcl.command, component.payload, calendar)
    assert sorted(calendar["day_profiles"]) == [1, 2, 3, 4]
    assert calendar["day_profiles"][1] == [[0, True], [480, False], [1080, True]]
    assert calendar["week_profiles"][2] == [2, 2, 2, 2, 2, 4, 4]
    assert calendar["seasons"] == [["*-03-29", 2], ["*-10-26", 1]]
    assert len(calendar["special_days"]) == 4


# --- the running rig ---------------------------------------------------------------------------
CONFIGURATION = (  # 2.1's element, and what 4.13 (GCS21b) reads it back as, in millipence
    ("EmergencyCreditLimit", "emergency_credit_limit"),
    ("EmergencyCreditThreshold", "emergency_credit_threshold"),
    ("LowCreditThreshold", "low_credit_warning_level"),
    ("MaxMeterBalance", "max_credit_limit"),
    ("MaxCreditThreshold", "max_credit_per_top_up"),
    ("DebtRecoveryRateCap", "overall_debt_cap"),
)


def _update(env, read: dict) -> None:
    params = [f"{element}={read[name]}" for element, name in CONFIGURATION]
    values = _send(env, "2.1", "GasPrepayConfig=true", *params)
    assert values["use_case"] == "GCS05" and values["authenticated_by"] == "signature", values
    assert values["result"] == 0, values


def test_a_configuration_set_through_the_dcc_reaches_the_sleepy_gsme(dcc_rig) -> None:
    """2.1 for the GSME (GasPrepayConfig) is GCS05: critical (signed by supplier-b), held by
    the CHF until the GSME wakes, answered with its signature; 4.13 (GCS21b) then reads the
    new low-credit threshold and the published calendar back. Restored at the end (the rig
    is shared by the session's tests)."""
    env = dcc_rig
    before = _send(env, "4.13")
    assert before["use_case"] == "GCS21b" and before["result"] == 0, before
    raised = {**before, "low_credit_warning_level": before["low_credit_warning_level"] + 150_000}
    try:
        _update(env, raised)
        after = _send(env, "4.13")
        assert after["low_credit_warning_level"] == raised["low_credit_warning_level"], after
        assert {n: after[n] for _, n in CONFIGURATION} == {n: raised[n] for _, n in CONFIGURATION}
        calendar = after["non_disablement_calendar"]
        assert calendar["day_profiles"] == {"1": [[0, True]]}, calendar
        assert calendar["seasons"] == [["*-01-01", 1]], calendar
    finally:
        _update(env, before)
    restored = _send(env, "4.13")
    assert {n: restored[n] for _, n in CONFIGURATION} == {n: before[n] for _, n in CONFIGURATION}
