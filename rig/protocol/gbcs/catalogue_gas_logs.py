"""The GSME's prepayment logs (4.4.5 GCS15e; 4.14 GCS16b is not built yet, issue 15),
byte for byte as DCC's RTDS 4.5.0 has them. Declared as :mod:`rig.protocol.gbcs.catalogue`
declares the others, which gathers them into CATALOGUE (this module must not import the
catalogue).

====== ===== ================================================= ===============================
SRV    code  use case                                          the command
====== ===== ================================================= ===============================
4.4.5  00C5  GCS15e billing data log (prepayment credits)      Prepayment cluster's Get Top Up
                                                               Log, ACB MAC; answer MAC'd
====== ===== ================================================= ===============================

GCS15e's one component carries the ReadLogPeriod's start as its From Date-Time (ZigBee
time) and Get Top Up Log's Latest End Time (the period's end, capped at 0xFFFFFFFE as RTDS
has it for 3000-12-31) and Number of Records (5); the meter answers with Publish Top Up
Log: command index, total commands, then per top-up the UTRN (a ZCL octet string), the
amount (int32, millipence) and the time it was applied (UTCTime).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.usecase import Form, UseCase, ZclLogRead

GSME = "GSME"
GET_TOP_UP_LOG = 0x08  # Prepayment, client to server
PUBLISH_TOP_UP_LOG = 0x05  # Prepayment, server to client
TOP_UP_RECORDS = 5  # the Number of Records GCS15e asks for (RTDS's)
LATEST = 0xFFFFFFFE  # the latest UTCTime a ZCL command carries (0xFFFFFFFF is invalid)

GCS15E = UseCase(
    "GCS15e",
    0x00C5,
    GSME,
    Form.GBZ,
    ZclLogRead(gbz.PREPAYMENT, GET_TOP_UP_LOG),
    srvs=("4.4.5",),
)

USE_CASES: tuple[UseCase, ...] = (GCS15E,)


def get_top_up_log(start: int, end: int, records: int = TOP_UP_RECORDS) -> bytes:
    """GCS15e's argument: the From Date-Time ``start`` (ZigBee time), then Get Top Up Log's
    Latest End Time ``end`` (capped at :data:`LATEST`) and Number of Records."""
    return struct.pack(">I", start) + struct.pack("<IB", min(end, LATEST), records)


def parse_get_top_up_log(argument: bytes) -> tuple[int, int, int]:
    """(start, latest end, number of records) of GCS15e's argument."""
    if len(argument) != 9:
        raise DecodeError(f"Get Top Up Log takes 9 bytes, found {len(argument)}", 0)
    (start,) = struct.unpack(">I", argument[:4])
    end, records = struct.unpack("<IB", argument[4:])
    return start, end, records


@dataclass(frozen=True, slots=True)
class TopUpRecord:
    """One entry of Publish Top Up Log: the UTRN, its amount and when it was applied."""

    utrn: bytes  # the 20 ASCII digits
    amount: int  # millipence (int32)
    applied: int  # ZigBee time (UTC seconds since 2000)

    def encode(self) -> bytes:
        return bytes([len(self.utrn)]) + self.utrn + struct.pack("<iI", self.amount, self.applied)


def publish_top_up_log(records: list[TopUpRecord], index: int = 0, total: int = 1) -> bytes:
    """Publish Top Up Log's payload: command index, total commands, then the records."""
    return bytes([index, total]) + b"".join(r.encode() for r in records)


def parse_publish_top_up_log(payload: bytes) -> list[TopUpRecord]:
    """The records of a Publish Top Up Log payload."""
    if len(payload) < 2:
        raise DecodeError("Publish Top Up Log is shorter than its two command counts", 0)
    records, at = [], 2
    while at < len(payload):
        size = payload[at]
        end = at + 1 + size + 8
        if end > len(payload):
            raise DecodeError("Publish Top Up Log ends inside a record", at)
        amount, applied = struct.unpack("<iI", payload[end - 8 : end])
        records.append(TopUpRecord(payload[at + 1 : at + 1 + size], amount, applied))
        at = end
    return records
