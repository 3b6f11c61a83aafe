"""Transforms of the event logs and alert configuration, laid out as RTDS 4.5.0 has them:
6.13 Read Event or Security Log becomes ECS35a (``LogToRead`` Event), ECS35b (Security),
ECS35e (PowerEvent) or ECS35g (ALCSEvent) for an ESME, a GET of the log selected by the
request's ReadLogPeriod (UTC seconds since 2000, both ends included); ECS35c (Event) or
ECS35d (Security) for the CHF, the same GET of its own logs; and CS10a or CS10b for a GSME,
the Events cluster's Get Event Log of its general or security log over the same period
(ZigBee times). 6.22 Configure Alert Behaviour for an ESME becomes ECS25a
(ElectricitySupplierAlerts: its supplier's WAN alert filter), ECS25a1 (HANAlertSettings),
ECS25a2 (AlarmSettings), ECS25a3 (LoggingSettings), ECS25b (ElectricityNetworkOperatorAlerts)
or ECS25b3 (ElectricityNetworkOperatorLoggingSettings), a SET of that filter's bit-string
(the alerts named, each enabled or disabled); for a GSME GCS20
(GasSupplierAlertEventSettings), one Set Event Configuration per distinct configuration
the body asks for, in the order they first appear (RTDS's four come in another order),
each from the DCC's time now (RTDS's: 2015-01-01 00:00)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from lxml import etree

from gateway.transform.prepay_logs import read_log_period, utc_seconds
from gateway.transform.registry import TransformInput, TransformRefused, immediate_only, transforms
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_event_logs import (
    ALERT_SETTINGS,
    CHF_LOGS,
    CS10A,
    CS10B,
    ECS25A,
    ECS25A1,
    ECS25A2,
    ECS25A3,
    ECS25B,
    ECS25B3,
    ECS35A,
    ECS35B,
    ECS35C,
    ECS35D,
    ECS35E,
    ECS35G,
    END,
    EVENT_SETTING_BITS,
    FILTER,
    GCS20,
    LOGS,
    START,
    ZIGBEE_LOGS,
    EventConfiguration,
    EventLogRequest,
    alert_bits,
    filter_value,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

# the groups of alert settings each party's filters take, in schema order: a supplier's
# (common, poly-phase); a network operator's common ones (its poly-phase ones are for a
# poly-phase ESME: RTDS's ECS25b, as the rig's single-phase ESME, leaves them out)
ALERT_GROUPS = {
    "Supplier": ("SupplierESMECommon", "SupplierESMEPolyPhase"),
    "NetworkOperator": ("NetworkOperatorESMECommon",),
}


def _log_to_read(given: TransformInput, served: Mapping[str, object], device: str) -> str:
    which = text(given.request.body, "sr:LogToRead") or ""
    if which not in served:
        raise TransformRefused(
            codes.NOT_SERVED,
            f"6.13 LogToRead {which!r} is not served for {device} by the rig: ask for "
            f"{' or '.join(served)}",
        )
    return which


@transforms(ECS35A, ECS35B, ECS35E, ECS35G, ECS35C, ECS35D)
def read_event_log(uc: UseCase, given: TransformInput) -> GbcsMessage:
    logs, device = (CHF_LOGS, "the CHF") if uc in CHF_LOGS.values() else (LOGS, "an ESME")
    uc = logs[_log_to_read(given, logs, device)]
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


def _code(element: etree._Element) -> int:
    """The alert code an element of alert settings names (``sr:x810E``)."""
    return int(etree.QName(element).localname.lstrip("x"), 16)


@transforms(ECS25A, ECS25A1, ECS25A2, ECS25A3, ECS25B, ECS25B3)
def configure_alerts(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.22")
    found = [(e, body.find(f"sr:{e}", NS)) for e in ALERT_SETTINGS]
    element, alerts = next(((e, a) for e, a in found if a is not None), ("", None))
    if alerts is None:
        raise TransformRefused(
            codes.NOT_SERVED,
            "6.22 for an ESME is served by the rig for its supplier's and network operator's "
            f"settings: send one of {', '.join(ALERT_SETTINGS)}",
        )
    uc, what = ALERT_SETTINGS[element]
    bits = alert_bits(what)
    party = "NetworkOperator" if element.startswith("ElectricityNetworkOperator") else "Supplier"
    settings: dict[int, bool] = {}
    for group in ALERT_GROUPS[party]:
        for setting in alerts.findall(f"sr:{group}/*", NS):
            code = _code(setting)
            if code not in bits:
                known = ", ".join(f"x{c:04X}" for c in bits)
                raise TransformRefused(
                    codes.NOT_SERVED,
                    f"6.22: the rig has no filter bit for alert x{code:04X}; it configures {known}",
                )
            settings[code] = (setting.text or "").strip() == "Enable"
    value = filter_value(settings, bits)
    return command(uc, given.counter, given.originator.raw, given.device.raw, {FILTER: value})


@transforms(GCS20)
def configure_gas_alerts(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "6.22")
    alerts = body.find("sr:GasSupplierAlertEventSettings", NS)
    if alerts is None:
        raise TransformRefused(
            codes.NOT_SERVED,
            "6.22 for a GSME is served by the rig for its supplier's settings: send "
            "GasSupplierAlertEventSettings",
        )
    by_configuration: dict[int, list[int]] = {}  # in the order they first appear
    for setting in alerts:
        configuration = 0
        for name, bit in EVENT_SETTING_BITS.items():
            if (text(setting, f"sr:{name}") or "").strip() == "Enable":
                configuration |= bit
        by_configuration.setdefault(configuration, []).append(_code(setting))
    start = gbz.zigbee_time(dt.datetime.now(dt.UTC).replace(microsecond=0))  # from now on
    argument = tuple(
        b"\x00" + EventConfiguration(configuration, tuple(sorted(events)), start).encode()
        for configuration, events in by_configuration.items()
    )  # each after its part's index: the one part, repeated
    return command(uc, given.counter, given.originator.raw, given.device.raw, argument)
