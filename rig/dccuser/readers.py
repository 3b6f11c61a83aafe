"""The test DCC User's readers: what a device's response or alert says, as its recipient.

:func:`read` authenticates the message (MAC with the user's KA key, or the device's
signature), then hands it to the reader registered for its use case with :func:`reads`;
a use case without one gets the generic reading of its form (the DLMS result and data,
or the alert's code and times).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue import (
    CATALOGUE,
    CS01A,
    ECS09,
    ECS17B,
    ECS42,
    ECS43,
    ECS44,
    ECS45,
    ECS80,
    ECS82,
    GCA,
    GCS13A,
    GNCA,
)
from rig.protocol.gbcs.catalogue_gas import BILL_TO_DATE, CREDIT_REMAINING, CS01B, GCS06, GCS60
from rig.protocol.gbcs.cosem import MILLIPENCE, SupplyState
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import (
    ReadError,
    access_response,
    alert_fields,
    authenticate,
    header,
    protected_values,
    zcl_values,
)
from rig.protocol.gbcs.usecase import Catalogue, Form, UseCase
from rig.runtime.registry import Registry

__all__ = ["ReadError", "ReadKeys", "read", "reads"]


@dataclass(frozen=True, slots=True)
class ReadKeys:
    user_ka: ec.EllipticCurvePrivateKey | None = None  # the recipient's own KA key
    device_ka: ec.EllipticCurvePublicKey | None = None  # from the device's KA certificate
    device_ds: ec.EllipticCurvePublicKey | None = None  # from the device's DS certificate


Reader = Callable[[UseCase, GbcsMessage, ReadKeys], dict[str, Any]]
_READERS: Registry[str, Reader] = Registry("reader")


def reads(*use_cases: UseCase) -> Callable[[Reader], Reader]:
    """Register the decorated function as the reader of ``use_cases``."""
    return _READERS.register(*(uc.name for uc in use_cases))


def read(
    msg: GbcsMessage,
    *,
    user_ka: ec.EllipticCurvePrivateKey | None = None,
    device_ka: ec.EllipticCurvePublicKey | None = None,
    device_ds: ec.EllipticCurvePublicKey | None = None,
    catalogue: Catalogue = CATALOGUE,
) -> dict[str, Any]:
    """Authenticate a response or alert as its recipient and decode what it says."""
    try:
        uc = catalogue.of(msg)
    except DecodeError as exc:
        raise ReadError(str(exc)) from None
    out = header(uc, msg)
    if uc.acb_own and msg.mac is not None and msg.kind == "response":
        out["authenticated_by"] = "acb"  # the ACB asked in its own name: its MAC to check
    else:
        out["authenticated_by"] = authenticate(msg, user_ka, device_ka, device_ds)
    reader = _READERS.get(uc.name) or _generic
    try:
        out.update(reader(uc, msg, ReadKeys(user_ka, device_ka, device_ds)))
    except (
        DecodeError,
        IndexError,
        KeyError,
        TypeError,
        ValueError,
        security.SecurityError,
    ) as exc:
        raise ReadError(f"{uc.name} {msg.kind} cannot be read: {exc}") from None
    return out


def _generic(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    if uc.is_alert:
        return alert_fields(msg)
    if uc.form is Form.DLMS:
        answer = access_response(msg)
        results = [r.result for r in answer.results]
        return {
            "result": next((r for r in results if r), 0) if results else None,  # 0: all done
            "results": results,
            "data": [d.to_json() for d in answer.data],
        }
    return {}


def _result(msg: GbcsMessage) -> int | None:
    answer = access_response(msg)
    return answer.results[0].result if answer.results else None


@reads(ECS17B)
def import_registers(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    registers = protected_values(msg, keys.user_ka, keys.device_ka)[0].value
    return {
        "result": _result(msg),
        "active_import_wh": int(registers[0].value),
        "reactive_import_varh": int(registers[2].value),
    }


@reads(GCS13A)
def gas_registers(uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    values = zcl_values(uc, msg, keys.user_ka, keys.device_ka)
    volume = values["current_summation_delivered"] * values["multiplier"] / values["divisor"]
    return {**values, "volume_m3": round(volume, 3)}


@reads(ECS42, ECS43, ECS44, CS01A, ECS09)
def load_switch_action(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    return {"result": _result(msg)}


@reads(ECS45)
def load_switch_state(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    result, state = _result(msg), access_response(msg).data[0]
    supply = SupplyState(int(state.value)).name.lower() if result == 0 else None
    return {"result": result, "supply": supply}


@reads(ECS80)
def outage_restored(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    fields = alert_fields(msg)
    times = fields.pop("times", [])
    if len(times) == 3:
        fields.update(alert_time=times[0], outage_start=times[1], outage_end=times[2])
    return fields


@reads(ECS82)
def meter_balance(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    result = _result(msg)
    if result != 0:
        return {"result": result}
    millipence = int(access_response(msg).data[0].value)
    return {
        "result": result,
        "meter_balance_millipence": millipence,
        "meter_balance_pence": millipence // MILLIPENCE,
    }


# --- the GSME's prepayment (GBZ) ----------------------------------------------------------------
def _component(msg: GbcsMessage, cluster: int) -> gbz.Component:
    found = [c for c in gbz.decode(msg.payload).components if c.cluster == cluster]
    if len(found) != 1:
        raise DecodeError(f"expected one component of cluster 0x{cluster:04X}", 0)
    return found[0]


def _zcl_status(component: gbz.Component) -> int | None:
    """The status of a Default Response (what a device answers when it cannot execute)."""
    if component.zcl.command != gbz.DEFAULT_RESPONSE or component.zcl.cluster_specific:
        return None
    return gbz.parse_default_response(component.payload)[1]


@reads(GCS60)
def gas_meter_balance(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The GSME's balance (Prepayment CreditRemaining) and its bill to date (Metering
    BillToDateDelivered), both in millipence; ``result`` 0 when both were read."""
    out: dict[str, Any] = {}
    for cluster, attribute, name in (
        (gbz.PREPAYMENT, CREDIT_REMAINING, "meter_balance"),
        (gbz.METERING, BILL_TO_DATE, "bill_to_date"),
    ):
        component = _component(msg, cluster)
        status = _zcl_status(component)
        values = (
            {} if status is not None else gbz.parse_read_records(component.payload, (attribute,))
        )
        if attribute.name not in values:
            return {"result": status if status is not None else gbz.ZCL_UNSUPPORTED_ATTRIBUTE}
        out[f"{name}_millipence"] = values[attribute.name]
        out[f"{name}_pence"] = values[attribute.name] // MILLIPENCE
    return {"result": 0, **out}


@reads(CS01B)
def gas_top_up(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The Consumer Top Up Response: ``result`` its result type (0 accepted, 1 invalid,
    2 duplicate, 4 over the maximum credit...); what it added and the balance it left."""
    component = _component(msg, gbz.PREPAYMENT)
    status = _zcl_status(component)
    if status is not None:
        return {"result": status}
    answer = gbz.TopUpResponse.decode(component.payload)
    if answer.result != 0:
        return {"result": answer.result}
    return {
        "result": 0,
        "top_up_pence": answer.value // MILLIPENCE,
        "meter_balance_millipence": answer.credit_remaining,
        "meter_balance_pence": answer.credit_remaining // MILLIPENCE,
    }


@reads(GCS06)
def gas_emergency_credit(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The Default Response's status: 0 emergency credit is active, 1 (FAILURE) it is not."""
    return {"result": _zcl_status(_component(msg, gbz.PREPAYMENT))}


@reads(GCA, GNCA)
def generic_alert(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """A generic alert's code and time: a DLMS one (the ESME's), or a GBZ one (the GSME's,
    the code and its time in the GBZ header)."""
    try:
        return alert_fields(msg)
    except DecodeError:
        pass
    alert = gbz.decode(msg.payload, alert=True)
    if alert.alert_code is None or alert.alert_time is None:
        raise DecodeError("expected a DLMS or GBZ alert with an alert code", 0)
    when = gbz.from_zigbee_time(alert.alert_time)
    return {"alert_code": f"{alert.alert_code:04X}", "times": [when.isoformat()]}
