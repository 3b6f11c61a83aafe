"""The ESME's device configuration (6.2.x reads, 6.4.x load limit), byte for byte as RTDS
4.5.0 has it: DCC's templates transformed into RTDS's commands, RTDS's commands answered by
the meter's objects with RTDS's structure, writes (ECS28a, and the 6.5 and 6.22 writes other
families send) read back and kept across a restart, bad input refused; and 6.2.1, 6.2.9, 6.4.1
and 6.2.10 through the running rig."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway.transform import TransformInput, served, transform_for
from gateway.transform.registry import Peer, TransformRefused
from nodes.gbcs.cosem_server import CosemServer, Invocation, Result
from nodes.gbcs.handlers import handler_for
from nodes.roles.credit import CREDIT, Credit
from nodes.roles.device_config import serve_device_config, serve_hub_identity
from nodes.roles.event_logs import serve_event_logs
from rig.dccuser.readers import read
from rig.protocol.duis.message import parse_document
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_device_config as dc
from rig.protocol.gbcs import dlms, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.cosem import Attribute as cosem_attribute
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, for_unknown_remote_party
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ACB, ESME, JAN_2015, NETWORK_OPERATOR, SUPPLIER, _context, _rtds

CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")
# (use case, DCC's template and RTDS's files, without _REQUEST_DUIS / _COMMAND_GBCS)
CASES = [
    (dc.ECS26B, "6.2.1_ECS26b/ECS26b_6.2.1_SUCCESS"),
    (dc.ECS26K, "6.2.1_ECS26k/ECS26k_6.2.1_SUCCESS"),
    (dc.ECS26C, "6.2.2_ECS26c/ECS26c_6.2.2_SUCCESS"),
    (dc.ECS26L, "6.2.3_ECS26l/ECS26l_6.2.3_SUCCESS"),
    (dc.ECS26D, "6.2.3_ECS26d/ECS26d_6.2.3_SUCCESS"),
    (dc.ECS26M, "6.2.4_ECS26m/ECS26m_6.2.4_SUCCESS"),
    (dc.ECS26E, "6.2.4_ECS26e/ECS26e_6.2.4_SUCCESS"),
    (dc.ECS26N, "6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS"),
    (dc.ECS26I, "6.2.4_ECS26i/ECS26i_6.2.4_SUCCESS"),
    (dc.ECS26F, "6.2.5_ECS26f/ECS26f_6.2.5_SUCCESS"),
    (dc.ECS40, "6.2.7_ECS40/ECS40_6.2.7_SINGLE_SUCCESS"),
    (dc.ECS40, "6.2.7_ECS40/ECS40_6.2.7_TWIN_SUCCESS"),
    (dc.ECS26J, "6.2.9_ECS26j/ECS26j_6.2.9_SUCCESS"),
    (dc.ECS25R1, "6.2.10_ECS25r1/ECS25r1_6.2.10_SUCCESS"),
    (dc.ECS25R2, "6.2.10_ECS25r2/ECS25r2_6.2.10_SUCCESS"),
    (dc.ECS28A, "6.4.1_ECS28a/ECS28a_6.4.1_IMMEDIATE_SUCCESS"),
    (dc.ECS28A, "6.4.1_ECS28a/ECS28a_6.4.1_FUTURE_DATED_SUCCESS"),
    (dc.ECS28A, "6.4.1_ECS28a/ECS28a_6.4.1_CANCELLATION_SUCCESS"),
    (dc.ECS28B, "6.4.2_ECS28b/ECS28b_6.4.2_SUCCESS"),
]


@pytest.fixture(scope="module")
def store():
    from rig.pki.keystores import load

    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _msg(name: str) -> GbcsMessage:
    return GbcsMessage.decode(_rtds(name))


def _template(rtds: str):
    name = rtds.split("/")[1]
    return parse_document(vectors("duis", "templates", f"{name}_REQUEST_DUIS.XML").read_bytes())


def _peer(store):
    """The DCC's SMKI: each DCC User's KA certificate (its role is its OU)."""

    def peer(eui: Eui64) -> Peer:
        from cryptography.hazmat.primitives.serialization import Encoding

        entry = store.get(eui, Usage.KA)
        return Peer(None, entry.certificate.public_bytes(Encoding.DER))

    return peer


def _transformed(store, uc, rtds: str, counter: int) -> GbcsMessage:
    request = _template(rtds)
    rid = request.request_id
    fn = transform_for(uc)
    assert fn is not None
    return fn(uc, TransformInput(request, counter, rid.originator, rid.target, _peer(store)))


@pytest.mark.parametrize(("uc", "rtds"), CASES)
def test_the_transform_of_dccs_template_is_rtdss_command(store, uc, rtds) -> None:
    expected = _msg(f"{rtds}_{'PRECOMMAND' if uc.critical else 'COMMAND'}")
    ours = _transformed(store, uc, rtds, expected.header.counter)
    if uc.critical:  # the pre-command the DCC User signs
        assert ours.is_pre_command and ours.encode() == expected.encode()
        return
    target = ours.header.recipient
    if uc.acb_originated:  # the CHF's: the ACB originates it for the User (the downlink's path)
        user_counter = _template(rtds).request_id.counter
        ours = for_unknown_remote_party(ours, ACB.raw, ours.header.counter, user_counter, None)
    acb = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb, store.get(Eui64(target), Usage.KA).public_key)
    assert maced.encode() == expected.encode()
    if uc in dc.USE_CASES:
        assert check_command(expected, CATALOGUE) is uc


def test_one_use_case_per_srv_and_device_type_is_served() -> None:
    primaries = {
        ("6.2.1", "ESME"): dc.ECS26B,
        ("6.2.3", "ESME"): dc.ECS26L,
        ("6.2.4", "ESME"): dc.ECS26M,
        ("6.2.4", "CHF"): dc.ECS26N,
        ("6.2.10", "ESME"): dc.ECS25R1,
        ("6.4.1", "ESME"): dc.ECS28A,
        ("6.4.2", "ESME"): dc.ECS28B,
    }
    for (srv, device), uc in primaries.items():
        assert served(CATALOGUE, srv, device) is uc
    # RTDS's older use cases are not DCC's any more: never sent, not in the catalogue
    assert not set(dc.OLDER) & set(CATALOGUE.all)
    # without the requester's certificate 6.2.10 is the supplier's
    rtds = "6.2.10_ECS25r2/ECS25r2_6.2.10_SUCCESS"
    fn = transform_for(dc.ECS25R1)
    assert fn is not None
    request = _template(rtds)
    plain = fn(dc.ECS25R1, TransformInput(request, 1200, NETWORK_OPERATOR, ESME))
    assert plain.message_code == dc.ECS25R1.message_code


def test_a_bad_load_limit_request_is_refused() -> None:
    request = _template("6.4.1_ECS28a/ECS28a_6.4.1_IMMEDIATE_SUCCESS")
    state = request.body.find("{*}LoadLimitSupplyState")
    assert state is not None
    state.text = "Sometimes"
    fn = transform_for(dc.ECS28A)
    assert fn is not None
    with pytest.raises(TransformRefused, match="LoadLimitSupplyState is Disable or Unchanged"):
        fn(dc.ECS28A, TransformInput(request, 1002, SUPPLIER, ESME))


# --- the meter's answers ------------------------------------------------------------------------
def _meter(state: Path, eui: Eui64 = ESME, credit: Credit | None = None) -> SimpleNamespace:
    meter = SimpleNamespace(
        cosem=CosemServer(), config=SimpleNamespace(eui=eui, state_dir=state), credit=credit
    )
    return meter


def _execute(meter, msg: GbcsMessage) -> tuple[list[Data], list[int]]:
    request = dlms.decode(msg.payload)
    assert isinstance(request, dlms.AccessRequest)
    data, results = meter.cosem.execute(request, Invocation(msg, lambda b: b))
    return data, [r.result for r in results]


def _shape(d: Data):
    """A value's types: a structure's members in order, an array's elements whatever many."""
    if d.type is DataType.STRUCTURE:
        return (d.type, tuple(_shape(v) for v in d.value))
    if d.type is DataType.ARRAY:
        return (d.type, frozenset(_shape(v) for v in d.value))
    return d.type


def _credit(store, state: Path) -> Credit:
    return Credit(state / "credit.json", ESME, store.private(ESME, Usage.KA).private_key)


@pytest.mark.parametrize(("uc", "rtds"), [c for c in CASES if not c[0].critical])
def test_the_meter_answers_rtdss_command_with_rtdss_structure(store, tmp_path, uc, rtds) -> None:
    chf = uc.device_type == "CHF"
    meter = _meter(tmp_path, CHF if chf else ESME, None if chf else _credit(store, tmp_path))
    if chf:
        serve_hub_identity(meter)
    else:
        serve_device_config(meter)
    data, results = _execute(meter, _msg(f"{rtds}_COMMAND"))
    answer = dlms.decode(_msg(f"{rtds}_RESPONSE").payload)
    assert isinstance(answer, dlms.AccessResponse)
    assert results == [r.result for r in answer.results] and set(results) == {0}
    assert [_shape(d) for d in data] == [_shape(d) for d in answer.data]
    # the meter's own state, as first powered on, is RTDS's example meter's where it can be:
    # not the tamper state (RTDS's is locked), a poly-phase meter's thresholds, the monthly
    # calendar of the older ECS26d, the twin MPAN, the hub's manufacturer ("CSW ")
    if (
        uc.name not in {"ECS26m", "ECS26e", "ECS26k", "ECS26d", "ECS26n", "ECS26i"}
        and "TWIN" not in rtds
    ):
        assert data == answer.data


def test_the_esme_answers_rtdss_ecs26b_byte_for_byte_and_the_user_reads_it(store, tmp_path):
    meter = _meter(tmp_path)
    serve_device_config(meter)
    ctx = _context(store, ESME, meter, JAN_2015)
    rtds = "6.2.1_ECS26b/ECS26b_6.2.1_SUCCESS"
    answer = asyncio.run(handler_for(dc.ECS26B)(dc.ECS26B, _msg(f"{rtds}_COMMAND"), ctx))
    assert answer.encode() == _msg(f"{rtds}_RESPONSE").encode()
    out = read(
        answer,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )
    assert out["result"] == 0 and out["authenticated_by"] == "mac"
    assert out["extreme_over_voltage_threshold"] == 287 and out["voltage_sag_period"] == 30
    assert out["average_rms_under_voltage"] == 200


def test_ecs28a_sets_the_load_limit_kept_across_a_restart_and_ecs28b_resets_the_counter(
    store, tmp_path
) -> None:
    meter = _meter(tmp_path)
    serve_device_config(meter)
    _, results = _execute(meter, _msg("6.4.1_ECS28a/ECS28a_6.4.1_IMMEDIATE_SUCCESS_COMMAND"))
    assert results == [0] * 8
    again = _meter(tmp_path)  # a restart: the same state folder
    stored = serve_device_config(again)
    assert stored is not None
    in_force = {n: again.cosem.get(a).value for n, (_, a) in dc.LOAD_LIMIT.items()}
    assert in_force == {
        "supply_state": 0xFF,  # Disable
        "power_threshold": 6900,
        "period": 300,
        "restoration_period": 30,
    }
    stored.set("load_limit_counter", Data(DataType.DOUBLE_LONG_UNSIGNED, 4))
    assert again.cosem.get(dc.LOAD_LIMIT_COUNTER).value == 4
    _, results = _execute(again, _msg("6.4.2_ECS28b/ECS28b_6.4.2_SUCCESS_COMMAND"))
    assert results == [0] and again.cosem.get(dc.LOAD_LIMIT_COUNTER).value == 0
    # a cancellation drops what was to come; the value in force stays
    cancel = _transformed(store, dc.ECS28A, "6.4.1_ECS28a/ECS28a_6.4.1_CANCELLATION_SUCCESS", 9)
    _, results = _execute(again, cancel)
    assert results == [0] * 8
    assert again.cosem.get(dc.LOAD_LIMIT["power_threshold"][1]).value == 6900


def _set(meter, address, value: Data) -> int:
    spec = dlms.RequestSpec(
        dlms.RequestKind.SET, address.class_id, address.instance, address.attribute
    )
    msg = _msg("6.2.9_ECS26j/ECS26j_6.2.9_SUCCESS_COMMAND")  # any command: no encryption
    _, results = meter.cosem.execute(
        dlms.AccessRequest(1, b"", [spec], [value]), Invocation(msg, bytes)
    )
    return results[0].result


def test_other_families_writes_are_what_the_reads_return(store, tmp_path) -> None:
    """6.5's ECS29c SETs the voltage limiters ECS26b reads; 6.22's ECS25a filter changes
    the supplier's WAN behaviour ECS25r1 reads; a SET of the payment mode moves the credit
    engine; a SET of another shape is refused."""
    meter = _meter(tmp_path, credit=_credit(store, tmp_path))
    serve_event_logs(meter)
    stored = serve_device_config(meter)
    assert stored is not None
    stored.set("voltage_sag_threshold", Data(DataType.DOUBLE_LONG_UNSIGNED, 1))
    ecs26b = "6.2.1_ECS26b/ECS26b_6.2.1_SUCCESS"
    assert _execute(meter, _msg(f"{ecs26b}_COMMAND"))[0][4].value == 1
    _, results = _execute(meter, _msg("6.5_ECS29c/ECS29c_6.5_SUCCESS_COMMAND"))
    assert results[3:] == [0] * 8  # the limiters' SETs (the profile's is 6.5's own family's)
    answer = dlms.decode(_msg(f"{ecs26b}_RESPONSE").payload)
    assert isinstance(answer, dlms.AccessResponse)
    assert _execute(meter, _msg(f"{ecs26b}_COMMAND"))[0] == answer.data  # 216 V again

    ecs25r1 = _msg("6.2.10_ECS25r1/ECS25r1_6.2.10_SUCCESS_COMMAND")
    before, _ = _execute(meter, ecs25r1)
    _, results = _execute(meter, _msg("6.22_ECS25a/ECS25a_6.22_SUCCESS_COMMAND"))
    assert results == [0]
    after, _ = _execute(meter, ecs25r1)
    assert after[0] != before[0] and after[1:] == before[1:]  # the WAN behaviour alone

    credit_mode = Data(DataType.STRUCTURE, [Data(DataType.ENUM, 1), Data(DataType.ENUM, 2)])
    assert _set(meter, dc.PAYMENT_MODE, credit_mode) == 0
    assert meter.credit.settings.payment_mode == CREDIT
    data, _ = _execute(meter, _msg("6.2.9_ECS26j/ECS26j_6.2.9_SUCCESS_COMMAND"))
    assert data[0] == credit_mode

    sag = cosem_attribute(dc.LIMITER, dc.RMS_LIMITERS["voltage_sag"], dc.THRESHOLD)
    assert _set(meter, sag, Data(DataType.LONG_UNSIGNED, 200)) == Result.TYPE_UNMATCHED
    thresholds = Data(DataType.ARRAY, [Data(DataType.LONG, 1)])
    assert _set(meter, dc.POWER_THRESHOLDS, thresholds) == Result.TYPE_UNMATCHED


def test_a_future_dated_load_limit_is_refused_until_the_meter_holds_one(store, tmp_path) -> None:
    meter = _meter(tmp_path)
    serve_device_config(meter)
    future = _msg("6.4.1_ECS28a/ECS28a_6.4.1_FUTURE_DATED_SUCCESS_COMMAND")
    _, results = _execute(meter, future)
    assert results[:4] == [0] * 4 and set(results[4:]) == {Result.OTHER_REASON}
    assert meter.cosem.get(dc.LOAD_LIMIT["power_threshold"][1]).value == 0  # none in force


# --- through the running rig ---------------------------------------------------------------------
def test_6_2_and_6_4_through_the_dcc(dcc_rig) -> None:
    """DCC's own templates' bodies from the supplier: 6.2.1 reads the meter's voltage
    configuration, 6.4.1 (critical: signed) sets the load limit and 6.4.2 resets its
    counter, 6.2.9 reads the credit engine's payment mode, 6.2.4 reads the hub's identity."""
    from rig.dccuser.client import DccUser
    from rig.dccuser.tasks import default_user, device_of

    env = dcc_rig
    esme, chf = device_of(env["rig"], "esme"), device_of(env["rig"], "chf")
    user = DccUser.from_state(env["state"].root, default_user(env["rig"], esme, env["state"]))

    def send(rtds: str, target: Eui64 = esme):
        request = _template(rtds)
        out = asyncio.run(user.send(request.srv, target, body=request.body, wait=90))
        assert out.response_code == "I0", out
        assert out.values["result"] == 0, out.values
        return out.values

    voltage = send("6.2.1_ECS26b/ECS26b_6.2.1_SUCCESS")
    assert voltage["extreme_over_voltage_threshold"] == 287
    assert voltage["authenticated_by"] == "mac"
    assert send("6.4.1_ECS28a/ECS28a_6.4.1_IMMEDIATE_SUCCESS")["results"] == [0] * 8
    assert send("6.4.2_ECS28b/ECS28b_6.4.2_SUCCESS")["results"] == [0]
    assert send("6.2.9_ECS26j/ECS26j_6.2.9_SUCCESS")["payment_mode"]["mode"] == "prepayment"
    hub = send("6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS", chf)
    assert hub["model_type"] == "ATGTypeY"
