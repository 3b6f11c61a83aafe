"""The DCC User's readers of the firmware use cases of 11.2 Read Firmware Version (ECS52,
GCS38, and CS08 for a PPMID), issue 16 (registered with :func:`rig.dccuser.readers.reads`):
``result`` (0: read; else the DLMS Data-Access-Result, the ZCL status or CS08's result the
device answered) and ``firmware_version``, the running version as DUIS writes it (8 hex
digits, ``0123ABCD``)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_firmware import (
    CS08,
    CURRENT_METER_ID,
    ECS52,
    GCS38,
    octet_string_of,
    ppmid_version_of,
    version_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase


@reads(ECS52)
def esme_firmware_version(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The value of the firmware version object: an octet string."""
    answer = access_response(msg)
    result = answer.results[0].result if answer.results else None
    if result != 0:
        return {"result": result}
    value = answer.data[0].value
    if not isinstance(value, bytes):
        raise DecodeError(
            f"the firmware version is a {answer.data[0].type}, not an octet string", 0
        )
    return {"result": 0, "firmware_version": version_of(value)}


@reads(GCS38)
def gsme_firmware_version(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The Metering cluster's CurrentMeterID: a 4-octet string; a record that failed is its
    attribute id and its status (RTDS's error: 0xC0)."""
    component = gbz.decode(msg.payload).components[0]
    if component.zcl.command == gbz.DEFAULT_RESPONSE and not component.zcl.cluster_specific:
        return {"result": gbz.parse_default_response(component.payload)[1]}
    values = gbz.parse_read_records(component.payload, (CURRENT_METER_ID,))
    if CURRENT_METER_ID.name not in values:
        status = component.payload[2] if len(component.payload) > 2 else None
        return {"result": status}
    octets = octet_string_of(values[CURRENT_METER_ID.name])
    return {"result": 0, "firmware_version": version_of(octets)}


@reads(CS08)
def ppmid_firmware_version(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The PPMID's answer: the version and its result (RTDS's error: 1 and ``00000000``,
    which is not a version it runs, so it is not given)."""
    try:
        octets, result = ppmid_version_of(msg.payload)
    except (IndexError, ValueError) as exc:
        raise DecodeError(f"CS08's answer is not a version and a result: {exc}", 0) from None
    if result != 0:
        return {"result": result}
    return {"result": 0, "firmware_version": version_of(octets)}
