"""The DCC User's readers of the GSME's billing data logs and network data log (registered
with :func:`rig.dccuser.readers.reads`): 4.4.2 and 4.4.3 (GCS15b, GCS15c): each snapshot
decrypted as the requester, with its time, ID and cause, the prepayment registers named as
the daily read log names them (Publish Prepay Snapshot) and the consumption register, TOU
registers and block counters (Publish Snapshot); the offsets without a snapshot answer
NOT_FOUND, which is not a failure. 4.4.4 (GCS15d): each debt collection (time, amount,
debt type, outstanding, millipence and pence). 4.10 (GCS18): the network data log's
samples (dm3) with their times and interval; ``result`` 0x8B NOT_FOUND when it has none;
4.17 to the GPF (GCS61): the daily consumption log, read alike (a sample per day)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.read_gas_reads import _decrypted
from rig.dccuser.read_prepay_logs import pence_registers
from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_billing import (
    DAY_S,
    GCS15B,
    GCS15C,
    GCS15D,
    GCS18,
    GCS61,
    PUBLISH_DEBT_LOG,
    parse_publish_debt_log,
)
from rig.protocol.gbcs.catalogue_gas_logs import PUBLISH_PREPAY_SNAPSHOT, PrepaySnapshot
from rig.protocol.gbcs.catalogue_gas_reads import (
    GET_SAMPLED_DATA_RESPONSE,
    PUBLISH_SNAPSHOT,
    RegisterSnapshot,
    SampledData,
)
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase


def _status(component: gbz.Component) -> int | None:
    """A Default Response's status, None for any other answer."""
    if component.zcl.command == gbz.DEFAULT_RESPONSE and not component.zcl.cluster_specific:
        return gbz.parse_default_response(component.payload)[1]
    return None


@reads(GCS15B, GCS15C)
def gas_billing_data_log(uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    prepayment, registers, result = [], [], 0
    for component in gbz.decode(msg.payload).components:
        status = _status(component)
        if status is not None:
            if status != gbz.ZCL_NOT_FOUND and not result:
                result = status
            continue
        if component.encrypted is None:
            raise DecodeError(f"{uc.name} answers encrypted snapshots", 0)
        plain = _decrypted(msg, component, keys)
        if component.cluster == gbz.PREPAYMENT and component.zcl.command == PUBLISH_PREPAY_SNAPSHOT:
            p = PrepaySnapshot.decode(plain)
            s = p.status
            values = (s.credit, s.emergency_credit, s.accumulated_debt, s.type3_debt,
                      s.type1_debt, s.type2_debt)  # fmt: skip
            prepayment.append(_when(p.snapshot_id, p.taken, p.cause) | pence_registers(values))
        elif component.cluster == gbz.METERING and component.zcl.command == PUBLISH_SNAPSHOT:
            r = RegisterSnapshot.decode(plain)
            registers.append(
                _when(r.snapshot_id, r.taken, r.cause)
                | {
                    "current_summation_delivered": r.register,
                    "tiers": list(r.tiers),
                    "blocks": list(r.blocks),
                }
            )
        else:
            raise DecodeError(f"{uc.name} answers Publish (Prepay) Snapshots", 0)
    return {"result": result, "prepayment": prepayment, "registers": registers}


def _when(snapshot_id: int, taken: int, cause: int) -> dict[str, Any]:
    at = gbz.from_zigbee_time(taken).isoformat()
    return {"at": at, "snapshot_id": snapshot_id, "cause": cause}


@reads(GCS15D)
def gas_debt_payments(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    components = gbz.decode(msg.payload).components
    if len(components) != 1:
        raise DecodeError(f"GCS15d answers one component, found {len(components)}", 0)
    (component,) = components
    status = _status(component)
    if status is not None:
        return {"result": status, "payments": []}
    if component.zcl.command != PUBLISH_DEBT_LOG or component.encrypted is None:
        raise DecodeError("GCS15d answers an encrypted Publish Debt Log", 0)
    payments = [
        {
            "at": gbz.from_zigbee_time(entry.collected_at).isoformat(),
            "debt_type": entry.debt_type,
            "millipence": entry.amount,
            "pence": entry.amount // MILLIPENCE,
            "outstanding_millipence": entry.outstanding,
            "outstanding_pence": entry.outstanding // MILLIPENCE,
        }
        for entry in parse_publish_debt_log(_decrypted(msg, component, keys))
    ]
    return {"result": 0, "payments": payments}


@reads(GCS18, GCS61)
def gas_sampled_data(uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    components = gbz.decode(msg.payload).components
    if len(components) != 1:
        raise DecodeError(f"{uc.name} answers one component, found {len(components)}", 0)
    (component,) = components
    status = _status(component)
    if status is not None:
        return {"result": status, "sample_id": None, "interval_s": None, "samples": []}
    if component.zcl.command != GET_SAMPLED_DATA_RESPONSE or component.encrypted is None:
        raise DecodeError(f"{uc.name} answers an encrypted Get Sampled Data Response", 0)
    data = SampledData.decode(_decrypted(msg, component, keys))
    interval = DAY_S if uc is GCS61 else data.interval  # a day: more than the field holds
    return {
        "result": 0,
        "sample_id": data.sample_id,
        "interval_s": interval,
        "samples": [
            {"at": gbz.from_zigbee_time(data.start + n * interval).isoformat(), "value": v}
            for n, v in enumerate(data.samples)
        ],
    }
