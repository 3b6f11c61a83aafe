"""GBCS use cases: restoring device logs (8.12.1 CCS03 the CHF's, 8.12.2 GCS59 the GPF's);
issue 16. Gathered into CATALOGUE by :mod:`rig.protocol.gbcs.catalogue` (this module must
not import the catalogue).

Laid out byte for byte as DCC's RTDS 4.5.0 has them (folders 8.12.1_CCS03, 8.12.2_GCS59):

====== ===== ============================================ ============ =================
SRV    code  use case                                     command      response
====== ===== ============================================ ============ =================
8.12.1 0003  CCS03 restore the CHF device log             ACB for the  MAC for the ACB
             (restore_PAN of the ZigBee network control)  DCC User
8.12.2 008C  GCS59 restore the GPF device log (ASN.1)     the ACB's    MAC for the ACB
                                                          own
====== ===== ============================================ ============ =================

CCS03 is DLMS COSEM, like CCS01: the ACB originates it with its own counter for the DCC
User (the supplementary remote party), and invokes restore_PAN (method 5) of the CHF
device log's ZigBee network control object (class 104, 0-0:30.3.0.255) with the failed
hub's extended PAN ID and its devices, each with the hash of its TC link key, as that
hub's backup_PAN (CCS07, CS14) gave them (:class:`RestorePan`). The mapping table: the
hub then forms its network with that extended PAN ID.

GCS59 is ASN.1, to the GPF, which (like the CHF) holds only the ACB's trust anchor cell: the
ACB originates it in its own name with its own counter, no DCC User named (``acb_own``, as
RTDS has it: originator the ACB, no supplementary remote party), and the DCC hands the
answer to the User. A SEQUENCE holding the SEQUENCE OF the failed GPF's device log entries
(device ID, device type); the answer is the SEQUENCE OF each entry with its join response
code, as a join answers (0 restored; 3 the device is in the log with another device type)
(:class:`GpfEntry`, :func:`gpf_restore_answer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import access, asn1, cosem
from rig.protocol.gbcs.asn1 import Tlv
from rig.protocol.gbcs.catalogue_chf import DEVICE_LOG, NETWORK_CONTROL, LogBackup
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Der, Form, UseCase

_D = DataType
RESTORE_LOG = cosem.Method(NETWORK_CONTROL, DEVICE_LOG, 5)  # restore_PAN
EUI_BYTES, HASH_BYTES = 8, 16

CCS03 = UseCase(
    "CCS03",
    0x0003,
    "CHF",
    Form.DLMS,
    access.Access((access.Invoke(RESTORE_LOG, name="log", kind=_D.STRUCTURE),)),
    srvs=("8.12.1",),
    acb_originated=True,
)
GCS59 = UseCase(
    "GCS59",
    0x008C,
    "GPF",
    Form.ASN1,
    Der((asn1.SEQUENCE,)),  # the SEQUENCE OF the log's entries
    srvs=("8.12.2",),
    acb_own=True,  # the GPF trusts only the ACB: RTDS's GCS59 is the ACB's own
)

USE_CASES: tuple[UseCase, ...] = (CCS03, GCS59)


# --- CCS03's argument, typed ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RestorePan:
    """restore_PAN's argument (CCS03): the extended PAN ID the hub forms its network with,
    and each device's EUI with the hash of its TC link key (16 bytes, or empty)."""

    extended_pan_id: bytes
    devices: tuple[tuple[bytes, bytes], ...]

    def __post_init__(self) -> None:
        if len(self.extended_pan_id) != EUI_BYTES:
            raise ValueError("restore_PAN's extended PAN ID is 8 bytes")
        for eui, hashed in self.devices:
            if len(eui) != EUI_BYTES or len(hashed) not in (0, HASH_BYTES):
                raise ValueError(
                    "restore_PAN's devices are an 8-byte EUI and a 16-byte TC link key hash"
                )
        if len({eui for eui, _ in self.devices}) != len(self.devices):
            raise ValueError("restore_PAN names a device twice")

    @classmethod
    def of_backup(cls, backup: LogBackup) -> RestorePan:
        """What restores the log a hub's backup_PAN (CCS07) or CS14 reported."""
        return cls(backup.extended_pan_id, backup.devices)

    def to_data(self) -> Data:
        entries = [
            Data(_D.STRUCTURE, [Data(_D.OCTET_STRING, eui), Data(_D.OCTET_STRING, hashed)])
            for eui, hashed in self.devices
        ]
        return Data(
            _D.STRUCTURE, [Data(_D.OCTET_STRING, self.extended_pan_id), Data(_D.ARRAY, entries)]
        )

    @classmethod
    def from_data(cls, value: Data) -> RestorePan:
        if value.type is not _D.STRUCTURE or len(value.value) != 2:
            raise ValueError("restore_PAN's argument is a structure of 2 fields")
        pan, entries = value.value
        if pan.type is not _D.OCTET_STRING or entries.type is not _D.ARRAY:
            raise ValueError("restore_PAN's argument is an extended PAN ID and an array")
        devices = []
        for entry in entries.value:
            if entry.type is not _D.STRUCTURE or len(entry.value) != 2:
                raise ValueError("a restore_PAN device is a structure of 2 fields")
            if any(f.type is not _D.OCTET_STRING for f in entry.value):
                raise ValueError("a restore_PAN device is two octet-strings")
            devices.append((bytes(entry.value[0].value), bytes(entry.value[1].value)))
        return cls(bytes(pan.value), tuple(devices))


# --- GCS59's command and answer ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GpfEntry:
    """An entry of the GPF device log: the device's EUI and its device type (an INTEGER as
    GBCS carries it)."""

    eui: bytes
    device_type: int

    def to_tlv(self) -> Tlv:
        return asn1.sequence(asn1.octets(self.eui), asn1.integer(self.device_type))

    @classmethod
    def from_tlv(cls, tlv: Tlv) -> GpfEntry:
        if not tlv.constructed or len(tlv.children) != 2:
            raise ValueError("a GPF device log entry is a SEQUENCE of 2 fields")
        eui, kind = tlv.children
        if (eui.number, kind.number) != (asn1.OCTET_STRING, asn1.INTEGER):
            raise ValueError("a GPF device log entry is an OCTET STRING and an INTEGER")
        if len(eui.value) != EUI_BYTES:
            raise ValueError("a GPF device log entry's device ID is 8 bytes")
        return cls(eui.value, asn1.int_value(kind))


def gpf_restore_command(entries: tuple[GpfEntry, ...]) -> bytes:
    """GCS59's payload: the failed GPF's device log entries."""
    return asn1.sequence(asn1.sequence(*(e.to_tlv() for e in entries))).encode()


def gpf_restore_entries(payload: bytes) -> tuple[GpfEntry, ...]:
    """The entries a GCS59 payload carries (ValueError or DecodeError when it is not one)."""
    (outer,) = asn1.decode(payload).elements
    if not outer.constructed or len(outer.children) != 1 or not outer.children[0].constructed:
        raise DecodeError("GCS59 is a SEQUENCE holding the SEQUENCE OF the log's entries", 0)
    entries = tuple(GpfEntry.from_tlv(t) for t in outer.children[0].children)
    if len({e.eui for e in entries}) != len(entries):
        raise ValueError("GCS59 names a device twice")
    return entries


def gpf_restore_answer(results: tuple[tuple[GpfEntry, int], ...]) -> bytes:
    """GCS59's answer: each entry with its join response code."""
    return asn1.sequence(
        asn1.sequence(*(asn1.sequence(e.to_tlv(), asn1.integer(code)) for e, code in results))
    ).encode()


def gpf_restore_results(payload: bytes) -> tuple[tuple[GpfEntry, int], ...]:
    """The entries and join response codes a GCS59 answer carries."""
    (outer,) = asn1.decode(payload).elements
    if not outer.constructed or len(outer.children) != 1:
        raise DecodeError("GCS59's answer is a SEQUENCE holding the SEQUENCE OF results", 0)
    results = []
    for item in outer.children[0].children:
        if not item.constructed or len(item.children) != 2:
            raise ValueError("a GCS59 result is a SEQUENCE of an entry and a code")
        results.append((GpfEntry.from_tlv(item.children[0]), asn1.int_value(item.children[1])))
    return tuple(results)
