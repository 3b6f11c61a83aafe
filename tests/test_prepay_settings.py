"""The ESME's prepayment configuration SRVs byte for byte as RTDS 4.5.0 has them: 4.13 Read
Prepayment Configuration (ECS26a, SINGLE and TWIN) and 2.1 Update Prepay Configuration
(ECS08a, and RTDS's older ECS08; IMMEDIATE), from DCC's templates to RTDS's commands; the
ESME's COSEM objects answer them over its credit engine, and what 2.1 writes changes what
the engine does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.config import Behaviour
from nodes.gbcs.cosem_server import CosemServer, Invocation, Result
from nodes.gbcs.handlers import handler_for
from nodes.roles.credit import EXCEEDS_MAX_CREDIT, LOW_CREDIT, Credit, Settings, TopUpRefused
from nodes.roles.prepay_objects import serve_debt, serve_prepay_config
from rig.dccuser.readers import read
from rig.dccuser.tasks import send_request
from rig.pki.keystores import load
from rig.protocol import utrn
from rig.protocol.codec import DecodeError
from rig.protocol.duis.message import parse_document
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import cosem, dlms, security
from rig.protocol.gbcs.catalogue_prepay_config import AT_ONCE, ECS08, ECS08A, ECS26A
from rig.protocol.gbcs.dlms import AccessRequest, Data, DataType, RequestKind, RequestSpec
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, dlms_answer, invoke_id
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ACB, ESME, SUPPLIER, Tables, _context, _rtds

READ = "4.13_ECS26a/ECS26a_4.13_{}_SUCCESS_{}"
UPDATE = "2.1_{0}/{0}_2.1_IMMEDIATE_SUCCESS_{1}"
UPDATES = pytest.mark.parametrize("update", [ECS08A, ECS08], ids=lambda uc: uc.name)


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _meter(store, tmp_path, **settings) -> tuple[CosemServer, Credit]:
    ka = store.private(ESME, Usage.KA).private_key
    chosen = replace(Settings(), **settings)
    credit = Credit(tmp_path / "credit.json", ESME, ka, initial_pence=1000, settings=chosen)
    server = CosemServer()
    serve_debt(server, credit)
    serve_prepay_config(server, credit)
    return server, credit


def _execute(server: CosemServer, payload: bytes) -> tuple[list[Data], list[int], bytes]:
    request = dlms.decode(payload)
    assert isinstance(request, AccessRequest)
    cmd = GbcsMessage.decode(_rtds(READ.format("SINGLE", "COMMAND")))
    data, results = server.execute(request, Invocation(cmd, lambda b: b))
    return data, [r.result for r in results], dlms_answer(1, data, results)


def _read(server: CosemServer) -> list[Data]:
    """ECS26a's eighteen values, as the ESME answers RTDS's command."""
    cmd = GbcsMessage.decode(_rtds(READ.format("SINGLE", "COMMAND")))
    data, results, _ = _execute(server, cmd.payload)
    assert results == [0] * 18
    return data


def _template(name: str):
    return parse_document(vectors("duis", "templates", name).read_bytes())


# --- the DCC's transform ------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["SINGLE", "TWIN"])
def test_read_prepayment_configuration_is_rtds_ecs26a_with_the_acb_mac(store, variant) -> None:
    rtds = _rtds(READ.format(variant, "COMMAND"))
    counter = GbcsMessage.decode(rtds).header.counter
    request = _template(f"ECS26a_4.13_{variant}_SUCCESS_REQUEST_DUIS.XML")
    fn = transform_for(ECS26A)
    assert fn is not None
    ours = fn(ECS26A, TransformInput(request, counter, SUPPLIER, ESME))
    acb_ka = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb_ka, store.get(ESME, Usage.KA).public_key)
    assert maced.encode() == rtds
    assert check_command(GbcsMessage.decode(rtds), cat.CATALOGUE) is ECS26A


@UPDATES
def test_update_prepay_configuration_is_the_rtds_pre_command(update) -> None:
    rtds = GbcsMessage.decode(_rtds(UPDATE.format(update.name, "PRECOMMAND")))
    fn = transform_for(update)
    assert fn is not None
    request = _template(f"{update.name}_2.1_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML")
    ours = fn(update, TransformInput(request, rtds.header.counter, SUPPLIER, ESME))
    assert ours.is_pre_command
    assert ours.encode() == rtds.encode()


def test_the_esme_takes_ecs08a_as_dccs_table_has_it_not_ecs08() -> None:
    served = GbcsMessage.decode(_rtds(UPDATE.format("ECS08a", "COMMAND")))
    assert check_command(served, cat.CATALOGUE) is ECS08A
    assert cat.CATALOGUE.for_srv("2.1", "ESME") is ECS08A
    with pytest.raises(DecodeError):
        check_command(GbcsMessage.decode(_rtds(UPDATE.format("ECS08", "COMMAND"))), cat.CATALOGUE)


@pytest.mark.parametrize(
    ("template", "code", "why"),
    [
        ("GCS05_2.1_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML", "E11", "UpdatePrepayConfigGas is for"),
    ],
)
def test_a_gas_update_for_an_esme_is_refused(template, code, why) -> None:
    fn = transform_for(ECS08A)
    assert fn is not None
    with pytest.raises(TransformRefused, match=why) as refused:
        fn(ECS08A, TransformInput(_template(template), 1, SUPPLIER, ESME))
    assert refused.value.code == code


# --- the ESME ----------------------------------------------------------------------------------
def _rtds_values_written(server: CosemServer, variant: str) -> None:
    """Write RTDS's ECS26a answer into the ESME's objects: each attribute with a SET, the
    time debts' unit charges as ECS07 writes them (passive, then activated)."""
    cmd = dlms.decode(GbcsMessage.decode(_rtds(READ.format(variant, "COMMAND"))).payload)
    answer = dlms.decode(GbcsMessage.decode(_rtds(READ.format(variant, "RESPONSE"))).payload)
    assert isinstance(cmd, AccessRequest) and isinstance(answer, dlms.AccessResponse)
    specs: list[RequestSpec] = []
    values: list[Data] = []
    for spec, value in zip(cmd.specs, answer.data, strict=True):
        if (spec.class_id, spec.member_id) == (cosem.CHARGE, cosem.UNIT_CHARGE_ACTIVE):
            c, i = spec.class_id, spec.instance_id
            specs.append(RequestSpec(RequestKind.SET, c, i, cosem.UNIT_CHARGE_PASSIVE))
            specs.append(RequestSpec(RequestKind.ACTION, c, i, cosem.ACTIVATE_PASSIVE_UNIT_CHARGE))
            values += [value, Data(DataType.INTEGER, 0)]
        else:
            specs.append(
                RequestSpec(RequestKind.SET, spec.class_id, spec.instance_id, spec.member_id)
            )
            values.append(value)
    request = AccessRequest(invoke_id(1), b"", specs, values)
    _, results, _ = _execute(server, request.encode())
    assert results == [0] * len(specs)


@pytest.mark.parametrize("variant", ["SINGLE", "TWIN"])
async def test_the_esme_answers_ecs26a_as_rtds_does_with_rtds_values(
    store, tmp_path, variant
) -> None:
    server, credit = _meter(store, tmp_path)
    _rtds_values_written(server, variant)
    # RTDS's values are now the engine's: LowCreditThreshold 500000 millipence is £5...
    s = credit.settings
    assert (s.low_credit_pence, s.emergency_credit_pence, s.emergency_credit_threshold_pence) == (
        500,
        2_500,
        100,
    )
    assert (s.disablement_threshold_pence, s.max_credit_pence, s.max_meter_balance_pence) == (
        -500,
        5_000,
        10_000,
    )
    tables = Tables()
    tables.cosem = server
    cmd = GbcsMessage.decode(_rtds(READ.format(variant, "COMMAND")))
    answer = await handler_for(ECS26A)(ECS26A, cmd, _context(store, ESME, tables))
    assert answer.encode() == _rtds(READ.format(variant, "RESPONSE"))  # MAC'd as RTDS's
    out = read(
        answer,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )
    assert out["authenticated_by"] == "mac" and out["result"] == 0
    assert out["low_credit_threshold_pence"] == 500
    assert out["disablement_threshold_pence"] == -500
    assert out["max_meter_balance_pence"] == 10_000
    assert (out["debt_recovery_rate_1"], out["debt_recovery_rate_price_scale_1"]) == (5_000, -5)
    assert out["debt_recovery_rate_cap"] == 10_000
    assert [d["month"] for d in out["special_days"]] == [12, 12, 4, 4]


@UPDATES
def test_the_esme_applies_rtds_update_and_answers_as_rtds_does(store, tmp_path, update) -> None:
    server, credit = _meter(store, tmp_path)
    cmd = GbcsMessage.decode(_rtds(UPDATE.format(update.name, "COMMAND")))
    request = dlms.decode(cmd.payload)
    assert isinstance(request, AccessRequest)
    data, results = server.execute(request, Invocation(cmd, lambda b: b))
    answer = dlms_answer(cmd.header.counter, data, results)
    assert answer == GbcsMessage.decode(_rtds(UPDATE.format(update.name, "RESPONSE"))).payload
    # the template's values (millipence) are the engine's now (pence)
    s = credit.settings
    assert (s.low_credit_pence, s.emergency_credit_pence, s.emergency_credit_threshold_pence) == (
        200,
        300,
        100,
    )
    assert (s.max_meter_balance_pence, s.max_credit_pence) == (5_000, 1_000)
    # and ECS26a reads back what 2.1 wrote: its special days, schedule and cap
    values = _read(server)
    assert values[1] == request.data[0]  # the special days, activated
    assert values[16] == request.data[3]  # the non-disablement schedule, activated
    assert values[12] == request.data[4]  # DebtRecoveryRateCap 30
    assert values[13] == Data(DataType.DOUBLE_LONG, 604_800)
    assert values[11] == Data(DataType.DOUBLE_LONG, 200_000)
    # kept across a power cut: the engine's settings and the stored calendar
    server2, credit2 = _meter(store, tmp_path)
    assert credit2.settings == credit.settings
    assert _read(server2) == values


def test_a_new_low_credit_threshold_changes_when_810d_is_raised(store, tmp_path) -> None:
    server, credit = _meter(store, tmp_path, low_credit_pence=200)  # balance: £10
    assert LOW_CREDIT not in credit.spend(100.0, 1000.0)  # 100p spent: £9 left, above £2
    to_come = cosem.Attribute(cosem.FUTURE_DATED, cosem.LOW_CREDIT_TO_COME, cosem.VALUE_TO_COME)
    at = cosem.Attribute(cosem.FUTURE_DATED, cosem.LOW_CREDIT_TO_COME, cosem.ACTIVATION)
    request = AccessRequest(
        invoke_id(1),
        b"",
        [
            RequestSpec(RequestKind.SET, to_come.class_id, to_come.instance, to_come.attribute),
            RequestSpec(RequestKind.SET, at.class_id, at.instance, at.attribute),
        ],
        [Data(DataType.DOUBLE_LONG, 850_000), Data(DataType.OCTET_STRING, AT_ONCE)],
    )
    assert _execute(server, request.encode())[1] == [0, 0]
    assert credit.settings.low_credit_pence == 850
    assert _read(server)[11] == Data(DataType.DOUBLE_LONG, 850_000)
    assert LOW_CREDIT in credit.spend(100.0, 1000.0)  # £8 left: below the new £8.50


def test_an_activation_that_is_no_date_time_or_a_part_penny_is_refused(store, tmp_path) -> None:
    server, credit = _meter(store, tmp_path, low_credit_pence=200)
    low = cosem.Attribute(cosem.FUTURE_DATED, cosem.LOW_CREDIT_TO_COME, cosem.VALUE_TO_COME)
    at = cosem.Attribute(cosem.FUTURE_DATED, cosem.LOW_CREDIT_TO_COME, cosem.ACTIVATION)
    threshold = cosem.Attribute(cosem.ACCOUNT, cosem.ACCOUNT_OBJECT, cosem.LOW_CREDIT_THRESHOLD)
    specs = [
        RequestSpec(RequestKind.SET, a.class_id, a.instance, a.attribute)
        for a in (low, at, threshold)
    ]
    values = [
        Data(DataType.DOUBLE_LONG, 900_000),
        Data(DataType.OCTET_STRING, b"soon"),
        Data(DataType.DOUBLE_LONG, 900_500),  # 900.5 pence
    ]
    results = _execute(server, AccessRequest(invoke_id(1), b"", specs, values).encode())[1]
    assert results == [0, Result.TYPE_UNMATCHED, Result.TYPE_UNMATCHED]
    assert credit.settings.low_credit_pence == 200


def test_the_maximum_meter_balance_refuses_a_top_up_with_8f5b(store, tmp_path) -> None:
    server, credit = _meter(store, tmp_path)  # balance: £10
    balance = cosem.Attribute(cosem.FUTURE_DATED, cosem.MAX_METER_BALANCE, cosem.VALUE)
    request = AccessRequest(
        invoke_id(1),
        b"",
        [RequestSpec(RequestKind.SET, balance.class_id, balance.instance, balance.attribute)],
        [Data(DataType.DOUBLE_LONG, 1_500_000)],  # £15
    )
    assert _execute(server, request.encode())[1] == [0]
    pp = store.private(SUPPLIER, Usage.PP_KA).private_key
    supplier_pp = store.get(SUPPLIER, Usage.PP_KA).public_key

    def utrn_for(pounds: int, counter: int) -> str:
        top_up = utrn.TopUp(pounds, utrn.ValueClass.POUNDS, counter)
        return utrn.make(top_up, SUPPLIER.raw, ESME.raw, pp, store.get(ESME, Usage.KA).public_key)

    with pytest.raises(TopUpRefused, match="maximum meter balance") as refused:
        credit.top_up(utrn_for(6, 1 << 32), SUPPLIER, supplier_pp)
    assert refused.value.alert_code == EXCEEDS_MAX_CREDIT
    assert credit.pence == 1_000
    assert credit.top_up(utrn_for(5, 2 << 32), SUPPLIER, supplier_pp).balance_millipence == (
        1_500_000
    )


# --- on the running rig (the session's dcc_rig) ------------------------------------------------
def _configured(env, knob: str) -> int:
    """The ESME's credit setting at power-on: its behaviour knob in the rig, or the default."""
    esme = next(n for n in env["rig"].nodes if n.name == "esme")
    return int(esme.behaviour.get(knob, getattr(Behaviour(), knob)))


def _read_configuration(env) -> dict:
    out = send_request(env["rig"], env["state"], "4.13", "esme", {})
    assert out.response_code == "I0" and out.values["result"] == 0, out
    assert out.values["authenticated_by"] == "mac"
    return out.values


def _update(env, values: dict) -> None:
    params = {
        "DebtRecoveryRateCap": str(values["debt_recovery_rate_cap"]),
        "EmergencyCreditLimit": str(values["emergency_credit_limit_pence"] * 1000),
        "EmergencyCreditThreshold": str(values["emergency_credit_threshold_pence"] * 1000),
        "LowCreditThreshold": str(values["low_credit_threshold_pence"] * 1000),
        "MaxMeterBalance": str(values["max_meter_balance_pence"] * 1000),
        "MaxCreditThreshold": str(values["max_credit_threshold_pence"] * 1000),
    }
    out = send_request(env["rig"], env["state"], "2.1", "esme", params)
    assert out.response_code == "I0" and out.values["result"] == 0, out
    assert out.values["authenticated_by"] == "signature"  # critical: the ESME signs its answer


def test_the_running_esme_reads_and_updates_its_prepayment_configuration(dcc_rig) -> None:
    env = dcc_rig
    before = _read_configuration(env)
    for name, knob in (
        ("low_credit_threshold_pence", "low_credit_pence"),
        ("emergency_credit_limit_pence", "emergency_credit_pence"),
        ("emergency_credit_threshold_pence", "emergency_credit_threshold_pence"),
    ):
        assert before[name] == _configured(env, knob), name
    raised = {**before, "low_credit_threshold_pence": before["low_credit_threshold_pence"] + 150}
    try:
        _update(env, raised)
        after = _read_configuration(env)
        assert after["low_credit_threshold_pence"] == raised["low_credit_threshold_pence"]
        unchanged = ("emergency_credit_limit_pence", "max_meter_balance_pence")
        assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
        assert [s["script"] for s in after["non_disablement_schedule"]] == ["START"]
    finally:
        _update(env, before)
    assert (
        _read_configuration(env)["low_credit_threshold_pence"]
        == (before["low_credit_threshold_pence"])
    )
