"""The GSME's prepayment logs (issue 15), byte for byte as RTDS 4.5.0 has them: 4.4.5
Retrieve Billing Data Log (Prepayment Credits) for a GSME (GCS15e) from DCC's template to
RTDS's command, MAC included; RTDS's Publish Top Up Log answer decoded into its records and
encoded again byte for byte. The GSME (in-process) answers RTDS's command in RTDS's
structure from the log of the top-ups it applied, and the DCC User reads it; on the running
rig (tests/rigs/dcc.yaml) a top-up through the DCC is in the sleepy GSME's 4.4.5 log.

What cannot be byte for byte: the GSME's own MAC (its private key is not public) and its
UTRNs and times (RTDS's top-ups are not the rig's).

4.14 Read Prepayment Daily Read Log for a GSME (GCS16b): DCC's template becomes RTDS's 31
Get Prepay Snapshots, MAC included; the GSME answers RTDS's period in RTDS's structure (two
snapshots encrypted, the Additional Header Frame Counter counting them, 29 NOT_FOUND) from
the daily snapshots it takes on its first wake of each UTC day, and the DCC User decrypts
them into the registers as they stood.
"""

from __future__ import annotations

import datetime as dt
import json

from conftest import rig_cli

from gateway.transform import TransformInput, transform_for
from rig.dccuser.tasks import send_request
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas import CS01B
from rig.protocol.gbcs.catalogue_gas_logs import (
    DAILY_SNAPSHOTS,
    GCS15E,
    GCS16B,
    LATEST,
    PUBLISH_TOP_UP_LOG,
    SNAPSHOT_GENERAL,
    TOP_UP_RECORDS,
    SnapshotRequest,
    TopUpRecord,
    get_prepay_snapshots,
    get_top_up_log,
    parse_get_top_up_log,
    parse_publish_top_up_log,
    publish_top_up_log,
)
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

FOLDER = "4.4.5_GCS15e/GCS15e_4.4.5"


def _read_credits(counter: int):
    fn = transform_for(GCS15E)
    assert fn is not None
    given = TransformInput(_template("GCS15e_4.4.5_SUCCESS"), counter, RTDS_SUPPLIER, GSME)
    return fn(GCS15E, given)


def test_read_billing_data_log_is_the_rtds_gcs15e_command(store) -> None:
    msg = _read_credits(1002)
    rtds = _rtds(f"{FOLDER}_SUCCESS_COMMAND")
    acb = store.private(ACB, Usage.KA).private_key
    assert security.apply_mac(msg, acb, store.get(GSME, Usage.KA).public_key) == rtds
    for name in ("SUCCESS", "ERROR", "NOT_FOUND"):
        assert check_command(_rtds(f"{FOLDER}_{name}_COMMAND"), cat.CATALOGUE) is GCS15E


def test_the_command_carries_the_read_log_period() -> None:
    argument = given_argument(GCS15E, _read_credits(7).payload)
    assert isinstance(argument, bytes)
    start, end, records = parse_get_top_up_log(argument)
    assert gbz.from_zigbee_time(start) == dt.datetime(2014, 12, 1, tzinfo=dt.UTC)
    assert end == LATEST  # 3000-12-31 is past what a ZigBee UTCTime holds
    assert records == TOP_UP_RECORDS


def test_rtds_publish_top_up_log_round_trips_through_its_records() -> None:
    rtds = _rtds(f"{FOLDER}_SUCCESS_RESPONSE")
    (component,) = gbz.decode(rtds.payload).components
    assert component.cluster == gbz.PREPAYMENT
    assert component.zcl.command == PUBLISH_TOP_UP_LOG
    records = parse_publish_top_up_log(component.payload)
    assert len(records) == TOP_UP_RECORDS
    assert all(len(r.utrn) == 20 and r.utrn.isdigit() for r in records)
    assert records[0] == TopUpRecord(b"73942316567647575864", 1_000_000, records[0].applied)
    start = dt.datetime(2014, 12, 1, tzinfo=dt.UTC)  # the command's From Date-Time
    assert all(gbz.from_zigbee_time(r.applied) >= start for r in records)
    assert publish_top_up_log(records) == component.payload


RTDS_START = gbz.zigbee_time(dt.datetime(2014, 12, 1, tzinfo=dt.UTC))  # RTDS's period


async def test_the_gsme_lists_its_last_five_top_ups_in_rtdss_structure(
    gas: Gas,
) -> None:
    utrns = []
    for n, block in enumerate(range(6, 12)):  # six top-ups of £1..£6: the log keeps five
        utrns.append(gas.utrn(n + 1, block))
        assert gas.read(await gas.ask(CS01B, utrns[-1].encode()))["result"] == 0
    answer = await gas.ask(GCS15E, get_top_up_log(RTDS_START, LATEST))
    assert _shape(answer) == _shape(_rtds(f"{FOLDER}_SUCCESS_RESPONSE"))
    out = gas.read(answer)
    assert out["result"] == 0
    credits = out["credits"]
    assert [c["utrn"] for c in credits] == utrns[:0:-1]  # newest first, the first dropped
    assert [c["pence"] for c in credits] == [600, 500, 400, 300, 200]
    assert [c["millipence"] for c in credits] == [600_000, 500_000, 400_000, 300_000, 200_000]
    assert all(
        dt.datetime.fromisoformat(c["at"]) >= dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        for c in credits
    )


async def test_the_gsme_answers_a_period_without_top_ups_not_found(
    gas: Gas,
) -> None:
    assert gas.read(await gas.ask(CS01B, gas.utrn(2, 6).encode()))["result"] == 0
    now = gbz.zigbee_time(dt.datetime.now(dt.UTC))
    past = await gas.ask(GCS15E, get_top_up_log(RTDS_START, now - 3_600))
    assert _shape(past) == _shape(_rtds(f"{FOLDER}_NOT_FOUND_RESPONSE"))
    out = gas.read(past)
    assert (out["authenticated_by"], out["result"], out["credits"]) == (
        "mac",
        gbz.ZCL_NOT_FOUND,
        [],
    )
    two = await gas.ask(GCS15E, get_top_up_log(now - 3_600, LATEST, records=2))
    assert [c["pence"] for c in gas.read(two)["credits"]] == [200]


# --- on the running rig ---------------------------------------------------------------------
def test_a_gsme_top_up_through_the_dcc_is_in_its_4_4_5_log(dcc_rig) -> None:
    env = dcc_rig
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    proc = rig_cli(
        "supplier",
        "topup",
        "--target",
        "gsme",
        "--amount",
        "1",
        "--json",
        "--rig",
        str(env["file"]),
        state=env["dir"],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    utrn = json.loads(proc.stdout)["utrn"]
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    period = {
        "StartDateTime": before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "EndDateTime": after.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    log = send_request(env["rig"], env["state"], "4.4.5", "gsme", period)
    assert log.response_code == "I0", log
    assert log.values["use_case"] == "GCS15e" and log.values["result"] == 0, log.values
    assert [(c["utrn"], c["pence"]) for c in log.values["credits"]] == [(utrn, 100)]


# --- 4.14: the daily read log (GCS16b) ------------------------------------------------------
DAILY = "4.14_GCS16b/GCS16b_4.14"
RTDS_PERIOD = tuple(
    gbz.zigbee_time(dt.datetime(*day, tzinfo=dt.UTC)) for day in ((2014, 12, 29, 23), (2015, 1, 1))
)


def _encrypted_shape(msg) -> list:
    return [
        (c.encrypted.additional_control, c.encrypted.frame_counter, len(c.encrypted.blob))
        for c in gbz.decode(msg.payload).components
        if c.encrypted is not None
    ]


def test_read_daily_read_log_is_the_rtds_gcs16b_command(store) -> None:
    fn = transform_for(GCS16B)
    assert fn is not None
    given = TransformInput(_template("GCS16b_4.14_KRP_SUCCESS"), 1006, RTDS_SUPPLIER, GSME)
    msg = fn(GCS16B, given)
    acb = store.private(ACB, Usage.KA).private_key
    rtds = _rtds(f"{DAILY}_KRP_SUCCESS_COMMAND")
    assert security.apply_mac(msg, acb, store.get(GSME, Usage.KA).public_key) == rtds
    for name in ("KRP_SUCCESS", "KRP_ERROR", "URP_SUCCESS"):
        assert check_command(_rtds(f"{DAILY}_{name}_COMMAND"), cat.CATALOGUE) is GCS16B
    asked = [SnapshotRequest.decode(p) for p in given_argument(GCS16B, rtds.payload)]
    assert [a.offset for a in asked] == list(range(DAILY_SNAPSHOTS))
    assert {(a.start, a.end, a.cause) for a in asked} == {(*RTDS_PERIOD, SNAPSHOT_GENERAL)}


async def test_the_gsme_answers_rtdss_period_in_rtdss_structure(gas: Gas) -> None:
    daily = gas.gsme.prepay_daily
    assert daily is not None
    day = 86_400
    # snapshots at midnight from 28 December: two of them in RTDS's period (29 December
    # 23:00 to 1 January 00:00, both included), as RTDS's answer has it
    stood = {
        RTDS_PERIOD[0] - 23 * 3600 + n * day: (1000 * n, 50, 300 + n, 100, 120, 80 + n)
        for n in (-1, 0, 1, 2, 4)
    }
    daily.entries = sorted(stood.items())
    answer = await gas.ask(GCS16B, get_prepay_snapshots(*RTDS_PERIOD))
    rtds = _rtds(f"{DAILY}_KRP_SUCCESS_RESPONSE")
    assert _shape(answer) == _shape(rtds)
    assert _encrypted_shape(answer) == _encrypted_shape(rtds) == [(0, 0, 57), (0, 1, 57)]
    out = gas.read(answer)
    assert out["result"] == 0
    midnights = [at for at in stood if RTDS_PERIOD[0] <= at <= RTDS_PERIOD[1]][::-1]
    assert [d["at"] for d in out["days"]] == [
        gbz.from_zigbee_time(at).isoformat() for at in midnights
    ]
    newest = out["days"][0]
    balance, emergency, accumulated, payment, time1, time2 = stood[midnights[0]]
    assert (newest["meter_balance_millipence"], newest["emergency_credit_millipence"]) == (
        balance,
        emergency,
    )
    assert (
        newest["accumulated_debt_millipence"],
        newest["payment_debt_millipence"],
        newest["time_debt_1_millipence"],
        newest["time_debt_2_millipence"],
    ) == (accumulated, payment, time1, time2)
    assert out["days"][0]["snapshot_id"] == out["days"][1]["snapshot_id"] + 1


async def test_the_gsme_snapshots_its_registers_on_its_first_wake_of_a_day(gas: Gas) -> None:
    daily = gas.gsme.prepay_daily
    assert daily is not None
    assert gas.read(await gas.ask(CS01B, gas.utrn(3, 6).encode()))["result"] == 0
    credit = gas.gsme.credit
    assert credit is not None
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    daily.day = yesterday.date().isoformat()  # the last wake was yesterday
    await gas.gsme.wake_cycle()  # no CHF here: the wake fails, the snapshot is still taken
    now = gbz.zigbee_time(dt.datetime.now(dt.UTC))
    out = gas.read(await gas.ask(GCS16B, get_prepay_snapshots(now - 2 * 86_400, now)))
    assert out["result"] == 0 and len(out["days"]) == 1
    assert out["days"][0]["meter_balance_millipence"] == credit.millipence
    assert dt.datetime.fromisoformat(out["days"][0]["at"]).time() == dt.time()
    empty = gas.read(await gas.ask(GCS16B, get_prepay_snapshots(*RTDS_PERIOD)))
    assert (empty["result"], empty["days"]) == (0, [])


def test_4_14_reads_the_sleepy_gsmes_daily_read_log_through_the_dcc(dcc_rig) -> None:
    """On the running rig the GSME has taken no snapshot yet (it takes the first at the
    first midnight it wakes past), so each of the 31 offsets answers NOT_FOUND: the read
    succeeds, empty, and decodes as the supplier."""
    env = dcc_rig
    period = {"StartDateTime": "2014-12-29T23:00:00Z", "EndDateTime": "2015-01-01T00:00:00Z"}
    log = send_request(env["rig"], env["state"], "4.14", "gsme", period)
    assert log.response_code == "I0", log
    assert log.values["use_case"] == "GCS16b", log.values
    assert (log.values["result"], log.values["days"]) == (0, []), log.values
