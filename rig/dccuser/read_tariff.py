"""The DCC User's readers of the ESME's tariffs and prices (1.1.1, 1.1.2, 1.2.1, 1.2.2, 1.5, 1.6,
1.7, 4.11.1, 4.11.2) (registered with :func:`rig.dccuser.readers.reads`): ECS01a's result of
each SET, ECS24's tariff as DUIS names its parts (switching table, special days, thresholds,
currency, standing charge, TOU and block prices, each price with its scale)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import cosem
from rig.protocol.gbcs.catalogue_tariff import (
    BLOCK_ACTION,
    BLOCK_TARIFFS,
    BLOCKS,
    ECS01A,
    ECS01B,
    ECS01C,
    ECS01D,
    ECS02,
    ECS03,
    ECS04B,
    ECS05,
    ECS24,
    ECS24B,
    SECONDARY_ACTION,
    TOU_RATES,
    block_price_index,
)
from rig.protocol.gbcs.dlms import Data
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase

ECS24_VALUES = 17  # one per GET, in the order the catalogue declares them
CALENDAR = 2  # the index of the seasons among ECS24's values (weeks, days follow)
SPECIAL_DAYS, THRESHOLDS, CURRENCY, STANDING_CHARGE, PRICES = 5, 6, 14, 15, 16


def _results(msg: GbcsMessage) -> tuple[list[Data], list[int]]:
    answer = access_response(msg)
    return answer.data, [r.result for r in answer.results]


@reads(ECS01A, ECS01B, ECS01C, ECS01D, ECS02, ECS03, ECS04B, ECS05)
def tariff_set(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """``result`` 0 when every element was written and activated (or held), else the first
    result that is not (``results``: each SET's; 1.5's reset and 1.7: each ACTION's)."""
    _data, results = _results(msg)
    return {"result": next((r for r in results if r), 0), "results": results}


def _date(raw: bytes) -> str:
    """A COSEM date as YYYY-MM-DD, ``*`` where not specified."""
    year = int.from_bytes(raw[:2], "big")
    parts = ("*" if year == 0xFFFF else f"{year:04d}", *(
        "*" if b == 0xFF else f"{b:02d}" for b in raw[2:4]
    ))  # fmt: skip
    return "-".join(parts)


def _action(selector: int) -> dict[str, int]:
    if selector > SECONDARY_ACTION:  # the secondary element's TOU rate
        return {"tou_rate": selector - SECONDARY_ACTION}
    if selector > BLOCK_ACTION:
        return {"block_tariff": selector - BLOCK_ACTION}
    return {"tou_rate": selector}


def switching_table(seasons: Data, weeks: Data, days: Data) -> dict[str, Any]:
    return {
        "seasons": [
            {
                "name": bytes(s.value[0].value).decode(errors="replace"),
                "start": _date(bytes(s.value[1].value)),
                "week": bytes(s.value[2].value)[0],
            }
            for s in seasons.value
        ],
        "weeks": [
            {"week": bytes(w.value[0].value)[0], "days": [int(d.value) for d in w.value[1:]]}
            for w in weeks.value
        ],
        "day_profiles": [
            {
                "day": int(d.value[0].value),
                "actions": [
                    {
                        "start": "{:02d}:{:02d}:{:02d}".format(*bytes(a.value[0].value)[:3]),
                        **_action(int(a.value[2].value)),
                    }
                    for a in d.value[1].value
                ],
            }
            for d in days.value
        ],
    }


def prices(matrix: Data) -> dict[str, Any]:
    """The price matrix: its scale, the 48 TOU prices and each block tariff's four."""
    scaling, _commodity, table = matrix.value
    charges = {bytes(e.value[0].value)[0]: int(e.value[1].value) for e in table.value}
    return {
        "price_scale": int(scaling.value[1].value),
        "tou_prices": [charges.get(r, 0) for r in range(1, TOU_RATES + 1)],
        "block_prices": [
            [charges.get(block_price_index(t, b), 0) for b in range(1, BLOCKS + 1)]
            for t in range(1, BLOCK_TARIFFS + 1)
        ],
    }


@reads(ECS24)
def tariff(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The active tariff; a part the meter could not read is None (``results``: each
    GET's result; ``result`` the first that is not 0)."""
    data, results = _results(msg)
    if len(data) != ECS24_VALUES:
        raise DecodeError(f"ECS24 answers {ECS24_VALUES} values, not {len(data)}", 0)
    ok = [r == 0 for r in results]
    out: dict[str, Any] = {"result": next((r for r in results if r), 0), "results": results}
    if all(ok[CALENDAR : CALENDAR + 3]):
        out.update(switching_table(*data[CALENDAR : CALENDAR + 3]))
    if ok[SPECIAL_DAYS]:
        out["special_days"] = [
            {"date": _date(bytes(d.value[1].value)), "day": int(d.value[2].value)}
            for d in data[SPECIAL_DAYS].value
        ]
    out["thresholds"] = [
        [int(v.value) for v in data[n].value] if ok[n] else None
        for n in range(THRESHOLDS, THRESHOLDS + BLOCK_TARIFFS)
    ]
    if ok[CURRENCY]:
        out["currency"] = "GBP" if data[CURRENCY].value else "EUR"
    if ok[STANDING_CHARGE]:
        charge, scale = cosem.charge_of(data[STANDING_CHARGE])
        out["standing_charge"], out["standing_charge_scale"] = charge, scale
    if ok[PRICES]:
        out.update(prices(data[PRICES]))
    return out


@reads(ECS24B)
def secondary_tariff(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """The secondary element's tariff: its four TOU prices and scale, special days and
    switching table (actions 201-204: its TOU rates 1-4, read as ``tou_rate`` 1-4)."""
    data, results = _results(msg)
    out: dict[str, Any] = {"result": next((r for r in results if r), 0), "results": results}
    if len(data) != len(results) or any(results):
        return out
    scaling, _commodity, table = data[0].value
    out["price_scale"] = int(scaling.value[1].value)
    out["prices"] = [int(e.value[1].value) for e in table.value]
    out["special_days"] = [
        {"date": _date(bytes(d.value[1].value)), "day": int(d.value[2].value)}
        for d in data[3].value
    ]
    out.update(switching_table(*data[4:7]))
    return out
