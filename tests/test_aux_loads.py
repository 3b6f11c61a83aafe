"""The ESME's auxiliary loads, boost button and auxiliary controller (6.14.x, 7.5-7.16): DCC's
templates transformed into RTDS 4.5.0's commands byte for byte, the meter's answers to RTDS's
commands shaped as RTDS's responses, writes read back (and kept across a restart), bad
commands refused."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemServer
from nodes.gbcs.handlers import handler_for
from nodes.roles.aux_loads import AuxLoads, register
from rig.pki.keystores import load
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_aux_loads as aux
from rig.protocol.gbcs import dlms, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.dlms import AccessResponse, Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, check_command, for_unknown_remote_party
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_prepay_reads import _template
from tests.test_usecases import ACB, ESME, JAN_2015, SUPPLIER, _context, _rtds

# (use case, DCC's template, RTDS's files): every template of the family
CASES = [
    (aux.ECS47, "ECS47Activate_7.5_SUCCESS", "7.5_ECS47Activate/ECS47Activate_7.5_SUCCESS"),
    (aux.ECS47, "ECS47Deactivate_7.6_SUCCESS", "7.6_ECS47Deactivate/ECS47Deactivate_7.6_SUCCESS"),
    (aux.ECS47, "ECS47Reset_7.8_SUCCESS", "7.8_ECS47Reset/ECS47Reset_7.8_SUCCESS"),
    (aux.ECS61A, "ECS61a_7.7_ALL_OPTIONALS_SUCCESS", "7.7_ECS61a/ECS61a_7.7_ALL_OPTIONALS_SUCCESS"),
    (aux.ECS62, "ECS62Add_7.9_SUCCESS", "7.9_ECS62Add/ECS62Add_7.9_SUCCESS"),
    (aux.ECS62, "ECS62Remove_7.10_SUCCESS", "7.10_ECS62Remove/ECS62Remove_7.10_SUCCESS"),
    (aux.ECS61C, "ECS61c_7.11_SUCCESS", "7.11_ECS61c/ECS61c_7.11_SUCCESS"),
    (aux.ECS38, "ECS38_7.12_SUCCESS", "7.12_ECS38/ECS38_7.12_SUCCESS"),
    *(
        (aux.ECS47A, f"ECS47a_7.13_{v}_SUCCESS", f"7.13_ECS47a/ECS47a_7.13_{v}_SUCCESS")
        for v in ("ALCS_ACTIVATE", "ALCS_DEACTIVATE", "APC_INPUT", "APC_OUTPUT")
    ),
    (aux.ECS61D, "ECS61d_7.14_SUCCESS", "7.14_ECS61d/ECS61d_7.14_SUCCESS"),
    (aux.ECS61E, "ECS61e_7.15_SUCCESS", "7.15_ECS61e/ECS61e_7.15_SUCCESS"),
    *(
        (aux.ECS47E, f"ECS47e_7.16_{v}_SUCCESS", f"7.16_ECS47e/ECS47e_7.16_{v}_SUCCESS")
        for v in ("APC_INPUT", "APC_OUTPUT")
    ),
    *(
        (aux.ECS46A, f"ECS46a_6.14.1_{v}_SUCCESS", f"6.14.1_ECS46a/ECS46a_6.14.1_{v}_SUCCESS")
        for v in ("ALL_OPTIONALS", "SOME_OPTIONALS")
    ),
    *(
        (
            aux.ECS46C,
            f"ECS46c_6.14.2_{v}_OPTIONALS_SUCCESS",
            f"6.14.2_ECS46c/ECS46c_6.14.2_{v}_OPTIONALS_SUCCESS",
        )
        for v in ("IMMEDIATE_SOME", "FUTURE_DATED_ALL", "CANCELLATION_ALL")
    ),
    *(
        (aux.ECS46D, f"ECS46d_6.14.3_{v}_SUCCESS", f"6.14.3_ECS46d/ECS46d_6.14.3_{v}_SUCCESS")
        for v in (
            *(f"IMMEDIATE_{k}" for k in ("ALCS", "APC_INPUT", "APC_OUTPUT")),
            "FUTURE_DATED_APC_OUTPUT",
            "CANCELLATION_APC_OUTPUT",
        )
    ),
]
DEVICE_DS = ec.generate_private_key(ec.SECP256R1())
IMMEDIATE = [c for c in CASES if "FUTURE" not in c[1] and "CANCELLATION" not in c[1]]


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _transform(uc: UseCase, template: str, rtds: GbcsMessage) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None
    # the originator RTDS has (7.16's 90-B3-D5-1F-30-01-00-08); the User for the ACB's
    user = SUPPLIER if uc.acb_originated else Eui64(rtds.header.originator)
    device = Eui64(rtds.header.recipient)
    return fn(uc, TransformInput(_template(template), rtds.header.counter, user, device))


@pytest.mark.parametrize(("uc", "template", "rtds"), CASES, ids=[c[1] for c in CASES])
def test_the_transform_of_dccs_template_is_rtds_command(store, uc, template, rtds) -> None:
    expected = GbcsMessage.decode(_rtds(f"{rtds}_COMMAND"))
    ours = _transform(uc, template, expected)
    if uc.acb_originated:  # 7.14: the ACB's command, the User riding with its counter
        other = expected.header.other
        ours = for_unknown_remote_party(
            ours, ACB.raw, expected.header.counter, other.remote_party_counter, None
        )
    if uc.critical:  # the pre-command the User signs
        assert ours.encode() == _rtds(f"{rtds}_PRECOMMAND")
    else:
        device_ka = store.get(Eui64(expected.header.recipient), Usage.KA).public_key
        acb_ka = store.private(ACB, Usage.KA).private_key
        assert security.apply_mac(ours, acb_ka, device_ka).encode() == expected.encode()
    assert check_command(expected, CATALOGUE) is uc


def _loads(path: Path, at: dt.datetime = JAN_2015) -> tuple[AuxLoads, list[tuple[int, bool]]]:
    driven: list[tuple[int, bool]] = []
    loads = AuxLoads(path / "aux_loads.json", lambda n, on: driven.append((n, on)), lambda: at)
    return loads, driven


def _answer(store, loads: AuxLoads, uc: UseCase, cmd: GbcsMessage) -> AccessResponse:
    server = CosemServer()
    register(server, loads)
    ctx = _context(store, ESME, SimpleNamespace(cosem=server, zcl=None), JAN_2015)
    # RTDS's ESME DS private key is not public: a signed answer is signed with a key of ours
    ctx = dataclasses.replace(ctx, ds=DEVICE_DS)
    msg = asyncio.run(handler_for(uc)(uc, cmd, ctx))
    assert (msg.header.date_time is not None) == uc.dated
    answer = dlms.decode(msg.payload)
    assert isinstance(answer, AccessResponse)
    return answer


def _shape(d: Data) -> object:
    """A value's types, not its contents (the meter's own state fills them)."""
    if d.type in (DataType.ARRAY, DataType.STRUCTURE):
        return (d.type, tuple(_shape(x) for x in d.value) if d.type is DataType.STRUCTURE else 0)
    return d.type


@pytest.mark.parametrize(("uc", "template", "rtds"), IMMEDIATE, ids=[c[1] for c in IMMEDIATE])
def test_the_meter_answers_rtds_command_as_rtds_does(store, tmp_path, uc, template, rtds) -> None:
    loads, _ = _loads(tmp_path)
    cmd = GbcsMessage.decode(_rtds(f"{rtds}_COMMAND"))
    ours = _answer(store, loads, uc, cmd)
    theirs = dlms.decode(GbcsMessage.decode(_rtds(f"{rtds}_RESPONSE")).payload)
    assert isinstance(theirs, AccessResponse)
    assert [r.result for r in ours.results] == [r.result for r in theirs.results]
    assert [int(r.kind) for r in ours.results] == [int(r.kind) for r in theirs.results]
    # the same types; RTDS's calendars are its own, the meter's empty until written
    assert [_shape(d) for d in ours.data if d.type is not DataType.ARRAY] == [
        _shape(d) for d in theirs.data if d.type is not DataType.ARRAY
    ]
    assert [d.type for d in ours.data] == [d.type for d in theirs.data]


def _command(uc: UseCase, template: str, counter: int = 1000) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None
    msg = fn(uc, TransformInput(_template(template), counter, SUPPLIER, ESME))
    return GbcsMessage.build(
        msg.cra, counter, SUPPLIER.raw, ESME.raw, msg.message_code, msg.payload
    )


def test_writes_are_read_back_and_survive_a_restart(store, tmp_path) -> None:
    loads, _ = _loads(tmp_path)
    assert (
        _answer(
            store, loads, aux.ECS46A, _command(aux.ECS46A, "ECS46a_6.14.1_SOME_OPTIONALS_SUCCESS")
        )
        .results[0]
        .result
        == 0
    )
    _answer(store, loads, aux.ECS62, _command(aux.ECS62, "ECS62Add_7.9_SUCCESS"))
    _answer(store, loads, aux.ECS38, _command(aux.ECS38, "ECS38_7.12_SUCCESS"))
    _answer(
        store,
        loads,
        aux.ECS46C,
        _command(aux.ECS46C, "ECS46c_6.14.2_IMMEDIATE_SOME_OPTIONALS_SUCCESS"),
    )

    restarted, _ = _loads(tmp_path)  # a new meter process over the same state folder
    read = _answer(store, restarted, aux.ECS61D, _command(aux.ECS61D, "ECS61d_7.14_SUCCESS"))
    texts = [bytes(d.value).decode() for d in read.data[:5]]
    assert texts == ["", "Label2", "Label3", "Label4", ""]
    written = dlms.decode(
        _command(aux.ECS46C, "ECS46c_6.14.2_IMMEDIATE_SOME_OPTIONALS_SUCCESS").payload
    )
    assert read.data[5] == written.data[2] and read.data[6] == written.data[3]  # in force
    alcs = _answer(
        store, restarted, aux.ECS61A, _command(aux.ECS61A, "ECS61a_7.7_ALL_OPTIONALS_SUCCESS")
    )
    assert bytes(alcs.data[6].value) == bytes.fromhex("00DB123456789097")  # HCALCS 2's id
    boost = _answer(store, restarted, aux.ECS61C, _command(aux.ECS61C, "ECS61c_7.11_SUCCESS"))
    assert [d.value for d in boost.data[2:]] == [0xFF] * 5 and boost.data[0].value == 0xFF
    assert restarted.offset_limit == 900


def test_a_commanded_state_drives_the_switch_and_reads_back(store, tmp_path) -> None:
    at = dt.datetime(2015, 1, 3, 0, 30, tzinfo=dt.UTC)  # within RTDS's 7.13 period
    loads, driven = _loads(tmp_path, at)
    _answer(store, loads, aux.ECS47A, _command(aux.ECS47A, "ECS47a_7.13_ALCS_ACTIVATE_SUCCESS"))
    assert (5, True) in driven and loads.level(5) == 100
    read = _answer(
        store, loads, aux.ECS61A, _command(aux.ECS61A, "ECS61a_7.7_ALL_OPTIONALS_SUCCESS")
    )
    assert [d.value for d in read.data[12:]] == [0, 0, 0, 0, 0xFF]  # ALCS 5 on
    ops = _answer(store, loads, aux.ECS61E, _command(aux.ECS61E, "ECS61e_7.15_SUCCESS"))
    assert json.loads(bytes(ops.data[9].value)) == {"outputState": 100, "inputState": 0}
    # 7.8 resets it: off
    _answer(store, loads, aux.ECS47, _command(aux.ECS47, "ECS47Reset_7.8_SUCCESS"))
    assert loads.level(5) == 0 and driven[-1] == (5, False)
    # 7.5 activates ALCS 1 for 30 minutes: on now, off after
    _answer(store, loads, aux.ECS47, _command(aux.ECS47, "ECS47Activate_7.5_SUCCESS"))
    assert loads.on(1)
    assert loads.level(1, at.timestamp() + 31 * 60) == 0


def test_bad_commands_are_refused(store, tmp_path) -> None:
    loads, _ = _loads(tmp_path)
    # a script for a controller the meter does not have: other-reason, nothing changed
    cmd = _command(aux.ECS47, "ECS47Reset_7.8_SUCCESS")
    request = dlms.decode(cmd.payload)
    request.data[0] = Data(DataType.LONG_UNSIGNED, 0x0720)
    odd = GbcsMessage.build(
        cmd.cra, 1000, SUPPLIER.raw, ESME.raw, cmd.message_code, request.encode()
    )
    assert _answer(store, loads, aux.ECS47, odd).results[0].result == 250
    # ECS47a's script without its period first
    request.data[0] = Data(DataType.LONG_UNSIGNED, 0x1164)
    odd = GbcsMessage.build(
        cmd.cra, 1000, SUPPLIER.raw, ESME.raw, cmd.message_code, request.encode()
    )
    assert _answer(store, loads, aux.ECS47, odd).results[0].result == 250
    # 7.9 naming no load
    body = _template("ECS62Add_7.9_SUCCESS")
    for e in body.body.iter():
        if e.text == "true":
            e.text = "false"
    fn = transform_for(aux.ECS62)
    assert fn is not None
    with pytest.raises(TransformRefused, match="at least one load"):
        fn(aux.ECS62, TransformInput(body, 1000, SUPPLIER, ESME))
