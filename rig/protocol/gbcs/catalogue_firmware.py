"""GBCS use cases: the meters' firmware use cases (11.2 Read Firmware Version: ECS52, GCS38),
issue 16. Declared as :mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers
them into CATALOGUE (this module must not import the catalogue).

Laid out byte for byte as DCC's RTDS 4.5.0 has them (the folders 11.2_ECS52 and
11.2_GCS38); names as DCC's mapping table says ("Read ESME/SAPC/GSME/Comms Hub Firmware
Version", non-critical).

====== ===== ============================================ ============ =================
SRV    code  use case                                     command      response
====== ===== ============================================ ============ =================
11.2   0059  ECS52 read the ESME's firmware version       ACB MAC      MAC
11.2   0084  GCS38 read the GSME's firmware version       ACB MAC      MAC
====== ===== ============================================ ============ =================

ECS52 GETs the value (class 1, attribute 2) of COSEM object 0-0:0.2.1.255; GCS38 reads the
Metering cluster's CurrentMeterID (0x0206), answered with a Read Attributes Response whose
frame control asks for a default response (0x08), as RTDS has it. Both answer with the
version as a 4-octet string (RTDS: ``01 23 AB CD``), which DUIS writes as 8 hex digits
(``0123ABCD``; the inventory's DeviceFirmwareVersion): :func:`version_octets` and
:func:`version_of` turn one into the other. A version written dotted (``1.2.3``, as
:mod:`rig.protocol.firmware` allows for an image) is carried as the image's OTA file
version (``01020300``).

The GSME's attribute server serves integers, so the 4-octet string is declared as a
:class:`gbz.ZclAttribute` of 5 bytes whose value is the integer of the string's length
octet and octets, little-endian (:func:`octet_string_value`, :func:`octet_string_of`):
what it sends is ZCL's octet string, type 0x41, byte for byte.
"""

from __future__ import annotations

from typing import Final

from rig.protocol.firmware import file_version_of
from rig.protocol.gbcs import cosem, gbz
from rig.protocol.gbcs.usecase import Form, Get, UseCase, ZclRead

ESME, GSME = "ESME", "GSME"
VERSION_OCTETS: Final = 4
DEFAULT_VERSION: Final = "00000001"  # a device's version until the rig description names one
ZCL_OCTET_STRING: Final = 0x41
CURRENT_METER_ID = gbz.ZclAttribute(
    0x0206, "current_meter_id", ZCL_OCTET_STRING, 1 + VERSION_OCTETS
)

ECS52 = UseCase("ECS52", 0x0059, ESME, Form.DLMS, Get(cosem.FIRMWARE_VERSION), srvs=("11.2",))
GCS38 = UseCase(
    "GCS38",
    0x0084,
    GSME,
    Form.GBZ,
    ZclRead(gbz.METERING, (CURRENT_METER_ID,), answer_control=gbz.ZCL_SERVER_TO_CLIENT),
    srvs=("11.2",),
)

USE_CASES: tuple[UseCase, ...] = (ECS52, GCS38)


def version_octets(version: str) -> bytes:
    """The 4 octets GBCS carries for a version string: 8 hex digits as they are, a dotted
    version as its OTA file version (ValueError, saying what to write, for anything else)."""
    return file_version_of(version).to_bytes(VERSION_OCTETS, "big")


def version_of(octets: bytes) -> str:
    """The version string of the octets a device answers: 8 hex digits, as DUIS writes it."""
    return octets.hex().upper()


def normal_version(version: str) -> str:
    """A version string as GBCS and DUIS carry it (``1.2.3`` -> ``01020300``)."""
    return version_of(version_octets(version))


def octet_string_value(octets: bytes, attribute: gbz.ZclAttribute = CURRENT_METER_ID) -> int:
    """The integer the attribute server serves for a ZCL octet string of ``attribute``'s
    fixed size: its length octet and octets, little-endian."""
    if len(octets) != attribute.size - 1:
        raise ValueError(f"{attribute.name} holds {attribute.size - 1} octets, not {len(octets)}")
    return int.from_bytes(bytes([len(octets)]) + octets, "little")


def octet_string_of(value: int, attribute: gbz.ZclAttribute = CURRENT_METER_ID) -> bytes:
    """The octets of a ZCL octet string parsed as :func:`gbz.parse_read_records` parses
    ``attribute`` (the inverse of :func:`octet_string_value`)."""
    raw = value.to_bytes(attribute.size, "little")
    if raw[0] != attribute.size - 1:
        raise ValueError(
            f"{attribute.name}: an octet string of {raw[0]} octets, not {len(raw) - 1}"
        )
    return raw[1:]
