"""Prepayment top-up and meter balance (issue 15, first part): CS01a and ECS82 against RTDS
4.5.0 byte for byte, and the meter's credit, which checks a UTRN before it applies it,
applies it once, and keeps it across a power cut."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.transform import TransformInput, transform_for
from nodes.gbcs.cosem_server import CosemError, Invocation, Result
from nodes.gbcs.handlers import handler_for
from nodes.roles.credit import (
    DUPLICATE,
    EC_AVAILABLE,
    EC_IN_USE,
    EXCEEDS_MAX_CREDIT,
    EXHAUSTED,
    NOT_AUTHENTIC,
    NOT_FOR_DEVICE,
    WINDOW,
    Credit,
    EmergencyCreditRefused,
    Settings,
    TopUpRefused,
)
from nodes.roles.debt import DAY_S, Debt, TimeRecovery
from rig.dccuser.readers import read
from rig.pki.keystores import load
from rig.protocol import utrn
from rig.protocol.codec import DecodeError
from rig.protocol.duis.message import parse_document
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import alerts, cosem, dlms, security
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ACB, ESME, SUPPLIER, Tables, _context, _rtds

RTDS_UTRN = "73946144332040217315"  # CS01a_2.2: £10, counter 3 << 32
RTDS_ERROR_UTRN = "73948959061972833313"  # CS01a_2.2 ERROR: £10, counter 5 << 32
GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _keys(store):
    return store.private(ESME, Usage.KA).private_key, store.get(SUPPLIER, Usage.PP_KA).public_key


# --- the DCC's transform, byte for byte --------------------------------------------------------
def test_top_up_is_the_rtds_cs01a_command_from_dccs_template(store) -> None:
    template = vectors("duis", "templates", "CS01a_2.2_SUCCESS_REQUEST_DUIS.XML")
    request = parse_document(template.read_bytes())
    counter = 3 << 32  # the UTRN's counter: the command carries the same
    fn = transform_for(cat.CS01A)
    assert fn is not None
    msg = fn(cat.CS01A, TransformInput(request, counter, SUPPLIER, ESME))
    maced = security.apply_mac(
        msg, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )
    rtds = _rtds("2.2_CS01a/CS01a_2.2_SUCCESS_COMMAND")
    assert maced.encode() == rtds  # stated: the counter is the UTRN's, the MAC the ACB's
    assert check_command(GbcsMessage.decode(rtds), cat.CATALOGUE) is cat.CS01A


def test_read_meter_balance_is_the_rtds_ecs82_command(store) -> None:
    msg = command(cat.ECS82, 1000, SUPPLIER.raw, ESME.raw)
    maced = security.apply_mac(
        msg, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )
    assert maced.encode() == _rtds("4.18_ECS82/ECS82_4.18_SUCCESS_COMMAND")


def test_a_top_up_whose_token_is_not_an_octet_string_is_refused() -> None:
    bad = command(cat.ECS45, 1 << 32, SUPPLIER.raw, ESME.raw).payload
    msg = command(
        cat.CS01A, 1 << 32, SUPPLIER.raw, ESME.raw, Data(DataType.OCTET_STRING, b"1" * 20)
    )
    forged = GbcsMessage.build(
        msg.header.cra, msg.header.counter, SUPPLIER.raw, ESME.raw, 0x0007, bad
    )
    with pytest.raises(DecodeError, match="not the one GBCS defines"):
        check_command(forged, cat.CATALOGUE)
    with pytest.raises(ValueError, match="takes a"):
        command(cat.CS01A, 1, SUPPLIER.raw, ESME.raw, Data(DataType.LONG_UNSIGNED, 5))


# --- the meter: the RTDS answers -------------------------------------------------------------
async def test_the_meter_answers_top_up_and_balance_as_rtds_has_them(store, tmp_path) -> None:
    meter_ka, supplier_pp = _keys(store)
    credit = Credit(tmp_path / "credit.json", ESME, meter_ka, initial_pence=0)
    tables = Tables()
    assert tables.cosem is not None

    def enter(argument: Data, invocation: Invocation) -> None:
        try:
            credit.top_up(argument.value.decode(), SUPPLIER, supplier_pp)
        except TopUpRefused as exc:
            raise CosemError(Result.HARDWARE_FAULT, str(exc)) from None

    tables.cosem.method(cosem.TOKEN_GATEWAY, enter)
    tables.cosem.attribute(
        cosem.METER_BALANCE, lambda: Data(DataType.DOUBLE_LONG, credit.millipence)
    )
    ctx = _context(store, ESME, tables)
    supplier_ka = store.private(SUPPLIER, Usage.KA).private_key
    device_ka = store.get(ESME, Usage.KA).public_key

    cmd = GbcsMessage.decode(_rtds("2.2_CS01a/CS01a_2.2_SUCCESS_COMMAND"))
    answer = await handler_for(cat.CS01A)(cat.CS01A, cmd, ctx)
    assert answer.encode() == _rtds("2.2_CS01a/CS01a_2.2_SUCCESS_RESPONSE")
    assert credit.pence == 1000  # £10
    # the same command again (a replayed UTRN): refused as RTDS's error response has it
    again = await handler_for(cat.CS01A)(cat.CS01A, cmd, ctx)
    assert read(again, user_ka=supplier_ka, device_ka=device_ka)["result"] == 1
    assert credit.pence == 1000

    credit.millipence = 250_000  # RTDS's balance: 250 pence
    cmd82 = GbcsMessage.decode(_rtds("4.18_ECS82/ECS82_4.18_SUCCESS_COMMAND"))
    balance = await handler_for(cat.ECS82)(cat.ECS82, cmd82, ctx)
    assert balance.encode() == _rtds("4.18_ECS82/ECS82_4.18_SUCCESS_RESPONSE")
    out = read(balance, user_ka=supplier_ka, device_ka=device_ka)
    assert out["meter_balance_pence"] == 250 and out["meter_balance_millipence"] == 250_000


# --- the meter's credit: refusals, once only, a power cut ---------------------------------------
def _utrn(store, pounds: int, counter: int, meter: Eui64 = ESME, key=None) -> str:
    pp = key or store.private(SUPPLIER, Usage.PP_KA).private_key
    top_up = utrn.TopUp(pounds, utrn.ValueClass.POUNDS, counter)
    return utrn.make(top_up, SUPPLIER.raw, meter.raw, pp, store.get(meter, Usage.KA).public_key)


def test_each_bad_utrn_is_refused_with_its_alert_and_the_balance_is_unchanged(
    store, tmp_path
) -> None:
    meter_ka, supplier_pp = _keys(store)
    credit = Credit(tmp_path / "credit.json", ESME, meter_ka, initial_pence=500)
    older, good = _utrn(store, 5, 7 << 32), _utrn(store, 10, 8 << 32)
    assert credit.top_up(older, SUPPLIER, supplier_pp).pence == 500
    assert credit.top_up(good, SUPPLIER, supplier_pp).pence == 1000
    assert credit.pence == 2000
    other_key = store.private(SUPPLIER, Usage.KA).private_key  # not the prepayment key
    typo = good[:-1] + str((int(good[-1]) + 1) % 10)
    cases = {
        "the same UTRN again": (good, DUPLICATE),
        "a lower, already used counter": (older, DUPLICATE),
        "made for another meter": (_utrn(store, 10, 11 << 32, meter=GSME), NOT_FOR_DEVICE),
        "a wrong check digit": (typo, NOT_AUTHENTIC),
        "signed with another key": (_utrn(store, 10, 9 << 32, key=other_key), NOT_AUTHENTIC),
        "over the maximum credit": (_utrn(store, 5000, 10 << 32), EXCEEDS_MAX_CREDIT),
    }
    known = (store.get(SUPPLIER, Usage.KA).public_key,)  # the supplier's other key it holds
    for name, (text, code) in cases.items():
        with pytest.raises(TopUpRefused) as refused:
            credit.top_up(text, SUPPLIER, supplier_pp, known)
        assert refused.value.alert_code == code, name
        assert credit.pence == 2000, name


def test_a_counter_below_the_window_is_refused_once_the_window_is_full(store, tmp_path) -> None:
    meter_ka, supplier_pp = _keys(store)
    credit = Credit(tmp_path / "credit.json", ESME, meter_ka, initial_pence=0)
    for n in range(10, 10 + WINDOW):
        credit.top_up(_utrn(store, 1, n << 32), SUPPLIER, supplier_pp)
    assert credit.pence == 100 * WINDOW
    with pytest.raises(TopUpRefused) as refused:  # older than every counter it remembers
        credit.top_up(_utrn(store, 1, 4 << 32), SUPPLIER, supplier_pp)
    assert refused.value.alert_code == NOT_AUTHENTIC
    with pytest.raises(TopUpRefused) as refused:
        credit.top_up(_utrn(store, 1, 12 << 32), SUPPLIER, supplier_pp)
    assert refused.value.alert_code == DUPLICATE
    assert credit.pence == 100 * WINDOW


def test_credit_and_counters_survive_a_power_cut_and_apply_once(store, tmp_path) -> None:
    meter_ka, supplier_pp = _keys(store)
    path = tmp_path / "credit.json"
    first = Credit(path, ESME, meter_ka, initial_pence=0)
    first.top_up(RTDS_UTRN, SUPPLIER, supplier_pp)
    # power cut: a new meter process reads what the first one wrote
    second = Credit(path, ESME, meter_ka, initial_pence=999)
    assert second.pence == 1000  # not the initial credit, not applied twice
    with pytest.raises(TopUpRefused) as refused:
        second.top_up(RTDS_UTRN, SUPPLIER, supplier_pp)
    assert refused.value.alert_code == DUPLICATE
    assert second.top_up(RTDS_ERROR_UTRN, SUPPLIER, supplier_pp).balance_millipence == 2_000_000


# --- the alerts of a refused top-up ----------------------------------------------------------
def _reference(name: str) -> GbcsMessage:
    folder, file = name.split("/")
    return GbcsMessage.decode(_rtds(f"{folder}/{file}"))


def test_generic_alerts_are_rtds_byte_for_byte(store) -> None:
    """GNCA (MAC'd, deterministic): the whole message; GCA (signed): all but the signature.
    A refused top-up raises them with its own code."""
    gnca = _reference("NA_GNCA-DLMS/GNCA-DLMS_NA_810E_ALERT")
    h = gnca.header
    when = dlms.decode(gnca.payload).body.value[1]  # the RTDS alert's date-time, as it is
    device_ka = store.private(ESME, Usage.KA).private_key
    supplier_ka = store.get(SUPPLIER, Usage.KA).public_key
    ours = alerts.dlms_alert(
        cat.GNCA, h.counter, h.originator, h.recipient, [when], device_ka, device_ka,
        supplier_ka, code=cat.CREDIT_ADDED_LOCALLY,
    )  # fmt: skip
    assert ours.encode() == gnca.encode()
    gca = _reference("NA_GCA-DLMS/GCA-DLMS_NA_8F30_ALERT")
    h = gca.header
    signed = alerts.dlms_alert(
        cat.GCA, h.counter, h.originator, h.recipient, [when], device_ka, device_ka,
        code=0x8F30,
    )  # fmt: skip
    assert signed.signed_part() == gca.signed_part()
    duplicate = alerts.dlms_alert(
        cat.GCA, 9, ESME.raw, SUPPLIER.raw, [when], device_ka, device_ka, code=cat.UTRN_DUPLICATE
    )
    assert alerts.alert_code(duplicate) == 0x8F51
    with pytest.raises(ValueError, match="does not carry alert code"):
        alerts.dlms_alert(
            cat.GCA, 9, ESME.raw, SUPPLIER.raw, [when], device_ka, device_ka, code=0x810E
        )


def test_the_balance_falls_with_consumption_at_the_active_price(store, tmp_path) -> None:
    meter_ka, _ = _keys(store)
    credit = Credit(tmp_path / "credit.json", ESME, meter_ka, initial_pence=2000)
    for _ in range(1000):  # 1 kWh in 1 Wh steps, at 28.5 p/kWh: nothing lost to rounding
        credit.spend(1.0, 28.5)
    assert credit.millipence == 2000 * 1000 - 28_500
    credit.save()
    assert Credit(tmp_path / "credit.json", ESME, meter_ka).millipence == 1_971_500


# --- the credit engine: thresholds, emergency credit, interruption and arming ------------------
def _engine(store, tmp_path, **settings) -> Credit:
    meter_ka, _ = _keys(store)
    chosen = Settings(
        low_credit_pence=15, emergency_credit_pence=10, emergency_credit_threshold_pence=10
    )
    return Credit(
        tmp_path / "credit.json", ESME, meter_ka, initial_pence=20,
        settings=replace(chosen, **settings),
    )  # fmt: skip


def _spend_pence(credit: Credit, pence: int) -> list[int]:
    """Spend ``pence`` a penny at a time (1 Wh at 1000 p/kWh): every alert raised on the way."""
    codes: list[int] = []
    for _ in range(pence):
        codes += credit.spend(1.0, 1000.0)
    return codes


def test_credit_runs_down_through_emergency_credit_to_interruption_then_a_top_up_arms(
    store, tmp_path
) -> None:
    credit = _engine(store, tmp_path)
    _, supplier_pp = _keys(store)
    assert _spend_pence(credit, 5) == []  # 15p: at the low-credit threshold, not below
    assert _spend_pence(credit, 1) == [cat.LOW_CREDIT]  # 14p
    with pytest.raises(EmergencyCreditRefused, match="offered below"):
        credit.activate_emergency_credit()  # 14p: none on offer yet
    assert _spend_pence(credit, 5) == [cat.EMERGENCY_CREDIT_AVAILABLE]  # 9p
    assert credit.status_bits() & EC_AVAILABLE
    assert credit.activate_emergency_credit() == [cat.EMERGENCY_CREDIT_ACTIVATED]
    assert credit.activate_emergency_credit() == []  # already active: success, nothing new
    assert _spend_pence(credit, 9) == [] and credit.pence == 0
    assert credit.emergency_credit_millipence == 10_000 and credit.supply_allowed
    assert _spend_pence(credit, 9) == [] and credit.emergency_credit_millipence == 1_000
    assert credit.status_bits() & EC_IN_USE
    assert _spend_pence(credit, 1) == [
        cat.EMERGENCY_CREDIT_EXHAUSTED,
        cat.BELOW_DISABLEMENT_THRESHOLD,
    ]
    assert not credit.supply_allowed and credit.status_bits() & EXHAUSTED
    credit.save()
    # a power cut keeps what the engine has said: nothing is raised twice
    credit = Credit(tmp_path / "credit.json", ESME, _keys(store)[0], initial_pence=999)
    assert credit.pence == -10 and not credit.supply_allowed
    assert credit.spend(0.0, 1000.0) == []
    applied = credit.top_up(_utrn(store, 1, 20 << 32), SUPPLIER, supplier_pp)
    assert applied.alerts == (cat.SUPPLY_ARMED,)  # 90p: the emergency credit used is repaid
    assert credit.pence == 90 and credit.supply_allowed
    assert credit.state()["emergency_credit"] == "none"


def test_emergency_credit_can_rescue_an_interrupted_supply(store, tmp_path) -> None:
    credit = _engine(store, tmp_path)
    codes = _spend_pence(credit, 20)  # no one took the emergency credit on offer
    assert codes == [
        cat.LOW_CREDIT,
        cat.EMERGENCY_CREDIT_AVAILABLE,
        cat.BELOW_DISABLEMENT_THRESHOLD,
    ]
    assert credit.activate_emergency_credit() == [
        cat.EMERGENCY_CREDIT_ACTIVATED,
        cat.SUPPLY_ARMED,
    ]


def test_in_credit_mode_the_balance_moves_but_nothing_is_raised_or_interrupted(
    store, tmp_path
) -> None:
    credit = _engine(store, tmp_path, payment_mode="credit")
    assert _spend_pence(credit, 40) == [] and credit.pence == -20
    assert credit.supply_allowed
    with pytest.raises(EmergencyCreditRefused, match="credit mode"):
        credit.activate_emergency_credit()


def test_time_debt_is_recovered_from_the_balance_and_payment_debt_from_top_ups(
    store, tmp_path
) -> None:
    """ECS07's values (RTDS 2.3): time debt 1 of 30p at 0.3p a day, time debt 2 of 15p at
    1.5p a day, payment debt of 50p taking 10% of each top-up."""
    credit = _engine(store, tmp_path, low_credit_pence=0, emergency_credit_threshold_pence=0)
    credit.update_debt(
        Debt([30_000, 15_000], 50_000, [TimeRecovery(300), TimeRecovery(1_500)], 1_000)
    )
    assert credit.spend(0.0, 28.5, seconds=DAY_S) == []  # a day with no energy used
    assert credit.debt.time_debt == [29_700, 13_500]
    assert credit.millipence == 20_000 - 300 - 1_500  # the balance paid it
    for _ in range(9):  # nine more days: time debt 2 is recovered in full, not beyond
        credit.spend(0.0, 28.5, seconds=DAY_S)
    assert credit.debt.time_debt == [27_000, 0] and credit.debts_cleared == ["time_debt_2"]
    assert credit.millipence == 20_000 - 3_000 - 15_000
    _, supplier_pp = _keys(store)
    before = credit.millipence
    applied = credit.top_up(_utrn(store, 1, 30 << 32), SUPPLIER, supplier_pp)
    assert applied.pence == 100 and credit.debt.payment_debt == 40_000  # 10p of £1
    assert credit.millipence == before + 90_000
    credit.save()  # a power cut keeps the debt with the balance
    again = Credit(tmp_path / "credit.json", ESME, _keys(store)[0])
    assert again.debt.registers() == {
        "time_debt_1": 27_000, "time_debt_2": 0, "payment_debt": 40_000
    }  # fmt: skip
    assert again.state()["debt_pence"] == 67


def test_debt_recovery_takes_no_more_than_is_owed(store, tmp_path) -> None:
    credit = _engine(store, tmp_path, low_credit_pence=0, emergency_credit_threshold_pence=0)
    credit.update_debt(Debt([1_000, 0], 5_000, [TimeRecovery(DAY_S * 10), TimeRecovery()], 10_000))
    credit.spend(0.0, 0.0, seconds=1.0)  # 10 millipence a second: 1000 owed, 10 taken
    assert credit.debt.time_debt[0] == 990
    credit.spend(0.0, 0.0, seconds=1000.0)
    assert credit.debt.time_debt[0] == 0 and credit.millipence == 20_000 - 1_000
    _, supplier_pp = _keys(store)
    credit.top_up(_utrn(store, 1, 31 << 32), SUPPLIER, supplier_pp)  # 100% to a 5p debt
    assert credit.debt.payment_debt == 0 and credit.millipence == 19_000 + 95_000
