"""The DCC User's readers of the GSME's configuration, valve and network data (6.2.x, 6.6,
6.7, 6.8, 6.20.1, 7.2-7.4, 9.1, 14.1) (registered with :func:`rig.dccuser.readers.reads`):
``result`` 0, or the first failing ZCL status (a Default Response's, a read attribute's);
the valve's ``supply`` (off, armed, on); the attributes read, by name (strings as text); the
billing period (start, duration, periodicity); GCS31's Sample ID."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import catalogue_gas_config as gc
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase

SUPPLY = {gc.SUPPLY_OFF: "off", gc.SUPPLY_ARMED: "armed", gc.SUPPLY_ON: "on"}
TIME_BASE = {0: "minutes", 1: "days", 2: "weeks", 3: "months"}


def _components(msg: GbcsMessage) -> list[gbz.Component]:
    return gbz.decode(msg.payload).components


def _failed(records: bytes) -> int:
    """The first failing status of a Read Attributes Response's records (0: none)."""
    at = 0
    while at + 3 <= len(records):
        status = records[at + 2]
        if status != gbz.ZCL_SUCCESS:
            return status
        zcl_type = records[at + 3]
        size = gbz.ZCL_TYPE_SIZES.get(zcl_type)
        at += 4 + (size if size is not None else records[at + 4] + 1)
    return 0


@reads(gc.GCS33, gc.GCS21M, gc.GCS21E, gc.GCS46, gc.GCS21A, gc.GCS21J)
def gas_config_values(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    values: dict[str, Any] = {}
    result = 0
    for component in _components(msg):
        if component.zcl.command == gbz.DEFAULT_RESPONSE:
            result = result or gbz.parse_default_response(component.payload)[1]
            continue
        if component.zcl.command != gbz.READ_ATTRIBUTES_RESPONSE:
            raise DecodeError(f"expected Read Attributes Responses, not {component.zcl.command}", 0)
        result = result or _failed(component.payload)
        values.update(gc.parse_values(component.payload))
    if "supply_status" in values:
        values["supply"] = SUPPLY.get(int(values["supply_status"]), "unknown")
    return {"result": result, **values}


@reads(gc.GCS32, gc.GCS39)
def gas_supply_changed(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    (component,) = _components(msg)
    if component.zcl.command == gbz.DEFAULT_RESPONSE:
        return {"result": gbz.parse_default_response(component.payload)[1], "supply": None}
    if component.zcl.command != gc.SUPPLY_STATUS_RESPONSE:
        raise DecodeError("a Change Supply is answered with a Supply Status Response", 0)
    status = gc.parse_supply_status_response(component.payload)
    return {"result": 0, "supply_status": status, "supply": SUPPLY.get(status, "unknown")}


@reads(gc.GCS21K, gc.GCS21D)
def gas_billing_calendar(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    (component,) = _components(msg)
    if component.zcl.command == gbz.DEFAULT_RESPONSE:
        return {"result": gbz.parse_default_response(component.payload)[1]}
    if component.zcl.command != gc.PUBLISH_BILLING_PERIOD:
        raise DecodeError("Get Billing Period is answered with Publish Billing Period", 0)
    period = gc.BillingPeriod.decode(component.payload)
    return {
        "result": 0,
        "billing_period_start": gbz.from_zigbee_time(period.start).isoformat(),
        "duration": period.duration,
        "duration_unit": TIME_BASE.get(period.duration_type & 0x0F, "unknown"),
    }


@reads(gc.GCS23, gc.GCS24, gc.GCS24A, gc.GCS25, gc.GCS25A, gc.GCS41, gc.GCS36)
def gas_config_written(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    statuses = []
    for component in _components(msg):
        if component.zcl.command != gbz.DEFAULT_RESPONSE:
            raise DecodeError("a configuration write is answered with Default Responses", 0)
        statuses.append(gbz.parse_default_response(component.payload)[1])
    return {"result": next((s for s in statuses if s), 0), "statuses": statuses}


@reads(gc.GCS20R)
def gas_alert_behaviours(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    (component,) = _components(msg)
    if component.zcl.command == gbz.DEFAULT_RESPONSE:
        return {"result": gbz.parse_default_response(component.payload)[1], "events": {}}
    if component.zcl.command != gc.REPORT_EVENT_CONFIGURATION:
        raise DecodeError("Get Event Configuration is answered with its report", 0)
    events = gc.parse_report_event_configuration(component.payload)
    return {"result": 0, "events": {f"{code:04X}": config for code, config in events}}


@reads(gc.GCS31)
def gas_network_data(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    (component,) = _components(msg)
    if component.zcl.command == gbz.DEFAULT_RESPONSE:
        return {"result": gbz.parse_default_response(component.payload)[1], "sample_id": None}
    if component.zcl.command != gc.START_SAMPLING_RESPONSE or len(component.payload) != 2:
        raise DecodeError("Start Sampling is answered with a Start Sampling Response", 0)
    sample = int.from_bytes(component.payload, "little")
    return {"result": gbz.ZCL_FAILURE if sample == gc.NO_SAMPLE else 0, "sample_id": sample}
