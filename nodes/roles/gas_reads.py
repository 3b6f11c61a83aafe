"""The GSME's registers and logs that family 4 reads, on its ZCL server (Metering cluster),
all in the consumption register's unit (dm3, with the divisor and multiplier GCS13a reads):

- the TOU register matrix (CurrentTier1..4SummationDelivered, GCS13c, 4.1.2) and the block
  counters (CurrentNoTierBlock1..4SummationDelivered, GCS13b, 4.1.4): each accumulates
  what the consumption register advanced while its tier (or block) was the current one.
  The rig's GSME runs no gas tariff of its own (GCS01a, 1.1.1, is not served), so its
  current tier and block are always 1: tier 1 and block 1 hold all its consumption since
  installation (they start at the register's first reading), the others stay 0;
- the half-hour profile data log (GCS17, 4.8.1, Get Sampled Data): the consumption of each
  completed half hour since the meter first counted, for :data:`PROFILE_SLOTS` half hours
  (13 months). What the register advanced between two readings is shared among the half
  hours between them in proportion to time (the flow taken as steady in between); the
  meter reads its register at each wake and each command, so a half hour's value is
  exact to within one wake's share;
- the daily read log (GCS16a, 4.6.1, Get Snapshot): the consumption register, TOU
  registers and block counters as they stood at each midnight UTC (the register at
  midnight taken in proportion to time between the readings either side), the last
  :data:`~nodes.roles.prepay_logs.DAILY_LOG` days, newest first by Snapshot Offset as the
  Prepayment cluster's daily snapshots (GCS16b) are.

Every reading of the consumption register (``meter.register``) feeds them; what they hold
is kept in the meter's state folder (``gas_reads.json``) and survives a restart.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs.zcl_server import ZclServer
from nodes.roles.prepay_logs import DAILY_LOG
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_logs import SNAPSHOT_GENERAL, SnapshotRequest
from rig.protocol.gbcs.catalogue_gas_reads import (
    BLOCK_COUNTERS,
    BLOCKS,
    CONSUMPTION_DELIVERED,
    CONSUMPTION_PROFILE,
    GET_SAMPLED_DATA,
    GET_SAMPLED_DATA_RESPONSE,
    GET_SNAPSHOT,
    HALF_HOUR,
    PUBLISH_SNAPSHOT,
    TIERS,
    TOU_REGISTERS,
    RegisterSnapshot,
    SampledData,
    SampledDataRequest,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")

DAY_S = 86_400
PROFILE_SLOTS = 13 * 31 * 48  # half hours the profile data log keeps: 13 months
QUIET = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC | gbz.ZCL_DISABLE_DEFAULT_RESPONSE


def slot_of(at: float) -> int:
    """The start (UTC seconds) of the half hour ``at`` falls in."""
    return int(at // HALF_HOUR) * HALF_HOUR


@dataclass
class GasReads:
    """The TOU registers, block counters and half-hour profile of a GSME (dm3), fed with
    each reading of its consumption register, kept at ``path``."""

    path: Path
    meter: Eui64
    tiers: list[int] = field(default_factory=lambda: [0] * TIERS)
    blocks: list[int] = field(default_factory=lambda: [0] * BLOCKS)
    tier: int = 1  # the current tier and block (1: the GSME's single-rate tariff)
    block: int = 1
    seen: int | None = None  # the consumption register at the last reading
    seen_at: float | None = None  # and when (UTC seconds)
    since: float | None = None  # the first reading: the profile starts in its half hour
    profile: dict[int, float] = field(default_factory=dict)  # half hour's start -> dm3
    # the daily read log, oldest first: (midnight, UTC seconds; register; tiers; blocks)
    daily: list[tuple[int, int, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, meter: Eui64) -> GasReads:
        saved = read_json(path, {}) or {}
        reads = cls(path, meter)
        reads.tiers = [int(v) for v in saved.get("tiers", reads.tiers)][:TIERS]
        reads.blocks = [int(v) for v in saved.get("blocks", reads.blocks)][:BLOCKS]
        reads.seen, reads.seen_at = saved.get("seen"), saved.get("seen_at")
        reads.since = saved.get("since")
        reads.profile = {int(k): float(v) for k, v in saved.get("profile", {}).items()}
        reads.daily = [
            (int(at), int(register), tuple(tiers), tuple(blocks))
            for at, register, tiers, blocks in saved.get("daily", [])
        ][-DAILY_LOG:]
        return reads

    def save(self) -> None:
        write_json(
            self.path,
            {
                "tiers": self.tiers,
                "blocks": self.blocks,
                "seen": self.seen,
                "seen_at": self.seen_at,
                "since": self.since,
                "profile": {str(k): round(v, 3) for k, v in sorted(self.profile.items())},
                "daily": [[at, r, list(t), list(b)] for at, r, t, b in self.daily],
            },
        )

    def observe(self, register: int, at: float | None = None) -> None:
        """A reading of the consumption register (dm3) at ``at`` (UTC seconds, now by
        default): what it advanced since the last one, into the current tier and block and
        the half hours in between; the first reading: all of it into the tier and block
        (one rate since installation), and the profile starts."""
        at = time.time() if at is None else at
        if self.seen is None or self.seen_at is None:
            self.tiers[self.tier - 1] += register
            self.blocks[self.block - 1] += register
            self.seen, self.seen_at, self.since = register, at, at
            self.save()
            return
        moved = register - self.seen
        if moved <= 0 and slot_of(at) == slot_of(self.seen_at):
            return  # nothing to keep (a register never goes back)
        moved = max(0, moved)
        start, end = self.seen_at, max(at, self.seen_at)
        self._share(moved, start, end)
        counted, midnight = 0, (int(start) // DAY_S + 1) * DAY_S
        while midnight <= end:  # the day's snapshot, as the registers stood at midnight
            part = round(moved * (midnight - start) / (end - start)) - counted
            self._count(part)
            counted += part
            snapshot = (midnight, self.seen + counted, tuple(self.tiers), tuple(self.blocks))
            self.daily = [*self.daily, snapshot][-DAILY_LOG:]
            log.info("gas_reads.daily_read", extra={"device": self.meter.duis, "at": midnight})
            midnight += DAY_S
        self._count(moved - counted)
        self.seen, self.seen_at = register, at
        self.save()

    def _count(self, moved: int) -> None:
        self.tiers[self.tier - 1] += moved
        self.blocks[self.block - 1] += moved

    def _share(self, moved: int, start: float, end: float) -> None:
        """``moved`` over the half hours from ``start`` to ``end``, in proportion to time."""
        slot = slot_of(start)
        if moved and end <= start:  # read twice in the same instant
            self.profile[slot] = self.profile.get(slot, 0.0) + moved
        while moved and start < end and slot < end:
            upto, since = min(end, slot + HALF_HOUR), max(start, slot)
            share = moved * (upto - since) / (end - start)
            self.profile[slot] = self.profile.get(slot, 0.0) + share
            slot += HALF_HOUR
        oldest = slot_of(end) - PROFILE_SLOTS * HALF_HOUR
        for old in [s for s in self.profile if s < oldest]:
            del self.profile[old]

    def samples(self, earliest: float, count: int, now: float) -> tuple[int, tuple[int, ...]]:
        """The profile's half hours from the first one starting at or after ``earliest``
        (UTC seconds), at most ``count``, those completed before ``now`` and since the
        meter first counted: (the first one's start, the dm3 of each)."""
        if self.since is None:
            return 0, ()
        first = max(math.ceil(earliest / HALF_HOUR) * HALF_HOUR, slot_of(self.since))
        first = max(first, slot_of(now) - PROFILE_SLOTS * HALF_HOUR)
        last = min(first + (count - 1) * HALF_HOUR, slot_of(now) - HALF_HOUR)
        slots = range(first, last + 1, HALF_HOUR)
        return first, tuple(round(self.profile.get(s, 0.0)) for s in slots)

    # --- the ZCL server -----------------------------------------------------------------
    def serve(self, zcl: ZclServer, register: Callable[[], int]) -> None:
        for n, attribute in enumerate(TOU_REGISTERS):
            zcl.attribute(gbz.METERING, attribute, partial(self._register, register, self.tiers, n))
        for n, attribute in enumerate(BLOCK_COUNTERS):
            zcl.attribute(
                gbz.METERING, attribute, partial(self._register, register, self.blocks, n)
            )
        zcl.command(gbz.METERING, GET_SAMPLED_DATA, partial(self.get_sampled_data, register))
        zcl.command(gbz.METERING, GET_SNAPSHOT, partial(self.get_snapshot, register))

    @staticmethod
    def _register(register: Callable[[], int], registers: list[int], n: int) -> int:
        register()  # advanced to now (which feeds them)
        return registers[n]

    def get_sampled_data(
        self, register: Callable[[], int], payload: bytes, _cmd: GbcsMessage
    ) -> gbz.Reply:
        """GCS17: the half-hour consumption profile from the Earliest Sample Time."""
        extra = {"device": self.meter.duis}
        try:
            asked = SampledDataRequest.decode(payload)
        except DecodeError as exc:
            log.warning("gas_reads.profile_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(GET_SAMPLED_DATA, gbz.ZCL_MALFORMED_COMMAND)
        if (asked.sample_id, asked.sample_type) != (CONSUMPTION_PROFILE, CONSUMPTION_DELIVERED):
            return gbz.default_response(GET_SAMPLED_DATA, gbz.ZCL_NOT_FOUND)
        register()  # the half hour just completed, counted
        now = time.time()
        first, samples = self.samples(asked.earliest + gbz.ZIGBEE_EPOCH, asked.count, now)
        if not samples:
            log.info("gas_reads.profile_empty", extra=extra)
            return gbz.default_response(GET_SAMPLED_DATA, gbz.ZCL_NOT_FOUND)
        log.info("gas_reads.profile_read", extra={**extra, "samples": len(samples)})
        answer = SampledData(first - gbz.ZIGBEE_EPOCH, samples)
        return gbz.Reply(
            GET_SAMPLED_DATA_RESPONSE, answer.encode(), True, frame_control=QUIET, sensitive=True
        )

    def get_snapshot(
        self, register: Callable[[], int], payload: bytes, _cmd: GbcsMessage
    ) -> gbz.Reply:
        """GCS16a: the offset-th newest daily snapshot taken in the period (all General)."""
        try:
            asked = SnapshotRequest.decode(payload)
        except DecodeError as exc:
            log.warning(
                "gas_reads.snapshot_refused", extra={"device": self.meter.duis, "reason": str(exc)}
            )
            return gbz.default_response(GET_SNAPSHOT, gbz.ZCL_MALFORMED_COMMAND)
        register()  # a midnight passed since the last reading: its snapshot, taken
        found = [
            entry
            for entry in reversed(self.daily)
            if asked.start <= entry[0] - gbz.ZIGBEE_EPOCH <= asked.end
            and asked.cause & SNAPSHOT_GENERAL
        ]
        if asked.offset >= len(found):
            return gbz.default_response(GET_SNAPSHOT, gbz.ZCL_NOT_FOUND)
        at, value, tiers, blocks = found[asked.offset]
        taken = at - gbz.ZIGBEE_EPOCH
        snapshot = RegisterSnapshot(taken // DAY_S, taken, len(found), value, tiers, blocks)
        return gbz.Reply(
            PUBLISH_SNAPSHOT, snapshot.encode(), True, frame_control=QUIET, sensitive=True
        )


def serve_gas_reads(meter: Any) -> GasReads:
    """Put the GSME's TOU registers, block counters and profile data log on its ZCL server
    (the formatting attributes are the ones GCS13a reads, already served); the meter feeds
    them (:meth:`GasReads.observe`) each time it reads its consumption register (at each
    wake and each command)."""
    reads = GasReads.load(meter.config.state_dir / "gas_reads.json", meter.config.eui)
    reads.serve(meter.zcl, meter.register)
    return reads
