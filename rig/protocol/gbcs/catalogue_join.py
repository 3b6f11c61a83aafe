"""GBCS use cases: the meters' and PPMID's join service (8.7.1/8.7.2 CS03A1, CS03A2, CS03B,
CS03C), unjoin (8.8.1/8.8.2 CS04AC, CS04B) and 8.9 CS07 read device join details; issue 16.
Gathered into CATALOGUE by :mod:`rig.protocol.gbcs.catalogue` (do not import it here).

====== ===== ============================================== ================ ==========
SRV    code  use case                                       command          response
====== ===== ============================================== ================ ==========
8.7.1  000D  CS03A1 Method A join, initiator (ESME)         signed + MAC     signed
8.7.2  00AB  CS03A2 Method A join, responder (PPMID)        ACB's, MAC       signed
8.7.2  000E  CS03B Method B join (GSME, ESME)               ACB MAC          MAC
8.7.1  00AF  CS03C Method C join, with a KA cert (GSME)     signed + MAC     signed
8.8.1  000F  CS04AC Method A or C unjoin (ESME, GSME)       signed + MAC     signed
8.8.2  0010  CS04B Method B unjoin (GSME, ESME)             ACB MAC          MAC
8.9    0013  CS07 read device join details (GSME, ESME,     ACB MAC          MAC
             PPMID)
====== ===== ============================================== ================ ==========

Laid out byte for byte as RTDS 4.5.0 has them (folders 8.7.1_CS03A1, 8.7.1_CS03A2Critical,
8.7.1_CS03CCritical, 8.7.2_CS03A2NonCritical, 8.7.2_CS03B, 8.7.2_CS03CNonCritical,
8.8.1_CS04ACCritical, 8.8.2_CS04ACNonCritical, 8.8.2_CS04B, 8.9_CS07). A join command is
``SEQUENCE { joinMethodAndRole INTEGER, entity OCTET STRING (8), deviceType INTEGER,
certificate OPTIONAL }`` (:func:`join_payload`), answered by one INTEGER
(:class:`JoinResult`); an unjoin command is the entity's OCTET STRING alone, answered by one
INTEGER (:class:`UnjoinResult`); CS07 is a NULL, answered ``SEQUENCE { INTEGER,
SEQUENCE OF SEQUENCE { entity, deviceType } }`` (the list absent on a read failure, as
RTDS's error has it).

A message code is declared once, so each is declared for the DUIS variant the rig's devices
take: CS03A2 for the PPMID as 8.7.2 (the ACB originates it; RTDS's ACB also signs it, the
rig's does not), CS03C and CS04AC critical for the meters (8.7.1, 8.8.1). RTDS's other
variants (CS03A2 critical to an HCALCS; CS03C and CS04AC non-critical to a PPMID) are not
served by the DCC; the devices' handlers still answer their payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import asn1
from rig.protocol.gbcs.asn1 import Tlv
from rig.protocol.gbcs.usecase import Der, Form, Protection, UseCase

ESME, GSME, PPMID = "ESME", "GSME", "PPMID"
SIGNED = Protection.SIGNATURE
_JOIN = Der((asn1.INTEGER, asn1.OCTET_STRING, asn1.INTEGER))
_JOIN_WITH_CERT = Der(_JOIN.fields, optional=(asn1.SEQUENCE,))  # Method C's

CS03A1 = UseCase(
    "CS03A1", 0x000D, ESME, Form.ASN1, _JOIN, srvs=("8.7.1",), critical=True, response=SIGNED
)
CS03A2 = UseCase(
    "CS03A2",
    0x00AB,
    PPMID,
    Form.ASN1,
    _JOIN,
    srvs=("8.7.2",),
    response=SIGNED,
    acb_originated=True,  # the supplier rides as the supplementary remote party
)
CS03B = UseCase("CS03B", 0x000E, GSME, Form.ASN1, _JOIN, srvs=("8.7.2",), also_for=(ESME,))
CS03C = UseCase(
    "CS03C",
    0x00AF,
    GSME,
    Form.ASN1,
    _JOIN_WITH_CERT,  # the other device's KA certificate
    srvs=("8.7.1",),
    critical=True,
    response=SIGNED,
)
_UNJOIN = Der((asn1.OCTET_STRING,), bare=True)
CS04AC = UseCase(
    "CS04AC",
    0x000F,
    ESME,
    Form.ASN1,
    _UNJOIN,
    srvs=("8.8.1",),
    critical=True,
    response=SIGNED,
    also_for=(GSME,),
)
CS04B = UseCase("CS04B", 0x0010, GSME, Form.ASN1, _UNJOIN, srvs=("8.8.2",), also_for=(ESME,))
CS07 = UseCase(
    "CS07",
    0x0013,
    GSME,
    Form.ASN1,
    Der((asn1.NULL,), bare=True),
    srvs=("8.9",),
    also_for=(ESME, PPMID),
)

USE_CASES: tuple[UseCase, ...] = (CS03A1, CS03A2, CS03B, CS03C, CS04AC, CS04B, CS07)
JOINS = (CS03A1, CS03A2, CS03B, CS03C)
UNJOINS = (CS04AC, CS04B)


class Method(IntEnum):
    """joinMethodAndRole: how the device joins the other one, and its part in it."""

    A_INITIATOR = 0
    A_RESPONDER = 1
    B = 2
    C = 3


METHOD_OF = {
    "CS03A1": Method.A_INITIATOR,
    "CS03A2": Method.A_RESPONDER,
    "CS03B": Method.B,
    "CS03C": Method.C,
}
# the methods each unjoin removes
UNJOINED_BY = {"CS04AC": {Method.A_INITIATOR, Method.A_RESPONDER, Method.C}, "CS04B": {Method.B}}


class JoinDeviceType(IntEnum):
    """The other device's type, as a join command and CS07 carry it."""

    GSME = 0
    ESME = 1
    CHF = 2
    GPF = 3
    HCALCS = 4
    PPMID = 5
    TYPE_2 = 6  # an IHD


# the rig's (and DCC inventory's) names of device types, as a join carries them
JOIN_DEVICE_TYPE = {
    "GSME": JoinDeviceType.GSME,
    "ESME": JoinDeviceType.ESME,
    "CHF": JoinDeviceType.CHF,
    "GPF": JoinDeviceType.GPF,
    "HCALCS": JoinDeviceType.HCALCS,
    "PPMID": JoinDeviceType.PPMID,
    "IHD": JoinDeviceType.TYPE_2,
}

# which other devices a device may join, by method (GBCS 13.7): Method A between an ESME
# (initiator) and a PPMID or HCALCS (responder); Method B between a meter and a Type 2
# device, and a GSME and its GPF; Method C between a GSME and a PPMID or HCALCS
_T = JoinDeviceType
JOINABLE: dict[tuple[str, Method], frozenset[JoinDeviceType]] = {
    (ESME, Method.A_INITIATOR): frozenset({_T.PPMID, _T.HCALCS}),
    (PPMID, Method.A_RESPONDER): frozenset({_T.ESME}),
    (ESME, Method.B): frozenset({_T.TYPE_2}),
    (GSME, Method.B): frozenset({_T.GPF, _T.TYPE_2}),
    (GSME, Method.C): frozenset({_T.PPMID, _T.HCALCS}),
    (PPMID, Method.C): frozenset({_T.GSME}),
}


class JoinResult(IntEnum):
    """A join command's answer."""

    SUCCESS = 0
    INVALID_MESSAGE_CODE = 1  # the message code does not go with joinMethodAndRole
    INVALID_METHOD = 2  # the device cannot join this device type by this method and role
    INCOMPATIBLE = 3  # the entity is in the device log with another device type
    LOG_FULL = 4
    WRITE_FAILURE = 5
    INVALID_CERTIFICATE = 11  # Method C without a valid KA certificate


class UnjoinResult(IntEnum):
    SUCCESS = 0
    NOT_IN_LOG = 1
    OTHER_FAILURE = 2


class ReadResult(IntEnum):
    SUCCESS = 0
    READ_FAILURE = 1


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """What a join command asks: join ``entity`` (8 bytes), of ``device_type``, by
    ``method``; Method C with the other device's KA ``certificate`` (DER)."""

    method: int
    entity: bytes
    device_type: int
    certificate: bytes | None = None


def join_payload(
    method: int, entity: bytes, device_type: int, certificate: bytes | None = None
) -> bytes:
    """A join command's payload (CS03A1, CS03A2, CS03B, CS03C)."""
    if len(entity) != 8:
        raise ValueError(f"a join names the other device by its 8-byte EUI, not {len(entity)}")
    fields = [asn1.integer(method), asn1.octets(entity), asn1.integer(device_type)]
    if certificate is not None:
        cert = asn1.decode(certificate).elements
        if len(cert) != 1 or cert[0].number != asn1.SEQUENCE:
            raise ValueError("the certificate is not one DER SEQUENCE")
        fields.append(cert[0])
    return asn1.sequence(*fields).encode()


def join_of(payload: bytes) -> JoinRequest:
    """The join a command's payload asks (DecodeError when it is not one)."""
    elements = asn1.decode(payload).elements
    if len(elements) != 1 or not _JOIN_WITH_CERT.check(payload):
        raise DecodeError("a join is SEQUENCE { method, entity, device type [, certificate] }", 0)
    fields = elements[0].children
    if len(fields[1].value) != 8:
        raise DecodeError("a join names the other device by its 8-byte EUI", 0)
    certificate = fields[3].encode() if len(fields) == 4 else None
    return JoinRequest(
        asn1.int_value(fields[0]), fields[1].value, asn1.int_value(fields[2]), certificate
    )


def unjoin_payload(entity: bytes) -> bytes:
    """An unjoin command's payload (CS04AC, CS04B): the other device's EUI."""
    if len(entity) != 8:
        raise ValueError(f"an unjoin names the other device by its 8-byte EUI, not {len(entity)}")
    return asn1.octets(entity).encode()


def entity_of(payload: bytes) -> bytes:
    """The EUI an unjoin command names (DecodeError when it is not one)."""
    if not _UNJOIN.check(payload):
        raise DecodeError("an unjoin is the other device's OCTET STRING", 0)
    value = asn1.decode(payload).elements[0].value
    if len(value) != 8:
        raise DecodeError("an unjoin names the other device by its 8-byte EUI", 0)
    return value


READ_JOIN_DETAILS = Tlv(0, False, asn1.NULL, b"").encode()  # CS07's payload


def result_answer(result: int) -> bytes:
    """A join's or an unjoin's answer: the result alone."""
    return asn1.integer(result).encode()


def result_of(payload: bytes) -> int:
    """The result a join's or an unjoin's answer carries."""
    elements = asn1.decode(payload).elements
    if len(elements) != 1 or (elements[0].cls, elements[0].number) != (0, asn1.INTEGER):
        raise DecodeError("a join's or an unjoin's answer is one INTEGER", 0)
    return asn1.int_value(elements[0])


def join_details_answer(result: int, entries: list[tuple[bytes, int]] | None) -> bytes:
    """CS07's answer: the result and (read) each entity with its device type, in order."""
    fields = [asn1.integer(result)]
    if entries is not None:
        fields.append(
            asn1.sequence(
                *(asn1.sequence(asn1.octets(eui), asn1.integer(kind)) for eui, kind in entries)
            )
        )
    return asn1.sequence(*fields).encode()


def join_details_of(payload: bytes) -> tuple[int, list[tuple[bytes, int]]]:
    """CS07's answer: the result and the entities with their device types."""
    elements = asn1.decode(payload).elements
    if len(elements) != 1 or not elements[0].constructed or not elements[0].children:
        raise DecodeError("CS07's answer is SEQUENCE { result, SEQUENCE OF entries }", 0)
    fields = elements[0].children
    entries = [
        (entry.children[0].value, asn1.int_value(entry.children[1]))
        for entry in (fields[1].children if len(fields) > 1 else ())
    ]
    return asn1.int_value(fields[0]), entries
