"""The DCC User's readers of the GSME's prepayment logs (registered with
:func:`rig.dccuser.readers.reads`): 4.4.5's log of top-ups (GCS15e, Publish Top Up Log):
each top-up's UTRN, amount (millipence, the GSME's currency unit, and whole pence) and when
it was applied; ``result`` 0, or the Default Response's status (0x8B NOT_FOUND: no top-up
in the period)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_logs import (
    GCS15E,
    PUBLISH_TOP_UP_LOG,
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
