"""The PPMID's firmware (issue 16): 11.4 Update PPMID Firmware, CS08 (11.2 to a PPMID) and
CS09 PPMID Firmware Activation Alert, against RTDS 4.5.0 (folders 11.2_CS08, NA_CS09).

In process: CS08 rebuilt from DCC's DUIS template is RTDS's command byte for byte, the
ACB's MAC included (stated: the ACB's counter, RTDS's 1300); the PPMID answers RTDS's
commands with RTDS's answers byte for byte (MAC included: RTDS's PPMID keys are public);
CS09 has RTDS's header and payload (excluded: the ECDSA signature, which is randomised; both
verify with the PPMID's DS key); the DCC's 11.4 (DCC's template, the image the rig's)
distributes to a PPMID and refuses a meter with E11; a PPMID takes an image over the OTA
Upgrade cluster on the simulated air, activates it and raises CS09, which the DCC makes a
PPMIDAlert for the supplier, and refuses a tampered one (its version unchanged). On the
running rig: `rig supplier firmware --target ppmid`, then 11.2 reads the new version."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import component_detail, dcc_alerts, rig_cli, vectors, wait_for
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from test_han_stack import CHF, PPMID, PPMID_CODE, Air, _hub, _link, _wait_for_status

from gateway.config import DeviceConfig
from gateway.dcc_services import DccState, ServiceRefused, service_for
from gateway.firmware import (
    PPMID_ACTIVATION_DCC_ALERT,
    FirmwareDistributor,
    ppmid_activation_dcc_alert,
)
from gateway.inventory import Inventory
from gateway.store import Store
from gateway.transform import TransformInput, transform_for
from nodes.gbcs.handlers import Context, handler_for
from nodes.han.app import HanApp
from nodes.han.ota import OtaClient, OtaServer, Outcome
from nodes.roles.firmware import Firmware
from nodes.roles.ppmid import PrepaymentInterface
from rig.dccuser.readers import read
from rig.dccuser.tasks import send_request
from rig.pki.keystores import load
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request, RequestId, parse_document
from rig.protocol.duis.schema import validate
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.protocol.firmware import image_hash, make_image, tamper
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_firmware import (
    CS08,
    CS09,
    PPMID_FIRMWARE_ACTIVATED,
    ppmid_activation_alert,
    ppmid_activation_of,
    ppmid_activation_payload,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, for_unknown_remote_party
from rig.protocol.smki import Usage
from rig.protocol.zigbee.ota import OtaFile
from rig.reference import duis_schema

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # RTDS's DCC User
OTHER_SUPPLIER = Eui64.parse("90-B3-D5-1F-30-03-00-00")
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
JAN_2015 = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
SIGNER = Eui64.parse("00-DB-12-00-00-00-00-01")
RUNNING = "00000001"
SR = f"{{{NS['sr']}}}"


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


@pytest.fixture(scope="module")
def maker() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _rtds(name: str) -> GbcsMessage:
    folder, file = name.split("/")
    raw = (vectors("gbcs", "rtds-4.5.0", folder) / f"{file}_GBCS.HEX").read_text()
    return GbcsMessage.decode(bytes.fromhex(raw.strip()))


def _template(name: str) -> Request:
    raw = vectors("duis", "templates", f"{name}_REQUEST_DUIS.XML").read_bytes()
    request = parse_document(raw)
    assert isinstance(request, Request)
    return request


# --- CS08: the DCC's command, the PPMID's answer ----------------------------------------------
@pytest.mark.parametrize("outcome", ["SUCCESS", "ERROR"])
def test_cs08_from_dccs_template_is_rtdss_command_mac_included(store, outcome: str) -> None:
    """Stated, not taken from the template: the ACB's counter (RTDS's 1300, 1301) and, for
    RTDS's error (DCC gives no template of it: another PPMID, …A5, another request), the
    target and the RequestID counter (1001)."""
    rtds = _rtds(f"11.2_CS08/CS08_11.2_{outcome}_COMMAND")
    device = Eui64(rtds.header.recipient)
    request = _template("CS08_11.2_SUCCESS")
    counter = request.request_id.counter if outcome == "SUCCESS" else 1001
    fn = transform_for(CS08)
    assert fn is not None and CATALOGUE.for_srv("11.2", "PPMID") is CS08
    # the downlink's path for an ACB-originated use case: the ACB originates it with its
    # counter, the DCC User (RTDS's supplier) rides as the supplementary remote party with
    # its RequestID counter
    built = fn(CS08, TransformInput(request, rtds.header.counter, SUPPLIER, device))
    ours = for_unknown_remote_party(built, ACB.raw, rtds.header.counter, counter, certificate=None)
    acb = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb, store.get(device, Usage.KA).public_key)
    assert maced.encode() == rtds.encode()
    assert check_command(rtds, CATALOGUE) is CS08


@dataclass
class Ppmid:
    """A PPMID as its GBCS handlers see one: its firmware state (or none)."""

    firmware: Firmware | None
    cosem: None = None
    zcl: None = None
    device_type: str = "PPMID"


def _context(store, device: Ppmid, eui: Eui64) -> Context:
    return Context(
        device,
        store.private(eui, Usage.DS).private_key,
        store.private(eui, Usage.KA).private_key,
        lambda peer: store.get(peer, Usage.KA).public_key,
        lambda: JAN_2015,
    )


@pytest.mark.parametrize(
    ("outcome", "running", "result", "version"),
    [("SUCCESS", "0123ABCD", 0, "0123ABCD"), ("ERROR", None, 1, None)],
)
async def test_the_ppmid_answers_cs08_as_rtds_mac_included(
    store, tmp_path: Path, outcome: str, running: str | None, result: int, version: str | None
) -> None:
    """RTDS's success: version 0123ABCD and 0, byte for byte (RTDS's PPMID's keys are
    public, so is its MAC); its error: 00000000 and 1, what a PPMID that cannot read its
    firmware state answers, all but the MAC (to …A5, whose keys are not public: …A4's stand
    in)."""
    cmd = _rtds(f"11.2_CS08/CS08_11.2_{outcome}_COMMAND")
    rtds = _rtds(f"11.2_CS08/CS08_11.2_{outcome}_RESPONSE")
    device = Eui64(cmd.header.recipient)
    public = store.private(device, Usage.KA) is not None
    firmware = None if running is None else Firmware(tmp_path / "firmware.json", running)
    keys = device if public else PPMID
    answer = await handler_for(CS08)(CS08, cmd, _context(store, Ppmid(firmware), keys))
    if public:
        assert answer.encode() == rtds.encode()
    else:
        assert answer.without_mac().encode() == rtds.without_mac().encode()
    device = keys
    out = read(
        answer,
        user_ka=store.private(ACB, Usage.KA).private_key,
        device_ka=store.get(device, Usage.KA).public_key,
    )
    assert out["result"] == result and out.get("firmware_version") == version


# --- CS09: the PPMID's alert --------------------------------------------------------------------
def test_cs09_is_rtdss_alert_but_for_its_signature(store) -> None:
    rtds = _rtds("NA_CS09/CS09_NA_8F8B_ALERT")
    payload = ppmid_activation_payload(JAN_2015, bytes.fromhex("1234ABCD"), 0)
    assert payload == rtds.payload
    ds = store.private(PPMID, Usage.DS)
    ours = ppmid_activation_alert(rtds.header.counter, PPMID.raw, ACB.raw, payload, ds.private_key)
    # excluded: the ECDSA signature (randomised); both verify with the PPMID's DS key
    assert ours.signed_part() == rtds.signed_part()
    for msg in (ours, rtds):
        security.verify_signature(msg, ds.public_key)
    assert CATALOGUE.of(rtds) is CS09 and CS09.declared_code() == PPMID_FIRMWARE_ACTIVATED
    alert = ppmid_activation_of(rtds.payload)
    assert (alert.alert_code, alert.when, alert.version, alert.outcome) == (
        0x8F8B, JAN_2015, bytes.fromhex("1234ABCD"), "ActivationSuccess",
    )  # fmt: skip
    failed = ppmid_activation_of(ppmid_activation_payload(JAN_2015, alert.version, 1))
    assert failed.outcome == "ActivationFailure"
    with pytest.raises(ValueError, match="0 or 1"):
        ppmid_activation_payload(JAN_2015, alert.version, 2)


# --- 11.4 at the DCC ----------------------------------------------------------------------------
def _dcc(tmp_path: Path) -> tuple[DccState, Store]:
    db = Store(tmp_path / "gateway.sqlite")
    devices = [
        DeviceConfig(CHF, "CHF", CHF),
        DeviceConfig(ESME, "ESME", CHF, supplier=SUPPLIER),
        DeviceConfig(PPMID, "PPMID", CHF),  # the inventory names no supplier of a PPMID
    ]
    distributor = FirmwareDistributor(db, None)  # type: ignore[arg-type]  # nothing is sent
    return DccState(Inventory(db.db, devices), firmware=distributor), db


def _update_ppmid(
    dcc: DccState, db: Store, data: bytes, devices: str, sender: Eui64 = SUPPLIER
) -> etree._Element | None:
    """DCC's 11.4 template, with the rig's image (the template's is not an OTA file), its
    version and ``devices``, from ``sender``."""
    template = _template("11.4_UPDATE_PPMID_FIRMWARE")
    assert (template.service_reference, template.srv) == ("11.4", "11.4")
    body = template.body
    fields = {
        "FirmwareImage": base64.b64encode(data).decode(),
        "FirmwareVersion": f"{OtaFile.decode(data).header.file_version:08X}",
        "DeviceIDList": devices,
    }
    for name, value in fields.items():
        element = body.find(f"sr:{name}", NS)
        assert element is not None
        element.text = value
    rid = template.request_id
    request = Request(RequestId(sender, rid.target, rid.counter), 8, "11.4", "11.4", body)
    validate(request.to_element(), duis_schema())  # still a DUIS request
    service = service_for("11.4")
    assert service is not None
    with db.transaction():
        return service(request, dcc)


def test_the_dcc_sends_a_ppmid_its_image_and_lists_a_meter_it_left_out(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey
) -> None:
    dcc, db = _dcc(tmp_path)
    data = make_image("00000002", maker, SIGNER)
    assert _update_ppmid(dcc, db, data, PPMID.duis) is None  # I0
    [sent] = db.distributions(open_only=True)
    assert (sent.hub, sent.devices, sent.size) == (CHF.hex, (PPMID.duis,), len(data))
    assert sent.image == image_hash(data).hex() and db.firmware(sent.image) == data
    warning = _update_ppmid(dcc, db, data, f"{PPMID.duis},{ESME.duis}")
    assert warning is not None
    assert etree.QName(warning).localname == "DSPUpdatePPMIDFirmwareWarning"
    assert {etree.QName(e).localname: e.text for e in warning} == {"InvalidDeviceIDList": ESME.duis}


@pytest.mark.parametrize(
    ("devices", "sender", "code"),
    [
        (ESME.duis, SUPPLIER, codes.WRONG_DEVICE_TYPE),  # 11.1 updates a meter, not 11.4
        (CHF.duis, SUPPLIER, codes.WRONG_DEVICE_TYPE),
        (PPMID.duis, OTHER_SUPPLIER, codes.NOT_AUTHORISED_FOR_DEVICE),  # no meter of its
        ("00-DB-12-34-56-78-90-FF", SUPPLIER, codes.DEVICE_UNKNOWN),
    ],
)
def test_11_4_for_a_device_it_cannot_update_is_refused_with_duis_code(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey, devices: str, sender: Eui64, code: str
) -> None:
    dcc, db = _dcc(tmp_path)
    with pytest.raises(ServiceRefused) as refused:
        _update_ppmid(dcc, db, make_image("00000002", maker, SIGNER), devices, sender)
    assert refused.value.code == code and devices in refused.value.reason
    assert db.distributions() == []


# --- the PPMID takes an image over the HAN ------------------------------------------------------
class AlertEnd:
    """The PPMID's GBCS end as its alerts use it: RTDS's PPMID DS key, the ACB, a counter."""

    def __init__(self, store) -> None:
        self.ds = store.private(PPMID, Usage.DS).private_key
        self.acb = ACB
        self.alert_counter = 0

    def next_counter(self) -> int:
        self.alert_counter += 1
        return self.alert_counter


@dataclass
class Config:
    eui: Eui64 = PPMID


class BenchPpmid:
    """The PPMID role's firmware path (its own methods) around a real OTA client on the
    simulated air; what it sends up the tunnel is kept."""

    update_firmware = PrepaymentInterface.update_firmware
    activate_firmware = PrepaymentInterface.activate_firmware

    def __init__(self, app: HanApp, state: Path, maker: ec.EllipticCurvePrivateKey, store):
        self.firmware = Firmware(state / "firmware.json", RUNNING, PPMID.duis)
        self.ota = OtaClient(app, self.firmware, maker.public_key())
        self.chf, self.config, self.gbcs = CHF, Config(), AlertEnd(store)
        self._updating = asyncio.Lock()
        self.sent: list[bytes] = []

    async def send_up(self, message: bytes) -> None:
        self.sent.append(message)


async def test_the_ppmid_takes_an_image_over_ota_activates_it_and_raises_cs09(
    store, tmp_path: Path, maker: ec.EllipticCurvePrivateKey
) -> None:
    dcc, db = _dcc(tmp_path)
    good = make_image("00000002", maker, SIGNER, {"padding": "x" * 300})
    bad = tamper(make_image("00000003", maker, SIGNER))
    async with Air() as air:
        chf, log = await _hub(air, tmp_path, os.urandom(16))
        radio = air.radio("ppmid", PPMID, tmp_path)
        await radio.join(15, CHF, _link(PPMID_CODE))
        await _wait_for_status(log, PPMID, "joined")
        server = OtaServer(HanApp(chf, CHF))
        state = tmp_path / "ppmid-state"
        state.mkdir()
        ppmid = BenchPpmid(HanApp(radio, PPMID), state, maker, store)
        try:
            # a tampered image: refused, the version unchanged, nothing activated, no CS09
            server.stage(PPMID, bad)
            assert await ppmid.update_firmware() is Outcome.REFUSED
            assert ppmid.firmware.version == RUNNING and ppmid.firmware.pending is None
            assert ppmid.sent == [] and server.progress[PPMID].outcome == "INVALID_IMAGE"
            # a good one: fetched over the OTA cluster, verified, activated, CS09 raised
            assert _update_ppmid(dcc, db, good, PPMID.duis) is None
            server.stage(PPMID, good)
            assert await ppmid.update_firmware() is Outcome.VERIFIED
            assert server.progress[PPMID].served >= len(good)
        finally:
            await radio.close()
            await chf.close()
    assert ppmid.firmware.version == "00000002" and ppmid.firmware.pending is None
    assert Firmware(state / "firmware.json", RUNNING).version == "00000002"  # kept
    [raw] = ppmid.sent
    alert = GbcsMessage.decode(raw)
    security.verify_signature(alert, store.private(PPMID, Usage.DS).public_key)
    assert (alert.header.originator, alert.header.recipient) == (PPMID.raw, ACB.raw)
    assert CATALOGUE.of(alert) is CS09 and alert.header.counter == 1
    said = ppmid_activation_of(alert.payload)
    assert (said.alert_code, said.version.hex().upper(), said.outcome) == (
        0x8F8B, "00000002", "ActivationSuccess",
    )  # fmt: skip
    # 11.2 reads the new version (CS08)
    cmd = _rtds("11.2_CS08/CS08_11.2_SUCCESS_COMMAND")
    answer = await handler_for(CS08)(CS08, cmd, _context(store, Ppmid(ppmid.firmware), PPMID))
    out = read(answer, user_ka=store.private(ACB, Usage.KA).private_key,
               device_ka=store.get(PPMID, Usage.KA).public_key)  # fmt: skip
    assert out["firmware_version"] == "00000002"
    # the DCC makes CS09 a PPMIDAlert for the supplier whose 11.4 sent the image
    found = ppmid_activation_dcc_alert(db, CHF, alert)
    assert found is not None
    user, response = found
    assert user == SUPPLIER and response.alert_code == PPMID_ACTIVATION_DCC_ALERT
    element = response.to_element()
    validate(element, duis_schema())  # DUIS's schema: a DCCAlert PPMIDAlert
    ppmid_alert = element.find(".//sr:DCCAlert/sr:PPMIDAlert", NS)
    assert ppmid_alert is not None
    assert ppmid_alert.findtext("sr:DeviceID", namespaces=NS) == PPMID.duis
    assert ppmid_alert.findtext("sr:DeviceAlertCode", namespaces=NS) == "8F8B"
    upgrade = ppmid_alert.find("sr:PPMIDFirmwareUpgradeAlert", NS)
    assert upgrade is not None
    assert upgrade.findtext("sr:FirmwareVersion", namespaces=NS) == "00000002"
    assert upgrade.findtext("sr:ActivateImageResultCode", namespaces=NS) == "ActivationSuccess"
    assert ppmid_activation_dcc_alert(db, ESME, alert) is None  # no 11.4 through that hub


# --- on the running rig -------------------------------------------------------------------------
def test_rig_supplier_firmware_to_the_ppmid_then_11_2_reads_it(dcc_rig, tmp_path: Path) -> None:
    def cli(*args: str):
        return rig_cli(*args, "--rig", str(dcc_rig["file"]), state=dcc_rig["dir"], timeout=120)

    def running() -> str:
        detail = component_detail(dcc_rig["dir"], "ppmid")
        return (detail.get("firmware") or {}).get("version", "")

    since = time.time() - 1
    version = f"{int(time.time()) & 0x0FFFFFFF:08X}"  # one the PPMID has not run yet
    assert running() != version
    image = tmp_path / "ppmid.ota"
    made = cli("firmware", "make", "--version", version, "--out", str(image))
    assert made.returncode == 0, made.stdout + made.stderr
    sent = cli("supplier", "firmware", "--target", "ppmid", "--image", str(image), "--json")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    outcome = json.loads(sent.stdout)
    assert (outcome["srv"], outcome["acknowledgement"]) == ("11.4", "I0"), outcome
    assert wait_for(lambda: running() == version, 60), running()
    # its CS09 reached the supplier as the DCC's PPMIDAlert
    assert wait_for(
        lambda: PPMID_ACTIVATION_DCC_ALERT in dcc_alerts(dcc_rig["dir"], "supplier-a", since), 30
    )
    # the suppliers of the meters on the PPMID's hub are its responsible suppliers
    read_back = send_request(dcc_rig["rig"], dcc_rig["state"], "11.2", "ppmid", {})
    assert read_back.response_code == "I0", read_back
    assert read_back.values["firmware_version"] == version, read_back.values
