"""A meter's clock as its object servers serve it (issue 16: 8.1.1 Commission Device, ECS70
on the ESME's COSEM clock, class 8 at 0-0:1.0.0.255).

ECS70 sets the clock's clock_base, presets an adjustment whose preset time is unspecified
and whose validity interval is the DCC User's CurrentDateTime plus its TolerancePeriod,
adjusts to it, then reads the time and the status. The meter keeps its own time (on a
virtual node, the host's, synchronised as the hub's Time cluster would keep it): the
adjustment succeeds when that time lies in the validity interval, and the clock's status
then says the time is good (0); else the adjustment is refused (other-reason, 250) and the
status stays doubtful, so the DCC does not record the meter Commissioned.

The GSME's GCS28 is ASN.1, not ZCL (RTDS 8.1.1_GCS28Commission): it is answered by
:mod:`nodes.gbcs.activation` from the GSME's own clock, so the GSME serves nothing here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.gbcs.future import utc_now
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue_commission import validity_interval
from rig.protocol.gbcs.dlms import Data, DataType

log = logging.getLogger("nodes.clock")
INTERNAL_CRYSTAL = 1  # clock_base until ECS70 sets it


class Clock:
    """The COSEM clock of one meter: its time, status and clock_base, and the adjustment
    preset_adjusting_time holds until adjust_to_preset_time applies it."""

    def __init__(self, now: Callable[[], dt.datetime] = utc_now, device: str = "") -> None:
        self.now, self.device = now, device
        self.base = INTERNAL_CRYSTAL
        self.status = cosem.CLOCK_DOUBTFUL  # not synchronised by its supplier yet
        self.interval: tuple[dt.datetime, dt.datetime] | None = None

    def serve(self, server: CosemServer) -> None:
        server.attribute(
            cosem.CLOCK_TIME, lambda: Data(DataType.OCTET_STRING, dlms.date_time(self.now()))
        )
        server.attribute(cosem.CLOCK_STATUS, lambda: Data(DataType.UNSIGNED, self.status))
        server.attribute(cosem.CLOCK_BASE, lambda: Data(DataType.ENUM, self.base), self._set_base)
        server.method(cosem.PRESET_ADJUSTING_TIME, self._preset)
        server.method(cosem.ADJUST_TO_PRESET_TIME, self._adjust)

    def _set_base(self, value: Data) -> None:
        if value.type is not DataType.ENUM:
            raise CosemError(Result.TYPE_UNMATCHED, "clock_base is an enum")
        self.base = int(value.value)

    def _preset(self, argument: Data, _inv: Invocation) -> None:
        try:
            self.interval = validity_interval(argument)
        except ValueError as exc:
            raise CosemError(Result.TYPE_UNMATCHED, str(exc)) from None

    def _adjust(self, _argument: Data, _inv: Invocation) -> None:
        if self.interval is None:
            raise CosemError(Result.OTHER_REASON, "no adjustment preset")
        (start, end), self.interval = self.interval, None
        now = self.now()
        if not start <= now <= end:
            log.warning(
                "clock.outside_validity",
                extra={"device": self.device, "time": now.isoformat(),
                       "start": start.isoformat(), "end": end.isoformat()},
            )  # fmt: skip
            raise CosemError(Result.OTHER_REASON, f"the clock ({now}) is outside {start}..{end}")
        self.status = 0
        log.info("clock.synchronised", extra={"device": self.device, "time": now.isoformat()})


def serve_clock(meter: Any) -> Clock | None:
    """Put the meter's clock on its COSEM server (the ESME's); None for a meter without one."""
    server = getattr(meter, "cosem", None)
    if not isinstance(server, CosemServer):
        return None
    config = getattr(meter, "config", None)
    clock = Clock(device=config.eui.duis if config is not None else "")
    clock.serve(server)
    return clock
