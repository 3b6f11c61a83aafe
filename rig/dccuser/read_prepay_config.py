"""The DCC User's readers of the ESME's prepayment configuration use cases (registered with
:func:`rig.dccuser.readers.reads`): ECS26a (4.13) as named values, amounts in pence (the
ESME answers in millipence), and ECS08a (2.1), the result of each of its SETs."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import cosem
from rig.protocol.gbcs.catalogue_prepay_config import ECS08A, ECS26A, NON_DISABLEMENT_SCRIPTS
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.dlms import Data
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase

ECS26A_VALUES = 18  # one per GET, in the order the catalogue declares them
SCRIPTS = {selector: name for name, selector in NON_DISABLEMENT_SCRIPTS.items()}
# ECS26a's amounts, in pence: the index of each among its eighteen values
AMOUNTS = {
    "max_credit_threshold_pence": 8,
    "max_meter_balance_pence": 10,
    "low_credit_threshold_pence": 11,
    "emergency_credit_limit_pence": 14,
    "emergency_credit_threshold_pence": 15,
}


def _results(msg: GbcsMessage) -> tuple[list[Data], list[int]]:
    answer = access_response(msg)
    return answer.data, [r.result for r in answer.results]


def _special_day(entry: Data) -> dict[str, Any]:
    index, date, _day_id = entry.value
    raw = bytes(date.value)
    return {"index": int(index.value), "month": raw[2], "day": raw[3]}


def _switch(entry: Data) -> dict[str, Any]:
    index, _on, _table, selector, time, *_ = entry.value
    hh, mm, ss = bytes(time.value)[:3]
    return {
        "index": int(index.value),
        "script": SCRIPTS.get(int(selector.value), str(selector.value)),
        "switch_time": f"{hh:02d}:{mm:02d}:{ss:02d}",
    }


@reads(ECS26A)
def prepayment_configuration(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The configuration by name; a value the meter could not read is None (``results``
    gives each GET's result; ``result`` the first that is not 0)."""
    data, results = _results(msg)
    if len(data) != ECS26A_VALUES:
        raise DecodeError(f"ECS26a answers {ECS26A_VALUES} values, not {len(data)}", 0)
    ok = [r == 0 for r in results]

    def value(n: int) -> Any:
        return data[n].value if ok[n] else None

    out: dict[str, Any] = {"result": next((r for r in results if r), 0), "results": results}
    for td, rate, period in ((1, 0, 2), (2, 4, 5)):
        if ok[rate]:
            charge, scale = cosem.charge_of(data[rate])
            out[f"debt_recovery_rate_{td}"] = charge
            out[f"debt_recovery_rate_price_scale_{td}"] = scale
        out[f"debt_recovery_period_{td}_s"] = value(period)
    out["debt_recovery_per_payment"] = value(7)
    for name, n in AMOUNTS.items():
        out[name] = int(data[n].value) // MILLIPENCE if ok[n] else None
    out["disablement_threshold_pence"] = (
        int(data[9].value[0].value) // MILLIPENCE if ok[9] else None
    )
    out["debt_recovery_rate_cap"] = value(12)
    out["debt_recovery_rate_cap_period_s"] = value(13)
    out["special_days"] = [_special_day(e) for e in data[1].value] if ok[1] else None
    out["non_disablement_schedule"] = [_switch(e) for e in data[16].value] if ok[16] else None
    out["credit_charge_configuration"] = data[17].to_json() if ok[17] else None
    return out


@reads(ECS08A)
def prepay_configuration_updated(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """``result`` 0 when every value was written and activated, else the first result that
    is not (``results``: each SET's)."""
    _data, results = _results(msg)
    return {"result": next((r for r in results if r), 0), "results": results}
