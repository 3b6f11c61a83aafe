"""The GSME's prepayment configuration (issue 15), byte for byte as RTDS 4.5.0 has it: 2.3
Update Debt for a GSME (GCS04) from DCC's template to RTDS's pre-command; 4.3 Read
Instantaneous Prepay Values (GCS14) from DCC's three templates and 4.13 Read Prepayment
Configuration (GCS21b) from DCC's template to RTDS's commands, MAC included. The GSME
applies RTDS's GCS04 to its credit engine's debt registers and answers all three in
RTDS's structure; the debt it keeps is what GCS14 and GCS21b read next, and is recovered
from top-ups and over time; and on the running rig (tests/rigs/dcc.yaml) a payment debt
set through the DCC reaches the sleepy GSME and 4.3 and 4.13 read it back.

What cannot be byte for byte: the GSME's signature (its private key is not public, and
ECDSA is random) and what it encrypts and MACs for the requester (RTDS's keys for that are
not public), so its answers are compared by structure; the clear components RTDS's values
share with the rig's (the Price cluster's; GCS21b's calendar NOT_FOUNDs) byte for byte.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import component_detail, rig_cli, wait_for

import gateway.transform.gas_prepayment as gas_transform
from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.roles.debt import DAY_S, Debt
from nodes.roles.gas_prepay import DebtRefused, changed
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas import CS01B, GCS04, GCS14, GCS21B
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.usecase import check_command, given_argument
from rig.protocol.smki import Usage
from tests.test_gas_prepayment import (  # noqa: F401 (pki, store: fixtures used here)
    ACB,
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


# --- the DCC's transform, byte for byte ----------------------------------------------------------
def test_update_debt_is_the_rtds_gcs04_pre_command_from_dccs_template(monkeypatch) -> None:
    monkeypatch.setattr(gas_transform, "now", lambda: RTDS_ISSUED)  # stated: RTDS's time
    fn = transform_for(GCS04)
    assert fn is not None
    given = TransformInput(_template("GCS04_2.3_SUCCESS"), 1000, RTDS_SUPPLIER, GSME)
    pre = fn(GCS04, given)
    assert pre.is_pre_command  # critical: the DCC User signs it (CV 5)
    assert pre.encode() == _rtds("2.3_GCS04/GCS04_2.3_SUCCESS_PRECOMMAND").encode()
    for name in ("SUCCESS", "ERROR"):
        assert check_command(_rtds(f"2.3_GCS04/GCS04_2.3_{name}_COMMAND"), cat.CATALOGUE) is GCS04


def test_the_issuer_event_id_is_the_time_of_the_transform(monkeypatch) -> None:
    later = RTDS_ISSUED + dt.timedelta(days=400, seconds=7)
    monkeypatch.setattr(gas_transform, "now", lambda: later)
    fn = transform_for(GCS04)
    assert fn is not None
    pre = fn(GCS04, TransformInput(_template("GCS04_2.3_SUCCESS"), 1000, RTDS_SUPPLIER, GSME))
    payloads = given_argument(GCS04, pre.payload)
    assert isinstance(payloads, tuple) and len(payloads) == 3
    issued = {gbz.ChangeDebt.decode(p).issuer_event_id for p in payloads}
    assert issued == {gbz.zigbee_time(later)}


def test_update_debt_with_elec_recovery_for_a_gsme_is_refused() -> None:
    fn = transform_for(GCS04)
    assert fn is not None
    given = TransformInput(_template("ECS07_2.3_SUCCESS"), 1, RTDS_SUPPLIER, GSME)
    with pytest.raises(TransformRefused, match="ElecDebtRecovery is for an ESME") as refused:
        fn(GCS04, given)
    assert refused.value.code == "E11"


@pytest.mark.parametrize(
    ("variant", "counter", "meter"),
    [
        ("RELIABLE_GSME", 1000, "00-DB-12-34-56-78-90-A3"),
        ("RELIABLE_GPF", 1001, "00-DB-12-34-56-78-90-A3"),
        ("UNRELIABLE", 1001, "00-DB-12-34-56-78-90-A1"),
    ],
)
def test_read_prepay_values_is_the_rtds_gcs14_command_from_dccs_templates(
    store,
    variant: str,
    counter: int,
    meter: str,
) -> None:
    """DCC's three templates (the GSME's clock reliable, the GPF's, unreliable) are the same
    request; RTDS's commands differ only in counter and meter. Stated: the ACB's MAC."""
    fn = transform_for(GCS14)
    assert fn is not None
    name = f"GCS14_4.3_SUCCESS_{variant}"
    target = Eui64.parse(meter)
    msg = fn(GCS14, TransformInput(_template(name), counter, RTDS_SUPPLIER, target))
    rtds = _rtds(f"4.3_GCS14/{name}_COMMAND")
    acb = store.private(ACB, Usage.KA).private_key
    assert security.apply_mac(msg, acb, store.get(target, Usage.KA).public_key) == rtds
    assert check_command(rtds, cat.CATALOGUE) is GCS14


@pytest.mark.parametrize(("variant", "counter"), [("SUCCESS", 1000), ("NOT_FOUND", 1001)])
def test_read_prepayment_configuration_is_the_rtds_gcs21b_command(
    store,
    variant: str,
    counter: int,
) -> None:
    fn = transform_for(GCS21B)
    assert fn is not None
    given = TransformInput(_template("GCS21b_4.13_SUCCESS"), counter, RTDS_SUPPLIER, GSME)
    msg = fn(GCS21B, given)
    rtds = _rtds(f"4.13_GCS21b/GCS21b_4.13_{variant}_COMMAND")
    acb = store.private(ACB, Usage.KA).private_key
    assert security.apply_mac(msg, acb, store.get(GSME, Usage.KA).public_key) == rtds
    assert check_command(rtds, cat.CATALOGUE) is GCS21B


def test_change_debt_round_trips_a_negative_adjustment() -> None:
    change = gbz.ChangeDebt(7, -1_500, gbz.TIME_BASED, 0x03, gbz.HOURLY, recovery_amount=9)
    assert gbz.ChangeDebt.decode(change.encode()) == change


# --- the GSME's engine -----------------------------------------------------------------------
def _change(debt_type: int, amount: int, **kw) -> gbz.ChangeDebt:
    method = gbz.PERCENTAGE_BASED if debt_type >= 4 else gbz.TIME_BASED
    return gbz.ChangeDebt(0, amount, kw.pop("method", method), debt_type, gbz.DAILY, **kw)


def test_an_incremental_change_adjusts_a_register_never_below_zero() -> None:
    debt = Debt([500, 0], 800)
    assert changed(debt, _change(0x01, -200)).time_debt == [300, 0]
    assert changed(debt, _change(0x01, -1_000)).time_debt == [0, 0]
    assert changed(debt, _change(0x05, -300, percentage=50)).payment_debt == 500
    assert changed(debt, _change(0x04, 70)).payment_debt == 70  # absolute: set
    assert debt.registers() == {"time_debt_1": 500, "time_debt_2": 0, "payment_debt": 800}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (_change(0x01, 10, method=gbz.PERCENTAGE_BASED), "time-based"),
        (_change(0x05, 10, method=gbz.TIME_BASED), "percentage"),
        (_change(0x05, 10, percentage=10_001), "over 100%"),
        (_change(0x00, -10), "not negative"),
        (_change(0x06, 10), "not one of ZCL's"),
    ],
)
def test_a_change_the_engine_cannot_apply_is_refused(change: gbz.ChangeDebt, why: str) -> None:
    with pytest.raises(DebtRefused, match=why):
        changed(Debt(), change)


@pytest.fixture
async def gas(pki, tmp_path):
    setup = Gas(pki, tmp_path)
    yield setup
    await setup.close()


async def test_the_gsme_applies_rtdss_gcs04_and_answers_in_its_structure(gas: Gas) -> None:
    rtds = _rtds("2.3_GCS04/GCS04_2.3_SUCCESS_COMMAND")
    answer = await gas.ask(GCS04, given_argument(GCS04, rtds.payload))
    assert _shape(answer) == _shape(_rtds("2.3_GCS04/GCS04_2.3_SUCCESS_RESPONSE"))
    out = gas.read(answer)
    assert out["authenticated_by"] == "signature" and out["result"] == 0, out
    credit = gas.gsme.credit
    assert credit is not None
    # the template's TimeDebtRegister1 and 2, PaymentDebtRegister and their recovery
    assert credit.debt.registers() == {
        "time_debt_1": 1_000_000,
        "time_debt_2": 500_000,
        "payment_debt": 1_000_000,
    }
    assert [(r.millipence, r.period_s) for r in credit.debt.recovery] == [
        (50_000, DAY_S),
        (50_000, 3_600),
    ]
    assert credit.debt.per_payment_bp == 100  # DebtRecoveryPerPayment: 1% of each top-up


async def test_the_debt_set_is_recovered_from_top_ups_and_over_time(gas: Gas) -> None:
    payment = gbz.ChangeDebt(1, 1_000_000, gbz.PERCENTAGE_BASED, 0x05, gbz.DAILY, percentage=1_000)
    none_1, none_2 = (gbz.ChangeDebt(1, 0, gbz.TIME_BASED, t, gbz.DAILY) for t in (0x01, 0x03))
    answer = await gas.ask(GCS04, (none_1.encode(), none_2.encode(), payment.encode()))
    assert gas.read(answer)["result"] == 0
    credit = gas.gsme.credit
    assert credit is not None
    before = (await gas.balance())["meter_balance_millipence"]
    top_up = gas.read(await gas.ask(CS01B, gas.utrn(20, 30).encode()))
    assert top_up["result"] == 0
    share = 2_000 * MILLIPENCE // 10  # 10% of the £20 top-up goes to the payment debt
    assert credit.debt.payment_debt == 1_000_000 - share
    after_top_up = (await gas.balance())["meter_balance_millipence"]
    assert after_top_up - before == 2_000 * MILLIPENCE - share

    hourly = gbz.ChangeDebt(1, 90_000, gbz.TIME_BASED, 0x01, gbz.HOURLY, recovery_amount=60_000)
    keep = gbz.ChangeDebt(1, 0, gbz.PERCENTAGE_BASED, 0x05, gbz.DAILY, percentage=1_000)
    answer = await gas.ask(GCS04, (hourly.encode(), none_2.encode(), keep.encode()))
    assert gas.read(answer)["result"] == 0
    start = (await gas.balance())["meter_balance_millipence"]
    owed = credit.debt.time_debt[0]
    gas.gsme._at -= 1_800  # half an hour passes (no gas flows): 30,000 of time debt 1
    bill = gas.gsme.bill_millipence
    balance = (await gas.balance())["meter_balance_millipence"]
    recovered = start - balance  # and what the few real seconds of the test recovered
    assert 30_000 <= recovered < 30_000 + 100
    assert credit.debt.time_debt[0] == owed - recovered
    assert gas.gsme.bill_millipence == bill  # debt is not gas: the bill does not move


async def test_a_change_the_gsme_cannot_apply_is_invalid_field_and_changes_nothing(
    gas: Gas,
) -> None:
    good = gbz.ChangeDebt(1, 5_000, gbz.TIME_BASED, 0x01, gbz.DAILY, recovery_amount=10)
    bad = gbz.ChangeDebt(1, 5_000, gbz.TIME_BASED, 0x05, gbz.DAILY)  # payment debt by time
    answer = await gas.ask(GCS04, (good.encode(), good.encode(), bad.encode()))
    out = gas.read(answer)
    assert out["statuses"]["payment_debt"] == gbz.ZCL_INVALID_FIELD
    assert out["result"] == gbz.ZCL_INVALID_FIELD
    credit = gas.gsme.credit
    assert credit is not None and credit.debt.payment_debt == 0
    assert credit.debt.time_debt[0] == 10_000  # each component applies on its own


async def test_the_gsme_answers_gcs14_in_rtdss_structure_with_its_engines_values(
    gas: Gas,
) -> None:
    rtds = _rtds("4.3_GCS14/GCS14_4.3_SUCCESS_RELIABLE_GSME_RESPONSE")
    answer = await gas.ask(GCS14)
    assert _shape(answer) == _shape(rtds)
    ours, theirs = gbz.decode(answer.payload).components, gbz.decode(rtds.payload).components
    assert ours[0] == theirs[0]  # the Price cluster in clear: GBP, five trailing digits
    assert ours[1].encrypted is not None and theirs[1].encrypted is not None
    assert len(ours[1].encrypted.blob) == len(theirs[1].encrypted.blob)
    credit = gas.gsme.credit
    assert credit is not None
    out = gas.read(answer)
    assert out["result"] == 0 and out["authenticated_by"] == "mac", out
    assert out["currency"] == 826 and out["credit_remaining"] == credit.millipence
    assert out["accumulated_debt"] == 0 and out["emergency_credit_remaining"] == 0

    # 2.3's write is what the next read returns
    update = _rtds("2.3_GCS04/GCS04_2.3_SUCCESS_COMMAND")
    assert gas.read(await gas.ask(GCS04, given_argument(GCS04, update.payload)))["result"] == 0
    after = gas.read(await gas.ask(GCS14))
    assert [after[f"debt_amount_{n}"] for n in (1, 2, 3)] == [1_000_000, 500_000, 1_000_000]
    assert after["accumulated_debt"] == credit.debt.total <= 2_500_000


async def test_the_gsme_answers_gcs21b_as_rtds_does_without_a_calendar(gas: Gas) -> None:
    """The GSME holds no non-disablement calendar (until a 2.1 sets one): RTDS's NOT_FOUND
    response, the calendar's Default Responses and the Price read byte for byte."""
    rtds = _rtds("4.13_GCS21b/GCS21b_4.13_NOT_FOUND_RESPONSE")
    answer = await gas.ask(GCS21B)
    assert _shape(answer) == _shape(rtds)
    ours, theirs = gbz.decode(answer.payload).components, gbz.decode(rtds.payload).components
    assert ours[1:] == theirs[1:]  # the trailing digit, four NOT_FOUNDs
    credit = gas.gsme.credit
    assert credit is not None
    out = gas.read(answer)
    assert out["result"] == 0 and out["authenticated_by"] == "mac", out
    assert out["calendar"] == {f"{c:02X}": gbz.ZCL_NOT_FOUND for c in (1, 2, 3, 4)}
    settings = credit.settings
    assert out["low_credit_warning_level"] == settings.low_credit_pence * MILLIPENCE
    assert out["emergency_credit_limit"] == settings.emergency_credit_pence * MILLIPENCE
    assert out["emergency_credit_threshold"] == (
        settings.emergency_credit_threshold_pence * MILLIPENCE
    )
    assert out["max_credit_limit"] == settings.max_credit_pence * MILLIPENCE

    update = _rtds("2.3_GCS04/GCS04_2.3_SUCCESS_COMMAND")  # 50,000 a day, then an hour; 1%
    assert gas.read(await gas.ask(GCS04, given_argument(GCS04, update.payload)))["result"] == 0
    after = gas.read(await gas.ask(GCS21B))
    assert after["debt_recovery_amount_1"] == after["debt_recovery_amount_2"] == 50_000
    assert after["debt_recovery_frequency_1"] == gbz.DAILY
    assert after["debt_recovery_frequency_2"] == gbz.HOURLY
    assert after["debt_recovery_top_up_percentage_3"] == 100


# --- the running rig ---------------------------------------------------------------------------
def _send(env, srv: str, *params: str) -> dict:
    """``rig supplier send SRV --target gsme`` as supplier-b: what the answer says."""
    args = [a for p in params for a in ("--param", p)]
    proc = rig_cli(
        "supplier", "send", srv, "--target", "gsme", *args, "--json", "--rig", str(env["file"]),
        state=env["dir"], timeout=120,
    )  # fmt: skip
    assert proc.stdout.strip(), proc.stderr
    out = json.loads(proc.stdout)
    assert proc.returncode == 0, out
    return out["values"]


def _update_debt(env, payment_debt: int, per_payment_bp: int) -> dict:
    values = _send(
        env,
        "2.3",
        "GasDebtRecovery=true",
        f"PaymentDebtRegister={payment_debt}",
        f"DebtRecoveryPerPayment={per_payment_bp}",
    )
    assert values["use_case"] == "GCS04" and values["authenticated_by"] == "signature", values
    assert values["result"] == 0, values
    return values


def test_a_payment_debt_set_through_the_dcc_reaches_the_sleepy_gsme(dcc_rig) -> None:
    """2.3 with GasDebtRecovery for the GSME is GCS04: critical (signed by supplier-b), held
    by the CHF until the GSME wakes, answered with its signature; the GSME's engine then
    holds the debt, 4.3 (GCS14) reads it back, decrypted by supplier-b, and 4.13 (GCS21b)
    its recovery. Undone at the end (the rig is shared by the session's tests)."""
    env = dcc_rig

    def debt() -> dict:
        prepay = component_detail(env["dir"], "gsme").get("prepayment") or {}
        return {"registers": prepay.get("debt_millipence"), "bp": prepay.get("per_payment_bp")}

    start = debt()["registers"]
    assert start is not None, "the GSME reports no prepayment detail"
    _update_debt(env, 250_000, 500)
    want = {**start, "payment_debt": start["payment_debt"] + 250_000}
    seen = wait_for(lambda: debt() if debt()["registers"] == want else None, timeout=20)
    assert seen == {"registers": want, "bp": 500}, debt()
    read = _send(env, "4.3")
    assert read["use_case"] == "GCS14" and read["result"] == 0, read
    assert read["debt_amount_3"] == want["payment_debt"] and read["currency"] == 826, read
    assert read["accumulated_debt"] >= read["debt_amount_3"]
    configuration = _send(env, "4.13")
    assert configuration["use_case"] == "GCS21b" and configuration["result"] == 0, configuration
    assert configuration["debt_recovery_top_up_percentage_3"] == 500

    _update_debt(env, -250_000, 0)
    assert wait_for(lambda: debt() == {"registers": start, "bp": 0}, timeout=20), debt()
    assert _send(env, "4.3")["debt_amount_3"] == start["payment_debt"]
