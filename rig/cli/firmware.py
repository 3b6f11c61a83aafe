"""``rig firmware``: test firmware images signed with the rig's manufacturer key.

rig firmware make --version 00000002 --out fw.ota               a good image
rig firmware make --version 00000002 --out bad.ota --tamper     altered after signing
rig firmware inspect fw.ota --json                              header, version, hash, signature
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric import ec

from rig.cli.common import console, out, progress, rig_options
from rig.description.model import Rig
from rig.lifecycle.errors import RigError
from rig.pki.authority import Pki
from rig.protocol.codec import DecodeError
from rig.protocol.firmware import (
    DEFAULT_IMAGE_TYPE,
    RIG_MANUFACTURER_CODE,
    BadSignature,
    MalformedImage,
    image_hash,
    make_image,
    read_image,
    tamper,
    verify_image,
)
from rig.protocol.smki import eui_of
from rig.protocol.zigbee.ota import OtaFile
from rig.state import StateDir


@click.group()
def firmware() -> None:
    """Firmware images (ZigBee OTA files) signed with the rig's manufacturer key."""


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise click.BadParameter(f"{text!r}: write a number, e.g. 0x1234") from None


def _profile(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    source = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"the profile is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise click.BadParameter('the profile is a JSON object, e.g. {"tariff": "slow"}')
    return value


@firmware.command("make")
@rig_options
@click.option("--version", "version", required=True, help="e.g. 00000002 (8 hex digits) or 2.1.0")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tamper", "tampered", is_flag=True, help="flip a byte after signing")
@click.option("--profile", help="behaviour profile: JSON text, or @FILE")
@click.option(
    "--manufacturer-code", default=hex(RIG_MANUFACTURER_CODE), show_default=True, help="u16"
)
@click.option("--image-type", default=hex(DEFAULT_IMAGE_TYPE), show_default=True, help="u16")
def make(
    rig: Rig,
    state: StateDir,
    version: str,
    out_path: Path,
    tampered: bool,
    profile: str | None,
    manufacturer_code: str,
    image_type: str,
) -> None:
    """Make an image of VERSION signed with the rig's manufacturer key (created if missing)."""
    pki = Pki(state.pki)
    cred = pki.manufacturer()
    if not cred.cert.exists():
        for item in pki.ensure(rig, pki.manifest.get("wan_hosts") or ["127.0.0.1", "localhost"]):
            progress(f"created {item}")
    key = cred.load_key()
    try:
        data = make_image(
            version,
            key,
            eui_of(cred.load_cert()),
            _profile(profile),
            _int(manufacturer_code),
            _int(image_type),
        )
    except ValueError as exc:
        raise RigError(str(exc)) from None
    if tampered:
        data = tamper(data)
    try:
        out_path.write_bytes(data)
    except OSError as exc:
        raise RigError(f"cannot write {out_path}: {exc}; give another --out") from None
    note = " (tampered after signing)" if tampered else ""
    console.print(
        f"wrote {out_path}: firmware {version}, {len(data)} bytes, "
        f"hash {image_hash(data).hex()}{note}",
        highlight=False,
    )


def _manufacturer_key(state: StateDir) -> ec.EllipticCurvePublicKey | None:
    cred = Pki(state.pki).manufacturer()
    if not cred.cert.exists():
        return None
    key = cred.load_cert().public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)  # the rig issues P-256 keys only
    return key


@firmware.command("inspect")
@rig_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def inspect(rig: Rig, state: StateDir, file: Path, as_json: bool) -> None:
    """Show an image's OTA header, version, hash and whether the rig's manufacturer key
    verifies it. Exit 1 if it is malformed or its signature does not verify."""
    data = file.read_bytes()
    try:
        ota = OtaFile.decode(data)
    except DecodeError as exc:
        raise RigError(f"{file} is not a ZigBee OTA file: {exc}") from None
    h = ota.header
    record: dict[str, Any] = {
        "file": str(file),
        "size": len(data),
        "hash": image_hash(data).hex(),
        "manufacturer_code": h.manufacturer_code,
        "image_type": h.image_type,
        "file_version": f"{h.file_version:08X}",
        "stack_version": h.stack_version,
        "header_string": h.header_string,
        "sub_elements": [{"tag": e.name, "length": len(e.data)} for e in ota.elements],
        "version": None,
        "profile": None,
        "signer": None,
        "signature_valid": None,
        "reason": None,
    }
    try:
        image = read_image(data)
    except MalformedImage as exc:
        record["reason"] = str(exc)
    else:
        record.update(version=image.version, profile=image.profile, signer=image.signer.duis)
        public = _manufacturer_key(state)
        if public is None:
            record["reason"] = f"no manufacturer key in {state.pki}: run `rig pki init`"
        else:
            try:
                verify_image(data, public)
                record["signature_valid"] = True
            except BadSignature as exc:
                record["signature_valid"] = False
                record["reason"] = str(exc)
            except MalformedImage as exc:
                record["signature_valid"] = True
                record["reason"] = str(exc)
    if as_json:
        out.print_json(json.dumps(record))
    else:
        for name, value in record.items():
            if name in ("manufacturer_code", "image_type", "stack_version"):
                value = f"0x{value:04X}"
            out.print(f"{name:18} {value}", highlight=False, markup=False)
    if record["reason"] is not None and record["signature_valid"] is not None:
        console.print(f"[red]refused:[/] {record['reason']}", highlight=False)
        sys.exit(1)
    if record["version"] is None:
        console.print(f"[red]malformed:[/] {record['reason']}", highlight=False)
        sys.exit(1)
