"""The GSME's register reads of family 4 (4.1.2 GCS13c, 4.1.4 GCS13b), byte for byte as
DCC's RTDS 4.5.0 has them. Declared as :mod:`rig.protocol.gbcs.catalogue` declares the
others, which gathers them into CATALOGUE (this module must not import the catalogue).

====== ===== ================================================= ===============================
SRV    code  use case                                          the command
====== ===== ================================================= ===============================
4.1.2  00B6  GCS13c read the TOU register matrix               Read Attributes (Metering),
                                                               ACB MAC; answer MAC'd, dated,
                                                               values encrypted
4.1.4  00B8  GCS13b read the block counters                    the same
4.18   012A  GCS60a read the meter balance (the GPF's)         Read Attributes (Metering,
                                                               Prepayment), ACB MAC; answer
                                                               MAC'd, dated
4.6.1  0077  GCS16a read the daily read log                   31 Get Snapshots, ACB MAC;
                                                               answers MAC'd, encrypted
4.8.1  0078  GCS17 read the half-hour profile data log         Get Sampled Data, ACB MAC;
                                                               answer MAC'd, encrypted
====== ===== ================================================= ===============================

GCS13c reads the Metering cluster's formatting (divisor, multiplier, unit of measure) and
then CurrentTier1..4SummationDelivered (0x0100, 0x0102, 0x0104, 0x0106, uint48); GCS13b
CurrentNoTierBlock1..4SummationDelivered (0x0700..0x0703, uint48) and then the formatting.
Both answer in one Read Attributes Response (frame control 0x18), encrypted for the
requester, with the GSME's date-time in the grouping header: RTDS's answers carry 59 bytes
of records (7 + 7 + 5 + 4 x 10), which is what these attributes make.

GCS17 asks with the Metering cluster's Get Sampled Data (Sample ID 0, the consumption
profile): the Earliest Sample Time is the ReadLogPeriod's start (ZigBee time), the Sample
Type consumption delivered, and the Number of Samples one per half hour from the start to
the end, both included (RTDS: 30 December 00:00 to 1 January 00:00, 97). The meter answers
with Get Sampled Data Response (frame control 0x19), encrypted for the requester: the
Sample ID, the first sample's start, the type, the interval (1800 s), how many samples
and each one (uint24, the consumption in that half hour in the register's unit); none in
the period: a Default Response NOT_FOUND, in clear.

GCS16a asks for the daily snapshots one by one, as GCS16b does on the Prepayment cluster:
31 Get Snapshots (Metering), each with the ReadLogPeriod's start and end (ZigBee time),
its Snapshot Offset (0 to 30) and the Snapshot Cause General. The meter answers each
snapshot it has with Publish Snapshot (frame control 0x19), encrypted for the requester
(the Additional Header Frame Counter counting the encrypted ones from 0), and each offset
it has none for with a Default Response NOT_FOUND. Its payload is of type 6, Block Tier
Information Set Delivered (No Billing), as RTDS's decrypted answers have it: the
consumption register, the number of tiers in use (4) and the four TOU registers, then the
tiers and block thresholds in use (0x14: one tier, four blocks) and the four block
counters.

The GPF answers GCS13a, GCS13b, GCS13c and GCS14 too (``also_for``), from its mirror of
the GSME (:mod:`nodes.roles.gpf_mirror`): RTDS sends their RELIABLE_GPF and RELIABLE_GSME
variants to the GPF, alike but for the clock status of the answer's date-time. For a GSME
4.18 stays GCS60 (:mod:`rig.protocol.gbcs.catalogue_gas`): DCC's mapping table maps 4.18
to GCS60 and has no row for GCS60a (0x012A), RTDS's later variant whose answer is dated,
which RTDS sends to the GPF: so 4.18 to a GPF is GCS60a, the same two reads as GCS60.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import BILL_TO_DATE, CREDIT_REMAINING, READ_ANSWER
from rig.protocol.gbcs.catalogue_gas_logs import DAILY_SNAPSHOTS, SNAPSHOT_GENERAL
from rig.protocol.gbcs.usecase import Form, UseCase, ZclCommands, ZclRead, ZclReads

GSME, GPF = "GSME", "GPF"
UINT48 = 0x25
# the Metering cluster's formatting, as GCS13a reads it (GCS13c in this order; GCS13b after
# the block counters)
DIVISOR = gbz.ZclAttribute(0x0302, "divisor", 0x22, 3)
MULTIPLIER = gbz.ZclAttribute(0x0301, "multiplier", 0x22, 3)
UNIT_OF_MEASURE = gbz.ZclAttribute(0x0300, "unit_of_measure", 0x30, 1)
FORMATTING = (DIVISOR, MULTIPLIER, UNIT_OF_MEASURE)
TIERS = 4  # the TOU registers a GSME keeps (GBCS: the Tariff TOU Register Matrix)
BLOCKS = 4  # its block counters (the Tariff Block Counter Matrix)
TOU_REGISTERS = tuple(  # CurrentTier<n>SummationDelivered: 0x0100, 0x0102, 0x0104, 0x0106
    gbz.ZclAttribute(0x0100 + 2 * (n - 1), f"tier_{n}_summation_delivered", UINT48, 6)
    for n in range(1, TIERS + 1)
)
BLOCK_COUNTERS = tuple(  # CurrentNoTierBlock<n>SummationDelivered: 0x0700..0x0703
    gbz.ZclAttribute(0x0700 + n - 1, f"block_{n}_summation_delivered", UINT48, 6)
    for n in range(1, BLOCKS + 1)
)

GCS13C = UseCase(
    "GCS13c",
    0x00B6,
    GSME,
    Form.GBZ,
    ZclRead(gbz.METERING, (*FORMATTING, *TOU_REGISTERS)),
    srvs=("4.1.2",),
    encrypted=True,
    dated=True,
    also_for=(GPF,),
)
GCS13B = UseCase(
    "GCS13b",
    0x00B8,
    GSME,
    Form.GBZ,
    ZclRead(gbz.METERING, (*BLOCK_COUNTERS, *FORMATTING)),
    srvs=("4.1.4",),
    encrypted=True,
    dated=True,
    also_for=(GPF,),
)
GCS60A = UseCase(
    "GCS60a",
    0x012A,
    GPF,
    Form.GBZ,
    ZclReads(
        (
            ZclRead(gbz.METERING, (BILL_TO_DATE,), READ_ANSWER),
            ZclRead(gbz.PREPAYMENT, (CREDIT_REMAINING,), READ_ANSWER),
        )
    ),
    srvs=("4.18",),
    dated=True,
)

GET_SAMPLED_DATA = 0x08  # Metering, client to server
GET_SAMPLED_DATA_RESPONSE = 0x07  # Metering, server to client
CONSUMPTION_PROFILE = 0x0000  # the Sample ID of the half-hour consumption profile
CONSUMPTION_DELIVERED = 0x00  # Sample Type
HALF_HOUR = 1800  # seconds: the profile's interval
MAX_SAMPLES = 0xFFFF  # Number of Samples is a uint16

GCS17 = UseCase(
    "GCS17",
    0x0078,
    GSME,
    Form.GBZ,
    ZclCommands(gbz.METERING, GET_SAMPLED_DATA, 1),
    srvs=("4.8.1",),
    encrypted=True,
)

GET_SNAPSHOT = 0x06  # Metering, client to server
PUBLISH_SNAPSHOT = 0x06  # Metering, server to client
BLOCK_TIER_DELIVERED = 0x06  # Snapshot Payload Type: Block Tier Information Set Delivered

GCS16A = UseCase(
    "GCS16a",
    0x0077,
    GSME,
    Form.GBZ,
    ZclCommands(gbz.METERING, GET_SNAPSHOT, DAILY_SNAPSHOTS),
    srvs=("4.6.1",),
    encrypted=True,
)

USE_CASES: tuple[UseCase, ...] = (GCS13C, GCS13B, GCS17, GCS16A, GCS60A)

_ASK = struct.Struct("<HIBH")
_ANSWER = struct.Struct("<HIBHH")


@dataclass(frozen=True, slots=True)
class SampledDataRequest:
    """Get Sampled Data: which samples (ID, type), from when (ZigBee time), how many."""

    earliest: int
    count: int
    sample_id: int = CONSUMPTION_PROFILE
    sample_type: int = CONSUMPTION_DELIVERED

    def encode(self) -> bytes:
        return _ASK.pack(self.sample_id, self.earliest, self.sample_type, self.count)

    @classmethod
    def decode(cls, payload: bytes) -> SampledDataRequest:
        if len(payload) != _ASK.size:
            raise DecodeError(f"Get Sampled Data takes {_ASK.size} bytes, found {len(payload)}", 0)
        sample_id, earliest, sample_type, count = _ASK.unpack(payload)
        return cls(earliest, count, sample_id, sample_type)


def profile_request(start: int, end: int) -> SampledDataRequest:
    """GCS17's Get Sampled Data for the period ``start`` to ``end`` (ZigBee times): one
    sample per half hour, both ends included. ValueError for a period that ends before it
    starts or holds more samples than a command asks for."""
    count = (end - start) // HALF_HOUR + 1
    if not 0 < count <= MAX_SAMPLES:
        raise ValueError(
            f"the period holds {count} half hours: give an end after the start, at most "
            f"{MAX_SAMPLES - 1} half hours later"
        )
    return SampledDataRequest(start, count)


@dataclass(frozen=True, slots=True)
class SampledData:
    """Get Sampled Data Response: the first sample's start (ZigBee time) and the samples
    (uint24 each), one per ``interval`` seconds."""

    start: int
    samples: tuple[int, ...]
    interval: int = HALF_HOUR
    sample_id: int = CONSUMPTION_PROFILE
    sample_type: int = CONSUMPTION_DELIVERED

    def encode(self) -> bytes:
        head = _ANSWER.pack(
            self.sample_id, self.start, self.sample_type, self.interval, len(self.samples)
        )
        return head + b"".join(min(s, 0xFFFFFF).to_bytes(3, "little") for s in self.samples)

    @classmethod
    def decode(cls, payload: bytes) -> SampledData:
        if len(payload) < _ANSWER.size:
            raise DecodeError("Get Sampled Data Response is shorter than its header", 0)
        sample_id, start, sample_type, interval, count = _ANSWER.unpack_from(payload)
        body = payload[_ANSWER.size :]
        if len(body) != 3 * count:
            raise DecodeError(f"{count} samples take {3 * count} bytes, found {len(body)}", 11)
        samples = tuple(int.from_bytes(body[n : n + 3], "little") for n in range(0, len(body), 3))
        return cls(start, samples, interval, sample_id, sample_type)


# --- GCS16a: the daily read log ---------------------------------------------------------
_SNAPSHOT = struct.Struct("<IIBBBIB")  # Publish Snapshot's header (as the Prepayment one's)


def _uint48s(values: tuple[int, ...]) -> bytes:
    return b"".join(v.to_bytes(6, "little") for v in values)


@dataclass(frozen=True, slots=True)
class RegisterSnapshot:
    """Publish Snapshot (one command of one) of the Metering cluster: the snapshot's ID and
    time (ZigBee time), how many snapshots the request's criteria found, its cause, and its
    Block Tier Information Set Delivered: the consumption register, the TOU registers and
    the block counters."""

    snapshot_id: int
    taken: int
    found: int
    register: int
    tiers: tuple[int, ...]
    blocks: tuple[int, ...]
    cause: int = SNAPSHOT_GENERAL

    def encode(self) -> bytes:
        head = _SNAPSHOT.pack(
            self.snapshot_id, self.taken, min(self.found, 255), 0, 1, self.cause,
            BLOCK_TIER_DELIVERED,
        )  # fmt: skip
        tiers_and_blocks = (1 << 4) | len(self.blocks)  # one tier (no TOU), the blocks: 0x14
        return (
            head
            + _uint48s((self.register,))
            + bytes([len(self.tiers)])
            + _uint48s(self.tiers)
            + bytes([tiers_and_blocks])
            + _uint48s(self.blocks)
        )

    @classmethod
    def decode(cls, payload: bytes) -> RegisterSnapshot:
        if len(payload) < _SNAPSHOT.size + 8:
            raise DecodeError("Publish Snapshot is shorter than its header and register", 0)
        ident, taken, found, _index, _total, cause, kind = _SNAPSHOT.unpack_from(payload)
        if kind != BLOCK_TIER_DELIVERED:
            raise DecodeError(f"snapshot payload type {kind} is not Block Tier Delivered", 15)
        at = _SNAPSHOT.size

        def uint48s(count: int) -> tuple[int, ...]:
            nonlocal at
            end = at + 6 * count
            if end > len(payload):
                raise DecodeError("Publish Snapshot ends inside its registers", at)
            values = tuple(int.from_bytes(payload[n : n + 6], "little") for n in range(at, end, 6))
            at = end
            return values

        (register,) = uint48s(1)
        if at >= len(payload):
            raise DecodeError("Publish Snapshot ends before its TOU registers", at)
        at += 1
        tiers = uint48s(payload[at - 1])
        if at >= len(payload):
            raise DecodeError("Publish Snapshot ends before its block counters", at)
        counters = payload[at]
        at += 1
        blocks = uint48s((counters >> 4) * (counters & 0x0F))
        if at != len(payload):
            raise DecodeError(f"{len(payload) - at} bytes after the block counters", at)
        return cls(ident, taken, found, register, tiers, blocks, cause)
