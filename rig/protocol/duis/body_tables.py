"""Request bodies as declarations: for each SRV the rig serves whose body has no builder of its
own in :mod:`rig.protocol.duis.bodies`, a table of the body's elements in DUIS schema order,
each with its default and the ``--param`` name that overrides it.

A row's path names the element under the body (``ReadLogPeriod/StartDateTime``); a segment
may carry attributes (``BlockThreshold@index=2``) and a ``#n`` to tell apart repeated
siblings that carry none (``ProfileSchedule#2``). A row's default is text (``""``: an empty
element), a function of the build time (``last_day``), :data:`REQUIRED` (the parameter must
be given) or :data:`OPTIONAL` (left out unless given). :func:`build` lays a table out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from rig.protocol.duis.xml import SR

_E = f"{{{SR}}}"
Default = str | Callable[[dt.datetime], str] | None


class _Optional(str):
    """The default of an element left out unless its parameter is given."""


REQUIRED: Default = None
OPTIONAL: Default = _Optional("")
NO_THRESHOLD = "4294967295"
NO_GAS_THRESHOLD = "4294967295"
CANCEL = "3000-12-31T00:00:00.00Z"  # DUIS: an ExecutionDateTime that cancels a future-dated one


@dataclass(frozen=True, slots=True)
class Field:
    """One element of a body: its path under the body, default and ``--param`` name."""

    path: str
    default: Default = ""
    param: str | None = None


def duis_time(when: dt.datetime) -> str:
    """A DUIS dateTime (UTC, hundredths, ``Z``)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4] + "Z"


def now(at: dt.datetime) -> str:
    return duis_time(at)


def day_ago(at: dt.datetime) -> str:
    return duis_time(at - dt.timedelta(days=1))


def tomorrow(at: dt.datetime) -> str:
    return (at + dt.timedelta(days=1)).strftime("%Y-%m-%d")


def hour_on(at: dt.datetime) -> str:
    return duis_time(at + dt.timedelta(hours=1))


F = Field
EXECUTION = F("ExecutionDateTime", OPTIONAL, "ExecutionDateTime")  # future-dated; CANCEL cancels
# a log read: the last day, up to the time the body is built
READ_LOG = (
    F("ReadLogPeriod/StartDateTime", day_ago, "StartDateTime"),
    F("ReadLogPeriod/EndDateTime", now, "EndDateTime"),
)
KA_URP = F("KAPublicSecurityCredentials", OPTIONAL, "KAPublicSecurityCredentials")
WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _date(prefix: str, year: str | None, month: str | None, day: str | None) -> tuple[Field, ...]:
    """A DUIS date with wildcards (``None``: not specified), any day of the week."""
    return (
        F(f"{prefix}/Year/{'SpecifiedYear' if year else 'NonSpecifiedYear'}", year or ""),
        F(f"{prefix}/Month/{'SpecifiedMonth' if month else 'NonSpecifiedMonth'}", month or ""),
        F(
            f"{prefix}/DayOfMonth/{'SpecifiedDayOfMonth' if day else 'NonSpecifiedDayOfMonth'}",
            day or "",
        ),
        F(f"{prefix}/DayOfWeek/NonSpecifiedDayOfWeek"),
    )


def _every_day(prefix: str) -> tuple[Field, ...]:
    return tuple(
        F(f"{prefix}/DayOfWeekApplicability#{n}/DayOfWeekID", day) for n, day in enumerate(WEEK)
    )


def _switching_table(prefix: str, action: str) -> tuple[Field, ...]:
    """One day profile (rate 1 from midnight, rate 2 from ``Rate2From``), every day of one
    week, one season from 1 January 2015."""
    day = f"{prefix}/DayProfiles/DayProfile"
    week = f"{prefix}/WeekProfiles/WeekProfile"
    season = f"{prefix}/Seasons/Season"
    return (
        F(f"{day}/DayName", "1"),
        F(f"{day}/ProfileSchedule#1/StartTime", "00:00:00.00Z"),
        F(f"{day}/ProfileSchedule#1/{action}", "1"),
        F(f"{day}/ProfileSchedule#2/StartTime", "07:00:00.00Z", "Rate2From"),
        F(f"{day}/ProfileSchedule#2/{action}", "2"),
        F(f"{week}/WeekName", "1"),
        *(F(f"{week}/ReferencedDayName@index={n}", "1") for n in range(1, 8)),
        F(f"{season}/SeasonName", "all"),
        *_date(f"{season}/SeasonStartDate", "2015", "01", "01"),
        F(f"{season}/ReferencedWeekName", "1"),
    )


def _elec_tou_prices(prefix: str) -> tuple[Field, ...]:
    """An ESME's TOU prices: standing charge and two rates (scale -5: 1/1000 p)."""
    return (
        F(f"{prefix}/StandingCharge", "20000", "StandingCharge"),
        F(f"{prefix}/StandingChargeScale", "-5", "StandingChargeScale"),
        F(f"{prefix}/PriceScale", "-5", "PriceScale"),
        F(f"{prefix}/TOUTariff/TOUPrice@index=1", "1500", "TOUPrice1"),
        F(f"{prefix}/TOUTariff/TOUPrice@index=2", "3000", "TOUPrice2"),
    )


def _elec_secondary_prices() -> tuple[Field, ...]:
    return (
        F("PriceElements/PriceScale", "-5", "PriceScale"),
        *(
            F(f"PriceElements/ElectricityPriceElement@index={n}", "1500", f"Price{n}")
            for n in range(1, 5)
        ),
    )


def _switch(prefix: str, index: str) -> tuple[Field, ...]:
    return (F(f"{prefix}@index={index}/Duration", "30", "Duration"),)


def _aux_schedule_dates(prefix: str) -> tuple[Field, ...]:
    return (
        F(f"{prefix}/SwitchTime", "06:00:00.00Z", "SwitchTime"),
        *_date(f"{prefix}/StartDate", None, None, None),
        *_date(f"{prefix}/EndDate", None, None, None),
    )


def _controller_state(level: str) -> tuple[Field, ...]:
    """7.13 / 7.16: the controller (``AuxiliaryController``, 1-5), from now for an hour."""
    return (
        F("@auxiliaryControllerN", "1", "AuxiliaryController"),
        F("StartDateTime", now, "StartDateTime"),
        F("EndDateTime", hour_on, "EndDateTime"),
        F("CommandedStateLevel", level, "CommandedStateLevel"),
    )


# SRV -> its body's elements, in schema order (the body element is bodies.SRV_BODIES[srv])
BODY_TABLES: dict[str, tuple[Field, ...]] = {
    "1.1.1": (
        EXECUTION,
        F("ElecTariffElements/CurrencyUnits", "GBP"),
        *_switching_table("ElecTariffElements/SwitchingTable", "TOUTariffAction"),
        F("ElecTariffElements/SpecialDays"),
        *(  # a TOU tariff: no block thresholds (the highest, in each of the 8 TOU rates)
            F(
                f"ElecTariffElements/ThresholdMatrix/Thresholds@index={n}/BlockThreshold@index=1",
                NO_THRESHOLD,
            )
            for n in range(1, 9)
        ),
        *_elec_tou_prices("PriceElements/ElectricityPriceElements"),
    ),
    "1.1.2": (
        EXECUTION,
        *_switching_table("SwitchingTable", "TOUTariffAction"),
        F("SpecialDays"),
        *_elec_secondary_prices(),
    ),
    "1.2.1": (EXECUTION, *_elec_tou_prices("PriceElements/ElectricityPriceElements")),
    "1.2.2": (EXECUTION, *_elec_secondary_prices()),
    "1.5": (F("PrepaymentMode/AdjustMeterBalance", "0", "AdjustMeterBalance"),),
    "1.6": (EXECUTION, F("Credit")),
    "1.7": (),
    "3.1": (F("SupplierMessage", "Hello from the rig", "SupplierMessage"),),
    "3.2": (F("RestrictionDateTime", now, "RestrictionDateTime"),),
    "3.3": (F("ESMEEventLogType", "ESME", "ESMEEventLogType"),),  # or ALCS
    "3.4": (
        F("SupplierName", "Rig Supplier", "SupplierName"),
        F("SupplierTelephoneNumber", "0300 000 0000", "SupplierTelephoneNumber"),
    ),
    "3.5": (),
    "4.1.2": (),
    "4.1.3": (),
    "4.1.4": (),
    "4.2": (),
    "4.4.2": READ_LOG,
    "4.4.3": READ_LOG,
    "4.4.4": READ_LOG,
    "4.6.1": READ_LOG,
    "4.6.2": READ_LOG,
    "4.8.1": READ_LOG,
    "4.8.2": READ_LOG,
    "4.8.3": READ_LOG,
    "4.10": READ_LOG,
    "4.11.1": (),
    "4.11.2": (),
    "4.12.1": (),
    "4.12.2": (),
    "4.15": (),
    "4.16": (),
    "4.17": (*READ_LOG, KA_URP),
    "5.1": (
        F("ScheduleFrequency", "Daily", "ScheduleFrequency"),
        F("ScheduleStartDate", tomorrow, "ScheduleStartDate"),
        F("DSPScheduledServiceReference", "4.6"),
        F("DSPScheduledServiceReferenceVariant", "4.6.1"),
        F("DeviceID", REQUIRED, "DeviceID"),
        F("DSPRetrieveImportDailyReadLog/StartDateOffset", "-1", "StartDateOffset"),
        F("DSPRetrieveImportDailyReadLog/StartTime", "00:00:00.00Z", "StartTime"),
        F("DSPRetrieveImportDailyReadLog/EndDateOffset", "0", "EndDateOffset"),
        F("DSPRetrieveImportDailyReadLog/EndTime", "00:00:00.00Z", "EndTime"),
    ),
    "5.2": (F("DSPScheduleID", REQUIRED, "DSPScheduleID"),),
    "5.3": (F("DSPScheduleID", REQUIRED, "DSPScheduleID"),),
    **{
        srv: ()
        for srv in (
            "6.2.1",
            "6.2.2",
            "6.2.3",
            "6.2.4",
            "6.2.5",
            "6.2.7",
            "6.2.8",
            "6.2.9",
            "6.2.10",
            "6.4.2",
            "6.27",
            "7.7",
            "7.14",
            "7.15",
            "9.1",
            "14.1",
        )
    },
    "6.4.1": (
        EXECUTION,
        F("LoadLimitPeriod", "300", "LoadLimitPeriod"),
        F("LoadLimitPowerThreshold", "6900", "LoadLimitPowerThreshold"),
        F("LoadLimitRestorationPeriod", "30", "LoadLimitRestorationPeriod"),
        F("LoadLimitSupplyState", "Disable", "LoadLimitSupplyState"),
    ),
    "6.5": (
        *(
            F(f"RMSVoltageSettings/{name}", value, name)
            for name, value in (
                ("RMSExtremeOverVoltageMeasurementPeriod", "30"),
                ("RMSExtremeOverVoltageThreshold", "287"),
                ("RMSExtremeUnderVoltageMeasurementPeriod", "30"),
                ("RMSExtremeUnderVoltageThreshold", "180"),
                ("RMSVoltageSagMeasurementPeriod", "30"),
                ("RMSVoltageSagThreshold", "216"),
                ("RMSVoltageSwellMeasurementPeriod", "30"),
                ("RMSVoltageSwellThreshold", "253"),
            )
        ),
        *(
            F(f"SinglePhaseVoltageSettings/{name}", value, name)
            for name, value in (
                ("AverageRMSOverVoltageThreshold", "264"),
                ("AverageRMSUnderVoltageThreshold", "200"),
                ("AverageRMSVoltageMeasurementPeriod", "30"),
            )
        ),
    ),
    "6.6": (
        F("CalorificValue", "40.0", "CalorificValue"),
        F("ConversionFactor", "1.02264", "ConversionFactor"),
    ),
    "6.7": (
        F("UncontrolledGasFlowRate", "61680", "UncontrolledGasFlowRate"),
        F("SupplyDepletionState", "Unchanged", "SupplyDepletionState"),
        F("SupplyTamperState", "Unchanged", "SupplyTamperState"),
        F("StabilisationPeriod", "60", "StabilisationPeriod"),
        F("MeasurementPeriod", "300", "MeasurementPeriod"),
    ),
    "6.8": (
        F("ElectricityBillingCalendar/BillingTime", "00:00:00.00Z", "BillingTime"),
        F("ElectricityBillingCalendar/Monthly", "1", "Monthly"),
    ),
    "6.11": (
        F("CurrentDateTime", now, "CurrentDateTime"),
        F("TolerancePeriod", "300", "TolerancePeriod"),
    ),
    "6.12": (
        F("LowMediumPowerThreshold", "2300", "LowMediumPowerThreshold"),
        F("MediumHighPowerThreshold", "4600", "MediumHighPowerThreshold"),
    ),
    "6.13": (*READ_LOG, F("LogToRead", "Event", "LogToRead")),
    "6.14.1": (
        F("ALCSHCALCSDescription@index=1/SwitchDescription", "ALCS 1", "SwitchDescription"),
    ),
    "6.14.2": (
        EXECUTION,
        F("ALCSHCALCSConnectionSchedule/ActivateDeactivateSwitch@index=1/ActivateSwitch"),
        *_every_day("ALCSHCALCSConnectionSchedule/DaysOfWeekApplicability"),
        *_aux_schedule_dates("ALCSHCALCSConnectionSchedule/ALCSScheduleDatesAndTime"),
        F("ALCSHCALCSSpecialDays"),
    ),
    "6.14.3": (
        EXECUTION,
        F(
            "AuxiliaryControllerSchedule/AuxiliaryControllerAction@auxiliaryControllerN=1"
            "/CommandedStateLevel",
            "100",
            "CommandedStateLevel",
        ),
        *_every_day("AuxiliaryControllerSchedule/DaysOfWeekApplicability"),
        *_aux_schedule_dates(
            "AuxiliaryControllerSchedule/AuxiliaryControllerSchedulePeriodAndTime"
        ),
        F("AuxiliaryControllerSpecialDayDefinitions"),
    ),
    "6.18.1": (
        F("MaximumDemandTimePeriodSchedule/StartTime", "17:00:00.00Z", "StartTime"),
        F("MaximumDemandTimePeriodSchedule/EndTime", "22:00:00.00Z", "EndTime"),
    ),
    "6.18.2": (
        F("MaxDemandActivePowerImportValue"),
        F("MaxDemandActivePowerExportValue"),
        F("MaxDemandConfigTimeActivePowerImportValue"),
    ),
    "6.20.1": (F("ImportMPANs/ImportMPAN", "1312345678333", "ImportMPAN"),),
    "6.20.2": (F("ExportMPAN", "1312345678333", "ExportMPAN"),),
    "6.22": (F("ElectricitySupplierHANAlertSettings/SupplierESMECommon/x810D", "Enable", "x810D"),),
    "6.25": (F("SupplyTamperState", "Locked", "SupplyTamperState"),),
    "6.26": (
        F("DailyTariffBlockCounterMatrixReset", "true", "DailyTariffBlockCounterMatrixReset"),
    ),
    "7.5": _switch("ActivateALCSHCALCS", "1"),
    "7.6": _switch("DeactivateALCSHCALCS", "1"),
    "7.8": (F("ResetALCSHCALCS@index=1"),),
    "7.9": tuple(F(f"AddToBoostButton@index={n}", "true") for n in range(1, 6)),
    "7.10": tuple(F(f"RemoveFromBoostButton@index={n}", "true") for n in range(1, 6)),
    "7.11": READ_LOG,
    "7.12": (F("RandomisedOffsetLimit", "900", "RandomisedOffsetLimit"),),
    "7.13": _controller_state("100"),
    "7.16": (*_controller_state("50"), F("InputFromControlledLoad")),
    "8.3": (F("DeviceID", REQUIRED, "DeviceID"),),
    "8.4": (F("DeviceID", REQUIRED, "DeviceID"), F("DeleteDevice")),
    "8.13": (
        F("OriginalRequestID", REQUIRED, "OriginalRequestID"),
        F("DeviceGBCSResponse", REQUIRED, "DeviceGBCSResponse"),
    ),
    "11.1": (
        F("FirmwareImage", REQUIRED, "FirmwareImage"),
        F("FirmwareVersion", "00000000", "FirmwareVersion"),
        F("DeviceIDList", REQUIRED, "DeviceID"),
    ),
    "11.4": (
        F("FirmwareImage", REQUIRED, "FirmwareImage"),
        F("FirmwareVersion", "00000000", "FirmwareVersion"),
        F("DeviceIDList", REQUIRED, "DeviceID"),
    ),
    "12.1": (
        F("PartialAddress/PostCode", "M22 0RR", "PostCode"),
        F("PartialAddress/AddressIdentifier", "1", "AddressIdentifier"),
    ),
    "12.2": (
        F("DeviceID", REQUIRED, "DeviceID"),
        F("DeviceManufacturer", "1234", "DeviceManufacturer"),
        F("DeviceModel", "RIG0001", "DeviceModel"),
        F("DeviceType", "ESME", "DeviceType"),
        F("SMETSCHTSVersion", "SMETS V1.58", "SMETSCHTSVersion"),
        F("FirmwareVersion", "00000001", "FirmwareVersion"),
        F("ESMEVariant", "A", "ESMEVariant"),
    ),
}


def _gas_tariff(prefix: str) -> tuple[Field, ...]:
    """A GSME's TOU switching table: one day at rate 1, every day of one week, one season
    from each 1 January, no special days, and no block threshold (the highest)."""
    season = f"{prefix}/SwitchingTable/Seasons/Season"
    start = f"{season}/SeasonStartDate"
    return (
        F(f"{prefix}/SwitchingTable/DayProfiles/DayProfile/DayName", "1"),
        F(f"{prefix}/SwitchingTable/DayProfiles/DayProfile/TOUTariffAction", "1"),
        F(f"{prefix}/SwitchingTable/WeekProfiles/WeekProfile/WeekName", "1"),
        *(
            F(f"{prefix}/SwitchingTable/WeekProfiles/WeekProfile/ReferencedDayName@index={n}", "1")
            for n in range(1, 8)
        ),
        F(f"{start}/GasYearWithWildcards/NonSpecifiedYear"),
        F(f"{start}/GasMonthWithWildcards/SpecifiedMonth", "1"),
        F(f"{start}/GasDayOfMonthWithWildcards/SpecifiedDayOfMonth", "1"),
        F(f"{start}/GasDayOfWeekWithWildcards/NonSpecifiedDayOfWeek"),
        F(f"{season}/ReferencedWeekName", "1"),
        F(f"{prefix}/SpecialDays"),
        F(f"{prefix}/ThresholdMatrix/BlockThreshold@index=1", NO_GAS_THRESHOLD),
    )


def _gas_tou_prices(prefix: str) -> tuple[Field, ...]:
    """A GSME's TOU prices: standing charge and the rate (the GSME's own price scale)."""
    return (
        F(f"{prefix}/CurrencyUnits", "GBP"),
        F(f"{prefix}/StandingCharge", "22465", "StandingCharge"),
        F(f"{prefix}/TOUTariff/TOUPrice@index=1", "9600", "TOUPrice1"),
    )


# the GSME's bodies where they differ from the ESME's (``--param Fuel=Gas``: `rig supplier
# send` sets it for a GSME target)
GAS_BODY_TABLES: dict[str, tuple[Field, ...]] = {
    "1.1.1": (
        EXECUTION,
        *_gas_tariff("GasTariffElements"),
        *_gas_tou_prices("PriceElements/GasPriceElements"),
    ),
    "1.2.1": (EXECUTION, *_gas_tou_prices("PriceElements/GasPriceElements")),
    "3.3": (),  # a GSME has one event log
    "6.8": (
        F("GasBillingCalendar/BillingPeriodStart", "2015-01-01T00:00:00.00Z", "BillingPeriodStart"),
        F("GasBillingCalendar/Periodicity", "Monthly", "Periodicity"),
    ),
    "6.20.1": (F("ImportMPRN", "1234567890", "ImportMPRN"),),
    "6.22": tuple(  # 0x810E, as DCC's GCS20: to the supplier over the WAN
        F(f"GasSupplierAlertEventSettings/x810E/{element}", value, f"x810E{element}")
        for element, value in (
            ("WANAlert", "Enable"),
            ("HANAlert", "Disable"),
            ("EventLog", "Disable"),
            ("Alarm", "Disable"),
        )
    ),
}
FUEL = "Fuel"  # the parameter choosing a GSME's body: Gas


def table_for(srv: str, given: Mapping[str, str]) -> tuple[Field, ...]:
    """The table of ``srv``'s body: the GSME's with ``Fuel=Gas`` where it has its own."""
    fuel = given.get(FUEL, "Electricity")
    if fuel not in ("Electricity", "Gas"):
        raise KeyError(f"SRV {srv}: {FUEL} is Electricity or Gas, not {fuel!r}")
    if fuel == "Gas" and srv in GAS_BODY_TABLES:
        return GAS_BODY_TABLES[srv]
    return BODY_TABLES[srv]


def table_parameters(srv: str) -> list[str]:
    """The ``--param`` names the tables of ``srv`` take (both fuels'), in schema order."""
    names = parameters(BODY_TABLES[srv])
    if srv in GAS_BODY_TABLES:
        names = list(dict.fromkeys([*names, *parameters(GAS_BODY_TABLES[srv]), FUEL]))
    return names


def parameters(table: tuple[Field, ...]) -> list[str]:
    """The ``--param`` names a table takes, in schema order."""
    return list(dict.fromkeys(f.param for f in table if f.param))


def build(
    srv: str,
    body: etree._Element,
    table: tuple[Field, ...],
    given: Mapping[str, str],
    at: dt.datetime | None = None,
) -> None:
    """Lay ``table`` out under ``body``: each element's value from ``given`` (by its
    parameter name), else its default; ancestors are made with their first element."""
    at = at or dt.datetime.now(dt.UTC)
    made: dict[str, etree._Element] = {"": body}
    for field in table:
        value = given.get(field.param) if field.param else None
        if value is None:
            if field.default is None:
                raise KeyError(f"SRV {srv} needs {field.param}: give --param {field.param}=...")
            if isinstance(field.default, _Optional):
                continue
            value = field.default if isinstance(field.default, str) else field.default(at)
        parent, _, leaf = field.path.rpartition("/")
        node = _made(made, parent)
        if leaf.startswith("@"):
            node.set(leaf[1:], value)
            continue
        _made(made, field.path).text = value or None


def _made(made: dict[str, etree._Element], path: str) -> etree._Element:
    """The element at ``path``, made (with its ancestors) the first time it is named."""
    if path in made:
        return made[path]
    parent, _, segment = path.rpartition("/")
    name, *attrs = segment.split("#")[0].split("@")
    element = etree.SubElement(_made(made, parent), f"{_E}{name}")
    for attr in attrs:
        key, _, value = attr.partition("=")
        element.set(key, value)
    made[path] = element
    return element
