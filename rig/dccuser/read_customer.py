"""The DCC User's readers of the customer-facing services (DUIS family 3) (registered with
:func:`rig.dccuser.readers.reads`): ``result`` (0: done, else the first DLMS result or ZCL
status that is not 0) and ``results`` (each SET's or ACTION's, each Default Response's);
CS11's ``cleared``, the logs its Clear Event Log Response says the GSME emptied."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import catalogue_customer as cc
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_event_logs import ZIGBEE_LOG_IDS
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase


def _first_failure(results: list[int]) -> int:
    return next((r for r in results if r), 0)


@reads(cc.ECS10, cc.ECS12, cc.ECS14, cc.ECS15A, cc.ECS15C, cc.ECS16)
def customer_written(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    results = [r.result for r in access_response(msg).results]
    return {"result": _first_failure(results), "results": results}


@reads(cc.GCS07, cc.GCS11, cc.GCS44, cc.GCS09)  # GCS09: the GPF's
def gas_customer_written(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    statuses = []
    for component in gbz.decode(msg.payload).components:
        if component.zcl.command != gbz.DEFAULT_RESPONSE:
            raise DecodeError("the GSME answers these commands with Default Responses", 0)
        statuses.append(gbz.parse_default_response(component.payload)[1])
    return {"result": _first_failure(statuses), "results": statuses}


@reads(cc.CS11)
def gas_event_log_cleared(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    (component,) = gbz.decode(msg.payload).components
    if component.zcl.command == gbz.DEFAULT_RESPONSE:
        return {"result": gbz.parse_default_response(component.payload)[1], "cleared": []}
    if component.zcl.command != cc.CLEAR_EVENT_LOG_RESPONSE or len(component.payload) != 1:
        raise DecodeError("Clear Event Log Request is answered with its response (1 byte)", 0)
    bits = component.payload[0]
    cleared = [name for log_id, name in ZIGBEE_LOG_IDS.items() if bits & cc.log_bit(log_id)]
    return {"result": 0 if cleared else gbz.ZCL_FAILURE, "cleared": cleared}
