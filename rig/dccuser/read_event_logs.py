"""The DCC User's readers of event logs and alert configuration (6.13, 6.22) (registered
with :func:`rig.dccuser.readers.reads`): 6.13's ESME event log (ECS35a: time, alert code,
its name and the event's detail), security log (ECS35b: time, alert code, its name), power
event log (ECS35e: and its value) and ALCS event log (ECS35g: and its enum and value), and
the CHF's event and security logs (ECS35c, ECS35d, read as the ESME's);
the GSME's (CS10a, CS10b: the Publish Event Log's events, or ``result`` the Default
Response's status, 0x8B NOT_FOUND when none is in the period); 6.22's ECS25a answers with
its result only (the generic reading)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_event_logs import (
    CS10A,
    CS10B,
    ECS35A,
    ECS35B,
    ECS35C,
    ECS35D,
    ECS35E,
    ECS35G,
    PUBLISH_EVENT_LOG,
    published_events,
)
from rig.protocol.gbcs.codes import alert_name
from rig.protocol.gbcs.cosem import GBCS_EPOCH_UNIX
from rig.protocol.gbcs.dlms import DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase


def _at(utc_seconds: int) -> str:
    return dt.datetime.fromtimestamp(utc_seconds + GBCS_EPOCH_UNIX, dt.UTC).isoformat()


# the log each use case reads, as DUIS's LogToRead names it
LOG_NAMES = {
    ECS35A: "Event",
    ECS35B: "Security",
    ECS35C: "Event",
    ECS35D: "Security",
    ECS35E: "PowerEvent",
    ECS35G: "ALCSEvent",
}


@reads(*LOG_NAMES)
def event_log(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    answer = access_response(msg)
    result = answer.results[0].result if answer.results else None
    if result != 0:
        return {"result": result}
    log = answer.data[0]
    if log.type is not DataType.COMPACT_ARRAY:
        raise ValueError(f"the {uc.name} log is a {log.type.name}, not a compact array")
    events = []
    for entry in log.value.elements():
        at, code, *rest = entry.value
        event: dict[str, Any] = {
            "at": _at(int(at.value)),
            "alert_code": f"{int(code.value):04X}",
            "name": alert_name(int(code.value)),
        }
        for field in rest:  # the event log's detail; a power or ALCS event's enum, value
            if field.type is DataType.OCTET_STRING:
                event["detail"] = bytes(field.value).hex()
            else:
                event.setdefault("values", []).append(int(field.value))
        events.append(event)
    return {"result": result, "log": LOG_NAMES[uc], "events": events}


@reads(CS10A, CS10B)
def zigbee_event_log(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    components = gbz.decode(msg.payload).components
    if len(components) != 1:
        raise DecodeError(f"{uc.name} answers one component, found {len(components)}", 0)
    (component,) = components
    log = "Security" if uc is CS10B else "Event"
    if component.zcl.command == gbz.DEFAULT_RESPONSE and not component.zcl.cluster_specific:
        status = gbz.parse_default_response(component.payload)[1]
        return {"result": status, "log": log, "events": []}
    if component.zcl.command != PUBLISH_EVENT_LOG:
        raise DecodeError(f"{uc.name} answers a Publish Event Log", 0)
    events = [
        {
            "at": _at(at),
            "alert_code": f"{code:04X}",
            "name": alert_name(code),
            "log_id": log_id,
            "detail": data.hex(),
        }
        for log_id, code, at, data in published_events(component.payload)
    ]
    return {"result": 0, "log": log, "events": events}
