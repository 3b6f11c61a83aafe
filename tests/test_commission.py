"""Commissioning (8.1.1) and firmware activation (11.3) against RTDS 4.5.0: ECS70, GCS28 and
CS06 (immediate, future-dated, cancelled) from DCC's templates to RTDS's pre-commands byte
for byte; answered by the meters as RTDS answers (the ESME's clock, the GSME's time, the
ESME's pending image) and read back by the DCC User; refused when the clock is outside the
validity interval or the image is not the one held. The future-dated activation itself:
tests/test_firmware_activation.py."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.transform import TransformInput, served, transform_for
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemServer, Invocation, Result
from nodes.gbcs.handlers import handler_for
from nodes.roles.clock import Clock
from nodes.roles.firmware import Firmware, PendingImage
from rig.dccuser.readers import read
from rig.pki.keystores import load
from rig.protocol.codec import DecodeError
from rig.protocol.duis.bodies import request_body
from rig.protocol.duis.message import Request, RequestId, parse_document, parse_request
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue_commission import (
    ACTIVATED,
    CS06,
    ECS70,
    GCS28,
    NOT_ACTIVATED,
    activate_firmware_payload,
    activation_answer,
    ecs70_values,
    set_clock_payload,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command, dlms_answer
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ESME, JAN_2015, PPMID, SUPPLIER, Tables, _context, _rtds

FOLDER = "8.1.1_ECS70Commission/ECS70Commission_8.1.1"
GCS28_FOLDER = "8.1.1_GCS28Commission/GCS28Commission_8.1.1"
CS06_FOLDER = "11.3_CS06/CS06_11.3"
GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")
RTDS_HASH = bytes.fromhex("aa758690730934ff0685aa758690730934ff0685657788990011223344556677")


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _template(name: str) -> Request:
    request = parse_document(vectors("duis", "templates", name).read_bytes())
    assert isinstance(request, Request)
    return request


def _ecs70(request: Request, counter: int, device=ESME) -> GbcsMessage:
    fn = transform_for(ECS70)
    assert fn is not None
    return fn(ECS70, TransformInput(request, counter, SUPPLIER, device))


# --- the DCC's transform ------------------------------------------------------------------------
def test_commission_device_is_the_rtds_ecs70_pre_command_from_dccs_template() -> None:
    rtds = GbcsMessage.decode(_rtds(f"{FOLDER}_SUCCESS_PRECOMMAND"))
    ours = _ecs70(_template("ECS70Commission_8.1.1_SUCCESS_REQUEST_DUIS.XML"), rtds.header.counter)
    assert ours.is_pre_command and ours.encode() == rtds.encode()
    # RTDS's signed, MAC'd command is exactly what the declaration describes
    signed = GbcsMessage.decode(_rtds(f"{FOLDER}_SUCCESS_COMMAND"))
    assert check_command(signed, cat.CATALOGUE) is ECS70
    assert served(cat.CATALOGUE, "8.1.1", "ESME") is ECS70


def test_the_validity_interval_is_the_bodys_time_and_tolerance() -> None:
    when = dt.datetime(2026, 11, 30, 8, 45, 12, 340_000, tzinfo=dt.UTC)
    body = request_body(
        "8.1.1", params={"CurrentDateTime": "2026-11-30T08:45:12.34Z", "TolerancePeriod": "90"}
    )
    request = parse_request(
        Request(RequestId(SUPPLIER, ESME, 7), 4, "8.1", "8.1.1", body).to_element()
    )
    ours = _ecs70(request, 7)
    assert ours.payload == command(ECS70, 7, SUPPLIER.raw, ESME.raw, ecs70_values(when, 90)).payload
    apdu = dlms.decode(ours.payload)
    assert isinstance(apdu, dlms.AccessRequest)
    preset, start, end = (bytes(v.value) for v in apdu.data[1].value)
    assert preset == cosem.UNSPECIFIED_DATE_TIME
    assert dlms.parse_date_time(start) == when
    assert dlms.parse_date_time(end) == when + dt.timedelta(seconds=90)


def test_a_current_date_time_that_is_not_one_is_refused() -> None:
    raw = vectors("duis", "templates", "ECS70Commission_8.1.1_SUCCESS_REQUEST_DUIS.XML")
    bad = raw.read_bytes().replace(b"2014-12-31T23:59:10.00Z", b"yesterday")
    with pytest.raises(TransformRefused, match="not a date-time") as refused:
        request = parse_document(bad)
        assert isinstance(request, Request)
        _ecs70(request, 1)
    assert refused.value.code == "E100"


# --- the ESME answers ---------------------------------------------------------------------------
def _clock(when: dt.datetime) -> tuple[CosemServer, Clock]:
    server = CosemServer()
    clock = Clock(lambda: when)
    clock.serve(server)
    return server, clock


def test_the_esme_answers_rtds_ecs70_as_rtds_does() -> None:
    server, clock = _clock(JAN_2015)  # RTDS's meter reads 2015-01-01T00:00:00Z
    assert clock.status == cosem.CLOCK_DOUBTFUL
    cmd = GbcsMessage.decode(_rtds(f"{FOLDER}_SUCCESS_COMMAND"))
    request = dlms.decode(cmd.payload)
    assert isinstance(request, dlms.AccessRequest)
    data, results = server.execute(request, Invocation(cmd, lambda b: b))
    answer = dlms_answer(cmd.header.counter, data, results)
    assert answer == GbcsMessage.decode(_rtds(f"{FOLDER}_SUCCESS_RESPONSE")).payload
    assert clock.status == 0 and clock.base == cosem.RADIO_CONTROLLED


async def test_commissioning_answered_signed_and_read_back(store) -> None:
    # the ESME's DS key is not public: the PPMID's stands in for the device's keys
    when = dt.datetime(2026, 11, 30, 9, 0, 5, tzinfo=dt.UTC)
    tables = Tables()
    assert tables.cosem is not None
    Clock(lambda: when).serve(tables.cosem)
    values = ecs70_values(when - dt.timedelta(seconds=5), 60)
    pre = command(ECS70, 11, SUPPLIER.raw, PPMID.raw, values)
    answer = await handler_for(ECS70)(ECS70, pre, _context(store, PPMID, tables, when))
    out = read(answer, device_ds=store.private(PPMID, Usage.DS).public_key)
    assert out["authenticated_by"] == "signature"
    assert out["result"] == 0 and out["results"] == [0] * 5
    assert out["device_time"] == when.isoformat() and out["clock_status"] == 0


@pytest.mark.parametrize("offset_s", [-1, 61])
def test_a_clock_outside_the_validity_interval_is_not_commissioned(offset_s) -> None:
    start = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    server, clock = _clock(start + dt.timedelta(seconds=offset_s))
    payload = command(ECS70, 3, SUPPLIER.raw, ESME.raw, ecs70_values(start, 60)).payload
    request = dlms.decode(payload)
    assert isinstance(request, dlms.AccessRequest)
    cmd = GbcsMessage.decode(_rtds(f"{FOLDER}_SUCCESS_COMMAND"))
    data, results = server.execute(request, Invocation(cmd, lambda b: b))
    assert [r.result for r in results] == [0, 0, Result.OTHER_REASON, 0, 0]
    assert data[4] == dlms.Data(dlms.DataType.UNSIGNED, cosem.CLOCK_DOUBTFUL)
    assert clock.status == cosem.CLOCK_DOUBTFUL


def test_an_adjustment_without_a_preset_or_a_malformed_one_is_refused() -> None:
    server, _ = _clock(JAN_2015)
    cmd = GbcsMessage.decode(_rtds(f"{FOLDER}_SUCCESS_COMMAND"))
    request = dlms.decode(cmd.payload)
    assert isinstance(request, dlms.AccessRequest)
    alone = dlms.AccessRequest(request.invoke_id, b"", request.specs[2:3], request.data[2:3])
    _, results = server.execute(alone, Invocation(cmd, lambda b: b))
    assert [r.result for r in results] == [Result.OTHER_REASON]
    odd = dlms.Data(dlms.DataType.STRUCTURE, [dlms.Data(dlms.DataType.NULL_DATA)])
    preset = dlms.AccessRequest(request.invoke_id, b"", request.specs[1:2], [odd])
    _, results = server.execute(preset, Invocation(cmd, lambda b: b))
    assert [r.result for r in results] == [Result.TYPE_UNMATCHED]


# --- GCS28 and CS06 (ASN.1): transforms -----------------------------------------------------------
def _transform(uc, template: str, counter: int, device) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None
    return fn(uc, TransformInput(_template(template), counter, SUPPLIER, device))


def _payload(name: str) -> bytes:
    return GbcsMessage.decode(_rtds(name)).payload


def test_commission_gsme_is_the_rtds_gcs28_pre_command_from_dccs_template() -> None:
    rtds = GbcsMessage.decode(_rtds(f"{GCS28_FOLDER}_SUCCESS_PRECOMMAND"))
    ours = _transform(GCS28, "GCS28Commission_8.1.1_SUCCESS_REQUEST_DUIS.XML", 1000, GSME)
    assert ours.is_pre_command and ours.encode() == rtds.encode()
    assert (
        check_command(GbcsMessage.decode(_rtds(f"{GCS28_FOLDER}_SUCCESS_COMMAND")), cat.CATALOGUE)
        is GCS28
    )
    assert served(cat.CATALOGUE, "8.1.1", "GSME") is GCS28


def test_activate_firmware_is_the_rtds_cs06_pre_command_from_dccs_template() -> None:
    rtds = GbcsMessage.decode(_rtds(f"{CS06_FOLDER}_IMMEDIATE_SUCCESS_PRECOMMAND"))
    ours = _transform(CS06, "CS06_11.3_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML", 1000, ESME)
    assert ours.is_pre_command and ours.encode() == rtds.encode()
    signed = GbcsMessage.decode(_rtds(f"{CS06_FOLDER}_IMMEDIATE_SUCCESS_COMMAND"))
    assert check_command(signed, cat.CATALOGUE) is CS06
    assert served(cat.CATALOGUE, "11.3", "ESME") is CS06


@pytest.mark.parametrize(
    ("variant", "counter"),
    [("FUTURE_DATED_SUCCESS", 1001), ("CANCELLATION_SUCCESS", 1002)],
)
def test_future_dated_activation_and_its_cancellation_are_rtds_from_dccs_template(
    variant, counter
) -> None:
    # DUIS's ExecutionDateTime after the counter; its 3000-12-31 cancellation as 9999-12-31
    rtds = GbcsMessage.decode(_rtds(f"{CS06_FOLDER}_{variant}_PRECOMMAND"))
    ours = _transform(CS06, f"CS06_11.3_{variant}_REQUEST_DUIS.XML", counter, ESME)
    assert ours.is_pre_command and ours.encode() == rtds.encode()
    signed = GbcsMessage.decode(_rtds(f"{CS06_FOLDER}_{variant}_COMMAND"))
    assert check_command(signed, cat.CATALOGUE) is CS06


def test_an_execution_date_time_that_is_not_one_is_refused() -> None:
    request = _template("CS06_11.3_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML")
    when = request.body.find("{*}ExecutionDateTime")
    assert when is not None
    when.text = "soon"
    fn = transform_for(CS06)
    assert fn is not None
    with pytest.raises(TransformRefused, match="ExecutionDateTime 'soon'"):
        fn(CS06, TransformInput(request, 1001, SUPPLIER, ESME))


# --- GCS28 and CS06: the meters answer ------------------------------------------------------------
@pytest.mark.parametrize(
    ("variant", "when", "result"),
    [
        ("SUCCESS", dt.datetime(2014, 12, 31, 23, 30, tzinfo=dt.UTC), 0),
        ("ERROR", JAN_2015, 2),  # before its interval (01:00 to 02:00)
    ],
)
async def test_the_gsme_answers_rtds_gcs28_as_rtds_does(store, variant, when, result) -> None:
    # the GSME's DS key is not public: the PPMID's signs
    cmd = GbcsMessage.decode(_rtds(f"{GCS28_FOLDER}_{variant}_COMMAND"))
    answer = await handler_for(GCS28)(GCS28, cmd, _context(store, PPMID, Tables(), when))
    assert answer.payload == _payload(f"{GCS28_FOLDER}_{variant}_RESPONSE")
    out = read(answer, device_ds=store.private(PPMID, Usage.DS).public_key)
    assert out["result"] == result and out["device_time"] == when.isoformat()


class Meter(Tables):
    """A meter's tables and its firmware, as CS06's handler sees one."""

    def __init__(self, firmware: Firmware | None) -> None:
        super().__init__()
        self.firmware = firmware


def _firmware(tmp_path, running: str, pending_hash: bytes | None) -> Firmware:
    firmware = Firmware(tmp_path / "firmware.json", running)
    if pending_hash is not None:
        firmware.hold(PendingImage("0123ABCE", pending_hash.hex()))
    return firmware


async def test_the_esme_activates_its_pending_image_as_rtds_answers(store, tmp_path) -> None:
    firmware = _firmware(tmp_path, "0123ABCD", RTDS_HASH)
    cmd = GbcsMessage.decode(_rtds(f"{CS06_FOLDER}_IMMEDIATE_SUCCESS_COMMAND"))
    answer = await handler_for(CS06)(CS06, cmd, _context(store, PPMID, Meter(firmware)))
    rtds = GbcsMessage.decode(_rtds(f"{CS06_FOLDER}_IMMEDIATE_SUCCESS_RESPONSE"))
    assert answer.payload == rtds.payload and answer.header.date_time == rtds.header.date_time
    assert firmware.version == "0123ABCE" and firmware.pending is None
    assert Firmware(tmp_path / "firmware.json", "00000001").version == "0123ABCE"  # kept
    out = read(answer, device_ds=store.private(PPMID, Usage.DS).public_key)
    assert out["result"] == 0 and out["firmware_version"] == "0123ABCE"


@pytest.mark.parametrize("pending", [None, bytes(32)])
async def test_an_image_not_held_is_not_activated_as_rtds_answers(store, tmp_path, pending) -> None:
    firmware = _firmware(tmp_path, "0123ABCF", pending)
    cmd = GbcsMessage.decode(_rtds(f"{CS06_FOLDER}_IMMEDIATE_ERROR_COMMAND"))
    answer = await handler_for(CS06)(CS06, cmd, _context(store, PPMID, Meter(firmware)))
    assert answer.payload == _payload(f"{CS06_FOLDER}_IMMEDIATE_ERROR_RESPONSE")
    assert firmware.version == "0123ABCF"
    assert (firmware.pending is None) == (pending is None)
    out = read(answer, device_ds=store.private(PPMID, Usage.DS).public_key)
    assert out["result"] == 1 and out["firmware_version"] == "0123ABCF"


async def test_activation_without_firmware_or_with_another_counter_is_refused(
    store, tmp_path
) -> None:
    cmd = GbcsMessage.decode(_rtds(f"{CS06_FOLDER}_IMMEDIATE_SUCCESS_COMMAND"))
    with pytest.raises(DecodeError, match="no firmware"):
        await handler_for(CS06)(CS06, cmd, _context(store, PPMID, Meter(None)))
    firmware = _firmware(tmp_path, "0123ABCD", RTDS_HASH)
    other = command(CS06, 5, SUPPLIER.raw, ESME.raw, activate_firmware_payload(RTDS_HASH, 6))
    with pytest.raises(DecodeError, match="counter 6"):
        await handler_for(CS06)(CS06, other, _context(store, PPMID, Meter(firmware)))
    assert firmware.version == "0123ABCD" and firmware.pending is not None


# --- the ASN.1 payloads, every RTDS variant -----------------------------------------------------
def test_gcs28s_payload_is_rtds_from_dccs_template() -> None:
    request = _template("GCS28Commission_8.1.1_SUCCESS_REQUEST_DUIS.XML")
    assert request.body.findtext("{*}TolerancePeriod") == "3600"
    start = dt.datetime(2014, 12, 31, 23, 30, tzinfo=dt.UTC)  # its CurrentDateTime
    rtds = _payload("8.1.1_GCS28Commission/GCS28Commission_8.1.1_SUCCESS_PRECOMMAND")
    assert set_clock_payload(start, 3600) == rtds


@pytest.mark.parametrize(
    ("variant", "counter", "at"),
    [
        ("IMMEDIATE_SUCCESS", 1000, None),
        ("IMMEDIATE_ERROR", 1005, None),
        ("FUTURE_DATED_SUCCESS", 1001, dt.datetime(2030, 1, 15, 9, tzinfo=dt.UTC)),
        ("CANCELLATION_SUCCESS", 1002, dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
    ],
)
def test_cs06s_payload_is_rtds(variant, counter, at) -> None:
    rtds = _payload(f"11.3_CS06/CS06_11.3_{variant}_PRECOMMAND")
    assert activate_firmware_payload(RTDS_HASH, counter, at) == rtds
    with pytest.raises(ValueError, match="32 bytes"):
        activate_firmware_payload(RTDS_HASH[:-1], counter, at)


def test_cs06s_answers_are_rtds() -> None:
    ok = _payload("11.3_CS06/CS06_11.3_IMMEDIATE_SUCCESS_RESPONSE")
    assert activation_answer(ACTIVATED, bytes.fromhex("0123ABCE")) == ok
    refused = _payload("11.3_CS06/CS06_11.3_IMMEDIATE_ERROR_RESPONSE")
    assert activation_answer(NOT_ACTIVATED, bytes.fromhex("0123ABCF")) == refused
