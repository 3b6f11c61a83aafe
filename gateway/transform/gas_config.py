"""Transforms of the GSME's configuration, valve and network data, laid out as RTDS 4.5.0
has them: 7.2 Disable Supply and 7.3 Arm Supply become GCS32 and GCS39 (Change Supply: OFF,
OFF/ARMED); 6.6 GCS23 carries the body's CalorificValue (1 dp) and ConversionFactor (5 dp);
6.7 GCS24 (UncontrolledGasFlowRate) or GCS24a (UncontrolledGasFlowRateDecimal, 4 dp) its
flow threshold and periods, then its tamper and depletion states; 6.8 GCS25 (Monthly, the
use case GBCS keeps for it) or GCS25a (any other periodicity) the billing calendar; 6.20.1
GCS41 the ImportMPRN; 9.1 GCS36 a CIN the DCC makes up (:mod:`gateway.transform.cin`);
14.1 GCS31 RTDS's sampling; 6.2.10 GCS20r asks for every non-critical event's configuration.
Each write's issuer event id is the ZigBee time of the transform. The reads (7.4, 6.2.3,
6.2.4, 6.2.7, 6.2.8, 6.2.9) take nothing from the body."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from gateway.transform import cin
from gateway.transform.commission import current_date_time
from gateway.transform.registry import (
    TransformInput,
    TransformRefused,
    for_device_type,
    immediate_only,
    number,
    transforms,
)
from rig.protocol.duis import codes
from rig.protocol.duis.xml import text
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_config import (
    GCS20R,
    GCS21A,
    GCS21D,
    GCS21E,
    GCS21J,
    GCS21K,
    GCS21M,
    GCS23,
    GCS24,
    GCS24A,
    GCS25,
    GCS25A,
    GCS31,
    GCS32,
    GCS33,
    GCS36,
    GCS39,
    GCS41,
    GCS46,
    NON_CRITICAL_GROUP,
    SUPPLY_OF,
    UNCHANGED,
    BillingPeriod,
    ChangeSupply,
    FlowThreshold,
    Publication,
    set_supply_status,
    start_sampling,
    update_string,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import Argument, UseCase, command

now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731 (a test sets it)
# DUIS Periodicity -> (duration, Billing Period Duration Type: not specified, time base)
PERIODICITY = {
    "Daily": (1, 0x21),
    "Weekly": (1, 0x22),
    "Monthly": (1, 0x23),
    "Quarterly": (3, 0x23),
    "SixMonthly": (6, 0x23),
    "Yearly": (12, 0x23),
}
LOCK = {"Locked": 0, "Unchanged": UNCHANGED}  # DUIS SupplyTamperState / SupplyDepletionState


def _send(uc: UseCase, given: TransformInput, argument: Argument | None = None) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw, argument)


def _issuer() -> int:
    return gbz.zigbee_time(now())


def _scaled(given: TransformInput, element: str, places: int) -> int:
    raw = text(given.request.body, f"sr:{element}") or ""
    try:
        return int(Decimal(raw).scaleb(places).to_integral_exact())
    except (InvalidOperation, ArithmeticError):
        raise TransformRefused(
            codes.NOT_DUIS, f"{element} {raw!r} is not a decimal of at most {places} places"
        ) from None


@transforms(GCS33, GCS21K, GCS21D, GCS21M, GCS21E, GCS46, GCS21A, GCS21J)
def read_gas_config(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return _send(uc, given)


@transforms(GCS20R)
def read_gas_alert_behaviours(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return _send(uc, given, (b"\x00" + NON_CRITICAL_GROUP.to_bytes(2, "little"),))


@transforms(GCS32, GCS39)
def change_gas_supply(uc: UseCase, given: TransformInput) -> GbcsMessage:
    immediate_only(given.request.body, uc.srvs[0])
    return _send(uc, given, (ChangeSupply(_issuer(), SUPPLY_OF[uc.message_code]).encode(),))


@transforms(GCS23)
def set_gas_conversion(uc: UseCase, given: TransformInput) -> GbcsMessage:
    issuer = _issuer()
    factor = Publication(issuer, _scaled(given, "ConversionFactor", 5), 0x50)
    calorific = Publication(issuer, _scaled(given, "CalorificValue", 1), 0x10, unit=0x01)
    return _send(uc, given, (b"\x00" + factor.encode(), b"\x01" + calorific.encode()))


@transforms(GCS24, GCS24A)
def set_gas_flow(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    if text(body, "sr:UncontrolledGasFlowRateDecimal") is not None:
        uc, threshold, divisor = GCS24A, _scaled(given, "UncontrolledGasFlowRateDecimal", 4), 10_000
    else:
        uc, threshold, divisor = GCS24, number(body, "sr:UncontrolledGasFlowRate"), 1
    issuer = _issuer()
    flow = FlowThreshold(
        issuer,
        threshold,
        divisor,
        number(body, "sr:StabilisationPeriod"),
        number(body, "sr:MeasurementPeriod"),
    )
    states = set_supply_status(
        issuer,
        LOCK[text(body, "sr:SupplyTamperState") or "Unchanged"],
        LOCK[text(body, "sr:SupplyDepletionState") or "Unchanged"],
    )
    return _send(uc, given, (b"\x00" + flow.encode(), b"\x01" + states))


@transforms(GCS25A, GCS25)
def set_gas_billing_calendar(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    calendar = for_device_type(
        given.request.body,
        "sr:GasBillingCalendar",
        "6.8 for a GSME takes GasBillingCalendar (ElecBillingCalendar is for an ESME)",
    )
    periodicity = text(calendar, "sr:Periodicity") or ""
    duration, kind = PERIODICITY[periodicity]  # the schema checked it is one of these
    start = gbz.zigbee_time(current_date_time(given, "GasBillingCalendar/sr:BillingPeriodStart"))
    period = BillingPeriod(_issuer(), start, duration, kind)
    uc = GCS25 if periodicity == "Monthly" else GCS25A
    return _send(uc, given, (b"\x00" + period.encode(), b"\x01" + period.block_period()))


@transforms(GCS41)
def set_gas_mprn(uc: UseCase, given: TransformInput) -> GbcsMessage:
    mprn = text(given.request.body, "sr:ImportMPRN") or ""
    return _send(uc, given, (b"\x00" + update_string(_issuer(), mprn.encode()),))


@transforms(GCS36)
def send_gas_cin(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return _send(uc, given, (b"\x00" + update_string(_issuer(), cin.new_cin().encode()),))


@transforms(GCS31)
def record_gas_network_data(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return _send(uc, given, (start_sampling(_issuer()),))
