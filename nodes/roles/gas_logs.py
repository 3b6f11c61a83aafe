"""The GSME's prepayment logs on its ZCL server: the Prepayment cluster's Get Top Up Log
(GCS15e, 4.4.5), answered with Publish Top Up Log from the credit engine's log of the
top-ups it applied (UTRN, amount in millipence, when), newest first, those applied from the
command's From Date-Time up to its Latest End Time, at most its Number of Records (none:
a Default Response NOT_FOUND, as RTDS has it); and Get Prepay Snapshot (GCS16b, 4.14),
answered from the daily read log (:class:`nodes.roles.prepay_logs.DailyReadLog`, the
snapshot the meter takes on its first wake of each UTC day) with the Debt/Credit Status of
the offset-th newest snapshot in the period, encrypted for the requester (none: NOT_FOUND).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nodes.gbcs.zcl_server import ZclServer
from nodes.roles.credit import Credit
from nodes.roles.prepay_logs import DailyReadLog
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_logs import (
    GET_PREPAY_SNAPSHOT,
    GET_TOP_UP_LOG,
    PUBLISH_PREPAY_SNAPSHOT,
    PUBLISH_TOP_UP_LOG,
    SNAPSHOT_GENERAL,
    DebtCreditStatus,
    PrepaySnapshot,
    SnapshotRequest,
    TopUpRecord,
    parse_get_top_up_log,
    publish_top_up_log,
)
from rig.protocol.gbcs.frame import GbcsMessage

log = logging.getLogger("nodes.han")


DAY_S = 86_400
QUIET = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC | gbz.ZCL_DISABLE_DEFAULT_RESPONSE


@dataclass
class GasLogs:
    """The top-up log of ``meter``'s credit engine and its daily read log, served on its
    Prepayment cluster."""

    meter: Eui64
    credit: Credit
    daily: DailyReadLog

    def serve(self, zcl: ZclServer) -> None:
        zcl.command(gbz.PREPAYMENT, GET_TOP_UP_LOG, self.get_top_up_log)
        zcl.command(gbz.PREPAYMENT, GET_PREPAY_SNAPSHOT, self.get_prepay_snapshot)

    def get_prepay_snapshot(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """The offset-th newest daily snapshot taken in the period (all are General)."""
        try:
            asked = SnapshotRequest.decode(payload)
        except DecodeError as exc:
            log.warning(
                "prepay.snapshot_refused", extra={"device": self.meter.duis, "reason": str(exc)}
            )
            return gbz.default_response(GET_PREPAY_SNAPSHOT, gbz.ZCL_MALFORMED_COMMAND)
        found = [
            (at, values)
            for at, values in reversed(self.daily.entries)
            if asked.start <= at <= asked.end and asked.cause & SNAPSHOT_GENERAL
        ]
        if asked.offset >= len(found):
            return gbz.default_response(GET_PREPAY_SNAPSHOT, gbz.ZCL_NOT_FOUND)
        at, (balance, emergency, accumulated, payment, time1, time2) = found[asked.offset]
        snapshot = PrepaySnapshot(
            at // DAY_S,  # the snapshot's ID: its day since 2000
            at,
            len(found),
            DebtCreditStatus(accumulated, time1, time2, payment, emergency, balance),
        )
        return gbz.Reply(
            PUBLISH_PREPAY_SNAPSHOT, snapshot.encode(), True, frame_control=QUIET, sensitive=True
        )

    def records(self) -> list[TopUpRecord]:
        """The logged top-ups, newest first (a top-up logged without its UTRN has none)."""
        utrns = self.credit.top_up_utrns[::-1]
        return [
            TopUpRecord(
                utrns[n].encode("ascii") if n < len(utrns) else b"",
                value,
                at - gbz.ZIGBEE_EPOCH,
            )
            for n, (at, value) in enumerate(self.credit.top_ups[::-1])
        ]

    def get_top_up_log(self, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        extra = {"device": self.meter.duis}
        (component,) = gbz.decode(cmd.payload).components  # the catalogue checked it
        try:
            start, end, count = parse_get_top_up_log(
                (component.from_date_time or 0).to_bytes(4, "big") + payload
            )
        except DecodeError as exc:
            log.warning("prepay.log_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(GET_TOP_UP_LOG, gbz.ZCL_MALFORMED_COMMAND)
        chosen = [r for r in self.records() if start <= r.applied <= end][:count]
        if not chosen:  # as RTDS's NOT_FOUND response has it
            log.info("prepay.top_up_log_empty", extra=extra)
            return gbz.default_response(GET_TOP_UP_LOG, gbz.ZCL_NOT_FOUND)
        log.info("prepay.top_up_log_read", extra={**extra, "records": len(chosen)})
        return gbz.Reply(PUBLISH_TOP_UP_LOG, publish_top_up_log(chosen), cluster_specific=True)


def serve_gas_logs(meter: Any) -> DailyReadLog:
    """Put the GSME's prepayment logs on its ZCL server; the daily read log, whose
    :meth:`DailyReadLog.tick` the meter calls when it wakes."""
    credit: Credit = meter.credit
    daily = DailyReadLog(credit.path.with_name("prepay_daily_log.json"), credit)
    GasLogs(meter.config.eui, credit, daily).serve(meter.zcl)
    return daily
