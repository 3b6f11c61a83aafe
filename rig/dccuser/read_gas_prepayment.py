"""The DCC User's readers of the GSME's prepayment configuration (issue 15), registered with
:func:`rig.dccuser.readers.reads`: GCS04 (2.3 Update Debt), a Default Response per debt
register; GCS14 (4.3), the currency in clear and the prepayment registers decrypted;
GCS21b (4.13), the prepayment configuration and the calendar Gets' statuses."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas import GCS04, GCS14, GCS21B
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import ReadError
from rig.protocol.gbcs.usecase import UseCase, ZclRead, ZclReads, ZclSequence

DEBT_REGISTERS = ("time_debt_1", "time_debt_2", "payment_debt")  # GCS04's components, in order


@reads(GCS04)
def gas_debt(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """Each debt register's ZCL status (0 applied, 0x85 INVALID_FIELD...); ``result`` 0 when
    all three were applied, else the first status that is not."""
    components = gbz.decode(msg.payload).components
    if len(components) != len(DEBT_REGISTERS):
        raise DecodeError(f"GCS04 answers {len(DEBT_REGISTERS)} Default Responses", 0)
    statuses = {
        register: gbz.parse_default_response(component.payload)[1]
        for register, component in zip(DEBT_REGISTERS, components, strict=True)
    }
    failed = [s for s in statuses.values() if s != gbz.ZCL_SUCCESS]
    return {"result": failed[0] if failed else 0, "statuses": statuses}


@reads(GCS14)
def gas_prepay_values(uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    """The Price cluster's currency and trailing digit, and the prepayment registers (in
    millipence: credit remaining, emergency credit, accumulated debt, debt amounts 1-3,
    the debt registers time debt 1, 2 and payment debt); ``result`` 0 when all were read."""
    assert isinstance(uc.request, ZclReads)
    price, prepayment = uc.request.reads
    components = gbz.decode(msg.payload).components
    if len(components) != 2 or components[1].encrypted is None:
        raise DecodeError("GCS14 answers the Price cluster, then the Prepayment one encrypted", 0)
    if keys.user_ka is None or keys.device_ka is None:
        raise ReadError("encrypted values need the user's KA key and the device's KA cert")
    key = security.encryption_key(msg, keys.user_ka, keys.device_ka)
    records = security.unprotect(key, msg.header.originator, components[1].encrypted.blob)
    values = {
        **gbz.parse_read_records(components[0].payload, price.attributes),
        **gbz.parse_read_records(records, prepayment.attributes),
    }
    wanted = len(price.attributes) + len(prepayment.attributes)
    return {"result": 0 if len(values) == wanted else gbz.ZCL_UNSUPPORTED_ATTRIBUTE, **values}


@reads(GCS21B)
def gas_prepay_configuration(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The prepayment configuration (amounts in millipence) and the trailing digit; the
    non-disablement calendar's Gets as ``calendar`` statuses (0x8B: the meter has none);
    ``result`` 0 when every attribute was read."""
    assert isinstance(uc.request, ZclSequence)
    components = gbz.decode(msg.payload).components
    if len(components) != len(uc.request.parts):
        raise DecodeError(f"GCS21b answers {len(uc.request.parts)} components", 0)
    values: dict[str, Any] = {}
    calendar: dict[str, int] = {}
    wanted = 0
    for part, component in zip(uc.request.parts, components, strict=True):
        if isinstance(part, ZclRead):
            wanted += len(part.attributes)
            if component.zcl.command == gbz.READ_ATTRIBUTES_RESPONSE:
                values.update(gbz.parse_read_records(component.payload, part.attributes))
        elif component.zcl.command == gbz.DEFAULT_RESPONSE:
            command, status = gbz.parse_default_response(component.payload)
            calendar[f"{command:02X}"] = status
    result = 0 if len(values) == wanted else gbz.ZCL_UNSUPPORTED_ATTRIBUTE
    return {"result": result, **values, "calendar": calendar}
