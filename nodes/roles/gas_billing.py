"""The GSME's billing data logs and network data log on its ZCL server:

- the billing data log of change of tariff and mode (GCS15b, 4.4.2): a snapshot of the
  prepayment registers (Debt/Credit Status) and the consumption register, TOU registers
  and block counters (Block Tier Information Set Delivered) each time a Publish Tariff
  Information changes the tariff in force (the gas_tariff family's) or a Change Payment
  Mode changes the credit engine's mode, kept in ``gas_billing.json`` (the last
  :data:`BILLING_LOG`); its ID counts the snapshots the meter has taken;
- the billing calendar's (GCS15c, 4.4.3): the snapshots at the end of each billing period
  (the gas_config family's Publish Billing Period: from its start, every ``duration``
  days, weeks or months), which fall at a midnight UTC: the daily read logs' entries of
  that midnight (:class:`nodes.roles.gas_reads.GasReads`'s registers, the prepayment
  :class:`~nodes.roles.prepay_logs.DailyReadLog`), so as far back as those logs keep;
- the payment-based debt collections (GCS15d, 4.4.4, Publish Debt Log): what each top-up
  paid towards the payment debt (the credit engine's log), newest first, with the debt
  outstanding after it (the payment debt now plus what the later collections took:
  exact unless the supplier has set the debt since);
- the network data log (GCS18, 4.10, Get Sampled Data of Sample ID 2): the consumption in
  each interval of the sampling GCS31 started (gas_config's: its start, interval, count),
  those completed, taken from the half-hour profile (:class:`GasReads`) in proportion to
  time (the flow taken as steady within a half hour).

It also serves what the GSME reports to the GPF of its logs at each wake
(:mod:`nodes.roles.gpf_mirror`): the newest daily prepayment snapshots and the daily
consumption log (each UTC day's consumption: the gas reads' register at the next midnight
less the one at the day's), for the GPF's 4.14 (GCS16b) and 4.17 (GCS61).

GCS15b/c share the Get (Prepay) Snapshot commands with GCS16a/b, and GCS18 Get Sampled Data
with GCS17: they are told apart by the message code, the others handed on.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs.zcl_server import Command, ZclServer
from nodes.roles.gas_config import GasConfiguration
from nodes.roles.gas_logs import QUIET
from nodes.roles.gas_reads import DAY_S, GasReads, slot_of
from nodes.roles.gas_tariff import PRICE_KEYS
from nodes.roles.gpf_mirror import DAILY_CONSUMPTION, DAILY_SNAPSHOTS
from nodes.roles.prepay_logs import register_values
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import catalogue_gas_billing as b
from rig.protocol.gbcs import catalogue_gas_tariff as t
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import PRICE
from rig.protocol.gbcs.catalogue_gas_logs import (
    GET_PREPAY_SNAPSHOT,
    PUBLISH_PREPAY_SNAPSHOT,
    DebtCreditStatus,
    PrepaySnapshot,
    SnapshotRequest,
)
from rig.protocol.gbcs.catalogue_gas_reads import (
    CONSUMPTION_DELIVERED,
    GET_SAMPLED_DATA,
    GET_SAMPLED_DATA_RESPONSE,
    GET_SNAPSHOT,
    HALF_HOUR,
    PUBLISH_SNAPSHOT,
    RegisterSnapshot,
    SampledData,
    SampledDataRequest,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")

BILLING_LOG = 12  # the change of tariff / mode snapshots kept (GCS15b asks 12 offsets)
DAYS, WEEKS, MONTHS = 1, 2, 3  # a billing period's duration timebase (low nibble)
Values = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One billing data log snapshot: when (ZigBee time), why (its Snapshot Cause), its ID,
    the six prepayment registers (millipence: balance, emergency credit, accumulated debt,
    payment debt, time debt 1, 2), the consumption register, TOU registers and blocks."""

    taken: int
    cause: int
    ident: int
    prepayment: Values
    register: int
    tiers: Values
    blocks: Values


@dataclass
class GasBilling:
    """The billing data logs and network data log of ``meter`` (a GSME with its credit
    engine, gas reads, tariff and daily read log), the snapshots kept at ``path``."""

    meter: Any  # nodes.roles.gsme.GasMeter
    path: Path
    entries: list[Entry] = field(default_factory=list)
    taken: int = 0  # snapshots taken so far (the next one's ID)
    seen: dict[str, Any] = field(default_factory=dict)  # the tariff and mode last seen

    @classmethod
    def load(cls, meter: Any, path: Path) -> GasBilling:
        saved = read_json(path, {}) or {}
        entries = [
            Entry(a, c, i, tuple(p), r, tuple(ts), tuple(bs))
            for a, c, i, p, r, ts, bs in saved.get("entries", [])
        ]
        billing = cls(meter, path, entries, int(saved.get("taken", 0)), saved.get("seen", {}))
        if not billing.seen:
            billing.seen = billing._state()
            billing.save()
        return billing

    def save(self) -> None:
        rows = [[e.taken, e.cause, e.ident, list(e.prepayment), e.register, list(e.tiers),
                 list(e.blocks)] for e in self.entries]  # fmt: skip
        write_json(self.path, {"entries": rows, "taken": self.taken, "seen": self.seen})

    @property
    def _reads(self) -> GasReads:
        reads: GasReads = self.meter.gas_reads
        return reads

    def _state(self) -> dict[str, Any]:
        credit = self.meter.credit
        tariff = self.meter.gas_tariff.active.get("tariff_information")
        return {"tariff": tariff, "mode": None if credit is None else credit.settings.payment_mode}

    # --- the change of tariff / mode snapshots ----------------------------------------------
    def check(self) -> None:
        """A snapshot for each change of the tariff in force or of the payment mode since
        the last look."""
        now = self._state()
        for key, cause in (("tariff", b.CHANGE_OF_TARIFF), ("mode", b.CHANGE_OF_MODE)):
            if now[key] != self.seen.get(key):
                self.snapshot(cause)
        self.seen = now
        self.save()

    def snapshot(self, cause: int, at: dt.datetime | None = None) -> Entry:
        """The registers as they stand now, logged with ``cause``."""
        register = self.meter.register()  # advanced to now (which feeds the TOU registers)
        reads = self._reads
        taken = gbz.zigbee_time(at or dt.datetime.now(dt.UTC))
        entry = Entry(
            taken, cause, self.taken, register_values(self.meter.credit), register,
            tuple(reads.tiers), tuple(reads.blocks),
        )  # fmt: skip
        self.taken += 1
        self.entries = [*self.entries, entry][-BILLING_LOG:]
        self.save()
        log.info(
            "gas_billing.snapshot",
            extra={"device": self.meter.config.eui.duis, "cause": cause, "id": entry.ident},
        )
        return entry

    def _after(self, previous: Command) -> Command:
        """``previous``, then a look for a change of tariff or mode."""

        def serve(payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
            reply = previous(payload, cmd)
            self.check()
            return reply

        return serve

    # --- the billing calendar's snapshots ------------------------------------------------------
    def period_end(self, midnight: int) -> bool:
        """Whether a billing period (gas_config's) ends at ``midnight`` (UTC seconds)."""
        path = self.meter.config.state_dir / "gas_config.json"
        _issuer, start, duration, kind, _tariff = GasConfiguration.load(path).billing_period
        begin = gbz.ZIGBEE_EPOCH + start
        if duration <= 0 or midnight <= begin:
            return False
        base = kind & 0x0F
        if base in (DAYS, WEEKS):
            step = duration * DAY_S * (7 if base == WEEKS else 1)
            return (midnight - begin) % step == 0
        if base == MONTHS:
            a, z = (
                dt.datetime.fromtimestamp(begin, dt.UTC),
                dt.datetime.fromtimestamp(midnight, dt.UTC),
            )
            months = (z.year - a.year) * 12 + z.month - a.month
            day = min(a.day, calendar.monthrange(z.year, z.month)[1])
            same_time = (z.day, z.time()) == (day, a.time())
            return same_time and months % duration == 0
        return False

    def calendar_entries(self) -> tuple[list[Entry], list[Entry]]:
        """The billing calendar's snapshots, oldest first: (the Metering ones, from the gas
        reads' daily log; the Prepayment ones, from the daily read log)."""
        self.meter.register()  # a midnight passed since the last reading: its snapshot
        metering = [
            Entry(at - gbz.ZIGBEE_EPOCH, b.END_OF_BILLING_PERIOD,
                  (at - gbz.ZIGBEE_EPOCH) // DAY_S, (), register, tiers, blocks)
            for at, register, tiers, blocks in self._reads.daily
            if self.period_end(at)
        ]  # fmt: skip
        daily = self.meter.prepay_daily
        prepayment = [
            Entry(at, b.END_OF_BILLING_PERIOD, at // DAY_S, values, 0, (), ())
            for at, values in (daily.entries if daily is not None else [])
            if self.period_end(at + gbz.ZIGBEE_EPOCH)
        ]
        return metering, prepayment

    # --- GCS15b, GCS15c ------------------------------------------------------------------------
    def _found(self, asked: SnapshotRequest, metering: bool) -> list[Entry]:
        if asked.cause & b.END_OF_BILLING_PERIOD:
            entries = self.calendar_entries()[0 if metering else 1]
        else:
            entries = self.entries
        return [
            e
            for e in reversed(entries)
            if asked.start <= e.taken <= asked.end and e.cause & asked.cause
        ]

    def get_snapshot(self, metering: bool, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """The offset-th newest billing data log snapshot of the asked causes in the period:
        its registers (Metering) or its Debt/Credit Status (Prepayment)."""
        command = GET_SNAPSHOT if metering else GET_PREPAY_SNAPSHOT
        try:
            asked = SnapshotRequest.decode(payload)
        except DecodeError as exc:
            log.warning(
                "gas_billing.refused",
                extra={"device": self.meter.config.eui.duis, "reason": str(exc)},
            )
            return gbz.default_response(command, gbz.ZCL_MALFORMED_COMMAND)
        found = self._found(asked, metering)
        if asked.offset >= len(found):
            return gbz.default_response(command, gbz.ZCL_NOT_FOUND)
        e = found[asked.offset]
        if metering:
            answer = RegisterSnapshot(
                e.ident, e.taken, len(found), e.register, e.tiers, e.blocks, e.cause
            ).encode()
        else:
            balance, emergency, accumulated, payment, time1, time2 = e.prepayment
            status = DebtCreditStatus(accumulated, time1, time2, payment, emergency, balance)
            answer = PrepaySnapshot(e.ident, e.taken, len(found), status, e.cause).encode()
        publish = PUBLISH_SNAPSHOT if metering else PUBLISH_PREPAY_SNAPSHOT
        return gbz.Reply(publish, answer, True, frame_control=QUIET, sensitive=True)

    # --- GCS15d --------------------------------------------------------------------------------
    def get_debt_repayment_log(self, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        extra = {"device": self.meter.config.eui.duis}
        (component,) = gbz.decode(cmd.payload).components  # the catalogue checked it
        try:
            start, end, count, debt_type = b.parse_get_debt_repayment_log(
                (component.from_date_time or 0).to_bytes(4, "big") + payload
            )
        except DecodeError as exc:
            log.warning("gas_billing.debt_log_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(b.GET_DEBT_REPAYMENT_LOG, gbz.ZCL_MALFORMED_COMMAND)
        credit = self.meter.credit
        outstanding, entries = credit.debt.payment_debt, []
        for at, amount in reversed(credit.debt_payments):  # newest first
            entries.append(
                b.DebtCollection(at - gbz.ZIGBEE_EPOCH, amount, b.PAYMENT_DEBT, outstanding)
            )
            outstanding += amount
        chosen = [
            e
            for e in entries
            if start <= e.collected_at <= end and debt_type in (b.PAYMENT_DEBT, 0xFF)
        ][:count]
        if not chosen:
            log.info("gas_billing.debt_log_empty", extra=extra)
            return gbz.default_response(b.GET_DEBT_REPAYMENT_LOG, gbz.ZCL_NOT_FOUND)
        log.info("gas_billing.debt_log_read", extra={**extra, "records": len(chosen)})
        return gbz.Reply(b.PUBLISH_DEBT_LOG, b.publish_debt_log(chosen), True, sensitive=True)

    # --- GCS18 ---------------------------------------------------------------------------------
    def network_samples(self, earliest: float, count: int) -> tuple[int, tuple[int, ...]]:
        """The network data log's completed samples from ``earliest`` (UTC seconds), at
        most ``count``: (the first one's start, the dm3 of each)."""
        path = self.meter.config.state_dir / "gas_config.json"
        config = GasConfiguration.load(path)
        self.meter.register()  # the profile, brought up to now
        reads = self._reads
        if not config.sample_id or len(config.sampling) != 3 or reads.seen_at is None:
            return 0, ()
        started, interval, most = config.sampling
        if started < gbz.ZIGBEE_EPOCH:  # a Start Sampling's start time (ZigBee time)
            started += gbz.ZIGBEE_EPOCH
        seen_at, since = reads.seen_at, reads.since or reads.seen_at
        times = [
            started + n * interval
            for n in range(most)
            if started + n * interval >= earliest and started + (n + 1) * interval <= seen_at
        ][:count]

        def consumed(begin: float, end: float) -> float:
            total, slot = 0.0, slot_of(begin)
            while slot < end:
                covered = min(seen_at, slot + HALF_HOUR) - max(slot, since)
                overlap = min(end, slot + HALF_HOUR) - max(begin, slot)
                if covered > 0 and overlap > 0:
                    total += reads.profile.get(slot, 0.0) * overlap / covered
                slot += HALF_HOUR
            return total

        return (times[0] if times else 0), tuple(round(consumed(s, s + interval)) for s in times)

    def get_sampled_data(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        extra = {"device": self.meter.config.eui.duis}
        try:
            asked = SampledDataRequest.decode(payload)
        except DecodeError as exc:
            log.warning("gas_billing.network_log_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(GET_SAMPLED_DATA, gbz.ZCL_MALFORMED_COMMAND)
        if (asked.sample_id, asked.sample_type) != (b.NETWORK_DATA_LOG, CONSUMPTION_DELIVERED):
            return gbz.default_response(GET_SAMPLED_DATA, gbz.ZCL_NOT_FOUND)
        path = self.meter.config.state_dir / "gas_config.json"
        interval = (GasConfiguration.load(path).sampling or [0, 0])[1]
        first, samples = self.network_samples(asked.earliest + gbz.ZIGBEE_EPOCH, asked.count)
        if not samples:
            log.info("gas_billing.network_log_empty", extra=extra)
            return gbz.default_response(GET_SAMPLED_DATA, gbz.ZCL_NOT_FOUND)
        log.info("gas_billing.network_log_read", extra={**extra, "samples": len(samples)})
        answer = SampledData(
            int(first) - gbz.ZIGBEE_EPOCH, samples, interval, b.NETWORK_DATA_LOG
        ).encode()
        return gbz.Reply(GET_SAMPLED_DATA_RESPONSE, answer, True, sensitive=True)

    # --- what the GPF copies ----------------------------------------------------------------
    def daily_consumption(self) -> list[tuple[int, tuple[int, ...]]]:
        """Each whole UTC day the gas reads' daily log spans: (its start, ZigBee time; (dm3,))."""
        daily = self._reads.daily
        return [
            (at - gbz.ZIGBEE_EPOCH, (max(0, after - register),))
            for (at, register, *_), (next_at, after, *_) in itertools.pairwise(daily)
            if next_at - at == DAY_S
        ]

    def mirrored_snapshots(self) -> bytes:
        daily = self.meter.prepay_daily
        return DAILY_SNAPSHOTS.encode(list(daily.entries) if daily is not None else [])

    # --- the ZCL server ------------------------------------------------------------------------
    def serve(self, zcl: ZclServer) -> None:
        zcl.attribute(
            gbz.METERING,
            DAILY_CONSUMPTION.attribute,
            lambda: DAILY_CONSUMPTION.encode(self.daily_consumption()),
        )
        mine: dict[tuple[int, int], Callable[[bytes, GbcsMessage], gbz.Reply]] = {
            (gbz.METERING, GET_SAMPLED_DATA): self.get_sampled_data,
        }
        if self.meter.credit is not None:
            zcl.attribute(gbz.PREPAYMENT, DAILY_SNAPSHOTS.attribute, self.mirrored_snapshots)
            zcl.command(gbz.PREPAYMENT, b.GET_DEBT_REPAYMENT_LOG, self.get_debt_repayment_log)
            mine[(gbz.METERING, GET_SNAPSHOT)] = partial(self.get_snapshot, True)
            mine[(gbz.PREPAYMENT, GET_PREPAY_SNAPSHOT)] = partial(self.get_snapshot, False)
            for command in PRICE_KEYS:
                previous = zcl.served(PRICE, command, server_to_client=True)
                if previous is not None:
                    zcl.command(PRICE, command, self._after(previous), server_to_client=True)
            previous = zcl.served(gbz.PREPAYMENT, t.CHANGE_PAYMENT_MODE)
            if previous is not None:
                zcl.command(gbz.PREPAYMENT, t.CHANGE_PAYMENT_MODE, self._after(previous))
        codes = {uc.message_code for uc in b.USE_CASES}
        for (cluster, command), action in mine.items():
            zcl.command(cluster, command, _shared(codes, zcl.served(cluster, command), action))


def _shared(codes: set[int], previous: Command | None, action: Command) -> Command:
    """``action`` for the commands of ``codes``, what served them before for the others."""

    def serve(payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        if cmd.message_code in codes or previous is None:
            return action(payload, cmd)
        return previous(payload, cmd)

    return serve


def serve_gas_billing(meter: Any) -> GasBilling:
    """Put the GSME's billing data logs and network data log on its ZCL server (after its
    tariff, configuration, reads and prepayment logs: it hands their commands on)."""
    billing = GasBilling.load(meter, meter.config.state_dir / "gas_billing.json")
    billing.serve(meter.zcl)
    return billing
