"""The prepayment configuration SRVs, byte for byte as RTDS 4.5.0 has them, and the ESME's
COSEM objects that answer them over its credit engine: 2.3 Update Debt (ECS07), from DCC's
template to RTDS's pre-command, applied by the meter, answered as RTDS answers."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemServer, Invocation
from nodes.gbcs.handlers import handler_for
from nodes.roles.credit import Credit
from nodes.roles.debt import DAY_S
from nodes.roles.prepay_objects import (
    carry_out,
    rate_of,
    serve_debt,
    serve_prepay_config,
    unit_charge,
)
from rig.pki.keystores import load
from rig.protocol import utrn
from rig.protocol.duis.message import parse_document
from rig.protocol.gbcs import access, cosem, dlms, security
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs.catalogue_prepay_config import ECS08, ECS08A
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, dlms_answer, invoke_id
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_tariff import ESME_DS, _alert_body, _Endpoint
from tests.test_usecases import ESME, JAN_2015, SUPPLIER, _context, _rtds


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _meter(store, tmp_path) -> tuple[CosemServer, Credit]:
    ka = store.private(ESME, Usage.KA).private_key
    credit = Credit(tmp_path / "credit.json", ESME, ka, initial_pence=1000)
    server = CosemServer()
    serve_debt(server, credit)
    return server, credit


def test_the_esme_applies_rtds_ecs07_and_answers_as_rtds_does(store, tmp_path) -> None:
    server, credit = _meter(store, tmp_path)
    cmd = GbcsMessage.decode(_rtds("2.3_ECS07/ECS07_2.3_SUCCESS_COMMAND"))
    request = dlms.decode(cmd.payload)
    assert isinstance(request, dlms.AccessRequest)
    data, results = server.execute(request, Invocation(cmd, lambda b: b))
    assert [r.result for r in results] == [0] * 10
    answer = dlms_answer(cmd.header.counter, data, results)
    assert answer == GbcsMessage.decode(_rtds("2.3_ECS07/ECS07_2.3_SUCCESS_RESPONSE")).payload
    debt = credit.debt  # TimeDebtRegister1 30000, 2 15000, PaymentDebtRegister 50000 ...
    assert debt.registers() == {"time_debt_1": 30_000, "time_debt_2": 15_000,
                                "payment_debt": 50_000}  # fmt: skip
    assert [(r.millipence, r.period_s) for r in debt.recovery] == [(300, DAY_S), (1_500, DAY_S)]
    assert debt.per_payment_bp == 1_000  # DebtRecoveryPerPayment: 10% of each top-up
    # kept: a power cut does not lose the debt
    again = Credit(tmp_path / "credit.json", ESME, store.private(ESME, Usage.KA).private_key)
    assert again.debt.registers() == debt.registers()


def test_a_negative_update_takes_debt_off_but_never_below_zero(store, tmp_path) -> None:
    server, credit = _meter(store, tmp_path)
    credit.debt.time_debt[0] = 500
    update = cosem.Method(
        cosem.CHARGE, cosem.TIME_DEBT_1, cosem.UPDATE_TOTAL_AMOUNT_REMAINING
    )  # fmt: skip
    parts = access.Access((access.Invoke(update, name="amount", kind=DataType.DOUBLE_LONG),))
    cmd = GbcsMessage.decode(_rtds("2.3_ECS07/ECS07_2.3_SUCCESS_COMMAND"))
    for amount, left in ((-200, 300), (-1_000, 0)):
        given = {"amount": Data(DataType.DOUBLE_LONG, amount)}
        request = dlms.decode(access.payload(parts, invoke_id(1), given))
        assert isinstance(request, dlms.AccessRequest)
        server.execute(request, Invocation(cmd, lambda b: b))
        assert credit.debt.time_debt[0] == left


@pytest.mark.parametrize("millipence", [0, 300, 1_500, 32_767, 1_000_000, -5])
def test_a_recovery_rate_round_trips_as_a_unit_charge(millipence) -> None:
    assert rate_of(unit_charge(millipence)) == millipence


def test_a_rate_too_large_for_a_long_keeps_its_leading_digits() -> None:
    assert rate_of(unit_charge(32_768)) == 32_770  # 3277 x 10^-2 pence


def test_update_debt_is_the_rtds_ecs07_pre_command_from_dccs_template() -> None:
    template = vectors("duis", "templates", "ECS07_2.3_SUCCESS_REQUEST_DUIS.XML")
    request = parse_document(template.read_bytes())
    rtds = GbcsMessage.decode(_rtds("2.3_ECS07/ECS07_2.3_SUCCESS_PRECOMMAND"))
    fn = transform_for(cat.ECS07)
    assert fn is not None
    ours = fn(cat.ECS07, TransformInput(request, rtds.header.counter, SUPPLIER, ESME))
    assert ours.encode() == rtds.encode()
    assert (
        check_command(
            GbcsMessage.decode(_rtds("2.3_ECS07/ECS07_2.3_SUCCESS_COMMAND")), cat.CATALOGUE
        )
        is cat.ECS07
    )


def test_update_debt_with_gas_recovery_for_an_esme_is_refused() -> None:
    template = vectors("duis", "templates", "GCS04_2.3_SUCCESS_REQUEST_DUIS.XML")
    request = parse_document(template.read_bytes())
    fn = transform_for(cat.ECS07)
    assert fn is not None
    with pytest.raises(TransformRefused, match="GasDebtRecovery is for a GSME") as refused:
        fn(cat.ECS07, TransformInput(request, 1, SUPPLIER, ESME))
    assert refused.value.code == "E11"


# --- 2.1 future-dated and cancelled (ECS08a) -----------------------------------------------------
UPDATE = "2.1_{0}/{0}_2.1_{1}_SUCCESS_{2}"
DUE = dt.datetime(2030, 1, 15, 9, tzinfo=dt.UTC)  # the templates' ExecutionDateTime
# RTDS's 8F66 alerts, in the order ECS08a activates the values (their counters' order)
ALERTS = (
    "SPECIAL_DAYS",
    "MAX_METER_BALANCE",
    "MAX_CREDIT_THRESHOLD",
    "DEBT_RECOVERY_RATE_CAP_AMOUNT",
    "DEBT_RECOVERY_RATE_CAP_PERIOD",
    "LOW_CREDIT_THRESHOLD",
    "EMERGENCY_CREDIT_LIMIT",
    "EMERGENCY_CREDIT_THRESHOLD",
    "CALENDAR",
)


@pytest.mark.parametrize("uc", [ECS08A, ECS08], ids=lambda uc: uc.name)
@pytest.mark.parametrize("variant", ["FUTURE_DATED", "CANCELLATION"])
def test_a_future_dated_or_cancelled_2_1_is_rtds_pre_command(uc, variant) -> None:
    rtds = GbcsMessage.decode(_rtds(UPDATE.format(uc.name, variant, "PRECOMMAND")))
    template = vectors("duis", "templates", f"{uc.name}_2.1_{variant}_SUCCESS_REQUEST_DUIS.XML")
    fn = transform_for(uc)
    assert fn is not None
    given = TransformInput(
        parse_document(template.read_bytes()), rtds.header.counter, SUPPLIER, ESME
    )
    assert fn(uc, given).encode() == rtds.encode()


class _Esme:
    """The ESME as its prepayment configuration sees it: a COSEM server over the credit
    engine, and what it sends up."""

    def __init__(self, store, state_dir: Path) -> None:
        self.cosem = CosemServer()
        ka = store.private(ESME, Usage.KA).private_key
        self.credit = Credit(state_dir / "credit.json", ESME, ka, initial_pence=1000)
        serve_debt(self.cosem, self.credit)
        self.config = serve_prepay_config(self.cosem, self.credit)
        self.sent: list[bytes] = []
        self.gbcs: _Endpoint | None = None
        self._tasks: list = []

    async def send_up(self, message: bytes) -> None:
        self.sent.append(message)


def _update(store, meter: _Esme, variant: str) -> GbcsMessage:
    cmd = GbcsMessage.decode(_rtds(UPDATE.format("ECS08a", variant, "COMMAND")))
    tables = SimpleNamespace(cosem=meter.cosem, zcl=None)
    ctx = replace(_context(store, ESME, tables, JAN_2015), ds=ESME_DS)
    return asyncio.run(handler_for(ECS08A)(ECS08A, cmd, ctx))


def test_a_future_dated_2_1_is_held_across_a_restart_then_applied_with_rtds_alerts(
    store, tmp_path
) -> None:
    meter = _Esme(store, tmp_path)
    before = meter.credit.settings
    answer = _update(store, meter, "FUTURE_DATED")
    rtds = GbcsMessage.decode(_rtds(UPDATE.format("ECS08a", "FUTURE_DATED", "RESPONSE")))
    assert answer.header == rtds.header and answer.payload == rtds.payload
    assert meter.credit.settings == before  # not before its time
    assert meter.config.next_due() == DUE.timestamp()

    again = _Esme(store, tmp_path)  # a restart: what it holds comes back from its state folder
    assert again.config.next_due() == DUE.timestamp()
    again.gbcs = _Endpoint(store, counter=2008)
    clock = {"now": DUE - dt.timedelta(seconds=1)}
    again.config.now = lambda: clock["now"]

    async def run() -> None:
        task = asyncio.create_task(carry_out(again, again.config))
        await asyncio.sleep(0.05)
        assert again.sent == [] and again.config.next_due() is not None
        clock["now"] = DUE
        await asyncio.wait_for(task, 5)

    asyncio.run(run())
    s = again.credit.settings  # the template's values (millipence), the engine's now (pence)
    assert (s.low_credit_pence, s.emergency_credit_pence, s.emergency_credit_threshold_pence) == (
        200,
        300,
        100,
    )
    assert (s.max_meter_balance_pence, s.max_credit_pence) == (5_000, 1_000)
    assert len(again.sent) == len(ALERTS)
    for raw, name in zip(again.sent, ALERTS, strict=True):
        wanted = GbcsMessage.decode(
            _rtds(f"2.1_ECS08a/ECS08a_2.1_8F66_FUTURE_DATED_SUCCESS_ALERT_{name}")
        )
        alert = GbcsMessage.decode(raw)
        assert alert.header == wanted.header and alert.message_code == 0x00CC
        assert _alert_body(raw) == _alert_body(wanted.encode())
        security.verify_signature(alert, ESME_DS.public_key())


def test_a_cancellation_drops_what_the_esme_holds(store, tmp_path) -> None:
    meter = _Esme(store, tmp_path)
    before = meter.credit.settings
    _update(store, meter, "FUTURE_DATED")
    answer = _update(store, meter, "CANCELLATION")
    rtds = GbcsMessage.decode(_rtds(UPDATE.format("ECS08a", "CANCELLATION", "RESPONSE")))
    assert answer.payload == rtds.payload
    assert meter.config.next_due() is None
    assert _Esme(store, tmp_path).config.next_due() is None  # nor after a restart
    assert meter.credit.settings == before


def test_a_top_up_records_what_it_paid_to_the_payment_debt(store, tmp_path) -> None:
    """ECS20a's log: each top-up's share that went to the payment debt, and when."""
    meter = _Esme(store, tmp_path)
    credit = meter.credit
    credit.debt.payment_debt, credit.debt.per_payment_bp = 50_000, 1_000  # 10% of each top-up
    credit.clock = lambda: 1_420_070_400  # 2015-01-01T00:00:00Z
    pp = ec.generate_private_key(ec.SECP256R1())
    ka = store.private(ESME, Usage.KA).private_key
    for pounds, block in ((2, 1), (3, 2)):
        top_up = utrn.TopUp(pounds, utrn.ValueClass.POUNDS, block << 32)
        text = utrn.make(top_up, SUPPLIER.raw, ESME.raw, pp, ka.public_key())
        credit.top_up(text, SUPPLIER, pp.public_key())
    assert credit.debt_payments == [(1_420_070_400, 20_000), (1_420_070_400, 30_000)]
    assert credit.debt.payment_debt == 0
    again = _Esme(store, tmp_path)  # kept with the engine's state
    assert again.credit.debt_payments == credit.debt_payments
