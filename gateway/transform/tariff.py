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
    ACCOUNT_ACTIVE,
    ACTIVATED,
    AT_ONCE,
    BLOCK_ACTION,
    BLOCK_TARIFFS,
    BLOCKS,
    COMMODITY,
    CREDIT_MODE,
    ECS01A,
    ECS01B,
    ECS01C,
    ECS01D,
    ECS02,
    ECS03,
    ECS04A,
    ECS04B,
    ECS05,
    ECS24,
    ECS24B,
    ELEMENTS,
    NEVER,
    PREPAYMENT_MODE,
    PRICE_INDICES,
    PRICES,
    SECONDARY_ACTION,
    SECONDARY_COMMODITY,
    SECONDARY_ELEMENTS,
    SECONDARY_RATES,
    TARIFF_SCRIPTS,
    THRESHOLD_MATRIX,
    block_price_index,
    price_matrix,
)
from rig.protocol.gbcs.cosem import obis
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


def _action(schedule: etree._Element, tou_base: int) -> int:
    tou = text(schedule, "sr:TOUTariffAction")
    if tou is not None:
        return tou_base + int(tou)
    return BLOCK_ACTION + _int(schedule, "sr:BlockTariffAction")


def _days(table: etree._Element, tou_base: int = 0) -> Data:
    out = []
    for day in table.iterfind("sr:DayProfiles/sr:DayProfile", NS):
        actions = [
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.OCTET_STRING, switch_time(text(s, "sr:StartTime") or "0:0:0")),
                    Data(_D.OCTET_STRING, TARIFF_SCRIPTS),
                    Data(_D.LONG_UNSIGNED, _action(s, tou_base)),
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
    return _matrix(charges, _int(prices, "sr:PriceScale"), COMMODITY)


def _matrix(charges: dict[int, int], scale: int, commodity: tuple[int, bytes, int]) -> Data:
    for index, charge in charges.items():
        _long(charge, f"the price of {index:#04x}")
    return price_matrix(charges, scale, commodity, tuple(charges))


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


@transforms(ECS04A, ECS04B)
def adjust_meter_balance(uc: UseCase, given: TransformInput) -> GbcsMessage:
    """1.5: ECS04a adjusts the balance (PrepaymentMode, millipence); ECS04b resets it
    (CreditMode's ResetMeterBalance)."""
    body = given.request.body  # UpdateMeterBalance
    if body.find("sr:CreditMode/sr:ResetMeterBalance", NS) is not None:
        return command(ECS04B, given.counter, given.originator.raw, given.device.raw)
    amount = text(body, "sr:PrepaymentMode/sr:AdjustMeterBalance")
    if amount is None:
        raise _refuse("1.5 takes PrepaymentMode/AdjustMeterBalance or CreditMode/ResetMeterBalance")
    value = Data(_D.DOUBLE_LONG, int(amount))
    return command(uc, given.counter, given.originator.raw, given.device.raw, value)


@transforms(ECS24, ECS24B, ECS05)
def without_parameters(uc: UseCase, given: TransformInput) -> GbcsMessage:
    """4.11.1, 4.11.2 and 1.7: the command as declared."""
    return command(uc, given.counter, given.originator.raw, given.device.raw)


# --- 1.1.2, 1.2.2: the secondary element -------------------------------------------------------
def _secondary_prices(body: etree._Element) -> Data:
    prices = body.find("sr:PriceElements", NS)
    assert prices is not None  # the schema requires it
    charges = dict.fromkeys(range(1, SECONDARY_RATES + 1), 0)
    for price in prices.iterfind("sr:ElectricityPriceElement", NS):
        index = int(price.get("index") or 0)
        if index not in charges:
            raise _refuse(f"ElectricityPriceElement {index} is not 1-{SECONDARY_RATES}")
        charges[index] = int(price.text or 0)
    return _matrix(charges, _int(prices, "sr:PriceScale"), SECONDARY_COMMODITY)


@transforms(ECS01C)
def set_secondary_tariff(uc: UseCase, given: TransformInput) -> GbcsMessage:
    update = given.request.body  # UpdateImportTariffSecondaryElement
    table = update.find("sr:SwitchingTable", NS)
    assert table is not None  # the schema requires it
    values: dict[str, Data] = {
        "prices": _secondary_prices(update),
        "switching_table_1": _seasons(table),
        "switching_table_2": _weeks(table),
        "switching_table_3": _days(table, SECONDARY_ACTION),
        "special_days": _special_days(update),
    }
    at = Data(_D.OCTET_STRING, activation_of(update))
    values.update({f"{e.name}_at": at for e in SECONDARY_ELEMENTS})
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


@transforms(ECS01D)
def set_secondary_price(uc: UseCase, given: TransformInput) -> GbcsMessage:
    update = given.request.body  # UpdatePriceSecondaryElement
    at = Data(_D.OCTET_STRING, activation_of(update))
    values = {"prices": _secondary_prices(update), "prices_at": at}
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


# --- 1.6: the payment mode ---------------------------------------------------------------------
COLLECT_ALL, NOT_WHEN_DISABLED = (3, b"\xe0"), (3, b"\xc0")  # collection_configuration
METER_BALANCE, EMERGENCY_CREDIT, ACCUMULATED_DEBT = 0, 1, 2  # credits 0-0:19.10.n
PRICES_, DEBT_1, DEBT_2, PAYMENT_DEBT, STANDING_CHARGE = 0, 1, 2, 3, 4  # charges 0-0:19.20.n


def charge_configuration(
    prepayment: bool, suspend_disabled: bool = False, suspend_emergency: bool = False
) -> Data:
    """The account's credit charge configuration as RTDS's 1.6 (a single element ESME: no
    secondary element's charges): which credit each charge is collected from, and when.
    SuspendDebtDisabled stops the time debts being collected when the supply is disabled;
    SuspendDebtEmergency has the accumulated debt take the standing charge and time debts."""
    pairs = [(METER_BALANCE, PRICES_, COLLECT_ALL), (METER_BALANCE, STANDING_CHARGE, COLLECT_ALL)]
    if prepayment:
        debt = NOT_WHEN_DISABLED if suspend_disabled else COLLECT_ALL
        pairs += [
            (METER_BALANCE, DEBT_1, debt),
            (METER_BALANCE, DEBT_2, debt),
            (METER_BALANCE, PAYMENT_DEBT, COLLECT_ALL),
            (EMERGENCY_CREDIT, PAYMENT_DEBT, COLLECT_ALL),
            (EMERGENCY_CREDIT, PRICES_, COLLECT_ALL),
            (EMERGENCY_CREDIT, STANDING_CHARGE, COLLECT_ALL),
            (EMERGENCY_CREDIT, DEBT_1, debt),
            (EMERGENCY_CREDIT, DEBT_2, debt),
        ]
        if suspend_emergency:
            pairs += [(ACCUMULATED_DEBT, c, COLLECT_ALL) for c in (STANDING_CHARGE, DEBT_1, DEBT_2)]
    return Data(
        _D.ARRAY,
        [
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.OCTET_STRING, obis(f"0-0:19.10.{credit}")),
                    Data(_D.OCTET_STRING, obis(f"0-0:19.20.{charge}")),
                    Data(_D.BIT_STRING, bits),
                ],
            )
            for credit, charge, bits in pairs
        ],
    )


def _true(element: etree._Element, path: str) -> bool:
    return text(element, path) == "true"


@transforms(ECS02, ECS03)
def update_payment_mode(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    """1.6: ECS02 to credit (Credit), ECS03 to prepayment (Prepayment, with its disablement
    threshold in millipence and whether debt collection is suspended)."""
    body = given.request.body  # UpdatePaymentMode
    at = Data(_D.OCTET_STRING, activation_of(body))
    to_prepayment = body.find("sr:Prepayment", NS)
    mode = PREPAYMENT_MODE if to_prepayment is not None else CREDIT_MODE
    values = {
        "payment_mode_1": Data(_D.STRUCTURE, [Data(_D.ENUM, mode), Data(_D.ENUM, ACCOUNT_ACTIVE)]),
        "payment_mode_at": at,
    }
    if to_prepayment is None:
        values["payment_mode_2"] = charge_configuration(prepayment=False)
        return command(ECS02, given.counter, given.originator.raw, given.device.raw, values)
    values["payment_mode_2"] = charge_configuration(
        True,
        _true(to_prepayment, "sr:SuspendDebtDisabled"),
        _true(to_prepayment, "sr:SuspendDebtEmergency"),
    )
    threshold = _int(to_prepayment, "sr:DisablementThreshold")
    values.update(
        disablement_threshold=Data(_D.DOUBLE_LONG, threshold), disablement_threshold_at=at
    )
    return command(ECS03, given.counter, given.originator.raw, given.device.raw, values)
