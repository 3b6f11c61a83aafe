"""The DCC User's readers of the join service, unjoin and CS07 (registered with
:func:`rig.dccuser.readers.reads`), issue 16: CS03A1, CS03A2, CS03B, CS03C answer ``result``
(0: joined; 1 the message code is not the method's; 2 not joinable by that method;
3 logged with another device type; 4 the log is full; 5 not written; 11 no valid
certificate), CS04AC and CS04B ``result`` (0: unjoined; 1 not in the log; 2 other failure),
CS07 ``result`` (0; 1 the log could not be read) and ``devices``, each ``eui`` with its
``device_type`` (GSME, ESME, CHF, GPF, HCALCS, PPMID, TYPE_2) in the device's order."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_join import (
    CS07,
    JOINS,
    UNJOINS,
    JoinDeviceType,
    join_details_of,
    result_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase


@reads(*JOINS, *UNJOINS)
def join_result(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    return {"result": result_of(msg.payload)}


def _type_name(code: int) -> str:
    return JoinDeviceType(code).name if code in JoinDeviceType._value2member_map_ else str(code)


@reads(CS07)
def join_details(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    result, entries = join_details_of(msg.payload)
    devices = [{"eui": Eui64(eui).duis, "device_type": _type_name(kind)} for eui, kind in entries]
    return {"result": result, "devices": devices}
