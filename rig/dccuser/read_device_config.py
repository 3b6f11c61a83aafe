"""The DCC User's readers of the ESME's device configuration (6.2.x, 6.4.x) (registered with
:func:`rig.dccuser.readers.reads`): each 6.2 read's values by name (DUIS's, in snake case;
volts, seconds, watts as the meter keeps them; texts decoded; alert behaviours as hex), a
value the meter could not read None (``results``: each GET's result; ``result``: the first
that is not 0); 6.4.1 and 6.4.2, the result of each part."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_device_config as dc
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase

_D = DataType
VOLTAGE = (
    *(f"{name}_{what}" for name in dc.RMS_LIMITERS for what in ("threshold", "period")),
    "average_rms_over_voltage",
    "average_rms_under_voltage",
)
IDENTITY = ("meter_variant", "model_type", "manufacturer", "supply_tamper_state")
# the name of each value a use case answers, in order
NAMES: dict[str, tuple[str, ...]] = {
    dc.ECS26B.name: VOLTAGE,
    dc.ECS26K.name: (*VOLTAGE, *list(dc.AVERAGE_RMS)[2:]),
    dc.ECS26C.name: tuple(dc.RANDOMISATION),
    dc.ECS26L.name: ("billing_calendar",),
    dc.ECS26D.name: ("billing_calendar",),
    dc.ECS26M.name: IDENTITY,
    dc.ECS26E.name: ("device_id", *IDENTITY),
    dc.ECS26N.name: ("model_type", "manufacturer"),
    dc.ECS26I.name: ("device_id", "model_type", "manufacturer"),
    dc.ECS26F.name: ("power_thresholds",),
    dc.ECS40.name: ("import_mpan", "export_mpan"),
    dc.ECS26J.name: ("payment_mode",),
    dc.ECS25R1.name: tuple(n for n in dc.BEHAVIOURS if n.startswith("supplier")),
    dc.ECS25R2.name: ("network_operator_wan", "network_operator_log"),
}
PAYMENT_MODES = {1: "credit", 2: "prepayment"}


def _value(name: str, d: Data) -> Any:
    if name == "device_id":
        return Eui64(bytes(d.value)).duis
    if name == "billing_calendar":
        return [_billing_date(entry) for entry in d.value]
    if name == "power_thresholds":
        return [int(t.value) for t in d.value]
    if name == "payment_mode":
        mode, status = (int(v.value) for v in d.value)
        return {"mode": PAYMENT_MODES.get(mode, str(mode)), "account_status": status}
    if d.type is _D.BOOLEAN:
        return bool(d.value)
    if d.type is _D.BIT_STRING:
        return bytes(d.value[1]).hex()
    if d.type is _D.OCTET_STRING:
        return bytes(d.value).decode("ascii", "replace")
    return d.value


def _billing_date(entry: Data) -> dict[str, Any]:
    """An execution time of the billing calendar: its time, and its date's month and day of
    month (None: every one)."""
    time, date = (bytes(v.value) for v in entry.value)
    month, day = date[2], date[3]
    return {
        "time": f"{time[0]:02d}:{time[1]:02d}:{time[2]:02d}",
        "month": None if month == 0xFF else month,
        "day": None if day == 0xFF else day,
    }


def _results(msg: GbcsMessage) -> tuple[list[Data], list[int]]:
    answer = access_response(msg)
    return answer.data, [r.result for r in answer.results]


@reads(*(uc for uc in (*dc.USE_CASES, *dc.OLDER) if uc.name in NAMES))
def device_configuration(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    names = NAMES[uc.name]
    data, results = _results(msg)
    if len(data) != len(names) or len(results) != len(names):
        raise DecodeError(f"{uc.name} answers {len(names)} values, not {len(data)}", 0)
    out: dict[str, Any] = {"result": next((r for r in results if r), 0), "results": results}
    for name, d, result in zip(names, data, results, strict=True):
        out[name] = _value(name, d) if result == 0 else None
    return out


@reads(dc.ECS28A, dc.ECS28B)
def load_limit_updated(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """``result`` 0 when every part was carried out, else the first result that is not."""
    _data, results = _results(msg)
    return {"result": next((r for r in results if r), 0), "results": results}
