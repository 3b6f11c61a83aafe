"""The DCC User's readers of the ESME's reads of family 4 (registered with
:func:`rig.dccuser.readers.reads`): 4.1.2's TOU registers (ECS17d), 4.17's daily
consumption log (ECS66) and 4.8.1's active import profile (ECS22b), all decrypted as the
requester."""

from __future__ import annotations

from typing import Any

from rig.dccuser.read_prepay_logs import access_result, log_rows, utc_text
from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.gbcs.catalogue_reads import ECS17D, ECS22B, ECS66, TOU_RATES
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import protected_values
from rig.protocol.gbcs.usecase import UseCase


@reads(ECS17D)
def tou_registers(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    value = protected_values(msg, keys.user_ka, keys.device_ka)[0]
    elements = [[int(v.value) for v in e.value] for e in value.value]
    if not elements or len(elements[0]) != TOU_RATES:
        raise ValueError(f"the TOU registers are not {TOU_RATES} rate registers")
    out: dict[str, Any] = {"result": result, "tou_registers": elements[0]}
    if len(elements) > 1:  # a twin-element meter: its secondary element's registers
        out["secondary_registers"] = elements[1]
    return out


@reads(ECS66, ECS22B)
def consumption_log(uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    log = protected_values(msg, keys.user_ka, keys.device_ka)[0]
    entries = [
        {"at": utc_text(at), "consumption": consumption}
        for at, consumption in log_rows(log, "consumption log")
    ]
    return {"result": result, "days" if uc.name == ECS66.name else "periods": entries}
