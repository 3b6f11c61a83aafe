"""The DCC User's readers of the GSME's prepayment logs (registered with
:func:`rig.dccuser.readers.reads`): 4.4.5's log of top-ups (GCS15e, Publish Top Up Log):
each top-up's UTRN, amount (millipence, the GSME's currency unit, and whole pence) and when
it was applied; ``result`` 0, or the Default Response's status (0x8B NOT_FOUND: no top-up
in the period). 4.14's daily read log (GCS16b): each Publish Prepay Snapshot decrypted as
the requester, newest first, with the registers named as the ESME's daily read log names
them; the offsets without a snapshot answer NOT_FOUND, which is not a failure."""

from __future__ import annotations

from typing import Any

from rig.dccuser.read_prepay_logs import pence_registers
from rig.dccuser.readers import ReadError, ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas_logs import (
    GCS15E,
    GCS16B,
    PUBLISH_PREPAY_SNAPSHOT,
    PUBLISH_TOP_UP_LOG,
    PrepaySnapshot,
    parse_publish_top_up_log,
)
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase


@reads(GCS15E)
def gas_prepayment_credits(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    components = gbz.decode(msg.payload).components
    if len(components) != 1:
        raise DecodeError(f"GCS15e answers one component, found {len(components)}", 0)
    (component,) = components
    if component.zcl.command == gbz.DEFAULT_RESPONSE:
        return {"result": gbz.parse_default_response(component.payload)[1], "credits": []}
    if component.zcl.command != PUBLISH_TOP_UP_LOG:
        raise DecodeError(f"GCS15e answers Publish Top Up Log, not {component.zcl.command}", 0)
    credits = [
        {
            "utrn": record.utrn.decode("ascii"),
            "at": gbz.from_zigbee_time(record.applied).isoformat(),
            "millipence": record.amount,
            "pence": record.amount // MILLIPENCE,
        }
        for record in parse_publish_top_up_log(component.payload)
    ]
    return {"result": 0, "credits": credits}


@reads(GCS16B)
def gas_daily_read_log(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    days, result = [], 0
    key = None
    for component in gbz.decode(msg.payload).components:
        if component.zcl.command == gbz.DEFAULT_RESPONSE:
            status = gbz.parse_default_response(component.payload)[1]
            if status != gbz.ZCL_NOT_FOUND and not result:
                result = status
            continue
        if component.zcl.command != PUBLISH_PREPAY_SNAPSHOT or component.encrypted is None:
            raise DecodeError("GCS16b answers encrypted Publish Prepay Snapshots", 0)
        if key is None:
            if keys.user_ka is None or keys.device_ka is None:
                raise ReadError("encrypted values need the user's KA key and the device's KA cert")
            key = security.encryption_key(msg, keys.user_ka, keys.device_ka)
        plain = security.unprotect(key, msg.header.originator, component.encrypted.blob)
        snapshot = PrepaySnapshot.decode(plain)
        s = snapshot.status
        registers = (s.credit, s.emergency_credit, s.accumulated_debt, s.type3_debt,
                     s.type1_debt, s.type2_debt)  # fmt: skip
        days.append(
            {
                "at": gbz.from_zigbee_time(snapshot.taken).isoformat(),
                "snapshot_id": snapshot.snapshot_id,
                **pence_registers(registers),
            }
        )
    return {"result": result, "days": days}
