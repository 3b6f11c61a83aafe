"""The DCC User's readers of commissioning (registered with :func:`rig.dccuser.readers.reads`):
ECS70 (8.1.1 for an ESME): ``results`` (one per part: the SET of clock_base, the two
ACTIONs, the GETs of time and status), ``result`` (the first that is not 0; 0: commissioned),
``device_time`` (ISO 8601, UTC) and ``clock_status`` (0: the time is good) when read.
GCS28 (8.1.1 for a GSME): ``result`` (0: commissioned; 2: its time is outside the validity
interval) and ``device_time``. CS06 (11.3): ``result`` (0: activated; 1: not) and
``firmware_version``, the version running after it (8 hex digits, as DUIS writes it)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.catalogue_commission import (
    ACCEPTED,
    CS06,
    ECS70,
    GCS28,
    answer_fields,
    integer_of,
    time_of,
)
from rig.protocol.gbcs.catalogue_firmware import version_of
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase

PARTS = 5  # SET clock_base, ACTION preset, ACTION adjust, GET time, GET status
TIME, STATUS = 3, 4


@reads(ECS70)
def set_clock(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    answer = access_response(msg)
    results = [r.result for r in answer.results]
    if len(results) != PARTS or len(answer.data) != PARTS:
        raise ValueError(f"ECS70 answers {PARTS} parts, not {len(results)}")
    out: dict[str, Any] = {"result": next((r for r in results if r), 0), "results": results}
    time, status = answer.data[TIME], answer.data[STATUS]
    if results[TIME] == 0 and time.type is dlms.DataType.OCTET_STRING:
        when = dlms.parse_date_time(bytes(time.value))
        out["device_time"] = None if when is None else when.isoformat()
    if results[STATUS] == 0 and status.type is dlms.DataType.UNSIGNED:
        out["clock_status"] = int(status.value)
    return out


@reads(GCS28)
def set_gsme_clock(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    time, result = answer_fields(msg.payload)
    return {"result": integer_of(result), "device_time": time_of(time).isoformat()}


@reads(CS06)
def activate_firmware(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    if msg.payload == ACCEPTED:
        return {"accepted": True}
    result, version = answer_fields(msg.payload)
    return {"result": integer_of(result), "firmware_version": version_of(version.value)}


def future_activation(payload: bytes) -> dict[str, Any]:
    """The 0x00CA alert's payload read: ``alert_code`` (8F66 activated, 8F67 not),
    ``execution_date_time``, ``counter`` (of the CS06 it carried out), ``result`` (0, or 2)
    and ``firmware_version`` (running after it)."""
    code, when, counter, outcome = answer_fields(payload)
    result, version = outcome.children
    return {
        "alert_code": f"{integer_of(code):04X}",
        "execution_date_time": time_of(when).isoformat(),
        "counter": integer_of(counter),
        "result": integer_of(result),
        "firmware_version": version_of(version.value),
    }
