"""The GBCS use cases the rig serves, each declared once (see :mod:`rig.protocol.gbcs.usecase`).

Laid out byte for byte as DCC's RTDS 4.5.0 has them; names, message codes, critical or
not and the SRVs follow DCC's GBCS mapping table (a test checks this file against it).

====== ===== ============================================ ============ =================
SRV    code  use case                                     command      response
====== ===== ============================================ ============ =================
4.1.1  0027  ECS17b read import registers (ESME)          ACB MAC      MAC, values encrypted
4.1.1  0074  GCS13a read gas registers (GSME, GPF; GBZ)   ACB MAC      MAC, values encrypted
7.1    004F  ECS42 close the load switch (enable)         signed + MAC signed
7.2    0050  ECS43 open the load switch (disable)         signed + MAC signed
7.3    0051  ECS44 arm the load switch                    signed + MAC signed
7.4    0052  ECS45 read the load switch status            ACB MAC      MAC
2.2    0007  CS01a apply a prepayment top-up (UTRN)       ACB MAC      MAC
4.18   0069  ECS82 read the meter balance (millipence)    ACB MAC      MAC
2.5    0020  ECS09 activate emergency credit              signed + MAC signed
2.3    001E  ECS07 update debt (registers, recovery)      signed + MAC signed
alert  0067  ECS80 supply outage restored                 --           signed alert
alert  1000  GCA generic critical alert (e.g. 8F51)       --           signed alert
alert  1001  GNCA generic non-critical alert              --           MAC'd alert
====== ===== ============================================ ============ =================

ECS80 carries 0x8F35 "Supply Outage Restored" after an outage under 3 minutes and 0x8F36
"Supply Outage Restored - Outage >= 3 minutes" after a longer one (GBCS 7.2.3; the ESME
picks with :func:`rig.protocol.gbcs.alerts.outage_restored_code`).

Adding a use case is one declaration here, plus its behaviours: the transform in
``gateway.transform``, the device's table entries or handler in ``nodes``, and (when the
generic one is not enough) a reader in ``rig.dccuser.readers``.
"""

from __future__ import annotations

from rig.protocol.gbcs import access, cosem, gbz
from rig.protocol.gbcs import catalogue_aux_loads as aux_loads
from rig.protocol.gbcs import catalogue_billing as billing
from rig.protocol.gbcs import catalogue_chf as chf
from rig.protocol.gbcs import catalogue_commission as commission
from rig.protocol.gbcs import catalogue_credentials as credentials
from rig.protocol.gbcs import catalogue_customer as customer
from rig.protocol.gbcs import catalogue_device_config as device_config
from rig.protocol.gbcs import catalogue_esme_config as esme_config
from rig.protocol.gbcs import catalogue_event_logs as event_logs
from rig.protocol.gbcs import catalogue_firmware as firmware
from rig.protocol.gbcs import catalogue_gas_billing as gas_billing
from rig.protocol.gbcs import catalogue_gas_config as gas_config
from rig.protocol.gbcs import catalogue_gas_logs as gas_logs
from rig.protocol.gbcs import catalogue_gas_reads as gas_reads
from rig.protocol.gbcs import catalogue_gas_tariff as gas_tariff
from rig.protocol.gbcs import catalogue_join as join
from rig.protocol.gbcs import catalogue_prepay_config as prepay_config
from rig.protocol.gbcs import catalogue_prepay_logs as prepay_logs
from rig.protocol.gbcs import catalogue_reads as reads
from rig.protocol.gbcs import catalogue_restore as restore
from rig.protocol.gbcs import catalogue_tariff as tariff
from rig.protocol.gbcs.catalogue_gas import GAS_PREPAYMENT
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import (
    Action,
    Catalogue,
    Form,
    Get,
    ProtectedRead,
    Protection,
    UseCase,
    ZclRead,
)

ESME, GSME = "ESME", "GSME"
_D = DataType
SIGNED = Protection.SIGNATURE

# GCS13a reads these Metering attributes of the GSME, in this order
GAS_REGISTERS = (
    gbz.ZclAttribute(0x0302, "divisor", 0x22, 3),
    gbz.ZclAttribute(0x0301, "multiplier", 0x22, 3),
    gbz.ZclAttribute(0x0300, "unit_of_measure", 0x30, 1),
    gbz.ZclAttribute(0x0000, "current_summation_delivered", 0x25, 6),
)


def _script(script: cosem.DisconnectScript) -> Action:
    return Action(cosem.DISCONNECT_SCRIPTS, Data(DataType.LONG_UNSIGNED, int(script)))


ECS17B = UseCase(
    "ECS17b",
    0x0027,
    ESME,
    Form.DLMS,
    ProtectedRead((cosem.IMPORT_REGISTERS,)),
    srvs=("4.1.1",),
    encrypted=True,
    dated=True,
)
ECS42 = UseCase(
    "ECS42",
    0x004F,
    ESME,
    Form.DLMS,
    _script(cosem.DisconnectScript.ENABLE),
    srvs=("7.1",),
    critical=True,
    response=SIGNED,
)
ECS43 = UseCase(
    "ECS43",
    0x0050,
    ESME,
    Form.DLMS,
    _script(cosem.DisconnectScript.DISABLE),
    srvs=("7.2",),
    critical=True,
    response=SIGNED,
)
ECS44 = UseCase(
    "ECS44",
    0x0051,
    ESME,
    Form.DLMS,
    _script(cosem.DisconnectScript.ARM),
    srvs=("7.3",),
    critical=True,
    response=SIGNED,
)
ECS45 = UseCase(
    "ECS45", 0x0052, ESME, Form.DLMS, Get(cosem.DISCONNECT_CONTROL_STATE), srvs=("7.4",)
)
GCS13A = UseCase(
    "GCS13a",
    0x0074,
    GSME,
    Form.GBZ,
    ZclRead(gbz.METERING, GAS_REGISTERS),
    srvs=("4.1.1",),
    encrypted=True,
    dated=True,
    also_for=("GPF",),  # answered from the GPF's mirror of the GSME (nodes.roles.gpf_mirror)
)
CS01A = UseCase(
    "CS01a",
    0x0007,
    ESME,
    Form.DLMS,
    Action(cosem.TOKEN_GATEWAY, given=DataType.OCTET_STRING),  # the UTRN's 20 ASCII digits
    srvs=("2.2",),
    dated=True,
)
ECS82 = UseCase("ECS82", 0x0069, ESME, Form.DLMS, Get(cosem.METER_BALANCE), srvs=("4.18",))
ECS09 = UseCase(
    "ECS09",
    0x0020,
    ESME,
    Form.DLMS,
    Action(cosem.EMERGENCY_CREDIT, Data(DataType.INTEGER, 0)),
    srvs=("2.5",),
    critical=True,
    response=SIGNED,
)


def _debt_parts() -> access.Access:
    """ECS07's parts, as RTDS lays them out: the two time debts' passive unit charges, the
    payment debt's share of a top-up, the time debts' periods; then the passive charges
    activated and the three registers updated."""
    td1, td2, pd = cosem.TIME_DEBT_1, cosem.TIME_DEBT_2, cosem.PAYMENT_DEBT

    def attribute(instance: bytes, n: int) -> cosem.Attribute:
        return cosem.Attribute(cosem.CHARGE, instance, n)

    def method(instance: bytes, n: int) -> cosem.Method:
        return cosem.Method(cosem.CHARGE, instance, n)

    update = cosem.UPDATE_TOTAL_AMOUNT_REMAINING
    return access.Access(
        (
            access.Write(attribute(td1, cosem.UNIT_CHARGE_PASSIVE), "td1_charge", _D.STRUCTURE),
            access.Write(attribute(td2, cosem.UNIT_CHARGE_PASSIVE), "td2_charge", _D.STRUCTURE),
            access.Write(attribute(pd, cosem.PROPORTION), "per_payment", _D.LONG_UNSIGNED),
            access.Write(
                attribute(td1, cosem.CHARGE_PERIOD), "td1_period", _D.DOUBLE_LONG_UNSIGNED
            ),
            access.Write(
                attribute(td2, cosem.CHARGE_PERIOD), "td2_period", _D.DOUBLE_LONG_UNSIGNED
            ),
            access.Invoke(method(td1, cosem.ACTIVATE_PASSIVE_UNIT_CHARGE), Data(_D.INTEGER, 0)),
            access.Invoke(method(td2, cosem.ACTIVATE_PASSIVE_UNIT_CHARGE), Data(_D.INTEGER, 0)),
            access.Invoke(method(pd, update), name="payment_debt", kind=_D.DOUBLE_LONG),
            access.Invoke(method(td1, update), name="td1", kind=_D.DOUBLE_LONG),
            access.Invoke(method(td2, update), name="td2", kind=_D.DOUBLE_LONG),
        )
    )


ECS07 = UseCase(
    "ECS07", 0x001E, ESME, Form.DLMS, _debt_parts(), srvs=("2.3",), critical=True, response=SIGNED
)
# what a meter raises when it refuses a top-up (GBCS Table 16.2), as generic alerts
UTRN_DUPLICATE = 0x8F51  # the UTRN was already used
UTRN_EXCEEDS_MAX_CREDIT = 0x8F5B  # it would take the balance above the maximum credit
UTRN_NOT_AUTHENTIC = 0x8F63  # wrong key, wrong meter or mistyped
UTRN_NOT_FOR_DEVICE = 0x8F64
UTRN_LOCKED_OUT = 0x81C5  # too many rejected UTRNs entered locally
CREDIT_ADDED_LOCALLY = 0x810E
# what a prepayment meter raises as its credit moves (GBCS Table 16.2, the codes issue 15
# names): critical (0x8Fxx) as GCA, the others as GNCA
LOW_CREDIT = 0x810D  # the credit fell below the low credit threshold
EMERGENCY_CREDIT_AVAILABLE = 0x8119  # emergency credit is on offer
EMERGENCY_CREDIT_ACTIVATED = 0x81AB
EMERGENCY_CREDIT_EXHAUSTED = 0x81AA
BELOW_DISABLEMENT_THRESHOLD = 0x8F0F  # the credit fell below the disablement threshold
SUPPLY_INTERRUPTED = 0x8F57  # the meter opened its load switch (valve) for want of credit
SUPPLY_ARMED = 0x8F32  # credit is back: the consumer may restore the supply
# what a meter raises when it has verified an image it received over the HAN (11.1),
# critical, as generic alerts (DUIS: FirmwareVerificationDeviceAlert)
FIRMWARE_VERIFIED = 0x8F72  # "Firmware Verification Successful"
FIRMWARE_VERIFICATION_FAILED = 0x8F1C  # "Firmware Verification Failed"
# a meter that activated the pending image (11.3, CS06): the code issue 16 names; not in the
# reference data (mapping table, RTDS, DUIS schemas)
FIRMWARE_ACTIVATED = 0x8F43
# what a meter raises when it refuses a command at its own layer (nodes.gbcs.endpoint): a
# signature that does not verify with a trust anchor ("Trusted Source Authentication
# Failure"), a MAC or an originator it does not know ("Failed Authentication or
# Authorisation not covered by other codes"); GBCS Table 16.2
TRUSTED_SOURCE_AUTHENTICATION_FAILURE = 0x8F3D
AUTHENTICATION_FAILURE = 0x8F53
# the join service's outcomes (8.7.x, 8.8.x): joining failed, succeeded; unjoining failed,
# succeeded
JOIN_FAILED, JOIN_SUCCEEDED, UNJOIN_FAILED, UNJOIN_SUCCEEDED = 0x8F48, 0x8F49, 0x8F4A, 0x8F4B
# GBCS's generic DLMS alerts (RTDS NA_GCA-DLMS, NA_GNCA-DLMS; not in DCC's use-case table):
# the body is the alert code and the date-time; a critical one is signed, else MAC'd
GCA = UseCase(
    "GCA",
    0x1000,
    ESME,
    Form.DLMS,
    response=SIGNED,
    alert_codes=(
        0x8F30,  # RTDS's example
        UTRN_DUPLICATE,
        UTRN_EXCEEDS_MAX_CREDIT,
        UTRN_NOT_AUTHENTIC,
        UTRN_NOT_FOR_DEVICE,
        BELOW_DISABLEMENT_THRESHOLD,
        SUPPLY_INTERRUPTED,
        SUPPLY_ARMED,
        FIRMWARE_VERIFIED,
        FIRMWARE_VERIFICATION_FAILED,
        FIRMWARE_ACTIVATED,
        TRUSTED_SOURCE_AUTHENTICATION_FAILURE,
        AUTHENTICATION_FAILURE,
        JOIN_FAILED,
        JOIN_SUCCEEDED,
        UNJOIN_FAILED,
        UNJOIN_SUCCEEDED,
    ),
)
GNCA = UseCase(
    "GNCA",
    0x1001,
    ESME,
    Form.DLMS,
    response=Protection.MAC,
    alert_codes=(
        CREDIT_ADDED_LOCALLY,
        UTRN_LOCKED_OUT,
        LOW_CREDIT,
        EMERGENCY_CREDIT_AVAILABLE,
        EMERGENCY_CREDIT_ACTIVATED,
        EMERGENCY_CREDIT_EXHAUSTED,
    ),
)
# ECS80's alert codes (GBCS Table 16.2)
SUPPLY_OUTAGE_RESTORED = 0x8F35  # "Supply Outage Restored": the outage lasted < 3 minutes
SUPPLY_OUTAGE_RESTORED_LONG = 0x8F36  # "Supply Outage Restored - Outage >= 3 minutes"
ECS80 = UseCase(
    "ECS80",
    0x0067,
    ESME,
    Form.DLMS,
    response=SIGNED,
    alert_code=SUPPLY_OUTAGE_RESTORED_LONG,  # RTDS 4.5.0's example (ECS80_NA_8F36)
    alert_codes=(SUPPLY_OUTAGE_RESTORED, SUPPLY_OUTAGE_RESTORED_LONG),
)

CATALOGUE = Catalogue(
    [
        ECS17B,
        ECS42,
        ECS43,
        ECS44,
        ECS45,
        GCS13A,
        ECS80,
        CS01A,
        ECS82,
        ECS09,
        ECS07,
        GCA,
        GNCA,
        *GAS_PREPAYMENT,
        *prepay_config.USE_CASES,
        *prepay_logs.USE_CASES,
        *gas_logs.USE_CASES,
        *gas_billing.USE_CASES,
        *chf.USE_CASES,
        *firmware.USE_CASES,
        *commission.USE_CASES,
        *join.USE_CASES,
        *restore.USE_CASES,
        *credentials.USE_CASES,
        *reads.USE_CASES,
        *gas_reads.USE_CASES,
        *event_logs.USE_CASES,
        *tariff.USE_CASES,
        *gas_tariff.USE_CASES,
        *device_config.USE_CASES,
        *esme_config.USE_CASES,
        *aux_loads.USE_CASES,
        *billing.USE_CASES,
        *gas_config.USE_CASES,
        *customer.USE_CASES,
    ]
)
