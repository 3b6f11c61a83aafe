"""The DCC User's readers of the GSME's reads of family 4 (registered with
:func:`rig.dccuser.readers.reads`): 4.1.2's TOU register matrix (GCS13c) and 4.1.4's block
counters (GCS13b), decrypted as the requester: each register as the meter holds it (in
the unit of measure, scaled by the multiplier and divisor it answers with) and in m3;
``result`` 0, or ZCL's FAILURE when an attribute came back without a value (named in
``missing``). 4.8.1's half-hour profile (GCS17): each half hour's start and consumption
(the register's unit, dm3 on the rig's GSME); ``result`` 0, or the Default Response's
status (0x8B NOT_FOUND: no half hour of the period in the log). 4.6.1's daily read log
(GCS16a): each Publish Snapshot decrypted, in the order the meter sent them (newest
first), with its time, the consumption register, the TOU registers and block counters;
the offsets without a snapshot answer NOT_FOUND, which is not a failure. 4.18 to a GPF
(GCS60a) is read as the GSME's GCS60 is: the balance and the bill to date."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadError, ReadKeys, gas_meter_balance, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas_reads import (
    BLOCK_COUNTERS,
    FORMATTING,
    GCS13B,
    GCS13C,
    GCS16A,
    GCS17,
    GCS60A,
    GET_SAMPLED_DATA_RESPONSE,
    PUBLISH_SNAPSHOT,
    TOU_REGISTERS,
    RegisterSnapshot,
    SampledData,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import zcl_values
from rig.protocol.gbcs.usecase import UseCase


@reads(GCS13C, GCS13B)
def gas_register_matrix(uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    values = zcl_values(uc, msg, keys.user_ka, keys.device_ka)
    registers = TOU_REGISTERS if uc is GCS13C else BLOCK_COUNTERS
    missing = [a.name for a in (*FORMATTING, *registers) if a.name not in values]
    if missing:
        return {"result": gbz.ZCL_FAILURE, "missing": missing, **values}
    scale = values["multiplier"] / values["divisor"]
    kind = "tiers" if uc is GCS13C else "blocks"
    return {
        "result": 0,
        **values,
        f"{kind}_m3": [round(values[a.name] * scale, 3) for a in registers],
    }


@reads(GCS17)
def gas_profile_data(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    components = gbz.decode(msg.payload).components
    if len(components) != 1:
        raise DecodeError(f"GCS17 answers one component, found {len(components)}", 0)
    (component,) = components
    if component.zcl.command == gbz.DEFAULT_RESPONSE and not component.zcl.cluster_specific:
        status = gbz.parse_default_response(component.payload)[1]
        return {"result": status, "interval_s": None, "samples": []}
    if component.zcl.command != GET_SAMPLED_DATA_RESPONSE or component.encrypted is None:
        raise DecodeError("GCS17 answers an encrypted Get Sampled Data Response", 0)
    data = SampledData.decode(_decrypted(msg, component, keys))
    return {
        "result": 0,
        "interval_s": data.interval,
        "samples": [
            {"at": gbz.from_zigbee_time(data.start + n * data.interval).isoformat(), "value": v}
            for n, v in enumerate(data.samples)
        ],
    }


@reads(GCS16A)
def gas_daily_registers(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    days, result = [], 0
    for component in gbz.decode(msg.payload).components:
        if component.zcl.command == gbz.DEFAULT_RESPONSE and not component.zcl.cluster_specific:
            status = gbz.parse_default_response(component.payload)[1]
            if status != gbz.ZCL_NOT_FOUND and not result:
                result = status
            continue
        if component.zcl.command != PUBLISH_SNAPSHOT or component.encrypted is None:
            raise DecodeError("GCS16a answers encrypted Publish Snapshots", 0)
        snapshot = RegisterSnapshot.decode(_decrypted(msg, component, keys))
        days.append(
            {
                "at": gbz.from_zigbee_time(snapshot.taken).isoformat(),
                "snapshot_id": snapshot.snapshot_id,
                "current_summation_delivered": snapshot.register,
                "tiers": list(snapshot.tiers),
                "blocks": list(snapshot.blocks),
            }
        )
    return {"result": result, "days": days}


def _decrypted(msg: GbcsMessage, component: gbz.Component, keys: ReadKeys) -> bytes:
    """An encrypted component's payload, decrypted as the requester."""
    if keys.user_ka is None or keys.device_ka is None:
        raise ReadError("encrypted values need the user's KA key and the device's KA cert")
    if component.encrypted is None:
        raise DecodeError("expected an encrypted component", 0)
    key = security.encryption_key(msg, keys.user_ka, keys.device_ka)
    return security.unprotect(key, msg.header.originator, component.encrypted.blob)


reads(GCS60A)(gas_meter_balance)
