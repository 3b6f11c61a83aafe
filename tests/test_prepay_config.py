"""The prepayment configuration SRVs, byte for byte as RTDS 4.5.0 has them, and the ESME's
COSEM objects that answer them over its credit engine: 2.3 Update Debt (ECS07), from DCC's
template to RTDS's pre-command, applied by the meter, answered as RTDS answers."""

from __future__ import annotations

import pytest

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemServer, Invocation
from nodes.roles.credit import Credit
from nodes.roles.debt import DAY_S
from nodes.roles.prepay_objects import rate_of, serve_debt, unit_charge
from rig.pki.keystores import load
from rig.protocol.duis.message import parse_document
from rig.protocol.gbcs import access, cosem, dlms
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, dlms_answer, invoke_id
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ESME, SUPPLIER, _rtds


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
