"""The GSME's prepayment logs (4.4.5 GCS15e, 4.14 GCS16b), byte for byte as DCC's RTDS
4.5.0 has them. Declared as :mod:`rig.protocol.gbcs.catalogue`
declares the others, which gathers them into CATALOGUE (this module must not import the
catalogue).

====== ===== ================================================= ===============================
SRV    code  use case                                          the command
====== ===== ================================================= ===============================
4.4.5  00C5  GCS15e billing data log (prepayment credits)      Prepayment cluster's Get Top Up
                                                               Log, ACB MAC; answer MAC'd
4.14   0096  GCS16b prepayment daily read log                  31 Get Prepay Snapshots, ACB
                                                               MAC; answers encrypted, MAC'd
====== ===== ================================================= ===============================

GCS15e's one component carries the ReadLogPeriod's start as its From Date-Time (ZigBee
time) and Get Top Up Log's Latest End Time (the period's end, capped at 0xFFFFFFFE as RTDS
has it for 3000-12-31) and Number of Records (5); the meter answers with Publish Top Up
Log: command index, total commands, then per top-up the UTRN (a ZCL octet string), the
amount (int32, millipence) and the time it was applied (UTCTime).

GCS16b asks for the daily snapshots one by one: 31 Get Prepay Snapshot commands, each with
the ReadLogPeriod's start and end (ZigBee time), its Snapshot Offset (0 the newest snapshot
in the period, up to 30) and the Snapshot Cause General. The meter answers each snapshot it
has with Publish Prepay Snapshot, encrypted for the requester (the components' Additional
Header Frame Counter counting the encrypted ones from 0), and each offset it has none for
with a Default Response NOT_FOUND. Its payload is the Debt/Credit Status: the accumulated
debt, the three debt registers' remaining amounts, the emergency credit remaining and the
credit remaining (millipence).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.usecase import Form, UseCase, ZclCommands, ZclLogRead

GSME = "GSME"
GET_TOP_UP_LOG = 0x08  # Prepayment, client to server
PUBLISH_TOP_UP_LOG = 0x05  # Prepayment, server to client
GET_PREPAY_SNAPSHOT = 0x07  # Prepayment, client to server
PUBLISH_PREPAY_SNAPSHOT = 0x01  # Prepayment, server to client
DAILY_SNAPSHOTS = 31  # the Get Prepay Snapshots GCS16b sends: offsets 0..30
SNAPSHOT_GENERAL = 0x00000001  # Snapshot Cause: General (the daily snapshot)
DEBT_CREDIT_STATUS = 0x00  # Snapshot Payload Type
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

GCS16B = UseCase(
    "GCS16b",
    0x0096,
    GSME,
    Form.GBZ,
    ZclCommands(gbz.PREPAYMENT, GET_PREPAY_SNAPSHOT, DAILY_SNAPSHOTS),
    srvs=("4.14",),
    encrypted=True,
    unknown_remote_party=True,  # a supplier that is not the KRP, with its KA certificate
    also_for=("GPF",),  # RTDS's URP variant goes to the GPF: its copy of the snapshots
)

USE_CASES: tuple[UseCase, ...] = (GCS15E, GCS16B)


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


# --- GCS16b: the daily snapshots ------------------------------------------------------------
def get_prepay_snapshots(start: int, end: int) -> tuple[bytes, ...]:
    """GCS16b's argument: the 31 Get Prepay Snapshot payloads for the period ``start`` to
    ``end`` (ZigBee times), offsets 0 to 30, cause General."""
    return tuple(
        struct.pack("<IIBI", start, end, offset, SNAPSHOT_GENERAL)
        for offset in range(DAILY_SNAPSHOTS)
    )


@dataclass(frozen=True, slots=True)
class SnapshotRequest:
    """One Get Prepay Snapshot: the period (ZigBee times), the offset and the cause."""

    start: int
    end: int
    offset: int
    cause: int

    @classmethod
    def decode(cls, payload: bytes) -> SnapshotRequest:
        if len(payload) != 13:
            raise DecodeError(f"Get Prepay Snapshot takes 13 bytes, found {len(payload)}", 0)
        return cls(*struct.unpack("<IIBI", payload))


_STATUS = struct.Struct("<iIIIii")
_SNAPSHOT = struct.Struct("<IIBBBIB")


@dataclass(frozen=True, slots=True)
class DebtCreditStatus:
    """A prepayment snapshot's Debt/Credit Status payload, in millipence."""

    accumulated_debt: int
    type1_debt: int  # time debt 1
    type2_debt: int  # time debt 2
    type3_debt: int  # the payment debt
    emergency_credit: int
    credit: int


@dataclass(frozen=True, slots=True)
class PrepaySnapshot:
    """Publish Prepay Snapshot (one command of one): the snapshot's ID and time (ZigBee
    time), how many snapshots the request's criteria found, its cause, and its Debt/Credit
    Status."""

    snapshot_id: int
    taken: int
    found: int
    status: DebtCreditStatus
    cause: int = SNAPSHOT_GENERAL

    def encode(self) -> bytes:
        s = self.status
        head = _SNAPSHOT.pack(
            self.snapshot_id, self.taken, min(self.found, 255), 0, 1, self.cause, DEBT_CREDIT_STATUS
        )
        return head + _STATUS.pack(
            s.accumulated_debt, s.type1_debt, s.type2_debt, s.type3_debt, s.emergency_credit,
            s.credit,
        )  # fmt: skip

    @classmethod
    def decode(cls, payload: bytes) -> PrepaySnapshot:
        if len(payload) != _SNAPSHOT.size + _STATUS.size:
            raise DecodeError(
                f"a Debt/Credit Status Publish Prepay Snapshot is 40 bytes, not {len(payload)}",
                0,
            )
        ident, taken, found, _index, _total, cause, kind = _SNAPSHOT.unpack_from(payload)
        if kind != DEBT_CREDIT_STATUS:
            raise DecodeError(f"snapshot payload type {kind} is not Debt/Credit Status", 15)
        status = DebtCreditStatus(*_STATUS.unpack_from(payload, _SNAPSHOT.size))
        return cls(ident, taken, found, status, cause)
