"""The DCC User's readers of the ESME's prepayment reads and logs (registered with
:func:`rig.dccuser.readers.reads`): 4.3's prepayment registers (ECS19, decrypted as the
requester), 4.4.5's log of top-ups (ECS20d) and 4.14's daily read log (ECS21b, decrypted
as the requester), in millipence (the ESME's currency unit) and in whole pence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.gbcs.catalogue_prepay_logs import ECS19, ECS20D, ECS21B
from rig.protocol.gbcs.cosem import GBCS_EPOCH_UNIX, MILLIPENCE
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response, protected_values
from rig.protocol.gbcs.usecase import UseCase

# the prepayment registers, in the order ECS19 answers them
PREPAYMENT_REGISTERS = (
    "meter_balance",
    "emergency_credit",
    "accumulated_debt",
    "payment_debt",
    "time_debt_1",
    "time_debt_2",
)


def access_result(msg: GbcsMessage) -> int | None:
    answer = access_response(msg)
    return answer.results[0].result if answer.results else None


@reads(ECS19)
def prepay_values(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    registers = protected_values(msg, keys.user_ka, keys.device_ka)[0].value
    if len(registers) != len(PREPAYMENT_REGISTERS):
        raise ValueError(f"{len(registers)} prepayment registers, not six")
    return {"result": result, **pence_registers(int(v.value) for v in registers)}


def pence_registers(values: Iterable[int]) -> dict[str, int]:
    """The prepayment registers by name, each in millipence and in whole pence."""
    out: dict[str, int] = {}
    for name, value in zip(PREPAYMENT_REGISTERS, values, strict=True):
        out[f"{name}_millipence"] = value
        out[f"{name}_pence"] = value // MILLIPENCE
    return out


def utc_text(utc_seconds: int) -> str:
    return dt.datetime.fromtimestamp(utc_seconds + GBCS_EPOCH_UNIX, dt.UTC).isoformat()


def log_rows(log: Data, what: str) -> list[list[int]]:
    """A log read back (a compact array of rows of integers) as lists of integers."""
    if log.type is not DataType.COMPACT_ARRAY:
        raise ValueError(f"the {what} is a {log.type.name}, not a compact array")
    return [[int(d.value) for d in entry.value] for entry in log.value.elements()]


@reads(ECS20D)
def prepayment_credits(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    credits = [
        {"at": utc_text(at), "millipence": value, "pence": value // MILLIPENCE}
        for at, value in log_rows(access_response(msg).data[0], "credits log")
    ]
    return {"result": result, "credits": credits}


@reads(ECS21B)
def daily_read_log(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    log = protected_values(msg, keys.user_ka, keys.device_ka)[0]
    days = [
        {"at": utc_text(at), **pence_registers(registers)}
        for at, *registers in log_rows(log, "daily read log")
    ]
    return {"result": result, "days": days}
