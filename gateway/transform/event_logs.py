"""Transforms of the event logs and alert configuration, laid out as RTDS 4.5.0 has them:
6.13 Read Event or Security Log becomes ECS35a (``LogToRead`` Event) or ECS35b (Security)
for an ESME, a GET of the log selected by the request's ReadLogPeriod (UTC seconds since
2000, both ends included), and CS10a or CS10b for a GSME, the Events cluster's Get Event Log
of its general or security log over the same period (ZigBee times); 6.22 Configure Alert
Behaviour for an ESME's supplier becomes ECS25a (ElectricitySupplierAlerts: its WAN alert
filter), ECS25a1 (HANAlertSettings), ECS25a2 (AlarmSettings) or ECS25a3 (LoggingSettings),
a SET of that filter's bit-string (the alerts named, each enabled or disabled)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.transform.prepay_logs import read_log_period, utc_seconds
from gateway.transform.registry import TransformInput, TransformRefused, immediate_only, transforms
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_event_logs import (
    CS10A,
    CS10B,
    ECS25A,
    ECS25A1,
    ECS25A2,
    ECS25A3,
    ECS35A,
    ECS35B,
    END,
    FILTER,
    LOGS,
    START,
    SUPPLIER_ALERT_BITS,
    SUPPLIER_SETTINGS,
    ZIGBEE_LOGS,
    EventLogRequest,
    filter_value,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

# the groups of ElectricitySupplierAlerts (common, poly-phase), in schema order
SUPPLIER_ALERT_GROUPS = ("SupplierESMECommon", "SupplierESMEPolyPhase")


def _log_to_read(given: TransformInput, served: Mapping[str, object], device: str) -> str:
    which = text(given.request.body, "sr:LogToRead") or ""
    if which not in served:
        raise TransformRefused(
            codes.NOT_SERVED,
            f"6.13 LogToRead {which!r} is not served for {device} by the rig: ask for "
            f"{' or '.join(served)}",
        )
    return which


@transforms(ECS35A, ECS35B)
def read_event_log(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    uc = LOGS[_log_to_read(given, LOGS, "an ESME")]
    start, end = read_log_period(given)
    values = {
        START: Data(DataType.DOUBLE_LONG_UNSIGNED, utc_seconds(start)),
        END: Data(DataType.DOUBLE_LONG_UNSIGNED, utc_seconds(end)),
    }
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


@transforms(CS10A, CS10B)
def read_zigbee_event_log(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    uc, control = ZIGBEE_LOGS[_log_to_read(given, ZIGBEE_LOGS, "a GSME")]
    start, end = read_log_period(given)
    asked = EventLogRequest(control, gbz.zigbee_time(start), gbz.zigbee_time(end))
    return command(uc, given.counter, given.originator.raw, given.device.raw, (asked.encode(),))


@transforms(ECS25A, ECS25A1, ECS25A2, ECS25A3)
def configure_alerts(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.22")
    found = [(e, body.find(f"sr:{e}", NS)) for e in SUPPLIER_SETTINGS]
    element, alerts = next(((e, a) for e, a in found if a is not None), ("", None))
    if alerts is None:
        raise TransformRefused(
            codes.NOT_SERVED,
            "6.22 for an ESME is served by the rig for its supplier's settings only: send "
            f"one of {', '.join(SUPPLIER_SETTINGS)}",
        )
    uc = SUPPLIER_SETTINGS[element][0]
    settings: dict[int, bool] = {}
    for group in SUPPLIER_ALERT_GROUPS:
        for setting in alerts.findall(f"sr:{group}/*", NS):
            code = int(setting.tag.rsplit("}", 1)[-1].lstrip("x"), 16)
            if code not in SUPPLIER_ALERT_BITS:
                known = ", ".join(f"x{c:04X}" for c in SUPPLIER_ALERT_BITS)
                raise TransformRefused(
                    codes.NOT_SERVED,
                    f"6.22: the rig has no filter bit for alert x{code:04X}; it configures {known}",
                )
            settings[code] = (setting.text or "").strip() == "Enable"
    value = filter_value(settings)
    return command(uc, given.counter, given.originator.raw, given.device.raw, {FILTER: value})
