"""The GSME's billing data logs and network data log (issue 17), byte for byte as RTDS 4.5.0
has them: 4.4.2 (GCS15b), 4.4.3 (GCS15c), 4.4.4 (GCS15d) and 4.10 (GCS18) from DCC's
templates to RTDS's commands, the ACB's MAC included; RTDS's encrypted answers decrypted
(RTDS's keys) and read by the readers; the GSME (in-process) answers RTDS's commands in
RTDS's structure from its own state: a change of payment mode snapshots its registers
(GCS15b), the billing period's ends are its daily logs' midnights (GCS15c), its top-ups'
debt collections (GCS15d) and its network data log's samples (GCS18); on the running rig
(tests/rigs/dcc.yaml) the four SRVs through the DCC.

What cannot be byte for byte: the GSME's own MAC (its private key is not public) and its
values (RTDS's meter is not the rig's). RTDS's GCS15c SUCCESS command reads 2015-01-01
00:00:01 to 2016-01-01 00:00:01, not DCC's template's period (its ERROR command is the
template's): both are checked. RTDS's GCS15d SUCCESS command comes from the ACB for the
supplier (supplementary remote party, no certificate), its ERROR one from the supplier: the
payload is checked against the first, the whole command against the second; RTDS's GCS15d
answer is encrypted for the ACB, whose key RTDS does not publish.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.roles.gas_billing import GasBilling
from nodes.roles.gas_config import GasConfiguration
from rig.conformance.compare import read_reference, rtds_keys
from rig.dccuser.tasks import send_request
from rig.protocol.duis.xml import SR
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import catalogue_gas_tariff as t
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas_billing import (
    CHANGE_OF_MODE,
    END_OF_BILLING_PERIOD,
    GCS15B,
    GCS15C,
    GCS15D,
    GCS18,
    billing_snapshots,
    get_debt_repayment_log,
    network_log_request,
)
from rig.protocol.gbcs.catalogue_gas_reads import HALF_HOUR
from rig.protocol.gbcs.usecase import UseCase, check_command, given_argument
from rig.protocol.smki import Usage
from rig.runtime.files import write_json
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

FOLDERS = {
    GCS15B: "4.4.2_GCS15b/GCS15b_4.4.2",
    GCS15C: "4.4.3_GCS15c/GCS15c_4.4.3",
    GCS15D: "4.4.4_GCS15d/GCS15d_4.4.4",
    GCS18: "4.10_GCS18/GCS18_4.10",
}
TEMPLATES = {
    GCS15B: "GCS15b_4.4.2_SUCCESS",
    GCS15C: "GCS15c_4.4.3_SUCCESS",
    GCS15D: "GCS15d_4.4.4_SUCCESS",
    GCS18: "GCS18_4.10_SUCCESS",
}
DAY = 86_400


def _transformed(uc: UseCase, counter: int, period: tuple[str, str] | None = None):
    request = _template(TEMPLATES[uc])
    if period is not None:
        for name, value in zip(("StartDateTime", "EndDateTime"), period, strict=True):
            request.body.find(f".//{{{SR}}}{name}").text = value
    fn = transform_for(uc)
    assert fn is not None
    return fn(uc, TransformInput(request, counter, RTDS_SUPPLIER, GSME))


def _mac(store, msg):
    acb = store.private(ACB, Usage.KA).private_key
    return security.apply_mac(msg, acb, store.get(GSME, Usage.KA).public_key)


@pytest.mark.parametrize(
    ("uc", "case", "period"),
    [
        (GCS15B, "SUCCESS", None),
        (GCS15B, "ERROR", None),
        (GCS15C, "ERROR", None),  # the template's period
        (GCS15C, "SUCCESS", ("2015-01-01T00:00:01Z", "2016-01-01T00:00:01Z")),  # RTDS's own
        (GCS15D, "ERROR", ("2014-12-01T00:00:00Z", "2014-12-31T00:00:00Z")),
        (GCS18, "SUCCESS", None),
        (GCS18, "ERROR", None),
    ],
)
def test_the_transform_is_rtdss_command_mac_included(store, uc, case, period) -> None:
    rtds = _rtds(f"{FOLDERS[uc]}_{case}_COMMAND")
    assert _mac(store, _transformed(uc, rtds.header.counter, period)) == rtds


def test_gcs15d_from_the_template_is_rtdss_success_payload() -> None:
    """RTDS's SUCCESS command is the ACB's for the supplier: the same payload."""
    rtds = _rtds(f"{FOLDERS[GCS15D]}_SUCCESS_COMMAND")
    assert _transformed(GCS15D, 1300).payload == rtds.payload


@pytest.mark.parametrize("uc", list(FOLDERS))
def test_every_rtds_command_is_the_use_case(uc) -> None:
    for case in ("SUCCESS", "ERROR", "NOT_FOUND"):
        try:
            rtds = _rtds(f"{FOLDERS[uc]}_{case}_COMMAND")
        except FileNotFoundError:
            continue
        if uc is GCS15D and case == "SUCCESS":  # the ACB's, for the supplier: see above
            assert rtds.header.originator == ACB.raw
            assert rtds.header.other.remote_party_id == RTDS_SUPPLIER.raw
            continue
        assert check_command(rtds, cat.CATALOGUE) is uc
    assert cat.CATALOGUE.for_srv(uc.srvs[0], "GSME") is uc


def test_the_commands_carry_the_period_and_the_causes() -> None:
    start, end = 470_707_200, 499_651_200  # 2014-12-01, 2015-11-01 (ZigBee times)
    b = billing_snapshots(GCS15B, start, end)
    assert [e[0] for e in b] == [0] * 12 + [1] * 12  # Prepayment, then Metering
    assert b[0][1:] == bytes.fromhex("006c0e1c8012c81d0008600000")
    c = billing_snapshots(GCS15C, start, end)
    assert c[13][1:] == bytes.fromhex("006c0e1c8012c81d0102000000")
    assert get_debt_repayment_log(start, end)[4:] == end.to_bytes(4, "little") + b"\x0a\x02"
    assert network_log_request(start, start + 4 * 3600)[-2:] == (41).to_bytes(2, "little")


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(TransformRefused, match="ends before it starts"):
        _transformed(GCS18, 7, ("2015-01-01T00:00:00Z", "2014-12-31T00:00:00Z"))
    with pytest.raises(TransformRefused, match="not a date-time"):
        _transformed(GCS15B, 7, ("soon", "2014-12-31T00:00:00Z"))


def _rtds_read(name: str) -> dict:
    keys = rtds_keys()
    if keys is None:
        pytest.skip("RTDS's keys are absent (../shared/vectors/gbcs/rtds-keystore, device-keys)")
    return read_reference(_rtds(name).encode(), keys)


def test_rtdss_answers_decrypt_into_what_the_readers_name() -> None:
    b = _rtds_read(f"{FOLDERS[GCS15B]}_SUCCESS_RESPONSE")
    assert b["result"] == 0 and len(b["prepayment"]) == len(b["registers"]) == 2
    assert [p["cause"] for p in b["prepayment"]] == [0x08, 0x2000]
    assert b["registers"][0]["tiers"] and b["registers"][0]["at"] == "2014-12-01T00:00:00+00:00"
    c = _rtds_read(f"{FOLDERS[GCS15C]}_SUCCESS_RESPONSE")
    assert {p["cause"] for p in c["prepayment"] + c["registers"]} == {END_OF_BILLING_PERIOD}
    n = _rtds_read(f"{FOLDERS[GCS18]}_SUCCESS_RESPONSE")
    assert (n["result"], n["sample_id"], n["interval_s"], len(n["samples"])) == (0, 2, 360, 41)
    assert n["samples"][0]["at"] == "2014-12-31T20:00:00+00:00"
    assert _rtds_read(f"{FOLDERS[GCS18]}_NOT_FOUND_RESPONSE")["result"] == gbz.ZCL_NOT_FOUND


def _encrypted(msg) -> list:
    return [
        (c.cluster, c.encrypted.frame_counter, len(c.encrypted.blob))
        for c in gbz.decode(msg.payload).components
        if c.encrypted is not None
    ]


def _billing(gas: Gas) -> GasBilling:
    return GasBilling.load(gas.gsme, gas.gsme.config.state_dir / "gas_billing.json")


def _now() -> int:
    return gbz.zigbee_time(dt.datetime.now(dt.UTC))


async def test_a_change_of_mode_is_logged_and_read_back_in_rtdss_structure(gas: Gas) -> None:
    credit = gas.gsme.credit
    assert credit is not None
    mode = "1.6_GCS0{}/GCS0{}_1.6_IMMEDIATE_SUCCESS_COMMAND"
    await gas.ask(t.GCS02, given_argument(t.GCS02, _rtds(mode.format(2, 2)).payload))
    to_credit = credit.millipence
    await gas.ask(t.GCS03, given_argument(t.GCS03, _rtds(mode.format(3, 3)).payload))
    answer = await gas.ask(GCS15B, billing_snapshots(GCS15B, _now() - DAY, _now() + 60))
    rtds = _rtds(f"{FOLDERS[GCS15B]}_SUCCESS_RESPONSE")
    assert _shape(answer) == _shape(rtds)
    assert _encrypted(answer) == _encrypted(rtds)
    out = gas.read(answer)
    assert out["result"] == 0
    assert [p["cause"] for p in out["prepayment"]] == [CHANGE_OF_MODE] * 2
    assert out["prepayment"][1]["meter_balance_millipence"] == to_credit
    assert [r["snapshot_id"] for r in out["registers"]] == [1, 0]  # newest first
    register = gas.gsme.register()
    assert out["registers"][0]["current_summation_delivered"] == register
    # kept across a restart; none in RTDS's 2014 period
    assert len(_billing(gas).entries) == 2
    old = gas.read(await gas.ask(GCS15B, billing_snapshots(GCS15B, 470_707_200, 499_651_200)))
    assert (old["result"], old["prepayment"], old["registers"]) == (0, [], [])


async def test_the_billing_periods_ends_are_the_daily_logs_midnights(gas: Gas) -> None:
    reads, daily = gas.gsme.gas_reads, gas.gsme.prepay_daily
    assert reads is not None and daily is not None
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    last = (month - dt.timedelta(days=1)).replace(day=1)
    days = [last, *(month - dt.timedelta(days=n) for n in (2, 1, 0)), month + dt.timedelta(1)]
    days = [d for d in days if d <= today]
    reads.daily = [(int(d.timestamp()), 100 + n, (100 + n, 0, 0, 0), (100 + n, 0, 0, 0))
                   for n, d in enumerate(days)]  # fmt: skip
    daily.entries = [(int(d.timestamp()) - gbz.ZIGBEE_EPOCH, (500 + n, 0, 0, 0, 0, 0))
                     for n, d in enumerate(days)]  # fmt: skip
    answer = await gas.ask(GCS15C, billing_snapshots(GCS15C, _now() - 70 * DAY, _now()))
    out = gas.read(answer)
    ends = [month.isoformat(), last.isoformat()]  # monthly (gas_config's default), newest first
    n = [d.isoformat() for d in days].index(ends[0])
    assert [r["at"] for r in out["registers"]] == ends
    assert out["registers"][0]["current_summation_delivered"] == 100 + n
    assert [p["meter_balance_millipence"] for p in out["prepayment"]] == [500 + n, 500]
    rtds = _rtds(f"{FOLDERS[GCS15C]}_SUCCESS_RESPONSE")
    assert _shape(answer) == _shape(rtds)
    assert _encrypted(answer) == _encrypted(rtds)


async def test_the_debt_collections_are_read_newest_first(gas: Gas) -> None:
    credit = gas.gsme.credit
    assert credit is not None
    empty = gas.read(await gas.ask(GCS15D, get_debt_repayment_log(0, _now())))
    assert (empty["result"], empty["payments"]) == (gbz.ZCL_NOT_FOUND, [])
    assert _shape(await gas.ask(GCS15D, get_debt_repayment_log(0, _now()))) == _shape(
        _rtds(f"{FOLDERS[GCS15D]}_NOT_FOUND_RESPONSE")
    )
    now = int(time.time())
    credit.debt.payment_debt = 40_000
    credit.debt_payments = [(now - 300, 5_000), (now - 100, 7_000)]
    answer = await gas.ask(GCS15D, get_debt_repayment_log(_now() - DAY, _now()))
    assert _shape(answer) == _shape(_rtds(f"{FOLDERS[GCS15D]}_SUCCESS_RESPONSE"))
    out = gas.read(answer)
    assert [(p["millipence"], p["outstanding_millipence"]) for p in out["payments"]] == [
        (7_000, 40_000),
        (5_000, 47_000),
    ]
    assert {p["debt_type"] for p in out["payments"]} == {2}


async def test_the_network_data_log_is_the_sampled_consumption(gas: Gas) -> None:
    reads = gas.gsme.gas_reads
    assert reads is not None
    asked = network_log_request(0, 4 * 3600)
    none = await gas.ask(GCS18, (asked,))
    assert _shape(none) == _shape(_rtds(f"{FOLDERS[GCS18]}_NOT_FOUND_RESPONSE"))
    now = time.time()
    start = (int(now) // HALF_HOUR - 9) * HALF_HOUR  # 9 half hours ago: 45 samples' time
    path = gas.gsme.config.state_dir / "gas_config.json"
    config = GasConfiguration.load(path)
    config.sample_id, config.sampling = 2, [start, 360, 41]
    write_json(path, config.__dict__)
    reads.since = start - HALF_HOUR
    reads.profile = {start + n * HALF_HOUR: 50.0 * (n + 1) for n in range(10)}
    reads.seen, reads.seen_at = gas.gsme.register(), now
    answer = await gas.ask(GCS18, (asked,))
    rtds = _rtds(f"{FOLDERS[GCS18]}_SUCCESS_RESPONSE")
    assert _shape(answer) == _shape(rtds)
    out = gas.read(answer)
    assert (out["result"], out["sample_id"], out["interval_s"]) == (0, 2, 360)
    assert len(out["samples"]) == 41
    assert out["samples"][0] == {
        "at": dt.datetime.fromtimestamp(start, dt.UTC).isoformat(),
        "value": 10,  # a fifth of the first half hour's 50 dm3
    }
    assert [s["value"] for s in out["samples"][5:10]] == [20] * 5


def test_4_4_2_4_4_4_and_4_10_reach_the_sleepy_gsme_through_the_dcc(dcc_rig) -> None:
    """The rig's GSME has changed neither tariff nor mode, collected no debt and started no
    network data log: each read succeeds (I0), decoded as the supplier, empty."""
    env = dcc_rig
    period = {"StartDateTime": "2014-12-01T00:00:00Z", "EndDateTime": "2030-01-01T00:00:00Z"}
    got = {}
    for srv in ("4.4.2", "4.4.4", "4.10"):
        params = (
            period
            if srv != "4.10"
            else {"StartDateTime": "2026-01-01T00:00:00Z", "EndDateTime": "2026-01-01T04:00:00Z"}
        )
        log = send_request(env["rig"], env["state"], srv, "gsme", params)
        assert log.response_code == "I0", log
        got[srv] = log.values
    assert got["4.4.2"]["use_case"] == "GCS15b"
    assert (got["4.4.2"]["result"], got["4.4.2"]["prepayment"]) == (0, [])
    assert (got["4.4.4"]["use_case"], got["4.4.4"]["result"]) == ("GCS15d", gbz.ZCL_NOT_FOUND)
    assert (got["4.10"]["use_case"], got["4.10"]["result"]) == ("GCS18", gbz.ZCL_NOT_FOUND)
