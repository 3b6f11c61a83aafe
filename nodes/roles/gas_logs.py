"""The GSME's prepayment logs on its ZCL server (issue 15): the Prepayment cluster's Get Top
Up Log (GCS15e, 4.4.5), answered with Publish Top Up Log from the credit engine's log of the
top-ups it applied (UTRN, amount in millipence, when), newest first, those applied from the
command's From Date-Time up to its Latest End Time, at most its Number of Records (none:
a Default Response NOT_FOUND, as RTDS has it). (The
daily read log GCS16b, 4.14, is not built yet.)"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nodes.gbcs.zcl_server import ZclServer
from nodes.roles.credit import Credit
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_logs import (
    GET_TOP_UP_LOG,
    PUBLISH_TOP_UP_LOG,
    TopUpRecord,
    parse_get_top_up_log,
    publish_top_up_log,
)
from rig.protocol.gbcs.frame import GbcsMessage

log = logging.getLogger("nodes.han")


@dataclass
class GasLogs:
    """The top-up log of ``meter``'s credit engine, served on its Prepayment cluster."""

    meter: Eui64
    credit: Credit

    def serve(self, zcl: ZclServer) -> None:
        zcl.command(gbz.PREPAYMENT, GET_TOP_UP_LOG, self.get_top_up_log)

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


def serve_gas_logs(meter: Any) -> None:
    """Put the GSME's prepayment logs on its ZCL server."""
    GasLogs(meter.config.eui, meter.credit).serve(meter.zcl)
