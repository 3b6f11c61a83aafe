"""The rig's firmware image: a ZigBee OTA file signed with the manufacturer's ECDSA key.

On a virtual node "firmware" is the emulated device's version string plus a behaviour
profile. The image is a ZigBee OTA file (:mod:`rig.protocol.zigbee.ota`) of two
sub-elements:

* the Upgrade Image (tag 0x0000): UTF-8 JSON ``{"profile": {...}, "version": "..."}``
  (keys sorted, no spaces, so the same inputs give the same bytes);
* the signature (tag 0x0005, the OTA file's "ECDSA signature" tag), last: the signer's
  IEEE address (8 bytes, little-endian as ZCL sends IEEE addresses) and the raw ECDSA
  P-256 signature r || s (2 x 32 bytes, big-endian) over SHA-256 of every byte of the file
  before this sub-element (the OTA header, whose total image size counts the signature,
  and the Upgrade Image).

This layout is the rig's choice. GBCS requires a manufacturer's ECDSA signature over the
image's hash, which the device checks before it accepts the image (8F72 when it verifies,
8F1C when it does not); the OTA file's own 0x0005 tag is meant for a sect283k1 signature
of 72 bytes, which a P-256 key cannot give. :func:`verify_image` checks the signature
first and only then what the signed content says.

The header's file version (u32) derives from the version string: 8 hex digits (as DUIS
writes a firmware version, e.g. ``0123ABCD``) are that number; otherwise a dotted version
of one to four numbers 0-255 (``1.2.3``) gives one byte each, most significant first,
zero-filled (``1.2.3`` -> 0x01020300). The version string itself travels in the Upgrade
Image, as given.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.security import SecurityError, sign_raw, verify_raw
from rig.protocol.zigbee.ota import OtaFile, OtaHeader, SubElement, Tag

UPGRADE_IMAGE_TAG: Final = int(Tag.UPGRADE_IMAGE)
SIGNATURE_TAG: Final = int(Tag.ECDSA_SIGNATURE_SUITE_2)
SIGNATURE_LENGTH: Final = 8 + 64  # signer IEEE address, r || s
HEADER_STRING_PREFIX: Final = "GB rig firmware "
RIG_MANUFACTURER_CODE: Final = 0x7E57  # the rig's test maker ("TEST"): no maker Wireshark names
DEFAULT_IMAGE_TYPE: Final = 0x0000

_HEX_VERSION = re.compile(r"[0-9A-Fa-f]{8}")
_DOTTED_VERSION = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}")


class FirmwareError(ValueError):
    """An image the device must refuse; the subclass says why."""


class MalformedImage(FirmwareError):
    """Not an image of the rig's format (the message names what is wrong)."""


class BadSignature(FirmwareError):
    """A well-formed image whose manufacturer signature does not verify."""


@dataclass(frozen=True, slots=True)
class FirmwareImage:
    header: OtaHeader
    version: str
    profile: dict[str, Any]
    signer: Eui64
    signature: bytes  # r || s
    hash: bytes  # image_hash of the whole file
    size: int

    @property
    def file_version(self) -> int:
        return self.header.file_version


def file_version_of(version: str) -> int:
    """The OTA file version (u32) of a version string (see the module docstring)."""
    if _HEX_VERSION.fullmatch(version):
        return int(version, 16)
    if _DOTTED_VERSION.fullmatch(version):
        parts = [int(p) for p in version.split(".")]
        if all(p <= 255 for p in parts):
            return int.from_bytes(bytes(parts).ljust(4, b"\x00"), "big")
    raise ValueError(
        f"firmware version {version!r}: write 8 hex digits (e.g. 0123ABCD) or a dotted "
        "version of up to four numbers 0-255 (e.g. 2.1.0)"
    )


def image_hash(data: bytes) -> bytes:
    """SHA-256 of the whole OTA file as the device receives it (header, Upgrade Image and
    signature sub-element): the 32-byte firmware hash the rig carries for GBCS 11.1 and
    checks against CS06 (11.3 Activate Firmware)."""
    return hashlib.sha256(data).digest()


def _payload(version: str, profile: dict[str, Any]) -> bytes:
    return json.dumps(
        {"profile": profile, "version": version}, sort_keys=True, separators=(",", ":")
    ).encode()


def make_image(
    version: str,
    manufacturer_key: ec.EllipticCurvePrivateKey,
    signer_eui: Eui64,
    profile: dict[str, Any] | None = None,
    manufacturer_code: int = RIG_MANUFACTURER_CODE,
    image_type: int = DEFAULT_IMAGE_TYPE,
) -> bytes:
    """A signed image of ``version`` with the behaviour ``profile``."""
    header = OtaHeader(
        manufacturer_code,
        image_type,
        file_version_of(version),
        header_string=(HEADER_STRING_PREFIX + version)[:32],
    )
    upgrade = SubElement(UPGRADE_IMAGE_TAG, _payload(version, profile or {}))
    placeholder = SubElement(SIGNATURE_TAG, bytes(SIGNATURE_LENGTH))
    unsigned = OtaFile(header, (upgrade, placeholder)).encode()
    signed_part = unsigned[: -len(placeholder.encode())]
    signature = signer_eui.raw[::-1] + sign_raw(manufacturer_key, signed_part)
    return OtaFile(header, (upgrade, SubElement(SIGNATURE_TAG, signature))).encode()


def _parts(data: bytes) -> tuple[FirmwareImage, bytes]:
    """The image as the file states it and the bytes its signature covers; MalformedImage
    when it is not an image of the rig's format. The header's file version is not yet
    compared with the version string: :func:`verify_image` does that once the signature
    holds."""
    try:
        ota = OtaFile.decode(data)
    except DecodeError as exc:
        raise MalformedImage(f"not a valid OTA file: {exc}") from None
    tags = [e.tag for e in ota.elements]
    if tags != [UPGRADE_IMAGE_TAG, SIGNATURE_TAG]:
        names = ", ".join(e.name for e in ota.elements) or "none"
        raise MalformedImage(
            "a rig firmware image holds an Upgrade Image (0x0000) then a signature (0x0005); "
            f"this one holds {names}"
        )
    upgrade, signature = ota.elements
    if len(signature.data) != SIGNATURE_LENGTH:
        raise MalformedImage(
            f"the signature sub-element has {len(signature.data)} bytes, not {SIGNATURE_LENGTH}"
        )
    try:
        content = json.loads(upgrade.data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedImage(f"the Upgrade Image is not UTF-8 JSON: {exc}") from None
    if (
        not isinstance(content, dict)
        or not isinstance(content.get("version"), str)
        or not isinstance(content.get("profile"), dict)
    ):
        raise MalformedImage(
            'the Upgrade Image must be {"profile": {...}, "version": "..."}, '
            f"not {upgrade.data[:80]!r}"
        )
    image = FirmwareImage(
        ota.header,
        content["version"],
        content["profile"],
        Eui64(signature.data[:8][::-1]),
        signature.data[8:],
        image_hash(data),
        len(data),
    )
    return image, data[: signature.offset]


def read_image(data: bytes) -> FirmwareImage:
    """What the image says, without checking its signature (MalformedImage if malformed)."""
    return _parts(data)[0]


def verify_image(data: bytes, manufacturer_public_key: ec.EllipticCurvePublicKey) -> FirmwareImage:
    """The image a device accepts: MalformedImage if it is not an image of the rig's format,
    BadSignature if the manufacturer signature does not verify, then MalformedImage if the
    header's file version is not the one its version string gives."""
    image, signed_part = _parts(data)
    try:
        verify_raw(manufacturer_public_key, signed_part, image.signature)
    except SecurityError:
        raise BadSignature(
            f"the manufacturer signature of firmware {image.version!r} (signer {image.signer}) "
            "does not verify: the image was altered after signing, or another key signed it"
        ) from None
    try:
        expected = file_version_of(image.version)
    except ValueError as exc:
        raise MalformedImage(str(exc)) from None
    if image.file_version != expected:
        raise MalformedImage(
            f"the OTA header's file version 0x{image.file_version:08X} does not match "
            f"version {image.version!r} (0x{expected:08X})"
        )
    return image


def tamper(data: bytes) -> bytes:
    """The image with one byte of its Upgrade Image flipped after signing: the low bit of the
    version string's last character (``00000002`` reads ``00000003``), so the file still
    reads as an image, claims another version, and its signature no longer verifies. In an
    Upgrade Image without the version, its middle byte."""
    ota = OtaFile.decode(data)
    upgrade = ota.element(UPGRADE_IMAGE_TAG)
    if upgrade is None or not upgrade.data:
        raise ValueError("the image has no Upgrade Image to tamper with")
    start = upgrade.offset + 6  # past the tag and the length
    at = start + len(upgrade.data) // 2
    key = b'"version":"'
    found = upgrade.data.find(key)
    if found >= 0:
        close = upgrade.data.find(b'"', found + len(key))
        if close > found + len(key):
            at = start + close - 1
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


__all__ = [
    "BadSignature",
    "FirmwareError",
    "FirmwareImage",
    "MalformedImage",
    "file_version_of",
    "image_hash",
    "make_image",
    "read_image",
    "tamper",
    "verify_image",
]
