"""Transforms of the GSME's tariffs and prices (1.1.1, 1.2.1, 1.5, 1.6, 4.11.1), laid out as RTDS
4.5.0 has them.

1.1.1 Update Import Tariff (GasTariffElements) becomes GCS01a: the switching table and
special days as the Calendar cluster's Publish commands of a delivered (tariff) calendar,
each day profile one entry at midnight naming the day's price tier (its TOUTariffAction; 0
for a BlockTariff day), then the prices as Publish Tariff Information, Publish Block
Thresholds (a block tariff's) and Publish Price Matrix. 1.2.1 Update Price becomes GCS01b,
the prices alone. Each carries the DCC's issuer event id (the ZigBee time of the
transform) and, as its start time, 0 (at once), the ExecutionDateTime (future-dated) or,
for DUIS's 3000-12-31, ZCL's cancellation. 1.5 Update Meter Balance becomes GCS40a-d, as
the body says (prepayment or credit mode; an adjustment or a reset), one Credit Adjustment;
1.6 Update Payment Mode GCS02 (Credit) or GCS03 (Prepayment), one Change Payment Mode,
dated as 1.1.1 is. 4.11.1 Read Tariff becomes GCS21f, which takes nothing from the body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from lxml import etree

from gateway.transform.commission import DUIS_CANCEL, current_date_time
from gateway.transform.fixed import from_declaration
from gateway.transform.gas_prepayment import _zcl_date
from gateway.transform.registry import (
    TransformInput,
    TransformRefused,
    for_device_type,
    number,
    transforms,
)
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.gbcs import catalogue_gas_tariff as t
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731 (a test sets it)

GAS_TARIFF = "sr:GasTariffElements"
CURRENCIES = {"GBP": 826, "ECB": 978}  # DUIS CurrencyUnits -> ISO 4217
GAS_PRICES = "sr:PriceElements/sr:GasPriceElements"


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def _start(given: TransformInput, *, tariff_information: bool = False) -> int:
    """The start time the body asks for (ZigBee time): at once, its ExecutionDateTime, or
    (DUIS's 3000-12-31) a cancellation."""
    if text(given.request.body, "sr:ExecutionDateTime") is None:
        return t.AT_ONCE
    at = current_date_time(given, "ExecutionDateTime")
    if at == DUIS_CANCEL:
        return t.CANCEL_TARIFF_INFORMATION if tariff_information else t.CANCEL
    if at <= now():
        raise TransformRefused(
            codes.NOT_DUIS, f"ExecutionDateTime {at.isoformat()} is past: give a later one"
        )
    return gbz.zigbee_time(at)


def _prices(given: TransformInput, element: etree._Element, issuer: int) -> list[bytes]:
    """GasPriceElements (and a block tariff's thresholds) as the Price cluster's Publish
    commands: each entry its ZclBatch part's index (GCS01a's), then the payload."""
    prices = for_device_type(element, GAS_PRICES, "a GSME's prices are GasPriceElements")
    unit = text(prices, "sr:CurrencyUnits") or "GBP"
    if unit not in CURRENCIES:
        raise TransformRefused(codes.NOT_DUIS, f"CurrencyUnits {unit}: give GBP or ECB")
    tou = [int(p.text or 0) for p in prices.findall("sr:TOUTariff/sr:TOUPrice", NS)]
    blocks = [int(p.text or 0) for p in prices.findall("sr:BlockTariff/sr:BlockPrice", NS)]
    thresholds = [
        int(b.text or 0)
        for b in element.findall(f"{GAS_TARIFF}/sr:ThresholdMatrix/sr:BlockThreshold", NS)
    ]
    if not thresholds:  # 1.2.1's: how many the GSME's block tariff has (it keeps them)
        thresholds_in_use = number(prices, "sr:BlockTariff/sr:NumberOfThresholds")
    else:
        thresholds_in_use = len(thresholds)
    if not tou and not blocks:
        raise TransformRefused(codes.NOT_DUIS, "GasPriceElements without TOUTariff or BlockTariff")
    start = _start(given)
    information = t.TariffInformation(
        issuer,
        t.TOU if tou else t.BLOCK,
        len(tou),
        0 if tou else thresholds_in_use,
        number(prices, "sr:StandingCharge"),
        _start(given, tariff_information=True),
        currency=CURRENCIES[unit],
    )
    entries = [bytes([t.TARIFF_INFORMATION]) + information.encode()]
    if not tou and thresholds:
        published = t.BlockThresholds(issuer, tuple(thresholds), start)
        entries.append(bytes([t.BLOCK_THRESHOLD]) + published.encode())
    matrix = t.PriceMatrix(
        issuer,
        tuple(enumerate(tou, 1)) if tou else tuple(enumerate(blocks)),
        bool(tou),
        start,
    )
    entries.append(bytes([t.PRICE_MATRIX]) + matrix.encode())
    return entries


def _calendar(given: TransformInput, tariff: etree._Element, issuer: int) -> list[bytes]:
    """The switching table and special days as the Calendar cluster's Publish commands of
    the delivered calendar (its issuer calendar id the issuer event id)."""
    head = _u32(0) + _u32(issuer) + _u32(issuer)  # provider, issuer event id, calendar id
    start = _u32(_start(given))
    once = bytes([0, 1])  # command index 0 of 1 command
    table = tariff.find("sr:SwitchingTable", NS)
    if table is None:  # the schema requires it
        raise TransformRefused(codes.NOT_DUIS, "GasTariffElements without a SwitchingTable")
    days = table.findall("sr:DayProfiles/sr:DayProfile", NS)
    weeks = table.findall("sr:WeekProfiles/sr:WeekProfile", NS)
    seasons = table.findall("sr:Seasons/sr:Season", NS)
    specials = tariff.findall("sr:SpecialDays/sr:SpecialDay", NS)
    entries = [
        bytes([t.CAL])
        + head
        + start
        + bytes([t.TARIFF_CALENDAR, 0, 0, len(seasons), len(weeks), len(days)])
    ]
    for day in days:
        tier = number(day, "sr:TOUTariffAction")  # 0: a BlockTariff day
        if tier > t.TIERS:
            raise TransformRefused(codes.NOT_DUIS, f"TOUTariffAction {tier}: a GSME has 4 tiers")
        name = number(day, "sr:DayName")
        shape = bytes([name, 1]) + once + bytes([t.TARIFF_CALENDAR])
        entries.append(bytes([t.DAYS]) + head + shape + (0).to_bytes(2, "little") + bytes([tier]))
    for week in weeks:
        by_weekday = sorted(
            week.findall("sr:ReferencedDayName", NS), key=lambda d: int(d.get("index") or 0)
        )
        week_name = bytes([number(week, "sr:WeekName")])
        entries.append(
            bytes([t.WEEKS]) + head + week_name + bytes(int(d.text or 0) for d in by_weekday)
        )
    season_entries = b"".join(
        _zcl_date(_found(s, "sr:SeasonStartDate")) + bytes([number(s, "sr:ReferencedWeekName")])
        for s in seasons
    )
    entries.append(bytes([t.SEASONS]) + head + once + season_entries)
    special_entries = b"".join(
        _zcl_date(_found(d, "sr:Date")) + bytes([number(d, "sr:ReferencedDayName")])
        for d in specials
    )
    entries.append(
        bytes([t.SPECIAL_DAYS])
        + head
        + start
        + bytes([t.TARIFF_CALENDAR, len(specials)])
        + once
        + special_entries
    )
    return entries


def _found(parent: etree._Element, path: str) -> etree._Element:
    found = parent.find(path, NS)
    if found is None:  # the schema requires it
        raise TransformRefused(codes.NOT_DUIS, f"a {etree.QName(parent).localname} without {path}")
    return found


@transforms(t.GCS01A)
def set_gas_tariff(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    tariff = for_device_type(
        body,
        GAS_TARIFF,
        "1.1.1 for a GSME takes GasTariffElements (ElectricityTariffElements is for an ESME)",
    )
    issuer = gbz.zigbee_time(now())
    entries = _calendar(given, tariff, issuer) + _prices(given, body, issuer)
    return command(uc, given.counter, given.originator.raw, given.device.raw, tuple(entries))


@transforms(t.GCS01B)
def set_gas_price(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    for_device_type(
        body, GAS_PRICES, "1.2.1 for a GSME takes GasPriceElements (Electricity... is for an ESME)"
    )
    first = t.TARIFF_INFORMATION  # GCS01b's parts are GCS01a's last three
    entries = [bytes([e[0] - first]) + e[1:] for e in _prices(given, body, gbz.zigbee_time(now()))]
    return command(uc, given.counter, given.originator.raw, given.device.raw, tuple(entries))


transforms(t.GCS21F)(from_declaration)  # the command its declaration describes

BALANCE = {  # 1.5's body: (mode, what) -> the use case
    ("PrepaymentMode", "AdjustMeterBalance"): t.GCS40A,
    ("PrepaymentMode", "ResetMeterBalance"): t.GCS40B,
    ("CreditMode", "AdjustMeterBalance"): t.GCS40C,
    ("CreditMode", "ResetMeterBalance"): t.GCS40D,
}


@transforms(t.GCS40A, t.GCS40B, t.GCS40C, t.GCS40D)
def update_gas_meter_balance(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    asked = [
        (chosen, what, found)
        for (mode, what), chosen in BALANCE.items()
        if (found := body.find(f"sr:{mode}/sr:{what}", NS)) is not None
    ]
    if not asked:
        raise TransformRefused(
            codes.WRONG_DEVICE_TYPE,
            "1.5 for a GSME takes PrepaymentMode or CreditMode, each with AdjustMeterBalance "
            "or ResetMeterBalance",
        )
    chosen, what, found = asked[0]
    value = int(found.text or 0) if what == "AdjustMeterBalance" else 0
    payload = t.credit_adjustment(gbz.zigbee_time(now()), t.ADJUSTMENT_TYPE[chosen.name], value)
    return command(chosen, given.counter, given.originator.raw, given.device.raw, (payload,))


@transforms(t.GCS02, t.GCS03)
def update_gas_payment_mode(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    if body.find("sr:Credit", NS) is not None:
        chosen, configuration, cut_off = t.GCS02, t.CREDIT_MODE_CONFIGURATION, -1
    elif (prepayment := body.find("sr:Prepayment", NS)) is not None:
        chosen, configuration = t.GCS03, t.PREPAYMENT_CONFIGURATION
        if text(prepayment, "sr:SuspendDebtDisabled") == "true":
            configuration |= t.DEBT_WHEN_DISABLED
        if text(prepayment, "sr:SuspendDebtEmergency") == "true":
            configuration &= ~t.DEBT_IN_EMERGENCY
        cut_off = number(prepayment, "sr:DisablementThreshold")
    else:
        raise TransformRefused(codes.NOT_DUIS, "1.6 takes Credit or Prepayment")
    payload = t.change_payment_mode(
        gbz.zigbee_time(now()), configuration, cut_off, _start(given, tariff_information=True)
    )
    return command(chosen, given.counter, given.originator.raw, given.device.raw, (payload,))
