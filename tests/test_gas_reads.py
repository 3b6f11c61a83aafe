"""The GSME's register reads of family 4 (issue 17), byte for byte as RTDS 4.5.0 has them:
4.1.2 Read Instantaneous Import TOU Matrices (GCS13c) and 4.1.4 Read Instantaneous Import
Block Counters (GCS13b), 4.8.1 Read Active Import Profile Data (GCS17) and 4.6.1 Retrieve
Import Daily Read Log (GCS16a) from DCC's templates to RTDS's commands, the ACB's MAC
included; RTDS's encrypted answers decrypted (RTDS's keys) and read by the readers;
the GSME (in-process) answers RTDS's commands in RTDS's structure (one Read Attributes
Response, dated, its 59 bytes of records encrypted; GCS17: RTDS's 97 half hours in one
encrypted Get Sampled Data Response, or NOT_FOUND; GCS16a: two encrypted Publish
Snapshots and 29 NOT_FOUND for RTDS's period), and the DCC User decrypts its TOU
registers, block counters, profile and daily snapshots; they follow the consumption
register and survive a restart; on the running rig (tests/rigs/dcc.yaml) 4.1.2, 4.1.4 and
4.8.1 go through the DCC to the sleepy GSME.

What cannot be byte for byte: the GSME's MAC and encryption (its private keys are not
public: its answers are compared by structure) and its values (RTDS's meter is not the
rig's; the rig's GSME runs one rate, so tier 1 and block 1 hold all its consumption).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import pytest
from lxml import etree

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.roles.gas_reads import GasReads, slot_of
from rig.conformance.compare import read_reference, rtds_keys
from rig.dccuser.client import DccUser, Outcome
from rig.dccuser.tasks import default_user, device_of, send_request
from rig.protocol.duis.bodies import SRV_BODIES
from rig.protocol.duis.xml import SR
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas import GCS60
from rig.protocol.gbcs.catalogue_gas_reads import (
    BLOCK_COUNTERS,
    GCS13B,
    GCS13C,
    GCS16A,
    GCS17,
    TOU_REGISTERS,
    SampledDataRequest,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, given_argument
from rig.protocol.smki import Usage
from tests.test_gas_prepayment import (  # noqa: F401 (gas, pki, store: fixtures)
    ACB,
    GSME,
    RTDS_SUPPLIER,
    Gas,
    _rtds,
    _shape,
    _template,
    gas,
    pki,
    store,
)

GPF = Eui64.parse("00-DB-12-34-56-78-90-A3")  # RTDS's GPF: its RELIABLE variants go there
READS = {
    GCS13C: "4.1.2_GCS13c/GCS13c_4.1.2",
    GCS13B: "4.1.4_GCS13b/GCS13b_4.1.4",
}
PROFILE = "4.8.1_GCS17/GCS17_4.8.1"
RTDS_START = dt.datetime(2014, 12, 30, tzinfo=dt.UTC)  # RTDS's period: 48 hours
# DCC's template, RTDS's case, the device it targets, the counter RTDS used
CASES = [
    ("SUCCESS_UNRELIABLE", "SUCCESS_UNRELIABLE", GSME, 1001),
    ("SUCCESS_RELIABLE_GSME", "SUCCESS_RELIABLE_GSME", GPF, 1000),
    ("SUCCESS_RELIABLE_GPF", "SUCCESS_RELIABLE_GPF", GPF, 1001),
]


def _encrypted(msg: GbcsMessage) -> list[tuple[int, int, int]]:
    return [
        (c.encrypted.additional_control, c.encrypted.frame_counter, len(c.encrypted.blob))
        for c in gbz.decode(msg.payload).components
        if c.encrypted is not None
    ]


# --- the DCC's transforms, byte for byte --------------------------------------------------
@pytest.mark.parametrize("uc", list(READS))
@pytest.mark.parametrize(("template", "case", "device", "counter"), CASES)
def test_the_transform_is_rtdss_command_mac_included(
    store, uc, template: str, case: str, device: Eui64, counter: int
) -> None:
    fn = transform_for(uc)
    assert fn is not None
    name = f"{READS[uc].split('/')[1]}_{template}"
    msg = fn(uc, TransformInput(_template(name), counter, RTDS_SUPPLIER, device))
    acb = store.private(ACB, Usage.KA).private_key
    mac = security.apply_mac(msg, acb, store.get(device, Usage.KA).public_key)
    assert mac == _rtds(f"{READS[uc]}_{case}_COMMAND")


@pytest.mark.parametrize("uc", list(READS))
def test_every_rtds_command_is_the_use_case(uc) -> None:
    for case in ("SUCCESS_UNRELIABLE", "SUCCESS_RELIABLE_GSME", "SUCCESS_RELIABLE_GPF", "ERROR"):
        assert check_command(_rtds(f"{READS[uc]}_{case}_COMMAND"), cat.CATALOGUE) is uc


def test_a_command_reading_other_attributes_is_refused() -> None:
    rtds = _rtds(f"{READS[GCS13C]}_SUCCESS_UNRELIABLE_COMMAND")
    (component,) = gbz.decode(rtds.payload).components
    fewer = gbz.GbzPayload(
        1, [gbz.Component(component.control, component.cluster, component.zcl, b"\x00\x01")]
    ).encode()
    h = rtds.header
    forged = GbcsMessage.build(h.cra, h.counter, h.originator, h.recipient, h.message_code, fewer)
    with pytest.raises(Exception, match="not the one GBCS defines"):
        check_command(forged, cat.CATALOGUE)


def test_4_1_2_and_4_1_4_are_served_for_the_gsme_only() -> None:
    assert cat.CATALOGUE.for_srv("4.1.2", "GSME") is GCS13C
    assert cat.CATALOGUE.for_srv("4.1.4", "GSME") is GCS13B
    assert cat.CATALOGUE.for_srv("4.1.4", "ESME") is None  # DUIS: a gas supplier's SRV
    # 4.18 stays GCS60 for the GSME: the mapping table has no row for GCS60a
    assert cat.CATALOGUE.for_srv("4.18", "GSME") is GCS60


def _rtds_read(name: str) -> dict:
    """RTDS's response read by the DCC User's reader, as its recipient (RTDS's keys)."""
    keys = rtds_keys()
    if keys is None:
        pytest.skip("RTDS's keys are absent (../shared/vectors/gbcs/rtds-keystore, device-keys)")
    return read_reference(_rtds(name).encode(), keys)


def test_rtdss_answers_decrypt_into_the_registers_the_readers_name() -> None:
    tou = _rtds_read(f"{READS[GCS13C]}_SUCCESS_UNRELIABLE_RESPONSE")
    assert tou["result"] == 0 and tou["tiers_m3"] == [1.0, 2.0, 3.0, 4.0]
    blocks = _rtds_read(f"{READS[GCS13B]}_SUCCESS_UNRELIABLE_RESPONSE")
    assert [blocks[a.name] for a in BLOCK_COUNTERS] == [0, 1, 2, 3]
    refused = _rtds_read(f"{READS[GCS13C]}_ERROR_RESPONSE")  # the multiplier UNSUPPORTED
    assert (refused["result"], refused["missing"]) == (gbz.ZCL_FAILURE, ["multiplier"])
    profile = _rtds_read(f"{PROFILE}_SUCCESS_RESPONSE")
    assert profile["result"] == 0 and profile["interval_s"] == 1800
    assert len(profile["samples"]) == 97
    assert profile["samples"][0]["at"] == RTDS_START.isoformat()


# --- the GSME in-process --------------------------------------------------------------------
@pytest.mark.parametrize("uc", list(READS))
async def test_the_gsme_answers_in_rtdss_structure(gas: Gas, uc) -> None:
    answer = await gas.ask(uc)
    rtds = _rtds(f"{READS[uc]}_SUCCESS_UNRELIABLE_RESPONSE")
    assert _shape(answer) == _shape(rtds)
    assert _encrypted(answer) == _encrypted(rtds) == [(0, 0, 76)]
    out = gas.read(answer)
    assert out["authenticated_by"] == "mac" and out["result"] == 0
    theirs = _rtds_read(f"{READS[uc]}_SUCCESS_UNRELIABLE_RESPONSE")
    assert set(out) - {"counter"} == set(theirs) - {"counter"}  # the same attributes
    registers = TOU_REGISTERS if uc is GCS13C else BLOCK_COUNTERS
    volume = gas.read(await gas.ask(cat.GCS13A))["current_summation_delivered"]
    # no gas flows and one rate: register 1 holds all the meter counted, the others none
    assert [out[a.name] for a in registers] == [volume, 0, 0, 0]
    assert (out["divisor"], out["multiplier"], out["unit_of_measure"]) == (1000, 1, 1)
    kind = "tiers_m3" if uc is GCS13C else "blocks_m3"
    assert out[kind] == [round(volume / 1000, 3), 0.0, 0.0, 0.0]


def test_the_registers_follow_the_consumption_register_across_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gas_reads.json"
    reads = GasReads.load(path, GSME)
    at = 1_700_000_000.0
    reads.observe(4_321_000, at)
    assert reads.tiers == reads.blocks == [4_321_000, 0, 0, 0]  # one rate since installation
    reads.observe(4_321_750, at + 60)
    assert reads.tiers == reads.blocks == [4_321_750, 0, 0, 0]
    again = GasReads.load(path, GSME)  # the meter restarted
    again.observe(4_321_750, at + 120)
    assert again.tiers == [4_321_750, 0, 0, 0]  # nothing counted twice
    again.tier = 3  # a tariff's third tier is current (what GCS01a would switch)
    again.observe(4_321_770, at + 180)
    assert again.tiers == [4_321_750, 0, 20, 0] and again.blocks[0] == 4_321_770


def test_the_profile_shares_what_flowed_among_the_half_hours() -> None:
    reads = GasReads(Path("/nonexistent"), GSME)
    reads.save = lambda: None  # type: ignore[method-assign]
    midnight = 1_700_006_400.0  # 2023-11-15 00:00 UTC, a half hour's start
    reads.observe(1000, midnight - 900)  # the meter first counts at 23:45
    reads.observe(1300, midnight + 1800)  # 300 dm3 over 45 minutes: 100, then 200
    reads.observe(1310, midnight + 2700)  # 10 more in the next half hour
    first, samples = reads.samples(midnight - 3600, 10, now=midnight + 3600)
    assert first == midnight - 1800  # the half hour the meter first counted in
    assert samples == (100, 200, 10)  # up to the last completed half hour
    assert reads.samples(midnight, 2, now=midnight + 3600) == (midnight, (200, 10))
    assert reads.samples(midnight + 1, 5, now=midnight + 3600) == (midnight + 1800, (10,))
    assert reads.samples(midnight, 5, now=midnight + 1000) == (midnight, ())  # not complete
    reads.observe(1315, midnight + 2700)  # read again in the same instant
    assert reads.samples(midnight + 1800, 1, now=midnight + 3600) == (midnight + 1800, (15,))


# --- 4.8.1: the profile data log (GCS17) ----------------------------------------------------


def _profile_command(template=None):
    fn = transform_for(GCS17)
    assert fn is not None
    request = template or _template("GCS17_4.8.1_SUCCESS")
    return fn(GCS17, TransformInput(request, 1002, RTDS_SUPPLIER, GSME))


def test_read_profile_data_is_the_rtds_gcs17_command(store) -> None:
    acb = store.private(ACB, Usage.KA).private_key
    mac = security.apply_mac(_profile_command(), acb, store.get(GSME, Usage.KA).public_key)
    assert mac == _rtds(f"{PROFILE}_SUCCESS_COMMAND")
    for case in ("SUCCESS", "ERROR", "NOT_FOUND"):
        assert check_command(_rtds(f"{PROFILE}_{case}_COMMAND"), cat.CATALOGUE) is GCS17
    (payload,) = given_argument(GCS17, mac.payload)
    asked = SampledDataRequest.decode(payload)
    assert gbz.from_zigbee_time(asked.earliest) == RTDS_START
    assert asked.count == 97  # 48 hours of half hours, both ends included


def test_a_period_ending_before_it_starts_is_refused() -> None:
    request = _template("GCS17_4.8.1_SUCCESS")
    (end,) = request.body.xpath(".//*[local-name()='EndDateTime']")
    end.text = "2014-12-29T00:00:00Z"
    with pytest.raises(TransformRefused, match="give an end after the start"):
        _profile_command(request)


def _history(state: Path, slots: dict[int, float], since: float) -> None:
    """A GSME's profile log as a meter that ran through RTDS's period left it."""
    state.mkdir(parents=True, exist_ok=True)
    reads = GasReads(state / "gas_reads.json", GSME)
    reads.observe(4_321_000, since)  # the register the test GSME starts at
    reads.profile = dict(slots)
    reads.save()


async def test_the_gsme_answers_97_half_hours_in_rtdss_structure(pki, tmp_path: Path) -> None:
    """RTDS's 48 hours, but of the last days: a meter keeps 13 months, not RTDS's 2014."""
    start = slot_of(time.time()) - 100 * 1800
    slots = {start + n * 1800: float(n % 7) for n in range(-10, 100)}
    _history(tmp_path / "gsme", slots, start - 10 * 1800)
    gas = Gas(pki, tmp_path)  # it starts with the log it kept
    try:
        asked = SampledDataRequest(start - gbz.ZIGBEE_EPOCH, 97)
        answer = await gas.ask(GCS17, (asked.encode(),))
        rtds = _rtds(f"{PROFILE}_SUCCESS_RESPONSE")
        assert _shape(answer) == _shape(rtds)
        assert _encrypted(answer) == _encrypted(rtds) == [(0, 0, 319)]
        out = gas.read(answer)
        assert set(out) == set(_rtds_read(f"{PROFILE}_SUCCESS_RESPONSE"))
        assert out["result"] == 0 and out["interval_s"] == 1800
        assert [s["value"] for s in out["samples"]] == [n % 7 for n in range(97)]
        first = dt.datetime.fromtimestamp(start, dt.UTC)
        assert out["samples"][0]["at"] == first.isoformat()
        assert out["samples"][-1]["at"] == (first + dt.timedelta(hours=48)).isoformat()
    finally:
        await gas.close()


async def test_a_gsme_without_the_period_in_its_log_answers_not_found(gas: Gas) -> None:
    answer = await gas.ask(GCS17, (SampledDataRequest(gbz.zigbee_time(RTDS_START), 97).encode(),))
    assert _shape(answer) == _shape(_rtds(f"{PROFILE}_NOT_FOUND_RESPONSE"))
    out = gas.read(answer)
    assert (out["authenticated_by"], out["result"], out["samples"]) == (
        "mac",
        gbz.ZCL_NOT_FOUND,
        [],
    )
    assert set(out) == set(_rtds_read(f"{PROFILE}_SUCCESS_RESPONSE"))  # the same fields


# --- 4.6.1: the daily read log (GCS16a) ----------------------------------------------------
DAILY = "4.6.1_GCS16a/GCS16a_4.6.1"
MIDNIGHT = 1_700_006_400  # 2023-11-15 00:00 UTC


def test_read_daily_read_log_is_the_rtds_gcs16a_command(store) -> None:
    fn = transform_for(GCS16A)
    assert fn is not None
    given = TransformInput(_template("GCS16a_4.6.1_SUCCESS"), 1004, RTDS_SUPPLIER, GSME)
    acb = store.private(ACB, Usage.KA).private_key
    msg = security.apply_mac(fn(GCS16A, given), acb, store.get(GSME, Usage.KA).public_key)
    assert msg == _rtds(f"{DAILY}_SUCCESS_COMMAND")
    for case in ("SUCCESS", "ERROR"):
        assert check_command(_rtds(f"{DAILY}_{case}_COMMAND"), cat.CATALOGUE) is GCS16A


def test_rtdss_daily_snapshots_are_register_tou_and_block_sets() -> None:
    out = _rtds_read(f"{DAILY}_SUCCESS_RESPONSE")
    assert out["result"] == 0 and len(out["days"]) == 2
    first = out["days"][0]
    assert (first["current_summation_delivered"], first["tiers"], first["blocks"]) == (
        32,
        [227, 189, 205, 3],
        [47, 238, 10, 68],
    )
    error = _rtds_read(f"{DAILY}_ERROR_RESPONSE")
    assert error["result"] == 0xC0 and len(error["days"]) == 3  # HARDWARE_FAILURE at 29


def test_a_midnight_between_two_readings_takes_the_days_snapshot() -> None:
    reads = GasReads(Path("/nonexistent"), GSME)
    reads.save = lambda: None  # type: ignore[method-assign]
    reads.observe(1000, MIDNIGHT - 3600)
    reads.observe(1200, MIDNIGHT + 3600)  # 200 dm3 over two hours: 100 before midnight
    assert reads.daily == [(MIDNIGHT, 1100, (1100, 0, 0, 0), (1100, 0, 0, 0))]
    assert reads.tiers == [1200, 0, 0, 0]
    # two midnights while it slept: 1728 dm3 over 48 hours, 36 an hour
    reads.observe(2928, MIDNIGHT + 2 * 86_400 + 3600)
    assert [d[:2] for d in reads.daily[1:]] == [
        (MIDNIGHT + 86_400, 1200 + 23 * 36),
        (MIDNIGHT + 2 * 86_400, 1200 + 47 * 36),
    ]


async def test_the_gsme_answers_rtdss_daily_period_in_rtdss_structure(pki, tmp_path: Path) -> None:
    state = tmp_path / "gsme"
    state.mkdir(parents=True)
    reads = GasReads(state / "gas_reads.json", GSME)
    reads.observe(4_321_000, time.time() - 60)  # the register the test GSME starts at
    days = [dt.datetime(*d, tzinfo=dt.UTC).timestamp() for d in ((2014, 12, 30), (2014, 12, 31))]
    days.append(dt.datetime(2015, 1, 1, tzinfo=dt.UTC).timestamp())
    # RTDS's period starts on 30 December at 00:00:04, after that midnight: two in it
    reads.daily = [(int(at), 100 * n, (n, 0, 0, 0), (n, 0, 0, 0)) for n, at in enumerate(days)]
    reads.save()
    gas = Gas(pki, tmp_path)  # it starts with the log it kept
    try:
        asked = given_argument(GCS16A, _rtds(f"{DAILY}_SUCCESS_COMMAND").payload)
        answer = await gas.ask(GCS16A, asked)
        rtds = _rtds(f"{DAILY}_SUCCESS_RESPONSE")
        assert _shape(answer) == _shape(rtds)
        assert _encrypted(answer) == _encrypted(rtds) == [(0, 0, 89), (0, 1, 89)]
        out = gas.read(answer)
        assert out["result"] == 0
        assert set(out["days"][0]) == set(_rtds_read(f"{DAILY}_SUCCESS_RESPONSE")["days"][0])
        assert [(d["at"][:10], d["current_summation_delivered"]) for d in out["days"]] == [
            ("2015-01-01", 200),  # newest first
            ("2014-12-31", 100),
        ]
    finally:
        await gas.close()


# --- on the running rig ---------------------------------------------------------------------
def _read(env: dict, srv: str, **elements: str) -> Outcome:
    """``srv`` to the GSME through the DCC, from its supplier; its body's ``elements`` in a
    ReadLogPeriod (the test DCC User's body builder has no 4.1.2, 4.1.4 or 4.8.1 yet: the
    body is built here)."""
    body = etree.Element(f"{{{SR}}}{SRV_BODIES[srv]}", nsmap={"sr": SR})
    if elements:
        period = etree.SubElement(body, f"{{{SR}}}ReadLogPeriod")
        for name, value in elements.items():
            etree.SubElement(period, f"{{{SR}}}{name}").text = value
    device = device_of(env["rig"], "gsme")
    client = DccUser.from_state(env["state"].root, default_user(env["rig"], device, env["state"]))
    return asyncio.run(client.send(srv, device, body=body))


def test_the_gsmes_registers_and_profile_through_the_dcc(dcc_rig) -> None:
    env = dcc_rig
    tou = _read(env, "4.1.2")
    assert tou.response_code == "I0", tou
    assert tou.values["use_case"] == "GCS13c" and tou.values["result"] == 0, tou.values
    total = send_request(env["rig"], env["state"], "4.1.1", "gsme", {})
    assert total.response_code == "I0", total
    blocks = _read(env, "4.1.4")
    assert blocks.response_code == "I0", blocks
    assert blocks.values["use_case"] == "GCS13b" and blocks.values["result"] == 0, blocks.values
    tiers = [tou.values[a.name] for a in TOU_REGISTERS]
    counters = [blocks.values[a.name] for a in BLOCK_COUNTERS]
    # one rate: register 1 follows the consumption register, read in between
    assert tiers[0] <= total.values["current_summation_delivered"] <= counters[0]
    assert tiers[1:] == counters[1:] == [0, 0, 0], (tiers, counters)

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(hours=2)
    profile = _read(
        env,
        "4.8.1",
        StartDateTime=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        EndDateTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    assert profile.response_code == "I0", profile
    out = profile.values
    assert out["use_case"] == "GCS17", out
    # the GSME counts from the rig's start: its log has the half hours completed since
    assert out["result"] == (0 if out["samples"] else gbz.ZCL_NOT_FOUND), out
    times = [dt.datetime.fromisoformat(s["at"]) for s in out["samples"]]
    assert all(
        start - dt.timedelta(minutes=30) < t <= now - dt.timedelta(minutes=30) for t in times
    )
