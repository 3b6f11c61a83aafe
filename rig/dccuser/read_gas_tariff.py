"""The DCC User's readers of the GSME's tariffs and prices (1.1.1, 1.2.1, 1.5, 1.6, 4.11.1)
(registered with :func:`rig.dccuser.readers.reads`): GCS01a/b and GCS40x answer a Default
Response per command (``statuses`` by ZCL command, ``result`` the first failure or 0);
GCS02/03 a Change Payment Mode Response (or a Default Response); GCS21f the Price cluster's
attributes (prices in millipence per kWh), the tariff calendar read back (``calendar``:
each Get's status; ``tariff_calendar``: day profiles as their tier, weeks, seasons, special
days) and the current price (``current_price``: tier and price; None when NOT_FOUND)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.read_gas_prepayment import read_back
from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import catalogue_gas_tariff as t
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import PUBLISH_DAY_PROFILE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, ZclRead, ZclSequence


@reads(t.GCS01A, t.GCS01B, t.GCS40A, t.GCS40B, t.GCS40C, t.GCS40D)
def gas_tariff_statuses(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    statuses: dict[str, list[int]] = {}
    for component in gbz.decode(msg.payload).components:
        if component.zcl.command != gbz.DEFAULT_RESPONSE:
            raise DecodeError("each Publish or Credit Adjustment is answered a Default Response", 0)
        command, status = gbz.parse_default_response(component.payload)
        statuses.setdefault(f"{component.cluster:04X}/{command:02X}", []).append(status)
    failed = [s for found in statuses.values() for s in found if s]
    return {"result": failed[0] if failed else 0, "statuses": statuses}


@reads(t.GCS02, t.GCS03)
def gas_payment_mode(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    (component,) = gbz.decode(msg.payload).components
    if component.zcl.command == gbz.DEFAULT_RESPONSE and not component.zcl.cluster_specific:
        return {"result": gbz.parse_default_response(component.payload)[1]}
    answer = t.PaymentModeResponse.decode(component.payload)
    return {
        "result": 0,
        "friendly_credit": answer.friendly_credit,
        "friendly_credit_calendar": answer.calendar_id,
        "emergency_credit_limit": answer.emergency_credit_limit,
        "emergency_credit_threshold": answer.emergency_credit_threshold,
    }


@reads(t.GCS21F)
def gas_tariff(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    assert isinstance(uc.request, ZclSequence)
    parts = uc.request.parts
    values: dict[str, Any] = {}
    calendar: dict[str, int] = {}
    published: dict[str, Any] = {}
    current: dict[str, int] | None = None
    for component in gbz.decode(msg.payload).components:
        sequence = component.zcl.sequence
        if sequence >= len(parts):
            raise DecodeError(f"GCS21f answers its {len(parts)} parts, not part {sequence}", 0)
        part = parts[sequence]
        zcl = component.zcl
        if isinstance(part, ZclRead):
            if zcl.command == gbz.READ_ATTRIBUTES_RESPONSE:
                values.update(gbz.parse_read_records(component.payload, part.attributes))
        elif zcl.command == gbz.DEFAULT_RESPONSE and not zcl.cluster_specific:
            command, status = gbz.parse_default_response(component.payload)
            calendar[f"{component.cluster:04X}/{command:02X}"] = status
        elif component.cluster == t.PRICE:
            price = t.CurrentPrice.decode(component.payload)
            current = {"tier": price.tier, "tiers": price.tiers, "price": price.price}
        else:
            calendar[f"{component.cluster:04X}/{part.command:02X}"] = gbz.ZCL_SUCCESS
            if zcl.command == PUBLISH_DAY_PROFILE:  # a GSME's: the day's tier
                published.setdefault("day_profiles", {})[component.payload[12]] = component.payload[
                    -1
                ]
            else:
                read_back(zcl.command, component.payload, published)
    wanted = sum(len(p.attributes) for p in parts if isinstance(p, ZclRead))
    result = 0 if len(values) == wanted else gbz.ZCL_UNSUPPORTED_ATTRIBUTE
    return {
        "result": result,
        **values,
        "calendar": calendar,
        "tariff_calendar": published,
        "current_price": current,
    }
