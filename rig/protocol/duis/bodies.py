"""The DUIS body elements the rig builds and reads: requests a DCC User sends, and the DCC's
synchronous answers (a pre-command to sign, the smart metering inventory).

Element names and order follow the DUIS schema (5.4); the schema check of the whole
document is the caller's (:mod:`rig.protocol.duis.schema`).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lxml import etree

from rig.protocol.duis.body_tables import (
    BODY_TABLES,
    FUEL,
    READ_LOG,
    build,
    table_for,
    table_parameters,
)
from rig.protocol.duis.xml import NS, SR
from rig.protocol.eui import Eui64

_E = f"{{{SR}}}"
GBCS_VERSION = "4.3"
MAX_INVENTORY = 17  # devices in one DSPInventory: a hub's home

# DUIS: the body element of a request for each Service Reference Variant (all 129). A
# critical SRV returned signed (command variant 5) carries a SignedPreCommand instead.
SRV_BODIES = {
    "1.1.1": "UpdateImportTariffPrimaryElement",
    "1.1.2": "UpdateImportTariffSecondaryElement",
    "1.2.1": "UpdatePricePrimaryElement",
    "1.2.2": "UpdatePriceSecondaryElement",
    "1.5": "UpdateMeterBalance",
    "1.6": "UpdatePaymentMode",
    "1.7": "ResetTariffBlockCounterMatrix",
    "2.1": "UpdatePrepayConfiguration",
    "2.2": "TopUpDevice",
    "2.3": "UpdateDebt",
    "2.5": "ActivateEmergencyCredit",
    "3.1": "DisplayMessage",
    "3.2": "RestrictAccessForChangeOfTenancy",
    "3.3": "ClearEventLog",
    "3.4": "UpdateSupplierName",
    "3.5": "DisablePrivacyPIN",
    "4.1.1": "ReadInstantaneousImportRegisters",
    "4.1.2": "ReadInstantaneousImportTOUMatrices",
    "4.1.3": "ReadInstantaneousImportTOUWithBlocksMatrices",
    "4.1.4": "ReadInstantaneousImportBlockCounters",
    "4.2": "ReadInstantaneousExportRegisters",
    "4.3": "ReadInstantaneousPrepayValues",
    "4.4.2": "RetrieveCoMOrTariffTriggeredBillingDataLog",
    "4.4.3": "RetrieveBillingCalendarTriggeredBillingDataLog",
    "4.4.4": "RetrieveBillingDataLogDebtPayments",
    "4.4.5": "RetrieveBillingDataLogPrepaymentCredits",
    "4.6.1": "RetrieveImportDailyReadLog",
    "4.6.2": "RetrieveExportDailyReadLog",
    "4.8.1": "ReadActiveImportProfileData",
    "4.8.2": "ReadReactiveImportProfileData",
    "4.8.3": "ReadExportProfileData",
    "4.10": "ReadNetworkData",
    "4.11.1": "ReadTariffPrimaryElement",
    "4.11.2": "ReadTariffSecondaryElement",
    "4.12.1": "ReadMaximumDemandImportRegisters",
    "4.12.2": "ReadMaximumDemandExportRegisters",
    "4.13": "ReadPrepaymentConfiguration",
    "4.14": "ReadPrepaymentDailyReadLog",
    "4.15": "ReadLoadLimitData",
    "4.16": "ReadActivePowerImport",
    "4.17": "RetrieveDailyConsumptionLog",
    "4.18": "ReadMeterBalance",
    "5.1": "CreateSchedule",
    "5.2": "ReadSchedule",
    "5.3": "DeleteSchedule",
    "6.2.1": "ReadDeviceConfigurationVoltage",
    "6.2.2": "ReadDeviceConfigurationRandomisation",
    "6.2.3": "ReadDeviceConfigurationBillingCalendar",
    "6.2.4": "ReadDeviceConfigurationIdentityExcMPxN",
    "6.2.5": "ReadDeviceConfigurationInstantaneousPowerThresholds",
    "6.2.7": "ReadDeviceConfigurationMPxN",
    "6.2.8": "ReadDeviceConfigurationGas",
    "6.2.9": "ReadDeviceConfigurationPaymentMode",
    "6.2.10": "ReadDeviceConfigurationEventAndAlertBehaviours",
    "6.4.1": "UpdateDeviceConfigurationLoadLimitingGeneralSettings",
    "6.4.2": "UpdateDeviceConfigurationLoadLimitingCounterReset",
    "6.5": "UpdateDeviceConfigurationVoltage",
    "6.6": "UpdateDeviceConfigurationGasConversion",
    "6.7": "UpdateDeviceConfigurationGasFlow",
    "6.8": "UpdateDeviceConfigurationBillingCalendar",
    "6.11": "SynchroniseClock",
    "6.12": "UpdateDeviceConfigurationInstantaneousPowerThreshold",
    "6.13": "ReadEventOrSecurityLog",
    "6.14.1": "UpdateDeviceConfigurationALCDescriptions",
    "6.14.2": "UpdateDeviceConfigurationALCScheduler",
    "6.14.3": "UpdateDeviceConfigurationAuxiliaryControllerScheduler",
    "6.15.1": "UpdateSecurityCredentialsKRP",
    "6.15.2": "UpdateSecurityCredentialsDevice",
    "6.17": "IssueSecurityCredentials",
    "6.18.1": "SetMaximumDemandConfigurableTimePeriod",
    "6.18.2": "ResetMaximumDemandRegisters",
    "6.20.1": "SetDeviceConfigurationImportMPxN",
    "6.20.2": "SetDeviceConfigurationExportMPAN",
    "6.21": "RequestHandoverOfDCCControlledDevice",
    "6.22": "ConfigureAlertBehaviour",
    "6.23": "UpdateSecurityCredentialsCoS",
    "6.24.1": "RetrieveDeviceSecurityCredentialsKRP",
    "6.24.2": "RetrieveDeviceSecurityCredentialsDevice",
    "6.25": "SetElectricitySupplyTamperState",
    "6.26": "UpdateDeviceConfigurationDailyResettingOfTariffBlockCounterMatrix",
    "6.27": "UpdateDeviceConfigurationRMSVoltageCounterReset",
    "6.28": "SetCHFSubGHzConfiguration",
    "6.29": "RequestCHFSubGHzChannelScan",
    "6.30": "ReadCHFSubGHzConfiguration",
    "6.31": "ReadCHFSubGHzChannel",
    "6.32": "ReadCHFSubGHzChannelLog",
    "7.1": "EnableSupply",
    "7.2": "DisableSupply",
    "7.3": "ArmSupply",
    "7.4": "ReadSupplyStatus",
    "7.5": "ActivateAuxiliaryLoad",
    "7.6": "DeactivateAuxiliaryLoad",
    "7.7": "ReadALCSData",
    "7.8": "ResetAuxiliaryLoad",
    "7.9": "AddAuxiliaryLoadToBoostButton",
    "7.10": "RemoveAuxiliaryLoadFromBoostButton",
    "7.11": "ReadBoostButtonDetails",
    "7.12": "SetRandomisedOffsetLimit",
    "7.13": "SetAuxiliaryControllerState",
    "7.14": "ReadAuxiliaryControllerConfigurationData",
    "7.15": "ReadAuxiliaryControllerOperationalData",
    "7.16": "LimitAPCLevel",
    "8.1.1": "CommissionDeviceSynchroniseClock",
    "8.2": "ReadInventory",
    "8.3": "DecommissionDevice",
    "8.4": "UpdateInventory",
    "8.5": "ServiceOptOut",
    "8.6": "ServiceOptIn",
    "8.7.1": "JoinServiceCritical",
    "8.7.2": "JoinServiceNonCritical",
    "8.8.1": "UnjoinServiceCritical",
    "8.8.2": "UnjoinServiceNonCritical",
    "8.9": "ReadDeviceLog",
    "8.11": "UpdateHANDeviceLog",
    "8.12.1": "RestoreHANDeviceLog",
    "8.12.2": "RestoreGPFDeviceLog",
    "8.13": "ReturnLocalCommandResponse",
    "8.14.1": "CHFInstallSuccessSMWAN",
    "8.14.2": "CHFInstallSuccessNoSMWAN",
    "8.14.3": "CHFFaultReturn",
    "8.14.4": "CHFNoFaultReturn",
    "9.1": "RequestCustomerIdentificationNumber",
    "11.1": "UpdateFirmware",
    "11.2": "ReadFirmwareVersion",
    "11.3": "ActivateFirmware",
    "11.4": "UpdatePPMIDFirmware",
    "12.1": "RequestWANMatrix",
    "12.2": "DevicePrenotification",
    "14.1": "RecordNetworkDataGAS",
}

# the SRVs the rig builds request bodies for itself (the test DCC User's simple requests)
REQUEST_BODIES = {
    srv: SRV_BODIES[srv]
    for srv in ("2.2", "2.3", "2.5", "4.1.1", "4.18", "7.1", "7.2", "7.3", "7.4", "8.2", "11.2")
}
# 2.3 Update Debt for an ESME: its elements in schema order, each with its default
UPDATE_DEBT = (
    ("TimeDebtRegister1", "0"),
    ("TimeDebtRegister2", "0"),
    ("PaymentDebtRegister", "0"),
    ("DebtRecoveryPerPayment", "0"),
)
# the ESME's prepayment reads (4.3) and logs (4.4.5, 4.14 take a ReadLogPeriod from params)
REQUEST_BODIES.update({srv: SRV_BODIES[srv] for srv in ("4.3", "4.4.5", "4.14")})
READ_LOG_PERIOD = ("StartDateTime", "EndDateTime")
ELEC_DEBT_RECOVERY = (
    ("DebtRecoveryRate", "0"),
    ("DebtRecoveryRatePriceScale", "0"),
    ("DebtRecoveryRatePeriod", "DAILY"),
)
# 2.3 for a GSME (params GasDebtRecovery=true): GasDebtRecovery1 and 2 have no price scale
GAS_DEBT_RECOVERY = (("DebtRecoveryRate", "0"), ("DebtRecoveryRatePeriod", "DAILY"))
# the ESME's prepayment configuration: 4.13 reads it; 2.1 (IMMEDIATE) writes these values, in
# schema order, each with its default (millipence: the rig's ESME's own defaults), and a
# non-disablement calendar of no special days and one switch that applies on no day
REQUEST_BODIES.update({srv: SRV_BODIES[srv] for srv in ("2.1", "4.13")})
REQUEST_BODIES["6.23"] = SRV_BODIES["6.23"]
UPDATE_PREPAY_VALUES = (
    ("DebtRecoveryRateCap", "0"),
    ("EmergencyCreditLimit", "500000"),
    ("EmergencyCreditThreshold", "100000"),
    ("LowCreditThreshold", "200000"),
)
UPDATE_PREPAY_LIMITS = (("MaxMeterBalance", "100000000"), ("MaxCreditThreshold", "100000000"))
# the CHF device log (issue 16): 8.9 reads it (ReadSecurityDetails=true: both logs and
# their hashes); 8.11 adds (RequestType Add, the default: InstallCode without its CRC,
# JoinTimePeriod in seconds) or removes (RequestType=Remove) the device DeviceID
REQUEST_BODIES.update({srv: SRV_BODIES[srv] for srv in ("8.9", "8.11")})
JOIN_TIME_PERIOD_S = "3600"  # DUIS: at most 3600
# 8.1.1 Commission Device: the clock's CurrentDateTime (by default the time the body is
# built) and TolerancePeriod (seconds, at most 86400), from params
REQUEST_BODIES["8.1.1"] = SRV_BODIES["8.1.1"]
TOLERANCE_PERIOD_S = "300"
# 11.3 Activate Firmware: the image's FirmwareHash (SHA-256, 64 hex digits) and, future-dated,
# its ExecutionDateTime, from params
REQUEST_BODIES["11.3"] = SRV_BODIES["11.3"]
# 8.7.1/8.7.2 Join Service and 8.8.1/8.8.2 Unjoin Service: the OtherDeviceID, from params
JOIN_SRVS = ("8.7.1", "8.7.2", "8.8.1", "8.8.2")
REQUEST_BODIES.update({srv: SRV_BODIES[srv] for srv in JOIN_SRVS})
# 6.24.1 / 6.24.2 Retrieve Device Security Credentials: the RemotePartyRole(s) wanted
# (comma-separated DUIS names, by default the supplier's) or the CredentialType, from params
REQUEST_BODIES.update({srv: SRV_BODIES[srv] for srv in ("6.24.1", "6.24.2")})


def request_body(
    srv: str,
    device_id: Eui64 | None = None,
    utrn: str | None = None,
    params: Mapping[str, str] | None = None,
) -> etree._Element:
    """The body of a request for ``srv`` (8.2 reads the inventory of ``device_id``, 2.2
    tops up with ``utrn``; 2.3 takes its values from ``params``: the element names, and
    ``DebtRecoveryRate1``, ``DebtRecoveryRatePeriod2``... for ElecDebtRecovery1 and 2, or
    GasDebtRecovery1 and 2 with ``GasDebtRecovery=true``). The SRVs of
    :data:`~rig.protocol.duis.body_tables.BODY_TABLES` are laid out from their tables. A
    parameter the SRV's body does not take (:func:`request_parameters`) is a KeyError."""
    name = REQUEST_BODIES.get(srv)
    if name is None:
        raise KeyError(f"no request body for SRV {srv}: the rig builds {', '.join(REQUEST_BODIES)}")
    check_parameters(srv, params or {})
    body = etree.Element(f"{_E}{name}", nsmap={"sr": SR})
    if srv in BODY_TABLES:
        build(srv, body, table_for(srv, params or {}), params or {})
        return body
    if device_id is not None:
        etree.SubElement(body, f"{_E}DeviceID").text = device_id.duis
    if srv == "2.2":
        if utrn is None:
            raise KeyError("SRV 2.2 needs the UTRN to top up with")
        etree.SubElement(body, f"{_E}UTRN").text = utrn
    if srv == "2.3":
        given = dict(params or {})
        for element, default in UPDATE_DEBT:
            etree.SubElement(body, f"{_E}{element}").text = given.get(element, default)
        fuel, elements = (
            ("Gas", GAS_DEBT_RECOVERY)
            if given.get("GasDebtRecovery", "").lower() in ("1", "true", "yes")
            else ("Elec", ELEC_DEBT_RECOVERY)
        )
        for n in (1, 2):
            recovery = etree.SubElement(body, f"{_E}{fuel}DebtRecovery{n}")
            for element, default in elements:
                etree.SubElement(recovery, f"{_E}{element}").text = given.get(
                    f"{element}{n}", default
                )
    if srv == "2.1":
        _update_prepay_configuration(body, params or {})
    if srv in ("4.4.5", "4.14"):  # by default the last day, as every log read's
        build(srv, body, READ_LOG, params or {})
    if srv in ("8.9", "8.11"):
        _device_log(srv, body, params or {})
    if srv == "8.1.1":
        _synchronise_clock(body, params or {})
    if srv in JOIN_SRVS:
        try:
            other = Eui64.parse((params or {}).get("OtherDeviceID", "")).duis
        except ValueError as exc:
            raise KeyError(f"SRV {srv} needs OtherDeviceID (an EUI-64): {exc}") from None
        etree.SubElement(body, f"{_E}OtherDeviceID").text = other
    if srv == "11.3":
        image_hash = (params or {}).get("FirmwareHash", "").strip().upper()
        if len(image_hash) != 64:
            raise KeyError("SRV 11.3 needs FirmwareHash: the image's SHA-256, 64 hex digits")
        execute_at = (params or {}).get("ExecutionDateTime")  # 3000-12-31T00:00:00Z: cancel
        if execute_at:  # future-dated
            etree.SubElement(body, f"{_E}ExecutionDateTime").text = execute_at
        etree.SubElement(body, f"{_E}FirmwareHash").text = image_hash
    if srv == "4.14" and (params or {}).get("KAPublicSecurityCredentials"):
        # from a supplier that is not the device's known remote party (the URP variant)
        credentials = etree.SubElement(body, f"{_E}KAPublicSecurityCredentials")
        credentials.text = (params or {})["KAPublicSecurityCredentials"]
    if srv == "6.23":
        _update_credentials_cos(body, params or {})
    if srv == "6.24.1":
        for role in (params or {}).get("RemotePartyRole", "Supplier").split(","):
            etree.SubElement(body, f"{_E}RemotePartyRole").text = role.strip()
    if srv == "6.24.2":
        credential_type = (params or {}).get("CredentialType", "Digital Signature")
        etree.SubElement(body, f"{_E}CredentialType").text = credential_type
    if srv in HUB_LOG_AND_STATUS_SRVS:
        _hub_log_and_status(srv, body, params or {})
    if srv in OWN_CREDENTIAL_SRVS:
        _own_credentials(srv, body, params or {})
    return body


# 6.23's replacement certificates (base64 DER), in schema order, and whether each is needed
COS_CERTIFICATES = (
    ("DigitalSigningCertificate", True),
    ("KeyAgreementCertificate", False),
    ("KeyAgreementTopUpCertificate", False),
)


def _update_credentials_cos(body: etree._Element, given: Mapping[str, str]) -> None:
    """6.23 from the gaining supplier: its floor sequence numbers, its own certificates
    (``DigitalSigningCertificate``...), the certification path (``CertificationPath``:
    base64 certificates separated by spaces), ``ApplyTimeBasedCPVChecks`` and ``ImportMPxN``."""
    if given.get("ExecutionDateTime"):
        etree.SubElement(body, f"{_E}ExecutionDateTime").text = given["ExecutionDateTime"]
    etree.SubElement(body, f"{_E}SupplierFloorSeqNumber").text = given.get(
        "SupplierFloorSeqNumber", "0"
    )
    etree.SubElement(body, f"{_E}SupplierPrepaymentTopUpFloorSeqNumber").text = given.get(
        "SupplierPrepaymentTopUpFloorSeqNumber", "0"
    )
    certs = etree.SubElement(body, f"{_E}SupplierReplacementCertificates")
    for element, needed in COS_CERTIFICATES:
        if given.get(element):
            etree.SubElement(certs, f"{_E}{element}").text = given[element]
        elif needed:
            raise KeyError(f"SRV 6.23 needs {element}: the gaining supplier's own, base64 DER")
    path = etree.SubElement(body, f"{_E}CertificationPathCertificates")
    for cert in given.get("CertificationPath", "").split():
        etree.SubElement(path, f"{_E}Certificate").text = cert
    if not len(path):
        raise KeyError("SRV 6.23 needs CertificationPath: the CA certificate(s) that issued them")
    etree.SubElement(body, f"{_E}ApplyTimeBasedCPVChecks").text = given.get(
        "ApplyTimeBasedCPVChecks", "true"
    )
    etree.SubElement(body, f"{_E}ImportMPxN").text = given.get("ImportMPxN", "1312345678333")


def _device_log(srv: str, body: etree._Element, params: Mapping[str, str]) -> None:
    """8.9 Read Device Log (with ``ReadSecurityDetails=true``: CCS07) or 8.11 Update HAN
    Device Log of the CHF: ``DeviceID`` (an EUI-64), ``RequestType`` (Add or Remove),
    ``InstallCode`` and ``JoinTimePeriod`` (Add)."""
    if srv == "8.9":
        if params.get("ReadSecurityDetails", "").lower() in ("1", "true", "yes"):
            etree.SubElement(body, f"{_E}ReadSecurityDetails")
        return
    device, kind = params.get("DeviceID"), params.get("RequestType", "Add")
    if not device or kind not in ("Add", "Remove"):
        raise KeyError("SRV 8.11 needs DeviceID (EUI-64) and RequestType Add or Remove")
    try:
        device_id = Eui64.parse(device).duis
    except ValueError as exc:
        raise KeyError(f"SRV 8.11's DeviceID: {exc}") from None
    etree.SubElement(body, f"{_E}DeviceID").text = device_id
    etree.SubElement(body, f"{_E}RequestType").text = kind
    if kind == "Remove":
        return
    code = "".join(ch for ch in params.get("InstallCode", "") if ch not in " -:").upper()
    if not code:
        raise KeyError("SRV 8.11 Add needs InstallCode (6 to 16 bytes, hex, without its CRC)")
    add = etree.SubElement(body, f"{_E}AddDeviceToCHFWhitelist")
    period = params.get("JoinTimePeriod", JOIN_TIME_PERIOD_S)
    etree.SubElement(add, f"{_E}JoinTimePeriod").text = period
    etree.SubElement(add, f"{_E}InstallCode").text = code


def _synchronise_clock(body: etree._Element, params: Mapping[str, str]) -> None:
    """8.1.1's CommissionDeviceSynchroniseClock: ``CurrentDateTime`` (UTC; by default now)
    and ``TolerancePeriod`` (seconds)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4] + "Z"
    etree.SubElement(body, f"{_E}CurrentDateTime").text = params.get("CurrentDateTime", now)
    tolerance = params.get("TolerancePeriod", TOLERANCE_PERIOD_S)
    etree.SubElement(body, f"{_E}TolerancePeriod").text = tolerance


def _update_prepay_configuration(body: etree._Element, params: Mapping[str, str]) -> None:
    """2.1 for an ESME (for a GSME with ``GasPrepayConfig=true``), to take effect at once:
    the values from ``params`` (the element names), else their defaults."""
    if params.get("GasPrepayConfig", "").lower() in ("1", "true", "yes"):
        _update_gas_prepay_configuration(body, params)
        return
    config = etree.SubElement(body, f"{_E}UpdatePrepayConfigElectricity")
    for element, default in UPDATE_PREPAY_VALUES:
        etree.SubElement(config, f"{_E}{element}").text = params.get(element, default)
    calendar = etree.SubElement(config, f"{_E}ElectricityNonDisablementCalendar")
    etree.SubElement(calendar, f"{_E}ElectricitySpecialDays")
    switch = etree.SubElement(calendar, f"{_E}ElectricityNonDisablementSchedule")
    etree.SubElement(switch, f"{_E}NonDisablementScript").text = "START"
    etree.SubElement(switch, f"{_E}SpecialDaysApplicability")
    etree.SubElement(switch, f"{_E}DaysOfWeekApplicability")
    when = etree.SubElement(switch, f"{_E}ScheduleDatesAndTime")
    for element, value in (
        ("SwitchTime", "00:00:00Z"),
        ("StartDate", "2015-01-01Z"),
        ("EndDate", "2015-01-01Z"),
    ):
        etree.SubElement(when, f"{_E}{element}").text = value
    for element, default in UPDATE_PREPAY_LIMITS:
        etree.SubElement(config, f"{_E}{element}").text = params.get(element, default)


def _update_gas_prepay_configuration(body: etree._Element, params: Mapping[str, str]) -> None:
    """2.1 for a GSME (GCS05): the values as for an ESME, in the gas schema's order, and a
    non-disablement calendar of one day profile (friendly credit from midnight), one week
    of it, one season from each 1 January and no special days."""
    config = etree.SubElement(body, f"{_E}UpdatePrepayConfigGas")
    for element, default in UPDATE_PREPAY_VALUES:
        etree.SubElement(config, f"{_E}{element}").text = params.get(element, default)
    calendar = etree.SubElement(config, f"{_E}GasNonDisablementCalendar")
    day = etree.SubElement(
        etree.SubElement(calendar, f"{_E}DayProfiles"), f"{_E}GasNonDisablementDayProfile"
    )
    switch = etree.SubElement(day, f"{_E}TimeStartAction")
    etree.SubElement(switch, f"{_E}StartTime").text = "00:00:00.00Z"
    etree.SubElement(switch, f"{_E}NonDisablementAction").text = "START"
    etree.SubElement(day, f"{_E}GasDayName").text = "1"
    week = etree.SubElement(etree.SubElement(calendar, f"{_E}WeekProfiles"), f"{_E}WeekProfile")
    etree.SubElement(week, f"{_E}WeekName").text = "1"
    for index in range(1, 8):
        etree.SubElement(week, f"{_E}ReferencedDayName", index=str(index)).text = "1"
    season = etree.SubElement(etree.SubElement(calendar, f"{_E}SeasonProfiles"), f"{_E}Season")
    start = etree.SubElement(season, f"{_E}SeasonStartDate")
    for part, choice, value in (
        ("GasYearWithWildcards", "NonSpecifiedYear", None),
        ("GasMonthWithWildcards", "SpecifiedMonth", "1"),
        ("GasDayOfMonthWithWildcards", "SpecifiedDayOfMonth", "1"),
        ("GasDayOfWeekWithWildcards", "NonSpecifiedDayOfWeek", None),
    ):
        etree.SubElement(etree.SubElement(start, f"{_E}{part}"), f"{_E}{choice}").text = value
    etree.SubElement(season, f"{_E}ReferencedWeekName").text = "1"
    etree.SubElement(calendar, f"{_E}SpecialDays")
    for element, default in UPDATE_PREPAY_LIMITS:
        etree.SubElement(config, f"{_E}{element}").text = params.get(element, default)


def pre_command(gbcs: bytes) -> etree._Element:
    """The PreCommand a transform returns for a critical request (CV 4), for the user to sign."""
    pre = etree.Element(f"{_E}PreCommand")
    etree.SubElement(pre, f"{_E}GBCSVersion").text = GBCS_VERSION
    etree.SubElement(pre, f"{_E}GBCSPayload").text = base64.b64encode(gbcs).decode()
    return pre


@dataclass(frozen=True, slots=True)
class InventoryDevice:
    """One device as the DCC's inventory lists it (8.2 Read Inventory)."""

    device_id: Eui64
    device_type: str
    status: str
    manufacturer: str = "1234"
    model: str = "RIG0001"
    firmware_version: str = "00000001"
    firmware_status: str = "Active"
    cpl_status: str = "Active"


def dsp_inventory(devices: Iterable[InventoryDevice]) -> etree._Element:
    inv = etree.Element(f"{_E}DSPInventory")
    for d in list(devices)[:MAX_INVENTORY]:
        dev = etree.SubElement(inv, f"{_E}Device")
        for tag, value in (
            ("DeviceID", d.device_id.duis),
            ("DeviceType", d.device_type),
            ("DeviceStatus", d.status),
            ("DeviceManufacturer", d.manufacturer),
            ("DeviceModel", d.model),
            ("DeviceFirmwareVersion", d.firmware_version),
            ("DeviceFirmwareVersionStatus", d.firmware_status),
            ("CPLStatus", d.cpl_status),
        ):
            etree.SubElement(dev, f"{_E}{tag}").text = value
    return inv


def read_inventory(root: etree._Element) -> list[dict[str, str]]:
    """The devices of a Read Inventory response, each as ``{field: text}``."""
    return [
        {etree.QName(f).localname: (f.text or "") for f in dev}
        for dev in root.iterfind("sr:Body/sr:ResponseMessage/sr:DSPInventory/sr:Device", NS)
    ]


# 8.12.1 / 8.12.2 Restore HAN / GPF Device Log (the failed device, from params) and 8.14.1-4
# Communications Hub Status Update (DeviceID, the hub, from params; the rest from params or
# the defaults of DCC's templates), issue 16: each element in schema order, its default
# (None: required, no default; "": optional, left out unless given) and whether it is an EUI
HUB_LOG_AND_STATUS: dict[str, tuple[tuple[str, str | None, bool], ...]] = {
    "8.12.1": (("OldCHFID", None, True),),
    "8.12.2": (("OldGPFID", None, True),),
    "8.14.1": (
        ("DeviceID", None, True),
        ("CHFInstallType", "New CHF Install", False),
        ("InstallDateTime", "", False),
        ("UserRefID", "", False),
        ("MPxN", "1000999888", False),
        ("GISData", "", False),
        ("AerialInstall", "false", False),
        ("CHFLocation", "Indoors on external wall", False),
        ("AdditionalInformation", "", False),
    ),
    "8.14.2": (
        ("DeviceID", None, True),
        ("CHFInstallType", "CHF Install - no SM WAN", False),
        ("InstallDateTime", "", False),
        ("UserRefID", "", False),
        ("MPxN", "1000999888", False),
        ("GISData", "", False),
        ("AerialInstall", "false", False),
        ("CHFLocation", "Indoors on external wall", False),
        ("PremiseType", "Detached / Semi Detached", False),
        ("MetalObstructionCheck", "false", False),
        ("ConnectivityObstructionCheck", "false", False),
        ("SharedObstructionCheck", "false", False),
        ("AdditionalInformation", "", False),
    ),
    "8.14.3": (
        ("DeviceID", None, True),
        ("CHFFaultReturnType", "Fault identified post installation", False),
        ("UserRefDateTime", "", False),
        ("UserRefID", "", False),
        ("OtherDeviceID", None, True),
        ("IncidentReference", "", False),
        ("CHFConnectionMethod", "Hot-shoe", False),
        ("CHFFaultReason", "SM WAN Fault", False),
        ("AdditionalInformation", "", False),
    ),
    "8.14.4": (
        ("DeviceID", None, True),
        ("CHFNoFaultReturnType", "No Fault Return (general)", False),
        ("UserRefDateTime", "", False),
        ("UserRefID", "", False),
        ("IncidentReference", "", False),
        ("AdditionalInformation", "", False),
    ),
}
HUB_LOG_AND_STATUS_SRVS = tuple(HUB_LOG_AND_STATUS)
REQUEST_BODIES.update({srv: SRV_BODIES[srv] for srv in HUB_LOG_AND_STATUS_SRVS})


def _hub_log_and_status(srv: str, body: etree._Element, given: Mapping[str, str]) -> None:
    """8.12.1's ``OldCHFID`` / 8.12.2's ``OldGPFID``: the failed hub's CHF or GPF whose log
    the DCC restores (an EUI-64, required). 8.14.x: ``DeviceID`` the hub's CHF (required;
    `rig supplier send` sets it from --target); 8.14.1 and 8.14.2 ``CHFInstallType``,
    ``InstallDateTime``, ``UserRefID``, ``MPxN``, ``GISData``, ``AerialInstall``,
    ``CHFLocation`` (8.14.2 also ``PremiseType``, ``MetalObstructionCheck``,
    ``ConnectivityObstructionCheck``, ``SharedObstructionCheck``); 8.14.3
    ``CHFFaultReturnType``, ``OtherDeviceID`` (the device the hub was on, an EUI-64,
    required), ``CHFConnectionMethod``, ``CHFFaultReason``; 8.14.4 ``CHFNoFaultReturnType``;
    8.14.3 and 8.14.4 ``UserRefDateTime``, ``UserRefID``, ``IncidentReference``; every 8.14
    ``AdditionalInformation``. The DUIS names and enumerations; unnamed ones take the
    defaults of :data:`HUB_LOG_AND_STATUS`, optional ones are left out."""
    for element, default, eui in HUB_LOG_AND_STATUS[srv]:
        value = given.get(element, default)
        if value is None:
            what = "an EUI-64" if eui else "a value"
            raise KeyError(f"SRV {srv} needs {element} ({what}): give --param {element}=...")
        if not value:
            continue
        if eui:
            try:
                value = Eui64.parse(value).duis
            except ValueError as exc:
                raise KeyError(f"SRV {srv}: {element} is not an EUI-64: {exc}") from None
        etree.SubElement(body, f"{_E}{element}").text = value


# 6.15.1 Update Security Credentials (KRP), 6.21 Request Handover of DCC Controlled Device,
# 6.15.2 Update Security Credentials (Device), 6.17 Issue Security Credentials: from params
OWN_CREDENTIAL_SRVS = ("6.15.1", "6.15.2", "6.17", "6.21")
REQUEST_BODIES.update({srv: SRV_BODIES[srv] for srv in OWN_CREDENTIAL_SRVS})


def _own_credentials(srv: str, body: etree._Element, given: Mapping[str, str]) -> None:
    """6.15.1 and 6.21: ``RemotePartyRole`` (Supplier, the default, or NetworkOperator),
    ``RemotePartyFloorSeqNumber`` and a supplier's ``RemotePartyPrepaymentTopUpFloorSeqNumber``
    (0), the party's own certificates (as 6.23's: ``DigitalSigningCertificate``...),
    ``CertificationPath`` (base64 certificates separated by spaces) and
    ``ApplyTimeBasedCPVChecks`` (true); 6.15.1 also ``ExecutionDateTime`` (future-dated;
    3000-12-31T00:00:00Z cancels). 6.15.2: ``DeviceCertificate`` (base64 DER). 6.17:
    ``CredentialType`` (Digital Signature, the default, or Key Agreement)."""
    if srv == "6.15.2":
        if not given.get("DeviceCertificate"):
            raise KeyError("SRV 6.15.2 needs DeviceCertificate: the device's own, base64 DER")
        etree.SubElement(body, f"{_E}DeviceCertificate").text = given["DeviceCertificate"]
        return
    if srv == "6.17":
        credential_type = given.get("CredentialType", "Digital Signature")
        etree.SubElement(body, f"{_E}CredentialType").text = credential_type
        return
    role = given.get("RemotePartyRole", "Supplier")
    if srv == "6.15.1" and given.get("ExecutionDateTime"):
        etree.SubElement(body, f"{_E}ExecutionDateTime").text = given["ExecutionDateTime"]
    etree.SubElement(body, f"{_E}RemotePartyRole").text = role
    etree.SubElement(body, f"{_E}RemotePartyFloorSeqNumber").text = given.get(
        "RemotePartyFloorSeqNumber", "0"
    )
    if role == "Supplier":
        etree.SubElement(body, f"{_E}RemotePartyPrepaymentTopUpFloorSeqNumber").text = given.get(
            "RemotePartyPrepaymentTopUpFloorSeqNumber", "0"
        )
    certs = etree.SubElement(body, f"{_E}ReplacementCertificates")
    if srv == "6.15.1":
        certs = etree.SubElement(certs, f"{_E}SupplierOrNetworkOperatorCertificates")
    for element, needed in COS_CERTIFICATES:
        if role != "Supplier" and element == "KeyAgreementTopUpCertificate":
            continue
        if given.get(element):
            etree.SubElement(certs, f"{_E}{element}").text = given[element]
        elif needed:
            raise KeyError(f"SRV {srv} needs {element}: the party's own, base64 DER")
    path = etree.SubElement(body, f"{_E}CertificationPathCertificates")
    for cert in given.get("CertificationPath", "").split():
        etree.SubElement(path, f"{_E}Certificate").text = cert
    if not len(path):
        raise KeyError(f"SRV {srv} needs CertificationPath: the CA certificate(s) that issued them")
    etree.SubElement(body, f"{_E}ApplyTimeBasedCPVChecks").text = given.get(
        "ApplyTimeBasedCPVChecks", "true"
    )


HUB_STATUS_SRVS = ("8.14.1", "8.14.2", "8.14.3", "8.14.4")
# the SRVs whose bodies are declared as tables (rig.protocol.duis.body_tables)
REQUEST_BODIES.update({srv: SRV_BODIES[srv] for srv in BODY_TABLES})
_CERTIFICATES = (*(element for element, _ in COS_CERTIFICATES), "CertificationPath")
# the parameters of the SRVs built above, each function's, in schema order
_BUILT_PARAMETERS: dict[str, tuple[str, ...]] = {
    "2.1": (
        *(e for e, _ in UPDATE_PREPAY_VALUES),
        *(e for e, _ in UPDATE_PREPAY_LIMITS),
        "GasPrepayConfig",
    ),
    "2.2": ("UTRN",),
    "2.3": (
        *(e for e, _ in UPDATE_DEBT),
        *(f"{e}{n}" for n in (1, 2) for e, _ in ELEC_DEBT_RECOVERY),
        "GasDebtRecovery",
    ),
    "4.4.5": READ_LOG_PERIOD,
    "4.14": (*READ_LOG_PERIOD, "KAPublicSecurityCredentials"),
    "6.23": (
        "ExecutionDateTime",
        "SupplierFloorSeqNumber",
        "SupplierPrepaymentTopUpFloorSeqNumber",
        *_CERTIFICATES,
        "ApplyTimeBasedCPVChecks",
        "ImportMPxN",
    ),
    "6.24.1": ("RemotePartyRole",),
    "6.24.2": ("CredentialType",),
    "8.1.1": ("CurrentDateTime", "TolerancePeriod"),
    "8.9": ("ReadSecurityDetails",),
    "8.11": ("DeviceID", "RequestType", "InstallCode", "JoinTimePeriod"),
    "11.3": ("ExecutionDateTime", "FirmwareHash"),
    **{srv: ("OtherDeviceID",) for srv in JOIN_SRVS},
    "8.12.1": ("OldCHFID",),
    "8.12.2": ("OldGPFID",),
    # the four 8.14 status updates take one family's parameters (each uses those it has)
    **{
        srv: tuple(dict.fromkeys(e for v in HUB_STATUS_SRVS for e, _, _ in HUB_LOG_AND_STATUS[v]))
        for srv in HUB_STATUS_SRVS
    },
    **{
        srv: (
            "ExecutionDateTime",
            "RemotePartyRole",
            "RemotePartyFloorSeqNumber",
            "RemotePartyPrepaymentTopUpFloorSeqNumber",
            *_CERTIFICATES,
            "ApplyTimeBasedCPVChecks",
        )
        for srv in ("6.15.1", "6.21")
    },
    "6.15.2": ("DeviceCertificate",),
    "6.17": ("CredentialType",),
}
# what the rig itself adds to any request's parameters: the target of a non-device SRV, the
# UTRN, and a certificate for a device that does not know the sender (UnknownRemoteParty)
ANY_PARAMETERS = ("DeviceID", "UTRN", "KAPublicSecurityCredentials")


def request_parameters(srv: str) -> list[str]:
    """The ``--param`` names the body of ``srv`` takes, in schema order."""
    if srv in BODY_TABLES:
        return table_parameters(srv)
    return list(_BUILT_PARAMETERS.get(srv, ()))


def gas_parameters(srv: str) -> dict[str, str]:
    """What a request for ``srv`` to a GSME adds to its parameters: the GSME's body."""
    return {
        "2.1": {"GasPrepayConfig": "true"},
        "2.3": {"GasDebtRecovery": "true"},
    }.get(srv, {FUEL: "Gas"} if FUEL in request_parameters(srv) else {})


def check_parameters(srv: str, params: Mapping[str, str]) -> None:
    """KeyError, naming the SRV's parameters, for a parameter its body does not take."""
    known = request_parameters(srv)
    unknown = sorted(set(params) - set(known) - set(ANY_PARAMETERS))
    if unknown:
        takes = ", ".join(known) if known else "none"
        raise KeyError(
            f"SRV {srv} takes no parameter {', '.join(unknown)}: its parameters are {takes}"
        )
