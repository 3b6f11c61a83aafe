"""The GSME's billing data logs and network data log (4.4.2 GCS15b, 4.4.3 GCS15c, 4.4.4
GCS15d, 4.10 GCS18), byte for byte as DCC's RTDS 4.5.0 has them. Declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE
(this module must not import the catalogue).

====== ===== ================================================= ===============================
SRV    code  use case                                          the command
====== ===== ================================================= ===============================
4.4.2  00C3  GCS15b billing data log (change of mode / tariff) 12 Get Prepay Snapshots, then
                                                               12 Get Snapshots (Metering)
4.4.3  0076  GCS15c billing data log (billing calendar)        12 Get Snapshots, then 12 Get
                                                               Prepay Snapshots
4.4.4  00C4  GCS15d billing data log (payment-based debt)      Get Debt Repayment Log
4.10   0079  GCS18 read the gas network data log               Get Sampled Data (Metering)
4.17   00A0  GCS61 read the daily consumption log (the GPF's)  Get Sampled Data (Metering)
====== ===== ================================================= ===============================

GCS15b and GCS15c ask for the Billing Data Log's snapshots one by one, each with the
ReadLogPeriod's start and end (ZigBee time), its Snapshot Offset (0 to 11) and the
Snapshot Cause: GCS15b Change of Tariff Information, Change of Supplier and Change of Meter
Mode (0x6008, ZSE's bits 3, 13, 14), GCS15c End of Billing Period (0x0002). The meter
answers each snapshot it has (Publish Prepay Snapshot: the Debt/Credit Status of
:mod:`rig.protocol.gbcs.catalogue_gas_logs`; Publish Snapshot: the Block Tier Information
Set Delivered of :mod:`rig.protocol.gbcs.catalogue_gas_reads`) encrypted for the
requester, the cause the snapshot's own, and each offset it has none for with a Default
Response NOT_FOUND.

GCS15d's one component carries the period's start as its From Date-Time and Get Debt
Repayment Log's Latest End Time (the period's end), Number of Debts (10) and Debt Type
(2: the payment-based debt); the meter answers with Publish Debt Log, encrypted: command
index, total commands, then per collection its time, the amount collected, the debt type
and the debt outstanding after it (millipence).

GCS18 asks for the network data log GCS31 started with Get Sampled Data: Sample ID 2 (the
network data log; RTDS's GCS31 answers it), Earliest Sample Time 1 (the log's first
sample), consumption delivered, one sample per 6 minutes of the period, both ends included
(RTDS: 4 hours, 41, the log's most). The meter answers with Get Sampled Data Response
(frame control 0x09), encrypted; none: a Default Response NOT_FOUND, in clear.

GCS61 goes to the GPF, which answers from its copy of the GSME's daily consumption log
(:mod:`nodes.roles.gpf_mirror`): Get Sampled Data of Sample ID 1 (the daily consumption
log) from the period's start, consumption delivered, one sample per day of the period, both
ends included (RTDS's NOT_FOUND command: 11 for 22 December to 1 January; its SUCCESS one
asks 731, the log's most, for a period DCC's template does not give); the answer is Get
Sampled Data Response (frame control 0x19), encrypted, a sample per day (dm3). A supplier
that is not the GPF's known remote party asks with its KA certificate (RTDS's SUCCESS).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_config import MAX_SAMPLES, SAMPLE_INTERVAL_S
from rig.protocol.gbcs.catalogue_gas_logs import GET_PREPAY_SNAPSHOT
from rig.protocol.gbcs.catalogue_gas_reads import GET_SAMPLED_DATA, GET_SNAPSHOT
from rig.protocol.gbcs.usecase import (
    Form,
    UseCase,
    ZclBatch,
    ZclCommands,
    ZclLogRead,
    ZclPart,
)

GSME = "GSME"
BILLING_SNAPSHOTS = 12  # the offsets GCS15b/c ask per cluster: 0..11 (the log's entries)
# ZSE's Snapshot Cause bits the billing data log's snapshots carry
CHANGE_OF_TARIFF = 0x0000_0008  # Change of Tariff Information
CHANGE_OF_SUPPLIER = 0x0000_2000
CHANGE_OF_MODE = 0x0000_4000  # Change of Meter Mode (credit / prepayment)
END_OF_BILLING_PERIOD = 0x0000_0002
TARIFF_OR_MODE = CHANGE_OF_TARIFF | CHANGE_OF_SUPPLIER | CHANGE_OF_MODE  # GCS15b's: 0x6008
GET_DEBT_REPAYMENT_LOG = 0x0A  # Prepayment, client to server
PUBLISH_DEBT_LOG = 0x06  # Prepayment, server to client
DEBTS = 10  # the Number of Debts GCS15d asks for (RTDS's)
PAYMENT_DEBT = 0x02  # Debt Type: debt 3, the payment-based one
NETWORK_DATA_LOG = 0x0002  # the Sample ID GCS18 reads
DAILY_CONSUMPTION_LOG = 0x0001  # the Sample ID GCS61 reads
DAY_S = 86_400
# Get Sampled Data Response's interval is a uint16 of seconds and cannot hold GCS61's day:
# the rig sends its largest (RTDS's GCS61 answer is encrypted for a key RTDS does not
# publish, so what it carries is not known); the samples are a day apart all the same
DAILY_INTERVAL = 0xFFFF
FIRST_SAMPLE = 1  # GCS18's Earliest Sample Time: from the log's first sample

GCS15B = UseCase(
    "GCS15b",
    0x00C3,
    GSME,
    Form.GBZ,
    ZclBatch(
        (
            ZclPart(gbz.PREPAYMENT, GET_PREPAY_SNAPSHOT, repeated=True),
            ZclPart(gbz.METERING, GET_SNAPSHOT, repeated=True),
        )
    ),
    srvs=("4.4.2",),
    encrypted=True,
)
GCS15C = UseCase(
    "GCS15c",
    0x0076,
    GSME,
    Form.GBZ,
    ZclBatch(
        (
            ZclPart(gbz.METERING, GET_SNAPSHOT, repeated=True),
            ZclPart(gbz.PREPAYMENT, GET_PREPAY_SNAPSHOT, repeated=True),
        )
    ),
    srvs=("4.4.3",),
    encrypted=True,
)
GCS15D = UseCase(
    "GCS15d",
    0x00C4,
    GSME,
    Form.GBZ,
    ZclLogRead(gbz.PREPAYMENT, GET_DEBT_REPAYMENT_LOG),
    srvs=("4.4.4",),
    encrypted=True,
)
GCS18 = UseCase(
    "GCS18",
    0x0079,
    GSME,
    Form.GBZ,
    ZclCommands(gbz.METERING, GET_SAMPLED_DATA, 1),
    srvs=("4.10",),
    encrypted=True,
)

GCS61 = UseCase(
    "GCS61",
    0x00A0,
    "GPF",
    Form.GBZ,
    ZclCommands(gbz.METERING, GET_SAMPLED_DATA, 1),
    srvs=("4.17",),
    encrypted=True,
    unknown_remote_party=True,  # a supplier that is not the KRP, with its KA certificate
)

USE_CASES: tuple[UseCase, ...] = (GCS15B, GCS15C, GCS15D, GCS18, GCS61)


def billing_snapshots(uc: UseCase, start: int, end: int) -> tuple[bytes, ...]:
    """GCS15b's or GCS15c's argument for the period ``start`` to ``end`` (ZigBee times): per
    part of the use case, 12 snapshot requests (offsets 0 to 11) with its cause."""
    cause = TARIFF_OR_MODE if uc is GCS15B else END_OF_BILLING_PERIOD
    return tuple(
        bytes([part]) + struct.pack("<IIBI", start, end, offset, cause)
        for part in range(2)  # GCS15b: Prepayment then Metering; GCS15c: the other way
        for offset in range(BILLING_SNAPSHOTS)
    )


def get_debt_repayment_log(start: int, end: int) -> bytes:
    """GCS15d's argument: the From Date-Time ``start`` (ZigBee time, big-endian), then Get
    Debt Repayment Log's Latest End Time ``end``, Number of Debts and Debt Type."""
    return struct.pack(">I", start) + struct.pack("<IBB", end, DEBTS, PAYMENT_DEBT)


def parse_get_debt_repayment_log(argument: bytes) -> tuple[int, int, int, int]:
    """(start, latest end, number of debts, debt type) of GCS15d's argument."""
    if len(argument) != 10:
        raise DecodeError(f"Get Debt Repayment Log takes 10 bytes, found {len(argument)}", 0)
    (start,) = struct.unpack(">I", argument[:4])
    return (start, *struct.unpack("<IBB", argument[4:]))


@dataclass(frozen=True, slots=True)
class DebtCollection:
    """One entry of Publish Debt Log: when a debt was collected, how much, the debt's type
    and what remained outstanding (millipence)."""

    collected_at: int  # ZigBee time
    amount: int
    debt_type: int
    outstanding: int

    def encode(self) -> bytes:
        return struct.pack(
            "<IIBI", self.collected_at, self.amount, self.debt_type, self.outstanding
        )


def publish_debt_log(entries: list[DebtCollection], index: int = 0, total: int = 1) -> bytes:
    """Publish Debt Log's payload: command index, total commands, then the collections."""
    return bytes([index, total]) + b"".join(e.encode() for e in entries)


def parse_publish_debt_log(payload: bytes) -> list[DebtCollection]:
    """The collections of a Publish Debt Log payload."""
    if len(payload) < 2 or (len(payload) - 2) % 13:
        raise DecodeError(f"Publish Debt Log is 2 bytes and 13 per debt, not {len(payload)}", 0)
    return [
        DebtCollection(*struct.unpack_from("<IIBI", payload, at))
        for at in range(2, len(payload), 13)
    ]


def network_log_request(start: int, end: int) -> bytes:
    """GCS18's Get Sampled Data for the period ``start`` to ``end`` (ZigBee times): the
    network data log from its first sample, one per 6 minutes of the period (both ends
    included), at most the log's 41. ValueError for a period ending before it starts."""
    count = (end - start) // SAMPLE_INTERVAL_S + 1
    if count <= 0:
        raise ValueError("the period ends before it starts: give an end after the start")
    return struct.pack("<HIBH", NETWORK_DATA_LOG, FIRST_SAMPLE, 0, min(count, MAX_SAMPLES))


def daily_consumption_request(start: int, end: int) -> bytes:
    """GCS61's Get Sampled Data for the period ``start`` to ``end`` (ZigBee times): the
    daily consumption log from the start, one sample per day, both ends included."""
    count = (end - start) // DAY_S + 1
    if count <= 0:
        raise ValueError("the period ends before it starts: give an end after the start")
    return struct.pack("<HIBH", DAILY_CONSUMPTION_LOG, start, 0, min(count, 0xFFFF))
