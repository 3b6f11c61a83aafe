"""Transforms of the ESME's tariffs and prices (1.1.1, 1.1.2, 1.2.1, 1.2.2, 1.5, 1.6, 1.7, 4.11.1,
4.11.2), laid out as RTDS 4.5.0 has them.

1.1.1 Update Import Tariff (Primary Element) becomes ECS01a: the body's switching table
(seasons, week profiles, day profiles whose actions are TOU rates or block tariffs), special
days, threshold matrix, currency, standing charge and prices, written as each element's
passive value, then each element's activation date-time: at once (no ExecutionDateTime),
the ExecutionDateTime (future-dated), or never (the cancellation's 3000-12-31T00:00:00Z).
4.11.1 Read Tariff (Primary Element) becomes ECS24, reading them back.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from gateway.transform.calendar import switch_time
from gateway.transform.prepay_config import _date as duis_date  # DUIS Date -> COSEM date
from gateway.transform.registry import TransformInput, TransformRefused, transforms
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue_tariff import (
    ACTIVATED,
    AT_ONCE,
    BLOCK_ACTION,
    BLOCK_TARIFFS,
    BLOCKS,
    COMMODITY,
    COMMODITY_SCALE,
    ECS01A,
    ECS01B,
    ECS04A,
    ECS24,
    ELEMENTS,
    NEVER,
    PRICE_INDICES,
    PRICES,
    TARIFF_SCRIPTS,
    THRESHOLD_MATRIX,
    block_price_index,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

_D = DataType
# DUIS's cancellation of a future-dated request: an ExecutionDateTime of 3000-12-31
CANCEL_FROM = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
NO_THRESHOLD = 0xFFFF_FFFF
MIDNIGHT = b"\x00\x00\x00\x00\x80\x00\xff"  # a season starts at 00:00:00.00, UTC


def _refuse(why: str) -> TransformRefused:
    return TransformRefused(codes.NOT_DUIS, why)


def _int(element: etree._Element, path: str) -> int:
    return int(text(element, path) or 0)


def _octet(n: int) -> Data:
    return Data(_D.OCTET_STRING, bytes([n]))


def _seasons(table: etree._Element) -> Data:
    out = []
    for season in table.iterfind("sr:Seasons/sr:Season", NS):
        start = season.find("sr:SeasonStartDate", NS)
        assert start is not None  # the schema requires it
        name = (text(season, "sr:SeasonName") or "").encode()
        parts = [
            Data(_D.OCTET_STRING, name),
            Data(_D.OCTET_STRING, duis_date(start) + MIDNIGHT),
            _octet(_int(season, "sr:ReferencedWeekName")),
        ]
        out.append(Data(_D.STRUCTURE, parts))
    return Data(_D.ARRAY, out)


def _weeks(table: etree._Element) -> Data:
    out = []
    for week in table.iterfind("sr:WeekProfiles/sr:WeekProfile", NS):
        days = sorted(
            week.iterfind("sr:ReferencedDayName", NS), key=lambda d: int(d.get("index") or 0)
        )
        ids = [Data(_D.UNSIGNED, int(d.text or 0)) for d in days]
        out.append(Data(_D.STRUCTURE, [_octet(_int(week, "sr:WeekName")), *ids]))
    return Data(_D.ARRAY, out)


def _action(schedule: etree._Element) -> int:
    tou = text(schedule, "sr:TOUTariffAction")
    if tou is not None:
        return int(tou)
    return BLOCK_ACTION + _int(schedule, "sr:BlockTariffAction")


def _days(table: etree._Element) -> Data:
    out = []
    for day in table.iterfind("sr:DayProfiles/sr:DayProfile", NS):
        actions = [
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.OCTET_STRING, switch_time(text(s, "sr:StartTime") or "0:0:0")),
                    Data(_D.OCTET_STRING, TARIFF_SCRIPTS),
                    Data(_D.LONG_UNSIGNED, _action(s)),
                ],
            )
            for s in day.iterfind("sr:ProfileSchedule", NS)
        ]
        day_id = Data(_D.UNSIGNED, _int(day, "sr:DayName"))
        out.append(Data(_D.STRUCTURE, [day_id, Data(_D.ARRAY, actions)]))
    return Data(_D.ARRAY, out)


def _special_days(elements: etree._Element) -> Data:
    out = []
    for n, day in enumerate(elements.iterfind("sr:SpecialDays/sr:SpecialDay", NS), 1):
        date = day.find("sr:Date", NS)
        assert date is not None  # the schema requires it
        entry = [
            Data(_D.LONG_UNSIGNED, n),
            Data(_D.OCTET_STRING, duis_date(date)),
            Data(_D.UNSIGNED, _int(day, "sr:ReferencedDayName")),
        ]
        out.append(Data(_D.STRUCTURE, entry))
    return Data(_D.ARRAY, out)


def _thresholds(elements: etree._Element) -> dict[str, Data]:
    given: dict[int, list[int]] = {}
    for row in elements.iterfind("sr:ThresholdMatrix/sr:Thresholds", NS):
        cells = sorted(
            row.iterfind("sr:BlockThreshold", NS), key=lambda c: int(c.get("index") or 0)
        )
        given[int(row.get("index") or 0)] = [int(c.text or 0) for c in cells]
    out = {}
    for n, name in enumerate(THRESHOLD_MATRIX.names, 1):
        values = given.get(n, [NO_THRESHOLD])
        out[name] = Data(_D.ARRAY, [Data(_D.DOUBLE_LONG_UNSIGNED, v) for v in values])
    return out


def _long(value: int, what: str) -> Data:
    if not -32768 <= value <= 32767:
        raise _refuse(f"{what} {value} does not fit a DLMS long: give a larger scale")
    return Data(_D.LONG, value)


def _prices(prices: etree._Element) -> Data:
    """The price matrix: the TOU prices and the block tariffs' prices (TOUTariff, BlockTariff or
    HybridTariff)."""
    charges = dict.fromkeys(PRICE_INDICES, 0)
    for price in prices.iterfind("sr:*/sr:TOUPrice", NS):
        charges[int(price.get("index") or 0)] = int(price.text or 0)
    for row in prices.iterfind("sr:*/sr:BlockPrices", NS):
        tariff = int(row.get("index") or 0)
        for cell in row.iterfind("sr:BlockPrice", NS):
            block = int(cell.get("index") or 0)
            if not (1 <= tariff <= BLOCK_TARIFFS and 1 <= block <= BLOCKS):
                raise _refuse(f"BlockPrices {tariff} BlockPrice {block} is not in the matrix")
            charges[block_price_index(tariff, block)] = int(cell.text or 0)
    if set(charges) != set(PRICE_INDICES):
        raise _refuse("a TOUPrice index is outside 1-48")
    class_id, instance, attribute = COMMODITY
    table = [
        Data(_D.STRUCTURE, [_octet(i), _long(charges[i], f"the price of {i:#04x}")])
        for i in PRICE_INDICES
    ]
    scale = _int(prices, "sr:PriceScale")
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.STRUCTURE, [Data(_D.INTEGER, COMMODITY_SCALE), Data(_D.INTEGER, scale)]),
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.LONG_UNSIGNED, class_id),
                    Data(_D.OCTET_STRING, instance),
                    Data(_D.INTEGER, attribute),
                ],
            ),
            Data(_D.ARRAY, table),
        ],
    )


def activation_of(body: etree._Element) -> bytes:
    """When the tariff takes effect: at once, at the ExecutionDateTime, or (DUIS's
    cancellation date) never."""
    raw = text(body, "sr:ExecutionDateTime")
    if raw is None:
        return AT_ONCE
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise _refuse(f"ExecutionDateTime {raw!r} is not a date-time") from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return NEVER if when >= CANCEL_FROM else dlms.date_time(when)


@transforms(ECS01A)
def set_tariff(uc: UseCase, given: TransformInput) -> GbcsMessage:
    update = given.request.body  # UpdateImportTariffPrimaryElement
    elements = update.find("sr:ElecTariffElements", NS)
    prices = update.find("sr:PriceElements/sr:ElectricityPriceElements", NS)
    if elements is None or prices is None:
        raise TransformRefused(
            codes.WRONG_DEVICE_TYPE,
            "1.1.1 for an ESME takes UpdateImportTariffPrimaryElement with ElecTariffElements "
            "and ElectricityPriceElements (gas tariffs are for a GSME)",
        )
    table = elements.find("sr:SwitchingTable", NS)
    assert table is not None  # the schema requires it
    currency = text(elements, "sr:CurrencyUnits") or "GBP"
    values: dict[str, Data] = {
        "switching_table_1": _seasons(table),
        "switching_table_2": _weeks(table),
        "switching_table_3": _days(table),
        "special_days": _special_days(elements),
        **_thresholds(elements),
        "currency": Data(_D.BOOLEAN, 0xFF if currency == "GBP" else 0),
        **_price_values(prices),
    }
    at = Data(_D.OCTET_STRING, activation_of(update))
    values.update({f"{e.name}_at": at for e in ELEMENTS})
    assert {f"{e.name}_at" for e, _ in ACTIVATED} <= values.keys()
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


def _price_values(prices: etree._Element) -> dict[str, Data]:
    """The standing charge and the price matrix of ElectricityPriceElements."""
    standing = _int(prices, "sr:StandingCharge"), _int(prices, "sr:StandingChargeScale")
    return {"standing_charge": cosem.unit_charge(*standing), "prices": _prices(prices)}


@transforms(ECS01B)
def set_price(uc: UseCase, given: TransformInput) -> GbcsMessage:
    update = given.request.body  # UpdatePricePrimaryElement
    prices = update.find("sr:PriceElements/sr:ElectricityPriceElements", NS)
    if prices is None:
        raise TransformRefused(
            codes.WRONG_DEVICE_TYPE,
            "1.2.1 for an ESME takes ElectricityPriceElements (gas prices are for a GSME)",
        )
    values = _price_values(prices)
    at = Data(_D.OCTET_STRING, activation_of(update))
    values.update({f"{e.name}_at": at for e in PRICES})
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


@transforms(ECS04A)
def adjust_meter_balance(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body  # UpdateMeterBalance
    amount = text(body, "sr:PrepaymentMode/sr:AdjustMeterBalance")
    if amount is None:
        raise TransformRefused(
            codes.NOT_SERVED,
            "1.5 with CreditMode ResetMeterBalance (ECS04b) is not served by the rig's ESME: "
            "adjust the balance in PrepaymentMode with AdjustMeterBalance (millipence)",
        )
    value = Data(_D.DOUBLE_LONG, int(amount))
    return command(uc, given.counter, given.originator.raw, given.device.raw, value)


@transforms(ECS24)
def read_tariff(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw)
