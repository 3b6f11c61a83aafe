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
11.2   0129  CS08 read the PPMID's firmware version       ACB's, MAC   MAC
--     012B  CS09 PPMID firmware activation alert         --           signed
====== ===== ============================================ ============ =================

ECS52 GETs the value (class 1, attribute 2) of COSEM object 0-0:0.2.1.255; GCS38 reads the
Metering cluster's CurrentMeterID (0x0206), answered with a Read Attributes Response whose
frame control asks for a default response (0x08), as RTDS has it. Both answer with the
version as a 4-octet string (RTDS: ``01 23 AB CD``), which DUIS writes as 8 hex digits
(``0123ABCD``; the inventory's DeviceFirmwareVersion): :func:`version_octets` and
:func:`version_of` turn one into the other. A version written dotted (``1.2.3``, as
:mod:`rig.protocol.firmware` allows for an image) is carried as the image's OTA file
version (``01020300``).

CCS08 Firmware Transfer Alert (message code 0x0128, RTDS NA_CCS08): the comms hub tells the
ACB how the transfer of an image to a device over the HAN ended, an ASN.1 SEQUENCE of the
alert code (0x8F8A transferred, 0x8F89 not), a GeneralizedTime, the device's entity id,
the image's version and a response code (:data:`TRANSFER_RESPONSES`, the names DUIS's
FirmwareTransferAlert gives them): :func:`transfer_alert_payload`, :func:`transfer_alert_of`,
:func:`transfer_alert` (signed, as RTDS's is).

CS08 Read PPMID/HCALCS Firmware Version (RTDS 11.2_CS08) is the ACB's command for the DCC
User, who rides as the supplementary remote party (:attr:`UseCase.acb_originated`): a NULL,
answered ``SEQUENCE { firmwareVersion OCTET STRING (4), result INTEGER }`` (0 read, 1 not:
RTDS's error answers ``00000000`` and 1): :func:`ppmid_version_answer`,
:func:`ppmid_version_of`. CS09 PPMID Firmware Activation Alert (RTDS NA_CS09, SME.A.C) is
what the PPMID raises, signed, to the ACB once it has activated an image it received
(11.4 Update PPMID Firmware): ``SEQUENCE { alertCode INTEGER (0x8F8B), GeneralizedTime,
firmwareVersion OCTET STRING (4), activateImageResult INTEGER }`` (0 activated, 1 not:
DUIS's ActivationSuccess, ActivationFailure), the version the one running after it:
:func:`ppmid_activation_payload`, :func:`ppmid_activation_of`, :func:`ppmid_activation_alert`.
RTDS's only sample carries 0x8F8B with result 0; the rig raises 0x8F8B for either result.

The GSME's attribute server serves integers, so the 4-octet string is declared as a
:class:`gbz.ZclAttribute` of 5 bytes whose value is the integer of the string's length
octet and octets, little-endian (:func:`octet_string_value`, :func:`octet_string_of`):
what it sends is ZCL's octet string, type 0x41, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.firmware import file_version_of
from rig.protocol.gbcs import asn1, cosem, gbz, security
from rig.protocol.gbcs.asn1 import Tlv
from rig.protocol.gbcs.catalogue_commission import generalized_time, integer_of, time_of
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.usecase import Der, Form, Get, Protection, UseCase, ZclRead

ESME, GSME, PPMID = "ESME", "GSME", "PPMID"
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

# CS08: the ACB originates it for the DCC User (RTDS: the supplier rides as the
# supplementary remote party), a NULL, MAC'd by the ACB; answered MAC'd
CS08 = UseCase(
    "CS08",
    0x0129,
    PPMID,
    Form.ASN1,
    Der((asn1.NULL,), bare=True),
    srvs=("11.2",),
    acb_originated=True,
)
PPMID_FIRMWARE_ACTIVATED: Final = 0x8F8B  # CS09's alert code (RTDS NA_CS09)
CS09 = UseCase(
    "CS09",
    0x012B,
    PPMID,
    Form.ASN1,
    response=Protection.SIGNATURE,
    alert_code=PPMID_FIRMWARE_ACTIVATED,
)

USE_CASES: tuple[UseCase, ...] = (ECS52, GCS38, CS08, CS09)
READ_PPMID_FIRMWARE: Final = Tlv(0, False, asn1.NULL, b"").encode()  # CS08's payload


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


# --- CCS08 Firmware Transfer Alert (the comms hub's, to the ACB) ----------------------------------
FIRMWARE_TRANSFER_ALERT: Final = 0x0128  # CCS08's message code
TRANSFER_SUCCESSFUL: Final = 0x8F8A
TRANSFER_FAILED: Final = 0x8F89
FILE_TRANSFER_SUCCESS, IMAGE_DISCARDED, HARDWARE_VERSION_MISMATCH, FILE_TRANSFER_FAILURE = (
    0,
    1,
    2,
    3,
)
TRANSFER_RESPONSES: Final = {  # CCS08's response code: DUIS's TransferResponseCode
    FILE_TRANSFER_SUCCESS: "FileTransferSuccess",
    IMAGE_DISCARDED: "FirmwareImageDiscarded",
    HARDWARE_VERSION_MISMATCH: "HardwareVersionMismatch",
    FILE_TRANSFER_FAILURE: "FileTransferFailure",
}


@dataclass(frozen=True, slots=True)
class TransferAlert:
    """What a CCS08 alert says: which device, which version, how the transfer ended."""

    alert_code: int
    when: dt.datetime
    device: bytes  # the entity id (EUI-64) the image was transferred to
    version: bytes  # 4 octets
    response: int

    @property
    def outcome(self) -> str:
        """DUIS's TransferResponseCode (ValueError for a code CCS08 does not define)."""
        if self.response not in TRANSFER_RESPONSES:
            raise ValueError(f"CCS08 response code {self.response} is not one GBCS defines")
        return TRANSFER_RESPONSES[self.response]


def transfer_alert_payload(
    when: dt.datetime, device: bytes, version: bytes, response: int
) -> bytes:
    """CCS08's payload: 8F8A for :data:`FILE_TRANSFER_SUCCESS`, else 8F89, then when, the
    device's entity id, the version and the response code."""
    if response not in TRANSFER_RESPONSES:
        raise ValueError(f"CCS08 response code {response} is not one GBCS defines (0 to 3)")
    code = TRANSFER_SUCCESSFUL if response == FILE_TRANSFER_SUCCESS else TRANSFER_FAILED
    fields = (
        _integer(code),
        generalized_time(when),
        Tlv(0, False, 4, device),
        Tlv(0, False, 4, version),
        _integer(response),
    )
    return Tlv(0, True, 16, children=fields).encode()


def transfer_alert_of(payload: bytes) -> TransferAlert:
    """A CCS08 payload read (DecodeError, IndexError or ValueError when it is not one)."""
    code, when, device, version, response = asn1.decode(payload).elements[0].children
    return TransferAlert(
        integer_of(code), time_of(when), device.value, version.value, integer_of(response)
    )


def transfer_alert(
    counter: int, hub: bytes, acb: bytes, payload: bytes, hub_ds: ec.EllipticCurvePrivateKey
) -> GbcsMessage:
    """CCS08 from the comms hub to the ACB with the hub's alert ``counter``, signed with its
    DS key (general signing, no date-time), as RTDS's is."""
    msg = GbcsMessage.build(Cra.ALERT, counter, hub, acb, FIRMWARE_TRANSFER_ALERT, payload)
    return security.sign_message(msg, hub_ds)


def _integer(n: int) -> Tlv:
    return Tlv(0, False, 2, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big"))


# --- CS08 Read PPMID Firmware Version, CS09 PPMID Firmware Activation Alert -------------------
READ_SUCCESS, READ_FAILURE = 0, 1  # CS08's answer (RTDS's error: 1, version 00000000)
ACTIVATION_SUCCESS, ACTIVATION_FAILURE = 0, 1  # CS09's activateImageResult
ACTIVATE_RESULTS: Final = {  # DUIS's ActivateImageResultCode (PPMIDFirmwareUpgradeAlert)
    ACTIVATION_SUCCESS: "ActivationSuccess",
    ACTIVATION_FAILURE: "ActivationFailure",
}


def ppmid_version_answer(version: bytes, result: int = READ_SUCCESS) -> bytes:
    """CS08's answer: the running version (4 octets) and the read result."""
    if len(version) != VERSION_OCTETS:
        raise ValueError(f"a firmware version is {VERSION_OCTETS} octets, not {len(version)}")
    return Tlv(0, True, 16, children=(Tlv(0, False, 4, version), _integer(result))).encode()


def ppmid_version_of(payload: bytes) -> tuple[bytes, int]:
    """The version octets and the result of a CS08 answer (DecodeError, IndexError or
    ValueError when it is not one)."""
    version, result = asn1.decode(payload).elements[0].children
    return version.value, integer_of(result)


@dataclass(frozen=True, slots=True)
class ActivationAlert:
    """What a CS09 alert says: when, the version running after it, whether it activated."""

    alert_code: int
    when: dt.datetime
    version: bytes  # 4 octets
    result: int

    @property
    def outcome(self) -> str:
        """DUIS's ActivateImageResultCode (ValueError for a result CS09 does not define)."""
        if self.result not in ACTIVATE_RESULTS:
            raise ValueError(f"CS09 activate image result {self.result} is not 0 or 1")
        return ACTIVATE_RESULTS[self.result]


def ppmid_activation_payload(when: dt.datetime, version: bytes, result: int) -> bytes:
    """CS09's payload: 0x8F8B, when, the version running after it and the result."""
    if result not in ACTIVATE_RESULTS:
        raise ValueError(f"CS09's activate image result is 0 or 1, not {result}")
    fields = (
        _integer(PPMID_FIRMWARE_ACTIVATED),
        generalized_time(when),
        Tlv(0, False, 4, version),
        _integer(result),
    )
    return Tlv(0, True, 16, children=fields).encode()


def ppmid_activation_of(payload: bytes) -> ActivationAlert:
    """A CS09 payload read (DecodeError, IndexError or ValueError when it is not one)."""
    code, when, version, result = asn1.decode(payload).elements[0].children
    return ActivationAlert(integer_of(code), time_of(when), version.value, integer_of(result))


def ppmid_activation_alert(
    counter: int, ppmid: bytes, acb: bytes, payload: bytes, ppmid_ds: ec.EllipticCurvePrivateKey
) -> GbcsMessage:
    """CS09 from the PPMID to the ACB with its alert ``counter``, signed with its DS key
    (general signing, no date-time), as RTDS's is."""
    msg = GbcsMessage.build(Cra.ALERT, counter, ppmid, acb, CS09.message_code, payload)
    return security.sign_message(msg, ppmid_ds)
