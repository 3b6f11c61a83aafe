"""Firmware over the HAN, the pure part: the OTA Upgrade cluster's commands, the ZigBee OTA
file, the rig's signed firmware image, `rig firmware make|inspect`, and tshark reading
OTA frames the rig builds."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from zigpy.ota.image import OTAImage
from zigpy.zcl.clusters.general import Ota as ZigpyOta

from rig.description import default_rig
from rig.pki.authority import MANUFACTURER_EUI, Pki
from rig.protocol import pcap
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.firmware import (
    RIG_MANUFACTURER_CODE,
    BadSignature,
    MalformedImage,
    file_version_of,
    image_hash,
    make_image,
    read_image,
    tamper,
    verify_image,
)
from rig.protocol.gbcs.security import sign_raw
from rig.protocol.smki import Usage, eui_of, usage_of
from rig.protocol.zigbee import aps, mac, nwk
from rig.protocol.zigbee.ota import (
    OTA_CLUSTER,
    ImageBlockRequest,
    ImageBlockResponse,
    ImageId,
    ImageNotify,
    OtaCommand,
    OtaFile,
    OtaHeader,
    OtaStatus,
    QueryNextImageRequest,
    QueryNextImageResponse,
    SubElement,
    Tag,
    UpgradeEndRequest,
    UpgradeEndResponse,
    decode_command,
    decode_frame,
    encode_frame,
)
from tests.conftest import rig_cli

IMAGE = ImageId(RIG_MANUFACTURER_CODE, 0x0001, 0x00000002)
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")

EVERY_COMMAND: list[OtaCommand] = [
    ImageNotify(100),
    ImageNotify(50, RIG_MANUFACTURER_CODE),
    ImageNotify(50, RIG_MANUFACTURER_CODE, 0x0001),
    ImageNotify(1, RIG_MANUFACTURER_CODE, 0x0001, 0x00000002),
    QueryNextImageRequest(RIG_MANUFACTURER_CODE, 0x0001, 0x00000001),
    QueryNextImageRequest(RIG_MANUFACTURER_CODE, 0x0001, 0x00000001, hardware_version=3),
    QueryNextImageResponse(OtaStatus.SUCCESS, IMAGE, 4321),
    QueryNextImageResponse(OtaStatus.NO_IMAGE_AVAILABLE),
    QueryNextImageResponse(OtaStatus.NOT_AUTHORIZED),
    ImageBlockRequest(IMAGE, 0, 48),
    ImageBlockRequest(IMAGE, 96, 48, request_node=ESME),
    ImageBlockRequest(IMAGE, 96, 48, min_block_period=250),
    ImageBlockRequest(IMAGE, 0x01020304, 64, ESME, 1000),
    ImageBlockResponse.block(IMAGE, 48, bytes(range(48))),
    ImageBlockResponse.block(IMAGE, 0, b""),
    ImageBlockResponse.wait(0x2E000000, 0x2E00003C, 500),
    ImageBlockResponse.abort(),
    UpgradeEndRequest(OtaStatus.SUCCESS, IMAGE),
    UpgradeEndRequest(OtaStatus.INVALID_IMAGE, IMAGE),
    UpgradeEndResponse(IMAGE, 0x2E000000, 0xFFFFFFFF),
]


# --- the OTA Upgrade cluster -------------------------------------------------------------


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: type(c).__name__)
def test_every_ota_command_round_trips_alone_and_in_a_zcl_frame(command: OtaCommand) -> None:
    payload = command.encode()
    assert decode_command(command.COMMAND_ID, command.TO_SERVER, payload) == command
    frame = encode_frame(command, tsn=0x42)
    decoded = decode_frame(frame)
    assert decoded.command == command and decoded.tsn == 0x42
    assert frame[0] == (0x11 if command.TO_SERVER else 0x19)  # cluster-specific, no default rsp
    assert frame[2] == command.COMMAND_ID and frame[3:] == payload


def _zigpy_schema(command: OtaCommand) -> Any:
    defs = ZigpyOta.ServerCommandDefs if command.TO_SERVER else ZigpyOta.ClientCommandDefs
    return next(d for d in defs if d.id == command.COMMAND_ID).schema


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: type(c).__name__)
def test_every_ota_command_reads_the_same_in_zigpy(command: OtaCommand) -> None:
    """zigpy's own OTA cluster (an independent implementation) parses our bytes whole, and
    its fields carry our values."""
    schema = _zigpy_schema(command)
    parsed, rest = schema.deserialize(command.encode())
    assert rest == b""
    theirs = parsed.as_dict()
    assert parsed.serialize() == command.encode()
    if isinstance(command, ImageBlockRequest):
        assert theirs["file_offset"] == command.file_offset
        assert theirs["maximum_data_size"] == command.max_data_size
        if command.request_node is not None:
            assert str(theirs["request_node_addr"]).upper() == str(command.request_node).replace(
                "-", ":"
            )
    if isinstance(command, ImageBlockResponse) and command.status is OtaStatus.SUCCESS:
        assert theirs["image_data"] == command.data
    if isinstance(command, QueryNextImageRequest):
        assert theirs["current_file_version"] == command.current_file_version


def test_image_block_request_bytes_as_the_spec_lays_them_out() -> None:
    data = ImageBlockRequest(IMAGE, 0x0100, 0x40, ESME, 0x01F4).encode()
    assert data[0] == 0x03  # field control: request node address, minimum block period
    assert data[1:3] == bytes.fromhex("577e") and data[3:5] == bytes.fromhex("0100")
    assert data[5:9] == bytes.fromhex("02000000")  # file version, little-endian
    assert data[9:13] == bytes.fromhex("00010000") and data[13] == 0x40  # offset, max size
    assert data[14:22] == bytes.fromhex("a09078563412db00")  # the IEEE address, little-endian
    assert data[22:24] == bytes.fromhex("f401") and len(data) == 24


_BLOCK = IMAGE.encode() + (0).to_bytes(4, "little")


@pytest.mark.parametrize(
    ("command_id", "to_server", "data", "needle"),
    [
        (0x00, False, b"\x05\x10", "payload type 5 is not 0..3"),
        (0x00, False, b"\x03\x10\x34\x12", "image type needs 2 bytes but only 0 remain"),
        (0x01, True, QueryNextImageRequest(1, 2, 3).encode()[:-1], "file version needs 4"),
        (0x01, True, b"\x01" + IMAGE.encode(), "hardware version needs 2 bytes"),
        (0x01, True, QueryNextImageRequest(1, 2, 3).encode() + b"\x00", "1 unexpected bytes"),
        (0x02, False, b"\x01", "status 0x01 is none of SUCCESS"),
        (0x02, False, b"\x98\x00", "unexpected bytes after a NO_IMAGE_AVAILABLE"),
        (0x03, True, b"\x01" + _BLOCK + b"\x40" + bytes(7), "request node address needs 8"),
        (0x05, False, b"\x00" + _BLOCK + b"\x10abc", "image data needs 16 bytes but only 3"),
        (0x05, False, b"\x97" + bytes(9), "minimum block period needs 2"),
        (0x05, False, b"\x96", "status 0x96 is none of SUCCESS, WAIT_FOR_DATA, ABORT"),
        (0x06, True, b"\x97" + IMAGE.encode(), "status 0x97 is none of"),
        (0x07, False, IMAGE.encode() + bytes(7), "upgrade time needs 4"),
    ],
)
def test_malformed_ota_commands_say_what_is_wrong(
    command_id: int, to_server: bool, data: bytes, needle: str
) -> None:
    with pytest.raises(DecodeError, match=needle):
        decode_command(command_id, to_server, data)


def test_an_unknown_ota_command_and_a_general_frame_are_refused() -> None:
    with pytest.raises(DecodeError, match="no client to server command 0x05"):
        decode_command(0x05, True, b"\x00")
    read_attrs = bytes([0x00, 0x01, 0x00, 0x02, 0x00])  # Read Attributes: file version
    with pytest.raises(DecodeError, match="general ZCL command"):
        decode_frame(read_attrs)


def test_encoding_refuses_what_the_cluster_cannot_carry() -> None:
    with pytest.raises(ValueError, match="in that order"):
        ImageNotify(10, None, 0x0001).encode()
    with pytest.raises(ValueError, match="on SUCCESS only"):
        QueryNextImageResponse(OtaStatus.SUCCESS).encode()
    with pytest.raises(ValueError, match="does not carry INVALID_IMAGE"):
        ImageBlockResponse(OtaStatus.INVALID_IMAGE).encode()
    with pytest.raises(ValueError, match="data size 256 does not fit in 8 bits"):
        ImageBlockResponse.block(IMAGE, 0, bytes(256)).encode()


# --- the OTA file --------------------------------------------------------------------


def _file(**header: Any) -> OtaFile:
    return OtaFile(
        OtaHeader(0x1234, 0x0001, 0x00000002, "test image", **header),
        (SubElement(0x0000, b"upgrade image"), SubElement(0xF000, b"\x01\x02")),
    )


@pytest.mark.parametrize(
    "header",
    [
        {},
        {"security_credential_version": 2},
        {"upgrade_file_destination": ESME},
        {"hardware_versions": (1, 5)},
        {
            "security_credential_version": 1,
            "upgrade_file_destination": ESME,
            "hardware_versions": (0, 0xFFFF),
        },
    ],
)
def test_ota_files_round_trip_and_zigpy_reads_them(header: dict[str, Any]) -> None:
    ota = _file(**header)
    data = ota.encode()
    back = OtaFile.decode(data)
    assert back == ota
    assert back.header.length == int.from_bytes(data[6:8], "little")
    assert back.element(0xF000) == SubElement(0xF000, b"\x01\x02")
    theirs, rest = OTAImage.deserialize(data)  # zigpy's OTA file parser
    assert rest == b""
    assert theirs.header.manufacturer_id == 0x1234 and theirs.header.file_version == 2
    assert theirs.header.image_size == len(data)
    assert [e.data for e in theirs.subelements] == [b"upgrade image", b"\x01\x02"]


def _patched(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


def test_malformed_ota_files_say_what_is_wrong() -> None:
    good = _file().encode()
    with pytest.raises(DecodeError, match=r"not a ZigBee OTA file.*0x0BEEF11F"):
        OtaFile.decode(_patched(good, 0, (0x0BEEF11F).to_bytes(4, "little")))
    with pytest.raises(DecodeError, match=r"header length says 57 bytes but .* makes it 56"):
        OtaFile.decode(_patched(good, 6, (57).to_bytes(2, "little")))
    with pytest.raises(DecodeError, match=r"header length says 56 bytes but .* makes it 57"):
        OtaFile.decode(_patched(good, 8, (0x0001).to_bytes(2, "little")))
    with pytest.raises(DecodeError, match=f"says the image is {len(good)} bytes but the file"):
        OtaFile.decode(good + b"\x00")
    with pytest.raises(DecodeError, match=rf"says the image is {len(good)} bytes but the file has"):
        OtaFile.decode(good[:-1])
    short = good[:-1]  # the last sub-element cut short, the total size made to agree
    short = _patched(short, 52, len(short).to_bytes(4, "little"))
    with pytest.raises(DecodeError, match=r"sub-element 2 \(0xF000\) claims 2 bytes but only 1"):
        OtaFile.decode(short)
    stub = good + b"\x00\x00\x05"  # three bytes where a sub-element header needs six
    stub = _patched(stub, 52, len(stub).to_bytes(4, "little"))
    with pytest.raises(DecodeError, match="the length of sub-element 3"):
        OtaFile.decode(stub)
    with pytest.raises(DecodeError, match="header version 0x0200"):
        OtaFile.decode(_patched(good, 4, (0x0200).to_bytes(2, "little")))


# --- the rig's firmware image --------------------------------------------------------


@pytest.fixture(scope="module")
def manufacturer() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_an_image_carries_its_version_and_profile_and_verifies(
    manufacturer: ec.EllipticCurvePrivateKey,
) -> None:
    profile = {"tariff_rate": 2, "display": "v2"}
    data = make_image("0123ABCD", manufacturer, MANUFACTURER_EUI, profile, 0x1234, 0x0005)
    image = verify_image(data, manufacturer.public_key())
    assert image.version == "0123ABCD" and image.profile == profile
    assert image.file_version == 0x0123ABCD
    assert (image.header.manufacturer_code, image.header.image_type) == (0x1234, 0x0005)
    assert image.signer == MANUFACTURER_EUI
    assert image.hash == hashlib.sha256(data).digest() == image_hash(data)
    ota = OtaFile.decode(data)
    assert [e.tag for e in ota.elements] == [Tag.UPGRADE_IMAGE, Tag.ECDSA_SIGNATURE_SUITE_2]
    assert json.loads(ota.elements[0].data) == {"profile": profile, "version": "0123ABCD"}
    signature = ota.elements[1].data
    assert len(signature) == 72 and signature[:8] == MANUFACTURER_EUI.raw[::-1]
    assert data.endswith(signature)  # the signature is the last sub-element


def test_file_versions_derive_from_the_version_string() -> None:
    assert file_version_of("00000001") == 1
    assert file_version_of("0123abcd") == 0x0123ABCD
    assert file_version_of("2.1.0") == 0x02010000
    assert file_version_of("1.2.3.4") == 0x01020304
    assert file_version_of("7") == 0x07000000
    for bad in ("1.2.3.4.5", "256.0", "v1", "", "0123ABC"):
        with pytest.raises(ValueError, match="8 hex digits"):
            file_version_of(bad)


def test_a_tampered_image_is_refused_by_its_signature(
    manufacturer: ec.EllipticCurvePrivateKey,
) -> None:
    good = make_image("00000002", manufacturer, MANUFACTURER_EUI)
    bad = tamper(good)
    assert len(bad) == len(good) and sum(a != b for a, b in zip(good, bad, strict=True)) == 1
    upgrade = OtaFile.decode(good).elements[0]
    changed = next(i for i, (a, b) in enumerate(zip(good, bad, strict=True)) if a != b)
    assert upgrade.offset + 6 <= changed < upgrade.offset + 6 + len(upgrade.data)
    assert read_image(bad).version == "00000003"  # still reads, and claims another version
    with pytest.raises(BadSignature, match="does not verify"):
        verify_image(bad, manufacturer.public_key())
    assert image_hash(bad) != image_hash(good)


def test_an_image_signed_with_another_key_is_refused(
    manufacturer: ec.EllipticCurvePrivateKey,
) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    data = make_image("00000002", other, MANUFACTURER_EUI)
    with pytest.raises(BadSignature):
        verify_image(data, manufacturer.public_key())
    assert verify_image(data, other.public_key()).version == "00000002"


def test_malformed_images_are_refused_as_malformed_not_as_bad_signatures(
    manufacturer: ec.EllipticCurvePrivateKey,
) -> None:
    good = make_image("00000002", manufacturer, MANUFACTURER_EUI)
    key = manufacturer.public_key()
    with pytest.raises(MalformedImage, match="not a valid OTA file"):
        verify_image(good[:-1], key)
    ota = OtaFile.decode(good)
    unsigned = OtaFile(ota.header, ota.elements[:1]).encode()
    with pytest.raises(MalformedImage, match=r"this one holds UPGRADE_IMAGE$"):
        verify_image(unsigned, key)
    short_sig = OtaFile(ota.header, (ota.elements[0], SubElement(0x0005, bytes(64)))).encode()
    with pytest.raises(MalformedImage, match="72"):
        verify_image(short_sig, key)
    not_json = OtaFile(ota.header, (SubElement(0, b"\xff\xfe"), ota.elements[1])).encode()
    with pytest.raises(MalformedImage, match="not UTF-8 JSON"):
        verify_image(not_json, key)
    # signed, but the header's file version is not the one its version string gives
    header = OtaHeader(0x1234, 0, 0x00000009, "x")
    upgrade = SubElement(0, b'{"profile":{},"version":"00000002"}')
    signed_part = OtaFile(header, (upgrade, SubElement(0x0005, bytes(72)))).encode()[:-78]
    signature = MANUFACTURER_EUI.raw[::-1] + sign_raw(manufacturer, signed_part)
    lying = signed_part + SubElement(0x0005, signature).encode()
    assert read_image(lying).version == "00000002"
    with pytest.raises(MalformedImage, match="0x00000009 does not match version '00000002'"):
        verify_image(lying, key)


# --- the manufacturer's key in the rig's PKI -----------------------------------------


def test_the_pki_holds_a_manufacturer_ds_key_and_an_older_state_gets_one(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    created = pki.ensure(default_rig(), ["127.0.0.1"])
    assert "device manufacturer DS" in created
    cred = pki.manufacturer()
    cert = cred.load_cert()
    assert usage_of(cert) is Usage.DS and eui_of(cert) == MANUFACTURER_EUI
    assert oct(cred.key.stat().st_mode & 0o777) == "0o600"
    assert MANUFACTURER_EUI.duis not in {r["eui"] for r in pki.inventory()}  # not published
    cred.cert.unlink()
    cred.key.unlink()  # as a state folder made before the manufacturer existed
    assert pki.ensure(default_rig(), ["127.0.0.1"]) == ["device manufacturer DS"]
    assert pki.ensure(default_rig(), ["127.0.0.1"]) == []


# --- tshark --------------------------------------------------------------------------


def _mac_frame(seq: int, zcl_frame: bytes, to_server: bool) -> bytes:
    """The frame as the HAN sends it, without NWK and APS security (tshark needs no keys)."""
    client, server = 0x1A2B, 0x0000  # the ESME (OTA client) and the CHF (OTA server)
    src, dst = (client, server) if to_server else (server, client)
    apdu = aps.ApsFrame(
        aps.ApsFrameType.DATA, seq, 1, OTA_CLUSTER, aps.SE_PROFILE, 1, zcl_frame
    ).encode()
    npdu = nwk.NwkHeader(nwk.NwkFrameType.DATA, dst, src, seq, secured=False).encode() + apdu
    return mac.MacFrame(
        mac.FrameType.DATA, seq, npdu, dst_pan=0x1234, dst=dst, src=src, ack_request=True
    ).encode()


@pytest.mark.skipif(
    shutil.which("tshark") is None,
    reason="tshark is not installed (scripts/bootstrap.sh installs it): OTA frames not dissected",
)
def test_tshark_dissects_the_ota_exchange_cleanly(tmp_path: Path) -> None:
    block = bytes(range(48))
    exchange: list[OtaCommand] = [
        ImageNotify(100, RIG_MANUFACTURER_CODE, 0x0001, 0x00000002),
        QueryNextImageRequest(RIG_MANUFACTURER_CODE, 0x0001, 0x00000001, hardware_version=1),
        QueryNextImageResponse(OtaStatus.SUCCESS, IMAGE, 187),
        ImageBlockRequest(IMAGE, 48, 48, ESME, 250),
        ImageBlockResponse.block(IMAGE, 48, block),
        ImageBlockRequest(IMAGE, 96, 48),
        ImageBlockResponse.wait(0x2E000000, 0x2E00003C, 500),
        ImageBlockResponse.abort(),
        UpgradeEndRequest(OtaStatus.SUCCESS, IMAGE),
        UpgradeEndResponse(IMAGE, 0x2E000000, 0x2E000E10),
    ]
    capture = pcap.file_header() + b"".join(
        pcap.record(1_700_000_000 + i, _mac_frame(i, encode_frame(c, i), c.TO_SERVER))
        for i, c in enumerate(exchange)
    )
    path = tmp_path / "ota.pcap"
    path.write_bytes(capture)
    fields = [
        "zbee_zcl_general.ota.cmd.srv_rx.id",
        "zbee_zcl_general.ota.cmd.srv_tx.id",
        "zbee_zcl_general.ota.manufacturer_code",
        "zbee_zcl_general.ota.file.version",
        "zbee_zcl_general.ota.file.offset",
        "zbee_zcl_general.ota.image.size",
        "zbee_zcl_general.ota.data_size",
        "zbee_zcl_general.ota.image.data",
        "zbee_zcl_general.ota.status",
        "zbee_zcl_general.ota.max_data_size",
        "zbee_zcl_general.ota.hw_ver",
        "zbee_zcl_general.ota.upgrade_time",
        "_ws.expert",
        "_ws.malformed",
    ]
    table = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|", "-E", "occurrence=a"]
        + [arg for name in fields for arg in ("-e", name)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(table) == len(exchange), table
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in table]
    for command, row in zip(exchange, rows, strict=True):
        key = "srv_rx" if command.TO_SERVER else "srv_tx"
        assert int(row[f"zbee_zcl_general.ota.cmd.{key}.id"], 0) == command.COMMAND_ID, row
        assert row["_ws.malformed"] == "" and row["_ws.expert"] == "", (command, row)
    assert int(rows[1]["zbee_zcl_general.ota.hw_ver"], 0) == 1
    assert int(rows[2]["zbee_zcl_general.ota.image.size"], 0) == 187
    assert int(rows[3]["zbee_zcl_general.ota.file.offset"], 0) == 48
    assert int(rows[3]["zbee_zcl_general.ota.max_data_size"], 0) == 48
    assert int(rows[4]["zbee_zcl_general.ota.data_size"], 0) == 48
    assert rows[4]["zbee_zcl_general.ota.image.data"].replace(":", "") == block.hex()
    assert int(rows[4]["zbee_zcl_general.ota.manufacturer_code"], 0) == RIG_MANUFACTURER_CODE
    assert int(rows[8]["zbee_zcl_general.ota.file.version"], 0) == 2
    detail = subprocess.run(
        ["tshark", "-r", str(path), "-V"], capture_output=True, text=True, check=True
    ).stdout
    for name in (
        "Image Notify",
        "Query Next Image Request",
        "Query Next Image Response",
        "Image Block Request",
        "Image Block Response",
        "Upgrade End Request",
        "Upgrade End Response",
    ):
        assert f"Command: {name}" in detail, name
    assert int(rows[6]["zbee_zcl_general.ota.status"], 0) == OtaStatus.WAIT_FOR_DATA
    assert int(rows[7]["zbee_zcl_general.ota.status"], 0) == OtaStatus.ABORT


# --- the command line ----------------------------------------------------------------


def test_rig_firmware_make_and_inspect(tmp_path: Path) -> None:
    state = tmp_path / "state"
    good, bad = tmp_path / "fw.ota", tmp_path / "bad.ota"
    made = rig_cli(
        "firmware", "make", "--version", "00000002", "--out", str(good),
        "--profile", '{"display": "v2"}', state=state, check=True,
    )  # fmt: skip
    assert "device manufacturer DS" in made.stderr  # the PKI is made on first use
    rig_cli(
        "firmware", "make", "--version", "00000002", "--out", str(bad), "--tamper",
        state=state, check=True,
    )  # fmt: skip
    shown = rig_cli("firmware", "inspect", str(good), "--json", state=state, check=True)
    record = json.loads(shown.stdout)
    assert record["version"] == "00000002" and record["file_version"] == "00000002"
    assert record["profile"] == {"display": "v2"} and record["signature_valid"] is True
    assert record["hash"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert record["signer"] == MANUFACTURER_EUI.duis
    key = Pki(state / "pki").manufacturer().load_cert().public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert verify_image(good.read_bytes(), key).profile == {"display": "v2"}
    refused = rig_cli("firmware", "inspect", str(bad), "--json", state=state)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["signature_valid"] is False
    assert "does not verify" in refused.stderr
    wrong = rig_cli("firmware", "make", "--version", "v2", "--out", str(good), state=state)
    assert wrong.returncode == 1 and "8 hex digits" in wrong.stderr
    not_ota = tmp_path / "not.ota"
    not_ota.write_bytes(b"hello, not firmware")
    junk = rig_cli("firmware", "inspect", str(not_ota), state=state)
    assert junk.returncode == 1 and "not a ZigBee OTA file" in junk.stderr
