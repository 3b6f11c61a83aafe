"""What a GSME sends when a future-dated GBZ command it held is carried out (its tariff, 1.1.1
and 1.6; its prepayment configuration, 2.1): RTDS's 8F66 future-dated execution alerts
(GBZ-FDA, signed), one per dated ZCL command, queued for the requester and sent at once if
the meter is awake, else at its next wake."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas_tariff import GBZ_FDA
from rig.protocol.gbcs.catalogue_tariff import FUTURE_DATED_SUCCESS
from rig.protocol.gbcs.frame import Cra, GbcsMessage


def execution_alerts(meter: Any, held: dict[str, Any]) -> list[bytes]:
    """RTDS's 8F66 alerts of what ``held`` carried out: one per dated command (``held``'s
    "done": cluster, frame control, command), naming the command's message code and
    counter, at the time it was due."""
    gbcs = meter.gbcs
    requester = Eui64.parse(held["requester"])
    out = []
    for cluster, control, command in held.get("done", []):
        outcome = gbz.FutureDatedOutcome(
            int(held["message_code"]), int(held["counter"]), cluster, control, command
        )
        body = gbz.GbzPayload(1, [], FUTURE_DATED_SUCCESS, int(held["at"]), outcome).encode()
        msg = GbcsMessage.build(
            Cra.ALERT, gbcs.next_counter(), gbcs.eui.raw, requester.raw, GBZ_FDA.message_code, body
        )
        out.append(security.sign_message(msg, gbcs.ds).encode())
    return out


async def alert_carried_out(meter: Any, carried: Iterable[dict[str, Any]]) -> None:
    """Queue each carried-out command's alerts for its requester; send them if awake."""
    queued = False
    for held in carried:
        requester = Eui64.parse(held["requester"])
        for alert in execution_alerts(meter, held):
            meter.alerts_waiting.append((FUTURE_DATED_SUCCESS, requester, alert))
            queued = True
    if queued and meter.tunnel_ready.is_set():
        await meter.send_alerts()
