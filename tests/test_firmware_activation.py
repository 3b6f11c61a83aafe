"""11.3 Activate Firmware future-dated (CS06 with an execution date-time) and CCS08 Firmware
Transfer Alert, in process, against RTDS 4.5.0 (folders 11.3_CS06 and NA_CCS08): the DCC's
transform from DUIS's template, the meter's Command Accepted, the activation held across a
restart and carried out at its time (the meter's clock driven), not before, its 0x00CA
alert; the hub's CCS08 and the DCC Alert the DCC makes of it.

Excluded from byte comparisons: the signature (RTDS's devices' DS keys are not public: the
PPMID's, the one that is, signs for the ESME and the hub). Counters are RTDS's own."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.firmware import FIRMWARE_TRANSFER_DCC_ALERT, FirmwareDistributor, transfer_dcc_alert
from gateway.store import Store
from nodes.gbcs import activation, future
from nodes.gbcs.handlers import Context, handler_for
from nodes.roles.firmware import Firmware, PendingImage, transfer_alert
from rig.cli.dcc import execution_time
from rig.dccuser.read_commission import future_activation
from rig.dccuser.readers import read
from rig.pki.keystores import load
from rig.protocol.duis.message import RequestId
from rig.protocol.duis.schema import validate
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue_commission import (
    CANCEL,
    CS06,
    FUTURE_DATED_ACTIVATION,
    answer_fields,
    asn1_alert_code,
    execution_of,
)
from rig.protocol.gbcs.catalogue_firmware import (
    FIRMWARE_TRANSFER_ALERT,
    transfer_alert_of,
    transfer_alert_payload,
)
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.smki import Usage
from rig.reference import duis_schema
from tests.conftest import vectors
from tests.test_usecases import ESME, PPMID, SUPPLIER, Tables, _rtds

FOLDER = "11.3_CS06/CS06_11.3"
HASH = bytes.fromhex("aa758690730934ff0685aa758690730934ff0685657788990011223344556677")
HUB = Eui64.parse("00-DB-12-34-56-78-90-A2")
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
TARGET = Eui64.parse("00-DB-12-34-56-78-90-A4")  # RTDS's CCS08 names it
AT = dt.datetime(2030, 1, 15, 9, tzinfo=dt.UTC)  # RTDS's future-dated success
FAIL_AT = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # RTDS's future-dated error


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch) -> None:
    monkeypatch.setattr(future, "POLL_S", 0.01)


class Meter(Tables):
    """A meter as CS06's handler and its timer see one: firmware, alerts sent up, 8F43."""

    def __init__(self, firmware: Firmware) -> None:
        super().__init__()
        self.firmware = firmware
        self.sent: list[bytes] = []
        self.announced = 0
        self.gbcs: GbcsEnd | None = None

    async def send_up(self, message: bytes) -> None:
        self.sent.append(message)

    def firmware_activated(self) -> None:
        self.announced += 1


@dataclass
class GbcsEnd:
    """What resuming needs of a meter's GBCS end: its EUI, DS key and alert counter."""

    eui: Eui64
    ds: Any
    counter: int

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter


class DeviceClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _firmware(path: Path, pending_hash: bytes, running: str = "0123ABCD") -> Firmware:
    firmware = Firmware(path / "firmware.json", running)
    firmware.hold(PendingImage("0123ABCF", pending_hash.hex()))
    return firmware


def _context(store, meter: Meter, clock: DeviceClock, first_alert: int) -> Context:
    counters = iter(range(first_alert, first_alert + 100))
    return Context(
        meter,
        store.private(PPMID, Usage.DS).private_key,
        store.private(PPMID, Usage.KA).private_key,
        lambda eui: store.get(eui, Usage.KA).public_key,
        clock,
        lambda: next(counters),
    )


def _timer(meter: Meter) -> asyncio.Task[None]:
    task = future._timers.get(meter, {}).get("activation")
    assert task is not None, "the meter armed no timer"
    return task


async def _still_waiting(meter: Meter) -> bool:
    """The timer has carried nothing out after many of its polls."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(_timer(meter)), 0.2)
    return not meter.sent


async def _accept(store, meter: Meter, clock: DeviceClock, variant: str, first_alert: int):
    cmd = GbcsMessage.decode(_rtds(f"{FOLDER}_{variant}_COMMAND"))
    return await handler_for(CS06)(CS06, cmd, _context(store, meter, clock, first_alert))


def _same_but_signature(ours: bytes, rtds_name: str) -> GbcsMessage:
    mine, rtds = GbcsMessage.decode(ours), GbcsMessage.decode(_rtds(rtds_name))
    assert mine.signed_part() == rtds.signed_part()
    return mine


# --- the DCC's transform ------------------------------------------------------------------------
def test_an_execution_date_time_is_read_from_the_payload() -> None:
    assert (
        execution_of(GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_COMMAND")).payload)
        == AT
    )
    assert (
        execution_of(GbcsMessage.decode(_rtds(f"{FOLDER}_CANCELLATION_SUCCESS_COMMAND")).payload)
        == CANCEL
    )
    assert (
        execution_of(GbcsMessage.decode(_rtds(f"{FOLDER}_IMMEDIATE_SUCCESS_COMMAND")).payload)
        is None
    )


# --- the meter ----------------------------------------------------------------------------------
async def test_the_meter_accepts_holds_and_activates_at_its_time_not_before(
    store, tmp_path
) -> None:
    meter = Meter(_firmware(tmp_path, HASH))
    clock = DeviceClock(AT - dt.timedelta(hours=1))
    answer = await _accept(store, meter, clock, "FUTURE_DATED_SUCCESS", 2000)
    # Command Accepted, dated and signed as RTDS's
    rtds = GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_RESPONSE"))
    assert answer.payload == rtds.payload == b"\x05\x00"
    assert answer.header.counter == rtds.header.counter and answer.header.cra is Cra.RESPONSE
    security.verify_signature(answer, store.private(PPMID, Usage.DS).public_key)
    assert read(answer, device_ds=store.private(PPMID, Usage.DS).public_key)["accepted"] is True
    held = meter.firmware.scheduled
    assert held is not None and (held.hash, held.at, held.counter) == (
        HASH.hex(),
        AT.timestamp(),
        1001,
    )
    assert held.requester == SUPPLIER.duis

    clock.now = AT - dt.timedelta(seconds=1)
    assert await _still_waiting(meter)
    assert meter.firmware.version == "0123ABCD" and meter.firmware.pending is not None

    clock.now = AT
    await asyncio.wait_for(_timer(meter), 5)
    [sent] = meter.sent
    alert = _same_but_signature(sent, f"{FOLDER}_8F66_FUTURE_DATED_SUCCESS_ALERT")
    security.verify_signature(alert, store.private(PPMID, Usage.DS).public_key)
    assert future_activation(alert.payload) == {
        "alert_code": "8F66",
        "execution_date_time": AT.isoformat(),
        "counter": 1001,
        "result": 0,
        "firmware_version": "0123ABCF",
    }
    assert asn1_alert_code(alert.payload) == 0x8F66
    assert meter.firmware.version == "0123ABCF" and meter.firmware.pending is None
    assert meter.firmware.scheduled is None and meter.announced == 1  # and 8F43
    again = Firmware(tmp_path / "firmware.json", "00000001")
    assert (again.version, again.scheduled) == ("0123ABCF", None)


async def test_an_image_not_held_at_the_time_is_not_activated_as_rtds_alerts(
    store, tmp_path
) -> None:
    meter = Meter(_firmware(tmp_path, bytes(32), running="0123ABCF"))  # holds another image
    clock = DeviceClock(FAIL_AT - dt.timedelta(days=1))
    answer = await _accept(store, meter, clock, "FUTURE_DATED_ERROR", 2001)
    assert (
        answer.payload == GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_ERROR_RESPONSE")).payload
    )
    clock.now = FAIL_AT + dt.timedelta(minutes=5)  # the meter looks a little late
    await asyncio.wait_for(_timer(meter), 5)
    [sent] = meter.sent
    alert = _same_but_signature(sent, f"{FOLDER}_8F67_FUTURE_DATED_ERROR_ALERT")
    assert future_activation(alert.payload)["result"] == 2
    assert meter.firmware.version == "0123ABCF" and meter.firmware.pending is not None
    assert meter.announced == 0


async def test_the_held_activation_survives_a_restart_of_the_meter(store, tmp_path) -> None:
    first = Meter(_firmware(tmp_path, HASH))
    clock = DeviceClock(AT - dt.timedelta(hours=1))
    await _accept(store, first, clock, "FUTURE_DATED_SUCCESS", 2000)
    _timer(first).cancel()  # power cut
    # the meter comes back: its state folder holds the activation; its start arms it
    meter = Meter(Firmware(tmp_path / "firmware.json", "00000001"))
    assert meter.firmware.scheduled == first.firmware.scheduled
    meter.gbcs = GbcsEnd(ESME, store.private(PPMID, Usage.DS).private_key, 1999)
    activation.resume_activation(meter, clock)
    assert await _still_waiting(meter)
    clock.now = AT + dt.timedelta(seconds=1)
    await asyncio.wait_for(_timer(meter), 5)
    [sent] = meter.sent
    _same_but_signature(sent, f"{FOLDER}_8F66_FUTURE_DATED_SUCCESS_ALERT")
    assert meter.firmware.version == "0123ABCF"


async def test_a_cancellation_drops_the_held_activation(store, tmp_path) -> None:
    meter = Meter(_firmware(tmp_path, HASH))
    clock = DeviceClock(AT - dt.timedelta(hours=1))
    await _accept(store, meter, clock, "FUTURE_DATED_SUCCESS", 2000)
    answer = await _accept(store, meter, clock, "CANCELLATION_SUCCESS", 2000)
    rtds = GbcsMessage.decode(_rtds(f"{FOLDER}_CANCELLATION_SUCCESS_RESPONSE"))
    assert answer.payload == rtds.payload and answer.header.counter == 1002
    assert meter.firmware.scheduled is None
    assert Firmware(tmp_path / "firmware.json", "00000001").scheduled is None
    clock.now = AT + dt.timedelta(days=1)
    await asyncio.wait_for(_timer(meter), 5)  # it stops: nothing is held
    assert meter.sent == [] and meter.firmware.version == "0123ABCD"


# --- CCS08: the hub ------------------------------------------------------------------------------
def test_ccs08s_payload_is_rtds() -> None:
    rtds = GbcsMessage.decode(_rtds("NA_CCS08/CCS08_NA_NA_ALERT"))
    when = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    ours = transfer_alert_payload(when, TARGET.raw, bytes.fromhex("0123ABCD"), 0)
    assert ours == rtds.payload
    alert = transfer_alert_of(rtds.payload)
    assert (alert.alert_code, alert.outcome) == (0x8F8A, "FileTransferSuccess")
    with pytest.raises(ValueError, match="0 to 3"):
        transfer_alert_payload(when, TARGET.raw, bytes(4), 4)


class HubEnd:
    """What CCS08 needs of the hub's GBCS end: its ACB, DS key and alert counter."""

    def __init__(self, store, counter: int) -> None:
        self.acb, self.ds, self.counter = ACB, store.private(PPMID, Usage.DS).private_key, counter

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter


@pytest.mark.parametrize(
    ("code", "status", "alert_code", "response"),
    [
        (0x8F8A, "SUCCESS", 0x8F8A, "FileTransferSuccess"),
        (0x8F8A, "INVALID_IMAGE", 0x8F89, "FirmwareImageDiscarded"),
        (0x8F89, "ABORT", 0x8F89, "FileTransferFailure"),
    ],
)
def test_the_hub_raises_ccs08_as_rtds_has_it(store, code, status, alert_code, response) -> None:
    detail: dict[str, Any] = {"device": TARGET.duis, "file_version": "0123ABCD", "status": status}
    raw = transfer_alert(HubEnd(store, 3999), HUB, code, detail)
    assert raw is not None
    ours, rtds = GbcsMessage.decode(raw), GbcsMessage.decode(_rtds("NA_CCS08/CCS08_NA_NA_ALERT"))
    security.verify_signature(ours, store.private(PPMID, Usage.DS).public_key)
    # the header as RTDS's (its counter 4000), the payload's fields of RTDS's types
    assert ours.header == rtds.header
    assert [(f.cls, f.number) for f in answer_fields(ours.payload)] == [
        (f.cls, f.number) for f in answer_fields(rtds.payload)
    ]
    alert = transfer_alert_of(ours.payload)
    assert (alert.alert_code, alert.device, alert.outcome) == (alert_code, TARGET.raw, response)
    assert alert.version == bytes.fromhex("0123ABCD")
    assert transfer_alert(HubEnd(store, 0), HUB, 0x8F72, detail) is None  # not a transfer


# --- CCS08: the DCC ------------------------------------------------------------------------------
def test_the_dcc_makes_ccs08_a_dcc_alert_for_the_supplier_that_sent_the_image(tmp_path) -> None:
    db = Store(tmp_path / "gateway.sqlite")
    rtds = GbcsMessage.decode(_rtds("NA_CCS08/CCS08_NA_NA_ALERT"))
    assert transfer_dcc_alert(db, HUB, rtds) is None  # no 11.1 sent it anything
    distributor = FirmwareDistributor(db, None)  # type: ignore[arg-type]  # nothing is sent
    request_id = RequestId(SUPPLIER, ACB, 7)
    with db.transaction():
        distributor.accept(b"image", "0123ABCD", {HUB: [TARGET]}, str(request_id))
    found = transfer_dcc_alert(db, HUB, rtds)
    assert found is not None
    user, response = found
    assert user == SUPPLIER and response.kind == "DCCAlertMessage"
    assert response.alert_code == FIRMWARE_TRANSFER_DCC_ALERT
    element = response.to_element()
    validate(element, duis_schema())  # DUIS's schema: a DCCAlert CommsHubAlert
    ns = {"sr": "http://www.dccinterface.co.uk/ServiceUserGateway"}
    hub_alert = element.find(".//sr:DCCAlert/sr:CommsHubAlert", ns)
    assert hub_alert is not None
    assert hub_alert.findtext("sr:CommsHubDeviceID", namespaces=ns) == HUB.duis
    assert hub_alert.findtext("sr:AlertCode", namespaces=ns) == "8F8A"
    transfer = hub_alert.find("sr:FirmwareTransferAlert", ns)
    assert transfer is not None
    assert transfer.findtext("sr:UpdateFirmwareRequestID", namespaces=ns) == str(request_id)
    assert transfer.findtext("sr:OtherDeviceID", namespaces=ns) == TARGET.duis
    assert transfer.findtext("sr:FirmwareVersion", namespaces=ns) == "0123ABCD"
    assert transfer.findtext("sr:TransferResponseCode", namespaces=ns) == "FileTransferSuccess"


# --- the CLI -------------------------------------------------------------------------------------
def test_activate_at_takes_a_time_or_seconds_from_now() -> None:
    assert execution_time("2030-01-15T09:00:00Z") == "2030-01-15T09:00:00Z"
    assert execution_time("2030-01-15T10:00:00+01:00") == "2030-01-15T09:00:00Z"
    soon = dt.datetime.fromisoformat(execution_time("+60"))
    assert 50 < (soon - dt.datetime.now(dt.UTC)).total_seconds() <= 61
    with pytest.raises(ValueError, match=r"\+60"):
        execution_time("tomorrow")


def test_future_dated_message_code_is_rtds() -> None:
    rtds = GbcsMessage.decode(_rtds(f"{FOLDER}_8F66_FUTURE_DATED_SUCCESS_ALERT"))
    assert rtds.header.message_code == FUTURE_DATED_ACTIVATION
    assert GbcsMessage.decode(_rtds("NA_CCS08/CCS08_NA_NA_ALERT")).header.message_code == (
        FIRMWARE_TRANSFER_ALERT
    )
