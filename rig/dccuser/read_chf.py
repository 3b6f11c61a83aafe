"""The DCC User's readers of the communications hub function's use cases (the CHF device log:
8.11 CCS01, CCS02; 8.9 CCS06, CCS07; the CS14 alert; 8.12.1 CCS03 and the GPF's 8.12.2
GCS59, which restore device logs), issue 16 (registered with
:func:`rig.dccuser.readers.reads`).

``result`` is 0 when every part of the command succeeded, else the first part's code that
did not (DLMS action or data-access result: CCS02 answers 1 for a device not in the log);
``results`` lists them all. CCS06 lists the devices of the log (EUI, in the log, on the
HAN, status bits, LQI, when last heard); CCS07 and CS14 the logs' backups (EUI and the
hash of its TC link key, empty before it has one); GCS59 each restored entry of the GPF
device log (EUI, device type) with its join response code, and ``result`` the first code
that is not 0."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.catalogue_chf import (
    CCS01,
    CCS02,
    CCS06,
    CCS07,
    CS14,
    JOINED,
    REGISTERED,
    ActiveDevice,
    LogBackup,
)
from rig.protocol.gbcs.catalogue_restore import CCS03, GCS59, gpf_restore_results
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response, alert_fields
from rig.protocol.gbcs.usecase import UseCase


def _results(msg: GbcsMessage) -> dict[str, Any]:
    results = [r.result for r in access_response(msg).results]
    return {"result": next((r for r in results if r), 0), "results": results}


def _when(raw: bytes) -> str | None:
    when = dlms.parse_date_time(raw)
    return when.isoformat() if when else None


def backup_json(backup: LogBackup) -> dict[str, Any]:
    return {
        "changed": _when(backup.changed),
        "extended_pan_id": Eui64(backup.extended_pan_id).duis,
        "devices": [
            {"eui": Eui64(eui).duis, "hashed_tc_link_key": hashed.hex().upper()}
            for eui, hashed in backup.devices
        ],
    }


@reads(CCS01, CCS02, CCS03)
def device_log_updated(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    return _results(msg)


@reads(CCS06)
def device_log(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    out = _results(msg)
    if out["result"] != 0:
        return out
    devices = [ActiveDevice.from_data(d) for d in access_response(msg).data[0].value]
    out["devices"] = [
        {
            "eui": Eui64(d.eui).duis,
            "registered": bool(d.status & REGISTERED),
            "joined": bool(d.status & JOINED),
            "status": f"{d.status:02X}",
            "lqi": list(d.lqi),
            "last_heard": _when(d.last_heard),
        }
        for d in devices
    ]
    return out


@reads(CCS07)
def device_logs(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    out = _results(msg)
    answer = access_response(msg)
    for name, result, value in zip(
        ("device_log", "historic_device_log"), out["results"], answer.data, strict=True
    ):
        if result == 0:
            out[name] = backup_json(LogBackup.from_data(value))
    return out


@reads(CS14)
def device_log_changed(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    out = alert_fields(msg)
    apdu = dlms.decode(msg.payload)
    assert isinstance(apdu, dlms.DataNotification)  # alert_fields checked it
    raised, backup = apdu.body.value[1:]
    out.update(raised=_when(raised.value), device_log=backup_json(LogBackup.from_data(backup)))
    return out


@reads(GCS59)
def gpf_device_log_restored(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    results = gpf_restore_results(msg.payload)
    entries = [
        {"eui": Eui64(e.eui).duis, "device_type": e.device_type, "join_response": code}
        for e, code in results
    ]
    return {"result": next((c for _, c in results if c), 0), "entries": entries}
